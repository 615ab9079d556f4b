//! The whole run: teacher, fold, baselines, progressive stages, export,
//! verification.

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::data::{self, TensorData};
use crate::error::TrainError;
use crate::net::{self, FloatNet, LayerSpec, Teacher};
use crate::quant::{self, IntLayer};
use crate::student::{LayerState, Student, StudentOutput};
use datasets::{DatasetKind, Split};
use golden::model::{Layer, Model, Op, Provenance};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};

/// What a run measured and where it put things (also `summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    pub dataset: String,
    pub preset: String,
    pub width: f64,
    pub w_bits: u8,
    pub a_bits: u8,
    /// Weight bits of the first and last layers.
    pub first_last_w_bits: u8,
    pub seed: u64,
    pub train_images: usize,
    pub test_images: usize,
    /// Test accuracies, 0..=1.
    pub teacher_accuracy: f64,
    pub bn_free_float_accuracy: f64,
    /// Largest |logit difference| between the teacher (eval mode) and its
    /// BN-folded network on the first test batch.
    pub fold_max_abs_diff: f64,
    /// Naive post-training quantization of the folded teacher (same
    /// power-of-two constraint, calibrated clips, no training).
    pub ptq_accuracy: f64,
    /// All layers quantized and trained at once (when enabled).
    pub qat_accuracy: Option<f64>,
    /// The progressive student, measured with golden on the exported model.
    pub student_accuracy: f64,
    /// Logits where the trainer's integer forward and golden differ (0).
    pub logit_mismatches: usize,
    /// Teacher, QAT and student training (not evaluation or export).
    pub train_seconds: f64,
    pub teacher_seconds: f64,
    pub student_seconds: f64,
    pub qat_seconds: Option<f64>,
    /// The whole run, evaluation and verification included.
    pub total_seconds: f64,
    pub threads: usize,
    pub device: String,
    pub teacher_dir: PathBuf,
    pub model_dir: PathBuf,
    /// Per stage: layer name, activation scale chosen, last training loss.
    pub stages: Vec<StageReport>,
    /// Final loss of the joint fine-tune; `None` when it is off.
    pub finetune_loss: Option<f64>,
    /// The configuration the run used, in full: provenance, and what lets
    /// `tandem train --results` tell whether a finished run can be reused.
    pub config: TrainConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageReport {
    pub layer: String,
    pub w_bits: u8,
    pub out_bits: Option<u8>,
    /// Output activation scale (real value per unit) calibrated at the
    /// start of the stage; `None` for logits.
    pub calibrated_scale: Option<f64>,
    /// Output activation scale at the end of the stage: the calibrated one,
    /// or the learned one with `student.learn_clip` (the joint fine-tune may
    /// move it further).
    pub activation_scale: Option<f64>,
    pub final_loss: f64,
    /// Test accuracy right after the stage, with this layer and those
    /// before it quantized and the later ones still float.
    pub test_accuracy: f64,
    /// Wall-clock seconds of the stage: calibration, training, freezing
    /// (not the test-accuracy measurement).
    pub seconds: f64,
}

fn bar(progress: bool, total: u64, label: &str) -> ProgressBar {
    if !progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>16} [{bar:30}] {pos}/{len} steps {msg} (eta {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// Cosine decay from `lr` to 0 over `total` steps.
fn cosine(lr: f64, step: usize, total: usize) -> f64 {
    let t = step as f64 / total.max(1) as f64;
    lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Random batches without replacement, reshuffled every pass.
struct Sampler {
    order: Tensor,
    cursor: usize,
    len: usize,
    batch: usize,
}

impl Sampler {
    fn new(len: usize, batch: usize) -> Sampler {
        Sampler {
            order: Tensor::randperm(len as i64, (Kind::Int64, Device::Cpu)),
            cursor: 0,
            len,
            batch: batch.min(len),
        }
    }

    fn next(&mut self, device: Device) -> Tensor {
        if self.cursor + self.batch > self.len {
            self.order = Tensor::randperm(self.len as i64, (Kind::Int64, Device::Cpu));
            self.cursor = 0;
        }
        let indices = self
            .order
            .narrow(0, self.cursor as i64, self.batch as i64)
            .to_device(device);
        self.cursor += self.batch;
        indices
    }
}

/// The next training batch as float images (augmented when the config
/// says so) and labels.
fn training_batch(
    sampler: &mut Sampler,
    train: &TensorData,
    config: &TrainConfig,
    kind: DatasetKind,
) -> (Tensor, Tensor) {
    let indices = sampler.next(train.images.device());
    let (x, labels) = train.gather_float(&indices);
    if config.augment {
        (data::augment(&x, kind), labels)
    } else {
        (x, labels)
    }
}

/// Images per evaluation batch.
const EVAL_BATCH: usize = 500;

/// Test accuracy of a float forward function.
pub fn float_accuracy(data: &TensorData, forward: impl Fn(&Tensor) -> Tensor) -> f64 {
    tch::no_grad(|| {
        let mut correct = 0i64;
        for start in (0..data.len()).step_by(EVAL_BATCH) {
            let len = EVAL_BATCH.min(data.len() - start);
            let (x, labels) = data.batch_float(start, len);
            correct += data::correct(&forward(&x), &labels);
        }
        correct as f64 / data.len().max(1) as f64
    })
}

/// Exact integer logits of every image (trainer's own forward, f64).
pub fn integer_logits(layers: &[IntLayer], data: &TensorData) -> Vec<Vec<i64>> {
    let device = data.images.device();
    let tensors: Vec<_> = layers
        .iter()
        .map(|l| l.tensors(Kind::Double, device))
        .collect();
    let mut logits = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(EVAL_BATCH) {
        let len = EVAL_BATCH.min(data.len() - start);
        let images = data.images.narrow(0, start as i64, len as i64);
        let out = quant::int_forward_exact(&tensors, &images).to_device(Device::Cpu);
        let rows: Vec<Vec<f64>> = Vec::from(&out);
        logits.extend(
            rows.into_iter()
                .map(|row| row.into_iter().map(|v| v as i64).collect::<Vec<i64>>()),
        );
    }
    logits
}

/// Accuracy of integer logits (lowest index wins ties, like the contract).
pub fn logits_accuracy(logits: &[Vec<i64>], labels: &[u8]) -> f64 {
    let correct = logits
        .iter()
        .zip(labels)
        .filter(|(row, &label)| {
            let mut best = 0;
            for (index, value) in row.iter().enumerate() {
                if *value > row[best] {
                    best = index;
                }
            }
            best == label as usize
        })
        .count();
    correct as f64 / labels.len().max(1) as f64
}

/// Train the batch-norm teacher with AdamW and a cosine schedule.
pub fn train_teacher(
    config: &TrainConfig,
    specs: Vec<LayerSpec>,
    train: &TensorData,
    kind: DatasetKind,
    progress: bool,
) -> Result<Teacher, TrainError> {
    let device = train.images.device();
    let teacher = Teacher::new(specs, device);
    let mut opt = nn::AdamW {
        wd: config.teacher.weight_decay,
        ..Default::default()
    }
    .build(&teacher.vs, config.teacher.lr)?;
    let mut sampler = Sampler::new(train.len(), config.batch_size);
    // Whole batches only: batch norm needs more than one image per batch.
    let steps_per_epoch = (train.len() / sampler.batch).max(1);
    let total = steps_per_epoch * config.teacher.epochs;
    let bar = bar(progress, total as u64, "teacher");
    let (mut loss_avg, mut acc_avg) = (0.0, 0.0);
    for step in 0..total {
        let (x, labels) = training_batch(&mut sampler, train, config, kind);
        let logits = teacher.forward(&x, true);
        let loss = logits.cross_entropy_for_logits(&labels);
        opt.set_lr(cosine(config.teacher.lr, step, total));
        opt.backward_step(&loss);
        let batch_acc = data::correct(&logits, &labels) as f64 / labels.size()[0] as f64;
        let decay = if step == 0 { 0.0 } else { 0.95 };
        loss_avg = decay * loss_avg + (1.0 - decay) * loss.double_value(&[]);
        acc_avg = decay * acc_avg + (1.0 - decay) * batch_acc;
        bar.set_message(format!(
            "epoch {}/{} loss {loss_avg:.3} acc {:.1}%",
            step / steps_per_epoch + 1,
            config.teacher.epochs,
            100.0 * acc_avg
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(teacher)
}

/// Cross-entropy + temperature-scaled KL to the teacher's logits +
/// normalized MSE to the teacher's activations after `feature_layers`.
fn distillation_loss(
    config: &TrainConfig,
    student: &StudentOutput,
    teacher_hidden: &[Tensor],
    teacher_logits: &Tensor,
    labels: &Tensor,
    feature_layers: &[usize],
) -> Tensor {
    let s = &config.student;
    let t = s.temperature;
    let ce = student.logits.cross_entropy_for_logits(labels);
    let log_ps = (&student.logits / t).log_softmax(-1, Kind::Float);
    let log_pt = (teacher_logits / t).log_softmax(-1, Kind::Float);
    let kl = (log_pt.exp() * (&log_pt - log_ps))
        .sum_dim_intlist(Some([-1i64].as_slice()), false, Kind::Float)
        .mean(Kind::Float)
        * (t * t);
    let mut loss = ce * s.ce_weight + kl * s.kd_weight;
    for &j in feature_layers {
        let target = &teacher_hidden[j];
        // Normalized by the target's mean square so every layer weighs the
        // same whatever its activation scale.
        let norm = target.square().mean(Kind::Float) + 1e-8;
        let mse = (&student.hidden[j] - target).square().mean(Kind::Float) / norm;
        loss += mse * s.feature_weight;
    }
    loss
}

/// Train layers `first..` of the student for `steps` batches against the
/// folded teacher. Returns the smoothed final loss.
#[allow(clippy::too_many_arguments)]
fn train_student(
    config: &TrainConfig,
    student: &mut Student,
    first: usize,
    teacher: &FloatNet,
    train: &TensorData,
    kind: DatasetKind,
    steps: usize,
    feature_layers: &[usize],
    bar: &ProgressBar,
) -> Result<f64, TrainError> {
    let device = train.images.device();
    // A fresh optimizer per stage over the layers still trainable; frozen
    // layers are not in it.
    let vs = nn::VarStore::new(device);
    for index in first..student.layers() {
        if matches!(student.states[index], LayerState::Frozen(_)) {
            continue;
        }
        let root = vs.root();
        student.weights[index] = root.var_copy(
            &format!("l{index}_weight"),
            &student.weights[index].detach(),
        );
        student.biases[index] =
            root.var_copy(&format!("l{index}_bias"), &student.biases[index].detach());
        if let Some(log_scale) = &student.log_scales[index] {
            let clip = root.set_group(CLIP_GROUP);
            let copy = clip.var_copy(&format!("l{index}_log_scale"), &log_scale.detach());
            student.log_scales[index] = Some(copy);
        }
    }
    let learns_clips = student.log_scales[first..].iter().any(Option::is_some);
    let lr = config.student.lr;
    let mut opt = nn::Adam::default().build(&vs, lr)?;
    let mut sampler = Sampler::new(train.len(), config.batch_size);
    let mut loss_avg = 0.0;
    for step in 0..steps {
        let (x, labels) = training_batch(&mut sampler, train, config, kind);
        let (teacher_hidden, teacher_logits) = tch::no_grad(|| teacher.forward_all(&x));
        let out = student.forward(&x);
        let loss = distillation_loss(
            config,
            &out,
            &teacher_hidden,
            &teacher_logits,
            &labels,
            feature_layers,
        );
        opt.set_lr(cosine(lr, step, steps));
        if learns_clips {
            opt.set_lr_group(CLIP_GROUP, cosine(config.student.clip_lr, step, steps));
        }
        opt.backward_step(&loss);
        let decay = if step == 0 { 0.0 } else { 0.95 };
        loss_avg = decay * loss_avg + (1.0 - decay) * loss.double_value(&[]);
        bar.set_message(format!("loss {loss_avg:.3}"));
        bar.inc(1);
    }
    Ok(loss_avg)
}

/// Optimizer parameter group of the learned activation clips (their own
/// learning rate, `student.clip_lr`).
const CLIP_GROUP: usize = 1;

/// Batches that cover `images` training images (at least one).
fn steps_for(images: usize, config: &TrainConfig, train_len: usize) -> usize {
    (images / config.batch_size.min(train_len)).max(1)
}

/// Steps of one progressive stage.
fn stage_steps(config: &TrainConfig, train_len: usize) -> usize {
    steps_for(config.student.stage_images, config, train_len)
}

/// Steps of the joint fine-tune after the stages (0 when it is off).
fn finetune_steps(config: &TrainConfig, train_len: usize) -> usize {
    match config.student.finetune_images {
        0 => 0,
        images => steps_for(images, config, train_len),
    }
}

/// Naive post-training quantization: calibrate each layer's clip on the
/// quantized prefix, quantize, no training.
pub fn post_training_quantization(student: &mut Student, calibration: &Tensor) {
    for index in 0..student.layers() {
        student.calibrate(calibration, index);
        student.freeze(index);
    }
}

/// All layers quantized at once (clips calibrated like PTQ), then trained
/// together with cross-entropy + KL for as many steps as all progressive
/// stages and the joint fine-tune together.
pub fn all_at_once_qat(
    config: &TrainConfig,
    student: &mut Student,
    teacher: &FloatNet,
    train: &TensorData,
    kind: DatasetKind,
    calibration: &Tensor,
    progress: bool,
) -> Result<(), TrainError> {
    for index in 0..student.layers() {
        student.calibrate(calibration, index);
        student.fake_quantize(index);
    }
    let steps =
        stage_steps(config, train.len()) * student.layers() + finetune_steps(config, train.len());
    let bar = bar(progress, steps as u64, "qat baseline");
    train_student(config, student, 0, teacher, train, kind, steps, &[], &bar)?;
    bar.finish_and_clear();
    for index in 0..student.layers() {
        student.freeze(index);
    }
    Ok(())
}

/// The progressive stages: for each layer from the input, calibrate its
/// clip, quantize it, train it and every later layer against the teacher
/// (feature MSE after this layer and the next, CE, KL), then freeze it.
#[allow(clippy::too_many_arguments)]
pub fn progressive_stages(
    config: &TrainConfig,
    student: &mut Student,
    teacher: &FloatNet,
    train: &TensorData,
    kind: DatasetKind,
    calibration: &Tensor,
    test: &TensorData,
    progress: bool,
) -> Result<Vec<StageReport>, TrainError> {
    let steps = stage_steps(config, train.len());
    let layers = student.layers();
    let mut reports = Vec::new();
    for index in 0..layers {
        let started = Instant::now();
        student.calibrate(calibration, index);
        let calibrated_scale = student.scales[index];
        student.fake_quantize(index);
        let features: Vec<usize> = [index, index + 1]
            .into_iter()
            .filter(|&j| j + 1 < layers)
            .collect();
        let label = format!("stage {}/{layers} {}", index + 1, student.specs[index].name);
        let bar = bar(progress, steps as u64, &label);
        let loss = train_student(
            config, student, index, teacher, train, kind, steps, &features, &bar,
        )?;
        bar.finish_and_clear();
        student.freeze(index);
        let seconds = started.elapsed().as_secs_f64();
        // Layers up to this one integer, the rest float: how much each stage
        // costs.
        let test_accuracy = float_accuracy(test, |x| student.forward(x).logits);
        if progress {
            eprintln!("{label}: {:.2}% test accuracy", 100.0 * test_accuracy);
        }
        reports.push(StageReport {
            layer: student.specs[index].name.clone(),
            w_bits: student.bits[index].w_bits,
            out_bits: student.bits[index].out_bits,
            calibrated_scale,
            activation_scale: student.output_scale(index),
            final_loss: loss,
            test_accuracy,
            seconds,
        });
    }
    Ok(reports)
}

/// The joint fine-tune after the stages: every layer fake-quantized again
/// with the clips its stage chose, all trained together (CE, KL and the
/// feature terms of every hidden layer), then frozen. Returns the final
/// loss, or `None` when `student.finetune_images` is 0.
pub fn joint_finetune(
    config: &TrainConfig,
    student: &mut Student,
    teacher: &FloatNet,
    train: &TensorData,
    kind: DatasetKind,
    progress: bool,
) -> Result<Option<f64>, TrainError> {
    let steps = finetune_steps(config, train.len());
    if steps == 0 {
        return Ok(None);
    }
    let layers = student.layers();
    for index in 0..layers {
        student.fake_quantize(index);
    }
    let features: Vec<usize> = (0..layers - 1).collect();
    let bar = bar(progress, steps as u64, "joint fine-tune");
    let loss = train_student(
        config, student, 0, teacher, train, kind, steps, &features, &bar,
    )?;
    bar.finish_and_clear();
    for index in 0..layers {
        student.freeze(index);
    }
    Ok(Some(loss))
}

/// The golden model of integer layers (a flatten before the first linear).
pub fn export_model(
    name: &str,
    width: f64,
    layers: &[IntLayer],
    provenance: Provenance,
) -> Result<Model, TrainError> {
    let specs: Vec<LayerSpec> = layers.iter().map(|l| l.spec.clone()).collect();
    let mut golden_layers = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        if net::flatten_before(&specs, index) {
            golden_layers.push(Layer {
                name: "flatten".into(),
                op: Op::Flatten,
            });
        }
        golden_layers.push(layer.to_golden());
    }
    let input = specs[0].in_shape;
    Ok(Model::new(
        name,
        golden::topology::Preset::AlexnetCifar.name(),
        width,
        input,
        golden::contract::INPUT_BITS,
        provenance,
        golden_layers,
    )?)
}

/// Golden's logits for every image of `data` (fast path).
pub fn golden_logits(model: &Model, data: &TensorData) -> Vec<Vec<i32>> {
    golden::fast::FastModel::new(model).logits_batch(&data.raw.images, |_| {})
}

/// Count logits that differ; also describe the first difference.
pub fn compare_logits(ours: &[Vec<i64>], golden: &[Vec<i32>]) -> (usize, String) {
    let mut mismatches = 0;
    let mut first = String::new();
    for (image, (a, b)) in ours.iter().zip(golden).enumerate() {
        if a.len() != b.len() {
            mismatches += a.len().max(b.len());
            if first.is_empty() {
                first = format!("image {image}: {} vs {} logits", a.len(), b.len());
            }
            continue;
        }
        for (class, (&x, &y)) in a.iter().zip(b).enumerate() {
            if x != y as i64 {
                mismatches += 1;
                if first.is_empty() {
                    first = format!("image {image} class {class}: trainer {x}, golden {y}");
                }
            }
        }
    }
    if ours.len() != golden.len() && first.is_empty() {
        first = format!("{} vs {} images", ours.len(), golden.len());
        mismatches += 1;
    }
    (mismatches, first)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Teacher checkpoint file inside a teacher directory.
pub const TEACHER_FILE: &str = "teacher.safetensors";

fn save_teacher(teacher: &Teacher, dir: &Path, config: &TrainConfig) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    let metadata = HashMap::from([
        ("format".to_string(), "tandem-teacher-v1".to_string()),
        ("dataset".to_string(), config.dataset.clone()),
        ("width".to_string(), config.width.to_string()),
        ("seed".to_string(), config.seed.to_string()),
    ]);
    checkpoint::save(&teacher.vs, &dir.join(TEACHER_FILE), metadata)
}

/// Train teacher and student, export and verify. `progress` draws bars on
/// stderr (hidden when it is not a terminal).
pub fn train(config: &TrainConfig, progress: bool) -> Result<TrainReport, TrainError> {
    config.validate()?;
    let out = config
        .out
        .clone()
        .ok_or_else(|| config.field_error("out", "no output directory given".into()))?;
    let started = Instant::now();
    let threads = config.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    // Debian's libtorch runs on one thread unless told otherwise.
    tch::set_num_threads(threads as i32);
    tch::manual_seed(config.seed as i64);
    let device = Device::cuda_if_available();
    let kind = config.dataset_kind()?;
    let data_dir = config.data_dir()?;
    let say = |line: String| {
        if progress {
            eprintln!("{line}");
        }
    };

    let train_set = TensorData::new(
        datasets::load(kind, Split::Train, Some(&data_dir), config.train_limit)?,
        device,
    );
    let test_set = TensorData::new(
        datasets::load(kind, Split::Test, Some(&data_dir), config.test_limit)?,
        device,
    );
    let specs = net::alexnet_cifar(config.width, kind.in_channels(), kind.classes())?;

    // 1. Teacher.
    let teacher_dir = out.join("teacher");
    let teacher_started = Instant::now();
    let teacher = match &config.teacher.checkpoint {
        Some(dir) => {
            let teacher = Teacher::new(specs.clone(), device);
            let file = if dir.is_dir() {
                dir.join(TEACHER_FILE)
            } else {
                dir.clone()
            };
            checkpoint::load(&teacher.vs, &file)?;
            teacher
        }
        None => train_teacher(config, specs.clone(), &train_set, kind, progress)?,
    };
    save_teacher(&teacher, &teacher_dir, config)?;
    let teacher_seconds = match &config.teacher.checkpoint {
        Some(_) => 0.0,
        None => teacher_started.elapsed().as_secs_f64(),
    };
    let teacher_accuracy = float_accuracy(&test_set, |x| teacher.forward(x, false));
    say(format!(
        "teacher: {:.2}% test accuracy ({teacher_seconds:.0} s)",
        100.0 * teacher_accuracy
    ));

    // 2. Fold the batch norms.
    let folded = teacher.fold();
    let bn_free_float_accuracy = float_accuracy(&test_set, |x| folded.forward(x));
    let fold_max_abs_diff = tch::no_grad(|| {
        let (x, _) = test_set.batch_float(0, EVAL_BATCH.min(test_set.len()));
        (teacher.forward(&x, false) - folded.forward(&x))
            .abs()
            .max()
            .double_value(&[])
    });
    say(format!(
        "BN-free float: {:.2}% (max |logit diff| to the teacher {fold_max_abs_diff:.2e})",
        100.0 * bn_free_float_accuracy
    ));

    let bits = quant::network_bits(
        specs.len(),
        config.wbits,
        config.abits,
        config.first_last_wbits,
    );
    let calibration_len = config.student.calibration_images.min(train_set.len());
    let (calibration, _) = train_set.batch_float(0, calibration_len);

    // 3. Naive PTQ baseline.
    let mut ptq = Student::from_float(&folded, bits.clone());
    post_training_quantization(&mut ptq, &calibration);
    // Baselines are measured with the student's f32 forward of their frozen
    // integer layers (the exact f64 forward is kept for the exported model,
    // where it is compared with golden).
    let ptq_accuracy = float_accuracy(&test_set, |x| ptq.forward(x).logits);
    say(format!("naive PTQ: {:.2}%", 100.0 * ptq_accuracy));

    // 4. All-at-once QAT baseline.
    let (qat_accuracy, qat_seconds) = if config.baselines.qat {
        // Each method draws its batches from its own seeded stream, so
        // whether the baseline runs does not change the student.
        tch::manual_seed(config.seed as i64 + 1);
        let qat_started = Instant::now();
        let mut qat = Student::from_float(&folded, bits.clone());
        qat.learn_clip = config.student.learn_clip;
        all_at_once_qat(
            config,
            &mut qat,
            &folded,
            &train_set,
            kind,
            &calibration,
            progress,
        )?;
        let seconds = qat_started.elapsed().as_secs_f64();
        let accuracy = float_accuracy(&test_set, |x| qat.forward(x).logits);
        say(format!(
            "all-at-once QAT: {:.2}% ({seconds:.0} s)",
            100.0 * accuracy
        ));
        (Some(accuracy), Some(seconds))
    } else {
        (None, None)
    };

    // 5. Progressive stages.
    tch::manual_seed(config.seed as i64 + 2);
    let mut student = Student::from_float(&folded, bits);
    student.learn_clip = config.student.learn_clip;
    let stages = progressive_stages(
        config,
        &mut student,
        &folded,
        &train_set,
        kind,
        &calibration,
        &test_set,
        progress,
    )?;
    let finetune_started = Instant::now();
    let finetune_loss = joint_finetune(config, &mut student, &folded, &train_set, kind, progress)?;
    // Training time only: the per-stage accuracy measurements are left out.
    let student_seconds = stages.iter().map(|stage| stage.seconds).sum::<f64>()
        + finetune_started.elapsed().as_secs_f64();
    let int_layers = student.int_layers().expect("every stage froze its layer");

    // 6. Export and verify against golden.
    let trainer_logits = integer_logits(&int_layers, &test_set);
    let trainer_accuracy = logits_accuracy(&trainer_logits, &test_set.raw.labels);
    let name = format!("tandem-{}-w{}a{}", kind.name(), config.wbits, config.abits);
    let mut notes = std::collections::BTreeMap::new();
    notes.insert("method".into(), "progressive tandem distillation".into());
    notes.insert("teacher_accuracy".into(), format!("{teacher_accuracy:.4}"));
    notes.insert(
        "bn_free_float_accuracy".into(),
        format!("{bn_free_float_accuracy:.4}"),
    );
    notes.insert("ptq_accuracy".into(), format!("{ptq_accuracy:.4}"));
    notes.insert(
        "bits".into(),
        format!(
            "w{} a{}, first/last layer weights {} bits",
            config.wbits, config.abits, config.first_last_wbits
        ),
    );
    notes.insert("in_channels".into(), kind.in_channels().to_string());
    notes.insert("train_images".into(), train_set.len().to_string());
    notes.insert("test_images".into(), test_set.len().to_string());
    notes.insert("preset".into(), config.preset.name().into());
    let provenance = Provenance {
        created_by: Some("tandem train".into()),
        dataset: Some(kind.name().into()),
        seed: Some(config.seed),
        accuracy: None,
        notes,
    };
    let model_dir = out.join("model");
    let mut model = export_model(&name, config.width, &int_layers, provenance)?;
    golden::io::save(&model, &model_dir)?;
    // Verify what is on disk, not what is in memory.
    let loaded = golden::io::load(&model_dir)?;
    let golden = golden_logits(&loaded, &test_set);
    let (logit_mismatches, first_mismatch) = compare_logits(&trainer_logits, &golden);
    let widened: Vec<Vec<i64>> = golden
        .iter()
        .map(|row| row.iter().map(|&v| v as i64).collect())
        .collect();
    let student_accuracy = logits_accuracy(&widened, &test_set.raw.labels);
    // Record golden's accuracy in the model's provenance (only the YAML
    // changes; the tensors are rewritten byte for byte the same).
    let mut provenance = model.provenance.clone();
    provenance.accuracy = Some(student_accuracy);
    model.set_provenance(provenance);
    golden::io::save(&model, &model_dir)?;
    say(format!(
        "progressive student: {:.2}% with golden ({:.2}% trainer forward), {logit_mismatches} logit mismatches ({student_seconds:.0} s)",
        100.0 * student_accuracy,
        100.0 * trainer_accuracy
    ));

    let report = TrainReport {
        dataset: kind.name().into(),
        preset: config.preset.name().into(),
        width: config.width,
        w_bits: config.wbits,
        a_bits: config.abits,
        first_last_w_bits: config.first_last_wbits,
        seed: config.seed,
        train_images: train_set.len(),
        test_images: test_set.len(),
        teacher_accuracy,
        bn_free_float_accuracy,
        fold_max_abs_diff,
        ptq_accuracy,
        qat_accuracy,
        student_accuracy,
        logit_mismatches,
        train_seconds: teacher_seconds + student_seconds + qat_seconds.unwrap_or(0.0),
        teacher_seconds,
        student_seconds,
        qat_seconds,
        total_seconds: started.elapsed().as_secs_f64(),
        threads,
        device: format!("{device:?}"),
        teacher_dir,
        model_dir: model_dir.clone(),
        stages,
        finetune_loss,
        config: config.clone(),
    };
    let summary = out.join("summary.json");
    let json = serde_json::to_string_pretty(&report).expect("report serializes");
    golden::io::write_atomically(&summary, format!("{json}\n").as_bytes())?;
    if logit_mismatches > 0 {
        return Err(TrainError::LogitMismatch {
            mismatches: logit_mismatches,
            images: test_set.len(),
            first: first_mismatch,
            model_dir,
        });
    }
    Ok(report)
}
