//! Energy: activity ([`crate::activity`]) x energy per action
//! ([`crate::energy_table`]), per layer and action kind, at the three
//! corners of the table.

use crate::activity::{ActionKind, BufferSizes, LayerActivity, Term};
use crate::energy_table::{Corner, EnergyTable, Primitive, Range};
use serde::Serialize;

/// Energy (pJ) per unit of a term: per operand-bit product for multiplies,
/// per bit otherwise (SRAM at its buffer's capacity).
pub fn unit_energy_pj(
    table: &EnergyTable,
    buffers: &BufferSizes,
    term: &Term,
    corner: Corner,
) -> f64 {
    match term.primitive {
        Primitive::Multiply => table.multiply_pj_per_bit_product(corner),
        Primitive::Sram => {
            let buffer = term.buffer.expect("SRAM terms name their buffer");
            table.sram_pj_per_bit(buffers.kib(buffer), corner)
        }
        primitive => table.pj_per_bit(primitive, corner),
    }
}

/// Energy of one term, pJ.
pub fn term_energy_pj(table: &EnergyTable, buffers: &BufferSizes, term: &Term) -> Range {
    Range::from_fn(|corner| term.units as f64 * unit_energy_pj(table, buffers, term, corner))
}

/// Energy of one action kind in one layer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindEnergy {
    pub kind: ActionKind,
    /// Events counted: those of the kind's terms priced like its first
    /// term (MACs, vectors, weights, 64-bit DRAM accesses; see the terms).
    pub events: u64,
    /// Bits (operand-bit products for multiplies) of all its terms.
    pub units: u64,
    /// Energy for the whole batch, pJ.
    pub pj: Range,
}

/// Energy of one layer for one batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerEnergy {
    pub name: String,
    pub batch: usize,
    pub macs: u64,
    /// Every action kind, in [`ActionKind::ALL`] order (zero where none).
    pub kinds: Vec<KindEnergy>,
    /// Energy for the whole batch, pJ.
    pub total_pj: Range,
}

impl LayerEnergy {
    pub fn kind(&self, kind: ActionKind) -> &KindEnergy {
        self.kinds
            .iter()
            .find(|k| k.kind == kind)
            .expect("every kind is listed")
    }

    /// Energy per image, pJ.
    pub fn per_image_pj(&self) -> Range {
        self.total_pj.scale(1.0 / self.batch as f64)
    }

    /// Energy per useful MAC (all actions included), pJ.
    pub fn pj_per_mac(&self) -> Range {
        if self.macs == 0 {
            Range::default()
        } else {
            self.total_pj.scale(1.0 / self.macs as f64)
        }
    }
}

/// Price every term of `activity`.
pub fn layer_energy(
    table: &EnergyTable,
    buffers: &BufferSizes,
    activity: &LayerActivity,
) -> LayerEnergy {
    let kinds: Vec<KindEnergy> = ActionKind::ALL
        .iter()
        .map(|&kind| {
            let mut pj = Range::default();
            let (mut events, mut units) = (0, 0);
            let terms: Vec<&Term> = activity.terms.iter().filter(|t| t.kind == kind).collect();
            for term in &terms {
                pj += term_energy_pj(table, buffers, term);
                units += term.units;
                // Terms priced by another primitive count the same events
                // again (e.g. the accumulator's register and its adder).
                if term.primitive == terms[0].primitive {
                    events += term.events;
                }
            }
            KindEnergy {
                kind,
                events,
                units,
                pj,
            }
        })
        .collect();
    let total_pj = kinds.iter().fold(Range::default(), |sum, k| sum + k.pj);
    LayerEnergy {
        name: activity.name.clone(),
        batch: activity.batch,
        macs: activity.macs,
        kinds,
        total_pj,
    }
}

/// Totals over layers: energy per image, per MAC, and efficiency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyTotals {
    pub batch: usize,
    /// Useful MACs per image.
    pub macs_per_image: u64,
    /// Energy per image by action kind, pJ ([`ActionKind::ALL`] order).
    pub per_image_pj_by_kind: Vec<(ActionKind, Range)>,
    /// Energy per image, uJ.
    pub per_image_uj: Range,
    /// Energy per useful MAC, pJ.
    pub pj_per_mac: Range,
    /// Effective TOPS/W at 2 ops per MAC (`low` from the high energy).
    pub tops_per_w: Range,
}

pub fn totals(layers: &[LayerEnergy]) -> EnergyTotals {
    let batch = layers.first().map_or(1, |l| l.batch);
    let macs_batch: u64 = layers.iter().map(|l| l.macs).sum();
    let macs_per_image = macs_batch / batch as u64;
    let per_image_pj_by_kind: Vec<(ActionKind, Range)> = ActionKind::ALL
        .iter()
        .map(|&kind| {
            let pj = layers
                .iter()
                .fold(Range::default(), |sum, l| sum + l.kind(kind).pj);
            (kind, pj.scale(1.0 / batch as f64))
        })
        .collect();
    let per_image_pj = per_image_pj_by_kind
        .iter()
        .fold(Range::default(), |sum, (_, pj)| sum + *pj);
    let pj_per_mac = if macs_per_image == 0 {
        Range::default()
    } else {
        per_image_pj.scale(1.0 / macs_per_image as f64)
    };
    // ops / J = 2 * MACs / (pJ * 1e-12); TOPS/W = that / 1e12 = 2 * MACs / pJ.
    let tops_per_w = per_image_pj.reciprocal_scaled(2.0 * macs_per_image as f64);
    EnergyTotals {
        batch,
        macs_per_image,
        per_image_pj_by_kind,
        per_image_uj: per_image_pj.scale(1e-6),
        pj_per_mac,
        tops_per_w,
    }
}
