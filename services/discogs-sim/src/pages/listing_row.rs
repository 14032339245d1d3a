//! One `tr.shortcut_navigable` row of a marketplace table, cell for cell as the 2025/26
//! pages draw it: picture and community numbers, description with conditions and
//! comments, seller block, price with shipping, and the cart button (or, for sellers who
//! do not ship to the visitor, the "Unavailable in …" note).

use cratedigger_domain::Money;

use super::html::{escape, grade_description};
use crate::http::AppState;
use crate::simulation::LiveListing;
use crate::world::catalog::Release;
use crate::world::currency::{convert, display_price, group_thousands, plain_decimal};
use crate::world::market::{Seller, ShippingPolicy};

pub fn listing_row(app: &AppState, release: &Release, live: &LiveListing<'_>) -> String {
    let catalog = &app.sim.world.catalog;
    let viewer = &app.settings.viewer;
    let LiveListing {
        listing,
        seller,
        price,
        ..
    } = *live;
    let unavailable = !seller.ships_to_viewer && seller.country != viewer.country;
    let row_class = if unavailable {
        "shortcut_navigable unavailable"
    } else {
        "shortcut_navigable "
    };
    let title = format!(
        "{} - {} ({})",
        catalog.artist(release).name,
        release.title,
        release.format_summary()
    );
    let price_cell = price_block(app, seller, price);
    let unavailable_note = if unavailable {
        format!(
            "<p class=\"hide-desktop muted\"> Unavailable in {} </p>\n",
            escape(&viewer.country)
        )
    } else {
        String::new()
    };
    let sleeve = listing.sleeve.map_or(String::new(), |s| {
        format!(
            "<span class=\"mplabel condition-label-desktop\">Sleeve Condition:</span>\n\
             <span class=\"mplabel condition-label-mobile\">Sleeve:</span>\n\
             <span class=\"item_sleeve_condition\">{}</span>\n<br />\n",
            s.discogs_name()
        )
    });
    let comments = listing.comment.map_or(String::new(), |c| {
        format!("<p class=\"hide_mobile\">\n{}<br>\n</p>\n", escape(c))
    });
    let actions = if unavailable {
        format!(
            "<td class=\"item_add_to_cart hide_mobile cart_button_substitute_text muted\">\n\
             <a class=\"show-shipping-methods hide_mobile\" data-seller-username=\"{name}\" data-seller-id=\"{sid}\"> Unavailable in {country} </a>\n</td>\n",
            name = escape(&seller.name),
            sid = seller.id,
            country = escape(&viewer.country),
        )
    } else {
        let cart = format!(
            "<a class=\"button button-green cart-button \" data-item-id=\"{id}\"{shipping} data-seller-id=\"{sid}\" href=\"/sell/cart/?add={id}&amp;ev=\">Add&nbsp;to&nbsp;Cart</a>",
            id = listing.id,
            shipping = if seller.shipping == ShippingPolicy::Unknown {
                ""
            } else {
                " data-item-has-shipping=\"true\""
            },
            sid = seller.id,
        );
        let details = if listing.allow_offers {
            "Make Offer / Details"
        } else {
            "Details"
        };
        format!(
            "<td class=\"item_add_to_cart item_add_to_cart_desktop\">\n<div class=\"hide-desktop\">{cart}</div>\n\
             <div class=\"hide_mobile\">{cart}\n<p><a href=\"/sell/item/{id}?ev=bp_det\"><strong>{details}</strong></a></p>\n</div>\n</td>\n",
            id = listing.id,
        )
    };
    format!(
        "<tr class=\"{row_class}\" data-release-id=\"{release_id}\">\n\
         <td class=\"item_picture as_float\">\n<div class=\"hide_mobile community_data_text\">\n\
         <div class=\"community_rating\">Rated: <strong>{rating:.2}</strong></div>\n\
         <div class=\"community_summary community_fixed_width\">\n\
         <div class=\"community_result\"><span class=\"community_label\">{have} have</span></div>\n\
         <div class=\"community_result\"><span class=\"community_label\">{want} want</span></div>\n</div>\n</div>\n\
         <div class=\"hide-desktop\">\n{price_cell}</div>\n</td>\n\
         <td class=\"item_description\">\n<strong>\n<a href=\"/sell/item/{id}\" class=\"item_description_title\" data-followable=\"true\">{title}</a>\n</strong>\n<br />\n\
         {unavailable_note}\
         <p class=\"hide_mobile label_and_cat\">\n<span class=\"mplabel\">Label:</span><a href=\"/label/{label_id}\">{label}</a><br />\n\
         <span class=\"mplabel\">Cat#:</span>\n<span class=\"item_catno\">{catno}</span>\n<br />\n</p>\n\
         <p class=\"item_condition\">\n<span class=\"mplabel condition-label-desktop\">\n            Media Condition:\n        </span>\n\
         <span class=\"mplabel condition-label-mobile\">Media:</span>\n\
         <span>\n        {media}\n\n\
         <span class=\"has-tooltip\" role=\"note\" tabindex=\"0\">\n<i class=\"icon icon-info-circle muted\" role=\"img\" aria-hidden=\"true\"></i>\n\
         <span class=\"tooltip multi-line-tooltip sr-only\" role=\"tooltip\"><span class=\"tooltip-inner\">{media_help}</span></span>\n</span>\n</span>\n<br />\n\
         {sleeve}</p>\n{comments}\
         <a href=\"/release/{release_id}\" class=\"item_release_link hide_mobile\">View Release Page</a>\n</td>\n\
         <td class=\"seller_info\">\n{seller_info}</td>\n\
         <td class=\"hide-desktop mobile-description\"></td>\n\
         <td class=\"item_price hide_mobile\">\n{price_cell}</td>\n\
         {actions}</tr>\n",
        release_id = release.id,
        rating = release.rating_average,
        have = release.have,
        want = release.want,
        id = listing.id,
        title = escape(&title),
        label_id = catalog.label(release).id,
        label = escape(&catalog.label(release).name),
        catno = escape(&release.catno),
        media = listing.media.discogs_name(),
        media_help = grade_description(listing.media),
        seller_info = seller_info(seller),
    )
}

/// The seller cell: name, stars and rating (or "New seller"), ships-from country.
fn seller_info(seller: &Seller) -> String {
    let name = escape(&seller.name);
    let rating = match seller.rating_percent() {
        Some(percent) => {
            let stars = seller.stars();
            let icons: String = (0..5)
                .map(|i| {
                    let filled = stars - f64::from(i);
                    let icon = if filled >= 1.0 {
                        "icon-star"
                    } else if filled >= 0.5 {
                        "icon-star-half-empty"
                    } else {
                        "icon-star-o"
                    };
                    format!("<i role=\"img\" aria-hidden=\"true\" class=\"icon {icon}\"></i>")
                })
                .collect();
            let noun = if seller.ratings == 1 {
                "rating"
            } else {
                "ratings"
            };
            format!(
                "<span class=\"star_rating\" alt=\"{name} rating {stars:.1} stars out of 5\" role=\"img\" aria-label=\"{name} rating {stars:.1} out of 5\">{icons}</span>\n\
                 <strong>{percent:.1}%</strong><span>,</span> <a href=\"/sell/seller_feedback/{name}\" target=\"_top\" class=\"section_link\">\n        {count} {noun}    </a>\n",
                count = group_thousands(i64::from(seller.ratings)),
            )
        }
        None => "<span class=\"new_seller\">New seller</span>\n".to_owned(),
    };
    format!(
        "<ul>\n<li>\n<div class=\"seller_block\">\n<span class=\"mplabel seller_label\">Seller:</span>\n\
         <strong><a href=\"/seller/{name}/profile\">{name}</a></strong>\n</div>\n</li>\n\
         <li>\n{rating}</li>\n<li><span class=\"mplabel\">Ships From:</span>{country}</li>\n</ul>\n",
        country = escape(seller.country),
    )
}

/// Price, first-item shipping and the visitor-currency estimate, as in both price cells.
fn price_block(app: &AppState, seller: &Seller, price: Money) -> String {
    let name = escape(&seller.name);
    let button = format!(
        "<button\n class=\"show-shipping-methods\"\n data-seller-username=\"{name}\"\n data-seller-id=\"{}\"\n>shipping</button>",
        seller.id
    );
    let (shipping, postage) = match seller.shipping {
        ShippingPolicy::PerItem { first, .. } => (
            format!("+{}\n{button}", display_price(seller.money(first))),
            Some(seller.money(first)),
        ),
        ShippingPolicy::NoExtra => ("+no extra shipping".to_owned(), Some(seller.money(0))),
        ShippingPolicy::Unknown => (format!("+{button}"), None),
    };
    let viewer = app.settings.viewer.currency;
    let total = postage.map_or(price.minor, |p| price.minor + p.minor);
    let converted = convert(Money::new(total, price.currency), viewer);
    let estimate = if price.currency == viewer {
        display_price(converted)
    } else {
        format!("about {}", display_price(converted))
    };
    format!(
        "<div>\n<span class=\"price\" data-currency={currency} data-pricevalue={value}>{shown}</span>\n<br />\n\
         <span class=\"item_shipping\">\n        {shipping}</span>\n</div>\n\
         <div>\n<span class=\"converted_price\">{estimate}</span>\n</div>\n",
        currency = price.currency,
        value = plain_decimal(price),
        shown = display_price(price),
    )
}
