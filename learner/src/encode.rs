//! Bytes in, bytes out: how a program, a state and a jump length become a
//! token sequence, how the state after the jump becomes a *delta* target,
//! and how a predicted delta turns back into a state.
//!
//! A state is Markov: besides the current frame it carries the caller
//! frames' last locals (the stack), so a `return` can be predicted from the
//! state alone. Tokens are bytes 0..=255 plus a few specials.

use curio_trace::{Event, Step};

pub const PAD: i64 = 256;
pub const BOS: i64 = 257;
pub const SEP: i64 = 258;
pub const EOS: i64 = 259;
/// Precedes every source line: the action head points at these.
pub const LINE: i64 = 260;
pub const VOCAB: i64 = 261;
/// Source lines further from the current line than this share an embedding.
pub const LINE_REACH: i64 = 32;
/// Line-embedding rows: 0 (no line), then lines 1.. (later lines share the last).
pub const LINE_IDS: i64 = 256;
/// Relative-line embedding rows: 0 (not source) and -REACH..=REACH, then
/// the same again for the line the caller resumes at (where a `return` goes).
pub const LINE_REL_VOCAB: i64 = 2 * (2 * LINE_REACH + 2);

/// Bytes of recent stdout kept in a state.
const STDOUT_TAIL: usize = 64;
/// Bytes of the run's input kept in a state.
const STDIN_HEAD: usize = 64;

/// The four tracer events, as the action head's classes.
pub const EVENTS: [Event; 4] = [Event::Call, Event::Line, Event::Return, Event::Exception];

pub fn event_index(e: Event) -> usize {
    EVENTS.iter().position(|x| *x == e).expect("every event is listed")
}

/// One frame on the stack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub function: String,
    pub depth: u32,
    /// The line this frame was last at: where a caller resumes.
    pub line: u32,
    pub locals: Vec<(String, String)>,
}

/// What the model sees at step t.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub event: Event,
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

fn tail(s: &str) -> String {
    let mut start = s.len().saturating_sub(STDOUT_TAIL);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s[start..].to_string()
}

/// What changes from one state to a later one.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Delta {
    /// The target frame when it is not the current one: (function, depth).
    pub frame: Option<(String, u32)>,
    /// Variables added or changed, in the target's order.
    pub set: Vec<(String, String)>,
    pub removed: Vec<String>,
    /// Printed between the two states.
    pub stdout: String,
}

/// The locals a delta into `frame` applies to: the current frame's, a
/// caller's saved ones when returning to it, or none for a new frame.
fn base<'a>(from: &'a State, frame: &Option<(String, u32)>) -> &'a [(String, String)] {
    match frame {
        None => &from.frame().locals,
        Some((function, depth)) => match from.stack.get((*depth as usize).wrapping_sub(1)) {
            Some(f) if (*depth as usize) < from.stack.len() && f.function == *function => &f.locals,
            _ => &[],
        },
    }
}

/// The delta from `a` to `b`, given what was printed between them.
pub fn delta(a: &State, b: &State, printed: &str) -> Delta {
    let same = a.frame().function == b.frame().function && a.frame().depth == b.frame().depth;
    let frame = (!same).then(|| (b.frame().function.clone(), b.frame().depth));
    let old = base(a, &frame);
    let set =
        b.frame().locals.iter().filter(|(k, v)| !old.iter().any(|(k2, v2)| k2 == k && v2 == v)).cloned().collect();
    let removed =
        old.iter().filter(|(k, _)| !b.frame().locals.iter().any(|(k2, _)| k2 == k)).map(|(k, _)| k.clone()).collect();
    Delta { frame, set, removed, stdout: printed.to_string() }
}

/// `a` moved by an action (event, line) and a delta.
pub fn apply(a: &State, event: Event, line: u32, d: &Delta) -> State {
    let mut stack = a.stack.clone();
    let mut locals = base(a, &d.frame).to_vec();
    if let Some((function, depth)) = &d.frame {
        let depth = (*depth).max(1) as usize;
        stack.truncate(depth);
        while stack.len() < depth {
            stack.push(Frame { function: String::new(), depth: stack.len() as u32 + 1, line: 0, locals: vec![] });
        }
        stack.last_mut().expect("depth >= 1").function = function.clone();
    }
    locals.retain(|(k, _)| !d.removed.contains(k));
    for (k, v) in &d.set {
        match locals.iter_mut().find(|(k2, _)| k2 == k) {
            Some(slot) => slot.1 = v.clone(),
            None => locals.push((k.clone(), v.clone())),
        }
    }
    let top = stack.last_mut().expect("depth >= 1");
    top.locals = locals;
    top.line = line;
    State {
        event,
        line,
        from: a.line,
        stack,
        stdout_tail: tail(&(a.stdout_tail.clone() + &d.stdout)),
        stdin: a.stdin.clone(),
    }
}

/// Newlines and backslashes escaped, so every record is one line.
fn escape(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

fn unescape(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter();
    while let Some(&b) = it.next() {
        if b == b'\\' {
            match it.next() {
                Some(b'n') => out.push(b'\n'),
                Some(&other) => out.push(other),
                None => out.push(b'\\'),
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// The delta as target bytes (EOS not included).
pub fn delta_bytes(d: &Delta) -> Vec<u8> {
    let mut out = vec![];
    if let Some((function, depth)) = &d.frame {
        out.extend_from_slice(format!("@{function} {depth}\n").as_bytes());
    }
    for (k, v) in &d.set {
        out.push(b'+');
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        escape(v, &mut out);
        out.push(b'\n');
    }
    for k in &d.removed {
        out.push(b'-');
        out.extend_from_slice(k.as_bytes());
        out.push(b'\n');
    }
    if !d.stdout.is_empty() {
        out.push(b'>');
        escape(&d.stdout, &mut out);
        out.push(b'\n');
    }
    out
}

/// Parses predicted delta bytes; malformed lines are an error the caller
/// counts as a wrong prediction.
pub fn parse_delta(bytes: &[u8]) -> Result<Delta, String> {
    let mut d = Delta::default();
    for line in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| "not UTF-8".to_string());
        match line[0] {
            b'@' => {
                let body = text(&line[1..])?;
                let (f, depth) = body.rsplit_once(' ').ok_or("frame line without depth")?;
                d.frame = Some((f.to_string(), depth.parse().map_err(|_| "bad depth")?));
            }
            b'+' => {
                let eq = line.iter().position(|b| *b == b'=').ok_or("set line without '='")?;
                d.set.push((text(&line[1..eq])?, text(&unescape(&line[eq + 1..]))?));
            }
            b'-' => d.removed.push(text(&line[1..])?),
            b'>' => d.stdout.push_str(&text(&unescape(&line[1..]))?),
            other => return Err(format!("unknown delta line start {:?}", other as char)),
        }
    }
    Ok(d)
}

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
    /// The working the line calls for ([`crate::work::working`]): a
    /// comparison's operands and value, a counting loop's next value and
    /// whether it goes on, then a newline; empty for any other line. The target the
    /// model is taught to write before its action; at inference it writes
    /// its own ([`crate::infer::work`]) and is never given this one.
    pub working: Vec<u8>,
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

/// Encodes the program, the state at t and the jump length k.
pub fn encode_context(source: &str, state: &State, k: u32) -> Encoded {
    let mut ctx = vec![BOS];
    let mut line_starts = vec![];
    let mut line_id = vec![0];
    let lines: Vec<&str> = source.lines().collect();
    for (j, line) in lines.iter().enumerate() {
        line_starts.push(ctx.len());
        ctx.push(LINE);
        ctx.extend(line.bytes().map(i64::from));
        ctx.push(i64::from(b'\n'));
        line_id.resize(ctx.len(), line_index(j + 1));
    }
    let prefix = ctx.len();
    let current = i64::from(state.line) - 1;
    let caller_line = state.stack.iter().rev().nth(1).map(|f| f.line);
    let caller = caller_line.map(|l| i64::from(l) - 1);
    let line_flow = crate::flow::line_flags(source, state.line, caller_line);
    let line_rel = (0..lines.len() as i64)
        .map(|j| relative_line(j - current) + if caller == Some(j) { LINE_REL_VOCAB / 2 } else { 0 })
        .collect();
    ctx.push(SEP);
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
        if let Some(code) = code_at(&lines, f.line) {
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
    // The code of the current line, so the state's own tokens hold it, and
    // the same code with the values it reads in place of their names. They
    // come last, next to the action query and to the delta after it: what
    // the line does (a comparison, an `if` that changes nothing, a loop
    // that counts) decides both, and the next line's code, given to the
    // delta as its action, would otherwise be the nearest code it reads.
    let mut working = vec![];
    if let Some(code) = code_at(&lines, state.line) {
        s.push(b':');
        s.extend_from_slice(code.as_bytes());
        s.push(b'\n');
        let read = with_values(code, &f.locals);
        if let Some(read) = &read {
            s.push(b'=');
            escape(read, &mut s);
            s.push(b'\n');
        }
        let back = || crate::work::came_back(&lines, state.line, state.from);
        if let Some(worked) = crate::work::working(code, read.as_deref(), back) {
            escape(&worked, &mut working);
            working.push(b'\n');
        }
    }
    ctx.extend(s.into_iter().map(i64::from));
    ctx.push(SEP);
    line_id.resize(ctx.len(), line_index(state.line as usize));
    Encoded { context: ctx, prefix, line_starts, line_id, line_rel, line_flow, working }
}

/// The code of 1-based `line` of `lines`, indentation trimmed; `None` for
/// line 0 or a line past the end.
fn code_at<'a>(lines: &[&'a str], line: u32) -> Option<&'a str> {
    (line as usize).checked_sub(1).and_then(|i| lines.get(i)).map(|code| code.trim())
}

/// Longest value [`with_values`] puts in place of a name.
const VALUE_INLINE: usize = 48;

/// `code` with every local it reads replaced by the local's value, or
/// `None` when it reads none. A name counts as read unless it is an
/// attribute (after `.`) or inside a string literal (an f-string's `{...}`
/// is code); values longer than [`VALUE_INLINE`] bytes and functions are
/// left as names. The values then sit beside the operators that combine
/// them, so `if a < 3:` reads `if 7 < 3:` and `b = a * 2` reads
/// `b = 7 * 2`.
///
/// A target the line writes (`x = ...`, `a, b = ...`, `x += ...`, a `for`
/// loop's `for i in ...`) keeps its name and shows the value it holds
/// before the line runs, `x:7 = 7 + 0`: a line that assigns a variable the
/// value it already has changes nothing, the two values sit side by side
/// to be compared, and the name the delta sets is next to them. A string that is a
/// whole argument of `print` or a whole f-string field is shown as the
/// text it prints, without its quotes: `print(a, s)` reads `print(7, ab)`.
/// Inside brackets nothing is a target, and a keyword's name stays a name:
/// `f(lo=lo)` reads `f(lo=3)`.
pub fn with_values(code: &str, locals: &[(String, String)]) -> Option<String> {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len() * 2);
    let (mut i, mut replaced) = (0, false);
    // The quote of the string literal we are in, if any, and whether it is
    // an f-string; `depth` counts an f-string's open braces (code inside).
    let (mut quote, mut fstring, mut depth): (Option<u8>, bool, usize) = (None, false, 0);
    // Open brackets outside string literals: a `print(` argument is at 1.
    let (mut brackets, printing, looping) = (0usize, code.starts_with("print("), code.starts_with("for "));
    while i < bytes.len() {
        let b = bytes[i];
        if let Some(q) = quote.filter(|_| depth == 0) {
            match b {
                // The escaped character goes along with its backslash.
                b'\\' => i += copy_char(code, i, &mut out),
                b'{' if fstring => depth += 1,
                _ if b == q => quote = None,
                _ => {}
            }
            i += copy_char(code, i, &mut out);
            continue;
        }
        if b == b'}' && depth > 0 {
            depth -= 1;
        } else if quote.is_none() && b"([{".contains(&b) {
            brackets += 1;
        } else if quote.is_none() && b")]}".contains(&b) {
            brackets = brackets.saturating_sub(1);
        } else if (b == b'\'' || b == b'"') && depth == 0 {
            fstring = i > 0 && bytes[i - 1].eq_ignore_ascii_case(&b'f');
            quote = Some(b);
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let end = (i..bytes.len())
                .find(|&j| !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_'))
                .unwrap_or(bytes.len());
            let name = &code[i..end];
            let attribute = i > 0 && bytes[i - 1] == b'.';
            let starts_string = end < bytes.len() && (bytes[end] == b'\'' || bytes[end] == b'"');
            // `f(lo=lo)`, `def f(lo=0):`: a keyword's name, not a read or a write.
            let keyword = quote.is_none() && brackets > 0 && {
                let rest = code[end..].trim_start();
                rest.starts_with('=') && !rest.starts_with("==")
            };
            let value =
                locals.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| {
                    !attribute && !starts_string && !keyword && v.len() <= VALUE_INLINE && !v.starts_with('<')
                });
            let before = code[..i].trim_end().as_bytes().last();
            let after = code[end..].trim_start().as_bytes().first();
            // Printed whole: a `print` argument of its own, or an f-string field.
            let whole = if quote.is_some() {
                before == Some(&b'{') && after == Some(&b'}')
            } else {
                printing && brackets == 1 && matches!(before, Some(b'(' | b',')) && matches!(after, Some(b',' | b')'))
            };
            match value {
                Some(v) if brackets == 0 && assigned(&code[end..], looping) => {
                    out.push_str(name);
                    out.push(':');
                    out.push_str(v);
                    replaced = true;
                }
                Some(v) => {
                    out.push_str(if whole { printed(v) } else { v });
                    replaced = true;
                }
                None => out.push_str(name),
            }
            i = end;
            continue;
        }
        i += copy_char(code, i, &mut out);
    }
    replaced.then_some(out)
}

/// What `print` writes for a value shown as `repr`: a string's text without
/// its quotes when it holds no escape, else `repr` itself.
fn printed(repr: &str) -> &str {
    let quoted = |q: char| repr.len() >= 2 && repr.starts_with(q) && repr.ends_with(q);
    if (quoted('\'') || quoted('"')) && !repr.contains('\\') { &repr[1..repr.len() - 1] } else { repr }
}

/// Copies the character of `code` at byte `i` (if any) to `out`; its length.
fn copy_char(code: &str, i: usize, out: &mut String) -> usize {
    code.get(i..).and_then(|rest| rest.chars().next()).map_or(0, |c| {
        out.push(c);
        c.len_utf8()
    })
}

/// Augmented assignments: their target is read and written.
const AUGMENTED: [&str; 13] = ["+=", "-=", "*=", "/=", "//=", "%=", "**=", "|=", "&=", "^=", ">>=", "<<=", "@="];

/// Whether a name followed by `rest` is a target the line writes: `rest`
/// is `= ...` (not `==`) or an augmented `+= ...`, possibly after more
/// `, name`s; in a `for` line, `in ...` after them.
fn assigned(rest: &str, for_loop: bool) -> bool {
    let mut r = rest.trim_start();
    while let Some(more) = r.strip_prefix(',') {
        let more = more.trim_start();
        let name = more.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(more.len());
        if name == 0 {
            return false;
        }
        r = more[name..].trim_start();
    }
    if for_loop {
        return r.strip_prefix("in").is_some_and(|after| after.starts_with([' ', '(', '[']));
    }
    (r.starts_with('=') && !r.starts_with("==")) || AUGMENTED.iter().any(|op| r.starts_with(op))
}

/// Bracket depths: [`nesting`] is clamped below this.
pub const DEPTHS: i64 = 8;

/// Per token: how many brackets (`(`, `[`, `{`) are open at it, outside
/// quoted strings, counting one that opens or closes there; every line
/// starts again at 0 (a newline or a special token resets it). Causal: a
/// token's depth depends on the tokens up to it, so a target being written
/// has its depths as it goes. The embedding of it tells the `, ` between
/// `print`'s arguments (depth 1) from the `, ` inside a list it prints
/// (depth 2), and the `]` that closes a list from one that closes a
/// nested one, without counting brackets across a line.
pub fn nesting(tokens: &[i64]) -> Vec<i64> {
    let (mut depth, mut quote, mut escaped) = (0i64, None::<u8>, false);
    tokens
        .iter()
        .map(|&t| {
            if !(0..256).contains(&t) || t == i64::from(b'\n') {
                (depth, quote, escaped) = (0, None, false);
                return 0;
            }
            let b = t as u8;
            let here = match quote {
                Some(q) => {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        _ if b == q => quote = None,
                        _ => {}
                    }
                    depth
                }
                None => match b {
                    b'(' | b'[' | b'{' => {
                        depth += 1;
                        depth
                    }
                    b')' | b']' | b'}' => {
                        let inside = depth;
                        depth = (depth - 1).max(0);
                        inside
                    }
                    b'\'' | b'"' => {
                        quote = Some(b);
                        depth
                    }
                    _ => depth,
                },
            };
            here.min(DEPTHS - 1)
        })
        .collect()
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
    use super::*;

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
    fn trace() -> Vec<Step> {
        vec![
            step(0, Event::Line, 1, "<module>", 1, &[], ""),
            step(1, Event::Line, 5, "<module>", 1, &[("s", "'héllo\\n'"), ("n", "3"), ("b", "True")], ""),
            step(2, Event::Call, 1, "f", 2, &[("x", "[1, 2]")], ""),
            step(3, Event::Line, 2, "f", 2, &[("x", "[1, 2]"), ("d", "{'k': (1, 2.5)}")], "out\n"),
            step(4, Event::Return, 2, "f", 2, &[("x", "[1, 2]"), ("d", "{'k': (1, 2.5)}"), ("z", "None")], ""),
            step(5, Event::Line, 6, "<module>", 1, &[("s", "'héllo\\n'"), ("n", "4"), ("r", "'ü\\\\'")], "done\n"),
        ]
    }

    #[test]
    fn every_delta_round_trips_through_bytes_and_back_to_the_state() {
        let steps = trace();
        let st = states(&steps);
        for k in 1..=4usize {
            for t in 0..st.len() - k {
                let printed: String = steps[t + 1..=t + k].iter().map(|s| s.stdout.as_str()).collect();
                let d = delta(&st[t], &st[t + k], &printed);
                let parsed = parse_delta(&delta_bytes(&d)).unwrap();
                assert_eq!(parsed, d, "t={t} k={k}");
                let next = apply(&st[t], st[t + k].event, st[t + k].line, &parsed);
                assert!(next.same_as(&st[t + k]), "t={t} k={k}\n{next:?}\n{:?}", st[t + k]);
            }
        }
    }

    #[test]
    fn return_to_the_caller_is_a_delta_against_its_saved_locals() {
        let st = states(&trace());
        let d = delta(&st[4], &st[5], "done\n");
        assert_eq!(d.frame, Some(("<module>".into(), 1)));
        assert_eq!(d.set, vec![("n".into(), "4".into()), ("r".into(), "'ü\\\\'".into())]);
        assert_eq!(d.removed, vec!["b".to_string()]);
        assert_eq!(d.stdout, "done\n");
    }

    #[test]
    fn unchanged_state_has_an_empty_delta() {
        let st = states(&trace());
        assert!(delta_bytes(&delta(&st[1], &st[1], "")).is_empty());
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

    #[test]
    fn the_values_a_line_reads_stand_in_for_their_names() {
        let locals: Vec<(String, String)> = [
            ("a", "7"),
            ("s", "'ab'"),
            ("xs", "[1]"),
            ("t", "(1, 2)"),
            ("get", "3"),
            ("fact", "<function fact at 0x1>"),
            ("long", &format!("'{}'", "z".repeat(60))),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let read = |code: &str| with_values(code, &locals);
        let cases = [
            ("b = a * 2", "b = 7 * 2"),
            ("if a < 3:", "if 7 < 3:"),
            ("a = a + 1", "a:7 = 7 + 1"),
            ("a = 7", "a:7 = 7"),
            ("a += t[0]", "a:7 += (1, 2)[0]"),
            ("a //= 2", "a:7 //= 2"),
            ("for a in xs:", "for a:7 in [1]:"),
            ("for a, s in t:", "for a:7, s:'ab' in (1, 2):"),
            ("for a in range(a):", "for a:7 in range(7):"),
            ("b = a <= 3", "b = 7 <= 3"),
            ("a, s = t", "a:7, s:'ab' = (1, 2)"),
            ("print(a, s)", "print(7, ab)"),
            ("print(len(s), s.upper(), xs)", "print(len('ab'), 'ab'.upper(), [1])"),
            ("x == a", "x == 7"),
            ("xs.append(a)", "[1].append(7)"),
            ("u = s.get(s, a)", "u = 'ab'.get('ab', 7)"),
            ("u = f'{s}:{len(s)}' + 'a s'", "u = f'{ab}:{len('ab')}' + 'a s'"),
            ("u = f'{s!r}' + s", "u = f'{'ab'!r}' + 'ab'"),
            ("u = 'é\\'' + s", "u = 'é\\'' + 'ab'"),
            ("v = fact(a)", "v = fact(7)"),
            ("v = clamp(a, lo=a, hi=a == 3)", "v = clamp(7, lo=7, hi=7 == 3)"),
            ("d[a] = a", "d[7] = 7"),
        ];
        for (code, want) in cases {
            assert_eq!(read(code).as_deref(), Some(want), "{code}");
        }
        for untouched in ["print('a s')", "v = fact(3)", "v = long + 'x'", "b = c", "x.a = 1", "def f(a=0):"] {
            assert_eq!(read(untouched), None, "{untouched}");
        }
    }

    #[test]
    fn bracket_depth_tells_print_arguments_from_list_items() {
        let tokens = |text: &str| text.bytes().map(i64::from).collect::<Vec<_>>();
        let depths = |text: &str| nesting(&tokens(text)).iter().map(|d| d.to_string()).collect::<String>();
        // `print(3, [0, 4], '(')`: the arguments' commas at 1, the list's at
        // 2, brackets inside a string not counted.
        assert_eq!(depths("p(3, [0, 4], '(')"), "01111222222111111");
        assert_eq!(depths("x={'a': [1]}\ny"), "00111111222100");
        // An escaped quote does not end the string; a special token resets.
        let mut t = tokens("f('\\'(')");
        t.push(SEP);
        t.extend(tokens("(x"));
        assert_eq!(nesting(&t), [0, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1]);
        // Deep nesting is clamped, and an unmatched closer does not go below 0.
        assert_eq!(*nesting(&tokens(&"[".repeat(20))).last().unwrap(), DEPTHS - 1);
        assert_eq!(nesting(&tokens("]]a")), [0, 0, 0]);
    }

    #[test]
    fn malformed_predictions_are_errors_not_panics() {
        for bad in [&b"?x\n"[..], b"+novalue\n", b"@nodepth\n", b"+k=\xff\n"] {
            assert!(parse_delta(bad).is_err(), "{bad:?}");
        }
    }
}
