//! The gRPC face of the recommender, with the standard health service.

use std::sync::Arc;

use cratedigger_domain::{RecommendedRelease, ReleaseId, Username, release_url};
use cratedigger_kit::Shutdown;
use cratedigger_proto::recommender::recommender_server::{
    Recommender as RecommenderApi, RecommenderServer,
};
use cratedigger_proto::recommender::{
    Because, RecommendRequest, RecommendResponse, RecommendedRelease as PbRelease,
    SimilarItemsRequest, SimilarItemsResponse,
};
use tonic::{Request, Response, Status};

use crate::{RecommendError, Recommender};

pub struct RecommenderGrpc(pub Arc<Recommender>);

impl From<RecommendError> for Status {
    fn from(e: RecommendError) -> Self {
        match e {
            RecommendError::InvalidRequest(m) => Status::invalid_argument(m),
            RecommendError::NoModel => Status::failed_precondition(e.to_string()),
            RecommendError::UnknownRelease(_) => Status::not_found(e.to_string()),
            RecommendError::Unavailable(_) => Status::unavailable(e.to_string()),
        }
    }
}

fn to_pb(r: RecommendedRelease) -> PbRelease {
    PbRelease {
        release_id: r.release_id.0,
        score: r.score,
        title: r.title,
        artists: r.artists,
        year: r.year.map(u32::from).unwrap_or(0),
        thumb: r.thumb.unwrap_or_default(),
        because: r
            .because
            .into_iter()
            .map(|b| Because {
                release_id: b.release_id.0,
                title: b.title,
                contribution: b.contribution,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl RecommenderApi for RecommenderGrpc {
    async fn recommend(
        &self,
        request: Request<RecommendRequest>,
    ) -> Result<Response<RecommendResponse>, Status> {
        let request = request.into_inner();
        let username = Username::parse(&request.username)
            .map_err(|e| Status::from(RecommendError::InvalidRequest(e.to_string())))?;
        let exclude: Vec<ReleaseId> = request
            .exclude_release_ids
            .into_iter()
            .map(ReleaseId)
            .collect();
        let set = self
            .0
            .recommend(&username, "", request.limit, &exclude)
            .await?;
        Ok(Response::new(RecommendResponse {
            model_version: set.model_version,
            releases: set.releases.into_iter().map(to_pb).collect(),
        }))
    }

    async fn similar_items(
        &self,
        request: Request<SimilarItemsRequest>,
    ) -> Result<Response<SimilarItemsResponse>, Status> {
        let request = request.into_inner();
        let loaded = self.0.slot.get().ok_or(RecommendError::NoModel)?;
        let index = loaded
            .model
            .item_index(request.release_id)
            .ok_or(RecommendError::UnknownRelease(request.release_id))?;
        let limit = match request.limit {
            0 => self.0.settings.default_limit,
            n => n.min(self.0.settings.max_limit),
        } as usize;
        let similar = loaded
            .model
            .similar_items(index, limit, &[])
            .map_err(|e| RecommendError::Unavailable(e.into()))?;
        let ids: Vec<ReleaseId> = similar
            .iter()
            .filter_map(|s| loaded.model.item_id(s.item))
            .map(ReleaseId)
            .collect();
        let releases = self
            .0
            .catalog
            .releases(&ids)
            .await
            .map_err(|e| RecommendError::Unavailable(e.into()))?;
        let releases = similar
            .iter()
            .filter_map(|s| {
                let id = ReleaseId(loaded.model.item_id(s.item)?);
                let meta = releases.iter().find(|r| r.id == id);
                Some(to_pb(RecommendedRelease {
                    release_id: id,
                    score: s.score,
                    title: meta.map(|r| r.title.clone()).unwrap_or_default(),
                    artists: meta.map(|r| r.artists.clone()).unwrap_or_default(),
                    year: meta.and_then(|r| r.year),
                    thumb: meta.and_then(|r| r.thumb.clone()),
                    url: release_url(id),
                    because: Vec::new(),
                }))
            })
            .collect();
        Ok(Response::new(SimilarItemsResponse {
            model_version: loaded.version.clone(),
            releases,
        }))
    }
}

/// Serves the Recommender and gRPC health on `listener` until `shutdown`.
pub async fn serve_grpc(
    recommender: Arc<Recommender>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_serving::<RecommenderServer<RecommenderGrpc>>()
        .await;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(RecommenderServer::new(RecommenderGrpc(recommender)))
        .serve_with_incoming_shutdown(incoming, async move { shutdown.wait().await })
        .await?;
    Ok(())
}
