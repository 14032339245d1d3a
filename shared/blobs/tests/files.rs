//! Files in and out of the local-directory and in-memory stores, an ALS model through a
//! directory, and location settings for the cloud stores (parsed, never contacted).

#![allow(clippy::unwrap_used)]

use cratedigger_als::{AlsParams, MANIFEST_FILE, ModelFiles, fit, synthetic::PowerLaw};
use cratedigger_blobs::{BlobLocation, BlobsError, Path, get_file, get_files, open, put_files};

fn files(tag: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "item_factors.npy".to_owned(),
            format!("items {tag}").into_bytes(),
        ),
        (
            "nested/user_ids.json".to_owned(),
            format!("[\"{tag}\"]").into_bytes(),
        ),
        ("empty.bin".to_owned(), Vec::new()),
        (
            MANIFEST_FILE.to_owned(),
            format!("{{\"tag\": \"{tag}\"}}").into_bytes(),
        ),
    ]
}

/// What every backend must do; `location` is a fresh, empty one.
async fn behaves_as_a_file_store(location: &BlobLocation) {
    let store = location.store.as_ref();
    let v1 = location.prefix.clone().join("models").join("v1");
    let v10 = location.prefix.clone().join("models").join("v10");
    assert!(
        get_files(store, &v1).await.unwrap().is_empty(),
        "nothing under a new prefix"
    );
    assert_eq!(get_file(store, &v1, MANIFEST_FILE).await.unwrap(), None);

    put_files(store, &v1, files("one")).await.unwrap();
    put_files(store, &v10, files("ten")).await.unwrap();
    for (name, bytes) in files("one") {
        let read = get_file(store, &v1, &name).await.unwrap();
        assert_eq!(read.as_deref(), Some(bytes.as_slice()), "{name}");
    }
    assert_eq!(get_file(store, &v1, "missing.npy").await.unwrap(), None);

    let listed = get_files(store, &v1).await.unwrap();
    let expected: Vec<(String, Vec<u8>)> = {
        let mut expected = files("one");
        expected.sort();
        expected
    };
    let listed: Vec<(String, Vec<u8>)> = listed
        .into_iter()
        .map(|(name, bytes)| (name, bytes.to_vec()))
        .collect();
    assert_eq!(
        listed, expected,
        "v1 alone: v10 shares a string prefix, not a path prefix"
    );

    put_files(
        store,
        &v1,
        vec![(MANIFEST_FILE.to_owned(), b"replaced".to_vec())],
    )
    .await
    .unwrap();
    let manifest = get_file(store, &v1, MANIFEST_FILE).await.unwrap();
    assert_eq!(manifest.as_deref(), Some(&b"replaced"[..]));

    let partly_bad = vec![
        ("fine.npy".to_owned(), b"x".to_vec()),
        ("../escape.npy".to_owned(), b"x".to_vec()),
    ];
    let outcome = put_files(store, &v1, partly_bad).await;
    assert!(
        matches!(outcome, Err(BlobsError::InvalidName { .. })),
        "{outcome:?}"
    );
    assert_eq!(
        get_file(store, &v1, "fine.npy").await.unwrap(),
        None,
        "nothing written"
    );
}

#[tokio::test]
async fn a_local_directory_stores_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("not-yet-there");
    let location = open(root.to_str().unwrap()).unwrap();
    assert!(root.is_dir(), "open creates the directory");
    behaves_as_a_file_store(&location).await;
    assert!(
        root.join("models/v1/nested/user_ids.json").is_file(),
        "plain files on disk"
    );

    let url = url::Url::from_directory_path(&root).unwrap();
    let reopened = open(url.as_str()).unwrap();
    let v10 = Path::parse("models/v10").unwrap();
    let read = get_file(reopened.store.as_ref(), &v10, "item_factors.npy")
        .await
        .unwrap();
    assert_eq!(
        read.as_deref(),
        Some(&b"items ten"[..]),
        "file:// finds them again"
    );
}

#[tokio::test]
async fn memory_stores_files() {
    let location = open("memory://").unwrap();
    assert_eq!(location.prefix, Path::default());
    behaves_as_a_file_store(&location).await;
    let prefixed = open("memory:///artifacts/test").unwrap();
    assert_eq!(prefixed.prefix.as_ref(), "artifacts/test");
    behaves_as_a_file_store(&prefixed).await;
}

/// The trainer's write and the recommender's read of a real model, through a directory.
#[tokio::test]
async fn an_als_model_round_trips_through_a_directory() {
    let interactions = PowerLaw::new(60, 40, 600, 7).generate().unwrap();
    let params = AlsParams {
        factors: 8,
        iterations: 3,
        threads: 1,
        ..AlsParams::default()
    };
    let model = fit(&interactions, &params).unwrap();
    let written = ModelFiles::encode(&model).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let location = open(dir.path().to_str().unwrap()).unwrap();
    let version = location
        .prefix
        .clone()
        .join("models")
        .join("20261102T100000Z");
    put_files(location.store.as_ref(), &version, written.clone())
        .await
        .unwrap();

    let read = get_files(location.store.as_ref(), &version).await.unwrap();
    let decoded = ModelFiles::decode(|name| read.get(name).map(|bytes| bytes.to_vec())).unwrap();
    assert_eq!(
        ModelFiles::encode(&decoded).unwrap(),
        written,
        "the same model, file for file"
    );
}

#[cfg(all(feature = "gcp", feature = "aws"))]
#[test]
fn cloud_locations_parse_into_bucket_and_prefix() {
    let gcs = open("gs://cratedigger-models/prod/als").unwrap();
    assert_eq!(gcs.prefix.as_ref(), "prod/als");
    assert!(
        gcs.store.to_string().contains("cratedigger-models"),
        "{}",
        gcs.store
    );
    let s3 = open("s3://cratedigger-models/staging/").unwrap();
    assert_eq!(s3.prefix.as_ref(), "staging");
}

#[test]
fn unusable_locations_say_why() {
    for location in [
        "",
        "ftp://host/dir",
        "https://example.invalid/models",
        "gs://",
        "memory:///a//b",
    ] {
        let outcome = open(location);
        assert!(
            matches!(outcome, Err(BlobsError::InvalidLocation { .. })),
            "{location:?}: {outcome:?}"
        );
    }
}

#[cfg(not(feature = "gcp"))]
#[test]
fn a_build_without_gcs_says_which_feature_is_missing() {
    let outcome = open("gs://cratedigger-models/prod");
    let Err(BlobsError::InvalidLocation { reason, .. }) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.contains("cargo feature gcp"), "{reason}");
}
