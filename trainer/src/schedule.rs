//! What each training step sees: batches drawn without replacement, the
//! cosine learning rate, and how many steps each phase gets.

use crate::config::TrainConfig;
use crate::data::{self, TensorData};
use crate::error::TrainError;
use datasets::DatasetKind;
use tch::{Device, Kind, Tensor};

/// Cosine decay from `lr` to 0 over `total` steps.
pub fn cosine(lr: f64, step: usize, total: usize) -> f64 {
    let t = step as f64 / total.max(1) as f64;
    lr * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
}

/// Random batches without replacement, reshuffled every pass.
pub struct Sampler {
    order: Tensor,
    cursor: usize,
    len: usize,
    batch: usize,
}

impl Sampler {
    /// Batches of `batch` (at most `len`) indices into `len` images.
    pub fn new(len: usize, batch: usize) -> Sampler {
        Sampler {
            order: Tensor::randperm(len as i64, (Kind::Int64, Device::Cpu)),
            cursor: 0,
            len,
            batch: batch.min(len),
        }
    }

    /// Images per batch.
    pub fn batch(&self) -> usize {
        self.batch
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

    /// The next training batch as float images (augmented when the config
    /// says so) and labels.
    pub fn training_batch(
        &mut self,
        train: &TensorData,
        config: &TrainConfig,
        kind: DatasetKind,
    ) -> (Tensor, Tensor) {
        let indices = self.next(train.images.device());
        let (x, labels) = train.gather_float(&indices);
        if config.augment {
            (data::augment(&x, kind), labels)
        } else {
            (x, labels)
        }
    }
}

/// Batches that cover `images` training images (at least one).
fn steps_for(images: usize, config: &TrainConfig, train_len: usize) -> usize {
    (images / config.batch_size.min(train_len)).max(1)
}

/// Steps of one progressive stage.
pub fn stage_steps(config: &TrainConfig, train_len: usize) -> usize {
    steps_for(config.student.stage_images, config, train_len)
}

/// Steps of each of `layers` progressive stages: [`stage_steps`] each, or
/// their total split by `student.stage_shares` (largest remainder, so the
/// total stays the same; at least one step per stage). The shares must
/// number `layers` (checked by [`check_stage_shares`]).
pub fn stage_steps_each(config: &TrainConfig, train_len: usize, layers: usize) -> Vec<usize> {
    let each = stage_steps(config, train_len);
    let shares = &config.student.stage_shares;
    if shares.is_empty() {
        return vec![each; layers];
    }
    let total = each * layers;
    let sum: f64 = shares.iter().sum();
    let exact: Vec<f64> = shares.iter().map(|s| total as f64 * s / sum).collect();
    let mut steps: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
    let mut by_remainder: Vec<usize> = (0..layers).collect();
    by_remainder.sort_by(|&a, &b| {
        let remainder = |i: usize| exact[i] - exact[i].floor();
        remainder(b).total_cmp(&remainder(a)).then(a.cmp(&b))
    });
    let short = total.saturating_sub(steps.iter().sum::<usize>());
    for &i in by_remainder.iter().take(short) {
        steps[i] += 1;
    }
    steps.iter().map(|&s| s.max(1)).collect()
}

/// `student.stage_shares` must be empty or give one share per stage.
pub fn check_stage_shares(config: &TrainConfig, stage_names: &[String]) -> Result<(), TrainError> {
    let shares = config.student.stage_shares.len();
    if shares == 0 || shares == stage_names.len() {
        return Ok(());
    }
    Err(config.field_error(
        "student.stage_shares",
        format!(
            "student.stage_shares lists {shares} shares; this network has {} stages ({}), so list \
             one share per stage or none",
            stage_names.len(),
            stage_names.join(", ")
        ),
    ))
}

/// Steps of the joint fine-tune after the stages (0 when it is off).
pub fn finetune_steps(config: &TrainConfig, train_len: usize) -> usize {
    match config.student.finetune_images {
        0 => 0,
        images => steps_for(images, config, train_len),
    }
}

/// Steps every method trains for: `layers` stages and the joint fine-tune.
/// The methods that have no stages (all-at-once QAT, bit-progressive) spend
/// the same steps their own way, so they are compared at equal training.
pub fn method_steps(config: &TrainConfig, train_len: usize, layers: usize) -> usize {
    stage_steps(config, train_len) * layers + finetune_steps(config, train_len)
}

/// Smoothed loss: an exponential moving average that starts at the first
/// value.
#[derive(Debug, Default)]
pub struct RunningMean {
    value: f64,
    started: bool,
}

impl RunningMean {
    pub fn add(&mut self, x: f64) -> f64 {
        let decay = if self.started { 0.95 } else { 0.0 };
        self.value = decay * self.value + (1.0 - decay) * x;
        self.started = true;
        self.value
    }

    pub fn value(&self) -> f64 {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Preset;

    #[test]
    fn stage_shares_split_the_same_total_of_steps() {
        let mut config = TrainConfig::preset(Preset::Quick);
        let each = stage_steps(&config, 60_000);
        assert_eq!(stage_steps_each(&config, 60_000, 7), vec![each; 7]);

        config.student.stage_shares = vec![2.0, 2.0, 1.0, 1.0, 1.0, 0.5, 0.5];
        let steps = stage_steps_each(&config, 60_000, 7);
        assert_eq!(steps.iter().sum::<usize>(), each * 7, "{steps:?}");
        assert_eq!(steps[0], steps[1]);
        assert!(
            steps[0] >= 2 * steps[2] - 1 && steps[0] <= 2 * steps[2] + 1,
            "{steps:?}"
        );
        assert!(steps[5] < steps[2], "{steps:?}");
    }

    #[test]
    fn stage_shares_of_the_wrong_length_name_the_stages() {
        let mut config = TrainConfig::preset(Preset::Quick);
        config.student.stage_shares = vec![1.0, 2.0];
        let names: Vec<String> = ["conv1", "conv2", "fc3"].map(String::from).to_vec();
        let message = check_stage_shares(&config, &names).unwrap_err().to_string();
        assert!(message.contains("lists 2 shares"), "{message}");
        assert!(
            message.contains("3 stages (conv1, conv2, fc3)"),
            "{message}"
        );
        config.student.stage_shares = vec![1.0; 3];
        assert!(check_stage_shares(&config, &names).is_ok());
    }
}
