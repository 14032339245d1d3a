//! The contract every [`ResultsStore`] adapter must meet, written once and run against
//! each adapter by `tests/conformance.rs`.
//!
//! Each function takes a fresh, empty store (its own file or database) and panics on the
//! first broken promise.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{Collection, MAX_DOCUMENT_BYTES, MAX_NESTING, ResultsError, ResultsStore};

const RECS: Collection = Collection::Recommendations;
const CARTS: Collection = Collection::Carts;

fn recommendations(user: &str, version: i64) -> Value {
    json!({
        "username": user,
        "model_version": version,
        "generated_at": "2026-11-02T10:00:00Z",
        "items": [
            {"release_id": 249504, "score": 0.873_125, "explanation": ["because of 1234"]},
            {"release_id": 1, "score": -0.25, "explanation": []},
        ],
    })
}

fn assert_rejected<T: std::fmt::Debug>(outcome: Result<T, ResultsError>, what: &str) {
    assert!(
        matches!(outcome, Err(ResultsError::Rejected { .. })),
        "{what}: {outcome:?}"
    );
}

pub async fn put_get_replace_delete(store: Arc<dyn ResultsStore>) {
    assert_eq!(store.get(RECS, "alice").await.unwrap(), None);
    let first = recommendations("alice", 1);
    store.put(RECS, "alice", &first).await.unwrap();
    assert_eq!(store.get(RECS, "alice").await.unwrap(), Some(first));

    let second = json!({"username": "alice", "model_version": 2, "items": []});
    store.put(RECS, "alice", &second).await.unwrap();
    assert_eq!(
        store.get(RECS, "alice").await.unwrap(),
        Some(second),
        "replaced whole, no old fields"
    );

    assert!(store.delete(RECS, "alice").await.unwrap());
    assert_eq!(store.get(RECS, "alice").await.unwrap(), None);
    assert!(
        !store.delete(RECS, "alice").await.unwrap(),
        "deleting twice finds nothing"
    );
    store
        .put(RECS, "", &json!({"empty key": true}))
        .await
        .unwrap();
    assert_eq!(
        store.get(RECS, "").await.unwrap(),
        Some(json!({"empty key": true}))
    );
}

/// Everything the port refuses is `Rejected`, in every adapter alike, and stores nothing.
pub async fn unacceptable_documents_are_rejected(store: Arc<dyn ResultsStore>) {
    let nested_too_deep = (0..MAX_NESTING).fold(json!({}), |inner, _| json!({ "n": inner }));
    let refused = [
        (json!([1, 2]), "an array"),
        (json!("text"), "a string"),
        (json!(null), "null"),
        (json!(42), "a number"),
        (json!({"_id": "mine"}), "a document with its own _id"),
        (json!({"n": u64::MAX}), "an integer beyond i64"),
        (nested_too_deep, "nesting deeper than the limit"),
    ];
    for (document, what) in refused {
        assert_rejected(store.put(CARTS, "job-1", &document).await, what);
        assert_eq!(
            store.get(CARTS, "job-1").await.unwrap(),
            None,
            "{what} stored nothing"
        );
    }
    let deepest = (1..MAX_NESTING).fold(json!({}), |inner, _| json!({ "n": inner }));
    store.put(CARTS, "deep", &deepest).await.unwrap();
    assert_eq!(
        store.get(CARTS, "deep").await.unwrap(),
        Some(deepest),
        "the limit itself is fine"
    );
}

/// A handler that runs twice writes twice: the second write changes nothing.
pub async fn double_put_is_idempotent(store: Arc<dyn ResultsStore>) {
    let document = recommendations("bob", 7);
    store.put(RECS, "bob", &document).await.unwrap();
    store.put(RECS, "bob", &document).await.unwrap();
    assert_eq!(store.get(RECS, "bob").await.unwrap(), Some(document));
}

/// Writers race on one id: the survivor is exactly one writer's document, never a mix.
pub async fn concurrent_puts_leave_one_document_whole(store: Arc<dyn ResultsStore>) {
    const WRITERS: usize = 12;
    let document = |writer: usize| {
        let items: Vec<Value> = (0..200)
            .map(|item| json!({"release_id": item, "writer": writer, "note": format!("w{writer}-i{item}")}))
            .collect();
        json!({"writer": writer, "items": items})
    };
    for round in 0..3 {
        let id = format!("race-{round}");
        let tasks: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let store = Arc::clone(&store);
                let id = id.clone();
                let document = document(writer);
                tokio::spawn(async move { store.put(CARTS, &id, &document).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let survivor = store
            .get(CARTS, &id)
            .await
            .unwrap()
            .expect("a document survives");
        let writer = usize::try_from(survivor["writer"].as_u64().unwrap()).unwrap();
        assert!(writer < WRITERS);
        assert_eq!(
            survivor,
            document(writer),
            "round {round}: one writer's document, intact"
        );
    }
}

/// Text and structure come back exactly: unicode in keys and values, escapes, empty
/// names and containers, deep nesting, mixed arrays.
pub async fn unicode_and_nesting_round_trip(store: Arc<dyn ResultsStore>) {
    let document = json!({
        "ascii": "plain",
        "ünïcödé ключ 鍵": "值 ♫ 🎵 مرحبا שלום e\u{301}",
        "escapes": "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7}",
        "": "an empty field name",
        "empty": {"object": {}, "array": [], "string": ""},
        "names": {"$dollar": "starts with a dollar sign", "dotted.name": "holds a dot"},
        "mixed": [null, true, false, 0, -1, 1.5, "x", [[], [{}]], {"k": [1, {"d": "deep"}]}],
        "nested": {"level1": {"level2": {"level3": {"level4": {"level5": ["bottom"]}}}}},
    });
    store
        .put(RECS, "unicode-ユーザー", &document)
        .await
        .unwrap();
    assert_eq!(
        store.get(RECS, "unicode-ユーザー").await.unwrap(),
        Some(document)
    );
}

/// Integers keep their type and value up to the i64 limits; floats come back bit for bit.
pub async fn numbers_round_trip_exactly(store: Arc<dyn ResultsStore>) {
    let mut bits = 0x9E37_79B9_7F4A_7C15_u64;
    let floats: Vec<f64> = std::iter::from_fn(|| {
        // splitmix64: every bit pattern is as likely, so all exponents are covered.
        bits = bits.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = bits;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Some(f64::from_bits(z ^ (z >> 31)))
    })
    .filter(|float| float.is_finite())
    .take(2_000)
    .chain([
        0.1,
        1.0 / 3.0,
        5e-324,
        f64::MAX,
        f64::MIN_POSITIVE,
        -2.5,
        1e21,
        2.0,
    ])
    .collect();
    let integers = [
        0,
        1,
        -1,
        i64::from(i32::MAX) + 1,
        i64::from(i32::MIN) - 1,
        i64::MAX,
        i64::MIN,
    ];
    let document = json!({"floats": floats, "integers": integers});
    store.put(RECS, "numbers", &document).await.unwrap();
    let back = store.get(RECS, "numbers").await.unwrap().unwrap();
    for (stored, read) in floats.iter().zip(back["floats"].as_array().unwrap()) {
        assert!(read.is_f64(), "{stored} came back as {read}");
        assert_eq!(
            read.as_f64().unwrap().to_bits(),
            stored.to_bits(),
            "{stored:e}"
        );
    }
    for (stored, read) in integers.iter().zip(back["integers"].as_array().unwrap()) {
        assert_eq!(read.as_i64(), Some(*stored), "{stored} came back as {read}");
    }
    assert_eq!(back, document);
}

/// A cart set of about a megabyte round-trips; one past the size limit is `Rejected`.
pub async fn large_documents(store: Arc<dyn ResultsStore>) {
    let carts: Vec<Value> = (0..1_500)
        .map(|cart| {
            let listings: Vec<Value> = (0..5)
                .map(|listing| {
                    json!({
                        "listing_id": cart * 10 + listing,
                        "release_id": 1_000_000 + listing,
                        "price": {"minor": 1_299 + listing, "currency": "EUR"},
                        "condition": "Very Good Plus (VG+)",
                    })
                })
                .collect();
            json!({"seller": format!("seller-{cart}"), "listings": listings, "total": {"minor": 7_495, "currency": "EUR"}})
        })
        .collect();
    let document = json!({"job_id": "job-large", "carts": carts});
    let size = serde_json::to_string(&document).unwrap().len();
    assert!(size > 900_000, "the test document is {size} bytes");
    store.put(CARTS, "job-large", &document).await.unwrap();
    assert_eq!(store.get(CARTS, "job-large").await.unwrap(), Some(document));

    let oversized = json!({"padding": "x".repeat(MAX_DOCUMENT_BYTES)});
    assert_rejected(
        store.put(CARTS, "job-huge", &oversized).await,
        "an oversized document",
    );
    assert_eq!(store.get(CARTS, "job-huge").await.unwrap(), None);
}

/// The same id in two collections names two documents.
pub async fn collections_are_isolated(store: Arc<dyn ResultsStore>) {
    store
        .put(RECS, "shared-id", &json!({"kind": "recommendations"}))
        .await
        .unwrap();
    assert_eq!(store.get(CARTS, "shared-id").await.unwrap(), None);
    store
        .put(CARTS, "shared-id", &json!({"kind": "carts"}))
        .await
        .unwrap();
    assert!(store.delete(RECS, "shared-id").await.unwrap());
    assert_eq!(
        store.get(CARTS, "shared-id").await.unwrap(),
        Some(json!({"kind": "carts"}))
    );
}

/// Two stores (two files, two databases) never see each other's documents.
pub async fn stores_are_isolated(a: Arc<dyn ResultsStore>, b: Arc<dyn ResultsStore>) {
    a.put(RECS, "carol", &json!({"from": "a"})).await.unwrap();
    assert_eq!(b.get(RECS, "carol").await.unwrap(), None);
    b.put(RECS, "carol", &json!({"from": "b"})).await.unwrap();
    assert!(a.delete(RECS, "carol").await.unwrap());
    assert_eq!(
        b.get(RECS, "carol").await.unwrap(),
        Some(json!({"from": "b"}))
    );
}
