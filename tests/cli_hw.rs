//! End-to-end tests of `tandem hwgen`, `tandem sim gemm` and
//! `tandem sim network` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn tandem(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .output()
        .expect("run tandem")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn preset(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("configs")
        .join(name)
        .display()
        .to_string()
}

fn last_json(output: &Output) -> serde_json::Value {
    let text = stdout(output);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {text}"))
}

fn random_model(dir: &Path, width: &str) {
    let made = tandem(&[
        "model",
        "random",
        "--topology",
        "alexnet-cifar",
        "--width",
        width,
        "--in-channels",
        "1",
        "--wbits",
        "4",
        "--abits",
        "4",
        "--seed",
        "1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", stderr(&made));
}

fn have_verilator() -> bool {
    let found = Command::new("verilator").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
    }
    found
}

#[test]
fn hwgen_writes_design_and_requant_images() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    random_model(&model, "0.125");
    let out = dir.path().join("hw");
    let run = tandem(&[
        "hwgen",
        "--hw",
        &preset("hw-16x16-w4a4.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let value = last_json(&run);
    assert_eq!(value["top"], "tandem_top");
    for file in [
        "tandem_top.v",
        "tandem_pe.v",
        "files.f",
        "synth.ys",
        "README.md",
        "hw.yaml",
        "conv1_bias.memh",
        "fc7_shift.memh",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    // Sized for the model: the 8-bit image input needs 8-bit activations.
    let top = std::fs::read_to_string(out.join("tandem_top.v")).unwrap();
    assert!(
        top.contains("a_bits=8"),
        "header does not show the sized config"
    );
    // The resolved config round-trips through the YAML loader.
    hwgen::HwConfig::from_yaml_file(out.join("hw.yaml")).unwrap();

    // Without a model the preset's RTL is what is checked into rtl/generated.
    let plain = dir.path().join("plain");
    let run = tandem(&[
        "hwgen",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--out",
        plain.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let checked_in =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rtl/generated/hw-8x8-w4a4/tandem_top.v");
    assert_eq!(
        std::fs::read_to_string(plain.join("tandem_top.v")).unwrap(),
        std::fs::read_to_string(checked_in).unwrap()
    );
}

#[test]
fn sim_gemm_json_reports_zero_mismatches() {
    if !have_verilator() {
        return;
    }
    let run = tandem(&[
        "sim",
        "gemm",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--random",
        "6",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let value = last_json(&run);
    assert_eq!(value["mismatches"], 0);
    assert_eq!(value["cases"], 6);
    assert!(value["cycles"].as_u64().unwrap() > 0);
    assert_eq!(value["cycles"], value["model_cycles"]);
}

#[test]
fn sim_network_json_on_real_images() {
    if !have_verilator() {
        return;
    }
    if !Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists() {
        eprintln!(
            "SKIPPED: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    random_model(&model, "0.125");
    let run = tandem(&[
        "sim",
        "network",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--images",
        "3",
        "--batch",
        "2",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let value = last_json(&run);
    assert_eq!(value["mismatches"], 0);
    assert_eq!(value["images"], 3);
    assert_eq!(value["batch"], 2);
    let layers = value["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 8);
    let mut total = 0;
    for layer in layers {
        assert_eq!(layer["cycles"], layer["model_cycles"], "{layer}");
        for key in ["name", "macs", "cycles", "model_cycles", "utilization"] {
            assert!(layer.get(key).is_some(), "layer lacks {key}");
        }
        total += layer["cycles"].as_u64().unwrap();
    }
    assert_eq!(value["total_cycles"].as_u64().unwrap(), total);
    assert!(total > 0);
}

#[test]
fn hardware_commands_reject_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "name: x\nrows: 0\n").unwrap();
    let out = dir.path().join("o");
    for args in [
        vec![
            "hwgen",
            "--hw",
            bad.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "hwgen",
            "--hw",
            "/nonexistent.yaml",
            "--out",
            out.to_str().unwrap(),
        ],
        vec![
            "sim",
            "gemm",
            "--hw",
            &preset("hw-8x8-w4a4.yaml"),
            "--random",
            "0",
        ],
        vec![
            "sim",
            "gemm",
            "--hw",
            &preset("hw-8x8-w4a4.yaml"),
            "--trace",
            "gif",
        ],
        vec![
            "sim",
            "network",
            "--hw",
            &preset("hw-8x8-w4a4.yaml"),
            "--model",
            "/nonexistent",
        ],
    ] {
        let run = tandem(&args);
        assert!(!run.status.success(), "{args:?} succeeded");
        let err = stderr(&run);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.trim().is_empty());
    }
    let run = tandem(&[
        "hwgen",
        "--hw",
        bad.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&run);
    assert!(err.contains("bad.yaml"), "{err}");
}
