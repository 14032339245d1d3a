//! The OpenAPI document served at `/api/openapi.json`, generated from the handlers'
//! annotations. The domain and status crates carry no OpenAPI derives (they stay free of
//! HTTP concerns), so the shapes they give the API are described here, beside the
//! handlers, as `*Doc` types used only for the document.

use cratedigger_domain::MediaCondition;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{RefOr, Server};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::error::{ErrorBody, ErrorDetail};
use crate::jobs::record::{Links, StatusRecord};
use crate::jobs::{CreateJob, CreatedJob, SessionInfo};
use crate::similar::SimilarReleasesSet;
use crate::uploads::{CreatedUpload, UploadStatusDoc};

#[derive(OpenApi)]
#[openapi(
    info(title = "cratedigger", description = "Start recommendation and cart jobs for a Discogs user, follow them, read their results."),
    paths(
        crate::jobs::create,
        crate::jobs::status,
        crate::jobs::cancel,
        crate::jobs::events::follow,
        crate::jobs::session,
        crate::results::recommendations,
        crate::results::carts,
        crate::similar::similar,
        crate::uploads::create,
        crate::uploads::status,
    ),
    components(schemas(
        CreateJob, CreatedJob, StatusRecord, StatusEventDoc, JobKindDoc, Links, ErrorBody, ErrorDetail, SessionInfo, SimilarReleasesSet,
        CartCriteriaDoc, MoneyDoc, MediaConditionDoc, JobStatusDoc, StageStatusDoc, JobErrorDoc,
        RecommendationSetDoc, RecommendedReleaseDoc, BecauseDoc, CartSetDoc,
        CreatedUpload, UploadStatusDoc,
    )),
    modifiers(&ApiKeySecurity),
    tags((name = "jobs"), (name = "results"), (name = "session"), (name = "listings")),
)]
pub struct ApiDoc;

/// The document as served: the server is the one answering.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.servers = Some(vec![Server::new("/")]);
    doc
}

struct ApiKeySecurity;

impl Modify for ApiKeySecurity {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-api-key",
                "Needed only when the server is configured with keys (or sign in with Discogs instead)",
            ))),
        );
    }
}

/// One message of `GET /api/v1/jobs/{id}/events`, as an event-stream parser reads it
/// (OpenAPI 3.1 describes a stream by its events): the event name `status` and, as
/// `data`, a `StatusRecord` in JSON.
#[derive(ToSchema)]
#[schema(as = StatusEvent)]
#[allow(dead_code)]
pub struct StatusEventDoc {
    #[schema(example = "status", pattern = "^status$")]
    event: String,
    /// A `StatusRecord`, the same as `GET /api/v1/jobs/{id}` answers.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// What a job does.
#[derive(ToSchema)]
#[schema(as = JobKind, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum JobKindDoc {
    /// Sync the profile, then recommend records.
    Recommendations,
    /// Sync the profile, pick candidates, read the marketplace, build carts.
    Carts,
    /// Sync the profile only.
    Sync,
}

/// Money: integer minor units (cents) and an ISO 4217 code; never a float.
#[derive(ToSchema)]
#[schema(as = Money)]
#[allow(dead_code)]
pub struct MoneyDoc {
    #[schema(example = 5000)]
    minor: i64,
    #[schema(example = "EUR", pattern = "^[A-Za-z]{3}$")]
    currency: String,
}

/// A Discogs grade: the long name ("Very Good Plus (VG+)") or its code ("VG+").
pub struct MediaConditionDoc;

impl PartialSchema for MediaConditionDoc {
    fn schema() -> RefOr<Schema> {
        let names = MediaCondition::ALL
            .iter()
            .flat_map(|c| [c.discogs_name(), c.code()]);
        ObjectBuilder::new()
            .schema_type(SchemaType::new(Type::String))
            .enum_values(Some(names))
            .into()
    }
}

impl ToSchema for MediaConditionDoc {
    fn name() -> std::borrow::Cow<'static, str> {
        "MediaCondition".into()
    }
}

/// What a buyer asks of a cart.
#[derive(ToSchema)]
#[schema(as = CartCriteria)]
#[allow(dead_code)]
pub struct CartCriteriaDoc {
    /// The most spent, items plus shipping, in the buyer's currency.
    budget: MoneyDoc,
    min_media_condition: Option<MediaConditionDoc>,
    min_sleeve_condition: Option<MediaConditionDoc>,
    /// Percent, 0 to 100.
    #[schema(minimum = 0.0, maximum = 100.0)]
    min_seller_rating: Option<f64>,
    /// The fewest items a cart may hold, 1 to 500 (default 1).
    #[schema(minimum = 1, maximum = 500)]
    min_items: Option<u32>,
    max_item_price: Option<MoneyDoc>,
    /// Only sellers shipping from these countries (Discogs' names); empty: anywhere.
    ships_from: Option<Vec<String>>,
    ships_from_exclude: Option<Vec<String>>,
    /// At most this many sellers in the multi-seller cart.
    #[schema(minimum = 1)]
    max_sellers: Option<u32>,
    /// Any pressing of a record will do.
    any_pressing: Option<bool>,
    /// Best carts kept per seller, 1 to 100 (default 10).
    #[schema(minimum = 1, maximum = 100)]
    carts_per_seller: Option<u32>,
    /// Discogs sellers whose inventories are searched for the candidates (at most 50;
    /// the `inventory` listing source). Carts are not limited to them.
    sellers: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[schema(as = JobError)]
#[allow(dead_code)]
pub struct JobErrorDoc {
    /// Stable: `user_not_found`, `wantlist_private`, `discogs_unavailable`, ...
    code: String,
    message: String,
    /// Whether the same job may succeed later.
    retryable: bool,
    stage: Option<String>,
}

#[derive(ToSchema)]
#[schema(as = StageStatus)]
#[allow(dead_code)]
pub struct StageStatusDoc {
    /// profile, recommend, candidates, market, carts.
    name: String,
    /// pending, running, succeeded, failed.
    state: String,
    done: u32,
    failed: u32,
    /// Null until the stage knows how much work it has.
    total: Option<u32>,
    started_at: Option<String>,
    finished_at: Option<String>,
}

/// The status of a job, as clients of long-running operations expect it.
#[derive(ToSchema)]
#[schema(as = JobStatus)]
#[allow(dead_code)]
pub struct JobStatusDoc {
    job_id: String,
    /// recommendations, carts, sync.
    kind: Option<String>,
    username: Option<String>,
    /// queued, running, succeeded, failed, cancelled.
    state: String,
    stages: Vec<StageStatusDoc>,
    /// 0 to 100, never lower than a value reported before.
    #[schema(minimum = 0, maximum = 100)]
    percent: u8,
    /// Seconds left when the pace gives an honest estimate; null otherwise.
    eta_seconds: Option<u64>,
    message: Option<String>,
    error: Option<JobErrorDoc>,
    /// Some work failed for good and the job went on without it.
    partial: bool,
    coverage: Option<f64>,
    /// Where the result is stored (`recommendations/<username>`, `carts/<job id>`).
    result: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    /// Nothing moved for a while although the job is not finished.
    stale: bool,
    /// How long to wait before asking again; null once the job is final.
    poll_after_ms: Option<u64>,
}

#[derive(ToSchema)]
#[schema(as = Because)]
#[allow(dead_code)]
pub struct BecauseDoc {
    release_id: u64,
    title: String,
    contribution: f32,
}

#[derive(ToSchema)]
#[schema(as = RecommendedRelease)]
#[allow(dead_code)]
pub struct RecommendedReleaseDoc {
    release_id: u64,
    score: f32,
    title: String,
    artists: Vec<String>,
    year: Option<u16>,
    thumb: Option<String>,
    /// The release's page on Discogs.
    url: String,
    /// "Because you have ...": the user's releases that contributed most.
    because: Vec<BecauseDoc>,
}

#[derive(ToSchema)]
#[schema(as = RecommendationSet)]
#[allow(dead_code)]
pub struct RecommendationSetDoc {
    username: String,
    job_id: String,
    model_version: String,
    generated_at: String,
    releases: Vec<RecommendedReleaseDoc>,
    /// The user's releases the model does not know.
    unknown_to_model: u32,
}

/// The carts of a carts job. `plan` is the optimiser's answer: `scenarios` (one per
/// seller cap: 1, 2, 3, any) each with a `cart` of `lines` and per-seller `orders`
/// (subtotal, shipping, whether shipping is assumed), and the `per_seller` best carts.
#[derive(ToSchema)]
#[schema(as = CartSet)]
#[allow(dead_code)]
pub struct CartSetDoc {
    job_id: String,
    username: String,
    criteria: CartCriteriaDoc,
    /// A 64-bit seed as a decimal string (JavaScript numbers are exact only to 2^53).
    #[schema(example = "12345678901234567890", pattern = "^[0-9]{1,20}$")]
    seed: String,
    generated_at: String,
    #[schema(value_type = Object)]
    plan: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    releases: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    sellers: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    listings: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    fx_rates: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    market: serde_json::Value,
    /// Things a buyer should know ("shipping for 2 sellers is an estimate").
    notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_document_names_every_route_and_one_error_shape() {
        let doc = serde_json::to_value(super::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for path in [
            "/api/v1/jobs",
            "/api/v1/jobs/{id}",
            "/api/v1/jobs/{id}/events",
            "/api/v1/jobs/{id}/carts",
            "/api/v1/users/{username}/recommendations",
            "/api/v1/releases/{id}/similar",
            "/api/v1/session",
        ] {
            assert!(paths.contains_key(path), "{path} missing");
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(
            doc["components"]["schemas"]["MediaCondition"]["enum"]
                .as_array()
                .unwrap()
                .len()
                == 16
        );
    }
}
