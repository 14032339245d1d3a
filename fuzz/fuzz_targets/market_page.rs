//! The marketplace page reader on any bytes: as a fetched page (under each status and
//! with or without Cloudflare's header) and as a page a buyer saved. It must say what the
//! page is, never panic.

#![no_main]

use cratedigger_discogs::market::{PageContext, read_market_page, read_saved_page};
use cratedigger_domain::ReleaseId;
use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::fuzz_target;

const STATUSES: [u16; 6] = [200, 403, 404, 429, 500, 503];

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let html = String::from_utf8_lossy(rest);
    let status = StatusCode::from_u16(STATUSES[usize::from(first) % STATUSES.len()])
        .unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    if first & 0x80 != 0 {
        headers.insert("cf-mitigated", HeaderValue::from_static("challenge"));
    }
    let context = PageContext::release(ReleaseId(u64::from(first)));
    let _ = read_market_page(status, &headers, &html, &context);
    let _ = read_market_page(status, &headers, &html, &PageContext::default());
    let _ = read_saved_page(&html);
});
