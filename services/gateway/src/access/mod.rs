//! Who may do what.
//!
//! A caller holds a valid API key (when keys are configured), a session (anonymous, or
//! signed in with Discogs as a user), or nothing. When keys are configured, every API
//! request needs a key or a signed-in session (401 otherwise). Then, per job:
//!
//! - A job is *private* when a session signed in as the job's username started it: it
//!   may read that user's private lists. Its status and results are visible to sessions
//!   signed in as that user and to key holders only; identical requests from others never
//!   return it. The user's stored recommendations become private from then on too.
//! - Every other job is *public*: it reads what anyone can see on Discogs, so its status
//!   and results are visible to whoever holds its id (a random, unguessable UUID), and
//!   identical requests share it.
//! - Cancelling needs more than knowing the id: the session that started the job, a
//!   session signed in as the job's user, or a key.

mod keys;
mod owners;
pub mod session;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::Response;
use cratedigger_domain::{JobId, Username};
use cratedigger_kv::KeyValue;
use serde::{Deserialize, Serialize};

pub use keys::ApiKeys;
pub use owners::Owners;
use owners::private_user_key;
pub use session::{Session, Sessions};

use crate::{ApiError, Gateway};

/// The caller of one request, set by [`authenticate`].
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub has_api_key: bool,
    pub session: Option<Session>,
}

impl Caller {
    pub fn signed_in_as(&self) -> Option<&Username> {
        self.session.as_ref().and_then(|s| s.username.as_ref())
    }

    fn is_signed_in_as(&self, username: &str) -> bool {
        // Discogs names are case-insensitive: `DIGGER0001` is the account signed in as
        // `digger0001`.
        self.signed_in_as()
            .is_some_and(|u| u.is_same_account(username))
    }
}

/// Who started a job, kept beside it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobOwner {
    /// The session that started it.
    pub session: Option<String>,
    pub private: bool,
}

impl JobOwner {
    /// The owner of a job `caller` starts for `username`.
    pub fn for_request(caller: &Caller, username: &Username) -> Self {
        Self {
            session: caller.session.as_ref().map(|s| s.key.clone()),
            private: caller.is_signed_in_as(username.as_str()),
        }
    }
}

/// Whether `caller` may see job `job` of `username`. Answers 404, not 403, for a
/// private job: its existence is none of the caller's business.
pub async fn check_may_read_job(
    owners: &Owners,
    caller: &Caller,
    job: &JobId,
    username: &str,
) -> Result<(), ApiError> {
    if caller.has_api_key || caller.is_signed_in_as(username) {
        return Ok(());
    }
    if owners.of(job).await?.private {
        return Err(ApiError::NotFound(format!("no job {job}")));
    }
    Ok(())
}

pub async fn check_may_cancel_job(
    owners: &Owners,
    caller: &Caller,
    job: &JobId,
    username: &str,
) -> Result<(), ApiError> {
    check_may_read_job(owners, caller, job, username).await?;
    if caller.has_api_key || caller.is_signed_in_as(username) {
        return Ok(());
    }
    let owner = owners.of(job).await?;
    match (&owner.session, &caller.session) {
        (Some(started_by), Some(session)) if *started_by == session.key => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only the session that started a job, its user or an api key may cancel it".into(),
        )),
    }
}

pub async fn check_may_read_recommendations(
    kv: &dyn KeyValue,
    caller: &Caller,
    username: &Username,
) -> Result<(), ApiError> {
    if caller.has_api_key || caller.is_signed_in_as(username.as_str()) {
        return Ok(());
    }
    if kv
        .get(&private_user_key(username))
        .await
        .map_err(ApiError::unavailable)?
        .is_some()
    {
        return Err(ApiError::Forbidden(format!(
            "{username}'s recommendations are visible to {username} only; sign in with discogs"
        )));
    }
    Ok(())
}

/// Identifies the caller of every API request, and refuses it when keys are configured
/// and it holds neither a key nor a signed-in session.
pub async fn authenticate(
    State(gateway): State<Gateway>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let caller = identify(&gateway.keys, &gateway.sessions, request.headers().clone()).await?;
    if gateway.keys.are_required() && !caller.has_api_key && caller.signed_in_as().is_none() {
        return Err(ApiError::Unauthenticated);
    }
    let writes = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if writes && caller.session.is_some() && !caller.has_api_key {
        check_same_site(&gateway.settings, request.headers())?;
    }
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}

/// A write that a session cookie authenticates must come from this site's own pages:
/// browsers send `Origin` with every such request, and a page on another site would
/// otherwise act with the visitor's session. Requests without `Origin` (scripts, curl)
/// carry no ambient credentials of a browser and pass. This site is the configured
/// public address, the request's own host, or a configured CORS origin.
fn check_same_site(settings: &crate::GatewaySettings, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or_default().trim_end_matches('/');
    let authority = |url: &str| {
        url.split_once("://").map(|(_, rest)| {
            rest.split('/')
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase()
        })
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    let own = settings
        .public_url
        .as_deref()
        .map(|u| u.trim_end_matches('/'));
    let allowed = own == Some(origin)
        || (own.is_none() && host.is_some() && authority(origin) == host)
        || settings
            .cors_origins
            .iter()
            .any(|o| o == "*" || o.trim_end_matches('/') == origin);
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a request from {origin} may not act with this site's session cookie"
        )))
    }
}

async fn identify(
    keys: &Arc<ApiKeys>,
    sessions: &Sessions,
    headers: HeaderMap,
) -> Result<Caller, ApiError> {
    let has_api_key = keys.presented_by(&headers);
    let session = sessions
        .find(&headers)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Caller {
        has_api_key,
        session,
    })
}
