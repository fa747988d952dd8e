//! `curio eval --suite chance --seeds S`: each program of the chance suite
//! run under S seeds, against the model's drawn rollouts of it, and two
//! baselines: the greedy rollout's output as a point mass, and the outputs
//! of training-like runs pooled over programs.

use anyhow::Context;
use curio_interpreter_pool::{Execution, Sandbox, Status};
use curio_learner::{
    Choice, Code, Learner, State, calibration_error, chancy, distribution, foresee, foresee_sampled, outputs,
    score_chance,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tch::Device;

/// Programs and seeds of the pooled baseline: `curio train --chance`'s
/// first programs under its first seeds, the distribution such training
/// sees of outputs whatever the program.
const POOLED: (u64, u64) = (100, 4);

/// Most steps a drawn rollout may take.
const HORIZON: usize = 200;

/// How the chance suite is asked.
#[derive(Clone, Copy, Debug)]
pub struct ChanceArgs {
    /// Programs of the suite.
    pub programs: usize,
    /// Real runs of each, one per seed.
    pub seeds: u64,
    /// Drawn rollouts of each.
    pub samples: usize,
    /// Their temperature.
    pub temperature: f64,
}

/// What each program printed under each seed (runs that did not end `ok`
/// left out).
fn real_outputs(sandbox: &Sandbox, source: &str, seeds: impl Iterator<Item = u64>) -> anyhow::Result<Vec<String>> {
    let mut out = vec![];
    for seed in seeds {
        let t =
            sandbox.execute(&Execution { seed, ..Execution::python(source) }).context("running a chance program")?;
        if t.status == Status::Ok {
            out.push(t.steps.iter().map(|s| s.stdout.as_str()).collect());
        }
    }
    Ok(out)
}

/// Runs the comparison and prints it (a table, or one JSON object).
pub fn eval_chance(learner: &Learner, args: ChanceArgs, json_out: bool, device: Device) -> anyhow::Result<()> {
    let sandbox = crate::sandbox(2)?;
    let mut pooled = vec![];
    for program in 0..POOLED.0 {
        pooled.extend(real_outputs(&sandbox, &chancy(program), 1_000_000..1_000_000 + POOLED.1)?);
    }
    let pooled = distribution(pooled);
    let bar = ProgressBar::new(args.programs as u64)
        .with_style(ProgressStyle::with_template("comparing distributions {bar:30} {pos}/{len}").expect("template"));
    let mut scores = vec![];
    for (i, seed) in curio_learner::suite_seeds("chance", args.programs).into_iter().enumerate() {
        let source = chancy(seed);
        let real = real_outputs(&sandbox, &source, (0..args.seeds).map(|s| seed.wrapping_mul(31).wrapping_add(s)))?;
        let start = State::initial("");
        let code = Code::python(&source);
        let greedy = foresee(&learner.model, code, &start, HORIZON, device)?.stdout();
        let mut choice = Choice::sample(args.temperature, seed)?;
        let draws = (&mut choice, device);
        let drawn = foresee_sampled(&learner.model, (code, &start), (args.samples, HORIZON), draws, |_, _, _| false)?;
        let drawn = outputs(&drawn);
        let score = score_chance(&real, &drawn, &greedy, &pooled);
        scores.push((format!("chance-{i}"), distribution(real), drawn, greedy, score));
        bar.inc(1);
    }
    bar.finish_and_clear();
    let mean = |f: &dyn Fn(&curio_learner::ChanceScore) -> f64| {
        scores.iter().map(|s| f(&s.4)).sum::<f64>() / scores.len().max(1) as f64
    };
    let names = ["drawn", "greedy", "pooled"];
    let tv: Vec<f64> = (0..3).map(|k| mean(&|s| s.tv[k])).collect();
    let ll: Vec<f64> = (0..3).map(|k| mean(&|s| s.log_likelihood[k])).collect();
    let tops = |k: usize| scores.iter().map(|s| s.4.top[k]).collect::<Vec<_>>();
    let ece: Vec<f64> = (0..3).map(|k| calibration_error(&tops(k))).collect();
    let confidence: Vec<f64> = (0..3).map(|k| mean(&|s| s.top[k].0)).collect();
    let accuracy: Vec<f64> = (0..3).map(|k| mean(&|s| s.top[k].1)).collect();
    if json_out {
        let programs: Vec<_> = scores
            .iter()
            .map(|(id, real, drawn, greedy, s)| {
                json!({"id": id, "real": real, "drawn": drawn, "greedy": greedy, "tv": s.tv,
                       "log_likelihood": s.log_likelihood, "top": s.top})
            })
            .collect();
        let out = json!({
            "suite": "chance", "checkpoint_step": learner.train_step, "seeds": args.seeds, "samples": args.samples,
            "temperature": args.temperature, "models": names, "tv": tv, "log_likelihood": ll,
            "calibration_error": ece, "top_confidence": confidence, "top_accuracy": accuracy, "programs": programs,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "chance suite: {} programs, {} real runs and {} drawn rollouts each (checkpoint at step {})",
        scores.len(),
        args.seeds,
        args.samples,
        learner.train_step
    );
    println!(
        "  {:<8} {:>12} {:>16} {:>12} {:>10} {:>6}",
        "model", "TV distance", "log-likelihood", "confidence", "came true", "ECE"
    );
    for k in 0..3 {
        println!(
            "  {:<8} {:>12.3} {:>16.3} {:>12.3} {:>10.3} {:>6.3}",
            names[k], tv[k], ll[k], confidence[k], accuracy[k], ece[k]
        );
    }
    println!("  (TV 0: the real distribution of outputs; log-likelihood per real run, nats, unseen outputs at 1e-3;");
    println!("   confidence: in the likeliest output; came true: the share of real runs that printed it)");
    Ok(())
}
