//! The top-level port list of `tandem_top`, derived from a [`Design`].
//!
//! The one place the port list lives: it drives the generated `tandem_top.v`
//! and its `README.md`, and the simulation driver checks every verilated
//! model's ports (names, directions, widths) against it.

use crate::Design;

/// Direction of a top-level port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortDirection {
    /// Driven by the host.
    Input,
    /// Read by the host.
    Output,
}

impl PortDirection {
    /// `input` or `output`, as in Verilog.
    pub fn as_verilog(self) -> &'static str {
        match self {
            PortDirection::Input => "input",
            PortDirection::Output => "output",
        }
    }
}

/// One top-level port of `tandem_top`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Verilog name.
    pub name: &'static str,
    /// Direction.
    pub direction: PortDirection,
    /// Width in bits; the port is `[width-1:0]`.
    pub width: u32,
    /// What it carries and how it is packed.
    pub description: String,
}

/// Name of the generated top module (the same for every config, so a
/// Verilator host always finds `Vtandem_top`).
pub const TOP_MODULE: &str = "tandem_top";

/// The ports of `tandem_top` for `design`, in declaration order.
pub fn ports(design: &Design) -> Vec<Port> {
    use PortDirection::{Input, Output};
    let config = &design.config;
    let widths = &design.widths;
    let rows = config.rows;
    let cols = config.cols;
    let a = u32::from(config.a_bits);
    let w = u32::from(config.w_bits);
    let out = widths.out_a_bits;
    let s = widths.shift_bits;
    let bias = widths.bias_bits;
    let port = |name, direction, width, description: String| Port {
        name,
        direction,
        width,
        description,
    };
    vec![
        port(
            "clk",
            Input,
            1,
            "clock; every register updates on the rising edge".into(),
        ),
        port("rst_n", Input, 1, "synchronous reset, active low".into()),
        port(
            "wload_valid",
            Input,
            1,
            "write one array row of the shadow weight bank".into(),
        ),
        port(
            "wload_row",
            Input,
            widths.row_bits,
            format!("array row r = 0..{} (K offset within the tile)", rows - 1),
        ),
        port(
            "wload_data",
            Input,
            cols * w,
            format!("{cols} x {w}-bit weight slices; column c at [c*{w} +: {w}] = slice of W[n0+c][k0+r]"),
        ),
        port(
            "wload_signed",
            Input,
            1,
            if widths.unsigned_weight_slices {
                "1: the row's weights are signed (a weight's top slice, or a whole weight that fits); 0: unsigned lower slices".into()
            } else {
                "weights are always signed here (max_w_bits = w_bits); drive 1".into()
            },
        ),
        port(
            "wswap",
            Input,
            1,
            "swap banks: vectors from the next cycle on use the weights and parameters just loaded"
                .into(),
        ),
        port(
            "prm_valid",
            Input,
            1,
            "write the requantizer parameters of the shadow bank".into(),
        ),
        port(
            "prm_bias",
            Input,
            cols * bias,
            format!("{cols} x {bias}-bit signed biases; column c at [c*{bias} +: {bias}]"),
        ),
        port(
            "prm_shift",
            Input,
            cols * s,
            format!(
                "{cols} x {s}-bit shifts (0..={}); column c at [c*{s} +: {s}]",
                widths.max_shift
            ),
        ),
        port(
            "prm_out_bits",
            Input,
            widths.out_bits_bits,
            format!(
                "the layer's output activation width a_out, 1..={out} (clamp to 2^a_out - 1)"
            ),
        ),
        port(
            "act_valid",
            Input,
            1,
            "an activation vector is presented".into(),
        ),
        port(
            "act_data",
            Input,
            rows * a,
            format!("{rows} x {a}-bit unsigned activation slices; row r at [r*{a} +: {a}] = slice of X[m][k0+r]"),
        ),
        port(
            "act_first",
            Input,
            1,
            "first pass of the first K-tile: overwrite the accumulator entry instead of adding".into(),
        ),
        port(
            "act_last",
            Input,
            1,
            "last pass of the last K-tile: requantize the entry and send it to out_*".into(),
        ),
        port(
            "act_bypass",
            Input,
            1,
            "last layer: out_act is zero, read the raw acc + bias on out_raw".into(),
        ),
        port(
            "act_acc_addr",
            Input,
            widths.addr_bits,
            format!(
                "accumulator entry 0..{} (pixel m - m0 within the M-tile)",
                config.acc_depth - 1
            ),
        ),
        port(
            "act_slice_shift",
            Input,
            widths.slice_shift_bits,
            if widths.max_slice_shift > 0 {
                format!(
                    "0..={}: shift this vector's column sums left before accumulating (slice place value a*{a} + w*{w})",
                    widths.max_slice_shift
                )
            } else {
                "every layer fits the PEs (one pass); drive 0".into()
            },
        ),
        port(
            "out_valid",
            Output,
            1,
            "a result vector is on out_* (cycle t + latency for a vector with act_last)".into(),
        ),
        port("out_bypass", Output, 1, "the vector's act_bypass".into()),
        port(
            "out_acc_addr",
            Output,
            widths.addr_bits,
            "the vector's act_acc_addr".into(),
        ),
        port(
            "out_act",
            Output,
            cols * out,
            format!("{cols} x {out}-bit requantized activations; column c at [c*{out} +: {out}]"),
        ),
        port(
            "out_raw",
            Output,
            cols * bias,
            format!("{cols} x {bias}-bit signed acc + bias; column c at [c*{bias} +: {bias}]"),
        ),
    ]
}
