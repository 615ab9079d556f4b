//! Simulated cycles/s of the generated 16x16 W8A8 array (configs/hw-16x16-w8a8.yaml),
//! driven through the canonical schedule with full per-cycle port I/O, on
//! a conv3-like GEMM of the 1/4-width alexnet-cifar (M=64, K=576, N=96).
//!
//! Run: `cargo bench -p sim --bench array`. Throughput is reported in
//! simulated cycles per second ("elem/s").

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hwgen::host::GemmOperands;
use hwgen::{GemmShape, HwConfig};
use sim::array::{ArrayOptions, ArraySim};

fn bench_array(c: &mut Criterion) {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH");
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/hw-16x16-w8a8.yaml");
    let config = HwConfig::from_yaml_file(path).expect("preset");
    let mut array = ArraySim::new(
        &hwgen::Design::of(&config).expect("resolve"),
        &ArrayOptions::default(),
    )
    .expect("build");
    let shape = GemmShape {
        m: 64,
        k: 576,
        n: 96,
    };
    let activations: Vec<u32> = (0..shape.m * shape.k)
        .map(|i| (i * 37 % 256) as u32)
        .collect();
    let weights: Vec<i32> = (0..shape.n * shape.k)
        .map(|i| (i * 11 % 255) as i32 - 127)
        .collect();
    let bias = vec![-1000; shape.n];
    let shifts = vec![8; shape.n];
    let ops = GemmOperands {
        shape,
        activations: &activations,
        in_bits: 8,
        weights: &weights,
        w_bits: 8,
        bias: &bias,
        shifts: &shifts,
        out_bits: 8,
        bypass: false,
    };
    let cycles = hwgen::gemm_cycles(&config, shape, hwgen::Passes::ONE);
    let mut group = c.benchmark_group("rtl_16x16_w8a8");
    group.throughput(Throughput::Elements(cycles));
    group.sample_size(10);
    group.bench_function(
        format!("gemm_m{}_k{}_n{}", shape.m, shape.k, shape.n),
        |b| b.iter(|| array.run_gemm(&ops).expect("gemm")),
    );
    group.finish();
}

criterion_group!(benches, bench_array);
criterion_main!(benches);
