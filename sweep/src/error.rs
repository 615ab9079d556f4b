//! Why a sweep, or one of its jobs, stopped.

use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum SweepError {
    #[error("{}: cannot read the sweep spec", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a valid sweep spec", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
    #[error("{}: {field}: {message}", .path.display())]
    Field {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
    #[error("sweep spec field `{field}`")]
    Input {
        field: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{}", .0)]
    Job(String),
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", .path.display())]
    ReadResult {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a result this version of tandem wrote", .path.display())]
    ParseResult {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("slurm: {0}")]
    Slurm(String),
}

/// One line with every cause of `error`, outermost first (what a failed
/// point records).
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
