//! Packing of vector ports: element i of a port with `bits`-bit elements
//! occupies bits `[i*bits +: bits]`, element 0 in the least significant
//! bits. Words are 32-bit, least significant first, which is also the
//! layout of Verilator's `VlWide` for ports wider than 64 bits.

/// Pack `values`, each truncated to its low `bits` bits (two's complement
/// for negative numbers), into little-endian 32-bit words.
pub fn pack(values: impl IntoIterator<Item = i64>, bits: u32) -> Vec<u32> {
    assert!(
        (1..=32).contains(&bits),
        "element width {bits} must be 1..=32"
    );
    let mut words: Vec<u32> = Vec::new();
    let mask = if bits == 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    for (index, value) in values.into_iter().enumerate() {
        let field = (value as u32) & mask;
        let bit = index * bits as usize;
        let (word, offset) = (bit / 32, (bit % 32) as u32);
        words.resize(words.len().max((bit + bits as usize).div_ceil(32)), 0);
        words[word] |= field << offset;
        if offset + bits > 32 {
            words[word + 1] |= field >> (32 - offset);
        }
    }
    words
}

/// Pack unsigned elements (e.g. `act_data`).
pub fn pack_unsigned(values: &[u32], bits: u32) -> Vec<u32> {
    pack(values.iter().map(|&v| i64::from(v)), bits)
}

/// Pack signed elements (e.g. `wload_data`, `prm_bias`).
pub fn pack_signed(values: &[i32], bits: u32) -> Vec<u32> {
    pack(values.iter().map(|&v| i64::from(v)), bits)
}

/// The raw `bits`-bit field of element `index`.
fn field(words: &[u32], bits: u32, index: usize) -> u32 {
    let bit = index * bits as usize;
    let (word, offset) = (bit / 32, (bit % 32) as u32);
    let low = words.get(word).copied().unwrap_or(0) >> offset;
    let high = if offset + bits > 32 {
        words.get(word + 1).copied().unwrap_or(0) << (32 - offset)
    } else {
        0
    };
    let mask = if bits == 32 {
        u32::MAX
    } else {
        (1u32 << bits) - 1
    };
    (low | high) & mask
}

/// Unpack `count` unsigned elements (e.g. `out_act`).
pub fn unpack_unsigned(words: &[u32], bits: u32, count: usize) -> Vec<u32> {
    assert!(
        (1..=32).contains(&bits),
        "element width {bits} must be 1..=32"
    );
    (0..count).map(|index| field(words, bits, index)).collect()
}

/// Unpack `count` two's complement elements (e.g. `out_raw`).
pub fn unpack_signed(words: &[u32], bits: u32, count: usize) -> Vec<i32> {
    assert!(
        (1..=32).contains(&bits),
        "element width {bits} must be 1..=32"
    );
    let shift = 32 - bits;
    (0..count)
        .map(|index| ((field(words, bits, index) << shift) as i32) >> shift)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_straddle_words_little_endian() {
        // Three 12-bit values: bits 0..12, 12..24, 24..36.
        let words = pack_signed(&[-1, 0x123, -2048], 12);
        assert_eq!(words, vec![0x0012_3FFF, 0x8]);
        assert_eq!(unpack_signed(&words, 12, 3), vec![-1, 0x123, -2048]);
        assert_eq!(unpack_unsigned(&words, 12, 3), vec![0xFFF, 0x123, 0x800]);
    }

    #[test]
    fn thirty_two_bit_elements_are_whole_words() {
        let words = pack_signed(&[i32::MIN, -1, 7], 32);
        assert_eq!(words, vec![0x8000_0000, 0xFFFF_FFFF, 7]);
        assert_eq!(unpack_signed(&words, 32, 3), vec![i32::MIN, -1, 7]);
    }
}
