//! Model files: a bit-identical round trip, and a clear error (never a panic) for every
//! kind of damage.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use cratedigger_als::synthetic::PowerLaw;
use cratedigger_als::{
    AlsError, AlsParams, MANIFEST_FILE, Model, ModelFiles, RecommendRequest, fit,
};

fn model() -> Model {
    let data = PowerLaw::new(200, 50, 2_000, 5).generate().unwrap();
    let params = AlsParams {
        factors: 8,
        iterations: 3,
        ..AlsParams::default()
    };
    fit(&data, &params)
        .unwrap()
        .with_ids(
            (0..50).map(|i| 1_000 + i * 7).collect(),
            (0..200).map(|u| format!("digger{u:04}")).collect(),
        )
        .unwrap()
        .with_version("2026-11-23T20:00:00Z", "2026-11-23T20:00:00Z")
}

fn files(model: &Model) -> HashMap<String, Vec<u8>> {
    ModelFiles::encode(model).unwrap().into_iter().collect()
}

fn decode(files: &HashMap<String, Vec<u8>>) -> Result<Model, AlsError> {
    ModelFiles::decode(|name| files.get(name).cloned())
}

#[test]
fn a_saved_model_loads_bit_identical() {
    let original = model();
    let dir = tempfile::tempdir().unwrap();
    ModelFiles::save(&original, dir.path()).unwrap();
    let loaded = ModelFiles::load(dir.path()).unwrap();
    let bits = |m: &Model| -> (Vec<u32>, Vec<u32>) {
        (
            m.user_factors().iter().map(|v| v.to_bits()).collect(),
            m.item_factors().iter().map(|v| v.to_bits()).collect(),
        )
    };
    assert_eq!(bits(&loaded), bits(&original));
    assert_eq!(loaded.item_ids(), original.item_ids());
    assert_eq!(loaded.user_ids(), original.user_ids());
    assert_eq!(loaded.params(), original.params());
    assert_eq!(loaded.info(), original.info());
    assert_eq!(loaded.confidence_state(), original.confidence_state());
    let raw = original.user_row([(1_000, 3.0), (1_007, 1.0)]).unwrap().0;
    assert_eq!(
        loaded.recommend(&raw, &RecommendRequest::top(10)).unwrap(),
        original
            .recommend(&raw, &RecommendRequest::top(10))
            .unwrap()
    );
    // Re-encoding gives the same bytes.
    assert_eq!(files(&loaded), files(&original));
}

#[test]
fn numpy_reads_the_arrays() {
    // The .npy header is the documented numpy one: magic, version 1.0, a dict with
    // dtype '<f4', C order and the shape.
    let f = files(&model());
    let npy = &f["item_factors.npy"];
    assert_eq!(&npy[..8], b"\x93NUMPY\x01\x00");
    let header = String::from_utf8_lossy(&npy[10..80]);
    assert!(
        header.contains("'descr': '<f4'") && header.contains("'shape': (50, 8)"),
        "{header}"
    );
    assert!(String::from_utf8_lossy(&f["item_ids.npy"][10..80]).contains("'descr': '<u8'"));
}

#[test]
fn every_truncation_is_reported_by_file_name() {
    let good = files(&model());
    for name in good.keys() {
        let full = &good[name];
        for cut in [0, 1, 9, full.len() / 2, full.len() - 1] {
            let mut damaged = good.clone();
            damaged.insert(name.clone(), full[..cut].to_vec());
            let err = decode(&damaged)
                .err()
                .unwrap_or_else(|| panic!("{name} cut at {cut} loaded"));
            assert!(err.to_string().contains(name.as_str()), "{name}: {err}");
        }
    }
}

#[test]
fn altered_and_missing_files_are_reported() {
    let good = files(&model());
    let mut flipped = good.clone();
    let bytes = flipped.get_mut("user_factors.npy").unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    let err = decode(&flipped).err().unwrap().to_string();
    assert!(
        err.contains("user_factors.npy") && err.contains("checksum"),
        "{err}"
    );

    let mut missing = good.clone();
    missing.remove("item_ids.npy");
    assert!(
        decode(&missing)
            .err()
            .unwrap()
            .to_string()
            .contains("item_ids.npy")
    );

    let mut no_manifest = good.clone();
    no_manifest.remove(MANIFEST_FILE);
    assert!(
        decode(&no_manifest)
            .err()
            .unwrap()
            .to_string()
            .contains("manifest.json: missing")
    );

    let mut wrong_format = good.clone();
    let text = String::from_utf8(good[MANIFEST_FILE].clone())
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 9");
    wrong_format.insert(MANIFEST_FILE.into(), text.into_bytes());
    assert!(
        decode(&wrong_format)
            .err()
            .unwrap()
            .to_string()
            .contains("v9")
    );
}

/// Damage that keeps the checksums consistent (a rewritten manifest) must still give an
/// error, not a panic or a silently wrong model.
#[test]
fn consistent_but_wrong_files_are_rejected() {
    let good = files(&model());
    let reseal = |files: &mut HashMap<String, Vec<u8>>| {
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&files[MANIFEST_FILE]).unwrap();
        for (name, bytes) in files.iter().filter(|(n, _)| n.as_str() != MANIFEST_FILE) {
            use sha2::Digest;
            let digest: String = sha2::Sha256::digest(bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            manifest["files"][name] = serde_json::json!({ "sha256": digest, "bytes": bytes.len() });
        }
        files.insert(MANIFEST_FILE.into(), serde_json::to_vec(&manifest).unwrap());
    };
    // Garbage in place of an array.
    let mut garbage = good.clone();
    garbage.insert(
        "item_factors.npy".into(),
        b"\x93NUMPY\x01\x00garbage".to_vec(),
    );
    reseal(&mut garbage);
    assert!(
        decode(&garbage)
            .err()
            .unwrap()
            .to_string()
            .contains("item_factors.npy")
    );
    // An array of the wrong shape.
    let mut shape = good.clone();
    shape.insert("item_ids.npy".into(), good["user_factors.npy"].clone());
    reseal(&mut shape);
    assert!(
        decode(&shape)
            .err()
            .unwrap()
            .to_string()
            .contains("item_ids.npy")
    );
    // Every byte of a small array flipped in turn: never a panic.
    for i in 0..good["item_ids.npy"].len() {
        let mut damaged = good.clone();
        damaged.get_mut("item_ids.npy").unwrap()[i] ^= 0xFF;
        reseal(&mut damaged);
        let _ = decode(&damaged);
    }
}
