//! `tandem sweep --executor slurm` against a real SLURM: a throwaway
//! single-node cluster from scripts/slurm-local.sh (root only; installs
//! slurmd, slurmctld, slurm-client and munge with apt-get if missing),
//! stopped again however the test ends. The per-point results must equal
//! the local executor's, timing and paths aside. Where the cluster cannot
//! start (not root, no apt, no verilator or dataset), the test says
//! `SKIPPED: ...` and passes.
//!
//! `--dry-run` is checked without a cluster: it prints the scripts and
//! never calls sbatch.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

fn tandem(args: &[&str], slurm_conf: Option<&Path>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tandem"));
    command.args(args);
    if let Some(conf) = slurm_conf {
        command.env("SLURM_CONF", conf);
    }
    command.output().expect("run tandem")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// tests/sweep_cli.rs's tiny spec without its failing array: one pair x
/// two arrays x batch [1, 4] = 4 points from 3 jobs (1 model, 2 hardware).
fn tiny_spec(dir: &Path) -> PathBuf {
    let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/hw-8x8-w4a4.yaml");
    let spec = dir.join("tiny.yaml");
    std::fs::write(
        &spec,
        format!(
            "name: tiny\n\
             models: {{ source: random, topology: alexnet-cifar, width: 0.125, in_channels: 1, seed: 3, dataset: fashion-mnist }}\n\
             bits: [ {{ wbits: 4, abits: 4, first_last_wbits: 8 }} ]\n\
             arrays: [ {{ rows: 4, cols: 4 }}, {{ rows: 8, cols: 8 }} ]\n\
             hw_base: {}\n\
             batch: [1, 4]\n\
             sim_images: 1\n\
             accuracy_images: 200\n",
            hw.display()
        ),
    )
    .unwrap();
    spec
}

/// The throwaway cluster; stopped (daemons killed by their pid files, its
/// directory removed) when dropped, also when the test panics.
struct Cluster {
    dir: PathBuf,
    conf: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

impl Cluster {
    /// `Err(why)` where it cannot start here; panics where it should have.
    fn start(dir: &Path) -> Result<Cluster, String> {
        let output = Command::new("bash")
            .arg(script())
            .arg("start")
            .env("SLURM_LOCAL_DIR", dir)
            .output()
            .expect("run scripts/slurm-local.sh");
        let stderr = text(&output.stderr);
        // Stop whatever half started, whatever happened.
        let cluster = Cluster {
            dir: dir.to_path_buf(),
            conf: dir.join("slurm.conf"),
        };
        match output.status.code() {
            Some(0) => {}
            Some(3) => return Err(format!("no SLURM cluster here: {}", stderr.trim())),
            _ => panic!(
                "scripts/slurm-local.sh start failed ({}):\n{stderr}",
                output.status
            ),
        }
        let stdout = text(&output.stdout);
        let export = format!("export SLURM_CONF={}", cluster.conf.display());
        assert!(stdout.contains(&export), "{stdout}\n{stderr}");
        Ok(cluster)
    }

    fn squeue_all(&self) -> String {
        let output = Command::new("squeue")
            .args(["-h", "-t", "all", "-o", "%i %T"])
            .env("SLURM_CONF", &self.conf)
            .output()
            .expect("run squeue");
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let output = Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("SLURM_LOCAL_DIR", &self.dir)
            .output();
        match output {
            Ok(o) if o.status.success() => {}
            Ok(o) => eprintln!("slurm-local.sh stop: {}", text(&o.stderr)),
            Err(e) => eprintln!("cannot run slurm-local.sh stop: {e}"),
        }
    }
}

/// `points/*.json` by file name, with timing and path fields removed.
fn points(out: &Path) -> Vec<(String, serde_json::Value)> {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.retain(|key, _| {
                    !(key == "seconds" || key.ends_with("_seconds") || key.ends_with("_dir"))
                });
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut points = Vec::new();
    for entry in std::fs::read_dir(out.join("points")).expect("points/") {
        let path = entry.unwrap().path();
        let mut value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        strip(&mut value);
        points.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            value,
        ));
    }
    points.sort_by(|a, b| a.0.cmp(&b.0));
    points
}

#[test]
fn a_sweep_on_a_real_slurm_cluster_equals_the_local_run() {
    let data = Path::new("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").exists();
    if !(data && sim::verilator_available()) {
        eprintln!("SKIPPED: fashion-mnist or verilator missing (make setup installs both)");
        return;
    }
    let started = Instant::now();
    // Declared before the cluster, so the cluster is stopped before its
    // directory goes.
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny_spec(dir.path());
    let cluster = match Cluster::start(&dir.path().join("slurm")) {
        Ok(cluster) => cluster,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let cluster_s = started.elapsed().as_secs_f64();
    let conf = Some(cluster.conf.as_path());
    let spec = spec.to_str().unwrap();
    let local = dir.path().join("local");
    let slurm = dir.path().join("slurm-out");

    let t = Instant::now();
    let run = tandem(
        &["sweep", "--config", spec, "--out", local.to_str().unwrap()],
        None,
    );
    assert!(run.status.success(), "local: {}", text(&run.stderr));
    let local_s = t.elapsed().as_secs_f64();

    // --dry-run on the real cluster: scripts on stdout, nothing queued.
    let before = cluster.squeue_all();
    let dry = tandem(
        &[
            "sweep",
            "--config",
            spec,
            "--out",
            slurm.to_str().unwrap(),
            "--executor",
            "slurm",
            "--dry-run",
        ],
        conf,
    );
    assert!(dry.status.success(), "dry run: {}", text(&dry.stderr));
    assert!(text(&dry.stdout).contains("#SBATCH --array=0-1\n"));
    assert_eq!(
        cluster.squeue_all(),
        before,
        "--dry-run submitted something"
    );

    // One CPU per task: both hardware jobs at once on a 2-CPU node.
    let t = Instant::now();
    let args = [
        "sweep",
        "--config",
        spec,
        "--out",
        slurm.to_str().unwrap(),
        "--executor",
        "slurm",
        "--cpus-per-task",
        "1",
        "--json",
    ];
    let run = tandem(&args, conf);
    let stderr = text(&run.stderr);
    assert!(run.status.success(), "slurm: {stderr}");
    let slurm_s = t.elapsed().as_secs_f64();
    assert!(
        stderr.contains("stage 1: submitted array job") && stderr.contains("stage 2: submitted"),
        "{stderr}"
    );
    assert!(stderr.contains("3 task(s) COMPLETED"), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(text(&run.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["points"], 4, "{summary}");
    for file in [
        "slurm/stage-1.sbatch",
        "slurm/stage-2.sbatch",
        "slurm/logs/stage-2-1.log",
    ] {
        assert!(slurm.join(file).is_file(), "{file} missing");
    }

    let (here, there) = (points(&local), points(&slurm));
    assert_eq!(here.len(), 4);
    assert_eq!(
        here.iter().map(|p| &p.0).collect::<Vec<_>>(),
        there.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    for ((name, a), (_, b)) in here.iter().zip(&there) {
        assert_eq!(a, b, "{name}: the local and the SLURM results differ");
    }

    // Again: every job's result is reused, nothing is submitted.
    let again = tandem(&args, conf);
    let stderr = text(&again.stderr);
    assert!(again.status.success(), "{stderr}");
    assert!(!stderr.contains("submitted"), "{stderr}");
    assert_eq!(points(&slurm), there);

    eprintln!(
        "sweep_slurm: cluster start {cluster_s:.1} s, local sweep {local_s:.1} s, \
         slurm sweep {slurm_s:.1} s, whole test {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(cluster);
}

#[test]
fn a_dry_run_prints_the_scripts_and_calls_no_sbatch() {
    let dir = tempfile::tempdir().unwrap();
    let spec = tiny_spec(dir.path());
    // An sbatch that only leaves a trace, first on PATH.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let called = dir.path().join("sbatch-called");
    let fake = bin.join("sbatch");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ntouch '{}'\nexit 1\n", called.display()),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = dir.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "sweep",
            "--config",
            spec.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--executor",
            "slurm",
            "--dry-run",
            "--partition",
            "cpu",
            "--time",
            "00:10:00",
        ])
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    // Stage 1: the model; stage 2: both hardware jobs, after stage 1.
    assert!(stdout.contains("#SBATCH --array=0-0\n"), "{stdout}");
    assert!(stdout.contains("#SBATCH --array=0-1\n"), "{stdout}");
    for line in [
        "#SBATCH --partition=cpu\n",
        "#SBATCH --time=00:10:00\n",
        "#SBATCH --export=ALL\n",
        "jobs=(w4a4f8-4x4 w4a4f8-8x8)\n",
    ] {
        assert!(stdout.contains(line), "{line} missing: {stdout}");
    }
    assert!(
        stdout.contains(&format!("#SBATCH --chdir={}\n", out.display())),
        "{stdout}"
    );
    assert!(!called.exists(), "--dry-run called sbatch");
    assert!(!out.join("slurm").exists(), "--dry-run wrote scripts");
}
