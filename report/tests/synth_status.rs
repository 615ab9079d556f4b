//! A synthesis flow that timed out or failed never counts as synthesized:
//! the area is `partial` or `failed`, names the flow and why, and has no
//! figures from it. A timed-out yosys is killed with everything it started.

mod common;

use common::small_design;
use report::synth::{synthesize, FlowStatus};
use report::{build_report, EnergyTable, Report, ReportInputs, SynthFlow, SynthOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn modeled_report() -> Report {
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.synthesis = None;
    build_report(&inputs).unwrap()
}

fn report_md(report: &Report) -> String {
    let dir = tempfile::tempdir().unwrap();
    report.write_dir(dir.path()).unwrap();
    std::fs::read_to_string(dir.path().join("report.md")).unwrap()
}

/// The cells of the area table's rows (module rows, whole design, per PE).
fn area_table_rows(markdown: &str) -> Vec<Vec<String>> {
    let table = markdown
        .split("| Module | Instances |")
        .nth(1)
        .expect("an area table");
    table
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells = line.trim_matches('|').split('|');
            cells.map(|cell| cell.trim().to_string()).collect()
        })
        .collect()
}

#[test]
fn a_failed_flow_makes_the_area_partial_without_its_figures() {
    let mut report = modeled_report();
    report.area = common::synthesized_area(&report, &[SynthFlow::Generic, SynthFlow::Ice40]);
    let area = &report.area;
    assert_eq!(area.status, "partial");
    assert_eq!(area.failed_flows, [SynthFlow::Xilinx]);
    let message = area.message.as_deref().unwrap();
    assert!(
        message.contains("only generic, ice40 synthesized")
            && message.contains("xilinx yosys exited with status 1: ERROR: no xilinx today"),
        "{message}"
    );
    let summary = &area.summary;
    assert!(summary.cells.is_some() && summary.ice40_lut4.is_some());
    assert_eq!(
        (
            summary.luts,
            summary.xilinx_ffs,
            summary.dsps,
            summary.lutram
        ),
        (None, None, None, None)
    );
    assert_eq!((summary.per_pe.luts, summary.per_pe.dsps), (None, None));
    assert_eq!(report.summary()["area_status"], "partial");

    let markdown = report_md(&report);
    assert!(markdown.contains("| Area | **partial**: xilinx failed | - |"));
    assert!(markdown.contains(", **failed**: yosys exited with status 1: ERROR: no xilinx today"));
    assert!(
        !markdown.contains("| Xilinx 7-series |"),
        "no Xilinx summary row"
    );
    let rows = area_table_rows(&markdown);
    assert_eq!(rows.len(), 5, "3 modules, whole design, per PE");
    for row in &rows {
        // Xilinx LUTs, FFs, DSP48, LUTRAM: absent, not zero.
        assert_eq!(row[6..10], ["-", "-", "-", "-"], "{row:?}");
        assert_ne!(row[2], "-", "generic figures are there: {row:?}");
    }
}

#[test]
fn when_every_flow_failed_the_area_failed_and_has_no_figures() {
    let mut report = modeled_report();
    report.area = common::synthesized_area(&report, &[]);
    let area = &report.area;
    assert_eq!(area.status, "failed");
    assert_eq!(area.failed_flows, SynthFlow::ALL);
    let message = area.message.as_deref().unwrap();
    assert!(message.contains("every synthesis flow failed"), "{message}");
    for flow in ["generic", "xilinx", "ice40"] {
        assert!(
            message.contains(&format!("ERROR: no {flow} today")),
            "{message}"
        );
    }
    let summary = serde_json::to_value(&area.summary).unwrap();
    for (key, value) in summary.as_object().unwrap() {
        if key != "per_pe" {
            assert!(value.is_null(), "{key} = {value}");
        }
    }
    assert!(summary["per_pe"]
        .as_object()
        .unwrap()
        .values()
        .all(|v| v.is_null()));
    let markdown = report_md(&report);
    assert!(markdown
        .contains("| Area | not available | - | no area figures: every synthesis flow failed"));
    assert!(
        !markdown.contains("| Module | Instances |"),
        "no area table"
    );
    assert!(markdown.contains("(No area plot: generic synthesis did not run.)"));
}

/// An executable shell script standing in for yosys (`-V` answers a version).
fn fake_yosys(dir: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("fake-yosys");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = -V ]; then echo 'Yosys 0.0 (fake)'; exit 0; fi\n{body}\n"
    );
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn options(yosys: PathBuf, flows: &[SynthFlow], timeout: Duration) -> SynthOptions {
    SynthOptions {
        flows: flows.to_vec(),
        timeout,
        yosys,
    }
}

/// Whether `pid` runs (a zombie waiting to be reaped does not).
fn running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "pid (comm) S ...": the state follows the command's parenthesis.
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap()
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

#[test]
#[cfg(target_os = "linux")]
fn a_timed_out_flow_is_killed_with_the_processes_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // Like yosys running ABC: a child process that outlives a kill of its
    // parent unless it is killed too.
    let yosys = fake_yosys(
        dir.path(),
        &format!("sleep 300 &\necho $! > {}\nwait", pid_file.display()),
    );
    let (config, _) = small_design();
    let options = options(yosys, &[SynthFlow::Generic], Duration::from_secs(2));
    let flows = synthesize(&config, &options, &|_| {}).unwrap();
    let flow = &flows[0];
    assert_eq!(flow.status, FlowStatus::TimedOut);
    assert!(!flow.ok());
    let error = flow.error.as_deref().unwrap();
    assert!(error.starts_with("timed out after 2 s"), "{error}");
    assert!(flow.modules.is_empty());
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .expect("the fake yosys started its child")
        .trim()
        .parse()
        .unwrap();
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        !running(pid)
    });
    assert!(gone, "the flow's child process {pid} was left running");
}

#[test]
#[cfg(target_os = "linux")]
fn a_failing_yosys_is_reported_with_its_exit_status_and_error_line() {
    let dir = tempfile::tempdir().unwrap();
    // yosys' arguments: -q -l LOG -s SCRIPT; -q prints errors to the log
    // and the console, the last without a final newline.
    let yosys = fake_yosys(
        dir.path(),
        "printf 'reading\\nERROR: Module `nosuch'\\'' not found!ERROR: Module `nosuch'\\'' not found!' > \"$3\"\nexit 3",
    );
    let (config, _) = small_design();
    let options = options(yosys, &[SynthFlow::Ice40], Duration::from_secs(60));
    let flows = synthesize(&config, &options, &|_| {}).unwrap();
    assert_eq!(flows[0].status, FlowStatus::Failed);
    assert_eq!(
        flows[0].error.as_deref(),
        Some("yosys exited with status 3: ERROR: Module `nosuch' not found!")
    );
}

fn yosys_installed() -> bool {
    match report::synth::yosys_version(Path::new("yosys")) {
        Ok(_) => true,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            false
        }
    }
}

#[test]
fn a_flow_past_a_tiny_timeout_gives_a_failed_area_without_cell_counts() {
    if !yosys_installed() {
        return;
    }
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.synthesis = Some(options(
        "yosys".into(),
        &[SynthFlow::Generic],
        Duration::from_millis(1),
    ));
    let report = build_report(&inputs).unwrap();
    assert_eq!(report.area.status, "failed");
    assert_eq!(report.area.flows[0].status, FlowStatus::TimedOut);
    let message = report.area.message.as_deref().unwrap();
    assert!(
        message.contains("generic timed out after 0.001 s"),
        "{message}"
    );
    assert_eq!(report.area.summary.cells, None);
    assert_eq!(report.area.summary.flip_flops, None);
    assert!(report.summary()["cells"].is_null());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("area: no area figures")),
        "{:?}",
        report.notes
    );
}

#[test]
#[cfg(target_os = "linux")]
fn one_failing_flow_of_two_gives_a_partial_area() {
    if !yosys_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The real yosys, except that the Xilinx flow fails.
    let yosys = fake_yosys(
        dir.path(),
        "if grep -q synth_xilinx \"$5\"; then echo 'ERROR: no xilinx today' > \"$3\"; exit 1; fi\nexec yosys \"$@\"",
    );
    let (config, model) = small_design();
    let table = EnergyTable::default_45nm();
    let mut inputs = ReportInputs::new(&config, &model, &table);
    inputs.synthesis = Some(options(
        yosys,
        &[SynthFlow::Generic, SynthFlow::Xilinx],
        Duration::from_secs(600),
    ));
    let report = build_report(&inputs).unwrap();
    let area = &report.area;
    assert_eq!(area.status, "partial", "{:?}", area.message);
    assert_eq!(area.failed_flows, [SynthFlow::Xilinx]);
    assert!(area.summary.cells.unwrap() > 0);
    assert_eq!((area.summary.luts, area.summary.dsps), (None, None));
    let message = area.message.as_deref().unwrap();
    assert!(
        message.contains("xilinx yosys exited with status 1: ERROR: no xilinx today"),
        "{message}"
    );
}
