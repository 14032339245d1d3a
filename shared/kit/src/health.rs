//! Health and metrics endpoints every service serves: `/healthz` (the process is alive),
//! `/readyz` (it accepts work: false while starting and while draining) and `/metrics`
//! (Prometheus text).

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The process-wide Prometheus recorder, installed on first use.
fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests); metrics then go there.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Readiness of one service; cheap to clone.
#[derive(Clone, Debug)]
pub struct Health {
    service: &'static str,
    ready: Arc<AtomicBool>,
}

impl Health {
    pub fn new(service: &'static str) -> Self {
        prometheus();
        Self {
            service,
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Ready now, and not ready any more as soon as `shutdown` fires (so a load balancer
    /// stops sending work while the service drains).
    pub fn ready_until(&self, shutdown: &crate::Shutdown) {
        self.set_ready(true);
        let (this, shutdown) = (self.clone(), shutdown.clone());
        tokio::spawn(async move {
            shutdown.wait().await;
            this.set_ready(false);
        });
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// `/healthz`, `/readyz` and `/metrics`, served on the health port.
    pub fn router(&self) -> Router {
        self.probes()
            .route("/metrics", get(|| async { prometheus().render() }))
    }

    /// `/healthz` and `/readyz` alone, for a public port (the gateway's): the metrics
    /// name internals and stay on the health port.
    pub fn probes(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .with_state(self.clone())
    }
}

async fn readyz(State(health): State<Health>) -> (StatusCode, &'static str) {
    if health.is_ready() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Serves `router` on `listener` until `shutdown` fires, then drains in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: crate::Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn status(router: Router, path: &str) -> StatusCode {
        router
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap()
            .status()
    }

    #[tokio::test]
    async fn readiness_follows_the_flag_and_metrics_render() {
        let health = Health::new("test");
        assert_eq!(status(health.router(), "/healthz").await, StatusCode::OK);
        assert_eq!(
            status(health.router(), "/readyz").await,
            StatusCode::SERVICE_UNAVAILABLE
        );
        health.set_ready(true);
        assert_eq!(status(health.router(), "/readyz").await, StatusCode::OK);
        metrics::counter!("kit_test_total").increment(1);
        assert_eq!(status(health.router(), "/metrics").await, StatusCode::OK);
    }
}
