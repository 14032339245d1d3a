//! Messages reach the right subscriptions: copies per subscription, shares per consumer.

use std::collections::{BTreeSet, HashMap};

use futures::future::join_all;
use tokio::sync::mpsc;

use super::{Case, ack, expect_nothing, receive, text};
use crate::OutgoingMessage;

/// Data, attributes and the first attempt arrive as published; an acked message stays acked.
pub async fn round_trip_keeps_data_and_attributes(case: Case) {
    let topic = case.name("orders");
    let spec = case.spec(&case.name("orders-worker"), &topic);
    let mut subscription = case.open(&spec).await;
    let message = OutgoingMessage::new(vec![0_u8, 159, 146, 150, 255])
        .with_attribute("event", "chunk-done")
        .with_attribute(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
    case.bus.publish(&topic, message.clone()).await.unwrap();

    let delivery = receive(
        subscription.as_mut(),
        case.pace.patience,
        "the published message",
    )
    .await;
    assert_eq!(delivery.data, message.data);
    assert_eq!(delivery.attributes, message.attributes);
    assert_eq!(delivery.attempt, 1);
    assert!(!delivery.id.is_empty(), "a delivery has a message id");
    ack(delivery).await;
    expect_nothing(
        subscription.as_mut(),
        case.pace.quiet,
        "an acked message must not come back",
    )
    .await;
}

/// A message of [`crate::MAX_MESSAGE_BYTES`] arrives whole.
pub async fn the_largest_message_arrives_whole(case: Case) {
    let topic = case.name("uploads");
    let spec = case.spec(&case.name("uploads-worker"), &topic);
    let mut subscription = case.open(&spec).await;
    let data: Vec<u8> = (0..crate::MAX_MESSAGE_BYTES)
        .map(|i| (i % 251) as u8)
        .collect();
    let message = OutgoingMessage::new(data).with_attribute("event", "listings-uploaded");
    case.bus.publish(&topic, message.clone()).await.unwrap();
    let delivery = receive(
        subscription.as_mut(),
        case.pace.patience,
        "the large message",
    )
    .await;
    assert!(delivery.data == message.data, "the data arrived altered");
    ack(delivery).await;
}

/// Every subscription of a topic gets its own copy.
pub async fn fan_out_gives_each_subscription_a_copy(case: Case) {
    let topic = case.name("fanout");
    let mut first = case.open(&case.spec(&case.name("fanout-a"), &topic)).await;
    let mut second = case.open(&case.spec(&case.name("fanout-b"), &topic)).await;
    case.publish(&topic, "to both").await;

    for subscription in [&mut first, &mut second] {
        let delivery = receive(subscription.as_mut(), case.pace.patience, "a copy").await;
        assert_eq!(text(&delivery), "to both");
        ack(delivery).await;
    }
}

/// Consumers of one subscription share its messages: together they get each one, and
/// they do not each get a copy.
pub async fn competing_consumers_share_a_subscription(case: Case) {
    const MESSAGES: usize = 30;
    let topic = case.name("work");
    let spec = case.spec(&case.name("workers"), &topic);
    let consumers = [case.open(&spec).await, case.open(&spec).await];
    for i in 0..MESSAGES {
        case.publish(&topic, format!("job {i}")).await;
    }

    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel();
    let workers: Vec<_> = consumers
        .into_iter()
        .enumerate()
        .map(|(worker, mut subscription)| {
            let seen_tx = seen_tx.clone();
            tokio::spawn(async move {
                while let Ok(Some(delivery)) = subscription.next().await {
                    let data = text(&delivery);
                    ack(delivery).await;
                    if seen_tx.send((worker, data)).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();

    let mut distinct = BTreeSet::new();
    let mut per_worker: HashMap<usize, usize> = HashMap::new();
    let deadline = tokio::time::Instant::now() + case.pace.patience;
    while distinct.len() < MESSAGES {
        match tokio::time::timeout_at(deadline, seen_rx.recv()).await {
            Ok(Some((worker, data))) => {
                *per_worker.entry(worker).or_default() += 1;
                distinct.insert(data);
            }
            _ => panic!(
                "the consumers got only {} of {MESSAGES} messages",
                distinct.len()
            ),
        }
    }
    // Anything still in flight counts as well: a copy per consumer would show up here.
    let settle = tokio::time::Instant::now() + case.pace.quiet;
    let mut late = 0;
    while let Ok(Some((worker, _))) = tokio::time::timeout_at(settle, seen_rx.recv()).await {
        *per_worker.entry(worker).or_default() += 1;
        late += 1;
        assert!(
            late <= MESSAGES,
            "acked messages keep coming back: {per_worker:?}"
        );
    }
    for worker in workers {
        worker.abort();
    }
    let total: usize = per_worker.values().sum();
    assert!(
        total <= MESSAGES + MESSAGES / 10,
        "{total} deliveries of {MESSAGES} messages: {per_worker:?}"
    );
}

/// A subscription only gets messages published after it was created.
pub async fn late_subscription_misses_earlier_messages(case: Case) {
    let topic = case.name("history");
    let mut early = case
        .open(&case.spec(&case.name("history-early"), &topic))
        .await;
    case.publish(&topic, "before").await;
    let mut late = case
        .open(&case.spec(&case.name("history-late"), &topic))
        .await;
    case.publish(&topic, "after").await;

    let delivery = receive(
        late.as_mut(),
        case.pace.patience,
        "the message published after subscribing",
    )
    .await;
    assert_eq!(text(&delivery), "after");
    ack(delivery).await;
    expect_nothing(
        late.as_mut(),
        case.pace.quiet,
        "a late subscription must not see older messages",
    )
    .await;

    let mut got = BTreeSet::new();
    for _ in 0..2 {
        let delivery = receive(early.as_mut(), case.pace.patience, "both messages").await;
        got.insert(text(&delivery));
        ack(delivery).await;
    }
    assert_eq!(
        got,
        BTreeSet::from(["after".to_owned(), "before".to_owned()])
    );
}

/// Many tasks publishing at once lose nothing.
pub async fn concurrent_publishers_lose_nothing(case: Case) {
    const PUBLISHERS: usize = 8;
    const EACH: usize = 25;
    let topic = case.name("busy");
    let mut subscription = case
        .open(&case.spec(&case.name("busy-reader"), &topic))
        .await;

    let publishing = (0..PUBLISHERS).map(|publisher| {
        let bus = case.bus.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            for i in 0..EACH {
                bus.publish(&topic, OutgoingMessage::new(format!("{publisher}/{i}")))
                    .await
                    .unwrap();
            }
        })
    });
    for result in join_all(publishing).await {
        result.unwrap();
    }

    let mut distinct = BTreeSet::new();
    while distinct.len() < PUBLISHERS * EACH {
        let delivery = receive(
            subscription.as_mut(),
            case.pace.patience,
            "every published message",
        )
        .await;
        distinct.insert(text(&delivery));
        ack(delivery).await;
    }
    let expected: BTreeSet<String> = (0..PUBLISHERS)
        .flat_map(|p| (0..EACH).map(move |i| format!("{p}/{i}")))
        .collect();
    assert_eq!(distinct, expected);
}
