//! Failures are reported as errors naming what failed, never as a crashed process.

mod common;

use sim::{BuildOptions, SimError};

#[test]
fn syntax_error_reports_verilator_text() {
    require_verilator!();
    let err = sim::build(&common::options("syntax_error", "syntax_error.v")).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SimError::Verilate { .. }), "{msg}");
    assert!(msg.contains("syntax_error"), "{msg}");
    assert!(
        msg.contains("%Error") && msg.contains("syntax error"),
        "verilator's text missing: {msg}"
    );
}

#[test]
fn missing_source_and_bad_options() {
    require_verilator!();
    let err = sim::build(&BuildOptions::new("x", ["/nonexistent/x.v"])).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/x.v"), "{err}");
    let err = sim::build(&BuildOptions::new("x", Vec::<&str>::new())).unwrap_err();
    assert!(matches!(err, SimError::InvalidOptions { .. }), "{err}");
    let err = sim::build(&BuildOptions::new("bad name", ["x.v"])).unwrap_err();
    assert!(matches!(err, SimError::InvalidOptions { .. }), "{err}");
    // A clock that is not a 1-bit input.
    let err = sim::build(&common::options("wide", "wide.v").clock("a")).unwrap_err();
    assert!(err.to_string().contains("1-bit input"), "{err}");
    // Unknown parameter: verilator's own message comes through.
    let err =
        sim::build(&common::options("counter", "counter.v").parameter("NOPE", 1)).unwrap_err();
    assert!(err.to_string().contains("NOPE"), "{err}");
}

#[test]
fn fatal_in_design_becomes_an_error() {
    require_verilator!();
    let lib = sim::build(&common::options("checks", "checks.sv")).unwrap();
    let mut sim = lib.instantiate().unwrap();
    let [trip, ticks] = ["trip", "ticks"].map(|n| sim.port(n).unwrap());
    assert_eq!(sim.try_step(4).unwrap(), 4);
    assert_eq!(sim.get(ticks), 4);
    sim.set(trip, 1);
    let err = sim.try_step(10).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SimError::Fatal { cycles: 4, .. }), "{msg}");
    assert!(
        msg.contains("trip asserted at tick 4") && msg.contains("checks.sv"),
        "{msg}"
    );
    // The model is dead: further use errors, and step() panics with the same message.
    assert!(sim.try_eval().is_err());
    assert!(sim.finished());
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sim.step(1))).unwrap_err();
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("trip asserted"), "{text}");
    // A fresh instance of the same library is unaffected.
    let mut fresh = lib.instantiate().unwrap();
    fresh.step(2);
    assert_eq!(fresh.get(ticks), 2);
}

#[test]
fn finish_stops_stepping() {
    require_verilator!();
    let lib = sim::build(&common::options("checks", "checks.sv")).unwrap();
    let mut sim = lib.instantiate().unwrap();
    let [done, ticks] = ["done", "ticks"].map(|n| sim.port(n).unwrap());
    sim.step(3);
    sim.set(done, 1);
    assert_eq!(
        sim.try_step(10).unwrap(),
        1,
        "stops after the edge that ran $finish"
    );
    assert!(sim.finished());
    assert_eq!(sim.get(ticks), 4);
    // A second $finish would exit() a stock Verilator process; ours just stays finished.
    assert_eq!(sim.try_step(10).unwrap(), 0);
    assert_eq!(sim.cycles(), 4);
}
