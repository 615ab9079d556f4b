//! [`generate`]: a resolved [`Design`] to a directory's worth of
//! Verilog-2005 and tool scripts.
//!
//! The leaf modules are hand-written, parameterized Verilog kept in
//! `rtl/lib/` and embedded here with `include_str!`, so the crate needs no
//! files at run time. The generator adds a banner to each, writes the
//! design-specific top module `tandem_top` (which sets every parameter, the
//! derived widths included, and spells out the port widths), the file list,
//! a yosys script, a README and `hw.yaml` (the resolved config). Output is
//! deterministic: the same design always yields the same bytes.

use crate::design::Design;
use crate::ports::{ports, Port, PortDirection, TOP_MODULE};
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
/// File name of the resolved config a design was generated from.
pub const HW_YAML: &str = "hw.yaml";
/// File name of the interface summary.
pub const README: &str = "README.md";

/// One command that checks a generated design, run from its directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolCheck {
    /// The executable.
    pub tool: &'static str,
    /// Its arguments.
    pub args: &'static [&'static str],
    /// What it checks.
    pub what: &'static str,
}

impl ToolCheck {
    /// The command line as a user types it.
    pub fn command_line(&self) -> String {
        std::iter::once(self.tool)
            .chain(self.args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// The checks every generated design passes (the test suite runs exactly
/// these; the README and `tandem hwgen` print them).
pub const TOOL_CHECKS: [ToolCheck; 3] = [
    ToolCheck {
        tool: "verilator",
        args: &[
            "--lint-only",
            "-Wall",
            "--default-language",
            "1364-2005",
            "-F",
            FILE_LIST,
            "--top-module",
            TOP_MODULE,
        ],
        what: "lint, every warning enabled",
    },
    ToolCheck {
        tool: "iverilog",
        args: &[
            "-g2005",
            "-Wall",
            "-c",
            FILE_LIST,
            "-s",
            TOP_MODULE,
            "-o",
            "/dev/null",
        ],
        what: "Verilog-2005 compile",
    },
    ToolCheck {
        tool: "yosys",
        args: &["-q", "-s", SYNTH_SCRIPT],
        what: "generic synthesis and cell statistics",
    },
];

/// The Verilog source files of a design, in compile order (leaf modules
/// first, `tandem_top.v` last).
pub fn verilog_files() -> Vec<&'static str> {
    LEAF_MODULES
        .iter()
        .map(|leaf| leaf.file)
        .chain([TOP_FILE])
        .collect()
}

/// Generate every file of `design`: the Verilog sources, `files.f`,
/// `synth.ys`, `README.md` and `hw.yaml`. The model's `$readmemh` images
/// come from [`crate::memimage::requant_images`].
pub fn generate(design: &Design) -> Vec<GeneratedFile> {
    let mut files: Vec<GeneratedFile> = LEAF_MODULES
        .iter()
        .map(|leaf| GeneratedFile {
            path: leaf.file.to_string(),
            contents: format!(
                "{}{}",
                banner(design, "//", leaf.file, leaf.description),
                leaf.source
            ),
        })
        .collect();
    let generated = [
        (TOP_FILE, top_module(design)),
        (FILE_LIST, file_list(design)),
        (SYNTH_SCRIPT, synth_script(design)),
        (README, readme(design)),
        (HW_YAML, hw_yaml(design)),
    ];
    files.extend(generated.map(|(path, contents)| GeneratedFile {
        path: path.to_string(),
        contents,
    }));
    files
}

/// Write `files` into `dir` (created if missing), as they are: no atomic
/// replacement, for a fresh directory. A design directory a user points at
/// is written with [`crate::write::write_design_dir`].
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

/// The "generated, do not edit" banner, with `prefix` as the comment
/// marker: the tandem version, the exact command that regenerates the
/// design, its key values, every change resolution made, and where the
/// file's text comes from (a hand-written file in `rtl/lib/`: edit that,
/// then regenerate; or the generator itself).
fn banner(design: &Design, prefix: &str, file: &str, description: &str) -> String {
    let config = &design.config;
    let source = if LEAF_MODULES.iter().any(|leaf| leaf.file == file) {
        format!("rtl/lib/{file} (hand-written, parameterized)")
    } else {
        "hwgen (hwgen/src/generate.rs)".to_string()
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
    line(&format!(
        "Generated by tandem {} (hwgen). DO NOT EDIT: change the config and regenerate:",
        env!("CARGO_PKG_VERSION")
    ));
    line(&format!("  {}", design.regenerate_command()));
    match &design.model {
        Some(model) => line(&format!(
            "Design:  {} (sized for model {model})",
            config.name
        )),
        None => line(&format!("Design:  {}", config.name)),
    }
    line(&format!(
        "         rows={} cols={} dataflow={} a_bits={} w_bits={}",
        config.rows, config.cols, config.dataflow, config.a_bits, config.w_bits
    ));
    line(&format!(
        "         max_in_bits={} max_w_bits={} max_out_bits={} wide_operands={}",
        config.layer_in_bits(),
        config.layer_w_bits(),
        config.layer_out_bits(),
        config.wide_operands
    ));
    line(&format!(
        "         acc_bits={} max_k={} shift_bits={} acc_depth={} clock_mhz={}",
        design.widths.acc_bits,
        config
            .max_k
            .map_or_else(|| "-".to_string(), |k| k.to_string()),
        config.shift_bits,
        config.acc_depth,
        config.clock_mhz
    ));
    for change in &design.changes {
        line(&format!("Changed: {change}"));
    }
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

fn top_module(design: &Design) -> String {
    let config = &design.config;
    let widths = &design.widths;
    let mut text = banner(
        design,
        "//",
        TOP_FILE,
        "top level: tandem_core with this design's parameters and port widths",
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
    let _ = writeln!(text, "`default_nettype none");
    let _ = writeln!(text, "module {TOP_MODULE} (");
    let all = ports(design);
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
    let parameters: [(&str, String, &str); 18] = [
        ("ROWS", config.rows.to_string(), "array rows (K per tile)"),
        (
            "COLS",
            config.cols.to_string(),
            "array columns (N per tile)",
        ),
        (
            "A_BITS",
            config.a_bits.to_string(),
            "native activation (slice) width",
        ),
        (
            "W_BITS",
            config.w_bits.to_string(),
            "native weight (slice) width",
        ),
        (
            "W_UNSIGNED_SLICES",
            u32::from(widths.unsigned_weight_slices).to_string(),
            "1: PEs also take unsigned weight slices",
        ),
        (
            "OUT_A_BITS",
            widths.out_a_bits.to_string(),
            "output activation width",
        ),
        ("ACC_BITS", widths.acc_bits.to_string(), "accumulator width"),
        (
            "SHIFT_BITS",
            widths.shift_bits.to_string(),
            "shift field width",
        ),
        (
            "ACC_DEPTH",
            config.acc_depth.to_string(),
            "accumulator entries",
        ),
        ("ROW_BITS", widths.row_bits.to_string(), "wload_row width"),
        (
            "ADDR_BITS",
            widths.addr_bits.to_string(),
            "accumulator address width",
        ),
        ("SUM_BITS", widths.sum_bits.to_string(), "column-sum width"),
        (
            "SLICE_SHIFT_BITS",
            widths.slice_shift_bits.to_string(),
            "act_slice_shift width",
        ),
        (
            "MAX_SLICE_SHIFT",
            widths.max_slice_shift.to_string(),
            "largest slice shift (0: one pass)",
        ),
        (
            "META_BITS",
            widths.meta_bits.to_string(),
            "per-vector control bits",
        ),
        (
            "BIAS_BITS",
            widths.bias_bits.to_string(),
            "bias / raw output width",
        ),
        (
            "OUT_BITS_BITS",
            widths.out_bits_bits.to_string(),
            "prm_out_bits width",
        ),
        (
            "PSUM_BITS",
            psum_bits_literal(&widths.psum_bits),
            "partial-sum width per row, row r at [r*8 +: 8]",
        ),
    ];
    let _ = writeln!(
        text,
        "    // Every width is computed once by the generator (hwgen::design::Widths)\n    // and passed down; the leaf modules have no defaults to fall back on."
    );
    let _ = writeln!(text, "    tandem_core #(");
    let value_width = parameters
        .iter()
        .map(|(_, value, _)| value.lines().last().unwrap_or("").len() + 3)
        .max()
        .unwrap_or(0);
    for (index, (name, value, what)) in parameters.iter().enumerate() {
        let separator = if index + 1 == parameters.len() {
            " "
        } else {
            ","
        };
        let cell = format!("({value}){separator}");
        let _ = writeln!(text, "        .{name:<17}{cell:<value_width$} // {what}");
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
    let _ = writeln!(text, "`default_nettype wire");
    text
}

/// The per-row partial-sum widths as a Verilog concatenation of bytes, row
/// ROWS-1 first (most significant), eight rows per line.
fn psum_bits_literal(psum_bits: &[u32]) -> String {
    let bytes: Vec<String> = psum_bits.iter().rev().map(|b| format!("8'd{b}")).collect();
    if bytes.len() <= 8 {
        return format!("{{{}}}", bytes.join(", "));
    }
    let lines: Vec<String> = bytes.chunks(8).map(|chunk| chunk.join(", ")).collect();
    format!(
        "{{\n            {}\n        }}",
        lines.join(",\n            ")
    )
}

fn file_list(design: &Design) -> String {
    let mut text = banner(
        design,
        "//",
        FILE_LIST,
        "sources in compile order (verilator -F, or iverilog -c from this directory)",
    );
    for file in verilog_files() {
        let _ = writeln!(text, "{file}");
    }
    text
}

fn synth_script(design: &Design) -> String {
    let mut text = banner(
        design,
        "#",
        SYNTH_SCRIPT,
        "generic yosys synthesis and cell statistics (run `yosys -s synth.ys` here)",
    );
    // -defer: elaborate each module only with the parameters tandem_top
    // gives it (the leaf modules' defaults are deliberately unusable).
    for file in verilog_files() {
        let _ = writeln!(text, "read_verilog -defer {file}");
    }
    let _ = writeln!(text, "synth -top {TOP_MODULE}");
    let _ = writeln!(text, "stat");
    text
}

/// The resolved config, loadable with `HwConfig::from_yaml_file`; resolving
/// it again (with the same model) changes nothing.
fn hw_yaml(design: &Design) -> String {
    let mut text = banner(
        design,
        "#",
        HW_YAML,
        "the resolved hardware config these files were generated from",
    );
    text.push_str(&design.config.to_yaml_string());
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

fn readme(design: &Design) -> String {
    let config = &design.config;
    let banner = banner(design, "", README, "interface summary of this design");
    let mut text = String::from("<!--\n");
    text.push_str(&banner);
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
        design.widths.acc_bits,
        config.acc_depth,
        design.widths.max_shift,
    );
    let widest = design.passes(config.layer_in_bits(), config.layer_w_bits());
    let _ = writeln!(
        text,
        "Serves layers with up to {}-bit input activations, {}-bit weights and {}-bit outputs.          A layer wider than the PEs runs in ceil(a_in / {}) x ceil(w / {}) operand-slice passes          (at most {} here), combined exactly by the accumulator's shift-add (`act_slice_shift`,          `wload_signed`).\n",
        config.layer_in_bits(),
        config.layer_w_bits(),
        config.layer_out_bits(),
        config.a_bits,
        config.w_bits,
        widest.count(),
    );
    if !design.changes.is_empty() {
        let _ = writeln!(text, "## Changes to the config as written\n");
        for change in &design.changes {
            let _ = writeln!(text, "- {change}");
        }
        text.push('\n');
    }
    let _ = writeln!(text, "## Files\n");
    for file in verilog_files() {
        let _ = writeln!(text, "- `{file}`");
    }
    let _ = writeln!(
        text,
        "- `{FILE_LIST}`: the sources in compile order\n- `{SYNTH_SCRIPT}`: yosys script\n- `{HW_YAML}`: the resolved config (load it with `tandem hwgen --hw {HW_YAML}`)"
    );
    if design.model.is_some() {
        let _ = writeln!(
            text,
            "- `<layer>_bias.memh`, `<layer>_shift.memh`: the model's per-channel biases and shifts (`$readmemh` images)"
        );
    }
    text.push('\n');
    let _ = writeln!(text, "## Ports\n");
    text.push_str(&port_table(&ports(design)));
    let latency = config.latency_cycles();
    let slot = config.min_slot_cycles();
    let _ = writeln!(
        text,
        "\n## Timing\n\n\
         - Every input is sampled at the rising edge that ends the cycle it is driven in.\n\
         - Latency: a vector presented in cycle t with `act_last` is on `out_*` in cycle t + {latency} (ROWS + COLS + 2).\n\
         - Canonical schedule: prologue of {rows} cycles (load tile 0, `wswap` in the last), then one slot per tile of max(V_i, {slot}) cycles (ROWS + COLS), V_i = M_i pixels x activation slices; the next tile's rows are written in the last {rows} cycles of the slot and `prm_*` and `wswap` in its last cycle. A tile holds one weight slice of one K-tile.\n\
         - Cycles for tiles with V_0 .. V_(T-1) vectors: {rows} + sum_(i<T-1) max(V_i, {slot}) + V_(T-1) + {}.\n\
         - In simulation (Verilator, Icarus) `tandem_core` checks the protocol and stops with an `ERROR` line when a rule is broken (accumulator address, weight row, `prm_out_bits`, a slot too short to overwrite the shadow bank); synthesis skips the checks (yosys defines `SYNTHESIS`).\n",
        latency - 1
    );
    let _ = writeln!(text, "## Checks\n\n```sh\n# from this directory");
    for check in TOOL_CHECKS {
        let _ = writeln!(text, "{}   # {}", check.command_line(), check.what);
    }
    let _ = writeln!(text, "```");
    text
}
