//! A program's inputs as places to change: the literals of its code
//! outside function and class bodies (a call's arguments, a module's
//! constants) and the words of its stdin, each changed by one small step
//! that keeps its type. Values to change them to come from the program's
//! own literals and from the output searched for.

use curio_trace::MAX_SOURCE_BYTES;
use rand::RngExt;
use rand::rngs::StdRng;
use ruff_python_ast::visitor::{Visitor, walk_expr, walk_stmt};
use ruff_python_ast::{Expr, Number, PythonVersion, Stmt, UnaryOp};
use ruff_python_parser::{Mode, ParseOptions, parse_unchecked};
use ruff_text_size::Ranged;

/// Longest string literal kept as a value to change others to.
const POOLED_STRING: usize = 32;

/// One literal of a program and where it is.
#[derive(Clone, Debug, PartialEq)]
enum Literal {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    /// A list, or a tuple in brackets: its elements' byte ranges.
    Items {
        open: char,
        close: char,
        items: Vec<(usize, usize)>,
    },
}

/// What a program's literals are: the places that may change (`places`)
/// and every value seen, for changing them to.
#[derive(Default)]
struct Literals {
    places: Vec<((usize, usize), Literal)>,
    ints: Vec<i64>,
    strings: Vec<String>,
    /// Whether the expressions walked now are places (outside any body).
    open: bool,
}

impl Literals {
    fn of(source: &str) -> Option<Literals> {
        let options = ParseOptions::from(Mode::Module).with_target_version(PythonVersion::PY314);
        let stack = (source.len() * 1024).max(1 << 20);
        stacker::grow(stack, || {
            let parsed = parse_unchecked(source, options);
            if !parsed.errors().is_empty() {
                return None;
            }
            let module = parsed.try_into_module()?;
            let mut found = Literals { open: true, ..Literals::default() };
            for stmt in module.suite() {
                match stmt {
                    Stmt::Import(_) | Stmt::ImportFrom(_) => {}
                    // A docstring is not an input.
                    Stmt::Expr(e) if e.value.is_string_literal_expr() => {}
                    _ => found.visit_stmt(stmt),
                }
            }
            Some(found)
        })
    }

    fn place(&mut self, range: ruff_text_size::TextRange, literal: Literal) {
        if self.open {
            self.places.push(((range.start().to_usize(), range.end().to_usize()), literal));
        }
    }
}

impl<'a> Visitor<'a> for Literals {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        // A body's literals are values to change to, never places, however
        // deep the definition sits (under an `if`, a `try`).
        if matches!(stmt, Stmt::FunctionDef(_) | Stmt::ClassDef(_)) {
            let open = std::mem::replace(&mut self.open, false);
            walk_stmt(self, stmt);
            self.open = open;
        } else {
            walk_stmt(self, stmt);
        }
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            // Inside an f-string a changed literal could need other quotes.
            Expr::FString(_) | Expr::TString(_) => {}
            Expr::NumberLiteral(n) => match &n.value {
                Number::Int(i) => {
                    if let Some(v) = i.as_i64() {
                        self.ints.push(v);
                        self.place(n.range, Literal::Int(v));
                    }
                }
                Number::Float(f) if f.is_finite() => self.place(n.range, Literal::Float(*f)),
                _ => {}
            },
            // `-3` is one literal, not a minus and a 3.
            Expr::UnaryOp(u) if u.op == UnaryOp::USub => match &*u.operand {
                Expr::NumberLiteral(n) => match &n.value {
                    Number::Int(i) => {
                        if let Some(v) = i.as_i64().and_then(i64::checked_neg) {
                            self.ints.push(v);
                            self.place(u.range, Literal::Int(v));
                        }
                    }
                    Number::Float(f) if f.is_finite() => self.place(u.range, Literal::Float(-f)),
                    _ => {}
                },
                _ => walk_expr(self, expr),
            },
            Expr::StringLiteral(s) => {
                let value = s.value.to_str().to_string();
                if value.len() <= POOLED_STRING {
                    self.strings.push(value.clone());
                }
                // The main guard's name is not an input.
                if value != "__main__" {
                    self.place(s.range, Literal::Str(value));
                }
            }
            Expr::BooleanLiteral(b) => self.place(b.range, Literal::Bool(b.value)),
            Expr::List(l) if l.ctx.is_load() => {
                let items = l.elts.iter().map(|e| (e.start().to_usize(), e.end().to_usize())).collect();
                self.place(l.range, Literal::Items { open: '[', close: ']', items });
                walk_expr(self, expr);
            }
            Expr::Tuple(t) if t.parenthesized && t.ctx.is_load() => {
                let items = t.elts.iter().map(|e| (e.start().to_usize(), e.end().to_usize())).collect();
                self.place(t.range, Literal::Items { open: '(', close: ')', items });
                walk_expr(self, expr);
            }
            _ => walk_expr(self, expr),
        }
    }
}

/// Changes a program's inputs one small step at a time.
#[derive(Clone, Debug)]
pub struct Changer {
    /// Longest program and stdin together a change may make: twice the
    /// start's and a little, so repeated doubling cannot grow without end.
    longest: usize,
    ints: Vec<i64>,
    strings: Vec<String>,
    chars: Vec<char>,
}

impl Changer {
    /// For `source` with `stdin`, searched for printing `target`: values
    /// come from the program's literals and the target's words.
    pub fn new(source: &str, stdin: &str, target: &str) -> Changer {
        let found = Literals::of(source).unwrap_or_default();
        let mut ints = found.ints;
        let mut strings = found.strings;
        for word in target.split(|c: char| c.is_whitespace() || ",[]()'\"".contains(c)).filter(|w| !w.is_empty()) {
            match word.parse::<i64>() {
                Ok(v) => ints.push(v),
                Err(_) if word.len() <= POOLED_STRING => strings.push(word.to_string()),
                Err(_) => {}
            }
        }
        for line in target.lines().filter(|l| l.len() <= POOLED_STRING) {
            strings.push(line.to_string());
        }
        ints.sort_unstable();
        ints.dedup();
        strings.sort();
        strings.dedup();
        let mut chars: Vec<char> = target.chars().chain(stdin.chars()).chain(strings.concat().chars()).collect();
        chars.extend('a'..='z');
        chars.retain(|c| !c.is_control());
        chars.sort_unstable();
        chars.dedup();
        let longest = (2 * (source.len() + stdin.len()) + 256).min(MAX_SOURCE_BYTES);
        Changer { longest, ints, strings, chars }
    }

    /// `(source, stdin)` with one literal or one word of stdin changed, or
    /// `None` where the pick changed nothing or grew the input past twice
    /// its start (try again), or the program has nothing to change or does
    /// not parse.
    pub fn change(&self, at: (&str, &str), rng: &mut StdRng) -> Option<(String, String)> {
        self.change_any(at, rng).filter(|(s, i)| s.len() + i.len() <= self.longest)
    }

    fn change_any(&self, (source, stdin): (&str, &str), rng: &mut StdRng) -> Option<(String, String)> {
        let places = Literals::of(source).map(|l| l.places).unwrap_or_default();
        let words: Vec<(usize, usize)> = words(stdin);
        // Stdin's words weigh as much as the code's places, when both have some.
        let from_stdin = match (places.is_empty(), words.is_empty()) {
            (true, true) => return None,
            (true, false) => true,
            (false, true) => false,
            (false, false) => rng.random::<bool>(),
        };
        if from_stdin {
            let (start, end) = words[rng.random_range(0..words.len())];
            let word = &stdin[start..end];
            let new = match word.parse::<i64>() {
                Ok(v) => self.int(v, rng)?.to_string(),
                Err(_) => self.string(word, rng).replace(char::is_whitespace, ""),
            };
            let changed = format!("{}{new}{}", &stdin[..start], &stdin[end..]);
            return (changed != stdin).then(|| (source.to_string(), changed));
        }
        let ((start, end), literal) = &places[rng.random_range(0..places.len())];
        let new = match literal {
            Literal::Int(v) => self.int(*v, rng)?.to_string(),
            Literal::Float(v) => float(*v, rng)?,
            // The same value in other quotes is no change.
            Literal::Str(s) => Some(self.string(s, rng)).filter(|v| v != s).map(|v| python_string(&v))?,
            Literal::Bool(b) => (if *b { "False" } else { "True" }).to_string(),
            Literal::Items { open, close, items } => {
                let mut items: Vec<&str> = items.iter().map(|&(a, b)| &source[a..b]).collect();
                rearrange(&mut items, rng)?;
                let joined = items.join(", ");
                let single = *open == '(' && items.len() == 1;
                format!("{open}{joined}{}{close}", if single { "," } else { "" })
            }
        };
        let changed = format!("{}{new}{}", &source[..*start], &source[*end..]);
        (changed != source).then(|| (changed, stdin.to_string()))
    }

    fn int(&self, v: i64, rng: &mut StdRng) -> Option<i64> {
        match rng.random_range(0..8) {
            0 => v.checked_add(1),
            1 => v.checked_sub(1),
            2 => v.checked_mul(2),
            3 => Some(v / 2),
            4 => v.checked_neg(),
            5 => Some(rng.random_range(-10..=10)),
            _ if !self.ints.is_empty() => Some(self.ints[rng.random_range(0..self.ints.len())]),
            _ => Some(0),
        }
    }

    fn string(&self, s: &str, rng: &mut StdRng) -> String {
        let mut chars: Vec<char> = s.chars().collect();
        let any = |rng: &mut StdRng| self.chars[rng.random_range(0..self.chars.len())];
        match rng.random_range(0..6) {
            0 if !chars.is_empty() => {
                chars.remove(rng.random_range(0..chars.len()));
            }
            1 if !chars.is_empty() => {
                let i = rng.random_range(0..chars.len());
                chars[i] = any(rng);
            }
            2 => chars.reverse(),
            3 if !self.strings.is_empty() => return self.strings[rng.random_range(0..self.strings.len())].clone(),
            4 => return String::new(),
            _ => chars.insert(rng.random_range(0..=chars.len()), any(rng)),
        }
        chars.into_iter().collect()
    }
}

/// One element of a list dropped, doubled, or swapped with the next.
fn rearrange(items: &mut Vec<&str>, rng: &mut StdRng) -> Option<()> {
    if items.is_empty() {
        return None;
    }
    let i = rng.random_range(0..items.len());
    match rng.random_range(0..3) {
        0 => {
            items.remove(i);
        }
        1 => items.insert(i, items[i]),
        _ if i + 1 < items.len() => items.swap(i, i + 1),
        _ => return None,
    }
    Some(())
}

fn float(v: f64, rng: &mut StdRng) -> Option<String> {
    let new = match rng.random_range(0..5) {
        0 => v + 1.0,
        1 => v - 1.0,
        2 => v * 2.0,
        3 => v / 2.0,
        _ => -v,
    };
    let text = format!("{new:?}");
    // `-0.5` in code reads as a minus and a float; brackets keep `x-0.5` apart.
    new.is_finite().then(|| if new < 0.0 { format!("({text})") } else { text })
}

/// The byte ranges of `text`'s words (split at whitespace).
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut out = vec![];
    let mut start = None;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

/// `s` as a Python string literal in single quotes.
pub(crate) fn python_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn parses(source: &str) -> bool {
        Literals::of(source).is_some()
    }

    #[test]
    fn places_are_the_literals_outside_bodies_and_a_negative_number_is_one() {
        let source =
            "import math\ndef f(xs, k=7):\n    '''doc 5'''\n    return xs[0] + k\nprint(f([1, -2, 3], 'ab'), True)\n";
        let found = Literals::of(source).unwrap();
        let texts: Vec<&str> = found.places.iter().map(|((a, b), _)| &source[*a..*b]).collect();
        assert_eq!(texts, ["[1, -2, 3]", "1", "-2", "3", "'ab'", "True"]);
        assert_eq!(found.places[2].1, Literal::Int(-2));
        // Every literal is a value to change to, the body's too.
        assert!(found.ints.contains(&7) && found.ints.contains(&0) && found.ints.contains(&-2));
        assert!(Literals::of("print((1,\n").is_none(), "a program that does not parse has no places");
        // However deep a definition sits, its body is not an input; nor are
        // f-strings, assignment targets and the main guard's name.
        let nested = "if True:\n    def g():\n        return 5\n[a, b] = [1, 2]\nx = f'{a} {\"k\"}'\nif __name__ == '__main__':\n    print(g())\n";
        let found = Literals::of(nested).unwrap();
        let texts: Vec<&str> = found.places.iter().map(|((a, b), _)| &nested[*a..*b]).collect();
        assert_eq!(texts, ["True", "[1, 2]", "1", "2"]);
        assert!(found.ints.contains(&5));
    }

    #[test]
    fn every_change_is_one_place_and_still_parses() {
        let source = "def f(xs, s, n, x, b):\n    return xs\nprint(f([1, 2, 3], 'a\\'b', -4, 2.5, False))\n";
        let changer = Changer::new(source, "7 abc\n", "[4, 5]\nhello");
        let mut rng = StdRng::seed_from_u64(1);
        let (mut in_code, mut in_stdin) = (0, 0);
        for _ in 0..400 {
            let Some((changed, stdin)) = changer.change((source, "7 abc\n"), &mut rng) else { continue };
            assert!(parses(&changed), "{changed}");
            assert!(changed.starts_with("def f(xs, s, n, x, b):\n    return xs\nprint(f("), "{changed}");
            assert!(changed != source || stdin != "7 abc\n");
            if stdin == "7 abc\n" {
                in_code += 1;
            } else {
                in_stdin += 1;
                assert_eq!(changed, source);
                assert!(stdin.ends_with('\n') && stdin.split_whitespace().count() <= 2, "{stdin:?}");
            }
        }
        assert!(in_code > 100 && in_stdin > 100, "{in_code} {in_stdin}");
        assert!(changer.ints.contains(&4) && changer.strings.contains(&"hello".to_string()), "the target's words");
        assert!(Changer::new("x = y\n", "", "").change(("x = y\n", ""), &mut rng).is_none(), "nothing to change");
        // The same string in other quotes is no change.
        let quoted = "print(\"ab\")\n";
        let changer = Changer::new(quoted, "", "ab");
        for _ in 0..200 {
            let changed = changer.change((quoted, ""), &mut rng);
            assert!(changed.is_none_or(|(s, _)| s != "print('ab')\n"));
        }
        // Doubling an element again and again stops at twice the start and a little.
        let long = format!("print([{:?}])\n", "a".repeat(200));
        let changer = Changer::new(&long, "", "");
        let mut at = (long.clone(), String::new());
        for _ in 0..200 {
            if let Some(next) = changer.change((&at.0, &at.1), &mut rng) {
                at = next;
            }
            assert!(at.0.len() <= 2 * long.len() + 256, "{}", at.0.len());
        }
    }

    #[test]
    fn python_strings_escape_what_python_would() {
        assert_eq!(python_string("a'b\\c\n\u{1}é"), "'a\\'b\\\\c\\n\\x01é'");
        let mut rng = StdRng::seed_from_u64(2);
        let mut items = vec!["1"];
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let mut each = items.clone();
            if rearrange(&mut each, &mut rng).is_some() {
                seen.insert(each.len());
            }
        }
        assert_eq!(seen, [0, 2].into_iter().collect(), "one element dropped or doubled");
        items.clear();
        assert!(rearrange(&mut items, &mut rng).is_none());
        assert_eq!(words(" ab  c\n"), [(1, 3), (5, 6)]);
    }
}
