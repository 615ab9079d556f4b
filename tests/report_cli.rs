//! End-to-end tests of `tandem report`: the files it writes, its --json
//! summary, and its errors for a bad energy table.

use std::path::Path;
use std::process::Command;

mod common;
use common::{stderr, tandem};

/// The 1/8-width alexnet-cifar `sim`'s network test uses (W4A4, 8-bit first
/// and last weights, seed 7), so the Verilator build is shared.
fn small_model(dir: &Path) {
    let made = tandem(&[
        "model",
        "random",
        "--topology",
        "alexnet-cifar",
        "--width",
        "0.125",
        "--in-channels",
        "1",
        "--wbits",
        "4",
        "--abits",
        "4",
        "--first-last-wbits",
        "8",
        "--seed",
        "7",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
}

/// An 8x8 array config, the one `sim`'s network test sizes for that model.
fn small_config(path: &Path) {
    std::fs::write(
        path,
        "name: test-8x8\nrows: 8\ncols: 8\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\n\
         acc_bits: auto\nmax_k: 64\nshift_bits: 5\nacc_depth: 64\nclock_mhz: 200\n",
    )
    .unwrap();
}

fn fashion_mnist_installed() -> bool {
    Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists()
}

#[test]
fn report_writes_every_file_and_ends_with_the_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let hw = dir.path().join("hw.yaml");
    let out = dir.path().join("report");
    small_model(&model);
    small_config(&hw);
    // One real image when the dataset and Verilator are there; otherwise
    // the modeled-only report.
    let images = if fashion_mnist_installed() && sim::verilator_available() {
        "1"
    } else {
        eprintln!(
            "SKIPPED simulation: fashion-mnist or verilator missing (make setup installs both)"
        );
        "0"
    };
    let output = tandem(&[
        "report",
        "--hw",
        hw.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--images",
        images,
        "--synth-flows",
        "generic",
        "--batch",
        "1,4",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary line")).unwrap();
    for key in [
        "images_per_s",
        "energy_per_image_uj",
        "tops_per_w",
        "cells",
        "luts",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}: {summary}");
    }
    assert!(summary["images_per_s"].as_f64().unwrap() > 0.0);
    let energy = &summary["energy_per_image_uj"];
    assert!(energy["low"].as_f64().unwrap() <= energy["typical"].as_f64().unwrap());
    assert!(energy["typical"].as_f64().unwrap() <= energy["high"].as_f64().unwrap());
    if images == "1" {
        assert_eq!(summary["mismatches"], 0);
        assert!(summary["images_per_s_basis"]
            .as_str()
            .unwrap()
            .starts_with("measured"));
    }
    // Generic synthesis only: cells but no LUTs.
    assert!(summary["luts"].is_null());
    let yosys = Command::new("yosys").arg("-V").output().is_ok();
    if yosys {
        assert!(summary["cells"].as_u64().unwrap() > 0);
        assert!(out.join("plots/area_per_module.svg").is_file());
    } else {
        eprintln!("SKIPPED synthesis: yosys is not on PATH");
    }
    for file in [
        "report.md",
        "report.json",
        "layers.csv",
        "batches.csv",
        "plots/cycles_per_layer.svg",
        "plots/energy_per_layer.svg",
        "rtl/tandem_top.v",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    let markdown = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(markdown.contains("energy-45nm"), "the table is named");
}

#[test]
fn a_bad_energy_table_is_refused_naming_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    small_model(&model);
    let table = dir.path().join("table.yaml");
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/configs/energy-45nm.yaml"
    ))
    .unwrap()
    .replace("high_pj: 2600", "high_pj: 26");
    std::fs::write(&table, text).unwrap();
    let output = tandem(&[
        "report",
        "--hw",
        concat!(env!("CARGO_MANIFEST_DIR"), "/configs/hw-8x8-w4a4.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--energy-table",
        table.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains(table.to_str().unwrap()), "{message}");
    assert!(
        message.contains("actions.dram.high_pj = 26: must be >= typical_pj"),
        "{message}"
    );
    assert!(!dir.path().join("out").exists(), "nothing written on error");
}

/// `--threads 2` simulates images on two instances at once and reports the
/// same measured figures as `--threads 1`; it says how many threads ran.
#[test]
fn report_on_two_threads_measures_what_one_thread_does() {
    if !(fashion_mnist_installed() && sim::verilator_available()) {
        eprintln!("SKIPPED: fashion-mnist or verilator missing (make setup installs both)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    let hw = dir.path().join("hw.yaml");
    small_model(&model);
    small_config(&hw);
    let run = |threads: &str| -> serde_json::Value {
        let out = dir.path().join(format!("report-{threads}"));
        let output = tandem(&[
            "report",
            "--hw",
            hw.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--images",
            "3",
            "--threads",
            threads,
            "--no-synth",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let summary: serde_json::Value =
            serde_json::from_str(stdout.lines().last().expect("a summary line")).unwrap();
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert_eq!(
            summary["simulation_threads"],
            threads.parse::<u64>().unwrap()
        );
        serde_json::json!({
            "layers": summary["layers"],
            "cycles_per_image": summary["cycles_per_image"],
            "mismatches": summary["mismatches"],
            "predictions": report["simulation"]["predictions"],
            "values_compared": report["simulation"]["values_compared"],
        })
    };
    let one = run("1");
    assert_eq!(one["mismatches"], 0);
    assert_eq!(run("2"), one);
}
