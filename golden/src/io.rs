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
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File name of the YAML half of a model directory.
pub const YAML_FILE: &str = "model.yaml";
/// File name of the tensor half of a model directory.
pub const TENSORS_FILE: &str = "model.safetensors";

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
struct VersionProbe {
    format_version: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputEntry {
    /// `[channels, height, width]`
    shape: [usize; 3],
    bits: u8,
}

/// One layer as written in YAML. Fields depend on `kind`; the ones a kind
/// does not use must be absent.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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

/// Read and validate the model in directory `dir`.
pub fn load(dir: &Path) -> Result<Model, ModelError> {
    let yaml_path = dir.join(YAML_FILE);
    let tensors_path = dir.join(TENSORS_FILE);
    let yaml_name = yaml_path.display().to_string();
    let tensors_name = tensors_path.display().to_string();

    if !dir.is_dir() {
        return Err(ModelError::Model {
            file: dir.display().to_string(),
            message: "is not a model directory (expected a directory holding model.yaml and model.safetensors; make one with `tandem model random --out DIR`)".into(),
        });
    }
    let text = std::fs::read_to_string(&yaml_path).map_err(|source| ModelError::Io {
        file: yaml_name.clone(),
        source,
    })?;
    let probe: VersionProbe = serde_norway::from_str(&text).map_err(|e| ModelError::Yaml {
        file: yaml_name.clone(),
        message: e.to_string(),
    })?;
    match probe.format_version {
        None => {
            return Err(ModelError::Yaml {
                file: yaml_name,
                message: "missing field `format_version`".into(),
            })
        }
        Some(FORMAT_VERSION) => {}
        Some(found) => {
            return Err(ModelError::UnsupportedVersion {
                file: yaml_name,
                found,
            })
        }
    }
    let file: ModelFile = serde_norway::from_str(&text).map_err(|e| ModelError::Yaml {
        file: yaml_name.clone(),
        message: e.to_string(),
    })?;

    let bytes = std::fs::read(&tensors_path).map_err(|source| ModelError::Io {
        file: tensors_name.clone(),
        source,
    })?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Safetensors {
        file: tensors_name.clone(),
        message: e.to_string(),
    })?;
    let mut unused: std::collections::BTreeSet<String> =
        tensors.names().into_iter().map(str::to_string).collect();

    let mut layers = Vec::with_capacity(file.layers.len());
    for entry in &file.layers {
        let layer = layer_from_entry(entry, &tensors, &tensors_name, &mut unused)
            .map_err(|e| e.in_file(&yaml_name))?;
        layers.push(layer);
    }
    if let Some(extra) = unused.into_iter().next() {
        return Err(ModelError::Tensor {
            file: tensors_name,
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
    .map_err(|e| e.in_file(&yaml_name))?;

    // Shapes written in the YAML are informational, but if present they must
    // agree with what the layer chain computes.
    for (index, entry) in file.layers.iter().enumerate() {
        let checks = [
            ("in_shape", entry.in_shape, model.input_shape(index)),
            ("out_shape", entry.out_shape, model.output_shape(index)),
        ];
        for (field, written, computed) in checks {
            if let Some(written) = written {
                if written != computed.to_array() {
                    return Err(ModelError::Layer {
                        file: yaml_name,
                        layer: entry.name.clone(),
                        message: format!(
                            "{field} is {written:?} but the layer chain gives {:?}",
                            computed.to_array()
                        ),
                    });
                }
            }
        }
    }
    Ok(model)
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

/// Write `model` into directory `dir` (created if missing). Each file is
/// written to a temporary name and renamed into place.
pub fn save(model: &Model, dir: &Path) -> Result<(), ModelError> {
    let dir_name = dir.display().to_string();
    std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
        file: dir_name,
        source,
    })?;

    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut entries = Vec::with_capacity(model.layers().len());
    for (index, layer) in model.layers().iter().enumerate() {
        let mut entry = LayerEntry {
            name: layer.name.clone(),
            kind: layer.op.kind_name().to_string(),
            in_shape: Some(model.input_shape(index).to_array()),
            out_shape: Some(model.output_shape(index).to_array()),
            ..LayerEntry::default()
        };
        let weight_shape = match &layer.op {
            Op::Conv2d(conv) => {
                entry.in_channels = Some(conv.in_channels);
                entry.out_channels = Some(conv.out_channels);
                entry.kernel = Some(conv.kernel);
                entry.stride = Some(conv.stride);
                entry.padding = Some(conv.padding);
                Some(vec![
                    conv.out_channels,
                    conv.in_channels,
                    conv.kernel[0],
                    conv.kernel[1],
                ])
            }
            Op::Linear(linear) => {
                entry.in_features = Some(linear.in_features);
                entry.out_features = Some(linear.out_features);
                Some(vec![linear.out_features, linear.in_features])
            }
            Op::MaxPool2d(pool) => {
                entry.kernel = Some([pool.kernel, pool.kernel]);
                entry.stride = Some(pool.stride);
                None
            }
            Op::Flatten => None,
        };
        if let (Some(params), Some(shape)) = (layer.params(), weight_shape) {
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
            owned.push((weight_tensor_name(&layer.name), dtype, shape, bytes));
            owned.push((
                bias_tensor_name(&layer.name),
                Dtype::I32,
                vec![params.bias.len()],
                params.bias.iter().flat_map(|b| b.to_le_bytes()).collect(),
            ));
        }
        entries.push(entry);
    }

    let tensors_path = dir.join(TENSORS_FILE);
    let tensors_name = tensors_path.display().to_string();
    let mut views = BTreeMap::new();
    for (name, dtype, shape, bytes) in &owned {
        let view =
            TensorView::new(*dtype, shape.clone(), bytes).map_err(|e| ModelError::Safetensors {
                file: tensors_name.clone(),
                message: format!("tensor {name}: {e}"),
            })?;
        views.insert(name.clone(), view);
    }
    // One metadata entry only: safetensors keeps metadata in a HashMap, whose
    // iteration order (and so the file's bytes) would vary between runs.
    let metadata = HashMap::from([(
        "format".to_string(),
        format!("tandem-integer-model-v{FORMAT_VERSION}"),
    )]);
    let tensor_bytes =
        safetensors::serialize(views, Some(metadata)).map_err(|e| ModelError::Safetensors {
            file: tensors_name.clone(),
            message: e.to_string(),
        })?;

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
    let yaml_path = dir.join(YAML_FILE);
    let yaml_name = yaml_path.display().to_string();
    let yaml = serde_norway::to_string(&file).map_err(|e| ModelError::Yaml {
        file: yaml_name,
        message: e.to_string(),
    })?;
    let header = "# Tandem integer model (see docs/integer-semantics.md). Weights and biases are in model.safetensors.\n";
    write_atomically(&tensors_path, &tensor_bytes)?;
    write_atomically(&yaml_path, format!("{header}{yaml}").as_bytes())?;
    Ok(())
}

/// Write `bytes` to a temporary file next to `path`, flush it to disk, then
/// rename it over `path`, so a reader sees the old or the new file, never half.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ModelError> {
    use std::io::Write;
    let io_error = |source| ModelError::Io {
        file: path.display().to_string(),
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
