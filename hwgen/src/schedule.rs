//! The canonical tile schedule and its cycle count.
//!
//! A GEMM `Y[m][n] = sum_k X[m][k] * W[n][k]` of shape (M, K, N) is split
//! into N-tiles of `cols` channels, M-tiles of `acc_depth` pixels and
//! K-tiles of `rows` products, visited in the order
//!
//! ```text
//! for each N-tile n0 (step cols):
//!     for each M-tile m0 (step acc_depth):
//!         for each K-tile k0 (step rows):   // the accumulator bank holds
//!             for each weight slice j:      // this (n0, m0) sum
//!                 one tile: its weights' slice j loaded once, then its
//!                 M_i pixels streamed once per activation slice
//! ```
//!
//! A layer whose operands fit the PEs has one weight slice and one
//! activation slice ([`Passes::ONE`]); a wider one runs `act_slices x
//! weight_slices` passes of native-width digits, combined exactly by the
//! accumulator's shift-add (see [`crate::design::Passes`]).
//!
//! Timeline (cycle numbers as in `docs/hardware.md`; R = rows, C = cols):
//!
//! - Prologue, cycles `0..R`: weight row r of tile 0 in cycle r; `prm_*`
//!   and `wswap` in cycle R-1.
//! - Tile i occupies a slot of `P_i` cycles from `S_i` (`S_0 = R`,
//!   `S_(i+1) = S_i + P_i`): its `V_i = M_i x act_slices` vectors in cycles
//!   `S_i .. S_i+V_i-1`. If another tile follows, `P_i = max(V_i, R + C)`; the next tile's row r
//!   is written in cycle `S_i + P_i - R + r` and its `prm_*` and `wswap` in
//!   the slot's last cycle `S_i + P_i - 1`. The last tile's slot is `V_i`.
//! - The result of a vector presented in cycle t is on `out_*` in cycle
//!   `t + R + C + 2`.
//!
//! The total is [`gemm_cycles`]: `R + sum_(i<T-1) P_i + V_(T-1) + R + C + 1`
//! clock edges, the last of which makes the last result visible.

use crate::design::Passes;
use crate::HwConfig;

/// The dimensions of one GEMM: `Y[M][N] = X[M][K] * W[N][K]^T`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GemmShape {
    /// Output pixels (conv: im2col rows, batch included).
    pub m: usize,
    /// Products per output (conv: cin * kh * kw; linear: input features).
    pub k: usize,
    /// Output channels.
    pub n: usize,
}

impl GemmShape {
    /// Multiply-accumulates the GEMM needs: `M * K * N`.
    pub fn macs(&self) -> u64 {
        self.m as u64 * self.k as u64 * self.n as u64
    }
}

/// One tile of the canonical schedule: the weights `W[n0..n0+n_len][k0..k0+k_len]`
/// applied to the pixels `m0..m0+m_len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// First output channel (array column 0).
    pub n0: usize,
    /// Channels in this tile (`<= cols`; the remaining columns are zero).
    pub n_len: usize,
    /// First output pixel (accumulator entry 0).
    pub m0: usize,
    /// Pixels in this tile (`<= acc_depth`), streamed once per activation
    /// slice.
    pub m_len: usize,
    /// First K index (array row 0).
    pub k0: usize,
    /// K indices in this tile (`<= rows`; the remaining rows are zero).
    pub k_len: usize,
    /// Which weight slice the tile holds (0 = least significant).
    pub weight_slice: u32,
    /// How the layer's operands split ([`Passes`]).
    pub passes: Passes,
    /// The first K-tile of its (n0, m0) sum.
    pub first_k: bool,
    /// The last K-tile of its (n0, m0) sum.
    pub last_k: bool,
}

impl Tile {
    /// Vectors streamed: `m_len` pixels per activation slice.
    pub fn vectors(&self) -> usize {
        self.m_len * self.passes.act_slices as usize
    }

    /// Vector `index` of the tile: (activation slice, pixel offset in the
    /// M-tile). Slices are streamed one after the other.
    pub fn vector(&self, index: usize) -> (u32, usize) {
        ((index / self.m_len) as u32, index % self.m_len)
    }

    /// Vectors of activation slice `act_slice` start the (n0, m0) sum
    /// (`act_first`: overwrite the accumulator).
    pub fn starts_sum(&self, act_slice: u32) -> bool {
        self.first_k && self.weight_slice == 0 && act_slice == 0
    }

    /// Vectors of activation slice `act_slice` end the (n0, m0) sum
    /// (`act_last`: requantize and output).
    pub fn ends_sum(&self, act_slice: u32) -> bool {
        self.last_k
            && self.weight_slice + 1 == self.passes.weight_slices
            && act_slice + 1 == self.passes.act_slices
    }
}

/// A tile with its place in the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduledTile {
    /// The tile.
    pub tile: Tile,
    /// `S_i`: the cycle its first vector is presented.
    pub start_cycle: u64,
    /// `P_i`: cycles until the next tile's first vector (its vectors for
    /// the last tile).
    pub slot_cycles: u64,
}

/// The whole canonical schedule of one GEMM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Tiles in order, with their timing.
    pub tiles: Vec<ScheduledTile>,
    /// Clock edges from the first weight write to the last result (see
    /// [`gemm_cycles`]).
    pub total_cycles: u64,
}

fn div_ceil(a: usize, b: usize) -> usize {
    a.div_ceil(b)
}

/// The tiles of `shape` in `passes` in the canonical order (N-tiles, then
/// M-tiles, then K-tiles, then weight slices innermost). Empty if any
/// dimension is zero.
pub fn tiles(config: &HwConfig, shape: GemmShape, passes: Passes) -> Vec<Tile> {
    let (rows, cols, depth) = (
        config.rows as usize,
        config.cols as usize,
        config.acc_depth as usize,
    );
    if shape.m == 0 || shape.k == 0 || shape.n == 0 {
        return Vec::new();
    }
    let k_tiles = div_ceil(shape.k, rows);
    let mut out = Vec::new();
    for n0 in (0..shape.n).step_by(cols) {
        for m0 in (0..shape.m).step_by(depth) {
            for (k_index, k0) in (0..shape.k).step_by(rows).enumerate() {
                for weight_slice in 0..passes.weight_slices {
                    out.push(Tile {
                        n0,
                        n_len: cols.min(shape.n - n0),
                        m0,
                        m_len: depth.min(shape.m - m0),
                        k0,
                        k_len: rows.min(shape.k - k0),
                        weight_slice,
                        passes,
                        first_k: k_index == 0,
                        last_k: k_index + 1 == k_tiles,
                    });
                }
            }
        }
    }
    out
}

/// The canonical schedule of `shape` in `passes` on `config`: every tile's
/// start cycle and slot, and the total cycle count.
pub fn schedule(config: &HwConfig, shape: GemmShape, passes: Passes) -> Schedule {
    let all = tiles(config, shape, passes);
    let min_slot = config.min_slot_cycles();
    let mut start = u64::from(config.rows);
    let mut scheduled = Vec::with_capacity(all.len());
    for (index, tile) in all.iter().enumerate() {
        let vectors = tile.vectors() as u64;
        let slot = if index + 1 == all.len() {
            vectors
        } else {
            vectors.max(min_slot)
        };
        scheduled.push(ScheduledTile {
            tile: *tile,
            start_cycle: start,
            slot_cycles: slot,
        });
        start += slot;
    }
    let total_cycles = if scheduled.is_empty() {
        0
    } else {
        start + config.latency_cycles() - 1
    };
    Schedule {
        tiles: scheduled,
        total_cycles,
    }
}

/// Clock cycles the canonical schedule needs for one GEMM in `passes`, from
/// the edge that samples the first weight row to the edge after which the
/// last result is on `out_*` (closed form of [`schedule`]`.total_cycles`):
///
/// ```text
/// A = act_slices, J = weight_slices (both 1 when the layer fits the PEs)
/// T = ceil(N/C) * ceil(M/D) * ceil(K/R) * J tiles,
/// V_i = A * M_i vectors, M_i = pixels of tile i
/// cycles = R + sum_(i<T-1) max(V_i, R + C) + V_(T-1) + (R + C + 1)
/// ```
///
/// Zero if any dimension is zero.
pub fn gemm_cycles(config: &HwConfig, shape: GemmShape, passes: Passes) -> u64 {
    if shape.m == 0 || shape.k == 0 || shape.n == 0 {
        return 0;
    }
    let (rows, cols, depth) = (
        config.rows as usize,
        config.cols as usize,
        config.acc_depth as usize,
    );
    let min_slot = config.min_slot_cycles();
    let act_slices = u64::from(passes.act_slices);
    let n_tiles = div_ceil(shape.n, cols) as u64;
    let k_tiles = div_ceil(shape.k, rows) as u64 * u64::from(passes.weight_slices);
    let m_tiles = div_ceil(shape.m, depth) as u64;
    let last_v = (shape.m - (m_tiles as usize - 1) * depth) as u64 * act_slices;
    let full_v = (depth as u64).min(shape.m as u64) * act_slices;
    // Slots of one pass over the M-tiles, every tile treated as followed.
    let per_k_pass = (m_tiles - 1) * full_v.max(min_slot) + last_v.max(min_slot);
    let all_slots = n_tiles * k_tiles * per_k_pass;
    // The last tile has no successor, so its slot is just its vectors.
    u64::from(config.rows) + all_slots - last_v.max(min_slot) + last_v + config.latency_cycles() - 1
}

/// Fraction of the array's MAC slots doing useful work over the GEMM:
/// `M*K*N / (rows * cols * gemm_cycles)`. A layer in several passes uses
/// every MAC slot once per pass, so its utilization is at most
/// `1 / passes`.
pub fn utilization(config: &HwConfig, shape: GemmShape, passes: Passes) -> f64 {
    let cycles = gemm_cycles(config, shape, passes);
    if cycles == 0 {
        return 0.0;
    }
    shape.macs() as f64 / (config.macs_per_cycle() as f64 * cycles as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(rows: u32, cols: u32, depth: u32) -> HwConfig {
        HwConfig::from_yaml_str(&format!(
            "name: t\nrows: {rows}\ncols: {cols}\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\n\
             acc_bits: auto\nmax_k: 4096\nacc_depth: {depth}\nclock_mhz: 100\n"
        ))
        .unwrap()
    }

    #[test]
    fn one_vector_on_a_1x1_array() {
        // Row 0 + wswap in cycle 0, the vector in cycle 1, its result in
        // cycle 1 + 4 = 5, visible after 5 edges.
        let config = config(1, 1, 1);
        assert_eq!(
            gemm_cycles(&config, GemmShape { m: 1, k: 1, n: 1 }, Passes::ONE),
            5
        );
    }

    #[test]
    fn closed_form_matches_the_timeline() {
        for (rows, cols, depth) in [(1, 1, 1), (2, 3, 4), (4, 4, 16), (16, 16, 256), (3, 5, 7)] {
            let config = config(rows, cols, depth);
            for m in [1, 2, 5, 7, 16, 100, 300] {
                for k in [1, 2, 3, 9, 50] {
                    for n in [1, 3, 4, 17] {
                        let shape = GemmShape { m, k, n };
                        for passes in [
                            Passes::ONE,
                            Passes {
                                act_slices: 2,
                                weight_slices: 3,
                            },
                            Passes {
                                act_slices: 4,
                                weight_slices: 1,
                            },
                        ] {
                            let plan = schedule(&config, shape, passes);
                            assert_eq!(
                                plan.total_cycles,
                                gemm_cycles(&config, shape, passes),
                                "{shape:?} {passes:?}"
                            );
                            assert_eq!(
                                plan.tiles.len(),
                                m.div_ceil(depth as usize)
                                    * k.div_ceil(rows as usize)
                                    * n.div_ceil(cols as usize)
                                    * passes.weight_slices as usize
                            );
                            let vectors: usize = plan.tiles.iter().map(|t| t.tile.vectors()).sum();
                            assert_eq!(
                                vectors,
                                m * k.div_ceil(rows as usize)
                                    * n.div_ceil(cols as usize)
                                    * passes.count() as usize
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn examples_in_docs_hardware_md() {
        let config = config(16, 16, 256);
        let cases = [
            ((1, 1, 1), 50),
            ((1024, 576, 64), 147_505),
            ((16, 3456, 256), 110_625),
        ];
        for ((m, k, n), cycles) in cases {
            assert_eq!(
                gemm_cycles(&config, GemmShape { m, k, n }, Passes::ONE),
                cycles
            );
        }
        let half = utilization(
            &config,
            GemmShape {
                m: 16,
                k: 3456,
                n: 256,
            },
            Passes::ONE,
        );
        assert!((half - 0.5).abs() < 0.001, "{half}");
    }

    #[test]
    fn large_tiles_are_compute_bound() {
        // 16x16, M = 256 per tile: every slot is the 256 vectors.
        let config = config(16, 16, 256);
        let shape = GemmShape {
            m: 1024,
            k: 64,
            n: 32,
        };
        let tiles = 2 * 4 * 4;
        assert_eq!(
            gemm_cycles(&config, shape, Passes::ONE),
            16 + tiles * 256 + 33
        );
        assert!(utilization(&config, shape, Passes::ONE) > 0.98);
        // Four passes (two activation x two weight slices): four times the
        // slots, a quarter of the utilization.
        let four = Passes {
            act_slices: 2,
            weight_slices: 2,
        };
        assert_eq!(gemm_cycles(&config, shape, four), 16 + 4 * tiles * 256 + 33);
        assert!((utilization(&config, shape, four) - 0.25).abs() < 0.01);
    }
}
