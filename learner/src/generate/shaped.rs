//! Generated programs in the shape of the ones people submit and the real
//! suite holds: a function with annotated parameters and a docstring, whose
//! body is the plain generator's statements under names a person would
//! give, then one call of it, printed with `repr`.
//!
//! The plain generator's programs run at module level, so every value it
//! teaches is learnt outside a call. In a HumanEval program every update
//! happens in a function's frame, below its caller's, and a model trained
//! on the first did not carry its values over to the second.

use curio_trace::Language;
use rand::RngExt;

use super::{Gen, GenConfig, Ty};

/// The function's name is a verb and a noun, its parameters' names come
/// from these, and none is a variable's ([`Ty::names`]): a name is to be
/// copied from the program, not recalled.
const VERBS: [&str; 16] = [
    "count", "find", "get", "make", "check", "sort", "merge", "split", "build", "parse", "filter", "reverse", "encode",
    "rotate", "collect", "sum",
];
const NOUNS: [&str; 16] = [
    "words", "values", "pairs", "steps", "letters", "scores", "chars", "nums", "parts", "keys", "runs", "gaps",
    "peaks", "tokens", "lines", "blocks",
];
const INT_PARAMS: [&str; 12] =
    ["n", "k", "x", "num", "number", "limit", "amount", "target", "value", "m", "start", "level"];
const LIST_PARAMS: [&str; 8] = ["values", "arr", "lst", "nums", "data", "xs", "elements", "numbers_in"];
const STR_PARAMS: [&str; 6] = ["s", "string", "txt", "phrase", "msg", "source"];
/// Words a name may take beside its own: `max_count`, `count_left`.
/// Real programs name things no generator lists, so most names are made
/// of two words or of syllables (`tovami`), from far too many to recall:
/// the model has to copy them from the program.
const WORDS: [&str; 40] = [
    "max", "min", "new", "old", "next", "prev", "last", "first", "even", "odd", "left", "right", "top", "inner",
    "outer", "raw", "short", "long", "big", "small", "upper", "lower", "start", "end", "part", "full", "half", "valid",
    "extra", "temp", "base", "final", "current", "seen", "unique", "char", "word", "num", "val", "run",
];
const DOCS: [&str; 4] = [
    "Return what is left of {p} after the steps below.",
    "Given {p}, work out the answer step by step.",
    "Compute a value from {p} and return it.",
    "Check {p} and report the result.",
];

/// A random function-shaped Python program for `seed`: the plain
/// generator's helpers, then a function of an int (and, half the time, a
/// list of ints) that runs `cfg.statements` statements and returns its last
/// variable, then `print(repr(...))` of a call whose int is read from the
/// input, so [`super::inputs`] serve it as they serve the others.
pub fn shaped(seed: u64, cfg: &GenConfig) -> String {
    let mut g = Gen::new(seed ^ 0x05_4A_9E_D0, cfg, Language::Python);
    g.base = 1;
    g.named = true;
    let used = g.helpers();
    let helpers = std::mem::take(&mut g.out);
    let (verb, noun) = (pick(&mut g, &VERBS), pick(&mut g, &NOUNS));
    let name = match g.rng.random_range(0..3) {
        0 => format!("{verb}_{noun}"),
        1 => format!("{verb}_{}_{noun}", pick(&mut g, &WORDS)),
        _ => format!("{verb}_{}", g.syllables()),
    };
    g.vars_named.push(name.clone());
    let int = g.person_name(&INT_PARAMS);
    // The int comes from the input (so the inputs vary the run) or, as in
    // the real suite's calls, is written in the call.
    let default = g.rng.random_range(0..10);
    let int_arg = match g.rng.random_bool(0.5) {
        true => format!("int(input() or {default})"),
        false => g.rng.random_range(0..12).to_string(),
    };
    g.vars.push((int.clone(), Ty::Int));
    let mut params = vec![format!("{int}: int")];
    let mut args = vec![int_arg];
    let mut shown = vec![g.rng.random_range(0..10).to_string()];
    if g.rng.random_bool(0.5) {
        let list = g.person_name(&LIST_PARAMS);
        let items: Vec<String> = (0..g.rng.random_range(1..5)).map(|_| g.rng.random_range(0..9).to_string()).collect();
        g.vars.push((list.clone(), Ty::List));
        params.push(format!("{list}: list"));
        args.push(format!("[{}]", items.join(", ")));
        shown.push("[1, 2]".into());
    }
    if g.rng.random_bool(0.4) {
        let text = g.person_name(&STR_PARAMS);
        let literal = g.string();
        g.vars.push((text.clone(), Ty::Str));
        params.push(format!("{text}: str"));
        args.push(literal);
        shown.push("'ab'".into());
    }
    let doc = pick(&mut g, &DOCS).replace("{p}", &int);
    for _ in 0..cfg.statements {
        g.statement(1, &used);
    }
    let (last, ty) = g.vars.last().cloned().expect("the int at least");
    let (returned, ty) = g.returned(last, ty);
    let body = std::mem::take(&mut g.out);
    format!(
        "{helpers}\n\ndef {name}({}) -> {}:\n    \"\"\" {doc}\n    >>> {name}({})\n    \"\"\"\n{body}    return {returned}\n\n\nprint(repr({name}({})))\n",
        params.join(", "),
        ty.annotation(),
        shown.join(", "),
        args.join(", "),
    )
}

impl Gen<'_> {
    /// A name no variable or parameter of the program has yet: one of
    /// `own` half the time, else one of them with a word before or after
    /// it, or a made-up word.
    pub(super) fn person_name(&mut self, own: &[&str]) -> String {
        for _ in 0..20 {
            let head = own[self.rng.random_range(0..own.len())];
            let word = WORDS[self.rng.random_range(0..WORDS.len())];
            let name = match self.rng.random_range(0..6) {
                0..3 => head.to_string(),
                3 => format!("{word}_{head}"),
                4 => format!("{head}_{word}"),
                _ => self.syllables(),
            };
            if !self.vars_named.contains(&name) {
                self.vars_named.push(name.clone());
                return name;
            }
        }
        let mut name = format!("{}{}", own[0], self.next_var);
        while self.vars_named.contains(&name) {
            name.push('_');
        }
        self.vars_named.push(name.clone());
        name
    }

    /// A made-up word of two or three syllables, each a consonant and a
    /// vowel (so never a keyword or a builtin's name).
    fn syllables(&mut self) -> String {
        let (consonants, vowels) = (b"bdfgklmnprstvz", b"aeiou");
        (0..self.rng.random_range(2..=3))
            .flat_map(|_| {
                let c = consonants[self.rng.random_range(0..consonants.len())];
                [c as char, vowels[self.rng.random_range(0..vowels.len())] as char]
            })
            .collect()
    }

    /// What the function returns, and its type: the last variable half the
    /// time, else an expression of it, as real functions return
    /// `len(string)` or `number % 1.0`.
    fn returned(&mut self, last: String, ty: Ty) -> (String, Ty) {
        if self.rng.random_bool(0.5) {
            return (last, ty);
        }
        let k = self.rng.random_range(1..5);
        let pick = self.rng.random_range(0..3);
        match (ty, pick) {
            (Ty::Int, 0) => (format!("{last} + {k}"), Ty::Int),
            (Ty::Int, 1) => (format!("{last} * {k}"), Ty::Int),
            (Ty::Int, _) => (format!("abs({last})"), Ty::Int),
            (Ty::List, 0) => (format!("len({last})"), Ty::Int),
            (Ty::List, 1) => (format!("sorted({last})"), Ty::List),
            (Ty::List, _) => (format!("{last}[::-1]"), Ty::List),
            (Ty::Str, 0) => (format!("len({last})"), Ty::Int),
            (Ty::Str, 1) => (format!("{last}.upper()"), Ty::Str),
            (Ty::Str, _) => (format!("{last}[::-1]"), Ty::Str),
            (Ty::Bool, _) => (format!("not {last}"), Ty::Bool),
            (Ty::Dict, 0) => (format!("sorted({last})"), Ty::List),
            (Ty::Dict, _) => (format!("len({last})"), Ty::Int),
            (Ty::Tuple, _) => (format!("{last}[0]"), Ty::Int),
        }
    }

    /// A `for` as people write them, with its body: over a range of a
    /// literal or of the int parameter, reversed, from a start, or over a
    /// list there is (its items, its indices, `enumerate`, neighbouring
    /// pairs with `zip`). The plain generator counts over literal ranges
    /// only, and most of the real suite's integer updates are loop heads of
    /// these other kinds. A loop may run no times, so its variables are
    /// forgotten after it, and no statement in the body grows the list it
    /// walks.
    pub(super) fn shaped_loop(&mut self, depth: usize, helpers: &[usize]) {
        let bound = self.rng.random_range(1..=self.cfg.loop_bound);
        // The int parameter is the first variable (at most 11: the inputs').
        let param = self.vars.first().filter(|(_, t)| *t == Ty::Int).map(|(v, _)| v.clone());
        let upto = match param {
            Some(p) if self.rng.random_bool(0.5) => p,
            _ => bound.to_string(),
        };
        let list = self.pick(Ty::List);
        let known = self.vars.len();
        let shape = self.rng.random_range(0..8);
        let head = match (shape, &list) {
            (4, Some(l)) => format!("for {} in {l}:", self.fresh(Ty::Int)),
            (5, Some(l)) => format!("for {} in range(len({l})):", self.fresh(Ty::Int)),
            (6, Some(l)) => format!("for {}, {} in enumerate({l}):", self.fresh(Ty::Int), self.fresh(Ty::Int)),
            (7, Some(l)) => format!("for {}, {} in zip({l}, {l}[1:]):", self.fresh(Ty::Int), self.fresh(Ty::Int)),
            (1 | 4, _) => format!("for {} in range({upto}):", self.fresh(Ty::Int)),
            (2 | 5, _) => format!("for {} in reversed(range({upto})):", self.fresh(Ty::Int)),
            (3 | 6, _) => {
                let start = self.rng.random_range(1..3);
                format!("for {} in range({start}, {upto} + {start}):", self.fresh(Ty::Int))
            }
            _ => format!("for {} in range({bound}):", self.fresh(Ty::Int)),
        };
        self.line(depth, &head);
        let walked = list.filter(|_| shape >= 4).into_iter().collect::<Vec<_>>();
        self.iterated.extend(walked.iter().cloned());
        self.body(depth + 1, helpers);
        self.iterated.retain(|v| !walked.contains(v));
        self.vars.truncate(known);
    }
}

fn pick<'a>(g: &mut Gen, from: &[&'a str]) -> &'a str {
    from[g.rng.random_range(0..from.len())]
}

impl Ty {
    /// Names a person would give a variable of this type; no two types
    /// share one, and none is a helper function's, a parameter's
    /// or a builtin's.
    /// Many, so that a model learns to copy a name rather than recall it.
    pub(super) fn names(self) -> &'static [&'static str] {
        match self {
            Ty::Int => &[
                "count",
                "index",
                "step",
                "low",
                "high",
                "size",
                "offset",
                "best",
                "i",
                "j",
                "delta",
                "result",
                "carry",
                "length",
                "pos",
                "left",
                "right",
                "mid",
                "acc",
                "diff",
                "prod",
                "width",
                "height",
                "score",
                "remainder",
                "quotient",
                "digit",
                "shift",
                "base",
                "power",
                "ones",
                "tens",
                "lo",
                "hi",
                "idx",
                "cnt",
            ],
            Ty::Bool => &[
                "found",
                "done",
                "is_valid",
                "ok",
                "matched",
                "flag",
                "is_sorted",
                "has_pair",
                "balanced",
                "seen_zero",
                "is_even",
                "changed",
                "inside",
                "ready",
            ],
            Ty::Str => &[
                "text", "word", "name", "prefix", "label", "line", "suffix", "letters", "message", "token", "key",
                "chunk", "head", "tail", "title", "code", "pattern", "sentence", "part", "joined",
            ],
            Ty::List => &[
                "items",
                "numbers",
                "digits",
                "stack",
                "queue",
                "evens",
                "odds",
                "out",
                "res",
                "row",
                "path",
                "sizes",
                "primes",
                "buffer",
                "history",
                "collected",
                "window",
                "merged",
                "heights",
                "costs",
            ],
            Ty::Dict => &["counts", "table", "seen", "lookup", "freq", "memo", "index_of", "totals", "cache", "groups"],
            Ty::Tuple => &["pair", "point", "span", "bounds", "edge", "coords", "interval", "entry", "cell", "move"],
        }
    }

    /// Its annotation.
    fn annotation(self) -> &'static str {
        match self {
            Ty::Int => "int",
            Ty::Bool => "bool",
            Ty::Str => "str",
            Ty::List => "list",
            Ty::Dict => "dict",
            Ty::Tuple => "tuple",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaped_programs_are_one_function_called_once_and_differ_by_seed() {
        let cfg = GenConfig::default();
        let programs: Vec<String> = (0..50).map(|seed| shaped(seed, &cfg)).collect();
        for p in &programs {
            let calls = p.lines().filter(|l| l.starts_with("print(repr(")).count();
            assert_eq!(calls, 1, "{p}");
            assert!(p.contains("    \"\"\" "), "{p}");
            let def = p.lines().find(|l| l.starts_with("def ") && l.contains(": int")).expect("the function");
            assert!(def.contains(") -> "), "{def}");
            // The body is the function's: nothing between the def and the call is at module level.
            let body = p.split(def).nth(1).expect("body").split("\n\n\nprint").next().expect("body");
            assert!(body.lines().skip(1).all(|l| l.starts_with("    ")), "{p}");
            assert!(!body.contains(" a0 ") && !body.contains("b1 ="), "plain names in {p}");
        }
        let distinct: std::collections::HashSet<&String> = programs.iter().collect();
        assert!(distinct.len() >= 45, "{} distinct of 50", distinct.len());
        // Names vary, so a model must copy them from the program.
        let defs: std::collections::HashSet<&str> =
            programs.iter().filter_map(|p| p.lines().find(|l| l.contains(": int"))).collect();
        assert!(defs.len() >= 40, "{} distinct signatures of 50", defs.len());
        assert_eq!(shaped(7, &cfg), shaped(7, &cfg));
    }

    /// Names, arguments and returns vary as real programs' do: names far
    /// too many to recall, literals in the call, expressions returned.
    #[test]
    fn names_arguments_and_returns_vary_as_in_real_programs() {
        let cfg = GenConfig::default();
        let programs: Vec<String> = (0..200).map(|seed| shaped(seed, &cfg)).collect();
        let calls: Vec<&str> =
            programs.iter().filter_map(|p| p.lines().find(|l| l.starts_with("print(repr("))).collect();
        let from_input = calls.iter().filter(|c| c.contains("int(input() or ")).count();
        assert!((60..140).contains(&from_input), "{from_input} of 200 calls read the input");
        assert!(calls.iter().filter(|c| c.contains(", '")).count() >= 40, "string arguments");
        let returns = programs.iter().map(|p| p.lines().rfind(|l| l.starts_with("    return ")).expect("return"));
        let expressions = returns.filter(|r| r["    return ".len()..].contains([' ', '(', '['].as_ref())).count();
        assert!((60..140).contains(&expressions), "{expressions} of 200 return an expression");
        // Names: the 256 verb-noun pairs and the type lists are a small part.
        let defs: std::collections::HashSet<&str> = programs
            .iter()
            .filter_map(|p| p.lines().find(|l| l.contains(": int")))
            .map(|d| &d[4..d.find('(').unwrap()])
            .collect();
        assert!(defs.len() >= 180, "{} distinct function names of 200", defs.len());
        let mut g = Gen::new(5, &cfg, Language::Python);
        g.named = true;
        let names: Vec<String> = (0..200).map(|_| g.fresh(Ty::Int)).collect();
        let own = names.iter().filter(|n| Ty::Int.names().contains(&n.as_str())).count();
        assert!(names.len() - own >= 100, "{own} of 200 names from the list");
    }

    /// Loops of every kind the real suite has, none growing what it walks.
    #[test]
    fn loops_take_the_shapes_people_write_and_never_grow_their_list() {
        let cfg = GenConfig::default();
        let shapes = [" in range(len(", " in reversed(range(", " in enumerate(", " in zip(", " in range(1, "];
        let mut seen = [0usize; 5];
        let mut over_lists = 0;
        for seed in 0..300 {
            let p = shaped(seed, &cfg);
            let lines: Vec<&str> = p.lines().collect();
            for (at, line) in lines.iter().enumerate().filter(|(_, l)| l.trim_start().starts_with("for ")) {
                for (k, shape) in shapes.iter().enumerate() {
                    seen[k] += usize::from(line.contains(shape));
                }
                let over = line.trim_end_matches(':').rsplit(" in ").next().unwrap();
                let walked =
                    over.trim_start_matches("enumerate(").trim_start_matches("zip(").trim_start_matches("range(len(");
                let walked = walked.split([',', ')', '[']).next().unwrap();
                if walked.starts_with("range") || walked.starts_with("reversed") {
                    continue;
                }
                over_lists += 1;
                let indent = line.len() - line.trim_start().len();
                let body = lines[at + 1..].iter().take_while(|l| l.len() - l.trim_start().len() > indent);
                for l in body {
                    assert!(!l.contains(&format!("{walked}.append(")), "{line} grows its list in\n{p}");
                }
            }
        }
        assert!(seen.iter().all(|&n| n >= 5) && over_lists >= 20, "{seen:?}, {over_lists} loops over lists");
        // Plain programs still count over literal ranges only.
        let plain = crate::generate::generate(3, &cfg);
        assert!(plain.lines().filter(|l| l.contains("for ")).all(|l| l.contains(" in range(") && !l.contains("len(")));
    }

    #[test]
    fn parameters_and_functions_are_named_apart_from_the_variables() {
        let types = [Ty::Int, Ty::Bool, Ty::Str, Ty::List, Ty::Dict, Ty::Tuple];
        let variables: Vec<&str> = types.iter().flat_map(|t| t.names().iter().copied()).collect();
        let params: Vec<&str> = INT_PARAMS.iter().chain(&LIST_PARAMS).chain(&STR_PARAMS).copied().collect();
        let distinct: std::collections::HashSet<&&str> = params.iter().collect();
        assert_eq!(distinct.len(), params.len(), "two parameters share a name");
        for p in &params {
            assert!(!variables.contains(p), "{p} is a variable's name too");
        }
        for verb in VERBS {
            for noun in NOUNS {
                let f = format!("{verb}_{noun}");
                assert!(!variables.contains(&f.as_str()) && !params.contains(&f.as_str()), "{f}");
            }
        }
    }

    /// Names a person would give: never one twice in a program, never a
    /// name the statements call or a keyword, and from many.
    #[test]
    fn named_variables_are_unique_and_shadow_nothing_the_program_uses() {
        let cfg = GenConfig::default();
        let mut g = Gen::new(1, &cfg, Language::Python);
        g.named = true;
        let types = [Ty::Int, Ty::Bool, Ty::Str, Ty::List, Ty::Dict, Ty::Tuple];
        let names: Vec<String> = (0..40).flat_map(|_| types).map(|ty| g.fresh(ty)).collect();
        let distinct: std::collections::HashSet<&String> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
        let used = [
            "fact",
            "clamp",
            "shout",
            "total",
            "int",
            "input",
            "print",
            "repr",
            "len",
            "range",
            "str",
            "list",
            "dict",
            "tuple",
            "bool",
            "sum",
            "max",
            "min",
            "sorted",
            "abs",
            "reversed",
            "enumerate",
            "zip",
            "ZeroDivisionError",
            "and",
            "or",
            "not",
            "in",
            "is",
            "if",
            "else",
            "for",
            "while",
            "def",
            "return",
            "try",
            "except",
            "pass",
            "None",
        ];
        for name in &names {
            assert!(!used.contains(&name.as_str()), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{name}");
        }
        let all: Vec<&str> = types.iter().flat_map(|t| t.names().iter().copied()).collect();
        let unique: std::collections::HashSet<&&str> = all.iter().collect();
        assert_eq!(unique.len(), all.len(), "two types share a name");
    }
}
