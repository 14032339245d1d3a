//! What a client gets instead of the page it asked for: Cloudflare's bot challenge, the
//! login wall, Discogs' 404 and 429 answers, and injected server errors. A scraper must
//! recognise each of these and never read one as "no listings".

use axum::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::faults::FaultKind;
use crate::http::json::message;

const HTML: &str = "text/html; charset=utf-8";

/// The interstitial Cloudflare serves to clients it suspects of being bots.
pub fn challenge_page() -> Response {
    let body = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
        <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\
        <meta name=\"robots\" content=\"noindex,nofollow\"></head>\
        <body><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">\
        <h1 class=\"zone-name-title h1\">www.discogs.com</h1>\
        <h2 class=\"h2\" id=\"challenge-running\">Checking if the site connection is secure</h2>\
        <noscript><div class=\"h2\">Enable JavaScript and cookies to continue</div></noscript>\
        <div id=\"challenge-body-text\" class=\"core-msg spacer\">www.discogs.com needs to review the security of your connection before proceeding.</div>\
        </div></div></body></html>";
    let mut response = (StatusCode::FORBIDDEN, [(CONTENT_TYPE, HTML)], body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        HeaderName::from_static("cf-mitigated"),
        HeaderValue::from_static("challenge"),
    );
    headers.insert(
        HeaderName::from_static("server"),
        HeaderValue::from_static("cloudflare"),
    );
    response
}

/// Cloudflare's firewall block (error 1020), which no client gets past.
pub fn block_page() -> Response {
    let body = "<!DOCTYPE html><html class=\"no-js\" lang=\"en-US\"><head>\
        <title>Access denied | www.discogs.com used Cloudflare to restrict access</title></head>\
        <body><div id=\"cf-wrapper\"><div id=\"cf-error-details\"><h1><span>Access denied</span>\
        <span class=\"code-label\">Error code <span class=\"cf-error-code\">1020</span></span></h1>\
        <p>You do not have access to www.discogs.com.</p></div></div></body></html>";
    let mut response = (StatusCode::FORBIDDEN, [(CONTENT_TYPE, HTML)], body).into_response();
    response.headers_mut().insert(
        HeaderName::from_static("server"),
        HeaderValue::from_static("cloudflare"),
    );
    response
}

/// Sends the visitor to the login page, keeping where they wanted to go.
pub fn login_redirect(path: &str) -> Response {
    let target = format!(
        "/login?return_to={}",
        utf8_percent_encode(path, NON_ALPHANUMERIC)
    );
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&target) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// `GET /login`: a sign-in form and nothing else.
pub async fn login_page() -> Response {
    let body = "<!DOCTYPE html><html lang=\"en\"><head><title>Log In | Discogs</title></head><body>\
        <div id=\"page_content\"><h1>Log In</h1>\
        <form id=\"login_form\" action=\"/login\" method=\"post\">\
        <label for=\"username\">Username or Email</label><input id=\"username\" name=\"username\" type=\"text\">\
        <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\">\
        <button type=\"submit\">Log In</button></form>\
        <p>You must be logged in to view this page.</p></div></body></html>";
    (StatusCode::OK, [(CONTENT_TYPE, HTML)], body).into_response()
}

pub fn not_found_page() -> Response {
    let body = "<!DOCTYPE html><html lang=\"en\"><head><title>Page Not Found | Discogs</title></head><body>\
        <div id=\"page_content\"><h1>404! Oh no!</h1><p>We couldn't find that page.</p></div></body></html>";
    (StatusCode::NOT_FOUND, [(CONTENT_TYPE, HTML)], body).into_response()
}

/// A 429 as the API sends it, or as an HTML page for the www pages.
pub fn too_many_requests(retry_after_secs: u64, api: bool) -> Response {
    let mut response = if api {
        message(
            StatusCode::TOO_MANY_REQUESTS,
            "You are making requests too quickly.",
        )
    } else {
        let body = "<!DOCTYPE html><html><head><title>429 Too Many Requests</title></head>\
            <body><h1>Too Many Requests</h1><p>You are making requests too quickly.</p></body></html>";
        (StatusCode::TOO_MANY_REQUESTS, [(CONTENT_TYPE, HTML)], body).into_response()
    };
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
    response
}

/// The response an injected fault stands for (latency and truncation are applied around
/// the real response instead, so they have none).
pub fn fault_response(kind: &FaultKind, path: &str, api: bool) -> Option<Response> {
    match kind {
        FaultKind::Latency { .. } | FaultKind::TruncatedBody => None,
        FaultKind::ServerError { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(if api {
                message(status, "An internal server error occurred.")
            } else {
                let body = format!(
                    "<!DOCTYPE html><html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
                );
                (status, [(CONTENT_TYPE, HTML)], body).into_response()
            })
        }
        FaultKind::RateLimited { retry_after_secs } => {
            Some(too_many_requests(*retry_after_secs, api))
        }
        FaultKind::Challenge => Some(challenge_page()),
        FaultKind::LoginWall => Some(login_redirect(path)),
        FaultKind::Blocked => Some(block_page()),
    }
}
