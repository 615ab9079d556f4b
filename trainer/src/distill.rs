//! Training integer students against the folded teacher: the progressive
//! stages, the joint fine-tune, and the two baselines (naive PTQ and
//! all-layers-at-once QAT).

use crate::config::TrainConfig;
use crate::data::TensorData;
use crate::error::TrainError;
use crate::evaluate::float_accuracy;
use crate::net::FloatNet;
use crate::progress::{Progress, Task};
use crate::quant;
use crate::schedule::{
    cosine, finetune_steps, method_steps, stage_steps_each, RunningMean, Sampler,
};
use crate::student::{LayerState, Student, StudentOutput};
use crate::summary::StageReport;
use datasets::DatasetKind;
use std::time::Instant;
use tch::{nn, nn::OptimizerConfig, Kind, Tensor};

/// Optimizer parameter group of the learned activation clips and weight
/// shifts (their own learning rate, `student.clip_lr`).
const CLIP_GROUP: usize = 1;

/// What a student is distilled from: the teacher's output of every hidden
/// layer and its logits, for a batch.
pub trait Targets {
    fn targets(&self, x: &Tensor) -> (Vec<Tensor>, Tensor);
}

impl Targets for FloatNet {
    fn targets(&self, x: &Tensor) -> (Vec<Tensor>, Tensor) {
        self.forward_all(x)
    }
}

/// What every student trains against: the configuration, the teacher's
/// targets (the folded float teacher, or the quantized BN teacher) and the
/// training images.
pub struct Distillation<'a> {
    pub config: &'a TrainConfig,
    pub teacher: &'a dyn Targets,
    pub train: &'a TensorData,
    pub kind: DatasetKind,
}

/// Cross-entropy on the labels + temperature-scaled KL to the teacher's
/// logits, weighted by `student.ce_weight` and `student.kd_weight`.
pub fn soft_distillation(
    config: &TrainConfig,
    logits: &Tensor,
    teacher_logits: &Tensor,
    labels: &Tensor,
) -> Tensor {
    let s = &config.student;
    let t = s.temperature;
    let ce = logits.cross_entropy_for_logits(labels);
    let log_ps = (logits / t).log_softmax(-1, Kind::Float);
    let log_pt = (teacher_logits / t).log_softmax(-1, Kind::Float);
    let kl = (log_pt.exp() * (&log_pt - log_ps))
        .sum_dim_intlist(Some([-1i64].as_slice()), false, Kind::Float)
        .mean(Kind::Float)
        * (t * t);
    ce * s.ce_weight + kl * s.kd_weight
}

/// [`soft_distillation`] + normalized MSE to the teacher's activations
/// after `feature_layers`.
fn distillation_loss(
    config: &TrainConfig,
    student: &StudentOutput,
    teacher_hidden: &[Tensor],
    teacher_logits: &Tensor,
    labels: &Tensor,
    feature_layers: &[usize],
) -> Tensor {
    let s = &config.student;
    let mut loss = soft_distillation(config, &student.logits, teacher_logits, labels);
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

/// Give layers `first..` that are not frozen fresh variables in `vs`, so a
/// new optimizer trains exactly them (learned clips in their own group).
fn trainable_copies(student: &mut Student, first: usize, vs: &nn::VarStore) {
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
        let clip = root.set_group(CLIP_GROUP);
        if let Some(log_scale) = &student.log_scales[index] {
            let copy = clip.var_copy(&format!("l{index}_log_scale"), &log_scale.detach());
            student.log_scales[index] = Some(copy);
        }
        if let Some(shifts) = &student.learned_shifts[index] {
            let copy = clip.var_copy(&format!("l{index}_shifts"), &shifts.detach());
            student.learned_shifts[index] = Some(copy);
        }
    }
}

impl Distillation<'_> {
    /// Train layers `first..` of the student for `steps` batches against
    /// the teacher. Returns the smoothed final loss.
    fn train_student(
        &self,
        student: &mut Student,
        first: usize,
        steps: usize,
        feature_layers: &[usize],
        task: &mut Task,
    ) -> Result<f64, TrainError> {
        let config = self.config;
        // A fresh optimizer per stage over the layers still trainable;
        // frozen layers are not in it.
        let vs = nn::VarStore::new(self.train.images.device());
        trainable_copies(student, first, &vs);
        let learns_clips = student.log_scales[first..].iter().any(Option::is_some)
            || student.learned_shifts[first..].iter().any(Option::is_some);
        let lr = config.student.lr;
        let mut opt = nn::Adam::default().build(&vs, lr)?;
        let mut sampler = Sampler::new(self.train.len(), config.batch_size);
        let mut loss_avg = RunningMean::default();
        for step in 0..steps {
            let (x, labels) = sampler.training_batch(self.train, config, self.kind);
            let (teacher_hidden, teacher_logits) = tch::no_grad(|| self.teacher.targets(&x));
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
            let loss = loss_avg.add(loss.double_value(&[]));
            task.step(|| format!("loss {loss:.3}"));
        }
        Ok(loss_avg.value())
    }

    /// All layers quantized at once (clips calibrated like PTQ), then
    /// trained together with cross-entropy + KL for as many steps as all
    /// progressive stages and the joint fine-tune together. `label` names
    /// the phase in progress lines.
    pub fn all_at_once_qat(
        &self,
        student: &mut Student,
        calibration: &Tensor,
        label: &str,
        progress: &Progress,
    ) -> Result<(), TrainError> {
        for index in 0..student.layers() {
            student.calibrate(calibration, index);
            student.fake_quantize(index);
        }
        let steps = method_steps(self.config, self.train.len(), student.layers());
        let mut task = progress.task(label, steps as u64);
        let loss = self.train_student(student, 0, steps, &[], &mut task)?;
        task.finish(&format!("loss {loss:.3}"));
        for index in 0..student.layers() {
            student.freeze(index);
        }
        Ok(())
    }

    /// All-at-once QAT in phases of falling bit-width (`schedule`, widest
    /// first, the target last; see [`crate::Method::bit_schedule`]). Each
    /// phase recalibrates every clip for its bits on the weights the phase
    /// before left and trains all layers together (CE + KL) for an equal
    /// share of the same steps all-at-once QAT gets. Returns the phases'
    /// final losses.
    pub fn bit_progressive_qat(
        &self,
        student: &mut Student,
        calibration: &Tensor,
        schedule: &[(u8, u8)],
        progress: &Progress,
    ) -> Result<Vec<f64>, TrainError> {
        let layers = student.layers();
        let total = method_steps(self.config, self.train.len(), layers);
        let phases = schedule.len().max(1);
        let mut losses = Vec::new();
        for (phase, &(w_bits, a_bits)) in schedule.iter().enumerate() {
            let steps = (total / phases + usize::from(phase < total % phases)).max(1);
            student.bits =
                quant::network_bits(layers, w_bits, a_bits, self.config.first_last_wbits);
            for index in 0..layers {
                // A clip or shift learned at wider bits is only a starting
                // point: calibrate and choose again for these bits.
                student.log_scales[index] = None;
                student.learned_shifts[index] = None;
                student.calibrate(calibration, index);
                student.fake_quantize(index);
            }
            let label = format!("bit-progressive {}/{phases} W{w_bits}A{a_bits}", phase + 1);
            let mut task = progress.task(&label, steps as u64);
            let loss = self.train_student(student, 0, steps, &[], &mut task)?;
            task.finish(&format!("loss {loss:.3}"));
            losses.push(loss);
        }
        for index in 0..layers {
            student.freeze(index);
        }
        Ok(losses)
    }

    /// The progressive stages: for each layer from the input, calibrate its
    /// clip, quantize it, train it and every later layer against the
    /// teacher (feature MSE after this layer and the next, CE, KL), then
    /// freeze it. After each stage the test accuracy of the student as it
    /// stands is measured.
    pub fn progressive_stages(
        &self,
        student: &mut Student,
        calibration: &Tensor,
        test: &TensorData,
        progress: &Progress,
    ) -> Result<Vec<StageReport>, TrainError> {
        let layers = student.layers();
        let stage_steps = stage_steps_each(self.config, self.train.len(), layers);
        let mut reports = Vec::new();
        for (index, &steps) in stage_steps.iter().enumerate() {
            let started = Instant::now();
            // A student whose clips came with its teacher (the quantized BN
            // teacher's) keeps them.
            if student.scales[index].is_none() {
                student.calibrate(calibration, index);
            }
            let calibrated_scale = student.scales[index];
            student.fake_quantize(index);
            let features: Vec<usize> = [index, index + 1]
                .into_iter()
                .filter(|&j| j + 1 < layers)
                .collect();
            let label = format!("stage {}/{layers} {}", index + 1, student.specs[index].name);
            let mut task = progress.task(&label, steps as u64);
            let loss = self.train_student(student, index, steps, &features, &mut task)?;
            task.finish(&format!("loss {loss:.3}"));
            student.freeze(index);
            let seconds = started.elapsed().as_secs_f64();
            // Layers up to this one integer, the rest float: how much each
            // stage costs.
            let test_accuracy = float_accuracy(test, |x| student.forward(x).logits);
            progress.say(&format!(
                "{label}: {:.2}% test accuracy",
                100.0 * test_accuracy
            ));
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

    /// The joint fine-tune after the stages: every layer fake-quantized
    /// again with the clips its stage chose, all trained together (CE, KL
    /// and the feature terms of every hidden layer), then frozen. Returns
    /// the final loss, or `None` when `student.finetune_images` is 0.
    pub fn joint_finetune(
        &self,
        student: &mut Student,
        progress: &Progress,
    ) -> Result<Option<f64>, TrainError> {
        let steps = finetune_steps(self.config, self.train.len());
        if steps == 0 {
            return Ok(None);
        }
        let layers = student.layers();
        for index in 0..layers {
            student.fake_quantize(index);
        }
        let features: Vec<usize> = (0..layers - 1).collect();
        let mut task = progress.task("joint fine-tune", steps as u64);
        let loss = self.train_student(student, 0, steps, &features, &mut task)?;
        task.finish(&format!("loss {loss:.3}"));
        for index in 0..layers {
            student.freeze(index);
        }
        Ok(Some(loss))
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
