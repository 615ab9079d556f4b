//! `tandem sweep`: accuracy x throughput x energy x area over the design
//! points of a sweep spec, with Pareto fronts (crate `sweep`).

use crate::exit::usage;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use sweep::local::RunOptions;
use sweep::slurm::SlurmOptions;
use sweep::{Sweep, SweepSpec};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Run one job of a sweep whose spec `tandem sweep` wrote into OUT
    /// (what every SLURM array task runs). Records success or failure in
    /// OUT/jobs/ID/result.json and exits 0 either way.
    ///
    /// Example:
    ///   tandem sweep job --out out/sweep --id w4a4-16x16 --threads 2
    #[command(verbatim_doc_comment)]
    Job(JobArgs),
}

#[derive(Debug, Args)]
pub struct JobArgs {
    /// The sweep's output directory (holding sweep-spec.json).
    #[arg(long)]
    out: PathBuf,
    /// The job, e.g. teacher, model-w4a4, w4a4-16x16.
    #[arg(long)]
    id: String,
    /// Cores the job may use (default: all).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Executor {
    /// Here, independent jobs in parallel.
    Local,
    /// One SLURM job array per stage (sbatch), followed with squeue/sacct.
    Slurm,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Sweep spec (YAML), e.g. configs/sweep-random.yaml (docs/sweep.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Output directory: sweep.json, sweep.csv, sweep.md, points/, plots/,
    /// jobs/ (results reused by a later sweep into the same directory).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Executor::Local)]
    executor: Executor,
    /// Hardware jobs at once with the local executor (default: all cores,
    /// one simulation thread each).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
    /// Train the teacher and students again although results match.
    #[arg(long)]
    retrain: bool,
    /// Run the hardware jobs again although results match.
    #[arg(long)]
    rerun: bool,
    /// With --executor slurm: print the sbatch scripts, submit nothing.
    #[arg(long)]
    dry_run: bool,
    /// sbatch --partition.
    #[arg(long)]
    partition: Option<String>,
    /// sbatch --account.
    #[arg(long)]
    account: Option<String>,
    /// sbatch --time of each task, e.g. 02:00:00.
    #[arg(long)]
    time: Option<String>,
    /// sbatch --cpus-per-task (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    cpus_per_task: Option<u64>,
    /// A further sbatch argument, verbatim (repeatable).
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    sbatch_args: Vec<String>,
    /// End stdout with one JSON line: {"points", "failed", "pareto", "out"}.
    #[arg(long)]
    json: bool,
}

pub fn run_sweep(args: SweepArgs) -> Result<()> {
    match args.command {
        Some(SweepCommand::Job(job)) => run_job(job),
        None => run_all(args.run),
    }
}

fn run_all(args: RunArgs) -> Result<()> {
    let config = args
        .config
        .as_deref()
        .ok_or_else(|| usage("--config is required (e.g. configs/sweep-random.yaml)"))?;
    let out = args
        .out
        .as_deref()
        .ok_or_else(|| usage("--out is required (e.g. out/sweep)"))?;
    if args.dry_run && args.executor != Executor::Slurm {
        return Err(usage(
            "--dry-run prints SLURM scripts: use it with --executor slurm",
        ));
    }
    let started = Instant::now();
    let spec = SweepSpec::from_yaml_file(config)?;
    // The SLURM tasks see OUT by its absolute path; so must this process,
    // or a trained sweep's fingerprints (which hold its directories) differ.
    let out_abs;
    let out = if args.executor == Executor::Slurm {
        out_abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
        out_abs.as_path()
    } else {
        out
    };
    let sweep = Sweep::new(spec, out).context("cannot set up the sweep")?;
    save_spec(&sweep)?;
    let cores = crate::cli_hw::default_threads();
    let options = RunOptions {
        cores,
        jobs: args.jobs.map_or(cores, |n| n as usize),
        retrain: args.retrain,
        rerun: args.rerun,
    };
    let say = |line: &str| eprintln!("{line}");
    eprintln!(
        "sweep {}: {} points from {} jobs, {} executor, into {}",
        sweep.spec.name,
        sweep::points::points(&sweep.spec, sweep.default_first_last()).len(),
        sweep.jobs.len(),
        if args.executor == Executor::Local {
            "local"
        } else {
            "slurm"
        },
        out.display()
    );
    let (records, reused) = match args.executor {
        Executor::Local => sweep::local::run_local(&sweep, &options, &say)?,
        Executor::Slurm => {
            let slurm = SlurmOptions {
                partition: args.partition.clone(),
                account: args.account.clone(),
                time: args.time.clone(),
                cpus_per_task: args.cpus_per_task.map(|n| n as usize),
                extra: args.sbatch_args.clone(),
                tandem: std::env::current_exe().context("cannot find this tandem binary")?,
            };
            let stages = sweep::slurm::scripts(&sweep, &options, &slurm)?;
            if args.dry_run {
                for stage in &stages {
                    println!("# {}\n{}", stage.path.display(), stage.text);
                }
                if stages.is_empty() {
                    eprintln!("every job's result is there already: nothing to submit");
                }
                return Ok(());
            }
            let reused = sweep.jobs.len() - stages.iter().map(|s| s.jobs.len()).sum::<usize>();
            let ids = sweep::slurm::submit(&stages, &slurm, &say)?;
            if !ids.is_empty() {
                for state in sweep::slurm::follow(&ids, Duration::from_secs(5), &say)? {
                    eprintln!("slurm: {state}");
                }
            }
            let mut records = Vec::new();
            for job in &sweep.jobs {
                // A record an earlier configuration left, whose task did not run now, is no result.
                let current = sweep.fingerprint(job)?;
                match sweep.record(&job.id)? {
                    Some(record)
                        if record.fingerprint.is_empty() || record.fingerprint == current =>
                    {
                        records.push(record)
                    }
                    _ => match stages.iter().find_map(|s| s.log_of(&job.id)) {
                        Some(log) if log.exists() => {
                            eprintln!("{}: no result (see {})", job.id, log.display())
                        }
                        _ => eprintln!("{}: no result (its task never ran)", job.id),
                    },
                }
            }
            (records, reused)
        }
    };
    let result = sweep::output::merge(&sweep, &records, reused);
    // What resolving each array for its model changed, once per design.
    let mut notes: Vec<String> = Vec::new();
    for point in &result.points {
        for change in &point.changes {
            let note = format!(
                "{}: {change}",
                point
                    .label
                    .rsplit_once("-b")
                    .map_or(point.label.as_str(), |(job, _)| job)
            );
            if !notes.contains(&note) {
                eprintln!("note: {note}");
                notes.push(note);
            }
        }
    }
    let written = result
        .write(out)
        .context("cannot write the sweep's results")?;
    print_summary(&result, out, written.len(), started.elapsed().as_secs_f64());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "points": result.points.len(),
                "failed": result.failed.iter().map(|f| &f.label).collect::<Vec<_>>(),
                "pareto": result.pareto.accuracy_energy,
                "out": out.display().to_string(),
                "seconds": started.elapsed().as_secs_f64(),
                "notes": notes,
            })
        );
    }
    if !result.failed.is_empty() {
        let list: Vec<String> = result
            .failed
            .iter()
            .map(|f| format!("{} ({})", f.label, f.error))
            .collect();
        bail!(
            "{} of {} points failed: {}",
            result.failed.len(),
            result.failed.len() + result.points.len(),
            list.join("; ")
        );
    }
    Ok(())
}

/// `OUT/sweep-spec.json`: what `tandem sweep job` reads.
fn save_spec(sweep: &Sweep) -> Result<()> {
    std::fs::create_dir_all(&sweep.out)
        .with_context(|| format!("cannot create {}", sweep.out.display()))?;
    let path = sweep.out.join("sweep-spec.json");
    std::fs::write(&path, serde_json::to_string_pretty(&sweep.spec)?)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn load_spec(out: &Path) -> Result<SweepSpec> {
    let path = out.join("sweep-spec.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (run `tandem sweep --config ... --out {}` first)",
            path.display(),
            out.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a sweep spec tandem wrote", path.display()))
}

fn run_job(args: JobArgs) -> Result<()> {
    let sweep = Sweep::new(load_spec(&args.out)?, &args.out)?;
    let job = sweep
        .job(&args.id)
        .ok_or_else(|| {
            usage(format!(
                "--id {}: no such job in this sweep (jobs: {})",
                args.id,
                sweep
                    .jobs
                    .iter()
                    .map(|j| j.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?
        .clone();
    let failed_need = job
        .needs
        .iter()
        .find(|need| !matches!(sweep.record(need), Ok(Some(r)) if r.result.is_some()))
        .cloned();
    let record = match failed_need {
        Some(need) => {
            let record = sweep::local::blocked(&sweep, &job, &need)?;
            let path = sweep.job_dir(&job.id).join("result.json");
            std::fs::create_dir_all(sweep.job_dir(&job.id))?;
            std::fs::write(&path, serde_json::to_string_pretty(&record)?)?;
            record
        }
        None => sweep.run_job(
            &job,
            args.threads
                .map_or_else(crate::cli_hw::default_threads, |n| n as usize),
        ),
    };
    match &record.error {
        None => eprintln!("{}: done in {:.0} s", job.id, record.seconds),
        Some(error) => eprintln!("{}: FAILED: {error}", job.id),
    }
    if sweep.record(&job.id)?.is_none() {
        bail!(
            "{}: could not record the result in {}",
            job.id,
            sweep.job_dir(&job.id).display()
        );
    }
    Ok(())
}

fn print_summary(result: &sweep::SweepResult, out: &Path, files: usize, seconds: f64) {
    println!(
        "{:<28} {:>9} {:>12} {:>10} {:>12} {:>9}",
        "point", "accuracy", "cycles/img", "images/s", "uJ/image", "cells"
    );
    for p in &result.points {
        println!(
            "{:<28} {:>9} {:>12.0} {:>10.1} {:>12.2} {:>9}",
            p.label,
            p.accuracy
                .map_or_else(|| "-".into(), |a| format!("{:.2}%", a * 100.0)),
            p.cycles_per_image,
            p.images_per_s,
            p.energy_per_image_uj.typical,
            p.cells.map_or_else(|| "-".into(), |c| c.to_string())
        );
    }
    for f in &result.failed {
        println!("{:<28} FAILED ({}): {}", f.label, f.job, f.error);
    }
    println!(
        "pareto (accuracy vs energy): {}",
        result.pareto.accuracy_energy.join(", ")
    );
    println!(
        "pareto (accuracy vs area):   {}",
        result.pareto.accuracy_area.join(", ")
    );
    println!(
        "pareto (images/s vs area):   {}",
        result.pareto.throughput_area.join(", ")
    );
    println!(
        "wrote {files} files to {} in {seconds:.0} s (start with sweep.md)",
        out.display()
    );
}
