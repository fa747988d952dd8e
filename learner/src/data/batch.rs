//! Padded batches of examples: each program's tokens once per row, and
//! each example's own tokens, labels and per-line features.

use curio_trace::Language;
use tch::{Device, Tensor};

use super::Example;
use crate::encode::{EOS, PAD, decides, nesting};
use crate::model::{Batch, Examples, Programs, Targets};
use crate::window::Window;

/// A batch on `device` for a model reading `window`; consecutive examples
/// of one program share it.
pub fn collate(examples: &[Example], window: Window, device: Device) -> Batch {
    pack(examples, usize::MAX, window, device)
}

/// A batch on `device` for a model reading `window`, in which up to
/// `per_program` consecutive examples of one program share one copy of it
/// (see [`Batch`]); 1 gives every example its own copy. Sharing changes
/// nothing but the cost.
pub fn pack(examples: &[Example], per_program: usize, window: Window, device: Device) -> Batch {
    let (row_of, firsts) = share_programs(examples, per_program);
    let n = examples.len();
    let s = examples.iter().map(Example::own_len).max().unwrap_or(1).max(1);
    let l = examples.iter().map(|e| e.context.line_starts.len()).max().unwrap_or(1).max(1);
    let programs = ProgramRows::new(examples, &firsts, l, window);
    let own = OwnRows::new(examples, s, l, window);
    let (b, k, t, w) = (firsts.len() as i64, programs.k as i64, programs.t as i64, programs.w as i64);
    let (n, s, l) = (n as i64, s as i64, l as i64);
    let on = |v: &[i64], shape: &[i64]| Tensor::from_slice(v).view(shape).to(device);
    let flags = |v: &[bool], shape: &[i64]| Tensor::from_slice(v).view(shape).to(device);
    Batch {
        programs: Programs {
            tokens: on(&programs.program, &[k, t]),
            line: on(&programs.program_line, &[k, t]),
            mask: flags(&programs.program_mask, &[k, t]),
            depth: on(&programs.program_depth, &[k, t]),
            chunks: on(&programs.chunks, &[b, w]),
            lines: on(&programs.lines, &[b, l]),
            line_mask: flags(&programs.line_mask, &[b, l]),
        },
        examples: Examples {
            tokens: on(&own.tokens, &[n, s]),
            positions: on(&own.positions, &[n, s]),
            line_id: on(&own.line_id, &[n, s]),
            depth: on(&own.depth, &[n, s]),
            row: on(&row_of.iter().map(|&r| r as i64).collect::<Vec<_>>(), &[n]),
            query: on(&own.query, &[n]),
            delta_start: on(&own.delta_start, &[n]),
            line_rel: on(&own.line_rel, &[n, l]),
            line_flow: on(&own.line_flow, &[n, l]),
            flow: on(&own.flow, &[n]),
        },
        targets: Targets {
            labels: on(&own.labels, &[n, s]),
            decisions: flags(&own.decisions, &[n, s]),
            event: on(&examples.iter().map(|e| e.event as i64).collect::<Vec<_>>(), &[n]),
            line: on(&examples.iter().map(|e| e.line as i64).collect::<Vec<_>>(), &[n]),
        },
    }
}

/// Which program row each example reads, and each row's first example: up
/// to `per_program` consecutive examples of one program share a row.
pub(super) fn share_programs(examples: &[Example], per_program: usize) -> (Vec<usize>, Vec<usize>) {
    let mut row_of: Vec<usize> = Vec::with_capacity(examples.len());
    let mut firsts: Vec<usize> = vec![];
    for (i, e) in examples.iter().enumerate() {
        let shares = firsts.last().is_some_and(|&f| {
            let first = &examples[f].context;
            i - f < per_program.max(1) && first.context[..first.prefix] == e.context.context[..e.context.prefix]
        });
        if !shares {
            firsts.push(i);
        }
        row_of.push(firsts.len() - 1);
    }
    (row_of, firsts)
}

/// A batch's programs, flat, before they become its (K, T), (B, W) and
/// (B, L) tensors ([`Programs`] says what each holds).
struct ProgramRows {
    program: Vec<i64>,
    program_line: Vec<i64>,
    program_mask: Vec<bool>,
    program_depth: Vec<i64>,
    chunks: Vec<i64>,
    lines: Vec<i64>,
    line_mask: Vec<bool>,
    /// Chunk rows (K), their length (T), and the most chunks of one program (W).
    k: usize,
    t: usize,
    w: usize,
}

impl ProgramRows {
    /// The programs of the first examples in `firsts`, in chunks as
    /// `window` lays them out, `l` lines wide.
    fn new(examples: &[Example], firsts: &[usize], l: usize, window: Window) -> Self {
        let layouts: Vec<_> = firsts.iter().map(|&f| window.layout(&examples[f].context)).collect();
        let t = layouts.iter().flatten().map(|r| r.len()).max().unwrap_or(1).max(1);
        let w = layouts.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let real: usize = layouts.iter().map(Vec::len).sum();
        // A chunk of padding stands in for the chunks a shorter program lacks.
        let k = real + usize::from(layouts.iter().any(|c| c.len() < w));
        let mut rows = ProgramRows {
            program: vec![PAD; k * t],
            program_line: vec![0; k * t],
            program_mask: vec![false; k * t],
            program_depth: vec![0; k * t],
            chunks: vec![(k - 1) as i64; firsts.len() * w],
            lines: vec![0; firsts.len() * l],
            line_mask: vec![false; firsts.len() * l],
            k,
            t,
            w,
        };
        let mut next = 0;
        for (r, (&f, layout)) in firsts.iter().zip(&layouts).enumerate() {
            let e = &examples[f].context;
            let depth = nesting(&e.context[..e.prefix]);
            for (slot, range) in layout.iter().enumerate() {
                let at = next * t;
                rows.program[at..at + range.len()].copy_from_slice(&e.context[range.clone()]);
                rows.program_line[at..at + range.len()].copy_from_slice(&e.line_id[range.clone()]);
                rows.program_depth[at..at + range.len()].copy_from_slice(&depth[range.clone()]);
                rows.program_mask[at..at + range.len()].fill(true);
                rows.chunks[r * w + slot] = next as i64;
                next += 1;
            }
            for (j, &pos) in e.line_starts.iter().enumerate() {
                let slot = layout.iter().position(|c| c.contains(&pos)).expect("a chunk holds every token");
                rows.lines[r * l + j] = (slot * t + pos - layout[slot].start) as i64;
                rows.line_mask[r * l + j] = true;
            }
        }
        rows
    }
}

/// A batch's example rows, flat, before they become its (N, S), (N, L) and
/// (N,) tensors ([`Examples`] and [`Targets`] say what each holds).
struct OwnRows {
    tokens: Vec<i64>,
    labels: Vec<i64>,
    decisions: Vec<bool>,
    positions: Vec<i64>,
    line_id: Vec<i64>,
    depth: Vec<i64>,
    query: Vec<i64>,
    line_rel: Vec<i64>,
    line_flow: Vec<i64>,
    delta_start: Vec<i64>,
    flow: Vec<i64>,
}

impl OwnRows {
    /// One row per example, `s` tokens and `l` lines wide, positioned as
    /// `window` has them.
    fn new(examples: &[Example], s: usize, l: usize, window: Window) -> Self {
        let n = examples.len();
        let mut rows = OwnRows {
            tokens: vec![PAD; n * s],
            labels: vec![-100i64; n * s],
            decisions: vec![false; n * s],
            positions: vec![0i64; n * s],
            line_id: vec![0i64; n * s],
            depth: vec![0i64; n * s],
            query: vec![0i64; n],
            line_rel: vec![0i64; n * l],
            line_flow: vec![0i64; n * l],
            delta_start: vec![0i64; n],
            flow: vec![0i64; n],
        };
        for (x, e) in examples.iter().enumerate() {
            let c = &e.context;
            let flow = match window.flow_returns && !c.return_flow.is_empty() {
                true => c.return_flow.as_slice(),
                false => c.line_flow.as_slice(),
            };
            let flow_read = (window.flow_lua_js || c.language == Language::Python).then_some(flow);
            rows.fill(x, e, (s, l), (window.own_offset(c.prefix), flow_read));
        }
        rows
    }

    /// Writes example `e` into row `x`, its first own token at position
    /// `offset`.
    fn fill(&mut self, x: usize, e: &Example, (s, l): (usize, usize), (offset, flow_read): (usize, Option<&[i64]>)) {
        let c = &e.context;
        let current = *c.line_id.last().unwrap_or(&0);
        let own: Vec<i64> = e.own_tokens().into_iter().chain([EOS]).collect();
        // The working is written from the context's last SEP on.
        let working = c.context.len() - 1 - c.prefix..e.query_position();
        self.query[x] = working.end as i64;
        let start = e.delta_start();
        self.delta_start[x] = start as i64;
        self.line_rel[x * l..x * l + c.line_rel.len()].copy_from_slice(&c.line_rel);
        if let Some(flow) = flow_read {
            self.line_flow[x * l..x * l + flow.len()].copy_from_slice(flow);
            self.flow[x] = flow.iter().fold(0, |acc, f| acc | f);
        }
        let depths = nesting(&own);
        for i in 0..own.len() - 1 {
            self.tokens[x * s + i] = own[i];
            self.depth[x * s + i] = depths[i];
            self.positions[x * s + i] = (offset + i) as i64;
            self.line_id[x * s + i] = c.line_id.get(c.prefix + i).copied().unwrap_or(current);
            if i >= start || working.contains(&i) {
                self.labels[x * s + i] = own[i + 1];
            }
            self.decisions[x * s + i] = i >= start && decides(i == start, own[i], own[i + 1]);
        }
        // Padding keeps going up from the last position, within the block.
        for i in own.len() - 1..s {
            self.positions[x * s + i] = (offset + own.len() - 2) as i64;
        }
    }
}
