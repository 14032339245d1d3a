//! Marketplace pages a buyer saved from their own browser ("Save page as…"). The listings
//! are read by the same [`read_market_page`]; what a saved file adds is where it came
//! from, which rows of the older markup do not carry: the browser's
//! `<!-- saved from url=(…)… -->` mark, or the page's canonical address.

use std::sync::LazyLock;

use cratedigger_domain::ReleaseId;
use http::{HeaderMap, StatusCode};
use scraper::{Html, Selector};

use super::html::selector;
use super::{MarketPage, PageContext, read_market_page};

struct SavedSelectors {
    canonical: Selector,
    og_url: Selector,
}

static SELECTORS: LazyLock<SavedSelectors> = LazyLock::new(|| SavedSelectors {
    canonical: selector(r#"link[rel="canonical"]"#),
    og_url: selector(r#"meta[property="og:url"]"#),
});

#[cfg(test)]
pub(super) fn force_selectors() {
    LazyLock::force(&SELECTORS);
}

/// Reads a saved page as the page it was when the browser showed it (status 200, no
/// headers: a saved challenge is still recognised by its markup).
pub fn read_saved_page(html: &str) -> MarketPage {
    let context = PageContext {
        release_id: saved_release(html),
        seller: None,
    };
    read_market_page(StatusCode::OK, &HeaderMap::new(), html, &context)
}

/// Where a saved page came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SavedFrom {
    pub release: ReleaseId,
    /// The address narrows the listings (a condition, a country, a currency filter…):
    /// the page shows only some of the release's listings whatever its count says.
    pub filtered: bool,
}

/// The release whose marketplace page this is, by the address it was saved from:
/// `/sell/release/{id}` in the browser's mark, else in the canonical link or `og:url`.
pub fn saved_release(html: &str) -> Option<ReleaseId> {
    saved_from(html).map(|s| s.release)
}

/// [`saved_release`], with whether the address filtered the listings.
pub fn saved_from(html: &str) -> Option<SavedFrom> {
    let mut end = html.len().min(4096);
    while !html.is_char_boundary(end) {
        end -= 1;
    }
    let head = &html[..end];
    if let Some(at) = head.find("saved from url=") {
        let line = &head[at..];
        let line = &line[..line.find("-->").unwrap_or(line.len())];
        if let Some(saved) = saved_in(line) {
            return Some(saved);
        }
    }
    let document = Html::parse_document(html);
    let SavedSelectors { canonical, og_url } = &*SELECTORS;
    document
        .select(canonical)
        .filter_map(|link| link.value().attr("href"))
        .chain(
            document
                .select(og_url)
                .filter_map(|meta| meta.value().attr("content")),
        )
        .find_map(saved_in)
}

/// Query parameters that change how the listings are shown, not which.
const UNFILTERED: [&str; 5] = ["limit", "page", "sort", "sort_order", "ev"];

/// The id after `/sell/release/` in an address, and whether its query filters.
fn saved_in(address: &str) -> Option<SavedFrom> {
    const PATH: &str = "/sell/release/";
    let at = address.find(PATH)? + PATH.len();
    let rest = &address[at..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let release = digits.parse().ok().filter(|&id| id > 0).map(ReleaseId)?;
    let query = rest
        .split_once('?')
        .map_or("", |(_, q)| q.split('#').next().unwrap_or_default());
    let filtered = query
        .split('&')
        .filter(|pair| !pair.trim().is_empty())
        .any(|pair| !UNFILTERED.contains(&pair.split('=').next().unwrap_or_default().trim()));
    Some(SavedFrom { release, filtered })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_release_comes_from_the_saved_mark_or_the_canonical_address() {
        let chrome = "<!DOCTYPE html>\n<!-- saved from url=(0061)https://www.discogs.com/sell/release/249504?ev=rb&limit=250 -->\n<html><head></head></html>";
        assert_eq!(saved_release(chrome), Some(ReleaseId(249_504)));
        let canonical = r#"<html><head><link rel="canonical" href="https://www.discogs.com/sell/release/1234"></head></html>"#;
        assert_eq!(saved_release(canonical), Some(ReleaseId(1234)));
        let og = r#"<html><head><meta property="og:url" content="https://www.discogs.com/fr/sell/release/77"></head></html>"#;
        assert_eq!(saved_release(og), Some(ReleaseId(77)));
        let elsewhere = r#"<html><head><link rel="canonical" href="https://www.discogs.com/seller/shop/profile"></head><body><a href="/sell/release/5">other</a></body></html>"#;
        assert_eq!(
            saved_release(elsewhere),
            None,
            "a link in the body says nothing"
        );
        let filtered = "<!-- saved from url=(0070)https://www.discogs.com/sell/release/249504?limit=250&ships_from=Germany -->";
        assert_eq!(
            saved_from(filtered),
            Some(SavedFrom {
                release: ReleaseId(249_504),
                filtered: true
            })
        );
        assert_eq!(saved_from(chrome).map(|s| s.filtered), Some(false));
        // A multi-byte character across the end of the head is no reason to look further.
        let long = format!(
            "{}é<!-- saved from url=(0040)https://www.discogs.com/sell/release/1 -->",
            "a".repeat(4095)
        );
        assert_eq!(saved_release(&long), None);
    }
}
