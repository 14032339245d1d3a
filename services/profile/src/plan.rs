//! Splitting a user's lists into chunks of API pages. Pure.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum List {
    Wantlist,
    Collection,
}

/// Pages `first_page..=last_page` of one list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunk {
    pub list: List,
    pub first_page: u32,
    pub last_page: u32,
}

/// The chunks that fetch `wants` wantlist items and `haves` collection items,
/// `per_page` items a page and at most `pages_per_chunk` pages a chunk: wantlist first.
pub fn plan_chunks(wants: u64, haves: u64, per_page: u32, pages_per_chunk: u32) -> Vec<Chunk> {
    let per_page = u64::from(per_page.max(1));
    let pages_per_chunk = pages_per_chunk.max(1);
    let mut chunks = Vec::new();
    for (list, items) in [(List::Wantlist, wants), (List::Collection, haves)] {
        let pages = u32::try_from(items.div_ceil(per_page)).unwrap_or(u32::MAX);
        let mut first = 1;
        while first <= pages {
            let last = first.saturating_add(pages_per_chunk - 1).min(pages);
            chunks.push(Chunk {
                list,
                first_page: first,
                last_page: last,
            });
            first = last + 1;
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_every_page_exactly_once() {
        let chunks = plan_chunks(1_234, 250, 100, 5);
        let wantlist: Vec<_> = chunks.iter().filter(|c| c.list == List::Wantlist).collect();
        assert_eq!(
            wantlist
                .iter()
                .map(|c| (c.first_page, c.last_page))
                .collect::<Vec<_>>(),
            vec![(1, 5), (6, 10), (11, 13)]
        );
        let collection: Vec<_> = chunks
            .iter()
            .filter(|c| c.list == List::Collection)
            .collect();
        assert_eq!(
            collection
                .iter()
                .map(|c| (c.first_page, c.last_page))
                .collect::<Vec<_>>(),
            vec![(1, 3)]
        );
    }

    #[test]
    fn empty_lists_need_no_chunks() {
        assert!(plan_chunks(0, 0, 100, 5).is_empty());
        assert_eq!(plan_chunks(1, 0, 100, 5).len(), 1);
        assert_eq!(plan_chunks(5_000, 0, 100, 1).len(), 50);
    }
}
