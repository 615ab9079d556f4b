// tandem_pe: one processing element of the weight-stationary systolic array.
//
// Holds two weights (bank 0 and bank 1) so the host can load the next weight
// tile into one bank while the other computes. There is no per-PE swap pulse:
// every activation travels with a `bank` bit that says which weight it must
// meet. A global swap would corrupt the skewed vectors still in flight; the
// travelling bank bit switches each PE exactly when the first vector of the
// new tile reaches it.
//
// Each cycle the PE multiplies the incoming unsigned activation by the
// selected weight, adds the partial sum from the PE above, and registers the
// result (psum flows down) and the activation (flows right).
//
// Operand slices: a layer whose weights are wider than W_BITS runs in
// passes, one W_BITS-wide digit of each weight per pass; the lower digits
// are unsigned (0 .. 2^W_BITS - 1), the top digit is signed. With
// W_UNSIGNED_SLICES = 1 each bank carries a signedness bit (weight_signed,
// one per bank, set per array row) and the multiplier takes a W_BITS + 1-bit
// signed operand: the stored bits extended by the sign bit when signed, by
// zero when not. That costs one AND gate and one multiplier bit per PE; with
// W_UNSIGNED_SLICES = 0 (every layer's weights fit) the PE is the plain
// signed W_BITS-bit MAC.
`default_nettype none
module tandem_pe #(
    // Required (no usable default): a missing override fails elaboration.
    parameter integer A_BITS        = 0, // unsigned activation width
    parameter integer W_BITS        = 0, // weight (slice) width (>= 2)
    parameter integer W_UNSIGNED_SLICES = 2, // 1: weights may be unsigned slices (weight_signed), 0: always signed
    parameter integer PSUM_IN_BITS  = 0, // width of the partial sum from above
    parameter integer PSUM_OUT_BITS = 0  // width of this PE's partial sum (>= PSUM_IN_BITS, >= A_BITS + W_BITS)
) (
    input  wire                            clk,
    // Weight write: stores weight_wdata into bank weight_wbank at the clock edge.
    input  wire                            weight_we,
    input  wire                            weight_wbank,
    input  wire        [W_BITS-1:0]        weight_wdata,
    // Per bank: the bank's weight is signed (1) or an unsigned slice (0).
    // Ignored when W_UNSIGNED_SLICES = 0.
    input  wire        [1:0]               weight_signed,
    // Activation entering from the left and the weight bank it uses.
    input  wire        [A_BITS-1:0]        act_in,
    input  wire                            bank_in,
    // Partial sum from the PE above (zero for the top row).
    input  wire signed [PSUM_IN_BITS-1:0]  psum_in,
    // Registered outputs: activation and bank bit to the right, psum down.
    output reg         [A_BITS-1:0]        act_out,
    output reg                             bank_out,
    output reg  signed [PSUM_OUT_BITS-1:0] psum_out
);
    // The weight as a signed number: W_BITS bits, or W_BITS + 1 when it may
    // be an unsigned slice.
    localparam integer WEIGHT_BITS = W_BITS + W_UNSIGNED_SLICES;
    // An unsigned A-bit value times a signed WEIGHT_BITS-bit value fits
    // exactly in A+WEIGHT_BITS signed bits: |a*w| <= (2^A - 1) * 2^(WEIGHT_BITS-1).
    localparam integer PROD_BITS = A_BITS + WEIGHT_BITS;

    // Parameter check (see tandem_delay_line).
    generate
        if (A_BITS < 1 || W_BITS < 2 || W_UNSIGNED_SLICES < 0 || W_UNSIGNED_SLICES > 1
                || PSUM_IN_BITS < 2
                || PSUM_OUT_BITS < PSUM_IN_BITS || PSUM_OUT_BITS < PROD_BITS) begin : gen_bad_parameters
            tandem_pe_needs_PSUM_OUT_BITS_at_least_PSUM_IN_BITS_and_the_product_width u_error ();
        end
    endgenerate

    reg [W_BITS-1:0] weight_bank0;
    reg [W_BITS-1:0] weight_bank1;

    // Weights are not reset: the host always loads a tile before using it.
    always @(posedge clk) begin
        if (weight_we && !weight_wbank) weight_bank0 <= weight_wdata;
        if (weight_we && weight_wbank) weight_bank1 <= weight_wdata;
    end

    wire [W_BITS-1:0] weight = bank_in ? weight_bank1 : weight_bank0;

    // The weight's sign bit: its top bit when signed, zero for an unsigned slice.
    wire weight_sign;
    generate
        if (W_UNSIGNED_SLICES == 1) begin : gen_sliced
            assign weight_sign = weight[W_BITS-1] & weight_signed[bank_in];
        end else begin : gen_signed
            assign weight_sign = weight[W_BITS-1];
            // Waiver: weights are always signed in this configuration.
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_weight_signed = |weight_signed;
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate

    // Zero-extend the activation and sign-extend the weight to the product
    // width so the multiply is signed and every operand has the result width.
    wire signed [PROD_BITS-1:0] act_wide    = {{WEIGHT_BITS{1'b0}}, act_in};
    wire signed [PROD_BITS-1:0] weight_wide = {{(A_BITS + W_UNSIGNED_SLICES){weight_sign}}, weight};
    wire signed [PROD_BITS-1:0] product     = act_wide * weight_wide;

    // Sign-extend both addends to the output width. Replicating the sign bit
    // (OUT - IN + 1) times in front of the remaining IN - 1 bits keeps the
    // replication count >= 1, which Verilog-2005 requires, even when the
    // widths are equal.
    wire signed [PSUM_OUT_BITS-1:0] product_ext = {
        {(PSUM_OUT_BITS - PROD_BITS + 1){product[PROD_BITS-1]}}, product[PROD_BITS-2:0]
    };
    wire signed [PSUM_OUT_BITS-1:0] psum_in_ext = {
        {(PSUM_OUT_BITS - PSUM_IN_BITS + 1){psum_in[PSUM_IN_BITS-1]}}, psum_in[PSUM_IN_BITS-2:0]
    };

    always @(posedge clk) begin
        act_out  <= act_in;
        bank_out <= bank_in;
        psum_out <= psum_in_ext + product_ext;
    end
endmodule
`default_nettype wire
