//! The model's view of a run at one step: the stack of frames with their
//! locals, what was printed and what the run reads, rebuilt from a trace.

use curio_trace::{Event, Step};

/// Bytes of recent stdout kept in a state.
const STDOUT_TAIL: usize = 64;
/// Bytes of the run's input kept in a state.
const STDIN_HEAD: usize = 64;

/// One frame on the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The frame's function (`<module>` at the top).
    pub function: String,
    /// Its place on the stack, the module's being 1.
    pub depth: u32,
    /// The line this frame was last at: where a caller resumes.
    pub line: u32,
    /// The frame's locals in definition order: (name, repr).
    pub locals: Vec<(String, String)>,
}

/// What the model sees at step t.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// The tracer event of the step.
    pub event: Event,
    /// The line about to run (`Line`) or where the event happened.
    pub line: u32,
    /// The line of the step before (0 at the first step): where control
    /// came from. A loop head reached from its body goes on counting, one
    /// reached from above starts again, and the locals alone cannot tell
    /// the two apart (an inner loop's counter outlives its loop).
    pub from: u32,
    /// Outermost first; the last frame is the current one.
    pub stack: Vec<Frame>,
    /// The last bytes printed so far.
    pub stdout_tail: String,
    /// The run's whole input (stdin), the same in every state of it: what
    /// `input()` reads is an input of the run, not something to guess.
    pub stdin: String,
}

impl State {
    /// A program's first state, known before it runs: the module called
    /// at line 1, no locals, nothing printed, `input` on stdin. The same
    /// state [`states_reading`] gives for a trace's first step.
    pub fn initial(input: &str) -> State {
        let module = Frame { function: "<module>".into(), depth: 1, line: 1, locals: vec![] };
        State {
            event: Event::Call,
            line: 1,
            from: 0,
            stack: vec![module],
            stdout_tail: String::new(),
            stdin: head(input).to_string(),
        }
    }

    /// The current frame: the innermost one, last on the stack.
    pub fn frame(&self) -> &Frame {
        self.stack.last().expect("a state has at least one frame")
    }

    /// Same state, with locals compared as sets (definition order is
    /// CPython's business, not the model's).
    pub fn same_as(&self, other: &State) -> bool {
        let sorted = |f: &Frame| {
            let mut l = f.locals.clone();
            l.sort();
            (f.function.clone(), f.depth, l)
        };
        self.event == other.event
            && self.line == other.line
            && self.stdout_tail == other.stdout_tail
            && self.frame().depth == other.frame().depth
            && sorted(self.frame()) == sorted(other.frame())
    }
}

/// The states of a trace, one per step, with the stack rebuilt from depths
/// (for a run with no input; see [`states_reading`]).
pub fn states(steps: &[Step]) -> Vec<State> {
    states_reading(steps, "")
}

/// The states of a trace of a run that was given `input` on stdin.
pub fn states_reading(steps: &[Step], input: &str) -> Vec<State> {
    let mut stack: Vec<Frame> = vec![];
    let mut printed = String::new();
    let mut from = 0;
    steps
        .iter()
        .map(|s| {
            let depth = s.depth.max(1) as usize;
            stack.truncate(depth);
            while stack.len() < depth {
                stack.push(Frame { function: String::new(), depth: stack.len() as u32 + 1, line: 0, locals: vec![] });
            }
            let top = stack.last_mut().expect("depth >= 1");
            top.function = s.function.clone();
            top.line = s.line;
            top.locals = s.locals.clone();
            printed.push_str(&s.stdout);
            let came_from = std::mem::replace(&mut from, s.line);
            State {
                event: s.event,
                line: s.line,
                from: came_from,
                stack: stack.clone(),
                stdout_tail: tail(&printed),
                stdin: head(input).to_string(),
            }
        })
        .collect()
}

/// The first [`STDIN_HEAD`] bytes of an input (whole characters).
fn head(s: &str) -> &str {
    let mut end = s.len().min(STDIN_HEAD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last [`STDOUT_TAIL`] bytes of what was printed (whole characters).
pub(super) fn tail(s: &str) -> String {
    let mut start = s.len().saturating_sub(STDOUT_TAIL);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// A sample trace for the encoder's tests.
#[cfg(test)]
pub(super) mod fixtures {
    use curio_trace::{Event, Step};

    fn step(
        step: u32,
        event: Event,
        line: u32,
        function: &str,
        depth: u32,
        locals: &[(&str, &str)],
        out: &str,
    ) -> Step {
        Step {
            step,
            event,
            line,
            function: function.into(),
            depth,
            locals: locals.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            stdout: out.into(),
            value: None,
        }
    }

    /// A call into `f` and the return to the module, with values of every type.
    pub(in crate::encode) fn trace() -> Vec<Step> {
        vec![
            step(0, Event::Line, 1, "<module>", 1, &[], ""),
            step(1, Event::Line, 5, "<module>", 1, &[("s", "'héllo\\n'"), ("n", "3"), ("b", "True")], ""),
            step(2, Event::Call, 1, "f", 2, &[("x", "[1, 2]")], ""),
            step(3, Event::Line, 2, "f", 2, &[("x", "[1, 2]"), ("d", "{'k': (1, 2.5)}")], "out\n"),
            step(4, Event::Return, 2, "f", 2, &[("x", "[1, 2]"), ("d", "{'k': (1, 2.5)}"), ("z", "None")], ""),
            step(5, Event::Line, 6, "<module>", 1, &[("s", "'héllo\\n'"), ("n", "4"), ("r", "'ü\\\\'")], "done\n"),
        ]
    }
}
