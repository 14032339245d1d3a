//! `cratedigger probe <url>`: a health check for container runtimes that run a command
//! inside the container (docker compose). The runtime image has no shell and no curl, so
//! the binary checks its own endpoints: success when the URL answers 2xx in time.

use std::time::Duration;

use anyhow::Context;

/// GETs `url`; an error unless it answers with a success status within `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .context("building the http client")?;
    let response = http
        .get(url)
        .send()
        .await
        .with_context(|| format!("probing {url}"))?;
    let status = response.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn ready_passes_and_not_ready_or_closed_fails() {
        let health = cratedigger_kit::Health::new("probe-test");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = health.router();
        tokio::spawn(cratedigger_kit::health::serve(
            listener,
            router,
            cratedigger_kit::Shutdown::new(),
        ));
        let second = Duration::from_secs(1);
        assert!(probe(&format!("{base}/healthz"), second).await.is_ok());
        let not_ready = probe(&format!("{base}/readyz"), second)
            .await
            .unwrap_err()
            .to_string();
        assert!(not_ready.contains("503"), "{not_ready}");
        health.set_ready(true);
        assert!(probe(&format!("{base}/readyz"), second).await.is_ok());
        let closed = format!("http://127.0.0.1:{}/readyz", closed_port());
        assert!(probe(&closed, second).await.is_err());
    }

    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}
