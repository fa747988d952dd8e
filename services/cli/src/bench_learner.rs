//! `curio bench learner`: training tokens per second of the world model,
//! and of the same architecture in plain PyTorch (learner/bench/reference.py,
//! run by the venv's Python on the very same batches) in the same run.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{Execution, Status};
use curio_learner::{
    DEPTHS, Decoding, Example, GenConfig, LINE_IDS, LINE_REL_VOCAB, Learner, ModelConfig, State, TrainConfig, Trainer,
    collate, examples, generate, inputs, rollout_with,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tch::{Device, Tensor};

#[derive(Args, Debug)]
pub struct LearnerBench {
    /// Training steps timed per round.
    #[arg(long, default_value_t = 12)]
    steps: usize,
    /// Programs per step.
    #[arg(long, default_value_t = 4)]
    batch: usize,
    /// Examples per program (as `curio train --pack`).
    #[arg(long, default_value_t = 8)]
    pack: usize,
    /// CPU threads, for both.
    #[arg(long, default_value_t = 2, env = "CURIO_THREADS")]
    threads: i32,
    /// Rounds, alternating the two; the best of each counts.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Programs rolled out together, for rollout steps per second.
    #[arg(long, default_value_t = 16)]
    rollouts: usize,
    /// Steps each rollout runs.
    #[arg(long, default_value_t = 8)]
    horizon: usize,
    /// The Python with PyTorch.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
}

pub fn run(args: LearnerBench) -> anyhow::Result<()> {
    anyhow::ensure!(args.steps > 0 && args.batch > 0 && args.rounds > 0, "--steps, --batch and --rounds must be > 0");
    tch::set_num_threads(args.threads);
    let batches = batches(args.batch, args.pack.max(1), args.steps)?;
    let config = ModelConfig::default();
    let file = std::env::temp_dir().join(format!("curio-bench-learner-{}.json", std::process::id()));
    let (json, tokens) = wire(&batches, &config)?;
    std::fs::write(&file, serde_json::to_vec(&json)?)?;
    let examples: usize = batches.iter().map(Vec::len).sum();
    println!("batches: {} of {} programs, {examples} examples, {tokens} padded tokens", batches.len(), args.batch);
    let (mut ours, mut ours_examples, mut theirs): (f64, f64, Option<f64>) = (0.0, 0.0, None);
    let mut why_not = String::new();
    for round in 0..args.rounds {
        let (rust, rust_examples) = rust_round(&batches, &config)?;
        println!("round {round}: curio {rust:.0} tokens/s, {rust_examples:.1} examples/s");
        (ours, ours_examples) = (ours.max(rust), ours_examples.max(rust_examples));
        match python_round(&args, &file) {
            Ok(py) => {
                println!("round {round}: pytorch {py:.0} tokens/s");
                theirs = Some(theirs.map_or(py, |t: f64| t.max(py)));
            }
            Err(e) => {
                why_not = format!("{e:#}");
                break;
            }
        }
    }
    let _ = std::fs::remove_file(&file);
    println!("examples_per_second: {ours_examples:.1}");
    println!("tokens_per_second: {ours:.0}");
    match theirs {
        Some(t) => println!("pytorch_ratio: {:.2}", ours / t),
        None => println!("pytorch_ratio: unavailable ({why_not})"),
    }
    // The same batches read as one block of program and state together
    // (chunk 0, as checkpoints before chunks), where they fit it.
    let one_block = ModelConfig { chunk: 0, ..config.clone() };
    let fitting: Vec<Vec<Example>> = batches
        .iter()
        .map(|b| b.iter().filter(|e| one_block.window().fits(e)).cloned().collect::<Vec<_>>())
        .filter(|b| !b.is_empty())
        .collect();
    let (mut chunked, mut block) = (0.0f64, 0.0f64);
    for _ in 0..args.rounds {
        chunked = chunked.max(rust_round(&fitting, &config)?.1);
        block = block.max(rust_round(&fitting, &one_block)?.1);
    }
    println!(
        "chunked_window_ratio: {:.2} ({chunked:.1} examples/s in chunks, {block:.1} in one block)",
        chunked / block
    );
    rollouts(&args, &config)?;
    window_cost(&config)?;
    Ok(())
}

/// Rollout steps per second on generated programs, decoded with the KV
/// cache and with a full pass per byte, on the same untrained model; then
/// the same steps' reading and writing in PyTorch with a KV cache.
fn rollouts(args: &LearnerBench, config: &ModelConfig) -> anyhow::Result<()> {
    let model = Learner::new(config.clone(), Device::Cpu)?.model;
    let starts: Vec<(String, State)> = (0..args.rollouts as u64)
        .map(|seed| (generate(1000 + seed, &GenConfig::default()), State::initial(&inputs(1000 + seed, 1).remove(0))))
        .collect();
    let (mut best, mut paths) = ([0.0f64; 2], vec![]);
    for _ in 0..args.rounds {
        for (i, how) in [Decoding::Cached, Decoding::Full].into_iter().enumerate() {
            let started = Instant::now();
            paths = rollout_with(&model, &starts, (args.horizon, how), Device::Cpu, |_, _, _| false)?;
            let steps: usize = paths.iter().map(|p| p.iter().flatten().count()).sum();
            best[i] = best[i].max(steps as f64 / started.elapsed().as_secs_f64());
        }
    }
    println!("rollout_steps_per_second: {:.1} (full passes: {:.1})", best[0], best[1]);
    println!("rollout_cache_ratio: {:.2}", best[0] / best[1].max(1e-9));
    let file = std::env::temp_dir().join(format!("curio-bench-rollout-{}.json", std::process::id()));
    std::fs::write(&file, serde_json::to_vec(&rollout_rounds(config, &starts, &paths)?)?)?;
    let theirs = python(
        args,
        &["rollout", &file.display().to_string(), &args.threads.to_string()],
        "rollout_steps_per_second: ",
    );
    let _ = std::fs::remove_file(&file);
    match theirs {
        Ok(t) => println!("rollout_ratio: {:.2} (pytorch with a KV cache: {t:.1} steps/s)", best[0] / t),
        Err(e) => println!("rollout_ratio: unavailable ({e:#})"),
    }
    Ok(())
}

/// The rollouts' steps as the reference reads them: per horizon step, the
/// live rows' contexts and how many bytes each wrote (its working, its
/// delta, the action's read and the EOS's).
fn rollout_rounds(
    config: &ModelConfig,
    starts: &[(String, State)],
    paths: &[curio_learner::Rollout],
) -> anyhow::Result<serde_json::Value> {
    let mut rounds = vec![];
    let horizon = paths.iter().map(Vec::len).max().unwrap_or(0);
    for h in 0..horizon {
        let (mut rows, mut owed) = (vec![], vec![]);
        for ((source, start), path) in starts.iter().zip(paths) {
            let Some(Some((_, p))) = path.get(h) else { continue };
            let state = if h == 0 { start } else { &path[h - 1].as_ref().expect("a live rollout").0 };
            rows.push(Example::query(curio_learner::encode_context(source, state, 1)));
            owed.push(p.working.len() + p.delta.len() + 2);
        }
        if !rows.is_empty() {
            rounds.push(serde_json::json!({"batch": wire_batch(&collate(&rows, config.window(), Device::Cpu))?, "decode": owed}));
        }
    }
    Ok(serde_json::json!({"config": wire_config(config), "rounds": rounds}))
}

/// What reading a longer program costs: one training step's forward and
/// backward pass on 8 examples of straight-line programs of growing size.
fn window_cost(config: &ModelConfig) -> anyhow::Result<()> {
    let mut trainer = Trainer::new(Learner::new(config.clone(), Device::Cpu)?, TrainConfig::default())?;
    let mut base = None;
    for bytes in [512usize, 2048, 8192] {
        let lines = bytes / 32;
        let source: String = (0..lines).map(|i| format!("total = total + {i:>4} * 3 - 1  # {i:04}\n")).collect();
        let steps: Vec<curio_trace::Step> = (0..9u32)
            .map(|i| curio_trace::Step {
                step: i,
                event: curio_trace::Event::Line,
                line: i + 1,
                function: "<module>".into(),
                depth: 1,
                locals: vec![("total".into(), (i * 3).to_string())],
                stdout: String::new(),
                value: None,
            })
            .collect();
        let batch = examples(&source, "", &steps, &[1]);
        anyhow::ensure!(
            batch.iter().all(|e| config.window().fits(e)),
            "a {bytes}-byte program does not fit the window"
        );
        trainer.step(&batch)?;
        let started = Instant::now();
        for _ in 0..3 {
            trainer.step(&batch)?;
        }
        let secs = started.elapsed().as_secs_f64() / 3.0;
        let base = *base.get_or_insert(secs);
        println!("window: {} source bytes, {secs:.3} s a step ({:.2}x the 512-byte step)", source.len(), secs / base);
    }
    Ok(())
}

/// Fixed batches from generated programs (k = 1 transitions, `per_row` of
/// a program together), bucketed by length as the trainer does.
fn batches(batch: usize, per_row: usize, steps: usize) -> anyhow::Result<Vec<Vec<Example>>> {
    let sandbox = crate::sandbox(1)?;
    let window = ModelConfig::default().window();
    let mut groups = vec![];
    for seed in 0.. {
        if groups.len() >= batch * steps {
            break;
        }
        let source = generate(seed, &GenConfig::default());
        let exec = Execution { input: inputs(seed, 1).remove(0), seed, ..Execution::python(source.clone()) };
        let trace = sandbox.execute(&exec)?;
        if trace.status == Status::Ok {
            let fitting: Vec<Example> = examples(&source, &exec.input, &trace.steps, &[1])
                .into_iter()
                .step_by(3)
                .filter(|e| window.fits(e))
                .collect();
            for chunk in fitting.chunks(per_row) {
                groups.push(curio_loop::Group { id: groups.len() as i64, examples: chunk.to_vec() });
            }
        }
    }
    groups.truncate(batch * steps);
    let bucketed = curio_loop::buckets(groups, batch, &mut StdRng::seed_from_u64(0));
    Ok(bucketed.into_iter().map(|b| curio_loop::flatten(b).0).collect())
}

/// Training tokens and examples per second.
fn rust_round(batches: &[Vec<Example>], config: &ModelConfig) -> anyhow::Result<(f64, f64)> {
    let mut trainer = Trainer::new(Learner::new(config.clone(), Device::Cpu)?, TrainConfig::default())?;
    trainer.step(&batches[0])?; // warm-up
    let (start, mut tokens) = (Instant::now(), 0i64);
    for b in batches {
        tokens += trainer.step(b)?.tokens;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok((tokens as f64 / secs, batches.iter().map(Vec::len).sum::<usize>() as f64 / secs))
}

fn python_round(args: &LearnerBench, file: &std::path::Path) -> anyhow::Result<f64> {
    let (steps, threads) = (args.steps.to_string(), args.threads.to_string());
    python(args, &[&file.display().to_string(), &steps, &threads], "tokens_per_second: ")
}

/// Runs learner/bench/reference.py with `argv` and reads the figure after `prefix`.
fn python(args: &LearnerBench, argv: &[&str], prefix: &str) -> anyhow::Result<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../learner/bench/reference.py");
    let out = Command::new(&args.python)
        .arg(script)
        .args(argv)
        .output()
        .with_context(|| format!("running {}", args.python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = stdout.lines().find_map(|l| l.strip_prefix(prefix)).and_then(|v| v.trim().parse().ok());
    value.ok_or_else(|| {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("no output").to_string();
        anyhow::anyhow!(
            "{} could not run the PyTorch reference: {last}; `make GPU=1 venv` installs the full wheel",
            args.python.display()
        )
    })
}

/// The batches as the reference script reads them, and their padded tokens.
fn wire(batches: &[Vec<Example>], config: &ModelConfig) -> anyhow::Result<(serde_json::Value, i64)> {
    let (mut out, mut tokens) = (vec![], 0);
    for b in batches {
        let t = collate(b, config.window(), Device::Cpu);
        tokens += t.padded_tokens();
        out.push(wire_batch(&t)?);
    }
    Ok((serde_json::json!({"config": wire_config(config), "batches": out}), tokens))
}

/// One batch's tensors as JSON lists.
fn wire_batch(t: &curio_learner::Batch) -> anyhow::Result<serde_json::Value> {
    let rows = |t: &Tensor| -> anyhow::Result<Vec<Vec<i64>>> {
        let t = t.to_kind(tch::Kind::Int64);
        Ok(Vec::<Vec<i64>>::try_from(&t)?)
    };
    let flat = |t: &Tensor| -> anyhow::Result<Vec<i64>> { Ok(Vec::<i64>::try_from(&t.to_kind(tch::Kind::Int64))?) };
    let (programs, examples, targets) = (&t.programs, &t.examples, &t.targets);
    Ok(serde_json::json!({
        "program": rows(&programs.tokens)?, "program_line": rows(&programs.line)?,
        "program_mask": rows(&programs.mask)?, "program_depth": rows(&programs.depth)?,
        "chunks": rows(&programs.chunks)?,
        "tokens": rows(&examples.tokens)?, "positions": rows(&examples.positions)?,
        "line_id": rows(&examples.line_id)?, "depth": rows(&examples.depth)?, "labels": rows(&targets.labels)?,
        "row": flat(&examples.row)?, "query": flat(&examples.query)?, "delta_start": flat(&examples.delta_start)?,
        "lines": rows(&programs.lines)?, "line_mask": rows(&programs.line_mask)?, "line_rel": rows(&examples.line_rel)?,
        "line_flow": rows(&examples.line_flow)?, "flow": flat(&examples.flow)?,
        "event": flat(&targets.event)?, "line": flat(&targets.line)?,
    }))
}

/// The model's shape as the reference script reads it.
fn wire_config(config: &ModelConfig) -> serde_json::Value {
    serde_json::json!({"vocab": config.vocab, "n_embd": config.n_embd, "n_head": config.n_head, "n_layer": config.n_layer,
                       "block_size": config.block_size, "chunk": config.chunk,
                       "positions": config.window().positions(), "dropout": config.dropout,
                       "line_rel_vocab": LINE_REL_VOCAB, "flow_vocab": curio_learner::FLOW_VOCAB,
                       "line_ids": LINE_IDS, "depths": DEPTHS})
}
