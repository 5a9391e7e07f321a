//! Write verbs. Each is held to the rules the fold enforces *before* anything is written, so the
//! CLI, the console and a hand-written line obey the same law.

use std::path::Path;

use super::context::{now_ms, Ctx};
use super::{Command, Fail, Global, Result};
use crate::domain::event::*;
use crate::domain::identity::valid_name;
use crate::domain::playbook::{self, Playbook};
use crate::domain::time::format_utc;
use crate::domain::{sanitize, Phase};
use crate::store::incident::{declare as store_declare, DeclareRequest, Incident};
use crate::store::playbooks::{parse_strict, Library};
use crate::store::writer::{Appended, Draft, LogWriter};
use crate::store::HEADER_FILE;

/// Find a playbook by id, or read one from a path, strictly, with its base resolved.
pub fn resolve_playbook(g: &Global, wanted: &str) -> Result<Playbook> {
    let lib = Library::load(g.playbooks.as_deref());
    let path = Path::new(wanted);
    if wanted.ends_with(".ron") || wanted.contains('/') {
        let text =
            crate::store::fsutil::read_text_file(path).map_err(|e| Fail::new(format!("cannot read {wanted}: {e}")))?;
        let pb = parse_strict(wanted, &text).map_err(|errs| Fail::new(errs.join("\n")))?;
        let entry = crate::store::playbooks::Entry {
            playbook: pb,
            origin: crate::store::playbooks::Origin::Dir(path.to_path_buf()),
            file: wanted.to_string(),
            text,
        };
        return lib
            .resolve_entry(&entry, &mut Vec::new())
            .map_err(|e| Fail::new(e.join("\n")));
    }
    lib.resolve(wanted).map_err(|e| {
        let mut msg = e.join("\n");
        if !lib.errors.is_empty() {
            msg.push_str(&format!(
                "\n(some playbook files were skipped:\n{})",
                lib.errors.join("\n")
            ));
        }
        Fail::new(msg)
    })
}

fn person(raw: &str) -> Result<String> {
    let who = raw.trim().to_lowercase();
    if valid_name(&who) {
        Ok(who)
    } else {
        Err(Fail::new(format!(
            "`{raw}` is not a responder name: use 1-32 characters of a-z, 0-9, `.`, `_` or `-`"
        )))
    }
}

#[allow(clippy::too_many_arguments)]
pub fn declare(
    g: &Global,
    playbook: &str,
    title: String,
    severity: u8,
    exercise: bool,
    commander: Option<String>,
    require_signatures: bool,
    when: &super::When,
) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let identity = ctx.identity(g)?;
    if require_signatures && ctx.store.signer.is_none() {
        return Err(Fail::new(match &ctx.store.trust.signer_error {
            Some(e) => format!("cannot sign: {e}; nothing declared"),
            None => "--require-signatures needs your signing key: add --sign agent (or --sign ~/.ssh/KEY.pub), or set WARROOM_SIGNING_KEY; nothing declared".into(),
        }));
    }
    let pb = resolve_playbook(g, playbook)?;
    if pb.partial {
        return Err(Fail::new(format!(
            "`{}` is a building block for other playbooks, not declared on its own",
            pb.id
        )));
    }
    let occurred = ctx.occurred(when)?;
    if title.trim().is_empty() {
        return Err(Fail::new("the title is empty"));
    }
    let commander = match commander {
        Some(c) => person(&c)?,
        None => identity.writer.name.clone(),
    };
    let req = DeclareRequest {
        playbook: &pb,
        title,
        severity,
        mode: if exercise { Mode::Exercise } else { Mode::Real },
        commander,
        require_signatures,
        occurred,
    };
    let (id, event) = store_declare(&ctx.store, &identity, req, now_ms)?;
    outln!("{id}");
    super::run_hooks(&ctx, &id, &[event]);
    Ok(())
}

/// The playbook the incident uses, from its header copy: cheap, no history read.
/// A text argument, or standard input when it is `-` (a BOM and CRLF line ends are dropped, and
/// so are the trailing newlines a file or `echo` leaves).
fn text_arg(text: String) -> Result<String> {
    if text != "-" {
        return Ok(text);
    }
    use std::io::Read;
    let mut raw = Vec::new();
    std::io::stdin()
        .take(MAX_LINE as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| Fail::new(format!("cannot read the text from standard input: {e}")))?;
    if raw.len() > MAX_LINE {
        return Err(Fail::new(format!(
            "the text on standard input is longer than a record may be ({} KiB)",
            MAX_LINE / 1024
        )));
    }
    let text = String::from_utf8(raw).map_err(|_| Fail::new("standard input is not UTF-8 text"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).replace("\r\n", "\n");
    Ok(text.trim_end_matches('\n').to_string())
}

fn incident_playbook(ctx: &Ctx, id: &str) -> Option<Playbook> {
    let dir = ctx.store.incident_dir(id);
    let header: crate::store::incident::Header =
        ron::from_str(&std::fs::read_to_string(dir.join(HEADER_FILE)).ok()?).ok()?;
    let text = std::fs::read_to_string(
        dir.join(crate::store::PLAYBOOKS_DIR)
            .join(format!("{}.ron", header.playbook_hash)),
    )
    .ok()?;
    playbook::parse(&text).ok().map(|(p, _)| p)
}

pub fn run(g: &Global, cmd: Command) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let incident = match &cmd {
        Command::Note { incident, .. }
        | Command::Check { incident, .. }
        | Command::Action {
            incident: Some(incident),
            ..
        }
        | Command::Assign { incident, .. }
        | Command::Phase { incident, .. }
        | Command::Severity { incident, .. }
        | Command::Role { incident, .. }
        | Command::Classify { incident, .. }
        | Command::Materiality { incident, .. }
        | Command::Status { incident, .. }
        | Command::Resolve { incident, .. }
        | Command::Reopen { incident, .. }
        | Command::Archive { incident, .. }
        | Command::Duplicate { incident, .. }
        | Command::Discovery { incident, .. }
        | Command::Followup { incident, .. }
        | Command::Correct { incident, .. }
        | Command::Review { incident, .. } => incident.clone(),
        _ => return Err(Fail::new("not a write verb")),
    };
    let id = ctx.store.resolve(&incident)?;
    let identity = ctx.identity(g)?;
    let by = identity.writer.to_string();
    let need_playbook = || {
        incident_playbook(&ctx, &id).ok_or_else(|| {
            Fail::new(format!(
                "cannot read {id}'s playbook copy (still syncing?); try again in a moment"
            ))
        })
    };
    let (body, occurred): (Body, _) = match cmd {
        Command::Note {
            incident: _,
            text,
            tags,
            when,
        } => {
            let text = text_arg(text)?;
            if text.trim().is_empty() {
                return Err(Fail::new("the note is empty"));
            }
            (
                Note {
                    text: text.into(),
                    tags: tags.into(),
                }
                .into(),
                ctx.occurred(&when)?,
            )
        }
        Command::Check {
            incident: _,
            item,
            state,
            note,
            when,
        } => {
            let pb = need_playbook()?;
            if pb.item(&item).is_none() {
                return Err(unknown(
                    "checklist item",
                    &item,
                    pb.phases.all().map(|(_, i)| i.id.as_str()),
                ));
            }
            let body: Body = ChecklistSet {
                item,
                state: state.into(),
                note,
            }
            .into();
            if matches!(&body, Body::ChecklistSet(c) if c.state == crate::domain::event::ItemState::Skipped) {
                // Skipping needs a reason, and waiving a deadline is the commander's: the fold's rules.
                checked(&ctx, &id, &body, &by)?;
            }
            (body, ctx.occurred(&when)?)
        }
        Command::Assign {
            incident: _,
            target,
            who,
            when,
        } => {
            let pb = need_playbook()?;
            let t = if pb.item(&target).is_some() {
                Target::Item(target)
            } else if pb.action(&target).is_some() {
                Target::Action(target)
            } else {
                let ids = pb
                    .phases
                    .all()
                    .map(|(_, i)| i.id.as_str())
                    .chain(pb.actions.iter().map(|a| a.id.as_str()));
                return Err(unknown("item or action", &target, ids));
            };
            (
                Assigned {
                    target: t,
                    who: person(&who)?,
                }
                .into(),
                ctx.occurred(&when)?,
            )
        }
        Command::Role {
            incident: _,
            role,
            who,
            when,
        } => {
            let pb = need_playbook()?;
            if !pb.has_role(&role) {
                let ids = std::iter::once("commander").chain(pb.roles.iter().map(|r| r.id.as_str()));
                return Err(unknown("role", &role, ids));
            }
            let body: Body = RoleAssigned {
                role,
                who: person(&who)?,
            }
            .into();
            if matches!(&body, Body::RoleAssigned(r) if r.role == crate::domain::playbook::COMMANDER) {
                // Handing off command is held to the fold's rule (the commander, or a takeover).
                let inc = Incident::open(&ctx.store, &id, now_ms());
                inc.state
                    .check(&body, &by, now_ms())
                    .map_err(|v| Fail::new(format!("refused: {v}")))?;
            }
            (body, ctx.occurred(&when)?)
        }
        Command::Severity {
            incident: _,
            severity,
            reason,
            when,
        } => (SeverityChanged { severity, reason }.into(), ctx.occurred(&when)?),
        Command::Classify {
            incident: _,
            note,
            when,
        } => (Classified { note }.into(), ctx.occurred(&when)?),
        Command::Materiality {
            incident: _,
            note,
            when,
        } => (MaterialityDetermined { note }.into(), ctx.occurred(&when)?),
        Command::Status {
            incident: _,
            audience,
            text,
            when,
        } => {
            let text = text_arg(text)?;
            if text.trim().is_empty() {
                return Err(Fail::new("the status update is empty"));
            }
            (
                StatusUpdate {
                    audience: audience.into(),
                    text,
                }
                .into(),
                ctx.occurred(&when)?,
            )
        }
        Command::Resolve {
            incident: _,
            summary,
            reason,
            when,
        } => {
            let inc = Incident::open(&ctx.store, &id, now_ms());
            if inc.state.is_resolved() {
                return Err(Fail::new(format!("{id} is already resolved")));
            }
            let open = inc.state.open_required_at_resolve();
            let body: Body = Resolved {
                summary,
                override_open: open.clone(),
                reason,
            }
            .into();
            inc.state
                .check(&body, &by, now_ms())
                .map_err(|v| Fail::new(format!("refused: {v}; give --reason WHY to record why you resolve it")))?;
            if !open.is_empty() {
                eprintln!(
                    "warning: resolving with {} required item(s) still open: {} — recorded as an override",
                    open.len(),
                    open.join(", ")
                );
            }
            (body, ctx.occurred(&when)?)
        }
        Command::Reopen {
            incident: _,
            reason,
            when,
        } => {
            let body: Body = Reopened { reason: Some(reason) }.into();
            let inc = checked(&ctx, &id, &body, &by)?;
            if !inc.state.is_resolved() && !inc.state.is_archived() {
                return Err(Fail::new(format!("{id} is not resolved or archived")));
            }
            (body, ctx.occurred(&when)?)
        }
        Command::Discovery {
            incident: _,
            time,
            reason,
        } => {
            let discovered =
                crate::domain::time::parse_occurred(&time, crate::domain::time::to_datetime(now_ms()), &ctx.zone)
                    .map_err(Fail::new)?;
            if reason.trim().is_empty() {
                return Err(Fail::new("the reason is empty: say why this is the discovery time"));
            }
            let body: Body = DiscoverySet { discovered, reason }.into();
            let inc = checked(&ctx, &id, &body, &by)?;
            if let Some(was) = inc.state.derived.discovered {
                eprintln!(
                    "discovery: {} (was {}); deadlines that start at discovery move with it",
                    format_utc(discovered),
                    format_utc(was)
                );
            }
            (body, None)
        }
        Command::Followup { incident: _, what } => {
            use super::FollowUpCommand as F;
            let inc = Incident::open(&ctx.store, &id, now_ms());
            let body: Body = match what {
                F::Add {
                    text,
                    kind,
                    owner,
                    due,
                    from,
                } => {
                    let text = text_arg(text)?;
                    if text.trim().is_empty() {
                        return Err(Fail::new("the follow-up is empty"));
                    }
                    let due = due
                        .map(|d| {
                            crate::domain::time::parse_due(&d, crate::domain::time::to_datetime(now_ms()), &ctx.zone)
                                .and_then(|t| crate::domain::time::check_due_for_writing(t, now_ms()))
                                .map_err(Fail::new)
                        })
                        .transpose()?;
                    let from = from
                        .map(|f| resolve_prefix(inc.state.events().map(|e| e.id.as_str()), &f, "record"))
                        .transpose()?;
                    FollowUp {
                        text,
                        owner: owner.map(|o| person(&o)).transpose()?,
                        kind: kind.word().into(),
                        due,
                        from,
                    }
                    .into()
                }
                other => {
                    let (f, note, state) = match other {
                        F::Done { id, note } => (id, note, FollowUpState::Done),
                        F::Cancel { id, note } => (id, note, FollowUpState::Cancelled),
                        F::Reopen { id, note } => (id, note, FollowUpState::Open),
                        _ => return Err(Fail::new("not a write verb")),
                    };
                    let list = inc.state.follow_ups();
                    let followup =
                        resolve_prefix(list.iter().map(|f| f.id.as_str()), &f, "follow-up").map_err(|e| {
                            match inc.state.retracted_follow_up(&f) {
                                Some(id) => {
                                    Fail::new(format!("follow-up {id} was retracted: there is nothing to mark"))
                                }
                                None => e,
                            }
                        })?;
                    if list.iter().any(|x| x.id == followup && x.state == state) {
                        return Err(Fail::new(format!("follow-up {followup} is already {state:?}")));
                    }
                    FollowUpSet {
                        followup,
                        state,
                        owner: None,
                        due: None,
                        note,
                    }
                    .into()
                }
            };
            inc.state
                .check(&body, &by, now_ms())
                .map_err(|v| Fail::new(format!("refused: {v}")))?;
            (body, None)
        }
        Command::Correct {
            incident: _,
            record,
            text,
            retract,
            reason,
            when,
        } => {
            let inc = Incident::open(&ctx.store, &id, now_ms());
            if let Some(c) = inc.state.events().find_map(|e| match &e.body {
                Body::Corrected(c) if e.id.starts_with(record.trim()) && !record.trim().is_empty() => Some(c),
                _ => None,
            }) {
                return Err(Fail::new(format!(
                    "refused: a correction cannot be corrected; correct the original {}",
                    c.id
                )));
            }
            let target = resolve_prefix(
                inc.state
                    .events()
                    .filter(|e| correctable(&e.body))
                    .map(|e| e.id.as_str()),
                &record,
                "note, status update or follow-up",
            )?;
            let Some(e) = inc.state.events().find(|e| e.id == target) else {
                return Err(Fail::new("the record vanished while reading"));
            };
            let occurred = ctx.occurred(&when)?;
            let text = match (text, retract) {
                (_, true) => None,
                (None, false) if occurred.is_some() => None,
                (Some(t), false) => {
                    let t = text_arg(t)?;
                    if t.trim().is_empty() {
                        return Err(Fail::new("the corrected text is empty (use --retract to retract it)"));
                    }
                    Some(t)
                }
                (None, false) => return Err(Fail::new("give --text NEW or --retract")),
            };
            if reason.trim().is_empty() {
                return Err(Fail::new("the reason is empty: say why it is corrected"));
            }
            let body: Body = Corrected {
                id: e.id.to_string(),
                log: e.log.to_string(),
                seq: e.seq,
                text,
                reason,
                occurred,
            }
            .into();
            inc.state
                .check(&body, &by, now_ms())
                .map_err(|v| Fail::new(format!("refused: {v}")))?;
            (body, None)
        }
        Command::Review { field, text, .. } => {
            let (Some(field), Some(text)) = (field, text) else {
                return Err(Fail::new(
                    "give the FIELD and its TEXT (or neither, to print the review)",
                ));
            };
            let text = text_arg(text)?;
            if text.trim().is_empty() {
                return Err(Fail::new("the answer is empty"));
            }
            let body: Body = ReviewSet {
                field: field.trim().to_string(),
                text,
            }
            .into();
            checked(&ctx, &id, &body, &by)?;
            (body, None)
        }
        Command::Archive { incident: _, when } => {
            let inc = Incident::open(&ctx.store, &id, now_ms());
            if !inc.state.is_resolved() {
                return Err(Fail::new(format!(
                    "{id} is not resolved; resolve it first (warroom resolve {id})"
                )));
            }
            (Archived {}.into(), ctx.occurred(&when)?)
        }
        Command::Duplicate { incident: _, of, when } => {
            let other = duplicate_root(&ctx, &id, &ctx.store.resolve(&of)?)?;
            let appended = LogWriter::new(&ctx.store, &id, &identity).append(
                vec![
                    Draft::new(DuplicateOf { of: other.clone() }).at(ctx.occurred(&when)?),
                    Draft::new(Archived {}),
                ],
                now_ms,
            )?;
            report(&id, &appended);
            eprintln!("{id} is a duplicate of {other}: linked and archived");
            return Ok(());
        }
        Command::Phase {
            incident: _,
            phase,
            when,
        } => {
            let phase: Phase = phase.parse().map_err(Fail::new)?;
            let inc = Incident::open(&ctx.store, &id, now_ms());
            let open = inc.state.open_required_before(phase);
            if !open.is_empty() {
                eprintln!(
                    "warning: entering {phase} with {} required item(s) still open: {} — recorded as an override",
                    open.len(),
                    open.join(", ")
                );
            }
            let body: Body = PhaseEntered {
                phase,
                override_open: open,
            }
            .into();
            inc.state
                .check(&body, &by, now_ms())
                .map_err(|v| Fail::new(format!("refused: {v}")))?;
            let occurred = ctx.occurred(&when)?;
            inc.state
                .check_when(&body, occurred.unwrap_or_else(now_ms))
                .map_err(|v| Fail::new(format!("refused: {v}")))?;
            (body, occurred)
        }
        Command::Action {
            incident: _,
            action: Some(action),
            state: Some(state),
            note,
            when,
            run: None,
        } => {
            // Transitions and two-person approval depend on the history: fold it.
            let inc = Incident::open(&ctx.store, &id, now_ms());
            let mut state: ActionState = state.into();
            let exercise = matches!(inc.state.mode(), Some(Mode::Exercise | Mode::Demo));
            let has_command = inc
                .state
                .playbook()
                .and_then(|p| p.action(&action))
                .is_some_and(|a| a.command.is_some());
            if exercise && has_command && state == ActionState::Running {
                // An exercise never executes a command: it is recorded as a dry run.
                eprintln!("exercise: `{action}` is recorded as a dry run; its command is not executed");
                state = ActionState::DryRun;
            }
            let body: Body = ActionSet { action, state, note }.into();
            inc.state
                .check(&body, &by, now_ms())
                .map_err(|v| Fail::new(format!("refused: {v}")))?;
            (body, ctx.occurred(&when)?)
        }
        _ => return Err(Fail::new("not a write verb")),
    };
    let backdated = occurred.is_some() || matches!(&body, Body::Corrected(c) if c.occurred.is_some());
    let appended = LogWriter::new(&ctx.store, &id, &identity).append(vec![Draft::new(body).at(occurred)], now_ms)?;
    report(&id, &appended);
    if backdated {
        propose_discovery(&ctx, &id);
    }
    super::run_hooks(&ctx, &id, &appended.events);
    Ok(())
}

/// After a backdated write: if the earliest evidence is now before the discovery time, say on
/// stderr what the commander can do (the clocks keep counting from discovery until then).
pub fn propose_discovery(ctx: &Ctx, id: &str) {
    let inc = Incident::open(&ctx.store, id, now_ms());
    if let Some(n) = crate::domain::deadline::discovery_nudge(&inc.state) {
        let (e, d) = (
            crate::domain::deadline::short_time(n.evidence, n.discovered),
            crate::domain::deadline::short_time(n.discovered, n.evidence),
        );
        eprintln!(
            "earliest evidence now {e} ({}) is before discovery {d} — the commander can set it: warroom discovery {id} {} --reason \"{}\"",
            n.record,
            format_utc(n.evidence),
            n.reason().replace('"', "'")
        );
    }
}

/// The one id among `ids` that starts with `prefix` (a whole id wins); refused when none or
/// several do.
pub fn resolve_prefix<'a>(ids: impl Iterator<Item = &'a str>, prefix: &str, what: &str) -> Result<String> {
    let wanted = prefix.trim();
    if wanted.is_empty() {
        return Err(Fail::new(format!("name the {what}: its id or a unique prefix")));
    }
    let mut hits: Vec<&str> = ids.filter(|id| id.starts_with(wanted)).collect();
    hits.sort_unstable();
    hits.dedup();
    if let Some(exact) = hits.iter().find(|h| **h == wanted) {
        return Ok(exact.to_string());
    }
    match hits.as_slice() {
        [one] => Ok(one.to_string()),
        [] => Err(Fail::new(format!(
            "no {what} has an id starting with `{}`",
            sanitize(wanted)
        ))),
        many => Err(Fail::new(format!(
            "`{}` names {} {what}s ({}…): give more of the id",
            sanitize(wanted),
            many.len(),
            many.iter().take(3).map(|s| sanitize(s)).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// Fold the incident and hold `body` to the fold's rules before it is written ("what the fold
/// would refuse, the writer refuses first"). Returns the folded incident.
fn checked(ctx: &Ctx, id: &str, body: &Body, by: &str) -> Result<Incident> {
    let inc = Incident::open(&ctx.store, id, now_ms());
    if let Some(why) = crate::domain::unsigned::unsigned_declaration(&inc.state) {
        return Err(Fail::new(format!("{id}: not applied: {}", sanitize(&why))));
    }
    if inc.is_syncing() {
        return Err(Fail::new(format!(
            "{id} has not been declared (still syncing?); try again in a moment"
        )));
    }
    inc.state
        .check(body, by, now_ms())
        .map_err(|v| Fail::new(format!("refused: {v}")))?;
    Ok(inc)
}

/// The incident a duplicate should point to: `of`, or, if `of` is itself a duplicate, the
/// incident at the end of its links. Refused: a link back to `id` (a cycle would hide both from
/// the board), a missing or resolved or archived target.
fn duplicate_root(ctx: &Ctx, id: &str, of: &str) -> Result<String> {
    let mut target = of.to_string();
    let mut path = vec![id.to_string()];
    loop {
        if path.contains(&target) {
            return Err(Fail::new(format!(
                "refused: {} leads back to {id} ({} → {target}): a duplicate must point to an open incident that is not itself a duplicate",
                sanitize(of),
                path.join(" → ")
            )));
        }
        if !crate::store::incident::valid_incident_id(&target) {
            return Err(Fail::new(format!(
                "refused: {} links to `{}`, which is not an incident id",
                path.join(" → "),
                sanitize(&target)
            )));
        }
        let inc = Incident::open(&ctx.store, &target, now_ms());
        if inc.is_syncing() {
            return Err(Fail::new(format!(
                "{target} has not been declared (still syncing?); try again in a moment"
            )));
        }
        match &inc.state.derived.duplicate_of {
            Some(next) => {
                eprintln!(
                    "{target} is itself a duplicate of {}: linking to that one",
                    sanitize(&next.value)
                );
                path.push(target);
                target = next.value.clone();
            }
            None if inc.state.derived.archived.is_some() || inc.state.is_resolved() => {
                return Err(Fail::new(format!(
                "refused: {target} is resolved or archived; a duplicate points to an open incident (reopen it first)"
            )))
            }
            None => return Ok(target),
        }
    }
}

fn unknown<'a>(what: &str, wanted: &str, known: impl Iterator<Item = &'a str>) -> Fail {
    let known: Vec<&str> = known.collect();
    Fail::new(format!(
        "the playbook has no {what} `{}`; known: {}",
        sanitize(wanted),
        known.join(", ")
    ))
}

/// One line on stdout per write, and any warning on stderr.
pub fn report(id: &str, appended: &Appended) {
    if let Some(r) = &appended.restored {
        eprintln!(
            "warning: your log had lost {} record(s) you wrote (a sync tool rolled it back, or someone edited it); re-appended seqs {}-{} from this host's copy (recorded on the timeline)",
            r.restored, r.from, r.to
        );
    }
    if !appended.foreign.is_empty() {
        let seqs: Vec<String> = appended.foreign.iter().take(10).map(u64::to_string).collect();
        eprintln!(
            "warning: your log holds {} record(s) this install never wrote (seq {}): someone wrote under your name or edited your log; `warroom verify` says more",
            appended.foreign.len(),
            seqs.join(", ")
        );
    }
    if let Some((offset, bytes)) = appended.repaired {
        eprintln!("note: repaired a torn write from an earlier crash ({bytes} bytes at offset {offset})");
    }
    for w in &appended.ahead {
        eprintln!("warning: {w} is more than 5 minutes ahead of this host's clock: one of the two clocks is wrong");
    }
    if let Some(e) = appended
        .events
        .iter()
        .rev()
        .find(|e| !matches!(e.body, Body::Heads(_) | Body::Signed(_)))
    {
        outln!("{id} {} seq {} at {}", e.kind(), e.seq, format_utc(e.when()));
    }
}
