//! Minibatches from the replay store: half prioritized by loss, a quarter
//! from the newest transitions, a quarter uniform. Each sampled state
//! becomes an example with a random jump k that stays inside its trace.

use std::collections::HashMap;

use curio_interpreter_pool::Step;
use curio_learner::{Example, JUMPS, example_at};
use curio_store::{Sampling, Store, StoreError};
use rand::RngExt;
use rand::rngs::StdRng;
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
        let k = jumps[rng.random_range(0..jumps.len())];
        if let Some(e) = example_at(source, steps, t, k).filter(|e| e.len() <= block) {
            ids.push(s.id);
            examples.push(e);
        }
    }
    Ok((ids, examples))
}
