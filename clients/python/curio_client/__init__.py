"""A typed client for Curio's Learner API.

    from curio_client import Learner

    learner = Learner("127.0.0.1:50052")
    [run] = learner.submit("print(6 * 7)\\n")
    print(run.trace.stdout, learner.ask_output("print(6 * 7)\\n").stdout)
    print(learner.curve(metric="delta_exact").tail())

Every call returns the protocol's own messages (typed: the stubs come with
.pyi files), generated from Curio's proto/ when the package is installed.
A refused call raises `grpc.RpcError` with the server's status and reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc

from curio_client._proto.curio.v1 import learner_pb2 as pb
from curio_client._proto.curio.v1 import learner_pb2_grpc as rpc
from curio_client._proto.curio.v1 import pool_pb2

__all__ = ["Learner", "pb", "read_token"]


_LANGUAGES = {"python": pool_pb2.LANGUAGE_PYTHON, "lua": pool_pb2.LANGUAGE_LUA, "js": pool_pb2.LANGUAGE_JS}


def _language(name: str) -> int:
    """A language's wire value: "python", "lua" or "js"."""
    try:
        return _LANGUAGES[name.lower()]
    except KeyError:
        raise ValueError(f"language {name!r} is unknown; supported: {', '.join(_LANGUAGES)}") from None


def read_token(path: str | os.PathLike[str]) -> str:
    """The token in a token file, as `curio submit --token-file` reads it:
    the first line that is neither blank nor a comment, a bare token or
    `name:token`."""
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.split(":", 1)[1].strip() if ":" in line else line
    raise ValueError(f"{path} holds no token")


class Learner:
    """A connection to a running `curio run` or `curio learner`.

    `address` is `host:port` (an `http://` or `https://` prefix is accepted,
    as `curio submit --learner` takes it). `token_file` (default: the
    `CURIO_TOKEN_FILE` environment variable) presents a token as `curio
    submit --token-file` does; `tls_ca` (default: `CURIO_TLS_CA`) is the PEM
    CA of the learner's certificate, and connects over TLS, as `--tls-ca`.
    `timeout` is each call's deadline in seconds.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        token_file: str | os.PathLike[str] | None = None,
        tls_ca: str | os.PathLike[str] | None = None,
        timeout: float = 60.0,
    ) -> None:
        address = address or os.environ.get("CURIO_LEARNER", "127.0.0.1:50052")
        token_file = token_file or os.environ.get("CURIO_TOKEN_FILE")
        tls_ca = tls_ca or os.environ.get("CURIO_TLS_CA")
        secure = address.startswith("https://") or tls_ca is not None
        target = address.removeprefix("http://").removeprefix("https://").rstrip("/")
        if secure:
            roots = Path(tls_ca).read_bytes() if tls_ca else None
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=roots))
        else:
            self._channel = grpc.insecure_channel(target)
        self._metadata = [("authorization", f"Bearer {read_token(token_file)}")] if token_file else []
        self._stub = rpc.LearnerStub(self._channel)
        self.timeout = timeout

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Learner:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method, request, timeout: float | None = None):
        return method(request, timeout=timeout or self.timeout, metadata=self._metadata)

    def status(self) -> pb.LearnerStatus:
        """The run, its queries and budget, training step and latest metrics."""
        return self._call(self._stub.GetStatus, pb.StatusRequest())

    def submit(
        self,
        sources: str | Sequence[str],
        inputs: Sequence[str] = (),
        *,
        seed: int = 0,
        submitter: str = "",
        language: str = "python",
        timeout: float | None = None,
    ) -> list[pb.Executed]:
        """Runs each program (on each of `inputs`, or once on empty stdin)
        ahead of the loop's own picks, and waits for every trace (at most
        `timeout` seconds; None: as long as the loop takes to reach them);
        returns each execution's id and trace, in the order they came back.
        `language` is "python", "lua" or "js", for every program."""
        if isinstance(sources, str):
            sources = [sources]
        if isinstance(inputs, str):
            raise TypeError("inputs is a list of stdin texts, one run each: write [text] for one")
        programs = [
            pb.Submission(source=s, inputs=list(inputs), seed=seed, language=_language(language)) for s in sources
        ]
        request = pb.SubmitRequest(programs=programs, submitter=submitter)
        stream = self._stub.SubmitPrograms(request, timeout=timeout, metadata=self._metadata)
        ids: list[str] = []
        done: list[pb.Executed] = []
        try:
            for event in stream:
                kind = event.WhichOneof("event")
                if kind == "accepted":
                    ids = list(event.accepted.execution_ids)
                elif kind == "executed":
                    done.append(event.executed)
                if ids and len(done) == len(ids):
                    break
        finally:
            stream.cancel()
        return done

    def predict(
        self,
        source: str,
        input: str = "",
        *,
        horizon: int = 20,
        samples: int = 0,
        temperature: float = 1.0,
        seed: int = 0,
        language: str = "python",
    ) -> pb.PredictResponse:
        """The model's rollout of `source` (and `samples` drawn ones), read in
        `language` ("python", "lua" or "js")."""
        request = pb.PredictRequest(
            source=source,
            input=input,
            horizon=horizon,
            samples=samples,
            temperature=temperature,
            seed=seed,
            language=_language(language),
        )
        return self._call(self._stub.Predict, request)

    def ask_output(
        self,
        source: str,
        input: str = "",
        *,
        samples: int = 16,
        horizon: int = 200,
        temperature: float = 1.0,
        seed: int = 0,
        language: str = "python",
    ) -> pb.AskOutputResponse:
        """What `source` (in `language`) prints, predicted without running it,
        with the share of drawn rollouts that agree and every output they
        printed."""
        request = pb.AskOutputRequest(
            source=source,
            input=input,
            samples=samples,
            horizon=horizon,
            temperature=temperature,
            seed=seed,
            language=_language(language),
        )
        return self._call(self._stub.AskOutput, request)

    def ask_rank(
        self,
        sources: Sequence[str],
        output: str,
        input: str = "",
        *,
        samples: int = 8,
        horizon: int = 200,
        temperature: float = 1.0,
        seed: int = 0,
        language: str = "python",
    ) -> list[pb.RankedProgram]:
        """`sources` (all in `language`) ordered by the model's belief that
        each prints `output`, the likeliest first (each with its index in
        `sources`)."""
        request = pb.RankRequest(
            sources=list(sources),
            output=output,
            input=input,
            samples=samples,
            horizon=horizon,
            temperature=temperature,
            seed=seed,
            language=_language(language),
        )
        return list(self._call(self._stub.RankPrograms, request).ranking)

    def ask_surprise(self, execution_id: str, *, top: int = 5) -> pb.SurpriseResponse:
        """The steps of a stored execution the model found least likely."""
        return self._call(self._stub.AskSurprise, pb.SurpriseRequest(execution_id=execution_id, top=top))

    def ask_input(
        self,
        source: str,
        output: str,
        input: str = "",
        *,
        checks: int = 16,
        proposals: int = 16,
        samples: int = 2,
        horizon: int = 200,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> pb.AskInputResponse:
        """An input under which `source` prints `output`: changes to its
        literals outside function and class bodies and to the words of `input`, scored
        by the model, the likeliest run on the pool (at most `checks` runs).
        `found` says whether one printed it; it is then the last of `tried`."""
        request = pb.AskInputRequest(
            source=source,
            input=input,
            output=output,
            checks=checks,
            proposals=proposals,
            samples=samples,
            horizon=horizon,
            temperature=temperature,
            seed=seed,
        )
        return self._call(self._stub.AskInput, request)

    def watch_curve(self, metric: str = "", *, timeout: float | None = None) -> Iterator[pb.CurvePoint]:
        """Every learning-curve point so far, then each new one as it is
        recorded, until `timeout` seconds have passed (None: until the
        learner stops or the caller stops reading)."""
        # An unreachable learner is an error, not an empty curve.
        grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        stream = self._stub.WatchLearningCurve(pb.WatchRequest(metric=metric), timeout=timeout, metadata=self._metadata)
        try:
            yield from stream
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
        finally:
            stream.cancel()

    def curve(self, metric: str = "", *, wait: float = 2.0):
        """The learning curve so far as a pandas DataFrame (`run_id`,
        `strategy`, `queries_used`, `metric`, `value`), one row per point:
        the points the stream sends within `wait` seconds."""
        import pandas as pd

        rows = [
            {
                "run_id": p.run_id,
                "strategy": p.strategy,
                "queries_used": p.queries_used,
                "metric": p.metric,
                "value": p.value,
            }
            for p in self.watch_curve(metric, timeout=wait)
        ]
        columns = ["run_id", "strategy", "queries_used", "metric", "value"]
        return pd.DataFrame(rows, columns=columns)
