//! Text files as real tools write them: editors on Windows add a UTF-8 byte-order mark and CRLF
//! line endings, spreadsheet and chat exports too. Every file warroom reads (playbooks,
//! scenarios, config, keymap, import lines) goes through [`normalise_text`] first.

use std::borrow::Cow;

/// The UTF-8 byte-order mark as it arrives at the start of a decoded file.
pub const BOM: char = '\u{feff}';

/// `text` without a leading byte-order mark and with CRLF line endings as LF.
///
/// Line and column numbers stay right for messages: a BOM is invisible in editors, so columns
/// are counted without it, and each CRLF is one line break before and after. A lone `\r` is
/// left alone (no parser here takes it for a line break either).
pub fn normalise_text(text: &str) -> Cow<'_, str> {
    let body = text.strip_prefix(BOM).unwrap_or(text);
    if body.contains("\r\n") {
        Cow::Owned(body.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_bom_and_crlf_only() {
        let cases: &[(&str, &str)] = &[
            ("\u{feff}(a: 1)\r\n", "(a: 1)\n"),
            ("(a: 1)\r\n(b: 2)", "(a: 1)\n(b: 2)"),
            ("plain\n", "plain\n"),
            // Only a leading BOM is a mark; elsewhere it is text (and sanitize's business).
            ("a\u{feff}b", "a\u{feff}b"),
            ("lone\rcr", "lone\rcr"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise_text(input), *want, "{input:?}");
        }
        assert!(matches!(normalise_text("plain"), Cow::Borrowed(_)));
    }
}
