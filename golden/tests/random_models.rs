//! Random models must be usable for hardware work: valid, deterministic, and
//! with hidden activations that neither die nor saturate.

use golden::fast::FastModel;
use golden::model::{Model, Output};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};

/// Test images: the real Fashion-MNIST test split when installed, else
/// deterministic blocky images.
fn images(model: &Model, count: usize) -> Vec<Vec<i32>> {
    if model.input.channels == 1 && model.input.height == 32 {
        if let Ok(data) = datasets::load(
            datasets::DatasetKind::FashionMnist,
            datasets::Split::Test,
            None,
            Some(count),
        ) {
            return (0..data.len())
                .map(|i| data.image(i).iter().map(|&p| p as i32).collect())
                .collect();
        }
        eprintln!("Fashion-MNIST not installed; using synthetic images");
    }
    (0..count)
        .map(|n| {
            (0..model.input.len())
                .map(|i| (((i / 7 + n * 13) % 5) * 60) as i32)
                .collect()
        })
        .collect()
}

fn check_alive(model: &Model) {
    let fast = FastModel::new(model);
    let traces: Vec<_> = images(model, 8)
        .iter()
        .map(|image| fast.forward_trace(image))
        .collect();
    for (index, layer) in model.layers().iter().enumerate() {
        let Some(params) = layer.params() else {
            continue;
        };
        let Output::Requant { bits, .. } = &params.output else {
            continue;
        };
        let max = golden::contract::activation_max(*bits);
        let values: Vec<i32> = traces
            .iter()
            .flat_map(|t| t[index].iter().copied())
            .collect();
        let zeros = values.iter().filter(|&&v| v == 0).count() as f64 / values.len() as f64;
        let saturated = values.iter().filter(|&&v| v == max).count() as f64 / values.len() as f64;
        let distinct: std::collections::BTreeSet<i32> = values.iter().copied().collect();
        assert!(
            zeros < 0.9,
            "{}: layer {} is {:.0}% zeros",
            model.name,
            layer.name,
            zeros * 100.0
        );
        assert!(
            saturated < 0.5,
            "{}: layer {} is {:.0}% saturated",
            model.name,
            layer.name,
            saturated * 100.0
        );
        assert!(
            distinct.len() >= 2.min(max as usize + 1),
            "{}: layer {} has only {distinct:?}",
            model.name,
            layer.name
        );
    }
    // The logits must not all be equal either.
    let logits: std::collections::BTreeSet<i32> = traces
        .iter()
        .flat_map(|t| t.last().unwrap().iter().copied())
        .collect();
    assert!(logits.len() > 1, "{}: constant logits", model.name);
}

#[test]
fn cifar_models_do_not_collapse_at_any_bit_width() {
    for (w_bits, a_bits) in [(2, 2), (3, 3), (4, 4), (8, 8), (3, 5), (16, 16)] {
        let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).unwrap();
        let model = random_model(
            &topology,
            RandomBits {
                w_bits,
                a_bits,
                first_last_w_bits: None,
            },
            1,
        )
        .unwrap();
        check_alive(&model);
    }
}

#[test]
fn imagenet_topology_builds_and_runs() {
    let topology = Topology::new(Preset::AlexnetImagenet, 0.125, 3, 1000).unwrap();
    let model = random_model(
        &topology,
        RandomBits {
            w_bits: 4,
            a_bits: 4,
            first_last_w_bits: Some(8),
        },
        2,
    )
    .unwrap();
    assert_eq!(model.classes(), 1000);
    let names: Vec<&str> = model.layers().iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "flatten",
            "fc6", "fc7", "fc8"
        ]
    );
    // 224 -> 55 -> 27 -> 27 -> 13 -> 13 -> 6: 32 channels * 6 * 6 at width 1/8.
    assert_eq!(model.input_shape(9).to_array(), [32 * 36, 1, 1]);
    check_alive(&model);
}

#[test]
fn different_seeds_give_different_models() {
    let topology = Topology::new(Preset::AlexnetCifar, 0.125, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: None,
    };
    assert_ne!(
        random_model(&topology, bits, 1).unwrap(),
        random_model(&topology, bits, 2).unwrap()
    );
}
