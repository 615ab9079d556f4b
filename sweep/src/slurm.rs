//! The SLURM executor: one job array per stage, chained with
//! `--dependency=afterok`, each task running one job through
//! `tandem sweep job --out OUT --id ID`.
//!
//! Assumptions (docs/sweep.md): OUT is on a filesystem every node sees at
//! the same path, and the `tandem` binary (and Verilator, yosys, the
//! dataset) are there too. A task whose job fails records the failure and
//! exits 0, so later stages still run for the other points; it exits
//! non-zero only when it cannot even write its record.

use crate::error::SweepError;
use crate::local::{forced, RunOptions};
use crate::points::Job;
use crate::run::Sweep;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Options passed through to sbatch.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub account: Option<String>,
    /// `--time` of every task, e.g. `02:00:00`.
    pub time: Option<String>,
    /// CPUs per task (default 2).
    pub cpus_per_task: Option<usize>,
    /// Further sbatch arguments, verbatim.
    pub extra: Vec<String>,
    /// The tandem binary the tasks run (default: this one).
    pub tandem: PathBuf,
}

/// One stage's array: the script and the jobs it runs.
#[derive(Debug, Clone)]
pub struct StageScript {
    pub stage: usize,
    pub path: PathBuf,
    pub jobs: Vec<String>,
    pub text: String,
}

/// The scripts of every stage that has jobs to run (reused jobs left out).
pub fn scripts(
    sweep: &Sweep,
    run: &RunOptions,
    slurm: &SlurmOptions,
) -> Result<Vec<StageScript>, SweepError> {
    let mut stages = Vec::new();
    for stage in 0..=2 {
        let mut jobs: Vec<&Job> = Vec::new();
        for job in sweep.jobs.iter().filter(|j| j.stage == stage) {
            if forced(job, run) || sweep.reusable(job)?.is_none() {
                jobs.push(job);
            }
        }
        if jobs.is_empty() {
            continue;
        }
        let path = sweep
            .out
            .join("slurm")
            .join(format!("stage-{stage}.sbatch"));
        let text = script(sweep, stage, &jobs, slurm);
        stages.push(StageScript {
            stage,
            path,
            jobs: jobs.iter().map(|j| j.id.clone()).collect(),
            text,
        });
    }
    Ok(stages)
}

fn script(sweep: &Sweep, stage: usize, jobs: &[&Job], slurm: &SlurmOptions) -> String {
    let out = absolute(&sweep.out);
    let cpus = slurm.cpus_per_task.unwrap_or(2);
    let mut text = String::new();
    let _ = writeln!(text, "#!/bin/bash");
    let _ = writeln!(
        text,
        "# Stage {stage} of sweep {} (written by `tandem sweep --executor slurm`).",
        sweep.spec.name
    );
    let _ = writeln!(
        text,
        "#SBATCH --job-name=tandem-{}-s{stage}",
        sweep.spec.name
    );
    let _ = writeln!(text, "#SBATCH --array=0-{}", jobs.len() - 1);
    let _ = writeln!(text, "#SBATCH --cpus-per-task={cpus}");
    let _ = writeln!(
        text,
        "#SBATCH --output={}/slurm/logs/stage-{stage}-%a.log",
        out.display()
    );
    if let Some(p) = &slurm.partition {
        let _ = writeln!(text, "#SBATCH --partition={p}");
    }
    if let Some(a) = &slurm.account {
        let _ = writeln!(text, "#SBATCH --account={a}");
    }
    if let Some(t) = &slurm.time {
        let _ = writeln!(text, "#SBATCH --time={t}");
    }
    let _ = writeln!(text, "set -euo pipefail");
    let _ = writeln!(
        text,
        "jobs=({})",
        jobs.iter()
            .map(|j| j.id.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(
        text,
        "exec {} sweep job --out {} --id \"${{jobs[$SLURM_ARRAY_TASK_ID]}}\" --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"",
        slurm.tandem.display(),
        out.display()
    );
    text
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Submit the stages, chained; returns the SLURM job ids.
pub fn submit(
    stages: &[StageScript],
    slurm: &SlurmOptions,
    say: &dyn Fn(&str),
) -> Result<Vec<String>, SweepError> {
    let mut ids: Vec<String> = Vec::new();
    for stage in stages {
        if let Some(dir) = stage.path.parent() {
            std::fs::create_dir_all(dir.join("logs")).map_err(|source| SweepError::Write {
                path: dir.join("logs"),
                source,
            })?;
        }
        crate::run::write_atomic(&stage.path, &stage.text)?;
        let mut command = Command::new("sbatch");
        command.arg("--parsable");
        if let Some(previous) = ids.last() {
            command.arg(format!("--dependency=afterok:{previous}"));
        }
        command.args(&slurm.extra).arg(&stage.path);
        let output = command.output().map_err(|e| {
            SweepError::Slurm(format!(
                "cannot run sbatch ({e}); is SLURM installed and on PATH?"
            ))
        })?;
        if !output.status.success() {
            return Err(SweepError::Slurm(format!(
                "sbatch {} failed: {}",
                stage.path.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let id = String::from_utf8_lossy(&output.stdout)
            .trim()
            .split(';')
            .next()
            .unwrap_or_default()
            .to_string();
        say(&format!(
            "stage {}: submitted array job {id} ({} tasks)",
            stage.stage,
            stage.jobs.len()
        ));
        ids.push(id);
    }
    Ok(ids)
}

/// Wait until none of `ids` is queued or running (squeue), reporting
/// progress; then return each array's final states (sacct, where
/// accounting is on).
pub fn follow(
    ids: &[String],
    poll: Duration,
    say: &dyn Fn(&str),
) -> Result<Vec<String>, SweepError> {
    let mut last = String::new();
    loop {
        let output = Command::new("squeue")
            .args(["-h", "-o", "%i %T", "-j", &ids.join(",")])
            .output()
            .map_err(|e| SweepError::Slurm(format!("cannot run squeue ({e})")))?;
        let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
        // squeue exits non-zero once every id has left the queue.
        if text.is_empty() {
            break;
        }
        let running = text.lines().filter(|l| l.ends_with("RUNNING")).count();
        let pending = text.lines().filter(|l| l.ends_with("PENDING")).count();
        let status = format!("slurm: {running} task(s) running, {pending} pending");
        if status != last {
            say(&status);
            last = status;
        }
        std::thread::sleep(poll);
    }
    let mut states = Vec::new();
    for id in ids {
        if let Ok(output) = Command::new("sacct")
            .args(["-n", "-P", "-X", "-o", "JobID,State", "-j", id])
            .output()
        {
            states.extend(
                String::from_utf8_lossy(&output.stdout)
                    .lines()
                    .map(str::to_string),
            );
        }
    }
    Ok(states)
}
