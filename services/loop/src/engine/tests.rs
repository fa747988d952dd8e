use super::{EvalCost, eval_due};

/// The schedule as one call: `queries` now, the last evaluation at
/// `last` queries, every 64; `learner` seconds now; the last evaluation
/// ended at `at` learner seconds and took `took`.
fn due(queries: u64, last: Option<u64>, (learner, at, took): (f64, f64, f64), share: f64, done: bool) -> bool {
    eval_due((queries, last, 64), (learner, EvalCost { at_learner: at, took }), share, done)
}

#[test]
fn the_first_evaluation_is_always_due() {
    assert!(due(0, None, (0.0, 0.0, 0.0), 0.2, false));
    assert!(due(500, None, (100.0, 0.0, 1e6), 0.2, false));
}

#[test]
fn without_a_share_evaluation_follows_the_queries_alone() {
    assert!(!due(127, Some(64), (1.0, 0.0, 1e6), 0.0, false));
    assert!(due(128, Some(64), (1.0, 0.0, 1e6), 0.0, false));
}

#[test]
fn a_costly_evaluation_waits_until_the_learner_has_had_its_share() {
    // Took 30 s; at a share of 0.2 the learner gets 120 s before the next.
    assert!(!due(128, Some(64), (219.0, 100.0, 30.0), 0.2, false), "19 s since is not 120 s");
    assert!(!due(1_000, Some(64), (219.0, 100.0, 30.0), 0.2, false), "queries alone do not make it due");
    assert!(due(128, Some(64), (220.0, 100.0, 30.0), 0.2, false));
    // Learner time alone does not either: eval-every still spaces them.
    assert!(!due(100, Some(64), (1e6, 100.0, 30.0), 0.2, false));
    // Over a long run, evaluation stays within its share of the time.
    let (mut learner, mut evaluating, mut last) = (0.0, 0.0, EvalCost::default());
    let mut at = None;
    for round in 1..=2_000u64 {
        learner += 5.0;
        let queries = round * 16;
        if eval_due((queries, at, 64), (learner, last), 0.2, false) {
            evaluating += 40.0;
            last = EvalCost { at_learner: learner, took: 40.0 };
            at = Some(queries);
        }
    }
    // Within the share, but for the first evaluation, made before any
    // learning (40 s of 12 520).
    let share = evaluating / (evaluating + learner);
    assert!((0.15..=0.205).contains(&share), "evaluation took {share:.3} of the time");
    assert!(evaluating - 40.0 <= 0.2 * (evaluating + learner), "{evaluating} s of {learner} s");
}

#[test]
fn the_end_of_the_budget_is_always_evaluated_once() {
    assert!(due(130, Some(64), (101.0, 100.0, 1e6), 0.2, true), "a run's last point is always made");
    assert!(!due(130, Some(130), (101.0, 100.0, 1e6), 0.2, true), "but only once");
}

#[test]
fn a_resumed_run_reads_the_last_evaluations_cost_from_its_curve() {
    // Rounds recorded the running totals at 16 and 32; the evaluation at
    // 32 took 30 s, and its checkpoint rewrote the point at 32.
    let evaluation = [(0, 10.0), (16, 10.0), (32, 40.0)];
    let learner = [(0, 0.0), (16, 50.0), (32, 90.0)];
    let cost = EvalCost::resumed(&evaluation, &learner, 32);
    assert_eq!((cost.at_learner, cost.took), (90.0, 30.0));
    assert_eq!(EvalCost::resumed(&evaluation, &learner, 0).took, 10.0, "the first: all of it");
}
