//! What each training step sees: batches drawn without replacement, the
//! cosine learning rate, and how many steps each phase gets.

use crate::config::TrainConfig;
use crate::data::{self, TensorData};
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
