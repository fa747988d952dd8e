//! `curio trace FILE`: one program (Python or Lua) through the sandbox, in-process.

use std::io::{Read, Write};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use curio_interpreter_pool::{Execution, Language, Limits, Trace};

#[derive(Args, Debug)]
pub struct TraceArgs {
    /// Source file, or `-` for stdin.
    file: String,
    /// `python`, `lua` or `js`. Default: `lua` for a `.lua` file, `js` for
    /// a `.js` file, else `python`.
    #[arg(long)]
    language: Option<String>,
    /// Text on the program's stdin.
    #[arg(long, default_value = "")]
    input: String,
    /// Seed for `random` and the sandbox's entropy.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Trace events before the run stops with `step_limit`.
    #[arg(long, default_value_t = Limits::default().max_steps)]
    max_steps: u32,
    /// Wall-clock limit in milliseconds.
    #[arg(long, default_value_t = Limits::default().timeout.as_millis() as u64)]
    timeout_ms: u64,
    /// Memory limit in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_mib: u64,
    /// Print one JSON object (status, stdout, steps, error, ...) instead of a table.
    #[arg(long)]
    json: bool,
}

/// A program file's language: `given` (`--language`) if any, else Lua for
/// a `.lua` file, JavaScript for a `.js` file, else Python.
pub(crate) fn language_of(file: &str, given: Option<&str>) -> anyhow::Result<Language> {
    Ok(match given {
        Some(name) => Language::parse(name).map_err(|e| anyhow::anyhow!("--language {}", e.reason))?,
        None if file.ends_with(".lua") => Language::Lua,
        None if file.ends_with(".js") => Language::Js,
        None => Language::Python,
    })
}

pub fn run(args: TraceArgs) -> anyhow::Result<()> {
    let source = if args.file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).context("reading the program from stdin")?;
        s
    } else {
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file))?
    };
    let language = language_of(&args.file, args.language.as_deref())?;
    let exec = Execution {
        input: args.input,
        seed: args.seed,
        limits: Limits {
            max_steps: args.max_steps,
            timeout: Duration::from_millis(args.timeout_ms),
            memory_bytes: args.memory_mib << 20,
            output_bytes: Limits::default().output_bytes,
        },
        ..Execution::new(language, source)
    };
    exec.validate().context("invalid request")?;
    let sandbox = crate::sandbox(1)?;
    let trace = sandbox.execute(&exec)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = if args.json {
        serde_json::to_writer(&mut out, &trace).map_err(std::io::Error::from).and_then(|()| writeln!(out))
    } else {
        print_table(&mut out, &trace)
    };
    match written.and_then(|()| out.flush()) {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

pub(crate) fn print_table(out: &mut impl Write, t: &Trace) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5}  {:<9} {:>4}  {:<16} {:>3}  locals / value / stdout",
        "step", "event", "line", "function", "dep"
    )?;
    for s in &t.steps {
        let locals: Vec<String> = s.locals.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut detail = locals.join(" ");
        if let Some(v) = &s.value {
            detail.push_str(&format!("  -> {v}"));
        }
        if !s.stdout.is_empty() {
            detail.push_str(&format!("  out {:?}", s.stdout));
        }
        let event = s.event.as_str();
        writeln!(out, "{:>5}  {:<9} {:>4}  {:<16} {:>3}  {detail}", s.step, event, s.line, s.function, s.depth)?;
    }
    writeln!(out)?;
    writeln!(out, "status: {}", t.status.as_str())?;
    if let Some(e) = &t.error {
        let at = e.line.map(|l| format!(" (line {l})")).unwrap_or_default();
        writeln!(out, "error: {}: {}{at}", e.kind, e.message)?;
    }
    let truncated = if t.truncated { ", truncated" } else { "" };
    writeln!(
        out,
        "steps: {}{truncated}, stdout: {} bytes, {:.2} ms (instantiate {:.2} ms)",
        t.step_count,
        t.stdout_bytes,
        t.duration.as_secs_f64() * 1e3,
        t.instantiate.as_secs_f64() * 1e3
    )?;
    if !t.stdout.is_empty() {
        writeln!(out, "--- stdout ---\n{}", t.stdout.trim_end_matches('\n'))?;
    }
    Ok(())
}
