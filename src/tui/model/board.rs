//! The board: every incident in the shared directory, filtered; its keys.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Active,
    Resolved,
    Archived,
    Syncing,
    /// Declared without a signature that counts where one is required: nothing applied.
    Unsigned,
    Vanished,
}

/// One incident on the board.
#[derive(Debug, Clone, PartialEq)]
pub struct BoardRow {
    pub id: String,
    pub title: String,
    pub severity: Option<u8>,
    pub phase: Phase,
    pub commander: Option<String>,
    pub declared_at: Option<Millis>,
    /// When it was resolved (its age stops there).
    pub resolved_at: Option<Millis>,
    pub last_update: Option<(Millis, String)>,
    pub mode: Option<Mode>,
    pub status: RowStatus,
    pub problems: usize,
    /// The playbook the incident runs: id and version.
    pub playbook: Option<(String, String)>,
    /// The incident this one duplicates, if it says so.
    pub duplicate_of: Option<String>,
    /// Due times (ms, UTC) of deadline stages running and neither met nor waived: those before
    /// `now` are overdue (see [`crate::domain::deadline::open_dues`]).
    pub open_dues: Vec<Millis>,
}

impl BoardRow {
    pub fn from_view(id: &str, v: &View) -> BoardRow {
        BoardRow::from_summary(&crate::store::summary::Summary::of(id, v))
    }

    /// The row of an incident's summary (what the board shows is exactly what a fold shows).
    pub fn from_summary(s: &crate::store::summary::Summary) -> BoardRow {
        BoardRow {
            id: s.id.clone(),
            title: s.title.clone(),
            severity: s.severity,
            phase: s.phase,
            commander: s.commander.clone(),
            declared_at: s.declared_at,
            resolved_at: s.resolved_at,
            last_update: s.last_update.clone(),
            mode: s.mode,
            status: if s.unsigned {
                RowStatus::Unsigned
            } else if s.syncing {
                RowStatus::Syncing
            } else if s.archived {
                RowStatus::Archived
            } else if s.resolved {
                RowStatus::Resolved
            } else {
                RowStatus::Active
            },
            problems: s.problems,
            playbook: s.playbook.clone(),
            duplicate_of: s.duplicate_of.clone(),
            open_dues: s.open_dues.clone(),
        }
    }

    /// How many deadline stages are overdue at `now` (ms, UTC).
    pub fn overdue(&self, now: Millis) -> usize {
        if self.status != RowStatus::Active {
            return 0;
        }
        self.open_dues.iter().filter(|t| **t < now).count()
    }

    /// The library's version of this row's playbook, if it is newer than the one the incident runs.
    pub fn newer_in_library<'a>(&self, library: &'a BTreeMap<String, String>) -> Option<&'a str> {
        let (id, version) = self.playbook.as_ref()?;
        let lib = library.get(id)?;
        (version_key(lib) > version_key(version)).then_some(lib.as_str())
    }
}

/// `1.10.0` > `1.9.2`: numeric parts compared as numbers.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(['.', '-']).map(|p| p.parse().unwrap_or(0)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoardFilter {
    Active,
    Exercises,
    Archived,
}

impl BoardFilter {
    pub const ALL: [BoardFilter; 3] = [BoardFilter::Active, BoardFilter::Exercises, BoardFilter::Archived];
    pub fn label(self) -> &'static str {
        match self {
            BoardFilter::Active => "Active",
            BoardFilter::Exercises => "Exercises",
            BoardFilter::Archived => "Archived",
        }
    }
    /// Whether the tab lists this row; `demo` (while `warroom demo` runs) lists DEMO incidents
    /// under Active, where a newcomer looks first.
    pub fn shows(self, r: &BoardRow, demo: bool) -> bool {
        let exercise = match r.mode {
            Some(Mode::Exercise) => true,
            Some(Mode::Demo) => !demo,
            _ => false,
        };
        match self {
            BoardFilter::Active => !exercise && !matches!(r.status, RowStatus::Archived),
            BoardFilter::Exercises => exercise && !matches!(r.status, RowStatus::Archived),
            BoardFilter::Archived => matches!(r.status, RowStatus::Archived),
        }
    }
}

pub(super) fn board_action(m: &mut Model, a: Action) -> Vec<Effect> {
    let n = m.visible_rows().len();
    match a {
        Action::Quit => ask_or_quit(m),
        Action::Up => {
            m.board_sel = m.board_sel.saturating_sub(1);
            Vec::new()
        }
        Action::Down => {
            m.board_sel = (m.board_sel + 1).min(n.saturating_sub(1));
            Vec::new()
        }
        Action::Open => match m.visible_rows().get(m.board_sel).map(|r| r.id.clone()) {
            Some(id) => open(m, &id),
            None => Vec::new(),
        },
        Action::BoardFilter => {
            let i = BoardFilter::ALL.iter().position(|f| *f == m.board_filter).unwrap_or(0);
            m.board_filter = BoardFilter::ALL[(i + 1) % 3];
            m.board_sel = 0;
            Vec::new()
        }
        Action::Declare => {
            if m.observer {
                m.flash("observer mode: read-only", true);
            } else if m.playbooks.is_empty() {
                m.flash("no playbooks found; see `warroom playbook list`", true);
            } else {
                // The title first (what people type right away), then playbook and severity.
                m.declare_form = Some(DeclareForm {
                    playbook: 0,
                    severity: 2,
                    title: String::new(),
                });
                m.overlay = Some(Overlay::Editor(Editor::new(EditorPurpose::Title, "")));
            }
            Vec::new()
        }
        _ => Vec::new(),
    }
}
