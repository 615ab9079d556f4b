//! What a run measured and where it put things: `summary.json`.

use crate::config::TrainConfig;
use crate::method::Method;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// How the exported student was trained (summaries written before
    /// methods existed were all `progressive`).
    #[serde(default = "progressive")]
    pub method: Method,
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
    /// The student trained by `method`, measured with golden on the
    /// exported model.
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
    /// SHA-256 of the teacher's weights
    /// ([`crate::checkpoint::weights_digest`]): tells whether two runs
    /// distilled the same teacher after its folder is gone (summaries
    /// written before it existed have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher_digest: Option<String>,
    pub model_dir: PathBuf,
    /// Per progressive stage: layer name, activation scale chosen, last
    /// training loss (empty for methods without stages).
    pub stages: Vec<StageReport>,
    /// Final loss of the joint fine-tune; `None` when it is off.
    pub finetune_loss: Option<f64>,
    /// Final loss of each bit-width phase, widest first (bit-progressive
    /// only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phase_losses: Vec<f64>,
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

/// A report of a quick-preset run at `bits` (weights and activations) with
/// made-up figures, for tests of what is built from reports.
#[cfg(test)]
pub(crate) fn sample_report(bits: u8, method: Method, seed: u64, accuracy: f64) -> TrainReport {
    let config = TrainConfig::preset(crate::Preset::Quick);
    TrainReport {
        dataset: "fashion-mnist".into(),
        preset: "quick".into(),
        width: config.width,
        w_bits: bits,
        a_bits: bits,
        first_last_w_bits: 8,
        seed,
        method,
        train_images: 60_000,
        test_images: 10_000,
        teacher_accuracy: 0.9 + seed as f64 * 0.001,
        bn_free_float_accuracy: 0.9,
        fold_max_abs_diff: 0.0,
        ptq_accuracy: 0.5,
        qat_accuracy: None,
        student_accuracy: accuracy,
        logit_mismatches: 0,
        train_seconds: 1.0,
        teacher_seconds: 0.0,
        student_seconds: 1.0,
        qat_seconds: None,
        total_seconds: 1.0,
        threads: 2,
        device: "Cpu".into(),
        teacher_dir: PathBuf::from("t"),
        teacher_digest: None,
        model_dir: PathBuf::from("m"),
        stages: Vec::new(),
        finetune_loss: None,
        phase_losses: Vec::new(),
        config,
    }
}

fn progressive() -> Method {
    Method::Progressive
}
