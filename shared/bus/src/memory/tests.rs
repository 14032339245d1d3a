//! What the memory bus offers beyond the port: stepping, introspection, closing, and its
//! own timing (the shared contract is in the conformance suite).

use std::time::Duration;

use super::*;
use crate::names::dead_letter_attributes;

const DEADLINE: Duration = Duration::from_secs(10);

async fn bus_with(spec: &SubscriptionSpec, messages: &[&str]) -> MemoryBus {
    let bus = MemoryBus::new();
    assert!(bus.ensure_subscription(spec).await.is_ok());
    for message in messages {
        assert!(
            bus.publish(&spec.topic, OutgoingMessage::new(message.to_string()))
                .await
                .is_ok()
        );
    }
    bus
}

fn spec() -> SubscriptionSpec {
    let mut spec = SubscriptionSpec::new("tracker.chunk-done", "cratedigger.chunk-done.v1");
    spec.ack_deadline = DEADLINE;
    spec
}

fn data(delivery: &Option<Delivery>) -> Option<&[u8]> {
    delivery.as_ref().map(|d| &d.data[..])
}

#[tokio::test(start_paused = true)]
async fn try_next_drains_one_message_at_a_time_and_pending_counts_until_acked() {
    let spec = spec();
    let bus = bus_with(&spec, &["a", "b"]).await;
    assert_eq!(bus.pending(&spec.name), 2);
    let first = bus.try_next(&spec.name);
    assert_eq!(data(&first), Some(&b"a"[..]));
    let second = bus.try_next(&spec.name);
    assert_eq!(data(&second), Some(&b"b"[..]));
    assert!(bus.try_next(&spec.name).is_none(), "both are out on lease");
    assert_eq!(
        bus.pending(&spec.name),
        2,
        "leased messages are still pending"
    );
    for delivery in [first, second].into_iter().flatten() {
        assert!(delivery.ack().await.is_ok());
    }
    assert_eq!(bus.pending(&spec.name), 0);
    assert!(bus.try_next("no-such-subscription").is_none());
    assert_eq!(bus.pending("no-such-subscription"), 0);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_holding_a_message_does_not_block_the_other() {
    let spec = spec();
    let bus = bus_with(&spec, &["first", "second"]).await;
    let (mut one, mut two) = (
        bus.subscribe(&spec).await.ok(),
        bus.subscribe(&spec).await.ok(),
    );
    let held = match one.as_mut() {
        Some(subscription) => subscription.next().await.ok().flatten(),
        None => None,
    };
    let other = match two.as_mut() {
        Some(subscription) => subscription.next().await.ok().flatten(),
        None => None,
    };
    assert_eq!(data(&held), Some(&b"first"[..]));
    assert_eq!(data(&other), Some(&b"second"[..]));
}

#[tokio::test(start_paused = true)]
async fn dead_letters_are_kept_for_inspection() {
    let spec = spec();
    let bus = bus_with(&spec, &["poison"]).await;
    for attempt in 1..=spec.effective_max_delivery_attempts() {
        let delivery = bus.try_next(&spec.name);
        assert_eq!(delivery.as_ref().map(|d| d.attempt), Some(attempt));
        // Dropped unsettled: the lease runs out at the deadline.
        drop(delivery);
        tokio::time::advance(DEADLINE).await;
    }
    assert_eq!(bus.pending(&spec.name), 0);
    let dead = bus.dead_letters(&crate::dead_letter_topic_name(&spec.topic));
    assert_eq!(dead.len(), 1);
    assert_eq!(&dead[0].data[..], b"poison");
    let source = dead[0]
        .attributes
        .get(dead_letter_attributes::SOURCE_SUBSCRIPTION);
    assert_eq!(source, Some(&spec.name));
    assert!(bus.dead_letters(&spec.topic).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_nack_waits_for_the_configured_delay() {
    let spec = spec();
    let bus = MemoryBus::with_nack_delay(Duration::from_secs(5));
    assert!(bus.ensure_subscription(&spec).await.is_ok());
    assert!(
        bus.publish(&spec.topic, OutgoingMessage::new("again"))
            .await
            .is_ok()
    );
    let nacked = match bus.try_next(&spec.name) {
        Some(delivery) => delivery.nack().await.is_ok(),
        None => false,
    };
    assert!(nacked);
    tokio::time::advance(Duration::from_millis(4_999)).await;
    assert!(bus.try_next(&spec.name).is_none());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(bus.try_next(&spec.name).map(|d| d.attempt), Some(2));
}

#[tokio::test(start_paused = true)]
async fn an_existing_subscription_keeps_its_first_spec() {
    let spec = spec();
    let bus = bus_with(&spec, &["x"]).await;
    let mut longer = spec.clone();
    longer.ack_deadline = DEADLINE * 6;
    assert!(bus.ensure_subscription(&longer).await.is_ok());
    assert!(bus.try_next(&spec.name).is_some());
    tokio::time::advance(DEADLINE).await;
    assert_eq!(
        bus.try_next(&spec.name).map(|d| d.attempt),
        Some(2),
        "the first deadline still applies"
    );
}

#[tokio::test(start_paused = true)]
async fn closing_ends_waiting_and_later_reads() {
    let spec = spec();
    let bus = bus_with(&spec, &[]).await;
    let subscription = bus.subscribe(&spec).await;
    let waiting = tokio::spawn(async move {
        match subscription {
            Ok(mut subscription) => subscription.next().await.map(|d| d.is_none()),
            Err(error) => Err(error),
        }
    });
    tokio::task::yield_now().await;
    bus.close();
    assert!(
        matches!(waiting.await, Ok(Ok(true))),
        "a waiting consumer sees the end"
    );
    let later = bus.subscribe(&spec).await;
    match later {
        Ok(mut subscription) => assert!(matches!(subscription.next().await, Ok(None))),
        Err(error) => panic!("subscribing after close: {error}"),
    }
}
