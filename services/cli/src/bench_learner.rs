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
    DEPTHS, Example, GenConfig, LINE_IDS, LINE_REL_VOCAB, Learner, ModelConfig, TrainConfig, Trainer, collate,
    examples, generate, inputs,
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
    Ok(())
}

/// Fixed batches from generated programs (k = 1 transitions, `per_row` of
/// a program together), bucketed by length as the trainer does.
fn batches(batch: usize, per_row: usize, steps: usize) -> anyhow::Result<Vec<Vec<Example>>> {
    let sandbox = crate::sandbox(1)?;
    let block = ModelConfig::default().block_size as usize;
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
                .filter(|e| e.len() <= block)
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../learner/bench/reference.py");
    let out = Command::new(&args.python)
        .args([script, &file.display().to_string(), &args.steps.to_string(), &args.threads.to_string()])
        .output()
        .with_context(|| format!("running {}", args.python.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = stdout.lines().find_map(|l| l.strip_prefix("tokens_per_second: ")).and_then(|v| v.trim().parse().ok());
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
    let rows = |t: &Tensor| -> anyhow::Result<Vec<Vec<i64>>> {
        let t = t.to_kind(tch::Kind::Int64);
        Ok(Vec::<Vec<i64>>::try_from(&t)?)
    };
    let flat = |t: &Tensor| -> anyhow::Result<Vec<i64>> { Ok(Vec::<i64>::try_from(&t.to_kind(tch::Kind::Int64))?) };
    let (mut out, mut tokens) = (vec![], 0);
    for b in batches {
        let t = collate(b, Device::Cpu);
        tokens += t.padded_tokens();
        out.push(serde_json::json!({
            "program": rows(&t.program)?, "program_line": rows(&t.program_line)?,
            "program_mask": rows(&t.program_mask)?, "program_depth": rows(&t.program_depth)?,
            "tokens": rows(&t.tokens)?, "positions": rows(&t.positions)?,
            "line_id": rows(&t.line_id)?, "depth": rows(&t.depth)?, "labels": rows(&t.labels)?,
            "row": flat(&t.row)?, "query": flat(&t.query)?, "delta_start": flat(&t.delta_start)?,
            "lines": rows(&t.lines)?, "line_mask": rows(&t.line_mask)?, "line_rel": rows(&t.line_rel)?,
            "line_flow": rows(&t.line_flow)?, "flow": flat(&t.flow)?,
            "event": flat(&t.event)?, "line": flat(&t.line)?,
        }));
    }
    let json = serde_json::json!({
        "config": {"vocab": config.vocab, "n_embd": config.n_embd, "n_head": config.n_head, "n_layer": config.n_layer,
                   "block_size": config.block_size, "dropout": config.dropout, "line_rel_vocab": LINE_REL_VOCAB,
                   "flow_vocab": curio_learner::FLOW_VOCAB,
                   "line_ids": LINE_IDS, "depths": DEPTHS},
        "batches": out,
    });
    Ok((json, tokens))
}
