//! Quality gates on the generated RTL: every design of a matrix of shapes and
//! bit-widths lints clean with `verilator --lint-only -Wall` (as Verilog-2005)
//! and compiles with `iverilog -g2005`; small designs synthesize with yosys.
//! Each test is skipped, with a message, when its tool is not on PATH.

mod common;

use common::{config, have_tool, run_ok, verilog_paths, write_design};
use hwgen::HwConfig;
use std::path::Path;
use std::process::Command;

/// (a_bits, w_bits) pairs: W2A2, W3A5, W4A4, W8A8, W16A16.
const WIDTHS: [(u8, u8); 5] = [(2, 2), (5, 3), (4, 4), (8, 8), (16, 16)];

fn lint(config: &HwConfig, scratch: &Path) {
    let dir = write_design(config, scratch);
    let mut verilator = Command::new("verilator");
    verilator
        .args(["--lint-only", "-Wall", "--default-language", "1364-2005"])
        .args(["--top-module", hwgen::TOP_MODULE, "-F"])
        .arg(dir.join("files.f"));
    run_ok(verilator, &format!("verilator lint of {}", config.name));
}

fn compile_icarus(config: &HwConfig, scratch: &Path) {
    let dir = write_design(config, scratch);
    let mut iverilog = Command::new("iverilog");
    iverilog
        .args(["-g2005", "-Wall", "-s", hwgen::TOP_MODULE, "-o"])
        .arg(scratch.join(format!("{}.vvp", config.name)))
        .args(verilog_paths(&dir));
    let log = run_ok(iverilog, &format!("iverilog compile of {}", config.name));
    assert!(
        !log.contains("warning"),
        "iverilog warned on {}:\n{log}",
        config.name
    );
}

/// Lint and compile every width pair on a `rows` x `cols` array.
fn check_shape(rows: u32, cols: u32, acc_depth: u32) {
    let test = format!("lint {rows}x{cols}");
    let verilator = have_tool("verilator", &test);
    let icarus = have_tool("iverilog", &test);
    let scratch = tempfile::tempdir().unwrap();
    for (a_bits, w_bits) in WIDTHS {
        let config = config(rows, cols, a_bits, w_bits, acc_depth);
        if verilator {
            lint(&config, scratch.path());
        }
        if icarus {
            compile_icarus(&config, scratch.path());
        }
    }
}

#[test]
fn lint_1x1() {
    check_shape(1, 1, 1);
}

#[test]
fn lint_2x3() {
    check_shape(2, 3, 5);
}

#[test]
fn lint_4x4() {
    check_shape(4, 4, 16);
}

#[test]
fn lint_8x8() {
    check_shape(8, 8, 64);
}

#[test]
fn lint_16x16() {
    check_shape(16, 16, 256);
}

#[test]
fn lint_odd_shapes() {
    // Tall, wide and non-power-of-two shapes and depths.
    let verilator = have_tool("verilator", "lint_odd_shapes");
    let icarus = have_tool("iverilog", "lint_odd_shapes");
    let scratch = tempfile::tempdir().unwrap();
    for (rows, cols, a_bits, w_bits, depth) in [
        (7, 1, 1, 2, 3),
        (1, 9, 6, 7, 2),
        (5, 2, 12, 3, 100),
        (3, 3, 16, 2, 1),
    ] {
        let config = config(rows, cols, a_bits, w_bits, depth);
        if verilator {
            lint(&config, scratch.path());
        }
        if icarus {
            compile_icarus(&config, scratch.path());
        }
    }
}

#[test]
fn presets_lint_and_compile() {
    let verilator = have_tool("verilator", "presets_lint_and_compile");
    let icarus = have_tool("iverilog", "presets_lint_and_compile");
    let scratch = tempfile::tempdir().unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for preset in ["hw-8x8-w4a4", "hw-16x16-w4a4", "hw-16x16-w8a8"] {
        let config = HwConfig::from_yaml_file(configs.join(format!("{preset}.yaml"))).unwrap();
        if verilator {
            lint(&config, scratch.path());
        }
        if icarus {
            compile_icarus(&config, scratch.path());
        }
    }
}

fn synthesize(config: &HwConfig) {
    let scratch = tempfile::tempdir().unwrap();
    let dir = write_design(config, scratch.path());
    let mut yosys = Command::new("yosys");
    yosys.current_dir(&dir).args(["-q", "-s", "synth.ys"]);
    // `stat` prints even under -q only with -T; ask for the log instead.
    yosys.args(["-l", "synth.log"]);
    run_ok(yosys, &format!("yosys synth of {}", config.name));
    let log = std::fs::read_to_string(dir.join("synth.log")).unwrap();
    assert!(
        log.contains("Number of cells"),
        "yosys printed no cell statistics for {}:\n{log}",
        config.name
    );
    assert!(
        !log.contains("ERROR"),
        "yosys reported an error for {}:\n{log}",
        config.name
    );
}

#[test]
fn yosys_synthesizes_2x3_w4a4() {
    if have_tool("yosys", "yosys_synthesizes_2x3_w4a4") {
        synthesize(&config(2, 3, 4, 4, 4));
    }
}

#[test]
fn yosys_synthesizes_4x4_w8a8() {
    if have_tool("yosys", "yosys_synthesizes_4x4_w8a8") {
        synthesize(&config(4, 4, 8, 8, 8));
    }
}
