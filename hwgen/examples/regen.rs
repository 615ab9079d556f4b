//! Regenerate the checked-in RTL of every preset: for each
//! `configs/hw-*.yaml`, write `rtl/generated/<name>/` and delete files there
//! that the generator no longer produces.
//!
//! ```sh
//! cargo run -p hwgen --example regen
//! ```

use std::error::Error;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut presets: Vec<PathBuf> = std::fs::read_dir(root.join("configs"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    presets.retain(|path| {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        name.starts_with("hw-") && name.ends_with(".yaml")
    });
    presets.sort();
    for preset in presets {
        let relative = preset.strip_prefix(&root)?;
        let design = hwgen::Design::preset(&root, relative)?;
        let config = &design.config;
        let dir = root.join("rtl/generated").join(&config.name);
        let files = hwgen::generate(&design);
        hwgen::write_files(&files, &dir)?;
        for problem in hwgen::generate::diff_dir(&files, &dir)? {
            if let Some(extra) = problem.strip_prefix("extra: ") {
                std::fs::remove_file(dir.join(extra))?;
            }
        }
        println!(
            "{} -> rtl/generated/{}/ ({} files)",
            preset.strip_prefix(&root).unwrap_or(&preset).display(),
            config.name,
            files.len()
        );
    }
    Ok(())
}
