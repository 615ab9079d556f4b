//! Mutations of one file's bytes: byte-level edits for every format, plus
//! line- and token-level edits for the text formats (YAML), where a flipped
//! bit mostly yields a syntax error and a moved line reaches the validator.

use crate::rng::Rng;

/// Byte values that often sit on a boundary.
const INTERESTING_8: [u8; 12] = [0, 1, 2, 3, 0x0a, 0x10, 0x1f, 0x20, 0x7f, 0x80, 0xfe, 0xff];
/// Word values that often sit on a boundary (written as 2, 4 or 8 bytes,
/// little- or big-endian).
const INTERESTING_WORDS: [u64; 16] = [
    0,
    1,
    2,
    28,
    32,
    255,
    3073,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    i64::MAX as u64,
    u64::MAX,
];

/// Numbers written into text formats: type limits and their neighbours.
const INTERESTING_NUMBERS: [&str; 24] = [
    "0",
    "1",
    "-1",
    "2",
    "31",
    "32",
    "33",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e300",
    "-0.0",
    "1e-300",
    "0.5",
];

/// How the mutator treats a file.
#[derive(Debug, Clone, Copy)]
pub struct Style<'a> {
    /// Also apply line and token edits.
    pub text: bool,
    /// Tokens worth inserting (YAML syntax, boundary numbers).
    pub dictionary: &'a [&'a str],
    /// Inputs never grow past this many bytes.
    pub max_len: usize,
}

/// Apply between one and four stacked mutations to `data`; `other` (another
/// input's version of the same file) feeds splices and borrowed lines.
pub fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], style: Style<'_>) {
    let rounds = 1 + rng.below(4).min(rng.below(4));
    for _ in 0..rounds {
        let text_edit = style.text && rng.one_in(2);
        if text_edit {
            text_mutation(rng, data, other, style.dictionary);
        } else {
            byte_mutation(rng, data, other, style.dictionary);
        }
    }
    data.truncate(style.max_len);
}

fn byte_mutation(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dictionary: &[&str]) {
    if data.is_empty() {
        let len = rng.range_len(64);
        data.extend((0..len).map(|_| rng.next_u64() as u8));
        return;
    }
    let at = rng.below(data.len());
    match rng.below(12) {
        0 => data[at] ^= 1 << rng.below(8),
        1 => data[at] = *rng.pick(&INTERESTING_8),
        2 => data[at] = rng.next_u64() as u8,
        3 => write_word(rng, data, at),
        4 => add_small(rng, data, at),
        5 => {
            let len = rng.range_len(data.len() - at);
            data.drain(at..at + len);
        }
        6 => {
            let len = rng.range_len(data.len() - at);
            let copy = data[at..at + len].to_vec();
            let to = rng.below(data.len() + 1);
            data.splice(to..to, copy);
        }
        7 => {
            let len = rng.range_len(64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, bytes);
        }
        8 => data.truncate(at),
        9 => {
            let len = rng.range_len(4096);
            let fill = if rng.one_in(2) {
                0
            } else {
                rng.next_u64() as u8
            };
            data.extend(std::iter::repeat_n(fill, len));
        }
        10 if !other.is_empty() => {
            let from = rng.below(other.len());
            data.truncate(at);
            data.extend_from_slice(&other[from..]);
        }
        _ if !dictionary.is_empty() => {
            let token = rng.pick(dictionary).as_bytes();
            data.splice(at..at, token.iter().copied());
        }
        _ => data[at] = !data[at],
    }
}

/// Write an interesting 2-, 4- or 8-byte value at `at` (where it fits).
fn write_word(rng: &mut Rng, data: &mut [u8], at: usize) {
    let width = *rng.pick(&[2usize, 4, 8]);
    if at + width > data.len() {
        return;
    }
    let value = *rng.pick(&INTERESTING_WORDS);
    let bytes = if rng.one_in(2) {
        value.to_le_bytes()
    } else {
        value.to_be_bytes()
    };
    let bytes = if rng.one_in(2) {
        &bytes[..width]
    } else {
        &bytes[8 - width..]
    };
    data[at..at + width].copy_from_slice(bytes);
}

/// Add or subtract a small amount to the byte or big-endian u32 at `at`
/// (IDX headers are big-endian counts; near misses find off-by-ones).
fn add_small(rng: &mut Rng, data: &mut [u8], at: usize) {
    let delta = rng.between(1, 35) as u32;
    let negative = rng.one_in(2);
    if at + 4 <= data.len() && rng.one_in(2) {
        let word = u32::from_be_bytes(data[at..at + 4].try_into().expect("4 bytes"));
        let word = if negative {
            word.wrapping_sub(delta)
        } else {
            word.wrapping_add(delta)
        };
        data[at..at + 4].copy_from_slice(&word.to_be_bytes());
    } else {
        data[at] = if negative {
            data[at].wrapping_sub(delta as u8)
        } else {
            data[at].wrapping_add(delta as u8)
        };
    }
}

/// `(start, end)` of every line, the newline included.
fn lines(data: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (index, &byte) in data.iter().enumerate() {
        if byte == b'\n' {
            spans.push((start, index + 1));
            start = index + 1;
        }
    }
    if start < data.len() {
        spans.push((start, data.len()));
    }
    spans
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'+')
}

/// `(start, end)` of every run of word-like bytes (names, numbers).
fn tokens(data: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (index, &byte) in data.iter().enumerate() {
        match (start, is_token_byte(byte)) {
            (None, true) => start = Some(index),
            (Some(from), false) => {
                spans.push((from, index));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        spans.push((from, data.len()));
    }
    spans
}

fn text_mutation(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dictionary: &[&str]) {
    let own_lines = lines(data);
    if own_lines.is_empty() {
        return byte_mutation(rng, data, other, dictionary);
    }
    let (start, end) = *rng.pick(&own_lines);
    match rng.below(8) {
        0 => {
            data.drain(start..end);
        }
        1 => {
            let line = data[start..end].to_vec();
            let to = rng.pick(&own_lines).0;
            data.splice(to..to, line);
        }
        2 => {
            let (other_start, other_end) = *rng.pick(&own_lines);
            if other_start > end {
                let (first, second) = (
                    data[start..end].to_vec(),
                    data[other_start..other_end].to_vec(),
                );
                data.splice(other_start..other_end, first);
                data.splice(start..end, second);
            }
        }
        3 => {
            let borrowed = lines(other);
            if !borrowed.is_empty() {
                let (from, to) = *rng.pick(&borrowed);
                let line = other[from..to].to_vec();
                data.splice(start..start, line);
            }
        }
        4 => {
            // Indent or dedent by two spaces: changes which mapping a key
            // belongs to.
            if rng.one_in(2) {
                data.splice(start..start, *b"  ");
            } else if data[start..end].starts_with(b"  ") {
                data.drain(start..start + 2);
            }
        }
        5 => replace_number(rng, data),
        _ => replace_token(rng, data, other, dictionary),
    }
}

/// Replace one number with a type limit or with itself plus or minus a
/// little: sizes, widths and counts are where overflows hide.
fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let numbers: Vec<(usize, usize)> = tokens(data)
        .into_iter()
        .filter(|&(start, end)| data[start..end].iter().all(u8::is_ascii_digit))
        .collect();
    if numbers.is_empty() {
        return;
    }
    let (start, end) = *rng.pick(&numbers);
    let replacement = match std::str::from_utf8(&data[start..end])
        .ok()
        .and_then(|text| text.parse::<i128>().ok())
    {
        Some(value) if rng.one_in(3) => (value + rng.between(0, 4) as i128 - 2).to_string(),
        _ => rng.pick(&INTERESTING_NUMBERS).to_string(),
    };
    data.splice(start..end, replacement.into_bytes());
}

/// Replace one token with a dictionary entry or with a token of `other`.
fn replace_token(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8], dictionary: &[&str]) {
    let own = tokens(data);
    if own.is_empty() {
        return;
    }
    let (start, end) = *rng.pick(&own);
    let borrowed = tokens(other);
    let replacement: Vec<u8> = if !dictionary.is_empty() && (borrowed.is_empty() || rng.one_in(2)) {
        rng.pick(dictionary).as_bytes().to_vec()
    } else if !borrowed.is_empty() {
        let (from, to) = *rng.pick(&borrowed);
        other[from..to].to_vec()
    } else {
        return;
    };
    data.splice(start..end, replacement);
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLE: Style<'static> = Style {
        text: true,
        dictionary: &["~", "[]"],
        max_len: 256,
    };

    #[test]
    fn lines_and_tokens_cover_the_text() {
        assert_eq!(lines(b"a: 1\nb: 2"), [(0, 5), (5, 9)]);
        assert_eq!(tokens(b"rows: 16\n"), [(0, 4), (6, 8)]);
    }

    #[test]
    fn mutations_change_inputs_deterministically_and_respect_max_len() {
        let seed = b"name: x\nrows: 16\ncols: 16\n".to_vec();
        let run = |seed_value| {
            let mut rng = Rng::new(seed_value);
            (0..200)
                .map(|_| {
                    let mut data = seed.clone();
                    mutate(&mut rng, &mut data, b"other: 3\n", STYLE);
                    data
                })
                .collect::<Vec<_>>()
        };
        let first = run(1);
        assert_eq!(first, run(1));
        assert!(first.iter().all(|data| data.len() <= STYLE.max_len));
        let changed = first.iter().filter(|data| **data != seed).count();
        assert!(
            changed > 150,
            "only {changed} of 200 mutations changed the input"
        );
        let distinct: std::collections::HashSet<_> = first.iter().collect();
        assert!(
            distinct.len() > 150,
            "only {} distinct inputs",
            distinct.len()
        );
    }
}
