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

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.c_attn(x).split(c, dim=2)
        heads = lambda z: z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(heads(q), heads(k), heads(v), dropout_p=p, is_causal=True)
        y = y.transpose(1, 2).contiguous().view(b, t, c)
        return F.dropout(self.c_proj(y), self.dropout, self.training)


class Block(nn.Module):
    def __init__(self, c, n_head, dropout):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.attn = Attention(c, n_head, dropout)
        self.c_fc, self.c_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.dropout = dropout

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        h = self.c_proj(F.gelu(self.c_fc(self.ln_2(x))))
        return x + F.dropout(h, self.dropout, self.training)


class WorldModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        c = cfg["n_embd"]
        self.wte = nn.Embedding(cfg["vocab"], c)
        self.wpe = nn.Embedding(cfg["block_size"], c)
        self.wle = nn.Embedding(cfg["line_rel_vocab"], c)
        self.blocks = nn.ModuleList(Block(c, cfg["n_head"], cfg["dropout"]) for _ in range(cfg["n_layer"]))
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, cfg["vocab"])
        self.event_head = nn.Linear(c, 4)
        self.ptr_query, self.ptr_key = nn.Linear(c, c), nn.Linear(c, c)
        self.dropout = cfg["dropout"]

    def loss(self, bt):
        tokens, labels = bt["tokens"], bt["labels"]
        b, t = tokens.shape
        pos = torch.arange(t)
        x = self.wte(tokens) + self.wpe(pos) + self.wle(bt["line_rel"])
        x = F.dropout(x, self.dropout, self.training)
        for block in self.blocks:
            x = block(x)
        h = self.ln_f(x)
        c = h.shape[-1]
        query = h.gather(1, bt["query"].view(b, 1, 1).expand(b, 1, c)).squeeze(1)
        keys = self.ptr_key(h.gather(1, bt["lines"].unsqueeze(-1).expand(b, bt["lines"].shape[1], c)))
        scores = (self.ptr_query(query).unsqueeze(1) @ keys.transpose(1, 2)).squeeze(1) / math.sqrt(c)
        line_logits = scores.masked_fill(~bt["line_mask"], float("-inf"))
        action = F.cross_entropy(self.event_head(query), bt["event"], reduction="none") + F.cross_entropy(
            line_logits, bt["line"], reduction="none"
        )
        flat = labels.view(-1)
        idx = (flat != -100).nonzero().squeeze(1)
        per_token = F.cross_entropy(self.lm_head(h.reshape(b * t, c)[idx]), flat[idx], reduction="none")
        sums = torch.zeros(b).index_add(0, idx // t, per_token)
        delta = sums / (labels != -100).sum(1).clamp_min(1)
        return (action + delta).mean()


def main():
    path, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = json.load(open(path))
    cfg = data["config"]
    batches = []
    for raw in data["batches"]:
        bt = {k: torch.tensor(v) for k, v in raw.items()}
        bt["line_mask"] = bt["line_mask"].bool()
        batches.append(bt)
    model = WorldModel(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)

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
        tokens += bt["tokens"].numel()
    print(f"tokens_per_second: {tokens / (time.perf_counter() - start):.1f}")


if __name__ == "__main__":
    main()
