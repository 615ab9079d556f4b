//! # tandem-fuzz: mutation fuzzing of Tandem's loaders, on stable Rust
//!
//! No compiler instrumentation: a seed corpus of valid files built in code,
//! a seeded mutator (bit flips, boundary values, inserted, deleted and
//! duplicated ranges, truncation and extension, splices of two inputs, and
//! for YAML line- and token-level edits), and as feedback only the loaders'
//! own answers: an input whose error message (numbers and quoted text
//! masked) was never seen before joins the corpus. Every execution runs
//! under `catch_unwind` and a watchdog; a panic or an execution past the
//! time limit is a failure, and its input is saved.
//!
//! - [`targets`]: one [`Target`] per loader.
//! - [`engine`]: the loop, the watchdog, the crash files ([`fuzz`]).
//! - [`mutate`]: the mutations; [`rng`]: the seeded generator.
//!
//! Run: `cargo run --profile fuzz -p tandem-fuzz -- --target all
//! --executions 1000000` (or `make fuzz`); docs/fuzzing.md has the figures.

pub mod engine;
pub mod mutate;
pub mod rng;
pub mod targets;

pub use engine::{fuzz, FuzzConfig, Input, Summary};
pub use targets::{target, TARGETS};

/// One loader under test.
pub struct Target {
    /// Command-line name (`model-yaml`, `idx`, ...).
    pub name: &'static str,
    /// What it loads, for `--list`.
    pub about: &'static str,
    /// The file name of each part of an input: crashing inputs are saved
    /// under these names, so a model crash is a model directory.
    pub file_names: &'static [&'static str],
    /// Which parts the mutator edits (the others stay as in the seed).
    pub mutable: &'static [usize],
    /// YAML: also apply line and token edits.
    pub text: bool,
    /// Tokens worth inserting.
    pub dictionary: &'static [&'static str],
    /// Valid inputs; each must be accepted.
    pub seeds: fn() -> Vec<Input>,
    /// Load one input from memory: `Ok` when accepted, the error message
    /// when rejected. A panic is caught by the engine.
    pub run: fn(&[Vec<u8>]) -> Result<(), String>,
}
