//! [`ArraySim`]: the generated `tandem_top` of a resolved [`Design`],
//! verilated and driven through the canonical schedule one GEMM at a time.
//!
//! The port values of every cycle come from [`hwgen::host::drive_gemm`], the
//! executable form of the schedule in `docs/hardware.md`; this module only
//! applies them, clocks the model, and collects what appears on `out_*`.
//! Besides the values, it checks the *timing*: every result must appear in
//! exactly the cycle the schedule predicts, so the measured cycle count and the
//! analytical one cannot silently drift apart.

use crate::{build, BuildOptions, Port, Sim, SimError, TraceFormat};
use hwgen::host::{drive_gemm, GemmOperands, HostError, PortInputs};
use hwgen::packing::{unpack_signed, unpack_unsigned};
use hwgen::{generate, Design, DesignSource, TOP_MODULE};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Why driving the array failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Sim(#[from] SimError),
    #[error("GEMM operands do not fit the hardware config: {0}")]
    Host(#[from] HostError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the RTL's results appeared at cycles {observed} but the schedule predicts {expected}{hint}")]
    Timing {
        expected: String,
        observed: String,
        hint: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("the verilated model's ports differ from the design's port list (hwgen::ports): {0}")]
    Ports(String),
}

/// Handles of `tandem_top`'s ports, looked up once.
struct TopPorts {
    rst_n: Port,
    wload_valid: Port,
    wload_row: Port,
    wload_data: Port,
    wload_signed: Port,
    wswap: Port,
    prm_valid: Port,
    prm_bias: Port,
    prm_shift: Port,
    prm_out_bits: Port,
    act_valid: Port,
    act_data: Port,
    act_first: Port,
    act_last: Port,
    act_bypass: Port,
    act_acc_addr: Port,
    act_slice_shift: Port,
    out_valid: Port,
    out_bypass: Port,
    out_act: Port,
    out_raw: Port,
}

impl TopPorts {
    fn find(sim: &Sim) -> Result<TopPorts, SimError> {
        Ok(TopPorts {
            rst_n: sim.port("rst_n")?,
            wload_valid: sim.port("wload_valid")?,
            wload_row: sim.port("wload_row")?,
            wload_data: sim.port("wload_data")?,
            wload_signed: sim.port("wload_signed")?,
            wswap: sim.port("wswap")?,
            prm_valid: sim.port("prm_valid")?,
            prm_bias: sim.port("prm_bias")?,
            prm_shift: sim.port("prm_shift")?,
            prm_out_bits: sim.port("prm_out_bits")?,
            act_valid: sim.port("act_valid")?,
            act_data: sim.port("act_data")?,
            act_first: sim.port("act_first")?,
            act_last: sim.port("act_last")?,
            act_bypass: sim.port("act_bypass")?,
            act_acc_addr: sim.port("act_acc_addr")?,
            act_slice_shift: sim.port("act_slice_shift")?,
            out_valid: sim.port("out_valid")?,
            out_bypass: sim.port("out_bypass")?,
            out_act: sim.port("out_act")?,
            out_raw: sim.port("out_raw")?,
        })
    }
}

/// Result of one GEMM on the RTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmResult {
    /// `Y[m][n]`, row-major `[M][N]`: requantized activations, or the signed
    /// `acc + bias` when the GEMM ran in bypass (logits) mode.
    pub values: Vec<i64>,
    /// Measured: rising edges from the GEMM's first cycle to the one that
    /// made its last result visible on `out_*`.
    pub cycles: u64,
    /// Analytical: [`hwgen::gemm_cycles`] for the same shape and passes.
    pub model_cycles: u64,
    /// The operand-slice passes the GEMM ran in.
    pub passes: hwgen::Passes,
}

/// How to build and trace the simulated array.
#[derive(Debug, Clone, Default)]
pub struct ArrayOptions {
    /// Dump a waveform in this format.
    pub trace: Option<TraceFormat>,
    /// Where to write the waveform (default: `sim::trace_dir()/<design>.<ext>`:
    /// `$TANDEM_TRACE_DIR`, else `./tandem-traces/`).
    pub trace_path: Option<PathBuf>,
}

/// Choices beyond [`ArrayOptions`] for [`ArraySim::new_with`]. Default: none of them
/// (what [`ArraySim::new`] does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArrayExtras {
    /// Build a multithreaded model: Verilator `--threads N` ([`BuildOptions::threads`]).
    /// `None` or 1: single-threaded, the default. A separate cache entry. On the 16x16
    /// preset one image ran 3% faster for twice the CPU on an idle 2-core machine, and
    /// slower with the other core busy (docs/simulation.md).
    pub verilator_threads: Option<u32>,
    /// Record every port value from the model's construction on (the reset included) into
    /// this file ([`Sim::record_to`], [`crate::replay`]); [`ArraySim::finish_recording`]
    /// ends it.
    pub record: Option<PathBuf>,
}

/// A verilated `tandem_top` ready to run GEMMs.
pub struct ArraySim {
    design: Design,
    lib: crate::VerilatedLib,
    sim: Sim,
    ports: TopPorts,
    rtl_dir: PathBuf,
    /// Scratch buffer for wide output reads.
    words: Vec<u32>,
    /// The inputs last written to the model, to skip unchanged ones.
    applied: Applied,
}

/// Write the generated design into a content-addressed directory under the
/// simulation cache (shared by all processes; published by rename so
/// concurrent writers never see half a design) and return it. The banner's
/// source paths are left out, so the same RTL from another directory reuses
/// the same Verilator build.
pub fn design_dir(design: &Design) -> Result<PathBuf, DriverError> {
    let config = &design.config;
    let files = generate(&design.clone().with_source(DesignSource::default()));
    let mut hasher = Sha256::new();
    for file in &files {
        hasher.update(file.path.as_bytes());
        hasher.update([0]);
        hasher.update(file.contents.as_bytes());
        hasher.update([0]);
    }
    let hash: String = hasher.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let root = crate::cache_root().join("designs");
    let dir = root.join(format!("{}-{hash}", config.name));
    if dir.join(hwgen::generate::TOP_FILE).is_file() {
        return Ok(dir);
    }
    let io = |path: &Path, source| DriverError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(&root).map_err(|e| io(&root, e))?;
    let temp = root.join(format!(
        ".tmp-{}-{}-{hash}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    ));
    hwgen::write_files(&files, &temp).map_err(|e| io(&temp, e))?;
    if std::fs::rename(&temp, &dir).is_err() {
        // Another process published the same design first; use theirs.
        let _ = std::fs::remove_dir_all(&temp);
        if !dir.join(hwgen::generate::TOP_FILE).is_file() {
            return Err(io(
                &dir,
                std::io::Error::other("could not publish the generated design"),
            ));
        }
    }
    Ok(dir)
}

/// Where a waveform of `design` goes without an explicit path:
/// `sim::trace_dir()/<design>.<ext>`.
pub fn default_trace_path(design: &Design, format: TraceFormat) -> PathBuf {
    crate::trace_dir().join(format!("{}.{}", design.config.name, format.extension()))
}

impl ArraySim {
    /// Generate, verilate (cached) and reset `design`.
    pub fn new(design: &Design, options: &ArrayOptions) -> Result<ArraySim, DriverError> {
        Self::new_with(design, options, &ArrayExtras::default())
    }

    /// [`ArraySim::new`] with `extras`: a multithreaded model, a recording of the run.
    pub fn new_with(
        design: &Design,
        options: &ArrayOptions,
        extras: &ArrayExtras,
    ) -> Result<ArraySim, DriverError> {
        let lib = Self::library(design, options, extras.verilator_threads)?;
        Self::on_library(design, &lib, options, extras.record.as_deref())
    }

    /// Generate `design` and build (or find in the cache) its verilated
    /// model, traced as `options` say, multithreaded with `verilator_threads`
    /// ([`ArrayExtras::verilator_threads`]).
    pub fn library(
        design: &Design,
        options: &ArrayOptions,
        verilator_threads: Option<u32>,
    ) -> Result<crate::VerilatedLib, DriverError> {
        let rtl_dir = design_dir(design)?;
        let sources: Vec<PathBuf> = hwgen::generate::verilog_files()
            .into_iter()
            .map(|file| rtl_dir.join(file))
            .collect();
        let mut build_options =
            BuildOptions::new(TOP_MODULE, sources).threads(verilator_threads.unwrap_or(1));
        build_options.trace = options.trace;
        Ok(build(&build_options)?)
    }

    /// An `ArraySim` on a model of `design` already loaded ([`ArraySim::library`], or a
    /// [`crate::VerilatedLib::load_copy`] of it); its ports are checked against the
    /// design's. `record`: as [`ArrayExtras::record`].
    pub fn on_library(
        design: &Design,
        lib: &crate::VerilatedLib,
        options: &ArrayOptions,
        record: Option<&Path>,
    ) -> Result<ArraySim, DriverError> {
        let rtl_dir = design_dir(design)?;
        check_ports(lib, design)?;
        if options.trace.is_some() && lib.trace_format() != options.trace {
            return Err(DriverError::Unsupported(format!(
                "tracing as {:?} needs a model built for it; this one was built with {:?}",
                options.trace,
                lib.trace_format()
            )));
        }
        let lib = lib.clone();
        let mut sim = lib.instantiate()?;
        if let Some(path) = record {
            sim.record_to(path)?;
        }
        if let Some(format) = options.trace {
            let path = options
                .trace_path
                .clone()
                .unwrap_or_else(|| default_trace_path(design, format));
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| DriverError::Io {
                    path: parent.to_path_buf(),
                    source: e,
                })?;
            }
            sim.trace_to(&path)?;
        }
        let ports = TopPorts::find(&sim)?;
        let mut array = ArraySim {
            design: design.clone(),
            lib,
            sim,
            ports,
            rtl_dir,
            words: Vec::new(),
            applied: Applied::default(),
        };
        array.reset();
        Ok(array)
    }

    /// The design being simulated.
    pub fn design(&self) -> &Design {
        &self.design
    }

    /// Directory holding the generated Verilog being simulated.
    pub fn rtl_dir(&self) -> &Path {
        &self.rtl_dir
    }

    /// The loaded model library (its build dir, ports), e.g. to build a
    /// [`crate::replay::PlainTestbench`] of the same model.
    pub fn loaded_library(&self) -> &crate::VerilatedLib {
        &self.lib
    }

    /// End the recording [`ArrayExtras::record`] started.
    pub fn finish_recording(&mut self) -> Result<crate::replay::RecordingSummary, SimError> {
        self.sim.finish_recording()
    }

    /// Where the waveform goes, if tracing.
    pub fn trace_path(&self) -> Option<&Path> {
        self.sim.trace_path()
    }

    /// Total rising edges simulated so far (resets included).
    pub fn total_cycles(&self) -> u64 {
        self.sim.cycles()
    }

    /// Hold `rst_n` low for two edges with idle inputs.
    pub fn reset(&mut self) {
        let idle = PortInputs::idle(&self.design);
        self.applied = Applied::default();
        apply(
            &mut self.sim,
            &self.ports,
            &self.design,
            &idle,
            &mut self.applied,
        );
        self.sim.set(self.ports.rst_n, 0);
        self.sim.step(2);
        self.sim.set(self.ports.rst_n, 1);
    }

    /// Run one GEMM through the canonical schedule and collect its results.
    pub fn run_gemm(&mut self, ops: &GemmOperands<'_>) -> Result<GemmResult, DriverError> {
        let shape = ops.shape;
        let cols = self.design.config.cols as usize;
        let out_bits = self.design.widths.out_a_bits;
        let raw_bits = self.design.widths.bias_bits;
        let start = self.sim.cycles();
        let mut observed: Vec<(u64, Vec<i64>)> = Vec::new();
        let mut stopped = None;
        let Self {
            sim,
            ports,
            design,
            words,
            applied,
            ..
        } = self;
        let run = drive_gemm(design, ops, |_, inputs| {
            if stopped.is_some() {
                return;
            }
            apply(sim, ports, design, inputs, applied);
            // A protocol check in the RTL ($stop) ends the GEMM with its message.
            if let Err(error) = sim.try_step(1) {
                stopped = Some(error);
                return;
            }
            if sim.get(ports.out_valid) == 1 {
                let bypass = sim.get(ports.out_bypass) == 1;
                let values: Vec<i64> = if bypass {
                    read(sim, ports.out_raw, words);
                    unpack_signed(words, raw_bits, cols)
                        .into_iter()
                        .map(i64::from)
                        .collect()
                } else {
                    read(sim, ports.out_act, words);
                    unpack_unsigned(words, out_bits, cols)
                        .into_iter()
                        .map(i64::from)
                        .collect()
                };
                observed.push((sim.cycles() - start, values));
            }
        })?;
        if let Some(error) = stopped {
            return Err(error.into());
        }
        let expected_cycles: Vec<u64> = run.outputs.iter().map(|o| o.cycle).collect();
        let observed_cycles: Vec<u64> = observed.iter().map(|(c, _)| *c).collect();
        if expected_cycles != observed_cycles {
            return Err(DriverError::Timing {
                expected: summarize(&expected_cycles),
                observed: summarize(&observed_cycles),
                hint: self
                    .sim
                    .trace_path()
                    .map(|p| format!("; waveform: {}", p.display()))
                    .unwrap_or_default(),
            });
        }
        let mut values = vec![0i64; shape.m * shape.n];
        for (expected, (_, row)) in run.outputs.iter().zip(&observed) {
            let width = cols.min(shape.n - expected.n0);
            let out = &mut values[expected.m * shape.n + expected.n0..][..width];
            for (slot, &value) in out.iter_mut().zip(row) {
                *slot = value;
            }
        }
        let passes = self.design.passes(ops.in_bits, ops.w_bits);
        Ok(GemmResult {
            values,
            cycles: observed_cycles.last().copied().unwrap_or(0),
            model_cycles: hwgen::gemm_cycles(&self.design.config, shape, passes),
            passes,
        })
    }
}

/// A short description of a cycle list for error messages.
fn summarize(cycles: &[u64]) -> String {
    match cycles {
        [] => "none".to_string(),
        [only] => format!("[{only}]"),
        [first, .., last] => format!("{} results, first at {first}, last at {last}", cycles.len()),
    }
}

/// How the verilated model's ports differ from the one port list,
/// [`hwgen::ports`] (names, directions, widths); `None` when they agree.
/// Verilator's header need not keep the declaration order, so both lists
/// are compared sorted by name.
pub fn port_mismatch(lib: &crate::VerilatedLib, design: &Design) -> Option<String> {
    let mut want: Vec<(String, &str, u32)> = hwgen::ports(design)
        .iter()
        .map(|p| (p.name.to_string(), p.direction.as_verilog(), p.width))
        .collect();
    let mut have: Vec<(String, &str, u32)> = lib
        .ports()
        .iter()
        .map(|p| {
            let direction = match p.direction {
                crate::Direction::Output => "output",
                _ => "input",
            };
            (p.name.clone(), direction, p.width)
        })
        .collect();
    want.sort();
    have.sort();
    if want == have {
        return None;
    }
    let show =
        |(name, direction, width): &(String, &str, u32)| format!("{direction} {name}[{width}]");
    Some(
        want.iter()
            .zip(&have)
            .find(|(w, h)| w != h)
            .map(|(w, h)| format!("expected `{}`, the model has `{}`", show(w), show(h)))
            .unwrap_or_else(|| {
                format!(
                    "{} ports expected, the model has {}",
                    want.len(),
                    have.len()
                )
            }),
    )
}

fn check_ports(lib: &crate::VerilatedLib, design: &Design) -> Result<(), DriverError> {
    port_mismatch(lib, design).map_or(Ok(()), |why| Err(DriverError::Ports(why)))
}

/// The inputs as last written to the model, so that [`apply`] packs and
/// writes only those that changed (most cycles change `act_data` and the
/// accumulator address, or `wload_*`); `valid` is false until everything has
/// been written once. Only the driver writes the model's inputs, so the ports
/// still hold these values.
#[derive(Default)]
struct Applied {
    valid: bool,
    /// The one-word ports, in the order of [`apply`]'s `scalars`.
    scalars: [u64; SCALARS],
    wload_data: Vec<i32>,
    prm_bias: Vec<i32>,
    prm_shift: Vec<u8>,
    act_data: Vec<u32>,
    /// Packing scratch.
    words: Vec<u32>,
}

/// How many of `tandem_top`'s inputs [`apply`] drives as plain numbers.
const SCALARS: usize = 12;

/// Drive `inputs` onto the ports (values are sampled by the next rising edge).
/// Ports whose values equal what `applied` says they hold are left as they
/// are; vector ports are packed without allocating.
fn apply(
    sim: &mut Sim,
    ports: &TopPorts,
    design: &Design,
    inputs: &PortInputs,
    applied: &mut Applied,
) {
    let config = &design.config;
    let widths = &design.widths;
    let all = !applied.valid;
    let bit = |b: bool| u64::from(b);
    let scalars: [(Port, u64); SCALARS] = [
        (ports.wload_valid, bit(inputs.wload_valid)),
        (ports.wload_row, u64::from(inputs.wload_row)),
        (ports.wload_signed, bit(inputs.wload_signed)),
        (ports.wswap, bit(inputs.wswap)),
        (ports.prm_valid, bit(inputs.prm_valid)),
        (ports.prm_out_bits, u64::from(inputs.prm_out_bits)),
        (ports.act_valid, bit(inputs.act_valid)),
        (ports.act_first, bit(inputs.act_first)),
        (ports.act_last, bit(inputs.act_last)),
        (ports.act_bypass, bit(inputs.act_bypass)),
        (ports.act_acc_addr, u64::from(inputs.act_acc_addr)),
        (ports.act_slice_shift, u64::from(inputs.act_slice_shift)),
    ];
    for ((port, value), last) in scalars.into_iter().zip(&mut applied.scalars) {
        if all || *last != value {
            sim.set(port, value);
            *last = value;
        }
    }
    if all || applied.wload_data != inputs.wload_data {
        let values = inputs.wload_data.iter().map(|&v| v as u32);
        pack_into(values, config.w_bits.into(), &mut applied.words);
        write(sim, ports.wload_data, &applied.words);
        applied.wload_data.clone_from(&inputs.wload_data);
    }
    if all || applied.prm_bias != inputs.prm_bias {
        let values = inputs.prm_bias.iter().map(|&v| v as u32);
        pack_into(values, widths.bias_bits, &mut applied.words);
        write(sim, ports.prm_bias, &applied.words);
        applied.prm_bias.clone_from(&inputs.prm_bias);
    }
    if all || applied.prm_shift != inputs.prm_shift {
        let values = inputs.prm_shift.iter().map(|&s| u32::from(s));
        pack_into(values, widths.shift_bits, &mut applied.words);
        write(sim, ports.prm_shift, &applied.words);
        applied.prm_shift.clone_from(&inputs.prm_shift);
    }
    if all || applied.act_data != inputs.act_data {
        let values = inputs.act_data.iter().copied();
        pack_into(values, config.a_bits.into(), &mut applied.words);
        write(sim, ports.act_data, &applied.words);
        applied.act_data.clone_from(&inputs.act_data);
    }
    applied.valid = true;
}

/// [`hwgen::packing::pack`] into a reused buffer: element i's low `bits` bits
/// (two's complement for negative numbers) at bits `[i*bits, (i+1)*bits)`,
/// `ceil(n * bits / 32)` little-endian words.
fn pack_into(values: impl ExactSizeIterator<Item = u32>, bits: u32, words: &mut Vec<u32>) {
    assert!(
        (1..=32).contains(&bits),
        "element width {bits} must be 1..=32"
    );
    let mask = if bits == 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    words.clear();
    words.resize((values.len() * bits as usize).div_ceil(32), 0);
    for (index, value) in values.enumerate() {
        let field = value & mask;
        let bit = index * bits as usize;
        let (word, offset) = (bit / 32, (bit % 32) as u32);
        words[word] |= field << offset;
        if offset + bits > 32 {
            words[word + 1] |= field >> (32 - offset);
        }
    }
}

/// Store packed 32-bit words on a port of any width.
fn write(sim: &mut Sim, port: Port, words: &[u32]) {
    if port.width() > 64 {
        sim.set_wide(port, words);
    } else {
        let low = words.first().copied().unwrap_or(0) as u64;
        let high = words.get(1).copied().unwrap_or(0) as u64;
        sim.set(port, low | (high << 32));
    }
}

/// Load a port of any width as packed 32-bit words into `words`.
fn read(sim: &Sim, port: Port, words: &mut Vec<u32>) {
    let count = port.width().div_ceil(32) as usize;
    words.resize(count, 0);
    if port.width() > 64 {
        sim.get_wide_into(port, words);
    } else {
        let value = sim.get(port);
        words[0] = value as u32;
        if count > 1 {
            words[1] = (value >> 32) as u32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pack_into;
    use rand::{Rng, SeedableRng};

    #[test]
    fn pack_into_equals_hwgen_packing() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let mut words = vec![7; 3];
        for bits in 1..=32u32 {
            for len in [0usize, 1, 3, 16, 17, 33] {
                let values: Vec<i32> = (0..len).map(|_| rng.random()).collect();
                let expected = hwgen::packing::pack_signed(&values, bits);
                pack_into(values.iter().map(|&v| v as u32), bits, &mut words);
                assert_eq!(words, expected, "bits {bits}, len {len}");
            }
        }
    }
}
