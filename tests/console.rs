//! The console without a terminal: the reducer driven by messages, and every screen rendered into
//! ratatui's `TestBackend` with a fixed clock (insta snapshots at 80x24 and 120x40).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::Terminal;
use warroom::domain::event::*;
use warroom::domain::state::Claim;
use warroom::domain::Phase;
use warroom::store::incident::Update;
use warroom::store::playbooks::Library;
use warroom::tui::keymap::Keymap;
use warroom::tui::model::*;
use warroom::tui::part_gate::PartTicket;
use warroom::tui::theme::Theme;
use warroom::tui::view;

/// 2026-11-26T10:00:00Z
const T0: i64 = 1_764_151_200_000;
const ID: &str = "2026-11-26-ransomware-finance-7f3a";

fn ev(n: u64, by: &str, at_min: i64, body: impl Into<Body>) -> Event {
    Event {
        id: format!("e{n:03}").into(),
        at: T0 + at_min * 60_000,
        wall: T0 + at_min * 60_000,
        occurred: Occurred::NONE,
        log: by.into(),
        seq: n,
        body: body.into(),
    }
}

/// A believable incident twenty minutes in.
fn story() -> Update {
    story_with(|_| {})
}

/// The story with its playbook changed first (a long command, more required items…).
fn story_with(change: impl FnOnce(&mut warroom::domain::Playbook)) -> Update {
    let mut pb = Library::built_in().resolve("ransomware").unwrap();
    change(&mut pb);
    let hash = pb.content_hash();
    let m = "maya@soc-jump";
    let j = "jon@ops-bastion";
    let events = vec![
        ev(
            1,
            m,
            0,
            Declared {
                incident: ID.into(),
                title: "Ransomware on finance file servers".into(),
                severity: 2,
                mode: Mode::Real,
                playbook: "ransomware".into(),
                playbook_version: pb.version.clone(),
                playbook_hash: hash.clone(),
                commander: "maya".into(),
                require_signatures: false,
            },
        ),
        ev(
            2,
            j,
            1,
            Note {
                text: "EDR: 14 hosts on FIN-VLAN encrypted\u{1b}[31m".into(),
                tags: vec!["edr".into()].into(),
            },
        ),
        ev(
            3,
            m,
            2,
            ChecklistSet {
                item: "id-first-facts".into(),
                state: ItemState::Done,
                note: None,
            },
        ),
        ev(
            4,
            m,
            3,
            ChecklistSet {
                item: "id-scope-hosts".into(),
                state: ItemState::Blocked,
                note: Some("waiting on ESXi logs".into()),
            },
        ),
        ev(
            5,
            j,
            4,
            ActionSet {
                action: "cut-segment-egress".into(),
                state: ActionState::Proposed,
                note: None,
            },
        ),
        ev(
            6,
            m,
            5,
            ActionSet {
                action: "isolate-host-edr".into(),
                state: ActionState::Running,
                note: None,
            },
        ),
        ev(
            7,
            m,
            6,
            Assigned {
                target: Target::Item("id-exfiltration".into()),
                who: "you".into(),
            },
        ),
        ev(
            8,
            j,
            7,
            Note {
                text: "Firewall: egress from FIN-VLAN still open".into(),
                tags: Default::default(),
            },
        ),
    ];
    Update {
        events,
        playbooks: vec![(hash, pb.into())],
        // The claim (incident.ron) names maya's log as the declarer.
        claim: Some(Claim::Log(m.into())),
        ..Update::default()
    }
}

/// The console just opened on the story's incident, its worker not answered yet.
fn model_opening_incident() -> Model {
    let mut m = Model::new(
        "you@jump",
        Keymap::default(),
        "/srv/warroom (from WARROOM_DIR)",
        T0 + 20 * 60_000,
    );
    m.watch = WatchInfo {
        mode: "inotify".into(),
        last_reconcile: T0 + 20 * 60_000,
    };
    m.incident = Some(IncidentModel::new(ID));
    m
}

fn model_on_incident() -> Model {
    let mut m = model_opening_incident();
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: story(),
        },
    );
    m
}

/// Keys typed at a person's pace: each half a second after the one before.
fn typed(k: KeyEvent) -> Msg {
    use std::sync::atomic::{AtomicI64, Ordering};
    static CLOCK: AtomicI64 = AtomicI64::new(0);
    Msg::Keys {
        keys: vec![k],
        at: CLOCK.fetch_add(500, Ordering::SeqCst),
    }
}
fn key(c: char) -> Msg {
    typed(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}
fn code(k: KeyCode) -> Msg {
    typed(KeyEvent::new(k, KeyModifiers::NONE))
}
/// Keys arriving together at `at` (one read from the terminal).
fn burst(text: &str, at: i64) -> Msg {
    Msg::Keys {
        keys: text
            .chars()
            .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
            .collect(),
        at,
    }
}

fn render(m: &Model, w: u16, h: u16, theme: Theme) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, m, &theme)).unwrap();
    t
}

fn screen(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn war_room_80x24() {
    let m = model_on_incident();
    insta::assert_snapshot!(screen(&render(&m, 80, 24, Theme::mono())));
}

#[test]
fn war_room_120x40() {
    let m = model_on_incident();
    insta::assert_snapshot!(screen(&render(&m, 120, 40, Theme::mono())));
}

fn board_model() -> Model {
    let mut m = Model::new(
        "you@jump",
        Keymap::default(),
        "/srv/warroom (from WARROOM_DIR)",
        T0 + 20 * 60_000,
    );
    m.watch = WatchInfo {
        mode: "poll 2s".into(),
        last_reconcile: T0,
    };
    let mut inc = IncidentModel::new(ID);
    inc.view.apply(story());
    let mut rows = vec![BoardRow::from_view(ID, &inc.view)];
    rows.push(BoardRow {
        resolved_at: None,
        id: "2026-11-25-phishing-ceo-wire-91ab".into(),
        title: "CEO wire-transfer phishing".into(),
        severity: Some(3),
        phase: Phase::Eradication,
        commander: Some("priya".into()),
        declared_at: Some(T0 - 26 * 3_600_000),
        last_update: Some((T0 - 3_600_000, "priya@laptop".into())),
        mode: Some(Mode::Real),
        status: RowStatus::Active,
        problems: 2,
        playbook: Some(("phishing".into(), "1.0.0".into())),
        duplicate_of: None,
        // One deadline stage missed two hours ago: the board must say so.
        open_dues: vec![T0 - 2 * 3_600_000, T0 + 3_600_000],
    });
    m.library_versions.insert("phishing".into(), "1.1.0".into());
    update(&mut m, Msg::Board(rows));
    m
}

#[test]
fn board_80x24() {
    insta::assert_snapshot!(screen(&render(&board_model(), 80, 24, Theme::mono())));
}

#[test]
fn board_120x40() {
    insta::assert_snapshot!(screen(&render(&board_model(), 120, 40, Theme::mono())));
}

#[test]
fn the_board_flags_an_incident_on_an_older_playbook() {
    let s = screen(&render(&board_model(), 120, 40, Theme::mono()));
    assert!(s.contains("playbook 1.0.0 < 1.1.0"), "{s}");
    assert!(version_key("1.10.0") > version_key("1.9.2"));
}

#[test]
fn empty_board_says_how_to_declare() {
    let mut m = Model::new("you@jump", Keymap::default(), "/srv/warroom (from WARROOM_DIR)", T0);
    // Its first pass over the directory found nothing.
    update(&mut m, Msg::Board(vec![]));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("to declare one"), "{s}");
    assert!(s.contains("warroom declare --playbook"), "{s}");
}

#[test]
fn hostile_text_never_reaches_the_buffer() {
    let m = model_on_incident();
    let s = screen(&render(&m, 120, 40, Theme::from_env()));
    assert!(!s.contains('\u{1b}'));
    // The whole sequence goes, not only its ESC: no `[31m` remnant.
    assert!(s.contains("EDR: 14 hosts on FIN-VLAN encrypted #edr"), "{s}");
    assert!(!s.contains("[31m"), "{s}");
}

#[test]
fn too_small_and_zero_sized_areas_never_panic() {
    let m = model_on_incident();
    for (w, h) in [(0, 0), (1, 1), (10, 3), (59, 30), (80, 15)] {
        let s = screen(&render(&m, w.max(1), h.max(1), Theme::mono()));
        if w >= 10 {
            assert!(s.contains("terminal"), "{w}x{h}: {s}");
        }
    }
    // Every pane, drawn into degenerate rectangles.
    let inc = m.incident.as_ref().unwrap();
    let mut t = Terminal::new(TestBackend::new(20, 6)).unwrap();
    t.draw(|f| {
        for r in [
            Rect::new(0, 0, 0, 0),
            Rect::new(0, 0, 1, 1),
            Rect::new(0, 0, 2, 2),
            Rect::new(0, 0, 20, 3),
        ] {
            view::header::draw(f, r, &m, inc, &Theme::mono());
            view::now::draw(f, r, &m, inc, &Theme::mono());
            view::checklist::draw(f, r, inc, &Theme::mono());
            view::actions::draw(f, r, inc, &Theme::mono());
            view::timeline::draw(f, r, &m, inc, &Theme::mono());
            view::footer(f, r, &m, &Theme::mono());
            view::board::draw(f, r, &m, &Theme::mono());
        }
    })
    .unwrap();
}

#[test]
fn panes_collapse_in_a_fixed_order() {
    let full = view::layout(Rect::new(0, 0, 80, 24), Pane::Checklist);
    assert!(full.checklist.is_some() && full.actions.is_some());
    assert_eq!(full.now.height, 2);
    let short = view::layout(Rect::new(0, 0, 80, 18), Pane::Actions);
    assert_eq!(short.now.height, 1);
    assert!(short.checklist.is_none() && short.actions.is_some());
    let short = view::layout(Rect::new(0, 0, 80, 18), Pane::Timeline);
    assert!(short.checklist.is_some() && short.actions.is_none());
}

// ---- the reducer ----------------------------------------------------------------------------

fn writes(fx: &[Effect]) -> Vec<&Vec<warroom::store::writer::Draft>> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Write { drafts, .. } => Some(drafts),
            _ => None,
        })
        .collect()
}

#[test]
fn typing_a_note_and_enter_writes_it() {
    let mut m = model_on_incident();
    assert!(update(&mut m, key('n')).is_empty());
    for c in "hello q".chars() {
        update(&mut m, key(c));
    }
    assert!(!m.quit, "q inside the editor is text");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    assert!(matches!(&w[0][0].body, Body::Note(n) if n.text.held() == Some("hello q")));
    assert!(m.overlay.is_none());
    assert!(
        fx.iter()
            .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text.is_empty())),
        "draft cleared"
    );
    // Shown as pending until the event comes back through the reader.
    assert_eq!(m.pending.len(), 1);
    update(
        &mut m,
        Msg::Written {
            token: 1,
            result: Ok(vec!["n1".into()]),
        },
    );
    assert_eq!(m.pending.len(), 1);
    let mut note = ev(
        9,
        "you@jump",
        21,
        Note {
            text: "hello q".into(),
            tags: Default::default(),
        },
    );
    note.id = "n1".into();
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![note],
                ..Update::default()
            },
        },
    );
    assert!(m.pending.is_empty());
}

#[test]
fn alt_enter_and_ctrl_j_start_new_lines() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('a'));
    update(&mut m, typed(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    update(&mut m, key('b'));
    update(&mut m, typed(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::CONTROL)));
    update(&mut m, key('c'));
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Note(n) if n.text.held() == Some("a\nb\nc")));
}

#[test]
fn a_paste_is_text_never_keys() {
    let mut m = model_on_incident();
    let fx = update(&mut m, Msg::Paste("line one\nq\nline three".into()));
    assert!(fx.is_empty());
    assert!(!m.quit);
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Note(n) if n.text.held() == Some("line one\nq\nline three")));
}

/// Break round 1 (stop 21), L1: a paste holding escape sequences (a title, colours) is shown in
/// the editor as it is sent and as every reader shows it — without the sequences, not with
/// their remains (`]0;PWN`).
#[test]
fn a_pasted_escape_sequence_goes_whole_what_the_editor_shows_is_sent() {
    let mut m = model_on_incident();
    update(
        &mut m,
        Msg::Paste("pasted \u{1b}]0;PWN\u{7} title \u{1b}[31mred\u{1b}[0m\r\nnext".into()),
    );
    match &m.overlay {
        Some(Overlay::Editor(ed)) => assert_eq!(ed.text(), "pasted  title red\nnext"),
        _ => panic!("editor not open"),
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Note(n) if n.text.held() == Some("pasted  title red\nnext")));
}

#[test]
fn esc_keeps_the_draft_and_n_restores_it() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    let fx = update(&mut m, code(KeyCode::Esc));
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text == "x")));
    update(&mut m, key('n'));
    match &m.overlay {
        Some(Overlay::Editor(ed)) => assert_eq!(ed.text(), "x"),
        _ => panic!("editor not open"),
    }
}

#[test]
fn hangup_saves_what_is_typed() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('z'));
    let fx = update(&mut m, Msg::Hangup);
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text == "z")));
    assert!(fx.iter().any(|f| matches!(f, Effect::Quit)));
}

#[test]
fn a_failed_write_is_kept_and_retried() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    update(&mut m, code(KeyCode::Enter));
    update(
        &mut m,
        Msg::Written {
            token: 1,
            result: Err("No space left on device".into()),
        },
    );
    assert!(m
        .flash
        .as_ref()
        .is_some_and(|f| f.error && f.text.contains("No space left")));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("not saved"), "{s}");
    let later = m.now + RETRY_MS;
    let fx = update(&mut m, Msg::Tick(later));
    assert_eq!(writes(&fx).len(), 1, "retried");
    // Quitting with an unsent note puts it in the draft file rather than losing it.
    update(
        &mut m,
        Msg::Written {
            token: 1,
            result: Err("still full".into()),
        },
    );
    // Quitting asks first (the write would be lost), then keeps the note as a draft.
    assert!(update(&mut m, key('q')).is_empty());
    let fx = update(&mut m, key('y'));
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text.contains('x'))));
}

#[test]
fn space_ticks_the_selected_item() {
    let mut m = model_on_incident();
    for _ in 0..3 {
        update(&mut m, key('j'));
    }
    let fx = update(&mut m, key(' '));
    let w = writes(&fx);
    let pb = Library::built_in().resolve("ransomware").unwrap();
    let fourth = pb.phases.identification[3].id.clone();
    assert!(matches!(&w[0][0].body, Body::ChecklistSet(c) if c.item == fourth && c.state == ItemState::Done));
}

#[test]
fn the_fold_rules_hold_in_the_console() {
    let mut m = model_on_incident();
    m.me = "jon@laptop".into();
    m.person = "jon".into();
    update(&mut m, code(KeyCode::Tab)); // actions pane
    for _ in 0..5 {
        update(&mut m, key('j')); // cut-segment-egress is the 6th action
    }
    let fx = update(&mut m, key('A'));
    assert!(writes(&fx).is_empty());
    assert!(
        m.flash.as_ref().is_some_and(|f| f.text.contains("two people")),
        "{:?}",
        m.flash
    );
}

#[test]
fn moving_on_with_required_items_open_asks_first() {
    let mut m = model_on_incident();
    let fx = update(&mut m, key('P'));
    assert!(fx.is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
    let fx = update(&mut m, key('y'));
    assert!(
        matches!(&writes(&fx)[0][0].body, Body::PhaseEntered(p) if p.phase == Phase::Containment && !p.override_open.is_empty())
    );
}

#[test]
fn observer_mode_writes_nothing() {
    let mut m = model_on_incident();
    m.observer = true;
    assert!(writes(&update(&mut m, key(' '))).is_empty());
}

#[test]
fn board_keys() {
    let mut m = board_model();
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&fx[0], Effect::Open(id) if id == ID));
    let fx = update(&mut m, code(KeyCode::Esc));
    assert!(matches!(&fx[..], [Effect::Close]));
    assert!(m.incident.is_none());
    let fx = update(&mut m, key('q'));
    assert!(m.quit && matches!(&fx[..], [Effect::Quit]));
}

#[test]
fn help_is_generated_from_the_keymap() {
    let mut m = model_on_incident();
    update(&mut m, key('?'));
    // Two columns on a wide terminal; `every_keymap_action_appears_in_help` checks them all.
    let s = screen(&render(&m, 140, 60, Theme::mono()));
    for h in ["add a note", "mark done", "propose the action", "search"] {
        assert!(s.contains(h), "help lacks {h}: {s}");
    }
}

#[test]
fn the_facilitator_console_releases_each_due_inject_once() {
    use warroom::exercise::local::FacilitatorState;
    use warroom::exercise::scenario;
    let sc = scenario::parse("h", scenario::BUILT_IN[0].1, None).unwrap();
    let mut m = model_on_incident();
    m.facilitator = Some(FacilitatorState {
        incident: ID.into(),
        scenario: sc,
        skipped: Default::default(),
        notes: vec![],
        ratings: vec![],
    });
    let start = ev(
        50,
        "fac@bridge",
        1, // after the declaration it answers (the hybrid clock guarantees that)
        ExerciseClock {
            change: "Start".into(),
            speed: 1.0,
            scenario_ms: 0,
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![start],
                ..Update::default()
            },
        },
    );
    let released = |fx: &[Effect]| -> Vec<String> {
        writes(fx)
            .iter()
            .flat_map(|d| d.iter())
            .filter_map(|d| match &d.body {
                Body::InjectReleased(i) => Some(i.inject.clone()),
                _ => None,
            })
            .collect()
    };
    // The clock started at T0 + 1 min; the model's clock is 20 minutes later: three are due.
    let fx = update(&mut m, Msg::Tick(T0 + 20 * 60_000));
    assert_eq!(
        released(&fx),
        vec!["inj-01-detection", "inj-02-ed-charge-nurse", "inj-03-spread"]
    );
    // Not again while the writes are on their way.
    assert!(released(&update(&mut m, Msg::Tick(T0 + 20 * 60_000 + 1000))).is_empty());
    // Paused: nothing more, however long it stays paused.
    update(&mut m, code(KeyCode::Tab));
    update(&mut m, code(KeyCode::Tab));
    let fx = update(&mut m, key(' '));
    assert!(matches!(&writes(&fx)[0][0].body, Body::ExerciseClock(c) if c.change == "Pause"));
    // The screen shows the scenario clock and the facilitator pane.
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(s.contains("Facilitator E+19:0"), "{s}"); // started a minute after T0
    assert!(s.contains("expected:"), "{s}");
}

#[test]
fn the_timeline_follows_new_events_unless_scrolled_back() {
    let mut m = model_on_incident();
    let bottom = |m: &Model| view::timeline::cursor(m.incident.as_ref().unwrap()).map(|e| e.id.clone());
    let add = |m: &mut Model, n: u64| {
        let e = ev(
            n,
            "jon@ops-bastion",
            30 + n as i64,
            Note {
                text: format!("later {n}").into(),
                tags: Default::default(),
            },
        );
        update(
            m,
            Msg::Incident {
                id: ID.into(),
                update: Update {
                    events: vec![e],
                    ..Update::default()
                },
            },
        );
    };
    add(&mut m, 60);
    assert_eq!(bottom(&m).as_deref(), Some("e060"), "following");
    update(&mut m, code(KeyCode::Tab));
    update(&mut m, code(KeyCode::Tab));
    update(&mut m, key('k')); // scroll back one
    let anchored = bottom(&m);
    add(&mut m, 61);
    assert_eq!(bottom(&m), anchored, "scrolled back: the view stays put");
    update(&mut m, code(KeyCode::End));
    assert_eq!(bottom(&m).as_deref(), Some("e061"), "End follows again");
}

#[test]
fn decisions_ask_before_they_are_recorded() {
    let mut m = model_on_incident();
    // Severity: picked, then a reason is required.
    update(&mut m, key('S'));
    assert!(writes(&update(&mut m, key('1'))).is_empty(), "no write before a reason");
    assert!(
        writes(&update(&mut m, code(KeyCode::Enter))).is_empty(),
        "an empty reason is not enough"
    );
    for c in "exfil seen".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(
        matches!(&writes(&fx)[0][0].body, Body::SeverityChanged(s) if s.severity == 1 && s.reason.as_deref() == Some("exfil seen"))
    );
    // Approval: what is approved is shown first; `y` records it.
    update(&mut m, code(KeyCode::Tab));
    for _ in 0..5 {
        update(&mut m, key('j'));
    }
    assert!(writes(&update(&mut m, key('A'))).is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Approve { .. }))));
    // The approver sees whose proposal it is.
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("proposed by jon@ops-bastion"), "{s}");
    let fx = update(&mut m, key('y'));
    assert!(matches!(&writes(&fx)[0][0].body, Body::ActionSet(a) if a.state == ActionState::Approved));
}

/// A search term and its Enter arriving in one burst (ssh batches keystrokes; three keys in
/// 10 ms read as a paste) apply the search, as typed slowly they would; a pasted line with
/// more lines after it stays in the field, joined by spaces, for the user to look at.
#[test]
fn a_search_and_its_enter_in_one_burst_apply_the_search() {
    let mut m = model_on_incident();
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('/'));
    update(&mut m, Msg::Paste("egress\r\n".into()));
    assert!(m.overlay.is_none(), "the search field closed");
    assert_eq!(m.incident.as_ref().unwrap().timeline.search.as_deref(), Some("egress"));
    update(&mut m, key('/'));
    update(&mut m, Msg::Paste("egress\nfin-fs\n".into()));
    assert!(matches!(&m.overlay, Some(Overlay::Editor(ed)) if ed.purpose == EditorPurpose::Search));
    // The `/` itself in the burst (tmux send-keys '/' 'fin' Enter; ssh batching).
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, code(KeyCode::Esc));
    let burst: Vec<KeyEvent> = "/fin-fs"
        .chars()
        .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        .chain(std::iter::once(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)))
        .collect();
    update(
        &mut m,
        Msg::Keys {
            keys: burst,
            at: T0 + 30 * 60_000,
        },
    );
    assert!(m.overlay.is_none(), "{:?}", m.flash);
    assert_eq!(m.incident.as_ref().unwrap().timeline.search.as_deref(), Some("fin-fs"));
}

/// A search whose only hit is far back, then Esc: the cursor stays on the record found, not
/// on the newest row (break round 2).
#[test]
fn clearing_a_search_keeps_the_record_it_found_under_the_cursor() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('/'));
    update(&mut m, Msg::Paste("ESXi\n".into()));
    assert_eq!(m.incident.as_ref().unwrap().timeline.search.as_deref(), Some("ESXi"));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.incident.as_ref().unwrap().timeline.search.is_none());
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let row = s.lines().find(|l| l.contains('▸')).unwrap_or_default();
    assert!(row.contains("ESXi"), "{s}");
}

#[test]
fn esc_clears_a_search_before_it_leaves_the_incident() {
    let mut m = model_on_incident();
    update(&mut m, code(KeyCode::Tab));
    update(&mut m, code(KeyCode::Tab));
    update(&mut m, key('/'));
    for c in "egress".chars() {
        update(&mut m, key(c));
    }
    update(&mut m, code(KeyCode::Enter));
    assert!(m.incident.as_ref().unwrap().timeline.search.is_some());
    assert!(update(&mut m, code(KeyCode::Esc)).is_empty());
    assert!(
        m.incident.as_ref().is_some_and(|i| i.timeline.search.is_none()),
        "first Esc clears the search"
    );
    update(&mut m, code(KeyCode::Esc));
    assert!(m.incident.is_none(), "second Esc goes back to the board");
}

#[test]
fn a_dead_store_thread_ends_the_console_with_drafts_saved() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('w'));
    let fx = update(&mut m, Msg::StoreDied("boom".into()));
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text == "w")));
    assert!(m.quit && m.fatal.as_deref().is_some_and(|f| f.contains("boom")));
}

// ---- a paste is never a keystroke ----------------------------------------------------------

/// The actions pane with the proposed two-person action selected (someone else proposed it).
fn on_the_proposed_action() -> Model {
    let mut m = model_on_incident();
    update(&mut m, code(KeyCode::Tab));
    for _ in 0..5 {
        update(&mut m, key('j'));
    }
    m
}

/// A bracketed paste where no text field takes it (a confirm dialog, the board) is dropped with
/// the same words as one told by its speed, never silently.
#[test]
fn a_bracketed_paste_outside_a_text_field_says_it_was_ignored() {
    let mut m = on_the_proposed_action();
    update(&mut m, key('A'));
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Approve { .. }))));
    let fx = update(&mut m, Msg::Paste("Approved by lead".into()));
    assert!(writes(&fx).is_empty());
    assert!(
        matches!(m.overlay, Some(Overlay::Confirm(Confirm::Approve { .. }))),
        "the dialog stays"
    );
    let f = m.flash.clone().unwrap();
    assert!(f.error, "{f:?}");
    assert_eq!(
        f.text,
        "ignored a 16-character paste outside a text field — press n to write a note"
    );

    let mut b = board_model();
    let fx = update(&mut b, Msg::Paste("héllo\nq".into()));
    assert!(fx.is_empty() && !b.quit && b.overlay.is_none(), "{fx:?}");
    let f = b.flash.clone().unwrap();
    assert_eq!(f.text, "ignored a 7-character paste outside a text field");
    let s = screen(&render(&b, 80, 24, Theme::mono()));
    assert!(s.contains("ignored a 7-character paste"), "{s}");
}

#[test]
fn a_paste_without_markers_outside_a_text_field_writes_nothing() {
    let mut m = on_the_proposed_action();
    let fx = update(&mut m, burst("Approved by lead", 1_000_000));
    assert!(writes(&fx).is_empty());
    assert!(m.overlay.is_none(), "no dialog opened");
    let f = m.flash.clone().unwrap();
    assert!(
        f.text.contains("ignored a 16-character paste outside a text field"),
        "{f:?}"
    );
    // The rest of the same paste, a few ms later in another read, is ignored too.
    let fx = update(&mut m, burst("y", 1_000_030));
    assert!(writes(&fx).is_empty() && m.overlay.is_none());
    // The hint fits the footer at 80 columns.
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("press n to write a note"), "{s}");
}

#[test]
fn keys_one_by_one_at_machine_speed_are_a_paste_too() {
    let mut m = on_the_proposed_action();
    let mut fx = Vec::new();
    for (i, c) in "Approved by lead".chars().enumerate() {
        fx.extend(update(&mut m, burst(&c.to_string(), 2_000_000 + i as i64)));
    }
    assert!(writes(&fx).is_empty());
    assert!(m.overlay.is_none(), "the dialog its A opened is closed again");
}

#[test]
fn a_paste_without_markers_in_the_note_editor_is_text() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    let mut keys: Vec<KeyEvent> = "first q line"
        .chars()
        .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
        .collect();
    // Its newline arrives as Enter (or Ctrl+J): a new line, never "send".
    keys.push(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    keys.extend(
        "second"
            .chars()
            .map(|c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
    let fx = update(&mut m, Msg::Keys { keys, at: 3_000_000 });
    assert!(writes(&fx).is_empty() && !m.quit);
    match &m.overlay {
        Some(Overlay::Editor(ed)) => assert_eq!(ed.text(), "first q line\nsecond"),
        _ => panic!("the editor should still be open"),
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Note(n) if n.text.held() == Some("first q line\nsecond")));
}

#[test]
fn a_confirm_too_soon_after_the_dialog_opened_is_ignored() {
    let mut m = on_the_proposed_action();
    // `A` and `y` in one read: the y came with the key that opened the dialog.
    let fx = update(&mut m, burst("Ay", 4_000_000));
    assert!(writes(&fx).is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Approve { .. }))));
    assert!(m.flash.as_ref().is_some_and(|f| f.text.contains("too soon")));
    // 200 ms later: still too soon to have read it.
    let fx = update(&mut m, burst("y", 4_000_200));
    assert!(writes(&fx).is_empty());
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("y ignored: too soon after this dialog opened"), "{s}");
    // A person who read it.
    let fx = update(&mut m, burst("y", 4_000_700));
    assert!(matches!(&writes(&fx)[0][0].body, Body::ActionSet(a) if a.state == ActionState::Approved));
}

#[test]
fn a_person_pressing_a_then_y_400ms_later_approves() {
    let mut m = on_the_proposed_action();
    assert!(writes(&update(&mut m, burst("A", 5_000_000))).is_empty());
    let fx = update(&mut m, burst("y", 5_000_400));
    assert!(matches!(&writes(&fx)[0][0].body, Body::ActionSet(a) if a.state == ActionState::Approved));
}

#[test]
fn a_picker_that_writes_is_guarded_too() {
    let mut m = model_on_incident();
    // `a` assigns the selected item; `1` picks the first person. Together: refused.
    let fx = update(&mut m, burst("a1", 6_000_000));
    assert!(writes(&fx).is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Picker(_))));
    let fx = update(&mut m, burst("1", 6_000_500));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Assigned(_)));
}

#[test]
fn quitting_while_a_write_is_on_its_way_quits_once_it_lands() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    let fx = update(&mut m, code(KeyCode::Enter)); // in flight
    let token = fx
        .iter()
        .find_map(|f| match f {
            Effect::Write { token, .. } => Some(*token),
            _ => None,
        })
        .expect("a write");
    update(&mut m, key('q'));
    assert!(!m.quit, "asks first");
    let fx = update(
        &mut m,
        Msg::Written {
            token,
            result: Ok(vec!["01J0000000000000000000000X".into()]),
        },
    );
    assert!(m.quit, "nothing is left to lose: the quit that was asked for happens");
    assert!(fx.iter().any(|f| matches!(f, Effect::Quit)));
}

#[test]
fn quitting_with_unsaved_writes_asks_and_keeps_notes_as_a_draft() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    update(&mut m, code(KeyCode::Enter)); // in flight
    let fx = update(&mut m, key('q'));
    assert!(!m.quit && fx.is_empty(), "asks first");
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Quit { .. }))));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("not on disk yet"), "{s}");
    update(&mut m, key('n'));
    assert!(!m.quit && m.overlay.is_none(), "n stays");
    update(&mut m, key('q'));
    let fx = update(&mut m, key('y'));
    assert!(m.quit);
    assert!(fx
        .iter()
        .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text == "x")));
    assert!(m.farewell.as_deref().is_some_and(|f| f.contains("kept as a draft")));
}

#[test]
fn quitting_with_a_draft_says_it_is_kept() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('d'));
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('q'));
    assert!(m.quit, "nothing is lost: quit at once");
    assert!(
        m.farewell.as_deref().is_some_and(|f| f.contains(ID)),
        "{:?}",
        m.farewell
    );
}

#[test]
fn the_header_says_why_it_polls() {
    let mut m = model_on_incident();
    m.watch.mode = "poll 2s (inotify watches exhausted)".into();
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("poll 2s (inotify watches exhausted)"), "{s}");
}

// ---- ASCII glyphs (the Linux console) --------------------------------------------------------

fn non_ascii(s: &str) -> Vec<char> {
    s.chars().filter(|c| !c.is_ascii()).collect()
}

#[test]
fn war_room_80x24_ascii() {
    let m = model_on_incident();
    let s = screen(&render(&m, 80, 24, Theme::mono().with_ascii()));
    assert!(non_ascii(&s).is_empty(), "{:?}\n{s}", non_ascii(&s));
    insta::assert_snapshot!(s);
}

#[test]
fn every_screen_is_plain_ascii_in_ascii_mode() {
    let theme = Theme::mono().with_ascii();
    let mut screens = vec![
        screen(&render(&board_model(), 80, 24, theme)),
        screen(&render(&model_on_incident(), 120, 40, theme)),
    ];
    // Help, a picker, the approval dialog, a detail view, the editor, a flash and a failed write.
    let mut m = model_on_incident();
    update(&mut m, key('?'));
    screens.push(screen(&render(&m, 80, 24, theme)));
    let mut m = on_the_proposed_action();
    update(&mut m, key('A'));
    screens.push(screen(&render(&m, 80, 24, theme)));
    let mut m = model_on_incident();
    update(&mut m, code(KeyCode::Enter));
    screens.push(screen(&render(&m, 80, 24, theme)));
    let mut m = model_on_incident();
    update(&mut m, key('S'));
    screens.push(screen(&render(&m, 80, 24, theme)));
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    update(&mut m, code(KeyCode::Enter));
    update(
        &mut m,
        Msg::Written {
            token: 1,
            result: Err("disk full".into()),
        },
    );
    screens.push(screen(&render(&m, 80, 24, theme)));
    for s in screens {
        assert!(non_ascii(&s).is_empty(), "{:?}\n{s}", non_ascii(&s));
    }
}

#[test]
fn a_state_is_told_in_words_not_by_glyph_alone() {
    let s = screen(&render(&model_on_incident(), 120, 40, Theme::mono().with_ascii()));
    for word in [
        "done Record",
        "blocked Build",
        "running",
        "proposed",
        "BLOCKED 1",
        "to approve",
        "mine:",
    ] {
        assert!(s.contains(word), "{word:?} missing\n{s}");
    }
}

// ---- 80x24 is the main size: nothing important is cut off ------------------------------------

/// A 250-character command, as long as real ones get.
const LONG_COMMAND: &str = "curl -fsS -X POST \"https://api.securitycenter.microsoft.com/api/machines/$MACHINE_ID/isolate\" -H \"Authorization: Bearer $MDE_TOKEN\" -H 'Content-Type: application/json' -d '{\"Comment\":\"warroom ransomware containment, ticket INC-4711\",\"IsolationType\":\"Full\"}'";

/// The incident with a long command on the proposed action, and the terminal 80x24.
fn model_with(change: impl FnOnce(&mut warroom::domain::Playbook)) -> Model {
    let mut m = model_on_incident();
    m.incident = Some(IncidentModel::new(ID));
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: story_with(change),
        },
    );
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m
}

fn select_action(m: &mut Model, id: &str) {
    let inc = m.incident.as_mut().unwrap();
    inc.focus = Pane::Actions;
    inc.action_sel = inc.playbook().unwrap().actions.iter().position(|a| a.id == id).unwrap();
}

#[test]
fn action_detail_wraps_a_250_character_command_and_copies_it() {
    assert!(LONG_COMMAND.len() >= 250);
    let mut m = model_with(|pb| {
        let a = pb.actions.iter_mut().find(|a| a.id == "cut-segment-egress").unwrap();
        a.command = Some(LONG_COMMAND.into());
    });
    select_action(&mut m, "cut-segment-egress");
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(m.overlay, Some(Overlay::Detail)));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("action_detail_long_command_80x24", s);
    // Scrolled to the end, the rest of the command and the keys are there.
    update(&mut m, code(KeyCode::End));
    let end = screen(&render(&m, 80, 24, Theme::mono()));
    // Every character of the command is in the dialog's rows, in order (broken at the edge only).
    let area = Rect::new(0, 0, 80, 24);
    let (d, _) = view::dialogs::dialog_of(&m, area, &Theme::mono()).unwrap();
    let body: String = view::dialogs::place(area, &d)
        .body
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert!(body.contains(LONG_COMMAND), "{body}");
    assert!(s.contains("curl -fsS -X POST"), "{s}");
    assert!(end.contains("IsolationType"), "{end}");
    assert!(end.contains("c copy command"), "{end}");
    // c copies exactly the command.
    let fx = update(&mut m, key('c'));
    match fx.as_slice() {
        [Effect::Copy { text, name, .. }] => {
            assert_eq!(text, LONG_COMMAND);
            assert!(name.contains("cut-segment-egress"));
        }
        other => panic!("expected a copy, got {other:?}"),
    }
    update(
        &mut m,
        Msg::Copied {
            what: "the command of cut-segment-egress".into(),
            saved: Ok("/home/you/.local/state/warroom/copied/x.txt".into()),
        },
    );
    assert!(m.flash.as_ref().unwrap().text.contains("copied/x.txt"));
    // Enter and Esc both close it.
    update(&mut m, code(KeyCode::Enter));
    assert!(m.overlay.is_none());
}

#[test]
fn event_detail_wraps_a_long_note_80x24() {
    let mut m = model_on_incident();
    let long = "Timeline from the EDR console, copied by hand: ".to_string()
        + &"fin-fs-02 first encrypted at 09:48, fin-fs-03 at 09:51, backup share mounted read-write by svc-veeam; "
            .repeat(20);
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![ev(
                    9,
                    "jon@ops-bastion",
                    8,
                    Note {
                        text: long.into(),
                        tags: Default::default(),
                    },
                )],
                ..Update::default()
            },
        },
    );
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, code(KeyCode::Enter));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("event_detail_long_note_80x24", s);
    assert!(s.contains("Esc/Enter close"), "{s}");
    update(&mut m, code(KeyCode::PageDown));
    assert!(m.dialog_scroll > 0);
}

/// `x` on a timeline record asks why, naming the record it retracts (the cursor may move
/// under a live timeline before the reason is typed); Enter writes the retraction of that one.
#[test]
fn retracting_a_record_names_it_and_writes_its_retraction() {
    let mut m = model_on_incident();
    m.me = "maya@soc-jump".into();
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![ev(
                    9,
                    "maya@soc-jump",
                    8,
                    Note {
                        text: "fin-fs-02 encrypted at 09:48\u{1b}[31m, wrong host".into(),
                        tags: Default::default(),
                    },
                )],
                ..Update::default()
            },
        },
    );
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('x'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("Retract maya's note \"fin-fs-02 encrypted at 09:48"), "{s}");
    assert!(!s.contains('\u{1b}'), "escapes from the shared directory are not drawn");
    typed_text(&mut m, "wrong host");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::Corrected(c) if c.is_retraction() && c.seq == 9 && c.reason == "wrong host"),
        "{:?}",
        w
    );
}

#[test]
fn phase_change_with_18_open_items_shows_its_keys_and_enter_confirms() {
    let mut m = model_with(|pb| {
        for i in 0..8 {
            pb.phases.identification.push(warroom::domain::playbook::Item {
                id: format!("id-extra-{i}"),
                text: format!("Extra required step number {i}, written as long as playbook steps are written"),
                required: true,
                role: None,
            });
        }
    });
    update(&mut m, key('P'));
    let Some(Overlay::Confirm(Confirm::Phase { open, .. })) = &m.overlay else {
        panic!("no confirmation");
    };
    assert_eq!(open.len(), 18);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("phase_confirm_18_open_80x24", s);
    assert!(s.contains("y/Enter move on · n/Esc stay"), "{s}");
    // It scrolls, and the keys stay.
    update(&mut m, code(KeyCode::PageDown));
    assert!(m.dialog_scroll > 0);
    update(&mut m, code(KeyCode::End));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("y/Enter move on · n/Esc stay"), "{s}");
    assert!(s.contains("id-extra-7"), "{s}");
    // Enter means yes, as y does.
    let fx = update(&mut m, code(KeyCode::Enter));
    assert_eq!(writes(&fx).len(), 1, "Enter did not confirm");
}

#[test]
fn esc_and_enter_mean_the_same_in_every_dialog() {
    // Esc says no.
    let mut m = on_the_proposed_action();
    update(&mut m, key('A'));
    assert!(matches!(m.overlay, Some(Overlay::Confirm(_))));
    assert!(update(&mut m, code(KeyCode::Esc)).is_empty());
    assert!(m.overlay.is_none());
    // Enter says yes.
    update(&mut m, key('A'));
    let fx = update(&mut m, code(KeyCode::Enter));
    assert_eq!(writes(&fx).len(), 1);
    // Help, problems and the message log close on either.
    for (open, close) in [
        ('?', KeyCode::Enter),
        ('?', KeyCode::Esc),
        ('!', KeyCode::Enter),
        ('M', KeyCode::Esc),
    ] {
        update(&mut m, key(open));
        assert!(m.overlay.is_some(), "{open}");
        update(&mut m, code(close));
        assert!(m.overlay.is_none(), "{open} then {close:?}");
    }
}

#[test]
fn a_long_refusal_wraps_in_the_footer_reason_first_and_the_log_keeps_it() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    // Not the commander, and the commander has not been silent: the handoff is refused.
    update(&mut m, key('H'));
    let f = m.flash.clone().expect("a refusal");
    assert!(f.error && f.text.starts_with("only the commander"), "{}", f.text);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("long_refusal_footer_80x24", s);
    assert!(s.contains("30 minutes"), "the reason is cut: {s}");
    // A failed write says why first, then where.
    update(
        &mut m,
        Msg::Written {
            token: 99,
            result: Err("No space left on device (os error 28) (writing /srv/warroom/2026-11-26-ransomware-finance-7f3a/events/you@jump.k3x9qa.ronl)".into()),
        },
    );
    update(&mut m, key('n'));
    update(&mut m, code(KeyCode::Esc));
    // The log of messages, one key away.
    update(&mut m, key('M'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("message_log_80x24", s);
    assert!(s.contains("only the commander"), "{s}");
}

#[test]
fn a_failed_write_shows_the_reason_not_just_the_path() {
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    for c in "x".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    let token = fx
        .iter()
        .find_map(|e| match e {
            Effect::Write { token, .. } => Some(*token),
            _ => None,
        })
        .unwrap();
    update(
        &mut m,
        Msg::Written {
            token,
            result: Err("No space left on device (os error 28) (writing /srv/warroom/2026-11-26-ransomware-finance-7f3a/events/you@jump.k3x9qa.ronl)".into()),
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let footer: String = s.lines().rev().take(3).collect::<Vec<_>>().join("\n");
    assert!(footer.contains("No space left on device"), "{s}");
}

#[test]
fn help_scrolls_by_pages_at_80x24() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    update(&mut m, key('?'));
    let first = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("help_80x24", first);
    update(&mut m, code(KeyCode::PageDown));
    let second = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("help_80x24_page_2", second);
    assert_ne!(first, second);
    assert!(second.contains("Esc/Enter close"), "{second}");
    // End, then PageDown again: never past the end.
    update(&mut m, code(KeyCode::End));
    let Some(Overlay::Help { scroll }) = m.overlay else {
        panic!()
    };
    update(&mut m, code(KeyCode::PageDown));
    assert!(matches!(m.overlay, Some(Overlay::Help { scroll: s }) if s == scroll));
}

#[test]
fn every_keymap_action_appears_in_help() {
    let map = Keymap::default();
    for board in [true, false] {
        let mut m = if board { board_model() } else { model_on_incident() };
        update(
            &mut m,
            Msg::Resize {
                width: 120,
                height: 200,
            },
        );
        update(&mut m, key('?'));
        let s = screen(&render(&m, 120, 200, Theme::mono()));
        for b in &map.bindings {
            let here = if board {
                b.context == warroom::tui::keymap::Context::Board
            } else {
                b.context != warroom::tui::keymap::Context::Board
            };
            if here {
                assert!(s.contains(&b.help), "help lacks {:?} ({}): {s}", b.action, b.help);
            }
        }
    }
    // And every action has a key.
    for a in warroom::tui::keymap::Action::ALL {
        assert!(map.bindings.iter().any(|b| b.action == *a), "{a:?} has no key");
    }
}

#[test]
fn every_dialog_at_80x24_shows_its_keys() {
    let mut m = on_the_proposed_action();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    let mut shots = Vec::new();
    update(&mut m, key('A'));
    shots.push(("approve", screen(&render(&m, 80, 24, Theme::mono())), "y/Enter approve"));
    update(&mut m, key('n'));
    update(&mut m, key('a'));
    shots.push(("assign", screen(&render(&m, 80, 24, Theme::mono())), "Esc cancel"));
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('S'));
    shots.push(("severity", screen(&render(&m, 80, 24, Theme::mono())), "Enter/1-9 pick"));
    for (what, s, keys) in shots {
        assert!(s.contains(keys), "{what}: {s}");
    }
}

/// Whether a wide character anywhere is followed by something other than its own blank half.
fn wide_overlaps(t: &Terminal<TestBackend>) -> Vec<(u16, u16)> {
    use unicode_width::UnicodeWidthStr;
    let buf = t.backend().buffer();
    let mut bad = Vec::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width.saturating_sub(1) {
            if buf[(x, y)].symbol().width() > 1 && buf[(x + 1, y)].symbol() != " " {
                bad.push((x, y));
            }
        }
    }
    bad
}

#[test]
fn a_wide_glyph_never_covers_a_popup_border() {
    let mut m = on_the_proposed_action();
    update(&mut m, key('A'));
    for w in 60..=120 {
        update(&mut m, Msg::Resize { width: w, height: 24 });
        let t = render(&m, w, 24, Theme::mono());
        assert!(
            wide_overlaps(&t).is_empty(),
            "{w} columns: {:?}\n{}",
            wide_overlaps(&t),
            screen(&t)
        );
    }
}

#[test]
fn the_header_now_strip_and_tabs_at_80_columns() {
    let mut m = model_on_incident();
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let rows: Vec<&str> = s.lines().collect();
    // The id whole, the commander.
    assert!(rows[1].contains(ID) && rows[1].contains("IC maya"), "{}", rows[1]);
    // Every count whole, with the key that jumps there; the time left whole.
    assert!(
        rows[2].contains("▲ BLOCKED 1") && rows[2].contains("23h40m left"),
        "{}",
        rows[2]
    );
    assert!(
        rows[3].contains("⧗ 1 to approve: cut-segment-egress (w)"),
        "{}",
        rows[3]
    );
    assert!(rows[3].contains("☛ 1 mine: id-exfiltration (m)"), "{}", rows[3]);
    // All six phases on the tab line.
    for t in ["Pr", "Ident 1/13", "Co", "Er", "Re", "LL"] {
        assert!(rows[5].contains(t), "{t}: {}", rows[5]);
    }
    // With problems and a long watch mode, the id is still there (cut last).
    m.watch.mode = "poll 2s (inotify watches exhausted)".into();
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let row = s.lines().nth(1).unwrap();
    assert!(
        row.contains("IC maya") && row.contains("poll 2s") && row.contains("2026-11-26-ransomware"),
        "{row}"
    );
}

// ---- fast and safe common work ----------------------------------------------------------------

fn typed_text(m: &mut Model, text: &str) {
    for c in text.chars() {
        update(m, key(c));
    }
}

#[test]
fn jump_keys_go_to_my_approval_my_work_and_the_next_required_item() {
    let mut m = model_on_incident();
    // w: jon's proposal waits for me (a two-person action: anyone but jon).
    update(&mut m, key('w'));
    let inc = m.incident.as_ref().unwrap();
    assert_eq!(inc.focus, Pane::Actions);
    assert_eq!(inc.selected_action().unwrap().id, "cut-segment-egress");
    assert!(m.flash.as_ref().unwrap().text.contains("1 of 1"), "{:?}", m.flash);
    // m: the item assigned to me.
    update(&mut m, key('m'));
    let inc = m.incident.as_ref().unwrap();
    assert_eq!(inc.focus, Pane::Checklist);
    assert_eq!(inc.selected_item().unwrap().id, "id-exfiltration");
    // i: open required items one after another, wrapping.
    let mut seen = Vec::new();
    for _ in 0..3 {
        update(&mut m, key('i'));
        let inc = m.incident.as_ref().unwrap();
        let item = inc.selected_item().unwrap();
        assert!(item.required);
        assert_ne!(inc.state().item_state(&item.id), ItemState::Done);
        seen.push(item.id.clone());
    }
    assert_eq!(seen.len(), 3);
    assert!(seen[0] != seen[1] && seen[1] != seen[2], "{seen:?}");
    // Nothing to jump to: said so, the cursor stays.
    let mut m = model_on_incident();
    m.person = "nobody".into();
    m.me = "nobody@x".into();
    update(&mut m, key('m'));
    assert!(m
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("nothing open is assigned to you"));
}

#[test]
fn handing_off_command_asks_first() {
    let mut m = model_on_incident();
    // maya (the commander) hands off to jon.
    m.me = "maya@soc-jump".into();
    m.person = "maya".into();
    update(&mut m, key('H'));
    assert!(matches!(m.overlay, Some(Overlay::Picker(_))));
    let Some(Overlay::Picker(p)) = &m.overlay else {
        unreachable!()
    };
    let jon = p.options.iter().position(|o| o == "jon").unwrap();
    for _ in 0..jon {
        update(&mut m, key('j'));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(writes(&fx).is_empty(), "a handoff without confirmation");
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Handoff { to })) if to == "jon"));
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("handoff_confirm_80x24", s);
    let fx = update(&mut m, key('y'));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    assert!(matches!(&w[0][0].body, Body::RoleAssigned(r) if r.who == "jon" && r.role == "commander"));
}

#[test]
fn skipping_a_required_item_asks_why() {
    let mut m = model_on_incident();
    // The first item of Identification is required.
    assert!(m.incident.as_ref().unwrap().selected_item().unwrap().required);
    let fx = update(&mut m, key('s'));
    assert!(writes(&fx).is_empty());
    assert!(matches!(&m.overlay, Some(Overlay::Editor(e)) if e.purpose == EditorPurpose::Skip));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("Why skip id-open-bridge? (a required item)"), "{s}");
    typed_text(&mut m, "bridge already open from the P1 call");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    match &w[0][0].body {
        Body::ChecklistSet(c) => {
            assert_eq!(c.state, ItemState::Skipped);
            assert_eq!(c.note.as_deref(), Some("bridge already open from the P1 call"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn proposing_an_action_asks_for_its_parameters_and_records_them() {
    let mut m = model_with(|pb| {
        let a = pb.actions.iter_mut().find(|a| a.id == "isolate-host-edr").unwrap();
        a.params = vec!["HOST".into(), "SEGMENT".into()];
    });
    // An action the story has not touched, with the command's own variables.
    select_action(&mut m, "block-ioc-egress");
    update(&mut m, key('p'));
    let Some(Overlay::Editor(ed)) = &m.overlay else {
        panic!("no parameters asked")
    };
    assert_eq!(ed.purpose, EditorPurpose::Params);
    assert_eq!(ed.text(), "IOC_IP=");
    typed_text(&mut m, "203.0.113.7");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    match &w[0][0].body {
        Body::ActionSet(a) => {
            assert_eq!(a.state, ActionState::Proposed);
            assert_eq!(a.note.as_deref(), Some("parameters: IOC_IP=203.0.113.7"));
        }
        other => panic!("{other:?}"),
    }
    // Declared parameters come first, then the command's (and its rollback's) own, never left to
    // the environment; one left empty is asked about once.
    let mut m = model_with(|pb| {
        let a = pb.actions.iter_mut().find(|a| a.id == "block-ioc-egress").unwrap();
        a.params = vec!["HOST".into(), "SEGMENT".into()];
    });
    select_action(&mut m, "block-ioc-egress");
    update(&mut m, key('p'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("params_editor_80x24", s);
    typed_text(&mut m, "fin-fs-02");
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(writes(&fx).is_empty());
    assert!(m.flash.as_ref().unwrap().text.contains("SEGMENT, IOC_IP still empty"));
    let fx = update(&mut m, code(KeyCode::Enter));
    match &writes(&fx)[0][0].body {
        Body::ActionSet(a) => assert_eq!(a.note.as_deref(), Some("parameters: HOST=fin-fs-02")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_parameter_value_that_could_never_run_is_refused_when_proposed() {
    let mut m = model_on_incident();
    select_action(&mut m, "block-ioc-egress");
    update(&mut m, key('p'));
    typed_text(&mut m, "1.2.3.4; curl evil|sh");
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(writes(&fx).is_empty(), "nothing written");
    let flash = &m.flash.as_ref().unwrap().text;
    assert!(
        flash.contains("IOC_IP holds ';' '|'") && flash.contains("letters, digits"),
        "{flash}"
    );
    // The editor stays open with what was typed, to be fixed.
    let Some(Overlay::Editor(ed)) = &m.overlay else {
        panic!("the editor closed")
    };
    assert_eq!(ed.text(), "IOC_IP=1.2.3.4; curl evil|sh");
}

#[test]
fn the_timeline_marks_the_selected_row_and_enter_opens_it() {
    let mut m = model_on_incident();
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('k'));
    update(&mut m, key('k'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let marked: Vec<&str> = s.lines().filter(|l| l.contains('▸')).collect();
    assert_eq!(marked.len(), 1, "{s}");
    assert!(marked[0].contains("action isolate-host-edr running"), "{s}");
    update(&mut m, code(KeyCode::Enter));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("ActionSet by maya@soc-jump at 10:05:00"), "{s}");
}

#[test]
fn the_facilitator_ends_the_exercise_from_the_console() {
    use warroom::exercise::local::FacilitatorState;
    use warroom::exercise::scenario;
    let sc = scenario::parse("h", scenario::BUILT_IN[0].1, None).unwrap();
    let mut m = model_on_incident();
    m.facilitator = Some(FacilitatorState {
        incident: ID.into(),
        scenario: sc,
        skipped: Default::default(),
        notes: vec![],
        ratings: vec![],
    });
    let start = ev(
        50,
        "fac@bridge",
        1, // after the declaration it answers
        ExerciseClock {
            change: "Start".into(),
            speed: 2.0,
            scenario_ms: 0,
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![start],
                ..Update::default()
            },
        },
    );
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    let fx = update(&mut m, key('E'));
    assert!(writes(&fx).is_empty(), "ended without asking");
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::EndExercise))));
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("End the exercise?") && s.contains("y/Enter end it"), "{s}");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert_eq!(w.len(), 1);
    assert!(matches!(&w[0][0].body, Body::ExerciseClock(c) if c.change == "End" && c.speed == 2.0));
}

/// The incident three days on: the insurer hotline was called (its item done), one internal update
/// went out, the incident was classified; GDPR's 72 h from discovery has passed.
fn clocks_model() -> Model {
    let mut m = model_on_incident();
    let more = vec![
        ev(
            20,
            "maya@soc-jump",
            30,
            ChecklistSet {
                item: "id-notify-insurer".into(),
                state: ItemState::Done,
                note: None,
            },
        ),
        ev(21, "maya@soc-jump", 40, Classified { note: None }),
        ev(
            22,
            "maya@soc-jump",
            50,
            StatusUpdate {
                audience: warroom::domain::playbook::Audience::Internal,
                text: "sitrep".into(),
            },
        ),
    ];
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: more,
                ..Update::default()
            },
        },
    );
    m.now = T0 + 74 * 3_600_000;
    m.watch.last_reconcile = m.now;
    m
}

#[test]
fn clocks_80x24() {
    let mut m = clocks_model();
    update(&mut m, key('C'));
    assert!(matches!(m.overlay, Some(Overlay::Clocks { .. })));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("OVERDUE"), "{s}");
    insta::assert_snapshot!(s);
    // Scrolled to the end, every deadline is still there: met ones last.
    update(&mut m, code(KeyCode::End));
    let end = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(end.contains("met"), "{end}");
    insta::assert_snapshot!("clocks_80x24_end", end);
    update(&mut m, key('C'));
    assert!(m.overlay.is_none());
}

#[test]
fn a_missed_deadline_leads_the_now_strip_and_the_update_is_overdue() {
    let m = clocks_model();
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let rows: Vec<&str> = s.lines().collect();
    // The header says the update is overdue; the Now strip's first row starts with the missed deadlines.
    assert!(rows[1].contains("UPDATE OVERDUE 3d0h"), "{s}");
    assert!(
        rows[2].starts_with("⏰  3 OVERDUE 2d1h") && rows[2].contains("(C)"),
        "{s}"
    );
}

// ---- issue 9: the console at 80x24 --------------------------------------------------------------

#[test]
fn the_board_flags_are_whole_at_80_columns() {
    let mut m = board_model();
    let mut rows = m.board.clone();
    let mut ex = rows[0].clone();
    ex.id = "2026-11-26-tabletop-hospital-11aa".into();
    ex.title = "Tabletop: ransomware at St Elsewhere hospital".into();
    ex.mode = Some(Mode::Exercise);
    ex.problems = 1;
    rows.push(ex);
    let mut old = rows[1].clone();
    old.id = "2026-11-20-ddos-shop-22bb".into();
    old.title = "DDoS on the web shop".into();
    old.status = RowStatus::Resolved;
    old.open_dues = vec![];
    rows.push(old);
    update(&mut m, Msg::Board(rows));
    m.board_filter = BoardFilter::Active;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    // Every flag of the phishing row is whole: OVERDUE leads, then the older playbook, problems.
    assert!(s.contains("OVERDUE 1 old pb ⚠2║"), "{s}");
    assert!(s.contains("resolved old pb ⚠2"), "{s}");
    insta::assert_snapshot!(s);
    update(&mut m, key('f'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("EXERCISE ⚠1"), "{s}");
}

#[test]
fn a_picker_title_too_wide_ends_in_an_ellipsis() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m.overlay = Some(Overlay::Picker(Picker {
        title: "Rate: players agree who may authorise downtime procedures at the hospital and who tells the regulator"
            .into(),
        options: vec!["met".into(), "partly".into(), "not met".into()],
        sel: 0,
        purpose: PickPurpose::Severity,
    }));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let row = s.lines().find(|l| l.contains("Rate: players")).expect("the title row");
    assert!(row.contains("…"), "{row}");
    assert!(!row.contains("regulator"), "{row}");
}

#[test]
fn a_jump_message_goes_after_the_next_action_or_when_its_target_is_done() {
    let mut m = model_on_incident();
    update(&mut m, key('w'));
    assert!(m.flash.as_ref().is_some_and(|f| f.text.contains("cut-segment-egress")));
    // The next action (moving the cursor) clears it: it would point at the wrong thing.
    update(&mut m, key('j'));
    assert!(m.flash.is_none(), "{:?}", m.flash);
    // Again, and this time maya approves it meanwhile: the message goes with it.
    update(&mut m, key('w'));
    assert!(m.flash.is_some());
    let approve = ev(
        60,
        "maya@soc-jump",
        19,
        ActionSet {
            action: "cut-segment-egress".into(),
            state: ActionState::Approved,
            note: None,
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![approve],
                ..Update::default()
            },
        },
    );
    assert!(m.flash.is_none(), "{:?}", m.flash);
    // A teammate's unrelated note leaves a fresh jump message alone.
    update(&mut m, key('m'));
    assert!(m.flash.is_some());
    let note = ev(
        61,
        "jon@ops-bastion",
        19,
        Note {
            text: "still here".into(),
            tags: Default::default(),
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![note],
                ..Update::default()
            },
        },
    );
    assert!(m.flash.is_some());
}

// ---- issue 9: the facilitator and the players ----------------------------------------------------

// ---- closing: discovery, resolve, follow-ups, corrections, review ------------------------------

/// The story, seen by `me` (`maya@soc-jump` is the commander).
fn model_as(me: &str) -> Model {
    let mut m = model_on_incident();
    m.me = me.to_string();
    m.person = warroom::domain::identity::person_of(me);
    m
}

fn incoming(m: &mut Model, events: Vec<Event>) {
    update(
        m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events,
                ..Update::default()
            },
        },
    );
}

fn clock_at(n: u64, at_min: i64, change: &str, speed: f64, scenario_ms: i64) -> Event {
    ev(
        n,
        "fac@bridge",
        at_min,
        ExerciseClock {
            change: change.into(),
            speed,
            scenario_ms,
        },
    )
}

fn released_at(n: u64, at_min: i64, inject: &str, title: &str, scenario_ms: i64) -> Event {
    ev(
        n,
        "fac@bridge",
        at_min,
        InjectReleased {
            inject: inject.into(),
            title: title.into(),
            text: "what the players see".into(),
            scenario_ms,
        },
    )
}

/// The story as an exercise run by fac@bridge: started at T0+1m, sped up, paused and resumed,
/// two injects out.
fn exercise_events() -> Vec<Event> {
    vec![
        clock_at(50, 1, "Start", 1.0, 0),
        released_at(51, 1, "inj-01-detection", "EDR alert on the ward PCs", 0),
        clock_at(52, 8, "Speed", 2.0, 420_000),
        clock_at(53, 9, "Pause", 2.0, 540_000),
        clock_at(54, 10, "Resume", 2.0, 540_000),
        clock_at(55, 10, "Speed", 4.0, 540_000),
        released_at(56, 11, "inj-02-ed-charge-nurse", "ED charge nurse calls", 780_000),
    ]
}

fn facilitator_model() -> Model {
    use warroom::exercise::local::FacilitatorState;
    use warroom::exercise::scenario;
    let sc = scenario::parse("h", scenario::BUILT_IN[0].1, None).unwrap();
    let mut m = model_on_incident();
    m.facilitator = Some(FacilitatorState::new(ID, sc));
    m.incident.as_mut().unwrap().timeline.condense_clock = false;
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    m
}

fn saved_facilitator(fx: &[Effect]) -> Option<&warroom::exercise::local::FacilitatorState> {
    fx.iter().find_map(|f| match f {
        Effect::SaveFacilitator(s) => Some(s.as_ref()),
        _ => None,
    })
}

#[test]
fn speed_presses_close_together_make_one_change() {
    // The pure rule.
    assert_eq!(next_speed(1.0, None, true), 2.0);
    assert_eq!(next_speed(1.0, Some(2.0), true), 4.0);
    assert_eq!(next_speed(1.0, Some(0.125), false), 0.125);
    assert!(!speed_settled(None, T0));
    assert!(!speed_settled(Some((2.0, T0)), T0 + SPEED_SETTLE_MS - 1));
    assert!(speed_settled(Some((2.0, T0)), T0 + SPEED_SETTLE_MS));
    // In the console: + + within a second, the screen shows x4 at once, one record once settled.
    let mut m = facilitator_model();
    incoming(&mut m, vec![clock_at(50, 1, "Start", 1.0, 0)]);
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    let now = m.now;
    // Injects fall due meanwhile; only clock records matter here.
    let clocks = |fx: &[Effect]| -> Vec<ExerciseClock> {
        writes(fx)
            .iter()
            .flat_map(|d| d.iter())
            .filter_map(|d| match &d.body {
                Body::ExerciseClock(c) => Some(ExerciseClock::clone(c)),
                _ => None,
            })
            .collect()
    };
    assert!(clocks(&update(&mut m, key('+'))).is_empty());
    assert!(clocks(&update(&mut m, key('+'))).is_empty());
    assert!(
        clocks(&update(&mut m, Msg::Tick(now + 1_000))).is_empty(),
        "written before the presses settled"
    );
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(s.contains("▶ running x4…"), "{s}");
    let w = clocks(&update(&mut m, Msg::Tick(now + 2_000)));
    assert_eq!(w.len(), 1);
    assert!(w[0].change == "Speed" && w[0].speed == 4.0, "{w:?}");
    assert!(clocks(&update(&mut m, Msg::Tick(now + 3_000))).is_empty());
    incoming(&mut m, vec![clock_at(57, 19, "Speed", 4.0, 1_080_000)]);
    // A press then another action: the speed is recorded first, in order.
    update(&mut m, key('-'));
    let w = clocks(&update(&mut m, key(' ')));
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].change == "Speed" && w[0].speed == 2.0, "{w:?}");
    assert!(w[1].change == "Pause" && w[1].speed == 2.0, "{w:?}");
}

#[test]
fn players_see_clock_changes_condensed_the_facilitator_each() {
    let mut m = model_on_incident();
    incoming(&mut m, exercise_events());
    let inc = m.incident.as_mut().unwrap();
    inc.focus = Pane::Timeline;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("exercise clock: Speed x4 — 4 changes"), "{s}");
    insta::assert_snapshot!(s);
    // The facilitator's console lists each change.
    let mut f = facilitator_model();
    incoming(&mut f, exercise_events());
    let s = screen(&render(&f, 120, 40, Theme::mono()));
    assert!(!s.contains("4 changes"), "{s}");
    assert!(s.contains("exercise clock: Pause"), "{s}");
}

#[test]
fn a_player_answers_the_inject_under_the_cursor() {
    let mut m = model_on_incident();
    incoming(&mut m, exercise_events());
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    // The newest row is the second inject: a answers it.
    update(&mut m, key('a'));
    assert!(matches!(&m.overlay, Some(Overlay::Editor(ed)) if ed.purpose == EditorPurpose::Response));
    typed_text(&mut m, "paper triage forms out");
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::Note(n) if n.tags == vec!["inject:inj-02-ed-charge-nurse".to_string()]
            && n.text.held() == Some("paper triage forms out")),
        "{:?}",
        w[0][0].body
    );
    // On a row that is no inject, a says how to use it.
    update(&mut m, key('k'));
    update(&mut m, key('a'));
    assert!(m.overlay.is_none());
    assert!(m.flash.as_ref().is_some_and(|f| f.text.contains("under the cursor")));
}

#[test]
fn the_facilitator_rates_objectives_and_notes_a_released_inject() {
    let mut m = facilitator_model();
    incoming(&mut m, exercise_events());
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    // v: released injects; e on the first is an evaluator note on it.
    update(&mut m, key('v'));
    assert_eq!(m.fac_view, FacView::Released);
    update(&mut m, key('e'));
    typed_text(&mut m, "+ isolated the ward quickly");
    let fx = update(&mut m, code(KeyCode::Enter));
    let saved = saved_facilitator(&fx).expect("the note is saved locally");
    assert_eq!(saved.notes[0].inject.as_deref(), Some("inj-01-detection"));
    // v: objectives; Enter rates the first: picker, then a note.
    update(&mut m, key('v'));
    assert_eq!(m.fac_view, FacView::Objectives);
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&m.overlay, Some(Overlay::Picker(p)) if p.options == vec!["met", "partly", "not met"]));
    update(&mut m, key('2'));
    typed_text(&mut m, "downtime forms late");
    let fx = update(&mut m, code(KeyCode::Enter));
    let saved = saved_facilitator(&fx).expect("the rating is saved locally");
    assert_eq!(saved.ratings.len(), 1);
    assert_eq!(saved.ratings[0].rating, warroom::exercise::local::Rating::Partly);
    assert_eq!(saved.ratings[0].note, "downtime forms late");
    // o on the second: met, no note. Nothing goes to the shared directory.
    update(&mut m, key('j'));
    update(&mut m, key('o'));
    update(&mut m, key('1'));
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(writes(&fx).is_empty());
    assert_eq!(saved_facilitator(&fx).unwrap().ratings.len(), 2);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("2/"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn on_resume_overdue_injects_wait_for_the_facilitators_key() {
    let mut m = facilitator_model();
    m.hold_overdue = true;
    // The clock started at T0+1m and ran on while the facilitator was away: at T0+20m three
    // timed injects are overdue.
    incoming(&mut m, vec![clock_at(50, 1, "Start", 1.0, 0)]);
    let released = |fx: &[Effect]| -> Vec<String> {
        writes(fx)
            .iter()
            .flat_map(|d| d.iter())
            .filter_map(|d| match &d.body {
                Body::InjectReleased(i) => Some(i.inject.clone()),
                _ => None,
            })
            .collect()
    };
    let now = m.now;
    assert!(
        released(&update(&mut m, Msg::Tick(now))).is_empty(),
        "released in a burst"
    );
    assert_eq!(m.held.len(), 3, "{:?}", m.held);
    assert!(m
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("3 inject(s) fell due")));
    assert!(released(&update(&mut m, Msg::Tick(now + 1_000))).is_empty());
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(s.contains("OVERDUE      EDR alert") || s.contains("OVERDUE"), "{s}");
    // Enter releases the selected one, and only it.
    let fx = update(&mut m, code(KeyCode::Enter));
    assert_eq!(released(&fx), vec!["inj-01-detection"]);
    assert_eq!(m.held.len(), 2);
    assert!(released(&update(&mut m, Msg::Tick(now + 2_000))).is_empty());
    let fx = update(&mut m, code(KeyCode::Enter));
    assert_eq!(released(&fx), vec!["inj-02-ed-charge-nurse"]);
}

#[test]
fn esc_from_the_demo_incident_shows_it_on_the_board() {
    let mut m = board_model();
    let mut rows = m.board.clone();
    rows.truncate(1);
    rows[0].mode = Some(Mode::Demo);
    update(&mut m, Msg::Board(rows.clone()));
    // Elsewhere a DEMO incident is an exercise, not an active incident.
    assert!(m.visible_rows().is_empty());
    // While `warroom demo` runs, the Active tab lists it.
    m.demo = true;
    update(&mut m, Msg::Board(rows));
    assert_eq!(m.visible_rows().len(), 1);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("Active 1") && s.contains("DEMO"), "{s}");
}

// ---- replay: the incident as it stood ---------------------------------------------------------

/// `[` enters replay one record back; `{`/`}` step by ten, `]` by one; the header says REPLAY
/// with the time; writes are refused; a teammate's record lands in the live view meanwhile;
/// `Esc` returns to live.
#[test]
fn replay_steps_through_the_incident_as_it_stood() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    let live_events = m.incident.as_ref().unwrap().state().event_count();
    update(&mut m, key('['));
    update(&mut m, key('{'));
    let inc = m.incident.as_ref().unwrap();
    let t = inc.replay_at().expect("replaying");
    let r = inc.replay.as_ref().unwrap();
    // The view is exactly the fold of the records written by then.
    let want = warroom::domain::replay::as_of(&r.live.state, t);
    assert_eq!(*inc.state(), want);
    assert!(inc.state().event_count() < live_events);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.lines().next().unwrap().contains("REPLAY 2025-11-26T10:00:00Z"), "{s}");
    assert!(s.contains("REPLAY read-only") && s.contains("Esc live"), "{s}");
    insta::assert_snapshot!("replay_80x24", s);
    // Writing is refused while replaying.
    update(&mut m, key('n'));
    assert!(m.overlay.is_none());
    assert!(m.flash.as_ref().unwrap().text.contains("read-only"));
    // Stepping forward past the end stays at the newest record.
    for _ in 0..5 {
        update(&mut m, key('}'));
    }
    update(&mut m, key(']'));
    let inc = m.incident.as_ref().unwrap();
    assert_eq!(inc.state().event_count(), live_events);
    // A teammate's note arrives while replaying: it goes to the live view.
    let note = ev(
        99,
        "jon@ops-bastion",
        30,
        Note {
            text: "late news".into(),
            tags: Default::default(),
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![note],
                ..Update::default()
            },
        },
    );
    assert_eq!(m.incident.as_ref().unwrap().state().event_count(), live_events);
    update(&mut m, code(KeyCode::Esc));
    let inc = m.incident.as_ref().unwrap();
    assert!(inc.replay.is_none());
    assert_eq!(inc.state().event_count(), live_events + 1);
    // Esc again leaves the incident as before.
    update(&mut m, code(KeyCode::Esc));
    assert!(m.incident.is_none());
}

#[test]
fn resolving_with_required_items_open_warns_and_records_them() {
    let mut m = model_as("maya@soc-jump");
    update(&mut m, key('Z'));
    let Some(Overlay::Confirm(Confirm::Resolve { open, reason })) = &m.overlay else {
        panic!("no confirmation");
    };
    assert!(!open.is_empty() && reason.is_none());
    let open = open.clone();
    insta::assert_snapshot!(
        "resolve_confirm_open_items_80x24",
        screen(&render(&m, 80, 24, Theme::mono()))
    );
    let fx = update(&mut m, key('y'));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::Resolved(r) if r.override_open == open && r.reason.is_none()),
        "{:?}",
        w[0][0].body
    );
}

#[test]
fn a_non_commander_is_asked_why_they_resolve() {
    let mut m = model_as("jon@ops-bastion");
    update(&mut m, key('Z'));
    assert!(matches!(&m.overlay, Some(Overlay::Editor(e)) if e.purpose == EditorPurpose::ResolveReason));
    for c in "maya off shift".chars() {
        update(&mut m, key(c));
    }
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Resolve { .. }))));
    let fx = update(&mut m, key('y'));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::Resolved(r) if r.reason.as_deref() == Some("maya off shift")),
        "{:?}",
        w[0][0].body
    );
}

#[test]
fn the_clock_stops_at_resolve() {
    let mut m = model_as("maya@soc-jump");
    arrive(
        &mut m,
        vec![ev(
            30,
            "maya@soc-jump",
            10,
            Resolved {
                summary: None,
                override_open: vec![],
                reason: None,
            },
        )],
    );
    m.now = T0 + 60 * 60_000;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("T+00:10:00"), "{s}");
    assert!(s.contains("RESOLVED"), "{s}");
}

#[test]
fn closing_keys_are_confirmed() {
    let mut m = model_as("maya@soc-jump");
    update(&mut m, key('G'));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Classify))));
    let fx = update(&mut m, key('y'));
    assert!(matches!(&writes(&fx)[0][0].body, Body::Classified(_)));
    update(&mut m, key('T'));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Materiality))));
    update(&mut m, key('n'));
    assert!(m.overlay.is_none());
    // Archive needs a resolved incident.
    update(&mut m, key('Y'));
    assert!(m.overlay.is_none());
    update(&mut m, key('O'));
    assert!(m.overlay.is_none(), "nothing to reopen");
}

#[test]
fn the_commander_accepts_the_discovery_nudge() {
    let mut m = model_as("maya@soc-jump");
    let mut note = ev(
        31,
        "jon@ops-bastion",
        12,
        Note {
            text: "first beacon seen 09:30".into(),
            tags: Default::default(),
        },
    );
    note.occurred = Occurred::new(Some(T0 - 30 * 60_000));
    arrive(&mut m, vec![note]);
    // Everyone sees the proposal; jon may not act on it.
    let mut jon = model_as("jon@ops-bastion");
    arrive(
        &mut jon,
        m.incident.as_ref().unwrap().state().events().cloned().collect(),
    );
    update(&mut jon, key('V'));
    assert!(jon.overlay.is_none());
    assert!(jon
        .flash
        .as_ref()
        .is_some_and(|f| f.text.contains("only the commander")));
    update(&mut m, key('C'));
    insta::assert_snapshot!(
        "clocks_discovery_nudge_80x24",
        screen(&render(&m, 80, 24, Theme::mono()))
    );
    update(&mut m, key('d'));
    let Some(Overlay::Editor(ed)) = &m.overlay else {
        panic!("asks why");
    };
    assert!(ed.text().starts_with("earliest evidence: note by jon"), "{}", ed.text());
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Discovery { .. }))));
    let fx = update(&mut m, key('y'));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::DiscoverySet(d) if d.discovered == T0 - 30 * 60_000),
        "{:?}",
        w[0][0].body
    );
}

#[test]
fn a_follow_up_is_created_from_the_timeline_and_marked_done_in_its_list() {
    let mut m = model_as("jon@ops-bastion");
    // Focus the timeline: the follow-up comes from its selected row.
    while m.incident.as_ref().unwrap().focus != Pane::Timeline {
        update(&mut m, code(KeyCode::Tab));
    }
    let from = view::timeline::cursor(m.incident.as_ref().unwrap()).map(|e| e.id.to_string());
    assert!(from.is_some());
    update(&mut m, key('F'));
    update(&mut m, key('2')); // preventive
    update(&mut m, code(KeyCode::Down)); // the first person after "no owner yet"
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, code(KeyCode::Enter)); // due +14d
    for c in "Block SMB at the core".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    let Body::FollowUp(f) = &w[0][0].body else {
        panic!("{:?}", w[0][0].body);
    };
    assert_eq!(f.kind, "preventive");
    assert!(f.owner.is_some());
    assert_eq!(f.due, Some(T0 + 20 * 60_000 + 14 * 86_400_000));
    assert_eq!(f.from, from);
    // It comes back through the reader, then is listed and marked done.
    let mut e = ev(40, "jon@ops-bastion", 15, f.clone());
    e.id = "01FOLLOWUP0000000000000001".into();
    arrive(&mut m, vec![e]);
    update(&mut m, key('U'));
    insta::assert_snapshot!("follow_ups_80x24", screen(&render(&m, 80, 24, Theme::mono())));
    let fx = update(&mut m, key('d'));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::FollowUpSet(s) if s.followup == "01FOLLOWUP0000000000000001" && s.state == FollowUpState::Done),
        "{:?}",
        w[0][0].body
    );
}

#[test]
fn the_review_overlay_lists_fields_and_enter_answers_one() {
    let mut m = model_as("jon@ops-bastion");
    update(&mut m, key('I'));
    assert!(matches!(m.overlay, Some(Overlay::Review { sel: 0 })));
    update(&mut m, key('j'));
    update(&mut m, code(KeyCode::Enter));
    for c in "Finance file shares, 3 h".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    assert!(
        matches!(&w[0][0].body, Body::ReviewSet(r) if r.field == "impact" && r.text == "Finance file shares, 3 h"),
        "{:?}",
        w[0][0].body
    );
    assert!(matches!(m.overlay, Some(Overlay::Review { .. })), "back to the list");
}

fn arrive(m: &mut Model, events: Vec<Event>) {
    incoming(m, events)
}

// ---- status updates to every audience the playbook names, and the kept draft -------------------

fn editor_text(m: &Model) -> String {
    match &m.overlay {
        Some(Overlay::Editor(ed)) => ed.text(),
        _ => panic!("editor not open"),
    }
}

fn status_drafts(fx: &[Effect]) -> Vec<(warroom::domain::playbook::Audience, String)> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::SaveStatusDraft { audience, text, .. } => Some((*audience, text.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn the_status_picker_offers_the_audiences_the_playbook_names_80x24() {
    use warroom::domain::playbook::Audience;
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    update(&mut m, key('u'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("status_audience_picker_80x24", s);
    for word in ["internal", "external", "executives", "customers", "regulator"] {
        assert!(s.contains(word), "{word}: {s}");
    }
    match &m.overlay {
        Some(Overlay::Picker(p)) => assert_eq!(
            p.purpose,
            PickPurpose::StatusAudience(vec![
                Audience::Internal,
                Audience::External,
                Audience::Executives,
                Audience::Customers,
                Audience::Regulator
            ])
        ),
        _ => panic!("no picker"),
    }
    // A playbook that names none of the new audiences offers internal and external only.
    let mut m = model_with(|p| {
        p.templates
            .retain(|t| matches!(t.audience, Audience::Internal | Audience::External));
        for d in &mut p.deadlines {
            d.met_by = None;
        }
    });
    update(&mut m, key('u'));
    match &m.overlay {
        Some(Overlay::Picker(p)) => assert_eq!(p.options.len(), 2, "{:?}", p.options),
        _ => panic!("no picker"),
    }
}

#[test]
fn a_template_is_filled_in_and_a_closed_status_update_is_kept_per_audience() {
    use warroom::domain::playbook::Audience;
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    update(&mut m, key('u'));
    update(&mut m, key('3'));
    let template = editor_text(&m);
    assert!(
        template.starts_with("EXECUTIVE BRIEFING - Ransomware on finance file servers (2026-11-26-ransomware-finance-7f3a)\nSeverity: SEV2    Phase: Identification    IC: maya\n"),
        "{template}"
    );
    // Declared 10:00, now 10:20, SEV2 every 60 minutes: the next briefing is at 11:20.
    assert!(template.contains("Running for: 20m"), "{template}");
    assert!(
        template.contains("Next briefing: 2025-11-26 11:20 UTC on [CHANNEL]"),
        "{template}"
    );
    assert!(!template.contains('{'), "{template}");
    // Closing it untouched keeps nothing: next time the template is filled in afresh.
    let fx = update(&mut m, code(KeyCode::Esc));
    assert_eq!(status_drafts(&fx), vec![(Audience::Executives, String::new())]);
    // Typed into, then closed: kept for this audience, and offered back.
    update(&mut m, key('u'));
    update(&mut m, key('3'));
    update(&mut m, key('!'));
    let fx = update(&mut m, code(KeyCode::Esc));
    let kept = format!("{template}!");
    assert_eq!(status_drafts(&fx), vec![(Audience::Executives, kept.clone())]);
    update(&mut m, key('u'));
    match &m.overlay {
        Some(Overlay::Picker(p)) => {
            assert!(p.options[2].starts_with("executives (draft kept)"), "{:?}", p.options);
            assert!(!p.options[1].contains("draft"), "{:?}", p.options);
        }
        _ => panic!("no picker"),
    }
    update(&mut m, key('3'));
    assert_eq!(editor_text(&m), kept);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("status_draft_kept_80x24", s);
    assert!(s.contains("Ctrl+R template") && s.contains("Esc keeps draft"), "{s}");
    // The other audiences still start from their own template.
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('u'));
    update(&mut m, key('5'));
    assert!(
        editor_text(&m).starts_with("Personal data breach notification"),
        "{}",
        editor_text(&m)
    );
    update(&mut m, code(KeyCode::Esc));
    // Ctrl+R goes back to the template; Enter records the update and the draft is done.
    update(&mut m, key('u'));
    update(&mut m, key('3'));
    update(&mut m, typed(KeyEvent::new(KeyCode::Char('r'), KeyModifiers::CONTROL)));
    assert_eq!(editor_text(&m), template);
    update(&mut m, key('!'));
    let fx = update(&mut m, Msg::Hangup);
    assert_eq!(status_drafts(&fx), vec![(Audience::Executives, kept.clone())]);
    assert!(
        m.farewell
            .as_deref()
            .is_some_and(|f| f.contains("status update (executives)")),
        "{:?}",
        m.farewell
    );
}

#[test]
fn a_kept_status_draft_comes_back_in_the_next_session_and_goes_once_recorded() {
    use warroom::domain::playbook::Audience;
    let mut m = model_on_incident();
    update(
        &mut m,
        Msg::StatusDraftLoaded {
            incident: ID.into(),
            audience: Audience::Customers,
            text: "Dear customer, services are back.".into(),
        },
    );
    update(&mut m, key('u'));
    update(&mut m, key('4'));
    assert_eq!(editor_text(&m), "Dear customer, services are back.");
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(
        matches!(&writes(&fx)[0][0].body, Body::StatusUpdate(u) if u.audience == Audience::Customers && u.text == "Dear customer, services are back."),
        "{fx:?}"
    );
    assert_eq!(status_drafts(&fx), vec![(Audience::Customers, String::new())]);
    assert!(m.incident.as_ref().unwrap().status_drafts.is_empty());
}

// Issue 9: the console at 80x24, for a commander under stress.

const SAVED: &str =
    "/home/maya/.local/state/warroom/copied/2026-11-30-leaked-aws-keys-in-public-repo-p-zodu-cut-segment-egress-command.txt";

/// The body of the dialog on screen, as its rows.
fn dialog_rows(m: &Model, w: u16, h: u16) -> Vec<String> {
    let area = view::dialogs::dialog_area(m, Rect::new(0, 0, w, h));
    let (d, _) = view::dialogs::dialog_of(m, area, &Theme::mono()).unwrap();
    view::dialogs::place(area, &d)
        .body
        .iter()
        .map(|l| l.to_string())
        .collect()
}

#[test]
fn the_saved_copy_path_is_read_whole_and_m_works_from_the_detail() {
    let mut m = model_on_incident();
    select_action(&mut m, "cut-segment-egress");
    update(&mut m, code(KeyCode::Enter));
    update(&mut m, key('c'));
    update(
        &mut m,
        Msg::Copied {
            what: "the command of cut-segment-egress".into(),
            saved: Ok(SAVED.into()),
        },
    );
    assert!(matches!(m.overlay, Some(Overlay::Detail)));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!("issue9_saved_copy_detail_80x24", s);
    // The footer's message starts with the path, and no dialog covers it.
    let lines: Vec<&str> = s.lines().collect();
    let foot = view::footer_height(&m, 80) as usize;
    assert!(lines[24 - foot].contains("saved to /home/maya"), "{s}");
    // The detail itself shows the path whole (broken at the edge only).
    let body: String = dialog_rows(&m, 80, 24).concat();
    assert!(body.contains(SAVED), "{body}");
    // M opens the message log from the detail; the path is broken at the edge, never spaced.
    update(&mut m, key('M'));
    assert!(matches!(m.overlay, Some(Overlay::Messages { .. })));
    let rows = dialog_rows(&m, 80, 24);
    let joined: String = rows.iter().map(|r| r.trim_start()).collect();
    assert!(joined.contains(SAVED), "{rows:?}");
    insta::assert_snapshot!(
        "issue9_saved_copy_messages_80x24",
        screen(&render(&m, 80, 24, Theme::mono()))
    );
}

/// The story declared under another id, title, mode and severity.
fn model_declared(id: &str, title: &str, mode: Mode) -> Model {
    let mut up = story();
    for e in &mut up.events {
        if let Body::Declared(d) = &mut e.body {
            d.incident = id.into();
            d.title = title.into();
            d.mode = mode;
            d.severity = 1;
        }
    }
    let mut m = Model::new(
        "you@jump",
        Keymap::default(),
        "/srv/warroom (from WARROOM_DIR)",
        T0 + 20 * 60_000,
    );
    m.watch = WatchInfo {
        mode: "inotify".into(),
        last_reconcile: T0 + 20 * 60_000 - 1_000,
    };
    m.incident = Some(IncidentModel::new(id));
    update(
        &mut m,
        Msg::Incident {
            id: id.into(),
            update: up,
        },
    );
    m
}

#[test]
fn the_header_clock_and_phase_are_never_cut_the_title_gives_way() {
    let mut m = model_declared(
        ID,
        "Ransomware on finance file servers, payroll and HR shares",
        Mode::Exercise,
    );
    incoming(&mut m, vec![clock_at(50, 1, "Start", 1.0, 0)]);
    for w in [80u16, 70, 60] {
        let s = screen(&render(&m, w, 24, Theme::mono()));
        let top = s.lines().next().unwrap().trim_end().to_string();
        assert!(top.ends_with("T+00:20:00"), "{w} columns: {top}");
        assert!(top.contains("▶ Ident"), "{w} columns: {top}");
        assert!(top.contains("E+19:00"), "{w} columns: {top}");
        if w == 80 {
            assert!(top.contains("▶ Identification") && top.contains("Ransomw"), "{top}");
            insta::assert_snapshot!("issue9_exercise_header_80x24", s);
        }
    }
}

#[test]
fn the_header_keeps_a_long_id_whole_before_the_freshness_and_next_update() {
    let id = "2026-11-30-leaked-aws-keys-in-public-repo-p-zodu";
    let m = model_declared(id, "Leaked AWS keys in a public repo", Mode::Real);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let second = s.lines().nth(1).unwrap();
    assert!(second.contains(id), "{second}");
    assert!(second.contains("IC maya"), "{second}");
    insta::assert_snapshot!("issue9_long_id_header_80x24", s);
    // Wider, the freshness comes back; narrower, the id is cut only after the rest went.
    let wide = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(wide.lines().nth(1).unwrap().contains("inotify"), "{wide}");
    let narrow = screen(&render(&m, 60, 24, Theme::mono()));
    let l = narrow.lines().nth(1).unwrap();
    assert!(
        l.contains("IC maya") && l.contains("2026-11-30-leaked") && !l.contains("inotify"),
        "{l}"
    );
}

/// The rows of the timeline pane at 80x24, as drawn.
fn timeline_rows(s: &str) -> Vec<String> {
    let lines: Vec<&str> = s.lines().collect();
    let top = lines.iter().position(|l| l.contains("Timeline")).unwrap();
    lines[top + 1..]
        .iter()
        .take_while(|l| !l.starts_with('╚') && !l.starts_with('└'))
        .map(|l| l.to_string())
        .collect()
}

/// The story's incident with 30 more notes by jon, the timeline focused.
fn thirty_notes_on_the_timeline() -> Model {
    thirty_notes_by(|_| "jon@ops-bastion")
}

/// The story's incident with 30 more notes (note `i` by `by(i)`), the timeline focused.
fn thirty_notes_by(by: impl Fn(u64) -> &'static str) -> Model {
    let mut m = model_on_incident();
    let notes: Vec<Event> = (0..30)
        .map(|i| {
            ev(
                100 + i,
                by(i),
                8,
                Note {
                    text: format!("note number {i}").into(),
                    tags: Default::default(),
                },
            )
        })
        .collect();
    incoming(&mut m, notes);
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    m
}

#[test]
fn the_timeline_cursor_moves_within_a_full_window() {
    let mut m = thirty_notes_on_the_timeline();
    update(&mut m, code(KeyCode::End));
    update(&mut m, key('k'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let rows = timeline_rows(&s);
    let n = rows.len();
    assert!(
        rows[n - 1].contains("note number 29"),
        "the newest stays in view: {rows:#?}"
    );
    assert!(
        rows[n - 2].contains('▸') && rows[n - 2].contains("note number 28"),
        "{rows:#?}"
    );
    insta::assert_snapshot!("issue9_timeline_cursor_80x24", s);
    // Up to the window's top edge, the window stays; one more and it scrolls by one.
    for _ in 0..n - 2 {
        update(&mut m, key('k'));
    }
    let rows = timeline_rows(&screen(&render(&m, 80, 24, Theme::mono())));
    assert!(rows[0].contains('▸'), "{rows:#?}");
    assert!(rows[n - 1].contains("note number 29"), "{rows:#?}");
    update(&mut m, key('k'));
    let rows = timeline_rows(&screen(&render(&m, 80, 24, Theme::mono())));
    assert!(
        rows[0].contains('▸') && rows[n - 1].contains("note number 28"),
        "{rows:#?}"
    );
    // At the oldest, more k keeps the window full (no blank rows) and the cursor on the top row.
    update(&mut m, code(KeyCode::Home));
    for _ in 0..10 {
        update(&mut m, key('k'));
    }
    let rows = timeline_rows(&screen(&render(&m, 80, 24, Theme::mono())));
    assert!(rows[0].contains('▸'), "{rows:#?}");
    assert!(
        rows.iter()
            .all(|r| !r.trim_matches(|c| c == '║' || c == '│' || c == ' ').is_empty()),
        "{rows:#?}"
    );
    // j moves the cursor down within the window.
    update(&mut m, key('j'));
    let rows2 = timeline_rows(&screen(&render(&m, 80, 24, Theme::mono())));
    assert!(rows2[1].contains('▸'), "{rows2:#?}");
    assert_eq!(rows[2..], rows2[2..]);
    // Enter opens the row under the cursor.
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(m.overlay, Some(Overlay::Detail)));
}

/// At the top of the timeline (Home), the window holds the oldest rows, oldest first, with the
/// cursor on the first, and the title counts the rows above the newest: as when the cursor was a
/// count of rows from the newest (the window is now anchored on the cursor's record).
#[test]
fn the_top_of_the_timeline_shows_the_oldest_rows() {
    let mut m = thirty_notes_on_the_timeline();
    update(&mut m, code(KeyCode::Home));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let rows = timeline_rows(&s);
    let inc = m.incident.as_ref().unwrap();
    let all: Vec<&Event> = inc.state().timeline().filter(|e| inc.timeline.shows(e)).collect();
    assert!(rows[0].contains('▸'), "{rows:#?}");
    for (row, e) in rows.iter().zip(&all) {
        let text = warroom::domain::describe::describe(e);
        let head: String = text.chars().take(20).collect();
        assert!(row.contains(&head), "{row} / {head}");
    }
    assert!(s.contains(&format!("↑{} — End to follow", all.len() - 1)), "{s}");
    insta::assert_snapshot!("timeline_top_80x24", s);
}

#[test]
fn the_phase_confirmation_uses_the_width_and_shows_items_whole() {
    let long = "Extra required step, written as long as playbook steps are written: confirm with the backup owner that the immutable copies are intact";
    let mut m = model_with(|pb| {
        pb.phases.identification.push(warroom::domain::playbook::Item {
            id: "id-extra".into(),
            text: long.into(),
            required: true,
            role: None,
        });
    });
    update(&mut m, key('P'));
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Phase { .. }))));
    for (w, h) in [(120u16, 40u16), (80, 24), (60, 16)] {
        update(&mut m, Msg::Resize { width: w, height: h });
        let rows = dialog_rows(&m, w, h);
        let joined = rows.iter().map(|r| r.trim()).collect::<Vec<_>>().join(" ");
        assert!(joined.contains(long), "{w}x{h}: {rows:#?}");
        let area = Rect::new(0, 0, w, h);
        let (d, _) = view::dialogs::dialog_of(&m, area, &Theme::mono()).unwrap();
        assert!(
            view::dialogs::place(area, &d).rect.width >= w - 4,
            "{w}: the box takes the width"
        );
    }
    update(&mut m, Msg::Resize { width: 120, height: 40 });
    insta::assert_snapshot!(
        "issue9_phase_confirm_120x40",
        screen(&render(&m, 120, 40, Theme::mono()))
    );
}

#[test]
fn the_facilitator_pane_shows_note_counts_and_the_rating_note_at_80x24() {
    use warroom::exercise::local::{EvaluatorNote, ObjectiveRating, Rating};
    let mut m = facilitator_model();
    incoming(&mut m, exercise_events());
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    let f = m.facilitator.as_mut().unwrap();
    f.notes.push(EvaluatorNote {
        inject: Some("inj-01-detection".into()),
        at: T0,
        text: "+ quick triage".into(),
    });
    let objective = f.scenario.objectives[0].clone();
    f.ratings.push(ObjectiveRating {
        objective,
        rating: Rating::Partly,
        note: "isolation took 40 minutes".into(),
        at: T0,
    });
    m.fac_view = FacView::Released;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("inj-01-detection (1 note)"), "{s}");
    m.fac_view = FacView::Objectives;
    m.inject_sel = 0;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("isolation took 40 minutes"), "{s}");
    assert!(s.contains("Enter/o rates"), "{s}");
    insta::assert_snapshot!("issue9_facilitator_objectives_80x24", s);
}

#[test]
fn every_editor_shows_enter_and_esc_at_80_and_60_columns() {
    use warroom::domain::playbook::Audience;
    use warroom::exercise::local::Rating;
    let purposes = [
        EditorPurpose::Note,
        EditorPurpose::Blocked,
        EditorPurpose::Skip,
        EditorPurpose::Params,
        EditorPurpose::Status(Audience::Internal),
        EditorPurpose::FollowUp,
        EditorPurpose::FollowUpDue,
        EditorPurpose::Review,
        EditorPurpose::Amend,
        EditorPurpose::AmendReason,
        EditorPurpose::RetractReason,
        EditorPurpose::Search,
        EditorPurpose::Title,
        EditorPurpose::Evaluator,
        EditorPurpose::SeverityReason(1),
        EditorPurpose::Response,
        EditorPurpose::Rating(Rating::Partly),
        EditorPurpose::ResolveReason,
        EditorPurpose::ReopenReason,
        EditorPurpose::Discovery(T0),
    ];
    for p in purposes {
        let mut m = model_on_incident();
        let mut ed = Editor::new(p, "");
        ed.item = Some("inj-01-detection-with-a-long-identifier".into());
        m.overlay = Some(Overlay::Editor(ed));
        for (w, h) in [(80u16, 24u16), (60, 16)] {
            let s = screen(&render(&m, w, h, Theme::mono()));
            assert!(s.contains("Enter") && s.contains("Esc"), "{p:?} at {w}x{h}:\n{s}");
        }
        if p == EditorPurpose::Evaluator {
            insta::assert_snapshot!(
                "issue9_evaluator_editor_80x24",
                screen(&render(&m, 80, 24, Theme::mono()))
            );
        }
    }
}

#[test]
fn observer_mode_offers_only_read_keys_and_refuses_writes_at_once() {
    let mut m = model_on_incident();
    m.observer = true;
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let footer = s.lines().last().unwrap().to_string();
    for word in ["done", "blocked", "note"] {
        assert!(!footer.contains(word), "{footer}");
    }
    insta::assert_snapshot!("issue9_observer_80x24", s);
    update(&mut m, key('n'));
    assert!(m.overlay.is_none(), "no editor opens");
    assert!(m.flash.as_ref().unwrap().text.contains("observer mode: read-only"));
    // Help lists no write keys either; replay uses the same rule.
    update(&mut m, key('?'));
    let help = dialog_rows(&m, 80, 24).join("\n");
    assert!(!help.contains("write a note") && help.contains("help"), "{help}");
    for a in warroom::tui::keymap::Action::ALL {
        if a.writes() {
            assert!(!m.offers(*a), "{a:?}");
        }
    }
}

#[test]
fn after_the_exercise_ends_the_clock_keys_are_gone_and_say_so() {
    let mut m = facilitator_model();
    incoming(
        &mut m,
        vec![clock_at(50, 1, "Start", 1.0, 0), clock_at(51, 5, "End", 1.0, 240_000)],
    );
    m.incident.as_mut().unwrap().focus = Pane::Facilitator;
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    let footer = s.lines().last().unwrap().to_string();
    for word in ["pause", "faster", "slower", "release"] {
        assert!(!footer.contains(word), "{footer}");
    }
    for c in [' ', '+', '-'] {
        m.flash = None;
        let fx = update(&mut m, key(c));
        assert!(writes(&fx).is_empty());
        assert!(
            m.flash
                .as_ref()
                .is_some_and(|f| f.text.contains("the exercise has ended")),
            "{c:?}: {:?}",
            m.flash
        );
    }
}

#[test]
fn an_empty_reason_says_why_nothing_was_recorded() {
    let mut m = model_with(|_| {});
    // The first item of Identification is required in the ransomware playbook.
    let item = m.incident.as_ref().unwrap().selected_item().unwrap().clone();
    assert!(item.required);
    update(&mut m, key('s'));
    let Some(Overlay::Editor(ed)) = &m.overlay else {
        panic!("no editor: {:?}", m.flash)
    };
    assert_eq!(ed.purpose, EditorPurpose::Skip);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains(&format!("Why skip {}", item.id)), "{s}");
    let fx = update(&mut m, code(KeyCode::Enter));
    assert!(writes(&fx).is_empty());
    assert!(matches!(m.overlay, Some(Overlay::Editor(_))), "stays open");
    assert!(
        m.flash
            .as_ref()
            .unwrap()
            .text
            .contains("a reason is required to skip a required item"),
        "{:?}",
        m.flash
    );
    // Blocked too.
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('b'));
    update(&mut m, code(KeyCode::Enter));
    assert!(m
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("a reason is required to mark an item blocked"));
}

/// The story plus jon's proposal of `block-ioc-egress` with its parameter.
fn with_block_proposed() -> Model {
    let mut m = model_on_incident();
    let proposal = ev(
        9,
        "jon@ops-bastion",
        8,
        ActionSet {
            action: "block-ioc-egress".into(),
            state: ActionState::Proposed,
            note: Some("parameters: IOC_IP=203.0.113.7".into()),
        },
    );
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update {
                events: vec![proposal],
                ..Update::default()
            },
        },
    );
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    select_action(&mut m, "block-ioc-egress");
    m
}

fn trusting(m: &mut Model, enabled: bool) {
    let pb = Library::built_in().resolve("ransomware").unwrap();
    m.exec = ExecSetup {
        enabled,
        trusted: std::sync::Arc::new(std::collections::BTreeMap::from([(pb.content_hash(), pb)])),
        timeout: None,
        settle: None,
    };
}

#[test]
fn x_runs_an_action_only_after_the_exact_command_is_confirmed() {
    // Execution off: refused, in words, nothing asked.
    let mut m = with_block_proposed();
    let fx = update(&mut m, key('x'));
    assert!(fx.is_empty() && m.overlay.is_none());
    assert!(m.flash.as_ref().unwrap().text.contains("running commands is off"));
    // Enabled but the playbook is not among the responder's own: refused.
    m.exec.enabled = true;
    update(&mut m, key('x'));
    assert!(m.overlay.is_none());
    assert!(m.flash.as_ref().unwrap().text.contains("trusted playbooks"));
    // Trusted and enabled: the parameter's value, then the exact command, is shown first.
    trusting(&mut m, true);
    update(&mut m, key('x'));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Exec { .. }))));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("Run this command?"), "{s}");
    assert!(s.contains("IOC_IP='203.0.113.7'"), "{s}");
    assert!(
        s.contains("nft add element inet filter ir_blocklist_v4 { $IOC_IP }"),
        "{s}"
    );
    // Not confirmed: nothing runs.
    let fx = update(&mut m, key('n'));
    assert!(fx.is_empty() && m.running.is_none());
    // Confirmed: the shell is asked to run exactly that, and the console says it is running.
    update(&mut m, key('x'));
    let fx = update(&mut m, key('y'));
    let plan = fx
        .iter()
        .find_map(|f| match f {
            Effect::Exec(p) => Some(p.clone()),
            _ => None,
        })
        .expect("an Exec effect");
    // The command unchanged; the value goes to the shell as an environment variable.
    assert_eq!(plan.command, "nft add element inet filter ir_blocklist_v4 { $IOC_IP }");
    assert!(plan.params.contains(&("IOC_IP".to_string(), "203.0.113.7".to_string())));
    assert_eq!(m.running.as_deref(), Some("block-ioc-egress"));
    assert!(m.flash.as_ref().unwrap().text.contains("running block-ioc-egress"));
    // One at a time.
    update(&mut m, key('x'));
    assert!(m.flash.as_ref().unwrap().text.contains("still running"));
    // It failed: the rollback is offered.
    update(
        &mut m,
        Msg::Ran {
            action: "block-ioc-egress".into(),
            result: Ok((false, "block-ioc-egress: exit 1 after 0.1 s: FAILED".into())),
        },
    );
    assert!(m.running.is_none());
    assert!(m
        .flash
        .as_ref()
        .unwrap()
        .text
        .contains("z on block-ioc-egress runs its rollback"));
}

#[test]
fn the_action_detail_offers_x_and_the_help_lists_it() {
    let mut m = with_block_proposed();
    trusting(&mut m, true);
    update(&mut m, code(KeyCode::Enter));
    assert!(matches!(m.overlay, Some(Overlay::Detail)));
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(s.contains("x run it"), "{s}");
    update(&mut m, key('x'));
    assert!(matches!(&m.overlay, Some(Overlay::Confirm(Confirm::Exec { .. }))));
    update(&mut m, code(KeyCode::Esc));
    update(&mut m, key('?'));
    let mut seen = String::new();
    for _ in 0..10 {
        seen.push_str(&screen(&render(&m, 120, 40, Theme::mono())));
        update(&mut m, code(KeyCode::PageDown));
    }
    assert!(
        seen.contains("run its command") && seen.contains("run its rollback"),
        "{seen}"
    );
}

#[test]
fn a_follow_up_owner_not_in_the_list_is_typed_and_checked() {
    let mut m = model_as("jon@ops-bastion");
    update(&mut m, key('F'));
    update(&mut m, key('1'));
    // The last option: someone else, typed.
    let Some(Overlay::Picker(p)) = &m.overlay else {
        panic!("the owner picker is open");
    };
    let last = p.options.len() - 1;
    assert!(p.options[last].contains("someone else"), "{:?}", p.options);
    for _ in 0..last {
        update(&mut m, code(KeyCode::Down));
    }
    update(&mut m, code(KeyCode::Enter));
    for c in "Not A Name!".chars() {
        update(&mut m, key(c));
    }
    update(&mut m, code(KeyCode::Enter));
    assert!(
        matches!(m.overlay, Some(Overlay::Editor(_))),
        "a bad name stays in the editor"
    );
    for _ in 0.."Not A Name!".len() {
        update(&mut m, code(KeyCode::Backspace));
    }
    for c in "zed".chars() {
        update(&mut m, key(c));
    }
    update(&mut m, code(KeyCode::Enter)); // the name
    update(&mut m, code(KeyCode::Enter)); // due +14d
    for c in "Rotate the keys".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, code(KeyCode::Enter));
    let w = writes(&fx);
    let Body::FollowUp(f) = &w[0][0].body else {
        panic!("{:?}", w[0][0].body);
    };
    assert_eq!(f.owner.as_deref(), Some("zed"));
}

/// A backfilled record from another day carries its date: with rows of two days on screen every
/// row reads `MM-DD HH:MM`, so last week's alert never looks like this morning's.
#[test]
fn timeline_rows_from_another_day_carry_their_date() {
    let mut m = model_on_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("│ 10:01:00 jon"), "all of today: times only\n{s}");
    let mut old = ev(
        90,
        "jon@ops-bastion",
        21,
        Note {
            text: "EDR alert from last week".into(),
            tags: Default::default(),
        },
    );
    old.occurred = Occurred::new(Some(T0 - 3 * 86_400_000));
    arrive(&mut m, vec![old]);
    // Tall enough that last week's row is on screen with today's.
    update(&mut m, Msg::Resize { width: 80, height: 40 });
    let s = screen(&render(&m, 80, 40, Theme::mono()));
    let day = warroom::domain::time::to_datetime(T0 - 3 * 86_400_000)
        .format("%m-%d")
        .to_string();
    let today = warroom::domain::time::to_datetime(T0).format("%m-%d").to_string();
    assert!(
        s.lines()
            .any(|l| l.contains(&day) && l.contains("EDR alert from last week")),
        "{s}"
    );
    assert!(s.lines().any(|l| l.contains(&today)), "{s}");
}

#[test]
fn quitting_while_a_command_runs_asks_first() {
    let mut m = model_on_incident();
    m.running = Some("isolate-host".into());
    let fx = update(&mut m, key('q'));
    assert!(!m.quit && fx.is_empty(), "asks first");
    assert!(matches!(
        &m.overlay,
        Some(Overlay::Confirm(Confirm::Quit { running: Some(a), .. })) if a == "isolate-host"
    ));
    let s = screen(&render(&m, 100, 30, Theme::mono()));
    assert!(s.contains("still running") && s.contains("interrupted"), "{s}");
    update(&mut m, key('n'));
    assert!(!m.quit);
    update(&mut m, key('q'));
    update(&mut m, key('y'));
    assert!(m.quit);
}

// ---- the console's sync rounds (`--sync-every`) ---------------------------------------------

/// The model on the incident with sync every 5 s: never synced, synced 12 s ago, or failing for
/// 3 minutes (a push the remote rejected).
fn with_sync(state: &str) -> Model {
    let mut m = model_on_incident();
    let now = m.now;
    m.sync = Some(warroom::sync::status::Live::new("origin", 5_000));
    let synced = |m: &mut Model, at: i64, error: Option<&str>| {
        update(
            m,
            Msg::Synced {
                at,
                error: error.map(str::to_string),
                warnings: Vec::new(),
            },
        );
    };
    match state {
        "never" => {}
        "synced" => synced(&mut m, now - 12_000, None),
        "failed" => {
            synced(&mut m, now - 200_000, None);
            let e = "push to origin failed: ! [remote rejected] main -> main (pre-receive hook declined); your records are committed locally and go out next round";
            synced(&mut m, now - 180_000, Some(e));
            synced(&mut m, now - 2_000, Some(e));
        }
        _ => unreachable!(),
    }
    m
}

fn top_lines(s: &str, n: usize) -> String {
    s.lines().take(n).collect::<Vec<_>>().join("\n")
}

#[test]
fn the_header_shows_sync_never_synced_failed_at_80x24() {
    let mut all = String::new();
    for state in ["never", "synced", "failed"] {
        let m = with_sync(state);
        let s = screen(&render(&m, 80, 24, Theme::mono()));
        all.push_str(&format!("{state}:\n{}\n", top_lines(&s, 2)));
        // The incident's id stays whole beside the sync status.
        assert!(s.lines().nth(1).is_some_and(|l| l.contains(ID)), "{s}");
    }
    assert!(
        all.contains("sync …") && all.contains("sync 12s ago") && all.contains("sync ✖ 3m"),
        "{all}"
    );
    insta::assert_snapshot!(all);
}

/// A problem count never pushes a working sync's age out of the 80-column header (the next
/// status update goes first), and the incident's id stays whole.
#[test]
fn a_problem_count_leaves_a_working_sync_in_the_header_at_80x24() {
    let mut m = with_sync("synced");
    if let Some(inc) = m.incident.as_mut() {
        for k in 0..3 {
            inc.view.file_problems.push(warroom::domain::problem::Problem {
                source: format!("{ID}/events/x{k}.ronl"),
                line: Some(1),
                what: "skipped".into(),
            });
        }
    }
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let row = s.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        row.contains("⚠ 3") && row.contains("sync ") && row.contains(ID),
        "{row}"
    );
}

#[test]
fn the_header_says_why_sync_fails_where_there_is_room() {
    let m = with_sync("failed");
    let s = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(
        s.lines()
            .nth(1)
            .is_some_and(|l| l.contains("sync failed 3m: push rejected")),
        "{s}"
    );
}

#[test]
fn the_board_shows_sync_at_80x24() {
    let mut all = String::new();
    for state in ["never", "synced", "failed"] {
        let inc = with_sync(state);
        let mut m = board_model();
        m.sync = inc.sync.clone();
        m.now = inc.now;
        let s = screen(&render(&m, 80, 24, Theme::mono()));
        all.push_str(&format!("{state}:\n{}\n", top_lines(&s, 2)));
    }
    insta::assert_snapshot!(all);
}

#[test]
fn problems_list_the_whole_sync_error_and_the_next_round() {
    let mut m = with_sync("failed");
    // The failure was said once in the footer, pointing at `!`.
    let said = m.flash.as_ref().map(|f| f.text.clone()).unwrap_or_default();
    assert!(
        said.contains("sync with origin failed: push rejected") && said.contains("! for details"),
        "{said}"
    );
    update(&mut m, key('!'));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    insta::assert_snapshot!(s);
    assert!(s.contains("pre-receive hook declined"), "{s}");
    assert!(s.contains("next round in 3s"), "{s}");
}

/// Maya signs her records (issue 11), jon does not: ✎ beside maya's rows and beside the IC.
fn model_with_signatures() -> Model {
    let mut m = Model::new(
        "you@jump",
        Keymap::default(),
        "/srv/warroom (from WARROOM_DIR)",
        T0 + 20 * 60_000,
    );
    m.watch = WatchInfo {
        mode: "inotify".into(),
        last_reconcile: T0 + 20 * 60_000,
    };
    m.incident = Some(IncidentModel::new(ID));
    let mut story = story();
    story.signed = vec![warroom::store::reader::SignedRange {
        log: "maya@soc-jump".into(),
        from: 1,
        to: 99,
        principal: "maya".into(),
        fingerprint: "SHA256:test".into(),
    }];
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: story,
        },
    );
    m
}

#[test]
fn signed_records_carry_a_mark_beside_the_name_80x24() {
    let m = model_with_signatures();
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("IC maya✎"), "{s}");
    let rows = timeline_rows(&s);
    assert!(rows.iter().any(|r| r.contains("maya✎    ")), "{rows:?}");
    assert!(rows.iter().any(|r| r.contains("jon      ")), "{rows:?}");
    insta::assert_snapshot!(s);
    let ascii = screen(&render(&m, 80, 24, Theme::mono().with_ascii()));
    assert!(non_ascii(&ascii).is_empty(), "{ascii}");
    assert!(ascii.contains("IC maya%"), "{ascii}");
}

/// One part of a long read: `n` notes by ann from seq `from`.
fn notes_part(from: u64, n: u64) -> Msg {
    part_by("ann@desk", "part note", 30, from..from + n)
}

/// One part of a long read: notes by `who` at minute `at_min`, seqs `seqs`, reading
/// "`text` <seq>".
fn part_by(who: &str, text: &str, at_min: i64, seqs: std::ops::Range<u64>) -> Msg {
    Msg::IncidentPart {
        id: ID.into(),
        events: seqs
            .map(|n| {
                ev(
                    n,
                    who,
                    at_min,
                    Note {
                        text: format!("{text} {n}").into(),
                        tags: Default::default(),
                    },
                )
            })
            .collect(),
        reset: false,
        ahead: None,
        ticket: PartTicket::none(),
    }
}

/// A long read arriving in parts: the timeline says "reading…" until the update that ends the
/// read arrives; parts that sort after what it held (one writer's log, read in order) are
/// derived and shown as they come.
#[test]
fn a_read_in_parts_is_shown_as_reading_until_its_update_arrives() {
    let mut m = model_on_incident();
    let before = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(!before.contains("reading…"), "{before}");
    update(&mut m, notes_part(1000, 3000));
    update(&mut m, notes_part(4000, 3000));
    let during = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(during.contains("reading…"), "{during}");
    assert!(during.contains("part note 6999"), "shown as they came\n{during}");
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update::default(),
        },
    );
    let after = screen(&render(&m, 120, 40, Theme::mono()));
    assert!(!after.contains("reading…"), "{after}");
    assert!(after.contains("part note 6999"), "{after}");
}

/// The update that ends a long read (nothing more in it).
fn read_ends() -> Msg {
    Msg::Incident {
        id: ID.into(),
        update: Update::default(),
    }
}

/// A long read in progress (ann's notes, one part so far), the reader scrolled 40 rows back.
fn scrolled_back_in_a_read() -> Model {
    let mut m = model_on_incident();
    update(&mut m, notes_part(1000, 300));
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    for _ in 0..40 {
        update(&mut m, key('k'));
    }
    m
}

/// The timeline row under the cursor, at 80x24.
fn marked(m: &Model) -> String {
    timeline_rows(&screen(&render(m, 80, 24, Theme::mono())))
        .into_iter()
        .find(|r| r.contains('▸'))
        .expect("a cursor row")
}

/// Scrolled back while a long read arrives in parts: the records under the cursor stay on screen
/// as later parts and the update that ends the read come (before, the end of the read moved the
/// window by every record the read had brought, to the oldest one).
#[test]
fn scrolled_back_during_a_read_in_parts_stays_on_the_same_records() {
    let mut m = scrolled_back_in_a_read();
    let during = marked(&m);
    assert!(during.contains("part note 1259"), "{during}");
    update(&mut m, notes_part(1300, 300));
    assert_eq!(marked(&m), during, "a later part keeps the place");
    update(&mut m, read_ends());
    assert_eq!(marked(&m), during, "the end of the read keeps the place");
}

/// Scrolled back while another writer's records arrive: those that sort before the cursor (a
/// teammate's log read after the first, an imported note dated earlier) do not move it; those
/// after it do not either (the window keeps its records).
#[test]
fn scrolled_back_records_sorting_before_the_cursor_do_not_move_it() {
    let mut m = scrolled_back_in_a_read();
    let before = marked(&m);
    update(&mut m, part_by("bob@desk", "bob note", 10, 1..201));
    update(&mut m, part_by("bob@desk", "bob note", 45, 201..401));
    update(&mut m, read_ends());
    assert_eq!(marked(&m), before, "still on the same record");
}

/// A note written while a long read of several logs arrives: its record comes in a part of a
/// log read after the first (inserted, derived only when the read ends), and the note leaves
/// "pending" when the read ends — the keys of such parts are taken then only because a write
/// waits for them (following the newest with nothing waiting, none are kept).
#[test]
fn a_note_written_during_a_long_read_leaves_pending_when_its_record_is_read() {
    let mut m = model_on_incident();
    update(&mut m, notes_part(1000, 300));
    update(&mut m, key('n'));
    for c in "mine".chars() {
        update(&mut m, key(c));
    }
    assert_eq!(writes(&update(&mut m, code(KeyCode::Enter))).len(), 1);
    let token = m.pending[0].token;
    update(
        &mut m,
        Msg::Written {
            token,
            result: Ok(vec!["mine-1".into()]),
        },
    );
    // Another log, sorting before what is held (so inserted, not derived), with the note in it.
    let Msg::IncidentPart { id, mut events, .. } = part_by("you@jump", "my note", 10, 1..50) else {
        unreachable!()
    };
    events[20].id = "mine-1".into();
    update(
        &mut m,
        Msg::IncidentPart {
            id,
            events,
            reset: false,
            ahead: None,
            ticket: PartTicket::none(),
        },
    );
    assert_eq!(m.pending.len(), 1, "still pending while the read lasts");
    update(&mut m, read_ends());
    assert!(m.pending.is_empty(), "read back: no longer pending");
    let inc = m.incident.as_ref().unwrap();
    assert_eq!(inc.view.state.timeline().count(), inc.view.state.event_count());
}

/// While a long read is arriving in parts, the state a phase change, a resolution, a handoff or
/// a severity would be judged against is not derived yet: those keys are refused with a word on
/// why (nothing written, no dialog), a note is still taken; once the read ends they work again.
#[test]
fn keys_that_decide_on_the_state_wait_until_a_long_read_ends() {
    let mut m = model_on_incident();
    update(&mut m, notes_part(1000, 100));
    for c in ['P', 'Z', 'H', 'S'] {
        m.flash = None;
        let fx = update(&mut m, key(c));
        assert!(writes(&fx).is_empty(), "{c}: nothing written");
        assert!(m.overlay.is_none(), "{c}: no dialog opens");
        let f = m.flash.clone().expect("a word on why");
        assert!(f.text.contains("reading the incident"), "{c}: {}", f.text);
    }
    // A note is taken meanwhile: its editor opens.
    update(&mut m, key('n'));
    assert!(m
        .flash
        .as_ref()
        .is_none_or(|f| !f.text.contains("reading the incident")));
    update(&mut m, code(KeyCode::Esc));
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: Update::default(),
        },
    );
    m.flash = None;
    update(&mut m, key('P'));
    assert!(
        m.flash
            .as_ref()
            .is_none_or(|f| !f.text.contains("reading the incident")),
        "after the read, P acts again"
    );
}

/// The story's records arriving as one part of a cold read (the claim and playbooks read ahead
/// of them, as the worker sends them), and the update that ends it.
fn story_in_parts() -> (Msg, Msg) {
    let mut u = story();
    let events = std::mem::take(&mut u.events);
    let ahead = warroom::store::incident::Update {
        claim: u.claim.take(),
        playbooks: std::mem::take(&mut u.playbooks),
        ..Default::default()
    };
    let part = Msg::IncidentPart {
        id: ID.into(),
        events,
        reset: false,
        ahead: Some(Box::new(ahead)),
        ticket: PartTicket::none(),
    };
    (
        part,
        Msg::Incident {
            id: ID.into(),
            update: u,
        },
    )
}

/// A cold open of a long incident, its parts arriving: the state is not settled until the read
/// ends, so the header, the Now strip, the panes and the timeline say it is being read and how
/// far (the timeline shows the records read so far) — not
/// "SEV? syncing", "IC -", "no deadline running" or "playbook copy not synced yet", all false.
#[test]
fn a_cold_read_in_parts_says_reading_not_syncing_80x24() {
    let mut m = model_opening_incident();
    // Opened, not answered yet (the worker may still be on its first board pass).
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(
        s.lines()
            .next()
            .is_some_and(|l| l.contains("⧗ reading the incident… 0 records so far")),
        "{s}"
    );
    assert!(
        !s.contains("SEV?") && !s.contains("syncing") && !s.contains("IC -"),
        "{s}"
    );
    // The timeline's own empty text, until records arrive.
    assert!(
        timeline_rows(&s)
            .iter()
            .any(|r| r.contains("reading the incident… 0 records so far")),
        "{s}"
    );
    let (part, end) = story_in_parts();
    update(&mut m, part);
    update(&mut m, notes_part(1000, 2500));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    for wrong in [
        "SEV?",
        "syncing",
        "IC -",
        "no deadline running",
        "not synced yet",
        "nothing blocked",
        "no events match",
    ] {
        assert!(!s.contains(wrong), "{wrong:?} while reading\n{s}");
    }
    assert!(
        s.lines()
            .next()
            .is_some_and(|l| l.contains("⧗ reading the incident… 2508 records so far")),
        "{s}"
    );
    assert!(
        s.contains("deadlines, approvals and owners: shown when the incident is read"),
        "{s}"
    );
    // Records are shown as they are read (the state they decide waits for the end).
    assert!(timeline_rows(&s).iter().any(|r| r.contains("part note 3499")), "{s}");
    insta::assert_snapshot!(s);

    // The read ends: what the incident says, and no word of reading left.
    update(&mut m, end);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(!s.contains("reading"), "{s}");
    assert!(s.contains("SEV2") && s.contains("IC maya"), "{s}");
    assert!(timeline_rows(&s).iter().any(|r| r.contains("part note 3499")), "{s}");
}

/// The board before its first pass over the directory says it is reading it: "no active
/// incidents, press d to declare one" would invite declaring one twice.
#[test]
fn a_cold_board_says_it_is_reading_until_the_first_pass() {
    let mut m = Model::new("you@jump", Keymap::default(), "/srv/warroom (from WARROOM_DIR)", T0);
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("Reading the incidents in this directory…"), "{s}");
    assert!(
        !s.contains("No active incidents") && !s.contains("to declare one"),
        "{s}"
    );
    assert!(
        s.contains(" Active … ") && !s.contains("Active 0"),
        "no count before the pass\n{s}"
    );
    update(&mut m, Msg::Board(vec![]));
    assert!(screen(&render(&m, 80, 24, Theme::mono())).contains(" Active 0 "));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("No active incidents in this directory."), "{s}");
    assert!(!s.contains("Reading the incidents"), "{s}");
}

/// Ctrl+C does what `q` does, from anywhere: the note being typed is kept as the draft, and the
/// console quits (or asks first, as `q` does, while a write is on its way).
#[test]
fn ctrl_c_quits_as_q_does_and_keeps_the_note_being_typed() {
    let ctrl_c = || typed(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    for c in "half a note".chars() {
        update(&mut m, key(c));
    }
    let fx = update(&mut m, ctrl_c());
    assert!(m.quit, "Ctrl+C quits");
    assert!(fx.iter().any(|f| matches!(f, Effect::Quit)), "{fx:?}");
    assert!(
        fx.iter()
            .any(|f| matches!(f, Effect::SaveDraft { text, .. } if text == "half a note")),
        "{fx:?}"
    );
    assert!(
        m.farewell.as_deref().is_some_and(|f| f.contains("kept as a draft")),
        "{:?}",
        m.farewell
    );

    // A note still on its way: asked first, as q asks.
    let mut m = model_on_incident();
    update(&mut m, key('n'));
    update(&mut m, key('x'));
    update(&mut m, code(KeyCode::Enter));
    assert!(!m.pending.is_empty(), "the note is on its way");
    update(&mut m, ctrl_c());
    assert!(!m.quit, "not while a write is on its way");
    assert!(matches!(m.overlay, Some(Overlay::Confirm(Confirm::Quit { .. }))));
}

/// Signatures required (by the declaration, or by the responder's config) and none on the
/// declaration: the console says why nothing is applied and what to do, not "syncing".
#[test]
fn an_unsigned_declaration_where_signatures_are_required_says_why_80x24() {
    for (by_config, words) in [
        (
            false,
            "its declaration requires signatures; the Declared record by maya@soc-jump has no signature — declare again with --sign",
        ),
        (
            true,
            "your config requires signatures (require: true); the Declared record by maya@soc-jump has no signature — declare again with --sign, or lift require",
        ),
    ] {
        let mut m = Model::new("you@jump", Keymap::default(), "/srv/warroom", T0 + 20 * 60_000);
        m.watch = WatchInfo {
            mode: "inotify".into(),
            last_reconcile: T0 + 20 * 60_000,
        };
        m.incident = Some(IncidentModel::new(ID));
        let mut u = story();
        if by_config {
            u.require_signatures = true;
        } else if let Body::Declared(d) = &mut u.events[0].body {
            d.require_signatures = true;
        }
        update(&mut m, Msg::Incident { id: ID.into(), update: u });
        let s = screen(&render(&m, 80, 24, Theme::mono()));
        assert!(!s.contains("syncing") && !s.contains("not synced yet"), "{s}");
        assert!(s.lines().next().is_some_and(|l| l.contains("✖ nothing applied: signatures required")), "{s}");
        assert!(!s.contains("SEV?") && !s.contains("Identification") && !s.contains("IC -"), "{s}");
        let flat: String = s.lines().map(|l| l.trim_end()).collect::<Vec<_>>().join(" ");
        assert!(flat.contains(words), "{words}\n{s}");
        if !by_config {
            insta::assert_snapshot!(s);
        }
    }
}

/// The board's row of an incident whose declaration lacks a required signature says so by the
/// same rule as the incident view, never "syncing".
#[test]
fn an_unsigned_declaration_where_signatures_are_required_is_not_syncing_on_the_board() {
    let mut m = Model::new("you@jump", Keymap::default(), "/srv/warroom", T0 + 20 * 60_000);
    let mut inc = IncidentModel::new(ID);
    let mut u = story();
    u.require_signatures = true;
    inc.view.apply(u);
    let row = BoardRow::from_view(ID, &inc.view);
    assert_eq!(row.status, RowStatus::Unsigned);
    update(&mut m, Msg::Board(vec![row]));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(!s.contains("syncing"), "{s}");
    let line = s.lines().find(|l| l.contains("SEV?")).unwrap_or_default();
    assert!(line.contains("(nothing applied:"), "{s}");
    assert!(line.contains(" unsigned "), "the FLAGS column says it: {s}");
}

/// A console started on an incident has no board row for it (the store worker leaves an open
/// incident to its reader): leaving it puts its row on the board from what was read, at once.
#[test]
fn leaving_the_incident_the_console_started_on_puts_its_row_on_the_board() {
    let mut m = model_on_incident();
    assert!(m.board.iter().all(|r| r.id != ID));
    update(&mut m, code(KeyCode::Esc));
    assert!(m.incident.is_none());
    let row = m.board.iter().find(|r| r.id == ID).expect("its row");
    assert_eq!(row.title, "Ransomware on finance file servers");
}

/// Scrolled back, changing what the timeline shows keeps the record under the cursor: a kind
/// filter, Esc clearing it, a search typed and then cleared — the cursor stays on the same
/// record (it used to jump to the newest row and follow).
#[test]
fn scrolled_back_a_filter_change_keeps_the_record_under_the_cursor() {
    let mut m = thirty_notes_by(|i| if i % 2 == 0 { "jon@ops-bastion" } else { "ann@desk" });
    update(&mut m, code(KeyCode::End));
    for _ in 0..6 {
        update(&mut m, key('k'));
    }
    let before = marked(&m);
    let text = before
        .split("note number ")
        .nth(1)
        .map(|n| format!("note number {}", n.split_whitespace().next().unwrap_or_default()))
        .expect("a note under the cursor");
    // Notes only: the record is still shown, the cursor stays on it.
    update(&mut m, key('K'));
    assert!(marked(&m).contains(&text), "{}", marked(&m));
    // Esc clears the filter: still on it.
    update(&mut m, code(KeyCode::Esc));
    assert!(m.incident.is_some());
    assert_eq!(marked(&m), before);
    // A search that matches it, then cleared.
    assert!(before.contains("jon"), "{before}");
    update(&mut m, key('/'));
    for c in "jon".chars() {
        update(&mut m, key(c));
    }
    update(&mut m, code(KeyCode::Enter));
    assert!(marked(&m).contains(&text), "{}", marked(&m));
    update(&mut m, key('/'));
    for _ in 0.."jon".len() {
        update(&mut m, code(KeyCode::Backspace));
    }
    update(&mut m, code(KeyCode::Enter));
    assert_eq!(marked(&m), before, "back on it with the search cleared");
}

/// The story, its notes' texts left in their logs (as the console's worker reads a long
/// history): each note carries where its line is, here made up per seq.
fn story_left_in_log() -> Update {
    let mut u = story();
    for e in &mut u.events {
        if let Body::Note(n) = &mut e.body {
            n.text = NoteText::InLog(TextAt::new(1000 * e.seq, 200, e.seq).unwrap());
        }
    }
    u
}

/// The console on the story, its notes' texts left in their logs, at 80x24.
fn model_left_in_log() -> Model {
    let mut m = model_opening_incident();
    update(&mut m, Msg::Resize { width: 80, height: 24 });
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: story_left_in_log(),
        },
    );
    m
}

/// The worker's word that every text left in the logs was sent back.
fn all_texts_sent() -> Msg {
    Msg::TextsHeld {
        incident: ID.into(),
        log: String::new(),
        texts: Vec::new(),
        done: true,
    }
}

fn read_texts(fx: &[Effect]) -> Vec<(String, TextAt)> {
    fx.iter()
        .filter_map(|f| match f {
            Effect::ReadTexts { incident, want } if incident == ID => Some(want.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

/// Texts left in the log are asked of the worker for the rows on screen, once; a row shows `…`
/// until its text is back, then the text (sanitised as any), or why it could not be read.
#[test]
fn notes_left_in_their_logs_are_read_back_for_the_rows_on_screen() {
    let mut m = model_left_in_log();
    // Asked for once drawn (the drawing notes what it drew without a text).
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains('…') && !s.contains("14 hosts"), "{s}");
    let want = read_texts(&texts::wanted(&mut m));
    let notes: Vec<u64> = story()
        .events
        .iter()
        .filter(|e| matches!(e.body, Body::Note(_)))
        .map(|e| e.seq)
        .collect();
    assert!(!notes.is_empty());
    assert_eq!(want.len(), notes.len(), "{want:?}");
    assert!(want
        .iter()
        .all(|(log, at)| notes.contains(&at.hash()) && !log.is_empty()));
    // Asked once: drawn again before the answer, nothing more is asked.
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(read_texts(&texts::wanted(&mut m)).is_empty());
    assert!(!s.contains(warroom::domain::note_text::NOT_READ), "{s}");
    let texts = want
        .iter()
        .map(|(log, at)| {
            let text = match at.hash() {
                2 => Ok("EDR: 14 hosts on FIN-VLAN encrypted\u{1b}[31m".into()),
                _ => Err("its line changed in the log since it was read".to_string()),
            };
            (log.clone(), *at, text)
        })
        .collect();
    update(
        &mut m,
        Msg::TextsRead {
            incident: ID.into(),
            texts,
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("EDR: 14 hosts on FIN-VLAN encrypted"), "{s}");
    assert!(!s.contains('\u{1b}'));
    if notes.len() > 1 {
        assert!(s.contains("[text unreadable"), "{s}");
    }
}

/// A search needs every text: the worker is asked once to send them all back, and meanwhile a
/// note whose text is in its log is not shown as a match (never matched against a
/// placeholder); each text is put back only into the record that left it at that place.
#[test]
fn a_search_asks_for_every_text_and_matches_none_left_in_the_log() {
    let mut m = model_left_in_log();
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('/'));
    let fx = update(&mut m, Msg::Paste("hosts\n".into()));
    assert!(
        fx.iter().any(|f| matches!(f, Effect::HoldTexts(id) if id == ID)),
        "{fx:?}"
    );
    let again = update(&mut m, Msg::Resize { width: 80, height: 24 });
    assert!(!again.iter().any(|f| matches!(f, Effect::HoldTexts(_))), "asked once");
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(!s.contains("… #edr") && !s.contains("[text"), "{s}");
    // The texts come back (one of them for a line the fold did not take: put nowhere).
    let note = story_left_in_log()
        .events
        .into_iter()
        .find(|e| matches!(&e.body, Body::Note(_)))
        .unwrap();
    let Body::Note(n) = &note.body else { unreachable!() };
    let at = n.text.in_log().unwrap();
    let other = TextAt::new(at.offset(), at.len(), at.hash() + 1).unwrap();
    update(
        &mut m,
        Msg::TextsHeld {
            incident: ID.into(),
            log: note.log.to_string(),
            texts: vec![
                (note.seq, other, "a forged copy about hosts".into()),
                (note.seq, at, "EDR: 14 hosts on FIN-VLAN encrypted".into()),
            ],
            done: false,
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("EDR: 14 hosts") && s.contains("reading texts"), "{s}");
    assert!(!s.contains("forged"), "{s}");
    update(&mut m, all_texts_sent());
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("EDR: 14 hosts") && !s.contains("reading texts"), "{s}");
}

/// Amending a note whose text is not back yet says so and opens nothing: the editor is never
/// filled with a placeholder.
#[test]
fn amending_a_note_not_read_back_yet_waits_for_its_text() {
    let mut m = model_left_in_log();
    m.me = "maya@soc-jump".into();
    render(&m, 80, 24, Theme::mono());
    let want = read_texts(&texts::wanted(&mut m));
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    // Onto the note (the newest note of the story, from the bottom).
    let note_row = |m: &Model| {
        let s = screen(&render(m, 80, 24, Theme::mono()));
        s.lines().find(|l| l.contains('▸')).unwrap_or_default().contains('…')
    };
    for _ in 0..20 {
        if note_row(&m) {
            break;
        }
        update(&mut m, code(KeyCode::Up));
    }
    assert!(note_row(&m), "{}", screen(&render(&m, 80, 24, Theme::mono())));
    update(&mut m, key('e'));
    assert!(m.overlay.is_none(), "{:?}", m.overlay.is_some());
    assert!(
        m.flash.as_ref().is_some_and(|f| f.text.contains("still being read")),
        "{:?}",
        m.flash
    );
    let texts = want
        .iter()
        .map(|(log, at)| (log.clone(), *at, Ok("the text back".into())))
        .collect();
    update(
        &mut m,
        Msg::TextsRead {
            incident: ID.into(),
            texts,
        },
    );
    update(&mut m, key('e'));
    assert!(m.overlay.is_some(), "{:?}", m.flash);
}

/// A read back that failed (the log moved away, the line changed and may be put back) is shown
/// as failed, then tried again: never remembered for good (break round, stop 24).
#[test]
fn a_failed_read_back_is_tried_again() {
    let mut m = model_left_in_log();
    render(&m, 80, 24, Theme::mono());
    let want = read_texts(&texts::wanted(&mut m));
    assert!(!want.is_empty());
    let failed = want
        .iter()
        .map(|(log, at)| {
            (
                log.clone(),
                *at,
                Err("its log cannot be read: No such file or directory".to_string()),
            )
        })
        .collect();
    update(
        &mut m,
        Msg::TextsRead {
            incident: ID.into(),
            texts: failed,
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("[text unreadable: its log cannot be read"), "{s}");
    assert!(read_texts(&texts::wanted(&mut m)).is_empty(), "not at once");
    let t = m.now + texts::RETRY_MS;
    update(&mut m, Msg::Tick(t));
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let again = read_texts(&texts::wanted(&mut m));
    assert_eq!(
        again.len(),
        want.len(),
        "asked again once drawn after {} ms\n{s}",
        texts::RETRY_MS
    );
    let back = again
        .iter()
        .map(|(log, at)| (log.clone(), *at, Ok("back again".into())))
        .collect();
    update(
        &mut m,
        Msg::TextsRead {
            incident: ID.into(),
            texts: back,
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    assert!(s.contains("back again") && !s.contains("unreadable"), "{s}");
}

/// Two logs can hold the same text at the same place (two writers importing one export): a
/// text read back, or a read that failed, is kept for its own log only — an edit of one log's
/// line never shows the other's text as current, nor flags the other's intact line (break
/// round, stop 27).
#[test]
fn a_text_read_back_belongs_to_its_own_log_only() {
    let mut m = model_left_in_log();
    let mut u = story_left_in_log();
    let jon = u
        .events
        .iter()
        .rfind(|e| matches!(&e.body, Body::Note(_)))
        .cloned()
        .unwrap();
    let Body::Note(n) = &jon.body else { unreachable!() };
    let at = n.text.in_log().unwrap();
    // Maya's log holds the same text at the same place, as her newest record.
    let mut twin = ev(90, "maya@soc-jump", 30, jon.body.clone());
    twin.id = "e090".into();
    u.events.push(twin);
    update(
        &mut m,
        Msg::Incident {
            id: ID.into(),
            update: u,
        },
    );
    render(&m, 80, 24, Theme::mono());
    let want = read_texts(&texts::wanted(&mut m));
    let asked: Vec<&String> = want.iter().filter(|(_, a)| *a == at).map(|(log, _)| log).collect();
    assert_eq!(asked.len(), 2, "one ask per log: {want:?}");
    // Maya's line was edited in place: hers fails, jon's reads.
    let answers = want
        .iter()
        .map(|(log, a)| {
            let text = if log.starts_with("maya") {
                Err("its line changed in the log since it was read".to_string())
            } else {
                Ok("the line as jon wrote it".into())
            };
            (log.clone(), *a, text)
        })
        .collect();
    update(
        &mut m,
        Msg::TextsRead {
            incident: ID.into(),
            texts: answers,
        },
    );
    let s = screen(&render(&m, 80, 24, Theme::mono()));
    let row = |who: &str| {
        s.lines()
            .find(|l| l.contains(who) && (l.contains("the line as") || l.contains("[text")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(row("jon").contains("the line as jon wrote it"), "{s}");
    assert!(row("maya").contains("[text unreadable"), "{s}");
}

/// A search's read of every text that left some in their logs (a log could not be read) asks
/// again a while later, as long as the search is applied (break round, stop 24).
#[test]
fn a_search_that_could_not_read_every_text_asks_again() {
    let mut m = model_left_in_log();
    m.incident.as_mut().unwrap().focus = Pane::Timeline;
    update(&mut m, key('/'));
    let fx = update(&mut m, Msg::Paste("hosts\n".into()));
    assert!(fx.iter().any(|f| matches!(f, Effect::HoldTexts(_))));
    // Nothing could be read: every text is still in its log when the worker is done.
    update(&mut m, all_texts_sent());
    let t0 = m.now;
    let soon = update(&mut m, Msg::Tick(t0 + 100));
    assert!(!soon.iter().any(|f| matches!(f, Effect::HoldTexts(_))), "not at once");
    // Said, not a silent "no events match" (break round 2).
    let s = screen(&render(&m, 100, 24, Theme::mono()));
    assert!(s.contains("some texts unreadable"), "{s}");
    let later = update(&mut m, Msg::Tick(t0 + texts::RETRY_MS));
    assert!(
        later.iter().any(|f| matches!(f, Effect::HoldTexts(id) if id == ID)),
        "{later:?}"
    );
    let s = screen(&render(&m, 100, 24, Theme::mono()));
    assert!(s.contains("some texts unreadable"), "still said while asked again\n{s}");
    // Left wanting again: asked again after twice as long (each read reads every log).
    let done = |m: &mut Model| update(m, all_texts_sent());
    done(&mut m);
    let t1 = t0 + texts::RETRY_MS;
    let early = update(&mut m, Msg::Tick(t1 + texts::RETRY_MS));
    assert!(!early.iter().any(|f| matches!(f, Effect::HoldTexts(_))), "backed off");
    let late = update(&mut m, Msg::Tick(t1 + 2 * texts::RETRY_MS));
    assert!(late.iter().any(|f| matches!(f, Effect::HoldTexts(_))), "{late:?}");
    // Every text read this time: nothing more is said.
    for e in story_left_in_log().events {
        if let Body::Note(n) = &e.body {
            let at = n.text.in_log().unwrap();
            update(
                &mut m,
                Msg::TextsHeld {
                    incident: ID.into(),
                    log: e.log.to_string(),
                    texts: vec![(e.seq, at, format!("note {}", e.seq).into())],
                    done: false,
                },
            );
        }
    }
    update(&mut m, all_texts_sent());
    let s = screen(&render(&m, 100, 24, Theme::mono()));
    assert!(
        !s.contains("some texts unreadable") && !s.contains("reading texts"),
        "{s}"
    );
}
