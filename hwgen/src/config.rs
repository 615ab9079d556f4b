//! [`HwConfig`]: the hardware configuration, the single source of truth for
//! the generated RTL, the simulation driver and the reports.
//!
//! A config is a small YAML file (see `configs/hw-*.yaml`). Loading checks
//! every field and reports problems as `file: field = value: what to do`.

use golden::contract;
use serde::{Serialize, Serializer};
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// Largest array dimension (`rows`, `cols`) the generator accepts.
pub const MAX_ARRAY_DIM: u32 = 256;
/// Largest accumulator-bank depth (`acc_depth`).
pub const MAX_ACC_DEPTH: u32 = 65_536;
/// Widest accumulator (`acc_bits`): the requantizer works in 32-bit two's
/// complement, see [`HwConfig::acc_bits_resolved`].
pub const MAX_ACC_BITS: u32 = 32;
/// Default width of the per-channel shift field (shifts 0..=31).
pub const DEFAULT_SHIFT_BITS: u8 = 5;
/// Widest shift field: 5 bits hold every contract shift (0..=31).
pub const MAX_SHIFT_BITS: u8 = 5;

/// How the array maps a GEMM onto its processing elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dataflow {
    /// Weights stay in the PEs; activations stream through (implemented).
    WeightStationary,
    /// Partial sums stay in the PEs (recognised, not implemented yet).
    OutputStationary,
}

impl Dataflow {
    /// The spelling used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Dataflow::WeightStationary => "weight_stationary",
            Dataflow::OutputStationary => "output_stationary",
        }
    }
}

impl fmt::Display for Dataflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What resolution does when a layer's operands are wider than the PEs'
/// native `a_bits` x `w_bits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WideOperands {
    /// Keep the native PEs; a wider layer runs in operand-slice passes
    /// (`max_in_bits`, `max_w_bits` and `max_out_bits` are widened instead).
    #[default]
    Slice,
    /// Widen `a_bits` and `w_bits` to the widest layer: every layer runs in
    /// one pass on larger PEs.
    Widen,
}

impl WideOperands {
    /// The spelling used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            WideOperands::Slice => "slice",
            WideOperands::Widen => "widen",
        }
    }
}

impl fmt::Display for WideOperands {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Accumulator-bank width: derived from `max_k`, or given explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccBits {
    /// `auto`: `min(32, contract::accumulator_bits(max_in_bits, max_w_bits, max(rows, max_k)))`.
    Auto,
    /// An explicit width in bits.
    Bits(u32),
}

impl fmt::Display for AccBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccBits::Auto => f.write_str("auto"),
            AccBits::Bits(bits) => write!(f, "{bits}"),
        }
    }
}

impl Serialize for AccBits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            AccBits::Auto => serializer.serialize_str("auto"),
            AccBits::Bits(bits) => serializer.serialize_u32(*bits),
        }
    }
}

/// A hardware configuration. Build it with [`HwConfig::from_yaml_file`] or
/// [`HwConfig::from_yaml_str`]; a config assembled in code should be checked
/// with [`HwConfig::validate`] before use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HwConfig {
    /// Design name: names the output directory and appears in every file
    /// header. Letters, digits, `-` and `_`.
    pub name: String,
    /// R: array rows, the K extent of one weight tile.
    pub rows: u32,
    /// C: array columns, the output channels of one weight tile.
    pub cols: u32,
    /// Dataflow; only [`Dataflow::WeightStationary`] is implemented.
    pub dataflow: Dataflow,
    /// Native unsigned activation width of a PE. Narrower layers
    /// zero-extend; wider ones run in `ceil(in_bits / a_bits)` activation
    /// slices.
    pub a_bits: u8,
    /// Native signed weight width of a PE. Narrower layers sign-extend;
    /// wider ones run in `ceil(w / w_bits)` weight slices.
    pub w_bits: u8,
    /// Widest input activation a layer may read (default `a_bits`): sizes
    /// the accumulator and the slice shift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_bits: Option<u8>,
    /// Widest weight a layer may use (default `w_bits`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_w_bits: Option<u8>,
    /// Widest output activation a layer may write (default `a_bits`): the
    /// width of each `out_act` column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_out_bits: Option<u8>,
    /// How resolution serves a model layer wider than the native PEs.
    pub wide_operands: WideOperands,
    /// Accumulator-bank width; see [`HwConfig::acc_bits_resolved`].
    pub acc_bits: AccBits,
    /// Largest GEMM K (products per output) the accumulator must hold
    /// exactly; required when `acc_bits` is `auto`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_k: Option<u64>,
    /// Width of the per-channel shift field: shifts `0..=2^shift_bits - 1`.
    pub shift_bits: u8,
    /// Accumulator entries per column: the most output pixels (GEMM rows M)
    /// one tile pass holds.
    pub acc_depth: u32,
    /// Clock frequency, used only to turn cycles into time in reports.
    pub clock_mhz: f64,
}

/// Why a config could not be loaded. Every message starts with the file (or
/// `<string>` / `<in-memory config>`), names the field and says how to fix it.
#[derive(Debug, Error)]
pub enum HwConfigError {
    /// The file could not be read.
    #[error("{origin}: cannot read the hardware config")]
    Read {
        /// The path.
        origin: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Not valid YAML, an unknown or missing field, or a value of the wrong
    /// type (the message from the YAML parser names the field and line).
    #[error("{origin}: {message}")]
    Syntax {
        /// The path (or `<string>`).
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// A field has a value the hardware cannot implement.
    #[error("{origin}: {field} = {value}: {fix}")]
    Invalid {
        /// The path (or `<string>` / `<in-memory config>`).
        origin: String,
        /// The offending field.
        field: &'static str,
        /// Its value as written.
        value: String,
        /// What is wrong and what to write instead.
        fix: String,
    },
}

impl HwConfigError {
    /// The field an [`HwConfigError::Invalid`] error is about.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            HwConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// A field problem before the origin is known.
struct Problem {
    field: &'static str,
    value: String,
    fix: String,
}

impl Problem {
    fn new(field: &'static str, value: impl fmt::Display, fix: impl Into<String>) -> Self {
        Problem {
            field,
            value: value.to_string(),
            fix: fix.into(),
        }
    }

    fn at(self, origin: &str) -> HwConfigError {
        HwConfigError::Invalid {
            origin: origin.to_string(),
            field: self.field,
            value: self.value,
            fix: self.fix,
        }
    }
}

const NOT_A_MAPPING: &str = "a hardware config must be a YAML mapping of fields (name, rows, cols, dataflow, a_bits, w_bits, acc_bits, acc_depth, clock_mhz; see configs/hw-16x16-w4a4.yaml)";

/// The YAML file as written, with wide integer types so that out-of-range
/// values reach our own checks (and messages) instead of serde's.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    name: String,
    rows: i64,
    cols: i64,
    dataflow: RawDataflow,
    a_bits: i64,
    w_bits: i64,
    #[serde(default)]
    max_in_bits: Option<i64>,
    #[serde(default)]
    max_w_bits: Option<i64>,
    #[serde(default)]
    max_out_bits: Option<i64>,
    #[serde(default)]
    wide_operands: Option<RawWideOperands>,
    acc_bits: serde_norway::Value,
    #[serde(default)]
    max_k: Option<i64>,
    #[serde(default)]
    shift_bits: Option<i64>,
    acc_depth: i64,
    clock_mhz: f64,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawDataflow {
    WeightStationary,
    OutputStationary,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum RawWideOperands {
    Slice,
    Widen,
}

/// The accepted range of one integer field. Loading (on the raw YAML value)
/// and [`HwConfig::validate`] (on the typed value) check against the same
/// table, so a range and its message are written once.
struct Limit {
    field: &'static str,
    min: i64,
    max: i64,
    /// Appended to "must be MIN..=MAX".
    why: &'static str,
}

const fn limit(field: &'static str, min: i64, max: i64, why: &'static str) -> Limit {
    Limit {
        field,
        min,
        max,
        why,
    }
}

const ROWS: Limit = limit("rows", 1, MAX_ARRAY_DIM as i64, "");
const COLS: Limit = limit("cols", 1, MAX_ARRAY_DIM as i64, "");
const A_BITS: Limit = limit(
    "a_bits",
    *contract::ACT_BITS.start() as i64,
    *contract::ACT_BITS.end() as i64,
    " (the contract's activation widths)",
);
const W_BITS: Limit = limit(
    "w_bits",
    *contract::WEIGHT_BITS.start() as i64,
    *contract::WEIGHT_BITS.end() as i64,
    " (the contract's weight widths)",
);
const MAX_IN_BITS: Limit = limit(
    "max_in_bits",
    *contract::ACT_BITS.start() as i64,
    *contract::ACT_BITS.end() as i64,
    " (the contract's activation widths)",
);
const MAX_W_BITS: Limit = limit(
    "max_w_bits",
    *contract::WEIGHT_BITS.start() as i64,
    *contract::WEIGHT_BITS.end() as i64,
    " (the contract's weight widths)",
);
const MAX_OUT_BITS: Limit = limit(
    "max_out_bits",
    *contract::ACT_BITS.start() as i64,
    *contract::ACT_BITS.end() as i64,
    " (the contract's activation widths)",
);
const ACC_BITS: Limit = limit("acc_bits", 1, MAX_ACC_BITS as i64, " (or `auto`)");
const MAX_K: Limit = limit("max_k", 1, u32::MAX as i64, "");
const SHIFT_BITS: Limit = limit(
    "shift_bits",
    1,
    MAX_SHIFT_BITS as i64,
    " (5 covers the contract's shifts 0..=31)",
);
const ACC_DEPTH: Limit = limit("acc_depth", 1, MAX_ACC_DEPTH as i64, "");

impl Limit {
    fn problem(&self, value: i64) -> Problem {
        let fix = format!("must be {}..={}{}", self.min, self.max, self.why);
        Problem::new(self.field, value, fix)
    }

    fn check(&self, value: i64) -> Result<(), Problem> {
        if (self.min..=self.max).contains(&value) {
            Ok(())
        } else {
            Err(self.problem(value))
        }
    }

    /// Check `value` and convert it to the field's type.
    fn convert<T: TryFrom<i64>>(&self, value: i64) -> Result<T, Problem> {
        self.check(value)?;
        T::try_from(value).map_err(|_| self.problem(value))
    }
}

impl RawConfig {
    fn into_config(self) -> Result<HwConfig, Problem> {
        let acc_bits = match &self.acc_bits {
            serde_norway::Value::String(text) if text == "auto" => AccBits::Auto,
            serde_norway::Value::Number(number) => match number.as_i64() {
                Some(bits) => AccBits::Bits(ACC_BITS.convert(bits)?),
                None => return Err(Problem::new("acc_bits", number, "must be `auto` or 1..=32")),
            },
            other => {
                let shown = serde_norway::to_string(other).unwrap_or_default();
                return Err(Problem::new(
                    "acc_bits",
                    shown.trim(),
                    "must be `auto` or an integer 1..=32",
                ));
            }
        };
        Ok(HwConfig {
            name: self.name,
            rows: ROWS.convert(self.rows)?,
            cols: COLS.convert(self.cols)?,
            dataflow: match self.dataflow {
                RawDataflow::WeightStationary => Dataflow::WeightStationary,
                RawDataflow::OutputStationary => Dataflow::OutputStationary,
            },
            a_bits: A_BITS.convert(self.a_bits)?,
            w_bits: W_BITS.convert(self.w_bits)?,
            max_in_bits: self
                .max_in_bits
                .map(|b| MAX_IN_BITS.convert(b))
                .transpose()?,
            max_w_bits: self.max_w_bits.map(|b| MAX_W_BITS.convert(b)).transpose()?,
            max_out_bits: self
                .max_out_bits
                .map(|b| MAX_OUT_BITS.convert(b))
                .transpose()?,
            wide_operands: match self.wide_operands {
                None | Some(RawWideOperands::Slice) => WideOperands::Slice,
                Some(RawWideOperands::Widen) => WideOperands::Widen,
            },
            acc_bits,
            max_k: self.max_k.map(|k| MAX_K.convert(k)).transpose()?,
            shift_bits: match self.shift_bits {
                Some(bits) => SHIFT_BITS.convert(bits)?,
                None => DEFAULT_SHIFT_BITS,
            },
            acc_depth: ACC_DEPTH.convert(self.acc_depth)?,
            clock_mhz: self.clock_mhz,
        })
    }
}

impl HwConfig {
    /// A weight-stationary `rows` x `cols` array with `a_bits` x `w_bits`
    /// operands and `acc_depth` entries per column, assembled in code:
    /// `acc_bits: auto` for K up to 1024 (see [`HwConfig::with_max_k`]),
    /// 5-bit shifts, 100 MHz. Check it with [`HwConfig::validate`].
    pub fn array(
        name: impl Into<String>,
        rows: u32,
        cols: u32,
        a_bits: u8,
        w_bits: u8,
        acc_depth: u32,
    ) -> HwConfig {
        HwConfig {
            name: name.into(),
            rows,
            cols,
            dataflow: Dataflow::WeightStationary,
            a_bits,
            w_bits,
            max_in_bits: None,
            max_w_bits: None,
            max_out_bits: None,
            wide_operands: WideOperands::Slice,
            acc_bits: AccBits::Auto,
            max_k: Some(1024),
            shift_bits: DEFAULT_SHIFT_BITS,
            acc_depth,
            clock_mhz: 100.0,
        }
    }

    /// This config with `max_k` set (the accumulator holds K products).
    pub fn with_max_k(self, max_k: u64) -> HwConfig {
        HwConfig {
            max_k: Some(max_k),
            ..self
        }
    }

    /// This config serving layers up to `in_bits` x `w_bits` operands (in
    /// slice passes when wider than the PEs) and `out_bits` outputs.
    pub fn with_layer_bits(self, in_bits: u8, w_bits: u8, out_bits: u8) -> HwConfig {
        HwConfig {
            max_in_bits: Some(in_bits),
            max_w_bits: Some(w_bits),
            max_out_bits: Some(out_bits),
            ..self
        }
    }

    /// The widest input activation a layer may read: `max_in_bits`, at
    /// least `a_bits`.
    pub fn layer_in_bits(&self) -> u8 {
        self.max_in_bits.unwrap_or(self.a_bits).max(self.a_bits)
    }

    /// The widest weight a layer may use: `max_w_bits`, at least `w_bits`.
    pub fn layer_w_bits(&self) -> u8 {
        self.max_w_bits.unwrap_or(self.w_bits).max(self.w_bits)
    }

    /// The widest output activation a layer may write (`out_act` column
    /// width): `max_out_bits`, default `a_bits`.
    pub fn layer_out_bits(&self) -> u8 {
        self.max_out_bits.unwrap_or(self.a_bits)
    }

    /// This config with a `shift_bits`-wide shift field.
    pub fn with_shift_bits(self, shift_bits: u8) -> HwConfig {
        HwConfig { shift_bits, ..self }
    }

    /// Read and validate a YAML config file. Errors name the file.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<HwConfig, HwConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| HwConfigError::Read {
            origin: origin.clone(),
            source,
        })?;
        Self::parse(&text, &origin)
    }

    /// Parse and validate YAML text; errors name the origin `<string>`.
    pub fn from_yaml_str(text: &str) -> Result<HwConfig, HwConfigError> {
        Self::parse(text, "<string>")
    }

    fn parse(text: &str, origin: &str) -> Result<HwConfig, HwConfigError> {
        // serde names the Rust type when the top level is not a mapping
        // ("expected struct RawConfig"); say what the file must be instead.
        let syntax = |message: String| HwConfigError::Syntax {
            origin: origin.to_string(),
            message,
        };
        match serde_norway::from_str::<serde_norway::Value>(text) {
            Ok(serde_norway::Value::Mapping(_)) => {}
            Ok(_) => return Err(syntax(NOT_A_MAPPING.to_string())),
            Err(error) => return Err(syntax(error.to_string())),
        }
        let raw: RawConfig =
            serde_norway::from_str(text).map_err(|error| HwConfigError::Syntax {
                origin: origin.to_string(),
                message: error.to_string(),
            })?;
        let config = raw.into_config().map_err(|problem| problem.at(origin))?;
        config.check().map_err(|problem| problem.at(origin))?;
        Ok(config)
    }

    /// The config as YAML (without comments), loadable by
    /// [`HwConfig::from_yaml_str`].
    pub fn to_yaml_string(&self) -> String {
        serde_norway::to_string(self).expect("a HwConfig always serializes")
    }

    /// Check every field; errors name the origin `<in-memory config>`.
    pub fn validate(&self) -> Result<(), HwConfigError> {
        self.check()
            .map_err(|problem| problem.at("<in-memory config>"))
    }

    fn check(&self) -> Result<(), Problem> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 64
            && self
                .name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
            && self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(Problem::new(
                "name",
                format!("{:?}", self.name),
                "must be 1..=64 letters, digits, `-` or `_`, starting with a letter or digit (it names a directory)",
            ));
        }
        ROWS.check(self.rows.into())?;
        COLS.check(self.cols.into())?;
        if self.dataflow == Dataflow::OutputStationary {
            return Err(Problem::new(
                "dataflow",
                self.dataflow,
                "not implemented yet; use weight_stationary",
            ));
        }
        A_BITS.check(self.a_bits.into())?;
        W_BITS.check(self.w_bits.into())?;
        if let Some(bits) = self.max_in_bits {
            MAX_IN_BITS.check(bits.into())?;
            if bits < self.a_bits {
                return Err(Problem::new(
                    "max_in_bits",
                    bits,
                    format!("must be at least a_bits = {} (the PEs' native width; remove the field to use it)", self.a_bits),
                ));
            }
        }
        if let Some(bits) = self.max_w_bits {
            MAX_W_BITS.check(bits.into())?;
            if bits < self.w_bits {
                return Err(Problem::new(
                    "max_w_bits",
                    bits,
                    format!("must be at least w_bits = {} (the PEs' native width; remove the field to use it)", self.w_bits),
                ));
            }
        }
        if let Some(bits) = self.max_out_bits {
            MAX_OUT_BITS.check(bits.into())?;
        }
        SHIFT_BITS.check(self.shift_bits.into())?;
        ACC_DEPTH.check(self.acc_depth.into())?;
        if !(self.clock_mhz.is_finite() && self.clock_mhz > 0.0 && self.clock_mhz <= 100_000.0) {
            return Err(Problem::new(
                "clock_mhz",
                self.clock_mhz,
                "must be a positive number of MHz (at most 100000)",
            ));
        }
        if let Some(k) = self.max_k {
            MAX_K.check(i64::try_from(k).unwrap_or(i64::MAX))?;
        }
        match self.acc_bits {
            AccBits::Auto => {
                if self.max_k.is_none() {
                    return Err(Problem::new(
                        "acc_bits",
                        "auto",
                        "needs max_k (the largest GEMM K to hold exactly); add `max_k: <K>` or give acc_bits explicitly",
                    ));
                }
            }
            AccBits::Bits(bits) => {
                let needed = self.exact_acc_bits();
                if bits != MAX_ACC_BITS && !(needed..MAX_ACC_BITS).contains(&bits) {
                    let k = self
                        .max_k
                        .map_or(u64::from(self.rows), |k| k.max(u64::from(self.rows)));
                    let allowed = if needed >= MAX_ACC_BITS {
                        "must be 32".to_string()
                    } else {
                        format!("must be 32 or {needed}..=31")
                    };
                    return Err(Problem::new(
                        "acc_bits",
                        bits,
                        format!(
                            "{allowed}: max_in_bits + max_w_bits + ceil(log2({k})) + 1 = {needed} bits hold K = {k} products of the widest operands exactly (K = max(rows, max_k); max_in_bits and max_w_bits default to a_bits and w_bits), and 32 bits are exact for every model golden accepts; or write `auto`"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// `contract::accumulator_bits` for the largest K this config must hold:
    /// `max(rows, max_k)` (one full K-tile always has to fit).
    fn exact_acc_bits(&self) -> u32 {
        let k = self.max_k.unwrap_or(0).max(u64::from(self.rows));
        let k = usize::try_from(k).unwrap_or(usize::MAX);
        contract::accumulator_bits(self.layer_in_bits(), self.layer_w_bits(), k)
    }

    /// Width of the accumulator bank, in bits.
    ///
    /// `auto` resolves to `contract::accumulator_bits(max_in_bits,
    /// max_w_bits, max(rows, max_k))`, capped at 32: the accumulator holds
    /// the full-precision sum of the widest layer, whose slice passes it
    /// combines. The cap is exact, not an
    /// approximation: the requantizer and the raw output work modulo 2^32,
    /// and golden's model loader guarantees that every channel's final
    /// `acc + bias + rounding` fits in i32, so a 32-bit accumulator that
    /// wraps on a partial sum still produces the exact result. Below 32
    /// bits the bank never wraps for `K <= max_k`.
    pub fn acc_bits_resolved(&self) -> u32 {
        match self.acc_bits {
            AccBits::Auto => self.exact_acc_bits().min(MAX_ACC_BITS),
            AccBits::Bits(bits) => bits,
        }
    }

    /// Largest shift the requantizer accepts: `min(31, 2^shift_bits - 1)`.
    pub fn max_shift(&self) -> u8 {
        ((1u32 << self.shift_bits) - 1).min(u32::from(contract::MAX_SHIFT)) as u8
    }

    /// Cycles from presenting a vector on the `act_*` port (cycle t) to its
    /// result on the `out_*` port (cycle t + latency): `rows + cols + 2`.
    pub fn latency_cycles(&self) -> u64 {
        u64::from(self.rows) + u64::from(self.cols) + 2
    }

    /// The shortest tile slot of the canonical schedule, `rows + cols`: the
    /// next tile's weights cannot overwrite the shadow bank sooner (see
    /// `docs/hardware.md`). Tiles with at least this many vectors hide the
    /// weight load completely.
    pub fn min_slot_cycles(&self) -> u64 {
        u64::from(self.rows) + u64::from(self.cols)
    }

    /// Multiply-accumulates the array performs per cycle when busy.
    pub fn macs_per_cycle(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols)
    }

    /// One line of the key values, for file headers and reports.
    pub fn summary(&self) -> String {
        let acc = match (self.acc_bits, self.max_k) {
            (AccBits::Auto, Some(k)) => format!("{} (auto, max_k={k})", self.acc_bits_resolved()),
            (AccBits::Auto, None) => format!("{} (auto)", self.acc_bits_resolved()),
            (AccBits::Bits(bits), _) => bits.to_string(),
        };
        let layers = if (
            self.layer_in_bits(),
            self.layer_w_bits(),
            self.layer_out_bits(),
        ) == (self.a_bits, self.w_bits, self.a_bits)
        {
            String::new()
        } else {
            format!(
                " max_in_bits={} max_w_bits={} max_out_bits={} wide_operands={}",
                self.layer_in_bits(),
                self.layer_w_bits(),
                self.layer_out_bits(),
                self.wide_operands
            )
        };
        format!(
            "rows={} cols={} dataflow={} a_bits={} w_bits={}{layers} acc_bits={} shift_bits={} acc_depth={} clock_mhz={}",
            self.rows,
            self.cols,
            self.dataflow,
            self.a_bits,
            self.w_bits,
            acc,
            self.shift_bits,
            self.acc_depth,
            self.clock_mhz
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "name: t\nrows: 4\ncols: 3\ndataflow: weight_stationary\na_bits: 4\nw_bits: 4\nacc_bits: auto\nmax_k: 576\nacc_depth: 16\nclock_mhz: 200\n";

    #[test]
    fn auto_acc_bits_follow_the_contract_formula_and_cap_at_32() {
        let config = HwConfig::from_yaml_str(GOOD).unwrap();
        assert_eq!(config.acc_bits_resolved(), 19); // 4 + 4 + 10 + 1
        assert_eq!(config.shift_bits, 5);
        let wide = HwConfig {
            a_bits: 16,
            w_bits: 16,
            max_k: Some(4096),
            ..config
        };
        assert_eq!(wide.acc_bits_resolved(), 32);
    }

    #[test]
    fn max_k_below_rows_still_fits_a_full_tile() {
        let config = HwConfig::from_yaml_str(&GOOD.replace("576", "1")).unwrap();
        assert_eq!(config.acc_bits_resolved(), 4 + 4 + 2 + 1);
    }

    #[test]
    fn explicit_acc_bits_must_hold_max_k() {
        let text = GOOD.replace("acc_bits: auto", "acc_bits: 18");
        let error = HwConfig::from_yaml_str(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("<string>: acc_bits = 18: must be 32 or 19..=31"),
            "{error}"
        );
        let text = GOOD.replace("acc_bits: auto", "acc_bits: 32");
        assert_eq!(
            HwConfig::from_yaml_str(&text).unwrap().acc_bits_resolved(),
            32
        );
    }

    #[test]
    fn yaml_round_trips() {
        let config = HwConfig::from_yaml_str(GOOD).unwrap();
        let again = HwConfig::from_yaml_str(&config.to_yaml_string()).unwrap();
        assert_eq!(config, again);
    }

    #[test]
    fn a_top_level_that_is_not_a_mapping_says_what_the_file_must_be() {
        for text in ["- 1\n- 2\n", "42\n", "just text\n"] {
            let error = HwConfig::from_yaml_str(text).unwrap_err().to_string();
            assert!(error.contains("must be a YAML mapping"), "{error}");
            assert!(!error.contains("Raw"), "{error}");
        }
    }
}
