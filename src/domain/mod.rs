//! Pure types and logic: no file IO, no terminal, no runtime.

pub mod cadence;
pub mod compact_id;
pub mod deadline;
pub mod describe;
pub mod event;
pub mod exec_policy;
pub mod identity;
pub mod input;
pub mod line_de;
pub mod links;
pub mod metrics;
pub mod name;
pub mod phase;
pub mod playbook;
pub mod prev_hash;
pub mod problem;
pub mod record_store;
pub mod replay;
pub mod ron_input;
pub mod sanitize;
pub mod seqmap;
pub mod signing;
pub mod state;
pub mod tags;
pub mod template;
pub mod termtext;
pub mod time;
pub mod trust;
pub mod unsigned;

pub use event::{Body, Event, EventKey, Mode};
pub use name::Name;
pub use phase::Phase;
pub use playbook::Playbook;
pub use problem::Problem;
pub use sanitize::{sanitize, sanitize_lines};
pub use state::IncidentState;
