//! The small design the report tests share: a random 1/8-width
//! alexnet-cifar (W4A4, 8-bit first and last weights, seed 7) on an 8x8
//! array, the design `sim`'s network test verilates, so the Verilator
//! build is shared through the cache.

use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::{AccBits, Dataflow, HwConfig};

pub fn small_design() -> (HwConfig, golden::model::Model) {
    let topology = Topology::new(Preset::AlexnetCifar, 0.125, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 7).unwrap();
    let config = HwConfig {
        name: "test-8x8".into(),
        rows: 8,
        cols: 8,
        dataflow: Dataflow::WeightStationary,
        a_bits: 4,
        w_bits: 4,
        acc_bits: AccBits::Auto,
        max_k: Some(64),
        shift_bits: 5,
        acc_depth: 64,
        clock_mhz: 200.0,
    };
    (config, model)
}
