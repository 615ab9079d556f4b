//! Seeded synthetic images of any shape: input for hardware work where no
//! real data of the model's input shape exists (AlexNet at 224x224 here).
//!
//! Each image is a dark background, a few rectangles of random brightness
//! (slightly different per channel) and per-pixel noise, so convolutions see
//! edges, flat regions and zeros as they do on photographs; pure noise would
//! make activations unrealistically uniform. The recipe is the one
//! `golden::random` calibrates random models on, made per channel.
//!
//! The bytes are a pure function of `(shape, seed, index)`, computed with a
//! SplitMix64 stream written out here (no `rand` version can change them):
//! the first `n` images of `synthetic(shape, m, seed)` are those of
//! `synthetic(shape, n, seed)` for any `m >= n`.
//!
//! Labels are all 0 and mean nothing: the dataset's [`Source`] is
//! [`Source::Synthetic`], whose [`has_labels`](Source::has_labels) is false,
//! and no accuracy is ever defined on these images.

use crate::{Dataset, Source, Split};

/// The seed used when none is given (`--synthetic-seed`'s default).
pub const DEFAULT_SEED: u64 = 1;

/// Darkest background level (exclusive upper bound of its random value).
const BACKGROUND_MAX: u64 = 48;
/// Rectangles per image: `RECTS_MIN ..= RECTS_MIN + RECTS_EXTRA`.
const RECTS_MIN: u64 = 4;
const RECTS_EXTRA: u64 = 4;
/// A rectangle's base brightness is in `40 ..= 255`.
const RECT_LOW: i32 = 40;
/// Each channel of a rectangle differs from its base by at most this.
const CHANNEL_JITTER: i32 = 30;
/// Per-pixel noise amplitude: `-NOISE ..= NOISE`.
const NOISE: i32 = 20;

/// `count` synthetic images of `shape` (`[channels, height, width]`) from
/// `seed`. Never fails; a shape with a zero in it gives empty images.
pub fn synthetic(shape: [usize; 3], count: usize, seed: u64) -> Dataset {
    let [channels, height, width] = shape;
    let mut images = Vec::with_capacity(count * channels * height * width);
    for index in 0..count {
        images.extend_from_slice(&image(shape, seed, index as u64));
    }
    Dataset {
        kind: Source::Synthetic { seed },
        split: Split::Test,
        channels,
        height,
        width,
        images,
        labels: vec![0; count],
        wide_labels: None,
        class_names: Vec::new(),
    }
}

/// Image `index` of `seed`'s sequence: `C*H*W` bytes, channel-major.
pub fn image(shape: [usize; 3], seed: u64, index: u64) -> Vec<u8> {
    let [channels, height, width] = shape;
    let plane = height * width;
    let mut pixels = vec![0i32; channels * plane];
    if pixels.is_empty() {
        return Vec::new();
    }
    let mut rng = SplitMix64::new(seed, index);
    for c in 0..channels {
        let level = rng.below(BACKGROUND_MAX) as i32;
        pixels[c * plane..(c + 1) * plane].fill(level);
    }
    let rects = RECTS_MIN + rng.below(RECTS_EXTRA + 1);
    for _ in 0..rects {
        let y0 = rng.below(height as u64) as usize;
        let x0 = rng.below(width as u64) as usize;
        let y1 = y0 + 1 + rng.below((height - y0) as u64) as usize;
        let x1 = x0 + 1 + rng.below((width - x0) as u64) as usize;
        let base = RECT_LOW + rng.below((256 - RECT_LOW) as u64) as i32;
        for c in 0..channels {
            let jitter = rng.below(2 * CHANNEL_JITTER as u64 + 1) as i32 - CHANNEL_JITTER;
            let value = (base + jitter).clamp(0, 255);
            for y in y0..y1 {
                let row = c * plane + y * width;
                pixels[row + x0..row + x1].fill(value);
            }
        }
    }
    pixels
        .iter()
        .map(|&pixel| {
            let noise = rng.below(2 * NOISE as u64 + 1) as i32 - NOISE;
            (pixel + noise).clamp(0, 255) as u8
        })
        .collect()
}

/// SplitMix64 (Steele, Lea and Flood, 2014), one stream per `(seed, index)`.
struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    fn new(seed: u64, index: u64) -> Self {
        // Mix the seed and the index through one output step each, so
        // neighbouring seeds and indices start far apart.
        let mut seeder = SplitMix64 { state: seed };
        let base = seeder.next();
        let mut stream = SplitMix64 {
            state: base ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03),
        };
        let state = stream.next();
        SplitMix64 { state }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(Self::GAMMA);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound >= 1`): the high word of the 128-bit
    /// product (Lemire's multiply-shift, without the rejection step; its
    /// bias, below `bound / 2^64`, is irrelevant here).
    fn below(&mut self, bound: u64) -> u64 {
        debug_assert!(bound >= 1);
        ((u128::from(self.next()) * u128::from(bound)) >> 64) as u64
    }
}
