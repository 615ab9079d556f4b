//! A short run of every fuzz target (20,000 executions each, fixed seed):
//! no panics, no hangs, and the mutator reaches both the accepting and the
//! rejecting paths of each loader. The full 10^6 run is `make fuzz`.

use std::time::Duration;
use tandem_fuzz::{fuzz, target, FuzzConfig, TARGETS};

const EXECUTIONS: u64 = 20_000;

fn short_run(name: &str) {
    let target = target(name).expect("target exists");
    let crash_dir = tempfile::tempdir().unwrap();
    let config = FuzzConfig {
        executions: EXECUTIONS,
        seed: 1,
        // Generous: the machine may be busy with the rest of the suite; a
        // real infinite loop still trips it.
        time_limit: Duration::from_secs(10),
        crash_dir: Some(crash_dir.path().to_path_buf()),
        list_messages: 0,
    };
    let summary = fuzz(target, &config);
    eprintln!("{}", summary.line());
    let messages: Vec<String> = summary
        .saved
        .iter()
        .map(|dir| std::fs::read_to_string(dir.join("message.txt")).unwrap_or_default())
        .collect();
    assert_eq!(summary.executions, EXECUTIONS);
    assert_eq!(
        (summary.panics, summary.hangs),
        (0, 0),
        "{name}: crashes: {messages:?}"
    );
    assert!(summary.accepted > 0, "{name}: no input was accepted");
    assert!(summary.rejected > 0, "{name}: no input was rejected");
    assert!(
        summary.distinct_messages >= 2,
        "{name}: only {} distinct messages: the mutator barely explores",
        summary.distinct_messages
    );
}

#[test]
fn every_seed_is_accepted() {
    for target in &TARGETS {
        for (index, seed) in (target.seeds)().iter().enumerate() {
            assert_eq!((target.run)(seed), Ok(()), "{} seed {index}", target.name);
            assert_eq!(seed.len(), target.file_names.len(), "{}", target.name);
        }
    }
}

#[test]
fn same_seed_same_run() {
    let config = FuzzConfig {
        executions: 2_000,
        seed: 9,
        time_limit: Duration::from_secs(10),
        crash_dir: None,
        list_messages: 0,
    };
    let target = target("hw-yaml").unwrap();
    let (first, second) = (fuzz(target, &config), fuzz(target, &config));
    assert_eq!(
        (first.accepted, first.rejected, first.distinct_messages),
        (second.accepted, second.rejected, second.distinct_messages)
    );
}

#[test]
fn model_yaml() {
    short_run("model-yaml");
}

#[test]
fn model_safetensors() {
    short_run("model-safetensors");
}

#[test]
fn hw_yaml() {
    short_run("hw-yaml");
}

#[test]
fn energy_table() {
    short_run("energy-table");
}

#[test]
fn idx() {
    short_run("idx");
}

#[test]
fn cifar10() {
    short_run("cifar10");
}
