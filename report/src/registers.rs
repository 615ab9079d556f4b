//! The flip-flops of a generated design, module by module, derived from its
//! resolved [`Design`]: the register list the activity model prices.
//!
//! Each entry names the RTL register it stands for, so the list reads
//! against `rtl/lib/*.v`. A test synthesizes designs with yosys and checks
//! every module's flip-flop count against [`RegisterInventory::module_bits`],
//! so the energy model cannot drift from the RTL. Simulation-only registers
//! (the protocol checks under `ifndef SYNTHESIS`) are not hardware and are
//! not listed.

use hwgen::Design;
use serde::Serialize;

/// What a register does per unit of work: the activity model counts each
/// role per vector, per tile or per output vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Clocked by every activation vector (input, skew, PE activations and
    /// bank bits, the control that travels with the vector).
    Activation,
    /// Clocked by every vector on the partial-sum path (PE sums, de-skew).
    Psum,
    /// Weight registers, two banks: a tile load writes one bank.
    WeightBank,
    /// The weight-write input register: written once per array row loaded.
    WeightInput,
    /// Requantizer parameter registers, two banks: a tile writes one bank.
    ParamBank,
    /// The parameter-write input registers: written once per tile.
    ParamInput,
    /// Accumulator entries: a vector reads and writes one entry per column.
    AccEntries,
    /// The accumulator's registered result, every vector.
    AccOut,
    /// Result-stage and output registers: every output vector.
    Result,
    /// Bank pointer and strobes, clocked every cycle (not priced).
    Control,
}

/// One register (or register file) of one module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Register {
    /// The RTL module.
    pub module: &'static str,
    /// The register's name in the RTL.
    pub name: &'static str,
    pub role: Role,
    /// Bits of one instance.
    pub bits: u64,
    /// Instances in the whole design.
    pub instances: u64,
}

impl Register {
    /// Flip-flops over all instances.
    pub fn total_bits(&self) -> u64 {
        self.bits * self.instances
    }
}

/// Every register of a design.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterInventory {
    pub registers: Vec<Register>,
}

impl RegisterInventory {
    /// The registers of `design`, as `rtl/lib/*.v` declares them.
    pub fn of(design: &Design) -> RegisterInventory {
        let mut registers = core_registers(design);
        registers.extend(array_registers(design));
        registers.extend(accumulator_registers(design));
        RegisterInventory { registers }
    }

    /// Flip-flops of `module` over all its instances.
    pub fn module_bits(&self, module: &str) -> u64 {
        self.registers
            .iter()
            .filter(|r| r.module == module)
            .map(Register::total_bits)
            .sum()
    }

    /// Flip-flops with `role`, whole design.
    pub fn role_bits(&self, role: Role) -> u64 {
        self.registers
            .iter()
            .filter(|r| r.role == role)
            .map(Register::total_bits)
            .sum()
    }

    /// The modules with registers, in first-listed order.
    pub fn modules(&self) -> Vec<&'static str> {
        let mut modules: Vec<&'static str> = Vec::new();
        for register in &self.registers {
            if !modules.contains(&register.module) {
                modules.push(register.module);
            }
        }
        modules
    }
}

fn register(module: &'static str, name: &'static str, role: Role, bits: u64) -> Register {
    Register {
        module,
        name,
        role,
        bits,
        instances: 1,
    }
}

/// `tandem_core`: input registers, parameter banks, result and output stage.
fn core_registers(design: &Design) -> Vec<Register> {
    let config = &design.config;
    let widths = &design.widths;
    let (rows, cols) = (u64::from(config.rows), u64::from(config.cols));
    let (a, w) = (u64::from(config.a_bits), u64::from(config.w_bits));
    // out_act columns are as wide as the widest layer output, which may
    // differ from the PEs' native activation width.
    let out_a = u64::from(widths.out_a_bits);
    let (bias, shift) = (u64::from(widths.bias_bits), u64::from(widths.shift_bits));
    let (out_bits, addr) = (u64::from(widths.out_bits_bits), u64::from(widths.addr_bits));
    let meta = u64::from(widths.meta_bits);
    let core = |name, role, bits| register("tandem_core", name, role, bits);
    vec![
        core("active_bank", Role::Control, 1),
        core("shadow_bank_q", Role::Control, 1),
        core("wload_valid_q", Role::Control, 1),
        core("prm_valid_q", Role::Control, 1),
        core("wload_row_q", Role::WeightInput, u64::from(widths.row_bits)),
        core("wload_data_q", Role::WeightInput, cols * w),
        // Present whether or not the PEs take unsigned slices (the array
        // ignores it then, but it is a port of the array instance).
        core("wload_signed_q", Role::WeightInput, 1),
        core("prm_bias_q", Role::ParamInput, cols * bias),
        core("prm_shift_q", Role::ParamInput, cols * shift),
        core("prm_out_bits_q", Role::ParamInput, out_bits),
        core("act_valid_q", Role::Activation, 1),
        core("act_data_q", Role::Activation, rows * a),
        // bank, first, last, bypass, act_slice_shift, address.
        core("act_meta_q", Role::Activation, meta),
        core("bias_bank0/1", Role::ParamBank, 2 * cols * bias),
        core("shift_bank0/1", Role::ParamBank, 2 * cols * shift),
        core("out_bits_bank0/1", Role::ParamBank, 2 * out_bits),
        core("res_valid, res_bank, res_bypass", Role::Result, 3),
        core("res_addr", Role::Result, addr),
        core("out_valid, out_bypass", Role::Result, 2),
        core("out_acc_addr", Role::Result, addr),
        core("out_act", Role::Result, cols * out_a),
        core("out_raw", Role::Result, cols * bias),
    ]
}

/// The PEs, the array's per-row signedness bits and every delay line
/// (input skew, output de-skew, the control pipe of `tandem_core`).
fn array_registers(design: &Design) -> Vec<Register> {
    let config = &design.config;
    let widths = &design.widths;
    let (rows, cols) = (u64::from(config.rows), u64::from(config.cols));
    let (a, w) = (u64::from(config.a_bits), u64::from(config.w_bits));
    let psum: u64 = widths.psum_bits.iter().map(|&b| u64::from(b)).sum();
    let triangle = |n: u64| n * n.saturating_sub(1) / 2; // 0 + 1 + ... + (n-1)
    let pipe_depth = rows + cols - 1;
    let pe = |name, role, bits, instances| Register {
        module: "tandem_pe",
        name,
        role,
        bits,
        instances,
    };
    let line = |name, role, bits| register("tandem_delay_line", name, role, bits);
    let mut registers = Vec::new();
    if widths.unsigned_weight_slices {
        // gen_row[r].gen_signed_bits: one signedness bit per bank and array
        // row, written with the row's weights (W_UNSIGNED_SLICES = 1 only).
        registers.push(Register {
            module: "tandem_systolic_array",
            name: "signed_banks",
            role: Role::WeightBank,
            bits: 2,
            instances: rows,
        });
    }
    registers.extend([
        pe("weight_bank0/1", Role::WeightBank, 2 * w, rows * cols),
        pe("act_out, bank_out", Role::Activation, a + 1, rows * cols),
        // Row r's PEs hold psum_bits[r] each: the sum over rows, per column.
        pe("psum_out", Role::Psum, psum, cols),
        line(
            "u_skew (row r: r stages of A_BITS + 1)",
            Role::Activation,
            (a + 1) * triangle(rows),
        ),
        line(
            "u_deskew (column c: COLS - 1 - c stages of SUM_BITS)",
            Role::Psum,
            u64::from(widths.sum_bits) * triangle(cols),
        ),
        line("u_valid_pipe", Role::Activation, pipe_depth),
        line(
            "u_meta_pipe",
            Role::Activation,
            u64::from(widths.meta_bits) * pipe_depth,
        ),
    ]);
    registers
}

/// One `tandem_acc_bank` per column.
fn accumulator_registers(design: &Design) -> Vec<Register> {
    let config = &design.config;
    let acc = u64::from(design.widths.acc_bits);
    let cols = u64::from(config.cols);
    let bank = |name, role, bits| Register {
        module: "tandem_acc_bank",
        name,
        role,
        bits,
        instances: cols,
    };
    vec![
        bank(
            "entries",
            Role::AccEntries,
            u64::from(config.acc_depth) * acc,
        ),
        bank("acc_out", Role::AccOut, acc),
    ]
}
