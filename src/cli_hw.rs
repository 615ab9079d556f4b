//! `tandem hwgen` and `tandem sim ...`: generate the array's RTL, and run it
//! in Verilator against golden.

use crate::progress;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use golden::model::Model;
use hwgen::HwConfig;
use serde_json::json;
use sim::array::{ArrayOptions, ArraySim};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct HwgenArgs {
    /// Hardware config (YAML), e.g. configs/hw-16x16-w4a4.yaml.
    #[arg(long)]
    hw: PathBuf,
    /// Size the datapath for this model (widest activation and weight, largest
    /// K) and emit its per-layer biases and shifts as $readmemh images.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output directory (created; files with the same names are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object describing what was written.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Random GEMMs on the RTL against the integer contract.
    ///
    /// Shapes are random up to about three tiles per dimension (K not a
    /// multiple of rows, N not a multiple of cols, M over the accumulator
    /// depth), with negative and saturating accumulators, bypass (logits)
    /// cases and all-extreme operands. Every value must match and every
    /// result must appear in the cycle the schedule predicts.
    ///
    /// Example:
    ///   tandem sim gemm --hw configs/hw-8x8-w4a4.yaml --random 50 --seed 1
    #[command(verbatim_doc_comment)]
    Gemm(SimGemmArgs),
    /// Run real test images through a whole model on the RTL, layer by layer,
    /// comparing every layer with golden and counting cycles per layer.
    ///
    /// Conv and linear layers run on the array (the host does im2col and
    /// tiling); max-pool and flatten run on the host. If the config cannot
    /// take the model's widths (e.g. a W4A4 array and 8-bit image input) it
    /// is sized for the model first, as `tandem hwgen --model` does, with a note.
    ///
    /// Example:
    ///   tandem sim network --hw configs/hw-16x16-w4a4.yaml --model out/random-w4a4 --images 20
    #[command(verbatim_doc_comment)]
    Network(SimNetworkArgs),
}

#[derive(Debug, Args)]
pub struct SimGemmArgs {
    /// Hardware config (YAML).
    #[arg(long)]
    hw: PathBuf,
    /// Number of random GEMMs.
    #[arg(long, default_value_t = 20)]
    random: usize,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Dump a waveform (vcd or fst) under target/tandem-traces/ (or --trace-out).
    #[arg(long)]
    trace: Option<sim::TraceFormat>,
    /// Waveform file path.
    #[arg(long)]
    trace_out: Option<PathBuf>,
    /// End with one JSON line: {"mismatches", "cases", "cycles", ...}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct SimNetworkArgs {
    /// Hardware config (YAML).
    #[arg(long)]
    hw: PathBuf,
    /// Model directory.
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: crate::cli_model::DataArgs,
    /// Number of test images (the first N of the test split).
    #[arg(long, default_value_t = 4)]
    images: usize,
    /// Images per GEMM: each compute layer runs one GEMM per group of this
    /// many images with their rows stacked (M = batch x pixels), so weight
    /// tiles are loaded once per group. 1 = one image at a time.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Dump a waveform (vcd or fst) under target/tandem-traces/ (or --trace-out).
    #[arg(long)]
    trace: Option<sim::TraceFormat>,
    /// Waveform file path.
    #[arg(long)]
    trace_out: Option<PathBuf>,
    /// End with one JSON line: {"mismatches", "images", "layers", "total_cycles", ...}.
    #[arg(long)]
    json: bool,
}

fn load_hw(path: &Path) -> Result<HwConfig> {
    HwConfig::from_yaml_file(path).context("cannot load the hardware config")
}

fn load_model(dir: &Path) -> Result<Model> {
    golden::io::load(dir).context("cannot load the model")
}

fn require_verilator() -> Result<()> {
    if !sim::verilator_available() {
        bail!("verilator is not on PATH: run `make setup` (Debian/Ubuntu: apt-get install verilator) and try again");
    }
    Ok(())
}

/// Generate the design for `config` into `out`: the Verilog, `files.f`,
/// `synth.ys`, README and the resolved `hw.yaml`. With a model, the config is
/// first sized for it and its biases and shifts are written as `$readmemh`
/// images. Returns the config the files describe and the files' names.
pub fn write_design(
    config: &HwConfig,
    model: Option<&Model>,
    out: &Path,
) -> Result<(HwConfig, Vec<String>)> {
    let config = match model {
        Some(model) => hwgen::sizing::size_for_model(config, model)
            .context("cannot size the hardware config for the model")?,
        None => config.clone(),
    };
    let mut files = hwgen::generate(&config);
    files.push(hwgen::GeneratedFile {
        path: "hw.yaml".into(),
        contents: format!(
            "# The resolved hardware config these files were generated from.\n{}",
            config.to_yaml_string()
        ),
    });
    if let Some(model) = model {
        files.extend(hwgen::memimage::requant_images(model));
    }
    hwgen::write_files(&files, out)
        .with_context(|| format!("cannot write to {}", out.display()))?;
    Ok((config, files.into_iter().map(|f| f.path).collect()))
}

pub fn run_hwgen(args: HwgenArgs) -> Result<()> {
    let config = load_hw(&args.hw)?;
    let model = args.model.as_deref().map(load_model).transpose()?;
    let model_name = model.as_ref().map(|m| m.name.clone());
    let (config, names) = write_design(&config, model.as_ref(), &args.out)?;
    if args.json {
        println!(
            "{}",
            json!({
                "out": args.out.display().to_string(),
                "config": config.name,
                "summary": config.summary(),
                "model": model_name,
                "files": names,
                "top": hwgen::TOP_MODULE,
            })
        );
        return Ok(());
    }
    println!("config  {} ({})", config.name, config.summary());
    if let Some(name) = model_name {
        println!("sized   for model {name}; biases and shifts in <layer>_{{bias,shift}}.memh");
    }
    println!("wrote   {} files to {}", names.len(), args.out.display());
    println!();
    println!("next steps (from {}):", args.out.display());
    println!(
        "  verilator --lint-only -Wall -f files.f --top-module {}",
        hwgen::TOP_MODULE
    );
    println!("  iverilog -g2005 -c files.f -o /dev/null");
    println!("  yosys -q synth.ys");
    println!("  interface and schedule: README.md there, docs/hardware.md here");
    Ok(())
}

pub fn run_sim(command: SimCommand) -> Result<()> {
    match command {
        SimCommand::Gemm(args) => run_sim_gemm(args),
        SimCommand::Network(args) => run_sim_network(args),
    }
}

fn array_for(
    config: &HwConfig,
    trace: Option<sim::TraceFormat>,
    trace_out: Option<PathBuf>,
    quiet: bool,
) -> Result<ArraySim> {
    require_verilator()?;
    if !quiet {
        eprintln!(
            "building {} with Verilator (cached after the first time)...",
            config.name
        );
    }
    let started = Instant::now();
    let array = ArraySim::new(
        config,
        &ArrayOptions {
            trace,
            trace_path: trace_out,
        },
    )
    .context("cannot build the simulation")?;
    if !quiet {
        eprintln!("ready in {:.1} s", started.elapsed().as_secs_f64());
        if let Some(path) = array.trace_path() {
            eprintln!("waveform: {}", path.display());
        }
    }
    Ok(array)
}

fn run_sim_gemm(args: SimGemmArgs) -> Result<()> {
    let config = load_hw(&args.hw)?;
    if args.random == 0 {
        bail!("--random 0 runs nothing; pass the number of random GEMMs (e.g. --random 20)");
    }
    let mut array = array_for(&config, args.trace, args.trace_out.clone(), args.json)?;
    let bar = progress::bar(args.random as u64, "GEMMs");
    let started = Instant::now();
    let check =
        sim::gemm_check::check_random_gemms(&mut array, args.random, args.seed, |_| bar.inc(1))
            .context("the simulation failed")?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish();
    let utilization =
        check.macs as f64 / (check.cycles.max(1) as f64 * config.rows as f64 * config.cols as f64);
    println!(
        "{}: {} random GEMMs, {} values compared, {} mismatches",
        config.name, check.cases, check.values, check.mismatches
    );
    println!(
        "cycles: {} measured, {} from the schedule formula; {} MACs, utilization {:.1}%; {:.0} simulated cycles/s",
        check.cycles,
        check.model_cycles,
        check.macs,
        utilization * 100.0,
        check.cycles as f64 / seconds.max(1e-9)
    );
    if let Some(first) = &check.first_mismatch {
        println!("first mismatch: {first}");
        if let Some(path) = array.trace_path() {
            println!("waveform: {}", path.display());
        } else {
            println!("rerun with --trace vcd for a waveform");
        }
    }
    if args.json {
        println!(
            "{}",
            json!({
                "mismatches": check.mismatches,
                "cases": check.cases,
                "cycles": check.cycles,
                "model_cycles": check.model_cycles,
                "values": check.values,
                "macs": check.macs,
                "utilization": utilization,
                "config": config.name,
                "seed": args.seed,
            })
        );
    }
    if check.mismatches > 0 || check.cycles != check.model_cycles {
        bail!("the RTL disagrees with the integer contract");
    }
    Ok(())
}

fn run_sim_network(args: SimNetworkArgs) -> Result<()> {
    args.data.check()?;
    let model = load_model(&args.model)?;
    let mut config = load_hw(&args.hw)?;
    if args.images == 0 {
        bail!("--images 0 runs nothing; pass at least 1");
    }
    if args.batch == 0 {
        bail!("--batch must be at least 1 (1 = one image at a time)");
    }
    let problems = hwgen::sizing::unsupported_layers(&config, &model);
    if !problems.is_empty() {
        let sized = hwgen::sizing::size_for_model(&config, &model)
            .context("cannot size the hardware config for the model")?;
        if !args.json {
            eprintln!(
                "note: {} cannot run this model as is ({}); simulating it sized for the model: a_bits={} w_bits={} acc_bits={} (as `tandem hwgen --model` generates)",
                config.name,
                problems[0],
                sized.a_bits,
                sized.w_bits,
                sized.acc_bits_resolved()
            );
        }
        config = sized;
    }
    let data = args
        .data
        .load_test_for(&model, &args.model, Some(args.images))?;
    let kind = data.kind;
    let images: Vec<Vec<i32>> = (0..data.len())
        .map(|i| data.image(i).iter().map(|&p| p as i32).collect())
        .collect();
    let mut array = array_for(&config, args.trace, args.trace_out.clone(), args.json)?;
    let bar = progress::bar(images.len() as u64, "images");
    let started = Instant::now();
    let run =
        sim::network::run_network_batched(&mut array, &model, &images, args.batch, |_| bar.inc(1))
            .context("the simulation failed")?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish();

    let (rows, cols) = (config.rows, config.cols);
    let correct = run.correct(&data.labels);
    let accuracy = correct as f64 / images.len() as f64;
    let layers_json: Vec<serde_json::Value> = run
        .layers
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "kind": l.kind,
                "on_rtl": l.on_rtl(),
                "macs": l.macs,
                "cycles": l.cycles,
                "model_cycles": l.model_cycles,
                "utilization": l.utilization(rows, cols),
                "mismatches": l.mismatches,
                "gemm": l.gemm.map(|g| json!({"m": g.m, "k": g.k, "n": g.n})),
            })
        })
        .collect();

    println!(
        "{} on {} ({}x{} array), {} {} test images in groups of {}, figures summed over all images:",
        model.name,
        config.name,
        rows,
        cols,
        images.len(),
        kind.name(),
        args.batch
    );
    println!(
        "{:<8} {:<9} {:>16} {:>12} {:>12} {:>12} {:>8} {:>10}",
        "layer", "kind", "GEMM MxKxN", "MACs", "cycles", "model", "util", "mismatch"
    );
    for layer in &run.layers {
        let gemm = layer
            .gemm
            .map(|g| format!("{}x{}x{}", g.m, g.k, g.n))
            .unwrap_or_else(|| "host".into());
        println!(
            "{:<8} {:<9} {:>16} {:>12} {:>12} {:>12} {:>7.1}% {:>10}",
            layer.name,
            layer.kind,
            gemm,
            layer.macs,
            layer.cycles,
            layer.model_cycles,
            layer.utilization(rows, cols) * 100.0,
            layer.mismatches
        );
    }
    let total_macs: u64 = run.layers.iter().map(|l| l.macs).sum();
    println!(
        "total: {} cycles measured, {} from the schedule formula, utilization {:.1}%, {} per image ({:.0} images/s at {} MHz)",
        run.total_cycles(),
        run.total_model_cycles(),
        total_macs as f64 / (run.total_cycles().max(1) as f64 * rows as f64 * cols as f64) * 100.0,
        run.total_cycles() / images.len() as u64,
        config.clock_mhz * 1e6 / (run.total_cycles() as f64 / images.len() as f64),
        config.clock_mhz
    );
    println!(
        "mismatches against golden: {}; RTL predictions {:?}; accuracy {correct}/{} = {:.1}%",
        run.mismatches(),
        run.predictions,
        images.len(),
        accuracy * 100.0
    );
    println!(
        "simulated {} cycles in {seconds:.1} s ({:.0} cycles/s)",
        array.total_cycles(),
        array.total_cycles() as f64 / seconds.max(1e-9)
    );
    if let Some(first) = &run.first_mismatch {
        println!("first mismatch: {first}");
        match array.trace_path() {
            Some(path) => println!("waveform: {}", path.display()),
            None => println!("rerun with --trace vcd for a waveform"),
        }
    }
    if args.json {
        println!(
            "{}",
            json!({
                "mismatches": run.mismatches(),
                "images": images.len(),
                "layers": layers_json,
                "total_cycles": run.total_cycles(),
                "total_model_cycles": run.total_model_cycles(),
                "predictions": run.predictions,
                "labels": data.labels,
                "accuracy": accuracy,
                "config": config.name,
                "rows": rows,
                "cols": cols,
                "clock_mhz": config.clock_mhz,
                "batch": args.batch,
            })
        );
    }
    if run.mismatches() > 0 || run.total_cycles() != run.total_model_cycles() {
        bail!("the RTL disagrees with golden");
    }
    Ok(())
}
