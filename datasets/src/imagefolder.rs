//! ImageNet-style image folders: `DIR/<class>/<image>.jpg` (or `.jpeg`,
//! `.png`), read as torchvision's `ImageFolder` reads them and transformed
//! as its standard evaluation pipeline does.
//!
//! - **Classes**: the subdirectories of `DIR` (symbolic links followed),
//!   sorted by name (byte order, which is Python's code-point order for
//!   UTF-8 names); the `i`-th is label `i`. Every subdirectory is a class,
//!   hidden ones included, exactly as `ImageFolder.find_classes` has it.
//! - **Files**: everything under a class folder, recursively (links
//!   followed), whose name ends in `.jpg`, `.jpeg` or `.png` in any case;
//!   directories in sorted path order, the files of each sorted by name:
//!   torchvision's `sorted(os.walk(...))` then `sorted(fnames)`. Classes come
//!   one after the other, so `limit` keeps the first images of the first
//!   classes. Other files are skipped, as torchvision skips them, except the
//!   image formats torchvision reads and this reader does not (`.bmp`,
//!   `.ppm`, `.pgm`, `.tif`, `.tiff`, `.webp`): those are an error naming the
//!   file, so the two never disagree silently about which files make the set.
//! - **Decoding**: by content (not by name), with the `image` crate's JPEG
//!   and PNG decoders, converted to RGB (greyscale replicated, alpha
//!   dropped, palettes expanded), as `Image.open(f).convert("RGB")` does; for
//!   a 1-channel model, then to luma with Pillow's `convert("L")` weights
//!   (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`, exact on grey images).
//! - **Transform**: [`transform::eval_transform`](crate::transform::eval_transform):
//!   resize the shorter side to 256 (for a 224 model; `round(size * 256 / 224)`
//!   in general) with Pillow's antialiased bilinear filter, center-crop to the
//!   model's input, channel-major. No normalisation.
//!
//! `docs/datasets.md` says where the bytes can differ from torchvision's
//! (JPEG decoders, 16-bit PNGs).

use std::fs;
use std::io::{self, Cursor};
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageReader};
use rayon::prelude::*;

use crate::transform::eval_transform;
use crate::{Dataset, DatasetError, FileBytes, Source, Split};

/// File name endings read (compared in lower case), as torchvision spells them.
pub const EXTENSIONS: [&str; 3] = [".jpg", ".jpeg", ".png"];

/// Image formats torchvision's `ImageFolder` reads that this reader does not.
const UNSUPPORTED_EXTENSIONS: [&str; 6] = [".bmp", ".pgm", ".ppm", ".tif", ".tiff", ".webp"];

/// Class folders nested deeper than this are refused (a link cycle).
const MAX_DEPTH: usize = 64;

/// An image folder's classes and files, in reading order, before any image
/// is decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The folder listed.
    pub dir: PathBuf,
    /// Class names (subfolder names), sorted; index = label.
    pub classes: Vec<String>,
    /// Every image file with its class index, in reading order.
    pub files: Vec<(PathBuf, usize)>,
}

impl Listing {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when the folder holds no images (never, for a listing [`list`]
    /// returned: an empty class is an error).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The classes and image files of `dir`, without decoding anything.
pub fn list(dir: &Path) -> Result<Listing, DatasetError> {
    if !dir.is_dir() {
        return Err(DatasetError::FolderMissing {
            dir: dir.to_path_buf(),
        });
    }
    let mut class_dirs: Vec<(Vec<u8>, PathBuf, String)> = Vec::new();
    for entry in read_dir(dir)? {
        let path = entry.path();
        // `is_dir` follows links, as Python's `DirEntry.is_dir()` does.
        if path.is_dir() {
            let name = entry.file_name();
            let key = os_bytes(&name);
            class_dirs.push((key, path, name.to_string_lossy().into_owned()));
        }
    }
    if class_dirs.is_empty() {
        return Err(DatasetError::NoClassFolders {
            dir: dir.to_path_buf(),
        });
    }
    class_dirs.sort();
    let mut classes = Vec::with_capacity(class_dirs.len());
    let mut files = Vec::new();
    for (index, (_, class_dir, name)) in class_dirs.into_iter().enumerate() {
        let mut walked = Vec::new();
        walk(&class_dir, 0, &mut walked)?;
        // Whole paths as bytes, as Python compares strings (a `Path`
        // compares by components, which orders "a b" and "a/b" otherwise).
        walked.sort_by_cached_key(|(dir, _)| os_bytes(dir.as_os_str()));
        let before = files.len();
        for (_, mut names) in walked {
            names.sort_by_cached_key(|path| os_bytes(path.as_os_str()));
            files.extend(names.into_iter().map(|path| (path, index)));
        }
        if files.len() == before {
            return Err(DatasetError::EmptyClass {
                dir: class_dir,
                class: name,
                root: dir.to_path_buf(),
            });
        }
        classes.push(name);
    }
    Ok(Listing {
        dir: dir.to_path_buf(),
        classes,
        files,
    })
}

/// Every directory at or below `dir` with the image files directly in it
/// (unsorted), as `os.walk(dir, followlinks=True)` visits them.
fn walk(
    dir: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, Vec<PathBuf>)>,
) -> Result<(), DatasetError> {
    if depth > MAX_DEPTH {
        return Err(DatasetError::FolderTooDeep {
            dir: dir.to_path_buf(),
            depth: MAX_DEPTH,
        });
    }
    let mut images = Vec::new();
    let mut subdirs = Vec::new();
    for entry in read_dir(dir)? {
        let path = entry.path();
        if path.is_dir() {
            subdirs.push(path);
            continue;
        }
        let name = entry.file_name().to_string_lossy().to_lowercase();
        if EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
            images.push(path);
        } else if let Some(ext) = UNSUPPORTED_EXTENSIONS
            .iter()
            .find(|ext| name.ends_with(*ext))
        {
            return Err(DatasetError::UnsupportedFormat {
                path,
                format: ext[1..].to_string(),
            });
        }
    }
    out.push((dir.to_path_buf(), images));
    for subdir in subdirs {
        walk(&subdir, depth + 1, out)?;
    }
    Ok(())
}

fn read_dir(dir: &Path) -> Result<Vec<fs::DirEntry>, DatasetError> {
    let io_error = |error: io::Error| DatasetError::ImageIo {
        path: dir.to_path_buf(),
        error,
    };
    fs::read_dir(dir)
        .map_err(io_error)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)
}

#[cfg(unix)]
fn os_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(name: &std::ffi::OsStr) -> Vec<u8> {
    name.to_string_lossy().into_owned().into_bytes()
}

/// The first `limit` images (all with `None`) of the image folder `dir`,
/// each decoded and transformed to `shape` (`[channels, height, width]`,
/// channels 1 or 3). The whole folder is listed (so an empty class is found
/// whatever `limit` is); only the kept images are decoded, in parallel.
pub fn load(dir: &Path, shape: [usize; 3], limit: Option<usize>) -> Result<Dataset, DatasetError> {
    load_listing(&list(dir)?, shape, limit)
}

/// [`load`] from a [`list`]ing made earlier.
pub fn load_listing(
    listing: &Listing,
    shape: [usize; 3],
    limit: Option<usize>,
) -> Result<Dataset, DatasetError> {
    check_shape(shape)?;
    let [channels, height, width] = shape;
    let image_len = channels * height * width;
    let kept = &listing.files[..listing.len().min(limit.unwrap_or(usize::MAX))];
    let mut images = vec![0u8; kept.len() * image_len];
    let results: Vec<Result<(), DatasetError>> = images
        .par_chunks_mut(image_len)
        .zip(kept.par_iter())
        .map(|(out, (path, _))| {
            out.copy_from_slice(&decode_file(path, shape)?);
            Ok(())
        })
        .collect();
    // The first failure in reading order, whichever thread met it first.
    results.into_iter().collect::<Result<(), _>>()?;
    let wide = listing.classes.len() > 256;
    let labels: Vec<u8> = kept
        .iter()
        .map(|&(_, class)| if wide { 0 } else { class as u8 })
        .collect();
    Ok(Dataset {
        kind: Source::ImageFolder,
        split: Split::Test,
        channels,
        height,
        width,
        images,
        labels,
        wide_labels: wide.then(|| kept.iter().map(|&(_, class)| class as u32).collect()),
        class_names: listing.classes.clone(),
    })
}

/// One image file, decoded and transformed to `shape` (channel-major).
pub fn decode_file(path: &Path, shape: [usize; 3]) -> Result<Vec<u8>, DatasetError> {
    let bytes = fs::read(path).map_err(|error| DatasetError::ImageIo {
        path: path.to_path_buf(),
        error,
    })?;
    decode(
        FileBytes {
            path,
            bytes: &bytes,
        },
        shape,
    )
}

/// One image held in memory, decoded and transformed to `shape` exactly as
/// [`load`] does it (errors name `file.path`).
pub fn decode(file: FileBytes<'_>, shape: [usize; 3]) -> Result<Vec<u8>, DatasetError> {
    check_shape(shape)?;
    let [channels, height, width] = shape;
    let undecodable = |error: String| DatasetError::Undecodable {
        path: file.path.to_path_buf(),
        error,
    };
    let reader = ImageReader::new(Cursor::new(file.bytes))
        .with_guessed_format()
        .map_err(|e| undecodable(e.to_string()))?;
    if reader.format().is_none() {
        return Err(undecodable(
            "it is neither a JPEG nor a PNG file (unrecognised content)".into(),
        ));
    }
    let decoded = reader.decode().map_err(|e| undecodable(e.to_string()))?;
    let (pixels, in_width, in_height) = to_channels(decoded, channels);
    if in_width == 0 || in_height == 0 {
        return Err(undecodable("the image has no pixels".into()));
    }
    Ok(eval_transform(
        &pixels, channels, in_height, in_width, height, width,
    ))
}

/// RGB (3) or luma (1) interleaved bytes, width, height.
fn to_channels(decoded: DynamicImage, channels: usize) -> (Vec<u8>, usize, usize) {
    let rgb = decoded.to_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    let rgb = rgb.into_raw();
    if channels == 3 {
        return (rgb, w, h);
    }
    // Pillow's RGB -> L (`L24` in Convert.c): ITU-R 601-2 luma in 16-bit
    // fixed point, rounded.
    let luma = rgb
        .chunks_exact(3)
        .map(|p| {
            ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000)
                >> 16) as u8
        })
        .collect();
    (luma, w, h)
}

fn check_shape(shape: [usize; 3]) -> Result<(), DatasetError> {
    let [channels, height, width] = shape;
    if channels != 1 && channels != 3 {
        return Err(DatasetError::UnsupportedChannels { channels });
    }
    if height == 0 || width == 0 {
        return Err(DatasetError::EmptyShape { shape });
    }
    Ok(())
}
