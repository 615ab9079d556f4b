//! [`Design`]: one resolved design point, the single source of truth for
//! the generated RTL, the simulation driver and the reports.
//!
//! [`resolve`] takes a hardware config as the user wrote it and, optionally,
//! the model it must run, and returns the config as it will be generated,
//! every width derived from it ([`Widths`], computed here and nowhere else)
//! and a record of every change made to what the user wrote ([`Change`]).
//! hwgen, sim, report and the flow take a `Design`; none of them sizes or
//! derives a width on its own.

use crate::config::{AccBits, HwConfig, HwConfigError, WideOperands, MAX_ACC_BITS};
use crate::layer::{layer_needs, LayerNeeds};
use golden::contract;
use golden::model::Model;
use serde::Serialize;
use std::fmt;

/// Width of the per-column bias field, the raw output and the requantizer's
/// arithmetic: the contract's biases and logits are i32, and golden's loader
/// proves every `acc + bias + rounding` fits in it (see `tandem_requant.v`).
pub const REQUANT_BITS: u32 = 32;

/// Every width the RTL, the driver and the reports use, derived once from a
/// resolved config. `tandem_top` passes each of them down as a parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Widths {
    /// `wload_row`: `max(1, ceil(log2(rows)))`.
    pub row_bits: u32,
    /// Accumulator entry index (`act_acc_addr`, `out_acc_addr`):
    /// `max(1, ceil(log2(acc_depth)))`.
    pub addr_bits: u32,
    /// The PEs can hold an unsigned low slice of a weight wider than
    /// `w_bits` (`wload_signed` = 0): true when `max_w_bits > w_bits`. Each
    /// PE then multiplies by a `w_bits + 1`-bit signed value.
    pub unsigned_weight_slices: bool,
    /// One product: `a_bits + w_bits` signed bits, plus one with
    /// `unsigned_weight_slices`.
    pub product_bits: u32,
    /// Per array row r: the partial sum leaving row r, the exact sum of
    /// r + 1 products (`product_bits + ceil(log2(r + 1))`), capped at
    /// `acc_bits`.
    pub psum_bits: Vec<u32>,
    /// One column sum leaving the array (the last row's partial sum).
    pub sum_bits: u32,
    /// Accumulator-bank entries: the full-precision sum of the widest layer.
    pub acc_bits: u32,
    /// Largest left shift of a pass's column sums before accumulation:
    /// `(ceil(max_in_bits / a_bits) - 1) * a_bits + (ceil(max_w_bits /
    /// w_bits) - 1) * w_bits` (0 when every layer fits the PEs).
    pub max_slice_shift: u32,
    /// The `act_slice_shift` field: `max(1, ceil(log2(max_slice_shift + 1)))`.
    pub slice_shift_bits: u32,
    /// Control that travels with a vector: bank, first, last, bypass, the
    /// slice shift and the accumulator address.
    pub meta_bits: u32,
    /// Per-column bias field (`prm_bias`) and raw output (`out_raw`).
    pub bias_bits: u32,
    /// One column of `out_act`: the widest output activation (`max_out_bits`).
    pub out_a_bits: u32,
    /// The `prm_out_bits` field: holds `1..=out_a_bits`.
    pub out_bits_bits: u32,
    /// Per-column shift field (`prm_shift`).
    pub shift_bits: u32,
    /// Largest shift the field can express: `min(31, 2^shift_bits - 1)`.
    pub max_shift: u8,
}

impl Widths {
    /// The widths of `config` (which must be valid).
    pub fn of(config: &HwConfig) -> Widths {
        let acc_bits = config.acc_bits_resolved();
        let unsigned_weight_slices = config.layer_w_bits() > config.w_bits;
        let product_bits =
            u32::from(config.a_bits) + u32::from(config.w_bits) + u32::from(unsigned_weight_slices);
        let psum_bits: Vec<u32> = (0..config.rows as usize)
            .map(|row| (product_bits + contract::ceil_log2(row + 1)).min(acc_bits))
            .collect();
        let addr_bits = contract::ceil_log2(config.acc_depth as usize).max(1);
        let widest = Passes::of(config, config.layer_in_bits(), config.layer_w_bits());
        let max_slice_shift = widest.shift(config, widest.act_slices - 1, widest.weight_slices - 1);
        let slice_shift_bits = contract::ceil_log2(max_slice_shift as usize + 1).max(1);
        let out_a_bits = u32::from(config.layer_out_bits());
        Widths {
            row_bits: contract::ceil_log2(config.rows as usize).max(1),
            addr_bits,
            unsigned_weight_slices,
            product_bits,
            sum_bits: *psum_bits.last().expect("rows >= 1"),
            psum_bits,
            acc_bits,
            max_slice_shift,
            slice_shift_bits,
            meta_bits: 4 + slice_shift_bits + addr_bits,
            bias_bits: REQUANT_BITS,
            out_a_bits,
            out_bits_bits: contract::ceil_log2(out_a_bits as usize + 1),
            shift_bits: u32::from(config.shift_bits),
            max_shift: config.max_shift(),
        }
    }
}

/// How a layer's operands split into the PEs' native widths: activation
/// slices are unsigned `a_bits`-wide digits (least significant first);
/// weight slices are unsigned `w_bits`-wide digits below a signed top digit.
/// Each (activation slice, weight slice) pair is one pass over the layer's
/// tiles, its column sums shifted left by [`Passes::shift`] before they are
/// accumulated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Passes {
    /// `ceil(in_bits / a_bits)`.
    pub act_slices: u32,
    /// `ceil(w_bits / native w_bits)`.
    pub weight_slices: u32,
}

impl Passes {
    /// One pass: the layer fits the PEs.
    pub const ONE: Passes = Passes {
        act_slices: 1,
        weight_slices: 1,
    };

    /// The passes of a layer with `in_bits` activations and `w_bits`
    /// weights on `config`'s PEs.
    pub fn of(config: &HwConfig, in_bits: u8, w_bits: u8) -> Passes {
        Passes {
            act_slices: u32::from(in_bits).div_ceil(u32::from(config.a_bits)).max(1),
            weight_slices: u32::from(w_bits).div_ceil(u32::from(config.w_bits)).max(1),
        }
    }

    /// Passes in all: `act_slices * weight_slices`.
    pub fn count(&self) -> u32 {
        self.act_slices * self.weight_slices
    }

    /// The left shift of pass (activation slice `a`, weight slice `w`):
    /// the slices' place values, `a * a_bits + w * w_bits`.
    pub fn shift(&self, config: &HwConfig, act_slice: u32, weight_slice: u32) -> u32 {
        act_slice * u32::from(config.a_bits) + weight_slice * u32::from(config.w_bits)
    }
}

/// One change resolution made to the config as written, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The config field.
    pub field: &'static str,
    /// Its value as written.
    pub from: String,
    /// Its value as generated.
    pub to: String,
    /// Why, naming the layer that needs it.
    pub because: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {} because {}",
            self.field, self.from, self.to, self.because
        )
    }
}

/// Where a design came from, for the regenerate command in every file's
/// banner. Not part of what the RTL computes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DesignSource {
    /// The hardware config file (`--hw`).
    pub hw_config: Option<String>,
    /// The model directory (`--model`).
    pub model_dir: Option<String>,
    /// The directory the design is written to (`--out`).
    pub out_dir: Option<String>,
}

/// A resolved design point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Design {
    /// The config as it is generated: `acc_bits` explicit, every width
    /// large enough for the model.
    pub config: HwConfig,
    /// Every derived width.
    pub widths: Widths,
    /// What resolution changed in the config as written (empty when it
    /// was used as is).
    pub changes: Vec<Change>,
    /// The model the design was sized for, by name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Where it came from (banner only).
    pub source: DesignSource,
}

/// The `hw` object of every `--json` output and result file: the resolved
/// widths and every change, with the same keys everywhere.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HwSummary {
    pub name: String,
    pub rows: u32,
    pub cols: u32,
    pub a_bits: u8,
    pub w_bits: u8,
    pub acc_bits: u32,
    pub shift_bits: u8,
    pub acc_depth: u32,
    pub clock_mhz: f64,
    /// The widest layer operands the design serves (in passes when wider
    /// than `a_bits` x `w_bits`) and the widest output.
    pub max_in_bits: u8,
    pub max_w_bits: u8,
    pub max_out_bits: u8,
    /// `slice` or `widen` (see [`crate::config::WideOperands`]).
    pub wide_operands: WideOperands,
    /// [`Change`]s as one sentence each.
    pub changes: Vec<String>,
    pub widths: Widths,
}

/// Resolve `config` (as the user wrote it) into the design that is
/// generated, simulated and reported; with a model, every width is widened
/// to what the model's layers need and each widening is recorded. With
/// `wide_operands: slice` (the default) the PEs keep their native widths
/// and the widest layer operands (`max_in_bits`, `max_w_bits`) grow, so
/// wider layers run in passes; with `widen` the PEs grow instead.
///
/// Widening never narrows: a config wider than the model needs is kept.
pub fn resolve(config: &HwConfig, model: Option<&Model>) -> Result<Design, HwConfigError> {
    config.validate()?;
    let mut resolved = config.clone();
    let mut changes = Vec::new();
    if let Some(model) = model {
        let needs = layer_needs(model);
        if config.wide_operands == WideOperands::Widen {
            widen_pes(&mut resolved, &needs, &mut changes);
        }
        widen_layer_bits(&mut resolved, &needs, &mut changes);
        widen_max_k(&mut resolved, &needs, &mut changes);
        widen_shift(&mut resolved, &needs, &mut changes);
    }
    resolved.max_in_bits = Some(resolved.layer_in_bits());
    resolved.max_w_bits = Some(resolved.layer_w_bits());
    resolved.max_out_bits = Some(resolved.layer_out_bits());
    resolve_acc_bits(config, &mut resolved, &mut changes);
    resolved.validate()?;
    Ok(Design {
        widths: Widths::of(&resolved),
        config: resolved,
        changes,
        model: model.map(|m| m.name.clone()),
        source: DesignSource::default(),
    })
}

/// `wide_operands: widen`: `a_bits` and `w_bits` up to the widest layer
/// input and weight, so every layer runs in one pass.
fn widen_pes(config: &mut HwConfig, needs: &[LayerNeeds], changes: &mut Vec<Change>) {
    let because = "wide_operands: widen";
    if let Some(widest) = first_max(needs, |n| n.in_bits) {
        if widest.in_bits > config.a_bits {
            changes.push(change(
                "a_bits",
                config.a_bits,
                widest.in_bits,
                format!(
                    "layer {} takes {}-bit input activations ({because})",
                    widest.layer, widest.in_bits
                ),
            ));
            config.a_bits = widest.in_bits;
        }
    }
    if let Some(widest) = first_max(needs, |n| n.w_bits) {
        if widest.w_bits > config.w_bits {
            changes.push(change(
                "w_bits",
                config.w_bits,
                widest.w_bits,
                format!(
                    "layer {} has {}-bit weights ({because})",
                    widest.layer, widest.w_bits
                ),
            ));
            config.w_bits = widest.w_bits;
        }
    }
}

/// `max_in_bits`, `max_w_bits` and `max_out_bits` up to the widest layer
/// input, weight and output. A layer wider than the PEs runs in passes.
fn widen_layer_bits(config: &mut HwConfig, needs: &[LayerNeeds], changes: &mut Vec<Change>) {
    let passes = |config: &HwConfig, in_bits, w_bits| {
        let passes = Passes::of(config, in_bits, w_bits);
        if passes.count() > 1 {
            format!(
                " (on {}-bit x {}-bit PEs: {} passes)",
                config.a_bits,
                config.w_bits,
                passes.count()
            )
        } else {
            String::new()
        }
    };
    if let Some(widest) = first_max(needs, |n| n.in_bits) {
        if widest.in_bits > config.layer_in_bits() {
            let how = passes(config, widest.in_bits, 1);
            changes.push(change(
                "max_in_bits",
                config.layer_in_bits(),
                widest.in_bits,
                format!(
                    "layer {} takes {}-bit input activations{how}",
                    widest.layer, widest.in_bits
                ),
            ));
            config.max_in_bits = Some(widest.in_bits);
        }
    }
    if let Some(widest) = first_max(needs, |n| n.w_bits) {
        if widest.w_bits > config.layer_w_bits() {
            let how = passes(config, 1, widest.w_bits);
            changes.push(change(
                "max_w_bits",
                config.layer_w_bits(),
                widest.w_bits,
                format!(
                    "layer {} has {}-bit weights{how}",
                    widest.layer, widest.w_bits
                ),
            ));
            config.max_w_bits = Some(widest.w_bits);
        }
    }
    if let Some(widest) = first_max(needs, |n| n.out_bits.unwrap_or(0)) {
        let bits = widest.out_bits.unwrap_or(0);
        if bits > config.layer_out_bits() {
            changes.push(change(
                "max_out_bits",
                config.layer_out_bits(),
                bits,
                format!("layer {} produces {bits}-bit activations", widest.layer),
            ));
            config.max_out_bits = Some(bits);
        }
    }
}

/// `max_k` up to the largest layer K (it sizes the accumulator).
fn widen_max_k(config: &mut HwConfig, needs: &[LayerNeeds], changes: &mut Vec<Change>) {
    let Some(largest) = first_max(needs, |n| n.k) else {
        return;
    };
    let k = largest.k as u64;
    let held = config.max_k.unwrap_or(0).max(u64::from(config.rows));
    if k > held {
        let from = config
            .max_k
            .map_or_else(|| "unset".to_string(), |k| k.to_string());
        changes.push(change(
            "max_k",
            from,
            k,
            format!("layer {} sums K = {k} products", largest.layer),
        ));
        config.max_k = Some(k);
    }
}

/// `shift_bits` up to the largest shift any layer uses.
fn widen_shift(config: &mut HwConfig, needs: &[LayerNeeds], changes: &mut Vec<Change>) {
    let Some(largest) = first_max(needs, |n| n.max_shift) else {
        return;
    };
    let bits = shift_field_bits(largest.max_shift);
    if bits > config.shift_bits {
        changes.push(change(
            "shift_bits",
            config.shift_bits,
            bits,
            format!("layer {} uses shift {}", largest.layer, largest.max_shift),
        ));
        config.shift_bits = bits;
    }
}

/// The narrowest shift field that holds `shift`.
pub fn shift_field_bits(shift: u8) -> u8 {
    contract::ceil_log2(usize::from(shift) + 1).max(1) as u8
}

/// `acc_bits` made explicit: `auto` resolves to the contract formula at the
/// resolved widths and K; an explicit width too small for them is widened.
/// A value that differs from what the config as written resolved to is
/// recorded.
fn resolve_acc_bits(written: &HwConfig, config: &mut HwConfig, changes: &mut Vec<Change>) {
    let max_k = config.max_k.unwrap_or(u64::from(config.rows));
    let needed = HwConfig {
        acc_bits: AccBits::Auto,
        max_k: Some(max_k),
        ..config.clone()
    }
    .acc_bits_resolved();
    let bits = match config.acc_bits {
        AccBits::Bits(bits) if bits == MAX_ACC_BITS || bits >= needed => bits,
        _ => needed,
    };
    let before = written.acc_bits_resolved();
    if bits != before {
        let rule = if written.acc_bits == AccBits::Auto {
            "acc_bits: auto"
        } else {
            "the widest layer needs it"
        };
        changes.push(change(
            "acc_bits",
            before,
            bits,
            format!(
                "max_in_bits + max_w_bits + ceil(log2(max_k)) + 1 = {needed} at max_in_bits {}, max_w_bits {}, max_k {max_k} ({rule})",
                config.layer_in_bits(), config.layer_w_bits()
            ),
        ));
    }
    config.acc_bits = AccBits::Bits(bits);
}

/// The first layer with the largest `key` (so a change names the layer
/// that needs it first, e.g. conv1 for the 8-bit image input).
fn first_max<K: Ord>(needs: &[LayerNeeds], key: impl Fn(&LayerNeeds) -> K) -> Option<&LayerNeeds> {
    needs
        .iter()
        .fold(None, |best: Option<&LayerNeeds>, needs| match best {
            Some(best) if key(best) >= key(needs) => Some(best),
            _ => Some(needs),
        })
}

fn change(
    field: &'static str,
    from: impl fmt::Display,
    to: impl fmt::Display,
    because: String,
) -> Change {
    Change {
        field,
        from: from.to_string(),
        to: to.to_string(),
        because,
    }
}

impl Design {
    /// The design of `config` as written, without a model.
    pub fn of(config: &HwConfig) -> Result<Design, HwConfigError> {
        resolve(config, None)
    }

    /// This design with its source recorded (for the banner).
    pub fn with_source(mut self, source: DesignSource) -> Design {
        self.source = source;
        self
    }

    /// The design of a checked-in preset: `config_file` under `repo_root`
    /// (e.g. `configs/hw-16x16-w4a4.yaml`), generated into
    /// `rtl/generated/<name>/`, with those paths in its banner.
    pub fn preset(
        repo_root: &std::path::Path,
        config_file: &std::path::Path,
    ) -> Result<Design, HwConfigError> {
        let config = HwConfig::from_yaml_file(repo_root.join(config_file))?;
        let out_dir = format!("rtl/generated/{}", config.name);
        Ok(Design::of(&config)?.with_source(DesignSource {
            hw_config: Some(config_file.display().to_string()),
            model_dir: None,
            out_dir: Some(out_dir),
        }))
    }

    /// The `hw` object of JSON outputs.
    pub fn summary(&self) -> HwSummary {
        let config = &self.config;
        HwSummary {
            name: config.name.clone(),
            rows: config.rows,
            cols: config.cols,
            a_bits: config.a_bits,
            w_bits: config.w_bits,
            acc_bits: self.widths.acc_bits,
            shift_bits: config.shift_bits,
            acc_depth: config.acc_depth,
            clock_mhz: config.clock_mhz,
            max_in_bits: config.layer_in_bits(),
            max_w_bits: config.layer_w_bits(),
            max_out_bits: config.layer_out_bits(),
            wide_operands: config.wide_operands,
            changes: self.changes.iter().map(Change::to_string).collect(),
            widths: self.widths.clone(),
        }
    }

    /// The layers of `model` this design cannot run exactly, with the
    /// reason; empty when it was resolved for `model` (or a narrower one).
    pub fn unsupported_layers(&self, model: &Model) -> Vec<String> {
        layer_needs(model)
            .iter()
            .filter_map(|needs| self.unsupported(needs))
            .collect()
    }

    fn unsupported(&self, needs: &LayerNeeds) -> Option<String> {
        let config = &self.config;
        let acc = self.widths.acc_bits;
        let acc_ok = acc == MAX_ACC_BITS
            || contract::accumulator_bits(needs.in_bits, needs.w_bits, needs.k) <= acc;
        let fits = needs.in_bits <= config.layer_in_bits()
            && needs.w_bits <= config.layer_w_bits()
            && needs.out_bits.unwrap_or(0) <= config.layer_out_bits()
            && needs.max_shift <= self.widths.max_shift
            && acc_ok;
        (!fits).then(|| {
            format!(
                "layer `{}` needs a_in={} w={} a_out={} K={} shift<={} but the design serves max_in_bits={} max_w_bits={} max_out_bits={} with acc_bits={} shift_bits={}",
                needs.layer,
                needs.in_bits,
                needs.w_bits,
                needs
                    .out_bits
                    .map_or_else(|| "logits".to_string(), |b| b.to_string()),
                needs.k,
                needs.max_shift,
                config.layer_in_bits(),
                config.layer_w_bits(),
                config.layer_out_bits(),
                acc,
                config.shift_bits
            )
        })
    }

    /// The passes a layer with `in_bits` activations and `w_bits` weights
    /// takes on this design's PEs.
    pub fn passes(&self, in_bits: u8, w_bits: u8) -> Passes {
        Passes::of(&self.config, in_bits, w_bits)
    }

    /// The command that regenerates this design, as the banner prints it.
    pub fn regenerate_command(&self) -> String {
        let source = &self.source;
        let mut words = vec!["tandem".to_string(), "hwgen".to_string()];
        words.push("--hw".into());
        words.push(quote(
            source.hw_config.as_deref().unwrap_or("<config.yaml>"),
        ));
        if let Some(model) = &source.model_dir {
            words.push("--model".into());
            words.push(quote(model));
        } else if self.model.is_some() {
            words.push("--model".into());
            words.push("<model dir>".into());
        }
        words.push("--out".into());
        words.push(quote(source.out_dir.as_deref().unwrap_or("<dir>")));
        words.join(" ")
    }
}

/// Shell-quote `word` when it needs it.
fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%<>".contains(c));
    if plain && !word.contains(' ') {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use golden::random::{random_model, RandomBits};
    use golden::topology::{Preset, Topology};

    const SMALL: &str = "name: t\nrows: 4\ncols: 4\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\nacc_bits: auto\nmax_k: 16\nshift_bits: 2\nacc_depth: 16\nclock_mhz: 100\n";

    fn w4a4_model() -> Model {
        let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).unwrap();
        let bits = RandomBits {
            w_bits: 4,
            a_bits: 4,
            first_last_w_bits: None,
        };
        random_model(&topology, bits, 1).unwrap()
    }

    #[test]
    fn widths_follow_the_formulas() {
        let design = Design::of(&HwConfig::from_yaml_str(SMALL).unwrap()).unwrap();
        let widths = &design.widths;
        assert_eq!(widths.acc_bits, 4 + 4 + 4 + 1);
        assert_eq!(widths.psum_bits, [8, 9, 10, 10]);
        assert_eq!(widths.sum_bits, 10);
        assert_eq!(
            (widths.row_bits, widths.addr_bits, widths.meta_bits),
            (2, 4, 9)
        );
        assert_eq!((widths.out_bits_bits, widths.max_shift), (3, 3));
        // Every layer fits the PEs: no unsigned weight slices, no shifter.
        assert!(!widths.unsigned_weight_slices);
        assert_eq!((widths.max_slice_shift, widths.slice_shift_bits), (0, 1));
        assert_eq!(widths.out_a_bits, 4);
        assert!(design.changes.is_empty());
        assert_eq!(design.config.acc_bits, AccBits::Bits(13));
    }

    #[test]
    fn a_model_widens_every_field_it_needs_and_says_why() {
        let config = HwConfig::from_yaml_str(SMALL).unwrap();
        let model = w4a4_model();
        assert!(!Design::of(&config)
            .unwrap()
            .unsupported_layers(&model)
            .is_empty());
        let design = resolve(&config, Some(&model)).unwrap();
        let changes: Vec<String> = design.changes.iter().map(Change::to_string).collect();
        let fields: Vec<&str> = design.changes.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            ["max_in_bits", "max_k", "shift_bits", "acc_bits"],
            "{changes:?}"
        );
        assert_eq!(
            changes[0],
            "max_in_bits 4 -> 8 because layer conv1 takes 8-bit input activations (on 4-bit x 4-bit PEs: 2 passes)"
        );
        assert!(
            changes[1].starts_with("max_k 16 -> 1024 because layer "),
            "{changes:?}"
        );
        assert!(changes[2].starts_with("shift_bits 2 -> "), "{changes:?}");
        assert!(design.unsupported_layers(&model).is_empty());
        // The PEs keep their native widths; conv1 runs in two passes.
        assert_eq!((design.config.a_bits, design.config.w_bits), (4, 4));
        assert_eq!(design.passes(8, 4).count(), 2);
        assert_eq!(design.widths.max_slice_shift, 4);
        assert_eq!(design.widths.acc_bits, 8 + 4 + 10 + 1);
        // Resolving the resolved config again changes nothing.
        let again = resolve(&design.config, Some(&model)).unwrap();
        assert!(again.changes.is_empty(), "{:?}", again.changes);
        assert_eq!(again.config, design.config);
    }

    #[test]
    fn widen_mode_grows_the_pes_instead() {
        let text = format!("{SMALL}wide_operands: widen\n");
        let config = HwConfig::from_yaml_str(&text).unwrap();
        let design = resolve(&config, Some(&w4a4_model())).unwrap();
        let fields: Vec<&str> = design.changes.iter().map(|c| c.field).collect();
        assert_eq!(fields[0], "a_bits", "{:?}", design.changes);
        assert_eq!((design.config.a_bits, design.config.w_bits), (8, 4));
        assert_eq!(design.passes(8, 4), Passes::ONE);
        assert_eq!(design.widths.max_slice_shift, 0);
        assert!(design.unsupported_layers(&w4a4_model()).is_empty());
    }

    #[test]
    fn slice_widths_follow_the_widest_layer() {
        // 2-bit PEs serving 8-bit activations and weights, 4-bit outputs.
        let config = HwConfig::array("s", 4, 4, 2, 2, 8).with_layer_bits(8, 8, 4);
        let design = Design::of(&config).unwrap();
        let widths = &design.widths;
        let passes = design.passes(8, 8);
        assert_eq!((passes.act_slices, passes.weight_slices), (4, 4));
        assert_eq!(widths.max_slice_shift, 3 * 2 + 3 * 2);
        assert_eq!(widths.slice_shift_bits, 4);
        assert!(widths.unsigned_weight_slices);
        assert_eq!(widths.product_bits, 2 + 2 + 1);
        assert_eq!(widths.psum_bits, [5, 6, 7, 7]);
        assert_eq!(widths.acc_bits, 8 + 8 + 10 + 1);
        assert_eq!((widths.out_a_bits, widths.out_bits_bits), (4, 3));
        // Odd pairs round up: 7-bit activations on 3-bit PEs take 3 slices.
        let odd =
            Design::of(&HwConfig::array("o", 2, 2, 3, 3, 4).with_layer_bits(7, 5, 3)).unwrap();
        let passes = odd.passes(7, 5);
        assert_eq!((passes.act_slices, passes.weight_slices), (3, 2));
        assert_eq!(odd.widths.max_slice_shift, 2 * 3 + 3);
    }

    #[test]
    fn a_config_that_fits_is_kept_as_written() {
        let wide = SMALL
            .replace("a_bits: 4", "a_bits: 8")
            .replace("w_bits: 4", "w_bits: 8")
            .replace("max_k: 16", "max_k: 9216")
            .replace("shift_bits: 2", "shift_bits: 5");
        let config = HwConfig::from_yaml_str(&wide).unwrap();
        let design = resolve(&config, Some(&w4a4_model())).unwrap();
        assert!(design.changes.is_empty(), "{:?}", design.changes);
        assert_eq!(design.config.w_bits, 8, "never narrowed");
        assert_eq!(design.config, resolve(&config, None).unwrap().config);
    }

    #[test]
    fn an_explicit_acc_bits_too_small_for_the_model_is_widened() {
        let text = SMALL.replace("acc_bits: auto", "acc_bits: 13");
        let config = HwConfig::from_yaml_str(&text).unwrap();
        let design = resolve(&config, Some(&w4a4_model())).unwrap();
        let acc = design
            .changes
            .iter()
            .find(|c| c.field == "acc_bits")
            .unwrap();
        assert_eq!((acc.from.as_str(), acc.to.as_str()), ("13", "23"));
    }

    #[test]
    fn the_regenerate_command_quotes_paths() {
        let config = HwConfig::from_yaml_str(SMALL).unwrap();
        let design = Design::of(&config).unwrap().with_source(DesignSource {
            hw_config: Some("configs/my hw.yaml".into()),
            model_dir: None,
            out_dir: Some("out/hw".into()),
        });
        assert_eq!(
            design.regenerate_command(),
            "tandem hwgen --hw 'configs/my hw.yaml' --out out/hw"
        );
    }
}
