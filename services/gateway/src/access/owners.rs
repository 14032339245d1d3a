//! Who started each job, kept in the KeyValue store beside it, read through a bounded
//! copy in this process. The record is written once, before the job's id is handed out,
//! and never changes, so a copy cannot go stale: a client polling a job's status costs
//! one round trip to the store (the status board) instead of two.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use cratedigger_domain::{JobId, Username};
use cratedigger_kv::KeyValue;

use super::JobOwner;
use crate::ApiError;

/// How long who-started-a-job is kept: as long as anyone will look at its results.
const OWNER_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Records kept in memory; past this the copy starts afresh (a few megabytes at most).
const KEPT: usize = 50_000;

fn owner_key(job: &JobId) -> String {
    format!("owner:{job}")
}

/// One marker per account, whatever case a request writes its name in.
pub(super) fn private_user_key(username: &Username) -> String {
    format!("private-user:{}", username.key())
}

#[derive(Clone)]
pub struct Owners {
    kv: Arc<dyn KeyValue>,
    known: Arc<Mutex<HashMap<JobId, JobOwner>>>,
}

impl Owners {
    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self {
            kv,
            known: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn remember(&self, job: &JobId, owner: &JobOwner) {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        if known.len() >= KEPT {
            known.clear();
        }
        known.insert(job.clone(), owner.clone());
    }

    pub async fn record(
        &self,
        job: &JobId,
        username: &Username,
        owner: &JobOwner,
    ) -> Result<(), ApiError> {
        let record = serde_json::to_string(owner).map_err(ApiError::unavailable)?;
        self.kv
            .set(&owner_key(job), &record, Some(OWNER_TTL))
            .await
            .map_err(ApiError::unavailable)?;
        if owner.private {
            self.kv
                .set(&private_user_key(username), "1", Some(OWNER_TTL))
                .await
                .map_err(ApiError::unavailable)?;
        }
        self.remember(job, owner);
        Ok(())
    }

    /// A job without an owner record (older than [`OWNER_TTL`]) counts as public; that
    /// answer is not kept, in case the record is being written by another replica.
    pub async fn of(&self, job: &JobId) -> Result<JobOwner, ApiError> {
        if let Some(owner) = self
            .known
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(job)
        {
            return Ok(owner.clone());
        }
        let record = self
            .kv
            .get(&owner_key(job))
            .await
            .map_err(ApiError::unavailable)?;
        let Some(owner) = record.and_then(|r| serde_json::from_str::<JobOwner>(&r).ok()) else {
            return Ok(JobOwner::default());
        };
        self.remember(job, &owner);
        Ok(owner)
    }
}

#[cfg(test)]
mod tests {
    use cratedigger_kv::MemoryKeyValue;

    use super::*;

    #[tokio::test]
    async fn a_known_owner_is_read_once_and_an_unknown_one_every_time() {
        let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
        let (owners, elsewhere) = (Owners::new(kv.clone()), Owners::new(kv.clone()));
        let (job, user) = (JobId::generate(), Username::parse("digger").unwrap());
        // Not recorded yet: public, and asked again next time.
        assert_eq!(elsewhere.of(&job).await.unwrap(), JobOwner::default());
        let owner = JobOwner {
            session: Some("abc".into()),
            private: true,
        };
        owners.record(&job, &user, &owner).await.unwrap();
        assert_eq!(elsewhere.of(&job).await.unwrap(), owner);
        // One marker for the account, whatever case a later request writes.
        let shouted = Username::parse("DIGGER").unwrap();
        assert_eq!(
            kv.get(&private_user_key(&shouted))
                .await
                .unwrap()
                .as_deref(),
            Some("1")
        );
        // Once read, the store is not asked again.
        kv.delete(&owner_key(&job)).await.unwrap();
        assert_eq!(elsewhere.of(&job).await.unwrap(), owner);
        assert_eq!(Owners::new(kv).of(&job).await.unwrap(), JobOwner::default());
    }
}
