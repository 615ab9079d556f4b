//! hwgen: hardware config -> Verilog (see issue: hardware generator).
