//! Who is calling: Discogs accepts a personal token (`Authorization: Discogs token=…` or
//! `?token=`), a consumer key and secret (`Discogs key=…, secret=…`), an OAuth 1.0a
//! header, or nothing. Authenticated callers are limited per credential, anonymous ones
//! per client IP.

use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Token(String),
    Consumer(String),
    OAuth(String),
    Anonymous(IpAddr),
}

/// What Discogs answers (401) to a credential it does not know.
pub const INVALID_CREDENTIAL_MESSAGE: &str =
    "Invalid consumer token. Please register an app before making API requests.";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    /// Malformed, empty or not among the accepted credentials: answer 401.
    #[error("credential refused")]
    Rejected,
}

impl Caller {
    /// Reads the credentials of a request. `accepted` limits which tokens or consumer
    /// keys are valid (`None` accepts any non-empty one).
    pub fn identify(
        headers: &HeaderMap,
        query: &[(String, String)],
        peer: IpAddr,
        accepted: Option<&[String]>,
    ) -> Result<Self, AuthError> {
        let caller = match headers.get(AUTHORIZATION) {
            Some(value) => from_header(value.to_str().map_err(|_| AuthError::Rejected)?)?,
            None => from_query(query)?.unwrap_or(Self::Anonymous(peer)),
        };
        let credential = match &caller {
            Self::Token(t) | Self::Consumer(t) => Some(t),
            Self::OAuth(_) | Self::Anonymous(_) => None,
        };
        if let (Some(credential), Some(accepted)) = (credential, accepted)
            && !accepted.contains(credential)
        {
            return Err(AuthError::Rejected);
        }
        Ok(caller)
    }

    pub fn is_authenticated(&self) -> bool {
        !matches!(self, Self::Anonymous(_))
    }

    /// The rate-limit bucket: the credential, or the address for anonymous callers.
    pub fn budget_key(&self) -> String {
        match self {
            Self::Token(t) => format!("token:{t}"),
            Self::Consumer(k) => format!("key:{k}"),
            Self::OAuth(t) => format!("oauth:{t}"),
            Self::Anonymous(ip) => format!("ip:{ip}"),
        }
    }
}

fn from_header(value: &str) -> Result<Caller, AuthError> {
    let value = value.trim();
    if let Some(rest) = value.strip_prefix("Discogs ") {
        let params = parameters(rest);
        if let Some(token) = params
            .iter()
            .find(|(k, _)| k == "token")
            .map(|(_, v)| v.clone())
        {
            return non_empty(token).map(Caller::Token);
        }
        let key = params
            .iter()
            .find(|(k, _)| k == "key")
            .map(|(_, v)| v.clone());
        let secret = params
            .iter()
            .find(|(k, _)| k == "secret")
            .map(|(_, v)| v.clone());
        return match (key, secret) {
            (Some(key), Some(secret)) if !secret.is_empty() => non_empty(key).map(Caller::Consumer),
            _ => Err(AuthError::Rejected),
        };
    }
    if let Some(rest) = value.strip_prefix("OAuth ") {
        let params = parameters(rest);
        let token = params
            .iter()
            .find(|(k, _)| k == "oauth_token")
            .map(|(_, v)| v.clone());
        let consumer = params
            .iter()
            .find(|(k, _)| k == "oauth_consumer_key")
            .map(|(_, v)| v.clone());
        return token.or(consumer).map_or(Err(AuthError::Rejected), |t| {
            non_empty(t).map(Caller::OAuth)
        });
    }
    Err(AuthError::Rejected)
}

fn from_query(query: &[(String, String)]) -> Result<Option<Caller>, AuthError> {
    let value = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    if let Some(token) = value("token") {
        return non_empty(token).map(|t| Some(Caller::Token(t)));
    }
    match (value("key"), value("secret")) {
        (Some(key), Some(_)) => non_empty(key).map(|k| Some(Caller::Consumer(k))),
        _ => Ok(None),
    }
}

/// `token=abc` / `key=k, secret=s` / `oauth_token="t", oauth_nonce="n"` into pairs.
fn parameters(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|part| {
            let (key, value) = part.trim().split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

fn non_empty(value: String) -> Result<String, AuthError> {
    if value.trim().is_empty() {
        Err(AuthError::Rejected)
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use axum::http::HeaderValue;

    use super::*;

    const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    fn with_auth(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn reads_every_discogs_credential() {
        let id = |h: &HeaderMap, q: &[(String, String)]| Caller::identify(h, q, PEER, None);
        assert_eq!(
            id(&with_auth("Discogs token=abc"), &[]),
            Ok(Caller::Token("abc".into()))
        );
        assert_eq!(
            id(&with_auth("Discogs key=k1, secret=s1"), &[]),
            Ok(Caller::Consumer("k1".into()))
        );
        let oauth = r#"OAuth oauth_consumer_key="ck", oauth_nonce="n", oauth_token="tok", oauth_signature="a&b""#;
        assert_eq!(id(&with_auth(oauth), &[]), Ok(Caller::OAuth("tok".into())));
        let query = vec![("token".to_owned(), "qt".to_owned())];
        assert_eq!(
            id(&HeaderMap::new(), &query),
            Ok(Caller::Token("qt".into()))
        );
        assert_eq!(id(&HeaderMap::new(), &[]), Ok(Caller::Anonymous(PEER)));
    }

    #[test]
    fn refuses_malformed_or_unknown_credentials() {
        let id = |h: &HeaderMap| Caller::identify(h, &[], PEER, None);
        assert_eq!(id(&with_auth("Bearer abc")), Err(AuthError::Rejected));
        assert_eq!(id(&with_auth("Discogs token=")), Err(AuthError::Rejected));
        assert_eq!(id(&with_auth("Discogs key=k")), Err(AuthError::Rejected));
        let accepted = vec!["good".to_owned()];
        let only = |h: &HeaderMap| Caller::identify(h, &[], PEER, Some(&accepted));
        assert!(only(&with_auth("Discogs token=good")).is_ok());
        assert_eq!(
            only(&with_auth("Discogs token=bad")),
            Err(AuthError::Rejected)
        );
        assert!(only(&HeaderMap::new()).is_ok());
    }

    #[test]
    fn budgets_are_per_credential_or_address() {
        assert_eq!(Caller::Token("a".into()).budget_key(), "token:a");
        assert_eq!(Caller::Anonymous(PEER).budget_key(), "ip:127.0.0.1");
        assert!(!Caller::Anonymous(PEER).is_authenticated());
    }
}
