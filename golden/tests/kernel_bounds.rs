//! The fast path's kernels at every operand-width boundary and at the
//! accumulator bound, on every instruction set this CPU has, against the
//! readable reference (i64 accumulators).
//!
//! Each case is a two-layer network: a 1x1 convolution that expands the
//! 8-bit image into `a_bits`-bit activations (pixel x 32767 and pixel x 257,
//! both clamped to `2^a - 1`: all 255 gives `2^a - 1` everywhere, other
//! images a spread of values), then a linear layer over `K`
//! of them with `w_bits`-bit weights, where `K` is as large as the 32-bit
//! accumulator allows (capped for test time). Its channels sum all `+w_max`,
//! all `-w_max` (biased to land exactly on i32's ends) and a mixed pattern.

use golden::contract;
use golden::fast::{FastModel, Isa};
use golden::model::{ComputeParams, Conv2d, Layer, Linear, Model, Op, Output, Provenance, Shape};
use golden::reference;
use ndarray::Array3;

const MAX_K: usize = 1 << 15;

fn model(a_bits: u8, w_bits: u8) -> Model {
    let a_max = contract::activation_max(a_bits) as i64;
    let (_, w_max) = contract::weight_range(w_bits);
    let bound = (i32::MAX as i64 / (a_max * w_max as i64)) as usize;
    let pixels = (bound / 2).clamp(1, MAX_K / 2);
    let k = 2 * pixels;
    let expand = Layer {
        name: "expand".into(),
        op: Op::Conv2d(Conv2d {
            in_channels: 1,
            out_channels: 2,
            kernel: [1, 1],
            stride: 1,
            padding: 0,
            params: ComputeParams {
                w_bits: 16,
                in_bits: 8,
                output: Output::Requant {
                    bits: a_bits,
                    shifts: vec![0, 0],
                },
                weights: vec![32767, 257],
                bias: vec![0, 0],
            },
        }),
    };
    let flatten = Layer {
        name: "flatten".into(),
        op: Op::Flatten,
    };
    let reach = k as i64 * a_max * w_max as i64;
    let mut weights = vec![w_max; k];
    weights.extend(vec![-w_max; k]);
    weights.extend((0..k).map(|i| [w_max, -w_max, 1, 0, -1, w_max / 2][i % 6]));
    let classify = Layer {
        name: "classify".into(),
        op: Op::Linear(Linear {
            in_features: k,
            out_features: 3,
            params: ComputeParams {
                w_bits,
                in_bits: a_bits,
                output: Output::Logits,
                weights,
                bias: vec![
                    (i32::MAX as i64 - reach) as i32,
                    (i32::MIN as i64 + reach) as i32,
                    -7,
                ],
            },
        }),
    };
    Model::new(
        format!("bounds-a{a_bits}-w{w_bits}"),
        "custom",
        1.0,
        Shape::new(1, 1, pixels),
        8,
        Provenance::default(),
        vec![expand, flatten, classify],
    )
    .expect("valid model")
}

/// Name the first differing value instead of printing whole traces.
fn assert_same(fast: &[Vec<i32>], readable: &[Vec<i32>], what: &str) {
    assert_eq!(fast.len(), readable.len(), "{what}: layer count");
    for (layer, (f, r)) in fast.iter().zip(readable).enumerate() {
        assert_eq!(f.len(), r.len(), "{what}: layer {layer} size");
        if let Some(i) = (0..f.len()).find(|&i| f[i] != r[i]) {
            panic!(
                "{what}: layer {layer} value {i}: fast {} reference {}",
                f[i], r[i]
            );
        }
    }
}

#[test]
fn every_width_boundary_on_every_isa() {
    let isas = Isa::available();
    eprintln!(
        "instruction sets on this CPU: {:?}",
        isas.iter().map(|i| i.name()).collect::<Vec<_>>()
    );
    for a_bits in [1, 2, 7, 8, 9, 15, 16] {
        for w_bits in [2, 7, 8, 9, 15, 16] {
            let model = model(a_bits, w_bits);
            let pixels = model.input.len();
            let images = [
                vec![255; pixels],
                (0..pixels)
                    .map(|i| (i * 7919 % 256) as i32)
                    .collect::<Vec<_>>(),
                (0..pixels)
                    .map(|i| if i % 3 == 0 { 255 } else { 0 })
                    .collect(),
            ];
            for image in &images {
                let view = Array3::from_shape_vec((1, 1, pixels), image.clone()).unwrap();
                let readable: Vec<Vec<i32>> = reference::forward_trace(&model, view.view())
                    .into_iter()
                    .map(|t| t.into_iter().collect())
                    .collect();
                for &isa in &isas {
                    let fast = FastModel::with_isa(&model, isa).forward_trace(image);
                    assert_same(
                        &fast,
                        &readable,
                        &format!("{} on {}", model.name, isa.name()),
                    );
                }
            }
            // The all-max image lands on i32's ends.
            let view = Array3::from_shape_vec((1, 1, pixels), images[0].clone()).unwrap();
            let logits = reference::forward(&model, view.view());
            assert_eq!(logits[0], i32::MAX, "{}", model.name);
            assert_eq!(logits[1], i32::MIN, "{}", model.name);
        }
    }
}
