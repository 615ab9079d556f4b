//! End-to-end tests of the `tandem` binary: the commands a user types, their
//! output formats, and their errors on bad input.

use std::path::Path;
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

fn random_model(dir: &Path, extra: &[&str]) -> Output {
    let out = dir.to_str().unwrap();
    let mut args = vec![
        "model",
        "random",
        "--topology",
        "alexnet-cifar",
        "--width",
        "0.25",
        "--in-channels",
        "1",
        "--wbits",
        "4",
        "--abits",
        "4",
        "--seed",
        "1",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    tandem(&args)
}

fn fashion_mnist_installed() -> bool {
    Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists()
}

#[test]
fn random_inspect_eval_json() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("m");
    let made = random_model(&model_dir, &[]);
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(model_dir.join("model.yaml").exists());
    assert!(model_dir.join("model.safetensors").exists());

    let inspect = tandem(&["model", "inspect", model_dir.to_str().unwrap()]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let text = stdout(&inspect);
    for needle in ["conv1", "conv5", "fc7", "logits", "24x32x32", "221184"] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle}:\n{text}"
        );
    }

    let inspect_json = tandem(&["model", "inspect", model_dir.to_str().unwrap(), "--json"]);
    let value: serde_json::Value = serde_json::from_str(stdout(&inspect_json).trim()).unwrap();
    assert_eq!(value["layers"].as_array().unwrap().len(), 8);
    assert_eq!(value["layers"][0]["accumulator_bits"], 17);
    assert_eq!(value["total_macs"], 14_021_632);

    if !fashion_mnist_installed() {
        eprintln!(
            "skipping eval: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let eval = tandem(&[
        "eval",
        "--model",
        model_dir.to_str().unwrap(),
        "--limit",
        "200",
        "--json",
    ]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    let out = stdout(&eval);
    let last = out.lines().last().unwrap();
    let value: serde_json::Value = serde_json::from_str(last).unwrap();
    assert_eq!(value["images"], 200);
    let accuracy = value["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&accuracy));
    assert!(value["images_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn same_seed_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert!(random_model(&a, &[]).status.success());
    assert!(random_model(&b, &[]).status.success());
    for file in ["model.yaml", "model.safetensors"] {
        assert!(
            std::fs::read(a.join(file)).unwrap() == std::fs::read(b.join(file)).unwrap(),
            "{file} differs between two runs with the same seed"
        );
    }
}

/// Bad input: non-zero exit, one line naming the problem, no panic.
fn expect_failure(args: &[&str], needles: &[&str]) {
    let output = tandem(args);
    assert!(!output.status.success(), "{args:?} succeeded");
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "{args:?}: stderr `{err}` lacks `{needle}`"
        );
    }
}

#[test]
fn bad_input_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();
    expect_failure(
        &["model", "random", "--topology", "vgg", "--out", out],
        &["unknown topology `vgg`", "alexnet-cifar"],
    );
    expect_failure(
        &["model", "random", "--wbits", "17", "--out", out],
        &["w_bits = 17"],
    );
    expect_failure(
        &["model", "random", "--abits", "0", "--out", out],
        &["a_bits = 0"],
    );
    expect_failure(
        &["model", "random", "--width", "0", "--out", out],
        &["width"],
    );
    expect_failure(
        &[
            "model",
            "inspect",
            dir.path().join("missing").to_str().unwrap(),
        ],
        &["missing", "model directory"],
    );
    expect_failure(
        &["eval", "--model", out, "--dataset", "imagenet"],
        &["imagenet", "fashion-mnist"],
    );

    let model_dir = dir.path().join("m");
    assert!(random_model(&model_dir, &[]).status.success());
    let model = model_dir.to_str().unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    expect_failure(
        &[
            "eval",
            "--model",
            model,
            "--data-dir",
            empty.to_str().unwrap(),
        ],
        &[empty.to_str().unwrap()],
    );
    expect_failure(
        &[
            "eval",
            "--model",
            model,
            "--dataset",
            "cifar10",
            "--data-dir",
            empty.to_str().unwrap(),
        ],
        &["cifar"],
    );
    expect_failure(&["eval", "--model", model, "--limit", "0"], &["--limit"]);

    // A 3-channel model cannot run on 1-channel Fashion-MNIST.
    if fashion_mnist_installed() {
        let rgb = dir.path().join("rgb");
        let made = tandem(&[
            "model",
            "random",
            "--width",
            "0.125",
            "--in-channels",
            "3",
            "--out",
            rgb.to_str().unwrap(),
        ]);
        assert!(made.status.success());
        expect_failure(
            &["eval", "--model", rgb.to_str().unwrap(), "--limit", "5"],
            &["3x32x32", "--in-channels 1"],
        );
    }
}

#[test]
fn help_teaches() {
    let help = stdout(&tandem(&["--help"]));
    assert!(help.contains("tandem model random"), "{help}");
    let random_help = stdout(&tandem(&["model", "random", "--help"]));
    for needle in [
        "--topology",
        "--width",
        "--wbits",
        "--abits",
        "--seed",
        "--out",
    ] {
        assert!(random_help.contains(needle), "{random_help}");
    }
    let eval_help = stdout(&tandem(&["eval", "--help"]));
    for needle in ["--dataset", "--data-dir", "--limit", "--json"] {
        assert!(eval_help.contains(needle), "{eval_help}");
    }
}
