//! Synthetic dataset files for the reader tests.
#![allow(dead_code)] // each test file uses a different subset

use datasets::{load, Dataset, DatasetError, DatasetKind, Split};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A distinct, never-zero pixel value, so padding zeros cannot be confused
/// with image content.
pub fn pixel(image: usize, row: usize, col: usize) -> u8 {
    ((image * 31 + row * 7 + col * 3) % 250 + 1) as u8
}

pub fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for value in [datasets::idx::IMAGES_MAGIC, count, rows, cols] {
        bytes.extend_from_slice(&value.to_be_bytes());
    }
    for image in 0..count as usize {
        for row in 0..rows as usize {
            for col in 0..cols as usize {
                bytes.push(pixel(image, row, col));
            }
        }
    }
    bytes
}

pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&datasets::idx::LABELS_MAGIC.to_be_bytes());
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

pub const LABELS: [u8; 5] = [3, 0, 9, 1, 7];

/// Names of a split's IDX pair: `{prefix}-images{sep}idx3-ubyte{suffix}` and
/// the labels' likewise (`sep` is `-` canonically, `.` on some mirrors).
pub fn idx_names(prefix: &str, sep: &str, suffix: &str) -> (String, String) {
    (
        format!("{prefix}-images{sep}idx3-ubyte{suffix}"),
        format!("{prefix}-labels{sep}idx1-ubyte{suffix}"),
    )
}

/// Write an IDX pair under the canonical train names, plain or gzipped
/// (`.gz` names, gzipped content); returns the image and label paths.
pub fn write_idx_pair(
    dir: &Path,
    gzipped: bool,
    images: &[u8],
    labels: &[u8],
) -> (PathBuf, PathBuf) {
    let suffix = if gzipped { ".gz" } else { "" };
    let (images_name, labels_name) = idx_names("train", "-", suffix);
    let encode = |bytes: &[u8]| if gzipped { gzip(bytes) } else { bytes.to_vec() };
    (
        write(dir, &images_name, &encode(images)),
        write(dir, &labels_name, &encode(labels)),
    )
}

/// Write a 5-image 28x28 train split (plain or gzipped); returns the
/// image and label file paths.
pub fn write_idx_train(dir: &Path, gzipped: bool) -> (PathBuf, PathBuf) {
    write_idx_pair(
        dir,
        gzipped,
        &idx_images(LABELS.len() as u32, 28, 28),
        &idx_labels(&LABELS),
    )
}

pub fn load_train(kind: DatasetKind, dir: &Path) -> Result<Dataset, DatasetError> {
    load(kind, Split::Train, Some(dir), None)
}

/// Check that `dataset` holds the first `count` synthetic 28x28 images
/// centred in 32x32 frames of zeros.
pub fn assert_padded_images(dataset: &Dataset, count: usize) {
    assert_eq!(dataset.len(), count);
    assert_eq!(
        (dataset.channels, dataset.height, dataset.width),
        (1, 32, 32)
    );
    assert_eq!(dataset.images.len(), count * 32 * 32);
    for image in 0..count {
        let frame = dataset.image(image);
        for row in 0..32 {
            for col in 0..32 {
                let inside = (2..30).contains(&row) && (2..30).contains(&col);
                let expected = if inside {
                    pixel(image, row - 2, col - 2)
                } else {
                    0
                };
                assert_eq!(
                    frame[row * 32 + col],
                    expected,
                    "image {image} ({row},{col})"
                );
            }
        }
    }
}

pub fn assert_names_path(error: &DatasetError, path: &Path) {
    let message = error.to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "message does not name {}: {message}",
        path.display()
    );
}

/// Pixel `(channel, row, col)` of CIFAR image number `image` (counted
/// across all batches of a split).
pub fn cifar_pixel(image: usize, channel: usize, row: usize, col: usize) -> u8 {
    ((image * 13 + channel * 101 + row * 5 + col) % 256) as u8
}

pub fn cifar_batch(first_image: usize, labels: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for (offset, &label) in labels.iter().enumerate() {
        bytes.push(label);
        for channel in 0..3 {
            for row in 0..32 {
                for col in 0..32 {
                    bytes.push(cifar_pixel(first_image + offset, channel, row, col));
                }
            }
        }
    }
    bytes
}

/// Five train batches of two images each (labels 0..10 in order) and a
/// test batch of three.
pub fn write_cifar(dir: &Path) {
    for batch in 0..5 {
        let labels = [2 * batch as u8, 2 * batch as u8 + 1];
        write(
            dir,
            &format!("data_batch_{}.bin", batch + 1),
            &cifar_batch(2 * batch, &labels),
        );
    }
    write(dir, "test_batch.bin", &cifar_batch(100, &[9, 8, 7]));
}

pub fn assert_cifar_images(dataset: &Dataset, first_image: usize) {
    assert_eq!(
        (dataset.channels, dataset.height, dataset.width),
        (3, 32, 32)
    );
    assert_eq!(dataset.image_len(), 3072);
    assert_eq!(dataset.images.len(), dataset.len() * 3072);
    for index in 0..dataset.len() {
        let image = dataset.image(index);
        for channel in 0..3 {
            for row in 0..32 {
                for col in 0..32 {
                    assert_eq!(
                        image[(channel * 32 + row) * 32 + col],
                        cifar_pixel(first_image + index, channel, row, col)
                    );
                }
            }
        }
    }
}

/// `result` must be an error that `is` accepts and that names `path`;
/// returns it for further checks.
pub fn expect_error(
    result: Result<Dataset, DatasetError>,
    is: fn(&DatasetError) -> bool,
    path: &Path,
) -> DatasetError {
    let error = result.expect_err("a broken dataset was accepted");
    assert!(is(&error), "unexpected error: {error}");
    assert_names_path(&error, path);
    error
}

pub fn load_cifar(dir: &Path, split: Split, limit: Option<usize>) -> Result<Dataset, DatasetError> {
    load(DatasetKind::Cifar10, split, Some(dir), limit)
}
