//! `warroom report`: metrics over many incidents. Pure: rows are computed from folded states at
//! an injected `now`, then summarised.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::deadline::{self, ClockState};
use crate::domain::event::Mode;
use crate::domain::metrics::{self, format_duration};
use crate::domain::sanitize::sanitize;
use crate::domain::time::{format_utc, Millis};
use crate::domain::IncidentState;

/// One real incident's part of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    pub severity: Option<u8>,
    pub playbook: String,
    pub status: String,
    pub declared: Millis,
    pub time_to_contain_ms: Option<Millis>,
    pub time_to_resolve_ms: Option<Millis>,
    /// Deadline stages missed: overdue now, or met late (`name — stage`).
    pub missed: Vec<String>,
}

/// Why an incident is left out of the report, if it is: exercises, demos, duplicates and
/// incidents whose declaration has not synced.
pub fn excluded(s: &IncidentState) -> Option<&'static str> {
    match s.mode() {
        None => Some("syncing"),
        Some(Mode::Exercise) => Some("exercise"),
        Some(Mode::Demo) => Some("demo"),
        Some(Mode::Real) if s.derived.duplicate_of.is_some() => Some("duplicate"),
        Some(Mode::Real) => None,
    }
}

/// The row of a real incident at `now`; `None` for one [`excluded`].
pub fn row(id: &str, s: &IncidentState, now: Millis) -> Option<Row> {
    if excluded(s).is_some() {
        return None;
    }
    let m = metrics::metrics(s, now);
    let missed = s
        .playbook()
        .map(|pb| deadline::clocks(s, pb, now))
        .unwrap_or_default()
        .into_iter()
        .filter(|c| {
            matches!(
                c.state,
                ClockState::Overdue { .. } | ClockState::Met { late_ms: Some(_), .. }
            )
        })
        .map(|c| sanitize(&format!("{} — {} ({})", c.name, c.stage, c.label())))
        .collect();
    let d = &s.derived;
    Some(Row {
        id: sanitize(id),
        title: sanitize(s.title()),
        severity: s.severity(),
        playbook: d.declared.as_ref().map_or("?".into(), |r| sanitize(&r.value.playbook)),
        status: super::review::status_word(s).to_string(),
        declared: s.declared_at()?,
        time_to_contain_ms: m.time_to_contain.took(),
        time_to_resolve_ms: m.time_to_resolve.took(),
        missed,
    })
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Median {
    pub ms: Option<Millis>,
    pub words: String,
    /// How many incidents it is the median of (those that reached it).
    pub of: usize,
}

fn median_of(v: Vec<Millis>) -> Median {
    let of = v.len();
    let ms = metrics::median(v);
    Median {
        ms,
        words: ms.map_or("-".into(), format_duration),
        of,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub since: Option<String>,
    pub as_of: String,
    pub incidents: usize,
    pub open: usize,
    pub by_severity: BTreeMap<String, usize>,
    pub by_playbook: BTreeMap<String, usize>,
    pub median_time_to_contain: Median,
    pub median_time_to_resolve: Median,
    pub deadlines_missed: usize,
    /// `incident: deadline — stage (state)` for each missed stage.
    pub missed: Vec<String>,
    /// Left out, by reason (exercise, demo, duplicate, syncing, before --since).
    pub excluded: BTreeMap<String, usize>,
    pub rows: Vec<Row>,
}

/// Summarise the rows declared at or after `since`; `excluded` counts what was left out earlier.
pub fn summarize(rows: Vec<Row>, since: Option<Millis>, mut excluded: BTreeMap<String, usize>, now: Millis) -> Summary {
    let (rows, early): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| since.is_none_or(|t| r.declared >= t));
    if !early.is_empty() {
        excluded.insert("before --since".into(), early.len());
    }
    let mut by_severity = BTreeMap::new();
    let mut by_playbook = BTreeMap::new();
    for r in &rows {
        *by_severity
            .entry(r.severity.map_or("SEV?".into(), |s| format!("SEV{s}")))
            .or_insert(0) += 1;
        *by_playbook.entry(r.playbook.clone()).or_insert(0) += 1;
    }
    let missed: Vec<String> = rows
        .iter()
        .flat_map(|r| r.missed.iter().map(move |m| format!("{}: {m}", r.id)))
        .collect();
    Summary {
        since: since.map(format_utc),
        as_of: format_utc(now),
        incidents: rows.len(),
        open: rows.iter().filter(|r| r.status == "open").count(),
        by_severity,
        by_playbook,
        median_time_to_contain: median_of(rows.iter().filter_map(|r| r.time_to_contain_ms).collect()),
        median_time_to_resolve: median_of(rows.iter().filter_map(|r| r.time_to_resolve_ms).collect()),
        deadlines_missed: missed.len(),
        missed,
        excluded,
        rows,
    }
}

/// The report as a plain-text table for a terminal.
pub fn text(s: &Summary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} incident(s){}, as of {} ({} open)",
        s.incidents,
        s.since
            .as_ref()
            .map(|t| format!(" declared since {t}"))
            .unwrap_or_default(),
        s.as_of,
        s.open
    );
    if !s.excluded.is_empty() {
        let parts: Vec<String> = s.excluded.iter().map(|(k, n)| format!("{n} {k}")).collect();
        let _ = writeln!(o, "not counted: {}", parts.join(", "));
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "median time to contain  {:>12}  (of {} contained)",
        s.median_time_to_contain.words, s.median_time_to_contain.of
    );
    let _ = writeln!(
        o,
        "median time to resolve  {:>12}  (of {} resolved)",
        s.median_time_to_resolve.words, s.median_time_to_resolve.of
    );
    let _ = writeln!(o, "deadlines missed        {:>12}", s.deadlines_missed);
    let _ = writeln!(o, "\nBY SEVERITY");
    for (k, n) in &s.by_severity {
        let _ = writeln!(o, "  {k:<8} {n:>4}");
    }
    let _ = writeln!(o, "\nBY PLAYBOOK");
    for (k, n) in &s.by_playbook {
        let _ = writeln!(o, "  {k:<28} {n:>4}");
    }
    if !s.missed.is_empty() {
        let _ = writeln!(o, "\nMISSED DEADLINES");
        for m in &s.missed {
            let _ = writeln!(o, "  {m}");
        }
    }
    if !s.rows.is_empty() {
        let id_w = s.rows.iter().map(|r| r.id.chars().count()).max().unwrap_or(2).max(2);
        let _ = writeln!(
            o,
            "\n{:<id_w$} {:<5} {:<22} {:<9} {:>12} {:>12} {:>6}",
            "ID", "SEV", "PLAYBOOK", "STATUS", "CONTAIN", "RESOLVE", "MISSED"
        );
        for r in &s.rows {
            let _ = writeln!(
                o,
                "{:<id_w$} {:<5} {:<22} {:<9} {:>12} {:>12} {:>6}",
                r.id,
                r.severity.map_or("SEV?".into(), |s| format!("SEV{s}")),
                r.playbook,
                r.status,
                r.time_to_contain_ms.map_or("-".into(), format_duration),
                r.time_to_resolve_ms.map_or("-".into(), format_duration),
                r.missed.len()
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: Millis = 3_600_000;

    fn r(
        id: &str,
        sev: u8,
        pb: &str,
        declared: Millis,
        contain: Option<Millis>,
        resolve: Option<Millis>,
        missed: usize,
    ) -> Row {
        Row {
            id: id.into(),
            title: id.into(),
            severity: Some(sev),
            playbook: pb.into(),
            status: if resolve.is_some() { "resolved" } else { "open" }.into(),
            declared,
            time_to_contain_ms: contain,
            time_to_resolve_ms: resolve,
            missed: (0..missed).map(|i| format!("d{i}")).collect(),
        }
    }

    #[test]
    fn counts_medians_and_since() {
        let rows = vec![
            r("a", 1, "ransomware", 0, Some(H), Some(10 * H), 1),
            r("b", 2, "ransomware", 10 * H, Some(3 * H), Some(20 * H), 0),
            r("c", 2, "phishing", 20 * H, Some(2 * H), None, 2),
            r("d", 3, "ddos", 30 * H, None, None, 0),
        ];
        let excluded = BTreeMap::from([("exercise".to_string(), 2)]);
        let s = summarize(rows.clone(), None, excluded.clone(), 40 * H);
        assert_eq!(s.incidents, 4);
        assert_eq!(s.open, 2);
        assert_eq!(s.by_severity["SEV2"], 2);
        assert_eq!(s.by_playbook["ransomware"], 2);
        assert_eq!(s.median_time_to_contain.ms, Some(2 * H));
        assert_eq!(s.median_time_to_contain.of, 3);
        assert_eq!(s.median_time_to_resolve.ms, Some(15 * H));
        assert_eq!(s.deadlines_missed, 3);
        assert_eq!(s.missed[0], "a: d0");
        let t = text(&s);
        assert!(t.contains("not counted: 2 exercise"), "{t}");
        assert!(t.contains("median time to resolve       15h 00m"), "{t}");
        // --since leaves the early ones out and says so.
        let s = summarize(rows, Some(15 * H), excluded, 40 * H);
        assert_eq!(s.incidents, 2);
        assert_eq!(s.excluded["before --since"], 2);
        assert_eq!(s.median_time_to_resolve.ms, None);
    }
}
