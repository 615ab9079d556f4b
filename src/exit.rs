//! How `tandem` ends: exit codes, the one-line error report, and a quiet
//! end on a closed pipe.
//!
//! Exit codes: 0 success, 1 error, 2 usage (a bad or missing argument;
//! clap exits 2 for its own parse errors, [`usage`] marks ours).

use std::fmt;
use std::process::ExitCode;

/// The `tandem --help` text about exit codes and the output rules every
/// command follows.
pub const AFTER_HELP: &str = "\
Output:
  --json      stdout ends with one JSON line (read it with `tail -n 1`);
              human-readable text may come before it. --json changes
              nothing else.
  Progress    always on stderr, never on stdout: a bar on a terminal,
              otherwise a plain line every few seconds and one at the end.
  A closed pipe (`tandem ... | head -1`) ends the command quietly: it is
  stopped by SIGPIPE, as `cat` and `grep` are (the shell reports 141).

Exit status:
  0  success
  1  error (stderr names the problem)
  2  usage error: a bad, missing or conflicting argument";

/// A bad argument value or combination: reported like any error, but the
/// exit code is 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A usage error (exit code 2) with this message.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// A usage error (exit code 2) whose cause is `cause`: printed as
/// "message: cause".
pub fn usage_because(
    message: impl Into<String>,
    cause: impl std::error::Error + Send + Sync + 'static,
) -> anyhow::Error {
    anyhow::Error::new(cause).context(UsageError(message.into()))
}

/// Whether `error` is (or wraps) a [`UsageError`].
pub fn is_usage(error: &anyhow::Error) -> bool {
    // downcast_ref sees UsageError as the error or as a context over any
    // depth of anyhow contexts; chain() finds it as a plain source.
    error.downcast_ref::<UsageError>().is_some()
        || error.chain().any(|cause| cause.is::<UsageError>())
}

/// The exit code for `error`: 2 for a usage error, else 1.
pub fn code_for(error: &anyhow::Error) -> ExitCode {
    if is_usage(error) {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// The whole cause chain on one line, "X: Y: Z", each cause once: a cause
/// whose text the cause before it already contains (a library error that
/// embeds its source in its message and also returns it from `source()`)
/// is skipped.
pub fn chain_message(error: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut previous: Option<String> = None;
    for cause in error.chain() {
        let text = cause.to_string();
        let repeat = previous.as_deref().is_some_and(|p| p.contains(&text));
        if !repeat && !text.is_empty() {
            parts.push(text.clone());
        }
        previous = Some(text);
    }
    parts.join(": ")
}

/// Let a write to a closed stdout (`tandem ... | head -1`) stop the process
/// quietly, as it stops `cat`: Rust ignores SIGPIPE, so without this every
/// `println!` after the reader left panics with "failed printing to stdout".
/// Restoring the default covers every command and every print at once; the
/// cost is that the process ends without running destructors, which is
/// harmless here because stdout is written after the work is done.
pub fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that embeds its source's text and also returns it, the
    /// pattern that printed "No such file ... (os error 2)" twice.
    #[derive(Debug)]
    struct Embeds(std::io::Error);

    impl fmt::Display for Embeds {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "configs/x.yaml: {}", self.0)
        }
    }

    impl std::error::Error for Embeds {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    fn not_found() -> std::io::Error {
        std::io::Error::from(std::io::ErrorKind::NotFound)
    }

    #[test]
    fn an_embedded_source_is_printed_once() {
        let error = anyhow::Error::new(Embeds(not_found())).context("cannot read hardware config");
        let io_text = not_found().to_string();
        let line = chain_message(&error);
        assert_eq!(
            line,
            format!("cannot read hardware config: configs/x.yaml: {io_text}")
        );
        assert_eq!(line.matches(&io_text).count(), 1, "{line}");
    }

    #[test]
    fn distinct_causes_are_all_printed() {
        let error = anyhow::Error::new(not_found())
            .context("configs/x.yaml")
            .context("cannot read hardware config");
        assert_eq!(
            chain_message(&error),
            format!(
                "cannot read hardware config: configs/x.yaml: {}",
                not_found()
            )
        );
    }

    #[test]
    fn usage_errors_exit_2_wherever_they_sit() {
        assert!(is_usage(&usage("--images 0 runs nothing")));
        assert!(is_usage(&usage("bad").context("while parsing")));
        assert!(is_usage(&usage_because("invalid --dataset", not_found())));
        assert!(!is_usage(&anyhow::Error::new(not_found()).context("x")));
        assert_eq!(code_for(&usage("bad")), ExitCode::from(2));
        assert_eq!(code_for(&anyhow::anyhow!("bad")), ExitCode::FAILURE);
    }

    #[test]
    fn usage_because_keeps_the_cause() {
        let error = usage_because("invalid --dataset", not_found());
        assert_eq!(
            chain_message(&error),
            format!("invalid --dataset: {}", not_found())
        );
    }
}
