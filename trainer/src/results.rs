//! The results tables of `docs/results.md` and `docs/results-full.md`:
//! every method at every bit-width, over several seeds, on one teacher per
//! seed, rendered as Markdown with means, spreads and ties.

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::ledger::RunRecord;
use crate::method::Method;
use crate::pipeline::train;
use crate::progress::Progress;
use crate::summary::TrainReport;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// (weight bits, activation bits) of the default table's rows; first and
/// last layers keep `first_last_wbits` (8 by default).
pub const RESULT_BITS: [(u8, u8); 4] = [(8, 8), (4, 4), (3, 3), (2, 2)];

/// One row of the table: a bit-width and how many seeds it is run with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowPlan {
    pub w_bits: u8,
    pub a_bits: u8,
    pub seeds: usize,
}

/// What a results run trains: rows x methods x seeds. Seeds are
/// `config.seed`, `config.seed + 1`, ...; each seed has its own teacher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultsPlan {
    pub rows: Vec<RowPlan>,
    pub methods: Vec<Method>,
}

/// One run of the plan: a seed, a bit-width and a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// 0 for the first seed, 1 for the next, ...
    pub seed_index: usize,
    pub w_bits: u8,
    pub a_bits: u8,
    pub method: Method,
}

impl ResultsPlan {
    /// The default table: W8A8, W4A4, W3A3 and W2A2, `seeds` seeds each,
    /// every method.
    pub fn standard(seeds: usize) -> ResultsPlan {
        ResultsPlan {
            rows: RESULT_BITS
                .iter()
                .map(|&(w_bits, a_bits)| RowPlan {
                    w_bits,
                    a_bits,
                    seeds,
                })
                .collect(),
            methods: Method::ALL.to_vec(),
        }
    }

    /// Every run, seed by seed (a seed's first run trains its teacher), then
    /// row by row, then method by method.
    pub fn cells(&self) -> Vec<Cell> {
        let seeds = self.rows.iter().map(|row| row.seeds).max().unwrap_or(0);
        let mut cells = Vec::new();
        for seed_index in 0..seeds {
            for row in self.rows.iter().filter(|row| row.seeds > seed_index) {
                for &method in &self.methods {
                    cells.push(Cell {
                        seed_index,
                        w_bits: row.w_bits,
                        a_bits: row.a_bits,
                        method,
                    });
                }
            }
        }
        cells
    }
}

/// Parse `--rows`: comma-separated `WxAy` (or `x` for `WxAx`), each with an
/// optional `:N` seed count (default `default_seeds`), e.g. `w2a2:3,w4a4`.
pub fn parse_rows(text: &str, default_seeds: usize) -> Result<Vec<RowPlan>, String> {
    let mut rows = Vec::new();
    for item in text
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (bits, seeds) = match item.split_once(':') {
            Some((bits, seeds)) => {
                let seeds = seeds
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        format!(
                            "`{item}`: the seed count after `:` must be a whole number, 1 or more"
                        )
                    })?;
                (bits, seeds)
            }
            None => (item, default_seeds),
        };
        let lower = bits.to_ascii_lowercase();
        let parsed = match lower
            .strip_prefix('w')
            .and_then(|rest| rest.split_once('a'))
        {
            Some((w, a)) => w.parse::<u8>().ok().zip(a.parse::<u8>().ok()),
            None => lower.parse::<u8>().ok().map(|b| (b, b)),
        };
        let (w_bits, a_bits) = parsed.ok_or_else(|| {
            format!("`{item}` is not a bit-width; write WxAy (e.g. w2a2), optionally with :SEEDS (w2a2:3)")
        })?;
        rows.push(RowPlan {
            w_bits,
            a_bits,
            seeds,
        });
    }
    if rows.is_empty() {
        return Err("no rows given; e.g. --rows w8a8,w4a4,w3a3,w2a2".into());
    }
    Ok(rows)
}

/// How [`run`] treats a run whose directory already holds a finished one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Keep a finished run when its `summary.json` records exactly the
    /// configuration this cell would train with (and its model and teacher
    /// are still there), so an interrupted table resumes where it stopped.
    MatchingRows,
    /// Train every cell again.
    Never,
}

/// Where the run of `cell` goes: `out/seed-S/wXaY/METHOD`.
pub fn cell_dir(out: &Path, seed: u64, cell: &Cell) -> PathBuf {
    out.join(format!("seed-{seed}"))
        .join(format!("w{}a{}", cell.w_bits, cell.a_bits))
        .join(cell.method.name())
}

/// Train every cell of `plan`: per seed one teacher (trained by that
/// seed's first cell, distilled by all its others), then each method at
/// each bit-width, with the naive PTQ baseline. With
/// [`Reuse::MatchingRows`] a cell is kept instead when its folder, or else
/// `record` (the page's run record, [`crate::ledger`]), holds a finished
/// run of the same configuration that distilled the seed's teacher (same
/// weights digest); each seed's teacher is copied into `record` and taken
/// from there when its folder is gone. `on_cell` sees the reports finished
/// so far after each one, so a caller can save partial results of a long
/// run.
pub fn run(
    base: &TrainConfig,
    out: &Path,
    plan: &ResultsPlan,
    reuse: Reuse,
    record: Option<&RunRecord>,
    progress: impl Into<Progress>,
    mut on_cell: impl FnMut(&[TrainReport]) -> Result<(), TrainError>,
) -> Result<Vec<TrainReport>, TrainError> {
    let progress = progress.into();
    for note in overridden_settings(base, plan) {
        progress.say(&format!("note: {note}"));
    }
    let cells = plan.cells();
    let mut reports: Vec<TrainReport> = Vec::new();
    let mut seeds = SeedTeachers {
        reuse,
        record,
        progress: progress.clone(),
        teachers: BTreeMap::new(),
        retrained: Vec::new(),
    };
    let mut number = 0;
    while number < cells.len() {
        let cell = cells[number];
        let config = cell_config(base, out, &cell, seeds.teachers.get(&cell.seed_index));
        progress.say(&format!(
            "== {}/{}: W{}A{} {} seed {} ==",
            number + 1,
            cells.len(),
            cell.w_bits,
            cell.a_bits,
            cell.method,
            config.seed
        ));
        let Some(report) = seeds.cell_report(&cell, &config)? else {
            // The seed starts over with the teacher its first cell trains.
            reports.retain(|report| report.seed != config.seed);
            number = cells
                .iter()
                .position(|c| c.seed_index == cell.seed_index)
                .expect("the cell's seed has cells");
            continue;
        };
        reports.push(report);
        on_cell(&reports)?;
        number += 1;
    }
    Ok(reports)
}

/// The teachers of a results run's seeds, and how each cell is kept or
/// trained against them.
struct SeedTeachers<'a> {
    reuse: Reuse,
    record: Option<&'a RunRecord>,
    progress: Progress,
    teachers: BTreeMap<usize, SeedTeacher>,
    /// Seeds whose recorded runs turned out to distill another teacher than
    /// the one trained again for them: every cell of theirs trains anew.
    retrained: Vec<usize>,
}

impl SeedTeachers<'_> {
    /// The report of `cell` (configured as `config`): kept from its folder
    /// or the record, or trained. `None` when the seed's teacher, trained
    /// again, is not the one its recorded runs distilled, so the seed must
    /// start over.
    fn cell_report(
        &mut self,
        cell: &Cell,
        config: &TrainConfig,
    ) -> Result<Option<TrainReport>, TrainError> {
        let recorded = self.record.map_or(&[][..], |record| record.runs.as_slice());
        let teacher = self.teachers.get(&cell.seed_index);
        let kept = if self.reuse == Reuse::Never || self.retrained.contains(&cell.seed_index) {
            Err(None)
        } else if teacher.is_some_and(|teacher| teacher.fresh) {
            // A new teacher replaces the one the seed's later cells were
            // distilled from (said when it was trained).
            Err(None)
        } else {
            reusable(config, recorded, teacher).map_err(Some)
        };
        match kept {
            Ok((report, found)) => {
                self.progress.say(&format!(
                    "reusing the finished run {} (same configuration, same teacher)",
                    match found {
                        Found::Folder => format!(
                            "in {}",
                            config.out.as_deref().unwrap_or(Path::new(".")).display()
                        ),
                        Found::Record => "of the run record (its folder is gone)".to_string(),
                    }
                ));
                if teacher.is_none() {
                    let teacher = SeedTeacher::kept(config, &report, found);
                    teacher.keep_copy(self.record)?;
                    self.teachers.insert(cell.seed_index, teacher);
                }
                Ok(Some(report))
            }
            Err(why) => {
                if let Some(why) = why {
                    self.progress.say(&format!("training this cell: {why}"));
                }
                self.train_cell(cell, config)
            }
        }
    }

    /// Train `cell`: its seed's first cell trains the teacher; a later one
    /// distills it, restored first when only the record holds it.
    fn train_cell(
        &mut self,
        cell: &Cell,
        config: &TrainConfig,
    ) -> Result<Option<TrainReport>, TrainError> {
        let progress = &self.progress;
        let Some(teacher) = self.teachers.get_mut(&cell.seed_index) else {
            if self.reuse == Reuse::MatchingRows {
                progress.say(
                    "a new teacher is trained, so every later cell of this seed is trained again too",
                );
            }
            let report = train(config, progress.clone())?;
            let teacher = SeedTeacher::trained(config, &report);
            teacher.keep_copy(self.record)?;
            self.teachers.insert(cell.seed_index, teacher);
            return Ok(Some(report));
        };
        if !teacher.restore(self.record, progress)? {
            self.retrained.push(cell.seed_index);
            self.teachers.remove(&cell.seed_index);
            return Ok(None);
        }
        teacher.keep_copy(self.record)?;
        Ok(Some(train(config, progress.clone())?))
    }
}

/// The configuration `cell` trains with: `base` at the cell's seed,
/// bit-widths and method, in its own folder, distilling the seed's teacher
/// when there is one already.
fn cell_config(
    base: &TrainConfig,
    out: &Path,
    cell: &Cell,
    teacher: Option<&SeedTeacher>,
) -> TrainConfig {
    let seed = base.seed.wrapping_add(cell.seed_index as u64);
    let mut config = base.clone();
    config.seed = seed;
    config.wbits = cell.w_bits;
    config.abits = cell.a_bits;
    config.method = cell.method;
    // Every method is a cell of its own; a QAT baseline inside each would
    // train the `qat` cell again.
    config.baselines.qat = false;
    config.out = Some(cell_dir(out, seed, cell));
    if let Some(teacher) = teacher {
        config.teacher.checkpoint = Some(teacher.dir.clone());
    }
    config
}

/// Where a kept run was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    /// In the cell's folder (`summary.json`, model and teacher there).
    Folder,
    /// Only in the run record: the folder is gone.
    Record,
}

/// The teacher a seed's cells share.
struct SeedTeacher {
    /// The seed's first cell, which trains the teacher: trains it again
    /// when only the record of its runs is left.
    first: TrainConfig,
    /// Its folder: `teacher.checkpoint` of the seed's later cells.
    dir: PathBuf,
    /// Its weights' digest (none for a summary written before digests).
    digest: Option<String>,
    /// Whether `dir` holds it now (one known from the record alone is not
    /// there until trained again).
    on_disk: bool,
    /// Trained anew in this run: no later cell of the seed may be kept.
    fresh: bool,
}

impl SeedTeacher {
    fn trained(first: &TrainConfig, report: &TrainReport) -> SeedTeacher {
        SeedTeacher {
            first: first.clone(),
            dir: report.teacher_dir.clone(),
            digest: report.teacher_digest.clone(),
            on_disk: true,
            fresh: true,
        }
    }

    fn kept(first: &TrainConfig, report: &TrainReport, found: Found) -> SeedTeacher {
        let on_disk = found == Found::Folder
            || (report.teacher_digest.is_some()
                && teacher_digest(&report.teacher_dir).ok() == report.teacher_digest);
        SeedTeacher {
            first: first.clone(),
            dir: report.teacher_dir.clone(),
            digest: report.teacher_digest.clone(),
            on_disk,
            fresh: false,
        }
    }

    /// Copy the teacher into `record` when it is on disk.
    fn keep_copy(&self, record: Option<&RunRecord>) -> Result<(), TrainError> {
        match (record, &self.digest) {
            (Some(record), Some(digest)) if self.on_disk => record.keep_teacher(
                self.first.seed,
                &crate::teacher::checkpoint_file(&self.dir),
                digest,
            ),
            _ => Ok(()),
        }
    }

    /// Make sure the teacher is in `dir`: copied back from `record` when
    /// the copy there has the recorded weights, or else trained again from
    /// its first cell's configuration. `false` when the teacher trained
    /// again differs from the recorded one, so the seed's recorded runs
    /// distilled another teacher.
    fn restore(
        &mut self,
        record: Option<&RunRecord>,
        progress: &Progress,
    ) -> Result<bool, TrainError> {
        if self.on_disk {
            return Ok(true);
        }
        if let (Some(record), Some(digest)) = (record, &self.digest) {
            if let Some(copy) = record.kept_teacher(self.first.seed, digest) {
                crate::ledger::copy_file(&copy, &crate::teacher::checkpoint_file_in(&self.dir))?;
                progress.say(&format!(
                    "the teacher of seed {} is back in {} from the record's copy {}",
                    self.first.seed,
                    self.dir.display(),
                    copy.display()
                ));
                self.on_disk = true;
                return Ok(true);
            }
        }
        progress.say(&format!(
            "the teacher of seed {} is gone, its runs only recorded: training it again with the same seed and settings",
            self.first.seed
        ));
        let trained = crate::pipeline::train_teacher_only(&self.first, progress.clone())?;
        let short = |digest: &str| digest.chars().take(12).collect::<String>();
        let recorded = self.digest.as_deref().unwrap_or("none");
        if Some(&trained.digest) != self.digest.as_ref() || trained.dir != self.dir {
            progress.say(&format!(
                "the teacher trained again (weights {}) is not the recorded one ({}): every run of seed {} is trained again",
                short(&trained.digest),
                short(recorded),
                self.first.seed
            ));
            return Ok(false);
        }
        progress.say(&format!(
            "the teacher trained again is the recorded one (weights {}): its recorded runs stand",
            short(recorded)
        ));
        self.on_disk = true;
        Ok(true)
    }
}

/// The weights digest of the teacher in `dir`.
fn teacher_digest(dir: &Path) -> Result<String, TrainError> {
    crate::checkpoint::weights_digest(&crate::teacher::checkpoint_file(dir))
}

/// A finished run of `config` to keep instead of training it, from its
/// folder or else from `recorded`, or why there is none. `teacher` is the
/// seed's teacher when `config` is not the seed's first cell: the run must
/// have distilled it (the same weights digest).
fn reusable(
    config: &TrainConfig,
    recorded: &[TrainReport],
    teacher: Option<&SeedTeacher>,
) -> Result<(TrainReport, Found), String> {
    let same_teacher = |report: &TrainReport| match teacher {
        None => report.teacher_digest.is_some(),
        Some(teacher) => teacher.digest.is_some() && report.teacher_digest == teacher.digest,
    };
    let in_folder = finished_row(config).and_then(|mut report| {
        // Summaries written before digests: the teacher copy beside the
        // run tells.
        if report.teacher_digest.is_none() {
            let digest = teacher_digest(&report.teacher_dir).map_err(|error| error.to_string())?;
            report.teacher_digest = Some(digest);
        }
        Ok(report)
    });
    let folder_why = match in_folder {
        Ok(report) if same_teacher(&report) => return Ok((report, Found::Folder)),
        Ok(_) => "the run in its folder distilled another teacher".to_string(),
        Err(why) => why,
    };
    let Some(record) = recorded
        .iter()
        .find(|report| same_settings(&report.config, config))
    else {
        return Err(folder_why);
    };
    if record.logit_mismatches > 0 {
        return Err(format!(
            "{folder_why}; its recorded run has logit mismatches"
        ));
    }
    if !same_teacher(record) {
        return Err(format!(
            "{folder_why}; its recorded run distilled another teacher"
        ));
    }
    Ok((record.clone(), Found::Record))
}

/// Whether two configurations train the same thing: where each value came
/// from (preset, file, flag) does not matter; the values do.
fn same_settings(a: &TrainConfig, b: &TrainConfig) -> bool {
    let settings = |config: &TrainConfig| TrainConfig {
        origins: Default::default(),
        ..config.clone()
    };
    settings(a) == settings(b)
}

/// What a results run sets in every cell over `base`, in words, when
/// `base` says otherwise: the cells' own `method`, and no QAT baseline
/// (QAT is the `qat` method's column). Every cell's `summary.json` records
/// the values it ran with.
pub fn overridden_settings(base: &TrainConfig, plan: &ResultsPlan) -> Vec<String> {
    let mut notes = Vec::new();
    if base.baselines.qat {
        notes.push(
            "baselines.qat is off in every cell: all-at-once QAT is the `qat` method's column"
                .to_string(),
        );
    }
    let from_preset = base
        .origins
        .get("method")
        .is_none_or(|origin| origin.starts_with("preset "));
    let only_its_own = plan.methods == [base.method];
    if !from_preset && !only_its_own {
        notes.push(format!(
            "the configured method `{}` is not used: each cell trains the method of its column ({})",
            base.method,
            plan.methods
                .iter()
                .map(|method| method.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    notes
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
    if !same_settings(&report.config, config) {
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

/// Mean and sample standard deviation (0 for a single value) of values in
/// 0..=1, both in percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub std: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let var = if values.len() > 1 {
            values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
        } else {
            0.0
        };
        Some(Spread {
            mean: 100.0 * mean,
            std: 100.0 * var.sqrt(),
            runs: values.len(),
        })
    }

    /// The mean, and the spread only when there is one (more than a run).
    fn cell(&self) -> String {
        self.formatted(format!("{:.2}", self.mean))
    }

    /// As `cell`, for a difference: its sign always shown.
    fn difference_cell(&self) -> String {
        self.formatted(format!("{:+.2}", self.mean))
    }

    fn formatted(&self, mean: String) -> String {
        if self.runs > 1 {
            format!("{mean} ± {:.2}", self.std)
        } else {
            mean
        }
    }
}

/// The best method of one row, or the methods tied for best: every method
/// whose mean is closer to the best mean than the larger of the two
/// standard deviations. With one run per method there is no spread to
/// compare with, so only equal means tie.
pub fn best_methods(spreads: &[(Method, Spread)]) -> Vec<Method> {
    let Some(&(_, best)) = spreads.iter().max_by(|a, b| a.1.mean.total_cmp(&b.1.mean)) else {
        return Vec::new();
    };
    spreads
        .iter()
        .filter(|(_, s)| best.mean - s.mean <= s.std.max(best.std))
        .map(|&(method, _)| method)
        .collect()
}

/// Reports of one bit-width, grouped by method in `methods` order.
fn by_method<'a>(
    reports: &'a [TrainReport],
    bits: (u8, u8),
    methods: &[Method],
) -> Vec<(Method, Vec<&'a TrainReport>)> {
    methods
        .iter()
        .map(|&method| {
            let runs = reports
                .iter()
                .filter(|r| (r.w_bits, r.a_bits) == bits && r.method == method)
                .collect();
            (method, runs)
        })
        .collect()
}

/// The bit-widths of the plan's rows, in order, each once.
fn rows_of(plan: &ResultsPlan) -> Vec<(u8, u8)> {
    let mut rows = Vec::new();
    for row in &plan.rows {
        if !rows.contains(&(row.w_bits, row.a_bits)) {
            rows.push((row.w_bits, row.a_bits));
        }
    }
    rows
}

/// The Markdown page. `command` is the command line that regenerates it;
/// `plan` is what the run will have, so a page written part-way says it is
/// incomplete.
pub fn markdown(reports: &[TrainReport], command: &str, plan: &ResultsPlan) -> String {
    let mut page = String::new();
    let Some(first) = reports.first() else {
        return page;
    };
    let planned = plan.cells().len();
    let _ = writeln!(page, "# Results\n");
    let _ = writeln!(
        page,
        "Generated by `{command}`; do not edit by hand (rerun the command instead).\n"
    );
    if reports.len() < planned {
        let _ = writeln!(
            page,
            "**Incomplete:** {} of {planned} runs so far. The run is still going or was \
             interrupted; the same command resumes it, reusing the finished runs.\n",
            reports.len()
        );
    }
    let seeds: Vec<u64> = {
        let mut seeds: Vec<u64> = reports.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        seeds.dedup();
        seeds
    };
    let _ = writeln!(
        page,
        "Preset `{}` on {}: alexnet-cifar at width {}, {} training images, {} test images, \
         first and last layer weights {} bits, {} libtorch thread(s) on {}, seeds {}. Each seed \
         trains its own teacher; every method of that seed distills it. Accuracies are on the \
         test images in percent, measured with golden on each exported model, whose logits \
         matched the trainer's integer forward on every test image (mismatches per run below). \
         Every method trains on the same number of images.\n",
        first.preset,
        first.dataset,
        first.width,
        first.train_images,
        first.test_images,
        first.first_last_w_bits,
        first.threads,
        first.device,
        seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    );
    if first.preset == "quick" {
        let _ = writeln!(
            page,
            "These are **quick-preset** figures (minutes on a 2-core CPU: a small network, short \
             training). They show the ordering of the methods, not the accuracy the full preset \
             reaches.\n"
        );
    }
    method_table(&mut page, reports, plan);
    paired_table(&mut page, reports, plan);
    runs_table(&mut page, reports, plan);
    stage_table(&mut page, reports);
    page
}

/// Mean ± standard deviation per method and bit-width, and the best.
fn method_table(page: &mut String, reports: &[TrainReport], plan: &ResultsPlan) {
    let _ = writeln!(
        page,
        "Mean ± sample standard deviation over the seeds (a single run shows no spread). \
         **Best** names the method with the highest mean, or every method tied with it: a \
         method ties when its mean is closer to the best than the larger of the two standard \
         deviations.\n"
    );
    let mut header = String::from("| bits | seeds | teacher | naive PTQ |");
    let mut rule = String::from("|---|---|---|---|");
    for method in &plan.methods {
        let _ = write!(header, " {method} |");
        rule.push_str("---|");
    }
    let _ = writeln!(page, "{header} best |");
    let _ = writeln!(page, "{rule}---|");
    for bits in rows_of(plan) {
        let groups = by_method(reports, bits, &plan.methods);
        let all: Vec<&TrainReport> = groups.iter().flat_map(|(_, runs)| runs.clone()).collect();
        if all.is_empty() {
            continue;
        }
        let mut teacher_by_seed: BTreeMap<u64, f64> = BTreeMap::new();
        let mut ptq_by_seed: BTreeMap<u64, f64> = BTreeMap::new();
        for report in &all {
            teacher_by_seed.insert(report.seed, report.teacher_accuracy);
            ptq_by_seed.insert(report.seed, report.ptq_accuracy);
        }
        let teacher = Spread::of(&teacher_by_seed.values().copied().collect::<Vec<_>>());
        let ptq = Spread::of(&ptq_by_seed.values().copied().collect::<Vec<_>>());
        let shown = |s: Option<Spread>| s.map(|s| s.cell()).unwrap_or_else(|| "-".into());
        let mut row = format!(
            "| W{}A{} | {} | {} | {} |",
            bits.0,
            bits.1,
            teacher_by_seed.len(),
            shown(teacher),
            shown(ptq)
        );
        let mut spreads = Vec::new();
        for (method, runs) in &groups {
            let accuracies: Vec<f64> = runs.iter().map(|r| r.student_accuracy).collect();
            let spread = Spread::of(&accuracies);
            let _ = write!(row, " {} |", shown(spread));
            if let Some(spread) = spread {
                spreads.push((*method, spread));
            }
        }
        let best = best_methods(&spreads);
        let best = match best.as_slice() {
            [one] => one.to_string(),
            tied => format!(
                "tie: {}",
                tied.iter()
                    .map(|method| method.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(page, "{row} {best} |");
    }
}

/// The method every other one is compared with seed by seed.
const REFERENCE: Method = Method::Qat;

/// Per method, its accuracy minus all-at-once QAT's on the same seed (the
/// same teacher), in points: the teacher's own spread cancels out.
pub fn paired_differences(reports: &[TrainReport], bits: (u8, u8), method: Method) -> Vec<f64> {
    let of = |method: Method, seed: u64| {
        reports
            .iter()
            .find(|r| (r.w_bits, r.a_bits) == bits && r.method == method && r.seed == seed)
            .map(|r| r.student_accuracy)
    };
    let mut seeds: Vec<u64> = reports.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    seeds
        .into_iter()
        .filter_map(|seed| Some(of(method, seed)? - of(REFERENCE, seed)?))
        .collect()
}

/// Each method against QAT, paired by seed: mean ± standard deviation of
/// the differences, and whether it is ahead, behind or tied.
fn paired_table(page: &mut String, reports: &[TrainReport], plan: &ResultsPlan) {
    let others: Vec<Method> = plan
        .methods
        .iter()
        .copied()
        .filter(|&m| m != REFERENCE)
        .collect();
    if !plan.methods.contains(&REFERENCE) || others.is_empty() {
        return;
    }
    let rows: Vec<String> = rows_of(plan)
        .into_iter()
        .filter_map(|bits| paired_row(reports, bits, &others))
        .collect();
    // Nothing to compare yet (no QAT run, or none beside it).
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        page,
        "\n## Against all-at-once QAT, seed by seed\n\n\
         Each method's accuracy minus QAT's on the same seed (so on the same teacher, whose own \
         spread cancels out), in points: mean ± sample standard deviation over the seeds. \
         **ahead** or **behind** when the mean difference is larger than its standard \
         deviation, **tie** when it is not; a single seed has no spread, so it only says the \
         sign (1 seed).\n"
    );
    let mut header = String::from("| bits |");
    let mut rule = String::from("|---|");
    for method in &others {
        let _ = write!(header, " {method} - qat |");
        rule.push_str("---|");
    }
    let _ = writeln!(page, "{header}");
    let _ = writeln!(page, "{rule}");
    for row in rows {
        let _ = writeln!(page, "{row}");
    }
}

/// One bit-width's row of the comparison with QAT, or `None` when no
/// method of `others` has a seed with QAT beside it.
fn paired_row(reports: &[TrainReport], bits: (u8, u8), others: &[Method]) -> Option<String> {
    let mut row = format!("| W{}A{} |", bits.0, bits.1);
    let mut any = false;
    for &method in others {
        let differences = paired_differences(reports, bits, method);
        let Some(spread) = Spread::of(&differences) else {
            row.push_str(" - |");
            continue;
        };
        any = true;
        let verdict = if spread.runs < 2 {
            // One seed has no spread to compare with.
            let sign = match spread.mean {
                m if m > 0.0 => "ahead",
                m if m < 0.0 => "behind",
                _ => "equal",
            };
            format!("{sign} (1 seed)")
        } else if spread.mean.abs() <= spread.std {
            "tie".to_string()
        } else if spread.mean > 0.0 {
            "**ahead**".to_string()
        } else {
            "**behind**".to_string()
        };
        let _ = write!(row, " {}: {verdict} |", spread.difference_cell());
    }
    any.then_some(row)
}

/// Every run: accuracy, mismatches and training seconds.
fn runs_table(page: &mut String, reports: &[TrainReport], plan: &ResultsPlan) {
    let _ = writeln!(
        page,
        "\n## Every run\n\n\
         Teacher training seconds are counted once per seed (its first run); student seconds \
         are the method's training alone, wall-clock on whatever else the machine was running.\n"
    );
    let _ = writeln!(
        page,
        "| bits | seed | method | accuracy (golden) | mismatches | student time (s) | teacher time (s) |"
    );
    let _ = writeln!(page, "|---|---|---|---|---|---|---|");
    for bits in rows_of(plan) {
        for (method, runs) in by_method(reports, bits, &plan.methods) {
            for report in runs {
                let _ = writeln!(
                    page,
                    "| W{}A{} | {} | {method} | {:.2} | {} | {:.0} | {} |",
                    bits.0,
                    bits.1,
                    report.seed,
                    100.0 * report.student_accuracy,
                    report.logit_mismatches,
                    report.student_seconds,
                    if report.teacher_seconds > 0.0 {
                        format!("{:.0}", report.teacher_seconds)
                    } else {
                        "-".into()
                    },
                );
            }
        }
    }
}

/// Test accuracy after every progressive stage (first seed): what
/// quantizing each layer cost, and what the joint fine-tune won back.
fn stage_table(page: &mut String, reports: &[TrainReport]) {
    let progressive: Vec<&TrainReport> = {
        let first_seed = reports.iter().map(|r| r.seed).min();
        reports
            .iter()
            .filter(|r| r.method == Method::Progressive && Some(r.seed) == first_seed)
            .collect()
    };
    let Some(first) = progressive.first() else {
        return;
    };
    let _ = writeln!(
        page,
        "\n## After each progressive stage\n\n\
         Test accuracy (percent, trainer forward) of the progressive method right after each \
         stage, seed {}, with that layer and the ones before it integer and the later ones \
         still float; the last column is the exported student after the joint fine-tune \
         (golden).\n",
        first.seed
    );
    let mut header = String::from("| bits |");
    let mut rule = String::from("|---|");
    for stage in &first.stages {
        let _ = write!(header, " {} |", stage.layer);
        rule.push_str("---|");
    }
    let _ = writeln!(page, "{header} fine-tuned |");
    let _ = writeln!(page, "{rule}---|");
    for report in progressive {
        let mut row = format!("| W{}A{} |", report.w_bits, report.a_bits);
        for stage in &report.stages {
            let _ = write!(row, " {:.2} |", 100.0 * stage.test_accuracy);
        }
        let _ = writeln!(page, "{row} {:.2} |", 100.0 * report.student_accuracy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(mean: f64, std: f64, runs: usize) -> Spread {
        Spread { mean, std, runs }
    }

    #[test]
    fn rows_parse_with_and_without_seed_counts() {
        let rows = parse_rows("w2a2:3, w3a3,4", 1).unwrap();
        assert_eq!(
            rows,
            vec![
                RowPlan {
                    w_bits: 2,
                    a_bits: 2,
                    seeds: 3
                },
                RowPlan {
                    w_bits: 3,
                    a_bits: 3,
                    seeds: 1
                },
                RowPlan {
                    w_bits: 4,
                    a_bits: 4,
                    seeds: 1
                },
            ]
        );
        assert!(parse_rows("w2a2:0", 1).unwrap_err().contains("seed count"));
        assert!(parse_rows("w2b2", 1).unwrap_err().contains("WxAy"));
        assert!(parse_rows("", 1).is_err());
    }

    #[test]
    fn cells_run_seed_by_seed_and_skip_rows_with_fewer_seeds() {
        let plan = ResultsPlan {
            rows: parse_rows("w2a2:2,w4a4:1", 1).unwrap(),
            methods: vec![Method::Progressive, Method::Qat],
        };
        let cells: Vec<(usize, u8, Method)> = plan
            .cells()
            .iter()
            .map(|c| (c.seed_index, c.w_bits, c.method))
            .collect();
        assert_eq!(
            cells,
            vec![
                (0, 2, Method::Progressive),
                (0, 2, Method::Qat),
                (0, 4, Method::Progressive),
                (0, 4, Method::Qat),
                (1, 2, Method::Progressive),
                (1, 2, Method::Qat),
            ]
        );
    }

    #[test]
    fn settings_the_cells_override_are_named() {
        let plan = ResultsPlan::standard(1);
        // The full preset turns the QAT baseline on.
        let mut base = TrainConfig::preset(crate::Preset::Full);
        let notes = overridden_settings(&base, &plan);
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("baselines.qat"), "{notes:?}");
        base.baselines.qat = false;
        assert!(overridden_settings(&base, &plan).is_empty());
        base.method = Method::Qat;
        base.set_origin("method", "configs/x.yaml");
        let notes = overridden_settings(&base, &plan);
        assert!(notes[0].contains("`qat` is not used"), "{notes:?}");
    }

    #[test]
    fn spread_is_the_sample_standard_deviation_in_percent() {
        let s = Spread::of(&[0.90, 0.92, 0.94]).unwrap();
        assert!((s.mean - 92.0).abs() < 1e-9);
        assert!((s.std - 2.0).abs() < 1e-9);
        assert_eq!(Spread::of(&[0.5]).unwrap().std, 0.0);
        assert!(Spread::of(&[]).is_none());
    }

    fn report(bits: u8, method: Method, seed: u64, accuracy: f64) -> TrainReport {
        crate::summary::sample_report(bits, method, seed, accuracy)
    }

    #[test]
    fn the_page_pairs_methods_with_qat_by_seed() {
        let (p, q) = (Method::Progressive, Method::Qat);
        // Seed-to-seed swings of a point, but progressive is 0.3 ahead of
        // QAT on every seed: unpaired a tie, paired ahead.
        let reports = vec![
            report(2, p, 1, 0.873),
            report(2, q, 1, 0.870),
            report(2, p, 2, 0.883),
            report(2, q, 2, 0.880),
            report(2, p, 3, 0.863),
            report(2, q, 3, 0.861),
        ];
        let plan = ResultsPlan {
            rows: parse_rows("w2a2:3", 1).unwrap(),
            methods: vec![p, q],
        };
        let page = markdown(&reports, "tandem train ...", &plan);
        assert!(!page.contains("Incomplete"), "{page}");
        assert!(
            page.contains("| W2A2 | 3 | 90.20 ± 0.10 | 50.00 ± 0.00 | 87.30 ± 1.00 | 87.03 ± 0.95 | tie: progressive, qat |"),
            "{page}"
        );
        assert!(
            page.contains("| W2A2 | +0.27 ± 0.06: **ahead** |"),
            "{page}"
        );
        // Headings and their text start at the line's beginning.
        assert!(
            page.contains("\n## Against all-at-once QAT, seed by seed\n\nEach method's"),
            "{page}"
        );
        assert!(!page.contains("  "), "doubled spaces: {page}");
        let differences = paired_differences(&reports, (2, 2), p);
        assert_eq!(differences.len(), 3);

        // One seed: the sign only, with no spread printed.
        let one_seed = ResultsPlan {
            rows: parse_rows("w2a2", 1).unwrap(),
            methods: vec![p, q],
        };
        let page = markdown(&reports[..2], "tandem train ...", &one_seed);
        assert!(page.contains("| W2A2 | +0.30: ahead (1 seed) |"), "{page}");

        // No QAT run yet: no comparison, not an empty table.
        let page = markdown(&reports[..1], "tandem train ...", &one_seed);
        assert!(page.contains("| W2A2 | 1 |"), "{page}");
        assert!(!page.contains("Against all-at-once QAT"), "{page}");
    }

    #[test]
    fn a_difference_inside_the_spread_is_a_tie() {
        let p = Method::Progressive;
        let q = Method::Qat;
        // 0.2 apart with spreads of 0.3: a tie.
        assert_eq!(
            best_methods(&[(p, spread(90.0, 0.3, 3)), (q, spread(90.2, 0.1, 3))]),
            vec![p, q]
        );
        // 1.0 apart with spreads of 0.2: QAT wins.
        assert_eq!(
            best_methods(&[(p, spread(89.0, 0.2, 3)), (q, spread(90.0, 0.1, 3))]),
            vec![q]
        );
        // Single runs have no spread: the higher one wins.
        assert_eq!(
            best_methods(&[(p, spread(90.01, 0.0, 1)), (q, spread(90.0, 0.0, 1))]),
            vec![p]
        );
    }
}
