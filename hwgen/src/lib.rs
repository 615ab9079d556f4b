//! # hwgen: Tandem's hardware generator
//!
//! Turns a [`HwConfig`] (a small YAML file, see `configs/hw-*.yaml`) into the
//! Verilog-2005 of a weight-stationary systolic integer MAC array with
//! shift-only requantizers, plus the file list, a yosys script and a README
//! ([`generate()`]). The config is the single source of truth for the RTL, the
//! simulation driver and the reports:
//!
//! - [`config`]: [`HwConfig`], YAML loading and validation, derived widths.
//! - [`mod@ports`]: the port list of the top module `tandem_top`.
//! - [`mod@generate`]: the generated files.
//! - [`schedule`]: GEMM tiling, the canonical schedule and its cycle count.
//! - [`host`]: the cycle-by-cycle port values of that schedule, and the
//!   contract's expected results.
//! - [`packing`]: bit layout of the vector ports.
//! - [`sizing`]: fitting a config to a model's widths and K.
//! - [`memimage`]: `$readmemh` images of a model's biases and shifts.
//!
//! The architecture, interface and schedule are described in
//! `docs/hardware.md`; the arithmetic follows [`golden::contract`].

pub mod config;
pub mod generate;
pub mod host;
pub mod memimage;
pub mod packing;
pub mod ports;
pub mod schedule;
pub mod sizing;

pub use config::{AccBits, Dataflow, HwConfig, HwConfigError};
pub use generate::{generate, write_files, GeneratedFile};
pub use ports::{ports, Port, PortDirection, TOP_MODULE};
pub use schedule::{gemm_cycles, GemmShape};
