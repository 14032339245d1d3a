//! Backend settings. Each section has a `kind`; the defaults run everything embedded
//! under `var/`.

use std::path::PathBuf;

use serde::Deserialize;
use sha2::{Digest, Sha256};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct BackendSettings {
    pub bus: BusSettings,
    pub kv: KvSettings,
    pub catalog: CatalogSettings,
    pub results: ResultsSettings,
    pub blobs: BlobSettings,
    pub discogs: DiscogsSettings,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BusSettings {
    /// In-process: every service must run in this process.
    #[default]
    Memory,
    /// Google Pub/Sub (or its emulator).
    Pubsub {
        project: String,
        /// `host:port` of the emulator; defaults to `PUBSUB_EMULATOR_HOST` when set.
        #[serde(default)]
        emulator_host: Option<String>,
        /// Prepended to every topic and subscription name.
        #[serde(default)]
        prefix: String,
    },
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KvSettings {
    #[default]
    Memory,
    Redis {
        url: String,
        /// Prepended to every key.
        #[serde(default = "default_kv_prefix")]
        prefix: String,
    },
}

fn default_kv_prefix() -> String {
    "cratedigger:".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatalogSettings {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        url: String,
        #[serde(default)]
        schema: Option<String>,
        #[serde(default = "default_connections")]
        max_connections: u32,
    },
}

fn default_connections() -> u32 {
    10
}

impl Default for CatalogSettings {
    fn default() -> Self {
        Self::Sqlite {
            path: PathBuf::from("var/catalog.db"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ResultsSettings {
    Embedded { path: PathBuf },
    Mongodb { uri: String, database: String },
}

impl Default for ResultsSettings {
    fn default() -> Self {
        Self::Embedded {
            path: PathBuf::from("var/results.db"),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobSettings {
    /// A directory, `file:///dir`, `gs://bucket/prefix`, `s3://bucket/prefix` or `memory://`.
    pub location: String,
}

impl Default for BlobSettings {
    fn default() -> Self {
        Self {
            location: "var/blobs".into(),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimiterKind {
    /// This process alone talks to Discogs.
    #[default]
    Memory,
    /// Every replica shares one request budget through the key-value Redis.
    Redis,
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscogsSettings {
    pub api_url: String,
    pub web_url: String,
    /// A personal access token; without one Discogs allows 25 requests a minute.
    pub token: Option<String>,
    pub user_agent: Option<String>,
    /// The request budget; defaults to what Discogs grants (60 with a token, else 25).
    pub requests_per_minute: Option<u32>,
    pub limiter: LimiterKind,
    /// The longest `Retry-After` waited out: a longer one fails the request (retryably)
    /// and holds the shared budget back this long only.
    pub max_retry_after_seconds: u64,
}

impl std::fmt::Debug for DiscogsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscogsSettings")
            .field("api_url", &self.api_url)
            .field("web_url", &self.web_url)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .field("requests_per_minute", &self.requests_per_minute)
            .field("limiter", &self.limiter)
            .field("max_retry_after_seconds", &self.max_retry_after_seconds)
            .finish()
    }
}

impl Default for DiscogsSettings {
    fn default() -> Self {
        Self {
            api_url: "https://api.discogs.com".into(),
            web_url: "https://www.discogs.com".into(),
            token: None,
            user_agent: None,
            requests_per_minute: None,
            limiter: LimiterKind::Memory,
            max_retry_after_seconds: 120,
        }
    }
}

impl DiscogsSettings {
    /// Names the Discogs identity whose budget is shared, without revealing the token.
    pub fn identity(&self) -> String {
        match self.token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => Sha256::digest(token.as_bytes())
                .iter()
                .take(8)
                .map(|b| format!("{b:02x}"))
                .collect(),
            None => "anonymous".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_appears_in_debug_or_identity() {
        let s = DiscogsSettings {
            token: Some("supersecret-token".into()),
            ..DiscogsSettings::default()
        };
        assert!(!format!("{s:?}").contains("supersecret"));
        assert!(!s.identity().contains("supersecret"));
        assert_eq!(s.identity().len(), 16);
        assert_eq!(DiscogsSettings::default().identity(), "anonymous");
    }
}
