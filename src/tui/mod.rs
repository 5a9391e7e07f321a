//! The live war-room console: model and reducer (pure), views (pure), and a thin shell that owns
//! the terminal, the runtime and the store worker.

pub mod clipboard;
pub mod glyphs;
pub mod input;
pub mod keymap;
pub mod model;
pub mod part_gate;
pub mod run;
pub mod sync;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod worker;
