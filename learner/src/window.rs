//! How much the model reads. The program is read in chunks of whole lines
//! that attend within themselves (their cost grows with the program's
//! length, not its square), and the example's own tokens (state, working,
//! action, delta) read every chunk of their program and, causally,
//! themselves. A long program costs what reading it costs, and no more:
//! the example's block does not shrink as the program grows.
//!
//! Checkpoints from before chunks have `chunk` 0: the program is one chunk
//! and the example's positions go on from its end, within one block, as
//! they were trained.

use std::ops::Range;

use crate::data::Example;
use crate::encode::Encoded;

/// The model's reading window ([`crate::ModelConfig::window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Program tokens per chunk; 0 for one chunk of the whole program
    /// whose example positions go on from its end.
    pub chunk: usize,
    /// The most chunks of one program.
    pub chunks: usize,
    /// Own tokens of an example: its state, working, action, delta and
    /// EOS (with `chunk` 0: the program's tokens as well).
    pub block: usize,
    /// Whether the flow hints of Lua and JavaScript programs are read, as
    /// Python's are ([`crate::ModelConfig::flow_lua_js`]); without, their
    /// flags are all zero, as models before them were trained.
    pub flow_lua_js: bool,
    /// Whether a `return` state's flow hints are its caller line's
    /// ([`crate::ModelConfig::flow_returns`], [`Encoded::return_flow`]).
    pub flow_returns: bool,
}

impl Window {
    /// Whether the model reads `e` whole: its program, and its own tokens.
    pub fn fits(&self, e: &Example) -> bool {
        self.reads(&e.context) && e.len() - e.context.prefix <= self.own_room(e.context.prefix)
    }

    /// Whether the model can read `e` as it stands: its program, and its
    /// own tokens without the EOS a target ends with (what a query holds).
    pub fn holds(&self, e: &Example) -> bool {
        self.reads(&e.context) && e.own_len() <= self.own_room(e.context.prefix)
    }

    /// How many more own tokens `e` may take: 0 when it is full or its
    /// program cannot be read.
    pub fn room(&self, e: &Example) -> usize {
        if !self.reads(&e.context) {
            return 0;
        }
        self.own_room(e.context.prefix).saturating_sub(e.len() - e.context.prefix)
    }

    /// Whether the program of `c` fits within [`Window::chunks`] chunks.
    pub fn reads(&self, c: &Encoded) -> bool {
        match self.chunk {
            0 => c.prefix < self.block,
            _ => self.layout(c).len() <= self.chunks,
        }
    }

    /// Own tokens an example of a program of `prefix` tokens may have.
    fn own_room(&self, prefix: usize) -> usize {
        match self.chunk {
            0 => self.block.saturating_sub(prefix),
            _ => self.block,
        }
    }

    /// Position id of an example's first own token.
    pub fn own_offset(&self, prefix: usize) -> usize {
        match self.chunk {
            0 => prefix,
            c => c,
        }
    }

    /// Rows of the position embedding: every chunk position, then every
    /// own position after them.
    pub fn positions(&self) -> usize {
        self.chunk + self.block
    }

    /// The program of `c` as ranges of its tokens, one per chunk: whole
    /// lines (LINE marker, bytes, newline) while they fit, a line longer
    /// than a chunk cut across as many as it needs. BOS opens the first.
    pub fn layout(&self, c: &Encoded) -> Vec<Range<usize>> {
        let size = if self.chunk == 0 { c.prefix.max(1) } else { self.chunk };
        let mut ends: Vec<usize> = c.line_starts.iter().copied().skip(1).collect();
        ends.push(c.prefix);
        let mut chunks = vec![];
        let mut start = 0;
        let mut line_start = 0;
        for end in ends {
            // The line [line_start, end) goes on the current chunk, or
            // opens the next one; a line longer than a chunk is cut.
            if end - start > size && line_start > start {
                chunks.push(start..line_start);
                start = line_start;
            }
            while end - start > size {
                chunks.push(start..start + size);
                start += size;
            }
            line_start = end;
        }
        if start < c.prefix || chunks.is_empty() {
            chunks.push(start..c.prefix.max(start));
        }
        chunks
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::{LINE, State, encode_context, states};

    fn encoded(source: &str) -> Encoded {
        let step = crate::data::module_step(0, 1, "1");
        let state: State = states(std::slice::from_ref(&step)).remove(0);
        encode_context(source, &state, 1)
    }

    #[test]
    fn chunks_hold_whole_lines_and_cover_the_program_once() {
        let source: String = (0..40).map(|i| format!("value_{i} = {i} * {i} + 1\n")).collect();
        let c = encoded(&source);
        let w = Window { chunk: 64, chunks: 64, block: 256, flow_lua_js: true, flow_returns: true };
        let chunks = w.layout(&c);
        assert!(chunks.len() > 10);
        assert_eq!(chunks[0].start, 0);
        assert_eq!(chunks.last().unwrap().end, c.prefix);
        for pair in chunks.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "no token left out or read twice");
        }
        for r in &chunks[1..] {
            assert_eq!(c.context[r.start], LINE, "every chunk after the first opens on a line");
            assert!(r.len() <= 64);
        }
    }

    #[test]
    fn a_line_longer_than_a_chunk_is_cut_across_chunks() {
        let source = format!("a = 1\nb = [{}]\nc = 2\n", vec!["7"; 100].join(", "));
        let c = encoded(&source);
        let w = Window { chunk: 64, chunks: 64, block: 256, flow_lua_js: true, flow_returns: true };
        let chunks = w.layout(&c);
        assert!(chunks.iter().all(|r| !r.is_empty() && r.len() <= 64));
        assert_eq!(chunks.iter().map(|r| r.len()).sum::<usize>(), c.prefix);
        assert!(w.reads(&c));
        assert!(!Window { chunks: 3, ..w }.reads(&c), "more chunks than the window holds");
    }

    #[test]
    fn eight_kilobytes_of_source_fit_the_default_window() {
        let source: String = (0..300).map(|i| format!("total_{i:03} = total_{i:03} + {i} * 3 - 1\n")).collect();
        assert!(source.len() >= 8 * 1024, "{} bytes", source.len());
        let c = encoded(&source);
        assert!(crate::ModelConfig::default().window().reads(&c));
        assert!(
            !Window { chunk: 0, chunks: 1, block: 1024, flow_lua_js: true, flow_returns: true }.reads(&c),
            "one block of 1 024 does not"
        );
    }
}
