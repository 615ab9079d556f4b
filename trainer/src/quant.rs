//! Power-of-two quantization: scales, integer layers and the exact integer
//! forward.
//!
//! Real values and integers are tied by scales (real value per integer
//! unit): `s_in` for a layer's input activations (1/255 for the image),
//! `s_out` for its output activations and `s_w[c]` for output channel `c`'s
//! weights. The contract's requantizer can only shift, so the trainer chooses
//!
//! ```text
//! s_w[c] = 2^-shift[c] * s_out / s_in
//! ```
//!
//! which makes the real output `s_in * s_w[c] * (acc + bias)` equal to
//! `s_out * (acc + bias) * 2^-shift[c]`: the integer output
//! `round_half_up((acc + bias) / 2^shift)` clamped to `0..=2^a-1` is exactly
//! the quantized real output divided by `s_out`. `shift[c]` is the one of the
//! two powers of two around the channel's ideal scale (`max|W_c| / qmax`)
//! with the smaller weight quantization error, among those that keep the
//! contract's 32-bit accumulator bound.
//!
//! The last layer outputs raw `acc + bias` logits. Its output scale is free,
//! but all classes must share it (the prediction compares logits across
//! channels), so it gets one weight scale for the whole tensor.

use crate::net::{LayerKind, LayerSpec};
use golden::contract;
use golden::model::{ComputeParams, Conv2d, Layer, Linear, Op, Output};
use tch::{Device, Kind, Tensor};

/// Scale of the network input: pixel byte `p` stands for the real `p / 255`.
pub const INPUT_SCALE: f64 = 1.0 / 255.0;

/// Bit-widths of one compute layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerBits {
    pub w_bits: u8,
    pub in_bits: u8,
    /// Output activation bits; `None` for the logits layer.
    pub out_bits: Option<u8>,
}

/// Bit-widths of every compute layer: `first_last_w_bits` for the first and
/// last layers, `w_bits` for the others, `a_bits` for every hidden output.
pub fn network_bits(
    layers: usize,
    w_bits: u8,
    a_bits: u8,
    first_last_w_bits: u8,
) -> Vec<LayerBits> {
    (0..layers)
        .map(|index| {
            let edge = index == 0 || index + 1 == layers;
            LayerBits {
                w_bits: if edge { first_last_w_bits } else { w_bits },
                in_bits: if index == 0 {
                    contract::INPUT_BITS
                } else {
                    a_bits
                },
                out_bits: (index + 1 != layers).then_some(a_bits),
            }
        })
        .collect()
}

/// The weight scale channel `c` gets from its shift:
/// `2^-shift * s_out / s_in`.
pub fn pow2_weight_scale(s_in: f64, s_out: f64, shift: u8) -> f64 {
    (s_out / s_in) / 2f64.powi(shift as i32)
}

/// A compute layer in integers, exactly as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct IntLayer {
    pub spec: LayerSpec,
    pub bits: LayerBits,
    /// Row-major in PyTorch layout, `[cout][K]`.
    pub weights: Vec<i32>,
    pub bias: Vec<i32>,
    /// One per output channel; empty for the logits layer.
    pub shifts: Vec<u8>,
    /// Real value of one input unit.
    pub s_in: f64,
    /// Real value of one output unit: the activation scale for a hidden
    /// layer, `s_in * s_w` for the logits layer.
    pub s_out: f64,
    /// Weight scale per output channel.
    pub s_w: Vec<f64>,
}

fn round_weights(row: &[f32], scale: f64, qmax: i32) -> Vec<i32> {
    row.iter()
        .map(|&w| ((w as f64 / scale).round() as i64).clamp(-qmax as i64, qmax as i64) as i32)
        .collect()
}

/// Range of biases that keeps the contract's accumulator bound
/// (`N*A + bias >= -2^31`, `P*A + bias + r <= 2^31 - 1`) for a row of
/// integer weights; `None` when even a zero bias does not fit.
fn bias_range(row: &[i32], in_bits: u8, rounding: i64) -> Option<(i64, i64)> {
    let act_max = contract::activation_max(in_bits) as i64;
    let positive: i64 = row.iter().filter(|&&w| w > 0).map(|&w| w as i64).sum();
    let negative: i64 = row.iter().filter(|&&w| w < 0).map(|&w| w as i64).sum();
    let low = i32::MIN as i64 - negative * act_max;
    let high = i32::MAX as i64 - positive * act_max - rounding;
    (low <= high).then_some((low, high))
}

fn squared_error(row: &[f32], quantized: &[i32], scale: f64) -> f64 {
    row.iter()
        .zip(quantized)
        .map(|(&w, &q)| (w as f64 - q as f64 * scale).powi(2))
        .sum()
}

/// The shift for one output channel (see the module docs): `row` is the
/// channel's float weights, `bias` its float bias.
pub fn choose_shift(row: &[f32], bias: f64, s_in: f64, s_out: f64, w_bits: u8, in_bits: u8) -> u8 {
    let qmax = contract::weight_range(w_bits).1;
    let max_abs = row.iter().fold(0f64, |m, &w| m.max((w as f64).abs()));
    let fits = |shift: u8| {
        let scale = pow2_weight_scale(s_in, s_out, shift);
        let quantized = round_weights(row, scale, qmax);
        let bias_int = (bias / (s_in * scale)).round();
        match bias_range(&quantized, in_bits, contract::rounding_offset(shift)) {
            Some((low, high)) => bias_int >= low as f64 && bias_int <= high as f64,
            None => false,
        }
    };
    if max_abs == 0.0 {
        // A dead channel: any shift gives the same outputs; the largest one
        // that fits keeps the bias most precise.
        return (0..=contract::MAX_SHIFT)
            .rev()
            .find(|&s| fits(s))
            .unwrap_or(0);
    }
    // s_w = 2^-t * s_out / s_in equals the ideal max_abs / qmax at real t.
    let ideal = (s_out / s_in * qmax as f64 / max_abs).log2();
    let clamp = |t: f64| t.clamp(0.0, contract::MAX_SHIFT as f64) as u8;
    let mut candidates = vec![clamp(ideal.floor()), clamp(ideal.ceil())];
    candidates.dedup();
    let best = candidates
        .iter()
        .copied()
        .filter(|&s| fits(s))
        .map(|s| {
            let scale = pow2_weight_scale(s_in, s_out, s);
            (
                squared_error(row, &round_weights(row, scale, qmax), scale),
                s,
            )
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, s)| s);
    // Nothing fits: coarser weights (smaller shifts) shrink the accumulator.
    best.unwrap_or_else(|| (0..candidates[0]).rev().find(|&s| fits(s)).unwrap_or(0))
}

/// Float weights as `[cout][K]` rows and the bias, both as host vectors.
fn host_weights(weight: &Tensor, bias: &Tensor) -> (Vec<f32>, Vec<f32>) {
    let w: Vec<f32> = Vec::from(&weight.detach().to_kind(Kind::Float).flatten(0, -1));
    let b: Vec<f32> = Vec::from(&bias.detach().to_kind(Kind::Float));
    (w, b)
}

fn clamp_bias(value: f64, row: &[i32], in_bits: u8, rounding: i64) -> i32 {
    let (low, high) = bias_range(row, in_bits, rounding).unwrap_or((0, 0));
    let low = low.max(i32::MIN as i64) as f64;
    let high = high.min(i32::MAX as i64) as f64;
    value.round().clamp(low, high) as i32
}

/// Quantize a hidden layer with input scale `s_in` and output scale `s_out`.
pub fn quantize_hidden(
    spec: &LayerSpec,
    bits: LayerBits,
    weight: &Tensor,
    bias: &Tensor,
    s_in: f64,
    s_out: f64,
) -> IntLayer {
    quantize_hidden_with(spec, bits, weight, bias, s_in, s_out, None)
}

/// The largest shift up to `wanted` whose integer weights and bias keep the
/// contract's accumulator bound (0 when none does; the bias is clamped then).
pub fn fitting_shift(
    row: &[f32],
    bias: f64,
    s_in: f64,
    s_out: f64,
    bits: LayerBits,
    wanted: u8,
) -> u8 {
    let qmax = contract::weight_range(bits.w_bits).1;
    let wanted = wanted.min(contract::MAX_SHIFT);
    (0..=wanted)
        .rev()
        .find(|&shift| {
            let scale = pow2_weight_scale(s_in, s_out, shift);
            let quantized = round_weights(row, scale, qmax);
            let bias_int = (bias / (s_in * scale)).round();
            bias_range(&quantized, bits.in_bits, contract::rounding_offset(shift))
                .is_some_and(|(low, high)| bias_int >= low as f64 && bias_int <= high as f64)
        })
        .unwrap_or(0)
}

/// [`quantize_hidden`] with the shifts given (learned ones, one per output
/// channel) instead of chosen; each is lowered until it keeps the
/// accumulator bound ([`fitting_shift`]).
pub fn quantize_hidden_with_shifts(
    spec: &LayerSpec,
    bits: LayerBits,
    weight: &Tensor,
    bias: &Tensor,
    (s_in, s_out): (f64, f64),
    shifts: &[u8],
) -> IntLayer {
    quantize_hidden_with(spec, bits, weight, bias, s_in, s_out, Some(shifts))
}

fn quantize_hidden_with(
    spec: &LayerSpec,
    bits: LayerBits,
    weight: &Tensor,
    bias: &Tensor,
    s_in: f64,
    s_out: f64,
    wanted: Option<&[u8]>,
) -> IntLayer {
    let (w, b) = host_weights(weight, bias);
    let k = spec.fan_in();
    let qmax = contract::weight_range(bits.w_bits).1;
    let mut weights = Vec::with_capacity(w.len());
    let mut biases = Vec::with_capacity(b.len());
    let mut shifts = Vec::with_capacity(b.len());
    let mut scales = Vec::with_capacity(b.len());
    for (c, row) in w.chunks_exact(k).enumerate() {
        let shift = match wanted {
            Some(wanted) => fitting_shift(row, b[c] as f64, s_in, s_out, bits, wanted[c]),
            None => choose_shift(row, b[c] as f64, s_in, s_out, bits.w_bits, bits.in_bits),
        };
        let scale = pow2_weight_scale(s_in, s_out, shift);
        let quantized = round_weights(row, scale, qmax);
        biases.push(clamp_bias(
            b[c] as f64 / (s_in * scale),
            &quantized,
            bits.in_bits,
            contract::rounding_offset(shift),
        ));
        weights.extend(quantized);
        shifts.push(shift);
        scales.push(scale);
    }
    IntLayer {
        spec: spec.clone(),
        bits,
        weights,
        bias: biases,
        shifts,
        s_in,
        s_out,
        s_w: scales,
    }
}

/// Quantize the logits layer: one symmetric weight scale for the whole
/// tensor (`max|W| / qmax`), bias in units of `s_in * s_w`.
pub fn quantize_logits(
    spec: &LayerSpec,
    bits: LayerBits,
    weight: &Tensor,
    bias: &Tensor,
    s_in: f64,
) -> IntLayer {
    let (w, b) = host_weights(weight, bias);
    let k = spec.fan_in();
    let qmax = contract::weight_range(bits.w_bits).1;
    let max_abs = w.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    let scale = if max_abs > 0.0 {
        max_abs / qmax as f64
    } else {
        1.0
    };
    let mut weights = Vec::with_capacity(w.len());
    let mut biases = Vec::with_capacity(b.len());
    for (c, row) in w.chunks_exact(k).enumerate() {
        let quantized = round_weights(row, scale, qmax);
        biases.push(clamp_bias(
            b[c] as f64 / (s_in * scale),
            &quantized,
            bits.in_bits,
            0,
        ));
        weights.extend(quantized);
    }
    IntLayer {
        spec: spec.clone(),
        bits,
        weights,
        bias: biases,
        shifts: Vec::new(),
        s_in,
        s_out: s_in * scale,
        s_w: vec![scale; b.len()],
    }
}

/// An integer layer's constants as tensors of one float kind, ready for
/// [`IntTensors::forward`].
pub struct IntTensors {
    pub spec: LayerSpec,
    weight: Tensor,
    bias: Tensor,
    /// Rounding offset `2^(s-1)` per channel (hidden layers).
    rounding: Tensor,
    /// `2^s` per channel (hidden layers).
    divisor: Tensor,
    act_max: Option<f64>,
}

impl IntLayer {
    /// The constants in `kind` on `device`. With `Kind::Double` the forward
    /// is exact (every integer involved is far below 2^53); `Kind::Float` is
    /// for training, where a rare off-by-one does not matter.
    pub fn tensors(&self, kind: Kind, device: Device) -> IntTensors {
        let view = self.spec.channel_view();
        let to = |values: Vec<f64>| Tensor::of_slice(&values).to_kind(kind).to_device(device);
        let weight = to(self.weights.iter().map(|&w| w as f64).collect())
            .view(self.spec.weight_shape().as_slice());
        let bias = to(self.bias.iter().map(|&b| b as f64).collect());
        let rounding = to(self
            .shifts
            .iter()
            .map(|&s| contract::rounding_offset(s) as f64)
            .collect());
        let divisor = to(self.shifts.iter().map(|&s| 2f64.powi(s as i32)).collect());
        let view_of = |t: Tensor| {
            if t.numel() == 0 {
                t
            } else {
                t.view(view.as_slice())
            }
        };
        IntTensors {
            spec: self.spec.clone(),
            weight,
            bias,
            rounding: view_of(rounding),
            divisor: view_of(divisor),
            act_max: self
                .bits
                .out_bits
                .map(|b| contract::activation_max(b) as f64),
        }
    }

    /// The golden layer (weights, bias, bit-widths, shifts).
    pub fn to_golden(&self) -> Layer {
        let params = ComputeParams {
            w_bits: self.bits.w_bits,
            in_bits: self.bits.in_bits,
            output: match self.bits.out_bits {
                Some(bits) => Output::Requant {
                    bits,
                    shifts: self.shifts.clone(),
                },
                None => Output::Logits,
            },
            weights: self.weights.clone(),
            bias: self.bias.clone(),
        };
        let op = match self.spec.kind {
            LayerKind::Conv {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
            } => Op::Conv2d(Conv2d {
                in_channels,
                out_channels,
                kernel: [kernel, kernel],
                stride,
                padding,
                params,
            }),
            LayerKind::Linear {
                in_features,
                out_features,
            } => Op::Linear(Linear {
                in_features,
                out_features,
                params,
            }),
        };
        Layer {
            name: self.spec.name.clone(),
            op,
        }
    }
}

impl IntTensors {
    /// The contract on integer-valued tensors: `acc + bias`, then for hidden
    /// layers `clamp(floor((acc + bias + r) / 2^s), 0, 2^a - 1)`. Division by
    /// a power of two and `floor` are exact in binary floating point, so in
    /// f64 this is the arithmetic shift of the contract.
    pub fn forward(&self, x: &Tensor) -> Tensor {
        let acc = self.spec.apply(x, &self.weight, None);
        let view = self.spec.channel_view();
        let acc = acc + self.bias.view(view.as_slice());
        match self.act_max {
            Some(max) => ((acc + &self.rounding) / &self.divisor)
                .floor()
                .clamp(0.0, max),
            None => acc,
        }
    }
}

/// Exact integer logits (as f64) of raw `u8` images `[N, C, H, W]`.
pub fn int_forward_exact(layers: &[IntTensors], images: &Tensor) -> Tensor {
    tch::no_grad(|| {
        let mut x = images.to_kind(Kind::Double);
        for layer in layers {
            x = layer.forward(&x);
        }
        x
    })
}

/// The activation scale that minimizes the mean squared error between
/// `relu(y)` and its `a_bits` quantization (a search over clips from the
/// maximum down to 1/1000 of it on a geometric grid). `y` holds
/// pre-activation samples.
pub fn calibrate_scale(y: &Tensor, a_bits: u8) -> f64 {
    tch::no_grad(|| {
        let flat = y.detach().to_kind(Kind::Float).flatten(0, -1);
        // At most ~1M samples: a strided subset keeps the search fast.
        let stride = (flat.numel() as i64 / (1 << 20)).max(1);
        let samples = flat.slice(0, 0, flat.numel() as i64, stride).relu();
        let max = samples.max().double_value(&[]);
        if max <= 0.0 {
            return 1.0;
        }
        let levels = contract::activation_max(a_bits) as f64;
        let mut best = (f64::INFINITY, max / levels);
        for step in 0..80 {
            let clip = max * 2f64.powf(-step as f64 / 8.0);
            let scale = clip / levels;
            let q = (&samples / scale + 0.5).floor().clamp(0.0, levels) * scale;
            let error = (q - &samples).square().mean(Kind::Float).double_value(&[]);
            if error < best.0 {
                best = (error, scale);
            }
        }
        best.1
    })
}

/// Quantize real activations to `a_bits` with scale `s` in the forward pass
/// (round half up, clamp to `0..=2^a-1`, like the contract) with a
/// straight-through gradient inside the clip range and zero outside it.
pub fn fake_quant_activation(y: &Tensor, scale: f64, a_bits: u8) -> Tensor {
    let levels = contract::activation_max(a_bits) as f64;
    let clipped = y.clamp(0.0, levels * scale);
    let quantized = (&clipped / scale + 0.5).floor().clamp(0.0, levels) * scale;
    &clipped + (quantized - &clipped).detach()
}

/// Quantize real activations like [`fake_quant_activation`] with a
/// trainable scale tensor (a scalar). The gradient to the scale is the
/// learned-step-size one (Esser et al., LSQ): `round(y/s) - y/s` inside the
/// clip range, `2^a - 1` above it, 0 below; scaled by `1/sqrt(n * levels)`
/// (`n` activations per sample) so that its size does not grow with the
/// layer. Inputs get the straight-through gradient inside the range.
pub fn learned_quant_activation(y: &Tensor, scale: &Tensor, a_bits: u8) -> Tensor {
    let levels = contract::activation_max(a_bits) as f64;
    let per_sample = (y.numel() as f64 / y.size()[0].max(1) as f64).max(1.0);
    let gradient_scale = 1.0 / (per_sample * levels).sqrt();
    // Same value, gradient multiplied by gradient_scale.
    let scale = scale.detach() + (scale - scale.detach()) * gradient_scale;
    let units = (y / &scale).clamp(0.0, levels);
    let rounded = (&units + 0.5).floor().clamp(0.0, levels);
    (&units + (rounded - &units).detach()) * scale
}

/// Quantize real weights to `w_bits` per output channel with trainable
/// scales `scale` (shaped to broadcast over the channels), the contract's
/// narrow range, with LSQ gradients (as [`learned_quant_activation`],
/// symmetric): the weights get the straight-through gradient inside the
/// range, the scales `round(w/s) - w/s` inside and `±qmax` outside, scaled
/// by `1/sqrt(K * qmax)` for `K` weights per channel.
pub fn learned_quant_weight(weight: &Tensor, scale: &Tensor, w_bits: u8) -> Tensor {
    let qmax = contract::weight_range(w_bits).1 as f64;
    let per_channel = (weight.numel() as f64 / weight.size()[0].max(1) as f64).max(1.0);
    let gradient_scale = 1.0 / (per_channel * qmax).sqrt();
    let scale = scale.detach() + (scale - scale.detach()) * gradient_scale;
    let units = (weight / &scale).clamp(-qmax, qmax);
    let rounded = units.detach().round();
    (&units + (rounded - &units).detach()) * scale
}

/// The real-valued weights and bias an integer layer stands for, with
/// straight-through gradients to the float `weight` and `bias`.
pub fn fake_quant_params(int: &IntLayer, weight: &Tensor, bias: &Tensor) -> (Tensor, Tensor) {
    let device = weight.device();
    let spec = &int.spec;
    let mut view = vec![-1i64];
    view.extend(std::iter::repeat_n(1, spec.weight_shape().len() - 1));
    let scales = Tensor::of_slice(&int.s_w)
        .to_kind(Kind::Float)
        .to_device(device);
    let weights: Vec<f32> = int.weights.iter().map(|&w| w as f32).collect();
    let quantized_w = Tensor::of_slice(&weights)
        .to_device(device)
        .view(spec.weight_shape().as_slice())
        * scales.view(view.as_slice());
    let biases: Vec<f64> = int
        .bias
        .iter()
        .zip(&int.s_w)
        .map(|(&b, &s)| b as f64 * s * int.s_in)
        .collect();
    let quantized_b = Tensor::of_slice(&biases)
        .to_kind(Kind::Float)
        .to_device(device);
    let w = weight + (quantized_w - weight).detach();
    let b = bias + (quantized_b - bias).detach();
    (w, b)
}
