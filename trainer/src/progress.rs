//! Progress of a run, always on stderr (or a callback), never on stdout.
//!
//! On a terminal each training task draws a bar. When stderr is not a
//! terminal (a log file, a pipe, CI) indicatif would hide the bars and a run
//! would be silent for minutes, so tasks print plain lines instead: one
//! every [`LINE_INTERVAL`], one at the end of every teacher epoch and one
//! when a task finishes. A callback receives the same lines (tests, or a
//! program embedding the trainer).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a running task prints a line when there are no bars.
pub const LINE_INTERVAL: Duration = Duration::from_secs(10);

/// Where progress goes.
#[derive(Clone)]
pub struct Progress {
    sink: Sink,
}

#[derive(Clone)]
enum Sink {
    Off,
    /// stderr is a terminal: bars, and lines between them.
    Bars,
    /// Plain lines on stderr.
    StderrLines,
    Callback(Arc<dyn Fn(&str) + Send + Sync>),
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Off => "off",
            Sink::Bars => "bars on stderr",
            Sink::StderrLines => "lines on stderr",
            Sink::Callback(_) => "lines to a callback",
        };
        write!(f, "Progress({sink})")
    }
}

impl Progress {
    /// No progress at all.
    pub fn off() -> Progress {
        Progress { sink: Sink::Off }
    }

    /// Bars on stderr when it is a terminal, plain lines otherwise.
    pub fn stderr() -> Progress {
        let sink = if std::io::stderr().is_terminal() {
            Sink::Bars
        } else {
            Sink::StderrLines
        };
        Progress { sink }
    }

    /// Every line to `print` (no bars).
    pub fn lines(print: impl Fn(&str) + Send + Sync + 'static) -> Progress {
        Progress {
            sink: Sink::Callback(Arc::new(print)),
        }
    }

    /// A line of its own (a result, a decision).
    pub fn say(&self, line: &str) {
        match &self.sink {
            Sink::Off => {}
            Sink::Bars | Sink::StderrLines => eprintln!("{line}"),
            Sink::Callback(print) => print(line),
        }
    }

    /// A task of `total` steps named `label` ("teacher", "stage 2/7 conv2").
    pub fn task(&self, label: &str, total: u64) -> Task {
        let bar = matches!(self.sink, Sink::Bars).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>16} [{bar:30}] {pos}/{len} steps {msg} (eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar
        });
        let now = Instant::now();
        Task {
            progress: self.clone(),
            bar,
            label: label.to_string(),
            total,
            done: 0,
            started: now,
            last_line: now,
        }
    }

    fn prints_lines(&self) -> bool {
        matches!(self.sink, Sink::StderrLines | Sink::Callback(_))
    }
}

/// `true`: [`Progress::stderr`]; `false`: [`Progress::off`].
impl From<bool> for Progress {
    fn from(on: bool) -> Progress {
        if on {
            Progress::stderr()
        } else {
            Progress::off()
        }
    }
}

/// One running task: a bar, or lines now and then.
pub struct Task {
    progress: Progress,
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    started: Instant,
    last_line: Instant,
}

impl Task {
    /// One step done. `message` (the running loss, say) is only formatted
    /// when it is shown.
    pub fn step(&mut self, message: impl FnOnce() -> String) {
        self.done += 1;
        if let Some(bar) = &self.bar {
            bar.set_message(message());
            bar.inc(1);
        } else if self.progress.prints_lines() && self.last_line.elapsed() >= LINE_INTERVAL {
            self.line(&message());
        }
    }

    /// A line now, with `message` (when there are no bars; a bar already
    /// shows it). For milestones such as the end of an epoch.
    pub fn milestone(&mut self, message: &str) {
        if self.bar.is_none() && self.progress.prints_lines() {
            self.line(message);
        }
    }

    /// The task is over: the bar goes away; without bars a last line says
    /// where it ended.
    pub fn finish(mut self, message: &str) {
        match self.bar.take() {
            Some(bar) => bar.finish_and_clear(),
            None => {
                if self.progress.prints_lines() {
                    self.line(message);
                }
            }
        }
    }

    fn line(&mut self, message: &str) {
        self.last_line = Instant::now();
        self.progress.say(&format!(
            "{}: {}/{} steps, {message} ({:.0} s)",
            self.label,
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn collected() -> (Progress, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let progress = Progress::lines(move |line| sink.lock().unwrap().push(line.to_string()));
        (progress, lines)
    }

    #[test]
    fn lines_mode_prints_milestones_and_the_end_not_every_step() {
        let (progress, lines) = collected();
        let mut task = progress.task("teacher", 4);
        for step in 0..4 {
            task.step(|| format!("loss {step}"));
            if step == 1 {
                task.milestone("epoch 1/2");
            }
        }
        task.finish("loss 3");
        progress.say("teacher: 90% test accuracy");
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].starts_with("teacher: 2/4 steps, epoch 1/2"),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("teacher: 4/4 steps, loss 3"),
            "{lines:?}"
        );
        assert_eq!(lines[2], "teacher: 90% test accuracy");
    }

    #[test]
    fn off_prints_nothing_and_never_formats() {
        let progress = Progress::off();
        let mut task = progress.task("x", 2);
        task.step(|| panic!("formatted a message nobody sees"));
        task.milestone("m");
        task.finish("done");
        progress.say("nothing");
    }
}
