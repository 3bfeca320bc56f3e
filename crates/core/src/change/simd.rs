//! The per-pixel loops compiled for more than one instruction set and chosen
//! at run time: AVX2 (eight `f32` lanes) where the CPU has it, the x86-64
//! baseline (SSE2, four lanes) elsewhere. The loops are plain Rust that the
//! compiler vectorises; [`pulp`] compiles them inside a function with the
//! wider features enabled and picks the variant once per call, so the
//! release binary still runs on any x86-64 CPU and no unsafe code is ours.
//!
//! A loop runs in the wide variant only where it is inlined into the
//! dispatched function: the work functions are `#[inline(always)]`.
//! Results are the same in every variant: the loops use no fused
//! multiply-add (Rust never contracts `a * b + c`), and IEEE arithmetic gives
//! the same bits per lane at any width.

/// Runs `op` compiled for the widest instruction set this CPU offers.
#[inline(always)]
pub(crate) fn widest<O: Wide>(op: O) -> O::Output {
    pulp::Arch::new().dispatch(Dispatch(op))
}

/// A piece of work whose [`Wide::run`] is compiled once per instruction set.
pub(crate) trait Wide {
    /// What it gives.
    type Output;
    /// The work; implementations are `#[inline(always)]` so that it is
    /// compiled inside each variant.
    fn run(self) -> Self::Output;
}

struct Dispatch<O>(O);

impl<O: Wide> pulp::WithSimd for Dispatch<O> {
    type Output = O::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> O::Output {
        self.0.run()
    }
}
