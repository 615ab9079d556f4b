//! Weights packed once per model into the panels the GEMM kernels read, and
//! the choice of operand width per layer.
//!
//! Every kernel computes `out[m][n] = sum_k x[m][k] * w[n][k]` with output
//! channels in panels of [`PANEL`] and `K` grouped in the few consecutive
//! products one SIMD lane sums (4 for 8-bit operands, 2 for 16-bit ones).
//! A panel is laid out `[k group][channel in panel][product in group]`, so
//! one load brings a whole panel's weights for one step of `K`, and one
//! broadcast of an activation row's group feeds all of them.

use super::isa::Isa;
use crate::contract;
use crate::model::{ComputeParams, Op, Output};

/// Output channels per weight panel (two 8-lane AVX2 vectors of i32).
pub const PANEL: usize = 16;
/// Activation rows one kernel call computes; row counts are padded to it.
pub const ROW_BLOCK: usize = 4;

/// Weights of one compute layer in kernel layout.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    /// Products per output value.
    pub k: usize,
    /// Output channels.
    pub n: usize,
    /// Output channels rounded up to whole panels.
    pub n_pad: usize,
    /// Elements per activation row the kernel reads (`k` rounded up to whole groups).
    pub row_len: usize,
    pub data: PackedData,
    /// Bias and requantization, per output channel.
    pub epilogue: Epilogue,
}

/// What follows the GEMM, as per-channel constants padded to `n_pad` (zeros
/// past `n`): `y = clamp((acc + bias + round) >> shift, 0, max)` computed in
/// i32 lanes as `(v >> shift) + (((v & mask) + round) >> shift)` with
/// `v = acc + bias` (the second term is the carry out of the low bits; as a
/// u32 it cannot overflow, and `v` fits i32 by the model loader's bound).
#[derive(Debug, Clone)]
pub struct Epilogue {
    pub bias: Vec<i32>,
    pub shift: Vec<i32>,
    pub mask: Vec<i32>,
    pub round: Vec<i32>,
    /// `2^out_bits - 1`; `None` for logits (bias only, no shift or clamp).
    pub max: Option<i32>,
}

impl Epilogue {
    pub fn new(params: &ComputeParams, n_pad: usize) -> Self {
        let n = params.bias.len();
        let (shifts, max) = match &params.output {
            Output::Requant { bits, shifts } => {
                (shifts.clone(), Some(contract::activation_max(*bits)))
            }
            Output::Logits => (vec![0; n], None),
        };
        let padded = |f: &dyn Fn(usize) -> i32| -> Vec<i32> {
            (0..n_pad).map(|c| if c < n { f(c) } else { 0 }).collect()
        };
        Epilogue {
            bias: padded(&|c| params.bias[c]),
            shift: padded(&|c| shifts[c] as i32),
            mask: padded(&|c| (1u32 << shifts[c]).wrapping_sub(1) as i32),
            round: padded(&|c| ((1u32 << shifts[c]) >> 1) as i32),
            max,
        }
    }
}

/// The operand width a layer runs at, with its weights.
#[derive(Debug, Clone)]
pub enum PackedData {
    /// Unsigned 8-bit activations x signed 8-bit weights, `[panel][k/4][16][4]`.
    /// `i16_steps`: how many 4-product steps the AVX2 kernel may sum in i16
    /// lanes before widening without any lane leaving i16 (see [`i16_steps`]).
    U8 { weights: Vec<i8>, i16_steps: usize },
    /// Activations and weights as i16, `[panel][k/2][16][2]`.
    I16(Vec<i16>),
    /// 16-bit activations: i32 operands, `[n_pad][k]` rows.
    I32(Vec<i32>),
}

impl PackedWeights {
    /// Pack a compute layer for `isa`. Convolution weights are reordered to
    /// the `[ky][kx][c]` K order of the channel-last im2col rows.
    pub fn new(op: &Op, params: &ComputeParams, isa: Isa) -> Self {
        let (k, n) = (params.weights.len() / params.bias.len(), params.bias.len());
        let source = |channel: usize, packed_k: usize| -> i32 {
            let original_k = match op {
                Op::Conv2d(conv) => {
                    let [kh, kw] = conv.kernel;
                    let (tap, c) = (packed_k / conv.in_channels, packed_k % conv.in_channels);
                    (c * kh + tap / kw) * kw + tap % kw
                }
                _ => packed_k,
            };
            params.weights[channel * k + original_k]
        };
        let n_pad = n.div_ceil(PANEL) * PANEL;
        let max_weight = params
            .weights
            .iter()
            .map(|w| w.unsigned_abs())
            .max()
            .unwrap_or(0);
        let steps = i16_steps(params.in_bits, max_weight);
        let narrow = params.in_bits <= 8 && params.w_bits <= 8;
        // AVX2's u8 x s8 instruction saturates the sum of two products in
        // i16; where that could happen the layer runs on 16-bit operands.
        let data = if narrow && (isa.has_dot_u8() || steps > 0) {
            let weights = pack_groups(k, n, 4, isa, |c, kk| source(c, kk) as i8);
            PackedData::U8 {
                weights,
                i16_steps: steps,
            }
        } else if params.in_bits <= 15 {
            PackedData::I16(pack_groups(k, n, 2, isa, |c, kk| source(c, kk) as i16))
        } else {
            let mut rows = vec![0; n_pad * k];
            for (c, row) in rows.chunks_exact_mut(k).take(n).enumerate() {
                for (kk, w) in row.iter_mut().enumerate() {
                    *w = source(c, kk);
                }
            }
            PackedData::I32(rows)
        };
        let group = match data {
            PackedData::U8 { .. } => 4,
            PackedData::I16(_) => 2,
            PackedData::I32(_) => 1,
        };
        PackedWeights {
            k,
            n,
            n_pad,
            row_len: k.div_ceil(group) * group,
            data,
            epilogue: Epilogue::new(params, n_pad),
        }
    }

    /// The operand width's name (for benchmarks and docs).
    pub fn operands(&self) -> &'static str {
        match self.data {
            PackedData::U8 { .. } => "u8 x s8",
            PackedData::I16(_) => "i16 x i16",
            PackedData::I32(_) => "i32 x i32",
        }
    }
}

/// How many 4-product steps of u8 x s8 pair sums fit an i16 lane: each
/// `a1*w1 + a2*w2` is at most `2 * (2^in_bits - 1) * max|w|` in magnitude,
/// so that many of them sum to at most `i16::MAX`. 0 when a single pair
/// could already saturate.
pub fn i16_steps(in_bits: u8, max_weight: u32) -> usize {
    if in_bits > 8 {
        return 0;
    }
    let pair = 2 * contract::activation_max(in_bits) as u64 * max_weight.max(1) as u64;
    (i16::MAX as u64 / pair) as usize
}

/// `[panel][k / group][PANEL][group]`, zero past `k` and past `n`. The
/// portable kernel reads one product per lane step (`[panel][k][PANEL]`,
/// over `k` rounded up to whole groups), so its innermost loop runs over
/// contiguous lanes and vectorizes on any target.
fn pack_groups<T: Copy + Default>(
    k: usize,
    n: usize,
    group: usize,
    isa: Isa,
    weight: impl Fn(usize, usize) -> T,
) -> Vec<T> {
    let k_padded = k.div_ceil(group) * group;
    let group = if isa == Isa::Portable { 1 } else { group };
    let groups = k_padded / group;
    let panels = n.div_ceil(PANEL);
    let mut packed = vec![T::default(); panels * groups * PANEL * group];
    for channel in 0..n {
        let (panel, lane) = (channel / PANEL, channel % PANEL);
        for kk in 0..k {
            let (g, r) = (kk / group, kk % group);
            packed[((panel * groups + g) * PANEL + lane) * group + r] = weight(channel, kk);
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i16_steps_bound_the_lane() {
        // 4-bit activations (15) x weights up to 7: pairs of at most 210.
        assert_eq!(i16_steps(4, 7), 156);
        assert!(156 * 210 <= i16::MAX as usize && 157 * 210 > i16::MAX as usize);
        // 8-bit x 127: one pair can reach 64,770, past i16.
        assert_eq!(i16_steps(8, 127), 0);
        // 8-bit x 64: 32,640 fits once.
        assert_eq!(i16_steps(8, 64), 1);
        assert_eq!(i16_steps(9, 1), 0);
    }
}
