//! The six incident-response phases of the SANS incident-handling cycle, in order: Preparation,
//! Identification, Containment, Eradication, Recovery, Lessons Learned. NIST SP 800-61r2 groups
//! the same work in four phases (Preparation; Detection and Analysis; Containment, Eradication
//! and Recovery; Post-Incident Activity); SP 800-61r3 (2025) maps incident response to the
//! NIST CSF 2.0 functions instead of a phase cycle.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Phase {
    Preparation,
    Identification,
    Containment,
    Eradication,
    Recovery,
    LessonsLearned,
}

impl Phase {
    pub const ALL: [Phase; 6] = [
        Phase::Preparation,
        Phase::Identification,
        Phase::Containment,
        Phase::Eradication,
        Phase::Recovery,
        Phase::LessonsLearned,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Phase::Preparation => "Preparation",
            Phase::Identification => "Identification",
            Phase::Containment => "Containment",
            Phase::Eradication => "Eradication",
            Phase::Recovery => "Recovery",
            Phase::LessonsLearned => "Lessons Learned",
        }
    }

    /// The name in at most 8 columns, for narrow columns and headers.
    pub fn short_label(self) -> &'static str {
        match self {
            Phase::Preparation => "Prep.",
            Phase::Identification => "Ident.",
            Phase::Containment => "Contain.",
            Phase::Eradication => "Erad.",
            Phase::Recovery => "Recovery",
            Phase::LessonsLearned => "Lessons",
        }
    }

    pub fn slug(self) -> &'static str {
        match self {
            Phase::Preparation => "preparation",
            Phase::Identification => "identification",
            Phase::Containment => "containment",
            Phase::Eradication => "eradication",
            Phase::Recovery => "recovery",
            Phase::LessonsLearned => "lessons-learned",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn next(self) -> Option<Phase> {
        Phase::ALL.get(self.index() + 1).copied()
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for Phase {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let norm: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Phase::ALL
            .into_iter()
            .find(|p| p.slug().replace('-', "") == norm)
            .ok_or_else(|| {
                format!(
                    "unknown phase `{s}`; expected one of: {}",
                    Phase::ALL.map(|p| p.slug()).join(", ")
                )
            })
    }
}
