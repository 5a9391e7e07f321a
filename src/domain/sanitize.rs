//! The one gate between untrusted text (anything read from the shared directory) and a terminal
//! or an export. RON's escaping protects the file, not the screen: a parsed string holds the real
//! control characters again, so every output path calls these functions.
//!
//! What comes out is text whose width is predictable: for every line,
//! `UnicodeWidthStr::width(line)` equals the sum of `UnicodeWidthChar::width(c)` over its chars,
//! which is also what ratatui draws cell by cell. Removed: C0 (tabs expanded, line breaks split),
//! DEL, C1, every General Category Cf (format) character — bidi controls, zero-width space and
//! joiners, word joiner and invisible operators, BOM, soft hyphen, interlinear annotation, tags,
//! the Mongolian vowel separator — and the variation selectors U+FE00–U+FE0F.
//!
//! **ZWJ (U+200D) is removed too, even inside emoji.** A ZWJ sequence (👩‍💻) is one cell pair
//! for unicode-width but two or three pairs on terminals that do not know the sequence, so a row
//! holding it has no predictable width. Without the joiner every terminal draws the parts side by
//! side (👩💻), which is what the width computation then says. For the same reason an emoji skin-tone
//! modifier after its base is dropped (👍🏽 → 👍), and any other pair that unicode-width would
//! count as a ligature is broken up (Arabic lam + alef becomes the presentation-form ligature,
//! which every terminal draws in one cell).

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

const TAB_WIDTH: usize = 4;

/// Characters counted before the one being appended when checking that it does not change the
/// width of what came before (all of unicode-width's contextual rules span fewer chars, except
/// runs of transparent marks, which the whole-line check in [`clean_line`] catches).
const WIDTH_WINDOW: usize = 16;

/// General Category Cf (format), Unicode 16, plus the unassigned rest of the tag block.
const FORMAT: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0000}', '\u{e007f}'),
];

/// True for a General Category Cf (format) character: invisible, yet able to reorder, join or
/// hide text (bidi controls, zero-width characters, tags, soft hyphen, BOM...).
pub fn is_format(c: char) -> bool {
    FORMAT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// True for the line breaks that split text into display lines: `\n`, `\r`, NEL, and the Unicode
/// line and paragraph separators (U+2028, U+2029).
pub fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// True for characters that must never reach a terminal: C0 (incl. ESC), DEL, C1, every format
/// character (bidi controls, zero-width, tags, ...) and the variation selectors (VS16 leaves
/// artifacts after emoji in ratatui; VS15 and VS1–3 change a character's width by context).
pub fn is_forbidden(c: char) -> bool {
    c.is_control() || is_format(c) || is_invisible(c)
}

/// Characters that draw nothing yet are not format characters: variation selectors (both
/// blocks), the combining grapheme joiner, Hangul fillers and Khmer inherent vowels — a
/// name made of them looks blank, or like someone else's.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{fe00}'..='\u{fe0f}'
            | '\u{e0100}'..='\u{e01ef}'
            | '\u{034f}'
            | '\u{115f}'
            | '\u{1160}'
            | '\u{3164}'
            | '\u{ffa0}'
            | '\u{17b4}'
            | '\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{2065}'
            | '\u{fff0}'..='\u{fff8}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// A name from the shared directory (a file name) as shown: every character [`sanitize`] would
/// remove is written out as `\u{..}` instead, so a name holding an escape sequence or a bidi
/// control never reads as another, genuine name once cleaned (`a\u{1b}[0m.ronl`, not `a.ronl`).
pub fn visible(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if is_forbidden(c) || is_line_break(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Split untrusted text into display lines: whole escape sequences are removed first (CSI, OSC,
/// DCS/SOS/PM/APC, two-byte escapes, and their 8-bit C1 forms — the one filter in
/// [`super::termtext`], so `ESC ]0;X BEL` leaves nothing rather than `]0;X`), then line breaks
/// (`\n`, `\r\n`, lone `\r`, NEL, U+2028, U+2029) split, tabs are expanded, every other forbidden
/// character is removed.
pub fn sanitize_lines(s: &str) -> Vec<String> {
    let unescaped;
    let s = if s.chars().any(opens_sequence) {
        unescaped = super::termtext::plain_text(s);
        unescaped.as_str()
    } else {
        s
    };
    let normalised = s.replace("\r\n", "\n");
    normalised.split(is_line_break).map(clean_line).collect()
}

/// ESC or an 8-bit C1 sequence introducer: the text needs the whole-sequence filter.
fn opens_sequence(c: char) -> bool {
    matches!(
        c,
        '\u{1b}' | '\u{90}' | '\u{98}' | '\u{9b}' | '\u{9d}' | '\u{9e}' | '\u{9f}'
    )
}

/// Untrusted text as one display line: line breaks become ` ⏎ ` so one record stays one line.
pub fn sanitize(s: &str) -> String {
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        // Printable ASCII on one line (most of what is written) is its own sanitised form: a
        // search walking a long timeline describes every record it passes.
        return s.to_string();
    }
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

/// Display width of one char as ratatui counts it (forbidden chars never get this far).
fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Sum of the chars' own widths: what a terminal draws for a line holding no ligature.
fn sum_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// One display line: forbidden chars removed, tabs expanded to the next stop, contextual widths
/// broken up so the line's width is the sum of its chars' widths.
fn clean_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut col = 0usize;
    for c in line.chars() {
        if c == '\t' {
            let n = TAB_WIDTH - col % TAB_WIDTH;
            out.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else if !is_forbidden(c) {
            col += push_plain(&mut out, c);
        }
    }
    if out.width() == sum_width(&out) {
        out
    } else {
        // A ligature the window did not see (a long run of marks between its parts): drop the
        // zero-width chars, which is where such runs hide, and repair again.
        let flat: String = out.chars().filter(|c| char_width(*c) > 0).collect();
        let mut again = String::with_capacity(flat.len());
        flat.chars().for_each(|c| {
            push_plain(&mut again, c);
        });
        if again.width() == sum_width(&again) {
            again
        } else {
            again.chars().filter(char::is_ascii).collect()
        }
    }
}

/// Append `c` unless it would change the width of what is already there (a ligature in
/// unicode-width's eyes). Returns the columns added.
fn push_plain(out: &mut String, c: char) -> usize {
    if let Some(lig) = lam_alef(out, c) {
        out.pop();
        out.push(lig);
        return char_width(lig);
    }
    // An ASCII char ends every contextual rule, exactly as the end of the text does.
    if c.is_ascii() || !changes_width(out, c) {
        out.push(c);
        return char_width(c);
    }
    // A zero-width joiner-like char before `c` (e.g. a Khmer coeng) is what makes the pair
    // contextual: drop it and keep the letter.
    if out.chars().next_back().is_some_and(|p| char_width(p) == 0) {
        out.pop();
        if !changes_width(out, c) {
            out.push(c);
            return char_width(c);
        }
    }
    0
}

/// Whether appending `c` makes the tail's width differ from the sum of the parts.
fn changes_width(out: &str, c: char) -> bool {
    let start = out.char_indices().rev().nth(WIDTH_WINDOW - 1).map_or(0, |(i, _)| i);
    let tail = &out[start..];
    let mut joined = String::with_capacity(tail.len() + 4);
    joined.push_str(tail);
    joined.push(c);
    joined.width() != tail.width() + char_width(c)
}

/// Lam followed by an alef that has a presentation-form ligature: the ligature (one cell).
fn lam_alef(out: &str, c: char) -> Option<char> {
    if !out.ends_with('\u{644}') {
        return None;
    }
    match c {
        '\u{622}' => Some('\u{fef5}'),
        '\u{623}' => Some('\u{fef7}'),
        '\u{625}' => Some('\u{fef9}'),
        '\u{627}' => Some('\u{fefb}'),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_show_what_would_be_removed() {
        assert_eq!(visible("a@h.x\u{1b}[0m.ronl"), "a@h.x\\u{1b}[0m.ronl");
        assert_eq!(visible("a@h.x\u{202e}lnor.ronl"), "a@h.x\\u{202e}lnor.ronl");
        assert_eq!(visible("plain@host.abc.ronl"), "plain@host.abc.ronl");
        assert_eq!(sanitize(&visible("x\u{1b}]0;t\u{7}")), visible("x\u{1b}]0;t\u{7}"));
    }

    #[test]
    fn strips_escape_sequences_and_bidi() {
        assert_eq!(sanitize("\u{1b}[2Jrm -rf\u{7}"), "rm -rf");
        assert_eq!(sanitize("abc\u{202e}fed\u{2066}"), "abcfed");
        assert_eq!(sanitize("❤\u{fe0f} ok"), "❤ ok");
        assert_eq!(sanitize("\u{9b}31mred"), "red");
        // Whole sequences go, not just their ESC: no `]0;X` or `[31m` remnant.
        assert_eq!(
            sanitize("a\u{1b}]0;X\u{7}b\u{1b}[31mc\u{1b}P1$r\u{1b}\\d\u{1b}_x\u{1b}\\e\u{1b}cf"),
            "abcdef"
        );
        assert_eq!(sanitize_lines("one\u{1b}[0m\ntwo"), vec!["one", "two"]);
        assert_eq!(
            sanitize_multiline("x\u{1b}]8;;http://e\u{1b}\\link\u{1b}]8;;\u{1b}\\"),
            "xlink"
        );
    }

    #[test]
    fn invisible_fillers_are_removed() {
        for c in [
            '\u{034f}',
            '\u{115f}',
            '\u{1160}',
            '\u{3164}',
            '\u{ffa0}',
            '\u{17b4}',
            '\u{17b5}',
            '\u{e0100}',
            '\u{e01ef}',
        ] {
            assert_eq!(sanitize(&format!("ma{c}ya")), "maya", "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn newlines_split_and_tabs_expand() {
        assert_eq!(sanitize_lines("a\tb\r\nc\rd"), vec!["a   b", "c", "d"]);
        assert_eq!(sanitize("one\ntwo\n"), "one ⏎ two");
        // Tab stops count cells, not chars: a wide char takes two.
        assert_eq!(sanitize_lines("日\tx"), vec!["日  x"]);
    }

    #[test]
    fn format_characters_are_removed() {
        let cases: &[(&str, &str)] = &[
            ("zero\u{200b}width", "zerowidth"),
            ("non\u{200c}joiner", "nonjoiner"),
            ("word\u{2060}joiner\u{2064}", "wordjoiner"),
            ("\u{feff}bom", "bom"),
            ("soft\u{ad}hyphen", "softhyphen"),
            ("note\u{fff9}ruby\u{fffa}annot\u{fffb}", "noterubyannot"),
            ("mongolian\u{180e}sep", "mongoliansep"),
            ("tag\u{e0001}\u{e0041}\u{e007f}s", "tags"),
            ("arabic\u{600}sign", "arabicsign"),
            ("text\u{fe0e}vs15", "textvs15"),
        ];
        for (input, want) in cases {
            assert_eq!(&sanitize(input), want, "{input:?}");
        }
    }

    #[test]
    fn unicode_separators_break_lines() {
        assert_eq!(sanitize_lines("a\u{2028}b\u{2029}c\u{85}d"), vec!["a", "b", "c", "d"]);
        assert_eq!(sanitize("a\u{2028}b"), "a ⏎ b");
    }

    #[test]
    fn emoji_sequences_fall_apart_predictably() {
        // ZWJ sequence: the parts side by side.
        assert_eq!(sanitize("👩\u{200d}💻"), "👩💻");
        // Skin tone after its base is dropped.
        assert_eq!(sanitize("👍\u{1f3fd}"), "👍");
        // A flag made of tags keeps only its base.
        assert_eq!(
            sanitize("🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}"),
            "🏴"
        );
        // Regional-indicator flags are already predictable (two cells).
        assert_eq!(sanitize("🇩🇪"), "🇩🇪");
    }

    #[test]
    fn ligatures_take_their_drawn_width() {
        // Lam + alef: the presentation-form ligature, one cell as unicode-width says.
        assert_eq!(sanitize("\u{644}\u{627}"), "\u{fefb}");
        // Khmer consonant + coeng + consonant: the coeng goes, both letters stay.
        assert_eq!(sanitize("\u{1780}\u{17d2}\u{1780}"), "\u{1780}\u{1780}");
        for s in ["\u{644}\u{627}", "\u{1780}\u{17d2}\u{1780}", "👍\u{1f3fd}"] {
            let out = sanitize(s);
            assert_eq!(out.width(), sum_width(&out), "{s:?}");
        }
    }

    /// Characters that take part in unicode-width's contextual rules, to mix with plain text.
    fn tricky() -> impl Strategy<Value = String> {
        let alphabet: Vec<char> = vec![
            'a',
            ' ',
            '\t',
            '\n',
            '\r',
            '\u{1b}',
            '\u{644}',
            '\u{627}',
            '\u{671}',
            '\u{64e}',
            '\u{300}',
            '\u{200d}',
            '\u{200c}',
            '\u{2028}',
            '\u{fe0e}',
            '\u{fe0f}',
            '\u{fe01}',
            '👍',
            '👩',
            '💻',
            '\u{1f3fd}',
            '\u{1f1e9}',
            '\u{1f1ea}',
            '\u{1780}',
            '\u{17d2}',
            '\u{2d31}',
            '\u{2d7f}',
            '\u{a4d0}',
            '\u{a4f8}',
            '\u{5d0}',
            '\u{5dc}',
            '\u{1a17}',
            '\u{1a10}',
            '\u{1a15}',
            '\u{20e3}',
            '1',
            '\u{e0067}',
            '\u{e007f}',
            '🏴',
            '\u{16d63}',
            '\u{16d67}',
            '\u{16d68}',
            '日',
            '\u{ad}',
        ];
        proptest::collection::vec(proptest::sample::select(alphabet), 0..40).prop_map(|v| v.into_iter().collect())
    }

    /// One whole escape sequence of any kind a terminal acts on.
    fn sequence() -> impl Strategy<Value = String> {
        let body = "[ -~&&[^\\u{1b}\\\\]]{0,10}";
        prop_oneof![
            ("[0-9;?]{0,8}", "[@-~]").prop_map(|(p, f)| format!("\u{1b}[{p}{f}")),
            ("[0-9;?]{0,8}", "[@-~]").prop_map(|(p, f)| format!("\u{9b}{p}{f}")),
            (body, prop_oneof![Just("\u{7}"), Just("\u{1b}\\"), Just("\u{9c}")])
                .prop_map(|(b, t)| format!("\u{1b}]{b}{t}")),
            (prop_oneof![Just('P'), Just('X'), Just('^'), Just('_')], body)
                .prop_map(|(k, b)| format!("\u{1b}{k}{b}\u{1b}\\")),
            (
                prop_oneof![
                    Just('\u{90}'),
                    Just('\u{98}'),
                    Just('\u{9d}'),
                    Just('\u{9e}'),
                    Just('\u{9f}')
                ],
                body
            )
                .prop_map(|(k, b)| format!("{k}{b}\u{9c}")),
            "[0-9=>c78DEHMNZ]".prop_map(|f| format!("\u{1b}{f}")),
            "[()*+#%][0-9A-Z]".prop_map(|f| format!("\u{1b}{f}")),
        ]
    }

    fn assert_clean(s: &str) -> Result<(), TestCaseError> {
        prop_assert!(!s.chars().any(is_forbidden), "{:?}", s);
        prop_assert!(!s.chars().any(char::is_control), "{:?}", s);
        prop_assert!(!s.chars().any(is_format), "{:?}", s);
        prop_assert!(!s.chars().any(is_line_break), "{:?}", s);
        prop_assert_eq!(s.width(), sum_width(s), "{:?}", s);
        Ok(())
    }

    proptest! {
        #[test]
        fn no_forbidden_char_survives(s in any::<String>()) {
            assert_clean(&sanitize(&s))?;
            for line in sanitize_lines(&s) {
                assert_clean(&line)?;
            }
        }

        #[test]
        fn width_is_the_sum_of_char_widths(s in tricky()) {
            assert_clean(&sanitize(&s))?;
            for line in sanitize_lines(&s) {
                assert_clean(&line)?;
            }
        }

        /// The fast path for printable ASCII gives what the whole filter gives.
        #[test]
        fn printable_ascii_is_its_own_sanitised_form(s in "[ -~]{0,80}") {
            let whole = sanitize_lines(&s).join(" ⏎ ");
            prop_assert_eq!(sanitize(&s), whole);
        }

        #[test]
        fn sanitize_is_idempotent(s in any::<String>()) {
            let once = sanitize(&s);
            prop_assert_eq!(sanitize(&once), once.clone());
            let multi = sanitize_multiline(&s);
            prop_assert_eq!(sanitize_multiline(&multi), multi.clone());
        }

        #[test]
        fn embedded_sequences_are_lost_exactly(parts in proptest::collection::vec(
            (r#"[a-zA-Z0-9 .,:;!?'"()/\\\[\]-]{0,12}"#, sequence()), 0..8)) {
            let plain: String = parts.iter().map(|(t, _)| t.as_str()).collect();
            let mixed: String = parts.iter().map(|(t, q)| format!("{t}{q}")).collect();
            prop_assert_eq!(sanitize(&mixed), sanitize(&plain));
        }

        #[test]
        fn plain_text_is_unchanged(s in "[a-zA-Z0-9 .,:;!?'\"()/-]{0,80}") {
            prop_assert_eq!(sanitize(&s), s.clone());
        }
    }
}
