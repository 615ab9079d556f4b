//! DatasetKind: names, metadata, default directories.

use datasets::{DatasetError, DatasetKind};
use std::path::Path;

#[test]
fn kind_names_round_trip() {
    for kind in DatasetKind::ALL {
        assert_eq!(DatasetKind::from_name(kind.name()).unwrap(), kind);
        assert_eq!(kind.name().parse::<DatasetKind>().unwrap(), kind);
        assert_eq!(kind.to_string(), kind.name());
    }
    assert_eq!(DatasetKind::FashionMnist.name(), "fashion-mnist");
    assert_eq!(DatasetKind::Mnist.name(), "mnist");
    assert_eq!(DatasetKind::Cifar10.name(), "cifar10");
}

#[test]
fn unknown_name_lists_valid_names() {
    let error = "imagenet".parse::<DatasetKind>().unwrap_err();
    assert!(matches!(error, DatasetError::UnknownDataset { .. }));
    let message = error.to_string();
    for expected in ["imagenet", "fashion-mnist", "mnist", "cifar10"] {
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn kind_metadata() {
    for kind in DatasetKind::ALL {
        assert_eq!(kind.classes(), 10);
        assert_eq!(kind.class_names().len(), 10);
    }
    assert_eq!(DatasetKind::FashionMnist.class_names()[9], "Ankle boot");
    assert_eq!(DatasetKind::Cifar10.class_names()[0], "airplane");
    assert_eq!(
        [
            DatasetKind::FashionMnist.in_channels(),
            DatasetKind::Mnist.in_channels(),
            DatasetKind::Cifar10.in_channels()
        ],
        [1, 1, 3]
    );
    assert_eq!(
        DatasetKind::FashionMnist.default_dir(),
        Path::new("/usr/share/datasets/fashion-mnist")
    );
    assert_eq!(
        DatasetKind::Mnist.default_dir(),
        Path::new("/usr/share/datasets/mnist")
    );
    assert_eq!(
        DatasetKind::Cifar10.default_dir(),
        Path::new("/usr/share/datasets/cifar10")
    );
}

#[test]
fn sources_name_every_dataset_and_compare_with_kinds() {
    use datasets::Source;
    assert_eq!(
        Source::names(),
        [
            "fashion-mnist",
            "mnist",
            "cifar10",
            "synthetic",
            "imagefolder"
        ]
    );
    for name in Source::names() {
        Source::check_name(name).unwrap();
    }
    let error = Source::check_name("imagenet").unwrap_err();
    assert!(matches!(error, DatasetError::UnknownSource { .. }));
    assert!(
        error.to_string().contains("synthetic, imagefolder"),
        "{error}"
    );
    let files = Source::from(DatasetKind::Cifar10);
    assert_eq!(files, DatasetKind::Cifar10);
    assert_eq!(DatasetKind::Cifar10, files);
    assert_ne!(files, DatasetKind::Mnist);
    assert_eq!(files.file_kind(), Some(DatasetKind::Cifar10));
    assert_eq!(files.describe(), "cifar10 test split");
    assert!(files.has_labels() && Source::ImageFolder.has_labels());
    assert!(!Source::Synthetic { seed: 1 }.has_labels());
    assert_eq!(Source::ImageFolder.file_kind(), None);
    assert_eq!(Source::ImageFolder.to_string(), "imagefolder");
}
