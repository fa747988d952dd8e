//! The host's rules for what a guest reports. The tracer shares one
//! interpreter with the program it traces, so the program can reach it:
//! nothing the guest sends is trusted. Every event and the run's summary pass
//! these checks; the first that fails ends the run as `tampered`, keeping the
//! steps before it.

use std::collections::HashSet;

use crate::trace::GuestEvent;
use curio_trace::{ErrorInfo, Event, Language, Status};

/// Longest function name, local name or exception type the host keeps, bytes.
pub(crate) const MAX_NAME_BYTES: usize = 256;
/// Most locals one event may show.
pub(crate) const MAX_LOCALS: usize = 1024;
/// What the tracer appends to text it cut (U+2026, 3 bytes in UTF-8).
const CUT_BYTES: usize = '\u{2026}'.len_utf8();

/// Names CPython gives code objects that no source spells out.
const PYTHON_SYNTHETIC_NAMES: [&str; 7] =
    ["<module>", "<lambda>", "<genexpr>", "<listcomp>", "<dictcomp>", "<setcomp>", "__annotate__"];
/// Names the Lua tracer gives the main chunk and a function never called by name.
const LUA_SYNTHETIC_NAMES: [&str; 2] = ["<module>", "<anonymous>"];
/// Names the JavaScript tracer gives the script and a function without a name.
const JS_SYNTHETIC_NAMES: [&str; 2] = ["<module>", "<anonymous>"];

/// Why the host refused what a guest reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Violation(pub(crate) String);

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn violation<T>(why: String) -> Result<T, Violation> {
    Err(Violation(why))
}

/// What a run's events may look like, from its source and the repr cap, and
/// the call depth the events so far have reached.
#[derive(Debug)]
pub(crate) struct Rules {
    lines: u32,
    names: HashSet<String>,
    synthetic: &'static [&'static str],
    repr_cap: usize,
    depth: u32,
    events: u64,
}

impl Rules {
    pub(crate) fn new(language: Language, source: &str, repr_cap: u32) -> Self {
        let (names, synthetic, lines): (_, &'static [&'static str], _) = match language {
            Language::Python => (defined_names(source), &PYTHON_SYNTHETIC_NAMES, source_lines(source)),
            // Lua names a function by what it was called through: any word.
            Language::Lua => (words(source), &LUA_SYNTHETIC_NAMES, lua_source_lines(source)),
            // A function's own name, or the name of the property it was defined as.
            Language::Js => (words(source), &JS_SYNTHETIC_NAMES, js_source_lines(source)),
        };
        Rules { lines, names, synthetic, repr_cap: repr_cap as usize, depth: 0, events: 0 }
    }

    /// Checks one event and moves the depth it implies.
    pub(crate) fn event(&mut self, e: &GuestEvent) -> Result<(), Violation> {
        let GuestEvent(event, line, function, depth, locals, _stdout, value) = e;
        let expected = if *event == Event::Call { self.depth + 1 } else { self.depth };
        if *depth != expected || *depth == 0 {
            return violation(format!(
                "{} event at depth {depth} where the events so far imply depth {expected}",
                event.as_str()
            ));
        }
        if self.events == 0 && (*event != Event::Call || function != "<module>") {
            return violation("the first event is not the module's call".into());
        }
        self.line(*line, "event")?;
        self.function(function)?;
        if let Some(locals) = locals {
            self.locals(locals)?;
        }
        match (event, value) {
            (Event::Call | Event::Line, Some(_)) => {
                return violation(format!("a {} event carries a value", event.as_str()));
            }
            (_, Some(v)) => self.capped("value", v, self.repr_cap)?,
            _ => {}
        }
        self.events += 1;
        match event {
            Event::Call => self.depth += 1,
            Event::Return => self.depth -= 1,
            _ => {}
        }
        Ok(())
    }

    /// Checks the status and error a guest's summary claims.
    pub(crate) fn summary(&self, status: Status, error: Option<&ErrorInfo>) -> Result<(), Violation> {
        match status {
            Status::Ok | Status::Exception => {}
            Status::InvalidProgram if self.events == 0 => {}
            other => {
                return violation(format!("the guest claimed status {}, which only the host sets", other.as_str()));
            }
        }
        if status == Status::Exception && error.is_none() {
            return violation("an exception status without its error".into());
        }
        if let Some(e) = error {
            self.capped("error type", &e.kind, MAX_NAME_BYTES)?;
            self.capped("error message", &e.message, self.repr_cap)?;
            // A syntax error may point just past the last line (an
            // unexpected end of file).
            let past = u32::from(status == Status::InvalidProgram);
            if let Some(line) = e.line.filter(|&l| l == 0 || l > self.lines + past) {
                return violation(format!("error line {line} is outside the source's {} lines", self.lines));
            }
        }
        Ok(())
    }

    fn line(&self, line: u32, what: &str) -> Result<(), Violation> {
        if line == 0 || line > self.lines {
            return violation(format!("{what} line {line} is outside the source's {} lines", self.lines));
        }
        Ok(())
    }

    fn function(&self, name: &str) -> Result<(), Violation> {
        let generic = name.strip_prefix("<generic parameters of ").and_then(|n| n.strip_suffix('>'));
        let known = self.synthetic.contains(&name) || self.names.contains(generic.unwrap_or(name));
        if name.len() > MAX_NAME_BYTES || !known {
            let shown: String = name.chars().take(40).collect();
            return violation(format!("function {shown:?} is not named in the source"));
        }
        Ok(())
    }

    fn locals(&self, locals: &[(String, String)]) -> Result<(), Violation> {
        if locals.len() > MAX_LOCALS {
            return violation(format!("{} locals in one event; at most {MAX_LOCALS}", locals.len()));
        }
        for (name, repr) in locals {
            if name.is_empty() {
                return violation("a local with an empty name".into());
            }
            self.capped("local name", name, MAX_NAME_BYTES)?;
            self.capped("repr", repr, self.repr_cap)?;
        }
        Ok(())
    }

    /// Text within `cap` bytes, plus the cut marker the tracer may add.
    fn capped(&self, what: &str, text: &str, cap: usize) -> Result<(), Violation> {
        if text.len() > cap + CUT_BYTES {
            return violation(format!("{what} of {} bytes; at most {cap}", text.len()));
        }
        Ok(())
    }
}

/// Lines a traceback or tracer may name: as `compile` counts them.
fn source_lines(source: &str) -> u32 {
    let breaks = source.bytes().filter(|&b| b == b'\n').count();
    let last = if source.ends_with('\n') { 0 } else { 1 };
    (breaks + last).clamp(1, u32::MAX as usize) as u32
}

/// The names `def` and `class` statements of the source give (a superset:
/// such words inside strings and comments count too). Code objects get
/// their names only from these, or from the synthetic names above.
fn defined_names(source: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    let (mut word, mut previous) = (String::new(), String::new());
    for c in source.chars().chain(std::iter::once(' ')) {
        if c == '_' || c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            if previous == "def" || previous == "class" {
                out.insert(word.clone());
            }
            previous = std::mem::take(&mut word);
        } else if !c.is_whitespace() {
            previous.clear();
        }
    }
    out
}

/// Lines as Lua's lexer counts them: `\n`, `\r`, `\r\n` and `\n\r` each
/// end one; at least the source's `\n`-counted lines.
fn lua_source_lines(source: &str) -> u32 {
    let bytes = source.as_bytes();
    let (mut breaks, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        if matches!(bytes[i], b'\n' | b'\r') {
            breaks += 1;
            let pair = bytes.get(i + 1).is_some_and(|&next| matches!(next, b'\n' | b'\r') && next != bytes[i]);
            i += if pair { 2 } else { 1 };
        } else {
            i += 1;
        }
    }
    let last = u32::from(!source.ends_with(['\n', '\r']));
    u32::try_from(breaks).unwrap_or(u32::MAX).saturating_add(last).max(source_lines(source))
}

/// Lines as JavaScript counts them: `\n`, `\r`, `\r\n`, U+2028 and U+2029
/// each end one (an upper bound of what QuickJS reports).
fn js_source_lines(source: &str) -> u32 {
    let (mut breaks, mut previous) = (0usize, '\0');
    for c in source.chars() {
        let counted = matches!(c, '\r' | '\u{2028}' | '\u{2029}') || (c == '\n' && previous != '\r');
        breaks += usize::from(counted);
        previous = c;
    }
    let last = u32::from(!source.ends_with(['\n', '\r', '\u{2028}', '\u{2029}']));
    u32::try_from(breaks).unwrap_or(u32::MAX).saturating_add(last).max(source_lines(source))
}

/// Every identifier-like word of the source.
fn words(source: &str) -> HashSet<String> {
    source
        .split(|c: char| !(c == '_' || c.is_alphanumeric()))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: Event, line: u32, function: &str, depth: u32) -> GuestEvent {
        GuestEvent(event, line, function.into(), depth, Some(vec![]), String::new(), None)
    }

    const SOURCE: &str = "def f(x):\n    return x\nf(1)\n";

    fn run(events: &[GuestEvent]) -> Result<(), Violation> {
        let mut rules = Rules::new(Language::Python, SOURCE, 200);
        events.iter().try_for_each(|e| rules.event(e))
    }

    #[test]
    fn a_real_run_passes() {
        let mut ret = ev(Event::Return, 2, "f", 2);
        ret.6 = Some("1".into());
        let events = [
            ev(Event::Call, 1, "<module>", 1),
            ev(Event::Line, 1, "<module>", 1),
            ev(Event::Line, 3, "<module>", 1),
            ev(Event::Call, 1, "f", 2),
            ev(Event::Line, 2, "f", 2),
            ret,
            ev(Event::Return, 3, "<module>", 1),
        ];
        assert_eq!(run(&events), Ok(()));
    }

    #[test]
    fn a_forged_depth_is_refused() {
        let events = [ev(Event::Call, 1, "<module>", 1), ev(Event::Line, 1, "<module>", 4_000_000_000)];
        assert!(run(&events).unwrap_err().0.contains("depth 4000000000"));
        // A call may go one level deeper, never two.
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Call, 1, "f", 3)]).is_err());
        // Returning below the module is as wrong.
        let under =
            [ev(Event::Call, 1, "<module>", 1), ev(Event::Return, 3, "<module>", 1), ev(Event::Line, 3, "f", 0)];
        assert!(run(&under).is_err());
    }

    #[test]
    fn lines_outside_the_source_are_refused() {
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Line, 4, "<module>", 1)]).is_err());
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Line, 0, "<module>", 1)]).is_err());
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Line, 3, "<module>", 1)]).is_ok());
    }

    #[test]
    fn functions_must_be_named_in_the_source() {
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Call, 1, "g", 2)]).is_err());
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Call, 1, "<lambda>", 2)]).is_ok());
        assert!(run(&[ev(Event::Call, 1, "f", 1)]).is_err(), "the first event is the module's");
        // A word of the source is not enough: only `def` and `class` name code.
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), ev(Event::Call, 1, "x", 2)]).is_err());
        let names = defined_names("class  A(B):\n    async def run(self): return f(x)\nprint(def_ine)\n");
        assert_eq!(names, ["A", "run"].map(String::from).into_iter().collect());
    }

    #[test]
    fn lua_functions_are_named_by_a_word_of_the_source() {
        let mut rules = Rules::new(Language::Lua, "local t = {}\nfunction t.add(a) return a end\n", 200);
        let calls =
            [ev(Event::Call, 1, "<module>", 1), ev(Event::Call, 2, "add", 2), ev(Event::Call, 2, "<anonymous>", 3)];
        assert!(calls.iter().try_for_each(|e| rules.event(e)).is_ok());
        assert!(rules.event(&ev(Event::Call, 2, "<lambda>", 4)).is_err(), "Python's names are not Lua's");
        assert!(rules.event(&ev(Event::Call, 2, "sub", 4)).is_err());
        assert_eq!(words("x1 = 2e3 + _y"), ["x1", "_y"].map(String::from).into_iter().collect());
        assert_eq!(lua_source_lines("a\rb\r\nc\n\rd"), 4);
        assert_eq!(lua_source_lines("a\nb\n"), 2);
        assert_eq!(lua_source_lines("a"), 1);
        assert_eq!(js_source_lines("a\r\nb\rc\u{2028}d"), 4);
        assert_eq!(js_source_lines("a\nb\n"), 2);
    }

    #[test]
    fn oversized_locals_and_values_are_refused() {
        let mut e = ev(Event::Call, 1, "<module>", 1);
        e.4 = Some(vec![("x".into(), "a".repeat(204))]);
        assert!(run(std::slice::from_ref(&e)).is_err());
        e.4 = Some(vec![("x".into(), "a".repeat(200) + "\u{2026}")]);
        assert!(run(std::slice::from_ref(&e)).is_ok());
        e.4 = Some(vec![(String::new(), "1".into())]);
        assert!(run(std::slice::from_ref(&e)).is_err());
        e.4 = Some((0..=MAX_LOCALS).map(|i| (format!("v{i}"), "1".into())).collect());
        assert!(run(std::slice::from_ref(&e)).is_err());
        let mut line = ev(Event::Line, 1, "<module>", 1);
        line.6 = Some("1".into());
        assert!(run(&[ev(Event::Call, 1, "<module>", 1), line]).is_err(), "a line event has no value");
    }

    #[test]
    fn a_summary_may_not_claim_host_statuses_or_lines_past_the_source() {
        let rules = Rules::new(Language::Python, SOURCE, 200);
        assert!(rules.summary(Status::Timeout, None).is_err());
        assert!(rules.summary(Status::Ok, None).is_ok());
        let error = |line| ErrorInfo { kind: "X".into(), message: String::new(), line };
        assert!(rules.summary(Status::Exception, Some(&error(Some(4_294_967_295)))).is_err());
        assert!(rules.summary(Status::Exception, Some(&error(Some(2)))).is_ok());
        assert!(rules.summary(Status::Exception, None).is_err());
    }
}
