//! The learning curve for people: a table for the terminal and an SVG plot
//! of a metric against interpreter queries, one line per strategy, and
//! the same with a band per strategy for curves over several seeds.

use std::collections::BTreeMap;
use std::fmt::Write;

/// (strategy, queries used, value) points, as the store returns them.
pub type Curve = [(String, i64, f64)];

/// One row per query count, one column per strategy.
pub fn curve_table(metric: &str, curve: &Curve) -> String {
    let strategies: Vec<&str> = {
        let mut s: Vec<&str> = curve.iter().map(|p| p.0.as_str()).collect();
        s.sort();
        s.dedup();
        s
    };
    let mut rows: BTreeMap<i64, BTreeMap<&str, f64>> = BTreeMap::new();
    for (s, q, v) in curve {
        rows.entry(*q).or_default().insert(s.as_str(), *v);
    }
    let mut out = format!("{metric} against interpreter queries\n{:>8}", "queries");
    for s in &strategies {
        let _ = write!(out, " {s:>10}");
    }
    out.push('\n');
    for (q, values) in rows {
        let _ = write!(out, "{q:>8}");
        for s in &strategies {
            match values.get(s) {
                Some(v) => {
                    let _ = write!(out, " {v:>10.3}");
                }
                None => {
                    let _ = write!(out, " {:>10}", "-");
                }
            }
        }
        out.push('\n');
    }
    out
}

/// Queries `strategy` needed to first reach `target` (linear between
/// points), if it did.
pub fn queries_to_reach(curve: &Curve, strategy: &str, target: f64) -> Option<f64> {
    let points: Vec<(f64, f64)> = curve.iter().filter(|p| p.0 == strategy).map(|p| (p.1 as f64, p.2)).collect();
    crate::first_reach(&points, target)
}

const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// An SVG line plot of the curve (values in 0..=1).
pub fn curve_svg(title: &str, metric: &str, curve: &Curve) -> String {
    let mut strategies: Vec<&str> = curve.iter().map(|p| p.0.as_str()).collect();
    strategies.sort();
    strategies.dedup();
    let max_q = curve.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let frame = Frame::new(title, metric, "interpreter queries", max_q);
    let mut svg = frame.svg.clone();
    for (i, s) in strategies.iter().enumerate() {
        let line: Vec<(f64, f64)> = curve.iter().filter(|p| p.0 == *s).map(|p| (p.1 as f64, p.2)).collect();
        frame.line(&mut svg, i, s, &line);
    }
    svg.push_str("</svg>\n");
    svg
}

/// An SVG plot of curves over several seeds: each strategy's mean as a
/// line, its 95% interval as a shaded band (values in 0..=1).
pub fn bands_svg(title: &str, metric: &str, x_label: &str, series: &[(&str, &[crate::Band])]) -> String {
    let max_x = series.iter().flat_map(|(_, b)| b.iter().map(|b| b.x)).fold(0.0, f64::max);
    let frame = Frame::new(title, metric, x_label, if max_x > 0.0 { max_x } else { 1.0 });
    let mut svg = frame.svg.clone();
    for (i, (name, bands)) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let upper = bands.iter().map(|b| format!("{:.1},{:.1}", frame.x(b.x), frame.y(b.high)));
        let lower = bands.iter().rev().map(|b| format!("{:.1},{:.1}", frame.x(b.x), frame.y(b.low)));
        let outline: Vec<String> = upper.chain(lower).collect();
        let _ = writeln!(
            svg,
            "<polygon fill=\"{colour}\" fill-opacity=\"0.15\" stroke=\"none\" points=\"{}\"/>",
            outline.join(" ")
        );
        let line: Vec<(f64, f64)> = bands.iter().map(|b| (b.x, b.mean)).collect();
        frame.line(&mut svg, i, name, &line);
    }
    svg.push_str("</svg>\n");
    svg
}

/// Axes, grid and labels of a plot of values in 0..=1 against `0..=max_x`.
struct Frame {
    svg: String,
    max_x: f64,
}

const W: f64 = 720.0;
const H: f64 = 440.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 50.0;
const TOP: f64 = 40.0;
const RIGHT: f64 = 150.0;

impl Frame {
    fn new(title: &str, metric: &str, x_label: &str, max_x: f64) -> Self {
        let mut frame = Frame { svg: String::new(), max_x };
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" \
             font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"{LEFT}\" y=\"24\" font-size=\"15\">{}</text>\n",
            escape(title)
        );
        for i in 0..=5 {
            let v = i as f64 / 5.0;
            let (x_end, y_at, x_label, y_label) = (W - RIGHT, frame.y(v), LEFT - 6.0, frame.y(v) + 4.0);
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" x2=\"{x_end}\" y1=\"{y_at:.1}\" y2=\"{y_at:.1}\" stroke=\"#ddd\"/>\
                 <text x=\"{x_label}\" y=\"{y_label:.1}\" text-anchor=\"end\">{v:.1}</text>"
            );
            let q = max_x * i as f64 / 5.0;
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{q:.0}</text>",
                frame.x(q),
                H - BOTTOM + 18.0
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">{}</text>",
            (LEFT + W - RIGHT) / 2.0,
            H - 12.0,
            escape(x_label),
            H / 2.0,
            H / 2.0,
            escape(metric)
        );
        frame.svg = svg;
        frame
    }

    fn x(&self, x: f64) -> f64 {
        LEFT + (W - LEFT - RIGHT) * x / self.max_x
    }

    fn y(&self, v: f64) -> f64 {
        TOP + (H - TOP - BOTTOM) * (1.0 - v.clamp(0.0, 1.0))
    }

    /// The `i`th series' line and its name in the legend.
    fn line(&self, svg: &mut String, i: usize, name: &str, points: &[(f64, f64)]) {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> = points.iter().map(|&(x, v)| format!("{:.1},{:.1}", self.x(x), self.y(v))).collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            points.join(" "),
            W - RIGHT + 12.0,
            TOP + 18.0 * (i as f64 + 1.0),
            escape(name)
        );
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve() -> Vec<(String, i64, f64)> {
        vec![
            ("bald".into(), 0, 0.1),
            ("bald".into(), 32, 0.5),
            ("bald".into(), 64, 0.7),
            ("random".into(), 0, 0.1),
            ("random".into(), 32, 0.3),
            ("random".into(), 64, 0.5),
        ]
    }

    #[test]
    fn queries_to_reach_interpolates_between_points() {
        assert_eq!(queries_to_reach(&curve(), "bald", 0.5), Some(32.0));
        assert_eq!(queries_to_reach(&curve(), "bald", 0.6), Some(48.0));
        assert_eq!(queries_to_reach(&curve(), "random", 0.9), None);
    }

    #[test]
    fn table_and_plot_show_every_strategy() {
        let table = curve_table("delta_exact", &curve());
        assert!(table.contains("bald") && table.contains("random") && table.contains("0.700"), "{table}");
        let svg = curve_svg("run", "delta_exact", &curve());
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn a_band_plot_shades_each_strategys_interval_around_its_mean() {
        let band = |x: f64, mean: f64| crate::Band {
            x,
            mean,
            low: mean - 0.1,
            high: mean + 0.1,
            min: 0.0,
            max: 1.0,
            seeds: 3,
        };
        let (a, b) = (vec![band(0.0, 0.1), band(10.0, 0.5)], vec![band(0.0, 0.1), band(20.0, 0.7)]);
        let svg = bands_svg("exp", "delta_exact", "learner seconds", &[("random", &a), ("bald", &b)]);
        assert_eq!((svg.matches("<polyline").count(), svg.matches("<polygon").count()), (2, 2));
        assert!(svg.contains("learner seconds") && svg.contains(">20<"), "x axis to the longest curve: {svg}");
    }
}
