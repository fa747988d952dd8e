//! The Grafana dashboard against live services: a `curio pool` and a
//! `curio learner` run a short budget, every series the dashboard reads is
//! exported, and a real Prometheus, configured from the project's
//! `deploy/prometheus/prometheus.yml`, scrapes them while every panel's
//! query is evaluated through its HTTP API and returns data, the XY
//! learning curve's join against `curio_learner_queries_used` included.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use curio_tests::{LearnerProcess as Learner, PoolProcess, http_get, wait_for};

/// The strategy [`Learner::start`] runs, for the dashboard's `$strategy`.
const STRATEGY: &str = "bald";

/// Metric names an expression reads (`curio_…` identifiers).
fn series_in(expr: &str) -> Vec<String> {
    let mut out = vec![];
    let mut rest = expr;
    while let Some(i) = rest.find("curio_") {
        let name: String =
            rest[i..].chars().take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_').collect();
        rest = &rest[i + name.len()..];
        out.push(name);
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_query_returns_data_from_the_running_services_through_prometheus() {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../deploy/grafana/dashboards/curio.json")).expect("the dashboard is JSON");
    let pool = PoolProcess::start(2, 64);
    let data = std::env::temp_dir().join(format!("curio-dash-{}", std::process::id()));
    let run_id = format!("dash-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let pool_addr = pool.addr.trim_start_matches("http://").to_string();
    // A corpus, so the real suite's series exist too.
    let corpus = data.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/programs/real.jsonl"), corpus.join("real.jsonl")).unwrap();
    let extra = ["--pool", &pool_addr, "--corpus", corpus.to_str().unwrap()];
    let learner = Learner::start("learner", &run_id, 8, &extra, &data);
    let prometheus = Prometheus::start(&learner.metrics, &pool.metrics, &data.join("prometheus"));
    let started = unix_seconds();
    let mut client = learner.client().await;
    // Done: the budget spent, trained, and the final (full) evaluation of
    // both suites recorded (the real suite's last).
    wait_for(&mut client, Duration::from_secs(300), |s| {
        let real = ["real_output_exact", "real_rollout_exact_end"];
        s.queries_used >= 8 && s.train_step > 0 && real.iter().all(|k| s.latest_metrics.contains_key(*k))
    })
    .await;
    let scraped = format!("{}\n{}", curio_tests::scrape(&learner.metrics), curio_tests::scrape(&pool.metrics));

    // Grafana-loadable: unique ids, every panel on the datasource variable,
    // the variables defined, nothing pinned to one instance.
    let text = dashboard.to_string();
    assert!(!text.contains("localhost") && !text.contains("instance="), "no hard-coded instances");
    let vars: Vec<&str> =
        dashboard["templating"]["list"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert!(vars.contains(&"datasource") && vars.contains(&"strategy"), "{vars:?}");
    let panels = dashboard["panels"].as_array().unwrap();
    let mut ids: Vec<i64> = panels.iter().map(|p| p["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "panel ids are unique");

    let mut checked = 0;
    for panel in panels.iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for name in series_in(expr) {
                let exported = scraped.lines().any(|l| {
                    l.strip_prefix(name.as_str()).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                });
                assert!(exported, "panel '{}' queries {name}, which no service exports", panel["title"]);
                checked += 1;
            }
            // Label values the panel pins must exist too.
            if let Some(i) = expr.find("metric=\"") {
                let value: String = expr[i + 8..].chars().take_while(|c| *c != '"').collect();
                assert!(scraped.contains(&format!("metric=\"{value}\"")), "no series with metric=\"{value}\"");
            }
            if let Some(i) = expr.find("metric=~\"") {
                let prefix: String = expr[i + 9..].chars().take_while(|c| *c != '.' && *c != '"').collect();
                assert!(scraped.contains(&format!("metric=\"{prefix}")), "no series with metric=~\"{prefix}…\"");
            }
        }
    }
    assert!(checked >= 20, "the dashboard queries {checked} series");
    // The learning curve is drawn against queries, not time: an XY chart
    // whose x field is the query count, joined to the metrics by time.
    let curve = panels.iter().find(|p| p["type"] == "xychart").expect("an XY learning-curve panel");
    let x_fields: Vec<&serde_json::Value> =
        curve["options"]["series"].as_array().unwrap().iter().map(|s| &s["x"]["matcher"]["options"]).collect();
    assert!(!x_fields.is_empty() && x_fields.iter().all(|x| *x == "queries"), "{x_fields:?}");
    let targets = curve["targets"].as_array().unwrap();
    let x_target = targets.iter().find(|t| t["legendFormat"] == "queries").expect("a target named queries");
    assert!(x_target["expr"].as_str().unwrap().contains("curio_learner_queries_used"));
    for y in curve["options"]["series"].as_array().unwrap() {
        let name = &y["y"]["matcher"]["options"];
        assert!(targets.iter().any(|t| t["legendFormat"] == *name), "y field {name} is one of the queries");
    }
    assert_eq!(curve["transformations"][0]["id"], "joinByField");

    // Every panel's query, through Prometheus, once it has scraped the
    // finished run (a rate needs two scrapes of its counter).
    prometheus.wait_until_it_holds("curio_learner_eval_ratio{suite=\"real\", metric=\"output_exact\"}");
    let queries: Vec<(String, String)> = panels
        .iter()
        .filter(|p| p["type"] != "row")
        .flat_map(|p| p["targets"].as_array().unwrap().iter().map(move |t| (p, t)))
        .map(|(p, t)| (p["title"].to_string(), t["expr"].as_str().unwrap().replace("$strategy", STRATEGY)))
        .collect();
    let empty = |queries: &[(String, String)]| -> Vec<(String, String)> {
        queries.iter().filter(|(_, expr)| prometheus.query(expr).is_empty()).cloned().collect()
    };
    let waited = Instant::now();
    let mut missing = empty(&queries);
    while !missing.is_empty() && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_secs(1));
        missing = empty(&missing);
    }
    assert!(missing.is_empty(), "panels whose queries return no data after 30 s of scrapes: {missing:?}");
    // The XY curve: the y series and the query count, sampled as Grafana
    // does over the run, share timestamps to join on, and the count reaches
    // the budget on them.
    let range = |t: &serde_json::Value| {
        let expr = t["expr"].as_str().unwrap().replace("$strategy", STRATEGY);
        prometheus.query_range(&expr, started, unix_seconds())
    };
    // The scrapes after the last curve point decide how many timestamps
    // join: wait (up to 30 s) until each y series has two.
    let waited = Instant::now();
    let joins = || {
        let x = range(x_target);
        let ys = targets.iter().filter(|t| t["legendFormat"] != "queries");
        let joined: Vec<(String, Vec<f64>)> =
            ys.map(|y| (y["expr"].to_string(), range(y).keys().filter_map(|t| x.get(t)).copied().collect())).collect();
        (x, joined)
    };
    let (mut x, mut joined) = joins();
    while joined.iter().any(|(_, j)| j.len() < 2) && waited.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_secs(1));
        (x, joined) = joins();
    }
    assert!(x.values().any(|&q| q >= 8.0), "the query count reaches the budget: {x:?}");
    for (expr, joined) in &joined {
        assert!(joined.len() >= 2, "`{expr}` joins the query count at {} timestamps", joined.len());
        assert!(joined.contains(&8.0), "`{expr}` has a curve point at the budget: {joined:?}");
    }
    drop(prometheus);
    drop(learner);
    let _ = std::fs::remove_dir_all(&data);
}

/// Seconds since the Unix epoch.
fn unix_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// A real Prometheus server scraping the services; killed on drop.
#[derive(Debug)]
struct Prometheus {
    child: Child,
    /// host:port of its HTTP API.
    addr: String,
}

impl Prometheus {
    /// The project's `prometheus.yml` with its scrape targets pointed at the
    /// test's services and a 1 s interval; storage in `dir`.
    fn start(learner: &str, pool: &str, dir: &Path) -> Self {
        let mut config = include_str!("../deploy/prometheus/prometheus.yml").to_string();
        let to_pool = format!("[\"{pool}\"]");
        let to_learner = format!("[\"{learner}\"]");
        let rewrites = [
            ("[\"pool-a:9464\", \"pool-b:9464\"]", to_pool.as_str()),
            ("[\"learner:9465\"]", to_learner.as_str()),
            ("scrape_interval: 15s", "scrape_interval: 1s"),
        ];
        for (from, to) in rewrites {
            assert!(config.contains(from), "deploy/prometheus/prometheus.yml no longer has {from}: update this test");
            config = config.replace(from, to);
        }
        std::fs::create_dir_all(dir).unwrap();
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(binary())
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting prometheus");
        let prometheus = Prometheus { child, addr };
        let start = Instant::now();
        while http_get(&prometheus.addr, "/-/ready").is_none() {
            assert!(start.elapsed() < Duration::from_secs(60), "Prometheus did not get ready on {}", prometheus.addr);
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// The instant vector `expr` evaluates to now (its samples).
    fn query(&self, expr: &str) -> Vec<serde_json::Value> {
        let reply = self.api(&format!("/api/v1/query?query={}", encode(expr)));
        reply["data"]["result"].as_array().unwrap_or_else(|| panic!("`{expr}`: {reply}")).clone()
    }

    /// `expr` over `[start, end]` at 1 s steps, as timestamp -> value of its
    /// first series (Grafana's XY chart joins one series per field).
    fn query_range(&self, expr: &str, start: f64, end: f64) -> std::collections::BTreeMap<i64, f64> {
        let path = format!("/api/v1/query_range?query={}&start={start:.3}&end={end:.3}&step=1", encode(expr));
        let reply = self.api(&path);
        let result = reply["data"]["result"].as_array().unwrap_or_else(|| panic!("`{expr}`: {reply}"));
        let Some(series) = result.first() else { return Default::default() };
        series["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                let at = pair[0].as_f64().unwrap().round() as i64;
                (at, pair[1].as_str().unwrap().parse::<f64>().unwrap())
            })
            .collect()
    }

    /// Waits (up to a minute) until `expr` has data.
    fn wait_until_it_holds(&self, expr: &str) {
        let start = Instant::now();
        while self.query(expr).is_empty() {
            assert!(start.elapsed() < Duration::from_secs(60), "Prometheus never scraped `{expr}`");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn api(&self, path: &str) -> serde_json::Value {
        let body = http_get(&self.addr, path).unwrap_or_else(|| panic!("GET {path} failed"));
        let reply: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(reply["status"], "success", "GET {path}: {reply}");
        reply
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Prometheus binary `deploy/local/prometheus.sh` names (`$PROMETHEUS`,
/// one on the PATH, or Debian's package unpacked into the cache).
fn binary() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/local/prometheus.sh");
    let out = Command::new(&script).stderr(Stdio::inherit()).output().expect("running deploy/local/prometheus.sh");
    assert!(out.status.success(), "deploy/local/prometheus.sh found no Prometheus");
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// `text` percent-encoded for a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
