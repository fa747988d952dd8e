//! A `curio learner` or `curio run` process for the end-to-end tests,
//! small enough that a round takes a second or two on CPU.

use std::io::BufReader;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use curio_proto::v1 as pb;
use curio_proto::v1::learner_client::LearnerClient;

use crate::{announced, curio_bin};

/// Small everything, so a round takes a second or two on CPU.
pub const TINY: [&str; 20] = [
    "--batch",
    "4",
    "--candidates",
    "8",
    "--eval-every",
    "8",
    // Every 8 queries, however long the evaluation takes against the
    // round's tiny training.
    "--eval-share",
    "0",
    "--eval-programs",
    "3",
    "--width",
    "32",
    "--layers",
    "1",
    "--samples-per-insert",
    "0.05",
    "--max-steps-per-round",
    "2",
    "--threads",
    "1",
];

/// The test database's URL (`make test` sets `DATABASE_URL`).
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL (make test sets it)")
}

/// A process's resident set, in MiB.
pub fn resident_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse::<f64>().unwrap() / 1024.0
}

/// A real learner process on free loopback ports; killed on drop.
#[derive(Debug)]
pub struct LearnerProcess {
    pub child: Child,
    pub stdout: BufReader<ChildStdout>,
    /// `http://host:port` of its gRPC server.
    pub addr: String,
    /// host:port of its `/metrics`.
    pub metrics: String,
}

impl LearnerProcess {
    /// `curio COMMAND` (`learner` or `run`) as run `run_id` on `budget`
    /// queries, `bald`, [`TINY`] (less its `--eval-share` where `extra`
    /// has one), then `extra`; its data folder `data`.
    pub fn start(command: &str, run_id: &str, budget: u64, extra: &[&str], data: &std::path::Path) -> Self {
        let tiny = TINY.chunks(2).filter(|pair| !(pair[0] == "--eval-share" && extra.contains(&pair[0])));
        let mut child = Command::new(curio_bin())
            .args(["--data-dir", data.to_str().unwrap(), command, "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0"])
            .args(["--run-id", run_id, "--budget", &budget.to_string(), "--strategy", "bald"])
            .args(tiny.flatten())
            .args(extra)
            .env("DATABASE_URL", database_url())
            .env("CURIO_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting curio");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let (addr, metrics) = announced(&mut stdout, "learner listening on ");
        LearnerProcess { addr: format!("http://{addr}"), metrics, stdout, child }
    }

    /// A client of its Learner API.
    pub async fn client(&self) -> LearnerClient<tonic::transport::Channel> {
        LearnerClient::connect(self.addr.clone()).await.unwrap()
    }
}

impl Drop for LearnerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls the status until `done` holds (or fails after `limit`).
pub async fn wait_for(
    client: &mut LearnerClient<tonic::transport::Channel>,
    limit: Duration,
    done: impl Fn(&pb::LearnerStatus) -> bool,
) -> pb::LearnerStatus {
    let start = Instant::now();
    loop {
        let status = client.get_status(pb::StatusRequest {}).await.unwrap().into_inner();
        if done(&status) {
            return status;
        }
        assert!(start.elapsed() < limit, "timed out; last status {status:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
