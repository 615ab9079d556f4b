//! Error messages of the model loader: the tensor at fault is named, no
//! internal type name leaks, and each cause is printed once.

use golden::io::{self, TENSORS_FILE, YAML_FILE};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use golden::Model;
use std::error::Error;
use std::path::Path;

fn small_model() -> Model {
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 1, 10).unwrap();
    let bits = RandomBits {
        w_bits: 4,
        a_bits: 4,
        first_last_w_bits: None,
    };
    random_model(&topology, bits, 3).unwrap()
}

/// The model's safetensors bytes with `edit` applied to the JSON header.
fn with_header(tensors: &[u8], edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
    let header_len = u64::from_le_bytes(tensors[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value =
        serde_json::from_slice(&tensors[8..8 + header_len]).unwrap();
    edit(&mut header);
    let header = serde_json::to_vec(&header).unwrap();
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&tensors[8 + header_len..]);
    bytes
}

fn load_error(yaml: &[u8], tensors: &[u8]) -> String {
    io::from_bytes(Path::new("m"), yaml, tensors)
        .expect_err("a broken model was accepted")
        .to_string()
}

#[test]
fn bytes_round_trip_like_files() {
    let model = small_model();
    let files = io::to_bytes(&model).unwrap();
    let loaded = io::from_bytes(Path::new("anywhere"), files.yaml.as_bytes(), &files.tensors);
    assert_eq!(loaded.unwrap(), model);
    let dir = tempfile::tempdir().unwrap();
    io::save(&model, dir.path()).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join(YAML_FILE)).unwrap(),
        files.yaml.as_bytes()
    );
    assert_eq!(
        std::fs::read(dir.path().join(TENSORS_FILE)).unwrap(),
        files.tensors
    );
}

#[test]
fn safetensors_shape_errors_name_the_tensor() {
    let files = io::to_bytes(&small_model()).unwrap();
    // A shape whose byte count disagrees with the tensor's offsets.
    let tensors = with_header(&files.tensors, |header| {
        header["conv2.weight"]["shape"][0] = serde_json::json!(1000);
    });
    let message = load_error(files.yaml.as_bytes(), &tensors);
    for needle in [
        "m/model.safetensors",
        "conv2.weight",
        "shape [1000",
        "bytes",
    ] {
        assert!(message.contains(needle), "`{needle}` not in: {message}");
    }
    // A shape too large to count.
    let tensors = with_header(&files.tensors, |header| {
        header["fc6.bias"]["shape"] = serde_json::json!([usize::MAX, 4]);
    });
    let message = load_error(files.yaml.as_bytes(), &tensors);
    assert!(message.contains("fc6.bias"), "{message}");
}

#[test]
fn safetensors_offset_errors_name_the_tensor() {
    let files = io::to_bytes(&small_model()).unwrap();
    // Shift one tensor's offsets: it no longer starts where the previous ends.
    let mut shifted = None;
    let tensors = with_header(&files.tensors, |header| {
        let offsets = &mut header["conv3.weight"]["data_offsets"];
        let (start, stop) = (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap());
        *offsets = serde_json::json!([start + 1, stop + 1]);
        shifted = Some(start + 1);
    });
    let message = load_error(files.yaml.as_bytes(), &tensors);
    let start = shifted.unwrap();
    for needle in ["conv3.weight", &format!("data_offsets [{start}")] {
        assert!(message.contains(needle), "`{needle}` not in: {message}");
    }

    // Data cut short: the last tensor (by offset) is named.
    let cut = &files.tensors[..files.tensors.len() - 3];
    let message = load_error(files.yaml.as_bytes(), cut);
    assert!(message.contains("tensor `"), "{message}");
    assert!(message.contains("data bytes"), "{message}");
}

#[test]
fn yaml_type_errors_say_what_the_file_must_be() {
    let files = io::to_bytes(&small_model()).unwrap();
    let cases: [(&str, &[&str]); 4] = [
        ("- a\n- b\n", &["model.yaml mapping", "format_version"]),
        ("42\n", &["model.yaml mapping"]),
        (
            &files.yaml.replacen("input:\n", "input: 3\nunused:\n", 1),
            &["input mapping"],
        ),
        (
            &files
                .yaml
                .replacen("provenance:\n", "provenance: []\nunused:\n", 1),
            &["provenance mapping"],
        ),
    ];
    for (yaml, needles) in cases {
        let message = load_error(yaml.as_bytes(), &files.tensors);
        for needle in needles {
            assert!(message.contains(needle), "`{needle}` not in: {message}");
        }
        for internal in [
            "struct",
            "VersionProbe",
            "ModelFile",
            "InputEntry",
            "Provenance",
        ] {
            assert!(!message.contains(internal), "`{internal}` leaks: {message}");
        }
    }
    // A layer that is not a mapping.
    let yaml = files.yaml.replacen("layers:\n", "layers:\n- 7\n", 1);
    let message = load_error(yaml.as_bytes(), &files.tensors);
    assert!(message.contains("layer mapping"), "{message}");
    assert!(!message.contains("LayerEntry"), "{message}");
}

#[test]
fn non_utf8_yaml_is_named() {
    let files = io::to_bytes(&small_model()).unwrap();
    let mut yaml = files.yaml.into_bytes();
    yaml[3] = 0xff;
    let message = load_error(&yaml, &files.tensors);
    assert!(
        message.contains("m/model.yaml") && message.contains("UTF-8"),
        "{message}"
    );
}

#[test]
fn io_errors_print_their_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let error = io::load(dir.path()).unwrap_err();
    let message = error.to_string();
    let cause = error
        .source()
        .expect("the I/O error is the source")
        .to_string();
    assert!(
        message.contains(YAML_FILE) && message.contains("cannot read"),
        "{message}"
    );
    assert!(
        !message.contains(&cause),
        "cause `{cause}` repeated in `{message}`"
    );
    let chain = format!("{message}: {cause}");
    assert_eq!(chain.matches("os error").count(), 1, "{chain}");
}

#[test]
fn absurd_sizes_are_errors_not_overflows() {
    let files = io::to_bytes(&small_model()).unwrap();
    let huge = u64::MAX.to_string();
    let cases = [
        ("padding: 1\n", format!("padding: {huge}\n"), "padding"),
        (
            "padding: 1\n",
            format!("padding: {}\n", u64::MAX / 4),
            "padding",
        ),
        (
            "shape:\n  - 1\n",
            format!("shape:\n  - {huge}\n"),
            "input shape",
        ),
        (
            "shape:\n  - 1\n  - 32\n  - 32\n",
            format!("shape:\n  - 1\n  - {}\n  - {}\n", 1u64 << 30, 1u64 << 30),
            "multiply-accumulates",
        ),
    ];
    for (from, to, needle) in cases {
        assert!(
            files.yaml.contains(from),
            "test setup: `{from}` not in model.yaml"
        );
        let yaml = files.yaml.replacen(from, &to, 1);
        let message = load_error(yaml.as_bytes(), &files.tensors);
        assert!(message.contains(needle), "`{needle}` not in: {message}");
    }
}

#[test]
fn in_memory_models_with_absurd_sizes_are_rejected() {
    use golden::model::{ComputeParams, Conv2d, Layer, Op, Output, Provenance, Shape};
    let conv = Layer {
        name: "wide".into(),
        op: Op::Conv2d(Conv2d {
            in_channels: usize::MAX / 2,
            out_channels: 3,
            kernel: [3, 3],
            stride: 1,
            padding: 0,
            params: ComputeParams {
                w_bits: 4,
                in_bits: 8,
                output: Output::Logits,
                weights: vec![0; 27],
                bias: vec![0; 3],
            },
        }),
    };
    let input = Shape::new(usize::MAX / 2, 4, 4);
    let error = Model::new(
        "x",
        "custom",
        1.0,
        input,
        8,
        Provenance::default(),
        vec![conv],
    );
    let message = error.unwrap_err().to_string();
    assert!(
        message.contains("more values") || message.contains("products"),
        "{message}"
    );
}
