//! Port discovery from the Verilator-generated model header.
//!
//! Verilator declares every top-level port in `V<top>.h` with one macro per port:
//! `VL_IN8(&clk,0,0);`, `VL_OUT64(&q,32,0);`, `VL_INW(&a,99,0,4);`, ... The macro tells
//! the C++ storage type (CData/SData/IData/QData/VlWide) and the declared bit range. We read
//! exactly these lines rather than the Verilog, so that what we parse is what the C++ really
//! holds (Verilator normalises ranges, renames escaped identifiers, and picks the storage).

use std::fmt;
use std::path::Path;

use crate::SimError;

/// Direction of a top-level port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `input`: driven from Rust with `Sim::set*`.
    Input,
    /// `output`: read from Rust with `Sim::get*`.
    Output,
    /// `inout`: Verilator models it as a single variable that Rust may both set and get.
    Inout,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
            Direction::Inout => "inout",
        })
    }
}

/// How Verilator stores a port in C++ (determines the load/store width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// `CData` (`uint8_t`), ports of 1..=8 bits.
    U8,
    /// `SData` (`uint16_t`), 9..=16 bits.
    U16,
    /// `IData` (`uint32_t`), 17..=32 bits.
    U32,
    /// `QData` (`uint64_t`), 33..=64 bits.
    U64,
    /// `VlWide<words>` (array of `uint32_t`, least significant word first), over 64 bits.
    Wide(u32),
}

impl Storage {
    /// Number of 32-bit words `Sim::get_wide` returns for this storage.
    pub fn words(self) -> usize {
        match self {
            Storage::U8 | Storage::U16 | Storage::U32 => 1,
            Storage::U64 => 2,
            Storage::Wide(w) => w as usize,
        }
    }
}

/// One top-level port of a Verilated design.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PortInfo {
    /// Name as Verilator spells it in C++ (escaped Verilog identifiers are mangled,
    /// e.g. `\a.b ` becomes `a__02eb`).
    pub name: String,
    /// Port direction.
    pub direction: Direction,
    /// Width in bits (`msb - lsb + 1`).
    pub width: u32,
    /// Declared most significant bit index (as Verilator normalised it).
    pub msb: u32,
    /// Declared least significant bit index; bit `lsb` of the port is bit 0 of the value.
    pub lsb: u32,
    /// C++ storage used by Verilator.
    pub storage: Storage,
}

/// Parse all port declarations of a `V<top>.h` header, in declaration order.
pub(crate) fn parse_header(path: &Path) -> Result<Vec<PortInfo>, SimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::io("cannot read model header", path, e))?;
    parse_header_text(&text).map_err(|reason| SimError::Ports {
        path: path.to_owned(),
        reason,
    })
}

/// Parse port macros out of header text. Lines that are not port macros are ignored.
pub(crate) fn parse_header_text(text: &str) -> Result<Vec<PortInfo>, String> {
    let mut ports = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        // The macro definitions themselves live in verilated.h, so every `VL_IN*(` / `VL_OUT*(`
        // at the start of a line here is a port declaration.
        let Some(open) = line.find('(') else { continue };
        let macro_name = &line[..open];
        let Some((direction, storage_kind)) = classify_macro(macro_name) else {
            continue;
        };
        let close = line
            .rfind(')')
            .ok_or_else(|| format!("unterminated port macro: {line}"))?;
        let args: Vec<&str> = line[open + 1..close].split(',').map(str::trim).collect();
        let bad = || format!("unexpected port macro arguments: {line}");
        let name = args
            .first()
            .and_then(|a| a.strip_prefix('&'))
            .ok_or_else(bad)?
            .to_string();
        let msb: u32 = args.get(1).and_then(|a| a.parse().ok()).ok_or_else(bad)?;
        let lsb: u32 = args.get(2).and_then(|a| a.parse().ok()).ok_or_else(bad)?;
        if msb < lsb {
            return Err(format!("port `{name}` has msb {msb} < lsb {lsb}: {line}"));
        }
        let width = msb - lsb + 1;
        let storage = match storage_kind {
            "8" => Storage::U8,
            "16" => Storage::U16,
            "" => Storage::U32,
            "64" => Storage::U64,
            "W" => {
                let words: u32 = args.get(3).and_then(|a| a.parse().ok()).ok_or_else(bad)?;
                Storage::Wide(words)
            }
            _ => unreachable!("classify_macro returns only known suffixes"),
        };
        let capacity = match storage {
            Storage::U8 => 8,
            Storage::U16 => 16,
            Storage::U32 => 32,
            Storage::U64 => 64,
            Storage::Wide(w) => 32 * w,
        };
        if width > capacity || (matches!(storage, Storage::Wide(w) if width <= 32 * (w - 1))) {
            return Err(format!(
                "port `{name}` width {width} does not match its storage: {line}"
            ));
        }
        ports.push(PortInfo {
            name,
            direction,
            width,
            msb,
            lsb,
            storage,
        });
    }
    if ports.is_empty() {
        return Err("no VL_IN*/VL_OUT* port declarations found".into());
    }
    Ok(ports)
}

/// Split `VL_INOUT16` into (Inout, "16"); None for anything else.
fn classify_macro(name: &str) -> Option<(Direction, &str)> {
    let rest = name.strip_prefix("VL_")?;
    // INOUT must be tried before IN, since "INOUT8" also starts with "IN".
    let (direction, suffix) = if let Some(s) = rest.strip_prefix("INOUT") {
        (Direction::Inout, s)
    } else if let Some(s) = rest.strip_prefix("IN") {
        (Direction::Input, s)
    } else if let Some(s) = rest.strip_prefix("OUT") {
        (Direction::Output, s)
    } else {
        return None;
    };
    matches!(suffix, "8" | "16" | "" | "64" | "W").then_some((direction, suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_macro_kinds() {
        let text = "class Vx {\n  public:\n    VL_IN8(&clk,0,0);\n    VL_INOUT8(&io,3,0);\n    \
                    VL_IN8(&mid,11,4);\n    VL_IN16(&s,15,0);\n    VL_OUT(&i32,31,0);\n    \
                    VL_OUT64(&o33,32,0);\n    VL_INW(&a,99,0,4);\n    VL_OUTW(&z,199,0,7);\n    \
                    VL_UNCOPYABLE(Vx);\n";
        let ports = parse_header_text(text).unwrap();
        let summary: Vec<_> = ports
            .iter()
            .map(|p| (p.name.as_str(), p.direction, p.width, p.storage))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("clk", Direction::Input, 1, Storage::U8),
                ("io", Direction::Inout, 4, Storage::U8),
                ("mid", Direction::Input, 8, Storage::U8),
                ("s", Direction::Input, 16, Storage::U16),
                ("i32", Direction::Output, 32, Storage::U32),
                ("o33", Direction::Output, 33, Storage::U64),
                ("a", Direction::Input, 100, Storage::Wide(4)),
                ("z", Direction::Output, 200, Storage::Wide(7)),
            ]
        );
        assert_eq!(ports[2].lsb, 4);
    }

    #[test]
    fn rejects_inconsistent_storage() {
        assert!(parse_header_text("VL_IN8(&x,9,0);").is_err());
        assert!(parse_header_text("VL_INW(&x,31,0,2);").is_err());
        assert!(parse_header_text("nothing here").is_err());
    }
}
