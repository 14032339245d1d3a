//! One shutdown signal for a process: Ctrl-C or SIGTERM, or a test cancelling it.
//! Servers and workers take a [`Shutdown`] and drain when it fires.

use tokio_util::sync::CancellationToken;

#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    pub fn new() -> Self {
        Self(CancellationToken::new())
    }

    /// Fires the signal (tests, or the process on SIGTERM).
    pub fn trigger(&self) {
        self.0.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once the signal fired.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// A shutdown that fires with this one, and can also be fired on its own.
    pub fn child(&self) -> Self {
        Self(self.0.child_token())
    }

    /// Triggers this shutdown on Ctrl-C or SIGTERM (spawns a task).
    pub fn on_signals(&self) {
        let this = self.clone();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutdown signal received, draining");
            this.trigger();
        });
    }
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
