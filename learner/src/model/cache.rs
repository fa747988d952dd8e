//! Incremental decoding: a batch's programs are read once, and each
//! example's own tokens once, their keys and values kept per layer (a KV
//! cache), so every byte written after them costs one token's pass, not a
//! pass over the program and everything before it.

use tch::{Kind, Tensor};

use super::{Batch, ModelError, Output, WorldModel};
use crate::encode::{PAD, nesting};

/// The keys and values of rows being decoded ([`WorldModel::prefill`],
/// [`WorldModel::extend`]). At inference only: no dropout.
#[derive(Debug)]
pub struct Cache {
    /// Per layer, each row's program keys and values (N, nh, P, hs).
    programs: Vec<(Tensor, Tensor)>,
    /// (N, P) each row's real program tokens.
    program_mask: Tensor,
    /// Per layer, each row's own keys and values (N, nh, cap, hs); past a
    /// row's length they hold nothing it reads.
    own: Vec<(Tensor, Tensor)>,
    /// (N, cap, C) final hidden states of the own tokens: the delta head's keys.
    hidden: Tensor,
    /// (N, cap) the own tokens, PAD past each row's length.
    tokens: Tensor,
    /// Each row's own tokens so far (for their bracket depths).
    own_tokens: Vec<Vec<i64>>,
    /// Each row's first own position, and the line its new tokens are on.
    offset: Vec<i64>,
    line: Vec<i64>,
    /// (B, P, C) the programs' rows, and the batch's action-head inputs.
    program_rows: Tensor,
    batch: Batch,
}

impl Cache {
    /// Rows held.
    pub fn rows(&self) -> usize {
        self.own_tokens.len()
    }

    /// Own tokens row `r` holds.
    pub fn len(&self, r: usize) -> usize {
        self.own_tokens[r].len()
    }

    /// The rows `keep` (indices, ascending) alone, so finished rows cost
    /// nothing more. The action head's inputs go with them only where the
    /// rows are all kept.
    pub fn keep(&mut self, keep: &[usize]) -> Result<(), ModelError> {
        let idx = Tensor::from_slice(&keep.iter().map(|&r| r as i64).collect::<Vec<_>>()).to(self.tokens.device());
        let pick = |t: &Tensor| t.f_index_select(0, &idx);
        for (k, v) in self.programs.iter_mut().chain(self.own.iter_mut()) {
            (*k, *v) = (pick(k)?, pick(v)?);
        }
        self.program_mask = pick(&self.program_mask)?;
        self.hidden = pick(&self.hidden)?;
        self.tokens = pick(&self.tokens)?;
        let sub = |v: &[i64]| keep.iter().map(|&r| v[r]).collect::<Vec<_>>();
        (self.offset, self.line) = (sub(&self.offset), sub(&self.line));
        self.own_tokens = keep.iter().map(|&r| std::mem::take(&mut self.own_tokens[r])).collect();
        let examples = &mut self.batch.examples;
        examples.row = pick(&examples.row)?;
        for t in [&mut examples.line_rel, &mut examples.line_flow, &mut examples.flow] {
            *t = t.f_index_select(0, &idx)?;
        }
        Ok(())
    }

    /// The own stream as the delta head reads it.
    fn output(&self) -> Output {
        Output {
            hidden: self.hidden.shallow_clone(),
            tokens: self.tokens.shallow_clone(),
            event_logits: Tensor::new(),
            line_logits: Tensor::new(),
        }
    }

    /// (N,) each row's last own position.
    fn last(&self) -> Tensor {
        let last: Vec<i64> = self.own_tokens.iter().map(|t| t.len() as i64 - 1).collect();
        Tensor::from_slice(&last).to(self.tokens.device())
    }

    /// Room for `cap` own tokens per row.
    fn reserve(&mut self, cap: i64) {
        let have = self.tokens.size()[1];
        if cap <= have {
            return;
        }
        let cap = cap.max(have + have / 2);
        let grow = |t: &Tensor, dim: i64| {
            let mut shape = t.size();
            shape[dim as usize] = cap - have;
            Tensor::cat(&[t.shallow_clone(), Tensor::zeros(shape.as_slice(), (t.kind(), t.device()))], dim)
        };
        for (k, v) in &mut self.own {
            (*k, *v) = (grow(k, 2), grow(v, 2));
        }
        self.hidden = grow(&self.hidden, 1);
        self.tokens = grow(&self.tokens, 1).masked_fill(&self.tokens_beyond(have, cap), PAD);
    }

    /// (N, cap) true at columns `have..cap`.
    fn tokens_beyond(&self, have: i64, cap: i64) -> Tensor {
        let n = self.tokens.size()[0];
        Tensor::arange(cap, (Kind::Int64, self.tokens.device())).ge(have).unsqueeze(0).expand([n, cap], false)
    }
}

impl WorldModel {
    /// Reads a batch once, as [`WorldModel::forward`] does at inference,
    /// and keeps what every later byte needs: `batch`'s rows hold each
    /// example's own tokens so far.
    pub fn prefill(&self, batch: Batch) -> Result<Cache, ModelError> {
        let ctx = self.layout(&batch)?;
        let mut programs = vec![];
        let mut x = self.program_embeddings(&batch)?;
        for block in &self.blocks {
            let (y, k, v) = block.programs(x, &ctx);
            programs.push((ctx.per_example(&k), ctx.per_example(&v)));
            x = y;
        }
        let program_rows = ctx.rows_of(&x.apply(&self.ln_f))?;
        let mut own_kv = vec![];
        let examples = &batch.examples;
        let mut y = self.own_embeddings(&examples.tokens, &examples.positions, &examples.line_id, &examples.depth);
        for (block, (kp, vp)) in self.blocks.iter().zip(&programs) {
            let put = |ks: Tensor, vs: Tensor| {
                own_kv.push((ks.shallow_clone(), vs.shallow_clone()));
                (Tensor::cat(&[kp, &ks], 2), Tensor::cat(&[vp, &vs], 2))
            };
            y = block.own(y, &ctx.rotary_own, &ctx.mask, put);
        }
        let n = examples.tokens.size()[0];
        let w = batch.programs.chunks.size()[1];
        let t = batch.programs.tokens.size()[1];
        let lengths = examples.tokens.ne(PAD).sum_dim_intlist(1, false, Kind::Int64);
        let rows = Vec::<Vec<i64>>::try_from(&examples.tokens.to(tch::Device::Cpu))?;
        let lengths = Vec::<i64>::try_from(&lengths.to(tch::Device::Cpu))?;
        let own_tokens: Vec<Vec<i64>> =
            rows.into_iter().zip(&lengths).map(|(r, &l)| r[..l as usize].to_vec()).collect();
        let first = Vec::<i64>::try_from(&examples.positions.select(1, 0).to(tch::Device::Cpu))?;
        // New tokens are on the line of each row's last (the current line).
        let last = Tensor::from_slice(&lengths.iter().map(|&l| (l - 1).max(0)).collect::<Vec<_>>())
            .to(examples.tokens.device());
        let line = examples.line_id.f_gather(1, &last.unsqueeze(1), false)?.squeeze_dim(1);
        let line = Vec::<i64>::try_from(&line.to(tch::Device::Cpu))?;
        Ok(Cache {
            programs,
            program_mask: batch.programs.mask.f_index_select(0, &ctx.reads)?.view([n, w * t]),
            own: own_kv,
            hidden: y.apply(&self.ln_f),
            tokens: examples.tokens.shallow_clone(),
            own_tokens,
            offset: first,
            line,
            program_rows,
            batch,
        })
    }

    /// Appends `new[r]` (possibly nothing) to each row's own tokens.
    pub fn extend(&self, cache: &mut Cache, new: &[Vec<i64>]) -> Result<(), ModelError> {
        let m = new.iter().map(Vec::len).max().unwrap_or(0);
        if m == 0 {
            return Ok(());
        }
        let n = cache.rows();
        let device = cache.tokens.device();
        let limit = self.config.window().positions() as i64 - 1;
        let (mut tokens, mut positions, mut line_id, mut depth, mut at) = (vec![], vec![], vec![], vec![], vec![]);
        for (r, add) in new.iter().enumerate() {
            let len = cache.own_tokens[r].len();
            cache.own_tokens[r].extend(add);
            let depths = nesting(&cache.own_tokens[r]);
            for j in 0..m {
                tokens.push(add.get(j).copied().unwrap_or(PAD));
                positions.push((cache.offset[r] + (len + j) as i64).min(limit));
                line_id.push(cache.line[r]);
                depth.push(depths.get(len + j).copied().unwrap_or(0));
                at.push((len + j) as i64);
            }
        }
        let (n, m) = (n as i64, m as i64);
        let on = |v: &[i64]| Tensor::from_slice(v).view([n, m]).to(device);
        let (tokens, positions, at) = (on(&tokens), on(&positions), on(&at));
        let needed = at.max().int64_value(&[]) + 1;
        cache.reserve(needed);
        let cap = cache.tokens.size()[1];
        let p = cache.program_mask.size()[1];
        // Own key c is seen by the new token j of a row where c <= its position.
        let own_mask = Tensor::arange(cap, (Kind::Int64, device)).view([1, 1, cap]).le_tensor(&at.unsqueeze(-1));
        let mask =
            Tensor::cat(&[cache.program_mask.view([n, 1, p]).expand([n, m, p], false), own_mask], 2).unsqueeze(1);
        let hs = self.config.n_embd / self.config.n_head;
        let (cos, sin) = super::core::rotary(&positions, hs);
        let rot = (cos.unsqueeze(1), sin.unsqueeze(1));
        let mut x = self.own_embeddings(&tokens, &positions, &on(&line_id), &on(&depth));
        for (block, ((kp, vp), (ko, vo))) in self.blocks.iter().zip(cache.programs.iter().zip(cache.own.iter_mut())) {
            let put = |ks: Tensor, vs: Tensor| {
                // (N, m) -> (N, nh, m, hs): where each new key goes.
                let idx = at.view([n, 1, m, 1]).expand(ks.size().as_slice(), false);
                let _ = ko.scatter_(2, &idx, &ks);
                let _ = vo.scatter_(2, &idx, &vs);
                (Tensor::cat(&[kp, &*ko], 2), Tensor::cat(&[vp, &*vo], 2))
            };
            x = block.own(x, &rot, &mask, put);
        }
        let c = self.config.n_embd;
        let _ = cache.hidden.scatter_(1, &at.unsqueeze(-1).expand([n, m, c], false), &x.apply(&self.ln_f));
        let _ = cache.tokens.scatter_(1, &at, &tokens);
        Ok(())
    }

    /// Next-byte log-probabilities (N, V) after each row's last own token.
    pub fn next_bytes(&self, cache: &Cache) -> Result<Tensor, ModelError> {
        self.logits_at(&cache.output(), &cache.last())
    }

    /// Event (N, 4) and line (N, L) logits asked at each row's last own
    /// token: the rows must be those the cache was filled with.
    pub fn action_next(&self, cache: &Cache) -> Result<(Tensor, Tensor), ModelError> {
        let query = super::action::at_positions(&cache.hidden, &cache.last())?;
        self.action(&cache.batch, &cache.program_rows, &query)
    }
}
