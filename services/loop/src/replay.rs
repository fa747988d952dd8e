//! Minibatches from the replay store: half prioritized by loss, a quarter
//! from the newest transitions, a quarter uniform. Each sampled state
//! becomes an example with a jump k that stays inside its trace: k = 1 half
//! the time (what rollouts chain), else any of the jump lengths.

use std::collections::HashMap;

use curio_interpreter_pool::Step;
use curio_learner::{Example, JUMPS, example_at};
use curio_store::{Sampling, Store, StoreError};
use rand::RngExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use uuid::Uuid;

/// Traces read from the store, kept for reuse (bounded).
#[derive(Debug, Default)]
pub struct TraceCache {
    traces: HashMap<Uuid, (String, Vec<Step>)>,
}

/// Traces kept before the cache starts over.
const CACHED_TRACES: usize = 20_000;

/// A minibatch: the transitions' store ids (for priorities) and examples.
pub async fn minibatch(
    store: &Store,
    cache: &mut TraceCache,
    size: usize,
    block: usize,
    rng: &mut StdRng,
) -> Result<(Vec<i64>, Vec<Example>), StoreError> {
    let mut sampled = store.sample(size / 2, Sampling::Prioritized, 0, rng).await?;
    sampled.extend(store.sample(size / 4, Sampling::Recent { window: 20_000 }, 0, rng).await?);
    sampled.extend(store.sample(size - sampled.len(), Sampling::Uniform, 0, rng).await?);
    let missing: Vec<Uuid> =
        sampled.iter().map(|s| s.execution_id).filter(|id| !cache.traces.contains_key(id)).collect();
    if !missing.is_empty() {
        if cache.traces.len() + missing.len() > CACHED_TRACES {
            cache.traces.clear();
        }
        cache.traces.extend(store.traces(&missing).await?);
    }
    let (mut ids, mut examples) = (vec![], vec![]);
    for s in sampled {
        let Some((source, steps)) = cache.traces.get(&s.execution_id) else { continue };
        let t = s.step as usize;
        let jumps: Vec<u32> = JUMPS.iter().copied().filter(|&k| t + (k as usize) < steps.len()).collect();
        if jumps.is_empty() {
            continue;
        }
        let k = if rng.random_bool(0.5) { 1 } else { jumps[rng.random_range(0..jumps.len())] };
        if let Some(e) = example_at(source, steps, t, k).filter(|e| e.len() <= block) {
            ids.push(s.id);
            examples.push(e);
        }
    }
    Ok((ids, examples))
}

/// Splits a draw into minibatches of `size` examples of similar length (in
/// random order), so little of each batch is padding.
pub fn buckets(ids: Vec<i64>, examples: Vec<Example>, size: usize, rng: &mut StdRng) -> Vec<(Vec<i64>, Vec<Example>)> {
    let mut pairs: Vec<(i64, Example)> = ids.into_iter().zip(examples).collect();
    pairs.sort_by_key(|(_, e)| e.len());
    let mut out: Vec<(Vec<i64>, Vec<Example>)> = pairs.chunks(size.max(1)).map(|c| c.iter().cloned().unzip()).collect();
    out.shuffle(rng);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use curio_learner::Encoded;
    use rand::SeedableRng;

    fn example(len: usize) -> Example {
        let context = Encoded { context: vec![0; len], line_starts: vec![], line_rel: vec![0; len] };
        Example { context, target: vec![], event: 0, line: 0 }
    }

    #[test]
    fn buckets_group_similar_lengths_and_keep_every_example() {
        let lens = [5, 100, 7, 98, 6, 99];
        let ids: Vec<i64> = (0..6).collect();
        let examples: Vec<Example> = lens.iter().map(|&l| example(l)).collect();
        let got = buckets(ids, examples, 3, &mut StdRng::seed_from_u64(0));
        assert_eq!(got.len(), 2);
        for (ids, ex) in &got {
            let spread = ex.iter().map(Example::len).max().unwrap() - ex.iter().map(Example::len).min().unwrap();
            assert!(spread <= 2, "{ids:?}");
            assert!(ids.iter().zip(ex).all(|(&i, e)| e.len() == lens[i as usize] + 1));
        }
        let mut all: Vec<i64> = got.into_iter().flat_map(|b| b.0).collect();
        all.sort();
        assert_eq!(all, (0..6).collect::<Vec<_>>());
    }
}
