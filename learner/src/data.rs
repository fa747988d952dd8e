//! Training examples from traces, and padded batches of them.

use curio_interpreter_pool::Step;
use tch::{Device, Tensor};

use crate::encode::{EOS, Encoded, PAD, State, delta, delta_bytes, encode_context, event_index, states};
use crate::model::Batch;

/// Jump lengths the model is trained on.
pub const JUMPS: [u32; 4] = [1, 2, 4, 8];

/// One (program, state at t, k) -> (action at t+k, delta to t+k) example.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub context: Encoded,
    /// Delta bytes, EOS not included.
    pub target: Vec<u8>,
    pub event: usize,
    /// 0-based index of the target line.
    pub line: usize,
}

impl Example {
    /// Tokens the example occupies in a batch (context, target, EOS).
    pub fn len(&self) -> usize {
        self.context.context.len() + self.target.len() + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Every example of a trace for the given jump lengths; steps whose target
/// line is outside the source (none in practice) are skipped.
pub fn examples(source: &str, steps: &[Step], jumps: &[u32]) -> Vec<Example> {
    let st = states(steps);
    let mut out = vec![];
    for &k in jumps {
        for t in 0..st.len().saturating_sub(k as usize) {
            out.extend(build(source, steps, &st, t, k));
        }
    }
    out
}

/// The example (state at `t`, jump `k`) of a trace, if `t + k` is in it.
pub fn example_at(source: &str, steps: &[Step], t: usize, k: u32) -> Option<Example> {
    let end = t + k as usize;
    if end >= steps.len() {
        return None;
    }
    build(source, steps, &states(&steps[..=end]), t, k)
}

fn build(source: &str, steps: &[Step], st: &[State], t: usize, k: u32) -> Option<Example> {
    let target = &st[t + k as usize];
    let line = target.line as usize;
    if line == 0 || line > source.lines().count() {
        return None;
    }
    let printed: String = steps[t + 1..=t + k as usize].iter().map(|s| s.stdout.as_str()).collect();
    Some(Example {
        context: encode_context(source, &st[t], k),
        target: delta_bytes(&delta(&st[t], target, &printed)),
        event: event_index(target.event),
        line: line - 1,
    })
}

/// Pads examples into one batch on `device`.
pub fn collate(examples: &[Example], device: Device) -> Batch {
    let t = examples.iter().map(|e| e.len() - 1).max().unwrap_or(1);
    let l = examples.iter().map(|e| e.context.line_starts.len()).max().unwrap_or(1).max(1);
    let b = examples.len();
    let (mut tokens, mut labels) = (vec![PAD; b * t], vec![-100i64; b * t]);
    let (mut lines, mut mask) = (vec![0i64; b * l], vec![false; b * l]);
    let mut line_rel = vec![0i64; b * t];
    let mut query = Vec::with_capacity(b);
    for (r, e) in examples.iter().enumerate() {
        let seq: Vec<i64> =
            e.context.context.iter().copied().chain(e.target.iter().map(|&x| i64::from(x))).chain([EOS]).collect();
        let q = e.context.context.len() - 1;
        query.push(q as i64);
        line_rel[r * t..r * t + e.context.line_rel.len()].copy_from_slice(&e.context.line_rel);
        for i in 0..seq.len() - 1 {
            tokens[r * t + i] = seq[i];
            if i >= q {
                labels[r * t + i] = seq[i + 1];
            }
        }
        for (j, &pos) in e.context.line_starts.iter().enumerate() {
            lines[r * l + j] = pos as i64;
            mask[r * l + j] = true;
        }
    }
    let (b, t, l) = (b as i64, t as i64, l as i64);
    Batch {
        tokens: Tensor::from_slice(&tokens).view([b, t]).to(device),
        labels: Tensor::from_slice(&labels).view([b, t]).to(device),
        line_rel: Tensor::from_slice(&line_rel).view([b, t]).to(device),
        query: Tensor::from_slice(&query).to(device),
        lines: Tensor::from_slice(&lines).view([b, l]).to(device),
        line_mask: Tensor::from_slice(&mask).view([b, l]).to(device),
        event: Tensor::from_slice(&examples.iter().map(|e| e.event as i64).collect::<Vec<_>>()).to(device),
        line: Tensor::from_slice(&examples.iter().map(|e| e.line as i64).collect::<Vec<_>>()).to(device),
    }
}
