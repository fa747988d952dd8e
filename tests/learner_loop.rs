//! The active-learning loop end to end, against real processes: a `curio
//! pool`, a `curio learner` (and `curio run`), a real Postgres and a real
//! (tiny) model. The loop spends its budget, stores every execution with its
//! strategy, records the learning curve, runs a user's submission, answers
//! predictions, and after a SIGKILL resumes the same run without repeating
//! or losing an execution. It also survives a pool replica killed mid-run,
//! a replica frozen mid-run (deadlines fire, the run goes on elsewhere)
//! and a Postgres crash.

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use curio_proto::v1 as pb;
use curio_proto::v1::learner_client::LearnerClient;
use curio_tests::{
    LearnerProcess as Learner, PoolProcess, TINY, announced, curio_bin, database_url, resident_mib, wait_for,
};
use sqlx::PgPool;

async fn count(db: &PgPool, sql: &str, run_id: &str) -> i64 {
    sqlx::query_scalar(sql).bind(run_id).fetch_one(db).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn learner_spends_its_budget_survives_sigkill_and_serves_users() {
    let pool = PoolProcess::start(2, 64);
    let data = std::env::temp_dir().join(format!("curio-loop-{}", std::process::id()));
    let run_id = format!("e2e-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let db = PgPool::connect(&database_url()).await.unwrap();
    let pool_addr = pool.addr.trim_start_matches("http://").to_string();
    let budget = 24;

    // First life: killed without warning once it has made progress.
    let first = Learner::start("learner", &run_id, budget, &["--pool", &pool_addr], &data);
    let mut client = first.client().await;
    let before = wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= 8).await;
    assert_eq!((before.run_id.as_str(), before.strategy.as_str(), before.budget), (run_id.as_str(), "bald", budget));
    drop(first); // SIGKILL
    let stored_before = count(&db, "SELECT count(*) FROM executions WHERE run_id = $1", &run_id).await;
    assert!(stored_before >= 8, "{stored_before} executions stored before the kill");

    // Second life: resumes the same run from the store and its checkpoint.
    let second = Learner::start("learner", &run_id, budget, &["--pool", &pool_addr], &data);
    let mut client = second.client().await;
    let resumed = wait_for(&mut client, Duration::from_secs(120), |s| s.run_id == run_id).await;
    assert!(resumed.queries_used >= stored_before as u64, "resumes at the stored position: {resumed:?}");
    let done = wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= budget).await;
    assert_eq!(done.queries_used, budget);

    // Exactly the budget, each execution once, every one with its strategy and score.
    let own = "SELECT count(*) FROM executions WHERE run_id = $1 AND strategy = 'bald'";
    assert_eq!(count(&db, own, &run_id).await, budget as i64);
    let scored = "SELECT count(*) FROM executions WHERE run_id = $1 AND acquisition_score IS NOT NULL";
    assert!(count(&db, scored, &run_id).await > 0, "bald records its scores");
    let points = "SELECT count(DISTINCT queries_used) FROM learning_curve WHERE run_id = $1 AND metric = 'delta_exact'";
    assert!(count(&db, points, &run_id).await >= 3, "curve points at 0, 8, 16, 24 queries");

    // A user's program is executed (ahead of the loop) and its trace returned.
    let request = pb::SubmitRequest {
        programs: vec![pb::Submission {
            source: "x = int(input())\nprint(x * 2)\n".into(),
            inputs: vec!["21\n".into()],
            ..Default::default()
        }],
        submitter: "e2e".into(),
    };
    let mut stream = client.submit_programs(request).await.unwrap().into_inner();
    let accepted = match stream.message().await.unwrap().unwrap().event {
        Some(pb::submit_event::Event::Accepted(a)) => a.execution_ids,
        other => panic!("expected accepted first, got {other:?}"),
    };
    assert_eq!(accepted.len(), 1);
    let executed = match stream.message().await.unwrap().unwrap().event {
        Some(pb::submit_event::Event::Executed(e)) => e,
        other => panic!("expected the trace, got {other:?}"),
    };
    assert_eq!(executed.execution_id, accepted[0]);
    let trace = executed.trace.unwrap();
    assert_eq!((trace.status, trace.stdout.as_str()), (pb::Status::Ok as i32, "42\n"));
    let submitted = "SELECT count(*) FROM executions e JOIN programs p ON p.id = e.program_id \
                     WHERE e.run_id = $1 AND e.strategy = 'submitted' AND p.origin = 'submitted'";
    assert_eq!(count(&db, submitted, &run_id).await, 1);

    // A bad submission is refused with a reason, and the learner keeps serving.
    let empty = pb::SubmitRequest { programs: vec![], submitter: String::new() };
    let err = client.submit_programs(empty).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    // Predictions come from the current model, with uncertainty per step.
    let predicted = client
        .predict(pb::PredictRequest { source: "a = 1\nb = a + 1\n".into(), horizon: 3, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert!(!predicted.steps.is_empty() || !predicted.stopped.is_empty());
    assert!(predicted.steps.iter().all(|s| s.action_entropy >= 0.0 && (0.0..=1.0).contains(&s.confidence)));
    let too_far = pb::PredictRequest { source: "a = 1\n".into(), horizon: 10_000, ..Default::default() };
    assert_eq!(client.predict(too_far).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    // Drawn rollouts beside the greedy one: as many as asked, what they
    // printed as a distribution, and the same draws from the same seed.
    let drawn = pb::PredictRequest {
        source: "a = 1\nprint(a + 1)\n".into(),
        horizon: 4,
        samples: 4,
        temperature: 1.5,
        seed: 9,
        ..Default::default()
    };
    let (first, again) = (
        client.predict(drawn.clone()).await.unwrap().into_inner(),
        client.predict(drawn.clone()).await.unwrap().into_inner(),
    );
    assert_eq!(first.samples.len(), 4);
    assert!(first.samples.iter().all(|r| r.steps <= 4 && !r.ended.is_empty()));
    let total: f64 = first.outputs.iter().map(|o| o.probability).sum();
    assert!((total - 1.0).abs() < 1e-9, "{:?}", first.outputs);
    if first.model_step == again.model_step {
        assert_eq!(first.samples, again.samples, "one seed, one model: the same draws");
    }
    for bad in [pb::PredictRequest { samples: 65, ..drawn.clone() }, pb::PredictRequest { temperature: -1.0, ..drawn }]
    {
        assert_eq!(client.predict(bad).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    // The other questions: what a program prints, which of several prints
    // an output, and where a stored run (the submitted one) surprised the model.
    let asked =
        pb::AskOutputRequest { source: "a = 1\nprint(a + 1)\n".into(), horizon: 4, samples: 3, ..Default::default() };
    let answer = client.ask_output(asked.clone()).await.unwrap().into_inner();
    let total: f64 = answer.outputs.iter().map(|o| o.probability).sum();
    assert!((total - 1.0).abs() < 1e-9 && answer.steps <= 4 && (0.0..=1.0).contains(&answer.confidence), "{answer:?}");
    // Other languages are asked about in their own; one not served is refused, naming those that are.
    let lua = pb::AskOutputRequest {
        source: "local a = 1\nprint(a + 1)\n".into(),
        language: pb::Language::Lua as i32,
        ..asked.clone()
    };
    assert!(client.ask_output(lua).await.unwrap().into_inner().steps <= 4);
    let js = pb::PredictRequest {
        source: "let a = 1;\nconsole.log(a + 1);\n".into(),
        horizon: 3,
        language: 3,
        ..Default::default()
    };
    assert!(client.predict(js).await.unwrap().into_inner().steps.len() <= 3);
    let unknown = pb::AskOutputRequest { language: 9, ..asked.clone() };
    let refused = client.ask_output(unknown).await.unwrap_err();
    assert!(
        refused.code() == tonic::Code::InvalidArgument && refused.message().contains("LANGUAGE_LUA"),
        "{refused:?}"
    );
    let sources: Vec<String> = ["print(1)\n", "print(2)\n", "x = 1\nprint(x)\n"].map(String::from).to_vec();
    let ranked = pb::RankRequest { sources, output: "1".into(), horizon: 4, samples: 2, ..Default::default() };
    let ranking = client.rank_programs(ranked.clone()).await.unwrap().into_inner().ranking;
    let mut order: Vec<u32> = ranking.iter().map(|r| r.index).collect();
    order.sort();
    assert_eq!(order, [0, 1, 2], "each candidate once");
    let surprised = pb::SurpriseRequest { execution_id: accepted[0].clone(), top: 2 };
    let surprise = client.ask_surprise(surprised).await.unwrap().into_inner();
    assert!(
        surprise.steps >= 2 && surprise.top.len() == 2 && surprise.top[0].nats >= surprise.top[1].nats,
        "{surprise:?}"
    );
    assert!(surprise.top.iter().all(|t| t.line >= 1 && t.expected_line >= 1), "{surprise:?}");
    let unknown = pb::SurpriseRequest { execution_id: uuid::Uuid::new_v4().to_string(), top: 1 };
    assert_eq!(client.ask_surprise(unknown).await.unwrap_err().code(), tonic::Code::NotFound);
    let not_an_id = pb::SurpriseRequest { execution_id: "42".into(), top: 1 };
    assert_eq!(client.ask_surprise(not_an_id).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    let too_many = pb::RankRequest { sources: vec!["print(1)\n".into(); 17], ..ranked.clone() };
    assert_eq!(client.rank_programs(too_many).await.unwrap_err().code(), tonic::Code::InvalidArgument);
    let too_costly = pb::RankRequest { sources: vec!["print(1)\n".into(); 16], samples: 16, ..ranked };
    let refused = client.rank_programs(too_costly).await.unwrap_err();
    assert!(refused.code() == tonic::Code::InvalidArgument && refused.message().contains("rollouts"), "{refused:?}");
    let hot = pb::AskOutputRequest { temperature: f64::NAN, ..asked };
    assert_eq!(client.ask_output(hot).await.unwrap_err().code(), tonic::Code::InvalidArgument);

    // The curve is watchable: history first.
    let mut curve =
        client.watch_learning_curve(pb::WatchRequest { metric: "delta_exact".into() }).await.unwrap().into_inner();
    let point = curve.message().await.unwrap().unwrap();
    assert_eq!((point.run_id.as_str(), point.queries_used), (run_id.as_str(), 0));
    drop(second);
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn curio_run_completes_and_writes_the_curve_and_plot() {
    let data = std::env::temp_dir().join(format!("curio-run-{}", std::process::id()));
    let run_id = format!("run-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    // A corpus of people's programs (a few of them never end or do not
    // parse): half the candidates, and the real suite beside indist.
    let corpus = data.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let programs = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/real.jsonl");
    for name in ["train.jsonl", "real.jsonl"] {
        std::fs::copy(programs, corpus.join(name)).unwrap();
    }
    // The real suite's Lua translations: a suite of their own, as the run
    // draws Lua. None in JavaScript, so no `js_real` suite.
    let lua = [
        ("sum", "local s = 0\nfor i = 1, 4 do\n  s = s + i\nend\nprint(s)\n"),
        ("words", "local n = 0\nfor w in ('a bc d'):gmatch('%S+') do\n  n = n + #w\nend\nprint(n)\n"),
    ];
    let lines: Vec<String> = lua
        .iter()
        .map(|(id, source)| serde_json::json!({"id": id, "source": source, "language": "lua"}).to_string())
        .collect();
    std::fs::write(corpus.join("lua-real.jsonl"), lines.join("\n") + "\n").unwrap();
    let extra = ["--compare", "random,entropy", "--corpus", corpus.to_str().unwrap(), "--lua-share", "0.25"];
    let mut learner = Learner::start("run", &run_id, 8, &extra, &data);
    let mut out = String::new();
    std::io::Read::read_to_string(&mut learner.stdout, &mut out).unwrap();
    let status = learner.child.wait().unwrap();
    assert!(status.success(), "curio run failed:\n{out}");
    assert!(out.contains("delta_exact against interpreter queries"), "{out}");
    assert!(out.contains("random") && out.contains("entropy"), "{out}");
    let plot = data.join("runs").join(&run_id).join("learning-curve.svg");
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 2, "one line per strategy");
    let (metrics, corpus_runs) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = PgPool::connect(&database_url()).await.unwrap();
        let metrics: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT metric FROM learning_curve WHERE run_id = $1 ORDER BY 1")
                .bind(&run_id)
                .fetch_all(&db)
                .await
                .unwrap();
        let corpus_runs: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM executions e JOIN programs p ON p.id = e.program_id \
             WHERE p.origin = 'corpus' AND e.run_id = $1",
        )
        .bind(&run_id)
        .fetch_one(&db)
        .await
        .unwrap();
        // Every pick records its source and the share that source had:
        // the corpus's is --corpus-share, as nothing adapts.
        let sources: Vec<(String, Option<f64>)> =
            sqlx::query_as("SELECT source, source_share FROM executions WHERE run_id = $1 AND strategy <> 'submitted'")
                .bind(&run_id)
                .fetch_all(&db)
                .await
                .unwrap();
        assert!(!sources.is_empty());
        for (source, share) in &sources {
            let known = ["corpus", "generated", "idioms", "lua", "mutant", "rerun"].contains(&source.as_str());
            assert!(known, "{source}");
            match source.as_str() {
                "corpus" => assert_eq!(*share, Some(0.5)),
                "lua" => assert_eq!(*share, Some(0.125)),
                "generated" | "idioms" => assert!(share.is_some_and(|s| s > 0.0 && s < 0.5), "{source} {share:?}"),
                _ => assert_eq!(*share, None),
            }
        }
        (metrics, corpus_runs)
    });
    for metric in ["delta_exact", "real_delta_exact", "real_action_accuracy", "real_rollout_exact_end"] {
        assert!(metrics.iter().any(|m| m == metric), "{metric} is on the curve: {metrics:?}");
    }
    for metric in ["lua_action_accuracy", "lua_real_action_accuracy", "lua_real_output_exact"] {
        assert!(metrics.iter().any(|m| m == metric), "{metric} is on the curve: {metrics:?}");
    }
    assert!(!metrics.iter().any(|m| m.starts_with("js")), "no JavaScript suite without --js-share: {metrics:?}");
    assert!(corpus_runs > 0, "the corpus's programs are among the candidates run");
    let _ = std::fs::remove_dir_all(&data);
}

/// `curio experiment` on a tiny budget: two strategies on two seeds, every
/// curve point a mean with its interval on both axes, the ratios per seed,
/// the plots; a second start resumes (runs nothing more) and reports the
/// same.
#[test]
fn curio_experiment_runs_strategies_on_seeds_and_reports_intervals() {
    let data = std::env::temp_dir().join(format!("curio-experiment-{}", std::process::id()));
    let name = format!("exp-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let out = data.join("exp.json");
    let experiment = || {
        let output = Command::new(curio_bin())
            .args(["--data-dir", data.to_str().unwrap(), "experiment", "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--run-id", &name, "--budget", "8", "--seeds", "2"])
            .args(["--strategies", "random,trajectory", "--horizon", "3", "--corpus", "/nonexistent"])
            .args(["--out", out.to_str().unwrap()])
            .args(TINY)
            .env("DATABASE_URL", database_url())
            .env("CURIO_LOG", "warn")
            .stderr(Stdio::inherit())
            .output()
            .expect("starting curio experiment");
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        assert!(output.status.success(), "curio experiment failed:\n{stdout}");
        let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
        (stdout, json)
    };
    // A metric no run would record is refused before anything runs.
    for (metric, says) in [("lua_delta_exact", "--lua-share"), ("delta_exactly", "not on the curve")] {
        let refused = Command::new(curio_bin())
            .args(["--data-dir", data.to_str().unwrap(), "experiment", "--run-id", &name, "--metric", metric])
            .env("DATABASE_URL", database_url())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(!refused.status.success() && err.contains(says), "{metric}: {err}");
    }
    let (stdout, first) = experiment();
    assert!(stdout.contains("query_ratio") && stdout.contains("compute_ratio"), "{stdout}");
    assert_eq!(first["compared"], "delta_exact");
    // The compared metric, per strategy, axis and place: every place on
    // both seeds, inside its interval.
    let records = first["records"].as_array().unwrap();
    for strategy in ["random", "trajectory"] {
        for axis in ["queries", "seconds"] {
            let at: Vec<&serde_json::Value> =
                records.iter().filter(|r| r["strategy"] == strategy && r["axis"] == axis).collect();
            assert!(at.len() >= 2, "{strategy} {axis}: {at:?}");
            for r in &at {
                let (low, mean, high) =
                    (r["low"].as_f64().unwrap(), r["mean"].as_f64().unwrap(), r["high"].as_f64().unwrap());
                assert!(low <= mean + 1e-12 && mean <= high + 1e-12 && r["seeds"] == 2, "{r}");
            }
            if axis == "queries" {
                let places: Vec<f64> = at.iter().map(|r| r["x"].as_f64().unwrap()).collect();
                assert_eq!(places, vec![0.0, 8.0], "evaluated before any query and at the budget");
            }
        }
        let last = &first["final"][strategy]["action_accuracy"];
        assert!(last.as_str().is_some_and(|s| s.contains('[')), "{last}");
    }
    let ratio = &first["ratios"]["trajectory"]["query_ratio"];
    assert_eq!(ratio["per_seed"].as_array().unwrap().len(), 2, "{ratio}");
    assert!(first["ratios"].get("random").is_none(), "the baseline has no ratio against itself");
    // experiments/render.py reads it: a title, a table and its records.
    let render = concat!(env!("CARGO_MANIFEST_DIR"), "/../experiments/render.py");
    let rendered = Command::new("python3").arg(render).arg(&out).output().unwrap();
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert!(String::from_utf8_lossy(&rendered.stdout).contains("| trajectory | seconds |"));
    let stem = out.with_extension("");
    for axis in ["queries", "seconds"] {
        let svg = std::fs::read_to_string(format!("{}-{axis}.svg", stem.display())).unwrap();
        assert_eq!(svg.matches("<polygon").count(), 2, "a band per strategy");
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(PgPool::connect(&database_url())).unwrap();
    let stored = || {
        runtime.block_on(async {
            let mut counts = vec![];
            for seed in 0..2 {
                let run = format!("{name}-seed{seed}");
                counts.push(count(&db, "SELECT count(*) FROM executions WHERE run_id = $1", &run).await);
                // One seed, one starting model: before any query both
                // strategies are the same model on the same suite.
                let at_zero: Vec<f64> = sqlx::query_scalar(
                    "SELECT value FROM learning_curve WHERE run_id = $1 AND queries_used = 0 \
                     AND metric = 'action_accuracy' ORDER BY strategy",
                )
                .bind(&run)
                .fetch_all(&db)
                .await
                .unwrap();
                assert!(at_zero.len() == 2 && at_zero[0] == at_zero[1], "seed {seed}: {at_zero:?}");
            }
            counts
        })
    };
    assert_eq!(stored(), vec![16, 16], "each seed ran each strategy's 8 queries");
    // Resumed: nothing runs again, and the report is the same.
    let (_, second) = experiment();
    assert_eq!(stored(), vec![16, 16]);
    assert_eq!(first["records"], second["records"]);
    assert_eq!(first["ratios"], second["ratios"]);
    let _ = std::fs::remove_dir_all(&data);
}

/// `--learner-minutes`: a run stops once training and scoring have taken
/// that long, with its queries left unspent, and ends with its evaluation.
/// `--eval-share`: at 1%, an evaluation waits for 99 times its own time of
/// learning, more than the run has, so the curve has its first point and
/// its last, where every 8 queries would have given dozens.
#[test]
fn a_run_stops_once_its_learner_time_is_spent() {
    let data = std::env::temp_dir().join(format!("curio-minutes-{}", std::process::id()));
    let run_id = format!("minutes-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let extra = ["--learner-minutes", "0.02", "--eval-share", "0.01"];
    let mut learner = Learner::start("run", &run_id, 100_000, &extra, &data);
    assert!(learner.child.wait().unwrap().success());
    let curve = |metric: &'static str| {
        let run_id = run_id.clone();
        async move {
            let db = PgPool::connect(&database_url()).await.unwrap();
            let points: Vec<(i64, f64)> = sqlx::query_as(
                "SELECT queries_used, value FROM learning_curve WHERE run_id = $1 AND metric = $2 \
                 ORDER BY queries_used",
            )
            .bind(&run_id)
            .bind(metric)
            .fetch_all(&db)
            .await
            .unwrap();
            points
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let spent = runtime.block_on(curve("learner_seconds"));
    let (queries, spent) = *spent.last().unwrap();
    assert!(queries > 0 && queries < 1_000, "stopped by its time, not its queries: {queries}");
    assert!(spent >= 1.2, "it stopped once 1.2 learner seconds were spent: {spent}");
    let evaluated: Vec<i64> = runtime.block_on(curve("delta_exact")).iter().map(|p| p.0).collect();
    assert_eq!(evaluated, [0, queries], "the first point and the last only");
    let evaluating = runtime.block_on(curve("evaluation_seconds"));
    assert!(evaluating.last().unwrap().1 > 0.0, "evaluation's time is kept: {evaluating:?}");
    let _ = std::fs::remove_dir_all(&data);
}

/// `--init`: a new run starts from the given checkpoint (its weights, shape
/// and step), with the loop's dropout, which MC-dropout needs.
#[test]
fn a_run_started_from_a_checkpoint_goes_on_from_it() {
    let data = std::env::temp_dir().join(format!("curio-init-{}", std::process::id()));
    let run_id = format!("init-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    std::fs::create_dir_all(&data).unwrap();
    let init = data.join("offline.safetensors");
    let shape = curio_learner::ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, dropout: 0.0, ..Default::default() };
    let mut offline = curio_learner::Learner::new(shape, tch::Device::Cpu).unwrap();
    offline.train_step = 1000;
    offline.save(&init).unwrap();
    // --heads 4 is overruled: the run takes the checkpoint's shape.
    let extra = ["--init", init.to_str().unwrap(), "--heads", "4"];
    let mut learner = Learner::start("run", &run_id, 8, &extra, &data);
    let status = learner.child.wait().unwrap();
    assert!(status.success());
    let meta = data.join("runs").join(&run_id).join("bald.safetensors.json");
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&meta).unwrap()).unwrap();
    assert!(meta["train_step"].as_i64().unwrap() > 1000, "it trained on from step 1000: {meta}");
    assert_eq!((meta["config"]["n_head"].as_i64(), meta["config"]["dropout"].as_f64()), (Some(2), Some(0.1)));
    let _ = std::fs::remove_dir_all(&data);
}

/// `rho` (RHO-LOSS): each round runs its pool's worth at random, stores
/// every run, and trains first on the batch whose loss is most reducible
/// (the model's minus a reference model's); the choice is recorded with
/// each run. Without a reference it is refused before anything runs.
#[test]
fn rho_runs_its_pool_and_trains_first_on_the_most_reducible_runs() {
    let data = std::env::temp_dir().join(format!("curio-rho-{}", std::process::id()));
    let run_id = format!("rho-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    std::fs::create_dir_all(&data).unwrap();
    let rho = |extra: &[&str]| {
        Command::new(curio_bin())
            .args(["--data-dir", data.to_str().unwrap(), "run", "--listen", "127.0.0.1:0"])
            .args(["--metrics-listen", "127.0.0.1:0", "--run-id", &run_id, "--budget", "16", "--strategy", "rho"])
            .args(["--rho-pool", "2", "--corpus", "/nonexistent"])
            .args(TINY)
            .args(extra)
            .env("DATABASE_URL", database_url())
            .env("CURIO_LOG", "warn")
            .output()
            .expect("starting curio run")
    };
    let refused = rho(&[]);
    let says = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && says.contains("--reference"), "{says}");
    // Any model can be a reference; a smaller one than the learner's.
    let reference = data.join("reference.safetensors");
    let shape = curio_learner::ModelConfig { n_embd: 16, n_head: 2, n_layer: 1, dropout: 0.0, ..Default::default() };
    curio_learner::Learner::new(shape, tch::Device::Cpu).unwrap().save(&reference).unwrap();
    let done = rho(&["--reference", reference.to_str().unwrap()]);
    assert!(done.status.success(), "{}", String::from_utf8_lossy(&done.stderr));

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(PgPool::connect(&database_url())).unwrap();
    // In the order they ran: ids follow the run's position.
    let runs: Vec<(Option<f64>, Option<bool>)> = runtime
        .block_on(
            sqlx::query_as(
                "SELECT reducible_nats, chosen FROM executions WHERE run_id = $1 AND strategy = 'rho' ORDER BY id",
            )
            .bind(&run_id)
            .fetch_all(&db),
        )
        .unwrap();
    assert_eq!(runs.len(), 16, "the budget counts every run, chosen or not");
    // Batch 4, pool 2: two rounds of 8 runs, of which 4 are chosen, the
    // most reducible of their round.
    for round in runs.chunks(8) {
        assert!(round.iter().all(|r| r.1.is_some()), "every run records the choice: {round:?}");
        let chosen: Vec<f64> =
            round.iter().filter(|r| r.1 == Some(true)).map(|r| r.0.unwrap_or(f64::NEG_INFINITY)).collect();
        let left: Vec<f64> =
            round.iter().filter(|r| r.1 == Some(false)).map(|r| r.0.unwrap_or(f64::NEG_INFINITY)).collect();
        assert_eq!(chosen.len(), 4, "{round:?}");
        let lowest_chosen = chosen.iter().copied().fold(f64::INFINITY, f64::min);
        assert!(left.iter().all(|&l| l <= lowest_chosen), "{round:?}");
        assert!(round.iter().filter(|r| r.0.is_some()).count() >= 4, "the reducible losses were measured: {round:?}");
    }
    let _ = std::fs::remove_dir_all(&data);
}

/// Runs a learner over two pool replicas, lets `fault` strike the first
/// once 4 queries are spent, and checks that the whole budget is stored
/// exactly once and that the second replica ran everything after the fault
/// (less the round in flight, of 4). Returns the learner, still serving.
async fn survives_a_faulty_replica(tag: &str, extra: &[&str], fault: impl FnOnce(&mut Option<PoolProcess>)) -> Learner {
    let (mut a, b) = (Some(PoolProcess::start(2, 64)), PoolProcess::start(2, 64));
    let data = std::env::temp_dir().join(format!("curio-{tag}-{}", std::process::id()));
    let run_id = format!("{tag}-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let first = a.as_ref().unwrap().addr.trim_start_matches("http://").to_string();
    let survivor = b.addr.trim_start_matches("http://").to_string();
    let pools = format!("{first},{survivor}");
    let budget = 24;
    let args: Vec<&str> = ["--pool", pools.as_str()].into_iter().chain(extra.iter().copied()).collect();
    let learner = Learner::start("learner", &run_id, budget, &args, &data);
    let mut client = learner.client().await;
    let before = wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= 4).await.queries_used;
    fault(&mut a);
    let done = wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= budget).await;
    assert_eq!(done.queries_used, budget);
    let db = PgPool::connect(&database_url()).await.unwrap();
    let stored = "SELECT count(*) FROM executions WHERE run_id = $1 AND strategy = 'bald'";
    assert_eq!(count(&db, stored, &run_id).await, budget as i64, "every query of the budget was run and stored");
    let on_b = "SELECT count(*) FROM executions WHERE run_id = $1 AND pool_replica = $2";
    let after: i64 = sqlx::query_scalar(on_b).bind(&run_id).bind(&survivor).fetch_one(&db).await.unwrap();
    let at_least = (budget - before) as i64 - 4;
    assert!(after >= at_least, "the other replica took over: {after} executions, expected >= {at_least}");
    let _ = std::fs::remove_dir_all(&data);
    learner
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_replica_killed_mid_run_is_routed_around_and_nothing_is_lost() {
    // SIGKILL: calls in flight there fail and are retried on the other replica.
    survives_a_faulty_replica("fault", &[], |a| drop(a.take())).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_pool_replica_trips_deadlines_and_the_run_goes_on_elsewhere() {
    // Frozen, not dead: its socket still accepts, nothing ever answers.
    let freeze = |a: &mut Option<PoolProcess>| {
        let pid = a.as_ref().unwrap().child.id().to_string();
        assert!(Command::new("kill").args(["-STOP", &pid]).status().unwrap().success());
    };
    let learner = survives_a_faulty_replica("slow", &["--call-deadline-s", "2"], freeze).await;
    let scraped = curio_tests::scrape(&learner.metrics);
    let timed_out: f64 = scraped
        .lines()
        .find(|l| l.starts_with("curio_learner_pool_call_failures_total{code=\"deadline_exceeded\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0);
    assert!(timed_out >= 1.0, "calls to the frozen replica ended at their deadline:\n{scraped}");
    // Passed over after its first failures, not retried on every call.
    assert!(timed_out <= 8.0, "{timed_out} calls waited out the deadline on the frozen replica");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_under_the_learner_loses_and_duplicates_nothing() {
    use curio_store::EmbeddedPostgres;
    let dir = std::env::temp_dir().join(format!("curio-loop-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.clone();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d)).await.unwrap().unwrap();
    let pool = PoolProcess::start(2, 64);
    let data = dir.join("learner");
    let run_id = format!("pg-{}", std::process::id());
    let budget = 24;
    let pool_addr = pool.addr.trim_start_matches("http://").to_string();
    let mut learner = Command::new(curio_bin())
        .args(["--data-dir", data.to_str().unwrap(), "learner", "--listen", "127.0.0.1:0"])
        .args(["--metrics-listen", "127.0.0.1:0", "--pool", &pool_addr])
        .args(["--run-id", &run_id, "--budget", &budget.to_string(), "--strategy", "random"])
        .args(TINY)
        .env("DATABASE_URL", pg.url())
        .env("CURIO_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (addr, _) = announced(&mut BufReader::new(learner.stdout.take().unwrap()), "learner listening on ");
    let mut client = LearnerClient::connect(format!("http://{addr}")).await.unwrap();
    wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= 8).await;
    let pg = curio_tests::crash_and_restart(pg, Duration::from_secs(3)).await;
    let done = wait_for(&mut client, Duration::from_secs(300), |s| s.queries_used >= budget).await;
    assert_eq!(done.queries_used, budget);
    let db = PgPool::connect(&pg.url()).await.unwrap();
    let stored = "SELECT count(*) FROM executions WHERE run_id = $1";
    assert_eq!(count(&db, stored, &run_id).await, budget as i64, "the budget stored exactly once");
    let _ = learner.kill();
    let _ = learner.wait();
    db.close().await;
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Submitted programs that forge, silence or overload their own trace, or
/// whose values hold NUL and backslash escapes: each is answered with the
/// status it deserves, the loop goes on training, and nothing implausible
/// reaches the store.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_submissions_get_their_status_and_the_learner_goes_on_training() {
    use curio_interpreter_pool::{COSTLY_REPRS, FORGERIES, Status};
    let data = std::env::temp_dir().join(format!("curio-hostile-{}", std::process::id()));
    let run_id = format!("hostile-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let learner = Learner::start("run", &run_id, 400, &[], &data);
    let mut client = learner.client().await;
    wait_for(&mut client, Duration::from_secs(300), |s| s.run_id == run_id).await;

    let nul_json = "import json\ns = json.dumps(chr(0))\nt = \"\\\\u0000\"\nprint(len(s), len(t))\n";
    let escapes = "class N:\n    def __repr__(self):\n        return 'n\\x00\\\\u0000'\nn = N()\n\
                   print(chr(0), '\\\\u0000')\nraise ValueError(chr(0) + '\\\\u0000')\n";
    let mut expected: Vec<(&str, Status, Option<&str>)> =
        vec![(nul_json, Status::Ok, Some("8 6\n")), (escapes, Status::Exception, None)];
    expected.extend(FORGERIES.iter().map(|(_, source, status)| (*source, *status, None)));
    expected.extend(COSTLY_REPRS.iter().map(|(_, source, stdout)| (*source, Status::Ok, Some(*stdout))));
    let programs = expected
        .iter()
        .map(|(source, _, _)| pb::Submission { source: source.to_string(), ..Default::default() })
        .collect();
    let request = pb::SubmitRequest { programs, submitter: "hostile".into() };
    let mut stream = client.submit_programs(request).await.unwrap().into_inner();
    let ids = match stream.message().await.unwrap().unwrap().event {
        Some(pb::submit_event::Event::Accepted(a)) => a.execution_ids,
        other => panic!("expected accepted first, got {other:?}"),
    };
    let mut traces = std::collections::HashMap::new();
    while traces.len() < ids.len() {
        match stream.message().await.unwrap().expect("every submission answered").event {
            Some(pb::submit_event::Event::Executed(e)) => traces.insert(e.execution_id, e.trace.unwrap()),
            other => panic!("expected a trace, got {other:?}"),
        };
    }
    for (id, (source, status, stdout)) in ids.iter().zip(&expected) {
        let t = curio_interpreter_pool::trace_from_proto(id.clone(), traces[id].clone()).unwrap();
        assert_eq!(t.status, *status, "{source}: {:?}", t.error);
        if let Some(stdout) = stdout {
            assert_eq!(&t.stdout, stdout, "{source}");
        }
    }

    // Still training afterwards.
    let after = wait_for(&mut client, Duration::from_secs(60), |_| true).await;
    wait_for(&mut client, Duration::from_secs(300), |s| s.train_step > after.train_step).await;

    // Every submission is stored, and no stored step is implausible.
    let db = PgPool::connect(&database_url()).await.unwrap();
    let stored = "SELECT count(*) FROM executions WHERE run_id = $1 AND strategy = 'submitted'";
    assert_eq!(count(&db, stored, &run_id).await, ids.len() as i64);
    let tampered = "SELECT count(*) FROM executions WHERE run_id = $1 AND status = 'tampered'";
    let forged = FORGERIES.iter().filter(|f| f.2 == Status::Tampered).count() as i64;
    assert_eq!(count(&db, tampered, &run_id).await, forged);
    let implausible = "SELECT count(*) FROM transitions t JOIN executions e ON e.id = t.execution_id \
                       JOIN programs p ON p.id = e.program_id WHERE e.run_id = $1 AND (t.line < 1 \
                       OR t.line > array_length(string_to_array(rtrim(p.source, E'\\n'), E'\\n'), 1) \
                       OR t.depth < 1 OR t.depth > t.step + 1 OR octet_length(t.function) > 256)";
    assert_eq!(count(&db, implausible, &run_id).await, 0);
    drop(learner);
    let _ = std::fs::remove_dir_all(&data);
}

/// With tokens on, the Learner API lets in only their holders, and a
/// submission is recorded under its token's name, not the name it declares;
/// over-cap requests are refused at once; a flood of predictions leaves
/// training going.
#[tokio::test(flavor = "multi_thread")]
async fn a_tokens_name_is_the_submitter_caps_answer_at_once_and_predictions_do_not_stop_training() {
    use curio_interpreter_pool::{Bearer, endpoint};
    let data = std::env::temp_dir().join(format!("curio-token-{}", std::process::id()));
    std::fs::create_dir_all(&data).unwrap();
    let tokens = data.join("tokens");
    std::fs::write(&tokens, "alice:0123456789abcdef0123\n").unwrap();
    let run_id = format!("token-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
    let learner = Learner::start("run", &run_id, 400, &["--auth-token-file", tokens.to_str().unwrap()], &data);
    let mut anonymous = learner.client().await;
    let refused = anonymous.get_status(pb::StatusRequest {}).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let channel = endpoint(&learner.addr, None, None).unwrap().connect().await.unwrap();
    let bearer = Bearer::new(Some("0123456789abcdef0123")).unwrap();
    let mut client = LearnerClient::with_interceptor(channel, bearer);
    let program = pb::Submission { source: "print('signed')\n".into(), ..Default::default() };
    let request = pb::SubmitRequest { programs: vec![program], submitter: "mallory".into() };
    let mut stream = client.submit_programs(request).await.unwrap().into_inner();
    while let Some(event) = stream.message().await.unwrap() {
        if let Some(pb::submit_event::Event::Executed(_)) = event.event {
            break;
        }
    }
    let db = PgPool::connect(&database_url()).await.unwrap();
    let who: String = sqlx::query_scalar(
        "SELECT p.submitter FROM executions e JOIN programs p ON p.id = e.program_id \
         WHERE e.run_id = $1 AND e.strategy = 'submitted'",
    )
    .bind(&run_id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(who, "alice");

    // Each cap answers at once, before anything is queued or copied: the
    // learner's resident memory does not grow with what the requests ask
    // for (60 000 runs of a 60 KiB program would be 3.6 GB copied each).
    let one = |source: String, inputs: Vec<String>, submitter: String| pb::SubmitRequest {
        programs: vec![pb::Submission { source, inputs, ..Default::default() }],
        submitter,
    };
    let small = || "print(1)\n".to_string();
    let large = format!("x = 1\n{}", "# padding\n".repeat(6000));
    let resident = || resident_mib(learner.child.id());
    // The baseline: what the training learner grows by, unasked, over as
    // long as the refused requests take.
    let idle_from = resident();
    let phase = Instant::now();
    let before_caps = resident();
    for round in 0..10 {
        for (what, request) in [
            ("submitter of 129 bytes", one(small(), vec![], "x".repeat(129))),
            ("300 runs", one(small(), vec![String::new(); 300], String::new())),
            ("60 000 runs of a 60 KiB program", one(large.clone(), vec![String::new(); 60_000], String::new())),
            ("an input over 1 MiB", one(small(), vec!["x".repeat((1 << 20) + 1)], String::new())),
            ("a request over 4 MiB", one(small(), vec!["x".repeat(1 << 20); 5], String::new())),
        ] {
            let started = Instant::now();
            let code = client.submit_programs(request).await.map(|_| tonic::Code::Ok).unwrap_or_else(|s| s.code());
            assert!(matches!(code, tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted), "{what}: {code:?}");
            assert!(started.elapsed() < Duration::from_secs(2), "{what}: not refused at once (round {round})");
        }
    }
    let after_caps = resident();
    let took = phase.elapsed();
    let grown = after_caps - before_caps;
    let idle_start = resident();
    tokio::time::sleep(took).await;
    let idle = resident() - idle_start;
    eprintln!(
        "the learner's resident memory across 50 refused requests ({took:.1?}): {before_caps:.0} -> {after_caps:.0} MiB; \
         unasked over as long: {idle:+.0} MiB (before the requests it was {idle_from:.0} MiB)"
    );
    assert!(grown < 128.0, "50 refused requests grew the learner by {grown:.0} MiB");

    // A flood of predictions neither fails the learner nor stops training.
    let before = client.get_status(pb::StatusRequest {}).await.unwrap().into_inner().train_step;
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let mut c = client.clone();
            tokio::spawn(async move {
                let req = pb::PredictRequest { source: "a = 1\nb = a + 1\n".into(), horizon: 20, ..Default::default() };
                c.predict(req).await.map(|_| ()).map_err(|s| s.code())
            })
        })
        .collect();
    for f in flood {
        let outcome = f.await.unwrap();
        assert!(matches!(outcome, Ok(()) | Err(tonic::Code::ResourceExhausted)), "{outcome:?}");
    }
    let started = Instant::now();
    loop {
        let now = client.get_status(pb::StatusRequest {}).await.unwrap().into_inner().train_step;
        if now > before {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "training stopped at step {now}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(learner);
    let _ = std::fs::remove_dir_all(&data);
}
