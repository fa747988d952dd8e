//! The target the delta head writes: what changes from one state to a
//! later one, as one-line records of bytes, and how it moves a state.

use curio_trace::Event;

use super::state::{Frame, State, tail};

/// What changes from one state to a later one.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Delta {
    /// The target frame when it is not the current one: (function, depth).
    pub frame: Option<(String, u32)>,
    /// Variables added or changed, in the target's order.
    pub set: Vec<(String, String)>,
    /// Variables the target no longer has.
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

/// Whether writing `next` after `at` is one of the delta's decisions: the
/// byte that opens the delta or one of its lines (what comes next: a value
/// set, a frame, a removal, output, or nothing more), the first byte of a
/// value (after its `=`, where copying, deriving and computing part ways),
/// or the newline that ends a line (where a number or a copy stops: `17`
/// cut to `1`, `0` run on to `0=`). `opens` is true for the delta's first
/// byte. Collation labels these ([`crate::Targets::decisions`]) so that the
/// loss weighs them without knowing the delta's format.
pub fn decides(opens: bool, at: i64, next: i64) -> bool {
    opens || at == i64::from(b'\n') || at == i64::from(b'=') || next == i64::from(b'\n')
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
pub(super) fn escape(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// The inverse of [`escape`]; a lone trailing backslash stays as it is.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::state::fixtures::trace;
    use crate::encode::state::states;

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
    fn malformed_predictions_are_errors_not_panics() {
        for bad in [&b"?x\n"[..], b"+novalue\n", b"@nodepth\n", b"+k=\xff\n"] {
            assert!(parse_delta(bad).is_err(), "{bad:?}");
        }
    }
}
