//! Cloudflare's interstitial and block pages, in every shape its documentation and public
//! reports show (`pages/cloudflare/`), are told apart from listings: a challenge or block
//! is `Challenge`, its rate limit `RateLimited`, an unreachable origin `ServerError`, and
//! none is ever an empty list of listings, whatever status it came with (a page read in a
//! browser or saved to disk has none).

// Helpers outside #[test] functions fail loudly too: a test is the only caller.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use cratedigger_discogs::market::{MarketPage, PageContext, read_market_page};
use http::{HeaderMap, StatusCode};

fn page(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pages/cloudflare")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn classify(status: u16, name: &str) -> MarketPage {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    read_market_page(
        status,
        &HeaderMap::new(),
        &page(name),
        &PageContext::default(),
    )
}

const CHALLENGES: [&str; 6] = [
    "managed_challenge_2025.html",
    "managed_challenge_localised_de.html",
    "js_challenge_legacy_2019.html",
    "turnstile_interactive_2026.html",
    "block_1020_access_denied.html",
    "attention_required_waf_block.html",
];

#[test]
fn interstitials_and_block_pages_are_challenges_whatever_their_status() {
    for name in CHALLENGES {
        // 200: read in a browser or saved from one; 403 and 503: as Cloudflare sends them.
        for status in [200, 403, 503] {
            let verdict = classify(status, name);
            assert!(
                matches!(verdict, MarketPage::Challenge { .. }),
                "{name} with http {status}: {verdict:?}"
            );
        }
    }
}

#[test]
fn block_pages_say_they_are_block_pages() {
    for name in [
        "block_1020_access_denied.html",
        "attention_required_waf_block.html",
    ] {
        assert_eq!(
            classify(200, name),
            MarketPage::Challenge {
                evidence: "cloudflare block page"
            },
            "{name}"
        );
    }
}

#[test]
fn cloudflare_rate_limits_and_origin_errors_are_not_challenges() {
    for status in [200, 429] {
        assert!(
            matches!(
                classify(status, "rate_limited_1015.html"),
                MarketPage::RateLimited { .. }
            ),
            "{status}"
        );
    }
    for status in [200, 522] {
        assert_eq!(
            classify(status, "origin_unreachable_522.html"),
            MarketPage::ServerError { status: 522 },
            "{status}"
        );
    }
}

#[test]
fn no_cloudflare_page_reads_as_listings() {
    let every = CHALLENGES
        .iter()
        .chain(&["rate_limited_1015.html", "origin_unreachable_522.html"]);
    for name in every {
        for status in [200, 403, 429, 503] {
            assert!(
                !matches!(classify(status, name), MarketPage::Listings(_)),
                "{name} with http {status}"
            );
        }
    }
}

#[test]
fn the_bot_management_script_on_an_ordinary_page_is_no_challenge() {
    // Cloudflare injects this script into pages it lets through.
    let ordinary = "<html><head><title>Some Release | Discogs</title></head><body><div id=\"page_content\">\
        <h1>Some Release</h1></div><script src=\"/cdn-cgi/challenge-platform/scripts/jsd/main.js\"></script></body></html>";
    let verdict = read_market_page(
        StatusCode::OK,
        &HeaderMap::new(),
        ordinary,
        &PageContext::default(),
    );
    assert!(
        matches!(verdict, MarketPage::Unrecognised { .. }),
        "{verdict:?}"
    );
}
