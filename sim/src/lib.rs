//! sim: the Verilator bridge. Verilate Verilog at run time, load the model as a shared library
//! and drive it cycle by cycle from Rust.
//!
//! We do not use the `verilated` crate (does not build against Verilator 5, no run-time
//! parameters, no ports over 64 bits) nor `marlin` (needs Verilator >= 5.025). The bridge is
//! small: [`build`] runs `verilator --cc`, compiles the generated C++ plus a generated C-ABI
//! wrapper into a shared library with g++, caches it, and loads it with `libloading`.
//!
//! ```no_run
//! use sim::{build, BuildOptions};
//! let lib = build(&BuildOptions::new("counter", ["rtl/counter.v"]).parameter("WIDTH", 7))?;
//! let mut sim = lib.instantiate()?;
//! let (rst, count) = (sim.port("rst")?, sim.port("count")?);
//! sim.set(rst, 1);
//! sim.step(1);
//! sim.set(rst, 0);
//! sim.step(10);
//! assert_eq!(sim.get(count), 10);
//! # Ok::<(), sim::SimError>(())
//! ```
//!
//! # Build and cache
//! * verilator: `--cc -CFLAGS -fPIC -O3 --x-assign fast --x-initial fast --top-module <top>
//!   -Mdir obj [--trace|--trace-fst] [-G<p>=<v>]... [-I<dir>]... <extra_args> <sources>`.
//!   Lint warnings are fatal by default (Verilator's behaviour); pass `-Wno-fatal` or specific
//!   `-Wno-<CODE>` in [`BuildOptions::extra_args`] to relax.
//! * Ports are read from the generated `V<top>.h` (`VL_IN8/16/(32)/64/W`, `VL_OUT*`,
//!   `VL_INOUT*`); the wrapper exposes each port's address in that order.
//! * The Verilator runtime (`verilated.cpp`, `verilated_threads.cpp`, and
//!   `verilated_vcd_c.cpp` / `verilated_fst_c.cpp` when tracing) is compiled once per
//!   toolchain into `<cache>/runtime-<hash>/*.o` and linked into every model.
//! * The model is compiled as "unity" chunks (generated files `#include`d together, split over
//!   the CPUs when Verilator split its output), `-O2` for the fast path and `-O1` for the
//!   construction/settle code, and linked with a version script that exports only the
//!   wrapper's `tandem_*` functions, so several models coexist in one process.
//! * Cache: `<cache>/<key>/` with `obj/` (Verilator output), `wrapper.cpp`,
//!   `libV<top>-<key>.so` and a human-readable `build.log`. The key is a SHA-256 of the
//!   options, the sources' contents, every other file Verilator read (includes, via
//!   `index/<k1>.deps`), `verilator --version`, `g++ --version` and the wrapper version.
//!   Builds happen in a private temp dir that is renamed into place, so concurrent builds in
//!   threads or processes are safe: the first rename wins, the others use its result.
//!   `<cache>` is `$TANDEM_SIM_CACHE`, else the user cache dir
//!   (`~/.cache/tandem/verilator`), else the temp dir (see [`cache_root`]). Waveforms without a
//!   path go to [`trace_dir`] (`$TANDEM_TRACE_DIR`, else `./tandem-traces/`).
//! * Interrupts: every child runs in its own process group; [`install_interrupt_handler`]
//!   makes SIGINT / SIGTERM kill them all and remove the build's temporaries
//!   ([`interrupt_cleanup`]), and temporaries of dead processes are removed by the next build.
//!
//! # Simulation semantics
//! * [`Sim::step`]`(n)`: `n` times { clock = 0, eval, clock = 1, eval }; one cycle is one
//!   rising edge. Set inputs before `step`; read outputs after it.
//! * [`Sim::eval`] settles combinational logic after input changes (e.g. in a design without a
//!   clock).
//! * Time advances by one unit per eval and per half cycle; when a trace is open every such
//!   point is dumped (see [`Sim::trace_to`], [`TraceFormat::from_env`]).
//! * `$fatal`, `$stop`, failed assertions and Verilator runtime errors do not abort the
//!   process: `eval`/`step` panic with the message (and the waveform path), `try_eval` /
//!   `try_step` return [`SimError::Fatal`]. `$finish` sets [`Sim::finished`] and stops
//!   `step` early.
//! * [`Sim`] is `Send` but not `Sync`: one model per thread.
//!
//! Also: [`pack_fields`] and friends lay out rows of small operands on wide ports.
//!
//! # Drivers for the generated array
//! * [`array::ArraySim`]: the `tandem_top` of a [`hwgen::HwConfig`], verilated and driven
//!   through the canonical schedule ([`hwgen::host::drive_gemm`]) one GEMM at a time, with
//!   every result's cycle checked against the schedule.
//! * [`network`]: conv2d / linear layers as GEMMs (host im2col), a whole golden model layer
//!   by layer with every layer compared against golden, and per-layer cycle accounting.
//! * [`gemm_check`]: randomized GEMMs against the integer contract.
//!
//! # Recording and replay
//! [`Sim::record_to`] records every input value a driver applies and every output value the
//! model produces; [`replay`] replays such a recording through the bridge or in a plain C++
//! Verilator testbench of the same model ([`replay::PlainTestbench`]), checking every output,
//! which is how the bridge's overhead is measured (`scripts/bench-sim.sh`).

pub mod array;
mod build;
mod error;
pub mod gemm_check;
mod model;
pub mod network;
mod pack;
mod ports;
pub mod replay;
mod wrapper;

pub use build::{
    build, cache_root, clear_cache, install_interrupt_handler, interrupt_cleanup, trace_dir,
    verilator_available, verilator_version, BuildOptions, ParseTraceFormatError, TraceFormat,
    CACHE_ENV, TRACE_DIR_ENV,
};
pub use error::SimError;
pub use model::{Port, Sim, VerilatedLib};
pub use pack::{
    pack_fields, u128_to_words, unpack_fields_signed, unpack_fields_unsigned, words_to_u128,
};
pub use ports::{Direction, PortInfo, Storage};
