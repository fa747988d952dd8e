use super::*;
use crate::data::{collate, examples, module_step};
use crate::foresee::End;
use crate::model::{Learner, ModelConfig};
use curio_trace::Run;
use tch::Kind;

/// A fresh one-layer model 32 wide.
fn tiny() -> WorldModel {
    tch::manual_seed(11);
    let config = ModelConfig { n_embd: 32, n_head: 2, n_layer: 1, block_size: 512, chunk: 0, ..ModelConfig::default() };
    Learner::new(config, Device::Cpu).unwrap().model
}

fn counting() -> Run {
    let steps = vec![module_step(0, 1, "0"), module_step(1, 2, "0"), module_step(2, 3, "1"), module_step(3, 2, "1")];
    Run {
        language: curio_trace::Language::Python,
        source: "x = 0\nx = x + 1\nx = x * 3\n".into(),
        input: String::new(),
        steps,
    }
}

#[test]
fn closeness_is_one_for_the_same_output_and_falls_with_each_edit() {
    assert_eq!(closeness("3\n", "3"), 1.0, "whitespace at the end is not compared");
    assert_eq!(closeness("", ""), 1.0);
    assert_eq!(closeness("abcd", "abce"), 0.75);
    assert_eq!(closeness("ab", "abcd"), 0.5);
    assert_eq!(closeness("xyz", ""), 0.0);
    let long = "a".repeat(3000);
    let longer = "a".repeat(4000);
    // Past the compared 2 048 bytes the tails are compared in place.
    assert!((closeness(&long, &longer) - 0.75).abs() < 1e-9, "{}", closeness(&long, &longer));
    assert_eq!(closeness(&longer, &longer), 1.0);
    let changed = format!("{}b{}", "a".repeat(3000), "a".repeat(999));
    assert!((closeness(&changed, &longer) - (1.0 - 1.0 / 4000.0)).abs() < 1e-9);
    assert!(same_output("1\n2\n", "1\n2") && !same_output("1", "2"));
}

#[test]
fn surprise_is_each_real_steps_minus_log_probability_under_the_model() {
    let model = tiny();
    let run = counting();
    let s = surprise(&model, &run, 2, Device::Cpu, |_| false).unwrap();
    assert!(surprise(&model, &run, 2, Device::Cpu, |_| true).unwrap().steps.is_empty(), "stopped before any pass");
    let ex = examples(&run.source, "", &run.steps, &[1]);
    assert_eq!((s.steps.len(), s.unread), (ex.len(), 0));
    assert_eq!(s.steps.iter().map(|x| x.step).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(s.steps.iter().map(|x| x.line).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(s.steps.iter().map(|x| x.next_line).collect::<Vec<_>>(), [2, 3, 2]);
    // The action part is -log p(event) - log p(line), read off one pass.
    let batch = collate(&ex, model.config.window(), Device::Cpu);
    let out = tch::no_grad(|| model.forward(&batch, false)).unwrap();
    let (ep, lp) = (out.event_logits.log_softmax(-1, Kind::Double), out.line_logits.log_softmax(-1, Kind::Double));
    for (r, (e, step)) in ex.iter().zip(&s.steps).enumerate() {
        let want = -ep.double_value(&[r as i64, e.event as i64]) - lp.double_value(&[r as i64, e.line as i64]);
        assert!((step.action_nats - want).abs() < 1e-4, "step {}: {} vs {want}", step.step, step.action_nats);
        assert!(step.state_nats > 0.0, "an untrained model is unsure of every byte");
    }
    // The two least likely are explained, the least likely first.
    let top = s.top(2);
    assert!(top[0].nats() >= top[1].nats() && top[1].nats() >= s.top(3)[2].nats());
    assert!(top.iter().all(|x| x.expected.is_some()));
    assert_eq!(s.steps.iter().filter(|x| x.expected.is_some()).count(), 2);
    let mean = s.steps.iter().map(Surprising::nats).sum::<f64>() / 3.0;
    assert!((s.per_step() - mean).abs() < 1e-9);
    assert_eq!(Surprise::default().per_step(), 0.0);
}

#[test]
fn a_ranking_orders_every_candidate_once_by_score() {
    let model = tiny();
    let py = crate::Code::python;
    let candidates = [(py("print(1)\n"), ""), (py("x = 2\nprint(x)\n"), ""), (py("print(input())\n"), "3\n")];
    let asking = Asking { samples: 3, horizon: 6, ..Asking::default() };
    let ranked = rank(&model, &candidates, "1", asking, Device::Cpu, |_| false).unwrap();
    let mut seen: Vec<usize> = ranked.iter().map(|r| r.index).collect();
    seen.sort();
    assert_eq!(seen, [0, 1, 2]);
    assert!(ranked.windows(2).all(|w| w[0].score >= w[1].score));
    for r in &ranked {
        assert!((0.0..=1.0).contains(&r.probability) && (0.0..=1.0).contains(&r.closeness));
        let (hits, n) = (r.probability * 3.0, 3.0);
        assert!((hits - hits.round()).abs() < 1e-9 && hits <= n, "a share of three draws");
        assert!(r.closeness >= closeness(&r.printed, "1"), "the nearest rollout is at least the greedy one");
    }
    // The same seed draws the same rollouts.
    let again = rank(&model, &candidates, "1", asking, Device::Cpu, |_| false).unwrap();
    assert_eq!(ranked, again);
}

#[test]
fn an_expected_output_is_the_greedy_rollouts_with_the_share_of_draws_that_agree() {
    let model = tiny();
    let asking = Asking { samples: 4, horizon: 5, ..Asking::default() };
    let e =
        expect_output(&model, (crate::Code::python("x = 1\nprint(x)\n"), ""), asking, Device::Cpu, |_| false).unwrap();
    assert_eq!(e.drawn.len(), 4);
    assert!(e.greedy.steps.len() <= 5 && e.drawn.iter().all(|f| f.steps.len() <= 5));
    let agree = e.drawn.iter().filter(|f| prints(f, &e.stdout())).count();
    let want = if e.greedy.end == End::Ended { agree as f64 / 4.0 } else { 0.0 };
    assert_eq!(e.confidence, want, "only rollouts that reach the end agree");
    assert!((e.outputs.iter().map(|(_, p)| p).sum::<f64>() - 1.0).abs() < 1e-9);
    let alone = expect_output(
        &model,
        (crate::Code::python("x = 1\n"), ""),
        Asking { samples: 0, ..asking },
        Device::Cpu,
        |_| false,
    );
    let alone = alone.unwrap();
    assert!(alone.drawn.is_empty() && alone.outputs.is_empty());
    let product: f64 = alone.greedy.steps.iter().map(|(_, p)| p.confidence).product();
    assert_eq!(alone.confidence, if alone.greedy.end == End::Ended { product } else { 0.0 });
    // A deadline stops every rollout where it passes.
    let cut =
        expect_output(&model, (crate::Code::python("x = 1\nprint(x)\n"), ""), asking, Device::Cpu, |h| h >= 2).unwrap();
    assert!(cut.greedy.steps.len() <= 2 && cut.drawn.iter().all(|f| f.steps.len() <= 2));
}

#[test]
fn auroc_is_the_chance_a_positive_outscores_a_negative() {
    assert_eq!(auroc(&[0.9, 0.1, 0.5], &[true, false, false]), Some(1.0));
    assert_eq!(auroc(&[0.1, 0.9, 0.5], &[true, false, false]), Some(0.0));
    assert_eq!(auroc(&[0.5, 0.5, 0.7], &[true, false, false]), Some(0.25), "a tie counts half");
    assert_eq!(auroc(&[0.5, 0.5], &[true, true]), None, "no negative");
}
