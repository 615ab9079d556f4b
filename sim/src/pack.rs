//! Packing rows of small operands into wide ports, in Verilator's word layout.
//!
//! A systolic array takes e.g. sixteen 8-bit operands on one 128-bit port: element `i` occupies
//! bits `[i*field_bits, (i+1)*field_bits)`, and the port's value is a little-endian array of
//! 32-bit words (word 0 = bits 31..0), exactly what [`crate::Sim::set_wide`] takes.

/// Pack `values` into little-endian 32-bit words, element `i` at bits
/// `[i*field_bits, (i+1)*field_bits)`, each as two's complement truncated to `field_bits`
/// (so `-1` in a 4-bit field is `0xF`; values are not range-checked).
///
/// Returns `ceil(values.len() * field_bits / 32)` words.
///
/// # Panics
/// If `field_bits` is 0 or above 64.
pub fn pack_fields(values: &[i64], field_bits: u32) -> Vec<u32> {
    assert!(
        (1..=64).contains(&field_bits),
        "field_bits must be 1..=64, got {field_bits}"
    );
    let total = values.len() as u64 * u64::from(field_bits);
    let mut words = vec![0u32; total.div_ceil(32) as usize];
    let mask = field_mask(field_bits);
    for (i, &v) in values.iter().enumerate() {
        let mut bits = (v as u64) & mask;
        let mut pos = i as u64 * u64::from(field_bits);
        let mut left = field_bits;
        // A field spans at most three words (64 bits starting mid-word).
        while left > 0 {
            let word = (pos / 32) as usize;
            let offset = (pos % 32) as u32;
            let take = left.min(32 - offset);
            words[word] |= ((bits & field_mask(take)) as u32) << offset;
            bits = bits.checked_shr(take).unwrap_or(0);
            pos += u64::from(take);
            left -= take;
        }
    }
    words
}

/// Extract `count` unsigned fields of `field_bits` each (see [`pack_fields`] for the layout).
///
/// # Panics
/// If `field_bits` is 0 or above 64, or `words` holds fewer than `count * field_bits` bits.
pub fn unpack_fields_unsigned(words: &[u32], field_bits: u32, count: usize) -> Vec<u64> {
    assert!(
        (1..=64).contains(&field_bits),
        "field_bits must be 1..=64, got {field_bits}"
    );
    let needed = count as u64 * u64::from(field_bits);
    assert!(
        needed <= words.len() as u64 * 32,
        "{count} fields of {field_bits} bits need {needed} bits, but only {} words were given",
        words.len()
    );
    (0..count)
        .map(|i| {
            let mut pos = i as u64 * u64::from(field_bits);
            let mut got = 0u32;
            let mut value = 0u64;
            while got < field_bits {
                let word = (pos / 32) as usize;
                let offset = (pos % 32) as u32;
                let take = (field_bits - got).min(32 - offset);
                let chunk = u64::from(words[word] >> offset) & field_mask(take);
                value |= chunk << got;
                got += take;
                pos += u64::from(take);
            }
            value
        })
        .collect()
}

/// Extract `count` two's complement fields of `field_bits` each, sign-extended to `i64`.
///
/// # Panics
/// As [`unpack_fields_unsigned`].
pub fn unpack_fields_signed(words: &[u32], field_bits: u32, count: usize) -> Vec<i64> {
    let shift = 64 - field_bits;
    unpack_fields_unsigned(words, field_bits, count)
        .into_iter()
        .map(|v| ((v << shift) as i64) >> shift)
        .collect()
}

/// Low `bits` bits set (`bits` in 0..=64).
fn field_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Convert a `u128` to the 4 little-endian words of a 128-bit (or narrower) wide port value,
/// keeping `width_bits` bits (the rest must be zero for `Sim::set_wide`).
pub fn u128_to_words(value: u128, width_bits: u32) -> Vec<u32> {
    let n = width_bits.div_ceil(32) as usize;
    assert!(n <= 4, "a u128 fills at most 4 words");
    let v = if width_bits >= 128 {
        value
    } else {
        value & ((1u128 << width_bits) - 1)
    };
    (0..n).map(|i| (v >> (32 * i)) as u32).collect()
}

/// Inverse of [`u128_to_words`] (at most 4 words).
pub fn words_to_u128(words: &[u32]) -> u128 {
    assert!(words.len() <= 4, "a u128 holds at most 4 words");
    words
        .iter()
        .enumerate()
        .fold(0u128, |acc, (i, &w)| acc | (u128::from(w) << (32 * i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_layout() {
        // Four 8-bit fields fill one word, element 0 in the low byte.
        assert_eq!(pack_fields(&[1, 2, 3, -1], 8), vec![0xff03_0201]);
        // 12-bit fields straddle words.
        let w = pack_fields(&[0xabc, 0x123, 0x456], 12);
        assert_eq!(w, vec![0x5612_3abc, 0x4]);
        assert_eq!(unpack_fields_unsigned(&w, 12, 3), vec![0xabc, 0x123, 0x456]);
        assert_eq!(
            unpack_fields_signed(&[0xff03_0201], 8, 4),
            vec![1, 2, 3, -1]
        );
        assert_eq!(pack_fields(&[-1], 64), vec![u32::MAX, u32::MAX]);
        assert!(pack_fields(&[], 8).is_empty());
    }

    #[test]
    fn u128_words() {
        let v = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
        assert_eq!(words_to_u128(&u128_to_words(v, 128)), v);
        assert_eq!(u128_to_words(v, 100).len(), 4);
        assert_eq!(words_to_u128(&u128_to_words(v, 100)), v & ((1 << 100) - 1));
    }
}
