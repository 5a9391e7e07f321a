//! The live war-room console: model and reducer (pure), views (pure), and a thin shell that owns
//! the terminal, the runtime and the store worker.

pub mod keymap;
pub mod model;
pub mod theme;
pub mod view;
