//! Facts about a Lua 5.4 program, read from full_moon's parser, as the Lua
//! guest's line hook reports its lines. Lua fires a line event where an
//! instruction of a new line runs, so a few of its lines differ from the
//! statements that start on them:
//! - `else`, `repeat`, `do` and a label run nothing: control goes into
//!   their block;
//! - a function is made at its `end` line (a `function f()` declaration then
//!   binds `f` on its first line), and a body that falls off its end runs
//!   its `end` line before it returns: that line goes both ways;
//! - a numeric `for` and a `while` come back to their head, a `repeat` to
//!   its `until`; a generic `for` leaves by its `end` line, where its
//!   iterator is closed, and so does a `break` out of it;
//! - `while true do` tests nothing: its body comes back to its first line.
//!
//! The parser recovers from errors, as Python's does; a broken program's
//! facts may be wrong, which costs accuracy, never correctness.

use full_moon::ast::{
    AnonymousFunction, Assignment, BinOp, Block, Call, Expression, FunctionBody, FunctionCall, FunctionDeclaration,
    Index, LastStmt, LocalAssignment, LocalFunction, Prefix, Stmt, Suffix, Var,
};
use full_moon::node::Node;
use full_moon::tokenizer::{Symbol, TokenReference, TokenType};
use full_moon::visitors::Visitor;
use full_moon::{LuaVersion, parse_fallible};

use super::{Exit, Facts, Leaving, Recorded};

/// The facts of a Lua program of `lines` lines.
pub(super) fn parse(source: &str, lines: usize) -> Facts {
    let parsed = parse_fallible(source, LuaVersion::lua54());
    let ast = parsed.ast();
    let mut found = Found { compares: vec![false; lines], ..Found::default() };
    found.visit_ast(ast);
    let inner = found.bodies.iter().map(|(at, body)| (*at, line_of(body.end_token()))).collect();
    let mut reader = Reader { recorded: Recorded::new(lines), inner };
    reader.block(ast.nodes(), Exit::Leave, &Scope::default());
    for (_, body) in &found.bodies {
        reader.function(body);
    }
    // The chunk is called at line 1.
    if let Some(first) = reader.first(ast.nodes()) {
        reader.recorded.enter(0, first);
    }
    let calls = super::called(&found.calls, &found.defs, lines);
    let entries = std::mem::take(&mut reader.recorded.entries);
    Facts { lines: reader.recorded.lines(), calls, compares: found.compares, entries, names: vec![] }
}

/// A token's 0-based line.
fn line_of(token: &TokenReference) -> usize {
    token.token().start_position().line().saturating_sub(1)
}

/// A node's first and last 0-based lines.
fn span(node: &impl Node) -> Option<(usize, usize)> {
    let (start, end) = (node.start_position()?, node.end_position()?);
    Some((start.line().saturating_sub(1), end.line().saturating_sub(1)))
}

/// What the whole tree holds, wherever it is: the anonymous functions'
/// bodies, the calls by name, the comparisons, and the functions' names.
#[derive(Default)]
struct Found {
    /// Each anonymous function's `function` line and body.
    bodies: Vec<(usize, FunctionBody)>,
    /// Each call of a name (`f(…)`, `t.f(…)`, `t:f(…)`): its line and the
    /// name.
    calls: Vec<(usize, String)>,
    /// Each function a name is given: the name (the last part of
    /// `function a.b:c()`) and its `function` line, where its calls begin.
    defs: Vec<(String, usize)>,
    compares: Vec<bool>,
}

impl Visitor for Found {
    fn visit_anonymous_function(&mut self, function: &AnonymousFunction) {
        self.bodies.push((line_of(function.function_token()), function.body().clone()));
    }

    fn visit_function_call(&mut self, call: &FunctionCall) {
        // The name a call is made by: the last name before its arguments.
        let mut name = match call.prefix() {
            Prefix::Name(name) => Some(name),
            _ => None,
        };
        for suffix in call.suffixes() {
            match suffix {
                Suffix::Index(Index::Dot { name: field, .. }) => name = Some(field),
                Suffix::Call(Call::MethodCall(method)) => name = Some(method.name()),
                Suffix::Call(Call::AnonymousCall(_)) => break,
                _ => name = None,
            }
        }
        if let Some(name) = name {
            self.calls.push((line_of(name), name.token().to_string()));
        }
    }

    fn visit_expression(&mut self, expression: &Expression) {
        if let Expression::BinaryOperator { binop, .. } = expression
            && matches!(
                binop,
                BinOp::TwoEqual(_)
                    | BinOp::TildeEqual(_)
                    | BinOp::LessThan(_)
                    | BinOp::LessThanEqual(_)
                    | BinOp::GreaterThan(_)
                    | BinOp::GreaterThanEqual(_)
            )
            && let Some(slot) = self.compares.get_mut(line_of(binop.token()))
        {
            *slot = true;
        }
    }

    fn visit_local_function(&mut self, function: &LocalFunction) {
        self.defs.push((function.name().token().to_string(), line_of(function.function_token())));
    }

    fn visit_function_declaration(&mut self, function: &FunctionDeclaration) {
        let name = function.name();
        if let Some(last) = name.method_name().or_else(|| name.names().iter().last()) {
            self.defs.push((last.token().to_string(), line_of(function.function_token())));
        }
    }

    fn visit_local_assignment(&mut self, assignment: &LocalAssignment) {
        for (name, value) in assignment.names().iter().zip(assignment.expressions()) {
            if let Expression::Function(function) = value {
                self.defs.push((name.token().to_string(), line_of(function.function_token())));
            }
        }
    }

    fn visit_assignment(&mut self, assignment: &Assignment) {
        for (var, value) in assignment.variables().iter().zip(assignment.expressions()) {
            let name = match var {
                Var::Name(name) => Some(name),
                Var::Expression(var) => match var.suffixes().last() {
                    Some(Suffix::Index(Index::Dot { name, .. })) => Some(name),
                    _ => None,
                },
                _ => None,
            };
            if let (Some(name), Expression::Function(function)) = (name, value) {
                self.defs.push((name.token().to_string(), line_of(function.function_token())));
            }
        }
    }
}

/// What a block's lines know of the statements around them.
#[derive(Clone, Debug, Default)]
struct Scope {
    /// The innermost loop's head, and where a `break` out of it goes.
    looping: Option<(Exit, Exit)>,
    /// The labels a `goto` in the block can see (those of the blocks around
    /// it in its function, the innermost last), and where each goes on.
    labels: Vec<(String, Exit)>,
}

impl Scope {
    /// The scope of a loop's body, which comes back to `head` and breaks
    /// to `past`.
    fn looping(&self, head: Exit, past: Exit) -> Scope {
        Scope { looping: Some((head, past)), labels: self.labels.clone() }
    }
}

/// A statement of a block, or its last (`return`, `break`).
#[derive(Clone, Copy)]
enum Item<'a> {
    Stmt(&'a Stmt),
    Last(&'a LastStmt),
}

struct Reader {
    recorded: Recorded,
    /// Each anonymous function's `function` and `end` lines: the lines
    /// strictly between are its body's, not the statement's around it.
    inner: Vec<(usize, usize)>,
}

impl Reader {
    fn record_line(&mut self, line: usize, leaving: Leaving, after: Exit) {
        self.recorded.record(line, leaving, after, &[]);
    }

    /// Records the lines `from..=to`, less those inside an anonymous
    /// function's body.
    fn record(&mut self, (from, to): (usize, usize), leaving: Leaving, after: Exit) {
        for line in from..=to {
            if !self.inner.iter().any(|&(start, end)| start < line && line < end) {
                self.record_line(line, leaving, after);
            }
        }
    }

    /// The first line a block runs, if it runs any.
    fn first(&self, block: &Block) -> Option<usize> {
        items(block).iter().find_map(|item| self.entry(*item))
    }

    /// The first line a statement runs: none for a label or an empty
    /// block.
    fn entry(&self, item: Item) -> Option<usize> {
        let stmt = match item {
            Item::Stmt(stmt) => stmt,
            Item::Last(last) => return span(last).map(|s| s.0),
        };
        match stmt {
            Stmt::Do(s) => self.first(s.block()),
            Stmt::Repeat(s) => self.first(s.block()).or(Some(line_of(s.until_token()))),
            Stmt::While(s) if is_true(s.condition()) => self.first(s.block()).or(Some(line_of(s.while_token()))),
            Stmt::LocalFunction(s) => Some(line_of(s.body().end_token())),
            Stmt::FunctionDeclaration(s) => Some(line_of(s.body().end_token())),
            Stmt::LocalAssignment(s) => match s.expressions().iter().next() {
                Some(Expression::Function(f)) => Some(line_of(f.body().end_token())),
                _ => span(stmt).map(|s| s.0),
            },
            Stmt::Assignment(s) => match s.expressions().iter().next() {
                Some(Expression::Function(f)) => Some(line_of(f.body().end_token())),
                _ => span(stmt).map(|s| s.0),
            },
            Stmt::Label(_) => None,
            _ => span(stmt).map(|s| s.0),
        }
    }

    /// A block whose last statement goes to `after` when it completes. Its
    /// labels are seen by every `goto` in it, before or after them.
    fn block(&mut self, block: &Block, after: Exit, scope: &Scope) {
        let items = items(block);
        // What follows a statement is the next one on a later line.
        let nexts: Vec<Exit> = (0..items.len())
            .map(|k| {
                let line = start(items[k]);
                items[k + 1..].iter().filter_map(|i| self.entry(*i)).find(|&l| line.is_none_or(|at| l > at))
            })
            .map(|next| next.map_or(after, Exit::Line))
            .collect();
        let mut inner = scope.clone();
        for (item, next) in items.iter().zip(&nexts) {
            if let Item::Stmt(Stmt::Label(label)) = item {
                inner.labels.push((label.name().token().to_string(), *next));
            }
        }
        for (item, next) in items.iter().zip(nexts) {
            self.statement(*item, next, &inner);
        }
    }

    /// A function's body: it leaves at its `return`, or by its `end` line.
    /// A call of it is reported on the line of its parameters, and runs
    /// its first statement first, or its `end` when it has none.
    fn function(&mut self, body: &FunctionBody) {
        let end = line_of(body.end_token());
        let first = self.first(body.block()).unwrap_or(end);
        self.recorded.enter(line_of(body.parameters_parentheses().tokens().0), first);
        if returns(body) {
            self.block(body.block(), Exit::Leave, &Scope::default());
        } else {
            self.record_line(end, Leaving::Returns, Exit::Leave);
            self.block(body.block(), Exit::Line(end), &Scope::default());
        }
    }

    fn statement(&mut self, item: Item, next: Exit, scope: &Scope) {
        let stmt = match item {
            Item::Stmt(stmt) => stmt,
            Item::Last(last) => {
                let Some(lines) = span(last) else { return };
                match last {
                    LastStmt::Return(_) => self.record(lines, Leaving::Returns, Exit::Leave),
                    _ => {
                        let to = scope.looping.map_or(next, |(_, past)| past);
                        self.record(lines, Leaving::Next { to, binds: false }, to);
                    }
                }
                return;
            }
        };
        let header = |from: &TokenReference, to: &TokenReference| (line_of(from), line_of(to));
        match stmt {
            Stmt::If(s) => {
                let mut not_taken = s.else_block().and_then(|b| self.first(b)).map_or(next, Exit::Line);
                for clause in s.else_if().into_iter().flatten().rev() {
                    let taken = self.first(clause.block());
                    let lines = header(clause.else_if_token(), clause.then_token());
                    self.record(lines, Leaving::Branch { taken, not_taken }, next);
                    not_taken = Exit::Line(lines.0);
                }
                let lines = header(s.if_token(), s.then_token());
                self.record(lines, Leaving::Branch { taken: self.first(s.block()), not_taken }, next);
                self.block(s.block(), next, scope);
                for clause in s.else_if().into_iter().flatten() {
                    self.block(clause.block(), next, scope);
                }
                if let Some(block) = s.else_block() {
                    self.block(block, next, scope);
                }
            }
            Stmt::While(s) if is_true(s.condition()) => {
                let head = self.first(s.block()).map_or(next, Exit::Line);
                self.block(s.block(), head, &scope.looping(head, next));
            }
            Stmt::While(s) => {
                let lines = header(s.while_token(), s.do_token());
                self.looping(lines, s.block(), (next, next), scope);
            }
            Stmt::NumericFor(s) => {
                let lines = header(s.for_token(), s.do_token());
                self.looping(lines, s.block(), (next, next), scope);
            }
            Stmt::GenericFor(s) => {
                let (lines, end) = (header(s.for_token(), s.do_token()), line_of(s.end_token()));
                self.record_line(end, Leaving::Next { to: next, binds: false }, next);
                self.looping(lines, s.block(), (Exit::Line(end), Exit::Line(end)), scope);
            }
            Stmt::Repeat(s) => {
                let until = (line_of(s.until_token()), span(s.until()).map_or(0, |s| s.1));
                let first = self.first(s.block());
                self.record(until, Leaving::Branch { taken: first, not_taken: next }, next);
                self.block(s.block(), Exit::Line(until.0), &scope.looping(Exit::Line(until.0), next));
            }
            Stmt::Do(s) => self.block(s.block(), next, scope),
            // A function is made at its `end` line, which is also where its
            // body, if it falls off its end, leaves: both ways are kept.
            Stmt::LocalFunction(s) => {
                let end = line_of(s.body().end_token());
                self.record_line(end, Leaving::Next { to: next, binds: false }, next);
                self.function(s.body());
            }
            Stmt::FunctionDeclaration(s) => {
                let (start, end) = (line_of(s.function_token()), line_of(s.body().end_token()));
                if end != start {
                    self.record_line(end, Leaving::Next { to: Exit::Line(start), binds: false }, Exit::Line(start));
                }
                self.record_line(start, Leaving::Next { to: next, binds: false }, next);
                self.function(s.body());
            }
            Stmt::Label(_) => {}
            Stmt::Goto(goto) => {
                let name = goto.label_name().token().to_string();
                let to = scope.labels.iter().rev().find(|(label, _)| *label == name).map_or(next, |(_, to)| *to);
                self.record_line(line_of(goto.goto_token()), Leaving::Next { to, binds: false }, to);
            }
            _ => {
                if let Some(lines) = span(stmt) {
                    self.record(lines, Leaving::Next { to: next, binds: false }, next);
                }
            }
        }
    }

    /// A loop whose head is on `lines`: into its body, or past it to
    /// `not_taken`; its body comes back to its head, a `break` goes to
    /// `broken`.
    fn looping(&mut self, lines: (usize, usize), body: &Block, (not_taken, broken): (Exit, Exit), scope: &Scope) {
        let taken = self.first(body);
        self.record(lines, Leaving::Branch { taken, not_taken }, not_taken);
        let head = Exit::Line(lines.0);
        self.block(body, head, &scope.looping(head, broken));
    }
}

/// The first line of a statement's text.
fn start(item: Item) -> Option<usize> {
    match item {
        Item::Stmt(stmt) => span(stmt).map(|s| s.0),
        Item::Last(last) => span(last).map(|s| s.0),
    }
}

/// A block's statements, then its last one.
fn items(block: &Block) -> Vec<Item<'_>> {
    block.stmts().map(Item::Stmt).chain(block.last_stmt().map(Item::Last)).collect()
}

/// Whether a function's body ends with a `return`, so it never runs its
/// `end` line.
fn returns(body: &FunctionBody) -> bool {
    matches!(body.block().last_stmt(), Some(LastStmt::Return(_)))
}

/// Whether an expression is the literal `true`.
fn is_true(expression: &Expression) -> bool {
    matches!(expression, Expression::Symbol(token) if matches!(token.token_type(), TokenType::Symbol { symbol: Symbol::True }))
}

#[cfg(test)]
mod tests;
