//! What stands between a request and its handler, in the order Discogs' own front does
//! it: injected faults (they sit "in front", so they cost no budget), the User-Agent
//! rule, credentials, and the moving-window budget; then the API headers on the way out.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::{CONTENT_LENGTH, HOST, USER_AGENT};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::caller::{AuthError, Caller, INVALID_CREDENTIAL_MESSAGE};
use super::json::message;
use super::{AppState, RequestContext, lock};
use crate::faults::FaultKind;
use crate::limiter::{Decision, MovingWindow};
use crate::pages::protection::{fault_response, too_many_requests};
use crate::settings::SellPageBudget;
use crate::stats::EndpointKind;

const RATELIMIT: HeaderName = HeaderName::from_static("x-discogs-ratelimit");
const RATELIMIT_USED: HeaderName = HeaderName::from_static("x-discogs-ratelimit-used");
const RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-discogs-ratelimit-remaining");
const MEDIA_TYPE: HeaderName = HeaderName::from_static("x-discogs-media-type");
const ALLOW_ORIGIN: HeaderName = HeaderName::from_static("access-control-allow-origin");

/// Which moving window a request draws from, and whether its response reports it.
struct Budget<'a> {
    key: String,
    limit: u32,
    window: &'a Mutex<MovingWindow>,
    reported: bool,
}

fn budget<'a>(
    app: &'a AppState,
    kind: EndpointKind,
    caller: &Caller,
    peer: IpAddr,
) -> Option<Budget<'a>> {
    let api_budget = || {
        let rate = &app.settings.rate_limit;
        let limit = if caller.is_authenticated() {
            rate.authenticated
        } else {
            rate.unauthenticated
        }?;
        Some(Budget {
            key: caller.budget_key(),
            limit,
            window: &app.api_budget,
            reported: true,
        })
    };
    match kind {
        EndpointKind::SellRelease => match app.settings.sell_pages {
            SellPageBudget::Unlimited => None,
            SellPageBudget::SharedWithApi => api_budget(),
            SellPageBudget::PerClient(limit) => Some(Budget {
                key: format!("www:{peer}"),
                limit,
                window: &app.page_budget,
                reported: false,
            }),
        },
        EndpointKind::Login => None,
        _ => api_budget(),
    }
}

fn report(headers: &mut HeaderMap, limit: u32, used: u32, remaining: u32) {
    headers.insert(RATELIMIT, HeaderValue::from(limit));
    headers.insert(RATELIMIT_USED, HeaderValue::from(used));
    headers.insert(RATELIMIT_REMAINING, HeaderValue::from(remaining));
}

pub async fn guard(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let kind = EndpointKind::of_path(&path);
    let api = kind.is_api();
    app.stats.record(kind, &path);

    // Bot protection stands in front of the web host (and of the faults the origin
    // injects), not in front of the API.
    if let Some(challenge) = app.challenge.as_ref().filter(|_| !api)
        && !challenge.admits(request.headers())
    {
        app.stats.record_challenged();
        return challenge.page();
    }

    let plan = lock(&app.faults).plan(&path);
    if !plan.is_quiet() {
        app.stats.record_fault();
    }
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    if let Some(response) = plan
        .outcome
        .as_ref()
        .and_then(|k| fault_response(k, &path, api))
    {
        return response;
    }
    let truncate = plan.outcome == Some(FaultKind::TruncatedBody);

    if api && app.settings.require_user_agent && !has_user_agent(request.headers()) {
        return message(
            StatusCode::FORBIDDEN,
            "Please supply a User-Agent header identifying your application.",
        );
    }
    let query: Vec<(String, String)> = Query::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |ConnectInfo(addr)| {
            addr.ip()
        });
    let caller = match Caller::identify(
        request.headers(),
        &query,
        peer,
        app.settings.accepted_tokens.as_deref(),
    ) {
        Ok(caller) => caller,
        Err(AuthError::Rejected) if api => {
            return message(StatusCode::UNAUTHORIZED, INVALID_CREDENTIAL_MESSAGE);
        }
        // The www pages ignore API credentials.
        Err(_) => Caller::Anonymous(peer),
    };

    let mut allowed = None;
    if let Some(budget) = budget(&app, kind, &caller, peer) {
        match lock(budget.window).check(&budget.key, budget.limit, Instant::now()) {
            Decision::Allowed {
                limit,
                used,
                remaining,
            } => {
                allowed = budget.reported.then_some((limit, used, remaining));
            }
            Decision::Limited { limit, retry_after } => {
                app.stats.record_rate_limited();
                let mut response = too_many_requests(retry_after.as_secs_f64().ceil() as u64, api);
                if budget.reported {
                    report(response.headers_mut(), limit, limit, 0);
                }
                return response;
            }
        }
    }

    let host = request
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base = format!("http://{host}");
    request
        .extensions_mut()
        .insert(RequestContext { caller, base });
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if api {
        headers.insert(MEDIA_TYPE, HeaderValue::from_static("discogs.v2"));
        headers.insert(ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    if let Some((limit, used, remaining)) = allowed {
        report(headers, limit, used, remaining);
    }
    if truncate {
        cut_body_in_half(response).await
    } else {
        response
    }
}

fn has_user_agent(headers: &HeaderMap) -> bool {
    headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| !ua.trim().is_empty())
}

/// Keeps the status and headers, sends the first half of the body with a Content-Length
/// that matches what is sent: the client gets a complete, malformed document.
async fn cut_body_in_half(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes.slice(0..bytes.len() / 2)))
}
