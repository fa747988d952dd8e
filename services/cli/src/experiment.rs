//! `curio experiment`: strategies × seeds on one budget, in one process,
//! then each curve's mean and spread over the seeds against queries and
//! against learner seconds, and each strategy's query and compute ratios
//! against the baseline with intervals across seeds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;
use curio_loop::{Leg as Curve, Point, Strategy, Summary, bands_svg, describe, summarise};
use curio_store::Store;
use curio_trace::Language;

use crate::active::{Leg, LocalPools, LoopArgs};

#[derive(Args, Debug)]
pub struct ExperimentArgs {
    #[command(flatten)]
    common: LoopArgs,
    #[command(flatten)]
    local: LocalPools,
    /// Strategies to compare, the baseline first: the ratios are against it.
    #[arg(long, value_delimiter = ',', default_value = "random,bald")]
    strategies: Vec<String>,
    /// Seeds per strategy: --seed, --seed + 1, … Each seed draws the same
    /// candidates for every strategy and starts them from the same weights.
    #[arg(long, default_value_t = 3)]
    seeds: u64,
    /// The curve metric the ratios compare. Default: `real_delta_exact`
    /// when there is a corpus, else `delta_exact`.
    #[arg(long)]
    metric: Option<String>,
    /// Where the JSON goes; the plots go beside it. Default:
    /// experiments/<run-id>.json.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: ExperimentArgs, data_dir: &Path) -> anyhow::Result<()> {
    let strategies: Vec<Strategy> = args.strategies.iter().map(|s| s.parse()).collect::<Result<_, _>>()?;
    anyhow::ensure!(strategies.len() >= 2, "--strategies needs two or more (the baseline first), e.g. random,bald");
    let mut distinct = strategies.clone();
    distinct.sort_by_key(|s| s.as_str());
    distinct.dedup();
    anyhow::ensure!(distinct.len() == strategies.len(), "--strategies names one twice: {}", args.strategies.join(","));
    anyhow::ensure!((1..=64).contains(&args.seeds), "--seeds is {}; allowed 1..=64", args.seeds);
    let name = args.common.run_id.clone();
    let seeds: Vec<u64> = (0..args.seeds)
        .map(|i| {
            args.common.seed.checked_add(i).ok_or_else(|| anyhow::anyhow!("--seed {} is too large", args.common.seed))
        })
        .collect::<anyhow::Result<_>>()?;
    let mut legs: Vec<Leg> = vec![];
    for &seed in &seeds {
        for &strategy in &strategies {
            legs.push(Leg { run_id: run_of(&name, seed), seed, strategy });
        }
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("experiments").join(format!("{name}.json")));
    // The real suite is on the curve when the corpus has one, as the loop loads it.
    let corpus = curio_loop::Corpus::load(&args.common.corpus)?;
    let real = |language| corpus.as_ref().is_some_and(|c| !c.real_in(language).is_empty());
    let (lua, js) = (args.common.lua_share > 0.0, args.common.js_share > 0.0);
    let suites = Suites {
        real: real(Language::Python),
        lua,
        js,
        lua_real: lua && real(Language::Lua),
        js_real: js && real(Language::Js),
    };
    let metric =
        args.metric.clone().unwrap_or_else(|| if suites.real { "real_delta_exact" } else { "delta_exact" }.into());
    check_metric(&metric, suites)?;
    let plan = Plan { name, seeds, strategies, metric, out };
    crate::active::in_process(args.common, &args.local, data_dir, legs, async |store, common: &LoopArgs| {
        plan.report(store, common.budget).await
    })
}

/// The held-out suites beside `indist` that the runs' curves will have.
#[derive(Clone, Copy, Debug)]
struct Suites {
    real: bool,
    lua: bool,
    js: bool,
    lua_real: bool,
    js_real: bool,
}

/// The prefixes of the suites beside `indist` on the curve, the longest
/// first, so `lua_real_` is not read as `lua_`.
const SUITE_PREFIXES: [&str; 5] = ["lua_real_", "js_real_", "real_", "lua_", "js_"];

/// Refuses, before anything runs, a --metric no evaluation records.
fn check_metric(metric: &str, suites: Suites) -> anyhow::Result<()> {
    let (suite, base) = SUITE_PREFIXES
        .iter()
        .find_map(|p| metric.strip_prefix(p).map(|rest| (Some(*p), rest)))
        .unwrap_or((None, metric));
    let known = ["action_accuracy", "delta_exact", "action_ece", "output_exact", "rollout_exact_end"].contains(&base)
        || base.strip_prefix("delta_exact_").is_some_and(|t| !t.is_empty())
        || base.strip_prefix("rollout_exact_h").is_some_and(|h| h.parse::<u32>().is_ok());
    anyhow::ensure!(
        known,
        "--metric {metric} is not on the curve: use action_accuracy, delta_exact, action_ece, output_exact, \
         rollout_exact_end, delta_exact_<type> or rollout_exact_h<N>, with real_, lua_, js_, lua_real_ or js_real_ \
         before it for those suites"
    );
    let (present, needs) = match suite {
        Some("real_") => (suites.real, "the real suite: --corpus has no real.jsonl"),
        Some("lua_") => (suites.lua, "the Lua suite: set --lua-share"),
        Some("js_") => (suites.js, "the JavaScript suite: set --js-share"),
        Some("lua_real_") => (suites.lua_real, "the real Lua suite: set --lua-share, with lua-real.jsonl in --corpus"),
        Some("js_real_") => {
            (suites.js_real, "the real JavaScript suite: set --js-share, with js-real.jsonl in --corpus")
        }
        _ => (true, ""),
    };
    anyhow::ensure!(present, "--metric {metric} needs {needs}");
    Ok(())
}

/// A seed's run id.
fn run_of(name: &str, seed: u64) -> String {
    format!("{name}-seed{seed}")
}

struct Plan {
    name: String,
    seeds: Vec<u64>,
    strategies: Vec<Strategy>,
    metric: String,
    out: PathBuf,
}

impl Plan {
    /// Reads every leg's curves from the store, prints the compared metric
    /// and the ratios, and writes the JSON and the plots.
    async fn report(&self, store: &Store, budget: u64) -> anyhow::Result<()> {
        let mut metrics: Vec<String> = vec![];
        for &seed in &self.seeds {
            metrics.extend(store.curve_metrics(&run_of(&self.name, seed)).await?);
        }
        metrics.sort();
        metrics.dedup();
        metrics.retain(|m| !["learner_seconds", "scoring_seconds", "evaluation_seconds"].contains(&m.as_str()));
        anyhow::ensure!(
            metrics.contains(&self.metric),
            "no curve has {} (it has {}): pass --metric",
            self.metric,
            metrics.join(", ")
        );
        let baseline = self.strategies[0].as_str();
        let mut summaries = BTreeMap::new();
        for metric in &metrics {
            let legs = self.curves(store, metric).await?;
            summaries.insert(metric.clone(), summarise(metric, &legs, baseline));
        }
        let compared = &summaries[&self.metric];
        println!("{}", table(compared));
        for (strategy, r) in &compared.ratios {
            println!("{strategy} against {baseline}, {}:", self.metric);
            println!("  {}", describe("query_ratio", &r.query_ratio));
            println!("  {}", describe("compute_ratio", &r.compute_ratio));
        }
        if let Some(dir) = self.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let stem = self.out.with_extension("");
        for (axis, label) in [("queries", "interpreter queries"), ("seconds", "learner seconds (training and scoring)")]
        {
            let series: Vec<(&str, &[curio_loop::Band])> = compared
                .strategies
                .iter()
                .map(|(s, b)| (s.as_str(), if axis == "queries" { &b.queries[..] } else { &b.seconds[..] }))
                .collect();
            let title = format!("{}: {} seeds, mean and 95% interval", self.name, self.seeds.len());
            let path = PathBuf::from(format!("{}-{axis}.svg", stem.display()));
            std::fs::write(&path, bands_svg(&title, &self.metric, label, &series))?;
            println!("plot: {}", path.display());
        }
        let json = self.results(budget, baseline, &summaries);
        std::fs::write(&self.out, serde_json::to_string_pretty(&json)? + "\n")?;
        println!("results: {}", self.out.display());
        Ok(())
    }

    /// The results as `experiments/render.py` reads them: a record per
    /// strategy, axis and place of the compared metric's curve, the ratios,
    /// and each suite's headline metrics at the budget.
    fn results(&self, budget: u64, baseline: &str, summaries: &BTreeMap<String, Summary>) -> serde_json::Value {
        use serde_json::json;
        let compared = &summaries[&self.metric];
        let mut records = vec![];
        for (strategy, bands) in &compared.strategies {
            for (axis, points) in [("queries", &bands.queries), ("seconds", &bands.seconds)] {
                for b in points.iter() {
                    records.push(json!({
                        "strategy": strategy, "axis": axis, "x": b.x, "mean": b.mean, "low": b.low, "high": b.high,
                        "range": [b.min, b.max], "seeds": b.seeds,
                    }));
                }
            }
        }
        let headline = |m: &str| {
            ["delta_exact", "action_accuracy", "action_ece", "output_exact", "rollout_exact_end"]
                .iter()
                .any(|h| m == *h || m.strip_suffix(h).is_some_and(|p| SUITE_PREFIXES.contains(&p)))
        };
        let mut last: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
        for (metric, summary) in summaries.iter().filter(|(m, _)| headline(m)) {
            for (strategy, bands) in &summary.strategies {
                if let Some(b) = bands.queries.last() {
                    let at = format!("{:.3} [{:.3}, {:.3}]", b.mean, b.low, b.high);
                    last.entry(strategy.as_str()).or_default().insert(metric.as_str(), at);
                }
            }
        }
        let col = |header: &str, field: &str, format: &str| json!({"header": header, "field": field, "format": format});
        json!({
            "title": format!("Strategies compared over seeds: {}", self.name),
            "about": format!(
                "`curio experiment`: {} seeds per strategy on up to {budget} queries each (less where \
                 --learner-minutes ran out first), every strategy on a seed \
                 drawing the same candidates from the same starting weights. Each record is {} at one place on one \
                 axis (interpreter queries, or learner seconds of training and scoring): the mean over the seeds, its \
                 95% interval (Student's t) and the lowest and highest seed. ratios: the queries (query_ratio) and \
                 learner seconds (compute_ratio) each strategy needed to reach {baseline}'s final value on the same \
                 seed, over what {baseline} spent; mean and interval over the seeds where it got there. final: each \
                 suite's metrics at the budget, mean [95% interval].",
                self.seeds.len(),
                self.metric
            ),
            "command": std::env::args().collect::<Vec<_>>().join(" "),
            "budget": budget,
            "seeds": self.seeds,
            "strategies": self.strategies.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "baseline": baseline,
            "compared": self.metric,
            "ratios": compared.ratios,
            "final": last,
            "table": [
                col("strategy", "strategy", ""), col("axis", "axis", ""), col("at", "x", ".0f"),
                col("mean", "mean", ".3f"), col("95% low", "low", ".3f"), col("95% high", "high", ".3f"),
                col("seeds range", "range", ".3f"), col("seeds", "seeds", ""),
            ],
            "records": records,
        })
    }

    /// Every leg's curve of `metric`, each point with the learner seconds
    /// spent when it was taken.
    async fn curves(&self, store: &Store, metric: &str) -> anyhow::Result<Vec<Curve>> {
        let mut legs = vec![];
        for &seed in &self.seeds {
            let run = run_of(&self.name, seed);
            let seconds: BTreeMap<(String, i64), f64> =
                store.learning_curve(&run, "learner_seconds").await?.into_iter().map(|(s, q, v)| ((s, q), v)).collect();
            let curve = store.learning_curve(&run, metric).await?;
            for strategy in &self.strategies {
                let points = curve
                    .iter()
                    .filter(|p| p.0 == strategy.as_str())
                    .filter_map(|(s, q, value)| {
                        let seconds = *seconds.get(&(s.clone(), *q))?;
                        Some(Point { queries: *q as f64, seconds, value: *value })
                    })
                    .collect();
                legs.push(Curve { strategy: strategy.to_string(), seed, points });
            }
        }
        Ok(legs)
    }
}

/// The compared metric's mean and interval per query count, one column
/// per strategy.
fn table(summary: &Summary) -> String {
    use std::fmt::Write;
    let mut out =
        format!("{} against interpreter queries (mean [95% interval] over seeds)\n{:>8}", summary.metric, "queries");
    for s in summary.strategies.keys() {
        let _ = write!(out, " {s:>22}");
    }
    out.push('\n');
    let mut rows: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for (i, bands) in summary.strategies.values().enumerate() {
        for b in &bands.queries {
            let row = rows.entry(b.x as i64).or_insert_with(|| vec!["-".into(); summary.strategies.len()]);
            row[i] = format!("{:.3} [{:.3}, {:.3}]", b.mean, b.low, b.high);
        }
    }
    for (q, cells) in rows {
        let _ = write!(out, "{q:>8}");
        for c in cells {
            let _ = write!(out, " {c:>22}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metric_is_read_with_its_suite_the_longest_prefix_first() {
        let none = Suites { real: false, lua: false, js: false, lua_real: false, js_real: false };
        let lua = Suites { lua: true, ..none };
        let lua_real = Suites { lua_real: true, ..lua };
        assert!(check_metric("delta_exact", none).is_ok());
        assert!(check_metric("lua_delta_exact", lua).is_ok());
        // `lua_real_` is its own suite, not `lua_` with a metric `real_…`.
        let refused = check_metric("lua_real_action_accuracy", lua).unwrap_err().to_string();
        assert!(refused.contains("the real Lua suite"), "{refused}");
        assert!(check_metric("lua_real_action_accuracy", lua_real).is_ok());
        assert!(check_metric("js_real_output_exact", Suites { js_real: true, ..none }).is_ok());
        assert!(check_metric("real_lua_delta_exact", lua_real).is_err(), "no such metric in the real suite");
    }
}
