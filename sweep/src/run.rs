//! Running one job of a sweep, and the results it leaves in
//! `OUT/jobs/<id>/result.json`.
//!
//! A result records the job's fingerprint: a hash of everything it read
//! (the spec fields that concern it, the files they name, the tandem
//! version, and the fingerprints of the jobs it needs). A later sweep into
//! the same directory reuses a result whose fingerprint matches and reruns
//! the job otherwise, so a resumed or extended sweep redoes only what changed.

use crate::error::{chain, SweepError};
use crate::points::{ArrayShape, Job, JobKind, ModelBits};
use crate::spec::{ModelSource, SweepSpec};
use golden::fast::FastModel;
use report::{EnergyTable, Range, ReportInputs, SynthFlow, SynthOptions};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use trainer::TrainConfig;

/// A sweep: the spec, its jobs and where their results go.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub spec: SweepSpec,
    pub out: PathBuf,
    /// The training config of a trained sweep.
    pub train: Option<TrainConfig>,
    pub jobs: Vec<Job>,
}

/// `result.json` of one job.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobRecord {
    pub id: String,
    pub fingerprint: String,
    /// `None` when the job failed.
    pub result: Option<JobResult>,
    /// The error and its causes, when the job failed.
    pub error: Option<String>,
    pub seconds: f64,
}

/// What a finished job produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobResult {
    Teacher {
        accuracy: f64,
        dir: PathBuf,
    },
    Model {
        dir: PathBuf,
        /// Golden on the test split; `None` on synthetic images.
        accuracy: Option<f64>,
        accuracy_images: usize,
        teacher_accuracy: Option<f64>,
        /// The training method (`None` for a random model) and why it was
        /// chosen.
        #[serde(default)]
        method: Option<trainer::Method>,
        #[serde(default)]
        method_reason: Option<String>,
    },
    Hardware(HardwareResult),
}

/// The measured and modeled figures of one (pair, array).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HardwareResult {
    /// The resolved design (`hwgen::HwSummary`).
    pub hw: serde_json::Value,
    /// What resolving the array for the model changed.
    pub changes: Vec<String>,
    pub sim_images: usize,
    pub mismatches: u64,
    pub batches: Vec<BatchResult>,
    pub cells: Option<u64>,
    pub luts: Option<u64>,
    pub dsps: Option<u64>,
    pub area_mm2_estimate: Option<f64>,
    pub area_status: String,
    /// The report written for it (report.md, rtl/, plots/).
    pub report_dir: PathBuf,
}

/// One batch size of a hardware result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchResult {
    pub batch: usize,
    pub cycles_per_image: f64,
    pub images_per_s: f64,
    /// "measured ..." (the RTL, batch 1) or "modeled ...".
    pub basis: String,
    pub utilization: f64,
    pub energy_per_image_uj: Range,
}

impl Sweep {
    /// The sweep of `spec` into `out`; reads the training config of a
    /// trained sweep (for its first/last widths and the teacher).
    pub fn new(spec: SweepSpec, out: &Path) -> Result<Sweep, SweepError> {
        let train = match &spec.models {
            ModelSource::Trained { train } => {
                let config =
                    TrainConfig::from_yaml_file(train, None).map_err(|e| SweepError::Input {
                        field: "models.train",
                        source: e.into(),
                    })?;
                Some(config)
            }
            ModelSource::Random { .. } => None,
        };
        let default_first_last = train.as_ref().map(|t| t.first_last_wbits);
        let jobs = crate::points::jobs(&spec, default_first_last, train.is_some());
        Ok(Sweep {
            spec,
            // Absolute: fingerprints and the SLURM tasks see one spelling of
            // the output directory, however --out was written.
            out: std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf()),
            train,
            jobs,
        })
    }

    /// The dataset of the test images, and its directory.
    pub fn dataset(&self) -> (String, Option<PathBuf>) {
        match &self.train {
            Some(train) => (train.dataset.clone(), train.data_dir.clone()),
            None => dataset_of(&self.spec),
        }
    }

    pub fn default_first_last(&self) -> Option<u8> {
        self.train.as_ref().map(|t| t.first_last_wbits)
    }

    pub fn job(&self, id: &str) -> Option<&Job> {
        self.jobs.iter().find(|job| job.id == id)
    }

    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.out.join("jobs").join(id)
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.job_dir(id).join("result.json")
    }

    /// The record a job left, if any.
    pub fn record(&self, id: &str) -> Result<Option<JobRecord>, SweepError> {
        let path = self.record_path(id);
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| SweepError::ReadResult {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| SweepError::ParseResult { path, source })
    }

    /// A successful record whose fingerprint matches `job` as specified now.
    pub fn reusable(&self, job: &Job) -> Result<Option<JobRecord>, SweepError> {
        let fingerprint = self.fingerprint(job)?;
        Ok(self
            .record(&job.id)?
            .filter(|r| r.result.is_some() && r.fingerprint == fingerprint))
    }

    /// Hash of everything `job` reads.
    pub fn fingerprint(&self, job: &Job) -> Result<String, SweepError> {
        let spec = &self.spec;
        let file = |path: &Path| -> Result<String, SweepError> {
            let bytes = std::fs::read(path).map_err(|source| SweepError::ReadResult {
                path: path.to_path_buf(),
                source,
            })?;
            Ok(hex(&Sha256::digest(bytes)))
        };
        let mut needs = Vec::new();
        for id in &job.needs {
            let upstream = self
                .job(id)
                .ok_or_else(|| SweepError::Job(format!("job {} needs unknown job {id}", job.id)))?;
            needs.push(self.fingerprint(upstream)?);
        }
        let inputs = match &job.kind {
            JobKind::Teacher => serde_json::json!({ "train": self.teacher_config() }),
            JobKind::Model { bits } => serde_json::json!({
                "models": spec.models,
                "train": self.student_config(*bits).map(|(config, _)| config),
                "accuracy_images": spec.accuracy_images,
            }),
            JobKind::Hardware { array, .. } => serde_json::json!({
                "hw_base": file(&spec.hw_base)?,
                "array": array,
                "batch": spec.batch,
                "sim_images": spec.sim_images,
                "synth": spec.synth,
                "synth_timeout_s": spec.synth_timeout_s,
                "energy_table": spec.energy_table.as_deref().map(file).transpose()?,
                "dataset": dataset_of(spec),
            }),
        };
        let text = serde_json::json!({
            "tandem": env!("CARGO_PKG_VERSION"),
            "job": job,
            "inputs": inputs,
            "needs": needs,
        })
        .to_string();
        Ok(hex(&Sha256::digest(text.as_bytes())))
    }

    /// The teacher's training config, writing into its job's directory.
    fn teacher_config(&self) -> Option<TrainConfig> {
        let mut config = self.train.clone()?;
        config.out = Some(self.job_dir("teacher").join("train"));
        Some(config)
    }

    /// The training config of the student at `bits`, writing into its
    /// job's directory, and why it trains with its method: as `tandem flow`
    /// does, the config's method, else the best measured at these bits.
    fn student_config(&self, bits: ModelBits) -> Option<(TrainConfig, String)> {
        let mut config = self.train.clone()?;
        config.wbits = bits.wbits;
        config.abits = bits.abits;
        config.first_last_wbits = bits.first_last_wbits;
        let method_reason = config.choose_method();
        config.teacher.checkpoint = Some(self.job_dir("teacher").join("train").join("teacher"));
        config.out = Some(self.job_dir(&format!("model-{}", bits.id())).join("train"));
        Some((config, method_reason))
    }

    /// Run `job` (its needs finished) and write its record, success or
    /// failure. `threads`: cores it may use.
    pub fn run_job(&self, job: &Job, threads: usize) -> JobRecord {
        let started = Instant::now();
        let outcome = self.fingerprint(job).and_then(|fingerprint| {
            std::fs::create_dir_all(self.job_dir(&job.id)).map_err(|source| SweepError::Write {
                path: self.job_dir(&job.id),
                source,
            })?;
            let result = match &job.kind {
                JobKind::Teacher => self.run_teacher(threads),
                JobKind::Model { bits } => self.run_model(*bits, threads),
                JobKind::Hardware { bits, array } => {
                    self.run_hardware(&job.id, *bits, *array, threads)
                }
            };
            Ok((fingerprint, result))
        });
        let seconds = started.elapsed().as_secs_f64();
        let record = match outcome {
            Ok((fingerprint, Ok(result))) => JobRecord {
                id: job.id.clone(),
                fingerprint,
                result: Some(result),
                error: None,
                seconds,
            },
            Ok((fingerprint, Err(error))) => JobRecord {
                id: job.id.clone(),
                fingerprint,
                result: None,
                error: Some(chain(&error)),
                seconds,
            },
            Err(error) => JobRecord {
                id: job.id.clone(),
                fingerprint: String::new(),
                result: None,
                error: Some(chain(&error)),
                seconds,
            },
        };
        if let Err(error) = self.write_record(&record) {
            return JobRecord {
                error: Some(chain(&error)),
                result: None,
                ..record
            };
        }
        record
    }

    fn write_record(&self, record: &JobRecord) -> Result<(), SweepError> {
        let path = self.record_path(&record.id);
        let text = serde_json::to_string_pretty(record).expect("records serialize");
        write_atomic(&path, &text)
    }

    fn upstream(&self, id: &str) -> Result<JobResult, SweepError> {
        self.record(id)?
            .and_then(|record| record.result)
            .ok_or_else(|| SweepError::Job(format!("{id} has not finished")))
    }

    fn run_teacher(&self, threads: usize) -> Result<JobResult, SweepError> {
        let mut config = self.teacher_config().expect("trained sweep");
        config.threads = Some(threads);
        let report = trainer::train_teacher_only(&config, false).map_err(job_error("teacher"))?;
        Ok(JobResult::Teacher {
            accuracy: report.accuracy,
            dir: report.dir,
        })
    }

    fn run_model(&self, bits: ModelBits, threads: usize) -> Result<JobResult, SweepError> {
        let dir = self.job_dir(&format!("model-{}", bits.id()));
        match &self.spec.models {
            ModelSource::Trained { .. } => {
                let (mut config, method_reason) = self.student_config(bits).expect("trained sweep");
                config.threads = Some(threads);
                let trained = trainer::train(&config, false).map_err(job_error("training"))?;
                let teacher = self.upstream("teacher")?;
                let teacher_accuracy = match teacher {
                    JobResult::Teacher { accuracy, .. } => Some(accuracy),
                    _ => None,
                };
                Ok(JobResult::Model {
                    dir: trained.model_dir,
                    accuracy: Some(trained.student_accuracy),
                    accuracy_images: trained.test_images,
                    teacher_accuracy,
                    method: Some(trained.method),
                    method_reason: Some(method_reason),
                })
            }
            ModelSource::Random {
                topology,
                width,
                in_channels,
                classes,
                seed,
                ..
            } => {
                let preset = golden::topology::Preset::from_name(topology)
                    .map_err(|e| input_error("models.topology", e))?;
                let topology =
                    golden::topology::Topology::new(preset, *width, *in_channels, *classes)
                        .map_err(|e| input_error("models", e))?;
                let random_bits = golden::random::RandomBits {
                    w_bits: bits.wbits,
                    a_bits: bits.abits,
                    first_last_w_bits: Some(bits.first_last_wbits),
                };
                let model = golden::random::random_model(&topology, random_bits, *seed)
                    .map_err(job_error("random model"))?;
                let model_dir = dir.join("model");
                golden::io::save(&model, &model_dir).map_err(job_error("saving the model"))?;
                let (accuracy, accuracy_images) = self.golden_accuracy(&model, threads)?;
                Ok(JobResult::Model {
                    dir: model_dir,
                    accuracy,
                    accuracy_images,
                    teacher_accuracy: None,
                    method: None,
                    method_reason: None,
                })
            }
        }
    }

    /// Golden's accuracy on the test split (`None` on synthetic images).
    fn golden_accuracy(
        &self,
        model: &golden::Model,
        threads: usize,
    ) -> Result<(Option<f64>, usize), SweepError> {
        let Some(data) = self.test_images(model, self.spec.accuracy_images)? else {
            return Ok((None, 0));
        };
        let fast = FastModel::new(model);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .build()
            .map_err(|e| SweepError::Job(format!("cannot start {threads} threads: {e}")))?;
        let logits = pool.install(|| fast.logits_batch(&data.images, |_| {}));
        let correct = logits
            .iter()
            .zip(&data.labels)
            .filter(|(l, &label)| golden::contract::argmax(l) == Some(label as usize))
            .count();
        Ok((Some(correct as f64 / data.len().max(1) as f64), data.len()))
    }

    /// The first `limit` test images of the sweep's dataset, checked
    /// against the model's input; `None` for synthetic images, which have
    /// no labels worth scoring.
    fn test_images(
        &self,
        model: &golden::Model,
        limit: Option<usize>,
    ) -> Result<Option<datasets::Dataset>, SweepError> {
        let (name, data_dir) = self.dataset();
        if name == SYNTHETIC {
            return Ok(None);
        }
        let data = if name == IMAGE_FOLDER {
            // Class subfolders of JPEG/PNG files, resized and cropped to the
            // model's input (docs/datasets.md).
            let dir = data_dir.as_deref().ok_or_else(|| {
                input_error(
                    "models.data_dir",
                    "dataset: imagefolder needs data_dir, the folder of class subfolders",
                )
            })?;
            datasets::imagefolder::load(dir, model.input.to_array(), limit)
                .map_err(job_error("the image folder"))?
        } else {
            let kind =
                datasets::DatasetKind::from_name(&name).map_err(|e| input_error("dataset", e))?;
            datasets::load(kind, datasets::Split::Test, data_dir.as_deref(), limit)
                .map_err(job_error("the dataset"))?
        };
        let shape = [data.channels, data.height, data.width];
        if shape != model.input.to_array() {
            return Err(SweepError::Job(format!(
                "the model expects {} input images but {} images are {}x{}x{} (a hardware-only sweep can use `dataset: synthetic`)",
                model.input, name, shape[0], shape[1], shape[2]
            )));
        }
        Ok(Some(data))
    }

    /// The images a hardware job simulates: the first `count` test images,
    /// or seeded synthetic images of the model's input shape.
    fn sim_images(
        &self,
        model: &golden::Model,
        count: usize,
    ) -> Result<(Vec<Vec<i32>>, String), SweepError> {
        let data = match self.test_images(model, Some(count))? {
            Some(data) => data,
            None => datasets::synthetic(model.input.to_array(), count, SYNTHETIC_SEED),
        };
        let images = (0..data.len())
            .map(|i| data.image(i).iter().map(|&p| i32::from(p)).collect())
            .collect();
        let source = if self.dataset().0 == SYNTHETIC {
            format!(
                "synthetic images (seed {SYNTHETIC_SEED}) 0..{}, not a dataset",
                data.len()
            )
        } else {
            format!("{} test split, images 0..{}", self.dataset().0, data.len())
        };
        Ok((images, source))
    }

    fn run_hardware(
        &self,
        id: &str,
        bits: ModelBits,
        array: ArrayShape,
        threads: usize,
    ) -> Result<JobResult, SweepError> {
        let spec = &self.spec;
        let model_dir = match self.upstream(&format!("model-{}", bits.id()))? {
            JobResult::Model { dir, .. } => dir,
            _ => {
                return Err(SweepError::Job(format!(
                    "model-{} is not a model",
                    bits.id()
                )))
            }
        };
        let model = golden::io::load(&model_dir).map_err(job_error("loading the model"))?;
        let mut config = hwgen::HwConfig::from_yaml_file(&spec.hw_base)
            .map_err(|e| input_error("hw_base", e))?;
        config.name = id.to_string();
        config.rows = array.rows;
        config.cols = array.cols;
        config.a_bits = array.pe_a_bits;
        config.w_bits = array.pe_w_bits;
        // Sized for this model by resolve (each change recorded).
        config.max_in_bits = None;
        config.max_w_bits = None;
        config.max_out_bits = None;
        // The accumulators hold this model's largest sum exactly, no more.
        let max_k = model
            .layers()
            .iter()
            .filter_map(|layer| layer.gemm().map(|gemm| gemm.k as u64))
            .max()
            .unwrap_or(1);
        let base_max_k = config.max_k.replace(max_k);
        let design =
            hwgen::resolve(&config, Some(&model)).map_err(job_error("resolving the design"))?;
        let mut changes: Vec<String> = design.changes.iter().map(ToString::to_string).collect();
        if base_max_k != Some(max_k) {
            changes.push(format!(
                "max_k {} -> {max_k}: the model's largest GEMM K, so acc_bits: auto sizes the accumulators for this model",
                base_max_k.map_or_else(|| "unset".to_string(), |k| k.to_string())
            ));
        }
        let (images, image_source) = self.sim_images(&model, spec.sim_images)?;
        let energy_table = match &spec.energy_table {
            Some(path) => {
                EnergyTable::from_yaml_file(path).map_err(|e| input_error("energy_table", e))?
            }
            None => EnergyTable::default_45nm(),
        };
        let mut inputs = ReportInputs::new(&design, &model, &energy_table);
        inputs.hw_config_origin = format!("{} ({id})", spec.hw_base.display());
        inputs.model_origin = model_dir.display().to_string();
        inputs.images = &images;
        inputs.image_source = image_source;
        inputs.batch_sizes = spec.batch.clone();
        inputs.threads = threads;
        inputs.synthesis = if spec.synth.is_empty() {
            None
        } else {
            let mut flows = Vec::new();
            for name in &spec.synth {
                flows.push(SynthFlow::from_name(name).ok_or_else(|| {
                    input_error(
                        "synth",
                        format!("unknown flow `{name}` (expected generic, xilinx, ice40)"),
                    )
                })?);
            }
            Some(SynthOptions {
                flows,
                timeout: Duration::from_secs(spec.synth_timeout_s),
                ..SynthOptions::default()
            })
        };
        let report = report::build_report(&inputs).map_err(job_error("the report"))?;
        let report_dir = self.job_dir(id).join("report");
        report
            .write_dir(&report_dir)
            .map_err(job_error("writing the report"))?;
        let simulation = report.simulation.as_ref().ok_or_else(|| {
            SweepError::Job("nothing was simulated (is verilator on PATH? `make setup`)".into())
        })?;
        if simulation.mismatches > 0 {
            return Err(SweepError::Job(format!(
                "the RTL disagrees with golden in {} values (first: {})",
                simulation.mismatches,
                simulation.first_mismatch.clone().unwrap_or_default()
            )));
        }
        if !simulation.cycles_match_formula {
            return Err(SweepError::Job(
                "measured cycles differ from the cycle formula".into(),
            ));
        }
        let batches = spec
            .batch
            .iter()
            .map(|&batch| {
                let figures = report
                    .batches
                    .iter()
                    .find(|b| b.throughput.batch == batch)
                    .expect("the report has every batch size asked for");
                let throughput = if batch == 1 {
                    report.headline_throughput()
                } else {
                    &figures.throughput
                };
                BatchResult {
                    batch,
                    cycles_per_image: throughput.cycles_per_image,
                    images_per_s: throughput.images_per_s,
                    basis: throughput.basis.clone(),
                    utilization: throughput.utilization,
                    energy_per_image_uj: figures.energy.per_image_uj,
                }
            })
            .collect();
        let area = &report.area.summary;
        Ok(JobResult::Hardware(HardwareResult {
            hw: serde_json::to_value(design.summary()).expect("HwSummary serializes"),
            changes,
            sim_images: simulation.images,
            mismatches: simulation.mismatches,
            batches,
            cells: area.cells,
            luts: area.luts,
            dsps: area.dsps,
            area_mm2_estimate: area.area_mm2_estimate,
            area_status: format!("{:?}", report.area.status).to_lowercase(),
            report_dir,
        }))
    }
}

/// The dataset the sweep's images come from, and its directory, as the
/// spec names them (a trained sweep's come from its training config).
fn dataset_of(spec: &SweepSpec) -> (String, Option<PathBuf>) {
    match &spec.models {
        ModelSource::Random {
            dataset, data_dir, ..
        } => (dataset.clone(), data_dir.clone()),
        ModelSource::Trained { train } => (format!("the dataset of {}", train.display()), None),
    }
}

/// The dataset name of an ImageNet-style folder (`data_dir` names it).
const IMAGE_FOLDER: &str = "imagefolder";
/// The dataset name of seeded synthetic images (any shape; never scored).
const SYNTHETIC: &str = "synthetic";
/// Their seed in every sweep (`tandem sim network --dataset synthetic`'s default).
const SYNTHETIC_SEED: u64 = 1;

fn job_error<E: std::error::Error>(what: &'static str) -> impl Fn(E) -> SweepError {
    move |error| SweepError::Job(format!("{what}: {}", chain(&error)))
}

fn input_error(
    field: &'static str,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> SweepError {
    SweepError::Input {
        field,
        source: error.into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Write through a temporary file and rename, so a killed job never leaves
/// half a result behind.
pub(crate) fn write_atomic(path: &Path, text: &str) -> Result<(), SweepError> {
    let write = |path: &Path| -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
    };
    write(path).map_err(|source| SweepError::Write {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A trained sweep over one W2A2 pair whose training config is `train`.
    fn trained_sweep(dir: &Path, train: &str) -> Sweep {
        std::fs::write(dir.join("train.yaml"), train).unwrap();
        let hw = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/hw-8x8-w4a4.yaml");
        let spec = dir.join("sweep.yaml");
        std::fs::write(
            &spec,
            format!(
                "name: t\nmodels: {{ source: trained, train: {} }}\n\
                 bits: [ {{ wbits: 2, abits: 2 }} ]\narrays: [ {{ rows: 4, cols: 4 }} ]\n\
                 hw_base: {}\nbatch: [1]\n",
                dir.join("train.yaml").display(),
                hw.display()
            ),
        )
        .unwrap();
        Sweep::new(SweepSpec::from_yaml_file(&spec).unwrap(), &dir.join("out")).unwrap()
    }

    const W2A2: ModelBits = ModelBits {
        wbits: 2,
        abits: 2,
        first_last_wbits: 8,
    };

    #[test]
    fn students_train_with_the_measured_best_unless_the_config_sets_a_method() {
        let dir = tempfile::tempdir().unwrap();
        let sweep = trained_sweep(dir.path(), "preset: quick\n");
        let (student, reason) = sweep.student_config(W2A2).unwrap();
        assert_eq!(student.method, trainer::method::best_for(2, 2).method);
        assert!(reason.contains("set `method:`"), "{reason}");

        let sweep = trained_sweep(dir.path(), "preset: quick\nmethod: quantized-teacher\n");
        let (student, reason) = sweep.student_config(W2A2).unwrap();
        assert_eq!(student.method, trainer::Method::QuantizedTeacher);
        assert!(reason.contains("set in the training config"), "{reason}");
    }
}
