//! The activity model's register list (report::registers) against yosys:
//! for several designs, every module's flip-flops after generic synthesis
//! equal the list's bits for that module, so the energy model cannot drift
//! from the RTL. Skipped, with a message, without yosys.

use hwgen::{Design, HwConfig};
use report::registers::RegisterInventory;
use report::synth::{is_generic_flip_flop, synthesize, SynthFlow, SynthOptions};

fn config(
    rows: u32,
    cols: u32,
    a_bits: u8,
    w_bits: u8,
    acc_depth: u32,
    shift_bits: u8,
) -> HwConfig {
    let name = format!("ffs-{rows}x{cols}-w{w_bits}a{a_bits}-d{acc_depth}");
    HwConfig::array(name, rows, cols, a_bits, w_bits, acc_depth)
        .with_max_k(300)
        .with_shift_bits(shift_bits)
}

fn design(rows: u32, cols: u32, a_bits: u8, w_bits: u8, acc_depth: u32, shift_bits: u8) -> Design {
    Design::of(&config(rows, cols, a_bits, w_bits, acc_depth, shift_bits)).unwrap()
}

/// A precision-scalable design: `a_bits` x `w_bits` PEs serving layers up
/// to `in_bits` x `layer_w_bits` in passes, `out_bits`-wide outputs.
fn sliced(base: HwConfig, in_bits: u8, layer_w_bits: u8, out_bits: u8) -> Design {
    let name = format!("{}-slices-{in_bits}x{layer_w_bits}o{out_bits}", base.name);
    let config = HwConfig { name, ..base }.with_layer_bits(in_bits, layer_w_bits, out_bits);
    Design::of(&config).unwrap()
}

#[test]
fn every_module_has_the_flip_flops_the_register_list_says() {
    if let Err(why) = report::synth::yosys_version(std::path::Path::new("yosys")) {
        eprintln!("SKIPPED: {why}");
        return;
    }
    let options = SynthOptions {
        flows: vec![SynthFlow::Generic],
        ..SynthOptions::default()
    };
    let designs = [
        design(1, 1, 1, 2, 1, 1),
        design(2, 3, 4, 4, 5, 3),
        design(3, 2, 8, 8, 7, 5),
        design(4, 4, 5, 3, 16, 4),
        // Activation and weight slices: unsigned lower weight slices (the
        // rows' signedness bits), the slice shift in the metadata, 4-bit
        // out_act columns on 2-bit PEs.
        sliced(config(4, 4, 2, 2, 8, 5), 8, 8, 4),
        // Odd widths: 7-bit activations on 3-bit PEs (three slices), 5-bit
        // weights on 3-bit PEs (two), outputs narrower than the PEs.
        sliced(config(3, 2, 3, 3, 4, 3), 7, 5, 2),
        // Activation slices only: the shifter without unsigned weights.
        sliced(config(2, 2, 4, 4, 3, 2), 8, 4, 8),
    ];
    // The sliced designs have what they are meant to exercise.
    for design in &designs[4..] {
        assert!(design.widths.max_slice_shift > 0, "{}", design.config.name);
    }
    assert!(designs[4].widths.unsigned_weight_slices && designs[5].widths.unsigned_weight_slices);
    assert!(!designs[6].widths.unsigned_weight_slices);
    for design in &designs {
        let flows = synthesize(design, &options, &|_| {}).unwrap();
        let generic = &flows[0];
        assert!(generic.ok(), "{}: {:?}", design.config.name, generic.error);
        let inventory = RegisterInventory::of(design);
        let mut checked = 0;
        for module in &generic.modules {
            let yosys = module.count(is_generic_flip_flop);
            let listed = inventory.module_bits(&module.module);
            assert_eq!(
                yosys, listed,
                "{}: module {} has {yosys} flip-flops after synthesis, the register list says {listed}",
                design.config.name, module.module
            );
            checked += u64::from(yosys > 0);
        }
        // The rows' signedness bits exist exactly when the PEs take
        // unsigned weight slices (two per row, one per bank).
        let array_ffs = generic
            .module("tandem_systolic_array")
            .map_or(0, |m| m.count(is_generic_flip_flop));
        let signed_bits = if design.widths.unsigned_weight_slices {
            2 * u64::from(design.config.rows)
        } else {
            0
        };
        assert_eq!(array_ffs, signed_bits, "{}", design.config.name);
        // The modules with registers all appeared in the synthesis.
        for module in inventory.modules() {
            assert!(
                generic.module(module).is_some(),
                "{}: {module} missing from yosys' statistics",
                design.config.name
            );
        }
        assert!(
            checked >= 4,
            "{}: too few modules with flip-flops",
            design.config.name
        );
    }
}
