//! Images/s of the golden fast path on the 1/4-width alexnet-cifar, W4A4
//! (and W8A8 for comparison), batches of 256 Fashion-MNIST test images on all
//! cores, on every instruction set this CPU has (`fast::Isa::available`).
//!
//! Run: `cargo bench -p golden --bench inference`. The figure is reported in
//! images/s ("thrpt") per batch.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use golden::fast::{FastModel, Isa};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use std::hint::black_box;

const BATCH: usize = 256;

fn bench_inference(c: &mut Criterion) {
    let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).expect("topology");
    // Real Fashion-MNIST test images when installed, else deterministic noise.
    let images: Vec<u8> = match datasets::load(
        datasets::DatasetKind::FashionMnist,
        datasets::Split::Test,
        None,
        Some(BATCH),
    ) {
        Ok(data) => data.images,
        Err(_) => (0..BATCH * 32 * 32)
            .map(|i| ((i * 2654435761usize) >> 13) as u8)
            .collect(),
    };
    let mut group = c.benchmark_group("golden_alexnet_cifar_w0.25");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for (w_bits, a_bits) in [(4u8, 4u8), (8, 8)] {
        let bits = RandomBits {
            w_bits,
            a_bits,
            first_last_w_bits: None,
        };
        let model = random_model(&topology, bits, 1).expect("model");
        for isa in Isa::available() {
            let fast = FastModel::with_isa(&model, isa);
            let name = format!("w{w_bits}a{a_bits}_batch{BATCH}_{}", isa.name());
            group.bench_function(name, |b| {
                b.iter(|| black_box(fast.logits_batch(black_box(&images), |_| {})))
            });
        }
    }
    group.finish();
}

/// MACs/s of the GEMM kernels alone, on one thread: a linear layer of
/// 4096 -> 1024 features (4.2 M MACs per image, 16 images per GEMM, weights
/// streamed once per 16 images) and a 10-way classifier, so im2col,
/// layout changes and requantization are a small share of the time. W8A8
/// runs the i16 kernel on AVX2 (8-bit x 8-bit pairs could saturate
/// `vpmaddubsw`), W4A4 the u8 one.
fn bench_kernels(c: &mut Criterion) {
    use golden::model::Shape;
    use golden::random::random_from_plan;
    use golden::topology::LayerPlan;
    let input = Shape::new(4096, 1, 1);
    let plan = [
        LayerPlan::Flatten {
            name: "flatten".into(),
        },
        LayerPlan::Linear {
            name: "wide".into(),
            out_features: 1024,
        },
        LayerPlan::Linear {
            name: "classify".into(),
            out_features: 10,
        },
    ];
    const IMAGES: usize = 64;
    let images: Vec<u8> = (0..IMAGES * input.len())
        .map(|i| ((i * 2654435761usize) >> 13) as u8)
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut group = c.benchmark_group("golden_kernels_one_thread");
    group.sample_size(10);
    for (w_bits, a_bits) in [(8u8, 8u8), (4, 4)] {
        let bits = RandomBits {
            w_bits,
            a_bits,
            first_last_w_bits: None,
        };
        let model =
            random_from_plan("kernels", "custom", 1.0, input, &plan, bits, 1).expect("model");
        group.throughput(Throughput::Elements(model.total_macs() * IMAGES as u64));
        for isa in Isa::available() {
            let fast = FastModel::with_isa(&model, isa);
            let operands = fast.packed(1).expect("linear").operands();
            let name = format!(
                "w{w_bits}a{a_bits}_{}_{}",
                isa.name(),
                operands.replace(' ', "")
            );
            group.bench_function(name, |b| {
                b.iter(|| pool.install(|| black_box(fast.logits_batch(black_box(&images), |_| {}))))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_inference, bench_kernels);
criterion_main!(benches);
