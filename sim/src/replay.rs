//! Recording a model's port values and replaying them: the stimulus a Rust driver applied,
//! cycle by cycle, replayed on the same verilated model through the bridge
//! ([`replay_on_bridge`]) or by a plain C++ Verilator testbench ([`PlainTestbench`]), with
//! every output compared against the recording.
//!
//! [`crate::Sim::record_to`] starts a recording on a fresh model. From then on each
//! [`crate::Sim::eval`] and [`crate::Sim::step`] call appends one record: the values of the
//! input ports just before the call (those that changed since the previous record) and the
//! values of the output ports just after it (likewise). The replay starts from a fresh model
//! too, so it sees exactly the same state, and must reproduce every recorded output value;
//! that is what makes a plain testbench's timing comparable with the bridge's: same design,
//! same stimulus, same behaviour. Off (the default), the hook costs one branch per
//! `eval` / `step` call.
//!
//! # File format (version 1, little-endian)
//! ```text
//! "TNDMREC1"                      8 bytes
//! u32 layout length L, then L bytes of layout text (see below), zero-padded to 4 bytes
//! records, each a sequence of u32 words:
//!   op                            0..=0xFFFF_FFFD: step(op); 0xFFFF_FFFE: eval
//!   input mask                    ceil(inputs / 32) words; bit i: input i follows
//!   the words of those inputs     in port order, ceil(width / 32) words each
//!   output mask                   ceil(outputs / 32) words; bit i: output i follows
//!   the words of those outputs
//! end: u32 0xFFFF_FFFF, u32 0, u64 records, u64 rising edges (cycles)
//! ```
//! The first record lists every port. The layout text names the top module and every port,
//! inputs (and inouts, which are recorded as inputs) first, then outputs, each sorted by name,
//! as `in <name> <width> <storage>` / `out ...` lines; ports are recorded in that order. A
//! replay refuses a recording whose layout differs from its model's (another build of the same
//! design, e.g. with `--threads`, has the same layout). A `step(n)` with `n` above
//! `0xFFFF_FFFD` is recorded as several records. A call that fails (`$fatal`, `$stop`) is not
//! recorded and ends the recording.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::ports::{Direction, PortInfo, Storage};
use crate::{SimError, VerilatedLib};

pub use crate::build::testbench::{PlainObjects, PlainTestbench};

/// File magic (and format version).
pub(crate) const MAGIC: &[u8; 8] = b"TNDMREC1";
/// Record op of an `eval` call.
pub(crate) const OP_EVAL: u32 = 0xFFFF_FFFE;
/// End-of-recording marker.
pub(crate) const OP_END: u32 = 0xFFFF_FFFF;
/// The most rising edges one record holds.
pub(crate) const MAX_STEP: u64 = 0xFFFF_FFFD;

/// Whether a port is recorded as an input (written by the testbench before each call).
pub(crate) fn is_input(port: &PortInfo) -> bool {
    port.direction != Direction::Output
}

/// The layout text of a design's ports (see the module docs).
pub(crate) fn layout(top: &str, ports: &[PortInfo]) -> String {
    let mut text = format!("tandem-replay 1\ntop {top}\n");
    let (inputs, outputs) = split_ports(ports);
    let storage = |s: Storage| match s {
        Storage::U8 => "u8".to_string(),
        Storage::U16 => "u16".to_string(),
        Storage::U32 => "u32".to_string(),
        Storage::U64 => "u64".to_string(),
        Storage::Wide(n) => format!("w{n}"),
    };
    for (tag, group) in [("in", inputs), ("out", outputs)] {
        for p in group.into_iter().map(|i| &ports[i]) {
            text.push_str(&format!(
                "{tag} {} {} {}\n",
                p.name,
                p.width,
                storage(p.storage)
            ));
        }
    }
    text
}

/// Indices (into the header's port list) of the recorded inputs, then of the outputs, each
/// sorted by name: Verilator's header order differs between builds of one design (with and
/// without `--threads`, say), the recording's order does not.
pub(crate) fn split_ports(ports: &[PortInfo]) -> (Vec<usize>, Vec<usize>) {
    let sorted = |input: bool| {
        let mut group: Vec<usize> = (0..ports.len())
            .filter(|&i| is_input(&ports[i]) == input)
            .collect();
        group.sort_by(|&a, &b| ports[a].name.cmp(&ports[b].name));
        group
    };
    (sorted(true), sorted(false))
}

/// What a finished recording holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingSummary {
    /// The file written.
    pub path: PathBuf,
    /// Records (recorded `eval` / `step` calls).
    pub records: u64,
    /// Rising edges recorded.
    pub cycles: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Whether a fatal error in the design ended the recording early (the failing call is not
    /// in it).
    pub ended_by_fatal: bool,
}

/// One group of ports (inputs or outputs) in a recording: where each port's words live in a
/// snapshot of the group.
#[derive(Debug, Clone)]
struct Group {
    /// Header index of each port.
    ports: Vec<usize>,
    /// Words of each port.
    words: Vec<usize>,
    /// Offset of each port's words in the snapshot.
    offsets: Vec<usize>,
    /// Total words.
    total: usize,
}

impl Group {
    fn new(all: &[PortInfo], ports: Vec<usize>) -> Group {
        let words: Vec<usize> = ports.iter().map(|&i| all[i].storage.words()).collect();
        let offsets = words
            .iter()
            .scan(0, |at, &w| {
                let here = *at;
                *at += w;
                Some(here)
            })
            .collect();
        let total = words.iter().sum();
        Group {
            ports,
            words,
            offsets,
            total,
        }
    }

    fn mask_words(&self) -> usize {
        self.ports.len().div_ceil(32)
    }
}

/// Writes a recording; owned by a [`crate::Sim`] while it records.
pub(crate) struct Recorder {
    path: PathBuf,
    out: BufWriter<File>,
    inputs: Group,
    outputs: Group,
    prev_in: Vec<u32>,
    prev_out: Vec<u32>,
    cur: Vec<u32>,
    /// One record being assembled.
    record: Vec<u32>,
    bytes: Vec<u8>,
    first: bool,
    records: u64,
    cycles: u64,
    written: u64,
    error: Option<std::io::Error>,
    ended_by_fatal: bool,
}

impl Recorder {
    /// Create `path` and write the header for a design with `ports`.
    pub(crate) fn create(top: &str, ports: &[PortInfo], path: &Path) -> Result<Recorder, SimError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| SimError::io("cannot create recording dir", parent, e))?;
        }
        let file =
            File::create(path).map_err(|e| SimError::io("cannot create recording", path, e))?;
        let (inputs, outputs) = split_ports(ports);
        let (inputs, outputs) = (Group::new(ports, inputs), Group::new(ports, outputs));
        let text = layout(top, ports);
        let mut header = MAGIC.to_vec();
        header.extend_from_slice(&(text.len() as u32).to_le_bytes());
        header.extend_from_slice(text.as_bytes());
        header.resize(header.len().next_multiple_of(4), 0);
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&header)
            .map_err(|e| SimError::io("cannot write recording", path, e))?;
        Ok(Recorder {
            path: path.to_owned(),
            out,
            prev_in: vec![0; inputs.total],
            prev_out: vec![0; outputs.total],
            cur: vec![0; inputs.total.max(outputs.total)],
            inputs,
            outputs,
            record: Vec::new(),
            bytes: Vec::new(),
            first: true,
            records: 0,
            cycles: 0,
            written: header.len() as u64,
            error: None,
            ended_by_fatal: false,
        })
    }

    /// Start a record: snapshot the inputs (read by `read(header index, words)`).
    pub(crate) fn begin(&mut self, read: impl Fn(usize, &mut [u32])) {
        self.record.clear();
        self.record.push(0); // op, filled in by `end`
        Self::delta(
            &self.inputs,
            &mut self.prev_in,
            &mut self.cur,
            &mut self.record,
            self.first,
            &read,
        );
    }

    /// Finish the record begun last: `op` (steps done, or [`OP_EVAL`]) and the outputs now.
    pub(crate) fn end(&mut self, op: u32, read: impl Fn(usize, &mut [u32])) {
        self.record[0] = op;
        Self::delta(
            &self.outputs,
            &mut self.prev_out,
            &mut self.cur,
            &mut self.record,
            self.first,
            &read,
        );
        self.first = false;
        self.records += 1;
        if op != OP_EVAL {
            self.cycles += u64::from(op);
        }
        let record = std::mem::take(&mut self.record);
        self.write_words(&record);
        self.record = record;
    }

    /// The call begun last failed fatally: drop it and end the recording.
    pub(crate) fn fatal(&mut self) {
        self.ended_by_fatal = true;
    }

    pub(crate) fn ended(&self) -> bool {
        self.ended_by_fatal
    }

    /// Append the mask and the changed words of `group` (all of them when `all`) to `record`.
    fn delta(
        group: &Group,
        prev: &mut [u32],
        cur: &mut [u32],
        record: &mut Vec<u32>,
        all: bool,
        read: &impl Fn(usize, &mut [u32]),
    ) {
        let mask_at = record.len();
        record.resize(mask_at + group.mask_words(), 0);
        for (k, &port) in group.ports.iter().enumerate() {
            let range = group.offsets[k]..group.offsets[k] + group.words[k];
            read(port, &mut cur[range.clone()]);
            if all || cur[range.clone()] != prev[range.clone()] {
                record[mask_at + k / 32] |= 1 << (k % 32);
                record.extend_from_slice(&cur[range.clone()]);
                prev[range.clone()].copy_from_slice(&cur[range]);
            }
        }
    }

    fn write_words(&mut self, words: &[u32]) {
        if self.error.is_some() {
            return;
        }
        self.bytes.clear();
        for w in words {
            self.bytes.extend_from_slice(&w.to_le_bytes());
        }
        match self.out.write_all(&self.bytes) {
            Ok(()) => self.written += self.bytes.len() as u64,
            Err(e) => self.error = Some(e),
        }
    }

    /// Write the end marker and flush.
    pub(crate) fn finish(mut self) -> Result<RecordingSummary, SimError> {
        let end = [
            OP_END,
            0,
            self.records as u32,
            (self.records >> 32) as u32,
            self.cycles as u32,
            (self.cycles >> 32) as u32,
        ];
        self.write_words(&end);
        if let Some(e) = self.error.take() {
            return Err(SimError::io("cannot write recording", &self.path, e));
        }
        self.out
            .flush()
            .map_err(|e| SimError::io("cannot write recording", &self.path, e))?;
        Ok(RecordingSummary {
            path: self.path,
            records: self.records,
            cycles: self.cycles,
            bytes: self.written,
            ended_by_fatal: self.ended_by_fatal,
        })
    }
}

/// A recording read back into memory.
#[derive(Debug, Clone)]
pub struct Recording {
    path: PathBuf,
    layout: String,
    /// The records, as written (without the end marker).
    words: Vec<u32>,
    records: u64,
    cycles: u64,
    in_mask_words: usize,
    out_mask_words: usize,
    /// Words of each input / output port, in layout order.
    in_words: Vec<usize>,
    out_words: Vec<usize>,
    /// Every output's words after the last record, outputs in layout order.
    final_outputs: Vec<u32>,
}

impl Recording {
    /// Read and check a recording (header, every record's length, the end marker's counts).
    pub fn read(path: &Path) -> Result<Recording, SimError> {
        let bad = |reason: String| SimError::Runtime {
            top: "recording".into(),
            reason: format!("{}: {reason}", path.display()),
        };
        let bytes = std::fs::read(path).map_err(|e| SimError::io("cannot read", path, e))?;
        if bytes.len() < 12 || &bytes[..8] != MAGIC {
            return Err(bad("not a tandem recording (bad magic)".into()));
        }
        let len = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes")) as usize;
        let start = (12 + len).next_multiple_of(4);
        if bytes.len() < start || !bytes[start..].chunks_exact(4).remainder().is_empty() {
            return Err(bad("truncated header".into()));
        }
        let layout = String::from_utf8(bytes[12..12 + len].to_vec())
            .map_err(|_| bad("layout is not UTF-8".into()))?;
        let words: Vec<u32> = bytes[start..]
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
        let words_of = |tag: &str| -> Result<Vec<usize>, SimError> {
            layout
                .lines()
                .filter(|l| l.split(' ').next() == Some(tag))
                .map(|l| {
                    let width: u32 = l
                        .split(' ')
                        .nth(2)
                        .and_then(|w| w.parse().ok())
                        .ok_or_else(|| bad(format!("bad layout line `{l}`")))?;
                    Ok(if width > 64 {
                        width.div_ceil(32) as usize
                    } else if width > 32 {
                        2
                    } else {
                        1
                    })
                })
                .collect()
        };
        let (in_words, out_words) = (words_of("in")?, words_of("out")?);
        let mut recording = Recording {
            path: path.to_owned(),
            layout,
            words: Vec::new(),
            records: 0,
            cycles: 0,
            in_mask_words: in_words.len().div_ceil(32),
            out_mask_words: out_words.len().div_ceil(32),
            final_outputs: vec![0; out_words.iter().sum()],
            in_words,
            out_words,
        };
        // Walk the records to check them and find the end marker.
        let mut at = 0;
        let (mut records, mut cycles) = (0u64, 0u64);
        loop {
            let Some(&op) = words.get(at) else {
                return Err(bad(format!(
                    "truncated after {records} records (no end marker)"
                )));
            };
            if op == OP_END {
                let tail = words
                    .get(at + 2..at + 6)
                    .ok_or_else(|| bad("truncated end marker".into()))?;
                let want_records = u64::from(tail[0]) | (u64::from(tail[1]) << 32);
                let want_cycles = u64::from(tail[2]) | (u64::from(tail[3]) << 32);
                if (want_records, want_cycles) != (records, cycles) {
                    return Err(bad(format!(
                        "end marker says {want_records} records and {want_cycles} cycles, the file holds {records} and {cycles}"
                    )));
                }
                if at + 6 != words.len() {
                    return Err(bad("data after the end marker".into()));
                }
                break;
            }
            let next = recording
                .skip_record(&words, at, true)
                .ok_or_else(|| bad(format!("record {records} is truncated")))?;
            if op != OP_EVAL {
                cycles += u64::from(op);
            }
            records += 1;
            at = next;
        }
        recording.words = words;
        recording.words.truncate(at);
        recording.records = records;
        recording.cycles = cycles;
        Ok(recording)
    }

    /// The index just past the record starting at `at`, if it is complete; with `track`, the
    /// record's output values go into `final_outputs`.
    fn skip_record(&mut self, words: &[u32], mut at: usize, track: bool) -> Option<usize> {
        at += 1;
        let mask = words.get(at..at + self.in_mask_words)?;
        at += self.in_mask_words;
        for (k, size) in self.in_words.iter().enumerate() {
            if mask[k / 32] >> (k % 32) & 1 == 1 {
                at += size;
            }
        }
        let mask = words.get(at..at + self.out_mask_words)?;
        at += self.out_mask_words;
        let mut offset = 0;
        for (k, &size) in self.out_words.iter().enumerate() {
            if mask[k / 32] >> (k % 32) & 1 == 1 {
                let value = words.get(at..at + size)?;
                if track {
                    self.final_outputs[offset..offset + size].copy_from_slice(value);
                }
                at += size;
            }
            offset += size;
        }
        Some(at)
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The layout text (top module and ports).
    pub fn layout(&self) -> &str {
        &self.layout
    }

    /// Recorded `eval` / `step` calls.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Rising edges recorded.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// An error unless `lib`'s ports are the ones recorded.
    pub fn check_layout(&self, lib: &VerilatedLib) -> Result<(), SimError> {
        let want = layout(lib.top(), lib.ports());
        if want == self.layout {
            return Ok(());
        }
        Err(SimError::Runtime {
            top: lib.top().to_string(),
            reason: format!(
                "the recording {} was made on another design (its layout:\n{}\nthis model's:\n{want})",
                self.path.display(),
                self.layout
            ),
        })
    }
}

/// CPU time this process has used (all threads), in seconds: `CLOCK_PROCESS_CPUTIME_ID`.
/// On a shared machine it does not count the time other processes held the core.
pub fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`, which is valid for writes.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Timing of one replay.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRun {
    /// Rising edges replayed.
    pub cycles: u64,
    /// Records replayed.
    pub records: u64,
    /// Wall time of the replay loop (instantiation excluded).
    pub seconds: f64,
    /// CPU time of the process during the loop ([`process_cpu_seconds`]).
    pub cpu_seconds: f64,
}

impl ReplayRun {
    /// Simulated cycles per second.
    pub fn cycles_per_s(&self) -> f64 {
        self.cycles as f64 / self.seconds
    }
}

/// Replay `recording` on a fresh instance of `lib` through the bridge (`set_wide`, `step`,
/// `eval`, `get_wide`): the bridge's own cost without any driver. `checked`: compare every
/// output after every record with the recording; otherwise only the final outputs, after the
/// timed loop. A differing output is an error naming the record, the port and both values.
pub fn replay_on_bridge(
    lib: &VerilatedLib,
    recording: &Recording,
    checked: bool,
) -> Result<ReplayRun, SimError> {
    recording.check_layout(lib)?;
    let (inputs, outputs) = split_ports(lib.ports());
    let port = |i: usize| lib.port(&lib.ports()[i].name);
    let in_ports = inputs
        .iter()
        .map(|&i| port(i))
        .collect::<Result<Vec<_>, _>>()?;
    let out_ports = outputs
        .iter()
        .map(|&i| port(i))
        .collect::<Result<Vec<_>, _>>()?;
    let out_group = Group::new(lib.ports(), outputs);
    let mut expected = vec![0u32; out_group.total];
    let mut actual = vec![0u32; out_group.total];
    let mut sim = lib.instantiate()?;
    let words = &recording.words;
    let mut at = 0;
    let mut cycles = 0u64;
    let cpu_started = process_cpu_seconds();
    let started = Instant::now();
    for record in 0..recording.records {
        let op = words[at];
        at += 1;
        let mask = &words[at..at + recording.in_mask_words];
        at += recording.in_mask_words;
        for (k, &size) in recording.in_words.iter().enumerate() {
            if mask[k / 32] >> (k % 32) & 1 == 1 {
                sim.set_wide(in_ports[k], &words[at..at + size]);
                at += size;
            }
        }
        if op == OP_EVAL {
            sim.try_eval()?;
        } else {
            sim.try_step(u64::from(op))?;
            cycles += u64::from(op);
        }
        let mask = &words[at..at + recording.out_mask_words];
        at += recording.out_mask_words;
        for (k, &size) in recording.out_words.iter().enumerate() {
            let listed = mask[k / 32] >> (k % 32) & 1 == 1;
            if !checked {
                at += if listed { size } else { 0 };
                continue;
            }
            let range = out_group.offsets[k]..out_group.offsets[k] + size;
            if listed {
                expected[range.clone()].copy_from_slice(&words[at..at + size]);
                at += size;
            }
            sim.get_wide_into(out_ports[k], &mut actual[range.clone()]);
            if actual[range] != expected[out_group.offsets[k]..][..size] {
                return Err(mismatch(
                    &sim, recording, &out_group, &out_ports, k, &expected, record, cycles,
                ));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu_seconds = process_cpu_seconds() - cpu_started;
    if !checked {
        let last = recording.records.saturating_sub(1);
        for (k, &port) in out_ports.iter().enumerate() {
            let range = out_group.offsets[k]..out_group.offsets[k] + out_group.words[k];
            sim.get_wide_into(port, &mut actual[range.clone()]);
            if actual[range.clone()] != recording.final_outputs[range] {
                return Err(mismatch(
                    &sim,
                    recording,
                    &out_group,
                    &out_ports,
                    k,
                    &recording.final_outputs,
                    last,
                    cycles,
                ));
            }
        }
    }
    Ok(ReplayRun {
        cycles,
        records: recording.records,
        seconds,
        cpu_seconds,
    })
}

/// The error for output `k` differing from `expected` after `record`.
#[allow(clippy::too_many_arguments)]
fn mismatch(
    sim: &crate::Sim,
    recording: &Recording,
    group: &Group,
    ports: &[crate::Port],
    k: usize,
    expected: &[u32],
    record: u64,
    cycles: u64,
) -> SimError {
    let range = group.offsets[k]..group.offsets[k] + group.words[k];
    let actual = sim.get_wide(ports[k]);
    SimError::Runtime {
        top: sim.port_info(ports[k]).name.clone(),
        reason: format!(
            "replay of {} differs at record {record} (after {cycles} cycles): output `{}` is {}, recorded {}",
            recording.path.display(),
            sim.port_info(ports[k]).name,
            hex_words(&actual),
            hex_words(&expected[range])
        ),
    }
}

/// `0x<most significant word>_..._<word 0>`.
fn hex_words(words: &[u32]) -> String {
    let parts: Vec<String> = words.iter().rev().map(|w| format!("{w:08x}")).collect();
    format!("0x{}", parts.join("_"))
}

/// What one run of the plain testbench measured.
#[derive(Debug, Clone, PartialEq)]
pub struct PlainRun {
    /// Rising edges of one replay.
    pub cycles: u64,
    /// Records of one replay.
    pub records: u64,
    /// Whether every output was compared after every record (else only the final outputs).
    pub checked: bool,
    /// Wall time of each replay loop (one fresh model each; construction excluded).
    pub seconds: Vec<f64>,
    /// CPU time of the testbench process during each loop.
    pub cpu_seconds: Vec<f64>,
}

impl PlainRun {
    /// Median seconds of one replay.
    pub fn median_seconds(&self) -> f64 {
        median(&self.seconds)
    }

    /// Cycles per second of the median replay.
    pub fn cycles_per_s(&self) -> f64 {
        self.cycles as f64 / self.median_seconds()
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

impl PlainTestbench {
    /// Replay `recording` `repeats` times, each on a fresh model. `checked`: compare every
    /// output after every record (a mismatch is an error with the testbench's message);
    /// otherwise apply only the inputs in the timed loop and compare the final outputs.
    pub fn run(&self, recording: &Path, repeats: u32, checked: bool) -> Result<PlainRun, SimError> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg(recording)
            .arg("--repeat")
            .arg(repeats.max(1).to_string());
        if !checked {
            cmd.arg("--unchecked");
        }
        let output = cmd
            .output()
            .map_err(|e| SimError::io("cannot run the plain testbench", &self.exe, e))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            return Err(SimError::Runtime {
                top: self.top.clone(),
                reason: format!(
                    "plain testbench {} failed ({}): {}{}",
                    self.exe.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr).trim(),
                    stdout.trim()
                ),
            });
        }
        let line = stdout.lines().last().unwrap_or_default();
        let bad = || SimError::Runtime {
            top: self.top.clone(),
            reason: format!("cannot parse the plain testbench's output `{line}`"),
        };
        let number = |key: &str| -> Option<f64> {
            let rest = &line[line.find(&format!("\"{key}\":"))? + key.len() + 3..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim().parse().ok()
        };
        let list = |key: &str| -> Result<Vec<f64>, SimError> {
            let tag = format!("\"{key}\":[");
            let start = line.find(&tag).ok_or_else(bad)? + tag.len();
            let end = start + line[start..].find(']').ok_or_else(bad)?;
            line[start..end]
                .split(',')
                .map(|s| s.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())
        };
        let seconds = list("seconds")?;
        let cpu_seconds = list("cpu_seconds")?;
        Ok(PlainRun {
            cycles: number("cycles").ok_or_else(bad)? as u64,
            records: number("records").ok_or_else(bad)? as u64,
            checked: line.contains("\"checked\":true"),
            seconds,
            cpu_seconds,
        })
    }
}
