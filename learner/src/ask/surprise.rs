//! Surprise: how unlikely each step of a real run was under the model,
//! teacher-forced (each step read from the true state before it), and
//! what the model expected instead at the least likely ones.

use curio_trace::Run;
use tch::{Device, Kind};

use crate::data::{Example, Unrolled, collate};
use crate::infer::predict;
use crate::model::{ModelError, WorldModel};

/// Transitions read in one forward pass.
const BATCH: usize = 32;

/// One step of a real run and how unlikely the model found it.
#[derive(Clone, Debug, PartialEq)]
pub struct Surprising {
    /// The step (1-based: the first transition leads to step 1).
    pub step: usize,
    /// The line it ran from (1-based).
    pub line: u32,
    /// Minus the log-probability of the real action (event and next
    /// line), nats.
    pub action_nats: f64,
    /// Minus the log-probability of the real state change given that
    /// action (the working the line calls for and the delta's bytes),
    /// nats.
    pub state_nats: f64,
    /// The real next line (1-based).
    pub next_line: usize,
    /// The real delta, as text.
    pub real: String,
    /// What the model predicted from the same state, as (next line,
    /// delta text): filled in for the steps [`surprise`] was asked to
    /// explain.
    pub expected: Option<(usize, String)>,
}

impl Surprising {
    /// Both parts: minus the log-probability of the step, nats.
    pub fn nats(&self) -> f64 {
        self.action_nats + self.state_nats
    }
}

/// A run's surprise, step by step.
#[derive(Clone, Debug, Default)]
pub struct Surprise {
    /// Every step the model could read, in order.
    pub steps: Vec<Surprising>,
    /// Steps whose state was too long for the model to read (not scored).
    pub unread: usize,
}

impl Surprise {
    /// Mean nats per scored step: the run's surprise as one number (what
    /// the loop ranks programs by and the dashboard shows); 0 with no step
    /// scored.
    pub fn per_step(&self) -> f64 {
        match self.steps.len() {
            0 => 0.0,
            n => self.steps.iter().map(Surprising::nats).sum::<f64>() / n as f64,
        }
    }

    /// The `n` least likely steps, the least likely first.
    pub fn top(&self, n: usize) -> Vec<&Surprising> {
        let mut order: Vec<&Surprising> = self.steps.iter().collect();
        order.sort_by(|a, b| b.nats().total_cmp(&a.nats()));
        order.truncate(n);
        order
    }
}

/// How unlikely each step of `run` was under the model, one forward pass
/// per [`BATCH`] steps; the `explain` least likely get the model's own
/// prediction beside them ([`Surprising::expected`]). `stop(scored)`,
/// asked before each pass, ends the scoring there (a deadline): the
/// steps scored by then are returned.
pub fn surprise(
    model: &WorldModel,
    run: &Run,
    explain: usize,
    device: Device,
    mut stop: impl FnMut(usize) -> bool,
) -> Result<Surprise, ModelError> {
    let window = model.config.window();
    let unrolled = Unrolled::new(run.clone());
    let mut rows: Vec<(usize, Example)> = vec![];
    let mut unread = 0;
    for t in 0..unrolled.len().saturating_sub(1) {
        match unrolled.example(t, 1) {
            Some(e) if window.fits(&e) => rows.push((t, e)),
            _ => unread += 1,
        }
    }
    let rows: Vec<(usize, Example)> = match model.config.working {
        true => rows,
        false => rows.into_iter().map(|(t, e)| (t, e.unworked())).collect(),
    };
    let mut steps = Vec::with_capacity(rows.len());
    tch::no_grad(|| -> Result<(), ModelError> {
        for chunk in rows.chunks(BATCH) {
            if stop(steps.len()) {
                break;
            }
            let examples: Vec<Example> = chunk.iter().map(|(_, e)| e.clone()).collect();
            let batch = collate(&examples, window, device);
            let losses = model.losses(&batch, &model.forward(&batch, false)?)?;
            let action = Vec::<f64>::try_from(&losses.action.to_kind(Kind::Double).to(Device::Cpu))?;
            let state = Vec::<f64>::try_from(&losses.delta_sum.to_kind(Kind::Double).to(Device::Cpu))?;
            for (j, (t, e)) in chunk.iter().enumerate() {
                steps.push(Surprising {
                    step: t + 1,
                    line: run.steps[*t].line,
                    action_nats: action[j],
                    state_nats: state[j],
                    next_line: e.line + 1,
                    real: String::from_utf8_lossy(&e.target).into_owned(),
                    expected: None,
                });
            }
        }
        Ok(())
    })?;
    let mut surprise = Surprise { steps, unread };
    let asked: Vec<usize> = surprise.top(explain).iter().map(|s| s.step).collect();
    let queries: Vec<Example> = asked
        .iter()
        .map(|&step| rows.iter().find(|(t, _)| t + 1 == step).expect("a scored step has its row").1.clone())
        .collect();
    let predicted = if queries.is_empty() { vec![] } else { predict(model, &queries, device)? };
    for (step, p) in asked.iter().zip(predicted) {
        let s = surprise.steps.iter_mut().find(|s| s.step == *step).expect("asked of the scored steps");
        s.expected = Some((p.line + 1, String::from_utf8_lossy(&p.delta).into_owned()));
    }
    Ok(surprise)
}
