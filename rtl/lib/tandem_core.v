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
// Every input port is registered once here, so every host action takes effect
// at the following clock edge and no input drives deep logic directly.
module tandem_core #(
    parameter integer ROWS       = 4,   // K rows of a weight tile
    parameter integer COLS       = 4,   // output channels of a weight tile
    parameter integer A_BITS     = 8,   // unsigned activation width
    parameter integer W_BITS     = 8,   // signed weight width
    parameter integer ACC_BITS   = 20,  // accumulator bank width (<= 32)
    parameter integer SHIFT_BITS = 5,   // requantizer shift field width (1..5)
    parameter integer ACC_DEPTH  = 16,  // accumulator entries per column
    // Derived, do not override.
    parameter integer ROW_BITS   = (ROWS > 1) ? $clog2(ROWS) : 1,
    parameter integer ADDR_BITS  = (ACC_DEPTH > 1) ? $clog2(ACC_DEPTH) : 1
) (
    input  wire                       clk,
    input  wire                       rst_n,        // synchronous, active low

    // ---- weight load into the shadow bank, one array row per cycle ----
    input  wire                       wload_valid,
    input  wire [ROW_BITS-1:0]        wload_row,    // array row r (K offset within the tile)
    input  wire [COLS*W_BITS-1:0]     wload_data,   // column c: [c*W_BITS +: W_BITS], signed
    input  wire                       wswap,        // shadow becomes active for vectors from the next cycle on

    // ---- per-tile requantizer parameters into the shadow bank, one cycle ----
    input  wire                       prm_valid,
    input  wire [COLS*32-1:0]         prm_bias,     // column c: [c*32 +: 32], signed
    input  wire [COLS*SHIFT_BITS-1:0] prm_shift,    // column c: [c*SHIFT_BITS +: SHIFT_BITS]
    input  wire [4:0]                 prm_out_bits, // layer output activation width

    // ---- activation vectors, one per cycle ----
    input  wire                       act_valid,
    input  wire [ROWS*A_BITS-1:0]     act_data,     // row r: [r*A_BITS +: A_BITS], unsigned
    input  wire                       act_first,    // first K-tile: overwrite the accumulator
    input  wire                       act_last,     // last K-tile: requantize and output
    input  wire                       act_bypass,   // output raw acc + bias (last layer)
    input  wire [ADDR_BITS-1:0]       act_acc_addr, // accumulator entry (pixel within the M-tile)

    // ---- results, one COLS-wide vector per cycle ----
    output reg                        out_valid,
    output reg                        out_bypass,
    output reg  [ADDR_BITS-1:0]       out_acc_addr,
    output reg  [COLS*A_BITS-1:0]     out_act,      // column c: [c*A_BITS +: A_BITS], unsigned
    output reg  [COLS*32-1:0]         out_raw       // column c: [c*32 +: 32], signed acc + bias
);
    // Column-sum width: exact, or capped at ACC_BITS (see tandem_systolic_array).
    localparam integer EXACT_SUM_BITS = A_BITS + W_BITS + $clog2(ROWS);
    localparam integer SUM_BITS = (EXACT_SUM_BITS < ACC_BITS) ? EXACT_SUM_BITS : ACC_BITS;
    // Cycles from the input registers to the accumulator stage.
    localparam integer ARRAY_DELAY = ROWS + COLS - 1;
    // Per-vector control that travels alongside the data: {bank, first, last, bypass, addr}.
    localparam integer META_BITS = 4 + ADDR_BITS;

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
    reg                   wload_valid_q;
    reg [ROW_BITS-1:0]    wload_row_q;
    reg [COLS*W_BITS-1:0] wload_data_q;
    reg                   wload_bank_q;

    reg                       prm_valid_q;
    reg [COLS*32-1:0]         prm_bias_q;
    reg [COLS*SHIFT_BITS-1:0] prm_shift_q;
    reg [4:0]                 prm_out_bits_q;
    reg                       prm_bank_q;

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
        wload_row_q    <= wload_row;
        wload_data_q   <= wload_data;
        wload_bank_q   <= ~active_bank;
        prm_bias_q     <= prm_bias;
        prm_shift_q    <= prm_shift;
        prm_out_bits_q <= prm_out_bits;
        prm_bank_q     <= ~active_bank;
        act_data_q     <= act_data;
        act_meta_q     <= {active_bank, act_first, act_last, act_bypass, act_acc_addr};
    end

    // =========================================================================
    // Requantizer parameter banks (double-buffered like the weights).
    // =========================================================================
    reg [COLS*32-1:0]         bias_bank0, bias_bank1;
    reg [COLS*SHIFT_BITS-1:0] shift_bank0, shift_bank1;
    reg [4:0]                 out_bits_bank0, out_bits_bank1;
    always @(posedge clk) begin
        if (prm_valid_q && !prm_bank_q) begin
            bias_bank0     <= prm_bias_q;
            shift_bank0    <= prm_shift_q;
            out_bits_bank0 <= prm_out_bits_q;
        end
        if (prm_valid_q && prm_bank_q) begin
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
        .ROWS    (ROWS),
        .COLS    (COLS),
        .A_BITS  (A_BITS),
        .W_BITS  (W_BITS),
        .ACC_BITS(ACC_BITS)
    ) u_array (
        .clk         (clk),
        .weight_we   (wload_valid_q),
        .weight_wbank(wload_bank_q),
        .weight_wrow (wload_row_q),
        .weight_wdata(wload_data_q),
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
    wire [COLS*32-1:0]         res_bias     = res_bank ? bias_bank1 : bias_bank0;
    wire [COLS*SHIFT_BITS-1:0] res_shift    = res_bank ? shift_bank1 : shift_bank0;
    wire [4:0]                 res_out_bits = res_bank ? out_bits_bank1 : out_bits_bank0;

    wire [COLS*A_BITS-1:0] requant_act;
    wire [COLS*32-1:0]     requant_raw;

    genvar c;
    generate
        for (c = 0; c < COLS; c = c + 1) begin : gen_column
            tandem_acc_bank #(
                .ACC_BITS (ACC_BITS),
                .SUM_BITS (SUM_BITS),
                .ACC_DEPTH(ACC_DEPTH),
                .ADDR_BITS(ADDR_BITS)
            ) u_acc_bank (
                .clk     (clk),
                .in_valid(acc_valid),
                .in_first(acc_first),
                .in_addr (acc_addr),
                .in_sum  (column_sums[c*SUM_BITS +: SUM_BITS]),
                .acc_out (acc_result[c*ACC_BITS +: ACC_BITS])
            );

            tandem_requant #(
                .A_BITS    (A_BITS),
                .ACC_BITS  (ACC_BITS),
                .SHIFT_BITS(SHIFT_BITS)
            ) u_requant (
                .acc     (acc_result[c*ACC_BITS +: ACC_BITS]),
                .bias    (res_bias[c*32 +: 32]),
                .shift   (res_shift[c*SHIFT_BITS +: SHIFT_BITS]),
                .out_bits(res_out_bits),
                .bypass  (res_bypass),
                .act     (requant_act[c*A_BITS +: A_BITS]),
                .raw     (requant_raw[c*32 +: 32])
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
endmodule
