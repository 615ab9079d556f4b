//! The run record beside a results page: every finished run's full report
//! (`docs/results-full.runs.json` beside `docs/results-full.md`) and a copy
//! of each seed's teacher (`docs/results-full.teachers/seed-S.safetensors`,
//! a few megabytes each), kept with the page so that a results run resumes
//! even when its `--out` folder is gone (a new machine, a clean clone).
//! Training folders hold every run's checkpoints and stay out of git; the
//! record holds what the page is made of and what its unfinished cells
//! distill.

use crate::error::TrainError;
use crate::summary::TrainReport;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What the record file holds.
#[derive(Debug, Serialize, Deserialize)]
struct RecordFile {
    /// What the file is, for a reader who finds it in the repository.
    about: String,
    /// The command that wrote it (and regenerates the page).
    command: String,
    runs: Vec<TrainReport>,
}

/// The run record of one results page.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// The runs file: the page's name with `.runs.json`.
    pub file: PathBuf,
    /// The teachers' folder: the page's name with `.teachers`.
    pub teachers: PathBuf,
    /// The runs recorded when it was read.
    pub runs: Vec<TrainReport>,
}

impl RunRecord {
    /// The record beside `page`, with the runs its file holds (none when
    /// there is no file yet).
    pub fn beside(page: &Path) -> Result<RunRecord, TrainError> {
        let mut record = RunRecord::fresh(page);
        record.runs = read_runs(&record.file)?;
        Ok(record)
    }

    /// A record beside `page` that starts empty, whatever its file holds
    /// (`--retrain`): the first save replaces the file.
    pub fn fresh(page: &Path) -> RunRecord {
        RunRecord {
            file: page.with_extension("runs.json"),
            teachers: page.with_extension("teachers"),
            runs: Vec::new(),
        }
    }

    /// Write `runs` to the file, then every run read from it that `runs`
    /// does not hold (same seed, bit-widths and method): a run not reached
    /// yet stays recorded until it is.
    pub fn save(&self, command: &str, runs: &[TrainReport]) -> Result<(), TrainError> {
        let same_cell = |a: &TrainReport, b: &TrainReport| {
            (a.seed, a.w_bits, a.a_bits, a.method) == (b.seed, b.w_bits, b.a_bits, b.method)
        };
        let mut all = runs.to_vec();
        all.extend(
            self.runs
                .iter()
                .filter(|old| !runs.iter().any(|run| same_cell(run, old)))
                .cloned(),
        );
        let record = RecordFile {
            about: "Every finished run of the results page of the same name, written by \
                    `tandem train --results`; the command reuses these runs (and the \
                    teachers in the .teachers folder beside this file) when their --out \
                    folder is gone. Do not edit by hand."
                .into(),
            command: command.into(),
            runs: all,
        };
        let json = serde_json::to_string_pretty(&record).expect("reports serialize");
        golden::io::write_atomically(&self.file, format!("{json}\n").as_bytes())?;
        Ok(())
    }

    /// Where the copy of `seed`'s teacher goes.
    pub fn teacher_copy(&self, seed: u64) -> PathBuf {
        self.teachers.join(format!("seed-{seed}.safetensors"))
    }

    /// Copy the teacher checkpoint `checkpoint` (weights digest `digest`)
    /// of `seed` into the record, unless the copy there has those weights.
    pub fn keep_teacher(
        &self,
        seed: u64,
        checkpoint: &Path,
        digest: &str,
    ) -> Result<(), TrainError> {
        if self.kept_teacher(seed, digest).is_some() {
            return Ok(());
        }
        copy_file(checkpoint, &self.teacher_copy(seed))
    }

    /// The copy of `seed`'s teacher when it has the weights `digest`.
    pub fn kept_teacher(&self, seed: u64, digest: &str) -> Option<PathBuf> {
        let copy = self.teacher_copy(seed);
        crate::checkpoint::weights_digest(&copy)
            .is_ok_and(|kept| kept == digest)
            .then_some(copy)
    }
}

/// Copy `from` to `to`, creating `to`'s folder; `to` appears whole or not
/// at all.
pub fn copy_file(from: &Path, to: &Path) -> Result<(), TrainError> {
    let bytes = std::fs::read(from).map_err(|source| TrainError::Io {
        action: "read",
        path: from.to_path_buf(),
        source,
    })?;
    if let Some(folder) = to.parent() {
        std::fs::create_dir_all(folder).map_err(|source| TrainError::Io {
            action: "create the directory",
            path: folder.to_path_buf(),
            source,
        })?;
    }
    golden::io::write_atomically(to, &bytes)?;
    Ok(())
}

/// The runs recorded in `path`; none when there is no such file.
fn read_runs(path: &Path) -> Result<Vec<TrainReport>, TrainError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(TrainError::Io {
                action: "read",
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let record: RecordFile = serde_json::from_str(&text).map_err(|error| TrainError::Record {
        path: path.to_path_buf(),
        message: error.to_string(),
    })?;
    Ok(record.runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_sits_beside_its_page() {
        let dir = tempfile::tempdir().unwrap();
        let record = RunRecord::beside(&dir.path().join("results-full.md")).unwrap();
        assert_eq!(record.file, dir.path().join("results-full.runs.json"));
        assert_eq!(
            record.teacher_copy(2),
            dir.path().join("results-full.teachers/seed-2.safetensors")
        );
        assert!(record.runs.is_empty());
    }

    #[test]
    fn runs_not_reached_yet_stay_recorded_and_reached_ones_are_replaced() {
        use crate::summary::sample_report;
        use crate::Method::{Progressive, Qat};
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("page.md");
        let earlier = vec![
            sample_report(2, Progressive, 1, 0.80),
            sample_report(2, Qat, 1, 0.81),
            sample_report(2, Progressive, 2, 0.82),
        ];
        RunRecord::beside(&page)
            .unwrap()
            .save("tandem train ...", &earlier)
            .unwrap();
        let record = RunRecord::beside(&page).unwrap();
        let as_json = |runs: &[TrainReport]| serde_json::to_string(runs).unwrap();
        assert_eq!(as_json(&record.runs), as_json(&earlier));

        // The first cell was trained again; the others are not reached yet.
        let retrained = vec![sample_report(2, Progressive, 1, 0.70)];
        record.save("tandem train ...", &retrained).unwrap();
        let accuracies: Vec<f64> = RunRecord::beside(&page)
            .unwrap()
            .runs
            .iter()
            .map(|run| run.student_accuracy)
            .collect();
        assert_eq!(accuracies, [0.70, 0.81, 0.82]);
    }

    #[test]
    fn a_broken_record_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let page = dir.path().join("page.md");
        std::fs::write(dir.path().join("page.runs.json"), "{ not json").unwrap();
        let message = RunRecord::beside(&page).unwrap_err().to_string();
        assert!(message.contains("page.runs.json"), "{message}");
        assert!(message.contains("--retrain"), "{message}");
        // What --retrain starts from: the broken file is not read.
        assert!(RunRecord::fresh(&page).runs.is_empty());
    }
}
