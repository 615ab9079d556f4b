//! The whole run, one named step after another: prepare, teacher, fold,
//! baselines (naive PTQ, all-at-once QAT), the student of the configured
//! method, export and verification, summary.

use crate::config::TrainConfig;
use crate::data::TensorData;
use crate::distill::{post_training_quantization, Distillation};
use crate::error::TrainError;
use crate::evaluate::{float_accuracy, EVAL_BATCH};
use crate::export::{export_and_verify, Baselines, Verification};
use crate::method::Method;
use crate::net::{self, FloatNet, LayerSpec, Teacher};
use crate::progress::Progress;
use crate::qteacher::{self, QuantizedTeacher};
use crate::quant::{self, IntLayer, LayerBits};
use crate::seed::SeedStream;
use crate::student::Student;
use crate::summary::{StageReport, TrainReport};
use crate::teacher::{save_teacher, train_teacher, SavedTeacher};
use datasets::{DatasetKind, Split};
use std::path::PathBuf;
use std::time::Instant;
use tch::{Device, Tensor};

/// Train teacher and student, export and verify. Progress goes to
/// `progress` (`true`: stderr, bars on a terminal and plain lines
/// otherwise; `false`: none); the result is the report, also written to
/// `summary.json`.
pub fn train(
    config: &TrainConfig,
    progress: impl Into<Progress>,
) -> Result<TrainReport, TrainError> {
    let progress = progress.into();
    let run = Run::prepare(config)?;
    let data = RunData::load(&run)?;
    // Before the teacher's minutes, not after.
    let stage_names: Vec<String> = data.specs.iter().map(|spec| spec.name.clone()).collect();
    crate::schedule::check_stage_shares(config, &stage_names)?;
    let teacher = teacher_step(&run, &data, &progress)?;
    let folded = fold_step(&teacher.net, &data.test, &progress);
    let bits = layer_bits(config, &data.specs);
    let calibration = calibration_images(config, &data.train);
    let ptq_accuracy = ptq_baseline(&folded.net, &bits, &calibration, &data.test, &progress);
    let distillation = Distillation {
        config,
        teacher: &folded.net,
        train: &data.train,
        kind: run.kind,
    };
    // `--method qat` trains exactly the baseline: no need for it twice.
    let qat = (config.baselines.qat && config.method != Method::Qat)
        .then(|| {
            qat_baseline(
                &distillation,
                &folded.net,
                &bits,
                &calibration,
                &data.test,
                &progress,
            )
        })
        .transpose()?;
    let student = student_step(
        &distillation,
        StudentStart {
            folded: &folded.net,
            teacher: &teacher.net,
            bits,
            calibration: &calibration,
        },
        &data.test,
        &progress,
    )?;
    let measured = Measured {
        teacher_accuracy: teacher.accuracy,
        teacher_seconds: teacher.seconds,
        teacher_digest: teacher.digest.clone(),
        bn_free_float_accuracy: folded.accuracy,
        fold_max_abs_diff: folded.max_abs_diff,
        ptq_accuracy,
        qat,
    };
    let verification = verify_step(&run, &data, &student, &measured, &progress)?;
    let report = summarize(&run, &data, measured, student, &verification);
    write_summary(&report, &run.out)?;
    refuse_mismatches(&report, &verification)?;
    Ok(report)
}

/// What [`train_teacher_only`] measured.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TeacherReport {
    /// Test accuracy of the float BN teacher, 0..=1.
    pub accuracy: f64,
    /// Training time (0 when `config.teacher.checkpoint` was reused).
    pub seconds: f64,
    /// The saved teacher (`out/teacher`): pass it as `teacher.checkpoint`
    /// to students that should share it.
    pub dir: PathBuf,
    /// Its weights' SHA-256 ([`crate::checkpoint::weights_digest`]).
    #[serde(default)]
    pub digest: String,
}

/// Train only the BN teacher of `config` (or load its checkpoint) and save
/// it into `out/teacher`, for several students to share (`tandem sweep`
/// trains one teacher per dataset and width). The students' bit-widths in
/// `config` do not matter here.
pub fn train_teacher_only(
    config: &TrainConfig,
    progress: impl Into<Progress>,
) -> Result<TeacherReport, TrainError> {
    let progress = progress.into();
    let run = Run::prepare(config)?;
    let data = RunData::load(&run)?;
    let teacher = teacher_step(&run, &data, &progress)?;
    Ok(TeacherReport {
        accuracy: teacher.accuracy,
        seconds: teacher.seconds,
        dir: run.out.join("teacher"),
        digest: teacher.digest,
    })
}

/// A checked configuration and the process set up for it.
struct Run<'a> {
    config: &'a TrainConfig,
    out: PathBuf,
    kind: DatasetKind,
    data_dir: PathBuf,
    /// The teacher to distill instead of training one, already checked
    /// against the dataset and shape the run asks for.
    saved_teacher: Option<SavedTeacher>,
    threads: usize,
    device: Device,
    started: Instant,
}

impl Run<'_> {
    /// Validate `config` (a saved teacher included) before anything slow,
    /// set libtorch's threads and start the teacher's seed stream.
    fn prepare(config: &TrainConfig) -> Result<Run<'_>, TrainError> {
        config.validate()?;
        let out = config
            .out
            .clone()
            .ok_or_else(|| config.field_error("out", "no output directory given".into()))?;
        let saved_teacher = config
            .teacher
            .checkpoint
            .as_deref()
            .map(|path| SavedTeacher::open(path, config))
            .transpose()?;
        let started = Instant::now();
        let threads = config.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        // Debian's libtorch runs on one thread unless told otherwise.
        tch::set_num_threads(threads as i32);
        SeedStream::Teacher.start(config.seed);
        Ok(Run {
            config,
            out,
            kind: config.dataset_kind()?,
            data_dir: config.data_dir()?,
            saved_teacher,
            threads,
            device: Device::cuda_if_available(),
            started,
        })
    }
}

/// The two splits on the training device and the network's layers.
struct RunData {
    train: TensorData,
    test: TensorData,
    specs: Vec<LayerSpec>,
}

impl RunData {
    fn load(run: &Run) -> Result<RunData, TrainError> {
        let split = |split, limit| -> Result<TensorData, TrainError> {
            let raw = datasets::load(run.kind, split, Some(&run.data_dir), limit)?;
            Ok(TensorData::new(raw, run.device))
        };
        Ok(RunData {
            train: split(Split::Train, run.config.train_limit)?,
            test: split(Split::Test, run.config.test_limit)?,
            specs: net::alexnet_cifar(
                run.config.width,
                run.kind.in_channels(),
                run.kind.classes(),
            )?,
        })
    }
}

/// The teacher of the run and what it measured.
struct TeacherStep {
    net: Teacher,
    accuracy: f64,
    /// Training time (0 for a saved teacher).
    seconds: f64,
    /// The saved weights' digest.
    digest: String,
}

/// Train the teacher, or load the saved one; save it into `out/teacher`
/// either way and measure it.
fn teacher_step(run: &Run, data: &RunData, progress: &Progress) -> Result<TeacherStep, TrainError> {
    let config = run.config;
    let started = Instant::now();
    let (teacher, seconds, seed) = match &run.saved_teacher {
        Some(saved) => {
            let teacher = saved.load(data.specs.clone(), run.device)?;
            let seed = saved
                .seed
                .clone()
                .unwrap_or_else(|| config.seed.to_string());
            (teacher, 0.0, seed)
        }
        None => {
            let specs = data.specs.clone();
            let teacher = train_teacher(config, specs, &data.train, run.kind, progress)?;
            let seconds = started.elapsed().as_secs_f64();
            (teacher, seconds, config.seed.to_string())
        }
    };
    let digest = save_teacher(&teacher, &run.out.join("teacher"), config, &seed)?;
    let accuracy = float_accuracy(&data.test, |x| teacher.forward(x, false));
    progress.say(&format!(
        "teacher: {:.2}% test accuracy ({seconds:.0} s)",
        100.0 * accuracy
    ));
    Ok(TeacherStep {
        net: teacher,
        accuracy,
        seconds,
        digest,
    })
}

/// The batch-norm-free network and how close it is to the teacher.
struct FoldStep {
    net: FloatNet,
    accuracy: f64,
    /// Largest |logit difference| to the teacher on the first test batch.
    max_abs_diff: f64,
}

/// Fold the teacher's batch norms into its weights and biases.
fn fold_step(teacher: &Teacher, test: &TensorData, progress: &Progress) -> FoldStep {
    let folded = teacher.fold();
    let accuracy = float_accuracy(test, |x| folded.forward(x));
    let max_abs_diff = tch::no_grad(|| {
        let (x, _) = test.batch_float(0, EVAL_BATCH.min(test.len()));
        (teacher.forward(&x, false) - folded.forward(&x))
            .abs()
            .max()
            .double_value(&[])
    });
    progress.say(&format!(
        "BN-free float: {:.2}% (max |logit diff| to the teacher {max_abs_diff:.2e})",
        100.0 * accuracy
    ));
    FoldStep {
        net: folded,
        accuracy,
        max_abs_diff,
    }
}

/// The first `student.calibration_images` training images, which every
/// activation clip is calibrated on.
fn calibration_images(config: &TrainConfig, train: &TensorData) -> Tensor {
    let len = config.student.calibration_images.min(train.len());
    train.batch_float(0, len).0
}

/// Naive PTQ of the folded network; its test accuracy.
fn ptq_baseline(
    folded: &FloatNet,
    bits: &[LayerBits],
    calibration: &Tensor,
    test: &TensorData,
    progress: &Progress,
) -> f64 {
    let mut ptq = Student::from_float(folded, bits.to_vec());
    post_training_quantization(&mut ptq, calibration);
    // Baselines are measured with the student's f32 forward of their frozen
    // integer layers (the exact f64 forward is kept for the exported model,
    // where it is compared with golden).
    let accuracy = float_accuracy(test, |x| ptq.forward(x).logits);
    progress.say(&format!("naive PTQ: {:.2}%", 100.0 * accuracy));
    accuracy
}

/// What the all-at-once QAT baseline reached.
#[derive(Debug, Clone, Copy)]
struct QatStep {
    accuracy: f64,
    seconds: f64,
}

/// The all-at-once QAT baseline, on its own seed stream.
fn qat_baseline(
    distillation: &Distillation,
    folded: &FloatNet,
    bits: &[LayerBits],
    calibration: &Tensor,
    test: &TensorData,
    progress: &Progress,
) -> Result<QatStep, TrainError> {
    SeedStream::Qat.start(distillation.config.seed);
    let started = Instant::now();
    let mut qat = Student::from_float(folded, bits.to_vec());
    qat.learn_clip = distillation.config.student.learn_clip;
    qat.learn_shifts = distillation.config.student.learn_shifts == Some(true);
    distillation.all_at_once_qat(&mut qat, calibration, "qat baseline", progress)?;
    let seconds = started.elapsed().as_secs_f64();
    let accuracy = float_accuracy(test, |x| qat.forward(x).logits);
    progress.say(&format!(
        "all-at-once QAT: {:.2}% ({seconds:.0} s)",
        100.0 * accuracy
    ));
    Ok(QatStep { accuracy, seconds })
}

/// The student of the run's method, frozen.
struct StudentStep {
    method: Method,
    int_layers: Vec<IntLayer>,
    /// The progressive stages (empty for the methods without stages).
    stages: Vec<StageReport>,
    finetune_loss: Option<f64>,
    /// Final loss of each bit-width phase (bit-progressive only).
    phase_losses: Vec<f64>,
    /// Training time (not the per-stage accuracy measurements).
    seconds: f64,
}

/// What every method starts from.
struct StudentStart<'a> {
    /// The folded float teacher the student is a copy of.
    folded: &'a FloatNet,
    /// The BN teacher (the quantized-teacher method quantizes a copy).
    teacher: &'a Teacher,
    bits: Vec<LayerBits>,
    calibration: &'a Tensor,
}

/// Train the student with `config.method`, on the method's own seed stream.
fn student_step(
    distillation: &Distillation,
    start: StudentStart,
    test: &TensorData,
    progress: &Progress,
) -> Result<StudentStep, TrainError> {
    let method = distillation.config.method;
    method.seed_stream().start(distillation.config.seed);
    match method {
        Method::Progressive => progressive_student(distillation, start, test, progress),
        Method::Qat | Method::BitProgressive => qat_student(distillation, start, progress),
        Method::QuantizedTeacher => quantized_teacher_student(distillation, start, test, progress),
    }
}

/// The progressive method: stages (each layer frozen in turn against the
/// float teacher), then the joint fine-tune.
fn progressive_student(
    distillation: &Distillation,
    start: StudentStart,
    test: &TensorData,
    progress: &Progress,
) -> Result<StudentStep, TrainError> {
    let mut student = new_student(start.folded, start.bits, distillation.config);
    let stages =
        distillation.progressive_stages(&mut student, start.calibration, test, progress)?;
    let finetune_started = Instant::now();
    let finetune_loss = distillation.joint_finetune(&mut student, progress)?;
    // The stages' own seconds leave out their accuracy measurements.
    let seconds = stages.iter().map(|stage| stage.seconds).sum::<f64>()
        + finetune_started.elapsed().as_secs_f64();
    Ok(StudentStep {
        method: Method::Progressive,
        int_layers: student
            .int_layers()
            .expect("every method freezes every layer"),
        stages,
        finetune_loss,
        phase_losses: Vec::new(),
        seconds,
    })
}

/// All layers at once: one QAT phase at the target bits (`qat`), or a
/// phase per step of the bit schedule (`bit-progressive`).
fn qat_student(
    distillation: &Distillation,
    start: StudentStart,
    progress: &Progress,
) -> Result<StudentStep, TrainError> {
    let started = Instant::now();
    let config = distillation.config;
    let mut student = new_student(start.folded, start.bits, config);
    let phase_losses = if config.method == Method::BitProgressive {
        let schedule = config.method.bit_schedule(config.wbits, config.abits);
        distillation.bit_progressive_qat(&mut student, start.calibration, &schedule, progress)?
    } else {
        distillation.all_at_once_qat(&mut student, start.calibration, "qat", progress)?;
        Vec::new()
    };
    Ok(StudentStep {
        method: config.method,
        int_layers: student
            .int_layers()
            .expect("every method freezes every layer"),
        stages: Vec::new(),
        finetune_loss: None,
        phase_losses,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A student copied from `net`, learning clips and shifts as `config` says.
fn new_student(net: &FloatNet, bits: Vec<LayerBits>, config: &TrainConfig) -> Student {
    let mut student = Student::from_float(net, bits);
    student.learn_clip = config.student.learn_clip;
    student.learn_shifts = learns_shifts(config);
    student
}

/// `student.learn_shifts`, or the method's default.
fn learns_shifts(config: &TrainConfig) -> bool {
    config
        .student
        .learn_shifts
        .unwrap_or_else(|| config.method.learns_shifts_by_default())
}

/// The quantized-teacher method: quantize the BN teacher at the student's
/// bits (the fine-tune's images), fold it, and run the progressive stages
/// against its quantized activations, the student keeping its clips. The
/// stages get their usual images and there is no joint fine-tune, so the
/// method trains on as many images as the others. Its seconds count the
/// quantized teacher's training.
fn quantized_teacher_student(
    distillation: &Distillation,
    start: StudentStart,
    test: &TensorData,
    progress: &Progress,
) -> Result<StudentStep, TrainError> {
    let started = Instant::now();
    let config = distillation.config;
    let quantized = QuantizedTeacher::train(
        config,
        start.teacher,
        start.bits.clone(),
        start.calibration,
        distillation.train,
        distillation.kind,
        progress,
    )?;
    let teacher_seconds = started.elapsed().as_secs_f64();
    progress.say(&format!(
        "quantized BN teacher: {:.2}% test accuracy ({teacher_seconds:.0} s)",
        100.0 * qteacher::accuracy(&quantized, test)
    ));
    let folded = quantized.net.fold();
    // The BN stand-in of the paper, per-channel scales learned under the
    // shift-only contract, is on by default for this method.
    let mut student = new_student(&folded, start.bits, config);
    student.scales = quantized.scales.clone();
    let against_quantized = Distillation {
        teacher: &quantized,
        ..*distillation
    };
    let stages =
        against_quantized.progressive_stages(&mut student, start.calibration, test, progress)?;
    let seconds = teacher_seconds + stages.iter().map(|stage| stage.seconds).sum::<f64>();
    Ok(StudentStep {
        method: Method::QuantizedTeacher,
        int_layers: student.int_layers().expect("every stage froze its layer"),
        stages,
        finetune_loss: None,
        phase_losses: Vec::new(),
        seconds,
    })
}

/// Bits of every compute layer: `wbits` / `abits` for the hidden ones,
/// `first_last_wbits` weights for the first and the last.
fn layer_bits(config: &TrainConfig, specs: &[LayerSpec]) -> Vec<LayerBits> {
    quant::network_bits(
        specs.len(),
        config.wbits,
        config.abits,
        config.first_last_wbits,
    )
}

/// Everything measured before the export.
struct Measured {
    teacher_accuracy: f64,
    teacher_seconds: f64,
    teacher_digest: String,
    bn_free_float_accuracy: f64,
    fold_max_abs_diff: f64,
    ptq_accuracy: f64,
    qat: Option<QatStep>,
}

/// Export the student into `out/model` and check it against golden.
fn verify_step(
    run: &Run,
    data: &RunData,
    student: &StudentStep,
    measured: &Measured,
    progress: &Progress,
) -> Result<Verification, TrainError> {
    let baselines = Baselines {
        teacher_accuracy: measured.teacher_accuracy,
        bn_free_float_accuracy: measured.bn_free_float_accuracy,
        ptq_accuracy: measured.ptq_accuracy,
    };
    let verification = export_and_verify(
        run.config,
        run.kind,
        &student.int_layers,
        &baselines,
        data.train.len(),
        &data.test,
        &run.out.join("model"),
    )?;
    progress.say(&format!(
        "{} student: {:.2}% with golden ({:.2}% trainer forward), {} logit mismatches ({:.0} s)",
        student.method,
        100.0 * verification.student_accuracy,
        100.0 * verification.trainer_accuracy,
        verification.logit_mismatches,
        student.seconds
    ));
    Ok(verification)
}

/// The run's report.
fn summarize(
    run: &Run,
    data: &RunData,
    measured: Measured,
    student: StudentStep,
    verification: &Verification,
) -> TrainReport {
    let config = run.config;
    let qat = measured.qat;
    TrainReport {
        dataset: run.kind.name().into(),
        preset: config.preset.name().into(),
        width: config.width,
        w_bits: config.wbits,
        a_bits: config.abits,
        first_last_w_bits: config.first_last_wbits,
        seed: config.seed,
        method: student.method,
        train_images: data.train.len(),
        test_images: data.test.len(),
        teacher_accuracy: measured.teacher_accuracy,
        bn_free_float_accuracy: measured.bn_free_float_accuracy,
        fold_max_abs_diff: measured.fold_max_abs_diff,
        ptq_accuracy: measured.ptq_accuracy,
        qat_accuracy: qat.map(|q| q.accuracy),
        student_accuracy: verification.student_accuracy,
        logit_mismatches: verification.logit_mismatches,
        train_seconds: measured.teacher_seconds + student.seconds + qat.map_or(0.0, |q| q.seconds),
        teacher_seconds: measured.teacher_seconds,
        student_seconds: student.seconds,
        qat_seconds: qat.map(|q| q.seconds),
        total_seconds: run.started.elapsed().as_secs_f64(),
        threads: run.threads,
        device: format!("{:?}", run.device),
        teacher_dir: run.out.join("teacher"),
        teacher_digest: Some(measured.teacher_digest.clone()),
        model_dir: run.out.join("model"),
        stages: student.stages,
        finetune_loss: student.finetune_loss,
        phase_losses: student.phase_losses,
        config: config.clone(),
    }
}

/// `out/summary.json`: the report, also when the verification failed.
fn write_summary(report: &TrainReport, out: &std::path::Path) -> Result<(), TrainError> {
    let json = serde_json::to_string_pretty(report).expect("report serializes");
    golden::io::write_atomically(&out.join("summary.json"), format!("{json}\n").as_bytes())?;
    Ok(())
}

/// An exported model whose logits differ from the trainer's must not be
/// used: fail the run.
fn refuse_mismatches(report: &TrainReport, verification: &Verification) -> Result<(), TrainError> {
    if verification.logit_mismatches == 0 {
        return Ok(());
    }
    Err(TrainError::LogitMismatch {
        mismatches: verification.logit_mismatches,
        images: report.test_images,
        first: verification.first_mismatch.clone(),
        model_dir: report.model_dir.clone(),
    })
}
