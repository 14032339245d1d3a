//! "Sign in with Discogs": OAuth 1.0a through the Discogs client.
//!
//! `GET /auth/discogs/login` gets a request token and sends the browser to Discogs'
//! authorise page; Discogs sends it back to `GET /auth/discogs/callback` (under
//! `gateway.public_url`, never the Host header) with a verifier, which is traded for an
//! access token; `/oauth/identity` names the user, and a session signed in as them
//! starts. The sign-in is bound to the browser that started it by a random cookie: a
//! callback link opened anywhere else signs no one in. `POST /auth/logout` ends it.
//!
//! Hidden contract: the user's access token is kept in the KeyValue store under
//! `discogs-oauth:<username>` (JSON `{token, secret}`) for as long as the session lasts,
//! for the stages that read a private wantlist on the user's behalf.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cratedigger_discogs::api::{AccessToken, Auth, ConsumerCredentials, RequestToken};
use cratedigger_discogs::{DiscogsClient, MemoryRateLimiter, RateLimitPolicy, Secret};
use cratedigger_domain::Username;
use serde::{Deserialize, Serialize};

use crate::{ApiError, Gateway};

/// How long a visitor has to approve the request on Discogs.
const REQUEST_TTL: Duration = Duration::from_secs(15 * 60);

/// The Discogs client and the application's consumer credentials.
#[derive(Clone)]
pub struct DiscogsSignIn {
    pub client: DiscogsClient,
    pub consumer: ConsumerCredentials,
}

#[derive(Serialize, Deserialize)]
struct StoredToken {
    token: String,
    secret: String,
    /// The browser that started signing in, by the random value of its binding cookie:
    /// only it may finish (a link to the callback sent to someone else does not sign
    /// them in as the sender). Absent for access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    browser: Option<String>,
}

/// The cookie that binds a sign-in to the browser that started it.
const BINDING_COOKIE: &str = "cratedigger_signin";

fn request_key(token: &str) -> String {
    format!("oauth-request:{token}")
}

pub fn access_token_key(username: &Username) -> String {
    format!("discogs-oauth:{username}")
}

fn redirect(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

fn sign_in(gateway: &Gateway) -> Result<&DiscogsSignIn, ApiError> {
    gateway.oauth.as_deref().ok_or_else(|| {
        ApiError::NotConfigured(
            "sign-in with discogs is not configured (gateway.discogs_consumer_key and _secret)"
                .into(),
        )
    })
}

/// The callback address, under the configured public address. Never from the request's
/// Host header: a forged one would send the visitor's verifier elsewhere.
fn callback_url(gateway: &Gateway) -> Result<String, ApiError> {
    let base = gateway.settings.public_url.as_deref().ok_or_else(|| {
        ApiError::NotConfigured(
            "sign-in with discogs needs gateway.public_url, the address people reach this \
             site at"
                .into(),
        )
    })?;
    Ok(format!(
        "{}/auth/discogs/callback",
        base.trim_end_matches('/')
    ))
}

/// `Set-Cookie` for the binding cookie (empty value and no age: cleared).
fn binding_cookie(gateway: &Gateway, value: &str, max_age: Duration) -> String {
    let secure = if gateway.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{BINDING_COOKIE}={value}; Path=/auth/discogs; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        max_age.as_secs()
    )
}

pub(crate) async fn login(State(gateway): State<Gateway>) -> Result<Response, ApiError> {
    let oauth = sign_in(&gateway)?;
    let callback = callback_url(&gateway)?;
    let request = oauth
        .client
        .oauth_request_token(&oauth.consumer, &callback)
        .await
        .map_err(ApiError::unavailable)?;
    let browser = crate::access::session::hex(&rand::random::<[u8; 16]>());
    let stored = serde_json::to_string(&StoredToken {
        token: request.token.clone(),
        secret: request.secret.expose().to_owned(),
        browser: Some(browser.clone()),
    })
    .map_err(ApiError::unavailable)?;
    gateway
        .kv
        .set(&request_key(&request.token), &stored, Some(REQUEST_TTL))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(redirect(
        oauth.client.oauth_authorize_url(&request).as_str(),
        Some(binding_cookie(&gateway, &browser, REQUEST_TTL)),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct Callback {
    oauth_token: Option<String>,
    oauth_verifier: Option<String>,
}

pub(crate) async fn callback(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    query: Result<Query<Callback>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let oauth = sign_in(&gateway)?;
    let Ok(Query(Callback {
        oauth_token: Some(token),
        oauth_verifier: Some(verifier),
    })) = query
    else {
        // Discogs sends the visitor back without a verifier when they refuse.
        return Ok(redirect("/?signin=refused", None));
    };
    let key = request_key(&token);
    let Some(stored) = gateway.kv.get(&key).await.map_err(ApiError::unavailable)? else {
        return Ok(redirect("/?signin=expired", None));
    };
    // One use only: a replayed callback finds nothing.
    gateway
        .kv
        .delete(&key)
        .await
        .map_err(ApiError::unavailable)?;
    let stored: StoredToken = serde_json::from_str(&stored).map_err(ApiError::unavailable)?;
    let browser = crate::access::session::cookie_value(&headers, BINDING_COOKIE);
    if stored.browser.is_none() || stored.browser != browser {
        tracing::warn!("a sign-in callback from another browser than the one that started it");
        return Ok(redirect("/?signin=elsewhere", None));
    }
    let request = RequestToken {
        token: stored.token,
        secret: Secret::new(stored.secret),
    };
    let access = oauth
        .client
        .oauth_access_token(&oauth.consumer, &request, &verifier)
        .await
        .map_err(ApiError::unavailable)?;
    let username = identify(oauth, &access).await?;
    let record = serde_json::to_string(&StoredToken {
        token: access.token.clone(),
        secret: access.secret.expose().to_owned(),
        browser: None,
    })
    .map_err(ApiError::unavailable)?;
    let lifetime = gateway.session_lifetime();
    gateway
        .kv
        .set(&access_token_key(&username), &record, Some(lifetime))
        .await
        .map_err(ApiError::unavailable)?;
    let (_, cookie) = gateway
        .sessions
        .start(Some(username.clone()))
        .await
        .map_err(ApiError::unavailable)?;
    tracing::info!(username = %username, "signed in with discogs");
    Ok(redirect("/", Some(cookie)))
}

/// Whose access token this is, asked of Discogs with the token itself.
async fn identify(oauth: &DiscogsSignIn, access: &AccessToken) -> Result<Username, ApiError> {
    let mut config = oauth.client.config().clone();
    config.auth = Auth::OAuth {
        consumer: oauth.consumer.clone(),
        token: access.token.clone(),
        token_secret: access.secret.clone(),
    };
    // One request per sign-in, counted against the user's own budget at Discogs.
    let limiter = Arc::new(MemoryRateLimiter::new(RateLimitPolicy::authenticated()));
    let client = DiscogsClient::new(config, limiter).map_err(ApiError::unavailable)?;
    let identity = client.identity().await.map_err(ApiError::unavailable)?;
    Username::parse(&identity.username)
        .map_err(|e| ApiError::unavailable(format!("discogs named an unusable user: {e}")))
}

pub(crate) async fn logout(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some(session) = gateway
        .sessions
        .find(&headers)
        .await
        .map_err(ApiError::unavailable)?
    else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    if let Some(username) = &session.username {
        gateway
            .kv
            .delete(&access_token_key(username))
            .await
            .map_err(ApiError::unavailable)?;
    }
    let cookie = gateway
        .sessions
        .end(&session)
        .await
        .map_err(ApiError::unavailable)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}
