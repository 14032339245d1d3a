//! [`PubSubBus`]: the EventBus on Google Cloud Pub/Sub, through Google's official client.
//!
//! Against the emulator every client gets the emulator's endpoint and anonymous
//! credentials (the official client does not read `PUBSUB_EMULATOR_HOST` by itself);
//! otherwise the clients use Application Default Credentials. In production the Pub/Sub
//! service agent needs publish rights on each dead-letter topic and subscribe rights on
//! each subscription for dead-lettering to work.

mod errors;
mod settings;
mod subscription;

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use google_cloud_auth::credentials::anonymous::Builder as Anonymous;
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_pubsub::client::{
    BasePublisher, Publisher, Subscriber, SubscriptionAdmin, TopicAdmin,
};
use google_cloud_pubsub::model::{DeadLetterPolicy, Message};
use google_cloud_pubsub::retry_policy::RetryableErrors;
use google_cloud_pubsub::subscriber::ShutdownBehavior;

use self::errors::{already_exists, classify, classify_publish, client_setup};
pub use self::settings::{EMULATOR_HOST_VAR, PubSubSettings};
use self::subscription::PubSubSubscription;
use crate::names::validate_name;
use crate::{BusError, EventBus, OutgoingMessage, Subscription, SubscriptionSpec};

/// Gives a client builder the emulator's endpoint and anonymous credentials when set.
macro_rules! aimed {
    ($builder:expr, $emulator:expr) => {
        match $emulator {
            Some(host) => $builder
                .with_endpoint(format!("http://{host}"))
                .with_credentials(Anonymous::new().build()),
            None => $builder,
        }
    };
}

pub struct PubSubBus {
    settings: PubSubSettings,
    topic_admin: TopicAdmin,
    subscription_admin: SubscriptionAdmin,
    publisher_client: BasePublisher,
    subscriber: Subscriber,
    /// One batching publisher per topic path, made on first use.
    publishers: Mutex<HashMap<String, Publisher>>,
}

impl PubSubBus {
    /// Builds the clients; connections are made lazily by the first call.
    pub async fn connect(settings: PubSubSettings) -> Result<Self, BusError> {
        let emulator = settings.emulator_host.as_ref();
        let retry = || RetryableErrors.with_time_limit(settings.request_time_limit);
        let topic_admin = aimed!(TopicAdmin::builder(), emulator)
            .with_retry_policy(retry())
            .build()
            .await;
        let subscription_admin = aimed!(SubscriptionAdmin::builder(), emulator)
            .with_retry_policy(retry())
            .build()
            .await;
        let publisher_client = aimed!(BasePublisher::builder(), emulator)
            .with_retry_policy(retry())
            .build()
            .await;
        let subscriber = aimed!(Subscriber::builder(), emulator).build().await;
        Ok(Self {
            topic_admin: topic_admin.map_err(|e| client_setup("topic admin", e))?,
            subscription_admin: subscription_admin
                .map_err(|e| client_setup("subscription admin", e))?,
            publisher_client: publisher_client.map_err(|e| client_setup("publisher", e))?,
            subscriber: subscriber.map_err(|e| client_setup("subscriber", e))?,
            publishers: Mutex::new(HashMap::new()),
            settings,
        })
    }

    /// The topic's resource path, after checking the prefixed name.
    fn topic_path(&self, topic: &str) -> Result<String, BusError> {
        Ok(format!(
            "projects/{}/topics/{}",
            self.settings.project_id,
            self.prefixed(topic)?
        ))
    }

    fn subscription_path(&self, subscription: &str) -> Result<String, BusError> {
        Ok(format!(
            "projects/{}/subscriptions/{}",
            self.settings.project_id,
            self.prefixed(subscription)?
        ))
    }

    /// The name on the server. The bare name is checked too, so a name is valid or not
    /// whatever the prefix, and the same on every adapter.
    fn prefixed(&self, name: &str) -> Result<String, BusError> {
        validate_name(name)?;
        let id = format!("{}{name}", self.settings.name_prefix);
        validate_name(&id)?;
        Ok(id)
    }

    fn publisher(&self, path: &str) -> Publisher {
        let mut publishers = self
            .publishers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let publisher = publishers
            .entry(path.to_owned())
            .or_insert_with(|| self.publisher_client.publisher(path).build());
        publisher.clone()
    }
}

#[async_trait]
impl EventBus for PubSubBus {
    async fn ensure_topic(&self, topic: &str) -> Result<(), BusError> {
        let path = self.topic_path(topic)?;
        match self.topic_admin.create_topic().set_name(path).send().await {
            Ok(_) => Ok(()),
            Err(error) if already_exists(&error) => Ok(()),
            Err(error) => Err(classify(&error, topic, "creating topic")),
        }
    }

    async fn ensure_subscription(&self, spec: &SubscriptionSpec) -> Result<(), BusError> {
        let path = self.subscription_path(&spec.name)?;
        self.ensure_topic(&spec.topic).await?;
        let mut request = self
            .subscription_admin
            .create_subscription()
            .set_name(path)
            .set_topic(self.topic_path(&spec.topic)?)
            .set_ack_deadline_seconds(
                i32::try_from(spec.effective_ack_deadline().as_secs()).unwrap_or(i32::MAX),
            );
        if let Some(dead_letter_topic) = &spec.dead_letter_topic {
            self.ensure_topic(dead_letter_topic).await?;
            let attempts = spec.effective_max_delivery_attempts();
            let policy = DeadLetterPolicy::new()
                .set_dead_letter_topic(self.topic_path(dead_letter_topic)?)
                .set_max_delivery_attempts(i32::try_from(attempts).unwrap_or(i32::MAX));
            request = request.set_dead_letter_policy(policy);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) if already_exists(&error) => Ok(()),
            Err(error) => Err(classify(&error, &spec.name, "creating subscription")),
        }
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        let publisher = self.publisher(&self.topic_path(topic)?);
        let mut outgoing = Message::new()
            .set_data(message.data)
            .set_attributes(message.attributes);
        if let Some(key) = &message.ordering_key {
            outgoing = outgoing.set_ordering_key(key.clone());
        }
        match publisher.publish(outgoing).await {
            Ok(_) => Ok(()),
            Err(error) => {
                // A failed ordered publish pauses its key; the caller's retry must not stay blocked.
                if let Some(key) = message.ordering_key {
                    publisher.resume_publish(key);
                }
                Err(classify_publish(&error, topic))
            }
        }
    }

    async fn subscribe(&self, spec: &SubscriptionSpec) -> Result<Box<dyn Subscription>, BusError> {
        self.ensure_subscription(spec).await?;
        let deadline = spec.effective_ack_deadline();
        let stream = self
            .subscriber
            .subscribe(self.subscription_path(&spec.name)?)
            // The client renews the lease of every message the worker still holds, for
            // up to `max_lease`; a message whose holder is gone returns after the deadline.
            .set_max_lease(spec.effective_max_lease())
            .set_max_lease_extension(deadline)
            .set_max_outstanding_messages(self.settings.max_outstanding_messages)
            // On shutdown, deliveries already handed out stay leased and can still be
            // settled (a draining worker acks what it finishes, nacks what it abandons).
            .set_shutdown_behavior(ShutdownBehavior::WaitForProcessing)
            .build();
        Ok(Box::new(PubSubSubscription {
            stream,
            name: spec.name.clone(),
            name_prefix: self.settings.name_prefix.clone(),
        }))
    }
}
