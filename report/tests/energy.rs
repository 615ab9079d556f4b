//! Energy arithmetic against hand-computed cases, and width scaling.

use hwgen::HwConfig;
use report::activity::{count_layer, ActionKind, BufferSizes, GemmShapeJson, LayerWork};
use report::energy::{layer_energy, totals, LayerEnergy};
use report::EnergyTable;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// 2x2 array, 4 accumulator entries, A4 W4, max_k 16: acc_bits = 4 + 4 +
/// ceil(log2 16) + 1 = 13, column sums 4 + 4 + 1 = 9 bits, shift 5 bits,
/// 2-bit accumulator addresses.
fn tiny_config() -> HwConfig {
    HwConfig::from_yaml_str(
        "name: tiny\nrows: 2\ncols: 2\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\n\
         acc_bits: auto\nmax_k: 16\nacc_depth: 4\nclock_mhz: 100\n",
    )
    .unwrap()
}

/// A GEMM of M = 3 pixels, K = 3, N = 2 channels at A4 W4 -> 4 bits: one
/// N-tile, one M-tile, two K-tiles (k_len 2, then 1).
fn tiny_layer(in_bits: u8, w_bits: u8) -> LayerWork {
    LayerWork {
        index: 0,
        name: "tiny".into(),
        kind: "linear",
        shape: GemmShapeJson { m: 3, k: 3, n: 2 },
        in_bits,
        w_bits,
        out_bits: Some(4),
        input_values: 9,
        reads_image: false,
        writes_logits: false,
    }
}

fn tiny_energy(in_bits: u8, w_bits: u8) -> LayerEnergy {
    let config = tiny_config();
    assert_eq!(config.acc_bits_resolved(), 13);
    energy_on(&config, in_bits, w_bits)
}

fn energy_on(config: &HwConfig, in_bits: u8, w_bits: u8) -> LayerEnergy {
    let config = config.clone();
    let work = tiny_layer(in_bits, w_bits);
    let table = EnergyTable::default_45nm();
    let buffers = BufferSizes::for_layers(
        &hwgen::Design::of(&config).unwrap(),
        std::slice::from_ref(&work),
        1,
    );
    layer_energy(
        &table,
        &buffers,
        &count_layer(&hwgen::Design::of(&config).unwrap(), &work, 1),
    )
}

#[test]
fn tiny_gemm_energy_by_hand() {
    let energy = tiny_energy(4, 4);
    let typical = |kind: ActionKind| energy.kind(kind).pj.typical;
    assert_eq!(energy.macs, 18); // 3 x 3 x 2

    // 18 MACs x (4 x 4) bit products x 0.2 pJ / (8 x 8).
    assert!(close(typical(ActionKind::Multiply), 0.9));
    assert!(close(
        energy.kind(ActionKind::Multiply).pj.low,
        18.0 * 16.0 * 0.194 / 64.0
    ));
    assert!(close(energy.kind(ActionKind::Multiply).pj.high, 3.6));
    // Adders: rows 0 and 1 of the first K-tile are 8 and 9 bits wide, row 0
    // of the second 8 bits: 3 x 2 x (8 + 9) + 3 x 2 x 8 = 150 bits at
    // 0.1 pJ / 32 bits.
    assert!(close(typical(ActionKind::PeAdd), 150.0 * 0.1 / 32.0));
    // Per tile: one weight bank 2 x 2 x 4 = 16, the weight input register
    // twice (1-bit row + 2 x 4 bits + the 1-bit wload_signed) = 20, one
    // parameter bank and the parameter inputs 2 x (2 x (32 + 5) + 3-bit
    // out_bits) = 154: 190 bits, two tiles, at 1 pJ / 32 bits.
    assert!(close(typical(ActionKind::WeightLoad), 380.0 / 32.0));
    // Per vector: valid 1 + input 2 x 4 + control 7 (bank, first, last,
    // bypass, a 1-bit slice shift, 2-bit address) + skew 1 x 5 + PEs 4 x 5
    // + delay lines 3 x (1 + 7) = 65 bits; 6 vectors.
    assert!(close(typical(ActionKind::ActivationMove), 390.0 / 32.0));
    // Per vector: psum registers 2 x 8 + 2 x 9, de-skew 1 x 9 = 43 bits.
    assert!(close(typical(ActionKind::PsumMove), 258.0 / 32.0));
    // 6 vectors x 2 columns: read + write + output register of 13 bits
    // (1 pJ / 32 bits) and a 13-bit add (0.1 pJ / 32 bits).
    assert!(close(
        typical(ActionKind::Accumulator),
        12.0 * 3.0 * 13.0 / 32.0 + 12.0 * 13.0 * 0.1 / 32.0
    ));
    // Last K-tile only: 6 outputs x four 32-bit adds, and 3 result vectors
    // of 2 x (4 + 32) + 2 x 2 + 5 = 81 register bits.
    assert!(close(
        typical(ActionKind::Requantize),
        6.0 * 4.0 * 0.1 + 3.0 * 81.0 / 32.0
    ));
    // Activation buffer (60 bits, below 8 KiB: 10 pJ per 64 bits): reads
    // 3 x 2 x 4 + 3 x 1 x 4 = 36 bits, writes 6 x 4 = 24 bits.
    assert!(close(
        typical(ActionKind::ActivationBuffer),
        60.0 * 10.0 / 64.0
    ));
    // Weight buffer: tile reads (2x2x4 + 74 + 5) + (2x1x4 + 74 + 5) = 182
    // bits, one fill of 2x3x4 + 74 = 98 bits.
    assert!(close(
        typical(ActionKind::WeightBuffer),
        280.0 * 10.0 / 64.0
    ));
    // DRAM: the 98 weight + parameter bits at 1950 pJ / 64 bits.
    assert!(close(typical(ActionKind::Dram), 98.0 * 1950.0 / 64.0));

    let sum: f64 = ActionKind::ALL.iter().map(|&k| typical(k)).sum();
    assert!(close(energy.total_pj.typical, sum));
    // 3096.725 pJ before the register list counted the valid bit and the
    // 3-bit out_bits field: + (6 - 4) register bits at 1 pJ / 32 bits;
    // 3096.7875 before the slice-shift field (+ 4 metadata bits per vector)
    // and wload_signed (+ 1 bit per weight row): + (24 + 4) / 32.
    assert!(close(energy.total_pj.typical, 3097.6625));
    assert!(energy.total_pj.low < energy.total_pj.typical);
    assert!(energy.total_pj.typical < energy.total_pj.high);

    // Totals: pJ/MAC and TOPS/W = 2 x MACs / pJ.
    let total = totals(std::slice::from_ref(&energy));
    assert!(close(total.per_image_uj.typical, 3097.6625e-6));
    assert!(close(total.pj_per_mac.typical, 3097.6625 / 18.0));
    assert!(close(total.tops_per_w.typical, 36.0 / 3097.6625));
    // The lowest energy gives the highest efficiency.
    assert!(close(total.tops_per_w.high, 36.0 / energy.total_pj.low));
}

#[test]
fn multipliers_scale_with_the_operand_product_adders_linearly() {
    let base = tiny_energy(4, 4);
    let narrow_weights = tiny_energy(4, 2);
    // 8-bit inputs on the 4-bit PEs: two activation-slice passes of 4 bits.
    let wide_inputs = energy_on(&tiny_config().with_layer_bits(8, 4, 4), 8, 4);
    let multiply = |e: &LayerEnergy| e.kind(ActionKind::Multiply).pj.typical;
    assert!(close(multiply(&narrow_weights), multiply(&base) / 2.0));
    assert!(close(multiply(&wide_inputs), multiply(&base) * 2.0));
    // The PE adders follow the partial-sum width a + w + ceil(log2(r + 1)):
    // 150 bits at A4 W4, 6 x (6 + 7) + 6 x 6 = 114 bits at A4 W2.
    let add = |e: &LayerEnergy| e.kind(ActionKind::PeAdd).pj.typical;
    assert!(close(add(&narrow_weights), 114.0 * 0.1 / 32.0));
    // Registers are physical (hardware widths): the layer's widths do not
    // change them.
    for kind in [
        ActionKind::ActivationMove,
        ActionKind::PsumMove,
        ActionKind::WeightLoad,
    ] {
        assert!(close(
            narrow_weights.kind(kind).pj.typical,
            base.kind(kind).pj.typical
        ));
    }
}

#[test]
fn a_users_table_is_the_one_that_prices() {
    // The multiplier's typical value doubled (0.4 pJ stays below high_pj 0.8).
    let doubled = report::energy_table::DEFAULT_TABLE_YAML.replacen(
        "typical_pj: 0.2\n",
        "typical_pj: 0.4\n",
        1,
    );
    let table = EnergyTable::from_yaml_str(&doubled, "doubled.yaml").unwrap();
    let config = tiny_config();
    let work = tiny_layer(4, 4);
    let buffers = BufferSizes::for_layers(
        &hwgen::Design::of(&config).unwrap(),
        std::slice::from_ref(&work),
        1,
    );
    let energy = layer_energy(
        &table,
        &buffers,
        &count_layer(&hwgen::Design::of(&config).unwrap(), &work, 1),
    );
    assert!(close(energy.kind(ActionKind::Multiply).pj.typical, 1.8));
    assert_eq!(table.origin, "doubled.yaml");
}

#[test]
fn a_layer_in_two_activation_slice_passes_by_hand() {
    // The tiny GEMM with 8-bit activations on the 4-bit PEs: two passes of
    // 4-bit activation slices. acc_bits = 8 + 4 + ceil(log2 16) + 1 = 17;
    // the largest slice shift is 4, a 3-bit field.
    let config = tiny_config().with_layer_bits(8, 4, 4);
    let design = hwgen::Design::of(&config).unwrap();
    assert_eq!(design.widths.acc_bits, 17);
    assert_eq!(
        (
            design.widths.max_slice_shift,
            design.widths.slice_shift_bits
        ),
        (4, 3)
    );
    assert!(!design.widths.unsigned_weight_slices);
    let activity = count_layer(&design, &tiny_layer(8, 4), 1);
    assert_eq!(activity.passes.count(), 2);
    assert_eq!((activity.tiles, activity.vectors), (2, 12));
    let energy = energy_on(&config, 8, 4);
    let typical = |kind: ActionKind| energy.kind(kind).pj.typical;
    // 18 MACs x two passes of 4 x 4 bit products = 18 x 32 = 8 x 4 per MAC.
    assert_eq!(activity.units(ActionKind::Multiply), 18 * 32);
    assert!(close(
        typical(ActionKind::Multiply),
        18.0 * 32.0 * 0.2 / 64.0
    ));
    // The PE adders of each pass at the 4 x 4 slice widths: 2 x 150 bits.
    assert_eq!(activity.units(ActionKind::PeAdd), 300);
    // 12 vectors x 2 columns: read + write + output register of 17 bits,
    // the 17-bit add and the 3-stage x 17-bit slice shifter (priced as adder
    // bits).
    assert!(close(
        typical(ActionKind::Accumulator),
        24.0 * 3.0 * 17.0 / 32.0 + 24.0 * (17.0 + 3.0 * 17.0) * 0.1 / 32.0
    ));
    // Each of the 6 outputs is requantized once, in the last pass: 3 result
    // vectors of 2 x (4 + 32) + 2 x 2 + 5 = 81 register bits.
    assert!(close(
        typical(ActionKind::Requantize),
        6.0 * 4.0 * 0.1 + 3.0 * 81.0 / 32.0
    ));
    // im2col reads: each pass reads its 4-bit slices, 2 x 36 bits in all
    // (the 8-bit values once per K-tile), and the 24 output bits.
    assert!(close(
        typical(ActionKind::ActivationBuffer),
        (72.0 + 24.0) * 10.0 / 64.0
    ));
}
