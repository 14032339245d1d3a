//! Faults between the services and the real servers, for the chaos suite:
//! - [`FaultyLink`], a TCP relay in front of a server that can hold every byte (a server
//!   paused, as by SIGSTOP: connections stay open and nothing is answered) or drop every
//!   connection and refuse new ones for a while (a server restarted);
//! - [`Doubler`], a Pub/Sub subscriber on every topic of a deployment that publishes each
//!   event a second time after a random delay, so every consumer sees each event twice
//!   and out of order.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cratedigger_bus::{EventBus, OutgoingMessage, PubSubBus, PubSubSettings, SubscriptionSpec};
use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What a [`FaultyLink`] does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Relays both ways.
    Open,
    /// Keeps connections open and accepts new ones, but relays nothing until reopened.
    Paused,
    /// Drops every connection and closes new ones at once.
    Down,
}

/// A TCP relay from a local port to a server, with faults on demand.
pub struct FaultyLink {
    pub port: u16,
    state: Arc<watch::Sender<LinkState>>,
    accepting: tokio::task::JoinHandle<()>,
}

impl FaultyLink {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(watch::Sender::new(LinkState::Open));
        let states = state.clone();
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let state = states.subscribe();
                if *state.borrow() == LinkState::Down {
                    drop(client);
                    continue;
                }
                tokio::spawn(relay(client, upstream, state));
            }
        });
        Self {
            port,
            state,
            accepting,
        }
    }

    /// A relay for the server of `url` (`redis://host:port/...`, `postgres://...`), and
    /// the same URL pointed at the relay.
    pub async fn for_url(url: &str) -> (Self, String) {
        let mut parsed = url::Url::parse(url).unwrap();
        let upstream = parsed
            .socket_addrs(|| None)
            .unwrap()
            .into_iter()
            .next()
            .unwrap();
        let link = Self::start(upstream).await;
        parsed.set_host(Some("127.0.0.1")).unwrap();
        parsed.set_port(Some(link.port)).unwrap();
        (link, parsed.to_string())
    }

    pub fn set(&self, state: LinkState) {
        self.state.send_replace(state);
    }
}

impl Drop for FaultyLink {
    fn drop(&mut self) {
        self.accepting.abort();
        self.set(LinkState::Down);
    }
}

async fn relay(client: TcpStream, upstream: SocketAddr, state: watch::Receiver<LinkState>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (from_client, to_client) = client.into_split();
    let (from_server, to_server) = server.into_split();
    let mut down = state.clone();
    tokio::select! {
        () = pump(from_client, to_server, state.clone()) => {}
        () = pump(from_server, to_client, state) => {}
        _ = down.wait_for(|s| *s == LinkState::Down) => {}
    }
}

/// Copies one direction, holding each chunk while the link is paused.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut state: watch::Receiver<LinkState>,
) {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if state.wait_for(|s| *s == LinkState::Open).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// The attribute that marks a doubled event, so it is not doubled again.
const COPY_ATTRIBUTE: &str = "chaos_copy";

/// Publishes every event of a deployment a second time, up to `max_delay` later.
pub struct Doubler {
    copies: Arc<AtomicUsize>,
    tasks: JoinSet<()>,
}

impl Doubler {
    /// Subscribes to every topic of the deployment whose bus names start with `prefix`;
    /// from then on, each event published there is published again.
    pub async fn start(emulator: &str, project: &str, prefix: &str, max_delay: Duration) -> Self {
        let bus = Arc::new(
            PubSubBus::connect(
                PubSubSettings::new(project)
                    .with_emulator_host(emulator)
                    .with_name_prefix(prefix),
            )
            .await
            .unwrap(),
        );
        let copies = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for &topic in cratedigger_proto::ALL_TOPICS {
            let slug = topic
                .trim_start_matches("cratedigger.")
                .trim_end_matches(".v1");
            let mut spec = SubscriptionSpec::new(
                cratedigger_bus::subscription_name("chaos-doubler", slug),
                topic,
            );
            spec.dead_letter_topic = None;
            let mut subscription = bus.subscribe(&spec).await.unwrap();
            let (bus, copies) = (bus.clone(), copies.clone());
            tasks.spawn(async move {
                while let Ok(Some(delivery)) = subscription.next().await {
                    if !delivery.attributes.contains_key(COPY_ATTRIBUTE) {
                        let mut copy = OutgoingMessage::new(delivery.data.clone());
                        copy.attributes = delivery.attributes.clone();
                        copy.attributes.insert(COPY_ATTRIBUTE.into(), "1".into());
                        let delay = max_delay.mul_f64(rand::rng().random_range(0.0..1.0));
                        let (bus, copies) = (bus.clone(), copies.clone());
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            if bus.publish(topic, copy).await.is_ok() {
                                copies.fetch_add(1, Ordering::Relaxed);
                            }
                        });
                    }
                    let _ = delivery.ack().await;
                }
            });
        }
        Self { copies, tasks }
    }

    /// How many events were published a second time so far.
    pub fn copies(&self) -> usize {
        self.copies.load(Ordering::Relaxed)
    }
}
