"""Generates the gRPC stubs from Curio's proto/ into curio_client/_proto
before setuptools builds the package (a plain or an editable install)."""

import importlib.resources
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto"
OUT = HERE / "curio_client" / "_proto"
FILES = ["curio/v1/pool.proto", "curio/v1/learner.proto"]


def generate():
    from grpc_tools import protoc

    if not (PROTO / FILES[1]).exists():
        raise SystemExit(f"{PROTO / FILES[1]} is missing: install from a Curio checkout (pip install -e clients/python)")
    OUT.mkdir(exist_ok=True)
    include = str(importlib.resources.files("grpc_tools") / "_proto")
    for name in FILES:
        args = ["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={OUT}", f"--pyi_out={OUT}",
                f"--grpc_python_out={OUT}", str(PROTO / name)]
        if protoc.main(args) != 0:
            raise SystemExit(f"protoc could not compile {name}")
    # The generated modules import each other as `curio.v1`; inside this
    # package they live under curio_client._proto.
    for f in list(OUT.rglob("*.py")) + list(OUT.rglob("*.pyi")):
        text = f.read_text()
        f.write_text(text.replace("from curio.v1 import", "from curio_client._proto.curio.v1 import"))
    for d in (OUT, OUT / "curio", OUT / "curio" / "v1"):
        (d / "__init__.py").touch()


generate()
setup()
