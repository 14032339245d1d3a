//! Creating topics and subscriptions, and the errors a caller must be able to tell apart.

use std::time::Duration;

use futures::future::join_all;

use super::{Case, ack, receive, text};
use crate::{BusError, OutgoingMessage, SubscriptionSpec};

/// Ensuring the same topic and subscription many times, even at once, succeeds, and an
/// existing subscription is used as it is.
pub async fn ensure_is_idempotent(case: Case) {
    let topic = case.name("setup");
    let spec = case.spec(&case.name("setup-worker"), &topic);
    let topics = join_all((0..4).map(|_| case.bus.ensure_topic(&topic))).await;
    let subscriptions = join_all((0..4).map(|_| case.bus.ensure_subscription(&spec))).await;
    for result in topics.into_iter().chain(subscriptions) {
        result.unwrap();
    }
    case.bus.ensure_topic(&topic).await.unwrap();
    let mut changed = spec.clone();
    changed.ack_deadline = Duration::from_secs(60);
    case.bus.ensure_subscription(&changed).await.unwrap();

    let mut subscription = case.open(&spec).await;
    case.publish(&topic, "still works").await;
    let delivery = receive(
        subscription.as_mut(),
        case.pace.patience,
        "a message after repeated setup",
    )
    .await;
    assert_eq!(text(&delivery), "still works");
    ack(delivery).await;
}

/// Publishing to a topic nobody created is `TopicNotFound`, not a silent loss.
pub async fn publishing_to_a_missing_topic_is_reported(case: Case) {
    let topic = case.name("never-created");
    match case.bus.publish(&topic, OutgoingMessage::new("lost")).await {
        Err(BusError::TopicNotFound(name)) => assert_eq!(name, topic),
        other => panic!("publishing to a missing topic gave {other:?}"),
    }
}

/// Names Pub/Sub would refuse are refused everywhere, naming the culprit.
pub async fn invalid_names_are_rejected(case: Case) {
    let good = case.name("fine");
    let expect_invalid = |result: Result<(), BusError>, name: &str| match result {
        Err(BusError::InvalidName { name: reported, .. }) => assert_eq!(reported, name),
        other => panic!("{name:?} gave {other:?}"),
    };
    expect_invalid(case.bus.ensure_topic("has space").await, "has space");
    expect_invalid(
        case.bus
            .publish("goog-topic", OutgoingMessage::new("x"))
            .await,
        "goog-topic",
    );
    let bad_subscription = SubscriptionSpec::new("1starts-with-digit", &good);
    expect_invalid(
        case.bus.ensure_subscription(&bad_subscription).await,
        "1starts-with-digit",
    );
    let bad_topic = SubscriptionSpec::new(case.name("fine-worker"), "no/slashes");
    expect_invalid(case.bus.ensure_subscription(&bad_topic).await, "no/slashes");
    match case.bus.subscribe(&bad_subscription).await {
        Err(BusError::InvalidName { .. }) => {}
        Err(other) => panic!("subscribing with a bad name gave {other}"),
        Ok(_) => panic!("subscribing with a bad name succeeded"),
    }
}
