//! Measuring networks on the test split: float accuracy, the trainer's
//! exact integer logits, golden's logits, and comparing the two.

use crate::data::{self, TensorData};
use crate::quant::{self, IntLayer};
use golden::model::Model;
use tch::{Device, Kind, Tensor};

/// Images per evaluation batch.
pub const EVAL_BATCH: usize = 500;

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
