//! Line ids moved at random in training, so that what the model learns
//! does not hang on where in a file a line sits.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::Example;
use super::batch::share_programs;
use crate::encode::LINE_IDS;

/// `examples` with each program's line ids moved up by one draw from
/// 0..=`most` (a draw per run of consecutive examples of one program, the
/// runs [`collate`] shares a copy of the program among), seeded by `draw`.
/// Id 0 (outside the source) stays 0, and the last id takes every line
/// past it, as it does unshifted. Training on shifted ids keeps the model
/// from tying what it learnt to where in a file a line sits: a program
/// that starts with a blank line, a docstring or another function is the
/// same program further down.
pub fn shift_lines(examples: &[Example], most: i64, draw: u64) -> Vec<Example> {
    let (row_of, _) = share_programs(examples, usize::MAX);
    let mut rng = StdRng::seed_from_u64(draw);
    let shifts: Vec<i64> =
        (0..=row_of.last().copied().unwrap_or(0)).map(|_| rng.random_range(0..=most.max(0))).collect();
    examples
        .iter()
        .zip(&row_of)
        .map(|(e, &row)| {
            let mut e = e.clone();
            let by = shifts[row];
            for id in e.context.line_id.iter_mut().filter(|id| **id > 0) {
                *id = (*id + by).min(LINE_IDS - 1);
            }
            e
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use tch::Device;

    use super::super::{collate, examples, module_step};
    use super::*;

    #[test]
    fn shifted_line_ids_move_each_program_as_one_and_keep_what_they_match() {
        let steps = |x: &str| [module_step(0, 1, "0"), module_step(1, 2, x), module_step(2, 2, "1")];
        let mut ex = examples("x = 0\nx = x + 1\n", "", &steps("0"), &[1]);
        ex.extend(examples("x = 0\nx = 2 * x + 1\n", "", &steps("0"), &[1]));
        let (k, w) = (ex.len() / 2, crate::ModelConfig::default().window());
        let mut moved = 0;
        for draw in 0..20 {
            let shifted = shift_lines(&ex, 32, draw);
            let by: Vec<i64> = ex
                .iter()
                .zip(&shifted)
                .map(|(e, s)| {
                    let pairs = e.context.line_id.iter().zip(&s.context.line_id);
                    // Outside the source stays outside; every line moves by one amount.
                    assert!(pairs.clone().all(|(&a, &b)| (a == 0) == (b == 0)));
                    let offsets: std::collections::HashSet<i64> =
                        pairs.filter(|(a, _)| **a > 0).map(|(a, b)| b - a).collect();
                    assert_eq!(offsets.len(), 1, "{offsets:?}");
                    offsets.into_iter().next().unwrap()
                })
                .collect();
            assert!(by.iter().all(|b| (0..=32).contains(b)), "{by:?}");
            assert!(by[..k].iter().all(|&b| b == by[0]) && by[k..].iter().all(|&b| b == by[k]), "{by:?}");
            moved += usize::from(by[0] != by[k]);
            // The state's tokens still carry their line's id, and a program
            // is still shared by its examples.
            for s in &shifted {
                let c = &s.context;
                assert_eq!(c.line_id[c.prefix..].iter().max(), c.line_id.last());
            }
            assert_eq!(collate(&shifted, w, Device::Cpu).programs.chunks.size()[0], 2);
            assert_eq!(shift_lines(&ex, 32, draw)[0].context.line_id, shifted[0].context.line_id, "reproducible");
        }
        assert!(moved >= 15, "two programs moved apart in only {moved} of 20 draws");
        let far = shift_lines(&ex, LINE_IDS - 1, 3);
        assert!(far.iter().flat_map(|e| &e.context.line_id).all(|&id| id < LINE_IDS), "ids stay in the table");
        assert_eq!(shift_lines(&ex, 0, 3)[0].context.line_id, ex[0].context.line_id);
    }
}
