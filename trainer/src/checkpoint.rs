//! Float checkpoints in safetensors: every variable of a `VarStore` as f32,
//! sorted by name, with a little metadata (tch 0.10 only writes its own
//! format, so this writes safetensors through the `safetensors` crate).

use crate::error::TrainError;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// Save all variables of `vs` (trainable or not: batch-norm running
/// statistics included) to `path`.
pub fn save(
    vs: &VarStore,
    path: &Path,
    metadata: HashMap<String, String>,
) -> Result<(), TrainError> {
    let error = |message: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let variables: BTreeMap<String, Tensor> = vs.variables().into_iter().collect();
    let mut owned = Vec::new();
    for (name, tensor) in &variables {
        let values: Vec<f32> = Vec::from(&tensor.to_kind(Kind::Float).flatten(0, -1));
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let shape: Vec<usize> = tensor.size().iter().map(|&d| d as usize).collect();
        owned.push((name.clone(), shape, bytes));
    }
    let mut views = BTreeMap::new();
    for (name, shape, bytes) in &owned {
        let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
            .map_err(|e| error(format!("tensor {name}: {e}")))?;
        views.insert(name.clone(), view);
    }
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| error(e.to_string()))?;
    golden::io::write_atomically(path, &bytes)?;
    Ok(())
}

/// Load every variable of `vs` from `path`; names and shapes must match.
pub fn load(vs: &VarStore, path: &Path) -> Result<(), TrainError> {
    let error = |message: String| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let bytes = read(path)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| error(e.to_string()))?;
    tch::no_grad(|| {
        for (name, mut tensor) in vs.variables() {
            let view = file.tensor(&name).map_err(|_| {
                error(format!(
                    "has no tensor `{name}`: it was saved for another network (width, channels or classes differ)"
                ))
            })?;
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            if shape != tensor.size() || view.dtype() != Dtype::F32 {
                return Err(error(format!(
                    "tensor `{name}` has shape {shape:?} ({:?}); the network needs {:?} (f32)",
                    view.dtype(),
                    tensor.size()
                )));
            }
            let values: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let source = Tensor::of_slice(&values)
                .view(shape.as_slice())
                .to_device(tensor.device());
            tensor.copy_(&source);
        }
        Ok(())
    })
}

/// SHA-256 (hex) of a checkpoint's weights: every tensor's name, shape and
/// little-endian values, in name order. The metadata is left out: its order
/// in the file varies from save to save, so two saves of the same weights
/// differ byte for byte but not here.
pub fn weights_digest(path: &Path) -> Result<String, TrainError> {
    let bytes = read(path)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("not a safetensors checkpoint: {e}"),
    })?;
    let mut names = file.names();
    names.sort();
    let mut hasher = Sha256::new();
    for name in names {
        let view = file.tensor(name).map_err(|e| TrainError::Checkpoint {
            path: path.to_path_buf(),
            message: format!("tensor {name}: {e}"),
        })?;
        // Lengths first, so that no two lists of fields hash alike.
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((view.shape().len() as u64).to_le_bytes());
        for &dim in view.shape() {
            hasher.update((dim as u64).to_le_bytes());
        }
        hasher.update(format!("{:?}", view.dtype()).as_bytes());
        hasher.update((view.data().len() as u64).to_le_bytes());
        hasher.update(view.data());
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// The metadata a checkpoint was saved with (empty when it has none).
pub fn metadata(path: &Path) -> Result<HashMap<String, String>, TrainError> {
    let bytes = read(path)?;
    let (_, metadata) = SafeTensors::read_metadata(&bytes).map_err(|e| TrainError::Checkpoint {
        path: path.to_path_buf(),
        message: format!("not a safetensors checkpoint: {e}"),
    })?;
    Ok(metadata.metadata().clone().unwrap_or_default())
}

fn read(path: &Path) -> Result<Vec<u8>, TrainError> {
    std::fs::read(path).map_err(|source| TrainError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })
}
