//! Training examples from traces, and padded batches of them
//! ([`batch`]).

use curio_trace::{Language, Run, Step};

use crate::encode::{Encoded, State, delta, delta_bytes, encode_context_in, event_index, states_reading};

mod batch;
mod shift;
pub use batch::{collate, pack};
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
    use tch::Device;

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
