//! Waiting for input: a running agent whose output has been quiet for `idle_after` and whose
//! screen ends in a prompt is waiting; with `auto_yes`, its known yes/no questions are answered
//! with its accept key. Driven by a timer the attempt resets on every output (no polling).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;

use crate::agent::prompt::{self, Prompt};
use crate::pty::PtyControl;
use crate::record::audit::Audit;
use crate::term::pane::Pane;

use super::report::Progress;

/// How long output must be quiet before `auto_yes` looks for a question to answer: long enough
/// for a prompt to be drawn whole, short enough not to hold the agent up.
const AUTO_YES_SETTLE: Duration = Duration::from_millis(700);

/// One attempt's watch over its agent's terminal.
pub(super) struct IdleWatch {
    /// Woken by the output sink on every chunk.
    pub activity: Arc<Notify>,
    idle_after: Duration,
    auto_yes: bool,
    yes_prompts: Vec<String>,
    accept_key: String,
    pane: Arc<Pane>,
    control: PtyControl,
    quiet_since: Instant,
    /// `auto_yes` typed its key and no output came since.
    answered: bool,
    waiting: bool,
    idle_exit: bool,
    /// The agent sat idle at its input box with `idle_exit` set: the attempt ends.
    pub idle: bool,
    report: Reporter,
}

/// Where the watch tells what it saw.
pub(super) struct Reporter {
    pub progress: mpsc::UnboundedSender<Progress>,
    pub audit: Audit,
    pub index: usize,
    pub attempt: u32,
    pub task: String,
}

/// What the watch needs to know about the agent.
pub(super) struct WatchSpec {
    pub idle_after: Duration,
    pub auto_yes: bool,
    /// End the attempt when the agent sits idle at its input box.
    pub idle_exit: bool,
    pub yes_prompts: Vec<String>,
    pub accept_key: String,
}

impl IdleWatch {
    pub fn new(
        spec: WatchSpec,
        activity: Arc<Notify>,
        pane: Arc<Pane>,
        control: PtyControl,
        report: Reporter,
    ) -> IdleWatch {
        IdleWatch {
            activity,
            idle_after: spec.idle_after,
            auto_yes: spec.auto_yes,
            yes_prompts: spec.yes_prompts,
            accept_key: spec.accept_key,
            pane,
            control,
            quiet_since: Instant::now(),
            answered: false,
            waiting: false,
            idle_exit: spec.idle_exit,
            idle: false,
            report,
        }
    }

    /// When to look at the screen first after output stops.
    fn first_look(&self) -> Instant {
        let delay = if self.auto_yes {
            AUTO_YES_SETTLE.min(self.idle_after)
        } else {
            self.idle_after
        };
        later(self.quiet_since, delay)
    }

    /// When the first look is due, for a watch just started.
    pub fn start(&self) -> Instant {
        self.first_look()
    }

    /// The agent printed something: it is not waiting (any more). Returns when to look next.
    pub fn output(&mut self) -> Instant {
        self.quiet_since = Instant::now();
        self.answered = false;
        if self.waiting {
            self.waiting = false;
            self.send(None);
        }
        self.first_look()
    }

    /// The timer fired: look at the screen. Returns when to look again, if the watch should.
    pub fn look(&mut self) -> Option<Instant> {
        let quiet = self.quiet_since.elapsed();
        let rows = self.pane.with_screen(screen_rows).unwrap_or_default();
        let found = prompt::detect(&rows, &self.yes_prompts);
        if let (true, false, Some(Prompt::YesNo(line))) = (self.auto_yes, self.answered, &found) {
            let line = line.as_str();
            let bytes = prompt::key_bytes(&self.accept_key);
            if self.control.write(&bytes).is_ok() {
                self.report.audit.answer(
                    &self.report.task,
                    self.report.attempt,
                    line,
                    &self.accept_key,
                );
                self.answered = true;
            }
            // The answer counts as activity: should it change nothing on screen, the question
            // counts as waiting once the agent has been quiet for `idle_after` after it.
            self.quiet_since = Instant::now();
            return Some(later(self.quiet_since, self.idle_after));
        }
        if quiet < self.idle_after {
            return Some(later(self.quiet_since, self.idle_after));
        }
        if let Some(found) = found {
            if found == Prompt::Idle && self.idle_exit {
                self.idle = true;
                return None;
            }
            if !self.waiting {
                self.waiting = true;
                self.send(Some(found.line()));
            }
        }
        None
    }

    fn send(&self, prompt: Option<String>) {
        let _ = self.report.progress.send(Progress::Waiting {
            index: self.report.index,
            attempt: self.report.attempt,
            prompt,
        });
    }
}

/// `at + by`, or a century on when that is past what the clock holds: a look that never comes.
fn later(at: Instant, by: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);
    at.checked_add(by)
        .or_else(|| at.checked_add(CENTURY))
        .unwrap_or(at)
}

/// The visible rows of a screen, as text.
fn screen_rows(screen: &vt100::Screen) -> Vec<String> {
    let (_, cols) = screen.size();
    screen.rows(0, cols).collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::pty::{Display, OutputSink, SpawnSpec};

    struct Discard;

    impl OutputSink for Discard {
        fn output(&mut self, _bytes: Vec<u8>) -> Vec<u8> {
            Vec::new()
        }
    }

    impl Display for Discard {
        fn show(&mut self, _bytes: &[u8], _replies: &mut dyn Write) {}
    }

    #[tokio::test]
    async fn the_longest_idle_after_does_not_overflow_the_clock() {
        let dir = tempfile::tempdir().unwrap();
        let spec = SpawnSpec {
            argv: vec!["true".into()],
            cwd: dir.path().to_path_buf(),
            base_env: crate::environment::Environment::current(),
            env: Vec::new(),
            rows: 24,
            cols: 80,
        };
        let mut spawned = crate::pty::spawn(&spec, Discard, Discard).unwrap();
        let (progress, _seen) = mpsc::unbounded_channel();
        let report = Reporter {
            progress,
            audit: Audit::open(dir.path()).unwrap(),
            index: 0,
            attempt: 1,
            task: "t".into(),
        };
        let spec = WatchSpec {
            idle_after: Duration::MAX,
            auto_yes: false,
            idle_exit: false,
            yes_prompts: Vec::new(),
            accept_key: "y".into(),
        };
        let pane = Arc::new(Pane::new(24, 80, 100));
        let activity = Arc::new(Notify::new());
        let mut watch = IdleWatch::new(spec, activity, pane, spawned.control.clone(), report);
        let year = Duration::from_secs(365 * 24 * 3600);
        let now = Instant::now();
        assert!(watch.start() > now + year);
        assert!(watch.output() > now + year);
        assert!(watch.look().is_some_and(|next| next > now + year));
        (&mut spawned.exit).await.unwrap();
    }
}
