//! Hostile programs against a real one-worker `curio pool` over gRPC: each
//! ends within its limits with a status, the pool keeps serving, and the
//! next execution on the same worker sees none of it.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{
    BOMBS, CANARY, COSTLY_REPRS, Execution, FORGERIES, JS_BOMBS, JS_CANARY, JS_SURVIVED, LUA_BOMBS, LUA_CANARY,
    LUA_SURVIVED, Language, Limits, SURVIVED, Status, Trace, execution_to_proto, trace_from_proto,
};
use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use curio_tests::{PoolProcess, curio_bin, plausible};
use tonic::transport::Channel;

const TIMEOUT_MS: u64 = 1500;

async fn run(c: &mut InterpreterPoolClient<Channel>, id: &str, source: &str) -> (Trace, Duration) {
    run_in(c, Language::Python, id, source).await
}

async fn run_in(
    c: &mut InterpreterPoolClient<Channel>,
    language: Language,
    id: &str,
    source: &str,
) -> (Trace, Duration) {
    let limits = Limits { timeout: Duration::from_millis(TIMEOUT_MS), ..Limits::default() };
    let exec = Execution { request_id: id.into(), limits, ..Execution::new(language, source) };
    let started = Instant::now();
    let result = c.execute(execution_to_proto(&exec)).await.expect("the pool answers").into_inner();
    let took = started.elapsed();
    match result.outcome {
        Some(pb::execution_result::Outcome::Trace(t)) => (trace_from_proto(result.request_id, t).unwrap(), took),
        other => panic!("{id}: unexpected outcome {other:?}"),
    }
}

/// The same worker runs a plain program correctly right after.
async fn canary(c: &mut InterpreterPoolClient<Channel>, after: &str) {
    let (t, _) = run(c, "canary", CANARY.0).await;
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, CANARY.1), "after {after}: {:?}", t.error);
}

#[tokio::test]
async fn hostile_programs_end_with_a_status_and_leave_the_worker_clean() {
    let pool = PoolProcess::start(1, 4);
    let mut c = InterpreterPoolClient::connect(pool.addr.clone()).await.unwrap();
    for (name, source) in BOMBS {
        let (t, took) = run(&mut c, name, source).await;
        assert_ne!(t.status, Status::Ok, "{name} finished normally");
        if t.status == Status::Exception {
            let kind = t.error.as_ref().map(|e| e.kind.as_str()).unwrap_or_default();
            assert!(["MemoryError", "StackOverflow", "RecursionError"].contains(&kind), "{name}: {:?}", t.error);
        }
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        canary(&mut c, name).await;
    }
    for (name, source, stdout) in SURVIVED {
        let (t, took) = run(&mut c, name, source).await;
        assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, stdout), "{name}: {:?}", t.error);
        assert!(!t.steps.is_empty(), "{name}: the tracer kept tracing");
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        canary(&mut c, name).await;
    }
}

/// Runs a guest's hostile corpus on one worker: each bomb ends with a status
/// other than `ok` (an exception only where `stack_ran_out` says the stack
/// ran out), each survivor prints what it should, and both that guest's
/// canary and the Python one run clean after each.
async fn contained(
    language: Language,
    bombs: &[(&str, &str)],
    survived: &[(&str, &str, &str)],
    guest_canary: (&str, &str),
    stack_ran_out: fn(&Trace) -> bool,
) {
    let pool = PoolProcess::start(1, 4);
    let mut c = InterpreterPoolClient::connect(pool.addr.clone()).await.unwrap();
    let own_canary = async |c: &mut InterpreterPoolClient<Channel>, after: &str| {
        let (t, _) = run_in(c, language, "canary", guest_canary.0).await;
        assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, guest_canary.1), "after {after}: {:?}", t.error);
    };
    for &(name, source) in bombs {
        let (t, took) = run_in(&mut c, language, name, source).await;
        assert_ne!(t.status, Status::Ok, "{name} finished normally");
        if t.status == Status::Exception {
            assert!(stack_ran_out(&t), "{name}: {:?}", t.error);
        }
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        own_canary(&mut c, name).await;
        // The Python guest on the same worker is untouched too.
        canary(&mut c, name).await;
    }
    for &(name, source, stdout) in survived {
        let (t, took) = run_in(&mut c, language, name, source).await;
        assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, stdout), "{name}: {:?}", t.error);
        assert!(!t.steps.is_empty(), "{name}: the tracer kept tracing");
        assert!(took < Duration::from_millis(TIMEOUT_MS + 3000), "{name} took {took:?}");
        own_canary(&mut c, name).await;
    }
}

#[tokio::test]
async fn hostile_lua_programs_end_with_a_status_and_leave_the_worker_clean() {
    let stack_ran_out = |t: &Trace| t.error.as_ref().is_some_and(|e| e.message.contains("stack overflow"));
    contained(Language::Lua, &LUA_BOMBS, &LUA_SURVIVED, LUA_CANARY, stack_ran_out).await;
}

#[tokio::test]
async fn hostile_javascript_programs_end_with_a_status_and_leave_the_worker_clean() {
    let stack_ran_out =
        |t: &Trace| t.error.as_ref().is_some_and(|e| ["StackOverflow", "RangeError"].contains(&e.kind.as_str()));
    contained(Language::Js, &JS_BOMBS, &JS_SURVIVED, JS_CANARY, stack_ran_out).await;
}

#[tokio::test]
async fn forged_and_silenced_traces_end_with_the_status_they_deserve_here_and_in_curio_trace() {
    let pool = PoolProcess::start(1, 4);
    let mut c = InterpreterPoolClient::connect(pool.addr.clone()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("curio-forgeries-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (name, source, deserved)) in FORGERIES.iter().enumerate() {
        let (t, _) = run(&mut c, name, source).await;
        assert_eq!(t.status, *deserved, "{name}: {:?}", t.error);
        if let Err(why) = plausible(source, &t) {
            panic!("{name}: {why}");
        }
        canary(&mut c, name).await;
        // The same program through `curio trace` ends the same way.
        let file = dir.join(format!("{i}.py"));
        std::fs::write(&file, source).unwrap();
        let out = std::process::Command::new(curio_bin())
            .args(["trace", "--json", "--timeout-ms", &TIMEOUT_MS.to_string()])
            .arg(&file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: curio trace failed: {}", String::from_utf8_lossy(&out.stderr));
        let traced: Trace = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(traced.status, *deserved, "{name} through curio trace: {:?}", traced.error);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn big_and_subclassed_containers_cost_what_their_reprs_show() {
    let pool = PoolProcess::start(1, 4);
    let mut c = InterpreterPoolClient::connect(pool.addr.clone()).await.unwrap();
    for (name, source, stdout) in COSTLY_REPRS {
        let (t, took) = run(&mut c, name, source).await;
        assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, stdout), "{name} after {took:?}: {:?}", t.error);
        assert!(t.steps.iter().all(|s| s.locals.iter().all(|(_, v)| v.len() <= 203)), "{name}: a repr past its cap");
    }
}
