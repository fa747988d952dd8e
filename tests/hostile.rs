//! Hostile programs against a real one-worker `curio pool` over gRPC: each
//! ends within its limits with a status, the pool keeps serving, and the
//! next execution on the same worker sees none of it.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{
    BOMBS, CANARY, Execution, Limits, SURVIVED, Status, Trace, execution_to_proto, trace_from_proto,
};
use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use curio_tests::PoolProcess;
use tonic::transport::Channel;

const TIMEOUT_MS: u64 = 1500;

async fn run(c: &mut InterpreterPoolClient<Channel>, id: &str, source: &str) -> (Trace, Duration) {
    let limits = Limits { timeout: Duration::from_millis(TIMEOUT_MS), ..Limits::default() };
    let exec = Execution { request_id: id.into(), limits, ..Execution::python(source) };
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
