//! CIFAR-10 binary batches, from directories and from memory.

mod common;

use common::*;
use datasets::{cifar, DatasetKind, FileBytes, Split};
use std::fs;
use std::path::Path;

#[test]
fn cifar_train_reads_all_batches_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let dataset = load_train(DatasetKind::Cifar10, dir.path()).unwrap();
    assert_eq!(dataset.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_cifar_images(&dataset, 0);
}

#[test]
fn cifar_limit_spans_batches() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let dataset = load_cifar(dir.path(), Split::Train, Some(5)).unwrap();
    assert_eq!(dataset.labels, [0, 1, 2, 3, 4]);
    assert_cifar_images(&dataset, 0);
}

#[test]
fn cifar_test_batch_in_tarball_subdirectory() {
    let dir = tempfile::tempdir().unwrap();
    let subdir = dir.path().join("cifar-10-batches-bin");
    fs::create_dir(&subdir).unwrap();
    write_cifar(&subdir);
    let dataset = load_cifar(dir.path(), Split::Test, None).unwrap();
    assert_eq!(dataset.split, Split::Test);
    assert_eq!(dataset.labels, [9, 8, 7]);
    assert_cifar_images(&dataset, 100);
}

#[test]
fn cifar_in_memory_batch_decodes_like_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let from_file = load_cifar(dir.path(), Split::Test, None).unwrap();
    let bytes = cifar_batch(100, &[9, 8, 7]);
    let batch = FileBytes {
        path: Path::new("test_batch.bin"),
        bytes: &bytes,
    };
    assert_eq!(
        cifar::decode_batch(Split::Test, batch, None).unwrap(),
        from_file
    );
    let first_two = cifar::decode_batch(Split::Test, batch, Some(2)).unwrap();
    assert_eq!(first_two.labels, [9, 8]);
    assert_cifar_images(&first_two, 100);
}
