//! The child-process pool: tools run with their output in a log file, each in its own
//! process group (see interrupt.rs), waited for as a set so none outlives a failed build.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use super::cache::temp_name;
use super::interrupt::{self, TempPath};
use crate::SimError;

/// One running tool.
pub(crate) struct Job {
    /// What it builds, for error messages (e.g. "model fast chunk 0").
    what: String,
    /// The command line, for error messages.
    command: String,
    /// stdout and stderr, interleaved.
    log: TempPath,
    /// `None` once waited for.
    child: Option<Child>,
}

/// How a job ended.
pub(crate) struct Finished {
    pub status: ExitStatus,
    /// Everything it printed.
    pub output: String,
}

impl Job {
    /// Start `cmd`, its output going to a temporary log in `log_dir`.
    pub fn spawn(
        what: impl Into<String>,
        mut cmd: Command,
        log_dir: &Path,
    ) -> Result<Job, SimError> {
        let command = format!("{cmd:?}");
        let (log, file) = TempPath::create(temp_name(log_dir, "cmd.log"), |p| fs::File::create(p))?;
        let err_file = file
            .try_clone()
            .map_err(|e| SimError::io("cannot create log", log.path(), e))?;
        // Output goes to a file, not a pipe: a chatty compiler cannot deadlock on a full pipe
        // while we wait for a sibling job.
        cmd.stdin(Stdio::null()).stdout(file).stderr(err_file);
        let child = interrupt::spawn_group(&mut cmd)?;
        Ok(Job {
            what: what.into(),
            command,
            log,
            child: Some(child),
        })
    }

    /// Wait for the job to end, whatever its status.
    pub fn finish(mut self) -> Result<Finished, SimError> {
        let mut child = self.child.take().expect("a job is waited for once");
        let status = interrupt::wait_group(&mut child).map_err(|e| {
            SimError::io(format!("cannot wait for {}", self.what), self.log.path(), e)
        })?;
        let output = fs::read_to_string(self.log.path()).unwrap_or_default();
        Ok(Finished { status, output })
    }

    /// Wait for the job; a failure is a C++ build error naming `keep_dir`, where the failed
    /// build's files are kept.
    pub fn wait(self, keep_dir: &Path) -> Result<(), SimError> {
        let (what, command) = (self.what.clone(), self.command.clone());
        let Finished { status, output } = self.finish()?;
        if status.success() {
            return Ok(());
        }
        if interrupt::interrupted() {
            return Err(SimError::Interrupted);
        }
        Err(SimError::Compile {
            what,
            status: status.to_string(),
            command,
            output: tail(&output, 60),
            dir: keep_dir.to_owned(),
        })
    }
}

impl Drop for Job {
    /// A job abandoned without waiting (its build failed elsewhere) is killed, not orphaned.
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            interrupt::kill_group(child);
        }
    }
}

/// Jobs running in parallel; dropping the set kills those not yet waited for.
#[derive(Default)]
pub(crate) struct JobSet {
    jobs: Vec<Job>,
}

impl JobSet {
    pub fn spawn(
        &mut self,
        what: impl Into<String>,
        cmd: Command,
        log_dir: &Path,
    ) -> Result<(), SimError> {
        self.jobs.push(Job::spawn(what, cmd, log_dir)?);
        Ok(())
    }

    /// Wait for every job in start order; at the first failure the rest are killed and that
    /// failure is returned.
    pub fn wait_all(self, keep_dir: &Path) -> Result<(), SimError> {
        self.jobs.into_iter().try_for_each(|job| job.wait(keep_dir))
    }
}

/// The last `lines` lines of a tool's output (errors come last; the head is usually noise).
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[... {start} earlier lines ...]\n"));
    }
    out.push_str(&all[start..].join("\n"));
    out
}
