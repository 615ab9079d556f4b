//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building, loading or running a Verilated model.
///
/// Every variant names what failed; build failures carry the tail of the failing tool's
/// output so that the error alone is enough to diagnose a broken design.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A required external tool (`verilator` or `g++`) could not be run.
    #[error("cannot run `{tool}`: {reason} (is it installed and on PATH?)")]
    ToolNotFound {
        /// The program that was looked up.
        tool: String,
        /// Why running it failed.
        reason: String,
    },

    /// The build options are inconsistent (e.g. no sources, a clock port that is not a 1-bit input).
    #[error("invalid build options for `{top}`: {reason}")]
    InvalidOptions {
        /// Top module of the failed build.
        top: String,
        /// What is wrong.
        reason: String,
    },

    /// A file or directory operation failed.
    #[error("{action} `{}`", path.display())]
    Io {
        /// What was being done, e.g. "cannot read source".
        action: String,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// `verilator` rejected the design (syntax error, lint warning treated as error, ...).
    #[error("verilator failed on top module `{top}` ({status}):\n{output}")]
    Verilate {
        /// Top module of the failed build.
        top: String,
        /// Exit status as text.
        status: String,
        /// Tail of verilator's combined stdout/stderr (its `%Error` lines).
        output: String,
    },

    /// The C++ compiler or linker failed on the Verilated model, the wrapper or the runtime.
    #[error("C++ build of {what} failed ({status}); files kept in `{}`\ncommand: {command}\n{output}", dir.display())]
    Compile {
        /// Which step failed (e.g. "model chunk fast_0.cpp", "link").
        what: String,
        /// Exit status as text.
        status: String,
        /// The command line that failed.
        command: String,
        /// Tail of the compiler's output.
        output: String,
        /// Directory holding the sources of the failed build, kept for inspection.
        dir: PathBuf,
    },

    /// The generated model header could not be parsed for ports.
    #[error("cannot parse ports from `{}`: {reason}", path.display())]
    Ports {
        /// The header that was parsed.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },

    /// The built shared library could not be loaded or lacks an expected symbol.
    #[error("cannot load model library `{}`: {reason}", path.display())]
    Load {
        /// The shared library.
        path: PathBuf,
        /// Loader error text.
        reason: String,
    },

    /// A port name that the design does not have.
    #[error("design `{top}` has no port `{name}`; its ports are: {available}")]
    UnknownPort {
        /// Top module.
        top: String,
        /// The name asked for.
        name: String,
        /// All port names of the design, comma separated.
        available: String,
    },

    /// The model was built without tracing but a trace was requested.
    #[error("design `{top}` was built without tracing; build it with a trace format (vcd or fst) to write a waveform")]
    TraceNotEnabled {
        /// Top module.
        top: String,
    },

    /// `step` was called on a design that has no clock port of the configured name.
    #[error("design `{top}` has no clock input `{clock}`, so it cannot be stepped; build it with the name of its clock port")]
    NoClock {
        /// Top module.
        top: String,
        /// The configured clock port name.
        clock: String,
    },

    /// The model raised a fatal error at run time (`$fatal`, `$stop`, a failed assertion, or a
    /// Verilator runtime error). The model cannot be used afterwards.
    #[error(
        "simulation of `{top}` stopped with a fatal error after {cycles} cycles: {message}{}",
        trace_hint(trace)
    )]
    Fatal {
        /// Top module.
        top: String,
        /// Rising clock edges simulated before the error.
        cycles: u64,
        /// The message Verilator produced (file:line: text).
        message: String,
        /// Waveform written so far, if tracing.
        trace: Option<PathBuf>,
    },

    /// The build was stopped by [`crate::interrupt_cleanup`] (SIGINT or SIGTERM): its children
    /// were killed and its temporary files removed.
    #[error("build interrupted")]
    Interrupted,

    /// The SIGINT / SIGTERM handler could not be installed.
    #[error("cannot install the interrupt handler: {reason}")]
    SignalHandler {
        /// Why.
        reason: String,
    },

    /// The model could not be created or a trace file could not be opened.
    #[error("model `{top}`: {reason}")]
    Runtime {
        /// Top module.
        top: String,
        /// What went wrong.
        reason: String,
    },
}

fn trace_hint(trace: &Option<PathBuf>) -> String {
    match trace {
        Some(p) => format!(" (waveform: {})", p.display()),
        None => String::new(),
    }
}

impl SimError {
    pub(crate) fn io(
        action: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        SimError::Io {
            action: action.into(),
            path: path.into(),
            source,
        }
    }
}
