//! `tandem`: the command-line front end. Library crates return typed errors;
//! this binary reports them with their cause chain and exits non-zero
//! (exit codes in [`exit`]).

mod cli_flow;
mod cli_hw;
mod cli_model;
mod cli_report;
mod cli_sweep;
mod cli_train;
mod exit;
mod progress;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Tandem: co-design a batch-norm-free integer AlexNet and the systolic MAC
/// array that runs it.
///
/// Typical first steps:
///
///   tandem model random --topology alexnet-cifar --width 0.25 --in-channels 1 \
///       --wbits 4 --abits 4 --seed 1 --out out/random-w4a4
///
///   tandem model inspect --model out/random-w4a4
///
///   tandem eval --model out/random-w4a4 --images 1000
///
///   tandem hwgen --hw configs/hw-16x16-w4a4.yaml --model out/random-w4a4 --out out/hw
///
///   tandem sim network --hw configs/hw-16x16-w4a4.yaml --model out/random-w4a4 --images 20
///
/// The integer semantics every command follows are in docs/integer-semantics.md.
#[derive(Debug, Parser)]
#[command(
    name = "tandem",
    version,
    verbatim_doc_comment,
    after_help = exit::AFTER_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create and inspect integer models (model.yaml + model.safetensors).
    #[command(subcommand)]
    Model(cli_model::ModelCommand),
    /// Measure a model's accuracy and speed on a dataset's test split with
    /// the golden reference.
    ///
    /// Example:
    ///   tandem eval --model out/random-w4a4 --images 1000
    ///   tandem eval --model out/random-w4a4 --json | tail -n 1
    #[command(verbatim_doc_comment)]
    Eval(cli_model::EvalArgs),
    /// Generate the Verilog of a systolic MAC array from a hardware config
    /// (sources, files.f, a yosys script and a README of the interface).
    ///
    /// Example:
    ///   tandem hwgen --hw configs/hw-16x16-w4a4.yaml --out out/hw
    #[command(verbatim_doc_comment)]
    Hwgen(cli_hw::HwgenArgs),
    /// Simulate the generated RTL in Verilator, bit-exact against golden.
    #[command(subcommand)]
    Sim(cli_hw::SimCommand),
    /// Train a BN teacher and a progressive integer student, export the
    /// integer model and verify it bit for bit against golden.
    Train(cli_train::TrainArgs),
    /// Report throughput, energy and area of a design point: simulate a few
    /// test images on the RTL, count actions, price them with an energy
    /// table, synthesize with yosys; writes report.md, report.json, CSV
    /// tables and SVG plots.
    ///
    /// Example:
    ///   tandem report --hw configs/hw-16x16-w4a4.yaml --model out/random-w4a4 --out out/report
    #[command(verbatim_doc_comment)]
    Report(cli_report::ReportArgs),
    /// The whole job: train the quick preset, export the integer model,
    /// generate the array for it, run real images through the RTL against
    /// golden, and write the throughput / energy / area report.
    ///
    /// Example:
    ///   tandem flow --config configs/flow-quick.yaml --out out/flow
    #[command(verbatim_doc_comment)]
    Flow(cli_flow::FlowArgs),
    /// Sweep bit-widths x arrays x batch sizes: per point the model, the
    /// design, real images through the RTL (0 mismatches), throughput,
    /// energy, area and accuracy; Pareto fronts in sweep.md and SVG plots.
    /// Locally in parallel or as SLURM job arrays. Results are reused by a
    /// later sweep into the same directory when their inputs match.
    ///
    /// Example:
    ///   tandem sweep --config configs/sweep-random.yaml --out out/sweep-random
    ///   tandem sweep --config configs/sweep-quick.yaml --out out/sweep --json | tail -n 1
    ///   tandem sweep --config configs/sweep-random.yaml --out /shared/sweep \
    ///       --executor slurm --partition cpu --time 01:00:00
    #[command(verbatim_doc_comment)]
    Sweep(cli_sweep::SweepArgs),
}

fn main() -> ExitCode {
    exit::quiet_on_closed_pipe();
    // SIGINT / SIGTERM during a Verilator build: kill its compilers, remove its temporaries.
    if let Err(error) = sim::install_interrupt_handler() {
        eprintln!("warning: {error}");
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole cause chain: "error: X: Y: Z".
            eprintln!("error: {}", exit::chain_message(&error));
            exit::code_for(&error)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Model(command) => cli_model::run_model(command),
        Command::Eval(args) => cli_model::run_eval(args),
        Command::Hwgen(args) => cli_hw::run_hwgen(args),
        Command::Sim(command) => cli_hw::run_sim(command),
        Command::Train(args) => cli_train::run_train(args),
        Command::Report(args) => cli_report::run_report(args),
        Command::Flow(args) => cli_flow::run_flow(args),
        Command::Sweep(args) => cli_sweep::run_sweep(args),
    }
}
