//! What to build: [`BuildOptions`], and the waveform formats ([`TraceFormat`]) and where
//! waveforms go by default ([`trace_dir`]).

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::SimError;

/// Waveform format written when a design is built with tracing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceFormat {
    /// Value change dump (`--trace`): large, readable by every viewer.
    Vcd,
    /// Fast signal trace (`--trace-fst`): compressed, for GTKWave / Surfer.
    Fst,
}

/// Error from parsing a [`TraceFormat`] name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trace format `{0}` (expected `vcd` or `fst`)")]
pub struct ParseTraceFormatError(pub String);

impl FromStr for TraceFormat {
    type Err = ParseTraceFormatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().to_ascii_lowercase();
        TraceFormat::ALL
            .into_iter()
            .find(|f| f.extension() == name)
            .ok_or_else(|| ParseTraceFormatError(s.to_string()))
    }
}

impl fmt::Display for TraceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl TraceFormat {
    /// Environment variable read by [`TraceFormat::from_env`].
    pub const ENV: &'static str = "TANDEM_TRACE";

    /// Every format, in the order help texts list them.
    pub const ALL: [TraceFormat; 2] = [TraceFormat::Vcd, TraceFormat::Fst];

    /// The names [`FromStr`] accepts (and [`TraceFormat::extension`]s), in the order of
    /// [`TraceFormat::ALL`]: `["vcd", "fst"]`.
    pub const NAMES: [&'static str; 2] =
        [TraceFormat::Vcd.extension(), TraceFormat::Fst.extension()];

    /// The trace format requested through `TANDEM_TRACE=vcd|fst`; `Ok(None)` when the variable
    /// is unset, empty, `0`, `off` or `none`.
    pub fn from_env() -> Result<Option<Self>, ParseTraceFormatError> {
        match std::env::var(Self::ENV) {
            Err(_) => Ok(None),
            Ok(v)
                if matches!(
                    v.trim().to_ascii_lowercase().as_str(),
                    "" | "0" | "off" | "none"
                ) =>
            {
                Ok(None)
            }
            Ok(v) => v.parse().map(Some),
        }
    }

    /// The format a waveform file's extension names (`.vcd`, `.fst`, any case); `None` for
    /// any other extension or none.
    pub fn from_path(path: &Path) -> Option<TraceFormat> {
        let extension = path.extension()?.to_str()?;
        extension.parse().ok()
    }

    /// File extension (and Display form): `vcd` or `fst`.
    pub const fn extension(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "vcd",
            TraceFormat::Fst => "fst",
        }
    }

    pub(crate) fn verilator_flag(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "--trace",
            TraceFormat::Fst => "--trace-fst",
        }
    }
}

/// Environment variable overriding the default waveform directory ([`trace_dir`]).
pub const TRACE_DIR_ENV: &str = "TANDEM_TRACE_DIR";

/// Where waveforms go when no path is given: `$TANDEM_TRACE_DIR` if set, else
/// `./tandem-traces/` under the current directory (made absolute when called).
pub fn trace_dir() -> PathBuf {
    let dir = std::env::var_os(TRACE_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("tandem-traces"), PathBuf::from);
    std::path::absolute(&dir).unwrap_or(dir)
}

/// What to verilate and how. Everything here is part of the cache key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildOptions {
    /// Top module name (Verilator's `--top-module`); the C++ class is `V<top>`.
    pub top: String,
    /// Verilog/SystemVerilog source files.
    pub sources: Vec<PathBuf>,
    /// Include directories (`-I<dir>`) for `` `include``.
    pub include_dirs: Vec<PathBuf>,
    /// Top-level parameter overrides, passed as `-G<name>=<value>` (value in Verilog syntax,
    /// e.g. `"8"`, `"16'hbeef"`, `"\"text\""`).
    pub parameters: Vec<(String, String)>,
    /// Build with waveform support. Tracing slows the model down even when no file is open.
    pub trace: Option<TraceFormat>,
    /// Name of the clock input driven by [`crate::Sim::step`] (default `clk`). A design without
    /// such a port still builds; it just cannot be stepped.
    pub clock: String,
    /// Extra verilator arguments, placed before the sources (e.g. `-Wno-fatal`, `-Wno-WIDTH`).
    pub extra_args: Vec<String>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            top: String::new(),
            sources: Vec::new(),
            include_dirs: Vec::new(),
            parameters: Vec::new(),
            trace: None,
            clock: "clk".into(),
            extra_args: Vec::new(),
        }
    }
}

impl BuildOptions {
    /// Options for `top` from `sources`, everything else default.
    pub fn new<P: Into<PathBuf>>(
        top: impl Into<String>,
        sources: impl IntoIterator<Item = P>,
    ) -> Self {
        BuildOptions {
            top: top.into(),
            sources: sources.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }

    /// Add a `-G<name>=<value>` parameter override.
    pub fn parameter(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.parameters.push((name.into(), value.to_string()));
        self
    }

    /// Set the trace format (`None` builds without tracing).
    pub fn trace(mut self, trace: Option<TraceFormat>) -> Self {
        self.trace = trace;
        self
    }

    /// Add an include directory.
    pub fn include_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.include_dirs.push(dir.into());
        self
    }

    /// Set the clock port name.
    pub fn clock(mut self, clock: impl Into<String>) -> Self {
        self.clock = clock.into();
        self
    }

    /// Add one extra verilator argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Build a multithreaded model: adds Verilator's `--threads n` for `n >= 2` (nothing for
    /// 0 or 1, the single-threaded default). The model then runs its evaluation on `n` threads
    /// (the caller's and `n - 1` workers of its context). On the 16x16 array `--threads 2`
    /// gained 3% for twice the CPU, and lost with the other core busy: docs/simulation.md.
    pub fn threads(self, n: u32) -> Self {
        if n >= 2 {
            self.arg("--threads").arg(n.to_string())
        } else {
            self
        }
    }

    pub(crate) fn invalid(&self, reason: impl Into<String>) -> SimError {
        SimError::InvalidOptions {
            top: self.top.clone(),
            reason: reason.into(),
        }
    }

    /// Reject names Verilator would misparse before anything runs.
    pub(crate) fn validate(&self) -> Result<(), SimError> {
        let ident = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
                && !s.starts_with(|c: char| c.is_ascii_digit())
        };
        if !ident(&self.top) {
            return Err(self.invalid(format!(
                "top module name `{}` is not a plain identifier",
                self.top
            )));
        }
        if self.sources.is_empty() {
            return Err(self.invalid("no source files"));
        }
        for (name, _) in &self.parameters {
            if !ident(name) {
                return Err(
                    self.invalid(format!("parameter name `{name}` is not a plain identifier"))
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_format_parse() {
        assert_eq!("VCD".parse::<TraceFormat>(), Ok(TraceFormat::Vcd));
        assert_eq!("fst".parse::<TraceFormat>(), Ok(TraceFormat::Fst));
        assert!("lxt".parse::<TraceFormat>().is_err());
        assert_eq!(TraceFormat::NAMES, ["vcd", "fst"]);
    }

    #[test]
    fn trace_format_from_path() {
        let of = |p: &str| TraceFormat::from_path(Path::new(p));
        assert_eq!(of("out/wave.vcd"), Some(TraceFormat::Vcd));
        assert_eq!(of("wave.FST"), Some(TraceFormat::Fst));
        assert_eq!(of("wave.fst.gz"), None);
        assert_eq!(of("wave"), None);
        assert_eq!(of("vcd"), None);
    }

    #[test]
    fn trace_dir_is_absolute_and_follows_the_env() {
        // Other tests in this binary do not read TANDEM_TRACE_DIR.
        std::env::remove_var(TRACE_DIR_ENV);
        let default = trace_dir();
        assert!(default.is_absolute());
        assert_eq!(
            default,
            std::env::current_dir().unwrap().join("tandem-traces")
        );
        std::env::set_var(TRACE_DIR_ENV, "/tmp/waves");
        assert_eq!(trace_dir(), PathBuf::from("/tmp/waves"));
        std::env::remove_var(TRACE_DIR_ENV);
    }
}
