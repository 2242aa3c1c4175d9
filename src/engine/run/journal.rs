//! The run's journal writes, and telling front ends when writing a record file fails. These
//! stay synchronous inside the decisions on purpose: a task's state is in the journal (fsync'd
//! when it ends) before any front end hears of it, so what a front end saw survives a crash
//! and `grove resume` agrees with it. Moving them out of the decisions would lose that order.

use crate::record::journal::{AttemptFact, Entry, MergeFact};
use crate::record::{self, WriteHealth, WriteNews};

use super::super::api::{Event, MergeState};
use super::dispatcher::Run;

impl Run {
    pub(super) fn journal(&self, entry: Entry, sync: bool) {
        let outcome = self.journal.append(entry, sync);
        if let Err(e) = &outcome {
            self.audit
                .error("", &format!("cannot write the journal: {e}"));
        }
        let path = self.paths.run_dir.join(record::journal::FILE);
        self.tell_write(
            &self.journal_health,
            &path,
            outcome.err().map(|e| e.to_string()),
        );
    }

    /// Tells the front ends when writing a record file starts failing, and when it works again.
    pub(super) fn tell_write(
        &self,
        health: &WriteHealth,
        path: &std::path::Path,
        error: Option<String>,
    ) {
        let (text, failed) = match health.note(error) {
            None => return,
            Some(WriteNews::Failing(e)) => (format!("cannot write {}: {e}", path.display()), true),
            Some(WriteNews::Recovered) => (format!("{} is written again", path.display()), false),
        };
        let _ = self.events.send(Event::RecordWrite { text, failed });
    }

    /// The task's whole state after a transition; made durable when the task ended.
    pub(super) fn journal_state(&self, index: usize) {
        let t = &self.tasks[index];
        let fact = t.facts.state.fact(&t.spec.name);
        self.journal(Entry::State(fact), t.facts.state.status.is_final());
    }

    pub(super) fn journal_attempt(&self, report: &AttemptFact) {
        self.journal(Entry::Attempt(Box::new(report.clone())), false);
    }

    pub(super) fn journal_merge(&self, index: usize) {
        let t = &self.tasks[index];
        let fact = MergeFact {
            task: t.spec.name.clone(),
            state: t.facts.merge.state,
            commit: t.facts.merge.commit.clone(),
            conflicts: t.facts.merge.conflicts.clone(),
            reason: t.facts.merge.reason.clone(),
        };
        self.journal(
            Entry::Merge(fact),
            t.facts.merge.state != MergeState::Pending,
        );
    }
}
