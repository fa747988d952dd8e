//! The action head: the event class, and a pointer into the program's
//! lines, both read at each example's query.

use tch::Tensor;

use super::{Batch, ModelError, WorldModel};

impl WorldModel {
    /// Event logits (N, 4) and line-pointer logits (N, L), -inf where
    /// padded: the query's hidden state scored against each line marker's,
    /// whose keys add the line's offset from the current line and where
    /// control can go from it.
    /// `query` (N, C) is each example's hidden state at its query.
    pub(super) fn action(
        &self,
        batch: &Batch,
        programs: &Tensor,
        query: &Tensor,
    ) -> Result<(Tensor, Tensor), ModelError> {
        let (b, _, c) = programs.size3()?;
        let l = batch.programs.lines.size()[1];
        // (B, L) -> (B, L, C): the hidden state at each LINE marker, then
        // each example's copy (N, L, C) with its relative lines added.
        let l_idx = batch.programs.lines.unsqueeze(-1).expand([b, l, c], false);
        let keys = programs.f_gather(1, &l_idx, false)?.f_index_select(0, &batch.examples.row)?.apply(&self.ptr_key)
            + batch.examples.line_rel.apply(&self.wre);
        // Where control can go, unless the model was trained without.
        let (keys, query_event) = match self.config.flow {
            true => (keys + batch.examples.line_flow.apply(&self.wfe), query + batch.examples.flow.apply(&self.wfs)),
            false => (keys, query.shallow_clone()),
        };
        // (N, 1, C) x (N, C, L) -> (N, L)
        let scores = query.apply(&self.ptr_query).unsqueeze(1).matmul(&keys.transpose(1, 2)).squeeze_dim(1);
        let valid = batch.programs.line_mask.f_index_select(0, &batch.examples.row)?;
        let line_logits = (scores / (c as f64).sqrt()).masked_fill(&valid.logical_not(), f64::NEG_INFINITY);
        let event_logits = query_event.apply(&self.event_head);
        Ok((event_logits, line_logits))
    }
}

/// Each row's hidden state at one position: (B, T, C) and (B,) -> (B, C).
pub(super) fn at_positions(hidden: &Tensor, positions: &Tensor) -> Result<Tensor, ModelError> {
    let (b, _, c) = hidden.size3()?;
    // (B,) -> (B, 1, C)
    let idx = positions.view([b, 1, 1]).expand([b, 1, c], false);
    Ok(hidden.f_gather(1, &idx, false)?.squeeze_dim(1))
}
