//! A cache miss, step by step, inside the build's private temp dir: verilate, generate the
//! wrapper, compile the model as unity chunks in parallel while the shared runtime objects are
//! built or reused, and link the shared library.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Instant;

use super::cache::{final_key, read_deps, temp_name, write_atomic, write_index, KeyHasher};
use super::interrupt::{self, TempPath};
use super::jobs::{tail, Finished, Job, JobSet};
use super::options::{BuildOptions, TraceFormat};
use super::toolchain::{Toolchain, CXX};
use crate::ports::{self, Direction, PortInfo, Storage};
use crate::wrapper;
use crate::SimError;

const RUNTIME_OPT: &str = "-O2";
pub(super) const MODEL_FAST_OPT: &str = "-O2";
/// Verilator compiles its "slow" (construction/initial/settle) code without optimisation;
/// -O1 is nearly as quick to compile and keeps start-up of big designs reasonable.
pub(super) const MODEL_SLOW_OPT: &str = "-O1";

/// File names of built libraries start with this.
const LIB_STEM: &str = "libV";

/// Everything a cache-miss build needs besides its temp dir.
pub(crate) struct BuildJob<'a> {
    pub tc: &'a Toolchain,
    pub opts: &'a BuildOptions,
    /// Canonical source paths.
    pub sources: &'a [PathBuf],
    /// Canonical include dirs.
    pub include_dirs: &'a [PathBuf],
    /// Cache root.
    pub root: &'a Path,
    /// First-stage key.
    pub k1: &'a str,
    /// `index/<k1>.deps`.
    pub index_file: &'a Path,
}

/// Build into `tmp`; returns the final cache key. `tmp` then holds everything the published
/// dir needs, including a human-readable `build.log`.
pub(crate) fn build_into(job: &BuildJob<'_>, tmp: &Path) -> Result<String, SimError> {
    let opts = job.opts;
    let mut log = String::new();
    let t0 = Instant::now();
    verilate(job, tmp, &mut log)?;
    log.push_str(&format!("verilator: {:.2?}\n", t0.elapsed()));
    let obj = tmp.join("obj");
    let class = format!("V{}", opts.top);

    // Dependencies give the final key; remember them for the next lookup.
    let deps = read_deps(
        &obj.join(format!("{class}__verFiles.dat")),
        tmp,
        job.sources,
    );
    let key = final_key(job.k1, &deps);
    write_index(job.index_file, &deps)?;

    let ports = ports::parse_header(&obj.join(format!("{class}.h")))?;
    let clock = find_clock(opts, &ports)?;
    let mk = parse_classes_mk(&obj.join(format!("{class}_classes.mk")))?;
    reject_unsupported(opts, &mk)?;
    write_printf_header(tmp)?;
    let wrapper_cpp = tmp.join("wrapper.cpp");
    fs::write(
        &wrapper_cpp,
        wrapper::generate(&opts.top, &ports, clock, opts.trace),
    )
    .map_err(|e| SimError::io("cannot write wrapper", &wrapper_cpp, e))?;

    let t1 = Instant::now();
    let units = unity_units(&mk, &obj, wrapper_cpp)?;
    let objects = compile(job, tmp, &obj, units, &mut log)?;
    log.push_str(&format!("compile: {:.2?}\n", t1.elapsed()));

    let t2 = Instant::now();
    link(job, tmp, &key, &objects, &mut log)?;
    log.push_str(&format!(
        "link: {:.2?}\ntotal: {:.2?}\n",
        t2.elapsed(),
        t0.elapsed()
    ));
    write_build_info(job, tmp, &key, &deps, &log)?;
    Ok(key)
}

/// Run verilator into `tmp/obj`.
fn verilate(job: &BuildJob<'_>, tmp: &Path, log: &mut String) -> Result<(), SimError> {
    let args = verilator_args(job.opts, job.sources, job.include_dirs);
    log.push_str(&format!("verilator {}\n", args.join(" ")));
    let mut cmd = Command::new("verilator");
    cmd.args(&args).current_dir(tmp);
    let Finished { status, output } = Job::spawn("verilator", cmd, tmp)?.finish()?;
    if status.success() {
        log.push_str(&output);
        return Ok(());
    }
    if interrupt::interrupted() {
        return Err(SimError::Interrupted);
    }
    Err(SimError::Verilate {
        top: job.opts.top.clone(),
        status: status.to_string(),
        output: tail(&output, 60),
    })
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

fn reject_unsupported(opts: &BuildOptions, mk: &ClassesMk) -> Result<(), SimError> {
    for (var, what) in [
        (
            "VM_TIMING",
            "designs needing --timing (delays, events) are not supported",
        ),
        ("VM_COVERAGE", "--coverage is not supported"),
        ("VM_SC", "SystemC output is not supported"),
    ] {
        if mk.var(var) == "1" {
            return Err(opts.invalid(what));
        }
    }
    Ok(())
}

/// One C++ file to compile: what it is (for errors), the file, its optimisation level.
type Unit = (String, PathBuf, &'static str);

/// Write the unity files that `#include` Verilator's output, and list what to compile.
fn unity_units(mk: &ClassesMk, obj: &Path, wrapper_cpp: PathBuf) -> Result<Vec<Unit>, SimError> {
    // Relative includes, so the published dir stays self-consistent after the rename.
    let include_line = |f: &Path| {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let up = if f.parent() == Some(obj) { "" } else { "../" };
        format!("#include \"{up}{name}\"\n")
    };
    let group_files = |group: &str| -> Vec<PathBuf> {
        mk.list(&format!("VM_CLASSES_{group}"))
            .chain(mk.list(&format!("VM_SUPPORT_{group}")))
            .map(|c| obj.join(format!("{c}.cpp")))
            .collect()
    };
    let write_unity = |name: &str, files: &[PathBuf]| -> Result<PathBuf, SimError> {
        let unity = obj.join(name);
        let body: String = files.iter().map(|f| include_line(f)).collect();
        fs::write(&unity, body).map_err(|e| SimError::io("cannot write unity file", &unity, e))?;
        Ok(unity)
    };
    if mk.var("VM_PARALLEL_BUILDS") != "1" {
        // Small output (Verilator did not split it): one unity file with everything, wrapper
        // included, so verilated.h is parsed once. Verilator's own __ALL.cpp does the same for
        // the model files.
        let mut files = group_files("FAST");
        files.extend(group_files("SLOW"));
        files.push(wrapper_cpp);
        let unity = write_unity("tandem_all.cpp", &files)?;
        return Ok(vec![("model and wrapper".into(), unity, MODEL_FAST_OPT)]);
    }
    // Split output (big design): size-balanced unity chunks per CPU, fast and slow code at
    // their own optimisation levels, the wrapper on its own.
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let mut units = Vec::new();
    for (group, opt) in [("FAST", MODEL_FAST_OPT), ("SLOW", MODEL_SLOW_OPT)] {
        let files = group_files(group);
        let group = group.to_lowercase();
        let chunks = chunks_by_size(&files, cpus.min(files.len()));
        for (i, chunk) in chunks.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
            let unity = write_unity(&format!("tandem_{group}_{i}.cpp"), chunk)?;
            units.push((format!("model {group} chunk {i}"), unity, opt));
        }
    }
    units.push(("wrapper".into(), wrapper_cpp, MODEL_FAST_OPT));
    Ok(units)
}

/// Compile the units in parallel, the runtime objects meanwhile; returns every object to link.
fn compile(
    job: &BuildJob<'_>,
    tmp: &Path,
    obj: &Path,
    units: Vec<Unit>,
    log: &mut String,
) -> Result<Vec<PathBuf>, SimError> {
    let trace_defs = trace_defines(job.opts.trace);
    let mut jobs = JobSet::default();
    let mut objects = Vec::new();
    for (what, src, opt) in units {
        let o = src.with_extension("o");
        let mut cmd = Command::new(CXX);
        cmd.args(common_cxx_flags(job.tc, tmp))
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
    let runtime = runtime_objects(job.tc, job.root, job.opts.trace);
    // Wait for every job before reporting a runtime failure: no compiler may outlive the build.
    jobs.wait_all(tmp)?;
    objects.extend(runtime?);
    Ok(objects)
}

/// The `VM_TRACE*` defines the model and wrapper are compiled with.
pub(super) fn trace_defines(trace: Option<TraceFormat>) -> [&'static str; 3] {
    match trace {
        None => ["-DVM_TRACE=0", "-DVM_TRACE_VCD=0", "-DVM_TRACE_FST=0"],
        Some(TraceFormat::Vcd) => ["-DVM_TRACE=1", "-DVM_TRACE_VCD=1", "-DVM_TRACE_FST=0"],
        Some(TraceFormat::Fst) => ["-DVM_TRACE=1", "-DVM_TRACE_VCD=0", "-DVM_TRACE_FST=1"],
    }
}

/// Link the objects into the build's shared library.
fn link(
    job: &BuildJob<'_>,
    tmp: &Path,
    key: &str,
    objects: &[PathBuf],
    log: &mut String,
) -> Result<(), SimError> {
    let map = tmp.join("exports.map");
    fs::write(&map, wrapper::VERSION_SCRIPT).map_err(|e| SimError::io("cannot write", &map, e))?;
    let library = tmp.join(library_name(&job.opts.top, key));
    let mut cmd = Command::new(CXX);
    cmd.args(["-shared", "-fPIC", "-o"])
        .arg(&library)
        .args(objects)
        .arg(format!("-Wl,--version-script={}", map.display()))
        .arg("-Wl,--no-undefined")
        .args(["-pthread", "-latomic"]);
    if job.opts.trace == Some(TraceFormat::Fst) {
        cmd.arg("-lz");
    }
    log.push_str(&format!("{cmd:?}\n"));
    Job::spawn("link", cmd, tmp)?.wait(tmp)
}

/// `build.log`: a human-readable record of what the dir is and how it was built.
fn write_build_info(
    job: &BuildJob<'_>,
    tmp: &Path,
    key: &str,
    deps: &[PathBuf],
    log: &str,
) -> Result<(), SimError> {
    let info = format!(
        "top: {}\nkey: {key}\nk1: {}\nverilator: {}\ncxx: {}\nwrapper version: {}\ndeps:\n{}\n\n{log}",
        job.opts.top,
        job.k1,
        job.tc.verilator_version,
        job.tc.cxx_version,
        wrapper::WRAPPER_VERSION,
        deps.iter().map(|d| format!("  {}\n", d.display())).collect::<String>(),
    );
    let path = tmp.join("build.log");
    fs::write(&path, info).map_err(|e| SimError::io("cannot write", &path, e))
}

/// Compiler flags shared by the runtime, the model and the wrapper.
/// `header_dir` holds our force-included `tandem_printf.h` (see wrapper.rs).
pub(super) fn common_cxx_flags(tc: &Toolchain, header_dir: &Path) -> Vec<String> {
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

/// The Verilator runtime objects for `trace`, compiled once per toolchain into
/// `<root>/runtime-<hash>/` and shared by every model.
pub(super) fn runtime_objects(
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
    tc.hash_into(&mut h);
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
        let temp = TempPath::reserve(temp_name(&dir, &format!("{name}.o")))?;
        let mut cmd = Command::new(CXX);
        cmd.args(common_cxx_flags(tc, &dir))
            .arg(RUNTIME_OPT)
            .args(["-DVM_TRACE=1", "-DVM_TRACE_VCD=1", "-DVM_TRACE_FST=1"])
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(temp.path());
        jobs.spawn(format!("Verilator runtime {name}.cpp"), cmd, &dir)?;
        pending.push((temp, obj));
    }
    // Objects are published by rename, so a reader never sees a half-written one; a failure
    // drops (and so removes) the temporaries left.
    jobs.wait_all(&dir)?;
    for (temp, obj) in pending {
        temp.rename_to(&obj, "cannot publish runtime object")?;
    }
    Ok(objects)
}

/// Write `tandem_printf.h` into `dir` (atomically: other processes may be compiling with it).
fn write_printf_header(dir: &Path) -> Result<(), SimError> {
    let path = dir.join(wrapper::PRINTF_HEADER_NAME);
    if fs::read_to_string(&path).is_ok_and(|t| t == wrapper::PRINTF_HEADER) {
        return Ok(());
    }
    write_atomic(&path, wrapper::PRINTF_HEADER.as_bytes())
}

pub(crate) fn library_name(top: &str, key: &str) -> String {
    // A distinct file name per build keeps dlopen from ever confusing two models.
    format!("{LIB_STEM}{top}-{}.so", &key[..12])
}

/// The index of the clock port among `ports`, if the design has one.
pub(crate) fn find_clock(
    opts: &BuildOptions,
    ports: &[PortInfo],
) -> Result<Option<usize>, SimError> {
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
}
