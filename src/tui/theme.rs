//! Colours, with a monochrome theme for NO_COLOR: glyphs and words always carry the meaning too.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub color: bool,
    /// Draw every glyph in its ASCII form (the Linux console lacks most of them): see `glyphs`.
    pub ascii: bool,
}

impl Theme {
    /// From `NO_COLOR`, `TERM` and `WARROOM_ASCII`; `ascii_config` is the config file's `ascii:`.
    pub fn from_env_and(ascii_config: Option<bool>) -> Theme {
        let var = |k| std::env::var(k).ok();
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ascii: super::glyphs::wanted(var("TERM").as_deref(), var("WARROOM_ASCII").as_deref(), ascii_config),
        }
    }
    pub fn from_env() -> Theme {
        Theme::from_env_and(None)
    }
    pub fn mono() -> Theme {
        Theme {
            color: false,
            ascii: false,
        }
    }
    /// The same theme with ASCII glyphs.
    pub fn with_ascii(self) -> Theme {
        Theme { ascii: true, ..self }
    }
    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    pub fn base(&self) -> Style {
        Style::new()
    }
    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new().add_modifier(Modifier::DIM)
        }
    }
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn focus_border(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        self.dim()
    }
    pub fn severity(&self, sev: Option<u8>) -> Style {
        let s = match sev {
            Some(1) => self.fg(Color::Red),
            Some(2) => self.fg(Color::LightRed),
            Some(3) => self.fg(Color::Yellow),
            _ => self.fg(Color::Green),
        };
        s.add_modifier(Modifier::BOLD)
    }
    pub fn good(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn banner(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
}
