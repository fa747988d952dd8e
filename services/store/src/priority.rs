//! An in-memory index of every transition's sampling priority: a sum tree
//! over slots (as in Reverb's prioritized tables), so drawing 256 ids in
//! proportion to priority costs microseconds and never scans the table.
//! Postgres holds the priorities; the index is rebuilt from it at start-up
//! and kept in step by every write and priority update of this process.

use std::collections::HashMap;

use rand::{Rng, RngExt};

#[derive(Debug, Default)]
pub(crate) struct PriorityIndex {
    /// Transition id per slot, in insertion (id) order.
    ids: Vec<i64>,
    slot_of: HashMap<i64, usize>,
    /// Sum tree: leaves at `cap..2*cap`, node i = sum of its children.
    tree: Vec<f64>,
    cap: usize,
    max_priority: f32,
}

impl PriorityIndex {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The largest priority seen: new transitions get it, so each is sampled
    /// at least about as often as the hardest known one until trained on.
    pub fn max_priority(&self) -> f32 {
        if self.max_priority > 0.0 { self.max_priority } else { 1.0 }
    }

    pub fn push(&mut self, id: i64, priority: f32) {
        if self.ids.len() == self.cap {
            self.grow();
        }
        let slot = self.ids.len();
        self.ids.push(id);
        self.slot_of.insert(id, slot);
        self.set_slot(slot, priority);
    }

    /// Sets the priority of a known id; unknown ids are ignored (written by
    /// another process since start-up).
    pub fn update(&mut self, id: i64, priority: f32) -> bool {
        match self.slot_of.get(&id) {
            Some(&slot) => {
                self.set_slot(slot, priority);
                true
            }
            None => false,
        }
    }

    pub fn total(&self) -> f64 {
        if self.cap == 0 { 0.0 } else { self.tree[1] }
    }

    /// `n` ids drawn with replacement in proportion to priority, each with
    /// its sampling probability.
    pub fn sample_prioritized(&self, n: usize, rng: &mut impl Rng) -> Vec<(i64, f64)> {
        let total = self.total();
        if self.ids.is_empty() || total <= 0.0 {
            return vec![];
        }
        (0..n)
            .map(|_| {
                let mut target = rng.random::<f64>() * total;
                let mut node = 1;
                while node < self.cap {
                    let left = self.tree[2 * node];
                    if target < left || self.tree[2 * node + 1] <= 0.0 {
                        node *= 2;
                    } else {
                        target -= left;
                        node = 2 * node + 1;
                    }
                }
                let slot = (node - self.cap).min(self.ids.len() - 1);
                (self.ids[slot], self.tree[self.cap + slot] / total)
            })
            .collect()
    }

    /// `n` ids drawn uniformly with replacement from the newest `window`
    /// (all when `window` is `None`), each with its probability.
    pub fn sample_uniform(&self, n: usize, window: Option<usize>, rng: &mut impl Rng) -> Vec<(i64, f64)> {
        let len = self.ids.len();
        let span = window.unwrap_or(len).min(len);
        if span == 0 {
            return vec![];
        }
        (0..n).map(|_| (self.ids[len - span + rng.random_range(0..span)], 1.0 / span as f64)).collect()
    }

    fn set_slot(&mut self, slot: usize, priority: f32) {
        self.max_priority = self.max_priority.max(priority);
        let mut node = self.cap + slot;
        self.tree[node] = f64::from(priority);
        while node > 1 {
            node /= 2;
            self.tree[node] = self.tree[2 * node] + self.tree[2 * node + 1];
        }
    }

    fn grow(&mut self) {
        let cap = (self.cap * 2).max(1024);
        let mut tree = vec![0.0; 2 * cap];
        tree[cap..cap + self.cap].copy_from_slice(&self.tree[self.cap..2 * self.cap]);
        for node in (1..cap).rev() {
            tree[node] = tree[2 * node] + tree[2 * node + 1];
        }
        self.tree = tree;
        self.cap = cap;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn prioritized_draws_follow_priorities() {
        let mut index = PriorityIndex::default();
        for id in 0..3000 {
            index.push(id, if id < 1000 { 3.0 } else { 1.0 });
        }
        let mut rng = StdRng::seed_from_u64(1);
        let draws = index.sample_prioritized(50_000, &mut rng);
        let high = draws.iter().filter(|(id, _)| *id < 1000).count() as f64 / draws.len() as f64;
        // Expected 3000 / (3000 + 2000) = 0.6.
        assert!((high - 0.6).abs() < 0.01, "{high}");
        for (id, p) in &draws[..10] {
            let expected = if *id < 1000 { 3.0 / 5000.0 } else { 1.0 / 5000.0 };
            assert!((p - expected).abs() < 1e-12, "{id}: {p}");
        }
    }

    #[test]
    fn updates_move_the_mass() {
        let mut index = PriorityIndex::default();
        for id in 10..20 {
            index.push(id, 1.0);
        }
        for id in 10..19 {
            assert!(index.update(id, 1e-6));
        }
        assert!(!index.update(99, 1.0));
        let mut rng = StdRng::seed_from_u64(2);
        let draws = index.sample_prioritized(1000, &mut rng);
        assert!(draws.iter().filter(|(id, _)| *id == 19).count() > 990);
    }

    #[test]
    fn recent_window_only_draws_the_newest() {
        let mut index = PriorityIndex::default();
        for id in 0..5000 {
            index.push(id, 1.0);
        }
        let mut rng = StdRng::seed_from_u64(3);
        assert!(index.sample_uniform(1000, Some(100), &mut rng).iter().all(|(id, _)| *id >= 4900));
        assert_eq!(index.sample_uniform(10, None, &mut rng).len(), 10);
        assert!(PriorityIndex::default().sample_prioritized(5, &mut rng).is_empty());
    }
}
