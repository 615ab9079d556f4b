//! Bad configurations are rejected with errors that name the field and
//! where its value came from.

use trainer::{Preset, TrainConfig};

fn error_of(config: &TrainConfig) -> String {
    config.validate().unwrap_err().to_string()
}

fn from_yaml(text: &str) -> Result<TrainConfig, String> {
    TrainConfig::from_yaml_str(text, "configs/bad.yaml", None).map_err(|e| e.to_string())
}

#[test]
fn bit_widths_out_of_range_are_rejected() {
    let mut config = TrainConfig::preset(Preset::Quick);
    config.wbits = 0;
    config.set_origin("wbits", "--wbits");
    let message = error_of(&config);
    assert!(message.contains("--wbits"), "{message}");
    assert!(message.contains("wbits = 0"), "{message}");
    assert!(message.contains("2..=16"), "{message}");

    let config = from_yaml("abits: 17\n").unwrap();
    let message = error_of(&config);
    assert!(message.contains("configs/bad.yaml"), "{message}");
    assert!(message.contains("abits = 17"), "{message}");
    assert!(message.contains("1..=16"), "{message}");

    let config = from_yaml("wbits: 17\n").unwrap();
    assert!(error_of(&config).contains("wbits = 17"));
    let config = from_yaml("first_last_wbits: 1\n").unwrap();
    assert!(error_of(&config).contains("first_last_wbits"));
}

#[test]
fn unknown_dataset_is_rejected_with_the_valid_names() {
    let config = from_yaml("dataset: imagenet\n").unwrap();
    let message = error_of(&config);
    assert!(message.contains("configs/bad.yaml"), "{message}");
    assert!(message.contains("imagenet"), "{message}");
    assert!(
        message.contains("fashion-mnist, mnist, cifar10"),
        "{message}"
    );
    assert!(message.contains("--dataset"), "{message}");
}

#[test]
fn missing_data_dir_is_rejected() {
    let mut config = TrainConfig::preset(Preset::Quick);
    config.data_dir = Some("/nonexistent/fashion".into());
    config.set_origin("data_dir", "--data-dir");
    let message = error_of(&config);
    assert!(message.contains("--data-dir"), "{message}");
    assert!(message.contains("/nonexistent/fashion"), "{message}");
    assert!(message.contains("does not exist"), "{message}");
}

#[test]
fn zero_width_is_rejected() {
    let config = from_yaml("width: 0\n").unwrap();
    let message = error_of(&config);
    assert!(message.contains("configs/bad.yaml"), "{message}");
    assert!(message.contains("field `width`"), "{message}");
    assert!(message.contains("(0, 4]"), "{message}");
}

#[test]
fn unknown_fields_and_presets_are_named() {
    let message = from_yaml("wbit: 4\n").unwrap_err();
    assert!(message.contains("wbit"), "{message}");
    assert!(message.contains("configs/bad.yaml"), "{message}");
    let message = from_yaml("student:\n  lr_max: 1\n").unwrap_err();
    assert!(message.contains("lr_max"), "{message}");
    let message = from_yaml("preset: huge\n").unwrap_err();
    assert!(message.contains("huge"), "{message}");
}

#[test]
fn yaml_overrides_the_preset_field_by_field() {
    let config = from_yaml("preset: full\nwbits: 2\nstudent:\n  lr: 0.01\n").unwrap();
    assert_eq!(config.preset, Preset::Full);
    assert_eq!(config.wbits, 2);
    assert_eq!(config.student.lr, 0.01);
    // Untouched fields keep the full preset's values.
    assert_eq!(config.width, 0.25);
    assert_eq!(
        config.student.temperature,
        TrainConfig::preset(Preset::Full).student.temperature
    );
    // The flag's preset wins over the file's.
    let config =
        TrainConfig::from_yaml_str("preset: full\n", "f.yaml", Some(Preset::Quick)).unwrap();
    assert_eq!(config.preset, Preset::Quick);
    assert_eq!(config.width, TrainConfig::preset(Preset::Quick).width);
}

#[test]
fn preset_files_write_out_their_presets() {
    // configs/train-*.yaml say they are the presets written out: every
    // field they set must equal the preset's value, so that editing one
    // without the other fails here.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (file, preset) in [
        ("configs/train-quick.yaml", Preset::Quick),
        ("configs/train-full.yaml", Preset::Full),
    ] {
        let mut from_file = TrainConfig::from_yaml_file(&root.join(file), None).unwrap();
        let mut expected = TrainConfig::preset(preset);
        // Only where each value came from may differ.
        from_file.origins.clear();
        expected.origins.clear();
        assert_eq!(from_file, expected, "{file}");
    }
}

#[test]
fn a_file_that_is_not_a_mapping_says_what_it_must_be() {
    for (text, found) in [("- 1\n- 2\n", "a list"), ("5\n", "a single value")] {
        let message = from_yaml(text).unwrap_err();
        assert!(message.contains("configs/bad.yaml"), "{message}");
        assert!(message.contains(found), "{message}");
        assert!(message.contains("mapping of fields"), "{message}");
        assert!(message.contains("wbits: 4"), "{message}");
    }
}

#[test]
fn wrong_types_name_the_field_and_no_rust_type() {
    for (text, field, expected) in [
        ("student: 5\n", "student", "a mapping of fields"),
        ("teacher: [1]\n", "teacher", "a mapping of fields"),
        ("wbits: 300\n", "wbits", "a whole number from 0 to 255"),
        ("seed: -1\n", "seed", "a whole number, 0 or more"),
        ("student:\n  lr: fast\n", "student.lr", "a number"),
        ("baselines:\n  qat: 3\n", "baselines.qat", "a boolean"),
        ("out: 5\n", "out", "a path"),
        ("preset: [1]\n", "preset", "`quick` or `full`"),
    ] {
        let message = from_yaml(text).unwrap_err();
        assert!(message.contains("configs/bad.yaml"), "{message}");
        assert!(message.contains(&format!("field `{field}`")), "{message}");
        assert!(message.contains(expected), "{message}");
        for internal in [
            "struct", "Config", "u8", "u64", "f64", "Sequence", "Number(",
        ] {
            assert!(!message.contains(internal), "{internal} in: {message}");
        }
    }
}

#[test]
fn a_stage_share_that_is_not_positive_is_rejected() {
    let config = from_yaml("student:\n  stage_shares: [2, 1, 0, 1, 1, 1, 1]\n").unwrap();
    let message = error_of(&config);
    assert!(message.contains("configs/bad.yaml"), "{message}");
    assert!(message.contains("student.stage_shares"), "{message}");
    assert!(message.contains("positive"), "{message}");
    for bad in ["-1", ".nan", ".inf"] {
        let text = format!("student:\n  stage_shares: [1, 1, {bad}, 1, 1, 1, 1]\n");
        let message = error_of(&from_yaml(&text).unwrap());
        assert!(message.contains("student.stage_shares"), "{bad}: {message}");
    }
    let mut config = from_yaml("student:\n  stage_shares: [2, 2, 1, 1, 1, 0.5, 0.5]\n").unwrap();
    // `validate` also wants the dataset directory to exist; any directory will do.
    config.data_dir = Some(env!("CARGO_MANIFEST_DIR").into());
    config.validate().unwrap();
}
