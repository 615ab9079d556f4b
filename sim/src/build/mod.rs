//! Verilate, compile and cache a design as a loadable shared library.
//!
//! Pipeline for a cache miss (all inside a private temp dir under the cache root):
//! 1. `verilator --cc ...` into `obj/`.
//! 2. Parse `obj/V<top>.h` for ports, generate `wrapper.cpp`.
//! 3. Compile the generated model (as a few "unity" chunks, like Verilator's own `__ALL.cpp`)
//!    and the wrapper in parallel g++ processes, while the shared runtime objects are built or
//!    reused from `runtime-<hash>/`.
//! 4. Link everything into `libV<top>-<key>.so`, then atomically rename the temp dir to
//!    `<root>/<key>/`. A dir that exists is therefore always complete.
//!
//! One job per module: [`options`] (what to build), [`toolchain`] (probing the tools),
//! [`cache`] (location, keys, index, publishing, stale temporaries), [`jobs`] (the
//! child-process pool), [`interrupt`] (what an interrupt kills and removes) and [`compile`]
//! (the steps of a miss).

mod cache;
mod compile;
mod interrupt;
mod jobs;
mod options;
pub(crate) mod testbench;
mod toolchain;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Once;

pub use cache::{cache_root, clear_cache, CACHE_ENV};
pub use interrupt::{install_interrupt_handler, interrupt_cleanup};
pub use options::{trace_dir, BuildOptions, ParseTraceFormatError, TraceFormat, TRACE_DIR_ENV};
pub use toolchain::{verilator_available, verilator_version};

use crate::model::VerilatedLib;
use crate::ports::{self, PortInfo};
use crate::SimError;
use cache::{first_key, index_file, read_index, remove_stale_temps, temp_name};
use compile::{build_into, find_clock, library_name, BuildJob};
use interrupt::TempPath;

/// Files and facts of one published build, as needed to load it.
pub(crate) struct BuiltModel {
    pub dir: PathBuf,
    pub library: PathBuf,
    pub ports: Vec<PortInfo>,
    pub clock: Option<usize>,
    pub key: String,
    pub cached: bool,
}

/// Verilate and compile `opts` (or reuse a cached build) and load the result.
///
/// Thread- and process-safe: concurrent builds of the same design each build privately and
/// the first to finish publishes; the others use its directory.
pub fn build(opts: &BuildOptions) -> Result<VerilatedLib, SimError> {
    let built = build_files(opts)?;
    VerilatedLib::load(opts, built)
}

fn build_files(opts: &BuildOptions) -> Result<BuiltModel, SimError> {
    let tc = toolchain::toolchain()?;
    opts.validate()?;
    let root = cache_root();
    fs::create_dir_all(&root).map_err(|e| SimError::io("cannot create cache dir", &root, e))?;
    // What earlier processes left behind when they died goes on the first build of this one.
    static SWEPT: Once = Once::new();
    SWEPT.call_once(|| remove_stale_temps(&root));

    let sources = canonical_paths(&opts.sources, "cannot find source")?;
    let include_dirs = canonical_paths(&opts.include_dirs, "cannot find include dir")?;
    let k1 = first_key(tc, opts, &sources, &include_dirs)?;
    let index_file = index_file(&root, &k1);

    // Fast path: known dependency list and a published dir for their current contents.
    if let Some(deps) = read_index(&index_file) {
        let key = cache::final_key(&k1, &deps);
        let dir = root.join(&key);
        if dir.is_dir() {
            return load_published(opts, &dir, &key, true);
        }
    }

    remove_stale_temps(&root);
    let (tmp, ()) = TempPath::create(temp_name(&root, &k1[..12]), |p| fs::create_dir_all(p))?;
    let job = BuildJob {
        tc,
        opts,
        sources: &sources,
        include_dirs: &include_dirs,
        root: &root,
        k1: &k1,
        index_file: &index_file,
    };
    match build_into(&job, tmp.path()) {
        Ok(key) => {
            let dir = root.join(&key);
            cache::publish(tmp, &dir)?;
            load_published(opts, &dir, &key, false)
        }
        // C++ failures are kept for inspection (the error names the dir); verilator errors
        // are fully described by their message, and the temp dir goes with `tmp`.
        Err(err) => Err(cache::keep_failed(tmp, &root, &k1, err)),
    }
}

fn canonical_paths(paths: &[PathBuf], action: &str) -> Result<Vec<PathBuf>, SimError> {
    paths
        .iter()
        .map(|p| fs::canonicalize(p).map_err(|e| SimError::io(action, p, e)))
        .collect()
}

fn load_published(
    opts: &BuildOptions,
    dir: &Path,
    key: &str,
    cached: bool,
) -> Result<BuiltModel, SimError> {
    let header = dir.join("obj").join(format!("V{}.h", opts.top));
    let ports = ports::parse_header(&header)?;
    let clock = find_clock(opts, &ports)?;
    Ok(BuiltModel {
        dir: dir.to_owned(),
        library: dir.join(library_name(&opts.top, key)),
        ports,
        clock,
        key: key.to_string(),
        cached,
    })
}
