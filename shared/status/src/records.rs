//! Other records a job keeps in the KeyValue store: which releases' listings are fresh
//! (the 24-hour listing cache), and a carts job's candidates.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use cratedigger_domain::{CandidateSet, JobId, ReleaseId, SourceCoverage};
use cratedigger_kv::{KeyValue, KvError};

/// "The listings of this release were fetched and stored less than a TTL ago." Set only
/// after the listings are stored, so a crash in between leaves the release to be fetched
/// again rather than trusted.
#[derive(Clone)]
pub struct ListingFreshness {
    kv: Arc<dyn KeyValue>,
    ttl: Duration,
}

impl ListingFreshness {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

    pub fn new(kv: Arc<dyn KeyValue>, ttl: Duration) -> Self {
        Self { kv, ttl }
    }

    fn key(release: ReleaseId) -> String {
        format!("listings:fresh:{release}")
    }

    pub async fn is_fresh(&self, release: ReleaseId) -> Result<bool, KvError> {
        Ok(self.kv.get(&Self::key(release)).await?.is_some())
    }

    /// Marks the release's listings as fetched now (`fetched_at`, RFC 3339).
    pub async fn mark_fresh(&self, release: ReleaseId, fetched_at: &str) -> Result<(), KvError> {
        self.kv
            .set(&Self::key(release), fetched_at, Some(self.ttl))
            .await
    }
}

impl std::fmt::Debug for ListingFreshness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListingFreshness")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Why a job record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The store failed (worth retrying).
    #[error(transparent)]
    Store(#[from] KvError),
    /// The key holds something that is not the record (written by another version, or
    /// altered): retrying reads the same bytes.
    #[error("the record at {key} cannot be read: {reason}")]
    Undecodable { key: String, reason: String },
    /// The record could not be turned into what the store holds.
    #[error("the record for {key} cannot be written: {reason}")]
    Unwritable { key: String, reason: String },
}

/// A carts job's candidates, kept for the job's lifetime (written by the candidates stage,
/// read by the carts stage).
#[derive(Clone)]
pub struct CandidateRecords {
    kv: Arc<dyn KeyValue>,
}

impl CandidateRecords {
    const TTL: Duration = Duration::from_secs(24 * 3600);

    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    fn key(job: &JobId) -> String {
        format!("job:{job}:candidates")
    }

    /// Stores the set unless one is stored already; returns the stored one (so a
    /// redelivered selection reuses the first, whatever its random draw).
    pub async fn save_first(
        &self,
        job: &JobId,
        set: &CandidateSet,
    ) -> Result<CandidateSet, RecordError> {
        let key = Self::key(job);
        let json = serde_json::to_string(set).map_err(|e| RecordError::Unwritable {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        if self.kv.set_if_absent(&key, &json, Some(Self::TTL)).await? {
            return Ok(set.clone());
        }
        // Expired between the two calls: the set just chosen is as good as any.
        Ok(self.load(job).await?.unwrap_or_else(|| set.clone()))
    }

    /// The job's stored set: `None` when there is none (never stored, or expired), an
    /// error when what is stored cannot be read as a set.
    pub async fn load(&self, job: &JobId) -> Result<Option<CandidateSet>, RecordError> {
        let key = Self::key(job);
        let Some(json) = self.kv.get(&key).await? else {
            return Ok(None);
        };
        serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| RecordError::Undecodable {
                key,
                reason: e.to_string(),
            })
    }
}

impl std::fmt::Debug for CandidateRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CandidateRecords")
    }
}

/// Which releases the market stage of a job fetched and which it could not, so the carts
/// stage can say how much of the marketplace it saw. Set membership: a redelivered chunk
/// counts each release once.
#[derive(Clone)]
pub struct MarketRecords {
    kv: Arc<dyn KeyValue>,
}

impl MarketRecords {
    const TTL: Duration = Duration::from_secs(24 * 3600);

    pub fn new(kv: Arc<dyn KeyValue>) -> Self {
        Self { kv }
    }

    /// Beside the status board's `job:{id}:market:{done,failed}` chunk sets, never on
    /// them: those hold chunk numbers, these release ids.
    fn key(job: &JobId, what: &str) -> String {
        format!("job:{job}:market-releases:{what}")
    }

    async fn add(&self, job: &JobId, what: &str, release: ReleaseId) -> Result<(), KvError> {
        let key = Self::key(job, what);
        self.kv.set_add(&key, &release.to_string()).await?;
        self.kv.expire(&key, Self::TTL).await.map(|_| ())
    }

    /// This job stored the release's listings, read through `source`.
    pub async fn fetched(
        &self,
        job: &JobId,
        release: ReleaseId,
        source: &str,
    ) -> Result<(), KvError> {
        self.source_add(job, source, "served", release).await?;
        self.add(job, "fetched", release).await
    }

    /// `source` met a challenge or a login wall on the release (another may still read it).
    pub async fn blocked(
        &self,
        job: &JobId,
        release: ReleaseId,
        source: &str,
    ) -> Result<(), KvError> {
        self.source_add(job, source, "blocked", release).await
    }

    /// `source` could not read the release for another reason (another may still read it).
    pub async fn source_failed(
        &self,
        job: &JobId,
        release: ReleaseId,
        source: &str,
    ) -> Result<(), KvError> {
        self.source_add(job, source, "failed", release).await
    }

    async fn source_add(
        &self,
        job: &JobId,
        source: &str,
        what: &str,
        release: ReleaseId,
    ) -> Result<(), KvError> {
        let sources = Self::key(job, "sources");
        self.kv.set_add(&sources, source).await?;
        self.kv.expire(&sources, Self::TTL).await?;
        self.add(job, &format!("source:{source}:{what}"), release)
            .await
    }

    /// What each source this job used did, by source name, counted over `wanted`
    /// releases only.
    pub async fn sources(
        &self,
        job: &JobId,
        wanted: &HashSet<ReleaseId>,
    ) -> Result<Vec<SourceCoverage>, KvError> {
        let mut names = self.kv.set_members(&Self::key(job, "sources")).await?;
        names.sort();
        let mut coverage = Vec::with_capacity(names.len());
        for source in names {
            let served = self.count_wanted(job, &source, "served", wanted).await?;
            let blocked = self.count_wanted(job, &source, "blocked", wanted).await?;
            let failed = self.count_wanted(job, &source, "failed", wanted).await?;
            coverage.push(SourceCoverage {
                source,
                served,
                blocked,
                failed,
            });
        }
        Ok(coverage)
    }

    /// This job could not read the release's listings.
    pub async fn failed(&self, job: &JobId, release: ReleaseId) -> Result<(), KvError> {
        self.add(job, "failed", release).await
    }

    async fn count_wanted(
        &self,
        job: &JobId,
        source: &str,
        what: &str,
        wanted: &HashSet<ReleaseId>,
    ) -> Result<u32, KvError> {
        let members = self
            .members(job, &format!("source:{source}:{what}"))
            .await?;
        Ok(members.iter().filter(|r| wanted.contains(r)).count() as u32)
    }

    async fn members(&self, job: &JobId, what: &str) -> Result<Vec<ReleaseId>, KvError> {
        let members = self.kv.set_members(&Self::key(job, what)).await?;
        Ok(members.iter().filter_map(|m| m.parse().ok()).collect())
    }

    /// The releases fetched, and those that failed and were never fetched.
    pub async fn outcome(&self, job: &JobId) -> Result<(Vec<ReleaseId>, Vec<ReleaseId>), KvError> {
        let fetched = self.members(job, "fetched").await?;
        let mut failed = self.members(job, "failed").await?;
        failed.retain(|r| !fetched.contains(r));
        Ok((fetched, failed))
    }
}

impl std::fmt::Debug for MarketRecords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarketRecords")
    }
}
