//! An honest learning test: a small world model trained for a bounded number
//! of steps on transitions from real traces beats the trivial baseline
//! ("the next line is the following line, the state is unchanged") on
//! held-out programs it never saw.

use curio_interpreter_pool::Execution;
use curio_learner::{Example, Learner, ModelConfig, TrainConfig, Trainer, decode, evaluate, examples};
use curio_tests::sandbox;
use curio_trace::Run;
use tch::Device;

/// Small counting programs; `seed` picks constants, so train and held-out
/// programs differ in their numbers and strings.
fn program(seed: u64) -> String {
    let n = 2 + seed % 4;
    let step = 1 + (seed / 4) % 3;
    let word = ["ab", "xyz", "q", "hey"][(seed % 4) as usize];
    format!(
        "total = {seed}\nfor i in range({n}):\n    total = total + i * {step}\nname = '{word}' * 2\nprint(total, name)\n"
    )
}

fn suite(seeds: impl Iterator<Item = u64>) -> Vec<Run> {
    seeds
        .map(|seed| {
            let source = program(seed);
            let trace = sandbox().execute(&Execution::python(source.clone())).unwrap();
            Run { source, input: String::new(), steps: trace.steps }
        })
        .collect()
}

fn dataset(items: &[Run]) -> Vec<Example> {
    items.iter().flat_map(|item| examples(&item.source, &item.input, &item.steps, &[1])).collect()
}

/// The baseline on the same examples: next line = current line + 1 with a
/// `line` event, empty delta.
fn baseline(held_out: &[Example]) -> (f64, f64) {
    let mut action = 0;
    let mut delta = 0;
    for e in held_out {
        let text = curio_learner::token_bytes(&e.context.context);
        let text = String::from_utf8_lossy(&text);
        let current: usize =
            text.split('#').nth(1).and_then(|s| s.split(' ').nth(1)).and_then(|l| l.parse().ok()).unwrap();
        action += usize::from(e.event == 1 && e.line == current);
        delta += usize::from(e.target.is_empty());
    }
    (action as f64 / held_out.len() as f64, delta as f64 / held_out.len() as f64)
}

#[test]
fn a_small_model_beats_the_trivial_baseline_on_held_out_programs() {
    tch::manual_seed(0);
    tch::set_num_threads(2);
    // Every seventh program is held out: same distribution, never trained on.
    let train = dataset(&suite((0..140).filter(|s| s % 7 != 0)));
    let held_out_suite = suite((0..140).filter(|s| s % 7 == 0));
    let held_out = dataset(&held_out_suite);
    assert!(train.len() > 1000 && held_out.len() > 200, "{} / {}", train.len(), held_out.len());

    let config =
        ModelConfig { n_embd: 64, n_head: 4, n_layer: 2, block_size: 512, dropout: 0.0, ..ModelConfig::default() };
    let learner = Learner::new(config, Device::Cpu).unwrap();
    let mut trainer = Trainer::new(learner, TrainConfig { lr: 2e-3, warmup: 20, ..TrainConfig::default() }).unwrap();
    let mut order: Vec<usize> = (0..train.len()).collect();
    for step in 0..500usize {
        if step % (train.len() / 16) == 0 {
            // A cheap deterministic shuffle per epoch.
            order.sort_by_key(|&i| (i * 7919 + step * 104_729) % train.len());
        }
        let rows: Vec<Example> = (0..16).map(|j| train[order[(step * 16 + j) % train.len()]].clone()).collect();
        let stats = trainer.step(&rows).unwrap();
        assert_eq!(stats.per_example.len(), 16);
        if step % 100 == 0 {
            eprintln!("step {step}: action {:.3} delta {:.3}", stats.action_loss, stats.delta_loss);
        }
    }
    let learner = &trainer.learner;
    assert_eq!(learner.train_step, 500);
    let report = evaluate(&learner.model, &held_out_suite, Device::Cpu).unwrap();
    let (model_action, model_delta) = (report.action_accuracy, report.delta_exact);
    assert_eq!(report.transitions, held_out.len());
    assert_eq!(report.rollout_exact[&1].1, held_out_suite.len());
    let unchanged = held_out.iter().filter(|e| e.target.is_empty()).count();
    assert_eq!(report.delta_exact_by_type[curio_learner::NOTHING].1, unchanged, "transitions that change nothing");
    // The figure is what decoding writes: each delta decoded given its true
    // action and cut at its most likely stop (evaluation decodes only where
    // teacher forcing cannot tell).
    let mut decoded_right = 0;
    for chunk in held_out.chunks(32) {
        let rows: Vec<Example> = chunk.iter().map(|e| e.given(e.event, e.line)).collect();
        for (d, e) in decode(&learner.model, &rows, Device::Cpu).unwrap().iter().zip(chunk) {
            decoded_right += usize::from(d.bytes[..d.best().0] == e.target[..]);
        }
    }
    let counted = (model_delta * held_out.len() as f64).round() as usize;
    // Batches of other shapes may break a near-tie the other way.
    assert!(decoded_right.abs_diff(counted) <= 2, "decoded {decoded_right}, evaluation counted {counted}");
    let (base_action, base_delta) = baseline(&held_out);
    eprintln!(
        "held-out: model action {model_action:.3} delta {model_delta:.3} (greedy to EOS {:.3}); baseline \
         {base_action:.3} {base_delta:.3}",
        report.delta_exact_greedy
    );
    assert!(model_action > base_action + 0.1, "action: model {model_action:.3} vs baseline {base_action:.3}");
    assert!(model_delta > base_delta + 0.1, "delta: model {model_delta:.3} vs baseline {base_delta:.3}");
}

#[test]
fn generated_programs_are_valid_python_that_runs() {
    use curio_interpreter_pool::Status;
    use curio_learner::{GenConfig, generate, inputs, mutate};
    let mut statuses = std::collections::HashMap::new();
    for (seed, cfg) in (0..150u64).map(|s| (s, GenConfig::default())).chain((0..50).map(|s| (s, GenConfig::harder()))) {
        let source = generate(seed, &cfg);
        for input in inputs(seed, 2) {
            let exec = Execution { input, ..Execution::python(source.clone()) };
            let t = sandbox().execute(&exec).unwrap();
            assert_ne!(t.status, Status::InvalidProgram, "seed {seed}: {:?}\n{source}", t.error);
            assert_ne!(t.status, Status::Exception, "seed {seed}: {:?}\n{source}", t.error);
            *statuses.entry(t.status).or_insert(0) += 1;
        }
        let variant = mutate(&source, seed);
        assert_ne!(variant, source);
    }
    assert!(statuses[&Status::Ok] >= 390, "{statuses:?}");
}

/// Acquisition scores and `Predict` start from a state built without
/// running the program: it must be the state the tracer really begins with.
#[test]
fn the_assumed_start_state_is_the_first_traced_state() {
    use curio_learner::{GenConfig, generate, inputs, states_reading};
    for seed in 0..20u64 {
        let source = generate(seed, &GenConfig::default());
        let input = inputs(seed, 1).remove(0);
        let exec = Execution { input: input.clone(), ..Execution::python(source.clone()) };
        let first = states_reading(&sandbox().execute(&exec).unwrap().steps, &input).remove(0);
        let start = curio_learner::State::initial(&input);
        assert!(start.same_as(&first) && start.stdin == first.stdin, "seed {seed}: {first:?}");
        assert!(!start.stdin.is_empty(), "the generated programs read their input");
    }
}
