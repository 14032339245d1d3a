//! The reaper: a job whose current stage has been at it past the stage's deadline is
//! failed, with the stage and a plain message, so that no job reads `running` for ever
//! (an event lost, a service that died without a word, a wait that never ends). Several
//! trackers may reap at once: failing a job is idempotent, and the first failure sticks.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use cratedigger_domain::JobError;
use cratedigger_kit::{Runnable, Shutdown, Task};
use cratedigger_kv::KvError;
use cratedigger_status::StatusBoard;

use crate::settings::TrackerSettings;

/// The code of a job failed by its deadline.
pub const STAGE_DEADLINE: &str = "stage_deadline";

pub struct Reaper {
    board: StatusBoard,
    settings: TrackerSettings,
}

impl Reaper {
    pub fn new(board: StatusBoard, settings: TrackerSettings) -> Arc<Self> {
        Arc::new(Self { board, settings })
    }

    /// Fails every job past its current stage's deadline at `now`; returns how many.
    pub async fn reap(&self, now: DateTime<Utc>) -> Result<usize, KvError> {
        let deadlines = &self.settings.deadlines;
        let overdue = self.board.overdue(now, |stage| deadlines.of(stage)).await?;
        for late in &overdue {
            let minutes = deadlines.of(late.stage).as_secs().div_ceil(60);
            let error = JobError {
                code: STAGE_DEADLINE.to_owned(),
                message: format!(
                    "the {} stage did not finish within {minutes} minute{}; try again later",
                    late.stage,
                    if minutes == 1 { "" } else { "s" }
                ),
                retryable: true,
                stage: Some(late.stage),
            };
            tracing::warn!(job_id = %late.job, stage = %late.stage, running_for_s = late.running_for.as_secs(), "stage past its deadline: job failed");
            self.board.job_failed(&late.job, &error, now).await?;
        }
        Ok(overdue.len())
    }

    /// Reaps every `reap_every` until shutdown; a board that cannot be read is tried
    /// again at the next turn.
    pub fn task(self: &Arc<Self>) -> Box<dyn Runnable> {
        let reaper = self.clone();
        Task::new("tracker.reaper", move |shutdown: Shutdown| async move {
            let every = reaper.settings.reap_every();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = shutdown.wait() => return Ok(()),
                }
                if let Err(e) = reaper.reap(Utc::now()).await {
                    tracing::warn!(error = %e, "reaper could not read the board; trying again later");
                }
            }
        })
    }
}
