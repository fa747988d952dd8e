//! Bytes in, bytes out: how a program, a state and a jump length become a
//! token sequence, how the state after the jump becomes a *delta* target,
//! and how a predicted delta turns back into a state.
//!
//! A state is Markov: besides the current frame it carries the caller
//! frames' last locals (the stack), so a `return` can be predicted from the
//! state alone. Tokens are bytes 0..=255 plus a few specials.

mod context;
mod delta;
mod state;
mod values;

pub use context::*;
pub use delta::*;
pub use state::*;
pub use values::*;

use curio_trace::Event;

/// Fills a row past its last token.
pub const PAD: i64 = 256;
/// Opens every context.
pub const BOS: i64 = 257;
/// Ends the program part of a context, and the state after it.
pub const SEP: i64 = 258;
/// Ends a target: the bytes the model writes.
pub const EOS: i64 = 259;
/// Precedes every source line: the action head points at these.
pub const LINE: i64 = 260;
/// Tokens in all: the 256 bytes and the specials above.
pub const VOCAB: i64 = 261;
/// Source lines further from the current line than this share an embedding.
pub const LINE_REACH: i64 = 32;
/// Line-embedding rows: 0 (no line), then lines 1.. (later lines share the last).
pub const LINE_IDS: i64 = 256;
/// Relative-line embedding rows: 0 (not source) and -REACH..=REACH, then
/// the same again for the line the caller resumes at (where a `return` goes).
pub const LINE_REL_VOCAB: i64 = 2 * (2 * LINE_REACH + 2);

/// The four tracer events, as the action head's classes.
pub const EVENTS: [Event; 4] = [Event::Call, Event::Line, Event::Return, Event::Exception];

/// The action head's class for an event: its index in [`EVENTS`].
pub fn event_index(e: Event) -> usize {
    EVENTS.iter().position(|x| *x == e).expect("every event is listed")
}
