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
            Run { language: curio_trace::Language::Python, source, input: String::new(), steps: trace.steps }
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
    // Per kind of true action, the deltas add up to the whole.
    let by_kind = &report.delta_exact_by_kind;
    assert_eq!(by_kind.values().map(|(_, n)| n).sum::<usize>(), held_out.len());
    let kinds = ["call", "return", "exception", "line: next", "line: back", "line: skip", "line: same"];
    assert!(by_kind.contains_key("line: next") && by_kind.keys().all(|k| kinds.contains(&k.as_str())), "{by_kind:?}");
    let hits: f64 = by_kind.values().map(|(rate, n)| rate * *n as f64).sum();
    assert!((hits - model_delta * held_out.len() as f64).abs() < 1e-6, "{by_kind:?} against {model_delta}");
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

/// The `chance` family: every program runs to its end whatever the seed,
/// and what it prints depends on the seed, which is what makes it a
/// distribution to learn rather than one answer.
#[test]
fn chance_programs_run_under_every_seed_and_print_what_the_seed_draws() {
    use curio_interpreter_pool::Status;
    let mut varied = 0;
    for program in 0..40u64 {
        let source = curio_learner::chancy(program);
        let mut outputs = std::collections::HashSet::new();
        for seed in 0..8 {
            let t = sandbox().execute(&Execution { seed, ..Execution::python(source.clone()) }).unwrap();
            assert!(matches!(t.status, Status::Ok), "program {program}, seed {seed}: {:?}\n{source}", t.error);
            let again = sandbox().execute(&Execution { seed, ..Execution::python(source.clone()) }).unwrap();
            assert_eq!(t.steps, again.steps, "one seed, one run");
            outputs.insert(t.steps.iter().map(|s| s.stdout.as_str()).collect::<String>());
        }
        varied += usize::from(outputs.len() > 1);
    }
    assert!(varied >= 36, "{varied} of 40 programs print something else under another seed");
}

#[test]
fn idiomatic_programs_run_and_use_the_idioms_people_write() {
    use curio_interpreter_pool::Status;
    use curio_learner::{GenConfig, idiomatic, inputs};
    let idioms = [
        "while ",
        "break",
        "continue",
        "enumerate(",
        "zip(",
        "sorted(",
        "key=",
        "class ",
        "set(",
        ".items()",
        "elif ",
        "except ValueError",
        " for x in ",
        ".split(",
        "[::-1]",
        ".get(",
    ];
    let mut seen = vec![0; idioms.len()];
    let mut ok = 0;
    for seed in 0..200u64 {
        let source = idiomatic(seed, &GenConfig::default());
        for (count, idiom) in seen.iter_mut().zip(idioms) {
            *count += usize::from(source.contains(idiom));
        }
        let exec = Execution { input: inputs(seed, 1).remove(0), ..Execution::python(source.clone()) };
        let t = sandbox().execute(&exec).unwrap();
        assert!(matches!(t.status, Status::Ok), "seed {seed}: {:?} {:?}\n{source}", t.status, t.error);
        ok += usize::from(t.steps.len() < 400);
    }
    for (count, idiom) in seen.iter().zip(idioms) {
        assert!(*count >= 5, "`{idiom}` in only {count} of 200 programs");
    }
    assert!(ok >= 180, "only {ok} of 200 runs under 400 steps");
}

/// The `shaped` family: every program runs to its end on its inputs, and
/// the work happens where a real program's does, in the called function's
/// frame below the module's, not at module level.
#[test]
fn shaped_programs_run_and_do_their_work_inside_the_called_function() {
    use curio_interpreter_pool::Status;
    use curio_learner::{GenConfig, inputs, shaped};
    for seed in 0..150u64 {
        let source = shaped(seed, &GenConfig::default());
        for input in inputs(seed, 2) {
            let exec = Execution { input, ..Execution::python(source.clone()) };
            let t = sandbox().execute(&exec).unwrap();
            assert!(matches!(t.status, Status::Ok), "seed {seed}: {:?} {:?}\n{source}", t.status, t.error);
            let def = source.lines().find(|l| l.starts_with("def ") && l.contains(": int")).expect("the function");
            let name = &def["def ".len()..def.find('(').expect("(")];
            let lines = t.steps.iter().filter(|s| s.event == curio_trace::Event::Line);
            let module = lines.clone().filter(|s| s.function == "<module>").count();
            let own: Vec<_> = lines.clone().filter(|s| s.function == name).collect();
            // The module defines the helpers and the function, then calls it
            // once; every one of its statements runs at least one line.
            assert!(module <= 5, "seed {seed}: {module} module lines\n{source}");
            assert!(own.len() > GenConfig::default().statements, "seed {seed}: {} lines in {name}", own.len());
            assert!(own.iter().all(|s| s.depth == 2), "seed {seed}: {name} called from below the module");
            assert!(lines.filter(|s| s.depth > 2).all(|s| s.function != name), "seed {seed}: {name} recursed");
            // What it returns is what the module prints.
            let returned = t.steps.iter().rfind(|s| s.event == curio_trace::Event::Return && s.function == name);
            let value = returned.and_then(|s| s.value.clone()).expect("a return value");
            let printed: String = t.steps.iter().map(|s| s.stdout.as_str()).collect();
            assert_eq!(printed.lines().last(), Some(value.as_str()), "seed {seed}\n{source}");
        }
    }
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

/// A fresh small model's checkpoint in a folder of its own, reading
/// programs of up to two chunks of 256 tokens (`long` needs three).
fn small_checkpoint(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("curio-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    let config = ModelConfig {
        n_embd: 32,
        n_head: 2,
        n_layer: 1,
        block_size: 512,
        chunk: 256,
        chunks: 2,
        ..ModelConfig::default()
    };
    Learner::new(config, Device::Cpu).unwrap().save(&path).unwrap();
    path
}

fn curio(args: &[&str]) -> std::process::Output {
    std::process::Command::new(curio_tests::curio_bin()).args(args).env("CURIO_THREADS", "1").output().unwrap()
}

/// `curio eval --programs FILE.jsonl` runs people's programs on the sandbox
/// and accounts for every one by id: evaluated (with its rollout), too long
/// for the model, or not run to its end (with the status); a bad file is
/// refused with the line to fix.
#[test]
fn eval_on_a_programs_file_accounts_for_every_program() {
    let checkpoint = small_checkpoint("eval-programs");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/real.jsonl");
    let out = curio(&["eval", "--checkpoint", checkpoint.to_str().unwrap(), "--programs", file, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |x: &serde_json::Value| -> Vec<String> {
        x.as_array().unwrap().iter().map(|e| e.as_str().or(e["id"].as_str()).unwrap().to_string()).collect()
    };
    let not_run: std::collections::BTreeMap<String, String> = v["not_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap().into(), n["status"].as_str().unwrap().into()))
        .collect();
    assert_eq!(not_run.get("forever").map(String::as_str), Some("step_limit"), "{not_run:?}");
    assert_eq!(not_run.get("broken").map(String::as_str), Some("invalid_program"), "{not_run:?}");
    let report = &v["report"];
    assert_eq!(ids(&report["too_long"]), ["long"], "the long program is listed by name");
    let rolled = ids(&report["programs"]);
    assert_eq!(rolled, ["swap", "vowels", "greet", "dice"], "every other program is rolled out");
    assert_eq!(v["programs"], 7);
    for p in report["programs"].as_array().unwrap() {
        let (steps, predicted) = (p["steps"].as_u64().unwrap(), p["predicted_steps"].as_u64().unwrap());
        assert!(steps > 2 && predicted >= 1, "{p}");
        // An untrained model is wrong early; the report says where and how.
        let first = p["first_divergence"].as_u64().expect("an untrained model diverges");
        assert!(first >= 1 && first <= predicted + 1, "{p}");
        assert!(["action", "state", "stopped"].contains(&p["divergence"].as_str().unwrap()), "{p}");
        assert_eq!(p["exact_to_end"], false);
    }
    assert_eq!(report["rollout_exact_to_end"][1], 4);
    assert!(v.get("by_language").is_none(), "one language, no breakdown: {}", v["by_language"]);

    // A file of several languages is reported per language as well.
    let mixed = std::env::temp_dir().join(format!("curio-mixed-{}.jsonl", std::process::id()));
    let lines = [
        serde_json::json!({"id": "py", "source": "a = 1\nb = a + 2\nprint(b)\n"}),
        serde_json::json!({"id": "lua", "language": "lua", "source": "local a = 1\nlocal b = a + 2\nprint(b)\n"}),
        serde_json::json!({"id": "js", "language": "js", "source": "let a = 1;\nlet b = a + 2;\nconsole.log(b);\n"}),
    ];
    std::fs::write(&mixed, lines.map(|l| l.to_string() + "\n").concat()).unwrap();
    let out =
        curio(&["eval", "--checkpoint", checkpoint.to_str().unwrap(), "--programs", mixed.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parts = v["by_language"].as_object().expect("a breakdown by language");
    assert_eq!(parts.keys().collect::<Vec<_>>(), ["js", "lua", "python"]);
    let transitions: u64 = parts.values().map(|p| p["transitions"].as_u64().unwrap()).sum();
    assert_eq!(transitions, v["report"]["transitions"].as_u64().unwrap());
    assert!(parts.values().all(|p| p["programs"] == 1 && p["transitions"].as_u64().unwrap() >= 3), "{parts:?}");
    // Each rolls out, read in its own language.
    assert_eq!(ids(&v["report"]["programs"]), ["py", "lua", "js"]);

    let bad = std::env::temp_dir().join(format!("curio-bad-{}.jsonl", std::process::id()));
    std::fs::write(&bad, "{\"id\": \"a\", \"source\": \"x = 1\\n\"}\n{\"id\": \"b\"}\n").unwrap();
    let out = curio(&["eval", "--checkpoint", checkpoint.to_str().unwrap(), "--programs", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("line 2: missing field `source`"), "{err}");
}

/// `curio eval --suite chance --seeds S` compares, per program, the
/// outputs of S real runs with the model's drawn rollouts and with two
/// baselines, each as a distance in [0, 1] and a log-likelihood.
#[test]
fn eval_on_the_chance_suite_compares_output_distributions() {
    let checkpoint = small_checkpoint("eval-chance");
    let c = checkpoint.to_str().unwrap();
    let args = ["eval", "--checkpoint", c, "--suite", "chance", "--programs", "2", "--seeds", "6", "--samples", "3"];
    let out = curio(&[&args[..], &["--json"]].concat());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["models"], serde_json::json!(["drawn", "greedy", "pooled"]));
    let programs = v["programs"].as_array().unwrap();
    assert_eq!(programs.len(), 2);
    for p in programs {
        let real: f64 = p["real"].as_array().unwrap().iter().map(|o| o[1].as_f64().unwrap()).sum();
        assert!((real - 1.0).abs() < 1e-9, "the real outputs are a distribution: {p}");
        assert!(p["real"].as_array().unwrap().len() > 1 || p["real"][0][1] == 1.0);
        for k in 0..3 {
            let (tv, ll) = (p["tv"][k].as_f64().unwrap(), p["log_likelihood"][k].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&tv) && ll <= 0.0 && ll >= curio_learner::UNSEEN.ln() - 1e-9, "{p}");
        }
    }
    let text = curio(&args);
    assert!(String::from_utf8_lossy(&text.stdout).contains("TV distance"));
    let wrong = curio(&["eval", "--checkpoint", c, "--suite", "indist", "--seeds", "4"]);
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success() && err.contains("--suite chance"), "{err}");
}

/// `curio predict --json` gives each predicted step with its uncertainty,
/// the predicted stdout and why the rollout ended; with `--compare`, the
/// real stdout and where the rollout first went wrong.
#[test]
fn predict_json_says_how_the_rollout_ended_and_where_it_diverged() {
    let checkpoint = small_checkpoint("predict-json");
    let program = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/fib.py");
    let c = checkpoint.to_str().unwrap();
    let out = curio(&["predict", "--checkpoint", c, program, "--compare", "--json", "--horizon", "12"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = v["steps"].as_array().unwrap();
    assert!(!steps.is_empty() && steps.len() <= 12, "{v}");
    for s in steps {
        let p = s["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p) && s["action_entropy"].as_f64().unwrap() >= 0.0, "{s}");
    }
    let ended = v["ended"].as_str().unwrap();
    assert!(["end", "horizon", "unparsed", "too_long"].contains(&ended), "{ended}");
    // A rollout that stopped before the horizon says so, and it is never
    // reported as free of divergence.
    assert_eq!(ended == "horizon", steps.len() == 12, "{v}");
    assert_eq!(v["real_stdout"], "total 12\n");
    let first = v["first_divergence"]["step"].as_u64().expect("an untrained model diverges");
    assert!(first as usize <= steps.len() + 1);

    // Lua and JavaScript files are read, and run, in their own language.
    let dir = checkpoint.parent().unwrap();
    for (other, source) in [("six.lua", "local a = 2\nprint(a * 3)\n"), ("six.js", "let a = 2;\nconsole.log(a * 3);\n")]
    {
        let file = dir.join(other).to_str().unwrap().to_string();
        std::fs::write(&file, source).unwrap();
        let out = curio(&["predict", "--checkpoint", c, &file, "--compare", "--json", "--horizon", "4"]);
        assert!(out.status.success(), "{other}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["real_stdout"], "6\n", "{other} ran in its own language");
        let asked = curio(&["ask", "output", "--checkpoint", c, &file, "--json", "--horizon", "4", "--samples", "2"]);
        assert!(asked.status.success(), "{other}: {}", String::from_utf8_lossy(&asked.stderr));
        let searched = curio(&["ask", "input", "--checkpoint", c, &file, "--output", "1", "--checks", "1"]);
        let err = String::from_utf8_lossy(&searched.stderr);
        assert!(!searched.status.success() && err.contains("Python"), "{other}: {err}");
    }

    let text = curio(&["predict", "--checkpoint", c, program, "--compare", "--horizon", "12"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("the rollout ") && text.contains("is the first divergence"), "{text}");
    // Drawn rollouts: one seed draws the same again; the outputs are a
    // distribution over what they printed, with the real output's share.
    let drawn = |seed: &str| {
        let args = ["predict", "--checkpoint", c, program, "--compare", "--json", "--horizon", "12"];
        let out = curio(&[&args[..], &["--samples", "6", "--temperature", "1.5", "--seed", seed]].concat());
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let (a, b) = (drawn("4"), drawn("4"));
    assert_eq!(a["samples"], b["samples"]);
    assert_eq!(a["samples"].as_array().unwrap().len(), 6);
    let outputs = a["outputs"].as_array().unwrap();
    let total: f64 = outputs.iter().map(|o| o["probability"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9, "{outputs:?}");
    let real = outputs.iter().find(|o| o["stdout"] == "total 12\n").map_or(0.0, |o| o["probability"].as_f64().unwrap());
    assert_eq!(a["real_stdout_probability"].as_f64(), Some(real));
    let refused = curio(&["predict", "--checkpoint", c, program, "--samples", "2", "--temperature", "0"]);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && err.contains("temperature must be positive"), "{err}");
}

/// `curio eval --rank N` ranks each program that ends among its mutants,
/// with the model's, random and shortest-first top-1 and AUROC, and says
/// why each other program was left out.
#[test]
fn eval_rank_orders_each_program_among_its_mutants_against_two_baselines() {
    let checkpoint = small_checkpoint("eval-rank");
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/programs/real.jsonl");
    let c = checkpoint.to_str().unwrap();
    let out = curio(&["eval", "--checkpoint", c, "--programs", file, "--rank", "3", "--samples", "1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let skipped: Vec<(&str, &str)> = r["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["why"].as_str().unwrap()))
        .collect();
    let (problems, candidates) = (r["problems"].as_u64().unwrap(), r["candidates"].as_u64().unwrap());
    assert_eq!(problems as usize + skipped.len(), 7, "every program accounted for: {r}");
    assert!(skipped.contains(&("forever", "its run did not end normally")), "{r}");
    assert!(skipped.contains(&("broken", "its run did not end normally")), "{r}");
    assert!(skipped.contains(&("long", "too long to read")), "the small model reads two chunks: {r}");
    assert!(problems >= 3 && candidates > problems && candidates <= problems * 4, "{r}");
    assert!(r["right_candidates"].as_u64().unwrap() >= problems, "each program is right about itself: {r}");
    for order in ["model", "random", "shortest_first"] {
        let top1 = r[order]["top1"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&top1), "{order}: {r}");
    }
    assert!((0.0..=1.0).contains(&r["output_exact"].as_f64().unwrap()), "{r}");
    assert_eq!(r["random"]["auroc"].as_f64(), Some(0.5));
}
