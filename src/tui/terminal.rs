//! The one terminal guard: raw mode, alternate screen and bracketed paste on; everything restored
//! exactly once — on normal exit, on error, on panic, and on SIGHUP/SIGTERM (which the event loop
//! turns into a clean quit).

use std::io::{self, stdout, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::execute;
use crossterm::terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;

static ACTIVE: AtomicBool = AtomicBool::new(false);

pub type Term = Terminal<CrosstermBackend<Stdout>>;

pub struct Guard;

impl Guard {
    pub fn enter() -> io::Result<(Guard, Term)> {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The store thread's panics are caught and reported by the console itself; only a
            // panic on the main thread ends the program, so only then is the terminal restored.
            if std::thread::current().name() == Some("main") {
                restore();
            }
            previous(info);
        }));
        ACTIVE.store(true, Ordering::SeqCst);
        enable_raw_mode()?;
        execute!(stdout(), EnterAlternateScreen, EnableBracketedPaste)?;
        let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
        Ok((Guard, terminal))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Put the terminal back the way we found it; safe to call more than once.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            stdout(),
            DisableBracketedPaste,
            LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = disable_raw_mode();
    }
}
