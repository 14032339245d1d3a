//! Where the market stage reads listings from, in the order the settings prefer.
//!
//! Today's www.discogs.com challenges every plain HTTP client, so a release's listings may
//! come from several sources: the release's marketplace pages through a real browser or
//! plain HTTP (the simulator, or Discogs should it relent), both behind the one
//! [`ListingSource`] port, and sellers' inventories through the API
//! ([`InventorySource`]). The stage tries them in order for each release; a source that
//! meets a challenge is not asked again for the rest of the chunk.

use std::sync::Arc;
use std::time::Duration;

use cratedigger_catalog::Catalog;
use cratedigger_discogs::{BrowserListingSource, DiscogsClient, ListingSource};
use cratedigger_kv::KeyValue;
use serde::Deserialize;

use crate::MarketSettings;
use crate::inventory::InventorySource;

/// A source by its settings name (`market.sources = ["browser", "http", "inventory"]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A real Chromium over the DevTools protocol: passes the bot challenge.
    Browser,
    /// The inventories of named and known sellers, through the API: never challenged,
    /// but sees only those sellers' listings.
    Inventory,
    /// The pages over plain HTTP: the simulator, or a Discogs that lets it through.
    Http,
}

const KNOWN: &str = "browser, inventory, http";

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Browser => "browser",
            Self::Inventory => "inventory",
            Self::Http => "http",
        }
    }
}

/// `market.sources` as a list (a settings file) or as comma-separated text (an
/// `APP_MARKET__SOURCES=browser,http` variable); an empty one is refused, naming the key.
pub fn deserialize_kinds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<SourceKind>, D::Error> {
    use serde::de::Error;
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Text(String),
    }
    let names = match Given::deserialize(deserializer)? {
        Given::List(names) => names,
        Given::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    let mut kinds = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let kind = match name.to_ascii_lowercase().as_str() {
            "browser" => SourceKind::Browser,
            "inventory" => SourceKind::Inventory,
            "http" => SourceKind::Http,
            other => {
                return Err(D::Error::custom(format!(
                    "unknown listing source {other:?} (known: {KNOWN})"
                )));
            }
        };
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(D::Error::custom(format!(
            "market.sources names no listing source (known: {KNOWN})"
        )));
    }
    Ok(kinds)
}

/// How a source reads a release.
#[derive(Clone)]
pub enum Reader {
    /// Its marketplace pages, page after page: all of its listings.
    Pages(Arc<dyn ListingSource>),
    /// The inventories of the sellers the job names and of those seen selling it.
    Inventory(Arc<InventorySource>),
}

/// One source with its name, as the job's coverage reports it.
#[derive(Clone)]
pub struct NamedSource {
    pub name: &'static str,
    pub reader: Reader,
}

impl NamedSource {
    /// A source of marketplace pages.
    pub fn new(name: &'static str, source: Arc<dyn ListingSource>) -> Self {
        Self {
            name,
            reader: Reader::Pages(source),
        }
    }

    pub fn inventory(source: Arc<InventorySource>) -> Self {
        Self {
            name: SourceKind::Inventory.name(),
            reader: Reader::Inventory(source),
        }
    }
}

impl std::fmt::Debug for NamedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The sources `settings.sources` names, in that order, built on the Discogs client
/// (whose web host and request budget the browser shares) and, for the inventories, the
/// catalog (who sold what) and the key-value store (their cache). A kind named twice is
/// used once.
pub fn build_sources(
    settings: &MarketSettings,
    discogs: &DiscogsClient,
    catalog: &Arc<dyn Catalog>,
    kv: &Arc<dyn KeyValue>,
) -> Vec<NamedSource> {
    let mut sources: Vec<NamedSource> = Vec::new();
    for &kind in &settings.sources {
        if sources.iter().any(|s| s.name == kind.name()) {
            continue;
        }
        let source = match kind {
            SourceKind::Http => NamedSource::new(kind.name(), Arc::new(discogs.clone())),
            SourceKind::Browser => NamedSource::new(
                kind.name(),
                Arc::new(BrowserListingSource::new(
                    settings.browser.clone(),
                    discogs.config().web_base.clone(),
                    discogs.web_limiter(),
                )),
            ),
            SourceKind::Inventory => NamedSource::inventory(Arc::new(InventorySource::new(
                discogs.clone(),
                catalog.clone(),
                kv.clone(),
                Duration::from_secs(settings.listing_ttl_seconds),
                settings.inventory.clone(),
            ))),
        };
        sources.push(source);
    }
    sources
}

/// What a buyer can do about releases no source could read.
pub const BLOCKED_ADVICE: &str = "the marketplace answered with a bot challenge: enable the browser source (market.sources = [\"browser\", …]), name sellers whose inventories to search (criteria.sellers, with the inventory source), or upload the release pages saved from your own browser (POST /api/v1/listings/uploads, or \"Saved marketplace pages\" on the page), and try again";

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Settings {
        #[serde(deserialize_with = "deserialize_kinds")]
        sources: Vec<SourceKind>,
    }

    fn parse(json: &str) -> Result<Vec<SourceKind>, String> {
        serde_json::from_str::<Settings>(json)
            .map(|s| s.sources)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn sources_come_as_a_list_or_as_text_and_unknown_or_none_are_refused() {
        assert_eq!(
            parse(r#"{"sources": ["browser", "http"]}"#),
            Ok(vec![SourceKind::Browser, SourceKind::Http])
        );
        assert_eq!(
            parse(r#"{"sources": "http, Browser,inventory"}"#),
            Ok(vec![
                SourceKind::Http,
                SourceKind::Browser,
                SourceKind::Inventory
            ])
        );
        assert!(
            parse(r#"{"sources": ["carrier-pigeon"]}"#)
                .unwrap_err()
                .contains("carrier-pigeon")
        );
        assert!(
            parse(r#"{"sources": ""}"#)
                .unwrap_err()
                .contains("names no listing source")
        );
        assert!(parse(r#"{"sources": []}"#).is_err());
    }
}
