//! Helpers the end-to-end tests of the `tandem` binary share. Each test
//! binary compiles this module and uses only some of it.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;
use std::process::{Command, Output};

/// Run the `tandem` binary under test with `args`.
pub fn tandem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .output()
        .expect("run tandem")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The last line of stdout, parsed: every `--json` ends stdout with one.
pub fn last_json(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {text}"))
}

/// The path of `configs/NAME`.
pub fn preset(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
        .display()
        .to_string()
}

/// Whether verilator is on PATH; says SKIPPED when not.
pub fn have_verilator() -> bool {
    let found = Command::new("verilator").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
    }
    found
}
