//! Progress on stderr, never on stdout, with or without `--json`: a bar
//! when stderr is a terminal; otherwise (a log file, a pipe, CI) a plain
//! line at most every [`LINE_INTERVAL`] and one at the end, so a long run
//! written to a file still shows that it is alive and how far it got.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Least time between two plain progress lines.
pub const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Progress over `total` items; see the module documentation.
pub struct Progress {
    display: Display,
}

enum Display {
    Bar(ProgressBar),
    Lines(Mutex<Lines>),
}

/// A progress display counting `total` items of `unit` (e.g. "images").
pub fn bar(total: u64, unit: &str) -> Progress {
    let display = if std::io::stderr().is_terminal() {
        Display::Bar(terminal_bar(total, unit))
    } else {
        Display::Lines(Mutex::new(Lines::new(total, unit, Instant::now())))
    };
    Progress { display }
}

fn terminal_bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{spinner}} {{msg}} [{{bar:40}}] {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
    );
    bar.set_style(
        ProgressStyle::with_template(&template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

impl Progress {
    /// What is being done ("golden inference"); shown before the count.
    pub fn set_message(&self, message: &str) {
        match &self.display {
            Display::Bar(bar) => bar.set_message(message.to_string()),
            Display::Lines(lines) => lock(lines).message = message.to_string(),
        }
    }

    /// `n` more items done.
    pub fn inc(&self, n: u64) {
        match &self.display {
            Display::Bar(bar) => bar.inc(n),
            Display::Lines(lines) => {
                if let Some(line) = lock(lines).advance(n, Instant::now()) {
                    eprintln_quiet(&line);
                }
            }
        }
    }

    /// All done: the bar is cleared (the command prints its own summary);
    /// without a terminal, a last line with the count and the time taken.
    pub fn finish(&self) {
        match &self.display {
            Display::Bar(bar) => bar.finish_and_clear(),
            Display::Lines(lines) => {
                let line = lock(lines).final_line(Instant::now());
                eprintln_quiet(&line);
            }
        }
    }
}

fn lock(lines: &Mutex<Lines>) -> std::sync::MutexGuard<'_, Lines> {
    // A panic elsewhere while holding the lock leaves plain counters: still usable.
    lines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Progress is best effort: a closed stderr must not stop the work.
fn eprintln_quiet(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The state of the plain-line display, with time passed in so that the
/// formatting and the throttle are testable.
struct Lines {
    unit: String,
    message: String,
    total: u64,
    position: u64,
    started: Instant,
    throttle: Throttle,
}

impl Lines {
    fn new(total: u64, unit: &str, started: Instant) -> Self {
        Lines {
            unit: unit.to_string(),
            message: String::new(),
            total,
            position: 0,
            started,
            throttle: Throttle::new(LINE_INTERVAL),
        }
    }

    /// Count `n` more items; the line to print, if one is due.
    fn advance(&mut self, n: u64, now: Instant) -> Option<String> {
        self.position = self.position.saturating_add(n);
        let elapsed = now.saturating_duration_since(self.started);
        self.throttle
            .due(elapsed)
            .then(|| self.line(elapsed, Phase::Running))
    }

    fn final_line(&self, now: Instant) -> String {
        self.line(now.saturating_duration_since(self.started), Phase::Done)
    }

    fn line(&self, elapsed: Duration, phase: Phase) -> String {
        let counts = progress_line(&self.unit, self.position, self.total, elapsed, phase);
        if self.message.is_empty() {
            counts
        } else {
            format!("{}: {counts}", self.message)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    Done,
}

/// "images 120/10000 (1.2%), 35.1/s, eta 4m41s"; when done, "done in 4m45s"
/// instead of the eta.
fn progress_line(unit: &str, position: u64, total: u64, elapsed: Duration, phase: Phase) -> String {
    let seconds = elapsed.as_secs_f64();
    let percent = if total == 0 {
        100.0
    } else {
        position as f64 * 100.0 / total as f64
    };
    let rate = if seconds > 0.0 {
        position as f64 / seconds
    } else {
        0.0
    };
    let tail = match phase {
        Phase::Done => format!("done in {}", short_duration(seconds)),
        Phase::Running if rate > 0.0 => {
            let left = total.saturating_sub(position) as f64 / rate;
            format!("eta {}", short_duration(left))
        }
        Phase::Running => "eta ?".to_string(),
    };
    format!("{unit} {position}/{total} ({percent:.1}%), {rate:.1}/s, {tail}")
}

/// "12s", "4m41s", "2h05m".
fn short_duration(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    let (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours > 0 {
        format!("{hours}h{minutes:02}m")
    } else if minutes > 0 {
        format!("{minutes}m{secs:02}s")
    } else {
        format!("{secs}s")
    }
}

/// Allows one event per `interval` of elapsed time, the first after one
/// interval (a run shorter than that prints only its final line).
struct Throttle {
    interval: Duration,
    last: Duration,
}

impl Throttle {
    fn new(interval: Duration) -> Self {
        Throttle {
            interval,
            last: Duration::ZERO,
        }
    }

    fn due(&mut self, elapsed: Duration) -> bool {
        if elapsed >= self.last + self.interval {
            self.last = elapsed;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_shows_count_percent_rate_and_eta() {
        let line = progress_line(
            "images",
            120,
            10_000,
            Duration::from_secs_f64(120.0 / 35.1),
            Phase::Running,
        );
        assert_eq!(line, "images 120/10000 (1.2%), 35.1/s, eta 4m41s");
    }

    #[test]
    fn final_line_shows_the_time_taken() {
        let line = progress_line("GEMMs", 50, 50, Duration::from_secs(7325), Phase::Done);
        assert_eq!(line, "GEMMs 50/50 (100.0%), 0.0/s, done in 2h02m");
        let line = progress_line("images", 4, 4, Duration::from_secs(2), Phase::Done);
        assert_eq!(line, "images 4/4 (100.0%), 2.0/s, done in 2s");
    }

    #[test]
    fn nothing_done_yet_has_no_eta() {
        let line = progress_line("images", 0, 10, Duration::ZERO, Phase::Running);
        assert_eq!(line, "images 0/10 (0.0%), 0.0/s, eta ?");
    }

    #[test]
    fn throttle_allows_one_line_per_interval() {
        let mut throttle = Throttle::new(Duration::from_secs(5));
        let at = |s: f64| Duration::from_secs_f64(s);
        assert!(!throttle.due(at(0.0)));
        assert!(!throttle.due(at(4.9)));
        assert!(throttle.due(at(5.0)));
        assert!(!throttle.due(at(9.9)));
        assert!(throttle.due(at(10.2)));
        assert!(!throttle.due(at(15.1)));
        assert!(throttle.due(at(15.2)));
    }

    #[test]
    fn plain_lines_are_throttled_and_carry_the_message() {
        let start = Instant::now();
        let mut lines = Lines::new(100, "images", start);
        lines.message = "golden inference".to_string();
        let printed: Vec<String> = (1..=100)
            .filter_map(|i| lines.advance(1, start + Duration::from_millis(i * 120)))
            .collect();
        // 100 items over 12 s: lines at 5 s and 10 s, nothing in between.
        assert_eq!(printed.len(), 2, "{printed:?}");
        assert!(
            printed[0].starts_with("golden inference: images 42/100 (42.0%), 8.3/s, eta 7s"),
            "{printed:?}"
        );
        let last = lines.final_line(start + Duration::from_secs(12));
        assert_eq!(
            last,
            "golden inference: images 100/100 (100.0%), 8.3/s, done in 12s"
        );
    }
}
