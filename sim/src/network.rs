//! Layer and network drivers: conv2d and linear layers as GEMMs on the RTL,
//! max-pool and flatten on the host, every layer compared with golden.
//!
//! A conv layer's GEMM is its im2col matrix (`M` output pixels x `K =
//! cin*kh*kw`, in the order [`golden::fast::im2col`] fixes) times the
//! `[cout][K]` weights; a linear layer is the same with `M = 1`. The host
//! streams those operands through [`ArraySim::run_gemm`] and transposes the
//! `[M][N]` result back to `[C][H][W]`.

use crate::array::{ArraySim, DriverError, GemmResult};
use golden::fast::FastModel;
use golden::model::{Layer, Model, Op, Shape};
use hwgen::host::GemmOperands;
use hwgen::layer::LayerRequant;
use hwgen::GemmShape;

/// The GEMM shape layer `layer` performs for one image with input `in_shape`
/// and output `out_shape`; `None` for pool and flatten.
pub fn layer_gemm_shape(layer: &Layer, out_shape: Shape) -> Option<GemmShape> {
    let gemm = layer.gemm()?;
    Some(GemmShape {
        m: out_shape.height * out_shape.width,
        k: gemm.k,
        n: gemm.n,
    })
}

/// Run one compute layer for one image on the RTL. Returns the output in
/// `[C][H][W]` order (activations, or logits for the last layer) and the
/// GEMM's measured and analytical cycles.
pub fn run_compute_layer(
    array: &mut ArraySim,
    layer: &Layer,
    in_shape: Shape,
    out_shape: Shape,
    input: &[i32],
) -> Result<(Vec<i32>, GemmResult), DriverError> {
    let (mut outputs, result) =
        run_compute_layer_batch(array, layer, in_shape, out_shape, &[input])?;
    Ok((outputs.pop().expect("one image in, one out"), result))
}

/// Run one compute layer for a batch of images as ONE GEMM: the images'
/// im2col rows are stacked, so `M = batch * out_h * out_w` and every weight
/// tile loaded into the array serves the whole batch (for a linear layer,
/// `M = batch` instead of 1). Returns each image's `[C][H][W]` output.
pub fn run_compute_layer_batch(
    array: &mut ArraySim,
    layer: &Layer,
    in_shape: Shape,
    out_shape: Shape,
    inputs: &[&[i32]],
) -> Result<(Vec<Vec<i32>>, GemmResult), DriverError> {
    let gemm = layer.gemm().ok_or_else(|| {
        DriverError::Unsupported(format!("layer `{}` is not a compute layer", layer.name))
    })?;
    let per_image = layer_gemm_shape(layer, out_shape).expect("compute layer");
    let batch = inputs.len();
    let shape = GemmShape {
        m: per_image.m * batch,
        ..per_image
    };
    let mut activations: Vec<u32> = Vec::with_capacity(shape.m * shape.k);
    for input in inputs {
        let rows = match &layer.op {
            Op::Conv2d(conv) => {
                golden::fast::im2col(conv, in_shape, input, out_shape.height, out_shape.width)
            }
            _ => input.to_vec(),
        };
        activations.extend(rows.into_iter().map(|a| a as u32));
    }
    let params = gemm.params;
    let requant = LayerRequant::of(params, array.design().config.layer_out_bits());
    let ops = GemmOperands {
        shape,
        activations: &activations,
        in_bits: params.in_bits,
        weights: &params.weights,
        w_bits: params.w_bits,
        bias: &params.bias,
        shifts: &requant.shifts,
        out_bits: requant.out_bits,
        bypass: requant.bypass,
    };
    let result = array.run_gemm(&ops)?;
    // Rows [b*P, (b+1)*P) of the [M][N] result are image b; transpose each
    // to [N][P] = [C][H*W].
    let pixels = per_image.m;
    let outputs = (0..batch)
        .map(|image| {
            let mut output = vec![0i32; pixels * shape.n];
            for m in 0..pixels {
                let row = &result.values[(image * pixels + m) * shape.n..][..shape.n];
                for (n, &value) in row.iter().enumerate() {
                    output[n * pixels + m] = value as i32;
                }
            }
            output
        })
        .collect();
    Ok((outputs, result))
}

/// Per-layer figures of a network run, summed over all images.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerStats {
    pub name: String,
    pub kind: &'static str,
    /// GEMM shape for one image (`None` for host layers).
    #[serde(serialize_with = "serialize_gemm")]
    pub gemm: Option<GemmShape>,
    /// Multiply-accumulates, all images.
    pub macs: u64,
    /// Measured RTL cycles, all images (0 for host layers).
    pub cycles: u64,
    /// Analytical cycles from the schedule formula, all images.
    pub model_cycles: u64,
    /// Operand-slice passes per tile on this design: 1 when the layer fits
    /// the PEs, `ceil(a_in / a_bits) * ceil(w / w_bits)` when wider; 0 for
    /// host layers.
    pub passes: u32,
    /// Output values compared with golden, and how many differed.
    pub values: u64,
    pub mismatches: u64,
}

fn serialize_gemm<S: serde::Serializer>(
    gemm: &Option<GemmShape>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    gemm.map(|g| [("m", g.m), ("k", g.k), ("n", g.n)])
        .map(|fields| {
            fields
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>()
        })
        .serialize(serializer)
}

impl LayerStats {
    /// `MACs / (cycles * rows * cols)`; 0 for host layers.
    pub fn utilization(&self, rows: u32, cols: u32) -> f64 {
        if self.cycles == 0 {
            0.0
        } else {
            self.macs as f64 / (self.cycles as f64 * rows as f64 * cols as f64)
        }
    }

    /// Whether the layer ran on the RTL.
    pub fn on_rtl(&self) -> bool {
        self.gemm.is_some()
    }
}

/// The outcome of running images through a whole network on the RTL.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRun {
    pub layers: Vec<LayerStats>,
    /// Prediction (argmax of the RTL logits) per image.
    pub predictions: Vec<usize>,
    /// Prediction of golden per image (equal to `predictions` when there are
    /// no mismatches).
    pub golden_predictions: Vec<usize>,
    /// The first mismatch, described (layer, image, index, values).
    pub first_mismatch: Option<String>,
}

impl NetworkRun {
    pub fn mismatches(&self) -> u64 {
        self.layers.iter().map(|l| l.mismatches).sum()
    }

    pub fn total_cycles(&self) -> u64 {
        self.layers.iter().map(|l| l.cycles).sum()
    }

    pub fn total_model_cycles(&self) -> u64 {
        self.layers.iter().map(|l| l.model_cycles).sum()
    }

    /// How many RTL predictions equal `labels` (one label per image).
    pub fn correct(&self, labels: &[u8]) -> usize {
        self.predictions
            .iter()
            .zip(labels)
            .filter(|(&prediction, &label)| prediction == label as usize)
            .count()
    }
}

/// Run `images` (each `C*H*W` raw pixels) through `model` on the RTL, one
/// image at a time; see [`run_network_batched`].
pub fn run_network(
    array: &mut ArraySim,
    model: &Model,
    images: &[Vec<i32>],
    on_image: impl FnMut(usize),
) -> Result<NetworkRun, DriverError> {
    run_network_batched(array, model, images, 1, on_image)
}

/// Run `images` (each `C*H*W` raw pixels) through `model` on the RTL, layer
/// by layer: compute layers on the array, max-pool and flatten on the host.
/// Images go through in groups of `batch`: each compute layer runs one GEMM
/// per group with the group's rows stacked (`M = batch * pixels`), so weight
/// tiles are loaded once per group. Each layer's RTL output feeds the next
/// layer and is compared with golden's output of the same layer.
/// `on_image(i)` is called after image i.
pub fn run_network_batched(
    array: &mut ArraySim,
    model: &Model,
    images: &[Vec<i32>],
    batch: usize,
    on_image: impl FnMut(usize),
) -> Result<NetworkRun, DriverError> {
    run_images(array, model, images, 0, batch, on_image)
}

/// [`run_network_batched`] on up to `threads` verilated instances of
/// `design` at once, each running a contiguous share of the image groups on
/// its own thread. The groups are the same as with one thread (`batch`
/// images each, in order), and each GEMM's cycles do not depend on what ran
/// before it, so the result (predictions, per-layer cycles, mismatches, the
/// first mismatch) is identical to the one-thread run; `on_image(i)` may be
/// called from any thread. Tracing needs one instance: with
/// `options.trace`, one thread is used.
pub fn run_network_parallel(
    design: &hwgen::Design,
    options: &crate::array::ArrayOptions,
    model: &Model,
    images: &[Vec<i32>],
    batch: usize,
    threads: usize,
    on_image: impl Fn(usize) + Sync,
) -> Result<NetworkRun, DriverError> {
    if batch == 0 {
        return Err(DriverError::Unsupported("batch size 0".into()));
    }
    let groups = images.len().div_ceil(batch);
    let threads = parallel_threads(images.len(), batch, threads, options.trace.is_some());
    if threads == 1 {
        let mut array = ArraySim::new(design, options)?;
        return run_network_batched(&mut array, model, images, batch, &on_image);
    }
    // Contiguous shares of whole groups, the first ones one group larger.
    let share = |worker: usize| groups / threads + usize::from(worker < groups % threads);
    let mut chunks = Vec::with_capacity(threads);
    let mut first_group = 0;
    for worker in 0..threads {
        let start = (first_group * batch).min(images.len());
        first_group += share(worker);
        let end = (first_group * batch).min(images.len());
        chunks.push((start, &images[start..end]));
    }
    // Build (or find in the cache) the model once before the threads start.
    drop(ArraySim::new(design, options)?);
    let on_image = &on_image;
    let runs: Vec<Result<NetworkRun, DriverError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .iter()
            .map(|&(offset, chunk)| {
                scope.spawn(move || {
                    let mut array = ArraySim::new(design, options)?;
                    run_images(&mut array, model, chunk, offset, batch, on_image)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().expect("a simulation thread panicked"))
            .collect()
    });
    let mut merged: Option<NetworkRun> = None;
    for run in runs {
        let run = run?;
        match &mut merged {
            None => merged = Some(run),
            Some(total) => {
                for (sum, part) in total.layers.iter_mut().zip(&run.layers) {
                    sum.macs += part.macs;
                    sum.cycles += part.cycles;
                    sum.model_cycles += part.model_cycles;
                    sum.values += part.values;
                    sum.mismatches += part.mismatches;
                }
                total.predictions.extend(run.predictions);
                total.golden_predictions.extend(run.golden_predictions);
                if total.first_mismatch.is_none() {
                    total.first_mismatch = run.first_mismatch;
                }
            }
        }
    }
    Ok(merged.expect("at least one thread"))
}

/// How many instances [`run_network_parallel`] runs for `images` images in
/// groups of `batch` when asked for `threads`: at most one per group, and
/// one while tracing.
pub fn parallel_threads(images: usize, batch: usize, threads: usize, tracing: bool) -> usize {
    if tracing {
        1
    } else {
        threads.clamp(1, images.div_ceil(batch.max(1)).max(1))
    }
}

/// The images `images` (the first of which is image `first_index` of the
/// whole run, for messages and `on_image`) in groups of `batch`.
fn run_images(
    array: &mut ArraySim,
    model: &Model,
    images: &[Vec<i32>],
    first_index: usize,
    batch: usize,
    mut on_image: impl FnMut(usize),
) -> Result<NetworkRun, DriverError> {
    if batch == 0 {
        return Err(DriverError::Unsupported("batch size 0".into()));
    }
    let problems = array.design().unsupported_layers(model);
    if !problems.is_empty() {
        return Err(DriverError::Unsupported(format!(
            "the design `{}` cannot run this model: {} (resolve the design for the model: hwgen::resolve, as `tandem hwgen --model` does)",
            array.design().config.name,
            problems.join("; ")
        )));
    }
    let fast = FastModel::new(model);
    let mut layers: Vec<LayerStats> = model
        .layers()
        .iter()
        .enumerate()
        .map(|(index, layer)| LayerStats {
            name: layer.name.clone(),
            kind: layer.op.kind_name(),
            gemm: layer_gemm_shape(layer, model.output_shape(index)),
            macs: 0,
            cycles: 0,
            model_cycles: 0,
            passes: layer.params().map_or(0, |params| {
                array.design().passes(params.in_bits, params.w_bits).count()
            }),
            values: 0,
            mismatches: 0,
        })
        .collect();
    let mut predictions = Vec::with_capacity(images.len());
    let mut golden_predictions = Vec::with_capacity(images.len());
    let mut first_mismatch = None;

    for (group_index, group) in images.chunks(batch).enumerate() {
        let first_image = first_index + group_index * batch;
        let expected: Vec<Vec<Vec<i32>>> = group
            .iter()
            .map(|image| fast.forward_trace(image))
            .collect();
        let mut current: Vec<Vec<i32>> = group.to_vec();
        for (index, layer) in model.layers().iter().enumerate() {
            let in_shape = model.input_shape(index);
            let out_shape = model.output_shape(index);
            let stats = &mut layers[index];
            current = if layer.gemm().is_some() {
                let inputs: Vec<&[i32]> = current.iter().map(Vec::as_slice).collect();
                let (outputs, result) =
                    run_compute_layer_batch(array, layer, in_shape, out_shape, &inputs)?;
                stats.macs += model.layer_macs(index) * group.len() as u64;
                stats.cycles += result.cycles;
                stats.model_cycles += result.model_cycles;
                outputs
            } else {
                current
                    .iter()
                    .map(|activations| {
                        let view = ndarray::ArrayView3::from_shape(
                            (in_shape.channels, in_shape.height, in_shape.width),
                            activations.as_slice(),
                        )
                        .expect("activation shape");
                        golden::reference::forward_layer(&layer.op, view)
                            .into_iter()
                            .collect()
                    })
                    .collect()
            };
            for (offset, (got_image, want_trace)) in current.iter().zip(&expected).enumerate() {
                stats.values += got_image.len() as u64;
                for (position, (&got, &want)) in
                    got_image.iter().zip(&want_trace[index]).enumerate()
                {
                    if got != want {
                        stats.mismatches += 1;
                        if first_mismatch.is_none() {
                            first_mismatch = Some(format!(
                                "layer `{}`, image {}, output index {position}: RTL {got}, golden {want}",
                                layer.name,
                                first_image + offset
                            ));
                        }
                    }
                }
            }
        }
        for (offset, (logits, trace)) in current.iter().zip(&expected).enumerate() {
            predictions.push(golden::contract::argmax(logits).unwrap_or(0));
            golden_predictions
                .push(golden::contract::argmax(trace.last().expect("layers")).unwrap_or(0));
            on_image(first_image + offset);
        }
    }
    Ok(NetworkRun {
        layers,
        predictions,
        golden_predictions,
        first_mismatch,
    })
}

/// One layer in a [`NetworkSummary`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerSummary {
    #[serde(flatten)]
    pub stats: LayerStats,
    pub on_rtl: bool,
    /// `macs / (cycles * rows * cols)`; 0 for host layers.
    pub utilization: f64,
}

/// What `tandem sim network --json` prints last and the flow writes to
/// `sim.json`: one set of keys everywhere.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NetworkSummary {
    /// The design simulated: resolved widths and every change.
    pub hw: hwgen::HwSummary,
    pub images: usize,
    /// Images per GEMM.
    pub batch: usize,
    pub mismatches: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_mismatch: Option<String>,
    pub total_cycles: u64,
    pub total_model_cycles: u64,
    pub cycles_per_image: f64,
    pub utilization: f64,
    pub predictions: Vec<usize>,
    pub labels: Vec<u8>,
    pub correct: usize,
    pub accuracy: f64,
    pub layers: Vec<LayerSummary>,
}

impl NetworkSummary {
    /// The summary of `run` on `design`, with the images' `labels`.
    pub fn new(design: &hwgen::Design, run: &NetworkRun, labels: &[u8], batch: usize) -> Self {
        let (rows, cols) = (design.config.rows, design.config.cols);
        let images = run.predictions.len();
        let correct = run.correct(labels);
        let macs: u64 = run.layers.iter().map(|l| l.macs).sum();
        let total_cycles = run.total_cycles();
        NetworkSummary {
            hw: design.summary(),
            images,
            batch,
            mismatches: run.mismatches(),
            first_mismatch: run.first_mismatch.clone(),
            total_cycles,
            total_model_cycles: run.total_model_cycles(),
            cycles_per_image: total_cycles as f64 / images.max(1) as f64,
            utilization: macs as f64
                / (total_cycles.max(1) as f64 * f64::from(rows) * f64::from(cols)),
            predictions: run.predictions.clone(),
            labels: labels.to_vec(),
            correct,
            accuracy: correct as f64 / images.max(1) as f64,
            layers: run
                .layers
                .iter()
                .map(|l| LayerSummary {
                    on_rtl: l.on_rtl(),
                    utilization: l.utilization(rows, cols),
                    stats: l.clone(),
                })
                .collect(),
        }
    }
}
