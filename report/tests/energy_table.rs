//! Loading energy tables: the repository's file, and clear errors for bad
//! ones (the file and the field named).

use report::energy_table::{EnergyTable, EnergyTableError, DEFAULT_TABLE_YAML};
use std::path::Path;

const REPO_TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/energy-45nm.yaml");

#[test]
fn the_repository_table_is_the_built_in_one_and_cites_every_source() {
    let from_file = EnergyTable::from_yaml_file(REPO_TABLE).unwrap();
    let built_in = EnergyTable::default_45nm();
    assert_eq!(
        std::fs::read_to_string(REPO_TABLE).unwrap(),
        DEFAULT_TABLE_YAML
    );
    assert_eq!(from_file.multiply, built_in.multiply);
    assert_eq!(from_file.technology_nm, 45.0);
    for id in ["horowitz2014", "han2015", "aladdin2014", "nangate45"] {
        assert!(from_file.sources.contains_key(id), "{id}");
    }
    for primitive in report::energy_table::Primitive::ALL {
        let entry = from_file.entry(primitive);
        assert_eq!(entry.technology_nm, 45.0);
        assert!(!entry.sources.is_empty());
    }
}

/// Write `text` to a file and load it; return the error message.
fn error_for(text: &str) -> (String, EnergyTableError) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my-table.yaml");
    std::fs::write(&path, text).unwrap();
    let error = EnergyTable::from_yaml_file(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "the message must start with the file: {message}"
    );
    (message, error)
}

fn edited(from: &str, to: &str) -> String {
    assert!(DEFAULT_TABLE_YAML.contains(from), "{from}");
    DEFAULT_TABLE_YAML.replacen(from, to, 1)
}

#[test]
fn invalid_values_name_the_field() {
    let cases = [
        (
            edited("low_pj: 0.194", "low_pj: -1"),
            "actions.multiply.low_pj",
            "= -1: must be a finite energy",
        ),
        (
            edited("low_pj: 0.194", "low_pj: 0.3"),
            "actions.multiply.low_pj",
            "must be <= typical_pj",
        ),
        (
            edited("high_pj: 0.12", "high_pj: 0.05"),
            "actions.add.high_pj",
            "must be >= typical_pj",
        ),
        (
            edited("scaling: operand_product", "scaling: linear"),
            "actions.multiply.scaling",
            "must be `operand_product`",
        ),
        (
            edited("sources: [horowitz2014]", "sources: [nobody2020]"),
            "actions.add.sources",
            "unknown source id",
        ),
        (
            edited(
                "{ capacity_kib: 32, low_pj: 20",
                "{ capacity_kib: 4, low_pj: 20",
            ),
            "actions.sram.capacity_points[1].capacity_kib",
            "sorted by increasing capacity",
        ),
        (
            edited("format_version: 1", "format_version: 2"),
            "format_version",
            "reads format_version 1",
        ),
        (
            edited("    dff: 4.522\n", ""),
            "cell_area.um2.dff",
            "price every generic cell class",
        ),
        (
            edited(
                "technology_nm: 45\n\nsources",
                "technology_nm: 0\n\nsources",
            ),
            "technology_nm",
            "technology node",
        ),
    ];
    for (text, field, fix) in cases {
        let (message, error) = error_for(&text);
        assert_eq!(error.field(), Some(field), "{message}");
        assert!(message.contains(&format!("{field} = ")), "{message}");
        assert!(message.contains(fix), "{message}");
    }
}

#[test]
fn unknown_and_missing_fields_are_rejected_by_name() {
    let (message, _) = error_for(&edited(
        "reference_bits: 8",
        "reference_bits: 8\n    typo_pj: 1",
    ));
    assert!(message.contains("typo_pj"), "{message}");
    let without_dram_start = DEFAULT_TABLE_YAML.find("  # Off-chip DRAM").unwrap();
    let without_dram_end = DEFAULT_TABLE_YAML.find("# Area of yosys").unwrap();
    let text = format!(
        "{}{}",
        &DEFAULT_TABLE_YAML[..without_dram_start],
        &DEFAULT_TABLE_YAML[without_dram_end..]
    );
    let (message, _) = error_for(&text);
    assert!(message.contains("dram"), "{message}");
    let (message, _) = error_for("just: [text");
    assert!(message.contains("not a valid energy table"), "{message}");
}

#[test]
fn a_missing_file_says_so() {
    let error = EnergyTable::from_yaml_file(Path::new("/nonexistent/table.yaml")).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("/nonexistent/table.yaml: cannot read energy table"),
        "{message}"
    );
}
