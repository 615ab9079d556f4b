//! Config rejection: every error names the file, the field and the fix.

use hwgen::{HwConfig, HwConfigError};
use std::path::Path;

const GOOD: &str = "\
name: test
rows: 4
cols: 4
dataflow: weight_stationary
a_bits: 4
w_bits: 4
acc_bits: auto
max_k: 576
acc_depth: 16
clock_mhz: 200
";

/// Write `text` to `<tmp>/bad.yaml`, load it, and return the error message
/// (which must start with the file's path).
fn load_error(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    let error = HwConfig::from_yaml_file(&path).expect_err("config must be rejected");
    let message = error.to_string();
    let prefix = format!("{}: ", path.display());
    assert!(
        message.starts_with(&prefix),
        "message does not start with the file: {message}"
    );
    message[prefix.len()..].to_string()
}

fn replace(field_line: &str, with: &str) -> String {
    assert!(GOOD.contains(field_line), "{field_line}");
    GOOD.replace(field_line, with)
}

#[test]
fn good_config_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.yaml");
    std::fs::write(&path, GOOD).unwrap();
    let config = HwConfig::from_yaml_file(&path).unwrap();
    assert_eq!(config.acc_bits_resolved(), 19);
    assert_eq!(config.shift_bits, 5, "shift_bits defaults to 5");
}

#[test]
fn rows_zero() {
    assert_eq!(
        load_error(&replace("rows: 4", "rows: 0")),
        "rows = 0: must be 1..=256"
    );
}

#[test]
fn cols_too_large() {
    assert_eq!(
        load_error(&replace("cols: 4", "cols: 257")),
        "cols = 257: must be 1..=256"
    );
}

#[test]
fn a_bits_17() {
    assert_eq!(
        load_error(&replace("a_bits: 4", "a_bits: 17")),
        "a_bits = 17: must be 1..=16 (the contract's activation widths)"
    );
}

#[test]
fn w_bits_1() {
    assert_eq!(
        load_error(&replace("w_bits: 4", "w_bits: 1")),
        "w_bits = 1: must be 2..=16 (the contract's weight widths)"
    );
}

#[test]
fn unknown_field() {
    let message = load_error(&format!("{GOOD}colz: 3\n"));
    assert!(message.contains("unknown field `colz`"), "{message}");
}

#[test]
fn missing_field() {
    let message = load_error(&replace("cols: 4\n", ""));
    assert!(message.contains("missing field `cols`"), "{message}");
}

#[test]
fn output_stationary_is_not_implemented() {
    assert_eq!(
        load_error(&replace(
            "dataflow: weight_stationary",
            "dataflow: output_stationary"
        )),
        "dataflow = output_stationary: not implemented yet; use weight_stationary"
    );
}

#[test]
fn unknown_dataflow() {
    let message = load_error(&replace(
        "dataflow: weight_stationary",
        "dataflow: row_stationary",
    ));
    assert!(
        message.contains("unknown variant `row_stationary`"),
        "{message}"
    );
}

#[test]
fn auto_acc_bits_need_max_k() {
    let message = load_error(&replace("max_k: 576\n", ""));
    assert!(
        message.starts_with("acc_bits = auto: needs max_k"),
        "{message}"
    );
}

#[test]
fn acc_bits_out_of_range() {
    assert_eq!(
        load_error(&replace("acc_bits: auto", "acc_bits: 40")),
        "acc_bits = 40: must be 1..=32 (or `auto`)"
    );
    let message = load_error(&replace("acc_bits: auto", "acc_bits: wide"));
    assert!(
        message.starts_with("acc_bits = wide: must be `auto` or an integer"),
        "{message}"
    );
}

#[test]
fn acc_bits_too_narrow_for_max_k() {
    let message = load_error(&replace("acc_bits: auto", "acc_bits: 16"));
    assert!(
        message.starts_with("acc_bits = 16: must be 32 or 19..=31"),
        "{message}"
    );
}

#[test]
fn shift_bits_and_depth_and_clock() {
    assert_eq!(
        load_error(&format!("{GOOD}shift_bits: 6\n")),
        "shift_bits = 6: must be 1..=5 (5 covers the contract's shifts 0..=31)"
    );
    assert_eq!(
        load_error(&replace("acc_depth: 16", "acc_depth: 0")),
        "acc_depth = 0: must be 1..=65536"
    );
    assert!(load_error(&replace("clock_mhz: 200", "clock_mhz: -1")).starts_with("clock_mhz = -1"));
}

#[test]
fn bad_name() {
    let message = load_error(&replace("name: test", "name: ../escape"));
    assert!(
        message.starts_with("name = \"../escape\": must be"),
        "{message}"
    );
}

#[test]
fn missing_file_names_the_path() {
    let error = HwConfig::from_yaml_file(Path::new("/nonexistent/hw.yaml")).unwrap_err();
    assert!(matches!(error, HwConfigError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/hw.yaml: cannot read"),
        "{error}"
    );
}

#[test]
fn in_memory_configs_are_validated_too() {
    let mut config = HwConfig::from_yaml_str(GOOD).unwrap();
    config.rows = 0;
    let error = config.validate().unwrap_err();
    assert_eq!(error.field(), Some("rows"));
    assert_eq!(
        error.to_string(),
        "<in-memory config>: rows = 0: must be 1..=256"
    );
}

#[test]
fn a_missing_file_names_the_file_and_its_cause_once() {
    let error = HwConfig::from_yaml_file("/nonexistent/hw.yaml").unwrap_err();
    assert_eq!(
        error.to_string(),
        "/nonexistent/hw.yaml: cannot read the hardware config"
    );
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("No such file"), "{cause}");
}

#[test]
fn widest_layer_fields_below_the_native_widths() {
    assert_eq!(
        load_error(&format!("{GOOD}max_in_bits: 2\n")),
        "max_in_bits = 2: must be at least a_bits = 4 (the PEs' native width; remove the field to use it)"
    );
    assert_eq!(
        load_error(&format!("{GOOD}max_w_bits: 3\n")),
        "max_w_bits = 3: must be at least w_bits = 4 (the PEs' native width; remove the field to use it)"
    );
    assert_eq!(
        load_error(&format!("{GOOD}max_out_bits: 17\n")),
        "max_out_bits = 17: must be 1..=16 (the contract's activation widths)"
    );
}

#[test]
fn wide_operands_must_be_slice_or_widen() {
    let message = load_error(&format!("{GOOD}wide_operands: stretch\n"));
    assert!(
        message.contains("wide_operands") && message.contains("slice") && message.contains("widen"),
        "{message}"
    );
}

#[test]
fn widest_layer_fields_size_the_accumulator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sliced.yaml");
    std::fs::write(&path, format!("{GOOD}max_in_bits: 8\nmax_w_bits: 8\n")).unwrap();
    let config = HwConfig::from_yaml_file(&path).unwrap();
    // 8 + 8 + ceil(log2 576) + 1 on 4-bit PEs.
    assert_eq!(config.acc_bits_resolved(), 8 + 8 + 10 + 1);
    assert_eq!(config.wide_operands, hwgen::WideOperands::Slice);
}
