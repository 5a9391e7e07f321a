//! The one gate between untrusted text (anything read from the shared directory) and a terminal
//! or an export. RON's escaping protects the file, not the screen: a parsed string holds the real
//! control characters again, so every output path calls these functions.

const TAB_WIDTH: usize = 4;

/// True for characters that must never reach a terminal: C0 (incl. ESC), DEL, C1, bidi controls
/// and VS16 (which leaves artifacts after emoji in ratatui).
pub fn is_forbidden(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{fe0f}'
    )
}

/// Split untrusted text into display lines: newlines (`\n`, `\r\n`, lone `\r`) split, tabs are
/// expanded, every other forbidden character is removed.
pub fn sanitize_lines(s: &str) -> Vec<String> {
    let normalised = s.replace("\r\n", "\n").replace('\r', "\n");
    normalised.split('\n').map(clean_line).collect()
}

/// Untrusted text as one display line: line breaks become ` ⏎ ` so one record stays one line.
pub fn sanitize(s: &str) -> String {
    let lines = sanitize_lines(s);
    let trimmed: Vec<&str> = {
        let mut v: Vec<&str> = lines.iter().map(String::as_str).collect();
        while v.last().is_some_and(|l| l.trim().is_empty()) && v.len() > 1 {
            v.pop();
        }
        v
    };
    trimmed.join(" ⏎ ")
}

/// Untrusted text keeping its line breaks (`\n`), for JSON and Markdown exports.
pub fn sanitize_multiline(s: &str) -> String {
    sanitize_lines(s).join("\n")
}

/// Sanitise every string (and key) inside a JSON value.
pub fn sanitize_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => *s = sanitize_multiline(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(sanitize_json),
        serde_json::Value::Object(m) => {
            let old = std::mem::take(m);
            for (k, mut val) in old {
                sanitize_json(&mut val);
                m.insert(sanitize(&k), val);
            }
        }
        _ => {}
    }
}

fn clean_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut col = 0usize;
    for c in line.chars() {
        if c == '\t' {
            let n = TAB_WIDTH - col % TAB_WIDTH;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else if !is_forbidden(c) {
            out.push(c);
            col += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn strips_escape_sequences_and_bidi() {
        assert_eq!(sanitize("\u{1b}[2Jrm -rf\u{7}"), "[2Jrm -rf");
        assert_eq!(sanitize("abc\u{202e}fed\u{2066}"), "abcfed");
        assert_eq!(sanitize("❤\u{fe0f} ok"), "❤ ok");
        assert_eq!(sanitize("\u{9b}31m"), "31m");
    }

    #[test]
    fn newlines_split_and_tabs_expand() {
        assert_eq!(sanitize_lines("a\tb\r\nc\rd"), vec!["a   b", "c", "d"]);
        assert_eq!(sanitize("one\ntwo\n"), "one ⏎ two");
    }

    proptest! {
        #[test]
        fn no_forbidden_char_survives(s in any::<String>()) {
            let one = sanitize(&s);
            prop_assert!(!one.chars().any(is_forbidden), "{:?}", one);
            for line in sanitize_lines(&s) {
                prop_assert!(!line.chars().any(is_forbidden));
            }
        }

        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 .,:;!?'\"()/-]{0,80}") {
            prop_assert_eq!(sanitize(&s), s.clone());
        }
    }
}
