//! The `/metrics` endpoint every `curio` service exposes: the Prometheus
//! recorder, and a small HTTP server for scrapes (bound here, so port 0
//! works and the address can be printed).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Histogram buckets, seconds: 0.5 ms to 60 s (latencies and step times);
/// acquisition scores (nats, 0..10) fall into the same grid.
const BUCKETS: [f64; 16] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// Buckets of `curio_learner_evaluation_seconds`, seconds: an evaluation
/// on several suites takes minutes on a CPU.
const EVALUATION_BUCKETS: [f64; 10] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 3600.0];

/// Installs the recorder and serves `GET /metrics` on `addr`; returns the
/// bound address.
pub async fn serve(addr: SocketAddr) -> anyhow::Result<SocketAddr> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .context("histogram buckets")?
        .set_buckets_for_metric(Matcher::Full("curio_learner_evaluation_seconds".into()), &EVALUATION_BUCKETS)
        .context("evaluation buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding the metrics endpoint {addr}: pass --metrics-listen with a free port"))?;
    let local = listener.local_addr()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            upkeep.run_upkeep();
        }
    });
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(answer(socket, handle.clone()));
        }
    });
    tracing::info!(addr = %local, "metrics at http://{local}/metrics");
    Ok(local)
}

/// One HTTP/1.1 exchange: the rendered metrics for `GET /metrics`, 404 for
/// anything else; the connection closes after it.
async fn answer(mut socket: tokio::net::TcpStream, handle: PrometheusHandle) {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 << 10 {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return;
    }
    let line = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let wanted = line.starts_with(b"GET /metrics ") || line.starts_with(b"GET /metrics?");
    let (status, kind, body) = if wanted {
        ("200 OK", "text/plain; version=0.0.4", handle.render())
    } else {
        ("404 Not Found", "text/plain", "Curio serves its metrics at /metrics\n".to_string())
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(reply.as_bytes()).await;
    let _ = socket.shutdown().await;
}
