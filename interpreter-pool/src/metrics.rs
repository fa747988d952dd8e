//! The pool's Prometheus series. Names and units are listed in docs/metrics.md;
//! the Grafana dashboard queries exactly these.

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::{Language, Status, Trace};

/// Handle to the pool's series; registering twice is harmless.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PoolMetrics;

impl PoolMetrics {
    /// Describes every series and creates the labelled ones at zero, so a
    /// dashboard shows them before the first event.
    pub(crate) fn register() -> Self {
        describe_counter!("curio_pool_executions_total", Unit::Count, "Executions finished, by language and status.");
        describe_histogram!("curio_pool_execution_seconds", Unit::Seconds, "Wall time of one execution.");
        describe_histogram!("curio_pool_instantiate_seconds", Unit::Seconds, "Sandbox instantiation time.");
        describe_counter!("curio_pool_steps_total", Unit::Count, "Trace events produced.");
        describe_gauge!("curio_pool_busy_workers", Unit::Count, "Workers running an execution now.");
        describe_counter!("curio_pool_rejected_total", Unit::Count, "Requests refused, by reason.");
        for language in Language::ALL {
            for s in Status::ALL {
                counter!("curio_pool_executions_total", "language" => language.as_str(), "status" => s.as_str())
                    .absolute(0);
            }
        }
        for reason in ["at_capacity", "invalid_argument"] {
            counter!("curio_pool_rejected_total", "reason" => reason).absolute(0);
        }
        counter!("curio_pool_steps_total").absolute(0);
        gauge!("curio_pool_busy_workers").set(0.0);
        PoolMetrics
    }

    /// One execution in `language` finished, with its trace.
    pub(crate) fn executed(self, language: Language, trace: &Trace) {
        let labels = [("language", language.as_str()), ("status", trace.status.as_str())];
        counter!("curio_pool_executions_total", &labels).increment(1);
        counter!("curio_pool_steps_total").increment(trace.step_count);
        histogram!("curio_pool_execution_seconds").record(trace.duration.as_secs_f64());
        histogram!("curio_pool_instantiate_seconds").record(trace.instantiate.as_secs_f64());
    }

    /// Workers that started (`+1`) or finished (`-1`) an execution.
    pub(crate) fn busy(self, delta: f64) {
        gauge!("curio_pool_busy_workers").increment(delta);
    }

    /// A request refused, by reason.
    pub(crate) fn rejected(self, reason: &'static str) {
        counter!("curio_pool_rejected_total", "reason" => reason).increment(1);
    }
}
