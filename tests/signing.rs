//! SSH-signed records, checked against OpenSSH itself: keys made by `ssh-keygen`, a real
//! `ssh-agent` started for each test on its own socket (killed at the end), and signatures
//! checked both ways — warroom's with `ssh-keygen -Y verify`, `ssh-keygen -Y sign`'s by warroom.
//! Hermetic: own HOME, own SSH_AUTH_SOCK, own shared directory.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{blake3_hex, lines_of, Who, World};

/// A key pair and, if started, an agent holding it.
struct Ssh {
    dir: tempfile::TempDir,
    agent: Option<Child>,
}

impl Drop for Ssh {
    fn drop(&mut self) {
        if let Some(mut a) = self.agent.take() {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

impl Ssh {
    fn new() -> Ssh {
        Ssh {
            dir: tempfile::tempdir().expect("tmp"),
            agent: None,
        }
    }

    /// `ssh-keygen -t TYPE -N ''`: returns the private key path (`.pub` beside it).
    fn keygen(&self, name: &str, kind: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", kind, "-N", "", "-C", name, "-f"])
            .arg(&path)
            .env("HOME", self.dir.path())
            .output()
            .expect("ssh-keygen (install openssh-client)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        path
    }

    /// A key pair of tests/data/keys, copied in (mode 0600, as ssh-keygen leaves a private key):
    /// returns the private key path (`.pub` beside it).
    fn fixture(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/keys");
        let path = self.dir.path().join(name);
        std::fs::copy(data.join(name), &path).expect("fixture key");
        std::fs::copy(data.join(format!("{name}.pub")), path.with_extension("pub")).expect("fixture .pub");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        path
    }

    fn public(&self, key: &Path) -> String {
        std::fs::read_to_string(key.with_extension("pub"))
            .expect("pub")
            .trim()
            .to_string()
    }

    fn sock(&self) -> PathBuf {
        self.dir.path().join("agent.sock")
    }

    /// Start `ssh-agent -D -a SOCK` and `ssh-add` the keys.
    fn agent(&mut self, keys: &[&Path]) {
        let child = Command::new("ssh-agent")
            .arg("-D")
            .arg("-a")
            .arg(self.sock())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("ssh-agent");
        self.agent = Some(child);
        let t0 = Instant::now();
        while !self.sock().exists() {
            assert!(t0.elapsed() < Duration::from_secs(10), "ssh-agent did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        for k in keys {
            let out = Command::new("ssh-add")
                .arg("-q")
                .arg(k)
                .env("SSH_AUTH_SOCK", self.sock())
                .env("HOME", self.dir.path())
                .output()
                .expect("ssh-add");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// `ssh-keygen -Y verify` of `msg` against `allowed` for `principal`: (success, what it said).
    fn keygen_verify(&self, allowed: &Path, principal: &str, sig: &str, msg: &str) -> (bool, String) {
        let sig_path = self.dir.path().join("check.sig");
        std::fs::write(&sig_path, sig).expect("sig");
        let mut child = Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(allowed)
            .args(["-I", principal, "-n", "warroom-event", "-s"])
            .arg(&sig_path)
            .env("HOME", self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ssh-keygen");
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(msg.as_bytes())
            .expect("write");
        let out = child.wait_with_output().expect("wait");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    /// `ssh-keygen -Y sign` of `msg` with `key` in namespace warroom-event: the armored signature.
    fn keygen_sign(&self, key: &Path, msg: &str) -> String {
        let msg_path = self.dir.path().join("msg");
        std::fs::write(&msg_path, msg).expect("msg");
        let _ = std::fs::remove_file(self.dir.path().join("msg.sig"));
        let out = Command::new("ssh-keygen")
            .args(["-Y", "sign", "-n", "warroom-event", "-f"])
            .arg(key)
            .arg(&msg_path)
            .env("HOME", self.dir.path())
            .output()
            .expect("ssh-keygen -Y sign");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(self.dir.path().join("msg.sig")).expect("sig")
    }
}

/// Run warroom as `who` with the test's agent socket (or none) and extra args.
fn run(world: &World, who: &Who, sock: Option<&Path>, args: &[&str]) -> common::Run {
    let mut c = world.cmd(who);
    c.env_remove("SSH_AUTH_SOCK").env_remove("WARROOM_SIGNING_KEY");
    if let Some(s) = sock {
        c.env("SSH_AUTH_SOCK", s);
    }
    common::Run::from_output(c.args(args).output().expect("run warroom"))
}

fn declare(world: &World, who: &Who, sock: Option<&Path>, extra: &[&str]) -> String {
    let mut args = vec![
        "declare",
        "--playbook",
        "ransomware",
        "--title",
        "Signed",
        "--severity",
        "2",
    ];
    args.extend_from_slice(extra);
    let r = run(world, who, sock, &args).ok();
    r.stdout.trim().to_string()
}

/// The (head, armored signature, signed message) of each Signed record of a log. The message is
/// `"<log> <head>"` for a signature bound to its log (README's check by hand pipes exactly that to
/// `ssh-keygen -Y verify`), the head alone for an older one.
fn signatures(log: &Path) -> Vec<(String, String, String)> {
    lines_of(log)
        .iter()
        .filter(|l| l.contains("kind:\"Signed\""))
        .map(|l| {
            let head = field(l, "head:\"");
            let sig = field(l, "sig:\"").replace("\\n", "\n");
            let msg = match l.contains("log:Some(\"") {
                true => format!("{} {head}", field(l, "log:Some(\"")),
                false => head.clone(),
            };
            (head, sig, msg)
        })
        .collect()
}

fn field(line: &str, start: &str) -> String {
    let from = line.find(start).expect("field") + start.len();
    let len = line[from..].find('"').expect("end quote");
    line[from..from + len].to_string()
}

fn allowed_signers(world: &World, lines: &[String]) -> PathBuf {
    std::fs::create_dir_all(world.root()).expect("root");
    let path = world.root().join("allowed_signers");
    std::fs::write(&path, lines.join("\n") + "\n").expect("allowed_signers");
    path
}

#[test]
fn a_record_signed_through_the_agent_verifies_with_ssh_keygen() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let key = ssh.keygen("alice", "ed25519");
    ssh.agent(&[&key]);
    let allowed = allowed_signers(&world, &[format!("alice {}", ssh.public(&key))]);
    let alice = world.who("alice", "jump");
    let sock = ssh.sock();
    let id = declare(&world, &alice, Some(&sock), &["--sign", "agent"]);
    let pubkey = key.with_extension("pub");
    run(
        &world,
        &alice,
        Some(&sock),
        &["--sign", pubkey.to_str().expect("utf8"), "note", &id, "signed note"],
    )
    .ok();

    let log = world.log_of(&alice, &id);
    let sigs = signatures(&log);
    assert_eq!(sigs.len(), 2, "one signature per write");
    let lines = lines_of(&log);
    let stem = log
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".ronl"))
        .expect("log name");
    for (head, sig, msg) in &sigs {
        // Bound to this log: the message names it.
        assert_eq!(*msg, format!("{stem} {head}"));
        // The head is the hash of the line just before the signature.
        let i = lines
            .iter()
            .position(|l| l.contains(head.as_str()) && l.contains("Signed"))
            .expect("sig line");
        assert_eq!(blake3_hex(lines[i - 1].as_bytes()), *head);
        let (ok, said) = ssh.keygen_verify(&allowed, "alice", sig, msg);
        assert!(ok, "ssh-keygen -Y verify refused warroom's signature: {said}");
        assert!(said.contains("Good \"warroom-event\" signature for alice"), "{said}");
    }

    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by alice (SHA256:"), "{v}");
    assert!(v.stdout.contains("all 2 record(s)"), "{v}");
    assert!(!v.stdout.contains("not bound"), "{v}");

    // README's check by hand, word for word, with the shell and OpenSSH.
    let readme = include_str!("../README.md");
    assert!(
        readme.contains(BY_HAND),
        "README's signing section shows exactly BY_HAND"
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(BY_HAND)
        .env("INC", world.root().join(&id))
        .env("LOG", stem)
        .env("HOME", ssh.dir.path())
        .current_dir(ssh.dir.path())
        .output()
        .expect("sh");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("Good \"warroom-event\" signature for alice"), "{said}");

    // The log copied byte for byte under another install's name: its signatures name the
    // original log, so the copy does not verify as alice's.
    let copy = log.with_file_name("alice@jump.zzzzzz.ronl");
    std::fs::copy(&log, &copy).expect("copy");
    let v = run(&world, &alice, None, &["verify", &id]).code(1);
    assert!(
        v.stdout.contains("alice@jump.zzzzzz: signature does not match")
            && v.stdout.contains(&format!("signed for log `{stem}`, not this one")),
        "{v}"
    );
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    assert!(show["problems"].to_string().contains("not this one"), "{show}");
}

/// How to check the newest signature of one log by hand (README, "Signed records"); `INC` is
/// the incident folder and `LOG` the log's file name without `.ronl`.
const BY_HAND: &str = r#"line=$(grep -F 'kind:"Signed"' "$INC/events/$LOG.ronl" | tail -n 1)
head=$(printf '%s' "$line" | sed -E 's/.*head:"([0-9a-f]{64})".*/\1/')
printf '%b' "$(printf '%s' "$line" | sed -E 's/.*sig:"([^"]*)".*/\1/')" > record.sig
printf '%s %s' "$LOG" "$head" |
  ssh-keygen -Y verify -f "$INC/../allowed_signers" -I alice -n warroom-event -s record.sig
"#;

#[test]
fn a_signature_made_by_ssh_keygen_is_accepted_and_an_edit_does_not_match() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("alice", "ed25519");
    allowed_signers(&world, &[format!("alice,alice@jump {}", ssh.public(&key))]);
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &[]);
    run(&world, &alice, None, &["note", &id, "first"]).ok();
    let log = world.log_of(&alice, &id);
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("unsigned (2 record(s))"), "{v}");

    // Sign the head with ssh-keygen and append the Signed record by hand.
    let lines = lines_of(&log);
    let head = blake3_hex(lines.last().expect("line").as_bytes());
    let sig = ssh.keygen_sign(&key, &head);
    let line = format!(
        "(v:1,id:\"01JDSIGNED0000000000000000\",at:{at},wall:{at},occurred:None,by:\"alice@jump\",seq:3,prev:\"{head}\",kind:\"Signed\",body:(head:\"{head}\",key:\"SHA256:x\",sig:\"{}\"))\n",
        sig.replace('\n', "\\n"),
        at = chrono_now_ms()
    );
    let mut text = std::fs::read_to_string(&log).expect("log");
    text.push_str(&line);
    std::fs::write(&log, &text).expect("write");
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by alice (SHA256:"), "{v}");
    assert!(v.stdout.contains("all 2 record(s)"), "{v}");
    // An older signature (over the head alone) still counts, and is said not to bind its log.
    assert!(v.stdout.contains("1 signature(s) not bound to their log"), "{v}");
    // The shown state has no problem with it.
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    assert_eq!(show["problems"].as_array().map(Vec::len), Some(0), "{show}");

    // (c) An edited note: the signature no longer matches.
    std::fs::write(&log, text.replace("\"first\"", "\"forged\"")).expect("edit");
    let v = run(&world, &alice, None, &["verify", &id]).code(1);
    assert!(v.stdout.contains("signature does not match"), "{v}");
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    let problems = show["problems"].to_string();
    assert!(problems.contains("signature does not match"), "{problems}");
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[test]
fn required_signatures_refuse_unsigned_writers_first_and_the_fold_never_applies_them() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let eve_key = ssh.keygen("eve", "ed25519");
    ssh.agent(&[&alice_key, &eve_key]);
    allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let sock = ssh.sock();
    let alice_pub = alice_key.with_extension("pub");
    let alice_pub = alice_pub.to_str().expect("utf8");

    // Declaring with the requirement needs a key first.
    let r = run(
        &world,
        &world.who("alice", "jump"),
        Some(&sock),
        &[
            "declare",
            "--playbook",
            "ransomware",
            "--title",
            "T",
            "--severity",
            "2",
            "--require-signatures",
        ],
    )
    .code(1);
    assert!(r.stderr.contains("--require-signatures needs your signing key"), "{r}");

    let alice = world.who("alice", "jump");
    let id = declare(
        &world,
        &alice,
        Some(&sock),
        &["--sign", alice_pub, "--require-signatures"],
    );
    assert!(world.root().join(&id).join("incident.ron").exists());
    // Several keys in the agent: `agent` alone is ambiguous, and says what to do.
    let r = run(&world, &alice, Some(&sock), &["--sign", "agent", "note", &id, "y"]).code(1);
    assert!(r.stderr.contains("say which one signs"), "{r}");

    // Bob without a key: refused before anything is written.
    let bob = world.who("bob", "laptop");
    let r = run(&world, &bob, Some(&sock), &["note", &id, "unsigned"]).code(1);
    assert!(
        r.stderr
            .contains("requires SSH-signed records and no signing key is set"),
        "{r}"
    );
    assert!(
        world.logs(&id).iter().all(|p| !p.to_string_lossy().contains("bob@")),
        "nothing written for bob"
    );
    // Bob with a key that allowed_signers does not allow for him: refused first too.
    let eve_pub = eve_key.with_extension("pub");
    let r = run(
        &world,
        &bob,
        Some(&sock),
        &["--sign", eve_pub.to_str().expect("utf8"), "note", &id, "x"],
    )
    .code(1);
    assert!(r.stderr.contains("would be refused"), "{r}");
    // No agent at all: a clear error.
    let r = run(&world, &bob, None, &["--sign", "agent", "note", &id, "x"]).code(1);
    assert!(r.stderr.contains("SSH_AUTH_SOCK is not set"), "{r}");

    // A hand-written unsigned log for bob: a problem with the reason, never state.
    let dir = world.events_dir(&id);
    let genesis = blake3_hex(format!("{id}\nbob@laptop").as_bytes());
    let at = chrono_now_ms() + 5;
    std::fs::write(
        dir.join("bob@laptop.zzzzzz.ronl"),
        format!("(v:1,id:\"01JDUNSIGNED00000000000000\",at:{at},wall:{at},occurred:None,by:\"bob@laptop\",seq:1,prev:\"{genesis}\",kind:\"TitleChanged\",body:(title:\"Hijacked\"))\n"),
    )
    .expect("plant");
    // Alice's own signed note is state.
    run(
        &world,
        &alice,
        Some(&sock),
        &["--sign", alice_pub, "note", &id, "signed by alice"],
    )
    .ok();
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    assert_eq!(show["title"], "Signed");
    let problems = show["problems"].to_string();
    assert!(
        problems.contains("TitleChanged not applied: it carries no valid SSH signature"),
        "{problems}"
    );
    assert_eq!(show["notes"], 1, "alice's signed note is applied");

    // (e) verify, per writer.
    let v = run(&world, &alice, None, &["verify", &id]).code(1);
    assert!(
        v.stdout.contains("alice@jump.") && v.stdout.contains("signed by alice (SHA256:"),
        "{v}"
    );
    assert!(v.stdout.contains("bob@laptop.zzzzzz: unsigned (1 record(s))"), "{v}");
    assert!(
        v.stdout
            .contains("carry no valid SSH signature, and this incident requires them"),
        "{v}"
    );
}

#[test]
fn an_ecdsa_key_file_signs_without_an_agent_and_ssh_keygen_agrees() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("carol", "ecdsa");
    let allowed = allowed_signers(
        &world,
        &[format!("carol@desk namespaces=\"warroom-event\" {}", ssh.public(&key))],
    );
    let carol = world.who("carol", "desk");
    let id = declare(&world, &carol, None, &["--sign", key.to_str().expect("utf8")]);
    let sigs = signatures(&world.log_of(&carol, &id));
    assert_eq!(sigs.len(), 1);
    let (ok, said) = ssh.keygen_verify(&allowed, "carol@desk", &sigs[0].1, &sigs[0].2);
    assert!(ok, "{said}");
    let v = run(&world, &carol, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by carol@desk (SHA256:"), "{v}");
}

/// About one nistp256 or nistp384 key in 512 (nistp521: one in 4) has a private scalar that
/// OpenSSH writes short (an mpint drops its leading zero byte); ssh-key 0.6 alone refuses such a
/// file. tests/data/keys holds one per curve, made by ssh-keygen.
#[test]
fn ecdsa_key_files_with_a_short_private_scalar_sign_and_ssh_keygen_agrees() {
    let ssh = Ssh::new();
    for curve in ["p256", "p384", "p521"] {
        let world = World::new();
        let carol = world.who("carol", "desk");
        let key = ssh.fixture(&format!("ecdsa-{curve}-short-scalar"));
        let text = std::fs::read_to_string(&key).expect("key");
        assert!(
            ssh_key::PrivateKey::from_openssh(&text).is_err(),
            "{curve}: ssh-key reads it itself now"
        );
        let allowed = allowed_signers(
            &world,
            &[format!("carol@desk namespaces=\"warroom-event\" {}", ssh.public(&key))],
        );
        let id = declare(&world, &carol, None, &["--sign", key.to_str().expect("utf8")]);
        let sigs = signatures(&world.log_of(&carol, &id));
        assert_eq!(sigs.len(), 1, "{curve}");
        let (ok, said) = ssh.keygen_verify(&allowed, "carol@desk", &sigs[0].1, &sigs[0].2);
        assert!(ok, "{curve}: {said}");
        let v = run(&world, &carol, None, &["verify", &id]).ok();
        assert!(v.stdout.contains("signed by carol@desk (SHA256:"), "{curve}: {v}");
    }
}

#[test]
fn without_an_allowed_signers_file_signatures_are_reported_unchecked_not_as_tampering() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("dave", "ed25519");
    let dave = world.who("dave", "desk");
    let id = declare(&world, &dave, None, &["--sign", key.to_str().expect("utf8")]);
    let v = run(&world, &dave, None, &["verify", &id]).ok();
    assert!(
        v.stdout.contains("signed with SHA256:") && v.stdout.contains("not checked: no allowed_signers file"),
        "{v}"
    );
    let show = run(&world, &dave, None, &["show", &id, "--json"]).ok().json();
    assert_eq!(show["problems"].as_array().map(Vec::len), Some(0), "{show}");
}

#[test]
fn exports_and_bundles_carry_a_detached_signature_that_verify_and_bundle_check_check() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("erin", "ed25519");
    let allowed = allowed_signers(
        &world,
        &[format!("erin namespaces=\"warroom-export\" {}", ssh.public(&key))],
    );
    let erin = world.who("erin", "desk");
    let k = key.to_str().expect("utf8");
    let id = declare(&world, &erin, None, &[]);
    let out = world.path().join("export.md");
    let o = out.to_str().expect("utf8");
    run(&world, &erin, None, &["--sign", k, "export", &id, "-o", o]).ok();
    let sig = std::fs::read_to_string(format!("{o}.sig")).expect("export.md.sig");
    // OpenSSH agrees.
    let check = Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(&allowed)
        .args(["-I", "erin", "-n", "warroom-export", "-s"])
        .arg(format!("{o}.sig"))
        .stdin(std::fs::File::open(&out).expect("export"))
        .output()
        .expect("ssh-keygen");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----"));
    let v = run(&world, &erin, None, &["verify", "--file", o]).ok();
    assert!(v.stdout.contains("signed by erin (SHA256:"), "{v}");
    // An edited export does not match.
    std::fs::write(&out, std::fs::read_to_string(&out).expect("read") + "forged\n").expect("edit");
    let v = run(&world, &erin, None, &["verify", "--file", o]).code(1);
    assert!(v.stdout.contains("signature does not match"), "{v}");

    // A bundle, signed; bundle --check checks the signature too.
    let tar = world.path().join("b.tar");
    let t = tar.to_str().expect("utf8");
    run(&world, &erin, None, &["--sign", k, "bundle", &id, "-o", t]).ok();
    let c = run(&world, &erin, None, &["bundle", "--check", t]).ok();
    assert!(
        c.stdout.contains("signature:") && c.stdout.contains("signed by erin"),
        "{c}"
    );
    let mut bytes = std::fs::read(&tar).expect("tar");
    bytes.extend_from_slice(&[0u8; 512]);
    std::fs::write(&tar, bytes).expect("append");
    let c = run(&world, &erin, None, &["bundle", "--check", t]).code(1);
    assert!(c.stdout.contains("signature does not match"), "{c}");
}

/// Append a hand-written record, correctly chained, to `log` (an attacker with write access).
fn plant(log: &Path, by: &str, kind: &str, body: &str, n: u64) {
    let lines = lines_of(log);
    let last = lines.last().expect("a line");
    let seq: u64 = field(last, "seq:").parse().unwrap_or_else(|_| {
        let from = last.find("seq:").expect("seq") + 4;
        last[from..].split(',').next().expect("seq").parse().expect("seq")
    });
    let at = chrono_now_ms() + 10;
    let line = format!(
        "(v:1,id:\"01JDPLANTED0000000000000{n:02}\",at:{at},wall:{at},occurred:None,by:\"{by}\",seq:{},prev:\"{}\",kind:\"{kind}\",body:{body})\n",
        seq + 1,
        blake3_hex(last.as_bytes())
    );
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(log).expect("open");
    f.write_all(line.as_bytes()).expect("plant");
}

#[test]
fn an_unsigned_disowned_cancels_nothing_and_the_writer_never_signs_over_a_planted_line() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    ssh.agent(&[&alice_key]);
    allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let sock = ssh.sock();
    let alice = world.who("alice", "jump");
    let id = declare(
        &world,
        &alice,
        Some(&sock),
        &["--sign", "agent", "--require-signatures"],
    );
    run(&world, &alice, Some(&sock), &["--sign", "agent", "note", &id, "signed"]).ok();
    let log = world.log_of(&alice, &id);
    let n = lines_of(&log).len() as u64;

    // Unsigned, chained: disown everything alice wrote (the declaration too), then a forged
    // severity change.
    let all: Vec<String> = (1..=n).map(|s| s.to_string()).collect();
    plant(
        &log,
        &alice.writer(),
        "Disowned",
        &format!("(seqs:[{}])", all.join(",")),
        1,
    );
    plant(&log, &alice.writer(), "SeverityChanged", "(severity:1,reason:None)", 2);
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    let text = show.to_string();
    assert_eq!(show["title"], "Signed", "{text}");
    assert!(!text.contains("never wrote this record"), "{text}");
    assert_eq!(show["notes"], 1, "{text}");
    assert!(
        text.contains("Disowned not applied: it carries no valid SSH signature"),
        "{text}"
    );
    assert!(
        text.contains("SeverityChanged not applied: it carries no valid SSH signature"),
        "{text}"
    );
    assert_ne!(show["severity"].to_string(), "1", "{text}");

    // Alice's next write would sign over the planted lines: refused, with what to do.
    let before = std::fs::read(&log).expect("log");
    let r = run(&world, &alice, Some(&sock), &["--sign", "agent", "note", &id, "more"]).code(1);
    assert!(r.stderr.contains("TAMPERED") && r.stderr.contains("never wrote"), "{r}");
    assert!(r.stderr.contains(".tampered"), "{r}");
    assert_eq!(std::fs::read(&log).expect("log"), before, "nothing written");

    // Doing what it says: the log is rebuilt from this host's copy and signed.
    std::fs::rename(&log, log.with_extension("ronl.tampered")).expect("rename");
    run(&world, &alice, Some(&sock), &["--sign", "agent", "note", &id, "more"]).ok();
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    assert_eq!(show["notes"], 2, "{show}");
    assert_eq!(show["title"], "Signed");

    // A bundle of this signature-required incident passes the check of a host whose shared
    // allowed_signers is gone: its records are checked against the copy this host kept (never
    // against the one in the bundle).
    let tar = world.path().join("req.tar");
    let t = tar.to_str().expect("utf8");
    run(&world, &alice, None, &["bundle", &id, "-o", t]).ok();
    std::fs::remove_file(world.root().join("allowed_signers")).expect("rm");
    let c = run(&world, &alice, None, &["bundle", "--check", t]).ok();
    assert!(c.stdout.contains("checked against this host's allowed_signers"), "{c}");
    assert!(c.stdout.contains("using the copy this host read at"), "{c}");
    assert!(!c.stdout.contains("TAMPERED"), "{c}");
}

/// Run warroom, killing it if it takes more than 20 s (a read that blocks): its output.
fn run_bounded(world: &World, who: &Who, sock: Option<&Path>, args: &[&str]) -> common::Run {
    let mut c = world.cmd(who);
    c.env_remove("SSH_AUTH_SOCK").env_remove("WARROOM_SIGNING_KEY");
    if let Some(s) = sock {
        c.env("SSH_AUTH_SOCK", s);
    }
    let mut child = c
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("warroom {args:?} hung (blocked on a read)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    common::Run::from_output(child.wait_with_output().expect("output"))
}

#[test]
fn an_allowed_signers_that_is_a_fifo_or_a_symlink_is_not_read_and_hangs_nothing() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    ssh.agent(&[&alice_key]);
    let path = allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let sock = ssh.sock();
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, Some(&sock), &["--sign", "agent"]);

    // A FIFO nobody writes to: every verb still answers.
    std::fs::remove_file(&path).expect("rm");
    let st = Command::new("mkfifo").arg(&path).status().expect("mkfifo");
    assert!(st.success());
    run_bounded(&world, &alice, None, &["show", &id]).ok();
    run_bounded(&world, &alice, None, &["list"]).ok();
    run_bounded(&world, &alice, None, &["verify", &id]);
    run_bounded(&world, &alice, Some(&sock), &["--sign", "agent", "note", &id, "x"]).ok();

    // A symlink below the root to a good file: not followed, so nothing is signed by alice.
    std::fs::remove_file(&path).expect("rm");
    let elsewhere = ssh.dir.path().join("real_allowed_signers");
    std::fs::write(&elsewhere, format!("alice {}\n", ssh.public(&alice_key))).expect("write");
    std::os::unix::fs::symlink(&elsewhere, &path).expect("symlink");
    let v = run_bounded(&world, &alice, None, &["verify", &id]);
    assert!(!v.stdout.contains("signed by alice"), "{v}");
}

#[test]
fn a_key_the_allowed_signers_does_not_allow_is_refused_by_the_writer_even_where_not_required() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let eve_key = ssh.keygen("eve", "ed25519");
    ssh.agent(&[&alice_key, &eve_key]);
    allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let sock = ssh.sock();
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &[]);
    let bob = world.who("bob", "laptop");
    let eve_pub = eve_key.with_extension("pub");
    let r = run(
        &world,
        &bob,
        Some(&sock),
        &["--sign", eve_pub.to_str().expect("utf8"), "note", &id, "x"],
    )
    .code(1);
    assert!(
        r.stderr.contains("every reader would call your signature tampering"),
        "{r}"
    );
    assert!(r.stderr.contains("add a line `bob ssh-ed25519 "), "{r}");
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(!v.stdout.contains("bob@"), "nothing written for bob: {v}");
}

#[test]
fn skipped_allowed_signers_lines_are_named_with_file_line_and_why() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let bob_key = ssh.keygen("bob", "ed25519");
    ssh.agent(&[&alice_key, &bob_key]);
    allowed_signers(
        &world,
        &[
            format!("alice {}", ssh.public(&alice_key)),
            format!("bob cert-authority {}", ssh.public(&bob_key)),
            "this is not a key line".to_string(),
        ],
    );
    let sock = ssh.sock();
    let alice = world.who("alice", "jump");
    let id = declare(
        &world,
        &alice,
        Some(&sock),
        &["--sign", &alice_key.with_extension("pub").to_string_lossy()],
    );
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("allowed_signers:2: skipped"), "{v}");
    assert!(v.stdout.contains("cert-authority"), "{v}");
    assert!(v.stdout.contains("allowed_signers:3: skipped"), "{v}");
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    let problems = show["problems"].to_string();
    assert!(problems.contains("allowed_signers line skipped"), "{problems}");
    // Bob's key is only on the skipped line: the refusal says which line and why.
    let bob = world.who("bob", "laptop");
    let bob_pub = bob_key.with_extension("pub");
    let r = run(
        &world,
        &bob,
        Some(&sock),
        &["--sign", bob_pub.to_str().expect("utf8"), "note", &id, "x"],
    )
    .code(1);
    assert!(r.stderr.contains("line 2 has this key but was skipped"), "{r}");
}

#[test]
fn a_removed_allowed_signers_is_replaced_by_the_copy_this_host_read_and_said_so() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    ssh.agent(&[&alice_key]);
    let path = allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let sock = ssh.sock();
    let alice = world.who("alice", "jump");
    let id = declare(
        &world,
        &alice,
        Some(&sock),
        &["--sign", "agent", "--require-signatures"],
    );
    run(&world, &alice, None, &["show", &id]).ok();
    std::fs::remove_file(&path).expect("rm");
    run(
        &world,
        &alice,
        Some(&sock),
        &["--sign", "agent", "note", &id, "still signed"],
    )
    .ok();
    let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
    assert_eq!(show["title"], "Signed", "{show}");
    assert_eq!(show["notes"], 1, "{show}");
    let problems = show["problems"].to_string();
    assert!(
        problems.contains("allowed_signers is missing from the shared directory")
            && problems.contains("using the copy this host read at"),
        "{problems}"
    );
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by alice"), "{v}");
    assert!(v.stdout.contains("using the copy this host read at"), "{v}");
}

#[test]
fn a_locked_agent_says_how_to_unlock_it() {
    let world = World::new();
    let mut ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    ssh.agent(&[&alice_key]);
    let sock = ssh.sock();
    let askpass = ssh.dir.path().join("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho lockpw\n").expect("askpass");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let mut lock = Command::new("ssh-add")
        .arg("-x")
        .env("SSH_AUTH_SOCK", &sock)
        .env("SSH_ASKPASS", &askpass)
        .env("SSH_ASKPASS_REQUIRE", "force")
        .env("DISPLAY", ":0")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ssh-add -x");
    drop(lock.stdin.take());
    if !lock.wait().expect("wait").success() {
        eprintln!("ssh-add -x needs a terminal here: skipped");
        return;
    }
    let alice = world.who("alice", "jump");
    let r = run(
        &world,
        &alice,
        Some(&sock),
        &[
            "--sign",
            "agent",
            "declare",
            "--playbook",
            "ransomware",
            "--title",
            "T",
            "--severity",
            "2",
        ],
    )
    .code(1);
    assert!(r.stderr.contains("ssh-add -X"), "{r}");
}

/// The fingerprint `ssh-keygen -l` gives a key: `SHA256:...`.
fn fingerprint(key: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(key.with_extension("pub"))
        .output()
        .expect("ssh-keygen -l");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .expect("fingerprint")
        .to_string()
}

#[test]
fn bundle_check_judges_a_remade_bundle_by_this_hosts_allowed_signers_and_says_when_it_is_unsigned() {
    let home = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let bob_key = ssh.keygen("bob", "ed25519");
    let mallory_key = ssh.keygen("mallory", "ed25519");
    allowed_signers(
        &home,
        &[
            format!("alice {}", ssh.public(&alice_key)),
            format!("bob {}", ssh.public(&bob_key)),
        ],
    );
    let alice = home.who("alice", "jump");
    let id = declare(&home, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);

    // An honest, unsigned bundle passes, and says plainly that who made it is not proven.
    let honest = home.path().join("honest.tar");
    let h = honest.to_str().expect("utf8");
    run(&home, &alice, None, &["bundle", &id, "-o", h]).ok();
    let c = run(&home, &alice, None, &["bundle", "--check", h]).ok();
    assert!(c.stdout.contains("not signed: who made it is not proven"), "{c}");
    assert!(c.stdout.contains("checked against this host's allowed_signers"), "{c}");

    // Mallory copies the incident, maps bob to her key, writes as bob, bundles, drops the .sig.
    let evil = World::new();
    std::fs::create_dir_all(evil.root()).expect("root");
    let cp = Command::new("cp")
        .arg("-r")
        .arg(home.root().join(&id))
        .arg(evil.root())
        .status()
        .expect("cp");
    assert!(cp.success());
    allowed_signers(
        &evil,
        &[
            format!("alice {}", ssh.public(&alice_key)),
            format!("bob {}", ssh.public(&mallory_key)),
        ],
    );
    let fake_bob = evil.who("bob", "laptop");
    let m = mallory_key.to_str().expect("utf8");
    run(&evil, &fake_bob, None, &["--sign", m, "note", &id, "FORGED: all clear"]).ok();
    let forged = home.path().join("forged.tar");
    let f = forged.to_str().expect("utf8");
    run(&evil, &fake_bob, None, &["--sign", m, "bundle", &id, "-o", f]).ok();
    std::fs::remove_file(format!("{f}.sig")).expect("rm .sig");
    // Where it was made, it looks fine.
    run(&evil, &fake_bob, None, &["bundle", "--check", f]).ok();

    // Here it does not.
    let c = run(&home, &alice, None, &["bundle", "--check", f]).code(1);
    assert!(c.stdout.contains("not signed: who made it is not proven"), "{c}");
    assert!(
        c.stdout.contains(&format!(
            "TRUST: the bundle's allowed_signers gives bob key {}; this host's gives bob {}",
            fingerprint(&mallory_key),
            fingerprint(&bob_key)
        )),
        "{c}"
    );
    assert!(
        c.stdout.contains("TAMPERED:") && c.stdout.contains("verify FAILED"),
        "{c}"
    );
    assert!(!c.stdout.contains("ok:"), "{c}");

    // A host that requires signatures refuses even the honest bundle without its .sig.
    let cfg = home.path().join("cfg").join("warroom");
    std::fs::create_dir_all(&cfg).expect("cfg");
    std::fs::write(cfg.join("config.ron"), "(signing: (require: true))\n").expect("config");
    let c = run(&home, &alice, None, &["bundle", "--check", h]).code(1);
    assert!(c.stdout.contains("this host requires signatures"), "{c}");
}

#[test]
fn principal_patterns_and_one_key_for_two_responders_are_skipped_so_nobody_signs_as_anyone() {
    let world = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let dave_key = ssh.keygen("dave", "ed25519");
    allowed_signers(
        &world,
        &[
            format!("alice {}", ssh.public(&alice_key)),
            format!("* {}", ssh.public(&dave_key)),
            format!("carol,dave {}", ssh.public(&dave_key)),
        ],
    );
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(
        v.stdout
            .contains("allowed_signers:2: skipped, does not count: principal patterns are not accepted"),
        "{v}"
    );
    assert!(
        v.stdout
            .contains("allowed_signers:3: skipped, does not count: one key for several responders (carol, dave)"),
        "{v}"
    );
    // Dave's key cannot sign as alice (nor as dave).
    let d = dave_key.to_str().expect("utf8");
    let r = run(
        &world,
        &world.who("alice", "desk"),
        None,
        &["--sign", d, "note", &id, "x"],
    )
    .code(1);
    assert!(r.stderr.contains("line 2 has this key but was skipped"), "{r}");
    let r = run(
        &world,
        &world.who("dave", "desk"),
        None,
        &["--sign", d, "note", &id, "x"],
    )
    .code(1);
    assert!(r.stderr.contains("line 3 has this key but was skipped"), "{r}");
}

#[test]
fn a_changed_key_in_the_shared_allowed_signers_is_said_loudly_until_accepted() {
    let world = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let mallory_key = ssh.keygen("mallory", "ed25519");
    let path = allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(!v.stdout.contains("key changed"), "{v}");
    std::fs::write(&path, format!("alice {}\n", ssh.public(&mallory_key))).expect("replace");
    let said = format!(
        "alice's key changed ({} → {}) since this host last read it; records signed with the old key no longer verify",
        fingerprint(&alice_key),
        fingerprint(&mallory_key)
    );
    for _ in 0..2 {
        // Said on every read, not once.
        let v = run(&world, &alice, None, &["verify", &id]);
        assert!(v.stdout.contains(&format!("allowed_signers: {said}")), "{v}");
        let show = run(&world, &alice, None, &["show", &id, "--json"]).ok().json();
        assert!(show["problems"].to_string().contains(&said), "{show}");
    }
    // verify --file (an export's signature) says it too.
    let v = run(
        &world,
        &alice,
        None,
        &["verify", "--file", path.to_str().expect("utf8")],
    );
    assert!(v.stdout.contains(&said), "{v}");
    // Accepting it: delete this host's copy, as the message says.
    let trust = alice.state.join("trust");
    let kept: Vec<_> = std::fs::read_dir(&trust).expect("trust/").flatten().collect();
    assert_eq!(kept.len(), 1);
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(v.stdout.contains(&kept[0].path().display().to_string()), "{v}");
    std::fs::remove_file(kept[0].path()).expect("accept");
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(!v.stdout.contains("key changed"), "{v}");
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(!v.stdout.contains("key changed"), "{v}");
    // A line for the same person under a writer id (`alice@h3 <another key>`) is a new key for
    // alice, not a new responder: said until accepted.
    let other = ssh.keygen("other", "ed25519");
    std::fs::write(
        &path,
        format!("alice {}\nalice@h3 {}\n", ssh.public(&mallory_key), ssh.public(&other)),
    )
    .expect("append");
    // Only the added key is named, with its type and line.
    let joined = format!(
        "alice's key was joined by another key, {} (ssh-ed25519, line 2)",
        fingerprint(&other)
    );
    for _ in 0..2 {
        let v = run(&world, &alice, None, &["verify", &id]);
        assert!(v.stdout.contains(&joined), "{v}");
        assert!(v.stdout.contains(&fingerprint(&other)), "{v}");
    }
    // A record signed with that key (from a host that never read the file before, so it took
    // the key in) vouches for nothing on this host until the change is accepted here: the
    // writer here refuses to sign with it, and a reader here does not call it signed.
    let o = other.to_str().expect("utf8");
    let h3 = world.who("alice", "h3");
    run(
        &world,
        &h3,
        None,
        &["--sign", o, "note", &id, "mallory is in charge now"],
    )
    .ok();
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(
        v.stdout.contains("came with a key change this host has not accepted"),
        "{v}"
    );
    assert!(!v.stdout.contains("signed by alice@h3"), "{v}");
    // The writer refuses first, for the reason readers here would give: with a line that
    // allows the key for alice on any host, signing with it here is still refused.
    std::fs::write(
        &path,
        format!(
            "alice {}\nalice@h3 {}\nalice {}\n",
            ssh.public(&mallory_key),
            ssh.public(&other),
            ssh.public(&other)
        ),
    )
    .expect("rewrite");
    let r = run(&world, &alice, None, &["--sign", o, "note", &id, "x"]);
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stderr.contains("has not accepted"), "{r}");
    // The line is already there: the hint is to accept the change here, not to add a line.
    assert!(!r.stderr.contains("add a line"), "{r}");
    assert!(r.stderr.contains("accept it by deleting this host's copy"), "{r}");
}

#[test]
fn an_rsa_key_file_signs_without_an_agent_and_ssh_keygen_agrees() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("dave", "rsa");
    let allowed = allowed_signers(&world, &[format!("dave {}", ssh.public(&key))]);
    let dave = world.who("dave", "desk");
    let id = declare(&world, &dave, None, &["--sign", key.to_str().expect("utf8")]);
    let sigs = signatures(&world.log_of(&dave, &id));
    assert_eq!(sigs.len(), 1);
    let (ok, said) = ssh.keygen_verify(&allowed, "dave", &sigs[0].1, &sigs[0].2);
    assert!(ok, "{said}");
    let v = run(&world, &dave, None, &["verify", &id]).ok();
    assert!(v.stdout.contains("signed by dave (SHA256:"), "{v}");
}

#[test]
fn a_key_limited_to_other_namespaces_is_told_so_not_that_it_is_missing() {
    let world = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let erin_key = ssh.keygen("erin", "ed25519");
    allowed_signers(
        &world,
        &[
            format!("alice {}", ssh.public(&alice_key)),
            format!("erin namespaces=\"git\" {}", ssh.public(&erin_key)),
        ],
    );
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);
    let erin = world.who("erin", "desk");
    let e = erin_key.to_str().expect("utf8");
    let r = run(&world, &erin, None, &["--sign", e, "note", &id, "x"]).code(1);
    assert!(
        r.stderr
            .contains("is in allowed_signers (line 2) but only for namespaces=\"git\", not `warroom-event`"),
        "{r}"
    );
    assert!(!r.stderr.contains("add a line"), "{r}");
    // Alice's key, limited to records, signs an export: warned, and verify --file says why.
    allowed_signers(
        &world,
        &[format!("alice namespaces=\"warroom-event\" {}", ssh.public(&alice_key))],
    );
    let out = world.path().join("e.md");
    let o = out.to_str().expect("utf8");
    let a = alice_key.to_str().expect("utf8");
    let r = run(&world, &alice, None, &["--sign", a, "export", &id, "-o", o]).ok();
    assert!(
        r.stderr.contains("warning:") && r.stderr.contains("will not verify"),
        "{r}"
    );
    let v = run(&world, &alice, None, &["verify", "--file", o]).code(1);
    assert!(
        v.stdout
            .contains("only for namespaces=\"warroom-event\", not `warroom-export`")
            && v.stdout
                .contains("warroom signs records in `warroom-event` and exports and bundles in `warroom-export`"),
        "{v}"
    );
    // Cosmetic: an edited export says "does not match" once; a missing file says it is missing.
    std::fs::write(&out, "edited\n").expect("edit");
    let v = run(&world, &alice, None, &["verify", "--file", o]).code(1);
    assert!(
        !v.stdout.contains("signature does not match (signature does not match"),
        "{v}"
    );
    let missing = world.path().join("nonexist");
    let v = run(
        &world,
        &alice,
        None,
        &["verify", "--file", missing.to_str().expect("utf8")],
    );
    assert_ne!(v.code, 0, "{v}");
    assert!(
        v.stderr.contains("cannot read") && !v.stdout.contains("no detached signature"),
        "{v}"
    );
}

#[test]
fn someone_elses_public_key_listed_under_another_name_counts_for_neither_and_is_said_neutrally() {
    let world = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let bob = format!("bob {}", ssh.public(&ssh.keygen("bob", "ed25519")));
    let path = allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key)), bob.clone()]);
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);
    run(&world, &alice, None, &["verify", &id]).ok();
    // zed lists alice's public key as line 1 (no private key needed).
    std::fs::write(&path, format!("zed {0}\nalice {0}\n{bob}\n", ssh.public(&alice_key))).expect("write");
    let said = format!(
        "key {} is given to zed (line 1) and alice (line 2): it counts for neither until one line is removed; this host last read it as alice's",
        fingerprint(&alice_key)
    );
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(
        v.stdout
            .contains(&format!("allowed_signers:1: skipped, does not count: {said}")),
        "{v}"
    );
    assert!(
        v.stdout
            .contains(&format!("allowed_signers:2: skipped, does not count: {said}")),
        "{v}"
    );
    assert!(!v.stdout.contains("give alice their own key"), "{v}");
    // Said as what happened (her key copied under zed's name), with no advice to accept it.
    assert!(v.stdout.contains("is now also given to zed (line 1)"), "{v}");
    assert!(!v.stdout.contains("alice's key was removed"), "{v}");
    assert!(!v.stdout.contains("accept it by deleting"), "{v}");
    // The key signs for neither.
    let k = alice_key.to_str().expect("utf8");
    for who in ["alice", "zed"] {
        let r = run(&world, &world.who(who, "desk"), None, &["--sign", k, "note", &id, "x"]).code(1);
        assert!(r.stderr.contains("it counts for neither"), "{r}");
    }
}

#[test]
fn a_key_rotated_the_documented_way_keeps_earlier_records_verifying() {
    let world = World::new();
    let ssh = Ssh::new();
    let old_key = ssh.keygen("alice", "ed25519");
    let new_key = ssh.keygen("alice2", "ed25519");
    let (old_pub, new_pub) = (ssh.public(&old_key), ssh.public(&new_key));
    let path = allowed_signers(&world, &[format!("alice {old_pub}")]);
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", old_key.to_str().expect("utf8")]);
    run(&world, &alice, None, &["verify", &id]).ok();
    // Replacing the line outright: the message says how to rotate instead.
    std::fs::write(&path, format!("alice {new_pub}\n")).expect("replace");
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(
        v.stdout
            .contains("to rotate a key, keep the old key's line beside the new one"),
        "{v}"
    );
    // The documented way: the old line stays, limited to before the rotation; the new beside it.
    let at = chrono::DateTime::from_timestamp_millis(chrono_now_ms() + 1000)
        .expect("now")
        .format("%Y%m%d%H%M%SZ");
    std::fs::write(
        &path,
        format!("alice valid-before=\"{at}\" {old_pub}\nalice {new_pub}\n"),
    )
    .expect("rotate");
    let v = run(&world, &alice, None, &["verify", &id]);
    assert!(v.stdout.contains("alice's key was joined by another key"), "{v}");
    // Accept it by deleting this host's copy, as the message says.
    let trust = alice.state.join("trust");
    for f in std::fs::read_dir(&trust).expect("trust/").flatten() {
        std::fs::remove_file(f.path()).expect("accept");
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run(
        &world,
        &alice,
        None,
        &["--sign", new_key.to_str().expect("utf8"), "note", &id, "after rotation"],
    )
    .ok();
    let v = run(&world, &alice, None, &["verify", &id]).ok();
    assert!(
        !v.stdout.contains("TAMPERED") && !v.stdout.contains("does not match"),
        "{v}"
    );
    assert!(!v.stdout.contains("key changed") && !v.stdout.contains("joined"), "{v}");
    assert!(
        v.stdout
            .contains(&format!("signed by alice ({})", fingerprint(&new_key))),
        "{v}"
    );
}

#[test]
fn bundle_check_says_no_trusted_key_made_it_and_never_trusts_a_key_from_an_unaccepted_change() {
    let world = World::new();
    let ssh = Ssh::new();
    let alice_key = ssh.keygen("alice", "ed25519");
    let mallory_key = ssh.keygen("mallory", "ed25519");
    let path = allowed_signers(&world, &[format!("alice {}", ssh.public(&alice_key))]);
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", alice_key.to_str().expect("utf8")]);
    run(&world, &alice, None, &["verify", &id]).ok();
    let tar = world.path().join("b.tar");
    let t = tar.to_str().expect("utf8");
    let m = mallory_key.to_str().expect("utf8");
    run(&world, &alice, None, &["--sign", m, "bundle", &id, "-o", t]).ok();
    // A key no line lists.
    let c = run(&world, &alice, None, &["bundle", "--check", t]).code(1);
    assert!(c.stdout.contains("no key this host trusts made it"), "{c}");
    assert!(!c.stdout.contains("anyone"), "{c}");
    // The same key, now given to alice by a change this host has not accepted: not trusted.
    std::fs::write(
        &path,
        format!(
            "alice {}\nalice@h3 {}\n",
            ssh.public(&alice_key),
            ssh.public(&mallory_key)
        ),
    )
    .expect("append");
    for _ in 0..2 {
        let c = run(&world, &alice, None, &["bundle", "--check", t]).code(1);
        assert!(
            c.stdout.contains("came with a key change this host has not accepted")
                && c.stdout.contains("alice's key was joined by another key"),
            "{c}"
        );
        assert!(!c.stdout.contains("a key this host trusts signed the bundle"), "{c}");
        let v = run(&world, &alice, None, &["verify", "--file", t]).code(1);
        assert!(v.stdout.contains("not trusted yet"), "{v}");
    }
    // Accepted: trusted.
    for f in std::fs::read_dir(alice.state.join("trust")).expect("trust/").flatten() {
        std::fs::remove_file(f.path()).expect("accept");
    }
    let c = run(&world, &alice, None, &["bundle", "--check", t]).ok();
    assert!(c.stdout.contains("a key this host trusts signed the bundle"), "{c}");
}

/// A key change of `allowed_signers` that this host has not accepted is its own status in
/// `verify` (exit 3, "PENDING ACCEPTANCE"), never `TAMPERED`: the records are intact. A change no
/// signature depends on is said and exits 0; an edited record is still TAMPERED (exit 1).
#[test]
fn a_pending_key_change_is_its_own_status_and_tampering_is_still_tampered() {
    let world = World::new();
    let ssh = Ssh::new();
    let (old, new) = (ssh.keygen("alice", "ed25519"), ssh.keygen("alice2", "ed25519"));
    let (carol, carol2) = (ssh.keygen("carol", "ed25519"), ssh.keygen("carol2", "ed25519"));
    let (old_pub, new_pub, carol_pub) = (ssh.public(&old), ssh.public(&new), ssh.public(&carol));
    let path = allowed_signers(&world, &[format!("alice {old_pub}"), format!("carol {carol_pub}")]);
    let (alice, bob) = (world.who("alice", "jump"), world.who("bob", "h2"));
    let old_s = old.to_str().expect("utf8");
    let id = declare(&world, &alice, None, &["--sign", old_s]);
    run(&world, &alice, None, &["--sign", old_s, "note", &id, "before"]).ok();
    run(&world, &bob, None, &["verify", &id]).ok();
    // Carol's key replaced: said, but no signature here depends on it.
    std::fs::write(&path, format!("alice {old_pub}\ncarol {}\n", ssh.public(&carol2))).expect("carol");
    let v = run(&world, &bob, None, &["verify", &id]).ok();
    assert!(
        v.stdout
            .contains("PENDING ACCEPTANCE: allowed_signers: carol's key changed"),
        "{v}"
    );
    assert!(v.stdout.contains("which no signature here depends on"), "{v}");
    // Alice rotates the documented way, accepts on her host and signs with the new key.
    let at = chrono::DateTime::from_timestamp_millis(chrono_now_ms() + 1000)
        .expect("now")
        .format("%Y%m%d%H%M%SZ");
    let rotated = format!("alice valid-before=\"{at}\" {old_pub}\nalice {new_pub}\ncarol {carol_pub}\n");
    std::fs::write(&path, &rotated).expect("rotate");
    for f in std::fs::read_dir(alice.state.join("trust")).expect("trust/").flatten() {
        std::fs::remove_file(f.path()).expect("accept");
    }
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let new_s = new.to_str().expect("utf8");
    run(&world, &alice, None, &["--sign", new_s, "note", &id, "after"]).ok();
    // Bob has not accepted: pending, exit 3, not tampering.
    let v = run(&world, &bob, None, &["verify", &id]).code(3);
    assert!(!v.stdout.contains("TAMPERED"), "{v}");
    assert!(
        v.stdout
            .contains("PENDING ACCEPTANCE: allowed_signers: alice's key was joined"),
        "{v}"
    );
    assert!(
        v.stdout.contains(&format!(
            "the signature counts for nothing here until the change is accepted: key {} came with a key change this host has not accepted",
            fingerprint(&new)
        )),
        "{v}"
    );
    assert!(v.stdout.contains("accept it by deleting this host's copy"), "{v}");
    // show (like the console) says the same, not "does not match".
    let show = run(&world, &bob, None, &["show", &id, "--json"]).ok().json();
    let problems = show["problems"].to_string();
    assert!(
        problems.contains("signature awaits acceptance of the allowed_signers change: key"),
        "{problems}"
    );
    assert!(!problems.contains("does not match"), "{problems}");
    assert!(
        v.stderr
            .contains("every chain and head checks out, but 1 signature(s) count for nothing until this host accepts"),
        "{v}"
    );
    // An edited record is tampering, pending change or not.
    let log = world.log_of(&alice, &id);
    let bytes = std::fs::read(&log).expect("log");
    let edited = String::from_utf8_lossy(&bytes).replacen("before", "bef0re", 1);
    std::fs::write(&log, edited).expect("edit");
    let v = run(&world, &bob, None, &["verify", &id]).code(1);
    assert!(v.stdout.contains("TAMPERED:"), "{v}");
    std::fs::write(&log, &bytes).expect("restore");
    run(&world, &bob, None, &["verify", &id]).code(3);
    // Bob accepts: clean.
    for f in std::fs::read_dir(bob.state.join("trust")).expect("trust/").flatten() {
        std::fs::remove_file(f.path()).expect("accept");
    }
    let v = run(&world, &bob, None, &["verify", &id]).ok();
    assert!(!v.stdout.contains("PENDING"), "{v}");
    // The old line removed outright: the old key's signatures are allowed by the accepted copy,
    // so they wait for acceptance too (and the message says how to rotate instead).
    std::fs::write(&path, format!("alice {new_pub}\ncarol {carol_pub}\n")).expect("remove");
    let v = run(&world, &bob, None, &["verify", &id]).code(3);
    assert!(!v.stdout.contains("TAMPERED"), "{v}");
    assert!(
        v.stdout.contains(&format!(
            "key {} is not in allowed_signers for `alice@jump` (the copy this host accepted allows it)",
            fingerprint(&old)
        )),
        "{v}"
    );
    assert!(v.stdout.contains("to rotate a key"), "{v}");
}

/// Signing with a key rotated out by `valid-before` is refused with when it expired and which key
/// to use, never with advice to add a line for the old key (that would undo the rotation).
#[test]
fn signing_with_a_rotated_out_key_says_when_it_expired_and_which_key_to_use() {
    let world = World::new();
    let ssh = Ssh::new();
    let (old, new) = (ssh.keygen("alice", "ed25519"), ssh.keygen("alice2", "ed25519"));
    allowed_signers(
        &world,
        &[
            format!("alice valid-before=\"20260101093000Z\" {}", ssh.public(&old)),
            format!("alice {}", ssh.public(&new)),
        ],
    );
    let alice = world.who("alice", "jump");
    let id = declare(&world, &alice, None, &["--sign", new.to_str().expect("utf8")]);
    let r = run(
        &world,
        &alice,
        None,
        &["--sign", old.to_str().expect("utf8"), "note", &id, "old habits"],
    )
    .code(1);
    assert!(
        r.stderr.contains(&format!(
            "your key {} expired at 2026-01-01 09:30:00 UTC (valid-before on allowed_signers line 1): it was rotated out; sign with your current key, {} (line 2)",
            fingerprint(&old),
            fingerprint(&new)
        )),
        "{r}"
    );
    assert!(!r.stderr.contains("add a line"), "{r}");
    assert_eq!(
        world
            .tail_json(&alice, &id)
            .iter()
            .filter(|e| e["kind"] == "Note")
            .count(),
        0
    );
}

/// An `allowed_signers` whose every line is skipped allows no key: readers judge signatures
/// against it (not "not checked"), so the writer refuses first, saying why. A file with no line to
/// judge (empty, comments only) is like no file: signed, and readers say it is not checked.
#[test]
fn a_file_whose_every_line_is_skipped_is_judged_and_the_writer_refuses_first() {
    let world = World::new();
    let ssh = Ssh::new();
    let key = ssh.keygen("alice", "ed25519");
    let (public, k) = (ssh.public(&key), key.to_str().expect("utf8"));
    let alice = world.who("alice", "jump");
    let path = allowed_signers(&world, &["# team keys".to_string()]);
    let id = declare(&world, &alice, None, &[]);
    // One key for everyone: both lines skipped.
    std::fs::write(&path, format!("alice {public}\nbob {public}\n")).expect("shared");
    let r = run(&world, &alice, None, &["--sign", k, "note", &id, "x"]).code(1);
    assert!(
        r.stderr.contains("every reader would call your signature tampering"),
        "{r}"
    );
    assert!(
        r.stderr.contains("is given to alice (line 1) and bob (line 2)")
            && r.stderr
                .contains("every line of allowed_signers was skipped (2 line(s)), so it allows no key at all"),
        "{r}"
    );
    assert!(!r.stderr.contains("add a line"), "{r}");
    // Patterns only: the same.
    std::fs::write(&path, format!("* {public}\n")).expect("pattern");
    let r = run(&world, &alice, None, &["--sign", k, "note", &id, "x"]).code(1);
    assert!(r.stderr.contains("principal patterns are not accepted"), "{r}");
    assert!(
        r.stderr
            .contains("every line of allowed_signers was skipped (1 line(s))"),
        "{r}"
    );
    let notes = world
        .tail_json(&alice, &id)
        .iter()
        .filter(|e| e["kind"] == "Note")
        .count();
    assert_eq!(notes, 0, "nothing written");
    // Empty, or comments only: nothing to judge against, like no file.
    for text in ["", "# keys go here\n\n"] {
        std::fs::write(&path, text).expect("empty");
        run(&world, &alice, None, &["--sign", k, "note", &id, "unchecked"]).ok();
        let v = run(&world, &alice, None, &["verify", &id]).ok();
        assert!(
            v.stdout
                .contains("but not checked: no allowed_signers file, or one that lists no keys"),
            "{v}"
        );
    }
}
