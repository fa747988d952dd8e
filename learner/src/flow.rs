//! Where control can go from a line, from the parser's facts
//! ([`crate::facts`]): the candidates the line pointer chooses among. A branch line has two
//! (the body, or past it), a loop's last line goes back to its head, a call
//! may enter a `def`, a line in a `try` may jump to its handler. The model
//! still decides which candidate is taken (that needs the values); these
//! are hints added to the pointer's keys, and a wrong hint costs only
//! accuracy, never correctness.

use curio_trace::Language;

use crate::facts::{Exit, Facts, Leaving};

/// Fall-through: where the line goes when it completes normally.
pub const NEXT: i64 = 1;
/// A branch or loop line's first body line (condition true, loop goes on).
pub const TAKEN: i64 = 2;
/// A branch or loop line's way past its body (condition false, loop done).
pub const NOT_TAKEN: i64 = 4;
/// The `def` of a function the line calls.
pub const CALLEE: i64 = 8;
/// An `except` of a `try` the line is in.
pub const HANDLER: i64 = 16;
/// Where the caller goes once the current call returns.
pub const AFTER_RETURN: i64 = 32;
/// On the current line: it leaves its function or the module once it
/// completes (a `return`, a `raise`, the last line of a body).
pub const LEAVES: i64 = 64;
/// Rows of the flow embedding: every combination of the flags.
pub const FLOW_VOCAB: i64 = 128;

/// Per source line of the Python program `source`, the flow flags (see the
/// constants) when control is at 1-based line `current`, called from
/// 1-based line `caller`. All zero when `current` is not a line of the
/// source.
pub fn line_flags(source: &str, current: u32, caller: Option<u32>) -> Vec<i64> {
    line_flags_in(Language::Python, source, current, caller)
}

/// [`line_flags`] of a program in `language`.
pub fn line_flags_in(language: Language, source: &str, current: u32, caller: Option<u32>) -> Vec<i64> {
    let facts = Facts::of_in(language, source);
    let n = facts.lines.len();
    let mut out = vec![0i64; n];
    let Some(c) = (current as usize).checked_sub(1).filter(|&c| c < n) else { return out };
    let mut mark = |exit: Exit, flag: i64| {
        if let Exit::Line(j) = exit
            && j < n
        {
            out[j] |= flag;
        }
    };
    if let Some(line) = &facts.lines[c] {
        for leaving in std::iter::once(line.leaving).chain(line.also) {
            match leaving {
                Leaving::Branch { taken, not_taken } => {
                    if let Some(b) = taken {
                        mark(Exit::Line(b), TAKEN);
                    }
                    mark(not_taken, NOT_TAKEN);
                }
                Leaving::Enter { body: Some(b) } => mark(Exit::Line(b), NEXT),
                Leaving::Enter { body: None } => {}
                Leaving::Returns | Leaving::Next { to: Exit::Leave, binds: false } => mark(Exit::Line(c), LEAVES),
                Leaving::Next { to, .. } => mark(to, NEXT),
            }
        }
        for &case in &line.cases {
            mark(Exit::Line(case), TAKEN);
        }
        for &h in &line.handlers {
            mark(Exit::Line(h), HANDLER);
        }
    }
    // Where a call reported on this line goes in.
    for &first in facts.entries.get(c).map_or(&[][..], Vec::as_slice) {
        mark(Exit::Line(first), TAKEN);
    }
    for &def in &facts.calls[c] {
        mark(Exit::Line(def), CALLEE);
    }
    if let Some(after) = caller.and_then(|l| (l as usize).checked_sub(1)).and_then(|l| facts.lines.get(l)?.as_ref()) {
        mark(after.after, AFTER_RETURN);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines (1-based) that carry `flag`.
    fn with(source: &str, current: u32, caller: Option<u32>, flag: i64) -> Vec<usize> {
        line_flags(source, current, caller)
            .iter()
            .enumerate()
            .filter(|(_, f)| *f & flag != 0)
            .map(|(j, _)| j + 1)
            .collect()
    }

    const LOOPS: &str = "\
total = 0
for i in range(3):
    if i % 2:
        total += i
    else:
        total -= 1
    print(i)
print(total)
";

    #[test]
    fn straight_lines_fall_through_and_a_body_end_goes_back_to_its_loop() {
        assert_eq!(with(LOOPS, 1, None, NEXT), [2]);
        assert_eq!(with(LOOPS, 7, None, NEXT), [2], "last line of the loop body");
        assert_eq!(with(LOOPS, 4, None, NEXT), [7], "the end of an if body skips the else");
        assert_eq!(with(LOOPS, 6, None, NEXT), [7]);
        assert!(with(LOOPS, 8, None, NEXT).is_empty(), "the module's last line leaves");
    }

    #[test]
    fn branches_and_loops_have_a_taken_and_a_not_taken_line() {
        assert_eq!((with(LOOPS, 2, None, TAKEN), with(LOOPS, 2, None, NOT_TAKEN)), (vec![3], vec![8]));
        assert_eq!((with(LOOPS, 3, None, TAKEN), with(LOOPS, 3, None, NOT_TAKEN)), (vec![4], vec![6]));
        let elif = "if a:\n    x = 1\nelif b:\n    x = 2\nx += 1\n";
        assert_eq!(with(elif, 1, None, NOT_TAKEN), [3]);
        assert_eq!(with(elif, 3, None, NOT_TAKEN), [5]);
        assert_eq!(with(elif, 2, None, NEXT), [5]);
    }

    #[test]
    fn calls_point_at_their_def_and_returns_at_the_caller_s_next_line() {
        let src = "def fact(n):\n    if n <= 1:\n        return 1\n    return n * fact(n - 1)\nx = fact(3)\nprint(x)\n";
        assert_eq!(with(src, 1, None, NEXT), [5], "defined, a def line skips its body");
        assert_eq!(with(src, 1, None, TAKEN), [2], "called, it goes into it");
        // As CPython 3.14 reports it: a call of `f` goes from line 1 to line
        // 4, past the docstring; `g`'s, a docstring alone, runs line 5.
        let doc =
            "def f(x):\n    \"\"\"Doc\n    more.\"\"\"\n    return x\ndef g():\n    'Only a doc.'\nprint(f(1), g())\n";
        assert_eq!(with(doc, 1, None, TAKEN), [4]);
        assert!(with(doc, 5, None, TAKEN).is_empty());
        assert_eq!(with(doc, 5, None, NEXT), [7]);
        // HumanEval's programs start with blank lines: the module, called at
        // line 1, goes into its first statement.
        assert_eq!(with("\n# a comment\nx = 1\n", 1, None, TAKEN), [3]);
        assert!(with("\n# a comment\nx = 1\n", 2, None, TAKEN).is_empty());
        // A lambda or a generator expression is called on its own line and
        // runs it (its body's line, where that is another).
        let inline = "xs = [3, 1]\nys = sorted(xs, key=lambda x: -x)\nn = sum(x for x in xs)\nz = 1\n";
        assert_eq!(with(inline, 2, None, TAKEN), [2]);
        assert_eq!(with(inline, 3, None, TAKEN), [3]);
        assert!(with(inline, 4, None, TAKEN).is_empty());
        let split = "f = (lambda x:\n    x + 1)\n";
        assert_eq!(with(split, 1, None, TAKEN), [2]);
        assert_eq!(with(src, 5, None, CALLEE), [1]);
        assert_eq!(with(src, 4, None, CALLEE), [1], "recursion");
        assert!(with(src, 6, None, CALLEE).is_empty());
        assert!(with(src, 4, None, NEXT).is_empty(), "return leaves");
        assert_eq!(with(src, 4, None, LEAVES), [4]);
        assert_eq!(with(src, 6, None, LEAVES), [6], "the module's last line");
        assert!(with(src, 5, None, LEAVES).is_empty());
        assert_eq!(with(src, 3, Some(5), AFTER_RETURN), [6]);
        assert!(with(src, 3, Some(4), AFTER_RETURN).is_empty(), "back into a line that returns itself");
    }

    #[test]
    fn a_branch_with_its_body_on_its_line_goes_where_the_body_goes() {
        // CPython reports no line event for the body: `continue` goes from
        // line 2 straight to the loop's head, `return` leaves from line 3.
        let src = "for k in range(3):\n    if k == 1: continue\n    if k == 2: return_ = 0; break\n    x = k\n";
        assert_eq!(with(src, 2, None, TAKEN), [1], "taken, to the loop's head, as in Lua and JavaScript");
        assert_eq!(with(src, 2, None, NOT_TAKEN), [3]);
        assert!(with(src, 3, None, NEXT).is_empty(), "`break` goes past the loop: the module's end");
        assert_eq!(with(src, 3, None, LEAVES), [3]);
        let leaves = "def f(x):\n    if x: return 1\n    return 2\n";
        assert_eq!(with(leaves, 2, None, LEAVES), [2]);
        assert_eq!(with(leaves, 2, None, NOT_TAKEN), [3]);
    }

    #[test]
    fn lines_in_a_try_point_at_its_handlers() {
        let src = "try:\n    v = 1 // 0\nexcept ZeroDivisionError:\n    v = -1\nprint(v)\n";
        assert_eq!(with(src, 1, None, NEXT), [2]);
        assert_eq!(with(src, 2, None, HANDLER), [3]);
        assert_eq!(with(src, 2, None, NEXT), [5]);
        assert!(with(src, 5, None, HANDLER).is_empty());
        assert_eq!(with(src, 4, None, NEXT), [5]);
    }

    #[test]
    fn break_leaves_its_loop_and_continue_goes_back_to_its_head() {
        let src = "\
i = 0
while i < 9:
    i += 1
    if i % 2:
        continue
    if i > 6:
        break
    print(i)
else:
    print('done')
print(i)
";
        assert_eq!(with(src, 5, None, NEXT), [2], "continue");
        assert_eq!(with(src, 7, None, NEXT), [11], "break skips the loop's else");
        assert_eq!((with(src, 2, None, TAKEN), with(src, 2, None, NOT_TAKEN)), (vec![3], vec![10]), "else");
        assert_eq!(with(src, 8, None, NEXT), [2]);
        assert_eq!(with(src, 10, None, NEXT), [11]);
    }

    #[test]
    fn a_return_or_a_jump_out_of_a_try_runs_its_finally_first() {
        // As CPython reports it: `return x` on line 4 goes to line 7, the
        // `break` on line 13 to line 16.
        let src = "\
def f(x):
    try:
        if x > 1:
            return x
        x += 1
    finally:
        x += 10
    return x
s = f(3)
for i in range(3):
    try:
        if i == 1:
            break
        s += i
    finally:
        s += 100
    for j in range(2):
        continue
print(s)
";
        assert_eq!(with(src, 4, None, NEXT), [7]);
        assert!(with(src, 4, None, LEAVES).is_empty(), "the return leaves from the finally, not its own line");
        assert_eq!(with(src, 8, None, LEAVES), [8], "a return outside the try leaves as before");
        assert_eq!(with(src, 13, None, NEXT), [16]);
        assert_eq!(with(src, 18, None, NEXT), [17], "a loop inside no try jumps straight to its head");
        let nested = "\
def g(xs):
    for x in xs:
        try:
            for y in xs:
                break
            if x:
                continue
        except ValueError:
            return 0
        else:
            return 1
        finally:
            x = 0
";
        assert_eq!(with(nested, 5, None, NEXT), [6], "a break in a loop inside the try stays in it");
        assert_eq!(with(nested, 7, None, NEXT), [13], "a continue out of the try");
        assert_eq!(with(nested, 9, None, NEXT), [13], "a return in a handler");
        assert_eq!(with(nested, 11, None, NEXT), [13], "a return in the else");
    }

    #[test]
    fn try_else_and_finally_and_statements_over_several_lines() {
        let src = "\
try:
    v = int(
        '7',
    )
except ValueError:
    v = 0
else:
    v += 1
finally:
    print(v)
total = sum([
    v, 2])
";
        assert_eq!(with(src, 2, None, NEXT), [8], "the body's end goes to else");
        assert_eq!(with(src, 2, None, HANDLER), [5]);
        assert_eq!(with(src, 3, None, NEXT), [8], "a continuation line is its statement's");
        assert_eq!(with(src, 6, None, NEXT), [10], "a handler's end goes to finally");
        assert_eq!(with(src, 8, None, NEXT), [10]);
        assert_eq!(with(src, 10, None, NEXT), [11]);
        assert_eq!(with(src, 12, None, LEAVES), [12]);
        assert!(with(src, 8, None, HANDLER).is_empty(), "else is outside the try's body");
        let one_line = "for i in range(3):\n    i += 1; continue\n    x = (1,\n    2); y = 3\nprint(i)\n";
        assert_eq!(with(one_line, 2, None, NEXT), [1], "the line's last statement decides");
        assert_eq!(with(one_line, 3, None, NEXT), [4]);
        assert_eq!(with(one_line, 4, None, NEXT), [1], "not back to itself");
    }

    #[test]
    fn a_program_that_does_not_parse_still_has_flags_where_it_reads() {
        let src = "x = (1,\nfor i in range(3):\n    x = i\nprint(x)\n";
        let flags = line_flags(src, 4, None);
        assert_eq!(flags.len(), 4);
        assert_eq!(with(src, 4, None, LEAVES), [4]);
    }

    #[test]
    fn a_program_nested_as_deep_as_its_length_allows_is_read_on_a_small_stack() {
        let deep = [format!("x = {}1\nprint(x)\n", "-".repeat(60_000)), format!("x = {}1\n", "1 + ".repeat(20_000))];
        // A blocking task's stack: 2 MiB.
        let flags = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || deep.iter().map(|src| line_flags(src, 1, None)).collect::<Vec<_>>())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(flags[0], [0, NEXT]);
        assert_eq!(flags[1], [LEAVES]);
    }

    #[test]
    fn lua_and_javascript_nested_as_deep_as_their_length_allows_are_read_on_a_small_stack() {
        let n = 2_000;
        let deep = [
            (Language::Lua, format!("local x = {}1{}\nprint(x)\n", "(".repeat(n), ")".repeat(n))),
            (Language::Lua, format!("local t = {}{}\nprint(t)\n", "{".repeat(n), "}".repeat(n))),
            (Language::Lua, format!("local x = {}1\nprint(x)\n", "- ".repeat(n))),
            (Language::Lua, format!("local x = {}1\nprint(x)\n", "~".repeat(16_000))),
            (Language::Lua, format!("local s = {}'a'\nprint(s)\n", "'a'..".repeat(n))),
            (Language::Lua, format!("{}y = 1 {}\nprint(1)\n", "do ".repeat(n), "end ".repeat(n))),
            (Language::Js, format!("let x = {}1{};\nconsole.log(x);\n", "(".repeat(n), ")".repeat(n))),
            (Language::Js, format!("let a = {}{};\nconsole.log(a);\n", "[".repeat(n), "]".repeat(n))),
            (Language::Js, format!("let f = {}1;\nconsole.log(f);\n", "a => ".repeat(n))),
            (Language::Js, format!("let b = {}1;\nconsole.log(b);\n", "!".repeat(16_000))),
            (Language::Js, format!("{}y = 1; {}\nconsole.log(1);\n", "{ ".repeat(n), "} ".repeat(n))),
            // Longer than any the model reads: not parsed.
            (Language::Js, format!("let x = {}1{};\nconsole.log(x);\n", "(".repeat(20_000), ")".repeat(20_000))),
        ];
        // A blocking task's stack: 2 MiB.
        let flags = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || deep.iter().map(|(l, src)| line_flags_in(*l, src, 1, None)).collect::<Vec<_>>())
            .unwrap()
            .join()
            .unwrap();
        for (i, f) in flags[..11].iter().enumerate() {
            assert_eq!(f.len(), 2);
            assert_ne!(f[1] & NEXT, 0, "{i}: read whole: {f:?}");
        }
        assert_eq!(flags[11], [0, 0], "too long to read");
    }

    #[test]
    fn lines_outside_the_source_have_no_flags() {
        assert_eq!(line_flags("x = 1\n", 0, None), [0]);
        assert_eq!(line_flags("x = 1\n", 9, Some(3)), [0]);
        assert!(line_flags("", 1, None).is_empty());
    }
}
