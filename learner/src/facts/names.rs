//! The names of its frame each line uses, as the parser reads them: which
//! it reads, which it writes, and which it prints whole. The encoder writes
//! their values in place of them ([`crate::encode::with_values`]).

use std::ops::Range;

use ruff_python_ast::visitor::{Visitor, walk_expr, walk_f_string, walk_interpolated_string_element, walk_t_string};
use ruff_python_ast::{
    Comprehension, ConversionFlag, Expr, ExprContext, ExprLambda, ExprName, FString, InterpolatedStringElement,
    Parameters, Stmt, TString,
};
use ruff_text_size::{Ranged, TextRange};

/// How a line uses a name of its frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Its value is read: an operand, an argument, a subscript; a
    /// parameter without a default, which holds its argument at the call.
    Read,
    /// Read and printed as it is: a `print` argument of its own, or an
    /// f-string field `{name}` (no conversion, no format).
    Printed,
    /// A target the statement writes: of an assignment (plain, augmented,
    /// annotated), a `for`, a `with ... as`, a `:=`.
    Written,
}

/// A name of the frame on one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Named {
    /// Where it is, in bytes from the start of its line.
    pub at: Range<usize>,
    /// The name the frame knows it by (the parser's, so normalised).
    pub id: String,
    /// How the line uses it.
    pub used: Use,
}

/// Per line of `suite`'s source (which starts at the byte offsets
/// `starts`, `lines` of them), the names of the frame the line uses, in
/// order. Attributes, keywords' names, names a comprehension or a `lambda`
/// binds, and `del`'s targets are none of the frame's reads or writes.
pub(super) fn names(suite: &[Stmt], starts: &[usize], lines: usize) -> Vec<Vec<Named>> {
    let mut names = Names { starts, lines: vec![vec![]; lines], bound: vec![], fields_print: true };
    names.visit_body(suite);
    for line in &mut names.lines {
        line.sort_by_key(|n| n.at.start);
    }
    names.lines
}

struct Names<'a, 's> {
    starts: &'s [usize],
    lines: Vec<Vec<Named>>,
    /// The names that the comprehensions and `lambda`s around the
    /// expression being read bind: not the frame's.
    bound: Vec<&'a str>,
    /// Whether a bare field of the string being read is printed as it is
    /// (an f-string's; a t-string's is not).
    fields_print: bool,
}

impl<'a> Names<'a, '_> {
    fn record(&mut self, range: TextRange, id: &str, used: Use) {
        let start = range.start().to_usize();
        let line = self.starts.partition_point(|&s| s <= start) - 1;
        let at = start - self.starts[line]..range.end().to_usize() - self.starts[line];
        if let Some(names) = self.lines.get_mut(line) {
            names.push(Named { at, id: id.to_string(), used });
        }
    }

    /// A name expression: read, written or deleted, unless bound around it.
    fn name(&mut self, name: &ExprName, read: Use) {
        if self.bound.contains(&name.id.as_str()) {
            return;
        }
        let used = match name.ctx {
            ExprContext::Load | ExprContext::Invalid => read,
            ExprContext::Store => Use::Written,
            ExprContext::Del => return,
        };
        self.record(name.range, name.id.as_str(), used);
    }

    /// A comprehension: its first iterable is read where it stands, all
    /// else where its targets are bound.
    fn comprehension(&mut self, generators: &'a [Comprehension], parts: &[&'a Expr]) {
        let around = self.bound.len();
        for generator in generators {
            self.visit_expr(&generator.iter);
            bind(&generator.target, &mut self.bound);
            self.visit_expr(&generator.target);
            for condition in &generator.ifs {
                self.visit_expr(condition);
            }
        }
        for part in parts {
            self.visit_expr(part);
        }
        self.bound.truncate(around);
    }

    /// A `lambda`: its defaults are read where it stands, its body where
    /// its parameters are bound.
    fn lambda(&mut self, lambda: &'a ExprLambda) {
        let around = self.bound.len();
        if let Some(parameters) = &lambda.parameters {
            for default in parameters.iter().filter_map(|p| p.default()) {
                self.visit_expr(default);
            }
            self.bound.extend(parameters.iter().map(|p| p.name().as_str()));
        }
        self.visit_expr(&lambda.body);
        self.bound.truncate(around);
    }
}

/// Adds the names a comprehension's `target` binds to `bound`.
fn bind<'a>(target: &'a Expr, bound: &mut Vec<&'a str>) {
    match target {
        Expr::Name(name) => bound.push(name.id.as_str()),
        Expr::Tuple(t) => t.elts.iter().for_each(|e| bind(e, bound)),
        Expr::List(l) => l.elts.iter().for_each(|e| bind(e, bound)),
        Expr::Starred(s) => bind(&s.value, bound),
        _ => {}
    }
}

fn is_print(func: &Expr) -> bool {
    matches!(func, Expr::Name(name) if name.id.as_str() == "print")
}

impl<'a> Visitor<'a> for Names<'a, '_> {
    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Name(name) => self.name(name, Use::Read),
            Expr::Call(call) if is_print(&call.func) => {
                self.visit_expr(&call.func);
                for arg in &call.arguments.args {
                    match arg {
                        Expr::Name(name) => self.name(name, Use::Printed),
                        _ => self.visit_expr(arg),
                    }
                }
                for keyword in &call.arguments.keywords {
                    self.visit_keyword(keyword);
                }
            }
            Expr::Lambda(lambda) => self.lambda(lambda),
            Expr::ListComp(c) => self.comprehension(&c.generators, &[&c.elt]),
            Expr::SetComp(c) => self.comprehension(&c.generators, &[&c.elt]),
            Expr::Generator(c) => self.comprehension(&c.generators, &[&c.elt]),
            Expr::DictComp(c) => {
                let parts: Vec<&Expr> = c.key.as_deref().into_iter().chain([&*c.value]).collect();
                self.comprehension(&c.generators, &parts);
            }
            _ => walk_expr(self, expr),
        }
    }

    /// A `def`'s parameters: their defaults and annotations are read, and
    /// one without a default holds its argument at the call (`def f(x):`
    /// reads `def f(3):` there). One with a default keeps its name, as a
    /// keyword argument's name does.
    fn visit_parameters(&mut self, parameters: &'a Parameters) {
        for parameter in parameters.iter() {
            if let Some(default) = parameter.default() {
                self.visit_expr(default);
            }
            if let Some(annotation) = parameter.annotation() {
                self.visit_annotation(annotation);
            }
            if parameter.default().is_none() {
                self.record(parameter.name().range(), parameter.name().as_str(), Use::Read);
            }
        }
    }

    fn visit_f_string(&mut self, f_string: &'a FString) {
        let around = std::mem::replace(&mut self.fields_print, true);
        walk_f_string(self, f_string);
        self.fields_print = around;
    }

    fn visit_t_string(&mut self, t_string: &'a TString) {
        let around = std::mem::replace(&mut self.fields_print, false);
        walk_t_string(self, t_string);
        self.fields_print = around;
    }

    fn visit_interpolated_string_element(&mut self, element: &'a InterpolatedStringElement) {
        if let InterpolatedStringElement::Interpolation(field) = element
            && let Expr::Name(name) = &*field.expression
            && self.fields_print
            && field.debug_text.is_none()
            && field.conversion == ConversionFlag::None
            && field.format_spec.is_none()
        {
            self.name(name, Use::Printed);
        } else {
            walk_interpolated_string_element(self, element);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Facts;

    /// The names on 0-based `line` of `source`, as `(text, use)`.
    fn named(source: &str, line: usize) -> Vec<(String, Use)> {
        let text = source.lines().nth(line).unwrap();
        Facts::of(source).names(line).iter().map(|n| (text[n.at.clone()].to_string(), n.used)).collect()
    }

    fn uses(list: &[(&str, Use)]) -> Vec<(String, Use)> {
        list.iter().map(|(n, u)| (n.to_string(), *u)).collect()
    }

    #[test]
    fn a_line_reads_writes_and_prints_names_as_python_does() {
        use Use::{Printed, Read, Written};
        let source = "\
def f(x, lo=0, *rest):
    for i, (j, k) in enumerate(x):
        d[i] += lo.y + g(lo=j)
    print(x, k + 1, f'{i}{j!r}', end=k)
    return [v * i for v in x if v], lambda w: w + i
";
        assert_eq!(named(source, 0), uses(&[("x", Read), ("rest", Read)]), "a default keeps its name");
        assert_eq!(
            named(source, 1),
            uses(&[("i", Written), ("j", Written), ("k", Written), ("enumerate", Read), ("x", Read)])
        );
        assert_eq!(named(source, 2), uses(&[("d", Read), ("i", Read), ("lo", Read), ("g", Read), ("j", Read)]));
        assert_eq!(
            named(source, 3),
            uses(&[("print", Read), ("x", Printed), ("k", Read), ("i", Printed), ("j", Read), ("k", Read)])
        );
        assert_eq!(named(source, 4), uses(&[("i", Read), ("x", Read), ("i", Read)]), "v and w are bound inside");
    }

    #[test]
    fn deep_nesting_and_broken_programs_read_without_overflow() {
        let deep = format!("x = {}a{}\n", "(".repeat(50_000), ")".repeat(50_000));
        assert_eq!(named(&deep, 0).first(), Some(&("x".to_string(), Use::Written)));
        let sums = format!("x = {}a\n", "a + ".repeat(50_000));
        assert_eq!(named(&sums, 0).len(), 50_002);
        let unary = format!("x = {}a\n", "-".repeat(50_000));
        assert_eq!(named(&unary, 0).len(), 2);
        let broken = "x = (a +\nif b < :\n    c = [d for\n";
        assert_eq!(named(broken, 0), uses(&[("x", Use::Written), ("a", Use::Read)]));
    }
}
