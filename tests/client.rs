//! The Python client (`clients/python`, installed by `make client`) against
//! a real `curio run` that requires a token: its unit tests run with the
//! learner's address and the token file in their environment, and every
//! one of them must run (none skipped) and pass.

use std::process::Command;
use std::time::Duration;

use curio_proto::v1 as pb;
use curio_tests::LearnerProcess;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_works_against_a_real_learner() {
    let python = root().join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run `make client`", python.display());
    let data = std::env::temp_dir().join(format!("curio-client-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let tokens = data.join("tokens");
    std::fs::write(&tokens, "# researchers\nada:0123456789abcdef0123\n").unwrap();
    let run_id = format!("client-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    // A budget it will not spend while the client's tests run.
    let learner =
        LearnerProcess::start("run", &run_id, 100_000, &["--auth-token-file", tokens.to_str().unwrap()], &data);

    // Wait for the first curve points, through the same token.
    let channel = curio_interpreter_pool::endpoint(&learner.addr, None, None).unwrap().connect().await.unwrap();
    let bearer = curio_interpreter_pool::Bearer::new(Some("0123456789abcdef0123")).unwrap();
    let mut client = pb::learner_client::LearnerClient::with_interceptor(channel, bearer);
    let start = std::time::Instant::now();
    loop {
        let status = client.get_status(pb::StatusRequest {}).await.unwrap().into_inner();
        if status.latest_metrics.contains_key("delta_exact") && status.queries_used > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(180), "no curve point yet: {status:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(root().join("clients/python/tests"))
        .env("CURIO_LEARNER", learner.addr.clone())
        .env("CURIO_TOKEN_FILE", &tokens)
        .env("CURIO_TEST_RUN_ID", &run_id)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the client's tests failed:\n{report}");
    assert!(!report.contains("skipped"), "every test must run against the learner:\n{report}");
    assert!(report.contains("Ran 10 tests"), "{report}");
    drop(learner);
    let _ = std::fs::remove_dir_all(&data);
}
