//! # trainer: BN teacher, progressive integer distillation, export
//!
//! Trains a batch-norm-free, fully integer `alexnet-cifar` that follows
//! Tandem's integer contract (`docs/integer-semantics.md`):
//!
//! 1. a float teacher with batch norm ([`net::Teacher`], [`teacher`]);
//! 2. batch norms folded into weights and biases ([`net::Teacher::fold`]);
//! 3. progressive stages from the input: each layer is quantized with
//!    power-of-two-tied scales ([`quant`]), trained with the later float
//!    layers against the teacher, then frozen ([`distill::Distillation::progressive_stages`]);
//! 4. a joint fine-tune of every layer, fake-quantized, then frozen again
//!    ([`distill::Distillation::joint_finetune`]);
//! 5. export as a golden model and bit-exact verification against golden
//!    ([`export`]).
//!
//! [`pipeline::train`] runs these steps in order; each method draws from its
//! own seeded stream ([`seed::SeedStream`]) and reports progress through a
//! [`progress::Progress`].
//!
//! Baselines for comparison: naive post-training quantization and
//! all-layers-at-once QAT. The method is described in `docs/training.md`.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod distill;
pub mod error;
pub mod evaluate;
pub mod export;
pub mod ledger;
pub mod method;
pub mod net;
pub mod pipeline;
pub mod progress;
pub mod qteacher;
pub mod quant;
pub mod results;
pub mod schedule;
pub mod seed;
pub mod student;
pub mod summary;
pub mod teacher;

pub use config::{Preset, TrainConfig};
pub use error::TrainError;
pub use method::Method;
pub use pipeline::{train, train_teacher_only, TeacherReport};
pub use progress::Progress;
pub use summary::{StageReport, TrainReport};
