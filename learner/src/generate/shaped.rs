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

/// What the function is called, and the first line of its docstring.
const PURPOSES: [(&str, &str); 8] = [
    ("solve", "Work out the answer for n."),
    ("transform", "Transform n into a new value, step by step."),
    ("count_steps", "Count the steps it takes to reach the result."),
    ("build_result", "Build the result from n and the values."),
    ("process", "Process the input and return what is left."),
    ("compute", "Compute a value from n."),
    ("summarize", "Summarize n as one value."),
    ("check_values", "Check the values against n and report."),
];

/// A random function-shaped Python program for `seed`: the plain
/// generator's helpers, then a function of `n` (and, half the time, a list
/// of ints) that runs `cfg.statements` statements and returns its last
/// variable, then `print(repr(...))` of a call whose `n` is read from the
/// input, so [`super::inputs`] serve it as they serve the others.
pub fn shaped(seed: u64, cfg: &GenConfig) -> String {
    let mut g = Gen::new(seed ^ 0x05_4A_9E_D0, cfg, Language::Python);
    g.base = 1;
    g.named = true;
    let used = g.helpers();
    let helpers = std::mem::take(&mut g.out);
    let (name, doc) = PURPOSES[g.rng.random_range(0..PURPOSES.len())];
    let default = g.rng.random_range(0..10);
    g.vars.push(("n".into(), Ty::Int));
    let mut params = vec!["n: int".to_string()];
    let mut args = vec![format!("int(input() or {default})")];
    let example = g.rng.random_range(0..10);
    let mut shown = vec![example.to_string()];
    if g.rng.random_bool(0.5) {
        let items: Vec<String> = (0..g.rng.random_range(1..5)).map(|_| g.rng.random_range(0..9).to_string()).collect();
        g.vars.push(("values".into(), Ty::List));
        params.push("values: list".into());
        args.push(format!("[{}]", items.join(", ")));
        shown.push("[1, 2]".into());
    }
    for _ in 0..cfg.statements {
        g.statement(1, &used);
    }
    let (last, ty) = g.vars.last().cloned().expect("n at least");
    let body = std::mem::take(&mut g.out);
    format!(
        "{helpers}\n\ndef {name}({}) -> {}:\n    \"\"\" {doc}\n    >>> {name}({})\n    \"\"\"\n{body}    return {last}\n\n\nprint(repr({name}({})))\n",
        params.join(", "),
        ty.annotation(),
        shown.join(", "),
        args.join(", "),
    )
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
            let def = p.lines().find(|l| l.starts_with("def ") && l.contains("(n: int")).expect("the function");
            assert!(def.contains(") -> "), "{def}");
            // The body is the function's: nothing between the def and the call is at module level.
            let body = p.split(def).nth(1).expect("body").split("\n\n\nprint").next().expect("body");
            assert!(body.lines().skip(1).all(|l| l.starts_with("    ")), "{p}");
            assert!(!body.contains(" a0 ") && !body.contains("b1 ="), "plain names in {p}");
        }
        let distinct: std::collections::HashSet<&String> = programs.iter().collect();
        assert!(distinct.len() >= 45, "{} distinct of 50", distinct.len());
        assert_eq!(shaped(7, &cfg), shaped(7, &cfg));
    }
}
