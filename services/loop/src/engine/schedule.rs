//! When the loop evaluates: every `eval_every` queries, within
//! `eval_share` of the learner's time.

/// The last evaluation's place and cost, in seconds.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EvalCost {
    /// The run's learner seconds when it ended.
    pub(super) at_learner: f64,
    /// What it took.
    pub(super) took: f64,
}

impl EvalCost {
    /// The last evaluation's cost, from the curves of a run that resumes
    /// (`evaluation_seconds`, `learner_seconds`: (queries, value)): it
    /// ended at `at` queries, where the checkpoint after it recorded both
    /// running totals; the point before holds `evaluation_seconds` as it
    /// was before (each round records it).
    pub(super) fn resumed(evaluation: &[(u64, f64)], learner: &[(u64, f64)], at: u64) -> EvalCost {
        let value_at = |points: &[(u64, f64)]| points.iter().find(|p| p.0 == at).map_or(0.0, |p| p.1);
        let before = evaluation.iter().filter(|p| p.0 < at).max_by_key(|p| p.0).map_or(0.0, |p| p.1);
        EvalCost { at_learner: value_at(learner), took: (value_at(evaluation) - before).max(0.0) }
    }
}

/// Whether an evaluation is due: never made; or `eval_every` queries since
/// the last and, under a `share` above 0, enough learner time since it that
/// evaluation stays within that share; or the budget just ran out.
pub(super) fn eval_due(
    (queries, last_eval, every): (u64, Option<u64>, u64),
    (learner, last): (f64, EvalCost),
    share: f64,
    done: bool,
) -> bool {
    let Some(at) = last_eval else { return true };
    if done {
        return at < queries;
    }
    let paid = share <= 0.0 || learner - last.at_learner >= last.took * (1.0 - share) / share;
    queries >= at + every && paid
}
