//! The flow hints against what the guests report: on the fidelity corpus
//! and the real suite's programs in each language, the share of a frame's
//! next steps that the hints flagged from the line before (their recall),
//! and how many lines they flag a step (their spread); and the share of
//! calls whose first line they flagged from the line called at (a `def`
//! line, or line 1 for the module); and the share of returns whose next
//! step the hints of the line they return into flagged, as a `return`
//! state reads them, beside the returning line's own. The hints are
//! candidates for the line pointer, so a step they miss is one the model
//! must find without them.

use curio_interpreter_pool::{Event, Language, Limits, Trace};
use curio_learner::flow::{AFTER_RETURN, CALLEE, HANDLER, LEAVES, NEXT, NOT_TAKEN, TAKEN, line_flags_in};
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
    /// Returns into a caller whose next step the caller line's hints
    /// flagged, those the returning line's hints flagged, and returns
    /// judged.
    back: usize,
    back_before: usize,
    returns: usize,
}

/// Whether `flags` (of a frame's line) flag `next`, the frame's next step.
fn flags_step(flags: &[i64], next: &curio_interpreter_pool::Step, also: i64) -> bool {
    let flag = |line: u32, mask: i64| flags.get((line as usize).wrapping_sub(1)).is_some_and(|f| f & mask != 0);
    match next.event {
        Event::Line => flag(next.line, NEXT | TAKEN | NOT_TAKEN | HANDLER | also),
        Event::Call => flag(next.line, CALLEE),
        Event::Return => flag(next.line, LEAVES),
        Event::Exception => false,
    }
}

/// Over one trace. A step is judged when it follows a line event of its
/// own frame: the frame's next line, a call it makes, or its return; a
/// call, when its frame's first event after it is a line.
fn judged(language: Language, source: &str, trace: &Trace, out: &mut Judged) {
    // The line each frame of the stack is at, outermost first.
    let mut lines: Vec<u32> = vec![];
    for pair in trace.steps.windows(2) {
        let (at, next) = (&pair[0], &pair[1]);
        let depth = at.depth.max(1) as usize;
        lines.resize(depth, 0);
        lines[depth - 1] = at.line;
        // A return into a caller: its next step is the caller's, from the
        // caller's line.
        if at.event == Event::Return && depth > 1 && next.depth as usize == depth - 1 && next.event != Event::Exception
        {
            let (caller, callers_caller) = (lines[depth - 2], depth.checked_sub(3).map(|d| lines[d]));
            out.returns += 1;
            out.back += usize::from(flags_step(&line_flags_in(language, source, caller, callers_caller), next, 0));
            let before = line_flags_in(language, source, at.line, Some(caller));
            out.back_before += usize::from(flags_step(&before, next, AFTER_RETURN));
        }
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

/// Over `sources` in `language`: the recall of next steps, lines flagged
/// per step, the recall into calls, and the recall of returns' next steps
/// with the caller line's hints and with the returning line's.
fn recall(language: Language, sources: &[(String, String, String)]) -> (f64, f64, f64, (f64, f64)) {
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
    assert!(out.returns > 100, "{language}: only {} returns into a caller judged", out.returns);
    let back = (share(out.back, out.returns), share(out.back_before, out.returns));
    (share(out.hit, out.judged), share(out.spread, out.judged), share(out.entered, out.calls), back)
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
        let (recall, spread, entered, (back, before)) = recall(language, &corpus(language));
        println!(
            "{language}: recall {recall:.3}, {spread:.2} lines flagged a step, {entered:.3} of calls entered, \
             {back:.3} of returns' next steps by the caller's line ({before:.3} by the returning line's)"
        );
        assert!(recall >= 0.9, "{language}: the hints flagged only {recall:.3} of the next steps");
        assert!(spread <= 3.0, "{language}: {spread:.2} lines flagged a step is no hint");
        assert!(entered >= 0.95, "{language}: the hints named the first line of only {entered:.3} of the calls");
        assert!(
            back >= 0.9 && back > before,
            "{language}: a return's next step flagged {back:.3} (before {before:.3})"
        );
    }
}
