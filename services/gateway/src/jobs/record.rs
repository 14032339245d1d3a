//! The status record clients read: the board's [`JobStatus`] plus links, and the stored
//! request a job was started with (which the board does not keep).

use chrono::Utc;
use cratedigger_domain::{JobId, JobKind, JobSpec, JobState};
use cratedigger_kv::KeyValue;
use cratedigger_status::{JobStatus, StatusBoard};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ApiError;
use crate::openapi::JobStatusDoc;

/// What a job was asked to do, kept from its start while anyone may ask about it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredRequest {
    pub spec: JobSpec,
    /// The de-duplication key that points at this job.
    pub dedup_key: String,
}

pub fn request_key(job: &JobId) -> String {
    format!("request:{job}")
}

pub async fn stored_request(
    kv: &dyn KeyValue,
    job: &JobId,
) -> Result<Option<StoredRequest>, ApiError> {
    let Some(record) = kv
        .get(&request_key(job))
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(None);
    };
    serde_json::from_str(&record)
        .map(Some)
        .map_err(ApiError::unavailable)
}

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    /// The same record as Server-Sent Events, pushed on every change.
    pub events: String,
    /// Where the results are (or will be); None for jobs that keep none (sync).
    pub results: Option<String>,
}

/// `GET /api/v1/jobs/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct StatusRecord {
    #[serde(flatten)]
    #[schema(inline, value_type = JobStatusDoc)]
    pub status: JobStatus,
    pub links: Links,
}

fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, NON_ALPHANUMERIC).to_string()
}

impl StatusRecord {
    pub fn new(status: JobStatus) -> Self {
        let job = status.job_id.clone();
        let results = match (status.kind, status.username.as_deref()) {
            (Some(JobKind::Recommendations), Some(username)) => Some(format!(
                "/api/v1/users/{}/recommendations",
                encode(username)
            )),
            (Some(JobKind::Carts), _) => Some(format!("/api/v1/jobs/{job}/carts")),
            _ => None,
        };
        let links = Links {
            this: format!("/api/v1/jobs/{job}"),
            events: format!("/api/v1/jobs/{job}/events"),
            results,
        };
        Self { status, links }
    }
}

/// The job's status; a job accepted but not yet on the board reads as queued. None when
/// neither the board nor the request store knows the job.
pub async fn read_status(
    board: &StatusBoard,
    kv: &dyn KeyValue,
    job: &JobId,
) -> Result<Option<JobStatus>, ApiError> {
    if let Some(status) = board
        .read(job, Utc::now())
        .await
        .map_err(ApiError::unavailable)?
    {
        return Ok(Some(status));
    }
    let Some(request) = stored_request(kv, job).await? else {
        return Ok(None);
    };
    let spec = request.spec;
    Ok(Some(JobStatus {
        job_id: job.to_string(),
        kind: Some(spec.kind),
        username: Some(spec.username.to_string()),
        state: JobState::Queued,
        stages: Vec::new(),
        percent: 0,
        eta_seconds: None,
        message: None,
        error: None,
        partial: false,
        coverage: None,
        result: None,
        created_at: Some(spec.requested_at.clone()),
        updated_at: Some(spec.requested_at),
        stale: false,
        poll_after_ms: Some(500),
    }))
}
