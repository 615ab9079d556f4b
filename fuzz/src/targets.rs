//! The loaders under test and their seed inputs, all built in code and kept
//! small so a million executions take minutes.

use std::io::Write;
use std::path::Path;

use datasets::{cifar, idx, DatasetKind, FileBytes, Split};
use golden::fast::FastModel;
use golden::model::{
    ComputeParams, Conv2d, Layer, Linear, MaxPool2d, Op, Output, Provenance, Shape,
};
use golden::Model;
use hwgen::HwConfig;
use report::energy_table::EnergyTable;

use crate::{Input, Target};

/// YAML tokens that reach unusual parser and validator paths.
const YAML_TOKENS: &[&str] = &[
    "~",
    "null",
    "[]",
    "{}",
    "[1, 2]",
    "-1",
    "0",
    "1",
    "2",
    "3",
    "31",
    "32",
    "255",
    "65536",
    "4294967296",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "0.5",
    ".nan",
    ".inf",
    "-.inf",
    "true",
    "\"\"",
    "''",
    "&a 1",
    "*a",
    "!!str",
    "!!binary",
    "<<: *a",
    "|",
    ">",
    "#",
    "- ",
    ": ",
    "? ",
    "---",
    "...",
    "0x10",
    "0o17",
    "99999999999999999999",
    "auto",
    "- [0]",
];

pub static TARGETS: [Target; 6] = [
    Target {
        name: "model-yaml",
        about: "golden::io::from_bytes, mutating model.yaml (model.safetensors kept)",
        file_names: &[golden::io::YAML_FILE, golden::io::TENSORS_FILE],
        mutable: &[0],
        text: true,
        dictionary: YAML_TOKENS,
        seeds: model_seeds,
        run: run_model,
    },
    Target {
        name: "model-safetensors",
        about: "golden::io::from_bytes, mutating model.safetensors (model.yaml kept)",
        file_names: &[golden::io::YAML_FILE, golden::io::TENSORS_FILE],
        mutable: &[1],
        text: false,
        dictionary: &[
            "{",
            "}",
            "\"dtype\":",
            "\"I8\"",
            "\"F32\"",
            "\"shape\":",
            "[0,",
            "\"data_offsets\":",
        ],
        seeds: model_seeds,
        run: run_model,
    },
    Target {
        name: "hw-yaml",
        about: "hwgen::HwConfig::from_yaml_str and the widths derived from it",
        file_names: &["hw.yaml"],
        mutable: &[0],
        text: true,
        dictionary: YAML_TOKENS,
        seeds: hw_seeds,
        run: run_hw,
    },
    Target {
        name: "energy-table",
        about: "report::energy_table::EnergyTable::from_yaml_str and its lookups",
        file_names: &["energy.yaml"],
        mutable: &[0],
        text: true,
        dictionary: YAML_TOKENS,
        seeds: energy_seeds,
        run: run_energy,
    },
    Target {
        name: "idx",
        about: "datasets::idx::decode: an image file and a label file, plain or gzipped",
        file_names: &["train-images-idx3-ubyte", "train-labels-idx1-ubyte"],
        mutable: &[0, 1],
        text: false,
        dictionary: &[],
        seeds: idx_seeds,
        run: run_idx,
    },
    Target {
        name: "cifar10",
        about: "datasets::cifar::decode_batch: one CIFAR-10 binary batch",
        file_names: &["data_batch_1.bin"],
        mutable: &[0],
        text: false,
        dictionary: &[],
        seeds: cifar_seeds,
        run: run_cifar,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|target| target.name == name)
}

// --- golden model directories ------------------------------------------

fn compute(
    w_bits: u8,
    in_bits: u8,
    output: Output,
    weights: usize,
    bias: Vec<i32>,
) -> ComputeParams {
    ComputeParams {
        w_bits,
        in_bits,
        output,
        // -1, 0, 1: inside every weight range, accumulators tiny.
        weights: (0..weights).map(|i| (i % 3) as i32 - 1).collect(),
        bias,
    }
}

/// conv 3x3 (1 -> 2 channels, padding 1) on 4x4, max-pool 2, flatten,
/// linear 8 -> 3 logits.
fn tiny_model(w_bits: u8, hidden_bits: u8, provenance: Provenance) -> Model {
    let layers = vec![
        Layer {
            name: "conv1".into(),
            op: Op::Conv2d(Conv2d {
                in_channels: 1,
                out_channels: 2,
                kernel: [3, 3],
                stride: 1,
                padding: 1,
                params: compute(
                    w_bits,
                    8,
                    Output::Requant {
                        bits: hidden_bits,
                        shifts: vec![4, 5],
                    },
                    18,
                    vec![1, -1],
                ),
            }),
        },
        Layer {
            name: "pool1".into(),
            op: Op::MaxPool2d(MaxPool2d {
                kernel: 2,
                stride: 2,
            }),
        },
        Layer {
            name: "flatten".into(),
            op: Op::Flatten,
        },
        Layer {
            name: "fc2".into(),
            op: Op::Linear(Linear {
                in_features: 8,
                out_features: 3,
                params: compute(w_bits, hidden_bits, Output::Logits, 24, vec![0, 7, -7]),
            }),
        },
    ];
    Model::new(
        "tiny",
        "custom",
        1.0,
        Shape::new(1, 4, 4),
        8,
        provenance,
        layers,
    )
    .expect("the seed model is valid")
}

fn model_seeds() -> Vec<Input> {
    let provenance = Provenance {
        created_by: Some("tandem-fuzz seed".into()),
        dataset: Some("fashion-mnist".into()),
        seed: Some(1),
        accuracy: Some(0.5),
        notes: [("teacher".to_string(), "none".to_string())].into(),
    };
    [
        tiny_model(4, 4, Provenance::default()),
        // 12-bit weights are stored as int16.
        tiny_model(12, 8, provenance),
    ]
    .iter()
    .map(|model| {
        let files = golden::io::to_bytes(model).expect("the seed model serializes");
        vec![files.yaml.into_bytes(), files.tensors]
    })
    .collect()
}

fn run_model(input: &[Vec<u8>]) -> Result<(), String> {
    let model = golden::io::from_bytes(Path::new("fuzz"), &input[0], &input[1])
        .map_err(|error| error.to_string())?;
    // What tools do with any loaded model: count MACs, size accumulators,
    // and (when small enough to be quick) run it: the loader promises the
    // forward pass that every check holds.
    for index in 0..model.layers().len() {
        let _ = model.accumulator_bits(index);
    }
    if model.input.len() <= 1 << 16 && model.total_macs() <= 1 << 20 {
        let image = vec![golden::contract::activation_max(model.input_bits); model.input.len()];
        let logits = FastModel::new(&model).logits(&image);
        assert_eq!(logits.len(), model.classes(), "logits of a loaded model");
    }
    Ok(())
}

// --- hardware configs -------------------------------------------------

fn hw_seeds() -> Vec<Input> {
    let presets = [
        include_str!("../../configs/hw-16x16-w4a4.yaml"),
        include_str!("../../configs/hw-8x8-w4a4.yaml"),
    ];
    let mut seeds: Vec<Input> = presets
        .iter()
        .map(|text| vec![text.as_bytes().to_vec()])
        .collect();
    // The same configs as the tools write them (no comments), and one with
    // an explicit accumulator width.
    for text in presets {
        let config = HwConfig::from_yaml_str(text).expect("the preset is valid");
        seeds.push(vec![config.to_yaml_string().into_bytes()]);
    }
    let explicit =
        "name: fuzz\nrows: 4\ncols: 8\ndataflow: weight_stationary\na_bits: 8\nw_bits: 8\n\
                    acc_bits: 24\nshift_bits: 5\nacc_depth: 64\nclock_mhz: 100\n";
    seeds.push(vec![explicit.as_bytes().to_vec()]);
    seeds
}

fn run_hw(input: &[Vec<u8>]) -> Result<(), String> {
    let text = String::from_utf8_lossy(&input[0]);
    let config = HwConfig::from_yaml_str(&text).map_err(|error| error.to_string())?;
    // Every derived width a tool computes from an accepted config: the
    // resolved design, its ports and its generated files.
    let design = hwgen::Design::of(&config)
        .unwrap_or_else(|error| panic!("an accepted config does not resolve: {error}"));
    let _ = (
        hwgen::ports(&design),
        config.latency_cycles(),
        config.min_slot_cycles(),
        config.macs_per_cycle(),
        config.summary(),
    );
    // The resolved config (hw.yaml) resolves to itself.
    let again = hwgen::Design::of(&design.config)
        .unwrap_or_else(|error| panic!("a resolved config is rejected: {error}"));
    assert_eq!(again.config, design.config, "resolution is idempotent");
    // What hwgen writes as hw.yaml must load back to the same config.
    let written = config.to_yaml_string();
    let again = HwConfig::from_yaml_str(&written).unwrap_or_else(|error| {
        panic!("hw.yaml written for an accepted config is rejected: {error}")
    });
    assert_eq!(again.to_yaml_string(), written, "hw.yaml round trip");
    Ok(())
}

// --- energy tables ----------------------------------------------------

const ENERGY_COMPACT: &str = "\
format_version: 1
name: fuzz-table
revision: 1
technology_nm: 45
sources:
  a: A. Author, a citation.
  b: B. Author, another citation.
actions:
  multiply: {scaling: operand_product, reference_bits: 8, low_pj: 0.1, typical_pj: 0.2, high_pj: 0.4, technology_nm: 45, sources: [a]}
  add: {scaling: linear, reference_bits: 32, low_pj: 0.05, typical_pj: 0.1, high_pj: 0.2, technology_nm: 45, sources: [a, b]}
  register: {scaling: linear, reference_bits: 32, low_pj: 1, typical_pj: 1, high_pj: 1, technology_nm: 45, sources: [b]}
  sram:
    scaling: linear
    reference_bits: 64
    capacity_points:
      - {capacity_kib: 8, low_pj: 5, typical_pj: 10, high_pj: 20}
      - {capacity_kib: 32, low_pj: 10, typical_pj: 20, high_pj: 40}
    technology_nm: 45
    sources: [a]
    note: per access
  dram: {scaling: linear, reference_bits: 64, low_pj: 1300, typical_pj: 1950, high_pj: 2600, technology_nm: 45, sources: [a]}
";

fn energy_seeds() -> Vec<Input> {
    let classes: Vec<String> = report::energy_table::CELL_CLASSES
        .iter()
        .enumerate()
        .map(|(index, class)| format!("    {class}: {}\n", 0.5 + index as f64 / 4.0))
        .collect();
    let with_cells = format!(
        "{ENERGY_COMPACT}cell_area:\n  technology_nm: 45\n  sources: [b]\n  um2:\n{}",
        classes.concat()
    );
    vec![
        vec![ENERGY_COMPACT.as_bytes().to_vec()],
        vec![with_cells.into_bytes()],
    ]
}

fn run_energy(input: &[Vec<u8>]) -> Result<(), String> {
    let text = String::from_utf8_lossy(&input[0]);
    let table =
        EnergyTable::from_yaml_str(&text, "fuzz.yaml").map_err(|error| error.to_string())?;
    // The lookups a report makes of any accepted table.
    for corner in report::energy_table::Corner::ALL {
        let _ = table.multiply_pj(8, 4, corner) + table.add_pj(24, corner);
        for capacity in [0.5, 8.0, 20.0, 4096.0] {
            let _ = table.sram_pj_per_bit(capacity, corner);
        }
        for primitive in [
            report::energy_table::Primitive::Register,
            report::energy_table::Primitive::Dram,
        ] {
            let _ = table.pj_per_bit(primitive, corner);
        }
    }
    Ok(())
}

// --- IDX and CIFAR-10 -------------------------------------------------

fn idx_images(count: u32, side: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [idx::IMAGES_MAGIC, count, side, side] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes.extend((0..count * side * side).map(|i| (i * 7 % 251) as u8));
    bytes
}

fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut bytes = idx::LABELS_MAGIC.to_be_bytes().to_vec();
    bytes.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    bytes.extend_from_slice(labels);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

fn idx_seeds() -> Vec<Input> {
    let (images, labels) = (idx_images(2, 28), idx_labels(&[3, 9]));
    vec![
        vec![images.clone(), labels.clone()],
        vec![gzip(&images), gzip(&labels)],
        vec![gzip(&images), labels.clone()],
        vec![idx_images(1, 32), gzip(&idx_labels(&[0]))],
    ]
}

fn run_idx(input: &[Vec<u8>]) -> Result<(), String> {
    let decode = |limit| {
        idx::decode(
            DatasetKind::Mnist,
            Split::Train,
            FileBytes {
                path: Path::new("fuzz/train-images-idx3-ubyte"),
                bytes: &input[0],
            },
            FileBytes {
                path: Path::new("fuzz/train-labels-idx1-ubyte"),
                bytes: &input[1],
            },
            limit,
        )
    };
    // A limit takes another path (no end-of-file check); both must hold.
    let _ = decode(Some(1));
    let dataset = decode(None).map_err(|error| error.to_string())?;
    assert_eq!(
        dataset.images.len(),
        dataset.len() * dataset.image_len(),
        "image bytes"
    );
    Ok(())
}

fn cifar_record(label: u8, shade: u8) -> Vec<u8> {
    let mut record = vec![label];
    record.extend((0..3072u32).map(|i| (i as u8).wrapping_mul(shade)));
    record
}

fn cifar_seeds() -> Vec<Input> {
    let two = [cifar_record(6, 3), cifar_record(9, 5)].concat();
    vec![vec![cifar_record(0, 1)], vec![two]]
}

fn run_cifar(input: &[Vec<u8>]) -> Result<(), String> {
    let batch = FileBytes {
        path: Path::new("fuzz/data_batch_1.bin"),
        bytes: &input[0],
    };
    let _ = cifar::decode_batch(Split::Train, batch, Some(1));
    let dataset =
        cifar::decode_batch(Split::Train, batch, None).map_err(|error| error.to_string())?;
    assert_eq!(dataset.images.len(), dataset.len() * 3072, "image bytes");
    Ok(())
}
