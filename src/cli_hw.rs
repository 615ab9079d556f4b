//! `tandem hwgen` and `tandem sim ...`: generate the array's RTL, and run it
//! in Verilator against golden.

use crate::exit::usage;
use crate::progress;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use golden::model::Model;
use hwgen::{Design, DesignSource, HwConfig};
use serde_json::json;
use sim::array::{ArrayOptions, ArraySim};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// `--trace` accepts exactly the formats the bridge writes (listed in --help).
fn trace_parser() -> impl clap::builder::TypedValueParser<Value = sim::TraceFormat> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(sim::TraceFormat::NAMES)
        .map(|name| name.parse::<sim::TraceFormat>().expect("a listed format"))
}

/// Waveform options of the simulation commands.
#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Dump a waveform: vcd or fst. Written to --trace-out, else to
    /// $TANDEM_TRACE_DIR/<design>.<format>, else ./tandem-traces/<design>.<format>.
    #[arg(long, value_parser = trace_parser())]
    trace: Option<sim::TraceFormat>,
    /// Waveform file; its extension (.vcd or .fst) implies --trace.
    #[arg(long)]
    trace_out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HwgenArgs {
    /// Hardware config (YAML), e.g. configs/hw-16x16-w4a4.yaml.
    #[arg(long)]
    hw: PathBuf,
    /// Resolve the config for this model (every width widened to what its
    /// layers need, each change printed and recorded in hw.yaml) and emit its
    /// per-layer biases and shifts as $readmemh images.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output directory: created, or an earlier design there replaced as a
    /// whole (a directory with other files is refused).
    #[arg(long)]
    out: PathBuf,
    /// End stdout with one JSON line: {"out", "hw": {rows, cols, a_bits,
    /// w_bits, acc_bits, shift_bits, acc_depth, changes, widths}, "files", ...}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
#[command(
    after_help = "Built models are cached in $TANDEM_SIM_CACHE, else $XDG_CACHE_HOME/tandem/verilator, else ~/.cache/tandem/verilator; delete that directory to reclaim space."
)]
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
    /// tiling); max-pool and flatten run on the host. The config is resolved
    /// for the model first, exactly as `tandem hwgen --model` does: a width
    /// the model needs (e.g. 8-bit image input on a W4A4 array) is widened
    /// and each change is printed as a note and listed in the JSON `hw` object.
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
    #[command(flatten)]
    trace: TraceArgs,
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
    /// Simulate on this many verilated instances in parallel, each running
    /// its share of the image groups (default: every core). Results and
    /// cycle counts are identical to one thread; --trace uses one.
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    trace: TraceArgs,
    /// End with one JSON line: {"mismatches", "images", "layers", "total_cycles", ...}.
    #[arg(long)]
    json: bool,
}

fn load_hw(path: &Path) -> Result<HwConfig> {
    // The library's message names the file; no extra context.
    Ok(HwConfig::from_yaml_file(path)?)
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

/// Resolve `config` for `model` once, with the paths for the banner, and
/// print every change on stderr (also with --json).
pub fn resolve_design(
    config: &HwConfig,
    model: Option<&Model>,
    source: DesignSource,
) -> Result<Design> {
    let design = hwgen::resolve(config, model)
        .context("cannot resolve the hardware config")?
        .with_source(source);
    for change in &design.changes {
        eprintln!("note: {}: {change}", design.config.name);
    }
    Ok(design)
}

fn path_string(path: &Path) -> Option<String> {
    Some(path.display().to_string())
}

pub fn run_hwgen(args: HwgenArgs) -> Result<()> {
    let config = load_hw(&args.hw)?;
    let model = args.model.as_deref().map(load_model).transpose()?;
    let source = DesignSource {
        hw_config: path_string(&args.hw),
        model_dir: args.model.as_deref().and_then(path_string),
        out_dir: path_string(&args.out),
    };
    let design = resolve_design(&config, model.as_ref(), source)?;
    let names = hwgen::write_design(&design, model.as_ref(), &args.out)?;
    let config = &design.config;
    println!("design  {} ({})", config.name, config.summary());
    if let Some(model) = &model {
        println!(
            "model   {}: resolved for it ({} changes); biases and shifts in <layer>_{{bias,shift}}.memh",
            model.name,
            design.changes.len()
        );
    }
    println!("wrote   {} files to {}", names.len(), args.out.display());
    println!();
    println!("next steps (from {}):", args.out.display());
    for check in hwgen::TOOL_CHECKS {
        println!("  {}", check.command_line());
    }
    println!("  interface and schedule: README.md there, docs/hardware.md here");
    if args.json {
        println!(
            "{}",
            json!({
                "out": args.out.display().to_string(),
                "hw": design.summary(),
                "model": model.as_ref().map(|m| m.name.clone()),
                "files": names,
                "top": hwgen::TOP_MODULE,
            })
        );
    }
    Ok(())
}

pub fn run_sim(command: SimCommand) -> Result<()> {
    match command {
        SimCommand::Gemm(args) => run_sim_gemm(args),
        SimCommand::Network(args) => run_sim_network(args),
    }
}

/// The waveform format: `--trace`, or implied by `--trace-out`'s extension
/// (.vcd / .fst); a `--trace-out` that names neither is refused.
fn trace_format(
    trace: Option<sim::TraceFormat>,
    trace_out: Option<&Path>,
) -> Result<Option<sim::TraceFormat>> {
    let Some(path) = trace_out else {
        return Ok(trace);
    };
    if trace.is_some() {
        return Ok(trace);
    }
    match sim::TraceFormat::from_path(path) {
        Some(format) => Ok(Some(format)),
        None => Err(usage(format!(
            "--trace-out {}: cannot tell the waveform format from the file name; name it .vcd or .fst, or pass --trace vcd|fst",
            path.display()
        ))),
    }
}

/// The simulation options of `trace`; a waveform without an explicit path
/// goes to `sim::trace_dir()/<design>.<ext>`, named here so it can be printed.
fn array_options(design: &Design, trace: &TraceArgs) -> Result<ArrayOptions> {
    let trace_out = trace.trace_out.clone();
    let format = trace_format(trace.trace, trace_out.as_deref())?;
    let trace_path = format
        .map(|format| trace_out.unwrap_or_else(|| sim::array::default_trace_path(design, format)));
    Ok(ArrayOptions {
        trace: format,
        trace_path,
    })
}

/// Verilate `design` (cached) with `options`, saying so on stderr.
fn build_array(design: &Design, options: &ArrayOptions) -> Result<ArraySim> {
    require_verilator()?;
    eprintln!(
        "building {} with Verilator (cached after the first time)...",
        design.config.name
    );
    let started = Instant::now();
    let array = ArraySim::new(design, options).context("cannot build the simulation")?;
    eprintln!("ready in {:.1} s", started.elapsed().as_secs_f64());
    if let Some(path) = array.trace_path() {
        eprintln!("waveform: {}", path.display());
    }
    Ok(array)
}

fn array_for(design: &Design, trace: &TraceArgs) -> Result<ArraySim> {
    build_array(design, &array_options(design, trace)?)
}

fn run_sim_gemm(args: SimGemmArgs) -> Result<()> {
    let config = load_hw(&args.hw)?;
    if args.random == 0 {
        return Err(usage(
            "--random 0 runs nothing; pass the number of random GEMMs (e.g. --random 20)",
        ));
    }
    let design = resolve_design(&config, None, DesignSource::default())?;
    let mut array = array_for(&design, &args.trace)?;
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
        "{}: {} random GEMMs ({} in operand-slice passes), {} values compared, {} mismatches",
        config.name, check.cases, check.sliced_cases, check.values, check.mismatches
    );
    println!(
        "cycles: {} measured, {} from the schedule formula; {} MACs, utilization {:.1}%; {:.0} simulated cycles/s in {seconds:.1} s",
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
                "hw": design.summary(),
                "mismatches": check.mismatches,
                "cases": check.cases,
                "sliced_cases": check.sliced_cases,
                "cycles": check.cycles,
                "model_cycles": check.model_cycles,
                "values": check.values,
                "macs": check.macs,
                "utilization": utilization,
                "seed": args.seed,
                "seconds": seconds,
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
    if args.images == 0 {
        return Err(usage("--images 0 runs nothing; pass at least 1"));
    }
    if args.batch == 0 {
        return Err(usage(
            "--batch must be at least 1 (1 = one image at a time)",
        ));
    }
    let model = load_model(&args.model)?;
    let config = load_hw(&args.hw)?;
    let design = resolve_design(&config, Some(&model), DesignSource::default())?;
    let data = args
        .data
        .load_test_for(&model, &args.model, Some(args.images))?;
    let kind = data.kind;
    let images: Vec<Vec<i32>> = (0..data.len())
        .map(|i| data.image(i).iter().map(|&p| i32::from(p)).collect())
        .collect();
    if args.threads == Some(0) {
        return Err(usage("--threads must be at least 1"));
    }
    let threads = args.threads.unwrap_or_else(default_threads);
    let options = array_options(&design, &args.trace)?;
    // Verilate once (cached) before the instances start.
    drop(build_array(&design, &ArrayOptions::default())?);
    if let Some(path) = &options.trace_path {
        eprintln!("waveform: {} (one thread while tracing)", path.display());
    }
    let used =
        sim::network::parallel_threads(images.len(), args.batch, threads, options.trace.is_some());
    if let Some(asked) = args.threads.filter(|&asked| asked != used) {
        let why = if options.trace.is_some() {
            "one waveform needs one instance"
        } else {
            "at most one per group of --batch images"
        };
        eprintln!("note: --threads {asked}: simulating on {used} ({why})");
    }
    let bar = progress::bar(images.len() as u64, "images");
    let started = Instant::now();
    let run = sim::network::run_network_parallel(
        &design,
        &options,
        &model,
        &images,
        args.batch,
        threads,
        |_| bar.inc(1),
    )
    .context("the simulation failed")?;
    let seconds = started.elapsed().as_secs_f64();
    bar.finish();
    // Labels to score against: none for synthetic images (their labels are
    // meaningless), so no accuracy is reported on them.
    let no_accuracy = crate::cli_model::no_accuracy_reason(&data);
    let labels = data.u8_labels().unwrap_or_default();
    let summary = sim::network::NetworkSummary::new(&design, &run, labels, args.batch);
    print_network_table(
        &design,
        &model,
        &summary,
        &crate::cli_model::images_phrase(&data),
        no_accuracy,
    );
    println!(
        "simulated {} cycles in {seconds:.1} s on {used} thread{} ({:.0} cycles/s)",
        run.total_cycles(),
        if used == 1 { "" } else { "s" },
        run.total_cycles() as f64 / seconds.max(1e-9)
    );
    if let Some(first) = &run.first_mismatch {
        println!("first mismatch: {first}");
        match &options.trace_path {
            Some(path) => println!("waveform: {}", path.display()),
            None => println!("rerun with --trace vcd for a waveform"),
        }
    }
    if args.json {
        // What was asked for beside what ran: a clamped --images is never silent.
        let mut value = serde_json::to_value(&summary)?;
        value["dataset"] = json!(kind.name());
        if let datasets::Source::Synthetic { seed } = kind {
            value["synthetic_seed"] = json!(seed);
        }
        if no_accuracy.is_some() {
            value["accuracy"] = serde_json::Value::Null;
            value["correct"] = serde_json::Value::Null;
            value["labels"] = serde_json::Value::Null;
        }
        value["images_requested"] = json!(args.images);
        value["threads"] = json!(used);
        value["threads_requested"] = json!(threads);
        value["seconds"] = json!(seconds);
        println!("{value}");
    }
    if run.mismatches() > 0 || run.total_cycles() != run.total_model_cycles() {
        bail!("the RTL disagrees with golden");
    }
    Ok(())
}

/// Threads a simulation runs on when `--threads` is not given: all cores.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The per-layer table and totals of `sim network`.
fn print_network_table(
    design: &Design,
    model: &Model,
    summary: &sim::network::NetworkSummary,
    images: &str,
    no_accuracy: Option<&str>,
) {
    let config = &design.config;
    println!(
        "{} on {} ({}x{} array of {}-bit x {}-bit PEs), {} {images} in groups of {}, figures summed over all images:",
        model.name,
        config.name,
        config.rows,
        config.cols,
        config.a_bits,
        config.w_bits,
        summary.images,
        summary.batch
    );
    println!(
        "{:<8} {:<9} {:>16} {:>12} {:>6} {:>12} {:>12} {:>8} {:>10}",
        "layer", "kind", "GEMM MxKxN", "MACs", "passes", "cycles", "model", "util", "mismatch"
    );
    for layer in &summary.layers {
        let stats = &layer.stats;
        let gemm = stats
            .gemm
            .map(|g| format!("{}x{}x{}", g.m, g.k, g.n))
            .unwrap_or_else(|| "host".into());
        let passes = if layer.on_rtl {
            stats.passes.to_string()
        } else {
            "-".into()
        };
        println!(
            "{:<8} {:<9} {:>16} {:>12} {:>6} {:>12} {:>12} {:>7.1}% {:>10}",
            stats.name,
            stats.kind,
            gemm,
            stats.macs,
            passes,
            stats.cycles,
            stats.model_cycles,
            layer.utilization * 100.0,
            stats.mismatches
        );
    }
    println!(
        "total: {} cycles measured, {} from the schedule formula, utilization {:.1}%, {:.0} per image ({:.0} images/s at {} MHz)",
        summary.total_cycles,
        summary.total_model_cycles,
        summary.utilization * 100.0,
        summary.cycles_per_image,
        config.clock_mhz * 1e6 / summary.cycles_per_image.max(1e-9),
        config.clock_mhz
    );
    match no_accuracy {
        None => println!(
            "mismatches against golden: {}; RTL predictions {:?}; accuracy {}/{} = {:.1}%",
            summary.mismatches,
            summary.predictions,
            summary.correct,
            summary.images,
            summary.accuracy * 100.0
        ),
        Some(reason) => println!(
            "mismatches against golden: {}; RTL predictions {:?}; {reason}",
            summary.mismatches, summary.predictions
        ),
    }
}
