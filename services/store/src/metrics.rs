//! The replay store's Prometheus series (listed in docs/metrics.md).

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

/// Handle to the store's series.
#[derive(Clone, Copy, Debug, Default)]
pub struct StoreMetrics;

impl StoreMetrics {
    /// Describes every series and creates them at zero, so a dashboard
    /// shows them before the first write.
    pub(crate) fn register() -> Self {
        describe_counter!("curio_store_rows_written_total", Unit::Count, "Rows inserted, by table.");
        describe_histogram!("curio_store_write_seconds", Unit::Seconds, "Time to commit one batch.");
        describe_counter!(
            "curio_store_write_retries_total",
            Unit::Count,
            "Writes retried while the database was unreachable."
        );
        describe_gauge!("curio_store_backlog_executions", Unit::Count, "Executions waiting to be written.");
        describe_histogram!(
            "curio_store_sample_seconds",
            Unit::Seconds,
            "Time to draw one minibatch, by sampling kind."
        );
        describe_counter!(
            "curio_store_rejected_executions_total",
            Unit::Count,
            "Executions refused for good (invalid, or refused by the database); kept in rejected_executions."
        );
        counter!("curio_store_rejected_executions_total").absolute(0);
        for table in ["programs", "executions", "transitions"] {
            counter!("curio_store_rows_written_total", "table" => table).absolute(0);
        }
        counter!("curio_store_write_retries_total").absolute(0);
        gauge!("curio_store_backlog_executions").set(0.0);
        StoreMetrics
    }

    /// A batch committed: its new executions and transitions, and how long
    /// the commit took.
    pub(crate) fn written(self, executions: usize, transitions: u64, took: Duration) {
        counter!("curio_store_rows_written_total", "table" => "executions").increment(executions as u64);
        counter!("curio_store_rows_written_total", "table" => "transitions").increment(transitions);
        histogram!("curio_store_write_seconds").record(took.as_secs_f64());
    }

    /// Programs a batch stored for the first time.
    pub(crate) fn programs_written(self, n: u64) {
        counter!("curio_store_rows_written_total", "table" => "programs").increment(n);
    }

    /// Executions refused for good.
    pub(crate) fn rejected(self, n: usize) {
        counter!("curio_store_rejected_executions_total").increment(n as u64);
    }

    /// One write tried again after Postgres was unavailable.
    pub(crate) fn retried(self) {
        counter!("curio_store_write_retries_total").increment(1);
    }

    /// Executions waiting to be written, now.
    pub fn backlog(self, executions: usize) {
        gauge!("curio_store_backlog_executions").set(executions as f64);
    }

    /// A minibatch drawn, by kind (`uniform`, `recent`, `prioritized`).
    pub(crate) fn sampled(self, kind: &'static str, took: Duration) {
        histogram!("curio_store_sample_seconds", "kind" => kind).record(took.as_secs_f64());
    }
}
