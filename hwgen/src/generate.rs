//! [`generate`]: a [`HwConfig`] to a directory's worth of Verilog-2005 and
//! tool scripts.
//!
//! The leaf modules are hand-written, parameterized Verilog kept in
//! `rtl/lib/` and embedded here with `include_str!`, so the crate needs no
//! files at run time. The generator adds a header to each, writes the
//! config-specific top module `tandem_top` (which fixes the parameters and
//! spells out the port widths), the file list, a yosys script and a README.
//! Output is deterministic: the same config always yields the same bytes.

use crate::ports::{ports, Port, PortDirection, TOP_MODULE};
use crate::HwConfig;
use std::fmt::Write as _;
use std::path::Path;

/// One output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Path relative to the output directory (a plain file name).
    pub path: String,
    /// Full contents.
    pub contents: String,
}

/// A hand-written leaf module embedded in the crate.
struct LeafModule {
    file: &'static str,
    description: &'static str,
    source: &'static str,
}

/// Leaf modules in dependency order (a module only instantiates earlier ones).
const LEAF_MODULES: &[LeafModule] = &[
    LeafModule {
        file: "tandem_delay_line.v",
        description: "shift register used for input skew, output de-skew and control delay",
        source: include_str!("../../rtl/lib/tandem_delay_line.v"),
    },
    LeafModule {
        file: "tandem_pe.v",
        description: "processing element: registered MAC with a double-buffered weight",
        source: include_str!("../../rtl/lib/tandem_pe.v"),
    },
    LeafModule {
        file: "tandem_systolic_array.v",
        description: "ROWS x COLS weight-stationary PE array with input skew and output de-skew",
        source: include_str!("../../rtl/lib/tandem_systolic_array.v"),
    },
    LeafModule {
        file: "tandem_acc_bank.v",
        description: "one column's accumulator bank (ACC_DEPTH entries, K-tile accumulation)",
        source: include_str!("../../rtl/lib/tandem_acc_bank.v"),
    },
    LeafModule {
        file: "tandem_requant.v",
        description:
            "one column's shift-only requantizer (bias, round half up, shift, clamp / bypass)",
        source: include_str!("../../rtl/lib/tandem_requant.v"),
    },
    LeafModule {
        file: "tandem_core.v",
        description: "datapath, bank control and pipeline behind the host interface",
        source: include_str!("../../rtl/lib/tandem_core.v"),
    },
];

/// File name of the generated top module.
pub const TOP_FILE: &str = "tandem_top.v";
/// File name of the source list (Verilator `-f`/`-F`, Icarus `-c`).
pub const FILE_LIST: &str = "files.f";
/// File name of the yosys synthesis script.
pub const SYNTH_SCRIPT: &str = "synth.ys";

/// The Verilog source files of a design, in compile order (leaf modules
/// first, `tandem_top.v` last).
pub fn verilog_files() -> Vec<&'static str> {
    LEAF_MODULES
        .iter()
        .map(|leaf| leaf.file)
        .chain([TOP_FILE])
        .collect()
}

/// Generate every file of the design described by `config`: the Verilog
/// sources, `files.f`, `synth.ys` and `README.md`.
///
/// `config` should have passed [`HwConfig::validate`] (loading from YAML
/// does that); the generator itself does not re-check it.
pub fn generate(config: &HwConfig) -> Vec<GeneratedFile> {
    let mut files: Vec<GeneratedFile> = LEAF_MODULES
        .iter()
        .map(|leaf| GeneratedFile {
            path: leaf.file.to_string(),
            contents: format!(
                "{}{}",
                header(config, "//", leaf.file, leaf.description),
                leaf.source
            ),
        })
        .collect();
    files.push(GeneratedFile {
        path: TOP_FILE.to_string(),
        contents: top_module(config),
    });
    files.push(GeneratedFile {
        path: FILE_LIST.to_string(),
        contents: file_list(config),
    });
    files.push(GeneratedFile {
        path: SYNTH_SCRIPT.to_string(),
        contents: synth_script(config),
    });
    files.push(GeneratedFile {
        path: "README.md".to_string(),
        contents: readme(config),
    });
    files
}

/// Write `files` into `dir` (created if missing). Files already there that
/// `files` does not name are left alone.
pub fn write_files(files: &[GeneratedFile], dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for file in files {
        std::fs::write(dir.join(&file.path), &file.contents)?;
    }
    Ok(())
}

/// How the files in `dir` differ from `files`: one line per file that is
/// missing, has different contents, or is in `dir` but not in `files`
/// (`extra:`). Empty when `dir` holds exactly `files`.
pub fn diff_dir(files: &[GeneratedFile], dir: &Path) -> std::io::Result<Vec<String>> {
    let mut problems = Vec::new();
    for file in files {
        match std::fs::read_to_string(dir.join(&file.path)) {
            Ok(existing) if existing == file.contents => {}
            Ok(_) => problems.push(format!("differs: {}", file.path)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                problems.push(format!("missing: {}", file.path));
            }
            Err(error) => return Err(error),
        }
    }
    if dir.is_dir() {
        let mut extra = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            if !files.iter().any(|file| file.path == name) {
                extra.push(format!("extra: {name}"));
            }
        }
        extra.sort();
        problems.extend(extra);
    }
    Ok(problems)
}

/// The "generated, do not edit" header, with `prefix` as the comment marker.
///
/// `source` says where the text comes from: a hand-written file in
/// `rtl/lib/` (edit that, then regenerate) or the generator itself.
fn header(config: &HwConfig, prefix: &str, file: &str, description: &str) -> String {
    let source = if LEAF_MODULES.iter().any(|leaf| leaf.file == file) {
        format!("rtl/lib/{file} (hand-written, parameterized)")
    } else {
        "hwgen (hwgen/src/generate.rs)".to_string()
    };
    let acc = match config.max_k {
        Some(k) => format!(
            "acc_bits={} ({}, max_k={k})",
            config.acc_bits_resolved(),
            config.acc_bits
        ),
        None => format!(
            "acc_bits={} ({})",
            config.acc_bits_resolved(),
            config.acc_bits
        ),
    };
    let rule = "=".repeat(77);
    let mut text = String::new();
    let mut line = |body: &str| {
        if body.is_empty() {
            let _ = writeln!(text, "{prefix}");
        } else {
            let _ = writeln!(text, "{prefix} {body}");
        }
    };
    line(&rule);
    line("Generated by tandem hwgen. DO NOT EDIT: change the config and regenerate.");
    line(&format!("Config:  {}", config.name));
    line(&format!(
        "         rows={} cols={} dataflow={} a_bits={} w_bits={}",
        config.rows, config.cols, config.dataflow, config.a_bits, config.w_bits
    ));
    line(&format!(
        "         {acc} shift_bits={} acc_depth={} clock_mhz={}",
        config.shift_bits, config.acc_depth, config.clock_mhz
    ));
    line(&format!("File:    {file}: {description}"));
    line(&format!("Source:  {source}"));
    line(&rule);
    text
}

/// `[msb:0]` for multi-bit ports, nothing for single bits.
fn range(width: u32) -> String {
    if width == 1 {
        String::new()
    } else {
        format!("[{}:0]", width - 1)
    }
}

fn top_module(config: &HwConfig) -> String {
    let mut text = header(
        config,
        "//",
        TOP_FILE,
        "top level: tandem_core with this config's parameters and port widths",
    );
    let latency = config.latency_cycles();
    let _ = writeln!(
        text,
        "// Host interface (see README.md and docs/hardware.md): load a weight tile\n\
         // row by row (wload_*) and its parameters (prm_*) into the shadow bank,\n\
         // pulse wswap, then stream activation vectors (act_*), one per cycle.\n\
         // A vector presented with act_last in cycle t appears on out_* in cycle\n\
         // t + {latency} (ROWS + COLS + 2). Element i of a packed port occupies\n\
         // bits [i*WIDTH +: WIDTH]."
    );
    let _ = writeln!(text, "module {TOP_MODULE} (");
    let all = ports(config);
    let range_width = all.iter().map(|p| range(p.width).len()).max().unwrap_or(0);
    let name_width = all.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for (index, port) in all.iter().enumerate() {
        let separator = if index + 1 == all.len() { " " } else { "," };
        let _ = writeln!(
            text,
            "    {:<6} wire {:<range_width$} {}{separator}{:pad$} // {}",
            port.direction.as_verilog(),
            range(port.width),
            port.name,
            "",
            port.description,
            pad = name_width - port.name.len(),
        );
    }
    let _ = writeln!(text, ");");
    let parameters = [
        ("ROWS", config.rows.to_string()),
        ("COLS", config.cols.to_string()),
        ("A_BITS", config.a_bits.to_string()),
        ("W_BITS", config.w_bits.to_string()),
        ("ACC_BITS", config.acc_bits_resolved().to_string()),
        ("SHIFT_BITS", config.shift_bits.to_string()),
        ("ACC_DEPTH", config.acc_depth.to_string()),
    ];
    let _ = writeln!(text, "    tandem_core #(");
    for (index, (name, value)) in parameters.iter().enumerate() {
        let separator = if index + 1 == parameters.len() {
            ""
        } else {
            ","
        };
        let _ = writeln!(text, "        .{name:<10}({value}){separator}");
    }
    let _ = writeln!(text, "    ) u_core (");
    for (index, port) in all.iter().enumerate() {
        let separator = if index + 1 == all.len() { "" } else { "," };
        let _ = writeln!(
            text,
            "        .{:<name_width$}({}){separator}",
            port.name, port.name
        );
    }
    let _ = writeln!(text, "    );");
    let _ = writeln!(text, "endmodule");
    text
}

fn file_list(config: &HwConfig) -> String {
    let mut text = header(
        config,
        "//",
        FILE_LIST,
        "sources in compile order (verilator -F, or iverilog -c from this directory)",
    );
    for file in verilog_files() {
        let _ = writeln!(text, "{file}");
    }
    text
}

fn synth_script(config: &HwConfig) -> String {
    let mut text = header(
        config,
        "#",
        SYNTH_SCRIPT,
        "generic yosys synthesis and cell statistics (run `yosys -s synth.ys` here)",
    );
    for file in verilog_files() {
        let _ = writeln!(text, "read_verilog {file}");
    }
    let _ = writeln!(text, "synth -top {TOP_MODULE}");
    let _ = writeln!(text, "stat");
    text
}

fn port_table(all: &[Port]) -> String {
    let mut text = String::from("| Port | Dir | Width | Meaning |\n|---|---|---|---|\n");
    for port in all {
        let dir = match port.direction {
            PortDirection::Input => "in",
            PortDirection::Output => "out",
        };
        let _ = writeln!(
            text,
            "| `{}` | {dir} | {} | {} |",
            port.name, port.width, port.description
        );
    }
    text
}

fn readme(config: &HwConfig) -> String {
    let header = header(config, "", "README.md", "interface summary of this design");
    let mut text = String::from("<!--\n");
    text.push_str(&header);
    text.push_str("-->\n\n");
    let rows = config.rows;
    let cols = config.cols;
    let _ = writeln!(
        text,
        "# `{}`: tandem weight-stationary MAC array\n",
        config.name
    );
    let _ = writeln!(
        text,
        "{rows} x {cols} array of {}-bit unsigned activation x {}-bit signed weight MACs, \
         {}-bit accumulators ({} entries per column), shift-only requantizers \
         (shifts 0..={}). Top module: `{TOP_MODULE}`. Full description: \
         `docs/hardware.md` in the Tandem repository.\n",
        config.a_bits,
        config.w_bits,
        config.acc_bits_resolved(),
        config.acc_depth,
        config.max_shift(),
    );
    let _ = writeln!(text, "## Files\n");
    for file in verilog_files() {
        let _ = writeln!(text, "- `{file}`");
    }
    let _ = writeln!(
        text,
        "- `{FILE_LIST}`: the sources in compile order\n- `{SYNTH_SCRIPT}`: yosys script\n"
    );
    let _ = writeln!(text, "## Ports\n");
    text.push_str(&port_table(&ports(config)));
    let latency = config.latency_cycles();
    let slot = config.min_slot_cycles();
    let _ = writeln!(
        text,
        "\n## Timing\n\n\
         - Every input is sampled at the rising edge that ends the cycle it is driven in.\n\
         - Latency: a vector presented in cycle t with `act_last` is on `out_*` in cycle t + {latency} (ROWS + COLS + 2).\n\
         - Canonical schedule: prologue of {rows} cycles (load tile 0, `wswap` in the last), then one slot per tile of max(M_i, {slot}) cycles (ROWS + COLS); the next tile's rows are written in the last {rows} cycles of the slot and `prm_*` and `wswap` in its last cycle.\n\
         - Cycles for tiles with M_0 .. M_(T-1) vectors: {rows} + sum_(i<T-1) max(M_i, {slot}) + M_(T-1) + {}.\n",
        latency - 1
    );
    let _ = writeln!(
        text,
        "## Checks\n\n\
         ```sh\n\
         # from this directory\n\
         verilator --lint-only -Wall --default-language 1364-2005 -F {FILE_LIST} --top-module {TOP_MODULE}\n\
         iverilog -g2005 -c {FILE_LIST} -s {TOP_MODULE} -o /dev/null\n\
         yosys -s {SYNTH_SCRIPT}\n\
         ```"
    );
    text
}
