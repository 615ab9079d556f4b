//! Datasets as tensors, batching and augmentation.

use datasets::{Dataset, DatasetKind};
use tch::{Device, Kind, Tensor};

/// A dataset split held as tensors on the training device.
pub struct TensorData {
    /// Raw pixels, `u8`, `[N, C, 32, 32]`.
    pub images: Tensor,
    /// Labels, `i64`, `[N]`.
    pub labels: Tensor,
    /// The golden dataset (raw bytes) it came from, for the golden forward.
    pub raw: Dataset,
}

impl TensorData {
    pub fn new(raw: Dataset, device: Device) -> TensorData {
        let n = raw.len() as i64;
        let images = Tensor::of_slice(&raw.images)
            .view([n, raw.channels as i64, raw.height as i64, raw.width as i64])
            .to_device(device);
        let labels = Tensor::of_slice(&raw.labels)
            .to_kind(Kind::Int64)
            .to_device(device);
        TensorData {
            images,
            labels,
            raw,
        }
    }

    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Images `[start, start + len)` scaled to `[0, 1]` (pixel / 255: no mean
    /// subtraction, so the integer network's zero padding means black).
    pub fn batch_float(&self, start: usize, len: usize) -> (Tensor, Tensor) {
        let images = self.images.narrow(0, start as i64, len as i64);
        let labels = self.labels.narrow(0, start as i64, len as i64);
        (images.to_kind(Kind::Float) / 255.0, labels)
    }

    /// Images at `indices` (an `i64` tensor) scaled to `[0, 1]`.
    pub fn gather_float(&self, indices: &Tensor) -> (Tensor, Tensor) {
        let images = self.images.index_select(0, indices);
        let labels = self.labels.index_select(0, indices);
        (images.to_kind(Kind::Float) / 255.0, labels)
    }
}

/// Pixels of zero padding for the random-crop augmentation.
const CROP_PAD: i64 = 2;

/// Light augmentation: a random crop of the image padded by 2 black pixels
/// (a shift of up to 2 pixels each way), per image, and for CIFAR-10 a
/// random horizontal flip. Random numbers come from libtorch's seeded
/// generator, so runs are reproducible.
pub fn augment(x: &Tensor, kind: DatasetKind) -> Tensor {
    let size = x.size();
    let (n, h, w) = (size[0], size[2], size[3]);
    let padded = x.constant_pad_nd(&[CROP_PAD, CROP_PAD, CROP_PAD, CROP_PAD]);
    let offsets = Tensor::randint(2 * CROP_PAD + 1, &[n, 2], (Kind::Int64, Device::Cpu));
    let offsets: Vec<i64> = Vec::from(&offsets.flatten(0, -1));
    let crops: Vec<Tensor> = (0..n as usize)
        .map(|i| {
            padded
                .get(i as i64)
                .narrow(1, offsets[2 * i], h)
                .narrow(2, offsets[2 * i + 1], w)
        })
        .collect();
    let mut out = Tensor::stack(&crops, 0);
    if kind == DatasetKind::Cifar10 {
        let flip = Tensor::randint(2, &[n, 1, 1, 1], (Kind::Bool, x.device()));
        out = out.flip(&[3]).where_self(&flip, &out);
    }
    out
}

/// Argmax accuracy of logits against labels, as a count.
pub fn correct(logits: &Tensor, labels: &Tensor) -> i64 {
    logits
        .argmax(-1, false)
        .eq_tensor(labels)
        .sum(Kind::Int64)
        .int64_value(&[])
}
