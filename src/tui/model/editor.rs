//! The text editor overlay (notes, reasons, status updates, search, titles) and what Enter records.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorPurpose {
    Note,
    Blocked,
    /// Why a required checklist item is skipped (`item` says which).
    Skip,
    /// The parameters of an action being proposed, `NAME=value` a line (`item` is the action).
    Params,
    Status(Audience),
    /// The follow-up's text (`follow` carries its type, owner, due date and origin).
    FollowUp,
    /// The follow-up's due date (empty: none).
    FollowUpDue,
    /// A follow-up owner not in the list, typed (a person's name, as `--as` takes it).
    FollowUpOwnerName,
    /// The answer to the review field `item`.
    Review,
    /// The corrected text of the record `target` names.
    Amend,
    /// Why it is amended (`item` holds the new text).
    AmendReason,
    /// Why the record `target` names is retracted.
    RetractReason,
    Search,
    Title,
    Evaluator,
    SeverityReason(u8),
    /// A player's answer to a released inject (`item` is the inject): a note tagged `inject:<id>`.
    Response,
    /// The note of an objective's rating (`item` is the objective); may be left empty.
    Rating(crate::exercise::local::Rating),
    /// Why someone other than the commander resolves the incident (then confirmed).
    ResolveReason,
    /// Why the incident is reopened (then confirmed).
    ReopenReason,
    /// Why discovery is set to this time (then confirmed).
    Discovery(Millis),
}

pub struct Editor {
    pub purpose: EditorPurpose,
    pub area: TextArea<'static>,
    /// The item a Blocked or Skip note is for, or the action whose parameters these are.
    pub item: Option<String>,
    /// Already warned about unfilled template placeholders.
    pub warned: bool,
    /// The follow-up being created.
    pub follow: Option<FollowUpDraft>,
    /// The record being corrected: (id, log, seq).
    pub target: Option<(String, String, u64)>,
    /// The record being corrected, in words for the dialog's title (raw: sanitised when drawn).
    pub subject: Option<String>,
    /// A status update's template as filled in when the editor opened (`Ctrl+R` goes back to it;
    /// closing on it unchanged keeps no draft).
    pub template: Option<String>,
}

impl Editor {
    pub fn new(purpose: EditorPurpose, text: &str) -> Box<Editor> {
        let lines: Vec<String> = if text.is_empty() {
            vec![String::new()]
        } else {
            text.split('\n').map(str::to_string).collect()
        };
        let mut area = TextArea::new(lines);
        if !matches!(
            purpose,
            EditorPurpose::Search
                | EditorPurpose::Title
                | EditorPurpose::FollowUpDue
                | EditorPurpose::FollowUpOwnerName
        ) {
            area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
        }
        area.move_cursor(ratatui_textarea::CursorMove::Bottom);
        area.move_cursor(ratatui_textarea::CursorMove::End);
        Box::new(Editor {
            purpose,
            area,
            item: None,
            warned: false,
            follow: None,
            target: None,
            subject: None,
            template: None,
        })
    }
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
    pub fn single_line(&self) -> bool {
        matches!(
            self.purpose,
            EditorPurpose::Search
                | EditorPurpose::Title
                | EditorPurpose::FollowUpDue
                | EditorPurpose::FollowUpOwnerName
        )
    }
}

pub(super) fn is_newline_key(k: &KeyEvent) -> bool {
    (k.code == KeyCode::Enter && k.modifiers.contains(KeyModifiers::ALT))
        || (k.code == KeyCode::Char('j') && k.modifiers.contains(KeyModifiers::CONTROL))
}

pub(super) fn editor_key(m: &mut Model, mut ed: Box<Editor>, k: KeyEvent) -> Vec<Effect> {
    if k.code == KeyCode::Esc {
        // Cancel, but keep what was typed.
        if ed.purpose == EditorPurpose::Note {
            if let Some(inc) = m.incident.as_mut() {
                inc.draft = ed.text();
            }
            return save_editor_draft(m);
        }
        if let EditorPurpose::Status(audience) = ed.purpose {
            let Some(inc) = m.incident.as_mut() else {
                return Vec::new();
            };
            let fx = keep_status_draft(inc, audience, &ed);
            if inc.status_drafts.contains_key(&audience) {
                m.flash(
                    format!("{} update kept as a draft; u continues it", audience.word()),
                    false,
                );
            }
            return vec![fx];
        }
        if ed.purpose == EditorPurpose::Title {
            if let Some(mut f) = m.declare_form.take() {
                f.title = ed.text();
                m.overlay = Some(Overlay::Declare(f));
            }
        }
        return Vec::new();
    }
    if let (EditorPurpose::Status(audience), KeyCode::Char('r')) = (ed.purpose, k.code) {
        if k.modifiers.contains(KeyModifiers::CONTROL) {
            // Back to the template, filled in afresh (times are now's).
            let text = m
                .incident
                .as_ref()
                .map(|i| status_template(i, audience, m.now))
                .unwrap_or_default();
            let mut fresh = Editor::new(EditorPurpose::Status(audience), &text);
            fresh.template = Some(text);
            m.flash("back to the template", false);
            m.overlay = Some(Overlay::Editor(fresh));
            return Vec::new();
        }
    }
    if is_newline_key(&k) {
        if !ed.single_line() {
            ed.area.insert_newline();
        }
        m.overlay = Some(Overlay::Editor(ed));
        return Vec::new();
    }
    if k.code == KeyCode::Enter {
        return submit_editor(m, ed);
    }
    ed.area.input(k);
    if matches!(ed.purpose, EditorPurpose::Note | EditorPurpose::Status(_)) {
        m.draft_dirty_at = Some(m.now);
    }
    m.overlay = Some(Overlay::Editor(ed));
    Vec::new()
}

/// Why Enter on an empty editor records nothing, for the editors that need text.
fn needs_text(p: EditorPurpose) -> Option<&'static str> {
    Some(match p {
        EditorPurpose::Note => "nothing sent: the note is empty",
        EditorPurpose::Response => "nothing sent: the answer is empty",
        EditorPurpose::Blocked => "a reason is required to mark an item blocked",
        EditorPurpose::Skip => "a reason is required to skip a required item",
        EditorPurpose::Status(_) => "nothing recorded: the status update is empty",
        EditorPurpose::FollowUp => "nothing recorded: say what is to be done",
        EditorPurpose::AmendReason => "a reason is required to amend a record",
        EditorPurpose::RetractReason => "a reason is required to retract a record",
        EditorPurpose::SeverityReason(_) => "a reason is required to change the severity",
        EditorPurpose::ResolveReason => "a reason is required to resolve when you are not the commander",
        EditorPurpose::ReopenReason => "a reason is required to reopen",
        EditorPurpose::Discovery(_) => "a reason is required to move discovery",
        EditorPurpose::Evaluator => "nothing kept: the evaluator note is empty",
        EditorPurpose::Amend => "nothing to amend with: the corrected text is empty",
        EditorPurpose::FollowUpOwnerName => "type the owner's name, or Esc",
        EditorPurpose::Params
        | EditorPurpose::FollowUpDue
        | EditorPurpose::Search
        | EditorPurpose::Title
        | EditorPurpose::Review
        | EditorPurpose::Rating(_) => return None,
    })
}

pub(super) fn submit_editor(m: &mut Model, ed: Box<Editor>) -> Vec<Effect> {
    let text = ed.text();
    let trimmed = text.trim().to_string();
    // Enter on an empty field that needs text says why nothing happened, and stays open.
    if trimmed.is_empty() {
        if let Some(why) = needs_text(ed.purpose) {
            m.flash(format!("{why} — type it, or Esc cancels"), true);
            m.overlay = Some(Overlay::Editor(ed));
            return Vec::new();
        }
    }
    match ed.purpose {
        EditorPurpose::Search => {
            if let Some(inc) = m.incident.as_mut() {
                super::incident::refilter(inc, |t| t.search = (!trimmed.is_empty()).then_some(trimmed));
            }
            Vec::new()
        }
        EditorPurpose::Title => {
            if let Some(mut f) = m.declare_form.take() {
                f.title = trimmed;
                m.overlay = Some(Overlay::Declare(f));
            }
            Vec::new()
        }
        EditorPurpose::Params => submit_params(m, ed),
        EditorPurpose::Rating(rating) => {
            let objective = ed.item.clone().unwrap_or_default();
            super::facilitator::rating_noted(m, objective, rating, &trimmed)
        }
        EditorPurpose::Review => {
            let field = ed.item.clone().unwrap_or_default();
            let fx = write(
                m,
                format!("review {field}"),
                vec![ReviewSet {
                    field,
                    text: text.trim_end().to_string(),
                }
                .into()],
            );
            if m.pending.last().is_some_and(|p| p.label.starts_with("review")) {
                m.overlay = Some(Overlay::Review { sel: 0 });
            }
            fx
        }
        EditorPurpose::Amend => {
            let mut next = Editor::new(EditorPurpose::AmendReason, "");
            next.target = ed.target.clone();
            next.subject = ed.subject.clone();
            next.item = Some(text.trim_end().to_string());
            m.overlay = Some(Overlay::Editor(next));
            Vec::new()
        }
        EditorPurpose::AmendReason | EditorPurpose::RetractReason => {
            let Some((id, log, seq)) = ed.target.clone() else {
                return Vec::new();
            };
            let amended = ed.purpose == EditorPurpose::AmendReason;
            write(
                m,
                if amended { "amended" } else { "retracted" },
                vec![Corrected {
                    id,
                    log,
                    seq,
                    text: if amended { ed.item.clone() } else { None },
                    reason: trimmed,
                    occurred: None,
                }
                .into()],
            )
        }
        EditorPurpose::FollowUpOwnerName => {
            let mut d = ed.follow.clone().unwrap_or_default();
            match crate::domain::identity::normalise_name(&trimmed, &[]) {
                Ok(name) => d.owner = Some(name),
                Err(e) => {
                    m.flash(e, true);
                    m.overlay = Some(Overlay::Editor(ed));
                    return Vec::new();
                }
            }
            let mut next = Editor::new(EditorPurpose::FollowUpDue, "+14d");
            next.follow = Some(d);
            m.overlay = Some(Overlay::Editor(next));
            Vec::new()
        }
        EditorPurpose::FollowUpDue => {
            let mut d = ed.follow.clone().unwrap_or_default();
            if !trimmed.is_empty() {
                let now = crate::domain::time::to_datetime(m.now);
                match crate::domain::time::parse_due(&trimmed, now, &crate::domain::time::Zone::Utc)
                    .and_then(|t| crate::domain::time::check_due_for_writing(t, m.now))
                {
                    Ok(t) => d.due = Some(t),
                    Err(e) => {
                        m.flash(e, true);
                        m.overlay = Some(Overlay::Editor(ed));
                        return Vec::new();
                    }
                }
            }
            let mut next = Editor::new(EditorPurpose::FollowUp, "");
            next.follow = Some(d);
            m.overlay = Some(Overlay::Editor(next));
            Vec::new()
        }
        _ if trimmed.is_empty() => {
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        EditorPurpose::Note => {
            let mut fx = write(
                m,
                short_label(&trimmed),
                vec![Note {
                    text: text.trim_end().into(),
                    tags: Default::default(),
                }
                .into()],
            );
            if let Some(inc) = m.incident.as_mut() {
                inc.draft.clear();
                fx.push(Effect::SaveDraft {
                    incident: inc.id.clone(),
                    text: String::new(),
                });
            }
            m.draft_dirty_at = None;
            fx
        }
        EditorPurpose::Response => {
            let inject = ed.item.clone().unwrap_or_default();
            write(
                m,
                format!("answer to {}", short_label(&inject)),
                vec![Note {
                    text: text.trim_end().into(),
                    tags: vec![scheduler::response_tag(&inject)].into(),
                }
                .into()],
            )
        }
        EditorPurpose::Blocked => {
            let item = ed.item.clone().unwrap_or_default();
            write(
                m,
                format!("{item} blocked"),
                vec![ChecklistSet {
                    item,
                    state: ItemState::Blocked,
                    note: Some(trimmed),
                }
                .into()],
            )
        }
        EditorPurpose::Skip => {
            let item = ed.item.clone().unwrap_or_default();
            write(
                m,
                format!("{item} skipped"),
                vec![ChecklistSet {
                    item,
                    state: ItemState::Skipped,
                    note: Some(trimmed),
                }
                .into()],
            )
        }
        EditorPurpose::Status(_) if has_placeholder(&trimmed) && !ed.warned => {
            let mut ed = ed;
            ed.warned = true;
            m.flash(
                "the update still has [PLACEHOLDERS] or {names}; fill them in, or Enter again to record it as is",
                true,
            );
            m.overlay = Some(Overlay::Editor(ed));
            Vec::new()
        }
        EditorPurpose::Status(audience) => {
            let mut fx = write(
                m,
                format!("{} status update", audience.word()),
                vec![StatusUpdate {
                    audience,
                    text: trimmed,
                }
                .into()],
            );
            let sent = fx.iter().any(|f| matches!(f, Effect::Write { .. }));
            if let Some(inc) = m.incident.as_mut() {
                if !sent {
                    // Refused (observer, replay, the fold's rules): the text is not lost.
                    fx.push(keep_status_draft(inc, audience, &ed));
                } else if inc.status_drafts.remove(&audience).is_some() {
                    // On its way (kept and retried until it is on disk): the draft is done.
                    fx.push(Effect::SaveStatusDraft {
                        incident: inc.id.clone(),
                        audience,
                        text: String::new(),
                    });
                }
            }
            m.draft_dirty_at = None;
            fx
        }
        EditorPurpose::ResolveReason => {
            let open = m
                .incident
                .as_ref()
                .map(|i| i.state().open_required_at_resolve())
                .unwrap_or_default();
            m.overlay = Some(Overlay::Confirm(Confirm::Resolve {
                open,
                reason: Some(trimmed),
            }));
            Vec::new()
        }
        EditorPurpose::ReopenReason => {
            m.overlay = Some(Overlay::Confirm(Confirm::Reopen { reason: trimmed }));
            Vec::new()
        }
        EditorPurpose::Discovery(at) => {
            m.overlay = Some(Overlay::Confirm(Confirm::Discovery { at, reason: trimmed }));
            Vec::new()
        }
        EditorPurpose::SeverityReason(severity) => write(
            m,
            format!("severity → SEV{severity}"),
            vec![SeverityChanged {
                severity,
                reason: Some(trimmed),
            }
            .into()],
        ),
        EditorPurpose::Evaluator => {
            let inject = ed.item.clone();
            let now = m.now;
            let fx = match &mut m.facilitator {
                Some(f) => {
                    f.notes.push(EvaluatorNote {
                        inject,
                        at: now,
                        text: trimmed,
                    });
                    vec![Effect::SaveFacilitator(Box::new(f.clone()))]
                }
                None => return Vec::new(),
            };
            m.flash("evaluator note kept privately (in the AAR)", false);
            fx
        }
        EditorPurpose::FollowUp => {
            let d = ed.follow.clone().unwrap_or_else(|| FollowUpDraft {
                kind: FOLLOW_UP_KINDS[0].into(),
                ..FollowUpDraft::default()
            });
            write(
                m,
                "follow-up",
                vec![FollowUp {
                    text: trimmed,
                    owner: d.owner,
                    kind: d.kind,
                    due: d.due,
                    from: d.from,
                }
                .into()],
            )
        }
    }
}

pub(super) fn short_label(text: &str) -> String {
    let one = crate::domain::sanitize(text);
    let mut s: String = one.chars().take(40).collect();
    if one.chars().count() > 40 {
        s.push('…');
    }
    s
}

/// A template's fill-in like `[CHANNEL]` or `[TIME, UTC]` still in the text, or a `{name}`
/// warroom did not fill (a typo in the playbook).
pub(super) fn has_placeholder(text: &str) -> bool {
    !crate::domain::template::placeholders(text).is_empty()
        || text.split('[').skip(1).any(|rest| {
            rest.split_once(']').is_some_and(|(inside, _)| {
                !inside.is_empty()
                    && inside.chars().any(|c| c.is_ascii_uppercase())
                    && !inside.chars().any(|c| c.is_ascii_lowercase())
            })
        })
}

/// `NAME=value` lines, the empty ones left out.
pub fn parse_params(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Propose the action with its parameters in the record's note; a parameter left empty is asked
/// for once (Enter again proposes without it).
fn submit_params(m: &mut Model, mut ed: Box<Editor>) -> Vec<Effect> {
    let action = ed.item.clone().unwrap_or_default();
    let params = parse_params(&ed.text());
    let empty: Vec<&str> = params
        .iter()
        .filter(|(_, v)| v.is_empty())
        .map(|(k, _)| k.as_str())
        .collect();
    if !empty.is_empty() && !ed.warned {
        ed.warned = true;
        m.flash(
            format!(
                "{} still empty; fill in, or Enter again to propose without",
                empty.join(", ")
            ),
            true,
        );
        m.overlay = Some(Overlay::Editor(ed));
        return Vec::new();
    }
    let given: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let note = (!given.is_empty()).then(|| format!("parameters: {}", given.join("; ")));
    // The fold's rule, asked before the editor closes so what was typed stays to be fixed.
    if let Some(Err(why)) = note.as_deref().map(crate::domain::exec_policy::check_param_note) {
        m.flash(format!("{why} (refused)"), true);
        m.overlay = Some(Overlay::Editor(ed));
        return Vec::new();
    }
    write(
        m,
        format!("{action} Proposed"),
        vec![ActionSet {
            action,
            state: ActionState::Proposed,
            note,
        }
        .into()],
    )
}
