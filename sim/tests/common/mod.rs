//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use sim::{BuildOptions, Sim, TraceFormat};

/// Return early (passing) with a clear message when Verilator is not installed.
#[macro_export]
macro_rules! require_verilator {
    () => {
        if !sim::verilator_available() {
            eprintln!("SKIPPED: `verilator` (and g++) not found on PATH; Verilator tests not run");
            return;
        }
    };
}

/// Path of a fixture file under sim/tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// Build options for a fixture, with tracing as requested by `TANDEM_TRACE`.
pub fn options(top: &str, file: &str) -> BuildOptions {
    let trace = TraceFormat::from_env().expect("TANDEM_TRACE must be vcd or fst");
    BuildOptions::new(top, [fixture(file)]).trace(trace)
}

/// Where tests write waveforms: `$TANDEM_TRACE_DIR` if set, else `tandem-traces/` in cargo's
/// scratch dir for tests (`target/tmp/`), not in the source tree.
pub fn trace_dir() -> PathBuf {
    match std::env::var_os(sim::TRACE_DIR_ENV).filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tandem-traces"),
    }
}

/// Build and instantiate a fixture; opens `<trace dir>/<name>.<ext>` when tracing.
pub fn sim_for(top: &str, file: &str, name: &str) -> Sim {
    let lib = sim::build(&options(top, file)).unwrap_or_else(|e| panic!("build {top}: {e}"));
    let mut sim = lib.instantiate().expect("instantiate");
    if let Some(fmt) = lib.trace_format() {
        let path = trace_dir().join(format!("{name}.{}", fmt.extension()));
        sim.trace_to(&path).expect("open trace");
        eprintln!("waveform: {}", path.display());
    }
    sim
}
