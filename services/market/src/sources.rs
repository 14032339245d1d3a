//! Where the market stage reads listings from, in the order the settings prefer.
//!
//! Today's www.discogs.com challenges every plain HTTP client, so a release's listings may
//! come from several sources behind the one [`ListingSource`] port: a real browser, plain
//! HTTP (the simulator, or Discogs should it relent), later the API-only sources and pages
//! the buyer uploads. The stage tries them in order for each release; a source that meets
//! a challenge is not asked again for the rest of the chunk.

use std::sync::Arc;

use cratedigger_discogs::{BrowserListingSource, BrowserSettings, DiscogsClient, ListingSource};
use serde::Deserialize;

/// A source by its settings name (`market.sources = ["browser", "http"]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A real Chromium over the DevTools protocol: passes the bot challenge.
    Browser,
    /// The pages over plain HTTP: the simulator, or a Discogs that lets it through.
    Http,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Browser => "browser",
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
            "http" => SourceKind::Http,
            other => {
                return Err(D::Error::custom(format!(
                    "unknown listing source {other:?} (known: browser, http)"
                )));
            }
        };
        kinds.push(kind);
    }
    if kinds.is_empty() {
        return Err(D::Error::custom(
            "market.sources names no listing source (known: browser, http)",
        ));
    }
    Ok(kinds)
}

/// One source with its name, as the job's coverage reports it.
#[derive(Clone)]
pub struct NamedSource {
    pub name: &'static str,
    pub source: Arc<dyn ListingSource>,
}

impl NamedSource {
    pub fn new(name: &'static str, source: Arc<dyn ListingSource>) -> Self {
        Self { name, source }
    }
}

impl std::fmt::Debug for NamedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// The sources `kinds` name, in that order, built on the Discogs client (whose web host
/// and request budget the browser shares). A kind named twice is used once.
pub fn build_sources(
    kinds: &[SourceKind],
    discogs: &DiscogsClient,
    browser: &BrowserSettings,
) -> Vec<NamedSource> {
    let mut sources: Vec<NamedSource> = Vec::new();
    for &kind in kinds {
        if sources.iter().any(|s| s.name == kind.name()) {
            continue;
        }
        let source: Arc<dyn ListingSource> = match kind {
            SourceKind::Http => Arc::new(discogs.clone()),
            SourceKind::Browser => Arc::new(BrowserListingSource::new(
                browser.clone(),
                discogs.config().web_base.clone(),
                discogs.limiter(),
            )),
        };
        sources.push(NamedSource::new(kind.name(), source));
    }
    sources
}

/// What a buyer can do about releases no source could read.
pub const BLOCKED_ADVICE: &str = "the marketplace answered with a bot challenge: enable the browser source (market.sources = [\"browser\", …]) and try again";

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
            parse(r#"{"sources": "http, Browser"}"#),
            Ok(vec![SourceKind::Http, SourceKind::Browser])
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
