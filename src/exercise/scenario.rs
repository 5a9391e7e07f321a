//! Tabletop scenarios: the playbook to use, objectives, and the master list of injects. The file
//! stays with the facilitator; players only ever see released injects.

use serde::{Deserialize, Serialize};

use crate::domain::playbook::{line_col, Playbook};
use crate::domain::ron_input::parse_ron_strict;
use crate::domain::time::Millis;
use crate::domain::Phase;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// Playbook id to declare the exercise with.
    pub playbook: String,
    pub severity: u8,
    pub summary: String,
    pub objectives: Vec<String>,
    pub injects: Vec<Inject>,
}

/// When an inject fires: at a scenario time, or when something happens in the exercise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum When {
    /// Scenario time `mm:ss` (or `h:mm:ss`).
    At(String),
    PhaseEntered(Phase),
    ItemDone(String),
    ActionApproved(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub id: String,
    pub when: When,
    pub title: String,
    /// What players see.
    pub text: String,
    /// What a good response looks like (facilitator only).
    pub expected: String,
    /// Facilitator notes (never released).
    #[serde(default)]
    pub notes: String,
}

/// `05:00` → 300 000 ms; `1:05:00` → 3 900 000 ms.
pub fn parse_clock(s: &str) -> Option<Millis> {
    let parts: Vec<&str> = s
        .trim()
        .trim_start_matches("E+")
        .trim_start_matches("T+")
        .split(':')
        .collect();
    let nums: Option<Vec<i64>> = parts
        .iter()
        .map(|p| p.parse::<i64>().ok().filter(|n| *n >= 0))
        .collect();
    let nums = nums?;
    let secs = match nums.as_slice() {
        [m, s] if *s < 60 => m * 60 + s,
        [h, m, s] if *m < 60 && *s < 60 => h * 3600 + m * 60 + s,
        _ => return None,
    };
    Some(secs * 1000)
}

pub use crate::domain::time::format_scenario;

impl Inject {
    pub fn at_ms(&self) -> Option<Millis> {
        match &self.when {
            When::At(t) => parse_clock(t),
            _ => None,
        }
    }
}

/// Parse strictly (BOM and CRLF allowed; unknown fields reported at their own line with a
/// did-you-mean) and check against the playbook: `file:line:col: message` errors.
pub fn parse(file: &str, text: &str, playbook: Option<&Playbook>) -> Result<Scenario, Vec<String>> {
    let sc: Scenario = parse_ron_strict(text).map_err(|ds| {
        ds.iter()
            .map(|d| format!("{file}:{}:{}: {}", d.line, d.col, d.message))
            .collect::<Vec<_>>()
    })?;
    let locate = |needle: &str| text.find(needle).map_or((1, 1), |o| line_col(text, o));
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    if !(1..=4).contains(&sc.severity) {
        let (l, c) = locate("severity:");
        errors.push(format!("{file}:{l}:{c}: severity must be 1..4"));
    }
    if sc.injects.is_empty() {
        errors.push(format!("{file}:1:1: a scenario needs at least one inject"));
    }
    for inj in &sc.injects {
        let (l, c) = locate(&format!("\"{}\"", inj.id));
        if !seen.insert(inj.id.clone()) {
            errors.push(format!("{file}:{l}:{c}: duplicate inject id `{}`", inj.id));
        }
        match &inj.when {
            When::At(t) if parse_clock(t).is_none() => errors.push(format!(
                "{file}:{l}:{c}: inject `{}`: time `{t}` is not mm:ss or h:mm:ss",
                inj.id
            )),
            When::ItemDone(i) if playbook.is_some_and(|p| p.item(i).is_none()) => errors.push(format!(
                "{file}:{l}:{c}: inject `{}` waits for item `{i}`, which playbook `{}` lacks",
                inj.id, sc.playbook
            )),
            When::ActionApproved(a) if playbook.is_some_and(|p| p.action(a).is_none()) => errors.push(format!(
                "{file}:{l}:{c}: inject `{}` waits for action `{a}`, which playbook `{}` lacks",
                inj.id, sc.playbook
            )),
            _ => {}
        }
    }
    if errors.is_empty() {
        Ok(sc)
    } else {
        Err(errors)
    }
}

/// The scenarios shipped in the binary.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "hospital-ransomware.ron",
        include_str!("../../assets/scenarios/hospital-ransomware.ron"),
    ),
    (
        "leaked-cloud-keys.ron",
        include_str!("../../assets/scenarios/leaked-cloud-keys.ron"),
    ),
    (
        "regional-outage.ron",
        include_str!("../../assets/scenarios/regional-outage.ron"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("05:00"), Some(300_000));
        assert_eq!(parse_clock("E+1:02:03"), Some(3_723_000));
        assert_eq!(parse_clock("5:75"), None);
        assert_eq!(format_scenario(65_000), "E+01:05");
    }
}
