//! Recording and replay (`Sim::record_to`, `sim::replay`): a recorded run of the `wide`
//! fixture (1-, 33-, 100- and 200-bit ports, a register, evals and multi-edge steps) replays
//! bit-exact through the bridge and in the plain C++ testbench (both object choices), as does a
//! GEMM recorded through the array driver; a recording with one output bit flipped, a
//! truncated one, or one of another design is refused by both.

mod common;

use std::path::{Path, PathBuf};

use common::fixture;
use rand::{Rng, SeedableRng};
use sim::replay::{replay_on_bridge, PlainObjects, PlainTestbench, Recording};
use sim::{BuildOptions, VerilatedLib};

fn wide() -> VerilatedLib {
    sim::build(&BuildOptions::new("wide", [fixture("wide.v")])).expect("build wide")
}

fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("replay-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Record a seeded random run of `wide` into `path`; returns (records, cycles).
fn record_wide(lib: &VerilatedLib, path: &Path) -> (u64, u64) {
    let mut sim = lib.instantiate().unwrap();
    sim.record_to(path).unwrap();
    assert!(sim.is_recording());
    let [a, b, bit1, in33] = ["a", "b", "bit1", "in33"].map(|n| sim.port(n).unwrap());
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let (mut records, mut cycles) = (0, 0);
    for i in 0..300u64 {
        if i % 3 != 1 {
            let mut av: Vec<u32> = (0..4).map(|_| rng.random()).collect();
            av[3] &= 0xf;
            sim.set_wide(a, &av);
        }
        if i % 5 != 2 {
            let mut bv: Vec<u32> = (0..7).map(|_| rng.random()).collect();
            bv[6] &= 0xff;
            sim.set_wide(b, &bv);
        }
        sim.set(in33, rng.random::<u64>() & ((1 << 33) - 1));
        sim.set(bit1, i & 1);
        match i % 7 {
            0 => sim.eval(),
            3 => {
                sim.step(3);
                cycles += 3;
            }
            _ => {
                sim.step(1);
                cycles += 1;
            }
        }
        records += 1;
    }
    let summary = sim.finish_recording().unwrap();
    assert_eq!((summary.records, summary.cycles), (records, cycles));
    assert!(!summary.ended_by_fatal);
    assert!(!sim.is_recording());
    assert_eq!(
        summary.bytes,
        std::fs::metadata(path).unwrap().len(),
        "{summary:?}"
    );
    (records, cycles)
}

#[test]
fn recording_replays_bit_exact_on_the_bridge_and_the_plain_testbench() {
    require_verilator!();
    let lib = wide();
    let dir = scratch("exact");
    let path = dir.join("wide.rec");
    let (records, cycles) = record_wide(&lib, &path);

    let recording = Recording::read(&path).unwrap();
    assert_eq!((recording.records(), recording.cycles()), (records, cycles));
    let run = replay_on_bridge(&lib, &recording, true).unwrap();
    let run_unchecked = replay_on_bridge(&lib, &recording, false).unwrap();
    assert_eq!(
        (run_unchecked.records, run_unchecked.cycles),
        (records, cycles)
    );
    assert_eq!((run.records, run.cycles), (records, cycles));

    for objects in [PlainObjects::Bridge, PlainObjects::Rebuilt] {
        let testbench = PlainTestbench::build(&lib, &dir.join(objects.name()), objects).unwrap();
        for checked in [true, false] {
            let plain = testbench.run(&path, 2, checked).unwrap();
            assert_eq!((plain.records, plain.cycles), (records, cycles));
            assert_eq!(plain.checked, checked);
            assert_eq!(plain.seconds.len(), 2);
            assert_eq!(plain.cpu_seconds.len(), 2);
            assert!(plain.cycles_per_s() > 0.0, "{plain:?}");
        }
    }

    // Copies of the library and of the testbench (benchmark placements) replay it too.
    let copy = lib.load_copy(&dir.join("wide-copy.so")).unwrap();
    let run = replay_on_bridge(&copy, &recording, true).unwrap();
    assert_eq!(run.cycles, cycles);
    let testbench = PlainTestbench::build(&lib, &dir.join("bridge"), PlainObjects::Bridge).unwrap();
    let plain = testbench.copy_to(&dir.join("replay-copy")).unwrap();
    assert_eq!(plain.run(&path, 1, true).unwrap().cycles, cycles);
}

/// The generated array through the real driver: a GEMM on a small `tandem_top`, recorded by
/// `ArrayExtras::record` from construction (reset included), replays exactly in the plain
/// testbench.
#[test]
fn a_recorded_gemm_on_the_array_replays_in_the_plain_testbench() {
    require_verilator!();
    use hwgen::host::GemmOperands;
    use sim::array::{ArrayExtras, ArrayOptions, ArraySim};
    let config = hwgen::HwConfig::array("test-2x3-w4a4-d8", 2, 3, 4, 4, 8).with_max_k(4096);
    let design = hwgen::Design::of(&config).unwrap();
    let dir = scratch("array");
    let path = dir.join("gemm.rec");
    let extras = ArrayExtras {
        record: Some(path.clone()),
        ..ArrayExtras::default()
    };
    let mut array = ArraySim::new_with(&design, &ArrayOptions::default(), &extras).unwrap();
    let shape = hwgen::GemmShape { m: 9, k: 5, n: 4 };
    let activations: Vec<u32> = (0..shape.m * shape.k)
        .map(|i| (i * 7 % 16) as u32)
        .collect();
    let weights: Vec<i32> = (0..shape.n * shape.k)
        .map(|i| (i % 15) as i32 - 7)
        .collect();
    let ops = GemmOperands {
        shape,
        activations: &activations,
        in_bits: 4,
        weights: &weights,
        w_bits: 4,
        bias: &[3, -2, 0, 9],
        shifts: &[1, 2, 0, 3],
        out_bits: 4,
        bypass: false,
    };
    let result = array.run_gemm(&ops).unwrap();
    let summary = array.finish_recording().unwrap();
    assert_eq!(summary.cycles, 2 + result.cycles, "the reset and the GEMM");
    let lib = array.loaded_library().clone();
    let recording = Recording::read(&path).unwrap();
    replay_on_bridge(&lib, &recording, true).unwrap();
    let testbench = PlainTestbench::build(&lib, &dir.join("tb"), PlainObjects::Bridge).unwrap();
    let plain = testbench.run(&path, 1, true).unwrap();
    assert_eq!(plain.cycles, summary.cycles);
}

#[test]
fn a_changed_truncated_or_foreign_recording_is_refused() {
    require_verilator!();
    let lib = wide();
    let dir = scratch("refused");
    let path = dir.join("wide.rec");
    let (records, _) = record_wide(&lib, &path);
    let testbench = PlainTestbench::build(&lib, &dir.join("tb"), PlainObjects::Bridge).unwrap();

    // Flip bit 0 of the word before the end marker (24 bytes): the last word of an output
    // the last record lists (its inputs all changed, so its outputs did).
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 24 - 4;
    bytes[at] ^= 1;
    let flipped = dir.join("flipped.rec");
    std::fs::write(&flipped, &bytes).unwrap();
    let last = records - 1;
    let error = replay_on_bridge(&lib, &Recording::read(&flipped).unwrap(), true)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("differs at record {last}")),
        "{error}"
    );
    for checked in [true, false] {
        let error = testbench.run(&flipped, 1, checked).unwrap_err().to_string();
        assert!(
            error.contains(&format!("mismatch at record {last}")),
            "{error}"
        );
    }

    // Truncated: no end marker.
    let truncated = dir.join("truncated.rec");
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    let error = Recording::read(&truncated).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");
    let error = testbench.run(&truncated, 1, true).unwrap_err().to_string();
    assert!(error.contains("truncated"), "{error}");

    // Another design's model.
    let counter = sim::build(&BuildOptions::new("counter", [fixture("counter.v")])).unwrap();
    let error = replay_on_bridge(&counter, &Recording::read(&path).unwrap(), true)
        .unwrap_err()
        .to_string();
    assert!(error.contains("another design"), "{error}");
    let other =
        PlainTestbench::build(&counter, &dir.join("counter-tb"), PlainObjects::Bridge).unwrap();
    let error = other.run(&path, 1, true).unwrap_err().to_string();
    assert!(error.contains("another design"), "{error}");
}

#[test]
fn only_a_fresh_model_starts_a_recording() {
    require_verilator!();
    let lib = wide();
    let dir = scratch("fresh");
    let mut sim = lib.instantiate().unwrap();
    assert!(sim.finish_recording().is_err(), "not recording");
    sim.step(1);
    let error = sim
        .record_to(&dir.join("late.rec"))
        .unwrap_err()
        .to_string();
    assert!(error.contains("fresh model"), "{error}");
    assert!(!dir.join("late.rec").exists());

    // A dropped recorder still writes its end marker.
    let path = dir.join("dropped.rec");
    let mut sim = lib.instantiate().unwrap();
    sim.record_to(&path).unwrap();
    assert!(sim.record_to(&path).is_err(), "already recording");
    sim.step(2);
    drop(sim);
    let recording = Recording::read(&path).unwrap();
    assert_eq!((recording.records(), recording.cycles()), (1, 2));
}
