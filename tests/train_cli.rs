//! `tandem train` as a script runs it: `--json` changes only what stdout
//! ends with (progress stays on stderr, as plain lines when stderr is not a
//! terminal), a teacher from another dataset is refused, and `--help` shows
//! examples.

use std::path::Path;

mod common;
use common::tandem;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";

fn fashion_mnist_installed() -> bool {
    let present = Path::new(FASHION_MNIST)
        .join("t10k-images-idx3-ubyte.gz")
        .exists();
    if !present {
        eprintln!(
            "skipping: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
    }
    present
}

/// A run of seconds: 1/16 width, 200 training and 100 test images, one
/// teacher epoch, one-batch stages and fine-tune.
const TINY_CONFIG: &str = "\
width: 0.0625
train_limit: 200
test_limit: 100
batch_size: 50
teacher:
  epochs: 1
student:
  stage_images: 50
  finetune_images: 50
  calibration_images: 32
";

/// [`TINY_CONFIG`] as `DIR/tiny.yaml`, when Fashion-MNIST is installed.
fn tiny_config_in(dir: &Path) -> Option<std::path::PathBuf> {
    if !fashion_mnist_installed() {
        return None;
    }
    let config = dir.join("tiny.yaml");
    std::fs::write(&config, TINY_CONFIG).unwrap();
    Some(config)
}

#[test]
fn json_keeps_progress_on_stderr_and_a_teacher_of_another_dataset_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = tiny_config_in(dir.path()) else {
        return;
    };
    let config = config.to_str().unwrap();
    let out = dir.path().join("run");
    let out = out.to_str().unwrap();

    let output = tandem(&["train", "--config", config, "--out", out, "--json"]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    let last = stdout.lines().last().expect("stdout is empty");
    let summary: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    assert_eq!(summary["logit_mismatches"], 0, "{last}");
    assert!(summary["student_accuracy"].as_f64().is_some(), "{last}");
    assert_eq!(
        summary["stages"].as_array().map(Vec::len),
        Some(7),
        "{last}"
    );
    // stderr is a pipe here: plain lines, no bar drawing.
    for start in [
        "teacher: 4/4 steps",
        "naive PTQ: ",
        "stage 7/7 fc7: ",
        "progressive student: ",
    ] {
        assert!(
            stderr.lines().any(|line| line.starts_with(start)),
            "no {start:?} line on stderr:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\r'),
        "{stderr:?}"
    );

    // The teacher it saved was trained on Fashion-MNIST; distilling it for
    // MNIST (same shape) is refused, naming both and the fix.
    let teacher = format!("{out}/teacher");
    let other = dir.path().join("other");
    let output = tandem(&[
        "train",
        "--config",
        config,
        "--teacher",
        &teacher,
        "--dataset",
        "mnist",
        "--data-dir",
        FASHION_MNIST,
        "--out",
        other.to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("trained on fashion-mnist ("), "{stderr}");
    assert!(stderr.contains("asks for mnist ("), "{stderr}");
    assert!(stderr.contains("pass --dataset fashion-mnist"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn help_shows_examples() {
    let output = tandem(&["train", "--help"]);
    let help = text(&output.stdout);
    assert!(output.status.success());
    for needle in [
        "Examples:",
        "tandem train --preset quick --wbits 4 --abits 4 --out",
        "--teacher out/train-quick/teacher",
        "--results docs/results.md",
        "resumes",
        "--json",
    ] {
        assert!(help.contains(needle), "{needle:?} missing from:\n{help}");
    }
    for method in trainer::Method::ALL {
        let line = format!("- {}:", method.name());
        assert!(help.contains(&line), "{line:?} missing from:\n{help}");
        assert!(
            help.contains(method.summary()),
            "{method}'s summary missing"
        );
    }
}

/// `--results --json` ends stdout with the paths it wrote and every run's
/// summary, and the page, its run record and the seed's teacher copy are
/// there.
#[test]
fn results_json_names_the_page_its_record_and_the_runs() {
    let dir = tempfile::tempdir().unwrap();
    let Some(config) = tiny_config_in(dir.path()) else {
        return;
    };
    let page = dir.path().join("page.md");
    let out = dir.path().join("runs");
    let output = tandem(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--results",
        page.to_str().unwrap(),
        "--rows",
        "w4a4",
        "--methods",
        "progressive,qat",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ]);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    let last = stdout.lines().last().expect("stdout is empty");
    let written: serde_json::Value = serde_json::from_str(last).expect("last line is JSON");
    let path = |key: &str| Path::new(written[key].as_str().expect(key)).to_path_buf();
    assert_eq!(path("page"), page);
    assert_eq!(path("record"), dir.path().join("page.runs.json"));
    assert_eq!(path("teachers"), dir.path().join("page.teachers"));
    assert!(std::fs::read_to_string(&page).unwrap().contains("| W4A4 |"));
    assert!(path("record").is_file());
    assert!(path("teachers").join("seed-1.safetensors").is_file());
    let runs = written["runs"].as_array().expect("runs is a list");
    let methods: Vec<&str> = runs
        .iter()
        .map(|run| run["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods, ["progressive", "qat"], "{last}");
    for run in runs {
        assert_eq!(run["logit_mismatches"], 0, "{run}");
        assert_eq!(
            (run["w_bits"].as_u64(), run["seed"].as_u64()),
            (Some(4), Some(1))
        );
    }
    // Nothing half-written is left beside the page.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// `tandem train --preset quick --results DIR/page.md --rows w4a4 ...
/// --out DIR/runs` beside a broken run record `DIR/page.runs.json`: its
/// stderr and whether it succeeded.
fn results_beside_a_broken_record(dir: &Path, extra: &[&str]) -> (String, bool) {
    std::fs::write(dir.join("page.runs.json"), "{\"runs\": 3}").unwrap();
    let page = dir.join("page.md");
    let out = dir.join("runs");
    let mut args = vec![
        "train",
        "--preset",
        "quick",
        "--results",
        page.to_str().unwrap(),
        "--rows",
        "w4a4",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = tandem(&args);
    (text(&output.stderr), output.status.success())
}

/// A run record (`PAGE.runs.json`) that cannot be parsed stops
/// `--results` before any training, naming the file and the ways out.
#[test]
fn a_broken_run_record_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let (stderr, succeeded) = results_beside_a_broken_record(dir.path(), &[]);
    assert!(!succeeded);
    assert!(stderr.contains("page.runs.json"), "{stderr}");
    assert!(stderr.contains("--retrain"), "{stderr}");
    assert!(!dir.path().join("runs").exists(), "it trained: {stderr}");
    assert!(!dir.path().join("page.md").exists());
}

/// `--retrain` does not read the run record, and says that it replaces it.
#[test]
fn retrain_says_it_replaces_the_run_record() {
    let dir = tempfile::tempdir().unwrap();
    // An empty dataset folder stops the run at its first cell.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (stderr, succeeded) = results_beside_a_broken_record(
        dir.path(),
        &["--retrain", "--data-dir", empty.to_str().unwrap()],
    );
    assert!(!succeeded);
    assert!(stderr.contains("--retrain: "), "{stderr}");
    assert!(stderr.contains("page.runs.json starts afresh"), "{stderr}");
    assert!(
        !stderr.contains("run record"),
        "the record was read: {stderr}"
    );
}
