//! `curio eval --rank N`: each program of a suite among N wrong versions
//! of it ([`curio_learner::mutants`]), ordered by the model
//! ([`curio_learner::rank`]) by its belief that each prints the program's
//! real output, against random order and shortest-first; and beside it
//! how often the program's own greedy rollout printed its real output. The candidates
//! are run in the sandbox only to know which are right: those that end
//! normally and print the real output (a mutant that changes nothing that
//! shows is right too).

use curio_interpreter_pool::{Limits, Sandbox, Status};
use curio_learner::{Asking, Code, Learner, Listed, auroc, same_output};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

/// How the ranking is measured.
pub struct RankArgs {
    /// Wrong versions per program.
    pub mutants: usize,
    /// Drawn rollouts per candidate.
    pub samples: usize,
    /// Programs whose real run takes more steps are left out.
    pub max_steps: usize,
    /// Their temperature and seed.
    pub temperature: f64,
    pub seed: u64,
}

/// The three orders' figures on one problem.
#[derive(Default)]
struct Scores {
    /// (model, random, shortest first): the share of the top place that
    /// goes to a right candidate (expected over ties, which the model's
    /// scores have where no rollout comes near).
    top1: [f64; 3],
    /// AUROC of each order's scores.
    auroc: [f64; 3],
    /// Whether the greedy rollout of the program itself printed its real
    /// output (`curio ask output`'s answer).
    output_exact: bool,
}

/// Runs `listed` with `source` and `stdin` in place of its own: its
/// stdout and steps, if it ended normally.
pub(crate) fn output(sandbox: &Sandbox, listed: &Listed, (source, stdin): (&str, &str)) -> Option<(String, usize)> {
    let exec = Listed { source: source.into(), input: stdin.into(), ..listed.clone() }.execution(Limits::default());
    let trace = sandbox.execute(&exec).ok()?;
    matches!(trace.status, Status::Ok).then_some((trace.stdout, trace.steps.len()))
}

/// What `listed` prints, or why a measure leaves it out: its run did not
/// end normally, took more than `max_steps`, or is too long for the model.
pub(crate) fn measurable(
    sandbox: &Sandbox,
    learner: &Learner,
    listed: &Listed,
    max_steps: usize,
) -> Result<String, &'static str> {
    let (printed, steps) =
        output(sandbox, listed, (&listed.source, &listed.input)).ok_or("its run did not end normally")?;
    if steps > max_steps {
        return Err("a longer run than --max-steps");
    }
    match curio_learner::unreadable(&learner.model, Code::new(listed.language, &listed.source), &listed.input) {
        Some(_) => Err("too long to read"),
        None => Ok(printed),
    }
}

pub fn eval_rank(
    learner: &Learner,
    listed: &[Listed],
    args: RankArgs,
    json: bool,
    device: tch::Device,
) -> anyhow::Result<()> {
    let sandbox = crate::sandbox(2)?;
    let horizon = curio_learner::cut(args.max_steps);
    let bar = ProgressBar::new(listed.len() as u64)
        .with_style(ProgressStyle::with_template("ranking {bar:30} {pos}/{len} {msg}").expect("template"));
    let (mut per_problem, mut skipped, mut candidates, mut right) = (vec![], vec![], 0usize, 0usize);
    for (i, program) in listed.iter().enumerate() {
        bar.inc(1);
        let expected = match measurable(&sandbox, learner, program, args.max_steps) {
            Ok(printed) => printed,
            Err(why) => {
                skipped.push(json!({"id": program.id, "why": why}));
                continue;
            }
        };
        let mut sources = vec![program.source.clone()];
        sources.extend(curio_learner::mutants(&program.source, args.mutants, i as u64));
        let positive: Vec<bool> = sources
            .iter()
            .map(|s| output(&sandbox, program, (s, &program.input)).is_some_and(|(o, _)| same_output(&o, &expected)))
            .collect();
        let asking = Asking { samples: args.samples, temperature: args.temperature, seed: args.seed, horizon };
        // The mutants change Python source: the ranking suite is Python's.
        let asked: Vec<(Code<'_>, &str)> = sources.iter().map(|s| (Code::python(s), program.input.as_str())).collect();
        let ranked = curio_learner::rank(&learner.model, &asked, &expected, asking, device, |_| false)?;
        let mut model = vec![0.0; sources.len()];
        for r in &ranked {
            model[r.index] = r.score;
        }
        let length: Vec<f64> = sources.iter().map(|s| -(s.len() as f64)).collect();
        let share = positive.iter().filter(|&&p| p).count() as f64 / sources.len() as f64;
        let shortest = top_share(&length, &positive);
        let auc = |scores: &[f64]| auroc(scores, &positive).unwrap_or(f64::NAN);
        per_problem.push(Scores {
            top1: [top_share(&model, &positive), share, shortest],
            auroc: [auc(&model), 0.5, auc(&length)],
            output_exact: ranked.iter().any(|r| r.index == 0 && same_output(&r.printed, &expected)),
        });
        candidates += sources.len();
        right += positive.iter().filter(|&&p| p).count();
        bar.set_message(format!("model top-1 {:.2}", mean(per_problem.iter().map(|s| s.top1[0]))));
    }
    bar.finish_and_clear();
    let figure = |k: usize| {
        let top1 = mean(per_problem.iter().map(|s| s.top1[k]));
        let auc = mean(per_problem.iter().map(|s| s.auroc[k]).filter(|a| a.is_finite()));
        json!({"top1": top1, "auroc": auc})
    };
    let with_both = per_problem.iter().filter(|s| s.auroc[0].is_finite()).count();
    let report = json!({
        "checkpoint_step": learner.train_step,
        "problems": per_problem.len(),
        "problems_with_a_wrong_candidate": with_both,
        "candidates": candidates,
        "right_candidates": right,
        "mutants": args.mutants,
        "samples": args.samples,
        "max_steps": args.max_steps,
        "output_exact": mean(per_problem.iter().map(|s| f64::from(u8::from(s.output_exact)))),
        "model": figure(0),
        "random": figure(1),
        "shortest_first": figure(2),
        "skipped": skipped,
    });
    if json {
        println!("{report}");
        return Ok(());
    }
    println!(
        "ranked {} programs, each among up to {} mutants ({candidates} candidates, {right} of them right; {} skipped)",
        per_problem.len(),
        args.mutants,
        skipped.len()
    );
    let exact = per_problem.iter().filter(|s| s.output_exact).count();
    println!("output exact (the programs themselves, greedy): {exact} of {}", per_problem.len());
    println!("{:<16} {:>6} {:>6}", "order", "top-1", "AUROC");
    for (name, k) in [("model", 0), ("random", 1), ("shortest first", 2)] {
        let f = figure(k);
        println!(
            "{name:<16} {:>6.3} {:>6.3}",
            f["top1"].as_f64().unwrap_or(f64::NAN),
            f["auroc"].as_f64().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}

/// The share of right candidates among those with the highest score.
fn top_share(scores: &[f64], positive: &[bool]) -> f64 {
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let top: Vec<bool> = scores.iter().zip(positive).filter(|(s, _)| **s == best).map(|(_, p)| *p).collect();
    top.iter().filter(|&&p| p).count() as f64 / top.len().max(1) as f64
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { f64::NAN } else { sum / n as f64 }
}
