//! `tandem-fuzz`: run the loaders' fuzz targets and print one summary line
//! per target. Exits 1 when any target panicked or hung.
//!
//! Example (the documented full run, docs/fuzzing.md):
//!   cargo run --profile fuzz -p tandem-fuzz -- --target all --executions 1000000

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use tandem_fuzz::{fuzz, target, FuzzConfig, Target, TARGETS};

/// Mutation-fuzz Tandem's file loaders (model.yaml, model.safetensors,
/// hardware YAML, energy table, IDX, CIFAR-10) on in-memory inputs.
#[derive(Debug, Parser)]
#[command(name = "tandem-fuzz", version, verbatim_doc_comment)]
struct Args {
    /// `all`, or target names separated by commas (see --list).
    #[arg(long, default_value = "all")]
    target: String,
    /// Executions per target.
    #[arg(long, default_value_t = 1_000_000)]
    executions: u64,
    /// Seed of the mutator: the same seed makes the same inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// An execution running longer than this many milliseconds is a hang.
    #[arg(long, default_value_t = 1000)]
    time_limit_ms: u64,
    /// Crashing inputs are saved under DIR/<target>/ (one directory each,
    /// holding the target's files and message.txt).
    #[arg(long, value_name = "DIR", default_value = "target/fuzz-crashes")]
    crash_dir: PathBuf,
    /// After each summary, list up to N of the distinct error messages
    /// (numbers and quoted text masked): what the loaders told the fuzzer.
    #[arg(long, value_name = "N", default_value_t = 0)]
    list_messages: usize,
    /// Run one target once on a saved input (a directory holding the
    /// target's files, as saved under --crash-dir) and print the outcome; a
    /// panic shows its backtrace as usual.
    #[arg(long, value_name = "DIR")]
    replay: Option<PathBuf>,
    /// List the targets and exit.
    #[arg(long)]
    list: bool,
}

fn main() -> ExitCode {
    match run(Args::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn selected(names: &str) -> Result<Vec<&'static Target>> {
    if names == "all" {
        return Ok(TARGETS.iter().collect());
    }
    names
        .split(',')
        .map(|name| match target(name.trim()) {
            Some(target) => Ok(target),
            None => {
                let known: Vec<&str> = TARGETS.iter().map(|target| target.name).collect();
                bail!("unknown target {name:?}; known: all, {}", known.join(", "))
            }
        })
        .collect()
}

/// Run `name` on the files saved in `dir`.
fn replay(name: &str, dir: &Path) -> Result<bool> {
    let [target] = selected(name)?[..] else {
        bail!(
            "--replay needs one --target, the one that saved {}",
            dir.display()
        );
    };
    let input = target
        .file_names
        .iter()
        .map(|file| {
            let path = dir.join(file);
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    match (target.run)(&input) {
        Ok(()) => println!("{}: accepted", target.name),
        Err(message) => println!("{}: rejected: {message}", target.name),
    }
    Ok(true)
}

/// `Ok(true)` when no target panicked or hung.
fn run(args: Args) -> Result<bool> {
    if args.list {
        for target in &TARGETS {
            println!("{:<18} {}", target.name, target.about);
        }
        return Ok(true);
    }
    if let Some(dir) = &args.replay {
        return replay(&args.target, dir);
    }
    if args.time_limit_ms == 0 {
        bail!("--time-limit-ms must be at least 1");
    }
    let config = FuzzConfig {
        executions: args.executions,
        seed: args.seed,
        time_limit: Duration::from_millis(args.time_limit_ms),
        crash_dir: Some(args.crash_dir),
        list_messages: args.list_messages,
    };
    let mut clean = true;
    for target in selected(&args.target)? {
        let summary = fuzz(target, &config);
        println!("{}", summary.line());
        for message in &summary.messages {
            println!("  message: {message}");
        }
        for dir in &summary.saved {
            println!("  saved {}", dir.display());
        }
        clean &= summary.panics == 0 && summary.hangs == 0;
    }
    Ok(clean)
}
