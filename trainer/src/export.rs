//! The trained integer layers as a golden model on disk, verified logit for
//! logit against golden.

use crate::config::TrainConfig;
use crate::data::TensorData;
use crate::error::TrainError;
use crate::evaluate::{compare_logits, golden_logits, integer_logits, logits_accuracy};
use crate::net::{self, LayerSpec};
use crate::quant::IntLayer;
use datasets::DatasetKind;
use golden::model::{Layer, Model, Op, Provenance};
use std::collections::BTreeMap;
use std::path::Path;

/// The golden model of integer layers (a flatten before the first linear).
pub fn export_model(
    name: &str,
    width: f64,
    layers: &[IntLayer],
    provenance: Provenance,
) -> Result<Model, TrainError> {
    let specs: Vec<LayerSpec> = layers.iter().map(|l| l.spec.clone()).collect();
    let mut golden_layers = Vec::new();
    for (index, layer) in layers.iter().enumerate() {
        if net::flatten_before(&specs, index) {
            golden_layers.push(Layer {
                name: "flatten".into(),
                op: Op::Flatten,
            });
        }
        golden_layers.push(layer.to_golden());
    }
    let input = specs[0].in_shape;
    Model::new(
        name,
        golden::topology::Preset::AlexnetCifar.name(),
        width,
        input,
        golden::contract::INPUT_BITS,
        provenance,
        golden_layers,
    )
    .map_err(TrainError::Export)
}

/// Test accuracies measured before the export, recorded in the model's
/// provenance.
#[derive(Debug, Clone, Copy)]
pub struct Baselines {
    pub teacher_accuracy: f64,
    pub bn_free_float_accuracy: f64,
    pub ptq_accuracy: f64,
}

/// What the golden check of the exported model found.
#[derive(Debug, Clone)]
pub struct Verification {
    /// Golden's accuracy on the model loaded back from disk.
    pub student_accuracy: f64,
    /// The trainer's own integer forward's accuracy (equal when nothing
    /// mismatches).
    pub trainer_accuracy: f64,
    pub logit_mismatches: usize,
    /// The first mismatching logit, described (empty when none).
    pub first_mismatch: String,
}

/// The provenance of a model trained with `config`.
fn provenance(
    config: &TrainConfig,
    kind: DatasetKind,
    baselines: &Baselines,
    train_images: usize,
    test_images: usize,
) -> Provenance {
    let mut notes = BTreeMap::new();
    notes.insert("method".into(), "progressive tandem distillation".into());
    notes.insert(
        "teacher_accuracy".into(),
        format!("{:.4}", baselines.teacher_accuracy),
    );
    notes.insert(
        "bn_free_float_accuracy".into(),
        format!("{:.4}", baselines.bn_free_float_accuracy),
    );
    notes.insert(
        "ptq_accuracy".into(),
        format!("{:.4}", baselines.ptq_accuracy),
    );
    notes.insert(
        "bits".into(),
        format!(
            "w{} a{}, first/last layer weights {} bits",
            config.wbits, config.abits, config.first_last_wbits
        ),
    );
    notes.insert("in_channels".into(), kind.in_channels().to_string());
    notes.insert("train_images".into(), train_images.to_string());
    notes.insert("test_images".into(), test_images.to_string());
    notes.insert("preset".into(), config.preset.name().into());
    Provenance {
        created_by: Some("tandem train".into()),
        dataset: Some(kind.name().into()),
        seed: Some(config.seed),
        accuracy: None,
        notes,
    }
}

/// Save the frozen layers as a golden model in `model_dir`, load it back,
/// and compare golden's logits of every test image with the trainer's
/// integer forward. Golden's accuracy goes into the saved provenance.
pub fn export_and_verify(
    config: &TrainConfig,
    kind: DatasetKind,
    layers: &[IntLayer],
    baselines: &Baselines,
    train_images: usize,
    test: &TensorData,
    model_dir: &Path,
) -> Result<Verification, TrainError> {
    let trainer_logits = integer_logits(layers, test);
    let trainer_accuracy = logits_accuracy(&trainer_logits, &test.raw.labels);
    let name = format!("tandem-{}-w{}a{}", kind.name(), config.wbits, config.abits);
    let provenance = provenance(config, kind, baselines, train_images, test.len());
    let mut model = export_model(&name, config.width, layers, provenance)?;
    golden::io::save(&model, model_dir)?;
    // Verify what is on disk, not what is in memory.
    let loaded = golden::io::load(model_dir)?;
    let golden = golden_logits(&loaded, test);
    let (logit_mismatches, first_mismatch) = compare_logits(&trainer_logits, &golden);
    let widened: Vec<Vec<i64>> = golden
        .iter()
        .map(|row| row.iter().map(|&v| v as i64).collect())
        .collect();
    let student_accuracy = logits_accuracy(&widened, &test.raw.labels);
    // Record golden's accuracy in the model's provenance (only the YAML
    // changes; the tensors are rewritten byte for byte the same).
    let mut provenance = model.provenance.clone();
    provenance.accuracy = Some(student_accuracy);
    model.set_provenance(provenance);
    golden::io::save(&model, model_dir)?;
    Ok(Verification {
        student_accuracy,
        trainer_accuracy,
        logit_mismatches,
        first_mismatch,
    })
}
