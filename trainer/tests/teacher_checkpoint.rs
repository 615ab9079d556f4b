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

/// An untrained fashion-mnist teacher at width 0.0625 (seed 7), saved in a
/// directory of its own, and an empty data directory.
struct Fixture {
    teacher: tempfile::TempDir,
    data: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture {
            teacher: tempfile::tempdir().unwrap(),
            data: tempfile::tempdir().unwrap(),
        };
        let config = fixture.config("fashion-mnist", 0.0625);
        let teacher = Teacher::new(alexnet_cifar(0.0625, 1, 10).unwrap(), Device::Cpu);
        save_teacher(&teacher, fixture.teacher.path(), &config, "7").unwrap();
        fixture
    }

    fn config(&self, dataset: &str, width: f64) -> TrainConfig {
        config_for(dataset, width, self.data.path(), self.teacher.path())
    }

    /// Why a run asking for `dataset` at `width` may not use the teacher.
    fn refusal(&self, dataset: &str, width: f64) -> String {
        SavedTeacher::open(self.teacher.path(), &self.config(dataset, width))
            .unwrap_err()
            .to_string()
    }
}

#[test]
fn a_teacher_from_another_dataset_is_refused_before_any_data_is_read() {
    let fixture = Fixture::new();
    // CIFAR-10: other input channels. The data directory is empty, so any
    // error but the teacher's would be about missing dataset files.
    let config = fixture.config("cifar10", 0.0625);
    let message = trainer::train(&config, false).unwrap_err().to_string();
    for needle in [
        TEACHER_FILE,
        "trained on fashion-mnist (alexnet-cifar, width 0.0625, 1 input channel, 10 classes)",
        "asks for cifar10 (alexnet-cifar, width 0.0625, 3 input channels, 10 classes)",
        "pass --dataset fashion-mnist",
        "to train a new teacher for cifar10, leave out --teacher",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from: {message}"
        );
    }

    // MNIST has the same shape as Fashion-MNIST: only the recorded dataset
    // tells them apart, and it is enough.
    let message = fixture.refusal("mnist", 0.0625);
    for needle in [
        "trained on fashion-mnist",
        "asks for mnist",
        "pass --dataset fashion-mnist",
    ] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from: {message}"
        );
    }
}

#[test]
fn a_teacher_of_another_width_is_refused_with_the_width_to_set() {
    let message = Fixture::new().refusal("fashion-mnist", 0.125);
    for needle in ["width 0.0625", "width 0.125", "set `width: 0.0625`"] {
        assert!(
            message.contains(needle),
            "{needle:?} missing from: {message}"
        );
    }
    assert!(!message.contains("--dataset"), "{message}");
}

#[test]
fn a_matching_teacher_opens_and_loads_with_its_seed() {
    let fixture = Fixture::new();
    let config = fixture.config("fashion-mnist", 0.0625);
    // The directory or the file itself.
    let dir = fixture.teacher.path();
    for path in [dir.to_path_buf(), dir.join(TEACHER_FILE)] {
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
