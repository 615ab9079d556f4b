//! The plain C++ Verilator testbench of [`crate::replay`]: `sim/testbench/replay_main.cpp`
//! (embedded here) plus a header generated from the model's ports, linked against a built
//! model, so that the same verilated design can be driven without the bridge.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::compile::{
    common_cxx_flags, runtime_objects, trace_defines, MODEL_FAST_OPT, MODEL_SLOW_OPT,
};
use super::jobs::{Job, JobSet};
use super::toolchain::{toolchain, CXX};
use crate::ports::{PortInfo, Storage};
use crate::replay::{layout, split_ports};
use crate::{SimError, TraceFormat, VerilatedLib};

/// The testbench's `main`: replays a recording, checks it, times it.
const MAIN_SOURCE: &str = include_str!("../../testbench/replay_main.cpp");
/// Name of the generated header `MAIN_SOURCE` includes.
const PORTS_HEADER: &str = "tandem_replay_ports.h";
/// Name of the executable in the testbench's directory.
const EXE_NAME: &str = "replay";

/// Which model code the plain testbench links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PlainObjects {
    /// The very object files the bridge's shared library was linked from (the same machine
    /// code: `-fPIC`, `-O2` fast path, `-O1` construction code), so the replay runs exactly
    /// the code the bridge runs.
    #[default]
    Bridge,
    /// The model's unity files compiled again as ordinary executable code (no `-fPIC`: the
    /// compiler's default, PIE on Debian), same optimisation levels and defines; shows what
    /// the shared library's position-independent code costs.
    Rebuilt,
}

impl PlainObjects {
    /// `"bridge"` or `"rebuilt"`.
    pub fn name(self) -> &'static str {
        match self {
            PlainObjects::Bridge => "bridge",
            PlainObjects::Rebuilt => "rebuilt",
        }
    }
}

/// A built plain C++ testbench (`replay RECORDING [--repeat N] [--unchecked]`) for one model;
/// run it with [`PlainTestbench::run`].
#[derive(Debug, Clone)]
pub struct PlainTestbench {
    pub(crate) exe: PathBuf,
    pub(crate) top: String,
}

impl PlainTestbench {
    /// Build the testbench for `lib` in `out_dir` (created; reused when nothing changed):
    /// generate `tandem_replay_ports.h` from the model's ports, compile `replay_main.cpp` with
    /// the flags the bridge compiles its wrapper with, and link it with the model's objects
    /// (`objects`) and the shared Verilator runtime objects.
    pub fn build(
        lib: &VerilatedLib,
        out_dir: &Path,
        objects: PlainObjects,
    ) -> Result<PlainTestbench, SimError> {
        let tc = toolchain()?;
        fs::create_dir_all(out_dir)
            .map_err(|e| SimError::io("cannot create testbench dir", out_dir, e))?;
        let dir = lib.build_dir();
        let obj = dir.join("obj");
        let root = dir.parent().unwrap_or(dir);
        let trace = lib.trace_format();
        let header = ports_header(lib.top(), lib.ports(), lib.clock_index());
        let exe = out_dir.join(EXE_NAME);
        let testbench = PlainTestbench {
            exe: exe.clone(),
            top: lib.top().to_string(),
        };

        let pic = objects == PlainObjects::Bridge;
        let mut flags = common_cxx_flags(tc, dir);
        if !pic {
            flags.retain(|f| f != "-fPIC");
        }
        flags.extend(trace_defines(trace).map(String::from));
        flags.push(format!("-I{}", obj.display()));
        flags.push(format!("-I{}", out_dir.display()));

        let stamp = format!(
            "library: {}\nobjects: {}\nflags: {flags:?}\n{header}\n{MAIN_SOURCE}",
            lib.library_path().display(),
            objects.name()
        );
        let stamp_path = out_dir.join("stamp.txt");
        if exe.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(testbench);
        }
        let _ = fs::remove_file(&stamp_path);
        let write = |name: &str, text: &str| {
            let path = out_dir.join(name);
            fs::write(&path, text).map_err(|e| SimError::io("cannot write", &path, e))
        };
        write(PORTS_HEADER, &header)?;
        write("replay_main.cpp", MAIN_SOURCE)?;

        // The model: the bridge's objects, or its unity files compiled again.
        let mut jobs = JobSet::default();
        let mut model_objects = Vec::new();
        let compile = |jobs: &mut JobSet, what: String, src: &Path, opt: &str, o: &Path| {
            let mut cmd = Command::new(CXX);
            cmd.args(&flags)
                .arg(opt)
                .arg("-c")
                .arg(src)
                .arg("-o")
                .arg(o);
            jobs.spawn(what, cmd, out_dir)
        };
        let main_o = out_dir.join("replay_main.o");
        compile(
            &mut jobs,
            "replay testbench main".into(),
            &out_dir.join("replay_main.cpp"),
            MODEL_FAST_OPT,
            &main_o,
        )?;
        let unity = unity_files(&obj)?;
        let wrapper_apart = !unity.iter().any(|f| f.ends_with("tandem_all.cpp"));
        match objects {
            PlainObjects::Bridge => {
                for src in &unity {
                    model_objects.push(src.with_extension("o"));
                }
                if wrapper_apart {
                    model_objects.push(dir.join("wrapper.o"));
                }
                if let Some(missing) = model_objects.iter().find(|o| !o.is_file()) {
                    return Err(SimError::Runtime {
                        top: lib.top().to_string(),
                        reason: format!(
                            "the build in {} has no object {} (built by an older version?); clear the cache or use PlainObjects::Rebuilt",
                            dir.display(),
                            missing.display()
                        ),
                    });
                }
            }
            PlainObjects::Rebuilt => {
                let mut sources = unity.clone();
                if wrapper_apart {
                    sources.push(dir.join("wrapper.cpp"));
                }
                for src in sources {
                    let name = src.file_name().unwrap_or_default().to_string_lossy();
                    let opt = if name.starts_with("tandem_slow_") {
                        MODEL_SLOW_OPT
                    } else {
                        MODEL_FAST_OPT
                    };
                    let o = out_dir.join(format!("{}.o", name.trim_end_matches(".cpp")));
                    compile(&mut jobs, format!("model {name}"), &src, opt, &o)?;
                    model_objects.push(o);
                }
            }
        }
        let runtime = runtime_objects(tc, root, trace);
        jobs.wait_all(out_dir)?;
        let runtime = runtime?;

        let mut cmd = Command::new(CXX);
        cmd.arg("-o")
            .arg(&exe)
            .arg(&main_o)
            .args(&model_objects)
            .args(&runtime)
            .args(["-pthread", "-latomic"]);
        if trace == Some(TraceFormat::Fst) {
            cmd.arg("-lz");
        }
        Job::spawn("link replay testbench", cmd, out_dir)?.wait(out_dir)?;
        write("stamp.txt", &stamp)?;
        Ok(testbench)
    }

    /// The executable.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The same testbench from a copy of its executable at `path` (a new file, so new
    /// page-cache pages: see [`VerilatedLib::load_copy`] for why a benchmark wants several).
    pub fn copy_to(&self, path: &Path) -> Result<PlainTestbench, SimError> {
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        fs::copy(&self.exe, &temp)
            .map_err(|e| SimError::io("cannot copy the testbench to", &temp, e))?;
        fs::rename(&temp, path)
            .map_err(|e| SimError::io("cannot rename the testbench copy to", path, e))?;
        Ok(PlainTestbench {
            exe: path.to_owned(),
            top: self.top.clone(),
        })
    }
}

/// The unity files of a published build (`obj/tandem_*.cpp`), sorted.
fn unity_files(obj: &Path) -> Result<Vec<PathBuf>, SimError> {
    let mut files: Vec<PathBuf> = fs::read_dir(obj)
        .map_err(|e| SimError::io("cannot read", obj, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            name.starts_with("tandem_") && name.ends_with(".cpp")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// The C++ type of a port's storage.
fn cxx_type(storage: Storage) -> String {
    match storage {
        Storage::U8 => "CData".into(),
        Storage::U16 => "SData".into(),
        Storage::U32 => "IData".into(),
        Storage::U64 => "QData".into(),
        Storage::Wide(n) => format!("VlWide<{n}>"),
    }
}

/// `tandem_replay_ports.h`: the recording layout of `V<top>` as C++ (direct member access,
/// fixed sizes), so the testbench's loop is what a hand-written one would be.
pub(crate) fn ports_header(top: &str, ports: &[PortInfo], clock: Option<usize>) -> String {
    let (inputs, outputs) = split_ports(ports);
    let words = |i: &usize| ports[*i].storage.words();
    let list = |values: Vec<String>| {
        if values.is_empty() {
            "0".to_string()
        } else {
            values.join(", ")
        }
    };
    let mut offsets = Vec::new();
    let mut total = 0;
    for i in &outputs {
        offsets.push(total);
        total += words(i);
    }
    let escaped: String = layout(top, ports)
        .chars()
        .map(|c| match c {
            '\n' => "\\n".to_string(),
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            c => c.to_string(),
        })
        .collect();
    let mut h = String::new();
    let mut line = |text: String| {
        h.push_str(&text);
        h.push('\n');
    };
    line(format!(
        "// Generated by the tandem `sim` crate (sim::replay) for V{top}. Do not edit: the\n\
         // plain replay testbench's view of the recording layout, regenerated on every build.\n\
         #ifndef TANDEM_REPLAY_PORTS_H_\n#define TANDEM_REPLAY_PORTS_H_\n\n\
         #include \"V{top}.h\"\n\n#include <cstdint>\n#include <cstring>\n\n\
         typedef V{top} TandemTop;\n\n\
         static const char tandem_layout[] = \"{escaped}\";\n"
    ));
    line(format!("#define TANDEM_INPUTS {}", inputs.len()));
    line(format!("#define TANDEM_OUTPUTS {}", outputs.len()));
    line(format!(
        "#define TANDEM_IN_MASK_WORDS {}",
        inputs.len().div_ceil(32)
    ));
    line(format!(
        "#define TANDEM_OUT_MASK_WORDS {}",
        outputs.len().div_ceil(32)
    ));
    line(format!("#define TANDEM_OUT_TOTAL_WORDS {total}\n"));
    line(format!(
        "static const unsigned tandem_in_words[] = {{{}}};",
        list(inputs.iter().map(|i| words(i).to_string()).collect())
    ));
    line(format!(
        "static const unsigned tandem_out_words[] = {{{}}};",
        list(outputs.iter().map(|i| words(i).to_string()).collect())
    ));
    line(format!(
        "static const unsigned tandem_out_offset[] = {{{}}};",
        list(offsets.iter().map(|o| o.to_string()).collect())
    ));
    line(format!(
        "static const char* const tandem_out_names[] = {{{}}};\n",
        if outputs.is_empty() {
            "\"\"".to_string()
        } else {
            outputs
                .iter()
                .map(|&i| format!("\"{}\"", ports[i].name))
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));

    let mut apply = String::new();
    for (k, &i) in inputs.iter().enumerate() {
        let p = &ports[i];
        let test = format!("if (mask[{}] & 0x{:x}u)", k / 32, 1u32 << (k % 32));
        let store = match p.storage {
            Storage::Wide(n) => format!("std::memcpy(&top->{}, p, {});", p.name, n * 4),
            Storage::U64 => format!(
                "top->{} = static_cast<QData>(p[0]) | static_cast<QData>(p[1]) << 32;",
                p.name
            ),
            s => format!("top->{} = static_cast<{}>(p[0]);", p.name, cxx_type(s)),
        };
        writeln!(
            apply,
            "    {test} {{ {store} p += {}; }}",
            p.storage.words()
        )
        .expect("String");
    }
    line(format!(
        "// Store the inputs `mask` lists, their words starting at p; returns the end of them.\n\
         static inline const uint32_t* tandem_apply(TandemTop* top, const uint32_t* mask, const uint32_t* p) {{\n\
         {apply}    (void)top;\n    (void)mask;\n    return p;\n}}\n"
    ));

    let clock_store = match clock {
        Some(i) => format!("top->{} = value;", ports[i].name),
        None => "(void)top;\n    (void)value;".into(),
    };
    line(format!(
        "#define TANDEM_HAS_CLOCK {}\nstatic inline void tandem_set_clock(TandemTop* top, CData value) {{\n    {clock_store}\n}}\n",
        u8::from(clock.is_some())
    ));

    let mut read = String::new();
    let mut compare = String::new();
    for (k, &i) in outputs.iter().enumerate() {
        let p = &ports[i];
        let at = offsets[k];
        match p.storage {
            Storage::Wide(n) => {
                writeln!(
                    read,
                    "    std::memcpy(out + {at}, &top->{}, {});",
                    p.name,
                    n * 4
                )
                .expect("String");
                writeln!(
                    compare,
                    "    if (std::memcmp(&top->{}, e + {at}, {}) != 0) return {k};",
                    p.name,
                    n * 4
                )
                .expect("String");
            }
            Storage::U64 => {
                writeln!(
                    read,
                    "    out[{at}] = static_cast<uint32_t>(top->{name});\n    out[{next}] = static_cast<uint32_t>(top->{name} >> 32);",
                    name = p.name,
                    next = at + 1
                )
                .expect("String");
                writeln!(
                    compare,
                    "    if (top->{} != (static_cast<QData>(e[{at}]) | static_cast<QData>(e[{}]) << 32)) return {k};",
                    p.name,
                    at + 1
                )
                .expect("String");
            }
            s => {
                writeln!(read, "    out[{at}] = top->{};", p.name).expect("String");
                writeln!(
                    compare,
                    "    if (top->{} != static_cast<{}>(e[{at}])) return {k};",
                    p.name,
                    cxx_type(s)
                )
                .expect("String");
            }
        }
    }
    line(format!(
        "// Every output into out (at tandem_out_offset).\n\
         static inline void tandem_read_outputs(TandemTop* top, uint32_t* out) {{\n\
         {read}    (void)top;\n    (void)out;\n}}\n\n\
         // Index of the first output that differs from e (tandem_out_offset layout), or -1.\n\
         static inline int tandem_compare(TandemTop* top, const uint32_t* e) {{\n\
         {compare}    (void)top;\n    (void)e;\n    return -1;\n}}\n\n\
         #endif  // TANDEM_REPLAY_PORTS_H_"
    ));
    h
}
