//! The fuzz targets' bodies (`curio_interpreter_pool::fuzz`, run for long
//! by `cargo fuzz` in `fuzz/`) on a seed corpus of real requests, real
//! traces and real guest events, and on thousands of seeded mutations of
//! it: no input panics, and a fair share of mutants still decode, so the
//! round-trip checks behind decoding are exercised too.

use curio_interpreter_pool::{Limits, execution_to_proto, fuzz, trace_to_proto};
use curio_proto::v1 as pb;
use prost::Message;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const MUTANTS: usize = 4000;

/// Real traces of the shipped test programs, run in the sandbox.
fn traces() -> Vec<curio_interpreter_pool::Trace> {
    curio_tests::programs()
        .into_iter()
        .take(6)
        .map(|(_, source)| curio_tests::run(&source, "3\nabc\n", Limits::default()))
        .collect()
}

fn request_seeds() -> Vec<Vec<u8>> {
    curio_tests::programs()
        .into_iter()
        .take(6)
        .enumerate()
        .map(|(i, (name, source))| {
            let exec = curio_interpreter_pool::Execution {
                request_id: format!("{name}-{i}"),
                input: "héllo\n✓\n".into(),
                seed: i as u64 * 7919,
                ..curio_interpreter_pool::Execution::python(source)
            };
            execution_to_proto(&exec).encode_to_vec()
        })
        .collect()
}

/// Events as the guest encodes them, one per line, then the summary.
fn guest_seeds(traces: &[curio_interpreter_pool::Trace]) -> Vec<Vec<u8>> {
    traces
        .iter()
        .enumerate()
        .map(|(i, t)| {
            // Half stop at a small step limit, half reach their summary.
            let mut text = vec![(20 + 40 * i) as u8, if i % 2 == 0 { 30 } else { 255 }];
            for s in t.steps.iter().take(60) {
                let locals = (!s.locals.is_empty()).then_some(&s.locals);
                let event = serde_json::json!([s.event, s.line, s.function, s.depth, locals, s.stdout, s.value]);
                text.extend(event.to_string().bytes());
                text.push(b'\n');
            }
            let summary = serde_json::json!({"status": t.status, "error": t.error, "stdout": ""});
            text.extend(summary.to_string().bytes());
            text
        })
        .collect()
}

/// One to four byte-level edits, as libFuzzer's mutators make them.
fn mutate(rng: &mut StdRng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut data = seeds[rng.random_range(0..seeds.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let len = data.len();
        match rng.random_range(0..7) {
            0 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 if len > 0 => {
                let i = rng.random_range(0..len);
                data[i] = rng.random();
            }
            2 => {
                let i = rng.random_range(0..=len);
                let extra: Vec<u8> = (0..rng.random_range(1..8)).map(|_| rng.random()).collect();
                data.splice(i..i, extra);
            }
            3 if len > 1 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(i..=len.min(i + 32));
                data.drain(i..j);
            }
            4 if len > 0 => data.truncate(rng.random_range(0..len)),
            5 if len > 1 => {
                let i = rng.random_range(0..len);
                let j = rng.random_range(i..=len.min(i + 16));
                let copy = data[i..j].to_vec();
                let at = rng.random_range(0..=len);
                data.splice(at..at, copy);
            }
            _ => {
                let other = &seeds[rng.random_range(0..seeds.len())];
                let cut = rng.random_range(0..=data.len());
                data.truncate(cut);
                data.extend_from_slice(&other[rng.random_range(0..=other.len())..]);
            }
        }
    }
    data
}

/// Runs `body` on every seed (each must decode) and on `MUTANTS` mutants;
/// returns the share of mutants that decoded.
fn fuzz(name: &str, seeds: &[Vec<u8>], body: fn(&[u8]) -> bool) -> f64 {
    for (i, seed) in seeds.iter().enumerate() {
        assert!(body(seed), "{name}: seed {i} must decode");
    }
    let mut rng = StdRng::seed_from_u64(0xC0210);
    let decoded = (0..MUTANTS).filter(|_| body(&mutate(&mut rng, seeds))).count();
    let share = decoded as f64 / MUTANTS as f64;
    println!("{name}: {decoded} of {MUTANTS} mutants decoded");
    share
}

#[test]
fn execution_requests_decode_or_fail_cleanly() {
    let share = fuzz("execution_request", &request_seeds(), fuzz::execution_request);
    assert!(share > 0.02, "too few mutants got past decoding ({share}) to exercise the round trip");
    // Wire edge cases the mutator may not reach.
    let unknown_language = pb::ExecutionRequest {
        program: Some(pb::Program { language: 99, source: "pass".into() }),
        ..Default::default()
    };
    assert!(!fuzz::execution_request(&unknown_language.encode_to_vec()));
    assert!(!fuzz::execution_request(&[]), "an empty message has no program");
}

#[test]
fn traces_decode_or_fail_cleanly() {
    let seeds: Vec<Vec<u8>> = traces().into_iter().map(|t| trace_to_proto(t).encode_to_vec()).collect();
    let share = fuzz("trace", &seeds, fuzz::trace);
    assert!(share > 0.02, "too few mutants got past decoding ({share})");
    let unknown_status = pb::Trace { status: 42, ..Default::default() };
    assert!(!fuzz::trace(&unknown_status.encode_to_vec()), "a status this build does not know is refused");
}

#[test]
fn guest_events_decode_or_fail_cleanly_within_the_limits() {
    let seeds = guest_seeds(&traces());
    let share = fuzz("guest_output", &seeds, fuzz::guest_output);
    assert!(share > 0.02, "too few mutants got past decoding ({share})");
}
