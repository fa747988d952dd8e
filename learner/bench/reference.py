"""The world model of learner/src/model/ written in plain PyTorch, for
`curio bench learner`: trained on the same batches (`pytorch_ratio`), and
rolled out with a KV cache as model/cache.rs does.

Usage: python reference.py BATCHES.json STEPS THREADS
       python reference.py rollout ROUNDS.json THREADS
Prints one line: `tokens_per_second: X`, or `rollout_steps_per_second: X`
(rows rolled out per second).
"""

import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PAD = 256


class Attention(nn.Module):
    def __init__(self, c, n_head, dropout):
        super().__init__()
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.n_head, self.dropout = n_head, dropout

    def qkv(self, x, rot):
        """`x` (B, T, C) as rotated queries, rotated keys and values."""
        b, t, c = x.shape
        # (B, T, C) -> 3 x (B, nh, T, hs)
        heads = lambda z: z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        q, k, v = self.c_attn(x).split(c, dim=2)
        return rotate(heads(q), rot), rotate(heads(k), rot), heads(v)

    def merge(self, y):
        b, nh, t, hs = y.shape
        # (B, nh, T, hs) -> (B, T, C)
        y = y.transpose(1, 2).contiguous().view(b, t, nh * hs)
        return F.dropout(self.c_proj(y), self.dropout, self.training)

    def programs(self, x, layout):
        """The chunks (K, T, C) attend to their own real tokens; returns the
        output and the chunks' keys and values (K, nh, T, hs)."""
        q, k, v = self.qkv(x, layout.rot_programs)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=layout.chunk_mask)
        return self.merge(y), k, v

    def own(self, x, rot, mask, put):
        """Own tokens `x` (N, S, C) attend under `mask` to what `put` returns
        given their keys and values (the program's, then their own)."""
        q, k, v = self.qkv(x, rot)
        keys, values = put(k, v)
        return self.merge(F.scaled_dot_product_attention(q, keys, values, attn_mask=mask))

    def forward(self, programs, own, layout):
        y_programs, k, v = self.programs(programs, layout)
        kp, vp = layout.per_example(k), layout.per_example(v)
        put = lambda ks, vs: (torch.cat([kp, ks], 2), torch.cat([vp, vs], 2))
        return y_programs, self.own(own, layout.rot_own, layout.mask, put)


def rotary(pos, hs):
    inv = torch.exp(torch.arange(hs // 2, dtype=torch.float32) * (-2.0 * math.log(10000.0) / hs))
    angles = pos.float().unsqueeze(-1) * inv
    return angles.cos(), angles.sin()


def rotate(x, rot):
    cos, sin = rot
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


class Layout:
    """What every layer of one batch shares: which chunks each example
    reads, the masks and the rotary tables (model/core.rs)."""

    def __init__(self, bt, hs):
        (k, t), (n, s) = bt["program"].shape, bt["tokens"].shape
        self.chunks, self.n, self.w = bt["chunks"], n, bt["chunks"].shape[1]
        # Every chunk query sees its first token, so a chunk of padding
        # attends to something rather than to nothing (NaN).
        self.chunk_mask = bt["program_mask"].index_fill(1, torch.tensor([0]), True).view(k, 1, 1, t)
        self.reads = self.chunks[bt["row"]].reshape(-1)  # (N * W,)
        p = self.w * t
        to_program = bt["program_mask"][self.reads].view(n, 1, 1, p).expand(n, 1, s, p)
        causal = torch.ones(s, s, dtype=torch.bool).tril().expand(n, 1, s, s)
        self.mask = torch.cat([to_program, causal], 3)  # (N, 1, S, W * T + S)
        self.rot_programs = rotary(torch.arange(t), hs)
        cos, sin = rotary(bt["positions"], hs)
        self.rot_own = (cos.unsqueeze(1), sin.unsqueeze(1))

    def per_example(self, x):
        """Chunk-level `x` (K, nh, T, hs) as each example reads it."""
        _, nh, t, hs = x.shape
        # (N * W, nh, T, hs) -> (N, W, nh, T, hs) -> (N, nh, W, T, hs) -> (N, nh, W * T, hs)
        x = x[self.reads].view(self.n, self.w, nh, t, hs).permute(0, 2, 1, 3, 4)
        return x.reshape(self.n, nh, self.w * t, hs)

    def rows_of(self, x):
        """Chunk-level hidden states (K, T, C) as program rows (B, W * T, C)."""
        _, t, c = x.shape
        b, w = self.chunks.shape
        return x[self.chunks.reshape(-1)].view(b, w * t, c)


class Block(nn.Module):
    def __init__(self, c, n_head, dropout):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = Attention(c, n_head, dropout)
        self.c_fc, self.c_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.dropout = dropout

    def mlp(self, x):
        h = self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))
        return x + F.dropout(h, self.dropout, self.training)

    def forward(self, programs, own, layout):
        a_programs, a_own = self.attn(self.ln_1(programs), self.ln_1(own), layout)
        return self.mlp(programs + a_programs), self.mlp(own + a_own)

    def programs(self, x, layout):
        """The chunks alone: the output and the layer's keys and values."""
        a, k, v = self.attn.programs(self.ln_1(x), layout)
        return self.mlp(x + a), k, v

    def own(self, x, rot, mask, put):
        """Own tokens alone, attending to what `put` returns."""
        return self.mlp(x + self.attn.own(self.ln_1(x), rot, mask, put))


def keeping(kept, kp, vp):
    """A `put` that keeps the own keys and values it is given in `kept`
    and returns them after the program's `kp`, `vp`."""

    def put(ks, vs):
        kept.append([ks, vs])
        return torch.cat([kp, ks], 2), torch.cat([vp, vs], 2)

    return put


def writing(kept, kp, vp, at):
    """A `put` that writes new own keys and values (N, nh, 1, hs) into
    `kept` (N, nh, cap, hs) at `at` (N,) and returns the program's `kp`,
    `vp`, then all of `kept`."""

    def put(ks, vs):
        # (N,) -> (N, nh, 1, hs): where each new key goes.
        idx = at.view(-1, 1, 1, 1).expand(ks.shape)
        ko, vo = kept[0].scatter_(2, idx, ks), kept[1].scatter_(2, idx, vs)
        return torch.cat([kp, ko], 2), torch.cat([vp, vo], 2)

    return put


class Cache:
    """The keys and values of rows being decoded (model/cache.rs)."""

    def __init__(self, programs, program_mask, own, hidden, tokens, lengths, offset, line):
        self.programs = programs  # per layer, (N, nh, P, hs) keys and values
        self.program_mask = program_mask  # (N, P)
        self.own = own  # per layer, (N, nh, cap, hs) keys and values
        self.hidden = hidden  # (N, cap, C) final hidden states of the own tokens
        self.tokens = tokens  # (N, cap), PAD past each row's length
        self.lengths, self.offset, self.line = lengths, offset, line  # (N,) each

    def keep(self, idx):
        """The rows `idx` (ascending) alone."""
        self.programs = [[k[idx], v[idx]] for k, v in self.programs]
        self.own = [[k[idx], v[idx]] for k, v in self.own]
        self.program_mask, self.hidden, self.tokens = self.program_mask[idx], self.hidden[idx], self.tokens[idx]
        self.lengths, self.offset, self.line = self.lengths[idx], self.offset[idx], self.line[idx]

    def reserve(self, cap):
        """Room for `cap` own tokens per row, growing by half at least."""
        n, have = self.tokens.shape
        if cap <= have:
            return
        more = max(cap, have + have // 2) - have

        def grow(x, dim, fill=0):
            return torch.cat([x, x.new_full((*x.shape[:dim], more, *x.shape[dim + 1 :]), fill)], dim)

        self.own = [[grow(k, 2), grow(v, 2)] for k, v in self.own]
        self.hidden, self.tokens = grow(self.hidden, 1), grow(self.tokens, 1, PAD)


class WorldModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab"], c)
        self.wpe = nn.Embedding(cfg.get("positions", cfg.get("chunk", 0) + cfg["block_size"]), c)
        self.wle = nn.Embedding(cfg["line_ids"], c)
        self.wde = nn.Embedding(cfg["depths"], c)
        self.wre = nn.Embedding(cfg["line_rel_vocab"], c)
        self.wfe = nn.Embedding(cfg["flow_vocab"], c)
        self.wfs = nn.Embedding(cfg["flow_vocab"], c)
        self.blocks = nn.ModuleList(Block(c, cfg["n_head"], cfg["dropout"]) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, cfg["vocab"])
        self.copy_at = nn.ModuleList([nn.Linear(c, c), nn.Linear(c, c)])
        self.copy_after = nn.ModuleList([nn.Linear(c, c), nn.Linear(c, c)])
        self.copy_gate = nn.Linear(c, 5)
        self.derive = nn.ModuleList([nn.Linear(c, c), nn.Linear(c, c)])
        self.derive_byte = nn.Linear(cfg["vocab"], c, bias=False)
        self.derive_hidden, self.derive_out = nn.Linear(c, c), nn.Linear(c, cfg["vocab"])
        self.event_head = nn.Linear(c, 4)
        self.ptr_query, self.ptr_key = nn.Linear(c, c), nn.Linear(c, c)
        self.dropout, self.n_head = cfg["dropout"], cfg["n_head"]

    def head_size(self):
        return self.wte.embedding_dim // self.n_head

    def program_embeddings(self, bt):
        """The chunks' embeddings (K, T, C), at positions in the chunk."""
        pos = torch.arange(bt["program"].shape[1])
        return self.wte(bt["program"]) + self.wpe(pos) + self.wle(bt["program_line"]) + self.wde(bt["program_depth"])

    def own_embeddings(self, tokens, positions, line_id, depth):
        return self.wte(tokens) + self.wpe(positions) + self.wle(line_id) + self.wde(depth)

    def hidden(self, bt):
        """Final hidden states of the programs' rows (B, W * T, C) and of
        the examples' own tokens (N, S, C)."""
        layout = Layout(bt, self.head_size())
        programs = F.dropout(self.program_embeddings(bt), self.dropout, self.training)
        own = self.own_embeddings(bt["tokens"], bt["positions"], bt["line_id"], bt["depth"])
        own = F.dropout(own, self.dropout, self.training)
        for block in self.blocks:
            programs, own = block(programs, own, layout)
        return layout.rows_of(self.ln_f(programs)), self.ln_f(own)

    def action(self, bt, programs, query):
        """Event logits (N, 4) and line-pointer logits (N, L) from the
        programs' rows (B, W * T, C) and each example's query (N, C)."""
        (b, _, c), lines, rows = programs.shape, bt["lines"], bt["row"]
        # (B, L) -> (B, L, C) -> (N, L, C)
        keys = self.ptr_key(programs.gather(1, lines.unsqueeze(-1).expand(b, lines.shape[1], c))[rows])
        keys = keys + self.wre(bt["line_rel"]) + self.wfe(bt["line_flow"])
        scores = (self.ptr_query(query).unsqueeze(1) @ keys.transpose(1, 2)).squeeze(1) / math.sqrt(c)
        line_logits = scores.masked_fill(~bt["line_mask"][rows], float("-inf"))
        return self.event_head(query + self.wfs(bt["flow"])), line_logits

    def sources(self, own, tokens, at):
        """At flat positions `at` (M,) of `own` (N, S, C), ascending: the two
        copy pointers' distributions over the example's positions (M, S),
        the gate (M, 5), the vocabulary's (M, V) and the derived byte's (M, V).
        Each position's queries pack into (N, W, C) by its slot among its
        example's, and score only that example's keys."""
        n, s, c = own.shape
        owner, pos = at // s, at % s
        counts = torch.bincount(owner, minlength=n)
        slot = torch.arange(len(at)) - (counts.cumsum(0) - counts)[owner]
        width = max(int(counts.max()), 1)
        # Keys once, for every position scored.
        keys_at, keys_after = self.copy_at[1](own).transpose(1, 2), self.copy_after[1](own).transpose(1, 2)
        keys_derive = self.derive[1](own).transpose(1, 2)
        h = own.reshape(n * s, c)[at]
        j = torch.arange(s).unsqueeze(0)

        def pointer(query, keys, hidden):
            # (N, W, C) x (N, C, S) -> (N, W, S) -> (M, S)
            queries = torch.zeros(n, width, c).index_put((owner, slot), query(h))
            scores = (queries @ keys)[owner, slot] / math.sqrt(c)
            return scores.masked_fill(hidden, float("-inf")).softmax(-1)

        pointed = pointer(self.derive[0], keys_derive, j > pos.unsqueeze(1))
        byte = torch.zeros(len(at), self.lm_head.out_features).scatter_add(1, tokens[owner], pointed)
        derived = self.derive_out(F.gelu(self.derive_hidden(h) + self.derive_byte(byte))).softmax(-1)
        return (
            pointer(self.copy_at[0], keys_at, j > pos.unsqueeze(1)),
            pointer(self.copy_after[0], keys_after, j >= pos.clamp_min(1).unsqueeze(1)),
            self.copy_gate(h).softmax(-1),
            self.lm_head(h).softmax(-1),
            derived,
        )

    def next_byte(self, own, tokens, at):
        """Next-byte log-probabilities (M, V) at flat positions `at` (M,) of
        the own tokens `tokens` (N, S) with hidden states `own` (N, S, C),
        index n * S + t, t >= 1, ascending (model/copy.rs). Five sources: the
        vocabulary, a pointer that repeats the token it points at (up to the
        position), one that repeats the token after it (before it), a
        continuation after wherever the byte before was copied from, and a
        byte derived from a pointed one by a small MLP."""
        s, m = own.shape[1], len(at)
        owner, t = at // s, at % s
        rows = tokens[owner]
        successors = torch.cat([rows[:, 1:], rows[:, :1]], 1)
        # The positions and the ones before them, each scored once.
        both, inverse = torch.unique(torch.cat([at - 1, at]), sorted=True, return_inverse=True)
        scored = self.sources(own, tokens, both)
        at_, after, gate, vocab, derived = (x[inverse[m:]] for x in scored)
        b_at, b_after, b_gate, b_vocab, b_derived = (x[inverse[:m]] for x in scored)
        # Where the byte written at t - 1 (the token at t) came from.
        written = rows.gather(1, t.unsqueeze(1))
        holds = (rows == written).float()
        after_source = torch.cat([torch.zeros_like(b_after[:, :1]), b_after[:, :-1]], 1)
        copied = (b_at * b_gate[:, 1:2] + after_source * b_gate[:, 2:3]) * holds
        spelled = (b_vocab * b_gate[:, :1] + b_derived * b_gate[:, 4:5]).gather(1, written)
        total = (spelled + copied.sum(1, keepdim=True)).clamp_min(1e-9)
        going_on, spelled = copied / total, spelled / total
        zeros = torch.zeros(m, self.lm_head.out_features)
        mixed = (
            vocab * (gate[:, :1] + gate[:, 3:4] * spelled)
            + derived * gate[:, 4:5]
            + zeros.scatter_add(1, rows, at_ * gate[:, 1:2])
            + zeros.scatter_add(1, successors, after * gate[:, 2:3] + going_on * gate[:, 3:4])
        )
        return mixed.clamp_min(1e-9).log()

    def loss(self, bt):
        """The training objective of model/loss.rs (both weights 1)."""
        programs, own = self.hidden(bt)
        n, s, c = own.shape
        query = own.gather(1, bt["query"].view(n, 1, 1).expand(n, 1, c)).squeeze(1)
        event_logits, line_logits = self.action(bt, programs, query)
        action = F.cross_entropy(event_logits, bt["event"], reduction="none") + F.cross_entropy(
            line_logits, bt["line"], reduction="none"
        )
        flat = bt["labels"].view(-1)
        idx = (flat != -100).nonzero().squeeze(1)
        labels = flat[idx]
        per_token = F.cross_entropy(self.next_byte(own, bt["tokens"], idx), labels, reduction="none")
        # The bytes that open a delta line or end the delta (at the delta's
        # start; after each newline), the first byte of each value (after a
        # `=`) and each line's closing newline count once more per example,
        # and so does every byte of the working, before the delta's start.
        owner, t, token = idx // s, idx % s, bt["tokens"].view(-1)[idx]
        start = bt["delta_start"][owner]
        worked = t < start
        opens = ((t == start) | (token == 10) | (token == ord("=")) | (labels == 10)) & ~worked
        openings = torch.zeros(n).index_add(0, owner, per_token * opens.float())
        working = torch.zeros(n).index_add(0, owner, per_token * worked.float())
        return action.mean() + openings.mean() + working.mean() + per_token.mean()

    def prefill(self, bt):
        """Reads a batch once at inference, as model/cache.rs does: the
        programs' keys and values per layer and example row, then the rows'
        own tokens so far (PAD after them), their keys and values kept."""
        layout = Layout(bt, self.head_size())
        x, programs = self.program_embeddings(bt), []
        for block in self.blocks:
            x, k, v = block.programs(x, layout)
            programs.append([layout.per_example(k), layout.per_example(v)])
        layout.rows_of(self.ln_f(x))  # the action head's, as the Rust keeps them
        y, own = self.own_embeddings(bt["tokens"], bt["positions"], bt["line_id"], bt["depth"]), []
        for block, (kp, vp) in zip(self.blocks, programs):
            y = block.own(y, layout.rot_own, layout.mask, keeping(own, kp, vp))
        (n, s), t = bt["tokens"].shape, bt["program"].shape[1]
        lengths = (bt["tokens"] != PAD).sum(1)
        # New tokens are on the line of each row's last.
        line = bt["line_id"].gather(1, (lengths - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
        program_mask = bt["program_mask"][layout.reads].view(n, layout.w * t)
        tokens = bt["tokens"].clone()
        return Cache(programs, program_mask, own, self.ln_f(y), tokens, lengths, bt["positions"][:, 0], line)

    def extend(self, cache, new):
        """Appends `new` (N,) to each row's own tokens, where >= 0."""
        n, c = len(new), self.wte.embedding_dim
        adds = new >= 0
        at = cache.lengths  # (N,) where each new token goes
        tokens = new.masked_fill(~adds, PAD).unsqueeze(1)  # (N, 1)
        positions = (cache.offset + at).clamp_max(self.wpe.num_embeddings - 1).unsqueeze(1)
        cache.reserve(int(at.max()) + 1)
        cap, p = cache.tokens.shape[1], cache.program_mask.shape[1]
        # Own key j is seen by the new token of a row where j <= its index.
        own_mask = torch.arange(cap).view(1, 1, cap) <= at.view(n, 1, 1)
        mask = torch.cat([cache.program_mask.view(n, 1, p), own_mask], 2).unsqueeze(1)  # (N, 1, 1, P + cap)
        cos, sin = rotary(positions, self.head_size())
        rot = (cos.unsqueeze(1), sin.unsqueeze(1))
        x = self.own_embeddings(tokens, positions, cache.line.unsqueeze(1), torch.zeros_like(tokens))
        for block, (kp, vp), kept in zip(self.blocks, cache.programs, cache.own):
            x = block.own(x, rot, mask, writing(kept, kp, vp, at))
        cache.hidden.scatter_(1, at.view(n, 1, 1).expand(n, 1, c), self.ln_f(x))
        cache.tokens.scatter_(1, at.view(n, 1), tokens)
        cache.lengths = at + adds.long()

    def next_bytes(self, cache):
        """Next-byte log-probabilities (N, V) after each row's last own token."""
        n, cap = cache.tokens.shape
        return self.next_byte(cache.hidden, cache.tokens, torch.arange(n) * cap + cache.lengths - 1)

    def rollout(self, bt, owed):
        """Greedy bytes, `owed` (N,) of them per row, each after one token's
        pass (learner/src/infer.rs's decoding): (N, most owed), -1 past a
        row's. Rows that owe nothing more are dropped once they are half of
        the cache."""
        cache, held = self.prefill(bt), torch.arange(len(owed))  # the row each cache row holds
        owed, new = owed.clone(), torch.full((len(owed),), -1)  # bytes written, not yet in the cache
        written = torch.full((len(owed), max(int(owed.max()), 0)), -1)
        for step in range(written.shape[1]):
            if step > 0:
                if int((owed > 0).sum()) * 2 <= len(held):
                    keep = (owed[held] > 0).nonzero().squeeze(1)
                    cache.keep(keep)
                    held, new = held[keep], new[keep]
                self.extend(cache, new)
            here = (owed[held] > 0).nonzero().squeeze(1)
            byte = self.next_bytes(cache)[here].argmax(-1)
            new = torch.full((len(held),), -1).index_put((here,), byte)
            written[held[here], step] = byte
            owed[held[here]] -= 1
        return written


def tensors(raw):
    """A batch as the Rust writes it; `chunks` defaults to one chunk per
    program (the legacy layout)."""
    bt = {k: torch.tensor(v) for k, v in raw.items()}
    for key in ("line_mask", "program_mask"):
        if key in bt:
            bt[key] = bt[key].bool()
    bt.setdefault("chunks", torch.arange(len(bt["program"])).view(-1, 1))
    return bt


def train(path, steps):
    data = json.load(open(path))
    batches = [tensors(raw) for raw in data["batches"]]
    model = WorldModel(data["config"])
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)

    def step(bt):
        loss = model.loss(bt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    step(batches[0])  # warm-up
    tokens, start = 0, time.perf_counter()
    for i in range(steps):
        bt = batches[i % len(batches)]
        step(bt)
        tokens += bt["program"].numel() + bt["tokens"].numel()
    print(f"tokens_per_second: {tokens / (time.perf_counter() - start):.1f}")


def rollout(path):
    data = json.load(open(path))
    rounds = [(tensors(r["batch"]), torch.tensor(r["decode"])) for r in data["rounds"]]
    model = WorldModel(data["config"])
    model.eval()
    with torch.no_grad():
        model.rollout(*rounds[0])  # warm-up
        rows, start = 0, time.perf_counter()
        for bt, owed in rounds:
            model.rollout(bt, owed)
            rows += len(owed)
    print(f"rollout_steps_per_second: {rows / (time.perf_counter() - start):.1f}")


def main():
    torch.set_num_threads(int(sys.argv[3]))
    torch.set_flush_denormal(True)  # as curio's main does
    torch.manual_seed(0)
    if sys.argv[1] == "rollout":
        rollout(sys.argv[2])
    else:
        train(sys.argv[1], int(sys.argv[2]))


if __name__ == "__main__":
    main()
