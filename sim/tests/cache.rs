//! Build cache: hits, keys (parameters, included files) and concurrent builds.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rand::Rng;
use sim::BuildOptions;

/// Run a counter to count 5 after reset with `lib`, returning the value.
fn count_five(lib: &sim::VerilatedLib) -> u64 {
    let mut sim = lib.instantiate().unwrap();
    let [rst, en, count] = ["rst", "en", "count"].map(|n| sim.port(n).unwrap());
    sim.set(rst, 1);
    sim.step(1);
    sim.set(rst, 0);
    sim.set(en, 1);
    sim.step(5);
    sim.get(count)
}

#[test]
fn second_build_hits_the_cache() {
    require_verilator!();
    let opts = common::options("counter", "counter.v");
    let t = Instant::now();
    let first = sim::build(&opts).unwrap();
    let first_time = t.elapsed();
    let t = Instant::now();
    let second = sim::build(&opts).unwrap();
    let second_time = t.elapsed();
    eprintln!(
        "first build {first_time:.2?} (cached: {}), second {second_time:.2?}, dir {}",
        first.was_cached(),
        second.build_dir().display()
    );
    assert!(second.was_cached());
    assert_eq!(first.build_dir(), second.build_dir());
    assert!(
        second_time.as_secs_f64() < 1.0,
        "cache hit took {second_time:?}"
    );
    assert!(second.build_dir().join("build.log").is_file());
    assert_eq!(count_five(&second), 5);
}

#[test]
fn parameter_override_changes_behaviour_and_key() {
    require_verilator!();
    let base = common::options("counter", "counter.v");
    // Values are Verilog syntax: a plain `3` would be a 32-bit constant (a WIDTH warning).
    let step3 = base.clone().parameter("STEP", "7'd3");
    let (lib1, lib3) = (sim::build(&base).unwrap(), sim::build(&step3).unwrap());
    assert_ne!(lib1.build_dir(), lib3.build_dir());
    assert_eq!(count_five(&lib1), 5);
    assert_eq!(count_five(&lib3), 15);
    // Both libraries live in one process without interfering.
    assert_eq!(count_five(&lib1), 5);
}

/// Copy the include fixture into a fresh dir and set the macro's value.
fn include_design(dir: &Path, value: u8) -> BuildOptions {
    let inc = dir.join("inc");
    fs::create_dir_all(&inc).unwrap();
    fs::copy(common::fixture("include_top.v"), dir.join("include_top.v")).unwrap();
    fs::write(
        inc.join("inc_value.vh"),
        format!("`define INC_VALUE 8'd{value}\n"),
    )
    .unwrap();
    BuildOptions::new("include_top", [dir.join("include_top.v")]).include_dir(inc)
}

#[test]
fn included_files_are_part_of_the_key() {
    require_verilator!();
    let tmp = tempfile::tempdir().unwrap();
    let read = |opts: &BuildOptions| {
        let lib = sim::build(opts).unwrap();
        let mut sim = lib.instantiate().unwrap();
        sim.eval();
        (sim.get(sim.port("value").unwrap()), lib)
    };
    let opts = include_design(tmp.path(), 42);
    let (v1, lib1) = read(&opts);
    assert_eq!(v1, 42);
    let (_, again) = read(&opts);
    assert!(again.was_cached(), "unchanged header: cache hit");
    // Only the included header changes; the source and options are identical.
    let opts = include_design(tmp.path(), 7);
    let (v2, lib2) = read(&opts);
    assert_eq!(v2, 7, "stale model reused after the header changed");
    assert!(!lib2.was_cached());
    assert_ne!(lib1.build_dir(), lib2.build_dir());
    for d in [lib1.build_dir(), lib2.build_dir()] {
        let _ = fs::remove_dir_all(d);
    }
}

/// Every directory under the cache root (published or in progress) holding a build of `top`.
fn dirs_for_top(top: &str) -> Vec<PathBuf> {
    fs::read_dir(sim::cache_root())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("obj").join(format!("V{top}.h")).exists())
        .collect()
}

#[test]
fn parallel_builds_of_a_new_design_publish_one_dir() {
    require_verilator!();
    let tmp = tempfile::tempdir().unwrap();
    let opts = fresh_design(tmp.path(), "par");
    let top = opts.top.clone();
    let tag = u32::from_str_radix(&top["par_".len()..], 16).unwrap();

    let threads = 4;
    let barrier = std::sync::Barrier::new(threads);
    let dirs: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let lib = sim::build(&opts).unwrap();
                    let mut sim = lib.instantiate().unwrap();
                    let q = sim.port("q").unwrap();
                    sim.step(3);
                    assert_eq!(sim.get(q), 3 * u64::from(tag) % (1 << 32));
                    lib.build_dir().to_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(dirs.windows(2).all(|w| w[0] == w[1]), "{dirs:?}");
    let found = dirs_for_top(&top);
    assert_eq!(
        found,
        vec![dirs[0].clone()],
        "exactly one dir, no leftover temp dirs"
    );
    let _ = fs::remove_dir_all(&dirs[0]);
}

/// The pid of a process that has exited.
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

/// A module nobody built before (so building it is a cache miss).
fn fresh_design(dir: &Path, stem: &str) -> BuildOptions {
    let tag: u32 = rand::rng().random();
    let top = format!("{stem}_{tag:08x}");
    let src = dir.join(format!("{top}.v"));
    fs::write(
        &src,
        format!(
            "module {top} (input wire clk, output reg [31:0] q);\n  \
             always @(posedge clk) q <= q + 32'd{tag};\nendmodule\n"
        ),
    )
    .unwrap();
    BuildOptions::new(&top, [src])
}

#[test]
fn temporaries_of_a_dead_process_are_removed_by_the_next_build() {
    require_verilator!();
    let root = sim::cache_root();
    let dead = dead_pid();
    // What a build killed with SIGKILL leaves: its build dir and a runtime object half written.
    let stale_dir = root.join(format!(".tmp-{dead}-1-0-0a1b2c3d4e5f"));
    fs::create_dir_all(stale_dir.join("obj")).unwrap();
    fs::write(stale_dir.join("obj").join("Vx.cpp"), "// half written").unwrap();
    let runtime = root.join("runtime-00000000000000000000000000000000");
    fs::create_dir_all(&runtime).unwrap();
    let stale_object = runtime.join(format!(".tmp-{dead}-1-1-verilated.o"));
    fs::write(&stale_object, "half an object").unwrap();
    // A temporary of a live process (this one) is someone's build in progress.
    let live_dir = root.join(format!(".tmp-{}-1-2-0a1b2c3d4e5f", std::process::id()));
    fs::create_dir_all(&live_dir).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let lib = sim::build(&fresh_design(tmp.path(), "stale")).unwrap();
    assert!(!lib.was_cached());
    assert!(
        !stale_dir.exists(),
        "dead build's dir survived the next build"
    );
    assert!(!stale_object.exists(), "dead build's runtime temp survived");
    assert!(live_dir.is_dir(), "a live process's build dir was removed");
    let _ = fs::remove_dir_all(&live_dir);
    let _ = fs::remove_dir_all(&runtime);
    let _ = fs::remove_dir_all(lib.build_dir());
}
