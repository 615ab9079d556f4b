//! Dataset readers: the IDX format (MNIST, Fashion-MNIST; gzipped or not) and
//! the CIFAR-10 binary format.
//!
//! Every dataset comes out the same way: raw `u8` pixels in NCHW order at
//! 32x32, so the network's first layer sees one input geometry. IDX images are
//! 28x28 and get a centred 2-pixel zero border; 32x32 IDX images pass through.
//!
//! The readers never panic and never silently truncate: a short file, a
//! header that disagrees with the data, a label outside `0..10` or a corrupt
//! gzip stream is a [`DatasetError`] naming the file and telling how to get a
//! good copy.
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
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use flate2::bufread::MultiGzDecoder;

/// Side of every image [`load`] returns.
pub const IMAGE_SIDE: usize = 32;
/// Number of classes in every supported dataset.
pub const NUM_CLASSES: usize = 10;

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

    /// Where [`load`] looks when no directory is given. Only Fashion-MNIST is
    /// packaged by Debian (`apt-get install dataset-fashion-mnist` installs it
    /// here); MNIST and CIFAR-10 must be placed by hand or found through
    /// `--data-dir`.
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

    /// How to obtain this dataset; appended to every error about its files.
    fn how_to_get(self) -> String {
        let default_dir = self.default_dir();
        let default_dir = default_dir.display();
        match self {
            DatasetKind::FashionMnist => format!(
                "install it with: apt-get install dataset-fashion-mnist (files go to \
                 {default_dir}) or pass --data-dir DIR containing train-images-idx3-ubyte.gz etc."
            ),
            DatasetKind::Mnist => format!(
                "place train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
                 t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (gzipped or not) \
                 from the MNIST distribution in {default_dir}; --data-dir DIR overrides \
                 that directory"
            ),
            DatasetKind::Cifar10 => format!(
                "extract the CIFAR-10 binary version (cifar-10-binary.tar.gz from \
                 https://www.cs.toronto.edu/~kriz/cifar.html) so that data_batch_1.bin .. \
                 data_batch_5.bin and test_batch.bin are in {default_dir} (or in its \
                 cifar-10-batches-bin subdirectory); --data-dir DIR overrides that directory"
            ),
        }
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

/// Everything that can go wrong loading a dataset. Each message names the
/// offending path, says what is wrong and ends with how to get the data.
///
/// I/O and gzip errors carry the underlying [`io::Error`] text in the message
/// itself (not as a `source()`), so a plain `{}` print is complete and an
/// `anyhow` chain does not repeat it.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("unknown dataset {name:?}; valid names are: {}", valid_names())]
    UnknownDataset { name: String },

    #[error(
        "{kind} dataset directory {} does not exist or is not a directory; {}",
        dir.display(),
        kind.how_to_get()
    )]
    DirMissing { kind: DatasetKind, dir: PathBuf },

    #[error(
        "{kind} file {} is missing{}; {}",
        path.display(),
        also_tried_note(also_tried),
        kind.how_to_get()
    )]
    FileMissing {
        kind: DatasetKind,
        /// The canonical name the reader looked for first.
        path: PathBuf,
        /// Other accepted names that were also absent.
        also_tried: Vec<PathBuf>,
    },

    #[error("cannot read {kind} file {}: {error}; {}", path.display(), kind.how_to_get())]
    Io {
        kind: DatasetKind,
        path: PathBuf,
        error: io::Error,
    },

    #[error(
        "{kind} file {} is not a valid gzip stream ({error}); get a fresh copy: {}",
        path.display(),
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
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
        kind.how_to_get()
    )]
    BadRecordLength {
        kind: DatasetKind,
        path: PathBuf,
        len: u64,
    },
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
        DatasetKind::FashionMnist | DatasetKind::Mnist => load_idx(kind, split, &dir, limit),
        DatasetKind::Cifar10 => load_cifar10(kind, split, &dir, limit),
    }
}

// ---------------------------------------------------------------------------
// IDX (MNIST, Fashion-MNIST)
// ---------------------------------------------------------------------------

/// Magic of an IDX file of unsigned bytes with 3 dimensions (n, rows, cols).
const IDX_IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (n).
const IDX_LABELS_MAGIC: u32 = 0x0000_0801;
/// First two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn load_idx(
    kind: DatasetKind,
    split: Split,
    dir: &Path,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images_path = find_idx_file(kind, dir, prefix, "images", 3)?;
    let labels_path = find_idx_file(kind, dir, prefix, "labels", 1)?;

    let mut images_file = IdxReader::open(kind, &images_path)?;
    let mut labels_file = IdxReader::open(kind, &labels_path)?;

    // Check both headers before reading any data, so a mismatched pair is
    // reported as such rather than as a confusing truncation.
    images_file.expect_magic(IDX_IMAGES_MAGIC, "IDX u8 images, 3 dimensions")?;
    let image_count = images_file.read_u32()?;
    let rows = images_file.read_u32()?;
    let cols = images_file.read_u32()?;
    labels_file.expect_magic(IDX_LABELS_MAGIC, "IDX u8 labels, 1 dimension")?;
    let label_count = labels_file.read_u32()?;

    if image_count != label_count {
        return Err(DatasetError::CountMismatch {
            kind,
            images_path,
            images: image_count.into(),
            labels_path,
            labels: label_count.into(),
        });
    }
    let side = match (rows, cols) {
        (28, 28) => 28,
        (32, 32) => 32,
        _ => {
            return Err(DatasetError::WrongImageSize {
                kind,
                path: images_path,
                rows,
                cols,
            })
        }
    };

    let total = image_count as usize;
    let count = limit.map_or(total, |limit| limit.min(total));
    let read_everything = count == total;

    let raw_images = images_file.read_exact_bytes(count as u64 * (side * side) as u64)?;
    let labels = labels_file.read_exact_bytes(count as u64)?;
    if read_everything {
        images_file.expect_end()?;
        labels_file.expect_end()?;
    }
    check_labels(kind, &labels_path, &labels)?;

    Ok(Dataset {
        kind,
        split,
        channels: 1,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
        images: pad_to_32(&raw_images, side),
        labels,
    })
}

/// Find `{prefix}-{what}-idx{dims}-ubyte`, plain or `.gz`, or the
/// `{prefix}-{what}.idx{dims}-ubyte` spelling some mirrors use. The plain
/// canonical name wins when several exist (it needs no decompression).
fn find_idx_file(
    kind: DatasetKind,
    dir: &Path,
    prefix: &str,
    what: &str,
    dims: u32,
) -> Result<PathBuf, DatasetError> {
    let canonical = format!("{prefix}-{what}-idx{dims}-ubyte");
    let mirror = format!("{prefix}-{what}.idx{dims}-ubyte");
    let candidates: Vec<PathBuf> = [
        canonical.clone(),
        format!("{canonical}.gz"),
        mirror.clone(),
        format!("{mirror}.gz"),
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .collect();
    if let Some(found) = candidates.iter().find(|path| path.exists()) {
        return Ok(found.clone());
    }
    let mut candidates = candidates.into_iter();
    let path = candidates.next().expect("candidate list is not empty");
    Err(DatasetError::FileMissing {
        kind,
        path,
        also_tried: candidates.collect(),
    })
}

/// Sequential reader over one IDX file that transparently gunzips and turns
/// every failure into a [`DatasetError`] naming the file. Tracks how many
/// (decompressed) bytes it has consumed so truncation errors can say how far
/// the file got.
struct IdxReader {
    kind: DatasetKind,
    path: PathBuf,
    gzipped: bool,
    inner: Box<dyn Read>,
    consumed: u64,
}

impl IdxReader {
    fn open(kind: DatasetKind, path: &Path) -> Result<Self, DatasetError> {
        let io_error = |error| DatasetError::Io {
            kind,
            path: path.to_path_buf(),
            error,
        };
        let file = File::open(path).map_err(io_error)?;
        let mut buffered = BufReader::new(file);
        // Decide by content, not by name: some mirrors serve already
        // decompressed files under the `.gz` name.
        let gzipped = buffered
            .fill_buf()
            .map_err(io_error)?
            .starts_with(&GZIP_MAGIC);
        let inner: Box<dyn Read> = if gzipped {
            // MultiGzDecoder: a valid gzip file may hold several members.
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Ok(IdxReader {
            kind,
            path: path.to_path_buf(),
            gzipped,
            inner,
            consumed: 0,
        })
    }

    fn read_error(&self, error: io::Error) -> DatasetError {
        // flate2 reports bad headers, bad deflate data, a missing trailer and
        // CRC mismatches with these kinds; anything else is the file itself.
        let decoder_error = matches!(
            error.kind(),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
        );
        if self.gzipped && decoder_error {
            DatasetError::CorruptGzip {
                kind: self.kind,
                path: self.path.clone(),
                error,
            }
        } else {
            DatasetError::Io {
                kind: self.kind,
                path: self.path.clone(),
                error,
            }
        }
    }

    /// Read exactly `len` bytes. The buffer grows as data arrives rather than
    /// being sized from the header up front, so a corrupt header claiming
    /// billions of images fails as truncated instead of exhausting memory.
    fn read_exact_bytes(&mut self, len: u64) -> Result<Vec<u8>, DatasetError> {
        let mut bytes = Vec::new();
        let read = (&mut self.inner)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(|error| self.read_error(error))?;
        self.consumed += read as u64;
        if (read as u64) < len {
            return Err(DatasetError::Truncated {
                kind: self.kind,
                path: self.path.clone(),
                expected_bytes: self.consumed + (len - read as u64),
                found_bytes: self.consumed,
            });
        }
        Ok(bytes)
    }

    fn read_u32(&mut self) -> Result<u32, DatasetError> {
        let bytes = self.read_exact_bytes(4)?;
        Ok(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn expect_magic(&mut self, expected: u32, what: &'static str) -> Result<(), DatasetError> {
        let found = self.read_u32()?;
        if found != expected {
            return Err(DatasetError::BadMagic {
                kind: self.kind,
                path: self.path.clone(),
                found,
                expected,
                what,
            });
        }
        Ok(())
    }

    /// Fail unless the file ends here. For gzip this also drives the decoder
    /// through the trailer, which is where the CRC is checked.
    fn expect_end(&mut self) -> Result<(), DatasetError> {
        let mut probe = [0u8; 1];
        let read = loop {
            match self.inner.read(&mut probe) {
                Ok(read) => break read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(self.read_error(error)),
            }
        };
        if read != 0 {
            return Err(DatasetError::TrailingBytes {
                kind: self.kind,
                path: self.path.clone(),
                expected_bytes: self.consumed,
            });
        }
        Ok(())
    }
}

/// Centre `side`x`side` single-channel images in 32x32 frames of zeros.
fn pad_to_32(raw: &[u8], side: usize) -> Vec<u8> {
    if side == IMAGE_SIDE {
        return raw.to_vec();
    }
    let border = (IMAGE_SIDE - side) / 2;
    let count = raw.len() / (side * side);
    let mut padded = vec![0u8; count * IMAGE_SIDE * IMAGE_SIDE];
    for (source, target) in raw
        .chunks_exact(side * side)
        .zip(padded.chunks_exact_mut(IMAGE_SIDE * IMAGE_SIDE))
    {
        for (row, source_row) in source.chunks_exact(side).enumerate() {
            let start = (row + border) * IMAGE_SIDE + border;
            target[start..start + side].copy_from_slice(source_row);
        }
    }
    padded
}

fn check_labels(kind: DatasetKind, path: &Path, labels: &[u8]) -> Result<(), DatasetError> {
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

// ---------------------------------------------------------------------------
// CIFAR-10 binary
// ---------------------------------------------------------------------------

/// Pixel bytes per CIFAR-10 image: R, G and B planes of 32x32, row-major.
const CIFAR_IMAGE_LEN: usize = 3 * IMAGE_SIDE * IMAGE_SIDE;
/// One record: the label byte, then the image.
const CIFAR_RECORD_LEN: usize = 1 + CIFAR_IMAGE_LEN;
/// Subdirectory the official tarball extracts to.
const CIFAR_SUBDIR: &str = "cifar-10-batches-bin";

fn cifar_batch_names(split: Split) -> Vec<String> {
    match split {
        Split::Train => (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
        Split::Test => vec!["test_batch.bin".to_string()],
    }
}

fn load_cifar10(
    kind: DatasetKind,
    split: Split,
    dir: &Path,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let names = cifar_batch_names(split);
    // Accept both the batch files directly in `dir` and the tarball's own
    // subdirectory; files in `dir` itself win.
    let subdir = dir.join(CIFAR_SUBDIR);
    let batch_dir = if !dir.join(&names[0]).exists() && subdir.join(&names[0]).exists() {
        subdir.clone()
    } else {
        dir.to_path_buf()
    };
    let paths: Vec<PathBuf> = names.iter().map(|name| batch_dir.join(name)).collect();

    // Every batch must be present even when the limit needs only the first:
    // a split with a missing batch is a broken installation worth reporting.
    if let Some(missing) = paths.iter().find(|path| !path.exists()) {
        let also_tried = if batch_dir == dir {
            vec![subdir.join(missing.file_name().unwrap_or_default())]
        } else {
            Vec::new()
        };
        return Err(DatasetError::FileMissing {
            kind,
            path: missing.clone(),
            also_tried,
        });
    }

    let mut remaining = limit.unwrap_or(usize::MAX);
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for path in &paths {
        if remaining == 0 {
            break;
        }
        let records = read_cifar_batch(kind, path, remaining)?;
        remaining -= records.len() / CIFAR_RECORD_LEN;
        for (index, record) in records.chunks_exact(CIFAR_RECORD_LEN).enumerate() {
            let label = record[0];
            if label as usize >= NUM_CLASSES {
                return Err(DatasetError::BadLabel {
                    kind,
                    path: path.clone(),
                    index,
                    label,
                });
            }
            labels.push(label);
            // The record's pixel layout (R plane, G plane, B plane) is already
            // CHW, so it is copied as is.
            images.extend_from_slice(&record[1..]);
        }
    }

    Ok(Dataset {
        kind,
        split,
        channels: 3,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
        images,
        labels,
    })
}

/// Read up to `max_records` whole records from one batch file, after checking
/// that the file is a whole number of records.
fn read_cifar_batch(
    kind: DatasetKind,
    path: &Path,
    max_records: usize,
) -> Result<Vec<u8>, DatasetError> {
    let io_error = |error| DatasetError::Io {
        kind,
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    if len == 0 || len % CIFAR_RECORD_LEN as u64 != 0 {
        return Err(DatasetError::BadRecordLength {
            kind,
            path: path.to_path_buf(),
            len,
        });
    }
    let records = (len / CIFAR_RECORD_LEN as u64).min(max_records as u64);
    let wanted = records * CIFAR_RECORD_LEN as u64;
    let mut bytes = Vec::new();
    file.take(wanted)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    // The length was checked above, so a short read means the file shrank
    // while we were reading it.
    if (bytes.len() as u64) < wanted {
        return Err(DatasetError::Truncated {
            kind,
            path: path.to_path_buf(),
            expected_bytes: wanted,
            found_bytes: bytes.len() as u64,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::fs;
    use std::io::Write;

    /// A distinct, never-zero pixel value, so padding zeros cannot be confused
    /// with image content.
    fn pixel(image: usize, row: usize, col: usize) -> u8 {
        ((image * 31 + row * 7 + col * 3) % 250 + 1) as u8
    }

    fn idx_images(count: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for value in [IDX_IMAGES_MAGIC, count, rows, cols] {
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

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&IDX_LABELS_MAGIC.to_be_bytes());
        bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        bytes.extend_from_slice(labels);
        bytes
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap();
        path
    }

    const LABELS: [u8; 5] = [3, 0, 9, 1, 7];

    /// Write a 5-image 28x28 train split (plain or gzipped); returns the
    /// image and label file paths.
    fn write_idx_train(dir: &Path, gzipped: bool) -> (PathBuf, PathBuf) {
        let images = idx_images(LABELS.len() as u32, 28, 28);
        let labels = idx_labels(&LABELS);
        if gzipped {
            (
                write(dir, "train-images-idx3-ubyte.gz", &gzip(&images)),
                write(dir, "train-labels-idx1-ubyte.gz", &gzip(&labels)),
            )
        } else {
            (
                write(dir, "train-images-idx3-ubyte", &images),
                write(dir, "train-labels-idx1-ubyte", &labels),
            )
        }
    }

    fn load_train(kind: DatasetKind, dir: &Path) -> Result<Dataset, DatasetError> {
        load(kind, Split::Train, Some(dir), None)
    }

    /// Check that `dataset` holds the first `count` synthetic 28x28 images
    /// centred in 32x32 frames of zeros.
    fn assert_padded_images(dataset: &Dataset, count: usize) {
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

    fn assert_names_path(error: &DatasetError, path: &Path) {
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "message does not name {}: {message}",
            path.display()
        );
    }

    // --- DatasetKind ------------------------------------------------------

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

    // --- IDX decoding -----------------------------------------------------

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
    fn idx_multi_member_gzip_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let images = idx_images(LABELS.len() as u32, 28, 28);
        let (first, second) = images.split_at(100);
        let mut members = gzip(first);
        members.extend_from_slice(&gzip(second));
        write(dir.path(), "train-images-idx3-ubyte.gz", &members);
        write(
            dir.path(),
            "train-labels-idx1-ubyte.gz",
            &gzip(&idx_labels(&LABELS)),
        );
        let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
        assert_padded_images(&dataset, LABELS.len());
    }

    #[test]
    fn idx_32x32_passes_through() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images-idx3-ubyte",
            &idx_images(2, 32, 32),
        );
        write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(&[4, 5]));
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

    #[test]
    fn idx_test_split_reads_t10k_files() {
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), false);
        write(
            dir.path(),
            "t10k-images-idx3-ubyte.gz",
            &gzip(&idx_images(2, 28, 28)),
        );
        write(
            dir.path(),
            "t10k-labels-idx1-ubyte.gz",
            &gzip(&idx_labels(&[8, 2])),
        );
        let dataset = load(
            DatasetKind::FashionMnist,
            Split::Test,
            Some(dir.path()),
            None,
        )
        .unwrap();
        assert_eq!(dataset.split, Split::Test);
        assert_eq!(dataset.labels, [8, 2]);
        assert_padded_images(&dataset, 2);
    }

    #[test]
    fn idx_mirror_spelling_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images.idx3-ubyte",
            &idx_images(5, 28, 28),
        );
        write(
            dir.path(),
            "train-labels.idx1-ubyte.gz",
            &gzip(&idx_labels(&LABELS)),
        );
        let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
        assert_eq!(dataset.labels, LABELS);
        assert_padded_images(&dataset, 5);
    }

    #[test]
    fn idx_plain_file_wins_over_gz() {
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), false);
        // A different (but valid) gzipped pair next to the plain one.
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &gzip(&idx_images(1, 28, 28)),
        );
        write(
            dir.path(),
            "train-labels-idx1-ubyte.gz",
            &gzip(&idx_labels(&[6])),
        );
        let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
        assert_eq!(dataset.labels, LABELS);
    }

    #[test]
    fn idx_gz_name_with_plain_content_is_read() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &idx_images(5, 28, 28),
        );
        write(
            dir.path(),
            "train-labels-idx1-ubyte.gz",
            &idx_labels(&LABELS),
        );
        let dataset = load_train(DatasetKind::Mnist, dir.path()).unwrap();
        assert_eq!(dataset.labels, LABELS);
    }

    #[test]
    fn idx_limit_keeps_the_first_images() {
        for gzipped in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            write_idx_train(dir.path(), gzipped);
            let dataset =
                load(DatasetKind::Mnist, Split::Train, Some(dir.path()), Some(3)).unwrap();
            assert_eq!(dataset.labels, LABELS[..3]);
            assert_padded_images(&dataset, 3);

            let all = load(
                DatasetKind::Mnist,
                Split::Train,
                Some(dir.path()),
                Some(100),
            )
            .unwrap();
            assert_eq!(all.len(), LABELS.len());

            let none = load(DatasetKind::Mnist, Split::Train, Some(dir.path()), Some(0)).unwrap();
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
        write(dir.path(), "train-images-idx3-ubyte", &images);
        write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(&LABELS));
        let dataset = load(DatasetKind::Mnist, Split::Train, Some(dir.path()), Some(2)).unwrap();
        assert_padded_images(&dataset, 2);
        // Without the limit the damage is found.
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        assert!(matches!(error, DatasetError::Truncated { .. }), "{error}");
    }

    // --- CIFAR-10 decoding ------------------------------------------------

    /// Pixel `(channel, row, col)` of CIFAR image number `image` (counted
    /// across all batches of a split).
    fn cifar_pixel(image: usize, channel: usize, row: usize, col: usize) -> u8 {
        ((image * 13 + channel * 101 + row * 5 + col) % 256) as u8
    }

    fn cifar_batch(first_image: usize, labels: &[u8]) -> Vec<u8> {
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
    fn write_cifar(dir: &Path) {
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

    fn assert_cifar_images(dataset: &Dataset, first_image: usize) {
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
        let dataset = load(
            DatasetKind::Cifar10,
            Split::Train,
            Some(dir.path()),
            Some(5),
        )
        .unwrap();
        assert_eq!(dataset.labels, [0, 1, 2, 3, 4]);
        assert_cifar_images(&dataset, 0);
    }

    #[test]
    fn cifar_test_batch_in_tarball_subdirectory() {
        let dir = tempfile::tempdir().unwrap();
        let subdir = dir.path().join("cifar-10-batches-bin");
        fs::create_dir(&subdir).unwrap();
        write_cifar(&subdir);
        let dataset = load(DatasetKind::Cifar10, Split::Test, Some(dir.path()), None).unwrap();
        assert_eq!(dataset.split, Split::Test);
        assert_eq!(dataset.labels, [9, 8, 7]);
        assert_cifar_images(&dataset, 100);
    }

    // --- errors -----------------------------------------------------------

    #[test]
    fn missing_directory_fashion_mnist_says_how_to_install() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("nowhere");
        let error = load_train(DatasetKind::FashionMnist, &dir).unwrap_err();
        assert!(matches!(error, DatasetError::DirMissing { .. }), "{error}");
        assert_names_path(&error, &dir);
        let message = error.to_string();
        assert!(
            message.contains("apt-get install dataset-fashion-mnist"),
            "{message}"
        );
        assert!(
            message.contains("/usr/share/datasets/fashion-mnist"),
            "{message}"
        );
        assert!(message.contains("--data-dir"), "{message}");
    }

    #[test]
    fn missing_directory_mnist_and_cifar_say_where_files_go() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("nowhere");
        for (kind, file, default_dir) in [
            (
                DatasetKind::Mnist,
                "t10k-labels-idx1-ubyte",
                "/usr/share/datasets/mnist",
            ),
            (
                DatasetKind::Cifar10,
                "data_batch_1.bin",
                "/usr/share/datasets/cifar10",
            ),
        ] {
            let error = load_train(kind, &dir).unwrap_err();
            assert!(matches!(error, DatasetError::DirMissing { .. }), "{error}");
            assert_names_path(&error, &dir);
            let message = error.to_string();
            for expected in [file, default_dir, "--data-dir"] {
                assert!(message.contains(expected), "{message}");
            }
        }
    }

    #[test]
    fn directory_that_is_a_file_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = write(dir.path(), "plain-file", b"x");
        let error = load_train(DatasetKind::Mnist, &not_a_dir).unwrap_err();
        assert!(matches!(error, DatasetError::DirMissing { .. }), "{error}");
    }

    #[test]
    fn missing_idx_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "train-images-idx3-ubyte.gz",
            &gzip(&idx_images(5, 28, 28)),
        );
        let error = load_train(DatasetKind::FashionMnist, dir.path()).unwrap_err();
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
        assert!(error.to_string().contains("apt-get install"), "{error}");
    }

    #[test]
    fn missing_cifar_batch_is_named_even_under_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        write_cifar(dir.path());
        let missing = dir.path().join("data_batch_3.bin");
        fs::remove_file(&missing).unwrap();
        let error = load(
            DatasetKind::Cifar10,
            Split::Train,
            Some(dir.path()),
            Some(1),
        )
        .unwrap_err();
        assert!(matches!(error, DatasetError::FileMissing { .. }), "{error}");
        assert_names_path(&error, &missing);
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
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        assert!(matches!(error, DatasetError::Io { .. }), "{error}");
        assert_names_path(&error, &labels);

        let cifar_dir = tempfile::tempdir().unwrap();
        write_cifar(cifar_dir.path());
        let batch = cifar_dir.path().join("test_batch.bin");
        fs::remove_file(&batch).unwrap();
        fs::create_dir(&batch).unwrap();
        let error = load(
            DatasetKind::Cifar10,
            Split::Test,
            Some(cifar_dir.path()),
            None,
        )
        .unwrap_err();
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
            } => assert_eq!((*found, *expected), (IDX_LABELS_MAGIC, IDX_IMAGES_MAGIC)),
            other => panic!("expected BadMagic, got {other}"),
        }
        assert_names_path(&error, &images);

        write_idx_train(dir.path(), false);
        let mut bad = idx_labels(&LABELS);
        bad[3] = 0x02; // 0x00000802: an IDX file with 2 dimensions
        write(dir.path(), "train-labels-idx1-ubyte", &bad);
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        assert!(matches!(error, DatasetError::BadMagic { .. }), "{error}");
        assert_names_path(&error, &labels);
        assert!(error.to_string().contains("0x00000802"), "{error}");
    }

    #[test]
    fn truncated_files_are_reported() {
        for gzipped in [false, true] {
            let encode = |bytes: &[u8]| if gzipped { gzip(bytes) } else { bytes.to_vec() };
            let suffix = if gzipped { ".gz" } else { "" };
            let dir = tempfile::tempdir().unwrap();
            let labels = write(
                dir.path(),
                &format!("train-labels-idx1-ubyte{suffix}"),
                &encode(&idx_labels(&LABELS)),
            );

            // Data cut short: 4.5 of 5 images.
            let mut images = idx_images(5, 28, 28);
            images.truncate(16 + 4 * 784 + 392);
            let images_path = write(
                dir.path(),
                &format!("train-images-idx3-ubyte{suffix}"),
                &encode(&images),
            );
            let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
            match &error {
                DatasetError::Truncated {
                    expected_bytes,
                    found_bytes,
                    ..
                } => assert_eq!(
                    (*expected_bytes, *found_bytes),
                    (16 + 5 * 784, 16 + 4 * 784 + 392)
                ),
                other => panic!("expected Truncated, got {other}"),
            }
            assert_names_path(&error, &images_path);

            // Header cut short.
            write(
                dir.path(),
                &format!("train-images-idx3-ubyte{suffix}"),
                &encode(&images[..10]),
            );
            let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
            assert!(matches!(error, DatasetError::Truncated { .. }), "{error}");
            assert_names_path(&error, &images_path);

            // Labels cut short.
            write_idx_train(dir.path(), gzipped);
            write(
                dir.path(),
                &format!("train-labels-idx1-ubyte{suffix}"),
                &encode(&idx_labels(&LABELS)[..11]),
            );
            let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
            assert!(matches!(error, DatasetError::Truncated { .. }), "{error}");
            assert_names_path(&error, &labels);
        }
    }

    #[test]
    fn absurd_image_count_fails_without_allocating_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut images = idx_images(1, 28, 28);
        images[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut labels = idx_labels(&[1]);
        labels[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let images_path = write(dir.path(), "train-images-idx3-ubyte", &images);
        write(dir.path(), "train-labels-idx1-ubyte", &labels);
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        assert!(matches!(error, DatasetError::Truncated { .. }), "{error}");
        assert_names_path(&error, &images_path);
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), true);
        let mut labels = idx_labels(&LABELS);
        labels.push(0);
        let labels_path = write(dir.path(), "train-labels-idx1-ubyte.gz", &gzip(&labels));
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        assert!(
            matches!(error, DatasetError::TrailingBytes { .. }),
            "{error}"
        );
        assert_names_path(&error, &labels_path);
    }

    #[test]
    fn count_mismatch_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (images, labels) = write_idx_train(dir.path(), false);
        write(
            dir.path(),
            "train-labels-idx1-ubyte",
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
        let dir = tempfile::tempdir().unwrap();
        write_idx_train(dir.path(), false);
        let labels = write(
            dir.path(),
            "train-labels-idx1-ubyte",
            &idx_labels(&[1, 2, 10, 3, 4]),
        );
        let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
        match &error {
            DatasetError::BadLabel { index, label, .. } => assert_eq!((*index, *label), (2, 10)),
            other => panic!("expected BadLabel, got {other}"),
        }
        assert_names_path(&error, &labels);

        let cifar_dir = tempfile::tempdir().unwrap();
        write_cifar(cifar_dir.path());
        let batch = write(
            cifar_dir.path(),
            "test_batch.bin",
            &cifar_batch(0, &[9, 255]),
        );
        let error = load(
            DatasetKind::Cifar10,
            Split::Test,
            Some(cifar_dir.path()),
            None,
        )
        .unwrap_err();
        match &error {
            DatasetError::BadLabel { index, label, .. } => assert_eq!((*index, *label), (1, 255)),
            other => panic!("expected BadLabel, got {other}"),
        }
        assert_names_path(&error, &batch);
    }

    #[test]
    fn wrong_image_size_is_reported() {
        for (rows, cols) in [(28, 32), (27, 27), (64, 64), (0, 0)] {
            let dir = tempfile::tempdir().unwrap();
            let images = write(
                dir.path(),
                "train-images-idx3-ubyte",
                &idx_images(2, rows, cols),
            );
            write(dir.path(), "train-labels-idx1-ubyte", &idx_labels(&[1, 2]));
            let error = load_train(DatasetKind::Mnist, dir.path()).unwrap_err();
            assert!(
                matches!(error, DatasetError::WrongImageSize { .. }),
                "{error}"
            );
            assert_names_path(&error, &images);
            assert!(
                error.to_string().contains(&format!("{rows}x{cols}")),
                "{error}"
            );
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
            let error = load(
                DatasetKind::Cifar10,
                Split::Train,
                Some(dir.path()),
                Some(1),
            )
            .unwrap_err();
            match &error {
                DatasetError::BadRecordLength { len: reported, .. } => {
                    assert_eq!(*reported, len as u64)
                }
                other => panic!("expected BadRecordLength for {len} bytes, got {other}"),
            }
            assert_names_path(&error, &batch);
        }
    }

    // --- the real thing -----------------------------------------------------

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
}
