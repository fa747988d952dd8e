//! Training examples from traces, and padded batches of them.

use curio_trace::{Language, Run, Step};
use tch::{Device, Tensor};

use crate::encode::{
    EOS, Encoded, PAD, State, decides, delta, delta_bytes, encode_context_in, event_index, nesting, states_reading,
};
use crate::model::{Batch, Examples, Programs, Targets};
use crate::window::Window;

mod shift;
pub use shift::shift_lines;

/// Jump lengths the model is trained on.
pub const JUMPS: [u32; 4] = [1, 2, 4, 8];

/// One (program, state at t, k) -> (action at t+k, delta to t+k) example.
/// The delta is predicted given the action: its tokens sit between the
/// action query and the delta.
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    /// The program, k and the state at t, encoded (with the true working
    /// the current line calls for).
    pub context: Encoded,
    /// The line worked out before the action ([`crate::work`]): the true
    /// working in training, the model's own at inference
    /// ([`crate::infer::work`]); empty where the line calls for none or
    /// while it is still to be written.
    pub working: Vec<u8>,
    /// The action given to the delta head ([`Encoded::action_tokens`]);
    /// empty while the action is still to be predicted.
    pub action: Vec<i64>,
    /// Delta bytes, EOS not included.
    pub target: Vec<u8>,
    /// Index in [`crate::EVENTS`] of the target event.
    pub event: usize,
    /// 0-based index of the target line.
    pub line: usize,
}

impl Example {
    /// A context to ask the model about: no action given, no targets.
    pub fn query(context: Encoded) -> Self {
        Example { context, working: vec![], action: vec![], target: vec![], event: 0, line: 0 }
    }

    /// The same context with `(event, line)` given as its action and the
    /// delta still to be written.
    pub fn given(&self, event: usize, line: usize) -> Self {
        Example { action: self.context.action_tokens(event, line), target: vec![], event, line, ..self.clone() }
    }

    /// Tokens the example occupies in a batch (context, working, action,
    /// target, EOS).
    pub fn len(&self) -> usize {
        self.context.context.len() + self.working.len() + self.action.len() + self.target.len() + 1
    }

    /// Position among the example's own tokens (after the program) of the
    /// action query: the context's last SEP, or the end of the working
    /// written after it.
    pub fn query_position(&self) -> usize {
        self.context.context.len() - 1 - self.context.prefix + self.working.len()
    }

    /// Whether the line calls for working the model has not written yet.
    pub fn needs_work(&self) -> bool {
        !self.context.working.is_empty() && self.working.last() != Some(&b'\n')
    }

    /// Position among the example's own tokens (after the program) of the
    /// one that predicts the delta's first byte: the last token of the
    /// given action, or the action query when none is given.
    pub fn delta_start(&self) -> usize {
        self.query_position() + self.action.len()
    }

    /// The current line's code and, when it reads values, the code with them
    /// in place (the state's `:` and `=` lines).
    pub fn current_code(&self) -> (String, String) {
        let state = crate::encode::token_bytes(&self.context.context[self.context.prefix..]);
        let state = String::from_utf8_lossy(&state);
        let code = state.lines().find_map(|l| l.strip_prefix(':')).unwrap_or("").to_string();
        let read = state.lines().find_map(|l| l.strip_prefix('=')).unwrap_or("").to_string();
        (code, read)
    }

    /// The example for a model that writes no working
    /// ([`crate::ModelConfig::working`] off): its line calls for none.
    pub fn unworked(mut self) -> Self {
        self.context.working.clear();
        self.working.clear();
        self
    }

    /// Its own tokens after the program, EOS not included: its state,
    /// working, action and delta, as a batch row holds them.
    pub fn own_tokens(&self) -> Vec<i64> {
        let c = &self.context;
        c.context[c.prefix..]
            .iter()
            .copied()
            .chain(self.working.iter().map(|&y| i64::from(y)))
            .chain(self.action.iter().copied())
            .chain(self.target.iter().map(|&y| i64::from(y)))
            .collect()
    }

    /// How many own tokens it holds ([`Example::own_tokens`]).
    pub fn own_len(&self) -> usize {
        self.len() - 1 - self.context.prefix
    }

    /// Never: an example holds at least its EOS.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Every example of a trace of a Python run given `input` on stdin, for the
/// given jump lengths; steps whose target line is outside the source (none
/// in practice) are skipped.
pub fn examples(source: &str, input: &str, steps: &[Step], jumps: &[u32]) -> Vec<Example> {
    examples_in(Language::Python, source, input, steps, jumps)
}

/// [`examples`] of a run in `language`.
pub fn examples_in(language: Language, source: &str, input: &str, steps: &[Step], jumps: &[u32]) -> Vec<Example> {
    let st = states_reading(steps, input);
    let mut out = vec![];
    for &k in jumps {
        for t in 0..st.len().saturating_sub(k as usize) {
            out.extend(build(language, source, steps, &st, t, k));
        }
    }
    out
}

/// Whether one line of text evaluates a comparison: an operator `<`, `>`,
/// `==`, `!=`, `<=`, `>=` outside string literals and comments. The
/// working reads it on the line as it stands, values written in.
pub(crate) fn compares(line: &str) -> bool {
    let (mut quote, mut prev) = (None, ' ');
    for c in line.chars() {
        match quote {
            Some(q) if c == q && prev != '\\' => quote = None,
            Some(_) => {}
            None if c == '#' => return false,
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '<' || (c == '>' && prev != '-') || (c == '=' && matches!(prev, '=' | '!')) => return true,
            None => {}
        }
        prev = c;
    }
    false
}

/// A run with its model states read off once: every example of it is then
/// built from the state it starts at, with no replay of the steps before.
#[derive(Clone, Debug)]
pub struct Unrolled {
    /// The run, as stored.
    pub run: Run,
    states: Vec<State>,
}

impl Unrolled {
    /// Reads the run's states, one per step.
    pub fn new(run: Run) -> Self {
        let states = states_reading(&run.steps, &run.input);
        Unrolled { run, states }
    }

    /// The run's steps (and states).
    pub fn len(&self) -> usize {
        self.states.len()
    }

    /// Whether the run has no steps.
    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The example of the state at `t` with a jump `k`, if `t + k` is in
    /// the run.
    pub fn example(&self, t: usize, k: u32) -> Option<Example> {
        if t + k as usize >= self.states.len() {
            return None;
        }
        build(self.run.language, &self.run.source, &self.run.steps, &self.states, t, k)
    }
}

fn build(language: Language, source: &str, steps: &[Step], st: &[State], t: usize, k: u32) -> Option<Example> {
    let target = &st[t + k as usize];
    let line = target.line as usize;
    if line == 0 || line > source.lines().count() {
        return None;
    }
    let printed: String = steps[t + 1..=t + k as usize].iter().map(|s| s.stdout.as_str()).collect();
    let context = encode_context_in(language, source, &st[t], k);
    let (event, line) = (event_index(target.event), line - 1);
    Some(Example {
        action: context.action_tokens(event, line),
        working: context.working.clone(),
        context,
        target: delta_bytes(&delta(&st[t], target, &printed)),
        event,
        line,
    })
}

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
fn share_programs(examples: &[Example], per_program: usize) -> (Vec<usize>, Vec<usize>) {
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

/// A line event of the module with one local `x`: traces for unit tests.
#[cfg(test)]
pub(crate) fn module_step(step: u32, line: u32, x: &str) -> Step {
    Step {
        step,
        event: curio_trace::Event::Line,
        line,
        function: "<module>".into(),
        depth: 1,
        locals: vec![("x".into(), x.into())],
        stdout: String::new(),
        value: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_compares_and_computes_is_worked_before_its_action() {
        let source = "x = 7\nif x * 5 > 13:\n    x = x + 1\n";
        let steps = [module_step(0, 1, "7"), module_step(1, 2, "7"), module_step(2, 3, "7"), module_step(3, 3, "8")];
        let ex = examples(source, "", &steps, &[1]);
        assert_eq!(ex[1].context.working, b"if 35 > 13: True\n");
        assert_eq!(ex[1].working, ex[1].context.working, "training writes the true working");
        assert!(ex[0].context.working.is_empty() && ex[2].context.working.is_empty(), "no comparison, no working");
        assert!(Example::query(ex[1].context.clone()).needs_work() && !ex[1].needs_work());
        let batch = pack(&ex, 8, crate::ModelConfig::default().window(), Device::Cpu);
        let labels = Vec::<Vec<i64>>::try_from(&batch.targets.labels).unwrap();
        let delta_labels = Vec::<Vec<i64>>::try_from(&batch.delta_labels()).unwrap();
        let query = Vec::<i64>::try_from(&batch.examples.query).unwrap();
        let start = Vec::<i64>::try_from(&batch.examples.delta_start).unwrap();
        for (x, e) in ex.iter().enumerate() {
            let sep = e.context.context.len() - 1 - e.context.prefix;
            assert_eq!(query[x] as usize, sep + e.working.len(), "the action is asked after the working");
            assert_eq!(start[x] as usize, query[x] as usize + e.action.len());
            let written: Vec<i64> = labels[x].iter().copied().filter(|&l| l != -100).collect();
            let want: Vec<i64> =
                e.working.iter().chain(&e.target).map(|&b| i64::from(b)).chain([crate::encode::EOS]).collect();
            assert_eq!(written, want, "the working's bytes, then the delta's, are the targets");
            assert_eq!(delta_labels[x].iter().filter(|&&l| l != -100).count(), e.target.len() + 1);
        }
        // The last example's delta sets x to 8: its decisions are the first
        // byte, the value's first byte after `=`, and the newline after it.
        let decisions = Vec::<Vec<bool>>::try_from(&batch.targets.decisions).unwrap();
        let (x, at) = (ex.len() - 1, start[ex.len() - 1] as usize);
        let decided: Vec<usize> = (0..decisions[x].len()).filter(|&i| decisions[x][i]).map(|i| i - at).collect();
        let target = &ex[x].target;
        let value = target.iter().position(|&b| b == b'=').expect("a value set") + 1;
        assert_eq!(&target[value..], b"8\n", "{}", String::from_utf8_lossy(target));
        assert_eq!(decided, [0, value, value + 1, value + 2], "{}", String::from_utf8_lossy(target));
    }

    #[test]
    fn an_unrolled_run_gives_each_example_as_the_whole_trace_does() {
        let source = "x = 7\nif x * 5 > 13:\n    x = x + 1\n";
        let steps =
            vec![module_step(0, 1, "7"), module_step(1, 2, "7"), module_step(2, 3, "7"), module_step(3, 3, "8")];
        let run = Unrolled::new(Run {
            language: curio_trace::Language::Python,
            source: source.into(),
            input: "4\n".into(),
            steps: steps.clone(),
        });
        assert_eq!(run.len(), 4);
        for k in [1, 2] {
            let whole = examples(source, "4\n", &steps, &[k]);
            let each: Vec<Example> = (0..run.len()).filter_map(|t| run.example(t, k)).collect();
            assert_eq!(each.len(), whole.len());
            for (a, b) in each.iter().zip(&whole) {
                assert_eq!(
                    (&a.context.context, &a.target, a.event, a.line),
                    (&b.context.context, &b.target, b.event, b.line)
                );
            }
        }
        assert!(run.example(3, 1).is_none() && run.example(1, 4).is_none(), "a jump past the end has no example");
    }
}
