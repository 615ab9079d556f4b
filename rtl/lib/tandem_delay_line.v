// tandem_delay_line: a DEPTH-stage shift register of WIDTH-bit words.
//
// Used for the array's input skew and output de-skew and for the control
// bits that travel alongside a vector. Data-only lines tie rst_n high, so
// synthesis builds them without reset logic; control lines whose contents
// must be known after reset (valid bits) connect the real reset.
`default_nettype none
module tandem_delay_line #(
    // Required (no usable default): a missing override fails elaboration.
    parameter integer WIDTH = 0, // bits per word (>= 1)
    parameter integer DEPTH = 0  // stages (>= 1); out_data = in_data delayed by DEPTH cycles
) (
    input  wire             clk,
    input  wire             rst_n,   // synchronous, active low: clears every stage
    input  wire [WIDTH-1:0] in_data,
    output wire [WIDTH-1:0] out_data
);
    // Parameter check: when a parameter is missing or bad, this instantiates
    // a module that does not exist, which stops elaboration in all three
    // tools (Icarus, yosys and Verilator) with the module's name as message.
    generate
        if (WIDTH < 1 || DEPTH < 1) begin : gen_bad_parameters
            tandem_delay_line_needs_WIDTH_and_DEPTH_of_at_least_1 u_error ();
        end
    endgenerate

    generate
        if (DEPTH == 1) begin : gen_single
            reg [WIDTH-1:0] stage;
            always @(posedge clk) stage <= rst_n ? in_data : {WIDTH{1'b0}};
            assign out_data = stage;
        end else begin : gen_chain
            // Stage i is chain[i*WIDTH +: WIDTH]; stage 0 holds the newest word.
            reg [WIDTH*DEPTH-1:0] chain;
            always @(posedge clk) begin
                chain <= rst_n ? {chain[WIDTH*(DEPTH-1)-1:0], in_data} : {WIDTH*DEPTH{1'b0}};
            end
            assign out_data = chain[WIDTH*(DEPTH-1) +: WIDTH];
        end
    endgenerate
endmodule
`default_nettype wire
