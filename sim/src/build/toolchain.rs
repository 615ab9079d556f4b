//! Probing the tools: `verilator` (version, `VERILATOR_ROOT`) and the C++ compiler.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::cache::KeyHasher;
use crate::wrapper;
use crate::SimError;

/// The C++ compiler. Fixed to g++: the flags in compile.rs are GCC's.
pub(crate) const CXX: &str = "g++";

/// The tools found on PATH, probed once per process.
#[derive(Debug)]
pub(crate) struct Toolchain {
    pub verilator_version: String,
    pub verilator_root: PathBuf,
    pub cxx_version: String,
}

impl Toolchain {
    /// Feed everything that changes generated code or objects into a cache key: the wrapper
    /// version and both tools' identities.
    pub fn hash_into(&self, h: &mut KeyHasher) {
        h.str(&wrapper::WRAPPER_VERSION.to_string());
        h.str(&self.verilator_version);
        h.str(&self.verilator_root.to_string_lossy());
        h.str(&self.cxx_version);
    }
}

pub(crate) fn toolchain() -> Result<&'static Toolchain, SimError> {
    // Probed once per process: spawning `verilator` costs ~20 ms, and builds are frequent.
    static TOOLCHAIN: OnceLock<Result<Toolchain, (String, String)>> = OnceLock::new();
    TOOLCHAIN
        .get_or_init(|| {
            let verilator_version = first_line_of("verilator", &["--version"])?;
            let root = first_line_of("verilator", &["--getenv", "VERILATOR_ROOT"])?;
            let cxx_version = first_line_of(CXX, &["--version"])?;
            Ok(Toolchain {
                verilator_version,
                verilator_root: PathBuf::from(root),
                cxx_version,
            })
        })
        .as_ref()
        .map_err(|(tool, reason)| SimError::ToolNotFound {
            tool: tool.clone(),
            reason: reason.clone(),
        })
}

fn first_line_of(tool: &str, args: &[&str]) -> Result<String, (String, String)> {
    let out = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| (tool.to_string(), e.to_string()))?;
    if !out.status.success() {
        return Err((
            tool.to_string(),
            format!("`{tool} {}` exited with {}", args.join(" "), out.status),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string())
}

/// Whether `verilator` (and `g++`) can be run. Tests use this to skip when it is missing.
pub fn verilator_available() -> bool {
    toolchain().is_ok()
}

/// Version line of the `verilator` on PATH, e.g. `Verilator 5.006 2023-01-22 rev (...)`.
pub fn verilator_version() -> Result<String, SimError> {
    Ok(toolchain()?.verilator_version.clone())
}
