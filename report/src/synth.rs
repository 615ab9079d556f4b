//! Area and resources: yosys on the generated RTL.
//!
//! Three flows, each on the whole `tandem_top`, hierarchically (yosys
//! synthesizes each distinct module parametrization once, which keeps a
//! 16x16 array to well under a minute per flow on a laptop-class core):
//!
//! | flow | command | reports |
//! |---|---|---|
//! | generic | `synth -top tandem_top` | gate-level cells per module, flip-flops, a NanGate45 area estimate |
//! | xilinx | `synth_xilinx -noiopad -top tandem_top` | LUTs, FFs, DSP48s, LUTRAM, carry chains |
//! | ice40 | `synth_ice40 -noflatten -top tandem_top` | LUT4s, FFs, carry cells (no DSPs: multipliers in LUTs) |
//!
//! `stat -json` gives each module's own cells; the instance counts come from
//! walking the hierarchy from `tandem_top`, so per-module totals are exact
//! and per-PE figures are the PE total divided by `rows * cols`.

use crate::energy_table::CellAreaTable;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A yosys flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SynthFlow {
    Generic,
    Xilinx,
    Ice40,
}

impl SynthFlow {
    pub const ALL: [SynthFlow; 3] = [SynthFlow::Generic, SynthFlow::Xilinx, SynthFlow::Ice40];

    pub fn name(self) -> &'static str {
        match self {
            SynthFlow::Generic => "generic",
            SynthFlow::Xilinx => "xilinx",
            SynthFlow::Ice40 => "ice40",
        }
    }

    pub fn from_name(name: &str) -> Option<SynthFlow> {
        SynthFlow::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The yosys synthesis command.
    pub fn command(self) -> &'static str {
        match self {
            SynthFlow::Generic => "synth -top tandem_top",
            // -noiopad: out of context (no I/O buffers on the array's ports).
            SynthFlow::Xilinx => "synth_xilinx -noiopad -top tandem_top",
            // -noflatten keeps per-module statistics (and the run short).
            SynthFlow::Ice40 => "synth_ice40 -noflatten -top tandem_top",
        }
    }
}

/// How to run synthesis.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub flows: Vec<SynthFlow>,
    /// Per flow; a flow past it is stopped (yosys and everything it
    /// started are killed) and reported as timed out, without figures.
    pub timeout: Duration,
    /// The yosys executable.
    pub yosys: PathBuf,
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions {
            flows: SynthFlow::ALL.to_vec(),
            timeout: Duration::from_secs(600),
            yosys: PathBuf::from("yosys"),
        }
    }
}

/// One module (all its parametrizations) in one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleCells {
    /// Module name without yosys' `$paramod$<hash>\` prefix.
    pub module: String,
    /// Distinct parametrizations.
    pub variants: usize,
    /// Instances in the whole design.
    pub instances: u64,
    /// The module's own cells (submodules excluded) over all instances,
    /// by cell type.
    pub cells: BTreeMap<String, u64>,
}

impl ModuleCells {
    pub fn total_cells(&self) -> u64 {
        self.cells.values().sum()
    }

    pub fn count(&self, matches: impl Fn(&str) -> bool) -> u64 {
        self.cells
            .iter()
            .filter(|(t, _)| matches(t))
            .map(|(_, n)| n)
            .sum()
    }
}

/// How a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowStatus {
    /// yosys finished and its statistics were read.
    Ok,
    /// Stopped at [`SynthOptions::timeout`].
    TimedOut,
    /// yosys could not run, exited with an error, or wrote no statistics.
    Failed,
}

/// The result of one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowResult {
    pub flow: SynthFlow,
    pub command: String,
    pub seconds: f64,
    pub status: FlowStatus,
    /// Why the flow produced no statistics (with `timed_out`, `failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per module, in hierarchy order (top first).
    pub modules: Vec<ModuleCells>,
    /// The yosys script run (written to `synth/<flow>.ys`).
    #[serde(skip)]
    pub script: String,
    /// yosys' `stat -json` output (written to `synth/<flow>-stat.json`).
    #[serde(skip)]
    pub stat_json: String,
}

impl FlowResult {
    /// The flow succeeded: its statistics are in `modules`.
    pub fn ok(&self) -> bool {
        self.status == FlowStatus::Ok
    }

    /// Record why the flow has no statistics; whatever was parsed is dropped.
    pub fn fail(&mut self, status: FlowStatus, why: String) {
        self.status = status;
        self.error = Some(why);
        self.modules.clear();
    }

    pub fn module(&self, name: &str) -> Option<&ModuleCells> {
        self.modules.iter().find(|m| m.module == name)
    }

    /// All cells of the design, by type.
    pub fn total(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for module in &self.modules {
            for (cell, count) in &module.cells {
                *total.entry(cell.clone()).or_insert(0) += count;
            }
        }
        total
    }

    pub fn total_count(&self, matches: impl Fn(&str) -> bool) -> u64 {
        self.modules.iter().map(|m| m.count(&matches)).sum()
    }
}

/// Resource classes of a cell type, per flow.
pub fn is_generic_flip_flop(cell: &str) -> bool {
    ["$_DFF", "$_SDFF", "$_DLATCH", "$_ALDFF", "$_SR_"]
        .iter()
        .any(|prefix| cell.starts_with(prefix))
}

pub fn is_xilinx_lut(cell: &str) -> bool {
    cell.starts_with("LUT")
}

pub fn is_xilinx_ff(cell: &str) -> bool {
    cell.starts_with("FD")
}

pub fn is_xilinx_dsp(cell: &str) -> bool {
    cell.starts_with("DSP")
}

/// Distributed (LUT) RAM: RAM32X1D, RAM64M, RAM256X1S, ... (not block RAM).
pub fn is_xilinx_lutram(cell: &str) -> bool {
    cell.starts_with("RAM") && !cell.starts_with("RAMB")
}

pub fn is_xilinx_bram(cell: &str) -> bool {
    cell.starts_with("RAMB")
}

pub fn is_ice40_lut(cell: &str) -> bool {
    cell == "SB_LUT4"
}

pub fn is_ice40_ff(cell: &str) -> bool {
    cell.starts_with("SB_DFF")
}

/// Area (um^2) of one yosys generic cell, from the table's cell classes;
/// `None` for a type the table cannot price.
pub fn generic_cell_area(cell: &str, table: &CellAreaTable) -> Option<f64> {
    let class = |name: &str| table.um2.get(name).copied();
    let simple = match cell {
        "$_NOT_" => Some("not"),
        "$_BUF_" => Some("buf"),
        "$_AND_" => Some("and"),
        "$_NAND_" => Some("nand"),
        "$_OR_" => Some("or"),
        "$_NOR_" => Some("nor"),
        "$_XOR_" => Some("xor"),
        "$_XNOR_" => Some("xnor"),
        "$_ANDNOT_" => Some("andnot"),
        "$_ORNOT_" => Some("ornot"),
        "$_MUX_" | "$_NMUX_" => Some("mux"),
        "$_AOI3_" => Some("aoi3"),
        "$_OAI3_" => Some("oai3"),
        "$_AOI4_" => Some("aoi4"),
        "$_OAI4_" => Some("oai4"),
        _ => None,
    };
    if let Some(name) = simple {
        return class(name);
    }
    // Flip-flops: $_DFF_P_, $_DFF_PN0_ (async reset), $_DFFE_PP_ (enable),
    // $_SDFF_PN0_ (sync reset), $_SDFFE_/$_SDFFCE_ (both), $_DFFSR_ ...
    let enable = cell.starts_with("$_DFFE_")
        || cell.starts_with("$_SDFFE_")
        || cell.starts_with("$_SDFFCE_")
        || cell.starts_with("$_DFFSRE_")
        || cell.starts_with("$_ALDFFE_");
    let sync_reset = cell.starts_with("$_SDFF");
    let async_reset = cell.starts_with("$_DFFSR")
        || cell.starts_with("$_ALDFF")
        || (cell.starts_with("$_DFF_") && cell.len() > "$_DFF_P_".len())
        || (cell.starts_with("$_DFFE_") && cell.len() > "$_DFFE_PP_".len());
    if cell.starts_with("$_DFF")
        || cell.starts_with("$_SDFF")
        || cell.starts_with("$_ALDFF")
        || cell.starts_with("$_DLATCH")
    {
        let mut area = if async_reset {
            class("dffr")?
        } else {
            class("dff")?
        };
        if enable {
            area += class("mux")?;
        }
        if sync_reset {
            area += class("and")?;
        }
        return Some(area);
    }
    None
}

/// Estimated standard-cell area of the cells in `cells` and the number of
/// cells that could not be priced.
pub fn estimate_area_um2(cells: &BTreeMap<String, u64>, table: &CellAreaTable) -> (f64, u64) {
    let mut area = 0.0;
    let mut unpriced = 0;
    for (cell, &count) in cells {
        match generic_cell_area(cell, table) {
            Some(each) => area += each * count as f64,
            None => unpriced += count,
        }
    }
    (area, unpriced)
}

/// `yosys -V`, or why it cannot be run.
pub fn yosys_version(yosys: &Path) -> Result<String, String> {
    match Command::new(yosys)
        .arg("-V")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        }
        Ok(output) => Err(format!(
            "`{} -V` failed: {}",
            yosys.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Err(error) => Err(format!(
            "`{}` cannot be run ({error}): install yosys (Debian/Ubuntu: apt-get install yosys, or `make setup`) or pass --no-synth",
            yosys.display()
        )),
    }
}

/// Hierarchy order of the generated modules (unknown names sort last).
fn module_rank(name: &str) -> usize {
    const ORDER: [&str; 7] = [
        "tandem_top",
        "tandem_core",
        "tandem_systolic_array",
        "tandem_pe",
        "tandem_acc_bank",
        "tandem_requant",
        "tandem_delay_line",
    ];
    ORDER.iter().position(|m| *m == name).unwrap_or(ORDER.len())
}

/// `$paramod$<hash>\tandem_pe` or `\tandem_pe` -> `tandem_pe`.
fn base_name(module: &str) -> &str {
    module.rsplit('\\').next().unwrap_or(module)
}

/// Parse the `modules` object of yosys' `stat -json` output into per-module
/// totals over the hierarchy under `top`.
///
/// yosys 0.23 prints the text hierarchy into the JSON's `design` section
/// when a top module is set, so only the `modules` object is parsed.
pub fn parse_stat_json(text: &str, top: &str) -> Result<Vec<ModuleCells>, String> {
    let key = text
        .find("\"modules\"")
        .ok_or("no \"modules\" object in yosys' stat -json output")?;
    let open = text[key..]
        .find('{')
        .map(|offset| key + offset)
        .ok_or("no \"modules\" object in yosys' stat -json output")?;
    let modules: serde_json::Value = serde_json::Deserializer::from_str(&text[open..])
        .into_iter::<serde_json::Value>()
        .next()
        .ok_or("empty \"modules\" object")?
        .map_err(|e| format!("cannot parse yosys' stat -json output: {e}"))?;
    let modules = modules.as_object().ok_or("\"modules\" is not an object")?;
    // Module -> cell type -> count (submodule instances included).
    let mut cells_of: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (name, stats) in modules {
        let by_type = stats
            .get("num_cells_by_type")
            .and_then(|v| v.as_object())
            .map(|map| {
                map.iter()
                    .map(|(t, n)| (t.clone(), n.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        cells_of.insert(name.clone(), by_type);
    }
    let top_key = cells_of
        .keys()
        .find(|name| base_name(name) == top)
        .cloned()
        .ok_or_else(|| format!("module `{top}` not in yosys' statistics"))?;
    // Instances of every module, walking down from the top.
    let mut instances: BTreeMap<String, u64> = BTreeMap::new();
    let mut stack = vec![(top_key, 1u64)];
    while let Some((name, count)) = stack.pop() {
        *instances.entry(name.clone()).or_insert(0) += count;
        for (cell, n) in &cells_of[&name] {
            if cells_of.contains_key(cell) {
                stack.push((cell.clone(), count * n));
            }
        }
    }
    let mut grouped: BTreeMap<String, ModuleCells> = BTreeMap::new();
    for (name, count) in &instances {
        let base = base_name(name).to_string();
        let entry = grouped.entry(base.clone()).or_insert_with(|| ModuleCells {
            module: base,
            variants: 0,
            instances: 0,
            cells: BTreeMap::new(),
        });
        entry.variants += 1;
        entry.instances += count;
        for (cell, n) in &cells_of[name] {
            if !cells_of.contains_key(cell) {
                *entry.cells.entry(cell.clone()).or_insert(0) += count * n;
            }
        }
    }
    let mut modules: Vec<ModuleCells> = grouped.into_values().collect();
    modules.sort_by_key(|m| (module_rank(&m.module), m.module.clone()));
    Ok(modules)
}

/// The yosys script of `flow`: read the generated files, synthesize, write
/// the statistics to `stat_file`.
fn flow_script(flow: SynthFlow, stat_file: &str) -> String {
    let mut script = String::new();
    for file in hwgen::generate::verilog_files() {
        script.push_str(&format!("read_verilog -defer {file}\n"));
    }
    script.push_str(flow.command());
    script.push('\n');
    script.push_str(&format!("tee -q -o {stat_file} stat -json\n"));
    script
}

/// `1 s`, `0.001 s`, `600 s`.
fn seconds_text(duration: Duration) -> String {
    format!("{} s", duration.as_secs_f64())
}

/// Run `flow` on the design in `dir` (the generated files are there).
fn run_flow(flow: SynthFlow, dir: &Path, options: &SynthOptions) -> FlowResult {
    let started = Instant::now();
    let stat_file = format!("{}-stat.json", flow.name());
    let script = flow_script(flow, &stat_file);
    let mut result = FlowResult {
        flow,
        command: flow.command().to_string(),
        seconds: 0.0,
        status: FlowStatus::Ok,
        error: None,
        modules: Vec::new(),
        script: script.clone(),
        stat_json: String::new(),
    };
    let script_path = dir.join(format!("{}.ys", flow.name()));
    let log_path = dir.join(format!("{}.log", flow.name()));
    if let Err(error) = std::fs::write(&script_path, &script) {
        result.fail(
            FlowStatus::Failed,
            format!("cannot write {}: {error}", script_path.display()),
        );
        return result;
    }
    let outcome = run_yosys(
        &options.yosys,
        dir,
        &script_path,
        &log_path,
        options.timeout,
    );
    result.seconds = started.elapsed().as_secs_f64();
    match outcome {
        YosysOutcome::Finished => read_statistics(&mut result, &dir.join(&stat_file)),
        YosysOutcome::TimedOut => result.fail(
            FlowStatus::TimedOut,
            format!(
                "timed out after {} (the per-flow limit) and was stopped",
                seconds_text(options.timeout)
            ),
        ),
        YosysOutcome::Exited(status) => {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            result.fail(
                FlowStatus::Failed,
                format!("yosys {}: {}", exit_text(status), error_line(&log)),
            );
        }
        YosysOutcome::NotRun(message) => result.fail(FlowStatus::Failed, message),
    }
    result
}

/// How a yosys run ended.
enum YosysOutcome {
    /// Exit status 0.
    Finished,
    /// Past the limit: stopped, with everything it started.
    TimedOut,
    /// A non-zero exit status or a signal.
    Exited(ExitStatus),
    /// It could not be started or waited for.
    NotRun(String),
}

fn run_yosys(
    yosys: &Path,
    dir: &Path,
    script: &Path,
    log: &Path,
    timeout: Duration,
) -> YosysOutcome {
    let started = Instant::now();
    let child = Command::new(yosys)
        .arg("-q")
        .arg("-l")
        .arg(log)
        .arg("-s")
        .arg(script)
        .current_dir(dir)
        // ABC's scratch directories (yosys-abc-*) go into `dir`, which is
        // removed afterwards, also when a run is stopped half-way.
        .env("TMPDIR", dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(error) => {
            return YosysOutcome::NotRun(format!("cannot run `{}`: {error}", yosys.display()))
        }
    };
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return YosysOutcome::Finished,
            Ok(Some(status)) => return YosysOutcome::Exited(status),
            Ok(None) if started.elapsed() >= timeout => {
                kill_tree(&mut child);
                return YosysOutcome::TimedOut;
            }
            Ok(None) => std::thread::sleep(POLL.min(timeout)),
            Err(error) => {
                kill_tree(&mut child);
                return YosysOutcome::NotRun(format!("cannot wait for yosys: {error}"));
            }
        }
    }
}

/// How often a running flow is checked.
const POLL: Duration = Duration::from_millis(100);

/// "exited with status 1", "ended with signal: 9 (SIGKILL)".
fn exit_text(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => format!("ended with {status}"),
    }
}

/// The first `ERROR:` of a yosys log, else its last line.
fn error_line(log: &str) -> String {
    if let Some(start) = log.find("ERROR:") {
        let line = log[start..].lines().next().unwrap_or_default();
        // Errors are printed twice with -q (log and console), glued
        // together when the log lacks a final newline.
        let line = match line[1..].find("ERROR:") {
            Some(again) => &line[..again + 1],
            None => line,
        };
        return line.trim().to_string();
    }
    match log.lines().rev().find(|l| !l.trim().is_empty()) {
        Some(line) => format!("no ERROR line; the log ends: {}", line.trim()),
        None => "no ERROR line and an empty log".into(),
    }
}

/// Parse the statistics yosys wrote into `result`.
fn read_statistics(result: &mut FlowResult, stat_path: &Path) {
    match std::fs::read_to_string(stat_path) {
        Ok(text) => {
            match parse_stat_json(&text, hwgen::TOP_MODULE) {
                Ok(modules) => result.modules = modules,
                Err(message) => result.fail(FlowStatus::Failed, message),
            }
            result.stat_json = text;
        }
        Err(error) => result.fail(
            FlowStatus::Failed,
            format!("yosys wrote no statistics: {error}"),
        ),
    }
}

/// Kill `child` and every process it started (yosys runs ABC as
/// `sh -c berkeley-abc ...`), then reap it. Each process is stopped before
/// its children are listed, so none can start another unseen.
fn kill_tree(child: &mut Child) {
    #[cfg(target_os = "linux")]
    {
        let mut tree = vec![child.id()];
        let mut next = 0;
        while next < tree.len() {
            let pid = tree[next];
            signal(pid, libc::SIGSTOP);
            tree.extend(children_of(pid));
            next += 1;
        }
        for &pid in tree.iter().rev() {
            signal(pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(target_os = "linux")]
fn signal(pid: u32, signal: libc::c_int) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers; the pids are this process's
    // unreaped child and its (stopped, so unreapable) descendants.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// The children of `pid`, from `/proc/<pid>/task/*/children`.
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|text| {
            text.split_whitespace()
                .filter_map(|pid| pid.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Run the requested flows in parallel on `design`'s generated RTL.
/// `on_flow_done` is called (from the flow's thread) as each finishes.
pub fn synthesize(
    design: &hwgen::Design,
    options: &SynthOptions,
    on_flow_done: &(dyn Fn(&FlowResult) + Sync),
) -> std::io::Result<Vec<FlowResult>> {
    let dir = tempfile_dir()?;
    let files = hwgen::generate(design);
    hwgen::write_files(&files, &dir)?;
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = options
            .flows
            .iter()
            .map(|&flow| {
                let dir = &dir;
                scope.spawn(move || {
                    let result = run_flow(flow, dir, options);
                    on_flow_done(&result);
                    result
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("synthesis thread"))
            .collect::<Vec<FlowResult>>()
    });
    let _ = std::fs::remove_dir_all(&dir);
    Ok(results)
}

/// A private scratch directory under the system temp dir.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("tandem-synth-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of yosys 0.23's output, including the text hierarchy it
    /// prints inside the `design` section.
    const STAT: &str = r#"{
   "creator": "Yosys 0.23",
   "invocation": "stat -json ",
   "modules": {
      "$paramod$aa\\tandem_pe": {
         "num_cells": 3,
         "num_cells_by_type": { "$_XOR_": 2, "$_DFF_P_": 1 }
      },
      "$paramod$bb\\tandem_pe": {
         "num_cells": 1,
         "num_cells_by_type": { "$_AND_": 1 }
      },
      "$paramod$cc\\tandem_core": {
         "num_cells": 5,
         "num_cells_by_type": { "$paramod$aa\\tandem_pe": 3, "$paramod$bb\\tandem_pe": 1, "$_DFFE_PP_": 1 }
      },
      "\\tandem_top": {
         "num_cells": 2,
         "num_cells_by_type": { "$paramod$cc\\tandem_core": 2 }
      }
   },
      "design": {
         "num_cells": 3
   tandem_top                        1
     $paramod$cc\tandem_core      2
}
"#;

    #[test]
    fn stat_json_hierarchy_is_walked_and_grouped() {
        let modules = parse_stat_json(STAT, "tandem_top").unwrap();
        let names: Vec<&str> = modules.iter().map(|m| m.module.as_str()).collect();
        assert_eq!(names, ["tandem_top", "tandem_core", "tandem_pe"]);
        let pe = &modules[2];
        assert_eq!((pe.variants, pe.instances), (2, 8));
        // 2 cores x (3 x {2 XOR, 1 DFF} + 1 x {1 AND}).
        assert_eq!(pe.cells["$_XOR_"], 12);
        assert_eq!(pe.cells["$_DFF_P_"], 6);
        assert_eq!(pe.cells["$_AND_"], 2);
        assert_eq!(modules[1].cells["$_DFFE_PP_"], 2);
        assert_eq!(modules[0].total_cells(), 0);
    }

    #[test]
    fn generic_cells_are_priced_by_class() {
        let table = crate::EnergyTable::default_45nm().cell_area.unwrap();
        let area = |cell: &str| generic_cell_area(cell, &table).unwrap();
        assert_eq!(area("$_XOR_"), 1.596);
        assert_eq!(area("$_DFF_P_"), 4.522);
        assert!((area("$_DFFE_PP_") - (4.522 + 1.862)).abs() < 1e-12);
        assert!((area("$_SDFF_PN0_") - (4.522 + 1.064)).abs() < 1e-12);
        assert!((area("$_SDFFE_PN0P_") - (4.522 + 1.064 + 1.862)).abs() < 1e-12);
        assert_eq!(area("$_DFF_PN0_"), 5.320);
        assert!(generic_cell_area("$_WEIRD_", &table).is_none());
        let cells = BTreeMap::from([("$_NOT_".to_string(), 2), ("$_WEIRD_".to_string(), 1)]);
        let (total, unpriced) = estimate_area_um2(&cells, &table);
        assert!((total - 1.064).abs() < 1e-12);
        assert_eq!(unpriced, 1);
    }
}
