//! Notification deadlines: when each stage of each playbook deadline falls due, from the event the
//! rule names (declared, discovered, classified, materiality, or the first event of a kind).

use chrono::{Datelike, Duration, Months, Weekday};

use super::playbook::{Deadline, Playbook, Trigger, Within};
use super::state::IncidentState;
use super::time::{to_datetime, Millis};

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

/// The next stage still ahead of `now` (the commander's "what is due next").
pub fn next(state: &IncidentState, playbook: &Playbook, now: Millis) -> Option<Due> {
    all(state, playbook)
        .into_iter()
        .find(|d| d.due.is_some_and(|t| t >= now))
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
        // Absurd values from an edited playbook copy neither overflow nor loop.
        assert_eq!(add_within(thu, Within::Days(4_000_000_000)), None);
        assert!(add_within(thu, Within::BusinessDays(4_000_000_000)).is_none());
    }
}
