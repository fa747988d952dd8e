//! The rows of one batch, inserted inside its transaction: programs once
//! each by content hash, executions once each by id, and the transitions of
//! the executions that are new. Each table takes one `UNNEST` insert of a
//! column array per field, however large the batch.

use std::collections::{HashMap, HashSet};

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use curio_trace::ErrorInfo;

use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::records::{ExecutionRecord, Provenance, pg_text};

/// A stored program as the batch's records see it: its id, and whether the
/// store holds it as corpus code (the origin it was first stored with).
#[derive(Clone, Copy, Debug)]
pub(super) struct StoredProgram {
    pub id: i64,
    pub corpus: bool,
}

/// Stores the batch's programs once each; returns each record's program.
pub(super) async fn insert_programs(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&ExecutionRecord],
) -> Result<Vec<StoredProgram>, StoreError> {
    let per_record: Vec<Vec<u8>> = batch.iter().map(|r| r.program.content_hash()).collect();
    let mut hashes = vec![];
    let (mut languages, mut sources, mut origins, mut submitters) = (vec![], vec![], vec![], vec![]);
    let mut seen = HashSet::new();
    for (r, hash) in batch.iter().zip(&per_record) {
        if seen.insert(hash) {
            hashes.push(hash.clone());
            languages.push(r.program.language.clone());
            sources.push(r.program.source.clone());
            origins.push(r.program.origin.as_str());
            submitters.push(r.program.submitter.as_deref().map(pg_text));
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO programs (content_hash, language, source, origin, submitter) \
         SELECT * FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::text[], $5::text[]) \
         ON CONFLICT (content_hash) DO NOTHING",
    )
    .bind(&hashes)
    .bind(&languages)
    .bind(&sources)
    .bind(&origins)
    .bind(&submitters)
    .execute(&mut **tx)
    .await?;
    StoreMetrics.programs_written(inserted.rows_affected());
    let rows: Vec<(Vec<u8>, i64, bool)> =
        sqlx::query_as("SELECT content_hash, id, origin = 'corpus' FROM programs WHERE content_hash = ANY($1)")
            .bind(&hashes)
            .fetch_all(&mut **tx)
            .await?;
    let stored: HashMap<Vec<u8>, StoredProgram> =
        rows.into_iter().map(|(hash, id, corpus)| (hash, StoredProgram { id, corpus })).collect();
    Ok(per_record.iter().map(|h| stored[h]).collect())
}

/// One array per column of `executions`, a record's values at its index.
struct ExecutionColumns {
    ids: Vec<Uuid>,
    inputs: Vec<String>,
    seeds: Vec<i64>,
    max_steps: Vec<i64>,
    timeouts: Vec<i64>,
    memory: Vec<i64>,
    output: Vec<i64>,
    statuses: Vec<&'static str>,
    step_counts: Vec<i64>,
    stdouts: Vec<String>,
    error_types: Vec<Option<String>>,
    error_messages: Vec<Option<String>>,
    error_lines: Vec<Option<i64>>,
    truncated: Vec<bool>,
    durations: Vec<i64>,
    replicas: Vec<Option<String>>,
    runs: Vec<Option<String>>,
    strategies: Vec<Option<String>>,
    scores: Vec<Option<f64>>,
    versions: Vec<Option<i64>>,
    sources: Vec<Option<String>>,
    shares: Vec<Option<f64>>,
}

impl ExecutionColumns {
    fn new(batch: &[&ExecutionRecord]) -> Self {
        let col = |f: &dyn Fn(&ExecutionRecord) -> i64| batch.iter().map(|r| f(r)).collect::<Vec<i64>>();
        let err = |f: &dyn Fn(&ErrorInfo) -> String| {
            batch.iter().map(|r| r.trace.error.as_ref().map(|e| pg_text(&f(e)))).collect::<Vec<Option<String>>>()
        };
        let prov = |f: &dyn Fn(&Provenance) -> Option<String>| {
            batch.iter().map(|r| f(&r.provenance).map(|s| pg_text(&s))).collect::<Vec<Option<String>>>()
        };
        ExecutionColumns {
            ids: batch.iter().map(|r| r.execution_id).collect(),
            inputs: batch.iter().map(|r| pg_text(&r.input)).collect(),
            seeds: col(&|r| r.seed as i64),
            max_steps: col(&|r| i64::from(r.limits.max_steps)),
            timeouts: col(&|r| r.limits.timeout.as_millis() as i64),
            memory: col(&|r| r.limits.memory_bytes as i64),
            output: col(&|r| r.limits.output_bytes as i64),
            statuses: batch.iter().map(|r| r.trace.status.as_str()).collect(),
            step_counts: col(&|r| r.trace.step_count as i64),
            stdouts: batch.iter().map(|r| pg_text(&r.trace.stdout)).collect(),
            error_types: err(&|e| e.kind.clone()),
            error_messages: err(&|e| e.message.clone()),
            error_lines: batch.iter().map(|r| r.trace.error.as_ref().and_then(|e| e.line).map(i64::from)).collect(),
            truncated: batch.iter().map(|r| r.trace.truncated).collect(),
            durations: col(&|r| r.trace.duration.as_micros() as i64),
            replicas: prov(&|p| p.pool_replica.clone()),
            runs: prov(&|p| p.run_id.clone()),
            strategies: prov(&|p| p.strategy.clone()),
            scores: batch.iter().map(|r| r.provenance.acquisition_score).collect(),
            versions: batch.iter().map(|r| r.provenance.model_version).collect(),
            sources: prov(&|p| p.source.clone()),
            shares: batch.iter().map(|r| r.provenance.source_share).collect(),
        }
    }
}

/// Stores the batch's executions that are not stored yet; returns their ids.
pub(super) async fn insert_executions(
    tx: &mut Transaction<'_, Postgres>,
    batch: &[&ExecutionRecord],
    program_ids: &[i64],
) -> Result<HashSet<Uuid>, StoreError> {
    let c = ExecutionColumns::new(batch);
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "INSERT INTO executions (id, program_id, input, seed, max_steps, timeout_ms, memory_bytes, output_bytes, \
             status, step_count, stdout, error_type, error_message, error_line, truncated, duration_us, \
             pool_replica, run_id, strategy, acquisition_score, model_version, source, source_share) \
         SELECT u.id, u.program_id, u.input, u.seed, u.max_steps::int, u.timeout_ms::int, u.memory_bytes, \
             u.output_bytes, u.status, u.step_count, u.stdout, u.error_type, u.error_message, u.error_line::int, \
             u.truncated, u.duration_us, u.pool_replica, u.run_id, u.strategy, u.acquisition_score, u.model_version, \
             u.source, u.source_share \
         FROM UNNEST($1::uuid[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], \
             $8::bigint[], $9::text[], $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[], \
             $15::bool[], $16::bigint[], $17::text[], $18::text[], $19::text[], $20::float8[], $21::bigint[], \
             $22::text[], $23::float8[]) \
           AS u(id, program_id, input, seed, max_steps, timeout_ms, memory_bytes, output_bytes, status, step_count, \
             stdout, error_type, error_message, error_line, truncated, duration_us, pool_replica, run_id, strategy, \
             acquisition_score, model_version, source, source_share) \
         ON CONFLICT (id) DO NOTHING RETURNING id",
    )
    .bind(&c.ids)
    .bind(program_ids)
    .bind(&c.inputs)
    .bind(&c.seeds)
    .bind(&c.max_steps)
    .bind(&c.timeouts)
    .bind(&c.memory)
    .bind(&c.output)
    .bind(&c.statuses)
    .bind(&c.step_counts)
    .bind(&c.stdouts)
    .bind(&c.error_types)
    .bind(&c.error_messages)
    .bind(&c.error_lines)
    .bind(&c.truncated)
    .bind(&c.durations)
    .bind(&c.replicas)
    .bind(&c.runs)
    .bind(&c.strategies)
    .bind(&c.scores)
    .bind(&c.versions)
    .bind(&c.sources)
    .bind(&c.shares)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Stores every step of `fresh` at `priority`; returns the new rows' ids.
pub(super) async fn insert_transitions(
    tx: &mut Transaction<'_, Postgres>,
    fresh: &[&ExecutionRecord],
    priority: f32,
) -> Result<Vec<(i64, Uuid)>, StoreError> {
    let total: usize = fresh.iter().map(|r| r.trace.steps.len()).sum();
    let mut exec_ids = Vec::with_capacity(total);
    let (mut steps, mut lines, mut depths) = (Vec::with_capacity(total), Vec::with_capacity(total), Vec::new());
    let (mut events, mut functions, mut locals) = (Vec::with_capacity(total), Vec::new(), Vec::new());
    let (mut stdouts, mut values) = (Vec::with_capacity(total), Vec::new());
    for r in fresh {
        for s in &r.trace.steps {
            exec_ids.push(r.execution_id);
            steps.push(s.step as i32);
            events.push(s.event.as_str());
            lines.push(s.line as i32);
            functions.push(pg_text(&s.function));
            depths.push(s.depth as i32);
            // NUL is made visible before the JSON is built: jsonb refuses
            // its escape, and the JSON text itself must not be rewritten.
            let pairs: Vec<(String, String)> = s.locals.iter().map(|(n, v)| (pg_text(n), pg_text(v))).collect();
            locals.push(serde_json::to_string(&pairs).expect("pairs of strings serialize"));
            stdouts.push(pg_text(&s.stdout));
            values.push(s.value.as_deref().map(pg_text));
        }
    }
    if exec_ids.is_empty() {
        return Ok(vec![]);
    }
    let priorities = vec![priority; exec_ids.len()];
    let ids: Vec<(i64, Uuid)> = sqlx::query_as(
        "INSERT INTO transitions (execution_id, step, event, line, function, depth, locals, stdout, value, priority) \
         SELECT u.e, u.s, u.ev, u.l, u.f, u.d, u.lo::jsonb, u.o, u.v, u.p \
         FROM UNNEST($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[], $6::int[], $7::text[], $8::text[], \
                     $9::text[], $10::real[]) AS u(e, s, ev, l, f, d, lo, o, v, p) \
         RETURNING id, execution_id",
    )
    .bind(&exec_ids)
    .bind(&steps)
    .bind(&events)
    .bind(&lines)
    .bind(&functions)
    .bind(&depths)
    .bind(&locals)
    .bind(&stdouts)
    .bind(&values)
    .bind(&priorities)
    .fetch_all(&mut **tx)
    .await?;
    Ok(ids)
}
