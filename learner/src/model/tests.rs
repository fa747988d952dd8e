use super::*;
use crate::data::{Example, collate, examples, pack};
use tch::Device;

fn tiny() -> ModelConfig {
    ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 256, ..ModelConfig::default() }
}

fn batch() -> Batch {
    collate(&items(), tiny().window(), Device::Cpu)
}

/// Five examples of one program (k = 1 and 2), the second with a
/// working written before its action.
fn items() -> Vec<Example> {
    let step = crate::data::module_step;
    let steps = vec![step(0, 1, "0"), step(1, 2, "1"), step(2, 3, "'é'"), step(3, 1, "[2]")];
    let mut ex = examples("x = 0\nx = 1\nx = 'é'\n", "", &steps, &[1, 2]);
    assert_eq!(ex.len(), 5);
    ex[1].working = b"x = 1\n".to_vec();
    ex[1].context.working = ex[1].working.clone();
    ex
}

#[test]
fn examples_sharing_a_program_get_what_they_would_get_alone() {
    let learner = Learner::new(tiny(), Device::Cpu).unwrap();
    let ex = items();
    let w = tiny().window();
    let (apart, shared) = (pack(&ex, 1, w, Device::Cpu), collate(&ex, w, Device::Cpu));
    assert_eq!((apart.programs.tokens.size()[0], shared.programs.tokens.size()[0]), (5, 1), "one copy of the program");
    let (a, p) = (learner.model.forward(&apart, false).unwrap(), learner.model.forward(&shared, false).unwrap());
    let close = |x: &Tensor, y: &Tensor| x.allclose(y, 1e-5, 1e-5, false);
    assert!(close(&a.event_logits, &p.event_logits) && close(&a.line_logits, &p.line_logits));
    let (la, lp) = (learner.model.losses(&apart, &a).unwrap(), learner.model.losses(&shared, &p).unwrap());
    assert!(close(&la.action, &lp.action) && close(&la.delta, &lp.delta), "{:?} vs {:?}", la.delta, lp.delta);
    assert!(close(&la.delta_per_byte, &lp.delta_per_byte));
    // Sharing by twos: three copies, the same answers.
    let twos = pack(&ex, 2, w, Device::Cpu);
    assert_eq!(twos.programs.tokens.size()[0], 3);
    let t = learner.model.forward(&twos, false).unwrap();
    assert!(close(&learner.model.losses(&twos, &t).unwrap().delta, &la.delta));
}

#[test]
fn heads_have_the_documented_shapes() {
    let learner = Learner::new(tiny(), Device::Cpu).unwrap();
    let b = batch();
    let out = learner.model.forward(&b, false).unwrap();
    let (rows, t) = b.examples.tokens.size2().unwrap();
    assert_eq!(b.programs.tokens.size()[0], 1, "five examples of one program");
    assert_eq!(out.hidden.size(), [rows, t, 32]);
    let (logits, row_of, _) = learner.model.target_logits(&out, &b.targets.labels).unwrap();
    let labelled = b.targets.labels.ne(-100).sum(Kind::Int64).int64_value(&[]);
    assert_eq!((logits.size(), row_of.size()), (vec![labelled, VOCAB], vec![labelled]));
    // Vocabulary and copy pointer mix into one distribution per byte.
    let total = logits.exp().sum_dim_intlist(-1, false, Kind::Float);
    assert!(total.allclose(&Tensor::ones([labelled], (Kind::Float, Device::Cpu)), 1e-4, 1e-4, false), "{total}");
    assert_eq!(out.event_logits.size(), [rows, 4]);
    assert_eq!(out.line_logits.size(), [rows, 3]);
    let losses = learner.model.losses(&b, &out).unwrap();
    let Losses { action, delta, delta_sum, delta_per_byte, openings, working } = &losses;
    // Summed, each example's bytes count whole: its mean times its bytes.
    let bytes_each = b.targets.labels.ne(-100).sum_dim_intlist(1, false, Kind::Float);
    assert!(delta_sum.allclose(&(delta * &bytes_each), 1e-4, 1e-5, false), "{delta_sum} vs {delta}");
    // The objective's delta part is the mean over bytes: per-example
    // means weighted by their byte counts.
    let bytes = b.targets.labels.ne(-100).sum_dim_intlist(1, false, Kind::Float);
    let weighted = (delta * &bytes).sum(Kind::Float) / bytes.sum(Kind::Float);
    assert!(delta_per_byte.allclose(&weighted, 1e-5, 1e-6, false), "{delta_per_byte} vs {weighted}");
    assert_eq!((action.size(), delta.size()), (vec![rows], vec![rows]));
    assert!(action.isfinite().all().int64_value(&[]) == 1 && delta.isfinite().all().int64_value(&[]) == 1);
    // The openings are the cross-entropies at the delta's start (the end
    // of the given action, after the query), after each newline and
    // `=` of the target and before each newline, each position scored
    // alone here.
    let ex = items();
    let (mut want, mut want_working) = (vec![0f64; ex.len()], vec![0f64; ex.len()]);
    let (q, d) =
        (Vec::<i64>::try_from(&b.examples.query).unwrap(), Vec::<i64>::try_from(&b.examples.delta_start).unwrap());
    let minus_logp = |x: usize, t: i64| {
        let at = b.examples.query.copy();
        let _ = at.get(x as i64).fill_(t);
        let label = b.targets.labels.get(x as i64).get(t);
        -learner.model.logits_at(&out, &at).unwrap().get(x as i64).get(label.int64_value(&[])).double_value(&[])
    };
    for (x, e) in ex.iter().enumerate() {
        // The working's bytes are scored from the context's last SEP
        // up to the query, apart from the openings.
        let start = q[x] - e.working.len() as i64;
        want_working[x] = (start..q[x]).map(|t| minus_logp(x, t)).sum();
        assert_eq!(d[x], q[x] + e.action.len() as i64, "the action sits between the query and the delta");
        assert_eq!(
            b.targets.labels.get(x as i64).get(d[x] - 1).int64_value(&[]),
            -100,
            "the action is given, not scored"
        );
        let after = e.target.iter().enumerate().filter(|(_, y)| b"\n=".contains(*y)).map(|(i, _)| d[x] + 1 + i as i64);
        // A line's end whose byte before is a `=` or a newline is
        // already counted: each position once.
        let ends = e
            .target
            .iter()
            .enumerate()
            .filter(|&(i, &y)| y == b'\n' && (i == 0 || !b"\n=".contains(&e.target[i - 1])))
            .map(|(i, _)| d[x] + i as i64);
        want[x] = std::iter::once(d[x]).chain(after).chain(ends).map(|t| minus_logp(x, t)).sum();
    }
    let want = Tensor::from_slice(&want).to_kind(Kind::Float);
    assert!(openings.allclose(&want, 1e-4, 1e-5, false), "{openings} vs {want}");
    let want_working = Tensor::from_slice(&want_working).to_kind(Kind::Float);
    assert!(working.allclose(&want_working, 1e-4, 1e-5, false), "{working} vs {want_working}");
    assert!(want_working.double_value(&[1]) > 0.0 && want_working.double_value(&[0]) == 0.0);
    // The objective weighs the working apart: its weight moves the
    // loss by the batch's mean working cross-entropy.
    let gap = losses.objective(1.0, 3.0) - losses.objective(1.0, 1.0);
    assert!(gap.allclose(&(working.mean(Kind::Float) * 2.0), 1e-5, 1e-6, false));
    assert!(ex.iter().any(|e| e.target.contains(&b'\n')), "some delta has a line to open after");
}

#[test]
fn checkpoint_round_trips_exactly_and_refuses_another_shape() {
    let dir = std::env::temp_dir().join(format!("curio-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let mut learner = Learner::new(tiny(), Device::Cpu).unwrap();
    learner.train_step = 42;
    learner.save(&path).unwrap();
    let back = Learner::load(&path, Device::Cpu, Some(&tiny())).unwrap();
    assert_eq!(back.train_step, 42);
    let b = batch();
    let (a, z) = (learner.model.forward(&b, false).unwrap(), back.model.forward(&b, false).unwrap());
    assert!(a.hidden.equal(&z.hidden) && a.line_logits.equal(&z.line_logits));

    let wider = ModelConfig { n_embd: 64, ..tiny() };
    let err = Learner::load(&path, Device::Cpu, Some(&wider)).unwrap_err().to_string();
    assert!(err.contains("differs"), "{err}");
    // A config that lies about the weights is caught when they load.
    let meta = serde_json::json!({"config": wider, "train_step": 1});
    std::fs::write(dir.join("m.safetensors.json"), meta.to_string()).unwrap();
    let err = Learner::load(&path, Device::Cpu, None).unwrap_err().to_string();
    assert!(err.contains("do not fit"), "{err}");
    // A checkpoint saved before the working existed is read as one
    // without it, and asked as it was trained.
    let mut old = serde_json::to_value(ModelConfig { working: true, ..tiny() }).unwrap();
    for key in ["working", "flow", "depth", "flow_lua_js", "flow_returns"] {
        old.as_object_mut().unwrap().remove(key);
    }
    let meta = serde_json::json!({"config": old, "train_step": 1});
    std::fs::write(dir.join("m.safetensors.json"), meta.to_string()).unwrap();
    let loaded = Learner::load(&path, Device::Cpu, None).unwrap();
    assert!(!loaded.model.config.working);
    // One saved before the flow and depth switches was trained reading both.
    assert!(loaded.model.config.flow, "no `flow` key reads as the flow it was trained with");
    assert!(loaded.model.config.depth, "no `depth` key reads as the depths it was trained with");
    // And one saved before Lua and JavaScript had facts read their flags
    // as all zero.
    assert!(!loaded.model.config.flow_lua_js, "no `flow_lua_js` key: trained without their flow");
    assert!(!loaded.model.config.flow_returns, "no `flow_returns` key: returns read the returning line's");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Whether a model of `config` answers differently once `strip` has
/// taken an input out of the batch, as `differs(with, without)` sees it.
fn reads(config: ModelConfig, strip: impl Fn(Batch) -> Batch, differs: impl Fn(&Output, &Output) -> bool) -> bool {
    tch::manual_seed(3);
    let learner = Learner::new(config, Device::Cpu).unwrap();
    let (with, without) = (batch(), strip(batch()));
    let (a, b) = (learner.model.forward(&with, false).unwrap(), learner.model.forward(&without, false).unwrap());
    differs(&a, &b)
}

#[test]
fn a_model_without_flow_does_not_read_the_flow_flags() {
    assert!(batch().examples.flow.abs().sum(Kind::Int64).int64_value(&[]) > 0, "the batch has flags");
    let flags_off = |mut b: Batch| {
        b.examples.line_flow = b.examples.line_flow.zeros_like();
        b.examples.flow = b.examples.flow.zeros_like();
        b
    };
    let differs = |a: &Output, b: &Output| {
        !(a.line_logits.allclose(&b.line_logits, 1e-6, 1e-6, false)
            && a.event_logits.allclose(&b.event_logits, 1e-6, 1e-6, false))
    };
    for flow in [true, false] {
        assert_eq!(reads(ModelConfig { flow, ..tiny() }, flags_off, differs), flow, "flow {flow}");
    }
}

#[test]
fn a_lua_program_s_flow_is_read_only_by_a_model_trained_to_read_it() {
    let steps = [crate::data::module_step(0, 1, "7"), crate::data::module_step(1, 2, "7")];
    let states = crate::encode::states(&steps);
    let lua = "local x = 7\nif x > 3 then\n  x = x + 1\nend\n";
    let python = "x = 7\nif x > 3:\n    x = x + 1\n";
    let rows = [
        crate::Example::query(crate::encode::encode_context_in(curio_trace::Language::Lua, lua, &states[1], 1)),
        crate::Example::query(crate::encode::encode_context_in(curio_trace::Language::Python, python, &states[1], 1)),
    ];
    let flow = |flow_lua_js: bool| {
        let window = crate::ModelConfig { flow_lua_js, ..Default::default() }.window();
        Vec::<i64>::try_from(&crate::data::collate(&rows, window, Device::Cpu).examples.flow).unwrap()
    };
    let (read, unread) = (flow(true), flow(false));
    assert!(read[0] != 0 && read[1] != 0, "both programs' flags: {read:?}");
    assert_eq!(unread, [0, read[1]], "without, Lua's are zero and Python's as they were");
}

/// A function returns into the module's last line, which leaves once its
/// call is done: the next step is the module's return from there, and
/// that is what a `return` state's hints flag, not the line that returned.
#[test]
fn a_return_reads_the_flow_of_the_line_it_returns_into() {
    let source = "def f(x):\n    return x + 1\n\n\nprint(f(2))\n";
    let step = |step, event, line, function: &str, depth| curio_trace::Step {
        step,
        event,
        line,
        function: function.into(),
        depth,
        locals: vec![],
        stdout: String::new(),
        value: None,
    };
    use curio_trace::Event::{Call, Line, Return};
    let steps = [
        step(0, Line, 1, "<module>", 1),
        step(1, Line, 5, "<module>", 1),
        step(2, Call, 1, "f", 2),
        step(3, Line, 2, "f", 2),
        step(4, Return, 2, "f", 2),
    ];
    let states = crate::encode::states(&steps);
    let rows = [crate::Example::query(crate::encode::encode_context(source, &states[4], 1))];
    let flags = |flow_returns: bool| {
        let window = crate::ModelConfig { flow_returns, ..Default::default() }.window();
        let line_flow = crate::data::collate(&rows, window, Device::Cpu).examples.line_flow;
        Vec::<i64>::try_from(&line_flow.flatten(0, -1)).unwrap()
    };
    let leaves = |flags: &[i64]| -> Vec<usize> { (0..5).filter(|&j| flags[j] & crate::flow::LEAVES != 0).collect() };
    assert_eq!(leaves(&flags(true)), [4], "the module leaves from line 5");
    assert_eq!(leaves(&flags(false)), [1], "as models before the switch read it: line 2 leaves");
    // Any other state reads its own line's hints either way.
    let line = [crate::Example::query(crate::encode::encode_context(source, &states[3], 1))];
    let window = |flow_returns| crate::ModelConfig { flow_returns, ..Default::default() }.window();
    let (a, b) = (
        crate::data::collate(&line, window(true), Device::Cpu),
        crate::data::collate(&line, window(false), Device::Cpu),
    );
    assert!(a.examples.line_flow.equal(&b.examples.line_flow));
}

#[test]
fn a_model_without_depth_does_not_read_the_bracket_depths() {
    assert!(batch().examples.depth.sum(Kind::Int64).int64_value(&[]) > 0, "the batch has brackets");
    let flat = |mut b: Batch| {
        b.programs.depth = b.programs.depth.zeros_like();
        b.examples.depth = b.examples.depth.zeros_like();
        b
    };
    let differs = |a: &Output, b: &Output| !a.hidden.allclose(&b.hidden, 1e-6, 1e-6, false);
    for depth in [true, false] {
        assert_eq!(reads(ModelConfig { depth, ..tiny() }, flat, differs), depth, "depth {depth}");
    }
}

#[test]
fn bad_config_is_refused() {
    let bad = ModelConfig { n_embd: 30, n_head: 4, ..tiny() };
    assert!(Learner::new(bad, Device::Cpu).is_err());
}

#[test]
fn programs_of_different_lengths_in_one_batch_read_as_they_read_alone() {
    let step = crate::data::module_step;
    let long: String = (0..12).map(|i| format!("x = x + {i}\n")).collect();
    let sources = ["x = 0\nx = 1\n".to_string(), format!("x = 0\n{long}"), "x = 5\n".to_string()];
    let mut all = vec![];
    for source in &sources {
        let n = source.lines().count() as u32;
        let steps: Vec<_> = (0..n).map(|i| step(i, i + 1, &i.to_string())).collect();
        all.extend(examples(source, "", &steps, &[1]).into_iter().take(3));
    }
    let config = ModelConfig { chunk: 32, chunks: 16, ..tiny() };
    tch::manual_seed(7);
    let learner = Learner::new(config.clone(), Device::Cpu).unwrap();
    let w = config.window();
    assert!(w.layout(&all[3].context).len() > 2 && w.layout(&all[0].context).len() == 1);
    let together = collate(&all, w, Device::Cpu);
    let t = learner.model.forward(&together, false).unwrap();
    let lt = learner.model.losses(&together, &t).unwrap();
    for (i, e) in all.iter().enumerate() {
        let alone = collate(std::slice::from_ref(e), w, Device::Cpu);
        let a = learner.model.forward(&alone, false).unwrap();
        let la = learner.model.losses(&alone, &a).unwrap();
        let close = |x: &Tensor, y: &Tensor| x.allclose(y, 1e-4, 1e-4, false);
        assert!(close(&a.event_logits, &t.event_logits.narrow(0, i as i64, 1)), "example {i}: events");
        assert!(close(&a.line_logits, &t.line_logits.narrow(0, i as i64, 1).narrow(1, 0, a.line_logits.size()[1])));
        assert!(close(&la.delta, &lt.delta.narrow(0, i as i64, 1)), "example {i}: {:?} vs {:?}", la.delta, lt.delta);
    }
}
