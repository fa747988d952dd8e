//! The context the model reads: the program with its line markers, then
//! the state at t and the jump length k as text, with the per-token and
//! per-line features beside it.

use super::delta::escape;
use super::state::State;
use super::values::with_values;
use super::{BOS, EVENTS, LINE, LINE_IDS, LINE_REACH, LINE_REL_VOCAB, SEP};
use crate::facts::Facts;
use curio_trace::Language;

/// A training/inference example: the context tokens, where the program
/// ends, where each source line starts, and the line features.
#[derive(Clone, Debug, PartialEq)]
pub struct Encoded {
    /// BOS, source with LINE markers, SEP, the k and the state, SEP.
    pub context: Vec<i64>,
    /// Tokens of `context` that are the program (BOS and the source): the
    /// same for every state of it, so a packed row holds them once.
    pub prefix: usize,
    /// Index in `context` of each LINE marker (line 1 first).
    pub line_starts: Vec<usize>,
    /// Per context token: the source line it is on (1-based, clamped to
    /// `LINE_IDS - 1`); the state's tokens carry the current line, so
    /// attention can match them to its code. 0 for BOS.
    pub line_id: Vec<i64>,
    /// Per source line: its offset from the current line (see
    /// `relative_line`), plus `LINE_REL_VOCAB / 2` on the caller's line.
    /// The line pointer reads it, so "the next line" or "back to the loop
    /// head" is a lookup rather than counting LINE markers.
    pub line_rel: Vec<i64>,
    /// Per source line: where control can go from the current line
    /// ([`crate::flow`] flags); the line pointer reads it beside `line_rel`.
    pub line_flow: Vec<i64>,
    /// At a `return` event with a caller, where control can go from the
    /// caller's line, which the call returns into ([`crate::flow`] flags);
    /// empty at any other state. A model trained with
    /// [`crate::Window::flow_returns`] reads these in place of
    /// `line_flow`, whose flags describe a line that has already completed.
    pub return_flow: Vec<i64>,
    /// The working the line calls for ([`crate::work::working`]): a
    /// comparison's operands and value, a counting loop's next value and
    /// whether it goes on, then a newline; empty for any other line. The target the
    /// model is taught to write before its action; at inference it writes
    /// its own ([`crate::infer::work`]) and is never given this one.
    pub working: Vec<u8>,
    /// The program's language: a model reads the flow of a Lua or
    /// JavaScript program only when it was trained to
    /// ([`crate::Window::flow_lua_js`]).
    pub language: Language,
}

impl Encoded {
    /// The 0-based index of the current line (the one at offset 0 in
    /// `line_rel`), if it is a line of the source.
    pub fn current_line(&self) -> Option<usize> {
        self.line_rel.iter().position(|&r| r % (LINE_REL_VOCAB / 2) == relative_line(0))
    }

    /// The tokens of an action (event index, 0-based line), given to the
    /// delta head between the action query and the delta:
    /// `#event line:code\n`, the code of the line it goes to read from the
    /// program's own tokens. The state is predicted *given* the action, so
    /// "the loop ends here" or "this call enters `f`" is known to the delta
    /// and each head is measured on its own.
    pub fn action_tokens(&self, event: usize, line: usize) -> Vec<i64> {
        let mut out: Vec<i64> =
            format!("#{} {}:", EVENTS[event.min(EVENTS.len() - 1)].as_str(), line + 1).bytes().map(i64::from).collect();
        if let Some(&start) = self.line_starts.get(line) {
            let code = self.context[start + 1..self.prefix].iter().take_while(|&&t| t != i64::from(b'\n'));
            out.extend(code.skip_while(|&&t| t == i64::from(b' ')));
        }
        out.push(i64::from(b'\n'));
        out
    }
}

/// Encodes a Python program, the state at t and the jump length k.
pub fn encode_context(source: &str, state: &State, k: u32) -> Encoded {
    encode_context_in(Language::Python, source, state, k)
}

/// Encodes a program in `language`, the state at t and the jump length k.
/// A language other than Python is named after BOS (`lua` and a newline).
/// Its flow flags come from its own parser ([`crate::facts`]); the values a
/// line reads and the working stay Python's, and it gets neither.
pub fn encode_context_in(language: Language, source: &str, state: &State, k: u32) -> Encoded {
    let lines: Vec<&str> = source.lines().collect();
    let (mut ctx, line_starts, mut line_id) = program_tokens(language, &lines);
    let prefix = ctx.len();
    let (line_rel, line_flow, return_flow) = line_features(language, source, state, lines.len());
    ctx.push(SEP);
    let mut s = state_bytes(state, &lines, k);
    let working = current_code_bytes(language, source, state, &lines, &mut s);
    ctx.extend(s.into_iter().map(i64::from));
    ctx.push(SEP);
    line_id.resize(ctx.len(), line_index(state.line as usize));
    Encoded { context: ctx, prefix, line_starts, line_id, line_rel, line_flow, return_flow, working, language }
}

/// The program part of a context: BOS, the language unless it is Python,
/// then each source line after a LINE marker. Its tokens, the index of each
/// marker, and each token's line id.
fn program_tokens(language: Language, lines: &[&str]) -> (Vec<i64>, Vec<usize>, Vec<i64>) {
    let mut ctx = vec![BOS];
    if language != Language::Python {
        ctx.extend(language.as_str().bytes().map(i64::from));
        ctx.push(i64::from(b'\n'));
    }
    let mut line_starts = vec![];
    let mut line_id = vec![0; ctx.len()];
    for (j, line) in lines.iter().enumerate() {
        line_starts.push(ctx.len());
        ctx.push(LINE);
        ctx.extend(line.bytes().map(i64::from));
        ctx.push(i64::from(b'\n'));
        line_id.resize(ctx.len(), line_index(j + 1));
    }
    (ctx, line_starts, line_id)
}

/// The per-line features of a source of `lines` lines at `state`:
/// [`Encoded::line_rel`], [`Encoded::line_flow`] and
/// [`Encoded::return_flow`].
fn line_features(language: Language, source: &str, state: &State, lines: usize) -> (Vec<i64>, Vec<i64>, Vec<i64>) {
    let current = i64::from(state.line) - 1;
    let caller_line = state.stack.iter().rev().nth(1).map(|f| f.line);
    let caller = caller_line.map(|l| i64::from(l) - 1);
    let line_flow = crate::flow::line_flags_in(language, source, state.line, caller_line);
    // A return goes on from the caller's line, as that line goes on once
    // its call is done: to what follows it, into its branch, or out of its
    // own frame (`return f(x)`, the module's last line).
    let return_flow = match caller_line {
        Some(at) if state.event == curio_trace::Event::Return => {
            let callers_caller = state.stack.iter().rev().nth(2).map(|f| f.line);
            crate::flow::line_flags_in(language, source, at, callers_caller)
        }
        _ => vec![],
    };
    let line_rel = (0..lines as i64)
        .map(|j| relative_line(j - current) + if caller == Some(j) { LINE_REL_VOCAB / 2 } else { 0 })
        .collect();
    (line_rel, line_flow, return_flow)
}

/// The state as text: k, the input, each caller's frame, then the current
/// frame with where control came from, and the recent output.
fn state_bytes(state: &State, lines: &[&str], k: u32) -> Vec<u8> {
    let mut s = format!("k={k}\n").into_bytes();
    if !state.stdin.is_empty() {
        s.push(b'<');
        escape(&state.stdin, &mut s);
        s.push(b'\n');
    }
    for f in &state.stack[..state.stack.len() - 1] {
        // The caller's line and its code: where the value a `return`
        // hands back lands (`x = f(3)` sets `x`) is read here, not searched
        // for in the program.
        s.extend_from_slice(format!("@{} {} {}", f.function, f.depth, f.line).as_bytes());
        if let Some(code) = code_at(lines, f.line) {
            s.push(b':');
            s.extend_from_slice(code.as_bytes());
        }
        s.push(b'\n');
        locals_bytes(&f.locals, &mut s);
    }
    let f = state.frame();
    s.extend_from_slice(format!("#{} {} @{} {}", state.event.as_str(), state.line, f.function, f.depth).as_bytes());
    // Where control came from, relative: `from +3` is back up from a loop's
    // body, `from -1` down from the line above.
    if state.from != 0 {
        s.extend_from_slice(format!(" from {:+}", i64::from(state.from) - i64::from(state.line)).as_bytes());
    }
    s.push(b'\n');
    locals_bytes(&f.locals, &mut s);
    s.push(b'>');
    escape(&state.stdout_tail, &mut s);
    s.push(b'\n');
    s
}

/// Appends to `s` the code of the current line of `source` (split into
/// `lines`) and, when it reads any locals, the same code with their values
/// ([`with_values`]); returns the working the line calls for
/// ([`Encoded::working`]).
fn current_code_bytes(language: Language, source: &str, state: &State, lines: &[&str], s: &mut Vec<u8>) -> Vec<u8> {
    // The code of the current line, so the state's own tokens hold it, and
    // the same code with the values it reads in place of their names. They
    // come last, next to the action query and to the delta after it: what
    // the line does (a comparison, an `if` that changes nothing, a loop
    // that counts) decides both, and the next line's code, given to the
    // delta as its action, would otherwise be the nearest code it reads.
    let Some((at, line)) = (state.line as usize).checked_sub(1).and_then(|at| Some((at, *lines.get(at)?))) else {
        return vec![];
    };
    let code = line.trim();
    s.push(b':');
    s.extend_from_slice(code.as_bytes());
    s.push(b'\n');
    if language != Language::Python {
        return vec![];
    }
    let read = with_values(line, Facts::of(source).names(at), &state.frame().locals);
    if let Some(read) = &read {
        s.push(b'=');
        escape(read, s);
        s.push(b'\n');
    }
    let mut working = vec![];
    let back = || crate::work::came_back(lines, state.line, state.from);
    if let Some(worked) = crate::work::working(code, read.as_deref(), back) {
        escape(&worked, &mut working);
        working.push(b'\n');
    }
    working
}

/// The code of 1-based `line` of `lines`, indentation trimmed; `None` for
/// line 0 or a line past the end.
fn code_at<'a>(lines: &[&'a str], line: u32) -> Option<&'a str> {
    (line as usize).checked_sub(1).and_then(|i| lines.get(i)).map(|code| code.trim())
}

/// The bytes among `tokens`, specials dropped: how a sequence reads as text.
pub fn token_bytes(tokens: &[i64]) -> Vec<u8> {
    tokens.iter().filter(|&&t| t < 256).map(|&t| t as u8).collect()
}

/// A 1-based source line as a line-embedding index.
fn line_index(line: usize) -> i64 {
    (line as i64).min(LINE_IDS - 1)
}

/// How far a source line is from the current one, as an embedding index:
/// 0 outside the source, else the offset clamped to +-`LINE_REACH`, shifted
/// to be positive. It lets "the next line" or "back to the loop head" be a
/// lookup instead of counting LINE markers.
fn relative_line(offset: i64) -> i64 {
    offset.clamp(-LINE_REACH, LINE_REACH) + LINE_REACH + 1
}

/// Each local as a `name=value` line, the value escaped.
fn locals_bytes(locals: &[(String, String)], out: &mut Vec<u8>) {
    for (k, v) in locals {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        escape(v, out);
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use curio_trace::Event;

    use super::*;
    use crate::encode::state::fixtures::trace;
    use crate::encode::{Delta, VOCAB, apply, event_index, states, states_reading};

    #[test]
    fn another_language_is_named_after_bos_and_gets_its_own_parsers_hints() {
        let st = states(&trace());
        let python = "x = 1\nif x < 2:\n    print(x)\n";
        let lua = "local x = 1\nif x < 2 then\n  print(x)\nend\n";
        let (p, l) = (encode_context(python, &st[0], 1), encode_context_in(Language::Lua, lua, &st[0], 1));
        assert_eq!(p, encode_context_in(Language::Python, python, &st[0], 1));
        assert_eq!(&token_bytes(&l.context[..l.prefix])[..4], b"lua\n");
        assert_eq!(l.line_starts.len(), 4);
        assert_eq!(l.context[l.line_starts[0]], LINE);
        assert_eq!(l.line_id.len(), l.context.len());
        // Lua's flow is Lua's parser's reading, and its working none.
        assert_eq!(l.line_flow, crate::flow::line_flags_in(Language::Lua, lua, st[0].line, None));
        assert!(l.line_flow.iter().any(|&f| f != 0) && l.line_flow.len() == 4);
        assert!(p.line_flow.iter().any(|&f| f != 0), "Python's parser still marks the flow");
        assert_eq!((l.language, p.language), (Language::Lua, Language::Python));
        assert!(l.working.is_empty());
    }

    #[test]
    fn context_marks_every_source_line_and_ends_with_sep() {
        let st = states(&trace());
        let source = "def f(x):\n    return x\nprint('é')\n";
        let e = encode_context(source, &st[2], 2);
        let read = encode_context(source, &states_reading(&trace(), "7\nhé\n")[2], 2);
        let text = |e: &Encoded| String::from_utf8(token_bytes(&e.context)).unwrap();
        assert!(text(&read).contains("k=2\n<7\\nhé\\n\n@<module>"), "{}", text(&read));
        assert!(text(&e).contains("k=2\n@<module>"), "no input, no input line: {}", text(&e));
        assert_eq!(e.line_starts.len(), 3);
        assert!(e.line_starts.iter().all(|&i| e.context[i] == LINE));
        assert_eq!((e.context[0], *e.context.last().unwrap()), (BOS, SEP));
        assert!(e.context.iter().all(|&t| (0..VOCAB).contains(&t)));
        // The program part is the same for every state of it.
        let other = encode_context(source, &st[4], 1);
        assert_eq!((e.prefix, e.context[e.prefix]), (other.prefix, SEP));
        assert_eq!(e.context[..e.prefix], other.context[..other.prefix]);
        assert_eq!(e.line_id[..e.prefix], other.line_id[..other.prefix]);
        // Source tokens carry their line; the state's tokens the current one (1, in `f`).
        assert_eq!(e.line_id.len(), e.context.len());
        let ids: Vec<i64> = e.line_starts.iter().map(|&i| e.line_id[i]).collect();
        assert_eq!(ids, [1, 2, 3]);
        assert!(e.line_id[e.prefix..].iter().all(|&l| l == 1));
        // Line 1 (current) is offset 0; line 3 two below; the caller (at 5,
        // past the end) marks no line.
        assert_eq!(e.line_rel, [LINE_REACH + 1, LINE_REACH + 2, LINE_REACH + 3]);
        assert_eq!(e.current_line(), Some(0));
        assert_eq!(encode_context(source, &st[0], 1).current_line(), Some(0));
        assert_eq!(encode_context("x = 1\n", &st[1], 1).current_line(), None, "line 5 is past the source");
        // An action reads as its event, its line and that line's code.
        let action = |event, line| String::from_utf8(token_bytes(&e.action_tokens(event, line)));
        assert_eq!(action(event_index(Event::Call), 0).unwrap(), "#call 1:def f(x):\n");
        assert_eq!(action(event_index(Event::Return), 1).unwrap(), "#return 2:return x\n", "indent dropped");
        assert_eq!(action(event_index(Event::Line), 2).unwrap(), "#line 3:print('é')\n");
        let text = text(&e);
        assert!(
            text.contains("k=2\n@<module> 1 5\ns='héllo\\\\n'\n")
                && text.ends_with("#call 1 @f 2 from +4\nx=[1, 2]\n>\n:def f(x):\n=def f([1, 2]):\n"),
            "{text}"
        );
        // A caller's frame shows the code of the line it resumes at (line
        // 5 is past the end of `source`, so above it has none).
        let long = "def f(x):\n    return x\n\n\ny = f([1, 2])\nprint(y)\n";
        let caller = String::from_utf8(token_bytes(&encode_context(long, &st[2], 1).context)).unwrap();
        assert!(caller.contains("k=1\n@<module> 1 5:y = f([1, 2])\ns="), "{caller}");
        // The first state came from nowhere; a predicted one from the line before.
        let first = String::from_utf8(token_bytes(&encode_context(source, &st[0], 1).context)).unwrap();
        assert!(first.contains("#line 1 @<module> 1\n"), "{first}");
        let moved = apply(&st[3], Event::Return, 2, &Delta::default());
        assert_eq!((moved.from, st[4].from), (2, 2));
    }
}
