//! Activity counts against the model and against the port-level schedule.

use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::host::{drive_gemm, GemmOperands};
use hwgen::{Design, GemmShape, HwConfig};
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
    // On 4x4-bit PEs (the model's 8-bit image and weights in passes) the
    // useful MACs are the same; each MAC is multiplied once per pass.
    for (rows, cols, depth) in [(16, 16, 256), (8, 8, 64), (5, 3, 7), (1, 1, 1)] {
        let native = config(rows, cols, depth, 8, 8);
        let sliced = config(rows, cols, depth, 4, 4).with_layer_bits(8, 8, 4);
        for config in [native, sliced] {
            let design = Design::of(&config).unwrap();
            for work in &works {
                let passes = u64::from(design.passes(work.in_bits, work.w_bits).count());
                for batch in [1, 3] {
                    let activity = count_layer(&design, work, batch);
                    let what = format!(
                        "{} on {rows}x{cols} depth {depth} ({}), batch {batch}",
                        work.name,
                        config.summary()
                    );
                    assert_eq!(
                        activity.macs,
                        batch as u64 * model.layer_macs(work.index),
                        "{what}"
                    );
                    assert_eq!(
                        activity.events(ActionKind::Multiply, Primitive::Multiply),
                        passes * activity.macs,
                        "{what}"
                    );
                    assert_eq!(
                        activity.events(ActionKind::PeAdd, Primitive::Add),
                        passes * activity.macs,
                        "{what}"
                    );
                    assert_eq!(
                        activity.units(ActionKind::Multiply),
                        activity.macs * u64::from(work.in_bits) * u64::from(work.w_bits),
                        "{what}"
                    );
                }
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

/// What `drive_gemm` drives for a `shape` GEMM of `in_bits` x `w_bits`
/// operands on `design`, and its cycle count.
fn port_counts(design: &Design, shape: GemmShape, in_bits: u8, w_bits: u8) -> (PortCounts, u64) {
    let activations = vec![1u32; shape.m * shape.k];
    let weights = vec![1i32; shape.n * shape.k];
    let bias = vec![0i32; shape.n];
    let shifts = vec![0u8; shape.n];
    let ops = GemmOperands {
        shape,
        activations: &activations,
        in_bits,
        weights: &weights,
        w_bits,
        bias: &bias,
        shifts: &shifts,
        out_bits: design.config.layer_out_bits().min(4),
        bypass: false,
    };
    let mut counts = PortCounts::default();
    let run = drive_gemm(design, &ops, |_, inputs| {
        counts.weight_rows += u64::from(inputs.wload_valid);
        counts.parameter_loads += u64::from(inputs.prm_valid);
        counts.vectors += u64::from(inputs.act_valid);
        counts.last_vectors += u64::from(inputs.act_valid && inputs.act_last);
    })
    .unwrap();
    (counts, run.cycles)
}

fn linear_layer(shape: GemmShape, in_bits: u8, w_bits: u8, out_bits: u8) -> LayerWork {
    LayerWork {
        index: 0,
        name: "l".into(),
        kind: "linear",
        shape: GemmShapeJson::from(shape),
        in_bits,
        w_bits,
        out_bits: Some(out_bits),
        input_values: shape.k as u64,
        reads_image: false,
        writes_logits: false,
    }
}

/// The counted tiles, vectors, result vectors and weight rows of a layer
/// equal the strobes the reference host drives for it, pass by pass.
fn check_counts_against_the_host(design: &Design, in_bits: u8, w_bits: u8) {
    let config = &design.config;
    let cols = u64::from(config.cols);
    let passes = design.passes(in_bits, w_bits);
    for (m, k, n) in [(1, 1, 1), (5, 9, 4), (17, 3, 11), (30, 20, 6)] {
        let shape = GemmShape { m, k, n };
        let work = linear_layer(shape, in_bits, w_bits, config.layer_out_bits().min(4));
        let activity = count_layer(design, &work, 1);
        let what = format!(
            "{} ({}), {in_bits}x{w_bits}-bit layer, {shape:?}",
            config.name,
            config.summary()
        );
        let (ports, cycles) = port_counts(design, shape, in_bits, w_bits);
        let counted = PortCounts {
            weight_rows: activity.weight_rows_loaded,
            parameter_loads: activity.tiles,
            vectors: activity.vectors,
            last_vectors: activity.output_vectors,
        };
        assert_eq!(counted, ports, "{what}");
        assert_eq!(activity.passes, passes, "{what}");
        assert_eq!(cycles, hwgen::gemm_cycles(config, shape, passes), "{what}");
        // Every pixel is streamed once per pass and K-tile; each output
        // vector once.
        let k_tiles = k.div_ceil(config.rows as usize) as u64;
        let n_tiles = n.div_ceil(config.cols as usize) as u64;
        assert_eq!(
            ports.vectors,
            m as u64 * k_tiles * n_tiles * u64::from(passes.count()),
            "{what}"
        );
        assert_eq!(ports.last_vectors, m as u64 * n_tiles, "{what}");
        // Accumulator updates: one per vector per column, slice shifts as
        // many when the design has the shifter; requantized outputs: one
        // per useful value, however many passes.
        let accumulator = activity.events(ActionKind::Accumulator, Primitive::Register);
        assert_eq!(accumulator, ports.vectors * cols, "{what}");
        let shifter = if design.widths.max_slice_shift > 0 {
            2
        } else {
            1
        };
        assert_eq!(
            activity.events(ActionKind::Accumulator, Primitive::Add),
            shifter * accumulator,
            "{what}"
        );
        assert_eq!(
            activity.events(ActionKind::Requantize, Primitive::Add),
            (m * n) as u64,
            "{what}"
        );
        // Multiplies: one per MAC and pass; the bit products are the
        // layer's a_in x w per MAC whatever the slicing.
        let macs = (m * k * n) as u64;
        assert_eq!(activity.macs, macs, "{what}");
        assert_eq!(
            activity.events(ActionKind::Multiply, Primitive::Multiply),
            macs * u64::from(passes.count()),
            "{what}"
        );
        assert_eq!(
            activity.units(ActionKind::Multiply),
            macs * u64::from(in_bits) * u64::from(w_bits),
            "{what}"
        );
    }
}

#[test]
fn tile_counts_match_what_the_host_drives_on_the_ports() {
    for (rows, cols, depth) in [(2, 3, 4), (4, 4, 16), (3, 5, 7), (1, 1, 1)] {
        let design = Design::of(&config(rows, cols, depth, 4, 4)).unwrap();
        check_counts_against_the_host(&design, 4, 4);
        // Narrower layers zero-/sign-extend: still one pass.
        check_counts_against_the_host(&design, 3, 2);
    }
}

#[test]
fn sliced_layers_count_what_the_host_drives_pass_by_pass() {
    // 2-bit PEs serving 8-bit operands: up to 4 x 4 passes.
    let design = Design::of(&HwConfig::array("t", 4, 4, 2, 2, 8).with_layer_bits(8, 8, 4)).unwrap();
    assert!(design.widths.unsigned_weight_slices && design.widths.max_slice_shift > 0);
    for (in_bits, w_bits) in [(8, 8), (8, 2), (2, 8), (5, 3), (2, 2)] {
        check_counts_against_the_host(&design, in_bits, w_bits);
    }
    // Odd widths: 7-bit activations on 3-bit PEs (three slices, the top one
    // 1 bit), 5-bit weights on 3-bit PEs (two slices).
    let odd = Design::of(&HwConfig::array("o", 3, 2, 3, 3, 5).with_layer_bits(7, 5, 3)).unwrap();
    for (in_bits, w_bits) in [(7, 5), (7, 3), (3, 5), (4, 4)] {
        check_counts_against_the_host(&odd, in_bits, w_bits);
    }
    // Activation slices only (no unsigned weight slices, but the shifter).
    let act_only =
        Design::of(&HwConfig::array("a", 2, 3, 4, 4, 6).with_layer_bits(8, 4, 8)).unwrap();
    assert!(!act_only.widths.unsigned_weight_slices && act_only.widths.max_slice_shift > 0);
    check_counts_against_the_host(&act_only, 8, 4);
    check_counts_against_the_host(&act_only, 4, 4);
}

/// The same 8-bit x 8-bit layer on native 8x8-bit PEs, on 4x4-bit PEs (four
/// passes) and on 2x2-bit PEs (sixteen passes), same array shape.
fn w8a8_layer_on(a_bits: u8, w_bits: u8) -> (Design, report::activity::LayerActivity) {
    let config = HwConfig::array(format!("n{a_bits}"), 4, 4, a_bits, w_bits, 8)
        .with_max_k(64)
        .with_layer_bits(8, 8, 8);
    let design = Design::of(&config).unwrap();
    let work = linear_layer(GemmShape { m: 10, k: 9, n: 6 }, 8, 8, 8);
    let activity = count_layer(&design, &work, 1);
    (design, activity)
}

#[test]
fn an_8x8_layer_on_4x4_pes_counts_four_passes_of_everything_but_the_bit_products() {
    let (native, eight) = w8a8_layer_on(8, 8);
    let (w4a4, four) = w8a8_layer_on(4, 4);
    let (w2a2, two) = w8a8_layer_on(2, 2);
    // The accumulator holds the same full-precision sums on every design.
    assert_eq!(native.widths.acc_bits, w4a4.widths.acc_bits);
    assert_eq!(native.widths.acc_bits, w2a2.widths.acc_bits);
    assert_eq!(
        (
            eight.passes.count(),
            four.passes.count(),
            two.passes.count()
        ),
        (1, 4, 16)
    );
    for (sliced, passes) in [(&four, 4u64), (&two, 16)] {
        // Vectors, accumulator events and multiplier operations per pass.
        assert_eq!(sliced.vectors, passes * eight.vectors);
        assert_eq!(
            sliced.events(ActionKind::Accumulator, Primitive::Register),
            passes * eight.events(ActionKind::Accumulator, Primitive::Register)
        );
        assert_eq!(
            sliced.events(ActionKind::ActivationMove, Primitive::Register),
            passes * eight.events(ActionKind::ActivationMove, Primitive::Register)
        );
        assert_eq!(
            sliced.events(ActionKind::Multiply, Primitive::Multiply),
            passes * eight.macs
        );
        // Weight slices are tiles of their own: sqrt(passes) x the loads.
        let weight_slices = u64::from(sliced.passes.weight_slices);
        assert_eq!(sliced.tiles, weight_slices * eight.tiles);
        assert_eq!(
            sliced.weight_rows_loaded,
            weight_slices * eight.weight_rows_loaded
        );
        // The same useful MACs and multiplier bit products.
        assert_eq!(sliced.macs, eight.macs);
        assert_eq!(
            sliced.units(ActionKind::Multiply),
            eight.units(ActionKind::Multiply)
        );
        // Each output is requantized, registered and written once.
        assert_eq!(sliced.output_vectors, eight.output_vectors);
        let requantize = ActionKind::Requantize;
        assert_eq!(
            sliced.events(requantize, Primitive::Add),
            eight.events(requantize, Primitive::Add)
        );
        assert_eq!(
            sliced.events(requantize, Primitive::Register),
            eight.events(requantize, Primitive::Register)
        );
        // The slice shift-add is counted on the sliced designs only.
        let shift_adds = |a: &report::activity::LayerActivity| {
            a.terms
                .iter()
                .filter(|t| t.kind == ActionKind::Accumulator && t.what.starts_with("slice shifts"))
                .map(|t| t.events)
                .sum::<u64>()
        };
        assert_eq!(shift_adds(&eight), 0);
        assert_eq!(
            shift_adds(sliced),
            sliced.events(ActionKind::Accumulator, Primitive::Register)
        );
    }
    // The activation buffer reads each pixel's k values once per weight
    // slice, at their full 8 bits over the activation slices.
    let reads = |a: &report::activity::LayerActivity| {
        a.terms
            .iter()
            .filter(|t| t.what.starts_with("im2col vectors read"))
            .fold((0, 0), |(e, u), t| (e + t.events, u + t.units))
    };
    let (events8, units8) = reads(&eight);
    let (events4, units4) = reads(&four);
    assert_eq!((events4, units4), (4 * events8, 2 * units8));
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
