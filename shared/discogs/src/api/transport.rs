//! One logical request: wait for the shared budget, send, report the budget headers,
//! and retry 429s, 5xx, timeouts, broken connections and unreadable bodies with
//! exponential backoff and jitter, never sooner than `Retry-After`.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use reqwest::{Method, Url};

use super::error::DiscogsError;
use super::{DiscogsClient, Host};
use crate::Secret;
use crate::market::page::retry_after;
use crate::ratelimit::Feedback;

/// A response that was not retried away: its status, headers and whole body.
pub(crate) struct Received {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the caller made of a 2xx body: done, or worth another attempt.
pub(crate) enum Verdict<T> {
    Done(Result<T, DiscogsError>),
    /// Unreadable (truncated, wrong shape); retried while attempts remain, then `error`.
    Retry(DiscogsError),
}

/// The path of `url` for errors and logs: no query string, so no credential either.
pub(crate) fn endpoint_of(url: &Url) -> String {
    url.path().to_owned()
}

impl DiscogsClient {
    /// Sends `method url` until `judge` accepts a response or attempts run out.
    /// `judge` sees every response that is not a 429 or 5xx (it may hand CPU-heavy work
    /// to a blocking thread, hence async). `authorize` gives the
    /// `Authorization` value for each attempt (OAuth needs a fresh nonce every time).
    pub(crate) async fn send<T, J: Future<Output = Verdict<T>>>(
        &self,
        host: Host,
        method: Method,
        url: Url,
        authorize: &(dyn Fn() -> Option<Secret> + Sync),
        judge: impl Fn(Received) -> J,
    ) -> Result<T, DiscogsError> {
        let endpoint = endpoint_of(&url);
        let policy = self.config.retry;
        let max_attempts = policy.max_attempts.max(1);
        let mut delays = ExponentialBuilder::new()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(usize::try_from(max_attempts).unwrap_or(usize::MAX))
            .with_jitter()
            .build();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= max_attempts;
            self.limiter_of(host)
                .acquire()
                .await
                .map_err(|source| DiscogsError::RateLimiter {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            let outcome = self
                .send_once(method.clone(), url.clone(), authorize())
                .await;
            let (failure, server_wait) = match outcome {
                Ok(received) => {
                    self.report_budget(host, &received.headers).await;
                    let status = received.status;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        let wait = retry_after(&received.headers);
                        self.report(host, Feedback::Throttled { retry_after: wait })
                            .await;
                        (
                            DiscogsError::RateLimited {
                                endpoint: endpoint.clone(),
                                attempts: attempt,
                            },
                            wait,
                        )
                    } else if status.is_server_error() && !is_challenge(&received.headers) {
                        let wait = retry_after(&received.headers);
                        let error = DiscogsError::Server {
                            endpoint: endpoint.clone(),
                            status: status.as_u16(),
                            attempts: attempt,
                        };
                        (error, wait)
                    } else {
                        match judge(received).await {
                            Verdict::Done(result) => return result,
                            Verdict::Retry(error) => (error, None),
                        }
                    }
                }
                Err(error) => (self.transport_error(&endpoint, attempt, &error), None),
            };
            let backoff = delays.next();
            let too_long = server_wait.is_some_and(|wait| wait > policy.max_retry_after);
            if last || backoff.is_none() || too_long {
                if too_long {
                    tracing::warn!(%endpoint, retry_after_s = server_wait.unwrap_or_default().as_secs(), "discogs asked to wait longer than max_retry_after: failing the request for a later retry");
                }
                return Err(failure);
            }
            let delay = backoff
                .unwrap_or_default()
                .max(server_wait.unwrap_or_default());
            tracing::debug!(%endpoint, attempt, delay_ms = millis(delay), error = %failure, "retrying discogs request");
            tokio::time::sleep(delay).await;
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: Url,
        authorization: Option<Secret>,
    ) -> Result<Received, reqwest::Error> {
        let mut request = self.http.request(method, url);
        if let Some(value) = authorization
            && let Ok(mut header) = http::HeaderValue::from_str(value.expose())
        {
            header.set_sensitive(true);
            request = request.header(http::header::AUTHORIZATION, header);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(Received {
            status,
            headers,
            body,
        })
    }

    /// A reqwest failure as a client error; its text is scrubbed of every secret.
    fn transport_error(
        &self,
        endpoint: &str,
        attempts: u32,
        error: &reqwest::Error,
    ) -> DiscogsError {
        let endpoint = endpoint.to_owned();
        if error.is_timeout() {
            return DiscogsError::Timeout { endpoint, attempts };
        }
        let mut detail = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            detail.push_str(": ");
            detail.push_str(&cause.to_string());
            source = cause.source();
        }
        DiscogsError::Network {
            endpoint,
            attempts,
            detail: self.config.auth.scrub(&detail),
        }
    }

    async fn report_budget(&self, host: Host, headers: &HeaderMap) {
        let number =
            |name: &str| -> Option<u32> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
        let limit = number("x-discogs-ratelimit");
        let used = number("x-discogs-ratelimit-used");
        let remaining = number("x-discogs-ratelimit-remaining");
        if limit.is_some() || remaining.is_some() {
            self.report(
                host,
                Feedback::Headers {
                    limit,
                    used,
                    remaining,
                },
            )
            .await;
        }
    }

    async fn report(&self, host: Host, feedback: Feedback) {
        // Losing one piece of feedback only delays adaptation; the request itself went
        // through, so the error is logged, not returned.
        if let Err(error) = self.limiter_of(host).feedback(feedback).await {
            tracing::warn!(%error, "could not report rate-limit feedback");
        }
    }
}

/// Cloudflare answers challenges with 403 or 503 and this header; a challenge is not a
/// server error to retry but a page for the caller to classify.
fn is_challenge(headers: &HeaderMap) -> bool {
    headers.contains_key("cf-mitigated")
}

/// `Duration` in whole milliseconds for logs.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
