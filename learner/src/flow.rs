//! Where control can go from a line, read off the source's indentation:
//! the candidates the line pointer chooses among. A branch line has two
//! (the body, or past it), a loop's last line goes back to its head, a call
//! may enter a `def`, a line in a `try` may jump to its handler. The model
//! still decides which candidate is taken (that needs the values); these
//! are hints added to the pointer's keys, and a wrong hint costs only
//! accuracy, never correctness.

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

/// One source line as the analysis sees it.
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

impl Line<'_> {
    fn blank(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }

    fn keyword(&self, word: &str) -> bool {
        self.text.strip_prefix(word).is_some_and(|rest| rest.starts_with([' ', ':', '(']))
    }

    /// `elif`, `else`, `except`, `finally`: a clause that continues the
    /// compound statement above it.
    fn clause(&self) -> bool {
        ["elif", "else", "except", "finally"].iter().any(|w| self.keyword(w))
    }

    fn looping(&self) -> bool {
        self.keyword("for") || self.keyword("while") || self.keyword("async for")
    }

    fn compound(&self) -> bool {
        self.text.ends_with(':') && !self.blank()
    }
}

/// Where control goes after a construct: a line, or out of the function
/// (a return) or the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Line(usize),
    Leave,
}

struct Program<'a> {
    lines: Vec<Line<'a>>,
}

impl<'a> Program<'a> {
    fn new(source: &'a str) -> Self {
        let lines = source
            .lines()
            .map(|l| {
                let text = l.trim();
                Line { indent: l.len() - l.trim_start().len(), text }
            })
            .collect();
        Program { lines }
    }

    /// The next non-blank line after `i`.
    fn following(&self, i: usize) -> Option<usize> {
        (i + 1..self.lines.len()).find(|&j| !self.lines[j].blank())
    }

    /// The header of the block line `i` is in.
    fn enclosing(&self, i: usize) -> Option<usize> {
        let d = self.lines[i].indent;
        (0..i).rev().find(|&j| !self.lines[j].blank() && self.lines[j].indent < d)
    }

    /// The `if`/`try`/`for` a clause line belongs to.
    fn chain_start(&self, i: usize) -> usize {
        let d = self.lines[i].indent;
        let mut h = i;
        while self.lines[h].clause() {
            match (0..h).rev().find(|&j| !self.lines[j].blank() && self.lines[j].indent <= d) {
                Some(j) if self.lines[j].indent == d => h = j,
                _ => break,
            }
        }
        h
    }

    /// The first line after the whole construct that starts at `i` (its
    /// body and, for a compound statement, its clauses), if it is at the
    /// same depth.
    fn sibling_after(&self, i: usize) -> Option<usize> {
        let d = self.lines[i].indent;
        let mut k = self.following(i)?;
        while self.lines[k].indent > d || (self.lines[k].indent == d && self.lines[k].clause()) {
            k = self.following(k)?;
        }
        (self.lines[k].indent == d).then_some(k)
    }

    /// Where control goes once the construct starting at `i` completes.
    fn exit(&self, i: usize) -> Exit {
        let start = self.chain_start(i);
        if let Some(k) = self.sibling_after(start) {
            return Exit::Line(k);
        }
        match self.enclosing(start) {
            None => Exit::Leave,
            Some(h) if self.lines[h].looping() => Exit::Line(h),
            Some(h) if self.lines[h].keyword("def") || self.lines[h].keyword("class") => Exit::Leave,
            Some(h) => self.exit(h),
        }
    }

    /// The first body line of a compound line.
    fn body(&self, i: usize) -> Option<usize> {
        self.following(i).filter(|&j| self.lines[j].indent > self.lines[i].indent)
    }

    /// Where a branch's false case goes: the next `elif`, the `else` body,
    /// or past the chain.
    fn not_taken(&self, i: usize) -> Exit {
        let d = self.lines[i].indent;
        let mut k = self.following(i);
        while let Some(j) = k.filter(|&j| self.lines[j].indent > d) {
            k = self.following(j);
        }
        match k {
            Some(j) if self.lines[j].indent == d && self.lines[j].keyword("elif") => Exit::Line(j),
            Some(j) if self.lines[j].indent == d && self.lines[j].keyword("else") => {
                self.body(j).map_or(self.exit(i), Exit::Line)
            }
            _ => self.exit(i),
        }
    }

    /// The flags of each line when control is at `current` (0-based), with
    /// the caller (if any) at `caller`.
    fn flags(&self, current: usize, caller: Option<usize>) -> Vec<i64> {
        let mut out = vec![0i64; self.lines.len()];
        let line = &self.lines[current];
        if line.keyword("if") || line.keyword("elif") || line.looping() {
            if let Some(b) = self.body(current) {
                out[b] |= TAKEN;
            }
            let past = if line.looping() { self.exit(current) } else { self.not_taken(current) };
            mark(&mut out, past, NOT_TAKEN);
        } else if line.compound() && !line.keyword("def") && !line.keyword("class") {
            // try, with, else, except, finally: straight into the body.
            if let Some(b) = self.body(current) {
                out[b] |= NEXT;
            }
        } else if line.keyword("return") || line.keyword("raise") {
            out[current] |= LEAVES;
        } else {
            match self.exit(current) {
                Exit::Leave if !line.keyword("def") && !line.keyword("class") => out[current] |= LEAVES,
                exit => mark(&mut out, exit, NEXT),
            }
        }
        for (name, j) in self.functions() {
            if calls(line.text, name) {
                out[j] |= CALLEE;
            }
        }
        for j in self.handlers(current) {
            out[j] |= HANDLER;
        }
        if let Some(c) = caller.filter(|&c| c < self.lines.len()) {
            mark(&mut out, self.exit(c), AFTER_RETURN);
        }
        out
    }

    /// Every `def name(` with its line.
    fn functions(&self) -> impl Iterator<Item = (&'a str, usize)> + '_ {
        self.lines.iter().enumerate().filter_map(|(j, l)| {
            let rest = l.text.strip_prefix("def ")?;
            Some((rest.split('(').next()?.trim(), j))
        })
    }

    /// The `except` lines of every `try` whose body holds line `i`.
    fn handlers(&self, i: usize) -> Vec<usize> {
        let mut out = vec![];
        let mut inner = i;
        while let Some(h) = self.enclosing(inner) {
            if self.lines[h].keyword("try") {
                let d = self.lines[h].indent;
                let mut k = self.following(h);
                while let Some(j) = k.filter(|&j| self.lines[j].indent >= d) {
                    if self.lines[j].indent == d {
                        if !self.lines[j].clause() {
                            break;
                        }
                        if self.lines[j].keyword("except") {
                            out.push(j);
                        }
                    }
                    k = self.following(j);
                }
            }
            inner = h;
        }
        out
    }
}

/// Sets `flag` on the line an exit goes to (none when it leaves).
fn mark(out: &mut [i64], exit: Exit, flag: i64) {
    if let Exit::Line(j) = exit {
        out[j] |= flag;
    }
}

/// Whether `text` calls `name` (as `name(`, not as part of a longer name).
fn calls(text: &str, name: &str) -> bool {
    !name.is_empty()
        && text.match_indices(name).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = &text[at + name.len()..];
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
                && after.trim_start().starts_with('(')
                && !text.starts_with("def ")
        })
}

/// Per source line, the flow flags (see the constants) when control is at
/// 1-based line `current`, called from 1-based line `caller`. All zero
/// when `current` is not a line of the source.
pub fn line_flags(source: &str, current: u32, caller: Option<u32>) -> Vec<i64> {
    let program = Program::new(source);
    let n = program.lines.len();
    match (current as usize).checked_sub(1).filter(|&c| c < n) {
        Some(c) => program.flags(c, caller.and_then(|l| (l as usize).checked_sub(1))),
        None => vec![0; n],
    }
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
        assert_eq!(with(src, 1, None, NEXT), [5], "a def line skips its body");
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
    fn lines_in_a_try_point_at_its_handlers() {
        let src = "try:\n    v = 1 // 0\nexcept ZeroDivisionError:\n    v = -1\nprint(v)\n";
        assert_eq!(with(src, 1, None, NEXT), [2]);
        assert_eq!(with(src, 2, None, HANDLER), [3]);
        assert_eq!(with(src, 2, None, NEXT), [5]);
        assert!(with(src, 5, None, HANDLER).is_empty());
        assert_eq!(with(src, 4, None, NEXT), [5]);
    }

    #[test]
    fn lines_outside_the_source_have_no_flags() {
        assert_eq!(line_flags("x = 1\n", 0, None), [0]);
        assert_eq!(line_flags("x = 1\n", 9, Some(3)), [0]);
        assert!(line_flags("", 1, None).is_empty());
    }
}
