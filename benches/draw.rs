//! Draw time of the war-room view with a 100k-event timeline at 200x60 (target: < 1 ms a frame).
//! Only the visible slice of the timeline is walked, so history does not cost frame time.

use criterion::{criterion_group, criterion_main, Criterion};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use warroom::domain::event::*;
use warroom::store::incident::Update;
use warroom::store::playbooks::Library;
use warroom::tui::keymap::Keymap;
use warroom::tui::model::{update, IncidentModel, Model, Msg};
use warroom::tui::theme::Theme;
use warroom::tui::view;

const T0: i64 = 1_764_151_200_000;

fn model(events: usize) -> Model {
    let pb = Library::built_in().resolve("ransomware").expect("built-in playbook");
    let hash = pb.content_hash();
    let id = "2026-11-26-bench-0000";
    let mut evs = vec![Event {
        id: "d".into(),
        at: T0,
        wall: T0,
        occurred: Occurred::NONE,
        log: "maya@h".into(),
        seq: 1,
        body: Declared {
            incident: id.into(),
            title: "Bench".into(),
            severity: 1,
            mode: Mode::Real,
            playbook: "ransomware".into(),
            playbook_version: pb.version.clone(),
            playbook_hash: hash.clone(),
            commander: "maya".into(),
            require_signatures: false,
        }
        .into(),
    }];
    for i in 0..events {
        let by = ["maya@h", "jon@h", "priya@h"][i % 3];
        evs.push(Event {
            id: format!("n{i}").into(),
            at: T0 + 1 + i as i64,
            wall: T0 + 1 + i as i64,
            occurred: Occurred::NONE,
            log: by.into(),
            seq: 2 + i as u64,
            body: Note {
                text: format!("observation number {i} from the field, with some detail").into(),
                tags: Default::default(),
            }
            .into(),
        });
    }
    let mut m = Model::new("you@h", Keymap::default(), "/srv/warroom", T0 + 3_600_000);
    m.incident = Some(IncidentModel::new(id));
    update(
        &mut m,
        Msg::Incident {
            id: id.into(),
            update: Update {
                events: evs,
                playbooks: vec![(hash, pb.into())],
                claim: Some(warroom::domain::state::Claim::Unchecked),
                ..Update::default()
            },
        },
    );
    m
}

fn draw(c: &mut Criterion) {
    let theme = Theme::from_env();
    let mut g = c.benchmark_group("draw");
    // The same screen with 100 and with 100k events: history must not cost frame time.
    for events in [100, 100_000] {
        let m = model(events);
        let mut term = Terminal::new(TestBackend::new(200, 60)).expect("test backend");
        g.bench_function(format!("war_room_200x60_{events}_events"), |b| {
            b.iter(|| {
                // A fresh buffer each frame, so this is the full render cost, not a diff of nothing.
                term.clear().expect("clear");
                term.draw(|f| view::draw(f, &m, &theme)).expect("draw");
            })
        });
    }
    g.finish();
}

criterion_group!(benches, draw);
criterion_main!(benches);
