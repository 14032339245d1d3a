//! Sessions: a random id in an `HttpOnly` cookie, and under the id's SHA-256 in the
//! KeyValue store what the session is (anonymous, or signed in as a Discogs user). Only
//! the hash is stored, so a copy of the store holds no usable cookie.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use cratedigger_domain::Username;
use cratedigger_kv::{KeyValue, KvError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const COOKIE_NAME: &str = "cratedigger_session";

/// A session as the handlers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The SHA-256 of the cookie's id, hex: names the session in stored records.
    pub key: String,
    /// Signed in with Discogs as this user; None for an anonymous session.
    pub username: Option<Username>,
}

#[derive(Serialize, Deserialize)]
struct StoredSession {
    username: Option<Username>,
}

#[derive(Clone)]
pub struct Sessions {
    kv: Arc<dyn KeyValue>,
    lifetime: Duration,
    secure_cookies: bool,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn store_key(session_key: &str) -> String {
    format!("session:{session_key}")
}

impl Sessions {
    pub fn new(kv: Arc<dyn KeyValue>, lifetime: Duration, secure_cookies: bool) -> Self {
        Self {
            kv,
            lifetime,
            secure_cookies,
        }
    }

    /// The session the request's cookie names, if it exists.
    pub async fn find(&self, headers: &HeaderMap) -> Result<Option<Session>, KvError> {
        let Some(id) = cookie_value(headers, COOKIE_NAME) else {
            return Ok(None);
        };
        let key = hex(&Sha256::digest(id.as_bytes()));
        let Some(stored) = self.kv.get(&store_key(&key)).await? else {
            return Ok(None);
        };
        // A record we cannot read is treated as no session: the visitor starts a new one.
        let Ok(stored) = serde_json::from_str::<StoredSession>(&stored) else {
            return Ok(None);
        };
        Ok(Some(Session {
            key,
            username: stored.username,
        }))
    }

    /// Starts a session; returns it and the `Set-Cookie` value that hands it out.
    pub async fn start(&self, username: Option<Username>) -> Result<(Session, String), KvError> {
        let id = hex(&rand::random::<[u8; 32]>());
        let key = hex(&Sha256::digest(id.as_bytes()));
        let record = serde_json::to_string(&StoredSession {
            username: username.clone(),
        })
        .unwrap_or_default();
        self.kv
            .set(&store_key(&key), &record, Some(self.lifetime))
            .await?;
        let cookie = self.cookie(&id, self.lifetime.as_secs());
        Ok((Session { key, username }, cookie))
    }

    /// Ends the session; returns the `Set-Cookie` value that clears the cookie.
    pub async fn end(&self, session: &Session) -> Result<String, KvError> {
        self.kv.delete(&store_key(&session.key)).await?;
        Ok(self.cookie("", 0))
    }

    fn cookie(&self, value: &str, max_age: u64) -> String {
        // Lax: sent on top-level navigation (the OAuth callback) but not on cross-site
        // POST or DELETE, so another site cannot start or cancel jobs in a visitor's name.
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        format!("{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use cratedigger_kv::MemoryKeyValue;

    use super::*;

    fn with_cookie(set_cookie: &str) -> HeaderMap {
        let pair = set_cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_and_ends() {
        let sessions = Sessions::new(
            Arc::new(MemoryKeyValue::new()),
            Duration::from_secs(60),
            true,
        );
        let user = Username::parse("digger").unwrap();
        let (session, cookie) = sessions.start(Some(user.clone())).await.unwrap();
        assert!(
            cookie.contains("HttpOnly")
                && cookie.contains("SameSite=Lax")
                && cookie.contains("Secure")
        );
        let found = sessions.find(&with_cookie(&cookie)).await.unwrap().unwrap();
        assert_eq!(found, session);
        assert_eq!(found.username, Some(user));
        let cleared = sessions.end(&found).await.unwrap();
        assert!(cleared.contains("Max-Age=0"));
        assert_eq!(sessions.find(&with_cookie(&cookie)).await.unwrap(), None);
        assert_eq!(
            sessions
                .find(&with_cookie("cratedigger_session=forged"))
                .await
                .unwrap(),
            None
        );
    }
}
