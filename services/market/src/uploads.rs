//! Listings the buyer brings: marketplace pages saved from their own browser and uploaded
//! through the gateway (ListingsUploaded), read and stored as if fetched.
//!
//! Each uploaded file is an HTML page or a zip archive of them (other entries, a saved
//! page's images and scripts, are passed over). Every page is read on its own and is
//! all or nothing: it must be the marketplace page of one release (`/sell/release/{id}`)
//! whose every listing row reads; then its sellers and listings are stored in one go,
//! and a page that shows all of the release's listings (`1 – n of n`) marks the release
//! fresh like a fetch. Anything else stores nothing from that page and says why, naming
//! the file. The outcome of each file goes to the upload's record; a redelivered upload
//! stores the same listings at the same time again, which changes nothing.

use std::collections::BTreeSet;
use std::io::{Cursor, Read};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use cratedigger_catalog::{Catalog, CatalogError, ListingScope};
use cratedigger_discogs::market::{MarketPage, read_saved_page};
use cratedigger_domain::ReleaseId;
use cratedigger_kit::{EventHandler, HandleError};
use cratedigger_proto::convert::timestamp_from_pb;
use cratedigger_proto::events;
use cratedigger_status::{FileOutcome, ListingFreshness, PageOutcome, UploadRecords};

use crate::{listings_of, sellers_of};

/// The most HTML pages read from one zip archive.
pub const MAX_ZIP_PAGES: usize = 500;
/// The most one page may weigh once unpacked.
pub const MAX_PAGE_BYTES: u64 = 16 * 1024 * 1024;
/// The most a whole archive may unpack to.
pub const MAX_ZIP_BYTES: u64 = 256 * 1024 * 1024;
/// Entry names are reported at most this long.
const MAX_ENTRY_NAME_CHARS: usize = 160;

pub struct UploadReader {
    catalog: Arc<dyn Catalog>,
    freshness: ListingFreshness,
    records: UploadRecords,
}

impl UploadReader {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        freshness: ListingFreshness,
        records: UploadRecords,
    ) -> Self {
        Self {
            catalog,
            freshness,
            records,
        }
    }

    async fn on_upload(&self, event: events::ListingsUploaded) -> Result<(), HandleError> {
        let Some(seen_at) = event.received_at.as_ref().and_then(timestamp_from_pb) else {
            return Err(HandleError::reject(anyhow::anyhow!(
                "upload {} has no time of receipt",
                event.upload_id
            )));
        };
        for (index, file) in event.files.iter().enumerate() {
            let outcome = self.read_file(file, seen_at).await?;
            tracing::info!(upload = %event.upload_id, file = %file.name, pages = outcome.pages.len(), stored = outcome.stored_pages(), error = ?outcome.error, "uploaded file read");
            self.records
                .record_file(&event.upload_id, index, &outcome)
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(())
    }

    async fn read_file(
        &self,
        file: &events::UploadedFile,
        seen_at: DateTime<Utc>,
    ) -> Result<FileOutcome, HandleError> {
        let mut outcome = FileOutcome {
            name: file.name.clone(),
            pages: Vec::new(),
            error: None,
        };
        let pages = match pages_of(&file.name, &file.content) {
            Ok(pages) => pages,
            Err(reason) => {
                outcome.error = Some(format!("{}: {reason}", file.name));
                return Ok(outcome);
            }
        };
        for (name, bytes) in pages {
            let page = self.store_page(&name, &bytes, seen_at).await?;
            outcome.pages.push(page);
        }
        Ok(outcome)
    }

    /// Stores one page's listings, all of them or none. Errors are those worth retrying.
    async fn store_page(
        &self,
        name: &str,
        bytes: &[u8],
        seen_at: DateTime<Utc>,
    ) -> Result<PageOutcome, HandleError> {
        let failed = |release: Option<ReleaseId>, reason: String| PageOutcome {
            name: name.to_owned(),
            release,
            listings: 0,
            complete: false,
            error: Some(format!("{name}: {reason}")),
        };
        let saved = match read_page(bytes) {
            Ok(saved) => saved,
            Err(reason) => return Ok(failed(None, reason)),
        };
        let release = saved.release;
        let rows = listings_of(release, &saved.listings);
        if rows.len() != saved.listings.len() {
            return Ok(failed(
                Some(release),
                format!(
                    "{} of its {} listings name no seller",
                    saved.listings.len() - rows.len(),
                    saved.listings.len()
                ),
            ));
        }
        let scope = if saved.complete {
            ListingScope::Release
        } else {
            // A page of several: what is not on it may be on another.
            ListingScope::Sellers(Vec::new())
        };
        let stored = match self
            .catalog
            .upsert_sellers(&sellers_of(&saved.listings))
            .await
        {
            Ok(()) => {
                self.catalog
                    .record_seen_listings(release, &rows, &scope, seen_at)
                    .await
            }
            Err(e) => Err(e),
        };
        match stored {
            Ok(_) => {}
            Err(e @ CatalogError::Rejected(_)) => {
                return Ok(failed(Some(release), format!("cannot be stored: {e}")));
            }
            Err(e) => return Err(HandleError::retry(e)),
        }
        if saved.complete {
            let stamp = seen_at.to_rfc3339_opts(SecondsFormat::Millis, true);
            self.freshness
                .mark_fresh(release, &stamp)
                .await
                .map_err(HandleError::retry)?;
        }
        Ok(PageOutcome {
            name: name.to_owned(),
            release: Some(release),
            listings: u32::try_from(rows.len()).unwrap_or(u32::MAX),
            complete: saved.complete,
            error: None,
        })
    }
}

/// A saved page that can be stored.
#[derive(Debug)]
struct SavedPage {
    release: ReleaseId,
    listings: Vec<cratedigger_discogs::market::Listing>,
    /// It shows every listing of the release.
    complete: bool,
}

/// Reads a saved page, or says what is wrong with it (in words for the buyer).
fn read_page(bytes: &[u8]) -> Result<SavedPage, String> {
    let html = String::from_utf8_lossy(bytes);
    let page = match read_saved_page(&html) {
        MarketPage::Listings(page) => page,
        MarketPage::Challenge { .. } => {
            return Err("is the bot challenge, not the marketplace: save the page once it shows the listings".into());
        }
        MarketPage::LoginWall => return Err("is a login page, not the marketplace".into()),
        MarketPage::NotFound => return Err("is Discogs' \"not found\" page".into()),
        MarketPage::RateLimited { .. } | MarketPage::ServerError { .. } => {
            return Err("is an error page of Discogs, not the marketplace".into());
        }
        MarketPage::Unrecognised { reason } => {
            return Err(format!(
                "is not a marketplace page with listings ({reason}); save a release's marketplace page, /sell/release/{{id}}"
            ));
        }
    };
    if let Some(row) = page.skipped.first() {
        return Err(format!(
            "{} listing rows cannot be read (row {}: {}), so none is stored",
            page.skipped.len(),
            row.position + 1,
            row.reason
        ));
    }
    let saved_from = cratedigger_discogs::market::saved_from(&html);
    let from_page = saved_from.map(|s| s.release);
    let in_rows: BTreeSet<ReleaseId> = page.listings.iter().filter_map(|l| l.release_id).collect();
    let release = match (from_page, in_rows.len()) {
        (_, n) if n > 1 => {
            return Err(format!(
                "shows listings of {n} releases (a seller's or a search page); save a release's marketplace page, /sell/release/{{id}}"
            ));
        }
        (Some(saved), 1) if !in_rows.contains(&saved) => {
            return Err(format!(
                "was saved from release {saved}'s page but lists another release's listings"
            ));
        }
        (_, 1) => in_rows.into_iter().next().unwrap_or(ReleaseId(0)),
        (Some(saved), _) => saved,
        (None, _) => {
            return Err("does not say which release it is for (no release on its rows, no saved-from address)".into());
        }
    };
    // Every listing row, with the release now known.
    let listings: Vec<_> = page
        .listings
        .into_iter()
        .map(|mut l| {
            l.release_id = Some(release);
            l
        })
        .collect();
    // All of the release's listings, as a fetch would have them: the whole range, on a
    // page whose saved address filters nothing. Anything less only adds its listings.
    let whole_range = match page.range {
        Some(range) => range.first <= 1 && range.last >= range.total,
        // No pagination printed: only an empty table says there is nothing.
        None => listings.is_empty(),
    };
    let complete = whole_range && saved_from.is_some_and(|s| s.release == release && !s.filtered);
    Ok(SavedPage {
        release,
        listings,
        complete,
    })
}

/// The pages of an uploaded file: itself when it is HTML, its HTML entries when it is a
/// zip archive, each named `archive.zip/entry.html`.
pub fn pages_of(name: &str, bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, String> {
    if !bytes.starts_with(b"PK") {
        return Ok(vec![(name.to_owned(), bytes.to_vec())]);
    }
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("is not a readable zip archive ({e})"))?;
    let mut pages = Vec::new();
    let mut unpacked = 0u64;
    for index in 0..archive.len() {
        let mut entry = archive
            .by_index(index)
            .map_err(|e| format!("entry {} cannot be read ({e})", index + 1))?;
        let entry_name: String = entry
            .name()
            .map_err(|e| format!("entry {} has an unreadable name ({e})", index + 1))?
            .chars()
            .filter(|c| !c.is_control())
            .take(MAX_ENTRY_NAME_CHARS)
            .collect();
        let lower = entry_name.to_ascii_lowercase();
        let is_page = lower.ends_with(".html") || lower.ends_with(".htm");
        if entry.is_dir() || !is_page || lower.starts_with("__macosx/") {
            continue;
        }
        let page_name = format!("{name}/{entry_name}");
        if pages.len() == MAX_ZIP_PAGES {
            return Err(format!("holds more than {MAX_ZIP_PAGES} pages"));
        }
        let mut content = Vec::new();
        let read = (&mut entry)
            .take(MAX_PAGE_BYTES + 1)
            .read_to_end(&mut content)
            .map_err(|e| format!("{entry_name} cannot be unpacked ({e})"))?;
        if read as u64 > MAX_PAGE_BYTES {
            return Err(format!(
                "{entry_name} unpacks to more than {} MiB",
                MAX_PAGE_BYTES / (1024 * 1024)
            ));
        }
        unpacked += read as u64;
        if unpacked > MAX_ZIP_BYTES {
            return Err(format!(
                "unpacks to more than {} MiB",
                MAX_ZIP_BYTES / (1024 * 1024)
            ));
        }
        pages.push((page_name, content));
    }
    if pages.is_empty() {
        return Err("holds no HTML page (.html or .htm)".into());
    }
    Ok(pages)
}

pub(crate) struct OnListingsUploaded(pub(crate) Arc<UploadReader>);

#[async_trait]
impl EventHandler for OnListingsUploaded {
    type Event = events::ListingsUploaded;

    async fn handle(&self, event: Self::Event) -> Result<(), HandleError> {
        self.0.on_upload(event).await
    }

    /// Out of attempts: the files not read say so, so the upload does not wait forever
    /// (those already read keep their outcome).
    async fn give_up(&self, event: &Self::Event, error: &HandleError) {
        let read: Vec<bool> = match self.0.records.load(&event.upload_id).await {
            Ok(Some(status)) => status.files.iter().map(|f| f.outcome.is_some()).collect(),
            _ => Vec::new(),
        };
        for (index, file) in event.files.iter().enumerate() {
            if read.get(index).copied().unwrap_or(false) {
                continue;
            }
            let outcome = FileOutcome {
                name: file.name.clone(),
                pages: Vec::new(),
                error: Some(format!(
                    "{}: could not be read now ({error}); upload it again",
                    file.name
                )),
            };
            if let Err(e) = self
                .0
                .records
                .record_file(&event.upload_id, index, &outcome)
                .await
            {
                tracing::warn!(upload = %event.upload_id, error = %e, "could not record the upload's failure");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(bytes).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    #[tokio::test]
    async fn an_upload_delivered_twice_stores_its_listings_once() {
        use cratedigger_catalog::SqliteCatalog;
        use cratedigger_kv::{KeyValue, MemoryKeyValue};
        use cratedigger_status::{UploadMeta, UploadState};

        let catalog: Arc<dyn Catalog> = Arc::new(SqliteCatalog::in_memory().await.unwrap());
        catalog.migrate().await.unwrap();
        let kv: Arc<dyn KeyValue> = Arc::new(MemoryKeyValue::new());
        let freshness = ListingFreshness::new(kv.clone(), std::time::Duration::from_secs(3600));
        let records = UploadRecords::new(kv.clone());
        let reader = UploadReader::new(catalog.clone(), freshness.clone(), records.clone());
        let row = std::fs::read_to_string(
            "../../../shared/datasets/discogs-fixtures/ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__1-should-transform-single-listing-from-real-html.html",
        )
        .unwrap();
        let page = format!(
            "<!-- saved from url=(0047)https://www.discogs.com/sell/release/42424242 -->\n{row}"
        );
        records
            .create(&UploadMeta {
                id: "u1".into(),
                received_at: "2026-12-02T10:00:00.000Z".into(),
                files: vec!["one.html".into()],
            })
            .await
            .unwrap();
        let event = events::ListingsUploaded {
            upload_id: "u1".into(),
            files: vec![events::UploadedFile {
                name: "one.html".into(),
                content: page.into_bytes(),
            }],
            received_at: Some(prost_types::Timestamp {
                seconds: 1_764_669_600,
                nanos: 0,
            }),
        };
        let release = ReleaseId(42_424_242);
        let state = |catalog: Arc<dyn Catalog>| async move {
            let listings = catalog.listings(&[release], true).await.unwrap();
            let mut history = Vec::new();
            for listing in &listings {
                history.push(catalog.price_history(listing.id).await.unwrap());
            }
            (listings, history)
        };
        reader.on_upload(event.clone()).await.unwrap();
        let first = state(catalog.clone()).await;
        assert_eq!(first.0.len(), 1, "the page's one listing is stored");
        reader.on_upload(event).await.unwrap();
        assert_eq!(
            state(catalog.clone()).await,
            first,
            "the second delivery changed nothing"
        );
        let status = records.load("u1").await.unwrap().unwrap();
        assert_eq!((status.state, status.listings), (UploadState::Succeeded, 1));
        let page = &status.files[0].outcome.as_ref().unwrap().pages[0];
        assert!(
            !page.complete,
            "a page without its count shows only some listings"
        );
        assert!(
            !freshness.is_fresh(release).await.unwrap(),
            "so the release is not taken as fetched"
        );
    }

    #[test]
    fn a_zip_gives_its_html_pages_and_nothing_else() {
        let archive = zip_of(&[
            ("saved/Release 1.html", b"<html>1</html>"),
            ("saved/Release 1_files/app.js", b"js"),
            ("__MACOSX/saved/._Release 1.html", b"junk"),
            ("two.HTM", b"<html>2</html>"),
        ]);
        let pages = pages_of("pages.zip", &archive).unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec!["pages.zip/saved/Release 1.html", "pages.zip/two.HTM"]
        );
        assert!(
            pages_of("x.zip", &zip_of(&[("a.txt", b"t")]))
                .unwrap_err()
                .contains("no HTML page")
        );
        assert!(
            pages_of("x.zip", b"PK\x03\x04broken")
                .unwrap_err()
                .contains("not a readable zip")
        );
        assert_eq!(pages_of("a.html", b"<html/>").unwrap().len(), 1);
    }

    #[test]
    fn pages_that_cannot_be_stored_whole_say_why() {
        let challenge = br#"<html><head><title>Just a moment...</title></head><body><script>window._cf_chl_opt={}</script><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>"#;
        assert!(read_page(challenge).unwrap_err().contains("bot challenge"));
        assert!(
            read_page(b"<html><body>hello</body></html>")
                .unwrap_err()
                .contains("not a marketplace page")
        );
        let fixtures = "../../../shared/datasets/discogs-fixtures";
        let search = std::fs::read(format!(
            "{fixtures}/KirianCaumes__Discogs-Marketplace-API-NodeJS/test__html__index@2021-05-14_eca00e8.html"
        ))
        .unwrap();
        let error = read_page(&search).unwrap_err();
        assert!(
            error.contains("releases (a seller's or a search page)"),
            "{error}"
        );
        let empty = std::fs::read(format!(
            "{fixtures}/ezienecker__discogs-ctl/extracted__src__test__kotlin__de__ezienecker__shop__service__MarketplaceListingTransformServiceTest.kt__3-should-handle-empty-table-body.html"
        ))
        .unwrap();
        let mut saved =
            b"<!-- saved from url=(0050)https://www.discogs.com/sell/release/35886547 -->\n"
                .to_vec();
        saved.extend_from_slice(&empty);
        let page = read_page(&saved).unwrap();
        assert_eq!(
            (page.release, page.listings.len(), page.complete),
            (ReleaseId(35_886_547), 0, true),
            "an empty page says nothing is for sale"
        );
        assert!(
            read_page(&empty)
                .unwrap_err()
                .contains("does not say which release")
        );
    }
}
