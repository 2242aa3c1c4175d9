//! The task's `check`, run after the agent exited 0: in the attempt's terminal like a setup step;
//! the attempt succeeds only if it passes.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::record::journal::{AttemptFact, CheckFact};

use super::super::output::Tail;
use super::super::state::AttemptEnd;
use super::outcome::{timed_out, Failure, How};
use super::setup;
use super::terminal::Terminal;

/// Runs the task's check in the attempt's terminal and records it in `report`; Err: how the
/// attempt ends instead of succeeding.
pub(super) async fn run_check(
    term: &mut Terminal<'_>,
    command: &str,
    report: &mut AttemptFact,
) -> Result<(), Failure> {
    let job = term.job;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let started = Instant::now();
    let step = setup::shell_step(command);
    let ran = term
        .run_shown(&step.label, &step.argv, Some(tail.clone()))
        .await;
    let output = tail.lock().map(|t| t.text()).unwrap_or_default();
    let (how, exit) = match ran {
        Ok(ran) => ran,
        Err(e) => {
            job.audit.check(&job.spec.name, job.attempt, command, &e);
            return Err(Failure::saved(
                AttemptEnd::Failed,
                format!("check '{command}' could not start: {e}"),
            ));
        }
    };
    let failure = match &how {
        How::TimedOut => Some(Failure::saved(
            AttemptEnd::TimedOut,
            format!("{} (in check: {command})", timed_out(job.spec.timeout)),
        )),
        How::Stopped(reason) => Some(Failure::saved(AttemptEnd::Cancelled, reason.clone())),
        How::Exited | How::AfterResult | How::Idle => term.exit_error(exit.as_ref()).map(|why| {
            Failure::saved(
                AttemptEnd::Failed,
                format!("check '{command}' failed: {why}"),
            )
        }),
    };
    let outcome = failure.as_ref().map_or("passed", |f| f.error.as_str());
    job.audit
        .check(&job.spec.name, job.attempt, command, outcome);
    report.check = Some(CheckFact {
        command: command.to_string(),
        exit_code: exit.as_ref().filter(|e| e.signal.is_none()).map(|e| e.code),
        passed: failure.is_none(),
        duration_s: started.elapsed().as_secs_f64(),
        output,
    });
    failure.map_or(Ok(()), Err)
}
