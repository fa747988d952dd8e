//! The CPU's floating-point mode for libtorch's kernels.

/// Makes this thread, and every thread it starts afterwards (libtorch's
/// worker threads among them), treat subnormal floats (below about
/// 1.2e-38) as zero, in what operations read and in what they write
/// (x86-64's DAZ and FTZ bits). Call it first thing in `main`, before any
/// thread starts. Returns whether the platform has the mode.
///
/// Why: as the model sharpens, its softmaxes (the pointers, the gate, the
/// vocabulary) give ever more probabilities in the subnormal range, and
/// Intel cores take a slow path for every operation that touches one.
/// Training slowed to half its speed over 2 000 steps without it; the
/// model's figures do not depend on values that small.
pub fn flush_subnormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // Bit 6: denormals are zero (inputs); bit 15: flush to zero (results).
        const DAZ_FTZ: u32 = (1 << 6) | (1 << 15);
        let mut csr: u32 = 0;
        // SAFETY: `stmxcsr` writes the 4-byte MXCSR register to `csr`, a
        // live, aligned u32; `ldmxcsr` loads it back with two mode bits
        // set, which changes rounding of subnormals only, never memory.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut csr as *mut u32, options(nostack, preserves_flags));
            csr |= DAZ_FTZ;
            std::arch::asm!("ldmxcsr [{}]", in(reg) &csr as *const u32, options(nostack, readonly, preserves_flags));
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnormal_results_become_zero_on_this_thread_and_its_children() {
        // Inputs read through black_box, so the compiler cannot fold the
        // products at build time (where no MXCSR applies).
        let tiny = std::hint::black_box(1e-30_f32);
        let small = std::hint::black_box(1e-10_f32);
        assert!((tiny * small) > 0.0, "a fresh thread keeps subnormals");
        let child = std::thread::spawn(move || {
            if !flush_subnormals() {
                return None;
            }
            let here = std::hint::black_box(tiny) * std::hint::black_box(small);
            let normal = std::hint::black_box(1e-20_f32) * std::hint::black_box(small);
            let inherited = std::thread::spawn(move || std::hint::black_box(tiny) * std::hint::black_box(small));
            Some((here, normal, inherited.join().unwrap()))
        });
        if let Some((here, normal, inherited)) = child.join().unwrap() {
            assert_eq!(here, 0.0, "1e-40 is subnormal and flushed");
            assert!(normal > 0.0, "normal results stay under the mode");
            assert_eq!(inherited, 0.0, "a thread started afterwards inherits the mode");
        }
    }
}
