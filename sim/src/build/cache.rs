//! The build cache: where it is, how builds are keyed, the dependency index, publishing by
//! rename, and removing the temporaries of builds that died.
//!
//! The key is two-staged so that `` `include``d files are covered without knowing them up
//! front: `k1` hashes the options, the sources' contents and the tool versions;
//! `index/<k1>.deps` lists the other files Verilator read last time (from
//! `V<top>__verFiles.dat`); the final key hashes `k1` with the current contents of those
//! files.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::interrupt::{self, TempPath};
use super::options::BuildOptions;
use super::toolchain::Toolchain;
use crate::SimError;

/// Environment variable overriding the cache directory.
pub const CACHE_ENV: &str = "TANDEM_SIM_CACHE";

/// Directory holding built models, made absolute: `$TANDEM_SIM_CACHE` if set, else the user
/// cache dir (`$XDG_CACHE_HOME/tandem/verilator`, else `$HOME/.cache/tandem/verilator`),
/// else `<temp dir>/tandem-verilator` (also when the user cache dir cannot be created).
pub fn cache_root() -> PathBuf {
    let env_dir = |name: &str| {
        std::env::var_os(name)
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env_dir(CACHE_ENV) {
        return std::path::absolute(&dir).unwrap_or(dir);
    }
    // The XDG spec ignores a relative $XDG_CACHE_HOME.
    let user_cache = env_dir("XDG_CACHE_HOME")
        .filter(|d| d.is_absolute())
        .or_else(|| env_dir("HOME").map(|home| home.join(".cache")));
    match user_cache.map(|d| d.join("tandem").join("verilator")) {
        Some(dir) if fs::create_dir_all(&dir).is_ok() => dir,
        _ => std::env::temp_dir().join("tandem-verilator"),
    }
}

/// Remove every built model and runtime object under the cache root (e.g. after upgrading
/// Verilator). Models currently loaded stay usable; their files are unlinked only.
pub fn clear_cache() -> io::Result<()> {
    let root = cache_root();
    match fs::remove_dir_all(&root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Keys

/// SHA-256 over length-prefixed fields, so that ("ab","c") and ("a","bc") differ.
pub(crate) struct KeyHasher(Sha256);

impl KeyHasher {
    pub fn new(domain: &str) -> Self {
        let mut h = KeyHasher(Sha256::new());
        h.field(domain.as_bytes());
        h
    }
    pub fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
    pub fn str(&mut self, s: &str) {
        self.field(s.as_bytes());
    }
    /// Hash a file's path and contents.
    fn file(&mut self, path: &Path) -> io::Result<()> {
        self.str(&path.to_string_lossy());
        self.field(&fs::read(path)?);
        Ok(())
    }
    pub fn hex(self) -> String {
        // 128 bits is plenty for a build cache and keeps paths short.
        self.0.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The first-stage key: toolchain, options and the sources' paths and contents.
pub(crate) fn first_key(
    tc: &Toolchain,
    opts: &BuildOptions,
    sources: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Result<String, SimError> {
    let mut h = KeyHasher::new("tandem-model");
    tc.hash_into(&mut h);
    h.str(&opts.top);
    h.str(&opts.clock);
    h.str(&format!("{:?}", opts.trace));
    for src in sources {
        h.file(src)
            .map_err(|e| SimError::io("cannot read source", src, e))?;
    }
    h.str("include-dirs");
    for d in include_dirs {
        h.str(&d.to_string_lossy());
    }
    h.str("parameters");
    for (k, v) in &opts.parameters {
        h.str(k);
        h.str(v);
    }
    h.str("extra-args");
    for a in &opts.extra_args {
        h.str(a);
    }
    Ok(h.hex())
}

/// The final key: `k1` and the current contents of the files Verilator read besides the
/// sources. A dependency that cannot be read any more still yields a (different) key.
pub(crate) fn final_key(k1: &str, deps: &[PathBuf]) -> String {
    let mut h = KeyHasher::new("tandem-model-deps");
    h.str(k1);
    for d in deps {
        if h.file(d).is_err() {
            h.str("<unreadable>");
        }
    }
    h.hex()
}

// ---------------------------------------------------------------------------------------------
// Dependency index

/// `index/<k1>.deps` under `root`.
pub(crate) fn index_file(root: &Path, k1: &str) -> PathBuf {
    root.join("index").join(format!("{k1}.deps"))
}

/// The dependency list recorded for a first-stage key, if any.
pub(crate) fn read_index(index_file: &Path) -> Option<Vec<PathBuf>> {
    let text = fs::read_to_string(index_file).ok()?;
    Some(
        text.lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect(),
    )
}

pub(crate) fn write_index(index_file: &Path, deps: &[PathBuf]) -> Result<(), SimError> {
    let dir = index_file.parent().expect("index file has a parent");
    fs::create_dir_all(dir).map_err(|e| SimError::io("cannot create index dir", dir, e))?;
    let body: String = deps.iter().map(|d| format!("{}\n", d.display())).collect();
    write_atomic(index_file, body.as_bytes())
}

/// Files verilator read (from `V<top>__verFiles.dat`), except the sources (already in k1) and
/// verilator itself (its version is in k1).
pub(crate) fn read_deps(ver_files: &Path, cwd: &Path, sources: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(ver_files) else {
        return Vec::new();
    };
    let sources: HashSet<&PathBuf> = sources.iter().collect();
    let mut deps: Vec<PathBuf> = text
        .lines()
        .filter(|l| l.starts_with("S "))
        .filter_map(|l| {
            let start = l.find('"')?;
            let end = l.rfind('"')?;
            (end > start).then(|| PathBuf::from(&l[start + 1..end]))
        })
        .map(|p| if p.is_absolute() { p } else { cwd.join(p) })
        .map(|p| fs::canonicalize(&p).unwrap_or(p))
        .filter(|p| {
            !sources.contains(p)
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("verilator_bin"))
        })
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

// ---------------------------------------------------------------------------------------------
// Temporaries and publishing

/// Prefix of every temporary in the cache: `.tmp-<pid>-<time>-<n>-<label>`.
const TEMP_PREFIX: &str = ".tmp-";

/// A fresh temporary path in `dir`, named after this process so a later run can tell whether
/// its owner is still alive.
pub(crate) fn temp_name(dir: &Path, label: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    dir.join(format!(
        "{TEMP_PREFIX}{}-{nanos}-{}-{label}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Write `path` through a temporary and a rename: other processes may be reading it.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> Result<(), SimError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let (temp, ()) = TempPath::create(temp_name(dir, "write"), |p| fs::write(p, contents))?;
    temp.rename_to(path, "cannot write")
}

/// Publish a finished build dir as `dir` by renaming it. Losing a race to another builder of
/// the same key is fine: its dir is complete and equivalent, and ours is removed.
pub(crate) fn publish(temp: TempPath, dir: &Path) -> Result<(), SimError> {
    match temp.rename_to(dir, "cannot publish build dir") {
        Err(SimError::Io { .. }) if dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Keep a failed C++ build as `failed-<k1 prefix>/` for inspection, the error pointing there;
/// the previous failure of the same design is replaced.
pub(crate) fn keep_failed(temp: TempPath, root: &Path, k1: &str, err: SimError) -> SimError {
    let SimError::Compile {
        what,
        status,
        command,
        output,
        ..
    } = err
    else {
        return err;
    };
    let failed = root.join(format!("failed-{}", &k1[..12]));
    let from = temp.path().to_string_lossy().into_owned();
    interrupt::remove_path(&failed);
    let dir = match temp.rename_to(&failed, "cannot keep failed build") {
        Ok(()) => failed,
        Err(SimError::Interrupted) => return SimError::Interrupted,
        Err(_) => PathBuf::from(&from), // removed with the temp; the message still names it
    };
    SimError::Compile {
        what,
        status,
        command: command.replace(&from, &dir.to_string_lossy()),
        output,
        dir,
    }
}

// ---------------------------------------------------------------------------------------------
// Stale temporaries

/// A temporary whose owner is alive is still kept at most this long (its pid may have been
/// reused by an unrelated process).
const STALE_AGE: Duration = Duration::from_secs(24 * 3600);

/// Linux's largest pid; a longer run of digits in a temp name is not a pid.
const PID_MAX_LIMIT: u32 = 1 << 22;

/// Remove the temporaries of builds that died (crashed, killed with SIGKILL, or from before
/// the interrupt handler): in the cache root, `index/`, `designs/` and every `runtime-*/`,
/// each temp whose owner pid is gone, and any temp older than a day.
pub(crate) fn remove_stale_temps(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    let mut dirs = vec![root.join("index"), root.join("designs")];
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("runtime-") {
            dirs.push(entry.path());
        } else {
            remove_if_stale(&entry, &name);
        }
    }
    for dir in dirs {
        for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
            remove_if_stale(&entry, &entry.file_name().to_string_lossy());
        }
    }
}

fn remove_if_stale(entry: &fs::DirEntry, name: &str) {
    let Some(owner) = temp_owner(name) else {
        return;
    };
    let too_old = || {
        entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AGE)
    };
    let owner_dead = owner.is_some_and(|pid| !interrupt::pid_alive(pid));
    if owner_dead || too_old() {
        interrupt::remove_path(&entry.path());
    }
}

/// For a temporary's name: `Some(Some(pid))` with its owner, `Some(None)` when the owner is
/// not in the name; `None` for anything that is not a temporary. Besides `.tmp-<pid>-...`,
/// this knows the older names: `.tmp-<k1>-<pid>-...` (build dirs), `<name>.o.<pid>-...`
/// (runtime objects) and `.<pid>-....tmp` (small files).
fn temp_owner(name: &str) -> Option<Option<u32>> {
    let fields = if let Some(rest) = name.strip_prefix(TEMP_PREFIX) {
        rest
    } else if let Some(rest) = name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        rest
    } else if name.starts_with("verilated") {
        name.split_once(".o.")?.1
    } else {
        return None;
    };
    let pid = fields
        .split('-')
        .find(|f| !f.is_empty() && f.len() <= 7 && f.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|f| f.parse::<u32>().ok())
        .filter(|&pid| pid > 0 && pid <= PID_MAX_LIMIT);
    Some(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn key_fields_are_length_prefixed() {
        let mut a = KeyHasher::new("t");
        a.str("ab");
        a.str("c");
        let mut b = KeyHasher::new("t");
        b.str("a");
        b.str("bc");
        assert_ne!(a.hex(), b.hex());
    }

    #[test]
    fn temp_owners_of_every_naming() {
        assert_eq!(temp_owner(".tmp-4242-17000-3-cmd.log"), Some(Some(4242)));
        assert_eq!(
            temp_owner(".tmp-0a1b2c3d4e5f-4242-17000-3"),
            Some(Some(4242))
        );
        assert_eq!(temp_owner(".tmp-123456789012-4242-1"), Some(Some(4242)));
        assert_eq!(temp_owner("verilated.o.4242-17000-3"), Some(Some(4242)));
        assert_eq!(temp_owner(".4242-17000-3.tmp"), Some(Some(4242)));
        assert_eq!(temp_owner(".tmp-abcdef"), Some(None));
        assert_eq!(
            temp_owner(
                &temp_name(Path::new("/c"), "x")
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
            ),
            Some(Some(std::process::id()))
        );
        for kept in [
            "index",
            "runtime-0a1b",
            "failed-0a1b2c3d4e5f",
            "verilated.o",
            "0a1b2c3d",
        ] {
            assert_eq!(temp_owner(kept), None, "{kept}");
        }
    }

    /// The pid of a process that has exited.
    fn dead_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    }

    #[test]
    fn temps_of_dead_owners_go_and_the_rest_stays() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        let dead = dead_pid();
        let runtime = root.join("runtime-0a1b");
        fs::create_dir_all(&runtime).unwrap();
        fs::create_dir_all(root.join("index")).unwrap();
        let dead_dir = root.join(format!(".tmp-{dead}-1-0-0a1b2c3d4e5f"));
        fs::create_dir_all(dead_dir.join("obj")).unwrap();
        let dead_files = [
            runtime.join(format!(".tmp-{dead}-1-0-verilated.o")),
            runtime.join(format!("verilated.o.{dead}-1-0")),
            root.join("index").join(format!(".tmp-{dead}-1-0-write")),
        ];
        let live_dir = temp_name(root, "0a1b2c3d4e5f");
        let kept = [
            runtime.join("verilated.o"),
            root.join("index").join("0a1b.deps"),
            root.join("0a1b2c3d4e5f00112233445566778899"),
        ];
        fs::create_dir_all(&live_dir).unwrap();
        for f in dead_files.iter().chain(&kept) {
            fs::write(f, "x").unwrap();
        }
        remove_stale_temps(root);
        assert!(!dead_dir.exists(), "dead owner's build dir removed");
        for f in &dead_files {
            assert!(!f.exists(), "{} removed", f.display());
        }
        assert!(live_dir.is_dir(), "a live build's dir is kept");
        for f in &kept {
            assert!(f.exists(), "{} kept", f.display());
        }
    }
}
