//! The quantized batch-norm teacher of the `quantized-teacher` method
//! (after arXiv 2512.16476): the float teacher, batch norms kept, with its
//! weights and post-BN activations fake-quantized at the student's own
//! bit-widths and fine-tuned from the float teacher. Its quantized
//! activations are the student's layer-wise targets, on the very grid the
//! student's activations live on.

use crate::config::TrainConfig;
use crate::data::TensorData;
use crate::distill::{soft_distillation, Targets};
use crate::error::TrainError;
use crate::net::Teacher;
use crate::progress::Progress;
use crate::quant::{self, LayerBits};
use crate::schedule::{cosine, finetune_steps, RunningMean, Sampler};
use datasets::DatasetKind;
use golden::contract;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::Tensor;

/// The teacher at the student's bit-widths.
pub struct QuantizedTeacher {
    pub net: Teacher,
    pub bits: Vec<LayerBits>,
    /// Output activation scale of every hidden layer (calibrated once on
    /// the post-BN activations, then fixed); `None` for the logits layer.
    pub scales: Vec<Option<f64>>,
}

/// Symmetric per-output-channel weight quantization to `w_bits` in the
/// forward pass (scale `max|W_c| / (2^(w-1) - 1)`, round to nearest, the
/// contract's narrow range), straight-through gradient.
pub fn fake_quant_weight(weight: &Tensor, w_bits: u8) -> Tensor {
    let qmax = contract::weight_range(w_bits).1 as f64;
    let dims: Vec<i64> = (1..weight.dim() as i64).collect();
    let max_abs = weight
        .detach()
        .abs()
        .amax(dims.as_slice(), true)
        .clamp_min(1e-12);
    let scale = max_abs / qmax;
    let quantized = (weight.detach() / &scale).round().clamp(-qmax, qmax) * &scale;
    weight + (quantized - weight.detach()).detach()
}

impl QuantizedTeacher {
    /// Logits and every hidden layer's (quantized) output. `train` runs the
    /// batch norms on batch statistics and updates their running ones.
    pub fn forward_all(&self, x: &Tensor, train: bool) -> (Vec<Tensor>, Tensor) {
        let mut hidden = Vec::new();
        let mut x = x.shallow_clone();
        for (index, spec) in self.net.specs.iter().enumerate() {
            let (weight, bias, norm) = self.net.layer(index);
            let weight = fake_quant_weight(weight, self.bits[index].w_bits);
            let y = spec.apply(&x, &weight, Some(bias));
            x = match (norm, self.bits[index].out_bits, self.scales[index]) {
                (Some(norm), Some(bits), Some(scale)) => {
                    quant::fake_quant_activation(&norm.forward_t(&y, train), scale, bits)
                }
                // Not calibrated yet: the float activation.
                (Some(norm), _, _) => norm.forward_t(&y, train).relu(),
                (None, _, _) => y,
            };
            if norm.is_some() {
                hidden.push(x.shallow_clone());
            }
        }
        (hidden, x)
    }

    /// Quantize `teacher` (a copy; the float one is kept) at `bits`:
    /// calibrate each post-BN activation clip in turn on `calibration` with
    /// the layers before it quantized, then fine-tune against the float
    /// teacher's logits (CE + KL) for `student.finetune_images` images.
    pub fn train(
        config: &TrainConfig,
        teacher: &Teacher,
        bits: Vec<LayerBits>,
        calibration: &Tensor,
        train: &TensorData,
        kind: DatasetKind,
        progress: &Progress,
    ) -> Result<QuantizedTeacher, TrainError> {
        let layers = teacher.specs.len();
        let mut quantized = QuantizedTeacher {
            net: teacher.duplicate()?,
            bits,
            scales: vec![None; layers],
        };
        for index in 0..layers.saturating_sub(1) {
            if let Some(bits) = quantized.bits[index].out_bits {
                let (hidden, _) = tch::no_grad(|| quantized.forward_all(calibration, false));
                quantized.scales[index] = Some(quant::calibrate_scale(&hidden[index], bits));
            }
        }
        let steps = finetune_steps(config, train.len());
        if steps == 0 {
            return Ok(quantized);
        }
        let lr = config.student.lr;
        let mut opt = nn::Adam::default().build(&quantized.net.vs, lr)?;
        let mut sampler = Sampler::new(train.len(), config.batch_size);
        let mut loss_avg = RunningMean::default();
        let mut task = progress.task("quantized BN teacher", steps as u64);
        for step in 0..steps {
            let (x, labels) = sampler.training_batch(train, config, kind);
            let float_logits = tch::no_grad(|| teacher.forward(&x, false));
            let (_, logits) = quantized.forward_all(&x, true);
            let loss = soft_distillation(config, &logits, &float_logits, &labels);
            opt.set_lr(cosine(lr, step, steps));
            opt.backward_step(&loss);
            let loss = loss_avg.add(loss.double_value(&[]));
            task.step(|| format!("loss {loss:.3}"));
        }
        task.finish(&format!("loss {:.3}", loss_avg.value()));
        Ok(quantized)
    }
}

impl Targets for QuantizedTeacher {
    fn targets(&self, x: &Tensor) -> (Vec<Tensor>, Tensor) {
        self.forward_all(x, false)
    }
}

/// Test accuracy of the quantized teacher (eval mode).
pub fn accuracy(teacher: &QuantizedTeacher, test: &TensorData) -> f64 {
    crate::evaluate::float_accuracy(test, |x| teacher.forward_all(x, false).1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_land_on_the_narrow_range_grid_of_their_channel() {
        let w = Tensor::of_slice(&[0.5f32, -0.2, 0.1, 1.0, -3.0, 0.7]).view([2, 3]);
        let q = fake_quant_weight(&w, 2);
        let q: Vec<f32> = Vec::from(&q.flatten(0, -1));
        // 2 bits: {-1, 0, 1} times max|W_c|.
        assert_eq!(q, vec![0.5, -0.0, 0.0, 0.0, -3.0, 0.0]);
        let q: Vec<f32> = Vec::from(&fake_quant_weight(&w, 8).flatten(0, -1));
        assert!((q[1] + 0.2).abs() < 0.5 / 127.0);
    }
}
