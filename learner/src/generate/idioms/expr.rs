//! Expressions of each type for the idiomatic generator: numbers,
//! conditions, strings and containers built from the variables in scope.

use rand::RngExt;

use super::{Idioms, SENTENCES, Ty};

impl Idioms<'_> {
    pub(super) fn int(&mut self) -> String {
        let v = self.pick(Ty::Int, false).unwrap_or_else(|| "n".into());
        match self.rng.random_range(0..12) {
            0..=2 => v,
            3 => self.rng.random_range(0..20).to_string(),
            4 => format!("{v} {} {}", self.one(&["+", "-", "*", "//", "%"]), self.rng.random_range(2..6)),
            5 => match self.pick(Ty::Ints, false) {
                Some(l) => match self.rng.random_range(0..4) {
                    0 => format!("sum({l})"),
                    1 => format!("len({l})"),
                    2 => format!("max({l}, default=0)"),
                    _ => format!("min({l}, default=0)"),
                },
                None => v,
            },
            6 => match self.pick(Ty::Str, false) {
                Some(s) => format!("{s}.{}('{}')", self.one(&["count", "find"]), self.one(&["a", "e", "o", " "])),
                None => v,
            },
            7 => match self.pick(Ty::Words, false) {
                Some(w) => format!("sum(1 for w in {w} if len(w) > {})", self.rng.random_range(2..6)),
                None => format!("abs({v} - {})", self.rng.random_range(0..10)),
            },
            8 => match self.pick(Ty::Counts, false) {
                Some(d) => format!("{d}.get('{}', 0)", self.word()),
                None => format!("len(str({v}))"),
            },
            9 => match self.pick(Ty::Account, false) {
                Some(a) => format!("{a}.balance"),
                None => v,
            },
            _ => match (self.pick(Ty::Set, false), self.pick(Ty::Str, false)) {
                (Some(s), _) => format!("len({s})"),
                (None, Some(s)) => format!("len({s})"),
                _ => v,
            },
        }
    }

    pub(super) fn condition(&mut self) -> String {
        let base = match self.rng.random_range(0..9) {
            0 | 1 => {
                let (a, b) = (self.int(), self.int());
                let b = if a == b { self.rng.random_range(0..10).to_string() } else { b };
                format!("{a} {} {b}", self.one(&["<", ">", "==", "<=", "!="]))
            }
            2 => format!("{} % 2 == 0", self.int()),
            3 => match self.pick(Ty::Str, false) {
                Some(s) => format!("{s}.startswith('{}')", self.one(&["a", "b", "t", "h"])),
                None => format!("{} > 3", self.int()),
            },
            4 => match self.pick(Ty::Str, false) {
                Some(s) => format!("'{}' in {s}", self.one(&["a", "e", "an", " "])),
                None => format!("{} < 5", self.int()),
            },
            5 => match self.pick(Ty::Set, false) {
                Some(s) => format!("{} in {s}", self.int()),
                None => format!("{} != 0", self.int()),
            },
            6 => match self.pick(Ty::Ints, false) {
                Some(l) => format!("not {l}"),
                None => format!("{} >= 2", self.int()),
            },
            7 => match self.pick(Ty::Bool, false) {
                Some(b) => b,
                None => format!("{} == 1", self.int()),
            },
            _ => match self.pick(Ty::Counts, false) {
                Some(d) => format!("'{}' in {d}", self.word()),
                None => format!("{} > 0", self.int()),
            },
        };
        if self.rng.random_range(0..5) == 0 {
            let other = self.condition();
            format!("{base} {} {other}", self.one(&["and", "or"]))
        } else {
            base
        }
    }

    pub(super) fn string(&mut self) -> String {
        let s = match self.pick(Ty::Str, false) {
            Some(s) if self.rng.random_bool(0.7) => s,
            _ => return format!("'{}'", if self.rng.random_bool(0.6) { self.word() } else { self.sentence() }),
        };
        match self.rng.random_range(0..10) {
            0 => format!("{s}.{}()", self.one(&["upper", "lower", "strip", "title", "capitalize"])),
            1 => format!("{s}[::-1]"),
            2 => format!("{s}[{}:{}]", self.rng.random_range(0..3), self.rng.random_range(3..7)),
            3 => format!("{s}.replace('{}', '{}')", self.one(&["a", "e", " "]), self.one(&["o", "", "_"])),
            4 => match self.pick(Ty::Words, false) {
                Some(w) => format!("'{}'.join({w})", self.one(&[" ", "-", ", ", ""])),
                None => format!("{s} + '!'"),
            },
            5 => format!("f\"{{{s}}}: {{{}}}\"", self.int()),
            6 => format!("str({})", self.int()),
            7 => match self.pick(Ty::Words, false) {
                Some(w) => format!("max({w}, key=len, default='')"),
                None => format!("{s}.strip().split(' ')[0]"),
            },
            _ => format!("{s}[:{}]", self.rng.random_range(1..5)),
        }
    }

    pub(super) fn sentence(&mut self) -> &'static str {
        SENTENCES[self.rng.random_range(0..SENTENCES.len())]
    }

    pub(super) fn ints(&mut self) -> String {
        let literal = |g: &mut Self| {
            let items: Vec<String> =
                (0..g.rng.random_range(0..5)).map(|_| g.rng.random_range(0..10).to_string()).collect();
            format!("[{}]", items.join(", "))
        };
        let Some(l) = self.pick(Ty::Ints, false) else { return literal(self) };
        match self.rng.random_range(0..10) {
            0 => literal(self),
            1 => format!("[x * {} for x in {l}]", self.rng.random_range(2..4)),
            2 => format!("[x for x in {l} if x % {} == 0]", self.rng.random_range(2..4)),
            3 => format!("sorted({l}, reverse=True)"),
            4 => format!("sorted({l}, key=lambda v: (v % 3, v))"),
            5 => format!("{l}[{}:]", self.rng.random_range(1..3)),
            6 => format!("{l}[::2]"),
            7 => format!("list(range({}))", self.small()),
            8 => match self.pick(Ty::Words, false) {
                Some(w) => format!("[len(w) for w in {w}]"),
                None => format!("{l} + [{}]", self.rng.random_range(0..10)),
            },
            _ => match self.pick(Ty::Ints, false) {
                Some(m) => format!("[a + b for a, b in zip({l}, {m})]"),
                None => format!("sorted({l})"),
            },
        }
    }

    pub(super) fn words(&mut self) -> String {
        let literal = |g: &mut Self| {
            let items: Vec<String> = (0..g.rng.random_range(1..5)).map(|_| format!("'{}'", g.word())).collect();
            format!("[{}]", items.join(", "))
        };
        match (self.rng.random_range(0..7), self.pick(Ty::Words, false), self.pick(Ty::Str, false)) {
            (0, _, Some(s)) => format!("{s}.split()"),
            (1, _, None) => format!("'{}'.split()", self.sentence()),
            (2, Some(w), _) => format!("sorted({w}, key={})", self.one(&["len", "lambda w: (len(w), w)", "str.lower"])),
            (3, Some(w), _) => format!("[w.upper() for w in {w}]"),
            (4, Some(w), _) => format!("[w for w in {w} if len(w) > {}]", self.rng.random_range(3..6)),
            (5, Some(w), _) => format!("{w}[::-1]"),
            (6, _, _) => match self.pick(Ty::Counts, false) {
                Some(d) => format!("sorted({d})"),
                None => literal(self),
            },
            _ => literal(self),
        }
    }

    pub(super) fn counts(&mut self) -> String {
        match (self.rng.random_range(0..4), self.pick(Ty::Words, false)) {
            (0, Some(w)) => format!("{{w: len(w) for w in {w}}}"),
            (1, Some(w)) => match self.pick(Ty::Ints, false) {
                Some(l) => format!("dict(zip({w}, {l}))"),
                None => format!("{{w[:1]: len(w) for w in {w}}}"),
            },
            _ => format!("{{'{}': {}, '{}': {}}}", self.word(), self.int(), self.word(), self.int()),
        }
    }

    pub(super) fn set(&mut self) -> String {
        match (self.rng.random_range(0..5), self.pick(Ty::Ints, false), self.pick(Ty::Set, false)) {
            (0, Some(l), _) => format!("set({l})"),
            (1, Some(l), _) => format!("{{x % {} for x in {l}}}", self.rng.random_range(2..5)),
            (2, Some(l), Some(s)) => format!("{s} & set({l})"),
            (3, _, Some(s)) => format!("{s} | {{{}}}", self.int()),
            _ => "set()".into(),
        }
    }
}
