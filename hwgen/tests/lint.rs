//! Quality gates on the generated RTL: every design of a matrix of shapes and
//! bit-widths lints clean with `verilator --lint-only -Wall` (as Verilog-2005)
//! and compiles with `iverilog -g2005`; small designs synthesize with yosys.
//! Each test is skipped, with a message, when its tool is not on PATH.

mod common;

use common::{design, have_tool, run_ok, write_design};
use hwgen::generate::ToolCheck;
use hwgen::{Design, HwConfig, TOOL_CHECKS};
use std::path::Path;
use std::process::Command;

/// (a_bits, w_bits) pairs: W2A2, W3A5, W4A4, W8A8, W16A16.
const WIDTHS: [(u8, u8); 5] = [(2, 2), (5, 3), (4, 4), (8, 8), (16, 16)];

/// The documented check of `tool` (hwgen::TOOL_CHECKS), run in the
/// design's directory exactly as its README prints it.
fn run_check(tool: &str, design: &Design, scratch: &Path) -> String {
    let check: &ToolCheck = TOOL_CHECKS.iter().find(|c| c.tool == tool).unwrap();
    let dir = write_design(design, scratch);
    let mut command = Command::new(check.tool);
    command.current_dir(&dir).args(check.args);
    run_ok(
        command,
        &format!("{} of {}", check.command_line(), design.config.name),
    )
}

fn lint(design: &Design, scratch: &Path) {
    run_check("verilator", design, scratch);
}

fn compile_icarus(design: &Design, scratch: &Path) {
    let log = run_check("iverilog", design, scratch);
    assert!(
        !log.contains("warning"),
        "iverilog warned on {}:\n{log}",
        design.config.name
    );
}

/// Lint and compile every width pair on a `rows` x `cols` array.
fn check_shape(rows: u32, cols: u32, acc_depth: u32) {
    let test = format!("lint {rows}x{cols}");
    let verilator = have_tool("verilator", &test);
    let icarus = have_tool("iverilog", &test);
    let scratch = tempfile::tempdir().unwrap();
    for (a_bits, w_bits) in WIDTHS {
        let design = design(rows, cols, a_bits, w_bits, acc_depth);
        if verilator {
            lint(&design, scratch.path());
        }
        if icarus {
            compile_icarus(&design, scratch.path());
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
        let design = design(rows, cols, a_bits, w_bits, depth);
        if verilator {
            lint(&design, scratch.path());
        }
        if icarus {
            compile_icarus(&design, scratch.path());
        }
    }
}

/// Designs whose native PEs are narrower than the layers they serve: the
/// unsigned weight-slice bit, the slice shifter and a wide output port.
fn sliced_designs() -> Vec<Design> {
    [
        (4, 4, 2, 2, 8, (8, 8, 4)),
        (2, 3, 3, 3, 5, (7, 5, 3)),
        (3, 2, 4, 4, 4, (16, 16, 8)),
        (1, 1, 1, 2, 1, (8, 8, 8)),
        // Wider activations only, and wider weights only.
        (2, 2, 2, 8, 4, (8, 8, 2)),
        (2, 2, 8, 2, 4, (8, 8, 8)),
    ]
    .into_iter()
    .map(
        |(rows, cols, a_bits, w_bits, depth, (in_bits, max_w, out_bits))| {
            let config = common::config(rows, cols, a_bits, w_bits, depth)
                .with_layer_bits(in_bits, max_w, out_bits);
            Design::of(&config).unwrap()
        },
    )
    .collect()
}

#[test]
fn sliced_designs_lint_and_compile() {
    let verilator = have_tool("verilator", "sliced_designs_lint_and_compile");
    let icarus = have_tool("iverilog", "sliced_designs_lint_and_compile");
    let scratch = tempfile::tempdir().unwrap();
    for design in sliced_designs() {
        assert!(design.widths.max_slice_shift > 0 || design.widths.unsigned_weight_slices);
        if verilator {
            lint(&design, scratch.path());
        }
        if icarus {
            compile_icarus(&design, scratch.path());
        }
    }
}

#[test]
fn yosys_synthesizes_a_sliced_4x4_w2a2() {
    if have_tool("yosys", "yosys_synthesizes_a_sliced_4x4_w2a2") {
        synthesize(&sliced_designs()[0]);
    }
}

#[test]
fn presets_lint_and_compile() {
    let verilator = have_tool("verilator", "presets_lint_and_compile");
    let icarus = have_tool("iverilog", "presets_lint_and_compile");
    let scratch = tempfile::tempdir().unwrap();
    let configs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs");
    for preset in [
        "hw-8x8-w4a4",
        "hw-16x16-w2a2",
        "hw-16x16-w4a4",
        "hw-16x16-w8a8",
    ] {
        let config = HwConfig::from_yaml_file(configs.join(format!("{preset}.yaml"))).unwrap();
        let design = Design::of(&config).unwrap();
        if verilator {
            lint(&design, scratch.path());
        }
        if icarus {
            compile_icarus(&design, scratch.path());
        }
    }
}

fn synthesize(design: &Design) {
    let scratch = tempfile::tempdir().unwrap();
    let dir = write_design(design, scratch.path());
    let mut yosys = Command::new("yosys");
    // The documented check runs `-q`; ask for a log to read the statistics.
    yosys
        .current_dir(&dir)
        .args(["-q", "-s", hwgen::generate::SYNTH_SCRIPT, "-l", "synth.log"]);
    run_ok(yosys, &format!("yosys synth of {}", design.config.name));
    let log = std::fs::read_to_string(dir.join("synth.log")).unwrap();
    assert!(
        log.contains("Number of cells"),
        "yosys printed no cell statistics for {}:\n{log}",
        design.config.name
    );
    assert!(
        !log.contains("ERROR"),
        "yosys reported an error for {}:\n{log}",
        design.config.name
    );
}

#[test]
fn yosys_synthesizes_2x3_w4a4() {
    if have_tool("yosys", "yosys_synthesizes_2x3_w4a4") {
        synthesize(&design(2, 3, 4, 4, 4));
    }
}

#[test]
fn yosys_synthesizes_4x4_w8a8() {
    if have_tool("yosys", "yosys_synthesizes_4x4_w8a8") {
        synthesize(&design(4, 4, 8, 8, 8));
    }
}

/// A leaf module instantiated without its parameters must not elaborate in
/// any of the three tools: no silently differing defaults.
#[test]
fn a_missing_parameter_override_fails_elaboration_everywhere() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = write_design(&design(2, 2, 4, 4, 4), scratch.path());
    let wrapper = dir.join("bad_wrapper.v");
    std::fs::write(
        &wrapper,
        "`default_nettype none\nmodule bad_wrapper (input wire clk, input wire [3:0] d, output wire [3:0] q);\n    tandem_delay_line u_line (.clk(clk), .rst_n(1'b1), .in_data(d), .out_data(q));\nendmodule\n`default_nettype wire\n",
    )
    .unwrap();
    let sources = [dir.join("tandem_delay_line.v"), wrapper];
    let expect_failure = |mut command: Command, tool: &str| {
        let output = command.output().unwrap();
        let log = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{tool} accepted a missing parameter:\n{log}"
        );
        assert!(
            log.contains("tandem_delay_line_needs_WIDTH_and_DEPTH_of_at_least_1"),
            "{tool} failed for another reason:\n{log}"
        );
    };
    if have_tool("verilator", "missing parameter") {
        let mut command = Command::new("verilator");
        command
            .args([
                "--lint-only",
                "-Wall",
                "-Wno-DECLFILENAME",
                "--top-module",
                "bad_wrapper",
            ])
            .args(&sources);
        expect_failure(command, "verilator");
    }
    if have_tool("iverilog", "missing parameter") {
        let mut command = Command::new("iverilog");
        command
            .args(["-g2005", "-s", "bad_wrapper", "-o", "/dev/null"])
            .args(&sources);
        expect_failure(command, "iverilog");
    }
    if have_tool("yosys", "missing parameter") {
        let script = format!(
            "read_verilog {} {}; hierarchy -check -top bad_wrapper",
            sources[0].display(),
            sources[1].display()
        );
        let mut command = Command::new("yosys");
        command.args(["-q", "-p", &script]);
        expect_failure(command, "yosys");
    }
}
