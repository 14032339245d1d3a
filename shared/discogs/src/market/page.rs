//! Deciding what a marketplace response is, and reading it when it is a listings page.
//!
//! The listings table wins over every other sign: real logged-out pages carry a "Log In"
//! link and, since 2026, Cloudflare's `challenge-platform` bot-detection script, so those
//! only mean "challenge" or "login wall" on a page without the table.

use std::sync::LazyLock;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use scraper::{Html, Selector};

use super::html::{selector, text_of};
use super::row::{is_listing_row, read_row};
use super::summary::{page_range, price_stats};
use super::{ListingsPage, MarketPage, PageContext, SkippedRow};

struct PageSelectors {
    title: Selector,
    listings_table: Selector,
    pagination_total: Selector,
    row: Selector,
    password: Selector,
    login_form: Selector,
    cloudflare_error_code: Selector,
    cloudflare_error_details: Selector,
}

static SELECTORS: LazyLock<PageSelectors> = LazyLock::new(|| PageSelectors {
    title: selector("title"),
    listings_table: selector("table.mpitems"),
    pagination_total: selector("strong.pagination_total"),
    row: selector("tr"),
    password: selector(r#"input[type="password"]"#),
    login_form: selector(r#"form[action*="login"]"#),
    cloudflare_error_code: selector(".cf-error-code"),
    cloudflare_error_details: selector("#cf-error-details, #cf-wrapper"),
});

/// Marks of Cloudflare's challenge pages in every generation: the managed challenge's
/// `_cf_chl_opt` and its orchestrate script under `/cdn-cgi/challenge-platform/h/`,
/// Turnstile's widget, and the legacy JavaScript challenge's `jschl` form. Titles are
/// localised ("Einen Moment…"), these are not. Bot management also injects
/// `/cdn-cgi/challenge-platform/scripts/jsd/main.js` into ordinary pages, so that path
/// alone is no mark.
const CHALLENGE_MARKS: [&str; 5] = [
    "challenge-platform/h/",
    "cf_chl_",
    "challenges.cloudflare.com",
    "cf-turnstile",
    "jschl",
];

#[cfg(test)]
pub(super) fn force_selectors() {
    LazyLock::force(&SELECTORS);
}

/// Classifies a marketplace response and, when it is a listings page, reads it.
///
/// `status` and `headers` are the HTTP response's; `body` its text. Pass
/// `StatusCode::OK` and empty headers for a page read from disk.
pub fn read_market_page(
    status: StatusCode,
    headers: &HeaderMap,
    body: &str,
    context: &PageContext,
) -> MarketPage {
    if header_is(headers, "cf-mitigated", "challenge") {
        return MarketPage::Challenge {
            evidence: "cf-mitigated header",
        };
    }
    // Cloudflare serves its interstitial with 403 or 503 as often as with 200, so the
    // page is looked at before the status.
    let document = Html::parse_document(body);
    let s = &*SELECTORS;
    let title = document
        .select(&s.title)
        .next()
        .map(text_of)
        .unwrap_or_default();
    if title.starts_with("Just a moment") {
        return MarketPage::Challenge {
            evidence: "\"Just a moment...\" page",
        };
    }
    if title.contains("Attention Required") && title.contains("Cloudflare") {
        return MarketPage::Challenge {
            evidence: "cloudflare block page",
        };
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        return MarketPage::RateLimited {
            retry_after: retry_after(headers),
        };
    }

    let rows: Vec<_> = document
        .select(&s.row)
        .filter(|row| is_listing_row(*row))
        .collect();
    let has_table = document.select(&s.listings_table).next().is_some();
    let has_pagination = document.select(&s.pagination_total).next().is_some();
    if status.is_success() && (!rows.is_empty() || has_table || has_pagination) {
        return read_listings(&document, &rows, context);
    }

    let lower_body = body.to_ascii_lowercase();
    if CHALLENGE_MARKS.iter().any(|mark| lower_body.contains(mark)) {
        return MarketPage::Challenge {
            evidence: "challenge script and no listings table",
        };
    }
    // Cloudflare's own error pages: "Error 1020 Access denied" and the "Sorry, you have
    // been blocked" page stop this client; 1015 is its rate limit; 52x say the origin
    // is down. Saved to disk or read in a browser, they come without their status.
    let error_code = document
        .select(&s.cloudflare_error_code)
        .next()
        .and_then(|code| text_of(code).trim().parse::<u16>().ok());
    match error_code {
        Some(1015) => {
            return MarketPage::RateLimited {
                retry_after: retry_after(headers),
            };
        }
        Some(code @ 500..=599) => return MarketPage::ServerError { status: code },
        Some(_) => {
            return MarketPage::Challenge {
                evidence: "cloudflare block page",
            };
        }
        None => {}
    }
    if document
        .select(&s.cloudflare_error_details)
        .next()
        .is_some()
        || title.contains("used Cloudflare to restrict access")
    {
        return MarketPage::Challenge {
            evidence: "cloudflare block page",
        };
    }
    if status.is_server_error() {
        return MarketPage::ServerError {
            status: status.as_u16(),
        };
    }
    if status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
        return MarketPage::NotFound;
    }
    let redirects_to_login = status.is_redirection()
        && headers
            .get(http::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|location| location.contains("/login"));
    let lower_title = title.to_lowercase();
    let asks_to_log_in = document.select(&s.password).next().is_some()
        || document.select(&s.login_form).next().is_some()
        || ["log in", "login", "sign in"]
            .iter()
            .any(|w| lower_title.contains(w));
    if status == StatusCode::UNAUTHORIZED || redirects_to_login || asks_to_log_in {
        return MarketPage::LoginWall;
    }
    if status == StatusCode::FORBIDDEN {
        return MarketPage::Challenge {
            evidence: "http 403 without a listings table",
        };
    }
    if lower_title.contains("not found") || lower_title.contains("404") {
        return MarketPage::NotFound;
    }
    let reason = if status.is_success() {
        format!("no listings table (title {title:?})")
    } else {
        format!(
            "http {} without a listings table (title {title:?})",
            status.as_u16()
        )
    };
    MarketPage::Unrecognised { reason }
}

fn read_listings(
    document: &Html,
    rows: &[scraper::ElementRef<'_>],
    context: &PageContext,
) -> MarketPage {
    let mut page = ListingsPage {
        range: page_range(document),
        price_stats: price_stats(document),
        ..ListingsPage::default()
    };
    for (position, row) in rows.iter().enumerate() {
        match read_row(*row, context) {
            Ok(listing) => page.listings.push(listing),
            Err(reason) => page.skipped.push(SkippedRow { position, reason }),
        }
    }
    if page.listings.is_empty() {
        if let Some(first) = page.skipped.first() {
            return MarketPage::Unrecognised {
                reason: format!(
                    "{} listing rows, none readable: {}",
                    rows.len(),
                    first.reason
                ),
            };
        }
        match page.range {
            Some(range) if range.total == 0 => {}
            Some(range) => {
                return MarketPage::Unrecognised {
                    reason: format!("no listing rows but the pagination reports {}", range.total),
                };
            }
            None => {
                return MarketPage::Unrecognised {
                    reason: "an empty listings table without a pagination total".to_owned(),
                };
            }
        }
    }
    MarketPage::Listings(page)
}

fn header_is(headers: &HeaderMap, name: &str, value: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.trim().eq_ignore_ascii_case(value))
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Discogs).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (0.0..86_400.0)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}
