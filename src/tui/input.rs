//! Telling a person's keys from a machine's. A paste that arrives without bracketed-paste markers
//! (GNU screen, tmux `paste-buffer` without `-p`, web terminals) reaches us as plain key presses,
//! and "Approved by lead" would then open the approval dialog with `A` and confirm it with the
//! `y` of "by". No hand types several keys within a few milliseconds, so such a burst is a paste.
//! Pure: the arrival time of each batch of keys comes in the message.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::domain::time::Millis;

/// This many text keys close together are a paste (a person's fastest rollover makes two).
pub const BURST_KEYS: usize = 3;
/// Keys this close (ms) belong to one run. One write to a pty arrives in one read (gap 0); even
/// a fast typist's rollover leaves ~30 ms between presses, key auto-repeat ~30 ms.
pub const BURST_GAP_MS: Millis = 10;
/// Text keys this soon (ms) after a paste's last key are the rest of it (a long paste arrives in
/// several reads, and its last piece may be one or two keys); no one reacts to a paste that fast.
pub const PASTE_TAIL_MS: Millis = 100;
/// Pieces of text this close (ms) with no person's key between are one paste for its count: a
/// slow link delivers a long paste in reads far apart, and the user is told the paste's length.
pub const PASTE_PIECES_MS: Millis = 1_000;
/// A dialog that writes a record cannot be confirmed sooner than this after it opened (ms): it
/// must have been drawn and seen. The fastest visual reaction is ~200-250 ms, so a deliberate
/// `A`, read, `y` is never slower to type than this, while a paste's keys come within a few ms.
pub const CONFIRM_GUARD_MS: Millis = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Keys as a person types them: act on each.
    Keys,
    /// A paste without markers: text in a text field, ignored anywhere else.
    Paste,
}

/// What the reducer remembers about the timing of keys.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyClock {
    /// Arrival of the batch being handled, and its number.
    pub at: Millis,
    pub batch: u64,
    last_at: Option<Millis>,
    /// Text keys in the current run of closely spaced keys.
    run: usize,
    /// The last key of the paste being ignored, and how many text keys it has had.
    paste_last: Option<Millis>,
    pub pasted: usize,
    /// When, and in which batch, the dialog on screen opened.
    opened: Option<(Millis, u64)>,
}

impl KeyClock {
    /// Judge a batch of keys read together from the terminal at `at`.
    pub fn arrive(&mut self, keys: &[KeyEvent], at: Millis) -> Verdict {
        self.batch += 1;
        self.at = at;
        let text = keys.iter().filter(|k| is_text_key(k)).count();
        // A clock that went backwards is no evidence of a machine.
        let close = self.last_at.is_some_and(|t| (0..=BURST_GAP_MS).contains(&(at - t)));
        self.run = if close { self.run + text } else { text };
        self.last_at = Some(at);
        let tail = self.paste_last.is_some_and(|t| (0..=PASTE_TAIL_MS).contains(&(at - t)));
        // Judged by arrival (the batch's stamp), never by when it was handled: an Enter after a
        // quiet gap (more than PASTE_TAIL_MS since the paste's last key) is a person's key.
        if text == 0 || !(self.run >= BURST_KEYS || tail) {
            if text > 0 {
                // A person typed: what comes next is a new paste.
                self.paste_last = None;
            }
            return Verdict::Keys;
        }
        let more = self
            .paste_last
            .is_some_and(|t| (0..=PASTE_PIECES_MS).contains(&(at - t)));
        self.pasted = if more { self.pasted + text } else { text };
        self.paste_last = Some(at);
        Verdict::Paste
    }

    /// A dialog has just opened, from a key of the current batch.
    pub fn dialog_opened(&mut self) {
        self.opened = Some((self.at, self.batch));
    }

    /// Whether a confirming key of the current batch comes too soon for the dialog on screen:
    /// from the very keys that opened it, or before a person could have read it.
    pub fn too_soon(&self) -> bool {
        self.opened
            .is_some_and(|(t, b)| b == self.batch || self.at - t < CONFIRM_GUARD_MS)
    }

    /// Whether the dialog on screen opened so recently that a paste may have opened it.
    pub fn opened_recently(&self) -> bool {
        self.opened.is_some_and(|(t, _)| self.at - t < CONFIRM_GUARD_MS)
    }
}

/// Keys this close (ms) by their arrival stamps were read together: one batch.
pub const SAME_READ_MS: Millis = 1;

/// Keys stamped as they were read, in order, cut into batches wherever the stamps leave a gap:
/// what arrived together stays together, and a key that came later is judged on its own (with its
/// own arrival time) even when it was handled together with the rest, late, after a busy moment.
pub fn batches(keys: Vec<(KeyEvent, Millis)>) -> Vec<(Vec<KeyEvent>, Millis)> {
    let mut out: Vec<(Vec<KeyEvent>, Millis)> = Vec::new();
    for (k, at) in keys {
        match out.last_mut() {
            Some((batch, last)) if (0..=SAME_READ_MS).contains(&(at - *last)) => {
                batch.push(k);
                *last = at;
            }
            _ => out.push((vec![k], at)),
        }
    }
    out
}

/// A key that a paste is made of: a character, a newline or a tab.
pub fn is_text_key(k: &KeyEvent) -> bool {
    if k.kind == KeyEventKind::Release {
        return false;
    }
    let plain = !k.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
    match k.code {
        // In raw mode a pasted '\n' arrives as Ctrl+J.
        KeyCode::Char('j') if k.modifiers == KeyModifiers::CONTROL => true,
        KeyCode::Char(_) | KeyCode::Enter | KeyCode::Tab => plain,
        _ => false,
    }
}

/// The text a burst of keys spells, for a text field.
pub fn burst_text(keys: &[KeyEvent]) -> String {
    keys.iter()
        .filter(|k| is_text_key(k))
        .filter_map(|k| match k.code {
            KeyCode::Char(_) if k.modifiers.contains(KeyModifiers::CONTROL) => Some('\n'),
            KeyCode::Char(c) => Some(c),
            KeyCode::Enter => Some('\n'),
            KeyCode::Tab => Some('\t'),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(s: &str) -> Vec<KeyEvent> {
        s.chars()
            .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
            .collect()
    }

    #[test]
    fn one_read_of_many_keys_is_a_paste() {
        let mut c = KeyClock::default();
        assert_eq!(c.arrive(&keys("Approved by lead"), 1_000), Verdict::Paste);
        assert_eq!(c.pasted, 16);
        // The rest of the paste, a few ms later, one key at a time.
        assert_eq!(c.arrive(&keys("y"), 1_040), Verdict::Paste);
        assert_eq!(c.pasted, 17);
        // A person, later.
        assert_eq!(c.arrive(&keys("y"), 1_400), Verdict::Keys);
    }

    #[test]
    fn keys_one_by_one_but_machine_fast_become_a_paste_by_the_third() {
        let mut c = KeyClock::default();
        assert_eq!(c.arrive(&keys("A"), 0), Verdict::Keys);
        assert_eq!(c.arrive(&keys("p"), 2), Verdict::Keys);
        assert_eq!(c.arrive(&keys("p"), 4), Verdict::Paste);
    }

    #[test]
    fn human_typing_and_rollover_are_keys() {
        let mut c = KeyClock::default();
        let mut t = 0;
        for k in ["j", "j", "k", "A"] {
            t += 60;
            assert_eq!(c.arrive(&keys(k), t), Verdict::Keys);
        }
        // Two keys pressed at once (rollover) are still a person.
        assert_eq!(c.arrive(&keys("jk"), t + 200), Verdict::Keys);
        // Arrows held down over a laggy link are not text.
        let arrows = vec![KeyEvent::new(KeyCode::Down, KeyModifiers::NONE); 5];
        assert_eq!(c.arrive(&arrows, t + 400), Verdict::Keys);
    }

    #[test]
    fn a_confirm_needs_its_own_batch_and_time_to_read() {
        let mut c = KeyClock::default();
        c.arrive(&keys("Ay"), 0);
        c.dialog_opened();
        assert!(c.too_soon(), "the y that came with the A");
        c.arrive(&keys("y"), 150);
        assert!(c.too_soon(), "150 ms: not read yet");
        c.arrive(&keys("y"), 400);
        assert!(!c.too_soon());
    }

    #[test]
    fn an_enter_after_a_long_paste_sends_even_when_handled_late() {
        // 3000 characters arrive in 1024-byte reads over 30 ms; the Enter 2.5 s later. The app was
        // busy typing the paste into the field, so all of it is handled together, late.
        let mut stamped: Vec<(KeyEvent, Millis)> = keys(&"x".repeat(3000))
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, 1_000 + (i as Millis / 1024) * 15))
            .collect();
        stamped.push((KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE), 3_500));
        let got = batches(stamped);
        assert_eq!(got.len(), 4, "three reads of the paste, then the Enter on its own");
        let mut c = KeyClock::default();
        let verdicts: Vec<Verdict> = got.iter().map(|(k, at)| c.arrive(k, *at)).collect();
        assert_eq!(
            verdicts,
            [Verdict::Paste, Verdict::Paste, Verdict::Paste, Verdict::Keys]
        );
        assert_eq!(got[3].0[0].code, KeyCode::Enter);
        // An Enter 150 ms after the last piece, alone, is a key; one 50 ms after is the paste's tail.
        let mut c = KeyClock::default();
        c.arrive(&keys(&"y".repeat(300)), 0);
        let enter = [KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)];
        assert_eq!(c.arrive(&enter, 50), Verdict::Paste);
        assert_eq!(c.arrive(&enter, 200), Verdict::Keys);
    }

    #[test]
    fn a_paste_over_a_slow_link_is_counted_whole() {
        // 2761 characters in reads 300 ms apart (each piece a paste by itself): the count is the
        // paste's length, not its last piece's.
        let mut c = KeyClock::default();
        for (i, n) in [1024, 1024, 713].into_iter().enumerate() {
            let at = 1_000 + i as Millis * 300;
            assert_eq!(c.arrive(&keys(&"x".repeat(n)), at), Verdict::Paste);
        }
        assert_eq!(c.pasted, 2761);
        // A person's key ends it: the next paste is counted afresh, however soon.
        assert_eq!(c.arrive(&keys("j"), 2_000), Verdict::Keys);
        assert_eq!(c.arrive(&keys("abcdef"), 2_100), Verdict::Paste);
        assert_eq!(c.pasted, 6);
        // So does a quiet second.
        assert_eq!(c.arrive(&keys("abcd"), 3_200), Verdict::Paste);
        assert_eq!(c.pasted, 4);
    }

    #[test]
    fn burst_text_keeps_newlines_and_tabs() {
        let mut k = keys("a");
        k.push(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        k.push(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL));
        k.push(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
        k.push(KeyEvent::new(KeyCode::Char('B'), KeyModifiers::SHIFT));
        assert_eq!(burst_text(&k), "a\n\n\tB");
    }
}
