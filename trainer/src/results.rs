//! The results table of `docs/results.md`: one run per bit-width on the
//! same teacher, with every baseline, rendered as Markdown.

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::pipeline::train;
use crate::progress::Progress;
use crate::summary::TrainReport;
use std::fmt::Write;
use std::path::Path;

/// (weight bits, activation bits) of the table's rows; first and last
/// layers keep `first_last_wbits` (8 by default).
pub const RESULT_BITS: [(u8, u8); 4] = [(8, 8), (4, 4), (3, 3), (2, 2)];

/// How [`run`] treats a row whose directory already holds a finished run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Keep a finished row when its `summary.json` records exactly the
    /// configuration this row would train with (and its model and teacher
    /// are still there), so an interrupted table resumes where it stopped.
    MatchingRows,
    /// Train every row again.
    Never,
}

/// Train one teacher, then for each bit-width in `bits` the PTQ and
/// all-at-once QAT baselines and the progressive student. The row for
/// WxAy writes to `out/wXaY`; `on_row` sees the rows finished so far after
/// each one, so a caller can save partial results of a long run.
pub fn run(
    base: &TrainConfig,
    out: &Path,
    bits: &[(u8, u8)],
    mut reuse: Reuse,
    progress: impl Into<Progress>,
    mut on_row: impl FnMut(&[TrainReport]) -> Result<(), TrainError>,
) -> Result<Vec<TrainReport>, TrainError> {
    let progress = progress.into();
    let mut reports: Vec<TrainReport> = Vec::new();
    for &(w_bits, a_bits) in bits {
        let mut config = base.clone();
        config.wbits = w_bits;
        config.abits = a_bits;
        config.baselines.qat = true;
        config.out = Some(out.join(format!("w{w_bits}a{a_bits}")));
        if let Some(first) = reports.first() {
            // Every row distills the same teacher.
            config.teacher.checkpoint = Some(first.teacher_dir.clone());
        }
        progress.say(&format!("== W{w_bits}A{a_bits} =="));
        let finished = match reuse {
            Reuse::MatchingRows => finished_row(&config),
            Reuse::Never => Err("reuse is off".to_string()),
        };
        let report = match finished {
            Ok(report) => {
                progress.say(&format!(
                    "reusing the finished run in {} (same configuration)",
                    report.model_dir.parent().unwrap_or(out).display()
                ));
                report
            }
            Err(why) => {
                if reuse == Reuse::MatchingRows {
                    progress.say(&format!("training this row: {why}"));
                }
                if config.teacher.checkpoint.is_none() && reuse == Reuse::MatchingRows {
                    // A new teacher replaces the one the later rows were
                    // distilled from, so none of them may be kept.
                    progress
                        .say("a new teacher is trained, so every later row is trained again too");
                    reuse = Reuse::Never;
                }
                train(&config, progress.clone())?
            }
        };
        reports.push(report);
        on_row(&reports)?;
    }
    Ok(reports)
}

/// The report of a finished run in `config.out` that trained with exactly
/// `config`, or why there is none.
pub fn finished_row(config: &TrainConfig) -> Result<TrainReport, String> {
    let out = config.out.as_ref().ok_or("no output directory")?;
    let summary = out.join("summary.json");
    let text = std::fs::read_to_string(&summary)
        .map_err(|_| format!("no finished run in {}", out.display()))?;
    let report: TrainReport = serde_json::from_str(&text).map_err(|error| {
        format!(
            "{} is not a summary this version writes ({error})",
            summary.display()
        )
    })?;
    // Where each value came from (preset, file, flag) does not matter; the
    // values do.
    let settings = |config: &TrainConfig| TrainConfig {
        origins: Default::default(),
        ..config.clone()
    };
    if settings(&report.config) != settings(config) {
        return Err(format!(
            "{} was trained with a different configuration",
            summary.display()
        ));
    }
    if report.logit_mismatches > 0 {
        return Err(format!("{} records logit mismatches", summary.display()));
    }
    let model = report.model_dir.join("model.yaml");
    if !model.is_file() {
        return Err(format!("{} is missing", model.display()));
    }
    if !report.teacher_dir.exists() {
        return Err(format!("{} is missing", report.teacher_dir.display()));
    }
    Ok(report)
}

fn percent(value: f64) -> String {
    format!("{:.2}", 100.0 * value)
}

/// The Markdown page. `command` is the command line that regenerates it;
/// `rows_planned` is how many rows the run will have, so a page written
/// part-way says it is incomplete.
pub fn markdown(reports: &[TrainReport], command: &str, rows_planned: usize) -> String {
    let mut page = String::new();
    let Some(first) = reports.first() else {
        return page;
    };
    let _ = writeln!(page, "# Results\n");
    let _ = writeln!(
        page,
        "Generated by `{command}`; do not edit by hand (rerun the command instead).\n"
    );
    if reports.len() < rows_planned {
        let _ = writeln!(
            page,
            "**Incomplete:** {} of {rows_planned} rows so far. The run is still going or was \
             interrupted; the same command resumes it, reusing the finished rows.\n",
            reports.len()
        );
    }
    let _ = writeln!(
        page,
        "Preset `{}` on {}: alexnet-cifar at width {}, {} training images, {} test images, seed {}, \
         first and last layer weights {} bits, {} libtorch thread(s) on {}. Accuracies are on the test \
         images in percent; the progressive student's is measured with golden on the exported model, \
         whose logits matched the trainer's integer forward on every test image \
         (logit mismatches per row below).\n",
        first.preset,
        first.dataset,
        first.width,
        first.train_images,
        first.test_images,
        first.seed,
        first.first_last_w_bits,
        first.threads,
        first.device,
    );
    if first.preset == "quick" {
        let _ = writeln!(
            page,
            "These are **quick-preset** figures (minutes on a 2-core CPU: a small network, a subset of \
             the training set, short stages). They show the ordering of the methods, not the accuracy \
             the full preset reaches.\n"
        );
    }
    let _ = writeln!(
        page,
        "| bits | teacher | BN-free float | naive PTQ | all-at-once QAT | progressive (golden) | mismatches | QAT time (s) | progressive time (s) |"
    );
    let _ = writeln!(page, "|---|---|---|---|---|---|---|---|---|");
    for report in reports {
        let _ = writeln!(
            page,
            "| W{}A{} | {} | {} | {} | {} | {} | {} | {} | {:.0} |",
            report.w_bits,
            report.a_bits,
            percent(report.teacher_accuracy),
            percent(report.bn_free_float_accuracy),
            percent(report.ptq_accuracy),
            report
                .qat_accuracy
                .map(percent)
                .unwrap_or_else(|| "-".into()),
            percent(report.student_accuracy),
            report.logit_mismatches,
            report
                .qat_seconds
                .map(|s| format!("{s:.0}"))
                .unwrap_or_else(|| "-".into()),
            report.student_seconds,
        );
    }
    let _ = writeln!(
        page,
        "\nThe teacher trained once, in {:.0} s; every row distills that same teacher. \
         QAT trains for as many steps as all progressive stages and the joint fine-tune together.",
        first.teacher_seconds
    );
    stage_table(&mut page, reports);
    page
}

/// Test accuracy after every progressive stage: what quantizing each layer
/// cost, and what the joint fine-tune won back.
fn stage_table(page: &mut String, reports: &[TrainReport]) {
    let Some(first) = reports.first() else {
        return;
    };
    let _ = writeln!(
        page,
        "\n## After each stage\n\n\
         Test accuracy (percent, trainer forward) right after each progressive stage, with that \
         layer and the ones before it integer and the later ones still float; the last column \
         is the exported student after the joint fine-tune (golden).\n"
    );
    let mut header = String::from("| bits |");
    let mut rule = String::from("|---|");
    for stage in &first.stages {
        let _ = write!(header, " {} |", stage.layer);
        rule.push_str("---|");
    }
    let _ = writeln!(page, "{header} fine-tuned |");
    let _ = writeln!(page, "{rule}---|");
    for report in reports {
        let mut row = format!("| W{}A{} |", report.w_bits, report.a_bits);
        for stage in &report.stages {
            let _ = write!(row, " {} |", percent(stage.test_accuracy));
        }
        let _ = writeln!(page, "{row} {} |", percent(report.student_accuracy));
    }
}
