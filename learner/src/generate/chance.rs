//! Programs with chance in them: draws from `random` (`randint`, `choice`,
//! `shuffle`, `random()` against a threshold) whose results feed branches,
//! loops and what is printed. The run's seed decides every draw and the
//! model never sees it, so one program has many possible traces: what the
//! model should learn is their distribution, and what it is measured on is
//! how close its drawn rollouts' outputs come to the real ones over many
//! seeds.
//!
//! Each program is a few blocks, each with its own draws, ending in a
//! print; loops are bounded, so every run ends.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A program with chance in it, for `seed`: 2 to 4 blocks.
pub fn chancy(seed: u64) -> String {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xc4a7ce);
    let mut out = String::from("import random\n\n");
    let blocks = rng.random_range(2..=4);
    for b in 0..blocks {
        let block = match rng.random_range(0..6) {
            0 => dice(&mut rng, b),
            1 => pick(&mut rng, b),
            2 => shuffle(&mut rng, b),
            3 => threshold(&mut rng, b),
            4 => sum_of_draws(&mut rng, b),
            _ => until(&mut rng, b),
        };
        out.push_str(&block);
    }
    out
}

const COLOURS: [&str; 6] = ["red", "green", "blue", "amber", "violet", "teal"];

/// A die roll and a branch on it.
fn dice(rng: &mut StdRng, b: usize) -> String {
    let sides = rng.random_range(2..=6);
    let cut = rng.random_range(1..sides);
    format!(
        "roll{b} = random.randint(1, {sides})\nif roll{b} > {cut}:\n    label{b} = 'high'\nelse:\n    label{b} = 'low'\nprint(label{b}, roll{b})\n"
    )
}

/// A choice among a few words, counted into a dict.
fn pick(rng: &mut StdRng, b: usize) -> String {
    let n = rng.random_range(2..=4);
    let start = rng.random_range(0..COLOURS.len() - n + 1);
    let options: Vec<String> = COLOURS[start..start + n].iter().map(|c| format!("'{c}'")).collect();
    let draws = rng.random_range(1..=3);
    format!(
        "seen{b} = {{}}\nfor _ in range({draws}):\n    colour = random.choice([{}])\n    seen{b}[colour] = seen{b}.get(colour, 0) + 1\nprint(sorted(seen{b}.items()))\n",
        options.join(", ")
    )
}

/// A shuffled list and what comes first.
fn shuffle(rng: &mut StdRng, b: usize) -> String {
    let n = rng.random_range(2..=4);
    let items: Vec<String> = (1..=n).map(|i| (i * rng.random_range(1..=3)).to_string()).collect();
    format!("cards{b} = [{}]\nrandom.shuffle(cards{b})\nprint(cards{b}[0], cards{b})\n", items.join(", "))
}

/// `random()` against a threshold, counted over a few tries.
fn threshold(rng: &mut StdRng, b: usize) -> String {
    let tries = rng.random_range(1..=4);
    let p = [0.25, 0.5, 0.75][rng.random_range(0..3)];
    format!(
        "hits{b} = 0\nfor attempt in range({tries}):\n    if random.random() < {p}:\n        hits{b} += 1\nprint('hits', hits{b})\n"
    )
}

/// A sum of small draws.
fn sum_of_draws(rng: &mut StdRng, b: usize) -> String {
    let n = rng.random_range(1..=3);
    let top = rng.random_range(1..=2);
    format!("total{b} = 0\nfor _ in range({n}):\n    total{b} += random.randint(0, {top})\nprint(total{b})\n")
}

/// Draws until one comes up, with a bound on the tries.
fn until(rng: &mut StdRng, b: usize) -> String {
    let sides = rng.random_range(2..=4);
    let most = rng.random_range(2..=5);
    format!(
        "tries{b} = 1\nwhile random.randint(1, {sides}) != 1 and tries{b} < {most}:\n    tries{b} += 1\nprint('tries', tries{b})\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_repeat_by_seed_and_draw_in_every_block() {
        assert_eq!(chancy(5), chancy(5));
        let programs: Vec<String> = (0..200).map(chancy).collect();
        let distinct: std::collections::HashSet<&String> = programs.iter().collect();
        assert!(distinct.len() > 190, "{} distinct of 200", distinct.len());
        for p in &programs {
            assert!(p.starts_with("import random\n"));
            // Each block ends in a print at the top level, and draws.
            let blocks = p.lines().filter(|l| l.starts_with("print(")).count();
            assert!((2..=4).contains(&blocks), "{p}");
            assert!(p.matches("random.").count() >= blocks, "every block draws: {p}");
        }
        for kind in ["randint", "choice", "shuffle", "random()"] {
            assert!(programs.iter().filter(|p| p.contains(kind)).count() >= 20, "{kind} is common");
        }
    }
}
