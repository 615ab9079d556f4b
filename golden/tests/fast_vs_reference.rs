//! Property tests: the fast path agrees with the readable reference bit for
//! bit on random small networks of random shapes and bit-widths.

use golden::fast::{FastModel, Isa};
use golden::model::Shape;
use golden::random::{random_from_plan, RandomBits};
use golden::reference;
use golden::topology::LayerPlan;
use ndarray::Array3;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct NetCase {
    input: Shape,
    plan: Vec<LayerPlan>,
    bits: RandomBits,
    seed: u64,
    pixels: Vec<i32>,
}

fn conv_plan() -> impl Strategy<Value = (usize, usize, usize, usize)> {
    // (out_channels, kernel, stride, padding)
    (1usize..6, 1usize..4, 1usize..3, 0usize..2)
}

fn net_case() -> impl Strategy<Value = NetCase> {
    (
        1usize..4,                                // in channels
        4usize..11,                               // input height/width
        prop::collection::vec(conv_plan(), 1..3), // convs
        any::<bool>(),                            // pool after first conv
        prop::option::of(1usize..20),             // hidden fc
        2usize..6,                                // classes
        2u8..=16,                                 // w_bits
        1u8..=16,                                 // a_bits
        any::<u64>(),
    )
        .prop_flat_map(
            |(channels, size, convs, pool, hidden, classes, w_bits, a_bits, seed)| {
                let input = Shape::new(channels, size, size);
                let mut plan = Vec::new();
                for (i, (out_channels, kernel, stride, padding)) in convs.into_iter().enumerate() {
                    plan.push(LayerPlan::Conv2d {
                        name: format!("conv{i}"),
                        out_channels,
                        kernel,
                        stride,
                        padding,
                    });
                    if i == 0 && pool {
                        plan.push(LayerPlan::MaxPool2d {
                            name: "pool".into(),
                            kernel: 2,
                            stride: 2,
                        });
                    }
                }
                plan.push(LayerPlan::Flatten {
                    name: "flatten".into(),
                });
                if let Some(features) = hidden {
                    plan.push(LayerPlan::Linear {
                        name: "fc_hidden".into(),
                        out_features: features,
                    });
                }
                plan.push(LayerPlan::Linear {
                    name: "fc_out".into(),
                    out_features: classes,
                });
                let bits = RandomBits {
                    w_bits,
                    a_bits,
                    first_last_w_bits: None,
                };
                prop::collection::vec(0i32..=255, input.len()).prop_map(move |pixels| NetCase {
                    input,
                    plan: plan.clone(),
                    bits,
                    seed,
                    pixels,
                })
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn fast_path_matches_reference(case in net_case()) {
        // Some random shapes do not fit (kernel larger than the shrinking
        // feature map); those are not interesting here.
        let model = random_from_plan("prop", "custom", 1.0, case.input, &case.plan, case.bits, case.seed);
        prop_assume!(model.is_ok());
        let model = model.unwrap();
        let image = Array3::from_shape_vec(
            (case.input.channels, case.input.height, case.input.width),
            case.pixels.clone(),
        ).unwrap();
        let readable: Vec<Vec<i32>> = reference::forward_trace(&model, image.view())
            .into_iter()
            .map(|t| t.into_iter().collect())
            .collect();
        // Every kernel this CPU has (portable, AVX2, VNNI) must agree.
        for isa in Isa::available() {
            let fast = FastModel::with_isa(&model, isa).forward_trace(&case.pixels);
            prop_assert_eq!(&readable, &fast, "{}", isa.name());
        }
    }
}

/// The batch entry point gives the same logits as the per-image one, in order.
#[test]
fn batch_matches_single_images() {
    let topology =
        golden::topology::Topology::new(golden::topology::Preset::AlexnetCifar, 0.125, 3, 10)
            .unwrap();
    let bits = RandomBits {
        w_bits: 3,
        a_bits: 5,
        first_last_w_bits: Some(8),
    };
    let model = golden::random::random_model(&topology, bits, 9).unwrap();
    let fast = FastModel::new(&model);
    let images: Vec<u8> = (0..37 * model.input.len())
        .map(|i| (i * 7919 % 256) as u8)
        .collect();
    let counted = std::sync::atomic::AtomicUsize::new(0);
    let batch = fast.logits_batch(&images, |n| {
        counted.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    });
    assert_eq!(batch.len(), 37);
    assert_eq!(counted.into_inner(), 37);
    for (index, logits) in batch.iter().enumerate() {
        let image: Vec<i32> = images[index * model.input.len()..][..model.input.len()]
            .iter()
            .map(|&p| p as i32)
            .collect();
        assert_eq!(logits, &fast.logits(&image));
        let view = Array3::from_shape_vec((3, 32, 32), image).unwrap();
        assert_eq!(logits, &reference::forward(&model, view.view()));
    }
}
