//! Seeded synthetic images: deterministic, any shape, structured, and
//! never scored.

use datasets::{synthetic, DatasetKind, Source, Split};

#[test]
fn synthetic_images_have_the_requested_shape_and_count() {
    for shape in [[3, 224, 224], [1, 32, 32], [3, 32, 32], [5, 7, 11]] {
        let data = synthetic(shape, 3, 1);
        assert_eq!(data.shape(), shape);
        assert_eq!(data.len(), 3);
        assert_eq!(data.images.len(), 3 * shape.iter().product::<usize>());
        assert_eq!(data.image(2).len(), data.image_len());
        assert_eq!(data.split, Split::Test);
    }
    assert!(synthetic([3, 8, 8], 0, 1).is_empty());
    // A zero in the shape gives empty images, not a panic.
    assert_eq!(synthetic([3, 0, 8], 2, 1).images.len(), 0);
}

#[test]
fn synthetic_images_are_a_pure_function_of_shape_seed_and_index() {
    let a = synthetic([3, 224, 224], 4, 7);
    let b = synthetic([3, 224, 224], 4, 7);
    assert_eq!(a, b);
    // The first images do not depend on how many were asked for.
    let two = synthetic([3, 224, 224], 2, 7);
    assert_eq!(two.images[..], a.images[..two.images.len()]);
    assert_eq!(datasets::synthetic::image([3, 224, 224], 7, 3), a.image(3));
    // Other seeds and other indices give other images.
    let other = synthetic([3, 224, 224], 4, 8);
    assert_ne!(other.image(0), a.image(0));
    assert_ne!(a.image(0), a.image(1));
    // Pinned bytes: a change to the recipe is a visible change.
    assert_eq!(
        fnv1a64(&synthetic([3, 16, 16], 2, 1).images),
        PINNED_3X16X16
    );
}

/// FNV-1a 64 of `synthetic([3, 16, 16], 2, 1).images`.
const PINNED_3X16X16: u64 = 0xce17_6426_992a_c8d1;

fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

#[test]
fn synthetic_images_have_structure() {
    let data = synthetic([3, 224, 224], 8, 1);
    for i in 0..data.len() {
        let image = data.image(i);
        let min = *image.iter().min().unwrap();
        let max = *image.iter().max().unwrap();
        assert!(max - min > 100, "image {i}: range {min}..{max}");
        let mean = image.iter().map(|&p| f64::from(p)).sum::<f64>() / image.len() as f64;
        assert!((20.0..235.0).contains(&mean), "image {i}: mean {mean}");
        // Flat regions: neighbouring pixels mostly close (rectangles plus
        // small noise), unlike pure noise.
        let close = image
            .windows(2)
            .filter(|pair| pair[0].abs_diff(pair[1]) <= 2 * 20)
            .count();
        assert!(
            close * 10 > image.len() * 9,
            "image {i}: {close} close pairs"
        );
    }
    // The channels differ (colour, not grey).
    let plane = 224 * 224;
    let image = data.image(0);
    assert_ne!(image[..plane], image[plane..2 * plane]);
}

#[test]
fn synthetic_labels_are_never_scored() {
    let data = synthetic([1, 32, 32], 5, 3);
    assert_eq!(data.kind, Source::Synthetic { seed: 3 });
    assert_eq!(data.kind.name(), "synthetic");
    assert!(data.kind != DatasetKind::FashionMnist);
    assert_eq!(data.labels.len(), 5);
    assert!(!data.has_labels());
    assert_eq!(data.u8_labels(), None);
    assert_eq!(data.label(0), None);
    assert_eq!(data.classes(), 0);
    assert_eq!(data.kind.describe(), "synthetic images (seed 3)");
}
