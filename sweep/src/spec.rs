//! The sweep spec (`configs/sweep-*.yaml`): where the models come from, the
//! bit-width pairs, the arrays, the batch sizes, and what to run per point.
//! Documented field by field in docs/sweep.md.

use crate::error::SweepError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A whole sweep. Points are the product `bits x arrays x batch`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Names the sweep in its outputs.
    pub name: String,
    /// Where each bit-width pair's model comes from.
    pub models: ModelSource,
    /// Bit-width pairs; each is one model (one student when trained).
    pub bits: Vec<BitsPair>,
    /// Arrays (rows x cols, optionally native PE widths).
    pub arrays: Vec<ArraySpec>,
    /// Hardware config the arrays start from (depth, clock, dataflow, ...).
    pub hw_base: PathBuf,
    /// Batch sizes whose throughput and energy each point reports.
    #[serde(default = "default_batch")]
    pub batch: Vec<usize>,
    /// Test images run through the RTL per (bits, array); 0 mismatches required.
    #[serde(default = "default_sim_images")]
    pub sim_images: usize,
    /// Test images golden measures accuracy on (default: the whole test split).
    #[serde(default)]
    pub accuracy_images: Option<usize>,
    /// yosys flows per point: generic, xilinx, ice40 (empty: no synthesis).
    #[serde(default)]
    pub synth: Vec<String>,
    /// Stop a yosys flow after this many seconds.
    #[serde(default = "default_synth_timeout")]
    pub synth_timeout_s: u64,
    /// Energy table (default: the built-in configs/energy-45nm.yaml).
    #[serde(default)]
    pub energy_table: Option<PathBuf>,
}

fn default_batch() -> Vec<usize> {
    vec![1]
}
fn default_sim_images() -> usize {
    2
}
fn default_synth_timeout() -> u64 {
    600
}

/// Where the models come from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "source", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ModelSource {
    /// Seeded random models (hardware-only sweeps; accuracy near chance).
    Random {
        /// `alexnet-cifar` or `alexnet-imagenet`.
        topology: String,
        width: f64,
        in_channels: usize,
        #[serde(default = "default_classes")]
        classes: usize,
        #[serde(default = "default_seed")]
        seed: u64,
        /// Test images: a dataset name (fashion-mnist, mnist, cifar10),
        /// `imagefolder` (class subfolders of JPEG/PNG files in `data_dir`),
        /// or `synthetic` (any shape; no accuracy).
        dataset: String,
        #[serde(default)]
        data_dir: Option<PathBuf>,
    },
    /// Trained: one BN teacher from this training config, shared by every
    /// bit-width pair's student (the pair overrides wbits, abits and
    /// first_last_wbits).
    Trained { train: PathBuf },
}

fn default_classes() -> usize {
    10
}
fn default_seed() -> u64 {
    1
}

/// One bit-width pair.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct BitsPair {
    pub wbits: u8,
    pub abits: u8,
    /// First and last layers' weight bits (default: the training config's
    /// for trained models, `wbits` for random ones).
    #[serde(default)]
    pub first_last_wbits: Option<u8>,
}

/// One array shape.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
#[serde(deny_unknown_fields)]
pub struct ArraySpec {
    pub rows: u32,
    pub cols: u32,
    /// Native PE activation bits (default: the pair's `abits`); wider
    /// layers run in operand-slice passes.
    #[serde(default)]
    pub a_bits: Option<u8>,
    /// Native PE weight bits (default: the pair's `wbits`).
    #[serde(default)]
    pub w_bits: Option<u8>,
}

impl SweepSpec {
    /// Read and check a spec; relative paths inside it are resolved against
    /// the current directory, or failing that the spec's own directory.
    pub fn from_yaml_file(path: &Path) -> Result<SweepSpec, SweepError> {
        let text = std::fs::read_to_string(path).map_err(|source| SweepError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut spec: SweepSpec =
            serde_norway::from_str(&text).map_err(|source| SweepError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        // Absolute, so `tandem sweep job` finds them from any directory.
        let resolve = |p: &Path| {
            let found = flow::resolve_path(p, path);
            std::path::absolute(&found).unwrap_or(found)
        };
        spec.hw_base = resolve(&spec.hw_base);
        spec.energy_table = spec.energy_table.as_deref().map(resolve);
        match &mut spec.models {
            ModelSource::Trained { train } => *train = resolve(train),
            ModelSource::Random { data_dir, .. } => *data_dir = data_dir.as_deref().map(resolve),
        }
        spec.check().map_err(|(field, message)| SweepError::Field {
            path: path.to_path_buf(),
            field,
            message,
        })?;
        Ok(spec)
    }

    /// Field-level checks, naming the field and the fix.
    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.bits.is_empty() {
            return Err(("bits", "list at least one {wbits, abits} pair".into()));
        }
        if self.arrays.is_empty() {
            return Err(("arrays", "list at least one {rows, cols} array".into()));
        }
        if self.batch.is_empty() || self.batch.contains(&0) {
            return Err((
                "batch",
                "list batch sizes of at least 1, e.g. [1, 16]".into(),
            ));
        }
        for pair in &self.bits {
            if !(2..=16).contains(&pair.wbits) || !(1..=16).contains(&pair.abits) {
                return Err((
                    "bits",
                    format!(
                        "w{}a{}: wbits must be 2..=16 and abits 1..=16",
                        pair.wbits, pair.abits
                    ),
                ));
            }
        }
        for array in &self.arrays {
            if array.rows == 0 || array.cols == 0 {
                return Err((
                    "arrays",
                    format!(
                        "{}x{}: rows and cols must be at least 1",
                        array.rows, array.cols
                    ),
                ));
            }
        }
        let mut labels: Vec<String> = Vec::new();
        for point in crate::points::points(self, None) {
            if labels.contains(&point.label) {
                return Err((
                    "bits/arrays/batch",
                    format!(
                        "point {} appears twice; remove the duplicate entry",
                        point.label
                    ),
                ));
            }
            labels.push(point.label);
        }
        Ok(())
    }
}
