//! # sweep: design-space sweeps with Pareto fronts
//!
//! A sweep spec ([`spec::SweepSpec`], `configs/sweep-*.yaml`) lists
//! bit-width pairs, arrays and batch sizes; the points are their product
//! ([`points`]). Jobs form a graph (teacher -> one model per pair -> one
//! hardware job per pair and array, [`points::jobs`]); each job runs through
//! [`run::Sweep::run_job`] and leaves a record with the fingerprint of its
//! inputs, so a sweep into the same directory reuses what did not change.
//! The local executor ([`local`]) runs a stage's jobs in parallel; the SLURM
//! executor ([`slurm`]) submits each stage as a job array whose tasks call
//! `tandem sweep job`. [`output`] merges the records into per-point results,
//! the Pareto fronts ([`pareto`]) and the files (sweep.json, sweep.csv,
//! sweep.md, points/, plots/).

pub mod error;
pub mod local;
pub mod output;
mod page;
pub mod pareto;
pub mod points;
pub mod run;
pub mod slurm;
pub mod spec;

pub use error::SweepError;
pub use output::{PointResult, SweepResult};
pub use run::Sweep;
pub use spec::SweepSpec;
