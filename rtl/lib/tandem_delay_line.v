// tandem_delay_line: a DEPTH-stage shift register of WIDTH-bit words.
//
// Used for the array's input skew and output de-skew and for the control
// bits that travel alongside a vector. Data-only lines tie rst_n high, so
// synthesis builds them without reset logic; control lines whose contents
// must be known after reset (valid bits) connect the real reset.
module tandem_delay_line #(
    parameter integer WIDTH = 1, // bits per word
    parameter integer DEPTH = 1  // stages (>= 1); out_data = in_data delayed by DEPTH cycles
) (
    input  wire             clk,
    input  wire             rst_n,   // synchronous, active low: clears every stage
    input  wire [WIDTH-1:0] in_data,
    output wire [WIDTH-1:0] out_data
);
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
