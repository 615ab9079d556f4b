//! Nothing outlives an interrupt: a process-wide registry of the child process groups and the
//! temporary files and dirs a build has made, [`interrupt_cleanup`] to kill and remove them,
//! and [`install_interrupt_handler`] to do that on SIGINT / SIGTERM.
//!
//! Every child (verilator, each g++, the link) is the leader of its own process group, so one
//! `kill(-pgid)` reaches the compiler passes (`cc1plus`, `as`) it started too. The flip side is
//! that a terminal's Ctrl-C no longer reaches them directly: the parent has to forward it,
//! which is what the handler does.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use crate::SimError;

/// How long killed process groups get to exit after SIGTERM (then after SIGKILL).
const GRACE: Duration = Duration::from_secs(2);

struct Registry {
    /// Set by [`interrupt_cleanup`]: from then on nothing is started, created or published.
    interrupted: bool,
    /// Process group ids (= leader pids) of running children.
    groups: Vec<u32>,
    /// Temporary files and dirs not yet renamed into place or removed.
    temps: Vec<PathBuf>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    interrupted: false,
    groups: Vec::new(),
    temps: Vec::new(),
});

fn registry() -> MutexGuard<'static, Registry> {
    // A panic while holding the lock leaves the lists consistent (each update is one push or
    // retain), so a poisoned lock is still usable.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether [`interrupt_cleanup`] has run in this process.
pub(crate) fn interrupted() -> bool {
    registry().interrupted
}

/// Start `cmd` as the leader of a new process group and register the group. Refused once the
/// process is being interrupted, so no child starts after the cleanup killed the others.
pub(crate) fn spawn_group(cmd: &mut Command) -> Result<Child, SimError> {
    cmd.process_group(0);
    let mut registry = registry();
    if registry.interrupted {
        return Err(SimError::Interrupted);
    }
    let child = cmd.spawn().map_err(|e| SimError::ToolNotFound {
        tool: cmd.get_program().to_string_lossy().into_owned(),
        reason: e.to_string(),
    })?;
    registry.groups.push(child.id());
    Ok(child)
}

/// Wait for a child started by [`spawn_group`] and unregister its group.
pub(crate) fn wait_group(child: &mut Child) -> io::Result<std::process::ExitStatus> {
    let status = child.wait();
    let pid = child.id();
    registry().groups.retain(|&g| g != pid);
    status
}

/// Kill a child's whole group at once and reap it (for children that must not outlive an
/// abandoned build).
pub(crate) fn kill_group(child: &mut Child) {
    signal_group(child.id(), libc::SIGKILL);
    let _ = wait_group(child);
}

fn signal_group(pgid: u32, signal: libc::c_int) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid > 0 {
        // SAFETY: kill(2) has no memory effects; a negative pid addresses the process group.
        unsafe { libc::kill(-pgid, signal) };
    }
}

/// Whether process `pid` exists (possibly as a zombie, or owned by another user).
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// A temporary file or dir of a build (in the cache: named `.tmp-<pid>-...`). Registered from
/// creation until it is renamed into place; removed when dropped before that, and by
/// [`interrupt_cleanup`].
pub(crate) struct TempPath {
    path: PathBuf,
    /// Renamed into place: nothing left to remove.
    published: bool,
}

impl TempPath {
    /// Register `path` and make it with `create`, both under the registry lock, so that an
    /// interrupt either sees the new path or keeps it from being made.
    pub fn create<T>(
        path: PathBuf,
        create: impl FnOnce(&Path) -> io::Result<T>,
    ) -> Result<(TempPath, T), SimError> {
        let mut registry = registry();
        if registry.interrupted {
            return Err(SimError::Interrupted);
        }
        registry.temps.push(path.clone());
        let temp = TempPath {
            path,
            published: false,
        };
        match create(&temp.path) {
            Ok(value) => {
                drop(registry);
                Ok((temp, value))
            }
            Err(e) => {
                let error = SimError::io("cannot create", &temp.path, e);
                drop(registry); // `temp`'s drop takes the lock again
                Err(error)
            }
        }
    }

    /// Register a path that a child process will create (e.g. a compiler's `-o` file).
    pub fn reserve(path: PathBuf) -> Result<TempPath, SimError> {
        Self::create(path, |_| Ok(())).map(|(temp, ())| temp)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rename into place at `dest` (atomic, so readers see all or nothing), unless the process
    /// is being interrupted. On any error the temporary is removed.
    pub fn rename_to(mut self, dest: &Path, action: &str) -> Result<(), SimError> {
        let mut registry = registry();
        let result = if registry.interrupted {
            Err(SimError::Interrupted)
        } else {
            fs::rename(&self.path, dest).map_err(|e| SimError::io(action, dest, e))
        };
        if result.is_ok() {
            self.published = true;
            registry.temps.retain(|t| *t != self.path);
        }
        drop(registry); // before `self` drops and takes the lock again
        result
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        if self.published {
            return;
        }
        remove_path(&self.path);
        registry().temps.retain(|t| *t != self.path);
    }
}

/// Remove a file or a whole dir; gone already is fine.
pub(crate) fn remove_path(path: &Path) {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            let _ = fs::remove_dir_all(path);
        }
        Ok(_) => {
            let _ = fs::remove_file(path);
        }
        Err(_) => {}
    }
}

/// Kill every running child's process group (SIGTERM, then SIGKILL for what is left after a
/// grace period) and remove every temporary file and dir of builds in progress.
///
/// For a process on its way out (it is what [`install_interrupt_handler`] runs before
/// exiting): afterwards every build in this process fails with [`SimError::Interrupted`].
/// Call it from your own signal handling if you do not install ours.
pub fn interrupt_cleanup() {
    cleanup(&mut registry());
}

fn cleanup(registry: &mut Registry) {
    registry.interrupted = true;
    let groups = std::mem::take(&mut registry.groups);
    for signal in [libc::SIGTERM, libc::SIGKILL] {
        for &group in &groups {
            signal_group(group, signal);
        }
        if wait_until_gone(&groups, GRACE) {
            break;
        }
    }
    for temp in std::mem::take(&mut registry.temps) {
        // A build thread may still write into a dir being removed; try again if it refilled.
        for _ in 0..3 {
            remove_path(&temp);
            if fs::symlink_metadata(&temp).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Poll until no live (non-zombie) process is in any of `groups`; false if `timeout` passed.
fn wait_until_gone(groups: &[u32], timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        if !any_live_member(groups) {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether a process that is not a zombie belongs to one of `groups` (from `/proc/*/stat`).
/// Zombies are dead already; our own children among them are reaped by the waiting thread.
fn any_live_member(groups: &[u32]) -> bool {
    if groups.is_empty() {
        return false;
    }
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|entry| {
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        stat_group(&stat)
            .is_some_and(|(state, pgrp)| !matches!(state, 'Z' | 'X') && groups.contains(&pgrp))
    })
}

/// State and process group of a `/proc/<pid>/stat` line: `pid (comm) state ppid pgrp ...`.
fn stat_group(stat: &str) -> Option<(char, u32)> {
    // comm may contain spaces and parentheses; the fields after the last ')' are plain.
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let _ppid = fields.next()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Run [`interrupt_cleanup`] on SIGINT or SIGTERM, then exit with 130 or 143 (128 + the
/// signal, as a shell reports a process killed by it). Call once at the start of `main`;
/// later calls do nothing.
pub fn install_interrupt_handler() -> Result<(), SimError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| start_handler_thread().map_err(|e| e.to_string()))
        .clone()
        .map_err(|reason| SimError::SignalHandler { reason })
}

fn start_handler_thread() -> io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("interrupt-cleanup".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // Exit with the lock still held: a build thread that failed because its
                // children were killed blocks on it instead of reporting that failure and
                // exiting with its own status first.
                let mut registry = registry();
                cleanup(&mut registry);
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_line_fields() {
        assert_eq!(
            stat_group("4242 (cc1plus) R 4241 4240 4240 0 -1"),
            Some(('R', 4240))
        );
        assert_eq!(
            stat_group("7 (a (b) c) Z 1 9 9 0"),
            Some(('Z', 9)),
            "comm with spaces and parentheses"
        );
        assert_eq!(stat_group("garbage"), None);
    }

    #[test]
    fn own_pid_is_alive_and_a_reaped_child_is_not() {
        assert!(pid_alive(std::process::id()));
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!pid_alive(pid));
        assert!(!pid_alive(0));
    }

    #[test]
    fn a_dropped_temp_is_removed_and_unregistered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".tmp-1-x");
        let (temp, ()) = TempPath::create(path.clone(), |p| fs::create_dir(p)).unwrap();
        fs::write(temp.path().join("f"), "x").unwrap();
        assert!(registry().temps.contains(&path));
        drop(temp);
        assert!(!path.exists());
        assert!(!registry().temps.contains(&path));
    }

    #[test]
    fn a_renamed_temp_stays_and_is_unregistered() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".tmp-1-y");
        let (temp, ()) = TempPath::create(path.clone(), |p| fs::write(p, "y")).unwrap();
        let dest = dir.path().join("y");
        temp.rename_to(&dest, "cannot publish").unwrap();
        assert_eq!(fs::read_to_string(&dest).unwrap(), "y");
        assert!(!registry().temps.contains(&path));
    }
}
