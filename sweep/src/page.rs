//! sweep.md and the Pareto plots.

use crate::error::SweepError;
use crate::output::{PointResult, SweepResult};
use plotters::prelude::*;
use std::fmt::Write as _;

/// One scatter plot: which figure is better (up), which costs (right).
struct Axes {
    file: &'static str,
    title: &'static str,
    x: &'static str,
    y: &'static str,
    cost: fn(&PointResult) -> Option<f64>,
    better: fn(&PointResult) -> Option<f64>,
}

const AXES: [Axes; 3] = [
    Axes {
        file: "accuracy_vs_energy.svg",
        title: "Accuracy versus energy per image",
        x: "energy per image, uJ (modeled, typical corner)",
        y: "accuracy, % (golden, test split)",
        cost: |p| Some(p.energy_per_image_uj.typical),
        better: |p| p.accuracy.map(|a| a * 100.0),
    },
    Axes {
        file: "accuracy_vs_area.svg",
        title: "Accuracy versus area",
        x: "area, mm^2 (estimate from yosys generic cells)",
        y: "accuracy, % (golden, test split)",
        cost: |p| p.area_mm2_estimate,
        better: |p| p.accuracy.map(|a| a * 100.0),
    },
    Axes {
        file: "throughput_vs_area.svg",
        title: "Images/s versus area",
        x: "area, mm^2 (estimate from yosys generic cells)",
        y: "images/s",
        cost: |p| p.area_mm2_estimate,
        better: |p| Some(p.images_per_s),
    },
];

impl SweepResult {
    fn front_of(&self, file: &str) -> &[String] {
        match file {
            "accuracy_vs_energy.svg" => &self.pareto.accuracy_energy,
            "accuracy_vs_area.svg" => &self.pareto.accuracy_area,
            _ => &self.pareto.throughput_area,
        }
    }

    /// Every plot that has at least one point with both figures.
    pub(crate) fn plots(&self) -> Result<Vec<(String, String)>, SweepError> {
        let mut plots = Vec::new();
        for axes in &AXES {
            if let Some(svg) = self
                .scatter(axes)
                .map_err(|e| SweepError::Job(format!("plot {}: {e}", axes.file)))?
            {
                plots.push((axes.file.to_string(), svg));
            }
        }
        Ok(plots)
    }

    fn scatter(&self, axes: &Axes) -> Result<Option<String>, Box<dyn std::error::Error>> {
        let known: Vec<(&PointResult, f64, f64)> = self
            .points
            .iter()
            .filter_map(|p| Some((p, (axes.cost)(p)?, (axes.better)(p)?)))
            .collect();
        if known.is_empty() {
            return Ok(None);
        }
        let front = self.front_of(axes.file);
        let span = |values: Vec<f64>| {
            let (lo, hi) = values
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
            let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.05).max(1e-9);
            (lo - pad).max(0.0)..hi + pad
        };
        let xs = span(known.iter().map(|k| k.1).collect());
        let ys = span(known.iter().map(|k| k.2).collect());
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (900, 600)).into_drawing_area();
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!("{} ({})", axes.title, self.name),
                    ("sans-serif", 20),
                )
                .margin(20)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(xs, ys)?;
            chart
                .configure_mesh()
                .x_desc(axes.x)
                .y_desc(axes.y)
                .label_style(("sans-serif", 13))
                .draw()?;
            let mut line: Vec<(f64, f64)> = known
                .iter()
                .filter(|k| front.contains(&k.0.label))
                .map(|k| (k.1, k.2))
                .collect();
            line.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
            chart.draw_series(LineSeries::new(line, RED.stroke_width(2)))?;
            for (point, x, y) in &known {
                let on_front = front.contains(&point.label);
                let color = if on_front {
                    RED
                } else {
                    RGBColor(110, 110, 110)
                };
                chart.draw_series(std::iter::once(Circle::new((*x, *y), 5, color.filled())))?;
                chart.draw_series(std::iter::once(Text::new(
                    point.label.clone(),
                    (*x, *y),
                    ("sans-serif", 12).into_font().color(&color),
                )))?;
            }
            root.present()?;
        }
        Ok(Some(svg))
    }

    /// sweep.md: every point, then each front with its plot.
    pub(crate) fn markdown(&self, plots: &[(String, String)]) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Sweep {}\n", self.name);
        let _ = writeln!(
            md,
            "{} points measured, {} failed; {} jobs run, {} reused from an earlier run. \
             Accuracy: golden on the test split, with the method that trained the student (its training \
             config's `method`, else the best measured at its bits: docs/results.md). Cycles and images/s at batch 1: measured on the RTL \
             (Verilator, 0 mismatches against golden required); other batch sizes and all energy: modeled \
             (docs/energy-area.md). Area: yosys.\n",
            self.points.len(),
            self.failed.len(),
            self.jobs_run,
            self.jobs_reused
        );
        let _ = writeln!(md, "## Points\n");
        let _ = writeln!(
            md,
            "| point | accuracy | cycles/image | images/s | utilization | energy/image uJ (low / typical / high) | cells | LUTs | DSPs | mm^2 est. |"
        );
        let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let dash = || "-".to_string();
        for p in &self.points {
            let _ = writeln!(
                md,
                "| {} | {} | {:.0} | {:.1} | {:.1}% | {:.2} / {:.2} / {:.2} | {} | {} | {} | {} |",
                p.label,
                accuracy_cell(p),
                p.cycles_per_image,
                p.images_per_s,
                p.utilization * 100.0,
                p.energy_per_image_uj.low,
                p.energy_per_image_uj.typical,
                p.energy_per_image_uj.high,
                p.cells.map_or_else(dash, |v| v.to_string()),
                p.luts.map_or_else(dash, |v| v.to_string()),
                p.dsps.map_or_else(dash, |v| v.to_string()),
                p.area_mm2_estimate.map_or_else(dash, |v| format!("{v:.3}")),
            );
        }
        if !self.failed.is_empty() {
            let _ = writeln!(md, "\n## Failed\n");
            for f in &self.failed {
                let _ = writeln!(md, "- {} ({}): {}", f.label, f.job, f.error);
            }
        }
        for axes in &AXES {
            let front = self.front_of(axes.file);
            let _ = writeln!(md, "\n## Pareto front: {}\n", axes.title.to_lowercase());
            if front.is_empty() {
                let _ = writeln!(
                    md,
                    "No point has both figures (is synthesis off, or are the images synthetic?)."
                );
                continue;
            }
            let _ = writeln!(md, "Cheapest first: {}.\n", front.join(", "));
            if plots.iter().any(|(file, _)| file == axes.file) {
                let _ = writeln!(md, "![{}](plots/{})", axes.title, axes.file);
            }
        }
        md
    }
}

/// A point's accuracy, with the method that trained its student.
fn accuracy_cell(point: &PointResult) -> String {
    match (point.accuracy, point.method) {
        (Some(accuracy), Some(method)) => format!("{:.2}% ({method})", accuracy * 100.0),
        (Some(accuracy), None) => format!("{:.2}%", accuracy * 100.0),
        (None, _) => "-".to_string(),
    }
}
