//! The learning curve for people: a table for the terminal and an SVG plot
//! of a metric against interpreter queries, one line per strategy.

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
    let first = points.first()?;
    if first.1 >= target {
        return Some(first.0);
    }
    points.windows(2).find(|w| w[1].1 >= target).map(|w| {
        let ((q0, v0), (q1, v1)) = (w[0], w[1]);
        q0 + (q1 - q0) * (target - v0) / (v1 - v0)
    })
}

const COLOURS: [&str; 4] = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];

/// An SVG line plot of the curve (values in 0..=1).
pub fn curve_svg(title: &str, metric: &str, curve: &Curve) -> String {
    let (w, h, left, bottom, top, right) = (720.0, 440.0, 60.0, 50.0, 40.0, 150.0);
    let max_q = curve.iter().map(|p| p.1).max().unwrap_or(1).max(1) as f64;
    let x = |q: f64| left + (w - left - right) * q / max_q;
    let y = |v: f64| top + (h - top - bottom) * (1.0 - v.clamp(0.0, 1.0));
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" \
         font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"24\" font-size=\"15\">{}</text>\n",
        escape(title)
    );
    for i in 0..=5 {
        let v = i as f64 / 5.0;
        let (x_end, y_at, x_label, y_label) = (w - right, y(v), left - 6.0, y(v) + 4.0);
        let _ = writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{x_end}\" y1=\"{y_at:.1}\" y2=\"{y_at:.1}\" stroke=\"#ddd\"/>\
             <text x=\"{x_label}\" y=\"{y_label:.1}\" text-anchor=\"end\">{v:.1}</text>"
        );
        let q = max_q * i as f64 / 5.0;
        let _ =
            writeln!(svg, "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{q:.0}</text>", x(q), h - bottom + 18.0);
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">interpreter queries</text>\
         <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">{}</text>",
        (left + w - right) / 2.0,
        h - 12.0,
        h / 2.0,
        h / 2.0,
        escape(metric)
    );
    let mut strategies: Vec<&str> = curve.iter().map(|p| p.0.as_str()).collect();
    strategies.sort();
    strategies.dedup();
    for (i, s) in strategies.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let points: Vec<String> =
            curve.iter().filter(|p| p.0 == *s).map(|p| format!("{:.1},{:.1}", x(p.1 as f64), y(p.2))).collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
            points.join(" "),
            w - right + 12.0,
            top + 18.0 * (i as f64 + 1.0),
            escape(s)
        );
    }
    svg.push_str("</svg>\n");
    svg
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
}
