//! # datasets: Tandem's dataset readers
//!
//! The IDX format (MNIST, Fashion-MNIST; gzipped or not), the CIFAR-10
//! binary format, ImageNet-style image folders (class subfolders of JPEG and
//! PNG files, resized and center-cropped as torchvision evaluates), and seeded
//! synthetic images of any shape. This crate depends on no other workspace
//! member; `golden` (the integer contract) does not read datasets, the tools
//! that feed it images do.
//!
//! - [`kind`]: the [`DatasetKind`] enum of the packaged file datasets, its
//!   names, classes and default directory.
//! - [`source`]: [`Source`], what a [`Dataset`] holds: a file dataset,
//!   synthetic images or an image folder.
//! - [`idx`]: IDX image + label files, from a directory or from memory.
//! - [`cifar`]: CIFAR-10 binary batches, from a directory or from memory.
//! - [`imagefolder`]: class subfolders of JPEG/PNG files ([`imagefolder::load`]).
//! - [`transform`]: the resize + center crop of torchvision's evaluation
//!   transform, computed as Pillow computes it.
//! - [`synthetic`](mod@synthetic): seeded synthetic images ([`synthetic()`]).
//! - [`error`]: [`DatasetError`], every way loading can fail.
//!
//! Every dataset comes out the same way: raw `u8` pixels in NCHW order. The
//! file datasets are always 32x32, so the network's first layer sees one
//! input geometry: IDX images are 28x28 and get a centred 2-pixel zero
//! border; 32x32 IDX images pass through. Synthetic images and image folders
//! take whatever shape the caller (the model's input) asks for.
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
//! | `imagefolder`   | none: the caller names it         | no: any tree of `DIR/<class>/<image>.jpg`      |
//! | `synthetic`     | none: made on the spot            | nothing to install                             |
//!
//! Only Fashion-MNIST is packaged by Debian; for the others `--data-dir`
//! (the `data_dir` argument of [`load`]) points anywhere.
//!
//! Synthetic images have labels only so that a [`Dataset`] has one per
//! image: they mean nothing, and [`Dataset::has_labels`] is false for them.
//! Whoever scores predictions must ask [`Dataset::u8_labels`] or
//! [`Dataset::label`], which refuse synthetic images.

use std::fmt;
use std::path::Path;

pub mod cifar;
pub mod error;
pub mod idx;
pub mod imagefolder;
pub mod kind;
pub mod source;
pub mod synthetic;
pub mod transform;

pub use error::DatasetError;
pub use kind::DatasetKind;
pub use source::Source;
pub use synthetic::synthetic;

/// Side of every image [`load`] returns.
pub const IMAGE_SIDE: usize = 32;
/// Number of classes in every packaged file dataset.
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

/// Images as raw bytes, NCHW. The file datasets are always 32x32 (28x28 IDX
/// images are zero-padded by 2 pixels on every side, centred); synthetic
/// images and image folders have the shape they were asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Where the images come from. Compares equal to a [`DatasetKind`] when
    /// they come from that dataset's files (`dataset.kind == DatasetKind::Mnist`).
    pub kind: Source,
    /// The split read; image folders and synthetic images are `Test`.
    pub split: Split,
    /// 1 (IDX, greyscale image folders) or 3 (CIFAR-10, RGB image folders);
    /// anything for synthetic images.
    pub channels: usize,
    /// 32 for the file datasets.
    pub height: usize,
    /// 32 for the file datasets.
    pub width: usize,
    /// `len() * channels * height * width` bytes; image `i` is
    /// `images[i * image_len() .. (i + 1) * image_len()]`, channel-major.
    pub images: Vec<u8>,
    /// One label per image. File datasets: each `< 10`. Image folders: the
    /// class folder's index, when every index fits a byte (at most 256
    /// classes); with more classes these are 0 and the indices are in
    /// `wide_labels`. Synthetic images: all 0 and meaningless; never score
    /// predictions against them (use [`Dataset::u8_labels`] or
    /// [`Dataset::label`], which refuse them).
    pub labels: Vec<u8>,
    /// `Some` only for an image folder of more than 256 classes: every
    /// image's class index, which `labels` cannot hold.
    pub wide_labels: Option<Vec<u32>>,
    /// Class names, indexed by label: the dataset's own for the file
    /// datasets, the sorted subfolder names for an image folder, none for
    /// synthetic images.
    pub class_names: Vec<String>,
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

    /// `[channels, height, width]`.
    pub fn shape(&self) -> [usize; 3] {
        [self.channels, self.height, self.width]
    }

    /// One image's `C*H*W` bytes. Panics when `index >= len()`, like slice
    /// indexing.
    pub fn image(&self, index: usize) -> &[u8] {
        let image_len = self.image_len();
        &self.images[index * image_len..(index + 1) * image_len]
    }

    /// Number of classes the labels index (`class_names.len()`; 0 for
    /// synthetic images).
    pub fn classes(&self) -> usize {
        self.class_names.len()
    }

    /// Whether the labels mean anything: false for synthetic images, whose
    /// accuracy is never defined.
    pub fn has_labels(&self) -> bool {
        self.kind.has_labels()
    }

    /// Image `index`'s true class, or `None` for synthetic images (which
    /// have none). Panics when `index >= len()`.
    pub fn label(&self, index: usize) -> Option<usize> {
        if !self.has_labels() {
            return None;
        }
        Some(match &self.wide_labels {
            Some(wide) => wide[index] as usize,
            None => self.labels[index] as usize,
        })
    }

    /// The labels to score predictions against, as bytes: `None` for
    /// synthetic images (no accuracy is defined on them) and for image
    /// folders of more than 256 classes (use [`Dataset::label`]).
    pub fn u8_labels(&self) -> Option<&[u8]> {
        (self.has_labels() && self.wide_labels.is_none()).then_some(self.labels.as_slice())
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
