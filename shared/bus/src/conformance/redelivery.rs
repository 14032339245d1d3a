//! At least once: nacked and unsettled deliveries come back, and give up into dead letters.

use tokio::time::Instant;

use super::{Case, ack, expect_nothing, receive, text};
use crate::names::dead_letter_attributes;
use crate::{OutgoingMessage, SubscriptionSpec};

/// A nack brings the same message back promptly, as attempt 2.
pub async fn nack_redelivers_with_the_next_attempt(case: Case) {
    let topic = case.name("retry");
    let mut subscription = case
        .open(&case.spec(&case.name("retry-worker"), &topic))
        .await;
    case.publish(&topic, "try again").await;

    let first = receive(
        subscription.as_mut(),
        case.pace.patience,
        "the first delivery",
    )
    .await;
    assert_eq!(first.attempt, 1);
    let id = first.id.clone();
    first.nack().await.unwrap();

    // Promptly: well before the ack deadline would have brought it back anyway.
    let second = receive(
        subscription.as_mut(),
        case.pace.ack_deadline / 2,
        "the redelivery after a nack",
    )
    .await;
    assert_eq!((second.id.as_str(), second.attempt), (id.as_str(), 2));
    assert_eq!(text(&second), "try again");
    ack(second).await;
    expect_nothing(
        subscription.as_mut(),
        case.pace.quiet,
        "an acked redelivery must not come back",
    )
    .await;
}

/// A held delivery keeps its lease well past the ack deadline (it is renewed while held)
/// and can still be acked; a dropped one comes back within the deadline, as attempt 2; an
/// acked one never returns.
pub async fn leases_last_while_held_and_end_when_let_go(case: Case) {
    let topic = case.name("slow");
    let mut subscription = case
        .open(&case.spec(&case.name("slow-worker"), &topic))
        .await;
    for data in ["acked", "held", "dropped"] {
        case.publish(&topic, data).await;
    }
    let mut held = None;
    for _ in 0..3 {
        let delivery = receive(
            subscription.as_mut(),
            case.pace.patience,
            "the three messages",
        )
        .await;
        assert_eq!(delivery.attempt, 1, "{delivery:?}");
        match text(&delivery).as_str() {
            "acked" => ack(delivery).await,
            "held" => held = Some(delivery),
            _ => drop(delivery),
        }
    }

    let again = receive(
        subscription.as_mut(),
        case.pace.ack_deadline + case.pace.patience,
        "the dropped message",
    )
    .await;
    assert_eq!((text(&again).as_str(), again.attempt), ("dropped", 2));
    ack(again).await;

    expect_nothing(
        subscription.as_mut(),
        case.pace.ack_deadline * 2,
        "a held delivery keeps its lease past the deadline",
    )
    .await;
    ack(held.expect("the held message")).await;
    expect_nothing(
        subscription.as_mut(),
        case.pace.quiet,
        "everything was acked",
    )
    .await;
}

/// A subscriber that stops (a worker shutting down) takes nothing more, yet still
/// settles what it holds: its ack stands, and what it nacks, like what it received but
/// never handed out, reaches another subscriber. (Usually at once; the Pub/Sub emulator
/// sometimes first redelivers to the closing pull, and then only after one or more ack
/// deadlines, once after more than 50 s in CI: the bound is twice the deadline plus twice
/// the patience. What it checks is that nothing is lost.)
pub async fn a_stopped_subscriber_settles_what_it_holds_and_its_nacks_go_elsewhere(case: Case) {
    let topic = case.name("handoff");
    let spec = case.spec(&case.name("handoff-worker"), &topic);
    let mut stopping = case.open(&spec).await;
    for data in ["one", "two", "three"] {
        case.publish(&topic, data).await;
    }
    // Two are handed out (the third may wait in the subscriber, received but not handed out).
    let finished = receive(stopping.as_mut(), case.pace.patience, "a first message").await;
    let abandoned = receive(stopping.as_mut(), case.pace.patience, "a second message").await;
    let acked = text(&finished);
    stopping.stop().await;
    assert!(
        matches!(stopping.next().await, Ok(None)),
        "a stopped subscriber hands out nothing more"
    );
    let mut other = case.open(&spec).await;
    ack(finished).await;
    abandoned.nack().await.unwrap();

    let mut others = Vec::new();
    for what in ["the first message the other subscriber gets", "the second"] {
        let delivery = receive(
            other.as_mut(),
            case.pace.ack_deadline * 2 + case.pace.patience * 2,
            what,
        )
        .await;
        others.push(text(&delivery));
        ack(delivery).await;
    }
    others.sort();
    let mut expected: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|s| (*s).to_owned())
        .filter(|s| *s != acked)
        .collect();
    expected.sort();
    assert_eq!(
        others, expected,
        "the abandoned and the never handed out, at the other subscriber"
    );
    stopping.close().await;
    expect_nothing(
        other.as_mut(),
        case.pace.ack_deadline + case.pace.ack_deadline / 2,
        "the message acked after stopping must not come back",
    )
    .await;
}

/// A delivery held past `max_lease` (a handler stuck for good) is delivered again.
pub async fn a_lease_ends_at_max_lease(case: Case) {
    let topic = case.name("stuck");
    let mut spec = case.spec(&case.name("stuck-worker"), &topic);
    spec.max_lease = case.pace.ack_deadline * 2;
    let mut subscription = case.open(&spec).await;
    case.publish(&topic, "stuck").await;
    let started = Instant::now();
    let held = receive(subscription.as_mut(), case.pace.patience, "the message").await;
    let again = receive(
        subscription.as_mut(),
        spec.max_lease + case.pace.ack_deadline + case.pace.patience,
        "the message held past its max lease",
    )
    .await;
    assert!(
        started.elapsed() >= spec.max_lease.mul_f64(0.9),
        "it came back after only {:?}",
        started.elapsed()
    );
    assert_eq!((text(&again).as_str(), again.attempt), ("stuck", 2));
    ack(again).await;
    drop(held);
}
/// attributes naming where it came from, and stops coming back.
pub async fn used_up_attempts_go_to_the_dead_letter_topic(case: Case) {
    const ATTEMPTS: u32 = 5;
    let topic = case.name("fragile");
    let mut spec = case.spec(&case.name("fragile-worker"), &topic);
    spec.max_delivery_attempts = ATTEMPTS;
    let dead_letter_topic = spec.dead_letter_topic.clone().unwrap();
    // A topic keeps nothing without a subscription: watch the dead letters first.
    let mut watch = SubscriptionSpec::new(case.name("fragile-dead-letters"), &dead_letter_topic);
    watch.dead_letter_topic = None;
    let mut dead_letters = case.open(&watch).await;
    let mut subscription = case.open(&spec).await;
    let message = OutgoingMessage::new("poison").with_attribute("job", "j-1");
    case.bus.publish(&topic, message).await.unwrap();

    for attempt in 1..=ATTEMPTS {
        let delivery = receive(
            subscription.as_mut(),
            case.pace.patience,
            "the next attempt",
        )
        .await;
        assert_eq!(delivery.attempt, attempt, "{delivery:?}");
        delivery.nack().await.unwrap();
    }

    let dead = receive(dead_letters.as_mut(), case.pace.patience, "the dead letter").await;
    assert_eq!(text(&dead), "poison");
    assert_eq!(dead.attributes.get("job").map(String::as_str), Some("j-1"));
    let source = dead
        .attributes
        .get(dead_letter_attributes::SOURCE_SUBSCRIPTION);
    assert_eq!(source, Some(&spec.name), "{:?}", dead.attributes);
    ack(dead).await;
    expect_nothing(
        subscription.as_mut(),
        case.pace.quiet,
        "a dead-lettered message must not come back",
    )
    .await;
}
