//! trainer: datasets, BN teacher, progressive tandem distillation, export (not built yet).
