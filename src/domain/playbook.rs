//! Playbook schema: what a team writes in `playbooks/*.ron`, and its validation.
//!
//! Parsing is strict (an unknown field is an error) for the library, `playbook check` and
//! `declare`; the copy stored inside an incident is read leniently (unknown fields become problems)
//! so a teammate on an older binary can still open it. See [`parse`].

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

use super::phase::Phase;

/// The built-in role every incident has; reassigning it is the command handoff.
pub const COMMANDER: &str = "commander";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Playbook {
    pub id: String,
    pub title: String,
    pub version: String,
    pub description: String,
    /// Id of a playbook whose steps this one builds on (resolved before it is copied into an incident).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// A building block for other playbooks (`base`), never declared on its own.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    #[serde(default)]
    pub disclaimer: String,
    #[serde(default)]
    pub severity_guidance: Vec<SeverityGuide>,
    #[serde(default)]
    pub roles: Vec<Role>,
    pub phases: Phases,
    #[serde(default)]
    pub actions: Vec<Action>,
    #[serde(default)]
    pub templates: Vec<Template>,
    /// *Optional.* Where the incident is worked and updates are answered (`"#inc-bridge on
    /// Signal"`, a bridge number): fills `{channel}` in templates. Inherited from the base when
    /// left out; left out everywhere, `{channel}` becomes `[CHANNEL]` for the author to fill.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default)]
    pub deadlines: Vec<Deadline>,
    /// *Optional.* How often a status update is due, per severity (`[(severity: 1, minutes: 30)]`).
    /// A severity not listed has no cadence. See [`super::cadence`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub update_cadence: Vec<Cadence>,
    /// *Optional.* The post-incident review's lessons-learned questions, answered with
    /// `ReviewSet { field: <question id>, text }` beside `summary`, `impact` and `root_cause`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

/// One lessons-learned question of the post-incident review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    pub text: String,
}

/// The review fields every incident has, besides the playbook's questions.
pub const REVIEW_FIELDS: &[(&str, &str)] = &[
    ("summary", "Summary: what happened, in a few sentences"),
    ("impact", "Impact: who and what was affected, for how long"),
    ("root_cause", "Root cause (or the best-supported hypothesis)"),
];

/// One status-update cadence: at `severity`, an update is due `minutes` after the last one (or
/// after the declaration when there has been none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    pub severity: u8,
    pub minutes: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityGuide {
    pub level: u8,
    pub when: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub duty: String,
}

/// The six phases of the SANS incident-handling cycle, each with its checklist (NIST SP
/// 800-61r2 groups them in four; r3 maps response to the CSF 2.0 functions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Phases {
    #[serde(default)]
    pub preparation: Vec<Item>,
    #[serde(default)]
    pub identification: Vec<Item>,
    #[serde(default)]
    pub containment: Vec<Item>,
    #[serde(default)]
    pub eradication: Vec<Item>,
    #[serde(default)]
    pub recovery: Vec<Item>,
    #[serde(default)]
    pub lessons_learned: Vec<Item>,
}

impl Phases {
    pub fn get(&self, phase: Phase) -> &[Item] {
        match phase {
            Phase::Preparation => &self.preparation,
            Phase::Identification => &self.identification,
            Phase::Containment => &self.containment,
            Phase::Eradication => &self.eradication,
            Phase::Recovery => &self.recovery,
            Phase::LessonsLearned => &self.lessons_learned,
        }
    }
    pub fn get_mut(&mut self, phase: Phase) -> &mut Vec<Item> {
        match phase {
            Phase::Preparation => &mut self.preparation,
            Phase::Identification => &mut self.identification,
            Phase::Containment => &mut self.containment,
            Phase::Eradication => &mut self.eradication,
            Phase::Recovery => &mut self.recovery,
            Phase::LessonsLearned => &mut self.lessons_learned,
        }
    }
    /// Every item with the phase it belongs to, in playbook order.
    pub fn all(&self) -> impl Iterator<Item = (Phase, &Item)> {
        Phase::ALL
            .into_iter()
            .flat_map(move |p| self.get(p).iter().map(move |i| (p, i)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Term {
    /// Stop the bleeding now (isolate, block, disable).
    Short,
    /// Hold the line while eradication is prepared (rebuild, rotate, re-architect).
    Long,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    /// Whoever proposes may carry it out.
    None,
    /// The current incident commander approves.
    Commander,
    /// Someone other than the proposer (a different person, not just another host) approves.
    TwoPerson,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub id: String,
    pub title: String,
    pub why: String,
    pub term: Term,
    pub approval: Approval,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// *Optional.* What the proposer fills in (`["HOST", "SEGMENT"]`), named as in the command
    /// (`$HOST`). Left out, the command's `$NAME` variables are asked for. Recorded in the
    /// proposal's note as `parameters: HOST=fin-fs-02; SEGMENT=vlan-20`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

impl Action {
    /// The parameters to ask for when proposing: `params`, then the `$UPPER_CASE` variables of
    /// the command and of its rollback in order of first use — secrets (`$MDE_TOKEN`,
    /// `$…PASSWORD`) and the automatic ones (`$INCIDENT_ID`, `$WARROOM_…`) left out. A rollback's
    /// variable is asked for with the proposal too, never taken from the environment.
    pub fn parameters(&self) -> Vec<String> {
        let mut out: Vec<String> = self.params.clone();
        for cmd in [self.command.as_deref(), self.rollback.as_deref()]
            .into_iter()
            .flatten()
        {
            let mut rest = cmd;
            while let Some(i) = rest.find('$') {
                rest = &rest[i + 1..];
                let rest_braced = rest.strip_prefix('{').unwrap_or(rest);
                let name: String = rest_braced
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // Secrets are never asked for: they must not land in the shared record.
                let secret = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "PRIVATE"]
                    .iter()
                    .any(|w| name.contains(w));
                let automatic = name == "INCIDENT_ID" || name.starts_with("WARROOM_");
                if name.len() > 1
                    && name.starts_with(|c: char| c.is_ascii_uppercase())
                    && !secret
                    && !automatic
                    && !out.contains(&name)
                {
                    out.push(name);
                }
            }
        }
        out
    }
}

/// Who a status update is for. Records and playbooks written before the last three existed
/// (`Internal`, `External`) read unchanged: RON writes a unit variant as its bare name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Audience {
    Internal,
    External,
    /// The executive team and the board: decisions, business impact, exposure.
    Executives,
    /// Customers and partners (or the people whose data is involved).
    Customers,
    /// A regulator or supervisory authority (a data-protection authority, a CSIRT, a sector regulator).
    Regulator,
}

impl Audience {
    /// Every audience, in the order pickers list them.
    pub const ALL: [Audience; 5] = [
        Audience::Internal,
        Audience::External,
        Audience::Executives,
        Audience::Customers,
        Audience::Regulator,
    ];

    /// `internal`, `external`, `executives`, `customers`, `regulator`: the CLI's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Audience::Internal => "internal",
            Audience::External => "external",
            Audience::Executives => "executives",
            Audience::Customers => "customers",
            Audience::Regulator => "regulator",
        }
    }

    /// The audience a word names (`executives`, case-insensitive), if any.
    pub fn from_word(word: &str) -> Option<Audience> {
        Audience::ALL
            .into_iter()
            .find(|a| a.word().eq_ignore_ascii_case(word.trim()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    pub audience: Audience,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    Declared,
    /// When the organisation became aware: the commander's `DiscoverySet`, else the declaration.
    Discovered,
    Classified,
    MaterialityDetermined,
    /// The first event of this kind.
    Event(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Within {
    Hours(u32),
    Days(u32),
    BusinessDays(u32),
    Months(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub label: String,
    pub within: Within,
    /// *Optional.* What meets this stage; left out, the deadline's own `met_by` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_by: Option<MetBy>,
}

/// What meets a deadline (or one stage of it), named by the playbook. Recorded facts only: the
/// fold's registers say when and by whom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetBy {
    /// The checklist item is done. Skipped (with a note) means the deadline was waived.
    Item(String),
    /// The first status update to this audience at or after the deadline's start.
    StatusUpdate(Audience),
    /// The containment action is done.
    Action(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub id: String,
    pub name: String,
    pub source: String,
    pub trigger: Trigger,
    pub stages: Vec<Stage>,
    pub audience: String,
    /// *Optional.* What meets every stage that does not name its own `met_by`. Left out (older
    /// playbooks), a deadline is never shown as met: its clock runs until it is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub met_by: Option<MetBy>,
}

/// A semantic problem in a playbook that parsed: which id, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Text to locate in the source for a `line:col` (an id or a field), if any.
    pub needle: Option<String>,
    /// Which occurrence of the needle (duplicates point at the second one).
    pub nth: usize,
    pub message: String,
}

impl Playbook {
    /// The rules (`source`, else `name`) of the deadlines a checklist item meets (as the
    /// deadline's or a stage's `met_by`): skipping that item waives them.
    pub fn deadlines_met_by_item(&self, item: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for d in &self.deadlines {
            let named = d.met_by.iter().chain(d.stages.iter().filter_map(|s| s.met_by.as_ref()));
            if named.into_iter().any(|m| matches!(m, MetBy::Item(i) if i == item)) {
                let name = if d.source.trim().is_empty() { &d.name } else { &d.source };
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        }
        out
    }

    pub fn item(&self, id: &str) -> Option<(Phase, &Item)> {
        self.phases.all().find(|(_, i)| i.id == id)
    }
    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }
    /// Whether `field` is a review field: summary, impact, root_cause or one of its questions.
    pub fn has_review_field(&self, field: &str) -> bool {
        REVIEW_FIELDS.iter().any(|(f, _)| *f == field) || self.questions.iter().any(|q| q.id == field)
    }
    pub fn has_role(&self, id: &str) -> bool {
        id == COMMANDER || self.roles.iter().any(|r| r.id == id)
    }

    /// Checks that need the whole playbook: unique ids, known roles, sane levels.
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let quoted = |s: &str| format!("\"{s}\"");
        if !is_id(&self.id) {
            out.push(Finding {
                needle: Some(quoted(&self.id)),
                nth: 1,
                message: format!(
                    "playbook id `{}` must be lowercase letters, digits, `-` or `_`",
                    self.id
                ),
            });
        }
        let mut asked = BTreeSet::new();
        for q in &self.questions {
            if !is_id(&q.id) || REVIEW_FIELDS.iter().any(|(f, _)| *f == q.id) {
                out.push(Finding {
                    needle: Some(quoted(&q.id)),
                    nth: 1,
                    message: format!(
                        "question id `{}` must be lowercase letters, digits, `-` or `_`, and not summary, impact or root_cause",
                        q.id
                    ),
                });
            }
            if !asked.insert(q.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&q.id)),
                    nth: 2,
                    message: format!("duplicate question id `{}`", q.id),
                });
            }
            if q.text.trim().is_empty() {
                out.push(Finding {
                    needle: Some(quoted(&q.id)),
                    nth: 1,
                    message: format!("question `{}` has no text", q.id),
                });
            }
        }
        let mut seen = BTreeSet::new();
        for (_, item) in self.phases.all() {
            if !is_id(&item.id) {
                out.push(Finding {
                    needle: Some(quoted(&item.id)),
                    nth: 1,
                    message: format!("item id `{}` must be lowercase letters, digits, `-` or `_`", item.id),
                });
            }
            if !seen.insert(item.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&item.id)),
                    nth: 2,
                    message: format!("duplicate checklist item id `{}`", item.id),
                });
            }
            if let Some(role) = &item.role {
                // A playbook that builds on a base may use the base's roles: checked once merged.
                if self.base.is_none() && !self.has_role(role) {
                    out.push(Finding {
                        needle: Some(quoted(role)),
                        nth: 1,
                        message: format!("item `{}` names role `{role}`, which is not in `roles`", item.id),
                    });
                }
            }
        }
        for action in &self.actions {
            if !is_id(&action.id) {
                out.push(Finding {
                    needle: Some(quoted(&action.id)),
                    nth: 1,
                    message: format!(
                        "action id `{}` must be lowercase letters, digits, `-` or `_`",
                        action.id
                    ),
                });
            }
            if !seen.insert(action.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&action.id)),
                    nth: 2,
                    message: format!("duplicate id `{}` (actions and items share one namespace)", action.id),
                });
            }
            if let Some(role) = &action.role {
                if self.base.is_none() && !self.has_role(role) {
                    out.push(Finding {
                        needle: Some(quoted(role)),
                        nth: 1,
                        message: format!("action `{}` names role `{role}`, which is not in `roles`", action.id),
                    });
                }
            }
            if action.rollback.is_some() && action.command.is_none() {
                out.push(Finding {
                    needle: Some(quoted(&action.id)),
                    nth: 1,
                    message: format!("action `{}` has a rollback but no command", action.id),
                });
            }
        }
        let mut roles = BTreeSet::new();
        for role in &self.roles {
            if !roles.insert(role.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&role.id)),
                    nth: 2,
                    message: format!("duplicate role id `{}`", role.id),
                });
            }
        }
        for g in &self.severity_guidance {
            if !(1..=4).contains(&g.level) {
                out.push(Finding {
                    needle: Some(format!("level: {}", g.level)),
                    nth: 1,
                    message: format!("severity level {} is outside 1..4", g.level),
                });
            }
        }
        let mut deadlines = BTreeSet::new();
        for d in &self.deadlines {
            if !deadlines.insert(d.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&d.id)),
                    nth: 2,
                    message: format!("duplicate deadline id `{}`", d.id),
                });
            }
            if d.stages.is_empty() {
                out.push(Finding {
                    needle: Some(quoted(&d.id)),
                    nth: 1,
                    message: format!("deadline `{}` has no stages", d.id),
                });
            }
        }
        for d in &self.deadlines {
            let named = d.met_by.iter().chain(d.stages.iter().filter_map(|s| s.met_by.as_ref()));
            for m in named {
                // A playbook built on a base may name the base's items: checked once merged.
                let missing = match m {
                    MetBy::Item(id) => self.base.is_none() && self.item(id).is_none(),
                    MetBy::Action(id) => self.base.is_none() && self.action(id).is_none(),
                    MetBy::StatusUpdate(_) => false,
                };
                if missing {
                    out.push(Finding {
                        needle: Some(quoted(&d.id)),
                        nth: 1,
                        message: format!(
                            "deadline `{}` is met by `{}`, which is not in this playbook",
                            d.id,
                            met_by_id(m)
                        ),
                    });
                }
            }
        }
        let mut cadences = BTreeSet::new();
        for c in &self.update_cadence {
            if !(1..=4).contains(&c.severity) || !cadences.insert(c.severity) {
                out.push(Finding {
                    needle: Some(format!("severity: {}", c.severity)),
                    nth: 1,
                    message: format!(
                        "update cadence for severity {} is outside 1..4 or listed twice",
                        c.severity
                    ),
                });
            }
            if c.minutes == 0 {
                out.push(Finding {
                    needle: Some(format!("severity: {}", c.severity)),
                    nth: 1,
                    message: format!("update cadence for severity {} must be at least one minute", c.severity),
                });
            }
        }
        let mut templates = BTreeSet::new();
        for t in &self.templates {
            if !templates.insert(t.id.as_str()) {
                out.push(Finding {
                    needle: Some(quoted(&t.id)),
                    nth: 2,
                    message: format!("duplicate template id `{}`", t.id),
                });
            }
        }
        out
    }

    /// The content bar of `playbook check --strict`, for a playbook as declared (after `base`).
    pub fn strict_findings(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        let at = |needle: String, message: String| Finding {
            needle: Some(needle),
            nth: 1,
            message,
        };
        for phase in Phase::ALL {
            let items = self.phases.get(phase);
            let with_role = items.iter().filter(|i| i.role.is_some()).count();
            let field = format!("{}:", phase.slug().replace('-', "_"));
            if with_role < 3 {
                out.push(at(
                    field.clone(),
                    format!("{phase} needs at least three items with a role (has {with_role})"),
                ));
            }
            if phase != Phase::Preparation && !items.iter().any(|i| i.required) {
                out.push(at(field, format!("{phase} needs at least one required item")));
            }
        }
        for a in &self.actions {
            if a.why.trim().is_empty() {
                out.push(at(format!("\"{}\"", a.id), format!("action `{}` needs a `why`", a.id)));
            }
            if a.command.is_some() && a.rollback.is_none() {
                out.push(at(
                    format!("\"{}\"", a.id),
                    format!("action `{}` has a command but no rollback", a.id),
                ));
            }
        }
        for d in &self.deadlines {
            if d.source.trim().is_empty() {
                out.push(at(
                    format!("\"{}\"", d.id),
                    format!("deadline `{}` needs a `source` (the rule it comes from)", d.id),
                ));
            }
            if d.met_by.is_none() && d.stages.iter().any(|s| s.met_by.is_none()) {
                out.push(at(
                    format!("\"{}\"", d.id),
                    format!(
                        "deadline `{}` needs a `met_by` (the item, action or status update that meets it); without one it can never be met and stays OVERDUE",
                        d.id
                    ),
                ));
            }
        }
        for t in &self.templates {
            let unknown = super::template::unknown_placeholders(&t.text);
            if !unknown.is_empty() {
                let names: Vec<String> = unknown.iter().map(|n| format!("{{{n}}}")).collect();
                let known: Vec<String> = super::template::PLACEHOLDERS
                    .iter()
                    .map(|(k, _)| format!("{{{k}}}"))
                    .collect();
                out.push(at(
                    format!("\"{}\"", t.id),
                    format!(
                        "template `{}` names {}, which warroom does not fill (it stays in the text as written); known: {}",
                        t.id,
                        names.join(", "),
                        known.join(" ")
                    ),
                ));
            }
        }
        let disclaimer = self.disclaimer.to_lowercase();
        if !disclaimer.contains("not legal advice") || !disclaimer.contains("counsel") {
            out.push(at(
                "disclaimer:".into(),
                "the disclaimer must say it is not legal advice and that counsel confirms deadlines".into(),
            ));
        }
        out
    }

    /// The canonical text whose BLAKE3 identifies this playbook in an incident.
    pub fn canonical_ron(&self) -> String {
        let config = ron::ser::PrettyConfig::new().indentor("  ".to_string());
        // Serialising plain data structures cannot fail.
        ron::ser::to_string_pretty(self, config).unwrap_or_default()
    }

    pub fn content_hash(&self) -> String {
        blake3::hash(self.canonical_ron().as_bytes()).to_hex().to_string()
    }
}

/// The id a `met_by` names (`status-update:internal` for an audience).
pub fn met_by_id(m: &MetBy) -> String {
    match m {
        MetBy::Item(id) | MetBy::Action(id) => id.clone(),
        MetBy::StatusUpdate(a) => format!("status-update:{}", audience_word(*a)),
    }
}

/// `internal` / `external` / `executives` / `customers` / `regulator`.
pub fn audience_word(a: Audience) -> &'static str {
    a.word()
}

/// Ids are used in file names, CLI arguments and keyboard pickers: keep them plain.
pub fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Convert a byte offset in `text` to a 1-based `(line, col)`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where a finding points in the source text (falls back to 1:1).
pub fn locate(text: &str, finding: &Finding) -> (usize, usize) {
    let Some(needle) = &finding.needle else {
        return (1, 1);
    };
    let mut found = None;
    let mut from = 0;
    for _ in 0..finding.nth.max(1) {
        match text[from..].find(needle.as_str()) {
            Some(i) => {
                found = Some(from + i);
                from += i + needle.len();
            }
            None => break,
        }
    }
    found.map_or((1, 1), |o| line_col(text, o))
}

pub use super::ron_input::Diagnostic;

/// Parse a playbook (BOM and CRLF allowed). Unknown fields are skipped and returned beside it,
/// each at its own `line:col` with a did-you-mean (strict callers treat them as errors); a
/// misspelled required field is the error, reported where it was written.
pub fn parse(text: &str) -> Result<(Playbook, Vec<Diagnostic>), Diagnostic> {
    let (outcome, unknown) = parse_ron_located(text);
    outcome.map(|p| (p, unknown))
}

/// The outcome of parsing a playbook and every unknown field found on the way (see
/// [`super::ron_input::parse_ron`]).
pub fn parse_ron_located(text: &str) -> (Result<Playbook, Diagnostic>, Vec<Diagnostic>) {
    super::ron_input::parse_ron(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_action_asks_for_its_command_variables_but_never_secrets() {
        let mut a = Action {
            id: "isolate".into(),
            title: "t".into(),
            why: "w".into(),
            term: Term::Short,
            approval: Approval::None,
            role: None,
            command: Some("curl $API/machines/${MACHINE_ID}/isolate -H \"Bearer $MDE_TOKEN\" $MACHINE_ID $x".into()),
            rollback: None,
            params: vec![],
        };
        assert_eq!(a.parameters(), vec!["API".to_string(), "MACHINE_ID".to_string()]);
        // The rollback's variables are asked for too; the automatic ones never.
        a.rollback = Some("echo undo $HOST from $OTHER_HOST in $INCIDENT_ID $WARROOM_ACTION".into());
        assert_eq!(a.parameters(), ["API", "MACHINE_ID", "HOST", "OTHER_HOST"]);
        a.params = vec!["HOST".into()];
        assert_eq!(a.parameters(), ["HOST", "API", "MACHINE_ID", "OTHER_HOST"]);
    }

    #[test]
    fn audiences_old_and_new_read_and_write_as_their_bare_names() {
        // Records and playbooks from before the last three audiences read unchanged, and the
        // old ones are still written as they were (so older hashes and golden lines hold).
        for a in Audience::ALL {
            let text = ron::to_string(&a).expect("serialises");
            assert_eq!(text.to_lowercase(), a.word(), "{a:?}");
            assert_eq!(ron::from_str::<Audience>(&text).expect("parses"), a);
            assert_eq!(Audience::from_word(&text), Some(a));
        }
        assert_eq!(ron::to_string(&Audience::Internal).unwrap(), "Internal");
        assert_eq!(ron::to_string(&Audience::External).unwrap(), "External");
        assert!(ron::from_str::<Audience>("Board").is_err());
        assert_eq!(Audience::from_word("board"), None);
        let t: Template = ron::from_str(
            r#"(id: "reg", audience: Regulator, title: "Regulator: Art. 33 notification", text: "{title}")"#,
        )
        .expect("a template names a new audience");
        assert_eq!(t.audience, Audience::Regulator);
        let m: MetBy = ron::from_str("StatusUpdate(Executives)").expect("met_by names one");
        assert_eq!(met_by_id(&m), "status-update:executives");
    }

    #[test]
    fn strict_names_a_placeholder_warroom_does_not_fill() {
        let text = r#"(id: "t", title: "T", version: "1", description: "d", phases: (),
            templates: [(id: "exec", audience: Executives, title: "x", text: "{title} {severty} {next_update} [FILL]")])"#;
        let (p, _) = parse(text).expect("parses");
        assert!(p.validate().is_empty(), "not an error outside --strict");
        let found: Vec<String> = p.strict_findings().into_iter().map(|f| f.message).collect();
        let hits: Vec<&String> = found.iter().filter(|m| m.contains("{severty}")).collect();
        assert_eq!(hits.len(), 1, "{found:?}");
        assert!(
            hits[0].contains("template `exec`") && hits[0].contains("{severity}"),
            "{hits:?}"
        );
        assert!(
            !hits[0].contains("{next_update},"),
            "only the unknown one is named: {hits:?}"
        );
    }

    #[test]
    fn met_by_and_update_cadence_are_optional_and_leave_older_hashes_alone() {
        let old = r#"(id: "t", title: "T", version: "1", description: "d", phases: (identification: [(id: "tell", text: "x")]),
            deadlines: [(id: "d", name: "n", source: "s", trigger: Declared, stages: [(label: "l", within: Hours(24))], audience: "a")])"#;
        let (p, unknown) = parse(old).expect("an older playbook parses");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(p.deadlines[0].met_by, None);
        assert!(p.update_cadence.is_empty());
        // Nothing new is written for it, so its content hash (the incident's key) is unchanged.
        let canon = p.canonical_ron();
        assert!(
            !canon.contains("met_by") && !canon.contains("update_cadence"),
            "{canon}"
        );

        let new = r#"(id: "t", title: "T", version: "2", description: "d", phases: (identification: [(id: "tell", text: "x")]),
            update_cadence: [(severity: 1, minutes: 30)],
            deadlines: [(id: "d", name: "n", source: "s", trigger: Declared, audience: "a", met_by: Some(StatusUpdate(External)),
              stages: [(label: "l", within: Hours(24), met_by: Some(Item("tell"))), (label: "m", within: Days(3))])])"#;
        let (p, unknown) = parse(new).expect("met_by and update_cadence parse");
        assert!(unknown.is_empty(), "{unknown:?}");
        assert_eq!(p.deadlines[0].stages[0].met_by, Some(MetBy::Item("tell".into())));
        assert_eq!(p.deadlines[0].met_by, Some(MetBy::StatusUpdate(Audience::External)));
        assert_eq!(
            p.update_cadence,
            vec![Cadence {
                severity: 1,
                minutes: 30
            }]
        );
        assert!(p.validate().is_empty(), "{:?}", p.validate());

        // A met_by naming nothing in the playbook, a bad cadence: both found.
        let bad = new
            .replace(r#"Item("tell")"#, r#"Item("nope")"#)
            .replace("minutes: 30", "minutes: 0");
        let (p, _) = parse(&bad).expect("parses");
        let found: Vec<String> = p.validate().into_iter().map(|f| f.message).collect();
        assert!(found.iter().any(|m| m.contains("met by `nope`")), "{found:?}");
        assert!(found.iter().any(|m| m.contains("at least one minute")), "{found:?}");
    }
}
