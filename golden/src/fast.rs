//! The fast path: im2col + a blocked integer GEMM, parallel over images.
//!
//! It computes exactly what [`crate::reference`] computes (property tests
//! check this bit for bit) but is built for throughput:
//!
//! - Operands are narrowed to `i16` whenever the activations fit (`in_bits
//!   <= 15`; weights always fit since they are narrow-range 16-bit at most),
//!   so the dot products compile to multiply-add-pairs instructions
//!   (`pmaddwd`/`vpmaddwd`); 16-bit activations fall back to `i32` operands.
//! - The GEMM kernel is compiled twice, plain and with AVX2 enabled, and the
//!   AVX2 copy is chosen at run time when the CPU has it.
//! - Accumulation is in `i32` with wrapping adds. This is exact: the model
//!   loader proves every accumulator plus bias fits `i32`, and two's
//!   complement wrapping of intermediate sums cancels out when the true final
//!   sum is in range.
//! - Images are processed in parallel with rayon.

use crate::contract;
use crate::model::{ComputeParams, Conv2d, Layer, Model, Op, Output, Shape};
use rayon::prelude::*;

/// Operand storage of a prepared compute layer.
#[derive(Debug, Clone)]
enum Weights {
    Narrow(Vec<i16>),
    Wide(Vec<i32>),
}

/// A model with its weights converted once into the layout the kernels want.
#[derive(Debug, Clone)]
pub struct FastModel<'a> {
    model: &'a Model,
    weights: Vec<Option<Weights>>,
}

/// Activations of one image in `[C][H][W]` order, as i32.
pub type Activations = Vec<i32>;

impl<'a> FastModel<'a> {
    pub fn new(model: &'a Model) -> Self {
        let weights = model
            .layers()
            .iter()
            .map(|layer| layer.params().map(prepare_weights))
            .collect();
        FastModel { model, weights }
    }

    pub fn model(&self) -> &Model {
        self.model
    }

    /// Every layer's output for one image (`C*H*W` pixel values), in order.
    pub fn forward_trace(&self, image: &[i32]) -> Vec<Activations> {
        assert_eq!(image.len(), self.model.input.len(), "image size");
        let mut outputs = Vec::with_capacity(self.model.layers().len());
        let mut current = image.to_vec();
        for (index, layer) in self.model.layers().iter().enumerate() {
            current = self.forward_layer(index, layer, &current);
            outputs.push(current.clone());
        }
        outputs
    }

    /// Logits of one image.
    pub fn logits(&self, image: &[i32]) -> Vec<i32> {
        assert_eq!(image.len(), self.model.input.len(), "image size");
        let mut current = image.to_vec();
        for (index, layer) in self.model.layers().iter().enumerate() {
            current = self.forward_layer(index, layer, &current);
        }
        current
    }

    /// Logits of many raw-byte images (`images.len()` a multiple of the input
    /// size), in parallel. `on_progress(n)` is called after each chunk of `n`
    /// images finishes, from worker threads.
    pub fn logits_batch(&self, images: &[u8], on_progress: impl Fn(usize) + Sync) -> Vec<Vec<i32>> {
        let image_len = self.model.input.len();
        assert_eq!(images.len() % image_len, 0, "partial image in batch");
        // Chunks of a few images amortize the progress calls and keep the
        // rayon tasks coarse.
        const CHUNK: usize = 16;
        images
            .par_chunks(image_len * CHUNK)
            .flat_map_iter(|chunk| {
                let logits: Vec<Vec<i32>> = chunk
                    .chunks_exact(image_len)
                    .map(|image| {
                        let pixels: Vec<i32> = image.iter().map(|&p| p as i32).collect();
                        self.logits(&pixels)
                    })
                    .collect();
                on_progress(logits.len());
                logits
            })
            .collect()
    }

    fn forward_layer(&self, index: usize, layer: &Layer, input: &[i32]) -> Activations {
        let in_shape = self.model.input_shape(index);
        match &layer.op {
            Op::Conv2d(conv) => {
                let weights = self.weights[index].as_ref().expect("prepared");
                let acc = conv_accumulate(conv, in_shape, input, weights);
                finish(&conv.params, &acc, self.model.output_shape(index))
            }
            Op::Linear(linear) => {
                let weights = self.weights[index].as_ref().expect("prepared");
                let acc = gemm_dispatch(input, 1, linear.in_features, weights, linear.out_features);
                finish(&linear.params, &acc, self.model.output_shape(index))
            }
            Op::MaxPool2d(pool) => {
                let out = self.model.output_shape(index);
                maxpool(pool.kernel, pool.stride, in_shape, out, input)
            }
            Op::Flatten => input.to_vec(),
        }
    }
}

fn prepare_weights(params: &ComputeParams) -> Weights {
    if params.in_bits <= 15 {
        Weights::Narrow(params.weights.iter().map(|&w| w as i16).collect())
    } else {
        Weights::Wide(params.weights.clone())
    }
}

/// Raw accumulators (no bias) of a compute layer for one image, laid out
/// `[out_channel][pixel]`. Used by the random-model calibration, which needs
/// the values before requantization.
pub fn layer_accumulators(layer: &Layer, in_shape: Shape, input: &[i32]) -> Option<Vec<i32>> {
    let params = layer.params()?;
    let weights = prepare_weights(params);
    Some(match &layer.op {
        Op::Conv2d(conv) => conv_accumulate(conv, in_shape, input, &weights),
        Op::Linear(linear) => {
            gemm_dispatch(input, 1, linear.in_features, &weights, linear.out_features)
        }
        _ => unreachable!("params() is Some only for compute layers"),
    })
}

/// Add bias and requantize (or pass logits through), per output channel.
fn finish(params: &ComputeParams, acc: &[i32], out_shape: Shape) -> Activations {
    let pixels = out_shape.height * out_shape.width;
    let mut out = Vec::with_capacity(acc.len());
    for (channel, row) in acc.chunks_exact(pixels).enumerate() {
        let bias = params.bias[channel];
        match &params.output {
            Output::Requant { bits, shifts } => {
                let shift = shifts[channel];
                out.extend(
                    row.iter()
                        .map(|&a| contract::requantize(a as i64 + bias as i64, shift, *bits)),
                );
            }
            Output::Logits => out.extend(row.iter().map(|&a| a.wrapping_add(bias))),
        }
    }
    out
}

fn conv_accumulate(conv: &Conv2d, in_shape: Shape, input: &[i32], weights: &Weights) -> Vec<i32> {
    let [kh, kw] = conv.kernel;
    let k = conv.in_channels * kh * kw;
    let out_h = (in_shape.height + 2 * conv.padding - kh) / conv.stride + 1;
    let out_w = (in_shape.width + 2 * conv.padding - kw) / conv.stride + 1;
    let pixels = out_h * out_w;
    let patches = im2col(conv, in_shape, input, out_h, out_w);
    gemm_dispatch(&patches, pixels, k, weights, conv.out_channels)
}

/// The im2col matrix of one image: row `p = oy*out_w + ox` holds the
/// `K = cin*kh*kw` inputs under the kernel at output pixel `p`, in
/// `[cin][kh][kw]` order (zero where the kernel covers padding). This is the
/// order the hardware drivers stream too.
pub fn im2col(
    conv: &Conv2d,
    in_shape: Shape,
    input: &[i32],
    out_h: usize,
    out_w: usize,
) -> Vec<i32> {
    let [kh, kw] = conv.kernel;
    let k = conv.in_channels * kh * kw;
    let (h, w) = (in_shape.height as isize, in_shape.width as isize);
    let mut patches = vec![0i32; out_h * out_w * k];
    for oy in 0..out_h {
        for ox in 0..out_w {
            let row = &mut patches[(oy * out_w + ox) * k..][..k];
            let mut col = 0;
            for ci in 0..conv.in_channels {
                let plane = &input[ci * in_shape.height * in_shape.width..];
                for ky in 0..kh {
                    let iy = (oy * conv.stride + ky) as isize - conv.padding as isize;
                    for kx in 0..kw {
                        let ix = (ox * conv.stride + kx) as isize - conv.padding as isize;
                        if iy >= 0 && ix >= 0 && iy < h && ix < w {
                            row[col] = plane[(iy * w + ix) as usize];
                        }
                        col += 1;
                    }
                }
            }
        }
    }
    patches
}

fn maxpool(
    kernel: usize,
    stride: usize,
    in_shape: Shape,
    out: Shape,
    input: &[i32],
) -> Activations {
    let mut result = Vec::with_capacity(out.len());
    for c in 0..out.channels {
        let plane = &input[c * in_shape.height * in_shape.width..];
        for oy in 0..out.height {
            for ox in 0..out.width {
                let mut best = i32::MIN;
                for ky in 0..kernel {
                    let row = &plane[(oy * stride + ky) * in_shape.width..];
                    for kx in 0..kernel {
                        best = best.max(row[ox * stride + kx]);
                    }
                }
                result.push(best);
            }
        }
    }
    result
}

/// `out[n][m] = sum_k x[m][k] * w[n][k]` for `m < rows`, `n < cols`.
fn gemm_dispatch(x: &[i32], rows: usize, k: usize, weights: &Weights, cols: usize) -> Vec<i32> {
    let mut out = vec![0i32; rows * cols];
    match weights {
        Weights::Narrow(w) => {
            let x: Vec<i16> = x.iter().map(|&v| v as i16).collect();
            gemm_select(&x, rows, k, w, cols, &mut out);
        }
        Weights::Wide(w) => gemm_select(x, rows, k, w, cols, &mut out),
    }
    out
}

/// Operand types the GEMM kernel accepts.
trait Operand: Copy + Sync {
    fn widen(self) -> i32;
}
impl Operand for i16 {
    #[inline(always)]
    fn widen(self) -> i32 {
        self as i32
    }
}
impl Operand for i32 {
    #[inline(always)]
    fn widen(self) -> i32 {
        self
    }
}

fn gemm_select<T: Operand>(x: &[T], rows: usize, k: usize, w: &[T], cols: usize, out: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { gemm_avx2(x, rows, k, w, cols, out) };
            return;
        }
    }
    gemm_kernel(x, rows, k, w, cols, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gemm_avx2<T: Operand>(
    x: &[T],
    rows: usize,
    k: usize,
    w: &[T],
    cols: usize,
    out: &mut [i32],
) {
    gemm_kernel(x, rows, k, w, cols, out);
}

/// Blocked GEMM: a block of output channels stays in cache while every
/// image row streams past it; each output is one dot product over `k`.
#[inline(always)]
fn gemm_kernel<T: Operand>(x: &[T], rows: usize, k: usize, w: &[T], cols: usize, out: &mut [i32]) {
    const COL_BLOCK: usize = 16;
    const ROW_BLOCK: usize = 64;
    for col0 in (0..cols).step_by(COL_BLOCK) {
        let col1 = (col0 + COL_BLOCK).min(cols);
        for row0 in (0..rows).step_by(ROW_BLOCK) {
            let row1 = (row0 + ROW_BLOCK).min(rows);
            for col in col0..col1 {
                let w_row = &w[col * k..(col + 1) * k];
                for row in row0..row1 {
                    let x_row = &x[row * k..(row + 1) * k];
                    out[col * rows + row] = dot(x_row, w_row);
                }
            }
        }
    }
}

/// Dot product with 16 independent i32 lanes so the compiler can vectorize
/// it (as multiply-add pairs for i16 operands).
#[inline(always)]
fn dot<T: Operand>(a: &[T], b: &[T]) -> i32 {
    const LANES: usize = 16;
    let mut lanes = [0i32; LANES];
    let chunks_a = a.chunks_exact(LANES);
    let chunks_b = b.chunks_exact(LANES);
    let (tail_a, tail_b) = (chunks_a.remainder(), chunks_b.remainder());
    for (ca, cb) in chunks_a.zip(chunks_b) {
        for lane in 0..LANES {
            lanes[lane] = lanes[lane].wrapping_add(ca[lane].widen().wrapping_mul(cb[lane].widen()));
        }
    }
    let mut sum = lanes.iter().fold(0i32, |s, &v| s.wrapping_add(v));
    for (&x, &y) in tail_a.iter().zip(tail_b) {
        sum = sum.wrapping_add(x.widen().wrapping_mul(y.widen()));
    }
    sum
}
