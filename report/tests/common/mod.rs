//! The small design the report tests share: a random 1/8-width
//! alexnet-cifar (W4A4, 8-bit first and last weights, seed 7) on an 8x8
//! array, the design `sim`'s network test verilates, so the Verilator
//! build is shared through the cache; and made-up yosys results for it.

// Each test crate uses a part of this module.
#![allow(dead_code)]

use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::HwConfig;
use report::synth::{parse_stat_json, FlowResult, FlowStatus};
use report::{AreaReport, Report, SynthFlow};

/// The design resolved for the model (8-bit image bytes and weights).
pub fn small_design() -> (hwgen::Design, golden::model::Model) {
    let topology = Topology::new(Preset::AlexnetCifar, 0.125, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 7).unwrap();
    let config = HwConfig {
        clock_mhz: 200.0,
        ..HwConfig::array("test-8x8", 8, 8, 4, 4, 64).with_max_k(64)
    };
    (hwgen::resolve(&config, Some(&model)).unwrap(), model)
}

/// yosys `stat -json` output of a made-up two-level design.
fn stat_json(cells: &[(&str, u64)]) -> String {
    let pe_cells: Vec<String> = cells.iter().map(|(t, n)| format!("\"{t}\": {n}")).collect();
    format!(
        r#"{{ "modules": {{
  "$paramod$aa\\tandem_pe": {{ "num_cells_by_type": {{ {} }} }},
  "$paramod$bb\\tandem_acc_bank": {{ "num_cells_by_type": {{ "{}": 7 }} }},
  "\\tandem_top": {{ "num_cells_by_type": {{ "$paramod$aa\\tandem_pe": 64, "$paramod$bb\\tandem_acc_bank": 8 }} }}
}} }}"#,
        pe_cells.join(", "),
        cells[0].0
    )
}

pub fn flow(flow: SynthFlow, cells: &[(&str, u64)], seconds: f64) -> FlowResult {
    let stat = stat_json(cells);
    FlowResult {
        flow,
        command: flow.command().to_string(),
        seconds,
        status: FlowStatus::Ok,
        error: None,
        modules: parse_stat_json(&stat, "tandem_top").unwrap(),
        script: format!("{}\n", flow.command()),
        stat_json: stat,
    }
}

/// Made-up statistics of one flow.
pub fn made_up_flow(which: SynthFlow) -> FlowResult {
    match which {
        SynthFlow::Generic => flow(
            SynthFlow::Generic,
            &[("$_XOR_", 40), ("$_AND_", 25), ("$_DFF_P_", 12)],
            2.5,
        ),
        SynthFlow::Xilinx => flow(
            SynthFlow::Xilinx,
            &[("LUT4", 30), ("FDRE", 12), ("DSP48E1", 1), ("RAM32M", 2)],
            11.0,
        ),
        SynthFlow::Ice40 => flow(SynthFlow::Ice40, &[("SB_LUT4", 55), ("SB_DFF", 12)], 4.25),
    }
}

/// `report`'s area as if yosys 0.23 had run every flow and `ok` succeeded;
/// the others failed with a reason naming the flow.
pub fn synthesized_area(report: &Report, ok: &[SynthFlow]) -> AreaReport {
    let flows = SynthFlow::ALL
        .iter()
        .map(|&which| {
            let mut result = made_up_flow(which);
            if !ok.contains(&which) {
                let why = format!(
                    "yosys exited with status 1: ERROR: no {} today",
                    which.name()
                );
                result.fail(FlowStatus::Failed, why);
            }
            result
        })
        .collect();
    AreaReport::from_flows(
        &report.design.config,
        "Yosys 0.23 (git sha1 7ce5011c24b)".into(),
        flows,
        &report.energy_table,
    )
}
