//! End-to-end tests of `tandem sweep` with the local executor: a tiny
//! hardware-only spec, its files and binding JSON keys, a failing point
//! that does not stop the others, and reuse on a second run.

use std::path::Path;

mod common;
use common::{last_json, stderr, tandem};

fn ready() -> bool {
    let data = Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists();
    if !(data && sim::verilator_available()) {
        eprintln!("SKIPPED: fashion-mnist or verilator missing (make setup installs both)");
        return false;
    }
    true
}

/// `tandem sweep --config SPEC --out OUT` with `extra` arguments.
fn sweep(spec: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        "--config",
        spec.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    tandem(&args)
}

/// A JSON file the sweep wrote.
fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One pair x three arrays x two batch sizes; the third array asks for
/// 17-bit PEs, which the design refuses, so its points fail.
fn tiny_spec(dir: &Path) -> std::path::PathBuf {
    let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hw-8x8-w4a4.yaml");
    let spec = dir.join("tiny.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: tiny\n\
             models: {{ source: random, topology: alexnet-cifar, width: 0.125, in_channels: 1, seed: 3, dataset: fashion-mnist }}\n\
             bits: [ {{ wbits: 4, abits: 4, first_last_wbits: 8 }} ]\n\
             arrays: [ {{ rows: 4, cols: 4 }}, {{ rows: 8, cols: 8 }}, {{ rows: 4, cols: 4, a_bits: 17 }} ]\n\
             hw_base: {}\n\
             batch: [1, 4]\n\
             sim_images: 1\n\
             accuracy_images: 200\n",
            hw.display()
        ),
    )
    .unwrap();
    spec
}

const KEYS: [&str; 20] = [
    "label",
    "wbits",
    "abits",
    "first_last_wbits",
    "rows",
    "cols",
    "batch",
    "accuracy",
    "method",
    "mismatches",
    "cycles_per_image",
    "images_per_s",
    "utilization",
    "energy_per_image_uj",
    "cells",
    "luts",
    "dsps",
    "area_mm2_estimate",
    "seconds",
    "images_per_s_basis",
];

#[test]
fn a_tiny_sweep_writes_every_point_records_failures_and_reuses_results() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny_spec(dir.path());
    let out = dir.path().join("out");
    let run = || sweep(&spec, &out, &["--json"]);
    let first = run();
    let first_log = stderr(&first);
    // One array fails, so the sweep exits 1 after writing everything else.
    assert_eq!(first.status.code(), Some(1), "{first_log}");
    assert!(
        first_log.contains("w4a4f8-4x4-pe17x4-b1"),
        "the failed points are listed: {first_log}"
    );
    let summary = last_json(&first);
    assert_eq!(summary["points"], 4, "{summary}");
    assert_eq!(summary["failed"].as_array().unwrap().len(), 2, "{summary}");
    assert!(
        !summary["pareto"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    for file in [
        "sweep.json",
        "sweep.csv",
        "sweep.md",
        "plots/accuracy_vs_energy.svg",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // Every row has the header's columns; a random model has no method.
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.ends_with(",seconds,method"), "{header}");
    let columns = header.split(',').count();
    for row in csv.lines().skip(1) {
        // Commas outside the quoted basis field separate the columns.
        let mut quoted = false;
        let separators = row
            .chars()
            .filter(|&c| {
                quoted ^= c == '"';
                c == ',' && !quoted
            })
            .count();
        assert_eq!(separators + 1, columns, "{row}");
        assert!(
            row.ends_with(','),
            "a random model's method is empty: {row}"
        );
    }
    for label in [
        "w4a4f8-4x4-b1",
        "w4a4f8-4x4-b4",
        "w4a4f8-8x8-b1",
        "w4a4f8-8x8-b4",
    ] {
        let point = read_json(&out.join(format!("points/{label}.json")));
        for key in KEYS {
            assert!(point.get(key).is_some(), "{label} lacks {key}: {point}");
        }
        assert_eq!(point["label"], label);
        assert_eq!(point["mismatches"], 0);
        assert_eq!(point["first_last_wbits"], 8);
        let energy = &point["energy_per_image_uj"];
        let (low, typical, high) = (
            energy["low"].as_f64().unwrap(),
            energy["typical"].as_f64().unwrap(),
            energy["high"].as_f64().unwrap(),
        );
        assert!(0.0 < low && low <= typical && typical <= high, "{energy}");
        let accuracy = point["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&accuracy));
        assert!(point["cycles_per_image"].as_f64().unwrap() > 0.0);
    }
    // Batch 1 is measured on the RTL, batch 4 modeled; batching cannot
    // make an image cost more cycles.
    let read = |label: &str| read_json(&out.join(format!("points/{label}.json")));
    let (b1, b4) = (read("w4a4f8-8x8-b1"), read("w4a4f8-8x8-b4"));
    assert!(
        b1["images_per_s_basis"]
            .as_str()
            .unwrap()
            .starts_with("measured"),
        "{b1}"
    );
    assert!(b4["cycles_per_image"].as_f64().unwrap() <= b1["cycles_per_image"].as_f64().unwrap());

    // Again: the model and both good hardware jobs are reused, the failed
    // one runs again (and fails again); the points are the same.
    let second = run();
    let second_log = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{second_log}");
    assert_eq!(second_log.matches(": reused").count(), 3, "{second_log}");
    let again = read("w4a4f8-8x8-b1");
    assert_eq!(again, b1);
}

#[test]
fn a_spec_error_names_the_file_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(
        &spec,
        "name: bad\nmodels: { source: random, topology: alexnet-cifar, width: 0.125, in_channels: 1, dataset: fashion-mnist }\n\
         bits: []\narrays: [ { rows: 4, cols: 4 } ]\nhw_base: configs/hw-8x8-w4a4.yaml\n",
    )
    .unwrap();
    let output = tandem(&[
        "sweep",
        "--config",
        spec.to_str().unwrap(),
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    let stderr = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("bits"),
        "{stderr}"
    );
    let missing = tandem(&["sweep", "--out", "x"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// Synthetic images: the hardware is measured, accuracy is not defined, and
/// no accuracy front is drawn.
#[test]
fn a_synthetic_sweep_measures_hardware_and_scores_nothing() {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator missing (make setup installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hw-8x8-w4a4.yaml");
    let spec = dir.path().join("synthetic.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: synthetic\n\
             models: {{ source: random, topology: alexnet-cifar, width: 0.125, in_channels: 3, seed: 3, dataset: synthetic }}\n\
             bits: [ {{ wbits: 4, abits: 4, first_last_wbits: 8 }} ]\n\
             arrays: [ {{ rows: 4, cols: 4 }} ]\n\
             hw_base: {}\n\
             sim_images: 1\n",
            hw.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = sweep(&spec, &out, &["--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = last_json(&output);
    assert_eq!(summary["points"], 1);
    assert!(
        summary["pareto"].as_array().unwrap().is_empty(),
        "no accuracy, no accuracy front: {summary}"
    );
    let point = read_json(&out.join("points/w4a4f8-4x4-b1.json"));
    assert!(point["accuracy"].is_null(), "{point}");
    assert_eq!(point["mismatches"], 0);
    assert!(point["cycles_per_image"].as_f64().unwrap() > 0.0);
    let report =
        std::fs::read_to_string(point["report_dir"].as_str().unwrap().to_string() + "/report.md")
            .unwrap();
    assert!(
        report.contains("synthetic"),
        "the report names the images as synthetic"
    );
}

/// A trained sweep whose training config sets no method trains each
/// student by the best method measured at its bits, and says so in the
/// progress line, the point, the CSV, the job record and the page.
#[test]
fn a_trained_sweep_says_which_method_trained_each_student() {
    if !ready() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Seconds of training: 1/16 width, 200 images, one-batch stages.
    let train = dir.path().join("train-tiny.yaml");
    std::fs::write(
        &train,
        "width: 0.0625\ntrain_limit: 200\ntest_limit: 100\nbatch_size: 50\n\
         teacher: { epochs: 1 }\n\
         student: { stage_images: 50, finetune_images: 50, calibration_images: 32 }\n",
    )
    .unwrap();
    let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hw-8x8-w4a4.yaml");
    let spec = dir.path().join("trained.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: trained\n\
             models: {{ source: trained, train: {} }}\n\
             bits: [ {{ wbits: 2, abits: 2, first_last_wbits: 8 }} ]\n\
             arrays: [ {{ rows: 4, cols: 4 }} ]\n\
             hw_base: {}\n\
             sim_images: 1\n",
            train.display(),
            hw.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let output = sweep(&spec, &out, &[]);
    let stderr = stderr(&output);
    assert!(output.status.success(), "{stderr}");

    let best = trainer::method::best_for(2, 2);
    let method = best.method.name();
    assert!(
        stderr.contains(&format!("trained by {best}")),
        "the done line names the method and why: {stderr}"
    );
    let point = read_json(&out.join("points/w2a2f8-4x4-b1.json"));
    assert_eq!(point["method"], method, "{point}");
    assert_eq!(point["mismatches"], 0, "{point}");
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    let row = csv.lines().nth(1).expect("one point");
    assert!(row.ends_with(&format!(",{method}")), "{row}");
    let record = read_json(&out.join("jobs/model-w2a2f8/result.json")).to_string();
    assert!(record.contains(&format!("{best}")), "{record}");
    let page = std::fs::read_to_string(out.join("sweep.md")).unwrap();
    assert!(page.contains(&format!("% ({method})")), "{page}");
}
