//! Property tests for packing operand rows into wide-port words.

use proptest::prelude::*;
use sim::{pack_fields, unpack_fields_signed, unpack_fields_unsigned};

/// Reference: build the packed value bit by bit.
fn reference_bits(values: &[i64], field_bits: u32) -> Vec<bool> {
    values
        .iter()
        .flat_map(|&v| (0..field_bits).map(move |b| (v as u64) >> b & 1 == 1))
        .collect()
}

fn truncate_unsigned(v: i64, bits: u32) -> u64 {
    if bits == 64 {
        v as u64
    } else {
        (v as u64) & ((1u64 << bits) - 1)
    }
}

fn truncate_signed(v: i64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v as u64) << shift) as i64 >> shift
}

proptest! {
    #[test]
    fn pack_matches_bitwise_reference(field_bits in 1u32..=64, values in prop::collection::vec(any::<i64>(), 0..40)) {
        let words = pack_fields(&values, field_bits);
        let total = values.len() * field_bits as usize;
        prop_assert_eq!(words.len(), total.div_ceil(32));
        let bits = reference_bits(&values, field_bits);
        for (i, &bit) in bits.iter().enumerate() {
            prop_assert_eq!(words[i / 32] >> (i % 32) & 1 == 1, bit, "bit {}", i);
        }
        // Padding above the last field stays zero (Verilator needs clean top bits).
        for i in total..words.len() * 32 {
            prop_assert_eq!(words[i / 32] >> (i % 32) & 1, 0);
        }
    }

    #[test]
    fn signed_round_trip(field_bits in 1u32..=64, values in prop::collection::vec(any::<i64>(), 0..40)) {
        let words = pack_fields(&values, field_bits);
        let back = unpack_fields_signed(&words, field_bits, values.len());
        let expect: Vec<i64> = values.iter().map(|&v| truncate_signed(v, field_bits)).collect();
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn unsigned_round_trip(field_bits in 1u32..=64, values in prop::collection::vec(any::<i64>(), 0..40)) {
        let words = pack_fields(&values, field_bits);
        let back = unpack_fields_unsigned(&words, field_bits, values.len());
        let expect: Vec<u64> = values.iter().map(|&v| truncate_unsigned(v, field_bits)).collect();
        prop_assert_eq!(back, expect);
    }

    #[test]
    fn in_range_int8_rows_round_trip_exactly(values in prop::collection::vec(-128i64..=127, 1..=32)) {
        let words = pack_fields(&values, 8);
        prop_assert_eq!(unpack_fields_signed(&words, 8, values.len()), values);
    }

    #[test]
    fn u128_words_round_trip(v in any::<u128>(), width in 1u32..=128) {
        let words = sim::u128_to_words(v, width);
        prop_assert_eq!(words.len(), width.div_ceil(32) as usize);
        let masked = if width == 128 { v } else { v & ((1u128 << width) - 1) };
        prop_assert_eq!(sim::words_to_u128(&words), masked);
    }
}
