//! The seeded random streams of a run.
//!
//! Everything random (initialization, batch order, augmentation) draws from
//! libtorch's process-wide generator. Each method reseeds it before it
//! starts, with `config.seed + stream offset`, so what one method draws does
//! not depend on whether another one ran: the student is the same byte for
//! byte with or without the QAT baseline.

/// A method that draws from its own stream. The offsets are part of the
/// results: changing one changes every run's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedStream {
    /// The teacher's initialization and batches (and the naive PTQ
    /// baseline after it, which draws nothing): `seed + 0`.
    Teacher,
    /// The all-at-once QAT baseline: `seed + 1`.
    Qat,
    /// The progressive student: stages and joint fine-tune, `seed + 2`.
    Student,
    /// The bit-width-progressive student: `seed + 3`.
    BitProgressive,
    /// The quantized BN teacher and its student: `seed + 4`.
    QuantizedTeacher,
}

impl SeedStream {
    /// What is added to the configured seed.
    pub fn offset(self) -> u64 {
        match self {
            SeedStream::Teacher => 0,
            SeedStream::Qat => 1,
            SeedStream::Student => 2,
            SeedStream::BitProgressive => 3,
            SeedStream::QuantizedTeacher => 4,
        }
    }

    /// libtorch's seed for this stream of a run seeded with `seed` (wrapping,
    /// so that no seed a user can write panics).
    pub fn torch_seed(self, seed: u64) -> i64 {
        (seed as i64).wrapping_add(self.offset() as i64)
    }

    /// Reseed libtorch's generator for this stream.
    pub fn start(self, seed: u64) {
        tch::manual_seed(self.torch_seed(seed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_keep_the_offsets_results_were_made_with() {
        assert_eq!(SeedStream::Teacher.torch_seed(7), 7);
        assert_eq!(SeedStream::Qat.torch_seed(7), 8);
        assert_eq!(SeedStream::Student.torch_seed(7), 9);
        assert_eq!(SeedStream::BitProgressive.torch_seed(7), 10);
        // The largest seeds wrap instead of overflowing.
        assert_eq!(SeedStream::Student.torch_seed(u64::MAX), 1);
    }
}
