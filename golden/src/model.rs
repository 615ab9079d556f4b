//! The in-memory integer model and its validation.
//!
//! A [`Model`] is a chain of [`Layer`]s over an image input. Compute layers
//! (`conv2d`, `linear`) are both GEMMs over `K = in_channels * kh * kw` (or
//! `in_features`) products; [`Layer::gemm`] exposes that common view so the
//! hardware drivers and reports never need to special-case the layer kind.
//!
//! A model that exists in memory is always valid: [`Model::new`] runs every
//! check the loader runs, so the forward passes can rely on them (for example
//! that no accumulator leaves the 32-bit range).

use crate::contract;
use std::fmt;

/// Version of the `model.yaml` format this crate reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Shape of one image's activations, `[channels][height][width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Shape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Shape {
    pub const fn new(channels: usize, height: usize, width: usize) -> Self {
        Shape {
            channels,
            height,
            width,
        }
    }

    /// Number of values in one image's activations.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `[channels, height, width]`, the order used in `model.yaml`.
    pub fn to_array(self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}", self.channels, self.height, self.width)
    }
}

/// What a compute layer does with its accumulators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Hidden layer: shift-only requantization to unsigned `bits`, one shift
    /// per output channel (`0..=31`).
    Requant { bits: u8, shifts: Vec<u8> },
    /// Final layer: `acc + bias` as signed 32-bit logits.
    Logits,
}

impl Output {
    /// Activation bits of the output, `None` for logits.
    pub fn bits(&self) -> Option<u8> {
        match self {
            Output::Requant { bits, .. } => Some(*bits),
            Output::Logits => None,
        }
    }
}

/// Integer parameters shared by every compute layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeParams {
    /// Bit-width of the signed weights.
    pub w_bits: u8,
    /// Bit-width of the unsigned input activations (the producer's output bits).
    pub in_bits: u8,
    pub output: Output,
    /// Weights, row-major in PyTorch layout: `[cout][cin][kh][kw]` or `[out][in]`.
    /// Row `n` (one output channel) is the `K` weights `weights[n*K..(n+1)*K]`.
    pub weights: Vec<i32>,
    /// One bias per output channel.
    pub bias: Vec<i32>,
}

/// 2-D convolution with zero padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conv2d {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: [usize; 2],
    pub stride: usize,
    pub padding: usize,
    pub params: ComputeParams,
}

/// Fully connected layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
    pub params: ComputeParams,
}

/// Max-pooling over unsigned activations (no padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    pub kernel: usize,
    pub stride: usize,
}

/// One layer's operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Conv2d(Conv2d),
    Linear(Linear),
    MaxPool2d(MaxPool2d),
    /// `[C][H][W] -> [C*H*W][1][1]`; the data order is unchanged.
    Flatten,
}

impl Op {
    /// The kind name used in `model.yaml`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Op::Conv2d(_) => "conv2d",
            Op::Linear(_) => "linear",
            Op::MaxPool2d(_) => "maxpool2d",
            Op::Flatten => "flatten",
        }
    }
}

/// A named layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub name: String,
    pub op: Op,
}

/// The GEMM a compute layer performs for one image:
/// `Y[m][n] = sum_k X[m][k] * W[n][k] + bias[n]` with `m` the output pixel
/// (`out_h * out_w` of them, 1 for linear), `n` the output channel and `k`
/// the input patch index in `[cin][kh][kw]` order (im2col order).
#[derive(Debug, Clone, Copy)]
pub struct GemmView<'a> {
    /// Products per output value.
    pub k: usize,
    /// Output channels / features.
    pub n: usize,
    pub params: &'a ComputeParams,
}

impl Layer {
    /// The compute parameters, `None` for pooling and flatten.
    pub fn params(&self) -> Option<&ComputeParams> {
        match &self.op {
            Op::Conv2d(conv) => Some(&conv.params),
            Op::Linear(linear) => Some(&linear.params),
            Op::MaxPool2d(_) | Op::Flatten => None,
        }
    }

    /// The GEMM view of a compute layer, `None` for pooling and flatten.
    pub fn gemm(&self) -> Option<GemmView<'_>> {
        match &self.op {
            Op::Conv2d(conv) => Some(GemmView {
                k: conv.in_channels * conv.kernel[0] * conv.kernel[1],
                n: conv.out_channels,
                params: &conv.params,
            }),
            Op::Linear(linear) => Some(GemmView {
                k: linear.in_features,
                n: linear.out_features,
                params: &linear.params,
            }),
            Op::MaxPool2d(_) | Op::Flatten => None,
        }
    }

    /// Output shape for a given input shape, or why the input does not fit.
    pub fn output_shape(&self, input: Shape) -> Result<Shape, String> {
        match &self.op {
            Op::Conv2d(conv) => {
                if input.channels != conv.in_channels {
                    return Err(format!(
                        "expects {} input channels but its input has shape {input}",
                        conv.in_channels
                    ));
                }
                let longest = input.height.max(input.width);
                if padded_len(longest, conv.padding).is_none_or(|len| len > MAX_PADDED_LEN) {
                    return Err(format!(
                        "padding {} is too large for input {input}",
                        conv.padding
                    ));
                }
                let [kh, kw] = conv.kernel;
                let out_h = conv_out_len(input.height, kh, conv.stride, conv.padding)
                    .ok_or_else(|| format!("kernel {kh}x{kw} does not fit input {input}"))?;
                let out_w = conv_out_len(input.width, kw, conv.stride, conv.padding)
                    .ok_or_else(|| format!("kernel {kh}x{kw} does not fit input {input}"))?;
                Ok(Shape::new(conv.out_channels, out_h, out_w))
            }
            Op::Linear(linear) => {
                if input.height != 1 || input.width != 1 {
                    return Err(format!(
                        "linear layers take a flat input but got {input}: add a flatten layer before it"
                    ));
                }
                if input.channels != linear.in_features {
                    return Err(format!(
                        "expects {} input features but its input has {}",
                        linear.in_features, input.channels
                    ));
                }
                Ok(Shape::new(linear.out_features, 1, 1))
            }
            Op::MaxPool2d(pool) => {
                let out_h = conv_out_len(input.height, pool.kernel, pool.stride, 0);
                let out_w = conv_out_len(input.width, pool.kernel, pool.stride, 0);
                match (out_h, out_w) {
                    (Some(h), Some(w)) => Ok(Shape::new(input.channels, h, w)),
                    _ => Err(format!(
                        "pool kernel {} does not fit input {input}",
                        pool.kernel
                    )),
                }
            }
            Op::Flatten => Ok(Shape::new(input.len(), 1, 1)),
        }
    }
}

/// Output length of a convolution or pooling window along one axis; `None`
/// when the window does not fit or the padded length overflows `usize`.
pub fn conv_out_len(input: usize, kernel: usize, stride: usize, padding: usize) -> Option<usize> {
    let padded = padded_len(input, padding)?;
    if kernel == 0 || stride == 0 || padded < kernel {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

/// `input + 2 * padding`, or `None` when it overflows `usize`.
fn padded_len(input: usize, padding: usize) -> Option<usize> {
    padding.checked_mul(2)?.checked_add(input)
}

/// The largest padded length the forward passes index with signed (`isize`)
/// coordinates.
const MAX_PADDED_LEN: usize = isize::MAX as usize;

/// Where a model came from. Free-form fields the trainer and the random
/// generator fill in; `tandem model inspect` prints them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a provenance mapping with any of created_by, dataset, seed, accuracy and notes"
)]
pub struct Provenance {
    /// The command or tool that made the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Accuracy measured with golden on the dataset's test split, 0..=1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Anything else worth keeping (teacher accuracy, training time, ...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub notes: std::collections::BTreeMap<String, String>,
}

/// A validated integer network.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub name: String,
    /// Topology preset it was built from (`alexnet-cifar`, ...), or `custom`.
    pub topology: String,
    /// Width multiplier of the preset (1.0 for custom models).
    pub width: f64,
    pub input: Shape,
    /// Bits of the input pixels (8 for raw image bytes).
    pub input_bits: u8,
    pub provenance: Provenance,
    layers: Vec<Layer>,
    /// Input shape of every layer, then the output shape of the last one.
    shapes: Vec<Shape>,
}

/// Why a model is invalid. Messages name the file (when there is one), the
/// layer and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The cause is the `source()`, not part of the message, so a cause
    /// chain prints it once.
    #[error("{file}: cannot {action}")]
    Io {
        file: String,
        /// `read`, `write` or `create the directory`.
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid model YAML: {message}")]
    Yaml { file: String, message: String },
    #[error("{file}: format_version {found} is not supported (this tandem reads version {FORMAT_VERSION}); re-export the model with this version of tandem")]
    UnsupportedVersion { file: String, found: u32 },
    #[error("{file}: not a valid safetensors file: {message}")]
    Safetensors { file: String, message: String },
    #[error("{file}: tensor `{tensor}`: {message}")]
    Tensor {
        file: String,
        tensor: String,
        message: String,
    },
    #[error("{}layer `{layer}`: {message}", file_prefix(file))]
    Layer {
        file: String,
        layer: String,
        message: String,
    },
    #[error("{}{message}", file_prefix(file))]
    Model { file: String, message: String },
}

/// `"path: "`, or nothing for errors about a model built in memory.
fn file_prefix(file: &str) -> String {
    if file.is_empty() {
        String::new()
    } else {
        format!("{file}: ")
    }
}

impl ModelError {
    pub(crate) fn layer(layer: &str, message: impl Into<String>) -> Self {
        ModelError::Layer {
            file: String::new(),
            layer: layer.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn model(message: impl Into<String>) -> Self {
        ModelError::Model {
            file: String::new(),
            message: message.into(),
        }
    }

    /// Attach the file name to an error raised without one.
    pub(crate) fn in_file(self, path: &str) -> Self {
        match self {
            ModelError::Layer {
                file,
                layer,
                message,
            } if file.is_empty() => ModelError::Layer {
                file: path.to_string(),
                layer,
                message,
            },
            ModelError::Model { file, message } if file.is_empty() => ModelError::Model {
                file: path.to_string(),
                message,
            },
            other => other,
        }
    }
}

impl Model {
    /// Build and validate a model. Every check the file loader performs
    /// happens here, so an in-memory `Model` is always valid.
    pub fn new(
        name: impl Into<String>,
        topology: impl Into<String>,
        width: f64,
        input: Shape,
        input_bits: u8,
        provenance: Provenance,
        layers: Vec<Layer>,
    ) -> Result<Model, ModelError> {
        let shapes = validate(input, input_bits, &layers)?;
        Ok(Model {
            name: name.into(),
            topology: topology.into(),
            width,
            input,
            input_bits,
            provenance,
            layers,
            shapes,
        })
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Input shape of layer `index`.
    pub fn input_shape(&self, index: usize) -> Shape {
        self.shapes[index]
    }

    /// Output shape of layer `index`.
    pub fn output_shape(&self, index: usize) -> Shape {
        self.shapes[index + 1]
    }

    /// Number of logits (classes).
    pub fn classes(&self) -> usize {
        self.shapes.last().map(Shape::len).unwrap_or(0)
    }

    /// Multiply-accumulates per image for layer `index` (0 for pool/flatten).
    pub fn layer_macs(&self, index: usize) -> u64 {
        match self.layers[index].gemm() {
            Some(gemm) => {
                let out = self.output_shape(index);
                (out.height * out.width) as u64 * gemm.n as u64 * gemm.k as u64
            }
            None => 0,
        }
    }

    /// Multiply-accumulates per image for the whole network.
    pub fn total_macs(&self) -> u64 {
        (0..self.layers.len()).map(|i| self.layer_macs(i)).sum()
    }

    /// Hardware accumulator bits layer `index` needs (see
    /// [`contract::accumulator_bits`]); `None` for pool/flatten.
    pub fn accumulator_bits(&self, index: usize) -> Option<u32> {
        let gemm = self.layers[index].gemm()?;
        Some(contract::accumulator_bits(
            gemm.params.in_bits,
            gemm.params.w_bits,
            gemm.k,
        ))
    }

    /// Replace the provenance (the trainer fills in measured accuracy).
    pub fn set_provenance(&mut self, provenance: Provenance) {
        self.provenance = provenance;
    }
}

/// Checks a layer chain and returns the shape before every layer plus the
/// final output shape.
fn validate(input: Shape, input_bits: u8, layers: &[Layer]) -> Result<Vec<Shape>, ModelError> {
    if checked_len(input).is_none() {
        return Err(ModelError::model(format!(
            "input shape {input} has more values than this machine can address"
        )));
    }
    if input.is_empty() {
        return Err(ModelError::model(format!("input shape {input} is empty")));
    }
    if !contract::ACT_BITS.contains(&input_bits) {
        return Err(ModelError::model(format!(
            "input_bits = {input_bits}: must be 1..=16 (8 for raw image bytes)"
        )));
    }
    if layers.is_empty() {
        return Err(ModelError::model("the model has no layers"));
    }
    let mut names = std::collections::HashSet::new();
    let mut shapes = vec![input];
    let mut shape = input;
    let mut bits = Some(input_bits);
    let mut total_macs = 0u64;
    for (index, layer) in layers.iter().enumerate() {
        let name = layer.name.as_str();
        if name.is_empty() {
            return Err(ModelError::model(format!(
                "layer {index} has an empty name"
            )));
        }
        if !names.insert(name) {
            return Err(ModelError::layer(name, "the layer name is used twice"));
        }
        let Some(in_bits) = bits else {
            return Err(ModelError::layer(
                name,
                "follows the logits layer; the logits layer must be the last layer",
            ));
        };
        match &layer.op {
            Op::Conv2d(conv) => {
                if conv.kernel[0] == 0 || conv.kernel[1] == 0 || conv.stride == 0 {
                    return Err(ModelError::layer(
                        name,
                        "kernel and stride must be at least 1",
                    ));
                }
                let [kh, kw] = conv.kernel;
                if [conv.in_channels, kh, kw]
                    .into_iter()
                    .try_fold(1usize, usize::checked_mul)
                    .is_none()
                {
                    return Err(ModelError::layer(
                        name,
                        format!(
                            "in_channels {} x kernel {kh}x{kw} is more products than this machine can address",
                            conv.in_channels
                        ),
                    ));
                }
                if conv.out_channels == 0 {
                    return Err(ModelError::layer(name, "out_channels must be at least 1"));
                }
            }
            Op::Linear(linear) => {
                if linear.out_features == 0 {
                    return Err(ModelError::layer(name, "out_features must be at least 1"));
                }
            }
            Op::MaxPool2d(pool) => {
                if pool.kernel == 0 || pool.stride == 0 {
                    return Err(ModelError::layer(
                        name,
                        "kernel and stride must be at least 1",
                    ));
                }
            }
            Op::Flatten => {}
        }
        let out_shape = layer
            .output_shape(shape)
            .map_err(|message| ModelError::layer(name, message))?;
        if checked_len(out_shape).is_none() {
            return Err(ModelError::layer(
                name,
                format!("output shape {out_shape} has more values than this machine can address"),
            ));
        }
        total_macs = checked_macs(layer, out_shape)
            .and_then(|macs| total_macs.checked_add(macs))
            .ok_or_else(|| {
                ModelError::layer(name, "brings the multiply-accumulates per image past 2^64")
            })?;
        if let Some(gemm) = layer.gemm() {
            check_compute(name, &gemm, in_bits)?;
            bits = gemm.params.output.bits();
        }
        shapes.push(out_shape);
        shape = out_shape;
    }
    if bits.is_some() {
        let last = &layers[layers.len() - 1].name;
        return Err(ModelError::layer(
            last,
            "the last layer must be a conv2d or linear layer with `output: logits`",
        ));
    }
    Ok(shapes)
}

/// `channels * height * width`, or `None` when it overflows `usize`.
fn checked_len(shape: Shape) -> Option<usize> {
    shape
        .channels
        .checked_mul(shape.height)?
        .checked_mul(shape.width)
}

/// What [`Model::layer_macs`] computes, or `None` when it overflows `u64`.
fn checked_macs(layer: &Layer, out: Shape) -> Option<u64> {
    let Some(gemm) = layer.gemm() else {
        return Some(0);
    };
    [out.height, out.width, gemm.n, gemm.k]
        .into_iter()
        .try_fold(1u64, |product, factor| product.checked_mul(factor as u64))
}

fn check_compute(name: &str, gemm: &GemmView<'_>, in_bits: u8) -> Result<(), ModelError> {
    let params = gemm.params;
    if params.in_bits != in_bits {
        return Err(ModelError::layer(
            name,
            format!(
                "in_bits = {} but the previous layer produces {in_bits}-bit activations",
                params.in_bits
            ),
        ));
    }
    if !contract::WEIGHT_BITS.contains(&params.w_bits) {
        return Err(ModelError::layer(
            name,
            format!("w_bits = {}: must be 2..=16", params.w_bits),
        ));
    }
    if let Output::Requant { bits, shifts } = &params.output {
        if !contract::ACT_BITS.contains(bits) {
            return Err(ModelError::layer(
                name,
                format!("out_bits = {bits}: must be 1..=16"),
            ));
        }
        if shifts.len() != gemm.n {
            return Err(ModelError::layer(
                name,
                format!(
                    "has {} shifts but {} output channels (one shift per channel)",
                    shifts.len(),
                    gemm.n
                ),
            ));
        }
        if let Some((channel, shift)) = shifts
            .iter()
            .enumerate()
            .find(|(_, &s)| s > contract::MAX_SHIFT)
        {
            return Err(ModelError::layer(
                name,
                format!("shift {shift} of channel {channel} is out of range 0..=31"),
            ));
        }
    }
    if gemm.n.checked_mul(gemm.k) != Some(params.weights.len()) {
        return Err(ModelError::layer(
            name,
            format!(
                "has {} weights but its shape needs {} x {}",
                params.weights.len(),
                gemm.n,
                gemm.k,
            ),
        ));
    }
    if params.bias.len() != gemm.n {
        return Err(ModelError::layer(
            name,
            format!(
                "has {} biases but {} output channels",
                params.bias.len(),
                gemm.n
            ),
        ));
    }
    let (w_min, w_max) = contract::weight_range(params.w_bits);
    if let Some((index, value)) = params
        .weights
        .iter()
        .enumerate()
        .find(|(_, &w)| w < w_min || w > w_max)
    {
        return Err(ModelError::layer(
            name,
            format!(
                "weight {value} at flat index {index} (output channel {}) is outside the {}-bit range [{w_min}, {w_max}]",
                index / gemm.k,
                params.w_bits
            ),
        ));
    }
    // The exact worst case of every channel's accumulator: all positive
    // weights meet the largest activation (or all negative ones do). The
    // requantizer then adds bias and the rounding offset; all of it must stay
    // inside i32 so that 32-bit hardware and the fast path are exact.
    let act_max = contract::activation_max(in_bits) as i64;
    for channel in 0..gemm.n {
        let row = &params.weights[channel * gemm.k..(channel + 1) * gemm.k];
        let positive: i64 = row.iter().filter(|&&w| w > 0).map(|&w| w as i64).sum();
        let negative: i64 = row.iter().filter(|&&w| w < 0).map(|&w| w as i64).sum();
        let bias = params.bias[channel] as i64;
        let rounding = match &params.output {
            Output::Requant { shifts, .. } => contract::rounding_offset(shifts[channel]),
            Output::Logits => 0,
        };
        let high = positive * act_max + bias + rounding;
        let low = negative * act_max + bias;
        if high > i32::MAX as i64 || low < i32::MIN as i64 {
            return Err(ModelError::layer(
                name,
                format!(
                    "output channel {channel}: accumulator plus bias can reach [{low}, {high}], which does not fit 32 bits"
                ),
            ));
        }
    }
    Ok(())
}
