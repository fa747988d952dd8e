//! The model as an oracle, trained for real: a small model trained on runs
//! of programs that draw from `random` and programs that print what they
//! assign. Its drawn rollouts put mass on every value `randint(1, 3)` can
//! draw, its ranking puts the real program first where it predicts every
//! candidate right, the least likely step of a run is the draw, and
//! `curio ask` gives the same answers from a checkpoint.

use std::path::PathBuf;
use std::sync::OnceLock;

use curio_interpreter_pool::Execution;
use curio_learner::{Asking, Code, Example, Learner, ModelConfig, TrainConfig, Trainer, examples};
use curio_tests::sandbox;
use curio_trace::Run;
use tch::Device;

const DRAW: &str = "import random\nx = random.randint(1, 3)\nprint(x)\n";

/// Programs that draw one number and print it, under many seeds.
fn chance_runs() -> Vec<Run> {
    let mut out = vec![];
    for name in ["x", "roll", "n"] {
        for top in [3, 6] {
            let source = format!("import random\n{name} = random.randint(1, {top})\nprint({name})\n");
            for seed in 0..16 {
                let trace = sandbox().execute(&Execution { seed, ..Execution::python(source.clone()) }).unwrap();
                out.push(Run {
                    language: curio_trace::Language::Python,
                    source: source.clone(),
                    input: String::new(),
                    steps: trace.steps,
                });
            }
        }
    }
    out
}

/// Programs that assign words and print one of them.
fn copy_source(first: (&str, &str), second: Option<(&str, &str)>, printed: &str) -> String {
    let mut s = format!("{} = '{}'\n", first.0, first.1);
    if let Some((name, word)) = second {
        s += &format!("{name} = '{word}'\n");
    }
    s + &format!("print({printed})\n")
}

fn copy_runs() -> Vec<Run> {
    let words = ["red", "rod", "blue", "tea", "moss", "ink", "sky", "ash", "fig", "oak"];
    let names = ["colour", "shade", "word", "tone"];
    let mut out = vec![];
    for (i, w) in words.iter().enumerate() {
        for (j, n) in names.iter().enumerate() {
            let other = (names[(j + 1) % names.len()], words[(i + 3) % words.len()]);
            for source in [copy_source((n, w), None, n), copy_source((n, w), Some(other), other.0)] {
                let trace = sandbox().execute(&Execution::python(source.clone())).unwrap();
                out.push(Run {
                    language: curio_trace::Language::Python,
                    source,
                    input: String::new(),
                    steps: trace.steps,
                });
            }
        }
    }
    out
}

/// The trained model's checkpoint, trained once per test binary.
fn trained() -> &'static PathBuf {
    static CHECKPOINT: OnceLock<PathBuf> = OnceLock::new();
    CHECKPOINT.get_or_init(|| {
        tch::manual_seed(3);
        tch::set_num_threads(2);
        let runs: Vec<Run> = chance_runs().into_iter().chain(copy_runs()).collect();
        let data: Vec<Example> = runs.iter().flat_map(|r| examples(&r.source, &r.input, &r.steps, &[1])).collect();
        let config =
            ModelConfig { n_embd: 64, n_head: 4, n_layer: 2, block_size: 512, dropout: 0.0, ..ModelConfig::default() };
        let learner = Learner::new(config, Device::Cpu).unwrap();
        let mut trainer =
            Trainer::new(learner, TrainConfig { lr: 3e-3, warmup: 20, ..TrainConfig::default() }).unwrap();
        for step in 0..400usize {
            let rows: Vec<Example> = (0..16).map(|j| data[(step * 16 + j) * 7919 % data.len()].clone()).collect();
            let stats = trainer.step(&rows).unwrap();
            if step % 100 == 0 {
                eprintln!("step {step}: action {:.3} delta {:.3}", stats.action_loss, stats.delta_loss);
            }
        }
        let dir = std::env::temp_dir().join(format!("curio-ask-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("model.safetensors");
        trainer.averaged().save(&path).unwrap();
        path
    })
}

fn model() -> Learner {
    Learner::load(trained(), Device::Cpu, None).unwrap()
}

fn real_output(source: &str) -> String {
    sandbox().execute(&Execution::python(source)).unwrap().stdout
}

#[test]
fn drawn_rollouts_put_mass_on_every_value_randint_can_draw() {
    let learner = model();
    let asking = Asking { samples: 48, horizon: 12, seed: 5, ..Asking::default() };
    let e =
        curio_learner::expect_output(&learner.model, (Code::python(DRAW), ""), asking, Device::Cpu, |_| false).unwrap();
    let share = |v: &str| e.outputs.iter().filter(|(o, _)| o.trim_end() == v).map(|(_, p)| p).sum::<f64>();
    eprintln!("outputs: {:?}", e.outputs);
    for v in ["1", "2", "3"] {
        assert!(share(v) >= 0.1, "{v} drawn in {:.2} of the rollouts: {:?}", share(v), e.outputs);
    }
    assert!(share("1") + share("2") + share("3") >= 0.8, "{:?}", e.outputs);
    // Greedy decoding says one of them, and most draws disagree with it.
    assert!(["1", "2", "3"].contains(&e.stdout().trim_end()), "{:?}", e.stdout());
    assert!(e.confidence < 0.7, "greedy is one value of three: {}", e.confidence);
}

#[test]
fn ranking_puts_the_real_program_first_where_the_model_predicts_every_candidate() {
    let learner = model();
    let real = copy_source(("colour", "red"), None, "colour");
    let mutants = [
        copy_source(("colour", "rod"), None, "colour"),
        copy_source(("colour", "red"), Some(("shade", "blue")), "shade"),
        copy_source(("colour", "tea"), None, "colour"),
    ];
    let expected = real_output(&real);
    assert_eq!(expected, "red\n");
    let asking = Asking { samples: 8, horizon: 12, ..Asking::default() };
    // The case: the model's greedy rollouts print what each candidate prints.
    for source in std::iter::once(&real).chain(&mutants) {
        let e =
            curio_learner::expect_output(&learner.model, (Code::python(source), ""), asking, Device::Cpu, |_| false)
                .unwrap();
        assert_eq!(e.stdout(), real_output(source), "the model predicts this candidate:\n{source}");
    }
    let candidates: Vec<(Code<'_>, &str)> =
        [&mutants[0], &mutants[1], &real, &mutants[2]].iter().map(|s| (Code::python(s), "")).collect();
    let ranked = curio_learner::rank(&learner.model, &candidates, "red", asking, Device::Cpu, |_| false).unwrap();
    eprintln!("{ranked:?}");
    assert_eq!(ranked[0].index, 2, "the real program first");
    assert!(ranked[0].probability >= 0.5 && ranked[1..].iter().all(|r| r.probability < ranked[0].probability));
}

#[test]
fn the_least_likely_step_of_a_draw_is_the_draw() {
    let learner = model();
    let trace = sandbox().execute(&Execution { seed: 11, ..Execution::python(DRAW) }).unwrap();
    let run =
        Run { language: curio_trace::Language::Python, source: DRAW.into(), input: String::new(), steps: trace.steps };
    let s = curio_learner::surprise(&learner.model, &run, 1, Device::Cpu, |_| false).unwrap();
    let top = s.top(1)[0];
    eprintln!("{:?}", s.steps);
    assert_eq!(top.line, 2, "the step that ran `x = random.randint(1, 3)`");
    assert!(top.state_nats > 0.5, "a value of three is never sure: {:.2} nats", top.state_nats);
    let drawn = trace.stdout.trim_end().to_string();
    assert_eq!(top.real, format!("+x={drawn}\n"), "the real delta sets the drawn value");
    assert!(top.expected.is_some());
}

/// What the sandbox prints for `source`, where it ends normally.
fn printed(source: &str, input: &str) -> Result<Option<String>, std::convert::Infallible> {
    let trace = sandbox().execute(&Execution { input: input.into(), ..Execution::python(source) }).unwrap();
    Ok(matches!(trace.status, curio_interpreter_pool::Status::Ok).then_some(trace.stdout))
}

#[test]
fn the_input_search_finds_an_input_the_model_foresees_and_the_sandbox_confirms() {
    let learner = model();
    let start = copy_source(("colour", "red"), None, "colour");
    let wanted = copy_source(("colour", "tea"), None, "colour");
    // The case: the model foresees what the wanted input prints.
    let asking = Asking { samples: 2, horizon: 12, ..Asking::default() };
    let e = curio_learner::expect_output(&learner.model, (Code::python(&wanted), ""), asking, Device::Cpu, |_| false)
        .unwrap();
    assert_eq!(e.stdout(), "tea\n");
    let searching = curio_learner::Searching { checks: 6, proposals: 12, asking, ..Default::default() };
    let mut runs = 0;
    let check = |s: &str, i: &str| {
        runs += 1;
        printed(s, i)
    };
    let found =
        curio_learner::search_input(&learner.model, (&start, ""), "tea", searching, Device::Cpu, check, |_| false);
    let found = found.unwrap();
    eprintln!("{:?}", found.tried);
    assert_eq!(runs, found.tried.len(), "every run is reported");
    let answer = found.found().expect("found within six runs");
    assert_eq!(answer.source, wanted);
    assert!(answer.belief.unwrap() >= 0.5, "the model believed it before it ran: {:?}", answer.belief);
    assert!(found.scored >= 12 && found.tried[..found.tried.len() - 1].iter().all(|t| !t.right));

    // Without the model, the beam and the random changes spend their runs
    // and stop at the budget (one string cannot print two lines).
    let climb = curio_learner::climb_search((&start, ""), "one\ntwo", searching, printed).unwrap();
    assert_eq!((climb.tried.len(), climb.scored), (6, 0));
    assert!(climb.tried.iter().all(|t| t.belief.is_none() && !t.right));
    let blind = curio_learner::blind_search((&start, ""), "one\ntwo", 5, 3, printed).unwrap();
    assert_eq!(blind.tried.len(), 5);
    assert!(blind.found().is_none() && blind.tried.iter().all(|t| t.belief.is_none() && !t.right));
    let distinct: std::collections::HashSet<&String> = blind.tried.iter().map(|t| &t.source).collect();
    assert_eq!(distinct.len(), 5, "no input is run twice");
    for t in &blind.tried {
        assert!(t.source.ends_with("'\nprint(colour)\n") && t.source != start, "{}", t.source);
        assert_eq!(t.printed, printed(&t.source, "").unwrap(), "what the sandbox printed");
    }
}

fn curio(args: &[&str]) -> serde_json::Value {
    let out =
        std::process::Command::new(curio_tests::curio_bin()).args(args).env("CURIO_THREADS", "1").output().unwrap();
    assert!(out.status.success(), "curio {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn curio_ask_answers_from_a_checkpoint() {
    let c = trained().to_str().unwrap();
    let dir = trained().parent().unwrap();
    let draw = dir.join("draw.py");
    std::fs::write(&draw, DRAW).unwrap();
    let (real, mutant) = (dir.join("real.py"), dir.join("mutant.py"));
    std::fs::write(&real, copy_source(("shade", "ink"), None, "shade")).unwrap();
    std::fs::write(&mutant, copy_source(("shade", "ink"), Some(("tone", "oak")), "tone")).unwrap();
    let d = draw.to_str().unwrap();

    let out = curio(&["ask", "output", "--checkpoint", c, d, "--samples", "24", "--horizon", "12", "--json"]);
    let outputs = out["outputs"].as_array().unwrap();
    let total: f64 = outputs.iter().map(|o| o["probability"].as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-9 && outputs.len() >= 2, "{out}");
    assert!((0.0..=1.0).contains(&out["confidence"].as_f64().unwrap()) && out["ended"] == "end", "{out}");

    let files = [mutant.to_str().unwrap(), real.to_str().unwrap()];
    let out =
        curio(&["ask", "rank", "--checkpoint", c, "--output", "ink", "--samples", "4", "--json", files[0], files[1]]);
    let order: Vec<&str> = out["ranking"].as_array().unwrap().iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(order, [files[1], files[0]], "{out}");

    let out = curio(&["ask", "surprise", "--checkpoint", c, d, "--run-seed", "4", "--top", "2", "--json"]);
    // Four transitions: into line 1, to lines 2 and 3, and to the return.
    let read = (out["status"].as_str(), out["steps"].as_u64(), out["unread"].as_u64());
    assert_eq!(read, (Some("ok"), Some(4), Some(0)), "{out}");
    let top = out["top"].as_array().unwrap();
    assert_eq!(top.len(), 2, "{out}");
    assert_eq!((top[0]["line"].as_u64(), top[0]["code"].as_str()), (Some(2), Some("x = random.randint(1, 3)")));
    assert!(top[0]["nats"].as_f64() >= top[1]["nats"].as_f64() && top[0]["expected"].is_object(), "{out}");

    let start = dir.join("start.py");
    std::fs::write(&start, copy_source(("word", "ink"), None, "word")).unwrap();
    let s = start.to_str().unwrap();
    let out =
        curio(&["ask", "input", "--checkpoint", c, s, "--output", "oak", "--checks", "4", "--horizon", "12", "--json"]);
    let tried = out["tried"].as_array().unwrap();
    assert!(!tried.is_empty() && tried.len() <= 4 && out["search"] == "model", "{out}");
    if out["found"] == true {
        let answer = out["source"].as_str().unwrap();
        assert_eq!(real_output(answer), "oak\n", "{out}");
    }
    for t in tried {
        let lines = t["changed_lines"].as_array().unwrap();
        assert_eq!(lines.len(), 1, "one line changed: {out}");
        assert_eq!(lines[0][0].as_u64(), Some(1), "the literal's line: {out}");
    }
    for search in ["climb", "blind"] {
        let out = curio(&[
            "ask",
            "input",
            "--checkpoint",
            c,
            s,
            "--output",
            "oak",
            "--checks",
            "3",
            "--search",
            search,
            "--json",
        ]);
        assert_eq!((out["search"].as_str(), out["scored"].as_u64()), (Some(search), Some(0)), "{out}");
        assert!(out["tried"].as_array().unwrap().iter().all(|t| t["belief"].is_null()), "{out}");
    }

    // A temperature that is not a positive number is refused with the flag to fix.
    let refused = std::process::Command::new(curio_tests::curio_bin())
        .args(["ask", "output", "--checkpoint", c, d, "--temperature", "0"])
        .output()
        .unwrap();
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--temperature"));
}
