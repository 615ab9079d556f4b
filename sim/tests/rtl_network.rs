//! A whole random alexnet-cifar (width 1/8, W4A4 with 8-bit first/last
//! weights) on an 8x8 array: every layer's RTL output equals golden's, and
//! every layer's measured cycles equal the analytical schedule.

use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::HwConfig;
use sim::array::{ArrayOptions, ArraySim};
use sim::network::run_network;

#[test]
fn random_alexnet_cifar_on_8x8_is_bit_exact() {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let topology = Topology::new(Preset::AlexnetCifar, 0.125, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 7).unwrap();
    let base = HwConfig {
        clock_mhz: 200.0,
        ..HwConfig::array("test-8x8", 8, 8, 4, 4, 64).with_max_k(64)
    };
    // The W4A4 config cannot take 8-bit image bytes: the driver refuses it.
    let unsized_design = hwgen::Design::of(&base).unwrap();
    let mut too_narrow = ArraySim::new(&unsized_design, &ArrayOptions::default()).unwrap();
    let refused = run_network(&mut too_narrow, &model, &[vec![0; 1024]], |_| {}).unwrap_err();
    assert!(refused.to_string().contains("conv1"), "{refused}");

    let design = hwgen::resolve(&base, Some(&model)).unwrap();
    // The PEs stay 4-bit: conv1 (8-bit pixels, 8-bit weights) and the last
    // layer (8-bit weights) run in 2 x 2 passes.
    assert_eq!((design.config.a_bits, design.config.w_bits), (4, 4));
    let options = ArrayOptions {
        trace: sim::TraceFormat::from_env().unwrap(),
        trace_path: None,
    };
    let mut array = ArraySim::new(&design, &options).unwrap();
    // Two structured images (not all-zero) exercise real activations.
    let images: Vec<Vec<i32>> = (0..2)
        .map(|n| {
            (0..1024)
                .map(|i: i32| (((i / 32 + n * 5) % 7) * 40 + (i % 32) * 2) % 256)
                .collect()
        })
        .collect();
    let run = run_network(&mut array, &model, &images, |_| {}).unwrap();
    assert_eq!(
        run.mismatches(),
        0,
        "first mismatch: {}",
        run.first_mismatch.clone().unwrap_or_default()
    );
    assert_eq!(run.predictions, run.golden_predictions);
    let passes: Vec<u32> = run
        .layers
        .iter()
        .filter(|l| l.on_rtl())
        .map(|l| l.passes)
        .collect();
    assert_eq!(passes.first(), Some(&4), "{passes:?}");
    assert_eq!(
        passes.last(),
        Some(&2),
        "4-bit activations x 8-bit weights: {passes:?}"
    );
    assert!(
        passes[1..passes.len() - 1].iter().all(|&p| p == 1),
        "{passes:?}"
    );
    for layer in &run.layers {
        assert_eq!(layer.cycles, layer.model_cycles, "layer {}", layer.name);
        if layer.on_rtl() {
            assert!(layer.cycles > 0, "layer {}", layer.name);
            assert!(layer.utilization(8, 8) > 0.0 && layer.utilization(8, 8) <= 1.0);
            assert_eq!(layer.macs, 2 * layer.gemm.unwrap().macs());
        }
        assert!(layer.values > 0);
    }
}

/// Run two structured images through `model` on `design`; assert bit-exact
/// results and measured cycles equal to the formula on every layer; return
/// the passes of the compute layers.
fn run_exact(design: &hwgen::Design, model: &golden::model::Model) -> Vec<u32> {
    let mut array = ArraySim::new(design, &ArrayOptions::default()).unwrap();
    let images: Vec<Vec<i32>> = (0..2)
        .map(|n| (0..1024).map(|i: i32| (i * 13 + n * 71) % 256).collect())
        .collect();
    let run = run_network(&mut array, model, &images, |_| {}).unwrap();
    assert_eq!(
        run.mismatches(),
        0,
        "{}: first mismatch: {}",
        design.config.name,
        run.first_mismatch.clone().unwrap_or_default()
    );
    for layer in &run.layers {
        assert_eq!(layer.cycles, layer.model_cycles, "layer {}", layer.name);
    }
    run.layers
        .iter()
        .filter(|l| l.on_rtl())
        .map(|l| l.passes)
        .collect()
}

/// The checked-in 16x16 W4A4 preset runs a W4A4 model with 8-bit input and
/// 8-bit first and last weights as it is (no resolution needed), and a
/// W4A4 model runs on an 8x8 array of 2-bit PEs, every layer in passes.
#[test]
fn w4a4_models_on_native_4_bit_and_2_bit_arrays() {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 5).unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let preset =
        hwgen::Design::preset(&root, std::path::Path::new("configs/hw-16x16-w4a4.yaml")).unwrap();
    assert!(preset.unsupported_layers(&model).is_empty());
    let passes = run_exact(&preset, &model);
    assert_eq!(passes.first(), Some(&4), "{passes:?}");

    let w2a2 = HwConfig::array("test-8x8-w2a2", 8, 8, 2, 2, 64).with_max_k(1024);
    let design = hwgen::resolve(&w2a2, Some(&model)).unwrap();
    assert_eq!((design.config.a_bits, design.config.w_bits), (2, 2));
    let passes = run_exact(&design, &model);
    // 8-bit x 8-bit conv1: 4 x 4; hidden 4-bit x 4-bit: 2 x 2; last 4 x 8: 2 x 4.
    assert_eq!(passes.first(), Some(&16), "{passes:?}");
    assert_eq!(passes.last(), Some(&8), "{passes:?}");
    assert!(passes.iter().all(|&p| p > 1), "{passes:?}");
}

/// Images in groups (one GEMM per layer per group, rows stacked): still
/// bit-exact, cycles still equal the formula for M = group size x pixels,
/// and the fully connected layers get cheaper per image.
#[test]
fn batched_network_is_bit_exact_and_amortizes_weight_loads() {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 3,
        a_bits: 5,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 11).unwrap();
    let base = HwConfig {
        clock_mhz: 200.0,
        ..HwConfig::array("test-4x4", 4, 4, 8, 8, 32).with_max_k(1024)
    };
    let design = hwgen::resolve(&base, Some(&model)).unwrap();
    let mut array = ArraySim::new(&design, &ArrayOptions::default()).unwrap();
    let images: Vec<Vec<i32>> = (0..5)
        .map(|n: i32| (0..1024).map(|i: i32| (i * 7 + n * 31) % 256).collect())
        .collect();
    let single = run_network(&mut array, &model, &images, |_| {}).unwrap();
    let batched =
        sim::network::run_network_batched(&mut array, &model, &images, 3, |_| {}).unwrap();
    assert_eq!(batched.mismatches(), 0, "{:?}", batched.first_mismatch);
    assert_eq!(batched.predictions, single.predictions);
    for (index, (one, many)) in single.layers.iter().zip(&batched.layers).enumerate() {
        assert_eq!(one.macs, many.macs, "layer {}", one.name);
        assert_eq!(many.cycles, many.model_cycles, "layer {}", many.name);
        if let Some(gemm) = many.gemm {
            // Groups of 3 and 2 images.
            let expected: u64 = [3, 2]
                .iter()
                .map(|&b| {
                    let params = model.layers()[index].params().unwrap();
                    hwgen::gemm_cycles(
                        &design.config,
                        hwgen::GemmShape {
                            m: gemm.m * b,
                            ..gemm
                        },
                        design.passes(params.in_bits, params.w_bits),
                    )
                })
                .sum();
            assert_eq!(many.cycles, expected, "layer {index}");
        }
        if one.kind == "linear" {
            assert!(many.cycles < one.cycles, "layer {}", one.name);
        }
    }
}

/// Images on two verilated instances in parallel: the same predictions,
/// per-layer cycles and values as on one, and every image reported once.
#[test]
fn parallel_network_run_equals_the_one_thread_run() {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 3).unwrap();
    let config = HwConfig::array("test-4x4-parallel", 4, 4, 4, 4, 32).with_max_k(1024);
    let design = hwgen::resolve(&config, Some(&model)).unwrap();
    let images: Vec<Vec<i32>> = (0..5)
        .map(|n: i32| (0..1024).map(|i: i32| (i * 11 + n * 53) % 256).collect())
        .collect();
    let options = ArrayOptions::default();
    for batch in [1, 2] {
        let one = sim::network::run_network_parallel(
            &design,
            &options,
            &model,
            &images,
            batch,
            1,
            |_| {},
        )
        .unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let two =
            sim::network::run_network_parallel(&design, &options, &model, &images, batch, 2, |i| {
                seen.lock().unwrap().push(i)
            })
            .unwrap();
        assert_eq!(one, two, "batch {batch}");
        assert_eq!(two.mismatches(), 0);
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(seen, [0, 1, 2, 3, 4], "batch {batch}");
    }
}
