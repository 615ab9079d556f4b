//! End-to-end tests of the `tandem` binary: the commands a user types, their
//! output formats, and their errors on bad input.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{last_json, stderr, stdout, tandem};

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

/// A Fashion-MNIST-shaped test split of `images` 28x28 images (uncompressed IDX).
fn fake_fashion_mnist(dir: &Path, images: u32) {
    std::fs::create_dir_all(dir).unwrap();
    let mut pixels = vec![0, 0, 8, 3];
    for value in [images, 28, 28] {
        pixels.extend_from_slice(&value.to_be_bytes());
    }
    pixels.extend((0..images * 28 * 28).map(|i| (i % 251) as u8));
    let mut labels = vec![0, 0, 8, 1];
    labels.extend_from_slice(&images.to_be_bytes());
    labels.extend((0..images).map(|i| (i % 10) as u8));
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), pixels).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), labels).unwrap();
}

/// A CIFAR-10 test batch of `images` records (label, then 3x32x32 pixels).
fn fake_cifar10(dir: &Path, images: usize) {
    std::fs::create_dir_all(dir).unwrap();
    let mut records = Vec::new();
    for i in 0..images {
        records.push((i % 10) as u8);
        records.extend((0..3 * 32 * 32).map(|p| ((p + i) % 253) as u8));
    }
    std::fs::write(dir.join("test_batch.bin"), records).unwrap();
}

/// Records `dataset` in the provenance of the model in `dir`, as `tandem
/// train` does (`tandem model random` records none).
fn set_provenance_dataset(dir: &Path, dataset: &str) {
    let path = dir.join("model.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    assert!(!yaml.contains("  dataset:"), "{yaml}");
    let yaml = yaml.replacen(
        "provenance:\n",
        &format!("provenance:\n  dataset: {dataset}\n"),
        1,
    );
    std::fs::write(&path, yaml).unwrap();
}

/// A random grey model (`model`) and a fake Fashion-MNIST test split of
/// `images` images (`data`) in a temporary directory.
struct GreyFixture {
    _dir: tempfile::TempDir,
    model_dir: std::path::PathBuf,
    model: String,
    data: String,
}

fn grey_fixture(images: u32) -> GreyFixture {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("m");
    let made = random_model(&model_dir, &[]);
    assert!(made.status.success(), "{}", stderr(&made));
    let data = dir.path().join("data");
    fake_fashion_mnist(&data, images);
    GreyFixture {
        model: model_dir.to_str().unwrap().to_string(),
        data: data.to_str().unwrap().to_string(),
        model_dir,
        _dir: dir,
    }
}

/// `tandem eval --json` of the fixture's model on its data, plus `extra`.
fn eval_fixture(fixture: &GreyFixture, extra: &[&str]) -> Output {
    let mut args = vec![
        "eval",
        "--model",
        &fixture.model,
        "--data-dir",
        &fixture.data,
        "--json",
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
    let made = random_model(&model_dir, &["--json"]);
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(model_dir.join("model.yaml").exists());
    assert!(model_dir.join("model.safetensors").exists());
    // --json keeps the human text and ends stdout with one JSON line.
    assert!(
        stdout(&made).starts_with("wrote random-alexnet-cifar"),
        "{}",
        stdout(&made)
    );
    assert_eq!(last_json(&made)["total_macs"], 14_021_632);

    let model = model_dir.to_str().unwrap();
    let inspect = tandem(&["model", "inspect", "--model", model]);
    assert!(inspect.status.success(), "{}", stderr(&inspect));
    let text = stdout(&inspect);
    for needle in ["conv1", "conv5", "fc7", "logits", "24x32x32", "221184"] {
        assert!(
            text.contains(needle),
            "inspect output lacks {needle}:\n{text}"
        );
    }
    // The positional directory still works and prints the same.
    let positional = tandem(&["model", "inspect", model]);
    assert_eq!(stdout(&positional), text);

    let inspect_json = tandem(&["model", "inspect", "--model", model, "--json"]);
    assert!(
        stdout(&inspect_json).starts_with(&text),
        "{}",
        stdout(&inspect_json)
    );
    let value = last_json(&inspect_json);
    assert_eq!(value["layers"].as_array().unwrap().len(), 8);
    assert_eq!(value["layers"][0]["accumulator_bits"], 17);
    assert_eq!(value["total_macs"], 14_021_632);

    if !fashion_mnist_installed() {
        eprintln!(
            "skipping eval: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let eval = tandem(&["eval", "--model", model, "--images", "200", "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(stdout(&eval).contains("correct on the fashion-mnist test split"));
    let value = last_json(&eval);
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
        // A grey model on colour images: named before any file is looked for.
        &["cifar10 images are 3x32x32; pass --dataset fashion-mnist or --dataset mnist"],
    );
    expect_failure(
        &["eval", "--model", model, "--images", "0"],
        &["--images 0"],
    );
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
    for needle in [
        "--dataset",
        "--data-dir",
        "--images",
        "--json",
        "Example:",
        "tandem eval --model",
    ] {
        assert!(eval_help.contains(needle), "{eval_help}");
    }
    let inspect_help = stdout(&tandem(&["model", "inspect", "--help"]));
    for needle in ["--model", "Example:", "tandem model inspect --model"] {
        assert!(inspect_help.contains(needle), "{inspect_help}");
    }
}

#[test]
fn help_documents_exit_codes_and_the_json_rule() {
    let help = stdout(&tandem(&["--help"]));
    for needle in [
        "Exit status:",
        "0  success",
        "1  error",
        "2  usage error",
        "stdout ends with one JSON line",
        "closed pipe",
    ] {
        assert!(help.contains(needle), "--help lacks `{needle}`:\n{help}");
    }
}

fn exit_code(args: &[&str]) -> (Option<i32>, String) {
    let output = tandem(args);
    let err = stderr(&output);
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
    (output.status.code(), err)
}

#[test]
fn usage_errors_exit_2_other_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("m");
    assert!(random_model(&model_dir, &[]).status.success());
    let model = model_dir.to_str().unwrap();
    let missing = dir.path().join("missing");
    let missing = missing.to_str().unwrap();
    let out = dir.path().join("x");
    let out = out.to_str().unwrap();

    let usage: &[(&[&str], &str)] = &[
        (&["eval", "--model", model, "--images", "0"], "--images 0"),
        (&["eval", "--model", model, "--limit", "0"], "--images 0"),
        (&["eval", "--model", model, "--threads", "0"], "--threads 0"),
        (
            &["eval", "--model", model, "--dataset", "imagenet"],
            "invalid --dataset",
        ),
        (
            &["model", "random", "--topology", "vgg", "--out", out],
            "--topology",
        ),
        (
            &["model", "random", "--wbits", "17", "--out", out],
            "w_bits = 17",
        ),
        // clap's own parse errors.
        (
            &["eval", "--model", model, "--images", "many"],
            "invalid value",
        ),
        (&["model", "inspect"], "required"),
        (
            &["model", "inspect", model, "--model", model],
            "cannot be used with",
        ),
    ];
    for (args, needle) in usage {
        let (code, err) = exit_code(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: `{err}` lacks `{needle}`");
    }
    for args in [
        &["model", "inspect", "--model", missing][..],
        &["eval", "--model", missing][..],
    ] {
        let (code, err) = exit_code(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
}

#[test]
fn each_cause_is_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    let model_dir = dir.path().join("m");
    assert!(random_model(&model_dir, &[]).status.success());
    // A model directory missing its tensor file: the library's error names
    // the file and carries the OS error as its source.
    std::fs::remove_file(model_dir.join("model.safetensors")).unwrap();
    let not_found = std::io::Error::from_raw_os_error(2).to_string();
    let (code, err) = exit_code(&["model", "inspect", "--model", model_dir.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("model.safetensors"), "{err}");
    assert_eq!(err.matches(&not_found).count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    let hw = dir.path().join("no-such-hw.yaml");
    let out = dir.path().join("hw");
    let (code, err) = exit_code(&[
        "hwgen",
        "--hw",
        hw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no-such-hw.yaml"), "{err}");
    assert_eq!(err.matches(&not_found).count(), 1, "{err}");
}

/// Runs `args` with stdout a pipe whose reader reads at most one line and
/// leaves; the command must end quietly (status 0, or stopped by SIGPIPE).
fn assert_quiet_on_closed_pipe(args: &[&str], read_first_line: bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tandem");
    let reader = child.stdout.take().unwrap();
    if read_first_line {
        let mut line = String::new();
        BufReader::new(reader).read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "{args:?} printed nothing");
    } else {
        // Closed before the command has loaded anything: its first print
        // meets a closed pipe.
        drop(reader);
    }
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    for needle in ["panicked", "Broken pipe", "error"] {
        assert!(
            !err.contains(needle),
            "{args:?}: stderr has `{needle}`: {err}"
        );
    }
    let status = output.status;
    assert!(
        status.success() || status.signal() == Some(13),
        "{args:?}: {status:?}: {err}"
    );
}

#[test]
fn closed_pipe_ends_quietly() {
    let fixture = grey_fixture(20);
    let (model, data) = (fixture.model.as_str(), fixture.data.as_str());
    for read_first_line in [false, true] {
        assert_quiet_on_closed_pipe(&["model", "inspect", "--model", model], read_first_line);
        assert_quiet_on_closed_pipe(
            &["model", "inspect", "--model", model, "--json"],
            read_first_line,
        );
        assert_quiet_on_closed_pipe(
            &["eval", "--model", model, "--data-dir", data, "--json"],
            read_first_line,
        );
    }
}

#[test]
fn eval_takes_images_and_says_when_the_split_is_smaller() {
    let fixture = grey_fixture(12);
    let some = eval_fixture(&fixture, &["--images", "5"]);
    assert!(some.status.success(), "{}", stderr(&some));
    assert_eq!(last_json(&some)["images"], 5);
    assert!(!stderr(&some).contains("note:"), "{}", stderr(&some));
    // --limit is the older name of --images.
    let limit = eval_fixture(&fixture, &["--limit", "5"]);
    assert_eq!(last_json(&limit)["images"], 5);

    let many = eval_fixture(&fixture, &["--images", "999999"]);
    assert!(many.status.success(), "{}", stderr(&many));
    let err = stderr(&many);
    assert!(
        err.contains(
            "note: --images 999999 asks for more than the 12 test images of fashion-mnist; using all 12"
        ),
        "{err}"
    );
    let value = last_json(&many);
    assert_eq!(value["images"], 12);
    assert_eq!(value["images_requested"], 999_999);
}

#[test]
fn progress_goes_to_stderr_as_plain_lines_without_a_terminal() {
    let eval = eval_fixture(&grey_fixture(7), &[]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    // Test runs have stderr piped: the last progress line, even with --json.
    let err = stderr(&eval);
    assert!(
        err.lines()
            .any(|l| l.starts_with("golden inference: images 7/7 (100.0%),")
                && l.contains("done in")),
        "{err}"
    );
    assert!(
        !stdout(&eval).contains("golden inference"),
        "{}",
        stdout(&eval)
    );
}

#[test]
fn dataset_defaults_to_the_model_provenance() {
    let dir = tempfile::tempdir().unwrap();
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
    assert!(made.status.success(), "{}", stderr(&made));
    let rgb = rgb.to_str().unwrap();
    let cifar = dir.path().join("cifar");
    fake_cifar10(&cifar, 6);
    let cifar = cifar.to_str().unwrap();

    // No provenance dataset: fashion-mnist by default, and the error names
    // the --dataset that fits (checked before any dataset file is read).
    let (code, err) = exit_code(&["eval", "--model", rgb, "--data-dir", cifar]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the model takes 3x32x32 images but fashion-mnist (the default) images are 1x32x32; pass --dataset cifar10"),
        "{err}"
    );
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let on_cifar = |data_dir: &str| {
        tandem(&[
            "eval",
            "--model",
            rgb,
            "--dataset",
            "cifar10",
            "--data-dir",
            data_dir,
            "--json",
        ])
    };
    let missing = on_cifar(empty.to_str().unwrap());
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("test_batch.bin"),
        "{}",
        stderr(&missing)
    );
    let explicit = on_cifar(cifar);
    assert!(explicit.status.success(), "{}", stderr(&explicit));
    assert!(
        !stderr(&explicit).contains("provenance"),
        "{}",
        stderr(&explicit)
    );

    // With cifar10 in its provenance the model needs no --dataset.
    set_provenance_dataset(Path::new(rgb), "cifar10");
    let eval = tandem(&["eval", "--model", rgb, "--data-dir", cifar, "--json"]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(
        stderr(&eval).contains("note: using --dataset cifar10, the dataset in"),
        "{}",
        stderr(&eval)
    );
    let value = last_json(&eval);
    assert_eq!(value["dataset"], "cifar10");
    assert_eq!(value["images"], 6);

    // A --dataset that contradicts it points back at the provenance.
    let (code, err) = exit_code(&["eval", "--model", rgb, "--dataset", "mnist"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("the model takes 3x32x32 images (cifar10 per its provenance) but mnist images are 1x32x32; pass --dataset cifar10"),
        "{err}"
    );
}

#[test]
fn an_unreadable_provenance_dataset_falls_back_and_says_so() {
    let fixture = grey_fixture(3);
    set_provenance_dataset(&fixture.model_dir, "svhn");
    let eval = eval_fixture(&fixture, &[]);
    assert!(eval.status.success(), "{}", stderr(&eval));
    assert!(
        stderr(&eval).contains(
            "provenance names dataset `svhn`, which tandem cannot read; using fashion-mnist (pass --dataset to choose)"
        ),
        "{}",
        stderr(&eval)
    );
    assert_eq!(last_json(&eval)["dataset"], "fashion-mnist");
}
