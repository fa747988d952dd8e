//! The flow hints against what the guests report: on the fidelity corpus
//! and the real suite's programs in each language, the share of a frame's
//! next steps that the hints flagged from the line before (their recall),
//! and how many lines they flag a step (their spread); and the share of
//! calls whose first line they flagged from the line called at (a `def`
//! line, or line 1 for the module). The hints are candidates for the line
//! pointer, so a step they miss is one the model must find without them.

use curio_interpreter_pool::{Event, Language, Limits, Trace};
use curio_learner::flow::{CALLEE, HANDLER, LEAVES, NEXT, NOT_TAKEN, TAKEN, line_flags_in};
use curio_learner::read_programs;
use curio_tests::{js_programs, lua_programs, programs, run_in};

/// What the hints got right over traces.
#[derive(Default)]
struct Judged {
    /// Steps after a line event the hints flagged, and those judged.
    hit: usize,
    judged: usize,
    /// Lines flagged, summed over the judged steps.
    spread: usize,
    /// Calls whose first line the hints flagged, and calls judged.
    entered: usize,
    calls: usize,
}

/// Over one trace. A step is judged when it follows a line event of its
/// own frame: the frame's next line, a call it makes, or its return; a
/// call, when its frame's first event after it is a line.
fn judged(language: Language, source: &str, trace: &Trace, out: &mut Judged) {
    for pair in trace.steps.windows(2) {
        let (at, next) = (&pair[0], &pair[1]);
        let flags = line_flags_in(language, source, at.line, None);
        let flag = |line: u32, mask: i64| flags.get((line as usize).wrapping_sub(1)).is_some_and(|f| f & mask != 0);
        if at.event == Event::Call && next.event == Event::Line && next.depth == at.depth {
            out.calls += 1;
            out.entered += usize::from(flag(next.line, NEXT | TAKEN | NOT_TAKEN));
        }
        if at.event != Event::Line {
            continue;
        }
        let ok = match next.event {
            Event::Line if next.depth == at.depth => flag(next.line, NEXT | TAKEN | NOT_TAKEN | HANDLER),
            Event::Call if next.depth == at.depth + 1 => flag(next.line, CALLEE),
            Event::Return if next.depth == at.depth => flag(at.line, LEAVES),
            _ => continue,
        };
        out.judged += 1;
        out.hit += usize::from(ok);
        out.spread += flags.iter().filter(|&&f| f & (NEXT | TAKEN | NOT_TAKEN | HANDLER | LEAVES) != 0).count();
    }
}

/// (recall, lines flagged per step, recall into calls) over `sources` in
/// `language`.
fn recall(language: Language, sources: &[(String, String, String)]) -> (f64, f64, f64) {
    let mut out = Judged::default();
    for (_, source, input) in sources {
        let trace = run_in(language, source, input, Limits::default());
        judged(language, source, &trace, &mut out);
    }
    assert!(
        out.judged > 500 && out.calls > 100,
        "{language}: only {} steps and {} calls judged",
        out.judged,
        out.calls
    );
    let share = |a: usize, b: usize| a as f64 / b as f64;
    (share(out.hit, out.judged), share(out.spread, out.judged), share(out.entered, out.calls))
}

/// The fidelity corpus of `language` and the real suite in it.
fn corpus(language: Language) -> Vec<(String, String, String)> {
    let files = match language {
        Language::Python => programs(),
        Language::Lua => lua_programs(),
        Language::Js => js_programs(),
    };
    let real = match language {
        Language::Python => "real.jsonl",
        Language::Lua => "lua-real.jsonl",
        Language::Js => "js-real.jsonl",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/corpus").join(real);
    assert!(path.exists(), "no {} (run `make corpus`)", path.display());
    let listed = read_programs(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    files
        .into_iter()
        .map(|(name, source)| (name, source, String::new()))
        .chain(listed.into_iter().map(|p| (p.id, p.source, p.input)))
        .collect()
}

#[test]
fn the_hints_flag_where_each_guest_goes_next() {
    for language in [Language::Python, Language::Lua, Language::Js] {
        let (recall, spread, entered) = recall(language, &corpus(language));
        println!("{language}: recall {recall:.3}, {spread:.2} lines flagged a step, {entered:.3} of calls entered");
        assert!(recall >= 0.9, "{language}: the hints flagged only {recall:.3} of the next steps");
        assert!(spread <= 3.0, "{language}: {spread:.2} lines flagged a step is no hint");
        assert!(entered >= 0.95, "{language}: the hints named the first line of only {entered:.3} of the calls");
    }
}
