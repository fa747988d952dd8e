//! Batched writes: each batch stored idempotently in as few transactions as
//! the database allows, records it refuses kept apart with why, and the
//! priority index told of every new transition.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use super::Store;
use super::insert::{insert_executions, insert_programs, insert_transitions};
use crate::error::StoreError;
use crate::metrics::StoreMetrics;
use crate::records::{ExecutionRecord, pg_text};

/// What one batch write did.
#[derive(Debug, Default, PartialEq)]
pub struct WriteReceipt {
    /// Executions stored by this write.
    pub written: Vec<Uuid>,
    /// Executions already stored (a retry, or the same id twice): skipped.
    pub duplicates: Vec<Uuid>,
    /// Records refused, each with why; the rest of the batch is stored.
    pub rejected: Vec<(Uuid, String)>,
    /// Transition rows inserted.
    pub transitions: u64,
}

impl Store {
    /// Stores a batch. Invalid records are refused one by one; executions
    /// already stored are skipped, so retrying a batch whose outcome is
    /// unknown never duplicates anything. A part of the batch the database
    /// refuses for what it holds (a data exception, a constraint, a rule of
    /// its own) is split until the record at fault is found; that record is
    /// kept in `rejected_executions` with the database's reason, and the rest
    /// is stored.
    pub async fn write(&self, batch: &[ExecutionRecord]) -> Result<WriteReceipt, StoreError> {
        let mut receipt = WriteReceipt::default();
        let mut refused: Vec<(&ExecutionRecord, String)> = vec![];
        let mut seen = HashSet::new();
        let valid: Vec<&ExecutionRecord> = batch
            .iter()
            .filter(|r| match r.validate() {
                Err(e) => {
                    refused.push((r, e.to_string()));
                    false
                }
                Ok(()) if !seen.insert(r.execution_id) => {
                    receipt.duplicates.push(r.execution_id);
                    false
                }
                Ok(()) => true,
            })
            .collect();
        let mut parts = vec![valid];
        while let Some(part) = parts.pop() {
            if part.is_empty() {
                continue;
            }
            match self.write_part(&part).await {
                Ok(done) => {
                    receipt.written.extend(done.written);
                    receipt.duplicates.extend(done.duplicates);
                    receipt.transitions += done.transitions;
                }
                // Only a refusal of the data is worth splitting for; an
                // outage, or anything else, goes back to the caller whole.
                Err(e) if !matches!(e, StoreError::Refused(_)) => return Err(e),
                Err(e) if part.len() == 1 => refused.push((part[0], e.to_string())),
                Err(_) => {
                    let (a, b) = part.split_at(part.len() / 2);
                    parts.push(b.to_vec());
                    parts.push(a.to_vec());
                }
            }
        }
        self.keep_rejected(&refused).await?;
        receipt.rejected = refused.into_iter().map(|(r, why)| (r.execution_id, why)).collect();
        Ok(receipt)
    }

    /// Stores valid records in one transaction.
    async fn write_part(&self, valid: &[&ExecutionRecord]) -> Result<WriteReceipt, StoreError> {
        let priority = self.index().max_priority();
        let started = std::time::Instant::now();
        let mut tx = self.pool.begin().await?;
        let programs = insert_programs(&mut tx, valid).await?;
        let program_ids: Vec<i64> = programs.iter().map(|p| p.id).collect();
        let new = insert_executions(&mut tx, valid, &program_ids).await?;
        let fresh: Vec<&ExecutionRecord> = valid.iter().copied().filter(|r| new.contains(&r.execution_id)).collect();
        let ids = insert_transitions(&mut tx, &fresh, priority).await?;
        tx.commit().await?;
        let corpus: HashMap<Uuid, bool> =
            valid.iter().zip(&programs).map(|(r, p)| (r.execution_id, p.corpus)).collect();
        let mut index = self.index();
        for (id, execution) in &ids {
            index.push(*id, priority, corpus[execution]);
        }
        drop(index);
        let mut receipt = WriteReceipt { transitions: ids.len() as u64, ..WriteReceipt::default() };
        StoreMetrics.written(fresh.len(), receipt.transitions, started.elapsed());
        for r in valid {
            if new.contains(&r.execution_id) {
                receipt.written.push(r.execution_id);
            } else {
                receipt.duplicates.push(r.execution_id);
            }
        }
        Ok(receipt)
    }

    /// Keeps refused records, with why, where an operator can see them.
    async fn keep_rejected(&self, refused: &[(&ExecutionRecord, String)]) -> Result<(), StoreError> {
        if refused.is_empty() {
            return Ok(());
        }
        let text =
            |f: &dyn Fn(&ExecutionRecord) -> &str| refused.iter().map(|(r, _)| pg_text(f(r))).collect::<Vec<_>>();
        let prov = |f: &dyn Fn(&ExecutionRecord) -> Option<&str>| {
            refused.iter().map(|(r, _)| f(r).map(pg_text)).collect::<Vec<Option<String>>>()
        };
        let ids: Vec<Uuid> = refused.iter().map(|(r, _)| r.execution_id).collect();
        let seeds: Vec<i64> = refused.iter().map(|(r, _)| r.seed as i64).collect();
        let steps: Vec<i64> = refused.iter().map(|(r, _)| r.trace.step_count.min(i64::MAX as u64) as i64).collect();
        let reasons: Vec<String> = refused.iter().map(|(_, why)| pg_text(why)).collect();
        let outcome = sqlx::query(
            "INSERT INTO rejected_executions \
                 (execution_id, run_id, strategy, language, source, input, seed, status, step_count, reason) \
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                 $7::bigint[], $8::text[], $9::bigint[], $10::text[]) \
             ON CONFLICT (execution_id) DO NOTHING",
        )
        .bind(&ids)
        .bind(prov(&|r| r.provenance.run_id.as_deref()))
        .bind(prov(&|r| r.provenance.strategy.as_deref()))
        .bind(text(&|r| &r.program.language))
        .bind(text(&|r| &r.program.source))
        .bind(text(&|r| &r.input))
        .bind(&seeds)
        .bind(text(&|r| r.trace.status.as_str()))
        .bind(&steps)
        .bind(&reasons)
        .execute(&self.pool)
        .await;
        for (r, why) in refused {
            tracing::warn!(execution_id = %r.execution_id, reason = %why, "store refused an execution");
        }
        StoreMetrics.rejected(refused.len());
        match outcome.map_err(StoreError::from) {
            Err(e) if e.is_transient() => Err(e),
            Err(e) => {
                // Only the record of the refusal is lost; the write goes on.
                tracing::error!(error = %e, "could not keep the refused executions");
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }

    /// Executions refused so far, with why: (id, reason), oldest first.
    pub async fn rejected(&self, run_id: Option<&str>) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT execution_id, reason FROM rejected_executions WHERE $1::text IS NULL OR run_id = $1 \
             ORDER BY created_at, execution_id",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
