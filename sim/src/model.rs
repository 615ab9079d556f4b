//! Loaded models: [`VerilatedLib`] (one shared library) and [`Sim`] (one model instance).

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;
use std::sync::Arc;

use crate::build::{BuildOptions, BuiltModel, TraceFormat};
use crate::ports::{Direction, PortInfo, Storage};
use crate::replay::{Recorder, RecordingSummary, MAX_STEP, OP_EVAL};
use crate::wrapper::ABI_VERSION;
use crate::SimError;

type CreateFn = unsafe extern "C" fn(*mut c_char, usize) -> *mut c_void;
type HandleFn = unsafe extern "C" fn(*mut c_void);
type StatusFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type StepFn = unsafe extern "C" fn(*mut c_void, u64, *mut u64) -> c_int;
type AddrsFn = unsafe extern "C" fn(*mut c_void, *mut *mut c_void);
type ErrorFn = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type TimeFn = unsafe extern "C" fn(*mut c_void) -> u64;
type TraceOpenFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type CountFn = unsafe extern "C" fn() -> u32;

/// The wrapper's entry points, copied out of the library once at load time.
struct Api {
    create: CreateFn,
    destroy: HandleFn,
    port_addrs: AddrsFn,
    eval: StatusFn,
    step: StepFn,
    finished: StatusFn,
    time: TimeFn,
    last_error: ErrorFn,
    trace_open: TraceOpenFn,
    trace_close: StatusFn,
}

struct LibInner {
    top: String,
    dir: PathBuf,
    library_path: PathBuf,
    ports: Vec<PortInfo>,
    clock: Option<usize>,
    clock_name: String,
    trace: Option<TraceFormat>,
    design_id: u64,
    cached: bool,
    api: Api,
    // Declared last so it is dropped last: `api` points into it, and every `Sim` keeps this
    // whole struct alive through an Arc, so the code is never unloaded under a live model.
    _library: libloading::Library,
}

impl LibInner {
    fn port(&self, name: &str) -> Result<Port, SimError> {
        match self.ports.iter().position(|p| p.name == name) {
            Some(i) => Ok(Port {
                index: i as u32,
                width: self.ports[i].width,
                design_id: self.design_id,
            }),
            None => Err(SimError::UnknownPort {
                top: self.top.clone(),
                name: name.to_string(),
                available: self
                    .ports
                    .iter()
                    .map(|p| format!("{} {} [{}]", p.direction, p.name, p.width))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// A built and loaded model library. Cheap to clone; create any number of independent
/// [`Sim`] instances from it.
#[derive(Clone)]
pub struct VerilatedLib {
    inner: Arc<LibInner>,
}

impl fmt::Debug for VerilatedLib {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerilatedLib")
            .field("top", &self.inner.top)
            .field("dir", &self.inner.dir)
            .field("ports", &self.inner.ports.len())
            .field("trace", &self.inner.trace)
            .finish()
    }
}

/// A handle to one port of a design, resolved once by name and then used for fast access.
///
/// Valid for every [`Sim`] of the same build; using it with a different design panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    index: u32,
    width: u32,
    design_id: u64,
}

impl Port {
    /// Width of the port in bits.
    pub fn width(self) -> u32 {
        self.width
    }

    /// Position of the port in [`VerilatedLib::ports`].
    pub fn index(self) -> usize {
        self.index as usize
    }
}

impl VerilatedLib {
    pub(crate) fn load(opts: &BuildOptions, built: BuiltModel) -> Result<Self, SimError> {
        let load_err = |reason: String| SimError::Load {
            path: built.library.clone(),
            reason,
        };
        // SAFETY: the library was produced by our own build from Verilator output and our
        // wrapper; its initialisers are Verilator's static constructors, which have no
        // preconditions. It is loaded RTLD_LOCAL and exports only `tandem_*` symbols.
        let library = unsafe { libloading::Library::new(&built.library) }
            .map_err(|e| load_err(e.to_string()))?;

        macro_rules! sym {
            ($name:literal, $ty:ty) => {{
                // SAFETY: the symbol is defined by our generated wrapper with exactly this C
                // signature (see wrapper.rs); the copied fn pointer stays valid while `library`
                // is loaded, which LibInner guarantees by owning it.
                let s: libloading::Symbol<$ty> =
                    unsafe { library.get($name) }.map_err(|e| load_err(e.to_string()))?;
                *s
            }};
        }
        let abi_version = sym!(b"tandem_abi_version\0", CountFn);
        let port_count = sym!(b"tandem_port_count\0", CountFn);
        // SAFETY: both take no arguments and only return a constant.
        let (abi, count) = unsafe { (abi_version(), port_count()) };
        if abi != ABI_VERSION {
            return Err(load_err(format!(
                "wrapper ABI version {abi}, expected {ABI_VERSION}; clear the cache"
            )));
        }
        if count as usize != built.ports.len() {
            return Err(load_err(format!(
                "wrapper has {count} ports but the header lists {}",
                built.ports.len()
            )));
        }
        let api = Api {
            create: sym!(b"tandem_create\0", CreateFn),
            destroy: sym!(b"tandem_destroy\0", HandleFn),
            port_addrs: sym!(b"tandem_port_addrs\0", AddrsFn),
            eval: sym!(b"tandem_eval\0", StatusFn),
            step: sym!(b"tandem_step\0", StepFn),
            finished: sym!(b"tandem_finished\0", StatusFn),
            time: sym!(b"tandem_time\0", TimeFn),
            last_error: sym!(b"tandem_last_error\0", ErrorFn),
            trace_open: sym!(b"tandem_trace_open\0", TraceOpenFn),
            trace_close: sym!(b"tandem_trace_close\0", StatusFn),
        };
        let design_id = u64::from_str_radix(&built.key[..16], 16).unwrap_or(0);
        Ok(VerilatedLib {
            inner: Arc::new(LibInner {
                top: opts.top.clone(),
                dir: built.dir,
                library_path: built.library,
                ports: built.ports,
                clock: built.clock,
                clock_name: opts.clock.clone(),
                trace: opts.trace,
                design_id,
                cached: built.cached,
                api,
                _library: library,
            }),
        })
    }

    /// Load the same build again from a private copy of its shared library at `path` (the
    /// file is copied there, replacing what is there). The copy is an independent library
    /// with its own copy of the Verilator runtime; [`Port`] handles of this design work with
    /// both. Meant for benchmarks: a new file gets new page-cache pages, and on some
    /// machines (virtual ones especially) where the model's code lands in physical memory
    /// changes its speed by tens of percent, so a fair measurement samples several copies.
    pub fn load_copy(&self, path: &Path) -> Result<VerilatedLib, SimError> {
        let inner = &self.inner;
        // Copy to a temporary name and rename, so the file is new (never an open library's
        // pages rewritten in place) and complete when loaded.
        let temp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::copy(&inner.library_path, &temp)
            .map_err(|e| SimError::io("cannot copy the model library to", &temp, e))?;
        std::fs::rename(&temp, path)
            .map_err(|e| SimError::io("cannot rename the library copy to", path, e))?;
        let opts = BuildOptions {
            top: inner.top.clone(),
            clock: inner.clock_name.clone(),
            trace: inner.trace,
            ..BuildOptions::default()
        };
        let built = BuiltModel {
            dir: inner.dir.clone(),
            library: path.to_owned(),
            ports: inner.ports.clone(),
            clock: inner.clock,
            key: format!("{:016x}", inner.design_id),
            cached: inner.cached,
        };
        VerilatedLib::load(&opts, built)
    }

    /// Create a fresh model instance (all state zero, time 0, clock low).
    pub fn instantiate(&self) -> Result<Sim, SimError> {
        let inner = &self.inner;
        let mut err = vec![0u8; 1024];
        // SAFETY: `create` writes at most err.len() bytes (NUL-terminated) into `err` and
        // returns either null or a handle we own until `destroy`.
        let handle = unsafe { (inner.api.create)(err.as_mut_ptr().cast(), err.len()) };
        let Some(handle) = NonNull::new(handle) else {
            let reason = CStr::from_bytes_until_nul(&err)
                .map(|c| c.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Err(SimError::Runtime {
                top: inner.top.clone(),
                reason: format!("cannot create model: {reason}"),
            });
        };
        let mut addrs = vec![std::ptr::null_mut::<c_void>(); inner.ports.len()];
        // SAFETY: `addrs` has exactly tandem_port_count() entries (checked at load).
        unsafe { (inner.api.port_addrs)(handle.as_ptr(), addrs.as_mut_ptr()) };
        Ok(Sim {
            lib: Arc::clone(inner),
            handle,
            addrs: addrs.into_iter().map(|a| a.cast::<u8>()).collect(),
            cycles: 0,
            trace_path: None,
            fatal: None,
            recorder: None,
        })
    }

    /// All top-level ports, in the order of the generated header.
    pub fn ports(&self) -> &[PortInfo] {
        &self.inner.ports
    }

    /// Resolve a port by its (Verilator C++) name; the error lists every port of the design.
    pub fn port(&self, name: &str) -> Result<Port, SimError> {
        self.inner.port(name)
    }

    /// The cache directory of this build (Verilator output in `obj/`, `build.log`, the library).
    pub fn build_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Path of the loaded shared library.
    pub fn library_path(&self) -> &Path {
        &self.inner.library_path
    }

    /// Top module name.
    pub fn top(&self) -> &str {
        &self.inner.top
    }

    /// Trace format the model was built with, if any.
    pub fn trace_format(&self) -> Option<TraceFormat> {
        self.inner.trace
    }

    /// Whether [`crate::build`] found this model in the cache instead of compiling it.
    pub fn was_cached(&self) -> bool {
        self.inner.cached
    }

    /// Whether the design has the configured clock input (so [`Sim::step`] works).
    pub fn has_clock(&self) -> bool {
        self.inner.clock.is_some()
    }

    /// Index of the clock port in [`VerilatedLib::ports`], if the design has one.
    pub(crate) fn clock_index(&self) -> Option<usize> {
        self.inner.clock
    }
}

/// One instance of a Verilated model.
///
/// `Send` (move it to a worker thread; one model per thread) but not `Sync`: the model is
/// plain C++ state without locking, so all access goes through `&mut self` or, for reads,
/// through a `&self` that cannot be shared across threads.
///
/// Time: every [`Sim::eval`] and every half clock cycle of [`Sim::step`] advances the model's
/// time by one unit and, when a trace is open, dumps the signals at the new time. So a clock
/// period is 2 time units in the waveform and extra `eval` calls show up as extra samples.
///
/// Dropping runs the design's `final` blocks, closes the trace and frees the model.
pub struct Sim {
    lib: Arc<LibInner>,
    handle: NonNull<c_void>,
    addrs: Vec<*mut u8>,
    cycles: u64,
    trace_path: Option<PathBuf>,
    fatal: Option<String>,
    /// Set while recording ([`Sim::record_to`]); `None` costs one branch per eval / step.
    recorder: Option<Box<Recorder>>,
}

// SAFETY: the model and its VerilatedContext are heap objects owned exclusively by this Sim,
// not tied to the creating thread: the wrapper re-points Verilator's thread-local context at
// this model on every call. The raw port pointers point into that same model. All mutation
// needs &mut self, and Sim is not Sync, so no two threads ever touch one model at a time.
unsafe impl Send for Sim {}

impl fmt::Debug for Sim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sim")
            .field("top", &self.lib.top)
            .field("cycles", &self.cycles)
            .field("trace", &self.trace_path)
            .finish()
    }
}

impl Sim {
    /// Resolve a port by name; the error lists every port of the design.
    pub fn port(&self, name: &str) -> Result<Port, SimError> {
        self.lib.port(name)
    }

    /// All top-level ports.
    pub fn ports(&self) -> &[PortInfo] {
        &self.lib.ports
    }

    /// Description of one port.
    pub fn port_info(&self, port: Port) -> &PortInfo {
        &self.lib.ports[self.check(port)]
    }

    /// Index of `port` after checking it belongs to this design.
    #[inline]
    fn check(&self, port: Port) -> usize {
        assert!(
            port.design_id == self.lib.design_id && (port.index as usize) < self.addrs.len(),
            "port handle {port:?} does not belong to design `{}`",
            self.lib.top
        );
        port.index as usize
    }

    #[inline]
    fn writable(&self, port: Port) -> (usize, &PortInfo) {
        let i = self.check(port);
        let info = &self.lib.ports[i];
        assert!(
            info.direction != Direction::Output,
            "cannot set output port `{}` of `{}`",
            info.name,
            self.lib.top
        );
        (i, info)
    }

    /// Drive an input of at most 64 bits.
    ///
    /// # Panics
    /// If the port is an output, wider than 64 bits (use [`Sim::set_wide`]), or `value` has
    /// bits set at or above the port width: silently masking would hide caller bugs such as a
    /// negative number passed as `u64` (use [`Sim::set_signed`] for those).
    #[inline]
    pub fn set(&mut self, port: Port, value: u64) {
        let (i, info) = self.writable(port);
        assert!(
            info.width >= 64 || value >> info.width == 0,
            "value {value:#x} does not fit the {}-bit port `{}` of `{}`",
            info.width,
            info.name,
            self.lib.top
        );
        let addr = self.addrs[i];
        // SAFETY: `addr` is the address of this port's storage inside our live model, and the
        // storage kind (from the header) fixes its type and alignment; we hold &mut self.
        unsafe {
            match info.storage {
                Storage::U8 => addr.write(value as u8),
                Storage::U16 => addr.cast::<u16>().write(value as u16),
                Storage::U32 => addr.cast::<u32>().write(value as u32),
                Storage::U64 => addr.cast::<u64>().write(value),
                Storage::Wide(_) => panic!(
                    "port `{}` of `{}` is {} bits wide; use set_wide",
                    info.name, self.lib.top, info.width
                ),
            }
        }
    }

    /// Drive an input of at most 64 bits with a signed value, stored as two's complement
    /// truncated to the port width.
    ///
    /// # Panics
    /// As [`Sim::set`], and if `value` is outside the port's signed range.
    pub fn set_signed(&mut self, port: Port, value: i64) {
        let w = port.width;
        if w < 64 {
            let min = -(1i64 << (w - 1));
            let max = (1i64 << (w - 1)) - 1;
            assert!(
                (min..=max).contains(&value),
                "value {value} does not fit the signed {w}-bit port `{}`",
                self.port_info(port).name
            );
            self.set(port, (value as u64) & ((1u64 << w) - 1));
        } else {
            self.set(port, value as u64);
        }
    }

    /// Read a port of at most 64 bits (inputs read back what was set).
    ///
    /// # Panics
    /// If the port is wider than 64 bits (use [`Sim::get_wide`]).
    #[inline]
    pub fn get(&self, port: Port) -> u64 {
        let i = self.check(port);
        let info = &self.lib.ports[i];
        let addr = self.addrs[i];
        // SAFETY: as in `set`; reads only, and no other thread can hold this Sim.
        unsafe {
            match info.storage {
                Storage::U8 => u64::from(addr.read()),
                Storage::U16 => u64::from(addr.cast::<u16>().read()),
                Storage::U32 => u64::from(addr.cast::<u32>().read()),
                Storage::U64 => addr.cast::<u64>().read(),
                Storage::Wide(_) => panic!(
                    "port `{}` of `{}` is {} bits wide; use get_wide",
                    info.name, self.lib.top, info.width
                ),
            }
        }
    }

    /// Read a port of at most 64 bits, sign-extended from its width.
    pub fn get_signed(&self, port: Port) -> i64 {
        let w = port.width;
        let v = self.get(port);
        if w >= 64 {
            v as i64
        } else {
            ((v << (64 - w)) as i64) >> (64 - w)
        }
    }

    /// Drive an input of any width from little-endian 32-bit words (word 0 holds bits 31..0).
    ///
    /// # Panics
    /// If `words.len()` is not `ceil(width / 32)` (2 for a 33..64-bit port), or bits at or
    /// above the width are set: Verilator requires the unused top bits of its storage to be 0.
    pub fn set_wide(&mut self, port: Port, words: &[u32]) {
        let (i, info) = self.writable(port);
        let expected = info.width.div_ceil(32) as usize;
        assert_eq!(
            words.len(),
            expected,
            "port `{}` of `{}` ({} bits) takes {expected} words",
            info.name,
            self.lib.top,
            info.width
        );
        let top_bits = info.width % 32;
        assert!(
            top_bits == 0 || words[expected - 1] >> top_bits == 0,
            "value does not fit the {}-bit port `{}` of `{}` (top word {:#x})",
            info.width,
            info.name,
            self.lib.top,
            words[expected - 1]
        );
        match info.storage {
            Storage::Wide(n) => {
                debug_assert_eq!(n as usize, expected);
                // SAFETY: a VlWide<n> is n contiguous u32 words at `addr` in our live model,
                // and `words` has exactly n entries (checked above).
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        words.as_ptr(),
                        self.addrs[i].cast::<u32>(),
                        expected,
                    )
                }
            }
            _ => {
                let v = u64::from(words[0]) | words.get(1).map_or(0, |&w| u64::from(w) << 32);
                self.set(port, v);
            }
        }
    }

    /// Read a port of any width as little-endian 32-bit words (`ceil(width / 32)` of them).
    pub fn get_wide(&self, port: Port) -> Vec<u32> {
        let mut out = vec![0; port.width.div_ceil(32) as usize];
        self.get_wide_into(port, &mut out);
        out
    }

    /// Like [`Sim::get_wide`], into a caller buffer of exactly `ceil(width / 32)` words.
    pub fn get_wide_into(&self, port: Port, out: &mut [u32]) {
        let i = self.check(port);
        let info = &self.lib.ports[i];
        let expected = info.width.div_ceil(32) as usize;
        assert_eq!(
            out.len(),
            expected,
            "port `{}` has {expected} words",
            info.name
        );
        match info.storage {
            Storage::Wide(_) => {
                // SAFETY: as in `set_wide`, reading `expected` words of the port's VlWide.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        self.addrs[i].cast::<u32>(),
                        out.as_mut_ptr(),
                        expected,
                    )
                }
            }
            _ => {
                let v = self.get(port);
                out[0] = v as u32;
                if expected > 1 {
                    out[1] = (v >> 32) as u32;
                }
            }
        }
    }

    /// Evaluate the model after changing inputs (combinational settle); advances time by 1.
    ///
    /// # Panics
    /// On a fatal error in the design ($fatal, $stop, failed assertion); see [`Sim::try_eval`].
    pub fn eval(&mut self) {
        if let Err(e) = self.try_eval() {
            panic!("{e}");
        }
    }

    /// [`Sim::eval`] that reports a fatal error instead of panicking.
    pub fn try_eval(&mut self) -> Result<(), SimError> {
        self.alive()?;
        if self.recorder.is_some() {
            return self.recorded_call(None).map(|_| ());
        }
        self.raw_eval()
    }

    #[inline(always)]
    fn raw_eval(&mut self) -> Result<(), SimError> {
        // SAFETY: live handle owned by this Sim; the wrapper catches all C++ exceptions.
        let rc = unsafe { (self.lib.api.eval)(self.handle.as_ptr()) };
        if rc != 0 {
            return Err(self.record_fatal());
        }
        Ok(())
    }

    /// Simulate `cycles` rising edges of the clock: each is clock low + eval, clock high +
    /// eval. Inputs set before the call are seen by the first edge; outputs read after it show
    /// the state after the last edge. Stops early once the design executed `$finish`.
    ///
    /// # Panics
    /// If the design has no clock port (see [`BuildOptions::clock`]) or hits a fatal error;
    /// see [`Sim::try_step`].
    pub fn step(&mut self, cycles: u64) {
        if let Err(e) = self.try_step(cycles) {
            panic!("{e}");
        }
    }

    /// [`Sim::step`] that reports errors instead of panicking. Returns the number of rising
    /// edges simulated (less than `cycles` only after `$finish`).
    pub fn try_step(&mut self, cycles: u64) -> Result<u64, SimError> {
        self.alive()?;
        if self.recorder.is_some() {
            return self.recorded_call(Some(cycles));
        }
        self.raw_step(cycles)
    }

    #[inline(always)]
    fn raw_step(&mut self, cycles: u64) -> Result<u64, SimError> {
        let mut done = 0u64;
        // SAFETY: live handle owned by this Sim; `done` is a valid out-pointer; the wrapper
        // catches all C++ exceptions.
        let rc = unsafe { (self.lib.api.step)(self.handle.as_ptr(), cycles, &mut done) };
        self.cycles += done;
        match rc {
            0 => Ok(done),
            -2 => Err(SimError::NoClock {
                top: self.lib.top.clone(),
                clock: self.lib.clock_name.clone(),
            }),
            _ => Err(self.record_fatal()),
        }
    }

    /// Rising clock edges simulated so far.
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Model time (one unit per eval / half cycle).
    pub fn time(&self) -> u64 {
        // SAFETY: live handle; reads a counter.
        unsafe { (self.lib.api.time)(self.handle.as_ptr()) }
    }

    /// Whether the design executed `$finish` (or stopped on a fatal error).
    pub fn finished(&self) -> bool {
        // SAFETY: live handle; reads a flag.
        self.fatal.is_some() || unsafe { (self.lib.api.finished)(self.handle.as_ptr()) } != 0
    }

    /// Record every later [`Sim::eval`] and [`Sim::step`] call of this model into `path`: the
    /// input ports' values before each call and the output ports' values after it (only the
    /// ports that changed), in the format of [`crate::replay`]. A replay from a fresh model
    /// then sees exactly this stimulus, and must reproduce every recorded output: through the
    /// bridge with [`crate::replay::replay_on_bridge`], in a plain C++ testbench with
    /// [`crate::replay::PlainTestbench`]. Only a fresh model can start a recording (nothing
    /// evaluated or stepped yet), so that the replay starts from the same state. Ends with
    /// [`Sim::finish_recording`] (or when the model is dropped). Costs one branch per call when
    /// not recording.
    pub fn record_to(&mut self, path: &Path) -> Result<(), SimError> {
        self.alive()?;
        if self.recorder.is_some() {
            return Err(SimError::Runtime {
                top: self.lib.top.clone(),
                reason: "already recording".into(),
            });
        }
        if self.cycles != 0 || self.time() != 0 {
            return Err(SimError::Runtime {
                top: self.lib.top.clone(),
                reason: format!(
                    "a recording must start on a fresh model (this one is at time {}), so that a replay from a fresh model sees the same state",
                    self.time()
                ),
            });
        }
        self.recorder = Some(Box::new(Recorder::create(
            &self.lib.top,
            &self.lib.ports,
            path,
        )?));
        Ok(())
    }

    /// Whether [`Sim::record_to`] is recording.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// End the recording started by [`Sim::record_to`]: write the end marker, flush, and say
    /// what was recorded.
    pub fn finish_recording(&mut self) -> Result<RecordingSummary, SimError> {
        match self.recorder.take() {
            Some(recorder) => recorder.finish(),
            None => Err(SimError::Runtime {
                top: self.lib.top.clone(),
                reason: "not recording".into(),
            }),
        }
    }

    /// An eval (`None`) or step while recording: inputs before, outputs after, one record per
    /// call (per [`MAX_STEP`] edges for longer steps).
    #[cold]
    #[inline(never)]
    fn recorded_call(&mut self, step: Option<u64>) -> Result<u64, SimError> {
        let mut recorder = self.recorder.take().expect("recording");
        if recorder.ended() {
            // A fatal error ended the recording; the model is dead anyway.
            self.recorder = Some(recorder);
            return match step {
                None => self.raw_eval().map(|()| 0),
                Some(cycles) => self.raw_step(cycles),
            };
        }
        let mut remaining = step.unwrap_or(0);
        let mut total = 0;
        let result = loop {
            let chunk = remaining.min(MAX_STEP);
            recorder.begin(|i, out| self.port_words(i, out));
            let call = match step {
                None => self.raw_eval().map(|()| OP_EVAL),
                Some(_) => self.raw_step(chunk).map(|done| done as u32),
            };
            match call {
                Ok(op) => {
                    recorder.end(op, |i, out| self.port_words(i, out));
                    if step.is_none() {
                        break Ok(0);
                    }
                    total += u64::from(op);
                    remaining -= chunk;
                    if remaining == 0 || u64::from(op) < chunk {
                        break Ok(total);
                    }
                }
                Err(error) => {
                    if matches!(error, SimError::Fatal { .. }) {
                        recorder.fatal();
                    }
                    break Err(error);
                }
            }
        };
        self.recorder = Some(recorder);
        result
    }

    /// The value of the port with header index `i` as 32-bit words (`ceil(width / 32)`).
    fn port_words(&self, i: usize, out: &mut [u32]) {
        let info = &self.lib.ports[i];
        let addr = self.addrs[i];
        // SAFETY: as in `get` and `get_wide_into`: the port's storage in our live model, read
        // as its own type; `out` has the storage's word count (the recorder sized it so).
        unsafe {
            match info.storage {
                Storage::U8 => out[0] = u32::from(addr.read()),
                Storage::U16 => out[0] = u32::from(addr.cast::<u16>().read()),
                Storage::U32 => out[0] = addr.cast::<u32>().read(),
                Storage::U64 => {
                    let v = addr.cast::<u64>().read();
                    out[0] = v as u32;
                    out[1] = (v >> 32) as u32;
                }
                Storage::Wide(n) => {
                    assert_eq!(out.len(), n as usize, "port `{}` has {n} words", info.name);
                    std::ptr::copy_nonoverlapping(addr.cast::<u32>(), out.as_mut_ptr(), n as usize)
                }
            }
        }
    }

    /// Start writing a waveform to `path` (format chosen at build time; the extension is not
    /// checked). The current state is dumped immediately. Replaces an open trace.
    pub fn trace_to(&mut self, path: &Path) -> Result<(), SimError> {
        if self.lib.trace.is_none() {
            return Err(SimError::TraceNotEnabled {
                top: self.lib.top.clone(),
            });
        }
        self.alive()?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| SimError::io("cannot create trace dir", parent, e))?;
        }
        let c_path =
            CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SimError::Runtime {
                top: self.lib.top.clone(),
                reason: format!("trace path {} contains a NUL byte", path.display()),
            })?;
        // SAFETY: live handle; `c_path` is a valid NUL-terminated string for the call.
        let rc = unsafe { (self.lib.api.trace_open)(self.handle.as_ptr(), c_path.as_ptr()) };
        match rc {
            0 => {
                self.trace_path = Some(path.to_owned());
                Ok(())
            }
            _ => Err(SimError::Runtime {
                top: self.lib.top.clone(),
                reason: format!(
                    "cannot open trace {}: {}",
                    path.display(),
                    self.last_error()
                ),
            }),
        }
    }

    /// Flush and close the open trace, if any. (Dropping the Sim does this too.)
    pub fn close_trace(&mut self) -> Result<(), SimError> {
        // SAFETY: live handle; the wrapper catches all C++ exceptions.
        let rc = unsafe { (self.lib.api.trace_close)(self.handle.as_ptr()) };
        if rc != 0 {
            return Err(SimError::Runtime {
                top: self.lib.top.clone(),
                reason: format!("cannot close trace: {}", self.last_error()),
            });
        }
        Ok(())
    }

    /// The waveform being (or last) written, for pointing users at it in failure messages.
    pub fn trace_path(&self) -> Option<&Path> {
        self.trace_path.as_deref()
    }

    /// A suffix for assertion messages: `" (waveform: <path>)"` or empty.
    pub fn trace_hint(&self) -> String {
        match &self.trace_path {
            Some(p) => format!(" (waveform: {})", p.display()),
            None => String::new(),
        }
    }

    fn alive(&self) -> Result<(), SimError> {
        match &self.fatal {
            None => Ok(()),
            Some(message) => Err(self.fatal_error(message.clone())),
        }
    }

    fn last_error(&self) -> String {
        // SAFETY: live handle; the returned string lives in the handle until the next call
        // and is copied out immediately.
        unsafe { CStr::from_ptr((self.lib.api.last_error)(self.handle.as_ptr())) }
            .to_string_lossy()
            .into_owned()
    }

    fn record_fatal(&mut self) -> SimError {
        let message = self.last_error();
        self.fatal = Some(message.clone());
        // Flush what the waveform has so far: it is what the user will look at next.
        let _ = self.close_trace();
        self.fatal_error(message)
    }

    fn fatal_error(&self, message: String) -> SimError {
        SimError::Fatal {
            top: self.lib.top.clone(),
            cycles: self.cycles,
            message,
            trace: self.trace_path.clone(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(recorder) = self.recorder.take() {
            // Best effort: an unfinished recording still gets its end marker.
            let _ = recorder.finish();
        }
        // SAFETY: the handle came from `create` and is destroyed exactly once, here; `lib`
        // (and so the code) is still alive because we hold an Arc to it.
        unsafe { (self.lib.api.destroy)(self.handle.as_ptr()) }
    }
}
