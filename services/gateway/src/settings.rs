//! What the gateway is started with (`[gateway]` in the settings file, `APP_GATEWAY__*`).

use serde::{Deserialize, Deserializer};

#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct GatewaySettings {
    pub host: String,
    pub port: u16,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest upload of saved marketplace pages, in bytes. The files travel in one
    /// event, so this stays under the bus's message limit (Pub/Sub: 10 MB).
    pub max_upload_bytes: usize,
    /// How long an identical request returns the existing job.
    pub dedup_seconds: u64,
    /// Recommendations a job keeps when the request does not say.
    pub default_limit: u32,
    /// When not empty, every API request needs one of these keys (`x-api-key` header or
    /// `Authorization: Bearer`), or a signed-in session. Keys are never logged.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub api_keys: Vec<String>,
    /// Origins allowed to call the API from a browser (`*` for any); empty: same origin only.
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub cors_origins: Vec<String>,
    pub rate_limit: RateLimitSettings,
    /// The recommender's gRPC address (`http://host:port`) for similar releases. When
    /// unset, the process that builds the gateway decides (see the roster).
    pub recommender_url: Option<String>,
    /// "Sign in with Discogs": the application's consumer key and secret. Unset: signing
    /// in is off.
    pub discogs_consumer_key: Option<String>,
    pub discogs_consumer_secret: Option<String>,
    /// The address people reach the gateway at (`https://cratedigger.example`): the OAuth
    /// callback is under it, and it is the origin browser writes may come from. Required
    /// when signing in is on (a callback taken from the Host header could be forged).
    pub public_url: Option<String>,
    /// How long a sign-in lasts.
    pub session_days: u64,
    /// Mark session cookies `Secure` (only sent over HTTPS): on behind TLS.
    pub secure_cookies: bool,
    /// How often the event stream looks at the status board.
    pub events_poll_ms: u64,
    /// Event streams open at once; past it a new one is a 503 (poll the status instead).
    pub max_event_streams: usize,
    /// A client must send a request's headers within this time, or its connection is
    /// closed (a connection held open by a slow or silent client costs a socket).
    pub header_read_timeout_seconds: u64,
}

impl GatewaySettings {
    /// Whether "Sign in with Discogs" is configured.
    pub fn signs_in(&self) -> bool {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        set(&self.discogs_consumer_key) && set(&self.discogs_consumer_secret)
    }

    /// Settings that cannot work together, named for the person starting the service.
    pub fn check(&self) -> Result<(), String> {
        if self.signs_in() && self.public_url.as_deref().is_none_or(str::is_empty) {
            return Err(
                "gateway.public_url is required when signing in with Discogs is on \
                        (gateway.discogs_consumer_key and _secret): the OAuth callback goes \
                        under it"
                    .to_owned(),
            );
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(format!(
                "gateway.public_url {url:?} must be an http:// or https:// address"
            ));
        }
        Ok(())
    }
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            max_body_bytes: 16 * 1024,
            max_upload_bytes: 8 * 1024 * 1024,
            dedup_seconds: 24 * 3600,
            default_limit: 20,
            api_keys: Vec::new(),
            cors_origins: Vec::new(),
            rate_limit: RateLimitSettings::default(),
            recommender_url: None,
            discogs_consumer_key: None,
            discogs_consumer_secret: None,
            public_url: None,
            session_days: 30,
            secure_cookies: false,
            events_poll_ms: 250,
            max_event_streams: 1_000,
            header_read_timeout_seconds: 10,
        }
    }
}

/// Requests per client address: a steady rate and a burst above it. A rate of 0 turns
/// the limit off (load tests).
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub per_second: u32,
    pub burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        // A page polling a job twice a second and a script polling at 40 Hz both pass;
        // a loop hammering the API does not.
        Self {
            per_second: 50,
            burst: 200,
        }
    }
}

/// A list from a settings file, or `a,b` from an environment variable (which cannot hold
/// a list).
fn list_or_comma_separated<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Given {
        List(Vec<String>),
        Text(String),
    }
    let items = match Given::deserialize(deserializer)? {
        Given::List(items) => items,
        Given::Text(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(items
        .into_iter()
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_from_a_file_or_one_variable() {
        let from_env: GatewaySettings = serde_json::from_str(r#"{"api_keys": "k1, k2,"}"#).unwrap();
        assert_eq!(from_env.api_keys, ["k1", "k2"]);
        let from_file: GatewaySettings =
            serde_json::from_str(r#"{"cors_origins": ["http://a"]}"#).unwrap();
        assert_eq!(from_file.cors_origins, ["http://a"]);
        assert!(GatewaySettings::default().api_keys.is_empty());
    }
}
