// tandem_core: the complete accelerator datapath and its host interface.
//
// Pipeline of one activation vector presented on the act_* port in cycle t:
//   t                  port sampled into the input registers
//   t+1 .. t+R+C-1     systolic array (input skew, R rows, C columns, de-skew)
//   t+R+C              accumulator banks: first K-tile overwrites, later add
//   t+R+C+1            requantizers (bias, round, shift, clamp / bypass)
//   t+R+C+2            out_* ports valid (only for vectors with act_last)
// so LATENCY = ROWS + COLS + 2 cycles. See docs/hardware.md for the schedule.
//
// A layer wider than the PEs runs in operand-slice passes (docs/hardware.md,
// "Operand slices"): the host streams each weight slice's tile and, per
// tile, every activation slice of the pixels; each vector's act_slice_shift
// places its column sums in the accumulator, so the requantizer sees the
// layer's full-precision sum.
//
// Every input port is registered once here, so every host action takes effect
// at the following clock edge and no input drives deep logic directly.
//
// Every parameter is required and set by the generated tandem_top: the
// generator (hwgen::design::Widths) computes each derived width once and
// passes it down, so the RTL, the simulation driver and the reports cannot
// disagree about a width.
`default_nettype none
module tandem_core #(
    parameter integer ROWS          = 0, // K rows of a weight tile
    parameter integer COLS          = 0, // output channels of a weight tile
    parameter integer A_BITS        = 0, // unsigned activation (slice) width of a PE
    parameter integer W_BITS        = 0, // weight (slice) width of a PE
    parameter integer W_UNSIGNED_SLICES = 2, // 1: weights may be unsigned lower slices (wload_signed)
    parameter integer OUT_A_BITS    = 0, // output activation width (widest layer output)
    parameter integer ACC_BITS      = 0, // accumulator bank width (<= 32)
    parameter integer SHIFT_BITS    = 0, // requantizer shift field width (1..5)
    parameter integer ACC_DEPTH     = 0, // accumulator entries per column
    parameter integer ROW_BITS      = 0, // wload_row width
    parameter integer ADDR_BITS     = 0, // accumulator address width
    parameter integer SUM_BITS      = 0, // column-sum width (last row of PSUM_BITS)
    parameter integer SLICE_SHIFT_BITS = 0, // act_slice_shift width
    parameter integer MAX_SLICE_SHIFT  = -1, // largest act_slice_shift (0: every layer in one pass)
    parameter integer META_BITS     = 0, // per-vector control: bank, first, last, bypass, slice shift, address
    parameter integer BIAS_BITS     = 0, // bias / raw output width (32)
    parameter integer OUT_BITS_BITS = 0, // prm_out_bits width
    parameter [8*ROWS-1:0] PSUM_BITS = 0 // per-row partial-sum widths, row r at [r*8 +: 8]
) (
    input  wire                       clk,
    input  wire                       rst_n,        // synchronous, active low

    // ---- weight load into the shadow bank, one array row per cycle ----
    input  wire                       wload_valid,
    input  wire [ROW_BITS-1:0]        wload_row,    // array row r (K offset within the tile)
    input  wire [COLS*W_BITS-1:0]     wload_data,   // column c: [c*W_BITS +: W_BITS]
    input  wire                       wload_signed, // the row's weights are signed (1) or unsigned slices (0)
    input  wire                       wswap,        // shadow becomes active for vectors from the next cycle on

    // ---- per-tile requantizer parameters into the shadow bank, one cycle ----
    input  wire                       prm_valid,
    input  wire [COLS*BIAS_BITS-1:0]  prm_bias,     // column c: [c*BIAS_BITS +: BIAS_BITS], signed
    input  wire [COLS*SHIFT_BITS-1:0] prm_shift,    // column c: [c*SHIFT_BITS +: SHIFT_BITS]
    input  wire [OUT_BITS_BITS-1:0]   prm_out_bits, // layer output activation width, 1..OUT_A_BITS

    // ---- activation vectors, one per cycle ----
    input  wire                       act_valid,
    input  wire [ROWS*A_BITS-1:0]     act_data,     // row r: [r*A_BITS +: A_BITS], unsigned
    input  wire                       act_first,    // first K-tile: overwrite the accumulator
    input  wire                       act_last,     // last K-tile: requantize and output
    input  wire                       act_bypass,   // output raw acc + bias (last layer)
    input  wire [ADDR_BITS-1:0]       act_acc_addr, // accumulator entry (pixel within the M-tile)
    input  wire [SLICE_SHIFT_BITS-1:0] act_slice_shift, // left shift of this vector's column sums

    // ---- results, one COLS-wide vector per cycle ----
    output reg                        out_valid,
    output reg                        out_bypass,
    output reg  [ADDR_BITS-1:0]       out_acc_addr,
    output reg  [COLS*OUT_A_BITS-1:0] out_act,      // column c: [c*OUT_A_BITS +: OUT_A_BITS], unsigned
    output reg  [COLS*BIAS_BITS-1:0]  out_raw       // column c: [c*BIAS_BITS +: BIAS_BITS], signed acc + bias
);
    // Cycles from the input registers to the accumulator stage.
    localparam integer ARRAY_DELAY = ROWS + COLS - 1;

    // Parameter check (see tandem_delay_line); the leaf modules check theirs.
    generate
        if (ROWS < 1 || COLS < 1 || ACC_DEPTH < 1 || META_BITS != 4 + SLICE_SHIFT_BITS + ADDR_BITS
                || BIAS_BITS < 1 || OUT_BITS_BITS < 1 || OUT_A_BITS < 1) begin : gen_bad_parameters
            tandem_core_needs_every_parameter_set_by_tandem_top u_error ();
        end
    endgenerate

    // =========================================================================
    // Bank pointer. Vectors presented while active_bank = b use weight and
    // parameter bank b; host writes go to the other (shadow) bank.
    // =========================================================================
    reg active_bank;
    always @(posedge clk) begin
        if (!rst_n) active_bank <= 1'b0;
        else if (wswap) active_bank <= ~active_bank;
    end

    // =========================================================================
    // Input registers.
    // =========================================================================
    // The shadow bank at the edge a write was sampled: weight and parameter
    // writes of the same cycle always target the same bank, so one register
    // serves both.
    reg                   shadow_bank_q;

    reg                   wload_valid_q;
    reg [ROW_BITS-1:0]    wload_row_q;
    reg [COLS*W_BITS-1:0] wload_data_q;
    reg                   wload_signed_q;

    reg                       prm_valid_q;
    reg [COLS*BIAS_BITS-1:0]  prm_bias_q;
    reg [COLS*SHIFT_BITS-1:0] prm_shift_q;
    reg [OUT_BITS_BITS-1:0]   prm_out_bits_q;

    reg                   act_valid_q;
    reg [ROWS*A_BITS-1:0] act_data_q;
    reg [META_BITS-1:0]   act_meta_q;

    always @(posedge clk) begin
        if (!rst_n) begin
            wload_valid_q <= 1'b0;
            prm_valid_q   <= 1'b0;
            act_valid_q   <= 1'b0;
        end else begin
            wload_valid_q <= wload_valid;
            prm_valid_q   <= prm_valid;
            act_valid_q   <= act_valid;
        end
        shadow_bank_q  <= ~active_bank;
        wload_row_q    <= wload_row;
        wload_data_q   <= wload_data;
        wload_signed_q <= wload_signed;
        prm_bias_q     <= prm_bias;
        prm_shift_q    <= prm_shift;
        prm_out_bits_q <= prm_out_bits;
        act_data_q     <= act_data;
        act_meta_q     <= {active_bank, act_first, act_last, act_bypass, act_slice_shift, act_acc_addr};
    end

    // =========================================================================
    // Requantizer parameter banks (double-buffered like the weights).
    // =========================================================================
    reg [COLS*BIAS_BITS-1:0]  bias_bank0, bias_bank1;
    reg [COLS*SHIFT_BITS-1:0] shift_bank0, shift_bank1;
    reg [OUT_BITS_BITS-1:0]   out_bits_bank0, out_bits_bank1;
    always @(posedge clk) begin
        if (prm_valid_q && !shadow_bank_q) begin
            bias_bank0     <= prm_bias_q;
            shift_bank0    <= prm_shift_q;
            out_bits_bank0 <= prm_out_bits_q;
        end
        if (prm_valid_q && shadow_bank_q) begin
            bias_bank1     <= prm_bias_q;
            shift_bank1    <= prm_shift_q;
            out_bits_bank1 <= prm_out_bits_q;
        end
    end

    // =========================================================================
    // Systolic array.
    // =========================================================================
    wire [COLS*SUM_BITS-1:0] column_sums;
    tandem_systolic_array #(
        .ROWS             (ROWS),
        .COLS             (COLS),
        .A_BITS           (A_BITS),
        .W_BITS           (W_BITS),
        .W_UNSIGNED_SLICES(W_UNSIGNED_SLICES),
        .ROW_BITS         (ROW_BITS),
        .SUM_BITS         (SUM_BITS),
        .PSUM_BITS        (PSUM_BITS)
    ) u_array (
        .clk           (clk),
        .weight_we     (wload_valid_q),
        .weight_wbank  (shadow_bank_q),
        .weight_wrow   (wload_row_q),
        .weight_wdata  (wload_data_q),
        .weight_wsigned(wload_signed_q),
        .act_vector  (act_data_q),
        .act_bank    (act_meta_q[META_BITS-1]),
        .column_sums (column_sums)
    );

    // =========================================================================
    // Control delay line: the vector's valid bit and metadata reach the
    // accumulator stage in the same cycle as its column sums.
    // =========================================================================
    wire                 acc_valid;
    wire [META_BITS-1:0] acc_meta;
    tandem_delay_line #(
        .WIDTH(1),
        .DEPTH(ARRAY_DELAY)
    ) u_valid_pipe (
        .clk     (clk),
        .rst_n   (rst_n),
        .in_data (act_valid_q),
        .out_data(acc_valid)
    );
    tandem_delay_line #(
        .WIDTH(META_BITS),
        .DEPTH(ARRAY_DELAY)
    ) u_meta_pipe (
        .clk     (clk),
        .rst_n   (1'b1),  // data only: qualified by acc_valid
        .in_data (act_meta_q),
        .out_data(acc_meta)
    );
    wire                 acc_bank   = acc_meta[META_BITS-1];
    wire                 acc_first  = acc_meta[META_BITS-2];
    wire                 acc_last   = acc_meta[META_BITS-3];
    wire                 acc_bypass = acc_meta[META_BITS-4];
    wire [SLICE_SHIFT_BITS-1:0] acc_shift = acc_meta[ADDR_BITS +: SLICE_SHIFT_BITS];
    wire [ADDR_BITS-1:0] acc_addr   = acc_meta[ADDR_BITS-1:0];

    // =========================================================================
    // Accumulator banks (one per column) and the result register stage.
    // =========================================================================
    wire [COLS*ACC_BITS-1:0] acc_result;
    reg                      res_valid;
    reg                      res_bank;
    reg                      res_bypass;
    reg [ADDR_BITS-1:0]      res_addr;
    always @(posedge clk) begin
        if (!rst_n) res_valid <= 1'b0;
        else res_valid <= acc_valid && acc_last;
        res_bank   <= acc_bank;
        res_bypass <= acc_bypass;
        res_addr   <= acc_addr;
    end

    // Parameters of the bank the vector was computed with.
    wire [COLS*BIAS_BITS-1:0]  res_bias     = res_bank ? bias_bank1 : bias_bank0;
    wire [COLS*SHIFT_BITS-1:0] res_shift    = res_bank ? shift_bank1 : shift_bank0;
    wire [OUT_BITS_BITS-1:0]   res_out_bits = res_bank ? out_bits_bank1 : out_bits_bank0;

    wire [COLS*OUT_A_BITS-1:0] requant_act;
    wire [COLS*BIAS_BITS-1:0] requant_raw;

    genvar c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : gen_column
            tandem_acc_bank #(
                .ACC_BITS  (ACC_BITS),
                .SUM_BITS  (SUM_BITS),
                .ACC_DEPTH (ACC_DEPTH),
                .ADDR_BITS (ADDR_BITS),
                .SHIFT_BITS(SLICE_SHIFT_BITS),
                .MAX_SHIFT (MAX_SLICE_SHIFT)
            ) u_acc_bank (
                .clk     (clk),
                .in_valid(acc_valid),
                .in_first(acc_first),
                .in_addr (acc_addr),
                .in_sum  (column_sums[c*SUM_BITS +: SUM_BITS]),
                .in_shift(acc_shift),
                .acc_out (acc_result[c*ACC_BITS +: ACC_BITS])
            );

            tandem_requant #(
                .OUT_A_BITS   (OUT_A_BITS),
                .ACC_BITS     (ACC_BITS),
                .SHIFT_BITS   (SHIFT_BITS),
                .BIAS_BITS    (BIAS_BITS),
                .OUT_BITS_BITS(OUT_BITS_BITS)
            ) u_requant (
                .acc     (acc_result[c*ACC_BITS +: ACC_BITS]),
                .bias    (res_bias[c*BIAS_BITS +: BIAS_BITS]),
                .shift   (res_shift[c*SHIFT_BITS +: SHIFT_BITS]),
                .out_bits(res_out_bits),
                .bypass  (res_bypass),
                .act     (requant_act[c*OUT_A_BITS +: OUT_A_BITS]),
                .raw     (requant_raw[c*BIAS_BITS +: BIAS_BITS])
            );
        end
    endgenerate

    // =========================================================================
    // Output registers.
    // =========================================================================
    always @(posedge clk) begin
        if (!rst_n) out_valid <= 1'b0;
        else out_valid <= res_valid;
        out_bypass   <= res_bypass;
        out_acc_addr <= res_addr;
        out_act      <= requant_act;
        out_raw      <= requant_raw;
    end

`ifndef SYNTHESIS
    // =========================================================================
    // Protocol checks, simulation only (yosys defines SYNTHESIS and skips
    // them; Verilator and Icarus run them). A violation prints an ERROR
    // line naming the rule and stops the simulation with $stop. The rules
    // are those of docs/hardware.md ("Protocol"); the canonical schedule
    // meets them by construction.
    // =========================================================================
    // 64-bit copies (the product with 64'd1 sizes the expression).
    localparam [63:0] ROWS_64 = 64'd1 * ROWS;
    localparam [63:0] COLS_64 = 64'd1 * COLS;
    reg [63:0] check_cycle;          // rising edges since reset
    reg [63:0] check_last_vector0;   // cycle of the last vector that used bank 0
    reg [63:0] check_last_vector1;   //   ... bank 1
    reg [1:0]  check_bank_used;      // a vector has used bank b since reset
    wire [63:0] check_row_64 = {{(64 - ROW_BITS){1'b0}}, wload_row};
    wire        check_shadow = ~active_bank;
    wire [63:0] check_shadow_last = check_shadow ? check_last_vector1 : check_last_vector0;
    wire        check_shadow_used = check_shadow ? check_bank_used[1] : check_bank_used[0];

    // Waiver: for some shapes a rule cannot be broken (a 1-bit prm_out_bits
    // on 1-bit hardware, say) and Verilator flags the always-false compare.
    /* verilator lint_off CMPCONST */
    always @(posedge clk) begin
        if (!rst_n) begin
            check_cycle     <= 64'd0;
            check_bank_used <= 2'b00;
        end else begin
            check_cycle <= check_cycle + 64'd1;
            if (act_valid) begin
                if (active_bank) check_last_vector1 <= check_cycle;
                else check_last_vector0 <= check_cycle;
                if (active_bank) check_bank_used[1] <= 1'b1;
                else check_bank_used[0] <= 1'b1;
                if ({{(32 - ADDR_BITS){1'b0}}, act_acc_addr} >= ACC_DEPTH) begin
                    $display("%m: ERROR: act_acc_addr = %0d must be below ACC_DEPTH = %0d (cycle %0d)",
                             act_acc_addr, ACC_DEPTH, check_cycle);
                    $stop;
                end
                if ({{(32 - SLICE_SHIFT_BITS){1'b0}}, act_slice_shift} > MAX_SLICE_SHIFT) begin
                    $display("%m: ERROR: act_slice_shift = %0d must be at most MAX_SLICE_SHIFT = %0d (cycle %0d)",
                             act_slice_shift, MAX_SLICE_SHIFT, check_cycle);
                    $stop;
                end
            end
            if (wload_valid) begin
                if ({{(32 - ROW_BITS){1'b0}}, wload_row} >= ROWS) begin
                    $display("%m: ERROR: wload_row = %0d must be below ROWS = %0d (cycle %0d)",
                             wload_row, ROWS, check_cycle);
                    $stop;
                end
                // Row r may overwrite the shadow bank from cycle t + C + r - 1 on,
                // t being the last vector that used it.
                if (check_shadow_used && check_cycle + 64'd1 < check_shadow_last + COLS_64 + check_row_64) begin
                    $display("%m: ERROR: weight row %0d written in cycle %0d, but a vector of cycle %0d still reads that bank: the slot is too short (rows must be written at least COLS + row - 1 = %0d cycles after the last vector of the bank)",
                             wload_row, check_cycle, check_shadow_last, COLS_64 + check_row_64 - 64'd1);
                    $stop;
                end
            end
            if (prm_valid) begin
                if (prm_out_bits == {OUT_BITS_BITS{1'b0}}
                        || {{(32 - OUT_BITS_BITS){1'b0}}, prm_out_bits} > OUT_A_BITS) begin
                    $display("%m: ERROR: prm_out_bits = %0d must be 1..%0d (cycle %0d)",
                             prm_out_bits, OUT_A_BITS, check_cycle);
                    $stop;
                end
                // Parameters may overwrite the shadow bank from cycle t + R + C on.
                if (check_shadow_used && check_cycle < check_shadow_last + ROWS_64 + COLS_64) begin
                    $display("%m: ERROR: parameters written in cycle %0d, but a vector of cycle %0d still reads that bank: the slot is too short (at least ROWS + COLS = %0d cycles)",
                             check_cycle, check_shadow_last, ROWS + COLS);
                    $stop;
                end
            end
        end
    end
    /* verilator lint_on CMPCONST */
`endif
endmodule
`default_nettype wire
