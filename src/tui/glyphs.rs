//! Every glyph the console draws, with its ASCII form, in one table. The Linux console
//! (`TERM=linux`) and some fonts lack most of them; there (or with `WARROOM_ASCII=1`, or
//! `ascii: true` in the config) the finished frame is rewritten cell by cell through this table.
//! Each form is one character, so layouts are identical in both modes. A glyph never carries a
//! state alone: the word sits beside it (or is one keypress away, in the detail view).

use ratatui::buffer::Buffer;

/// (glyph, ASCII form, what it means).
pub const TABLE: &[(char, char, &str)] = &[
    // States: checklist items, actions, flashes.
    ('☐', 'o', "item open"),
    ('✔', '+', "done / ok"),
    ('✓', '+', "approved (approver follows)"),
    ('✖', 'x', "blocked / failed / not saved"),
    ('↷', '>', "skipped"),
    ('↶', '<', "rolled back"),
    ('⊘', '0', "dry run"),
    ('▶', '>', "running / current phase"),
    ('⏸', '=', "paused"),
    ('■', '#', "ended"),
    // The Now strip, header and board.
    ('▲', '!', "blocked items"),
    ('⚠', '!', "problems"),
    ('⏰', '@', "next deadline"),
    ('⧗', '?', "waiting (approval, sending)"),
    ('☛', '*', "assigned to me"),
    ('☞', '!', "nudge: something missing or late"),
    ('▸', '>', "selected in a picker"),
    ('✎', '%', "signed: a valid SSH signature vouches for it (beside a name)"),
    // Text.
    ('·', '-', "separator / no state yet"),
    ('—', '-', "dash"),
    ('…', '~', "cut short"),
    ('→', '>', "to"),
    ('←', '<', "left"),
    ('↑', '^', "up / scrolled back"),
    ('↓', 'v', "down"),
    ('⏎', '/', "line break in a one-line view"),
    // Gauges.
    ('█', '#', "gauge filled"),
    ('░', '.', "gauge empty"),
    // Borders: single lines for panes, double lines for the focused one.
    ('─', '-', "border"),
    ('│', '|', "border"),
    ('┌', '+', "border"),
    ('┐', '+', "border"),
    ('└', '+', "border"),
    ('┘', '+', "border"),
    ('├', '+', "border"),
    ('┤', '+', "border"),
    ('┬', '+', "border"),
    ('┴', '+', "border"),
    ('┼', '+', "border"),
    ('╭', '+', "border"),
    ('╮', '+', "border"),
    ('╰', '+', "border"),
    ('╯', '+', "border"),
    ('═', '=', "focused border"),
    ('║', '|', "focused border"),
    ('╔', '#', "focused border"),
    ('╗', '#', "focused border"),
    ('╚', '#', "focused border"),
    ('╝', '#', "focused border"),
    ('━', '=', "thick border"),
    ('┃', '|', "thick border"),
];

/// The ASCII form of a glyph in the table.
pub fn ascii(c: char) -> Option<char> {
    TABLE.iter().find(|(g, _, _)| *g == c).map(|(_, a, _)| *a)
}

/// Whether to draw ASCII: asked for (`WARROOM_ASCII`, the config), or a terminal known to lack
/// the glyphs (the Linux console). `WARROOM_ASCII=0` turns it off even there.
pub fn wanted(term: Option<&str>, env: Option<&str>, config: Option<bool>) -> bool {
    match env.map(str::trim) {
        Some("0" | "false" | "no") => return false,
        Some(v) if !v.is_empty() => return true,
        _ => {}
    }
    config.unwrap_or(false) || term == Some("linux")
}

/// Rewrite every glyph of a finished frame in ASCII.
pub fn asciify(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            let mut chars = cell.symbol().chars();
            if let (Some(c), None) = (chars.next(), chars.next()) {
                if let Some(a) = ascii(c) {
                    cell.set_char(a);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_one_ascii_character_and_every_glyph_is_listed_once() {
        for (g, a, what) in TABLE {
            assert!(a.is_ascii_graphic(), "{g} ({what}) has no printable ASCII form");
            assert!(!g.is_ascii());
            assert_eq!(TABLE.iter().filter(|(x, _, _)| x == g).count(), 1, "{g} twice");
        }
    }

    #[test]
    fn when_ascii_is_wanted() {
        assert!(wanted(Some("linux"), None, None));
        assert!(!wanted(Some("xterm-256color"), None, None));
        assert!(wanted(Some("xterm"), Some("1"), None));
        assert!(!wanted(Some("linux"), Some("0"), None));
        assert!(wanted(Some("screen"), None, Some(true)));
    }
}
