//! Images/s of the golden fast path on the 1/4-width alexnet-cifar, W4A4
//! (and W8A8 for comparison), batches of 256 Fashion-MNIST test images on all cores.
//!
//! Run: `cargo bench -p golden --bench inference`. The figure is reported in
//! images/s ("thrpt") per batch.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use golden::fast::FastModel;
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
        let fast = FastModel::new(&model);
        group.bench_function(format!("w{w_bits}a{a_bits}_batch{BATCH}"), |b| {
            b.iter(|| black_box(fast.logits_batch(black_box(&images), |_| {})))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_inference);
criterion_main!(benches);
