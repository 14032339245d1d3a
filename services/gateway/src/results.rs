//! What jobs produced, read from the ResultsStore: a user's newest recommendations (keyed
//! by username) and a carts job's carts (keyed by job id).

use axum::extract::{Path, State};
use axum::{Extension, Json};
use cratedigger_domain::{CartSet, JobKind, RecommendationSet, Username};
use cratedigger_results::Collection;
use serde::de::DeserializeOwned;

use crate::access::{self, Caller};
use crate::error::ErrorBody;
use crate::jobs::{parse_job_id, read_status};
use crate::openapi::{CartSetDoc, RecommendationSetDoc};
use crate::{ApiError, Gateway};

async fn document<T: DeserializeOwned>(
    gateway: &Gateway,
    collection: Collection,
    key: &str,
) -> Result<Option<T>, ApiError> {
    let Some(document) = gateway
        .results
        .get(collection, key)
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(None);
    };
    serde_json::from_value(document)
        .map(Some)
        .map_err(|e| ApiError::unavailable(format!("stored {} {key}: {e}", collection.name())))
}

/// A user's newest recommendations, with explanations and Discogs links.
#[utoipa::path(get, path = "/api/v1/users/{username}/recommendations", tag = "results",
    params(("username" = String, Path, description = "A Discogs username", min_length = 1, max_length = 64, pattern = r"^[A-Za-z0-9._-]*[A-Za-z0-9_-][A-Za-z0-9._-]*$")),
    responses(
        (status = 200, description = "The newest recommendations", body = RecommendationSetDoc),
        (status = 400, description = "Not a Discogs username", body = ErrorBody),
        (status = 403, description = "Private to their user", body = ErrorBody),
        (status = 404, description = "None made yet", body = ErrorBody),
    ))]
pub(crate) async fn recommendations(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(username): Path<String>,
) -> Result<Json<RecommendationSet>, ApiError> {
    let username = Username::parse(&username).map_err(|e| ApiError::invalid("username", e))?;
    access::check_may_read_recommendations(gateway.kv.as_ref(), &caller, &username).await?;
    document(&gateway, Collection::Recommendations, &username.key())
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no recommendations for {username} yet; start a recommendations job"
            ))
        })
}

/// The carts a carts job built, per scenario (1, 2, 3, any sellers) and per seller.
#[utoipa::path(get, path = "/api/v1/jobs/{id}/carts", tag = "results",
    params(("id" = String, Path, description = "The job id (a UUID)", pattern = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")),
    responses(
        (status = 200, description = "The carts", body = CartSetDoc),
        (status = 400, description = "Not a job id", body = ErrorBody),
        (status = 404, description = "No such job, not a carts job, or not finished", body = ErrorBody),
    ))]
pub(crate) async fn carts(
    State(gateway): State<Gateway>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<CartSet>, ApiError> {
    let job = parse_job_id(&id)?;
    if let Some(set) = document::<CartSet>(&gateway, Collection::Carts, job.as_str()).await? {
        access::check_may_read_job(&gateway.owners, &caller, &job, &set.username).await?;
        return Ok(Json(set));
    }
    let status = read_status(&gateway.board, gateway.kv.as_ref(), &job)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no job {job}")))?;
    access::check_may_read_job(
        &gateway.owners,
        &caller,
        &job,
        status.username.as_deref().unwrap_or_default(),
    )
    .await?;
    let message = match status.kind {
        Some(JobKind::Carts) => format!(
            "job {job} has no carts yet: it is {}",
            status.state.as_str()
        ),
        _ => format!("job {job} is not a carts job"),
    };
    Err(ApiError::NotFound(message))
}
