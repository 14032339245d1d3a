//! Shared by the integration tests: the Last.fm split from the shared datasets.

#![allow(dead_code, clippy::unwrap_used)]

use std::fs::File;
use std::io::BufReader;

use cratedigger_als::{Interactions, InteractionsBuilder, parse_csv_triplets};

/// The fixed 80/20 split of Last.fm HetRec 2011 (dense ids), as (train, test), both with
/// the full shape: 1,892 users x 17,632 items.
pub fn lastfm_split() -> (Interactions, Interactions) {
    let read = |name: &str| {
        let path =
            cratedigger_testkit::dataset(&format!("lastfm-hetrec2011-2k/split_seed42/{name}"));
        let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse_csv_triplets(BufReader::new(file)).unwrap()
    };
    let (train, test) = (read("train.csv"), read("test.csv"));
    let users = train.iter().chain(&test).map(|t| t.0).max().unwrap() as usize + 1;
    let items = train.iter().chain(&test).map(|t| t.1).max().unwrap() as usize + 1;
    let build = |triplets: &[(u64, u64, f32)]| {
        let mut b = InteractionsBuilder::new(users, items).unwrap();
        for &(u, i, w) in triplets {
            b.push(u, i, w).unwrap();
        }
        b.build()
    };
    (build(&train), build(&test))
}
