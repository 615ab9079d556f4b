//! The CIFAR-10 binary format: batches of 3073-byte records (a label byte,
//! then the R, G and B planes of a 32x32 image), five `data_batch_N.bin` for
//! training and one `test_batch.bin`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{check_labels, Dataset, DatasetError, DatasetKind, FileBytes, Split, IMAGE_SIDE};

/// Pixel bytes per CIFAR-10 image: R, G and B planes of 32x32, row-major.
const IMAGE_LEN: usize = 3 * IMAGE_SIDE * IMAGE_SIDE;
/// One record: the label byte, then the image.
pub const CIFAR_RECORD_LEN: usize = 1 + IMAGE_LEN;
/// Subdirectory the official tarball extracts to.
pub const CIFAR_SUBDIR: &str = "cifar-10-batches-bin";

const KIND: DatasetKind = DatasetKind::Cifar10;

/// The batch file names of a split, in reading order.
fn batch_names(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

/// Read a split's batches from `dir` (the caller has checked that it is a
/// directory).
pub(crate) fn load(
    split: Split,
    dir: &Path,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let paths = find_batches(split, dir)?;
    let mut dataset = empty(split);
    let mut remaining = limit.unwrap_or(usize::MAX);
    for path in &paths {
        if remaining == 0 {
            break;
        }
        let records = read_batch_file(path, remaining)?;
        remaining -= append_records(&mut dataset, path, &records)?;
    }
    Ok(dataset)
}

/// Decode one batch held in memory, with the checks [`load`](crate::load)
/// makes of each batch file (errors name `batch.path`). `limit` keeps the
/// first records, like `load`'s.
pub fn decode_batch(
    split: Split,
    batch: FileBytes<'_>,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let records = whole_records(batch.path, batch.bytes.len() as u64)?;
    let kept = records.min(limit.unwrap_or(usize::MAX) as u64) as usize;
    let mut dataset = empty(split);
    append_records(
        &mut dataset,
        batch.path,
        &batch.bytes[..kept * CIFAR_RECORD_LEN],
    )?;
    Ok(dataset)
}

fn empty(split: Split) -> Dataset {
    Dataset {
        kind: KIND.into(),
        split,
        channels: 3,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
        images: Vec::new(),
        labels: Vec::new(),
        wide_labels: None,
        class_names: KIND.class_names().iter().map(|&n| n.to_string()).collect(),
    }
}

/// The paths of every batch of `split`, either directly in `dir` or in the
/// tarball's own subdirectory (files in `dir` itself win). Every batch must
/// be present even when a limit needs only the first: a split with a missing
/// batch is a broken installation worth reporting.
fn find_batches(split: Split, dir: &Path) -> Result<Vec<PathBuf>, DatasetError> {
    let names = batch_names(split);
    let subdir = dir.join(CIFAR_SUBDIR);
    let batch_dir = if !dir.join(&names[0]).exists() && subdir.join(&names[0]).exists() {
        subdir.clone()
    } else {
        dir.to_path_buf()
    };
    let paths: Vec<PathBuf> = names.iter().map(|name| batch_dir.join(name)).collect();
    if let Some(missing) = paths.iter().find(|path| !path.exists()) {
        let also_tried = if batch_dir == dir {
            vec![subdir.join(missing.file_name().unwrap_or_default())]
        } else {
            Vec::new()
        };
        return Err(DatasetError::FileMissing {
            kind: KIND,
            path: missing.clone(),
            also_tried,
        });
    }
    Ok(paths)
}

/// The number of records in a batch of `len` bytes, or an error unless it
/// is a positive whole number of them.
fn whole_records(path: &Path, len: u64) -> Result<u64, DatasetError> {
    if len == 0 || !len.is_multiple_of(CIFAR_RECORD_LEN as u64) {
        return Err(DatasetError::BadRecordLength {
            kind: KIND,
            path: path.to_path_buf(),
            len,
        });
    }
    Ok(len / CIFAR_RECORD_LEN as u64)
}

/// Check the labels of whole `records` read from `path` and append them to
/// `dataset`; returns how many records were appended.
fn append_records(
    dataset: &mut Dataset,
    path: &Path,
    records: &[u8],
) -> Result<usize, DatasetError> {
    let labels: Vec<u8> = records
        .chunks_exact(CIFAR_RECORD_LEN)
        .map(|record| record[0])
        .collect();
    check_labels(KIND, path, &labels)?;
    for record in records.chunks_exact(CIFAR_RECORD_LEN) {
        // The record's pixel layout (R plane, G plane, B plane) is already
        // CHW, so it is copied as is.
        dataset.images.extend_from_slice(&record[1..]);
    }
    dataset.labels.extend_from_slice(&labels);
    Ok(labels.len())
}

/// Read up to `max_records` whole records from one batch file, after checking
/// that the file is a whole number of records.
fn read_batch_file(path: &Path, max_records: usize) -> Result<Vec<u8>, DatasetError> {
    let io_error = |error| DatasetError::Io {
        kind: KIND,
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let records = whole_records(path, len)?.min(max_records as u64);
    let wanted = records * CIFAR_RECORD_LEN as u64;
    let mut bytes = Vec::new();
    file.take(wanted)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    // The length was checked above, so a short read means the file shrank
    // while we were reading it.
    if (bytes.len() as u64) < wanted {
        return Err(DatasetError::Truncated {
            kind: KIND,
            path: path.to_path_buf(),
            expected_bytes: wanted,
            found_bytes: bytes.len() as u64,
        });
    }
    Ok(bytes)
}
