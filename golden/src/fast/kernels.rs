//! The GEMM kernels: `out[m][n] = sum_k x[m][k] * w[n][k]` with wrapping
//! i32 sums, on weights packed by [`super::pack`].
//!
//! Activation rows are `row_len` elements apart and their count is a
//! multiple of [`ROW_BLOCK`]; `out` is `rows x n_pad`, row-major. Each kernel
//! walks one weight panel (16 output channels, all of `K`: a few KiB that stay
//! in L1) past every block of 4 rows and keeps the 4 x 16 sums in registers.
//!
//! Exactness: products and lane sums never leave their lane type (checked by
//! the bounds in [`super::pack`]), and i32 sums wrap, which cancels whenever
//! the final sum fits i32, as the model loader proves for every layer.

use super::isa::Isa;
use super::pack::{Epilogue, PackedData, PackedWeights, PANEL, ROW_BLOCK};

/// u8 x s8 GEMM on [`PackedData::U8`] weights.
pub fn gemm_u8(isa: Isa, w: &PackedWeights, x: &[u8], rows: usize, out: &mut [i32]) {
    let PackedData::U8 { weights, i16_steps } = &w.data else {
        panic!("gemm_u8 on {} weights", w.operands());
    };
    check(w, x.len(), rows, out.len());
    let shape = Shape::of(w, rows);
    match isa {
        // SAFETY (every arm): `check` bounds every access the kernels make,
        // and `isa` comes from `Isa::available`, so the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => {
            assert!(*i16_steps > 0, "u8 weights packed for a dot-product ISA");
            unsafe { x86::gemm_u8_avx2(shape, x, weights, *i16_steps, out) }
        }
        #[cfg(target_arch = "x86_64")]
        Isa::AvxVnni => unsafe { x86::gemm_u8_avxvnni(shape, x, weights, out) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512Vnni => unsafe { x86::gemm_u8_avx512vnni(shape, x, weights, out) },
        _ => lanes_portable::<u8, i8>(shape, x, weights, out),
    }
}

/// i16 x i16 GEMM on [`PackedData::I16`] weights.
pub fn gemm_i16(isa: Isa, w: &PackedWeights, x: &[i16], rows: usize, out: &mut [i32]) {
    let PackedData::I16(weights) = &w.data else {
        panic!("gemm_i16 on {} weights", w.operands());
    };
    check(w, x.len(), rows, out.len());
    let shape = Shape::of(w, rows);
    match isa {
        // SAFETY: as in `gemm_u8`; every x86 ISA listed implies AVX2.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::AvxVnni | Isa::Avx512Vnni => unsafe {
            x86::gemm_i16_avx2(shape, x, weights, out)
        },
        _ => lanes_portable::<i16, i16>(shape, x, weights, out),
    }
}

/// i32 x i32 GEMM on [`PackedData::I32`] weights (16-bit activations only).
pub fn gemm_i32(isa: Isa, w: &PackedWeights, x: &[i32], rows: usize, out: &mut [i32]) {
    let PackedData::I32(weights) = &w.data else {
        panic!("gemm_i32 on {} weights", w.operands());
    };
    check(w, x.len(), rows, out.len());
    match isa {
        // SAFETY: the CPU has AVX2 (implied by every x86 ISA listed).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 | Isa::AvxVnni | Isa::Avx512Vnni => unsafe {
            x86::rows_i32_avx2(w.k, x, rows, weights, w.n_pad, out)
        },
        _ => rows_i32(w.k, x, rows, weights, w.n_pad, out),
    }
}

/// Bias and requantization of one row of `n_pad` accumulators into `out`.
pub fn epilogue(isa: Isa, e: &Epilogue, acc: &[i32], out: &mut [i32]) {
    let n_pad = e.bias.len();
    assert!(acc.len() >= n_pad && out.len() >= n_pad && n_pad.is_multiple_of(8));
    match (isa, e.max) {
        // SAFETY: lengths checked above; the CPU has AVX2 (every x86 ISA listed).
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2 | Isa::AvxVnni | Isa::Avx512Vnni, Some(max)) => unsafe {
            x86::requantize_avx2(e, max, acc, out)
        },
        (_, Some(max)) => {
            for c in 0..n_pad {
                let v = acc[c].wrapping_add(e.bias[c]);
                let carry = ((v as u32 & e.mask[c] as u32) + e.round[c] as u32) >> e.shift[c];
                out[c] = ((v >> e.shift[c]) + carry as i32).clamp(0, max);
            }
        }
        (_, None) => {
            for c in 0..n_pad {
                out[c] = acc[c].wrapping_add(e.bias[c]);
            }
        }
    }
}

/// The sizes every kernel needs.
#[derive(Debug, Clone, Copy)]
struct Shape {
    rows: usize,
    row_len: usize,
    panels: usize,
    n_pad: usize,
}

impl Shape {
    fn of(w: &PackedWeights, rows: usize) -> Self {
        Shape {
            rows,
            row_len: w.row_len,
            panels: w.n_pad / PANEL,
            n_pad: w.n_pad,
        }
    }
}

/// The buffer-size preconditions the unchecked kernels rely on.
fn check(w: &PackedWeights, x_len: usize, rows: usize, out_len: usize) {
    assert_eq!(rows % ROW_BLOCK, 0, "rows must be padded to the row block");
    assert!(x_len >= rows * w.row_len, "activation rows too short");
    assert!(out_len >= rows * w.n_pad, "output too short");
    let packed_len = match &w.data {
        PackedData::U8 { weights, .. } => weights.len(),
        PackedData::I16(weights) => weights.len(),
        PackedData::I32(weights) => weights.len(),
    };
    assert_eq!(packed_len, w.n_pad * w.row_len, "packed weights size");
}

/// Portable kernel on `[panel][k][PANEL]` weights (see `pack_groups`):
/// one activation times 16 contiguous lanes per step.
fn lanes_portable<X, W>(shape: Shape, x: &[X], w: &[W], out: &mut [i32])
where
    X: Copy + Into<i32>,
    W: Copy + Into<i32>,
{
    let k = shape.row_len;
    for panel in 0..shape.panels {
        let panel_w = &w[panel * k * PANEL..][..k * PANEL];
        for row0 in (0..shape.rows).step_by(ROW_BLOCK) {
            let mut acc = [[0i32; PANEL]; ROW_BLOCK];
            for (kk, lanes_w) in panel_w.chunks_exact(PANEL).enumerate() {
                for (i, acc_row) in acc.iter_mut().enumerate() {
                    let xv: i32 = x[(row0 + i) * k + kk].into();
                    for (lane, &wv) in acc_row.iter_mut().zip(lanes_w) {
                        *lane = lane.wrapping_add(xv.wrapping_mul(wv.into()));
                    }
                }
            }
            for (i, acc_row) in acc.iter().enumerate() {
                out[(row0 + i) * shape.n_pad + panel * PANEL..][..PANEL].copy_from_slice(acc_row);
            }
        }
    }
}

/// One dot product per output over `[n_pad][k]` weight rows.
#[inline(always)]
fn rows_i32(k: usize, x: &[i32], rows: usize, w: &[i32], n_pad: usize, out: &mut [i32]) {
    for (n, w_row) in w.chunks_exact(k).enumerate() {
        for row in 0..rows {
            out[row * n_pad + n] = dot_i32(&x[row * k..][..k], w_row);
        }
    }
}

/// Dot product with 16 independent lanes so the compiler vectorizes it.
#[inline(always)]
fn dot_i32(a: &[i32], b: &[i32]) -> i32 {
    const LANES: usize = 16;
    let mut lanes = [0i32; LANES];
    let (chunks_a, chunks_b) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for lane in 0..LANES {
            lanes[lane] = lanes[lane].wrapping_add(ca[lane].wrapping_mul(cb[lane]));
        }
    }
    let mut sum = lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v));
    for (&x, &y) in tail_a.iter().zip(tail_b) {
        sum = sum.wrapping_add(x.wrapping_mul(y));
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86-64 kernels. Each handles one panel as two 8-lane i32 vectors
    //! and 4 rows: 8 accumulators, 2 weight loads and 4 broadcasts per step.

    use super::{Shape, PANEL, ROW_BLOCK};
    use std::arch::x86_64::*;

    /// Broadcast the `group`-th 4-byte group of an activation row.
    #[inline(always)]
    unsafe fn broadcast(row: *const u8, byte: usize) -> __m256i {
        _mm256_set1_epi32((row.add(byte) as *const i32).read_unaligned())
    }

    /// u8 x s8 with `vpmaddubsw`: pair sums in i16 lanes, summed for up to
    /// `steps` groups (the bound that keeps every lane inside i16), then
    /// widened to i32 with `vpmaddwd` against ones.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gemm_u8_avx2(shape: Shape, x: &[u8], w: &[i8], steps: usize, out: &mut [i32]) {
        let pairs = shape.panels / 2 * 2;
        for panel in (0..pairs).step_by(2) {
            for row0 in (0..shape.rows).step_by(MR_WIDE) {
                tile_u8_avx2::<MR_WIDE, 2>(shape, x, w, steps, out, row0, panel);
            }
        }
        for panel in pairs..shape.panels {
            for row0 in (0..shape.rows).step_by(ROW_BLOCK) {
                tile_u8_avx2::<ROW_BLOCK, 1>(shape, x, w, steps, out, row0, panel);
            }
        }
    }

    /// Rows per tile when a tile spans two panels.
    const MR_WIDE: usize = 2;

    /// `MR` rows x `P` panels of [`gemm_u8_avx2`]: `MR * 2P` accumulators.
    #[inline(always)]
    unsafe fn tile_u8_avx2<const MR: usize, const P: usize>(
        shape: Shape,
        x: &[u8],
        w: &[i8],
        steps: usize,
        out: &mut [i32],
        row0: usize,
        panel0: usize,
    ) {
        let groups = shape.row_len / 4;
        let ones = _mm256_set1_epi16(1);
        let rows = x.as_ptr().add(row0 * shape.row_len);
        let panel_w = |p: usize| w.as_ptr().add((panel0 + p) * groups * 64);
        let mut acc = [[[_mm256_setzero_si256(); 2]; P]; MR];
        let mut g0 = 0;
        while g0 < groups {
            let g1 = (g0 + steps).min(groups);
            let mut sums = [[[_mm256_setzero_si256(); 2]; P]; MR];
            for g in g0..g1 {
                let mut wv = [[_mm256_setzero_si256(); 2]; P];
                for (p, v) in wv.iter_mut().enumerate() {
                    v[0] = _mm256_loadu_si256(panel_w(p).add(g * 64) as *const __m256i);
                    v[1] = _mm256_loadu_si256(panel_w(p).add(g * 64 + 32) as *const __m256i);
                }
                for (i, row_sums) in sums.iter_mut().enumerate() {
                    let b = broadcast(rows, i * shape.row_len + g * 4);
                    for (panel_sums, v) in row_sums.iter_mut().zip(&wv) {
                        for h in 0..2 {
                            panel_sums[h] =
                                _mm256_add_epi16(panel_sums[h], _mm256_maddubs_epi16(b, v[h]));
                        }
                    }
                }
            }
            for (row_acc, row_sums) in acc.iter_mut().zip(&sums) {
                for (a, s) in row_acc.iter_mut().flatten().zip(row_sums.iter().flatten()) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(*s, ones));
                }
            }
            g0 = g1;
        }
        store_tile(&acc, out, shape, row0, panel0);
    }

    /// i16 x i16 with `vpmaddwd`: two products per i32 lane.
    #[target_feature(enable = "avx2")]
    pub unsafe fn gemm_i16_avx2(shape: Shape, x: &[i16], w: &[i16], out: &mut [i32]) {
        let pairs = shape.panels / 2 * 2;
        for panel in (0..pairs).step_by(2) {
            for row0 in (0..shape.rows).step_by(MR_WIDE) {
                tile_i16_avx2::<MR_WIDE, 2>(shape, x, w, out, row0, panel);
            }
        }
        for panel in pairs..shape.panels {
            for row0 in (0..shape.rows).step_by(ROW_BLOCK) {
                tile_i16_avx2::<ROW_BLOCK, 1>(shape, x, w, out, row0, panel);
            }
        }
    }

    /// `MR` rows x `P` panels of [`gemm_i16_avx2`].
    #[inline(always)]
    unsafe fn tile_i16_avx2<const MR: usize, const P: usize>(
        shape: Shape,
        x: &[i16],
        w: &[i16],
        out: &mut [i32],
        row0: usize,
        panel0: usize,
    ) {
        let groups = shape.row_len / 2;
        let rows = x.as_ptr().add(row0 * shape.row_len) as *const u8;
        let panel_w = |p: usize| w.as_ptr().add((panel0 + p) * groups * 32);
        let mut acc = [[[_mm256_setzero_si256(); 2]; P]; MR];
        for g in 0..groups {
            let mut wv = [[_mm256_setzero_si256(); 2]; P];
            for (p, v) in wv.iter_mut().enumerate() {
                v[0] = _mm256_loadu_si256(panel_w(p).add(g * 32) as *const __m256i);
                v[1] = _mm256_loadu_si256(panel_w(p).add(g * 32 + 16) as *const __m256i);
            }
            for (i, row_acc) in acc.iter_mut().enumerate() {
                // Two i16 activations = 4 bytes at element offset g*2.
                let b = broadcast(rows, (i * shape.row_len + g * 2) * 2);
                for (panel_acc, v) in row_acc.iter_mut().zip(&wv) {
                    for h in 0..2 {
                        panel_acc[h] = _mm256_add_epi32(panel_acc[h], _mm256_madd_epi16(b, v[h]));
                    }
                }
            }
        }
        store_tile(&acc, out, shape, row0, panel0);
    }

    /// Store an `MR` x `P` tile of sums.
    #[inline(always)]
    unsafe fn store_tile<const MR: usize, const P: usize>(
        acc: &[[[__m256i; 2]; P]; MR],
        out: &mut [i32],
        shape: Shape,
        row0: usize,
        panel0: usize,
    ) {
        for (i, row_acc) in acc.iter().enumerate() {
            for (p, v) in row_acc.iter().enumerate() {
                let o = out
                    .as_mut_ptr()
                    .add((row0 + i) * shape.n_pad + (panel0 + p) * PANEL);
                _mm256_storeu_si256(o as *mut __m256i, v[0]);
                _mm256_storeu_si256(o.add(8) as *mut __m256i, v[1]);
            }
        }
    }

    /// u8 x s8 four-product dot kernels (`vpdpbusd`), one per encoding,
    /// tiled like [`gemm_u8_avx2`] but summing straight into i32 lanes.
    macro_rules! gemm_u8_dot {
        ($name:ident, $tile:ident, $features:literal, $dot:ident) => {
            #[target_feature(enable = $features)]
            pub unsafe fn $name(shape: Shape, x: &[u8], w: &[i8], out: &mut [i32]) {
                let pairs = shape.panels / 2 * 2;
                for panel in (0..pairs).step_by(2) {
                    for row0 in (0..shape.rows).step_by(MR_WIDE) {
                        $tile::<MR_WIDE, 2>(shape, x, w, out, row0, panel);
                    }
                }
                for panel in pairs..shape.panels {
                    for row0 in (0..shape.rows).step_by(ROW_BLOCK) {
                        $tile::<ROW_BLOCK, 1>(shape, x, w, out, row0, panel);
                    }
                }
            }

            #[inline(always)]
            unsafe fn $tile<const MR: usize, const P: usize>(
                shape: Shape,
                x: &[u8],
                w: &[i8],
                out: &mut [i32],
                row0: usize,
                panel0: usize,
            ) {
                let groups = shape.row_len / 4;
                let rows = x.as_ptr().add(row0 * shape.row_len);
                let panel_w = |p: usize| w.as_ptr().add((panel0 + p) * groups * 64);
                let mut acc = [[[_mm256_setzero_si256(); 2]; P]; MR];
                for g in 0..groups {
                    let mut wv = [[_mm256_setzero_si256(); 2]; P];
                    for (p, v) in wv.iter_mut().enumerate() {
                        v[0] = _mm256_loadu_si256(panel_w(p).add(g * 64) as *const __m256i);
                        v[1] = _mm256_loadu_si256(panel_w(p).add(g * 64 + 32) as *const __m256i);
                    }
                    for (i, row_acc) in acc.iter_mut().enumerate() {
                        let b = broadcast(rows, i * shape.row_len + g * 4);
                        for (panel_acc, v) in row_acc.iter_mut().zip(&wv) {
                            for h in 0..2 {
                                panel_acc[h] = $dot(panel_acc[h], b, v[h]);
                            }
                        }
                    }
                }
                store_tile(&acc, out, shape, row0, panel0);
            }
        };
    }
    gemm_u8_dot!(
        gemm_u8_avxvnni,
        tile_u8_avxvnni,
        "avx2,avxvnni",
        _mm256_dpbusd_avx_epi32
    );
    gemm_u8_dot!(
        gemm_u8_avx512vnni,
        tile_u8_avx512vnni,
        "avx2,avx512vnni,avx512vl",
        _mm256_dpbusd_epi32
    );

    /// [`super::epilogue`] on 8 lanes at a time (`n_pad` is a multiple of 16).
    #[target_feature(enable = "avx2")]
    pub unsafe fn requantize_avx2(e: &super::Epilogue, max: i32, acc: &[i32], out: &mut [i32]) {
        let (zero, top) = (_mm256_setzero_si256(), _mm256_set1_epi32(max));
        let load = |v: &[i32], c: usize| _mm256_loadu_si256(v.as_ptr().add(c) as *const __m256i);
        for c in (0..e.bias.len()).step_by(8) {
            let v = _mm256_add_epi32(load(acc, c), load(&e.bias, c));
            let shift = load(&e.shift, c);
            let low = _mm256_add_epi32(_mm256_and_si256(v, load(&e.mask, c)), load(&e.round, c));
            let y = _mm256_add_epi32(_mm256_srav_epi32(v, shift), _mm256_srlv_epi32(low, shift));
            let y = _mm256_min_epi32(_mm256_max_epi32(y, zero), top);
            _mm256_storeu_si256(out.as_mut_ptr().add(c) as *mut __m256i, y);
        }
    }

    /// The portable i32 kernel compiled with AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn rows_i32_avx2(
        k: usize,
        x: &[i32],
        rows: usize,
        w: &[i32],
        n_pad: usize,
        out: &mut [i32],
    ) {
        super::rows_i32(k, x, rows, w, n_pad, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract;
    use crate::model::{ComputeParams, Output};
    use proptest::prelude::*;

    /// Run the epilogue on every available ISA over 16 channels that share
    /// one accumulator value but have their own shift and bias.
    fn epilogue_all(acc: i32, shifts: &[u8; 16], bias: &[i32; 16], bits: u8) {
        let params = ComputeParams {
            w_bits: 2,
            in_bits: 1,
            output: Output::Requant {
                bits,
                shifts: shifts.to_vec(),
            },
            weights: vec![0; 16],
            bias: bias.to_vec(),
        };
        let e = Epilogue::new(&params, PANEL);
        let want: Vec<i32> = (0..16)
            .map(|c| contract::requantize(acc as i64 + bias[c] as i64, shifts[c], bits))
            .collect();
        for isa in Isa::available() {
            let mut out = vec![0; PANEL];
            epilogue(isa, &e, &[acc; PANEL], &mut out);
            assert_eq!(
                out,
                want,
                "{} acc {acc} shifts {shifts:?} bias {bias:?}",
                isa.name()
            );
        }
    }

    proptest! {
        #[test]
        fn epilogue_matches_the_contract(
            acc in any::<i32>(),
            shifts in prop::array::uniform16(0u8..=contract::MAX_SHIFT),
            bits in 1u8..=16,
        ) {
            // Bias 0 here: acc + bias must fit i32, which the loader proves
            // for real layers; the accumulator alone spans all of i32.
            epilogue_all(acc, &shifts, &[0; 16], bits);
        }
    }

    #[test]
    fn epilogue_at_the_edges() {
        let all: [u8; 16] = std::array::from_fn(|i| [0, 1, 2, 15, 16, 30, 31, 31][i % 8]);
        let bias: [i32; 16] = std::array::from_fn(|i| [0, -1, 1, 7][i % 4]);
        for acc in [i32::MIN + 1, -(1 << 30), -1, 0, 1, 1 << 30, i32::MAX - 7] {
            for bits in [1, 4, 8, 16] {
                epilogue_all(acc, &all, &bias, bits);
            }
        }
    }
}
