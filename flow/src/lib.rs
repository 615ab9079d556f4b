//! # flow: the whole Tandem job in one call
//!
//! [`run`] trains (BN teacher + integer student, by the best measured
//! method unless the training config names one), exports the
//! integer model, resolves the hardware config for it **once**
//! ([`hwgen::resolve`]), and hands that one [`hwgen::Design`] to everything
//! after: the RTL written to `hw/`, the Verilator simulation of real test
//! images, and the throughput / energy / area report (whose `rtl/` copy is
//! byte for byte `hw/`). It writes `sim.json` and `flow.json` from the
//! [`sim::network::NetworkSummary`] and [`FlowSummary`] types, so the keys
//! are the same as in `tandem sim network --json` and `tandem flow --json`.

use datasets::{self as dataset, DatasetKind, Split};
use hwgen::{DesignSource, HwConfig};
use report::{EnergyTable, ReportInputs, SynthOptions};
use serde::{Deserialize, Serialize};
use sim::array::ArrayOptions;
use sim::network::NetworkSummary;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;
use trainer::TrainConfig;

/// Why the flow stopped.
#[derive(Debug, Error)]
pub enum FlowError {
    #[error("{}: cannot read the flow config", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a valid flow config", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
    #[error("{}: {field}: {message}", .path.display())]
    Field {
        path: PathBuf,
        field: &'static str,
        message: String,
    },
    #[error("flow config {}: field `{field}`", .path.display())]
    Input {
        path: PathBuf,
        field: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("training failed")]
    Train(#[from] trainer::TrainError),
    #[error("the trainer's integer forward and golden disagree on {0} logits")]
    LogitMismatch(usize),
    #[error("cannot load the exported model")]
    Model(#[source] golden::model::ModelError),
    #[error("cannot resolve the hardware config for the model")]
    Resolve(#[source] hwgen::HwConfigError),
    #[error("cannot write the design")]
    Design(#[from] hwgen::WriteError),
    #[error("cannot load the dataset")]
    Dataset(#[from] datasets::DatasetError),
    #[error(
        "verilator is not on PATH: run `make setup` (Debian/Ubuntu: apt-get install verilator)"
    )]
    NoVerilator,
    #[error("the RTL simulation failed")]
    Simulation(#[from] sim::array::DriverError),
    #[error("the RTL disagrees with golden ({count} values; first: {first})")]
    RtlMismatch { count: u64, first: String },
    #[error("cannot build the report")]
    Report(#[from] report::ReportError),
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// `configs/flow-*.yaml`. Paths are relative to the current directory, or
/// failing that to the flow config's own directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "flow config")]
pub struct FlowConfig {
    /// Training config (configs/train-*.yaml).
    pub train: PathBuf,
    /// Hardware config (configs/hw-*.yaml); resolved for the trained model.
    pub hw: PathBuf,
    /// Test images to run through the whole network on the RTL.
    #[serde(default = "default_sim_images")]
    pub sim_images: usize,
    /// Test images the report simulates (its measured figures).
    #[serde(default = "default_report_images")]
    pub report_images: usize,
    /// Run yosys for the area figures.
    #[serde(default = "default_true")]
    pub synth: bool,
    /// Energy table (default: the built-in configs/energy-45nm.yaml).
    #[serde(default)]
    pub energy_table: Option<PathBuf>,
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

/// Where a path written in the config file `config_file` points: itself when
/// it is absolute or exists from the working directory, else the same path
/// beside the config file when that exists, else itself unchanged (so the
/// error that follows names the path as written). `tandem sweep` specs
/// follow the same rule.
pub fn resolve_path(path: &Path, config_file: &Path) -> PathBuf {
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

impl FlowConfig {
    /// Read and check a flow config file.
    pub fn from_yaml_file(path: &Path) -> Result<FlowConfig, FlowError> {
        let text = std::fs::read_to_string(path).map_err(|source| FlowError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut config: FlowConfig =
            serde_norway::from_str(&text).map_err(|source| FlowError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        config.train = resolve_path(&config.train, path);
        config.hw = resolve_path(&config.hw, path);
        config.energy_table = config.energy_table.map(|t| resolve_path(&t, path));
        if config.sim_images == 0 {
            return Err(FlowError::Field {
                path: path.to_path_buf(),
                field: "sim_images",
                message: "0: the flow must run at least one image on the RTL".into(),
            });
        }
        Ok(config)
    }
}

/// Where the flow put everything.
#[derive(Debug, Clone, Serialize)]
pub struct Artifacts {
    pub model: PathBuf,
    pub teacher: PathBuf,
    pub train_summary: PathBuf,
    pub rtl: PathBuf,
    pub sim: PathBuf,
    pub report: PathBuf,
    pub summary: PathBuf,
}

/// `flow.json`, and what `tandem flow --json` prints last.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSummary {
    pub dataset: String,
    pub w_bits: u8,
    pub a_bits: u8,
    pub first_last_w_bits: u8,
    pub width: f64,
    pub teacher_accuracy: f64,
    pub bn_free_float_accuracy: f64,
    pub ptq_accuracy: f64,
    /// How the student was trained ([`trainer::Method`]).
    pub method: trainer::Method,
    /// Why: set in the training config, or the best measured for its
    /// bit-widths.
    pub method_reason: String,
    pub student_accuracy: f64,
    pub test_images: usize,
    pub logit_mismatches: usize,
    /// The design, resolved once for the model.
    pub hw: hwgen::HwSummary,
    pub rtl_images: usize,
    pub rtl_mismatches: u64,
    pub rtl_correct: usize,
    pub cycles_per_image: f64,
    /// Per layer, summed over the RTL images (as in `sim.json`).
    pub layers: Vec<sim::network::LayerSummary>,
    /// `tandem report --json`'s object.
    pub report: serde_json::Value,
    pub seconds: f64,
    pub artifacts: Artifacts,
}

/// The whole flow, plus the built report (for the caller's text output).
pub struct FlowRun {
    pub summary: FlowSummary,
    pub report: report::Report,
}

/// Run the flow of `config_file` into `out`. `step` is told each stage's
/// one-line description; `train_progress` shows the trainer's progress.
pub fn run(
    config_file: &Path,
    out: &Path,
    train_progress: bool,
    step: &dyn Fn(&str),
) -> Result<FlowRun, FlowError> {
    let started = Instant::now();
    let flow = FlowConfig::from_yaml_file(config_file)?;
    let input = |field: &'static str| {
        move |source: Box<dyn std::error::Error + Send + Sync>| FlowError::Input {
            path: config_file.to_path_buf(),
            field,
            source,
        }
    };
    // Check every input before the long training run.
    let mut train_config =
        TrainConfig::from_yaml_file(&flow.train, None).map_err(|e| input("train")(e.into()))?;
    let train_dir = out.join("train");
    train_config.out = Some(train_dir.clone());
    let method_choice = train_config.choose_method();
    train_config.validate()?;
    let hw_config = HwConfig::from_yaml_file(&flow.hw).map_err(|e| input("hw")(e.into()))?;
    let energy_table = match &flow.energy_table {
        Some(path) => {
            EnergyTable::from_yaml_file(path).map_err(|e| input("energy_table")(e.into()))?
        }
        None => EnergyTable::default_45nm(),
    };
    if !sim::verilator_available() {
        return Err(FlowError::NoVerilator);
    }
    create_dir(out)?;

    step(&format!(
        "1/4 train: BN teacher, integer student by method {method_choice}, export, verify against golden"
    ));
    let trained = trainer::train(&train_config, train_progress)?;
    if trained.logit_mismatches > 0 {
        return Err(FlowError::LogitMismatch(trained.logit_mismatches));
    }
    let model = golden::io::load(&trained.model_dir).map_err(FlowError::Model)?;

    step("2/4 hwgen: the design, resolved once for the model, and its Verilog");
    let hw_dir = out.join("hw");
    let design = hwgen::resolve(&hw_config, Some(&model))
        .map_err(FlowError::Resolve)?
        .with_source(DesignSource {
            hw_config: Some(flow.hw.display().to_string()),
            model_dir: Some(trained.model_dir.display().to_string()),
            out_dir: Some(hw_dir.display().to_string()),
        });
    hwgen::write_design(&design, Some(&model), &hw_dir)?;

    step(&format!(
        "3/4 sim: {} test images through the RTL in Verilator, every layer against golden",
        flow.sim_images
    ));
    let kind = DatasetKind::from_name(&train_config.dataset)?;
    let data = dataset::load(
        kind,
        Split::Test,
        train_config.data_dir.as_deref(),
        Some(flow.sim_images),
    )?;
    let images: Vec<Vec<i32>> = (0..data.len())
        .map(|i| data.image(i).iter().map(|&p| i32::from(p)).collect())
        .collect();
    // Independent images on independent verilated instances, one per core;
    // the result is identical to one thread.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = sim::network::run_network_parallel(
        &design,
        &ArrayOptions::default(),
        &model,
        &images,
        1,
        threads,
        |_| {},
    )?;
    let simulated = NetworkSummary::new(&design, &run, &data.labels, 1);
    let sim_path = out.join("sim.json");
    write_json(&sim_path, &simulated)?;
    if run.mismatches() > 0 {
        return Err(FlowError::RtlMismatch {
            count: run.mismatches(),
            first: run.first_mismatch.clone().unwrap_or_default(),
        });
    }

    step("4/4 report: throughput, energy, area");
    let report_images: Vec<Vec<i32>> = images.iter().take(flow.report_images).cloned().collect();
    let report_labels: Vec<u8> = data
        .labels
        .iter()
        .take(report_images.len())
        .copied()
        .collect();
    let mut inputs = ReportInputs::new(&design, &model, &energy_table);
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
    let built = report::build_report(&inputs)?;
    let report_dir = out.join("report");
    built.write_dir(&report_dir)?;

    let flow_path = out.join("flow.json");
    let summary = FlowSummary {
        dataset: trained.dataset.clone(),
        w_bits: trained.w_bits,
        a_bits: trained.a_bits,
        first_last_w_bits: trained.first_last_w_bits,
        width: trained.width,
        teacher_accuracy: trained.teacher_accuracy,
        bn_free_float_accuracy: trained.bn_free_float_accuracy,
        ptq_accuracy: trained.ptq_accuracy,
        method: trained.method,
        method_reason: method_choice,
        student_accuracy: trained.student_accuracy,
        test_images: trained.test_images,
        logit_mismatches: trained.logit_mismatches,
        hw: design.summary(),
        rtl_images: simulated.images,
        rtl_mismatches: simulated.mismatches,
        rtl_correct: simulated.correct,
        cycles_per_image: simulated.cycles_per_image,
        layers: simulated.layers,
        report: built.summary(),
        seconds: started.elapsed().as_secs_f64(),
        artifacts: Artifacts {
            model: trained.model_dir.clone(),
            teacher: trained.teacher_dir.clone(),
            train_summary: train_dir.join("summary.json"),
            rtl: hw_dir,
            sim: sim_path,
            report: report_dir.join("report.md"),
            summary: flow_path.clone(),
        },
    };
    write_json(&flow_path, &summary)?;
    Ok(FlowRun {
        summary,
        report: built,
    })
}

fn create_dir(dir: &Path) -> Result<(), FlowError> {
    std::fs::create_dir_all(dir).map_err(|source| FlowError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), FlowError> {
    let text = serde_json::to_string_pretty(value).expect("flow results always serialize");
    std::fs::write(path, text + "\n").map_err(|source| FlowError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::resolve_path;

    #[test]
    fn a_path_missing_here_is_found_beside_its_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("flow.yaml");
        let name = std::path::Path::new("tandem-resolve-path-test-train.yaml");
        std::fs::write(dir.path().join(name), "").unwrap();
        assert_eq!(resolve_path(name, &config), dir.path().join(name));
        // Neither here nor beside: the path as written, for the error to name.
        let missing = std::path::Path::new("tandem-resolve-path-test-missing.yaml");
        assert_eq!(resolve_path(missing, &config), missing);
    }
}
