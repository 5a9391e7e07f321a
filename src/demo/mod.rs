//! `warroom demo`: a temporary shared directory, an incident marked DEMO, and simulated teammates
//! who write through the store into their own logs at a human pace — seen by the viewer only
//! through the reader, exactly like real teammates. Never touches WARROOM_DIR.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::domain::event::*;
use crate::domain::identity::WriterId;
use crate::domain::playbook::Audience;
use crate::domain::time::Millis;
use crate::domain::Phase;
use crate::store::incident::{declare, DeclareRequest};
use crate::store::playbooks::Library;
use crate::store::writer::{Draft, LogWriter};
use crate::store::{random_id, Identity, RootChoice, RootSource, Store, StoreError};

/// A running demo: its directory (removed on drop) and the teammates' thread.
pub struct Demo {
    pub store: Store,
    pub incident: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

fn teammate(name: &str, host: &str) -> Identity {
    Identity {
        writer: WriterId {
            name: name.into(),
            host: host.into(),
        },
        install: random_id(6),
    }
}

/// One scripted step: after `after` seconds (at speed 1), `who` writes `draft`.
struct Step {
    after: f64,
    who: usize,
    draft: Draft,
}

fn note(text: &str, tags: &[&str]) -> Draft {
    Draft::new(Note {
        text: text.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
    })
}
fn item(id: &str, state: ItemState, n: Option<&str>) -> Draft {
    Draft::new(ChecklistSet {
        item: id.into(),
        state,
        note: n.map(str::to_string),
    })
}
fn action(id: &str, state: ActionState, n: Option<&str>) -> Draft {
    Draft::new(ActionSet {
        action: id.into(),
        state,
        note: n.map(str::to_string),
    })
}

const MAYA: usize = 0;
const JON: usize = 1;
const PRIYA: usize = 2;

fn script(viewer: &str, now: Millis) -> Vec<Step> {
    use ActionState::{Approved, Proposed, Running};
    let s = |after, who, draft| Step { after, who, draft };
    vec![
        s(
            0.4,
            JON,
            note(
                "EDR: 14 hosts on FIN-VLAN show files renamed *.lockbit and README-RESTORE.txt",
                &["edr"],
            )
            .at(Some(now - 12 * 60_000)),
        ),
        s(
            1.2,
            MAYA,
            Draft::new(RoleAssigned {
                role: "scribe".into(),
                who: "priya".into(),
            }),
        ),
        s(
            2.0,
            PRIYA,
            item(
                "id-first-facts",
                ItemState::Done,
                Some("EDR alert 09:48Z on fin-fs-02; note README-RESTORE.txt"),
            ),
        ),
        s(
            3.5,
            MAYA,
            action("isolate-host-edr", Proposed, Some("all 14 FIN-VLAN hosts")),
        ),
        s(4.5, JON, action("isolate-host-edr", Running, None)),
        s(
            6.0,
            JON,
            action("cut-segment-egress", Proposed, Some("FIN-VLAN egress to the internet")),
        ),
        s(
            7.5,
            MAYA,
            Draft::new(Assigned {
                target: Target::Item("id-exfiltration".into()),
                who: viewer.into(),
            }),
        ),
        s(9.0, MAYA, action("cut-segment-egress", Approved, None)),
        s(
            10.5,
            JON,
            action("isolate-host-edr", ActionState::Done, Some("14/14 isolated")),
        ),
        s(
            12.0,
            PRIYA,
            note(
                "Out-of-band bridge open on the Signal group; call tree printed",
                &["comms"],
            ),
        ),
        s(
            13.5,
            MAYA,
            item(
                "id-scope-hosts",
                ItemState::Blocked,
                Some("waiting on the hypervisor team for ESXi logs"),
            ),
        ),
        s(15.0, JON, action("cut-segment-egress", Running, None)),
        s(
            17.0,
            PRIYA,
            Draft::new(StatusUpdate {
                audience: Audience::Internal,
                text: "Ransomware on finance file servers. Hosts isolated, egress being cut. Next update 10:30Z."
                    .into(),
            }),
        ),
        s(
            19.0,
            MAYA,
            item(
                "id-preserve-note",
                ItemState::Done,
                Some("note + 3 encrypted samples hashed, in evidence share"),
            ),
        ),
        s(21.0, JON, action("cut-segment-egress", ActionState::Done, None)),
        s(
            23.0,
            MAYA,
            Draft::new(SeverityChanged {
                severity: 1,
                reason: Some("rclone seen on fin-fs-02: exfiltration likely".into()),
            }),
        ),
        s(
            25.0,
            JON,
            action(
                "pause-backup-job",
                Proposed,
                Some("stop nightly sync before it copies encrypted files"),
            ),
        ),
        s(27.0, MAYA, action("pause-backup-job", Approved, None)),
        s(
            29.0,
            PRIYA,
            item(
                "id-notify-insurer",
                ItemState::Done,
                Some("carrier hotline ref 88-2231"),
            ),
        ),
        s(
            31.0,
            MAYA,
            Draft::new(PhaseEntered {
                phase: Phase::Containment,
                override_open: vec!["id-scope-hosts".into()],
            }),
        ),
        s(33.0, JON, action("pause-backup-job", Running, None)),
        s(
            35.0,
            PRIYA,
            note(
                "Legal on the bridge; outside counsel engaged under privilege",
                &["legal"],
            ),
        ),
    ]
}

const CHATTER: &[(usize, &str)] = &[
    (JON, "Firewall: no new outbound sessions from FIN-VLAN since the cut"),
    (
        PRIYA,
        "Leadership asks for an ETA on payroll; told them next update at the half hour",
    ),
    (
        MAYA,
        "Reminder: nobody contacts the actor or opens the leak site from corporate machines",
    ),
    (
        JON,
        "Backup repository immutable snapshots verified for 2026-11-24 and earlier",
    ),
    (PRIYA, "Scribe: timeline caught up through the severity change"),
    (MAYA, "DFIR firm ETA 40 minutes; they want EDR telemetry exported"),
];

impl Demo {
    /// Create the directory and the incident, and start the teammates.
    pub fn start(viewer: &str, speed: f64) -> Result<Demo, StoreError> {
        let dir = tempfile::Builder::new()
            .prefix("warroom-demo-")
            .tempdir()
            .map_err(StoreError::io("cannot create a temporary directory for the demo"))?;
        let root: PathBuf = dir.path().join("incidents");
        let store = Store::open(
            &RootChoice {
                path: root,
                source: RootSource::Flag,
            },
            dir.path().join("state"),
            dir.path().join("locks"),
        )?;
        let team = [
            teammate("maya", "soc-jump"),
            teammate("jon", "ops-bastion"),
            teammate("priya", "laptop"),
        ];
        let playbook = Library::built_in()
            .resolve("ransomware")
            .map_err(|e| StoreError::Refused(e.join("\n")))?;
        let clock = crate::cli::context::now_ms;
        let now = clock();
        let (incident, _) = declare(
            &store,
            &team[MAYA],
            DeclareRequest {
                playbook: &playbook,
                title: "Ransomware on finance file servers".into(),
                severity: 2,
                mode: Mode::Demo,
                commander: "maya".into(),
                occurred: Some(now - 10 * 60_000),
            },
            clock,
        )?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (store, incident, stop, viewer) = (store.clone(), incident.clone(), stop.clone(), viewer.to_string());
            std::thread::spawn(move || run_team(&store, &incident, &team, &viewer, speed.max(0.01), &stop))
        };
        Ok(Demo {
            store,
            incident,
            stop,
            thread: Some(thread),
            _dir: dir,
        })
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Sleep in small steps so a stop request is honoured quickly.
fn pause(secs: f64, stop: &AtomicBool) -> bool {
    let mut left = Duration::from_secs_f64(secs.max(0.0));
    while !left.is_zero() {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        let d = left.min(Duration::from_millis(50));
        std::thread::sleep(d);
        left -= d;
    }
    !stop.load(Ordering::SeqCst)
}

fn run_team(store: &Store, incident: &str, team: &[Identity; 3], viewer: &str, speed: f64, stop: &AtomicBool) {
    let clock = crate::cli::context::now_ms;
    let mut elapsed = 0.0;
    for step in script(viewer, clock()) {
        if !pause((step.after - elapsed) / speed, stop) {
            return;
        }
        elapsed = step.after;
        // A failed write (the folder vanished under us) ends the simulation quietly.
        if LogWriter::new(store, incident, &team[step.who])
            .append(vec![step.draft], clock)
            .is_err()
        {
            return;
        }
    }
    for (i, (who, text)) in CHATTER.iter().cycle().enumerate() {
        if !pause((8.0 + (i % 3) as f64 * 3.0) / speed, stop) {
            return;
        }
        if LogWriter::new(store, incident, &team[*who])
            .append(vec![note(text, &[])], clock)
            .is_err()
        {
            return;
        }
    }
}
