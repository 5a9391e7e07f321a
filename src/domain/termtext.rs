//! What a command wrote to its terminal, made safe to show. A recording holds raw terminal output
//! (escape sequences included); it came from the shared directory, so it is untrusted like any
//! other record. [`TermFilter`] turns it into text:
//!
//! - every escape sequence is removed: CSI (`ESC [ … final`), OSC (`ESC ] … BEL|ST`: titles,
//!   clipboard writes, hyperlinks), DCS/SOS/PM/APC (`ESC P|X|^|_ … ST`) and two-byte escapes,
//!   and the same sequences opened by their 8-bit C1 introducers (U+009B CSI, U+009D OSC,
//!   U+0090 DCS, U+0098 SOS, U+009E PM, U+009F APC; U+009C is ST);
//!   with `keep_sgr` (for `warroom replay`), of a CSI that only sets colours and attributes
//!   (`ESC [ 0-9 ; m`) the safe parts are kept — reset, bold, underline, foreground colours —
//!   and nothing that can hide text (conceal, reverse, dim, backgrounds: black on black);
//! - a string sequence (OSC, DCS, …) left open ends at the next newline (as well as at BEL or
//!   ST), so one stray `ESC ]` never hides the rest of the output;
//! - `\r\n` becomes `\n`, and a lone `\r` starts a new line (a progress bar's redraws show one
//!   below another: output is never overwritten, so nothing can be hidden);
//! - tabs and newlines stay; every other control character (C0, DEL, C1: 8-bit CSI among them),
//!   bidi and other invisible format characters are dropped (as [`super::sanitize`] drops them).
//!
//! The filter keeps its state between [`TermFilter::feed`] calls, so output cut into chunks
//! anywhere (mid-sequence) is filtered the same as in one piece.

use super::sanitize::is_forbidden;

/// Longest escape sequence buffered; a longer one is dropped whole.
const MAX_SEQ: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Text,
    /// After ESC.
    Esc,
    /// After `ESC (` and the like: one more character (a character set) ends it.
    EscOne,
    /// Inside `ESC [`.
    Csi,
    /// Inside a string sequence (OSC, DCS, SOS, PM, APC), until BEL (OSC) or ST.
    Str,
    /// After ESC inside a string sequence (`ESC \` ends it).
    StrEsc,
}

#[derive(Debug, Clone)]
pub struct TermFilter {
    keep_sgr: bool,
    state: State,
    seq: String,
    pending_cr: bool,
}

impl TermFilter {
    /// Plain text: every escape sequence removed.
    pub fn plain() -> TermFilter {
        TermFilter::new(false)
    }

    /// Text with colours: SGR sequences (`ESC [ … m`, digits and `;` only) kept.
    pub fn with_colours() -> TermFilter {
        TermFilter::new(true)
    }

    fn new(keep_sgr: bool) -> TermFilter {
        TermFilter {
            keep_sgr,
            state: State::Text,
            seq: String::new(),
            pending_cr: false,
        }
    }

    /// Filter the next chunk of output.
    pub fn feed(&mut self, input: &str) -> String {
        let mut out = String::with_capacity(input.len());
        for c in input.chars() {
            self.push(c, &mut out);
        }
        out
    }

    /// End of output: a `\r` still pending becomes the end of a line.
    pub fn finish(&mut self) -> String {
        let mut out = String::new();
        if std::mem::take(&mut self.pending_cr) {
            out.push('\n');
        }
        self.state = State::Text;
        self.seq.clear();
        out
    }

    fn push(&mut self, c: char, out: &mut String) {
        match self.state {
            State::Text => self.text(c, out),
            State::Esc => {
                // A line break after a lone ESC still breaks the line (ECMA-48: C0 controls
                // inside a sequence act as usual).
                if matches!(c, '\n' | '\r' | '\t') {
                    self.state = State::Text;
                    return self.text(c, out);
                }
                self.state = match c {
                    '[' => {
                        self.seq.clear();
                        State::Csi
                    }
                    ']' | 'P' | 'X' | '^' | '_' => State::Str,
                    '(' | ')' | '*' | '+' | '-' | '.' | '/' | '#' | '%' | ' ' => State::EscOne,
                    '\u{1b}' => State::Esc,
                    _ => State::Text,
                }
            }
            State::EscOne => self.state = State::Text,
            State::Csi => {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    if self.keep_sgr && c == 'm' && self.seq.chars().all(|d| d.is_ascii_digit() || d == ';') {
                        if let Some(safe) = safe_sgr(&self.seq) {
                            out.push_str("\u{1b}[");
                            out.push_str(&safe);
                            out.push('m');
                        }
                    }
                    self.seq.clear();
                    self.state = State::Text;
                } else if c == '\u{1b}' {
                    self.seq.clear();
                    self.state = State::Esc;
                } else if ('\u{20}'..='\u{3f}').contains(&c) {
                    if self.seq.len() < MAX_SEQ {
                        self.seq.push(c);
                    } else {
                        // Far too long to be colours: dropped whole when it ends.
                        self.seq.replace_range(..1, "?");
                    }
                } else {
                    // Not a CSI byte: the sequence is abandoned, the character shown as text.
                    self.seq.clear();
                    self.state = State::Text;
                    self.text(c, out);
                }
            }
            State::Str => match c {
                '\u{7}' | '\u{9c}' => self.state = State::Text,
                '\u{1b}' => self.state = State::StrEsc,
                // Left open: it ends at the line's end, and the line break shows.
                '\n' | '\r' => {
                    self.state = State::Text;
                    self.text(c, out);
                }
                _ => {}
            },
            State::StrEsc => match c {
                '\\' => self.state = State::Text,
                '\u{1b}' => self.state = State::StrEsc,
                '\n' | '\r' => {
                    self.state = State::Text;
                    self.text(c, out);
                }
                _ => self.state = State::Str,
            },
        }
    }

    fn text(&mut self, c: char, out: &mut String) {
        if std::mem::take(&mut self.pending_cr) && c != '\n' {
            out.push('\n');
        }
        match c {
            '\u{1b}' => self.state = State::Esc,
            '\u{9b}' => {
                self.seq.clear();
                self.state = State::Csi;
            }
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => self.state = State::Str,
            '\r' => self.pending_cr = true,
            '\n' | '\t' => out.push(c),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
}

/// The safe parts of an SGR's parameters (`1;8;31;40`): reset, bold, underline (and their
/// ends), foreground colours (the 8 and the bright 8, and default); `None` when nothing is left.
/// Conceal, reverse, dim, blink, backgrounds and extended colours are dropped.
fn safe_sgr(params: &str) -> Option<String> {
    if params.is_empty() {
        return Some(String::new());
    }
    let codes: Vec<&str> = params.split(';').collect();
    let mut kept: Vec<String> = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let n: u32 = codes[i].parse().unwrap_or(0);
        match n {
            0 | 1 | 4 | 22 | 24 | 30..=37 | 39 | 90..=97 => kept.push(n.to_string()),
            // Extended colours: their arguments are skipped with them.
            38 | 48 | 58 => {
                i += match codes.get(i + 1).copied() {
                    Some("5") => 2,
                    Some("2") => 4,
                    _ => 0,
                };
            }
            _ => {}
        }
        i += 1;
    }
    (!kept.is_empty()).then(|| kept.join(";"))
}

/// A whole output as plain text (every escape sequence removed).
pub fn plain_text(output: &str) -> String {
    let mut f = TermFilter::plain();
    let mut text = f.feed(output);
    text.push_str(&f.finish());
    text
}

/// The last `max` bytes of `text` (cut at a character boundary, preferably at a line start),
/// marked with `…` when something was cut.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let rest = &text[start..];
    let rest = match rest.find('\n') {
        Some(i) if i + 1 < rest.len() && i < max / 4 => &rest[i + 1..],
        _ => rest,
    };
    format!("…\n{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_removed_and_colours_kept_only_on_request() {
        let raw = "a\u{1b}]52;c;ZXZpbA==\u{7}b\u{1b}[2J\u{1b}[31mred\u{1b}[0m\u{1b}]0;title\u{1b}\\c\u{1b}P1$r\u{1b}\\d\u{9b}2Je";
        assert_eq!(plain_text(raw), "abredcde");
        let mut f = TermFilter::with_colours();
        assert_eq!(f.feed(raw), "ab\u{1b}[31mred\u{1b}[0mcde");
        // 8-bit introducers open the same sequences; U+009C ends a string.
        assert_eq!(
            plain_text("a\u{9d}0;t\u{7}b\u{90}q\u{9c}c\u{9f}x\u{1b}\\d\u{9b}1;2He"),
            "abcde"
        );
        // A lone ESC before a line break keeps the break.
        assert_eq!(plain_text("a\u{1b}\nb"), "a\nb");
    }

    #[test]
    fn carriage_returns_never_overwrite() {
        assert_eq!(plain_text("10%\r50%\r100%\r\ndone\r"), "10%\n50%\n100%\ndone\n");
        assert_eq!(plain_text("x\u{8}y\u{202e}z"), "xyz");
    }

    #[test]
    fn chunks_split_anywhere_filter_the_same() {
        let raw = "one\u{1b}]52;c;abc\u{7}two\u{1b}[1;31mthree\u{1b}[0m\r\nfour\u{1b}]8;;http://x\u{1b}\\five";
        let whole = plain_text(raw);
        let chars: Vec<char> = raw.chars().collect();
        for cut in 0..chars.len() {
            let (a, b): (String, String) = (chars[..cut].iter().collect(), chars[cut..].iter().collect());
            let mut f = TermFilter::plain();
            let mut got = f.feed(&a);
            got.push_str(&f.feed(&b));
            got.push_str(&f.finish());
            assert_eq!(got, whole, "cut at {cut}");
        }
    }

    #[test]
    fn an_unterminated_string_sequence_ends_at_the_line() {
        let raw = "before\n\u{1b}]\nline one\nline two\n";
        assert_eq!(plain_text(raw), "before\n\nline one\nline two\n");
        assert_eq!(plain_text("a\u{1b}]0;title\r\nb"), "a\nb");
        assert_eq!(plain_text("a\u{1b}P1$r\u{1b}x\nb"), "a\nb");
        assert_eq!(plain_text("a\u{1b}_apc\nb\u{1b}^pm\nc"), "a\nb\nc");
        let mut f = TermFilter::with_colours();
        assert_eq!(f.feed("x\u{1b}]8;;http://e\nvisible"), "x\nvisible");
    }

    #[test]
    fn only_safe_colours_are_kept() {
        let mut f = TermFilter::with_colours();
        // Conceal, black on black, reverse, backgrounds: dropped; the text shows.
        assert_eq!(f.feed("\u{1b}[8mhidden\u{1b}[0m"), "hidden\u{1b}[0m");
        assert_eq!(f.feed("\u{1b}[30;40mx"), "\u{1b}[30mx");
        assert_eq!(f.feed("\u{1b}[7;2;5mx"), "x");
        assert_eq!(f.feed("\u{1b}[48;5;0;1;4;31mx"), "\u{1b}[1;4;31mx");
        assert_eq!(f.feed("\u{1b}[38;2;0;0;0mx\u{1b}[m"), "x\u{1b}[m");
        assert_eq!(f.feed("\u{1b}[92mok"), "\u{1b}[92mok");
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("short", 10), "short");
        let t = tail(&"line\n".repeat(100), 20);
        assert!(t.starts_with("…\n") && t.ends_with("line\n") && t.len() <= 25, "{t:?}");
        assert!(tail(&"é".repeat(100), 11).ends_with('é'));
    }
}
