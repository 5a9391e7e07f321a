//! Tabletop exercises: scenarios with timed and conditional injects, the exercise clock, and the
//! facilitator's private notes (kept in the local state directory, never in the shared one).

pub mod local;
pub mod scenario;
pub mod scheduler;
