//! `curio bench hostile --pool ADDR`: the hostile-program corpus against a
//! live pool, each followed by a canary; prints what each did and exits
//! non-zero if anything finished that should not have, or a canary failed.

use std::time::{Duration, Instant};

use clap::Args;
use curio_interpreter_pool::{
    BOMBS, CANARY, Execution, JS_BOMBS, JS_CANARY, JS_SURVIVED, LUA_BOMBS, LUA_CANARY, LUA_SURVIVED, Language, Limits,
    SURVIVED, Status, Trace,
};
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
    let run = |language: Language, name: &str, source: &str| {
        let exec = Execution { request_id: format!("hostile-{name}"), limits, ..Execution::new(language, source) };
        let pools = &pools;
        async move {
            let started = Instant::now();
            let trace = pools.execute(&exec).await.map(|e| e.trace);
            (trace, started.elapsed())
        }
    };
    let (mut failures, mut programs) = (0, 0);
    println!("{:<6} {:<46} {:<15} {:>8}  canary", "lang", "program", "status", "ms");
    let corpora = [
        (Language::Python, &BOMBS[..], &SURVIVED[..], CANARY),
        (Language::Lua, &LUA_BOMBS[..], &LUA_SURVIVED[..], LUA_CANARY),
        (Language::Js, &JS_BOMBS[..], &JS_SURVIVED[..], JS_CANARY),
    ];
    let cases = corpora.iter().flat_map(|&(language, bombs, survived, canary)| {
        let bombs = bombs.iter().map(move |(n, s)| (language, *n, *s, None, canary));
        bombs.chain(survived.iter().map(move |(n, s, o)| (language, *n, *s, Some(*o), canary)))
    });
    for (language, name, source, expected, canary) in cases {
        programs += 1;
        let (trace, took) = run(language, name, source).await;
        let (after, _) = run(language, "canary", canary.0).await;
        let canary_ok = matches!(&after, Ok(t) if t.status == Status::Ok && t.stdout == canary.1);
        let ok = match (&trace, expected) {
            (Ok(t), None) => t.status != Status::Ok,
            (Ok(t), Some(out)) => t.status == Status::Ok && t.stdout == out,
            (Err(_), _) => false,
        } && canary_ok;
        failures += usize::from(!ok);
        println!(
            "{language:<6} {name:<46} {:<15} {:>8.0}  {}{}",
            describe(&trace),
            took.as_secs_f64() * 1e3,
            if canary_ok { "clean" } else { "FAILED" },
            if ok { "" } else { "   <- unexpected" }
        );
    }
    println!("hostile_programs: {programs}");
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
