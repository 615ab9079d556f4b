//! `tandem report`: throughput, energy and area of a design point, written
//! as report.md, report.json, CSV tables and SVG plots (crate `report`).

use anyhow::{bail, Context, Result};
use clap::Args;
use hwgen::HwConfig;
use indicatif::{ProgressBar, ProgressStyle};
use report::{EnergyTable, ProgressEvent, ReportInputs, SynthFlow, SynthOptions};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Hardware config (YAML), e.g. configs/hw-16x16-w4a4.yaml. Resolved for
    /// the model first, as `tandem hwgen --model` does (each change printed).
    #[arg(long)]
    hw: PathBuf,
    /// Model directory (model.yaml + model.safetensors).
    #[arg(long)]
    model: PathBuf,
    /// Test images to simulate on the RTL (the first N of the test split);
    /// 0 skips simulation (modeled figures only).
    #[arg(long, default_value_t = 2)]
    images: usize,
    /// Simulate up to N images at once, each on its own verilated instance
    /// and thread (results identical to one thread; default: all cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    threads: Option<u64>,
    #[command(flatten)]
    data: crate::cli_model::DataArgs,
    /// Energy-per-action table (YAML); default: the built-in copy of
    /// configs/energy-45nm.yaml.
    #[arg(long)]
    energy_table: Option<PathBuf>,
    /// Skip synthesis (no area figures).
    #[arg(long)]
    no_synth: bool,
    /// yosys flows to run, comma-separated: generic, xilinx, ice40.
    #[arg(long, value_delimiter = ',', default_value = "generic,xilinx,ice40")]
    synth_flows: Vec<String>,
    /// Stop a synthesis flow after this many seconds (at least 1); a flow
    /// stopped there is reported as timed out, without figures.
    #[arg(long, default_value_t = 600, value_parser = parse_synth_timeout)]
    synth_timeout: u64,
    /// Batch sizes of the modeled figures, comma-separated (1 is always included).
    #[arg(long, value_delimiter = ',', default_values_t = report::DEFAULT_BATCH_SIZES)]
    batch: Vec<usize>,
    /// Output directory (created; files with the same names are replaced).
    #[arg(long)]
    out: PathBuf,
    /// End stdout with one JSON object: images_per_s, energy_per_image_uj
    /// {low, typical, high}, tops_per_w, cells, luts, ...
    #[arg(long)]
    json: bool,
}

pub fn run_report(args: ReportArgs) -> Result<()> {
    args.data.check()?;
    let model = golden::io::load(&args.model).context("cannot load the model")?;
    let config = HwConfig::from_yaml_file(&args.hw)?;
    let design = crate::cli_hw::resolve_design(
        &config,
        Some(&model),
        hwgen::DesignSource {
            hw_config: Some(args.hw.display().to_string()),
            model_dir: Some(args.model.display().to_string()),
            out_dir: Some(args.out.join("rtl").display().to_string()),
        },
    )?;
    let table = match &args.energy_table {
        Some(path) => EnergyTable::from_yaml_file(path).context("cannot load the energy table")?,
        None => EnergyTable::default_45nm(),
    };
    let synthesis = if args.no_synth {
        None
    } else {
        let mut flows = Vec::new();
        for name in &args.synth_flows {
            let flow = SynthFlow::from_name(name.trim()).with_context(|| {
                format!("--synth-flows: unknown flow `{name}` (expected generic, xilinx, ice40)")
            })?;
            if !flows.contains(&flow) {
                flows.push(flow);
            }
        }
        if flows.is_empty() {
            bail!("--synth-flows is empty; name at least one flow or pass --no-synth");
        }
        Some(SynthOptions {
            flows,
            timeout: Duration::from_secs(args.synth_timeout),
            ..SynthOptions::default()
        })
    };

    // Real test images: the first N of the split; the split's size gives
    // the modeled whole-test-set figures. Synthetic images have no split and
    // no labels to score.
    let (images, labels, test_set_images, image_source, dataset) = if args.images == 0 {
        (Vec::new(), None, None, String::new(), None)
    } else {
        let loaded = args
            .data
            .load_for_report(&model, &args.model, args.images)?;
        (
            loaded.images,
            loaded.labels,
            loaded.test_set_images,
            loaded.source,
            Some(loaded.kind),
        )
    };

    let spinner = ProgressBar::new_spinner();
    spinner.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    // Stages go to stderr with or without --json (stdout is what --json changes).
    let quiet = false;
    let progress = |event: ProgressEvent| match event {
        ProgressEvent::Stage(message) => {
            if !quiet {
                spinner.suspend(|| eprintln!("{message}..."));
            }
            spinner.set_message(message);
        }
        ProgressEvent::ImageSimulated { done, total } => {
            spinner.set_message(format!("simulating on the RTL: {done}/{total} images"));
        }
        ProgressEvent::FlowDone { flow, seconds, ok } => {
            if !quiet {
                let status = if ok { "done" } else { "FAILED" };
                spinner.suspend(|| eprintln!("yosys {}: {status} in {seconds:.1} s", flow.name()));
            }
        }
    };
    let inputs = ReportInputs {
        design: &design,
        hw_config_origin: args.hw.display().to_string(),
        model: &model,
        model_origin: args.model.display().to_string(),
        images: &images,
        labels: labels.as_deref(),
        image_source: image_source.clone(),
        test_set_images,
        energy_table: &table,
        batch_sizes: args.batch.clone(),
        synthesis,
        threads: args
            .threads
            .map_or_else(crate::cli_hw::default_threads, |n| n as usize),
        progress: Some(&progress),
    };
    let built = report::build_report(&inputs);
    spinner.finish_and_clear();
    let report = built.context("cannot build the report")?;
    if let (Some(asked), Some(sim)) = (args.threads, &report.simulation) {
        if sim.threads as u64 != asked {
            eprintln!(
                "note: --threads {asked}: simulated on {} (at most one per image)",
                sim.threads
            );
        }
    }
    let written = report
        .write_dir(&args.out)
        .with_context(|| format!("cannot write the report to {}", args.out.display()))?;

    let headline = report.headline_throughput();
    let energy = &report.batch1().energy;
    let area = &report.area.summary;
    println!(
        "{} on {} ({}x{} at {} MHz)",
        report.model.name,
        report.design.config.name,
        report.design.config.rows,
        report.design.config.cols,
        report.design.config.clock_mhz
    );
    for note in &report.notes {
        println!("note: {note}");
    }
    if dataset.is_some_and(|kind| kind.is_synthetic()) {
        println!("note: simulated on {image_source}");
    }
    println!(
        "throughput  {:.0} images/s, {:.0} cycles/image, utilization {:.1}% [{}]",
        headline.images_per_s,
        headline.cycles_per_image,
        headline.utilization * 100.0,
        headline.basis
    );
    println!("passes      {}", report.slice_passes.sentence());
    if let Some(best) = report.batches.last().filter(|b| b.throughput.batch > 1) {
        println!(
            "            {:.0} images/s at batch {} [modeled]",
            best.throughput.images_per_s, best.throughput.batch
        );
    }
    println!(
        "energy      {:.2} uJ/image (low {:.2} - high {:.2}), {:.3} pJ/MAC, {:.3} TOPS/W (low {:.3} - high {:.3}) [modeled, {} rev {}]",
        energy.per_image_uj.typical,
        energy.per_image_uj.low,
        energy.per_image_uj.high,
        energy.pj_per_mac.typical,
        energy.tops_per_w.typical,
        energy.tops_per_w.low,
        energy.tops_per_w.high,
        report.energy_table.name,
        report.energy_table.revision
    );
    match report.area.status {
        "synthesized" | "partial" => println!(
            "area        {} generic cells, {} Xilinx LUTs / {} DSP48, {} iCE40 LUT4, ~{} mm^2 at 45 nm [{}, yosys]",
            show(area.cells),
            show(area.luts),
            show(area.dsps),
            show(area.ice40_lut4),
            area.area_mm2_estimate
                .map(|a| format!("{a:.2}"))
                .unwrap_or_else(|| "-".into()),
            report.area.status
        ),
        _ => println!(
            "area        {}",
            report.area.message.clone().unwrap_or_default()
        ),
    }
    println!(
        "wrote       {} files to {} (start with report.md)",
        written.len(),
        args.out.display()
    );
    if args.json {
        let mut summary = report.summary();
        summary["out"] = serde_json::Value::String(args.out.display().to_string());
        summary["images_requested"] = serde_json::json!(args.images);
        if let Some(kind) = dataset {
            summary["dataset"] = serde_json::json!(kind.name());
            if let datasets::Source::Synthetic { seed } = kind {
                summary["synthetic_seed"] = serde_json::json!(seed);
            }
        }
        println!("{summary}");
    }
    if let Some(simulation) = &report.simulation {
        if simulation.mismatches > 0 || !simulation.cycles_match_formula {
            bail!(
                "the RTL disagrees with golden or with the cycle formula (report written to {})",
                args.out.display()
            );
        }
    }
    Ok(())
}

fn show(value: Option<u64>) -> String {
    value.map_or_else(|| "-".into(), |v| v.to_string())
}

/// `--synth-timeout`: whole seconds, at least 1. 0 is refused rather than
/// read as "no limit": a flow without a limit can hang a report forever.
fn parse_synth_timeout(text: &str) -> Result<u64, String> {
    let seconds: u64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of seconds"))?;
    if seconds == 0 {
        return Err(
            "must be at least 1 second (each yosys flow is stopped after it); to skip synthesis pass --no-synth"
                .into(),
        );
    }
    Ok(seconds)
}
