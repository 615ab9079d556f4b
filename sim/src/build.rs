//! Verilate, compile and cache a design as a loadable shared library.
//!
//! Pipeline for a cache miss (all inside a private temp dir under the cache root):
//! 1. `verilator --cc ...` into `obj/`.
//! 2. Parse `obj/V<top>.h` for ports, generate `wrapper.cpp`.
//! 3. Compile the generated model (as a few "unity" chunks, like Verilator's own `__ALL.cpp`)
//!    and the wrapper in parallel g++ processes, while the shared runtime objects are built or
//!    reused from `runtime-<hash>/`.
//! 4. Link everything into `libV<top>-<key>.so`, then atomically rename the temp dir to
//!    `<root>/<key>/`. A dir that exists is therefore always complete.
//!
//! The key is two-staged so that `` `include``d files are covered without knowing them up front:
//! `k1` hashes the options, the sources' contents and the tool versions; `index/<k1>.deps` lists
//! the other files Verilator read last time (from `V<top>__verFiles.dat`); the final key hashes
//! `k1` with the current contents of those files.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::model::VerilatedLib;
use crate::ports::{self, Direction, PortInfo, Storage};
use crate::wrapper;
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
        match s.trim().to_ascii_lowercase().as_str() {
            "vcd" => Ok(TraceFormat::Vcd),
            "fst" => Ok(TraceFormat::Fst),
            _ => Err(ParseTraceFormatError(s.to_string())),
        }
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

    /// File extension (and Display form): `vcd` or `fst`.
    pub fn extension(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "vcd",
            TraceFormat::Fst => "fst",
        }
    }

    fn verilator_flag(self) -> &'static str {
        match self {
            TraceFormat::Vcd => "--trace",
            TraceFormat::Fst => "--trace-fst",
        }
    }
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

    fn invalid(&self, reason: impl Into<String>) -> SimError {
        SimError::InvalidOptions {
            top: self.top.clone(),
            reason: reason.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Toolchain discovery

#[derive(Debug)]
struct Toolchain {
    verilator_version: String,
    verilator_root: PathBuf,
    cxx_version: String,
}

/// The C++ compiler. Fixed to g++: the flags below are GCC's.
const CXX: &str = "g++";

fn toolchain() -> Result<&'static Toolchain, SimError> {
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

// ---------------------------------------------------------------------------------------------
// Cache location

/// Environment variable overriding the cache directory.
pub const CACHE_ENV: &str = "TANDEM_SIM_CACHE";

/// Directory holding built models: `$TANDEM_SIM_CACHE` if set, else
/// `<cargo target dir>/tandem-verilator` (the target dir is `$CARGO_TARGET_DIR` if set, else the
/// workspace's `target/`), else `<temp dir>/tandem-verilator` when that is not writable.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let candidate = target_dir().join("tandem-verilator");
    if fs::create_dir_all(&candidate).is_ok() {
        candidate
    } else {
        std::env::temp_dir().join("tandem-verilator")
    }
}

/// The cargo target directory this crate's tests and tools write to (see [`cache_root`]).
pub fn target_dir() -> PathBuf {
    // sim/ is one level below the workspace root.
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace.join(dir)
            }
        }
        None => workspace.join("target"),
    }
}

/// A directory for waveforms written by tests and tools: `<target dir>/tandem-traces/`.
pub fn trace_dir() -> PathBuf {
    target_dir().join("tandem-traces")
}

// ---------------------------------------------------------------------------------------------
// Hashing

/// SHA-256 over length-prefixed fields, so that ("ab","c") and ("a","bc") differ.
struct KeyHasher(Sha256);

impl KeyHasher {
    fn new(domain: &str) -> Self {
        let mut h = KeyHasher(Sha256::new());
        h.field(domain.as_bytes());
        h
    }
    fn field(&mut self, bytes: &[u8]) {
        self.0.update((bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }
    fn str(&mut self, s: &str) {
        self.field(s.as_bytes());
    }
    fn hex(self) -> String {
        // 128 bits is plenty for a build cache and keeps paths short.
        self.0.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

fn hash_file(h: &mut KeyHasher, path: &Path) {
    h.str(&path.to_string_lossy());
    match fs::read(path) {
        Ok(bytes) => h.field(&bytes),
        Err(_) => h.str("<unreadable>"),
    }
}

/// Compiler flags shared by the runtime, the model and the wrapper.
/// `header_dir` holds our force-included `tandem_printf.h` (see wrapper.rs).
fn common_cxx_flags(tc: &Toolchain, header_dir: &Path) -> Vec<String> {
    let inc = tc.verilator_root.join("include");
    vec![
        "-include".into(),
        header_dir
            .join(wrapper::PRINTF_HEADER_NAME)
            .display()
            .to_string(),
        "-std=gnu++17".into(),
        "-fPIC".into(),
        // Verilator's own makefile flags for its output.
        "-faligned-new".into(),
        "-fcf-protection=none".into(),
        // Generated code trips many warnings; they are noise here.
        "-w".into(),
        format!("-I{}", inc.display()),
        format!("-I{}", inc.join("vltstd").display()),
        "-DVM_COVERAGE=0".into(),
        "-DVM_SC=0".into(),
        // We provide vl_fatal/vl_finish in the wrapper (see wrapper.rs).
        "-DVL_USER_FATAL".into(),
        "-DVL_USER_FINISH".into(),
    ]
}

const RUNTIME_OPT: &str = "-O2";
const MODEL_FAST_OPT: &str = "-O2";
/// Verilator compiles its "slow" (construction/initial/settle) code without optimisation;
/// -O1 is nearly as quick to compile and keeps start-up of big designs reasonable.
const MODEL_SLOW_OPT: &str = "-O1";

// ---------------------------------------------------------------------------------------------
// Runtime objects, shared by all models

fn runtime_objects(
    tc: &Toolchain,
    root: &Path,
    trace: Option<TraceFormat>,
) -> Result<Vec<PathBuf>, SimError> {
    // One process-wide lock: tests build many models in parallel threads and should compile the
    // runtime once, not once per thread. Other processes may race us; they publish identical
    // files by rename, so the worst case is duplicated work.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());

    let mut h = KeyHasher::new("tandem-runtime");
    h.str(&wrapper::WRAPPER_VERSION.to_string());
    h.str(&tc.verilator_version);
    h.str(&tc.verilator_root.to_string_lossy());
    h.str(&tc.cxx_version);
    // The flags name the dir itself; hash them with a placeholder dir.
    for f in common_cxx_flags(tc, Path::new("")) {
        h.str(&f);
    }
    h.str(wrapper::PRINTF_HEADER);
    h.str(RUNTIME_OPT);
    let dir = root.join(format!("runtime-{}", h.hex()));
    fs::create_dir_all(&dir).map_err(|e| SimError::io("cannot create runtime dir", &dir, e))?;
    write_printf_header(&dir)?;

    let mut names = vec!["verilated", "verilated_threads"];
    match trace {
        Some(TraceFormat::Vcd) => names.push("verilated_vcd_c"),
        Some(TraceFormat::Fst) => names.push("verilated_fst_c"),
        None => {}
    }
    let mut objects = Vec::new();
    let mut jobs = JobSet::default();
    let mut pending = Vec::new(); // (temp file, final file)
    for name in names {
        let obj = dir.join(format!("{name}.o"));
        objects.push(obj.clone());
        if obj.is_file() {
            continue;
        }
        let src = tc
            .verilator_root
            .join("include")
            .join(format!("{name}.cpp"));
        let tmp = dir.join(format!("{name}.o.{}", unique_suffix()));
        let mut cmd = Command::new(CXX);
        cmd.args(common_cxx_flags(tc, &dir))
            .arg(RUNTIME_OPT)
            .args(["-DVM_TRACE=1", "-DVM_TRACE_VCD=1", "-DVM_TRACE_FST=1"])
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&tmp);
        jobs.spawn(format!("Verilator runtime {name}.cpp"), cmd, &dir)?;
        pending.push((tmp, obj));
    }
    // Objects are published by rename, so a reader never sees a half-written one.
    let published = jobs.wait_all(&dir).and_then(|()| {
        pending.iter().try_for_each(|(tmp, obj)| {
            fs::rename(tmp, obj).map_err(|e| SimError::io("cannot publish runtime object", obj, e))
        })
    });
    if published.is_err() {
        for (tmp, _) in &pending {
            let _ = fs::remove_file(tmp);
        }
    }
    published.map(|()| objects)
}

// ---------------------------------------------------------------------------------------------
// Processes

struct Job {
    child: Child,
    command: String,
    log: PathBuf,
}

fn spawn(mut cmd: Command, log_dir: &Path) -> Result<Job, SimError> {
    let command = format!("{cmd:?}");
    let log = log_dir.join(format!("cmd-{}.log", unique_suffix()));
    let file = fs::File::create(&log).map_err(|e| SimError::io("cannot create log", &log, e))?;
    let err_file = file
        .try_clone()
        .map_err(|e| SimError::io("cannot create log", &log, e))?;
    // Output goes to a file, not a pipe: a chatty compiler cannot deadlock on a full pipe while
    // we wait for a sibling job.
    let child = cmd
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .spawn()
        .map_err(|e| SimError::ToolNotFound {
            tool: cmd.get_program().to_string_lossy().into_owned(),
            reason: e.to_string(),
        })?;
    Ok(Job {
        child,
        command,
        log,
    })
}

impl Job {
    fn wait(mut self, what: &str, keep_dir: &Path) -> Result<(), SimError> {
        let status = self
            .child
            .wait()
            .map_err(|e| SimError::io(format!("cannot wait for {what}"), &self.log, e))?;
        let output = fs::read_to_string(&self.log).unwrap_or_default();
        let _ = fs::remove_file(&self.log);
        if status.success() {
            return Ok(());
        }
        Err(SimError::Compile {
            what: what.to_string(),
            status: status.to_string(),
            command: self.command,
            output: tail(&output, 60),
            dir: keep_dir.to_owned(),
        })
    }
}

/// Processes running in parallel; waited for as a group so that none outlives a failed build.
#[derive(Default)]
struct JobSet {
    jobs: Vec<(String, Job)>,
}

impl JobSet {
    fn spawn(&mut self, what: String, cmd: Command, log_dir: &Path) -> Result<(), SimError> {
        match spawn(cmd, log_dir) {
            Ok(job) => {
                self.jobs.push((what, job));
                Ok(())
            }
            Err(e) => {
                let _ = std::mem::take(self).wait_all(log_dir);
                Err(e)
            }
        }
    }

    /// Wait for every job; the first failure is returned.
    fn wait_all(self, keep_dir: &Path) -> Result<(), SimError> {
        let mut first_error = None;
        for (what, job) in self.jobs {
            if let Err(e) = job.wait(&what, keep_dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// The last `lines` lines of a tool's output (errors come last; the head is usually noise).
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    let mut out = String::new();
    if start > 0 {
        out.push_str(&format!("[... {start} earlier lines ...]\n"));
    }
    out.push_str(&all[start..].join("\n"));
    out
}

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

// ---------------------------------------------------------------------------------------------
// Build

/// Files and facts of one published build, as needed to load it.
pub(crate) struct BuiltModel {
    pub dir: PathBuf,
    pub library: PathBuf,
    pub ports: Vec<PortInfo>,
    pub clock: Option<usize>,
    pub key: String,
    pub cached: bool,
}

const LIB_STEM: &str = "libV";

/// Verilate and compile `opts` (or reuse a cached build) and load the result.
///
/// Thread- and process-safe: concurrent builds of the same design each build privately and
/// the first to finish publishes; the others use its directory.
pub fn build(opts: &BuildOptions) -> Result<VerilatedLib, SimError> {
    let built = build_files(opts)?;
    VerilatedLib::load(opts, built)
}

fn build_files(opts: &BuildOptions) -> Result<BuiltModel, SimError> {
    let tc = toolchain()?;
    validate(opts)?;
    let root = cache_root();
    fs::create_dir_all(&root).map_err(|e| SimError::io("cannot create cache dir", &root, e))?;

    let sources: Vec<PathBuf> = opts
        .sources
        .iter()
        .map(|s| fs::canonicalize(s).map_err(|e| SimError::io("cannot find source", s, e)))
        .collect::<Result<_, _>>()?;
    let include_dirs: Vec<PathBuf> = opts
        .include_dirs
        .iter()
        .map(|d| fs::canonicalize(d).map_err(|e| SimError::io("cannot find include dir", d, e)))
        .collect::<Result<_, _>>()?;

    let k1 = first_key(tc, opts, &sources, &include_dirs)?;
    let index_file = root.join("index").join(format!("{k1}.deps"));

    // Fast path: known dependency list and a published dir for their current contents.
    if let Ok(deps) = fs::read_to_string(&index_file) {
        let deps: Vec<PathBuf> = deps
            .lines()
            .filter(|l| !l.is_empty())
            .map(PathBuf::from)
            .collect();
        let key = final_key(&k1, &deps);
        let dir = root.join(&key);
        if dir.is_dir() {
            return load_published(opts, &dir, &key, true);
        }
    }

    remove_stale_temp_dirs(&root);
    let tmp = root.join(format!(".tmp-{}-{}", &k1[..12], unique_suffix()));
    fs::create_dir_all(&tmp).map_err(|e| SimError::io("cannot create build dir", &tmp, e))?;
    let job = BuildJob {
        tc,
        opts,
        sources: &sources,
        include_dirs: &include_dirs,
        root: &root,
        k1: &k1,
        index_file: &index_file,
    };
    let result = build_into(&job, &tmp);
    let key = match result {
        Ok(key) => key,
        Err(err) => {
            // Keep C++ failures for inspection (the error names the dir); verilator errors are
            // fully described by their message.
            if let SimError::Compile { .. } = err {
                let failed = root.join(format!("failed-{}", &k1[..12]));
                let _ = fs::remove_dir_all(&failed);
                if fs::rename(&tmp, &failed).is_ok() {
                    return Err(redirect_compile_dir(err, &tmp, &failed));
                }
            }
            let _ = fs::remove_dir_all(&tmp);
            return Err(err);
        }
    };

    let dir = root.join(&key);
    // Publishing: rename is atomic. If another thread/process won the race its dir is complete
    // and equivalent, so use it and drop ours.
    if let Err(e) = fs::rename(&tmp, &dir) {
        if dir.is_dir() {
            let _ = fs::remove_dir_all(&tmp);
        } else {
            let _ = fs::remove_dir_all(&tmp);
            return Err(SimError::io("cannot publish build dir", &dir, e));
        }
    }
    load_published(opts, &dir, &key, false)
}

fn redirect_compile_dir(err: SimError, from: &Path, to: &Path) -> SimError {
    match err {
        SimError::Compile {
            what,
            status,
            command,
            output,
            ..
        } => SimError::Compile {
            what,
            status,
            command: command.replace(&*from.to_string_lossy(), &to.to_string_lossy()),
            output,
            dir: to.to_owned(),
        },
        other => other,
    }
}

fn validate(opts: &BuildOptions) -> Result<(), SimError> {
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            && !s.starts_with(|c: char| c.is_ascii_digit())
    };
    if !ident(&opts.top) {
        return Err(opts.invalid(format!(
            "top module name `{}` is not a plain identifier",
            opts.top
        )));
    }
    if opts.sources.is_empty() {
        return Err(opts.invalid("no source files"));
    }
    for (name, _) in &opts.parameters {
        if !ident(name) {
            return Err(opts.invalid(format!("parameter name `{name}` is not a plain identifier")));
        }
    }
    Ok(())
}

fn first_key(
    tc: &Toolchain,
    opts: &BuildOptions,
    sources: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Result<String, SimError> {
    let mut h = KeyHasher::new("tandem-model");
    h.str(&wrapper::WRAPPER_VERSION.to_string());
    h.str(&tc.verilator_version);
    h.str(&tc.verilator_root.to_string_lossy());
    h.str(&tc.cxx_version);
    h.str(&opts.top);
    h.str(&opts.clock);
    h.str(&format!("{:?}", opts.trace));
    for src in sources {
        h.str(&src.to_string_lossy());
        let bytes = fs::read(src).map_err(|e| SimError::io("cannot read source", src, e))?;
        h.field(&bytes);
    }
    h.str("include-dirs");
    for d in include_dirs {
        h.str(&d.to_string_lossy());
    }
    h.str("parameters");
    for (k, v) in &opts.parameters {
        h.str(k);
        h.str(v);
    }
    h.str("extra-args");
    for a in &opts.extra_args {
        h.str(a);
    }
    Ok(h.hex())
}

fn final_key(k1: &str, deps: &[PathBuf]) -> String {
    let mut h = KeyHasher::new("tandem-model-deps");
    h.str(k1);
    for d in deps {
        hash_file(&mut h, d);
    }
    h.hex()
}

/// Clean up temp dirs of builds that crashed (older than a day, so never a live build).
fn remove_stale_temp_dirs(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > Duration::from_secs(24 * 3600));
        if old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn verilator_args(
    opts: &BuildOptions,
    sources: &[PathBuf],
    include_dirs: &[PathBuf],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--cc".into(),
        // We compile the output ourselves, but keep the flag so the generated makefile is
        // usable by hand for debugging.
        "-CFLAGS".into(),
        "-fPIC".into(),
        "-O3".into(),
        "--x-assign".into(),
        "fast".into(),
        "--x-initial".into(),
        "fast".into(),
        "--top-module".into(),
        opts.top.clone(),
        "-Mdir".into(),
        "obj".into(),
    ];
    if let Some(t) = opts.trace {
        args.push(t.verilator_flag().into());
    }
    for (k, v) in &opts.parameters {
        args.push(format!("-G{k}={v}"));
    }
    for d in include_dirs {
        args.push(format!("-I{}", d.display()));
    }
    args.extend(opts.extra_args.iter().cloned());
    args.extend(sources.iter().map(|s| s.to_string_lossy().into_owned()));
    args
}

/// Build into `tmp`; returns the final cache key.
/// Everything a cache-miss build needs besides its temp dir.
struct BuildJob<'a> {
    tc: &'a Toolchain,
    opts: &'a BuildOptions,
    /// Canonical source paths.
    sources: &'a [PathBuf],
    /// Canonical include dirs.
    include_dirs: &'a [PathBuf],
    /// Cache root.
    root: &'a Path,
    /// First-stage key.
    k1: &'a str,
    /// `index/<k1>.deps`.
    index_file: &'a Path,
}

fn build_into(job: &BuildJob<'_>, tmp: &Path) -> Result<String, SimError> {
    let BuildJob {
        tc,
        opts,
        sources,
        include_dirs,
        root,
        k1,
        index_file,
    } = *job;
    let mut log = String::new();
    let t0 = Instant::now();

    // 1. verilator
    let args = verilator_args(opts, sources, include_dirs);
    log.push_str(&format!("verilator {}\n", args.join(" ")));
    let out: Output = Command::new("verilator")
        .args(&args)
        .current_dir(tmp)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SimError::ToolNotFound {
            tool: "verilator".into(),
            reason: e.to_string(),
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(SimError::Verilate {
            top: opts.top.clone(),
            status: out.status.to_string(),
            output: tail(&text, 60),
        });
    }
    log.push_str(&text);
    log.push_str(&format!("verilator: {:.2?}\n", t0.elapsed()));
    let obj = tmp.join("obj");
    let class = format!("V{}", opts.top);

    // 2. dependencies -> final key; remember them for the next lookup
    let deps = read_deps(&obj.join(format!("{class}__verFiles.dat")), tmp, sources);
    let key = final_key(k1, &deps);
    write_index(index_file, &deps)?;

    // 3. ports and wrapper
    let ports = ports::parse_header(&obj.join(format!("{class}.h")))?;
    let clock = find_clock(opts, &ports)?;
    let mk = parse_classes_mk(&obj.join(format!("{class}_classes.mk")))?;
    if mk.var("VM_TIMING") == "1" {
        return Err(opts.invalid("designs needing --timing (delays, events) are not supported"));
    }
    if mk.var("VM_COVERAGE") == "1" {
        return Err(opts.invalid("--coverage is not supported"));
    }
    if mk.var("VM_SC") == "1" {
        return Err(opts.invalid("SystemC output is not supported"));
    }
    write_printf_header(tmp)?;
    let wrapper_cpp = tmp.join("wrapper.cpp");
    fs::write(
        &wrapper_cpp,
        wrapper::generate(&opts.top, &ports, clock, opts.trace),
    )
    .map_err(|e| SimError::io("cannot write wrapper", &wrapper_cpp, e))?;

    // 4. compile model chunks + wrapper in parallel, runtime meanwhile
    let t1 = Instant::now();
    let jobs_max = std::thread::available_parallelism().map_or(2, |n| n.get());
    let parallel = mk.var("VM_PARALLEL_BUILDS") == "1";
    let trace_defs = match opts.trace {
        None => ["-DVM_TRACE=0", "-DVM_TRACE_VCD=0", "-DVM_TRACE_FST=0"],
        Some(TraceFormat::Vcd) => ["-DVM_TRACE=1", "-DVM_TRACE_VCD=1", "-DVM_TRACE_FST=0"],
        Some(TraceFormat::Fst) => ["-DVM_TRACE=1", "-DVM_TRACE_VCD=0", "-DVM_TRACE_FST=1"],
    };
    // Relative includes, so the published dir stays self-consistent after the rename.
    let include_line = |f: &Path| {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let up = if f.parent() == Some(obj.as_path()) {
            ""
        } else {
            "../"
        };
        format!("#include \"{up}{name}\"\n")
    };
    let group_files = |group: &str| -> Vec<PathBuf> {
        mk.list(&format!("VM_CLASSES_{group}"))
            .chain(mk.list(&format!("VM_SUPPORT_{group}")))
            .map(|c| obj.join(format!("{c}.cpp")))
            .collect()
    };
    let mut units: Vec<(String, PathBuf, &str)> = Vec::new(); // (what, source, opt)
    if !parallel {
        // Small output (Verilator did not split it): one unity file with everything,
        // wrapper included, so verilated.h is parsed once. Verilator's own __ALL.cpp does the
        // same for the model files.
        let unity = obj.join("tandem_all.cpp");
        let body: String = group_files("FAST")
            .iter()
            .chain(&group_files("SLOW"))
            .chain(std::iter::once(&wrapper_cpp))
            .map(|f| include_line(f))
            .collect();
        fs::write(&unity, body).map_err(|e| SimError::io("cannot write unity file", &unity, e))?;
        units.push(("model and wrapper".into(), unity, MODEL_FAST_OPT));
    } else {
        // Split output (big design): size-balanced unity chunks per CPU, fast and slow code
        // at their own optimisation levels, the wrapper on its own.
        for (group, opt) in [("FAST", MODEL_FAST_OPT), ("SLOW", MODEL_SLOW_OPT)] {
            let files = group_files(group);
            let n = jobs_max.min(files.len());
            for (i, chunk) in chunks_by_size(&files, n).into_iter().enumerate() {
                if chunk.is_empty() {
                    continue;
                }
                let unity = obj.join(format!("tandem_{}_{i}.cpp", group.to_lowercase()));
                let body: String = chunk.iter().map(|f| include_line(f)).collect();
                fs::write(&unity, body)
                    .map_err(|e| SimError::io("cannot write unity file", &unity, e))?;
                units.push((
                    format!("model {} chunk {i}", group.to_lowercase()),
                    unity,
                    opt,
                ));
            }
        }
        units.push(("wrapper".into(), wrapper_cpp, MODEL_FAST_OPT));
    }

    let mut jobs = JobSet::default();
    let mut objects = Vec::new();
    for (what, src, opt) in units {
        let o = src.with_extension("o");
        let mut cmd = Command::new(CXX);
        cmd.args(common_cxx_flags(tc, tmp))
            .args(trace_defs)
            .arg(opt)
            .arg(format!("-I{}", obj.display()))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&o);
        log.push_str(&format!("{cmd:?}\n"));
        jobs.spawn(what, cmd, tmp)?;
        objects.push(o);
    }
    let runtime = runtime_objects(tc, root, opts.trace);
    // Wait for every job before reporting a failure: no compiler may outlive the build.
    jobs.wait_all(tmp)?;
    let runtime = runtime?;
    log.push_str(&format!("compile: {:.2?}\n", t1.elapsed()));

    // 5. link
    let t2 = Instant::now();
    let map = tmp.join("exports.map");
    fs::write(&map, wrapper::VERSION_SCRIPT).map_err(|e| SimError::io("cannot write", &map, e))?;
    let library = tmp.join(library_name(&opts.top, &key));
    let mut cmd = Command::new(CXX);
    cmd.args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .args(&objects)
        .args(&runtime)
        .arg(format!("-Wl,--version-script={}", map.display()))
        .arg("-Wl,--no-undefined")
        .args(["-pthread", "-latomic"]);
    if opts.trace == Some(TraceFormat::Fst) {
        cmd.arg("-lz");
    }
    log.push_str(&format!("{cmd:?}\n"));
    spawn(cmd, tmp)?.wait("link", tmp)?;
    log.push_str(&format!(
        "link: {:.2?}\ntotal: {:.2?}\n",
        t2.elapsed(),
        t0.elapsed()
    ));

    // Human-readable record of what this dir is.
    let info = format!(
        "top: {}\nkey: {key}\nk1: {k1}\nverilator: {}\ncxx: {}\nwrapper version: {}\ndeps:\n{}\n\n{log}",
        opts.top,
        tc.verilator_version,
        tc.cxx_version,
        wrapper::WRAPPER_VERSION,
        deps.iter().map(|d| format!("  {}\n", d.display())).collect::<String>(),
    );
    let info_path = tmp.join("build.log");
    fs::write(&info_path, info).map_err(|e| SimError::io("cannot write", &info_path, e))?;
    Ok(key)
}

/// Write `tandem_printf.h` into `dir` (atomically: other processes may be compiling with it).
fn write_printf_header(dir: &Path) -> Result<(), SimError> {
    let path = dir.join(wrapper::PRINTF_HEADER_NAME);
    if fs::read_to_string(&path).is_ok_and(|t| t == wrapper::PRINTF_HEADER) {
        return Ok(());
    }
    let tmp = dir.join(format!(".{}.tmp", unique_suffix()));
    fs::write(&tmp, wrapper::PRINTF_HEADER).map_err(|e| SimError::io("cannot write", &tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| SimError::io("cannot write", &path, e))
}

fn library_name(top: &str, key: &str) -> String {
    // A distinct file name per build keeps dlopen from ever confusing two models.
    format!("{LIB_STEM}{top}-{}.so", &key[..12])
}

fn find_clock(opts: &BuildOptions, ports: &[PortInfo]) -> Result<Option<usize>, SimError> {
    let Some(i) = ports.iter().position(|p| p.name == opts.clock) else {
        return Ok(None);
    };
    let p = &ports[i];
    if p.direction != Direction::Input || p.width != 1 || p.storage != Storage::U8 {
        return Err(opts.invalid(format!(
            "clock port `{}` must be a 1-bit input, but it is a {}-bit {}",
            p.name, p.width, p.direction
        )));
    }
    Ok(Some(i))
}

fn load_published(
    opts: &BuildOptions,
    dir: &Path,
    key: &str,
    cached: bool,
) -> Result<BuiltModel, SimError> {
    let header = dir.join("obj").join(format!("V{}.h", opts.top));
    let ports = ports::parse_header(&header)?;
    let clock = find_clock(opts, &ports)?;
    Ok(BuiltModel {
        dir: dir.to_owned(),
        library: dir.join(library_name(&opts.top, key)),
        ports,
        clock,
        key: key.to_string(),
        cached,
    })
}

/// Files verilator read (from `V<top>__verFiles.dat`), except the sources (already in k1) and
/// verilator itself (its version is in k1).
fn read_deps(ver_files: &Path, cwd: &Path, sources: &[PathBuf]) -> Vec<PathBuf> {
    let Ok(text) = fs::read_to_string(ver_files) else {
        return Vec::new();
    };
    let sources: HashSet<&PathBuf> = sources.iter().collect();
    let mut deps: Vec<PathBuf> = text
        .lines()
        .filter(|l| l.starts_with("S "))
        .filter_map(|l| {
            let start = l.find('"')?;
            let end = l.rfind('"')?;
            (end > start).then(|| PathBuf::from(&l[start + 1..end]))
        })
        .map(|p| if p.is_absolute() { p } else { cwd.join(p) })
        .map(|p| fs::canonicalize(&p).unwrap_or(p))
        .filter(|p| {
            !sources.contains(p)
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("verilator_bin"))
        })
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

fn write_index(index_file: &Path, deps: &[PathBuf]) -> Result<(), SimError> {
    let dir = index_file.parent().expect("index file has a parent");
    fs::create_dir_all(dir).map_err(|e| SimError::io("cannot create index dir", dir, e))?;
    let tmp = dir.join(format!(".{}.tmp", unique_suffix()));
    let body: String = deps.iter().map(|d| format!("{}\n", d.display())).collect();
    fs::write(&tmp, body).map_err(|e| SimError::io("cannot write index", &tmp, e))?;
    fs::rename(&tmp, index_file).map_err(|e| SimError::io("cannot write index", index_file, e))
}

/// Greedy size-balanced split of `files` into `n` chunks.
fn chunks_by_size(files: &[PathBuf], n: usize) -> Vec<Vec<PathBuf>> {
    let n = n.max(1);
    let mut sized: Vec<(u64, &PathBuf)> = files
        .iter()
        .map(|f| (fs::metadata(f).map_or(0, |m| m.len()), f))
        .collect();
    sized.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut chunks: Vec<(u64, Vec<PathBuf>)> = vec![(0, Vec::new()); n];
    for (size, f) in sized {
        let lightest = chunks
            .iter_mut()
            .min_by_key(|c| c.0)
            .expect("at least one chunk");
        lightest.0 += size;
        lightest.1.push(f.clone());
    }
    chunks.into_iter().map(|c| c.1).collect()
}

/// Variables of `V<top>_classes.mk` (`NAME = value` and `NAME += \` lists).
struct ClassesMk {
    vars: Vec<(String, Vec<String>)>,
}

impl ClassesMk {
    fn var(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map_or("", String::as_str)
    }
    fn list<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a String> + 'a {
        self.vars
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(|(_, v)| v.iter())
    }
}

fn parse_classes_mk(path: &Path) -> Result<ClassesMk, SimError> {
    let text = fs::read_to_string(path).map_err(|e| SimError::io("cannot read", path, e))?;
    Ok(parse_classes_mk_text(&text))
}

fn parse_classes_mk_text(text: &str) -> ClassesMk {
    let mut vars: Vec<(String, Vec<String>)> = Vec::new();
    let mut continuing = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        if continuing {
            let item = trimmed.trim_end_matches('\\').trim();
            if !item.is_empty() {
                vars.last_mut()
                    .expect("continuation follows a var")
                    .1
                    .push(item.to_string());
            }
            continuing = trimmed.ends_with('\\');
            continue;
        }
        let (name, value) = if let Some((n, v)) = trimmed.split_once("+=") {
            (n, v)
        } else if let Some((n, v)) = trimmed.split_once('=') {
            (n, v)
        } else {
            continue;
        };
        let value = value.trim();
        continuing = value.ends_with('\\');
        let items = value
            .trim_end_matches('\\')
            .split_whitespace()
            .map(str::to_string)
            .collect();
        vars.push((name.trim().to_string(), items));
    }
    ClassesMk { vars }
}

/// Remove every built model and runtime object under the cache root (e.g. after upgrading
/// Verilator). Models currently loaded stay usable; their files are unlinked only.
pub fn clear_cache() -> io::Result<()> {
    let root = cache_root();
    match fs::remove_dir_all(&root) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_mk_lists() {
        let mk = parse_classes_mk_text(
            "# c\nVM_TIMING = 0\nVM_PARALLEL_BUILDS = 1\nVM_CLASSES_FAST += \\\n\tVa \\\n\tVa__1 \\\n\n\
             VM_CLASSES_SLOW += \\\n\tVa__Slow \\\n\nVM_SUPPORT_FAST += \\\n\n",
        );
        assert_eq!(mk.var("VM_TIMING"), "0");
        assert_eq!(mk.var("VM_PARALLEL_BUILDS"), "1");
        assert_eq!(
            mk.list("VM_CLASSES_FAST").collect::<Vec<_>>(),
            ["Va", "Va__1"]
        );
        assert_eq!(mk.list("VM_CLASSES_SLOW").collect::<Vec<_>>(), ["Va__Slow"]);
        assert_eq!(mk.list("VM_SUPPORT_FAST").count(), 0);
    }

    #[test]
    fn trace_format_parse() {
        assert_eq!("VCD".parse::<TraceFormat>(), Ok(TraceFormat::Vcd));
        assert_eq!("fst".parse::<TraceFormat>(), Ok(TraceFormat::Fst));
        assert!("lxt".parse::<TraceFormat>().is_err());
    }

    #[test]
    fn key_fields_are_length_prefixed() {
        let mut a = KeyHasher::new("t");
        a.str("ab");
        a.str("c");
        let mut b = KeyHasher::new("t");
        b.str("a");
        b.str("bc");
        assert_ne!(a.hex(), b.hex());
    }
}
