//! [`DatasetKind`]: which dataset, its names, classes, channels, default
//! directory and how to obtain it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::cifar::CIFAR_SUBDIR;
use crate::error::DatasetError;
use crate::NUM_CLASSES;

/// Which dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatasetKind {
    FashionMnist,
    Mnist,
    Cifar10,
}

impl DatasetKind {
    /// Every supported dataset, in the order error messages list them.
    pub const ALL: [DatasetKind; 3] = [
        DatasetKind::FashionMnist,
        DatasetKind::Mnist,
        DatasetKind::Cifar10,
    ];

    /// Command-line name: `fashion-mnist`, `mnist` or `cifar10`.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Mnist => "mnist",
            DatasetKind::Cifar10 => "cifar10",
        }
    }

    /// Inverse of [`DatasetKind::name`]; an unknown name is an error listing
    /// the valid ones.
    pub fn from_name(name: &str) -> Result<Self, DatasetError> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| DatasetError::UnknownDataset {
                name: name.to_string(),
            })
    }

    /// Where [`load`](crate::load) looks when no directory is given. Only
    /// Fashion-MNIST is packaged by Debian (`apt-get install
    /// dataset-fashion-mnist` installs it here); MNIST and CIFAR-10 must be
    /// placed by hand or found through `--data-dir`.
    pub fn default_dir(self) -> PathBuf {
        PathBuf::from(match self {
            DatasetKind::FashionMnist => "/usr/share/datasets/fashion-mnist",
            DatasetKind::Mnist => "/usr/share/datasets/mnist",
            DatasetKind::Cifar10 => "/usr/share/datasets/cifar10",
        })
    }

    /// Number of classes (10 for all three).
    pub fn classes(self) -> usize {
        NUM_CLASSES
    }

    /// Human-readable class names, indexed by label.
    pub fn class_names(self) -> &'static [&'static str] {
        match self {
            DatasetKind::FashionMnist => &[
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ],
            DatasetKind::Mnist => &["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
            DatasetKind::Cifar10 => &[
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ],
        }
    }

    /// Input channels: 1 for the grayscale IDX datasets, 3 (RGB) for CIFAR-10.
    pub fn in_channels(self) -> usize {
        match self {
            DatasetKind::FashionMnist | DatasetKind::Mnist => 1,
            DatasetKind::Cifar10 => 3,
        }
    }

    /// How to obtain this dataset in `dir`, the directory the reader looked
    /// in; appended to every error about its files. Only when `dir` is the
    /// default directory does it mention the default (and `--data-dir`):
    /// a user who pointed elsewhere is told about the place they chose.
    pub(crate) fn how_to_get(self, dir: &Path) -> String {
        let dir_name = dir.display();
        let is_default = dir == self.default_dir();
        match (self, is_default) {
            (DatasetKind::FashionMnist, true) => format!(
                "install it with: apt-get install dataset-fashion-mnist (files go to \
                 {dir_name}) or pass --data-dir DIR containing train-images-idx3-ubyte.gz etc."
            ),
            (DatasetKind::FashionMnist, false) => format!(
                "place {IDX_FILES} in {dir_name}, or read the Debian package instead \
                 (apt-get install dataset-fashion-mnist, then leave out --data-dir)"
            ),
            (DatasetKind::Mnist, _) => format!(
                "place {IDX_FILES} from the MNIST distribution in {dir_name}{}",
                override_note(is_default)
            ),
            (DatasetKind::Cifar10, _) => format!(
                "extract the CIFAR-10 binary version (cifar-10-binary.tar.gz from \
                 https://www.cs.toronto.edu/~kriz/cifar.html) so that data_batch_1.bin .. \
                 data_batch_5.bin and test_batch.bin are in {dir_name} (or in its \
                 {CIFAR_SUBDIR} subdirectory){}",
                override_note(is_default)
            ),
        }
    }

    /// The directory a file at `path` was looked for in, as the user named
    /// it: CIFAR-10's tarball subdirectory is reported as its parent.
    pub(crate) fn data_dir_of(self, path: &Path) -> PathBuf {
        let parent = path.parent().unwrap_or(Path::new(""));
        let in_subdir = self == DatasetKind::Cifar10
            && parent.file_name().is_some_and(|name| name == CIFAR_SUBDIR);
        match parent.parent() {
            Some(above) if in_subdir => above.to_path_buf(),
            _ => parent.to_path_buf(),
        }
    }
}

/// The four IDX files a split pair needs, as error messages list them.
const IDX_FILES: &str = "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                         t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or not)";

fn override_note(is_default: bool) -> &'static str {
    if is_default {
        "; --data-dir DIR overrides that directory"
    } else {
        ""
    }
}

impl FromStr for DatasetKind {
    type Err = DatasetError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::from_name(name)
    }
}

impl fmt::Display for DatasetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
