//! Model directories: round trips, and a rejection test for every malformed
//! file we could think of. Each rejection must name the file and, where there
//! is one, the layer or tensor.

use golden::io::{self, TENSORS_FILE, YAML_FILE};
use golden::model::{ComputeParams, Layer, Linear, Model, Op, Output, Provenance, Shape};
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};
use std::collections::BTreeMap;
use std::path::Path;

fn small_model() -> Model {
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 1, 10).unwrap();
    random_model(
        &topology,
        RandomBits {
            w_bits: 4,
            a_bits: 4,
            first_last_w_bits: Some(8),
        },
        3,
    )
    .unwrap()
}

fn saved() -> (tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model();
    io::save(&model, dir.path()).unwrap();
    (dir, model)
}

fn edit_yaml(dir: &Path, from: &str, to: &str) {
    let path = dir.join(YAML_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(from),
        "test setup: `{from}` not in model.yaml"
    );
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Rewrite model.safetensors with `edit` applied to its (name -> (dtype,
/// shape, bytes)) map.
fn edit_tensors(
    dir: &Path,
    edit: impl FnOnce(&mut BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>),
) {
    let path = dir.join(TENSORS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    let mut map: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            (
                name,
                (view.dtype(), view.shape().to_vec(), view.data().to_vec()),
            )
        })
        .collect();
    edit(&mut map);
    let views: BTreeMap<String, TensorView<'_>> = map
        .iter()
        .map(|(name, (dtype, shape, data))| {
            (
                name.clone(),
                TensorView::new(*dtype, shape.clone(), data).unwrap(),
            )
        })
        .collect();
    std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Load must fail and the message must contain every one of `needles`.
fn expect_rejection(dir: &Path, needles: &[&str]) {
    let error = io::load(dir).expect_err("malformed model was accepted");
    let message = error.to_string();
    for needle in needles {
        assert!(
            message.contains(needle),
            "error message `{message}` does not mention `{needle}`"
        );
    }
}

/// A saved model with `from` replaced by `to` in model.yaml must be
/// rejected with a message containing every one of `needles`.
fn expect_yaml_edit_rejected(from: &str, to: &str, needles: &[&str]) {
    let (dir, _) = saved();
    edit_yaml(dir.path(), from, to);
    expect_rejection(dir.path(), needles);
}

/// A saved model with `edit` applied to its tensors must be rejected with a
/// message containing every one of `needles`.
fn expect_tensor_edit_rejected(
    edit: impl FnOnce(&mut BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>),
    needles: &[&str],
) {
    let (dir, _) = saved();
    edit_tensors(dir.path(), edit);
    expect_rejection(dir.path(), needles);
}

#[test]
fn round_trip_is_exact() {
    let (dir, model) = saved();
    let loaded = io::load(dir.path()).unwrap();
    assert_eq!(loaded, model);
    // Saving again produces byte-identical files (deterministic output).
    let again = tempfile::tempdir().unwrap();
    io::save(&loaded, again.path()).unwrap();
    for file in [YAML_FILE, TENSORS_FILE] {
        let first = std::fs::read(dir.path().join(file)).unwrap();
        let second = std::fs::read(again.path().join(file)).unwrap();
        assert!(first == second, "{file} differs after a round trip");
    }
    // No temporary files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "unexpected files: {names:?}");
}

#[test]
fn sixteen_bit_weights_round_trip_as_int16() {
    let topology = Topology::new(Preset::AlexnetCifar, 0.0625, 3, 10).unwrap();
    let model = random_model(
        &topology,
        RandomBits {
            w_bits: 12,
            a_bits: 8,
            first_last_w_bits: Some(16),
        },
        5,
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    io::save(&model, dir.path()).unwrap();
    let bytes = std::fs::read(dir.path().join(TENSORS_FILE)).unwrap();
    let tensors = SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(tensors.tensor("conv1.weight").unwrap().dtype(), Dtype::I16);
    assert_eq!(tensors.tensor("conv1.bias").unwrap().dtype(), Dtype::I32);
    assert_eq!(io::load(dir.path()).unwrap(), model);
}

#[test]
fn random_models_are_deterministic() {
    assert_eq!(small_model(), small_model());
}

#[test]
fn rejects_missing_directory_and_files() {
    let dir = tempfile::tempdir().unwrap();
    expect_rejection(&dir.path().join("nope"), &["nope", "model directory"]);
    expect_rejection(dir.path(), &[YAML_FILE]);
    let (dir, _) = saved();
    std::fs::remove_file(dir.path().join(TENSORS_FILE)).unwrap();
    expect_rejection(dir.path(), &[TENSORS_FILE]);
}

#[test]
fn rejects_truncated_safetensors() {
    let (dir, _) = saved();
    let path = dir.path().join(TENSORS_FILE);
    let bytes = std::fs::read(&path).unwrap();
    for keep in [0, 4, 20, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..keep]).unwrap();
        expect_rejection(dir.path(), &[TENSORS_FILE]);
    }
}

#[test]
fn rejects_garbage_and_truncated_yaml() {
    let (dir, _) = saved();
    let path = dir.path().join(YAML_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    expect_rejection(dir.path(), &[YAML_FILE]);
    std::fs::write(&path, "{{{ not yaml").unwrap();
    expect_rejection(dir.path(), &[YAML_FILE]);
    std::fs::write(&path, "name: x\n").unwrap();
    expect_rejection(dir.path(), &[YAML_FILE, "format_version"]);
}

#[test]
fn rejects_unknown_version() {
    expect_yaml_edit_rejected(
        "format_version: 1",
        "format_version: 2",
        &[YAML_FILE, "format_version 2", "version 1"],
    );
}

#[test]
fn rejects_wrong_dtypes() {
    expect_tensor_edit_rejected(
        |map| {
            let bias = map.get_mut("conv2.bias").unwrap();
            bias.0 = Dtype::F32;
        },
        &[TENSORS_FILE, "conv2.bias", "F32"],
    );

    expect_tensor_edit_rejected(
        |map| {
            let weight = map.get_mut("conv3.weight").unwrap();
            // Same bytes reinterpreted as u8: still the wrong dtype.
            weight.0 = Dtype::U8;
        },
        &[TENSORS_FILE, "conv3.weight", "U8"],
    );
}

#[test]
fn rejects_weight_out_of_range_for_its_bit_width() {
    expect_tensor_edit_rejected(
        |map| {
            // conv2 is 4-bit: [-7, 7]; -8 is outside the narrow range.
            map.get_mut("conv2.weight").unwrap().2[5] = (-8i8) as u8;
        },
        &[TENSORS_FILE, "conv2.weight", "-8", "[-7, 7]"],
    );
}

#[test]
fn rejects_shape_mismatches() {
    // Tensor shape disagrees with the YAML.
    expect_tensor_edit_rejected(
        |map| {
            let weight = map.get_mut("fc7.weight").unwrap();
            let (rows, cols) = (weight.1[0], weight.1[1]);
            weight.1 = vec![cols, rows];
        },
        &[TENSORS_FILE, "fc7.weight", "shape"],
    );

    // YAML layer chaining broken: conv3 claims more input channels.
    let (dir, model) = saved();
    let conv2_out = model.output_shape(1).channels;
    edit_yaml(
        dir.path(),
        &format!("in_channels: {conv2_out}\n  out_channels"),
        &format!("in_channels: {}\n  out_channels", conv2_out + 1),
    );
    expect_rejection(
        dir.path(),
        &[TENSORS_FILE, "conv3.weight", "model.yaml implies"],
    );
}

#[test]
fn rejects_missing_and_extra_tensors() {
    expect_tensor_edit_rejected(
        |map| {
            map.remove("conv4.bias");
        },
        &[TENSORS_FILE, "conv4.bias", "missing"],
    );

    expect_tensor_edit_rejected(
        |map| {
            map.insert("stray.weight".into(), (Dtype::I8, vec![1], vec![0]));
        },
        &[TENSORS_FILE, "stray.weight", "not used"],
    );
}

#[test]
fn rejects_bad_yaml_fields() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("kind: conv2d", "kind: conv3d", &["conv1", "conv3d"]),
        ("name: conv1\n", "name: conv1\n  colour: red\n", &["colour"]),
        ("w_bits: 8", "w_bits: 17", &["conv1", "w_bits = 17"]),
        ("w_bits: 8", "w_bits: 1", &["conv1", "w_bits = 1"]),
        ("out_bits: 4", "out_bits: 0", &["out_bits = 0"]),
        ("output: logits", "output: softmax", &["fc7", "softmax"]),
        ("stride: 1", "stride: 0", &["conv1", "stride"]),
        (
            "in_bits: 8",
            "in_bits: 4",
            &["conv1", "in_bits = 4", "previous layer"],
        ),
        ("  bits: 8", "  bits: 0", &["input_bits = 0"]),
        (
            "output: logits",
            "output: requant\n  out_bits: 4",
            &["fc7", "shifts"],
        ),
    ];
    for (from, to, needles) in cases {
        let mut all = vec![YAML_FILE];
        all.extend_from_slice(needles);
        expect_yaml_edit_rejected(from, to, &all);
    }
}

#[test]
fn rejects_bad_shifts() {
    expect_yaml_edit_rejected(
        "shifts:\n  - ",
        "shifts:\n  - 32\n  - ",
        &[YAML_FILE, "conv1", "shifts"],
    );

    let (dir, model) = saved();
    let first_shift = match &model.layers()[0].params().unwrap().output {
        Output::Requant { shifts, .. } => shifts[0],
        Output::Logits => unreachable!(),
    };
    edit_yaml(
        dir.path(),
        &format!("shifts:\n  - {first_shift}\n"),
        "shifts:\n  - 32\n",
    );
    expect_rejection(dir.path(), &[YAML_FILE, "conv1", "shift 32", "0..=31"]);
}

#[test]
fn rejects_wrong_informational_shape() {
    expect_yaml_edit_rejected(
        "out_shape:\n  - 10\n",
        "out_shape:\n  - 11\n",
        &[YAML_FILE, "fc7", "out_shape"],
    );
}

#[test]
fn rejects_layers_after_logits_and_missing_logits() {
    let linear = |name: &str, output: Output| Layer {
        name: name.into(),
        op: Op::Linear(Linear {
            in_features: 2,
            out_features: 2,
            params: ComputeParams {
                w_bits: 2,
                in_bits: 8,
                output,
                weights: vec![1, 0, 0, 1],
                bias: vec![0, 0],
            },
        }),
    };
    let input = Shape::new(2, 1, 1);
    let requant = Output::Requant {
        bits: 8,
        shifts: vec![0, 0],
    };
    let no_logits = Model::new(
        "x",
        "custom",
        1.0,
        input,
        8,
        Provenance::default(),
        vec![linear("a", requant)],
    );
    assert!(no_logits.unwrap_err().to_string().contains("logits"));
    let after_logits = Model::new(
        "x",
        "custom",
        1.0,
        input,
        8,
        Provenance::default(),
        vec![linear("a", Output::Logits), linear("b", Output::Logits)],
    );
    let message = after_logits.unwrap_err().to_string();
    assert!(
        message.contains("`b`") && message.contains("last layer"),
        "{message}"
    );
    let duplicate = Model::new(
        "x",
        "custom",
        1.0,
        input,
        8,
        Provenance::default(),
        vec![
            linear(
                "a",
                Output::Requant {
                    bits: 8,
                    shifts: vec![0, 0],
                },
            ),
            linear("a", Output::Logits),
        ],
    );
    assert!(duplicate.unwrap_err().to_string().contains("twice"));
}

#[test]
fn rejects_accumulators_that_cannot_fit_32_bits() {
    // 16-bit activations times 16-bit weights over 4 products overflow i32.
    let k = 4;
    let layer = Layer {
        name: "wide".into(),
        op: Op::Linear(Linear {
            in_features: k,
            out_features: 1,
            params: ComputeParams {
                w_bits: 16,
                in_bits: 16,
                output: Output::Logits,
                weights: vec![32767; k],
                bias: vec![0],
            },
        }),
    };
    let error = Model::new(
        "x",
        "custom",
        1.0,
        Shape::new(k, 1, 1),
        16,
        Provenance::default(),
        vec![layer.clone()],
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("wide") && error.contains("32 bits"),
        "{error}"
    );

    // A bias that pushes a fitting accumulator over the edge is rejected too.
    let mut biased = layer;
    if let Op::Linear(linear) = &mut biased.op {
        linear.params.weights = vec![1, 0, 0, 0];
        linear.params.bias = vec![i32::MAX];
    }
    let error = Model::new(
        "x",
        "custom",
        1.0,
        Shape::new(k, 1, 1),
        16,
        Provenance::default(),
        vec![biased],
    )
    .unwrap_err()
    .to_string();
    assert!(error.contains("32 bits"), "{error}");
}
