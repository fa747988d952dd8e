//! `curio bench hostile --pool ADDR`: the hostile-program corpus against a
//! live pool, each followed by a canary; prints what each did and exits
//! non-zero if anything finished that should not have, or a canary failed.

use std::time::{Duration, Instant};

use clap::Args;
use curio_interpreter_pool::{BOMBS, CANARY, Execution, Limits, SURVIVED, Status, Trace};
use curio_loop::PoolClients;

#[derive(Args, Debug)]
pub struct HostileBench {
    /// The pool to attack (host:port).
    #[arg(long, default_value = "127.0.0.1:50051", env = "CURIO_POOLS")]
    pool: String,
    /// Wall-clock limit per execution, ms.
    #[arg(long, default_value_t = 1500)]
    timeout_ms: u64,
}

pub async fn run(args: HostileBench) -> anyhow::Result<()> {
    let pools = PoolClients::new(std::slice::from_ref(&args.pool), Duration::from_millis(args.timeout_ms + 10_000))?;
    let limits = Limits { timeout: Duration::from_millis(args.timeout_ms), ..Limits::default() };
    let run = |name: &str, source: &str| {
        let exec = Execution { request_id: format!("hostile-{name}"), limits, ..Execution::python(source) };
        let pools = &pools;
        async move {
            let started = Instant::now();
            let trace = pools.execute(&exec).await.map(|e| e.trace);
            (trace, started.elapsed())
        }
    };
    let mut failures = 0;
    println!("{:<46} {:<15} {:>8}  canary", "program", "status", "ms");
    let cases = BOMBS.iter().map(|(n, s)| (*n, *s, None)).chain(SURVIVED.iter().map(|(n, s, o)| (*n, *s, Some(*o))));
    for (name, source, expected) in cases {
        let (trace, took) = run(name, source).await;
        let (canary, _) = run("canary", CANARY.0).await;
        let canary_ok = matches!(&canary, Ok(t) if t.status == Status::Ok && t.stdout == CANARY.1);
        let ok = match (&trace, expected) {
            (Ok(t), None) => t.status != Status::Ok,
            (Ok(t), Some(out)) => t.status == Status::Ok && t.stdout == out,
            (Err(_), _) => false,
        } && canary_ok;
        failures += usize::from(!ok);
        println!(
            "{name:<46} {:<15} {:>8.0}  {}{}",
            describe(&trace),
            took.as_secs_f64() * 1e3,
            if canary_ok { "clean" } else { "FAILED" },
            if ok { "" } else { "   <- unexpected" }
        );
    }
    println!("hostile_programs: {}", BOMBS.len() + SURVIVED.len());
    println!("unexpected: {failures}");
    anyhow::ensure!(failures == 0, "{failures} hostile programs were not contained; see the table");
    Ok(())
}

fn describe(trace: &Result<Trace, curio_loop::LoopError>) -> String {
    match trace {
        Ok(t) => match &t.error {
            Some(e) if t.status == Status::Exception => format!("exc {}", e.kind),
            _ => t.status.as_str().to_string(),
        },
        Err(e) => format!("error: {e}"),
    }
}
