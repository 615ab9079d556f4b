//! Which instruction set the GEMM kernels run on, detected at run time.

/// Instruction sets the fast path has kernels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isa {
    /// Plain Rust; any CPU.
    Portable,
    /// x86-64 AVX2: u8 x s8 multiply-add pairs (`vpmaddubsw`) summed in i16
    /// lanes where the layer's bounds allow, else i16 pairs (`vpmaddwd`).
    Avx2,
    /// x86-64 AVX-VNNI (VEX): u8 x s8 four-product dot into i32 (`vpdpbusd`).
    AvxVnni,
    /// x86-64 AVX-512 VNNI + VL: the same dot product, EVEX-encoded.
    Avx512Vnni,
}

impl Isa {
    /// The fastest instruction set this CPU has.
    pub fn detect() -> Isa {
        *Isa::available()
            .last()
            .expect("Portable is always available")
    }

    /// Every instruction set this CPU can run, slowest first.
    pub fn available() -> Vec<Isa> {
        let mut isas = vec![Isa::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") {
                isas.push(Isa::Avx2);
                if has!("avxvnni") {
                    isas.push(Isa::AvxVnni);
                }
                if has!("avx512vnni") && has!("avx512vl") {
                    isas.push(Isa::Avx512Vnni);
                }
            }
        }
        isas
    }

    pub fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::AvxVnni => "avx-vnni",
            Isa::Avx512Vnni => "avx512-vnni",
        }
    }

    /// Whether u8 x s8 products sum straight into i32 lanes (no saturating step).
    pub fn has_dot_u8(self) -> bool {
        matches!(self, Isa::Portable | Isa::AvxVnni | Isa::Avx512Vnni)
    }
}
