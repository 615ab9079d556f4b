//! `trainer::method::MEASURED_BEST` (what `tandem flow` trains with when its
//! training config names no method) must say what docs/results.md measured:
//! per bit-width, the method with the highest mean, or all-at-once QAT when
//! that method ties with QAT seed by seed.

use trainer::method::{Method, MEASURED_BEST};

/// The rows of the page's table whose header starts with `header`, as
/// (bits, cells by column name).
fn table_rows(page: &str, header: &str) -> Vec<(u8, Vec<(String, String)>)> {
    let table: Vec<&str> = page
        .lines()
        .skip_while(|line| !line.starts_with(header))
        .take_while(|line| line.starts_with('|'))
        .collect();
    assert!(!table.is_empty(), "no table starting with {header:?}");
    let names: Vec<String> = table[0].split('|').map(|c| c.trim().to_string()).collect();
    table[2..]
        .iter()
        .map(|line| {
            let cells: Vec<String> = line.split('|').map(|c| c.trim().to_string()).collect();
            let bits = cells[1]
                .strip_prefix('W')
                .and_then(|rest| rest.split('A').next())
                .and_then(|w| w.parse::<u8>().ok())
                .unwrap_or_else(|| panic!("no bit-width in {line}"));
            (bits, names.iter().cloned().zip(cells).collect())
        })
        .collect()
}

fn first_number(cell: &str) -> Option<f64> {
    cell.split_whitespace().next()?.parse().ok()
}

#[test]
fn the_recommended_methods_are_the_measured_best() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/results.md"))
        .expect("docs/results.md");
    let means = table_rows(&page, "| bits | seeds |");
    let paired = table_rows(&page, "| bits | progressive - qat |");
    assert_eq!(means.len(), MEASURED_BEST.len(), "{means:?}");
    for (bits, cells) in means {
        let (best, _) = cells
            .iter()
            .filter_map(|(name, cell)| Some((Method::from_name(name)?, first_number(cell)?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let tied_with_qat = best != Method::Qat && {
            let (_, row) = paired.iter().find(|(b, _)| *b == bits).unwrap();
            let column = format!("{best} - qat");
            let (_, verdict) = row.iter().find(|(name, _)| *name == column).unwrap();
            verdict.ends_with(": tie")
        };
        let expected = if tied_with_qat { Method::Qat } else { best };
        let recommended = MEASURED_BEST
            .iter()
            .find(|(row, _)| *row == bits)
            .map(|&(_, method)| method);
        assert_eq!(
            recommended,
            Some(expected),
            "W{bits}A{bits}: docs/results.md has {best} highest (tied with qat: {tied_with_qat})"
        );
    }
}

#[test]
fn a_config_without_a_method_takes_the_measured_best_and_a_set_one_is_kept() {
    let preset = "preset: quick\nwbits: 2\nabits: 2\n";
    let mut config = trainer::TrainConfig::from_yaml_str(preset, "test.yaml", None).unwrap();
    let best = trainer::method::best_for(2, 2).method;
    // The preset's own default is not a choice: the measured best replaces it.
    assert_ne!(config.method, best, "pick a config whose default differs");
    let reason = config.choose_method();
    assert_eq!(config.method, best);
    assert!(reason.contains("best measured at W2A2"), "{reason}");
    assert_eq!(
        config.choose_method(),
        reason,
        "a second call changes nothing"
    );

    let chosen = "preset: quick\nwbits: 2\nabits: 2\nmethod: bit-progressive\n";
    let mut config = trainer::TrainConfig::from_yaml_str(chosen, "test.yaml", None).unwrap();
    let reason = config.choose_method();
    assert_eq!(config.method, Method::BitProgressive);
    assert!(reason.contains("set in the training config"), "{reason}");
}
