//! The loop's schedule over a whole run: an evaluation and a checkpoint
//! when one is due, then a round, until the budget is spent (or, for a
//! learner that keeps serving, until it is stopped), and a checkpoint at the
//! end.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::{Engine, LoopError, RoundReport, Shared};

/// What [`run`] reports as it goes, for a progress display.
#[derive(Clone, Copy, Debug)]
pub enum Progress<'a> {
    /// An evaluation on the held-out suite has begun.
    Evaluating,
    /// It has ended, with these metrics.
    Evaluated(&'a BTreeMap<String, f64>),
    /// A round has ended.
    Round(&'a RoundReport),
}

/// Runs `engine` to its budget; with `serve_after`, goes on running user
/// submissions after it until `stop` turns true. Stops early, after the
/// round in flight, when `stop` turns true. Checkpoints at the end.
pub async fn run(
    engine: &mut Engine,
    shared: &Shared,
    serve_after: bool,
    stop: &watch::Receiver<bool>,
    mut progress: impl FnMut(&Engine, Progress<'_>),
) -> Result<(), LoopError> {
    let strategy = shared.strategy();
    loop {
        if engine.eval_due() {
            if engine.done() {
                // The last evaluation, with rollouts, can take long on a
                // CPU: the weights it measures are saved before it (with no
                // metrics yet: they are the next checkpoint's).
                engine.checkpoint(&BTreeMap::new()).await?;
            }
            progress(engine, Progress::Evaluating);
            let started = Instant::now();
            let metrics = engine.evaluate(engine.done()).await?;
            tracing::info!(strategy = %strategy, queries = engine.queries(), ms = started.elapsed().as_millis() as u64,
                action_accuracy = metrics.get("action_accuracy"), delta_exact = metrics.get("delta_exact"), "evaluated");
            engine.checkpoint(&metrics).await?;
            progress(engine, Progress::Evaluated(&metrics));
        }
        if *stop.borrow() || (engine.done() && !serve_after) {
            break;
        }
        if engine.done() && shared.pending() == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let round = engine.round().await?;
        tracing::debug!(?round, "round done");
        tracing::info!(
            strategy = %strategy,
            queries = engine.queries(),
            executed = round.executed,
            submitted = round.submitted,
            transitions = round.transitions,
            train_steps = round.train_steps,
            loss = round.mean_loss,
            scoring_ms = round.scoring_time.as_millis() as u64,
            scored = round.scored,
            "round"
        );
        progress(engine, Progress::Round(&round));
    }
    engine.checkpoint(&shared.latest()).await
}
