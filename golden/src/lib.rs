//! # golden: Tandem's integer contract and bit-exact reference model
//!
//! Everything else in Tandem (the trainer's export, the generated RTL, the
//! simulation drivers) is checked against this crate, so it depends on no
//! other workspace member and keeps its arithmetic in one place:
//!
//! - [`contract`]: the arithmetic rules (requantization, ranges, argmax).
//! - [`model`]: the in-memory integer model and its validation.
//! - [`io`]: `model.yaml` + `model.safetensors` reading and atomic writing.
//! - [`topology`]: the `alexnet-cifar` and `alexnet-imagenet` presets.
//! - [`reference`]: the readable ndarray implementation of the contract.
//! - [`fast`]: im2col + blocked integer GEMM, parallel over images.
//! - [`random`]: seeded random models with calibrated shifts.
//!
//! The contract itself is written down in `docs/integer-semantics.md`.

pub mod contract;
pub mod fast;
pub mod io;
pub mod model;
pub mod random;
pub mod reference;
pub mod topology;

pub use model::{Layer, Model, ModelError, Op, Output, Shape};
