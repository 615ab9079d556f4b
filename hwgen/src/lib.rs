//! # hwgen: Tandem's hardware generator
//!
//! Turns a [`HwConfig`] (a small YAML file, see `configs/hw-*.yaml`) into the
//! Verilog-2005 of a weight-stationary systolic integer MAC array with
//! shift-only requantizers, plus the file list, a yosys script, a README and
//! the resolved `hw.yaml` ([`generate()`]). A config is first resolved
//! ([`design::resolve`], optionally for a model) into a [`Design`]: the one
//! value the RTL, the simulation driver and the reports are all built from.
//!
//! - [`config`]: [`HwConfig`], YAML loading and validation.
//! - [`design`]: [`Design`]: the resolved config, every derived width
//!   ([`Widths`]) and every change resolution made.
//! - [`layer`]: what a model's layer needs; the logits-bypass rule.
//! - [`mod@ports`]: the port list of the top module `tandem_top`.
//! - [`mod@generate`]: the generated files; [`write`]: writing them.
//! - [`schedule`]: GEMM tiling, the canonical schedule and its cycle count.
//! - [`host`]: the cycle-by-cycle port values of that schedule, and the
//!   contract's expected results.
//! - [`packing`]: bit layout of the vector ports.
//! - [`memimage`]: `$readmemh` images of a model's biases and shifts.
//!
//! The architecture, interface and schedule are described in
//! `docs/hardware.md`; the arithmetic follows [`golden::contract`].

pub mod config;
pub mod design;
pub mod generate;
pub mod host;
pub mod layer;
pub mod memimage;
pub mod packing;
pub mod ports;
pub mod schedule;
pub mod write;

pub use config::{AccBits, Dataflow, HwConfig, HwConfigError, WideOperands};
pub use design::{resolve, Change, Design, DesignSource, HwSummary, Passes, Widths};
pub use generate::{generate, write_files, GeneratedFile, TOOL_CHECKS};
pub use memimage::design_files;
pub use ports::{ports, Port, PortDirection, TOP_MODULE};
pub use schedule::{gemm_cycles, GemmShape};
pub use write::{write_design, write_design_dir, WriteError};
