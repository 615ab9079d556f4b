//! Randomized differential testing of single GEMMs on the RTL against the
//! integer contract ([`golden::contract`]), as `tandem sim gemm` and the test
//! suite run them.
//!
//! Cases cover what breaks arrays: K not a multiple of the rows, N not a
//! multiple of the columns, M over the accumulator depth (several M-tiles),
//! M = 1, negative accumulators, saturation at both ends, bypass (logits),
//! and all-extreme operands (every activation at its maximum, every weight at
//! the largest magnitude the 32-bit bound allows). Operand widths are drawn
//! up to the widest the design serves, half the time at that width, so a
//! design with native PEs narrower than that runs operand-slice passes.

use crate::array::{ArraySim, DriverError};
use golden::contract;
use hwgen::host::OwnedGemm;
use hwgen::{Design, GemmShape};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One random GEMM and its operands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GemmCase {
    /// Activations `< 2^in_bits`, weights in the narrow range of `w_bits`.
    pub gemm: OwnedGemm,
    /// All operands at their extremes.
    pub extreme: bool,
}

/// A random case for `design`: shapes up to about three tiles in each
/// dimension, one case in eight all-extreme, one in four in bypass mode.
pub fn random_case(design: &Design, rng: &mut ChaCha8Rng) -> GemmCase {
    let config = &design.config;
    let rows = config.rows as usize;
    let cols = config.cols as usize;
    let depth = config.acc_depth as usize;
    // Keep K within what the accumulator holds exactly (acc_bits may be
    // sized for a max_k smaller than three row tiles).
    let max_k = (3 * rows + 2)
        .min(config.max_k.unwrap_or(u64::MAX) as usize)
        .max(1);
    let shape = GemmShape {
        m: rng.random_range(1..=(depth + depth / 2 + 1).min(depth + 40)),
        k: rng.random_range(1..=max_k),
        n: rng.random_range(1..=3 * cols + 1),
    };
    let extreme = rng.random_ratio(1, 8);
    let bypass = rng.random_ratio(1, 4);
    let mut width = |widest: u8, narrowest: u8| {
        if extreme || rng.random_bool(0.5) {
            widest
        } else {
            rng.random_range(narrowest..=widest)
        }
    };
    let in_bits = width(config.layer_in_bits(), 1);
    let w_bits = width(config.layer_w_bits(), 2);
    let out_bits = width(config.layer_out_bits(), 1);
    let act_max = contract::activation_max(in_bits) as u32;
    let (_, w_range) = contract::weight_range(w_bits);
    let max_shift = design.widths.max_shift;

    let activations: Vec<u32> = (0..shape.m * shape.k)
        .map(|_| {
            if extreme {
                act_max
            } else {
                rng.random_range(0..=act_max)
            }
        })
        .collect();
    let mut weights = Vec::with_capacity(shape.n * shape.k);
    let mut bias = Vec::with_capacity(shape.n);
    let mut shifts = Vec::with_capacity(shape.n);
    for _ in 0..shape.n {
        let shift = if bypass {
            0
        } else {
            rng.random_range(0..=max_shift)
        };
        // Keep |acc + bias + r| inside i32 as the contract requires of any
        // model: the bias takes at most a quarter of the range, the products
        // the rest.
        let channel_bias: i32 = if extreme {
            if rng.random_bool(0.5) {
                -(1 << 29)
            } else {
                1 << 29
            }
        } else {
            rng.random_range(-(1 << 20)..=(1 << 20))
        };
        let headroom = i32::MAX as i64 - (1i64 << 29) - contract::rounding_offset(shift);
        let cap = (headroom / (shape.k as i64 * act_max.max(1) as i64)).min(w_range as i64) as i32;
        for _ in 0..shape.k {
            let w = if extreme {
                if rng.random_bool(0.5) {
                    cap
                } else {
                    -cap
                }
            } else {
                rng.random_range(-cap..=cap)
            };
            weights.push(w);
        }
        bias.push(channel_bias);
        shifts.push(shift);
    }
    GemmCase {
        gemm: OwnedGemm {
            shape,
            activations,
            in_bits,
            weights,
            w_bits,
            bias,
            shifts,
            out_bits,
            bypass,
        },
        extreme,
    }
}

/// Outcome of a batch of random GEMMs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GemmCheck {
    pub cases: usize,
    /// Output values that differed from the contract.
    pub mismatches: u64,
    /// Output values compared.
    pub values: u64,
    /// Measured RTL cycles, all cases.
    pub cycles: u64,
    /// Analytical cycles, all cases.
    pub model_cycles: u64,
    pub macs: u64,
    /// Cases that ran in more than one operand-slice pass.
    pub sliced_cases: usize,
    /// The first mismatch, described.
    pub first_mismatch: Option<String>,
}

/// Run `count` random GEMMs (seeded) on `array` and compare every value.
pub fn check_random_gemms(
    array: &mut ArraySim,
    count: usize,
    seed: u64,
    mut on_case: impl FnMut(usize),
) -> Result<GemmCheck, DriverError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut check = GemmCheck::default();
    for index in 0..count {
        let case = random_case(array.design(), &mut rng);
        let result = array.run_gemm(&case.gemm.operands())?;
        let expected = case.gemm.expected();
        check.cases += 1;
        check.values += expected.len() as u64;
        check.cycles += result.cycles;
        check.model_cycles += result.model_cycles;
        check.macs += case.gemm.shape.macs();
        check.sliced_cases += usize::from(result.passes.count() > 1);
        for (position, (&got, &want)) in result.values.iter().zip(&expected).enumerate() {
            if got != want {
                check.mismatches += 1;
                if check.first_mismatch.is_none() {
                    let GemmShape { m, k, n } = case.gemm.shape;
                    check.first_mismatch = Some(format!(
                        "case {index} (M={m} K={k} N={n}, {}-bit activations x {}-bit weights in {} passes{}{}), output [{}][{}]: RTL {got}, contract {want}",
                        case.gemm.in_bits,
                        case.gemm.w_bits,
                        result.passes.count(),
                        if case.gemm.bypass { ", bypass" } else { "" },
                        if case.extreme { ", extreme" } else { "" },
                        position / n,
                        position % n
                    ));
                }
            }
        }
        on_case(index);
    }
    Ok(check)
}
