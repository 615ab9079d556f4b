//! The checked-in RTL of every preset (`rtl/generated/<name>/`) is exactly
//! what the generator produces from `configs/hw-*.yaml`.
//!
//! After changing the generator, the leaf RTL in `rtl/lib/` or a preset,
//! regenerate with `cargo run -p hwgen --example regen`, or run this test
//! with `TANDEM_BLESS=1`.

use hwgen::generate::diff_dir;
use hwgen::{generate, resolve, write_files, Design, HwConfig};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn presets() -> Vec<PathBuf> {
    let mut presets: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.starts_with("hw-") && name.ends_with(".yaml")
        })
        .collect();
    presets.sort();
    presets
}

#[test]
fn the_four_presets_exist_and_load() {
    let names: Vec<String> = presets()
        .iter()
        .map(|path| HwConfig::from_yaml_file(path).unwrap().name)
        .collect();
    for expected in [
        "hw-16x16-w2a2",
        "hw-16x16-w4a4",
        "hw-16x16-w8a8",
        "hw-8x8-w4a4",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    for path in presets() {
        let config = HwConfig::from_yaml_file(&path).unwrap();
        let stem = path.file_stem().unwrap().to_string_lossy();
        assert_eq!(
            config.name,
            stem,
            "{}: name should match the file name",
            path.display()
        );
    }
}

#[test]
fn checked_in_rtl_matches_the_generator() {
    let bless = std::env::var_os("TANDEM_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for path in presets() {
        let relative = path.strip_prefix(root()).unwrap();
        let design = Design::preset(&root(), relative).unwrap();
        let config = &design.config;
        let dir = root().join("rtl/generated").join(&config.name);
        let files = generate(&design);
        if bless {
            write_files(&files, &dir).unwrap();
            for problem in diff_dir(&files, &dir).unwrap() {
                if let Some(extra) = problem.strip_prefix("extra: ") {
                    std::fs::remove_file(dir.join(extra)).unwrap();
                }
            }
        }
        for problem in diff_dir(&files, &dir).unwrap() {
            stale.push(format!("rtl/generated/{}/: {problem}", config.name));
        }
    }
    assert!(
        stale.is_empty(),
        "the checked-in RTL is stale:\n  {}\nregenerate with `cargo run -p hwgen --example regen` \
         (or `TANDEM_BLESS=1 cargo test -p hwgen --test presets`)",
        stale.join("\n  ")
    );
}

#[test]
fn every_preset_has_its_resolved_config_and_it_resolves_to_itself() {
    for path in presets() {
        let name = HwConfig::from_yaml_file(&path).unwrap().name;
        let hw_yaml = root().join("rtl/generated").join(&name).join("hw.yaml");
        let resolved = HwConfig::from_yaml_file(&hw_yaml).unwrap();
        let design = resolve(&resolved, None).unwrap();
        assert!(design.changes.is_empty(), "{name}: {:?}", design.changes);
        assert_eq!(
            design.config, resolved,
            "{name}: hw.yaml is already resolved"
        );
        let banner = std::fs::read_to_string(
            root()
                .join("rtl/generated")
                .join(&name)
                .join("tandem_top.v"),
        )
        .unwrap();
        assert!(
            banner.contains(&format!(
                "tandem hwgen --hw configs/{name}.yaml --out rtl/generated/{name}"
            )),
            "{name}: the banner names the regenerate command"
        );
    }
}
