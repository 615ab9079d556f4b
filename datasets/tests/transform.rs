//! The evaluation transform against Pillow: the same test images, resized
//! and center-cropped by `datasets::transform` and by Pillow (the steps
//! torchvision's `Resize(256)` + `CenterCrop(224)` take on a PIL image),
//! must give the same bytes. The reference hashes come from
//! `tests/pillow_reference.py` (Pillow 13.0.0).

use datasets::transform::eval_transform;

/// `(height, width, channels, crop, FNV-1a 64 of Pillow's channel-major output)`.
const PILLOW: [(usize, usize, usize, usize, u64); 8] = [
    (375, 500, 3, 224, 0x1ba4e0d451e48a96),
    (500, 375, 3, 224, 0x30d72b4edae2518a),
    (300, 402, 3, 224, 0xa3631d5f961994ba),
    (1200, 900, 3, 224, 0xf5354dd3e0abbba9),
    (15, 20, 3, 32, 0x06f9f5447a3c6cd2),
    (224, 224, 3, 224, 0x7fa402beacccefa7),
    (256, 256, 3, 224, 0x888e3bd03f126b27),
    (61, 47, 1, 32, 0xc6f92dea348b506b),
];

/// The script's `pixel_formula`, interleaved (height x width x channels).
fn pixel_formula(height: usize, width: usize, channels: usize) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(height * width * channels);
    for y in 0..height {
        for x in 0..width {
            for c in 0..channels {
                pixels.push(((x * x * 3 + y * 7 + c * 85 + (x * y) / 5 + (y * y) / 3) % 256) as u8);
            }
        }
    }
    pixels
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[test]
fn eval_transform_matches_pillow_byte_for_byte() {
    for (height, width, channels, crop, expected) in PILLOW {
        let pixels = pixel_formula(height, width, channels);
        let out = eval_transform(&pixels, channels, height, width, crop, crop);
        assert_eq!(out.len(), channels * crop * crop);
        assert_eq!(
            fnv1a64(&out),
            expected,
            "{height}x{width}x{channels} cropped to {crop} differs from Pillow"
        );
    }
}
