//! Facts about a program, read once from a real parser rather than guessed
//! from its text (Ruff's for Python, full_moon's for Lua, oxc's for
//! JavaScript): for each line, how control leaves it (a branch's body or the
//! way past it, a loop's head, a `break`'s way out of its loop, a handler of
//! the `try` it is in, the functions it calls), whether it compares, and,
//! in Python, the names of its frame it reads and writes. [`crate::flow`]
//! turns them into the pointer's hints, the encoder writes values in place
//! of the names ([`crate::encode::with_values`]). Each language's lines are
//! the lines its guest reports: see [`lua`] and [`js`] for where they differ
//! from Python's.
//!
//! The parser recovers from errors, so a program that does not parse still
//! has facts for the statements it could read; a fact about a broken line
//! may be wrong, and a wrong hint costs accuracy, never correctness.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use curio_trace::Language;
use ruff_python_ast::visitor::{Visitor, walk_expr};
use ruff_python_ast::{ExceptHandler, Expr, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions, parse_unchecked};
use ruff_text_size::{Ranged, TextSize};

mod js;
mod lua;
mod names;
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
    /// return 1 end`, `xs.map((x) => x + 1)`): the one that did not decide.
    pub also: Option<Leaving>,
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
}

impl Recorded {
    fn new(lines: usize) -> Self {
        Recorded { lines: vec![None; lines], shadowed: vec![None; lines] }
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
                *old = Line { leaving, after, handlers: handlers.to_vec(), also: old.also };
            }
            Some(old) => {
                // A branch's body on the branch's own line: its last
                // simple statement decides where the branch, taken, goes.
                if let Leaving::Branch { taken: Some(t), .. } = old.leaving
                    && t == line
                    && (simple(&leaving) || self.shadowed[line].is_none())
                {
                    self.shadowed[line] = Some(leaving);
                }
            }
            None => *slot = Some(Line { leaving, after, handlers: handlers.to_vec(), also: None }),
        }
    }

    /// The lines, each branch whose body starts on its own line taken to
    /// where that body goes, or, where the body leaves its function, marked
    /// as leaving too.
    fn lines(self) -> Vec<Option<Line>> {
        let mut lines = self.lines;
        for (line, shadowed) in self.shadowed.into_iter().enumerate() {
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
                Language::Python => stacker::grow((source.len() * 1024).max(1 << 20), || Facts::parse(source)),
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

    fn parse(source: &str) -> Facts {
        let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY314);
        let Some(parsed) = parse_unchecked(source, options).try_into_module() else {
            return Facts::default();
        };
        let n = source.lines().count();
        let starts: Vec<usize> = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let names = names::names(parsed.suite(), &starts, n);
        let mut reader = Reader { starts, lines: vec![None; n], defs: vec![], calls: vec![], compares: vec![false; n] };
        reader.suite(parsed.suite(), Exit::Leave, &Scope::default());
        let calls = called(&reader.calls, &reader.defs, n);
        Facts { lines: reader.lines, calls, compares: reader.compares, names }
    }

    /// No facts about a program of `lines` lines.
    fn none(lines: usize) -> Facts {
        Facts { lines: vec![None; lines], calls: vec![vec![]; lines], compares: vec![false; lines], names: vec![] }
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

/// What a block's lines know of the statements around them.
#[derive(Clone, Debug, Default)]
struct Scope {
    /// The innermost loop: its head, and where a `break` goes.
    looping: Option<(usize, Exit)>,
    /// The handlers of the `try`s whose bodies hold the block.
    handlers: Vec<usize>,
}

struct Reader {
    /// Byte offset of each line's start.
    starts: Vec<usize>,
    lines: Vec<Option<Line>>,
    /// Every `def`'s name and line.
    defs: Vec<(String, usize)>,
    /// Every call by name: its line and the name.
    calls: Vec<(usize, String)>,
    compares: Vec<bool>,
}

impl Reader {
    fn line(&self, at: TextSize) -> usize {
        self.starts.partition_point(|&s| s <= at.to_usize()) - 1
    }

    fn first(&self, body: &[Stmt]) -> Option<usize> {
        body.first().map(|s| self.line(s.start()))
    }

    /// Where control goes into `body`, or to `otherwise` when it is empty.
    fn entry(&self, body: &[Stmt], otherwise: Exit) -> Exit {
        self.first(body).map_or(otherwise, Exit::Line)
    }

    /// Records `line`'s facts unless a statement that starts before it on
    /// that line (`if x: y = 1`) already has; but of simple statements
    /// that share a line (`i += 1; continue`, or one that ends where the
    /// next starts), the last decides where control goes.
    fn record(&mut self, line: usize, leaving: Leaving, after: Exit, scope: &Scope) {
        if let Some(slot) = self.lines.get_mut(line)
            && slot.as_ref().is_none_or(|old| simple(&old.leaving) && simple(&leaving))
        {
            *slot = Some(Line { leaving, after, handlers: scope.handlers.clone(), also: None });
        }
    }

    /// A block whose last statement goes to `after` when it completes.
    fn suite(&mut self, body: &[Stmt], after: Exit, scope: &Scope) {
        for (k, stmt) in body.iter().enumerate() {
            let line = self.line(stmt.start());
            // What follows is the next statement on a later line.
            let next = body[k + 1..].iter().map(|s| self.line(s.start())).find(|&l| l > line);
            self.statement(stmt, next.map_or(after, Exit::Line), scope);
        }
    }

    /// Records how control leaves `stmt` (and the lines it runs on over)
    /// before its body's lines, so that on a line shared with its body the
    /// statement that starts first speaks; then reads its body.
    fn statement(&mut self, stmt: &Stmt, next: Exit, scope: &Scope) {
        let line = self.line(stmt.start());
        self.read_expressions(line, stmt);
        if let Stmt::If(s) = stmt {
            for clause in &s.elif_else_clauses {
                if let Some(test) = &clause.test {
                    let mut calls = Calls { reader: self, found: vec![], compares: false };
                    calls.visit_expr(test);
                    let (found, compares) = (calls.found, calls.compares);
                    self.note(self.line(clause.start()), found, compares);
                }
            }
        }
        let leaving = self.leaving(stmt, next, scope);
        let after = if leaving == Leaving::Returns { Exit::Leave } else { next };
        for l in line..=self.line(header_end(stmt)) {
            self.record(l, leaving, after, scope);
        }
        self.inside(stmt, line, next, scope);
    }

    /// The calls and comparisons in a statement's own text (an `if`'s test,
    /// not its `elif`s').
    fn read_expressions(&mut self, line: usize, stmt: &Stmt) {
        let mut calls = Calls { reader: self, found: vec![], compares: false };
        calls.in_header(stmt);
        let (found, compares) = (calls.found, calls.compares);
        self.note(line, found, compares);
    }

    fn note(&mut self, line: usize, calls: Vec<(usize, String)>, compares: bool) {
        self.calls.extend(calls);
        if let Some(slot) = self.compares.get_mut(line) {
            *slot |= compares;
        }
    }

    fn leaving(&self, stmt: &Stmt, next: Exit, scope: &Scope) -> Leaving {
        match stmt {
            Stmt::If(s) => Leaving::Branch { taken: self.first(&s.body), not_taken: self.clauses(s, next).0 },
            Stmt::For(s) => self.looping((&s.body, &s.orelse), next),
            Stmt::While(s) => self.looping((&s.body, &s.orelse), next),
            Stmt::Try(s) => Leaving::Enter { body: self.first(&s.body) },
            Stmt::With(s) => Leaving::Enter { body: self.first(&s.body) },
            Stmt::Match(s) => Leaving::Enter { body: s.cases.first().map(|c| self.line(c.start())) },
            Stmt::FunctionDef(_) | Stmt::ClassDef(_) => Leaving::Next { to: next, binds: true },
            Stmt::Return(_) | Stmt::Raise(_) => Leaving::Returns,
            Stmt::Break(_) => Leaving::Next { to: scope.looping.map_or(next, |(_, past)| past), binds: false },
            Stmt::Continue(_) => {
                Leaving::Next { to: scope.looping.map_or(next, |(head, _)| Exit::Line(head)), binds: false }
            }
            _ => Leaving::Next { to: next, binds: false },
        }
    }

    /// Where an `if`'s test failing goes (the next clause, the `else` body,
    /// or `next`), and each clause's line with how control leaves it.
    fn clauses(&self, s: &ruff_python_ast::StmtIf, next: Exit) -> (Exit, Vec<(usize, Leaving)>) {
        let mut not_taken = next;
        let mut out = vec![];
        for clause in s.elif_else_clauses.iter().rev() {
            let (at, body) = (self.line(clause.start()), self.first(&clause.body));
            let leaving = match clause.test {
                Some(_) => Leaving::Branch { taken: body, not_taken },
                None => Leaving::Enter { body },
            };
            out.push((at, leaving));
            not_taken = match clause.test {
                Some(_) => Exit::Line(at),
                None => body.map_or(next, Exit::Line),
            };
        }
        (not_taken, out)
    }

    /// A loop: into its body, or once done into its `else` or past it.
    fn looping(&self, (body, orelse): (&[Stmt], &[Stmt]), next: Exit) -> Leaving {
        Leaving::Branch { taken: self.first(body), not_taken: self.entry(orelse, next) }
    }

    /// The lines inside a statement: its clauses and its blocks.
    fn inside(&mut self, stmt: &Stmt, line: usize, next: Exit, scope: &Scope) {
        match stmt {
            Stmt::If(s) => {
                for (at, leaving) in self.clauses(s, next).1 {
                    self.record(at, leaving, next, scope);
                }
                self.suite(&s.body, next, scope);
                for clause in &s.elif_else_clauses {
                    self.suite(&clause.body, next, scope);
                }
            }
            Stmt::For(s) => self.loop_blocks(line, (&s.body, &s.orelse), next, scope),
            Stmt::While(s) => self.loop_blocks(line, (&s.body, &s.orelse), next, scope),
            Stmt::Try(s) => {
                let finally = self.entry(&s.finalbody, next);
                let handlers: Vec<usize> = s.handlers.iter().map(|h| self.line(h.start())).collect();
                for (ExceptHandler::ExceptHandler(h), &at) in s.handlers.iter().zip(&handlers) {
                    self.record(at, Leaving::Enter { body: self.first(&h.body) }, finally, scope);
                }
                let inner =
                    Scope { handlers: scope.handlers.iter().chain(&handlers).copied().collect(), ..scope.clone() };
                self.suite(&s.body, self.entry(&s.orelse, finally), &inner);
                for ExceptHandler::ExceptHandler(h) in &s.handlers {
                    self.suite(&h.body, finally, scope);
                }
                self.suite(&s.orelse, finally, scope);
                self.suite(&s.finalbody, next, scope);
            }
            Stmt::With(s) => self.suite(&s.body, next, scope),
            Stmt::Match(s) => {
                let mut not_taken = next;
                for case in s.cases.iter().rev() {
                    let at = self.line(case.start());
                    self.record(at, Leaving::Branch { taken: self.first(&case.body), not_taken }, next, scope);
                    not_taken = Exit::Line(at);
                }
                for case in &s.cases {
                    self.suite(&case.body, next, scope);
                }
            }
            Stmt::FunctionDef(s) => {
                self.defs.push((s.name.as_str().to_string(), line));
                self.suite(&s.body, Exit::Leave, &Scope::default());
            }
            Stmt::ClassDef(s) => self.suite(&s.body, Exit::Leave, &Scope::default()),
            _ => {}
        }
    }

    /// A loop's blocks: its body's end comes back to its head at `line`, a
    /// `break` in it goes to `next`; its `else` goes on to `next`.
    fn loop_blocks(&mut self, line: usize, (body, orelse): (&[Stmt], &[Stmt]), next: Exit, scope: &Scope) {
        let inner = Scope { looping: Some((line, next)), ..scope.clone() };
        self.suite(body, Exit::Line(line), &inner);
        self.suite(orelse, next, scope);
    }
}

/// Where a statement's own text ends: a simple statement's end, a compound
/// one's header (before its body).
fn header_end(stmt: &Stmt) -> TextSize {
    match stmt {
        Stmt::If(s) => s.test.end(),
        Stmt::For(s) => s.iter.end(),
        Stmt::While(s) => s.test.end(),
        Stmt::With(s) => s.items.last().map_or(s.start(), Ranged::end),
        Stmt::Match(s) => s.subject.end(),
        Stmt::FunctionDef(s) => s.returns.as_ref().map_or(s.parameters.end(), |r| r.end()),
        Stmt::ClassDef(s) => s.arguments.as_ref().map_or(s.name.end(), |a| a.end()),
        Stmt::Try(s) => s.start(),
        _ => stmt.end(),
    }
}

/// Collects the calls by name in a statement's own expressions (not in the
/// statements of its body), and whether they compare.
struct Calls<'r> {
    reader: &'r Reader,
    found: Vec<(usize, String)>,
    compares: bool,
}

impl Calls<'_> {
    fn in_header(&mut self, stmt: &Stmt) {
        match stmt {
            Stmt::If(s) => self.visit_expr(&s.test),
            Stmt::For(s) => self.visit_expr(&s.iter),
            Stmt::While(s) => self.visit_expr(&s.test),
            Stmt::With(s) => s.items.iter().for_each(|i| self.visit_expr(&i.context_expr)),
            Stmt::Match(s) => self.visit_expr(&s.subject),
            Stmt::Try(_) | Stmt::FunctionDef(_) | Stmt::ClassDef(_) => {}
            _ => ruff_python_ast::visitor::walk_stmt(self, stmt),
        }
    }
}

impl<'a> Visitor<'a> for Calls<'_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        self.compares |= expr.is_compare_expr();
        if let Expr::Call(call) = expr
            && let Expr::Name(name) = &*call.func
        {
            self.found.push((self.reader.line(name.start()), name.id.as_str().to_string()));
        }
        walk_expr(self, expr);
    }
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
