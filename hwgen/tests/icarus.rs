//! Self-checking Icarus Verilog testbenches: the generated RTL, driven cycle
//! by cycle through the canonical schedule (`hwgen::host::drive_gemm`), must
//! produce the integer contract's results at exactly the cycles the schedule
//! predicts. This proves the arithmetic and the protocol before any
//! Verilator host exists. Skipped, with a message, without `iverilog`/`vvp`.
//!
//! The testbench reads one stimulus word per cycle (all inputs) and one
//! expected word per cycle (all outputs); `out_valid` is checked every
//! cycle, the data whenever a result is expected.

mod common;

use common::{design, have_tool, run_ok, verilog_paths, write_design};
use golden::contract;
use hwgen::host::{drive_gemm, reference_gemm, GemmOperands, PortInputs};
use hwgen::{Design, GemmShape, PortDirection};
use std::fmt::Write as _;
use std::process::Command;

/// A bit string built least significant field first, printed as hex.
#[derive(Default)]
struct Bits(Vec<bool>);

impl Bits {
    fn push(&mut self, value: i64, width: u32) {
        for bit in 0..width {
            self.0.push((value >> bit.min(63)) & 1 == 1);
        }
    }

    fn push_all(&mut self, values: impl IntoIterator<Item = i64>, width: u32) {
        for value in values {
            self.push(value, width);
        }
    }

    fn to_hex(&self) -> String {
        let digits = self.0.len().div_ceil(4);
        (0..digits)
            .rev()
            .map(|digit| {
                let nibble = (0..4)
                    .filter(|bit| self.0.get(digit * 4 + bit).copied().unwrap_or(false))
                    .fold(0u32, |acc, bit| acc | (1 << bit));
                char::from_digit(nibble, 16).unwrap()
            })
            .collect()
    }
}

/// The stimulus word of one cycle: the inputs in reverse declaration order
/// (the testbench assigns `{first input, ..., last input} = word`), each at
/// its width in the port list.
fn stimulus_word(design: &Design, inputs: &PortInputs) -> String {
    let mut bits = Bits::default();
    let ports = hwgen::ports(design);
    for port in ports.iter().rev() {
        if port.direction != PortDirection::Input || port.name == "clk" || port.name == "rst_n" {
            continue;
        }
        let width = port.width;
        let cols = design.config.cols;
        let rows = design.config.rows;
        match port.name {
            "wload_valid" => bits.push(inputs.wload_valid.into(), width),
            "wload_row" => bits.push(inputs.wload_row.into(), width),
            "wload_data" => {
                bits.push_all(inputs.wload_data.iter().map(|&v| v.into()), width / cols)
            }
            "wload_signed" => bits.push(inputs.wload_signed.into(), width),
            "wswap" => bits.push(inputs.wswap.into(), width),
            "prm_valid" => bits.push(inputs.prm_valid.into(), width),
            "prm_bias" => bits.push_all(inputs.prm_bias.iter().map(|&v| v.into()), width / cols),
            "prm_shift" => bits.push_all(inputs.prm_shift.iter().map(|&v| v.into()), width / cols),
            "prm_out_bits" => bits.push(inputs.prm_out_bits.into(), width),
            "act_valid" => bits.push(inputs.act_valid.into(), width),
            "act_data" => bits.push_all(inputs.act_data.iter().map(|&v| v.into()), width / rows),
            "act_first" => bits.push(inputs.act_first.into(), width),
            "act_last" => bits.push(inputs.act_last.into(), width),
            "act_bypass" => bits.push(inputs.act_bypass.into(), width),
            "act_acc_addr" => bits.push(inputs.act_acc_addr.into(), width),
            "act_slice_shift" => bits.push(inputs.act_slice_shift.into(), width),
            other => panic!("the testbench does not drive input `{other}`"),
        }
    }
    bits.to_hex()
}

/// The expected output word `{out_valid, out_bypass, out_acc_addr, out_act, out_raw}`.
fn expected_word(
    design: &Design,
    valid: bool,
    bypass: bool,
    addr: u32,
    act: &[i64],
    raw: &[i64],
) -> String {
    let mut bits = Bits::default();
    bits.push_all(raw.iter().copied(), design.widths.bias_bits);
    bits.push_all(act.iter().copied(), design.widths.out_a_bits);
    bits.push(addr.into(), design.widths.addr_bits);
    bits.push(bypass.into(), 1);
    bits.push(valid.into(), 1);
    bits.to_hex()
}

/// A GEMM to run, with its operands owned.
type Gemm = hwgen::host::OwnedGemm;

/// The testbench: drives the stimulus words, compares the outputs after
/// every rising edge, prints PASS or the mismatches.
fn testbench(design: &Design, cycles: usize) -> String {
    let ports = hwgen::ports(design);
    let inputs: Vec<_> = ports
        .iter()
        .filter(|p| p.direction == PortDirection::Input && p.name != "clk" && p.name != "rst_n")
        .collect();
    let outputs: Vec<_> = ports
        .iter()
        .filter(|p| p.direction == PortDirection::Output)
        .collect();
    let stim_bits: u32 = inputs.iter().map(|p| p.width).sum();
    let expect_bits: u32 = outputs.iter().map(|p| p.width).sum();
    let names = |list: &[&hwgen::Port]| list.iter().map(|p| p.name).collect::<Vec<_>>().join(", ");
    let mut tb = String::new();
    let _ = writeln!(tb, "`timescale 1ns/1ps");
    let _ = writeln!(tb, "module tb;");
    let _ = writeln!(tb, "    localparam integer CYCLES = {cycles};");
    let _ = writeln!(tb, "    reg clk = 1'b0;");
    let _ = writeln!(tb, "    reg rst_n = 1'b0;");
    let _ = writeln!(tb, "    reg [{}:0] stimulus [0:CYCLES-1];", stim_bits - 1);
    let _ = writeln!(tb, "    reg [{}:0] expected [0:CYCLES];", expect_bits - 1);
    let _ = writeln!(tb, "    reg [{}:0] drive;", stim_bits - 1);
    for port in inputs.iter().chain(outputs.iter()) {
        let _ = writeln!(tb, "    wire [{}:0] {};", port.width - 1, port.name);
    }
    let _ = writeln!(tb, "    assign {{{}}} = drive;", names(&inputs));
    let _ = writeln!(
        tb,
        "    wire [{}:0] observed = {{{}}};",
        expect_bits - 1,
        names(&outputs)
    );
    let connections: Vec<String> = ports.iter().map(|p| format!(".{0}({0})", p.name)).collect();
    let _ = writeln!(tb, "    tandem_top dut ({});", connections.join(", "));
    let _ = writeln!(tb, "    always #5 clk = ~clk;");
    let _ = writeln!(
        tb,
        r#"    integer cycle;
    integer errors;
    initial begin
        $readmemh("stimulus.hex", stimulus);
        $readmemh("expected.hex", expected);
        errors = 0;
        drive = 0;
        @(posedge clk);
        @(posedge clk);
        #1;
        rst_n = 1'b1;
        if (out_valid !== 1'b0) begin
            errors = errors + 1;
            $display("MISMATCH after reset: out_valid = %b", out_valid);
        end
        for (cycle = 0; cycle < CYCLES; cycle = cycle + 1) begin
            drive = stimulus[cycle];
            @(posedge clk);
            #1;
            // The outputs now show cycle + 1.
            if (out_valid !== expected[cycle+1][{valid}]
                || (out_valid === 1'b1 && observed !== expected[cycle+1])) begin
                errors = errors + 1;
                if (errors <= 10)
                    $display("MISMATCH cycle %0d: expected %h observed %h", cycle + 1, expected[cycle+1], observed);
            end
        end
        if (errors == 0) $display("PASS");
        else $display("FAIL: %0d mismatches", errors);
        $finish;
    end
endmodule"#,
        valid = expect_bits - 1
    );
    tb
}

/// Which simulators run the testbench.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Simulators {
    /// Icarus only.
    Icarus,
    /// Icarus, then the same testbench under Verilator (`--binary
    /// --timing`), which is what the simulation driver uses: both must
    /// agree with the contract. Costs a C++ build (~10 s), so only a few
    /// tests do it.
    IcarusAndVerilator,
}

/// Run `gemms` back to back on `config` in Icarus (and Verilator); panic
/// unless the RTL matches the contract at every cycle.
fn run_on_icarus(test: &str, design: &Design, gemms: &[Gemm], simulators: Simulators) {
    let config = &design.config;
    if !(have_tool("iverilog", test) && have_tool("vvp", test)) {
        return;
    }
    let cols = config.cols as usize;
    let mut stimulus = String::new();
    // expected[c] describes the outputs during cycle c; cycle 0 is idle.
    let idle = expected_word(design, false, false, 0, &vec![0; cols], &vec![0; cols]);
    let mut expected = vec![idle.clone()];
    let mut offset = 0u64;
    for gemm in gemms {
        let ops = gemm.operands();
        let mut driven = 0u64;
        let run = drive_gemm(design, &ops, |cycle, inputs| {
            assert_eq!(cycle, driven, "cycles are driven in order");
            driven += 1;
            stimulus.push_str(&stimulus_word(design, inputs));
            stimulus.push('\n');
        })
        .unwrap();
        assert_eq!(driven, run.cycles);
        let passes = design.passes(gemm.in_bits, gemm.w_bits);
        assert_eq!(run.cycles, hwgen::gemm_cycles(config, gemm.shape, passes));
        // The last result is visible after the last driven edge.
        assert_eq!(run.outputs.last().unwrap().cycle, run.cycles);

        let results = reference_gemm(&ops);
        let raw = reference_gemm(&GemmOperands {
            bypass: true,
            ..ops
        });
        expected.resize((offset + run.cycles) as usize + 1, idle.clone());
        let n = gemm.shape.n;
        for output in &run.outputs {
            let mut act = vec![0i64; cols];
            let mut raw_out = vec![0i64; cols];
            for c in 0..cols {
                let channel = output.n0 + c;
                if channel < n {
                    raw_out[c] = raw[output.m * n + channel];
                    if !gemm.bypass {
                        act[c] = results[output.m * n + channel];
                    }
                }
            }
            let addr = (output.m % config.acc_depth as usize) as u32;
            expected[(offset + output.cycle) as usize] =
                expected_word(design, true, gemm.bypass, addr, &act, &raw_out);
        }
        offset += run.cycles;
    }

    let scratch = tempfile::tempdir().unwrap();
    if std::env::var_os("TANDEM_KEEP_TB").is_some() {
        // Debugging aid: keep the testbench, stimulus and design.
        eprintln!("{test}: testbench kept in {}", scratch.path().display());
    }
    let dir = write_design(design, scratch.path());
    std::fs::write(scratch.path().join("stimulus.hex"), stimulus).unwrap();
    std::fs::write(
        scratch.path().join("expected.hex"),
        expected.join("\n") + "\n",
    )
    .unwrap();
    std::fs::write(
        scratch.path().join("tb.v"),
        testbench(design, offset as usize),
    )
    .unwrap();
    let mut compile = Command::new("iverilog");
    compile
        .current_dir(scratch.path())
        .args(["-g2005", "-s", "tb", "-o", "tb.vvp", "tb.v"])
        .args(verilog_paths(&dir));
    run_ok(compile, &format!("{test}: iverilog"));
    let mut simulate = Command::new("vvp");
    simulate.current_dir(scratch.path()).args(["-n", "tb.vvp"]);
    let log = run_ok(simulate, &format!("{test}: vvp"));
    assert!(
        log.contains("PASS") && !log.contains("MISMATCH"),
        "{test}: the RTL disagrees with the contract:\n{log}"
    );
    if simulators == Simulators::IcarusAndVerilator && have_tool("verilator", test) {
        let mut build = Command::new("verilator");
        build
            .current_dir(scratch.path())
            .args([
                "--binary",
                "--timing",
                "-j",
                "1",
                "-Wno-fatal",
                "-Wno-lint",
                "-Wno-style",
            ])
            .args(["--top-module", "tb", "-o", "tb_verilator", "tb.v"])
            .args(verilog_paths(&dir));
        run_ok(build, &format!("{test}: verilator --binary"));
        let mut simulate = Command::new(scratch.path().join("obj_dir/tb_verilator"));
        simulate.current_dir(scratch.path());
        let log = run_ok(simulate, &format!("{test}: verilated testbench"));
        assert!(
            log.contains("PASS") && !log.contains("MISMATCH"),
            "{test}: under Verilator the RTL disagrees with the contract:\n{log}"
        );
    }
    if std::env::var_os("TANDEM_KEEP_TB").is_some() {
        let _ = scratch.keep();
    }
}

/// A small deterministic generator (xorshift) for operand values.
struct Values(u64);

impl Values {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn range(&mut self, low: i64, high: i64) -> i64 {
        low + (self.next() % (high - low + 1) as u64) as i64
    }
}

/// A random GEMM whose values use the config's full widths, with biases and
/// shifts scaled to the accumulator range so that results spread over the
/// whole output range (zero, saturated and everything between), and with
/// acc + bias + rounding inside i32 (what golden guarantees).
fn random_gemm(design: &Design, seed: u64, shape: GemmShape, out_bits: u8, bypass: bool) -> Gemm {
    // The widest operands the design serves: on a sliced design these are
    // wider than the PEs and the GEMM runs in passes.
    let config = &design.config;
    let widths = (config.layer_in_bits(), config.layer_w_bits());
    random_gemm_at(design, seed, shape, widths, out_bits, bypass)
}

/// [`random_gemm`] with `in_bits` x `w_bits` operands.
fn random_gemm_at(
    design: &Design,
    seed: u64,
    shape: GemmShape,
    (in_bits, w_bits): (u8, u8),
    out_bits: u8,
    bypass: bool,
) -> Gemm {
    let mut values = Values(seed | 1);
    let act_max = i64::from(contract::activation_max(in_bits));
    let (w_min, w_max) = contract::weight_range(w_bits);
    // A typical |acc| is about sqrt(K) * act_max * w_max / 2; aim the shifts
    // so that such values land inside 0..2^out_bits.
    let typical = ((shape.k as f64).sqrt() * act_max as f64 * f64::from(w_max) / 2.0).max(1.0);
    let typical_bits = typical.log2().ceil() as i64;
    let shift_low = (typical_bits - i64::from(out_bits) - 1).max(0);
    let shift_high = (typical_bits - i64::from(out_bits) + 1)
        .max(shift_low)
        .min(i64::from(design.widths.max_shift));
    let shift_low = shift_low.min(shift_high);
    Gemm {
        shape,
        activations: (0..shape.m * shape.k)
            .map(|_| values.range(0, act_max) as u32)
            .collect(),
        in_bits,
        weights: (0..shape.n * shape.k)
            .map(|_| values.range(w_min.into(), w_max.into()) as i32)
            .collect(),
        w_bits,
        bias: (0..shape.n)
            .map(|_| values.range(-(typical as i64), typical as i64) as i32)
            .collect(),
        shifts: (0..shape.n)
            .map(|_| values.range(shift_low, shift_high) as u8)
            .collect(),
        out_bits,
        bypass,
    }
}

/// Assert that a GEMM's expected results are informative: some zero, some
/// saturated, some in between.
fn assert_spread(design: &Design, gemm: &Gemm) {
    let config = &design.config;
    let results = reference_gemm(&gemm.operands());
    let max = i64::from(contract::activation_max(gemm.out_bits));
    let zero = results.iter().filter(|&&v| v == 0).count();
    let saturated = results.iter().filter(|&&v| v == max).count();
    let between = results.len() - zero - saturated;
    assert!(
        zero > 0 && saturated > 0 && between > 0,
        "{}: uninformative test data: {zero} zero, {saturated} saturated, {between} between",
        config.name
    );
}

#[test]
fn hand_computed_2x3_w4a4() {
    // One tile: K = 2 = rows, N = 3 = cols, M = 3 pixels.
    let design = design(2, 3, 4, 4, 4);
    let shape = GemmShape { m: 3, k: 2, n: 3 };
    let hidden = |out_bits| Gemm {
        shape,
        activations: vec![15, 15, 3, 1, 0, 7],
        in_bits: 4,
        weights: vec![7, 7, -7, 2, 1, -1],
        w_bits: 4,
        bias: vec![40, 5, 4],
        shifts: vec![4, 1, 2],
        out_bits,
        bypass: false,
    };
    // acc:       n0          n1              n2
    //   m0: 15*7+15*7=210  -105+30=-75    15-15=0
    //   m1:  21+7=28        -21+2=-19      3-1=2
    //   m2:   0+49=49         0+14=14      0-7=-7
    // acc + bias (bias 40, 5, 4):
    //   m0: 250  -70   4
    //   m1:  68  -14   6
    //   m2:  89   19  -3
    let raw = [250, -70, 4, 68, -14, 6, 89, 19, -3];
    // out_bits 4: n0 >> 4 (r 8), n1 >> 1 (r 1), n2 >> 2 (r 2)
    //   m0: (258>>4)=16 -> 15 (saturates) | -69>>1 = -35 -> 0 (negative) | 6>>2 = 1
    //   m1: 76>>4 = 4                      | -13>>1 = -7 -> 0             | 8>>2 = 2 (1.5 rounds up)
    //   m2: 97>>4 = 6                      | 20>>1 = 10 (9.5 rounds up)   | -1>>2 = -1 -> 0
    let act4 = [15, 0, 1, 4, 0, 2, 6, 10, 0];
    // out_bits 2 clamps at 3.
    let act2 = [3, 0, 1, 3, 0, 2, 3, 3, 0];
    let bypass = Gemm {
        bypass: true,
        ..hidden(4)
    };

    assert_eq!(reference_gemm(&hidden(4).operands()), act4);
    assert_eq!(reference_gemm(&hidden(2).operands()), act2);
    assert_eq!(reference_gemm(&bypass.operands()), raw);
    run_on_icarus(
        "hand_computed_2x3_w4a4",
        &design,
        &[hidden(4), hidden(2), bypass],
        Simulators::Icarus,
    );
}

#[test]
fn tiled_gemms_2x3_w3a5() {
    // acc_depth 4 < rows + cols = 5: every slot is load-bound, so the
    // shadow-bank writes run at the earliest cycle the schedule allows.
    // With M = 8 the tile before each N-tile boundary is full (4 vectors),
    // so the parameter write of the next N-tile lands one cycle after the
    // old parameters were last read: a slot of rows + cols - 1 would fail.
    let design = design(2, 3, 5, 3, 4);
    let gemms = [
        random_gemm(&design, 1, GemmShape { m: 8, k: 5, n: 7 }, 3, false),
        random_gemm(&design, 2, GemmShape { m: 10, k: 5, n: 7 }, 5, false),
        random_gemm(&design, 3, GemmShape { m: 5, k: 3, n: 2 }, 5, true),
    ];
    assert_spread(&design, &gemms[0]);
    assert_spread(&design, &gemms[1]);
    run_on_icarus(
        "tiled_gemms_2x3_w3a5",
        &design,
        &gemms,
        Simulators::IcarusAndVerilator,
    );
}

#[test]
fn tiled_gemms_4x4_w8a8_compute_bound() {
    // acc_depth 16 >= rows + cols = 8: weight loads hide behind compute.
    let design = design(4, 4, 8, 8, 16);
    let gemms = [
        random_gemm(&design, 4, GemmShape { m: 37, k: 10, n: 6 }, 8, false),
        random_gemm(&design, 5, GemmShape { m: 20, k: 4, n: 4 }, 6, false),
        random_gemm(&design, 6, GemmShape { m: 3, k: 9, n: 5 }, 8, true),
    ];
    assert_spread(&design, &gemms[0]);
    assert_spread(&design, &gemms[1]);
    run_on_icarus(
        "tiled_gemms_4x4_w8a8_compute_bound",
        &design,
        &gemms,
        Simulators::Icarus,
    );
}

#[test]
fn tiny_1x1_w2a2() {
    let design = design(1, 1, 2, 2, 2);
    run_on_icarus(
        "tiny_1x1_w2a2",
        &design,
        &[
            random_gemm(&design, 7, GemmShape { m: 3, k: 2, n: 2 }, 2, false),
            random_gemm(&design, 8, GemmShape { m: 1, k: 1, n: 1 }, 1, false),
            random_gemm(&design, 9, GemmShape { m: 2, k: 3, n: 1 }, 2, true),
        ],
        Simulators::Icarus,
    );
}

/// A design of `a_bits` x `w_bits` PEs serving `in_bits` x `max_w` layers
/// with `out_bits` outputs.
fn sliced(rows: u32, cols: u32, a_bits: u8, w_bits: u8, depth: u32, layer: (u8, u8, u8)) -> Design {
    let config = common::config(rows, cols, a_bits, w_bits, depth)
        .with_layer_bits(layer.0, layer.1, layer.2);
    Design::of(&config).unwrap()
}

#[test]
fn w8a8_gemms_in_passes_on_a_2x3_w2a2_array() {
    // 4 activation x 4 weight slices = 16 passes per tile; K = 5 spans three
    // K-tiles and M = 7 two M-tiles of the depth-4 accumulator.
    let design = sliced(2, 3, 2, 2, 4, (8, 8, 8));
    assert_eq!(design.passes(8, 8).count(), 16);
    let gemms = [
        random_gemm(&design, 12, GemmShape { m: 7, k: 5, n: 4 }, 8, false),
        random_gemm(&design, 11, GemmShape { m: 4, k: 3, n: 3 }, 5, false),
        random_gemm(&design, 13, GemmShape { m: 3, k: 4, n: 2 }, 8, true),
    ];
    assert_spread(&design, &gemms[0]);
    run_on_icarus(
        "w8a8_gemms_in_passes_on_a_2x3_w2a2_array",
        &design,
        &gemms,
        Simulators::IcarusAndVerilator,
    );
}

#[test]
fn odd_slices_7bit_activations_5bit_weights_on_3bit_pes() {
    // ceil(7/3) = 3 activation slices (3 + 3 + 1 bits), ceil(5/3) = 2 weight
    // slices (an unsigned 3-bit low digit, a signed 2-bit top digit).
    let design = sliced(3, 2, 3, 3, 5, (7, 5, 7));
    assert_eq!(design.passes(7, 5).count(), 6);
    let gemms = [
        random_gemm(&design, 12, GemmShape { m: 6, k: 7, n: 3 }, 7, false),
        random_gemm(&design, 15, GemmShape { m: 5, k: 2, n: 2 }, 7, true),
    ];
    assert_spread(&design, &gemms[0]);
    run_on_icarus(
        "odd_slices_7bit_activations_5bit_weights_on_3bit_pes",
        &design,
        &gemms,
        Simulators::Icarus,
    );
}

#[test]
fn extreme_sliced_operands_exact_on_a_1x1_w2a2_array() {
    // Every activation 255, weights at -127 and 127 (the top slice of -127 is
    // the most negative 2-bit digit, -2), a negative and a positive sum, and
    // outputs that saturate at both ends; then the raw logits.
    let design = sliced(1, 1, 1, 2, 2, (8, 8, 8));
    let gemm = |bypass| Gemm {
        shape: GemmShape { m: 2, k: 3, n: 2 },
        activations: vec![255; 6],
        in_bits: 8,
        weights: vec![-127, -127, -127, 127, 127, 126],
        w_bits: 8,
        bias: vec![5, -7],
        shifts: vec![3, 12],
        out_bits: 8,
        bypass,
    };
    let raw = reference_gemm(&GemmOperands {
        bypass: true,
        ..gemm(false).operands()
    });
    assert_eq!(
        raw,
        [-97_155 + 5, 97_155 - 255 - 7, -97_155 + 5, 96_900 - 7]
    );
    assert_eq!(design.passes(8, 8).count(), 32);
    run_on_icarus(
        "extreme_sliced_operands_exact_on_a_1x1_w2a2_array",
        &design,
        &[gemm(false), gemm(true)],
        Simulators::Icarus,
    );
}

#[test]
fn w16a16_gemms_in_passes_on_a_2x2_w4a4_array() {
    // 16 passes; the accumulator resolves to 32 bits and wraps harmlessly.
    let design = sliced(2, 2, 4, 4, 3, (16, 16, 16));
    assert_eq!(design.widths.acc_bits, 32);
    // |acc + bias + r| must fit i32 (golden's guarantee), so 16-bit
    // activations meet 8-bit weights and 16-bit weights 8-bit activations.
    let gemms = [
        random_gemm_at(
            &design,
            16,
            GemmShape { m: 4, k: 3, n: 3 },
            (16, 8),
            16,
            false,
        ),
        random_gemm_at(
            &design,
            17,
            GemmShape { m: 3, k: 5, n: 2 },
            (8, 16),
            16,
            false,
        ),
        random_gemm_at(
            &design,
            18,
            GemmShape { m: 2, k: 2, n: 2 },
            (16, 8),
            16,
            true,
        ),
    ];
    assert_eq!(design.passes(16, 8).count(), 8);
    assert_eq!(design.passes(8, 16).count(), 8);
    run_on_icarus(
        "w16a16_gemms_in_passes_on_a_2x2_w4a4_array",
        &design,
        &gemms,
        Simulators::Icarus,
    );
}

#[test]
fn w16a16_partial_sums_wrap_modulo_2_pow_32() {
    // acc_bits resolves to 32. The first K-tile's partial sum,
    // 2 * 65535 * 32767 = 4_294_770_690, does not fit i32 and wraps, but
    // the second K-tile brings the total back to a value that fits, and the
    // result is exact (golden only guarantees that the final sum fits).
    let design = design(2, 2, 16, 16, 2);
    assert_eq!(design.widths.acc_bits, 32);
    let gemm = |bypass, shifts: Vec<u8>| Gemm {
        shape: GemmShape { m: 2, k: 4, n: 2 },
        activations: vec![65535, 65535, 65535, 65534, 65535, 65535, 65535, 65535],
        in_bits: 16,
        weights: vec![32767, 32767, -32767, -32767, -32767, -32767, 32767, 32766],
        w_bits: 16,
        bias: vec![100, -100],
        shifts,
        out_bits: 16,
        bypass,
    };
    // acc: m0 n0 = 32767 * (65535 + 65535 - 65535 - 65534) = 32767,
    //      m0 n1 = -32767 * 65535 + 32766 * 65534 = -98301,
    //      m1 n0 = 0, m1 n1 = 65535 * (-32767 - 32767 + 32767 + 32766) = -65535.
    let ops = gemm(false, vec![0, 3]);
    let raw = reference_gemm(&GemmOperands {
        bypass: true,
        ..ops.operands()
    });
    assert_eq!(raw, [32767 + 100, -98301 - 100, 100, -65535 - 100]);
    run_on_icarus(
        "w16a16_partial_sums_wrap_modulo_2_pow_32",
        &design,
        &[ops, gemm(true, vec![0, 0])],
        Simulators::IcarusAndVerilator,
    );
}
