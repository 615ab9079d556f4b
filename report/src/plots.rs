//! SVG plots (plotters' SVG backend: text is written as `<text>` elements,
//! so no fonts are needed to draw, only to view).

use crate::activity::ActionKind;
use crate::render::num;
use crate::{Report, ReportError, SynthFlow};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// One drawn plot.
pub struct Plot {
    /// File name under `plots/`.
    pub file: &'static str,
    pub title: String,
    /// What the plot shows and where its numbers come from.
    pub caption: String,
    pub svg: String,
}

const WIDTH: u32 = 960;
const FONT: &str = "sans-serif";

/// Ten distinguishable colours, one per action kind.
const KIND_COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn plot_error(plot: &str) -> impl Fn(String) -> ReportError + '_ {
    move |message| ReportError::Plot {
        plot: plot.to_string(),
        message,
    }
}

/// Every plot the report has data for.
pub fn draw_all(report: &Report) -> Result<Vec<Plot>, ReportError> {
    let mut plots = vec![cycles_per_layer(report)?, energy_per_layer(report)?];
    if let Some(plot) = area_per_module(report)? {
        plots.push(plot);
    }
    Ok(plots)
}

/// Layer names as segment labels.
fn segment_label(names: &[String]) -> impl Fn(&SegmentValue<usize>) -> String + '_ {
    move |value| match value {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A bar filling segment `i` of a segmented x axis from `bottom` to `top`,
/// with the same side margins everywhere so the plots look alike.
fn segment_bar<S: Into<ShapeStyle>>(
    i: usize,
    bottom: f64,
    top: f64,
    style: S,
) -> Rectangle<(SegmentValue<usize>, f64)> {
    let mut rect = Rectangle::new(
        [
            (SegmentValue::Exact(i), bottom),
            (SegmentValue::Exact(i + 1), top),
        ],
        style,
    );
    rect.set_margin(0, 0, 10, 10);
    rect
}

fn cycles_per_layer(report: &Report) -> Result<Plot, ReportError> {
    let file = "cycles_per_layer.svg";
    let fail = plot_error(file);
    let names: Vec<String> = report.layers.iter().map(|l| l.name.clone()).collect();
    let n = names.len().max(1);
    let modeled: Vec<f64> = report
        .layers
        .iter()
        .map(|l| l.cycles_modeled as f64)
        .collect();
    let measured: Vec<Option<f64>> = report.layers.iter().map(|l| l.cycles_measured).collect();
    let utilization: Vec<f64> = report
        .layers
        .iter()
        .map(|l| 100.0 * l.utilization_measured.unwrap_or(l.utilization_modeled))
        .collect();
    let y_max = modeled
        .iter()
        .chain(measured.iter().flatten())
        .fold(1.0f64, |a, &b| a.max(b))
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 720)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let (upper, lower) = root.split_vertically(420);
        let mut chart = ChartBuilder::on(&upper)
            .caption(
                format!(
                    "Cycles per layer, one image ({}x{} array at {} MHz)",
                    report.design.config.rows,
                    report.design.config.cols,
                    report.design.config.clock_mhz
                ),
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..y_max)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&segment_label(&names))
            .y_label_formatter(&|v| num(*v))
            .y_desc("cycles")
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        let bar = RGBColor(31, 119, 180);
        chart
            .draw_series(
                modeled
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| segment_bar(i, 0.0, value, bar.mix(0.6).filled())),
            )
            .map_err(|e| fail(e.to_string()))?
            .label("modeled (hwgen::gemm_cycles)")
            .legend(move |(x, y)| {
                Rectangle::new([(x, y - 5), (x + 12, y + 5)], bar.mix(0.6).filled())
            });
        if measured.iter().any(Option::is_some) {
            chart
                .draw_series(measured.iter().enumerate().filter_map(|(i, value)| {
                    value.map(|value| {
                        let mut rect = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0.0),
                                (SegmentValue::Exact(i + 1), value),
                            ],
                            BLACK.stroke_width(2),
                        );
                        rect.set_margin(0, 0, 6, 6);
                        rect
                    })
                }))
                .map_err(|e| fail(e.to_string()))?
                .label("measured (RTL simulation), outline")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 12, y + 5)], BLACK.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 13))
            .draw()
            .map_err(|e| fail(e.to_string()))?;

        let basis = if measured.iter().any(Option::is_some) {
            "measured"
        } else {
            "modeled"
        };
        let mut chart = ChartBuilder::on(&lower)
            .caption(
                format!(
                    "MAC utilization per layer ({basis}): MACs / (cycles x {} PEs)",
                    report.design.macs_per_cycle
                ),
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(80)
            .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..100f64)
            .map_err(|e| fail(e.to_string()))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&segment_label(&names))
            .y_label_formatter(&|v| num(*v))
            .y_desc("utilization %")
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| fail(e.to_string()))?;
        let green = RGBColor(44, 160, 44);
        chart
            .draw_series(
                utilization
                    .iter()
                    .enumerate()
                    .map(|(i, &value)| segment_bar(i, 0.0, value, green.mix(0.7).filled())),
            )
            .map_err(|e| fail(e.to_string()))?;
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(Plot {
        file,
        title: "Cycles and utilization per layer".into(),
        caption: "Bars: cycles from the schedule formula (modeled); black outlines: cycles measured in the RTL simulation (mean per image). Lower panel: utilization (measured when simulated).".into(),
        svg,
    })
}

fn energy_per_layer(report: &Report) -> Result<Plot, ReportError> {
    let file = "energy_per_layer.svg";
    let fail = plot_error(file);
    let names: Vec<String> = report.layers.iter().map(|l| l.name.clone()).collect();
    let n = names.len().max(1);
    // nJ per image, typical corner, by kind.
    let per_kind: Vec<Vec<f64>> = report
        .layers
        .iter()
        .map(|layer| {
            ActionKind::ALL
                .iter()
                .map(|&kind| layer.energy.kind(kind).pj.typical / 1e3)
                .collect()
        })
        .collect();
    let y_max = per_kind
        .iter()
        .map(|kinds| kinds.iter().sum::<f64>())
        .fold(1e-9f64, f64::max)
        * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 820)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let (upper, lower) = root.split_vertically(430);
        for (panel, area) in [(0, &upper), (1, &lower)] {
            let (caption, y_top, y_desc) = if panel == 0 {
                (
                    "Energy per layer and image (modeled, typical corner, batch 1)".to_string(),
                    y_max,
                    "nJ per image",
                )
            } else {
                (
                    "Share of each action kind per layer (typical corner)".to_string(),
                    100.0,
                    "% of the layer's energy",
                )
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, if panel == 0 { 20 } else { 18 }))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(80)
                .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..y_top)
                .map_err(|e| fail(e.to_string()))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_label_formatter(&segment_label(&names))
                .y_label_formatter(&|v| num(*v))
                .y_desc(y_desc)
                .label_style((FONT, 13))
                .draw()
                .map_err(|e| fail(e.to_string()))?;
            for (kind_index, kind) in ActionKind::ALL.iter().enumerate() {
                let color = KIND_COLORS[kind_index];
                let bars = per_kind.iter().enumerate().map(|(i, kinds)| {
                    let total: f64 = kinds.iter().sum();
                    let scale = if panel == 0 {
                        1.0
                    } else if total > 0.0 {
                        100.0 / total
                    } else {
                        0.0
                    };
                    let below: f64 = kinds[..kind_index].iter().sum::<f64>() * scale;
                    let top = below + kinds[kind_index] * scale;
                    segment_bar(i, below, top, color.filled())
                });
                let series = chart.draw_series(bars).map_err(|e| fail(e.to_string()))?;
                if panel == 0 {
                    series.label(kind.name()).legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled())
                    });
                }
            }
            if panel == 0 {
                chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.9))
                    .border_style(BLACK)
                    .label_font((FONT, 12))
                    .draw()
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(Plot {
        file,
        title: "Energy per layer by action kind".into(),
        caption: format!(
            "Modeled: counted actions x {} (revision {}), typical corner, one image at batch 1. Upper panel in nJ, lower panel as shares.",
            report.energy_table.name, report.energy_table.revision
        ),
        svg,
    })
}

fn area_per_module(report: &Report) -> Result<Option<Plot>, ReportError> {
    let file = "area_per_module.svg";
    let fail = plot_error(file);
    let Some(generic) = report
        .area
        .flows
        .iter()
        .find(|f| f.flow == SynthFlow::Generic && f.ok())
    else {
        return Ok(None);
    };
    let modules: Vec<_> = generic
        .modules
        .iter()
        .filter(|m| m.total_cells() > 0)
        .collect();
    let names: Vec<String> = modules
        .iter()
        .map(|m| {
            format!(
                "{} x{}",
                m.module.trim_start_matches("tandem_"),
                m.instances
            )
        })
        .collect();
    let n = names.len().max(1);
    let totals: Vec<f64> = modules.iter().map(|m| m.total_cells() as f64).collect();
    let per_instance: Vec<f64> = modules
        .iter()
        .map(|m| m.total_cells() as f64 / m.instances.max(1) as f64)
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 720)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(e.to_string()))?;
        let (upper, lower) = root.split_vertically(360);
        for (panel, area, values) in [(0, &upper, &totals), (1, &lower, &per_instance)] {
            let y_max = values.iter().fold(1.0f64, |a, &b| a.max(b)) * 1.1;
            let caption = if panel == 0 {
                "Generic cells per module, all instances (yosys synth)".to_string()
            } else {
                "Generic cells per instance".to_string()
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, if panel == 0 { 20 } else { 18 }))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(90)
                .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..y_max)
                .map_err(|e| fail(e.to_string()))?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_label_formatter(&segment_label(&names))
                .y_label_formatter(&|v| num(*v))
                .y_desc("cells")
                .label_style((FONT, 13))
                .draw()
                .map_err(|e| fail(e.to_string()))?;
            let color = if panel == 0 {
                RGBColor(148, 103, 189)
            } else {
                RGBColor(140, 86, 75)
            };
            chart
                .draw_series(
                    values
                        .iter()
                        .enumerate()
                        .map(|(i, &value)| segment_bar(i, 0.0, value, color.mix(0.75).filled())),
                )
                .map_err(|e| fail(e.to_string()))?;
        }
        root.present().map_err(|e| fail(e.to_string()))?;
    }
    Ok(Some(Plot {
        file,
        title: "Area per module".into(),
        caption: "Synthesized: yosys generic `synth` gate-level cells of each module's own logic (submodules excluded), all instances (upper) and per instance (lower).".into(),
        svg,
    }))
}
