//! The HTTP API against a real gateway on a free port, with the services behind it and a
//! Discogs simulator: every endpoint, every validation error, de-duplication, cancelling,
//! who may see what, and the limits (body size, API keys, rate, CORS).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use cratedigger_domain::{
    Because, CartCriteria, CartSet, RecommendationSet, RecommendedRelease, ReleaseId, release_url,
};
use cratedigger_gateway::{SimilarError, SimilarReleases, SimilarReleasesSet};
use cratedigger_results::Collection;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Options, Stack, error_of, location, session_cookie};

fn sync(username: &str) -> Value {
    json!({"kind": "sync", "username": username})
}

fn carts(username: &str, criteria: Value) -> Value {
    json!({"kind": "carts", "username": username, "criteria": criteria})
}

fn eur(minor: i64) -> Value {
    json!({"minor": minor, "currency": "EUR"})
}

fn final_state(status: &Value) -> &str {
    status["state"].as_str().unwrap()
}

#[tokio::test]
async fn a_job_is_accepted_and_its_status_record_follows_it_to_the_end() {
    let stack = Stack::start().await;
    let (job, existing, cookie) = stack.start_job(&sync("digger0001"), None).await;
    assert!(!existing);
    assert!(
        cookie.is_some(),
        "an anonymous visitor gets a session, to cancel its job with"
    );

    let mut last_percent = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {job} did not end"
        );
        let status = stack.status(&job, None).await;
        let percent = status["percent"].as_u64().unwrap();
        assert!(
            percent >= last_percent,
            "percent went back from {last_percent} to {percent}"
        );
        last_percent = percent;
        assert_eq!(status["job_id"], job);
        assert_eq!(status["kind"], "sync");
        assert_eq!(status["username"], "digger0001");
        for key in [
            "stages",
            "eta_seconds",
            "message",
            "error",
            "partial",
            "updated_at",
            "stale",
            "poll_after_ms",
            "links",
        ] {
            assert!(status.get(key).is_some(), "{key} missing from {status}");
        }
        assert_eq!(status["links"]["self"], format!("/api/v1/jobs/{job}"));
        assert_eq!(
            status["links"]["events"],
            format!("/api/v1/jobs/{job}/events")
        );
        if final_state(&status) != "queued" && final_state(&status) != "running" {
            break status;
        }
        assert!(status["poll_after_ms"].as_u64().unwrap() > 0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(final_state(&status), "succeeded", "{status}");
    assert_eq!(status["percent"], 100);
    assert_eq!(status["error"], Value::Null);
    assert_eq!(
        status["eta_seconds"],
        Value::Null,
        "no estimate once finished"
    );
    assert_eq!(status["stale"], false);
    let profile = &status["stages"][0];
    assert_eq!(profile["name"], "profile");
    assert_eq!(profile["state"], "succeeded");
    assert!(
        profile["started_at"].is_string() && profile["finished_at"].is_string(),
        "{profile}"
    );
    // A sync job keeps no results to link to.
    assert_eq!(status["links"]["results"], Value::Null);

    let carts_job = stack
        .start_job(&carts("digger0001", json!({"budget": eur(5000)})), None)
        .await
        .0;
    assert_eq!(
        stack.status(&carts_job, None).await["links"]["results"],
        format!("/api/v1/jobs/{carts_job}/carts")
    );
    let recommend = stack
        .start_job(
            &json!({"kind": "recommendations", "username": "digger0001"}),
            None,
        )
        .await
        .0;
    assert_eq!(
        stack.status(&recommend, None).await["links"]["results"],
        "/api/v1/users/digger0001/recommendations"
    );
}

#[tokio::test]
async fn a_failed_job_says_why_and_which_stage() {
    let stack = Stack::start().await;
    let (job, _, _) = stack.start_job(&sync("nobody-here"), None).await;
    let status = stack.wait_final(&job, None).await;
    assert_eq!(final_state(&status), "failed", "{status}");
    let error = &status["error"];
    assert_eq!(error["code"], "user_not_found", "{status}");
    assert_eq!(error["retryable"], false);
    assert_eq!(error["stage"], "profile");
    assert!(!error["message"].as_str().unwrap().is_empty());
}

/// Splits an event stream into its `(event, data)` messages.
fn events_of(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = name.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            (!data.is_empty()).then_some((event, data))
        })
        .collect()
}

#[tokio::test]
async fn the_event_stream_pushes_every_change_and_ends_with_the_job() {
    let stack = Stack::start().await;
    let (job, _, _) = stack.start_job(&sync("digger0002"), None).await;
    let response = stack.get(&format!("/api/v1/jobs/{job}/events")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // The stream ends by itself once the job is final.
    let text = tokio::time::timeout(Duration::from_secs(30), response.text())
        .await
        .expect("the stream ended")
        .unwrap();
    let events = events_of(&text);
    assert!(!events.is_empty(), "{text}");
    let mut last_percent = 0;
    let mut previous = String::new();
    for (name, data) in &events {
        assert_eq!(name, "status");
        assert_ne!(*data, previous, "the same record sent twice in a row");
        let record: Value = serde_json::from_str(data).unwrap();
        assert_eq!(record["job_id"], job);
        let percent = record["percent"].as_u64().unwrap();
        assert!(percent >= last_percent);
        last_percent = percent;
        previous.clone_from(data);
    }
    let last: Value = serde_json::from_str(&events.last().unwrap().1).unwrap();
    assert_eq!(final_state(&last), "succeeded");
    // A finished job's stream sends the final record once and ends.
    let again = stack
        .get(&format!("/api/v1/jobs/{job}/events"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(events_of(&again).len(), 1);

    error_of(
        stack
            .get(&format!("/api/v1/jobs/{}/events", uuid_like()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bad = error_of(
        stack.get("/api/v1/jobs/nope/events").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(bad["field"], "id");
}

fn uuid_like() -> String {
    "0b5d8a4e-9c3f-4f7a-8d2e-1a2b3c4d5e6f".to_owned()
}

#[tokio::test]
async fn bad_usernames_are_refused_and_nothing_reaches_discogs() {
    let stack = Stack::start().await;
    let long = "a".repeat(200);
    let bad = [
        "../x",
        "a/b",
        "%2e%2e",
        "..",
        ".",
        "",
        " digger",
        "digger\u{0}",
        "dig ger",
        "d?x=1",
        "d#x",
        "Ω",
        long.as_str(),
    ];
    for username in bad {
        for kind in ["recommendations", "carts", "sync"] {
            let mut body = json!({"kind": kind, "username": username});
            if kind == "carts" {
                body["criteria"] = json!({"budget": eur(5000)});
            }
            let error = error_of(
                stack.post_job(&body, None).await,
                StatusCode::BAD_REQUEST,
                "invalid_request",
            )
            .await;
            assert_eq!(error["field"], "username", "{username:?}");
        }
    }
    // In the path, percent-decoded by the router, the same names are refused too. (A bare
    // `%2e%2e` segment never arrives: clients resolve it as `..` before sending, as browsers do.)
    for path in [
        "..%2Fx",
        "a%2Fb",
        "%252e%252e",
        "%2E%2E%2Fx",
        "%20",
        "a%3Fb",
        long.as_str(),
    ] {
        let response = stack
            .get(&format!("/api/v1/users/{path}/recommendations"))
            .await;
        let error = error_of(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert_eq!(error["field"], "username", "{path}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        stack.sim.requests().await,
        0,
        "a refused request reached discogs"
    );

    // The counter does count: a valid request reaches the simulator through the profile stage.
    let (job, _, _) = stack.start_job(&sync("digger0003"), None).await;
    stack.wait_final(&job, None).await;
    assert!(stack.sim.requests().await > 0);
}

#[tokio::test]
async fn every_mistake_in_a_job_request_is_a_400_naming_its_field() {
    let stack = Stack::start().await;
    let budget = eur(5000);
    let with = |extra: Value| {
        let mut criteria = json!({"budget": budget});
        for (key, value) in extra.as_object().unwrap() {
            criteria[key] = value.clone();
        }
        carts("digger0001", criteria)
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!([1, 2]), "body"),
        (json!("carts"), "body"),
        (json!({"username": "digger0001"}), "kind"),
        (
            json!({"kind": "everything", "username": "digger0001"}),
            "kind",
        ),
        (json!({"kind": 3, "username": "digger0001"}), "kind"),
        (json!({"kind": "sync"}), "username"),
        (json!({"kind": "sync", "username": 42}), "username"),
        (
            json!({"kind": "sync", "username": "digger0001", "admin": true}),
            "admin",
        ),
        (
            json!({"kind": "recommendations", "username": "digger0001", "limit": 0}),
            "limit",
        ),
        (
            json!({"kind": "recommendations", "username": "digger0001", "limit": 501}),
            "limit",
        ),
        (
            json!({"kind": "recommendations", "username": "digger0001", "limit": "ten"}),
            "limit",
        ),
        (
            json!({"kind": "recommendations", "username": "digger0001", "criteria": {"budget": budget}}),
            "criteria",
        ),
        (
            json!({"kind": "carts", "username": "digger0001"}),
            "criteria",
        ),
        (
            json!({"kind": "carts", "username": "digger0001", "criteria": [1]}),
            "criteria",
        ),
        (
            json!({"kind": "carts", "username": "digger0001", "criteria": {"budget": budget}, "wantlist_share": 1.5}),
            "wantlist_share",
        ),
        (
            json!({"kind": "carts", "username": "digger0001", "criteria": {"budget": budget}, "wantlist_share": -0.1}),
            "wantlist_share",
        ),
        (
            json!({"kind": "carts", "username": "digger0001", "criteria": {"budget": budget}, "wantlist_share": "half"}),
            "wantlist_share",
        ),
        (carts("digger0001", json!({})), "criteria.budget"),
        (with(json!({"budget": eur(0)})), "criteria.budget"),
        (with(json!({"budget": eur(-100)})), "criteria.budget"),
        (
            with(json!({"budget": {"minor": 100, "currency": "EURO"}})),
            "criteria.budget",
        ),
        (
            with(json!({"budget": {"minor": 1.5, "currency": "EUR"}})),
            "criteria.budget",
        ),
        (
            with(json!({"budget": {"minor": 100, "currency": "EUR", "cents": 1}})),
            "criteria.budget.cents",
        ),
        (
            with(json!({"budget": eur(i64::MAX)})),
            "criteria.budget.minor",
        ),
        (
            with(json!({"min_media_condition": "shiny"})),
            "criteria.min_media_condition",
        ),
        (
            with(json!({"min_sleeve_condition": 7})),
            "criteria.min_sleeve_condition",
        ),
        (
            with(json!({"min_seller_rating": 100.5})),
            "criteria.min_seller_rating",
        ),
        (
            with(json!({"min_seller_rating": -1})),
            "criteria.min_seller_rating",
        ),
        (
            with(json!({"min_seller_rating": "high"})),
            "criteria.min_seller_rating",
        ),
        (with(json!({"min_items": 0})), "criteria.min_items"),
        (
            with(json!({"carts_per_seller": 0})),
            "criteria.carts_per_seller",
        ),
        (
            with(json!({"carts_per_seller": 1000})),
            "criteria.carts_per_seller",
        ),
        (with(json!({"max_sellers": 0})), "criteria.max_sellers"),
        (
            with(json!({"max_item_price": {"minor": 500, "currency": "USD"}})),
            "criteria.max_item_price",
        ),
        (
            with(json!({"ships_from": "Germany"})),
            "criteria.ships_from",
        ),
        (
            with(json!({"ships_from": ["Germany", "<script>"]})),
            "criteria.ships_from[1]",
        ),
        (with(json!({"ships_from": [""]})), "criteria.ships_from[0]"),
        (
            with(json!({"ships_from": ["x".repeat(61)]})),
            "criteria.ships_from[0]",
        ),
        (
            with(json!({"ships_from_exclude": ["Germany", "../etc"]})),
            "criteria.ships_from_exclude[1]",
        ),
        (
            with(json!({"ships_from": ["Germany"], "ships_from_exclude": ["germany"]})),
            "criteria.ships_from_exclude",
        ),
        (
            with(json!({"any_pressing": "yes"})),
            "criteria.any_pressing",
        ),
        (with(json!({"colour": "red"})), "criteria.colour"),
    ];
    for (body, field) in cases {
        let error = error_of(
            stack.post_job(&body, None).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
        assert_eq!(error["field"], field, "{body}: {error}");
    }
    // Not JSON at all, or not declared as JSON.
    let garbled = stack
        .request(Method::POST, "/api/v1/jobs", None)
        .header("content-type", "application/json")
        .body("{\"kind\":")
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(garbled, StatusCode::BAD_REQUEST, "invalid_request").await["field"],
        "body"
    );
    // Nothing was started by any of them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(stack.sim.requests().await, 0);
    // A full, valid request passes.
    let full = carts(
        "digger0001",
        json!({"budget": eur(12_000), "min_media_condition": "VG+", "min_sleeve_condition": "Very Good (VG)",
               "min_seller_rating": 98.5, "min_items": 2, "max_item_price": eur(4000), "ships_from": ["Germany", "Côte d'Ivoire"],
               "ships_from_exclude": ["France"], "max_sellers": 3, "any_pressing": true, "carts_per_seller": 10}),
    );
    let mut full = full;
    full["limit"] = json!(50);
    full["wantlist_share"] = json!(0.7);
    stack.start_job(&full, None).await;
}

#[tokio::test]
async fn a_job_request_must_be_declared_as_json() {
    let stack = Stack::start().await;
    // A valid body not declared as JSON is what a form on another site can post with a
    // visitor's cookies: refused, naming the type to send.
    let valid = serde_json::to_string(&sync("digger0031")).unwrap();
    for declared in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = stack
            .request(Method::POST, "/api/v1/jobs", None)
            .body(valid.clone());
        if let Some(declared) = declared {
            request = request.header("content-type", declared);
        }
        let refused = request.send().await.unwrap();
        let error = error_of(
            refused,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{declared:?}: {error}"
        );
    }
    let with_charset = stack
        .request(Method::POST, "/api/v1/jobs", None)
        .header("content-type", "Application/JSON; charset=utf-8")
        .body(valid)
        .send()
        .await
        .unwrap();
    assert_eq!(with_charset.status(), StatusCode::ACCEPTED);
    // The refused requests started nothing: this one is not a repeat of theirs.
    let created: Value = with_charset.json().await.unwrap();
    assert_eq!(created["existing"], false, "{created}");
}

#[tokio::test]
async fn an_identical_request_returns_the_running_or_recent_job() {
    let stack = Stack::start().await;
    let (first, existing, _) = stack.start_job(&sync("digger0004"), None).await;
    assert!(!existing);
    let (again, existing, _) = stack.start_job(&sync("digger0004"), None).await;
    assert_eq!(
        (again.as_str(), existing),
        (first.as_str(), true),
        "while it runs"
    );
    assert_eq!(
        final_state(&stack.wait_final(&first, None).await),
        "succeeded"
    );
    let (after, existing, _) = stack.start_job(&sync("digger0004"), None).await;
    assert_eq!(
        (after.as_str(), existing),
        (first.as_str(), true),
        "once it succeeded"
    );
    // Discogs names are case-insensitive: the same account, the same request.
    let (shouted, existing, _) = stack.start_job(&sync("DIGGER0004"), None).await;
    assert_eq!((shouted.as_str(), existing), (first.as_str(), true));

    // Anything that changes the result is another request.
    let other_user = stack.start_job(&sync("digger0005"), None).await.0;
    let other_kind = stack
        .start_job(
            &json!({"kind": "recommendations", "username": "digger0004"}),
            None,
        )
        .await
        .0;
    let other_limit = stack
        .start_job(
            &json!({"kind": "recommendations", "username": "digger0004", "limit": 5}),
            None,
        )
        .await
        .0;
    let ids = [&first, &other_user, &other_kind, &other_limit];
    for (i, a) in ids.iter().enumerate() {
        for b in &ids[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The same criteria written differently are the same request; other criteria are not.
    let one = stack
        .start_job(
            &carts(
                "digger0004",
                json!({"budget": eur(5000), "ships_from": ["Germany", "France"]}),
            ),
            None,
        )
        .await
        .0;
    let (same, existing, _) = stack
        .start_job(
            &carts(
                "digger0004",
                json!({"budget": eur(5000), "ships_from": ["france", "germany"]}),
            ),
            None,
        )
        .await;
    assert_eq!((same.as_str(), existing), (one.as_str(), true));
    let dearer = stack
        .start_job(
            &carts(
                "digger0004",
                json!({"budget": eur(5001), "ships_from": ["Germany", "France"]}),
            ),
            None,
        )
        .await
        .0;
    assert_ne!(dearer, one);

    // A failed job is not handed out again: the request starts afresh.
    let (failed, _, _) = stack.start_job(&sync("nobody-here"), None).await;
    assert_eq!(
        final_state(&stack.wait_final(&failed, None).await),
        "failed"
    );
    let (retried, existing, _) = stack.start_job(&sync("nobody-here"), None).await;
    assert!(!existing);
    assert_ne!(retried, failed);
}

#[tokio::test]
async fn the_same_request_after_the_window_starts_a_new_job() {
    let stack = Stack::start_with(Options::new().with(|s| s.dedup_seconds = 1)).await;
    let (first, _, _) = stack.start_job(&sync("digger0006"), None).await;
    assert_eq!(
        final_state(&stack.wait_final(&first, None).await),
        "succeeded"
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (second, existing, _) = stack.start_job(&sync("digger0006"), None).await;
    assert!(!existing);
    assert_ne!(second, first);
    // The old job is still readable.
    assert_eq!(final_state(&stack.status(&first, None).await), "succeeded");
}

#[tokio::test]
async fn the_session_that_started_a_job_may_cancel_it_and_others_may_not() {
    let stack = Stack::start().await;
    // Nothing runs the carts stages here, so the job stays unfinished until cancelled.
    let body = carts("digger0007", json!({"budget": eur(8000)}));
    let (job, _, cookie) = stack.start_job(&body, None).await;
    let cookie = cookie.unwrap();
    let path = format!("/api/v1/jobs/{job}");

    error_of(
        stack
            .request(Method::DELETE, &path, None)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let stranger = stack.start_job(&sync("digger0008"), None).await.2.unwrap();
    error_of(
        stack
            .request(Method::DELETE, &path, Some(&stranger))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let cancelled = stack
        .request(Method::DELETE, &path, Some(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status(), StatusCode::ACCEPTED);
    let record: Value = cancelled.json().await.unwrap();
    assert_eq!(record["job_id"], job);
    assert_eq!(
        final_state(&stack.wait_final(&job, None).await),
        "cancelled"
    );
    // Cancelling again is harmless.
    assert_eq!(
        stack
            .request(Method::DELETE, &path, Some(&cookie))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    // The same request now starts a new job.
    let (fresh, existing, _) = stack.start_job(&body, Some(&cookie)).await;
    assert!(!existing);
    assert_ne!(fresh, job);

    // A finished job cannot be cancelled.
    let (done, _, done_cookie) = stack.start_job(&sync("digger0009"), None).await;
    stack.wait_final(&done, None).await;
    let conflict = stack
        .request(
            Method::DELETE,
            &format!("/api/v1/jobs/{done}"),
            done_cookie.as_deref(),
        )
        .send()
        .await
        .unwrap();
    error_of(conflict, StatusCode::CONFLICT, "conflict").await;

    error_of(
        stack
            .request(
                Method::DELETE,
                &format!("/api/v1/jobs/{}", uuid_like()),
                Some(&cookie),
            )
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let bad = stack
        .request(Method::DELETE, "/api/v1/jobs/12", Some(&cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_of(bad, StatusCode::BAD_REQUEST, "invalid_request").await["field"],
        "id"
    );
}

/// Every top-level field of `value` has the JSON type the OpenAPI document gives it.
async fn assert_documented(schema: &str, value: &Value, stack: &Stack) {
    let document: Value = stack.get("/api/openapi.json").await.json().await.unwrap();
    let properties = document["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap();
    for (name, property) in properties {
        let types: Vec<&str> = match &property["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let actual = match &value[name] {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let fits = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        assert!(fits, "{schema}.{name} is {actual}, documented as {types:?}");
    }
}

fn recommendation_set(username: &str, job: &str) -> RecommendationSet {
    RecommendationSet {
        username: username.to_owned(),
        job_id: job.to_owned(),
        model_version: "v-test".into(),
        generated_at: "2026-11-01T10:00:00Z".into(),
        releases: vec![RecommendedRelease {
            release_id: ReleaseId(1234),
            score: 0.9,
            title: "Blue Train".into(),
            artists: vec!["John Coltrane".into()],
            year: Some(1957),
            thumb: None,
            url: release_url(ReleaseId(1234)),
            because: vec![Because {
                release_id: ReleaseId(99),
                title: "Giant Steps".into(),
                contribution: 0.5,
            }],
        }],
        unknown_to_model: 0,
    }
}

fn cart_set(username: &str, job: &str) -> CartSet {
    let criteria: CartCriteria = serde_json::from_value(json!({"budget": eur(5000)})).unwrap();
    CartSet {
        job_id: job.to_owned(),
        username: username.to_owned(),
        criteria,
        seed: 7,
        generated_at: "2026-11-01T10:00:00Z".into(),
        plan: json!({"scenarios": [], "per_seller": [], "rejections": [], "empty": true}),
        releases: Vec::new(),
        sellers: Vec::new(),
        listings: Vec::new(),
        fx_rates: Vec::new(),
        market: Default::default(),
        notes: vec!["shipping for 1 seller is an estimate".into()],
    }
}

#[tokio::test]
async fn results_are_served_once_stored() {
    let stack = Stack::start().await;
    let results = stack.backends.results.clone();

    let missing = error_of(
        stack.get("/api/v1/users/digger0010/recommendations").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains("start a recommendations job")
    );
    let stored = recommendation_set("digger0010", &uuid_like());
    results
        .put(
            Collection::Recommendations,
            "digger0010",
            &serde_json::to_value(&stored).unwrap(),
        )
        .await
        .unwrap();
    let served: Value = stack
        .get("/api/v1/users/digger0010/recommendations")
        .await
        .json()
        .await
        .unwrap();
    assert_documented("RecommendationSet", &served, &stack).await;
    let served: RecommendationSet = serde_json::from_value(served).unwrap();
    assert_eq!(served, stored);

    let (job, _, _) = stack
        .start_job(&carts("digger0010", json!({"budget": eur(5000)})), None)
        .await;
    let carts_path = format!("/api/v1/jobs/{job}/carts");
    let early = error_of(
        stack.get(&carts_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        early["message"].as_str().unwrap().contains("no carts yet"),
        "{early}"
    );
    let set = cart_set("digger0010", &job);
    results
        .put(
            Collection::Carts,
            &job,
            &serde_json::to_value(&set).unwrap(),
        )
        .await
        .unwrap();
    let response = stack.get(&carts_path).await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    assert_documented("CartSet", &served, &stack).await;
    let served: CartSet = serde_json::from_value(served).unwrap();
    assert_eq!(served, set);

    let (sync_job, _, _) = stack.start_job(&sync("digger0010"), None).await;
    let not_carts = error_of(
        stack.get(&format!("/api/v1/jobs/{sync_job}/carts")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        not_carts["message"]
            .as_str()
            .unwrap()
            .contains("not a carts job")
    );
    error_of(
        stack
            .get(&format!("/api/v1/jobs/{}/carts", uuid_like()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        stack.get("/api/v1/jobs/x/carts").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    error_of(
        stack.get(&format!("/api/v1/jobs/{}", uuid_like())).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        stack.get("/api/v1/jobs/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
}

#[tokio::test]
async fn a_signed_in_users_job_and_results_are_theirs_alone() {
    let stack = Stack::start().await;
    let owner = stack.sign_in("digger0011").await;
    let session: Value = stack
        .request(Method::GET, "/api/v1/session", Some(&owner))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["username"], "digger0011");
    assert_eq!(session["sign_in_available"], true);
    let anonymous: Value = stack.get("/api/v1/session").await.json().await.unwrap();
    assert_eq!(anonymous["username"], Value::Null);

    let body = carts("digger0011", json!({"budget": eur(6000)}));
    let (job, _, cookie) = stack.start_job(&body, Some(&owner)).await;
    assert!(cookie.is_none(), "a signed-in caller keeps its session");
    let stranger = stack.start_job(&sync("digger0012"), None).await.2.unwrap();
    let other_user = stack.sign_in("digger0012").await;

    let status_path = format!("/api/v1/jobs/{job}");
    assert_eq!(
        stack
            .request(Method::GET, &status_path, Some(&owner))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    for caller in [None, Some(stranger.as_str()), Some(other_user.as_str())] {
        // Not even its existence is told.
        for path in [
            status_path.clone(),
            format!("{status_path}/events"),
            format!("{status_path}/carts"),
        ] {
            error_of(
                stack
                    .request(Method::GET, &path, caller)
                    .send()
                    .await
                    .unwrap(),
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
        error_of(
            stack
                .request(Method::DELETE, &status_path, caller)
                .send()
                .await
                .unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // An identical request from someone else is not given the private job.
    let (shared, existing, _) = stack.start_job(&body, None).await;
    assert!(!existing);
    assert_ne!(shared, job);
    let (mine, existing, _) = stack.start_job(&body, Some(&owner)).await;
    assert_eq!((mine.as_str(), existing), (job.as_str(), true));

    let results = stack.backends.results.clone();
    results
        .put(
            Collection::Carts,
            &job,
            &serde_json::to_value(cart_set("digger0011", &job)).unwrap(),
        )
        .await
        .unwrap();
    let set = recommendation_set("digger0011", &job);
    results
        .put(
            Collection::Recommendations,
            "digger0011",
            &serde_json::to_value(&set).unwrap(),
        )
        .await
        .unwrap();
    let carts_path = format!("/api/v1/jobs/{job}/carts");
    assert_eq!(
        stack
            .request(Method::GET, &carts_path, Some(&owner))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    error_of(
        stack.get(&carts_path).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let recommendations = "/api/v1/users/digger0011/recommendations";
    assert_eq!(
        stack
            .request(Method::GET, recommendations, Some(&owner))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    error_of(
        stack.get(recommendations).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    error_of(
        stack
            .request(Method::GET, recommendations, Some(&other_user))
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The name in another case is the same account: still theirs alone, and theirs.
    let shouted = "/api/v1/users/DIGGER0011/recommendations";
    error_of(stack.get(shouted).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(
        stack
            .request(Method::GET, shouted, Some(&owner))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // The owner may cancel it; signing out ends the session.
    assert_eq!(
        stack
            .request(Method::DELETE, &status_path, Some(&owner))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::ACCEPTED
    );
    let out = stack
        .request(Method::POST, "/auth/logout", Some(&owner))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    error_of(
        stack
            .request(Method::GET, &status_path, Some(&owner))
            .send()
            .await
            .unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn signing_in_refused_or_replayed_goes_back_to_the_page() {
    let stack = Stack::start().await;
    let refused = stack.get("/auth/discogs/callback?denied=abc").await;
    assert_eq!(
        (refused.status(), location(&refused)),
        (StatusCode::SEE_OTHER, "/?signin=refused".to_owned())
    );
    let unknown = stack
        .get("/auth/discogs/callback?oauth_token=forged&oauth_verifier=x")
        .await;
    assert_eq!(location(&unknown), "/?signin=expired");
    assert!(session_cookie(&unknown).is_none());

    // A callback link opened by another browser (sent to a victim, say) signs no one in:
    // the sign-in is bound to the browser that started it, and used up.
    let (callback, binding) = stack.approved_sign_in("digger0040").await;
    let elsewhere = stack.http.get(&callback).send().await.unwrap();
    assert_eq!(location(&elsewhere), "/?signin=elsewhere");
    assert!(session_cookie(&elsewhere).is_none());
    let too_late = stack
        .http
        .get(&callback)
        .header("cookie", binding)
        .send()
        .await
        .unwrap();
    assert_eq!(location(&too_late), "/?signin=expired");

    let unconfigured =
        Stack::start_with(Options::new().with(|s| s.discogs_consumer_key = None)).await;
    error_of(
        unconfigured.get("/auth/discogs/login").await,
        StatusCode::NOT_IMPLEMENTED,
        "not_configured",
    )
    .await;
    let session: Value = unconfigured
        .get("/api/v1/session")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(session["sign_in_available"], false);
}

#[tokio::test]
async fn with_keys_configured_a_request_needs_a_key_or_a_signed_in_session() {
    let stack = Stack::start_with(
        Options::new().with(|s| s.api_keys = vec!["alpha-key".into(), "beta-key".into()]),
    )
    .await;
    let job_path = format!("/api/v1/jobs/{}", uuid_like());
    for (header, value) in [
        (None, ""),
        (Some("x-api-key"), "wrong"),
        (Some("authorization"), "Bearer wrong"),
        (Some("authorization"), "alpha-key"),
    ] {
        let mut request = stack.request(Method::GET, &job_path, None);
        if let Some(header) = header {
            request = request.header(header, value);
        }
        let response = request.send().await.unwrap();
        assert!(response.headers().contains_key("www-authenticate"));
        error_of(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let refused = stack.post_job(&sync("digger0013"), None).await;
    error_of(refused, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    for path in [
        "/api/v1/users/digger0013/recommendations",
        "/api/v1/releases/1/similar",
        &format!("{job_path}/events"),
        &format!("{job_path}/carts"),
    ] {
        error_of(
            stack.get(path).await,
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
        )
        .await;
    }
    // A key in either header passes.
    let with_key = stack
        .request(Method::GET, &job_path, None)
        .header("x-api-key", "alpha-key")
        .send()
        .await
        .unwrap();
    error_of(with_key, StatusCode::NOT_FOUND, "not_found").await;
    let bearer = stack
        .request(Method::GET, &job_path, None)
        .header("authorization", "Bearer beta-key")
        .send()
        .await
        .unwrap();
    error_of(bearer, StatusCode::NOT_FOUND, "not_found").await;
    let created = stack
        .request(Method::POST, "/api/v1/jobs", None)
        .header("x-api-key", "beta-key")
        .json(&sync("digger0013"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::ACCEPTED);

    // A session signed in with Discogs passes too, and a key holder sees private jobs.
    let owner = stack.sign_in("digger0014").await;
    let (private, _, _) = stack.start_job(&sync("digger0014"), Some(&owner)).await;
    let seen = stack
        .request(Method::GET, &format!("/api/v1/jobs/{private}"), None)
        .header("x-api-key", "alpha-key")
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), StatusCode::OK);

    // The document, the page and the session route stay open.
    assert_eq!(
        stack.get("/api/openapi.json").await.status(),
        StatusCode::OK
    );
    assert_eq!(stack.get("/").await.status(), StatusCode::OK);
    let session: Value = stack.get("/api/v1/session").await.json().await.unwrap();
    assert_eq!(session["keys_required"], true);
}

#[tokio::test]
async fn a_client_over_its_rate_is_told_to_wait() {
    let stack = Stack::start_with(Options::new().with(|s| {
        s.rate_limit.per_second = 1;
        s.rate_limit.burst = 5;
    }))
    .await;
    // The start-up probe spent part of the burst; spend the rest.
    let mut limited = None;
    for _ in 0..10 {
        let response = stack.get("/api/v1/session").await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = limited.expect("the limit never applied");
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after));
    error_of(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    error_of(
        stack.post_job(&sync("digger0015"), None).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // The bucket refills.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(stack.get("/api/v1/session").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let stack = Stack::start_with(
        Options::new().with(|s| s.cors_origins = vec!["https://records.example".into()]),
    )
    .await;
    let preflight = |origin: &'static str| {
        stack
            .request(Method::OPTIONS, "/api/v1/jobs", None)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type,x-api-key")
            .send()
    };
    let allowed = preflight("https://records.example").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://records.example"
    );
    let methods = allowed.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    for method in ["GET", "POST", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert!(
        allowed.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("x-api-key")
    );
    let other = preflight("https://elsewhere.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    let simple = stack
        .request(Method::GET, "/api/v1/session", None)
        .header("origin", "https://records.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://records.example"
    );

    // Without configured origins, no cross-origin caller is allowed.
    let closed = Stack::start().await;
    let response = closed
        .request(Method::GET, "/api/v1/session", None)
        .header("origin", "https://records.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused() {
    let stack = Stack::start_with(Options::new().with(|s| s.max_body_bytes = 4096)).await;
    let mut body = sync("digger0016");
    body["padding"] = json!("x".repeat(5000));
    let response = stack.post_job(&body, None).await;
    error_of(response, StatusCode::PAYLOAD_TOO_LARGE, "too_large").await;
    // Just under the limit, the body is read (and refused for its extra field).
    body["padding"] = json!("x".repeat(3900));
    let error = error_of(
        stack.post_job(&body, None).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    assert_eq!(error["field"], "padding");
}

/// Similar releases from a fixed table: release 1 has neighbours, release 2 asks before a
/// model exists, everything else is unknown.
struct FixedSimilar;

#[async_trait]
impl SimilarReleases for FixedSimilar {
    async fn similar(
        &self,
        release: ReleaseId,
        limit: u32,
    ) -> Result<SimilarReleasesSet, SimilarError> {
        match release.0 {
            1 => Ok(SimilarReleasesSet {
                release_id: 1,
                model_version: "v-test".into(),
                releases: recommendation_set("x", "y")
                    .releases
                    .into_iter()
                    .cycle()
                    .take(limit as usize)
                    .collect(),
            }),
            2 => Err(SimilarError::NoModel),
            _ => Err(SimilarError::NotInModel(release)),
        }
    }
}

#[tokio::test]
async fn similar_releases_come_from_the_recommender() {
    let stack = Stack::start_with(Options {
        similar: Some(Arc::new(FixedSimilar)),
        ..Options::new()
    })
    .await;
    let set: SimilarReleasesSet = stack
        .get("/api/v1/releases/1/similar?limit=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!((set.release_id, set.releases.len()), (1, 3));
    let default: SimilarReleasesSet = stack
        .get("/api/v1/releases/1/similar")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(default.releases.len(), 20);
    error_of(
        stack.get("/api/v1/releases/3/similar").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        stack.get("/api/v1/releases/2/similar").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
    )
    .await;
    for (path, field) in [
        ("/api/v1/releases/0/similar", "id"),
        ("/api/v1/releases/-4/similar", "id"),
        ("/api/v1/releases/abc/similar", "id"),
        ("/api/v1/releases/1/similar?limit=0", "limit"),
        ("/api/v1/releases/1/similar?limit=101", "limit"),
        ("/api/v1/releases/1/similar?limit=many", "limit"),
    ] {
        assert_eq!(
            error_of(
                stack.get(path).await,
                StatusCode::BAD_REQUEST,
                "invalid_request"
            )
            .await["field"],
            field,
            "{path}"
        );
    }
    let without = Stack::start().await;
    error_of(
        without.get("/api/v1/releases/1/similar").await,
        StatusCode::NOT_IMPLEMENTED,
        "not_configured",
    )
    .await;
}

#[tokio::test]
async fn every_error_has_one_shape_and_the_document_and_page_are_served() {
    let stack = Stack::start().await;
    error_of(
        stack.get("/api/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error_of(
        stack.get("/etc/passwd").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let wrong_method = stack
        .request(Method::PUT, "/api/v1/jobs", None)
        .send()
        .await
        .unwrap();
    error_of(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
    let get_jobs = stack.get("/api/v1/jobs").await;
    error_of(
        get_jobs,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    let document: Value = stack.get("/api/openapi.json").await.json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/jobs",
        "/api/v1/jobs/{id}",
        "/api/v1/jobs/{id}/events",
        "/api/v1/jobs/{id}/carts",
        "/api/v1/users/{username}/recommendations",
        "/api/v1/releases/{id}/similar",
    ] {
        assert!(document["paths"][path].is_object(), "{path}");
    }

    let page = stack.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<form") && html.contains("/app.js"));
    for (path, kind) in [("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let asset = stack.get(path).await;
        assert_eq!(asset.status(), StatusCode::OK);
        assert!(
            asset.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            !asset.text().await.unwrap().trim().is_empty(),
            "{path} is empty"
        );
    }
}

#[tokio::test]
async fn the_api_port_answers_probes_but_keeps_metrics_to_the_health_port() {
    let stack = Stack::start().await;
    assert_eq!(stack.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(stack.get("/readyz").await.status(), StatusCode::OK);
    // The metrics name routes, queues and internal counts: not for the public port.
    let metrics = stack.get("/metrics").await;
    error_of(metrics, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn a_write_with_the_session_cookie_from_another_site_is_refused() {
    let stack = Stack::start().await;
    let (_, _, cookie) = stack.start_job(&sync("digger0032"), None).await;
    let cookie = cookie.expect("an anonymous session");
    let from = |origin: Option<&str>| {
        let request = stack
            .request(Method::POST, "/api/v1/jobs", Some(&cookie))
            .json(&sync("digger0033"));
        match origin {
            Some(origin) => request.header("origin", origin),
            None => request,
        }
    };
    // A page elsewhere posting with the visitor's cookie.
    let cross = from(Some("https://elsewhere.example"))
        .send()
        .await
        .unwrap();
    let error = error_of(cross, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("elsewhere.example"),
        "{error}"
    );
    let null = from(Some("null")).send().await.unwrap();
    error_of(null, StatusCode::FORBIDDEN, "forbidden").await;
    // The site's own page, and a client that sends no Origin, pass.
    let own = stack.base.trim_end_matches('/').to_owned();
    let same = from(Some(&own)).send().await.unwrap();
    assert_eq!(same.status(), StatusCode::ACCEPTED);
    let script = from(None).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_job_whose_request_could_not_be_published_is_not_handed_out_again() {
    let failing = Arc::new(std::sync::atomic::AtomicU32::new(1));
    let options = Options {
        failing_publishes: Some(failing.clone()),
        ..Options::new()
    };
    let stack = Stack::start_with(options).await;
    // The bus refuses the gateway's publish: the caller is told to try again...
    let refused = stack.post_job(&sync("digger0035"), None).await;
    error_of(refused, StatusCode::SERVICE_UNAVAILABLE, "unavailable").await;
    // ...and trying again starts the job, instead of being handed the one that never
    // reached the bus (it would read `queued` forever).
    let (job, existing, _) = stack.start_job(&sync("digger0035"), None).await;
    assert!(!existing, "handed the job that never started");
    assert_eq!(
        final_state(&stack.wait_final(&job, None).await),
        "succeeded"
    );
}

/// Open event streams are capped (`gateway.max_event_streams`): past it a new one is a
/// 503 with Retry-After, saying to poll; a stream that closes frees its place.
#[tokio::test]
async fn event_streams_past_the_cap_are_refused_until_one_closes() {
    let stack = Stack::start_with(Options::new().with(|s| s.max_event_streams = 1)).await;
    // A profile that takes a while to answer keeps the job, and its stream, open.
    stack
        .sim
        .fault(
            json!({"kind": "latency", "ms": 2_000, "path_prefix": "/users/digger0046", "times": 1}),
        )
        .await;
    let (job, _, _) = stack.start_job(&sync("digger0046"), None).await;
    let path = format!("/api/v1/jobs/{job}/events");
    let open = stack.get(&path).await;
    assert_eq!(open.status(), StatusCode::OK);
    let refused = stack.get(&path).await;
    assert_eq!(refused.headers()["retry-after"], "5");
    let error = error_of(refused, StatusCode::SERVICE_UNAVAILABLE, "overloaded").await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("poll GET /api/v1/jobs/"),
        "{error}"
    );
    // The open stream ends with its job; then a new one is served.
    let text = tokio::time::timeout(Duration::from_secs(30), open.text())
        .await
        .expect("the stream ended")
        .unwrap();
    assert!(!events_of(&text).is_empty());
    let mut served = false;
    for _ in 0..100 {
        if stack.get(&path).await.status() == StatusCode::OK {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "the closed stream's place was not freed");
}

/// A client that opens a connection and sends its headers slowly (or never) is cut off
/// after `gateway.header_read_timeout_seconds`; one that sends them in time is served on
/// the same server, and requests still carry their client's address (the rate limiter
/// counts per address).
#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = Stack::start_with(Options::new().with(|s| {
        s.header_read_timeout_seconds = 1;
        s.rate_limit.per_second = 1;
        s.rate_limit.burst = 2;
    }))
    .await;
    let address = stack.base.trim_start_matches("http://").to_owned();
    let mut slow = tokio::net::TcpStream::connect(&address).await.unwrap();
    slow.write_all(b"GET /api/openapi.json HTTP/1.1\r\nHost: cratedigger\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut buffer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut buffer)).await;
    assert!(
        closed.is_ok(),
        "the connection was still open after 5 s with its headers unfinished"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    let statuses: Vec<u16> = futures::future::join_all(
        (0..4).map(|_| async { stack.get("/api/v1/session").await.status().as_u16() }),
    )
    .await;
    assert!(
        statuses.contains(&429),
        "the limiter still sees one client: {statuses:?}"
    );
    assert!(statuses.iter().any(|s| *s != 429), "{statuses:?}");
}
