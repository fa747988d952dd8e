"""The world model of learner/src/model.rs written in plain PyTorch, trained
on the same batches, for `curio bench learner`'s `pytorch_ratio`.

Usage: python reference.py BATCHES.json STEPS THREADS
Prints one line: `tokens_per_second: X`.
"""

import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Attention(nn.Module):
    def __init__(self, c, n_head, dropout):
        super().__init__()
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.n_head, self.dropout = n_head, dropout

    def split(self, x):
        b, t, c = x.shape
        heads = lambda z: z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        q, k, v = self.c_attn(x).split(c, dim=2)
        return heads(q), heads(k), heads(v)

    def merge(self, y, x):
        y = y.transpose(1, 2).contiguous().view(x.shape)
        return F.dropout(self.c_proj(y), self.dropout, self.training)

    def forward(self, programs, own, rows, layout):
        program_mask, mask, rot_programs, rot_own = layout
        q, k, v = self.split(programs)
        q, k = rotate(q, rot_programs), rotate(k, rot_programs)
        y_programs = F.scaled_dot_product_attention(q, k, v, attn_mask=program_mask)
        qs, ks, vs = self.split(own)
        qs, ks = rotate(qs, rot_own), rotate(ks, rot_own)
        keys, values = torch.cat([k[rows], ks], 2), torch.cat([v[rows], vs], 2)
        y_own = F.scaled_dot_product_attention(qs, keys, values, attn_mask=mask)
        return self.merge(y_programs, programs), self.merge(y_own, own)


def rotary(pos, hs):
    inv = torch.exp(torch.arange(hs // 2, dtype=torch.float32) * (-2.0 * math.log(10000.0) / hs))
    angles = pos.float().unsqueeze(-1) * inv
    return angles.cos(), angles.sin()


def rotate(x, rot):
    cos, sin = rot
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1)


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

    def forward(self, programs, own, rows, layout):
        a_programs, a_own = self.attn(self.ln_1(programs), self.ln_1(own), rows, layout)
        return self.mlp(programs + a_programs), self.mlp(own + a_own)


class WorldModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab"], c)
        self.wpe = nn.Embedding(cfg["block_size"], c)
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

    def loss(self, bt):
        rows, labels = bt["row"], bt["labels"]
        (b, p), (n, s) = bt["program"].shape, bt["tokens"].shape
        programs = (
            self.wte(bt["program"])
            + self.wpe(torch.arange(p))
            + self.wle(bt["program_line"])
            + self.wde(bt["program_depth"])
        )
        own = self.wte(bt["tokens"]) + self.wpe(bt["positions"]) + self.wle(bt["line_id"]) + self.wde(bt["depth"])
        to_program = bt["program_mask"][rows].view(n, 1, 1, p).expand(n, 1, s, p)
        causal = torch.ones(s, s, dtype=torch.bool).tril().expand(n, 1, s, s)
        hs = self.wte.embedding_dim // self.n_head
        cos, sin = rotary(bt["positions"], hs)
        layout = (
            bt["program_mask"].view(b, 1, 1, p),
            torch.cat([to_program, causal], 3),
            rotary(torch.arange(p), hs),
            (cos.unsqueeze(1), sin.unsqueeze(1)),
        )
        programs = F.dropout(programs, self.dropout, self.training)
        own = F.dropout(own, self.dropout, self.training)
        for block in self.blocks:
            programs, own = block(programs, own, rows, layout)
        programs, own = self.ln_f(programs), self.ln_f(own)
        c = own.shape[-1]
        query = own.gather(1, bt["query"].view(n, 1, 1).expand(n, 1, c)).squeeze(1)
        lines = bt["lines"]
        keys = self.ptr_key(programs.gather(1, lines.unsqueeze(-1).expand(b, lines.shape[1], c))[rows])
        keys = keys + self.wre(bt["line_rel"]) + self.wfe(bt["line_flow"])
        scores = (self.ptr_query(query).unsqueeze(1) @ keys.transpose(1, 2)).squeeze(1) / math.sqrt(c)
        line_logits = scores.masked_fill(~bt["line_mask"][rows], float("-inf"))
        action = F.cross_entropy(self.event_head(query + self.wfs(bt["flow"])), bt["event"], reduction="none") + F.cross_entropy(
            line_logits, bt["line"], reduction="none"
        )
        flat = labels.view(-1)
        idx = (flat != -100).nonzero().squeeze(1)
        # Five sources per labelled position: the vocabulary, a pointer that
        # repeats the token it points at (up to the position), one that
        # repeats the token after it (before it), a continuation after
        # wherever the byte before was copied from, and a byte derived from
        # a pointed one by a small MLP. Each position's queries pack into
        # (N, W, C) by its slot among its example's, and score only that
        # example's keys.
        owner, t, j = idx // s, idx % s, torch.arange(s).unsqueeze(0)
        tokens = bt["tokens"][owner]
        successors = torch.cat([tokens[:, 1:], tokens[:, :1]], 1)
        # The positions and the ones before them, each scored once.
        m = len(idx)
        both, inverse = torch.unique(torch.cat([idx - 1, idx]), sorted=True, return_inverse=True)
        both_owner = both // s
        counts = torch.bincount(both_owner, minlength=n)
        slot = torch.arange(len(both)) - (counts.cumsum(0) - counts)[both_owner]
        width = max(int(counts.max()), 1)

        # Keys once, for every position scored.
        keys_at, keys_after = self.copy_at[1](own).transpose(1, 2), self.copy_after[1](own).transpose(1, 2)
        keys_derive = self.derive[1](own).transpose(1, 2)
        vocab_size = self.lm_head.out_features

        def sources(at):
            pos = at % s
            h = own.reshape(n * s, c)[at]

            def pointer(query, keys, hidden):
                queries = torch.zeros(n, width, c).index_put((both_owner, slot), query(h))
                scores = (queries @ keys)[both_owner, slot] / math.sqrt(c)
                return scores.masked_fill(hidden, float("-inf")).softmax(-1)

            pointed = pointer(self.derive[0], keys_derive, j > pos.unsqueeze(1))
            byte = torch.zeros(len(at), vocab_size).scatter_add(1, bt["tokens"][both_owner], pointed)
            derived = self.derive_out(F.gelu(self.derive_hidden(h) + self.derive_byte(byte))).softmax(-1)
            return (
                pointer(self.copy_at[0], keys_at, j > pos.unsqueeze(1)),
                pointer(self.copy_after[0], keys_after, j >= pos.clamp_min(1).unsqueeze(1)),
                self.copy_gate(h).softmax(-1),
                self.lm_head(h).softmax(-1),
                derived,
            )

        scored = sources(both)
        at, after, gate, vocab, derived = (x[inverse[m:]] for x in scored)
        b_at, b_after, b_gate, b_vocab, b_derived = (x[inverse[:m]] for x in scored)
        written = tokens.gather(1, t.unsqueeze(1))
        holds = (tokens == written).float()
        after_source = torch.cat([torch.zeros_like(b_after[:, :1]), b_after[:, :-1]], 1)
        copied = (b_at * b_gate[:, 1:2] + after_source * b_gate[:, 2:3]) * holds
        spelled = (b_vocab * b_gate[:, :1] + b_derived * b_gate[:, 4:5]).gather(1, written)
        total = (spelled + copied.sum(1, keepdim=True)).clamp_min(1e-9)
        going_on, spelled = copied / total, spelled / total
        zeros = torch.zeros(len(idx), vocab_size)
        mixed = (
            vocab * (gate[:, :1] + gate[:, 3:4] * spelled)
            + derived * gate[:, 4:5]
            + zeros.scatter_add(1, tokens, at * gate[:, 1:2])
            + zeros.scatter_add(1, successors, after * gate[:, 2:3] + going_on * gate[:, 3:4])
        )
        logp = mixed.clamp_min(1e-9).log()
        per_token = F.cross_entropy(logp, flat[idx], reduction="none")
        # The bytes that open a delta line or end the delta (at the delta's
        # start, after the given action; after each newline) and the first
        # byte of each value (after a `=`) count once more per example. The
        # token at each position is `written` (the byte its label follows).
        token = written.squeeze(1)
        opens = ((t == bt["delta_start"][owner]) | (token == 10) | (token == ord("="))).float()
        openings = torch.zeros(n).index_add(0, owner, per_token * opens)
        return action.mean() + openings.mean() + per_token.mean()


def main():
    path, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as curio's main does
    torch.manual_seed(0)
    data = json.load(open(path))
    cfg = data["config"]
    batches = []
    for raw in data["batches"]:
        bt = {k: torch.tensor(v) for k, v in raw.items()}
        bt["line_mask"] = bt["line_mask"].bool()
        bt["program_mask"] = bt["program_mask"].bool()
        batches.append(bt)
    model = WorldModel(cfg)
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


if __name__ == "__main__":
    main()
