//! A whole report for a small design: a random 1/8-width alexnet-cifar on
//! an 8x8 array (the design `sim`'s network test verilates, so the
//! Verilator build is shared through the cache), one image simulated,
//! synthesized when yosys is installed, written to a directory.

mod common;

use common::small_design;
use report::{build_report, EnergyTable, ReportInputs, SynthOptions};
use std::path::PathBuf;

fn image() -> Vec<i32> {
    (0..1024)
        .map(|i: i32| ((i / 32 * 40) + (i % 32) * 2) % 256)
        .collect()
}

#[test]
fn small_design_report_end_to_end() {
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let images = vec![image()];
    let yosys = report::synth::yosys_version(std::path::Path::new("yosys"));
    if let Err(why) = &yosys {
        eprintln!("SKIPPED synthesis: {why}");
    }
    if !sim::verilator_available() {
        eprintln!("SKIPPED simulation: verilator is not on PATH (make test installs it)");
    }
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.images = &images;
    inputs.image_source = "one synthetic image".into();
    inputs.test_set_images = Some(10_000);
    inputs.batch_sizes = vec![1, 4];
    let report = build_report(&inputs).unwrap();

    // Resolved for the model: the PEs stay 4-bit x 4-bit and serve the
    // 8-bit image bytes and 8-bit first and last weights in passes.
    assert!(!report.design.hw.changes.is_empty());
    assert_eq!(
        (report.design.config.a_bits, report.design.config.w_bits),
        (4, 4)
    );
    assert_eq!(
        (report.design.hw.max_in_bits, report.design.hw.max_w_bits),
        (8, 8)
    );
    assert_eq!(report.layers.len(), 7);
    let passes: Vec<u32> = report.layers.iter().map(|l| l.passes).collect();
    assert_eq!(
        passes,
        [4, 1, 1, 1, 1, 1, 2],
        "conv1 8x8 bits, fc3 4x8 bits"
    );
    for layer in &report.layers {
        assert_eq!(layer.activity.passes.count(), layer.passes);
        assert!(layer.cycles_modeled >= layer.cycles_one_pass);
        assert_eq!(
            layer.cycles_modeled == layer.cycles_one_pass,
            layer.passes == 1,
            "{}",
            layer.name
        );
    }
    let cost = &report.slice_passes;
    assert_eq!((cost.layers_in_passes, cost.max_passes), (2, 4));
    assert_eq!(
        cost.extra_cycles,
        report
            .layers
            .iter()
            .map(|l| l.cycles_modeled - l.cycles_one_pass)
            .sum::<u64>()
    );
    assert_eq!(
        cost.cycles as f64,
        report.batch1().throughput.cycles_per_image
    );
    assert!(cost.share > 0.0 && cost.share < 1.0);
    assert!(
        !report.notes.iter().any(|n| n.contains("passes on the RTL")),
        "{:?}",
        report.notes
    );
    assert_eq!(
        report.layers.iter().map(|l| l.macs).sum::<u64>(),
        model.total_macs()
    );
    if sim::verilator_available() {
        let simulation = report.simulation.as_ref().unwrap();
        assert_eq!(simulation.mismatches, 0);
        assert!(simulation.cycles_match_formula);
        let measured = report.measured.as_ref().unwrap();
        assert!(measured.basis.starts_with("measured"));
        assert_eq!(
            measured.cycles_per_image,
            report.batch1().throughput.cycles_per_image
        );
        for layer in &report.layers {
            assert_eq!(layer.cycles_measured, Some(layer.cycles_modeled as f64));
        }
    }
    // Modeled batches: batch 1 and 4; batching never slows an image down.
    assert_eq!(report.batches.len(), 2);
    let (one, four) = (&report.batches[0], &report.batches[1]);
    assert!(one.throughput.basis.starts_with("modeled"));
    assert!(four.throughput.images_per_s >= one.throughput.images_per_s);
    assert!(four.energy.per_image_uj.typical < one.energy.per_image_uj.typical);
    let energy = &one.energy;
    assert!(energy.per_image_uj.low < energy.per_image_uj.typical);
    assert!(energy.per_image_uj.typical < energy.per_image_uj.high);
    assert!(energy.tops_per_w.typical > 0.0);
    assert_eq!(one.test_set.as_ref().unwrap().images, 10_000);

    match &yosys {
        Ok(_) => {
            assert_eq!(report.area.status, "synthesized");
            assert!(
                report.area.flows.iter().all(|f| f.ok()),
                "{:?}",
                report.area.message
            );
            let summary = &report.area.summary;
            assert!(summary.cells.unwrap() > 0);
            assert!(summary.luts.unwrap() > 0);
            assert!(summary.ice40_lut4.unwrap() > 0);
            assert_eq!(summary.dsps, Some(64), "one DSP48 per PE");
            assert!(summary.per_pe.cells.unwrap() > 10.0);
            let generic = &report.area.flows[0];
            let pe = generic.module("tandem_pe").unwrap();
            assert_eq!(pe.instances, 64);
            assert_eq!(generic.module("tandem_acc_bank").unwrap().instances, 8);
        }
        Err(_) => assert_eq!(report.area.status, "unavailable"),
    }

    let dir = tempfile::tempdir().unwrap();
    let written = report.write_dir(dir.path()).unwrap();
    for file in [
        "report.md",
        "report.json",
        "layers.csv",
        "batches.csv",
        "plots/cycles_per_layer.svg",
        "plots/energy_per_layer.svg",
        "rtl/tandem_top.v",
    ] {
        let path = dir.path().join(file);
        assert!(written.contains(&path), "{file} not written");
        assert!(std::fs::metadata(&path).unwrap().len() > 0, "{file} empty");
    }
    if yosys.is_ok() {
        for file in [
            "plots/area_per_module.svg",
            "synth/generic.ys",
            "synth/xilinx-stat.json",
        ] {
            assert!(dir.path().join(file).is_file(), "{file}");
        }
    }
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    for needle in [
        "## Summary",
        "modeled",
        "uJ",
        "TOPS/W",
        "## Assumptions",
        "horowitz2014",
    ] {
        assert!(markdown.contains(needle), "report.md lacks {needle}");
    }
    if sim::verilator_available() {
        assert!(markdown.contains("| measured |"));
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["layers"].as_array().unwrap().len(), 7);
    assert!(
        json["batches"][0]["energy"]["per_image_uj"]["typical"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let csv = std::fs::read_to_string(dir.path().join("layers.csv")).unwrap();
    assert_eq!(csv.lines().count(), 8, "header + one line per layer");
    let svg = std::fs::read_to_string(dir.path().join("plots/energy_per_layer.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<text") && svg.contains("dram"));

    let summary = report.summary();
    for key in [
        "images_per_s",
        "energy_per_image_uj",
        "tops_per_w",
        "cells",
        "luts",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}");
    }
    for corner in ["low", "typical", "high"] {
        assert!(summary["energy_per_image_uj"][corner].as_f64().unwrap() > 0.0);
    }
    // Per layer: passes next to the measured and modeled cycles.
    let layers = summary["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 7);
    for (row, layer) in layers.iter().zip(&report.layers) {
        assert_eq!(row["name"], layer.name.as_str());
        assert_eq!(row["passes"].as_u64(), Some(u64::from(layer.passes)));
        assert_eq!(row["model_cycles"].as_u64(), Some(layer.cycles_modeled));
        assert_eq!(row["cycles"].as_f64(), layer.cycles_measured);
    }
    assert_eq!(
        summary["slice_passes"]["extra_cycles"].as_u64(),
        Some(report.slice_passes.extra_cycles)
    );
    assert_eq!(json["layers"][0]["passes"].as_u64(), Some(4));
}

#[test]
fn without_images_or_yosys_the_report_is_modeled_and_says_so() {
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.synthesis = Some(SynthOptions {
        yosys: PathBuf::from("/nonexistent/yosys"),
        ..SynthOptions::default()
    });
    let report = build_report(&inputs).unwrap();
    assert!(report.simulation.is_none() && report.measured.is_none());
    assert_eq!(report.area.status, "unavailable");
    let message = report.area.message.clone().unwrap();
    assert!(
        message.contains("/nonexistent/yosys") && message.contains("--no-synth"),
        "{message}"
    );
    assert!(report.summary()["images_per_s_basis"]
        .as_str()
        .unwrap()
        .starts_with("modeled"));
    assert!(report.summary()["cells"].is_null());

    inputs.synthesis = None;
    let skipped = build_report(&inputs).unwrap();
    assert_eq!(skipped.area.status, "skipped");
    let dir = tempfile::tempdir().unwrap();
    skipped.write_dir(dir.path()).unwrap();
    assert!(!dir.path().join("plots/area_per_module.svg").exists());
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(markdown.contains("--no-synth"), "{markdown}");
    assert!(markdown.contains("| modeled |"));
}

#[test]
fn images_of_the_wrong_size_are_refused() {
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let images = vec![vec![0; 10]];
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.images = &images;
    inputs.synthesis = None;
    let error = build_report(&inputs).unwrap_err().to_string();
    assert!(error.contains("image 0 has 10 values"), "{error}");
}
