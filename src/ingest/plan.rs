//! From alerts to what to write: pure (no IO), so routing and de-duplication are unit-tested.
//!
//! - An alert whose fingerprint already belongs to an incident adds a timeline entry there,
//!   whatever the rules say now: a repeat firing never declares a second incident.
//! - Otherwise the first matching rule decides. Alerts of one Alertmanager group routed by one
//!   `Declare` rule go to one incident: the group's known incident, else the first one declared.
//! - A resolved alert nobody declared for is skipped (nothing to close).
//! - Every entry is timed by the alert's own clock: a firing at its `startsAt`, a resolution at
//!   its `endsAt`, so fire → resolve → fire → resolve sorts in that order on the timeline however
//!   late each notification arrives. An entry already recorded for the same fingerprint, status
//!   and time (Alertmanager repeats a notification every `repeat_interval`, and resends on a
//!   group change or a retry) is not written again: ingesting is idempotent.

use std::collections::BTreeMap;

use super::alert::{Alert, Batch, Source, Status};
use super::rules::{render_commander, render_title, severity, Route, Rules};
use crate::domain::sanitize::sanitize_multiline;
use crate::domain::time::{check_range, format_utc, Millis};

/// The longest note an alert becomes.
pub const MAX_NOTE: usize = 8 * 1024;
pub use crate::domain::event::{ALERT_TAG, FINGERPRINT_TAG};

#[derive(Debug, Clone, PartialEq)]
pub struct NoteDraft {
    pub text: String,
    pub tags: Vec<String>,
    pub occurred: Option<Millis>,
}

/// Where an entry goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// An incident known by id.
    Incident(String),
    /// The incident declared by step `n` of this plan.
    Step(usize),
    /// An incident named by a rule (an id or a unique prefix).
    Named(String),
    /// The newest open real incident.
    NewestOpen,
}

/// One alert entry already on an incident's timeline: what it said and when it was timed
/// (`None`: its time was not used, so it cannot be matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub status: Status,
    pub at: Option<Millis>,
}

/// What is known of a fingerprint: its incident and the entries recorded for it there.
pub type Known = (String, Vec<Seen>);

/// The alert's state after these entries: the latest by the alert's own time (an entry without
/// a time counts as before every timed one). `None` when nothing was recorded.
pub fn alert_state(seen: &[Seen]) -> Option<Status> {
    seen.iter()
        .enumerate()
        .max_by_key(|(i, s)| (s.at, *i))
        .map(|(_, s)| s.status)
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Declare {
        fingerprint: String,
        rule: String,
        playbook: String,
        title: String,
        severity: u8,
        /// The rule's commander for this alert; `None`: the ingest's `--commander`, else nobody.
        commander: Option<String>,
        occurred: Option<Millis>,
        note: NoteDraft,
        /// The routing key (rule, group or fingerprint, and the alert's start): the incident id's
        /// suffix comes from it, so two hosts declaring for one alert claim the same folder.
        key: String,
    },
    Annotate {
        fingerprint: String,
        /// The rule that routed it (None: its fingerprint was known).
        rule: Option<String>,
        target: Target,
        note: NoteDraft,
    },
    Skip {
        fingerprint: String,
        why: String,
    },
}

/// Plan a batch. `known` gives the incident an alert's fingerprint already belongs to, with the
/// alert entries recorded there for it.
pub fn plan(batch: &Batch, rules: &Rules, known: &dyn Fn(&str) -> Option<Known>, now: Millis) -> Vec<Step> {
    let mut steps = Vec::new();
    // rule name → where this group's alerts routed by it go.
    let mut group_target: BTreeMap<String, Target> = BTreeMap::new();
    if batch.group_key.is_some() {
        for a in &batch.alerts {
            if let (Some((id, _)), Some(rule)) = (known(&a.fingerprint), rules.route(a)) {
                if matches!(rule.route, Route::Declare { .. }) {
                    group_target.entry(rule.name.clone()).or_insert(Target::Incident(id));
                }
            }
        }
    }
    for a in &batch.alerts {
        let fp = a.fingerprint.clone();
        if let Some((id, seen)) = known(&fp) {
            let note = note(a, batch, true, now);
            let status = a.status;
            if note.occurred.is_some()
                && seen.contains(&Seen {
                    status,
                    at: note.occurred,
                })
            {
                steps.push(Step::Skip {
                    fingerprint: fp,
                    why: format!(
                        "already recorded on {id} ({} since {}): a repeated notification",
                        status.word(),
                        note.occurred.map(format_utc).unwrap_or_default()
                    ),
                });
                continue;
            }
            steps.push(Step::Annotate {
                fingerprint: fp,
                rule: None,
                target: Target::Incident(id),
                note,
            });
            continue;
        }
        let Some(rule) = rules.route(a) else {
            steps.push(Step::Skip {
                fingerprint: fp,
                why: "no rule matches its labels".into(),
            });
            continue;
        };
        match &rule.route {
            Route::Ignore => steps.push(Step::Skip {
                fingerprint: fp,
                why: format!("rule `{}` ignores it", rule.name),
            }),
            Route::Annotate { incident } => steps.push(Step::Annotate {
                fingerprint: fp,
                rule: Some(rule.name.clone()),
                target: incident.clone().map_or(Target::NewestOpen, Target::Named),
                note: note(a, batch, false, now),
            }),
            Route::Declare { .. } if a.status == Status::Resolved => steps.push(Step::Skip {
                fingerprint: fp,
                why: "resolved, and no incident was declared for it".into(),
            }),
            Route::Declare {
                playbook,
                severity: s,
                severities,
                title,
                commander,
            } => {
                if let Some(target) = group_target.get(&rule.name).filter(|_| batch.group_key.is_some()) {
                    steps.push(Step::Annotate {
                        fingerprint: fp,
                        rule: Some(rule.name.clone()),
                        target: target.clone(),
                        note: note(a, batch, false, now),
                    });
                    continue;
                }
                group_target.insert(rule.name.clone(), Target::Step(steps.len()));
                let note = note(a, batch, false, now);
                steps.push(Step::Declare {
                    fingerprint: fp,
                    rule: rule.name.clone(),
                    playbook: playbook.clone(),
                    title: render_title(title, a),
                    severity: severity(*s, severities, a),
                    commander: commander.as_deref().and_then(|t| render_commander(t, a)),
                    occurred: note.occurred,
                    note,
                    key: format!(
                        "{}\n{}\n{}\n{}",
                        rule.name,
                        batch.group_key.as_deref().unwrap_or_default(),
                        a.fingerprint,
                        a.starts_at.map(|t| t.to_string()).unwrap_or_default()
                    ),
                });
            }
        }
    }
    steps
}

/// The timeline entry for one alert: what fired (or resolved), its labels and annotations, where
/// it came from, and what Alertmanager left out. `occurred` is when it started (or ended) — a
/// firing again after a resolution too, at its new `startsAt` — unless that time is missing or
/// implausible (then the note says so and the time of receipt is used). `repeat`: the
/// fingerprint already has entries.
pub fn note(a: &Alert, batch: &Batch, repeat: bool, now: Millis) -> NoteDraft {
    let (headline, when) = match (a.status, repeat) {
        (Status::Firing, false) => ("firing", a.starts_at),
        (Status::Firing, true) => ("firing again", a.starts_at),
        (Status::Resolved, _) => ("resolved", a.ends_at),
    };
    let mut lines = Vec::new();
    let summary = a
        .annotations
        .get("summary")
        .or_else(|| a.annotations.get("message"))
        .map(|s| format!(" — {s}"))
        .unwrap_or_default();
    lines.push(format!("Alert {headline}: {}{summary}", a.name()));
    if let Some(s) = a.starts_at {
        lines.push(format!("since {}", format_utc(s)));
    }
    let occurred = match when.map(|t| check_range(t, now)) {
        Some(Ok(t)) => Some(t),
        Some(Err(why)) => {
            lines.push(format!("(its time is not used: {why})"));
            None
        }
        None => None,
    };
    let labels: Vec<String> = a.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.push(format!("labels: {}", labels.join(", ")));
    for (k, v) in a.annotations.iter().filter(|(k, _)| k.as_str() != "summary") {
        lines.push(format!("{k}: {v}"));
    }
    if let Some(u) = &a.generator_url {
        lines.push(format!("source: {u}"));
    }
    if batch.source == Source::Alertmanager {
        if let Some(r) = &batch.receiver {
            lines.push(format!("via Alertmanager receiver {r}"));
        }
    }
    let mut tags = vec![
        ALERT_TAG.to_string(),
        format!("{FINGERPRINT_TAG}{}", a.fingerprint),
        a.status.word().to_string(),
    ];
    if batch.truncated > 0 {
        lines.push(format!(
            "Alertmanager left {} more alert(s) of this group out of the notification (truncatedAlerts)",
            batch.truncated
        ));
        tags.push("truncated".into());
    }
    let mut text = sanitize_multiline(&lines.join("\n"));
    if text.len() > MAX_NOTE {
        let mut end = MAX_NOTE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("\n[cut]");
    }
    NoteDraft { text, tags, occurred }
}

/// The fingerprint a note records, if it is an alert entry.
pub fn fingerprint_of(tags: &[crate::domain::Name]) -> Option<&str> {
    crate::domain::event::alert_fingerprint(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::alert::parse_documents;
    use proptest::prelude::*;

    const NOW: Millis = 1_795_400_000_000;

    fn rules() -> Rules {
        Rules::parse(
            "r.ron",
            r#"(rules: [
                (name: "ransom", labels: {"alertname": "Files*"}, route: Declare(playbook: "ransomware", severity: 2, severities: {"critical": 1}, title: "{alertname} on {instance}", commander: Some("{oncall}"))),
                (name: "info", labels: {"severity": "info"}, route: Annotate()),
                (name: "pinned", labels: {"team": "db"}, route: Annotate(incident: Some("2026-11-22-db"))),
                (name: "tests", labels: {"env": "test"}, route: Ignore),
            ])"#,
        )
        .expect("rules")
    }

    fn am(alerts: &str, truncated: u64) -> Batch {
        let doc = format!(
            r#"{{"version":"4","groupKey":"g","truncatedAlerts":{truncated},"status":"firing","receiver":"warroom",
               "groupLabels":{{}},"commonLabels":{{}},"commonAnnotations":{{}},"externalURL":"","alerts":[{alerts}]}}"#
        );
        parse_documents(doc.as_bytes()).expect("payload").batches.remove(0)
    }

    fn firing(fp: &str, name: &str, extra: &str) -> String {
        format!(
            r#"{{"status":"firing","labels":{{"alertname":"{name}","instance":"fs-{fp}"{extra}}},"annotations":{{"summary":"s"}},"startsAt":"2026-11-22T09:48:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p","fingerprint":"{fp}"}}"#
        )
    }

    fn resolved(fp: &str, name: &str) -> String {
        format!(
            r#"{{"status":"resolved","labels":{{"alertname":"{name}"}},"annotations":{{}},"startsAt":"2026-11-22T09:48:00Z","endsAt":"2026-11-22T10:30:00Z","fingerprint":"{fp}"}}"#
        )
    }

    #[test]
    fn a_new_alert_declares_with_the_rule_and_its_start_as_occurred() {
        let b = am(&firing("aa", "FilesEncrypted", r#","severity":"critical""#), 0);
        let steps = plan(&b, &rules(), &|_| None, NOW);
        let [Step::Declare {
            playbook,
            title,
            severity,
            occurred,
            note,
            ..
        }] = steps.as_slice()
        else {
            panic!("{steps:?}")
        };
        assert_eq!(
            (playbook.as_str(), title.as_str(), *severity),
            ("ransomware", "FilesEncrypted on fs-aa", 1)
        );
        assert_eq!(*occurred, Some(1_795_340_880_000));
        assert_eq!(note.occurred, *occurred);
        assert!(
            matches!(&steps[0], Step::Declare { commander: None, .. }),
            "no oncall label: nobody named"
        );
        let b = am(&firing("ab", "FilesEncrypted", r#","oncall":"maya""#), 0);
        let steps = plan(&b, &rules(), &|_| None, NOW);
        assert!(
            matches!(&steps[0], Step::Declare { commander: Some(c), .. } if c == "maya"),
            "{steps:?}"
        );
        assert_eq!(note.tags, ["alert", "fingerprint:aa", "firing"]);
        assert!(
            note.text
                .starts_with("Alert firing: FilesEncrypted — s\nsince 2026-11-22"),
            "{}",
            note.text
        );
    }

    #[test]
    fn a_known_fingerprint_annotates_its_incident_never_declares() {
        let b = am(
            &format!(
                "{},{}",
                firing("aa", "FilesEncrypted", ""),
                resolved("aa", "FilesEncrypted")
            ),
            0,
        );
        let known = |fp: &str| (fp == "aa").then(|| ("inc-1".to_string(), Vec::new()));
        let steps = plan(&b, &rules(), &known, NOW);
        assert_eq!(steps.len(), 2);
        for s in &steps {
            assert!(
                matches!(s, Step::Annotate { target: Target::Incident(i), rule: None, .. } if i == "inc-1"),
                "{s:?}"
            );
        }
        let Step::Annotate { note, .. } = &steps[0] else {
            unreachable!()
        };
        assert!(note.text.starts_with("Alert firing again"));
        assert_eq!(
            note.occurred,
            Some(1_795_340_880_000),
            "a firing is timed at its startsAt"
        );
        let Step::Annotate { note, .. } = &steps[1] else {
            unreachable!()
        };
        assert_eq!(note.tags[2], "resolved");
        assert_eq!(
            note.occurred,
            Some(1_795_343_400_000),
            "a resolution happened at endsAt"
        );
    }

    /// An Alertmanager notification of alert `aa` in one state, with its own times.
    fn episode(status: &str, starts: &str, ends: &str) -> Batch {
        am(
            &format!(
                r#"{{"status":"{status}","labels":{{"alertname":"FilesEncrypted"}},"annotations":{{}},"startsAt":"{starts}","endsAt":"{ends}","fingerprint":"aa"}}"#
            ),
            0,
        )
    }

    #[test]
    fn fire_resolve_fire_resolve_sorts_by_the_alert_clock_and_repeats_are_idempotent() {
        const ZERO: &str = "0001-01-01T00:00:00Z";
        let fire1 = episode("firing", "2026-11-22T09:48:00Z", ZERO);
        let res1 = episode("resolved", "2026-11-22T09:48:00Z", "2026-11-22T10:30:00Z");
        let fire2 = episode("firing", "2026-11-22T10:32:00Z", ZERO);
        let res2 = episode("resolved", "2026-11-22T10:32:00Z", "2026-11-22T11:00:00Z");
        // As Alertmanager sends them: repeats of one state, and the first resolution delivered
        // late, after the re-fire (a retry).
        let arrivals = [&fire1, &fire1, &fire2, &res1, &fire2, &res1, &res2, &res2];
        let mut seen: Vec<Seen> = Vec::new();
        let mut written: Vec<(Status, Option<Millis>, String)> = Vec::new();
        let mut states = Vec::new();
        for b in arrivals {
            let known = |_: &str| Some(("inc-1".to_string(), seen.clone()));
            let steps = plan(b, &rules(), &known, NOW);
            match steps.as_slice() {
                [Step::Annotate { note, .. }] => {
                    let status = if note.tags.iter().any(|t| t == "resolved") {
                        Status::Resolved
                    } else {
                        Status::Firing
                    };
                    seen.push(Seen {
                        status,
                        at: note.occurred,
                    });
                    written.push((
                        status,
                        note.occurred,
                        note.text.lines().next().unwrap_or("").to_string(),
                    ));
                }
                [Step::Skip { why, .. }] => assert!(why.contains("a repeated notification"), "{why}"),
                other => panic!("{other:?}"),
            }
            states.push(alert_state(&seen));
        }
        // Four entries, one per change; none for the repeats.
        assert_eq!(written.len(), 4, "{written:?}");
        // On the timeline (sorted by occurred) they read in the order the alert lived them.
        let mut timeline = written.clone();
        timeline.sort_by_key(|(_, at, _)| *at);
        let t = |h: u32, m: u32| 1_795_305_600_000 + Millis::from(h * 3_600_000 + m * 60_000);
        assert_eq!(
            timeline.iter().map(|(s, at, _)| (*s, *at)).collect::<Vec<_>>(),
            vec![
                (Status::Firing, Some(t(9, 48))),
                (Status::Resolved, Some(t(10, 30))),
                (Status::Firing, Some(t(10, 32))),
                (Status::Resolved, Some(t(11, 0))),
            ]
        );
        assert!(timeline[2].2.starts_with("Alert firing again"), "{timeline:?}");
        // The late first resolution never makes the re-fired alert read as resolved.
        use Status::{Firing, Resolved};
        assert_eq!(
            states,
            [Firing, Firing, Firing, Firing, Firing, Firing, Resolved, Resolved].map(Some)
        );
    }

    #[test]
    fn one_group_one_incident() {
        let b = am(
            &format!(
                "{},{}",
                firing("aa", "FilesEncrypted", ""),
                firing("bb", "FilesEncrypted", "")
            ),
            0,
        );
        let steps = plan(&b, &rules(), &|_| None, NOW);
        assert!(matches!(steps[0], Step::Declare { .. }));
        assert!(
            matches!(
                &steps[1],
                Step::Annotate {
                    target: Target::Step(0),
                    ..
                }
            ),
            "{:?}",
            steps[1]
        );
        // A newcomer to a group whose incident exists joins it.
        let known = |fp: &str| (fp == "aa").then(|| ("inc-1".to_string(), Vec::new()));
        let b = am(
            &format!(
                "{},{}",
                firing("aa", "FilesEncrypted", ""),
                firing("cc", "FilesEncrypted", "")
            ),
            0,
        );
        let steps = plan(&b, &rules(), &known, NOW);
        assert!(matches!(&steps[1], Step::Annotate { target: Target::Incident(i), rule: Some(_), .. } if i == "inc-1"));
    }

    #[test]
    fn other_routes_and_skips() {
        let b = am(
            &[
                firing("i1", "CpuHigh", r#","severity":"info""#),
                firing("d1", "Slow", r#","team":"db""#),
                firing("t1", "FilesEncrypted2", r#","env":"test""#).replace("Files", "Xiles"),
                firing("n1", "Unknown", ""),
                resolved("r1", "FilesEncrypted"),
            ]
            .join(","),
            3,
        );
        let steps = plan(&b, &rules(), &|_| None, NOW);
        assert!(matches!(
            &steps[0],
            Step::Annotate {
                target: Target::NewestOpen,
                ..
            }
        ));
        assert!(matches!(&steps[1], Step::Annotate { target: Target::Named(n), .. } if n == "2026-11-22-db"));
        assert!(matches!(&steps[2], Step::Skip { why, .. } if why == "rule `tests` ignores it"));
        assert!(matches!(&steps[3], Step::Skip { why, .. } if why == "no rule matches its labels"));
        assert!(matches!(&steps[4], Step::Skip { why, .. } if why.starts_with("resolved, and no incident")));
        let Step::Annotate { note, .. } = &steps[0] else {
            unreachable!()
        };
        assert!(note.text.contains("left 3 more alert(s)"), "{}", note.text);
        assert!(note.tags.contains(&"truncated".to_string()));
    }

    #[test]
    fn implausible_start_times_are_not_used_and_said() {
        let b = am(
            &firing("aa", "FilesEncrypted", "").replace("2026-11-22T09:48:00Z", "2099-01-01T00:00:00Z"),
            0,
        );
        let steps = plan(&b, &rules(), &|_| None, NOW);
        let Step::Declare { occurred, note, .. } = &steps[0] else {
            panic!()
        };
        assert_eq!(*occurred, None);
        assert!(note.text.contains("its time is not used"), "{}", note.text);
    }

    #[test]
    fn fingerprint_tags_round_trip() {
        let b = am(&firing("aa", "FilesEncrypted", ""), 0);
        let n = note(&b.alerts[0], &b, false, NOW);
        assert_eq!(fingerprint_of(&crate::domain::tags::Tags::from(n.tags)), Some("aa"));
        assert_eq!(
            fingerprint_of(&["fingerprint:aa".into()]),
            None,
            "only alert entries count"
        );
    }

    proptest! {
        #[test]
        fn notes_are_clean_and_bounded(name in any::<String>(), summary in any::<String>()) {
            let doc = serde_json::json!({"title": name, "annotations": {"summary": summary, "x": "\u{1b}[2J"}});
            if let Ok((b, _)) = crate::ingest::alert::parse_document(doc) {
                let n = note(&b.alerts[0], &b, false, NOW);
                prop_assert!(n.text.len() <= MAX_NOTE + 6);
                prop_assert!(!n.text.chars().any(|c| c.is_control() && c != '\n'));
            }
        }
    }
}
