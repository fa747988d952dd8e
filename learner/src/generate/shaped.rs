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
    let name = format!("{}_{}", pick(&mut g, &VERBS), pick(&mut g, &NOUNS));
    let int = pick(&mut g, &INT_PARAMS);
    let default = g.rng.random_range(0..10);
    g.vars.push((int.into(), Ty::Int));
    let mut params = vec![format!("{int}: int")];
    let mut args = vec![format!("int(input() or {default})")];
    let mut shown = vec![g.rng.random_range(0..10).to_string()];
    if g.rng.random_bool(0.5) {
        let list = pick(&mut g, &LIST_PARAMS);
        let items: Vec<String> = (0..g.rng.random_range(1..5)).map(|_| g.rng.random_range(0..9).to_string()).collect();
        g.vars.push((list.into(), Ty::List));
        params.push(format!("{list}: list"));
        args.push(format!("[{}]", items.join(", ")));
        shown.push("[1, 2]".into());
    }
    let doc = pick(&mut g, &DOCS).replace("{p}", int);
    for _ in 0..cfg.statements {
        g.statement(1, &used);
    }
    let (last, ty) = g.vars.last().cloned().expect("the int at least");
    let body = std::mem::take(&mut g.out);
    format!(
        "{helpers}\n\ndef {name}({}) -> {}:\n    \"\"\" {doc}\n    >>> {name}({})\n    \"\"\"\n{body}    return {last}\n\n\nprint(repr({name}({})))\n",
        params.join(", "),
        ty.annotation(),
        shown.join(", "),
        args.join(", "),
    )
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

    #[test]
    fn parameters_and_functions_are_named_apart_from_the_variables() {
        let types = [Ty::Int, Ty::Bool, Ty::Str, Ty::List, Ty::Dict, Ty::Tuple];
        let variables: Vec<&str> = types.iter().flat_map(|t| t.names().iter().copied()).collect();
        let params: Vec<&str> = INT_PARAMS.iter().chain(&LIST_PARAMS).copied().collect();
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
