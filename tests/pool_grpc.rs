//! `curio pool` as a real process on port 0, driven over gRPC: traces,
//! validation, limits, load shedding, batches, health, reflection and a
//! graceful drain.

use std::time::{Duration, Instant};

use curio_interpreter_pool::{Execution, Limits, Status, execution_to_proto, trace_from_proto};
use curio_proto::v1 as pb;
use curio_proto::v1::interpreter_pool_client::InterpreterPoolClient;
use curio_tests::PoolProcess;
use tonic::Code;
use tonic::transport::Channel;

async fn client(pool: &PoolProcess) -> InterpreterPoolClient<Channel> {
    InterpreterPoolClient::connect(pool.addr.clone()).await.expect("connects to the pool")
}

fn request(id: &str, source: &str) -> pb::ExecutionRequest {
    let exec = Execution { request_id: id.into(), ..Execution::python(source) };
    execution_to_proto(&exec)
}

async fn execute(
    c: &mut InterpreterPoolClient<Channel>,
    req: pb::ExecutionRequest,
) -> Result<curio_interpreter_pool::Trace, tonic::Status> {
    let result = c.execute(req).await?.into_inner();
    match result.outcome {
        Some(pb::execution_result::Outcome::Trace(t)) => Ok(trace_from_proto(result.request_id, t).unwrap()),
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[tokio::test]
async fn execute_returns_the_trace_with_the_request_id() {
    let pool = PoolProcess::start(2, 4);
    let mut c = client(&pool).await;
    let t = execute(&mut c, request("abc", "def sq(x):\n    return x * x\nprint(sq(7))\n")).await.unwrap();
    assert_eq!((t.request_id.as_str(), t.status, t.stdout.as_str()), ("abc", Status::Ok, "49\n"));
    assert!(t.steps.iter().any(|s| s.function == "sq" && s.value.as_deref() == Some("49")));
    assert!(t.duration >= t.instantiate && t.instantiate > Duration::ZERO);
}

#[tokio::test]
async fn invalid_requests_get_invalid_argument_naming_the_field() {
    let pool = PoolProcess::start(1, 4);
    let mut c = client(&pool).await;
    let mut unknown = request("a", "pass");
    unknown.program.as_mut().unwrap().language = 99;
    let refused = c.execute(unknown.clone()).await.unwrap_err();
    assert!(refused.message().contains("supported: LANGUAGE_PYTHON, LANGUAGE_LUA"), "{}", refused.message());
    let mut limits = request("b", "pass");
    limits.limits.as_mut().unwrap().timeout_ms = 3_600_000;
    let cases = [
        (unknown, "program.language"),
        (request("c", &"x = 1\n".repeat(12_000)), "program.source"),
        (request("d", "   "), "program.source"),
        (limits, "limits.timeout_ms"),
        (pb::ExecutionRequest { request_id: "e".into(), ..Default::default() }, "program"),
    ];
    for (req, field) in cases {
        let status = c.execute(req).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(status.message().starts_with(field), "{field}: {}", status.message());
    }
    // Still serving.
    assert_eq!(execute(&mut c, request("ok", "print(1)")).await.unwrap().stdout, "1\n");
}

#[tokio::test]
async fn every_limit_returns_its_status_and_the_pool_keeps_serving() {
    let pool = PoolProcess::start(2, 8);
    let mut c = client(&pool).await;
    let fast = Limits { timeout: Duration::from_millis(300), max_steps: 1_000_000, ..Limits::default() };
    let cases = [
        ("x = 10**10**8", Limits { ..fast }, Status::Timeout),
        ("import time\ntime.sleep(60)", fast, Status::Timeout),
        ("while True:\n    pass", Limits { max_steps: 100, ..fast }, Status::StepLimit),
        (
            "xs = []\nwhile True:\n    xs.append(' ' * 10**6)",
            Limits { memory_bytes: 64 << 20, ..fast },
            Status::MemoryLimit,
        ),
        ("while True:\n    print('x' * 100)", Limits { output_bytes: 5000, ..fast }, Status::OutputLimit),
        ("def (:", fast, Status::InvalidProgram),
        ("raise ValueError('boom')", fast, Status::Exception),
        ("open('/etc/hostname').read()", fast, Status::Exception),
    ];
    for (source, limits, status) in cases {
        let exec = Execution { limits, ..Execution::python(source) };
        let started = Instant::now();
        let t = execute(&mut c, execution_to_proto(&exec)).await.unwrap();
        assert_eq!(t.status, status, "{source}: {:?}", t.error);
        assert!(started.elapsed() < Duration::from_millis(300 + 700), "{source}: took {:?}", started.elapsed());
        let t = execute(&mut c, request("after", "print('still here')")).await.unwrap();
        assert_eq!(t.stdout, "still here\n", "after {source}");
    }
}

#[tokio::test]
async fn concurrent_clients_get_correct_independent_traces() {
    let pool = PoolProcess::start(2, 64);
    let tasks: Vec<_> = (0..16u64)
        .map(|i| {
            let addr = pool.addr.clone();
            tokio::spawn(async move {
                let mut c = InterpreterPoolClient::connect(addr).await.unwrap();
                let source = format!("n = {i}\nword = 'ab' * n\nprint(n * n, len(word))\n");
                let t = execute(&mut c, request(&format!("r{i}"), &source)).await.unwrap();
                assert_eq!(t.request_id, format!("r{i}"));
                assert_eq!(t.stdout, format!("{} {}\n", i * i, 2 * i));
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn a_full_pool_sheds_with_resource_exhausted_instead_of_queueing() {
    let pool = PoolProcess::start(1, 1);
    let slow = "import time\ntime.sleep(0.6)\n";
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let addr = pool.addr.clone();
            tokio::spawn(async move {
                let mut c = InterpreterPoolClient::connect(addr).await.unwrap();
                let started = Instant::now();
                let res = c.execute(request(&format!("s{i}"), slow)).await;
                (res.map(|_| ()).map_err(|s| s.code()), started.elapsed())
            })
        })
        .collect();
    let mut done = 0;
    let mut shed = 0;
    for t in tasks {
        match t.await.unwrap() {
            (Ok(()), _) => done += 1,
            (Err(Code::ResourceExhausted), took) => {
                shed += 1;
                assert!(took < Duration::from_millis(400), "shedding must be immediate, took {took:?}");
            }
            (Err(code), _) => panic!("unexpected {code:?}"),
        }
    }
    assert!((1..=2).contains(&done), "one running + one queued may finish, got {done}");
    assert_eq!(done + shed, 6);
    let mut c = client(&pool).await;
    assert_eq!(execute(&mut c, request("after", "print(2)")).await.unwrap().stdout, "2\n");
}

#[tokio::test]
async fn cancelled_calls_give_their_place_in_the_queue_back() {
    let pool = PoolProcess::start(1, 8);
    let slow = "import time\ntime.sleep(1.5)\n";
    let start_slow = |id: &'static str| {
        let addr = pool.addr.clone();
        tokio::spawn(async move {
            let mut c = InterpreterPoolClient::connect(addr).await.unwrap();
            c.execute(request(id, slow)).await.map(|_| ()).map_err(|s| s.code())
        })
    };
    let busy = start_slow("busy");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Eight callers wait in the queue, then give up before a worker frees.
    let giving_up: Vec<_> = (0..8)
        .map(|i| {
            let addr = pool.addr.clone();
            tokio::spawn(async move {
                let mut c = InterpreterPoolClient::connect(addr).await.unwrap();
                let mut req = tonic::Request::new(request(&format!("gives-up-{i}"), "print(1)"));
                req.set_timeout(Duration::from_millis(300));
                c.execute(req).await.map(|_| ()).map_err(|s| s.code())
            })
        })
        .collect();
    for g in giving_up {
        let gave_up = g.await.unwrap();
        assert!(
            matches!(gave_up, Err(code) if code != Code::ResourceExhausted),
            "{gave_up:?}: should wait, then give up"
        );
    }
    assert_eq!(busy.await.unwrap(), Ok(()));
    // Their places came back: the worker busy again, the queue takes eight more.
    let busy = start_slow("busy-again");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let waiting: Vec<_> = (0..8).map(|_| start_slow("waits")).collect();
    assert_eq!(busy.await.unwrap(), Ok(()));
    for w in waiting {
        assert_ne!(w.await.unwrap(), Err(Code::ResourceExhausted), "a cancelled call kept its place in the queue");
    }
}

#[tokio::test]
async fn batch_stream_returns_every_result_and_rejects_bad_items_alone() {
    let pool = PoolProcess::start(2, 4);
    let mut c = client(&pool).await;
    let mut items: Vec<_> = (0..10).map(|i| request(&format!("b{i}"), &format!("print({i} + 1)"))).collect();
    items.push(request("bad", ""));
    let results = c.execute_batch(tokio_stream::iter(items)).await.unwrap().into_inner();
    let results: Vec<pb::ExecutionResult> =
        tokio_stream::StreamExt::collect::<Result<Vec<_>, _>>(results).await.unwrap();
    assert_eq!(results.len(), 11);
    for r in results {
        match (r.request_id.as_str(), r.outcome.unwrap()) {
            ("bad", pb::execution_result::Outcome::Rejected(rej)) => {
                assert_eq!(rej.code, Code::InvalidArgument as i32);
                assert!(rej.message.contains("program.source"));
            }
            (id, pb::execution_result::Outcome::Trace(t)) => {
                let i: u32 = id[1..].parse().unwrap();
                assert_eq!(t.stdout, format!("{}\n", i + 1));
            }
            (id, other) => panic!("{id}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_service() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let pool = PoolProcess::start(1, 2);
    let channel = Channel::from_shared(pool.addr.clone()).unwrap().connect().await.unwrap();
    let mut health = HealthClient::new(channel.clone());
    let service = "curio.v1.InterpreterPool".to_string();
    let status = health.check(HealthCheckRequest { service }).await.unwrap().into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);

    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::{ServerReflectionRequest, server_reflection_response::MessageResponse};
    let mut reflection = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection.server_reflection_info(tokio_stream::iter([req])).await.unwrap().into_inner();
    let answer = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else { panic!("{answer:?}") };
    assert!(list.service.iter().any(|s| s.name == "curio.v1.InterpreterPool"), "{list:?}");
}

#[tokio::test]
async fn sigterm_drains_the_execution_in_flight_then_exits_cleanly() {
    let mut pool = PoolProcess::start(1, 2);
    let mut c = client(&pool).await;
    let in_flight = tokio::spawn(async move {
        execute(&mut c, request("drain", "import time\ntime.sleep(0.5)\nprint('finished')\n")).await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    pool.terminate();
    let t = in_flight.await.unwrap().expect("the in-flight execution completes during the drain");
    assert_eq!(t.stdout, "finished\n");
    let exit = tokio::task::spawn_blocking(move || {
        let status = pool.child.wait().unwrap();
        (status, pool)
    });
    let (status, _pool) = tokio::time::timeout(Duration::from_secs(15), exit).await.unwrap().unwrap();
    assert!(status.success(), "{status:?}");
}

/// Bytes straight onto the wire, for payloads no well-behaved client sends.
#[derive(Clone, Copy, Debug, Default)]
struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut tonic::codec::EncodeBuf<'_>) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut tonic::codec::DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let n = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, n).to_vec()))
    }
}

async fn raw_execute(pool: &PoolProcess, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(pool.addr.clone()).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/curio.v1.InterpreterPool/Execute");
    grpc.unary(tonic::Request::new(body), path, Raw).await.map(|r| r.into_inner())
}

#[tokio::test]
async fn malformed_payloads_get_invalid_argument_and_the_pool_keeps_serving() {
    let pool = PoolProcess::start(1, 4);
    // Field 1 (request_id, a string) holding bytes that are not UTF-8.
    let bad_utf8 = vec![0x0A, 0x02, 0xFF, 0xFE];
    // A length prefix that runs past the end of the message.
    let truncated = vec![0x12, 0x40, 0x01];
    // Not protobuf at all.
    let garbage = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01".to_vec();
    for (what, body) in [("invalid UTF-8", bad_utf8), ("truncated", truncated), ("garbage", garbage)] {
        let status = raw_execute(&pool, body).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{what}: {status:?}");
        assert!(!status.message().is_empty(), "{what}: the status says what was wrong");
    }
    // Over the request size cap (source + input + 64 KiB).
    let huge = request("big", &format!("x = '{}'\n", "a".repeat(3 << 20)));
    let status = client(&pool).await.execute(huge).await.unwrap_err();
    assert!(matches!(status.code(), Code::ResourceExhausted | Code::OutOfRange | Code::InvalidArgument), "{status:?}");
    let t = execute(&mut client(&pool).await, request("after", "print('still here')\n")).await.unwrap();
    assert_eq!((t.status, t.stdout.as_str()), (Status::Ok, "still here\n"));
}
