//! `curio eval --find-input N`: for each program of a suite, a changed
//! input is hidden (one or two changes to its literals outside function
//! bodies or to its stdin) and what the program prints under it is the
//! target; the model-guided search ([`curio_learner::search_input`]), the
//! same beam without the model ([`curio_learner::climb_search`]) and random
//! changes ([`curio_learner::blind_search`]) each get N runs in the sandbox
//! to find an input that prints it. Every answer counts only if
//! its run printed the target; any input that does counts, the hidden one
//! or another.

use std::time::Instant;

use curio_interpreter_pool::Sandbox;
use curio_learner::{Asking, Changer, Learner, Listed, Search, Searching, same_output};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::json;

use crate::rank_suite::{measurable, output};

/// How the search is measured.
pub struct FindArgs {
    /// Runs each search may spend.
    pub checks: usize,
    /// Changed inputs the model scores per round.
    pub proposals: usize,
    /// Drawn rollouts per proposal.
    pub samples: usize,
    /// Programs whose real run takes more steps are left out.
    pub max_steps: usize,
    pub temperature: f64,
    /// Searches per program and method, each with its own seed.
    pub repeats: u64,
}

/// A hidden input for `listed` and what it prints: one or two changes that
/// end normally within `max_steps` and print something else, non-empty.
fn hidden(sandbox: &Sandbox, listed: &Listed, real: &str, max_steps: usize, seed: u64) -> Option<String> {
    let changer = Changer::new(&listed.source, &listed.input, "");
    let mut rng = StdRng::seed_from_u64(seed ^ 0x41dd);
    for attempt in 0..24 {
        let mut at = (listed.source.clone(), listed.input.clone());
        for _ in 0..1 + attempt % 2 {
            if let Some(next) = changer.change((&at.0, &at.1), &mut rng) {
                at = next;
            }
        }
        if let Some((out, steps)) = output(sandbox, listed, (&at.0, &at.1))
            && steps <= max_steps
            && !out.trim().is_empty()
            && !same_output(&out, real)
        {
            return Some(out);
        }
    }
    None
}

/// One search's figures.
struct Outcome {
    found: bool,
    checks: usize,
    scored: usize,
    seconds: f64,
}

impl Outcome {
    fn of(search: &Search, started: Instant) -> Outcome {
        let found = search.found().is_some();
        Outcome { found, checks: search.tried.len(), scored: search.scored, seconds: started.elapsed().as_secs_f64() }
    }
}

pub fn eval_find(
    learner: &Learner,
    listed: &[Listed],
    args: FindArgs,
    json: bool,
    device: tch::Device,
) -> anyhow::Result<()> {
    let sandbox = crate::sandbox(2)?;
    let horizon = curio_learner::cut(args.max_steps);
    let bar = ProgressBar::new(listed.len() as u64)
        .with_style(ProgressStyle::with_template("searching {bar:30} {pos}/{len} {msg}").expect("template"));
    let (mut model, mut climb, mut blind, mut skipped) = (vec![], vec![], vec![], vec![]);
    for (i, program) in listed.iter().enumerate() {
        bar.inc(1);
        // A hidden input is sought only for a program the measure keeps.
        let target = measurable(&sandbox, learner, program, args.max_steps).and_then(|real| {
            hidden(&sandbox, program, &real, args.max_steps, i as u64)
                .ok_or("no changed input ends printing something else")
        });
        let target = match target {
            Ok(target) => target,
            Err(why) => {
                skipped.push(json!({"id": program.id, "why": why}));
                continue;
            }
        };
        let check = |s: &str, input: &str| -> Result<Option<String>, std::convert::Infallible> {
            Ok(output(&sandbox, program, (s, input)).map(|(out, _)| out))
        };
        let start = (program.source.as_str(), program.input.as_str());
        for repeat in 0..args.repeats {
            let seed = (i as u64) << 8 | repeat;
            let asking = Asking { samples: args.samples, temperature: args.temperature, seed, horizon };
            let searching =
                Searching { checks: args.checks, proposals: args.proposals, seed, asking, ..Default::default() };
            let started = Instant::now();
            let found =
                curio_learner::search_input(&learner.model, start, &target, searching, device, check, |_| false);
            let found = found.map_err(|e| anyhow::anyhow!("{e}"))?;
            model.push((repeat, Outcome::of(&found, started)));
            let started = Instant::now();
            let Ok(found) = curio_learner::climb_search(start, &target, searching, check);
            climb.push((repeat, Outcome::of(&found, started)));
            let started = Instant::now();
            let Ok(found) = curio_learner::blind_search(start, &target, args.checks, seed, check);
            blind.push((repeat, Outcome::of(&found, started)));
        }
        let share = |o: &[(u64, Outcome)]| o.iter().filter(|(_, x)| x.found).count() as f64 / o.len() as f64;
        let shares = (share(&model), share(&climb), share(&blind));
        bar.set_message(format!("found: model {:.2}, climb {:.2}, blind {:.2}", shares.0, shares.1, shares.2));
    }
    bar.finish_and_clear();
    let problems = model.len() / args.repeats.max(1) as usize;
    let figures = |outcomes: &[(u64, Outcome)]| {
        let per_repeat: Vec<f64> = (0..args.repeats)
            .map(|r| {
                let of: Vec<&Outcome> = outcomes.iter().filter(|(k, _)| *k == r).map(|(_, o)| o).collect();
                of.iter().filter(|o| o.found).count() as f64 / of.len().max(1) as f64
            })
            .collect();
        let found: Vec<&Outcome> = outcomes.iter().map(|(_, o)| o).filter(|o| o.found).collect();
        let n = outcomes.len().max(1) as f64;
        json!({
            "found": per_repeat.iter().sum::<f64>() / per_repeat.len().max(1) as f64,
            "found_per_seed": per_repeat,
            "runs_to_find": found.iter().map(|o| o.checks as f64).sum::<f64>() / found.len().max(1) as f64,
            "scored_per_search": outcomes.iter().map(|(_, o)| o.scored as f64).sum::<f64>() / n,
            "seconds_per_search": outcomes.iter().map(|(_, o)| o.seconds).sum::<f64>() / n,
        })
    };
    let report = json!({
        "checkpoint_step": learner.train_step,
        "problems": problems,
        "checks": args.checks,
        "proposals": args.proposals,
        "samples": args.samples,
        "repeats": args.repeats,
        "max_steps": args.max_steps,
        "model": figures(&model),
        "climb": figures(&climb),
        "blind": figures(&blind),
        "skipped": skipped,
    });
    if json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "searched {problems} programs for a hidden input's output, {} runs each, {} seeds ({} skipped)",
        args.checks,
        args.repeats,
        skipped.len()
    );
    println!("{:<8} {:>7} {:>14} {:>14} {:>10}", "search", "found", "runs to find", "model scored", "seconds");
    for name in ["model", "climb", "blind"] {
        let f = &report[name];
        println!(
            "{name:<8} {:>7.3} {:>14.1} {:>14.1} {:>10.2}",
            f["found"].as_f64().unwrap_or(f64::NAN),
            f["runs_to_find"].as_f64().unwrap_or(f64::NAN),
            f["scored_per_search"].as_f64().unwrap_or(f64::NAN),
            f["seconds_per_search"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
