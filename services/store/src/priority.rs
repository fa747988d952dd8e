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
    /// Slots of the transitions of corpus programs (code people wrote),
    /// and of every other one, for draws that set the share of each.
    corpus: Vec<usize>,
    rest: Vec<usize>,
    /// Per slot: whether it is in `corpus`.
    in_corpus: Vec<bool>,
    /// Sum of the priorities of each part: [rest, corpus].
    part_total: [f64; 2],
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

    /// Adds transition `id`; `corpus` when its program is corpus code.
    pub fn push(&mut self, id: i64, priority: f32, corpus: bool) {
        if self.ids.len() == self.cap {
            self.grow();
        }
        let slot = self.ids.len();
        self.ids.push(id);
        self.in_corpus.push(corpus);
        if corpus { &mut self.corpus } else { &mut self.rest }.push(slot);
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
                let slot = self.draw_slot(rng);
                (self.ids[slot], self.tree[self.cap + slot] / total)
            })
            .collect()
    }

    /// One slot in proportion to its priority (the tree must hold mass).
    fn draw_slot(&self, rng: &mut impl Rng) -> usize {
        let mut target = rng.random::<f64>() * self.total();
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
        (node - self.cap).min(self.ids.len() - 1)
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

    /// `n` ids drawn with replacement from the transitions of corpus
    /// programs (`corpus`) or from all the others, in proportion to
    /// priority (`prioritized`) or uniformly, each with its probability
    /// within that part. A prioritized draw is a draw from the whole tree
    /// kept when it lands in the part: after 64 that miss (a part with
    /// almost none of the mass), it is uniform within the part.
    pub fn sample_part(&self, n: usize, corpus: bool, prioritized: bool, rng: &mut impl Rng) -> Vec<(i64, f64)> {
        let part = if corpus { &self.corpus } else { &self.rest };
        if part.is_empty() {
            return vec![];
        }
        let part_total = self.part_total[usize::from(corpus)];
        (0..n)
            .map(|_| {
                if prioritized && part_total > 0.0 {
                    for _ in 0..64 {
                        let slot = self.draw_slot(rng);
                        if self.in_corpus[slot] == corpus {
                            return (self.ids[slot], self.tree[self.cap + slot] / part_total);
                        }
                    }
                }
                (self.ids[part[rng.random_range(0..part.len())]], 1.0 / part.len() as f64)
            })
            .collect()
    }

    /// Transitions of corpus programs.
    pub fn corpus_len(&self) -> usize {
        self.corpus.len()
    }

    fn set_slot(&mut self, slot: usize, priority: f32) {
        self.max_priority = self.max_priority.max(priority);
        let mut node = self.cap + slot;
        let part = &mut self.part_total[usize::from(self.in_corpus[slot])];
        *part = (*part + f64::from(priority) - self.tree[node]).max(0.0);
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
            index.push(id, if id < 1000 { 3.0 } else { 1.0 }, false);
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
            index.push(id, 1.0, false);
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
            index.push(id, 1.0, false);
        }
        let mut rng = StdRng::seed_from_u64(3);
        assert!(index.sample_uniform(1000, Some(100), &mut rng).iter().all(|(id, _)| *id >= 4900));
        assert_eq!(index.sample_uniform(10, None, &mut rng).len(), 10);
        assert!(PriorityIndex::default().sample_prioritized(5, &mut rng).is_empty());
    }

    #[test]
    fn a_part_draws_only_its_own_transitions() {
        let mut index = PriorityIndex::default();
        for id in 0..3000 {
            index.push(id, 1.0, id % 3 == 0);
        }
        assert_eq!(index.corpus_len(), 1000);
        let mut rng = StdRng::seed_from_u64(4);
        let corpus = index.sample_part(2000, true, false, &mut rng);
        assert!(corpus.iter().all(|&(id, p)| id % 3 == 0 && (p - 1.0 / 1000.0).abs() < 1e-12));
        let rest = index.sample_part(2000, false, false, &mut rng);
        assert!(rest.iter().all(|&(id, p)| id % 3 != 0 && (p - 1.0 / 2000.0).abs() < 1e-12));
        // Every member of a part is drawn (2 000 draws of 1 000 miss about 135).
        let seen: std::collections::HashSet<i64> = corpus.iter().map(|d| d.0).collect();
        assert!(seen.len() > 800, "{}", seen.len());
        let mut empty = PriorityIndex::default();
        empty.push(1, 1.0, false);
        assert!(empty.sample_part(5, true, true, &mut rng).is_empty(), "no corpus transitions, no corpus draws");
        // Prioritized within a part: of the corpus ids, those below 300
        // carry 4 times the priority.
        for id in (0..300).step_by(3) {
            index.update(id, 4.0);
        }
        let draws = index.sample_part(20_000, true, true, &mut rng);
        assert!(draws.iter().all(|&(id, _)| id % 3 == 0));
        let high = draws.iter().filter(|d| d.0 < 300).count() as f64 / draws.len() as f64;
        // 100 ids at 4 against 900 at 1: 400 / 1300.
        assert!((high - 400.0 / 1300.0).abs() < 0.015, "{high}");
        for &(id, p) in &draws[..20] {
            let priority = if id < 300 { 4.0 } else { 1.0 };
            assert!((p - priority / 1300.0).abs() < 1e-9, "{id}: {p}");
        }
    }
}
