//! API keys from the settings, presented as `x-api-key: K` or `Authorization: Bearer K`
//! and compared in constant time, so response timing tells nothing about a key's prefix.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub struct ApiKeys {
    /// SHA-256 of each key: every comparison is between 32-byte digests, so the lengths of
    /// the configured keys do not leak either.
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} configured)", self.digests.len())
    }
}

impl ApiKeys {
    pub fn new(keys: &[String]) -> Self {
        Self {
            digests: keys
                .iter()
                .filter(|k| !k.is_empty())
                .map(|k| Sha256::digest(k.as_bytes()).into())
                .collect(),
        }
    }

    pub fn are_required(&self) -> bool {
        !self.digests.is_empty()
    }

    /// Whether the request carries one of the configured keys.
    pub fn presented_by(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            });
        let Some(presented) = presented.map(str::trim).filter(|k| !k.is_empty()) else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every configured key is compared, whichever matches.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.ct_eq(&digest)
            })
            .into()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accepts_configured_keys_in_either_header() {
        let keys = ApiKeys::new(&["alpha".into(), "beta".into()]);
        assert!(keys.are_required());
        assert!(keys.presented_by(&headers("x-api-key", "beta")));
        assert!(keys.presented_by(&headers("authorization", "Bearer alpha")));
        assert!(!keys.presented_by(&headers("x-api-key", "alph")));
        assert!(!keys.presented_by(&headers("authorization", "alpha")));
        assert!(!keys.presented_by(&HeaderMap::new()));
        assert!(!ApiKeys::new(&[]).are_required());
        assert!(!format!("{keys:?}").contains("alpha"));
    }
}
