//! One execution: a fresh wasmtime store around the host state a guest
//! sees (a WASI context with no files, no sockets, an empty environment,
//! seeded entropy and virtual clocks; a memory cap; the host imports the
//! tracer calls), the trace as it streams in, and how the run's ending,
//! whether the guest returned or was stopped, becomes a [`Status`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use thiserror::Error;
use wasmtime::component::ResourceTable;
use wasmtime::{Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::check::{Rules, Violation};
use crate::sandbox::{EPOCH_TICK, SandboxConfig, SandboxError, TracerPre, curio};
use crate::trace::{GuestEvent, GuestSummary};
use curio_trace::{ErrorInfo, Execution, Status, Step, Trace};

/// Runs `exec` in a fresh store of `engine`, instantiated from `pre`, for at
/// most its wall-clock limit plus one epoch tick.
pub(crate) fn execute(
    engine: &Engine,
    pre: &TracerPre<Host>,
    exec: &Execution,
    config: &SandboxConfig,
) -> Result<Trace, SandboxError> {
    let started = Instant::now();
    let mut store = new_store(engine, exec, config, started);
    let outcome = pre.instantiate(&mut store).map(|tracer| {
        let instantiated = started.elapsed();
        let ran = tracer.call_run(&mut store, &exec.source, &exec.input, exec.seed, config.repr_cap);
        (instantiated, ran)
    });
    conclude(store, exec, started, outcome)
}

/// A fresh store for one execution: the host state, the memory cap and the
/// wall-clock limit (plus one epoch tick).
pub(crate) fn new_store(engine: &Engine, exec: &Execution, config: &SandboxConfig, started: Instant) -> Store<Host> {
    let mut store = Store::new(engine, Host::new(exec, config, started));
    store.limiter(|h| &mut h.memory);
    store.set_epoch_deadline(exec.limits.timeout.div_duration_f64(EPOCH_TICK).ceil() as u64 + 1);
    store.epoch_deadline_trap();
    store
}

/// The trace of a run: `outcome` is the time to instantiate and what the
/// guest's run returned (its summary), or why instantiating failed.
pub(crate) fn conclude(
    store: Store<Host>,
    exec: &Execution,
    started: Instant,
    outcome: wasmtime::Result<(Duration, wasmtime::Result<String>)>,
) -> Result<Trace, SandboxError> {
    let (instantiate, ran) = match outcome {
        Ok((instantiated, ran)) => (instantiated, ran),
        Err(e) => (started.elapsed(), Err(e)),
    };
    let mut host = store.into_data();
    let ending = match ran {
        Ok(summary) => host.finish(&summary)?,
        Err(e) => host.classify(e)?,
    };
    Ok(host.into_trace(exec, ending, started.elapsed(), instantiate))
}

/// Feeds what a guest would send (events, then the summary of a run that
/// returned) through the same host checks as [`Sandbox::execute`](crate::Sandbox::execute), without
/// a guest: the fuzz targets' way into the trace decoding.
pub(crate) fn replay_guest_output(
    exec: &Execution,
    config: &SandboxConfig,
    events: &[&str],
    summary: &str,
) -> Result<Trace, SandboxError> {
    let started = Instant::now();
    let mut host = Host::new(exec, config, started);
    let stopped = events.iter().find_map(|raw| host.record(raw).err());
    let ending = match stopped {
        Some(stop) => host.classify(stop.into())?,
        None => host.finish(summary)?,
    };
    Ok(host.into_trace(exec, ending, started.elapsed(), Duration::ZERO))
}

/// Why the host stopped a guest from inside an import.
#[derive(Debug, Error)]
pub(crate) enum Stop {
    #[error("step limit reached")]
    Steps,
    #[error("output limit reached")]
    Output,
    #[error("wall-clock limit reached while sleeping")]
    Timeout,
    #[error("the guest's report broke the host's rules: {0}")]
    Tampered(String),
}

impl From<Violation> for Stop {
    fn from(v: Violation) -> Self {
        Stop::Tampered(v.0)
    }
}

/// A linear-memory cap that remembers whether it refused anything.
#[derive(Debug)]
struct MemoryCap {
    max: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.max {
            self.denied = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Deterministic clocks: they start at a fixed instant and advance 1 µs per
/// reading, so a program that reads the time still traces the same way twice.
#[derive(Debug, Default)]
struct VirtualClock(AtomicU64);

const VIRTUAL_EPOCH: Duration = Duration::from_secs(1_704_067_200); // 2024-01-01T00:00:00Z

impl VirtualClock {
    fn tick(&self) -> u64 {
        self.0.fetch_add(1_000, Ordering::Relaxed)
    }
}

impl HostWallClock for VirtualClock {
    fn resolution(&self) -> Duration {
        Duration::from_micros(1)
    }
    fn now(&self) -> Duration {
        VIRTUAL_EPOCH + Duration::from_nanos(self.tick())
    }
}

impl HostMonotonicClock for VirtualClock {
    fn resolution(&self) -> u64 {
        1_000
    }
    fn now(&self) -> u64 {
        self.tick()
    }
}

/// Per-execution host state: the WASI context (no files, no sockets, empty
/// environment, seeded entropy) and the trace as it streams in.
pub(crate) struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    deadline: Instant,
    max_steps: u64,
    output_cap: u64,
    max_trace_bytes: u64,
    steps: Vec<Step>,
    step_count: u64,
    stdout: String,
    trace_bytes: u64,
    truncated: bool,
    rules: Rules,
    /// The wall and monotonic clocks of a core-module guest, which reads
    /// them through [`Host::read_clock`] (a component's are in `wasi`).
    clocks: (VirtualClock, VirtualClock),
    /// What a core-module guest handed to its `finish` import.
    pub(crate) summary: Option<String>,
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl Host {
    fn new(exec: &Execution, config: &SandboxConfig, started: Instant) -> Self {
        let wasi = WasiCtxBuilder::new()
            .secure_random(StdRng::seed_from_u64(exec.seed))
            .insecure_random(StdRng::seed_from_u64(exec.seed.rotate_left(32)))
            .insecure_random_seed(u128::from(exec.seed))
            .wall_clock(VirtualClock::default())
            .monotonic_clock(VirtualClock::default())
            .build();
        Host {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap { max: exec.limits.memory_bytes as usize, denied: false },
            deadline: started + exec.limits.timeout,
            max_steps: u64::from(exec.limits.max_steps),
            output_cap: exec.limits.output_bytes,
            max_trace_bytes: config.max_trace_bytes,
            steps: Vec::new(),
            step_count: 0,
            stdout: String::new(),
            trace_bytes: 0,
            truncated: false,
            rules: Rules::new(exec.language, &exec.source, config.repr_cap),
            clocks: Default::default(),
            summary: None,
        }
    }

    /// A core-module guest's reading of its wall clock (`realtime`, in
    /// nanoseconds since the Unix epoch) or its monotonic one: the same
    /// virtual clocks the component guest gets.
    pub(crate) fn read_clock(&self, realtime: bool) -> u64 {
        if realtime {
            HostWallClock::now(&self.clocks.0).as_nanos() as u64
        } else {
            HostMonotonicClock::now(&self.clocks.1)
        }
    }

    /// Appends program output; stops the guest once the cap is passed,
    /// keeping exactly `output_cap` bytes (cut at a character boundary).
    pub(crate) fn push_stdout(&mut self, text: &str) -> Result<(), Stop> {
        let room = self.output_cap.saturating_sub(self.stdout.len() as u64) as usize;
        if text.len() <= room {
            self.stdout.push_str(text);
            return Ok(());
        }
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        self.stdout.push_str(&text[..cut]);
        Err(Stop::Output)
    }

    pub(crate) fn record(&mut self, raw: &str) -> Result<bool, Stop> {
        let parsed: GuestEvent = serde_json::from_str(raw)
            .map_err(|e| Stop::Tampered(format!("an event that is not the protocol's: {e}")))?;
        self.rules.event(&parsed)?;
        let GuestEvent(event, line, function, depth, locals, stdout, value) = parsed;
        self.push_stdout(&stdout)?;
        if self.step_count >= self.max_steps {
            return Err(Stop::Steps);
        }
        self.step_count += 1;
        if !self.truncated && self.trace_bytes + raw.len() as u64 > self.max_trace_bytes {
            self.truncated = true;
        }
        if !self.truncated {
            self.trace_bytes += raw.len() as u64;
            let step = self.steps.len() as u32;
            let locals = locals.unwrap_or_default();
            self.steps.push(Step { step, event, line, function, depth, locals, stdout, value });
        }
        Ok(!self.truncated)
    }

    /// The ending of a run whose `run` export returned.
    fn finish(&mut self, summary: &str) -> Result<(Status, Option<ErrorInfo>), SandboxError> {
        let summary: GuestSummary = match serde_json::from_str(summary) {
            Ok(summary) => summary,
            Err(e) => return Ok(tampered(format!("a summary that is not the protocol's: {e}"))),
        };
        if let Some(why) = summary.tampered {
            return Ok(tampered(why.chars().take(200).collect()));
        }
        if let Err(v) = self.rules.summary(summary.status, summary.error.as_ref()) {
            return Ok(tampered(v.0));
        }
        if self.push_stdout(&summary.stdout).is_err() {
            return Ok((Status::OutputLimit, None));
        }
        let out_of_memory = summary.error.as_ref().is_some_and(|e| e.kind == "MemoryError");
        if summary.status == Status::Exception && out_of_memory && self.memory.denied {
            return Ok((Status::MemoryLimit, summary.error));
        }
        Ok((summary.status, summary.error))
    }

    /// The ending of a run the host or a trap stopped.
    fn classify(&self, e: wasmtime::Error) -> Result<(Status, Option<ErrorInfo>), SandboxError> {
        if let Some(stop) = e.downcast_ref::<Stop>() {
            return Ok(match stop {
                Stop::Steps => (Status::StepLimit, None),
                Stop::Output => (Status::OutputLimit, None),
                Stop::Timeout => (Status::Timeout, None),
                Stop::Tampered(why) => tampered(why.clone()),
            });
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Ok((Status::Timeout, None)),
            _ if self.memory.denied => Ok((Status::MemoryLimit, None)),
            Some(Trap::StackOverflow) => {
                Ok((Status::Exception, Some(error_info("StackOverflow", Trap::StackOverflow))))
            }
            Some(trap) => Ok((Status::Exception, Some(error_info("Trap", *trap)))),
            None => Err(SandboxError::Guest(format!("{e:#}"))),
        }
    }

    fn into_trace(
        self,
        exec: &Execution,
        ending: (Status, Option<ErrorInfo>),
        duration: Duration,
        instantiate: Duration,
    ) -> Trace {
        Trace {
            request_id: exec.request_id.clone(),
            status: ending.0,
            error: ending.1,
            step_count: self.step_count,
            stdout_bytes: self.stdout.len() as u64,
            stdout: self.stdout,
            steps: self.steps,
            trace_bytes: self.trace_bytes,
            truncated: self.truncated,
            duration,
            instantiate,
        }
    }
}

/// The ending of a run whose report broke the host's rules.
fn tampered(why: String) -> (Status, Option<ErrorInfo>) {
    tracing::warn!(reason = %why, "a guest's report broke the host's rules");
    (Status::Tampered, Some(ErrorInfo { kind: "Tampered".into(), message: why, line: None }))
}

/// A trap as an error a program author can read (no wasm backtrace).
fn error_info(kind: &str, trap: Trap) -> ErrorInfo {
    ErrorInfo { kind: kind.into(), message: trap.to_string(), line: None }
}

impl curio::guest::host::Host for Host {
    fn emit(&mut self, event: String) -> wasmtime::Result<bool> {
        Ok(self.record(&event)?)
    }

    fn output(&mut self, text: String) -> wasmtime::Result<()> {
        Ok(self.push_stdout(&text)?)
    }

    fn sleep(&mut self, nanos: u64) -> wasmtime::Result<()> {
        let now = Instant::now();
        let wake = now + Duration::from_nanos(nanos);
        if wake >= self.deadline {
            thread::sleep(self.deadline.saturating_duration_since(now));
            return Err(Stop::Timeout.into());
        }
        thread::sleep(wake - now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "x = 1\nprint(x)\n";

    fn replay(events: &[&str], summary: &str) -> Trace {
        let config = SandboxConfig { slots: 1, ..SandboxConfig::default() };
        replay_guest_output(&Execution::python(SOURCE), &config, events, summary).expect("a status, not an error")
    }

    const CALL: &str = r#"["call", 1, "<module>", 1, [], "", null]"#;
    const LINE: &str = r#"["line", 1, "<module>", 1, [], "", null]"#;
    const OK: &str = r#"{"status": "ok", "error": null, "stdout": ""}"#;

    #[test]
    fn a_forged_event_ends_the_run_tampered_keeping_the_steps_before_it() {
        let forged = r#"["line", 1, "<module>", 4000000000, [], "", null]"#;
        let t = replay(&[CALL, LINE, forged, LINE], OK);
        assert_eq!(t.status, Status::Tampered);
        assert_eq!(t.steps.len(), 2);
        assert!(t.error.unwrap().message.contains("depth 4000000000"));
        let past_the_end = r#"["line", 3, "<module>", 1, [], "", null]"#;
        assert_eq!(replay(&[CALL, past_the_end], OK).status, Status::Tampered);
        assert_eq!(replay(&[CALL, LINE], OK).status, Status::Ok);
    }

    #[test]
    fn a_broken_protocol_is_tampered_not_a_sandbox_error() {
        assert_eq!(replay(&[CALL, "x"], OK).status, Status::Tampered);
        assert_eq!(replay(&[CALL, LINE], "x").status, Status::Tampered);
        assert_eq!(replay(&[CALL, r#"["line", -1, "<module>", 1, [], "", null]"#], OK).status, Status::Tampered);
    }

    #[test]
    fn a_summary_may_not_claim_what_only_the_host_decides() {
        let timeout = r#"{"status": "timeout", "error": null, "stdout": ""}"#;
        assert_eq!(replay(&[CALL, LINE], timeout).status, Status::Tampered);
        let bad_line =
            r#"{"status": "exception", "error": {"type": "X", "message": "", "line": 4294967295}, "stdout": ""}"#;
        assert_eq!(replay(&[CALL, LINE], bad_line).status, Status::Tampered);
        let told = r#"{"status": "ok", "error": null, "stdout": "", "tampered": "trace function replaced"}"#;
        let t = replay(&[CALL, LINE], told);
        assert_eq!((t.status, t.steps.len()), (Status::Tampered, 2));
        assert_eq!(t.error.unwrap().message, "trace function replaced");
    }
}
