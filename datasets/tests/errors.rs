//! Every way a dataset can be broken gives a DatasetError that names the
//! file and the directory that was looked in.

mod common;

use common::*;
use datasets::idx::{IMAGES_MAGIC, LABELS_MAGIC};
use datasets::{cifar, idx, load, DatasetError, DatasetKind, FileBytes, Split};
use std::fs;
use std::path::Path;

#[test]
fn missing_default_directory_says_how_to_install() {
    // Only meaningful where the default directory is absent (MNIST is not
    // packaged, so it normally is).
    let kind = DatasetKind::Mnist;
    if kind.default_dir().exists() {
        eprintln!("skipping: {} exists", kind.default_dir().display());
        return;
    }
    let error = load(kind, Split::Train, None, None).unwrap_err();
    assert!(matches!(error, DatasetError::DirMissing { .. }), "{error}");
    let message = error.to_string();
    for expected in [
        "/usr/share/datasets/mnist",
        "--data-dir",
        "t10k-labels-idx1-ubyte",
    ] {
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn missing_given_directory_names_it_and_not_the_default() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("nowhere");
    for (kind, file) in [
        (DatasetKind::FashionMnist, "train-images-idx3-ubyte"),
        (DatasetKind::Mnist, "t10k-labels-idx1-ubyte"),
        (DatasetKind::Cifar10, "data_batch_1.bin"),
    ] {
        let error = expect_error(
            load_train(kind, &dir),
            |e| matches!(e, DatasetError::DirMissing { .. }),
            &dir,
        );
        let message = error.to_string();
        assert!(message.contains(file), "{message}");
        assert!(
            !message.contains(&kind.default_dir().display().to_string()),
            "names the default directory: {message}"
        );
    }
    let error = load_train(DatasetKind::FashionMnist, &dir).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("apt-get install dataset-fashion-mnist"),
        "{error}"
    );
}

#[test]
fn directory_that_is_a_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = write(dir.path(), "plain-file", b"x");
    let error = load_train(DatasetKind::Mnist, &not_a_dir).unwrap_err();
    assert!(matches!(error, DatasetError::DirMissing { .. }), "{error}");
}

/// The part of a message after the file's own path: the advice, which must
/// send the user to `dir` and never to `kind`'s default directory.
fn assert_advice_names(error: &DatasetError, kind: DatasetKind, dir: &Path) {
    let message = error.to_string();
    let dir_name = format!("in {}", dir.display());
    assert!(
        message.contains(&dir_name),
        "advice does not say `{dir_name}`: {message}"
    );
    assert!(
        !message.contains(&kind.default_dir().display().to_string()),
        "names the default directory: {message}"
    );
}

#[test]
fn missing_idx_file_under_data_dir_names_that_directory() {
    for kind in [DatasetKind::FashionMnist, DatasetKind::Mnist] {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &gzip(&idx_images(5, 28, 28)),
        );
        let error = load_train(kind, dir.path()).unwrap_err();
        let expected = dir.path().join("train-labels-idx1-ubyte");
        match &error {
            DatasetError::FileMissing {
                path, also_tried, ..
            } => {
                assert_eq!(path, &expected);
                assert!(also_tried.contains(&dir.path().join("train-labels-idx1-ubyte.gz")));
            }
            other => panic!("expected FileMissing, got {other}"),
        }
        assert_names_path(&error, &expected);
        assert_advice_names(&error, kind, dir.path());
    }
}

#[test]
fn missing_cifar_batch_under_data_dir_names_that_directory_even_under_a_limit() {
    let dir = tempfile::tempdir().unwrap();
    write_cifar(dir.path());
    let missing = dir.path().join("data_batch_3.bin");
    fs::remove_file(&missing).unwrap();
    let error = expect_error(
        load_cifar(dir.path(), Split::Train, Some(1)),
        |e| matches!(e, DatasetError::FileMissing { .. }),
        &missing,
    );
    assert_advice_names(&error, DatasetKind::Cifar10, dir.path());

    // A broken batch in the tarball's subdirectory: the advice names the
    // directory the user gave, not the subdirectory.
    let parent = tempfile::tempdir().unwrap();
    let subdir = parent.path().join("cifar-10-batches-bin");
    fs::create_dir(&subdir).unwrap();
    write_cifar(&subdir);
    let batch = write(&subdir, "data_batch_2.bin", &cifar_batch(0, &[3, 10]));
    let error = expect_error(
        load_train(DatasetKind::Cifar10, parent.path()),
        |e| matches!(e, DatasetError::BadLabel { .. }),
        &batch,
    );
    assert_advice_names(&error, DatasetKind::Cifar10, parent.path());
}

#[test]
fn broken_idx_file_under_data_dir_names_that_directory() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_train(dir.path(), false);
    write(
        dir.path(),
        "train-labels-idx1-ubyte",
        &idx_labels(&[1, 2, 10, 3, 4]),
    );
    let error = load_train(DatasetKind::FashionMnist, dir.path()).unwrap_err();
    assert!(matches!(error, DatasetError::BadLabel { .. }), "{error}");
    assert_advice_names(&error, DatasetKind::FashionMnist, dir.path());
}

#[test]
fn unreadable_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    write_idx_train(dir.path(), false);
    // A directory where the labels file should be: opening works on
    // Unix, reading fails.
    let labels = dir.path().join("train-labels-idx1-ubyte");
    fs::remove_file(&labels).unwrap();
    fs::create_dir(&labels).unwrap();
    expect_error(
        load_train(DatasetKind::Mnist, dir.path()),
        |e| matches!(e, DatasetError::Io { .. }),
        &labels,
    );

    let cifar_dir = tempfile::tempdir().unwrap();
    write_cifar(cifar_dir.path());
    let batch = cifar_dir.path().join("test_batch.bin");
    fs::remove_file(&batch).unwrap();
    fs::create_dir(&batch).unwrap();
    let error = load_cifar(cifar_dir.path(), Split::Test, None).unwrap_err();
    // Depending on the platform the directory fails on read or on its
    // (non-record-sized) length; either way the path is named.
    assert!(
        matches!(
            error,
            DatasetError::Io { .. } | DatasetError::BadRecordLength { .. }
        ),
        "{error}"
    );
    assert_names_path(&error, &batch);
}

#[test]
fn bad_magic_is_reported_for_images_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_idx_train(dir.path(), false);

    // Swap the files' roles: the images file now holds labels.
    write(dir.path(), "train-images-idx3-ubyte", &idx_labels(&LABELS));
    let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
    match &error {
        DatasetError::BadMagic {
            found, expected, ..
        } => assert_eq!((*found, *expected), (LABELS_MAGIC, IMAGES_MAGIC)),
        other => panic!("expected BadMagic, got {other}"),
    }
    assert_names_path(&error, &images);

    write_idx_train(dir.path(), false);
    let mut bad = idx_labels(&LABELS);
    bad[3] = 0x02; // 0x00000802: an IDX file with 2 dimensions
    write(dir.path(), "train-labels-idx1-ubyte", &bad);
    let error = expect_error(
        load_train(DatasetKind::Mnist, dir.path()),
        |e| matches!(e, DatasetError::BadMagic { .. }),
        &labels,
    );
    assert!(error.to_string().contains("0x00000802"), "{error}");
}

/// The file of an IDX pair an error must name.
#[derive(Debug, Clone, Copy)]
enum Names {
    Images,
    Labels,
}

/// Write `images` and `labels` (gzipped or not) as a train pair in a fresh
/// directory; loading must fail with an error `is` accepts that names the
/// file `names`.
fn expect_pair_error(
    gzipped: bool,
    images: &[u8],
    labels: &[u8],
    is: fn(&DatasetError) -> bool,
    names: Names,
) -> DatasetError {
    let dir = tempfile::tempdir().unwrap();
    let (images_path, labels_path) = write_idx_pair(dir.path(), gzipped, images, labels);
    let path = match names {
        Names::Images => images_path,
        Names::Labels => labels_path,
    };
    expect_error(load_train(DatasetKind::Mnist, dir.path()), is, &path)
}

#[test]
fn truncated_files_are_reported() {
    let truncated = |e: &DatasetError| matches!(e, DatasetError::Truncated { .. });
    let (images, labels) = (idx_images(5, 28, 28), idx_labels(&LABELS));
    for gzipped in [false, true] {
        // Data cut short: 4.5 of 5 images.
        let cut = 16 + 4 * 784 + 392;
        match expect_pair_error(gzipped, &images[..cut], &labels, truncated, Names::Images) {
            DatasetError::Truncated {
                expected_bytes,
                found_bytes,
                ..
            } => assert_eq!((expected_bytes, found_bytes), (16 + 5 * 784, cut as u64)),
            other => panic!("expected Truncated, got {other}"),
        }
        // Header cut short; labels cut short.
        expect_pair_error(gzipped, &images[..10], &labels, truncated, Names::Images);
        expect_pair_error(gzipped, &images, &labels[..11], truncated, Names::Labels);
    }
    // A header claiming u32::MAX images fails as truncated without
    // allocating them.
    let (mut huge_images, mut huge_labels) = (idx_images(1, 28, 28), idx_labels(&[1]));
    huge_images[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    huge_labels[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    expect_pair_error(false, &huge_images, &huge_labels, truncated, Names::Images);
}

#[test]
fn trailing_bytes_are_reported() {
    let mut labels = idx_labels(&LABELS);
    labels.push(0);
    let images = idx_images(5, 28, 28);
    let trailing = |e: &DatasetError| matches!(e, DatasetError::TrailingBytes { .. });
    expect_pair_error(true, &images, &labels, trailing, Names::Labels);
}

#[test]
fn count_mismatch_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (images, labels) = write_idx_pair(
        dir.path(),
        false,
        &idx_images(5, 28, 28),
        &idx_labels(&LABELS[..4]),
    );
    // Even a limit below both counts does not hide the mismatch.
    let error = load(DatasetKind::Mnist, Split::Train, Some(dir.path()), Some(1)).unwrap_err();
    match &error {
        DatasetError::CountMismatch {
            images: image_count,
            labels: label_count,
            ..
        } => assert_eq!((*image_count, *label_count), (5, 4)),
        other => panic!("expected CountMismatch, got {other}"),
    }
    assert_names_path(&error, &images);
    assert_names_path(&error, &labels);
}

#[test]
fn label_out_of_range_is_reported() {
    let bad_label = |e: &DatasetError| matches!(e, DatasetError::BadLabel { .. });
    let labels = idx_labels(&[1, 2, 10, 3, 4]);
    match expect_pair_error(
        false,
        &idx_images(5, 28, 28),
        &labels,
        bad_label,
        Names::Labels,
    ) {
        DatasetError::BadLabel { index, label, .. } => assert_eq!((index, label), (2, 10)),
        other => panic!("expected BadLabel, got {other}"),
    }

    let cifar_dir = tempfile::tempdir().unwrap();
    write_cifar(cifar_dir.path());
    let batch = write(
        cifar_dir.path(),
        "test_batch.bin",
        &cifar_batch(0, &[9, 255]),
    );
    let error = load_cifar(cifar_dir.path(), Split::Test, None).unwrap_err();
    match &error {
        DatasetError::BadLabel { index, label, .. } => assert_eq!((*index, *label), (1, 255)),
        other => panic!("expected BadLabel, got {other}"),
    }
    assert_names_path(&error, &batch);
}

#[test]
fn wrong_image_size_is_reported() {
    let wrong_size = |e: &DatasetError| matches!(e, DatasetError::WrongImageSize { .. });
    for (rows, cols) in [(28, 32), (27, 27), (64, 64), (0, 0)] {
        let images = idx_images(2, rows, cols);
        let labels = idx_labels(&[1, 2]);
        let error = expect_pair_error(false, &images, &labels, wrong_size, Names::Images);
        let size = format!("{rows}x{cols}");
        assert!(error.to_string().contains(&size), "{error}");
    }
}

#[test]
fn corrupt_gzip_is_reported() {
    let valid = gzip(&idx_images(5, 28, 28));
    let mut garbage_body = valid[..10].to_vec(); // a plausible gzip header...
    garbage_body.extend(std::iter::repeat_n(0xff, 200)); // ...then junk
    let cut_stream = valid[..valid.len() / 2].to_vec();
    let mut bad_crc = valid.clone();
    let crc_at = bad_crc.len() - 8;
    bad_crc[crc_at] ^= 0xff;
    let mut bad_header = valid.clone();
    bad_header[2] = 0x07; // compression method other than deflate

    for (case, bytes) in [
        ("garbage body", garbage_body),
        ("cut stream", cut_stream),
        ("bad crc", bad_crc),
        ("bad header", bad_header),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), true);
        let images = write(dir.path(), "train-images-idx3-ubyte.gz", &bytes);
        let error = load_train(DatasetKind::FashionMnist, dir.path()).unwrap_err();
        assert!(
            matches!(error, DatasetError::CorruptGzip { .. }),
            "{case}: {error}"
        );
        assert_names_path(&error, &images);
    }
}

#[test]
fn cifar_length_must_be_whole_records() {
    for len in [0, 3072, 3074, 2 * 3073 - 1] {
        let dir = tempfile::tempdir().unwrap();
        write_cifar(dir.path());
        let batch = write(dir.path(), "data_batch_1.bin", &vec![0u8; len]);
        let error = load_cifar(dir.path(), Split::Train, Some(1)).unwrap_err();
        match &error {
            DatasetError::BadRecordLength { len: reported, .. } => {
                assert_eq!(*reported, len as u64)
            }
            other => panic!("expected BadRecordLength for {len} bytes, got {other}"),
        }
        assert_names_path(&error, &batch);

        // The in-memory reader makes the same check.
        let path = Path::new("memory/data_batch_1.bin");
        let bytes = vec![0u8; len];
        expect_error(
            cifar::decode_batch(
                Split::Train,
                FileBytes {
                    path,
                    bytes: &bytes,
                },
                None,
            ),
            |e| matches!(e, DatasetError::BadRecordLength { .. }),
            path,
        );
    }
}

#[test]
fn in_memory_idx_errors_name_the_given_paths() {
    let images_path = Path::new("memory/train-images-idx3-ubyte");
    let labels_path = Path::new("memory/train-labels-idx1-ubyte");
    let images = idx_images(5, 28, 28);
    let labels = idx_labels(&LABELS[..4]);
    let error = expect_error(
        idx::decode(
            DatasetKind::Mnist,
            Split::Train,
            FileBytes {
                path: images_path,
                bytes: &images,
            },
            FileBytes {
                path: labels_path,
                bytes: &labels,
            },
            None,
        ),
        |e| matches!(e, DatasetError::CountMismatch { .. }),
        images_path,
    );
    assert_names_path(&error, labels_path);
}
