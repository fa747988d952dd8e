//! Minibatches from the replay store, drawn in the shares of a [`Mix`]: by
//! priority (the last loss), from the newest transitions, and uniformly.
//! Each sampled state becomes an example with a jump k that stays inside
//! its trace: k = 1 (what rollouts chain) unless the mix asks for a longer
//! jump. Each comes with companions, other states of the same trace: the
//! trainer packs them into one row behind one copy of the program, so they
//! cost a fraction of what they would alone. A trace is read from the store
//! and unrolled into its states once, then kept: a draw only indexes it.

use std::collections::HashMap;
use std::sync::Arc;

use curio_learner::{Example, JUMPS, Unrolled, Window, comparisons};
use curio_store::{Sampling, Store, StoreError};
use curio_trace::{Event, Step};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use uuid::Uuid;

/// Traces read from the store and unrolled into their states, kept for
/// reuse (bounded by their steps).
#[derive(Debug, Default)]
pub struct TraceCache {
    traces: HashMap<Uuid, Arc<Unrolled>>,
    steps: usize,
}

/// Steps (states) kept before the cache starts over.
const CACHED_STEPS: usize = 400_000;

impl TraceCache {
    /// Reads and unrolls the traces of `ids` that are not kept yet.
    async fn fill(&mut self, store: &Store, ids: impl Iterator<Item = Uuid>) -> Result<(), StoreError> {
        let mut missing: Vec<Uuid> = ids.filter(|id| !self.traces.contains_key(id)).collect();
        missing.sort_unstable();
        missing.dedup();
        if missing.is_empty() {
            return Ok(());
        }
        let read = store.traces(&missing).await?;
        let incoming: usize = read.values().map(|r| r.steps.len()).sum();
        if self.steps + incoming > CACHED_STEPS {
            self.traces.clear();
            self.steps = 0;
        }
        self.steps += incoming;
        self.traces.extend(read.into_iter().map(|(id, run)| (id, Arc::new(Unrolled::new(run)))));
        Ok(())
    }
}

/// A sampled transition (its store id, for its priority) and its example
/// first, then its companions from the same trace.
#[derive(Clone, Debug)]
pub struct Group {
    /// The sampled transition's store id.
    pub id: i64,
    /// Its example, then its companions.
    pub examples: Vec<Example>,
}

impl Group {
    /// Tokens the group takes packed in one row.
    pub fn packed_len(&self) -> usize {
        let prefix = self.examples.first().map_or(0, |e| e.context.prefix);
        prefix + self.examples.iter().map(Example::own_len).sum::<usize>()
    }
}

/// How a minibatch is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    /// Share of sampled transitions drawn by priority. Default: 0.5.
    pub prioritized: f64,
    /// Share drawn from the newest 20 000 transitions; the rest is
    /// uniform. Default: 0.25.
    pub recent: f64,
    /// Share of examples with a jump k > 1 (any of the longer jumps that
    /// stays inside the trace); the rest have k = 1. Default: 0.375.
    pub long_jumps: f64,
    /// Share of companions drawn from the trace's steps at lines that
    /// compare ([`comparisons`]: conditions and bools), where most wrong
    /// actions are; the rest are drawn uniformly from the trace. Default:
    /// none (about a tenth of steps compare; a quarter more cost both heads
    /// accuracy in a 30-minute run).
    pub comparisons: f64,
    /// Share of sampled transitions drawn from corpus programs (code people
    /// wrote), the rest from generated, mutated and submitted ones; within
    /// each part, `prioritized` of them by priority and the rest uniformly.
    /// `None` draws from all stored transitions alike, so each part comes
    /// in proportion to its transitions. Default: `None`.
    pub corpus: Option<f64>,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { prioritized: 0.5, recent: 0.25, long_jumps: 0.375, comparisons: 0.0, corpus: None }
    }
}

impl Mix {
    /// The shares must be probabilities, and the two sampled shares fit in one.
    pub fn validate(&self) -> Result<(), String> {
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if share(self.prioritized)
            && share(self.recent)
            && share(self.long_jumps)
            && share(self.comparisons)
            && self.prioritized + self.recent <= 1.0
            && self.corpus.is_none_or(share)
            && (self.corpus.is_none() || self.recent == 0.0)
        {
            Ok(())
        } else {
            Err(format!(
                "replay mix {self:?}: each share must be in [0, 1], prioritized + recent at most 1, and a corpus share \
                 draws by priority and uniformly within each part, so it takes a recent share of 0"
            ))
        }
    }
}

/// `size` sampled transitions, each with up to `per_program - 1` companions,
/// and the ids of those sampled that have nothing to teach: a run's last
/// step, or one whose example the model's `window` cannot read.
pub async fn minibatch(
    store: &Store,
    cache: &mut TraceCache,
    (size, per_program): (usize, usize),
    mix: &Mix,
    window: Window,
    rng: &mut StdRng,
) -> Result<(Vec<Group>, Vec<i64>), StoreError> {
    let sampled = match mix.corpus {
        None => {
            let count = |share: f64| (share * size as f64).round() as usize;
            let mut sampled = store.sample(count(mix.prioritized), Sampling::Prioritized, rng).await?;
            sampled.extend(store.sample(count(mix.recent), Sampling::Recent { window: 20_000 }, rng).await?);
            sampled.extend(store.sample(size.saturating_sub(sampled.len()), Sampling::Uniform, rng).await?);
            sampled
        }
        Some(share) => sample_parts(store, size, (share, mix.prioritized), rng).await?,
    };
    cache.fill(store, sampled.iter().map(|s| s.execution_id)).await?;
    let (mut groups, mut untrainable) = (vec![], vec![]);
    for s in sampled {
        let Some(run) = cache.traces.get(&s.execution_id).cloned() else { continue };
        let run = &*run;
        let Some(first) = draw(run, s.step as usize, (window, mix.long_jumps), rng) else {
            // Nothing to learn from even one step ahead (too long for the
            // model to read, or a run's last step): its priority must not
            // keep drawing it.
            if run.example(s.step as usize, 1).is_none_or(|e| !window.fits(&e)) {
                untrainable.push(s.id);
            }
            continue;
        };
        let mut examples = vec![first];
        // Read off the source only when asked for (none by default).
        let comparing = if mix.comparisons > 0.0 { comparing_steps(run) } else { vec![] };
        for _ in 1..per_program.max(1) {
            let t = companion(run.len(), &comparing, mix.comparisons, rng);
            examples.extend(draw(run, t, (window, mix.long_jumps), rng));
        }
        groups.push(Group { id: s.id, examples });
    }
    Ok((groups, untrainable))
}

/// `size` transitions, each from corpus programs with probability `share`
/// (from the other part when one part is empty), and by priority within its
/// part with probability `prioritized`.
async fn sample_parts(
    store: &Store,
    size: usize,
    (share, prioritized): (f64, f64),
    rng: &mut StdRng,
) -> Result<Vec<curio_store::SampledTransition>, StoreError> {
    let (corpus, all) = (store.corpus_transition_count(), store.transition_count());
    let share = match (corpus, all - corpus) {
        (0, _) => 0.0,
        (_, 0) => 1.0,
        _ => share,
    };
    let mut sampled = vec![];
    let real = (0..size).filter(|_| rng.random_bool(share)).count();
    for (corpus, n) in [(true, real), (false, size - real)] {
        let by_priority = (0..n).filter(|_| rng.random_bool(prioritized)).count();
        sampled.extend(store.sample(by_priority, Sampling::Part { corpus, prioritized: true }, rng).await?);
        sampled.extend(store.sample(n - by_priority, Sampling::Part { corpus, prioritized: false }, rng).await?);
    }
    sampled.shuffle(rng);
    Ok(sampled)
}

/// The steps of a run that are about to run a line that compares, as its
/// language's parser reads the program.
fn comparing_steps(run: &Unrolled) -> Vec<usize> {
    let run = &run.run;
    let lines = comparisons(run.language, &run.source);
    let compares = |s: &Step| s.event == Event::Line && lines.get((s.line as usize).wrapping_sub(1)) == Some(&true);
    run.steps.iter().enumerate().filter(|(_, s)| compares(s)).map(|(t, _)| t).collect()
}

/// A companion's step: one of `comparing` with probability `share` (when
/// there is one), else any of the trace's `len` steps.
fn companion(len: usize, comparing: &[usize], share: f64, rng: &mut StdRng) -> usize {
    if !comparing.is_empty() && rng.random_bool(share) {
        comparing[rng.random_range(0..comparing.len())]
    } else {
        rng.random_range(0..len)
    }
}

/// The example of state `t`: k = 1, or with probability `long` a longer
/// jump that stays inside the trace.
fn draw(run: &Unrolled, t: usize, (window, long): (Window, f64), rng: &mut StdRng) -> Option<Example> {
    let longer: Vec<u32> = JUMPS.iter().copied().filter(|&k| k > 1 && t + (k as usize) < run.len()).collect();
    let k = if !longer.is_empty() && rng.random_bool(long) { longer[rng.random_range(0..longer.len())] } else { 1 };
    run.example(t, k).filter(|e| window.fits(e))
}

/// Splits a draw into minibatches of `size` groups of similar packed
/// length (in random order), so little of each batch is padding.
pub fn buckets(mut groups: Vec<Group>, size: usize, rng: &mut StdRng) -> Vec<Vec<Group>> {
    groups.sort_by_key(Group::packed_len);
    let mut out: Vec<Vec<Group>> = groups.chunks(size.max(1)).map(<[Group]>::to_vec).collect();
    out.shuffle(rng);
    out
}

/// A minibatch as the trainer takes it (each group's examples together)
/// and the position of each sampled transition's example in it.
pub fn flatten(groups: Vec<Group>) -> (Vec<Example>, Vec<(i64, usize)>) {
    let (mut examples, mut firsts) = (vec![], vec![]);
    for g in groups {
        firsts.push((g.id, examples.len()));
        examples.extend(g.examples);
    }
    (examples, firsts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use curio_learner::Encoded;
    use rand::SeedableRng;

    fn group(id: i64, lens: &[usize]) -> Group {
        let example = |len: usize| {
            let context = Encoded {
                context: vec![0; len],
                prefix: 4,
                line_starts: vec![],
                line_id: vec![0; len],
                line_rel: vec![],
                line_flow: vec![],
                return_flow: vec![],
                working: vec![],
                language: curio_trace::Language::Python,
            };
            Example::query(context)
        };
        Group { id, examples: lens.iter().map(|&l| example(l)).collect() }
    }

    #[test]
    fn buckets_group_similar_packed_lengths_and_keep_every_group_whole() {
        let lens: [&[usize]; 6] = [&[5], &[100, 10], &[7], &[98, 12], &[6], &[99, 11]];
        let groups: Vec<Group> = lens.iter().enumerate().map(|(i, l)| group(i as i64, l)).collect();
        // Packed: the 4-token program once, then each example's own tokens.
        assert_eq!(groups[1].packed_len(), 4 + 96 + 6);
        let got = buckets(groups, 3, &mut StdRng::seed_from_u64(0));
        assert_eq!(got.len(), 2);
        for batch in &got {
            let lens: Vec<usize> = batch.iter().map(Group::packed_len).collect();
            assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 8, "{lens:?}");
            assert!(batch.iter().all(|g| g.examples.len() == if g.id % 2 == 1 { 2 } else { 1 }));
        }
        let (examples, firsts) = flatten(got.into_iter().flatten().collect());
        assert_eq!(examples.len(), 9);
        let mut ids: Vec<i64> = firsts.iter().map(|f| f.0).collect();
        ids.sort();
        assert_eq!(ids, (0..6).collect::<Vec<_>>());
        assert!(firsts.windows(2).all(|w| w[0].1 < w[1].1), "each group's first example, in order");
    }

    #[test]
    fn companions_come_from_comparing_lines_in_the_share_asked() {
        let source = "x = 0\nfor i in range(9):\n    if x < 4:\n        x += 1\nprint(x)\n";
        let at = |t: usize, line: u32, event: Event| Step {
            step: t as u32,
            event,
            line,
            function: "<module>".into(),
            depth: 1,
            locals: vec![],
            stdout: String::new(),
            value: None,
        };
        let mut steps = vec![at(0, 1, Event::Line)];
        for _ in 0..9 {
            steps.extend([2, 3, 4].map(|l| at(steps.len(), l, Event::Line)));
        }
        steps.push(at(steps.len(), 3, Event::Exception));
        steps.push(at(steps.len(), 5, Event::Line));
        let run = curio_trace::Run {
            language: curio_trace::Language::Python,
            source: source.into(),
            input: String::new(),
            steps,
        };
        let comparing = comparing_steps(&Unrolled::new(run.clone()));
        assert_eq!(comparing.len(), 9, "the `if` line's nine line events, not the exception there");
        assert!(comparing.iter().all(|&t| run.steps[t].line == 3 && run.steps[t].event == Event::Line));

        let mut rng = StdRng::seed_from_u64(1);
        let mut share = |p: f64| {
            let n = 4000;
            let hits =
                (0..n).filter(|_| comparing.contains(&companion(run.steps.len(), &comparing, p, &mut rng))).count();
            hits as f64 / n as f64
        };
        // Uniform draws land on the `if` about a third of the time (9 of 29 steps).
        assert!((share(0.0) - 9.0 / 29.0).abs() < 0.04);
        assert_eq!(share(1.0), 1.0);
        assert!((share(0.5) - (0.5 + 0.5 * 9.0 / 29.0)).abs() < 0.04);
        // No comparing step: uniform whatever the share.
        let mut rng = StdRng::seed_from_u64(2);
        assert!((0..100).all(|_| companion(5, &[], 1.0, &mut rng) < 5));
    }
}
