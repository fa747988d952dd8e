//! The bodies of the fuzz targets in `fuzz/` (libFuzzer, `cargo fuzz`),
//! also run by the test suite over a seed corpus and its mutations. Whatever
//! the bytes, decoding ends in a value or an error, never a panic, and what
//! decodes keeps its meaning through a round trip. Each returns whether the
//! input got past decoding to those checks.

use std::time::Duration;

use curio_proto::v1 as pb;
use prost::Message;

use crate::convert::{execution_from_proto, execution_to_proto, trace_from_proto, trace_to_proto};
use crate::host::replay_guest_output;
use crate::sandbox::SandboxConfig;
use curio_trace::Status;
use curio_trace::{Execution, Limits};

/// A request as the pool's gRPC server receives it: protobuf, then the
/// conversion and validation every request passes before a sandbox.
pub fn execution_request(data: &[u8]) -> bool {
    let Ok(request) = pb::ExecutionRequest::decode(data) else { return false };
    let Ok(exec) = execution_from_proto(request, &Limits::default()) else { return false };
    let again = execution_from_proto(execution_to_proto(&exec), &Limits::default());
    assert_eq!(again.as_ref(), Ok(&exec), "a valid request changed on its way through the wire");
    true
}

/// A trace as a client (the learner) receives it from a pool.
pub fn trace(data: &[u8]) -> bool {
    let Ok(wire) = pb::Trace::decode(data) else { return false };
    let Ok(trace) = trace_from_proto(String::new(), wire) else { return false };
    let again = trace_from_proto(String::new(), trace_to_proto(trace.clone()));
    assert_eq!(again.as_ref(), Ok(&trace), "a trace changed on its way through the wire");
    true
}

/// What a guest sends the host: the first two bytes set the output cap and
/// the step limit, then one event per line, the last line the summary.
pub fn guest_output(data: &[u8]) -> bool {
    let (Some(&cap), Some(&steps)) = (data.first(), data.get(1)) else { return false };
    let Ok(text) = std::str::from_utf8(&data[2..]) else { return false }; // the component ABI carries only UTF-8
    let mut lines: Vec<&str> = text.split('\n').collect();
    let summary = lines.pop().unwrap_or_default();
    let limits = Limits {
        output_bytes: u64::from(cap) + 1,
        max_steps: u32::from(steps) + 1,
        timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let exec = Execution { limits, ..Execution::python("pass") };
    let config = SandboxConfig { slots: 1, max_trace_bytes: 4096, ..SandboxConfig::default() };
    let Ok(trace) = replay_guest_output(&exec, &config, &lines, summary) else { return false };
    assert!(trace.stdout.len() as u64 <= limits.output_bytes, "stdout past its cap");
    assert_eq!(trace.stdout_bytes, trace.stdout.len() as u64);
    assert!(trace.step_count <= u64::from(limits.max_steps), "steps past the limit");
    assert!(trace.steps.len() as u64 <= trace.step_count);
    assert!(trace.trace_bytes <= config.max_trace_bytes, "trace data past its cap");
    assert_eq!(trace.truncated, (trace.steps.len() as u64) < trace.step_count);
    // Whatever the guest claimed, only plausible steps are kept: a one-line
    // source, depths that start at 1 and move by one.
    assert!(trace.steps.iter().all(|s| s.line == 1 && s.depth >= 1), "an implausible step was kept");
    assert!(trace.steps.first().is_none_or(|s| s.depth == 1));
    assert!(trace.steps.windows(2).all(|w| w[1].depth.abs_diff(w[0].depth) <= 1), "depth jumped");
    if trace.status == Status::StepLimit {
        assert_eq!(trace.step_count, u64::from(limits.max_steps), "stopped before the step limit");
    }
    true
}
