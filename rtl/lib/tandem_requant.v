// tandem_requant: one column's shift-only requantizer (combinational).
//
// Implements the integer contract (golden::contract::requantize):
//   hidden layer:  act = clamp((acc + bias + r) >>> shift, 0, 2^out_bits - 1)
//                  with r = 2^(shift-1) for shift > 0, else 0 (round half up)
//                  and >>> an arithmetic (floor) shift;
//   raw output:    raw = acc + bias, two's complement (the last layer's logit).
// In bypass mode `act` is forced to zero and only `raw` is meaningful.
//
// The sums are formed in BIAS_BITS = 32-bit two's complement, i.e. modulo
// 2^32. That is exact whenever the true acc + bias + r (hidden) or acc + bias
// (last layer) lies in the i32 range, which golden's model loader checks for
// every output channel of every layer. Working modulo 2^32 also makes a
// 32-bit accumulator that wrapped on a partial sum harmless: only the final
// sum has to fit.
`default_nettype none
module tandem_requant #(
    // Required (no usable default): a missing override fails elaboration.
    parameter integer OUT_A_BITS    = 0, // output activation width of the hardware (max_out_bits)
    parameter integer ACC_BITS      = 0, // accumulator width (<= BIAS_BITS)
    parameter integer SHIFT_BITS    = 0, // shift field width (shifts 0 .. 2^SHIFT_BITS - 1, at most 31)
    parameter integer BIAS_BITS     = 0, // bias, raw output and arithmetic width: the contract's 32
    parameter integer OUT_BITS_BITS = 0  // width of the out_bits field (holds OUT_A_BITS)
) (
    input  wire signed [ACC_BITS-1:0]      acc,
    input  wire signed [BIAS_BITS-1:0]     bias,
    input  wire        [SHIFT_BITS-1:0]    shift,
    input  wire        [OUT_BITS_BITS-1:0] out_bits, // layer output width, 1..OUT_A_BITS (larger acts as OUT_A_BITS, 0 clamps to 0)
    input  wire                            bypass,
    output wire        [OUT_A_BITS-1:0]    act,
    output wire        [BIAS_BITS-1:0]     raw
);
    // Parameter check (see tandem_delay_line). The modulo-2^32 argument above
    // needs exactly 32 bits.
    generate
        if (OUT_A_BITS < 1 || ACC_BITS < 2 || ACC_BITS > BIAS_BITS || BIAS_BITS != 32
                || SHIFT_BITS < 1 || SHIFT_BITS > 5 || OUT_BITS_BITS < 1
                || (1 << OUT_BITS_BITS) <= OUT_A_BITS) begin : gen_bad_parameters
            tandem_requant_needs_BIAS_BITS_32_and_an_OUT_BITS_field_that_holds_OUT_A_BITS u_error ();
        end
    endgenerate

    // OUT_A_BITS as an out_bits-wide constant, to compare with out_bits at equal widths.
    localparam [OUT_BITS_BITS-1:0] OUT_A_BITS_FIELD = OUT_A_BITS[OUT_BITS_BITS-1:0];

    // Sign-extend (see tandem_pe for why the sign bit is replicated OUT-IN+1 times).
    wire signed [BIAS_BITS-1:0] acc_wide = {
        {(BIAS_BITS - ACC_BITS + 1){acc[ACC_BITS-1]}}, acc[ACC_BITS-2:0]
    };
    wire signed [BIAS_BITS-1:0] acc_plus_bias = acc_wide + bias;

    // r = (1 << shift) >> 1: 2^(shift-1) for shift > 0 and 0 for shift = 0.
    wire        [BIAS_BITS-1:0] one     = {{(BIAS_BITS - 1){1'b0}}, 1'b1};
    wire        [BIAS_BITS-1:0] half    = (one << shift) >> 1;
    wire signed [BIAS_BITS-1:0] rounded = acc_plus_bias + $signed(half);
    wire signed [BIAS_BITS-1:0] shifted = rounded >>> shift;

    // Clamp bound 2^out_bits - 1, saturating at the hardware's OUT_A_BITS.
    wire [OUT_A_BITS-1:0] all_ones = {OUT_A_BITS{1'b1}};
    wire [OUT_A_BITS-1:0] act_max  = (out_bits >= OUT_A_BITS_FIELD) ? all_ones : ~(all_ones << out_bits);

    wire negative  = shifted[BIAS_BITS-1];
    wire above_max = $unsigned(shifted) > {{(BIAS_BITS - OUT_A_BITS){1'b0}}, act_max};

    assign act = (bypass || negative) ? {OUT_A_BITS{1'b0}}
               : above_max ? act_max
               : shifted[OUT_A_BITS-1:0];
    assign raw = acc_plus_bias;
endmodule
`default_nettype wire
