//! [`EnergyTable`]: energy per action (and area per generic cell), loaded
//! from a versioned YAML file such as `configs/energy-45nm.yaml`.
//!
//! Every entry has low / typical / high values, a technology node and
//! sources. Loading checks every field; errors read
//! `FILE: FIELD = VALUE: what is wrong and what to write`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use thiserror::Error;

/// The table format this crate reads.
pub const FORMAT_VERSION: u32 = 1;

/// The built-in table: the same bytes as `configs/energy-45nm.yaml`.
pub const DEFAULT_TABLE_YAML: &str = include_str!("../../configs/energy-45nm.yaml");
/// Where the built-in table lives in the repository (for reports).
pub const DEFAULT_TABLE_PATH: &str = "configs/energy-45nm.yaml";

/// One of the three values every entry has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Corner {
    Low,
    Typical,
    High,
}

impl Corner {
    pub const ALL: [Corner; 3] = [Corner::Low, Corner::Typical, Corner::High];

    pub fn name(self) -> &'static str {
        match self {
            Corner::Low => "low",
            Corner::Typical => "typical",
            Corner::High => "high",
        }
    }
}

/// A value at the three corners.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, serde::Deserialize)]
pub struct Range {
    pub low: f64,
    pub typical: f64,
    pub high: f64,
}

impl Range {
    pub fn new(low: f64, typical: f64, high: f64) -> Range {
        Range { low, typical, high }
    }

    /// The same value at every corner.
    pub fn exact(value: f64) -> Range {
        Range::new(value, value, value)
    }

    pub fn get(&self, corner: Corner) -> f64 {
        match corner {
            Corner::Low => self.low,
            Corner::Typical => self.typical,
            Corner::High => self.high,
        }
    }

    /// Build a range by evaluating `f` at each corner.
    pub fn from_fn(mut f: impl FnMut(Corner) -> f64) -> Range {
        Range::new(f(Corner::Low), f(Corner::Typical), f(Corner::High))
    }

    /// Every corner multiplied by `factor`.
    pub fn scale(&self, factor: f64) -> Range {
        Range::new(self.low * factor, self.typical * factor, self.high * factor)
    }

    /// The reciprocal of each corner, swapped so that `low <= high` still
    /// holds (e.g. TOPS/W from energy: the lowest energy gives the highest
    /// efficiency). Zero maps to zero.
    pub fn reciprocal_scaled(&self, numerator: f64) -> Range {
        let inv = |x: f64| if x > 0.0 { numerator / x } else { 0.0 };
        Range::new(inv(self.high), inv(self.typical), inv(self.low))
    }
}

impl std::ops::Add for Range {
    type Output = Range;
    fn add(self, other: Range) -> Range {
        Range::new(
            self.low + other.low,
            self.typical + other.typical,
            self.high + other.high,
        )
    }
}

impl std::ops::AddAssign for Range {
    fn add_assign(&mut self, other: Range) {
        *self = *self + other;
    }
}

/// How an entry quoted at `reference_bits` scales to other widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scaling {
    /// `E(a, w) = E_ref * a * w / reference_bits^2`: multipliers.
    OperandProduct,
    /// `E(b) = E_ref * b / reference_bits`: adders, registers, memories.
    Linear,
}

impl fmt::Display for Scaling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scaling::OperandProduct => "operand_product",
            Scaling::Linear => "linear",
        })
    }
}

/// The primitive actions the table prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Primitive {
    Multiply,
    Add,
    Register,
    Sram,
    Dram,
}

impl Primitive {
    pub const ALL: [Primitive; 5] = [
        Primitive::Multiply,
        Primitive::Add,
        Primitive::Register,
        Primitive::Sram,
        Primitive::Dram,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Primitive::Multiply => "multiply",
            Primitive::Add => "add",
            Primitive::Register => "register",
            Primitive::Sram => "sram",
            Primitive::Dram => "dram",
        }
    }

    /// The scaling the model requires of this entry.
    fn required_scaling(self) -> Scaling {
        match self {
            Primitive::Multiply => Scaling::OperandProduct,
            _ => Scaling::Linear,
        }
    }
}

/// One SRAM capacity point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityPoint {
    pub capacity_kib: f64,
    pub pj: Range,
}

/// One priced action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyEntry {
    pub scaling: Scaling,
    pub reference_bits: u32,
    /// Energy of one action at `reference_bits` (all entries but `sram`).
    pub pj: Range,
    /// Energy per access at each capacity (`sram` only, sorted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capacity_points: Vec<CapacityPoint>,
    pub technology_nm: f64,
    pub sources: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Areas of yosys' generic cells.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellAreaTable {
    pub technology_nm: f64,
    pub sources: Vec<String>,
    /// Area in um^2 per generic cell class (`not`, `and`, `dff`, ...).
    pub um2: BTreeMap<String, f64>,
}

/// Cell classes a `cell_area` section must price.
pub const CELL_CLASSES: [&str; 17] = [
    "not", "buf", "and", "nand", "or", "nor", "xor", "xnor", "andnot", "ornot", "mux", "aoi3",
    "oai3", "aoi4", "oai4", "dff", "dffr",
];

/// A validated energy table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyTable {
    /// Where it was loaded from (a path, or the built-in table's path).
    pub origin: String,
    pub name: String,
    pub revision: u32,
    pub technology_nm: f64,
    /// Source id -> citation.
    pub sources: BTreeMap<String, String>,
    pub multiply: EnergyEntry,
    pub add: EnergyEntry,
    pub register: EnergyEntry,
    pub sram: EnergyEntry,
    pub dram: EnergyEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_area: Option<CellAreaTable>,
}

/// Why a table could not be loaded.
#[derive(Debug, Error)]
pub enum EnergyTableError {
    /// The cause is the `source()`, not part of the message, so a cause
    /// chain prints it once.
    #[error("{origin}: cannot read energy table")]
    Read {
        origin: String,
        #[source]
        source: std::io::Error,
    },
    /// Not YAML, an unknown or missing field, or a wrong type (the parser's
    /// message names the field and line).
    #[error("{origin}: not a valid energy table: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {field} = {value}: {fix}")]
    Invalid {
        origin: String,
        field: String,
        value: String,
        fix: String,
    },
}

impl EnergyTableError {
    /// The field an [`EnergyTableError::Invalid`] is about.
    pub fn field(&self) -> Option<&str> {
        match self {
            EnergyTableError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// The YAML as written.
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an energy table mapping with format_version, name, revision, technology_nm, sources and actions"
)]
struct RawTable {
    format_version: u32,
    name: String,
    revision: u32,
    technology_nm: f64,
    sources: BTreeMap<String, String>,
    actions: RawActions,
    #[serde(default)]
    cell_area: Option<RawCellArea>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an actions mapping with multiply, add, register, sram and dram"
)]
struct RawActions {
    multiply: RawEntry,
    add: RawEntry,
    register: RawEntry,
    sram: RawEntry,
    dram: RawEntry,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "an action mapping with scaling, reference_bits, low_pj, typical_pj and high_pj (sram: capacity_points), technology_nm and sources"
)]
struct RawEntry {
    scaling: Scaling,
    reference_bits: i64,
    #[serde(default)]
    low_pj: Option<f64>,
    #[serde(default)]
    typical_pj: Option<f64>,
    #[serde(default)]
    high_pj: Option<f64>,
    #[serde(default)]
    capacity_points: Option<Vec<RawPoint>>,
    technology_nm: f64,
    sources: Vec<String>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a capacity point mapping with capacity_kib, low_pj, typical_pj and high_pj"
)]
struct RawPoint {
    capacity_kib: f64,
    low_pj: f64,
    typical_pj: f64,
    high_pj: f64,
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a cell_area mapping with technology_nm, sources and um2"
)]
struct RawCellArea {
    technology_nm: f64,
    sources: Vec<String>,
    um2: BTreeMap<String, f64>,
}

/// A field problem before the origin is known.
struct Problem {
    field: String,
    value: String,
    fix: String,
}

impl Problem {
    fn new(field: impl Into<String>, value: impl fmt::Display, fix: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            value: value.to_string(),
            fix: fix.into(),
        }
    }
}

fn check_pj(field: &str, value: f64) -> Result<f64, Problem> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Problem::new(
            field,
            value,
            "must be a finite energy in pJ, >= 0",
        ))
    }
}

fn check_range(prefix: &str, low: f64, typical: f64, high: f64) -> Result<Range, Problem> {
    let low = check_pj(&format!("{prefix}.low_pj"), low)?;
    let typical = check_pj(&format!("{prefix}.typical_pj"), typical)?;
    let high = check_pj(&format!("{prefix}.high_pj"), high)?;
    if low > typical {
        return Err(Problem::new(
            format!("{prefix}.low_pj"),
            low,
            format!("must be <= typical_pj ({typical})"),
        ));
    }
    if typical > high {
        return Err(Problem::new(
            format!("{prefix}.high_pj"),
            high,
            format!("must be >= typical_pj ({typical})"),
        ));
    }
    Ok(Range::new(low, typical, high))
}

fn check_technology(field: &str, value: f64) -> Result<f64, Problem> {
    if value.is_finite() && value > 0.0 && value <= 1000.0 {
        Ok(value)
    } else {
        Err(Problem::new(
            field,
            value,
            "must be the technology node in nm (> 0, e.g. 45)",
        ))
    }
}

fn check_sources(
    field: &str,
    sources: &[String],
    known: &BTreeMap<String, String>,
) -> Result<Vec<String>, Problem> {
    if sources.is_empty() {
        return Err(Problem::new(
            field,
            "[]",
            "list at least one source id from the top-level `sources` map",
        ));
    }
    for id in sources {
        if !known.contains_key(id) {
            let ids: Vec<&str> = known.keys().map(String::as_str).collect();
            return Err(Problem::new(
                field,
                id,
                format!(
                    "unknown source id; add it to the top-level `sources` map (known: {})",
                    ids.join(", ")
                ),
            ));
        }
    }
    Ok(sources.to_vec())
}

fn convert_entry(
    primitive: Primitive,
    raw: RawEntry,
    known: &BTreeMap<String, String>,
) -> Result<EnergyEntry, Problem> {
    let prefix = format!("actions.{}", primitive.name());
    let required = primitive.required_scaling();
    if raw.scaling != required {
        return Err(Problem::new(
            format!("{prefix}.scaling"),
            raw.scaling,
            format!(
                "must be `{required}` for {} (the model scales it that way)",
                primitive.name()
            ),
        ));
    }
    if !(1..=1024).contains(&raw.reference_bits) {
        return Err(Problem::new(
            format!("{prefix}.reference_bits"),
            raw.reference_bits,
            "must be the width the pJ figures are quoted at, 1..=1024 bits",
        ));
    }
    let mut pj = Range::default();
    let mut capacity_points = Vec::new();
    if primitive == Primitive::Sram {
        for corner in ["low_pj", "typical_pj", "high_pj"] {
            let given = match corner {
                "low_pj" => raw.low_pj,
                "typical_pj" => raw.typical_pj,
                _ => raw.high_pj,
            };
            if let Some(value) = given {
                return Err(Problem::new(
                    format!("{prefix}.{corner}"),
                    value,
                    "sram is priced per capacity: give capacity_points instead",
                ));
            }
        }
        let points = raw.capacity_points.ok_or_else(|| {
            Problem::new(
                format!("{prefix}.capacity_points"),
                "missing",
                "give at least one { capacity_kib, low_pj, typical_pj, high_pj } point",
            )
        })?;
        if points.is_empty() {
            return Err(Problem::new(
                format!("{prefix}.capacity_points"),
                "[]",
                "give at least one { capacity_kib, low_pj, typical_pj, high_pj } point",
            ));
        }
        for (index, point) in points.iter().enumerate() {
            let field = format!("{prefix}.capacity_points[{index}]");
            let capacity = point.capacity_kib;
            if !(capacity.is_finite() && capacity > 0.0) {
                return Err(Problem::new(
                    format!("{field}.capacity_kib"),
                    capacity,
                    "must be a capacity in KiB, > 0",
                ));
            }
            if let Some(previous) = capacity_points.last() {
                let previous: &CapacityPoint = previous;
                if capacity <= previous.capacity_kib {
                    return Err(Problem::new(
                        format!("{field}.capacity_kib"),
                        capacity,
                        format!(
                            "points must be sorted by increasing capacity (previous: {})",
                            previous.capacity_kib
                        ),
                    ));
                }
            }
            let range = check_range(&field, point.low_pj, point.typical_pj, point.high_pj)?;
            capacity_points.push(CapacityPoint {
                capacity_kib: capacity,
                pj: range,
            });
        }
    } else {
        if raw.capacity_points.is_some() {
            return Err(Problem::new(
                format!("{prefix}.capacity_points"),
                "...",
                "only `sram` takes capacity_points; give low_pj, typical_pj, high_pj",
            ));
        }
        let value = |corner: &str, given: Option<f64>| {
            given.ok_or_else(|| {
                Problem::new(
                    format!("{prefix}.{corner}"),
                    "missing",
                    "every entry needs low_pj, typical_pj and high_pj",
                )
            })
        };
        pj = check_range(
            &prefix,
            value("low_pj", raw.low_pj)?,
            value("typical_pj", raw.typical_pj)?,
            value("high_pj", raw.high_pj)?,
        )?;
    }
    Ok(EnergyEntry {
        scaling: raw.scaling,
        reference_bits: raw.reference_bits as u32,
        pj,
        capacity_points,
        technology_nm: check_technology(&format!("{prefix}.technology_nm"), raw.technology_nm)?,
        sources: check_sources(&format!("{prefix}.sources"), &raw.sources, known)?,
        note: raw.note,
    })
}

impl RawTable {
    fn into_table(self, origin: &str) -> Result<EnergyTable, Problem> {
        if self.format_version != FORMAT_VERSION {
            return Err(Problem::new(
                "format_version",
                self.format_version,
                format!("this tandem reads format_version {FORMAT_VERSION}"),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(Problem::new("name", "\"\"", "give the table a name"));
        }
        if self.sources.is_empty() {
            return Err(Problem::new(
                "sources",
                "{}",
                "cite at least one source: id -> citation",
            ));
        }
        for (id, citation) in &self.sources {
            if citation.trim().is_empty() {
                return Err(Problem::new(
                    format!("sources.{id}"),
                    "\"\"",
                    "give the citation (authors, title, venue, year)",
                ));
            }
        }
        let technology_nm = check_technology("technology_nm", self.technology_nm)?;
        let known = &self.sources;
        let actions = self.actions;
        let cell_area = match self.cell_area {
            None => None,
            Some(raw) => {
                for class in CELL_CLASSES {
                    if !raw.um2.contains_key(class) {
                        return Err(Problem::new(
                            format!("cell_area.um2.{class}"),
                            "missing",
                            format!(
                                "price every generic cell class: {}",
                                CELL_CLASSES.join(", ")
                            ),
                        ));
                    }
                }
                for (class, area) in &raw.um2 {
                    if !CELL_CLASSES.contains(&class.as_str()) {
                        return Err(Problem::new(
                            format!("cell_area.um2.{class}"),
                            area,
                            format!("unknown cell class (known: {})", CELL_CLASSES.join(", ")),
                        ));
                    }
                    if !(area.is_finite() && *area >= 0.0) {
                        return Err(Problem::new(
                            format!("cell_area.um2.{class}"),
                            area,
                            "must be an area in um^2, >= 0",
                        ));
                    }
                }
                Some(CellAreaTable {
                    technology_nm: check_technology("cell_area.technology_nm", raw.technology_nm)?,
                    sources: check_sources("cell_area.sources", &raw.sources, known)?,
                    um2: raw.um2,
                })
            }
        };
        Ok(EnergyTable {
            origin: origin.to_string(),
            multiply: convert_entry(Primitive::Multiply, actions.multiply, known)?,
            add: convert_entry(Primitive::Add, actions.add, known)?,
            register: convert_entry(Primitive::Register, actions.register, known)?,
            sram: convert_entry(Primitive::Sram, actions.sram, known)?,
            dram: convert_entry(Primitive::Dram, actions.dram, known)?,
            cell_area,
            name: self.name,
            revision: self.revision,
            technology_nm,
            sources: self.sources,
        })
    }
}

impl EnergyTable {
    /// The built-in 45 nm table (`configs/energy-45nm.yaml`).
    pub fn default_45nm() -> EnergyTable {
        Self::parse(
            DEFAULT_TABLE_YAML,
            &format!("{DEFAULT_TABLE_PATH} (built in)"),
        )
        .expect("the built-in energy table is valid")
    }

    /// Read and validate a YAML table. Errors name the file and the field.
    pub fn from_yaml_file(path: impl AsRef<Path>) -> Result<EnergyTable, EnergyTableError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| EnergyTableError::Read {
            origin: origin.clone(),
            source,
        })?;
        Self::parse(&text, &origin)
    }

    /// Parse and validate YAML text; errors name `origin`.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<EnergyTable, EnergyTableError> {
        Self::parse(text, origin)
    }

    fn parse(text: &str, origin: &str) -> Result<EnergyTable, EnergyTableError> {
        let raw: RawTable =
            serde_norway::from_str(text).map_err(|error| EnergyTableError::Syntax {
                origin: origin.to_string(),
                message: error.to_string(),
            })?;
        raw.into_table(origin)
            .map_err(|problem| EnergyTableError::Invalid {
                origin: origin.to_string(),
                field: problem.field,
                value: problem.value,
                fix: problem.fix,
            })
    }

    /// The entry of a primitive.
    pub fn entry(&self, primitive: Primitive) -> &EnergyEntry {
        match primitive {
            Primitive::Multiply => &self.multiply,
            Primitive::Add => &self.add,
            Primitive::Register => &self.register,
            Primitive::Sram => &self.sram,
            Primitive::Dram => &self.dram,
        }
    }

    /// Energy (pJ) of one `a_bits x w_bits` multiply.
    pub fn multiply_pj(&self, a_bits: u32, w_bits: u32, corner: Corner) -> f64 {
        self.multiply_pj_per_bit_product(corner) * f64::from(a_bits) * f64::from(w_bits)
    }

    /// Energy (pJ) per operand-bit product of a multiplier: `E_ref / ref^2`.
    pub fn multiply_pj_per_bit_product(&self, corner: Corner) -> f64 {
        let reference = f64::from(self.multiply.reference_bits);
        self.multiply.pj.get(corner) / (reference * reference)
    }

    /// Energy (pJ) per bit of a linearly scaled entry (add, register, dram).
    pub fn pj_per_bit(&self, primitive: Primitive, corner: Corner) -> f64 {
        match primitive {
            Primitive::Multiply => self.multiply_pj_per_bit_product(corner),
            Primitive::Sram => panic!("sram energy depends on capacity: use sram_pj_per_bit"),
            _ => {
                let entry = self.entry(primitive);
                entry.pj.get(corner) / f64::from(entry.reference_bits)
            }
        }
    }

    /// Energy (pJ) of one `bits`-wide add.
    pub fn add_pj(&self, bits: u32, corner: Corner) -> f64 {
        self.pj_per_bit(Primitive::Add, corner) * f64::from(bits)
    }

    /// Energy (pJ) per reference-width SRAM access at `capacity_kib`:
    /// log-log interpolation between the table's points; the first point's
    /// value below it, the last segment's slope above the last point.
    pub fn sram_access_pj(&self, capacity_kib: f64, corner: Corner) -> f64 {
        let points = &self.sram.capacity_points;
        let first = &points[0];
        if points.len() == 1 || capacity_kib <= first.capacity_kib {
            return first.pj.get(corner);
        }
        let segment = points
            .windows(2)
            .position(|pair| capacity_kib <= pair[1].capacity_kib)
            .unwrap_or(points.len() - 2);
        let (a, b) = (&points[segment], &points[segment + 1]);
        let (ea, eb) = (a.pj.get(corner), b.pj.get(corner));
        if ea <= 0.0 || eb <= 0.0 {
            // Log-log needs positive energies; fall back to linear.
            let t = (capacity_kib - a.capacity_kib) / (b.capacity_kib - a.capacity_kib);
            return (ea + t * (eb - ea)).max(0.0);
        }
        let slope = (eb / ea).ln() / (b.capacity_kib / a.capacity_kib).ln();
        ea * (capacity_kib / a.capacity_kib).powf(slope)
    }

    /// Energy (pJ) per bit of an SRAM of `capacity_kib`.
    pub fn sram_pj_per_bit(&self, capacity_kib: f64, corner: Corner) -> f64 {
        self.sram_access_pj(capacity_kib, corner) / f64::from(self.sram.reference_bits)
    }

    /// Short citation list `id: citation` of the given ids.
    pub fn citations(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .map(|id| {
                format!(
                    "{id}: {}",
                    self.sources.get(id).map(String::as_str).unwrap_or("?")
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn built_in_table_loads_and_matches_the_published_figures() {
        let table = EnergyTable::default_45nm();
        assert_eq!(table.name, "energy-45nm");
        // Horowitz: 8-bit multiply 0.2 pJ; 32-bit multiply 3.1 pJ scaled to 8x8.
        assert!(close(table.multiply_pj(8, 8, Corner::Typical), 0.2));
        assert!(close(table.multiply_pj(8, 8, Corner::Low), 0.194));
        // Width scaling: product of operand widths.
        assert!(close(table.multiply_pj(4, 4, Corner::Typical), 0.05));
        assert!(close(table.multiply_pj(32, 32, Corner::Typical), 3.2));
        assert!(close(table.multiply_pj(8, 4, Corner::High), 0.4));
        // Adders linear: 32-bit 0.1 pJ, 16-bit 0.05 pJ, 8-bit 0.025 pJ.
        assert!(close(table.add_pj(32, Corner::Typical), 0.1));
        assert!(close(table.add_pj(16, Corner::Typical), 0.05));
        assert!(close(table.add_pj(8, Corner::Typical), 0.025));
        assert!(close(table.add_pj(8, Corner::High), 0.03));
        // Register: Han's 1 pJ per 32 bits.
        assert!(close(
            table.pj_per_bit(Primitive::Register, Corner::Typical),
            1.0 / 32.0
        ));
        // DRAM: 1.3-2.6 nJ per 64 bits.
        assert!(close(
            table.pj_per_bit(Primitive::Dram, Corner::Low) * 64.0,
            1300.0
        ));
        assert!(close(
            table.pj_per_bit(Primitive::Dram, Corner::High) * 64.0,
            2600.0
        ));
        assert!(table.cell_area.is_some());
    }

    #[test]
    fn sram_interpolates_log_log_between_capacities() {
        let table = EnergyTable::default_45nm();
        let at = |kib: f64| table.sram_access_pj(kib, Corner::Typical);
        assert!(close(at(8.0), 10.0));
        assert!(close(at(32.0), 20.0));
        assert!(close(at(1024.0), 100.0));
        // 16 KiB is halfway (in log) between 8 and 32: sqrt(10 * 20).
        assert!(close(at(16.0), (10.0f64 * 20.0).sqrt()));
        // Below the first point: the first point's value.
        assert!(close(at(1.0), 10.0));
        // Above the last: the last segment's slope, 32 KiB -> 1 MiB is 5x
        // for 32x capacity, so 2 MiB is 100 * 2^(ln 5 / ln 32).
        let slope = 5.0f64.ln() / 32.0f64.ln();
        assert!(close(at(2048.0), 100.0 * 2.0f64.powf(slope)));
        assert!(close(
            table.sram_pj_per_bit(8.0, Corner::Typical),
            10.0 / 64.0
        ));
    }

    #[test]
    fn type_errors_say_what_the_table_must_be_without_internal_names() {
        let entry = "{scaling: linear, reference_bits: 8, low_pj: 1, typical_pj: 1, high_pj: 1, technology_nm: 45, sources: [a]}";
        let cases = [
            ("- a\n- b\n".to_string(), "an energy table mapping"),
            (
                "format_version: 1\nname: t\nrevision: 1\ntechnology_nm: 45\nsources: {a: b}\nactions: 3\n"
                    .to_string(),
                "an actions mapping",
            ),
            (
                format!(
                    "format_version: 1\nname: t\nrevision: 1\ntechnology_nm: 45\nsources: {{a: b}}\n\
                     actions: {{multiply: [], add: {entry}, register: {entry}, sram: {entry}, dram: {entry}}}\n"
                ),
                "an action mapping",
            ),
        ];
        for (text, expected) in cases {
            let message = EnergyTable::from_yaml_str(&text, "t.yaml")
                .unwrap_err()
                .to_string();
            assert!(message.contains(expected), "`{expected}` not in: {message}");
            for internal in ["struct", "Raw"] {
                assert!(!message.contains(internal), "`{internal}` leaks: {message}");
            }
        }
    }

    #[test]
    fn read_errors_print_their_cause_once() {
        use std::error::Error;
        let error = EnergyTable::from_yaml_file("/nonexistent/table.yaml").unwrap_err();
        let cause = error
            .source()
            .expect("the I/O error is the source")
            .to_string();
        let message = error.to_string();
        assert!(message.contains("cannot read energy table"), "{message}");
        assert!(
            !message.contains(&cause),
            "cause `{cause}` repeated in `{message}`"
        );
    }

    #[test]
    fn ranges_add_scale_and_invert() {
        let a = Range::new(1.0, 2.0, 4.0);
        let b = a + a.scale(0.5);
        assert_eq!(b, Range::new(1.5, 3.0, 6.0));
        let inverse = a.reciprocal_scaled(8.0);
        assert_eq!(inverse, Range::new(2.0, 4.0, 8.0));
    }
}
