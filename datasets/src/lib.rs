//! # datasets: Tandem's dataset readers
//!
//! The IDX format (MNIST, Fashion-MNIST; gzipped or not) and the CIFAR-10
//! binary format. This crate depends on no other workspace member; `golden`
//! (the integer contract) does not read datasets, the tools that feed it
//! images do.
//!
//! - [`kind`]: the [`DatasetKind`] enum, its names, classes and default directory.
//! - [`idx`]: IDX image + label files, from a directory or from memory.
//! - [`cifar`]: CIFAR-10 binary batches, from a directory or from memory.
//! - [`error`]: [`DatasetError`], every way loading can fail.
//!
//! Every dataset comes out the same way: raw `u8` pixels in NCHW order at
//! 32x32, so the network's first layer sees one input geometry. IDX images are
//! 28x28 and get a centred 2-pixel zero border; 32x32 IDX images pass through.
//!
//! The readers never panic and never silently truncate: a short file, a
//! header that disagrees with the data, a label outside `0..10` or a corrupt
//! gzip stream is a [`DatasetError`] naming the file and telling how to get a
//! good copy into the directory that was looked in.
//!
//! Where the data lives by default ([`DatasetKind::default_dir`]):
//!
//! | dataset         | directory                         | packaged?                                     |
//! |-----------------|-----------------------------------|-----------------------------------------------|
//! | `fashion-mnist` | `/usr/share/datasets/fashion-mnist` | Debian: `apt-get install dataset-fashion-mnist` |
//! | `mnist`         | `/usr/share/datasets/mnist`       | no: place the four IDX files there             |
//! | `cifar10`       | `/usr/share/datasets/cifar10`     | no: extract the CIFAR-10 binary version there  |
//!
//! Only Fashion-MNIST is packaged by Debian; for the others `--data-dir`
//! (the `data_dir` argument of [`load`]) points anywhere.

use std::fmt;
use std::path::Path;

pub mod cifar;
pub mod error;
pub mod idx;
pub mod kind;

pub use error::DatasetError;
pub use kind::DatasetKind;

/// Side of every image [`load`] returns.
pub const IMAGE_SIDE: usize = 32;
/// Number of classes in every supported dataset.
pub const NUM_CLASSES: usize = 10;

/// Training or test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    /// `train` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Images as raw bytes, NCHW, always 32x32 (28x28 IDX images are zero-padded
/// by 2 pixels on every side, centred).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub split: Split,
    /// 1 (IDX) or 3 (CIFAR-10).
    pub channels: usize,
    /// Always 32.
    pub height: usize,
    /// Always 32.
    pub width: usize,
    /// `len() * channels * height * width` bytes; image `i` is
    /// `images[i * image_len() .. (i + 1) * image_len()]`, channel-major.
    pub images: Vec<u8>,
    /// One label per image, each `< 10`.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the dataset holds no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Bytes per image: `channels * height * width`.
    pub fn image_len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// One image's `C*H*W` bytes. Panics when `index >= len()`, like slice
    /// indexing.
    pub fn image(&self, index: usize) -> &[u8] {
        let image_len = self.image_len();
        &self.images[index * image_len..(index + 1) * image_len]
    }
}

/// A file's contents held in memory, with the path errors name it by (it
/// need not exist). The in-memory readers ([`idx::decode`],
/// [`cifar::decode_batch`]) take these, so fuzzers and tests can feed bytes
/// without touching the disk.
#[derive(Debug, Clone, Copy)]
pub struct FileBytes<'a> {
    pub path: &'a Path,
    pub bytes: &'a [u8],
}

/// Load a split. `data_dir: None` means `kind.default_dir()`. `limit: Some(n)`
/// keeps the first `n` images and reads only the part of the files they need
/// (so damage past them goes unnoticed); without a limit every byte is read
/// and checked.
pub fn load(
    kind: DatasetKind,
    split: Split,
    data_dir: Option<&Path>,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let dir = data_dir.map_or_else(|| kind.default_dir(), Path::to_path_buf);
    if !dir.is_dir() {
        return Err(DatasetError::DirMissing { kind, dir });
    }
    match kind {
        DatasetKind::FashionMnist | DatasetKind::Mnist => idx::load(kind, split, &dir, limit),
        DatasetKind::Cifar10 => cifar::load(split, &dir, limit),
    }
}

/// The first label of `labels` outside `0..NUM_CLASSES`, as an error naming
/// `path`.
pub(crate) fn check_labels(
    kind: DatasetKind,
    path: &Path,
    labels: &[u8],
) -> Result<(), DatasetError> {
    match labels
        .iter()
        .position(|&label| label as usize >= NUM_CLASSES)
    {
        Some(index) => Err(DatasetError::BadLabel {
            kind,
            path: path.to_path_buf(),
            index,
            label: labels[index],
        }),
        None => Ok(()),
    }
}
