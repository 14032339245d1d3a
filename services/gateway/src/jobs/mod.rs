//! Starting, reading and cancelling jobs.
//!
//! The same request (kind, username, criteria, limit, mix) made again while its job runs,
//! or within `dedup_seconds` after it succeeded, returns that job instead of starting
//! another; a failed or cancelled job is not returned, nor one that succeeded only in part
//! (some marketplace pages could not be read): the request starts afresh. Private
//! jobs (see [`crate::access`]) are shared only with their own user.

pub mod events;
pub mod record;
pub mod request;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use cratedigger_domain::{JobId, JobState};
use cratedigger_proto::convert::job_to_pb;
use cratedigger_proto::events as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{self, Caller, JobOwner};
use crate::error::ErrorBody;
use crate::{ApiError, Gateway};
pub use record::{StatusRecord, read_status};
use record::{StoredRequest, request_key, stored_request};
pub use request::CreateJob;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedJob {
    pub job_id: String,
    pub status_url: String,
    /// True when an identical request's job was returned instead of starting one.
    pub existing: bool,
}

pub(crate) fn parse_job_id(id: &str) -> Result<JobId, ApiError> {
    id.parse()
        .map_err(|_| ApiError::invalid("id", "job ids are UUIDs"))
}

/// Start a job.
#[utoipa::path(post, path = "/api/v1/jobs", tag = "jobs", request_body = CreateJob,
    responses(
        (status = 202, description = "Started, or an identical request's job", body = CreatedJob),
        (status = 400, description = "A field is wrong; `field` names it", body = ErrorBody),
        (status = 401, description = "API keys are configured and none was sent", body = ErrorBody),
        (status = 403, description = "A session cookie sent from another site's page", body = ErrorBody),
        (status = 413, description = "The body is too large", body = ErrorBody),
        (status = 415, description = "The body is not declared as `application/json`", body = ErrorBody),
        (status = 429, description = "Too many requests", body = ErrorBody),
        (status = 503, description = "A backend is unavailable; try again shortly", body = ErrorBody),
    ))]
pub(crate) async fn create(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    request::require_json(&headers)?;
    let valid = request::parse(&body, gateway.settings.default_limit)?;
    let spec = valid.spec;
    // A visitor without a session gets an anonymous one, so that it may cancel its job.
    let (caller, set_cookie) = match caller.session {
        Some(_) => (caller, None),
        None => {
            let (session, cookie) = gateway
                .sessions
                .start(None)
                .await
                .map_err(ApiError::unavailable)?;
            (
                Caller {
                    session: Some(session),
                    ..caller
                },
                Some(cookie),
            )
        }
    };
    let owner = JobOwner::for_request(&caller, &spec.username);
    let scope = if owner.private {
        format!("private:{}", spec.username)
    } else {
        "public".to_owned()
    };
    let dedup_key = format!("dedup:{scope}:{}", valid.identity);
    let kv = gateway.kv.as_ref();
    let ttl = Some(gateway.dedup_ttl());
    let with_cookie = |created: CreatedJob| {
        let mut response = (StatusCode::ACCEPTED, Json(created)).into_response();
        if let Some(cookie) = set_cookie
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            response.headers_mut().insert(SET_COOKIE, cookie);
        }
        response
    };
    if !kv
        .set_if_absent(&dedup_key, spec.id.as_str(), ttl)
        .await
        .map_err(ApiError::unavailable)?
    {
        if let Some(existing) = kv.get(&dedup_key).await.map_err(ApiError::unavailable)?
            && let Ok(existing) = existing.parse::<JobId>()
            && is_worth_returning(&gateway, &existing).await?
        {
            return Ok(with_cookie(created(&existing, true)));
        }
        // The earlier job failed or was cancelled (or is gone): start afresh.
        kv.set(&dedup_key, spec.id.as_str(), ttl)
            .await
            .map_err(ApiError::unavailable)?;
    }
    let started = async {
        gateway
            .owners
            .record(&spec.id, &spec.username, &owner)
            .await?;
        let stored = serde_json::to_string(&StoredRequest {
            spec: spec.clone(),
            dedup_key: dedup_key.clone(),
        })
        .map_err(ApiError::unavailable)?;
        kv.set(&request_key(&spec.id), &stored, Some(gateway.request_ttl()))
            .await
            .map_err(ApiError::unavailable)?;
        let event = pb::JobRequested {
            job: Some(job_to_pb(&spec)),
        };
        gateway
            .publisher
            .publish(&event)
            .await
            .map_err(ApiError::unavailable)
    }
    .await;
    if let Err(error) = started {
        forget_unstarted(kv, &dedup_key, &spec.id).await;
        return Err(error);
    }
    tracing::info!(job_id = %spec.id, kind = %spec.kind, username = %spec.username, private = owner.private, "job started");
    Ok(with_cookie(created(&spec.id, false)))
}

/// A job whose request could not be published never runs: an identical request must
/// not be handed it (it would read `queued` forever). Its de-duplication key (if still
/// its own) and stored request are removed; should that fail too, the key lapses with
/// its window and the request with its time to live.
async fn forget_unstarted(kv: &dyn cratedigger_kv::KeyValue, dedup_key: &str, job: &JobId) {
    let own = kv
        .get(dedup_key)
        .await
        .ok()
        .flatten()
        .is_some_and(|holder| holder == job.as_str());
    if own && let Err(e) = kv.delete(dedup_key).await {
        tracing::warn!(job_id = %job, error = %e, "could not release the de-duplication key of a job that did not start");
    }
    if let Err(e) = kv.delete(&request_key(job)).await {
        tracing::warn!(job_id = %job, error = %e, "could not remove the request of a job that did not start");
    }
}

/// An identical request gets the existing job while it runs and moves, or once it
/// succeeded in full; never one that failed, was cancelled or went stale.
async fn is_worth_returning(gateway: &Gateway, job: &JobId) -> Result<bool, ApiError> {
    match read_status(&gateway.board, gateway.kv.as_ref(), job).await? {
        Some(status) => Ok(match status.state {
            JobState::Failed | JobState::Cancelled => false,
            JobState::Succeeded => !status.partial,
            _ => !status.stale,
        }),
        None => Ok(false),
    }
}

fn created(job: &JobId, existing: bool) -> CreatedJob {
    CreatedJob {
        job_id: job.to_string(),
        status_url: format!("/api/v1/jobs/{job}"),
        existing,
    }
}

/// The job's status, if the caller may see it.
pub(crate) async fn visible_status(
    gateway: &Gateway,
    caller: &Caller,
    job: &JobId,
) -> Result<StatusRecord, ApiError> {
    let status = read_status(&gateway.board, gateway.kv.as_ref(), job)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job {job}")))?;
    access::check_may_read_job(
        &gateway.owners,
        caller,
        job,
        status.username.as_deref().unwrap_or_default(),
    )
    .await?;
    Ok(StatusRecord::new(status))
}

/// A job's status: state, stages, percent, ETA, error, links.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "The status record", body = StatusRecord),
        (status = 400, description = "Not a job id", body = ErrorBody),
        (status = 404, description = "No such job (or not yours to see)", body = ErrorBody),
    ))]
pub(crate) async fn status(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<StatusRecord>, ApiError> {
    let job = parse_job_id(&id)?;
    visible_status(&gateway, &caller, &job).await.map(Json)
}

/// Cancel a job: it reads as cancelled from then on.
#[utoipa::path(delete, path = "/api/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 202, description = "Cancelling; the record shows `cancelled` once recorded", body = StatusRecord),
        (status = 400, description = "Not a job id", body = ErrorBody),
        (status = 403, description = "Not the caller's job to cancel", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already succeeded or failed", body = ErrorBody),
    ))]
pub(crate) async fn cancel(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<StatusRecord>), ApiError> {
    let job = parse_job_id(&id)?;
    let record = visible_status(&gateway, &caller, &job).await?;
    let username = record.status.username.clone().unwrap_or_default();
    access::check_may_cancel_job(&gateway.owners, &caller, &job, &username).await?;
    match record.status.state {
        JobState::Cancelled => return Ok((StatusCode::ACCEPTED, Json(record))),
        JobState::Succeeded | JobState::Failed => {
            return Err(ApiError::Conflict(format!(
                "job {job} already {}",
                record.status.state.as_str()
            )));
        }
        JobState::Queued | JobState::Running => {}
    }
    let request = stored_request(gateway.kv.as_ref(), &job)
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("job {job} is too old to cancel")))?;
    // An identical request made from now on starts a new job, even before the tracker
    // has recorded the cancellation.
    if gateway
        .kv
        .get(&request.dedup_key)
        .await
        .map_err(ApiError::unavailable)?
        .as_deref()
        == Some(job.as_str())
    {
        gateway
            .kv
            .delete(&request.dedup_key)
            .await
            .map_err(ApiError::unavailable)?;
    }
    let event = pb::JobCancelled {
        job: Some(job_to_pb(&request.spec)),
        reason: "cancelled by the user".into(),
    };
    gateway
        .publisher
        .publish(&event)
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(job_id = %job, "job cancelled");
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// Who the caller is: signed in, anonymous, or holding a key.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SessionInfo {
    /// The Discogs user signed in, if any.
    pub username: Option<String>,
    pub api_key: bool,
    /// Whether "Sign in with Discogs" is configured.
    pub sign_in_available: bool,
    /// Whether the API needs a key or a signed-in session.
    pub keys_required: bool,
}

#[utoipa::path(get, path = "/api/v1/session", tag = "session",
    responses((status = 200, description = "Who the caller is", body = SessionInfo)))]
pub(crate) async fn session(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<Json<SessionInfo>, ApiError> {
    let session = gateway
        .sessions
        .find(&headers)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(SessionInfo {
        username: session.and_then(|s| s.username).map(String::from),
        api_key: gateway.keys.presented_by(&headers),
        sign_in_available: gateway.oauth.is_some(),
        keys_required: gateway.keys.are_required(),
    }))
}
