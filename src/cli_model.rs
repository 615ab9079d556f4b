//! `tandem model ...` and `tandem eval`.

use crate::exit::{usage, usage_because};
use crate::progress;
use anyhow::{bail, Context, Result};
use clap::{ArgGroup, Args, Subcommand};
use datasets::{self as dataset, imagefolder, Dataset, DatasetKind, Source, Split, IMAGE_SIDE};
use golden::fast::FastModel;
use golden::model::{Model, Op, Output};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use serde_json::json;
use std::path::{Path, PathBuf};
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
    ///
    /// Example:
    ///   tandem model inspect --model out/random-w4a4
    ///   tandem model inspect --model out/random-w4a4 --json | tail -n 1
    #[command(verbatim_doc_comment)]
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
    /// End the output with one JSON line describing the model (as `model inspect --json`).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("model_dir").required(true).args(["dir", "model"])))]
pub struct InspectArgs {
    /// Model directory, as a positional argument (same as --model).
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Model directory (holding model.yaml and model.safetensors).
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// End the output with one JSON line: {"name", "input", "layers", "total_macs", ...}.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory (holding model.yaml and model.safetensors).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Use only the first N test images (default: the whole test split).
    /// `--limit` is an older name for it. With --dataset synthetic: how
    /// many images to make (required).
    #[arg(long, value_name = "N", alias = "limit")]
    images: Option<usize>,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// End the output with one JSON line: {"accuracy", "images", "images_per_s", ...}.
    #[arg(long)]
    json: bool,
}

/// Which dataset's test split to use; shared by every command that reads images.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Dataset whose test split to use: fashion-mnist, mnist or cifar10;
    /// synthetic (seeded images of the model's input shape: no files, no
    /// accuracy); or imagefolder (class subfolders of JPEG/PNG files in
    /// --data-dir, resized and center-cropped as torchvision evaluates
    /// ImageNet) (default: the dataset in the model's provenance, else
    /// fashion-mnist).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Directory with the dataset files (default: /usr/share/datasets/<dataset>;
    /// required by imagefolder, refused by synthetic).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Seed of the --dataset synthetic images (default: 1).
    #[arg(long, value_name = "SEED")]
    pub synthetic_seed: Option<u64>,
}

/// What `--dataset` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requested {
    Files(DatasetKind),
    Synthetic,
    ImageFolder,
}

/// Images for `tandem report`: the first N of the chosen set, with what
/// the report says about them.
pub struct ReportImages {
    /// The images, as the simulator takes them.
    pub images: Vec<Vec<i32>>,
    /// Their labels, when predictions may be scored against them (never
    /// for synthetic images).
    pub labels: Option<Vec<u8>>,
    /// Size of the whole set, for the modeled whole-test-set figures
    /// (none for synthetic images: there is no set).
    pub test_set_images: Option<u64>,
    /// What the images are, e.g. "fashion-mnist test split, images 0..2".
    pub source: String,
    /// Where they come from.
    pub kind: Source,
}

/// The dataset a command uses and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ChosenDataset {
    kind: DatasetKind,
    origin: DatasetOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DatasetOrigin {
    /// `--dataset` named it.
    Flag,
    /// The model's provenance named it.
    Provenance,
    /// Neither: fashion-mnist. Holds a provenance name tandem cannot read, if any.
    Default {
        unreadable_provenance: Option<String>,
    },
}

impl DataArgs {
    /// Checks that `--dataset`, if given, names a supported dataset and that
    /// `--data-dir` and `--synthetic-seed` go with it (call it before any
    /// slow work).
    pub fn check(&self) -> Result<()> {
        let requested = self.requested()?;
        match requested {
            Some(Requested::Synthetic) if self.data_dir.is_some() => {
                return Err(usage(
                    "--dataset synthetic makes its images and reads no files; leave out --data-dir",
                ));
            }
            Some(Requested::ImageFolder) if self.data_dir.is_none() => {
                return Err(usage(
                    "--dataset imagefolder needs --data-dir DIR: a folder with one subfolder of \
                     JPEG/PNG images per class (DIR/<class>/<image>.jpg), as torchvision's \
                     ImageFolder reads",
                ));
            }
            _ => {}
        }
        if self.synthetic_seed.is_some() && requested != Some(Requested::Synthetic) {
            return Err(usage(
                "--synthetic-seed only applies to --dataset synthetic",
            ));
        }
        Ok(())
    }

    fn requested(&self) -> Result<Option<Requested>> {
        let Some(name) = self.dataset.as_deref() else {
            return Ok(None);
        };
        Source::check_name(name).map_err(|e| usage_because("invalid --dataset", e))?;
        Ok(Some(match name {
            Source::SYNTHETIC => Requested::Synthetic,
            Source::IMAGEFOLDER => Requested::ImageFolder,
            _ => Requested::Files(
                DatasetKind::from_name(name).map_err(|e| usage_because("invalid --dataset", e))?,
            ),
        }))
    }

    /// `--dataset`, else the model's provenance dataset, else fashion-mnist
    /// (for the file datasets; the caller has handled the others).
    fn choose(&self, model: &Model) -> Result<ChosenDataset> {
        if let Some(Requested::Files(kind)) = self.requested()? {
            return Ok(ChosenDataset {
                kind,
                origin: DatasetOrigin::Flag,
            });
        }
        let recorded = model.provenance.dataset.as_deref();
        Ok(match recorded.map(DatasetKind::from_name) {
            Some(Ok(kind)) => ChosenDataset {
                kind,
                origin: DatasetOrigin::Provenance,
            },
            _ => ChosenDataset {
                kind: DatasetKind::FashionMnist,
                origin: DatasetOrigin::Default {
                    unreadable_provenance: recorded.map(str::to_string),
                },
            },
        })
    }

    /// The first `limit` test images (all with `None`) of the dataset chosen
    /// for the model in `model_dir`, checked against its input shape and
    /// classes. Says on stderr when the dataset came from the provenance and
    /// when `limit` is more than the split holds; the returned set's `len()`
    /// is the number of images actually used.
    ///
    /// `--dataset synthetic` makes exactly `limit` images of the model's
    /// input shape (`None` is refused: there is no split to take whole);
    /// `--dataset imagefolder` reads the first `limit` images of the folder.
    pub fn load_test_for(
        &self,
        model: &Model,
        model_dir: &Path,
        limit: Option<usize>,
    ) -> Result<Dataset> {
        self.check()?;
        match self.requested()? {
            Some(Requested::Synthetic) => return self.synthetic_for(model, limit),
            Some(Requested::ImageFolder) => {
                let listing = self.list_folder_for(model, model_dir)?;
                return load_folder(&listing, model, limit);
            }
            Some(Requested::Files(_)) | None => {}
        }
        let chosen = self.choose(model)?;
        if let Some(note) = origin_note(&chosen, model_dir) {
            eprintln!("{note}");
        }
        check_input_shape(model, model_dir, &chosen, image_shape(chosen.kind))?;
        let kind = chosen.kind;
        if model.classes() < kind.classes() {
            bail!(
                "{}: the model has {} classes but {} has {}",
                model_dir.display(),
                model.classes(),
                kind.name(),
                kind.classes()
            );
        }
        let data = dataset::load(kind, Split::Test, self.data_dir.as_deref(), limit)
            .context("cannot load the dataset")?;
        check_input_shape(
            model,
            model_dir,
            &chosen,
            [data.channels, data.height, data.width],
        )?;
        if let Some(note) = limit.and_then(|n| clamp_note(n, data.len(), kind)) {
            eprintln!("{note}");
        }
        Ok(data)
    }

    /// The first `count` images for `tandem report`, and the size of the
    /// whole set they are from (a file dataset's split is read whole for
    /// it; an image folder is only listed).
    pub fn load_for_report(
        &self,
        model: &Model,
        model_dir: &Path,
        count: usize,
    ) -> Result<ReportImages> {
        self.check()?;
        let (data, test_set_images) = match self.requested()? {
            Some(Requested::Synthetic) => (self.synthetic_for(model, Some(count))?, None),
            Some(Requested::ImageFolder) => {
                let listing = self.list_folder_for(model, model_dir)?;
                let data = load_folder(&listing, model, Some(count))?;
                (data, Some(listing.len() as u64))
            }
            Some(Requested::Files(_)) | None => {
                // The whole split: its size gives the modeled whole-test-set figures.
                let data = self.load_test_for(model, model_dir, None)?;
                if let Some(note) = clamp_note(count, data.len(), data.kind) {
                    eprintln!("{note}");
                }
                let size = data.len() as u64;
                (data, Some(size))
            }
        };
        let count = count.min(data.len());
        let images = (0..count)
            .map(|i| data.image(i).iter().map(|&p| i32::from(p)).collect())
            .collect();
        let labels = data.u8_labels().map(|labels| labels[..count].to_vec());
        let source = match data.kind {
            Source::Files(kind) => format!("{} test split, images 0..{count}", kind.name()),
            Source::Synthetic { seed } => format!(
                "synthetic images (seed {seed}, {}x{}x{}; labels meaningless, no accuracy), \
                 images 0..{count}",
                data.channels, data.height, data.width
            ),
            Source::ImageFolder => format!(
                "image folder {}, images 0..{count}",
                self.data_dir.as_deref().unwrap_or(Path::new("")).display()
            ),
        };
        Ok(ReportImages {
            images,
            labels,
            test_set_images,
            source,
            kind: data.kind,
        })
    }

    /// `limit` synthetic images of the model's input shape.
    fn synthetic_for(&self, model: &Model, limit: Option<usize>) -> Result<Dataset> {
        let count = limit.ok_or_else(|| {
            usage("--dataset synthetic makes as many images as --images asks for; pass --images N")
        })?;
        let seed = self
            .synthetic_seed
            .unwrap_or(dataset::synthetic::DEFAULT_SEED);
        Ok(dataset::synthetic(model.input.to_array(), count, seed))
    }

    /// The `--data-dir` image folder, listed and checked against the model.
    fn list_folder_for(&self, model: &Model, model_dir: &Path) -> Result<imagefolder::Listing> {
        let dir = self
            .data_dir
            .as_deref()
            .context("--dataset imagefolder needs --data-dir")?;
        let input = model.input.to_array();
        if input[0] != 1 && input[0] != 3 {
            bail!(
                "{}: the model takes {} images, but image folders give RGB (3-channel) or \
                 greyscale (1-channel) images",
                model_dir.display(),
                model.input
            );
        }
        let listing = imagefolder::list(dir).context("cannot load the dataset")?;
        if model.classes() < listing.classes.len() {
            bail!(
                "{}: the model has {} classes but image folder {} has {} class folders",
                model_dir.display(),
                model.classes(),
                dir.display(),
                listing.classes.len()
            );
        }
        Ok(listing)
    }
}

/// The first `limit` images of `listing`, at the model's input shape.
fn load_folder(
    listing: &imagefolder::Listing,
    model: &Model,
    limit: Option<usize>,
) -> Result<Dataset> {
    let data = imagefolder::load_listing(listing, model.input.to_array(), limit)
        .context("cannot load the dataset")?;
    if let Some(note) = limit.and_then(|n| clamp_note(n, data.len(), data.kind)) {
        eprintln!("{note}");
    }
    Ok(data)
}

/// How `sim network` names the images in its table header: "fashion-mnist
/// test images", "synthetic images (seed 1)", "image-folder images".
pub fn images_phrase(data: &Dataset) -> String {
    match data.kind {
        Source::Files(kind) => format!("{} test images", kind.name()),
        Source::Synthetic { seed } => format!("synthetic images (seed {seed})"),
        Source::ImageFolder => "image-folder images".to_string(),
    }
}

/// Why no accuracy may be given on `data`'s images, if none may: synthetic
/// images have meaningless labels; an image folder of more than 256 classes
/// has labels the simulator's byte labels cannot hold (eval scores those).
pub fn no_accuracy_reason(data: &Dataset) -> Option<&'static str> {
    if !data.has_labels() {
        Some("accuracy is not defined for synthetic images")
    } else if data.u8_labels().is_none() {
        Some("no accuracy here: the image folder has more than 256 classes (tandem eval scores it)")
    } else {
        None
    }
}

/// The note for `--images requested` when the split holds only `available`.
pub fn clamp_note(requested: usize, available: usize, kind: impl Into<Source>) -> Option<String> {
    let what = match kind.into() {
        Source::Files(kind) => format!("test images of {}", kind.name()),
        other => format!("images of the {}", other.describe()),
    };
    (requested > available).then(|| {
        format!(
            "note: --images {requested} asks for more than the {available} {what}; using all {available}"
        )
    })
}

fn origin_note(chosen: &ChosenDataset, model_dir: &Path) -> Option<String> {
    let name = chosen.kind.name();
    match &chosen.origin {
        DatasetOrigin::Flag | DatasetOrigin::Default { unreadable_provenance: None } => None,
        DatasetOrigin::Provenance => Some(format!(
            "note: using --dataset {name}, the dataset in {}'s provenance",
            model_dir.display()
        )),
        DatasetOrigin::Default {
            unreadable_provenance: Some(recorded),
        } => Some(format!(
            "note: {}'s provenance names dataset `{recorded}`, which tandem cannot read; using {name} (pass --dataset to choose)",
            model_dir.display()
        )),
    }
}

/// Channels, height and width of the images `load` returns for `kind`.
fn image_shape(kind: DatasetKind) -> [usize; 3] {
    [kind.in_channels(), IMAGE_SIDE, IMAGE_SIDE]
}

/// An error naming the `--dataset` that fits, when `images` (the chosen
/// dataset's image shape) is not the model's input.
fn check_input_shape(
    model: &Model,
    model_dir: &Path,
    chosen: &ChosenDataset,
    images: [usize; 3],
) -> Result<()> {
    let input = model.input.to_array();
    if images == input {
        return Ok(());
    }
    let recorded = model
        .provenance
        .dataset
        .as_deref()
        .and_then(|name| DatasetKind::from_name(name).ok())
        .filter(|&kind| image_shape(kind) == input);
    let per_provenance = recorded
        .map(|kind| format!(" ({} per its provenance)", kind.name()))
        .unwrap_or_default();
    let origin = match chosen.origin {
        DatasetOrigin::Flag => "",
        DatasetOrigin::Provenance => " (per its provenance)",
        DatasetOrigin::Default { .. } => " (the default)",
    };
    let fitting: Vec<String> = match recorded {
        Some(kind) => vec![format!("--dataset {}", kind.name())],
        None => DatasetKind::ALL
            .into_iter()
            .filter(|&kind| image_shape(kind) == input)
            .map(|kind| format!("--dataset {}", kind.name()))
            .collect(),
    };
    let fix = if fitting.is_empty() {
        format!(
            "no packaged dataset has {} images (fashion-mnist and mnist are 1x{IMAGE_SIDE}x{IMAGE_SIDE}, cifar10 is 3x{IMAGE_SIDE}x{IMAGE_SIDE}); pass --dataset synthetic for seeded synthetic images of that shape (no accuracy), or --dataset imagefolder --data-dir DIR for class folders of JPEG/PNG images resized and center-cropped to {}x{}",
            model.input, input[1], input[2]
        )
    } else {
        format!("pass {}", fitting.join(" or "))
    };
    bail!(
        "{}: the model takes {} images{per_provenance} but {}{origin} images are {}x{}x{}; {fix}",
        model_dir.display(),
        model.input,
        chosen.kind.name(),
        images[0],
        images[1],
        images[2],
    )
}

pub fn run_model(command: ModelCommand) -> Result<()> {
    match command {
        ModelCommand::Random(args) => run_random(args),
        ModelCommand::Inspect(args) => run_inspect(args),
    }
}

fn run_random(args: RandomArgs) -> Result<()> {
    let preset =
        Preset::from_name(&args.topology).map_err(|e| usage(format!("invalid --topology: {e}")))?;
    let classes = args.classes.unwrap_or(preset.default_classes());
    let topology = Topology::new(preset, args.width, args.in_channels, classes)
        .map_err(|e| usage(format!("invalid --width, --in-channels or --classes: {e}")))?;
    let bits = RandomBits {
        w_bits: args.wbits,
        a_bits: args.abits,
        first_last_w_bits: args.first_last_wbits,
    };
    let started = Instant::now();
    // The model is a pure function of the arguments: if it cannot be built,
    // an argument (a bit-width) is out of range.
    let model = random_model(&topology, bits, args.seed)
        .map_err(|e| usage_because("cannot build the random model", e))?;
    golden::io::save(&model, &args.out)
        .with_context(|| format!("cannot write the model to {}", args.out.display()))?;
    println!(
        "wrote {} ({} layers, {:.1} M MACs/image) to {} in {:.2} s",
        model.name,
        model.layers().len(),
        model.total_macs() as f64 / 1e6,
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "inspect it with: tandem model inspect --model {}",
        args.out.display()
    );
    if args.json {
        println!("{}", model_json(&model, &args.out));
    }
    Ok(())
}

fn load_model(dir: &Path) -> Result<Model> {
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

fn model_json(model: &Model, dir: &Path) -> serde_json::Value {
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
    // clap's group makes exactly one of the two present.
    let dir = args.model.or(args.dir).context("no model directory")?;
    let model = load_model(&dir)?;
    print_model_table(&model);
    if args.json {
        println!("{}", model_json(&model, &dir));
    }
    Ok(())
}

/// The model's header (name, input, provenance), then its layer rows.
fn print_model_table(model: &Model) {
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
    print_layer_rows(model);
}

/// One row per layer: shapes, K, bit-widths, shift range, MACs, accumulator bits.
fn print_layer_rows(model: &Model) {
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
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    args.data.check()?;
    if args.images == Some(0) {
        return Err(usage(
            "--images 0 evaluates nothing; pass at least 1 or leave it out for the whole test split",
        ));
    }
    if let Some(threads) = args.threads {
        if threads == 0 {
            return Err(usage(
                "--threads 0 runs nothing; pass at least 1 or leave it out for all cores",
            ));
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("cannot set up the thread pool")?;
    }
    let model = load_model(&args.model)?;
    let data = args.data.load_test_for(&model, &args.model, args.images)?;
    let kind = data.kind;

    let fast = FastModel::new(&model);
    let bar = progress::bar(data.len() as u64, "images");
    bar.set_message("golden inference");
    let started = Instant::now();
    let logits = fast.logits_batch(&data.images, |n| bar.inc(n as u64));
    let seconds = started.elapsed().as_secs_f64();
    bar.finish();

    let images = data.len();
    let images_per_s = images as f64 / seconds.max(1e-9);
    // Accuracy only where the labels mean something: never on synthetic images.
    let correct = data.has_labels().then(|| {
        logits
            .iter()
            .enumerate()
            .filter(|(i, l)| golden::contract::argmax(l) == data.label(*i))
            .count()
    });
    let accuracy = correct.map(|correct| correct as f64 / images as f64);
    match (kind, correct, accuracy) {
        (Source::Files(file_kind), Some(correct), Some(accuracy)) => println!(
            "{}: {correct}/{images} correct on the {} test split, accuracy {:.2}%",
            model.name,
            file_kind.name(),
            accuracy * 100.0
        ),
        (_, Some(correct), Some(accuracy)) => println!(
            "{}: {correct}/{images} correct on image folder {} ({} classes), accuracy {:.2}%",
            model.name,
            args.data.data_dir.as_deref().unwrap_or(Path::new("")).display(),
            data.classes(),
            accuracy * 100.0
        ),
        _ => println!(
            "{}: {images} {} of {}x{}x{}; accuracy is not defined for synthetic images (their labels are meaningless)",
            model.name,
            kind.describe(),
            data.channels,
            data.height,
            data.width
        ),
    }
    println!(
        "golden fast path: {images} images in {seconds:.2} s = {images_per_s:.0} images/s on {} threads ({:.2} GMAC/s)",
        rayon::current_num_threads(),
        model.total_macs() as f64 * images as f64 / seconds.max(1e-9) / 1e9
    );
    if args.json {
        let mut value = json!({
            "accuracy": accuracy,
            "images": images,
            "images_requested": args.images,
            "correct": correct,
            "images_per_s": images_per_s,
            "seconds": seconds,
            "threads": rayon::current_num_threads(),
            "model": model.name,
            "dataset": kind.name(),
        });
        match kind {
            Source::Synthetic { seed } => value["synthetic_seed"] = json!(seed),
            Source::ImageFolder => {
                value["data_dir"] = json!(args
                    .data
                    .data_dir
                    .as_deref()
                    .map(|d| d.display().to_string()));
                value["classes"] = json!(data.classes());
            }
            Source::Files(_) => {}
        }
        println!("{value}");
    }
    Ok(())
}
