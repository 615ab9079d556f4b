//! Progress bars that stay out of the way of scripts: drawn on stderr only
//! when it is a terminal (indicatif hides them otherwise), never in `--json`
//! output.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` items of `unit` (e.g. "images").
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
