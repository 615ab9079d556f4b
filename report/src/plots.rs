//! SVG plots (plotters' SVG backend: text is written as `<text>` elements,
//! so no fonts are needed to draw, only to view).

use crate::activity::ActionKind;
use crate::render::num;
use crate::{Report, ReportError, SynthFlow};
use plotters::coord::ranged1d::{SegmentValue, SegmentedCoord};
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::coord::Shift;
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

/// Why plotters could not draw (its errors carry their own text).
type DrawError = Box<dyn std::error::Error>;
type Panel<'b> = DrawingArea<SVGBackend<'b>, Shift>;
/// A chart with one x segment per bar.
type SegmentChart<'a, 'b> =
    ChartContext<'a, SVGBackend<'b>, Cartesian2d<SegmentedCoord<RangedCoordusize>, RangedCoordf64>>;

/// Every plot the report has data for.
pub fn draw_all(report: &Report) -> Result<Vec<Plot>, ReportError> {
    let mut plots = vec![
        drawn("cycles_per_layer.svg", cycles_per_layer(report))?,
        drawn("energy_per_layer.svg", energy_per_layer(report))?,
    ];
    if let Some(plot) = drawn("area_per_module.svg", area_per_module(report))? {
        plots.push(plot);
    }
    Ok(plots)
}

fn drawn<T>(file: &str, result: Result<T, DrawError>) -> Result<T, ReportError> {
    result.map_err(|error| ReportError::Plot {
        plot: file.to_string(),
        message: error.to_string(),
    })
}

/// An SVG of `height` pixels split into an upper panel of `upper` pixels
/// and a lower one, drawn by `draw` and returned as text.
fn two_panels(
    height: u32,
    upper: u32,
    draw: impl for<'p, 'b> FnOnce(&'p Panel<'b>, &'p Panel<'b>) -> Result<(), DrawError>,
) -> Result<String, DrawError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, bottom) = root.split_vertically(upper);
        draw(&top, &bottom)?;
        root.present()?;
    }
    Ok(svg)
}

/// The axes of a bar chart: one segment per name, 0..`y_max` up.
struct Axes<'n> {
    names: &'n [String],
    caption: String,
    caption_size: u32,
    y_max: f64,
    y_label_width: u32,
    y_desc: &'n str,
}

impl<'n> Axes<'n> {
    /// The upper panel's axes (a larger caption).
    fn upper(names: &'n [String], caption: String, y_max: f64, y_desc: &'n str) -> Self {
        Axes {
            names,
            caption,
            caption_size: 20,
            y_max,
            y_label_width: 80,
            y_desc,
        }
    }

    /// The lower panel's axes.
    fn lower(names: &'n [String], caption: String, y_max: f64, y_desc: &'n str) -> Self {
        Axes {
            caption_size: 18,
            ..Axes::upper(names, caption, y_max, y_desc)
        }
    }
}

/// A bar chart's frame, axes and mesh, drawn on `panel`.
fn segment_chart<'a, 'b>(
    panel: &'a Panel<'b>,
    axes: &Axes,
) -> Result<SegmentChart<'a, 'b>, DrawError> {
    let n = axes.names.len().max(1);
    let mut chart = ChartBuilder::on(panel)
        .caption(&axes.caption, (FONT, axes.caption_size))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(axes.y_label_width)
        .build_cartesian_2d((0..n - 1).into_segmented(), 0f64..axes.y_max)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&segment_label(axes.names))
        .y_label_formatter(&|v| num(*v))
        .y_desc(axes.y_desc)
        .label_style((FONT, 13))
        .draw()?;
    Ok(chart)
}

/// The series legend in the upper left corner.
fn draw_legend<'a, 'b: 'a>(
    chart: &mut SegmentChart<'a, 'b>,
    opacity: f64,
    font_size: u32,
) -> Result<(), DrawError> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(opacity))
        .border_style(BLACK)
        .label_font((FONT, font_size))
        .draw()?;
    Ok(())
}

/// A legend entry's swatch.
fn legend_box<S: Into<ShapeStyle>>((x, y): (i32, i32), style: S) -> Rectangle<(i32, i32)> {
    Rectangle::new([(x, y - 5), (x + 12, y + 5)], style)
}

/// Layer names as segment labels.
fn segment_label(names: &[String]) -> impl Fn(&SegmentValue<usize>) -> String + '_ {
    move |value| match value {
        SegmentValue::CenterOf(i) => names.get(*i).cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A bar filling segment `i` of a segmented x axis from `bottom` to `top`,
/// `margin` pixels in from each side.
fn segment_rect<S: Into<ShapeStyle>>(
    i: usize,
    bottom: f64,
    top: f64,
    style: S,
    margin: u32,
) -> Rectangle<(SegmentValue<usize>, f64)> {
    let mut rect = Rectangle::new(
        [
            (SegmentValue::Exact(i), bottom),
            (SegmentValue::Exact(i + 1), top),
        ],
        style,
    );
    rect.set_margin(0, 0, margin, margin);
    rect
}

/// A filled bar, with the same side margins everywhere so the plots look
/// alike.
fn segment_bar<S: Into<ShapeStyle>>(
    i: usize,
    bottom: f64,
    top: f64,
    style: S,
) -> Rectangle<(SegmentValue<usize>, f64)> {
    segment_rect(i, bottom, top, style, 10)
}

fn cycles_per_layer(report: &Report) -> Result<Plot, DrawError> {
    let names: Vec<String> = report.layers.iter().map(|l| l.name.clone()).collect();
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
    let config = &report.design.config;
    let simulated = measured.iter().any(Option::is_some);
    let cycles_axes = Axes::upper(
        &names,
        format!(
            "Cycles per layer, one image ({}x{} array at {} MHz)",
            config.rows, config.cols, config.clock_mhz
        ),
        y_max,
        "cycles",
    );
    let basis = if simulated { "measured" } else { "modeled" };
    let utilization_axes = Axes::lower(
        &names,
        format!(
            "MAC utilization per layer ({basis}): MACs / (cycles x {} PEs)",
            report.design.macs_per_cycle
        ),
        100.0,
        "utilization %",
    );
    let svg = two_panels(720, 420, |upper, lower| {
        let mut chart = segment_chart(upper, &cycles_axes)?;
        let bar = RGBColor(31, 119, 180).mix(0.6).filled();
        let bars = modeled.iter().enumerate();
        chart
            .draw_series(bars.map(|(i, &value)| segment_bar(i, 0.0, value, bar)))?
            .label("modeled (hwgen::gemm_cycles)")
            .legend(move |corner| legend_box(corner, bar));
        if simulated {
            let outline = BLACK.stroke_width(2);
            let outlines = measured.iter().enumerate().filter_map(|(i, value)| {
                value.map(|value| segment_rect(i, 0.0, value, outline, 6))
            });
            chart
                .draw_series(outlines)?
                .label("measured (RTL simulation), outline")
                .legend(move |corner| legend_box(corner, outline));
        }
        draw_legend(&mut chart, 0.85, 13)?;
        let mut chart = segment_chart(lower, &utilization_axes)?;
        let green = RGBColor(44, 160, 44).mix(0.7).filled();
        let bars = utilization.iter().enumerate();
        chart.draw_series(bars.map(|(i, &value)| segment_bar(i, 0.0, value, green)))?;
        Ok(())
    })?;
    Ok(Plot {
        file: "cycles_per_layer.svg",
        title: "Cycles and utilization per layer".into(),
        caption: "Bars: cycles from the schedule formula (modeled); black outlines: cycles measured in the RTL simulation (mean per image). Lower panel: utilization (measured when simulated).".into(),
        svg,
    })
}

fn energy_per_layer(report: &Report) -> Result<Plot, DrawError> {
    let names: Vec<String> = report.layers.iter().map(|l| l.name.clone()).collect();
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
    let energy_axes = Axes::upper(
        &names,
        "Energy per layer and image (modeled, typical corner, batch 1)".into(),
        y_max,
        "nJ per image",
    );
    let share_axes = Axes::lower(
        &names,
        "Share of each action kind per layer (typical corner)".into(),
        100.0,
        "% of the layer's energy",
    );
    let svg = two_panels(820, 430, |upper, lower| {
        let mut chart = segment_chart(upper, &energy_axes)?;
        stacked_kinds(&mut chart, &per_kind, false)?;
        draw_legend(&mut chart, 0.9, 12)?;
        stacked_kinds(&mut segment_chart(lower, &share_axes)?, &per_kind, true)
    })?;
    Ok(Plot {
        file: "energy_per_layer.svg",
        title: "Energy per layer by action kind".into(),
        caption: format!(
            "Modeled: counted actions x {} (revision {}), typical corner, one image at batch 1. Upper panel in nJ, lower panel as shares.",
            report.energy_table.name, report.energy_table.revision
        ),
        svg,
    })
}

/// One stacked bar per layer, one colour per action kind; `shares`: each
/// bar scaled to 100, without legend entries.
fn stacked_kinds<'a, 'b: 'a>(
    chart: &mut SegmentChart<'a, 'b>,
    per_kind: &[Vec<f64>],
    shares: bool,
) -> Result<(), DrawError> {
    for (kind_index, kind) in ActionKind::ALL.iter().enumerate() {
        let color = KIND_COLORS[kind_index].filled();
        let bars = per_kind.iter().enumerate().map(|(i, kinds)| {
            let total: f64 = kinds.iter().sum();
            let scale = if !shares {
                1.0
            } else if total > 0.0 {
                100.0 / total
            } else {
                0.0
            };
            let below: f64 = kinds[..kind_index].iter().sum::<f64>() * scale;
            let top = below + kinds[kind_index] * scale;
            segment_bar(i, below, top, color)
        });
        let series = chart.draw_series(bars)?;
        if !shares {
            series
                .label(kind.name())
                .legend(move |corner| legend_box(corner, color));
        }
    }
    Ok(())
}

fn area_per_module(report: &Report) -> Result<Option<Plot>, DrawError> {
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
    let totals: Vec<f64> = modules.iter().map(|m| m.total_cells() as f64).collect();
    let per_instance: Vec<f64> = modules
        .iter()
        .map(|m| m.total_cells() as f64 / m.instances.max(1) as f64)
        .collect();
    let y_max = |values: &[f64]| values.iter().fold(1.0f64, |a, &b| a.max(b)) * 1.1;
    let caption = "Generic cells per module, all instances (yosys synth)";
    let panels = [
        (
            Axes::upper(&names, caption.into(), y_max(&totals), "cells"),
            &totals,
            RGBColor(148, 103, 189),
        ),
        (
            Axes::lower(
                &names,
                "Generic cells per instance".into(),
                y_max(&per_instance),
                "cells",
            ),
            &per_instance,
            RGBColor(140, 86, 75),
        ),
    ];
    let svg = two_panels(720, 360, |upper, lower| {
        for (area, (mut axes, values, color)) in [upper, lower].into_iter().zip(panels) {
            // Wider labels than the other plots: cell counts run to six digits.
            axes.y_label_width = 90;
            let mut chart = segment_chart(area, &axes)?;
            let style = color.mix(0.75).filled();
            let bars = values.iter().enumerate();
            chart.draw_series(bars.map(|(i, &value)| segment_bar(i, 0.0, value, style)))?;
        }
        Ok(())
    })?;
    Ok(Some(Plot {
        file: "area_per_module.svg",
        title: "Area per module".into(),
        caption: "Synthesized: yosys generic `synth` gate-level cells of each module's own logic (submodules excluded), all instances (upper) and per instance (lower).".into(),
        svg,
    }))
}
