//! The OAuth 1.0a dance, PLAINTEXT-signed as Discogs expects: get a request token, send
//! the user to the authorise page, trade the verifier for an access token, then use
//! [`Auth::OAuth`](super::Auth::OAuth) for signed requests.

use reqwest::{Method, Url};

use super::auth::{ConsumerCredentials, oauth_header};
use super::transport::{Received, Verdict};
use super::{DiscogsClient, DiscogsError, Host};
use crate::Secret;

/// A temporary token waiting for the user's approval.
#[derive(Clone, Debug)]
pub struct RequestToken {
    pub token: String,
    pub secret: Secret,
}

/// A user's lasting authorisation of the application.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: String,
    pub secret: Secret,
}

impl DiscogsClient {
    /// `GET /oauth/request_token`, signed `consumer_secret&`, with the callback the
    /// authorise page will send the user back to.
    pub async fn oauth_request_token(
        &self,
        consumer: &ConsumerCredentials,
        callback: &str,
    ) -> Result<RequestToken, DiscogsError> {
        let url =
            super::config::endpoint_url(&self.config.api_base, &["oauth", "request_token"], &[]);
        let authorize = || {
            Some(oauth_header(
                consumer,
                &[("oauth_callback", callback)],
                None,
            ))
        };
        let (token, secret) = self
            .token_exchange(Method::GET, url, &authorize, consumer)
            .await?;
        Ok(RequestToken { token, secret })
    }

    /// Where to send the user to approve the request token.
    pub fn oauth_authorize_url(&self, request: &RequestToken) -> Url {
        super::config::endpoint_url(
            &self.config.web_base,
            &["oauth", "authorize"],
            &[("oauth_token", request.token.clone())],
        )
    }

    /// `POST /oauth/access_token` with the verifier the user brought back.
    pub async fn oauth_access_token(
        &self,
        consumer: &ConsumerCredentials,
        request: &RequestToken,
        verifier: &str,
    ) -> Result<AccessToken, DiscogsError> {
        let url =
            super::config::endpoint_url(&self.config.api_base, &["oauth", "access_token"], &[]);
        let extra = [
            ("oauth_token", request.token.as_str()),
            ("oauth_verifier", verifier),
        ];
        let authorize = || Some(oauth_header(consumer, &extra, Some(&request.secret)));
        let (token, secret) = self
            .token_exchange(Method::POST, url, &authorize, consumer)
            .await?;
        Ok(AccessToken { token, secret })
    }

    /// Sends one token step and reads `oauth_token=…&oauth_token_secret=…`.
    async fn token_exchange(
        &self,
        method: Method,
        url: Url,
        authorize: &(dyn Fn() -> Option<Secret> + Sync),
        consumer: &ConsumerCredentials,
    ) -> Result<(String, Secret), DiscogsError> {
        let endpoint = super::transport::endpoint_of(&url);
        let endpoint = &endpoint;
        self.send(
            Host::Api,
            method,
            url,
            authorize,
            |received: Received| async move {
                if !received.status.is_success() {
                    return Verdict::Done(Err(self.status_error(endpoint, &received)));
                }
                let form = String::from_utf8_lossy(&received.body);
                let field = |name: &str| {
                    form.split('&').find_map(|pair| {
                        let (key, value) = pair.split_once('=')?;
                        (key == name).then(|| {
                            percent_encoding::percent_decode_str(value)
                                .decode_utf8_lossy()
                                .into_owned()
                        })
                    })
                };
                match (field("oauth_token"), field("oauth_token_secret")) {
                    (Some(token), Some(secret)) if !token.is_empty() => {
                        Verdict::Done(Ok((token, Secret::new(secret))))
                    }
                    _ => Verdict::Done(Err(DiscogsError::MalformedBody {
                        endpoint: endpoint.to_owned(),
                        // The body holds secrets when it half-worked; say what was missing only.
                        detail: format!(
                            "expected oauth_token and oauth_token_secret ({} bytes received)",
                            received.body.len()
                        ),
                    })),
                }
            },
        )
        .await
        .map_err(|e| scrub_consumer(e, consumer))
    }
}

/// Errors are already scrubbed of the configured credentials; the consumer passed to the
/// dance may be another one.
fn scrub_consumer(error: DiscogsError, consumer: &ConsumerCredentials) -> DiscogsError {
    match error {
        DiscogsError::Network {
            endpoint,
            attempts,
            detail,
        } => DiscogsError::Network {
            endpoint,
            attempts,
            detail: consumer.secret.scrub(&detail),
        },
        DiscogsError::Unauthorized { endpoint, message } => DiscogsError::Unauthorized {
            endpoint,
            message: message.map(|m| consumer.secret.scrub(&m)),
        },
        other => other,
    }
}
