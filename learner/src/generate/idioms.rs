//! Programs written the way people write Python: descriptive names,
//! `while` loops with `break` and `continue`, string methods and slices,
//! comprehensions, `enumerate` and `zip`, `sorted` with a key, dicts and
//! sets, small classes, and a `try` around a conversion.
//!
//! Like the plain generator it tracks each variable's type, so every
//! statement is well-typed where it stands. It also keeps every loop
//! finite: a loop's counter and the container it walks are read-only in
//! its body, and each `while` moves its counter first.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::GenConfig;

mod expr;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ty {
    Int,
    Bool,
    Str,
    /// A list of ints.
    Ints,
    /// A list of strs.
    Words,
    /// A dict of str to int.
    Counts,
    /// A set of ints.
    Set,
    /// An `Account` (see [`CLASSES`]).
    Account,
    /// A `Stack` of ints.
    Stack,
}

impl Ty {
    /// Names a person would give a variable of this type.
    fn names(self) -> &'static [&'static str] {
        match self {
            Ty::Int => &["total", "count", "index", "step", "limit", "best", "score", "low", "high", "size", "offset"],
            Ty::Bool => &["done", "found", "is_empty", "valid", "has_match", "ready"],
            Ty::Str => &["text", "name", "word", "line", "label", "prefix", "title", "message"],
            Ty::Ints => &["values", "scores", "numbers", "sizes", "digits", "heights", "costs"],
            Ty::Words => &["words", "names", "parts", "tokens", "fruits"],
            Ty::Counts => &["counts", "lengths", "table", "tally"],
            Ty::Set => &["seen", "unique", "remainders", "visited"],
            Ty::Account => &["account", "wallet"],
            Ty::Stack => &["stack", "pending"],
        }
    }
}

struct Var {
    name: String,
    ty: Ty,
    /// Read-only here: a loop's counter or the container it walks.
    fixed: bool,
}

const WORDS: [&str; 10] = ["apple", "kiwi", "banana", "cherry", "plum", "fig", "lemon", "mango", "pear", "grape"];
const SENTENCES: [&str; 5] =
    ["the quick brown fox", "to be or not to be", "hello world", "a man a plan", " spaced out  "];

/// Small classes, with the type their instances get.
const CLASSES: [(&str, Ty); 2] = [
    (
        "class Account:\n    def __init__(self, owner, balance):\n        self.owner = owner\n        self.balance = balance\n\n    def deposit(self, amount):\n        if amount <= 0:\n            return False\n        self.balance += amount\n        return True\n\n",
        Ty::Account,
    ),
    (
        "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        self.items.append(item)\n\n    def pop(self):\n        if not self.items:\n            return None\n        return self.items.pop()\n\n",
        Ty::Stack,
    ),
];

/// Helper functions: their text, the types of their arguments and of what
/// they return.
const FUNCTIONS: [(&str, &[Ty], Ty); 5] = [
    (
        "def count_vowels(text):\n    count = 0\n    for ch in text.lower():\n        if ch in 'aeiou':\n            count += 1\n    return count\n\n",
        &[Ty::Str],
        Ty::Int,
    ),
    (
        "def is_palindrome(word):\n    cleaned = word.replace(' ', '').lower()\n    return cleaned == cleaned[::-1]\n\n",
        &[Ty::Str],
        Ty::Bool,
    ),
    (
        "def running_max(values):\n    best = None\n    result = []\n    for value in values:\n        if best is None or value > best:\n            best = value\n        result.append(best)\n    return result\n\n",
        &[Ty::Ints],
        Ty::Ints,
    ),
    (
        "def first_index(values, target):\n    for index, value in enumerate(values):\n        if value == target:\n            return index\n    return -1\n\n",
        &[Ty::Ints, Ty::Int],
        Ty::Int,
    ),
    ("def gcd(a, b):\n    while b:\n        a, b = b, a % b\n    return a\n\n", &[Ty::Int, Ty::Int], Ty::Int),
];

/// A random idiomatic program for `seed`: its first line reads `n` from
/// the input, as the plain generator's does, so [`super::inputs`] serve
/// both.
pub fn idiomatic(seed: u64, cfg: &GenConfig) -> String {
    let mut g = Idioms { rng: StdRng::seed_from_u64(seed ^ 0x01d1_03a7), cfg, out: String::new(), vars: vec![] };
    let mut functions = vec![];
    for _ in 0..g.rng.random_range(0..=2) {
        let f = g.rng.random_range(0..FUNCTIONS.len());
        if !functions.contains(&f) {
            functions.push(f);
            g.out.push_str(FUNCTIONS[f].0);
        }
    }
    if g.rng.random_bool(0.4) {
        let (class, ty) = CLASSES[g.rng.random_range(0..CLASSES.len())];
        g.out.push_str(class);
        let name = g.fresh(ty);
        let init = match ty {
            Ty::Account => format!("Account('{}', {})", g.word(), g.rng.random_range(0..50)),
            _ => "Stack()".into(),
        };
        g.line(0, &format!("{name} = {init}"));
    }
    let default = g.rng.random_range(0..10);
    g.line(0, &format!("n = int(input() or {default})"));
    g.vars.push(Var { name: "n".into(), ty: Ty::Int, fixed: false });
    // Something to work on, as real programs have: a list, words or text.
    for _ in 0..g.rng.random_range(1..=2) {
        let (ty, e) = match g.rng.random_range(0..3) {
            0 => (Ty::Ints, g.ints()),
            1 => (Ty::Words, g.words()),
            _ => (Ty::Str, format!("'{}'", g.sentence())),
        };
        let v = g.fresh(ty);
        g.line(0, &format!("{v} = {e}"));
    }
    for _ in 0..cfg.statements {
        g.statement(0, false, &functions);
    }
    let shown: Vec<String> = g.vars.iter().rev().take(2).map(|v| v.name.clone()).collect();
    g.line(0, &format!("print({})", shown.join(", ")));
    g.out
}

struct Idioms<'a> {
    rng: StdRng,
    cfg: &'a GenConfig,
    out: String,
    vars: Vec<Var>,
}

impl Idioms<'_> {
    fn line(&mut self, depth: usize, text: &str) {
        self.out.push_str(&"    ".repeat(depth));
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn one<'s>(&mut self, of: &[&'s str]) -> &'s str {
        of[self.rng.random_range(0..of.len())]
    }

    fn word(&mut self) -> &'static str {
        WORDS[self.rng.random_range(0..WORDS.len())]
    }

    fn small(&mut self) -> i64 {
        self.rng.random_range(1..=self.cfg.loop_bound.max(2))
    }

    /// A variable of `ty` to read (`writable`: one the body may change).
    fn pick(&mut self, ty: Ty, writable: bool) -> Option<String> {
        let of: Vec<&Var> = self.vars.iter().filter(|v| v.ty == ty && !(writable && v.fixed)).collect();
        (!of.is_empty()).then(|| of[self.rng.random_range(0..of.len())].name.clone())
    }

    /// A new variable of `ty`, named as a person would (with a number once
    /// the names run out).
    fn fresh(&mut self, ty: Ty) -> String {
        let names = ty.names();
        let start = self.rng.random_range(0..names.len());
        let taken = |n: &str| self.vars.iter().any(|v| v.name == n);
        let name = (0..names.len())
            .map(|i| names[(start + i) % names.len()].to_string())
            .find(|n| !taken(n))
            .unwrap_or_else(|| (2..).map(|k| format!("{}_{k}", names[start])).find(|n| !taken(n)).expect("unbounded"));
        self.vars.push(Var { name: name.clone(), ty, fixed: false });
        name
    }

    /// Runs `body` with `names` read-only, as a loop's counter and the
    /// container it walks are.
    fn fixing(&mut self, names: &[&str], body: impl FnOnce(&mut Self)) {
        let was: Vec<bool> = self.vars.iter().map(|v| v.fixed).collect();
        for v in self.vars.iter_mut().filter(|v| names.contains(&v.name.as_str())) {
            v.fixed = true;
        }
        body(self);
        for (v, fixed) in self.vars.iter_mut().zip(was) {
            v.fixed = fixed;
        }
    }

    /// A new variable of a random type, from an expression of it.
    fn assign(&mut self, depth: usize) {
        let (ty, e) = match self.rng.random_range(0..8) {
            0 | 1 => (Ty::Int, self.int()),
            2 => (Ty::Str, self.string()),
            3 => (Ty::Ints, self.ints()),
            4 => (Ty::Words, self.words()),
            5 => (Ty::Counts, self.counts()),
            6 => (Ty::Set, self.set()),
            _ => (Ty::Bool, self.condition()),
        };
        let v = self.fresh(ty);
        self.line(depth, &format!("{v} = {e}"));
    }

    /// One statement at `depth`; `in_loop` allows `break` and `continue`.
    fn statement(&mut self, depth: usize, in_loop: bool, functions: &[usize]) {
        let block = depth < self.cfg.nesting;
        match self.rng.random_range(0..20) {
            0..=3 => self.assign(depth),
            4 | 5 => self.change(depth, in_loop, functions),
            6 if block => self.while_loop(depth, functions),
            7 if block => self.enumerate_loop(depth, functions),
            8 if block => self.zip_or_items(depth, functions),
            9 if block => self.tally(depth),
            10 | 11 if block => self.branch(depth, in_loop, functions),
            12 if block => self.convert(depth),
            13 if in_loop => {
                let c = self.condition();
                self.line(depth, &format!("if {c}:"));
                let jump = self.one(&["break", "continue"]);
                self.line(depth + 1, jump);
            }
            14 if !functions.is_empty() => self.call(depth, functions),
            15 => self.method(depth, in_loop, functions),
            16 => {
                let (s, i) = (self.string(), self.int());
                self.line(depth, &format!("print({s}, {i})"));
            }
            _ => self.assign(depth),
        }
    }

    /// A variable there is changes: an int grows or shrinks, a list or set
    /// takes an element, a dict counts a word.
    fn change(&mut self, depth: usize, in_loop: bool, functions: &[usize]) {
        let line = match self.rng.random_range(0..4) {
            0 => self.pick(Ty::Int, true).map(|v| format!("{v} {} {}", self.one(&["+=", "-="]), self.int())),
            1 => self.pick(Ty::Ints, true).map(|l| format!("{l}.append({})", self.int())),
            2 => self.pick(Ty::Set, true).map(|s| format!("{s}.add({} % 7)", self.int())),
            _ => self.pick(Ty::Counts, true).map(|d| {
                let key = self.pick(Ty::Str, false).unwrap_or_else(|| format!("'{}'", self.word()));
                format!("{d}[{key}] = {d}.get({key}, 0) + 1")
            }),
        };
        match line {
            Some(line) => self.line(depth, &line),
            None => self.statement(depth, in_loop, functions),
        }
    }

    /// A block body of one to three statements: its assignments stay
    /// visible after it (Python has no block scope) but may not have run,
    /// so they are forgotten afterwards.
    fn body(&mut self, depth: usize, in_loop: bool, functions: &[usize]) {
        let known = self.vars.len();
        for _ in 0..self.rng.random_range(1..=3) {
            self.statement(depth, in_loop, functions);
        }
        self.vars.truncate(known);
    }

    /// A `while` that moves its counter first, so `continue` cannot skip it:
    /// counting up to a bound, down from one, or halving.
    fn while_loop(&mut self, depth: usize, functions: &[usize]) {
        let known = self.vars.len();
        let i = self.fresh(Ty::Int);
        let bound = self.small();
        let (init, test, step) = match self.rng.random_range(0..3) {
            0 => ("0".to_string(), format!("{i} < {bound}"), format!("{i} += 1")),
            1 => (bound.to_string(), format!("{i} > 0"), format!("{i} -= {}", self.rng.random_range(1..3))),
            _ => ((bound * 8).to_string(), format!("{i} > 1"), format!("{i} //= 2")),
        };
        self.line(depth, &format!("{i} = {init}"));
        self.line(depth, &format!("while {test}:"));
        self.line(depth + 1, &step);
        self.fixing(&[i.as_str()], |g| g.body(depth + 1, true, functions));
        self.vars.truncate(known + 1);
        self.vars[known].fixed = false;
    }

    /// A `for` over `enumerate` of a list or string, sometimes with an
    /// `else` for when no `break` ends it.
    fn enumerate_loop(&mut self, depth: usize, functions: &[usize]) {
        let (over, ty) = match (self.pick(Ty::Ints, true), self.pick(Ty::Words, true), self.pick(Ty::Str, false)) {
            (Some(l), _, _) if self.rng.random_bool(0.5) => (l, Ty::Int),
            (_, Some(w), _) => (w, Ty::Str),
            (_, _, Some(s)) => (s, Ty::Str),
            _ => (format!("'{}'", self.word()), Ty::Str),
        };
        let known = self.vars.len();
        let (index, item) = (self.fresh(Ty::Int), self.fresh(ty));
        self.line(depth, &format!("for {index}, {item} in enumerate({over}):"));
        self.fixing(&[index.as_str(), item.as_str(), over.as_str()], |g| g.body(depth + 1, true, functions));
        self.vars.truncate(known);
        if self.rng.random_bool(0.25) {
            self.line(depth, "else:");
            self.body(depth + 1, false, functions);
        }
    }

    /// A `for` over two lists zipped, or over a dict's items in key order.
    fn zip_or_items(&mut self, depth: usize, functions: &[usize]) {
        let known = self.vars.len();
        let (head, walked) = match (self.pick(Ty::Counts, true), self.pick(Ty::Words, true), self.pick(Ty::Ints, true))
        {
            (Some(d), _, _) if self.rng.random_bool(0.5) => {
                let (k, v) = (self.fresh(Ty::Str), self.fresh(Ty::Int));
                (format!("for {k}, {v} in sorted({d}.items()):"), vec![k, v, d])
            }
            (_, Some(w), Some(l)) => {
                let (a, b) = (self.fresh(Ty::Str), self.fresh(Ty::Int));
                (format!("for {a}, {b} in zip({w}, {l}):"), vec![a, b, w, l])
            }
            _ => {
                let s = self.string();
                let ch = self.fresh(Ty::Str);
                (format!("for {ch} in {s}:"), vec![ch])
            }
        };
        self.line(depth, &head);
        let names: Vec<&str> = walked.iter().map(String::as_str).collect();
        self.fixing(&names, |g| g.body(depth + 1, true, functions));
        self.vars.truncate(known);
    }

    /// Counting: a new dict filled from the words or letters there are.
    fn tally(&mut self, depth: usize) {
        let over = match (self.pick(Ty::Words, false), self.pick(Ty::Str, false)) {
            (Some(w), _) => w,
            (None, Some(s)) => s,
            _ => format!("'{}'", self.sentence()),
        };
        let d = self.fresh(Ty::Counts);
        self.line(depth, &format!("{d} = {{}}"));
        self.line(depth, &format!("for item in {over}:"));
        if self.rng.random_bool(0.3) {
            self.line(depth + 1, "if item == ' ':");
            self.line(depth + 2, "continue");
        }
        self.line(depth + 1, &format!("{d}[item] = {d}.get(item, 0) + 1"));
    }

    /// An `if`, with `elif` and `else` branches at times.
    fn branch(&mut self, depth: usize, in_loop: bool, functions: &[usize]) {
        let c = self.condition();
        self.line(depth, &format!("if {c}:"));
        self.body(depth + 1, in_loop, functions);
        if self.rng.random_bool(0.3) {
            let c = self.condition();
            self.line(depth, &format!("elif {c}:"));
            self.body(depth + 1, in_loop, functions);
        }
        if self.rng.random_bool(0.5) {
            self.line(depth, "else:");
            self.body(depth + 1, in_loop, functions);
        }
    }

    /// A new int converted from a string in a `try`, 0 when it is no number.
    fn convert(&mut self, depth: usize) {
        let from = match self.rng.random_range(0..3) {
            0 => format!("'{}'", self.rng.random_range(0..100)),
            1 => self.string(),
            _ => format!("str({})", self.int()),
        };
        let v = self.fresh(Ty::Int);
        self.line(depth, "try:");
        self.line(depth + 1, &format!("{v} = int({from})"));
        self.line(depth, "except ValueError:");
        self.line(depth + 1, &format!("{v} = 0"));
    }

    /// A new variable from one of `functions` called on what there is.
    fn call(&mut self, depth: usize, functions: &[usize]) {
        let (text, args, ty) = FUNCTIONS[functions[self.rng.random_range(0..functions.len())]];
        let name = &text[4..text.find('(').expect("a def")];
        let args: Vec<String> = args
            .iter()
            .map(|&a| match a {
                Ty::Str => self.string(),
                Ty::Ints => self.ints(),
                _ => self.int(),
            })
            .collect();
        let v = self.fresh(ty);
        self.line(depth, &format!("{v} = {name}({})", args.join(", ")));
    }

    /// A method of the instance there is; another statement where there is
    /// none.
    fn method(&mut self, depth: usize, in_loop: bool, functions: &[usize]) {
        if let Some(a) = self.pick(Ty::Account, false) {
            let v = self.fresh(Ty::Bool);
            let amount = self.int();
            self.line(depth, &format!("{v} = {a}.deposit({amount})"));
        } else if let Some(s) = self.pick(Ty::Stack, false) {
            if self.rng.random_bool(0.6) {
                let e = self.int();
                self.line(depth, &format!("{s}.push({e})"));
            } else {
                self.line(depth, &format!("print({s}.pop())"));
            }
        } else {
            self.statement(depth, in_loop, functions);
        }
    }
}
