//! Activity: how many times each hardware action happens when a layer runs
//! through the canonical schedule (`hwgen::schedule::tiles`).
//!
//! The RTL follows the schedule cycle for cycle (the simulation checks the
//! cycle of every result), so counting per tile gives the same weight loads,
//! vectors and outputs the simulated RTL performed; the port-level test in
//! `tests/activity.rs` checks that against `hwgen::host::drive_gemm`.
//!
//! Every count is a [`Term`]: an [`ActionKind`] (what the report breaks
//! energy down by), the table [`Primitive`] that prices it, how many events
//! happened and how many *units* they cover (bits for adders, registers and
//! memories; operand-bit products `a * w` for multipliers), so that
//! `energy = units * energy per unit` and the energy table's width scaling
//! is applied exactly once. The assumptions are listed in
//! `docs/energy-area.md`; the comments below say why each count is what it is.

use crate::energy_table::Primitive;
use crate::registers::{RegisterInventory, Role};
use golden::contract::{self, INPUT_BITS};
use golden::model::Model;
use hwgen::schedule::tiles;
use hwgen::{Design, GemmShape, Passes};
use serde::Serialize;

/// What the report breaks energy down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The PE multipliers, at the widths of the operand slices they see
    /// (the layer's own widths when it fits the PEs).
    Multiply,
    /// The PE adders (partial sum + product).
    PeAdd,
    /// Weight and requantizer-parameter loads into the shadow bank.
    WeightLoad,
    /// Activation (and bank-bit and control) registers the vectors move through.
    ActivationMove,
    /// Partial-sum registers in the PEs and the output de-skew.
    PsumMove,
    /// Accumulator-bank read-modify-write, one per vector per column.
    Accumulator,
    /// Requantizer arithmetic and the result/output registers.
    Requantize,
    /// On-chip activation buffer reads (im2col vectors) and writes (outputs).
    ActivationBuffer,
    /// On-chip weight buffer reads (tile loads) and writes (fills from DRAM).
    WeightBuffer,
    /// Off-chip DRAM traffic: weights, the input image, the logits.
    Dram,
}

impl ActionKind {
    pub const ALL: [ActionKind; 10] = [
        ActionKind::Multiply,
        ActionKind::PeAdd,
        ActionKind::WeightLoad,
        ActionKind::ActivationMove,
        ActionKind::PsumMove,
        ActionKind::Accumulator,
        ActionKind::Requantize,
        ActionKind::ActivationBuffer,
        ActionKind::WeightBuffer,
        ActionKind::Dram,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ActionKind::Multiply => "multiply",
            ActionKind::PeAdd => "pe_add",
            ActionKind::WeightLoad => "weight_load",
            ActionKind::ActivationMove => "activation_move",
            ActionKind::PsumMove => "psum_move",
            ActionKind::Accumulator => "accumulator",
            ActionKind::Requantize => "requantize",
            ActionKind::ActivationBuffer => "activation_buffer",
            ActionKind::WeightBuffer => "weight_buffer",
            ActionKind::Dram => "dram",
        }
    }

    /// One line: what one event is, what its bits are, and which table
    /// entries price it.
    pub fn description(self) -> &'static str {
        match self {
            ActionKind::Multiply => {
                "event: a useful MAC in one pass (passes per MAC: ceil(a_in/A) x ceil(w/W)); units: a_slice x w_slice bit products, a_in x w per MAC over all passes (table: multiply, scaled by a*w)"
            }
            ActionKind::PeAdd => {
                "event: a useful MAC in one pass; bits: the partial-sum adder of its row at the pass's slice widths (table: add)"
            }
            ActionKind::WeightLoad => {
                "event: a weight register (rows x cols per tile and weight slice, padding included); bits: weights + bias/shift (+ row signedness), input register and bank (table: register)"
            }
            ActionKind::ActivationMove => {
                "event: a vector passing a PE (vectors x rows x cols); bits: activation + bank bit per PE, input, skew and control registers (table: register)"
            }
            ActionKind::PsumMove => {
                "event: a PE partial-sum write (vectors x rows x cols); bits: hardware psum widths + output de-skew (table: register)"
            }
            ActionKind::Accumulator => {
                "event: a vector in a column (vectors x cols, every pass); bits: read + write + output register, plus the add and, with operand slices, the slice shift (table: register, add)"
            }
            ActionKind::Requantize => {
                "event: a useful output; four 32-bit adds each (logits: one), plus result/output registers (table: add, register)"
            }
            ActionKind::ActivationBuffer => {
                "events: vectors read, one per pixel and pass (k_len x a_slice bits), result vectors written (a_out or 32 bits per output), image values (table: sram at the buffer's capacity)"
            }
            ActionKind::WeightBuffer => {
                "event: a weight read for a tile load (w_slice bits per weight slice) or written once per batch (+ bias/shift bits) (table: sram at the buffer's capacity)"
            }
            ActionKind::Dram => {
                "event: a 64-bit access; weights + bias/shift once per batch, the 8-bit images, the 32-bit logits (table: dram)"
            }
        }
    }
}

/// Which on-chip buffer an SRAM term uses (its capacity sets the energy).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Buffer {
    Activation,
    Weight,
}

/// One counted action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Term {
    pub kind: ActionKind,
    pub primitive: Primitive,
    /// The buffer, for SRAM terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffer: Option<Buffer>,
    /// What is counted.
    pub what: &'static str,
    /// Number of events (MACs, vectors, tiles, accesses; see `what`).
    pub events: u64,
    /// Bits (operand-bit products for multiplies) the events cover in total.
    pub units: u64,
}

/// A compute layer as the array sees it, at the layer's own widths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerWork {
    /// Index in the model's layer list.
    pub index: usize,
    pub name: String,
    pub kind: &'static str,
    /// The GEMM for one image (M = output pixels, 1 for linear layers).
    pub shape: GemmShapeJson,
    /// Input activation width (8 for the image).
    pub in_bits: u8,
    pub w_bits: u8,
    /// Output activation width; `None` for the logits layer (32-bit output).
    pub out_bits: Option<u8>,
    /// Values of the layer's input feature map for one image.
    pub input_values: u64,
    /// The first compute layer: its input image comes from DRAM.
    pub reads_image: bool,
    /// The last compute layer: its logits go to DRAM.
    pub writes_logits: bool,
}

/// A serializable copy of [`GemmShape`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GemmShapeJson {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl From<GemmShape> for GemmShapeJson {
    fn from(shape: GemmShape) -> Self {
        GemmShapeJson {
            m: shape.m,
            k: shape.k,
            n: shape.n,
        }
    }
}

impl GemmShapeJson {
    pub fn gemm(&self) -> GemmShape {
        GemmShape {
            m: self.m,
            k: self.k,
            n: self.n,
        }
    }

    pub fn macs(&self) -> u64 {
        self.gemm().macs()
    }
}

impl LayerWork {
    /// Bits of the layer's weights and per-channel parameters (32-bit bias
    /// and `shift_bits` shift), packed at the layer's widths.
    pub fn weight_bits(&self, shift_bits: u32) -> u64 {
        let shape = self.shape;
        shape.n as u64 * shape.k as u64 * u64::from(self.w_bits)
            + shape.n as u64 * (32 + u64::from(shift_bits))
    }

    /// Output bits per value: `out_bits`, or 32 for logits.
    pub fn output_value_bits(&self) -> u64 {
        self.out_bits.map_or(32, u64::from)
    }

    /// Bits of the input and output feature maps of one image.
    pub fn feature_map_bits(&self) -> u64 {
        let shape = self.shape;
        self.input_values * u64::from(self.in_bits)
            + shape.m as u64 * shape.n as u64 * self.output_value_bits()
    }
}

/// The compute layers of `model`, in order.
pub fn layer_work(model: &Model) -> Vec<LayerWork> {
    let compute: Vec<usize> = model
        .layers()
        .iter()
        .enumerate()
        .filter(|(_, layer)| layer.gemm().is_some())
        .map(|(index, _)| index)
        .collect();
    let first = compute.first().copied();
    let last = compute.last().copied();
    compute
        .iter()
        .map(|&index| {
            let layer = &model.layers()[index];
            let gemm = layer.gemm().expect("compute layer");
            let shape = sim::network::layer_gemm_shape(layer, model.output_shape(index))
                .expect("compute layer");
            LayerWork {
                index,
                name: layer.name.clone(),
                kind: layer.op.kind_name(),
                shape: shape.into(),
                in_bits: gemm.params.in_bits,
                w_bits: gemm.params.w_bits,
                out_bits: gemm.params.output.bits(),
                input_values: model.input_shape(index).len() as u64,
                reads_image: Some(index) == first,
                writes_logits: Some(index) == last,
            }
        })
        .collect()
}

/// Activity of one layer for a batch of images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerActivity {
    pub name: String,
    /// Images in the batch the counts cover.
    pub batch: usize,
    /// The batched GEMM (M = batch x pixels).
    pub shape: GemmShapeJson,
    /// Useful multiply-accumulates (`M * K * N`), each counted once however
    /// many passes it takes.
    pub macs: u64,
    /// How the layer's operands split into the PEs' native widths: one pass
    /// per (activation slice, weight slice) pair.
    pub passes: Passes,
    /// Tiles of the canonical schedule (one per weight slice of every
    /// K-tile).
    pub tiles: u64,
    /// Activation vectors streamed (one per cycle of work; one per pixel
    /// and activation slice in every tile).
    pub vectors: u64,
    /// Vectors that carry `act_last` (each yields one result vector).
    pub output_vectors: u64,
    /// Weight rows written (`rows` per tile, weight slices included).
    pub weight_rows_loaded: u64,
    pub terms: Vec<Term>,
}

impl LayerActivity {
    /// Sum of `events` of the terms of `kind` that price with `primitive`.
    pub fn events(&self, kind: ActionKind, primitive: Primitive) -> u64 {
        self.terms
            .iter()
            .filter(|t| t.kind == kind && t.primitive == primitive)
            .map(|t| t.events)
            .sum()
    }

    /// Sum of `units` of the terms of `kind`.
    pub fn units(&self, kind: ActionKind) -> u64 {
        self.terms
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.units)
            .sum()
    }
}

/// Accumulates terms, merging equal (kind, primitive, buffer, what).
#[derive(Default)]
struct Terms(Vec<Term>);

impl Terms {
    fn add(
        &mut self,
        kind: ActionKind,
        primitive: Primitive,
        buffer: Option<Buffer>,
        what: &'static str,
        events: u64,
        units: u64,
    ) {
        if let Some(term) = self.0.iter_mut().find(|t| {
            t.kind == kind && t.primitive == primitive && t.buffer == buffer && t.what == what
        }) {
            term.events += events;
            term.units += units;
        } else {
            self.0.push(Term {
                kind,
                primitive,
                buffer,
                what,
                events,
                units,
            });
        }
    }
}

/// Bits of operand slice `slice` of a `layer_bits`-wide operand cut into
/// `native`-bit digits (least significant first): `native` for every slice
/// but the top one, which holds the rest. A layer that fits the PEs has one
/// slice of `layer_bits` bits (it zero-/sign-extends into the datapath).
/// Over all slices the widths add up to `layer_bits`.
pub fn slice_bits(layer_bits: u32, native: u32, slice: u32) -> u32 {
    native.min(layer_bits.saturating_sub(slice * native))
}

/// Bits of the partial sum leaving row `r` (0-based) that switch in a pass
/// of `a`-bit activation and `w`-bit weight slices: the exact sum of
/// `r + 1` such products, at most the row's hardware width
/// (`Widths::psum_bits`, itself capped at the accumulator width). In a pass
/// of unsigned lower weight slices every product is non-negative, so the
/// PE's extra multiplier bit (`unsigned_weight_slices`) is a constant 0 and
/// is not counted; a signed top slice of `w` bits has `a + w`-bit products.
fn pass_psum_bits(design: &Design, a: u32, w: u32, r: usize) -> u32 {
    (a + w + contract::ceil_log2(r + 1)).min(design.widths.psum_bits[r])
}

/// Count every action of `work` for a batch of `batch` images on `design`.
///
/// A batch streams its images' pixels as one GEMM of `M = batch * m` rows
/// (linear layers: `M = batch`), so weight tiles are loaded once per M-tile
/// of `acc_depth` pixels rather than once per image; weights are fetched
/// from DRAM once per batch.
///
/// A layer wider than the PEs runs in operand-slice passes
/// (`design.passes(in_bits, w_bits)`): every (K-tile, weight slice) is a
/// tile of its own and streams its pixels once per activation slice. Each
/// pass is counted at the widths the PEs see in it: activation slice `i`
/// has [`slice_bits`]`(in_bits, a_bits, i)` bits, weight slice `j`
/// `slice_bits(w_bits, w_bits_native, j)`. Arithmetic is priced at those
/// widths, registers at the hardware's for every vector of every pass.
pub fn count_layer(design: &Design, work: &LayerWork, batch: usize) -> LayerActivity {
    let batch = batch.max(1);
    let config = &design.config;
    let rows = config.rows as usize;
    let cols = config.cols as usize;
    let acc = design.widths.acc_bits;
    let shift = design.widths.shift_bits;
    let in_bits = u32::from(work.in_bits);
    let w_bits = u32::from(work.w_bits);
    let passes = design.passes(work.in_bits, work.w_bits);
    let act_slice_bits =
        |slice: u32| u64::from(slice_bits(in_bits, u32::from(config.a_bits), slice));
    let weight_slice_bits =
        |slice: u32| u64::from(slice_bits(w_bits, u32::from(config.w_bits), slice));
    let shape = GemmShape {
        m: work.shape.m * batch,
        k: work.shape.k,
        n: work.shape.n,
    };

    // Register bits per event, from the design's register list (checked
    // against yosys per module, tests/registers.rs). Physical widths: a
    // flip-flop clocks whatever value it holds; the RTL has no clock gating.
    let registers = RegisterInventory::of(design);
    let activation_bits_per_vector = registers.role_bits(Role::Activation);
    let psum_bits_per_vector = registers.role_bits(Role::Psum);
    // A tile load writes one of the two weight and parameter banks (the
    // rows' signedness bits included when the PEs take unsigned slices),
    // the weight input register once per array row, the parameter inputs
    // once.
    let weight_load_bits_per_tile = registers.role_bits(Role::WeightBank) / 2
        + rows as u64 * registers.role_bits(Role::WeightInput)
        + registers.role_bits(Role::ParamBank) / 2
        + registers.role_bits(Role::ParamInput);
    let result_bits_per_vector = registers.role_bits(Role::Result);
    // Per vector and column: read and write one entry, and the result register.
    let accumulator_bits_per_column = 2 * u64::from(acc) + u64::from(acc);
    debug_assert_eq!(
        registers.role_bits(Role::AccOut),
        cols as u64 * u64::from(acc)
    );
    // The slice shifter in front of each column's accumulator adder (only
    // in designs that serve layers wider than the PEs): a logarithmic
    // barrel shifter of `slice_shift_bits` stages of `acc_bits` 2:1
    // multiplexers, every column sum of every vector passes it (a shift of
    // 0 included). Each multiplexer bit is priced as one adder bit, an
    // upper bound (docs/energy-area.md).
    let slice_shift_bits_per_column = if design.widths.max_slice_shift > 0 {
        u64::from(design.widths.slice_shift_bits) * u64::from(acc)
    } else {
        0
    };
    // Requantizer arithmetic per output value, in 32-bit add equivalents:
    // bias add, rounding add, barrel shift and clamp compare for hidden
    // layers; just the bias add for logits.
    let requant_adds: u64 = if work.out_bits.is_some() { 4 } else { 1 };

    let mut terms = Terms::default();
    let (mut macs, mut tile_count, mut vectors, mut output_vectors) = (0u64, 0u64, 0u64, 0u64);
    use ActionKind as K;
    use Primitive as P;
    for tile in tiles(config, shape, passes) {
        let (m, k, n) = (tile.m_len as u64, tile.k_len as u64, tile.n_len as u64);
        let tile_macs = m * k * n;
        // Each (K-tile, N-tile, M-tile) is one tile per weight slice; its
        // useful MACs are counted once, with the last weight slice.
        if tile.weight_slice + 1 == passes.weight_slices {
            macs += tile_macs;
        }
        tile_count += 1;
        let tile_vectors = tile.vectors() as u64;
        vectors += tile_vectors;
        let w_slice = weight_slice_bits(tile.weight_slice);

        // One pass per activation slice: its m vectors.
        for act_slice in 0..passes.act_slices {
            let a_slice = act_slice_bits(act_slice);
            // The bit products of all passes add up to in_bits * w_bits per
            // MAC (the slice widths add up to the layer's), so slicing
            // leaves the multiply units unchanged; it multiplies the events.
            terms.add(
                K::Multiply,
                P::Multiply,
                None,
                "MAC slice products, one per pass (units: a_slice*w_slice bit products)",
                tile_macs,
                tile_macs * a_slice * w_slice,
            );
            // Only the k_len used rows add a non-zero product; row r's adder
            // switches as many bits as the exact sum of r + 1 products at
            // the pass's slice widths.
            let add_bits_per_pixel_column: u64 = (0..tile.k_len)
                .map(|r| u64::from(pass_psum_bits(design, a_slice as u32, w_slice as u32, r)))
                .sum();
            terms.add(
                K::PeAdd,
                P::Add,
                None,
                "MAC slice products, one per pass (units: partial-sum adder bits)",
                tile_macs,
                m * n * add_bits_per_pixel_column,
            );
            terms.add(
                K::ActivationBuffer,
                P::Sram,
                Some(Buffer::Activation),
                "im2col vectors read, one per pixel and pass (units: k_len x a_slice bits each)",
                m,
                m * k * a_slice,
            );
            if tile.ends_sum(act_slice) {
                output_vectors += m;
                terms.add(
                    K::Requantize,
                    P::Add,
                    None,
                    "outputs requantized (units: 32-bit add equivalents x 32)",
                    m * n,
                    m * n * requant_adds * 32,
                );
                terms.add(
                    K::Requantize,
                    P::Register,
                    None,
                    "result vectors registered",
                    m,
                    m * result_bits_per_vector,
                );
                terms.add(
                    K::ActivationBuffer,
                    P::Sram,
                    Some(Buffer::Activation),
                    "result vectors written (units: n outputs x a_out or 32 bits each)",
                    m,
                    m * n * work.output_value_bits(),
                );
            }
        }

        terms.add(
            K::WeightLoad,
            P::Register,
            None,
            "weight registers written (rows x cols per tile and weight slice, padding included)",
            (rows * cols) as u64,
            weight_load_bits_per_tile,
        );
        terms.add(
            K::ActivationMove,
            P::Register,
            None,
            "PE activation moves (vectors x rows x cols)",
            tile_vectors * (rows * cols) as u64,
            tile_vectors * activation_bits_per_vector,
        );
        terms.add(
            K::PsumMove,
            P::Register,
            None,
            "PE partial-sum writes (vectors x rows x cols)",
            tile_vectors * (rows * cols) as u64,
            tile_vectors * psum_bits_per_vector,
        );
        terms.add(
            K::Accumulator,
            P::Register,
            None,
            "accumulator read + write + output register (vectors x cols)",
            tile_vectors * cols as u64,
            tile_vectors * cols as u64 * accumulator_bits_per_column,
        );
        terms.add(
            K::Accumulator,
            P::Add,
            None,
            "accumulator adds (vectors x cols)",
            tile_vectors * cols as u64,
            tile_vectors * cols as u64 * u64::from(acc),
        );
        if slice_shift_bits_per_column > 0 {
            terms.add(
                K::Accumulator,
                P::Add,
                None,
                "slice shifts before the accumulator add (vectors x cols; units: shifter stages x acc_bits multiplexer bits, priced as adder bits)",
                tile_vectors * cols as u64,
                tile_vectors * cols as u64 * slice_shift_bits_per_column,
            );
        }
        terms.add(
            K::WeightBuffer,
            P::Sram,
            Some(Buffer::Weight),
            "weights read for tile loads (units: weights x w_slice + bias/shift bits)",
            n * k,
            n * k * w_slice + n * (32 + u64::from(shift)) + 5,
        );
    }

    // Once per layer and batch.
    let outputs = shape.m as u64 * shape.n as u64;
    let weight_bits = work.weight_bits(design.widths.shift_bits);
    terms.add(
        K::WeightBuffer,
        P::Sram,
        Some(Buffer::Weight),
        "layer weights + bias/shift written from DRAM, once per batch",
        work.shape.n as u64 * work.shape.k as u64,
        weight_bits,
    );
    terms.add(
        K::Dram,
        P::Dram,
        None,
        "layer weights + bias/shift read, once per batch (events: 64-bit accesses)",
        weight_bits.div_ceil(64),
        weight_bits,
    );
    if work.reads_image {
        let image_bits = batch as u64 * work.input_values * u64::from(INPUT_BITS);
        terms.add(
            K::Dram,
            P::Dram,
            None,
            "input images read (events: 64-bit accesses)",
            image_bits.div_ceil(64),
            image_bits,
        );
        terms.add(
            K::ActivationBuffer,
            P::Sram,
            Some(Buffer::Activation),
            "input image values written from DRAM",
            batch as u64 * work.input_values,
            image_bits,
        );
    }
    if work.writes_logits {
        let logit_bits = outputs * 32;
        terms.add(
            K::Dram,
            P::Dram,
            None,
            "logits written (events: 64-bit accesses)",
            logit_bits.div_ceil(64),
            logit_bits,
        );
    }

    LayerActivity {
        name: work.name.clone(),
        batch,
        shape: shape.into(),
        macs,
        passes,
        tiles: tile_count,
        vectors,
        output_vectors,
        weight_rows_loaded: tile_count * rows as u64,
        terms: terms.0,
    }
}

/// On-chip buffer capacities the model assumes (see `docs/energy-area.md`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BufferSizes {
    /// Images per batch the activation buffer holds.
    pub batch: usize,
    /// The largest layer's weights + bias/shift: one layer is resident.
    pub weight_buffer_bits: u64,
    /// The largest input + output feature maps of any layer, for the whole
    /// batch (ping-pong between consecutive layers).
    pub activation_buffer_bits: u64,
}

impl BufferSizes {
    pub fn for_layers(design: &Design, layers: &[LayerWork], batch: usize) -> BufferSizes {
        let batch = batch.max(1);
        BufferSizes {
            batch,
            weight_buffer_bits: layers
                .iter()
                .map(|l| l.weight_bits(design.widths.shift_bits))
                .max()
                .unwrap_or(0),
            activation_buffer_bits: batch as u64
                * layers
                    .iter()
                    .map(LayerWork::feature_map_bits)
                    .max()
                    .unwrap_or(0),
        }
    }

    pub fn kib(&self, buffer: Buffer) -> f64 {
        let bits = match buffer {
            Buffer::Activation => self.activation_buffer_bits,
            Buffer::Weight => self.weight_buffer_bits,
        };
        bits as f64 / 8.0 / 1024.0
    }
}

#[cfg(test)]
mod tests {
    use super::slice_bits;

    #[test]
    fn slice_widths_add_up_to_the_layers() {
        // 7 bits on 3-bit PEs: 3 + 3 + 1; 8 on 4: 4 + 4; a narrower layer:
        // one slice of its own width.
        assert_eq!([0, 1, 2].map(|s| slice_bits(7, 3, s)), [3, 3, 1]);
        assert_eq!([0, 1].map(|s| slice_bits(8, 4, s)), [4, 4]);
        assert_eq!(slice_bits(2, 4, 0), 2);
        for layer in 1..=16u32 {
            for native in 1..=16u32 {
                let slices = layer.div_ceil(native);
                let total: u32 = (0..slices).map(|s| slice_bits(layer, native, s)).sum();
                assert_eq!(total, layer, "{layer} bits on {native}-bit PEs");
                assert!((0..slices).all(|s| slice_bits(layer, native, s) > 0));
            }
        }
    }
}
