//! The SLURM executor: one job array per stage, chained with
//! `--dependency=afterok`, each task running one job through
//! `tandem sweep job --out OUT --id ID`.
//!
//! Assumptions (docs/sweep-slurm.md): OUT is on a filesystem every node sees
//! at the same path, and the `tandem` binary (and Verilator, yosys, the
//! dataset) are there too. A task whose job fails records the failure and
//! exits 0, so later stages still run for the other points; it exits
//! non-zero only when it cannot even write its record. Then the later
//! stages can never start: they are submitted with
//! `--kill-on-invalid-dep=yes`, so SLURM cancels them and [`follow`] ends.
//!
//! Checked against SLURM 22.05 (a single-node cluster from
//! scripts/slurm-local.sh, tests/sweep_slurm.rs).

use crate::error::SweepError;
use crate::local::{forced, RunOptions};
use crate::points::Job;
use crate::run::Sweep;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Most tasks in one array: SLURM's default `MaxArraySize` is 1001
/// (indices 0..=1000); a larger stage is split into several arrays.
pub const MAX_ARRAY_TASKS: usize = 1000;

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

/// One array of a stage: the script and the jobs it runs (task `i` runs
/// `jobs[i]`).
#[derive(Debug, Clone)]
pub struct StageScript {
    pub stage: usize,
    /// 0, or the part of a stage split into several arrays.
    pub part: usize,
    pub path: PathBuf,
    pub jobs: Vec<String>,
    pub text: String,
    /// Where task `i` writes its output: `%a` stands for `i`.
    pub log_pattern: PathBuf,
}

impl StageScript {
    /// The log of the task that runs `job`, if this array runs it.
    pub fn log_of(&self, job: &str) -> Option<PathBuf> {
        let index = self.jobs.iter().position(|j| j == job)?;
        Some(PathBuf::from(
            self.log_pattern
                .to_string_lossy()
                .replace("%a", &index.to_string()),
        ))
    }
}

/// The scripts of every stage that has jobs to run (reused jobs left out).
pub fn scripts(
    sweep: &Sweep,
    run: &RunOptions,
    slurm: &SlurmOptions,
) -> Result<Vec<StageScript>, SweepError> {
    scripts_split(sweep, run, slurm, MAX_ARRAY_TASKS)
}

fn scripts_split(
    sweep: &Sweep,
    run: &RunOptions,
    slurm: &SlurmOptions,
    max_tasks: usize,
) -> Result<Vec<StageScript>, SweepError> {
    let out = absolute(&sweep.out);
    let mut stages = Vec::new();
    for stage in 0..=2 {
        let mut jobs: Vec<&Job> = Vec::new();
        for job in sweep.jobs.iter().filter(|j| j.stage == stage) {
            if forced(job, run) || sweep.reusable(job)?.is_none() {
                jobs.push(job);
            }
        }
        let parts = jobs.len().div_ceil(max_tasks.max(1));
        for (part, chunk) in jobs.chunks(max_tasks.max(1)).enumerate() {
            let name = if parts == 1 {
                format!("stage-{stage}")
            } else {
                format!("stage-{stage}-part{part}")
            };
            let path = out.join("slurm").join(format!("{name}.sbatch"));
            let log_pattern = out
                .join("slurm")
                .join("logs")
                .join(format!("{name}-%a.log"));
            let text = script(sweep, &out, stage, chunk, &log_pattern, slurm);
            stages.push(StageScript {
                stage,
                part,
                path,
                jobs: chunk.iter().map(|j| j.id.clone()).collect(),
                text,
                log_pattern,
            });
        }
    }
    Ok(stages)
}

fn script(
    sweep: &Sweep,
    out: &Path,
    stage: usize,
    jobs: &[&Job],
    log_pattern: &Path,
    slurm: &SlurmOptions,
) -> String {
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
        directive_safe(&sweep.spec.name)
    );
    let _ = writeln!(text, "#SBATCH --array=0-{}", jobs.len() - 1);
    let _ = writeln!(text, "#SBATCH --ntasks=1");
    let _ = writeln!(text, "#SBATCH --cpus-per-task={cpus}");
    // sbatch directives are not shell-quoted: paths go in as they are.
    let _ = writeln!(text, "#SBATCH --output={}", log_pattern.display());
    // The submitting directory need not exist on the nodes; OUT does.
    let _ = writeln!(text, "#SBATCH --chdir={}", out.display());
    // PATH (verilator, yosys), HOME (the simulation cache), LIBTORCH, ...:
    // the tasks need the submitting shell's environment, whatever the
    // site's default.
    let _ = writeln!(text, "#SBATCH --export=ALL");
    if let Some(p) = &slurm.partition {
        let _ = writeln!(text, "#SBATCH --partition={}", directive_safe(p));
    }
    if let Some(a) = &slurm.account {
        let _ = writeln!(text, "#SBATCH --account={}", directive_safe(a));
    }
    if let Some(t) = &slurm.time {
        let _ = writeln!(text, "#SBATCH --time={}", directive_safe(t));
    }
    let _ = writeln!(text, "set -euo pipefail");
    let _ = writeln!(
        text,
        "jobs=({})",
        jobs.iter()
            .map(|j| shell_quote(&j.id))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let _ = writeln!(text, "id=\"${{jobs[$SLURM_ARRAY_TASK_ID]}}\"");
    let _ = writeln!(
        text,
        "echo \"tandem sweep job $id (array task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} on $(hostname))\""
    );
    let _ = writeln!(
        text,
        "exec {} sweep job --out {} --id \"$id\" --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\"",
        shell_quote(&slurm.tandem.to_string_lossy()),
        shell_quote(&out.to_string_lossy())
    );
    text
}

/// `s` single-quoted for bash.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// `s` with whitespace replaced, for an `#SBATCH` line (sbatch splits them
/// on whitespace and knows no quoting).
fn directive_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_whitespace() { '_' } else { c })
        .collect()
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Submit the arrays, each stage's after every array of the stage before
/// it (`afterok`); returns the SLURM job ids, one per array. When a
/// submission fails, the arrays already submitted are cancelled.
pub fn submit(
    stages: &[StageScript],
    slurm: &SlurmOptions,
    say: &dyn Fn(&str),
) -> Result<Vec<String>, SweepError> {
    let mut ids: Vec<String> = Vec::new();
    // The arrays of the last stage submitted, and of the one being submitted.
    let mut previous: Vec<String> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for (i, stage) in stages.iter().enumerate() {
        if i > 0 && stages[i - 1].stage != stage.stage {
            previous = std::mem::take(&mut current);
        }
        let id = match submit_one(stage, &previous, slurm) {
            Ok(id) => id,
            Err(error) => {
                if !ids.is_empty() {
                    let _ = Command::new("scancel").args(&ids).output();
                    say(&format!(
                        "cancelled the arrays already submitted ({})",
                        ids.join(", ")
                    ));
                }
                return Err(error);
            }
        };
        let split = stages.iter().filter(|s| s.stage == stage.stage).count() > 1;
        say(&format!(
            "stage {}{}: submitted array job {id} ({} task{}){}",
            stage.stage,
            if split {
                format!(" part {}", stage.part)
            } else {
                String::new()
            },
            stage.jobs.len(),
            if stage.jobs.len() == 1 { "" } else { "s" },
            if previous.is_empty() {
                String::new()
            } else {
                format!(", after {}", previous.join(", "))
            }
        ));
        ids.push(id.clone());
        current.push(id);
    }
    Ok(ids)
}

fn submit_one(
    stage: &StageScript,
    after: &[String],
    slurm: &SlurmOptions,
) -> Result<String, SweepError> {
    for dir in [stage.path.parent(), stage.log_pattern.parent()]
        .into_iter()
        .flatten()
    {
        std::fs::create_dir_all(dir).map_err(|source| SweepError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    crate::run::write_atomic(&stage.path, &stage.text)?;
    let mut command = Command::new("sbatch");
    command.arg("--parsable");
    if !after.is_empty() {
        command.arg(format!("--dependency=afterok:{}", after.join(":")));
        // A task that failed outright (its stage's tasks exit 0 even when
        // their job fails) would leave this array pending forever.
        command.arg("--kill-on-invalid-dep=yes");
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
    // `--parsable`: "ID" or "ID;CLUSTER".
    let id = String::from_utf8_lossy(&output.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(SweepError::Slurm(format!(
            "sbatch {} printed no job id: {:?}",
            stage.path.display(),
            String::from_utf8_lossy(&output.stdout).trim()
        )));
    }
    Ok(id)
}

/// Job states in which a task is still queued or running.
const ACTIVE: [&str; 10] = [
    "PENDING",
    "CONFIGURING",
    "RUNNING",
    "COMPLETING",
    "SUSPENDED",
    "REQUEUED",
    "REQUEUE_FED",
    "REQUEUE_HOLD",
    "RESIZING",
    "SIGNALING",
];

/// squeue may fail for a while (the controller restarting, busy); give up
/// after this many failed polls in a row.
const SQUEUE_RETRIES: usize = 30;

/// Wait until no task of `ids` is queued or running (squeue, polled every
/// quarter second at first, backing off to `poll`, and fast again after
/// each change), reporting progress; then return one line per final state (counts of tasks, and
/// each task that did not complete), from sacct where accounting is on,
/// else from what squeue last showed.
pub fn follow(
    ids: &[String],
    poll: Duration,
    say: &dyn Fn(&str),
) -> Result<Vec<String>, SweepError> {
    let mut last = String::new();
    let mut failures = 0;
    // Task -> (state, reason), as squeue last showed it; kept after SLURM
    // forgets a finished job (MinJobAge).
    let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
    let fast = Duration::from_millis(250).min(poll);
    let mut wait = fast;
    loop {
        // `--jobs=`: squeue's -j takes an optional argument; all states,
        // so that finished tasks show how they ended.
        let output = Command::new("squeue")
            .args(["-h", "-t", "all", "-o", "%i %T %r"])
            .arg(format!("--jobs={}", ids.join(",")))
            .output()
            .map_err(|e| SweepError::Slurm(format!("cannot run squeue ({e})")))?;
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if !output.status.success() {
            // A single job id SLURM has already forgotten: it finished.
            if stderr.contains("Invalid job id") {
                break;
            }
            failures += 1;
            if failures >= SQUEUE_RETRIES {
                return Err(SweepError::Slurm(format!(
                    "squeue failed {failures} times in a row: {stderr} (the arrays {} may still run; \
                     rerun the same command once they end to merge their results)",
                    ids.join(", ")
                )));
            }
            std::thread::sleep(poll);
            wait = poll;
            continue;
        }
        failures = 0;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut active = Vec::new();
        let mut never = Vec::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace();
            let (Some(task), Some(state)) = (fields.next(), fields.next()) else {
                continue;
            };
            let reason = fields.collect::<Vec<_>>().join(" ");
            if ACTIVE.contains(&state) {
                if state == "PENDING" && reason == "DependencyNeverSatisfied" {
                    never.push(task.to_string());
                }
                active.push((task.to_string(), state.to_string()));
            }
            seen.insert(task.to_string(), (state.to_string(), reason));
        }
        if !never.is_empty() {
            // Only where --kill-on-invalid-dep did not take (a site's
            // DependencyParameters): these would wait forever.
            say(&format!(
                "slurm: {} can never start (a task they depend on failed); cancelling them",
                never.join(", ")
            ));
            let _ = Command::new("scancel").args(&never).output();
        }
        if active.is_empty() {
            break;
        }
        let running = active.iter().filter(|(_, s)| s == "RUNNING").count();
        let pending = active.iter().filter(|(_, s)| s == "PENDING").count();
        let status = format!("slurm: {running} task(s) running, {pending} pending");
        if status == last {
            wait = (wait * 2).min(poll);
        } else {
            say(&status);
            last = status;
            wait = fast;
        }
        std::thread::sleep(wait);
    }
    Ok(sacct_states(ids).unwrap_or_else(|| summarize(&seen)))
}

/// Final states from sacct, or `None` where accounting is off.
fn sacct_states(ids: &[String]) -> Option<Vec<String>> {
    let output = Command::new("sacct")
        .args(["-n", "-P", "-X", "-o", "JobID,State,Reason"])
        .arg(format!("--jobs={}", ids.join(",")))
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let mut states = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let mut fields = line.split('|');
        if let (Some(task), Some(state)) = (fields.next(), fields.next()) {
            // "CANCELLED by 0" -> CANCELLED
            let state = state.split_whitespace().next().unwrap_or_default();
            let reason = fields.next().unwrap_or_default().to_string();
            states.insert(task.to_string(), (state.to_string(), reason));
        }
    }
    (!states.is_empty()).then(|| summarize(&states))
}

/// "N task(s) COMPLETED", then each task that ended otherwise.
fn summarize(states: &BTreeMap<String, (String, String)>) -> Vec<String> {
    let finished: Vec<_> = states
        .iter()
        .filter(|(_, (state, _))| !ACTIVE.contains(&state.as_str()))
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, (state, _)) in &finished {
        *counts.entry(state.as_str()).or_default() += 1;
    }
    let mut lines: Vec<String> = counts
        .iter()
        .map(|(state, n)| format!("{n} task(s) {state}"))
        .collect();
    for (task, (state, reason)) in finished {
        if state != "COMPLETED" {
            lines.push(format!("{task} {state} ({reason})"));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_leaves_plain_words_alone() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote("/a b/it's"), "'/a b/it'\\''s'");
        assert_eq!(directive_safe("my sweep"), "my_sweep");
    }

    #[test]
    fn finished_states_are_counted_and_failures_listed() {
        let mut states = BTreeMap::new();
        for (task, state, reason) in [
            ("7_0", "COMPLETED", "None"),
            ("7_1", "COMPLETED", "None"),
            ("8_0", "FAILED", "NonZeroExitCode"),
            ("9_[0-1]", "CANCELLED", "DependencyNeverSatisfied"),
            ("10_[0-3]", "PENDING", "Dependency"),
        ] {
            states.insert(task.to_string(), (state.to_string(), reason.to_string()));
        }
        assert_eq!(
            summarize(&states),
            vec![
                "1 task(s) CANCELLED",
                "2 task(s) COMPLETED",
                "1 task(s) FAILED",
                "8_0 FAILED (NonZeroExitCode)",
                "9_[0-1] CANCELLED (DependencyNeverSatisfied)",
            ]
        );
    }

    #[test]
    fn a_large_stage_is_split_into_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/hw-8x8-w4a4.yaml");
        let path = dir.path().join("split.yaml");
        std::fs::write(
            &path,
            format!(
                "name: split\n\
                 models: {{ source: random, topology: alexnet-cifar, width: 0.125, in_channels: 1, dataset: fashion-mnist }}\n\
                 bits: [ {{ wbits: 4, abits: 4 }}, {{ wbits: 8, abits: 8 }} ]\n\
                 arrays: [ {{ rows: 4, cols: 4 }}, {{ rows: 8, cols: 8 }}, {{ rows: 16, cols: 16 }} ]\n\
                 hw_base: {}\n",
                hw.display()
            ),
        )
        .unwrap();
        let spec = crate::SweepSpec::from_yaml_file(&path).unwrap();
        let sweep = Sweep::new(spec, &dir.path().join("out")).unwrap();
        let run = RunOptions {
            cores: 2,
            jobs: 2,
            retrain: false,
            rerun: false,
        };
        let slurm = SlurmOptions {
            tandem: PathBuf::from("/opt/tandem bin/tandem"),
            partition: Some("cpu".into()),
            ..SlurmOptions::default()
        };
        let stages = scripts_split(&sweep, &run, &slurm, 4).unwrap();
        let shape: Vec<(usize, usize, usize)> = stages
            .iter()
            .map(|s| (s.stage, s.part, s.jobs.len()))
            .collect();
        assert_eq!(shape, vec![(1, 0, 2), (2, 0, 4), (2, 1, 2)]);
        let last = &stages[2];
        assert!(last.path.ends_with("slurm/stage-2-part1.sbatch"));
        assert!(last.text.contains("#SBATCH --array=0-1\n"), "{}", last.text);
        assert!(last.text.contains("#SBATCH --partition=cpu\n"));
        assert!(last
            .text
            .contains("exec '/opt/tandem bin/tandem' sweep job"));
        let log = last.log_of(&last.jobs[1]).unwrap();
        assert!(log.ends_with("slurm/logs/stage-2-part1-1.log"), "{log:?}");
        // The default split: one array per stage.
        let stages = scripts(&sweep, &run, &slurm).unwrap();
        assert_eq!(stages.len(), 2);
        assert!(stages[1].text.contains("#SBATCH --array=0-5\n"));
    }
}
