//! `tandem flow`: the whole job in one command. Train (teacher + progressive
//! integer student) -> export -> generate the array's RTL for the model ->
//! run real test images through the RTL in Verilator against golden ->
//! throughput / energy / area report -> one summary saying where everything is.

use anyhow::{bail, Context, Result};
use clap::Args;
use datasets::{DatasetKind, Split};
use hwgen::HwConfig;
use report::{EnergyTable, ReportInputs, SynthOptions};
use serde::Deserialize;
use serde_json::json;
use sim::array::{ArrayOptions, ArraySim};
use std::path::{Path, PathBuf};
use std::time::Instant;
use trainer::TrainConfig;

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Flow config (YAML): which training config, which hardware config, how
    /// many images to simulate. Default: configs/flow-quick.yaml.
    #[arg(long, default_value = "configs/flow-quick.yaml")]
    config: PathBuf,
    /// Output directory: train/, hw/, sim.json, report/, flow.json.
    #[arg(long)]
    out: PathBuf,
    /// End stdout with one JSON object summarizing the flow.
    #[arg(long)]
    json: bool,
}

/// `configs/flow-*.yaml`. Paths are relative to the current directory, or
/// failing that to the flow config's own directory.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowConfig {
    /// Training config (configs/train-*.yaml).
    train: PathBuf,
    /// Hardware config (configs/hw-*.yaml); sized for the trained model.
    hw: PathBuf,
    /// Test images to run through the whole network on the RTL.
    #[serde(default = "default_sim_images")]
    sim_images: usize,
    /// Test images the report simulates (its measured figures).
    #[serde(default = "default_report_images")]
    report_images: usize,
    /// Run yosys for the area figures.
    #[serde(default = "default_true")]
    synth: bool,
    /// Energy table (default: the built-in configs/energy-45nm.yaml).
    #[serde(default)]
    energy_table: Option<PathBuf>,
}

fn default_sim_images() -> usize {
    8
}
fn default_report_images() -> usize {
    2
}
fn default_true() -> bool {
    true
}

fn resolve(path: &Path, config_file: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        return path.to_path_buf();
    }
    let beside = config_file
        .parent()
        .map(|dir| dir.join(path))
        .unwrap_or_else(|| path.to_path_buf());
    if beside.exists() {
        beside
    } else {
        path.to_path_buf()
    }
}

fn load_flow_config(path: &Path) -> Result<FlowConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the flow config {}", path.display()))?;
    let mut config: FlowConfig = serde_norway::from_str(&text)
        .with_context(|| format!("{}: not a valid flow config", path.display()))?;
    config.train = resolve(&config.train, path);
    config.hw = resolve(&config.hw, path);
    config.energy_table = config.energy_table.map(|t| resolve(&t, path));
    if config.sim_images == 0 {
        bail!(
            "{}: sim_images = 0: the flow must run at least one image on the RTL",
            path.display()
        );
    }
    Ok(config)
}

fn step(json: bool, message: &str) {
    if !json {
        eprintln!("\n== {message}");
    }
}

pub fn run_flow(args: FlowArgs) -> Result<()> {
    let started = Instant::now();
    let flow = load_flow_config(&args.config)?;
    // Check every input before the long training run.
    let mut train_config = TrainConfig::from_yaml_file(&flow.train, None)
        .with_context(|| format!("flow config {}: field `train`", args.config.display()))?;
    let train_dir = args.out.join("train");
    train_config.out = Some(train_dir.clone());
    train_config.validate()?;
    let hw_config = HwConfig::from_yaml_file(&flow.hw)
        .with_context(|| format!("flow config {}: field `hw`", args.config.display()))?;
    let energy_table = match &flow.energy_table {
        Some(path) => EnergyTable::from_yaml_file(path).context("cannot load the energy table")?,
        None => EnergyTable::default_45nm(),
    };
    if !sim::verilator_available() {
        bail!(
            "verilator is not on PATH: run `make setup` (Debian/Ubuntu: apt-get install verilator)"
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;

    // 1. Train and export.
    step(
        args.json,
        "1/4 train: BN teacher, progressive integer student, export, verify against golden",
    );
    let trained = trainer::train(&train_config, !args.json)?;
    if trained.logit_mismatches > 0 {
        bail!(
            "the trainer's integer forward and golden disagree on {} logits",
            trained.logit_mismatches
        );
    }
    let model = golden::io::load(&trained.model_dir).context("cannot load the exported model")?;

    // 2. RTL sized for the model.
    step(
        args.json,
        "2/4 hwgen: the array's Verilog, sized for the model",
    );
    let hw_dir = args.out.join("hw");
    let (sized, _) = crate::cli_hw::write_design(&hw_config, Some(&model), &hw_dir)?;

    // 3. Real images through the whole network on the RTL.
    step(
        args.json,
        &format!(
            "3/4 sim: {} test images through the RTL in Verilator, every layer against golden",
            flow.sim_images
        ),
    );
    let kind = DatasetKind::from_name(&train_config.dataset)?;
    let data = datasets::load(
        kind,
        Split::Test,
        train_config.data_dir.as_deref(),
        Some(flow.sim_images),
    )
    .context("cannot load the dataset")?;
    let images: Vec<Vec<i32>> = (0..data.len())
        .map(|i| data.image(i).iter().map(|&p| i32::from(p)).collect())
        .collect();
    let mut array =
        ArraySim::new(&sized, &ArrayOptions::default()).context("cannot build the simulation")?;
    let run = sim::network::run_network(&mut array, &model, &images, |_| {})
        .context("the RTL simulation failed")?;
    let (rows, cols) = (sized.rows, sized.cols);
    let correct = run.correct(&data.labels);
    let layers: Vec<serde_json::Value> = run
        .layers
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "macs": l.macs,
                "cycles": l.cycles,
                "model_cycles": l.model_cycles,
                "utilization": l.utilization(rows, cols),
                "mismatches": l.mismatches,
            })
        })
        .collect();
    let sim_json = json!({
        "images": images.len(),
        "mismatches": run.mismatches(),
        "total_cycles": run.total_cycles(),
        "total_model_cycles": run.total_model_cycles(),
        "predictions": run.predictions,
        "labels": data.labels,
        "correct": correct,
        "layers": layers,
        "config": sized.name,
    });
    let sim_path = args.out.join("sim.json");
    std::fs::write(&sim_path, serde_json::to_string_pretty(&sim_json)?)
        .with_context(|| format!("cannot write {}", sim_path.display()))?;
    if run.mismatches() > 0 {
        bail!(
            "the RTL disagrees with golden ({} values; first: {})",
            run.mismatches(),
            run.first_mismatch.clone().unwrap_or_default()
        );
    }

    // 4. Throughput, energy, area.
    step(args.json, "4/4 report: throughput, energy, area");
    let report_images: Vec<Vec<i32>> = images.iter().take(flow.report_images).cloned().collect();
    let report_labels: Vec<u8> = data
        .labels
        .iter()
        .take(report_images.len())
        .copied()
        .collect();
    let mut inputs = ReportInputs::new(&hw_config, &model, &energy_table);
    inputs.hw_config_origin = flow.hw.display().to_string();
    inputs.model_origin = trained.model_dir.display().to_string();
    inputs.images = &report_images;
    inputs.labels = Some(&report_labels);
    inputs.image_source = format!(
        "{} test split, images 0..{}",
        kind.name(),
        report_images.len()
    );
    inputs.test_set_images = Some(trained.test_images as u64);
    inputs.synthesis = flow.synth.then(SynthOptions::default);
    let built = report::build_report(&inputs).context("cannot build the report")?;
    let report_dir = args.out.join("report");
    built
        .write_dir(&report_dir)
        .with_context(|| format!("cannot write the report to {}", report_dir.display()))?;
    let report_summary = built.summary();

    let seconds = started.elapsed().as_secs_f64();
    let summary = json!({
        "teacher_accuracy": trained.teacher_accuracy,
        "bn_free_float_accuracy": trained.bn_free_float_accuracy,
        "ptq_accuracy": trained.ptq_accuracy,
        "student_accuracy": trained.student_accuracy,
        "logit_mismatches": trained.logit_mismatches,
        "rtl_images": images.len(),
        "rtl_mismatches": run.mismatches(),
        "rtl_correct": correct,
        "cycles_per_image": run.total_cycles() as f64 / images.len() as f64,
        "layers": layers,
        "report": report_summary,
        "seconds": seconds,
        "artifacts": {
            "model": trained.model_dir,
            "teacher": trained.teacher_dir,
            "train_summary": train_dir.join("summary.json"),
            "rtl": hw_dir,
            "sim": sim_path,
            "report": report_dir.join("report.md"),
        },
    });
    let flow_path = args.out.join("flow.json");
    std::fs::write(&flow_path, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("cannot write {}", flow_path.display()))?;

    if args.json {
        println!("{summary}");
        return Ok(());
    }
    let pct = |v: f64| format!("{:.2}%", v * 100.0);
    println!();
    println!(
        "tandem flow: {} W{}A{} (first/last weights {} bits), width {}, done in {:.0} s",
        trained.dataset,
        trained.w_bits,
        trained.a_bits,
        trained.first_last_w_bits,
        trained.width,
        seconds
    );
    println!(
        "  accuracy     teacher {} | BN-free float {} | naive PTQ {} | progressive integer student {} (golden, {} test images)",
        pct(trained.teacher_accuracy),
        pct(trained.bn_free_float_accuracy),
        pct(trained.ptq_accuracy),
        pct(trained.student_accuracy),
        trained.test_images
    );
    println!(
        "  RTL          {} images on {} ({rows}x{cols}): {} mismatches against golden, {}/{} correct",
        images.len(),
        sized.name,
        run.mismatches(),
        correct,
        images.len()
    );
    println!(
        "  {:<8} {:>12} {:>12} {:>12} {:>8}",
        "layer", "MACs/img", "cycles/img", "model", "util"
    );
    let per_image = images.len() as u64;
    for layer in run.layers.iter().filter(|l| l.on_rtl()) {
        println!(
            "  {:<8} {:>12} {:>12} {:>12} {:>7.1}%",
            layer.name,
            layer.macs / per_image,
            layer.cycles / per_image,
            layer.model_cycles / per_image,
            layer.utilization(rows, cols) * 100.0
        );
    }
    let energy = &built.batch1().energy;
    let area = &built.area.summary;
    let headline = built.headline_throughput();
    println!(
        "  throughput   {:.0} images/s at {} MHz, {:.0} cycles/image, utilization {:.1}% [{}]",
        headline.images_per_s,
        sized.clock_mhz,
        headline.cycles_per_image,
        headline.utilization * 100.0,
        headline.basis
    );
    println!(
        "  energy       {:.1} uJ/image (low {:.1} - high {:.1}), {:.3} TOPS/W (low {:.3} - high {:.3}) [modeled, {}]",
        energy.per_image_uj.typical,
        energy.per_image_uj.low,
        energy.per_image_uj.high,
        energy.tops_per_w.typical,
        energy.tops_per_w.low,
        energy.tops_per_w.high,
        built.energy_table.name
    );
    match (area.cells, area.luts) {
        (Some(cells), Some(luts)) => {
            println!("  area         {cells} generic cells, {luts} Xilinx LUTs [yosys]")
        }
        _ => println!("  area         not synthesized ({})", built.area.status),
    }
    println!("  artifacts");
    println!("    integer model   {}", trained.model_dir.display());
    println!("    teacher         {}", trained.teacher_dir.display());
    println!("    RTL             {}", hw_dir.display());
    println!("    simulation      {}", sim_path.display());
    println!(
        "    report          {}",
        report_dir.join("report.md").display()
    );
    println!("    summary         {}", flow_path.display());
    Ok(())
}
