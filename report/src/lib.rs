//! # report: throughput, energy and area of a Tandem design point
//!
//! [`build_report`] takes a hardware config, an integer model, a few real
//! test images and an energy table, and produces a [`Report`]:
//!
//! - **Throughput**: measured RTL cycles per layer (the images are run
//!   through the verilated array with `sim::network::run_network`, every
//!   value checked against golden) and the analytical cycle formula
//!   (`hwgen::gemm_cycles`) per layer GEMM, also at batch sizes above 1
//!   (modeled: a batch streams as `M = batch x pixels` GEMM rows).
//! - **Energy**: activity per layer ([`activity`]: MACs, register loads and
//!   moves, accumulator updates, requantizer operations, buffer and DRAM
//!   traffic) times energy per action ([`energy_table`], e.g.
//!   `configs/energy-45nm.yaml`), at the table's low / typical / high corners.
//! - **Area**: yosys statistics of the generated RTL per module and per PE
//!   ([`synth`]: generic gates, Xilinx LUT/FF/DSP, iCE40 LUT4/FF).
//!
//! [`Report::write_dir`] writes `report.md`, `report.json`, CSV tables, SVG
//! plots, the synthesized RTL and the yosys scripts. Every figure is
//! labelled *measured* (RTL simulation), *modeled* (formula or activity x
//! table) or *synthesized* (yosys). The model and its sources:
//! `docs/energy-area.md`.

pub mod activity;
pub mod energy;
pub mod energy_table;
mod plots;
pub mod registers;
mod render;
pub mod synth;

pub use energy_table::{Corner, EnergyTable, EnergyTableError, Range};
pub use synth::{SynthFlow, SynthOptions};

use activity::{count_layer, layer_work, BufferSizes, GemmShapeJson, LayerActivity, LayerWork};
use energy::{layer_energy, totals, EnergyTotals, LayerEnergy};
use golden::model::Model;
use hwgen::memimage::MemImageError;
use hwgen::{Design, HwConfig, HwSummary};
use serde::Serialize;
use sim::array::{ArrayOptions, ArraySim, DriverError};
use std::path::{Path, PathBuf};
use std::time::Instant;
use synth::{FlowResult, FlowStatus};
use thiserror::Error;

/// Batch sizes the modeled figures use when the caller gives none.
pub const DEFAULT_BATCH_SIZES: [usize; 4] = [1, 8, 32, 128];
/// The largest batch the model accepts (keeps tile enumeration small).
pub const MAX_BATCH: usize = 4096;

/// Why a report could not be built or written.
#[derive(Debug, Error)]
pub enum ReportError {
    #[error("the design cannot hold the model")]
    Design(#[from] MemImageError),
    #[error("the RTL simulation failed")]
    Simulation(#[from] DriverError),
    #[error("{0}")]
    Inputs(String),
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw {plot}: {message}")]
    Plot { plot: String, message: String },
}

/// Progress, for a spinner or a log.
#[derive(Debug, Clone)]
pub enum ProgressEvent {
    /// A new phase starts (one line of text).
    Stage(String),
    /// `done` of `total` images simulated.
    ImageSimulated { done: usize, total: usize },
    /// A synthesis flow finished.
    FlowDone {
        flow: SynthFlow,
        seconds: f64,
        ok: bool,
    },
}

/// Everything [`build_report`] needs.
pub struct ReportInputs<'a> {
    /// The resolved design point (`hwgen::resolve` with the model): the
    /// report simulates, counts, prices and synthesizes exactly this.
    pub design: &'a Design,
    /// Where the config came from (a path), for the report.
    pub hw_config_origin: String,
    pub model: &'a Model,
    /// Where the model came from (a directory), for the report.
    pub model_origin: String,
    /// Test images to simulate on the RTL (`C*H*W` raw pixels each). Empty:
    /// modeled figures only.
    pub images: &'a [Vec<i32>],
    /// Labels of `images` (for the accuracy line), if known.
    pub labels: Option<&'a [u8]>,
    /// What the images are, e.g. "fashion-mnist test split, images 0..2".
    pub image_source: String,
    /// Size of the whole test set, for the modeled whole-test-set figures.
    pub test_set_images: Option<u64>,
    pub energy_table: &'a EnergyTable,
    /// Batch sizes of the modeled figures (1 is always included).
    pub batch_sizes: Vec<usize>,
    /// `None`: skip synthesis (`--no-synth`).
    pub synthesis: Option<SynthOptions>,
    /// Verilated instances simulating images at once (each on its own
    /// thread; results identical to one). Default: all cores.
    pub threads: usize,
    pub progress: Option<&'a (dyn Fn(ProgressEvent) + Sync)>,
}

impl<'a> ReportInputs<'a> {
    /// Inputs with defaults: no images (modeled only), the default batch
    /// sizes, all synthesis flows.
    pub fn new(design: &'a Design, model: &'a Model, energy_table: &'a EnergyTable) -> Self {
        ReportInputs {
            design,
            hw_config_origin: format!("<config {}>", design.config.name),
            model,
            model_origin: format!("<model {}>", model.name),
            images: &[],
            labels: None,
            image_source: String::new(),
            test_set_images: None,
            energy_table,
            batch_sizes: DEFAULT_BATCH_SIZES.to_vec(),
            synthesis: Some(SynthOptions::default()),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: None,
        }
    }

    fn report(&self, event: ProgressEvent) {
        if let Some(progress) = self.progress {
            progress(event);
        }
    }
}

/// The design point.
#[derive(Debug, Clone, Serialize)]
pub struct DesignInfo {
    /// The config the RTL was generated from (resolved for the model).
    pub config: HwConfig,
    pub config_origin: String,
    /// `config.summary()`.
    pub summary: String,
    /// The resolved widths and every change made to the config as written.
    pub hw: HwSummary,
    pub acc_bits: u32,
    pub macs_per_cycle: u64,
    /// `2 * rows * cols * clock`: the array's peak, GOPS.
    pub peak_gops: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub topology: String,
    pub width: f64,
    pub origin: String,
    pub input: String,
    pub macs_per_image: u64,
    /// Weights + bias/shift of all layers, bytes (packed at layer widths).
    pub weight_bytes: u64,
}

/// What the RTL simulation measured.
#[derive(Debug, Clone, Serialize)]
pub struct SimulationInfo {
    pub images: usize,
    pub image_source: String,
    /// Output values compared with golden, and how many differed.
    pub values_compared: u64,
    pub mismatches: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_mismatch: Option<String>,
    pub predictions: Vec<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<u8>>,
    /// Measured cycles equal the formula's for every layer.
    pub cycles_match_formula: bool,
    /// Wall-clock seconds of the simulation (Verilator build excluded).
    pub wall_seconds: f64,
    /// Threads (verilated instances) it ran on.
    pub threads: usize,
}

/// One compute layer, per image.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub name: String,
    pub kind: &'static str,
    pub gemm: GemmShapeJson,
    pub in_bits: u8,
    pub w_bits: u8,
    /// `None`: logits (32-bit).
    pub out_bits: Option<u8>,
    pub macs: u64,
    /// Operand-slice passes: `act_slices * weight_slices` (1 when the
    /// layer's operands fit the PEs' native widths).
    pub passes: u32,
    /// `ceil(in_bits / a_bits)`.
    pub act_slices: u32,
    /// `ceil(w_bits / native w_bits)`.
    pub weight_slices: u32,
    /// Measured RTL cycles per image (mean over the simulated images).
    pub cycles_measured: Option<f64>,
    /// `hwgen::gemm_cycles` for the layer's GEMM in its passes (batch 1).
    pub cycles_modeled: u64,
    /// `hwgen::gemm_cycles` for the same GEMM in one pass: what PEs as
    /// wide as the layer's operands would need at the same array shape.
    pub cycles_one_pass: u64,
    pub utilization_measured: Option<f64>,
    pub utilization_modeled: f64,
    /// Actions counted at batch 1.
    pub activity: LayerActivity,
    /// Energy at batch 1 (modeled).
    pub energy: LayerEnergy,
}

/// Cycles the operand-slice passes cost, per image at batch 1 (modeled):
/// every compute layer in its passes against the same layers in one pass
/// each, i.e. against PEs as wide as the widest layer (`max_in_bits` x
/// `max_w_bits`) at the same array shape and accumulator depth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlicePassCost {
    /// Layers that run in more than one pass.
    pub layers_in_passes: usize,
    /// The most passes any layer takes.
    pub max_passes: u32,
    /// Sum of `hwgen::gemm_cycles(config, shape, passes)`.
    pub cycles: u64,
    /// Sum of `hwgen::gemm_cycles(config, shape, Passes::ONE)`.
    pub one_pass_cycles: u64,
    /// `cycles - one_pass_cycles`.
    pub extra_cycles: u64,
    /// `extra_cycles / cycles` (0 without cycles).
    pub share: f64,
}

impl SlicePassCost {
    pub fn of(layers: &[LayerReport]) -> SlicePassCost {
        let cycles: u64 = layers.iter().map(|l| l.cycles_modeled).sum();
        let one_pass_cycles: u64 = layers.iter().map(|l| l.cycles_one_pass).sum();
        let extra_cycles = cycles.saturating_sub(one_pass_cycles);
        SlicePassCost {
            layers_in_passes: layers.iter().filter(|l| l.passes > 1).count(),
            max_passes: layers.iter().map(|l| l.passes).max().unwrap_or(1),
            cycles,
            one_pass_cycles,
            extra_cycles,
            share: if cycles > 0 {
                extra_cycles as f64 / cycles as f64
            } else {
                0.0
            },
        }
    }

    /// One sentence for text output, e.g. "operand-slice passes: 2 layers in
    /// up to 4 passes cost 1,234 of 5,678 modeled cycles per image (21.7%)".
    pub fn sentence(&self) -> String {
        if self.layers_in_passes == 0 {
            return "operand-slice passes: none (every layer fits the PEs in one pass)".into();
        }
        format!(
            "operand-slice passes: {} layer{} in up to {} passes cost {} of {} modeled cycles per image ({:.1}%; one-pass PEs as wide as the widest layer: {})",
            self.layers_in_passes,
            if self.layers_in_passes == 1 { "" } else { "s" },
            self.max_passes,
            render::int(self.extra_cycles),
            render::int(self.cycles),
            100.0 * self.share,
            render::int(self.one_pass_cycles)
        )
    }
}

/// Throughput at one batch size.
#[derive(Debug, Clone, Serialize)]
pub struct ThroughputFigures {
    /// "measured" or "modeled", with the source.
    pub basis: String,
    pub batch: usize,
    pub cycles_per_batch: f64,
    pub cycles_per_image: f64,
    /// Time from the first weight load to the batch's last logit, us.
    pub latency_us: f64,
    pub images_per_s: f64,
    /// Useful MACs per cycle.
    pub macs_per_cycle: f64,
    /// `macs_per_cycle / (rows * cols)`.
    pub utilization: f64,
    /// Effective GOPS (2 ops per MAC).
    pub gops: f64,
}

/// Modeled figures at one batch size: throughput, energy, buffers.
#[derive(Debug, Clone, Serialize)]
pub struct BatchFigures {
    pub throughput: ThroughputFigures,
    pub energy: EnergyTotals,
    pub buffers: BufferSizes,
    /// Off-chip traffic per image (weights shared by the batch).
    pub dram_bytes_per_image: f64,
    /// Modeled time and energy for the whole test set at this batch size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_set: Option<TestSetFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TestSetFigures {
    pub images: u64,
    pub seconds: f64,
    pub energy_j: Range,
}

/// Area and resources.
#[derive(Debug, Clone, Serialize)]
pub struct AreaReport {
    /// `synthesized` (every requested flow succeeded), `partial` (some
    /// did: `failed_flows` names the others), `failed` (none did),
    /// `skipped` (no synthesis asked for) or `unavailable` (no yosys).
    /// docs/energy-area.md describes them.
    pub status: &'static str,
    /// Why synthesis was skipped, unavailable, partial or failed: every
    /// failed flow with its reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yosys_version: Option<String>,
    /// The flows that timed out or failed (no figures from them).
    pub failed_flows: Vec<SynthFlow>,
    pub flows: Vec<FlowResult>,
    pub summary: AreaSummary,
}

/// The headline area figures (None where the flow did not run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AreaSummary {
    /// Generic gate-level cells, whole design.
    pub cells: Option<u64>,
    pub flip_flops: Option<u64>,
    /// Standard-cell area estimate from the generic cells, mm^2.
    pub area_mm2_estimate: Option<f64>,
    /// Generic cells the area table could not price.
    pub unpriced_cells: Option<u64>,
    pub luts: Option<u64>,
    pub xilinx_ffs: Option<u64>,
    pub dsps: Option<u64>,
    pub lutram: Option<u64>,
    pub ice40_lut4: Option<u64>,
    pub ice40_ffs: Option<u64>,
    /// Per processing element (the PE module's total / rows*cols).
    pub per_pe: PerPe,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PerPe {
    pub cells: Option<f64>,
    pub flip_flops: Option<f64>,
    pub area_um2_estimate: Option<f64>,
    pub luts: Option<f64>,
    pub dsps: Option<f64>,
    pub ice40_lut4: Option<f64>,
}

/// A finished report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tandem_version: &'static str,
    pub design: DesignInfo,
    pub model: ModelInfo,
    /// `None`: nothing was simulated (no images, or no Verilator).
    pub simulation: Option<SimulationInfo>,
    pub layers: Vec<LayerReport>,
    /// Measured at batch 1 (when simulated).
    pub measured: Option<ThroughputFigures>,
    /// Modeled, one entry per batch size (batch 1 first).
    pub batches: Vec<BatchFigures>,
    /// What the operand-slice passes cost in cycles (modeled, batch 1).
    pub slice_passes: SlicePassCost,
    pub area: AreaReport,
    pub energy_table: EnergyTable,
    /// The modelling assumptions, as stated in docs/energy-area.md.
    pub assumptions: Vec<&'static str>,
    /// Things the reader must know about this run.
    pub notes: Vec<String>,
    /// The design's files (`hwgen::design_files`), written to `rtl/`:
    /// byte for byte what `tandem hwgen --model` writes for it.
    #[serde(skip)]
    pub rtl: Vec<hwgen::GeneratedFile>,
}

/// The assumptions behind every modeled figure (docs/energy-area.md has
/// the long form).
pub const ASSUMPTIONS: [&str; 11] = [
    "Layers run one after another, each as one GEMM through the canonical schedule; host work (im2col, max-pool, flatten) is free and overlapped.",
    "A batch of B images streams as one GEMM of M = B x pixels rows per layer (linear layers: M = B); the schedule and hwgen::gemm_cycles are unchanged, so batch figures are modeled, not simulated.",
    "Arithmetic energy counts useful MACs only, at the layer's own widths, or its operand slices' widths when it runs in passes (zero-padded rows and columns do not toggle); registers are counted at the hardware's widths for every vector across the whole array (no clock gating).",
    "Multipliers scale with the product of operand widths, adders and registers and memories linearly with width (energy table `scaling`).",
    "Requantizer: bias add, rounding add, barrel shift and clamp compare as four 32-bit adds per output (logits: one).",
    "Accumulator bank: one register-file read, one write and one add of acc_bits per vector per column, plus its output register.",
    "Weight buffer: holds the largest layer's weights + bias/shift; each layer's weights are fetched from DRAM once per batch and read from the buffer once per tile.",
    "Activation buffer: holds the largest input + output feature maps of any layer for the whole batch; activations never leave the chip; im2col vectors are read from it (k_len values each, no line buffer).",
    "DRAM traffic: all weights + bias/shift once per batch, the 8-bit input image, the 32-bit logits; SRAM writes cost as much as reads.",
    "No leakage, clock-tree or idle-cycle energy; no host or I/O energy.",
    "A layer wider than the PEs runs in ceil(a_in/A) x ceil(w/W) operand-slice passes, each counted at the widths the PEs see in it: multiplier bit products are unchanged by slicing (the slice widths add up to the layer's), while vectors, register moves, accumulator traffic, buffer reads and weight loads are counted once per pass; the slice shifter before each accumulator add is priced as shift-stages x acc_bits adder bits per vector and column (an upper bound).",
];

fn throughput(
    config: &HwConfig,
    basis: String,
    batch: usize,
    cycles_per_batch: f64,
    macs_per_image: u64,
) -> ThroughputFigures {
    let batch_f = batch as f64;
    let cycles_per_image = cycles_per_batch / batch_f;
    let clock_hz = config.clock_mhz * 1e6;
    let macs_per_cycle = if cycles_per_image > 0.0 {
        macs_per_image as f64 / cycles_per_image
    } else {
        0.0
    };
    let images_per_s = if cycles_per_image > 0.0 {
        clock_hz / cycles_per_image
    } else {
        0.0
    };
    ThroughputFigures {
        basis,
        batch,
        cycles_per_batch,
        cycles_per_image,
        latency_us: cycles_per_batch / clock_hz * 1e6,
        images_per_s,
        macs_per_cycle,
        utilization: macs_per_cycle / config.macs_per_cycle() as f64,
        gops: 2.0 * macs_per_cycle * clock_hz / 1e9,
    }
}

/// Energy of every layer at `batch`, and the buffers assumed.
fn energy_at_batch(
    design: &Design,
    table: &EnergyTable,
    works: &[LayerWork],
    batch: usize,
) -> (Vec<LayerActivity>, Vec<LayerEnergy>, BufferSizes) {
    let buffers = BufferSizes::for_layers(design, works, batch);
    let activities: Vec<LayerActivity> = works
        .iter()
        .map(|work| count_layer(design, work, batch))
        .collect();
    let energies = activities
        .iter()
        .map(|activity| layer_energy(table, &buffers, activity))
        .collect();
    (activities, energies, buffers)
}

/// Build the report: size the config, simulate the images, count, price
/// and synthesize. Synthesis problems (no yosys, a failing flow) are
/// recorded in the report, not returned as errors.
pub fn build_report(inputs: &ReportInputs<'_>) -> Result<Report, ReportError> {
    let model = inputs.model;
    let table = inputs.energy_table;
    let mut notes = Vec::new();

    // Resolved once by the caller: no sizing here.
    let design = inputs.design;
    let config = &design.config;
    let rtl = hwgen::design_files(design, Some(model))?;
    for change in &design.changes {
        notes.push(format!("the config was resolved for the model: {change}"));
    }

    let mut batch_sizes: Vec<usize> = inputs.batch_sizes.clone();
    batch_sizes.push(1);
    batch_sizes.sort_unstable();
    batch_sizes.dedup();
    if let Some(&bad) = batch_sizes.iter().find(|&&b| b == 0 || b > MAX_BATCH) {
        return Err(ReportError::Inputs(format!(
            "batch size {bad}: must be 1..={MAX_BATCH}"
        )));
    }
    let expected_len = model.input.len();
    if let Some((index, image)) = inputs
        .images
        .iter()
        .enumerate()
        .find(|(_, image)| image.len() != expected_len)
    {
        return Err(ReportError::Inputs(format!(
            "image {index} has {} values but the model expects {} ({})",
            image.len(),
            expected_len,
            model.input
        )));
    }

    // Measured: the RTL, image by image.
    let mut run = None;
    let mut simulation = None;
    if !inputs.images.is_empty() {
        if sim::verilator_available() {
            inputs.report(ProgressEvent::Stage(format!(
                "building the RTL of {} with Verilator (cached after the first time)",
                config.name
            )));
            let options = ArrayOptions::default();
            // Built (or found in the cache) here, so the timing below is the
            // simulation alone.
            drop(ArraySim::new(design, &options)?);
            let total = inputs.images.len();
            let threads = sim::network::parallel_threads(total, 1, inputs.threads, false);
            inputs.report(ProgressEvent::Stage(format!(
                "simulating {total} images on the RTL ({threads} at a time)"
            )));
            let done = std::sync::atomic::AtomicUsize::new(0);
            let started = Instant::now();
            let network = sim::network::run_network_parallel(
                design,
                &options,
                model,
                inputs.images,
                1,
                threads,
                |_| {
                    let done = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    inputs.report(ProgressEvent::ImageSimulated { done, total })
                },
            )?;
            let wall_seconds = started.elapsed().as_secs_f64();
            let cycles_match_formula = network
                .layers
                .iter()
                .all(|layer| layer.cycles == layer.model_cycles);
            if network.mismatches() > 0 {
                notes.push(format!(
                    "the RTL disagreed with golden in {} values (first: {}); measured cycles are still reported",
                    network.mismatches(),
                    network.first_mismatch.clone().unwrap_or_default()
                ));
            }
            simulation = Some(SimulationInfo {
                images: total,
                image_source: inputs.image_source.clone(),
                values_compared: network.layers.iter().map(|l| l.values).sum(),
                mismatches: network.mismatches(),
                first_mismatch: network.first_mismatch.clone(),
                predictions: network.predictions.clone(),
                labels: inputs.labels.map(<[u8]>::to_vec),
                cycles_match_formula,
                wall_seconds,
                threads,
            });
            run = Some(network);
        } else {
            notes.push(
                "verilator is not on PATH, so nothing was simulated: every throughput figure is modeled (install verilator, e.g. `make setup`, for measured cycles)"
                    .to_string(),
            );
        }
    } else {
        notes.push(
            "no images were simulated (--images 0): every throughput figure is modeled".into(),
        );
    }

    // Modeled: counts and energy per batch size.
    inputs.report(ProgressEvent::Stage(
        "counting actions and pricing them".into(),
    ));
    let works = layer_work(model);
    let macs_per_image: u64 = works.iter().map(|w| w.shape.macs()).sum();
    let mut batches = Vec::new();
    let mut batch1 = None;
    for &batch in &batch_sizes {
        let (activities, energies, buffers) = energy_at_batch(design, table, &works, batch);
        let cycles: u64 = activities
            .iter()
            .map(|a| hwgen::gemm_cycles(config, a.shape.gemm(), a.passes))
            .sum();
        let figures = throughput(
            config,
            "modeled (hwgen::gemm_cycles per layer GEMM)".into(),
            batch,
            cycles as f64,
            macs_per_image,
        );
        let energy = totals(&energies);
        let test_set = inputs.test_set_images.map(|images| TestSetFigures {
            images,
            // Whole batches; a partial last batch takes a full batch's time.
            seconds: images.div_ceil(batch as u64) as f64 * cycles as f64
                / (config.clock_mhz * 1e6),
            energy_j: energy.per_image_uj.scale(images as f64 * 1e-6),
        });
        let dram_bits: u64 = activities
            .iter()
            .map(|a| a.units(activity::ActionKind::Dram))
            .sum();
        let dram_bytes_per_image = dram_bits as f64 / 8.0 / batch as f64;
        if batch == 1 {
            batch1 = Some((activities, energies));
        }
        batches.push(BatchFigures {
            throughput: figures,
            energy,
            buffers,
            dram_bytes_per_image,
            test_set,
        });
    }
    let (activities, energies) = batch1.expect("batch 1 is always modeled");

    let rows_cols = config.macs_per_cycle() as f64;
    let images = inputs.images.len().max(1) as f64;
    let layers: Vec<LayerReport> = works
        .iter()
        .zip(activities)
        .zip(energies)
        .map(|((work, activity), energy)| {
            let passes = activity.passes;
            let cycles_modeled = hwgen::gemm_cycles(config, work.shape.gemm(), passes);
            let cycles_one_pass = hwgen::gemm_cycles(config, work.shape.gemm(), hwgen::Passes::ONE);
            let macs = work.shape.macs();
            let cycles_measured = run
                .as_ref()
                .map(|run| run.layers[work.index].cycles as f64 / images);
            let utilization = |cycles: f64| {
                if cycles > 0.0 {
                    macs as f64 / (cycles * rows_cols)
                } else {
                    0.0
                }
            };
            LayerReport {
                name: work.name.clone(),
                kind: work.kind,
                gemm: work.shape,
                in_bits: work.in_bits,
                w_bits: work.w_bits,
                out_bits: work.out_bits,
                macs,
                passes: passes.count(),
                act_slices: passes.act_slices,
                weight_slices: passes.weight_slices,
                cycles_measured,
                cycles_modeled,
                cycles_one_pass,
                utilization_measured: cycles_measured.map(utilization),
                utilization_modeled: utilization(cycles_modeled as f64),
                activity,
                energy,
            }
        })
        .collect();

    let measured = run.as_ref().map(|run| {
        throughput(
            config,
            format!(
                "measured (Verilator RTL simulation, {} images, mean cycles per image)",
                inputs.images.len()
            ),
            1,
            run.total_cycles() as f64 / images,
            macs_per_image,
        )
    });
    if model
        .layers()
        .iter()
        .any(|l| matches!(l.op, golden::model::Op::MaxPool2d(_)))
    {
        notes.push(
            "max-pool layers run on the host: their cycles and energy are not counted".into(),
        );
    }

    let area = area_report(design, inputs, table);
    if let Some(message) = &area.message {
        notes.push(format!("area: {message}"));
    }

    let weight_bytes = works
        .iter()
        .map(|w| w.weight_bits(design.widths.shift_bits))
        .sum::<u64>()
        .div_ceil(8);
    Ok(Report {
        tandem_version: env!("CARGO_PKG_VERSION"),
        design: DesignInfo {
            summary: config.summary(),
            acc_bits: design.widths.acc_bits,
            macs_per_cycle: config.macs_per_cycle(),
            peak_gops: 2.0 * config.macs_per_cycle() as f64 * config.clock_mhz / 1e3,
            config_origin: inputs.hw_config_origin.clone(),
            hw: design.summary(),
            config: config.clone(),
        },
        model: ModelInfo {
            name: model.name.clone(),
            topology: model.topology.clone(),
            width: model.width,
            origin: inputs.model_origin.clone(),
            input: format!("{} x {} bits", model.input, model.input_bits),
            macs_per_image,
            weight_bytes,
        },
        simulation,
        slice_passes: SlicePassCost::of(&layers),
        layers,
        measured,
        batches,
        area,
        energy_table: table.clone(),
        assumptions: ASSUMPTIONS.to_vec(),
        notes,
        rtl,
    })
}

fn area_report(design: &Design, inputs: &ReportInputs<'_>, table: &EnergyTable) -> AreaReport {
    let config = &design.config;
    let Some(options) = &inputs.synthesis else {
        return AreaReport::without_flows(
            "skipped",
            "synthesis skipped (--no-synth): no area figures".into(),
            None,
        );
    };
    let version = match synth::yosys_version(&options.yosys) {
        Ok(version) => version,
        Err(message) => {
            return AreaReport::without_flows(
                "unavailable",
                format!("no area figures: {message}"),
                None,
            )
        }
    };
    let names: Vec<&str> = options.flows.iter().map(|f| f.name()).collect();
    inputs.report(ProgressEvent::Stage(format!(
        "synthesizing with yosys ({}, in parallel)",
        names.join(", ")
    )));
    let on_done = |result: &FlowResult| {
        inputs.report(ProgressEvent::FlowDone {
            flow: result.flow,
            seconds: result.seconds,
            ok: result.ok(),
        })
    };
    match synth::synthesize(design, options, &on_done) {
        Ok(flows) => AreaReport::from_flows(config, version, flows, table),
        Err(error) => AreaReport::without_flows(
            "failed",
            format!("no area figures: cannot prepare the synthesis directory: {error}"),
            Some(version),
        ),
    }
}

impl AreaReport {
    fn without_flows(status: &'static str, message: String, yosys: Option<String>) -> Self {
        AreaReport {
            status,
            message: Some(message),
            yosys_version: yosys,
            failed_flows: Vec::new(),
            flows: Vec::new(),
            summary: AreaSummary::default(),
        }
    }

    /// The area of the flows that ran: `synthesized` when every one
    /// succeeded, `partial` when some did, `failed` when none did. The
    /// figures come from the successful flows only.
    pub fn from_flows(
        config: &HwConfig,
        yosys_version: String,
        flows: Vec<FlowResult>,
        table: &EnergyTable,
    ) -> Self {
        let failed: Vec<&FlowResult> = flows.iter().filter(|f| !f.ok()).collect();
        let reasons: Vec<String> = failed
            .iter()
            .map(|f| {
                let why = f.error.as_deref().unwrap_or("no statistics");
                format!("{} {why}", f.flow.name())
            })
            .collect();
        let hint = if failed.iter().any(|f| f.status == FlowStatus::TimedOut) {
            " (for flows that timed out: raise --synth-timeout, or run fewer --synth-flows)"
        } else {
            ""
        };
        let succeeded: Vec<&str> = flows
            .iter()
            .filter(|f| f.ok())
            .map(|f| f.flow.name())
            .collect();
        let (status, message) = if failed.is_empty() {
            ("synthesized", None)
        } else if succeeded.is_empty() {
            let message = format!(
                "no area figures: every synthesis flow failed: {}{hint}",
                reasons.join("; ")
            );
            ("failed", Some(message))
        } else {
            let message = format!(
                "partial: only {} synthesized; failed: {}{hint}",
                succeeded.join(", "),
                reasons.join("; ")
            );
            ("partial", Some(message))
        };
        AreaReport {
            status,
            message,
            yosys_version: Some(yosys_version),
            failed_flows: failed.iter().map(|f| f.flow).collect(),
            summary: area_summary(config, &flows, table),
            flows,
        }
    }
}

/// The headline area figures of the flows that succeeded.
pub fn area_summary(config: &HwConfig, flows: &[FlowResult], table: &EnergyTable) -> AreaSummary {
    let pes = config.macs_per_cycle() as f64;
    let flow = |which: SynthFlow| flows.iter().find(|f| f.flow == which && f.ok());
    let mut summary = AreaSummary::default();
    if let Some(generic) = flow(SynthFlow::Generic) {
        summary.cells = Some(generic.total_count(|_| true));
        summary.flip_flops = Some(generic.total_count(synth::is_generic_flip_flop));
        let pe = generic.module("tandem_pe");
        summary.per_pe.cells = pe.map(|m| m.total_cells() as f64 / pes);
        summary.per_pe.flip_flops = pe.map(|m| m.count(synth::is_generic_flip_flop) as f64 / pes);
        if let Some(cell_area) = &table.cell_area {
            let (um2, unpriced) = synth::estimate_area_um2(&generic.total(), cell_area);
            summary.area_mm2_estimate = Some(um2 / 1e6);
            summary.unpriced_cells = Some(unpriced);
            summary.per_pe.area_um2_estimate =
                pe.map(|m| synth::estimate_area_um2(&m.cells, cell_area).0 / pes);
        }
    }
    if let Some(xilinx) = flow(SynthFlow::Xilinx) {
        summary.luts = Some(xilinx.total_count(synth::is_xilinx_lut));
        summary.xilinx_ffs = Some(xilinx.total_count(synth::is_xilinx_ff));
        summary.dsps = Some(xilinx.total_count(synth::is_xilinx_dsp));
        summary.lutram = Some(xilinx.total_count(synth::is_xilinx_lutram));
        let pe = xilinx.module("tandem_pe");
        summary.per_pe.luts = pe.map(|m| m.count(synth::is_xilinx_lut) as f64 / pes);
        summary.per_pe.dsps = pe.map(|m| m.count(synth::is_xilinx_dsp) as f64 / pes);
    }
    if let Some(ice40) = flow(SynthFlow::Ice40) {
        summary.ice40_lut4 = Some(ice40.total_count(synth::is_ice40_lut));
        summary.ice40_ffs = Some(ice40.total_count(synth::is_ice40_ff));
        summary.per_pe.ice40_lut4 = ice40
            .module("tandem_pe")
            .map(|m| m.count(synth::is_ice40_lut) as f64 / pes);
    }
    summary
}

impl Report {
    /// Modeled figures at batch 1.
    pub fn batch1(&self) -> &BatchFigures {
        &self.batches[0]
    }

    /// The headline throughput: measured when simulated, else modeled.
    pub fn headline_throughput(&self) -> &ThroughputFigures {
        self.measured.as_ref().unwrap_or(&self.batch1().throughput)
    }

    /// The object `tandem report --json` prints last.
    pub fn summary(&self) -> serde_json::Value {
        let headline = self.headline_throughput();
        let energy = &self.batch1().energy;
        let area = &self.area.summary;
        serde_json::json!({
            "design": self.design.config.name,
            "hw": self.design.hw,
            "model": self.model.name,
            "images_per_s": headline.images_per_s,
            "images_per_s_basis": headline.basis,
            "cycles_per_image": headline.cycles_per_image,
            "latency_us": headline.latency_us,
            "utilization": headline.utilization,
            "layers": self.layers.iter().map(|layer| serde_json::json!({
                "name": layer.name,
                "passes": layer.passes,
                "cycles": layer.cycles_measured,
                "model_cycles": layer.cycles_modeled,
                "one_pass_cycles": layer.cycles_one_pass,
            })).collect::<Vec<_>>(),
            "slice_passes": self.slice_passes,
            "batch": 1,
            "energy_per_image_uj": energy.per_image_uj,
            "pj_per_mac": energy.pj_per_mac,
            "tops_per_w": energy.tops_per_w,
            "energy_basis": format!("modeled (activity x {} revision {})", self.energy_table.name, self.energy_table.revision),
            "cells": area.cells,
            "luts": area.luts,
            "dsps": area.dsps,
            "ice40_lut4": area.ice40_lut4,
            "area_mm2_estimate": area.area_mm2_estimate,
            "area_status": self.area.status,
            "mismatches": self.simulation.as_ref().map(|s| s.mismatches),
            "images_simulated": self.simulation.as_ref().map_or(0, |s| s.images),
            "simulation_threads": self.simulation.as_ref().map(|s| s.threads),
            "simulation_seconds": self.simulation.as_ref().map(|s| s.wall_seconds),
            "best_batch": self.batches.last().map(|b| serde_json::json!({
                "batch": b.throughput.batch,
                "images_per_s": b.throughput.images_per_s,
                "energy_per_image_uj": b.energy.per_image_uj,
                "tops_per_w": b.energy.tops_per_w,
                "basis": "modeled",
            })),
        })
    }

    /// Write `report.md`, `report.json`, `layers.csv`, `batches.csv`,
    /// `plots/*.svg`, `synth/*` and `rtl/*` into `dir` (created). Returns the
    /// paths written.
    pub fn write_dir(&self, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
        let mut written = Vec::new();
        let mut write = |relative: &str, contents: &str| -> Result<(), ReportError> {
            let path = dir.join(relative);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| ReportError::Write {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, contents).map_err(|source| ReportError::Write {
                path: path.clone(),
                source,
            })?;
            written.push(path);
            Ok(())
        };
        let plots = plots::draw_all(self)?;
        write("report.md", &render::markdown(self, &plots))?;
        let json = serde_json::to_string_pretty(self).expect("a report always serializes");
        write("report.json", &(json + "\n"))?;
        write("layers.csv", &render::layers_csv(self))?;
        write("batches.csv", &render::batches_csv(self))?;
        for plot in &plots {
            write(&format!("plots/{}", plot.file), &plot.svg)?;
        }
        for flow in &self.area.flows {
            write(&format!("synth/{}.ys", flow.flow.name()), &flow.script)?;
            if !flow.stat_json.is_empty() {
                write(
                    &format!("synth/{}-stat.json", flow.flow.name()),
                    &flow.stat_json,
                )?;
            }
        }
        for file in &self.rtl {
            write(&format!("rtl/{}", file.path), &file.contents)?;
        }
        Ok(written)
    }
}
