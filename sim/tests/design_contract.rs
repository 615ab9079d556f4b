//! The verilated model and the design agree: its ports are exactly the one
//! port list (hwgen::ports) for several designs, and the RTL's simulation-only
//! protocol checks stop a host that breaks the schedule's rules.

use hwgen::host::{drive_gemm, GemmOperands};
use hwgen::{Design, GemmShape, HwConfig, PortDirection};
use sim::array::{ArrayOptions, ArraySim};
use sim::BuildOptions;

fn design(rows: u32, cols: u32, a_bits: u8, w_bits: u8, acc_depth: u32) -> Design {
    let name = format!("contract-{rows}x{cols}-w{w_bits}a{a_bits}-d{acc_depth}");
    let config = HwConfig::array(name, rows, cols, a_bits, w_bits, acc_depth)
        .with_max_k(256)
        .with_shift_bits(3);
    Design::of(&config).unwrap()
}

fn skip() -> bool {
    let missing = !sim::verilator_available();
    if missing {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
    }
    missing
}

fn verilated(design: &Design) -> sim::VerilatedLib {
    let dir = sim::array::design_dir(design).unwrap();
    let sources = hwgen::generate::verilog_files()
        .into_iter()
        .map(|file| dir.join(file));
    sim::build(&BuildOptions::new(hwgen::TOP_MODULE, sources)).unwrap()
}

#[test]
fn verilated_ports_match_the_port_list() {
    if skip() {
        return;
    }
    for design in [
        design(1, 1, 1, 2, 1),
        design(3, 5, 4, 4, 7),
        design(4, 4, 8, 8, 16),
        design(2, 9, 16, 16, 300),
    ] {
        let lib = verilated(&design);
        assert_eq!(
            sim::array::port_mismatch(&lib, &design),
            None,
            "{}",
            design.config.name
        );
        let want: Vec<(String, bool, u32)> = hwgen::ports(&design)
            .iter()
            .map(|p| {
                (
                    p.name.to_string(),
                    p.direction == PortDirection::Output,
                    p.width,
                )
            })
            .collect();
        // A design with other widths does not match this model.
        let other = Design::of(&HwConfig {
            a_bits: design.config.a_bits % 16 + 1,
            max_in_bits: None,
            max_out_bits: None,
            acc_bits: hwgen::AccBits::Auto,
            ..design.config.clone()
        })
        .unwrap();
        assert!(sim::array::port_mismatch(&lib, &other).is_some());
        // And the widths are the design's: e.g. prm_out_bits holds a_bits.
        let out_bits = want.iter().find(|p| p.0 == "prm_out_bits").unwrap().2;
        assert_eq!(out_bits, design.widths.out_bits_bits);
    }
}

/// Drive a GEMM whose weight loads come one cycle too early (the slot
/// shortened by one): the RTL's protocol check must stop the simulation.
#[test]
fn a_slot_too_short_stops_the_simulation_with_the_rule() {
    if skip() {
        return;
    }
    // Three K-tiles of M = 5 = rows + cols vectors: every slot is exactly
    // the minimum, so one cycle earlier breaks the rule for tile 2, whose
    // parameters overwrite the bank tile 0 read.
    let design = design(2, 3, 4, 4, 8);
    let lib = verilated(&design);
    let mut sim = lib.instantiate().unwrap();
    let shape = GemmShape { m: 5, k: 6, n: 3 };
    let ops = GemmOperands {
        shape,
        activations: &[1; 30],
        in_bits: 4,
        weights: &[1; 18],
        w_bits: 4,
        bias: &[0; 3],
        shifts: &[0; 3],
        out_bits: 4,
        bypass: false,
    };
    // Record the canonical schedule, then move every parameter write of a
    // later tile one cycle earlier.
    let mut cycles = Vec::new();
    drive_gemm(&design, &ops, |_, inputs| cycles.push(inputs.clone())).unwrap();
    let late: Vec<usize> = (1..cycles.len())
        .filter(|&c| cycles[c].prm_valid && c >= design.config.rows as usize)
        .collect();
    assert!(!late.is_empty());
    for &c in &late {
        cycles[c - 1].prm_valid = true;
        cycles[c - 1].prm_bias = cycles[c].prm_bias.clone();
        cycles[c - 1].prm_shift = cycles[c].prm_shift.clone();
        cycles[c - 1].prm_out_bits = cycles[c].prm_out_bits;
    }
    let port = |name| sim.port(name).unwrap();
    let (rst_n, prm_valid, prm_out_bits, act_valid, wload_valid, wswap) = (
        port("rst_n"),
        port("prm_valid"),
        port("prm_out_bits"),
        port("act_valid"),
        port("wload_valid"),
        port("wswap"),
    );
    let (wload_row, act_first, act_last) = (port("wload_row"), port("act_first"), port("act_last"));
    sim.set(rst_n, 0);
    sim.step(2);
    sim.set(rst_n, 1);
    let mut stopped = None;
    for inputs in &cycles {
        sim.set(wload_valid, u64::from(inputs.wload_valid));
        sim.set(wload_row, u64::from(inputs.wload_row));
        sim.set(wswap, u64::from(inputs.wswap));
        sim.set(prm_valid, u64::from(inputs.prm_valid));
        sim.set(prm_out_bits, u64::from(inputs.prm_out_bits));
        sim.set(act_valid, u64::from(inputs.act_valid));
        sim.set(act_first, u64::from(inputs.act_first));
        sim.set(act_last, u64::from(inputs.act_last));
        if let Err(error) = sim.try_step(1) {
            stopped = Some(error.to_string());
            break;
        }
    }
    let message = stopped.expect("the protocol check stopped the simulation");
    assert!(
        message.contains("parameters written in cycle") && message.contains("slot is too short"),
        "{message}"
    );
}

#[test]
fn an_array_sim_keeps_the_design_it_was_built_from() {
    if skip() {
        return;
    }
    // ArraySim checks the ports on the way and keeps the design it drives.
    let design = design(2, 2, 4, 4, 4);
    let array = ArraySim::new(&design, &ArrayOptions::default()).unwrap();
    assert_eq!(array.design(), &design);
}
