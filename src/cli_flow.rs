//! `tandem flow`: the whole job in one command (the `flow` crate does it):
//! train -> export -> resolve and generate the design -> real test images
//! through the RTL against golden -> report -> one summary saying where
//! everything is.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// Flow config (YAML): which training config, which hardware config, how
    /// many images to simulate. Default: configs/flow-quick.yaml.
    #[arg(long, default_value = "configs/flow-quick.yaml")]
    config: PathBuf,
    /// Output directory: train/, hw/, sim.json, report/, flow.json.
    #[arg(long)]
    out: PathBuf,
    /// End stdout with one JSON line: flow.json's object.
    #[arg(long)]
    json: bool,
}

pub fn run_flow(args: FlowArgs) -> Result<()> {
    let step = |message: &str| eprintln!("\n== {message}");
    let flow::FlowRun { summary, report } = flow::run(&args.config, &args.out, true, &step)?;
    print_summary(&summary, &report);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

fn print_summary(summary: &flow::FlowSummary, report: &report::Report) {
    let pct = |v: f64| format!("{:.2}%", v * 100.0);
    let hw = &summary.hw;
    println!();
    println!(
        "tandem flow: {} W{}A{} (first/last weights {} bits), width {}, done in {:.0} s",
        summary.dataset,
        summary.w_bits,
        summary.a_bits,
        summary.first_last_w_bits,
        summary.width,
        summary.seconds
    );
    println!(
        "  accuracy     teacher {} | BN-free float {} | naive PTQ {} | {} integer student {} (golden, {} test images)",
        pct(summary.teacher_accuracy),
        pct(summary.bn_free_float_accuracy),
        pct(summary.ptq_accuracy),
        summary.method,
        pct(summary.student_accuracy),
        summary.test_images
    );
    println!("  method       {}", summary.method_reason);
    println!(
        "  design       {} ({}x{}, a_bits={} w_bits={} serving layers up to {}x{} bits in passes, acc_bits={} shift_bits={}); {} changes to the config as written",
        hw.name,
        hw.rows,
        hw.cols,
        hw.a_bits,
        hw.w_bits,
        hw.max_in_bits,
        hw.max_w_bits,
        hw.acc_bits,
        hw.shift_bits,
        hw.changes.len()
    );
    for change in &hw.changes {
        println!("               {change}");
    }
    println!(
        "  RTL          {} images: {} mismatches against golden, {}/{} correct",
        summary.rtl_images, summary.rtl_mismatches, summary.rtl_correct, summary.rtl_images
    );
    println!(
        "  {:<8} {:>12} {:>12} {:>12} {:>8}",
        "layer", "MACs/img", "cycles/img", "model", "util"
    );
    let per_image = summary.rtl_images.max(1) as u64;
    for layer in summary.layers.iter().filter(|l| l.on_rtl) {
        let stats = &layer.stats;
        println!(
            "  {:<8} {:>12} {:>12} {:>12} {:>7.1}%",
            stats.name,
            stats.macs / per_image,
            stats.cycles / per_image,
            stats.model_cycles / per_image,
            layer.utilization * 100.0
        );
    }
    let energy = &report.batch1().energy;
    let area = &report.area.summary;
    let headline = report.headline_throughput();
    println!(
        "  throughput   {:.0} images/s at {} MHz, {:.0} cycles/image, utilization {:.1}% [{}]",
        headline.images_per_s,
        hw.clock_mhz,
        headline.cycles_per_image,
        headline.utilization * 100.0,
        headline.basis
    );
    println!(
        "  energy       {:.1} uJ/image (low {:.1} - high {:.1}), {:.3} TOPS/W (low {:.3} - high {:.3}) [modeled, {}]",
        energy.per_image_uj.typical,
        energy.per_image_uj.low,
        energy.per_image_uj.high,
        energy.tops_per_w.typical,
        energy.tops_per_w.low,
        energy.tops_per_w.high,
        report.energy_table.name
    );
    match (area.cells, area.luts) {
        (Some(cells), Some(luts)) => println!(
            "  area         {cells} generic cells, {luts} Xilinx LUTs [yosys, {}]",
            report.area.status
        ),
        _ => println!("  area         not synthesized ({})", report.area.status),
    }
    if let Some(message) = &report.area.message {
        println!("               {message}");
    }
    let artifacts = &summary.artifacts;
    println!("  artifacts");
    println!("    integer model   {}", artifacts.model.display());
    println!("    teacher         {}", artifacts.teacher.display());
    println!("    RTL             {}", artifacts.rtl.display());
    println!("    simulation      {}", artifacts.sim.display());
    println!("    report          {}", artifacts.report.display());
    println!("    summary         {}", artifacts.summary.display());
}
