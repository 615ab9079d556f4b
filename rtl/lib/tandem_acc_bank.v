// tandem_acc_bank: one column's accumulator bank, ACC_DEPTH entries of
// ACC_BITS, below the systolic array.
//
// A GEMM whose K is larger than the array's ROWS is streamed as several
// K-tiles over the same output pixels. Entry `addr` holds the running sum for
// pixel m0 + addr: the first K-tile (in_first) overwrites it with the column
// sum, later K-tiles add to it. The bias is not stored here; the requantizer
// adds it in 32-bit two's complement, so ACC_BITS only has to hold the exact
// sum of products.
//
// Operand-slice passes: a layer wider than the PEs runs one pass per pair of
// activation and weight slices, and each pass's column sums are shifted left
// by the slices' place value (in_shift) before they are added, so the entry
// ends up holding the layer's full-precision sum. The adds work modulo
// 2^ACC_BITS; ACC_BITS holds the widest layer's exact sum, so the final
// value is exact even if an intermediate one wrapped.
//
// The entries are a register file with a combinational read: a
// read-modify-write completes in one cycle, so back-to-back vectors to the
// same entry need no forwarding. (An SRAM macro with a synchronous read
// would read one pipeline stage earlier; the address is known in time.)
`default_nettype none
module tandem_acc_bank #(
    // Required (no usable default): a missing override fails elaboration.
    parameter integer ACC_BITS  = 0, // accumulator width (>= SUM_BITS, <= 32)
    parameter integer SUM_BITS  = 0, // width of a column sum from the array
    parameter integer ACC_DEPTH = 0, // entries (output pixels per M-tile)
    parameter integer ADDR_BITS = 0, // entry index width (2^ADDR_BITS >= ACC_DEPTH)
    parameter integer SHIFT_BITS = 0, // in_shift width
    parameter integer MAX_SHIFT = -1  // largest in_shift (0: one pass, no shifter)
) (
    input  wire                       clk,
    input  wire                       in_valid, // a column sum arrives this cycle
    input  wire                       in_first, // first K-tile: overwrite instead of add
    input  wire [ADDR_BITS-1:0]       in_addr,
    input  wire signed [SUM_BITS-1:0] in_sum,
    input  wire [SHIFT_BITS-1:0]      in_shift, // the pass's slice place value
    // Registered: the updated entry, one cycle after in_valid.
    output reg  signed [ACC_BITS-1:0] acc_out
);
    // Parameter check (see tandem_delay_line).
    generate
        if (SUM_BITS < 2 || ACC_BITS < SUM_BITS || ACC_BITS > 32 || ACC_DEPTH < 1
                || ADDR_BITS < 1 || (1 << ADDR_BITS) < ACC_DEPTH
                || SHIFT_BITS < 1 || MAX_SHIFT < 0 || MAX_SHIFT >= ACC_BITS
                || (1 << SHIFT_BITS) <= MAX_SHIFT) begin : gen_bad_parameters
            tandem_acc_bank_needs_SUM_BITS_le_ACC_BITS_le_32_and_ADDR_BITS_for_ACC_DEPTH u_error ();
        end
    endgenerate

    reg signed [ACC_BITS-1:0] entries [0:ACC_DEPTH-1];

    // Sign-extend (see tandem_pe for why the sign bit is replicated OUT-IN+1 times).
    wire signed [ACC_BITS-1:0] sum_ext = {
        {(ACC_BITS - SUM_BITS + 1){in_sum[SUM_BITS-1]}}, in_sum[SUM_BITS-2:0]
    };
    wire signed [ACC_BITS-1:0] sum_placed;
    generate
        if (MAX_SHIFT > 0) begin : gen_shift
            assign sum_placed = sum_ext << in_shift;
        end else begin : gen_no_shift
            assign sum_placed = sum_ext;
            // Waiver: every layer runs in one pass, the shift is always 0.
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_shift = |in_shift;
            /* verilator lint_on UNUSEDSIGNAL */
        end
    endgenerate
    wire signed [ACC_BITS-1:0] acc_next = in_first ? sum_placed : entries[in_addr] + sum_placed;

    // Entries are not reset: the first K-tile always overwrites them.
    always @(posedge clk) begin
        if (in_valid) entries[in_addr] <= acc_next;
        acc_out <= acc_next;
    end
endmodule
`default_nettype wire
