//! Interrupting `tandem` in the middle of a Verilator build (SIGTERM from a job manager,
//! Ctrl-C's SIGINT) leaves no compiler running and no temporary in the cache.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Command lines (NUL-separated arguments joined by spaces) of the processes, other than this
/// test, that mention `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id().to_string();
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy() != me)
        .filter_map(|e| fs::read(e.path().join("cmdline")).ok())
        .map(|raw| String::from_utf8_lossy(&raw).replace('\0', " "))
        .filter(|cmdline| cmdline.contains(needle))
        .collect()
}

/// Every entry named `.tmp-*` anywhere under `root`.
fn temporaries_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(".tmp-") {
                found.push(path.clone());
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(path);
            }
        }
    }
    found
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Start `tandem sim gemm` on the 16x16 W8A8 array with an empty cache (so it builds for tens
/// of seconds), wait until a compiler runs in a temporary build dir, send `signal`, and check
/// the exit code and that nothing is left behind.
fn interrupt_a_build(signal: &str, expected_code: i32) {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator (and g++) not found on PATH");
        return;
    }
    let cache = tempfile::tempdir().unwrap();
    let cache_name = cache.path().to_str().unwrap().to_owned();
    let stderr_path = cache.path().with_extension("stderr");
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hw-16x16-w8a8.yaml");
    let mut tandem = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["sim", "gemm", "--hw"])
        .arg(&config)
        .args(["--random", "1"])
        .env("TANDEM_SIM_CACHE", cache.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let stderr = || fs::read_to_string(&stderr_path).unwrap_or_default();

    // Until a compiler works on a file in a temporary build dir.
    let start = Instant::now();
    loop {
        let building = fs::read_dir(cache.path())
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"));
        let compiling = processes_mentioning(&cache_name)
            .iter()
            .any(|cmdline| cmdline.contains("g++") || cmdline.contains("cc1plus"));
        if building && compiling {
            break;
        }
        if let Some(status) = tandem.try_wait().unwrap() {
            panic!(
                "tandem ended ({status}) before its build started compiling: {}",
                stderr()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no compiler seen in 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &tandem.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let signalled = Instant::now();

    let status = wait_with_timeout(&mut tandem, Duration::from_secs(30)).unwrap_or_else(|| {
        let _ = tandem.kill();
        panic!("tandem still running 30 s after SIG{signal}")
    });
    eprintln!(
        "SIG{signal} after {:.1?} of building: tandem exited ({status}) {:.2?} later",
        signalled - start,
        signalled.elapsed()
    );
    let survivors = processes_mentioning(&cache_name);
    assert!(
        survivors.is_empty(),
        "still running after tandem exited: {survivors:#?}"
    );
    let left = temporaries_under(cache.path());
    assert!(left.is_empty(), "temporaries left in the cache: {left:#?}");
    assert_eq!(status.code(), Some(expected_code), "{}", stderr());
    let _ = fs::remove_file(&stderr_path);
}

#[test]
fn sigterm_during_a_build_kills_the_compilers_and_removes_the_temporaries() {
    interrupt_a_build("TERM", 143);
}

#[test]
fn sigint_during_a_build_kills_the_compilers_and_removes_the_temporaries() {
    interrupt_a_build("INT", 130);
}
