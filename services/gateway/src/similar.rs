//! Similar releases. The model lives in the recommender, so the gateway asks it through
//! the [`SimilarReleases`] port; [`RecommenderSimilarReleases`] is the recommender's gRPC
//! client, over a network channel or over the recommender's service in this process.

use std::time::Duration;

use async_trait::async_trait;
use axum::Json;
use axum::extract::{Path, Query, State};
use cratedigger_domain::{Because, RecommendedRelease, ReleaseId, release_url};
use cratedigger_proto::recommender::SimilarItemsRequest;
use cratedigger_proto::recommender::recommender_client::RecommenderClient;
use serde::{Deserialize, Serialize};
use tonic::body::Body;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, ServiceExt};
use utoipa::{IntoParams, ToSchema};

use crate::error::ErrorBody;
use crate::openapi::RecommendedReleaseDoc;
use crate::{ApiError, Gateway};

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;
/// A similar-items query is a few milliseconds of work; past this the recommender is in
/// trouble and the caller hears so.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SimilarReleasesSet {
    pub release_id: u64,
    pub model_version: String,
    #[schema(value_type = Vec<RecommendedReleaseDoc>)]
    pub releases: Vec<RecommendedRelease>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimilarError {
    /// The model has never seen the release: nothing to compare it with.
    #[error("release {0} is not in the model")]
    NotInModel(ReleaseId),
    /// No model is trained yet: try later.
    #[error("no recommendation model has been trained yet")]
    NoModel,
    /// The recommender could not be reached: try later.
    #[error("{0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SimilarReleases: Send + Sync {
    /// The `limit` releases closest to `release` in the model, closest first.
    async fn similar(
        &self,
        release: ReleaseId,
        limit: u32,
    ) -> Result<SimilarReleasesSet, SimilarError>;
}

type GrpcService = BoxCloneSyncService<http::Request<Body>, http::Response<Body>, TransportError>;

/// A failure below gRPC (connection, in-process service). A concrete type rather than a
/// boxed error: tonic's bounds on a boxed one trip the compiler's Send check in async code.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(BoxError);

/// The recommender's gRPC client.
#[derive(Clone)]
pub struct RecommenderSimilarReleases {
    client: RecommenderClient<GrpcService>,
}

impl RecommenderSimilarReleases {
    /// A client of the recommender at `url` (`http://host:port`); it connects on first use.
    pub fn connect_lazy(url: &str) -> Result<Self, tonic::transport::Error> {
        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())?
            .connect_timeout(CALL_TIMEOUT)
            .connect_lazy();
        Ok(Self::over(channel))
    }

    /// A client of any gRPC service: a channel, or the recommender's own server type
    /// (`RecommenderServer`) when it runs in this process.
    pub fn over<S>(service: S) -> Self
    where
        S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self {
            client: RecommenderClient::new(BoxCloneSyncService::new(
                service.map_err(|e| TransportError(e.into())),
            )),
        }
    }
}

#[async_trait]
impl SimilarReleases for RecommenderSimilarReleases {
    async fn similar(
        &self,
        release: ReleaseId,
        limit: u32,
    ) -> Result<SimilarReleasesSet, SimilarError> {
        let mut client = self.client.clone();
        let request = SimilarItemsRequest {
            release_id: release.0,
            limit,
        };
        let response = tokio::time::timeout(CALL_TIMEOUT, client.similar_items(request))
            .await
            .map_err(|_| {
                SimilarError::Unavailable("the recommender did not answer in time".into())
            })?
            .map_err(|status| match status.code() {
                tonic::Code::NotFound => SimilarError::NotInModel(release),
                tonic::Code::FailedPrecondition => SimilarError::NoModel,
                _ => SimilarError::Unavailable(format!("recommender: {}", status.message())),
            })?
            .into_inner();
        let releases = response
            .releases
            .into_iter()
            .map(|r| RecommendedRelease {
                release_id: ReleaseId(r.release_id),
                score: r.score,
                title: r.title,
                artists: r.artists,
                year: u16::try_from(r.year).ok().filter(|y| *y > 0),
                thumb: Some(r.thumb).filter(|t| !t.is_empty()),
                url: release_url(ReleaseId(r.release_id)),
                because: r
                    .because
                    .into_iter()
                    .map(|b| Because {
                        release_id: ReleaseId(b.release_id),
                        title: b.title,
                        contribution: b.contribution,
                    })
                    .collect(),
            })
            .collect();
        Ok(SimilarReleasesSet {
            release_id: release.0,
            model_version: response.model_version,
            releases,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct SimilarQuery {
    /// How many, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// Releases whose listeners overlap most with this one's, by the model's factors.
#[utoipa::path(get, path = "/api/v1/releases/{id}/similar", tag = "results",
    params(("id" = u64, Path, description = "A Discogs release id", minimum = 1), SimilarQuery),
    responses(
        (status = 200, description = "Closest first", body = SimilarReleasesSet),
        (status = 400, description = "Not a release id, or a bad limit", body = ErrorBody),
        (status = 404, description = "The model does not know the release", body = ErrorBody),
        (status = 501, description = "No recommender is configured", body = ErrorBody),
        (status = 503, description = "No model yet, or the recommender is unreachable", body = ErrorBody),
    ))]
pub(crate) async fn similar(
    State(gateway): State<Gateway>,
    Path(id): Path<String>,
    query: Result<Query<SimilarQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SimilarReleasesSet>, ApiError> {
    let release = id
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .map(ReleaseId)
        .ok_or_else(|| ApiError::invalid("id", "release ids are positive integers"))?;
    let Query(query) = query.map_err(|e| ApiError::invalid("limit", e.body_text()))?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        ));
    }
    let source = gateway.similar.as_ref().ok_or_else(|| {
        ApiError::NotConfigured(
            "similar releases need a recommender (gateway.recommender_url)".into(),
        )
    })?;
    source
        .similar(release, limit)
        .await
        .map(Json)
        .map_err(|e| match e {
            SimilarError::NotInModel(_) => ApiError::NotFound(e.to_string()),
            SimilarError::NoModel => ApiError::Unavailable(e.to_string()),
            SimilarError::Unavailable(detail) => ApiError::Unavailable(detail),
        })
}
