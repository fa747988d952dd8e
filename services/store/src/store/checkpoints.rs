//! A run's bookkeeping: its checkpoints, the evaluation metrics recorded
//! against them, and its learning curves (a metric against the interpreter
//! queries each strategy used).

use super::Store;
use crate::error::StoreError;

impl Store {
    /// Records a checkpoint; returns its id.
    pub async fn record_checkpoint(
        &self,
        run_id: &str,
        train_step: i64,
        path: &str,
        model_config: &serde_json::Value,
        metrics: &serde_json::Value,
    ) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar(
            "INSERT INTO checkpoints (run_id, train_step, path, model_config, metrics) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (run_id, train_step) DO UPDATE SET path = EXCLUDED.path, metrics = EXCLUDED.metrics \
             RETURNING id",
        )
        .bind(run_id)
        .bind(train_step)
        .bind(path)
        .bind(model_config)
        .bind(metrics)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// The newest checkpoint of a run: (train step, path, model config).
    pub async fn latest_checkpoint(
        &self,
        run_id: &str,
    ) -> Result<Option<(i64, String, serde_json::Value)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT train_step, path, model_config FROM checkpoints WHERE run_id = $1 ORDER BY train_step DESC LIMIT 1",
        )
        .bind(run_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Records one evaluation metric.
    pub async fn record_eval(
        &self,
        checkpoint_id: Option<i64>,
        run_id: &str,
        suite: &str,
        metric: &str,
        value: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO eval_results (checkpoint_id, run_id, suite, metric, value) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(checkpoint_id)
        .bind(run_id)
        .bind(suite)
        .bind(metric)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a learning-curve point (idempotent per run, strategy, metric
    /// and query count).
    pub async fn record_curve_point(
        &self,
        run_id: &str,
        strategy: &str,
        queries_used: i64,
        metric: &str,
        value: f64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO learning_curve (run_id, strategy, queries_used, metric, value) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (run_id, strategy, metric, queries_used) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(run_id)
        .bind(strategy)
        .bind(queries_used)
        .bind(metric)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The metrics a run's curve has points for.
    pub async fn curve_metrics(&self, run_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT DISTINCT metric FROM learning_curve WHERE run_id = $1 ORDER BY metric")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A run's curve for one metric: (strategy, queries used, value), in order.
    pub async fn learning_curve(&self, run_id: &str, metric: &str) -> Result<Vec<(String, i64, f64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT strategy, queries_used, value FROM learning_curve WHERE run_id = $1 AND metric = $2 \
             ORDER BY strategy, queries_used",
        )
        .bind(run_id)
        .bind(metric)
        .fetch_all(&self.pool)
        .await?)
    }
}
