//! Read verbs: list, show, tail, verify, playbook list/check. Everything printed here came from the
//! shared directory and goes through `sanitize`.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{json, Value};

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::describe::{action_state_word, describe_in, item_state_word};
use crate::domain::event::{self, Event};
use crate::domain::sanitize::sanitize_json;
use crate::domain::time::{format_age, format_utc};
use crate::domain::{sanitize, IncidentState};
use crate::store::incident::Incident;
use crate::store::playbooks::{self, Library};
use crate::store::summary::Summary;
use crate::store::{verify as store_verify, watch};

fn severity_word(s: Option<u8>) -> String {
    s.map_or("SEV?".into(), |s| format!("SEV{s}"))
}

pub fn incident_status(inc: &Incident) -> &'static str {
    let d = &inc.state.derived;
    if inc.is_syncing() {
        if crate::domain::unsigned::is_unsigned(&inc.state) {
            crate::domain::unsigned::STATUS
        } else {
            "syncing"
        }
    } else if d.archived.is_some() && !inc.link_broken {
        "archived"
    } else if inc.state.is_resolved() {
        "resolved"
    } else {
        "active"
    }
}

/// `incident_status` of a summary.
fn summary_status(s: &Summary, link_broken: bool) -> &'static str {
    if s.unsigned {
        crate::domain::unsigned::STATUS
    } else if s.syncing {
        "syncing"
    } else if s.archived && !link_broken {
        "archived"
    } else if s.resolved {
        "resolved"
    } else {
        "active"
    }
}

/// Follow one incident's duplicate link (at most 32 hops) and judge it as `list` does.
fn follow_link(ctx: &Ctx, inc: &mut Incident, now: crate::domain::time::Millis) {
    let mut links = std::collections::BTreeMap::new();
    let mut next = inc.state.derived.duplicate_of.as_ref().map(|r| r.value.clone());
    links.insert(inc.id.clone(), next.clone());
    for _ in 0..32 {
        let Some(id) = next.filter(|id| !links.contains_key(id)) else {
            break;
        };
        if !crate::store::incident::valid_incident_id(&id) || !ctx.store.incident_dir(&id).is_dir() {
            break; // missing: judged broken below
        }
        // Only the link is wanted: the summary (cached) has it.
        next = crate::store::summary::load(&ctx.store, &id, now).0.duplicate_of;
        links.insert(id, next.clone());
    }
    inc.link_broken = crate::domain::links::broken_duplicates(&links).contains(&inc.id);
}

/// The ids of duplicates whose link is broken (a cycle, or a missing target): they stay on the
/// active board.
fn broken_links(incidents: &[Summary]) -> std::collections::BTreeSet<String> {
    let links = incidents
        .iter()
        .map(|s| (s.id.clone(), s.duplicate_of.clone()))
        .collect();
    crate::domain::links::broken_duplicates(&links).into_iter().collect()
}

pub fn list(g: &Global, as_json: bool) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let (ids, mut problems) = ctx.store.list_incidents()?;
    problems.extend(crate::store::memory::gone(&ctx.store, &ids));
    let now = now_ms();
    // Summaries, from this host's cache where it still matches the folder (see `store::summary`).
    let incidents: Vec<Summary> = crate::store::summary::load_many(&ctx.store, &ids, now)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let broken = broken_links(&incidents);
    if as_json {
        let rows: Vec<Value> = incidents
            .iter()
            .map(|s| {
                let link_broken = broken.contains(&s.id);
                json!({
                    "v": 1,
                    "id": s.id,
                    "title": s.title,
                    "severity": s.severity,
                    "phase": s.phase.slug(),
                    "commander": s.commander,
                    "mode": s.mode.map(|m| m.label()),
                    "status": summary_status(s, link_broken),
                    "declared_at": s.declared_at.map(format_utc),
                    "last_update": s.last_update.as_ref().map(|(t, by)| json!({"at": format_utc(*t), "by": by})),
                    "problems": s.problems + usize::from(link_broken),
                })
            })
            .collect();
        let mut v = json!({"v": 1, "dir": ctx.store.root.display().to_string(), "source": ctx.store.source.describe(), "incidents": rows, "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>()});
        if let Some(st) =
            crate::sync::status::load(&ctx.store.state_dir).filter(|st| st.dir == ctx.store.root.display().to_string())
        {
            v["sync"] = json!({
                "remote": st.remote,
                "last_attempt": format_utc(st.last_attempt),
                "last_success": st.last_success.map(format_utc),
                "last_error": st.last_error,
            });
        }
        sanitize_json(&mut v);
        outln!("{v}");
        return Ok(());
    }
    eprintln!("shared directory: {}", ctx.store.describe());
    if let Some(st) =
        crate::sync::status::load(&ctx.store.state_dir).filter(|st| st.dir == ctx.store.root.display().to_string())
    {
        eprintln!("{}", sanitize(&crate::sync::status::describe(&st, now, format_age)));
    }
    for p in &problems {
        eprintln!("problem: {p}");
    }
    if incidents.is_empty() {
        eprintln!(
            "no incidents yet; declare one with: warroom declare --playbook ransomware --title \"...\" --severity 2"
        );
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    let id_w = incidents.iter().map(|i| i.id.chars().count()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        out,
        "{:<id_w$} {:<5} {:<15} {:<12} {:>8} {:<22} {:<8} {:<9} PROBLEMS",
        "ID", "SEV", "PHASE", "COMMANDER", "AGE", "LAST UPDATE", "MODE", "STATUS"
    );
    for s in &incidents {
        let link_broken = broken.contains(&s.id);
        let age = s.declared_at.map_or("-".into(), |t| format_age(now.saturating_sub(t)));
        let last = s.last_update.as_ref().map_or("-".into(), |(t, by)| {
            format!("{} ago {}", format_age(now.saturating_sub(*t)), by)
        });
        let _ = writeln!(
            out,
            "{:<id_w$} {:<5} {:<15} {:<12} {:>8} {:<22} {:<8} {:<9} {}",
            sanitize(&s.id),
            severity_word(s.severity),
            s.phase.label(),
            sanitize(s.commander.as_deref().unwrap_or("-")),
            age,
            sanitize(&last),
            s.mode.map_or("?", |m| m.label()),
            summary_status(s, link_broken),
            s.problems + usize::from(link_broken)
        );
    }
    Ok(())
}

/// The complete, stable JSON of an incident's folded state.
/// `warroom review INCIDENT`: every field and question with its answer.
pub fn review(g: &Global, wanted: &str, as_json: bool) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let inc = Incident::open(&ctx.store, &id, now_ms());
    let fields = inc.state.review_fields();
    if as_json {
        let mut v = Value::Array(
            fields
                .iter()
                .map(|(f, q, r)| {
                    json!({"field": f, "question": q, "answer": r.map(|r| &r.value),
                           "by": r.map(|r| &r.by), "at": r.map(|r| format_utc(r.when))})
                })
                .collect(),
        );
        sanitize_json(&mut v);
        outln!("{v}");
        return Ok(());
    }
    for (f, q, r) in fields {
        outln!("{} — {}", sanitize(&f), sanitize(&q));
        match r {
            Some(r) => {
                for line in crate::domain::sanitize_lines(&r.value) {
                    outln!("    {line}");
                }
                outln!("    ({} {})", sanitize(&r.by), format_utc(r.when));
            }
            None => outln!("    (not answered yet: warroom review {id} {} TEXT)", sanitize(&f)),
        }
    }
    Ok(())
}

/// One follow-up as JSON (not yet sanitised).
pub fn follow_up_json(f: &crate::domain::state::FollowUpView) -> Value {
    json!({
        "id": f.id,
        "text": f.text,
        "type": f.kind,
        "owner": f.owner,
        "due": f.due.map(format_utc),
        "from": f.from,
        "state": format!("{:?}", f.state).to_lowercase(),
        "by": f.created_by,
        "at": format_utc(f.created_when),
        "changed": f.changed.as_ref().map(|c| json!({"by": c.by, "at": format_utc(c.when), "note": c.note})),
    })
}

/// `warroom followup INCIDENT list`: one follow-up a line (or a JSON array).
pub fn follow_ups(g: &Global, wanted: &str, as_json: bool) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let inc = Incident::open(&ctx.store, &id, now_ms());
    let list = inc.state.follow_ups();
    let now = now_ms();
    let overdue = |f: &crate::domain::state::FollowUpView| {
        f.state == crate::domain::event::FollowUpState::Open && f.due.is_some_and(|t| t < now)
    };
    if as_json {
        let mut v = Value::Array(
            list.iter()
                .map(|f| {
                    let mut v = follow_up_json(f);
                    v["overdue"] = json!(overdue(f));
                    v
                })
                .collect(),
        );
        sanitize_json(&mut v);
        outln!("{v}");
        return Ok(());
    }
    if list.is_empty() {
        eprintln!("no follow-ups yet; add one with `warroom followup {id} add TEXT --type corrective`");
    }
    for f in &list {
        let state = format!("{:?}", f.state).to_lowercase();
        outln!(
            "{}  [{state}] {} · {} · due {}{} — {}",
            sanitize(&f.id),
            sanitize(if f.kind.is_empty() { "-" } else { &f.kind }),
            sanitize(f.owner.as_deref().unwrap_or("no owner")),
            f.due.map_or("-".into(), format_utc),
            if overdue(f) { " OVERDUE" } else { "" },
            sanitize(&f.text)
        );
    }
    Ok(())
}

pub fn state_json(inc: &Incident, now: i64) -> Value {
    let s: &IncidentState = &inc.state;
    let d = &s.derived;
    let pb = s.playbook();
    let checklist: Vec<Value> = pb
        .map(|p| {
            p.phases
                .all()
                .map(|(phase, item)| {
                    let reg = d.items.get(&item.id);
                    json!({
                        "id": item.id,
                        "phase": phase.slug(),
                        "text": item.text,
                        "required": item.required,
                        "role": item.role,
                        "state": item_state_word(s.item_state(&item.id)),
                        "note": reg.and_then(|r| r.value.note.clone()),
                        "by": reg.map(|r| r.by.clone()),
                        "at": reg.map(|r| format_utc(r.when)),
                        "assigned": d.assignments.get(&crate::domain::event::Target::Item(item.id.clone())).map(|r| r.value.clone()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let actions: Vec<Value> = pb
        .map(|p| {
            p.actions
                .iter()
                .map(|a| {
                    let reg = d.actions.get(&a.id);
                    json!({
                        "id": a.id,
                        "title": a.title,
                        "term": format!("{:?}", a.term).to_lowercase(),
                        "approval": format!("{:?}", a.approval),
                        "state": reg.map(|r| action_state_word(r.value.state)),
                        "proposer": reg.and_then(|r| r.value.proposer.clone()),
                        "approver": reg.and_then(|r| r.value.approver.clone()),
                        "note": reg.and_then(|r| r.value.note.clone()),
                        "by": reg.map(|r| r.by.clone()),
                        "at": reg.map(|r| format_utc(r.when)),
                        "assigned": d.assignments.get(&crate::domain::event::Target::Action(a.id.clone())).map(|r| r.value.clone()),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let roles: serde_json::Map<String, Value> = s
        .roles()
        .map(|(k, r)| (k.clone(), json!({"who": r.value, "by": r.by, "at": format_utc(r.when)})))
        .collect();
    let mut problems: Vec<Value> = inc
        .problems()
        .iter()
        .map(|p| json!({"source": p.source, "line": p.line, "what": p.what}))
        .collect();
    if inc.link_broken {
        problems.push(json!({"source": inc.id, "line": null, "what": format!(
            "its duplicate link ({}) leads back to itself or to no incident: kept on the active board",
            d.duplicate_of.as_ref().map_or("-", |r| r.value.as_str())
        )}));
    }
    let mut v = json!({
        "v": 1,
        "id": inc.id,
        "status": incident_status(inc),
        "title": s.title(),
        "severity": s.severity(),
        "mode": s.mode().map(|m| m.label()),
        "phase": s.phase().slug(),
        "phase_entered": d.phase.as_ref().map(|r| json!({"by": r.by, "at": format_utc(r.when), "override_open": r.value.override_open})),
        "commander": s.commander(),
        "declared": d.declared.as_ref().map(|r| json!({"by": r.by, "at": format_utc(r.when)})),
        "discovered": d.discovered.map(format_utc),
        "discovery": d.discovery.as_ref().map(|r| json!({"at": format_utc(r.value), "by": r.by, "when": format_utc(r.when)})),
        "earliest_evidence": s.earliest_evidence().map(|(t, _)| format_utc(t)),
        "discovery_nudge": crate::domain::deadline::discovery_nudge(s).map(|n| json!({
            "text": n.text(), "evidence": format_utc(n.evidence), "record": n.record,
            "record_id": n.record_id, "discovered": format_utc(n.discovered), "moves": n.moves,
        })),
        "classified": d.classified.map(format_utc),
        "materiality": d.materiality.map(format_utc),
        "playbook": d.declared.as_ref().map(|r| json!({"id": r.value.playbook, "version": r.value.playbook_version, "hash": d.playbook_hash})),
        "checklist": checklist,
        "actions": actions,
        "roles": roles,
        "notes": d.notes,
        "status_updates": d.status_updates.len(),
        "follow_ups": s.follow_ups().iter().map(follow_up_json).collect::<Vec<_>>(),
        "review": d.review.iter().map(|(f, r)| (f.clone(), json!({"text": r.value, "by": r.by, "at": format_utc(r.when)}))).collect::<serde_json::Map<String, Value>>(),
        "events": s.event_count(),
        "not_applied": crate::domain::unsigned::unsigned_declaration(s),
        "last_update": d.last_update.as_ref().map(|(t, by)| json!({"at": format_utc(*t), "by": by})),
        "problems": problems,
        "clock_skew": s.skew_warnings(now),
        "clocks": crate::report::clocks_json(s, now),
    });
    sanitize_json(&mut v);
    v
}

pub fn show(g: &Global, wanted: &str, as_json: bool, as_of: &super::AsOf) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let as_of = ctx.as_of(as_of)?;
    // `show` is the process's last act: the incident is not freed record by record on the way
    // out (for 100k records that was about a sixth of the run); the process exit frees it.
    // Nor does it show a note's text: those stay in the log (≈ 100 bytes a note less held).
    let memory = crate::store::incident::remembered(&ctx.store, &id);
    let mut inc = std::mem::ManuallyDrop::new(Incident::open_without_texts(&ctx.store, &id, now_ms(), memory));
    let now = as_of.unwrap_or_else(now_ms);
    if let Some(t) = as_of {
        not_declared_yet(&inc, t)?;
        inc.rewind(t);
    }
    follow_link(&ctx, &mut inc, now);
    let mut v = state_json(&inc, now);
    if let Some(t) = as_of {
        v["as_of"] = json!(format_utc(t));
    }
    if as_json {
        outln!("{v}");
        return Ok(());
    }
    let s = &inc.state;
    let mut out = std::io::stdout().lock();
    if let Some(t) = as_of {
        let _ = writeln!(out, "AS OF {}: the incident as it stood then", format_utc(t));
    }
    let _ = writeln!(
        out,
        "{}  {}  {}",
        sanitize(&id),
        severity_word(s.severity()),
        sanitize(s.title())
    );
    let _ = writeln!(
        out,
        "phase {} · commander {} · {} · {} · {} events, {} notes",
        s.phase(),
        sanitize(s.commander().unwrap_or("-")),
        s.mode().map_or(incident_status(&inc), |m| m.label()),
        incident_status(&inc),
        s.event_count(),
        s.derived.notes
    );
    if let Some(t) = s.declared_at() {
        let _ = writeln!(out, "declared {} ({} ago)", format_utc(t), format_age(now - t));
    }
    if let Some(why) = crate::domain::unsigned::unsigned_declaration(s) {
        let _ = writeln!(out, "not applied: {}", sanitize(&why));
    }
    if let Some(t) = s.derived.discovered {
        let how = match &s.derived.discovery {
            Some(r) => format!("set by {}", sanitize(&r.by)),
            None => "the declaration; the commander sets it with `warroom discovery`".into(),
        };
        let _ = writeln!(out, "discovered {} ({how})", format_utc(t));
    }
    if s.playbook().is_none() {
        if let Some(n) = crate::domain::deadline::discovery_nudge(s) {
            let _ = writeln!(out, "nudge: {}", n.text());
        }
    }
    if let Some(pb) = s.playbook() {
        for phase in crate::domain::Phase::ALL {
            let items = pb.phases.get(phase);
            if items.is_empty() {
                continue;
            }
            let done = items
                .iter()
                .filter(|i| s.item_state(&i.id) != crate::domain::event::ItemState::Open)
                .count();
            let _ = writeln!(out, "\n{} {done}/{}", phase.label(), items.len());
            for item in items {
                let st = s.item_state(&item.id);
                let who = s
                    .derived
                    .items
                    .get(&item.id)
                    .map(|r| format!(" — {} {}", r.by, format_utc(r.when)))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  [{}] {}{} {}{}",
                    item_state_word(st),
                    if item.required { "*" } else { " " },
                    sanitize(&item.id),
                    sanitize(&item.text),
                    sanitize(&who)
                );
            }
        }
        let _ = writeln!(out, "\nActions");
        for a in &pb.actions {
            let st = s
                .derived
                .actions
                .get(&a.id)
                .map_or("-", |r| action_state_word(r.value.state));
            let _ = writeln!(
                out,
                "  [{st}] {} ({:?}, {:?}) {}",
                sanitize(&a.id),
                a.term,
                a.approval,
                sanitize(&a.title)
            );
        }
    }
    if let Some(pb) = s.playbook() {
        show_clocks(&mut out, s, pb, now);
    }
    let roles: Vec<String> = s.roles().map(|(k, r)| format!("{k}={}", r.value)).collect();
    let _ = writeln!(out, "\nroles: {}", sanitize(&roles.join(", ")));
    for w in s.skew_warnings(now) {
        let _ = writeln!(out, "clock skew: {}", sanitize(&w));
    }
    if inc.link_broken {
        let _ = writeln!(
            out,
            "\nduplicate link broken: it leads back to this incident or to none; kept on the active board"
        );
    }
    let problems = inc.problems();
    if !problems.is_empty() {
        let _ = writeln!(out, "\n{} problem(s):", problems.len());
        for p in problems {
            let _ = writeln!(out, "  {p}");
        }
    }
    Ok(())
}

/// The clocks section of `show`: the next status update, nudges, then every deadline stage,
/// overdue first (times UTC; business days Monday to Friday, public holidays not known).
fn show_clocks(out: &mut impl Write, s: &IncidentState, pb: &crate::domain::Playbook, now: i64) {
    let _ = writeln!(
        out,
        "\nClocks (UTC, as of {}; not legal advice: counsel confirms)",
        format_utc(now)
    );
    if let Some(u) = crate::domain::cadence::update_due(s, pb) {
        let _ = writeln!(out, "  status updates: {}", u.words(now));
    }
    for n in crate::domain::cadence::nudges(s, Some(pb), now) {
        let _ = writeln!(out, "  nudge: {}", sanitize(&n.text));
    }
    let clocks = crate::domain::deadline::clocks(s, pb, now);
    if clocks.is_empty() {
        let _ = writeln!(out, "  (the playbook names no deadlines)");
    }
    for c in clocks {
        let due = c.due.map_or("-".into(), |t| {
            format!(
                "{}{}",
                format_utc(t),
                if c.business_days { " (business days)" } else { "" }
            )
        });
        let _ = writeln!(
            out,
            "  [{}] {}: {}\n      {} · due {} · {}",
            c.label(),
            sanitize(&c.name),
            sanitize(&c.stage),
            c.words(),
            due,
            sanitize(&c.source)
        );
    }
}

/// `2026-11-26T10:02:00Z  alice@jump  Note  text`, with `[REFUSED: …]` or `[INTEGRITY: …]` before
/// the text of a record not to be taken as fact.
pub fn tail_line(s: &IncidentState, e: &Event) -> String {
    format!(
        "{}  {:<20} {:<14} {}",
        format_utc(e.when()),
        sanitize(e.by()),
        sanitize(e.kind()),
        describe_in(s, e)
    )
}

fn print_event(out: &mut impl Write, s: &IncidentState, e: &Event, json: bool, late: bool) -> std::io::Result<()> {
    if !json && matches!(e.body, crate::domain::Body::Heads(_) | crate::domain::Body::Signed(_)) {
        return Ok(()); // bookkeeping for `verify`, not news
    }
    if json {
        let mut v = event::to_json(e);
        if late {
            v["late"] = json!(true);
        }
        if let Some(flag) = s.flag(e) {
            v["flag"] = json!(sanitize(&flag.label()));
        }
        writeln!(out, "{v}")
    } else if late {
        writeln!(out, "[late] {}", tail_line(s, e))
    } else {
        writeln!(out, "{}", tail_line(s, e))
    }
}

pub fn tail(g: &Global, wanted: &str, follow: bool, json: bool) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let mut inc = Incident::open(&ctx.store, &id, now_ms());
    let mut out = std::io::stdout().lock();
    for e in inc.state.timeline() {
        if print_event(&mut out, &inc.state, e, json, false).is_err() {
            return Ok(()); // stdout closed (e.g. `| head`): done
        }
    }
    for p in inc.problems() {
        eprintln!("problem: {p}");
    }
    if !follow {
        return Ok(());
    }
    let _ = out.flush();
    drop(out);
    follow_incident(&ctx, &mut inc, g.poll_interval, json, None)
}

/// Keep printing new events as they land, in arrival order; an event that sorts before what was
/// already printed is marked late. Stops when `stop` says so (or stdout closes).
pub fn follow_incident(
    ctx: &Ctx,
    inc: &mut Incident,
    poll: Option<f64>,
    json: bool,
    stop: Option<&dyn Fn() -> bool>,
) -> Result<()> {
    let (tx, rx) = mpsc::channel::<()>();
    let poll = poll
        .or(ctx.config.poll_interval)
        .map(crate::store::watch::poll_duration);
    let w = watch::Watch::start(&inc.dir, poll, move || {
        let _ = tx.send(());
    });
    eprintln!("following {} ({}); Ctrl-C to stop", sanitize(&inc.id), w.label());
    let mut last_key = inc.state.timeline().next_back().map(|e| (e.when(), e.key()));
    // Problems are printed once each (the list is rebuilt, and may reorder, on a replay).
    let mut seen_problems: std::collections::BTreeSet<String> = inc.problems().iter().map(|p| p.to_string()).collect();
    let wait = w.mode.interval().min(Duration::from_millis(500));
    // config.ron's `signing:` edits are taken up as the console takes them (same code).
    let mut store = ctx.store.clone();
    let mut signing = crate::store::config::SigningWatch::default();
    loop {
        if stop.is_some_and(|s| s()) {
            return Ok(());
        }
        if signing.refresh(&mut store.trust) {
            inc.retrust(&store);
        }
        // A hint, or the poll interval: either way, reconcile (hints are never the truth).
        match rx.recv_timeout(wait) {
            Ok(()) => while rx.try_recv().is_ok() {},
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(wait),
        }
        let fresh = inc.refresh(now_ms());
        if !fresh.is_empty() {
            inc.save_seen(); // writes only when a head moved
        }
        let mut out = std::io::stdout().lock();
        for e in &fresh {
            let k = (e.when(), e.key());
            let late = last_key.as_ref().is_some_and(|l| k < *l);
            if print_event(&mut out, &inc.state, e, json, late).is_err() {
                return Ok(());
            }
            if !late {
                last_key = Some(k);
            }
        }
        if out.flush().is_err() {
            return Ok(());
        }
        for p in inc.problems() {
            let line = p.to_string();
            if seen_problems.insert(line.clone()) {
                eprintln!("problem: {line}");
            }
        }
    }
}

/// `verify --file X [--sig X.sig]`: a detached signature of an export or bundle.
pub fn verify_file(g: &Global, file: &Path, sig: Option<&Path>) -> Result<()> {
    let ctx = Ctx::new(g)?;
    // What is wrong with the allowed_signers in force (a key changed, the kept copy in use).
    if let Some(n) = ctx.store.allowed_signers().note {
        outln!("allowed_signers: {}", sanitize(&n));
    }
    let checked = super::detached::check(&ctx.store, file, sig)?;
    outln!("{}", checked.describe(file));
    match checked {
        super::detached::Checked::Signed(..) => Ok(()),
        _ => Err(Fail::new(format!("{} carries no valid signature", file.display()))),
    }
}

/// `verify`'s exit status when the records are intact but signatures count for nothing until a
/// key change of `allowed_signers` is accepted (1 is tampering, 2 a usage error).
pub const EXIT_PENDING: u8 = 3;

pub fn verify(g: &Global, wanted: &str) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let r = store_verify::verify(&ctx.store, &id);
    for c in &r.crashes {
        outln!("crash: {c}");
    }
    for t in &r.trust_skipped {
        outln!("allowed_signers: {}", sanitize(t));
    }
    if let Some(c) = &r.pending_change {
        outln!("PENDING ACCEPTANCE: allowed_signers: {}", sanitize(c));
    }
    // One line per signature would bury the rest under a long log: the first few, then a count.
    const SHOWN: usize = 5;
    for p in r.pending.iter().take(SHOWN) {
        outln!("pending: {}", sanitize(p));
    }
    if r.pending.len() > SHOWN {
        outln!("pending: … and {} more", r.pending.len() - SHOWN);
    }
    for e in &r.errors {
        outln!("TAMPERED: {e}");
    }
    for l in &r.signing {
        outln!("signatures: {}", l.describe());
    }
    for (log, n, total) in &r.unanchored {
        outln!(
            "not yet anchored: {n} of {total} record(s) of {} — no other log's checkpoint vouches for them yet, so only hosts that saw them would notice them cut off",
            sanitize(log)
        );
    }
    if !r.errors.is_empty() {
        return Err(Fail::new(format!(
            "{} sign(s) of tampering or loss in {id}",
            r.errors.len()
        )));
    }
    if !r.pending.is_empty() {
        return Err(Fail {
            message: format!(
                "{} log(s), {} record(s): every chain and head checks out, but {} signature(s) count for nothing until this host accepts the change to allowed_signers (or it is undone): see PENDING ACCEPTANCE above",
                r.logs,
                r.records,
                r.signing.iter().map(|l| l.pending.len()).sum::<usize>()
            ),
            code: EXIT_PENDING,
        });
    }
    let waiting = if r.pending_change.is_some() {
        "; allowed_signers has a change this host has not accepted (above), which no signature here depends on"
    } else {
        ""
    };
    outln!(
        "ok: {} log(s), {} record(s), every chain and head checks out{waiting}",
        r.logs,
        r.records
    );
    Ok(())
}

pub fn playbook_list(g: &Global) -> Result<()> {
    let lib = Library::load(g.playbooks.as_deref());
    for e in lib.visible() {
        outln!(
            "{}\t{}\t{}{}\t{}",
            e.playbook.id,
            sanitize(&e.playbook.version),
            sanitize(&e.playbook.title),
            if e.playbook.partial { " (building block)" } else { "" },
            e.origin.describe()
        );
    }
    for err in &lib.errors {
        eprintln!("skipped: {err}");
    }
    Ok(())
}

pub fn playbook_check(path: &Path, strict: bool) -> Result<()> {
    let errors = playbooks::check(path, strict);
    if errors.is_empty() {
        outln!("ok: {}", path.display());
        return Ok(());
    }
    for e in &errors {
        eprintln!("{e}");
    }
    Err(Fail::new(format!("{} error(s)", errors.len())))
}

pub fn export(
    g: &Global,
    wanted: &str,
    format: super::ExportFormat,
    output: Option<&Path>,
    as_of: &super::AsOf,
) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let as_of = ctx.as_of(as_of)?;
    if let Some(t) = as_of {
        not_declared_yet(&Incident::open(&ctx.store, &id, now_ms()), t)?;
    }
    let text = export_text(&ctx, &id, format, as_of);
    match output {
        Some(path) => {
            let sharing = crate::store::fsutil::Sharing::private();
            crate::store::fsutil::write_atomic(path, text.as_bytes(), sharing)
                .map_err(|e| Fail::new(format!("cannot write {}: {e}", path.display())))?;
            eprintln!("wrote {}", path.display());
            if let Some(sig) = super::detached::sign(&ctx.store, path, text.as_bytes())? {
                eprintln!("signed: {}", sig.display());
            }
        }
        None => super::print_out(&text),
    }
    Ok(())
}

/// Refused: `--as-of` a time before the incident was declared (it did not exist yet).
fn not_declared_yet(inc: &Incident, as_of: crate::domain::time::Millis) -> Result<()> {
    match inc.state.derived.declared.as_ref() {
        // --as-of shows the records written by then: the declaration was written at `at`.
        Some(d) if as_of < d.key.at => Err(Fail::new(format!(
            "{} was not declared yet at {} (declared {}{})",
            inc.state.id,
            format_utc(as_of),
            format_utc(d.key.at),
            if d.when < d.key.at {
                format!(", saying it began {}", format_utc(d.when))
            } else {
                String::new()
            }
        ))),
        _ => Ok(()),
    }
}

/// The review of one incident (as it stood at `as_of`, else now) with its JSON state.
pub fn review_of(ctx: &Ctx, id: &str, as_of: Option<i64>) -> (crate::report::Review, Value, Incident) {
    let mut inc = Incident::open(&ctx.store, id, now_ms());
    let now = as_of.unwrap_or_else(now_ms);
    if let Some(t) = as_of {
        inc.rewind(t);
    }
    let integrity = store_verify::verify(&ctx.store, id);
    // The facilitator's private half, if this host ran the exercise.
    let fac = crate::exercise::local::FacilitatorState::load(&ctx.store.state_dir, id).ok();
    let problems = inc.problems();
    let review = crate::report::Review::build(&crate::report::review::Input {
        id,
        state: &inc.state,
        problems: &problems,
        integrity: &integrity,
        facilitator: fac.as_ref(),
        now,
        as_of,
    });
    let mut state = state_json(&inc, now);
    if let Some(t) = as_of {
        state["as_of"] = json!(format_utc(t));
    }
    let mut review = review;
    // Exported now; the as-of time is labelled as such.
    review.overview.exported = format_utc(now_ms());
    (review, state, inc)
}

/// The export of one incident in `format`.
pub fn export_text(ctx: &Ctx, id: &str, format: super::ExportFormat, as_of: Option<i64>) -> String {
    let (review, state, inc) = review_of(ctx, id, as_of);
    match format {
        super::ExportFormat::Md => crate::report::markdown(&review),
        super::ExportFormat::Json => {
            let v = crate::report::json(state, &review, &inc.state);
            serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
        }
    }
}
