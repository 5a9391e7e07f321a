//! Why an incident whose declaration is on disk has nothing applied: signatures are required
//! and its `Declared` record carries none that counts. Without this it would read "syncing" (as
//! if the record had not arrived), and a responder would wait for nothing.

use super::event::Body;
use super::IncidentState;

/// The status word of such an incident, where one not declared yet reads "syncing" (`list`,
/// `show`, the board).
pub const STATUS: &str = "unsigned";
/// Its title, where one not declared yet reads "(syncing)".
pub const TITLE: &str = "(nothing applied: signatures required)";

/// Whether nothing is applied for want of a signature (see [`unsigned_declaration`]): the one
/// rule that keeps such an incident from reading "syncing" anywhere.
pub fn is_unsigned(s: &IncidentState) -> bool {
    unsigned_declaration(s).is_some()
}

/// Why nothing is applied, in one line (~150 columns): which requirement holds and what to do,
/// when no declaration is
/// applied and a `Declared` record was refused for lacking a counted signature. `None` when the
/// incident is declared, or its declaration has not arrived (that is syncing). The text names a
/// writer id from the shared directory: sanitize it before a terminal.
pub fn unsigned_declaration(s: &IncidentState) -> Option<String> {
    if s.derived.declared.is_some() || !s.requires_signatures() {
        return None;
    }
    let d = s.events().find(|e| {
        matches!(e.body, Body::Declared(_))
            && s.derived.refused.contains_key(&e.key())
            && s.signed_by(&e.log, e.seq).is_none()
    })?;
    let by_declaration = matches!(&d.body, Body::Declared(x) if x.require_signatures);
    let which = if by_declaration {
        "its declaration requires signatures"
    } else {
        "your config requires signatures (require: true)"
    };
    // A `Signed` record later in the same log would vouch for the declaration: if there is one,
    // it does not count here (a key not in allowed_signers?); else the record was written unsigned.
    let signed_later = s
        .events()
        .any(|e| e.log == d.log && e.seq > d.seq && matches!(e.body, Body::Signed(_)));
    let (has, todo) = match (signed_later, by_declaration) {
        (true, _) => ("a signature that does not count", "`warroom verify` says why"),
        (false, true) => ("no signature", "declare again with --sign"),
        (false, false) => ("no signature", "declare again with --sign, or lift require"),
    };
    Some(format!("{which}; the Declared record by {} has {has} — {todo}", d.by()))
}
