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
    #[error("libtorch")]
    Torch(#[from] tch::TchError),
    /// The trained layers do not make a valid golden model.
    #[error("the exported model is invalid")]
    Export(#[source] golden::ModelError),
    /// Reading or writing a model, a summary or a checkpoint through golden's
    /// files (the error names the file).
    #[error(transparent)]
    Model(#[from] golden::ModelError),
    #[error("cannot {action} {}", path.display())]
    Io {
        /// What was being done: "read", "write", "create the directory".
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The run record beside a results page cannot be parsed.
    #[error("run record {}: {message}; mend it, delete it (its runs then train again) or pass --retrain", path.display())]
    Record { path: PathBuf, message: String },
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint { path: PathBuf, message: String },
    #[error("the topology cannot be trained: {0}")]
    Topology(String),
    /// A saved teacher was trained for another dataset or network shape
    /// than the run asks for.
    #[error("teacher checkpoint {} was trained on {trained}, but this run asks for {asked}; {fix}", path.display())]
    TeacherMismatch {
        path: PathBuf,
        trained: String,
        asked: String,
        fix: String,
    },
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
