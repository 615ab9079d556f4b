//! Training configuration: presets, YAML files, command-line overrides and
//! validation.
//!
//! A configuration is built in three layers, each overriding the one before:
//! a preset (`quick` or `full`), then the fields a YAML file sets, then
//! command-line flags. Every field remembers where its value came from so a
//! validation error can name the file or flag to fix.

use crate::error::TrainError;
use crate::method::Method;
use datasets::DatasetKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Named starting points for a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Minutes on a 2-core laptop: 1/8-width network, a subset of the
    /// training images, short stages.
    Quick,
    /// The long run: 1/4 width, the whole training set, many epochs.
    Full,
}

impl Preset {
    pub const ALL: [Preset; 2] = [Preset::Quick, Preset::Full];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Full => "full",
        }
    }

    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Teacher (batch-norm float network) training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherConfig {
    /// Passes over the training images.
    pub epochs: usize,
    /// Adam learning rate at the start of the cosine schedule.
    pub lr: f64,
    /// Decoupled (AdamW) weight decay.
    pub weight_decay: f64,
    /// Reuse a teacher saved by an earlier run (its `teacher/` directory)
    /// instead of training one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
}

/// Student (integer network) training by progressive stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// Training images seen in each stage (one stage per compute layer).
    pub stage_images: usize,
    /// Adam learning rate at the start of each stage's cosine schedule.
    pub lr: f64,
    /// Softmax temperature of the distillation (KL) term.
    pub temperature: f64,
    /// Weight of the KL distillation term on the logits.
    pub kd_weight: f64,
    /// Weight of the layer-wise feature (normalized MSE) terms.
    pub feature_weight: f64,
    /// Weight of the cross-entropy term on the labels.
    pub ce_weight: f64,
    /// Images used to calibrate each layer's activation clip.
    pub calibration_images: usize,
    /// Training images of the joint fine-tune after the last stage: every
    /// layer fake-quantized again and trained together (0: no fine-tune).
    /// The all-at-once QAT baseline gets these steps too.
    #[serde(default)]
    pub finetune_images: usize,
    /// Learn each activation clip while its layer is fake-quantized
    /// (LSQ-style gradient on `ln(scale)`), starting from the calibrated one.
    #[serde(default)]
    pub learn_clip: bool,
    /// Adam learning rate of the learned clips' `ln(scale)` (and of the
    /// learned weight shifts).
    #[serde(default = "default_clip_lr")]
    pub clip_lr: f64,
    /// Learn every hidden layer's per-channel weight shifts (log2 weight
    /// scales, rounded straight-through) while it is fake-quantized,
    /// instead of choosing them from the weights at every step. Unset: on
    /// for the `quantized-teacher` method, off for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learn_shifts: Option<bool>,
    /// How the progressive stages split their images (in all, `stage_images`
    /// times the number of stages): one positive weight per stage, first
    /// layer first, e.g. `[2, 2, 1, 1, 1, 0.5, 0.5]` gives the early layers
    /// more steps. Empty: every stage gets `stage_images`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage_shares: Vec<f64>,
}

fn default_clip_lr() -> f64 {
    1e-2
}

fn default_method() -> Method {
    Method::Progressive
}

/// Which baselines to compute next to the progressive student.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineConfig {
    /// Quantization-aware training of all layers at once (no stages), with
    /// the same number of training steps as all progressive stages together.
    pub qat: bool,
}

/// Everything `trainer::train` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The preset the other fields start from (informational once built).
    pub preset: Preset,
    /// `fashion-mnist`, `mnist` or `cifar10`.
    pub dataset: String,
    /// Directory with the dataset files (default: the dataset's usual place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Width multiplier of the alexnet-cifar topology, in (0, 4].
    pub width: f64,
    /// Weight bits of the hidden compute layers (2..=16).
    pub wbits: u8,
    /// Activation bits of every hidden layer output (1..=16).
    pub abits: u8,
    /// Weight bits of the first and last compute layers (2..=16).
    pub first_last_wbits: u8,
    /// Seed of every random choice (initialization, data order, augmentation).
    pub seed: u64,
    /// How the student is trained: `progressive`, `qat` or
    /// `bit-progressive` ([`Method`]). Older configs and summaries without
    /// the field mean `progressive`, the only method there was.
    #[serde(default = "default_method")]
    pub method: Method,
    /// Use only the first N training images (none: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_limit: Option<usize>,
    /// Evaluate on the first N test images (none: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_limit: Option<usize>,
    pub batch_size: usize,
    /// Random-crop (and, for CIFAR-10, horizontal flip) augmentation of the
    /// training images, teacher and student alike. Off in the quick preset:
    /// with so few steps it slows convergence more than it helps.
    pub augment: bool,
    /// CPU threads for libtorch (none: all available cores).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    pub teacher: TeacherConfig,
    pub student: StudentConfig,
    pub baselines: BaselineConfig,
    /// Output directory (teacher/, model/, summary.json). Usually given with
    /// `--out`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// Where each field's value came from (`preset quick`, a file, a flag);
    /// used only to word errors.
    #[serde(skip)]
    pub origins: BTreeMap<String, String>,
}

/// The command-line flag that sets a field, when there is one.
fn flag_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "dataset" => "--dataset",
        "data_dir" => "--data-dir",
        "wbits" => "--wbits",
        "abits" => "--abits",
        "preset" => "--preset",
        "method" => "--method",
        "out" => "--out",
        _ => return None,
    })
}

impl TrainConfig {
    /// The configuration a preset stands for.
    pub fn preset(preset: Preset) -> TrainConfig {
        let mut config = match preset {
            // Sized to finish teacher + stages + export + verification in
            // about 1 minute on 2 idle CPU cores (several times that when
            // the cores are shared): 1/8 width (~3.5 M MACs per image), the
            // 60k training images twice (the teacher reaches ~90% on
            // Fashion-MNIST), 7 stages of 8k images, no augmentation.
            Preset::Quick => TrainConfig {
                preset,
                dataset: DatasetKind::FashionMnist.name().into(),
                data_dir: None,
                width: 0.125,
                wbits: 4,
                abits: 4,
                first_last_wbits: 8,
                seed: 1,
                method: default_method(),
                train_limit: None,
                test_limit: None,
                batch_size: 128,
                augment: false,
                threads: None,
                teacher: TeacherConfig {
                    epochs: 2,
                    lr: 2e-3,
                    weight_decay: 1e-4,
                    checkpoint: None,
                },
                student: StudentConfig {
                    stage_images: 8_000,
                    // Short stages want a high rate: 1e-3 beat 3e-4 by ~2
                    // points at W2A2 (and by 0.3 at W4A4) in the quick preset.
                    lr: 1e-3,
                    temperature: 2.0,
                    kd_weight: 1.0,
                    feature_weight: 1.0,
                    ce_weight: 1.0,
                    calibration_images: 256,
                    finetune_images: 16_000,
                    learn_clip: false,
                    clip_lr: default_clip_lr(),
                    learn_shifts: None,
                    stage_shares: Vec::new(),
                },
                baselines: BaselineConfig { qat: false },
                out: None,
                origins: BTreeMap::new(),
            },
            // The long run (hours on 2 cores, minutes on a GPU).
            Preset::Full => TrainConfig {
                preset,
                dataset: DatasetKind::FashionMnist.name().into(),
                data_dir: None,
                width: 0.25,
                wbits: 4,
                abits: 4,
                first_last_wbits: 8,
                seed: 1,
                method: default_method(),
                train_limit: None,
                test_limit: None,
                batch_size: 128,
                augment: true,
                threads: None,
                teacher: TeacherConfig {
                    // 8 epochs reached 93.38% on Fashion-MNIST (the target is
                    // 92%) in 9 minutes on 2 cores; the 1/4-width rows, not
                    // the teacher, are what make the full run long.
                    epochs: 8,
                    lr: 2e-3,
                    weight_decay: 1e-4,
                    checkpoint: None,
                },
                student: StudentConfig {
                    stage_images: 120_000,
                    // Long stages want a low rate: at 4x the quick stage
                    // length, 1e-3 lost 2-3 points per stage at W2A2 where
                    // 3e-4 kept the stage accuracies above the 1x run's.
                    lr: 3e-4,
                    temperature: 2.0,
                    kd_weight: 1.0,
                    feature_weight: 1.0,
                    ce_weight: 1.0,
                    calibration_images: 1024,
                    finetune_images: 240_000,
                    learn_clip: false,
                    clip_lr: default_clip_lr(),
                    learn_shifts: None,
                    stage_shares: Vec::new(),
                },
                baselines: BaselineConfig { qat: true },
                out: None,
                origins: BTreeMap::new(),
            },
        };
        config.set_origins(&format!("preset {}", preset.name()));
        config
    }

    fn set_origins(&mut self, origin: &str) {
        for field in [
            "preset",
            "dataset",
            "data_dir",
            "width",
            "wbits",
            "abits",
            "first_last_wbits",
            "seed",
            "method",
            "train_limit",
            "test_limit",
            "batch_size",
            "augment",
            "threads",
            "teacher",
            "student",
            "baselines",
            "out",
        ] {
            self.origins.insert(field.to_string(), origin.to_string());
        }
    }

    /// Record that `field` was set on the command line by `flag`.
    pub fn set_origin(&mut self, field: &str, origin: &str) {
        self.origins.insert(field.to_string(), origin.to_string());
    }

    /// A YAML file applied over a preset. The file may set any subset of the
    /// fields (nested sections too); `preset:` in the file picks the preset
    /// when `preset` is `None`.
    pub fn from_yaml_file(path: &Path, preset: Option<Preset>) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            action: "read",
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_yaml_str(&text, &path.display().to_string(), preset)
    }

    /// As [`TrainConfig::from_yaml_file`] for text; `origin` names it in errors.
    pub fn from_yaml_str(
        text: &str,
        origin: &str,
        preset: Option<Preset>,
    ) -> Result<TrainConfig, TrainError> {
        let yaml_error = |message: String| TrainError::Config {
            origin: origin.to_string(),
            field: String::new(),
            message,
        };
        let overlay: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| yaml_error(e.to_string()))?;
        let overlay = match overlay {
            serde_norway::Value::Null => serde_norway::Value::Mapping(Default::default()),
            serde_norway::Value::Mapping(m) => serde_norway::Value::Mapping(m),
            other => {
                let found = match other {
                    serde_norway::Value::Sequence(_) => "a list",
                    _ => "a single value",
                };
                return Err(yaml_error(format!(
                    "the file is {found}; a training config must be a mapping of fields, one \
                     `field: value` per line (e.g. `wbits: 4`), as in configs/train-quick.yaml"
                )));
            }
        };
        let file_preset = match overlay.get("preset") {
            None => None,
            Some(value) => {
                let message = match value.as_str() {
                    Some(name) => format!("unknown preset `{name}`; use `quick` or `full`"),
                    None => "preset must be a name: `quick` or `full`".to_string(),
                };
                Some(value.as_str().and_then(Preset::from_name).ok_or_else(|| {
                    TrainError::Config {
                        origin: origin.to_string(),
                        field: "preset".into(),
                        message,
                    }
                })?)
            }
        };
        let base_preset = preset.or(file_preset).unwrap_or(Preset::Quick);
        let base = TrainConfig::preset(base_preset);
        let base_value = serde_norway::to_value(&base).map_err(|e| yaml_error(e.to_string()))?;
        // The flag wins over the file's `preset:`.
        let build = |overlay: serde_norway::Value, touched: &mut Vec<String>| {
            let mut merged = base_value.clone();
            merge_yaml(&mut merged, overlay, "", touched);
            if let (Some(preset), serde_norway::Value::Mapping(mapping)) = (preset, &mut merged) {
                mapping.insert(
                    serde_norway::Value::String("preset".into()),
                    serde_norway::Value::String(preset.name().into()),
                );
            }
            serde_norway::from_value::<TrainConfig>(merged)
        };
        let mut touched = Vec::new();
        let mut config = build(overlay.clone(), &mut touched).map_err(|error| {
            // serde names neither the field nor the type in words a user
            // knows: find the field by trying the file's fields one at a
            // time, and say what it must be.
            let field = overlay_leaves(&base_value, &overlay, "")
                .into_iter()
                .find(|(_, single)| build(single.clone(), &mut Vec::new()).is_err())
                .map(|(path, _)| path)
                .unwrap_or_default();
            TrainError::Config {
                origin: origin.to_string(),
                field,
                message: readable_serde_message(&error.to_string()),
            }
        })?;
        config.origins = base.origins;
        for field in touched {
            config.origins.insert(field, origin.to_string());
        }
        Ok(config)
    }

    /// The dataset this configuration names.
    pub fn dataset_kind(&self) -> Result<DatasetKind, TrainError> {
        DatasetKind::from_name(&self.dataset).map_err(|_| {
            self.field_error(
                "dataset",
                format!(
                    "unknown dataset {:?}; use one of: {}",
                    self.dataset,
                    DatasetKind::ALL.map(DatasetKind::name).join(", ")
                ),
            )
        })
    }

    /// Directory the dataset is read from.
    pub fn data_dir(&self) -> Result<PathBuf, TrainError> {
        Ok(self.data_dir.clone().unwrap_or_else(|| {
            self.dataset_kind()
                .map(|k| k.default_dir())
                .unwrap_or_default()
        }))
    }

    /// Settle the method for runs that pick one for the user (`tandem flow`,
    /// `tandem sweep`): the one a file or a flag set, otherwise the best
    /// measured for these bit-widths ([`crate::method::best_for`]). Returns
    /// why, for progress lines and records. Calling it again changes nothing.
    pub fn choose_method(&mut self) -> String {
        let from_preset = self
            .origins
            .get("method")
            .is_none_or(|origin| origin.starts_with("preset "));
        if !from_preset {
            return format!("{} (set in the training config)", self.method);
        }
        let best = crate::method::best_for(self.wbits, self.abits);
        self.method = best.method;
        format!("{best}; set `method:` in the training config to choose another")
    }

    /// An error about `field`, naming where its value came from and how to
    /// change it.
    pub fn field_error(&self, field: &str, message: String) -> TrainError {
        let top = field.split('.').next().unwrap_or(field);
        let origin = self
            .origins
            .get(field)
            .or_else(|| self.origins.get(top))
            .cloned()
            .unwrap_or_else(|| "configuration".into());
        let fix = match flag_for(field) {
            Some(flag) => format!(" (set `{field}` in the config file or pass {flag})"),
            None => format!(" (set `{field}` in the config file)"),
        };
        TrainError::Config {
            origin,
            field: field.to_string(),
            message: format!("{message}{fix}"),
        }
    }

    /// Check every field; the first problem is returned.
    pub fn validate(&self) -> Result<(), TrainError> {
        let kind = self.dataset_kind()?;
        for (field, value, range) in [
            ("wbits", self.wbits, golden::contract::WEIGHT_BITS),
            (
                "first_last_wbits",
                self.first_last_wbits,
                golden::contract::WEIGHT_BITS,
            ),
            ("abits", self.abits, golden::contract::ACT_BITS),
        ] {
            if !range.contains(&value) {
                return Err(self.field_error(
                    field,
                    format!(
                        "{field} = {value} is out of range; use {}..={}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        if !(self.width > 0.0 && self.width <= 4.0 && self.width.is_finite()) {
            return Err(self.field_error(
                "width",
                format!(
                    "width = {} must be in (0, 4]; 0.125 (quick) and 0.25 (full) are typical",
                    self.width
                ),
            ));
        }
        let dir = self.data_dir()?;
        if !dir.is_dir() {
            let hint = match kind {
                DatasetKind::FashionMnist => {
                    "install it with `apt-get install dataset-fashion-mnist` or point at a directory holding the IDX files"
                }
                DatasetKind::Mnist => "point at a directory holding the four MNIST IDX files",
                DatasetKind::Cifar10 => {
                    "point at a directory holding the CIFAR-10 binary batches (data_batch_1.bin ..)"
                }
            };
            return Err(self.field_error(
                "data_dir",
                format!(
                    "{} dataset directory {} does not exist; {hint}",
                    kind.name(),
                    dir.display()
                ),
            ));
        }
        let positive = [
            ("batch_size", self.batch_size),
            ("teacher.epochs", self.teacher.epochs),
            ("student.stage_images", self.student.stage_images),
            (
                "student.calibration_images",
                self.student.calibration_images,
            ),
        ];
        for (field, value) in positive {
            if value == 0 {
                return Err(self.field_error(field, format!("{field} must be at least 1")));
            }
        }
        if self.train_limit == Some(0) {
            return Err(self.field_error("train_limit", "train_limit must be at least 1".into()));
        }
        if self.test_limit == Some(0) {
            return Err(self.field_error("test_limit", "test_limit must be at least 1".into()));
        }
        if self.threads == Some(0) {
            return Err(self.field_error("threads", "threads must be at least 1".into()));
        }
        for (field, value) in [
            ("teacher.lr", self.teacher.lr),
            ("student.lr", self.student.lr),
            ("student.clip_lr", self.student.clip_lr),
            ("student.temperature", self.student.temperature),
        ] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(self.field_error(field, format!("{field} = {value} must be positive")));
            }
        }
        if let Some(share) = self
            .student
            .stage_shares
            .iter()
            .find(|share| !(**share > 0.0 && share.is_finite()))
        {
            return Err(self.field_error(
                "student.stage_shares",
                format!("student.stage_shares has {share}; every share must be positive"),
            ));
        }
        for (field, value) in [
            ("teacher.weight_decay", self.teacher.weight_decay),
            ("student.kd_weight", self.student.kd_weight),
            ("student.feature_weight", self.student.feature_weight),
            ("student.ce_weight", self.student.ce_weight),
        ] {
            if !(value >= 0.0 && value.is_finite()) {
                return Err(self.field_error(field, format!("{field} = {value} must be >= 0")));
            }
        }
        Ok(())
    }
}

/// Overlay `overlay` onto `base` field by field (mappings merge recursively,
/// anything else replaces). Unknown fields are kept so deserialization
/// rejects them by name. `touched` collects the top-level fields set.
fn merge_yaml(
    base: &mut serde_norway::Value,
    overlay: serde_norway::Value,
    prefix: &str,
    touched: &mut Vec<String>,
) {
    match (base, overlay) {
        (serde_norway::Value::Mapping(base), serde_norway::Value::Mapping(overlay)) => {
            for (key, value) in overlay {
                let name = key.as_str().unwrap_or_default().to_string();
                let path = if prefix.is_empty() {
                    name.clone()
                } else {
                    format!("{prefix}.{name}")
                };
                match base.get_mut(&key) {
                    Some(existing) if existing.is_mapping() && value.is_mapping() => {
                        merge_yaml(existing, value, &path, touched)
                    }
                    _ => {
                        base.insert(key, value);
                        touched.push(path);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// Every field `overlay` sets, as `(dotted path, an overlay setting only
/// that field)`, descending into the sections [`merge_yaml`] merges.
fn overlay_leaves(
    base: &serde_norway::Value,
    overlay: &serde_norway::Value,
    prefix: &str,
) -> Vec<(String, serde_norway::Value)> {
    let serde_norway::Value::Mapping(mapping) = overlay else {
        return Vec::new();
    };
    let mut leaves = Vec::new();
    for (key, value) in mapping {
        let name = match key.as_str() {
            Some(name) => name.to_string(),
            None => serde_norway::to_string(key)
                .map(|text| text.trim().to_string())
                .unwrap_or_default(),
        };
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        let wrap = |inner: serde_norway::Value| {
            let mut single = serde_norway::Mapping::new();
            single.insert(key.clone(), inner);
            serde_norway::Value::Mapping(single)
        };
        match base.get(key) {
            Some(section) if section.is_mapping() && value.is_mapping() => {
                for (inner_path, inner) in overlay_leaves(section, value, &path) {
                    leaves.push((inner_path, wrap(inner)));
                }
            }
            _ => leaves.push((path, wrap(value.clone()))),
        }
    }
    leaves
}

/// A serde error in the words of the YAML file: Rust type names replaced by
/// what the value must be ("expected u8" -> "expected a whole number from 0
/// to 255", "expected struct StudentConfig" -> "expected a mapping of
/// fields").
fn readable_serde_message(message: &str) -> String {
    let Some((head, expected)) = message.split_once(", expected ") else {
        return message.to_string();
    };
    // serde_norway may append " at line L column C".
    let (expected, location) = match expected.find(" at line ") {
        Some(at) => expected.split_at(at),
        None => (expected, ""),
    };
    let expected = match expected {
        "u8" => "a whole number from 0 to 255",
        "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "path string" => "a path",
        "field identifier" => "a field name",
        other if other.starts_with("struct ") => "a mapping of fields",
        other => other,
    };
    format!("{head}, expected {expected}{location}")
}
