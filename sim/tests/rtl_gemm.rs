//! Randomized differential tests of the generated array on Verilator: random
//! GEMMs (ragged K, N and M, negative and saturating accumulators, bypass,
//! all-extreme operands) against the integer contract, for bit-widths
//! {2,3,4,5,8,12,16} and arrays {1x1, 2x3, 4x4, 8x8, 16x16}. Zero mismatches
//! allowed, and every result must appear in the cycle the schedule predicts.
//!
//! Waveforms: `TANDEM_TRACE=vcd cargo test -p sim --test rtl_gemm` writes one
//! per design under the test trace directory (see `sim::trace_dir`).

use hwgen::HwConfig;
use sim::array::{ArrayOptions, ArraySim};
use sim::gemm_check::check_random_gemms;

fn config(rows: u32, cols: u32, w_bits: u8, a_bits: u8, acc_depth: u32) -> HwConfig {
    let name = format!("test-{rows}x{cols}-w{w_bits}a{a_bits}-d{acc_depth}");
    let config = HwConfig::array(name, rows, cols, a_bits, w_bits, acc_depth).with_max_k(4096);
    config.validate().expect("valid test config");
    config
}

fn options() -> ArrayOptions {
    ArrayOptions {
        trace: sim::TraceFormat::from_env().expect("TANDEM_TRACE must be vcd or fst"),
        trace_path: None,
    }
}

fn check(config: &HwConfig, cases: usize, seed: u64) {
    let design = hwgen::Design::of(config).expect("resolve the test config");
    let mut array = ArraySim::new(&design, &options()).expect("build the array");
    let result = check_random_gemms(&mut array, cases, seed, |_| {}).expect("run the GEMMs");
    let trace = array
        .trace_path()
        .map(|p| format!(" (waveform: {})", p.display()))
        .unwrap_or_else(|| " (set TANDEM_TRACE=vcd for a waveform)".into());
    assert_eq!(
        result.mismatches,
        0,
        "{}: {} of {} values differ; first: {}{trace}",
        config.name,
        result.mismatches,
        result.values,
        result.first_mismatch.unwrap_or_default()
    );
    assert_eq!(result.cases, cases);
    assert_eq!(result.cycles, result.model_cycles, "{}", config.name);
    assert!(result.values > 0);
}

fn skip() -> bool {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return true;
    }
    false
}

#[test]
fn bit_widths_on_a_2x3_array() {
    if skip() {
        return;
    }
    // Weights and activations independently; small depth so M spans tiles.
    for (w_bits, a_bits) in [
        (2, 2),
        (3, 5),
        (4, 4),
        (5, 3),
        (8, 8),
        (12, 2),
        (2, 12),
        (16, 16),
    ] {
        check(&config(2, 3, w_bits, a_bits, 5), 12, 11 + w_bits as u64);
    }
}

#[test]
fn array_shapes() {
    if skip() {
        return;
    }
    check(&config(1, 1, 2, 2, 4), 16, 1);
    check(&config(4, 4, 4, 4, 6), 10, 2);
    check(&config(8, 8, 3, 5, 8), 8, 3);
    check(&config(16, 16, 8, 8, 16), 4, 4);
}

#[test]
fn wide_operands_on_larger_arrays() {
    if skip() {
        return;
    }
    check(&config(4, 4, 16, 16, 7), 8, 5);
    check(&config(8, 8, 12, 5, 9), 6, 6);
    check(&config(16, 16, 4, 4, 20), 3, 7);
}

/// Native PEs narrower than the operands: every case runs at widths up to
/// the widest the design serves (half the cases at that width), so most
/// run in operand-slice passes. Zero mismatches and measured cycles equal
/// to the formula, passes included.
fn check_sliced(
    (rows, cols, a_bits, w_bits, depth): (u32, u32, u8, u8, u32),
    (in_bits, max_w, out_bits): (u8, u8, u8),
    cases: usize,
    seed: u64,
) {
    let native = config(rows, cols, w_bits, a_bits, depth);
    let config = HwConfig {
        name: format!("{}-serves-a{in_bits}w{max_w}o{out_bits}", native.name),
        ..native.with_layer_bits(in_bits, max_w, out_bits)
    };
    let design = hwgen::Design::of(&config).expect("resolve the sliced config");
    assert!(design.passes(in_bits, max_w).count() > 1);
    let mut array = ArraySim::new(&design, &options()).expect("build the array");
    let result = check_random_gemms(&mut array, cases, seed, |_| {}).expect("run the GEMMs");
    assert_eq!(
        result.mismatches,
        0,
        "{}: first mismatch: {}",
        config.name,
        result.first_mismatch.unwrap_or_default()
    );
    assert_eq!(result.cycles, result.model_cycles, "{}", config.name);
    assert!(
        result.sliced_cases * 2 >= cases,
        "{}: only {} of {cases} cases ran in passes",
        config.name,
        result.sliced_cases
    );
}

#[test]
fn eight_bit_operands_on_2_and_4_bit_arrays() {
    if skip() {
        return;
    }
    check_sliced((2, 3, 2, 2, 5), (8, 8, 8), 12, 21);
    check_sliced((4, 4, 4, 4, 6), (8, 8, 8), 10, 22);
    // W4A4 layers with 8-bit edges on a 2-bit array, 4-bit outputs.
    check_sliced((3, 3, 2, 2, 4), (8, 8, 4), 10, 23);
}

#[test]
fn sixteen_bit_and_odd_operands_in_passes() {
    if skip() {
        return;
    }
    check_sliced((2, 2, 4, 4, 5), (16, 16, 16), 10, 24);
    // 5-bit weights on 3-bit PEs; 7-bit activations on 2-bit PEs.
    check_sliced((3, 2, 3, 3, 4), (5, 5, 5), 10, 25);
    check_sliced((2, 3, 2, 2, 4), (7, 2, 7), 10, 26);
    check_sliced((1, 1, 1, 2, 2), (8, 8, 8), 12, 27);
}
