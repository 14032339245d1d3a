//! The client against a stand-in Discogs on loopback serving the fixture files:
//! endpoints, typed responses, auth headers, the OAuth dance, typed errors, and secrets
//! kept out of every message.

#![allow(clippy::unwrap_used)]

mod fake_discogs;

use std::sync::Arc;
use std::time::Duration;

use cratedigger_discogs::Secret;
use cratedigger_discogs::api::{
    Auth, ClientConfig, ConsumerCredentials, DiscogsClient, DiscogsError, ListingStatus,
    PageRequest, RetryPolicy,
};
use cratedigger_discogs::ratelimit::UnlimitedRateLimiter;
use cratedigger_domain::{
    Country, Currency, ListingId, MasterId, MediaCondition, Money, ReleaseId, SleeveCondition,
    Username,
};
use fake_discogs::TOKEN;

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

async fn client_with(auth: Auth) -> (DiscogsClient, fake_discogs::Fake) {
    let (base, fake) = fake_discogs::start().await;
    let mut config = ClientConfig::single_host(&base, auth).unwrap();
    config.retry = quick_retries();
    (
        DiscogsClient::new(config, Arc::new(UnlimitedRateLimiter)).unwrap(),
        fake,
    )
}

async fn token_client() -> (DiscogsClient, fake_discogs::Fake) {
    client_with(Auth::Token(Secret::new(TOKEN))).await
}

fn user(name: &str) -> Username {
    Username::parse(name).unwrap()
}

#[tokio::test]
async fn every_request_names_the_application_and_carries_the_token() {
    let (client, fake) = token_client().await;
    client.user(&user("rodneyfool")).await.unwrap();
    client.release(ReleaseId(249_504)).await.unwrap();
    let seen = fake.seen.lock().unwrap();
    assert!(
        seen.user_agents
            .iter()
            .all(|ua| ua.starts_with("cratedigger/") && ua.contains(" +http"))
    );
    assert!(
        seen.authorizations
            .iter()
            .all(|a| a == &format!("Discogs token={TOKEN}"))
    );
}

#[tokio::test]
async fn consumer_keys_and_oauth_tokens_are_sent_as_discogs_expects() {
    let (client, fake) = client_with(Auth::Consumer {
        key: "ckey".into(),
        secret: Secret::new("csecret"),
    })
    .await;
    client.release(ReleaseId(249_504)).await.unwrap();
    let oauth = Auth::OAuth {
        consumer: ConsumerCredentials {
            key: "ckey".into(),
            secret: Secret::new("csecret"),
        },
        token: "atoken".into(),
        token_secret: Secret::new("asecret"),
    };
    let (oauth_client, oauth_fake) = client_with(oauth).await;
    assert_eq!(oauth_client.identity().await.unwrap().username, "example");
    assert_eq!(
        fake.seen.lock().unwrap().authorizations,
        ["Discogs key=ckey, secret=csecret"]
    );
    let signed = oauth_fake.seen.lock().unwrap().authorizations[0].clone();
    assert!(
        signed.starts_with("OAuth ") && signed.contains("oauth_token=\"atoken\""),
        "{signed}"
    );
    assert!(
        signed.contains("oauth_signature=\"csecret%26asecret\""),
        "{signed}"
    );
}

#[tokio::test]
async fn the_oauth_dance_yields_an_access_token() {
    let (client, _) = client_with(Auth::None).await;
    let consumer = ConsumerCredentials {
        key: "ckey".into(),
        secret: Secret::new("csecret"),
    };
    let request = client
        .oauth_request_token(&consumer, "http://127.0.0.1/callback")
        .await
        .unwrap();
    assert_eq!(request.token, "rtoken");
    let authorize = client.oauth_authorize_url(&request);
    assert!(
        authorize
            .as_str()
            .ends_with("/oauth/authorize?oauth_token=rtoken"),
        "{authorize}"
    );
    let access = client
        .oauth_access_token(&consumer, &request, "v3r1f13r")
        .await
        .unwrap();
    assert_eq!(
        (access.token.as_str(), access.secret.expose()),
        ("atoken", "asecret")
    );
    let wrong = client
        .oauth_access_token(&consumer, &request, "wrong")
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, DiscogsError::Unauthorized { .. }),
        "{wrong:?}"
    );
}

#[tokio::test]
async fn user_profiles_read() {
    let (client, _) = token_client().await;
    let profile = client.user(&user("rodneyfool")).await.unwrap();
    assert_eq!(
        (profile.id, profile.username.as_str()),
        (1_578_108, "rodneyfool")
    );
    assert_eq!(
        (profile.num_collection, profile.num_wantlist),
        (Some(78), Some(160))
    );
    assert_eq!(profile.seller_rating, Some(100.0));
    assert_eq!(profile.curr_abbr, Some(Currency::USD));
}

#[tokio::test]
async fn wantlist_pages_read_with_their_pagination() {
    let (client, fake) = token_client().await;
    let page = client
        .wantlist_page(&user("brotherlogic"), PageRequest::new(1, 500))
        .await
        .unwrap();
    assert_eq!(
        fake.hits("/users/brotherlogic/wants?page=1&per_page=100"),
        1,
        "per_page clamped to 100"
    );
    assert_eq!(
        (
            page.pagination.page,
            page.pagination.pages,
            page.pagination.items
        ),
        (1, 3, 286)
    );
    assert!(!page.pagination.is_last());
    assert_eq!(page.items.len(), 100);
    let first = &page.items[0];
    assert_eq!(first.release_id, ReleaseId(9_997_880));
    assert_eq!(first.master_id, Some(MasterId(5278)));
    assert_eq!(first.title, "The New York Rock & Roll Ensemble");
    assert_eq!(first.year, Some(2005));
    assert_eq!(first.artists[0].name, "The New York Rock Ensemble");
    assert_eq!(first.formats[0].name, "CDr");
    assert_eq!(first.formats[0].qty, Some(1));
    assert_eq!(first.genres, ["Rock"]);
    assert_eq!(
        first.styles,
        ["Psychedelic Rock", "Pop Rock", "Classic Rock"]
    );
    assert_eq!(
        first.date_added.unwrap().to_rfc3339(),
        "2020-09-17T08:08:30-07:00"
    );
    assert_eq!((first.rating, first.notes.as_deref()), (None, None));

    let example = client
        .wantlist_page(&user("example"), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(example.items[0].rating, Some(4));
    assert_eq!(
        example.items[0].notes.as_deref(),
        Some("Sample public notes.")
    );
    assert_eq!(example.items[0].master_id, None);
    assert!(example.pagination.is_last());
}

#[tokio::test]
async fn private_and_missing_wantlists_are_not_found() {
    let (client, _) = token_client().await;
    let private = client
        .wantlist_page(&user("private"), PageRequest::first())
        .await
        .unwrap_err();
    let DiscogsError::NotFound {
        status: 403,
        message: Some(message),
        ..
    } = &private
    else {
        panic!("{private:?}")
    };
    assert!(message.contains("permission"));
    let missing = client
        .wantlist_page(&user("missing"), PageRequest::first())
        .await
        .unwrap_err();
    assert!(
        matches!(missing, DiscogsError::NotFound { status: 404, .. }),
        "{missing:?}"
    );
    assert!(!missing.is_retryable());
}

#[tokio::test]
async fn usernames_are_one_encoded_path_segment() {
    let (client, fake) = token_client().await;
    client
        .wantlist_page(&user("_.bartholomews"), PageRequest::new(2, 50))
        .await
        .unwrap();
    assert_eq!(
        fake.hits("/users/_.bartholomews/wants?page=2&per_page=50"),
        1
    );
}

#[tokio::test]
async fn collections_read_newest_first() {
    let (client, fake) = token_client().await;
    let page = client
        .collection_page(&user("brotherlogic"), PageRequest::first())
        .await
        .unwrap();
    let path = "/users/brotherlogic/collection/folders/0/releases?sort=added&sort_order=desc&page=1&per_page=100";
    assert_eq!(fake.hits(path), 1);
    assert_eq!((page.pagination.items, page.pagination.pages), (3104, 32));
    let first = &page.items[0];
    assert_eq!(
        (first.release_id, first.rating, first.instance_id),
        (ReleaseId(2_749_755), Some(4), Some(130_899_776))
    );
    assert_eq!(first.master_id, None);
}

#[tokio::test]
async fn releases_and_master_versions_read() {
    let (client, _) = token_client().await;
    let release = client.release(ReleaseId(249_504)).await.unwrap();
    assert_eq!(
        (release.title.as_str(), release.year(), release.master_id()),
        (
            "Never Gonna Give You Up",
            Some(1987),
            Some(MasterId(96_559))
        )
    );
    assert_eq!(release.genres, ["Electronic", "Pop"]);
    assert_eq!(release.num_for_sale, Some(48));
    let versions = client
        .master_versions(MasterId(96_559), PageRequest::first())
        .await
        .unwrap();
    assert_eq!(versions.items.len(), 2);
    assert_eq!(versions.items[0].release_id, ReleaseId(249_504));
    assert_eq!(versions.items[0].major_formats, ["Vinyl"]);
    assert_eq!(versions.items[1].format, None);
}

#[tokio::test]
async fn marketplace_stats_listings_and_inventories_read() {
    let (client, fake) = token_client().await;
    let stats = client
        .marketplace_stats(ReleaseId(249_504), Some(Currency::EUR))
        .await
        .unwrap();
    assert_eq!(fake.hits("/marketplace/stats/249504?curr_abbr=EUR"), 1);
    assert_eq!(
        (stats.num_for_sale, stats.lowest_price),
        (Some(4), Some(Money::new(1807, Currency::USD)))
    );
    let nothing = client.marketplace_stats(ReleaseId(0), None).await.unwrap();
    assert_eq!(
        (nothing.num_for_sale, nothing.lowest_price),
        (Some(0), None)
    );

    let listing = client
        .listing(ListingId(2_218_783_261), None)
        .await
        .unwrap();
    assert_eq!(listing.status, ListingStatus::ForSale);
    assert_eq!(listing.price, Some(Money::new(3500, Currency::USD)));
    assert_eq!(
        listing.shipping_price,
        Some(Money::new(1300, Currency::USD))
    );
    assert_eq!(
        (listing.media, listing.sleeve),
        (
            Some(MediaCondition::NearMint),
            Some(SleeveCondition::Graded(MediaCondition::NearMint))
        )
    );
    assert_eq!(listing.seller.name.as_str(), "PrinceofPiney");
    assert_eq!(
        (listing.seller.rating_percent, listing.seller.ratings),
        (Some(100.0), Some(3))
    );
    assert_eq!(listing.ships_from, Some(Country::new("United States")));
    assert_eq!(listing.release.release_id, ReleaseId(547_689));
    assert!(listing.allow_offers);

    let inventory = client
        .inventory_page(&user("Madlip89"), PageRequest::new(1, 2))
        .await
        .unwrap();
    assert_eq!(
        fake.hits("/users/Madlip89/inventory?status=For+Sale&page=1&per_page=2"),
        1
    );
    assert_eq!(inventory.pagination.items, 64);
    let first = &inventory.items[0];
    assert_eq!(first.shipping_price, None, "shipping_price: {{}}");
    assert_eq!(first.price, Some(Money::new(2000, Currency::EUR)));
    assert!(!first.allow_offers);
}

#[tokio::test]
async fn a_token_never_appears_in_errors_or_debug_output() {
    let (client, _) = token_client().await;
    let mut printed = vec![format!("{client:?}"), format!("{:?}", client.config())];
    let leaky = client.user(&user("leaky")).await.unwrap_err();
    assert!(
        matches!(leaky, DiscogsError::Unauthorized { .. }),
        "{leaky:?}"
    );
    printed.push(format!("{leaky} {leaky:?}"));
    let truncated = client.release(ReleaseId(5)).await.unwrap_err();
    assert!(
        matches!(truncated, DiscogsError::MalformedBody { .. }),
        "{truncated:?}"
    );
    printed.push(format!("{truncated} {truncated:?}"));
    // Nothing listens on port 9 of loopback: a network error, retried, then reported.
    let mut config =
        ClientConfig::single_host("http://127.0.0.1:9", Auth::Token(Secret::new(TOKEN))).unwrap();
    config.retry = quick_retries();
    let offline = DiscogsClient::new(config, Arc::new(UnlimitedRateLimiter)).unwrap();
    let network = offline.release(ReleaseId(1)).await.unwrap_err();
    assert!(
        matches!(network, DiscogsError::Network { attempts: 3, .. }),
        "{network:?}"
    );
    assert!(network.is_retryable());
    printed.push(format!("{network} {network:?}"));
    for text in printed {
        assert!(!text.contains(TOKEN), "token leaked: {text}");
    }
}
