//! Today's www.discogs.com: Cloudflare's managed challenge in front of every web page.
//!
//! A visitor without a valid clearance cookie gets the interstitial instead of the page:
//! HTTP 403, `cf-mitigated: challenge`, "Just a moment...". Its script works out an answer
//! from a nonce (a little proof of work), stores nonce and answer in the `cf_clearance`
//! cookie and reloads; the reloaded request carries the cookie and gets the page. A plain
//! HTTP client never runs the script, so it never gets past; a real browser does. The API
//! host is not challenged (the guard asks only for web pages).
//!
//! Nonces carry a tag keyed by the simulator's seed, so a client cannot make up its own;
//! the server keeps no state.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// The cookie Cloudflare keeps a passed challenge in.
pub const CLEARANCE_COOKIE: &str = "cf_clearance";

/// Rounds of the proof of work: a few milliseconds of script, nothing a browser notices.
const ROUNDS: u32 = 2_000;

#[derive(Debug)]
pub struct ManagedChallenge {
    key: u64,
    /// Issued nonces differ by this counter, mixed with the key.
    issued: AtomicU64,
}

impl ManagedChallenge {
    pub fn new(seed: u64) -> Self {
        Self {
            key: splitmix64(seed ^ 0x6366_5f63_6c65_6172),
            issued: AtomicU64::new(0),
        }
    }

    /// Whether the request carries a clearance this simulator issued and the script solved.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        clearance_of(headers).is_some_and(|value| self.is_valid(value))
    }

    fn is_valid(&self, clearance: &str) -> bool {
        let Some((nonce, answer)) = clearance.split_once('.') else {
            return false;
        };
        let Some((random, tag)) = nonce.split_at_checked(16) else {
            return false;
        };
        tag == format!("{:08x}", self.tag(random)) && answer == format!("{:x}", solve(nonce))
    }

    fn tag(&self, random: &str) -> u32 {
        fnv1a(
            self.key.to_le_bytes().iter().copied().chain(random.bytes()),
            1,
        )
    }

    fn nonce(&self) -> String {
        let n = self.issued.fetch_add(1, Ordering::Relaxed);
        let random = format!("{:016x}", splitmix64(self.key ^ n));
        let tag = self.tag(&random);
        format!("{random}{tag:08x}")
    }

    /// The interstitial, with a fresh nonce for its script.
    pub fn page(&self) -> Response {
        let nonce = self.nonce();
        let ray = &nonce[..16];
        let body = format!(
            "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
            <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\">\
            <meta http-equiv=\"X-UA-Compatible\" content=\"IE=Edge\">\
            <meta name=\"robots\" content=\"noindex,nofollow\">\
            <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"></head>\
            <body class=\"no-js\"><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">\
            <h1 class=\"zone-name-title h1\">www.discogs.com</h1>\
            <h2 id=\"challenge-running\" class=\"h2\">Verifying you are human. This may take a few seconds.</h2>\
            <noscript><div class=\"h2\"><span id=\"challenge-error-text\">Enable JavaScript and cookies to continue</span></div></noscript>\
            <div id=\"challenge-body-text\" class=\"core-msg spacer\">www.discogs.com needs to review the security of your connection before proceeding.</div>\
            </div></div>\
            <script>(function(){{window._cf_chl_opt={{cvId:'3',cZone:'www.discogs.com',cType:'managed',cRay:'{ray}'}};\
            var n='{nonce}',h=2166136261;\
            for(var r=0;r<{ROUNDS};r++){{for(var i=0;i<n.length;i++){{h^=n.charCodeAt(i);h=Math.imul(h,16777619)>>>0;}}}}\
            document.cookie='{CLEARANCE_COOKIE}='+n+'.'+h.toString(16)+'; path=/; SameSite=Lax';\
            setTimeout(function(){{location.reload();}},30);}})();</script>\
            <div class=\"footer\" role=\"contentinfo\"><div class=\"footer-inner\"><div class=\"clearfix diagnostic-wrapper\">\
            <div class=\"ray-id\">Ray ID: <code>{ray}</code></div></div>\
            <div class=\"text-center\" id=\"footer-text\">Performance &amp; security by Cloudflare</div></div></div>\
            </body></html>"
        );
        let mut response = (StatusCode::FORBIDDEN, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=UTF-8"),
        );
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=0, no-store, no-cache, must-revalidate"),
        );
        headers.insert(
            HeaderName::from_static("cf-mitigated"),
            HeaderValue::from_static("challenge"),
        );
        headers.insert(
            HeaderName::from_static("server"),
            HeaderValue::from_static("cloudflare"),
        );
        if let Ok(ray) = HeaderValue::from_str(&format!("{ray}-FRA")) {
            headers.insert(HeaderName::from_static("cf-ray"), ray);
        }
        response
    }
}

/// The `cf_clearance` value among the request's cookies.
fn clearance_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CLEARANCE_COOKIE)
        .map(|(_, value)| value.trim())
}

/// What the page's script computes: 32-bit FNV-1a over the nonce, [`ROUNDS`] times over.
pub fn solve(nonce: &str) -> u32 {
    fnv1a(nonce.bytes(), ROUNDS)
}

fn fnv1a(bytes: impl Iterator<Item = u8> + Clone, rounds: u32) -> u32 {
    let mut hash: u32 = 2_166_136_261;
    for _ in 0..rounds {
        for byte in bytes.clone() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(16_777_619);
        }
    }
    hash
}

fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_cookie(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    fn nonce_in(body: &str) -> String {
        let start = body.find("var n='").map(|i| i + 7).unwrap_or(0);
        body[start..start + 24].to_owned()
    }

    async fn body_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[tokio::test]
    async fn a_solved_nonce_is_admitted_and_nothing_else() {
        let challenge = ManagedChallenge::new(7);
        let page = challenge.page();
        assert_eq!(page.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            page.headers().get("cf-mitigated").map(|v| v.as_bytes()),
            Some(&b"challenge"[..])
        );
        let nonce = nonce_in(&body_of(page).await);
        let solved = format!("{nonce}.{:x}", solve(&nonce));

        assert!(challenge.admits(&with_cookie(&format!(
            "theme=dark; {CLEARANCE_COOKIE}={solved}"
        ))));
        assert!(!challenge.admits(&HeaderMap::new()));
        assert!(!challenge.admits(&with_cookie(&format!("{CLEARANCE_COOKIE}={nonce}.0"))));
        // Another simulator (another seed) did not issue this nonce.
        assert!(
            !ManagedChallenge::new(8).admits(&with_cookie(&format!("{CLEARANCE_COOKIE}={solved}")))
        );
        // A made-up nonce fails its tag even when its answer is right.
        let forged = "0123456789abcdef00000000";
        assert!(!challenge.admits(&with_cookie(&format!(
            "{CLEARANCE_COOKIE}={forged}.{:x}",
            solve(forged)
        ))));
        assert!(!challenge.admits(&with_cookie(&format!("{CLEARANCE_COOKIE}=short"))));
    }

    #[tokio::test]
    async fn every_page_gets_its_own_nonce() {
        let challenge = ManagedChallenge::new(7);
        let first = nonce_in(&body_of(challenge.page()).await);
        let second = nonce_in(&body_of(challenge.page()).await);
        assert_ne!(first, second);
    }
}
