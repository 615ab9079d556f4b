//! The integer contract: the few arithmetic rules every part of Tandem (golden
//! reference, trainer export, generated RTL) must implement identically.
//!
//! The full text is in `docs/integer-semantics.md`; each function here cites
//! the rule it implements.

/// Largest shift a requantizer accepts (shifts are in `0..=MAX_SHIFT`).
pub const MAX_SHIFT: u8 = 31;
/// Bit-width range for unsigned activations.
pub const ACT_BITS: std::ops::RangeInclusive<u8> = 1..=16;
/// Bit-width range for signed weights.
pub const WEIGHT_BITS: std::ops::RangeInclusive<u8> = 2..=16;
/// Bit-width of the raw image bytes that feed the first layer.
pub const INPUT_BITS: u8 = 8;

/// Inclusive range of a signed, symmetric, narrow-range weight of `w_bits`:
/// `[-(2^(w-1)-1), 2^(w-1)-1]` (so -8 is not a valid 4-bit weight).
pub fn weight_range(w_bits: u8) -> (i32, i32) {
    let max = (1i32 << (w_bits - 1)) - 1;
    (-max, max)
}

/// Largest value of an unsigned activation of `a_bits`: `2^a - 1`.
pub fn activation_max(a_bits: u8) -> i32 {
    ((1u32 << a_bits) - 1) as i32
}

/// Rounding offset `r = 2^(s-1)` for `s > 0`, else 0 (round half up).
pub fn rounding_offset(shift: u8) -> i64 {
    if shift == 0 {
        0
    } else {
        1i64 << (shift - 1)
    }
}

/// Requantize one hidden-layer output:
/// `y = clamp((acc + bias + r) >> s, 0, 2^a_out - 1)` with an arithmetic
/// (floor) shift. `acc_plus_bias` is the exact accumulator plus the channel's
/// bias. The clamp at 0 is the network's ReLU.
pub fn requantize(acc_plus_bias: i64, shift: u8, out_bits: u8) -> i32 {
    let shifted = (acc_plus_bias + rounding_offset(shift)) >> shift;
    shifted.clamp(0, activation_max(out_bits) as i64) as i32
}

/// Accumulator width (bits, two's complement) a hardware design needs for a
/// layer with `k` products of an unsigned `a_bits` activation and a signed
/// `w_bits` weight, plus a bias: `a + w + ceil(log2 K) + 1`.
pub fn accumulator_bits(a_bits: u8, w_bits: u8, k: usize) -> u32 {
    a_bits as u32 + w_bits as u32 + ceil_log2(k) + 1
}

/// `ceil(log2(n))`, with `ceil_log2(0) = ceil_log2(1) = 0`.
pub fn ceil_log2(n: usize) -> u32 {
    if n <= 1 {
        0
    } else {
        usize::BITS - (n - 1).leading_zeros()
    }
}

/// Index of the largest logit; the lowest index wins ties. `None` when empty.
pub fn argmax(logits: &[i32]) -> Option<usize> {
    let mut best: Option<(usize, i32)> = None;
    for (index, &value) in logits.iter().enumerate() {
        match best {
            Some((_, best_value)) if value <= best_value => {}
            _ => best = Some((index, value)),
        }
    }
    best.map(|(index, _)| index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_ranges_are_narrow_and_symmetric() {
        assert_eq!(weight_range(2), (-1, 1));
        assert_eq!(weight_range(4), (-7, 7));
        assert_eq!(weight_range(8), (-127, 127));
        assert_eq!(weight_range(16), (-32767, 32767));
    }

    #[test]
    fn rounding_is_half_up_for_several_shifts() {
        // shift 1: x.5 rounds up, toward +inf, also for negatives.
        assert_eq!(requantize(3, 1, 8), 2); // 1.5 -> 2
        assert_eq!(requantize(5, 1, 8), 3); // 2.5 -> 3
        assert_eq!(requantize(-1, 1, 8), 0); // -0.5 -> 0 (then clamp)
                                             // shift 2: 6/4 = 1.5 -> 2, 5/4 = 1.25 -> 1, 7/4 = 1.75 -> 2
        assert_eq!(requantize(6, 2, 8), 2);
        assert_eq!(requantize(5, 2, 8), 1);
        assert_eq!(requantize(7, 2, 8), 2);
        assert_eq!(requantize(10, 2, 8), 3); // 2.5 -> 3
                                             // shift 4: 24/16 = 1.5 -> 2, 23/16 -> 1
        assert_eq!(requantize(24, 4, 8), 2);
        assert_eq!(requantize(23, 4, 8), 1);
        // shift 31 on a huge value: (2^31 + 2^30) >> 31 = 1.5 -> 2
        assert_eq!(requantize(3 << 30, 31, 8), 2);
        // shift 0: no rounding offset
        assert_eq!(requantize(7, 0, 8), 7);
    }

    #[test]
    fn clamps_at_both_ends_and_handles_negative_accumulators() {
        assert_eq!(requantize(-1000, 3, 4), 0);
        assert_eq!(requantize(i32::MIN as i64, 0, 4), 0);
        assert_eq!(requantize(1000, 3, 4), 15);
        assert_eq!(requantize(120, 3, 4), 15); // 15 exactly
        assert_eq!(requantize(123, 3, 4), 15); // 15.375 -> 15
        assert_eq!(requantize(128, 3, 4), 15); // 16 clamps to 15
        assert_eq!(requantize(-4, 3, 4), 0); // -0.5 -> 0
        assert_eq!(requantize(-5, 3, 4), 0); // -0.625 -> -1 -> clamp 0
        assert_eq!(requantize(65535, 0, 16), 65535);
        assert_eq!(requantize(65536, 0, 16), 65535);
        assert_eq!(requantize(1, 0, 1), 1);
        assert_eq!(requantize(2, 0, 1), 1);
    }

    #[test]
    fn argmax_takes_lowest_index_on_ties() {
        assert_eq!(argmax(&[1, 5, 5, 2]), Some(1));
        assert_eq!(argmax(&[-3, -3]), Some(0));
        assert_eq!(argmax(&[i32::MIN]), Some(0));
        assert_eq!(argmax(&[]), None);
        assert_eq!(argmax(&[0, 0, 0, 1]), Some(3));
    }

    #[test]
    fn accumulator_width_formula() {
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(2), 1);
        assert_eq!(ceil_log2(3), 2);
        assert_eq!(ceil_log2(9), 4);
        assert_eq!(ceil_log2(1024), 10);
        // 4-bit act, 4-bit weight, 3x3x64 = 576 products: 4+4+10+1
        assert_eq!(accumulator_bits(4, 4, 576), 19);
    }
}
