//! The console's own sync rounds: a round's outcome updates the status the header shows, and a
//! change between working and failing is said once in the footer (and kept in the message log).

use super::Model;
use crate::domain::time::Millis;
use crate::sync::status;

/// Take in a round that ended at `at`.
pub fn synced(m: &mut Model, at: Millis, error: Option<String>, warnings: Vec<String>) {
    let Some(live) = m.sync.as_mut() else { return };
    let was_failing = live.failing();
    live.record(at, error);
    live.warnings = warnings;
    let remote = live.remote.clone();
    match (&live.last_error, was_failing) {
        (Some(e), false) => {
            let why = status::reason(e);
            m.flash(
                format!("sync with {remote} failed: {why}; it is tried again each round (! for details)"),
                true,
            );
        }
        (None, true) => m.flash(format!("sync with {remote} works again"), false),
        _ => {}
    }
}

/// Take in the status file a `warroom sync` of this install keeps; a console that runs its own
/// rounds keeps its own account.
pub fn status_file(m: &mut Model, st: Option<status::Status>) {
    if m.sync.as_ref().is_some_and(|l| l.own) {
        return;
    }
    m.sync = st.as_ref().map(status::Live::from_status);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::status::Live;
    use crate::tui::keymap::Keymap;

    fn model() -> Model {
        let mut m = Model::new("alice@a", Keymap::default(), "/srv", 0);
        m.sync = Some(Live::new("origin", 5_000));
        m
    }

    #[test]
    fn a_change_between_working_and_failing_is_said_once() {
        let mut m = model();
        synced(&mut m, 1_000, None, Vec::new());
        // Working is said by the header alone (a footer message would redraw for its seconds).
        assert_eq!(m.flash, None);
        synced(&mut m, 6_000, None, Vec::new());
        synced(
            &mut m,
            11_000,
            Some("push to origin failed: ! [rejected]".into()),
            Vec::new(),
        );
        synced(
            &mut m,
            16_000,
            Some("push to origin failed: ! [rejected]".into()),
            Vec::new(),
        );
        synced(&mut m, 21_000, None, Vec::new());
        let said: Vec<(&str, bool)> = m.messages.iter().map(|f| (f.text.as_str(), f.error)).collect();
        assert_eq!(
            said,
            vec![
                (
                    "sync with origin failed: push rejected; it is tried again each round (! for details)",
                    true
                ),
                ("sync with origin works again", false),
            ]
        );
        let live = m.sync.as_ref().expect("sync");
        assert_eq!((live.last_success, live.failing_since), (Some(21_000), None));
    }

    #[test]
    fn a_loop_beside_is_shown_unless_the_console_runs_its_own_rounds() {
        let st = status::Status {
            dir: "/srv".into(),
            remote: "origin".into(),
            last_attempt: 5_000,
            last_success: Some(5_000),
            last_error: None,
        };
        let mut plain = Model::new("alice@a", Keymap::default(), "/srv", 0);
        status_file(&mut plain, Some(st.clone()));
        assert_eq!(
            plain.sync.as_ref().map(|l| (l.own, l.last_success)),
            Some((false, Some(5_000)))
        );
        status_file(&mut plain, None);
        assert!(plain.sync.is_none());
        let mut own = model();
        status_file(&mut own, Some(st));
        assert_eq!(own.sync, Some(Live::new("origin", 5_000)));
    }

    #[test]
    fn a_console_without_sync_ignores_rounds() {
        let mut m = Model::new("alice@a", Keymap::default(), "/srv", 0);
        synced(&mut m, 1_000, Some("boom".into()), Vec::new());
        assert!(m.sync.is_none() && m.messages.is_empty());
    }
}
