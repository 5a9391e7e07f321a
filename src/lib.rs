//! warroom: a terminal war-room console for incident response.
//!
//! Data flows one way: files → [`store`] → [`domain`] fold → views; and a user's write goes through
//! the store and comes back through the reader, exactly like a teammate's.

#![forbid(unsafe_code)]

pub mod cli;
pub mod demo;
pub mod domain;
pub mod exec;
pub mod exercise;
pub mod hooks;
pub mod ingest;
pub mod report;
pub mod signer;
pub mod store;
pub mod sync;
pub mod tui;
