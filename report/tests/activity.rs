//! Activity counts against the model and against the port-level schedule.

use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::host::{drive_gemm, GemmOperands};
use hwgen::{GemmShape, HwConfig};
use report::activity::{count_layer, layer_work, ActionKind, GemmShapeJson, LayerWork};
use report::energy_table::Primitive;

fn config(rows: u32, cols: u32, depth: u32, a: u8, w: u8) -> HwConfig {
    HwConfig::from_yaml_str(&format!(
        "name: t\nrows: {rows}\ncols: {cols}\ndataflow: weight_stationary\na_bits: {a}\nw_bits: {w}\n\
         acc_bits: auto\nmax_k: 4096\nacc_depth: {depth}\nclock_mhz: 100\n"
    ))
    .unwrap()
}

#[test]
fn counted_macs_equal_the_models_macs_for_every_layer() {
    let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: Some(8),
    };
    let model = random_model(&topology, bits, 1).unwrap();
    let works = layer_work(&model);
    let compute_layers = model.layers().iter().filter(|l| l.gemm().is_some()).count();
    assert_eq!(works.len(), compute_layers);
    assert!(works.first().unwrap().reads_image);
    assert!(works.last().unwrap().writes_logits);
    // Odd array shapes and depths tile the same work differently; the MACs
    // must not change, and scale exactly with the batch.
    for (rows, cols, depth) in [(16, 16, 256), (8, 8, 64), (5, 3, 7), (1, 1, 1)] {
        let config = config(rows, cols, depth, 8, 8);
        for work in &works {
            for batch in [1, 3] {
                let activity = count_layer(&hwgen::Design::of(&config).unwrap(), work, batch);
                assert_eq!(
                    activity.macs,
                    batch as u64 * model.layer_macs(work.index),
                    "{} on {rows}x{cols} depth {depth}, batch {batch}",
                    work.name
                );
                assert_eq!(
                    activity.events(ActionKind::Multiply, Primitive::Multiply),
                    activity.macs
                );
                assert_eq!(
                    activity.events(ActionKind::PeAdd, Primitive::Add),
                    activity.macs
                );
            }
        }
    }
    let total: u64 = works.iter().map(|w| w.shape.macs()).sum();
    assert_eq!(total, model.total_macs());
}

/// Every strobe the reference host drives, counted cycle by cycle.
#[derive(Default, Debug, PartialEq)]
struct PortCounts {
    weight_rows: u64,
    parameter_loads: u64,
    vectors: u64,
    last_vectors: u64,
}

fn port_counts(config: &HwConfig, shape: GemmShape) -> (PortCounts, u64) {
    let activations = vec![1u32; shape.m * shape.k];
    let weights = vec![1i32; shape.n * shape.k];
    let bias = vec![0i32; shape.n];
    let shifts = vec![0u8; shape.n];
    let ops = GemmOperands {
        shape,
        activations: &activations,
        weights: &weights,
        bias: &bias,
        shifts: &shifts,
        out_bits: 4,
        bypass: false,
    };
    let mut counts = PortCounts::default();
    let run = drive_gemm(&hwgen::Design::of(config).unwrap(), &ops, |_, inputs| {
        counts.weight_rows += u64::from(inputs.wload_valid);
        counts.parameter_loads += u64::from(inputs.prm_valid);
        counts.vectors += u64::from(inputs.act_valid);
        counts.last_vectors += u64::from(inputs.act_valid && inputs.act_last);
    })
    .unwrap();
    (counts, run.cycles)
}

#[test]
fn tile_counts_match_what_the_host_drives_on_the_ports() {
    for (rows, cols, depth) in [(2, 3, 4), (4, 4, 16), (3, 5, 7), (1, 1, 1)] {
        let config = config(rows, cols, depth, 4, 4);
        for (m, k, n) in [(1, 1, 1), (5, 9, 4), (17, 3, 11), (30, 20, 6)] {
            let shape = GemmShape { m, k, n };
            let work = LayerWork {
                index: 0,
                name: "l".into(),
                kind: "linear",
                shape: GemmShapeJson::from(shape),
                in_bits: 4,
                w_bits: 4,
                out_bits: Some(4),
                input_values: k as u64,
                reads_image: false,
                writes_logits: false,
            };
            let activity = count_layer(&hwgen::Design::of(&config).unwrap(), &work, 1);
            let (ports, cycles) = port_counts(&config, shape);
            let counted = PortCounts {
                weight_rows: activity.weight_rows_loaded,
                parameter_loads: activity.tiles,
                vectors: activity.vectors,
                last_vectors: activity.output_vectors,
            };
            assert_eq!(counted, ports, "{rows}x{cols} depth {depth}, {shape:?}");
            assert_eq!(cycles, hwgen::gemm_cycles(&config, shape));
            // Accumulator updates: one per vector per column; requantized
            // outputs: one per useful value.
            assert_eq!(
                activity.events(ActionKind::Accumulator, Primitive::Register),
                ports.vectors * u64::from(cols)
            );
            assert_eq!(
                activity.events(ActionKind::Requantize, Primitive::Add),
                (m * n) as u64
            );
        }
    }
}

#[test]
fn a_batch_streams_as_more_gemm_rows_and_fetches_weights_once() {
    let config = config(16, 16, 256, 8, 8);
    let work = LayerWork {
        index: 0,
        name: "fc".into(),
        kind: "linear",
        shape: GemmShapeJson {
            m: 1,
            k: 1024,
            n: 512,
        },
        in_bits: 4,
        w_bits: 4,
        out_bits: Some(4),
        input_values: 1024,
        reads_image: false,
        writes_logits: false,
    };
    let one = count_layer(&hwgen::Design::of(&config).unwrap(), &work, 1);
    let thirty_two = count_layer(&hwgen::Design::of(&config).unwrap(), &work, 32);
    assert_eq!(thirty_two.shape.m, 32);
    // Same tiles (M fits one M-tile), 32x the vectors and MACs.
    assert_eq!(one.tiles, thirty_two.tiles);
    assert_eq!(thirty_two.vectors, 32 * one.vectors);
    assert_eq!(thirty_two.macs, 32 * one.macs);
    // DRAM weight traffic is per batch, not per image.
    assert_eq!(
        one.units(ActionKind::Dram),
        thirty_two.units(ActionKind::Dram)
    );
    assert_eq!(
        one.units(ActionKind::WeightLoad),
        thirty_two.units(ActionKind::WeightLoad)
    );
}
