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

/// How well the players met an objective, in the facilitator's judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rating {
    Met,
    Partly,
    NotMet,
}

impl Rating {
    pub const ALL: [Rating; 3] = [Rating::Met, Rating::Partly, Rating::NotMet];
    pub fn label(self) -> &'static str {
        match self {
            Rating::Met => "met",
            Rating::Partly => "partly",
            Rating::NotMet => "not met",
        }
    }
}

/// The facilitator's rating of one objective (by its text in the scenario), with a note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRating {
    pub objective: String,
    pub rating: Rating,
    #[serde(default)]
    pub note: String,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FacilitatorState {
    pub incident: String,
    pub scenario: Scenario,
    #[serde(default)]
    pub skipped: BTreeSet<String>,
    #[serde(default)]
    pub notes: Vec<EvaluatorNote>,
    /// Objectives rated so far (the latest rating of an objective replaces an earlier one).
    #[serde(default)]
    pub ratings: Vec<ObjectiveRating>,
}

pub fn path(state_dir: &Path, incident: &str) -> PathBuf {
    state_dir.join("exercises").join(format!("{incident}.ron"))
}

impl FacilitatorState {
    /// A new exercise's private half: nothing skipped, noted or rated yet.
    pub fn new(incident: &str, scenario: Scenario) -> FacilitatorState {
        FacilitatorState {
            incident: incident.to_string(),
            scenario,
            skipped: BTreeSet::new(),
            notes: Vec::new(),
            ratings: Vec::new(),
        }
    }

    /// The rating of an objective, if it was rated.
    pub fn rating(&self, objective: &str) -> Option<&ObjectiveRating> {
        self.ratings.iter().find(|r| r.objective == objective)
    }

    /// Rate an objective (replacing an earlier rating of it).
    pub fn rate(&mut self, objective: &str, rating: Rating, note: &str, at: Millis) {
        self.ratings.retain(|r| r.objective != objective);
        self.ratings.push(ObjectiveRating {
            objective: objective.to_string(),
            rating,
            note: note.trim().to_string(),
            at,
        });
    }

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
