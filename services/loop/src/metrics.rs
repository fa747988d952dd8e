//! The learner's Prometheus series (listed in docs/metrics.md). The Grafana
//! learning-curve panels plot `curio_learner_eval_ratio` against
//! `curio_learner_queries_used`.

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};

use crate::Strategy;

/// Handle to the learner's series.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopMetrics;

impl LoopMetrics {
    pub fn register(strategy: Strategy) -> Self {
        describe_counter!("curio_learner_queries_total", Unit::Count, "Interpreter queries spent, by strategy.");
        describe_gauge!("curio_learner_queries_used", Unit::Count, "Queries the current run has spent, by strategy.");
        describe_histogram!(
            "curio_learner_acquisition_score",
            "Uncertainty (nats) of the candidates chosen, by strategy."
        );
        describe_gauge!(
            "curio_learner_surprise_nats",
            "Mean surprise of the last round's runs once run: minus the log-probability per step, nats, by strategy."
        );
        describe_histogram!("curio_learner_scoring_seconds", Unit::Seconds, "Time to score one round's candidates.");
        describe_histogram!(
            "curio_learner_evaluation_seconds",
            Unit::Seconds,
            "Time of one evaluation on the held-out suites, by strategy."
        );
        describe_counter!("curio_learner_train_steps_total", Unit::Count, "Optimizer steps taken.");
        describe_gauge!(
            "curio_learner_tokens_per_second",
            "Training throughput of the last round, padded tokens per second."
        );
        describe_gauge!("curio_learner_loss", "Mean training loss of the last round, nats, by head.");
        describe_gauge!(
            "curio_learner_eval_ratio",
            "Latest held-out evaluation, by suite, strategy and metric (0..1)."
        );
        describe_gauge!(
            "curio_learner_checkpoint_timestamp_seconds",
            Unit::Seconds,
            "Unix time of the newest checkpoint."
        );
        describe_counter!(
            "curio_learner_pool_call_failures_total",
            Unit::Count,
            "Pool calls that failed and were retried on another replica, by gRPC code."
        );
        describe_gauge!("curio_learner_submissions_pending", Unit::Count, "User submissions waiting for a round.");
        describe_gauge!(
            "curio_learner_source_share",
            "Share of the fresh candidates each source gets (adapted by --adapt-shares), by strategy and source."
        );
        describe_gauge!(
            "curio_learner_source_surprise_nats",
            "Running mean surprise of each source's runs, nats per step, by strategy and source."
        );
        describe_counter!(
            "curio_learner_skipped_total",
            Unit::Count,
            "Training work skipped because stored data broke it, by what (minibatch, train_step)."
        );
        for what in ["minibatch", "train_step"] {
            counter!("curio_learner_skipped_total", "what" => what).absolute(0);
        }
        let s = strategy.as_str();
        counter!("curio_learner_queries_total", "strategy" => s).absolute(0);
        counter!("curio_learner_train_steps_total").absolute(0);
        gauge!("curio_learner_submissions_pending").set(0.0);
        LoopMetrics
    }

    /// Each source's share and running surprise.
    pub fn sources(self, strategy: Strategy, report: &[(&'static str, f64, Option<f64>)]) {
        let s = strategy.as_str();
        for &(source, share, surprise) in report {
            gauge!("curio_learner_source_share", "strategy" => s, "source" => source).set(share);
            if let Some(nats) = surprise {
                gauge!("curio_learner_source_surprise_nats", "strategy" => s, "source" => source).set(nats);
            }
        }
    }

    pub fn round(
        self,
        strategy: Strategy,
        queries_used: u64,
        executed: usize,
        chosen_scores: &[f64],
        scoring: Duration,
    ) {
        let s = strategy.as_str();
        counter!("curio_learner_queries_total", "strategy" => s).increment(executed as u64);
        gauge!("curio_learner_queries_used", "strategy" => s).set(queries_used as f64);
        for score in chosen_scores {
            histogram!("curio_learner_acquisition_score", "strategy" => s).record(*score);
        }
        histogram!("curio_learner_scoring_seconds", "strategy" => s).record(scoring.as_secs_f64());
    }

    pub fn trained(self, steps: usize, tokens_per_second: f64, action_loss: f64, delta_loss: f64) {
        counter!("curio_learner_train_steps_total").increment(steps as u64);
        gauge!("curio_learner_tokens_per_second").set(tokens_per_second);
        gauge!("curio_learner_loss", "head" => "action").set(action_loss);
        gauge!("curio_learner_loss", "head" => "delta").set(delta_loss);
    }

    pub fn evaluated(self, strategy: Strategy, queries_used: u64, (suite, metric): (&str, &str), value: f64) {
        let s = strategy.as_str();
        gauge!("curio_learner_queries_used", "strategy" => s).set(queries_used as f64);
        let (suite, metric) = (suite.to_string(), metric.to_string());
        gauge!("curio_learner_eval_ratio", "suite" => suite, "strategy" => s, "metric" => metric).set(value);
    }

    pub fn evaluation_took(self, strategy: Strategy, seconds: f64) {
        histogram!("curio_learner_evaluation_seconds", "strategy" => strategy.as_str()).record(seconds);
    }

    pub fn surprise(self, strategy: Strategy, nats_per_step: f64) {
        gauge!("curio_learner_surprise_nats", "strategy" => strategy.as_str()).set(nats_per_step);
    }

    pub fn untrainable(self, n: usize) {
        counter!("curio_learner_untrainable_total").increment(n as u64);
    }

    pub fn skipped(self, what: &'static str) {
        counter!("curio_learner_skipped_total", "what" => what).increment(1);
    }

    pub fn checkpointed(self) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        gauge!("curio_learner_checkpoint_timestamp_seconds").set(now.as_secs_f64());
    }

    pub fn pending(self, n: usize) {
        gauge!("curio_learner_submissions_pending").set(n as f64);
    }
}
