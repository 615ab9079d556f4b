//! Waveform output (VCD and FST).

mod common;

use std::fs;

use sim::{BuildOptions, SimError, TraceFormat};

fn traced_counter(format: TraceFormat) -> sim::VerilatedLib {
    let opts = BuildOptions::new("counter", [common::fixture("counter.v")]).trace(Some(format));
    sim::build(&opts).unwrap_or_else(|e| panic!("{format} build: {e}"))
}

fn run_counter(sim: &mut sim::Sim, cycles: u64) {
    let [rst, en] = ["rst", "en"].map(|n| sim.port(n).unwrap());
    sim.set(rst, 1);
    sim.step(1);
    sim.set(rst, 0);
    sim.set(en, 1);
    sim.step(cycles);
}

#[test]
fn vcd_trace_is_written() {
    require_verilator!();
    let lib = traced_counter(TraceFormat::Vcd);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("counter.vcd");
    {
        let mut sim = lib.instantiate().unwrap();
        sim.trace_to(&path).unwrap();
        assert_eq!(sim.trace_path(), Some(path.as_path()));
        assert!(sim.trace_hint().contains("counter.vcd"));
        run_counter(&mut sim, 20);
    } // drop closes and flushes
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains("$enddefinitions"), "VCD header missing");
    assert!(
        text.contains(" count ") || text.contains(" count["),
        "count not traced:\n{}",
        &text[..text.len().min(2000)]
    );
    // One timestamp per half cycle: 21 cycles -> #0 (open) .. #42.
    assert!(
        text.contains("\n#42\n"),
        "last half-cycle timestamp missing"
    );
    assert!(!text.contains("\n#43\n"));
}

#[test]
fn vcd_trace_can_start_late_and_be_replaced() {
    require_verilator!();
    let lib = traced_counter(TraceFormat::Vcd);
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.vcd"), dir.path().join("b.vcd"));
    let mut sim = lib.instantiate().unwrap();
    run_counter(&mut sim, 5);
    sim.trace_to(&first).unwrap();
    sim.step(3);
    sim.trace_to(&second).unwrap();
    sim.step(3);
    sim.close_trace().unwrap();
    for p in [&first, &second] {
        let text = fs::read_to_string(p).unwrap();
        assert!(
            text.contains("$enddefinitions") && text.contains('#'),
            "{}",
            p.display()
        );
    }
    assert_eq!(sim.get(sim.port("count").unwrap()), 11);
}

#[test]
fn fst_trace_is_written() {
    require_verilator!();
    let lib = traced_counter(TraceFormat::Fst);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counter.fst");
    {
        let mut sim = lib.instantiate().unwrap();
        sim.trace_to(&path).unwrap();
        run_counter(&mut sim, 50);
    }
    let len = fs::metadata(&path).unwrap().len();
    assert!(len > 100, "FST file is only {len} bytes");
}

#[test]
fn tracing_needs_a_traced_build() {
    require_verilator!();
    let lib = sim::build(&BuildOptions::new(
        "counter",
        [common::fixture("counter.v")],
    ))
    .unwrap();
    let mut sim = lib.instantiate().unwrap();
    let err = sim.trace_to(std::path::Path::new("never.vcd")).unwrap_err();
    assert!(matches!(err, SimError::TraceNotEnabled { .. }), "{err}");
    assert!(!std::path::Path::new("never.vcd").exists());
}

#[test]
fn trace_format_from_env_parses() {
    // Only the parser: the variable itself is process-global and read by other tests.
    assert_eq!("vcd".parse::<TraceFormat>().unwrap(), TraceFormat::Vcd);
    assert_eq!("FST".parse::<TraceFormat>().unwrap(), TraceFormat::Fst);
    assert!("ghw".parse::<TraceFormat>().is_err());
    assert_eq!(TraceFormat::Fst.extension(), "fst");
}
