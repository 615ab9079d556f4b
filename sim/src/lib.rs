//! sim: Verilator bridge, drivers and cycle accounting.
