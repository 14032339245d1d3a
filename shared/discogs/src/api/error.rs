//! What can go wrong talking to Discogs, by what the caller can do about it. Every
//! variant names the endpoint (a path, never a query string or a credential); messages
//! that come from the server are scrubbed of the client's secrets before they get here.

use crate::ratelimit::RateLimitError;

#[derive(Debug, thiserror::Error)]
pub enum DiscogsError {
    /// 404, or 403 for a private wantlist or collection. Retrying will not help; the
    /// user's data is missing or hidden.
    #[error("{endpoint} not found or not public (http {status}){}", message_suffix(.message))]
    NotFound {
        endpoint: String,
        status: u16,
        message: Option<String>,
    },

    /// 401: the credentials are missing, wrong or revoked. Fix the configuration.
    #[error("discogs refused the credentials for {endpoint}{}", message_suffix(.message))]
    Unauthorized {
        endpoint: String,
        message: Option<String>,
    },

    /// 429 on every attempt. Retrying later can help.
    #[error("rate limited on {endpoint} after {attempts} attempts")]
    RateLimited { endpoint: String, attempts: u32 },

    /// 5xx on every attempt. Retrying later can help.
    #[error("discogs server error {status} on {endpoint} after {attempts} attempts")]
    Server {
        endpoint: String,
        status: u16,
        attempts: u32,
    },

    /// No answer in time on every attempt. Retrying later can help.
    #[error("timed out on {endpoint} after {attempts} attempts")]
    Timeout { endpoint: String, attempts: u32 },

    /// The connection failed or broke mid-body on every attempt. Retrying later can help.
    #[error("network error on {endpoint} after {attempts} attempts: {detail}")]
    Network {
        endpoint: String,
        attempts: u32,
        detail: String,
    },

    /// A 2xx body that is not what the endpoint returns (truncated, HTML, a changed
    /// shape), on every attempt. Retrying rarely helps; the detail says what was wrong.
    #[error("malformed response from {endpoint}: {detail}")]
    MalformedBody { endpoint: String, detail: String },

    /// Bot protection answered instead of the marketplace. Retrying the same transport
    /// rarely helps; another transport (a browser-like client) may.
    #[error("bot challenge on {endpoint} ({evidence})")]
    Challenge {
        endpoint: String,
        evidence: &'static str,
    },

    /// The page asks to log in. This transport cannot read it.
    #[error("login wall on {endpoint}")]
    LoginWall { endpoint: String },

    /// A marketplace page that is neither listings nor a known error page: the markup
    /// may have changed. Retrying will not help; the parser needs a look.
    #[error("unrecognised page at {endpoint}: {reason}")]
    UnrecognisedPage { endpoint: String, reason: String },

    /// Any other status (400, 405, 422 …). Retrying will not help.
    #[error("unexpected http {status} from {endpoint}{}", message_suffix(.message))]
    UnexpectedStatus {
        endpoint: String,
        status: u16,
        message: Option<String>,
    },

    /// The shared rate limiter could not be reached; nothing was sent. Retrying later
    /// can help.
    #[error("rate limiter unavailable before {endpoint}: {source}")]
    RateLimiter {
        endpoint: String,
        source: RateLimitError,
    },

    /// The browser that reads marketplace pages failed (it crashed, or its DevTools
    /// connection broke). Another attempt starts a new one.
    #[error("browser failed on {endpoint}: {detail}")]
    Browser { endpoint: String, detail: String },

    /// No browser could be started or reached (none installed, a browser service down).
    /// Another source may read the page; this one is retried after a pause.
    #[error("no browser for {endpoint}: {detail}")]
    BrowserUnavailable { endpoint: String, detail: String },

    /// The client was configured with something unusable (a base URL that cannot hold
    /// a path, a user agent that is not a header value). Fix the configuration.
    #[error("invalid discogs client configuration: {0}")]
    Config(String),
}

fn message_suffix(message: &Option<String>) -> String {
    message
        .as_deref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

impl DiscogsError {
    /// A 404 for a page past a list's last one, which Discogs words as `Page 6 is outside
    /// of valid range [1, 1].`: the list is shorter than when its pages were counted (it
    /// shrank), not missing or private.
    pub fn is_page_out_of_range(&self) -> bool {
        matches!(
            self,
            Self::NotFound { message: Some(message), .. } if message.contains("outside of valid range")
        )
    }

    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::RateLimited { .. }
                | Self::Server { .. }
                | Self::Timeout { .. }
                | Self::Network { .. }
                | Self::RateLimiter { .. }
                | Self::Browser { .. }
        )
    }

    /// Whether another transport (a browser-like client) might get what this one could not.
    pub fn is_blocked(&self) -> bool {
        matches!(
            self,
            Self::Challenge { .. } | Self::LoginWall { .. } | Self::BrowserUnavailable { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_past_the_end_is_told_from_a_missing_list() {
        let past = DiscogsError::NotFound {
            endpoint: "/users/someone/wants".into(),
            status: 404,
            message: Some("Page 6 is outside of valid range [1, 1].".into()),
        };
        let private = DiscogsError::NotFound {
            endpoint: "/users/someone/wants".into(),
            status: 403,
            message: Some("You don't have permission to access this resource.".into()),
        };
        assert!(past.is_page_out_of_range());
        assert!(!private.is_page_out_of_range());
    }

    #[test]
    fn messages_are_lowercase_and_name_the_endpoint() {
        let error = DiscogsError::NotFound {
            endpoint: "/users/someone/wants".into(),
            status: 403,
            message: Some("You don't have permission to access this resource.".into()),
        };
        let text = error.to_string();
        assert!(text.starts_with("/users/someone/wants not found"), "{text}");
        assert!(!error.is_retryable());
        assert!(
            DiscogsError::Timeout {
                endpoint: "/x".into(),
                attempts: 3
            }
            .is_retryable()
        );
        assert!(
            DiscogsError::Challenge {
                endpoint: "/sell/release/1".into(),
                evidence: "x"
            }
            .is_blocked()
        );
    }
}
