//! A saved teacher is distilled only by a run that asks for the dataset and
//! network shape it was trained for; anything else is refused before any
//! data is read, with what it was trained on and how to fix the command.

use std::path::Path;
use tch::Device;
use trainer::net::{alexnet_cifar, Teacher};
use trainer::teacher::{save_teacher, SavedTeacher, TEACHER_FILE};
use trainer::{Preset, TrainConfig};

/// A configuration whose data directory exists (empty: nothing is read
/// before the teacher check) and that reuses the teacher in `teacher`.
fn config_for(dataset: &str, width: f64, data_dir: &Path, teacher: &Path) -> TrainConfig {
    let mut config = TrainConfig::preset(Preset::Quick);
    config.dataset = dataset.into();
    config.width = width;
    config.data_dir = Some(data_dir.to_path_buf());
    config.teacher.checkpoint = Some(teacher.to_path_buf());
    config.out = Some(data_dir.join("out"));
    config
}

/// An untrained fashion-mnist teacher at width 0.0625, saved in `dir`.
fn saved_fashion_teacher(dir: &Path) {
    let scratch = tempfile::tempdir().unwrap();
    let config = config_for("fashion-mnist", 0.0625, scratch.path(), dir);
    let teacher = Teacher::new(alexnet_cifar(0.0625, 1, 10).unwrap(), Device::Cpu);
    save_teacher(&teacher, dir, &config, "7").unwrap();
}

#[test]
fn a_teacher_from_another_dataset_is_refused_before_any_data_is_read() {
    let teacher_dir = tempfile::tempdir().unwrap();
    saved_fashion_teacher(teacher_dir.path());
    let data = tempfile::tempdir().unwrap();

    // CIFAR-10: other input channels. The data directory is empty, so any
    // error but the teacher's would be about missing dataset files.
    let config = config_for("cifar10", 0.0625, data.path(), teacher_dir.path());
    let message = trainer::train(&config, false).unwrap_err().to_string();
    assert!(message.contains(TEACHER_FILE), "{message}");
    assert!(
        message.contains(
            "trained on fashion-mnist (alexnet-cifar, width 0.0625, 1 input channel, 10 classes)"
        ),
        "{message}"
    );
    assert!(
        message.contains(
            "asks for cifar10 (alexnet-cifar, width 0.0625, 3 input channels, 10 classes)"
        ),
        "{message}"
    );
    assert!(
        message.contains("pass --dataset fashion-mnist"),
        "{message}"
    );
    assert!(
        message.contains("to train a new teacher for cifar10, leave out --teacher"),
        "{message}"
    );

    // MNIST has the same shape as Fashion-MNIST: only the recorded dataset
    // tells them apart, and it is enough.
    let config = config_for("mnist", 0.0625, data.path(), teacher_dir.path());
    let message = SavedTeacher::open(teacher_dir.path(), &config)
        .unwrap_err()
        .to_string();
    assert!(message.contains("trained on fashion-mnist"), "{message}");
    assert!(message.contains("asks for mnist"), "{message}");
    assert!(
        message.contains("pass --dataset fashion-mnist"),
        "{message}"
    );
}

#[test]
fn a_teacher_of_another_width_is_refused_with_the_width_to_set() {
    let teacher_dir = tempfile::tempdir().unwrap();
    saved_fashion_teacher(teacher_dir.path());
    let data = tempfile::tempdir().unwrap();
    let config = config_for("fashion-mnist", 0.125, data.path(), teacher_dir.path());
    let message = SavedTeacher::open(teacher_dir.path(), &config)
        .unwrap_err()
        .to_string();
    assert!(message.contains("width 0.0625"), "{message}");
    assert!(message.contains("width 0.125"), "{message}");
    assert!(message.contains("set `width: 0.0625`"), "{message}");
    assert!(!message.contains("--dataset"), "{message}");
}

#[test]
fn a_matching_teacher_opens_and_loads_with_its_seed() {
    let teacher_dir = tempfile::tempdir().unwrap();
    saved_fashion_teacher(teacher_dir.path());
    let data = tempfile::tempdir().unwrap();
    let config = config_for("fashion-mnist", 0.0625, data.path(), teacher_dir.path());
    // The directory or the file itself.
    for path in [
        teacher_dir.path().to_path_buf(),
        teacher_dir.path().join(TEACHER_FILE),
    ] {
        let saved = SavedTeacher::open(&path, &config).unwrap();
        assert_eq!(saved.seed.as_deref(), Some("7"));
        saved
            .load(alexnet_cifar(0.0625, 1, 10).unwrap(), Device::Cpu)
            .unwrap();
    }
}

#[test]
fn a_checkpoint_without_metadata_is_checked_by_its_tensors_only() {
    let dir = tempfile::tempdir().unwrap();
    let teacher = Teacher::new(alexnet_cifar(0.0625, 1, 10).unwrap(), Device::Cpu);
    let file = dir.path().join(TEACHER_FILE);
    trainer::checkpoint::save(&teacher.vs, &file, Default::default()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let config = config_for("mnist", 0.0625, data.path(), dir.path());
    let saved = SavedTeacher::open(dir.path(), &config).unwrap();
    assert_eq!(saved.seed, None);
    // Its tensors still have to fit.
    let Err(error) = saved.load(alexnet_cifar(0.0625, 3, 10).unwrap(), Device::Cpu) else {
        panic!("a 3-channel network loaded a 1-channel checkpoint");
    };
    let message = error.to_string();
    assert!(message.contains("shape"), "{message}");
}
