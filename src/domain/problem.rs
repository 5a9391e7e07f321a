//! Something in the shared directory that was skipped or looks wrong: shown, never fatal.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// A file (relative to the shared root) or a writer id.
    pub source: String,
    /// 1-based line in the file, or the writer's `seq` for a rule the fold enforces.
    pub line: Option<u64>,
    pub what: String,
}

impl Problem {
    pub fn new(source: impl Into<String>, line: Option<u64>, what: impl Into<String>) -> Problem {
        Problem {
            source: source.into(),
            line,
            what: what.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = super::sanitize::sanitize(&self.what);
        let source = super::sanitize::sanitize(&self.source);
        match self.line {
            Some(l) => write!(f, "{source}:{l}: {what}"),
            None => write!(f, "{source}: {what}"),
        }
    }
}
