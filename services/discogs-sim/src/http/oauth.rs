//! OAuth 1.0a as Discogs does it, PLAINTEXT-signed: `GET /oauth/request_token`, the
//! `/oauth/authorize` page (here a form naming the simulated user who approves),
//! `POST /oauth/access_token`, and `GET /oauth/identity`. Any consumer key is accepted;
//! signatures are checked against the token secrets handed out.

use std::collections::HashMap;

use axum::extract::{Form, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};
use percent_encoding::percent_decode_str;
use serde::Deserialize;
use serde_json::json;

use super::json::message;
use super::{AppState, Caller, RequestContext, lock};
use crate::simulation::Account;

/// Tokens handed out, in memory for the simulator's lifetime.
#[derive(Debug, Default)]
pub struct OAuthBook {
    requests: HashMap<String, PendingRequest>,
    access: HashMap<String, Grant>,
}

#[derive(Debug)]
struct PendingRequest {
    secret: String,
    callback: String,
    /// Set once a user approved on the authorise page: (username, verifier).
    approved: Option<(String, String)>,
}

#[derive(Debug)]
struct Grant {
    secret: String,
    username: String,
}

impl OAuthBook {
    /// The user an access token (`Caller::OAuth`) acts for.
    pub fn user_of(&self, token: &str) -> Option<&str> {
        self.access.get(token).map(|g| g.username.as_str())
    }
}

fn random_token() -> String {
    use rand::Rng;
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The `OAuth k="v", ...` parameters, percent-decoded.
fn oauth_parameters(headers: &HeaderMap) -> Option<HashMap<String, String>> {
    let value = headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim()
        .strip_prefix("OAuth ")?;
    Some(
        value
            .split(',')
            .filter_map(|part| {
                let (key, value) = part.trim().split_once('=')?;
                let value = percent_decode_str(value.trim().trim_matches('"'))
                    .decode_utf8_lossy()
                    .into_owned();
                Some((key.trim().to_owned(), value))
            })
            .collect(),
    )
}

fn form_body(text: String) -> Response {
    let mut response = text.into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    response
}

fn refused(reason: &str) -> Response {
    message(StatusCode::UNAUTHORIZED, reason)
}

/// The PLAINTEXT signature is `consumer_secret&token_secret`; the consumer secret is
/// not known here (any consumer is accepted), so only the token part is checked.
fn signed_with(parameters: &HashMap<String, String>, token_secret: &str) -> bool {
    parameters
        .get("oauth_signature")
        .and_then(|s| s.rsplit_once('&'))
        .is_some_and(|(consumer, token)| !consumer.is_empty() && token == token_secret)
}

pub async fn request_token(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(parameters) = oauth_parameters(&headers) else {
        return refused("Invalid consumer.");
    };
    if parameters
        .get("oauth_consumer_key")
        .is_none_or(|k| k.is_empty())
        || !signed_with(&parameters, "")
    {
        return refused("Invalid consumer.");
    }
    let Some(callback) = parameters
        .get("oauth_callback")
        .filter(|c| c.starts_with("http://") || c.starts_with("https://"))
    else {
        return message(StatusCode::BAD_REQUEST, "Invalid callback.");
    };
    let (token, secret) = (random_token(), random_token());
    let pending = PendingRequest {
        secret: secret.clone(),
        callback: callback.clone(),
        approved: None,
    };
    lock(&app.oauth).requests.insert(token.clone(), pending);
    form_body(format!(
        "oauth_token={token}&oauth_token_secret={secret}&oauth_callback_confirmed=true"
    ))
}

#[derive(Debug, Deserialize)]
pub struct AuthorizeQuery {
    oauth_token: String,
}

/// The page a person sees: which simulated user approves the application.
pub async fn authorize_page(
    State(app): State<AppState>,
    Query(query): Query<AuthorizeQuery>,
) -> Response {
    if !lock(&app.oauth).requests.contains_key(&query.oauth_token) {
        return (
            StatusCode::NOT_FOUND,
            Html("<p>This authorisation request has expired.</p>"),
        )
            .into_response();
    }
    let token = html_escape(&query.oauth_token);
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Authorize application - Discogs (simulated)</title></head>\
         <body><h1>Authorize application</h1><p>An application wants to read your Discogs collection and wantlist.</p>\
         <form method=\"post\" action=\"/oauth/authorize\"><input type=\"hidden\" name=\"oauth_token\" value=\"{token}\">\
         <label for=\"username\">Signed in as</label> <input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <button type=\"submit\" name=\"decision\" value=\"authorize\">Authorize</button>\
         <button type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form></body></html>"
    ))
    .into_response()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[derive(Debug, Deserialize)]
pub struct Decision {
    oauth_token: String,
    username: String,
    decision: String,
}

/// Approval sends the browser back to the application's callback with a verifier.
pub async fn authorize(State(app): State<AppState>, Form(form): Form<Decision>) -> Response {
    let user = match app.sim.account(&form.username) {
        Some(Account::Collector(user)) => user.username.clone(),
        _ => {
            return message(
                StatusCode::NOT_FOUND,
                "User does not exist or may have been deleted.",
            );
        }
    };
    let mut book = lock(&app.oauth);
    let Some(pending) = book.requests.get_mut(&form.oauth_token) else {
        return message(
            StatusCode::NOT_FOUND,
            "This authorisation request has expired.",
        );
    };
    let separator = if pending.callback.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = if form.decision == "authorize" {
        let verifier = random_token();
        pending.approved = Some((user, verifier.clone()));
        format!(
            "{}{separator}oauth_token={}&oauth_verifier={verifier}",
            pending.callback, form.oauth_token
        )
    } else {
        let callback = pending.callback.clone();
        book.requests.remove(&form.oauth_token);
        format!("{callback}{separator}denied={}", form.oauth_token)
    };
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

pub async fn access_token(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let Some(parameters) = oauth_parameters(&headers) else {
        return refused("Invalid consumer.");
    };
    let (Some(token), Some(verifier)) = (
        parameters.get("oauth_token"),
        parameters.get("oauth_verifier"),
    ) else {
        return refused("Invalid request token.");
    };
    let mut book = lock(&app.oauth);
    let Some(pending) = book.requests.get(token) else {
        return refused("Invalid request token.");
    };
    let Some((username, expected)) = pending.approved.clone() else {
        return refused("The request token has not been authorized.");
    };
    if *verifier != expected || !signed_with(&parameters, &pending.secret) {
        return refused("Invalid verifier or signature.");
    }
    book.requests.remove(token);
    let (access, secret) = (random_token(), random_token());
    book.access.insert(
        access.clone(),
        Grant {
            secret: secret.clone(),
            username,
        },
    );
    form_body(format!("oauth_token={access}&oauth_token_secret={secret}"))
}

/// Who an access token belongs to. The token's secret must sign the request.
pub async fn identity(
    State(app): State<AppState>,
    headers: HeaderMap,
    Extension(context): Extension<RequestContext>,
) -> Response {
    let Caller::OAuth(token) = &context.caller else {
        return refused("You must authenticate to access this resource.");
    };
    let parameters = oauth_parameters(&headers).unwrap_or_default();
    let book = lock(&app.oauth);
    let Some(grant) = book
        .access
        .get(token)
        .filter(|g| signed_with(&parameters, &g.secret))
    else {
        return refused("Invalid access token.");
    };
    let id = match app.sim.account(&grant.username) {
        Some(Account::Collector(user)) => user.id,
        _ => 0,
    };
    Json(json!({
        "id": id,
        "username": grant.username,
        "resource_url": format!("{}/users/{}", context.base, grant.username),
        "consumer_name": "cratedigger",
    }))
    .into_response()
}
