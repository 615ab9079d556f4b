//! The trainer's typed errors. Each message says what is wrong and, where
//! the user can act, what to change.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A configuration value is invalid. `origin` is the file, flag or
    /// preset the value came from.
    #[error("{origin}: {}{message}", field_prefix(field))]
    Config {
        origin: String,
        field: String,
        message: String,
    },
    #[error(transparent)]
    Dataset(#[from] datasets::DatasetError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("exported model is invalid: {0}")]
    Model(#[from] golden::ModelError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error("the topology cannot be trained: {0}")]
    Topology(String),
    /// The trainer's integer forward and golden disagree: the export does not
    /// implement the contract, so the model must not be used.
    #[error("{mismatches} logits of {images} test images differ between the trainer's integer forward and golden (first: {first}); the exported model in {} does not match what was trained", model_dir.display())]
    LogitMismatch {
        mismatches: usize,
        images: usize,
        first: String,
        model_dir: PathBuf,
    },
}

fn field_prefix(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!("field `{field}`: ")
    }
}
