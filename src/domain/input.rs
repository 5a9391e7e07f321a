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

/// Characters a human-written RON file must not carry, raw or escaped, wherever they are (a
/// title, an item, a command, a template or a comment): controls other than `\n` and `\t`,
/// format characters (bidi, zero-width, tags...), variation selectors and the line and
/// paragraph separators. Each is reported at its `line:col` (1-based, col in chars) with what
/// it is; an escape (`"\u{1b}"`) is reported where the backslash is.
pub fn unsafe_chars(text: &str) -> Vec<super::ron_input::Diagnostic> {
    let mut out = Vec::new();
    let mut scan = Scan::new(text);
    while let Some((line, col, c)) = scan.next() {
        if c == '"' && !scan.in_comment() {
            read_string(&mut scan, &mut out);
        } else if let Some(what) = what_is_unsafe(c) {
            out.push(diagnostic(line, col, what, c, None));
        } else if c == '/' {
            scan.maybe_comment();
        }
    }
    out
}

/// The body of a `"..."` string whose opening quote was just read, decoding escapes.
fn read_string(scan: &mut Scan, out: &mut Vec<super::ron_input::Diagnostic>) {
    while let Some((line, col, c)) = scan.next() {
        match c {
            '"' => return,
            '\\' => {
                let Some((escape, decoded)) = scan.escape() else {
                    continue;
                };
                if let Some(what) = decoded.and_then(what_is_unsafe) {
                    out.push(diagnostic(line, col, what, decoded.unwrap_or(' '), Some(&escape)));
                }
            }
            _ => {
                if let Some(what) = what_is_unsafe(c) {
                    out.push(diagnostic(line, col, what, c, None));
                }
            }
        }
    }
}

/// `control character U+001B` and friends, or `None` for a harmless char.
fn what_is_unsafe(c: char) -> Option<&'static str> {
    use super::sanitize::{is_format, is_line_break};
    match c {
        '\n' | '\t' => None,
        c if is_line_break(c) => Some("line break"),
        c if c.is_control() => Some("control character"),
        c if is_format(c) => Some("invisible format character"),
        '\u{fe00}'..='\u{fe0f}' => Some("variation selector"),
        _ => None,
    }
}

fn diagnostic(line: usize, col: usize, what: &str, c: char, escape: Option<&str>) -> super::ron_input::Diagnostic {
    let name = char_name(c).map(|n| format!(" ({n})")).unwrap_or_default();
    let via = escape.map(|e| format!(", written as `{e}`,")).unwrap_or_default();
    super::ron_input::Diagnostic {
        line,
        col,
        message: format!(
            "{what} U+{:04X}{name}{via} is not allowed in playbook text: it can hide or rewrite what a console shows",
            c as u32
        ),
    }
}

/// Names for the characters people actually meet.
fn char_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{0}' => "NUL",
        '\u{7}' => "BEL",
        '\u{8}' => "backspace",
        '\u{c}' => "form feed",
        '\r' => "carriage return",
        '\u{1b}' => "ESC, starts terminal escape sequences",
        '\u{7f}' => "DEL",
        '\u{85}' => "next line",
        '\u{9b}' => "CSI, starts terminal escape sequences",
        '\u{ad}' => "soft hyphen",
        '\u{180e}' => "Mongolian vowel separator",
        '\u{200b}' => "zero-width space",
        '\u{200c}' => "zero-width non-joiner",
        '\u{200d}' => "zero-width joiner",
        '\u{200e}' | '\u{200f}' | '\u{61c}' => "bidi mark",
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => "bidi control",
        '\u{2028}' => "line separator",
        '\u{2029}' => "paragraph separator",
        '\u{2060}' => "word joiner",
        '\u{feff}' => "zero-width no-break space / BOM",
        '\u{fff9}'..='\u{fffb}' => "interlinear annotation",
        '\u{e0000}'..='\u{e007f}' => "tag character",
        _ => return None,
    })
}

/// Chars of a RON text with their 1-based `line:col`, knowing when it is inside a comment.
struct Scan<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    col: usize,
    /// `Some(depth)` inside a block comment; `Some(0)` inside a line comment.
    comment: Option<usize>,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Scan<'a> {
        Scan {
            chars: text.chars().peekable(),
            line: 1,
            col: 0,
            comment: None,
        }
    }

    fn next(&mut self) -> Option<(usize, usize, char)> {
        let c = self.chars.next()?;
        self.col += 1;
        let at = (self.line, self.col, c);
        match (c, self.comment) {
            ('\n', Some(0)) => self.comment = None,
            ('*', Some(d)) if d > 0 && self.chars.peek() == Some(&'/') => {
                self.chars.next();
                self.col += 1;
                self.comment = (d > 1).then(|| d - 1);
            }
            ('/', Some(d)) if d > 0 && self.chars.peek() == Some(&'*') => {
                self.chars.next();
                self.col += 1;
                self.comment = Some(d + 1);
            }
            _ => {}
        }
        if c == '\n' {
            self.line += 1;
            self.col = 0;
        }
        Some(at)
    }

    fn in_comment(&self) -> bool {
        self.comment.is_some()
    }

    /// After a `/` outside a string: enter a comment if one starts here.
    fn maybe_comment(&mut self) {
        if self.comment.is_some() {
            return;
        }
        match self.chars.peek() {
            Some('/') => self.comment = Some(0),
            Some('*') => {
                self.chars.next();
                self.col += 1;
                self.comment = Some(1);
            }
            _ => {}
        }
    }

    /// The escape after a backslash in a string: its text and the char it stands for.
    fn escape(&mut self) -> Option<(String, Option<char>)> {
        let (_, _, e) = self.next()?;
        let simple = |c: char| Some((format!("\\{e}"), Some(c)));
        match e {
            'n' => simple('\n'),
            't' => simple('\t'),
            'r' => simple('\r'),
            '0' => simple('\0'),
            'b' => simple('\u{8}'),
            'f' => simple('\u{c}'),
            'x' => {
                let hex: String = (0..2).filter_map(|_| self.next().map(|(_, _, c)| c)).collect();
                let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                Some((format!("\\x{hex}"), c))
            }
            'u' => {
                let mut body = String::new();
                while let Some((_, _, c)) = self.next() {
                    body.push(c);
                    if c == '}' || body.len() > 10 {
                        break;
                    }
                }
                let hex = body.trim_start_matches('{').trim_end_matches('}');
                let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                Some((format!("\\u{body}"), c))
            }
            other => Some((format!("\\{other}"), Some(other))),
        }
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

    #[test]
    fn unsafe_chars_are_found_raw_and_escaped() {
        let at = |text: &str| -> Vec<String> {
            unsafe_chars(text)
                .iter()
                .map(|d| {
                    format!(
                        "{}:{}: {}",
                        d.line,
                        d.col,
                        d.message.split(" is not").next().unwrap_or("")
                    )
                })
                .collect()
        };
        let cases: &[(&str, &[&str])] = &[
            ("(title: \"fine\\n\\tline\",\n\ttext: \"ok\")", &[]),
            (
                "(title: \"a\u{1b}[2J\")",
                &["1:11: control character U+001B (ESC, starts terminal escape sequences)"],
            ),
            (
                "(\n  text: \"x\\u{1b}y\\x07\",\n)",
                &[
                    "2:11: control character U+001B (ESC, starts terminal escape sequences), written as `\\u{1b}`,",
                    "2:18: control character U+0007 (BEL), written as `\\x07`,",
                ],
            ),
            (
                "(t: \"zero\u{200b}width\")",
                &["1:10: invisible format character U+200B (zero-width space)"],
            ),
            (
                "(t: \"a\u{2028}b\\r\")",
                &[
                    "1:7: line break U+2028 (line separator)",
                    "1:9: line break U+000D (carriage return), written as `\\r`,",
                ],
            ),
            (
                "// a comment \u{202e}\n(t: \"\\u{1b} in \\\"quotes\\\"\")",
                &[
                    "1:14: invisible format character U+202E (bidi control)",
                    "2:6: control character U+001B (ESC, starts terminal escape sequences), written as `\\u{1b}`,",
                ],
            ),
            (
                "/* \"unterminated in a comment */ (t: \"\u{ad}\")",
                &["1:39: invisible format character U+00AD (soft hyphen)"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(at(text), *want, "{text:?}");
        }
    }
}
