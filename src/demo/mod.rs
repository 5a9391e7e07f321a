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
use crate::domain::IncidentState;
use crate::domain::Phase;
use crate::store::incident::{declare, DeclareRequest, Incident};
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
            phase(Phase::Containment),
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
        // Containment, carried through.
        s(
            41.0,
            JON,
            item(
                "id-scope-hosts",
                ItemState::Done,
                Some("ESXi logs in: 14 hosts, hypervisors untouched"),
            ),
        ),
        s(
            47.0,
            PRIYA,
            item("id-variant", ItemState::Done, Some("LockBit 3.0 per EDR detection and the note")),
        ),
        s(53.0, JON, action("pause-backup-job", ActionState::Done, Some("nightly sync paused"))),
        s(59.0, MAYA, item("co-isolate-hosts", ItemState::Done, Some("14/14 isolated via EDR"))),
        s(
            65.0,
            JON,
            action("block-ioc-egress", Proposed, Some("C2 IPs and domains from the DFIR firm")),
        ),
        s(70.0, JON, action("block-ioc-egress", Running, None)),
        s(
            76.0,
            PRIYA,
            item(
                "co-staff-update",
                ItemState::Done,
                Some("service desk told staff: do not power on isolated PCs"),
            ),
        ),
        s(82.0, JON, action("block-ioc-egress", ActionState::Done, None)),
        s(
            88.0,
            MAYA,
            item(
                "co-ransom-posture",
                ItemState::Done,
                Some("no contact with the actor; counsel and the board agree"),
            ),
        ),
        s(
            94.0,
            PRIYA,
            Draft::new(StatusUpdate {
                audience: Audience::External,
                text: "We are responding to a security incident affecting some finance systems. Customer services are running. Next update tomorrow 09:00 UTC."
                    .into(),
            }),
        ),
        s(100.0, JON, item("co-memory-capture", ItemState::Done, Some("KAPE triage of 3 hosts"))),
        s(106.0, MAYA, item("co-protect-backups", ItemState::Done, None)),
        s(112.0, MAYA, phase(Phase::Eradication)),
        // Eradication.
        s(118.0, JON, action("reset-krbtgt", Proposed, Some("twice, ten hours apart"))),
        s(124.0, PRIYA, action("reset-krbtgt", Approved, None)),
        s(130.0, JON, action("reset-krbtgt", Running, None)),
        s(
            136.0,
            JON,
            item(
                "er-persistence-hunt",
                ItemState::Done,
                Some("2 scheduled tasks and 1 RMM install removed"),
            ),
        ),
        s(
            142.0,
            JON,
            action("rebuild-from-gold-image", Proposed, Some("the 14 isolated hosts")),
        ),
        s(148.0, MAYA, action("rebuild-from-gold-image", Approved, None)),
        s(154.0, JON, action("rebuild-from-gold-image", Running, None)),
        s(160.0, JON, action("reset-krbtgt", ActionState::Done, Some("second reset replicated"))),
        s(
            166.0,
            PRIYA,
            note(
                "Root cause agreed with the DFIR firm: unpatched VPN appliance, stolen session",
                &["rca"],
            ),
        ),
        s(172.0, MAYA, item("er-root-cause", ItemState::Done, Some("VPN appliance, see note"))),
        s(178.0, JON, action("rebuild-from-gold-image", ActionState::Done, Some("14/14 rebuilt"))),
        s(184.0, JON, item("er-rebuild", ItemState::Done, None)),
        s(
            190.0,
            MAYA,
            item("er-verify-clean", ItemState::Done, Some("EDR reporting on every rebuilt host")),
        ),
        s(196.0, MAYA, phase(Phase::Recovery)),
        // Recovery.
        s(202.0, PRIYA, item("re-restore-point", ItemState::Done, Some("snapshots of 2026-11-24"))),
        s(208.0, JON, item("re-restore-order", ItemState::Done, None)),
        s(
            214.0,
            MAYA,
            item("re-go-no-go", ItemState::Done, Some("go: finance owners on the bridge")),
        ),
        s(
            220.0,
            PRIYA,
            Draft::new(StatusUpdate {
                audience: Audience::Internal,
                text: "Finance file servers restored and verified. Payroll runs tonight. Monitoring stays heightened for 30 days."
                    .into(),
            }),
        ),
        s(226.0, PRIYA, item("re-restoration-update", ItemState::Done, None)),
        s(232.0, JON, item("re-business-signoff", ItemState::Done, Some("finance signed off at 16:40"))),
        s(238.0, MAYA, item("re-monitoring", ItemState::Done, Some("30 days of alerts on the IOCs"))),
        s(244.0, MAYA, phase(Phase::LessonsLearned)),
        // Lessons learned: the follow-ups, and the team stands down.
        s(
            250.0,
            PRIYA,
            Draft::new(FollowUp {
                text: "Patch edge devices within 72 h of a critical advisory".into(),
                owner: Some("jon".into()),
                kind: "preventive".into(),
                due: None,
                from: None,
            }),
        ),
        s(
            256.0,
            MAYA,
            note("Review booked for Thursday; thanks all. Standing down the bridge.", &[]),
        ),
    ]
}

/// Enter a phase; the open required items it passes are filled in when the step is written.
fn phase(p: Phase) -> Draft {
    Draft::new(PhaseEntered {
        phase: p,
        override_open: vec![],
    })
}

/// A step as the state stands when it is due: a phase change names the required items still
/// open (the viewer may have ticked some); `None` if the fold would refuse it (the viewer moved
/// the phase on already, approved the action themselves…): teammates never write a refusal.
fn ready(state: &IncidentState, mut draft: Draft, by: &str, now: Millis) -> Option<Draft> {
    if let Body::PhaseEntered(p) = &mut draft.body {
        if state.phase() >= p.phase {
            return None;
        }
        p.override_open = state.open_required_before(p.phase);
    }
    state.check(&draft.body, by, now).ok()?;
    Some(draft)
}

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
                require_signatures: false,
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

impl Demo {
    /// The teammates have played their whole script (or stopped).
    pub fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
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
    let mut inc = Incident::open(store, incident, clock());
    for step in script(viewer, clock()) {
        if !pause((step.after - elapsed) / speed, stop) {
            return;
        }
        elapsed = step.after;
        // The teammates read the incident as it stands (the viewer acts too) before each step.
        inc.refresh(clock());
        let me = &team[step.who];
        let Some(draft) = ready(&inc.state, step.draft, &me.writer.to_string(), clock()) else {
            continue;
        };
        // A failed write (the folder vanished under us) ends the simulation quietly.
        if LogWriter::new(store, incident, me).append(vec![draft], clock).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole script, played fast with a viewer who does nothing: every step is written (none
    /// refused or skipped), nothing in the record is flagged, and the incident ends in Lessons
    /// Learned with its actions done.
    #[test]
    fn the_team_carries_the_incident_through_every_phase() {
        let demo = Demo::start("viewer", 400.0).expect("the demo starts");
        let started = std::time::Instant::now();
        while !demo.finished() {
            assert!(started.elapsed().as_secs() < 30, "the script did not finish");
            std::thread::sleep(Duration::from_millis(50));
        }
        let now = crate::cli::context::now_ms();
        let inc = Incident::open(&demo.store, &demo.incident, now);
        let s = &inc.state;
        let flagged: Vec<String> = s
            .events()
            .filter(|e| s.flag(e).is_some())
            .map(crate::domain::describe::describe)
            .collect();
        assert!(flagged.is_empty(), "{flagged:?}");
        assert!(inc.problems().is_empty(), "{:?}", inc.problems());
        // Declared + every step of the script (the writer adds Heads records at phase changes).
        let records = s
            .events()
            .filter(|e| !matches!(e.body, Body::Heads(_) | Body::Signed(_)))
            .count();
        assert_eq!(records, 1 + script("viewer", now).len());
        assert_eq!(s.phase(), Phase::LessonsLearned);
        for a in [
            "isolate-host-edr",
            "cut-segment-egress",
            "reset-krbtgt",
            "rebuild-from-gold-image",
        ] {
            let st = s.derived.actions.get(a).map(|r| r.value.state);
            assert_eq!(st, Some(ActionState::Done), "{a}");
        }
    }
}
