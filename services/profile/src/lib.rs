//! The profile stage.
//!
//! Consumes JobRequested: asks Discogs for the user's wantlist and collection sizes and
//! newest additions and compares them with the stored profile. Current: publishes
//! ProfileSynced at once (nothing is fetched). Otherwise: plans the sync as chunks of API
//! pages (ChunksPlanned + ChunkRequested x n, for the scraper), keeping the plan and the
//! profile to record in the KeyValue store.
//!
//! Consumes StageCompleted{profile} (from the tracker, once every chunk is done):
//! removes the interactions this sync did not see, records the profile as synced, and
//! publishes ProfileSynced. A sync job (crawling) ends there with JobCompleted.
//!
//! Owns the user rows of the Catalog. Redelivered events reuse the stored plan, so a
//! replayed JobRequested publishes the same chunks again, which the tracker counts once.
//! One sync of a user runs at a time: a job that arrives during another's sync of the
//! same user waits for it and then reuses what it stored (see [`lease`]).

mod lease;
mod plan;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cratedigger_bus::EventBus;
use cratedigger_catalog::{Catalog, InteractionKind, UserProfile};
use cratedigger_discogs::api::PageRequest;
use cratedigger_discogs::{DiscogsClient, DiscogsError};
use cratedigger_domain::{JobId, JobKind, JobSpec, Stage, Username};
use cratedigger_kit::{
    EventHandler, HandleError, Publisher, Runnable, Worker, WorkerSettings, job, subscription,
};
use cratedigger_kv::KeyValue;
use cratedigger_proto::convert::{job_of, job_to_pb, stage_from_pb, stage_to_pb};
use cratedigger_proto::events;
use serde::{Deserialize, Serialize};

use crate::lease::{Lease, SyncLease};
pub use plan::{Chunk, List, plan_chunks};

/// The service's name, and its subscriptions' prefix.
pub const SERVICE: &str = "profile";

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct ProfileSettings {
    /// Items per API page (Discogs allows up to 100).
    pub per_page: u32,
    /// API pages per chunk: one scraper delivery fetches this many pages.
    pub pages_per_chunk: u32,
    pub concurrency: usize,
}

impl Default for ProfileSettings {
    fn default() -> Self {
        Self {
            per_page: 100,
            pages_per_chunk: 5,
            concurrency: 4,
        }
    }
}

/// The sync being planned, kept until it is finalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct PendingSync {
    profile: UserProfile,
    chunks: Vec<Chunk>,
}

/// How long a planned sync may take before its plan is forgotten.
const PENDING_TTL: Duration = Duration::from_secs(24 * 3600);

pub struct Profile {
    catalog: Arc<dyn Catalog>,
    kv: Arc<dyn KeyValue>,
    lease: SyncLease,
    discogs: DiscogsClient,
    publisher: Publisher,
    settings: ProfileSettings,
}

impl Profile {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        kv: Arc<dyn KeyValue>,
        discogs: DiscogsClient,
        bus: Arc<dyn EventBus>,
        settings: ProfileSettings,
    ) -> Arc<Self> {
        Arc::new(Self {
            catalog,
            lease: SyncLease::new(kv.clone()),
            kv,
            discogs,
            publisher: Publisher::new(bus),
            settings,
        })
    }

    /// The service's workers: one per consumed event.
    pub fn workers(self: &Arc<Self>, worker: &WorkerSettings) -> Vec<Box<dyn Runnable>> {
        let bus = self.publisher.bus().clone();
        let settings = WorkerSettings {
            concurrency: self.settings.concurrency,
            ..worker.clone()
        };
        vec![
            Box::new(Worker::new(
                Arc::new(OnJobRequested(self.clone())),
                bus.clone(),
                subscription::<events::JobRequested>(SERVICE),
                settings.clone(),
            )),
            Box::new(Worker::new(
                Arc::new(OnStageCompleted(self.clone())),
                bus.clone(),
                subscription::<events::StageCompleted>(SERVICE),
                settings.clone(),
            )),
            Box::new(Worker::new(
                Arc::new(OnJobFailed(self.clone())),
                bus,
                subscription::<events::JobFailed>(SERVICE),
                settings,
            )),
        ]
    }

    fn pending_key(job: &JobSpec) -> String {
        format!("profile:pending:{}", job.id)
    }

    /// Decides whether the stored profile is current; plans or skips the sync.
    async fn on_job_requested(&self, event: events::JobRequested) -> Result<(), HandleError> {
        let pb_job = event.job.clone().unwrap_or_default();
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        if let Some(leader) = self.follow_any_sync(&spec).await? {
            let progress = events::StageProgress {
                job: Some(pb_job.clone()),
                stage: stage_to_pb(Stage::Profile) as i32,
                done: 0,
                total: 0,
                message: format!("waiting for a sync of {} already under way", spec.username),
            };
            tracing::info!(username = %spec.username, %leader, "another job is syncing this user: waiting for it");
            return self
                .publisher
                .publish(&progress)
                .await
                .map_err(HandleError::retry);
        }
        let key = Self::pending_key(&spec);
        let pending = match self.kv.get(&key).await.map_err(HandleError::retry)? {
            Some(json) => serde_json::from_str(&json).map_err(HandleError::reject)?,
            None => {
                let Some(remote) = self.remote_profile(&spec, &pb_job).await? else {
                    return Ok(());
                };
                let stored = self
                    .catalog
                    .user(&remote.username)
                    .await
                    .map_err(HandleError::retry)?;
                if stored.as_ref().is_some_and(|s| is_current(s, &remote)) {
                    tracing::info!(username = %remote.username, "profile is current; nothing to fetch");
                    let (job, spec) = under_name(&pb_job, &spec, &remote.username);
                    return self.synced(&spec, &job, false, &remote).await;
                }
                let chunks = plan_chunks(
                    u64::from(remote.wantlist_count),
                    u64::from(remote.collection_count),
                    self.settings.per_page,
                    self.settings.pages_per_chunk,
                );
                let pending = PendingSync {
                    profile: remote,
                    chunks,
                };
                let json = serde_json::to_string(&pending).map_err(HandleError::reject)?;
                // First writer wins: a redelivery, or a concurrent replica, reuses this plan.
                if !self
                    .kv
                    .set_if_absent(&key, &json, Some(PENDING_TTL))
                    .await
                    .map_err(HandleError::retry)?
                {
                    let json = self
                        .kv
                        .get(&key)
                        .await
                        .map_err(HandleError::retry)?
                        .unwrap_or(json);
                    serde_json::from_str(&json).map_err(HandleError::reject)?
                } else {
                    pending
                }
            }
        };
        let (job, _) = under_name(&pb_job, &spec, &pending.profile.username);
        self.publish_plan(&job, &pending).await
    }

    /// The job that is syncing this user, if another is and this job now waits for it;
    /// None: this job holds the user's lease and syncs.
    async fn follow_any_sync(&self, spec: &JobSpec) -> Result<Option<JobId>, HandleError> {
        for _ in 0..3 {
            match self.lease.acquire(spec).await.map_err(HandleError::retry)? {
                Lease::Ours => return Ok(None),
                Lease::Following(leader) => {
                    if self
                        .lease
                        .follow(spec, &leader)
                        .await
                        .map_err(HandleError::retry)?
                    {
                        return Ok(Some(leader));
                    }
                }
            }
        }
        Ok(None)
    }

    /// This job's profile stage is over: lets go of the user's lease and requests again
    /// the jobs that waited for it (they then find the profile current).
    async fn hand_back(&self, spec: &JobSpec) -> Result<(), HandleError> {
        let followers = self.lease.release(spec).await.map_err(HandleError::retry)?;
        for (i, follower) in followers.iter().enumerate() {
            let again = events::JobRequested {
                job: Some(job_to_pb(follower)),
            };
            tracing::info!(job_id = %follower.id, "the sync it waited for is over: requesting it again");
            if let Err(e) = self.publisher.publish(&again).await {
                // Put back with the rest, so the retry of this event hands them back again.
                for rest in &followers[i..] {
                    let _ = self.lease.put_back(rest, &spec.id).await;
                }
                return Err(HandleError::retry(e));
            }
        }
        Ok(())
    }

    async fn publish_plan(
        &self,
        job: &events::Job,
        pending: &PendingSync,
    ) -> Result<(), HandleError> {
        let total = u32::try_from(pending.chunks.len()).map_err(HandleError::reject)?;
        tracing::info!(
            chunks = total,
            wants = pending.profile.wantlist_count,
            haves = pending.profile.collection_count,
            "sync planned"
        );
        let planned = events::ChunksPlanned {
            job: Some(job.clone()),
            stage: events::Stage::Profile as i32,
            total,
        };
        self.publisher
            .publish(&planned)
            .await
            .map_err(HandleError::retry)?;
        for (i, chunk) in pending.chunks.iter().enumerate() {
            let request = events::ChunkRequested {
                job: Some(job.clone()),
                chunk: i as u32,
                list: match chunk.list {
                    List::Wantlist => events::InteractionList::Wantlist,
                    List::Collection => events::InteractionList::Collection,
                } as i32,
                first_page: chunk.first_page,
                last_page: chunk.last_page,
                per_page: self.settings.per_page,
            };
            self.publisher
                .publish(&request)
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(())
    }

    /// The user's profile as Discogs has it now. None when the job was failed with a
    /// reason (missing user, private wantlist).
    async fn remote_profile(
        &self,
        spec: &JobSpec,
        job: &events::Job,
    ) -> Result<Option<UserProfile>, HandleError> {
        let user = match self.discogs.user(&spec.username).await {
            Ok(user) => user,
            Err(DiscogsError::NotFound { .. }) => {
                let message = format!("Discogs has no user named {}", spec.username);
                self.fail(job, "user_not_found", message, false).await?;
                return Ok(None);
            }
            Err(e) => return Err(discogs_error(e)),
        };
        let newest_want = match self.newest_added(&spec.username, List::Wantlist).await {
            Ok(date) => date,
            Err(DiscogsError::NotFound { .. }) => {
                let message = format!(
                    "the wantlist of {} is private or missing; sign in with Discogs to read it",
                    spec.username
                );
                self.fail(job, "wantlist_private", message, false).await?;
                return Ok(None);
            }
            Err(e) => return Err(discogs_error(e)),
        };
        // A private collection is not an error: recommendations work from the wantlist.
        let (newest_have, collection_count) =
            match self.newest_added(&spec.username, List::Collection).await {
                Ok(date) => (date, user.num_collection.unwrap_or(0)),
                Err(DiscogsError::NotFound { .. } | DiscogsError::Unauthorized { .. }) => (None, 0),
                Err(e) => return Err(discogs_error(e)),
            };
        // Discogs answers for any case of the name and gives its own spelling: that one is
        // stored, so `DIGGER0001` and `digger0001` are one user.
        let username = Username::parse(&user.username)
            .ok()
            .filter(|canonical| spec.username.is_same_account(canonical.as_str()))
            .unwrap_or_else(|| spec.username.clone());
        Ok(Some(UserProfile {
            username,
            discogs_id: Some(user.id),
            wantlist_count: clamp_u32(user.num_wantlist.unwrap_or(0)),
            collection_count: clamp_u32(collection_count),
            newest_want_added: newest_want,
            newest_have_added: newest_have,
            last_synced_at: None,
        }))
    }

    async fn newest_added(
        &self,
        username: &Username,
        list: List,
    ) -> Result<Option<DateTime<Utc>>, DiscogsError> {
        let first = PageRequest::new(1, 1);
        let page = match list {
            List::Wantlist => {
                self.discogs
                    .wantlist_page_newest_first(username, first)
                    .await?
            }
            List::Collection => self.discogs.collection_page(username, first).await?,
        };
        Ok(page
            .items
            .first()
            .and_then(|item| item.date_added)
            .map(|d| d.with_timezone(&Utc)))
    }

    /// Every chunk is done: keep what this sync saw, record the profile, announce it.
    async fn on_stage_completed(&self, event: events::StageCompleted) -> Result<(), HandleError> {
        if stage_from_pb(event.stage).map_err(HandleError::reject)? != Stage::Profile {
            return Ok(());
        }
        let pb_job = event.job.clone().unwrap_or_default();
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        let Some(json) = self
            .kv
            .get(&Self::pending_key(&spec))
            .await
            .map_err(HandleError::retry)?
        else {
            return Err(HandleError::reject(anyhow::anyhow!(
                "no planned sync for job {}",
                spec.id
            )));
        };
        let pending: PendingSync = serde_json::from_str(&json).map_err(HandleError::reject)?;
        let (pb_job, spec) = under_name(&pb_job, &spec, &pending.profile.username);
        if event.failed > 0 {
            let message = format!(
                "{} of {} parts of the profile could not be fetched from Discogs",
                event.failed, event.total
            );
            return self
                .fail(&pb_job, "profile_incomplete", message, true)
                .await;
        }
        let sync_id = spec.id.to_string();
        for kind in [InteractionKind::Want, InteractionKind::Have] {
            let removed = self
                .catalog
                .prune_interactions(&spec.username, kind, &sync_id)
                .await
                .map_err(HandleError::retry)?;
            if removed > 0 {
                tracing::info!(
                    kind = kind.as_str(),
                    removed,
                    "removed what the user no longer has"
                );
            }
        }
        let profile = UserProfile {
            last_synced_at: Some(Utc::now()),
            ..pending.profile.clone()
        };
        self.catalog
            .upsert_user(&profile)
            .await
            .map_err(HandleError::retry)?;
        self.synced(&spec, &pb_job, true, &profile).await
    }

    async fn synced(
        &self,
        spec: &JobSpec,
        job: &events::Job,
        scraped: bool,
        profile: &UserProfile,
    ) -> Result<(), HandleError> {
        let synced = events::ProfileSynced {
            job: Some(job.clone()),
            scraped,
            wants: profile.wantlist_count,
            haves: profile.collection_count,
        };
        self.publisher
            .publish(&synced)
            .await
            .map_err(HandleError::retry)?;
        if spec.kind == JobKind::Sync {
            let done = job::completed(job, format!("profiles/{}", spec.username), "profile synced");
            self.publisher
                .publish(&done)
                .await
                .map_err(HandleError::retry)?;
        }
        self.hand_back(spec).await
    }

    async fn fail(
        &self,
        job: &events::Job,
        code: &str,
        message: String,
        retryable: bool,
    ) -> Result<(), HandleError> {
        tracing::warn!(code, %message, "job failed");
        let failed = job::failed(job, Stage::Profile, code, message, retryable);
        self.publisher
            .publish(&failed)
            .await
            .map_err(HandleError::retry)?;
        match job_of(Some(job)) {
            Ok(spec) => self.hand_back(&spec).await,
            Err(_) => Ok(()),
        }
    }
}

/// The job as the stages after this one see it: under the account's own spelling of the
/// name, which is the one the catalog stores.
fn under_name(job: &events::Job, spec: &JobSpec, username: &Username) -> (events::Job, JobSpec) {
    let mut job = job.clone();
    job.username = username.to_string();
    let mut spec = spec.clone();
    spec.username = username.clone();
    (job, spec)
}

/// The stored profile matches Discogs: same sizes, same newest additions, synced before.
fn is_current(stored: &UserProfile, remote: &UserProfile) -> bool {
    stored.last_synced_at.is_some()
        && stored.wantlist_count == remote.wantlist_count
        && stored.collection_count == remote.collection_count
        && stored.newest_want_added == remote.newest_want_added
        && stored.newest_have_added == remote.newest_have_added
}

fn clamp_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn discogs_error(e: DiscogsError) -> HandleError {
    if e.is_retryable() {
        HandleError::retry(e)
    } else {
        HandleError::reject(e)
    }
}

struct OnJobRequested(Arc<Profile>);

#[async_trait]
impl EventHandler for OnJobRequested {
    type Event = events::JobRequested;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_job_requested(event).await
    }

    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        if let Some(job) = &event.job {
            let _ = self
                .0
                .fail(
                    job,
                    "discogs_unavailable",
                    job::gave_up("could not read the profile from Discogs", error),
                    true,
                )
                .await;
        }
    }
}

/// A job failed (at any stage, or by the reaper at its deadline): if it held a user's
/// sync lease, the jobs waiting on that sync are handed back now, and sync themselves,
/// instead of waiting out their own deadlines.
struct OnJobFailed(Arc<Profile>);

#[async_trait]
impl EventHandler for OnJobFailed {
    type Event = events::JobFailed;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        let spec = job_of(event.job.as_ref()).map_err(HandleError::reject)?;
        self.0.hand_back(&spec).await
    }
}

struct OnStageCompleted(Arc<Profile>);

#[async_trait]
impl EventHandler for OnStageCompleted {
    type Event = events::StageCompleted;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_stage_completed(event).await
    }

    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        if let Some(job) = &event.job {
            let _ = self
                .0
                .fail(
                    job,
                    "sync_not_recorded",
                    job::gave_up("could not record the synced profile", error),
                    true,
                )
                .await;
        }
    }
}
