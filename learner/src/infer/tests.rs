use super::*;
use crate::data::{examples, module_step};
use crate::encode::states;
use crate::model::{Learner, ModelConfig};
use curio_trace::Step;

/// A two-line counting program, its trace, and its k = 1 examples.
const SOURCE: &str = "x = 0\nx = x + 1\n";

fn counting() -> ([Step; 3], Vec<Example>) {
    let steps = [module_step(0, 1, "0"), module_step(1, 2, "0"), module_step(2, 2, "1")];
    let ex = examples(SOURCE, "", &steps, &[1]);
    (steps, ex)
}

/// A one-layer model 32 wide, reading at most `block_size` tokens of
/// program and state together (one chunk, as checkpoints from before
/// chunks read).
fn tiny(block_size: i64) -> ModelConfig {
    ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size, chunk: 0, ..ModelConfig::default() }
}

#[test]
fn the_model_writes_its_own_working_to_a_newline_and_is_asked_after_it() {
    let source = "x = 7\nif x * 5 > 13:\n    x = 1\n";
    let steps = [module_step(0, 1, "7"), module_step(1, 2, "7"), module_step(2, 3, "7")];
    let ex = examples(source, "", &steps, &[1]);
    let longest = ex.iter().map(Example::len).max().unwrap() as i64;
    tch::manual_seed(5);
    let config = ModelConfig { working: true, ..tiny(longest + MAX_WORKING as i64 + 32) };
    let model = Learner::new(config, Device::Cpu).unwrap().model;
    let asked: Vec<Example> = ex.iter().map(|e| Example::query(e.context.clone())).collect();
    let worked = work(&model, &asked, Device::Cpu).unwrap();
    assert!(worked[0].working.is_empty(), "a line with nothing to work is left as it is");
    let w = &worked[1].working;
    assert!(!w.is_empty() && w.last() == Some(&b'\n'), "{w:?}");
    // An untrained model stops where the line's read form and a
    // verdict would (`if 7 * 5 > 13:` and ` False`, a newline), not
    // after MAX_WORKING bytes.
    assert_eq!(working_room(&asked[1]), "if 7 * 5 > 13:".len() + 1 + 7);
    assert!(w.len() <= working_room(&asked[1]), "{} bytes", w.len());
    assert_eq!(w.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
    assert!(!worked[1].needs_work());
    // The bytes it wrote are its greedy choices, each read back at the
    // position before it (the last forced where it wrote no newline).
    let batch = collate(std::slice::from_ref(&worked[1]), model.config.window(), Device::Cpu);
    let out = tch::no_grad(|| model.forward(&batch, false)).unwrap();
    let sep = worked[1].context.context.len() - 1 - worked[1].context.prefix;
    for (j, &b) in w[..w.len() - 1].iter().enumerate() {
        let at = Tensor::from_slice(&[(sep + j) as i64]);
        let best = model.logits_at(&out, &at).unwrap().argmax(-1, false).int64_value(&[0]);
        assert_eq!(best, i64::from(b), "byte {j}");
    }
    let p = predict(&model, &ex, Device::Cpu).unwrap();
    assert_eq!(p[1].working, worked[1].working, "predict asks after the same working");
    // A model without the working is asked at the context's end.
    let config = ModelConfig { working: false, ..tiny(longest + 32) };
    let plain = Learner::new(config, Device::Cpu).unwrap().model;
    let rows = work(&plain, &ex, Device::Cpu).unwrap();
    assert!(rows.iter().all(|e| e.working.is_empty() && !e.needs_work()));
    assert!(predict(&plain, &ex, Device::Cpu).unwrap().iter().all(|p| p.working.is_empty()));
}

#[test]
fn decoding_stops_at_the_block_and_rollouts_end_where_states_outgrow_it() {
    let (steps, ex) = counting();
    // The longest context with the longest action it can be given
    // ("#exception 2:x = x + 1\n").
    let longest = ex.iter().map(|e| e.context.context.len()).max().unwrap() as i64 + 23;
    for seed in 0..4 {
        tch::manual_seed(seed);
        // Room for a few bytes of delta beyond it: an untrained model
        // rarely writes EOS that soon.
        let learner = Learner::new(tiny(longest + 4), Device::Cpu).unwrap();
        for (p, e) in predict(&learner.model, &ex, Device::Cpu).unwrap().iter().zip(&ex) {
            let given = e.given(p.event, p.line);
            assert!(given.action.len() <= 23, "{:?}", given.action);
            assert!(given.len() + p.delta.len() <= (longest + 4) as usize, "{} bytes", p.delta.len());
        }
        // A start whose state holds a value too long for the block: the
        // rollout ends at once instead of failing.
        let mut long = states(&steps)[0].clone();
        long.stack[0].locals = vec![("x".into(), "9".repeat(64))];
        let paths = rollout(&learner.model, &[(SOURCE.to_string(), long)], 3, Device::Cpu).unwrap();
        assert_eq!(paths, vec![vec![None]]);
    }
}

#[test]
fn every_stop_scores_the_delta_it_keeps_and_predict_keeps_the_likeliest() {
    let (_, ex) = counting();
    let longest = ex.iter().map(|e| e.context.context.len()).max().unwrap() as i64 + 23;
    tch::manual_seed(3);
    let model = Learner::new(tiny(longest + 24), Device::Cpu).unwrap().model;
    // Each row given a delta's first line already: decoding goes on from it.
    let rows: Vec<Example> = ex
        .iter()
        .map(|e| Example { target: b"+x=1\n".to_vec(), ..e.given(e.event, e.line) })
        .chain(ex.iter().map(|e| e.given(e.event, e.line)))
        .collect();
    let decoded = decode(&model, &rows, Device::Cpu).unwrap();
    for (row, d) in rows.iter().zip(&decoded) {
        assert_eq!(d.stops.first().map(|s| s.0), Some(0), "where decoding starts is a stop");
        for &(kept, logp) in &d.stops {
            // The same delta read teacher-forced: its bytes after the
            // row's own, then EOS.
            let whole = Example { target: [&row.target[..], &d.bytes[..kept]].concat(), ..row.clone() };
            let batch = collate(std::slice::from_ref(&whole), model.config.window(), Device::Cpu);
            let out = tch::no_grad(|| model.forward(&batch, false)).unwrap();
            let (all, _, labels) = model.target_logits(&out, &batch.targets.labels).unwrap();
            let read = all.gather(1, &labels.unsqueeze(1), false).squeeze_dim(1);
            let given = row.target.len() as i64;
            let tail = read.narrow(0, given, read.size()[0] - given).sum(Kind::Double).double_value(&[]);
            assert!((tail - logp).abs() < 1e-3, "stop at {kept}: decoded {logp}, read {tail}");
        }
    }
    // Decoding on past the settled stop keeps the same delta: the cut
    // saves forward passes (an untrained model stops within bytes) and
    // changes nothing.
    let on = decode_until(&model, &rows, Device::Cpu, false).unwrap();
    for (cut, on) in decoded.iter().zip(&on) {
        let ((kept, logp), (kept_on, logp_on)) = (cut.best(), on.best());
        assert_eq!(cut.bytes[..kept], on.bytes[..kept_on]);
        assert!((logp - logp_on).abs() < 1e-6, "{logp} vs {logp_on}");
        assert!(on.bytes.starts_with(&cut.bytes));
    }
    let read = |d: &[Decoded]| d.iter().map(|d| d.bytes.len()).sum::<usize>();
    assert!(read(&decoded) < read(&on), "{} bytes cut, {} on", read(&decoded), read(&on));
    for (p, e) in predict(&model, &ex, Device::Cpu).unwrap().iter().zip(&ex) {
        let d = &decode(&model, &[e.given(p.event, p.line)], Device::Cpu).unwrap()[0];
        assert_eq!(p.delta, d.bytes[..d.best().0]);
        assert!(d.stops.iter().all(|s| s.1 <= d.best().1));
    }
}

#[test]
fn uncertainty_scores_a_context_that_fits_only_without_its_action() {
    let (_, ex) = counting();
    // One model's weights, read with two limits on the sequence.
    let longest = ex.iter().map(|e| e.context.context.len()).max().unwrap() as i64;
    let mut learner = Learner::new(tiny(longest + 32), Device::Cpu).unwrap();
    for e in &ex {
        let mut score = |block_size: usize| {
            learner.model.config.block_size = block_size as i64;
            let scores = uncertainty(&learner.model, std::slice::from_ref(e), Device::Cpu).unwrap();
            assert_eq!(scores.len(), 1);
            scores[0]
        };
        // Room for the context only: it scores its action's entropy
        // alone, which is less than with the first delta byte's added.
        let (tight, roomy) = (score(e.context.context.len()), score(e.context.context.len() + 32));
        assert!(tight.is_finite() && tight > 0.0 && tight < roomy, "{tight} vs {roomy}");
    }
}

/// A program of `lines` lines that counts, its trace, and its examples.
fn long_program(lines: usize) -> (String, Vec<Step>) {
    let source: String = (0..lines).map(|i| format!("total = total + {i}  # step {i}\n")).collect();
    let source = format!("total = 0\n{source}");
    let mut steps = vec![];
    let mut total = 0;
    for (i, line) in (1..=lines as u32 + 1).enumerate() {
        steps.push(module_step(i as u32, line, &total.to_string()));
        if i > 0 {
            total += i - 1;
        }
    }
    (source, steps)
}

#[test]
fn cached_decoding_writes_what_full_passes_write_on_programs_of_many_chunks() {
    let (source, steps) = long_program(40);
    let ex = examples(&source, "", &steps, &[1, 2]);
    let config = ModelConfig {
        n_embd: 32,
        n_head: 2,
        n_layer: 2,
        block_size: 256,
        chunk: 64,
        chunks: 64,
        ..ModelConfig::default()
    };
    for seed in 0..3 {
        tch::manual_seed(seed);
        let model = Learner::new(config.clone(), Device::Cpu).unwrap().model;
        let window = model.config.window();
        assert!(window.layout(&ex[0].context).len() > 10, "the program spans many chunks");
        let rows: Vec<Example> = ex.iter().step_by(7).cloned().collect();
        let (cached, full) = (
            predict_with(&model, &rows, Device::Cpu, Decoding::Cached).unwrap(),
            predict_with(&model, &rows, Device::Cpu, Decoding::Full).unwrap(),
        );
        for (c, f) in cached.iter().zip(&full) {
            assert_eq!((c.event, c.line, &c.working, &c.delta), (f.event, f.line, &f.working, &f.delta));
            assert!((c.confidence - f.confidence).abs() < 1e-4 && (c.delta_entropy - f.delta_entropy).abs() < 1e-3);
        }
        let start = vec![(source.clone(), states(&steps)[0].clone())];
        let (a, b) = (
            rollout_with(&model, &start, (6, Decoding::Cached), Device::Cpu, |_, _, _| false).unwrap(),
            rollout_with(&model, &start, (6, Decoding::Full), Device::Cpu, |_, _, _| false).unwrap(),
        );
        let path =
            |r: &Rollout| r.iter().map(|s| s.as_ref().map(|(st, p)| (st.clone(), p.delta.clone()))).collect::<Vec<_>>();
        assert_eq!(path(&a[0]), path(&b[0]));
    }
}

#[test]
fn the_cache_gives_each_position_the_byte_distribution_a_full_pass_gives() {
    let (source, steps) = long_program(12);
    let ex = examples(&source, "", &steps, &[1]);
    let config = ModelConfig {
        n_embd: 32,
        n_head: 2,
        n_layer: 2,
        block_size: 256,
        chunk: 48,
        chunks: 64,
        ..ModelConfig::default()
    };
    tch::manual_seed(11);
    let model = Learner::new(config, Device::Cpu).unwrap().model;
    let window = model.config.window();
    // Rows of different lengths, each grown by a different number of bytes.
    let rows: Vec<Example> = ex[3..7].iter().map(|e| Example::query(e.context.clone())).collect();
    let grown: Vec<Example> = rows
        .iter()
        .enumerate()
        .map(|(i, e)| Example { working: b"total = 5\n"[..3 + 2 * i].to_vec(), ..e.clone() })
        .collect();
    tch::no_grad(|| {
        let mut cache = model.prefill(collate(&rows, window, Device::Cpu)).unwrap();
        let new: Vec<Vec<i64>> = grown.iter().map(|e| e.working.iter().map(|&b| i64::from(b)).collect()).collect();
        model.extend(&mut cache, &new).unwrap();
        let cached = model.next_bytes(&cache).unwrap();
        let (cached_event, cached_line) = model.action_next(&cache).unwrap();
        let batch = collate(&grown, window, Device::Cpu);
        let out = model.forward(&batch, false).unwrap();
        let at: Vec<i64> = grown.iter().map(|e| (e.len() - 2 - e.context.prefix) as i64).collect();
        let full = model.logits_at(&out, &Tensor::from_slice(&at)).unwrap();
        assert!(cached.allclose(&full, 1e-4, 1e-4, false), "{cached} vs {full}");
        assert!(cached_event.allclose(&out.event_logits, 1e-4, 1e-4, false));
        assert!(cached_line.allclose(&out.line_logits, 1e-4, 1e-4, false));
    });
}

#[test]
fn cached_working_is_what_full_passes_write() {
    let sources = ["x = 7\nif x * 5 > 13:\n    x = 1\n", "x = 2\nwhile x < 40:\n    x = x * 3\n"];
    let mut rows = vec![];
    for source in sources {
        let steps = [module_step(0, 1, "7"), module_step(1, 2, "7"), module_step(2, 3, "7"), module_step(3, 2, "21")];
        rows.extend(examples(source, "", &steps, &[1]).into_iter().map(|e| Example::query(e.context)));
    }
    let config = ModelConfig {
        n_embd: 32,
        n_head: 2,
        n_layer: 2,
        block_size: 256,
        chunk: 16,
        chunks: 8,
        ..ModelConfig::default()
    };
    for seed in 0..3 {
        tch::manual_seed(seed);
        let model = Learner::new(config.clone(), Device::Cpu).unwrap().model;
        let cached =
            tch::no_grad(|| work_reading(&mut Reader::new(&model, Device::Cpu, Decoding::Cached), &rows)).unwrap();
        let full = tch::no_grad(|| work_reading(&mut Reader::new(&model, Device::Cpu, Decoding::Full), &rows)).unwrap();
        assert!(cached.iter().any(|e| e.working.len() > 2));
        for (c, f) in cached.iter().zip(&full) {
            assert_eq!(c.working, f.working, "seed {seed}");
        }
        // Rows that hold their action and target already (as evaluation
        // gives them) get the working written after their context all the same.
        let given: Vec<Example> =
            rows.iter().map(|e| Example { target: b"+x=1\n".to_vec(), ..e.given(1, 0) }).collect();
        for (g, c) in work(&model, &given, Device::Cpu).unwrap().iter().zip(&cached) {
            assert_eq!((&g.working, &g.target, &g.action), (&c.working, &b"+x=1\n".to_vec(), &c.given(1, 0).action));
        }
    }
}

#[test]
fn draws_repeat_from_one_seed_and_cold_draws_choose_as_greedy_does() {
    let (steps, ex) = counting();
    tch::manual_seed(11);
    let model = Learner::new(tiny(512), Device::Cpu).unwrap().model;
    let rows: Vec<Example> = (0..6).map(|_| ex[0].clone()).collect();
    let drawn = |t: f64, seed: u64| {
        let mut choice = Choice::sample(t, seed).unwrap();
        let p = predict_choosing(&model, &rows, (Device::Cpu, Decoding::Cached), &mut choice).unwrap();
        p.into_iter().map(|p| (p.event, p.line, p.delta)).collect::<Vec<_>>()
    };
    let (a, b, c) = (drawn(1.0, 5), drawn(1.0, 5), drawn(1.0, 6));
    assert_eq!(a, b, "one seed, the same draws");
    assert_ne!(a, c, "another seed, other draws");
    assert!(a.windows(2).any(|w| w[0] != w[1]), "six draws of one untrained row differ");
    // Nearly no temperature: every action and working is the greedy one.
    let greedy = predict(&model, &rows, Device::Cpu).unwrap();
    let mut cold = Choice::sample(1e-4, 1).unwrap();
    let cold = predict_choosing(&model, &rows, (Device::Cpu, Decoding::Cached), &mut cold).unwrap();
    for (g, c) in greedy.iter().zip(&cold) {
        assert_eq!((g.event, g.line, &g.working), (c.event, c.line, &c.working));
    }
    // Sampled rollouts: one per sample, each from the start given.
    let start = states(&steps)[0].clone();
    let mut choice = Choice::sample(1.0, 3).unwrap();
    let runs = foresee_sampled(
        &model,
        (crate::Code::python(SOURCE), &start),
        (5, 3),
        (&mut choice, Device::Cpu),
        |_, _, _| false,
    )
    .unwrap();
    assert_eq!(runs.len(), 5);
    assert!(runs.iter().all(|f| f.steps.len() <= 3));
    let shares: f64 = outputs(&runs).iter().map(|(_, p)| p).sum();
    assert!((shares - 1.0).abs() < 1e-9, "the outputs' shares sum to one: {shares}");
}

#[test]
fn trajectory_uncertainty_sums_along_the_foreseen_run() {
    tch::manual_seed(13);
    let model = Learner::new(tiny(512), Device::Cpu).unwrap().model;
    let starts: Vec<(String, State)> = [SOURCE, "total = 0\nfor i in range(3):\n    total += i\nprint(total)\n"]
        .iter()
        .map(|s| (s.to_string(), State::initial("")))
        .collect();
    let at = |h| trajectory_uncertainty(&model, &starts, h, Device::Cpu).unwrap();
    assert_eq!(at(0), vec![0.0, 0.0], "no steps foreseen, nothing uncertain");
    let (one, four) = (at(1), at(4));
    // Greedy and without dropout: the first step of the longer rollout is
    // the one-step rollout's, and every step adds uncertainty (or the
    // rollout ended on the predicted end, adding nothing).
    for i in 0..starts.len() {
        assert!(one[i].is_finite() && one[i] > 0.0, "{one:?}");
        assert!(four[i] >= one[i] - 1e-9, "{four:?} against {one:?}");
    }
    let rollout = rollout(&model, &starts[..1], 1, Device::Cpu).unwrap();
    match &rollout[0][0] {
        Some((_, p)) => assert!((one[0] - (p.action_entropy + p.delta_entropy)).abs() < 1e-6),
        // Cut short at once: the step it could not read counts as a uniform byte.
        None => assert!((one[0] - 256f64.ln()).abs() < 1e-9),
    }
}

#[test]
fn embeddings_are_unit_length_and_the_same_for_the_same_reading() {
    tch::manual_seed(17);
    let model = Learner::new(tiny(512), Device::Cpu).unwrap().model;
    let (_, ex) = counting();
    let rows = vec![ex[0].clone(), ex[1].clone(), ex[0].clone()];
    let e = embeddings(&model, &rows, Device::Cpu).unwrap();
    assert_eq!(e.len(), 3);
    for v in &e {
        assert_eq!(v.len(), 32);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    assert_eq!(e[0], e[2], "the same row, the same reading");
    assert_ne!(e[0], e[1], "another state, another reading");
    assert!(embeddings(&model, &[], Device::Cpu).unwrap().is_empty());
}
