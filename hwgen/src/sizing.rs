//! Sizing a hardware config for a model: the widest activation and weight
//! any layer uses and the largest K decide the datapath widths.

use crate::{HwConfig, HwConfigError};
use golden::model::Model;

/// What a model asks of the datapath.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelNeeds {
    /// Widest unsigned activation entering or leaving any compute layer
    /// (at least the 8-bit image input).
    pub a_bits: u8,
    /// Widest signed weight.
    pub w_bits: u8,
    /// Largest number of products per output (GEMM K).
    pub max_k: u64,
}

/// The widths and K a model needs.
pub fn model_needs(model: &Model) -> ModelNeeds {
    let mut needs = ModelNeeds {
        a_bits: model.input_bits,
        w_bits: 2,
        max_k: 1,
    };
    for layer in model.layers() {
        if let Some(gemm) = layer.gemm() {
            let params = gemm.params;
            needs.a_bits = needs.a_bits.max(params.in_bits);
            if let Some(out_bits) = params.output.bits() {
                needs.a_bits = needs.a_bits.max(out_bits);
            }
            needs.w_bits = needs.w_bits.max(params.w_bits);
            needs.max_k = needs.max_k.max(gemm.k as u64);
        }
    }
    needs
}

/// `config` resized to exactly what `model` needs (array shape, depth and
/// clock kept), renamed `<config>-for-<model>` so generated headers say so.
pub fn size_for_model(config: &HwConfig, model: &Model) -> Result<HwConfig, HwConfigError> {
    let needs = model_needs(model);
    let mut sized = config.sized_for(needs.a_bits, needs.w_bits, needs.max_k)?;
    sized.name = format!("{}-for-{}", config.name, model.name);
    Ok(sized)
}

/// Layers of `model` that `config` cannot run as they are, with the reason;
/// empty when every layer fits.
pub fn unsupported_layers(config: &HwConfig, model: &Model) -> Vec<String> {
    let mut problems = Vec::new();
    for layer in model.layers() {
        let Some(gemm) = layer.gemm() else { continue };
        let params = gemm.params;
        let out_bits = params.output.bits().unwrap_or(1);
        if !config.supports_layer(params.in_bits, params.w_bits, out_bits, gemm.k) {
            problems.push(format!(
                "layer `{}` needs a_in={} w={} a_out={} K={} but the config has a_bits={} w_bits={} acc_bits={}",
                layer.name,
                params.in_bits,
                params.w_bits,
                params.output.bits().map(|b| b.to_string()).unwrap_or_else(|| "logits".into()),
                gemm.k,
                config.a_bits,
                config.w_bits,
                config.acc_bits_resolved()
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use golden::random::{random_model, RandomBits};
    use golden::topology::{Preset, Topology};

    #[test]
    fn w4a4_alexnet_needs_8_bit_activations_for_its_input() {
        let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).unwrap();
        let bits = RandomBits {
            w_bits: 4,
            a_bits: 4,
            first_last_w_bits: None,
        };
        let model = random_model(&topology, bits, 1).unwrap();
        let needs = model_needs(&model);
        assert_eq!(
            needs,
            ModelNeeds {
                a_bits: 8,
                w_bits: 4,
                max_k: 1024
            }
        );
        let config = HwConfig::from_yaml_str(
            "name: t\nrows: 4\ncols: 4\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\nacc_bits: auto\nmax_k: 16\nshift_bits: 5\nacc_depth: 16\nclock_mhz: 100\n",
        )
        .unwrap();
        let problems = unsupported_layers(&config, &model);
        assert!(problems[0].contains("conv1"), "{problems:?}");
        let sized = size_for_model(&config, &model).unwrap();
        assert_eq!((sized.rows, sized.a_bits, sized.w_bits), (4, 8, 4));
        assert!(unsupported_layers(&sized, &model).is_empty());
        assert!(sized.name.starts_with("t-for-"));
    }
}
