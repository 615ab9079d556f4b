//! Simulated cycles per second through the bridge.
//!
//! `cargo bench -p sim --bench cycles`. Skips (with a message) when verilator is missing.
//! Each iteration steps the 7-bit counter fixture 10 000 cycles in one `step` call (the C++
//! loop, no FFI per cycle) and, separately, one cycle per `step` call with a port write and
//! read, which is how a Rust testbench feeding operands every cycle drives a model.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sim::BuildOptions;

fn counter() -> Option<sim::VerilatedLib> {
    if !sim::verilator_available() {
        eprintln!("SKIPPED: `verilator` not on PATH; no simulation benchmarks");
        return None;
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/counter.v");
    Some(sim::build(&BuildOptions::new("counter", [src])).expect("build counter"))
}

fn bench_cycles(c: &mut Criterion) {
    let Some(lib) = counter() else { return };
    let mut sim = lib.instantiate().unwrap();
    let [rst, en, count] = ["rst", "en", "count"].map(|n| sim.port(n).unwrap());
    sim.set(rst, 0);
    sim.set(en, 1);

    let mut group = c.benchmark_group("counter");
    const BATCH: u64 = 10_000;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("step_batch_10k", |b| {
        b.iter(|| {
            sim.step(BATCH);
            black_box(sim.get(count))
        })
    });
    group.bench_function("step_1_with_io_x10k", |b| {
        b.iter(|| {
            let mut acc = 0u64;
            for i in 0..BATCH {
                sim.set(en, i & 1);
                sim.step(1);
                acc = acc.wrapping_add(sim.get(count));
            }
            black_box(acc)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_cycles);
criterion_main!(benches);
