//! `report.md`, the CSV tables and the SVG plots of a fixed report, byte
//! for byte: a small random model, modeled only (no images, no yosys), and
//! the same report with a simulation and three synthesis flows filled in
//! from fixed yosys statistics, so every section of the page is rendered.
//! Run `cargo insta review` (or `INSTA_UPDATE=always cargo test`) after an
//! intended change to the output.

mod common;

use report::{build_report, EnergyTable, Report, ReportInputs, SimulationInfo, SynthFlow};

fn modeled_report() -> Report {
    let (config, model) = common::small_design();
    let table = EnergyTable::default_45nm();
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.synthesis = None;
    inputs.test_set_images = Some(10_000);
    inputs.batch_sizes = vec![1, 4];
    build_report(&inputs).unwrap()
}

fn synthesized_and_simulated(mut report: Report) -> Report {
    report.area = common::synthesized_area(&report, &SynthFlow::ALL);
    // The notes of the modeled run that no longer hold.
    report
        .notes
        .retain(|note| !note.starts_with("area:") && !note.starts_with("no images"));
    let b1 = report.batch1().throughput.clone();
    report.measured = Some(report::ThroughputFigures {
        basis: "measured (Verilator RTL simulation, 2 images, mean cycles per image)".into(),
        ..b1
    });
    for layer in &mut report.layers {
        layer.cycles_measured = Some(layer.cycles_modeled as f64);
        layer.utilization_measured = Some(layer.utilization_modeled);
    }
    report.simulation = Some(SimulationInfo {
        images: 2,
        image_source: "two fixed images".into(),
        values_compared: 1234,
        mismatches: 0,
        first_mismatch: None,
        predictions: vec![3, 7],
        labels: Some(vec![3, 1]),
        cycles_match_formula: true,
        wall_seconds: 0.75,
        threads: 2,
    });
    report
}

/// Each of `files` that `report` writes, against its snapshot
/// `<prefix>_<file name>`.
fn assert_files_match_snapshots(report: &Report, prefix: &str, files: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    report.write_dir(dir.path()).unwrap();
    for file in files {
        let text = std::fs::read_to_string(dir.path().join(file)).unwrap();
        let name = format!("{prefix}_{}", file.rsplit('/').next().unwrap());
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn modeled_report_renders_the_same_bytes() {
    let files = [
        "report.md",
        "layers.csv",
        "batches.csv",
        "plots/cycles_per_layer.svg",
        "plots/energy_per_layer.svg",
    ];
    assert_files_match_snapshots(&modeled_report(), "modeled", &files);
}

#[test]
fn simulated_and_synthesized_report_renders_the_same_bytes() {
    let report = synthesized_and_simulated(modeled_report());
    let files = [
        "report.md",
        "layers.csv",
        "plots/cycles_per_layer.svg",
        "plots/area_per_module.svg",
    ];
    assert_files_match_snapshots(&report, "full", &files);
}
