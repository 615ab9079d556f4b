//! The batch-norm teacher: training it, saving it with what it was trained
//! for, and loading a saved one only into a run that asks for the same
//! dataset and network shape.

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::data::{self, TensorData};
use crate::error::TrainError;
use crate::net::{LayerSpec, Teacher};
use crate::progress::Progress;
use crate::schedule::{cosine, RunningMean, Sampler};
use datasets::DatasetKind;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tch::{nn, nn::OptimizerConfig, Device};

/// Teacher checkpoint file inside a teacher directory.
pub const TEACHER_FILE: &str = "teacher.safetensors";

/// Value of the checkpoint's `format` metadata.
const FORMAT: &str = "tandem-teacher-v1";

/// The one topology the trainer builds.
fn topology_name() -> &'static str {
    golden::topology::Preset::AlexnetCifar.name()
}

/// Train the batch-norm teacher with AdamW and a cosine schedule.
pub fn train_teacher(
    config: &TrainConfig,
    specs: Vec<LayerSpec>,
    train: &TensorData,
    kind: DatasetKind,
    progress: &Progress,
) -> Result<Teacher, TrainError> {
    let device = train.images.device();
    let teacher = Teacher::new(specs, device);
    let mut opt = nn::AdamW {
        wd: config.teacher.weight_decay,
        ..Default::default()
    }
    .build(&teacher.vs, config.teacher.lr)?;
    let mut sampler = Sampler::new(train.len(), config.batch_size);
    // Whole batches only: batch norm needs more than one image per batch.
    let steps_per_epoch = (train.len() / sampler.batch()).max(1);
    let epochs = config.teacher.epochs;
    let total = steps_per_epoch * epochs;
    let mut task = progress.task("teacher", total as u64);
    let (mut loss_avg, mut acc_avg) = (RunningMean::default(), RunningMean::default());
    let status = |step: usize, loss: f64, acc: f64| {
        format!(
            "epoch {}/{epochs} loss {loss:.3} acc {:.1}%",
            step / steps_per_epoch + 1,
            100.0 * acc
        )
    };
    for step in 0..total {
        let (x, labels) = sampler.training_batch(train, config, kind);
        let logits = teacher.forward(&x, true);
        let loss = logits.cross_entropy_for_logits(&labels);
        opt.set_lr(cosine(config.teacher.lr, step, total));
        opt.backward_step(&loss);
        let batch_acc = data::correct(&logits, &labels) as f64 / labels.size()[0] as f64;
        let loss = loss_avg.add(loss.double_value(&[]));
        let acc = acc_avg.add(batch_acc);
        task.step(|| status(step, loss, acc));
        if (step + 1) % steps_per_epoch == 0 && step + 1 < total {
            task.milestone(&status(step, loss, acc));
        }
    }
    task.finish(&status(
        total.saturating_sub(1),
        loss_avg.value(),
        acc_avg.value(),
    ));
    Ok(teacher)
}

/// What a teacher was trained for: the dataset and the network's shape.
/// A checkpoint records it in its metadata; a run's configuration asks for
/// one.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherShape {
    pub dataset: String,
    pub topology: String,
    pub width: f64,
    pub in_channels: usize,
    pub classes: usize,
}

impl TeacherShape {
    /// What `config` asks for.
    pub fn of(config: &TrainConfig) -> Result<TeacherShape, TrainError> {
        let kind = config.dataset_kind()?;
        Ok(TeacherShape {
            dataset: kind.name().into(),
            topology: topology_name().into(),
            width: config.width,
            in_channels: kind.in_channels(),
            classes: kind.classes(),
        })
    }

    fn metadata(&self, seed: &str) -> HashMap<String, String> {
        HashMap::from([
            ("format".to_string(), FORMAT.to_string()),
            ("dataset".to_string(), self.dataset.clone()),
            ("topology".to_string(), self.topology.clone()),
            ("width".to_string(), self.width.to_string()),
            ("in_channels".to_string(), self.in_channels.to_string()),
            ("classes".to_string(), self.classes.to_string()),
            ("seed".to_string(), seed.to_string()),
        ])
    }
}

/// The parts of a [`TeacherShape`] a checkpoint records (older checkpoints
/// record only the dataset and the width).
#[derive(Debug, Default)]
struct RecordedShape {
    dataset: Option<String>,
    topology: Option<String>,
    width: Option<f64>,
    in_channels: Option<usize>,
    classes: Option<usize>,
}

impl RecordedShape {
    fn from_metadata(metadata: &HashMap<String, String>) -> RecordedShape {
        RecordedShape {
            dataset: metadata.get("dataset").cloned(),
            topology: metadata.get("topology").cloned(),
            width: metadata.get("width").and_then(|w| w.parse().ok()),
            in_channels: metadata.get("in_channels").and_then(|c| c.parse().ok()),
            classes: metadata.get("classes").and_then(|c| c.parse().ok()),
        }
    }

    /// "fashion-mnist (alexnet-cifar, width 0.125, 1 input channel, 10
    /// classes)", with what is recorded.
    fn describe(&self) -> String {
        describe(
            self.dataset.as_deref(),
            self.topology.as_deref(),
            self.width,
            self.in_channels,
            self.classes,
        )
    }

    /// How to make a run ask for this teacher, for every recorded value
    /// that differs from `asked`; empty when they agree.
    fn fixes(&self, asked: &TeacherShape) -> Vec<String> {
        let mut fixes = Vec::new();
        if let Some(dataset) = self.dataset.as_ref().filter(|d| **d != asked.dataset) {
            fixes.push(format!("pass --dataset {dataset}"));
        }
        if let Some(width) = self.width.filter(|w| *w != asked.width) {
            fixes.push(format!("set `width: {width}` in the config file"));
        }
        let dataset_differs = fixes.iter().any(|fix| fix.contains("--dataset"));
        let channels_differ = self.in_channels.is_some_and(|c| c != asked.in_channels)
            || self.classes.is_some_and(|c| c != asked.classes);
        if channels_differ && !dataset_differs {
            fixes.push("use a dataset with the same input channels and classes".into());
        }
        if self.topology.as_ref().is_some_and(|t| *t != asked.topology) {
            // The trainer builds one topology: nothing to switch to.
            fixes.push(format!(
                "(not possible here: this version trains only {})",
                asked.topology
            ));
        }
        fixes
    }
}

fn describe(
    dataset: Option<&str>,
    topology: Option<&str>,
    width: Option<f64>,
    in_channels: Option<usize>,
    classes: Option<usize>,
) -> String {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let details: Vec<String> = [
        topology.map(str::to_string),
        width.map(|w| format!("width {w}")),
        in_channels.map(|c| plural(c, "input channel", "input channels")),
        classes.map(|c| plural(c, "class", "classes")),
    ]
    .into_iter()
    .flatten()
    .collect();
    let dataset = dataset.unwrap_or("an unrecorded dataset");
    if details.is_empty() {
        dataset.to_string()
    } else {
        format!("{dataset} ({})", details.join(", "))
    }
}

/// The checkpoint file of a teacher directory (or the file itself).
pub fn checkpoint_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(TEACHER_FILE)
    } else {
        path.to_path_buf()
    }
}

/// The checkpoint file a teacher directory `dir` holds once saved (whether
/// or not it is there yet).
pub fn checkpoint_file_in(dir: &Path) -> PathBuf {
    dir.join(TEACHER_FILE)
}

/// A saved teacher a run will distill, checked against what the run asks
/// for.
#[derive(Debug, Clone)]
pub struct SavedTeacher {
    pub file: PathBuf,
    /// The seed it was trained with, when recorded.
    pub seed: Option<String>,
}

impl SavedTeacher {
    /// The teacher of `path` (a teacher directory or its checkpoint file),
    /// refused when its metadata says it was trained for another dataset or
    /// network shape than `config` asks for. Only the file is read: this
    /// runs before anything is loaded or trained.
    pub fn open(path: &Path, config: &TrainConfig) -> Result<SavedTeacher, TrainError> {
        let file = checkpoint_file(path);
        let metadata = checkpoint::metadata(&file)?;
        let asked = TeacherShape::of(config)?;
        let recorded = RecordedShape::from_metadata(&metadata);
        let fixes = recorded.fixes(&asked);
        if !fixes.is_empty() {
            return Err(TrainError::TeacherMismatch {
                path: file,
                trained: recorded.describe(),
                asked: describe(
                    Some(&asked.dataset),
                    Some(&asked.topology),
                    Some(asked.width),
                    Some(asked.in_channels),
                    Some(asked.classes),
                ),
                fix: format!(
                    "to distill this teacher, {}; to train a new teacher for {}, leave out --teacher (`teacher.checkpoint` in the config file)",
                    fixes.join(" and "),
                    asked.dataset
                ),
            });
        }
        Ok(SavedTeacher {
            file,
            seed: metadata.get("seed").cloned(),
        })
    }

    /// A teacher of `specs` with the saved variables (names and shapes must
    /// match).
    pub fn load(&self, specs: Vec<LayerSpec>, device: Device) -> Result<Teacher, TrainError> {
        let teacher = Teacher::new(specs, device);
        checkpoint::load(&teacher.vs, &self.file)?;
        Ok(teacher)
    }
}

/// Save `teacher` into the directory `dir`, recording what it was trained
/// for and with which seed; returns the saved weights' digest
/// ([`checkpoint::weights_digest`]).
pub fn save_teacher(
    teacher: &Teacher,
    dir: &Path,
    config: &TrainConfig,
    seed: &str,
) -> Result<String, TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
        action: "create the directory",
        path: dir.to_path_buf(),
        source,
    })?;
    let metadata = TeacherShape::of(config)?.metadata(seed);
    let file = checkpoint_file_in(dir);
    checkpoint::save(&teacher.vs, &file, metadata)?;
    checkpoint::weights_digest(&file)
}
