//! The fast path: channel-last im2col and integer GEMM kernels picked per
//! layer and per CPU, parallel over images.
//!
//! It computes exactly what [`crate::reference`] computes (property tests
//! check this bit for bit, on every instruction set the CPU has) but is
//! built for throughput:
//!
//! - Activations stay channel-last between layers ([`layout`]), so im2col
//!   copies contiguous channel runs and a GEMM's output is the next layer's
//!   input as is.
//! - Each compute layer runs at the narrowest operands its bit-widths allow
//!   ([`pack`]): u8 x s8 up to 8-bit activations and weights, i16 up to 15-bit
//!   activations, i32 for 16-bit ones.
//! - The kernels ([`kernels`]) are chosen at run time ([`Isa`]): AVX-512 VNNI
//!   or AVX-VNNI (`vpdpbusd`), AVX2 (`vpmaddubsw` summed in i16 lanes as far
//!   as the layer's bounds allow, else `vpmaddwd`), or portable Rust.
//! - Accumulation is in `i32` with wrapping adds. This is exact: the model
//!   loader proves every accumulator plus bias fits `i32`, and two's
//!   complement wrapping of intermediate sums cancels out when the true final
//!   sum is in range.
//! - Images are processed in parallel with rayon, in chunks whose linear
//!   layers run as one GEMM with a row per image.

mod isa;
mod kernels;
pub mod layout;
mod pack;

pub use isa::Isa;
pub use layout::im2col;
pub use pack::{i16_steps, PackedWeights, PANEL, ROW_BLOCK};

use crate::model::{Layer, Model, Op, Shape};
use pack::PackedData;
use rayon::prelude::*;

/// A model with its weights packed once for the kernels of one [`Isa`].
#[derive(Debug, Clone)]
pub struct FastModel<'a> {
    model: &'a Model,
    isa: Isa,
    weights: Vec<Option<PackedWeights>>,
}

/// Activations of one image in `[C][H][W]` order, as i32.
pub type Activations = Vec<i32>;

/// Images per rayon task; its linear layers run as one GEMM of this many rows.
const CHUNK: usize = 16;

impl<'a> FastModel<'a> {
    /// The model on the fastest kernels this CPU has.
    pub fn new(model: &'a Model) -> Self {
        Self::with_isa(model, Isa::detect())
    }

    /// The model on the kernels of `isa`, which must be one of
    /// [`Isa::available`] (tests use this to check every kernel).
    pub fn with_isa(model: &'a Model, isa: Isa) -> Self {
        assert!(
            Isa::available().contains(&isa),
            "{} is not available on this CPU",
            isa.name()
        );
        let weights = model
            .layers()
            .iter()
            .map(|layer| {
                layer
                    .params()
                    .map(|params| PackedWeights::new(&layer.op, params, isa))
            })
            .collect();
        FastModel {
            model,
            isa,
            weights,
        }
    }

    pub fn model(&self) -> &Model {
        self.model
    }

    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// The packed weights of layer `index` (`None` for pooling and flatten).
    pub fn packed(&self, index: usize) -> Option<&PackedWeights> {
        self.weights[index].as_ref()
    }

    /// Every layer's output for one image (`C*H*W` pixel values, `[C][H][W]`), in order.
    pub fn forward_trace(&self, image: &[i32]) -> Vec<Activations> {
        assert_eq!(image.len(), self.model.input.len(), "image size");
        let mut outputs = Vec::with_capacity(self.model.layers().len());
        self.run(
            vec![layout::chw_to_hwc(self.model.input, image)],
            |index, images| {
                let shape = self.model.output_shape(index);
                outputs.push(layout::hwc_to_chw(shape, &images[0]));
            },
        );
        outputs
    }

    /// Logits of one image.
    pub fn logits(&self, image: &[i32]) -> Vec<i32> {
        assert_eq!(image.len(), self.model.input.len(), "image size");
        let hwc = layout::chw_to_hwc(self.model.input, image);
        self.run(vec![hwc], |_, _| {}).pop().expect("one image")
    }

    /// Logits of many raw-byte images (`images.len()` a multiple of the input
    /// size), in parallel. `on_progress(n)` is called after each chunk of `n`
    /// images finishes, from worker threads.
    pub fn logits_batch(&self, images: &[u8], on_progress: impl Fn(usize) + Sync) -> Vec<Vec<i32>> {
        let image_len = self.model.input.len();
        assert_eq!(images.len() % image_len, 0, "partial image in batch");
        images
            .par_chunks(image_len * CHUNK)
            .flat_map_iter(|chunk| {
                let hwc = chunk
                    .chunks_exact(image_len)
                    .map(|image| {
                        let pixels: Vec<i32> = image.iter().map(|&p| p as i32).collect();
                        layout::chw_to_hwc(self.model.input, &pixels)
                    })
                    .collect();
                let logits = self.run(hwc, |_, _| {});
                on_progress(logits.len());
                logits
            })
            .collect()
    }

    /// Run channel-last images through every layer; `after_layer(index,
    /// images)` sees each layer's channel-last outputs.
    fn run(
        &self,
        mut images: Vec<Vec<i32>>,
        mut after_layer: impl FnMut(usize, &[Vec<i32>]),
    ) -> Vec<Vec<i32>> {
        for (index, layer) in self.model.layers().iter().enumerate() {
            let in_shape = self.model.input_shape(index);
            let out_shape = self.model.output_shape(index);
            images = match &layer.op {
                Op::Conv2d(_) => images
                    .iter()
                    .map(|image| {
                        self.compute(index, std::slice::from_ref(image))
                            .pop()
                            .expect("one")
                    })
                    .collect(),
                Op::Linear(_) if in_shape.height * in_shape.width > 1 => {
                    // A linear layer reads the contract's [C][H][W] order.
                    let chw: Vec<_> = images
                        .iter()
                        .map(|i| layout::hwc_to_chw(in_shape, i))
                        .collect();
                    self.compute(index, &chw)
                }
                Op::Linear(_) => self.compute(index, &images),
                Op::MaxPool2d(pool) => images
                    .iter()
                    .map(|i| layout::maxpool_hwc(pool.kernel, pool.stride, in_shape, out_shape, i))
                    .collect(),
                // Flatten to the contract's order, which as an Nx1x1 tensor
                // is also channel-last.
                Op::Flatten => images
                    .iter()
                    .map(|i| layout::hwc_to_chw(in_shape, i))
                    .collect(),
            };
            after_layer(index, &images);
        }
        images
    }

    /// One compute layer over `images` (channel-last; for a linear layer, its
    /// input vector): one GEMM with all their rows, then bias and requantization.
    fn compute(&self, index: usize, images: &[Vec<i32>]) -> Vec<Vec<i32>> {
        let layer = &self.model.layers()[index];
        let weights = self.weights[index]
            .as_ref()
            .expect("compute layers are packed");
        let out_shape = self.model.output_shape(index);
        let pixels = out_shape.height * out_shape.width;
        let acc = accumulate(
            self.isa,
            layer,
            weights,
            self.model.input_shape(index),
            out_shape,
            images,
        );
        acc.chunks(pixels * weights.n_pad)
            .take(images.len())
            .map(|rows| finish(self.isa, weights, rows, pixels))
            .collect()
    }
}

/// Raw accumulators (no bias) of `images`' rows, `rows x n_pad` row-major
/// (rows padded to [`ROW_BLOCK`]).
fn accumulate(
    isa: Isa,
    layer: &Layer,
    weights: &PackedWeights,
    in_shape: Shape,
    out_shape: Shape,
    images: &[Vec<i32>],
) -> Vec<i32> {
    let pixels = out_shape.height * out_shape.width;
    let rows = (images.len() * pixels).div_ceil(ROW_BLOCK) * ROW_BLOCK;
    let mut out = vec![0i32; rows * weights.n_pad];
    let row_len = weights.row_len;
    match &weights.data {
        PackedData::U8 { .. } => {
            let x = fill::<u8>(isa, layer, in_shape, out_shape, images, row_len, rows);
            kernels::gemm_u8(isa, weights, &x, rows, &mut out);
        }
        PackedData::I16(_) => {
            let x = fill::<i16>(isa, layer, in_shape, out_shape, images, row_len, rows);
            kernels::gemm_i16(isa, weights, &x, rows, &mut out);
        }
        PackedData::I32(_) => {
            let x = fill::<i32>(isa, layer, in_shape, out_shape, images, row_len, rows);
            kernels::gemm_i32(isa, weights, &x, rows, &mut out);
        }
    }
    out
}

/// The activation rows of `images` for one compute layer, padded to `rows`.
#[inline(always)]
fn fill_body<T: layout::Element>(
    layer: &Layer,
    in_shape: Shape,
    out_shape: Shape,
    images: &[Vec<i32>],
    row_len: usize,
    rows: usize,
) -> Vec<T> {
    let mut x = Vec::with_capacity(rows * row_len);
    for image in images {
        match &layer.op {
            Op::Conv2d(conv) => {
                let narrow = layout::narrow::<T>(image);
                layout::im2col_hwc(conv, in_shape, out_shape, &narrow, row_len, &mut x)
            }
            _ => layout::append_row(image, row_len, &mut x),
        }
    }
    x.resize(rows * row_len, T::default());
    x
}

/// Raw accumulators (no bias) of a compute layer for one image (`[C][H][W]`
/// input), laid out `[out_channel][pixel]`. Used by the random-model
/// calibration, which needs the values before requantization.
pub fn layer_accumulators(layer: &Layer, in_shape: Shape, input: &[i32]) -> Option<Vec<i32>> {
    let params = layer.params()?;
    let out_shape = layer.output_shape(in_shape).ok()?;
    let isa = Isa::detect();
    let weights = PackedWeights::new(&layer.op, params, isa);
    let image = match layer.op {
        Op::Conv2d(_) => layout::chw_to_hwc(in_shape, input),
        _ => input.to_vec(),
    };
    let acc = accumulate(isa, layer, &weights, in_shape, out_shape, &[image]);
    let (pixels, n) = (out_shape.height * out_shape.width, weights.n);
    let mut by_channel = vec![0; n * pixels];
    for (pixel, row) in acc.chunks_exact(weights.n_pad).take(pixels).enumerate() {
        for (channel, &value) in row[..n].iter().enumerate() {
            by_channel[channel * pixels + pixel] = value;
        }
    }
    Some(by_channel)
}

/// Add bias and requantize (or pass logits through): `rows` is one image's
/// `pixels x n_pad` accumulators; the result is channel-last `pixels x n`.
fn finish(isa: Isa, weights: &PackedWeights, rows: &[i32], pixels: usize) -> Activations {
    let (n, n_pad) = (weights.n, weights.n_pad);
    let mut out = vec![0; pixels * n];
    let mut row_out = vec![0; n_pad];
    for (row, dst) in rows.chunks_exact(n_pad).zip(out.chunks_exact_mut(n)) {
        kernels::epilogue(isa, &weights.epilogue, row, &mut row_out);
        dst.copy_from_slice(&row_out[..n]);
    }
    out
}

/// [`fill_body`], compiled a second time with AVX2 and picked with the
/// kernels' [`Isa`], so the narrowing and copies vectorize with AVX2 too.
fn fill<T: layout::Element>(
    isa: Isa,
    layer: &Layer,
    in_shape: Shape,
    out_shape: Shape,
    images: &[Vec<i32>],
    row_len: usize,
    rows: usize,
) -> Vec<T> {
    #[cfg(target_arch = "x86_64")]
    if isa != Isa::Portable {
        // SAFETY: every x86 ISA but Portable implies AVX2, and non-portable
        // ISAs only come from `Isa::available`.
        return unsafe { fill_avx2(layer, in_shape, out_shape, images, row_len, rows) };
    }
    let _ = isa;
    fill_body(layer, in_shape, out_shape, images, row_len, rows)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_avx2<T: layout::Element>(
    layer: &Layer,
    in_shape: Shape,
    out_shape: Shape,
    images: &[Vec<i32>],
    row_len: usize,
    rows: usize,
) -> Vec<T> {
    fill_body(layer, in_shape, out_shape, images, row_len, rows)
}
