//! Model directories: `model.yaml` (topology, bit-widths, shifts, provenance)
//! and `model.safetensors` (weights as int8/int16, biases as int32).
//!
//! Loading validates everything and names the file, the layer and the
//! problem; writing is atomic per file (temporary file, then rename), with
//! `model.yaml` written last so that a reader never sees new YAML next to old
//! weights.

use crate::model::{
    ComputeParams, Conv2d, Layer, Linear, MaxPool2d, Model, ModelError, Op, Output, Provenance,
    Shape, FORMAT_VERSION,
};
use safetensors::tensor::{TensorInfo, TensorView};
use safetensors::{Dtype, SafeTensorError, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File name of the YAML half of a model directory.
pub const YAML_FILE: &str = "model.yaml";
/// File name of the tensor half of a model directory.
pub const TENSORS_FILE: &str = "model.safetensors";

#[derive(Debug, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a model.yaml mapping with format_version, name, topology, input and layers"
)]
struct ModelFile {
    format_version: u32,
    name: String,
    topology: String,
    #[serde(default = "default_width")]
    width: f64,
    input: InputEntry,
    #[serde(default)]
    provenance: Provenance,
    layers: Vec<LayerEntry>,
}

fn default_width() -> f64 {
    1.0
}

/// Only the version, read first so that a file from a newer format gets a
/// version error rather than a confusing field error.
#[derive(Deserialize)]
#[serde(expecting = "a model.yaml mapping with format_version, name, topology, input and layers")]
struct VersionProbe {
    format_version: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an input mapping with shape and bits"
)]
struct InputEntry {
    /// `[channels, height, width]`
    shape: [usize; 3],
    bits: u8,
}

/// One layer as written in YAML. Fields depend on `kind`; the ones a kind
/// does not use must be absent.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a layer mapping with name, kind and that kind's fields"
)]
struct LayerEntry {
    name: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_channels: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_channels: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_features: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_features: Option<usize>,
    /// conv2d: `[kh, kw]`; maxpool2d: `[k, k]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kernel: Option<[usize; 2]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stride: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    padding: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    w_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_bits: Option<u8>,
    /// `requant` or `logits`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_bits: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shifts: Option<Vec<u8>>,
    /// Informational on write, checked on read when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    in_shape: Option<[usize; 3]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_shape: Option<[usize; 3]>,
}

fn weight_tensor_name(layer: &str) -> String {
    format!("{layer}.weight")
}

fn bias_tensor_name(layer: &str) -> String {
    format!("{layer}.bias")
}

/// The paths a model directory's two files are named by in errors.
struct FileNames {
    yaml: String,
    tensors: String,
}

impl FileNames {
    fn in_dir(dir: &Path) -> FileNames {
        FileNames {
            yaml: dir.join(YAML_FILE).display().to_string(),
            tensors: dir.join(TENSORS_FILE).display().to_string(),
        }
    }
}

/// Read and validate the model in directory `dir`.
pub fn load(dir: &Path) -> Result<Model, ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::Model {
            file: dir.display().to_string(),
            message: "is not a model directory (expected a directory holding model.yaml and model.safetensors; make one with `tandem model random --out DIR`)".into(),
        });
    }
    let names = FileNames::in_dir(dir);
    let read = |path: PathBuf, name: &str| {
        std::fs::read(path).map_err(|source| ModelError::Io {
            file: name.to_string(),
            action: "read",
            source,
        })
    };
    // The YAML is parsed before the tensors are read, so a broken YAML is
    // reported as such even when the tensor file is missing too.
    let file = parse_yaml(&read(dir.join(YAML_FILE), &names.yaml)?, &names.yaml)?;
    let tensors = read(dir.join(TENSORS_FILE), &names.tensors)?;
    build_model(file, &tensors, &names)
}

/// Parse and validate a model from the contents of its two files, with every
/// check [`load`] makes. Errors name `dir/model.yaml` and
/// `dir/model.safetensors`, which need not exist.
pub fn from_bytes(dir: &Path, yaml: &[u8], tensors: &[u8]) -> Result<Model, ModelError> {
    let names = FileNames::in_dir(dir);
    let file = parse_yaml(yaml, &names.yaml)?;
    build_model(file, tensors, &names)
}

fn parse_yaml(bytes: &[u8], yaml_name: &str) -> Result<ModelFile, ModelError> {
    let yaml_error = |message: String| ModelError::Yaml {
        file: yaml_name.to_string(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|error| {
        yaml_error(format!(
            "is not UTF-8 text (invalid byte at offset {})",
            error.valid_up_to()
        ))
    })?;
    let probe: VersionProbe =
        serde_norway::from_str(text).map_err(|e| yaml_error(e.to_string()))?;
    match probe.format_version {
        None => return Err(yaml_error("missing field `format_version`".into())),
        Some(FORMAT_VERSION) => {}
        Some(found) => {
            return Err(ModelError::UnsupportedVersion {
                file: yaml_name.to_string(),
                found,
            })
        }
    }
    serde_norway::from_str(text).map_err(|e| yaml_error(e.to_string()))
}

fn build_model(
    file: ModelFile,
    tensor_bytes: &[u8],
    names: &FileNames,
) -> Result<Model, ModelError> {
    let (yaml_name, tensors_name) = (names.yaml.as_str(), names.tensors.as_str());
    let tensors = SafeTensors::deserialize(tensor_bytes)
        .map_err(|error| safetensors_error(tensor_bytes, tensors_name, error))?;
    let mut unused: std::collections::BTreeSet<String> =
        tensors.names().into_iter().map(str::to_string).collect();

    let mut layers = Vec::with_capacity(file.layers.len());
    for entry in &file.layers {
        let layer = layer_from_entry(entry, &tensors, tensors_name, &mut unused)
            .map_err(|e| e.in_file(yaml_name))?;
        layers.push(layer);
    }
    if let Some(extra) = unused.into_iter().next() {
        return Err(ModelError::Tensor {
            file: tensors_name.to_string(),
            tensor: extra,
            message: "is not used by any layer in model.yaml (stale or mismatched files?)".into(),
        });
    }

    let input = Shape::new(
        file.input.shape[0],
        file.input.shape[1],
        file.input.shape[2],
    );
    let model = Model::new(
        file.name,
        file.topology,
        file.width,
        input,
        file.input.bits,
        file.provenance,
        layers,
    )
    .map_err(|e| e.in_file(yaml_name))?;
    check_written_shapes(&model, &file.layers).map_err(|e| e.in_file(yaml_name))?;
    Ok(model)
}

/// Shapes written in the YAML are informational, but if present they must
/// agree with what the layer chain computes.
fn check_written_shapes(model: &Model, entries: &[LayerEntry]) -> Result<(), ModelError> {
    for (index, entry) in entries.iter().enumerate() {
        let checks = [
            ("in_shape", entry.in_shape, model.input_shape(index)),
            ("out_shape", entry.out_shape, model.output_shape(index)),
        ];
        for (field, written, computed) in checks {
            if let Some(written) = written {
                if written != computed.to_array() {
                    return Err(ModelError::layer(
                        &entry.name,
                        format!(
                            "{field} is {written:?} but the layer chain gives {:?}",
                            computed.to_array()
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A safetensors error as a [`ModelError`]. Where the problem is one
/// tensor's shape or offsets the error names that tensor (the crate's own
/// messages do not always say which).
fn safetensors_error(bytes: &[u8], file: &str, error: SafeTensorError) -> ModelError {
    match find_bad_tensor(bytes) {
        Some((tensor, message)) => ModelError::Tensor {
            file: file.to_string(),
            tensor,
            message,
        },
        None => ModelError::Safetensors {
            file: file.to_string(),
            message: error.to_string(),
        },
    }
}

/// Re-check the tensor table of a safetensors file the way the crate does
/// (tensors laid end to end in offset order, each holding exactly its
/// shape's bytes, together covering the data section) and return the first
/// tensor that breaks it with what is wrong. `None` when the header cannot
/// be read this far or no single tensor is at fault.
fn find_bad_tensor(bytes: &[u8]) -> Option<(String, String)> {
    const LEN_BYTES: usize = 8;
    let header_len = u64::from_le_bytes(bytes.get(..LEN_BYTES)?.try_into().ok()?);
    let data_start = LEN_BYTES.checked_add(usize::try_from(header_len).ok()?)?;
    let header = bytes.get(LEN_BYTES..data_start)?;
    let data_len = bytes.len() - data_start;
    let table: BTreeMap<String, serde_json::Value> = serde_json::from_slice(header).ok()?;
    let mut tensors = table
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, value)| Some((name, serde_json::from_value::<TensorInfo>(value).ok()?)))
        .collect::<Option<Vec<_>>>()?;
    tensors.sort_by_key(|(_, info)| info.data_offsets);

    let mut end = 0;
    for (name, info) in &tensors {
        let (start, stop) = info.data_offsets;
        let offsets = format!("data_offsets [{start}, {stop}]");
        if start != end {
            let message = format!(
                "{offsets} should start at byte {end} of the data section, where the previous tensor ends (tensors are stored end to end)"
            );
            return Some((name.clone(), message));
        }
        if stop < start {
            return Some((name.clone(), format!("{offsets} end before they start")));
        }
        let (shape, dtype) = (&info.shape, info.dtype);
        let bits = shape
            .iter()
            .try_fold(1usize, |count, &dim| count.checked_mul(dim))
            .and_then(|count| count.checked_mul(dtype.bitsize()));
        let message = match bits {
            None => format!("shape {shape:?} has too many elements to address"),
            Some(bits) if bits % 8 != 0 => {
                format!("shape {shape:?} of dtype {dtype:?} is not a whole number of bytes")
            }
            Some(bits) if bits / 8 != stop - start => format!(
                "shape {shape:?} of dtype {dtype:?} needs {} bytes but {offsets} hold {}",
                bits / 8,
                stop - start
            ),
            Some(_) => {
                end = stop;
                continue;
            }
        };
        return Some((name.clone(), message));
    }
    let (last, _) = tensors.last()?;
    (end != data_len).then(|| {
        (
            last.clone(),
            format!(
                "is the last tensor and ends at byte {end} of the data section, but the file holds {data_len} data bytes (truncated, or bytes after the last tensor)"
            ),
        )
    })
}

fn require<T: Copy>(
    value: Option<T>,
    layer: &str,
    kind: &str,
    field: &str,
) -> Result<T, ModelError> {
    value.ok_or_else(|| {
        ModelError::layer(layer, format!("a {kind} layer needs the field `{field}`"))
    })
}

fn forbid(present: bool, layer: &str, kind: &str, field: &str) -> Result<(), ModelError> {
    if present {
        Err(ModelError::layer(
            layer,
            format!("a {kind} layer does not take the field `{field}`; remove it"),
        ))
    } else {
        Ok(())
    }
}

fn layer_from_entry(
    entry: &LayerEntry,
    tensors: &SafeTensors<'_>,
    tensors_file: &str,
    unused: &mut std::collections::BTreeSet<String>,
) -> Result<Layer, ModelError> {
    let name = entry.name.as_str();
    let kind = entry.kind.as_str();
    let compute_fields = [
        ("w_bits", entry.w_bits.is_some()),
        ("in_bits", entry.in_bits.is_some()),
        ("output", entry.output.is_some()),
        ("out_bits", entry.out_bits.is_some()),
        ("shifts", entry.shifts.is_some()),
    ];
    let conv_fields = [
        ("in_channels", entry.in_channels.is_some()),
        ("out_channels", entry.out_channels.is_some()),
        ("padding", entry.padding.is_some()),
    ];
    let linear_fields = [
        ("in_features", entry.in_features.is_some()),
        ("out_features", entry.out_features.is_some()),
    ];
    let op = match kind {
        "conv2d" => {
            for (field, present) in linear_fields {
                forbid(present, name, kind, field)?;
            }
            let in_channels = require(entry.in_channels, name, kind, "in_channels")?;
            let out_channels = require(entry.out_channels, name, kind, "out_channels")?;
            let kernel = require(entry.kernel, name, kind, "kernel")?;
            let stride = require(entry.stride, name, kind, "stride")?;
            let padding = require(entry.padding, name, kind, "padding")?;
            let shape = [out_channels, in_channels, kernel[0], kernel[1]];
            let params = compute_params(entry, &shape, tensors, tensors_file, unused)?;
            Op::Conv2d(Conv2d {
                in_channels,
                out_channels,
                kernel,
                stride,
                padding,
                params,
            })
        }
        "linear" => {
            for (field, present) in conv_fields {
                forbid(present, name, kind, field)?;
            }
            forbid(entry.kernel.is_some(), name, kind, "kernel")?;
            forbid(entry.stride.is_some(), name, kind, "stride")?;
            let in_features = require(entry.in_features, name, kind, "in_features")?;
            let out_features = require(entry.out_features, name, kind, "out_features")?;
            let shape = [out_features, in_features];
            let params = compute_params(entry, &shape, tensors, tensors_file, unused)?;
            Op::Linear(Linear {
                in_features,
                out_features,
                params,
            })
        }
        "maxpool2d" | "flatten" => {
            for (field, present) in compute_fields
                .into_iter()
                .chain(conv_fields)
                .chain(linear_fields)
            {
                forbid(present, name, kind, field)?;
            }
            if kind == "flatten" {
                forbid(entry.kernel.is_some(), name, kind, "kernel")?;
                forbid(entry.stride.is_some(), name, kind, "stride")?;
                Op::Flatten
            } else {
                let kernel = require(entry.kernel, name, kind, "kernel")?;
                if kernel[0] != kernel[1] {
                    return Err(ModelError::layer(
                        name,
                        format!("maxpool2d kernels are square; got {kernel:?}"),
                    ));
                }
                let stride = require(entry.stride, name, kind, "stride")?;
                Op::MaxPool2d(MaxPool2d {
                    kernel: kernel[0],
                    stride,
                })
            }
        }
        other => {
            return Err(ModelError::layer(
                name,
                format!("unknown kind `{other}` (expected conv2d, linear, maxpool2d or flatten)"),
            ))
        }
    };
    Ok(Layer {
        name: name.to_string(),
        op,
    })
}

fn compute_params(
    entry: &LayerEntry,
    weight_shape: &[usize],
    tensors: &SafeTensors<'_>,
    tensors_file: &str,
    unused: &mut std::collections::BTreeSet<String>,
) -> Result<ComputeParams, ModelError> {
    let name = entry.name.as_str();
    let kind = entry.kind.as_str();
    let w_bits = require(entry.w_bits, name, kind, "w_bits")?;
    let in_bits = require(entry.in_bits, name, kind, "in_bits")?;
    let output = match entry.output.as_deref() {
        Some("requant") => Output::Requant {
            bits: require(entry.out_bits, name, kind, "out_bits")?,
            shifts: entry.shifts.clone().ok_or_else(|| {
                ModelError::layer(name, "a layer with `output: requant` needs `shifts`")
            })?,
        },
        Some("logits") => {
            forbid(entry.out_bits.is_some(), name, "logits", "out_bits")?;
            forbid(entry.shifts.is_some(), name, "logits", "shifts")?;
            Output::Logits
        }
        Some(other) => {
            return Err(ModelError::layer(
                name,
                format!("output `{other}` is not `requant` or `logits`"),
            ))
        }
        None => {
            return Err(ModelError::layer(
                name,
                "needs the field `output` (requant or logits)",
            ))
        }
    };
    if !crate::contract::WEIGHT_BITS.contains(&w_bits) {
        return Err(ModelError::layer(
            name,
            format!("w_bits = {w_bits}: must be 2..=16"),
        ));
    }
    let out_channels = weight_shape[0];
    let weight_name = weight_tensor_name(name);
    let weights = read_tensor(
        tensors,
        tensors_file,
        &weight_name,
        &[Dtype::I8, Dtype::I16],
        weight_shape,
    )?;
    let (w_min, w_max) = crate::contract::weight_range(w_bits);
    if let Some((index, value)) = weights
        .iter()
        .enumerate()
        .find(|(_, &w)| w < w_min || w > w_max)
    {
        return Err(ModelError::Tensor {
            file: tensors_file.to_string(),
            tensor: weight_name,
            message: format!(
                "value {value} at flat index {index} is outside the {w_bits}-bit weight range [{w_min}, {w_max}] declared by w_bits"
            ),
        });
    }
    let bias_name = bias_tensor_name(name);
    let bias = read_tensor(
        tensors,
        tensors_file,
        &bias_name,
        &[Dtype::I32],
        &[out_channels],
    )?;
    unused.remove(&weight_name);
    unused.remove(&bias_name);
    Ok(ComputeParams {
        w_bits,
        in_bits,
        output,
        weights,
        bias,
    })
}

fn read_tensor(
    tensors: &SafeTensors<'_>,
    file: &str,
    tensor: &str,
    dtypes: &[Dtype],
    shape: &[usize],
) -> Result<Vec<i32>, ModelError> {
    let error = |message: String| ModelError::Tensor {
        file: file.to_string(),
        tensor: tensor.to_string(),
        message,
    };
    let view = tensors.tensor(tensor).map_err(|_| {
        error("is missing (every compute layer needs `<name>.weight` and `<name>.bias`)".into())
    })?;
    if !dtypes.contains(&view.dtype()) {
        return Err(error(format!(
            "has dtype {:?}; expected {}",
            view.dtype(),
            dtypes
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    if view.shape() != shape {
        return Err(error(format!(
            "has shape {:?}; model.yaml implies {:?}",
            view.shape(),
            shape
        )));
    }
    let data = view.data();
    let values = match view.dtype() {
        Dtype::I8 => data.iter().map(|&b| b as i8 as i32).collect(),
        Dtype::I16 => data
            .chunks_exact(2)
            .map(|c| i16::from_le_bytes([c[0], c[1]]) as i32)
            .collect(),
        Dtype::I32 => data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        other => return Err(error(format!("unsupported dtype {other:?}"))),
    };
    Ok(values)
}

/// The two files of a model directory, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// `model.yaml`.
    pub yaml: String,
    /// `model.safetensors`.
    pub tensors: Vec<u8>,
}

/// One tensor to be written: name, dtype, shape, little-endian bytes.
type OwnedTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// Write `model` into directory `dir` (created if missing). Each file is
/// written to a temporary name and renamed into place.
pub fn save(model: &Model, dir: &Path) -> Result<(), ModelError> {
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        file: dir.display().to_string(),
        action: "create the directory",
        source,
    })?;
    let files = encode(model, &FileNames::in_dir(dir))?;
    write_atomically(&dir.join(TENSORS_FILE), &files.tensors)?;
    write_atomically(&dir.join(YAML_FILE), files.yaml.as_bytes())?;
    Ok(())
}

/// The bytes [`save`] writes, without touching the disk ([`from_bytes`]
/// reads them back).
pub fn to_bytes(model: &Model) -> Result<ModelFiles, ModelError> {
    encode(model, &FileNames::in_dir(Path::new("")))
}

fn encode(model: &Model, names: &FileNames) -> Result<ModelFiles, ModelError> {
    let mut tensors = Vec::new();
    let mut entries = Vec::with_capacity(model.layers().len());
    for index in 0..model.layers().len() {
        entries.push(layer_entry(model, index, &mut tensors));
    }
    let file = ModelFile {
        format_version: FORMAT_VERSION,
        name: model.name.clone(),
        topology: model.topology.clone(),
        width: model.width,
        input: InputEntry {
            shape: model.input.to_array(),
            bits: model.input_bits,
        },
        provenance: model.provenance.clone(),
        layers: entries,
    };
    let yaml = serde_norway::to_string(&file).map_err(|e| ModelError::Yaml {
        file: names.yaml.clone(),
        message: e.to_string(),
    })?;
    let header = "# Tandem integer model (see docs/integer-semantics.md). Weights and biases are in model.safetensors.\n";
    Ok(ModelFiles {
        yaml: format!("{header}{yaml}"),
        tensors: encode_tensors(&tensors, &names.tensors)?,
    })
}

/// Layer `index` as written in YAML; its weight and bias tensors, if any,
/// are appended to `tensors`.
fn layer_entry(model: &Model, index: usize, tensors: &mut Vec<OwnedTensor>) -> LayerEntry {
    let layer = &model.layers()[index];
    let mut entry = LayerEntry {
        name: layer.name.clone(),
        kind: layer.op.kind_name().to_string(),
        in_shape: Some(model.input_shape(index).to_array()),
        out_shape: Some(model.output_shape(index).to_array()),
        ..LayerEntry::default()
    };
    let (params, weight_shape) = match &layer.op {
        Op::Conv2d(conv) => {
            entry.in_channels = Some(conv.in_channels);
            entry.out_channels = Some(conv.out_channels);
            entry.kernel = Some(conv.kernel);
            entry.stride = Some(conv.stride);
            entry.padding = Some(conv.padding);
            let [kh, kw] = conv.kernel;
            (
                &conv.params,
                vec![conv.out_channels, conv.in_channels, kh, kw],
            )
        }
        Op::Linear(linear) => {
            entry.in_features = Some(linear.in_features);
            entry.out_features = Some(linear.out_features);
            (
                &linear.params,
                vec![linear.out_features, linear.in_features],
            )
        }
        Op::MaxPool2d(pool) => {
            entry.kernel = Some([pool.kernel, pool.kernel]);
            entry.stride = Some(pool.stride);
            return entry;
        }
        Op::Flatten => return entry,
    };
    entry.w_bits = Some(params.w_bits);
    entry.in_bits = Some(params.in_bits);
    match &params.output {
        Output::Requant { bits, shifts } => {
            entry.output = Some("requant".into());
            entry.out_bits = Some(*bits);
            entry.shifts = Some(shifts.clone());
        }
        Output::Logits => entry.output = Some("logits".into()),
    }
    let (dtype, bytes) = if params.w_bits <= 8 {
        (
            Dtype::I8,
            params.weights.iter().map(|&w| w as i8 as u8).collect(),
        )
    } else {
        (
            Dtype::I16,
            params
                .weights
                .iter()
                .flat_map(|&w| (w as i16).to_le_bytes())
                .collect(),
        )
    };
    tensors.push((weight_tensor_name(&layer.name), dtype, weight_shape, bytes));
    tensors.push((
        bias_tensor_name(&layer.name),
        Dtype::I32,
        vec![params.bias.len()],
        params.bias.iter().flat_map(|b| b.to_le_bytes()).collect(),
    ));
    entry
}

fn encode_tensors(tensors: &[OwnedTensor], file: &str) -> Result<Vec<u8>, ModelError> {
    let error = |message: String| ModelError::Safetensors {
        file: file.to_string(),
        message,
    };
    let mut views = BTreeMap::new();
    for (name, dtype, shape, bytes) in tensors {
        let view = TensorView::new(*dtype, shape.clone(), bytes)
            .map_err(|e| error(format!("tensor {name}: {e}")))?;
        views.insert(name.clone(), view);
    }
    // One metadata entry only: safetensors keeps metadata in a HashMap, whose
    // iteration order (and so the file's bytes) would vary between runs.
    let metadata = HashMap::from([(
        "format".to_string(),
        format!("tandem-integer-model-v{FORMAT_VERSION}"),
    )]);
    safetensors::serialize(views, Some(metadata)).map_err(|e| error(e.to_string()))
}

/// Write `bytes` to a temporary file next to `path`, flush it to disk, then
/// rename it over `path`, so a reader sees the old or the new file, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    use std::io::Write;
    let io_error = |source| ModelError::Io {
        file: path.display().to_string(),
        action: "write",
        source,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp: PathBuf = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(io_error)
}
