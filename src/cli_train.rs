//! `tandem train`: teacher, progressive integer student, export, verify.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use trainer::{Method, Preset, Progress, TrainConfig};

/// `--method` / `--methods`: the method names, each with its summary in
/// `--help` (from [`Method::summary`], so the help lists every method).
fn method_parser() -> impl clap::builder::TypedValueParser<Value = Method> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = Method::ALL.map(|method| PossibleValue::new(method.name()).help(method.summary()));
    PossibleValuesParser::new(values)
        .map(|name| Method::from_name(&name).expect("the parser accepts only the methods' names"))
}

/// Shown after the options of `tandem train --help`.
const EXAMPLES: &str = "\
Examples:
  # Minutes on a 2-core CPU: teacher, PTQ baseline, 7 stages, W4A4 export, verify.
  tandem train --preset quick --wbits 4 --abits 4 --out out/train-quick

  # Distill the same teacher at W2A2, with the all-at-once QAT baseline.
  tandem train --teacher out/train-quick/teacher --wbits 2 --abits 2 --qat --out out/w2a2

  # Another method: all layers at once, at 8 bits, then 4, then 2.
  tandem train --preset quick --wbits 2 --abits 2 --method bit-progressive --out out/w2a2-bp

  # The results table: every method at W8A8, W4A4, W3A3 and W2A2 over 3 seeds
  # (mean, spread, best); rerunning after an interruption resumes it.
  tandem train --preset quick --results docs/results.md --seeds 3 --out out/results

  # Rows with their own seed counts, two methods only.
  tandem train --preset full --results docs/results-full.md --rows w2a2:3,w3a3,w4a4 \\
      --methods progressive,qat --out out/results-full

  # For scripts: progress stays on stderr, stdout ends with one JSON line.
  tandem train --config configs/train-quick.yaml --out out/q --json";

#[derive(Debug, Args)]
#[command(after_help = EXAMPLES)]
pub struct TrainArgs {
    /// YAML config (configs/train-*.yaml); its fields override the preset,
    /// flags override the file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Dataset: fashion-mnist, mnist or cifar10.
    #[arg(long)]
    dataset: Option<String>,
    /// Directory with the dataset files (default: the dataset's usual place).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Weight bits of the hidden layers (2..=16; first/last layers keep
    /// `first_last_wbits`, 8 by default).
    #[arg(long)]
    wbits: Option<u8>,
    /// Activation bits of every hidden layer (1..=16).
    #[arg(long)]
    abits: Option<u8>,
    /// quick (minutes on a laptop) or full (the long run).
    #[arg(long, value_parser = ["quick", "full"])]
    preset: Option<String>,
    /// Reuse a trained teacher (a `teacher/` directory of an earlier run).
    #[arg(long)]
    teacher: Option<PathBuf>,
    /// How the student is trained (default: the config's `method`,
    /// progressive in both presets; `tandem flow` and `tandem sweep` pick the
    /// best measured instead). Every method trains on the same number of
    /// images and exports through the same code. Not with --results, whose
    /// --methods names the methods.
    #[arg(long, value_parser = method_parser(), conflicts_with = "results")]
    method: Option<Method>,
    /// Also train the all-layers-at-once QAT baseline (not with --results,
    /// where QAT is a method of its own).
    #[arg(long, conflicts_with = "results")]
    qat: bool,
    /// Regenerate a results table: for each seed one teacher, then every
    /// method (--methods) at every bit-width (--rows) with the naive PTQ
    /// baseline, and write the Markdown page here (docs/results.md): each
    /// method's mean and spread over the seeds, and the best. Runs go to
    /// OUT/seed-S/wXaY/METHOD. The page and its run record (the page's name
    /// with .runs.json: every run's summary; with .teachers: each seed's
    /// teacher; commit both beside the page) are rewritten after every run;
    /// rerunning the same command keeps the runs whose summary.json, or else
    /// whose recorded summary, holds the same configuration and teacher, so
    /// an interrupted table resumes, also without OUT.
    #[arg(long)]
    results: Option<PathBuf>,
    /// With --results: seeds per row (the config's seed, then seed + 1, ...).
    #[arg(long, requires = "results", default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// With --results: the rows, comma-separated WxAy, each with an optional
    /// :SEEDS that overrides --seeds (e.g. w2a2:3,w3a3,w4a4).
    #[arg(long, requires = "results", default_value = "w8a8,w4a4,w3a3,w2a2")]
    rows: String,
    /// With --results: the methods, comma-separated (default: all).
    #[arg(long, requires = "results", value_delimiter = ',', value_parser = method_parser())]
    methods: Vec<Method>,
    /// With --results: train every run again instead of keeping finished
    /// ones.
    #[arg(long, requires = "results")]
    retrain: bool,
    /// Output directory: teacher/, model/ (the integer model), summary.json.
    #[arg(long)]
    out: PathBuf,
    /// End stdout with one JSON line: the run's summary (accuracies, logit
    /// mismatches, seconds, stages); with --results an object of the paths
    /// written (page, record, teachers) and the runs' summaries (runs).
    /// Progress still goes to stderr.
    #[arg(long)]
    json: bool,
}

/// The configuration the flags describe.
fn build_config(args: &TrainArgs) -> Result<TrainConfig> {
    let preset = args
        .preset
        .as_deref()
        .map(|name| Preset::from_name(name).expect("clap checked the preset"));
    let mut config = match &args.config {
        Some(path) => TrainConfig::from_yaml_file(path, preset)?,
        None => TrainConfig::preset(preset.unwrap_or(Preset::Quick)),
    };
    if preset.is_some() {
        config.set_origin("preset", "--preset");
    }
    if let Some(dataset) = &args.dataset {
        config.dataset = dataset.clone();
        config.set_origin("dataset", "--dataset");
    }
    if let Some(dir) = &args.data_dir {
        config.data_dir = Some(dir.clone());
        config.set_origin("data_dir", "--data-dir");
    }
    if let Some(bits) = args.wbits {
        config.wbits = bits;
        config.set_origin("wbits", "--wbits");
    }
    if let Some(bits) = args.abits {
        config.abits = bits;
        config.set_origin("abits", "--abits");
    }
    if let Some(teacher) = &args.teacher {
        config.teacher.checkpoint = Some(teacher.clone());
        config.set_origin("teacher.checkpoint", "--teacher");
    }
    if let Some(method) = args.method {
        config.method = method;
        config.set_origin("method", "--method");
    }
    if args.qat {
        config.baselines.qat = true;
    }
    config.out = Some(args.out.clone());
    config.set_origin("out", "--out");
    Ok(config)
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    let config = build_config(&args)?;
    config.validate()?;
    // Progress goes to stderr whatever stdout carries: bars on a terminal,
    // plain lines otherwise.
    let progress = Progress::stderr();
    if let Some(page) = &args.results {
        // Fail now, not after hours of training, when the page cannot go there.
        let folder = match page.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => std::path::Path::new("."),
        };
        if !folder.is_dir() {
            anyhow::bail!(
                "--results {}: folder {} does not exist; create it or give another path",
                page.display(),
                folder.display()
            );
        }
        let command = command_line(std::env::args().skip(1));
        let rows = trainer::results::parse_rows(&args.rows, args.seeds as usize)
            .map_err(|message| anyhow::anyhow!("--rows {}: {message}", args.rows))?;
        let methods = if args.methods.is_empty() {
            Method::ALL.to_vec()
        } else {
            args.methods.clone()
        };
        let plan = trainer::results::ResultsPlan { rows, methods };
        let reuse = if args.retrain {
            trainer::results::Reuse::Never
        } else {
            trainer::results::Reuse::MatchingRows
        };
        // The page's runs in full and its teachers, beside it: what lets
        // the command resume when --out is gone.
        let record = if args.retrain {
            let record = trainer::ledger::RunRecord::fresh(page);
            if record.file.exists() {
                progress.say(&format!(
                    "note: --retrain: {} starts afresh: the first finished run replaces the runs it recorded",
                    record.file.display()
                ));
            }
            record
        } else {
            trainer::ledger::RunRecord::beside(page)?
        };
        let write_page = |reports: &[trainer::TrainReport]| {
            let markdown = trainer::results::markdown(reports, &command, &plan);
            // Atomically: a run stopped mid-write keeps the last whole page.
            golden::io::write_atomically(page, markdown.as_bytes())?;
            record.save(&command, reports)
        };
        let reports = trainer::results::run(
            &config,
            &args.out,
            &plan,
            reuse,
            Some(&record),
            progress.clone(),
            write_page,
        )?;
        if args.json {
            let written = serde_json::json!({
                "page": page,
                "record": record.file,
                "teachers": record.teachers,
                "runs": reports,
            });
            println!("{}", serde_json::to_string(&written)?);
        } else {
            println!(
                "wrote {}, its run record {} and teachers {}",
                page.display(),
                record.file.display(),
                record.teachers.display()
            );
        }
        return Ok(());
    }
    let report = trainer::train(&config, progress)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let pct = |v: f64| format!("{:.2}%", 100.0 * v);
        println!(
            "{} W{}A{} (first/last layer weights {} bits), width {}, {} training images",
            report.dataset,
            report.w_bits,
            report.a_bits,
            report.first_last_w_bits,
            report.width,
            report.train_images
        );
        println!("  teacher             {}", pct(report.teacher_accuracy));
        println!(
            "  BN-free float       {}",
            pct(report.bn_free_float_accuracy)
        );
        println!("  naive PTQ           {}", pct(report.ptq_accuracy));
        if let Some(qat) = report.qat_accuracy {
            println!("  all-at-once QAT     {}", pct(qat));
        }
        println!(
            "  student ({}) {} (golden, {} test images, {} logit mismatches)",
            report.method,
            pct(report.student_accuracy),
            report.test_images,
            report.logit_mismatches
        );
        let stages: Vec<String> = report
            .stages
            .iter()
            .map(|stage| format!("{} {:.2}", stage.layer, 100.0 * stage.test_accuracy))
            .collect();
        if !stages.is_empty() {
            println!(
                "  after each stage    {} (% with the layers up to it integer)",
                stages.join(", ")
            );
        }
        println!(
            "  training {:.0} s, total {:.0} s",
            report.train_seconds, report.total_seconds
        );
        println!("  integer model: {}", report.model_dir.display());
    }
    Ok(())
}

/// `tandem ARGS...` as a shell would need it typed: what the results page
/// records as the command that regenerates it.
fn command_line(args: impl Iterator<Item = String>) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    let mut line = String::from("tandem");
    for arg in args {
        line.push(' ');
        if !arg.is_empty() && arg.chars().all(plain) {
            line.push_str(&arg);
        } else {
            line.push('\'');
            line.push_str(&arg.replace('\'', "'\\''"));
            line.push('\'');
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: TrainArgs,
    }

    fn error_for(flags: &[&str]) -> String {
        let mut argv = vec!["train", "--out", "/tmp/unused"];
        argv.extend_from_slice(flags);
        let cli = Cli::try_parse_from(argv).unwrap();
        let config = build_config(&cli.args).unwrap();
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn bad_flags_are_named_in_errors() {
        let message = error_for(&["--wbits", "0"]);
        assert!(
            message.contains("--wbits") && message.contains("2..=16"),
            "{message}"
        );
        let message = error_for(&["--abits", "17"]);
        assert!(
            message.contains("--abits") && message.contains("1..=16"),
            "{message}"
        );
        let message = error_for(&["--dataset", "svhn"]);
        assert!(
            message.contains("--dataset") && message.contains("svhn"),
            "{message}"
        );
        let message = error_for(&["--data-dir", "/nonexistent/data"]);
        assert!(
            message.contains("--data-dir") && message.contains("/nonexistent/data"),
            "{message}"
        );
    }

    #[test]
    fn command_line_quotes_what_a_shell_would_split() {
        let args = [
            "train",
            "--results",
            "docs/results.md",
            "--out",
            "my runs/x",
            "--config",
            "it's.yaml",
        ];
        assert_eq!(
            command_line(args.iter().map(|s| s.to_string())),
            "tandem train --results docs/results.md --out 'my runs/x' --config 'it'\\''s.yaml'"
        );
    }

    #[test]
    fn retrain_needs_results() {
        assert!(Cli::try_parse_from(["train", "--out", "x", "--retrain"]).is_err());
        assert!(
            Cli::try_parse_from(["train", "--out", "x", "--results", "r.md", "--retrain"]).is_ok()
        );
    }

    #[test]
    fn unknown_preset_is_refused_by_clap() {
        let error = Cli::try_parse_from(["train", "--out", "x", "--preset", "huge"]).unwrap_err();
        assert!(error.to_string().contains("quick"));
    }
}
