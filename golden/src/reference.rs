//! The readable reference: the contract written as plainly as possible on
//! ndarray, one loop nest per layer kind, with i64 accumulators so that no
//! intermediate can overflow. It is the definition the fast path
//! ([`crate::fast`]), the trainer and the RTL are tested against; it is not
//! meant to be quick.

use crate::contract;
use crate::model::{ComputeParams, Conv2d, Linear, MaxPool2d, Model, Op, Output};
use ndarray::{Array3, ArrayView3};

/// One image's activations or logits, `[channels][height][width]`. Hidden
/// activations are unsigned values stored in i32; logits are `[classes][1][1]`.
pub type Tensor = Array3<i32>;

/// Run one image (`[C][H][W]` raw pixel values) through the model and return
/// every layer's output, in layer order. The last one holds the logits.
pub fn forward_trace(model: &Model, image: ArrayView3<'_, i32>) -> Vec<Tensor> {
    assert_eq!(
        image.dim(),
        (model.input.channels, model.input.height, model.input.width),
        "image shape does not match the model input"
    );
    let mut outputs: Vec<Tensor> = Vec::with_capacity(model.layers().len());
    let mut current = image.to_owned();
    for layer in model.layers() {
        current = forward_layer(&layer.op, current.view());
        outputs.push(current.clone());
    }
    outputs
}

/// Run one image and return its logits.
pub fn forward(model: &Model, image: ArrayView3<'_, i32>) -> Vec<i32> {
    let trace = forward_trace(model, image);
    trace
        .last()
        .map(|t| t.iter().copied().collect())
        .unwrap_or_default()
}

/// Apply one layer to one image's activations.
pub fn forward_layer(op: &Op, input: ArrayView3<'_, i32>) -> Tensor {
    match op {
        Op::Conv2d(conv) => conv2d(conv, input),
        Op::Linear(linear) => linear_layer(linear, input),
        Op::MaxPool2d(pool) => maxpool2d(pool, input),
        Op::Flatten => {
            let values: Vec<i32> = input.iter().copied().collect();
            Array3::from_shape_vec((values.len(), 1, 1), values).expect("flatten shape")
        }
    }
}

/// Turn an exact accumulator into the layer's output for channel `channel`.
fn finish(params: &ComputeParams, channel: usize, acc: i64) -> i32 {
    let acc_plus_bias = acc + params.bias[channel] as i64;
    match &params.output {
        Output::Requant { bits, shifts } => {
            contract::requantize(acc_plus_bias, shifts[channel], *bits)
        }
        // The model loader guarantees acc + bias fits i32.
        Output::Logits => acc_plus_bias as i32,
    }
}

fn conv2d(conv: &Conv2d, input: ArrayView3<'_, i32>) -> Tensor {
    let (in_channels, in_h, in_w) = input.dim();
    let [kh, kw] = conv.kernel;
    let out_h = (in_h + 2 * conv.padding - kh) / conv.stride + 1;
    let out_w = (in_w + 2 * conv.padding - kw) / conv.stride + 1;
    let weights = ndarray::ArrayView4::from_shape(
        (conv.out_channels, in_channels, kh, kw),
        &conv.params.weights,
    )
    .expect("weight shape");
    let mut output = Array3::zeros((conv.out_channels, out_h, out_w));
    for co in 0..conv.out_channels {
        for oy in 0..out_h {
            for ox in 0..out_w {
                let mut acc: i64 = 0;
                for ci in 0..in_channels {
                    for ky in 0..kh {
                        for kx in 0..kw {
                            // Position in the unpadded input; outside it the
                            // zero padding contributes nothing.
                            let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                            let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                            if iy < 0 || ix < 0 || iy >= in_h as isize || ix >= in_w as isize {
                                continue;
                            }
                            let a = input[[ci, iy as usize, ix as usize]] as i64;
                            acc += a * weights[[co, ci, ky, kx]] as i64;
                        }
                    }
                }
                output[[co, oy, ox]] = finish(&conv.params, co, acc);
            }
        }
    }
    output
}

fn linear_layer(linear: &Linear, input: ArrayView3<'_, i32>) -> Tensor {
    let features: Vec<i64> = input.iter().map(|&v| v as i64).collect();
    let mut output = Array3::zeros((linear.out_features, 1, 1));
    for out in 0..linear.out_features {
        let row = &linear.params.weights[out * linear.in_features..(out + 1) * linear.in_features];
        let acc: i64 = row.iter().zip(&features).map(|(&w, &a)| w as i64 * a).sum();
        output[[out, 0, 0]] = finish(&linear.params, out, acc);
    }
    output
}

fn maxpool2d(pool: &MaxPool2d, input: ArrayView3<'_, i32>) -> Tensor {
    let (channels, in_h, in_w) = input.dim();
    let out_h = (in_h - pool.kernel) / pool.stride + 1;
    let out_w = (in_w - pool.kernel) / pool.stride + 1;
    Array3::from_shape_fn((channels, out_h, out_w), |(c, oy, ox)| {
        let mut best = i32::MIN;
        for ky in 0..pool.kernel {
            for kx in 0..pool.kernel {
                best = best.max(input[[c, oy * pool.stride + ky, ox * pool.stride + kx]]);
            }
        }
        best
    })
}
