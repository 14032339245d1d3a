//! One listing row (`tr.shortcut_navigable`) read into a [`Listing`].
//!
//! Each field tries the precise selector of the newer markup first and falls back to what
//! older or simplified markup offers; SOURCES.md §1.1 lists the variants.

use std::sync::LazyLock;

use cratedigger_domain::{Country, ListingId, MediaCondition, Money, ReleaseId, SleeveCondition};
use scraper::{ElementRef, Selector};

use super::html::{child_elements, has_class, id_after, own_text, selector, text_of};
use super::money_text::parse_localised_money;
use super::seller::read_seller;
use super::{Availability, Listing, PageContext, Shipping};

struct RowSelectors {
    description: Selector,
    title_link: Selector,
    item_link: Selector,
    item_id: Selector,
    release_link: Selector,
    price_cell: Selector,
    price: Selector,
    shipping: Selector,
    condition: Selector,
    media_tooltip: Selector,
    seller_cell: Selector,
    seller_id: Selector,
    cart_cell: Selector,
    strong: Selector,
    paragraph: Selector,
}

static SELECTORS: LazyLock<RowSelectors> = LazyLock::new(|| RowSelectors {
    description: selector("td.item_description"),
    title_link: selector("a.item_description_title"),
    item_link: selector(r#"a[href*="/sell/item/"]"#),
    item_id: selector("[data-item-id]"),
    release_link: selector(r#"a[href*="/release/"]"#),
    price_cell: selector("td.item_price"),
    price: selector("span.price"),
    shipping: selector("span.item_shipping"),
    condition: selector("p.item_condition"),
    media_tooltip: selector("i.media-condition-tooltip[data-condition]"),
    seller_cell: selector("td.seller_info"),
    seller_id: selector("[data-seller-id]"),
    cart_cell: selector("td.item_add_to_cart"),
    strong: selector("strong"),
    paragraph: selector("p"),
});

#[cfg(test)]
pub(super) fn force_selectors() {
    LazyLock::force(&SELECTORS);
}

/// Whether a table row is a listing: it has an item description cell.
pub(super) fn is_listing_row(row: ElementRef<'_>) -> bool {
    child_elements(row)
        .any(|cell| cell.value().name() == "td" && has_class(cell, "item_description"))
}

/// Reads one row; the error says which required field was missing.
pub(super) fn read_row(row: ElementRef<'_>, context: &PageContext) -> Result<Listing, String> {
    let s = &*SELECTORS;
    let description = row
        .select(&s.description)
        .next()
        .ok_or("no item description cell")?;
    let id = listing_id(row, description).ok_or("no listing id")?;
    let price_cell = row.select(&s.price_cell).next();
    let price_scope = price_cell.unwrap_or(row);
    let price = price_scope
        .select(&s.price)
        .next()
        .and_then(read_price)
        .ok_or_else(|| format!("listing {id}: no readable price"))?;
    let shipping = price_scope
        .select(&s.shipping)
        .next()
        .map_or(Shipping::Unknown, read_shipping);
    let (media, sleeve) = description
        .select(&s.condition)
        .next()
        .map_or((None, None), read_conditions);
    let seller_id = row.select(&s.seller_id).find_map(|e| {
        e.value()
            .attr("data-seller-id")
            .and_then(|v| v.trim().parse().ok())
    });
    let seller = row
        .select(&s.seller_cell)
        .next()
        .and_then(|cell| read_seller(cell, seller_id))
        .or_else(|| {
            context
                .seller
                .clone()
                .map(|name| super::seller::known_seller(name, seller_id))
        });
    Ok(Listing {
        id,
        release_id: release_id(row, description).or(context.release_id),
        title: title(description),
        price,
        shipping,
        media,
        sleeve,
        seller,
        availability: availability(row, description),
        comments: comments(description),
        offers_allowed: offers_allowed(row),
    })
}

fn listing_id(row: ElementRef<'_>, description: ElementRef<'_>) -> Option<ListingId> {
    let s = &*SELECTORS;
    let from_link = |link: ElementRef<'_>| {
        link.value()
            .attr("href")
            .and_then(|h| id_after(h, "/sell/item/"))
    };
    description
        .select(&s.title_link)
        .find_map(from_link)
        .or_else(|| description.select(&s.item_link).find_map(from_link))
        .or_else(|| {
            row.select(&s.item_id).find_map(|e| {
                e.value()
                    .attr("data-item-id")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .map(ListingId)
}

fn release_id(row: ElementRef<'_>, description: ElementRef<'_>) -> Option<ReleaseId> {
    let from_attribute = row
        .value()
        .attr("data-release-id")
        .and_then(|v| v.trim().parse().ok());
    from_attribute
        .or_else(|| {
            description.select(&SELECTORS.release_link).find_map(|a| {
                a.value()
                    .attr("href")
                    .and_then(|h| id_after(h, "/release/"))
            })
        })
        .map(ReleaseId)
}

fn title(description: ElementRef<'_>) -> String {
    let s = &*SELECTORS;
    description
        .select(&s.title_link)
        .next()
        .or_else(|| description.select(&s.item_link).next())
        .map(text_of)
        .unwrap_or_default()
}

/// `data-currency` + `data-pricevalue` when present (2023 on), else the printed text.
fn read_price(price: ElementRef<'_>) -> Option<Money> {
    let attrs = price.value();
    let from_attributes = match (attrs.attr("data-currency"), attrs.attr("data-pricevalue")) {
        (Some(code), Some(value)) => cratedigger_domain::Currency::new(code)
            .ok()
            .and_then(|currency| Money::from_decimal_str(value, currency).ok()),
        _ => None,
    };
    from_attributes.or_else(|| parse_localised_money(&text_of(price)))
}

/// The text right after `+`: an amount, "no extra shipping", or nothing but a button.
fn read_shipping(shipping: ElementRef<'_>) -> Shipping {
    let text = own_text(shipping);
    let text = text.trim_start_matches('+').trim();
    if text.is_empty() {
        return Shipping::Unknown;
    }
    if text.chars().any(|c| c.is_ascii_digit()) {
        return parse_localised_money(text).map_or(Shipping::Unknown, Shipping::Amount);
    }
    let lower = text.to_lowercase();
    let free = [
        "no extra",
        "free",
        "gratuit",
        "sans frais",
        "kostenlos",
        "gratis",
    ];
    if free.iter().any(|word| lower.contains(word)) {
        Shipping::NoExtra
    } else {
        Shipping::Unknown
    }
}

/// Media from the 2021 tooltip's `data-condition`, else the first unlabelled span's own
/// text (2026 nests a description tooltip inside it); sleeve from its own span, else the
/// second unlabelled span (simplified markup).
fn read_conditions(condition: ElementRef<'_>) -> (Option<MediaCondition>, Option<SleeveCondition>) {
    let s = &*SELECTORS;
    let graded_spans: Vec<ElementRef<'_>> = child_elements(condition)
        .filter(|e| e.value().name() == "span" && !has_class(*e, "mplabel"))
        .collect();
    let (sleeve_spans, plain_spans): (Vec<_>, Vec<_>) = graded_spans
        .into_iter()
        .partition(|e| has_class(*e, "item_sleeve_condition"));
    let media = condition
        .select(&s.media_tooltip)
        .find_map(|i| i.value().attr("data-condition").and_then(media_grade))
        .or_else(|| {
            plain_spans
                .first()
                .and_then(|span| media_grade(&span_grade_text(*span)))
        });
    let sleeve_text = sleeve_spans
        .first()
        .map(|span| text_of(*span))
        .or_else(|| plain_spans.get(1).map(|span| span_grade_text(*span)));
    (media, sleeve_text.as_deref().and_then(sleeve_grade))
}

fn span_grade_text(span: ElementRef<'_>) -> String {
    let own = own_text(span);
    if own.is_empty() { text_of(span) } else { own }
}

/// A grade in English (`Near Mint (NM or M-)`) or, on translated pages, by the code in
/// parentheses (`Quasi neuf (NM ou M-)`).
fn media_grade(text: &str) -> Option<MediaCondition> {
    text.parse().ok().or_else(|| {
        let open = text.rfind('(')?;
        let inside = text[open + 1..].trim_end_matches(')');
        inside.split_whitespace().next()?.parse().ok()
    })
}

fn sleeve_grade(text: &str) -> Option<SleeveCondition> {
    text.parse()
        .ok()
        .or_else(|| media_grade(text).map(SleeveCondition::Graded))
}

/// "Unavailable in France": the row class `unavailable`, or the notice paragraph.
fn availability(row: ElementRef<'_>, description: ElementRef<'_>) -> Availability {
    let notice = description
        .select(&SELECTORS.paragraph)
        .map(text_of)
        .find_map(|text| {
            let lower = text.to_lowercase();
            let prefix = [
                "unavailable in ",
                "indisponible en ",
                "indisponible au ",
                "indisponible aux ",
            ]
            .into_iter()
            .find(|p| lower.starts_with(p))?;
            Some(Country::new(text.get(prefix.len()..).unwrap_or_default()))
        });
    match notice {
        Some(country) => Availability::Unavailable {
            buyer_country: Some(country),
        },
        None if has_class(row, "unavailable") => Availability::Unavailable {
            buyer_country: None,
        },
        None => Availability::Available,
    }
}

/// The seller's comment: the first paragraph after the condition paragraph that is not
/// the label/catalogue line.
fn comments(description: ElementRef<'_>) -> Option<String> {
    let condition = description.select(&SELECTORS.condition).next()?;
    let comment = condition
        .next_siblings()
        .filter_map(ElementRef::wrap)
        .filter(|e| e.value().name() == "p")
        .find(|p| !has_class(*p, "label_and_cat") && !has_class(*p, "hide-desktop"))?;
    Some(text_of(comment)).filter(|text| !text.is_empty())
}

fn offers_allowed(row: ElementRef<'_>) -> bool {
    let s = &*SELECTORS;
    row.select(&s.cart_cell)
        .flat_map(|cell| cell.select(&s.strong))
        .any(|strong| {
            let text = text_of(strong).to_lowercase();
            text.contains("offer") || text.contains("offre")
        })
}
