//! Facts about a Python program, from Ruff's parser.

use ruff_python_ast::visitor::{Visitor, walk_expr};
use ruff_python_ast::{ExceptHandler, Expr, PythonVersion, Stmt};
use ruff_python_parser::{Mode, ParseOptions, parse_unchecked};
use ruff_text_size::{Ranged, TextSize};

use super::{Exit, Facts, Leaving, Line, simple};

/// The facts of a Python program.
pub(super) fn parse(source: &str) -> Facts {
    let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY314);
    let Some(parsed) = parse_unchecked(source, options).try_into_module() else {
        return Facts::default();
    };
    let n = source.lines().count();
    let starts: Vec<usize> = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let names = super::names::names(parsed.suite(), &starts, n);
    let mut reader = Reader {
        starts,
        lines: vec![None; n],
        shadowed: vec![None; n],
        defs: vec![],
        calls: vec![],
        compares: vec![false; n],
        entries: vec![vec![]; n],
    };
    reader.suite(parsed.suite(), Exit::Leave, &Scope::default());
    // The module is called at line 1: where that is not a statement's line
    // (a program that starts with blank lines or comments), it goes into
    // its first statement.
    if let (Some(None), Some(first)) = (reader.lines.first(), reader.first(parsed.suite())) {
        reader.enter(0, first);
    }
    let calls = super::called(&reader.calls, &reader.defs, n);
    let lines = super::unshadow(reader.lines, reader.shadowed);
    Facts { lines, calls, compares: reader.compares, entries: reader.entries, names }
}

/// What a block's lines know of the statements around them.
#[derive(Clone, Debug, Default)]
struct Scope {
    /// The innermost loop: its head, and where a `break` goes.
    looping: Option<(usize, Exit)>,
    /// The handlers of the `try`s whose bodies hold the block.
    handlers: Vec<usize>,
    /// The first line of the innermost `finally` whose `try` (body,
    /// handlers or `else`) holds the block: a `return` runs it first.
    finally: Option<usize>,
    /// The same, where that `try` is inside the innermost loop: a `break`
    /// or `continue` runs it first.
    loop_finally: Option<usize>,
}

impl Scope {
    /// Where a `break` or `continue` bound for `to` goes next: into the
    /// `finally` it crosses, if any.
    fn through(&self, to: Exit) -> Exit {
        self.loop_finally.map_or(to, Exit::Line)
    }
}

struct Reader {
    /// Byte offset of each line's start.
    starts: Vec<usize>,
    lines: Vec<Option<Line>>,
    /// Per line, how the body a branch's header kept off that line leaves
    /// it ([`super::shadow`]).
    shadowed: Vec<Option<Leaving>>,
    /// Every `def`'s name and line.
    defs: Vec<(String, usize)>,
    /// Every call by name: its line and the name.
    calls: Vec<(usize, String)>,
    compares: Vec<bool>,
    /// [`Facts::entries`].
    entries: Vec<Vec<usize>>,
}

impl Reader {
    fn line(&self, at: TextSize) -> usize {
        self.starts.partition_point(|&s| s <= at.to_usize()) - 1
    }

    fn first(&self, body: &[Stmt]) -> Option<usize> {
        body.first().map(|s| self.line(s.start()))
    }

    /// The first line a call runs of a function's `body`: a docstring runs
    /// no line of its own (a body of a docstring alone runs the `def` line,
    /// which is not flagged).
    fn called_entry(&self, body: &[Stmt]) -> Option<usize> {
        match body {
            [Stmt::Expr(doc), rest @ ..] if matches!(&*doc.value, Expr::StringLiteral(_)) => self.first(rest),
            _ => self.first(body),
        }
    }

    /// Where control goes into `body`, or to `otherwise` when it is empty.
    fn entry(&self, body: &[Stmt], otherwise: Exit) -> Exit {
        self.first(body).map_or(otherwise, Exit::Line)
    }

    /// Records `line`'s facts unless a statement that starts before it on
    /// that line (`if x: y = 1`) already has; but of simple statements
    /// that share a line (`i += 1; continue`, or one that ends where the
    /// next starts), the last decides where control goes.
    /// A branch whose body is on its own line (`if not ok: continue`) runs
    /// it with no line event of its own: the branch, taken, goes where the
    /// body goes ([`super::shadow`]).
    fn record(&mut self, line: usize, leaving: Leaving, after: Exit, scope: &Scope) {
        let Some(slot) = self.lines.get_mut(line) else { return };
        match slot {
            Some(old) if !(simple(&old.leaving) && simple(&leaving)) => {
                super::shadow(&mut self.shadowed, old, line, leaving);
            }
            _ => *slot = Some(Line { leaving, after, handlers: scope.handlers.clone(), also: None, cases: vec![] }),
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
                    let read = self.read(|calls| calls.visit_expr(test));
                    self.note(self.line(clause.start()), read);
                }
            }
        }
        let leaving = self.leaving(stmt, next, scope);
        let after = match (stmt, leaving) {
            (_, Leaving::Returns) => Exit::Leave,
            // A `return` that runs a `finally` first: a call made on its
            // line comes back to go there.
            (Stmt::Return(_), Leaving::Next { to, .. }) => to,
            _ => next,
        };
        for l in line..=self.line(header_end(stmt)) {
            self.record(l, leaving, after, scope);
        }
        self.inside(stmt, line, next, scope);
    }

    /// The calls and comparisons in a statement's own text (an `if`'s test,
    /// not its `elif`s').
    fn read_expressions(&mut self, line: usize, stmt: &Stmt) {
        let read = self.read(|calls| calls.in_header(stmt));
        self.note(line, read);
    }

    /// What `visit` finds in expressions.
    fn read(&self, visit: impl FnOnce(&mut Calls)) -> Read {
        let mut calls = Calls { reader: self, read: Read::default() };
        visit(&mut calls);
        calls.read
    }

    fn note(&mut self, line: usize, read: Read) {
        self.calls.extend(read.calls);
        if let Some(slot) = self.compares.get_mut(line) {
            *slot |= read.compares;
        }
        for (at, first) in read.entries {
            self.enter(at, first);
        }
    }

    /// A call reported on `line` runs `first` first.
    fn enter(&mut self, line: usize, first: usize) {
        super::enter(&mut self.entries, line, first);
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
            Stmt::Return(_) => match scope.finally {
                Some(finally) => Leaving::Next { to: Exit::Line(finally), binds: false },
                None => Leaving::Returns,
            },
            Stmt::Raise(_) => Leaving::Returns,
            Stmt::Break(_) => {
                Leaving::Next { to: scope.through(scope.looping.map_or(next, |(_, past)| past)), binds: false }
            }
            Stmt::Continue(_) => Leaving::Next {
                to: scope.through(scope.looping.map_or(next, |(head, _)| Exit::Line(head))),
                binds: false,
            },
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
                // What the `finally` guards: the body, the handlers and the `else`.
                let guarded = match self.first(&s.finalbody) {
                    Some(f) => Scope { finally: Some(f), loop_finally: Some(f), ..scope.clone() },
                    None => scope.clone(),
                };
                let inner =
                    Scope { handlers: scope.handlers.iter().chain(&handlers).copied().collect(), ..guarded.clone() };
                self.suite(&s.body, self.entry(&s.orelse, finally), &inner);
                for ExceptHandler::ExceptHandler(h) in &s.handlers {
                    self.suite(&h.body, finally, &guarded);
                }
                self.suite(&s.orelse, finally, &guarded);
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
                // Called (on its `def` line), it goes into its body.
                if let Some(first) = self.called_entry(&s.body) {
                    self.enter(line, first);
                }
                self.suite(&s.body, Exit::Leave, &Scope::default());
            }
            Stmt::ClassDef(s) => self.suite(&s.body, Exit::Leave, &Scope::default()),
            _ => {}
        }
    }

    /// A loop's blocks: its body's end comes back to its head at `line`, a
    /// `break` in it goes to `next`; its `else` goes on to `next`.
    fn loop_blocks(&mut self, line: usize, (body, orelse): (&[Stmt], &[Stmt]), next: Exit, scope: &Scope) {
        let inner = Scope { looping: Some((line, next)), loop_finally: None, ..scope.clone() };
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
    read: Read,
}

/// What expressions hold: calls by name (line, name), whether they
/// compare, and where a `lambda` or a generator expression, called on the
/// line it is reported on, goes in (that line, its body's).
#[derive(Default)]
struct Read {
    calls: Vec<(usize, String)>,
    compares: bool,
    entries: Vec<(usize, usize)>,
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
        self.read.compares |= expr.is_compare_expr();
        if let Expr::Call(call) = expr
            && let Expr::Name(name) = &*call.func
        {
            self.read.calls.push((self.reader.line(name.start()), name.id.as_str().to_string()));
        }
        let line = |at: TextSize| self.reader.line(at);
        match expr {
            Expr::Lambda(l) => self.read.entries.push((line(l.start()), line(l.body.start()))),
            Expr::Generator(g) => self.read.entries.push((line(g.start()), line(g.elt.start()))),
            _ => {}
        }
        walk_expr(self, expr);
    }
}
