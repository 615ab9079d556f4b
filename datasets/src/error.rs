//! [`DatasetError`]: everything that can go wrong loading a dataset.

use std::io;
use std::path::{Path, PathBuf};

use crate::cifar::CIFAR_RECORD_LEN;
use crate::kind::DatasetKind;
use crate::source::Source;
use crate::NUM_CLASSES;

/// How to lay out an image folder; ends every error about one.
const IMAGEFOLDER_HOW: &str = "pass --data-dir DIR where DIR holds one subfolder per class \
     (DIR/<class>/<image>.jpg, .jpeg or .png, as torchvision's ImageFolder reads; the \
     subfolder names, sorted, are the labels 0..N-1)";

/// Everything that can go wrong loading a dataset. Each message names the
/// offending path, says what is wrong and ends with how to get the data into
/// the directory that was looked in.
///
/// I/O and gzip errors carry the underlying [`io::Error`] text in the message
/// itself (not as a `source()`), so a plain `{}` print is complete and an
/// `anyhow` chain does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("unknown dataset {name:?}; valid names are: {}", valid_names())]
    UnknownDataset { name: String },

    /// A name that is neither a file dataset nor `synthetic` / `imagefolder`
    /// ([`Source::check_name`]).
    #[error("unknown dataset {name:?}; valid names are: {}", Source::names().join(", "))]
    UnknownSource { name: String },

    #[error(
        "image folder {} does not exist or is not a directory; {IMAGEFOLDER_HOW}",
        dir.display()
    )]
    FolderMissing { dir: PathBuf },

    #[error("image folder {} has no class subfolders; {IMAGEFOLDER_HOW}", dir.display())]
    NoClassFolders { dir: PathBuf },

    #[error(
        "class folder {} (class {class:?}) holds no JPEG or PNG file (*.jpg, *.jpeg or *.png in \
         any case, in it or below it); put its images in it, or move it out of {} (every \
         subfolder there is a class)",
        dir.display(),
        root.display()
    )]
    EmptyClass {
        /// The class folder.
        dir: PathBuf,
        class: String,
        /// The image folder it is in.
        root: PathBuf,
    },

    #[error(
        "image folder file {} is a {format} image, which tandem does not read (only JPEG and \
         PNG); convert it to PNG or JPEG, or move it out of the class folder",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf, format: String },

    #[error(
        "cannot decode image {}: {error}; replace it with a valid JPEG or PNG file or move it \
         out of the class folder",
        path.display()
    )]
    Undecodable { path: PathBuf, error: String },

    #[error("cannot read image folder entry {}: {error}", path.display())]
    ImageIo { path: PathBuf, error: io::Error },

    #[error(
        "image folder {} nests folders more than {depth} deep (a symbolic link loop?); \
         {IMAGEFOLDER_HOW}",
        dir.display()
    )]
    FolderTooDeep { dir: PathBuf, depth: usize },

    #[error(
        "image folders give RGB (3-channel) or greyscale (1-channel) images, but \
         {channels}-channel images were asked for"
    )]
    UnsupportedChannels { channels: usize },

    #[error(
        "cannot make {}x{}x{} images: height and width must be at least 1",
        shape[0],
        shape[1],
        shape[2]
    )]
    EmptyShape { shape: [usize; 3] },

    #[error(
        "{kind} dataset directory {} does not exist or is not a directory; {}",
        dir.display(),
        kind.how_to_get(dir)
    )]
    DirMissing { kind: DatasetKind, dir: PathBuf },

    #[error(
        "{kind} file {} is missing{}; {}",
        path.display(),
        also_tried_note(also_tried),
        hint(*kind, path)
    )]
    FileMissing {
        kind: DatasetKind,
        /// The canonical name the reader looked for first.
        path: PathBuf,
        /// Other accepted names that were also absent.
        also_tried: Vec<PathBuf>,
    },

    #[error("cannot read {kind} file {}: {error}; {}", path.display(), hint(*kind, path))]
    Io {
        kind: DatasetKind,
        path: PathBuf,
        error: io::Error,
    },

    #[error(
        "{kind} file {} is not a valid gzip stream ({error}); get a fresh copy: {}",
        path.display(),
        hint(*kind, path)
    )]
    CorruptGzip {
        kind: DatasetKind,
        path: PathBuf,
        error: io::Error,
    },

    #[error(
        "{kind} file {} has magic number {found:#010x}, expected {expected:#010x} ({what}); \
         it is the wrong file or corrupt: {}",
        path.display(),
        hint(*kind, path)
    )]
    BadMagic {
        kind: DatasetKind,
        path: PathBuf,
        found: u32,
        expected: u32,
        /// What the expected magic number denotes, e.g. "IDX u8 images, 3 dimensions".
        what: &'static str,
    },

    #[error(
        "{kind} file {} is truncated: its header promises {expected_bytes} bytes \
         (after decompression) but it holds only {found_bytes}; get a fresh copy: {}",
        path.display(),
        hint(*kind, path)
    )]
    Truncated {
        kind: DatasetKind,
        path: PathBuf,
        expected_bytes: u64,
        found_bytes: u64,
    },

    #[error(
        "{kind} file {} has data after the {expected_bytes} bytes its header describes \
         (after decompression); it is corrupt or not the file its name says: {}",
        path.display(),
        hint(*kind, path)
    )]
    TrailingBytes {
        kind: DatasetKind,
        path: PathBuf,
        expected_bytes: u64,
    },

    #[error(
        "{kind} image file {} holds {images} images but label file {} holds {labels} labels; \
         the two files are from different sets: {}",
        images_path.display(),
        labels_path.display(),
        hint(*kind, images_path)
    )]
    CountMismatch {
        kind: DatasetKind,
        images_path: PathBuf,
        images: u64,
        labels_path: PathBuf,
        labels: u64,
    },

    #[error(
        "{kind} file {} has label {label} for image {index}; labels must be below {NUM_CLASSES}; \
         the file is corrupt: {}",
        path.display(),
        hint(*kind, path)
    )]
    BadLabel {
        kind: DatasetKind,
        path: PathBuf,
        index: usize,
        label: u8,
    },

    #[error(
        "{kind} file {} holds {rows}x{cols} images; only 28x28 (padded to 32x32) and 32x32 \
         are supported: {}",
        path.display(),
        hint(*kind, path)
    )]
    WrongImageSize {
        kind: DatasetKind,
        path: PathBuf,
        rows: u32,
        cols: u32,
    },

    #[error(
        "{kind} file {} is {len} bytes, which is not a positive multiple of the \
         {CIFAR_RECORD_LEN}-byte record (1 label byte + 3072 pixel bytes); it is truncated \
         or not a CIFAR-10 binary batch: {}",
        path.display(),
        hint(*kind, path)
    )]
    BadRecordLength {
        kind: DatasetKind,
        path: PathBuf,
        len: u64,
    },
}

/// How to get `kind`'s data into the directory `path` was looked for in.
fn hint(kind: DatasetKind, path: &Path) -> String {
    kind.how_to_get(&kind.data_dir_of(path))
}

fn valid_names() -> String {
    DatasetKind::ALL
        .iter()
        .map(|kind| kind.name())
        .collect::<Vec<_>>()
        .join(", ")
}

fn also_tried_note(also_tried: &[PathBuf]) -> String {
    if also_tried.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = also_tried
            .iter()
            .map(|path| path.display().to_string())
            .collect();
        format!(" (also tried {})", names.join(", "))
    }
}
