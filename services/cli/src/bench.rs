//! `curio bench pool`: isolated executions per second, instantiate latency,
//! and the per-step cost against the same tracer under the native
//! interpreter (`python3`, `lua5.4`), measured in the same run so the ratio
//! survives a noisy machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use curio_interpreter_pool::{
    Execution, Language, Limits, Sandbox, Status, bench_native_js, bench_native_lua, run_native_tracer,
};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand, Debug)]
pub enum Bench {
    /// Throughput of isolated executions and the per-step ratio to native CPython.
    Pool(PoolBench),
    /// Replay-store write throughput and minibatch sampling latency.
    Store(crate::bench_store::StoreBench),
    /// Training tokens/s of the world model, against the same model in PyTorch.
    Learner(crate::bench_learner::LearnerBench),
    /// A loopback pool at and beyond capacity: sustained rate, tail latency, shedding.
    Load(crate::bench_load::LoadBench),
    /// The hostile-program corpus against a live pool, each run followed by a canary.
    Hostile(crate::bench_hostile::HostileBench),
}

#[derive(Args, Debug)]
pub struct PoolBench {
    /// Threads executing at once (one sandbox slot each).
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Seconds of the throughput phase.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The guest to measure: `python` or `lua`.
    #[arg(long, default_value = "python")]
    language: String,
}

/// What one language's benchmark runs.
struct Workload {
    language: Language,
    /// Small programs for the throughput phase.
    programs: &'static [&'static str],
    /// Step-heavy programs for the per-step ratio.
    long: &'static [&'static str],
    /// A program that does nothing: the fixed cost of an execution.
    empty: &'static str,
}

const PYTHON: Workload =
    Workload { language: Language::Python, programs: &PROGRAMS, long: &LONG_PROGRAMS, empty: "pass" };
const LUA: Workload =
    Workload { language: Language::Lua, programs: &LUA_PROGRAMS, long: &LUA_LONG_PROGRAMS, empty: "local _ = 0" };
const JS: Workload = Workload { language: Language::Js, programs: &JS_PROGRAMS, long: &JS_LONG_PROGRAMS, empty: ";" };

/// Small programs of the kind the learner sends: a few dozen steps each.
const PROGRAMS: [&str; 5] = [
    "def f(n):\n    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)\nx = f(5)\nprint(x)\n",
    "s = 'hello world'\nwords = s.split()\nout = []\nfor w in words:\n    out.append(w[::-1].upper())\nprint('-'.join(out))\n",
    "d = {}\nfor i in range(6):\n    d[i % 3] = d.get(i % 3, 0) + i\nitems = sorted(d.items())\nprint(items)\n",
    "def safe(a, b):\n    try:\n        return a // b\n    except ZeroDivisionError:\n        return None\nr = [safe(6, 2), safe(1, 0)]\nprint(r)\n",
    "total = 0\ni = 0\nwhile i < 8:\n    if i % 2:\n        total += i\n    i += 1\nprint(total)\n",
];

/// Step-heavy programs (1-3 thousand steps each) for the per-step ratio, so
/// the fixed cost of an execution does not pose as per-step cost.
const LONG_PROGRAMS: [&str; 4] = [
    "def f(n):\n    if n < 2:\n        return n\n    return f(n - 1) + f(n - 2)\nx = f(11)\nprint(x)\n",
    "s = 'hello world ' * 100\nwords = s.split()\nout = []\nfor w in words:\n    out.append(w[::-1].upper())\nprint(len('-'.join(out)))\n",
    "d = {}\nfor i in range(500):\n    d[i % 7] = d.get(i % 7, 0) + i\nitems = sorted(d.items())\nprint(items)\n",
    "def safe(a, b):\n    try:\n        return a // b\n    except ZeroDivisionError:\n        return None\nr = 0\nfor i in range(300):\n    v = safe(i, i % 4)\n    r += v or 0\nprint(r)\n",
];

/// The Python programs' counterparts in Lua.
const LUA_PROGRAMS: [&str; 5] = [
    "local function f(n)\n  if n < 2 then return n end\n  return f(n - 1) + f(n - 2)\nend\nlocal x = f(5)\nprint(x)\n",
    "local s = 'hello world'\nlocal out = {}\nfor w in s:gmatch('%a+') do\n  out[#out + 1] = w:reverse():upper()\nend\nprint(table.concat(out, '-'))\n",
    "local d = {}\nfor i = 0, 5 do\n  d[i % 3] = (d[i % 3] or 0) + i\nend\nlocal keys = {}\nfor k in pairs(d) do keys[#keys + 1] = k end\ntable.sort(keys)\nprint(#keys)\n",
    "local function safe(a, b)\n  local ok, r = pcall(function() if b == 0 then error('zero') end return a // b end)\n  if ok then return r end\n  return nil\nend\nlocal r = {safe(6, 2), safe(1, 0)}\nprint(r[1], r[2])\n",
    "local total = 0\nlocal i = 0\nwhile i < 8 do\n  if i % 2 == 1 then\n    total = total + i\n  end\n  i = i + 1\nend\nprint(total)\n",
];

/// The long Python programs' counterparts in Lua.
const LUA_LONG_PROGRAMS: [&str; 4] = [
    "local function f(n)\n  if n < 2 then return n end\n  return f(n - 1) + f(n - 2)\nend\nlocal x = f(11)\nprint(x)\n",
    "local s = string.rep('hello world ', 100)\nlocal out = {}\nfor w in s:gmatch('%a+') do\n  out[#out + 1] = w:reverse():upper()\nend\nprint(#table.concat(out, '-'))\n",
    "local d = {}\nfor i = 0, 499 do\n  d[i % 7] = (d[i % 7] or 0) + i\nend\nlocal keys = {}\nfor k in pairs(d) do keys[#keys + 1] = k end\ntable.sort(keys)\nprint(#keys)\n",
    "local function safe(a, b)\n  local ok, r = pcall(function() if b == 0 then error('zero') end return a // b end)\n  if ok then return r end\n  return nil\nend\nlocal r = 0\nfor i = 0, 299 do\n  local v = safe(i, i % 4)\n  r = r + (v or 0)\nend\nprint(r)\n",
];

/// The Python programs' counterparts in JavaScript.
const JS_PROGRAMS: [&str; 5] = [
    "function f(n) {\n  if (n < 2) return n;\n  return f(n - 1) + f(n - 2);\n}\nconst x = f(5);\nconsole.log(x);\n",
    "const s = 'hello world';\nconst out = [];\nfor (const w of s.split(' ')) {\n  out.push([...w].reverse().join('').toUpperCase());\n}\nconsole.log(out.join('-'));\n",
    "const d = new Map();\nfor (let i = 0; i < 6; i++) {\n  d.set(i % 3, (d.get(i % 3) || 0) + i);\n}\nconst items = [...d.entries()].sort();\nconsole.log(items);\n",
    "function safe(a, b) {\n  try {\n    if (b === 0) throw new RangeError('zero');\n    return Math.floor(a / b);\n  } catch (e) {\n    return null;\n  }\n}\nconst r = [safe(6, 2), safe(1, 0)];\nconsole.log(r);\n",
    "let total = 0;\nlet i = 0;\nwhile (i < 8) {\n  if (i % 2) {\n    total += i;\n  }\n  i += 1;\n}\nconsole.log(total);\n",
];

/// The long Python programs' counterparts in JavaScript.
const JS_LONG_PROGRAMS: [&str; 4] = [
    "function f(n) {\n  if (n < 2) return n;\n  return f(n - 1) + f(n - 2);\n}\nconst x = f(11);\nconsole.log(x);\n",
    "const s = 'hello world '.repeat(100);\nconst out = [];\nfor (const w of s.split(' ')) {\n  out.push([...w].reverse().join('').toUpperCase());\n}\nconsole.log(out.join('-').length);\n",
    "const d = new Map();\nfor (let i = 0; i < 500; i++) {\n  d.set(i % 7, (d.get(i % 7) || 0) + i);\n}\nconst items = [...d.entries()].sort();\nconsole.log(items.length);\n",
    "function safe(a, b) {\n  try {\n    if (b === 0) throw new RangeError('zero');\n    return Math.floor(a / b);\n  } catch (e) {\n    return null;\n  }\n}\nlet r = 0;\nfor (let i = 0; i < 300; i++) {\n  const v = safe(i, i % 4);\n  r += v || 0;\n}\nconsole.log(r);\n",
];

pub fn run(bench: Bench, data_dir: &std::path::Path) -> anyhow::Result<()> {
    match bench {
        Bench::Pool(args) => pool(args),
        Bench::Store(args) => tokio::runtime::Runtime::new()?.block_on(crate::bench_store::run(args, data_dir)),
        Bench::Learner(args) => crate::bench_learner::run(args),
        Bench::Load(args) => tokio::runtime::Runtime::new()?.block_on(crate::bench_load::run(args)),
        Bench::Hostile(args) => tokio::runtime::Runtime::new()?.block_on(crate::bench_hostile::run(args)),
    }
}

fn pool(args: PoolBench) -> anyhow::Result<()> {
    anyhow::ensure!((1..=64).contains(&args.threads), "--threads is {}; allowed 1..=64", args.threads);
    anyhow::ensure!(args.seconds > 0.0 && args.seconds <= 3600.0, "--seconds must be in (0, 3600]");
    let language = Language::parse(&args.language).map_err(|e| anyhow::anyhow!("--language {}", e.reason))?;
    let work = match language {
        Language::Python => &PYTHON,
        Language::Lua => &LUA,
        Language::Js => &JS,
    };
    let sandbox = crate::sandbox(args.threads)?;
    println!("guest_load_ms: {:.1} (from cache: {})", sandbox.load_time.as_secs_f64() * 1e3, sandbox.from_cache);
    for source in work.programs {
        let trace = sandbox.execute(&Execution::new(language, *source))?;
        anyhow::ensure!(trace.status == Status::Ok, "bench program failed: {:?}\n{source}", trace.error);
    }

    let empty = fixed_cost(&sandbox, work, 50)?;
    let (wasm_per_step, native_per_step, steps) = per_step_costs(&sandbox, work)?;

    let runs = throughput(&sandbox, work, args.threads, Duration::from_secs_f64(args.seconds));
    let executions = runs.len();
    let mut instantiate: Vec<f64> = runs.iter().map(|r| r.0).collect();
    let mut total: Vec<f64> = runs.iter().map(|r| r.1).collect();
    println!("language: {language}");
    println!("threads: {}, seconds: {}, programs: {}", args.threads, args.seconds, work.programs.len());
    println!("executions: {executions}");
    println!("instantiate_ms_p50: {:.3}", percentile(&mut instantiate, 0.50));
    println!("instantiate_ms_p99: {:.3}", percentile(&mut instantiate, 0.99));
    println!("execution_ms_p50: {:.3}", percentile(&mut total, 0.50));
    println!("execution_ms_p99: {:.3}", percentile(&mut total, 0.99));
    println!("empty_program_ms: {:.3} (instantiate excluded)", empty * 1e3);
    println!("wasm_us_per_step: {:.2} (best of {ROUNDS} rounds of {steps} steps)", wasm_per_step * 1e6);
    println!("native_us_per_step: {:.2} (best of {ROUNDS} rounds of {steps} steps)", native_per_step * 1e6);
    println!("executions_per_second: {:.1}", executions as f64 / args.seconds);
    println!("native_ratio: {:.2}", wasm_per_step / native_per_step);
    Ok(())
}

/// Mean seconds to run an empty program (instantiate excluded): the fixed
/// cost of an execution.
fn fixed_cost(sandbox: &Sandbox, work: &Workload, repeat: u32) -> anyhow::Result<f64> {
    let mut seconds = 0.0;
    for _ in 0..repeat {
        let trace = sandbox.execute(&Execution::new(work.language, work.empty))?;
        seconds += (trace.duration - trace.instantiate).as_secs_f64();
    }
    Ok(seconds / f64::from(repeat))
}

/// Rounds of the per-step comparison; each side keeps its best round, so a
/// noisy neighbour slowing one round does not tilt the ratio.
const ROUNDS: usize = 5;

/// Per-step seconds of the long programs in the sandbox (instantiation
/// excluded) and under the native interpreter, in alternating rounds.
fn per_step_costs(sandbox: &Sandbox, work: &Workload) -> anyhow::Result<(f64, f64, u64)> {
    let (mut wasm_best, mut native_best, mut steps) = (f64::INFINITY, f64::INFINITY, 0);
    for _ in 0..ROUNDS {
        let (mut seconds, mut round_steps) = (0.0, 0);
        for _ in 0..2 {
            for source in work.long {
                let exec = Execution { limits: long_limits(), ..Execution::new(work.language, *source) };
                let trace = sandbox.execute(&exec)?;
                anyhow::ensure!(trace.status == Status::Ok, "bench program failed: {:?}\n{source}", trace.error);
                seconds += (trace.duration - trace.instantiate).as_secs_f64();
                round_steps += trace.step_count;
            }
        }
        wasm_best = wasm_best.min(seconds / round_steps as f64);
        steps = round_steps;
        let (native_steps, native_seconds) = native_run(work).context("running the native baseline")?;
        anyhow::ensure!(native_steps == round_steps, "native traced {native_steps} steps, the sandbox {round_steps}");
        native_best = native_best.min(native_seconds / native_steps as f64);
    }
    Ok((wasm_best, native_best, steps))
}

/// The long programs, twice each, under the native interpreter's tracer:
/// (events, seconds in the tracer).
fn native_run(work: &Workload) -> anyhow::Result<(u64, f64)> {
    match work.language {
        Language::Python => {
            let request = serde_json::json!({"mode": "bench", "programs": work.long, "repeat": 2, "repr_cap": 200});
            let native = run_native_tracer(&request).map_err(anyhow::Error::msg)?;
            Ok((
                native["steps"].as_u64().context("native steps")?,
                native["seconds"].as_f64().context("native seconds")?,
            ))
        }
        Language::Lua => {
            let programs: Vec<String> = work.long.iter().map(|s| s.to_string()).collect();
            bench_native_lua(&programs, 2, 200).map_err(anyhow::Error::msg)
        }
        Language::Js => {
            let programs: Vec<String> = work.long.iter().map(|s| s.to_string()).collect();
            bench_native_js(&programs, 2, 200).map_err(anyhow::Error::msg)
        }
    }
}

fn long_limits() -> Limits {
    Limits { max_steps: 100_000, timeout: Duration::from_secs(30), ..Limits::default() }
}

/// Runs the programs round-robin on `threads` threads for `span`; returns
/// (instantiate ms, total ms) per execution.
fn throughput(sandbox: &Arc<Sandbox>, work: &'static Workload, threads: u32, span: Duration) -> Vec<(f64, f64)> {
    let bar = ProgressBar::new(span.as_secs()).with_style(
        ProgressStyle::with_template("throughput {bar:30} {pos}/{len} s").expect("valid progress template"),
    );
    let started = Instant::now();
    let workers: Vec<_> = (0..threads as usize)
        .map(|t| {
            let sandbox = sandbox.clone();
            std::thread::spawn(move || {
                let mut runs = Vec::new();
                let mut i = t;
                while started.elapsed() < span {
                    let exec = Execution::new(work.language, work.programs[i % work.programs.len()]);
                    if let Ok(trace) = sandbox.execute(&exec) {
                        runs.push((trace.instantiate.as_secs_f64() * 1e3, trace.duration.as_secs_f64() * 1e3));
                    }
                    i += 1;
                }
                runs
            })
        })
        .collect();
    while started.elapsed() < span {
        bar.set_position(started.elapsed().as_secs());
        std::thread::sleep(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
}

/// The `q` quantile (nearest rank) of `values`, NaN when empty.
pub(crate) fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * q).round() as usize]
}
