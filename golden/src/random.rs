//! Seeded random models with calibrated biases and shifts, so hardware work
//! can be tested without a trained network.
//!
//! Uniform random weights alone make a useless network: after a few layers
//! every activation is 0 (dead ReLUs) or saturated. The generator therefore
//! builds the network one layer at a time and, for each hidden channel, looks
//! at the accumulators it produces on a few synthetic calibration images:
//!
//! - the bias is set to minus the channel's median accumulator, so about half
//!   of the values survive the ReLU clamp;
//! - the shift is the smallest one that maps the 99th percentile of the
//!   biased accumulator to at most `2^a - 1`, so the output uses its range
//!   and only the top percent saturates.
//!
//! Weights are uniform over the narrow range of `w_bits`, but capped so that
//! the worst-case accumulator of the layer stays well inside 32 bits (the
//! contract's limit); for wide activations and large K this cap is what
//! bounds the magnitude, and the model records it in its provenance notes.

use crate::contract;
use crate::fast;
use crate::model::{
    ComputeParams, Conv2d, Layer, Linear, MaxPool2d, Model, ModelError, Op, Output, Provenance,
    Shape,
};
use crate::topology::{LayerPlan, Topology};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bit-widths of a random model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomBits {
    /// Weight bits of every compute layer.
    pub w_bits: u8,
    /// Activation bits of every hidden layer output.
    pub a_bits: u8,
    /// Weight bits of the first and last compute layers, when different
    /// (quantized networks commonly keep those at 8).
    pub first_last_w_bits: Option<u8>,
}

/// Number of synthetic images the shifts are calibrated on.
const CALIBRATION_IMAGES: usize = 4;
/// Largest worst-case |accumulator| a random layer may reach (2^30 leaves
/// room for the bias and rounding inside i32).
const ACC_BUDGET: i64 = 1 << 30;

/// A random model for a topology preset.
pub fn random_model(topology: &Topology, bits: RandomBits, seed: u64) -> Result<Model, ModelError> {
    let name = format!(
        "random-{}-w{}a{}-seed{}",
        topology.preset.name(),
        bits.w_bits,
        bits.a_bits,
        seed
    );
    let mut model = random_from_plan(
        &name,
        topology.preset.name(),
        topology.width,
        topology.input,
        &topology.layers,
        bits,
        seed,
    )?;
    let mut provenance = model.provenance.clone();
    provenance
        .notes
        .insert("in_channels".into(), topology.input.channels.to_string());
    model.set_provenance(provenance);
    Ok(model)
}

/// A random model for any layer plan (used by tests for odd shapes).
pub fn random_from_plan(
    name: &str,
    topology_name: &str,
    width: f64,
    input: Shape,
    plan: &[LayerPlan],
    bits: RandomBits,
    seed: u64,
) -> Result<Model, ModelError> {
    for (what, value, range) in [
        ("w_bits", bits.w_bits, contract::WEIGHT_BITS),
        ("a_bits", bits.a_bits, contract::ACT_BITS),
        (
            "first_last_w_bits",
            bits.first_last_w_bits.unwrap_or(bits.w_bits),
            contract::WEIGHT_BITS,
        ),
    ] {
        if !range.contains(&value) {
            return Err(ModelError::model(format!(
                "{what} = {value}: must be {}..={}",
                range.start(),
                range.end()
            )));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let compute_count = plan
        .iter()
        .filter(|p| matches!(p, LayerPlan::Conv2d { .. } | LayerPlan::Linear { .. }))
        .count();
    if compute_count == 0 {
        return Err(ModelError::model("the layer plan has no compute layer"));
    }

    // Calibration activations flow through the network as it is built.
    let mut calibration: Vec<Vec<i32>> = (0..CALIBRATION_IMAGES)
        .map(|_| synthetic_image(&mut rng, input))
        .collect();
    let mut shape = input;
    let mut in_bits = contract::INPUT_BITS;
    let mut layers = Vec::with_capacity(plan.len());
    let mut compute_index = 0;
    let mut capped_layers = Vec::new();

    for step in plan {
        let layer = match step {
            LayerPlan::MaxPool2d {
                name,
                kernel,
                stride,
            } => Layer {
                name: name.clone(),
                op: Op::MaxPool2d(MaxPool2d {
                    kernel: *kernel,
                    stride: *stride,
                }),
            },
            LayerPlan::Flatten { name } => Layer {
                name: name.clone(),
                op: Op::Flatten,
            },
            LayerPlan::Conv2d { .. } | LayerPlan::Linear { .. } => {
                let is_first = compute_index == 0;
                let is_last = compute_index + 1 == compute_count;
                compute_index += 1;
                let w_bits = if is_first || is_last {
                    bits.first_last_w_bits.unwrap_or(bits.w_bits)
                } else {
                    bits.w_bits
                };
                let (layer, capped) = random_compute_layer(
                    &mut rng,
                    step,
                    shape,
                    in_bits,
                    w_bits,
                    if is_last { None } else { Some(bits.a_bits) },
                    &calibration,
                )?;
                if capped {
                    capped_layers.push(layer.name.clone());
                }
                if let Some(out_bits) = layer.params().and_then(|p| p.output.bits()) {
                    in_bits = out_bits;
                }
                layer
            }
        };
        let out_shape = layer
            .output_shape(shape)
            .map_err(|message| ModelError::layer(&layer.name, message))?;
        calibration = calibration
            .iter()
            .map(|act| apply_single(&layer, shape, out_shape, act))
            .collect();
        shape = out_shape;
        layers.push(layer);
    }

    let mut provenance = Provenance {
        created_by: Some("tandem model random".into()),
        seed: Some(seed),
        ..Provenance::default()
    };
    if !capped_layers.is_empty() {
        provenance.notes.insert(
            "weight_magnitude_capped".into(),
            format!(
                "{} (weights kept small so accumulators fit 32 bits)",
                capped_layers.join(", ")
            ),
        );
    }
    Model::new(
        name,
        topology_name,
        width,
        input,
        contract::INPUT_BITS,
        provenance,
        layers,
    )
}

/// A smooth-ish image: a few random rectangles of random brightness on a dark
/// background plus noise, so calibration sees structure and zeros like real
/// images do (pure noise would not).
fn synthetic_image(rng: &mut ChaCha8Rng, shape: Shape) -> Vec<i32> {
    let mut image = vec![0i32; shape.len()];
    let plane = shape.height * shape.width;
    for _ in 0..4 {
        let y0 = rng.random_range(0..shape.height);
        let x0 = rng.random_range(0..shape.width);
        let y1 = rng.random_range(y0..shape.height) + 1;
        let x1 = rng.random_range(x0..shape.width) + 1;
        let value = rng.random_range(40..=255);
        for c in 0..shape.channels {
            for y in y0..y1 {
                for x in x0..x1 {
                    image[c * plane + y * shape.width + x] = value;
                }
            }
        }
    }
    for pixel in &mut image {
        let noise: i32 = rng.random_range(-20..=20);
        *pixel = (*pixel + noise).clamp(0, 255);
    }
    image
}

fn apply_single(layer: &Layer, in_shape: Shape, out_shape: Shape, input: &[i32]) -> Vec<i32> {
    // A one-layer model is not valid on its own (it may not end in logits),
    // so run the layer through the readable reference directly.
    let view = ndarray::ArrayView3::from_shape(
        (in_shape.channels, in_shape.height, in_shape.width),
        input,
    )
    .expect("calibration activation shape");
    let out = crate::reference::forward_layer(&layer.op, view);
    debug_assert_eq!(out.len(), out_shape.len());
    out.into_iter().collect()
}

#[allow(clippy::too_many_arguments)]
fn random_compute_layer(
    rng: &mut ChaCha8Rng,
    step: &LayerPlan,
    in_shape: Shape,
    in_bits: u8,
    w_bits: u8,
    out_bits: Option<u8>,
    calibration: &[Vec<i32>],
) -> Result<(Layer, bool), ModelError> {
    let (name, k, n) = match step {
        LayerPlan::Conv2d {
            name,
            out_channels,
            kernel,
            ..
        } => (name, in_shape.channels * kernel * kernel, *out_channels),
        LayerPlan::Linear { name, out_features } => (name, in_shape.len(), *out_features),
        _ => unreachable!("only compute layers reach here"),
    };
    let act_max = contract::activation_max(in_bits) as i64;
    let (_, range_max) = contract::weight_range(w_bits);
    let budget_max = ACC_BUDGET / (k as i64 * act_max);
    if budget_max < 1 {
        return Err(ModelError::layer(
            name,
            format!("K = {k} products of {in_bits}-bit activations cannot fit a 32-bit accumulator even with weights of magnitude 1"),
        ));
    }
    let w_max = (range_max as i64).min(budget_max) as i32;
    let capped = w_max < range_max;
    let weights: Vec<i32> = (0..n * k)
        .map(|_| rng.random_range(-w_max..=w_max))
        .collect();
    let provisional = ComputeParams {
        w_bits,
        in_bits,
        output: Output::Logits,
        weights,
        bias: vec![0; n],
    };
    let op = |params: ComputeParams| match step {
        LayerPlan::Conv2d {
            out_channels,
            kernel,
            stride,
            padding,
            ..
        } => Op::Conv2d(Conv2d {
            in_channels: in_shape.channels,
            out_channels: *out_channels,
            kernel: [*kernel, *kernel],
            stride: *stride,
            padding: *padding,
            params,
        }),
        _ => Op::Linear(Linear {
            in_features: in_shape.len(),
            out_features: n,
            params,
        }),
    };
    let mut layer = Layer {
        name: name.clone(),
        op: op(provisional),
    };
    layer
        .output_shape(in_shape)
        .map_err(|message| ModelError::layer(name, message))?;
    // Per-channel accumulator samples over all calibration images and pixels.
    let mut samples: Vec<Vec<i64>> = vec![Vec::new(); n];
    for image in calibration {
        let acc = fast::layer_accumulators(&layer, in_shape, image).expect("compute layer");
        let pixels = acc.len() / n;
        for (channel, row) in acc.chunks_exact(pixels).enumerate() {
            samples[channel].extend(row.iter().map(|&a| a as i64));
        }
    }
    let mut bias = Vec::with_capacity(n);
    let mut shifts = Vec::with_capacity(n);
    for channel_samples in &mut samples {
        channel_samples.sort_unstable();
        let median = quantile(channel_samples, 0.5);
        match out_bits {
            Some(bits) => {
                let channel_bias = -median;
                let high = quantile(channel_samples, 0.99) + channel_bias;
                let target = contract::activation_max(bits) as i64;
                let shift = (0..=contract::MAX_SHIFT)
                    .find(|&s| (high + contract::rounding_offset(s)) >> s <= target)
                    .unwrap_or(contract::MAX_SHIFT);
                bias.push(channel_bias as i32);
                shifts.push(shift);
            }
            None => {
                // Logits: centre each class so no class wins by its bias alone.
                bias.push((-median) as i32);
            }
        }
    }
    let params = ComputeParams {
        w_bits,
        in_bits,
        output: match out_bits {
            Some(bits) => Output::Requant { bits, shifts },
            None => Output::Logits,
        },
        weights: match layer.op {
            Op::Conv2d(ref conv) => conv.params.weights.clone(),
            Op::Linear(ref linear) => linear.params.weights.clone(),
            _ => unreachable!(),
        },
        bias,
    };
    layer.op = op(params);
    Ok((layer, capped))
}

/// Value at quantile `q` of sorted samples (0 for none).
fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index]
}
