//! Notification deadlines: when each stage of each playbook deadline falls due, from the event the
//! rule names (declared, discovered, classified, materiality, or the first event of a kind), and
//! where each clock stands at a given moment: [`clocks`].
//!
//! All times are milliseconds since the Unix epoch, UTC ([`Millis`]). Each deadline's rule comes
//! from the playbook (`source`, e.g. "GDPR Art. 33(1)"); this module only counts. Nothing here
//! reads a clock: `now` is always passed in.

use chrono::{Datelike, Duration, Months, Weekday};
use serde::Serialize;

use super::event::ActionState;
use super::event::ItemState;
use super::playbook::{met_by_id, Deadline, MetBy, Playbook, Trigger, Within};
use super::sanitize::sanitize;
use super::state::IncidentState;
use super::time::{format_age, format_utc, to_datetime, Millis};

/// A running clock turns **amber** when a quarter of its window (start to due) or less is left.
pub const AMBER_DIVISOR: Millis = 4;
/// A running clock turns **red** when less than an hour is left — or, for a window shorter than
/// ten hours, less than a tenth of it (so a 4 h window is amber at 1 h left and red at 24 min).
pub const RED_MS: Millis = 3_600_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub deadline: String,
    pub name: String,
    pub source: String,
    pub stage: String,
    pub audience: String,
    /// `None` while the trigger has not happened yet.
    pub due: Option<Millis>,
    pub trigger: String,
}

/// When the trigger happened, if it has.
pub fn trigger_time(state: &IncidentState, trigger: &Trigger) -> Option<Millis> {
    let d = &state.derived;
    match trigger {
        Trigger::Declared => state.declared_at(),
        Trigger::Discovered => d.discovered,
        Trigger::Classified => d.classified,
        Trigger::MaterialityDetermined => d.materiality,
        Trigger::Event(kind) => d.first_of_kind.get(kind).copied(),
    }
}

/// The proposal shown to everyone when a record says something happened before the incident's
/// discovery time: "earliest evidence 09:48Z (note by jon) is before discovery 10:15Z — set
/// discovery to 09:48Z? moves: GDPR Art. 33(1), …". Only the commander accepts it (a
/// `DiscoverySet`); until then the clocks keep counting from the discovery time as it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiscoveryNudge {
    /// When the earliest record says it happened (ms, UTC).
    pub evidence: Millis,
    /// The record, in words: "note by jon".
    pub record: String,
    /// Its id.
    pub record_id: String,
    /// The discovery time the clocks use now.
    pub discovered: Millis,
    /// The rules (`source`) of the deadlines whose trigger is discovery.
    pub moves: Vec<String>,
}

impl DiscoveryNudge {
    /// One line, sanitised.
    pub fn text(&self) -> String {
        let (e, d) = (
            short_time(self.evidence, self.discovered),
            short_time(self.discovered, self.evidence),
        );
        let moves = if self.moves.is_empty() {
            "no deadline of the playbook starts at discovery".to_string()
        } else {
            format!("moves: {}", self.moves.join(", "))
        };
        sanitize(&format!(
            "earliest evidence {e} ({}) is before discovery {d} — set discovery to {e}? {moves}",
            self.record
        ))
    }
    /// The reason a `DiscoverySet` accepting it carries, prefilled.
    pub fn reason(&self) -> String {
        sanitize(&format!(
            "earliest evidence: {} at {}",
            self.record,
            format_utc(self.evidence)
        ))
    }
}

/// `09:48Z`, or `11-21 09:48Z` when `other` falls on another day.
pub fn short_time(t: Millis, other: Millis) -> String {
    let (a, b) = (to_datetime(t), to_datetime(other));
    if a.date_naive() == b.date_naive() {
        a.format("%H:%MZ").to_string()
    } else {
        a.format("%Y-%m-%d %H:%MZ").to_string()
    }
}

/// The proposal to move discovery back to the earliest evidence, if a record says something
/// happened before the discovery time the clocks use.
pub fn discovery_nudge(state: &IncidentState) -> Option<DiscoveryNudge> {
    let d = &state.derived;
    let ((evidence, e), discovered) = (state.earliest_evidence()?, d.discovered?);
    if evidence >= discovered {
        return None;
    }
    let mut moves: Vec<String> = Vec::new();
    if let Some(p) = state.playbook() {
        for dl in p.deadlines.iter().filter(|dl| dl.trigger == Trigger::Discovered) {
            let name = if dl.source.trim().is_empty() {
                &dl.name
            } else {
                &dl.source
            };
            if !moves.contains(name) {
                moves.push(name.clone());
            }
        }
    }
    Some(DiscoveryNudge {
        evidence,
        record: format!(
            "{} by {}",
            super::describe::kind_word(&e.body),
            super::identity::person_of(e.by())
        ),
        record_id: e.id.to_string(),
        discovered,
        moves,
    })
}

pub fn trigger_label(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Declared => "declared".into(),
        Trigger::Discovered => "discovery".into(),
        Trigger::Classified => "classification".into(),
        Trigger::MaterialityDetermined => "materiality".into(),
        Trigger::Event(k) => format!("first {k}"),
    }
}

/// `start + within`, counting business days as Monday to Friday (public holidays are not known).
pub fn add_within(start: Millis, within: Within) -> Option<Millis> {
    let t = to_datetime(start);
    // The numbers come from a playbook copy in the shared directory: never overflow, never loop long.
    let end = match within {
        Within::Hours(h) => t.checked_add_signed(Duration::hours(h as i64))?,
        Within::Days(d) => t.checked_add_signed(Duration::days(d as i64))?,
        Within::Months(m) => t.checked_add_months(Months::new(m))?,
        Within::BusinessDays(n) => {
            // Whole weeks at once, then day by day (at most four more working days).
            let mut d = t.checked_add_signed(Duration::weeks((n / 5) as i64))?;
            let mut left = n % 5;
            while left > 0 {
                d = d.checked_add_signed(Duration::days(1))?;
                if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
                    left -= 1;
                }
            }
            d
        }
    };
    Some(end.timestamp_millis())
}

fn stages(state: &IncidentState, d: &Deadline) -> Vec<Due> {
    let start = trigger_time(state, &d.trigger);
    d.stages
        .iter()
        .map(|s| Due {
            deadline: d.id.clone(),
            name: d.name.clone(),
            source: d.source.clone(),
            stage: s.label.clone(),
            audience: d.audience.clone(),
            due: start.and_then(|t| add_within(t, s.within)),
            trigger: trigger_label(&d.trigger),
        })
        .collect()
}

/// Every stage of every deadline, started ones first by due time.
pub fn all(state: &IncidentState, playbook: &Playbook) -> Vec<Due> {
    let mut v: Vec<Due> = playbook.deadlines.iter().flat_map(|d| stages(state, d)).collect();
    v.sort_by_key(|d| (d.due.is_none(), d.due));
    v
}

/// The next stage still ahead of `now` and not yet met or waived (the commander's "what is due
/// next"). Overdue stages are not "next": see [`clocks`] and [`Clock::is_overdue`].
pub fn next(state: &IncidentState, playbook: &Playbook, now: Millis) -> Option<Clock> {
    clocks(state, playbook, now)
        .into_iter()
        .filter(|c| {
            matches!(
                c.state,
                ClockState::Running { .. } | ClockState::Amber { .. } | ClockState::Red { .. }
            )
        })
        .min_by_key(|c| c.due)
}

/// Where one stage of one deadline stands at `now`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Clock {
    /// The deadline's id in the playbook.
    pub deadline: String,
    pub name: String,
    /// The rule it comes from, as the playbook says (e.g. "GDPR Art. 33(1)").
    pub source: String,
    pub stage: String,
    pub audience: String,
    /// What starts it, in words ("discovery", "classification", "first Resolved").
    pub trigger: String,
    /// When the trigger happened (ms, UTC); `None`: not started.
    pub start: Option<Millis>,
    /// Start plus the stage's `within` (ms, UTC); business days count Monday to Friday only.
    pub due: Option<Millis>,
    /// Whether the window counts business days (public holidays are not known).
    pub business_days: bool,
    /// What meets this stage, in words (`item re-notify-authorities done`, `status update
    /// external`, `action x done`); `None` when the playbook names nothing.
    pub met_by: Option<String>,
    pub state: ClockState,
}

/// The state of a clock. Met and waived come from the record (the playbook's `met_by`); the rest
/// from `now` and the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ClockState {
    /// The trigger has not happened.
    NotStarted,
    /// More than a quarter of the window left (and more than the red margin).
    Running { left_ms: Millis },
    /// A quarter of the window or less left ([`AMBER_DIVISOR`]).
    Amber { left_ms: Millis },
    /// Less than an hour left ([`RED_MS`]).
    Red { left_ms: Millis },
    /// Past due and neither met nor waived.
    Overdue { by_ms: Millis },
    /// Met by a recorded event: what (`item id-notify-insurer done`), when (ms, UTC), by whom;
    /// `late_ms` when it was met after the due time.
    Met {
        what: String,
        at: Millis,
        by: String,
        late_ms: Option<Millis>,
    },
    /// The meeting checklist item was skipped: the reason is its note.
    Waived {
        what: String,
        reason: String,
        at: Millis,
        by: String,
    },
}

impl Clock {
    pub fn is_overdue(&self) -> bool {
        matches!(self.state, ClockState::Overdue { .. })
    }

    /// Sort rank: overdue, red, amber, running, not started, met, waived.
    pub fn rank(&self) -> u8 {
        match self.state {
            ClockState::Overdue { .. } => 0,
            ClockState::Red { .. } => 1,
            ClockState::Amber { .. } => 2,
            ClockState::Running { .. } => 3,
            ClockState::NotStarted => 4,
            ClockState::Met { .. } => 5,
            ClockState::Waived { .. } => 6,
        }
    }

    /// One word for the state: `OVERDUE`, `RED`, `AMBER`, `running`, `not started`, `met`,
    /// `waived` (colour is never the only signal).
    pub fn label(&self) -> &'static str {
        match self.state {
            ClockState::Overdue { .. } => "OVERDUE",
            ClockState::Red { .. } => "RED",
            ClockState::Amber { .. } => "AMBER",
            ClockState::Running { .. } => "running",
            ClockState::NotStarted => "not started",
            ClockState::Met { late_ms: Some(_), .. } => "met LATE",
            ClockState::Met { .. } => "met",
            ClockState::Waived { .. } => "waived",
        }
    }

    /// The state in words, sanitised: `OVERDUE by 1d2h`, `due in 3h05m`, `met 2026-11-26T10:00:00Z
    /// by maya (item x done)`, `waived by maya: reason`, `not started (waits for classification)`.
    pub fn words(&self) -> String {
        let base = self.state_words();
        match (&self.state, &self.met_by) {
            (ClockState::Met { .. } | ClockState::Waived { .. }, _) | (_, None) => base,
            (_, Some(m)) => format!("{base}; met by: {}", sanitize(m)),
        }
    }

    /// [`Clock::words`] without "met by": for a view that shows what meets it on its own line.
    pub fn state_words(&self) -> String {
        match &self.state {
            ClockState::NotStarted => format!("not started (waits for {})", sanitize(&self.trigger)),
            ClockState::Running { left_ms } => format!("due in {}", format_age(*left_ms)),
            ClockState::Amber { left_ms } => format!("AMBER: due in {}", format_age(*left_ms)),
            ClockState::Red { left_ms } => format!("RED: due in {}", format_age(*left_ms)),
            ClockState::Overdue { by_ms } => format!("OVERDUE by {}", format_age(*by_ms)),
            ClockState::Met { what, at, by, late_ms } => {
                let late = late_ms
                    .map(|l| format!(", LATE by {}", format_age(l)))
                    .unwrap_or_default();
                format!("met {} by {} ({}){late}", format_utc(*at), sanitize(by), sanitize(what))
            }
            ClockState::Waived { what, reason, at, by } => format!(
                "waived {} by {} ({}): {}",
                format_utc(*at),
                sanitize(by),
                sanitize(what),
                sanitize(reason)
            ),
        }
    }
}

/// How a stage was met or waived, from the fold's registers.
fn outcome(state: &IncidentState, met_by: &MetBy, start: Option<Millis>) -> Option<ClockState> {
    let d = &state.derived;
    match met_by {
        MetBy::Item(id) => {
            let r = d.items.get(id)?;
            match r.value.state {
                ItemState::Done => Some(ClockState::Met {
                    what: format!("item {id} done"),
                    at: r.when,
                    by: r.by.clone(),
                    late_ms: None,
                }),
                ItemState::Skipped => Some(ClockState::Waived {
                    what: format!("item {id} skipped"),
                    reason: r
                        .value
                        .note
                        .clone()
                        .filter(|n| !n.trim().is_empty())
                        .unwrap_or_else(|| "no reason recorded".into()),
                    at: r.when,
                    by: r.by.clone(),
                }),
                ItemState::Open | ItemState::Blocked => None,
            }
        }
        MetBy::Action(id) => {
            let r = d.actions.get(id)?;
            (r.value.state == ActionState::Done).then(|| ClockState::Met {
                what: format!("action {id} done"),
                at: r.when,
                by: r.by.clone(),
                late_ms: None,
            })
        }
        MetBy::StatusUpdate(audience) => {
            // Only an update sent once the clock runs answers it.
            let start = start?;
            let r = d
                .status_updates
                .iter()
                .filter(|u| u.value.audience == *audience && u.when >= start)
                .min_by_key(|u| u.when)?;
            Some(ClockState::Met {
                what: met_by_id(met_by).replace(':', " "),
                at: r.when,
                by: r.by.clone(),
                late_ms: None,
            })
        }
    }
}

/// What meets a stage, in words: `item x done`, `action x done`, `status update external`.
pub fn met_by_words(m: &MetBy) -> String {
    match m {
        MetBy::Item(id) => format!("item {id} done"),
        MetBy::Action(id) => format!("action {id} done"),
        MetBy::StatusUpdate(_) => met_by_id(m).replace(':', " "),
    }
}

/// The state of a running clock from its window and `now` (all ms, UTC).
pub fn running_state(start: Millis, due: Millis, now: Millis) -> ClockState {
    let left = due.saturating_sub(now);
    if left < 0 {
        return ClockState::Overdue { by_ms: -left };
    }
    let window = due.saturating_sub(start).max(0);
    let red = if window < 10 * RED_MS { window / 10 } else { RED_MS };
    // Due this very millisecond is red whatever the window.
    if left < red.max(1) {
        ClockState::Red { left_ms: left }
    } else if left <= window / AMBER_DIVISOR {
        ClockState::Amber { left_ms: left }
    } else {
        ClockState::Running { left_ms: left }
    }
}

fn deadline_clocks(state: &IncidentState, d: &Deadline, now: Millis) -> Vec<Clock> {
    let start = trigger_time(state, &d.trigger);
    d.stages
        .iter()
        .map(|s| {
            let due = start.and_then(|t| add_within(t, s.within));
            let meets = s.met_by.as_ref().or(d.met_by.as_ref());
            let met = meets.and_then(|m| outcome(state, m, start));
            let state = match (met, start, due) {
                (Some(ClockState::Met { what, at, by, .. }), _, due) => ClockState::Met {
                    late_ms: due.filter(|t| at > *t).map(|t| at - t),
                    what,
                    at,
                    by,
                },
                (Some(other), _, _) => other,
                (None, Some(start), Some(due)) => running_state(start, due, now),
                _ => ClockState::NotStarted,
            };
            Clock {
                deadline: d.id.clone(),
                name: d.name.clone(),
                source: d.source.clone(),
                stage: s.label.clone(),
                audience: d.audience.clone(),
                trigger: trigger_label(&d.trigger),
                start,
                due,
                business_days: matches!(s.within, Within::BusinessDays(_)),
                met_by: meets.map(met_by_words),
                state,
            }
        })
        .collect()
}

/// Due times (ms, UTC) of the stages that have started and are neither met nor waived: whether
/// each is overdue depends only on the clock, so a summary (the board) can keep these and compare
/// them with `now` when it draws.
pub fn open_dues(state: &IncidentState, playbook: &Playbook) -> Vec<Millis> {
    clocks(state, playbook, Millis::MIN)
        .into_iter()
        .filter(|c| {
            !matches!(
                c.state,
                ClockState::NotStarted | ClockState::Met { .. } | ClockState::Waived { .. }
            )
        })
        .filter_map(|c| c.due)
        .collect()
}

/// Every stage of every deadline of the playbook at `now` (ms, UTC): overdue first (the most
/// overdue first), then red, amber, running by due time, not started, met, waived. Nothing is
/// ever dropped: a missed deadline stays listed as OVERDUE until it is met or waived.
pub fn clocks(state: &IncidentState, playbook: &Playbook, now: Millis) -> Vec<Clock> {
    let mut v: Vec<Clock> = playbook
        .deadlines
        .iter()
        .flat_map(|d| deadline_clocks(state, d, now))
        .collect();
    v.sort_by_key(|c| (c.rank(), c.due.is_none(), c.due));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::format_utc;

    #[test]
    fn business_days_skip_weekends() {
        // Thursday 2026-11-26 10:00Z + 4 business days = Wednesday 2026-12-02 10:00Z
        let thu = chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .timestamp_millis();
        let at = |w| add_within(thu, w).map(format_utc);
        assert_eq!(at(Within::BusinessDays(4)).as_deref(), Some("2026-12-02T10:00:00Z"));
        assert_eq!(at(Within::BusinessDays(10)).as_deref(), Some("2026-12-10T10:00:00Z"));
        assert_eq!(at(Within::Hours(72)).as_deref(), Some("2026-11-29T10:00:00Z"));
        assert_eq!(at(Within::Months(1)).as_deref(), Some("2026-12-26T10:00:00Z"));
        // Table: (start, business days, due), all UTC. Weekends are skipped wherever they fall.
        let cases = [
            ("2026-11-27T15:00:00Z", 1, "2026-11-30T15:00:00Z"), // Friday + 1 = Monday
            ("2026-11-27T15:00:00Z", 5, "2026-12-04T15:00:00Z"), // a whole week
            ("2026-11-28T09:00:00Z", 1, "2026-11-30T09:00:00Z"), // from Saturday: Monday
            ("2026-11-29T23:30:00Z", 4, "2026-12-03T23:30:00Z"), // from Sunday: Thursday
            ("2026-11-26T10:00:00Z", 0, "2026-11-26T10:00:00Z"), // nothing to add
        ];
        for (start, n, want) in cases {
            let t = chrono::DateTime::parse_from_rfc3339(start).unwrap().timestamp_millis();
            assert_eq!(
                add_within(t, Within::BusinessDays(n)).map(format_utc).as_deref(),
                Some(want),
                "{start} + {n} business days"
            );
        }
        // Absurd values from an edited playbook copy neither overflow nor loop.
        assert_eq!(add_within(thu, Within::Days(4_000_000_000)), None);
        assert!(add_within(thu, Within::BusinessDays(4_000_000_000)).is_none());
    }

    use crate::domain::event::{ActionSet, ChecklistSet, Classified, Declared, Event, Mode, Occurred, StatusUpdate};
    use crate::domain::playbook::{Audience, Item, Phases, Stage};
    use crate::domain::Body;

    const H: Millis = 3_600_000;

    /// Thursday 2026-11-26T10:00:00Z, in ms.
    fn thu() -> Millis {
        chrono::DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
            .unwrap()
            .timestamp_millis()
    }

    fn ev(seq: u64, at: Millis, body: impl Into<Body>) -> Event {
        Event {
            id: format!("e{seq:03}").into(),
            at,
            wall: at,
            occurred: Occurred::NONE,
            log: "maya@soc".into(),
            seq,
            body: body.into(),
        }
    }

    fn deadline(id: &str, trigger: Trigger, within: Within, met_by: Option<MetBy>) -> Deadline {
        Deadline {
            id: id.into(),
            name: id.into(),
            source: "test rule".into(),
            trigger,
            stages: vec![Stage {
                label: "notify".into(),
                within,
                met_by: None,
            }],
            audience: "regulator".into(),
            met_by,
        }
    }

    fn playbook(deadlines: Vec<Deadline>) -> Playbook {
        let item = |id: &str| Item {
            id: id.into(),
            text: id.into(),
            required: true,
            role: None,
        };
        Playbook {
            id: "t".into(),
            title: "t".into(),
            version: "1".into(),
            description: String::new(),
            base: None,
            partial: false,
            disclaimer: String::new(),
            severity_guidance: vec![],
            roles: vec![],
            phases: Phases {
                identification: vec![item("notify-insurer"), item("classify")],
                ..Phases::default()
            },
            actions: vec![],
            templates: vec![],
            channel: None,
            deadlines,
            update_cadence: vec![],
            questions: vec![],
        }
    }

    fn state(pb: &Playbook, events: Vec<Event>) -> IncidentState {
        let hash = pb.content_hash();
        let mut all = vec![ev(
            1,
            thu(),
            Declared {
                incident: "inc".into(),
                title: "t".into(),
                severity: 1,
                mode: Mode::Real,
                playbook: "t".into(),
                playbook_version: "1".into(),
                playbook_hash: hash.clone(),
                commander: "maya".into(),
                require_signatures: false,
            },
        )];
        all.extend(events);
        IncidentState::fold("inc", vec![(hash, pb.clone())], all)
    }

    fn item(seq: u64, at: Millis, id: &str, state: ItemState, note: Option<&str>) -> Event {
        ev(
            seq,
            at,
            ChecklistSet {
                item: id.into(),
                state,
                note: note.map(String::from),
            },
        )
    }

    #[test]
    fn hook_crossings_by_level_with_their_times_and_lateness() {
        use crate::hooks::deadline::{crossings, payload, Level};
        let pb = playbook(vec![deadline("gdpr", Trigger::Declared, Within::Hours(72), None)]);
        let st = state(&pb, vec![]);
        let levels = |now: Millis| -> Vec<Level> { crossings(&st, &pb, thu() + now).iter().map(|c| c.level).collect() };
        assert!(levels(50 * H).is_empty(), "running: nothing crossed");
        assert_eq!(levels(55 * H), [Level::Amber]);
        assert_eq!(levels(72 * H), [Level::Amber], "red is past amber");
        assert_eq!(levels(73 * H), [Level::Amber, Level::Overdue]);
        let over = crossings(&st, &pb, thu() + 73 * H).remove(1);
        assert_eq!((over.due, over.crossed), (thu() + 72 * H, thu() + 72 * H));
        assert_eq!(over.key("inc"), "inc/gdpr/notify/overdue");
        let amber = crossings(&st, &pb, thu() + 55 * H).remove(0);
        assert_eq!(amber.crossed, thu() + 54 * H, "the last quarter of 72 h starts at 54 h");
        // Fired within a minute of crossing: on time; an hour later (nothing was running): late.
        let v = payload(
            &over,
            "inc",
            "T\u{1b}[2J",
            Some(Mode::Exercise),
            thu() + 72 * H + 30_000,
        );
        assert_eq!(v["hook"], "DeadlineOverdue");
        assert_eq!(v["level"], "overdue");
        assert_eq!(v["due"], "2026-11-29T10:00:00Z");
        assert_eq!(v["source"], "test rule");
        assert_eq!(v["mode"], "EXERCISE");
        assert_eq!(v["title"], "T");
        assert_eq!(v["late"], false);
        assert_eq!(payload(&over, "inc", "T", None, thu() + 73 * H)["late"], true);
        // Met or resolved: nothing.
        let resolved = crate::domain::event::Resolved {
            summary: None,
            override_open: vec![],
            reason: None,
        };
        let met = state(&pb, vec![ev(2, thu() + H, resolved)]);
        assert!(crossings(&met, &pb, thu() + 80 * H).is_empty());
    }

    #[test]
    fn running_amber_red_and_overdue_by_the_window() {
        // (start, due, now) in hours from zero, expected state
        let cases: &[(Millis, Millis, Millis, &str)] = &[
            (0, 72, 1, "running"),
            (0, 72, 53, "running"), // 19 h left of 72: more than a quarter (18 h)
            (0, 72, 55, "AMBER"),   // 17 h left: less than a quarter
            (0, 72, 71, "AMBER"),   // exactly one hour left is not yet red
            (0, 4, 3, "AMBER"),     // 1 h left of 4: red only under a tenth (24 min)
            (0, 72, 72, "RED"),     // due now: nothing left
            (0, 72, 73, "OVERDUE"), // an hour late
            (10, 10, 10, "RED"),    // an empty window is never amber before it is red
        ];
        for &(start, due, now, want) in cases {
            let state = running_state(start * H, due * H, now * H);
            let c = Clock {
                deadline: String::new(),
                name: String::new(),
                source: String::new(),
                stage: String::new(),
                audience: String::new(),
                trigger: String::new(),
                start: Some(start * H),
                due: Some(due * H),
                business_days: false,
                met_by: None,
                state,
            };
            assert_eq!(c.label(), want, "start {start} due {due} now {now}");
        }
        assert_eq!(running_state(0, 72 * H, 73 * H), ClockState::Overdue { by_ms: H });
        assert_eq!(
            running_state(0, 4 * H, 4 * H - 20 * 60_000),
            ClockState::Red { left_ms: 20 * 60_000 }
        );
    }

    #[test]
    fn a_missed_deadline_stays_listed_as_overdue_and_leads() {
        let pb = playbook(vec![
            deadline("later", Trigger::Declared, Within::Days(30), None),
            deadline("gdpr", Trigger::Declared, Within::Hours(72), None),
            deadline("sec", Trigger::Classified, Within::BusinessDays(4), None),
        ]);
        let s = state(&pb, vec![]);
        let now = thu() + 4 * 24 * H;
        let c = clocks(&s, &pb, now);
        assert_eq!(c.len(), 3, "every deadline is listed");
        assert_eq!(c[0].deadline, "gdpr");
        assert_eq!(c[0].words(), "OVERDUE by 1d0h");
        assert_eq!(c[1].label(), "running");
        assert_eq!(c[2].words(), "not started (waits for classification)");
        // The next one ahead is the running one, never the overdue one.
        assert_eq!(next(&s, &pb, now).map(|c| c.deadline), Some("later".to_string()));
    }

    #[test]
    fn business_days_over_a_weekend_from_the_trigger() {
        let pb = playbook(vec![deadline(
            "sec",
            Trigger::Classified,
            Within::BusinessDays(4),
            None,
        )]);
        // Classified Friday 2026-11-27 15:00Z: 4 business days later is Thursday 2026-12-03 15:00Z.
        let fri = thu() + 29 * H;
        let s = state(&pb, vec![ev(2, fri, Classified { note: None })]);
        let c = &clocks(&s, &pb, fri + H)[0];
        assert!(c.business_days);
        assert_eq!(c.start, Some(fri));
        assert_eq!(c.due.map(format_utc).as_deref(), Some("2026-12-03T15:00:00Z"));
        // Monday: still running (a calendar count would be nearly done).
        let mon = fri + 3 * 24 * H;
        assert_eq!(clocks(&s, &pb, mon)[0].label(), "running");
        assert_eq!(clocks(&s, &pb, fri + 6 * 24 * H + H)[0].label(), "OVERDUE");
    }

    #[test]
    fn met_by_item_action_or_update_and_waived_by_a_skip() {
        let update = |seq, at, audience| {
            ev(
                seq,
                at,
                StatusUpdate {
                    audience,
                    text: "x".into(),
                },
            )
        };
        let pb = {
            let mut pb = playbook(vec![
                deadline(
                    "insurer",
                    Trigger::Declared,
                    Within::Hours(24),
                    Some(MetBy::Item("notify-insurer".into())),
                ),
                deadline(
                    "late",
                    Trigger::Declared,
                    Within::Hours(1),
                    Some(MetBy::Item("classify".into())),
                ),
                deadline(
                    "customers",
                    Trigger::Declared,
                    Within::Hours(24),
                    Some(MetBy::StatusUpdate(Audience::External)),
                ),
                deadline(
                    "act",
                    Trigger::Declared,
                    Within::Hours(24),
                    Some(MetBy::Action("cut".into())),
                ),
            ]);
            pb.actions.push(crate::domain::playbook::Action {
                id: "cut".into(),
                title: "cut".into(),
                why: "w".into(),
                term: crate::domain::playbook::Term::Short,
                approval: crate::domain::playbook::Approval::None,
                role: None,
                command: None,
                rollback: None,
                params: vec![],
            });
            pb
        };
        let t = thu();
        let events = vec![
            item(2, t + H / 2, "notify-insurer", ItemState::Done, None),
            item(3, t + 3 * H, "classify", ItemState::Done, None),
            update(4, t + H, Audience::Internal),
            ev(
                5,
                t + 2 * H,
                ActionSet {
                    action: "cut".into(),
                    state: ActionState::Done,
                    note: None,
                },
            ),
        ];
        let s = state(&pb, events.clone());
        let by_id = |s: &IncidentState, id: &str| {
            clocks(s, &pb, t + 5 * H)
                .into_iter()
                .find(|c| c.deadline == id)
                .unwrap()
        };
        assert_eq!(
            by_id(&s, "insurer").words(),
            "met 2026-11-26T10:30:00Z by maya@soc (item notify-insurer done)"
        );
        assert_eq!(by_id(&s, "late").label(), "met LATE");
        assert!(
            by_id(&s, "late").words().ends_with("LATE by 2h00m"),
            "{}",
            by_id(&s, "late").words()
        );
        assert_eq!(by_id(&s, "act").label(), "met");
        // An internal update does not meet an external deadline; an external one does.
        assert_eq!(by_id(&s, "customers").label(), "running");
        let mut more = events.clone();
        more.push(update(6, t + 4 * H, Audience::External));
        let s2 = state(&pb, more);
        assert_eq!(
            by_id(&s2, "customers").words(),
            "met 2026-11-26T14:00:00Z by maya@soc (status-update external)"
        );
        // Skipping the item with a note waives it, with the reason.
        let mut skipped = events.clone();
        skipped.push(item(
            7,
            t + 4 * H,
            "notify-insurer",
            ItemState::Skipped,
            Some("no cyber policy in force"),
        ));
        let s3 = state(&pb, skipped);
        let w = by_id(&s3, "insurer");
        assert_eq!(w.label(), "waived");
        assert!(w.words().ends_with(": no cyber policy in force"), "{}", w.words());
        // Reopening the item starts the clock again (here, already overdue).
        let mut reopened = events;
        reopened.push(item(8, t + 4 * H, "notify-insurer", ItemState::Open, None));
        let s4 = state(&pb, reopened);
        assert_eq!(clocks(&s4, &pb, t + 25 * H)[0].deadline, "insurer");
        assert_eq!(clocks(&s4, &pb, t + 25 * H)[0].label(), "OVERDUE");
        // Met and waived sort after running ones.
        assert_eq!(clocks(&s3, &pb, t + 5 * H).last().map(|c| c.label()), Some("waived"));
    }
}
