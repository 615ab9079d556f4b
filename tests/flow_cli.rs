//! `tandem flow` end to end with a tiny configuration: train (a few hundred
//! images), export, hwgen, the RTL in Verilator against golden, the report
//! (synthesis off), and the summary pointing at every artifact.

use std::path::Path;
use std::process::Command;

#[test]
fn tiny_flow_runs_end_to_end() {
    if !Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists() {
        eprintln!(
            "SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    if Command::new("verilator").arg("--version").output().is_err() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    let train = dir.path().join("train.yaml");
    std::fs::write(
        &train,
        "preset: quick\nwidth: 0.0625\ntrain_limit: 400\ntest_limit: 100\nbatch_size: 50\nteacher:\n  epochs: 2\nstudent:\n  stage_images: 100\n  finetune_images: 100\n  calibration_images: 64\n",
    )
    .unwrap();
    // A config that already fits the model (8-bit operands, K up to 9216):
    // the design is used as written, and the report must still describe the
    // very RTL in hw/ (it once described the unresolved config instead).
    let hw = dir.path().join("hw-8x8-w8a8.yaml");
    std::fs::write(
        &hw,
        std::fs::read_to_string(format!("{root}/configs/hw-8x8-w4a4.yaml"))
            .unwrap()
            .replace("name: hw-8x8-w4a4", "name: hw-8x8-w8a8")
            .replace("a_bits: 4", "a_bits: 8")
            .replace("w_bits: 4", "w_bits: 8"),
    )
    .unwrap();
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        format!(
            "train: {}\nhw: {}\nsim_images: 2\nreport_images: 1\nsynth: false\n",
            train.display(),
            hw.display()
        ),
    )
    .unwrap();
    let out = dir.path().join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "flow",
            "--config",
            flow.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "flow failed: {}\n{stdout}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap()).expect("JSON summary");
    assert_eq!(summary["logit_mismatches"], 0);
    assert_eq!(summary["rtl_mismatches"], 0);
    assert_eq!(summary["rtl_images"], 2);
    assert!(summary["student_accuracy"].as_f64().unwrap() > 0.0);
    // The training config names no method: the flow takes the best measured
    // one for W4A4 and says so.
    let best = trainer::method::best_for(4, 4);
    assert_eq!(summary["method"], best.method.name(), "{summary}");
    let reason = summary["method_reason"].as_str().unwrap();
    assert!(reason.contains("best measured at W4A4"), "{reason}");
    for layer in summary["layers"].as_array().unwrap() {
        assert_eq!(layer["cycles"], layer["model_cycles"], "{layer}");
        // 8-bit PEs: every compute layer fits in one pass.
        let passes = if layer["on_rtl"] == true { 1 } else { 0 };
        assert_eq!(layer["passes"], passes, "{layer}");
    }
    for artifact in ["model", "rtl", "sim", "report"] {
        let path = summary["artifacts"][artifact].as_str().unwrap();
        assert!(Path::new(path).exists(), "{artifact} missing at {path}");
    }
    assert!(out.join("flow.json").is_file());
    assert!(out.join("hw/tandem_top.v").is_file());
    golden::io::load(&out.join("train/model")).unwrap();

    // One design everywhere: no changes were needed, and sim.json, the
    // report and hw/ all describe it.
    assert_eq!(
        summary["hw"]["changes"].as_array().unwrap().len(),
        0,
        "{}",
        summary["hw"]
    );
    assert_eq!(summary["hw"]["a_bits"], 8);
    let sim: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sim.json")).unwrap()).unwrap();
    assert_eq!(sim["hw"], summary["hw"]);
    assert_eq!(summary["report"]["hw"], summary["hw"]);
    assert_same_files(&out.join("hw"), &out.join("report/rtl"));
}

/// `a` and `b` hold the same file names with the same bytes.
fn assert_same_files(a: &Path, b: &Path) {
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        names(a),
        names(b),
        "{} and {} list different files",
        a.display(),
        b.display()
    );
    assert!(names(a).iter().any(|n| n.ends_with("_shift.memh")));
    for name in names(a) {
        assert_eq!(
            std::fs::read(a.join(&name)).unwrap(),
            std::fs::read(b.join(&name)).unwrap(),
            "{name} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}
