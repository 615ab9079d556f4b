//! End-to-end tests of `tandem hwgen`, `tandem sim gemm` and
//! `tandem sim network` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{have_verilator, last_json, preset, stderr, stdout, tandem};

fn random_model(dir: &Path, width: &str) {
    random_model_with(dir, width, &[]);
}

/// [`random_model`] with `extra` arguments (e.g. `--first-last-wbits 8`).
fn random_model_with(dir: &Path, width: &str, extra: &[&str]) {
    let mut args = vec![
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
    ];
    args.extend_from_slice(extra);
    let made = tandem(&args);
    assert!(made.status.success(), "{}", stderr(&made));
}

/// `tandem hwgen --hw HW --model MODEL --out OUT --json`, which must succeed:
/// the run and its JSON line.
fn hwgen_json(hw: &str, model: &Path, out: &Path) -> (Output, serde_json::Value) {
    let run = tandem(&[
        "hwgen",
        "--hw",
        hw,
        "--model",
        model.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let value = last_json(&run);
    (run, value)
}

#[test]
fn hwgen_writes_design_and_requant_images() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    random_model(&model, "0.125");
    // The preset without its widest-layer fields: resolution must add them.
    let native = dir.path().join("native.yaml");
    let without_layer_bits = |text: String| {
        text.lines()
            .filter(|line| !line.starts_with("max_in_bits") && !line.starts_with("max_w_bits"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(
        &native,
        without_layer_bits(std::fs::read_to_string(preset("hw-16x16-w4a4.yaml")).unwrap()),
    )
    .unwrap();
    let out = dir.path().join("hw");
    let (run, value) = hwgen_json(native.to_str().unwrap(), &model, &out);
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
    // Resolved for the model: the PEs stay 4-bit, and the 8-bit image input
    // widens the widest layer input (conv1 runs in passes); the JSON says so
    // (not only a note on stderr).
    let top = std::fs::read_to_string(out.join("tandem_top.v")).unwrap();
    assert!(
        top.contains("a_bits=4")
            && top.contains("max_in_bits=8")
            && top.contains("Changed: max_in_bits 4 -> 8 because layer conv1"),
        "the banner does not show the resolved config and its changes"
    );
    assert_eq!(value["hw"]["a_bits"], 4);
    assert_eq!(value["hw"]["max_in_bits"], 8);
    let changes = value["hw"]["changes"].as_array().unwrap();
    assert!(
        changes[0]
            .as_str()
            .unwrap()
            .starts_with("max_in_bits 4 -> 8 because layer conv1 takes 8-bit input activations (on 4-bit x 4-bit PEs: 2 passes)"),
        "{changes:?}"
    );
    assert!(stderr(&run).contains("note: hw-16x16-w4a4: max_in_bits 4 -> 8"));

    // `wide_operands: widen` keeps the old behaviour as an explicit choice.
    let widen = dir.path().join("widen.yaml");
    std::fs::write(
        &widen,
        std::fs::read_to_string(&native)
            .unwrap()
            .replace("wide_operands: slice", "wide_operands: widen"),
    )
    .unwrap();
    let (run, widened) = hwgen_json(widen.to_str().unwrap(), &model, &dir.path().join("wide"));
    assert_eq!(widened["hw"]["a_bits"], 8);
    assert_eq!(widened["hw"]["wide_operands"], "widen");
    assert!(stderr(&run).contains(
        "a_bits 4 -> 8 because layer conv1 takes 8-bit input activations (wide_operands: widen)"
    ));
    for key in [
        "rows",
        "cols",
        "w_bits",
        "acc_bits",
        "shift_bits",
        "acc_depth",
    ] {
        assert!(
            value["hw"][key].is_u64(),
            "hw.{key} missing: {}",
            value["hw"]
        );
    }
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
    // The same RTL; only the regenerate command in the banner names other paths.
    let body = |path: PathBuf| {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter(|line| !line.starts_with("//   tandem hwgen"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(body(plain.join("tandem_top.v")), body(checked_in));
}

#[test]
fn hwgen_widens_a_shift_field_the_model_needs_and_replaces_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m");
    random_model(&model, "0.125");
    let narrow = dir.path().join("narrow.yaml");
    std::fs::write(
        &narrow,
        std::fs::read_to_string(preset("hw-8x8-w4a4.yaml"))
            .unwrap()
            .replace("shift_bits: 5", "shift_bits: 2"),
    )
    .unwrap();
    let out = dir.path().join("hw");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("hw.yaml"), "# an earlier design\n").unwrap();
    std::fs::write(out.join("old_layer_shift.memh"), "ff\n").unwrap();
    let (_, value) = hwgen_json(narrow.to_str().unwrap(), &model, &out);
    let changes: Vec<&str> = value["hw"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let shift = changes
        .iter()
        .find(|c| c.starts_with("shift_bits 2 -> "))
        .expect("shift widened");
    assert!(
        shift.contains("because layer ") && shift.contains(" uses shift "),
        "{shift}"
    );
    let max_shift = (1u32 << value["hw"]["shift_bits"].as_u64().unwrap()) - 1;
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert_ne!(name, "old_layer_shift.memh", "a stale image survived");
        if name.ends_with("_shift.memh") {
            for line in std::fs::read_to_string(&path)
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("//"))
            {
                let shift = u32::from_str_radix(line, 16).unwrap();
                assert!(
                    shift <= max_shift,
                    "{name}: shift {shift} does not fit the field"
                );
            }
        }
    }
}

/// `tandem hwgen` of the 8x8 preset into `out`; must fail with `message`.
fn hwgen_refuses(out: &Path, message: &str) {
    let run = tandem(&[
        "hwgen",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!run.status.success());
    assert!(stderr(&run).contains(message), "{}", stderr(&run));
}

#[test]
fn hwgen_refuses_an_out_that_is_a_file_or_another_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain.txt");
    std::fs::write(&file, "x").unwrap();
    hwgen_refuses(&file, "is a file, not a directory");
    let notes = dir.path().join("notes");
    std::fs::create_dir(&notes).unwrap();
    std::fs::write(notes.join("keep.txt"), "mine").unwrap();
    hwgen_refuses(&notes, "not a tandem design directory");
    assert!(notes.join("keep.txt").is_file());
}

/// `tandem sim gemm --random 1` on the 8x8 preset with `--trace-out path`.
fn sim_gemm_traced(path: &Path) -> std::process::Output {
    tandem(&[
        "sim",
        "gemm",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--random",
        "1",
        "--trace-out",
        path.to_str().unwrap(),
    ])
}

#[test]
fn trace_out_implies_the_format_or_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let run = sim_gemm_traced(&dir.path().join("wave.txt"));
    assert_eq!(run.status.code(), Some(2), "{}", stderr(&run));
    assert!(stderr(&run).contains("--trace-out"), "{}", stderr(&run));
    if !have_verilator() {
        return;
    }
    let wave = dir.path().join("wave.vcd");
    let run = sim_gemm_traced(&wave);
    assert!(run.status.success(), "{}", stderr(&run));
    let text = std::fs::read_to_string(&wave).expect("the waveform was written");
    assert!(text.contains("$enddefinitions"), "not a VCD file");
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

/// A W4A4 model with 8-bit input and 8-bit first and last weights on the
/// 2-bit preset: the array stays 2-bit x 2-bit and every layer runs in
/// passes, bit-exact.
#[test]
fn sim_network_on_the_2_bit_preset_runs_every_layer_in_passes() {
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
    random_model_with(&model, "0.125", &["--first-last-wbits", "8"]);
    let run = tandem(&[
        "sim",
        "network",
        "--hw",
        &preset("hw-16x16-w2a2.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--images",
        "2",
        "--json",
    ]);
    assert!(run.status.success(), "{}", stderr(&run));
    let value = last_json(&run);
    assert_eq!(value["hw"]["a_bits"], 2);
    assert_eq!(value["hw"]["w_bits"], 2);
    assert_eq!(value["mismatches"], 0);
    let compute: Vec<&serde_json::Value> = value["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["on_rtl"] == true)
        .collect();
    assert_eq!(compute.len(), 7);
    for layer in &compute {
        assert!(layer["passes"].as_u64().unwrap() > 1, "{layer}");
        assert_eq!(layer["cycles"], layer["model_cycles"], "{layer}");
    }
    // conv1: 8-bit pixels x 8-bit weights on 2-bit PEs = 4 x 4 passes.
    assert_eq!(compute[0]["passes"], 16);
    assert!(stdout(&run).contains("passes"), "the table shows passes");
}

/// `--threads 2` splits the image groups over two verilated instances: the
/// JSON is the one-thread JSON but for the thread count and the seconds.
#[test]
fn sim_network_on_two_threads_equals_one_thread() {
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
    random_model(&model, "0.0625");
    let run = |threads: &str| {
        let run = tandem(&[
            "sim",
            "network",
            "--hw",
            &preset("hw-8x8-w4a4.yaml"),
            "--model",
            model.to_str().unwrap(),
            "--images",
            "5",
            "--batch",
            "2",
            "--threads",
            threads,
            "--json",
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        let mut value = last_json(&run);
        let object = value.as_object_mut().unwrap();
        assert!(object.remove("seconds").unwrap().as_f64().unwrap() > 0.0);
        let used = object.remove("threads").unwrap();
        assert_eq!(object.remove("threads_requested").unwrap(), used);
        (used, value)
    };
    let (one_used, one) = run("1");
    let (two_used, two) = run("2");
    assert_eq!((one_used, two_used), (1.into(), 2.into()));
    assert_eq!(one, two);
    assert_eq!(two["mismatches"], 0);
    let zero = tandem(&[
        "sim",
        "network",
        "--hw",
        &preset("hw-8x8-w4a4.yaml"),
        "--model",
        model.to_str().unwrap(),
        "--threads",
        "0",
    ]);
    assert_eq!(zero.status.code(), Some(2), "{}", stderr(&zero));
    assert!(stderr(&zero).contains("--threads must be at least 1"));
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
    assert_eq!(value["images_requested"], 3);
    assert_eq!(value["mismatches"], 0);
    assert_eq!(value["images"], 3);
    assert_eq!(value["batch"], 2);
    let layers = value["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 8);
    let mut total = 0;
    for layer in layers {
        assert_eq!(layer["cycles"], layer["model_cycles"], "{layer}");
        for key in [
            "name",
            "macs",
            "passes",
            "cycles",
            "model_cycles",
            "utilization",
        ] {
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
