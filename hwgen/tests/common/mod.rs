//! Helpers shared by the integration tests: external tools, configs, design
//! directories.

#![allow(dead_code)] // each test binary uses a different subset

use hwgen::{generate, write_files, Design, HwConfig};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Whether `tool` is an executable on PATH. When it is not, prints why the
/// calling test is skipped, so `cargo test -- --nocapture` shows it.
pub fn have_tool(tool: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).is_file()));
    if !found {
        eprintln!("SKIPPED {test}: `{tool}` is not on PATH");
    }
    found
}

/// The resolved design of [`config`].
pub fn design(rows: u32, cols: u32, a_bits: u8, w_bits: u8, acc_depth: u32) -> Design {
    Design::of(&config(rows, cols, a_bits, w_bits, acc_depth)).expect("test config resolves")
}

/// A validated config with the given shape and widths.
pub fn config(rows: u32, cols: u32, a_bits: u8, w_bits: u8, acc_depth: u32) -> HwConfig {
    let name = format!("t{rows}x{cols}-w{w_bits}a{a_bits}-d{acc_depth}");
    let config = HwConfig::array(name, rows, cols, a_bits, w_bits, acc_depth);
    config.validate().expect("test config is valid");
    config
}

/// Generate `design` into a fresh directory under `parent`.
pub fn write_design(design: &Design, parent: &Path) -> PathBuf {
    let dir = parent.join(&design.config.name);
    write_files(&generate(design), &dir).expect("write design");
    dir
}

/// The absolute paths of a design's Verilog sources, in compile order.
pub fn verilog_paths(dir: &Path) -> Vec<PathBuf> {
    hwgen::generate::verilog_files()
        .into_iter()
        .map(|file| dir.join(file))
        .collect()
}

/// Run `command`; panic with its output (and `what`) if it fails.
pub fn run_ok(mut command: Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start {command:?}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{command:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    stdout + &stderr
}
