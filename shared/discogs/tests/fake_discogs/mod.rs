//! A small Discogs stand-in on 127.0.0.1:0 for the client tests: it serves the fixture
//! files and misbehaves on purpose (429 with Retry-After, 500s, truncated bodies,
//! challenge pages, 403/404 JSON messages). It records what it was asked.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub const TOKEN: &str = "s3cr3t-personal-token-value";

#[derive(Default)]
pub struct Seen {
    /// Requests per path (query included).
    pub hits: HashMap<String, u32>,
    pub user_agents: Vec<String>,
    pub authorizations: Vec<String>,
}

#[derive(Clone, Default)]
pub struct Fake {
    pub seen: Arc<Mutex<Seen>>,
}

impl Fake {
    pub fn hits(&self, path: &str) -> u32 {
        self.seen
            .lock()
            .unwrap()
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    fn count(&self, request: &Request) -> u32 {
        let mut seen = self.seen.lock().unwrap();
        let key = request
            .uri()
            .path_and_query()
            .map_or("", |p| p.as_str())
            .to_owned();
        let n = seen.hits.entry(key).or_insert(0);
        *n += 1;
        let n = *n;
        let header = |name| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let (ua, auth) = (header(header::USER_AGENT), header(header::AUTHORIZATION));
        seen.user_agents.push(ua);
        seen.authorizations.push(auth);
        n
    }
}

fn fixture(relative: &str) -> String {
    let path = cratedigger_testkit::dataset(&format!("discogs-fixtures/{relative}"));
    std::fs::read_to_string(path).unwrap()
}

fn json(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
    headers.insert("x-discogs-ratelimit", "60".parse().unwrap());
    headers.insert("x-discogs-ratelimit-used", "2".parse().unwrap());
    headers.insert("x-discogs-ratelimit-remaining", "58".parse().unwrap());
    response
}

fn message(status: StatusCode, text: &str) -> Response {
    json(status, serde_json::json!({ "message": text }).to_string())
}

/// Starts the fake on an ephemeral loopback port; returns its base URL.
pub async fn start() -> (String, Fake) {
    let fake = Fake::default();
    let app = Router::new()
        .route("/users/{name}", get(user))
        .route("/users/{name}/wants", get(wants))
        .route(
            "/users/{name}/collection/folders/0/releases",
            get(collection),
        )
        .route("/users/{name}/inventory", get(inventory))
        .route("/releases/{id}", get(release))
        .route("/masters/{id}/versions", get(versions))
        .route("/marketplace/stats/{id}", get(stats))
        .route("/marketplace/listings/{id}", get(listing))
        .route("/oauth/identity", get(identity))
        .route("/oauth/request_token", get(request_token))
        .route("/oauth/access_token", post(access_token))
        .route("/sell/release/{id}", get(sell_release))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), fake)
}

async fn user(State(fake): State<Fake>, Path(name): Path<String>, request: Request) -> Response {
    fake.count(&request);
    match name.as_str() {
        "leaky" => message(
            StatusCode::UNAUTHORIZED,
            &format!("invalid credentials: Discogs token={TOKEN}"),
        ),
        _ => json(
            StatusCode::OK,
            fixture(
                "bartholomews__discogs4s/modules__core__src__test__resources____files__users__rodneyfool.json",
            ),
        ),
    }
}

async fn wants(State(fake): State<Fake>, Path(name): Path<String>, request: Request) -> Response {
    fake.count(&request);
    match name.as_str() {
        "private" => message(
            StatusCode::FORBIDDEN,
            "You don't have permission to access this resource.",
        ),
        "missing" => message(
            StatusCode::NOT_FOUND,
            "User does not exist or may have been deleted.",
        ),
        "example" => json(
            StatusCode::OK,
            fixture(
                "joalla__discogs_client/discogs_client__tests__res__users__example__wants_per_page=50&page=1.json",
            ),
        ),
        _ => json(
            StatusCode::OK,
            fixture(
                "brotherlogic__godiscogs/testdata__users__brotherlogic__wants_per_page=100_token=token",
            ),
        ),
    }
}

async fn collection(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    json(
        StatusCode::OK,
        fixture(
            "brotherlogic__godiscogs/testdata__users__brotherlogic__collection__folders__0__releases_per_page=100_token=token",
        ),
    )
}

async fn inventory(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    json(
        StatusCode::OK,
        fixture("ezienecker__discogs-ctl/src__test__resources__responses__shop.json"),
    )
}

/// Release ids choose a behaviour: 1 = 429 twice (Retry-After 1), 2 = always 500,
/// 3 = a truncated body once, 4 = one 503, 5 = always truncated, 6 = never answers in time,
/// 7 = 429 with `Retry-After: 86000` (a day).
async fn release(State(fake): State<Fake>, Path(id): Path<u64>, request: Request) -> Response {
    let n = fake.count(&request);
    let body = fixture("brotherlogic__godiscogs/testdata__releases__249504_token=token");
    match (id, n) {
        (1, 1..=2) => {
            let mut response = too_many_requests("1");
            response
                .headers_mut()
                .insert("x-discogs-ratelimit-remaining", "0".parse().unwrap());
            response
        }
        (7, _) => too_many_requests("86000"),
        (2, _) => message(StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        (3, 1) | (5, _) => json(StatusCode::OK, body[..body.len() / 2].to_owned()),
        (4, 1) => (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response(),
        (6, _) => {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            json(StatusCode::OK, body)
        }
        _ => json(StatusCode::OK, body),
    }
}

/// Discogs' 429, asking to wait `retry_after` seconds.
fn too_many_requests(retry_after: &'static str) -> Response {
    let mut response = message(
        StatusCode::TOO_MANY_REQUESTS,
        "You are making requests too quickly.",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after.parse().unwrap());
    response
}

async fn versions(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    let body = serde_json::json!({
        "pagination": {"page": 1, "pages": 1, "per_page": 50, "items": 2, "urls": {}},
        "versions": [
            {"id": 249504, "title": "Never Gonna Give You Up", "format": "7\", Single", "label": "RCA",
             "catno": "PB 41447", "country": "UK", "released": "1987", "major_formats": ["Vinyl"],
             "status": "Accepted", "stats": {"community": {"in_wantlist": 1, "in_collection": 2}}},
            {"id": 1, "title": "Never Gonna Give You Up", "major_formats": ["CD"]}
        ]
    });
    json(StatusCode::OK, body.to_string())
}

async fn stats(State(fake): State<Fake>, Path(id): Path<u64>, request: Request) -> Response {
    fake.count(&request);
    if id == 0 {
        return json(
            StatusCode::OK,
            r#"{"num_for_sale": 0, "lowest_price": null, "blocked_from_sale": false}"#.into(),
        );
    }
    json(
        StatusCode::OK,
        fixture("irlndts__go-discogs/extracted__testing_data.go__releaseStatsJson.json"),
    )
}

async fn listing(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    json(
        StatusCode::OK,
        fixture("stmcallister__go-discogs/extracted__marketplace_test.go__listing_2218783261.json"),
    )
}

async fn identity(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    json(
        StatusCode::OK,
        fixture("joalla__discogs_client/discogs_client__tests__res__oauth__identity.json"),
    )
}

fn has(headers: &HeaderMap, part: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(part))
}

async fn request_token(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    let headers = request.headers();
    if !(has(headers, "oauth_signature=\"csecret%26\"") && has(headers, "oauth_callback=")) {
        return (StatusCode::UNAUTHORIZED, "Invalid consumer.").into_response();
    }
    "oauth_token=rtoken&oauth_token_secret=rsecret&oauth_callback_confirmed=true".into_response()
}

async fn access_token(State(fake): State<Fake>, request: Request) -> Response {
    fake.count(&request);
    let headers = request.headers();
    let signed = has(headers, "oauth_signature=\"csecret%26rsecret\"")
        && has(headers, "oauth_token=\"rtoken\"")
        && has(headers, "oauth_verifier=\"v3r1f13r\"");
    if !signed {
        return (StatusCode::UNAUTHORIZED, "Invalid signature.").into_response();
    }
    "oauth_token=atoken&oauth_token_secret=asecret".into_response()
}

/// 2247646 = the 2026 page, 35886547 = the empty page, 666 = a Cloudflare challenge
/// (403), 665 = one served as 503, 667 = a login wall, 668 = a 404, 669 = the 2026 page
/// cut short once, 670 = always cut.
async fn sell_release(State(fake): State<Fake>, Path(id): Path<u64>, request: Request) -> Response {
    let n = fake.count(&request);
    let page = |file| fixture(file);
    let real = "michaelhball__discogs_alert/tests__data__marketplace_listing_real.html";
    let html = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .body(Body::from(body))
            .unwrap()
    };
    match (id, n) {
        (665 | 666, _) => {
            let status = if id == 665 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::FORBIDDEN };
            let mut response = html(status, "<html><head><title>Just a moment...</title></head></html>".into());
            response.headers_mut().insert("cf-mitigated", "challenge".parse().unwrap());
            response
        }
        (667, _) => html(StatusCode::OK, "<html><head><title>Log In | Discogs</title></head><body><form action=\"/login\"><input type=\"password\"></form></body></html>".into()),
        (668, _) => html(StatusCode::NOT_FOUND, "<html><head><title>Page Not Found</title></head></html>".into()),
        (669, 1) | (670, _) => {
            let body = page(real);
            let start = body.find("<div id=\"page_content\"").unwrap();
            html(StatusCode::OK, body[..start].to_owned())
        }
        (671, _) => too_many_requests("20"),
        (35_886_547, _) => html(StatusCode::OK, page("ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__3-should-handle-empty-table-body.html")),
        _ => html(StatusCode::OK, page(real)),
    }
}
