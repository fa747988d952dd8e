//! Facts about a JavaScript program, read from oxc's parser, as the
//! JavaScript guest's line hook reports its lines: where each statement
//! starts, at each loop test and `for … of/in` step, and at an arrow
//! function's expression body. So, unlike Python's:
//! - a statement runs on its first line only, however many it spans; the
//!   calls and comparisons in it are its first line's;
//! - blocks, `else`, `catch (e)` and `case` lines run nothing: control goes
//!   into their statements;
//! - function declarations are hoisted and never run as lines;
//! - a `do … while` comes back to its test's line.
//!
//! oxc recovers from some errors; a program it gives up on has no facts.

use std::borrow::Cow;

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    ArrowFunctionExpression, AssignmentExpression, AssignmentTarget, CallExpression, Class, ClassElement, Expression,
    Function, FunctionBody, MethodDefinitionKind, NewExpression, Statement, VariableDeclarator,
};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::Parser;
use oxc_span::{GetSpan, SourceType};
use oxc_syntax::scope::ScopeFlags;

use super::{Exit, Facts, Leaving, Recorded};

/// The facts of a JavaScript program of `lines` lines.
pub(super) fn parse(source: &str, lines: usize) -> Facts {
    let allocator = Allocator::default();
    let parsed = Parser::new(&allocator, source, SourceType::script()).parse();
    let starts = std::iter::once(0).chain(source.match_indices('\n').map(|(i, _)| i + 1)).collect();
    let mut reader =
        Reader { starts, recorded: Recorded::new(lines), defs: vec![], calls: vec![], compares: vec![false; lines] };
    reader.block(&parsed.program.body, Exit::Leave, &Scope::default());
    // The module is called at line 1; its declarations run no line.
    if let Some(first) = reader.first(&parsed.program.body) {
        reader.recorded.enter(0, first);
    }
    let calls = super::called(&reader.calls, &reader.defs, lines);
    let entries = std::mem::take(&mut reader.recorded.entries);
    Facts { lines: reader.recorded.lines(), calls, compares: reader.compares, entries, names: vec![] }
}

/// What a block's lines know of the statements around them.
#[derive(Clone, Debug, Default)]
struct Scope {
    /// Where a `break` goes: past the innermost loop or `switch`.
    breaking: Option<Exit>,
    /// Where a `continue` goes: the innermost loop's test.
    continuing: Option<Exit>,
    /// Each label around the block: where `continue label` goes (for a
    /// loop), where `break label` goes, and how many of `finallies` were
    /// around the labelled statement.
    labels: Vec<(String, Option<Exit>, Exit, usize)>,
    /// The first lines of the `catch` blocks of every `try` whose block
    /// holds this one.
    handlers: Vec<usize>,
    /// The first line of the `finally` of every `try` whose block or
    /// `catch` holds this one, the innermost last: a `return`, or a jump
    /// out of that `try`, runs it first.
    finallies: Vec<usize>,
    /// How many of `finallies` were around the innermost loop or `switch`
    /// (where a `break` goes) and around the innermost loop (`continue`).
    depths: (usize, usize),
}

impl Scope {
    /// The scope of a loop's body: `head` is where it comes back to, `past`
    /// where it ends; `label`, if the loop has one.
    fn looping(&self, head: Exit, past: Exit, label: Option<&str>) -> Scope {
        let mut inner = self.clone();
        if let Some(label) = label {
            inner.labels.push((label.to_string(), Some(head), past, self.finallies.len()));
        }
        let depth = self.finallies.len();
        Scope { breaking: Some(past), continuing: Some(head), depths: (depth, depth), ..inner }
    }

    /// Where a `break` (or, `continuing`, a `continue`) goes: to `label`'s
    /// statement, or the innermost one's; through the innermost `finally`
    /// first where the jump leaves its `try`.
    fn jump(&self, label: Option<&str>, continuing: bool) -> Option<Exit> {
        let (to, depth) = match label {
            Some(name) => {
                let (_, head, past, depth) = self.labels.iter().rev().find(|(n, ..)| n == name)?;
                (if continuing { *head } else { Some(*past) }, *depth)
            }
            None if continuing => (self.continuing, self.depths.1),
            None => (self.breaking, self.depths.0),
        };
        match self.finallies.last() {
            Some(&finally) if self.finallies.len() > depth && to.is_some() => Some(Exit::Line(finally)),
            _ => to,
        }
    }

    /// The scope of a `try`'s block (`handlers`, its `catch`'s first line)
    /// or of its `catch` (none), with its `finally`, if any, run on the
    /// way out.
    fn trying(&self, handlers: Option<usize>, finally: Option<usize>) -> Scope {
        let mut inner = self.clone();
        inner.handlers.extend(handlers);
        inner.finallies.extend(finally);
        inner
    }
}

struct Reader {
    /// Byte offset of each line's start.
    starts: Vec<usize>,
    recorded: Recorded,
    /// Each function a name is given and the line its calls begin on.
    defs: Vec<(String, usize)>,
    /// Each call by name: the line of the statement it is in, and the name.
    calls: Vec<(usize, String)>,
    compares: Vec<bool>,
}

impl Reader {
    fn line(&self, at: u32) -> usize {
        self.starts.partition_point(|&s| s <= at as usize) - 1
    }

    fn record(&mut self, line: usize, leaving: Leaving, after: Exit, scope: &Scope) {
        self.recorded.record(line, leaving, after, &scope.handlers);
    }

    /// The first line a statement runs: none for a function declaration,
    /// an empty statement or an empty block.
    fn entry(&self, stmt: &Statement) -> Option<usize> {
        match stmt {
            Statement::BlockStatement(b) => self.first(&b.body),
            Statement::EmptyStatement(_) | Statement::FunctionDeclaration(_) => None,
            Statement::LabeledStatement(s) => self.entry(&s.body),
            _ => Some(self.line(stmt.span().start)),
        }
    }

    fn first(&self, body: &[Statement]) -> Option<usize> {
        body.iter().find_map(|s| self.entry(s))
    }

    /// Where control goes into `stmt`, or to `otherwise` when it runs
    /// nothing.
    fn entering(&self, stmt: &Statement, otherwise: Exit) -> Exit {
        self.entry(stmt).map_or(otherwise, Exit::Line)
    }

    /// A block whose last statement goes to `after` when it completes.
    fn block(&mut self, body: &[Statement], after: Exit, scope: &Scope) {
        for (k, stmt) in body.iter().enumerate() {
            let line = self.line(stmt.span().start);
            let next = body[k + 1..].iter().filter_map(|s| self.entry(s)).find(|&l| l > line);
            self.statement(stmt, next.map_or(after, Exit::Line), scope, None);
        }
    }

    /// A function's body: it leaves once its last statement completes.
    /// A call of it is reported on the line its body opens on, and runs its
    /// first statement first.
    fn function(&mut self, body: &FunctionBody) {
        if let Some(first) = self.first(&body.statements) {
            self.recorded.enter(self.line(body.span.start), first);
        }
        self.block(&body.statements, Exit::Leave, &Scope::default());
    }

    /// Reads the calls, comparisons and functions in a statement's own
    /// expressions, as made on its first line.
    fn own(&mut self, line: usize, visit: impl FnOnce(&mut Own)) {
        visit(&mut Own { reader: self, line });
    }

    fn statement(&mut self, stmt: &Statement, next: Exit, scope: &Scope, label: Option<&str>) {
        let line = self.line(stmt.span().start);
        match stmt {
            Statement::BlockStatement(b) => match label {
                Some(label) => {
                    let mut inner = scope.clone();
                    inner.labels.push((label.to_string(), None, next, scope.finallies.len()));
                    self.block(&b.body, next, &inner);
                }
                None => self.block(&b.body, next, scope),
            },
            Statement::EmptyStatement(_) => {}
            Statement::IfStatement(s) => {
                let not_taken = match &s.alternate {
                    Some(other) => self.entering(other, next),
                    None => next,
                };
                let taken = self.entry(&s.consequent);
                self.record(line, Leaving::Branch { taken, not_taken }, next, scope);
                self.own(line, |o| o.visit_expression(&s.test));
                self.statement(&s.consequent, next, scope, None);
                if let Some(other) = &s.alternate {
                    self.statement(other, next, scope, None);
                }
            }
            // A loop's head is recorded before the functions in it (`for
            // (const x of xs.filter((y) => y > 0))`), so it stays a branch.
            Statement::WhileStatement(s) => {
                self.looping(line, &s.body, next, scope, label);
                self.own(line, |o| o.visit_expression(&s.test));
            }
            Statement::ForStatement(s) => {
                // Its test is reported on the test's own line; without one,
                // nothing is, and the body comes back to its first line.
                match s.test.as_ref().map(|t| self.line(t.span().start)) {
                    Some(test) if test == line => self.looping(line, &s.body, next, scope, label),
                    Some(test) => {
                        self.record(line, Leaving::Next { to: Exit::Line(test), binds: false }, next, scope);
                        self.looping(test, &s.body, next, scope, label);
                    }
                    None => {
                        let body = self.entry(&s.body);
                        self.record(line, Leaving::Enter { body }, next, scope);
                        let head = body.map_or(next, Exit::Line);
                        self.statement(&s.body, head, &scope.looping(head, next, label), None);
                    }
                }
                self.own(line, |o| {
                    if let Some(init) = &s.init {
                        o.visit_for_statement_init(init);
                    }
                    s.test.iter().chain(&s.update).for_each(|e| o.visit_expression(e));
                });
            }
            Statement::ForInStatement(s) => {
                self.looping(line, &s.body, next, scope, label);
                self.own(line, |o| o.visit_expression(&s.right));
            }
            Statement::ForOfStatement(s) => {
                self.looping(line, &s.body, next, scope, label);
                self.own(line, |o| o.visit_expression(&s.right));
            }
            Statement::DoWhileStatement(s) => {
                let test = self.line(s.test.span().start);
                let body = self.entry(&s.body);
                self.record(line, Leaving::Enter { body }, next, scope);
                self.record(test, Leaving::Branch { taken: body, not_taken: next }, next, scope);
                self.own(test, |o| o.visit_expression(&s.test));
                let inner = scope.looping(Exit::Line(test), next, label);
                self.statement(&s.body, Exit::Line(test), &inner, None);
            }
            Statement::SwitchStatement(s) => {
                let firsts: Vec<Option<usize>> = s.cases.iter().map(|c| self.first(&c.consequent)).collect();
                // A case's statements fall through into the next case's.
                let from = |k: usize| firsts[k..].iter().flatten().next().map_or(next, |&l| Exit::Line(l));
                let default = s.cases.iter().position(|c| c.test.is_none());
                let taken = firsts.iter().flatten().next().copied();
                self.record(line, Leaving::Branch { taken, not_taken: default.map_or(next, from) }, next, scope);
                // Each case with a test may match; where it falls into the
                // statements of a later one, it is that one's first line.
                let matching = s.cases.iter().enumerate().filter(|(_, c)| c.test.is_some());
                let cases: Vec<usize> =
                    matching.filter_map(|(k, _)| if let Exit::Line(l) = from(k) { Some(l) } else { None }).collect();
                self.recorded.cases(line, cases);
                self.own(line, |o| o.visit_expression(&s.discriminant));
                let mut inner = scope.clone();
                (inner.breaking, inner.depths.0) = (Some(next), scope.finallies.len());
                if let Some(label) = label {
                    inner.labels.push((label.to_string(), None, next, scope.finallies.len()));
                }
                for (k, case) in s.cases.iter().enumerate() {
                    if let Some(test) = &case.test {
                        self.own(line, |o| o.visit_expression(test));
                    }
                    self.block(&case.consequent, from(k + 1), &inner);
                }
            }
            Statement::TryStatement(s) => {
                let first_final = s.finalizer.as_ref().and_then(|f| self.first(&f.body));
                let finally = first_final.map_or(next, Exit::Line);
                let handler = s.handler.as_ref().and_then(|h| self.first(&h.body.body));
                self.record(line, Leaving::Enter { body: self.first(&s.block.body) }, next, scope);
                self.block(&s.block.body, finally, &scope.trying(handler, first_final));
                if let Some(h) = &s.handler {
                    self.block(&h.body.body, finally, &scope.trying(None, first_final));
                }
                if let Some(f) = &s.finalizer {
                    self.block(&f.body, next, scope);
                }
            }
            Statement::LabeledStatement(s) => self.statement(&s.body, next, scope, Some(s.label.name.as_str())),
            Statement::ReturnStatement(s) => {
                match scope.finallies.last() {
                    // `return` in a `try` runs its `finally` first.
                    Some(&finally) => {
                        let to = Exit::Line(finally);
                        self.record(line, Leaving::Next { to, binds: false }, to, scope);
                    }
                    None => self.record(line, Leaving::Returns, Exit::Leave, scope),
                }
                self.own(line, |o| s.argument.iter().for_each(|e| o.visit_expression(e)));
            }
            Statement::ThrowStatement(s) => {
                self.record(line, Leaving::Returns, Exit::Leave, scope);
                self.own(line, |o| o.visit_expression(&s.argument));
            }
            Statement::BreakStatement(s) => {
                let to = scope.jump(s.label.as_ref().map(|l| l.name.as_str()), false).unwrap_or(next);
                self.record(line, Leaving::Next { to, binds: false }, to, scope);
            }
            Statement::ContinueStatement(s) => {
                let to = scope.jump(s.label.as_ref().map(|l| l.name.as_str()), true).unwrap_or(next);
                self.record(line, Leaving::Next { to, binds: false }, to, scope);
            }
            Statement::FunctionDeclaration(f) => {
                if let Some(id) = &f.id {
                    self.defs.push((id.name.as_str().to_string(), line));
                }
                if let Some(body) = &f.body {
                    self.function(body);
                }
            }
            Statement::ClassDeclaration(_) => {
                self.record(line, Leaving::Next { to: next, binds: true }, next, scope);
                self.own(line, |o| o.visit_statement(stmt));
            }
            _ => {
                self.record(line, Leaving::Next { to: next, binds: false }, next, scope);
                self.own(line, |o| o.visit_statement(stmt));
            }
        }
    }

    /// A loop whose test is reported on `line`: into its body, or past it
    /// to `next`; its body comes back to its test.
    fn looping(&mut self, line: usize, body: &Statement, next: Exit, scope: &Scope, label: Option<&str>) {
        let taken = self.entry(body);
        self.record(line, Leaving::Branch { taken, not_taken: next }, next, scope);
        let inner = scope.looping(Exit::Line(line), next, label);
        self.statement(body, Exit::Line(line), &inner, None);
    }
}

/// Reads a statement's own expressions: the calls by name and the
/// comparisons in them count as its first line's, and the functions in them
/// are read as functions of their own.
struct Own<'r> {
    reader: &'r mut Reader,
    line: usize,
}

impl Own<'_> {
    fn def(&mut self, name: Cow<'_, str>, at: u32) {
        let line = self.reader.line(at);
        self.reader.defs.push((name.into_owned(), line));
    }
}

/// The name a call is made by: `f(…)`, `o.f(…)`.
fn callee<'a>(expression: &'a Expression) -> Option<&'a str> {
    match expression {
        Expression::Identifier(id) => Some(id.name.as_str()),
        Expression::StaticMemberExpression(m) => Some(m.property.name.as_str()),
        _ => None,
    }
}

/// Where a function value's calls begin, if `expression` is one.
fn function_at(expression: &Expression) -> Option<u32> {
    match expression {
        Expression::FunctionExpression(f) => Some(f.span.start),
        Expression::ArrowFunctionExpression(f) => Some(f.span.start),
        _ => None,
    }
}

impl<'a> Visit<'a> for Own<'_> {
    fn visit_function(&mut self, function: &Function<'a>, _: ScopeFlags) {
        if let Some(id) = &function.id {
            self.def(Cow::Borrowed(id.name.as_str()), function.span.start);
        }
        if let Some(body) = &function.body {
            self.reader.function(body);
        }
    }

    fn visit_arrow_function_expression(&mut self, arrow: &ArrowFunctionExpression<'a>) {
        match arrow.body.as_function_body() {
            Some(body) => self.reader.function(body),
            None => {
                // `(x) => x + 1`: its expression runs as a line, and returns.
                let line = self.reader.line(arrow.body.span().start);
                self.reader.record(line, Leaving::Returns, Exit::Leave, &Scope::default());
                self.reader.recorded.enter(self.reader.line(arrow.span.start), line);
                Own { reader: self.reader, line }.visit_arrow_function_body(&arrow.body);
            }
        }
    }

    fn visit_class(&mut self, class: &Class<'a>) {
        if let Some(id) = &class.id {
            // `new C(…)` begins in its constructor, if it has one.
            let constructor = class.body.body.iter().find_map(|e| match e {
                ClassElement::MethodDefinition(m) if m.kind == MethodDefinitionKind::Constructor => Some(m.span.start),
                _ => None,
            });
            self.def(Cow::Borrowed(id.name.as_str()), constructor.unwrap_or(class.span.start));
        }
        for element in &class.body.body {
            if let ClassElement::MethodDefinition(m) = element
                && let Some(name) = m.key.static_name()
            {
                self.def(name, m.span.start);
            }
        }
        walk::walk_class(self, class);
    }

    fn visit_call_expression(&mut self, call: &CallExpression<'a>) {
        if let Some(name) = callee(&call.callee) {
            self.reader.calls.push((self.line, name.to_string()));
        }
        walk::walk_call_expression(self, call);
    }

    fn visit_new_expression(&mut self, call: &NewExpression<'a>) {
        if let Some(name) = callee(&call.callee) {
            self.reader.calls.push((self.line, name.to_string()));
        }
        walk::walk_new_expression(self, call);
    }

    fn visit_binary_expression(&mut self, binary: &oxc_ast::ast::BinaryExpression<'a>) {
        if (binary.operator.is_compare() || binary.operator.is_equality())
            && let Some(slot) = self.reader.compares.get_mut(self.line)
        {
            *slot = true;
        }
        walk::walk_binary_expression(self, binary);
    }

    fn visit_variable_declarator(&mut self, declarator: &VariableDeclarator<'a>) {
        if let (Some(name), Some(at)) =
            (declarator.id.get_identifier_name(), declarator.init.as_ref().and_then(function_at))
        {
            self.def(Cow::Borrowed(name.as_str()), at);
        }
        walk::walk_variable_declarator(self, declarator);
    }

    fn visit_assignment_expression(&mut self, assignment: &AssignmentExpression<'a>) {
        let name = match &assignment.left {
            AssignmentTarget::AssignmentTargetIdentifier(id) => Some(id.name.as_str()),
            AssignmentTarget::StaticMemberExpression(m) => Some(m.property.name.as_str()),
            _ => None,
        };
        if let (Some(name), Some(at)) = (name, function_at(&assignment.right)) {
            self.def(Cow::Borrowed(name), at);
        }
        walk::walk_assignment_expression(self, assignment);
    }
}

#[cfg(test)]
mod tests;
