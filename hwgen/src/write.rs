//! Writing a design directory the user named (`tandem hwgen --out DIR`):
//! all or nothing, and never over something that is not a design.
//!
//! The files go into a temporary sibling directory first, which then
//! replaces `DIR` by rename, so a failure never leaves a half-written design
//! and files of an earlier design (say, `*.memh` images of another model)
//! never linger beside the new RTL.

use crate::design::Design;
use crate::generate::{GeneratedFile, HW_YAML};
use crate::memimage::{design_files, MemImageError};
use golden::model::Model;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a design directory could not be written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// `--out` names a file.
    #[error("{}: is a file, not a directory; pass a directory for the design", .path.display())]
    NotADirectory { path: PathBuf },
    /// `--out` names a directory with other content.
    #[error("{}: exists and holds files but no {HW_YAML}, so it is not a tandem design directory; pass a new or empty directory (tandem replaces a design directory as a whole)", .path.display())]
    NotADesign { path: PathBuf },
    /// The model's parameters do not fit the design.
    #[error(transparent)]
    Model(#[from] MemImageError),
    /// A file or directory could not be written.
    #[error("cannot write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `design` (and, with its model, the `$readmemh` images) into `dir`,
/// replacing an earlier design there; returns the file names written.
pub fn write_design(
    design: &Design,
    model: Option<&Model>,
    dir: &Path,
) -> Result<Vec<String>, WriteError> {
    let files = design_files(design, model)?;
    write_design_dir(&files, dir)?;
    Ok(files.into_iter().map(|f| f.path).collect())
}

/// Replace `dir` with exactly `files` (see the module docs).
pub fn write_design_dir(files: &[GeneratedFile], dir: &Path) -> Result<(), WriteError> {
    check_target(dir)?;
    let parent = match dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = dir
        .file_name()
        .map_or_else(|| "design".into(), |n| n.to_string_lossy().into_owned());
    let temp = parent.join(format!(".{name}.tmp-{}", unique()));
    let written = write_all(files, &temp, dir);
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&temp);
        return written;
    }
    let old = parent.join(format!(".{name}.old-{}", unique()));
    let had_old = dir.exists();
    if had_old {
        std::fs::rename(dir, &old).map_err(|source| {
            let _ = std::fs::remove_dir_all(&temp);
            WriteError::Io {
                path: dir.to_path_buf(),
                source,
            }
        })?;
    }
    if let Err(source) = std::fs::rename(&temp, dir) {
        if had_old {
            let _ = std::fs::rename(&old, dir);
        }
        let _ = std::fs::remove_dir_all(&temp);
        return Err(WriteError::Io {
            path: dir.to_path_buf(),
            source,
        });
    }
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}

/// `dir` may be missing, empty, or an earlier design (it has `hw.yaml`).
fn check_target(dir: &Path) -> Result<(), WriteError> {
    let Ok(metadata) = std::fs::metadata(dir) else {
        return Ok(());
    };
    if !metadata.is_dir() {
        return Err(WriteError::NotADirectory {
            path: dir.to_path_buf(),
        });
    }
    let empty = std::fs::read_dir(dir).map_err(io(dir))?.next().is_none();
    if !empty && !dir.join(HW_YAML).is_file() {
        return Err(WriteError::NotADesign {
            path: dir.to_path_buf(),
        });
    }
    Ok(())
}

/// Write every file into `temp`; errors name the file as it will be called
/// in `dir`.
fn write_all(files: &[GeneratedFile], temp: &Path, dir: &Path) -> Result<(), WriteError> {
    std::fs::create_dir(temp).map_err(io(dir))?;
    for file in files {
        std::fs::write(temp.join(&file.path), &file.contents).map_err(|source| WriteError::Io {
            path: dir.join(&file.path),
            source,
        })?;
    }
    Ok(())
}

fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, contents: &str) -> GeneratedFile {
        GeneratedFile {
            path: path.into(),
            contents: contents.into(),
        }
    }

    #[test]
    fn an_earlier_design_is_replaced_whole() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("hw");
        let first = [file(HW_YAML, "a"), file("conv1_shift.memh", "00\n")];
        write_design_dir(&first, &dir).unwrap();
        write_design_dir(&[file(HW_YAML, "b")], &dir).unwrap();
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [HW_YAML], "the stale memh image is gone");
        let siblings = std::fs::read_dir(scratch.path()).unwrap().count();
        assert_eq!(siblings, 1, "no temporary directory is left behind");
    }

    #[test]
    fn a_file_or_a_foreign_directory_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let plain = scratch.path().join("plain.txt");
        std::fs::write(&plain, "x").unwrap();
        let error = write_design_dir(&[file(HW_YAML, "a")], &plain).unwrap_err();
        assert!(
            error.to_string().contains("is a file, not a directory"),
            "{error}"
        );
        let foreign = scratch.path().join("notes");
        std::fs::create_dir(&foreign).unwrap();
        std::fs::write(foreign.join("todo.txt"), "keep me").unwrap();
        let error = write_design_dir(&[file(HW_YAML, "a")], &foreign).unwrap_err();
        assert!(
            error.to_string().contains("not a tandem design directory"),
            "{error}"
        );
        assert!(foreign.join("todo.txt").is_file(), "nothing was touched");
    }

    #[test]
    fn a_failing_file_is_named_and_nothing_is_left_half_written() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("hw");
        let files = [file(HW_YAML, "a"), file("sub/x.v", "y")];
        let error = write_design_dir(&files, &dir).unwrap_err();
        assert!(error.to_string().ends_with("hw/sub/x.v"), "{error}");
        assert!(!dir.exists());
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
    }
}
