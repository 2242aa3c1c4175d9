//! What the dashboard says on the main screen when it closes: which run it was, where its
//! results are, and the commands that go on from there.

use super::app::App;
use crate::engine::api::{MergeState, TaskStatus};

impl App {
    /// The lines printed after the dashboard closed.
    pub fn farewell(&self) -> Vec<String> {
        let id = &self.info.run_id;
        if self.tasks.is_empty() {
            return vec![format!(
                "grove: no task was started; run {id} was not recorded"
            )];
        }
        let total = self.tasks.len();
        let count = |status: TaskStatus| {
            self.tasks
                .iter()
                .filter(|t| t.view.status == status)
                .count()
        };
        let mut counts = vec![format!(
            "{} of {total} succeeded",
            count(TaskStatus::Succeeded)
        )];
        for status in TaskStatus::ALL {
            let n = count(status);
            if n > 0 && status != TaskStatus::Succeeded {
                counts.push(format!("{n} {}", status.word()));
            }
        }
        let mut lines = vec![
            format!("grove: run {id}: {}", counts.join(", ")),
            format!("  results  {}", self.info.results_path.display()),
            format!("  grove show {id}    the run's tasks and outcomes"),
        ];
        let unmerged: Vec<&str> = self
            .tasks
            .iter()
            .filter(|t| {
                t.view.status == TaskStatus::Succeeded
                    && matches!(t.view.merge, MergeState::NotRequested | MergeState::Refused)
            })
            .map(|t| t.view.name.as_str())
            .collect();
        if !unmerged.is_empty() {
            lines.push(format!(
                "  grove merge {id} {}    merge the succeeded tasks into {}",
                unmerged.join(" "),
                self.info
                    .base_branch
                    .as_ref()
                    .unwrap_or(&self.info.base_label)
            ));
        }
        let interrupted = self.summary.as_ref().is_some_and(|s| s.interrupted);
        if interrupted {
            lines.push(format!(
                "  grove resume {id}    start again the tasks the quit stopped"
            ));
        }
        lines
    }
}
