//! The held-out suites: named sets of generated programs on seeds far from
//! training's, as executions, and the runs kept from them.

use curio_trace::{Execution, Language, Limits, Run, Status, Trace};

use super::{GenConfig, chancy, generate, generate_in, idiomatic, inputs, shaped};

/// A held-out suite's programs, as executions under `limits`: `indist`
/// (the generator's distribution, on seeds training never uses), `hard`
/// (longer programs, more iterations, longer strings), `idioms`
/// ([`idiomatic`] programs), `shaped` ([`shaped`] programs: the plain
/// generator's statements in a function called once), `chance` ([`chancy`] programs, whose runs
/// differ by seed), `indist-lua` and `hard-lua`, or `indist-js` and
/// `hard-js` (the first two's twins in Lua or JavaScript, on the same
/// seeds); `None` for another name. The one suite
/// builder: whatever runs the executions (the in-process sandbox, the
/// pool) keeps their runs with [`suite_run`].
pub fn suite(name: &str, count: usize, limits: Limits) -> Option<Vec<Execution>> {
    let (language, write): (Language, fn(u64) -> String) = match name {
        "indist" => (Language::Python, |seed| generate(seed, &GenConfig::default())),
        "hard" => (Language::Python, |seed| generate(seed, &GenConfig::harder())),
        "idioms" => (Language::Python, |seed| idiomatic(seed, &GenConfig::default())),
        "shaped" => (Language::Python, |seed| shaped(seed, &GenConfig::default())),
        "chance" => (Language::Python, chancy),
        "indist-lua" => (Language::Lua, |seed| generate_in(Language::Lua, seed, &GenConfig::default())),
        "hard-lua" => (Language::Lua, |seed| generate_in(Language::Lua, seed, &GenConfig::harder())),
        "indist-js" => (Language::Js, |seed| generate_in(Language::Js, seed, &GenConfig::default())),
        "hard-js" => (Language::Js, |seed| generate_in(Language::Js, seed, &GenConfig::harder())),
        _ => return None,
    };
    let program = |seed: u64| Execution {
        request_id: format!("suite-{seed}"),
        input: inputs(seed, 1).remove(0),
        seed,
        limits,
        ..Execution::new(language, write(seed))
    };
    Some(suite_seeds(name, count).into_iter().map(program).collect())
}

/// A suite program's run, kept only if it ended `ok`.
pub fn suite_run(exec: Execution, trace: Trace) -> Option<Run> {
    (trace.status == Status::Ok).then_some(Run {
        language: exec.language,
        source: exec.source,
        input: exec.input,
        steps: trace.steps,
    })
}

/// Draws from any generator: the seeds of a named suite.
pub fn suite_seeds(name: &str, count: usize) -> Vec<u64> {
    // Far from training seeds (which count up from 0).
    let base: u64 = match name.trim_end_matches("-lua").trim_end_matches("-js") {
        "hard" => 9_000_000_000,
        "idioms" => 7_000_000_000,
        "chance" => 6_000_000_000,
        "shaped" => 5_000_000_000,
        _ => 8_000_000_000,
    };
    (0..count as u64).map(|i| base + i).collect()
}
