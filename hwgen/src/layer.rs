//! What one compute layer of a model asks of the array, and how its outputs
//! leave it: the logits-bypass rule, stated once for the driver, the
//! `$readmemh` images and the reports.

use golden::model::{ComputeParams, Model, Output};

/// How a compute layer's results leave the array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRequant {
    /// The last layer (logits): the requantizer is bypassed and the raw
    /// `acc + bias` is read on `out_raw`.
    pub bypass: bool,
    /// One shift per output channel; zero for the logits layer, whose
    /// shifts the requantizer never applies.
    pub shifts: Vec<u8>,
    /// The layer's output activation width (`prm_out_bits`); for the
    /// logits layer the hardware's widest output, `max_out_bits` (a value
    /// the field can hold; the bypass ignores it).
    pub out_bits: u8,
}

impl LayerRequant {
    /// The rule for a layer with `params` on hardware whose widest output
    /// is `max_out_bits`.
    pub fn of(params: &ComputeParams, max_out_bits: u8) -> LayerRequant {
        match &params.output {
            Output::Requant { bits, shifts } => LayerRequant {
                bypass: false,
                shifts: shifts.clone(),
                out_bits: *bits,
            },
            Output::Logits => LayerRequant {
                bypass: true,
                shifts: vec![0; params.bias.len()],
                out_bits: max_out_bits,
            },
        }
    }
}

/// What one compute layer needs of the datapath.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerNeeds {
    /// The layer's name.
    pub layer: String,
    /// Input activation width (8 for the image).
    pub in_bits: u8,
    /// Output activation width; `None` for the logits layer.
    pub out_bits: Option<u8>,
    /// Weight width.
    pub w_bits: u8,
    /// Products per output (GEMM K).
    pub k: usize,
    /// Largest shift it applies (0 for the logits layer).
    pub max_shift: u8,
}

/// The needs of every compute layer of `model`, in order.
pub fn layer_needs(model: &Model) -> Vec<LayerNeeds> {
    model
        .layers()
        .iter()
        .filter_map(|layer| {
            let gemm = layer.gemm()?;
            let params = gemm.params;
            let requant = LayerRequant::of(params, 1);
            Some(LayerNeeds {
                layer: layer.name.clone(),
                in_bits: params.in_bits,
                out_bits: params.output.bits(),
                w_bits: params.w_bits,
                k: gemm.k,
                max_shift: requant.shifts.iter().copied().max().unwrap_or(0),
            })
        })
        .collect()
}
