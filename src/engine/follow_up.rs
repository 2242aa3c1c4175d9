//! Follow-ups: a new attempt of a finished task that continues its agent's recorded session
//! with a new prompt, in the task's worktree on its branch, so the agent keeps its context and
//! its commit goes on top. Also how a task held at a usage limit goes on after the reset.

use std::path::Path;

use crate::agent::session::valid_session;
use crate::agent::AgentCommand;
use crate::git;
use crate::status::{MergeState, TaskStatus};

use crate::record::journal::AttemptFact;

pub use crate::usage::FollowUp;

/// The prompt of the attempt that continues a session stopped by a usage limit.
pub const AFTER_LIMIT: &str = "Your usage limit has reset: go on with the task where you stopped.";

/// The follow-up of a task in `status` (merge state `merge`) whose attempts were `attempts`,
/// run by `agent`; or why it cannot have one, in words for the status line and the CLI.
pub fn follow_up(
    task: &str,
    status: TaskStatus,
    merge: MergeState,
    agent: &AgentCommand,
    attempts: &[AttemptFact],
    prompt: &str,
) -> Result<FollowUp, String> {
    let session = refusal(task, status, merge, agent, attempts)?;
    if prompt.trim().is_empty() {
        return Err(format!("a follow-up of '{task}' needs a prompt"));
    }
    Ok(FollowUp {
        prompt: prompt.to_string(),
        session,
    })
}

/// The session a follow-up of the task would continue, or why there can be none.
pub fn refusal(
    task: &str,
    status: TaskStatus,
    merge: MergeState,
    agent: &AgentCommand,
    attempts: &[AttemptFact],
) -> Result<String, String> {
    if !super::state::can_follow_up(status) {
        return Err(format!(
            "'{task}' is {}: a follow-up starts once it has finished",
            status.word()
        ));
    }
    if merge == MergeState::Discarded {
        return Err(format!(
            "'{task}' was discarded (another sibling of its race was picked)"
        ));
    }
    if merge == MergeState::Pending {
        return Err(format!("'{task}' is being merged"));
    }
    if agent.resume.is_none() {
        return Err(format!(
            "agent '{}' has no sessions to continue (give it a `resume` command in \
             [agents.{}])",
            agent.name, agent.name
        ));
    }
    session_of(attempts).ok_or_else(|| format!("'{task}' has no recorded session to continue"))
}

/// The latest session an attempt recorded (one that can stand as an argument).
pub fn session_of(attempts: &[AttemptFact]) -> Option<String> {
    attempts
        .iter()
        .rev()
        .filter_map(|a| a.usage.as_ref()?.session_id.clone())
        .find(|s| valid_session(s))
}

/// The task's worktree for a follow-up: kept as it is when it is there (with whatever the
/// agent left in it), else made again from the branch's tip.
pub fn worktree(repo: &Path, worktree: &Path, branch: &str) -> Result<(), git::GitError> {
    if worktree.join(".git").exists() && git::head_commit(worktree).is_ok() {
        return Ok(());
    }
    let tip = git::branch_tip(repo, branch)?;
    git::create_worktree(repo, worktree, branch, &tip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::Usage;
    use std::path::PathBuf;
    use std::time::SystemTime;

    fn agent(resume: bool) -> AgentCommand {
        let def = crate::agent::preset(if resume { "claude" } else { "shell" }).unwrap();
        AgentCommand {
            name: "claude".into(),
            argv: def.command.clone(),
            env: def.env,
            output: def.output,
            yes_prompts: def.yes_prompts,
            accept_key: def.accept_key,
            resume: resume.then_some(def.resume),
        }
    }

    fn attempt(session: Option<&str>) -> AttemptFact {
        let mut a = AttemptFact::new("t", 1, SystemTime::now(), PathBuf::from("/l"));
        a.usage = session.map(|s| Usage {
            session_id: Some(s.into()),
            ..Usage::default()
        });
        a
    }

    #[test]
    fn a_finished_task_continues_its_latest_session() {
        let attempts = [attempt(Some("s-1")), attempt(Some("s-2")), attempt(None)];
        for status in [
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::TimedOut,
        ] {
            let f = follow_up(
                "t",
                status,
                MergeState::Merged,
                &agent(true),
                &attempts,
                "more",
            )
            .unwrap();
            assert_eq!(f.session, "s-2");
            assert_eq!(f.prompt, "more");
        }
    }

    #[test]
    fn the_reasons_a_follow_up_is_refused() {
        let with = [attempt(Some("s-1"))];
        let refused = |status, merge, resume, attempts: &[AttemptFact], prompt| {
            follow_up("t", status, merge, &agent(resume), attempts, prompt).unwrap_err()
        };
        let ok = MergeState::NotRequested;
        assert_eq!(
            refused(TaskStatus::Running, ok, true, &with, "x"),
            "'t' is running: a follow-up starts once it has finished"
        );
        assert!(refused(
            TaskStatus::Succeeded,
            MergeState::Discarded,
            true,
            &with,
            "x"
        )
        .contains("discarded"));
        assert!(refused(TaskStatus::Succeeded, ok, false, &with, "x")
            .starts_with("agent 'claude' has no sessions to continue"));
        assert_eq!(
            refused(TaskStatus::Failed, ok, true, &[attempt(None)], "x"),
            "'t' has no recorded session to continue"
        );
        // A session id that would be read as an option is no session.
        assert_eq!(
            refused(TaskStatus::Failed, ok, true, &[attempt(Some("--x"))], "x"),
            "'t' has no recorded session to continue"
        );
        assert_eq!(
            refused(TaskStatus::Failed, ok, true, &with, " \n"),
            "a follow-up of 't' needs a prompt"
        );
    }
}
