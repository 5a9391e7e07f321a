//! Finding playbooks: `--playbooks DIR`, then the responder's trusted library in
//! `$XDG_CONFIG_HOME/warroom/playbooks/`, then the set compiled into the binary. Also composition
//! (`base`) and `playbook check`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::domain::input::unsafe_chars;
use crate::domain::playbook::{self, locate, Diagnostic, Finding, Playbook};
use crate::domain::Phase;

/// The shipped playbooks, compiled in so `declare` works right after `cargo install`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("base.ron", include_str!("../../playbooks/base.ron")),
    ("ransomware.ron", include_str!("../../playbooks/ransomware.ron")),
    ("phishing.ron", include_str!("../../playbooks/phishing.ron")),
    (
        "cloud-credentials.ron",
        include_str!("../../playbooks/cloud-credentials.ron"),
    ),
    ("ddos.ron", include_str!("../../playbooks/ddos.ron")),
    ("data-breach.ron", include_str!("../../playbooks/data-breach.ron")),
    ("cloud-outage.ron", include_str!("../../playbooks/cloud-outage.ron")),
    ("insider-threat.ron", include_str!("../../playbooks/insider-threat.ron")),
    ("lost-device.ron", include_str!("../../playbooks/lost-device.ron")),
    (
        "exploited-vulnerability.ron",
        include_str!("../../playbooks/exploited-vulnerability.ron"),
    ),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Dir(PathBuf),
    UserLibrary(PathBuf),
    BuiltIn,
}

impl Origin {
    pub fn describe(&self) -> String {
        match self {
            Origin::Dir(p) => format!("{} (--playbooks)", p.display()),
            Origin::UserLibrary(p) => format!("{} (your library)", p.display()),
            Origin::BuiltIn => "built-in".to_string(),
        }
    }
}

/// A playbook as written (before composition), with its text for locating errors.
#[derive(Debug, Clone)]
pub struct Entry {
    pub playbook: Playbook,
    pub origin: Origin,
    pub file: String,
    pub text: String,
}

/// `file:line:col: message` lines.
pub type Errors = Vec<String>;

#[derive(Debug, Default)]
pub struct Library {
    /// In lookup order; an id found earlier shadows the same id later.
    pub entries: Vec<Entry>,
    /// Files in the library that could not be read (reported, not fatal for other playbooks).
    pub errors: Errors,
}

pub fn user_library_dir() -> Option<PathBuf> {
    super::config::config_dir().map(|d| d.join("playbooks"))
}

/// Parse strictly: any unknown field or failed rule is an error, each as `file:line:col: message`.
pub fn parse_strict(file: &str, text: &str) -> Result<Playbook, Errors> {
    let at = |d: &Diagnostic| format!("{file}:{}:{}: {}", d.line, d.col, d.message);
    let (outcome, unknown) = playbook::parse_ron_located(text);
    let mut errors: Errors = unknown.iter().map(at).collect();
    match outcome {
        Err(d) => {
            errors.push(at(&d));
            Err(errors)
        }
        Ok(p) => {
            errors.extend(p.validate().iter().map(|f| fmt_finding(file, text, f)));
            if errors.is_empty() {
                Ok(p)
            } else {
                Err(errors)
            }
        }
    }
}

fn fmt_finding(file: &str, text: &str, f: &Finding) -> String {
    let (line, col) = locate(text, f);
    format!("{file}:{line}:{col}: {}", f.message)
}

fn ron_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron") && p.is_file())
        .collect();
    files.sort();
    files
}

impl Library {
    /// The library in lookup order.
    pub fn load(extra: Option<&Path>) -> Library {
        let mut lib = Library::default();
        if let Some(dir) = extra {
            lib.add_dir(dir, |p| Origin::Dir(p.to_path_buf()));
        }
        if let Some(dir) = user_library_dir() {
            lib.add_dir(&dir, |p| Origin::UserLibrary(p.to_path_buf()));
        }
        lib.add_built_in();
        lib
    }

    pub fn built_in() -> Library {
        let mut lib = Library::default();
        lib.add_built_in();
        lib
    }

    fn add_built_in(&mut self) {
        for (name, text) in BUILT_IN {
            self.add_text(name.to_string(), text.to_string(), Origin::BuiltIn);
        }
    }

    pub fn add_dir(&mut self, dir: &Path, origin: impl Fn(&Path) -> Origin) {
        for path in ron_files(dir) {
            match super::fsutil::read_text_file(&path) {
                Ok(text) => self.add_text(path.display().to_string(), text, origin(&path)),
                Err(e) => self.errors.push(format!("{}: cannot read: {e}", path.display())),
            }
        }
    }

    pub fn add_text(&mut self, file: String, text: String, origin: Origin) {
        match parse_strict(&file, &text) {
            Ok(playbook) => self.entries.push(Entry {
                playbook,
                origin,
                file,
                text,
            }),
            Err(errors) => self.errors.extend(errors),
        }
    }

    pub fn find(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.playbook.id == id)
    }

    /// Visible playbooks (first of each id), in lookup order.
    pub fn visible(&self) -> Vec<&Entry> {
        let mut seen = BTreeSet::new();
        self.entries
            .iter()
            .filter(|e| seen.insert(e.playbook.id.clone()))
            .collect()
    }

    /// The playbook with its `base` chain merged in: base steps first, then its own.
    pub fn resolve(&self, id: &str) -> Result<Playbook, Errors> {
        let entry = self.find(id).ok_or_else(|| {
            let known: Vec<String> = self.visible().iter().map(|e| e.playbook.id.clone()).collect();
            vec![format!("no playbook `{id}`; known: {}", known.join(", "))]
        })?;
        self.resolve_entry(entry, &mut Vec::new())
    }

    pub fn resolve_entry(&self, entry: &Entry, chain: &mut Vec<String>) -> Result<Playbook, Errors> {
        let me = &entry.playbook;
        let Some(base_id) = &me.base else {
            return Ok(me.clone());
        };
        let at = |needle: String, nth: usize, message: String| {
            fmt_finding(
                &entry.file,
                &entry.text,
                &Finding {
                    needle: Some(needle),
                    nth,
                    message,
                },
            )
        };
        chain.push(me.id.clone());
        if chain.contains(base_id) {
            return Err(vec![at(
                format!("\"{base_id}\""),
                1,
                format!(
                    "playbooks build on each other in a cycle: {} → {base_id}",
                    chain.join(" → ")
                ),
            )]);
        }
        let Some(base_entry) = self.find(base_id) else {
            return Err(vec![at(
                format!("\"{base_id}\""),
                1,
                format!("base playbook `{base_id}` not found"),
            )]);
        };
        let base = self.resolve_entry(base_entry, chain)?;
        let merged = compose(&base, me);
        let errors: Errors = merged
            .validate()
            .iter()
            .map(|f| {
                let f = Finding { nth: 1, ..f.clone() };
                format!(
                    "{} (merged with base `{base_id}`)",
                    fmt_finding(&entry.file, &entry.text, &f)
                )
            })
            .collect();
        if errors.is_empty() {
            Ok(merged)
        } else {
            Err(errors)
        }
    }
}

/// The responder's trusted playbooks — the `--playbooks` folder they named, their own library
/// and the built-in set — resolved as `declare` resolves them, by content hash: a command runs
/// only from one of these (never from an incident's shared copy).
pub fn trusted(extra: Option<&Path>) -> std::collections::BTreeMap<String, Playbook> {
    let lib = Library::load(extra);
    lib.entries
        .iter()
        .filter_map(|e| lib.resolve_entry(e, &mut Vec::new()).ok())
        .map(|p| (p.content_hash(), p))
        .collect()
}

/// Base steps first, then the specific ones; the specific playbook's header wins.
pub fn compose(base: &Playbook, child: &Playbook) -> Playbook {
    let mut out = child.clone();
    // The result is resolved: what is copied into an incident stands on its own.
    out.base = None;
    for phase in Phase::ALL {
        let mut items = base.phases.get(phase).to_vec();
        items.extend(child.phases.get(phase).iter().cloned());
        *out.phases.get_mut(phase) = items;
    }
    fn join<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().chain(b).cloned().collect()
    }
    out.roles = join(&base.roles, &child.roles);
    out.actions = join(&base.actions, &child.actions);
    out.templates = join(&base.templates, &child.templates);
    out.deadlines = join(&base.deadlines, &child.deadlines);
    out.questions = join(&base.questions, &child.questions);
    if out.severity_guidance.is_empty() {
        out.severity_guidance = base.severity_guidance.clone();
    }
    if out.disclaimer.is_empty() {
        out.disclaimer = base.disclaimer.clone();
    }
    if out.channel.is_none() {
        out.channel = base.channel.clone();
    }
    out
}

/// `playbook check FILE|DIR [--strict]`: every error as `file:line:col: what was expected`.
/// `--strict` also holds each file to the content bar and refuses control and invisible format
/// characters anywhere in its text, raw or escaped.
pub fn check(path: &Path, strict: bool) -> Errors {
    let mut lib = Library::default();
    if path.is_dir() {
        let files = ron_files(path);
        if files.is_empty() {
            return vec![format!("{}: no .ron playbooks in this folder", path.display())];
        }
        lib.add_dir(path, |p| Origin::Dir(p.to_path_buf()));
    } else {
        match super::fsutil::read_text_file(path) {
            Ok(text) => lib.add_text(path.display().to_string(), text, Origin::Dir(path.to_path_buf())),
            Err(e) => return vec![format!("{}: cannot read: {e}", path.display())],
        }
    }
    let mut errors = std::mem::take(&mut lib.errors);
    let checked: Vec<Entry> = lib.entries.clone();
    // Bases may come from the user's library or the built-in set.
    let rest = Library::load(None);
    lib.entries.extend(rest.entries);
    let mut ids = BTreeSet::new();
    for entry in &checked {
        if strict {
            // Escapes and invisible characters would reach every responder's console.
            errors.extend(
                unsafe_chars(&entry.text)
                    .iter()
                    .map(|d| format!("{}:{}:{}: {}", entry.file, d.line, d.col, d.message)),
            );
        }
        if !ids.insert(entry.playbook.id.clone()) {
            errors.push(fmt_finding(
                &entry.file,
                &entry.text,
                &Finding {
                    needle: Some(format!("\"{}\"", entry.playbook.id)),
                    nth: 1,
                    message: format!("another playbook in this folder already has id `{}`", entry.playbook.id),
                },
            ));
        }
        match lib.resolve_entry(entry, &mut Vec::new()) {
            Err(e) => errors.extend(e),
            Ok(resolved) if strict && !resolved.partial => {
                errors.extend(
                    resolved
                        .strict_findings()
                        .iter()
                        .map(|f| fmt_finding(&entry.file, &entry.text, f)),
                );
            }
            Ok(_) => {}
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_playbook_passes_strict() {
        let lib = Library::built_in();
        assert!(lib.errors.is_empty(), "{:#?}", lib.errors);
        assert_eq!(lib.entries.len(), BUILT_IN.len());
        for e in &lib.entries {
            let p = lib.resolve(&e.playbook.id).unwrap();
            if !p.partial {
                assert_eq!(p.strict_findings(), vec![], "{}", e.file);
            }
        }
        // Every shipped deadline can be met: a stage without `met_by` fails --strict.
        let mut p = lib.resolve("data-breach").unwrap();
        p.deadlines[0].met_by = None;
        p.deadlines[0].stages.iter_mut().for_each(|s| s.met_by = None);
        assert!(p
            .strict_findings()
            .iter()
            .any(|f| f.message.contains("needs a `met_by`")));
        let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/playbooks");
        assert_eq!(check(Path::new(shipped), true), Vec::<String>::new());
    }

    #[test]
    fn strict_parse_locates_errors() {
        let text = BUILT_IN[0].1.replacen("title:", "titel:", 1);
        let errs = parse_strict("x.ron", &text).unwrap_err();
        assert!(errs[0].starts_with("x.ron:"), "{errs:?}");
        let text = BUILT_IN[0].1.replacen("version:", "version: 3,\n    oops:", 1);
        let errs = parse_strict("x.ron", &text).unwrap_err();
        assert!(errs.iter().any(|e| e.contains("x.ron:")), "{errs:?}");
    }

    fn tiny(id: &str, base: Option<&str>, item: &str) -> String {
        let base = base.map(|b| format!("base: Some(\"{b}\"),")).unwrap_or_default();
        format!(
            "(\n  id: \"{id}\",\n  title: \"T\",\n  version: \"1\",\n  description: \"d\",\n  {base}\n  phases: (\n    preparation: [(id: \"{item}\", text: \"x\")],\n  ),\n)\n"
        )
    }

    #[test]
    fn composition_merges_base_first() {
        let mut lib = Library::default();
        lib.add_text("base.ron".into(), tiny("b", None, "b-one"), Origin::BuiltIn);
        lib.add_text("child.ron".into(), tiny("c", Some("b"), "c-one"), Origin::BuiltIn);
        let p = lib.resolve("c").unwrap();
        let ids: Vec<&str> = p.phases.preparation.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(ids, vec!["b-one", "c-one"]);
        assert_eq!(p.base, None, "the resolved copy stands on its own");
    }

    #[test]
    fn composition_errors_name_file_and_line() {
        // A cycle.
        let mut lib = Library::default();
        lib.add_text("a.ron".into(), tiny("a", Some("b"), "a-one"), Origin::BuiltIn);
        lib.add_text("b.ron".into(), tiny("b", Some("a"), "b-one"), Origin::BuiltIn);
        let errs = lib.resolve("a").unwrap_err();
        assert!(
            errs[0].starts_with("b.ron:6:") || errs[0].starts_with("a.ron:6:"),
            "{errs:?}"
        );
        assert!(errs[0].contains("cycle"), "{errs:?}");
        // A duplicate id across base and child points into the child.
        let mut lib = Library::default();
        lib.add_text("base.ron".into(), tiny("b", None, "same"), Origin::BuiltIn);
        lib.add_text("child.ron".into(), tiny("c", Some("b"), "same"), Origin::BuiltIn);
        let errs = lib.resolve("c").unwrap_err();
        assert!(
            errs[0].starts_with("child.ron:8:") && errs[0].contains("duplicate"),
            "{errs:?}"
        );
        // A missing base.
        let mut lib = Library::default();
        lib.add_text("child.ron".into(), tiny("c", Some("nope"), "x"), Origin::BuiltIn);
        let errs = lib.resolve("c").unwrap_err();
        assert!(
            errs[0].starts_with("child.ron:6:") && errs[0].contains("not found"),
            "{errs:?}"
        );
    }
}
