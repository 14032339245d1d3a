//! `GET /sell/release/{id}`: the marketplace page of one release, in the server-rendered
//! markup Discogs served in 2025/26 (`table.mpitems`, one `tr.shortcut_navigable` per
//! listing, prices with `data-currency`/`data-pricevalue`, a `strong.pagination_total`).
//! A parser written against the real pages reads these.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use cratedigger_domain::{Money, ReleaseId};

use super::html::escape;
use super::listing_row::listing_row;
use super::protection::not_found_page;
use crate::http::AppState;
use crate::simulation::LiveListing;
use crate::world::catalog::Release;
use crate::world::currency::{convert, display_price, group_thousands, usd_cents};

const SORTS: [(&str, &str); 8] = [
    ("listed,desc", "Listed Newest"),
    ("listed,asc", "Listed Oldest"),
    ("condition,desc", "Condition (M)-(P)"),
    ("condition,asc", "Condition (P)-(M)"),
    ("seller,asc", "Seller A-Z"),
    ("seller,desc", "Seller Z-A"),
    ("price,asc", "Price Lowest"),
    ("price,desc", "Price Highest"),
];
const LIMITS: [usize; 4] = [25, 50, 100, 250];

/// The page as asked: `page` (clamped into range), `limit`, `sort`.
struct View {
    page: usize,
    limit: usize,
    sort: &'static str,
}

impl View {
    fn from_query(query: &[(String, String)]) -> Self {
        let value = |key: &str| query.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
        let limit = value("limit")
            .and_then(|v| v.parse().ok())
            .filter(|l| LIMITS.contains(l))
            .unwrap_or(25);
        let sort = value("sort")
            .and_then(|v| SORTS.iter().find(|(key, _)| *key == v))
            .map_or("price,asc", |(k, _)| k);
        let page = value("page")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1)
            .max(1);
        Self { page, limit, sort }
    }
}

pub async fn page(
    State(app): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let catalog = &app.sim.world.catalog;
    let Some((index, release)) = id
        .parse()
        .ok()
        .and_then(|id| catalog.release_by_id(ReleaseId(id)))
    else {
        return not_found_page();
    };
    let mut view = View::from_query(&query);
    let mut listings = app.sim.listings_of_release(index);
    sort_listings(&mut listings, view.sort);
    let pages = listings.len().div_ceil(view.limit).max(1);
    // Past the end, Discogs shows the last page rather than an empty one.
    view.page = view.page.min(pages);
    let start = ((view.page - 1) * view.limit).min(listings.len());
    let end = (start + view.limit).min(listings.len());
    let html = render(&app, release, &listings, start..end, &view);
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

fn sort_listings(listings: &mut [LiveListing<'_>], sort: &str) {
    match sort {
        "listed,desc" => {
            listings.sort_by_key(|l| (std::cmp::Reverse(l.listing.posted), l.listing.id))
        }
        "listed,asc" => listings.sort_by_key(|l| (l.listing.posted, l.listing.id)),
        "condition,desc" => {
            listings.sort_by_key(|l| (std::cmp::Reverse(l.listing.media), usd_cents(l.price)))
        }
        "condition,asc" => listings.sort_by_key(|l| (l.listing.media, usd_cents(l.price))),
        "seller,asc" => listings.sort_by_key(|l| (l.seller.name.to_lowercase(), l.listing.id)),
        "seller,desc" => listings.sort_by_key(|l| {
            (
                std::cmp::Reverse(l.seller.name.to_lowercase()),
                l.listing.id,
            )
        }),
        "price,desc" => {
            listings.sort_by_key(|l| (std::cmp::Reverse(usd_cents(l.price)), l.listing.id))
        }
        _ => listings.sort_by_key(|l| (usd_cents(l.price), l.listing.id)),
    }
}

fn render(
    app: &AppState,
    release: &Release,
    listings: &[LiveListing<'_>],
    shown: std::ops::Range<usize>,
    view: &View,
) -> String {
    let catalog = &app.sim.world.catalog;
    let artist = &catalog.artist(release).name;
    let mut out = String::with_capacity(4_000 + 6_000 * shown.len());
    out.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{} - {} ({}, {}, {}) For Sale | Discogs</title>\n</head>\n<body>\n\
         <div id=\"page\" class=\"marketplace_less_than_six_filters with_tabs aside_off_canvas\">\n",
        escape(artist),
        escape(&release.title),
        release.format.name(),
        escape(release.country),
        release.year
    ));
    out.push_str(&statistics_block(app, release, listings));
    out.push_str("<div id=\"page_content\" role=\"main\">\n<h2 class=\"aside-menu-title hide-desktop\">Items for sale</h2>\n<div id=\"pjax_container\">\n");
    let total = if shown.is_empty() {
        "0 &ndash; 0 of 0".to_owned()
    } else {
        format!(
            "{} &ndash; {} of {}",
            shown.start + 1,
            shown.end,
            group_thousands(listings.len() as i64)
        )
    };
    let pages = listings.len().div_ceil(view.limit).max(1);
    out.push_str("<div class=\"hide-desktop\">\n");
    out.push_str(&pagination_nav(release, &total, view, pages, "top"));
    out.push_str("</div>\n");
    out.push_str(&table_head(release));
    for live in &listings[shown] {
        out.push_str(&listing_row(app, release, live));
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str(&pagination_nav(release, &total, view, pages, "bottom"));
    out.push_str(
        "<div class=\"bottom-statement\">Each seller assumes all responsibility for their listings.</div>\n\
         </div>\n</div>\n</div>\n</body>\n</html>\n",
    );
    out
}

fn statistics_block(app: &AppState, release: &Release, listings: &[LiveListing<'_>]) -> String {
    let viewer = app.settings.viewer.currency;
    let mut prices: Vec<Money> = listings.iter().map(|l| convert(l.price, viewer)).collect();
    prices.sort_by_key(|m| m.minor);
    let price_line = |label: &str, amount: Option<&Money>| {
        amount.map_or(String::new(), |m| {
            format!("<li><span>{label}:</span> {}</li>\n", display_price(*m))
        })
    };
    format!(
        "<div class=\"lr float_fix mprelease_info\" role=\"main\" aria-label=\"release\">\n<div class=\"right\">\n\
         <div class=\"section statistics\" id=\"statistics\">\n<h2>Statistics</h2>\n<div class=\"section_content\">\n<ul>\n\
         <li><span>Have:</span> <a class=\"coll_num\" href=\"/release/stats/{id}#collection\">{have}</a></li>\n\
         <li><span>Want:</span> <a class=\"want_num\" href=\"/release/stats/{id}#wantlist\">{want}</a></li>\n\
         <li><span>Avg Rating:</span> <span class=\"rating_value\">{rating:.2}</span> / 5</li>\n\
         <li><span>Ratings:</span> <a href=\"/release/stats/{id}\"><span class=\"rating_count\">{count}</span></a></li>\n\
         </ul>\n<ul class=\"last\">\n{lowest}{median}{highest}</ul>\n</div>\n</div>\n</div>\n</div>\n",
        id = release.id,
        have = release.have,
        want = release.want,
        rating = release.rating_average,
        count = release.rating_count,
        lowest = price_line("Lowest", prices.first()),
        median = price_line("Median", prices.get(prices.len() / 2)),
        highest = price_line("Highest", prices.last()),
    )
}

fn pagination_nav(
    release: &Release,
    total: &str,
    view: &View,
    pages: usize,
    place: &str,
) -> String {
    let options: String = SORTS
        .iter()
        .map(|(key, label)| {
            let selected = if *key == view.sort {
                " selected=\"selected\""
            } else {
                ""
            };
            format!("<option value=\"{key}\"{selected}>{label}</option>")
        })
        .collect();
    let limits: String = LIMITS
        .iter()
        .map(|l| {
            let selected = if *l == view.limit {
                " selected=\"selected\""
            } else {
                ""
            };
            format!("<option value=\"{l}\"{selected}>{l}</option>")
        })
        .collect();
    let link = |page: usize, class: &str, text: &str| {
        format!(
            "<li><a class=\"{class}\" href=\"/sell/release/{}?sort={}&amp;limit={}&amp;page={page}\">{text}</a></li>",
            release.id, view.sort, view.limit
        )
    };
    let mut links = String::new();
    if view.page > 1 {
        links.push_str(&link(
            view.page - 1,
            "pagination_previous",
            "&lsaquo; Previous",
        ));
    }
    if view.page < pages {
        links.push_str(&link(view.page + 1, "pagination_next", "Next &rsaquo;"));
    }
    format!(
        "<nav aria-label=\"Pagination\" class=\"pagination {place} \">\n<form action=\"/sell/release/{id}\" method=\"get\" data-section=\"general\">\n\
         <strong class=\"pagination_total\">\n        {total}    </strong>\n\
         <div class=\"pagination_controls multiple_filters\">\n<label for=\"sort_{place}\" class=\"sort_{place}\">Sort</label>\n\
         <select name=\"sort\" id=\"sort_{place}\">{options}</select>\n\
         <label class=\"hide_mobile\" for=\"limit_{place}\">Show<span class=\"sr-only\"> items per page</span></label>\n\
         <select class=\"hide_mobile\" name=\"limit\" id=\"limit_{place}\">{limits}</select>\n</div>\n\
         <ul class=\"pagination_page_links\">{links}</ul>\n</form>\n</nav>\n",
        id = release.id,
    )
}

fn table_head(release: &Release) -> String {
    let id = release.id;
    format!(
        "<table class=\"table_block mpitems push_down table_responsive\">\n<thead>\n<tr>\n\
         <th class=\"marketplace_available_sorts\" colspan=\"2\">Sort By: <a href=\"/sell/release/{id}?sort=listed%2Cdesc\" class=\"sortable-link \"><span class=\"link-text\">Listed</span></a>, \
         <a href=\"/sell/release/{id}?sort=condition%2Cdesc\" class=\"sortable-link \"><span class=\"link-text\">Condition</span></a>, Artist, Title, Label</th>\n\
         <th class=\"seller_info_header\"><a href=\"/sell/release/{id}?sort=seller%2Casc\" class=\"sortable-link \"><span class=\"link-text\">Seller</span></a></th>\n\
         <th class=\"price_header\"><a href=\"/sell/release/{id}?sort=price%2Cdesc\" class=\"sortable-link  sortable_link_selected\" title=\"sorted ascending\"><span class=\"link-text\">Price</span></a></th>\n\
         <th><span class=\"sr-only\">Actions</span></th>\n</tr>\n</thead>\n<tbody>\n"
    )
}
