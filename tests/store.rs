//! The replay store against a real Postgres: traces round-trip, writes are
//! idempotent, sampling follows priorities, bad records fail alone, and a
//! Postgres restart mid-stream loses and duplicates nothing.

use std::time::Duration;

use curio_interpreter_pool::{Execution, Language, Limits, Trace};
use curio_store::{
    Backoff, DurableWriter, EmbeddedPostgres, ExecutionRecord, Origin, ProgramRecord, Provenance, Sampling, Store,
    WriterConfig,
};
use curio_tests::{programs, sandbox};
use rand::SeedableRng;
use rand::rngs::StdRng;
use sqlx::PgPool;
use uuid::Uuid;

fn traced(source: &str, seed: u64) -> Trace {
    sandbox().execute(&Execution { seed, ..Execution::python(source) }).unwrap()
}

fn record(source: &str, trace: Trace, seed: u64) -> ExecutionRecord {
    ExecutionRecord {
        execution_id: Uuid::now_v7(),
        program: ProgramRecord::python(source, Origin::Generated),
        input: String::new(),
        seed,
        limits: Limits::default(),
        trace,
        provenance: Provenance {
            strategy: Some("random".into()),
            run_id: Some("test".into()),
            ..Provenance::default()
        },
    }
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn a_lua_run_comes_back_as_lua_and_apart_from_the_same_text_in_python(pool: PgPool) {
    let store = Store::from_pool(pool).await.unwrap();
    let source = "local x = 1\nprint(x)\n";
    let trace = sandbox().execute(&Execution::new(Language::Lua, source)).unwrap();
    let lua = ExecutionRecord {
        program: ProgramRecord::new(Language::Lua, source, Origin::Generated),
        ..record(source, trace.clone(), 0)
    };
    let python = record(source, trace, 0);
    assert_ne!(lua.program.content_hash(), python.program.content_hash());
    store.write(&[lua.clone(), python.clone()]).await.unwrap();
    let runs = store.traces(&[lua.execution_id, python.execution_id]).await.unwrap();
    assert_eq!(runs[&lua.execution_id].language, Language::Lua);
    assert_eq!(runs[&python.execution_id].language, Language::Python);
    assert_eq!(runs[&lua.execution_id].steps, lua.trace.steps);
}

#[sqlx::test(migrations = false)]
async fn traces_round_trip_step_for_step(pool: PgPool) {
    let store = Store::from_pool(pool).await.unwrap();
    let batch: Vec<_> = programs().iter().map(|(_, src)| record(src, traced(src, 0), 0)).collect();
    let receipt = store.write(&batch).await.unwrap();
    assert_eq!(receipt.written.len(), batch.len());
    assert!(receipt.rejected.is_empty() && receipt.duplicates.is_empty());
    for r in &batch {
        let stored = store.traces_of_program(&r.program.content_hash()).await.unwrap();
        assert_eq!(stored.len(), 1);
        let (id, steps) = &stored[0];
        assert_eq!(*id, r.execution_id);
        assert_eq!(steps.len(), r.trace.steps.len());
        assert_eq!(steps, &r.trace.steps);
    }
    assert_eq!(store.transition_count() as u64, receipt.transitions);
}

#[sqlx::test(migrations = false)]
async fn a_batch_written_twice_is_stored_once(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let src = "x = 1\nfor i in range(3):\n    x *= 2\n";
    let batch: Vec<_> = (0..5).map(|seed| record(src, traced(src, seed), seed)).collect();
    let first = store.write(&batch).await.unwrap();
    let second = store.write(&batch).await.unwrap();
    assert_eq!((first.written.len(), second.written.len(), second.duplicates.len()), (5, 0, 5));
    assert_eq!(second.transitions, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM executions").await, 5);
    assert_eq!(count(&pool, "SELECT count(*) FROM programs").await, 1);
    let steps: i64 = batch.iter().map(|r| r.trace.steps.len() as i64).sum();
    assert_eq!(count(&pool, "SELECT count(*) FROM transitions").await, steps);
    // A store opened afresh knows every transition, and no more.
    let reopened = Store::from_pool(pool).await.unwrap();
    assert_eq!(reopened.transition_count() as i64, steps);
}

#[sqlx::test(migrations = false)]
async fn sampling_returns_the_requested_sizes_and_follows_priorities(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let src = "t = 0\nfor i in range(40):\n    t += i\n";
    let trace = traced(src, 0);
    let batch: Vec<_> = (0..10).map(|seed| record(src, trace.clone(), seed)).collect();
    store.write(&batch).await.unwrap();
    let hot = batch[0].execution_id;
    let ids: Vec<(i64, Uuid)> =
        sqlx::query_as("SELECT id, execution_id FROM transitions").fetch_all(&pool).await.unwrap();
    // One execution's transitions get 9x the priority of the rest: with 10
    // equal executions it should draw 9 / (9 + 9) = half of all samples.
    let updates: Vec<(i64, f32)> = ids.iter().map(|(id, e)| (*id, if *e == hot { 9.0 } else { 1.0 })).collect();
    store.update_priorities(&updates).await.unwrap();

    let mut rng = StdRng::seed_from_u64(7);
    let mut hot_draws = 0;
    for _ in 0..10 {
        let sample = store.sample(256, Sampling::Prioritized, &mut rng).await.unwrap();
        assert_eq!(sample.len(), 256);
        hot_draws += sample.iter().filter(|s| s.execution_id == hot).count();
    }
    let share = hot_draws as f64 / 2560.0;
    assert!((share - 0.5).abs() < 0.05, "hot share {share}");

    let uniform = store.sample(100, Sampling::Uniform, &mut rng).await.unwrap();
    assert_eq!(uniform.len(), 100);
    // Each draw says where it is: its execution and step are the row's.
    let rows: std::collections::HashMap<i64, (Uuid, i32)> =
        sqlx::query_as::<_, (i64, Uuid, i32)>("SELECT id, execution_id, step FROM transitions")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .map(|(id, e, step)| (id, (e, step)))
            .collect();
    for s in &uniform {
        assert_eq!(rows[&s.id], (s.execution_id, s.step as i32));
        assert!((s.probability - 1.0 / rows.len() as f64).abs() < 1e-9, "{}", s.probability);
    }
    let newest: i64 = count(&pool, "SELECT max(id) FROM transitions").await;
    let recent = store.sample(50, Sampling::Recent { window: 10 }, &mut rng).await.unwrap();
    assert!(recent.len() == 50 && recent.iter().all(|s| s.id > newest - 10));
}

/// `rho`'s choice after the runs: the runs not chosen drop to the lowest
/// priority (in the table and in what sampling draws from), the chosen keep
/// theirs, each run records its reducible loss and the choice; a round
/// stored but never chosen from is settled as not chosen.
#[sqlx::test(migrations = false)]
async fn runs_not_chosen_drop_to_the_lowest_priority_and_the_choice_is_recorded(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let src = "t = 0\nfor i in range(20):\n    t += i\n";
    let trace = traced(src, 0);
    let rho = |seed| {
        let mut r = record(src, trace.clone(), seed);
        r.provenance.strategy = Some("rho".into());
        r
    };
    let batch: Vec<_> = (0..6).map(rho).collect();
    store.write(&batch).await.unwrap();
    let id = |i: usize| batch[i].execution_id;
    store.choose(&[(id(0), Some(2.5), true), (id(1), Some(-0.5), false), (id(2), None, false)]).await.unwrap();
    // Each run: its id, reducible loss, choice, and its transitions' lowest and highest priority.
    type Row = (Uuid, Option<f64>, Option<bool>, f32, f32);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT e.id, e.reducible_nats, e.chosen, min(t.priority), max(t.priority) FROM executions e \
         JOIN transitions t ON t.execution_id = e.id GROUP BY e.id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let of = |e: Uuid| *rows.iter().find(|r| r.0 == e).unwrap();
    let stored = of(id(5)).3;
    assert!(stored >= 1.0, "new transitions come in at the highest priority: {stored}");
    assert_eq!(of(id(0)), (id(0), Some(2.5), Some(true), stored, stored), "the chosen keep theirs");
    for (i, reducible) in [(1, Some(-0.5)), (2, None)] {
        let (_, r, chosen, low, high) = of(id(i));
        assert_eq!((r, chosen), (reducible, Some(false)));
        assert!(low <= 1e-6 && high <= 1e-6, "run {i}: {low}..{high}");
    }
    // Sampling by priority no longer reaches them.
    let mut rng = StdRng::seed_from_u64(3);
    let drawn = store.sample(2000, Sampling::Prioritized, &mut rng).await.unwrap();
    let lowered = drawn.iter().filter(|s| s.execution_id == id(1) || s.execution_id == id(2)).count();
    assert!(lowered < 5, "{lowered} of 2000 prioritized draws from runs not chosen");
    // Runs 3..6 were stored, never chosen from: settled as not chosen.
    assert_eq!(store.settle_unchosen("test", "rho").await.unwrap(), 3);
    assert_eq!(count(&pool, "SELECT count(*) FROM executions WHERE chosen").await, 1, "the chosen stays chosen");
    let settled = count(&pool, "SELECT count(*) FROM executions WHERE chosen = false").await;
    assert_eq!(settled, 5);
    assert_eq!(store.settle_unchosen("test", "rho").await.unwrap(), 0, "once");
}

#[sqlx::test(migrations = false)]
async fn corpus_and_generated_transitions_are_drawn_apart(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let people = "total = 0\nfor price in [3, 4, 5]:\n    total += price\n";
    let generated = "a0 = 1\nfor v in range(9):\n    a0 = a0 * 2\n";
    let mut batch = vec![record(generated, traced(generated, 0), 0)];
    let mut corpus = record(people, traced(people, 0), 0);
    corpus.program.origin = Origin::Corpus;
    batch.push(corpus.clone());
    store.write(&batch).await.unwrap();
    let (real, all) = (corpus.trace.steps.len(), batch.iter().map(|r| r.trace.steps.len()).sum::<usize>());
    let mut rng = StdRng::seed_from_u64(9);
    // Fresh, and as a store opened afresh reads them back from Postgres.
    for store in [store, Store::from_pool(pool).await.unwrap()] {
        assert_eq!((store.corpus_transition_count(), store.transition_count()), (real, all));
        for prioritized in [false, true] {
            let drawn = store.sample(200, Sampling::Part { corpus: true, prioritized }, &mut rng).await.unwrap();
            assert!(drawn.len() == 200 && drawn.iter().all(|s| s.execution_id == corpus.execution_id));
            let drawn = store.sample(200, Sampling::Part { corpus: false, prioritized }, &mut rng).await.unwrap();
            assert!(drawn.len() == 200 && drawn.iter().all(|s| s.execution_id == batch[0].execution_id));
        }
    }
}

#[sqlx::test(migrations = false)]
async fn bad_records_are_refused_alone_with_a_reason(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let good = "print('a\\x00b')\n";
    let mut batch = vec![record(good, traced(good, 0), 0)];
    let huge = "x = 1\n".repeat(12_000);
    batch.push(record(&huge, traced("pass", 0), 0));
    batch.push(record("x = '\0'", traced("pass", 0), 0));
    batch.push(record("y = 2\n", traced("y = 2\n", 0), 0));
    let receipt = store.write(&batch).await.unwrap();
    assert_eq!(receipt.written, vec![batch[0].execution_id, batch[3].execution_id]);
    assert_eq!(receipt.rejected.len(), 2);
    assert!(receipt.rejected[0].1.contains("65536"), "{:?}", receipt.rejected);
    assert!(receipt.rejected[1].1.contains("NUL"), "{:?}", receipt.rejected);
    assert_eq!(count(&pool, "SELECT count(*) FROM rejected_executions").await, 2);
    // Output holding NUL is kept, with NUL shown as U+2400.
    let stdout: String = sqlx::query_scalar("SELECT stdout FROM executions WHERE id = $1")
        .bind(batch[0].execution_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stdout, "a\u{2400}b\n");
}

#[sqlx::test(migrations = false)]
async fn nul_and_backslash_escapes_in_locals_output_and_errors_are_stored(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    // json.dumps(chr(0)) holds the six characters \u0000; a user repr may
    // hold a real NUL; output and the error message hold both.
    let src = "import json\nclass N:\n    def __repr__(self):\n        return 'n\\x00n'\n\
               s = json.dumps(chr(0))\nt = '\\\\u0000'\nn = N()\nprint(s, t, chr(0))\n\
               raise ValueError(s + chr(0))\n";
    let trace = traced(src, 0);
    assert_eq!(trace.status, curio_interpreter_pool::Status::Exception, "{:?}", trace.error);
    let r = record(src, trace, 0);
    let receipt = store.write(std::slice::from_ref(&r)).await.unwrap();
    assert_eq!(receipt.written, vec![r.execution_id], "{:?}", receipt.rejected);
    let (_, steps) = store.traces_of_program(&r.program.content_hash()).await.unwrap().remove(0);
    let last = &steps.last().unwrap().locals;
    let local = |name: &str| last.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(local("s"), r#"'"\\u0000"'"#);
    assert_eq!(local("t"), r"'\\u0000'");
    assert_eq!(local("n"), "n\u{2400}n");
    let (stdout, message): (String, String) =
        sqlx::query_as("SELECT stdout, error_message FROM executions WHERE id = $1")
            .bind(r.execution_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stdout, "\"\\u0000\" \\u0000 \u{2400}\n");
    assert_eq!(message, "\"\\u0000\"\u{2400}");
}

#[sqlx::test(migrations = false)]
async fn a_record_the_database_refuses_is_kept_apart_and_the_rest_is_stored(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    // A rule of the database's own that no check of the store's knows about.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF NEW.input = 'poison' THEN RAISE EXCEPTION 'input refused by policy'; END IF; RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON executions FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .execute(&pool)
    .await
    .unwrap();
    let src = "x = 1\ny = x + 1\n";
    let trace = traced(src, 0);
    let mut batch: Vec<_> = (0..7).map(|seed| record(src, trace.clone(), seed)).collect();
    batch[4].input = "poison".into();
    let receipt = store.write(&batch).await.unwrap();
    assert_eq!(receipt.written.len(), 6);
    assert!(!receipt.written.contains(&batch[4].execution_id));
    assert_eq!(receipt.rejected.len(), 1);
    assert_eq!(receipt.rejected[0].0, batch[4].execution_id);
    assert!(receipt.rejected[0].1.contains("refused by policy"), "{:?}", receipt.rejected);
    assert_eq!(count(&pool, "SELECT count(*) FROM executions").await, 6);
    assert_eq!(count(&pool, "SELECT count(*) FROM transitions").await, 6 * trace.steps.len() as i64);
    let kept = store.rejected(Some("test")).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].0, batch[4].execution_id);
    // Invalid records are kept apart the same way, and a retry stores nothing twice.
    let again = store.write(&batch).await.unwrap();
    assert_eq!((again.written.len(), again.duplicates.len(), again.rejected.len()), (0, 6, 1));
    assert_eq!(count(&pool, "SELECT count(*) FROM rejected_executions").await, 1);
}

/// `url` with its database replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (scheme, rest) = base.split_once("://").unwrap();
    let authority = rest.split('/').next().unwrap();
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

/// The owner migrates; the services' role reads and writes but cannot
/// change the schema, and a schema left behind tells it who can migrate.
#[sqlx::test(migrations = false)]
async fn the_services_run_as_a_role_without_ddl_rights_after_the_owner_migrates(pool: PgPool) {
    let role = format!("curio_rt_{}_{}", std::process::id(), Uuid::now_v7().simple().to_string().get(24..).unwrap());
    sqlx::query(&format!("CREATE ROLE {role} LOGIN")).execute(&pool).await.unwrap();
    let options = (*pool.connect_options()).clone();
    let database = options.get_database().unwrap().to_string();
    let as_role = options.clone().username(&role);

    let behind = Store::connect_with(as_role.clone()).await.unwrap_err().to_string();
    assert!(behind.contains("curio db migrate"), "{behind}");

    let url = with_database(&std::env::var("DATABASE_URL").unwrap(), &database);
    let migrate = |grant: &str| {
        std::process::Command::new(curio_tests::curio_bin())
            .args(["db", "migrate", "--grant", grant])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let out = migrate("no_such_role");
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    let out = migrate(&role);
    assert!(out.status.success(), "curio db migrate: {}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("up to date"));

    let store = Store::connect_with(as_role.clone()).await.expect("the runtime role opens a migrated store");
    let src = "x = 1\ny = x + 1\n";
    let receipt = store.write(&[record(src, traced(src, 0), 0)]).await.unwrap();
    assert_eq!(receipt.written.len(), 1);
    let mut rng = StdRng::seed_from_u64(1);
    assert!(!store.sample(2, Sampling::Uniform, &mut rng).await.unwrap().is_empty());
    let runtime = store.pool();
    for ddl in [
        "CREATE TABLE intruder (a int)",
        "DROP TABLE transitions",
        "ALTER TABLE executions ADD COLUMN intruder int",
        "DELETE FROM _sqlx_migrations",
        "TRUNCATE transitions",
    ] {
        let err = sqlx::query(ddl).execute(runtime).await.expect_err(ddl);
        let code = err.as_database_error().and_then(|d| d.code()).map(|c| c.to_string());
        assert!(matches!(code.as_deref(), Some("42501") | Some("42P01")), "{ddl}: {err}");
    }
    runtime.close().await;
    sqlx::query(&format!("DROP OWNED BY {role}")).execute(&pool).await.unwrap();
    sqlx::query(&format!("DROP ROLE {role}")).execute(&pool).await.unwrap();
}

/// As root the server runs as `postgres`: a data folder under a private
/// one (a clone in /root) gets its cluster in a shared place, recorded in
/// the folder, and the same folder finds the same cluster again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_folder_the_server_user_cannot_reach_keeps_its_cluster_elsewhere() {
    use std::os::unix::fs::PermissionsExt;
    let root_uid = std::process::Command::new("id").arg("-u").output().unwrap().stdout.trim_ascii() == b"0";
    if !root_uid {
        eprintln!("not root: the server runs as this user, which reaches its own folders");
        return;
    }
    let private = std::env::temp_dir().join(format!("curio-private-{}", std::process::id()));
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = private.join("data/postgres");
    let d = dir.clone();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d)).await.unwrap().unwrap();
    let home = pg.home().to_path_buf();
    assert!(home.starts_with(curio_store::SHARED_HOME), "{}", home.display());
    let recorded = std::fs::read_to_string(dir.join("LOCATION")).unwrap();
    assert_eq!(recorded.trim(), home.display().to_string());
    let store = Store::connect(&pg.url()).await.unwrap();
    let src = "x = 1\n";
    assert_eq!(store.write(&[record(src, traced(src, 0), 0)]).await.unwrap().written.len(), 1);
    store.pool().close().await;
    drop(pg);
    let d = dir.clone();
    let again = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d)).await.unwrap().unwrap();
    assert_eq!(again.home(), home, "the same data folder finds the same cluster");
    let store = Store::connect(&again.url()).await.unwrap();
    assert_eq!(count(store.pool(), "SELECT count(*) FROM executions").await, 1, "what was stored is there");
    store.pool().close().await;
    again.stop(false).unwrap();
    drop(again);
    std::fs::remove_dir_all(&home).unwrap();
    std::fs::remove_dir_all(&private).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_stream_loses_nothing_and_duplicates_nothing() {
    let dir = std::env::temp_dir().join(format!("curio-restart-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.clone();
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d)).await.unwrap().unwrap();
    let store = Store::connect(&pg.url()).await.unwrap();
    let config = WriterConfig {
        queue: 4,
        backoff: Backoff { first: Duration::from_millis(50), max: Duration::from_millis(400) },
    };
    let writer = DurableWriter::spawn(store.clone(), config);

    let src = "a = [1, 2]\nfor v in a:\n    print(v)\n";
    let trace = traced(src, 0);
    let batches: Vec<Vec<ExecutionRecord>> =
        (0..30).map(|b| (0..5).map(|i| record(src, trace.clone(), b * 5 + i)).collect()).collect();
    let producer = {
        let writer = writer.clone();
        let batches = batches.clone();
        tokio::spawn(async move {
            let mut pending = vec![];
            for batch in batches {
                pending.push(writer.submit(batch).await.unwrap());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let mut written = 0;
            for durable in pending {
                written += durable.await.unwrap().unwrap().written.len();
            }
            written
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pg = curio_tests::crash_and_restart(pg, Duration::from_millis(800)).await;
    let written = tokio::time::timeout(Duration::from_secs(60), producer).await.unwrap().unwrap();
    assert_eq!(written, 150, "every record acknowledged as written exactly once");
    let retries = writer.stats().retries.load(std::sync::atomic::Ordering::Relaxed);
    assert!(retries > 0, "the restart happened mid-stream, so some writes must have been retried");

    let check = Store::connect(&pg.url()).await.unwrap();
    assert_eq!(count(check.pool(), "SELECT count(*) FROM executions").await, 150);
    let steps = 150 * trace.steps.len() as i64;
    assert_eq!(count(check.pool(), "SELECT count(*) FROM transitions").await, steps);
    assert_eq!(count(check.pool(), "SELECT count(DISTINCT (execution_id, step)) FROM transitions").await, steps);
    drop(pg);
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test(migrations = false)]
async fn checkpoints_evals_and_curves_are_kept_per_run(pool: PgPool) {
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let config = serde_json::json!({"d_model": 128, "layers": 2});
    assert_eq!(store.latest_checkpoint("r1").await.unwrap(), None);
    store.record_checkpoint("r1", 100, "/ck/100.safetensors", &config, &serde_json::json!({})).await.unwrap();
    let id = store.record_checkpoint("r1", 200, "/ck/200.safetensors", &config, &serde_json::json!({})).await.unwrap();
    store.record_checkpoint("r2", 900, "/other", &config, &serde_json::json!({})).await.unwrap();
    assert_eq!(store.latest_checkpoint("r1").await.unwrap(), Some((200, "/ck/200.safetensors".into(), config)));
    store.record_eval(Some(id), "r1", "held_out", "action_accuracy", 0.5).await.unwrap();
    assert_eq!(count(&pool, "SELECT count(*) FROM eval_results WHERE checkpoint_id IS NOT NULL").await, 1);
    for (q, v) in [(10, 0.1), (20, 0.3), (20, 0.35)] {
        store.record_curve_point("r1", "bald", q, "action_accuracy", v).await.unwrap();
    }
    store.record_curve_point("r1", "random", 10, "action_accuracy", 0.05).await.unwrap();
    let curve = store.learning_curve("r1", "action_accuracy").await.unwrap();
    assert_eq!(curve, vec![("bald".into(), 10, 0.1), ("bald".into(), 20, 0.35), ("random".into(), 10, 0.05)]);
}

/// Two commands on one data folder: the one that attached to the running
/// private cluster must not stop it under the other when it exits; the
/// last one out stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cluster_in_use_outlives_a_handle_that_exits() {
    let dir = std::env::temp_dir().join(format!("curio-shared-cluster-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let start = |d: std::path::PathBuf| tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&d));
    let long_run = start(dir.clone()).await.unwrap().unwrap();
    let store = Store::connect(&long_run.url()).await.unwrap();
    let other = start(dir.clone()).await.unwrap().unwrap();
    let other_store = Store::connect(&other.url()).await.unwrap();
    assert!(other.other_clients().unwrap() >= 1, "the long run's sessions are another handle's");
    // The second command ends: its connections close, then its handle drops.
    other_store.pool().close().await;
    tokio::task::spawn_blocking(move || drop(other)).await.unwrap();
    assert!(long_run.is_running(), "stopped under the long run");
    assert_eq!(count(store.pool(), "SELECT count(*) FROM executions").await, 0, "the long run still reads");
    // The long run ends last: nobody else is connected, so it stops the cluster.
    store.pool().close().await;
    tokio::task::spawn_blocking(move || drop(long_run)).await.unwrap();
    assert!(!dir.join("pgdata/postmaster.pid").exists(), "the last handle out stops the cluster");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Offline training on a store whose transitions are mostly too long for
/// the model to read goes on to its last step: an unreadable transition
/// that is drawn gets the lowest priority, so prioritized draws stop
/// coming back to it.
#[sqlx::test(migrations = false)]
async fn offline_training_goes_on_where_most_transitions_are_too_long_to_read(pool: PgPool) {
    use curio_learner::{Learner, ModelConfig, TrainConfig, Trainer};
    use curio_loop::{FitConfig, Mix, OfflineConfig, offline};
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let short = "x = 0\nfor i in range(4):\n    x += i\n";
    let long = format!(
        "{}total = 0\nfor i in range(60):\n    total += i\n",
        "# a comment that outgrows the block\n".repeat(10)
    );
    let short_run = record(short, traced(short, 0), 0);
    let long_run = record(&long, traced(&long, 0), 0);
    let (short_id, long_id) = (short_run.execution_id, long_run.execution_id);
    store.write(&[short_run, long_run]).await.unwrap();
    // Two chunks of 128 program tokens: the long program needs four.
    let config = ModelConfig {
        n_embd: 32,
        n_head: 2,
        n_layer: 1,
        block_size: 256,
        chunk: 128,
        chunks: 2,
        ..ModelConfig::default()
    };
    let learner = Learner::new(config, tch::Device::Cpu).unwrap();
    let trainer = std::sync::Arc::new(std::sync::Mutex::new(Trainer::new(learner, TrainConfig::default()).unwrap()));
    let dir = std::env::temp_dir().join(format!("curio-unreadable-{}", std::process::id()));
    let offline_config = OfflineConfig {
        minutes: 5.0,
        steps: Some(20),
        checkpoint: dir.join("model.safetensors"),
        fit: FitConfig {
            mix: Mix { prioritized: 1.0, recent: 0.0, long_jumps: 0.0, comparisons: 0.0, corpus: None },
            ..FitConfig::default()
        },
        ..OfflineConfig::default()
    };
    std::fs::create_dir_all(&dir).unwrap();
    let report = offline(&store, &trainer, &offline_config, |_, _, _| {}).await.unwrap();
    assert_eq!(report.train_step, 20, "every step taken");
    // The lowered steps: of the long run, any; of the short one, only its
    // last step, which has no next state to learn.
    let lowered = |id: Uuid| {
        sqlx::query_scalar::<_, i32>("SELECT step FROM transitions WHERE execution_id = $1 AND priority < 1e-5")
            .bind(id)
            .fetch_all(&pool)
    };
    assert!(!lowered(long_id).await.unwrap().is_empty(), "the unreadable transitions drawn were lowered");
    let last = traced(short, 0).steps.len() as i32 - 1;
    let short_lowered = lowered(short_id).await.unwrap();
    assert!(short_lowered.iter().all(|&s| s == last), "readable steps keep their losses: {short_lowered:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `curio train --corpus-share`: a share of 0 trains on none of the corpus's
/// transitions and a share of 1 on nothing else, as the priorities that
/// training sets show.
#[sqlx::test(migrations = false)]
async fn a_corpus_share_decides_what_offline_training_reads(pool: PgPool) {
    use curio_learner::{Learner, ModelConfig, TrainConfig, Trainer};
    use curio_loop::{FitConfig, Mix, OfflineConfig, offline};
    let store = Store::from_pool(pool.clone()).await.unwrap();
    let people = "total = 0\nfor price in [3, 4, 5]:\n    total += price\n";
    let generated = "a0 = 1\nfor v in range(9):\n    a0 = a0 * 2\n";
    let mut corpus = record(people, traced(people, 0), 0);
    corpus.program.origin = Origin::Corpus;
    store.write(&[record(generated, traced(generated, 0), 0), corpus]).await.unwrap();
    let config = ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 256, ..ModelConfig::default() };
    let dir = std::env::temp_dir().join(format!("curio-corpus-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Transitions training has set a priority on, by origin.
    let trained = |origin: &'static str| {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM transitions t JOIN executions e ON e.id = t.execution_id \
             JOIN programs p ON p.id = e.program_id WHERE p.origin = $1 AND t.priority <> 1",
        )
        .bind(origin)
        .fetch_one(&pool)
    };
    for (share, (corpus_trained, generated_trained)) in [(0.0, (false, true)), (1.0, (true, false))] {
        sqlx::query("UPDATE transitions SET priority = 1").execute(&pool).await.unwrap();
        let learner = Learner::new(config.clone(), tch::Device::Cpu).unwrap();
        let trainer =
            std::sync::Arc::new(std::sync::Mutex::new(Trainer::new(learner, TrainConfig::default()).unwrap()));
        let offline_config = OfflineConfig {
            steps: Some(8),
            checkpoint: dir.join("model.safetensors"),
            fit: FitConfig {
                mix: Mix { recent: 0.0, long_jumps: 0.0, corpus: Some(share), ..Mix::default() },
                ..FitConfig::default()
            },
            ..OfflineConfig::default()
        };
        let _ = std::fs::remove_file(dir.join("model.safetensors"));
        offline(&store, &trainer, &offline_config, |_, _, _| {}).await.unwrap();
        assert_eq!(trained("corpus").await.unwrap() > 0, corpus_trained, "share {share}: corpus");
        assert_eq!(trained("generated").await.unwrap() > 0, generated_trained, "share {share}: generated");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
