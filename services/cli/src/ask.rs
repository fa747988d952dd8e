//! `curio ask`: the model as an oracle. `output` says what a program will
//! print without running it, `rank` orders programs by the model's belief
//! that each prints an expected output, `surprise` runs a program and
//! shows the steps the model found least likely, and `input` searches for
//! an input under which a program prints what is asked, checking the
//! model's proposals in the sandbox.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use curio_interpreter_pool::{Execution, Language, Sandbox, Status};
use curio_learner::{Asking, Code, Learner, Printed, Searching, closeness};
use curio_trace::Run;
use serde_json::{Value, json};

use crate::learn::device;

#[derive(Subcommand, Debug)]
pub enum Ask {
    /// What a program prints, predicted without running it, with the
    /// model's confidence and the outputs its drawn rollouts printed.
    Output(OutputArgs),
    /// Order programs by the model's belief that each prints --output
    /// (given --input on stdin), the likeliest first; nothing is run.
    Rank(RankArgs),
    /// Run a program in the sandbox and show the steps the model found
    /// least likely, with what it expected there.
    Surprise(SurpriseArgs),
    /// Search for an input under which a program prints --output: changes
    /// to its literals outside function and class bodies (a call's arguments) and to
    /// its stdin's words, scored by the model; the likeliest are run in
    /// the sandbox, which alone decides. --search climb or blind are the
    /// baselines without the model, at the same number of runs.
    Input(InputArgs),
}

/// What every question takes: the model and how it is asked.
#[derive(Args, Debug)]
pub struct Common {
    /// The checkpoint to ask.
    #[arg(long)]
    checkpoint: PathBuf,
    /// `python`, `lua` or `js`, for every program. Default: Lua for a
    /// `.lua` file, JavaScript for a `.js` file, else Python (`input`
    /// searches Python programs only).
    #[arg(long)]
    language: Option<String>,
    /// Rollouts drawn from the model's distribution beside the greedy one
    /// (default 16; 2 per proposal for `input`).
    #[arg(long)]
    samples: Option<usize>,
    /// Their temperature: 1 samples the model's own distribution.
    #[arg(long, default_value_t = Asking::default().temperature)]
    temperature: f64,
    /// Their seed: the same seed draws the same rollouts.
    #[arg(long, default_value_t = Asking::default().seed)]
    seed: u64,
    /// Most steps per rollout.
    #[arg(long, default_value_t = Asking::default().horizon)]
    horizon: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
}

impl Common {
    /// How the model is asked, with `samples` draws unless --samples says.
    fn asking_with(&self, samples: usize) -> anyhow::Result<Asking> {
        Ok(Asking { samples: self.samples.unwrap_or(samples), ..self.asking()? })
    }

    fn asking(&self) -> anyhow::Result<Asking> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            anyhow::bail!("--temperature must be a positive number, not {}", self.temperature);
        }
        let samples = self.samples.unwrap_or(Asking::default().samples);
        Ok(Asking { samples, temperature: self.temperature, seed: self.seed, horizon: self.horizon })
    }

    fn load(&self) -> anyhow::Result<(Learner, tch::Device)> {
        let device = device(self.threads);
        Ok((Learner::load(&self.checkpoint, device, None)?, device))
    }

    /// `file`'s language ([`crate::trace::language_of`]).
    fn language(&self, file: &Path) -> anyhow::Result<Language> {
        crate::trace::language_of(&file.to_string_lossy(), self.language.as_deref())
    }
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    #[command(flatten)]
    common: Common,
    /// The program.
    file: PathBuf,
    /// Its stdin.
    #[arg(long, default_value = "")]
    input: String,
}

#[derive(Args, Debug)]
pub struct RankArgs {
    #[command(flatten)]
    common: Common,
    /// The output expected (whitespace at its end is not compared).
    #[arg(long)]
    output: String,
    /// The stdin every program is given.
    #[arg(long, default_value = "")]
    input: String,
    /// The candidate programs.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SurpriseArgs {
    #[command(flatten)]
    common: Common,
    /// The program.
    file: PathBuf,
    /// Its stdin.
    #[arg(long, default_value = "")]
    input: String,
    /// The seed of its run (of its `random` draws).
    #[arg(long, default_value_t = 0)]
    run_seed: u64,
    /// How many of the least likely steps to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

#[derive(Args, Debug)]
pub struct InputArgs {
    #[command(flatten)]
    common: Common,
    /// The Python program: its literals outside function and class bodies
    /// and its stdin's words are what the search changes.
    file: PathBuf,
    /// The output to produce (whitespace at its end is not compared).
    #[arg(long)]
    output: String,
    /// The stdin to start from.
    #[arg(long, default_value = "")]
    input: String,
    /// Runs in the sandbox the search may spend.
    #[arg(long, default_value_t = Searching::default().checks)]
    checks: usize,
    /// Changed inputs the model scores per round.
    #[arg(long, default_value_t = Searching::default().proposals)]
    proposals: usize,
    /// Of them, how many are run per round (those it believes most).
    #[arg(long, default_value_t = Searching::default().per_round)]
    per_round: usize,
    /// The best inputs each round's changes start from.
    #[arg(long, default_value_t = Searching::default().beam)]
    beam: usize,
    /// `model` (the model scores proposals), `climb` (the same beam
    /// without it: only what runs print guides the search) or `blind`
    /// (random changes): the last two are baselines at the same runs.
    #[arg(long, default_value = "model", value_parser = ["model", "climb", "blind"])]
    search: String,
}

pub fn run(ask: Ask) -> anyhow::Result<()> {
    match ask {
        Ask::Output(args) => output(args),
        Ask::Rank(args) => rank(args),
        Ask::Surprise(args) => surprise(args),
        Ask::Input(args) => input(args),
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Refuses a program too long for the model to read, saying how much it reads.
fn readable(learner: &Learner, code: Code<'_>, input: &str) -> anyhow::Result<()> {
    match curio_learner::unreadable(&learner.model, code, input) {
        Some(reason) => anyhow::bail!("the program is {reason}"),
        None => Ok(()),
    }
}

fn output(args: OutputArgs) -> anyhow::Result<()> {
    let asking = args.common.asking()?;
    let (learner, device) = args.common.load()?;
    let source = read(&args.file)?;
    let code = Code::new(args.common.language(&args.file)?, &source);
    readable(&learner, code, &args.input)?;
    let e = curio_learner::expect_output(&learner.model, (code, &args.input), asking, device, |_| false)?;
    let printed = e.stdout();
    if args.common.json {
        let out = json!({
            "checkpoint_step": learner.train_step,
            "stdout": printed,
            "confidence": e.confidence,
            "ended": e.greedy.end.code(),
            "steps": e.greedy.steps.len(),
            "outputs": e.outputs.iter().map(|(o, p)| json!({"stdout": o, "probability": p})).collect::<Vec<_>>(),
        });
        println!("{out}");
        return Ok(());
    }
    println!("predicted stdout ({} steps; the rollout {}):", e.greedy.steps.len(), e.greedy.end.describe());
    println!("{printed}");
    match e.drawn.len() {
        0 => println!("confidence {:.3} (the product of its steps' action confidences)", e.confidence),
        n => {
            println!(
                "confidence {:.2}: {n} rollouts drawn at temperature {}; they printed:",
                e.confidence, asking.temperature
            );
            for (o, p) in &e.outputs {
                println!("  {p:>5.2}  {o:?}");
            }
        }
    }
    Ok(())
}

fn rank(args: RankArgs) -> anyhow::Result<()> {
    let asking = args.common.asking()?;
    let (learner, device) = args.common.load()?;
    let sources: Vec<String> = args.files.iter().map(|f| read(f)).collect::<anyhow::Result<_>>()?;
    let languages: Vec<Language> = args.files.iter().map(|f| args.common.language(f)).collect::<anyhow::Result<_>>()?;
    let candidates: Vec<(Code<'_>, &str)> =
        sources.iter().zip(&languages).map(|(s, l)| (Code::new(*l, s), args.input.as_str())).collect();
    for (file, (code, input)) in args.files.iter().zip(&candidates) {
        readable(&learner, *code, input).with_context(|| format!("ranking {}", file.display()))?;
    }
    let ranked = curio_learner::rank(&learner.model, &candidates, &args.output, asking, device, |_| false)?;
    if args.common.json {
        let order: Vec<Value> = ranked
            .iter()
            .map(|r| {
                json!({
                    "file": args.files[r.index].display().to_string(),
                    "probability": r.probability,
                    "closeness": r.closeness,
                    "predicted_stdout": r.printed,
                })
            })
            .collect();
        println!("{}", json!({"checkpoint_step": learner.train_step, "samples": asking.samples, "ranking": order}));
        return Ok(());
    }
    println!("likeliest to print {:?} first ({} drawn rollouts each):", args.output, asking.samples);
    for (place, r) in ranked.iter().enumerate() {
        println!(
            "{:>3}. {}  p = {:.2}, nearest rollout {:.2} alike; greedy printed {:?}",
            place + 1,
            args.files[r.index].display(),
            r.probability,
            r.closeness,
            r.printed
        );
    }
    Ok(())
}

fn surprise(args: SurpriseArgs) -> anyhow::Result<()> {
    let (learner, device) = args.common.load()?;
    let source = read(&args.file)?;
    let language = args.common.language(&args.file)?;
    let exec = Execution { input: args.input.clone(), seed: args.run_seed, ..Execution::new(language, source.clone()) };
    let trace = crate::sandbox(1)?.execute(&exec)?;
    let run = Run { language, source: source.clone(), input: args.input.clone(), steps: trace.steps };
    let s = curio_learner::surprise(&learner.model, &run, args.top, device, |_| false)?;
    let lines: Vec<&str> = source.lines().collect();
    let code = |line: usize| lines.get(line.wrapping_sub(1)).map_or("", |l| l.trim());
    if args.common.json {
        let top: Vec<Value> = s
            .top(args.top)
            .iter()
            .map(|x| {
                json!({
                    "step": x.step, "line": x.line, "code": code(x.line as usize),
                    "nats": x.nats(), "action_nats": x.action_nats, "state_nats": x.state_nats,
                    "next_line": x.next_line, "real": x.real,
                    "expected": x.expected.as_ref().map(|(l, d)| json!({"next_line": l, "delta": d})),
                })
            })
            .collect();
        let out = json!({
            "checkpoint_step": learner.train_step,
            "status": trace.status.as_str(),
            "steps": s.steps.len(),
            "unread": s.unread,
            "nats_per_step": s.per_step(),
            "top": top,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "the run ({}) took {} steps; the model read {} of them, {:.2} nats a step on average",
        trace.status.as_str(),
        s.steps.len() + s.unread,
        s.steps.len(),
        s.per_step()
    );
    for x in s.top(args.top) {
        println!(
            "\nstep {:>4}, line {:>3}: {}\n  {:.2} nats ({:.2} the next line, {:.2} the state)",
            x.step,
            x.line,
            code(x.line as usize),
            x.nats(),
            x.action_nats,
            x.state_nats
        );
        println!("  real:     line {} then {:?}", x.next_line, x.real);
        if let Some((line, delta)) = &x.expected {
            println!("  expected: line {line} then {delta:?}");
        }
    }
    Ok(())
}

/// Runs `source` with `stdin` in `sandbox`: what it printed, where it ended normally.
pub(crate) fn printed(sandbox: &Sandbox, source: &str, stdin: &str) -> anyhow::Result<Printed> {
    let exec = Execution { input: stdin.into(), ..Execution::python(source) };
    let trace = sandbox.execute(&exec)?;
    Ok(matches!(trace.status, Status::Ok).then_some(trace.stdout))
}

/// The lines of `changed` between the lines it shares with `source` at
/// the start and at the end, numbered: what a change of a literal (a list
/// joined onto one line, say) made of them.
fn changed_lines(source: &str, changed: &str) -> Vec<(usize, String)> {
    let (was, now): (Vec<&str>, Vec<&str>) = (source.lines().collect(), changed.lines().collect());
    let head = was.iter().zip(&now).take_while(|(a, b)| a == b).count();
    let tail = was[head..].iter().rev().zip(now[head..].iter().rev()).take_while(|(a, b)| a == b).count();
    now[head..now.len() - tail].iter().enumerate().map(|(i, l)| (head + i + 1, l.to_string())).collect()
}

fn input(args: InputArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let asking = common.asking_with(Searching::default().asking.samples)?;
    if args.checks == 0 || args.proposals == 0 {
        anyhow::bail!("--checks and --proposals must be at least 1");
    }
    let source = read(&args.file)?;
    if common.language(&args.file)? != Language::Python {
        anyhow::bail!("the input search changes Python literals: give it a Python program");
    }
    let sandbox = crate::sandbox(1)?;
    let check = |s: &str, i: &str| printed(&sandbox, s, i);
    let searching = Searching {
        checks: args.checks,
        proposals: args.proposals,
        per_round: args.per_round,
        beam: args.beam,
        seed: common.seed,
        asking,
    };
    let at = (&source[..], &args.input[..]);
    let (search, step) = match args.search.as_str() {
        "blind" => (curio_learner::blind_search(at, &args.output, args.checks, common.seed, check)?, None),
        "climb" => (curio_learner::climb_search(at, &args.output, searching, check)?, None),
        _ => {
            let (learner, device) = common.load()?;
            readable(&learner, Code::python(&source), &args.input)?;
            let found =
                curio_learner::search_input(&learner.model, at, &args.output, searching, device, check, |_| false);
            (found.map_err(|e| anyhow::anyhow!("{e}"))?, Some(learner.train_step))
        }
    };
    let found = search.found();
    if common.json {
        let tried: Vec<Value> = search
            .tried
            .iter()
            .map(|t| {
                json!({
                    "changed_lines": changed_lines(&source, &t.source),
                    "input": t.input, "belief": t.belief, "printed": t.printed, "right": t.right,
                })
            })
            .collect();
        let out = json!({
            "checkpoint_step": step,
            "search": args.search,
            "found": found.is_some(),
            "source": found.map(|t| &t.source),
            "input": found.map(|t| &t.input),
            "checks": search.tried.len(),
            "scored": search.scored,
            "tried": tried,
        });
        println!("{out}");
        return Ok(());
    }
    let how = match args.search.as_str() {
        "blind" => "random changes".to_string(),
        "climb" => "changes from the nearest runs".to_string(),
        _ => format!("the model scored {} changed inputs", search.scored),
    };
    match found {
        Some(t) => {
            println!("found after {} runs ({how}); the sandbox printed {:?}:", search.tried.len(), args.output);
            for (line, text) in changed_lines(&source, &t.source) {
                println!("  line {line:>3}: {text}");
            }
            if t.input != args.input {
                println!("  stdin: {:?}", t.input);
            }
        }
        None => {
            println!("not found in {} runs ({how}); the nearest runs printed:", search.tried.len());
            let mut near: Vec<_> = search.tried.iter().filter_map(|t| t.printed.as_ref().map(|p| (t, p))).collect();
            near.sort_by(|a, b| closeness(b.1, &args.output).total_cmp(&closeness(a.1, &args.output)));
            for (t, p) in near.into_iter().take(3) {
                let lines: Vec<String> = changed_lines(&source, &t.source).into_iter().map(|(_, l)| l).collect();
                println!("  {p:?} from {} {:?}", lines.join(" / "), t.input);
            }
        }
    }
    Ok(())
}
