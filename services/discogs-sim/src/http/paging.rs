//! Discogs pagination: `page` (1-based) and `per_page` in the query, and a `pagination`
//! object whose `urls` hold only the links that apply (none on a single page, no
//! `first`/`prev` on page 1, no `next`/`last` on the last page).

use std::ops::Range;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use crate::settings::PaginationSettings;

/// Characters a query value keeps unencoded (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    /// As asked; may be out of range (checked by [`Paging::window`]).
    pub page: i64,
    pub per_page: u32,
}

/// A page outside `[1, pages]`; Discogs answers `Page 6 is outside of valid range [1, 1].`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfRange {
    pub page: i64,
    pub pages: u32,
}

impl OutOfRange {
    pub fn message(&self) -> String {
        format!(
            "Page {} is outside of valid range [1, {}].",
            self.page, self.pages
        )
    }
}

impl Paging {
    /// Reads `page` and `per_page`; missing or unreadable values fall back to page 1 and
    /// the default size, and sizes are clamped to `1..=max_per_page`.
    pub fn from_query(query: &[(String, String)], settings: PaginationSettings) -> Self {
        let value = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
        let page = value("page")
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(1);
        let per_page = value("per_page")
            .and_then(|v| v.parse::<i64>().ok())
            .map_or(settings.default_per_page, |n| {
                n.clamp(1, i64::from(settings.max_per_page)) as u32
            });
        Self { page, per_page }
    }

    /// An empty list still has one (empty) page, so page 1 is always valid.
    pub fn pages(&self, items: usize) -> u32 {
        items.div_ceil(self.per_page as usize).max(1) as u32
    }

    /// The slice of a list of `items` this page covers.
    pub fn window(&self, items: usize) -> Result<Range<usize>, OutOfRange> {
        let pages = self.pages(items);
        if self.page < 1 || self.page > i64::from(pages) {
            return Err(OutOfRange {
                page: self.page,
                pages,
            });
        }
        let start = (self.page as usize - 1) * self.per_page as usize;
        Ok(start..(start + self.per_page as usize).min(items))
    }

    /// The `pagination` object. `base` is the scheme and host, `path` the request path;
    /// the other query parameters are kept in order, as Discogs keeps them.
    pub fn to_json(
        &self,
        items: usize,
        base: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Value {
        let pages = self.pages(items);
        let page = self.page.clamp(1, i64::from(pages)) as u32;
        let link = |target: u32| {
            let mut url = format!("{base}{path}?");
            for (key, value) in query.iter().filter(|(k, _)| k != "page" && k != "per_page") {
                url.push_str(&format!("{}={}&", encode(key), encode(value)));
            }
            url.push_str(&format!("per_page={}&page={target}", self.per_page));
            url
        };
        let mut urls = serde_json::Map::new();
        if page > 1 {
            urls.insert("first".into(), link(1).into());
            urls.insert("prev".into(), link(page - 1).into());
        }
        if page < pages {
            urls.insert("next".into(), link(page + 1).into());
            urls.insert("last".into(), link(pages).into());
        }
        json!({ "page": page, "pages": pages, "per_page": self.per_page, "items": items, "urls": urls })
    }
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_and_clamps_the_query() {
        let settings = PaginationSettings::default();
        assert_eq!(
            Paging::from_query(&[], settings),
            Paging {
                page: 1,
                per_page: 50
            }
        );
        let big = Paging::from_query(&query(&[("page", "3"), ("per_page", "500")]), settings);
        assert_eq!(
            big,
            Paging {
                page: 3,
                per_page: 100
            }
        );
        let junk = Paging::from_query(&query(&[("page", "x"), ("per_page", "0")]), settings);
        assert_eq!(
            junk,
            Paging {
                page: 1,
                per_page: 1
            }
        );
    }

    #[test]
    fn windows_and_out_of_range_pages() {
        let paging = Paging {
            page: 3,
            per_page: 100,
        };
        assert_eq!(paging.window(286), Ok(200..286));
        assert_eq!(
            Paging {
                page: 1,
                per_page: 50
            }
            .window(0),
            Ok(0..0)
        );
        let error = Paging {
            page: 6,
            per_page: 100,
        }
        .window(40)
        .unwrap_err();
        assert_eq!(error.message(), "Page 6 is outside of valid range [1, 1].");
        assert!(
            Paging {
                page: 0,
                per_page: 10
            }
            .window(40)
            .is_err()
        );
    }

    /// Key order depends on whether serde_json keeps insertion order (a workspace-wide
    /// feature), so compare sorted keys.
    fn sorted_keys(map: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
        let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn urls_hold_only_the_links_that_apply() {
        let base = "http://127.0.0.1:9";
        let path = "/users/digger0001/wants";
        let q = query(&[("per_page", "100"), ("sort", "added"), ("page", "1")]);
        let first = Paging {
            page: 1,
            per_page: 100,
        }
        .to_json(286, base, path, &q);
        let urls = first["urls"].as_object().unwrap();
        assert_eq!(sorted_keys(urls), ["last", "next"]);
        assert_eq!(
            urls["next"],
            "http://127.0.0.1:9/users/digger0001/wants?sort=added&per_page=100&page=2"
        );
        assert_eq!(first["pages"], 3);
        assert_eq!(first["items"], 286);
        let last = Paging {
            page: 3,
            per_page: 100,
        }
        .to_json(286, base, path, &q);
        let keys: Vec<_> = last["urls"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["first", "prev"]);
        let single = Paging {
            page: 1,
            per_page: 50,
        }
        .to_json(3, base, path, &[]);
        assert!(single["urls"].as_object().unwrap().is_empty());
        let spaced = Paging {
            page: 1,
            per_page: 1,
        }
        .to_json(2, base, "/u/inventory", &query(&[("status", "For Sale")]));
        assert_eq!(
            spaced["urls"]["next"],
            "http://127.0.0.1:9/u/inventory?status=For%20Sale&per_page=1&page=2"
        );
    }
}
