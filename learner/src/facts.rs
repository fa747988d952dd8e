//! Facts about a program, read once from a real parser rather than guessed
//! from its text (Ruff's for Python, full_moon's for Lua, oxc's for
//! JavaScript): for each line, how control leaves it (a branch's body or the
//! way past it, a loop's head, a `break`'s way out of its loop, a handler of
//! the `try` it is in, the functions it calls), whether it compares, and,
//! in Python, the names of its frame it reads and writes. [`crate::flow`]
//! turns them into the pointer's hints, the encoder writes values in place
//! of the names ([`crate::encode::with_values`]). Each language's lines are
//! the lines its guest reports: [`python`], and [`lua`] and [`js`] for where
//! theirs differ from Python's.
//!
//! The parser recovers from errors, so a program that does not parse still
//! has facts for the statements it could read; a fact about a broken line
//! may be wrong, and a wrong hint costs accuracy, never correctness.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use curio_trace::Language;

mod js;
mod lua;
mod names;
mod python;
pub(crate) use names::{Named, Use};

/// Where control goes: a line (0-based), or out of the function or module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    Line(usize),
    Leave,
}

/// How control leaves a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leaving {
    /// An `if`, `elif`, `for`, `while` or `case` line: into its body, or
    /// past it (the next clause, the loop's `else`, or what follows).
    Branch { taken: Option<usize>, not_taken: Exit },
    /// `try`, `with`, `match`, `else`, `except`: straight into the body.
    Enter { body: Option<usize> },
    /// `return`, `raise`: out of the function.
    Returns,
    /// Any other line, when it completes: what follows it in its block, or
    /// for the block's last line what follows the block (a loop's head, a
    /// `try`'s `finally`); `continue` goes to its loop's head and `break`
    /// past its loop. `binds` for `def` and `class` lines, which only bind
    /// a name.
    Next { to: Exit, binds: bool },
}

/// The facts of one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub leaving: Leaving,
    /// Where control goes once the statement that starts here, clauses and
    /// all, completes: where a call made on this line comes back to.
    pub after: Exit,
    /// The `except` lines of every `try` whose body holds this line.
    pub handlers: Vec<usize>,
    /// How control leaves the line as well, in Lua and JavaScript, where a
    /// line holds two simple statements of different frames (`f = function()
    /// return 1 end`, `xs.map((x) => x + 1)`): the one that did not decide;
    /// and `Returns` for a branch whose body, on the branch's own line,
    /// leaves (`if x then return 1 end`, `if x: return 1`).
    pub also: Option<Leaving>,
    /// More lines a branch may go into, beside `taken`: the other cases of
    /// a JavaScript `switch` (the first is `taken`, `default` `not_taken`).
    pub cases: Vec<usize>,
}

/// What the parser says about one program.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    /// Per source line (`str::lines`), the facts of the statement that
    /// starts there or runs on over it; `None` for blank lines.
    pub lines: Vec<Option<Line>>,
    /// Per source line, the `def` lines of the functions it calls by name.
    pub calls: Vec<Vec<usize>>,
    /// Per source line, whether the statement that starts there evaluates a
    /// comparison (`<`, `==`, `in`, `is`, …) in its own text (a compound
    /// statement's header; not its body).
    pub compares: Vec<bool>,
    /// Per source line, the first line a call reported on it runs (the
    /// body's of a function, a lambda or a generator expression that opens
    /// there), and on line 1 the module's first.
    pub entries: Vec<Vec<usize>>,
    /// Per source line, the names of the frame it uses ([`Named`]), in
    /// order; a line inside a string or a comment has none (and so has
    /// every line of a program in another language than Python).
    names: Vec<Vec<Named>>,
}

/// The lines of a Lua or JavaScript program as its reader records them.
/// Where a branch's body starts on the branch's own line (`if x then break
/// end`, `if (x) continue;`), the guest reports no line of its own for the
/// body: the branch, taken, goes where that body goes.
#[derive(Default)]
struct Recorded {
    lines: Vec<Option<Line>>,
    /// Per line, how the first statement a branch's header kept off that
    /// line leaves it.
    shadowed: Vec<Option<Leaving>>,
    /// [`Facts::entries`].
    entries: Vec<Vec<usize>>,
}

impl Recorded {
    fn new(lines: usize) -> Self {
        Recorded { lines: vec![None; lines], shadowed: vec![None; lines], entries: vec![vec![]; lines] }
    }

    /// A call reported on `line` runs `first` first.
    fn enter(&mut self, line: usize, first: usize) {
        enter(&mut self.entries, line, first);
    }

    /// Records `line`'s facts unless a statement that starts before it on
    /// that line already has; of simple statements that share a line, the
    /// last decides, as in Python's facts, and the one before is kept as
    /// [`Line::also`] (where a call made on the line comes back to stays
    /// the enclosing statement's when the last is a function's `return`).
    fn record(&mut self, line: usize, leaving: Leaving, after: Exit, handlers: &[usize]) {
        let Some(slot) = self.lines.get_mut(line) else { return };
        match slot {
            Some(old) if simple(&old.leaving) && simple(&leaving) => {
                if old.leaving != leaving {
                    old.also = Some(old.leaving);
                }
                let after = if leaving == Leaving::Returns { old.after } else { after };
                *old = Line { leaving, after, handlers: handlers.to_vec(), also: old.also, cases: vec![] };
            }
            Some(old) => shadow(&mut self.shadowed, old, line, leaving),
            None => *slot = Some(Line { leaving, after, handlers: handlers.to_vec(), also: None, cases: vec![] }),
        }
    }

    /// Gives the branch recorded on `line` the further `cases` it may go
    /// into (not those it already names). Where a branch before the
    /// `switch` on its line recorded it (`if (a) b(); switch (k) {`), the
    /// cases go to that one: they are still where control may go from the
    /// line.
    fn cases(&mut self, line: usize, cases: impl IntoIterator<Item = usize>) {
        if let Some(Some(Line { leaving: Leaving::Branch { taken, not_taken }, cases: slot, .. })) =
            self.lines.get_mut(line)
        {
            for case in cases {
                if Some(case) != *taken && Exit::Line(case) != *not_taken && !slot.contains(&case) {
                    slot.push(case);
                }
            }
        }
    }

    /// The lines, each branch whose body starts on its own line taken to
    /// where that body goes, or, where the body leaves its function, marked
    /// as leaving too.
    fn lines(self) -> Vec<Option<Line>> {
        unshadow(self.lines, self.shadowed)
    }
}

/// Keeps in `shadowed` how `leaving`, a statement on `line` after the one
/// recorded there (`old`), leaves it, where `old` is a branch whose body
/// starts on its own line: the body's last simple statement decides where
/// the branch, taken, goes.
fn shadow(shadowed: &mut [Option<Leaving>], old: &Line, line: usize, leaving: Leaving) {
    if let Leaving::Branch { taken: Some(t), .. } = old.leaving
        && t == line
        && (simple(&leaving) || shadowed[line].is_none())
    {
        shadowed[line] = Some(leaving);
    }
}

/// `lines`, each branch whose body starts on its own line taken to where
/// that body goes (`shadowed`, by [`shadow`]), or, where the body leaves
/// its function, marked as leaving too.
fn unshadow(mut lines: Vec<Option<Line>>, shadowed: Vec<Option<Leaving>>) -> Vec<Option<Line>> {
    for (line, shadowed) in shadowed.into_iter().enumerate() {
        if let (Some(Some(Line { leaving: Leaving::Branch { taken, .. }, also, .. })), Some(body)) =
            (lines.get_mut(line), shadowed)
        {
            *taken = match body {
                Leaving::Next { to: Exit::Line(to), .. } => Some(to),
                Leaving::Branch { taken, .. } | Leaving::Enter { body: taken } => taken,
                Leaving::Returns | Leaving::Next { to: Exit::Leave, .. } => {
                    *also = Some(Leaving::Returns);
                    None
                }
            };
        }
    }
    lines
}

/// Per line of a program of `lines` lines, the lines where the functions
/// called on it by name (`calls`: line, name) begin (`defs`: name, line).
fn called(calls: &[(usize, String)], defs: &[(String, usize)], lines: usize) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]; lines];
    for (line, name) in calls {
        if let Some(slot) = out.get_mut(*line) {
            slot.extend(defs.iter().filter(|(def, _)| def == name).map(|(_, at)| *at));
        }
    }
    out
}

/// Notes in [`Facts::entries`] that a call reported on `line` runs `first`
/// first.
fn enter(entries: &mut [Vec<usize>], line: usize, first: usize) {
    if let Some(slot) = entries.get_mut(line)
        && !slot.contains(&first)
    {
        slot.push(first);
    }
}

/// A statement that only goes on (or leaves): of several on one line, the
/// last decides.
fn simple(leaving: &Leaving) -> bool {
    matches!(leaving, Leaving::Returns | Leaving::Next { binds: false, .. })
}

/// Programs whose facts each thread keeps.
const KEPT: usize = 64;

/// The longest Lua or JavaScript program whose facts are read, in bytes:
/// beyond what the model's window reads.
const OTHER_LONGEST: usize = 16 << 10;

/// Stack for reading a Lua or JavaScript program, per byte of it: a level
/// of nesting takes a byte or two of source and a few KiB of their parsers'
/// stack.
const OTHER_STACK_PER_BYTE: usize = 16 << 10;

thread_local! {
    /// The facts of the last programs read: examples come a program at a
    /// time, or a few programs in turn (a rollout's rows, a round's
    /// candidates), so each is parsed once rather than once per example.
    static KEPT_FACTS: RefCell<VecDeque<(Language, String, Rc<Facts>)>> = const { RefCell::new(VecDeque::new()) };
}

impl Facts {
    /// The facts of the Python program `source`.
    pub fn of(source: &str) -> Rc<Facts> {
        Facts::of_in(Language::Python, source)
    }

    /// The facts of `source` in `language`, parsed once while it stays
    /// among the last [`KEPT`] programs read on this thread.
    pub fn of_in(language: Language, source: &str) -> Rc<Facts> {
        KEPT_FACTS.with(|kept| {
            let mut kept = kept.borrow_mut();
            if let Some((_, _, facts)) = kept.iter().find(|(l, s, _)| *l == language && s == source) {
                return facts.clone();
            }
            // The parser grows its own stack; the walk over the tree and
            // its drop recurse as deep as it nests, and a program's nesting
            // is bounded by its length (`x = ----…1`, `1+1+…+1`).
            let lines = source.lines().count();
            // full_moon and oxc recurse deeper per level of nesting (several
            // KiB of stack for one parenthesis), so they get more stack a
            // byte, and a program longer than any the model reads is not
            // parsed at all. full_moon's lexer panics on a few inputs (a
            // stray backtick): a program it cannot read has no facts, and
            // no one's request fails for it.
            let other = |parse: fn(&str, usize) -> Facts| {
                if source.len() > OTHER_LONGEST {
                    return Facts::none(lines);
                }
                stacker::grow((source.len() * OTHER_STACK_PER_BYTE).max(1 << 20), || {
                    std::panic::catch_unwind(|| parse(source, lines)).unwrap_or_else(|_| Facts::none(lines))
                })
            };
            let facts = Rc::new(match language {
                Language::Python => stacker::grow((source.len() * 1024).max(1 << 20), || python::parse(source)),
                Language::Lua => other(lua::parse),
                Language::Js => other(js::parse),
            });
            if kept.len() == KEPT {
                kept.pop_front();
            }
            kept.push_back((language, source.to_string(), facts.clone()));
            facts
        })
    }

    /// No facts about a program of `lines` lines.
    fn none(lines: usize) -> Facts {
        Facts {
            lines: vec![None; lines],
            calls: vec![vec![]; lines],
            compares: vec![false; lines],
            entries: vec![],
            names: vec![],
        }
    }

    /// The names of its frame 0-based `line` uses; none past the end.
    pub fn names(&self, line: usize) -> &[Named] {
        self.names.get(line).map_or(&[], Vec::as_slice)
    }
}

/// Per source line (0-based), whether the statement that starts there
/// evaluates a comparison (`<`, `==`, `!=`, `in`, `is`, …; as the parser
/// reads it, so nothing in a string or comment counts): a branch's or a
/// loop's condition, or a bool assigned. These decide which line runs next
/// and the values the rest of a run turns on, and the model must do their
/// arithmetic in its head: they are most of its wrong actions.
pub fn comparisons(language: Language, source: &str) -> Vec<bool> {
    Facts::of_in(language, source).compares.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_are_conditions_and_bools_not_assignments_or_strings() {
        let source = "\
n = int(input() or 3)
if n * 2 < 7 // 2:
    b = n == 4
x += 1
c = n != 2 and n >= 1
s = '<' + \"a == b\"
while n > 0:  # n <= 0 ends it
def f(a) -> int:
# x < y
";
        let got = comparisons(Language::Python, source);
        assert_eq!(got, [false, true, true, false, true, false, true, false, false]);
    }
}
