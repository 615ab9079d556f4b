//! IDX decoding (MNIST, Fashion-MNIST), from directories and from memory.

mod common;

use common::*;
use datasets::{idx, load, DatasetKind, FileBytes, Split};
use std::path::Path;

#[test]
fn idx_plain_28x28_is_centred_in_32x32() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_train(dir.path(), false);
    let dataset = load_train(DatasetKind::FashionMnist, dir.path()).unwrap();
    assert_eq!(dataset.kind, DatasetKind::FashionMnist);
    assert_eq!(dataset.split, Split::Train);
    assert_eq!(dataset.labels, LABELS);
    assert_eq!(dataset.image_len(), 1024);
    assert_padded_images(&dataset, LABELS.len());
    // Pixel (0,0) of the source lands at (2,2).
    assert_eq!(dataset.image(1)[2 * 32 + 2], pixel(1, 0, 0));
}

#[test]
fn idx_gzipped_decodes_like_plain() {
    let plain_dir = tempfile::tempdir().unwrap();
    let gz_dir = tempfile::tempdir().unwrap();
    write_idx_train(plain_dir.path(), false);
    write_idx_train(gz_dir.path(), true);
    let plain = load_train(DatasetKind::Mnist, plain_dir.path()).unwrap();
    let gzipped = load_train(DatasetKind::Mnist, gz_dir.path()).unwrap();
    assert_eq!(plain, gzipped);
}

#[test]
fn idx_in_memory_decodes_like_files() {
    let dir = tempfile::tempdir().unwrap();
    let from_files = {
        write_idx_train(dir.path(), true);
        load_train(DatasetKind::Mnist, dir.path()).unwrap()
    };
    let images = idx_images(LABELS.len() as u32, 28, 28);
    let labels = gzip(&idx_labels(&LABELS));
    let from_memory = idx::decode(
        DatasetKind::Mnist,
        Split::Train,
        FileBytes {
            path: Path::new("images"),
            bytes: &images,
        },
        FileBytes {
            path: Path::new("labels"),
            bytes: &labels,
        },
        None,
    )
    .unwrap();
    assert_eq!(from_memory, from_files);
}

#[test]
fn idx_multi_member_gzip_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let images = idx_images(LABELS.len() as u32, 28, 28);
    let (first, second) = images.split_at(100);
    let mut members = gzip(first);
    members.extend_from_slice(&gzip(second));
    write_idx_train(dir.path(), true);
    write(dir.path(), "train-images-idx3-ubyte.gz", &members);
    let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
    assert_padded_images(&dataset, LABELS.len());
}

#[test]
fn idx_32x32_passes_through() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_pair(
        dir.path(),
        false,
        &idx_images(2, 32, 32),
        &idx_labels(&[4, 5]),
    );
    let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
    assert_eq!(dataset.labels, [4, 5]);
    for image in 0..2 {
        for row in 0..32 {
            for col in 0..32 {
                assert_eq!(dataset.image(image)[row * 32 + col], pixel(image, row, col));
            }
        }
    }
}

/// A pair written under `names` is found and decoded as `split`.
fn assert_pair_found(names: (String, String), gzipped: bool, split: Split, labels: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let encode = |bytes: &[u8]| if gzipped { gzip(bytes) } else { bytes.to_vec() };
    write(
        dir.path(),
        &names.0,
        &encode(&idx_images(labels.len() as u32, 28, 28)),
    );
    write(dir.path(), &names.1, &encode(&idx_labels(labels)));
    let dataset = load(DatasetKind::FashionMnist, split, Some(dir.path()), None).unwrap();
    assert_eq!(dataset.split, split, "{names:?}");
    assert_eq!(dataset.labels, labels, "{names:?}");
    assert_padded_images(&dataset, labels.len());
}

#[test]
fn idx_every_spelling_of_both_splits_is_accepted() {
    for (prefix, split) in [("train", Split::Train), ("t10k", Split::Test)] {
        for sep in ["-", "."] {
            for (suffix, gzipped) in [("", false), (".gz", true)] {
                assert_pair_found(idx_names(prefix, sep, suffix), gzipped, split, &[8, 2]);
            }
        }
    }
}

#[test]
fn idx_plain_file_wins_over_gz() {
    let dir = tempfile::tempdir().unwrap();
    // A different (but valid) gzipped pair next to the plain one.
    write_idx_pair(dir.path(), true, &idx_images(1, 28, 28), &idx_labels(&[6]));
    write_idx_train(dir.path(), false);
    let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
    assert_eq!(dataset.labels, LABELS);
}

#[test]
fn idx_gz_name_with_plain_content_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (images_name, labels_name) = idx_names("train", "-", ".gz");
    write(dir.path(), &images_name, &idx_images(5, 28, 28));
    write(dir.path(), &labels_name, &idx_labels(&LABELS));
    let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
    assert_eq!(dataset.labels, LABELS);
}

#[test]
fn idx_limit_keeps_the_first_images() {
    for gzipped in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), gzipped);
        let load_limit = |limit| {
            load(
                DatasetKind::Mnist,
                Split::Train,
                Some(dir.path()),
                Some(limit),
            )
        };
        let dataset = load_limit(3).unwrap();
        assert_eq!(dataset.labels, LABELS[..3]);
        assert_padded_images(&dataset, 3);

        assert_eq!(load_limit(100).unwrap().len(), LABELS.len());

        let none = load_limit(0).unwrap();
        assert!(none.is_empty());
        assert!(none.images.is_empty());
    }
}

#[test]
fn idx_limit_reads_only_the_needed_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut images = idx_images(5, 28, 28);
    // Keep the header and two images; the header still promises five.
    images.truncate(16 + 2 * 28 * 28);
    write_idx_pair(dir.path(), false, &images, &idx_labels(&LABELS));
    let dataset = load(DatasetKind::Mnist, Split::Train, Some(dir.path()), Some(2)).unwrap();
    assert_padded_images(&dataset, 2);
    // Without the limit the damage is found.
    let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
    assert!(
        matches!(error, datasets::DatasetError::Truncated { .. }),
        "{error}"
    );
}

#[test]
fn real_fashion_mnist_test_split() {
    let dir = DatasetKind::FashionMnist.default_dir();
    if !dir.is_dir() {
        eprintln!(
            "skipping: {} absent (apt-get install dataset-fashion-mnist)",
            dir.display()
        );
        return;
    }
    let dataset = load(DatasetKind::FashionMnist, Split::Test, None, None).unwrap();
    assert_eq!(dataset.len(), 10_000);
    assert_eq!(
        (dataset.channels, dataset.height, dataset.width),
        (1, 32, 32)
    );
    assert_eq!(dataset.images.len(), 10_000 * 1024);
    assert!(dataset.labels.iter().all(|&label| label < 10));
    assert_eq!(dataset.labels[0], 9);
    assert_eq!(DatasetKind::FashionMnist.class_names()[9], "Ankle boot");
    // The 2-pixel border is pure padding in every image.
    for index in 0..dataset.len() {
        let image = dataset.image(index);
        assert!(image[..2 * 32].iter().all(|&byte| byte == 0));
        assert!(image[30 * 32..].iter().all(|&byte| byte == 0));
    }
    // And there is content inside it.
    assert!(dataset.image(0).iter().any(|&byte| byte != 0));
}
