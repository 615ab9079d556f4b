//! `tandem model ...` and `tandem eval`.

use crate::progress;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use datasets::{Dataset, DatasetKind, Split};
use golden::fast::FastModel;
use golden::model::{Model, Op, Output};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Generate a seeded random model with calibrated shifts (for hardware
    /// work without a trained network).
    ///
    /// Weights are uniform over the narrow signed range of --wbits; each
    /// hidden channel's bias and shift are calibrated on synthetic images so
    /// that activations neither die nor saturate. Same arguments, same bytes.
    ///
    /// Example:
    ///   tandem model random --topology alexnet-cifar --width 0.25 \
    ///       --in-channels 1 --wbits 4 --abits 4 --seed 1 --out out/random-w4a4
    #[command(verbatim_doc_comment)]
    Random(RandomArgs),
    /// Print a model's layers, shapes, bit-widths, MACs and accumulator widths.
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
pub struct RandomArgs {
    /// Topology preset: alexnet-cifar (32x32 input) or alexnet-imagenet (224x224).
    #[arg(long, default_value = "alexnet-cifar")]
    topology: String,
    /// Width multiplier applied to every hidden channel count (0 < w <= 4).
    #[arg(long, default_value_t = 1.0)]
    width: f64,
    /// Input channels: 1 for (Fashion-)MNIST, 3 for CIFAR-10.
    #[arg(long, default_value_t = 1)]
    in_channels: usize,
    /// Number of classes (default: 10 for alexnet-cifar, 1000 for alexnet-imagenet).
    #[arg(long)]
    classes: Option<usize>,
    /// Weight bits of every compute layer (2..=16).
    #[arg(long, default_value_t = 4)]
    wbits: u8,
    /// Activation bits of every hidden layer (1..=16).
    #[arg(long, default_value_t = 4)]
    abits: u8,
    /// Weight bits of the first and last compute layers, if different from --wbits.
    #[arg(long)]
    first_last_wbits: Option<u8>,
    /// Random seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output directory (created; existing model files in it are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object describing the model instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Model directory (holding model.yaml and model.safetensors).
    dir: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory (holding model.yaml and model.safetensors).
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Use only the first N test images.
    #[arg(long)]
    limit: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// End the output with one JSON line: {"accuracy", "images", "images_per_s", ...}.
    #[arg(long)]
    json: bool,
}

/// Which dataset's test split to use; shared by every command that reads images.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Dataset whose test split to use: fashion-mnist, mnist or cifar10.
    #[arg(long, default_value = "fashion-mnist")]
    pub dataset: String,
    /// Directory with the dataset files (default: /usr/share/datasets/<dataset>).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    /// The dataset named by `--dataset` (checked before any slow work).
    pub fn kind(&self) -> Result<DatasetKind> {
        DatasetKind::from_name(&self.dataset).context("invalid --dataset")
    }

    /// The first `limit` test images (all with `None`), checked against the
    /// input shape of the model in `model_dir`.
    pub fn load_test_for(
        &self,
        model: &Model,
        model_dir: &std::path::Path,
        limit: Option<usize>,
    ) -> Result<Dataset> {
        let kind = self.kind()?;
        let data = datasets::load(kind, Split::Test, self.data_dir.as_deref(), limit)
            .context("cannot load the dataset")?;
        if [data.channels, data.height, data.width] != model.input.to_array() {
            bail!(
                "{}: the model expects {} input images but {} images are {}x{}x{}; use a model made with --in-channels {} (and the alexnet-cifar topology)",
                model_dir.display(),
                model.input,
                kind.name(),
                data.channels,
                data.height,
                data.width,
                data.channels
            );
        }
        if model.classes() < kind.classes() {
            bail!(
                "{}: the model has {} classes but {} has {}",
                model_dir.display(),
                model.classes(),
                kind.name(),
                kind.classes()
            );
        }
        Ok(data)
    }
}

pub fn run_model(command: ModelCommand) -> Result<()> {
    match command {
        ModelCommand::Random(args) => run_random(args),
        ModelCommand::Inspect(args) => run_inspect(args),
    }
}

fn run_random(args: RandomArgs) -> Result<()> {
    let preset = Preset::from_name(&args.topology).map_err(anyhow::Error::msg)?;
    let classes = args.classes.unwrap_or(preset.default_classes());
    let topology = Topology::new(preset, args.width, args.in_channels, classes)
        .map_err(anyhow::Error::msg)
        .context("invalid --width, --in-channels or --classes")?;
    let bits = RandomBits {
        w_bits: args.wbits,
        a_bits: args.abits,
        first_last_w_bits: args.first_last_wbits,
    };
    let started = Instant::now();
    let model =
        random_model(&topology, bits, args.seed).context("cannot build the random model")?;
    golden::io::save(&model, &args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))?;
    if args.json {
        println!("{}", model_json(&model, &args.out));
    } else {
        println!(
            "wrote {} ({} layers, {:.1} M MACs/image) to {} in {:.2} s",
            model.name,
            model.layers().len(),
            model.total_macs() as f64 / 1e6,
            args.out.display(),
            started.elapsed().as_secs_f64()
        );
        println!(
            "inspect it with: tandem model inspect {}",
            args.out.display()
        );
    }
    Ok(())
}

fn load_model(dir: &std::path::Path) -> Result<Model> {
    golden::io::load(dir).context("cannot load the model")
}

fn layer_row(model: &Model, index: usize) -> serde_json::Value {
    let layer = &model.layers()[index];
    let mut row = json!({
        "name": layer.name,
        "kind": layer.op.kind_name(),
        "in_shape": model.input_shape(index).to_array(),
        "out_shape": model.output_shape(index).to_array(),
        "macs": model.layer_macs(index),
    });
    if let Some(gemm) = layer.gemm() {
        let params = gemm.params;
        row["k"] = json!(gemm.k);
        row["w_bits"] = json!(params.w_bits);
        row["in_bits"] = json!(params.in_bits);
        row["accumulator_bits"] = json!(model.accumulator_bits(index));
        match &params.output {
            Output::Requant { bits, shifts } => {
                row["output"] = json!("requant");
                row["out_bits"] = json!(bits);
                row["shift_min"] = json!(shifts.iter().min());
                row["shift_max"] = json!(shifts.iter().max());
            }
            Output::Logits => row["output"] = json!("logits"),
        }
    }
    match &layer.op {
        Op::Conv2d(conv) => {
            row["kernel"] = json!(conv.kernel);
            row["stride"] = json!(conv.stride);
            row["padding"] = json!(conv.padding);
        }
        Op::MaxPool2d(pool) => {
            row["kernel"] = json!([pool.kernel, pool.kernel]);
            row["stride"] = json!(pool.stride);
        }
        Op::Linear(_) | Op::Flatten => {}
    }
    row
}

fn model_json(model: &Model, dir: &std::path::Path) -> serde_json::Value {
    json!({
        "dir": dir.display().to_string(),
        "name": model.name,
        "topology": model.topology,
        "width": model.width,
        "input": model.input.to_array(),
        "input_bits": model.input_bits,
        "classes": model.classes(),
        "total_macs": model.total_macs(),
        "provenance": serde_json::to_value(&model.provenance).unwrap_or_default(),
        "layers": (0..model.layers().len()).map(|i| layer_row(model, i)).collect::<Vec<_>>(),
    })
}

fn run_inspect(args: InspectArgs) -> Result<()> {
    let model = load_model(&args.dir)?;
    if args.json {
        println!("{}", model_json(&model, &args.dir));
        return Ok(());
    }
    println!("model     {}", model.name);
    println!("topology  {} (width {})", model.topology, model.width);
    println!(
        "input     {} x {}-bit, {} classes",
        model.input,
        model.input_bits,
        model.classes()
    );
    let prov = &model.provenance;
    if let Some(by) = &prov.created_by {
        println!("made by   {by}");
    }
    if let Some(dataset) = &prov.dataset {
        println!("dataset   {dataset}");
    }
    if let Some(seed) = prov.seed {
        println!("seed      {seed}");
    }
    if let Some(accuracy) = prov.accuracy {
        println!("accuracy  {:.2}%", accuracy * 100.0);
    }
    for (key, value) in &prov.notes {
        println!("note      {key}: {value}");
    }
    println!();
    println!(
        "{:<8} {:<9} {:>11} {:>11} {:>6} {:>5} {:>5} {:>8} {:>6} {:>12} {:>4}",
        "layer", "kind", "in", "out", "K", "w", "a_in", "a_out", "shifts", "MACs", "acc"
    );
    for (index, layer) in model.layers().iter().enumerate() {
        let (k, w, a_in, a_out, shifts, acc) = match layer.gemm() {
            Some(gemm) => {
                let p = gemm.params;
                let (a_out, shifts) = match &p.output {
                    Output::Requant { bits, shifts } => (
                        bits.to_string(),
                        format!(
                            "{}-{}",
                            shifts.iter().min().unwrap_or(&0),
                            shifts.iter().max().unwrap_or(&0)
                        ),
                    ),
                    Output::Logits => ("logits".to_string(), "-".to_string()),
                };
                (
                    gemm.k.to_string(),
                    p.w_bits.to_string(),
                    p.in_bits.to_string(),
                    a_out,
                    shifts,
                    model
                        .accumulator_bits(index)
                        .map(|b| b.to_string())
                        .unwrap_or_default(),
                )
            }
            None => Default::default(),
        };
        println!(
            "{:<8} {:<9} {:>11} {:>11} {:>6} {:>5} {:>5} {:>8} {:>6} {:>12} {:>4}",
            layer.name,
            layer.op.kind_name(),
            model.input_shape(index).to_string(),
            model.output_shape(index).to_string(),
            k,
            w,
            a_in,
            a_out,
            shifts,
            model.layer_macs(index),
            acc
        );
    }
    println!();
    println!(
        "total {:.2} M MACs per image; acc = accumulator bits the hardware needs (a + w + ceil(log2 K) + 1)",
        model.total_macs() as f64 / 1e6
    );
    Ok(())
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    args.data.kind()?;
    if args.limit == Some(0) {
        bail!(
            "--limit 0 evaluates nothing; pass at least 1 or leave it out for the whole test split"
        );
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("cannot set up the thread pool")?;
    }
    let model = load_model(&args.model)?;
    let data = args.data.load_test_for(&model, &args.model, args.limit)?;
    let kind = data.kind;

    let fast = FastModel::new(&model);
    let bar = if args.json {
        indicatif::ProgressBar::hidden()
    } else {
        progress::bar(data.len() as u64, "images")
    };
    bar.set_message("golden inference");
    let started = Instant::now();
    let logits = fast.logits_batch(&data.images, |n| bar.inc(n as u64));
    let seconds = started.elapsed().as_secs_f64();
    bar.finish_and_clear();

    let correct = logits
        .iter()
        .zip(&data.labels)
        .filter(|(l, &label)| golden::contract::argmax(l) == Some(label as usize))
        .count();
    let images = data.len();
    let accuracy = correct as f64 / images as f64;
    let images_per_s = images as f64 / seconds.max(1e-9);
    println!(
        "{}: {correct}/{images} correct on the {} test split, accuracy {:.2}%",
        model.name,
        kind.name(),
        accuracy * 100.0
    );
    println!(
        "golden fast path: {images} images in {seconds:.2} s = {images_per_s:.0} images/s on {} threads ({:.2} GMAC/s)",
        rayon::current_num_threads(),
        model.total_macs() as f64 * images as f64 / seconds.max(1e-9) / 1e9
    );
    if args.json {
        println!(
            "{}",
            json!({
                "accuracy": accuracy,
                "images": images,
                "correct": correct,
                "images_per_s": images_per_s,
                "seconds": seconds,
                "threads": rayon::current_num_threads(),
                "model": model.name,
                "dataset": kind.name(),
            })
        );
    }
    Ok(())
}
