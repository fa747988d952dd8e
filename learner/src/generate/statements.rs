//! The plain generator's statements: assignments, containers changed,
//! loops, branches, a caught division and helper calls, each well-typed
//! where it stands.

use curio_trace::Language;
use rand::RngExt;

use super::{Gen, Ty};

impl Gen<'_> {
    /// One statement at `depth`, well-typed where it stands: an assignment,
    /// a container changed, a block (while `depth` is under the nesting), a
    /// call of one of `helpers`, or a print.
    pub(super) fn statement(&mut self, depth: usize, helpers: &[usize]) {
        let block = depth < self.cfg.nesting + self.base;
        match self.rng.random_range(0..14) {
            0 | 1 => {
                let e = self.int();
                let v = self.fresh(Ty::Int);
                self.assign(depth, &v, &e);
            }
            2 => {
                let s = self.string();
                let v = self.fresh(Ty::Str);
                self.assign(depth, &v, &s);
            }
            3 => self.string_op(depth, helpers),
            4 => self.list(depth),
            5 => self.append(depth, helpers),
            6 => {
                let (k, v) = (self.string(), self.int());
                let d = self.fresh(Ty::Dict);
                let e = if self.lua() { format!("{{[{k}] = {v}}}") } else { format!("{{{k}: {v}}}") };
                self.assign(depth, &d, &e);
            }
            7 => self.dict_add(depth, helpers),
            8 => self.tuple(depth),
            9 => self.comparison(depth),
            10 if block => self.for_loop(depth, helpers),
            11 if block => self.branch(depth, helpers),
            12 if block => self.try_divide(depth),
            13 if !helpers.is_empty() => self.call(depth, helpers),
            _ => {
                let e = self.int();
                self.print(depth, &e);
            }
        }
    }

    /// A new string made from one there is; another statement where there
    /// is none.
    pub(super) fn string_op(&mut self, depth: usize, helpers: &[usize]) {
        match self.pick(Ty::Str) {
            Some(s) => {
                let ops = if self.js() {
                    [
                        format!("{s}.slice(1) + {s}.slice(0, 1)"),
                        format!("{s}.toUpperCase()"),
                        format!("{s}.replaceAll('a', 'o')"),
                        format!("[{s}, [...{s}].reverse().join('')].join('-')"),
                        format!("`${{{s}}}:${{{s}.length}}`"),
                    ]
                } else if self.lua() {
                    [
                        format!("{s}:sub(2) .. {s}:sub(1, 1)"),
                        format!("{s}:upper()"),
                        format!("({s}:gsub('a', 'o'))"),
                        format!("{s} .. '-' .. {s}:reverse()"),
                        format!("{s} .. ':' .. #{s}"),
                    ]
                } else {
                    [
                        format!("{s}[1:] + {s}[:1]"),
                        format!("{s}.upper()"),
                        format!("{s}.replace('a', 'o')"),
                        format!("'-'.join([{s}, {s}[::-1]])"),
                        format!("f'{{{s}}}:{{len({s})}}'"),
                    ]
                };
                let e = ops[self.rng.random_range(0..ops.len())].clone();
                let v = self.fresh(Ty::Str);
                self.assign(depth, &v, &e);
            }
            None => self.statement(depth, helpers),
        }
    }

    /// A new list of up to three integers under 9.
    pub(super) fn list(&mut self, depth: usize) {
        let items: Vec<String> =
            (0..self.rng.random_range(0..4)).map(|_| self.rng.random_range(0..9).to_string()).collect();
        let v = self.fresh(Ty::List);
        let e = if self.lua() { format!("{{{}}}", items.join(", ")) } else { format!("[{}]", items.join(", ")) };
        self.assign(depth, &v, &e);
    }

    /// An integer appended to a list there is; another statement where
    /// there is none.
    pub(super) fn append(&mut self, depth: usize, helpers: &[usize]) {
        match self.pick(Ty::List) {
            Some(l) => {
                let e = self.int();
                let text = match self.lang {
                    Language::Python => format!("{l}.append({e})"),
                    Language::Lua => format!("table.insert({l}, {e})"),
                    Language::Js => format!("{l}.push({e});"),
                };
                self.line(depth, &text);
            }
            None => self.statement(depth, helpers),
        }
    }

    /// An integer added to a dict's entry for a string there is; another
    /// statement where there is no dict or no string.
    pub(super) fn dict_add(&mut self, depth: usize, helpers: &[usize]) {
        match (self.pick(Ty::Dict), self.pick(Ty::Str)) {
            (Some(d), Some(s)) => {
                let e = self.int();
                let text = match self.lang {
                    Language::Python => format!("{d}[{s}] = {d}.get({s}, 0) + {e}"),
                    Language::Lua => format!("{d}[{s}] = ({d}[{s}] or 0) + {e}"),
                    Language::Js => format!("{d}[{s}] = ({d}[{s}] ?? 0) + {e};"),
                };
                self.line(depth, &text);
            }
            _ => self.statement(depth, helpers),
        }
    }

    /// A new pair of integers, unpacked into two more.
    pub(super) fn tuple(&mut self, depth: usize) {
        let (x, y) = (self.int(), self.int());
        let t = self.fresh(Ty::Tuple);
        let (a, b) = (self.fresh(Ty::Int), self.fresh(Ty::Int));
        if self.lua() {
            self.assign(depth, &t, &format!("{{{x}, {y}}}"));
            self.line(depth, &format!("local {a}, {b} = {t}[1], {t}[2]"));
        } else if self.js() {
            self.assign(depth, &t, &format!("[{x}, {y}]"));
            self.line(depth, &format!("let [{a}, {b}] = {t};"));
        } else {
            self.line(depth, &format!("{t} = ({x}, {y})"));
            self.line(depth, &format!("{a}, {b} = {t}"));
        }
    }

    /// A new bool: two integers compared.
    pub(super) fn comparison(&mut self, depth: usize) {
        let (x, y) = (self.int(), self.int());
        let v = self.fresh(Ty::Bool);
        let op = ["<", "==", ">=", "!="][self.rng.random_range(0..4)];
        let op = match (self.lang, op) {
            (Language::Lua, "!=") => "~=",
            (Language::Js, "==") => "===",
            (Language::Js, "!=") => "!==",
            _ => op,
        };
        self.assign(depth, &v, &format!("{x} {op} {y}"));
    }

    /// A `for` over a range up to the loop bound, with its body. Lua's and
    /// JavaScript's loop variable is gone after its loop; Python's stays.
    pub(super) fn for_loop(&mut self, depth: usize, helpers: &[usize]) {
        if self.named && self.lang == Language::Python {
            return self.shaped_loop(depth, helpers);
        }
        let bound = self.rng.random_range(1..=self.cfg.loop_bound);
        let known = self.vars.len();
        let i = self.fresh(Ty::Int);
        match self.lang {
            Language::Python => self.line(depth, &format!("for {i} in range({bound}):")),
            Language::Lua => self.line(depth, &format!("for {i} = 0, {} do", bound - 1)),
            Language::Js => self.line(depth, &format!("for (let {i} = 0; {i} < {bound}; {i}++) {{")),
        }
        self.body(depth + 1, helpers);
        self.end(depth);
        if self.lang != Language::Python {
            self.vars.truncate(known);
        }
    }

    /// An `if` on two integers compared, with its body and, half the time,
    /// an `else`.
    pub(super) fn branch(&mut self, depth: usize, helpers: &[usize]) {
        let (x, y) = (self.int(), self.int());
        let op = ["<", ">", "==", "<="][self.rng.random_range(0..4)];
        let head = match self.lang {
            Language::Python => format!("if {x} {op} {y}:"),
            Language::Lua => format!("if {x} {op} {y} then"),
            Language::Js => format!("if ({x} {} {y}) {{", if op == "==" { "===" } else { op }),
        };
        self.line(depth, &head);
        self.body(depth + 1, helpers);
        if self.rng.random_bool(0.5) {
            let otherwise = match self.lang {
                Language::Python => "else:",
                Language::Lua => "else",
                Language::Js => "} else {",
            };
            self.line(depth, otherwise);
            self.body(depth + 1, helpers);
        }
        self.end(depth);
    }

    /// A new integer: one divided by 0, 1 or 2 in a `try` (Lua: `pcall`),
    /// whose handler sets it to -1 on the division by zero.
    pub(super) fn try_divide(&mut self, depth: usize) {
        let (x, y) = (self.int(), self.rng.random_range(0..3));
        let v = self.fresh(Ty::Int);
        if self.lua() {
            self.line(depth, &format!("local ok, {v} = pcall(function() return {x} // {y} end)"));
            self.line(depth, &format!("if not ok then {v} = -1 end"));
            return;
        }
        if self.js() {
            // Division by zero is Infinity in JavaScript: the twin throws.
            self.line(depth, &format!("let {v};"));
            self.line(depth, "try {");
            self.line(depth + 1, &format!("if ({y} === 0) throw new RangeError('division by zero');"));
            self.line(depth + 1, &format!("{v} = Math.floor({x} / {y});"));
            self.line(depth, "} catch (e) {");
            self.line(depth + 1, &format!("{v} = -1;"));
            self.line(depth, "}");
            return;
        }
        self.line(depth, "try:");
        self.line(depth + 1, &format!("{v} = {x} // {y}"));
        self.line(depth, "except ZeroDivisionError:");
        self.line(depth + 1, &format!("{v} = -1"));
    }

    /// A block body: its assignments stay visible after it (Python has no
    /// block scope) but may not have run, so they are forgotten afterwards.
    pub(super) fn body(&mut self, depth: usize, helpers: &[usize]) {
        let known = self.vars.len();
        for _ in 0..self.rng.random_range(1..=2) {
            self.statement(depth, helpers);
        }
        self.vars.truncate(known);
    }

    pub(super) fn call(&mut self, depth: usize, helpers: &[usize]) {
        let h = helpers[self.rng.random_range(0..helpers.len())];
        let (expr, ty) = match h {
            0 => (format!("fact({})", self.rng.random_range(0..6)), Ty::Int),
            1 => {
                let x = self.int();
                (format!("clamp({x}, 0, 10)"), Ty::Int)
            }
            2 => match self.pick(Ty::Str) {
                Some(s) => (format!("shout({s})"), Ty::Str),
                None => (format!("shout({})", self.string()), Ty::Str),
            },
            _ => match self.pick(Ty::List) {
                Some(l) => (format!("total({l})"), Ty::Int),
                None if self.lua() => ("total({1, 2, 3})".into(), Ty::Int),
                None => ("total([1, 2, 3])".into(), Ty::Int),
            },
        };
        let v = self.fresh(ty);
        self.assign(depth, &v, &expr);
    }
}
