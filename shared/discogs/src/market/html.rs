//! Small helpers over `scraper` shared by the page readers: constant selectors, text with
//! collapsed whitespace, and numbers as the pages print them.

use scraper::{ElementRef, Node, Selector};

/// Compiles a selector written in this crate. Only constant strings come here, and every
/// page test compiles all of them, so a typo fails the tests, never a scrape.
pub(crate) fn selector(css: &'static str) -> Selector {
    #[allow(clippy::expect_used)]
    Selector::parse(css).expect("selectors in this crate are constants checked by tests")
}

/// All text under `element`, whitespace collapsed to single spaces.
pub(crate) fn text_of(element: ElementRef<'_>) -> String {
    collapse_whitespace(&element.text().collect::<String>())
}

/// Only the text nodes that are direct children of `element`: `+€14.00` out of
/// `<span>+€14.00 <button>shipping</button></span>`, or the grade out of a condition span
/// that also wraps a tooltip.
pub(crate) fn own_text(element: ElementRef<'_>) -> String {
    let mut text = String::new();
    for child in element.children() {
        if let Node::Text(t) = child.value() {
            text.push_str(t);
            text.push(' ');
        }
    }
    collapse_whitespace(&text)
}

pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn has_class(element: ElementRef<'_>, class: &str) -> bool {
    element.value().classes().any(|c| c == class)
}

/// Child elements of `element`, in document order.
pub(crate) fn child_elements(element: ElementRef<'_>) -> impl Iterator<Item = ElementRef<'_>> {
    element.children().filter_map(ElementRef::wrap)
}

/// An integer printed with thousands separators (`2,354`, `1 234`, `38.271`).
pub(crate) fn integer_in(text: &str) -> Option<u64> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut digits = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if matches!(c, ',' | '.' | ' ' | '\u{a0}' | '\u{202f}')
            && chars.peek().is_some_and(char::is_ascii_digit)
        {
            continue;
        } else {
            break;
        }
    }
    digits.parse().ok()
}

/// The numeric id after `marker` in a link: `/sell/item/123?ev=bp_det` with `/sell/item/`,
/// `/fr/sell/item/123`, `/In-Flames-IMask/release/13273183` with `/release/`.
pub(crate) fn id_after(href: &str, marker: &str) -> Option<u64> {
    let at = href.find(marker)? + marker.len();
    let digits: String = href[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_integers_with_separators() {
        assert_eq!(integer_in(" 2,354 ratings "), Some(2354));
        assert_eq!(integer_in("914 notes"), Some(914));
        assert_eq!(integer_in("1\u{a0}234 notes"), Some(1234));
        assert_eq!(integer_in("of 6,466"), Some(6466));
        assert_eq!(integer_in("ratings"), None);
        assert_eq!(integer_in("99999999999999999999999"), None);
    }

    #[test]
    fn reads_ids_out_of_links() {
        assert_eq!(
            id_after("/sell/item/4112342466?ev=bp_det", "/sell/item/"),
            Some(4112342466)
        );
        assert_eq!(
            id_after("/fr/sell/item/1059523334", "/sell/item/"),
            Some(1059523334)
        );
        assert_eq!(
            id_after("/In-Flames-IMask/release/13273183", "/release/"),
            Some(13273183)
        );
        assert_eq!(
            id_after("/release/2247646-Charanjit-Singh", "/release/"),
            Some(2247646)
        );
        assert_eq!(id_after("/sell/item/", "/sell/item/"), None);
        assert_eq!(id_after("/seller/x/profile", "/sell/item/"), None);
    }
}
