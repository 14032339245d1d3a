//! Small functions for writing HTML by hand.

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// The one-line explanations Discogs shows in the grade tooltip.
pub fn grade_description(grade: cratedigger_domain::MediaCondition) -> &'static str {
    use cratedigger_domain::MediaCondition::*;
    match grade {
        Mint => "Absolutely perfect in every way. Certainly never been played.",
        NearMint => "A nearly perfect record. The record should show no obvious signs of wear.",
        VeryGoodPlus => {
            "Will show some signs that it was played and otherwise handled by a previous owner."
        }
        VeryGood => "Many of the defects found on a VG+ record will be more pronounced.",
        GoodPlus => "A Good Plus record can be played through without skipping.",
        Good => "Significant surface noise and groove wear; plays without skipping.",
        Fair => "Plays through with significant noise; may skip.",
        Poor => "Cracked, badly warped, or skips; for collectors of the sleeve.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">Tom & Jerry's</a>"#),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
        );
    }
}
