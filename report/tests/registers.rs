//! The activity model's register list (report::registers) against yosys:
//! for several designs, every module's flip-flops after generic synthesis
//! equal the list's bits for that module, so the energy model cannot drift
//! from the RTL. Skipped, with a message, without yosys.

use hwgen::{Design, HwConfig};
use report::registers::RegisterInventory;
use report::synth::{is_generic_flip_flop, synthesize, SynthFlow, SynthOptions};

fn design(rows: u32, cols: u32, a_bits: u8, w_bits: u8, acc_depth: u32, shift_bits: u8) -> Design {
    let name = format!("ffs-{rows}x{cols}-w{w_bits}a{a_bits}-d{acc_depth}");
    let config = HwConfig::array(name, rows, cols, a_bits, w_bits, acc_depth)
        .with_max_k(300)
        .with_shift_bits(shift_bits);
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
    for design in [
        design(1, 1, 1, 2, 1, 1),
        design(2, 3, 4, 4, 5, 3),
        design(3, 2, 8, 8, 7, 5),
        design(4, 4, 5, 3, 16, 4),
    ] {
        let flows = synthesize(&design, &options, &|_| {}).unwrap();
        let generic = &flows[0];
        assert!(generic.ok(), "{}: {:?}", design.config.name, generic.error);
        let inventory = RegisterInventory::of(&design);
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
