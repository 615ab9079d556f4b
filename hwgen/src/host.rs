//! A reference host: the exact cycle-by-cycle port values of the canonical
//! schedule ([`crate::schedule`]) for one GEMM.
//!
//! [`drive_gemm`] calls back once per clock cycle with every input of
//! `tandem_top`, unpacked ([`PortInputs`]; pack with [`crate::packing`]).
//! A simulation host applies them, clocks one rising edge, and reads the
//! outputs; the [`ExpectedOutput`]s say in which cycle each result vector
//! appears and which pixels and channels it holds. The Icarus testbench test
//! of this crate uses it, so the schedule and the RTL are checked together.

use crate::design::Design;
use crate::schedule::{schedule, GemmShape};
use golden::contract;
use thiserror::Error;

/// Every input port of `tandem_top` (except `clk` and `rst_n`) for one cycle,
/// element-wise. Vectors have `rows` (activations) or `cols` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortInputs {
    /// `wload_valid`.
    pub wload_valid: bool,
    /// `wload_row`.
    pub wload_row: u32,
    /// `wload_data`, one weight slice per column: signed, or unsigned
    /// `0..2^w_bits` when `wload_signed` is low.
    pub wload_data: Vec<i32>,
    /// `wload_signed`: the row holds a weight's signed top slice (every
    /// weight that fits the PEs is one); low for an unsigned lower slice.
    pub wload_signed: bool,
    /// `wswap`.
    pub wswap: bool,
    /// `prm_valid`.
    pub prm_valid: bool,
    /// `prm_bias`, one per column.
    pub prm_bias: Vec<i32>,
    /// `prm_shift`, one per column.
    pub prm_shift: Vec<u8>,
    /// `prm_out_bits`.
    pub prm_out_bits: u8,
    /// `act_valid`.
    pub act_valid: bool,
    /// `act_data`, one unsigned activation per row.
    pub act_data: Vec<u32>,
    /// `act_first`.
    pub act_first: bool,
    /// `act_last`.
    pub act_last: bool,
    /// `act_bypass`.
    pub act_bypass: bool,
    /// `act_acc_addr`.
    pub act_acc_addr: u32,
    /// `act_slice_shift`: the left shift of this vector's column sums (the
    /// place value of its activation and weight slices).
    pub act_slice_shift: u32,
}

impl PortInputs {
    /// All strobes low and all data zero: what an idle host drives.
    pub fn idle(design: &Design) -> PortInputs {
        let config = &design.config;
        PortInputs {
            wload_valid: false,
            wload_row: 0,
            wload_data: vec![0; config.cols as usize],
            wload_signed: false,
            wswap: false,
            prm_valid: false,
            prm_bias: vec![0; config.cols as usize],
            prm_shift: vec![0; config.cols as usize],
            prm_out_bits: 0,
            act_valid: false,
            act_data: vec![0; config.rows as usize],
            act_first: false,
            act_last: false,
            act_bypass: false,
            act_acc_addr: 0,
            act_slice_shift: 0,
        }
    }

    fn clear(&mut self) {
        self.wload_valid = false;
        self.wload_row = 0;
        self.wload_data.fill(0);
        self.wload_signed = false;
        self.wswap = false;
        self.prm_valid = false;
        self.prm_bias.fill(0);
        self.prm_shift.fill(0);
        self.prm_out_bits = 0;
        self.act_valid = false;
        self.act_data.fill(0);
        self.act_first = false;
        self.act_last = false;
        self.act_bypass = false;
        self.act_acc_addr = 0;
        self.act_slice_shift = 0;
    }
}

/// One GEMM layer's operands, row-major.
#[derive(Debug, Clone, Copy)]
pub struct GemmOperands<'a> {
    /// The GEMM's dimensions.
    pub shape: GemmShape,
    /// `X[m][k]` at `m * K + k`: unsigned activations below `2^in_bits`.
    pub activations: &'a [u32],
    /// The layer's input activation width; wider than the PEs' `a_bits`,
    /// the GEMM runs in activation-slice passes.
    pub in_bits: u8,
    /// `W[n][k]` at `n * K + k`: signed weights in the `w_bits` narrow range.
    pub weights: &'a [i32],
    /// The layer's weight width; wider than the PEs' `w_bits`, the GEMM
    /// runs in weight-slice passes.
    pub w_bits: u8,
    /// One bias per output channel.
    pub bias: &'a [i32],
    /// One shift per output channel (driven but not applied when `bypass`).
    pub shifts: &'a [u8],
    /// The layer's output activation width, 1..=`max_out_bits` (driven but
    /// not applied when `bypass`).
    pub out_bits: u8,
    /// Last layer: results are the raw `acc + bias` on `out_raw`.
    pub bypass: bool,
}

/// A GEMM with its operands owned (random tests, testbenches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedGemm {
    pub shape: GemmShape,
    /// `[M][K]`, unsigned.
    pub activations: Vec<u32>,
    pub in_bits: u8,
    /// `[N][K]`, signed.
    pub weights: Vec<i32>,
    pub w_bits: u8,
    pub bias: Vec<i32>,
    pub shifts: Vec<u8>,
    pub out_bits: u8,
    pub bypass: bool,
}

impl OwnedGemm {
    /// The operands, borrowed.
    pub fn operands(&self) -> GemmOperands<'_> {
        GemmOperands {
            shape: self.shape,
            activations: &self.activations,
            in_bits: self.in_bits,
            weights: &self.weights,
            w_bits: self.w_bits,
            bias: &self.bias,
            shifts: &self.shifts,
            out_bits: self.out_bits,
            bypass: self.bypass,
        }
    }

    /// The contract's result, `[M][N]` ([`reference_gemm`]).
    pub fn expected(&self) -> Vec<i64> {
        reference_gemm(&self.operands())
    }
}

/// A result vector the host will see on `out_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedOutput {
    /// The cycle in which `out_valid` is high with this vector (visible
    /// after the rising edge that ends cycle `cycle - 1`).
    pub cycle: u64,
    /// Output pixel: `out_acc_addr = m - m0`.
    pub m: usize,
    /// Output channel of column 0; column c holds channel `n0 + c` (columns
    /// with `n0 + c >= N` are padding).
    pub n0: usize,
}

/// What [`drive_gemm`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmRun {
    /// Cycles driven; equals [`crate::schedule::gemm_cycles`].
    pub cycles: u64,
    /// Every result vector in order of appearance.
    pub outputs: Vec<ExpectedOutput>,
}

/// Operands that do not fit the config.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum HostError {
    /// A slice has the wrong length for the shape.
    #[error("{what} has {actual} entries, the GEMM shape needs {expected}")]
    Length {
        /// Which operand.
        what: &'static str,
        /// Its length.
        actual: usize,
        /// The length the shape implies.
        expected: usize,
    },
    /// A value cannot be represented on the hardware.
    #[error("{what} = {value} at index {index}: {reason}")]
    Value {
        /// Which operand.
        what: &'static str,
        /// Index into the operand.
        index: usize,
        /// The value.
        value: i64,
        /// The accepted range.
        reason: String,
    },
}

fn check_length(what: &'static str, actual: usize, expected: usize) -> Result<(), HostError> {
    if actual == expected {
        Ok(())
    } else {
        Err(HostError::Length {
            what,
            actual,
            expected,
        })
    }
}

fn check_operands(design: &Design, ops: &GemmOperands<'_>) -> Result<(), HostError> {
    let config = &design.config;
    let GemmShape { m, k, n } = ops.shape;
    check_length("activations", ops.activations.len(), m * k)?;
    check_length("weights", ops.weights.len(), n * k)?;
    check_length("bias", ops.bias.len(), n)?;
    check_length("shifts", ops.shifts.len(), n)?;
    let width = |what, bits: u8, range: std::ops::RangeInclusive<u8>, field: &str| {
        if range.contains(&bits) {
            Ok(())
        } else {
            Err(HostError::Value {
                what,
                index: 0,
                value: bits.into(),
                reason: format!(
                    "must be {}..={} ({field} = {} is the widest the design serves)",
                    range.start(),
                    range.end(),
                    range.end()
                ),
            })
        }
    };
    width(
        "in_bits",
        ops.in_bits,
        1..=config.layer_in_bits(),
        "max_in_bits",
    )?;
    width(
        "w_bits",
        ops.w_bits,
        2..=config.layer_w_bits(),
        "max_w_bits",
    )?;
    let act_max = contract::activation_max(ops.in_bits) as u32;
    if let Some((index, &value)) = ops
        .activations
        .iter()
        .enumerate()
        .find(|(_, &a)| a > act_max)
    {
        return Err(HostError::Value {
            what: "activations",
            index,
            value: value.into(),
            reason: format!("must be 0..={act_max} (in_bits = {})", ops.in_bits),
        });
    }
    let (w_min, w_max) = contract::weight_range(ops.w_bits);
    if let Some((index, &value)) = ops
        .weights
        .iter()
        .enumerate()
        .find(|(_, &w)| w < w_min || w > w_max)
    {
        return Err(HostError::Value {
            what: "weights",
            index,
            value: value.into(),
            reason: format!("must be {w_min}..={w_max} (w_bits = {})", ops.w_bits),
        });
    }
    // Checked in bypass too: the values reach the parameter ports either
    // way (the requantizer ignores them), and the RTL's protocol checks
    // want a valid `prm_out_bits`. crate::layer::LayerRequant supplies
    // them for a logits layer.
    let max_shift = design.widths.max_shift;
    if let Some((index, &value)) = ops.shifts.iter().enumerate().find(|(_, &s)| s > max_shift) {
        return Err(HostError::Value {
            what: "shifts",
            index,
            value: value.into(),
            reason: format!(
                "must be 0..={max_shift} (shift_bits = {})",
                config.shift_bits
            ),
        });
    }
    width(
        "out_bits",
        ops.out_bits,
        1..=config.layer_out_bits(),
        "max_out_bits",
    )
}

/// Digit `slice` of an unsigned activation in `a_bits`-wide slices.
pub fn act_slice(value: u32, a_bits: u8, slice: u32) -> u32 {
    (value >> (slice * u32::from(a_bits))) & ((1u32 << a_bits) - 1)
}

/// Digit `slice` of a signed weight split into `slices` digits of `w_bits`:
/// the lower digits unsigned (`0..2^w_bits`), the top one signed, so that
/// `w = sum_j digit_j * 2^(j * w_bits)`. One slice is the weight itself.
pub fn weight_slice(value: i32, w_bits: u8, slice: u32, slices: u32) -> i32 {
    let shifted = value >> (slice * u32::from(w_bits)); // arithmetic: keeps the sign
    if slice + 1 == slices {
        shifted
    } else {
        shifted & ((1i32 << w_bits) - 1)
    }
}

/// Drive one GEMM through the canonical schedule: `on_cycle(cycle, inputs)`
/// is called for cycles `0..cycles`, where `inputs` are the values to drive
/// during that cycle (sampled by the rising edge that ends it). The last
/// result is on `out_*` after the final edge.
///
/// Before cycle 0 the host must have reset the design (`rst_n` low for at
/// least one edge) or finished the previous GEMM (its last result seen).
/// Checking that K fits the accumulator ([`Design::unsupported_layers`]) is
/// the caller's job: only the layer knows its real bit-widths.
pub fn drive_gemm(
    design: &Design,
    ops: &GemmOperands<'_>,
    mut on_cycle: impl FnMut(u64, &PortInputs),
) -> Result<GemmRun, HostError> {
    check_operands(design, ops)?;
    let config = &design.config;
    let passes = design.passes(ops.in_bits, ops.w_bits);
    let plan = schedule(config, ops.shape, passes);
    let rows = config.rows as usize;
    let cols = config.cols as usize;
    let k = ops.shape.k;
    let latency = config.latency_cycles();
    let mut inputs = PortInputs::idle(design);
    let mut outputs = Vec::new();

    // Shadow-bank writes that load tile `index` (rows in `row_cycles`, the
    // parameters and the swap in the last of them).
    let load_row = |inputs: &mut PortInputs, index: usize, row: usize| {
        let tile = plan.tiles[index].tile;
        inputs.wload_valid = true;
        inputs.wload_row = row as u32;
        inputs.wload_signed = tile.weight_slice + 1 == passes.weight_slices;
        for c in 0..cols {
            inputs.wload_data[c] = if c < tile.n_len && row < tile.k_len {
                let weight = ops.weights[(tile.n0 + c) * k + tile.k0 + row];
                weight_slice(
                    weight,
                    config.w_bits,
                    tile.weight_slice,
                    passes.weight_slices,
                )
            } else {
                0 // padding rows and columns hold zero weights
            };
        }
    };
    let load_params_and_swap = |inputs: &mut PortInputs, index: usize| {
        let tile = plan.tiles[index].tile;
        inputs.prm_valid = true;
        for c in 0..cols {
            // Padding columns get zero parameters (their weights are zero).
            let (bias, shift) = if c < tile.n_len {
                (ops.bias[tile.n0 + c], ops.shifts[tile.n0 + c])
            } else {
                (0, 0)
            };
            inputs.prm_bias[c] = bias;
            inputs.prm_shift[c] = shift;
        }
        inputs.prm_out_bits = ops.out_bits;
        inputs.wswap = true;
    };

    if plan.tiles.is_empty() {
        return Ok(GemmRun { cycles: 0, outputs });
    }

    // Prologue: tile 0's rows in cycles 0..R, parameters and swap in R-1.
    for row in 0..rows {
        inputs.clear();
        load_row(&mut inputs, 0, row);
        if row + 1 == rows {
            load_params_and_swap(&mut inputs, 0);
        }
        on_cycle(row as u64, &inputs);
    }

    // One slot per tile.
    for (index, scheduled) in plan.tiles.iter().enumerate() {
        let tile = scheduled.tile;
        let has_next = index + 1 < plan.tiles.len();
        for offset in 0..scheduled.slot_cycles {
            let cycle = scheduled.start_cycle + offset;
            inputs.clear();
            let vector = offset as usize;
            if vector < tile.vectors() {
                let (slice, pixel) = tile.vector(vector);
                let m = tile.m0 + pixel;
                inputs.act_valid = true;
                for r in 0..rows {
                    inputs.act_data[r] = if r < tile.k_len {
                        act_slice(ops.activations[m * k + tile.k0 + r], config.a_bits, slice)
                    } else {
                        0 // padding rows see zero activations
                    };
                }
                inputs.act_first = tile.starts_sum(slice);
                inputs.act_last = tile.ends_sum(slice);
                inputs.act_bypass = ops.bypass;
                inputs.act_acc_addr = pixel as u32;
                inputs.act_slice_shift = passes.shift(config, slice, tile.weight_slice);
                if inputs.act_last {
                    outputs.push(ExpectedOutput {
                        cycle: cycle + latency,
                        m,
                        n0: tile.n0,
                    });
                }
            }
            if has_next {
                // The next tile's rows fill the slot's last R cycles.
                let load_start = scheduled.slot_cycles - rows as u64;
                if offset >= load_start {
                    load_row(&mut inputs, index + 1, (offset - load_start) as usize);
                }
                if offset + 1 == scheduled.slot_cycles {
                    load_params_and_swap(&mut inputs, index + 1);
                }
            }
            on_cycle(cycle, &inputs);
        }
    }

    // Drain: idle until the last result is visible.
    let last = plan.tiles.last().expect("not empty");
    let drained_from = last.start_cycle + last.slot_cycles;
    inputs.clear();
    for cycle in drained_from..plan.total_cycles {
        on_cycle(cycle, &inputs);
    }
    Ok(GemmRun {
        cycles: plan.total_cycles,
        outputs,
    })
}

/// The results the hardware must produce for `ops`, computed with the
/// integer contract: `out[m][n]` is the requantized activation, or the raw
/// `acc + bias` (as i32) when `ops.bypass`.
pub fn reference_gemm(ops: &GemmOperands<'_>) -> Vec<i64> {
    let GemmShape { m, k, n } = ops.shape;
    let mut out = vec![0i64; m * n];
    for pixel in 0..m {
        for channel in 0..n {
            let acc: i64 = (0..k)
                .map(|i| {
                    i64::from(ops.activations[pixel * k + i])
                        * i64::from(ops.weights[channel * k + i])
                })
                .sum();
            let acc_plus_bias = acc + i64::from(ops.bias[channel]);
            out[pixel * n + channel] = if ops.bypass {
                acc_plus_bias
            } else {
                i64::from(contract::requantize(
                    acc_plus_bias,
                    ops.shifts[channel],
                    ops.out_bits,
                ))
            };
        }
    }
    out
}
