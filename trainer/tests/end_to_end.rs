//! A tiny training run end to end: teacher, baselines, stages, export, and
//! golden agreeing with the trainer bit for bit.

use datasets::DatasetKind;
use trainer::{Preset, TrainConfig};

/// libtorch's random generator and thread count are process-wide, and the
/// test harness runs tests on parallel threads: two trainings at once would
/// draw from one stream in an interleaved order and no run would be
/// reproducible. Every test here trains while holding this lock.
static ONE_TRAINING_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_training_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    // A test that failed while holding the lock poisons it; the others
    // still run.
    ONE_TRAINING_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What every test here starts with: the training lock, and a scratch
/// directory; `None` (skip) when Fashion-MNIST is not installed.
fn training_setup() -> Option<(std::sync::MutexGuard<'static, ()>, tempfile::TempDir)> {
    let training = one_training_at_a_time();
    fashion_mnist_present().then(|| (training, tempfile::tempdir().unwrap()))
}

fn fashion_mnist_present() -> bool {
    let dir = DatasetKind::FashionMnist.default_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return false;
    }
    true
}

/// A run of seconds: 1/16 width, the first `train` and `test` images,
/// 100-image stages and fine-tune, two teacher epochs.
fn tiny_config(out: &std::path::Path, train: usize, test: usize) -> TrainConfig {
    let mut config = TrainConfig::preset(Preset::Quick);
    config.width = 0.0625;
    config.train_limit = Some(train);
    config.test_limit = Some(test);
    config.batch_size = 50;
    config.teacher.epochs = 2;
    config.student.stage_images = 100;
    config.student.finetune_images = 100;
    config.student.calibration_images = 64;
    config.out = Some(out.to_path_buf());
    config
}

#[test]
fn tiny_run_beats_chance_and_golden_agrees() {
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let mut config = tiny_config(out.path(), 400, 200);
    config.teacher.epochs = 4;
    config.baselines.qat = true;
    let report = trainer::train(&config, false).unwrap();

    assert_eq!(report.logit_mismatches, 0);
    assert_eq!(report.test_images, 200);
    assert!(
        report.student_accuracy > 0.2,
        "student {:.3} is not above chance",
        report.student_accuracy
    );
    assert!(report.teacher_accuracy > 0.2);
    assert!(report.qat_accuracy.is_some());
    assert!(report.fold_max_abs_diff < 1e-3);

    // The exported model loads with golden and says what it is.
    let model = golden::io::load(&out.path().join("model")).unwrap();
    assert_eq!(model.topology, "alexnet-cifar");
    assert_eq!(model.provenance.dataset.as_deref(), Some("fashion-mnist"));
    assert_eq!(model.provenance.accuracy, Some(report.student_accuracy));
    let compute: Vec<_> = model.layers().iter().filter_map(|l| l.params()).collect();
    assert_eq!(compute.len(), 7);
    assert_eq!(compute[0].w_bits, 8);
    assert_eq!(compute[6].w_bits, 8);
    assert!(compute[1..6].iter().all(|p| p.w_bits == 4));

    // Golden's readable reference agrees with its fast path (which the run
    // compared with the trainer on every test image) on a few images.
    let test = datasets::load(
        DatasetKind::FashionMnist,
        datasets::Split::Test,
        None,
        Some(3),
    )
    .unwrap();
    let fast = golden::fast::FastModel::new(&model);
    for index in 0..3 {
        let image: Vec<i32> = test.image(index).iter().map(|&b| b as i32).collect();
        let view = ndarray::ArrayView3::from_shape((1, 32, 32), image.as_slice()).unwrap();
        assert_eq!(
            golden::reference::forward(&model, view),
            fast.logits(&image)
        );
    }

    // summary.json and the teacher checkpoint are there; the teacher can be
    // reused.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["logit_mismatches"], 0);
    assert!(out
        .path()
        .join("teacher")
        .join(trainer::teacher::TEACHER_FILE)
        .is_file());
    // One report per stage, each with a measured accuracy.
    assert_eq!(report.stages.len(), 7);
    assert!(report
        .stages
        .iter()
        .all(|stage| stage.test_accuracy > 0.0 && stage.test_accuracy <= 1.0));
    assert!(report.finetune_loss.is_some());

    // The same student without the QAT baseline, teacher reused: each method
    // draws from its own seeded stream, so the exported model is the same
    // byte for byte.
    let again = tempfile::tempdir().unwrap();
    let mut without_qat = config.clone();
    without_qat.baselines.qat = false;
    without_qat.teacher.checkpoint = Some(out.path().join("teacher"));
    without_qat.out = Some(again.path().to_path_buf());
    let second = trainer::train(&without_qat, false).unwrap();
    assert!(second.qat_accuracy.is_none());
    let tensors =
        |dir: &std::path::Path| std::fs::read(dir.join("model/model.safetensors")).unwrap();
    assert!(
        tensors(out.path()) == tensors(again.path()),
        "the student changed when the QAT baseline was skipped"
    );
    assert_eq!(second.student_accuracy, report.student_accuracy);
}

#[test]
fn learned_clips_export_bit_exact() {
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let mut config = tiny_config(out.path(), 300, 100);
    config.student.learn_clip = true;
    config.student.clip_lr = 0.05;
    let report = trainer::train(&config, false).unwrap();
    assert_eq!(report.logit_mismatches, 0);
    // The clips were learned: at least one stage ended with a scale other
    // than the one it calibrated.
    let moved = report
        .stages
        .iter()
        .filter(|stage| stage.activation_scale != stage.calibrated_scale)
        .count();
    assert!(moved > 0, "no learned clip moved: {:?}", report.stages);
}

/// Every method trains the same integer layers in its own way and exports
/// through the same code: each one's model matches golden on every logit,
/// and `method: qat` is exactly the QAT baseline of a progressive run.
#[test]
fn every_method_exports_bit_exact() {
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let mut config = tiny_config(&out.path().join("progressive"), 300, 100);
    config.wbits = 2;
    config.abits = 2;
    config.baselines.qat = true;
    let progressive = trainer::train(&config, false).unwrap();
    assert_eq!(progressive.method, trainer::Method::Progressive);
    assert_eq!(progressive.stages.len(), 7);
    config.baselines.qat = false;
    config.teacher.checkpoint = Some(progressive.teacher_dir.clone());
    for method in [
        trainer::Method::Qat,
        trainer::Method::BitProgressive,
        trainer::Method::QuantizedTeacher,
    ] {
        config.method = method;
        config.out = Some(out.path().join(method.name()));
        let report = trainer::train(&config, false).unwrap();
        assert_eq!(report.method, method);
        assert_eq!(report.logit_mismatches, 0, "{method}");
        let stages = usize::from(method == trainer::Method::QuantizedTeacher) * 7;
        assert_eq!(report.stages.len(), stages, "{method}");
        assert!(report.qat_accuracy.is_none());
        let model = golden::io::load(&report.model_dir).unwrap();
        assert_eq!(model.provenance.accuracy, Some(report.student_accuracy));
        match method {
            // Same seed stream, same steps: the baseline, trained again.
            // The baseline is scored with the f32 forward, the method with
            // golden; only an exact .5 tie could tell them apart, so allow
            // one image of the 100.
            trainer::Method::Qat => {
                let baseline = progressive.qat_accuracy.unwrap();
                assert!(
                    (report.student_accuracy - baseline).abs() <= 0.01 + 1e-12,
                    "qat method {} against the baseline {baseline}",
                    report.student_accuracy
                );
            }
            // 8 bits, then 4, then 2: three phases.
            trainer::Method::BitProgressive => assert_eq!(report.phase_losses.len(), 3),
            // The quantized teacher took the fine-tune's images.
            _ => assert!(report.finetune_loss.is_none()),
        }
    }
}

/// `tandem train --results` resumes: a row whose summary records the same
/// configuration is kept, a changed configuration trains again, and the
/// caller sees every finished row as it lands.
#[test]
fn results_rows_resume_only_with_the_same_configuration() {
    use trainer::results::{finished_row, parse_rows, run, ResultsPlan, Reuse};
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let base = tiny_config(out.path(), 200, 100);
    let bits = ResultsPlan {
        rows: parse_rows("w4a4,w2a2", 1).unwrap(),
        methods: vec![trainer::Method::Progressive],
    };
    type OnCell<'a> = &'a mut dyn FnMut(&[trainer::TrainReport]) -> Result<(), trainer::TrainError>;
    let resume_seeing = |on_cell: OnCell| {
        run(
            &base,
            out.path(),
            &bits,
            Reuse::MatchingRows,
            None,
            false,
            on_cell,
        )
        .unwrap()
    };
    let mut seen = Vec::new();
    let first = resume_seeing(&mut |rows| {
        seen.push(rows.len());
        Ok(())
    });
    assert_eq!(seen, [1, 2]);
    assert_eq!(
        first[1].config.teacher.checkpoint.as_ref(),
        Some(&first[0].teacher_dir)
    );
    let as_json = |reports: &[trainer::TrainReport]| serde_json::to_string(reports).unwrap();
    let partial = trainer::results::markdown(&first[..1], "tandem train ...", &bits);
    assert!(partial.contains("**Incomplete:** 1 of 2 runs"), "{partial}");
    assert!(partial.contains("| W4A4 |") && !partial.contains("| W2A2 |"));
    let complete = trainer::results::markdown(&first, "tandem train ...", &bits);
    assert!(!complete.contains("Incomplete") && complete.contains("| W2A2 |"));

    // Same configuration: nothing trains, the reports come back as saved.
    let resume = || resume_seeing(&mut |_| Ok(()));
    let again = resume();
    assert_eq!(as_json(&again), as_json(&first));

    // A row with a changed configuration is not finished.
    let mut changed = first[1].config.clone();
    changed.student.lr *= 2.0;
    let why = finished_row(&changed).unwrap_err();
    assert!(why.contains("different configuration"), "{why}");

    // Retraining the first row trains a new teacher, so the second row,
    // distilled from the old one, must be retrained too.
    let seed = base.seed;
    std::fs::remove_file(
        out.path()
            .join(format!("seed-{seed}/w4a4/progressive/summary.json")),
    )
    .unwrap();
    let retrained = resume();
    assert_ne!(retrained[0].total_seconds, first[0].total_seconds);
    assert_ne!(retrained[1].total_seconds, first[1].total_seconds);
}

/// The run record lets `tandem train --results` resume without its folder:
/// fully recorded seeds train nothing; a seed with cells left takes its
/// teacher from the record's copy, or else trains it again and keeps its
/// recorded runs only when the new teacher's weights are the recorded ones.
#[test]
fn results_resume_from_the_record_when_the_folder_is_gone() {
    use std::sync::{Arc, Mutex};
    use trainer::ledger::RunRecord;
    use trainer::results::{run, ResultsPlan, Reuse};
    use trainer::Method::{BitProgressive, Progressive, Qat};
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let base = tiny_config(out.path(), 200, 100);
    let runs = out.path().join("runs");
    let page = out.path().join("page.md");
    let plan = |methods: Vec<trainer::Method>| ResultsPlan {
        rows: trainer::results::parse_rows("w4a4", 1).unwrap(),
        methods,
    };
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let said = |text: &str| lines.lock().unwrap().iter().any(|line| line.contains(text));
    let resume = |plan: &ResultsPlan, record: &RunRecord| {
        lines.lock().unwrap().clear();
        let sink = Arc::clone(&lines);
        let progress = trainer::Progress::lines(move |line| sink.lock().unwrap().push(line.into()));
        run(
            &base,
            &runs,
            plan,
            Reuse::MatchingRows,
            Some(record),
            progress,
            |reports| record.save("tandem train ...", reports),
        )
        .unwrap()
    };
    let as_json = |reports: &[trainer::TrainReport]| serde_json::to_string(reports).unwrap();
    let two = plan(vec![Progressive, Qat]);
    let first = resume(&two, &RunRecord::beside(&page).unwrap());
    let digest = first[0].teacher_digest.clone().expect("a digest");
    assert_eq!(first[1].teacher_digest.as_ref(), Some(&digest));
    let record = RunRecord::beside(&page).unwrap();
    assert_eq!(as_json(&record.runs), as_json(&first));
    let copy = record.teacher_copy(base.seed);
    assert_eq!(trainer::checkpoint::weights_digest(&copy).unwrap(), digest);

    // Every cell recorded: nothing trains, so nothing is written.
    std::fs::remove_dir_all(&runs).unwrap();
    assert_eq!(as_json(&resume(&two, &record)), as_json(&first));
    assert!(!runs.exists());

    // A cell more: the teacher comes back from the record's copy, and the
    // recorded cells stand beside the new one, which distills it.
    let three = plan(vec![Progressive, Qat, BitProgressive]);
    let grown = resume(&three, &record);
    assert!(said("from the record's copy"));
    assert_eq!(as_json(&grown[..2]), as_json(&first));
    assert_eq!(grown[2].teacher_digest.as_ref(), Some(&digest));
    assert_eq!(
        grown[2].config.teacher.checkpoint.as_ref(),
        Some(&first[0].teacher_dir)
    );

    // No copy either: the teacher trains again, comes out the same (same
    // machine, seed and threads), and the recorded cells stand.
    std::fs::remove_dir_all(&runs).unwrap();
    std::fs::remove_file(&copy).unwrap();
    let two_recorded = RunRecord {
        runs: grown[..2].to_vec(),
        ..record.clone()
    };
    let again = resume(&three, &two_recorded);
    assert!(said("is the recorded one"), "{:?}", lines.lock().unwrap());
    assert_eq!(as_json(&again[..2]), as_json(&first));
    assert_ne!(again[2].total_seconds, grown[2].total_seconds);

    // A record whose teacher the retrained one does not match is not kept:
    // the whole seed trains again.
    std::fs::remove_dir_all(&runs).unwrap();
    std::fs::remove_file(&copy).unwrap();
    let mut other_teacher = two_recorded.clone();
    for report in &mut other_teacher.runs {
        report.teacher_digest = Some("0".repeat(64));
    }
    let retrained = resume(&three, &other_teacher);
    assert!(said("is not the recorded one"));
    assert_eq!(retrained.len(), 3);
    for (new, old) in retrained.iter().zip(&grown) {
        assert_eq!(new.teacher_digest.as_ref(), Some(&digest));
        assert_ne!(new.total_seconds, old.total_seconds);
    }
}

/// Without a terminal every part of a run still reports: the teacher per
/// epoch, each baseline, each stage, the fine-tune and the export.
#[test]
fn progress_lines_cover_every_step_of_the_run() {
    use std::sync::{Arc, Mutex};
    let Some((_training, out)) = training_setup() else {
        return;
    };
    let mut config = tiny_config(out.path(), 200, 100);
    config.baselines.qat = true;
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&lines);
    let progress = trainer::Progress::lines(move |line| sink.lock().unwrap().push(line.into()));
    trainer::train(&config, progress).unwrap();
    let lines = lines.lock().unwrap();
    let has = |start: &str| lines.iter().any(|line| line.starts_with(start));
    // 200 images in batches of 50: 4 steps per epoch, two epochs.
    let expected = [
        "teacher: 4/8 steps, epoch 1/2 loss ",
        "teacher: 8/8 steps, epoch 2/2 loss ",
        "BN-free float: ",
        "naive PTQ: ",
        "qat baseline: ",
        "all-at-once QAT: ",
        "stage 1/7 conv1: 2/2 steps, loss ",
        "stage 1/7 conv1: ",
        "stage 7/7 fc7: ",
        "joint fine-tune: 2/2 steps, loss ",
        "progressive student: ",
    ];
    for start in expected {
        assert!(has(start), "no line starting {start:?} in {lines:#?}");
    }
    let results = |start: &str| {
        lines
            .iter()
            .filter(|line| line.starts_with(start) && line.contains("% test accuracy"))
            .count()
    };
    assert_eq!(results("teacher: "), 1, "{lines:#?}");
    assert_eq!(results("stage "), 7, "{lines:#?}");
}
