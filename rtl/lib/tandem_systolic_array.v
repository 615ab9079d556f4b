// tandem_systolic_array: ROWS x COLS weight-stationary MAC array with input
// skew and output de-skew.
//
// PE(r, c) holds W[n0 + c][k0 + r] (two banks, see tandem_pe). One activation
// vector (ROWS elements, element r = X[m][k0 + r]) enters per cycle. Row r is
// delayed by r cycles (input skew) so that, as activations move right one
// column per cycle and partial sums move down one row per cycle, PE(r, c)
// sees vector m at cycle u + r + c, where u is the cycle act_vector carries
// it. Column c's sum leaves the bottom row at u + ROWS + c and is delayed by
// COLS - 1 - c more cycles (output de-skew), so the whole COLS-wide vector of
// sums appears on column_sums together, ROWS + COLS - 1 cycles after the
// vector was on act_vector.
//
// Weight slices (see tandem_pe): with W_UNSIGNED_SLICES = 1 each row keeps
// one signedness bit per bank, written with the row's weights, so a row
// follows the same overwrite rule as its weights.
//
// Partial-sum widths grow down each column. The generator computes them
// (hwgen::design::Widths::psum_bits: row r carries the exact sum of r + 1
// products, capped at the accumulator width) and passes them in PSUM_BITS,
// one byte per row, row r at PSUM_BITS[r*8 +: 8]. When the cap binds
// (ACC_BITS = 32) sums wrap modulo 2^32, which the 32-bit requantizer
// tolerates.
`default_nettype none
module tandem_systolic_array #(
    // Required (no usable default): a missing override fails elaboration.
    parameter integer ROWS     = 0,
    parameter integer COLS     = 0,
    parameter integer A_BITS   = 0,
    parameter integer W_BITS   = 0,
    parameter integer W_UNSIGNED_SLICES = 2, // 0 or 1, see tandem_pe
    parameter integer ROW_BITS = 0, // width of a row index
    parameter integer SUM_BITS = 0, // width of a column sum (row ROWS-1's partial sum)
    parameter [8*ROWS-1:0] PSUM_BITS = 0 // per-row partial-sum widths, row r at [r*8 +: 8]
) (
    input  wire                     clk,
    // Weight write: one array row (COLS weights) per cycle into bank weight_wbank.
    // Column c's weight is weight_wdata[c*W_BITS +: W_BITS].
    input  wire                     weight_we,
    input  wire                     weight_wbank,
    input  wire [ROW_BITS-1:0]      weight_wrow,
    input  wire [COLS*W_BITS-1:0]   weight_wdata,
    input  wire                     weight_wsigned, // the row is signed (1) or an unsigned slice (0)
    // One activation vector per cycle; row r's element is act_vector[r*A_BITS +: A_BITS].
    input  wire [ROWS*A_BITS-1:0]   act_vector,
    input  wire                     act_bank,
    // De-skewed column sums; column c is column_sums[c*SUM_BITS +: SUM_BITS] (signed).
    output wire [COLS*SUM_BITS-1:0] column_sums
);
    // Parameter check (see tandem_delay_line).
    generate
        if (ROWS < 1 || COLS < 1 || A_BITS < 1 || W_BITS < 2 || ROW_BITS < 1
                || W_UNSIGNED_SLICES < 0 || W_UNSIGNED_SLICES > 1
                || (1 << ROW_BITS) < ROWS
                || SUM_BITS != {24'd0, PSUM_BITS[(ROWS-1)*8 +: 8]}) begin : gen_bad_parameters
            tandem_systolic_array_needs_SUM_BITS_equal_to_the_last_row_of_PSUM_BITS u_error ();
        end
    endgenerate

    generate
        if (W_UNSIGNED_SLICES == 0) begin : gen_no_slices
            // Waiver: every weight is signed in this configuration.
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_wsigned = weight_wsigned;
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate

    genvar r, c;
    generate
        for (r = 0; r < ROWS; r = r + 1) begin : gen_row
            // Row r adds the (r+1)-th product to the partial sum of row r-1.
            localparam integer PSUM_OUT_BITS = {24'd0, PSUM_BITS[r*8 +: 8]};
            localparam integer PSUM_ABOVE    = {24'd0, PSUM_BITS[((r > 0) ? r - 1 : 0)*8 +: 8]};
            localparam integer PSUM_IN_BITS  = (r > 0) ? PSUM_ABOVE : A_BITS + W_BITS + W_UNSIGNED_SLICES;

            // ---- input skew: delay row r by r cycles, bank bit included ----
            wire [A_BITS-1:0] skewed_act;
            wire              skewed_bank;
            if (r == 0) begin : gen_no_skew
                assign skewed_act  = act_vector[A_BITS-1:0];
                assign skewed_bank = act_bank;
            end else begin : gen_skew
                tandem_delay_line #(
                    .WIDTH(A_BITS + 1),
                    .DEPTH(r)
                ) u_skew (
                    .clk     (clk),
                    .rst_n   (1'b1),  // data only: no reset needed
                    .in_data ({act_bank, act_vector[r*A_BITS +: A_BITS]}),
                    .out_data({skewed_bank, skewed_act})
                );
            end

            // ---- the row's signedness bit per bank ----
            wire [1:0] row_signed;
            if (W_UNSIGNED_SLICES == 1) begin : gen_signed_bits
                reg [1:0] signed_banks;
                // Not reset, like the weights: written with every row load.
                always @(posedge clk) begin
                    if (weight_we && weight_wrow == r) signed_banks[weight_wbank] <= weight_wsigned;
                end
                assign row_signed = signed_banks;
            end else begin : gen_always_signed
                assign row_signed = 2'b11;
            end

            // Horizontal links: column c reads link c and drives link c + 1.
            // The links past the last column leave the array unused; they are
            // the rightmost PEs' forwarding registers.
            /* verilator lint_off UNUSEDSIGNAL */
            wire [(COLS+1)*A_BITS-1:0] act_link;
            wire [COLS:0]              bank_link;
            /* verilator lint_on UNUSEDSIGNAL */
            assign act_link[A_BITS-1:0] = skewed_act;
            assign bank_link[0]         = skewed_bank;

            // This row's registered partial sums, column c at [c*PSUM_OUT_BITS +: PSUM_OUT_BITS].
            wire [COLS*PSUM_OUT_BITS-1:0] psum_row;

            for (c = 0; c < COLS; c = c + 1) begin : gen_col
                wire [PSUM_IN_BITS-1:0] psum_above;
                if (r == 0) begin : gen_top_row
                    assign psum_above = {PSUM_IN_BITS{1'b0}};
                end else begin : gen_inner_row
                    assign psum_above = gen_row[r-1].psum_row[c*PSUM_IN_BITS +: PSUM_IN_BITS];
                end

                tandem_pe #(
                    .A_BITS           (A_BITS),
                    .W_BITS           (W_BITS),
                    .W_UNSIGNED_SLICES(W_UNSIGNED_SLICES),
                    .PSUM_IN_BITS     (PSUM_IN_BITS),
                    .PSUM_OUT_BITS    (PSUM_OUT_BITS)
                ) u_pe (
                    .clk          (clk),
                    .weight_we    (weight_we && (weight_wrow == r)),
                    .weight_wbank (weight_wbank),
                    .weight_wdata (weight_wdata[c*W_BITS +: W_BITS]),
                    .weight_signed(row_signed),
                    .act_in      (act_link[c*A_BITS +: A_BITS]),
                    .bank_in     (bank_link[c]),
                    .psum_in     (psum_above),
                    .act_out     (act_link[(c+1)*A_BITS +: A_BITS]),
                    .bank_out    (bank_link[c+1]),
                    .psum_out    (psum_row[c*PSUM_OUT_BITS +: PSUM_OUT_BITS])
                );
            end
        end

        // ---- output de-skew: delay column c by COLS - 1 - c cycles ----
        for (c = 0; c < COLS; c = c + 1) begin : gen_deskew
            localparam integer DELAY = COLS - 1 - c;
            wire [SUM_BITS-1:0] bottom_sum = gen_row[ROWS-1].psum_row[c*SUM_BITS +: SUM_BITS];
            if (DELAY == 0) begin : gen_no_delay
                assign column_sums[c*SUM_BITS +: SUM_BITS] = bottom_sum;
            end else begin : gen_delay
                tandem_delay_line #(
                    .WIDTH(SUM_BITS),
                    .DEPTH(DELAY)
                ) u_deskew (
                    .clk     (clk),
                    .rst_n   (1'b1),  // data only: no reset needed
                    .in_data (bottom_sum),
                    .out_data(column_sums[c*SUM_BITS +: SUM_BITS])
                );
            end
        end
    endgenerate
endmodule
`default_nettype wire
