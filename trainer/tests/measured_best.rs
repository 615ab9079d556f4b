//! `trainer::method::MEASURED_BEST` (what `tandem flow` trains with when its
//! training config names no method) must say what docs/results.md measured:
//! per bit-width, the method with the highest mean.

use trainer::method::{Method, MEASURED_BEST};

/// The rows of the page's first table: bits and each method's mean.
fn measured_rows(page: &str) -> Vec<(u8, Vec<(Method, f64)>)> {
    let table: Vec<&str> = page
        .lines()
        .skip_while(|line| !line.starts_with("| bits | seeds |"))
        .take_while(|line| line.starts_with('|'))
        .collect();
    let header: Vec<&str> = table[0].split('|').map(str::trim).collect();
    let mut rows = Vec::new();
    for line in &table[2..] {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let bits = cells[1]
            .strip_prefix('W')
            .and_then(|rest| rest.split('A').next())
            .and_then(|w| w.parse::<u8>().ok())
            .unwrap_or_else(|| panic!("no bit-width in {line}"));
        let mut means = Vec::new();
        for (name, cell) in header.iter().zip(&cells) {
            if let (Some(method), Some(mean)) = (
                Method::from_name(name),
                cell.split_whitespace().next().and_then(|m| m.parse().ok()),
            ) {
                means.push((method, mean));
            }
        }
        rows.push((bits, means));
    }
    rows
}

#[test]
fn the_recommended_methods_are_the_measured_best() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/results.md"))
        .expect("docs/results.md");
    let rows = measured_rows(&page);
    assert_eq!(rows.len(), MEASURED_BEST.len(), "{rows:?}");
    for (bits, means) in rows {
        let best = means
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|&(method, _)| method)
            .unwrap();
        let recommended = MEASURED_BEST
            .iter()
            .find(|(row, _)| *row == bits)
            .map(|&(_, method)| method);
        assert_eq!(
            recommended,
            Some(best),
            "W{bits}A{bits}: docs/results.md measured {best} best ({means:?})"
        );
    }
}
