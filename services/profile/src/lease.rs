//! One sync of a user at a time. The first job to sync a user holds the user's lease;
//! another that arrives meanwhile follows it instead of syncing too (two syncs would each
//! prune what the other wrote, and fetch everything twice). When the leader's profile
//! stage ends, it lets go and hands its followers back: each is requested again, and
//! then finds the profile current (or, if the leader failed, syncs itself). A leader that
//! ended without letting go (a crash, the reaper) is recognised on the status board, and
//! its lease is taken over.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use cratedigger_domain::{JobId, JobSpec, Username};
use cratedigger_kv::{KeyValue, KvError};
use cratedigger_status::StatusBoard;

/// A lease outlives any sync; a stuck holder is found out through the board instead.
const LEASE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Tries at the lease before a job goes ahead anyway (leaders changing hands under it).
const TRIES: usize = 3;

pub(crate) enum Lease {
    /// This job syncs the user.
    Ours,
    /// Another job is syncing the user: this one waits for it.
    Following(JobId),
}

pub(crate) struct SyncLease {
    kv: Arc<dyn KeyValue>,
    board: StatusBoard,
}

fn lease_key(user: &Username) -> String {
    format!("profile:sync:{}", user.key())
}

fn followers_key(leader: &JobId) -> String {
    format!("profile:followers:{leader}")
}

impl SyncLease {
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        let board = StatusBoard::new(kv.clone());
        Self { kv, board }
    }

    /// Takes the user's lease for `spec`, or names the job that holds it. A redelivered
    /// request of the holder is the holder.
    pub async fn acquire(&self, spec: &JobSpec) -> Result<Lease, KvError> {
        let key = lease_key(&spec.username);
        for _ in 0..TRIES {
            if self
                .kv
                .set_if_absent(&key, spec.id.as_str(), Some(LEASE_TTL))
                .await?
            {
                return Ok(Lease::Ours);
            }
            let Some(holder) = self.kv.get(&key).await? else {
                continue;
            };
            if holder == spec.id.as_str() {
                return Ok(Lease::Ours);
            }
            if let Ok(leader) = holder.parse::<JobId>()
                && self.is_running(&leader).await?
            {
                return Ok(Lease::Following(leader));
            }
            // Its holder ended without letting go: free again.
            tracing::info!(username = %spec.username, holder, "taking over the sync lease of a job that ended");
            self.kv.delete(&key).await?;
        }
        Ok(Lease::Ours)
    }

    async fn is_running(&self, job: &JobId) -> Result<bool, KvError> {
        Ok(self
            .board
            .read(job, Utc::now())
            .await?
            .is_some_and(|status| !status.state.is_final()))
    }

    /// Puts `spec` among the jobs `leader` hands back when it lets go. False when the
    /// leader let go meanwhile without taking it along: the caller goes ahead itself.
    pub async fn follow(&self, spec: &JobSpec, leader: &JobId) -> Result<bool, KvError> {
        let member = serde_json::to_string(spec).unwrap_or_default();
        let followers = followers_key(leader);
        self.kv.set_add(&followers, &member).await?;
        self.kv.expire(&followers, LEASE_TTL).await?;
        let held = self.kv.get(&lease_key(&spec.username)).await?;
        if held.as_deref() == Some(leader.as_str()) {
            return Ok(true);
        }
        // Let go meanwhile: whoever removes the entry runs the job (the leader, or us).
        Ok(!self.kv.set_remove(&followers, &member).await?)
    }

    /// Puts a follower handed back by `leader` back in its place (its new request could
    /// not be sent), so that the leader's retry hands it back again.
    pub async fn put_back(&self, follower: &JobSpec, leader: &JobId) -> Result<(), KvError> {
        let member = serde_json::to_string(follower).unwrap_or_default();
        self.kv.set_add(&followers_key(leader), &member).await?;
        Ok(())
    }

    /// Lets go of the lease if `spec` holds it, and returns the jobs that followed it,
    /// each to exactly one caller.
    pub async fn release(&self, spec: &JobSpec) -> Result<Vec<JobSpec>, KvError> {
        let key = lease_key(&spec.username);
        if self.kv.get(&key).await?.as_deref() == Some(spec.id.as_str()) {
            self.kv.delete(&key).await?;
        }
        let followers = followers_key(&spec.id);
        let mut handed_back = Vec::new();
        for member in self.kv.set_members(&followers).await? {
            if self.kv.set_remove(&followers, &member).await?
                && let Ok(follower) = serde_json::from_str::<JobSpec>(&member)
            {
                handed_back.push(follower);
            }
        }
        Ok(handed_back)
    }
}
