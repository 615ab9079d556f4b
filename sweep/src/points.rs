//! The points of a sweep and the jobs that produce them.
//!
//! Jobs form three stages: the shared teacher (trained sweeps only), one
//! model per bit-width pair (a student distilled from that teacher, or a
//! seeded random model), and one hardware job per (pair, array), which
//! generates, simulates, reports and synthesizes the design once for all
//! batch sizes. A point is a hardware job at one batch size.

use crate::spec::{ArraySpec, BitsPair, SweepSpec};
use serde::{Deserialize, Serialize};

/// A bit-width pair with its first/last width resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelBits {
    pub wbits: u8,
    pub abits: u8,
    pub first_last_wbits: u8,
}

impl ModelBits {
    /// `pair` with its first/last width defaulted to `default_first_last`
    /// (the training config's), else to `wbits`.
    pub fn of(pair: &BitsPair, default_first_last: Option<u8>) -> Self {
        ModelBits {
            wbits: pair.wbits,
            abits: pair.abits,
            first_last_wbits: pair
                .first_last_wbits
                .or(default_first_last)
                .unwrap_or(pair.wbits),
        }
    }

    /// `w4a4`, or `w4a4f8` when the first and last layers differ.
    pub fn id(&self) -> String {
        if self.first_last_wbits == self.wbits {
            format!("w{}a{}", self.wbits, self.abits)
        } else {
            format!("w{}a{}f{}", self.wbits, self.abits, self.first_last_wbits)
        }
    }
}

/// An array with its native PE widths resolved for a bit-width pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ArrayShape {
    pub rows: u32,
    pub cols: u32,
    pub pe_a_bits: u8,
    pub pe_w_bits: u8,
}

impl ArrayShape {
    pub fn of(array: &ArraySpec, bits: &ModelBits) -> Self {
        ArrayShape {
            rows: array.rows,
            cols: array.cols,
            pe_a_bits: array.a_bits.unwrap_or(bits.abits),
            pe_w_bits: array.w_bits.unwrap_or(bits.wbits),
        }
    }

    /// `16x16`, or `16x16-pe4x4` when the PEs are narrower or wider than
    /// the pair's widths.
    pub fn id(&self, bits: &ModelBits) -> String {
        if (self.pe_a_bits, self.pe_w_bits) == (bits.abits, bits.wbits) {
            format!("{}x{}", self.rows, self.cols)
        } else {
            format!(
                "{}x{}-pe{}x{}",
                self.rows, self.cols, self.pe_a_bits, self.pe_w_bits
            )
        }
    }
}

/// One point: a hardware job at one batch size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// e.g. `w4a4-16x16-b1`.
    pub label: String,
    pub bits: ModelBits,
    pub array: ArrayShape,
    pub batch: usize,
    /// The hardware job that measures it.
    pub job: String,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum JobKind {
    /// The BN teacher every student shares.
    Teacher,
    /// The model of one bit-width pair.
    Model { bits: ModelBits },
    /// Design, simulation, report and synthesis of one (pair, array).
    Hardware { bits: ModelBits, array: ArrayShape },
}

/// One job of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// Unique, and the name of its directory under `jobs/`.
    pub id: String,
    /// 0 teacher, 1 models, 2 hardware; a stage needs only earlier ones.
    pub stage: usize,
    pub kind: JobKind,
    /// Jobs whose results this one reads.
    pub needs: Vec<String>,
}

/// Every point, in spec order (bits, then arrays, then batch sizes).
pub fn points(spec: &SweepSpec, default_first_last: Option<u8>) -> Vec<Point> {
    let mut points = Vec::new();
    for pair in &spec.bits {
        let bits = ModelBits::of(pair, default_first_last);
        for array in &spec.arrays {
            let shape = ArrayShape::of(array, &bits);
            let job = hardware_id(&bits, &shape);
            for &batch in &spec.batch {
                points.push(Point {
                    label: format!("{job}-b{batch}"),
                    bits,
                    array: shape,
                    batch,
                    job: job.clone(),
                });
            }
        }
    }
    points
}

fn hardware_id(bits: &ModelBits, array: &ArrayShape) -> String {
    format!("{}-{}", bits.id(), array.id(bits))
}

/// The job graph, stage by stage. `trained` adds the teacher stage.
pub fn jobs(spec: &SweepSpec, default_first_last: Option<u8>, trained: bool) -> Vec<Job> {
    let mut jobs = Vec::new();
    if trained {
        jobs.push(Job {
            id: "teacher".into(),
            stage: 0,
            kind: JobKind::Teacher,
            needs: vec![],
        });
    }
    let mut models: Vec<ModelBits> = Vec::new();
    for pair in &spec.bits {
        let bits = ModelBits::of(pair, default_first_last);
        if !models.contains(&bits) {
            models.push(bits);
            jobs.push(Job {
                id: format!("model-{}", bits.id()),
                stage: 1,
                kind: JobKind::Model { bits },
                needs: if trained {
                    vec!["teacher".into()]
                } else {
                    vec![]
                },
            });
        }
    }
    let mut hardware: Vec<String> = Vec::new();
    for point in points(spec, default_first_last) {
        if !hardware.contains(&point.job) {
            hardware.push(point.job.clone());
            jobs.push(Job {
                id: point.job.clone(),
                stage: 2,
                kind: JobKind::Hardware {
                    bits: point.bits,
                    array: point.array,
                },
                needs: vec![format!("model-{}", point.bits.id())],
            });
        }
    }
    jobs
}
