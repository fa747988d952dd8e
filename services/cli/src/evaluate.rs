//! `curio eval` (a checkpoint on a built-in suite or on a file of one's own
//! programs) and `curio predict` (one program's rollout).

use std::path::PathBuf;
use std::str::FromStr;

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{Execution, Limits, Sandbox};
use curio_learner::{Choice, EvalReport, Learner, Listed, State, ended_run, evaluate, format_report, read_programs};
use curio_trace::Run;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use crate::learn::device;

/// What `--programs` names: a built-in suite's size, or a file.
#[derive(Clone, Debug)]
pub enum Programs {
    /// The first N programs of the built-in suite.
    Count(usize),
    /// A JSON Lines file of programs.
    File(PathBuf),
}

impl FromStr for Programs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.parse() {
            Ok(n) => Ok(Programs::Count(n)),
            Err(_) if s.is_empty() => Err("give a number of programs or a .jsonl file".into()),
            Err(_) => Ok(Programs::File(s.into())),
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The checkpoint to evaluate.
    #[arg(long)]
    checkpoint: PathBuf,
    /// `indist` (the training distribution, other seeds), `hard` (longer
    /// programs, more iterations, longer strings), `idioms` (programs
    /// written with the idioms people use), `shaped` (the first suite's
    /// statements in a function called once, as the real suite's programs
    /// are), `chance` (programs that draw
    /// from `random`, each run on its suite seed), `indist-lua` and
    /// `hard-lua` (the first two's Lua twins), or `indist-js` and `hard-js`
    /// (their JavaScript twins); ignored with a file.
    #[arg(long, default_value = "indist")]
    suite: String,
    /// How many of the suite's programs, or a JSON Lines file of one's own:
    /// one `{"id", "source", "input"?, "seed"?}` object per line (such as
    /// data/corpus/real.jsonl, the real suite).
    #[arg(long, default_value = "40")]
    programs: Programs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also print this many transitions whose delta was wrong (the line, the
    /// locals before it, the true delta and the model's byte-by-byte guess),
    /// and as many whose action was wrong (the line, the values it read, the
    /// true next line and the predicted one).
    #[arg(long, default_value_t = 0)]
    misses: usize,
    /// Only run the programs and list, by id, those the model cannot read
    /// (too long for its block) and those whose runs did not end; no
    /// evaluation.
    #[arg(long)]
    readable: bool,
    /// Teacher-forced figures only (action, state and calibration per
    /// step): no rollouts, so no rollout or output figures, in a fraction
    /// of the time.
    #[arg(long)]
    teacher_forced: bool,
    /// With `--suite chance`: run each program under this many seeds and
    /// compare what they print with the model's drawn rollouts
    /// (--samples, --temperature), and with two baselines (the greedy
    /// rollout's output, and training runs' outputs pooled), by total
    /// variation distance and log-likelihood of the real outputs.
    #[arg(long)]
    seeds: Option<u64>,
    /// Drawn rollouts per program, with --seeds (default 64), per
    /// candidate, with --rank (default 4), or per proposal, with
    /// --find-input (default 2).
    #[arg(long)]
    samples: Option<usize>,
    /// Rank each program among this many wrong versions of it (literals
    /// off by one, operators swapped, the loop's mutations), by the model's
    /// belief that each prints the program's real output; report top-1
    /// accuracy and AUROC against random order and shortest-first.
    #[arg(long)]
    rank: Option<usize>,
    /// Search each program for an input that prints what a hidden changed
    /// input of it prints, spending this many sandbox runs: the
    /// model-guided search (`curio ask input`) against random changes.
    #[arg(long)]
    find_input: Option<usize>,
    /// With --find-input: changed inputs the model scores per round.
    #[arg(long, default_value_t = 16)]
    proposals: usize,
    /// With --find-input: searches per program and method, each with its
    /// own seed (the spread over seeds is reported).
    #[arg(long, default_value_t = 1)]
    repeats: u64,
    /// With --rank or --find-input: leave out programs whose real run takes
    /// more steps (every rollout is cut a quarter past this).
    #[arg(long, default_value_t = 120)]
    max_steps: usize,
    /// Their sampling temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
}

/// A program of the suite that was not evaluated, and why.
struct NotRun {
    id: String,
    status: String,
}

pub fn eval(args: EvalArgs) -> anyhow::Result<()> {
    let device = device(args.threads);
    let learner = Learner::load(&args.checkpoint, device, None)?;
    if let Some(seeds) = args.seeds {
        let (Programs::Count(programs), "chance") = (&args.programs, args.suite.as_str()) else {
            anyhow::bail!("--seeds compares distributions on the chance suite: use --suite chance --programs N");
        };
        let asked = crate::chance::ChanceArgs {
            programs: *programs,
            seeds,
            samples: args.samples.unwrap_or(64).max(1),
            temperature: args.temperature,
        };
        return crate::chance::eval_chance(&learner, asked, args.json, device);
    }
    let (name, listed) = match &args.programs {
        Programs::File(path) => (path.display().to_string(), read_programs(path)?),
        Programs::Count(n) => {
            let Some(programs) = curio_learner::suite(&args.suite, *n, Limits::default()) else {
                anyhow::bail!(
                    "unknown suite '{}': use indist, hard, idioms, shaped, chance, indist-lua, hard-lua, indist-js or hard-js, or --programs FILE.jsonl",
                    args.suite
                );
            };
            (args.suite.clone(), programs.into_iter().map(listed).collect())
        }
    };
    if let Some(mutants) = args.rank {
        let ranking = crate::rank_suite::RankArgs {
            mutants,
            samples: args.samples.unwrap_or(4),
            max_steps: args.max_steps,
            temperature: args.temperature,
            seed: 0,
        };
        return crate::rank_suite::eval_rank(&learner, &listed, ranking, args.json, device);
    }
    if let Some(checks) = args.find_input {
        let finding = crate::input_suite::FindArgs {
            checks: checks.max(1),
            proposals: args.proposals.max(1),
            samples: args.samples.unwrap_or(2),
            max_steps: args.max_steps,
            temperature: args.temperature,
            repeats: args.repeats.max(1),
        };
        return crate::input_suite::eval_find(&learner, &listed, finding, args.json, device);
    }
    let (ids, suite, not_run) = run_all(&*crate::sandbox(2)?, &listed)?;
    if args.readable {
        let too_long = curio_learner::too_long(&learner.model, &suite);
        let report = EvalReport { skipped_too_long: too_long.len(), too_long, ..EvalReport::default() };
        let readable = suite.len() - report.too_long.len();
        if args.json {
            println!("{}", report_json(&name, learner.train_step, &report, &ids, &not_run));
        } else {
            println!("{name}: {} programs, {readable} readable by the model", listed.len());
            print_unread(&report, &ids, &not_run);
        }
        return Ok(());
    }
    let report = match args.teacher_forced {
        true => curio_learner::evaluate_transitions(&learner.model, &suite, device)?,
        false => evaluate(&learner.model, &suite, device)?,
    };
    let by_language = by_language(&learner, &suite, device)?;
    if args.json {
        let mut body = report_json(&name, learner.train_step, &report, &ids, &not_run);
        if !by_language.is_empty() {
            let parts = by_language.iter().map(|(language, p)| {
                let part = json!({"programs": p.programs, "transitions": p.transitions,
                    "action_accuracy": p.action_accuracy, "delta_exact": p.delta_exact});
                (language.to_string(), part)
            });
            body["by_language"] = Value::Object(parts.collect());
        }
        println!("{body}");
    } else {
        print!("{}", format_report(&name, &report));
        for (language, part) in &by_language {
            println!(
                "  {language:<8} ({:>5} transitions) action accuracy {:.3}, state-delta exact {:.3}",
                part.transitions, part.action_accuracy, part.delta_exact
            );
        }
        println!("  (checkpoint at step {})", learner.train_step);
        print_unread(&report, &ids, &not_run);
    }
    print_misses(&report, args.misses);
    Ok(())
}

/// One language's share of a suite that mixes several.
struct LanguagePart {
    programs: usize,
    transitions: usize,
    action_accuracy: f64,
    delta_exact: f64,
}

/// Teacher-forced figures per language, for a suite of more than one
/// language (empty otherwise).
fn by_language(
    learner: &Learner,
    suite: &[Run],
    device: tch::Device,
) -> anyhow::Result<std::collections::BTreeMap<&'static str, LanguagePart>> {
    let mut parts = std::collections::BTreeMap::new();
    let languages: std::collections::BTreeSet<_> = suite.iter().map(|r| r.language.as_str()).collect();
    if languages.len() < 2 {
        return Ok(parts);
    }
    for language in languages {
        let runs: Vec<Run> = suite.iter().filter(|r| r.language.as_str() == language).cloned().collect();
        let r = curio_learner::evaluate_transitions(&learner.model, &runs, device)?;
        let part = LanguagePart {
            programs: runs.len(),
            transitions: r.transitions,
            action_accuracy: r.action_accuracy,
            delta_exact: r.delta_exact,
        };
        parts.insert(language, part);
    }
    Ok(parts)
}

/// A built-in suite's execution as a listed program.
fn listed(exec: Execution) -> Listed {
    Listed { id: exec.request_id, source: exec.source, language: exec.language, input: exec.input, seed: exec.seed }
}

/// Runs every program in the sandbox: the ids and runs of those that ran
/// to their end (`ok`, or an uncaught exception), and the rest with their
/// status. A program the sandbox refuses is listed, not fatal.
fn run_all(sandbox: &Sandbox, listed: &[Listed]) -> anyhow::Result<(Vec<String>, Vec<Run>, Vec<NotRun>)> {
    let bar = ProgressBar::new(listed.len() as u64)
        .with_style(ProgressStyle::with_template("running programs {bar:30} {pos}/{len}").expect("template"));
    let (mut ids, mut suite, mut not_run) = (vec![], vec![], vec![]);
    for program in listed {
        let exec = program.execution(Limits::default());
        match sandbox.execute(&exec).map(|trace| ended_run(exec, trace)) {
            Ok(Ok(run)) => {
                ids.push(program.id.clone());
                suite.push(run);
            }
            Ok(Err(status)) => not_run.push(NotRun { id: program.id.clone(), status: status.as_str().into() }),
            Err(e) => not_run.push(NotRun { id: program.id.clone(), status: format!("refused: {e}") }),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((ids, suite, not_run))
}

/// The report as JSON, with each program's id beside its index, and the
/// programs that were not read (too long) or not run.
fn report_json(name: &str, step: i64, report: &EvalReport, ids: &[String], not_run: &[NotRun]) -> Value {
    let mut body = serde_json::to_value(report).expect("a report serializes");
    for outcome in body["programs"].as_array_mut().into_iter().flatten() {
        let index = outcome["index"].as_u64().unwrap_or(0) as usize;
        outcome["id"] = json!(ids.get(index));
    }
    body["too_long"] = json!(report.too_long.iter().map(|&i| &ids[i]).collect::<Vec<_>>());
    let not_run: Vec<Value> = not_run.iter().map(|n| json!({"id": n.id, "status": n.status})).collect();
    json!({"suite": name, "checkpoint_step": step, "programs": ids.len() + not_run.len(), "not_run": not_run, "report": body})
}

/// The programs the model could not read and those that did not run to
/// their end, by id.
fn print_unread(report: &EvalReport, ids: &[String], not_run: &[NotRun]) {
    if !report.too_long.is_empty() {
        let names: Vec<&str> = report.too_long.iter().map(|&i| ids[i].as_str()).collect();
        println!("  too long for the model ({}): {}", names.len(), names.join(" "));
    }
    if !not_run.is_empty() {
        println!("  not evaluated ({}), their runs did not end:", not_run.len());
        for n in not_run {
            println!("    {}: {}", n.id, n.status);
        }
    }
}

fn print_misses(report: &EvalReport, n: usize) {
    for m in report.misses.iter().take(n) {
        println!(
            "\nline:      {}\nlocals:    {}\nthen:      {}\ntrue:      {}\npredicted: {}",
            m.code, m.locals, m.action, m.target, m.predicted
        );
    }
    for m in report.action_misses.iter().take(n) {
        let worked = match m.worked.is_empty() && m.true_working.is_empty() {
            true => String::new(),
            false => format!("\nworked:    {} (true: {})", m.worked, m.true_working),
        };
        println!(
            "\nline:      {}\nreads:     {}{worked}\nnext:      {}\npredicted: {} (p = {:.2})",
            m.code, m.read, m.target, m.predicted, m.confidence
        );
    }
}

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// The checkpoint to predict with.
    #[arg(long)]
    checkpoint: PathBuf,
    /// The program: Lua for a `.lua` file, JavaScript for a `.js` file,
    /// else Python, unless --language says.
    file: PathBuf,
    /// `python`, `lua` or `js`.
    #[arg(long)]
    language: Option<String>,
    /// The program's stdin (the model reads its first 64 bytes).
    #[arg(long, default_value = "")]
    input: String,
    /// Most steps to predict (default: with --compare, a quarter past the
    /// real run's length; else 200). The rollout ends earlier where the
    /// model predicts the program's end.
    #[arg(long)]
    horizon: Option<usize>,
    /// Run the program too and show the real trace beside, with the first divergence marked.
    #[arg(long)]
    compare: bool,
    /// Print one JSON object: the predicted steps with their uncertainty,
    /// the predicted stdout, why the rollout ended, and with --compare the
    /// real stdout and the first divergence.
    #[arg(long)]
    json: bool,
    /// Also draw this many rollouts from the model's distribution (at
    /// --temperature, from --seed) and print how often each output came
    /// out of them: what the model believes the program can print.
    #[arg(long, default_value_t = 0)]
    samples: usize,
    /// Sampling temperature: 1 samples the model's own distribution, less
    /// sharpens it, more flattens it.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Seed of the draws: the same seed draws the same rollouts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
}

pub fn predict(args: PredictArgs) -> anyhow::Result<()> {
    let device = device(args.threads);
    let learner = Learner::load(&args.checkpoint, device, None)?;
    let source = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let language = crate::trace::language_of(&args.file.to_string_lossy(), args.language.as_deref())?;
    let real = match args.compare {
        true => {
            let exec = Execution { input: args.input.clone(), ..Execution::new(language, source.clone()) };
            Some(crate::sandbox(1)?.execute(&exec)?)
        }
        false => None,
    };
    let truth = real.as_ref().map(|t| curio_learner::states_reading(&t.steps, &args.input)).unwrap_or_default();
    let start = truth.first().cloned().unwrap_or_else(|| State::initial(&args.input));
    let horizon = args.horizon.unwrap_or(if truth.is_empty() { 200 } else { curio_learner::cut(truth.len()) });
    let code = curio_learner::Code::new(language, &source);
    let foreseen = curio_learner::foresee(&learner.model, code, &start, horizon, device)?;
    let real_stdout: Option<String> = real.as_ref().map(|t| t.steps.iter().map(|s| s.stdout.as_str()).collect());
    let (divergence, predicted_stdout) = (foreseen.divergence(&truth), foreseen.stdout());
    let sampled = match args.samples {
        0 => vec![],
        n => {
            let mut choice = Choice::sample(args.temperature, args.seed)?;
            let draws = (&mut choice, device);
            curio_learner::foresee_sampled(&learner.model, (code, &start), (n, horizon), draws, |_, _, _| false)?
        }
    };
    let outputs = curio_learner::outputs(&sampled);
    let real_share = real_stdout.as_ref().map(|r| outputs.iter().find(|(o, _)| o == r).map_or(0.0, |(_, p)| *p));
    if args.json {
        let steps: Vec<Value> = foreseen.steps.iter().enumerate().map(|(i, (s, p))| step_json(i + 1, s, p)).collect();
        let out = json!({
            "checkpoint_step": learner.train_step,
            "steps": steps,
            "ended": foreseen.end.code(),
            "predicted_stdout": predicted_stdout,
            "real_stdout": real_stdout,
            "real_steps": truth.len().checked_sub(1),
            "first_divergence": divergence.map(|(step, cause)| json!({"step": step, "cause": cause.code()})),
            "samples": sampled.iter().map(|f| json!({
                "predicted_stdout": f.stdout(), "ended": f.end.code(), "steps": f.steps.len(),
            })).collect::<Vec<_>>(),
            "outputs": outputs.iter().map(|(o, p)| json!({"stdout": o, "probability": p})).collect::<Vec<_>>(),
            "real_stdout_probability": real_share.filter(|_| !sampled.is_empty()),
        });
        println!("{out}");
        return Ok(());
    }
    print_rollout(learner.train_step, &start, &foreseen, (&truth, divergence), args.compare);
    if let Some(real) = real_stdout {
        let same = if predicted_stdout == real { "the same as" } else { "not" };
        println!("predicted stdout {predicted_stdout:?}: {same} the real {real:?}");
    }
    if !sampled.is_empty() {
        println!("{} rollouts drawn at temperature {} (seed {}) printed:", sampled.len(), args.temperature, args.seed);
        for (output, share) in &outputs {
            println!("  {share:>5.2}  {output:?}");
        }
        if let Some(share) = real_share {
            println!("the real output came out of {share:.2} of them");
        }
    }
    Ok(())
}

/// One predicted step as JSON.
fn step_json(step: usize, s: &State, p: &curio_learner::Prediction) -> Value {
    json!({
        "step": step,
        "event": s.event.as_str(),
        "line": s.line,
        "function": s.frame().function,
        "depth": s.stack.len(),
        "locals": s.frame().locals,
        "stdout": curio_learner::parse_delta(&p.delta).map(|d| d.stdout).unwrap_or_default(),
        "confidence": p.confidence,
        "action_entropy": p.action_entropy,
        "delta_entropy": p.delta_entropy,
        "working": String::from_utf8_lossy(p.working.trim_ascii_end()),
    })
}

fn show(s: &State) -> String {
    let locals: Vec<String> = s.frame().locals.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{:<9} {:>4} {:<12} {}", s.event.as_str(), s.line, s.frame().function, locals.join(" "))
}

/// The rollout as a table; with `compare`, the real trace beside it and
/// the first divergence marked, and how the rollout ended.
fn print_rollout(
    step: i64,
    start: &State,
    foreseen: &curio_learner::Foreseen,
    (truth, divergence): (&[State], Option<(usize, curio_learner::Divergence)>),
    compare: bool,
) {
    println!("model at step {step}; start: {}", show(start));
    for (i, (state, p)) in foreseen.steps.iter().enumerate() {
        let worked = String::from_utf8_lossy(p.working.trim_ascii_end()).into_owned();
        let worked = if worked.is_empty() { worked } else { format!("; worked: {worked}") };
        let predicted = format!("{}  [conf {:.2}{worked}]", show(state), p.confidence);
        match truth.get(i + 1) {
            Some(t) => {
                let mark = if divergence.is_some_and(|(d, _)| d == i + 1) { ">>" } else { "  " };
                println!("{mark}{:>4}  predicted {predicted}\n        real      {}", i + 1, show(t));
            }
            None if compare => println!("  {:>4}  predicted {predicted}  (the real run had ended)", i + 1),
            None => println!("  {:>4}  {predicted}", i + 1),
        }
    }
    println!("the rollout {} after {} steps", foreseen.end.describe(), foreseen.steps.len());
    if compare {
        match divergence {
            Some((d, cause)) => println!("the marked step (>>), {d}, is the first divergence: {}", cause.describe()),
            None => println!("no divergence: every one of the {} real steps predicted exactly", truth.len() - 1),
        }
    }
}
