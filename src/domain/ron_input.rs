//! Reading RON that people write (playbooks, scenarios, config, keymap) with errors that point
//! at the mistake: an unknown field is reported at its own `line:col` with the field it was
//! probably meant to be, and a required field that is "missing" because it was misspelled is
//! reported at the misspelling, not at the end of the file.
//!
//! The types keep `#[serde(deny_unknown_fields)]`, so ron stops at an unknown field with its exact
//! span and the list of fields it expected. [`parse_ron`] records it, blanks the entry out (with
//! spaces, so every other position stays put) and parses again, until the text parses or fails
//! for another reason. A lenient reader gets the value and the unknown fields as problems; a
//! strict one refuses them all.

use ron::error::{Error, SpannedError};
use serde::de::DeserializeOwned;

use super::input::normalise_text;

/// Unknown fields collected before giving up (a file that is mostly misspelled says enough).
const MAX_UNKNOWN: usize = 64;

/// One error or warning about a file's text, located for `file:line:col: message`
/// (1-based line, 1-based column in chars).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// An unknown field found on the way, before it became a message.
struct Unknown {
    line: usize,
    col: usize,
    found: String,
    expected: &'static [&'static str],
}

impl Unknown {
    fn suggestion(&self) -> Option<&'static str> {
        did_you_mean(&self.found, self.expected)
    }

    /// `unknown field `phaseszz` — did you mean `phases`?`, plus `(`phases` is required)` when
    /// the parse also missed that field.
    fn diagnostic(&self, required: bool) -> Diagnostic {
        let message = match self.suggestion() {
            Some(s) if required => {
                format!(
                    "unknown field `{}` — did you mean `{s}`? (`{s}` is required)",
                    self.found
                )
            }
            Some(s) => format!("unknown field `{}` — did you mean `{s}`?", self.found),
            None => format!(
                "unknown field `{}`; expected one of {}",
                self.found,
                quoted(self.expected)
            ),
        };
        Diagnostic {
            line: self.line,
            col: self.col,
            message,
        }
    }
}

/// Parse `text` (BOM and CRLF allowed) as a `T`. Returns the outcome and every unknown field
/// (skipped so the rest could be read); an unknown field that stands for a missing required one
/// is the outcome's error instead.
pub fn parse_ron<T: DeserializeOwned>(text: &str) -> (Result<T, Diagnostic>, Vec<Diagnostic>) {
    let mut work = normalise_text(text).into_owned();
    let mut unknown: Vec<Unknown> = Vec::new();
    let outcome = loop {
        // People write `ascii: true`, not `ascii: Some(true)`: both are accepted.
        let options = ron::Options::default().with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let err = match options.from_str::<T>(&work) {
            Ok(v) => break Ok(v),
            Err(e) => e,
        };
        let Error::NoSuchStructField { expected, found, .. } = &err.code else {
            break Err(err);
        };
        let range = entry_range(&work, err.span.start.line, err.span.start.col);
        match range {
            Some(range) if unknown.len() < MAX_UNKNOWN => {
                unknown.push(Unknown {
                    line: err.span.start.line,
                    col: err.span.start.col,
                    found: found.clone(),
                    expected,
                });
                work = blank(&work, range);
            }
            _ => break Err(err),
        }
    };
    match outcome {
        Ok(v) => (Ok(v), unknown.iter().map(|u| u.diagnostic(false)).collect()),
        Err(e) => {
            // A required field "missing" because it was misspelled: say so where it was written.
            let stands_in = match &e.code {
                Error::MissingStructField { field, .. } => unknown.iter().position(|u| u.suggestion() == Some(*field)),
                _ => None,
            };
            let error = match stands_in {
                Some(i) => unknown.remove(i).diagnostic(true),
                None => describe(&e),
            };
            (Err(error), unknown.iter().map(|u| u.diagnostic(false)).collect())
        }
    }
}

/// Strict: any unknown field is an error, reported beside whatever else failed.
pub fn parse_ron_strict<T: DeserializeOwned>(text: &str) -> Result<T, Vec<Diagnostic>> {
    match parse_ron(text) {
        (Ok(v), unknown) if unknown.is_empty() => Ok(v),
        (Ok(_), unknown) => Err(unknown),
        (Err(e), mut unknown) => {
            unknown.push(e);
            unknown.sort_by_key(|d| (d.line, d.col));
            Err(unknown)
        }
    }
}

/// The closest of `candidates` to a misspelled `found`, if one is close enough to be meant.
pub fn did_you_mean(found: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let f = found.to_lowercase();
    let flen = f.chars().count();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&f, &c.to_lowercase()), *c))
        .filter(|(d, c)| {
            // At most a third of the letters changed, or a clear abbreviation (`desc`).
            d * 3 <= flen.max(c.chars().count()) || (flen >= 4 && c.to_lowercase().starts_with(&f))
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ron's error in the words of this project, with a suggestion for a misspelled variant.
fn describe(e: &SpannedError) -> Diagnostic {
    let message = match &e.code {
        Error::NoSuchEnumVariant { expected, found, .. } => match did_you_mean(found, expected) {
            Some(s) => format!("unknown variant `{found}` — did you mean `{s}`?"),
            None => format!("unknown variant `{found}`; expected one of {}", quoted(expected)),
        },
        Error::MissingStructField { field, outer } => match outer {
            Some(o) if !o.is_empty() => format!("missing required field `{field}` in `{o}`"),
            _ => format!("missing required field `{field}`"),
        },
        other => other.to_string(),
    };
    Diagnostic {
        line: e.span.start.line,
        col: e.span.start.col,
        message,
    }
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Byte offset of a 1-based `line:col` (col in chars), if it is inside `text`.
fn offset_of(text: &str, line: usize, col: usize) -> Option<usize> {
    let start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    let rest = &text[start..];
    match rest.char_indices().nth(col.saturating_sub(1)) {
        Some((i, _)) => Some(start + i),
        None => (rest.chars().count() + 1 == col).then_some(text.len()),
    }
}

/// The bytes of the entry `name: value,` whose name starts at `line:col`.
fn entry_range(text: &str, line: usize, col: usize) -> Option<std::ops::Range<usize>> {
    let start = offset_of(text, line, col)?;
    let b = text.as_bytes();
    let mut i = start;
    if b[i..].starts_with(b"r#") {
        i += 2;
    }
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80) {
        i += 1;
    }
    i = skip_trivia(b, i);
    if b.get(i) != Some(&b':') {
        return None;
    }
    i = skip_value(b, i + 1)?;
    if b.get(i) == Some(&b',') {
        i += 1;
    }
    // Only ever cut whole characters (a byte scan over text with multibyte characters).
    (text.is_char_boundary(start) && text.is_char_boundary(i)).then_some(start..i)
}

/// `text` with the chars in `range` turned into spaces (newlines kept), so every other
/// `line:col` is unchanged.
fn blank(text: &str, range: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..range.start]);
    out.extend(text[range.clone()].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
    out.push_str(&text[range.end..]);
    out
}

/// Past whitespace and comments (`//` to the end of the line, nested `/* */`).
fn skip_trivia(b: &[u8], mut i: usize) -> usize {
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if b[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else {
            return i;
        }
    }
}

/// Past one RON value starting at `i`: up to the `,` or closing bracket that ends it.
fn skip_value(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    loop {
        i = skip_trivia(b, i);
        let Some(&c) = b.get(i) else {
            return (depth == 0).then_some(i);
        };
        match c {
            b'"' => i = skip_string(b, i + 1)?,
            b'\'' => i = skip_char(b, i + 1)?,
            b'r' | b'b' if starts_raw_string(b, i) => i = skip_raw_string(b, i)?,
            b'(' | b'[' | b'{' => {
                depth += 1;
                i += 1;
            }
            b')' | b']' | b'}' if depth == 0 => return Some(i),
            b')' | b']' | b'}' => {
                depth -= 1;
                i += 1;
            }
            b',' if depth == 0 => return Some(i),
            _ => i += 1,
        }
    }
}

/// Past a `"..."` string whose opening quote is just before `i`.
fn skip_string(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Past a `'x'` char literal whose opening quote is just before `i`.
fn skip_char(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'\\') {
        i += 2;
    }
    while i < b.len() && b[i] != b'\'' {
        i += 1;
    }
    (i < b.len()).then_some(i + 1)
}

/// `r"`, `r#"`, `br"`... at `i`, not in the middle of an identifier.
fn starts_raw_string(b: &[u8], i: usize) -> bool {
    if i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_') {
        return false;
    }
    let mut j = i + usize::from(b[i] == b'b');
    if b.get(j) != Some(&b'r') {
        return false;
    }
    j += 1;
    while b.get(j) == Some(&b'#') {
        j += 1;
    }
    b.get(j) == Some(&b'"')
}

/// Past a raw string `r#"..."#` starting at `i`.
fn skip_raw_string(b: &[u8], mut i: usize) -> Option<usize> {
    while b[i] != b'#' && b[i] != b'"' {
        i += 1;
    }
    let hashes = b[i..].iter().take_while(|c| **c == b'#').count();
    i += hashes + 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = b[i..].windows(close.len()).position(|w| w == close.as_slice())?;
    Some(i + end + close.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Top {
        id: String,
        phases: Vec<Inner>,
        #[serde(default)]
        note: Option<String>,
        kind: Kind,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        text: String,
        #[serde(default)]
        required: bool,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Kind {
        Alpha,
        TwoPerson,
    }

    fn strict(text: &str) -> Result<Top, Vec<String>> {
        parse_ron_strict::<Top>(text).map_err(|ds| {
            ds.iter()
                .map(|d| format!("{}:{}: {}", d.line, d.col, d.message))
                .collect()
        })
    }

    #[test]
    fn misspelled_required_field_is_reported_where_it_was_written() {
        let text = "(\n  id: \"a\",\n  phaseszz: [(text: \"x\")],\n  kind: Alpha,\n)\n";
        assert_eq!(
            strict(text),
            Err(vec![
                "3:3: unknown field `phaseszz` — did you mean `phases`? (`phases` is required)".to_string()
            ])
        );
    }

    #[test]
    fn every_unknown_field_is_reported_at_its_own_line() {
        let text = "(\n  id: \"a\",\n  phases: [\n    (text: \"x\", reqired: true),\n    (txet: \"y\", text: \"z\"),\n  ],\n  bogus: Some(\"a, b)\"), // c\n  kind: Alpha,\n)\n";
        assert_eq!(
            strict(text),
            Err(vec![
                "4:17: unknown field `reqired` — did you mean `required`?".to_string(),
                "5:6: unknown field `txet` — did you mean `text`?".to_string(),
                "7:3: unknown field `bogus`; expected one of `id`, `phases`, `note`, `kind`".to_string(),
            ])
        );
        // Lenient: the value, with the unknown fields as problems.
        let (value, unknown) = parse_ron::<Top>(text);
        assert_eq!(value.map(|t| t.phases.len()), Ok(2));
        assert_eq!(unknown.len(), 3);
    }

    #[test]
    fn misspelled_variant_gets_a_suggestion() {
        let text = "(id: \"a\", phases: [], kind: TwoPersons)";
        assert_eq!(
            strict(text),
            Err(vec![
                "1:29: unknown variant `TwoPersons` — did you mean `TwoPerson`?".to_string()
            ])
        );
    }

    #[test]
    fn missing_field_without_a_near_miss_stays_missing() {
        let text = "(\n  id: \"a\",\n  kind: Alpha,\n)\n";
        assert_eq!(
            strict(text),
            Err(vec!["4:1: missing required field `phases` in `Top`".to_string()])
        );
    }

    #[test]
    fn bom_and_crlf_are_read_and_positions_hold() {
        let text = "\u{feff}(\r\n  id: \"a\",\r\n  phases: [],\r\n  kind: Alpha,\r\n)\r\n";
        assert!(strict(text).is_ok());
        let text = "\u{feff}(\r\n  id: \"a\",\r\n  phases: [],\r\n  knd: Alpha,\r\n)\r\n";
        assert_eq!(
            strict(text),
            Err(vec![
                "4:3: unknown field `knd` — did you mean `kind`? (`kind` is required)".to_string()
            ])
        );
    }

    #[test]
    fn suggestions() {
        let fields = &["id", "title", "description", "phases", "lessons_learned"];
        let cases: &[(&str, Option<&str>)] = &[
            ("titel", Some("title")),
            ("Phases", Some("phases")),
            ("desc", Some("description")),
            ("lessons-learned", Some("lessons_learned")),
            ("x", None),
            ("severity", None),
        ];
        for (found, want) in cases {
            assert_eq!(did_you_mean(found, fields), *want, "{found}");
        }
    }
}
