//! What only the facilitator has: the scenario (expected outcomes, notes), skipped injects and
//! evaluator notes — in the facilitator's local state directory, merged in at export.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::scenario::Scenario;
use crate::domain::time::Millis;
use crate::store::fsutil::{write_atomic, Sharing};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvaluatorNote {
    pub inject: Option<String>,
    pub at: Millis,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacilitatorState {
    pub incident: String,
    pub scenario: Scenario,
    #[serde(default)]
    pub skipped: BTreeSet<String>,
    #[serde(default)]
    pub notes: Vec<EvaluatorNote>,
}

pub fn path(state_dir: &Path, incident: &str) -> PathBuf {
    state_dir.join("exercises").join(format!("{incident}.ron"))
}

impl FacilitatorState {
    pub fn load(state_dir: &Path, incident: &str) -> Result<FacilitatorState, String> {
        let p = path(state_dir, incident);
        let text = std::fs::read_to_string(&p).map_err(|e| {
            format!(
                "no facilitator state for {incident} at {} ({e}); only the facilitator's host has it",
                p.display()
            )
        })?;
        ron::from_str(&text).map_err(|e| format!("{}:{}: {}", p.display(), e.span.start, e.code))
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), String> {
        let p = path(state_dir, &self.incident);
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| format!("cannot create {}: {e}", d.display()))?;
        }
        let text = ron::ser::to_string_pretty(self, ron::ser::PrettyConfig::new()).map_err(|e| e.to_string())?;
        write_atomic(&p, text.as_bytes(), Sharing::private()).map_err(|e| format!("cannot write {}: {e}", p.display()))
    }
}
