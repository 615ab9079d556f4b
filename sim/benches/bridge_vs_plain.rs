//! The bridge against a plain C++ Verilator testbench of the same design and stimulus.
//!
//! `scripts/bench-sim.sh` runs this (`cargo bench -p sim --bench bridge_vs_plain -- ARGS`);
//! method and figures: docs/simulation.md ("Bridge versus a plain Verilator testbench").
//! Design: the 16x16 W8A8 preset (`configs/hw-16x16-w8a8.yaml`) resolved by hwgen for the
//! workload. Workloads: `image` (default): one image through the random W8A8 alexnet-cifar at
//! width 1/4 (seed 1, as `tandem model random --topology alexnet-cifar --width 0.25
//! --in-channels 1 --wbits 8 --abits 8 --seed 1`) with `sim::network::run_network`, every
//! layer checked against golden; `gemm`: the conv3-like GEMM of `benches/array.rs` (M=64,
//! K=576, N=96) with `ArraySim::run_gemm`.
//!
//! 1. Record the workload once on a recording `ArraySim` (`ArrayExtras::record`), the reset
//!    included, into `<out>/<workload>.rec`.
//! 2. Build the plain testbench (`sim::replay::PlainTestbench`) against the same model: the
//!    bridge's own objects and (`--plain-objects both`, the default) the model compiled again
//!    without `-fPIC`.
//! 3. Placements: `--placements` private copies of the model library and of each testbench
//!    executable (new files, so new page-cache pages; on this VM where code lands in
//!    physical memory moves its speed by up to 40%, see the docs), each with its own
//!    `ArraySim`.
//! 4. `--rounds` rounds; in each, for each placement in turn: the bridge driver (`--repeat`
//!    workloads), the recording replayed through the bridge without the driver
//!    (`replay_on_bridge`, unchecked and checked), and the plain testbench (`--repeat`
//!    replays, unchecked and checked). A placement's figure is the median over rounds of
//!    simulated cycles per wall second; the headline is the best placement of each side.
//! 5. `--verilator-threads N`: the bridge driver and the plain testbench on a model built
//!    with Verilator `--threads N`, replaying the same recording (which it must reproduce
//!    exactly), interleaved with the single-threaded ones.
//!
//! The last stdout line is one JSON object.

use std::path::{Path, PathBuf};
use std::time::Instant;

use golden::model::Model;
use golden::random::{random_model, RandomBits};
use golden::topology::{Preset, Topology};
use hwgen::host::GemmOperands;
use hwgen::{Design, GemmShape, HwConfig};
use sim::array::{ArrayExtras, ArrayOptions, ArraySim};
use sim::replay::{
    median, process_cpu_seconds, replay_on_bridge, PlainObjects, PlainRun, PlainTestbench,
    Recording,
};
use sim::VerilatedLib;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/hw-16x16-w8a8.yaml");

#[derive(Clone, Copy, PartialEq)]
enum Workload {
    Image,
    Gemm,
}

struct Args {
    workload: Workload,
    rounds: usize,
    repeat: Option<u32>,
    placements: usize,
    verilator_threads: Option<u32>,
    plain_objects: Vec<PlainObjects>,
    out: PathBuf,
}

fn usage(message: &str) -> ! {
    eprintln!(
        "error: {message}\nusage: bench-sim [--workload image|gemm] [--rounds N] [--repeat N] \
         [--placements N] [--verilator-threads N] [--plain-objects bridge|rebuilt|both] [--out DIR]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut args = Args {
        workload: Workload::Image,
        rounds: 3,
        repeat: None,
        placements: 3,
        verilator_threads: None,
        plain_objects: vec![PlainObjects::Bridge, PlainObjects::Rebuilt],
        out: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-sim")),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        let mut number = |what: &str| -> usize {
            value()
                .parse()
                .ok()
                .filter(|&n| n >= 1)
                .unwrap_or_else(|| usage(&format!("{what} takes a number >= 1")))
        };
        match arg.as_str() {
            // cargo bench passes --bench to every bench binary.
            "--bench" => {}
            "--workload" => {
                args.workload = match value().as_str() {
                    "image" => Workload::Image,
                    "gemm" => Workload::Gemm,
                    other => usage(&format!("unknown workload `{other}`")),
                }
            }
            "--rounds" => args.rounds = number("--rounds"),
            "--repeat" => args.repeat = Some(number("--repeat") as u32),
            "--placements" => args.placements = number("--placements"),
            "--verilator-threads" => {
                let n = number("--verilator-threads") as u32;
                args.verilator_threads = (n >= 2).then_some(n);
            }
            "--plain-objects" => {
                args.plain_objects = match value().as_str() {
                    "bridge" => vec![PlainObjects::Bridge],
                    "rebuilt" => vec![PlainObjects::Rebuilt],
                    "both" => vec![PlainObjects::Bridge, PlainObjects::Rebuilt],
                    other => usage(&format!("unknown --plain-objects `{other}`")),
                }
            }
            "--out" => args.out = PathBuf::from(value()),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    args
}

/// What one workload needs: the model and image, or the GEMM operands.
struct Inputs {
    model: Option<Model>,
    image: Vec<i32>,
    activations: Vec<u32>,
    weights: Vec<i32>,
    bias: Vec<i32>,
    shifts: Vec<u8>,
}

const GEMM: GemmShape = GemmShape {
    m: 64,
    k: 576,
    n: 96,
};

impl Inputs {
    fn new(workload: Workload) -> Inputs {
        let model = (workload == Workload::Image).then(|| {
            let topology = Topology::new(Preset::AlexnetCifar, 0.25, 1, 10).expect("topology");
            let bits = RandomBits {
                w_bits: 8,
                a_bits: 8,
                first_last_w_bits: None,
            };
            random_model(&topology, bits, 1).expect("random model")
        });
        // The structured test image of sim/tests/rtl_network.rs (image 0).
        let image = (0..1024)
            .map(|i: i32| (((i / 32) % 7) * 40 + (i % 32) * 2) % 256)
            .collect();
        Inputs {
            model,
            image,
            activations: (0..GEMM.m * GEMM.k)
                .map(|i| (i * 37 % 256) as u32)
                .collect(),
            weights: (0..GEMM.n * GEMM.k)
                .map(|i| (i * 11 % 255) as i32 - 127)
                .collect(),
            bias: vec![-1000; GEMM.n],
            shifts: vec![8; GEMM.n],
        }
    }

    /// Run the workload once on `array`, checking the results.
    fn run(&self, array: &mut ArraySim) {
        match &self.model {
            Some(model) => {
                let run = sim::network::run_network(
                    array,
                    model,
                    std::slice::from_ref(&self.image),
                    |_| {},
                )
                .expect("network");
                assert_eq!(
                    run.mismatches(),
                    0,
                    "{}",
                    run.first_mismatch.unwrap_or_default()
                );
            }
            None => {
                let ops = GemmOperands {
                    shape: GEMM,
                    activations: &self.activations,
                    in_bits: 8,
                    weights: &self.weights,
                    w_bits: 8,
                    bias: &self.bias,
                    shifts: &self.shifts,
                    out_bits: 8,
                    bypass: false,
                };
                let result = array.run_gemm(&ops).expect("gemm");
                assert_eq!(result.cycles, result.model_cycles);
            }
        }
    }
}

/// Simulated cycles and the wall and CPU seconds they took.
#[derive(Clone, Copy, Default)]
struct Sample {
    cycles: u64,
    wall: f64,
    cpu: f64,
}

impl Sample {
    fn add(&mut self, cycles: u64, wall: f64, cpu: f64) {
        self.cycles += cycles;
        self.wall += wall;
        self.cpu += cpu;
    }
}

/// Time `repeat` workloads on `array`.
fn time_driver(array: &mut ArraySim, inputs: &Inputs, repeat: u32) -> Sample {
    let before = array.total_cycles();
    let cpu = process_cpu_seconds();
    let started = Instant::now();
    for _ in 0..repeat {
        inputs.run(array);
    }
    Sample {
        cycles: array.total_cycles() - before,
        wall: started.elapsed().as_secs_f64(),
        cpu: process_cpu_seconds() - cpu,
    }
}

/// Time `repeat` replays of `recording` through the bridge.
fn time_replay(lib: &VerilatedLib, recording: &Recording, repeat: u32, checked: bool) -> Sample {
    let mut sample = Sample::default();
    for _ in 0..repeat {
        let run = replay_on_bridge(lib, recording, checked).expect("bridge replay");
        sample.add(run.cycles, run.seconds, run.cpu_seconds);
    }
    sample
}

/// Time `repeat` replays of the recording at `path` in a plain testbench.
fn time_plain(tb: &PlainTestbench, path: &Path, repeat: u32, checked: bool) -> Sample {
    let run: PlainRun = tb.run(path, repeat, checked).expect("plain testbench");
    Sample {
        cycles: run.cycles * run.seconds.len() as u64,
        wall: run.seconds.iter().sum(),
        cpu: run.cpu_seconds.iter().sum(),
    }
}

/// Samples of one configuration: `[placement][round]`.
#[derive(Clone, Default)]
struct Series(Vec<Vec<Sample>>);

impl Series {
    fn new(placements: usize) -> Series {
        Series(vec![Vec::new(); placements])
    }

    fn push(&mut self, placement: usize, sample: Sample) {
        self.0[placement].push(sample);
    }

    /// Per placement: the median over rounds of cycles per wall (or CPU) second.
    fn per_placement(&self, cpu: bool) -> Vec<f64> {
        self.0
            .iter()
            .map(|rounds| {
                let rates: Vec<f64> = rounds
                    .iter()
                    .map(|s| s.cycles as f64 / if cpu { s.cpu } else { s.wall })
                    .collect();
                median(&rates)
            })
            .collect()
    }

    /// The best placement's figure.
    fn best(&self, cpu: bool) -> f64 {
        self.per_placement(cpu).into_iter().fold(f64::NAN, f64::max)
    }

    /// The median placement's figure.
    fn median(&self) -> f64 {
        median(&self.per_placement(false))
    }

    /// The last round's figure at `placement`, for progress lines.
    fn last(&self, placement: usize) -> f64 {
        self.0[placement]
            .last()
            .map_or(f64::NAN, |s| s.cycles as f64 / s.wall)
    }
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// The JSON object, field by field in order.
#[derive(Default)]
struct Report(Vec<(String, String)>);

impl Report {
    fn raw(&mut self, key: &str, value: String) {
        self.0.push((key.to_string(), value));
    }
    fn text(&mut self, key: &str, value: &str) {
        self.raw(key, format!("\"{}\"", value.replace('"', "'")));
    }
    fn rate(&mut self, key: &str, value: f64) {
        self.raw(key, format!("{value:.0}"));
    }
    fn ratio(&mut self, key: &str, value: f64) {
        let text = if value.is_finite() {
            format!("{value:.4}")
        } else {
            "null".into()
        };
        self.raw(key, text);
    }
    fn rates(&mut self, key: &str, values: &[f64]) {
        let list: Vec<String> = values.iter().map(|v| format!("{v:.0}")).collect();
        self.raw(key, format!("[{}]", list.join(",")));
    }
    fn line(&self) -> String {
        let body: Vec<String> = self.0.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    }
}

fn main() {
    let args = parse_args();
    if !sim::verilator_available() {
        eprintln!("SKIPPED: verilator is not on PATH (make test installs it)");
        return;
    }
    let load_before = load_average();
    let inputs = Inputs::new(args.workload);
    let config = HwConfig::from_yaml_file(CONFIG).expect("preset");
    let design: Design = hwgen::resolve(&config, inputs.model.as_ref()).expect("resolve");
    let (workload, default_repeat) = match args.workload {
        Workload::Image => ("image", 1),
        Workload::Gemm => ("gemm", 8),
    };
    let repeat = args.repeat.unwrap_or(default_repeat);
    let placements = args.placements;
    let name = design.config.name.clone();
    std::fs::create_dir_all(&args.out).expect("output dir");
    let options = ArrayOptions::default();

    // 1. Record the workload once, from the model's construction on.
    let record_path = args.out.join(format!("{workload}.rec"));
    let mut recorder = ArraySim::new_with(
        &design,
        &options,
        &ArrayExtras {
            record: Some(record_path.clone()),
            ..ArrayExtras::default()
        },
    )
    .expect("build");
    inputs.run(&mut recorder);
    let summary = recorder.finish_recording().expect("recording");
    let lib = recorder.loaded_library().clone();
    drop(recorder);
    let recording = Recording::read(&record_path).expect("read the recording");
    eprintln!(
        "recorded {workload} on {name}: {} cycles, {} records, {:.1} MB in {}",
        summary.cycles,
        summary.records,
        summary.bytes as f64 / 1e6,
        record_path.display()
    );

    // 2. Plain testbenches against the same model.
    let testbenches: Vec<(PlainObjects, PlainTestbench)> = args
        .plain_objects
        .iter()
        .map(|&objects| {
            let dir = args.out.join(format!("plain-{name}-{}", objects.name()));
            let tb = PlainTestbench::build(&lib, &dir, objects).expect("plain testbench");
            (objects, tb)
        })
        .collect();

    // 3. Placements: copies of the library and of the testbenches.
    let copies = args.out.join("placements");
    std::fs::create_dir_all(&copies).expect("placements dir");
    let libs: Vec<VerilatedLib> = (0..placements)
        .map(|p| {
            lib.load_copy(&copies.join(format!("lib{name}-{p}.so")))
                .expect("library copy")
        })
        .collect();
    let mut arrays: Vec<ArraySim> = libs
        .iter()
        .map(|l| ArraySim::on_library(&design, l, &options, None).expect("instance"))
        .collect();
    let benches: Vec<Vec<PlainTestbench>> = testbenches
        .iter()
        .map(|(objects, tb)| {
            (0..placements)
                .map(|p| {
                    tb.copy_to(&copies.join(format!("replay-{name}-{}-{p}", objects.name())))
                        .expect("testbench copy")
                })
                .collect()
        })
        .collect();

    // 4. Rounds.
    let mut bridge = Series::new(placements);
    let mut replay = Series::new(placements);
    let mut replay_checked = Series::new(placements);
    let mut plain = vec![Series::new(placements); testbenches.len()];
    let mut plain_checked = vec![Series::new(placements); testbenches.len()];
    for round in 0..args.rounds {
        for p in 0..placements {
            bridge.push(p, time_driver(&mut arrays[p], &inputs, repeat));
            replay.push(p, time_replay(&libs[p], &recording, repeat, false));
            replay_checked.push(p, time_replay(&libs[p], &recording, repeat, true));
            for (k, copies) in benches.iter().enumerate() {
                plain[k].push(p, time_plain(&copies[p], &record_path, repeat, false));
                plain_checked[k].push(p, time_plain(&copies[p], &record_path, repeat, true));
            }
            eprintln!(
                "round {}/{} placement {}/{} (cycles/s): bridge {:.0}, bridge replay {:.0} / checked {:.0}, {}",
                round + 1,
                args.rounds,
                p + 1,
                placements,
                bridge.last(p),
                replay.last(p),
                replay_checked.last(p),
                testbenches
                    .iter()
                    .enumerate()
                    .map(|(k, (o, _))| format!(
                        "plain ({} objects) {:.0} / checked {:.0}",
                        o.name(),
                        plain[k].last(p),
                        plain_checked[k].last(p)
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    let position = |objects: PlainObjects| testbenches.iter().position(|(o, _)| *o == objects);
    let headline = position(PlainObjects::Bridge)
        .or(position(PlainObjects::Rebuilt))
        .expect("a plain testbench");
    let bridge_rate = bridge.best(false);
    let plain_rate = plain[headline].best(false);

    let mut report = Report::default();
    report.text("design", &name);
    report.text("workload", workload);
    report.raw("cycles", summary.cycles.to_string());
    report.rate("bridge_cycles_per_s", bridge_rate);
    report.rate("plain_cycles_per_s", plain_rate);
    report.ratio("ratio", bridge_rate / plain_rate);
    report.text("plain_objects", testbenches[headline].0.name());
    report.ratio(
        "ratio_median_placement",
        bridge.median() / plain[headline].median(),
    );
    report.ratio("ratio_cpu", bridge.best(true) / plain[headline].best(true));
    report.rates(
        "bridge_cycles_per_s_placements",
        &bridge.per_placement(false),
    );
    report.rates(
        "plain_cycles_per_s_placements",
        &plain[headline].per_placement(false),
    );
    report.rate("bridge_replay_cycles_per_s", replay.best(false));
    report.rate(
        "bridge_replay_checked_cycles_per_s",
        replay_checked.best(false),
    );
    report.rate(
        "plain_checked_cycles_per_s",
        plain_checked[headline].best(false),
    );
    if let Some(k) = position(PlainObjects::Rebuilt).filter(|&k| k != headline) {
        report.rate("plain_rebuilt_cycles_per_s", plain[k].best(false));
        report.ratio("ratio_rebuilt", bridge_rate / plain[k].best(false));
    }

    // 5. A multithreaded model of the same design, same recording.
    if let Some(threads) = args.verilator_threads {
        let mt_lib = ArraySim::library(&design, &options, Some(threads)).expect("build --threads");
        let mt_tb = PlainTestbench::build(
            &mt_lib,
            &args.out.join(format!("plain-{name}-threads{threads}")),
            PlainObjects::Bridge,
        )
        .expect("plain testbench --threads");
        // The threaded model reproduces the single-threaded recording exactly.
        mt_tb
            .run(&record_path, 1, true)
            .expect("the --threads model differs from the recording");
        let mt_libs: Vec<VerilatedLib> = (0..placements)
            .map(|p| {
                mt_lib
                    .load_copy(&copies.join(format!("lib{name}-threads{threads}-{p}.so")))
                    .expect("library copy")
            })
            .collect();
        let mut mt_arrays: Vec<ArraySim> = mt_libs
            .iter()
            .map(|l| ArraySim::on_library(&design, l, &options, None).expect("instance"))
            .collect();
        let mt_benches: Vec<PlainTestbench> = (0..placements)
            .map(|p| {
                mt_tb
                    .copy_to(&copies.join(format!("replay-{name}-threads{threads}-{p}")))
                    .expect("testbench copy")
            })
            .collect();
        let (mut st_bridge, mut st_plain) = (Series::new(placements), Series::new(placements));
        let (mut mt_bridge, mut mt_plain) = (Series::new(placements), Series::new(placements));
        for round in 0..args.rounds {
            for p in 0..placements {
                // Interleaved with single-threaded runs, so that both see the same load.
                st_bridge.push(p, time_driver(&mut arrays[p], &inputs, repeat));
                mt_bridge.push(p, time_driver(&mut mt_arrays[p], &inputs, repeat));
                st_plain.push(
                    p,
                    time_plain(&benches[headline][p], &record_path, repeat, false),
                );
                mt_plain.push(p, time_plain(&mt_benches[p], &record_path, repeat, false));
                eprintln!(
                    "round {}/{} placement {}/{} (cycles/s): bridge {:.0} -> --threads {threads} {:.0}, plain {:.0} -> --threads {threads} {:.0}",
                    round + 1,
                    args.rounds,
                    p + 1,
                    placements,
                    st_bridge.last(p),
                    mt_bridge.last(p),
                    st_plain.last(p),
                    mt_plain.last(p)
                );
            }
        }
        report.raw("verilator_threads", threads.to_string());
        report.rate("bridge_threads_cycles_per_s", mt_bridge.best(false));
        report.rate("plain_threads_cycles_per_s", mt_plain.best(false));
        report.ratio(
            "threads_speedup_bridge",
            mt_bridge.best(false) / st_bridge.best(false),
        );
        report.ratio(
            "threads_speedup_plain",
            mt_plain.best(false) / st_plain.best(false),
        );
        // CPU seconds per simulated cycle, threaded over single-threaded (all threads).
        report.ratio(
            "threads_cpu_cost_plain",
            st_plain.best(true) / mt_plain.best(true),
        );
    }

    report.raw("records", summary.records.to_string());
    report.raw("recording_bytes", summary.bytes.to_string());
    report.raw("rounds", args.rounds.to_string());
    report.raw("repeat", repeat.to_string());
    report.raw("placements", placements.to_string());
    report.text(
        "verilator",
        sim::verilator_version().unwrap_or_default().trim(),
    );
    report.ratio("load_average_before", load_before);
    report.ratio("load_average_after", load_average());
    println!("{}", report.line());
}
