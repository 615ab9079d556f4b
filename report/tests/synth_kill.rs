//! A real yosys stopped part-way leaves no process and no scratch
//! directory behind. Its own test binary: every process whose command line
//! names this process's synthesis scratch directories
//! (`tandem-synth-<pid>-*`, where yosys and ABC work) belongs to this test.
//! (On this design ABC starts late in the flow; that a child process such
//! as ABC is killed too is tested with a stand-in in synth_status.rs.)

mod common;

use report::synth::{synthesize, yosys_version, FlowStatus};
use report::{SynthFlow, SynthOptions};
use std::path::Path;
use std::time::{Duration, Instant};

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
#[cfg(target_os = "linux")]
fn a_real_yosys_past_its_limit_leaves_no_process_behind() {
    if let Err(why) = yosys_version(Path::new("yosys")) {
        eprintln!("SKIPPED: {why}");
        return;
    }
    // The design the report synthesizes for this model (resolved to 8 bits).
    let (config, _) = common::small_design();
    let needle = format!("tandem-synth-{}-", std::process::id());
    // Stopped at different points of the flow: early, and well into it.
    for seconds in [2, 6] {
        let options = SynthOptions {
            flows: vec![SynthFlow::Xilinx],
            timeout: Duration::from_secs(seconds),
            ..SynthOptions::default()
        };
        let started = Instant::now();
        let flows = synthesize(&config, &options, &|_| {}).unwrap();
        if flows[0].ok() {
            eprintln!("the flow finished within {seconds} s: nothing to stop");
            continue;
        }
        assert_eq!(
            flows[0].status,
            FlowStatus::TimedOut,
            "{:?}",
            flows[0].error
        );
        assert!(started.elapsed() < Duration::from_secs(seconds + 5));
        let left = processes_mentioning(&needle);
        assert!(left.is_empty(), "left running after {seconds} s: {left:?}");
        // ABC's scratch directories went with the flow's.
        let scratch: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(&needle))
            .collect();
        assert!(scratch.is_empty(), "scratch left: {scratch:?}");
    }
}
