//! The merged results of a sweep: one record per point, the Pareto fronts,
//! and the files `OUT/` gets (sweep.json, sweep.csv, sweep.md, points/,
//! plots/).

use crate::error::SweepError;
use crate::pareto;
use crate::points;
use crate::run::{write_atomic, JobRecord, JobResult, Sweep};
use crate::spec::SweepSpec;
use report::Range;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One point's figures; the keys are binding (docs/sweep.md).
#[derive(Debug, Clone, Serialize)]
pub struct PointResult {
    pub label: String,
    pub wbits: u8,
    pub abits: u8,
    pub first_last_wbits: u8,
    pub rows: u32,
    pub cols: u32,
    /// The PEs' native widths (wider layers run in operand-slice passes).
    pub pe_a_bits: u8,
    pub pe_w_bits: u8,
    pub batch: usize,
    /// Golden on the test split, 0..=1; null on synthetic images.
    pub accuracy: Option<f64>,
    pub accuracy_images: usize,
    /// How the student was trained; null for a random model.
    pub method: Option<trainer::Method>,
    pub mismatches: u64,
    pub sim_images: usize,
    pub cycles_per_image: f64,
    pub images_per_s: f64,
    /// "measured ..." (the RTL, batch 1) or "modeled ...".
    pub images_per_s_basis: String,
    pub utilization: f64,
    pub energy_per_image_uj: Range,
    pub cells: Option<u64>,
    pub luts: Option<u64>,
    pub dsps: Option<u64>,
    pub area_mm2_estimate: Option<f64>,
    /// Wall seconds of the point's hardware job (design, simulation,
    /// report, synthesis), shared by its batch sizes.
    pub seconds: f64,
    /// Wall seconds of its model (training, or drawing a random model).
    pub model_seconds: f64,
    pub report_dir: PathBuf,
    /// What resolving the array for the model changed (widths widened,
    /// `max_k` set), each with its reason.
    pub changes: Vec<String>,
}

/// A point that could not be measured, and why.
#[derive(Debug, Clone, Serialize)]
pub struct FailedPoint {
    pub label: String,
    pub job: String,
    pub error: String,
}

/// The labels on each front, cheapest first.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Fronts {
    /// Highest accuracy for the least energy per image (typical corner).
    pub accuracy_energy: Vec<String>,
    /// Highest accuracy for the least area (mm^2 estimate).
    pub accuracy_area: Vec<String>,
    /// Most images/s for the least area.
    pub throughput_area: Vec<String>,
}

/// `sweep.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SweepResult {
    pub name: String,
    pub points: Vec<PointResult>,
    pub failed: Vec<FailedPoint>,
    pub pareto: Fronts,
    pub spec: SweepSpec,
    /// Jobs run now and reused from an earlier run.
    pub jobs_run: usize,
    pub jobs_reused: usize,
}

/// Merge the job records into per-point results.
pub fn merge(sweep: &Sweep, records: &[JobRecord], reused: usize) -> SweepResult {
    let by_id: HashMap<&str, &JobRecord> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut results = Vec::new();
    let mut failed = Vec::new();
    for point in points::points(&sweep.spec, sweep.default_first_last()) {
        let model_id = format!("model-{}", point.bits.id());
        let hardware = by_id.get(point.job.as_str());
        let model = by_id.get(model_id.as_str());
        let error = |job: &str, why: String| FailedPoint {
            label: point.label.clone(),
            job: job.to_string(),
            error: why,
        };
        let (Some(hardware), Some(model)) = (hardware, model) else {
            failed.push(error(&point.job, "not run".into()));
            continue;
        };
        let (
            Some(JobResult::Hardware(hw)),
            Some(JobResult::Model {
                accuracy,
                accuracy_images,
                method,
                ..
            }),
        ) = (&hardware.result, &model.result)
        else {
            let (job, why) = match (&model.error, &hardware.error) {
                (Some(e), _) => (model_id.as_str(), e.clone()),
                (_, Some(e)) => (point.job.as_str(), e.clone()),
                _ => (point.job.as_str(), "no result".to_string()),
            };
            failed.push(error(job, why));
            continue;
        };
        let batch = hw
            .batches
            .iter()
            .find(|b| b.batch == point.batch)
            .expect("a hardware result has every batch of the spec");
        results.push(PointResult {
            label: point.label.clone(),
            wbits: point.bits.wbits,
            abits: point.bits.abits,
            first_last_wbits: point.bits.first_last_wbits,
            rows: point.array.rows,
            cols: point.array.cols,
            pe_a_bits: point.array.pe_a_bits,
            pe_w_bits: point.array.pe_w_bits,
            batch: point.batch,
            accuracy: *accuracy,
            accuracy_images: *accuracy_images,
            method: *method,
            mismatches: hw.mismatches,
            sim_images: hw.sim_images,
            cycles_per_image: batch.cycles_per_image,
            images_per_s: batch.images_per_s,
            images_per_s_basis: batch.basis.clone(),
            utilization: batch.utilization,
            energy_per_image_uj: batch.energy_per_image_uj,
            cells: hw.cells,
            luts: hw.luts,
            dsps: hw.dsps,
            area_mm2_estimate: hw.area_mm2_estimate,
            seconds: hardware.seconds,
            model_seconds: model.seconds,
            report_dir: hw.report_dir.clone(),
            changes: hw.changes.clone(),
        });
    }
    let label_of = |indices: Vec<usize>| {
        indices
            .into_iter()
            .map(|i| results[i].label.clone())
            .collect()
    };
    let accuracy: Vec<Option<f64>> = results.iter().map(|p| p.accuracy).collect();
    let energy: Vec<Option<f64>> = results
        .iter()
        .map(|p| Some(p.energy_per_image_uj.typical))
        .collect();
    let area: Vec<Option<f64>> = results.iter().map(|p| p.area_mm2_estimate).collect();
    let throughput: Vec<Option<f64>> = results.iter().map(|p| Some(p.images_per_s)).collect();
    let pareto = Fronts {
        accuracy_energy: label_of(pareto::front(&accuracy, &energy)),
        accuracy_area: label_of(pareto::front(&accuracy, &area)),
        throughput_area: label_of(pareto::front(&throughput, &area)),
    };
    let jobs_total = sweep.jobs.len();
    SweepResult {
        name: sweep.spec.name.clone(),
        points: results,
        failed,
        pareto,
        spec: sweep.spec.clone(),
        jobs_run: jobs_total.saturating_sub(reused),
        jobs_reused: reused,
    }
}

impl SweepResult {
    /// Write sweep.json, sweep.csv, sweep.md, points/<label>.json and the
    /// plots into `out`; returns the paths written.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>, SweepError> {
        let mut written = Vec::new();
        let mut put = |relative: &str, text: &str| -> Result<(), SweepError> {
            let path = out.join(relative);
            write_atomic(&path, text)?;
            written.push(path);
            Ok(())
        };
        put(
            "sweep.json",
            &serde_json::to_string_pretty(self).expect("serializes"),
        )?;
        put("sweep.csv", &self.csv())?;
        for point in &self.points {
            put(
                &format!("points/{}.json", point.label),
                &serde_json::to_string_pretty(point).expect("serializes"),
            )?;
        }
        let plots = self.plots()?;
        for (file, svg) in &plots {
            put(&format!("plots/{file}"), svg)?;
        }
        put("sweep.md", &self.markdown(&plots))?;
        Ok(written)
    }

    fn csv(&self) -> String {
        let mut csv = String::from(
            "label,wbits,abits,first_last_wbits,rows,cols,pe_a_bits,pe_w_bits,batch,accuracy,mismatches,cycles_per_image,images_per_s,images_per_s_basis,utilization,energy_uj_low,energy_uj_typical,energy_uj_high,cells,luts,dsps,area_mm2_estimate,seconds,method\n",
        );
        let opt = |v: Option<String>| v.unwrap_or_default();
        for p in &self.points {
            let _ = writeln!(
                csv,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},\"{}\",{},{},{},{},{},{},{},{},{:.1},{}",
                p.label,
                p.wbits,
                p.abits,
                p.first_last_wbits,
                p.rows,
                p.cols,
                p.pe_a_bits,
                p.pe_w_bits,
                p.batch,
                opt(p.accuracy.map(|a| format!("{a:.4}"))),
                p.mismatches,
                p.cycles_per_image,
                p.images_per_s,
                p.images_per_s_basis.replace('"', "'"),
                p.utilization,
                p.energy_per_image_uj.low,
                p.energy_per_image_uj.typical,
                p.energy_per_image_uj.high,
                opt(p.cells.map(|v| v.to_string())),
                opt(p.luts.map(|v| v.to_string())),
                opt(p.dsps.map(|v| v.to_string())),
                opt(p.area_mm2_estimate.map(|v| format!("{v:.4}"))),
                p.seconds,
                opt(p.method.map(|m| m.to_string())),
            );
        }
        csv
    }
}
