//! How requests prove who sends them: a personal token, an application's consumer key
//! and secret, or OAuth 1.0a with the PLAINTEXT signature Discogs accepts (SOURCES.md §3).

use std::time::{SystemTime, UNIX_EPOCH};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use rand::Rng;

use crate::Secret;

/// Credentials for the API. Every secret part is a [`Secret`], so `{:?}` of an `Auth`
/// shows no credential.
#[derive(Clone, Debug, Default)]
pub enum Auth {
    /// Anonymous: 25 requests a minute, public data only.
    #[default]
    None,
    /// `Authorization: Discogs token=…`: a user's personal access token.
    Token(Secret),
    /// `Authorization: Discogs key=…, secret=…`: the application alone, no user.
    Consumer { key: String, secret: Secret },
    /// OAuth 1.0a on behalf of a user who authorised the application.
    OAuth {
        consumer: ConsumerCredentials,
        token: String,
        token_secret: Secret,
    },
}

#[derive(Clone, Debug)]
pub struct ConsumerCredentials {
    pub key: String,
    pub secret: Secret,
}

/// RFC 5849 §3.6: everything but unreserved characters is percent-encoded.
const OAUTH_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn oauth_encode(value: &str) -> String {
    utf8_percent_encode(value, OAUTH_ENCODE).to_string()
}

impl Auth {
    /// The `Authorization` header value, or `None` for anonymous requests.
    pub(crate) fn header(&self) -> Option<Secret> {
        match self {
            Self::None => None,
            Self::Token(token) => Some(Secret::new(format!("Discogs token={}", token.expose()))),
            Self::Consumer { key, secret } => Some(Secret::new(format!(
                "Discogs key={key}, secret={}",
                secret.expose()
            ))),
            Self::OAuth {
                consumer,
                token,
                token_secret,
            } => Some(oauth_header(
                consumer,
                &[("oauth_token", token.as_str())],
                Some(token_secret),
            )),
        }
    }

    /// Whether Discogs counts these requests against the authenticated budget.
    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// Every secret value these credentials hold, for scrubbing messages.
    pub(crate) fn secrets(&self) -> Vec<&Secret> {
        match self {
            Self::None => Vec::new(),
            Self::Token(token) => vec![token],
            Self::Consumer { secret, .. } => vec![secret],
            Self::OAuth {
                consumer,
                token_secret,
                ..
            } => vec![&consumer.secret, token_secret],
        }
    }

    /// `text` with every secret replaced by `[redacted]`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.secrets()
            .into_iter()
            .fold(text.to_owned(), |text, secret| secret.scrub(&text))
    }
}

/// An OAuth 1.0a `Authorization` header signed with PLAINTEXT: the signature is
/// `consumer_secret&token_secret` (the token secret is empty before a token exists).
pub(crate) fn oauth_header(
    consumer: &ConsumerCredentials,
    extra: &[(&str, &str)],
    token_secret: Option<&Secret>,
) -> Secret {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let nonce: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect();
    let signature = format!(
        "{}&{}",
        oauth_encode(consumer.secret.expose()),
        token_secret
            .map(|s| oauth_encode(s.expose()))
            .unwrap_or_default()
    );
    let timestamp = timestamp.to_string();
    let mut parameters: Vec<(&str, &str)> = vec![
        ("oauth_consumer_key", consumer.key.as_str()),
        ("oauth_nonce", nonce.as_str()),
        ("oauth_signature", signature.as_str()),
        ("oauth_signature_method", "PLAINTEXT"),
        ("oauth_timestamp", timestamp.as_str()),
        ("oauth_version", "1.0"),
    ];
    parameters.extend_from_slice(extra);
    let fields: Vec<String> = parameters
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", oauth_encode(value)))
        .collect();
    Secret::new(format!("OAuth {}", fields.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consumer() -> ConsumerCredentials {
        ConsumerCredentials {
            key: "ckey".into(),
            secret: Secret::new("csecret"),
        }
    }

    #[test]
    fn builds_the_three_discogs_headers() {
        let token = Auth::Token(Secret::new("abc123"));
        assert_eq!(token.header().unwrap().expose(), "Discogs token=abc123");
        let app = Auth::Consumer {
            key: "k".into(),
            secret: Secret::new("s3cr3t"),
        };
        assert_eq!(
            app.header().unwrap().expose(),
            "Discogs key=k, secret=s3cr3t"
        );
        assert!(Auth::None.header().is_none());
        let oauth = Auth::OAuth {
            consumer: consumer(),
            token: "tok".into(),
            token_secret: Secret::new("tsec"),
        };
        let header = oauth.header().unwrap();
        let value = header.expose();
        assert!(value.starts_with("OAuth "));
        for part in [
            "oauth_consumer_key=\"ckey\"",
            "oauth_token=\"tok\"",
            "oauth_signature=\"csecret%26tsec\"",
            "oauth_signature_method=\"PLAINTEXT\"",
            "oauth_timestamp=\"",
            "oauth_nonce=\"",
        ] {
            assert!(value.contains(part), "{part} missing from {value}");
        }
    }

    #[test]
    fn request_token_signature_has_an_empty_token_secret() {
        let header = oauth_header(
            &consumer(),
            &[("oauth_callback", "http://127.0.0.1/cb")],
            None,
        );
        assert!(header.expose().contains("oauth_signature=\"csecret%26\""));
        assert!(
            header
                .expose()
                .contains("oauth_callback=\"http%3A%2F%2F127.0.0.1%2Fcb\"")
        );
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let oauth = Auth::OAuth {
            consumer: consumer(),
            token: "tok".into(),
            token_secret: Secret::new("tsec"),
        };
        let printed = format!("{oauth:?} {:?}", Auth::Token(Secret::new("abc123")));
        assert!(
            !printed.contains("csecret")
                && !printed.contains("tsec")
                && !printed.contains("abc123")
        );
        assert_eq!(oauth.scrub("x csecret y tsec"), "x [redacted] y [redacted]");
    }
}
