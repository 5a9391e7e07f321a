//! `warroom bundle`: seal an incident folder into a tar with a manifest, and check one.
//!
//! The tar holds `MANIFEST.json` and `<incident>/incident.ron`, `<incident>/playbooks/*.ron`,
//! `<incident>/casts/*.cast` (recordings of commands warroom ran),
//! `<incident>/events/*.ronl`. Each file is read once (never through a symlink) and the bytes
//! read are the bytes hashed (BLAKE3), written to the tar, and verified: the manifest's verify
//! result and export are computed from a private copy of exactly those bytes, so `--check`
//! reproduces them from the bundle alone.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde_json::{json, Value};

use super::context::{now_ms, Ctx};
use super::{Fail, Global, Result};
use crate::domain::sanitize;
use crate::domain::time::format_utc;
use crate::store::incident::Incident;
use crate::store::{
    fsutil, verify as store_verify, RootSource, Sharing, Store, EVENTS_DIR, HEADER_FILE, PLAYBOOKS_DIR,
};

pub const MANIFEST: &str = "MANIFEST.json";
/// The largest member `--check` takes (1 GiB; a log is far smaller in practice). A larger one is
/// refused from its header, without reading it.
pub const MAX_MEMBER: u64 = 1 << 30;
/// The largest manifest `--check` reads into memory.
const MAX_MANIFEST: u64 = 64 << 20;

/// The incident's files, read once each: (path inside the incident folder, bytes), and what
/// was not taken (symlinks, odd entries).
/// Files as (path inside the incident folder, bytes).
type Files = Vec<(String, Vec<u8>)>;

fn read_incident(dir: &Path) -> Result<(Files, Vec<String>)> {
    fsutil::real_dir(dir).map_err(|e| Fail::new(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let mut take =
        |rel: String, path: &Path, skipped: &mut Vec<String>| match fsutil::open_read(path).and_then(|mut f| {
            let mut b = Vec::new();
            f.read_to_end(&mut b).map(|_| b)
        }) {
            Ok(bytes) => files.push((rel, bytes)),
            Err(e) => skipped.push(format!("{rel}: {e} (not followed or not readable)")),
        };
    take(HEADER_FILE.to_string(), &dir.join(HEADER_FILE), &mut skipped);
    for (sub, ext) in [
        (PLAYBOOKS_DIR, ".ron"),
        (EVENTS_DIR, crate::store::LOG_EXT),
        (crate::store::CASTS_DIR, ".cast"),
    ] {
        let d = dir.join(sub);
        if sub == crate::store::CASTS_DIR && !d.exists() {
            continue; // no command was ever run: no recordings
        }
        if let Err(e) = fsutil::real_dir(&d) {
            skipped.push(format!("{sub}/: {e}"));
            continue;
        }
        let mut names: Vec<String> = std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(ext) && !n.starts_with('.'))
            .collect();
        names.sort();
        for n in names {
            take(format!("{sub}/{n}"), &d.join(&n), &mut skipped);
        }
    }
    // A recording is sealed only if it is the one its name (its hash, on the timeline) says.
    let casts = format!("{}/", crate::store::CASTS_DIR);
    files.retain(|(rel, bytes)| {
        let Some(name) = rel.strip_prefix(&casts) else {
            return true;
        };
        let stem = name.strip_suffix(".cast").unwrap_or(name);
        if crate::domain::event::is_hash(stem) && hex(bytes) == stem {
            return true;
        }
        skipped.push(format!(
            "{rel}: does not match the hash in its name (changed after it was recorded)"
        ));
        false
    });
    Ok((files, skipped))
}

fn hex(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// A throwaway store over `root` with its own state directory: nothing of this host's memory
/// (`require`: this host's signature policy, for `--check`).
fn private_store(root: &Path, tmp: &Path, require: bool) -> Store {
    Store {
        root: root.to_path_buf(),
        source: RootSource::Flag,
        sharing: Sharing::private(),
        state_dir: tmp.join("state"),
        lock_dir: tmp.join("locks"),
        signer: None,
        trust: crate::store::Trust {
            require,
            ..crate::store::Trust::default()
        },
        local_secret: Default::default(),
    }
}

/// The member holding the `allowed_signers` a bundle was checked against (beside the manifest).
const TRUST_MEMBER: &str = crate::store::ALLOWED_SIGNERS_FILE;

/// Write `files` under `<tmp>/root/<id>/` (and `trust` as the root's `allowed_signers`) and
/// verify and fold them there.
fn verify_copy(
    id: &str,
    files: &[(String, Vec<u8>)],
    trust: Option<&[u8]>,
    tmp: &Path,
    require: bool,
) -> Result<(store_verify::Report, Value, Incident, Store)> {
    let root = tmp.join("root");
    if let Some(t) = trust {
        std::fs::create_dir_all(&root).map_err(|e| Fail::new(format!("cannot unpack: {e}")))?;
        std::fs::write(root.join(TRUST_MEMBER), t)
            .map_err(|e| Fail::new(format!("cannot unpack {TRUST_MEMBER}: {e}")))?;
    }
    for (rel, bytes) in files {
        let path = root.join(id).join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Fail::new(format!("cannot unpack: {e}")))?;
        }
        std::fs::write(&path, bytes).map_err(|e| Fail::new(format!("cannot unpack {rel}: {e}")))?;
    }
    let store = private_store(&root, tmp, require);
    let r = store_verify::verify(&store, id);
    let v = crate::report::integrity_json(&r);
    let inc = Incident::open(&store, id, now_ms());
    Ok((r, v, inc, store))
}

pub fn bundle(g: &Global, wanted: &str, output: &Path) -> Result<()> {
    let ctx = Ctx::new(g)?;
    let id = ctx.store.resolve(wanted)?;
    let (files, skipped) = read_incident(&ctx.store.incident_dir(&id))?;
    for s in &skipped {
        eprintln!("not bundled: {}", sanitize(s));
    }
    let tmp = tempfile::tempdir().map_err(|e| Fail::new(format!("cannot make a temporary folder: {e}")))?;
    // Signatures are checked against the allowed_signers in force here, and that file goes into
    // the bundle (and its manifest), so `--check` checks against the same one.
    let trust_path = ctx.store.allowed_signers_path();
    let trust = crate::store::read_allowed_signers(&trust_path, ctx.store.allowed_signers_follows()).ok();
    let (_, verify, inc, store) = verify_copy(&id, &files, trust.as_deref(), tmp.path(), false)?;
    let now = now_ms();
    let export = {
        let ctx2 = Ctx {
            store,
            config: ctx.config.clone(),
            zone: ctx.zone.clone(),
        };
        let text = super::read::export_text(&ctx2, &id, super::ExportFormat::Json, None);
        serde_json::from_str::<Value>(&text).unwrap_or(Value::Null)
    };
    // Who sealed it is part of the record, as for any write: --as, WARROOM_USER or $USER.
    let by = ctx.identity(g)?.writer.to_string();
    let manifest = json!({
        "v": 1,
        "warroom": env!("CARGO_PKG_VERSION"),
        "created": format_utc(now),
        "by": by,
        "incident": id,
        "title": sanitize(inc.state.title()),
        "files": files
            .iter()
            .map(|(rel, b)| json!({"path": format!("{id}/{rel}"), "size": b.len(), "blake3": hex(b)}))
            .chain(trust.iter().map(|b| json!({"path": TRUST_MEMBER, "size": b.len(), "blake3": hex(b)})))
            .collect::<Vec<_>>(),
        "allowed_signers": trust.as_ref().map(|_| json!({"path": TRUST_MEMBER, "from": sanitize(&trust_path.display().to_string())})),
        "not_bundled": skipped.iter().map(|s| sanitize(s)).collect::<Vec<_>>(),
        "verify": verify,
        "export": export,
    });
    let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime((now / 1000).max(0) as u64);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, path, bytes)
    };
    add(MANIFEST, &manifest).map_err(|e| Fail::new(format!("cannot build the tar: {e}")))?;
    for (rel, b) in &files {
        add(&format!("{id}/{rel}"), b).map_err(|e| Fail::new(format!("cannot build the tar: {e}")))?;
    }
    if let Some(b) = &trust {
        add(TRUST_MEMBER, b).map_err(|e| Fail::new(format!("cannot build the tar: {e}")))?;
    }
    let bytes = tar
        .into_inner()
        .map_err(|e| Fail::new(format!("cannot build the tar: {e}")))?;
    fsutil::write_atomic(output, &bytes, Sharing::private())
        .map_err(|e| Fail::new(format!("cannot write {}: {e}", output.display())))?;
    if let Some(sig) = super::detached::sign(&ctx.store, output, &bytes)? {
        eprintln!("signed: {}", sig.display());
    }
    let ok = verify["ok"].as_bool().unwrap_or(false);
    eprintln!(
        "wrote {}: {} file(s) of {}, verify {}",
        output.display(),
        files.len(),
        sanitize(&id),
        if ok { "ok" } else { "FOUND TAMPERING OR LOSS" }
    );
    Ok(())
}

/// A member path that stays inside the bundle: relative, no `..`, no root.
fn safe(path: &Path) -> bool {
    path.components().all(|c| matches!(c, Component::Normal(_)))
}

/// What `--check` found.
#[derive(Debug, Default)]
pub struct Findings {
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub changed: Vec<String>,
    pub bad: Vec<String>,
}

impl Findings {
    pub fn ok(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.changed.is_empty() && self.bad.is_empty()
    }
}

/// A member as read: its size and BLAKE3 (hex), hashed while it was copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub size: u64,
    pub blake3: String,
}

impl Member {
    pub fn of(bytes: &[u8]) -> Member {
        Member {
            size: bytes.len() as u64,
            blake3: hex(bytes),
        }
    }
}

/// Copy `from` to `to` in chunks, hashing as it goes: memory stays bounded whatever the size.
fn copy_hashing(from: &mut impl Read, to: &mut impl std::io::Write) -> std::io::Result<Member> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok(Member {
        size,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// Compare a bundle's members with its manifest.
pub fn compare(manifest: &Value, members: &BTreeMap<String, Member>) -> Findings {
    let mut f = Findings::default();
    let mut listed = BTreeMap::new();
    for file in manifest["files"].as_array().into_iter().flatten() {
        let path = file["path"].as_str().unwrap_or_default().to_string();
        listed.insert(path.clone(), ());
        match members.get(&path) {
            None => f.missing.push(path),
            Some(b) => {
                let size = file["size"].as_u64();
                let hash = file["blake3"].as_str();
                if size != Some(b.size) || hash != Some(b.blake3.as_str()) {
                    f.changed.push(path);
                }
            }
        }
    }
    for path in members.keys() {
        if !listed.contains_key(path) {
            f.extra.push(path.clone());
        }
    }
    f
}

pub fn check(g: &Global, file: &Path) -> Result<()> {
    // Everything is checked against what this host trusts, never against what the bundle says
    // about itself: its detached signature and its records' signatures against this host's
    // allowed_signers, and its own allowed_signers only compared with this host's.
    let ctx = Ctx::new(g)?;
    let (signature, sig_ok) = check_bundle_signature(&ctx, file)?;
    // Streamed: each member is copied to a private folder while it is hashed, so memory stays
    // bounded whatever the bundle holds; a member over MAX_MEMBER is refused from its header.
    let tar_file = std::fs::File::open(file).map_err(|e| Fail::new(format!("cannot read {}: {e}", file.display())))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(tar_file));
    let tmp = tempfile::tempdir().map_err(|e| Fail::new(format!("cannot make a temporary folder: {e}")))?;
    let unpacked = tmp.path().join("unpacked");
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut manifest: Option<Vec<u8>> = None;
    let mut bad = Vec::new();
    let mut spooled: Vec<(String, PathBuf)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| Fail::new(format!("{}: not a tar: {e}", file.display())))?;
    for (n, entry) in entries.enumerate() {
        let mut entry = entry.map_err(|e| Fail::new(format!("{}: broken tar: {e}", file.display())))?;
        let path: PathBuf = entry.path().map(|p| p.into_owned()).unwrap_or_default();
        let name = sanitize(&path.to_string_lossy());
        if entry.header().entry_type() != tar::EntryType::Regular || !safe(&path) {
            bad.push(format!("{name}: not a plain file inside the bundle (not read)"));
            continue;
        }
        if name == MANIFEST {
            if entry.size() > MAX_MANIFEST {
                bad.push(format!(
                    "{name}: too large ({} bytes; at most {MAX_MANIFEST})",
                    entry.size()
                ));
                continue;
            }
            let mut b = Vec::new();
            entry
                .read_to_end(&mut b)
                .map_err(|e| Fail::new(format!("{name}: cannot read: {e}")))?;
            manifest = Some(b);
            continue;
        }
        if entry.size() > MAX_MEMBER {
            bad.push(format!(
                "{name}: too large ({} bytes; a member is at most {MAX_MEMBER} bytes) — not read",
                entry.size()
            ));
            continue;
        }
        if members.contains_key(&name) {
            bad.push(format!("{name}: twice in the tar"));
            continue;
        }
        // Each member to its own numbered file first; moved into place once the manifest names
        // the incident.
        std::fs::create_dir_all(&unpacked).map_err(|e| Fail::new(format!("cannot unpack: {e}")))?;
        let spool = unpacked.join(format!("{n}"));
        let mut out = std::fs::File::create(&spool).map_err(|e| Fail::new(format!("cannot unpack {name}: {e}")))?;
        let m = copy_hashing(&mut entry, &mut out).map_err(|e| Fail::new(format!("{name}: cannot read: {e}")))?;
        members.insert(name.clone(), m);
        spooled.push((name, spool));
    }
    let manifest: Value = manifest
        .and_then(|m| serde_json::from_slice(&m).ok())
        .ok_or_else(|| Fail::new(format!("{}: no readable {MANIFEST}", file.display())))?;
    let id = manifest["incident"].as_str().unwrap_or_default().to_string();
    if !crate::store::incident::valid_incident_id(&id) {
        return Err(Fail::new(format!("{MANIFEST} names no valid incident")));
    }
    let mut f = compare(&manifest, &members);
    f.bad = bad;
    // Paths come from the tar and from its manifest: untrusted, sanitised before the terminal.
    for p in &f.missing {
        outln!("MISSING: {}", sanitize(p));
    }
    for p in &f.changed {
        outln!("CHANGED: {} (size or BLAKE3 differs from the manifest)", sanitize(p));
    }
    for p in &f.extra {
        outln!("EXTRA: {} (not in the manifest)", sanitize(p));
    }
    for p in &f.bad {
        outln!("BAD: {}", sanitize(p));
    }
    // Fold and verify what the bundle holds, as it holds it.
    let prefix = format!("{id}/");
    let root = tmp.path().join("root");
    let mut bundled_trust = None;
    for (name, spool) in &spooled {
        if name == TRUST_MEMBER {
            bundled_trust = Some(
                crate::store::read_allowed_signers(spool, false)
                    .map_err(|e| Fail::new(format!("cannot read {TRUST_MEMBER} of the bundle: {e}")))?,
            );
            continue;
        }
        let Some(rel) = name.strip_prefix(&prefix).filter(|rel| safe(Path::new(rel))) else {
            continue;
        };
        let path = root.join(&id).join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Fail::new(format!("cannot unpack: {e}")))?;
        }
        std::fs::rename(spool, &path).map_err(|e| Fail::new(format!("cannot unpack {rel}: {e}")))?;
    }
    let host_trust = ctx.store.allowed_signers_bytes();
    for line in trust_lines(&ctx, host_trust.as_deref(), bundled_trust.as_deref()) {
        outln!("{}", sanitize(&line));
    }
    let (report, verify, inc, _) = verify_copy(&id, &[], host_trust.as_deref(), tmp.path(), ctx.store.trust.require)?;
    let verify_ok = verify["ok"].as_bool().unwrap_or(false);
    for e in verify["errors"].as_array().into_iter().flatten() {
        outln!("TAMPERED: {}", sanitize(e.as_str().unwrap_or_default()));
    }
    for l in &report.signing {
        outln!("signatures: {}", l.describe());
    }
    let then_ok = manifest["verify"]["ok"].as_bool();
    outln!(
        "bundle of {} \"{}\", made {} by {} with warroom {}: {} file(s); folded {} record(s), phase {}; verify {}{}",
        sanitize(&id),
        sanitize(inc.state.title()),
        sanitize(manifest["created"].as_str().unwrap_or("?")),
        sanitize(manifest["by"].as_str().unwrap_or("?")),
        sanitize(manifest["warroom"].as_str().unwrap_or("?")),
        members.len(),
        inc.state.event_count(),
        inc.state.phase(),
        if verify_ok { "ok" } else { "FAILED" },
        match then_ok {
            Some(true) if !verify_ok => " (it was ok when bundled)",
            Some(false) => " (it already failed when bundled)",
            _ => "",
        }
    );
    if f.ok() && verify_ok && sig_ok {
        if matches!(signature, super::detached::Checked::Signed(..)) {
            outln!("ok: every member matches the manifest, and a key this host trusts signed the bundle");
        } else {
            outln!("ok: every member matches the manifest — but the bundle is not signed by a key this host trusts: who made it is not proven");
        }
        Ok(())
    } else {
        Err(Fail::new(format!(
            "{} does not match its manifest or does not verify",
            file.display()
        )))
    }
}

/// The bundle's detached signature, checked against this host's allowed_signers, and whether it
/// passes: a missing or unverifiable one is said plainly and fails where this host requires
/// signatures (config `signing: (require: true)`).
fn check_bundle_signature(ctx: &Ctx, file: &Path) -> Result<(super::detached::Checked, bool)> {
    use super::detached::Checked;
    let c = super::detached::check(&ctx.store, file, None)?;
    let f = sanitize(&file.display().to_string());
    let require = ctx.store.trust.require;
    let (line, ok) = match &c {
        Checked::Missing => (
            format!("{f}: not signed: who made it is not proven (no {f}.sig)"),
            !require,
        ),
        Checked::Unchecked(_) => (format!("{}: who made it is not proven", c.describe(file)), !require),
        Checked::Signed(..) => (c.describe(file), true),
        Checked::Bad(_) => (c.describe(file), false),
    };
    outln!("signature: {line}");
    if !ok && require && !matches!(c, Checked::Bad(_)) {
        outln!("signature: this host requires signatures (config signing: (require: true)): a bundle must carry a .sig by a key its allowed_signers lists");
    }
    Ok((c, ok))
}

/// What the receiving host says about trust: which allowed_signers the records are checked
/// against, and each principal the bundle's own file gives a key this host's does not.
fn trust_lines(ctx: &Ctx, host: Option<&[u8]>, bundled: Option<&[u8]>) -> Vec<String> {
    use crate::domain::signing::AllowedSigners;
    let parse = |b: &[u8]| AllowedSigners::parse(&String::from_utf8_lossy(b));
    let path = ctx.store.allowed_signers_path();
    let mut out = vec![match host {
        Some(_) => format!(
            "record signatures checked against this host's allowed_signers ({}), not the bundle's",
            path.display()
        ),
        None => format!(
            "record signatures not checked: this host has no allowed_signers ({}), and the bundle's own cannot vouch for itself",
            path.display()
        ),
    }];
    out.extend(
        ctx.store
            .allowed_signers()
            .note
            .map(|n| format!("allowed_signers: {n}")),
    );
    if let (Some(host), Some(bundled)) = (host, bundled) {
        for c in crate::domain::trust::foreign_keys(&parse(host), &parse(bundled)) {
            out.push(format!("TRUST: {}", c.in_bundle()));
        }
    }
    out
}
