//! The IDX format of MNIST and Fashion-MNIST: an image file (magic
//! `0x00000803`: u8 data in 3 dimensions, count x rows x cols) and a label
//! file (magic `0x00000801`: u8 data in 1 dimension), each plain or gzipped
//! (decided by content, not by name).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use crate::{check_labels, Dataset, DatasetError, DatasetKind, FileBytes, Split, IMAGE_SIDE};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (n, rows, cols).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic of an IDX file of unsigned bytes with 1 dimension (n).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// First two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Read a split's image and label files from `dir` (the caller has checked
/// that it is a directory).
pub(crate) fn load(
    kind: DatasetKind,
    split: Split,
    dir: &Path,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let prefix = match split {
        Split::Train => "train",
        Split::Test => "t10k",
    };
    let images_path = find_file(kind, dir, prefix, "images", 3)?;
    let labels_path = find_file(kind, dir, prefix, "labels", 1)?;
    let images = IdxReader::open(kind, &images_path)?;
    let labels = IdxReader::open(kind, &labels_path)?;
    read_pair(kind, split, images, labels, limit)
}

/// Decode an image file and a label file held in memory, exactly as
/// [`load`](crate::load) decodes the files on disk (same checks, same
/// errors, naming the paths in `images` and `labels`).
pub fn decode(
    kind: DatasetKind,
    split: Split,
    images: FileBytes<'_>,
    labels: FileBytes<'_>,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    let images = IdxReader::new(kind, images.path, images.bytes)?;
    let labels = IdxReader::new(kind, labels.path, labels.bytes)?;
    read_pair(kind, split, images, labels, limit)
}

fn read_pair(
    kind: DatasetKind,
    split: Split,
    mut images_file: IdxReader<'_>,
    mut labels_file: IdxReader<'_>,
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    // Check both headers before reading any data, so a mismatched pair is
    // reported as such rather than as a confusing truncation.
    images_file.expect_magic(IMAGES_MAGIC, "IDX u8 images, 3 dimensions")?;
    let image_count = images_file.read_u32()?;
    let rows = images_file.read_u32()?;
    let cols = images_file.read_u32()?;
    labels_file.expect_magic(LABELS_MAGIC, "IDX u8 labels, 1 dimension")?;
    let label_count = labels_file.read_u32()?;

    if image_count != label_count {
        return Err(DatasetError::CountMismatch {
            kind,
            images_path: images_file.path,
            images: image_count.into(),
            labels_path: labels_file.path,
            labels: label_count.into(),
        });
    }
    let side = match (rows, cols) {
        (28, 28) => 28,
        (32, 32) => 32,
        _ => {
            return Err(DatasetError::WrongImageSize {
                kind,
                path: images_file.path,
                rows,
                cols,
            })
        }
    };

    let total = u64::from(image_count);
    let count = limit.map_or(total, |limit| (limit as u64).min(total));
    let read_everything = count == total;

    let raw_images = images_file.read_exact_bytes(count * (side * side) as u64)?;
    let labels = labels_file.read_exact_bytes(count)?;
    if read_everything {
        images_file.expect_end()?;
        labels_file.expect_end()?;
    }
    check_labels(kind, &labels_file.path, &labels)?;

    Ok(Dataset {
        kind: kind.into(),
        split,
        channels: 1,
        height: IMAGE_SIDE,
        width: IMAGE_SIDE,
        images: pad_to_32(&raw_images, side),
        labels,
        wide_labels: None,
        class_names: kind.class_names().iter().map(|&n| n.to_string()).collect(),
    })
}

/// Find `{prefix}-{what}-idx{dims}-ubyte`, plain or `.gz`, or the
/// `{prefix}-{what}.idx{dims}-ubyte` spelling some mirrors use. The plain
/// canonical name wins when several exist (it needs no decompression).
fn find_file(
    kind: DatasetKind,
    dir: &Path,
    prefix: &str,
    what: &str,
    dims: u32,
) -> Result<PathBuf, DatasetError> {
    let canonical = format!("{prefix}-{what}-idx{dims}-ubyte");
    let mirror = format!("{prefix}-{what}.idx{dims}-ubyte");
    let mut candidates: Vec<PathBuf> = [
        format!("{canonical}.gz"),
        mirror.clone(),
        format!("{mirror}.gz"),
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .collect();
    let path = dir.join(canonical);
    if path.exists() {
        return Ok(path);
    }
    if let Some(found) = candidates.iter().position(|path| path.exists()) {
        return Ok(candidates.swap_remove(found));
    }
    Err(DatasetError::FileMissing {
        kind,
        path,
        also_tried: candidates,
    })
}

/// Sequential reader over one IDX file that transparently gunzips and turns
/// every failure into a [`DatasetError`] naming the file. Tracks how many
/// (decompressed) bytes it has consumed so truncation errors can say how far
/// the file got.
struct IdxReader<'a> {
    kind: DatasetKind,
    path: PathBuf,
    gzipped: bool,
    inner: Box<dyn Read + 'a>,
    consumed: u64,
}

impl<'a> IdxReader<'a> {
    fn open(kind: DatasetKind, path: &Path) -> Result<Self, DatasetError> {
        let file = File::open(path).map_err(|error| DatasetError::Io {
            kind,
            path: path.to_path_buf(),
            error,
        })?;
        IdxReader::new(kind, path, BufReader::new(file))
    }

    fn new(
        kind: DatasetKind,
        path: &Path,
        mut source: impl BufRead + 'a,
    ) -> Result<Self, DatasetError> {
        // Decide by content, not by name: some mirrors serve already
        // decompressed files under the `.gz` name.
        let gzipped = source
            .fill_buf()
            .map_err(|error| DatasetError::Io {
                kind,
                path: path.to_path_buf(),
                error,
            })?
            .starts_with(&GZIP_MAGIC);
        let inner: Box<dyn Read + 'a> = if gzipped {
            // MultiGzDecoder: a valid gzip file may hold several members.
            Box::new(MultiGzDecoder::new(source))
        } else {
            Box::new(source)
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
        let (kind, path) = (self.kind, self.path.clone());
        if self.gzipped && decoder_error {
            DatasetError::CorruptGzip { kind, path, error }
        } else {
            DatasetError::Io { kind, path, error }
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
            .map_err(|error| self.read_error(error))? as u64;
        self.consumed += read;
        if read < len {
            return Err(DatasetError::Truncated {
                kind: self.kind,
                path: self.path.clone(),
                expected_bytes: self.consumed + (len - read),
                found_bytes: self.consumed,
            });
        }
        Ok(bytes)
    }

    fn read_u32(&mut self) -> Result<u32, DatasetError> {
        let mut word = [0u8; 4];
        word.copy_from_slice(&self.read_exact_bytes(4)?);
        Ok(u32::from_be_bytes(word))
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
