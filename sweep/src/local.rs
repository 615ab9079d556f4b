//! The local executor: stage by stage, independent jobs of a stage in
//! parallel, bounded by the cores.

use crate::error::SweepError;
use crate::points::{Job, JobKind};
use crate::run::{JobRecord, JobResult, Sweep};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// What to force and how wide to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Cores the sweep may use in all.
    pub cores: usize,
    /// Hardware jobs at once (each gets `cores / jobs` simulation threads).
    pub jobs: usize,
    /// Train the teacher and the students again even where a result matches.
    pub retrain: bool,
    /// Run the hardware jobs again even where a result matches.
    pub rerun: bool,
}

/// Whether `job` must run although a matching result exists.
pub fn forced(job: &Job, options: &RunOptions) -> bool {
    match job.kind {
        JobKind::Teacher | JobKind::Model { .. } => options.retrain,
        JobKind::Hardware { .. } => options.rerun,
    }
}

/// The record of a job that cannot run because a job it needs failed.
pub fn blocked(sweep: &Sweep, job: &Job, failed_need: &str) -> Result<JobRecord, SweepError> {
    Ok(JobRecord {
        id: job.id.clone(),
        fingerprint: sweep.fingerprint(job)?,
        result: None,
        error: Some(format!("not run: {failed_need}, which it needs, failed")),
        seconds: 0.0,
    })
}

/// Run every job not already done; returns every job's record and how many
/// were reused. `say` gets one line per job started, finished or reused
/// (stderr-friendly: no terminal needed).
pub fn run_local(
    sweep: &Sweep,
    options: &RunOptions,
    say: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<JobRecord>, usize), SweepError> {
    let total = sweep.jobs.len();
    let done = AtomicUsize::new(0);
    let mut records: Vec<JobRecord> = Vec::new();
    let mut reused = 0;
    for stage in 0..=2 {
        let mut pending = Vec::new();
        for job in sweep.jobs.iter().filter(|j| j.stage == stage) {
            if let Some(failed) = job
                .needs
                .iter()
                .find(|need| records.iter().any(|r| &r.id == *need && r.result.is_none()))
            {
                let record = blocked(sweep, job, failed)?;
                sweep_write(sweep, &record)?;
                say(&format!(
                    "[{}/{total}] {}: {}",
                    done.fetch_add(1, Ordering::Relaxed) + 1,
                    job.id,
                    record.error.as_deref().unwrap_or("")
                ));
                records.push(record);
                continue;
            }
            match sweep.reusable(job)? {
                Some(record) if !forced(job, options) => {
                    reused += 1;
                    say(&format!(
                        "[{}/{total}] {}: reused (same configuration, {:.0} s when it ran)",
                        done.fetch_add(1, Ordering::Relaxed) + 1,
                        job.id,
                        record.seconds
                    ));
                    records.push(record);
                }
                _ => pending.push(job),
            }
        }
        // Training uses every core itself; hardware jobs share them.
        let workers = if stage == 2 {
            options.jobs.clamp(1, pending.len().max(1))
        } else {
            1
        };
        let threads = (options.cores / workers).max(1);
        let next = AtomicUsize::new(0);
        let finished = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = pending.get(index) else { break };
                    say(&format!(
                        "{}: started ({threads} thread{})",
                        job.id,
                        if threads == 1 { "" } else { "s" }
                    ));
                    let record = sweep.run_job(job, threads);
                    let status = match &record.error {
                        None => match trained_by(&record) {
                            Some(reason) => {
                                format!("done in {:.0} s; trained by {reason}", record.seconds)
                            }
                            None => format!("done in {:.0} s", record.seconds),
                        },
                        Some(error) => format!("FAILED after {:.0} s: {error}", record.seconds),
                    };
                    say(&format!(
                        "[{}/{total}] {}: {status}",
                        done.fetch_add(1, Ordering::Relaxed) + 1,
                        job.id
                    ));
                    finished.lock().expect("no worker panicked").push(record);
                });
            }
        });
        records.extend(finished.into_inner().expect("no worker panicked"));
    }
    Ok((records, reused))
}

/// Why a trained model's method was chosen (a default the user did not
/// set is said, not taken silently).
fn trained_by(record: &JobRecord) -> Option<&str> {
    match &record.result {
        Some(JobResult::Model { method_reason, .. }) => method_reason.as_deref(),
        _ => None,
    }
}

fn sweep_write(sweep: &Sweep, record: &JobRecord) -> Result<(), SweepError> {
    let path = sweep.job_dir(&record.id).join("result.json");
    crate::run::write_atomic(
        &path,
        &serde_json::to_string_pretty(record).expect("serializes"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(result: Option<JobResult>) -> JobRecord {
        JobRecord {
            id: "model-w2a2f8".into(),
            fingerprint: String::new(),
            result,
            error: None,
            seconds: 1.0,
        }
    }

    #[test]
    fn a_trained_model_says_why_its_method_was_chosen() {
        let model = |method_reason: Option<&str>| JobResult::Model {
            dir: "m".into(),
            accuracy: Some(0.9),
            accuracy_images: 10,
            teacher_accuracy: Some(0.91),
            method: Some(trainer::Method::Qat),
            method_reason: method_reason.map(String::from),
        };
        let reason = "qat, the best measured at W2A2";
        assert_eq!(trained_by(&record(Some(model(Some(reason))))), Some(reason));
        assert_eq!(trained_by(&record(Some(model(None)))), None);
        assert_eq!(trained_by(&record(None)), None);
    }
}
