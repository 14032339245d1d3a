//! A consumer's side of the memory bus: waiting for deliveries and settling them.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::queue::Settlement;
use super::state::Shared;
use crate::{Acknowledger, BusError, Delivery, Subscription};

pub(super) struct MemorySubscription {
    pub(super) shared: Arc<Shared>,
    pub(super) name: String,
    pub(super) wakeup: Arc<Notify>,
    /// Set by `stop`: nothing more is handed out.
    pub(super) stopped: bool,
}

#[async_trait]
impl Subscription for MemorySubscription {
    async fn next(&mut self) -> Result<Option<Delivery>, BusError> {
        if self.stopped {
            return Ok(None);
        }
        // A ready message returns without awaiting anything; spending tokio's cooperative
        // budget keeps a busy consumer from starving the other tasks of its thread.
        tokio::task::coop::consume_budget().await;
        loop {
            // Registered before looking, so a publish between the look and the wait still wakes us.
            let notified = self.wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.shared.poll(&self.name, Instant::now()) {
                Ok(delivery) => return Ok(delivery),
                Err(Some(at)) => {
                    tokio::select! {
                        () = &mut notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                Err(None) => notified.await,
            }
        }
    }

    async fn stop(&mut self) {
        self.stopped = true;
    }
}

pub(super) struct MemoryAcknowledger {
    pub(super) shared: Arc<Shared>,
    pub(super) subscription: String,
    pub(super) lease: u64,
    pub(super) id: String,
    /// Renews the lease while this delivery is held; stopped when it is settled or
    /// dropped, after which the lease runs out at its deadline.
    pub(super) renewal: Option<tokio::task::AbortHandle>,
}

impl MemoryAcknowledger {
    /// Starts renewing `lease` every `every` while the delivery is held (only inside a
    /// runtime; without one the lease simply runs for one ack deadline).
    pub(super) fn renew(
        shared: &Arc<Shared>,
        subscription: &str,
        lease: u64,
        every: std::time::Duration,
    ) -> Option<tokio::task::AbortHandle> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let (shared, subscription) = (Arc::downgrade(shared), subscription.to_owned());
        let task = runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let renewed = shared
                    .upgrade()
                    .is_some_and(|s| s.extend(&subscription, lease, Instant::now()));
                if !renewed {
                    return;
                }
            }
        });
        Some(task.abort_handle())
    }
}

impl Drop for MemoryAcknowledger {
    fn drop(&mut self) {
        if let Some(renewal) = &self.renewal {
            renewal.abort();
        }
    }
}

#[async_trait]
impl Acknowledger for MemoryAcknowledger {
    async fn ack(self: Box<Self>) -> Result<(), BusError> {
        self.shared
            .settle(&self.subscription, self.lease, &self.id, Settlement::Ack)
    }

    async fn nack(self: Box<Self>) -> Result<(), BusError> {
        let settlement = Settlement::Nack {
            now: Instant::now(),
            backoff: self.shared.nack_delay,
        };
        self.shared
            .settle(&self.subscription, self.lease, &self.id, settlement)
    }
}
