//! The fuzzing loop: mutate a corpus entry, run the target under
//! `catch_unwind`, classify the outcome, keep inputs that produced a message
//! never seen before, and save every crashing input. A supervisor thread
//! watches the time each execution takes; one that runs past the limit is a
//! hang: its input is saved, the stuck worker is abandoned (a thread cannot
//! be killed) and a fresh worker carries on with the remaining executions.

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread;
use std::time::{Duration, Instant};

use crate::mutate::{mutate, Style};
use crate::rng::Rng;
use crate::Target;

/// One input: the contents of each of the target's files.
pub type Input = Vec<Vec<u8>>;

/// How a run is set up.
#[derive(Debug, Clone)]
pub struct FuzzConfig {
    /// Executions per target.
    pub executions: u64,
    pub seed: u64,
    /// An execution running longer than this is a hang.
    pub time_limit: Duration,
    /// Crashing inputs go to `crash_dir/<target>/`; `None` keeps none.
    pub crash_dir: Option<PathBuf>,
    /// How many of the distinct (masked) messages the summary lists.
    pub list_messages: usize,
}

/// What a run of one target found.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub target: &'static str,
    pub executions: u64,
    pub panics: u64,
    pub hangs: u64,
    /// Inputs the loader accepted.
    pub accepted: u64,
    /// Inputs the loader rejected with an error.
    pub rejected: u64,
    /// Distinct kinds of answer: each kind of error message (see [`mask`]:
    /// "line 3" and "line 4" count once), and acceptance as one more.
    pub distinct_messages: usize,
    /// The first `list_messages` distinct masked messages, sorted.
    pub messages: Vec<String>,
    /// Saved crashing inputs (directories under `crash_dir`).
    pub saved: Vec<PathBuf>,
    pub elapsed: Duration,
}

impl Summary {
    pub fn executions_per_second(&self) -> f64 {
        self.executions as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// One line: the figures the documentation quotes.
    pub fn line(&self) -> String {
        format!(
            "{}: {} executions, {} panics, {} hangs, {} accepted, {} rejected, {} distinct messages, {:.1} s, {:.0} exec/s",
            self.target,
            self.executions,
            self.panics,
            self.hangs,
            self.accepted,
            self.rejected,
            self.distinct_messages,
            self.elapsed.as_secs_f64(),
            self.executions_per_second()
        )
    }
}

/// Most crashing inputs saved per target (the first ones).
const MAX_SAVED: usize = 100;
/// Most corpus entries; new ones replace random old ones (seeds stay).
const MAX_CORPUS: usize = 512;
/// Most masked messages remembered.
const MAX_MESSAGES: usize = 100_000;

/// Counters shared by every worker of one target and the supervisor.
struct Stats {
    executions: u64,
    panics: u64,
    hangs: u64,
    accepted: u64,
    rejected: u64,
    messages: HashSet<String>,
    saved: Vec<PathBuf>,
}

/// What a worker publishes so the supervisor can spot a hang.
struct Progress {
    /// Nanoseconds after the run started at which the current execution
    /// began; `u64::MAX` while between executions.
    started_ns: AtomicU64,
    /// The input being executed.
    current: Mutex<Option<Arc<Input>>>,
    /// Set when the supervisor gives up on this worker.
    abandoned: AtomicBool,
}

const IDLE: u64 = u64::MAX;

/// Run `target` for `config.executions` executions.
pub fn fuzz(target: &'static Target, config: &FuzzConfig) -> Summary {
    install_panic_hook();
    let start = Instant::now();
    let stats = Arc::new(Mutex::new(Stats {
        executions: 0,
        panics: 0,
        hangs: 0,
        accepted: 0,
        rejected: 0,
        messages: HashSet::new(),
        saved: Vec::new(),
    }));
    let mut restarts = 0u64;
    loop {
        let done = lock(&stats).executions;
        if done >= config.executions {
            break;
        }
        let progress = Arc::new(Progress {
            started_ns: AtomicU64::new(IDLE),
            current: Mutex::new(None),
            abandoned: AtomicBool::new(false),
        });
        let worker = Worker {
            target,
            config: config.clone(),
            // A fresh stream after each hang, still fixed by the seed.
            rng: Rng::new(config.seed ^ name_hash(target.name) ^ restarts.wrapping_mul(0x9e37)),
            stats: Arc::clone(&stats),
            progress: Arc::clone(&progress),
            start,
            budget: config.executions - done,
        };
        let handle = thread::Builder::new()
            .name(format!("fuzz-{}", target.name))
            // The stack a main thread gets, so recursion limits are tested
            // as the tools meet them.
            .stack_size(8 << 20)
            .spawn(move || worker.run())
            .expect("spawn a fuzz worker");
        if supervise(&handle, &progress, config, start) {
            handle.join().expect("fuzz workers catch every panic");
            continue;
        }
        // Hung: record it and leave the thread behind.
        progress.abandoned.store(true, Ordering::SeqCst);
        let input = lock(&progress.current).clone();
        let mut stats = lock(&stats);
        stats.hangs += 1;
        stats.executions += 1;
        if let Some(input) = input {
            let message = format!("hang: still running after {:?}", config.time_limit);
            let name = format!("hang-{}", stats.executions);
            save_crash(target, config, &mut stats, &name, &input, &message);
        }
        restarts += 1;
    }
    let stats = lock(&stats);
    let mut messages: Vec<String> = stats.messages.iter().cloned().collect();
    messages.sort();
    messages.truncate(config.list_messages);
    Summary {
        messages,
        target: target.name,
        executions: stats.executions,
        panics: stats.panics,
        hangs: stats.hangs,
        accepted: stats.accepted,
        rejected: stats.rejected,
        distinct_messages: stats.messages.len(),
        saved: stats.saved.clone(),
        elapsed: start.elapsed(),
    }
}

/// Wait for the worker; `true` when it finished, `false` when an execution
/// ran past the time limit.
fn supervise(
    handle: &thread::JoinHandle<()>,
    progress: &Progress,
    config: &FuzzConfig,
    start: Instant,
) -> bool {
    let poll = (config.time_limit / 20).clamp(Duration::from_millis(1), Duration::from_millis(50));
    while !handle.is_finished() {
        thread::sleep(poll);
        let started = progress.started_ns.load(Ordering::SeqCst);
        if started != IDLE {
            let running = start
                .elapsed()
                .saturating_sub(Duration::from_nanos(started));
            if running > config.time_limit {
                return false;
            }
        }
    }
    true
}

struct Worker {
    target: &'static Target,
    config: FuzzConfig,
    rng: Rng,
    stats: Arc<Mutex<Stats>>,
    progress: Arc<Progress>,
    start: Instant,
    budget: u64,
}

impl Worker {
    fn run(mut self) {
        let seeds = (self.target.seeds)();
        assert!(
            !seeds.is_empty(),
            "target {} has no seeds",
            self.target.name
        );
        let max_len = seeds
            .iter()
            .flat_map(|input| input.iter().map(Vec::len))
            .max()
            .unwrap_or(0)
            * 2
            + 1024;
        let style = Style {
            text: self.target.text,
            dictionary: self.target.dictionary,
            max_len,
        };
        let seed_count = seeds.len();
        let mut corpus = seeds;
        for index in 0..self.budget {
            if self.progress.abandoned.load(Ordering::SeqCst) {
                return;
            }
            // The seeds run unmutated first: they must be accepted.
            let input = if index < seed_count as u64 {
                corpus[index as usize].clone()
            } else {
                self.mutated(&corpus, seed_count, style)
            };
            let input = Arc::new(input);
            let (outcome, new_message) = self.execute(&input);
            let answered = matches!(outcome, Outcome::Accepted | Outcome::Rejected);
            if new_message && answered {
                let input = Arc::try_unwrap(input).unwrap_or_else(|shared| (*shared).clone());
                if corpus.len() < MAX_CORPUS {
                    corpus.push(input);
                } else {
                    let slot = seed_count + self.rng.below(MAX_CORPUS - seed_count);
                    corpus[slot] = input;
                }
            }
        }
    }

    fn mutated(&mut self, corpus: &[Input], seed_count: usize, style: Style<'_>) -> Input {
        // Half the time start from a seed: inputs kept for a new message are
        // mostly far from valid, and the validators sit behind valid syntax.
        let base = if self.rng.one_in(2) {
            &corpus[..seed_count]
        } else {
            corpus
        };
        let mut input = self.rng.pick(base).clone();
        let other = self.rng.pick(corpus);
        let file = *self.rng.pick(self.target.mutable);
        mutate(&mut self.rng, &mut input[file], &other[file], style);
        input
    }

    /// Run one input; returns what happened and whether its message (or
    /// acceptance) was new.
    fn execute(&mut self, input: &Arc<Input>) -> (Outcome, bool) {
        *lock(&self.progress.current) = Some(Arc::clone(input));
        let began = self.start.elapsed().as_nanos() as u64;
        self.progress.started_ns.store(began, Ordering::SeqCst);
        let result = catch_panic(|| (self.target.run)(input));
        self.progress.started_ns.store(IDLE, Ordering::SeqCst);
        let mut stats = lock(&self.stats);
        if self.progress.abandoned.load(Ordering::SeqCst) {
            // The supervisor already counted this one as a hang.
            return (Outcome::Abandoned, false);
        }
        stats.executions += 1;
        match result {
            Ok(Ok(())) => {
                stats.accepted += 1;
                (Outcome::Accepted, remember(&mut stats, "accepted".into()))
            }
            Ok(Err(message)) => {
                stats.rejected += 1;
                (Outcome::Rejected, remember(&mut stats, mask(&message)))
            }
            Err(message) => {
                stats.panics += 1;
                let name = format!("panic-{}", stats.executions);
                save_crash(
                    self.target,
                    &self.config,
                    &mut stats,
                    &name,
                    input,
                    &message,
                );
                (Outcome::Panic, false)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Accepted,
    Rejected,
    Panic,
    /// Finished after the supervisor had declared it a hang.
    Abandoned,
}

fn remember(stats: &mut Stats, message: String) -> bool {
    stats.messages.len() < MAX_MESSAGES && stats.messages.insert(message)
}

/// The kind of a message: everything between its first and last quote
/// (`` ` `` or `"`) becomes `…`, so does the value in `field = value: fix`,
/// and every word holding a digit (`12`, `0x0d0d`, `u8`) becomes `#`. So messages that differ only in values
/// count once, even when a quoted value holds quotes of its own.
pub fn mask(message: &str) -> String {
    // The value first: a value may hold quotes, and the fix after it does.
    mask_numbers(&collapse_quotes(&collapse_value(message)))
}

/// Everything between the first and the last quote as `…`.
fn collapse_quotes(message: &str) -> String {
    let is_quote = |ch: char| ch == '`' || ch == '"';
    match (message.find(is_quote), message.rfind(is_quote)) {
        (Some(first), Some(last)) if first < last => {
            format!("{}…{}", &message[..=first], &message[last..])
        }
        _ => message.to_string(),
    }
}

/// `field = VALUE: fix` (the validators' form) prints the user's value
/// unquoted: everything from ` = ` to the last `: ` is that value.
fn collapse_value(message: &str) -> String {
    if let Some(equals) = message.find(" = ") {
        if let Some(colon) = message.rfind(": ").filter(|&colon| colon > equals) {
            return format!("{}…{}", &message[..equals + 3], &message[colon..]);
        }
    }
    message.to_string()
}

fn mask_numbers(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut word = String::new();
    for ch in text.chars().chain(std::iter::once('\0')) {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
            continue;
        }
        if word.chars().any(|c| c.is_ascii_digit()) {
            masked.push('#');
        } else {
            masked.push_str(&word);
        }
        word.clear();
        if ch != '\0' {
            masked.push(ch);
        }
    }
    masked
}

/// Write a crashing input as the target's files under
/// `crash_dir/<target>/<name>/`, with the panic message beside them.
fn save_crash(
    target: &Target,
    config: &FuzzConfig,
    stats: &mut Stats,
    name: &str,
    input: &Input,
    message: &str,
) {
    let Some(root) = &config.crash_dir else {
        return;
    };
    if stats.saved.len() >= MAX_SAVED {
        return;
    }
    let dir = root.join(target.name).join(name);
    match write_files(&dir, target, input, message) {
        Ok(()) => stats.saved.push(dir),
        Err(error) => eprintln!("cannot save crashing input to {}: {error}", dir.display()),
    }
}

fn write_files(dir: &Path, target: &Target, input: &Input, message: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (file_name, bytes) in target.file_names.iter().zip(input) {
        std::fs::write(dir.join(file_name), bytes)?;
    }
    std::fs::write(dir.join("message.txt"), format!("{message}\n"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the counters are whole.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn name_hash(name: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

thread_local! {
    /// Set while a fuzz execution runs on this thread; the panic hook then
    /// records the message here instead of printing it.
    static CAPTURE: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

/// Run `f`, turning a panic into its message (with location).
fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    CAPTURE.with(|capture| *capture.borrow_mut() = Some(None));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    let message = CAPTURE.with(|capture| capture.borrow_mut().take().flatten());
    result.map_err(|_| message.unwrap_or_else(|| "panic without a message".into()))
}

/// Chain a hook in front of the existing one: silent inside fuzz
/// executions, unchanged everywhere else (other tests keep their output).
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|capture| {
                let mut capture = capture.borrow_mut();
                match capture.as_mut() {
                    Some(slot) => {
                        let payload = info
                            .payload()
                            .downcast_ref::<&str>()
                            .map(|s| s.to_string())
                            .or_else(|| info.payload().downcast_ref::<String>().cloned())
                            .unwrap_or_default();
                        let location = info
                            .location()
                            .map(|l| format!(" at {}:{}", l.file(), l.line()))
                            .unwrap_or_default();
                        *slot = Some(format!("panic: {payload}{location}"));
                        true
                    }
                    None => false,
                }
            });
            if !captured {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_the_kind_of_message() {
        assert_eq!(
            mask("line 12 column 3: unknown field `colour`"),
            mask("line 7 column 40: unknown field `x`")
        );
        assert_ne!(mask("unknown field `a`"), mask("missing field `a`"));
        assert_eq!(mask("magic 0x0d0d, expected u8"), "magic #, expected #");
        assert_eq!(
            mask("f.yaml: rows = a: b: must be 1..=64"),
            mask("f.yaml: rows = 0: must be 1..=64")
        );
        assert_eq!(
            mask(r#"string "a\"b`: 1", expected `x` at line 4"#),
            r#"string "…` at line #"#
        );
    }

    fn one_seed() -> Vec<Input> {
        vec![vec![b"abcdef".to_vec()]]
    }

    /// Rejects inputs with a `z`, panics on inputs longer than 8 bytes.
    static PANICKY: Target = Target {
        name: "test-panicky",
        about: "",
        file_names: &["input.bin"],
        mutable: &[0],
        text: false,
        dictionary: &[],
        seeds: one_seed,
        run: |input| {
            assert!(input[0].len() <= 8, "input too long");
            if input[0].contains(&b'z') {
                Err("has a z".into())
            } else {
                Ok(())
            }
        },
    };

    /// Never returns on an empty input.
    static HANGING: Target = Target {
        name: "test-hanging",
        run: |input| {
            while input[0].is_empty() {
                thread::sleep(Duration::from_secs(1));
            }
            Ok(())
        },
        ..PANICKY
    };

    fn config(executions: u64, crash_dir: &Path) -> FuzzConfig {
        FuzzConfig {
            executions,
            seed: 3,
            time_limit: Duration::from_millis(200),
            crash_dir: Some(crash_dir.to_path_buf()),
            list_messages: 0,
        }
    }

    #[test]
    fn panics_are_counted_and_their_inputs_saved() {
        let dir = tempfile::tempdir().unwrap();
        let summary = fuzz(&PANICKY, &config(2_000, dir.path()));
        assert_eq!(summary.executions, 2_000);
        assert!(
            summary.panics > 0 && summary.accepted > 0,
            "{}",
            summary.line()
        );
        assert_eq!(summary.hangs, 0);
        let saved = &summary.saved[0];
        let input = std::fs::read(saved.join("input.bin")).unwrap();
        assert!(
            input.len() > 8,
            "saved input {input:?} is not the crashing one"
        );
        let message = std::fs::read_to_string(saved.join("message.txt")).unwrap();
        assert!(message.contains("input too long"), "{message}");
    }

    #[test]
    fn hangs_are_counted_saved_and_survived() {
        let dir = tempfile::tempdir().unwrap();
        let summary = fuzz(&HANGING, &config(300, dir.path()));
        assert_eq!(summary.executions, 300, "the run goes on after a hang");
        assert!(summary.hangs > 0, "{}", summary.line());
        assert_eq!(summary.panics, 0);
        let hang = summary
            .saved
            .iter()
            .find(|dir| dir.to_string_lossy().contains("hang"))
            .expect("a hang is saved");
        assert!(std::fs::read(hang.join("input.bin")).unwrap().is_empty());
    }

    #[test]
    fn panics_are_caught_with_their_message() {
        install_panic_hook();
        let message = catch_panic(|| panic!("boom {}", 7)).unwrap_err();
        assert!(message.starts_with("panic: boom 7 at "), "{message}");
        assert_eq!(catch_panic(|| 5), Ok(5));
    }
}
