//! `warroom ingest`: alerts from stdin, over HTTP, and from a real Prometheus Alertmanager.
//!
//! The Alertmanager test needs Debian's `prometheus-alertmanager` (`.ci/run` installs it). Without
//! the binary it is skipped with a message — unless `CI` is set, where it must run.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const RULES: &str = r#"(rules: [
    (name: "ransom", labels: {"alertname": "FilesEncrypted*"}, route: Declare(playbook: "ransomware", severity: 2,
        severities: {"critical": 1}, title: "{alertname} on {instance}", commander: Some("{oncall}"))),
    (name: "context", labels: {"severity": "info"}, route: Annotate()),
    (name: "staging", labels: {"env": "staging"}, route: Ignore),
])"#;

fn rules(w: &World) -> PathBuf {
    let p = w.path().join("rules.ron");
    std::fs::write(&p, RULES).expect("write rules");
    p
}

fn payload(status: &str, fp: &str, starts: &str, ends: &str, truncated: u64) -> String {
    format!(
        r#"{{"version":"4","groupKey":"{{}}:{{alertname=\"FilesEncrypted\"}}","truncatedAlerts":{truncated},"status":"{status}",
        "receiver":"warroom","groupLabels":{{"alertname":"FilesEncrypted"}},"commonLabels":{{"alertname":"FilesEncrypted"}},
        "commonAnnotations":{{}},"externalURL":"http://am.example:9093","alerts":[{{"status":"{status}",
        "labels":{{"alertname":"FilesEncrypted","instance":"fin-fs-02","severity":"critical"}},
        "annotations":{{"summary":"files renamed to .locked"}},"startsAt":"{starts}","endsAt":"{ends}",
        "generatorURL":"http://prom.example/graph","fingerprint":"{fp}"}}]}}"#
    )
}

fn incidents(w: &World, who: &Who) -> Vec<Value> {
    let v = w.run(who, &["list", "--json"]).ok().json();
    match &v["incidents"] {
        Value::Array(a) => a.clone(),
        _ => panic!("list --json: {v}"),
    }
}

fn alert_notes(w: &World, who: &Who, id: &str) -> Vec<Value> {
    w.tail_json(who, id)
        .into_iter()
        .filter(|e| {
            e["kind"] == "Note"
                && e["body"]["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == "alert"))
        })
        .collect()
}

#[test]
fn stdin_declares_then_repeats_and_resolutions_annotate_the_same_incident() {
    let w = World::new();
    let am = w.who("alertmanager", "mon1");
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let fire = payload(
        "firing",
        "f00dfeed12345678",
        "2026-01-10T09:48:00Z",
        "0001-01-01T00:00:00Z",
        2,
    );
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], &fire).ok();
    assert!(out.stdout.contains("f00dfeed12345678 declared "), "{out}");
    let list = incidents(&w, &am);
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].as_str().unwrap().to_string();
    let show = w.show(&am, &id);
    assert_eq!(show["severity"], 1, "critical maps to SEV1");
    assert_eq!(show["playbook"]["id"], "ransomware");
    assert_eq!(show["title"], "FilesEncrypted on fin-fs-02");
    assert_eq!(
        show["discovered"], "2026-01-10T09:48:00Z",
        "startsAt is when it was discovered"
    );
    // The rule names no commander for this alert (no `oncall` label): nobody holds command, not
    // the ingesting account, so the first responder takes it at once.
    assert!(show["commander"].is_null(), "{show}");
    assert!(out.stdout.contains("no commander yet"), "{out}");
    let maya = w.who("maya", "h1");
    w.run(&maya, &["role", &id, "commander", "maya"]).ok();
    assert_eq!(w.show(&maya, &id)["commander"], "maya");

    // The same notification again (Alertmanager repeats it every repeat_interval): nothing new.
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], &fire).ok();
    assert!(
        out.stdout
            .contains(&format!("already recorded on {id} (firing since 2026-01-10T09:48:00Z)")),
        "{out}"
    );
    // Another host, with an empty local map, recognises it from the incident's notes.
    let other = w.who("alertmanager", "mon2");
    let out = w.run_stdin(&other, &["ingest", "--stdin", "--rules", r], &fire).ok();
    assert!(out.stdout.contains(&format!("already recorded on {id}")), "{out}");
    let episode = |status: &str, starts: &str, ends: &str| {
        let p = payload(status, "f00dfeed12345678", starts, ends, 0);
        w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], &p).ok()
    };
    const NEVER: &str = "0001-01-01T00:00:00Z";
    // Resolved, fired again, resolved again; the first resolution is delivered once more late
    // (a retry), after the re-fire.
    episode("resolved", "2026-01-10T09:48:00Z", "2026-01-10T11:00:00Z");
    let out = episode("firing", "2026-01-10T11:05:00Z", NEVER);
    assert!(out.stdout.contains(&format!("annotated {id}")), "{out}");
    let out = episode("resolved", "2026-01-10T09:48:00Z", "2026-01-10T11:00:00Z");
    assert!(out.stdout.contains("already recorded"), "{out}");
    episode("resolved", "2026-01-10T11:05:00Z", "2026-01-10T11:30:00Z");
    assert_eq!(incidents(&w, &am).len(), 1, "still one incident");

    let mut notes = alert_notes(&w, &am, &id);
    notes.sort_by_key(|n| n["when"].as_str().unwrap_or("").to_string());
    let texts: Vec<&str> = notes.iter().map(|n| n["body"]["text"].as_str().unwrap()).collect();
    assert_eq!(notes.len(), 4, "one entry per change, none for repeats: {texts:#?}");
    assert!(texts[0].starts_with("Alert firing: FilesEncrypted"));
    assert!(
        texts[0].contains("left 2 more alert(s)"),
        "truncatedAlerts is noted: {}",
        texts[0]
    );
    // On the timeline in the order the alert lived it, each at the alert's own time.
    let seen: Vec<(&str, &str)> = notes
        .iter()
        .zip(&texts)
        .map(|(n, t)| (n["when"].as_str().unwrap(), t.split(':').next().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("2026-01-10T09:48:00Z", "Alert firing"),
            ("2026-01-10T11:00:00Z", "Alert resolved"),
            ("2026-01-10T11:05:00Z", "Alert firing again"),
            ("2026-01-10T11:30:00Z", "Alert resolved"),
        ]
    );
    assert!(notes[0]["body"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "fingerprint:f00dfeed12345678"));
}

#[test]
fn stdin_refusals_say_why_and_write_nothing() {
    let w = World::new();
    let am = w.who("alertmanager", "mon1");
    let r = rules(&w);
    let r = r.to_str().unwrap();
    for (input, want) in [
        ("{\"version\":\"3\",\"alerts\":[]}", "version \"3\" is not supported"),
        ("not json", "not JSON"),
        (
            "{\"version\":\"4\",\"alerts\":[{\"status\":\"burning\"}]}",
            "alerts[0]: status \"burning\"",
        ),
    ] {
        let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], input).code(1);
        assert!(out.stderr.contains(want), "{want}: {out}");
    }
    let out = w
        .run_stdin(&am, &["ingest", "--stdin", "--rules", "/nonexistent/rules.ron"], "{}")
        .code(1);
    assert!(out.stderr.contains("cannot read routing rules"), "{out}");
    let bad = w.path().join("bad.ron");
    std::fs::write(
        &bad,
        "(rules: [(name: \"x\", route: Declare(playbook: \"no-such\", severity: 1, title: \"t\"))])",
    )
    .unwrap();
    let out = w
        .run_stdin(&am, &["ingest", "--stdin", "--rules", bad.to_str().unwrap()], "{}")
        .code(1);
    assert!(out.stderr.contains("playbook `no-such`"), "{out}");
    assert!(incidents(&w, &am).is_empty());
}

#[test]
fn generic_alerts_and_annotate_routes() {
    let w = World::new();
    let am = w.who("monitor", "mon1");
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let id = w.declare(&am, "Finance share encrypted");
    let input = concat!(
        "{\"title\":\"CPU high\",\"labels\":{\"severity\":\"info\",\"host\":\"db1\"}}\n",
        "{\"title\":\"Canary\",\"labels\":{\"env\":\"staging\"}}\n",
        "{\"title\":\"Unrouted\"}\n"
    );
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], input).ok();
    assert!(out.stdout.contains(&format!("annotated {id} (rule context)")), "{out}");
    assert!(out.stdout.contains("skipped  (rule `staging` ignores it)"), "{out}");
    assert!(out.stdout.contains("skipped  (no rule matches its labels)"), "{out}");
    let notes = alert_notes(&w, &am, &id);
    assert_eq!(notes.len(), 1);
    assert!(notes[0]["body"]["text"]
        .as_str()
        .unwrap()
        .starts_with("Alert firing: CPU high"));
}

/// A child process killed (by its own handle) when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `warroom ingest --listen 127.0.0.1:0 ARGS`; returns it, the address it bound and what
/// it has written to stderr so far (one line per alert handled).
fn listen(w: &World, who: &Who, args: &[&str]) -> (Running, SocketAddr, Arc<Mutex<String>>) {
    let mut child = w
        .cmd(who)
        .args(["ingest", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ingest");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let log = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        let mut b = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut b) {
            if let Ok(mut l) = sink.lock() {
                l.push_str(&String::from_utf8_lossy(&b[..n]));
            }
        }
    });
    let running = Running(child);
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        match stdout.read(&mut b) {
            Ok(1) => line.push(b[0]),
            _ => panic!("ingest ended before listening: {}", String::from_utf8_lossy(&line)),
        }
    }
    let text = String::from_utf8_lossy(&line);
    let addr = text
        .trim()
        .strip_prefix("listening on ")
        .expect("address line")
        .parse()
        .expect("address");
    (running, addr, log)
}

/// A tiny HTTP/1.1 client: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let _ = s.write_all(req.as_bytes());
    let _ = s.write_all(body.as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn http_bad_requests_get_a_4xx_with_the_reason() {
    let w = World::new();
    let am = w.who("alertmanager", "mon1");
    let r = rules(&w);
    let secret = w.path().join("secret");
    std::fs::write(&secret, "correct-horse-battery-staple\n").unwrap();
    let (_ingest, addr, _) = listen(
        &w,
        &am,
        &[
            "--rules",
            r.to_str().unwrap(),
            "--secret-file",
            secret.to_str().unwrap(),
            "--max-body",
            "4096",
        ],
    );
    let auth = [("Authorization", "Bearer correct-horse-battery-staple")];
    let fire = payload(
        "firing",
        "0123456789abcdef",
        "2026-01-10T09:48:00Z",
        "0001-01-01T00:00:00Z",
        0,
    );
    let (code, body) = http(addr, "POST", "/alerts", &[], &fire);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("shared secret"), "{body}");
    let (code, _) = http(addr, "POST", "/alerts", &[("Authorization", "Bearer nope")], &fire);
    assert_eq!(code, 401);
    for (bad, want) in [
        ("{", "not JSON"),
        (
            "{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"startsAt\":\"soon\"}]}",
            "startsAt",
        ),
        ("[]", "expected a JSON object"),
    ] {
        let (code, body) = http(addr, "POST", "/alerts", &auth, bad);
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body.contains(want), "{want}: {body}");
    }
    let (code, body) = http(addr, "POST", "/alerts", &auth, &"x".repeat(5000));
    assert_eq!(code, 413, "{body}");
    let (code, body) = http(addr, "GET", "/alerts", &auth, "");
    assert_eq!(code, 405);
    assert!(body.contains(r#"{"error":"send alerts with POST"}"#), "{body}");
    let (code, body) = http(addr, "POST", "/nope", &auth, "{}");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains(r#"{"error":"no such endpoint"#), "{body}");
    // Still alive and serving after all that.
    let (code, body) = http(
        addr,
        "POST",
        "/alerts",
        &[("X-Warroom-Secret", "correct-horse-battery-staple")],
        &fire,
    );
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json answer");
    assert_eq!(v["alerts"][0]["action"], "declared", "{v}");
    assert_eq!(incidents(&w, &am).len(), 1);
}

// --- A real Alertmanager -------------------------------------------------------------------

fn alertmanager_binary() -> Option<PathBuf> {
    for name in ["prometheus-alertmanager", "alertmanager"] {
        for dir in std::env::var("PATH")
            .unwrap_or_default()
            .split(':')
            .chain(["/usr/bin", "/usr/sbin"])
        {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn rfc3339(offset_secs: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let t = now + offset_secs;
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn a_real_alertmanager_declares_repeats_and_resolves() {
    let Some(bin) = alertmanager_binary() else {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but prometheus-alertmanager is not installed (.ci/run installs it)");
        }
        eprintln!("SKIPPED: prometheus-alertmanager is not installed (apt-get install prometheus-alertmanager)");
        return;
    };
    let w = World::new();
    let am = w.who("alertmanager", "mon1");
    let r = rules(&w);
    let secret = w.path().join("secret");
    std::fs::write(&secret, "correct-horse-battery-staple").unwrap();
    let (_ingest, addr, ingest_log) = listen(
        &w,
        &am,
        &[
            "--rules",
            r.to_str().unwrap(),
            "--secret-file",
            secret.to_str().unwrap(),
        ],
    );
    let config = w.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: warroom\n  group_by: ['alertname']\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 3s\n\
             receivers:\n  - name: warroom\n    webhook_configs:\n      - url: http://{addr}/alerts\n        send_resolved: true\n\
             \x20       http_config:\n          authorization:\n            type: Bearer\n            credentials_file: {}\n",
            secret.display()
        ),
    )
    .unwrap();
    let am_addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let log = std::fs::File::create(w.path().join("alertmanager.log")).unwrap();
    let _alertmanager = Running(
        Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", w.path().join("am-data").display()))
            .arg(format!("--web.listen-address={am_addr}"))
            .arg("--cluster.listen-address=")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start alertmanager"),
    );
    let am_log = || std::fs::read_to_string(w.path().join("alertmanager.log")).unwrap_or_default();
    wait_for("Alertmanager to be ready", Duration::from_secs(20), || {
        (http(am_addr, "GET", "/-/ready", &[], "").0 == 200).then_some(())
    });
    let alert = |ends: Option<String>, starts: i64| {
        let mut a = serde_json::json!({
            "labels": {"alertname": "FilesEncrypted", "instance": "fin-fs-02", "severity": "critical"},
            "annotations": {"summary": "files renamed to .locked"},
            "startsAt": rfc3339(starts),
            "generatorURL": "http://prom.example/graph",
        });
        if let Some(e) = ends {
            a["endsAt"] = Value::String(e);
        }
        serde_json::json!([a]).to_string()
    };
    let (code, body) = http(am_addr, "POST", "/api/v2/alerts", &[], &alert(None, -60));
    assert_eq!(code, 200, "{body}");

    let id = wait_for("the incident", Duration::from_secs(30), || {
        incidents(&w, &am)
            .first()
            .filter(|i| i["status"] != "syncing" && i["severity"].is_number())
            .and_then(|i| i["id"].as_str().map(String::from))
    });
    let show = w.show(&am, &id);
    assert_eq!(show["playbook"]["id"], "ransomware", "{show}");
    assert_eq!(show["severity"], 1, "{show}");
    assert_eq!(show["title"], "FilesEncrypted on fin-fs-02");

    // Alertmanager repeats the notification (repeat_interval 3s): recognised, nothing written.
    wait_for("a repeated notification", Duration::from_secs(30), || {
        let log = ingest_log.lock().map(|l| l.clone()).unwrap_or_default();
        log.contains("a repeated notification").then_some(())
    });
    assert_eq!(alert_notes(&w, &am, &id).len(), 1, "a repeat adds no entry");
    // Resolve it: Alertmanager sends the resolution, recorded on the same incident.
    let (code, body) = http(am_addr, "POST", "/api/v2/alerts", &[], &alert(Some(rfc3339(-1)), -60));
    assert_eq!(code, 200, "{body}");
    let has = |prefix: &str| {
        alert_notes(&w, &am, &id)
            .iter()
            .any(|n| n["body"]["text"].as_str().is_some_and(|t| t.starts_with(prefix)))
            .then_some(())
    };
    wait_for("the resolution", Duration::from_secs(30), || has("Alert resolved"));
    // It fires again (a new startsAt), and resolves again: each on the same incident, in order.
    let (code, body) = http(am_addr, "POST", "/api/v2/alerts", &[], &alert(None, 0));
    assert_eq!(code, 200, "{body}");
    wait_for("the re-fire", Duration::from_secs(30), || has("Alert firing again"));
    let mut notes = alert_notes(&w, &am, &id);
    notes.sort_by_key(|n| n["when"].as_str().unwrap_or("").to_string());
    let heads: Vec<&str> = notes
        .iter()
        .map(|n| n["body"]["text"].as_str().unwrap().split(':').next().unwrap())
        .collect();
    assert_eq!(
        heads,
        ["Alert firing", "Alert resolved", "Alert firing again"],
        "{notes:#?}\n{}",
        am_log()
    );
    assert_eq!(
        incidents(&w, &am).len(),
        1,
        "one incident, whatever Alertmanager repeated\n{}",
        am_log()
    );
}

/// A payload whose alert names `oncall` as its on-call.
fn oncall_payload(fp: &str, oncall: &str) -> String {
    payload("firing", fp, "2026-01-10T09:48:00Z", "0001-01-01T00:00:00Z", 0).replace(
        r#""severity":"critical"}"#,
        &format!(r#""severity":"critical","oncall":"{oncall}"}}"#),
    )
}

#[test]
fn an_account_that_writes_alerts_never_commands() {
    let w = World::new();
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let am = w.who("alertmanager", "mon1");
    let maya = w.who("maya", "h1");
    // A label naming the ingesting account itself: nobody commands.
    let out = w
        .run_stdin(
            &am,
            &["ingest", "--stdin", "--rules", r],
            &oncall_payload("aa01", "AlertManager"),
        )
        .ok();
    assert!(out.stdout.contains("no commander yet"), "{out}");
    let id = incidents(&w, &am)[0]["id"].as_str().unwrap().to_string();
    assert!(w.show(&am, &id)["commander"].is_null());
    w.run(&maya, &["role", &id, "commander", "maya"]).ok();
    assert_eq!(w.show(&maya, &id)["commander"], "maya");

    // Another ingest host's account, named by a label, once it is known to write alert entries
    // (it wrote to an incident this host reads): nobody commands either.
    let am2 = w.who("alertmanager2", "mon2");
    let generic = r#"{"title": "disk", "status": "firing", "labels": {"severity": "info"}, "fingerprint": "bb02"}"#;
    w.run_stdin(&am2, &["ingest", "--stdin", "--rules", r], generic).ok();
    // A fresh state dir for mon1's second run (its map knows nothing of bb02 or cc03).
    let out = w
        .run_stdin(
            &am,
            &["ingest", "--stdin", "--rules", r],
            &oncall_payload("cc03", "alertmanager2"),
        )
        .ok();
    assert!(out.stdout.contains("no commander yet"), "{out}");

    // And even if a rule did name one (the fold's own rule): an account that has written alert
    // entries to an incident holds no command there, and anyone takes it at once.
    let out = w
        .run_stdin(
            &am2,
            &["ingest", "--stdin", "--rules", r],
            &oncall_payload("dd04", "alertmanager2"),
        )
        .ok();
    assert!(out.stdout.contains("no commander yet"), "{out}");
    // The voided command is not listed as a role either (show, its JSON, review).
    for inc in incidents(&w, &am2) {
        let id = inc["id"].as_str().unwrap().to_string();
        let s = w.show(&am2, &id);
        match s["commander"].as_str() {
            None => assert!(s["roles"].get("commander").is_none(), "{s}"),
            Some(c) => assert_eq!(s["roles"]["commander"]["who"], c, "{s}"),
        }
        let text = w.run(&am2, &["show", &id]).ok();
        assert!(!text.stdout.contains("commander=alertmanager"), "{text}");
    }

    // --commander naming the ingesting account is refused before anything is read.
    let mon = w.who("monitor", "mon3");
    let out = w.run_stdin(
        &mon,
        &["ingest", "--stdin", "--rules", r, "--commander", "monitor"],
        generic,
    );
    assert_ne!(out.code, 0, "{out}");
    assert!(out.stderr.contains("never commands"), "{out}");
}

/// Two ingest hosts receiving one new alert at the same moment declare one incident: its id comes
/// from the alert's routing key, so their `mkdir` claims collide and the loser writes its entry to
/// the winner's incident.
#[test]
fn two_hosts_ingesting_one_new_alert_at_once_declare_one_incident() {
    let w = World::new();
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let a = w.who("alertmanager", "mon1");
    let b = w.who("alertmanager2", "mon2");
    for (n, fp) in ["ee01", "ee02", "ee03"].iter().enumerate() {
        let fire = payload("firing", fp, "2026-01-10T09:48:00Z", "0001-01-01T00:00:00Z", 0)
            .replace("fin-fs-02", &format!("host-{n}"))
            .replace(
                r#"alertname=\"FilesEncrypted\""#,
                &format!(r#"alertname=\"FilesEncrypted\",n=\"{n}\""#),
            );
        let (ra, rb) = std::thread::scope(|s| {
            let ta = s.spawn(|| w.run_stdin(&a, &["ingest", "--stdin", "--rules", r], &fire));
            let tb = s.spawn(|| w.run_stdin(&b, &["ingest", "--stdin", "--rules", r], &fire));
            (ta.join().expect("host a"), tb.join().expect("host b"))
        });
        let (ra, rb) = (ra.ok(), rb.ok());
        let list = incidents(&w, &a);
        assert_eq!(list.len(), n + 1, "one incident per alert\n{ra}\n{rb}");
        let id = list
            .iter()
            .filter_map(|i| i["id"].as_str())
            .find(|id| ra.stdout.contains(id))
            .unwrap_or_else(|| panic!("{ra}"))
            .to_string();
        assert!(rb.stdout.contains(&id), "both hosts name the same incident\n{ra}\n{rb}");
        let notes = alert_notes(&w, &a, &id);
        let writers: std::collections::BTreeSet<&str> = notes.iter().filter_map(|e| e["by"].as_str()).collect();
        assert!(
            !notes.is_empty() && notes.len() <= 2 && writers.iter().all(|w| w.starts_with("alertmanager")),
            "{notes:?}"
        );
    }
}

/// An alert a rule ignores reads no incident at all (no summary pass, no fold), however large the
/// shared folder's incidents; one a rule routes looks through the summary cache, not histories.
#[test]
fn an_ignored_alert_reads_no_incident() {
    let w = World::new();
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let maya = w.who("maya", "h1");
    w.run(
        &maya,
        &[
            "declare",
            "--playbook",
            "ransomware",
            "--title",
            "unrelated",
            "--severity",
            "3",
        ],
    )
    .ok();
    let am = w.who("alertmanager", "mon1");
    let staging = r#"{"title": "noise", "status": "firing", "labels": {"env": "staging"}, "fingerprint": "ff01"}"#;
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], staging).ok();
    assert!(out.stdout.contains("ff01 skipped"), "{out}");
    let summaries = am.state.join("summaries");
    assert!(!summaries.exists(), "an ignored alert looked at the incidents");
    // A routed one looks (through the summary cache) and finds the open incident.
    let ctx = r#"{"title": "context", "status": "firing", "labels": {"severity": "info"}, "fingerprint": "ff02"}"#;
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], ctx).ok();
    assert!(out.stdout.contains("ff02 annotated"), "{out}");
}

/// One bad alert never costs the good ones: `ingest --stdin` records every valid document, names
/// each refused part on stderr, and says so in its exit status (breaker of issue 10: a bad third
/// document used to drop all three).
#[test]
fn stdin_records_the_good_documents_and_names_the_bad() {
    let w = World::new();
    let am = w.who("alertmanager", "mon1");
    let r = rules(&w);
    let r = r.to_str().unwrap();
    let good = payload(
        "firing",
        "abcdef0123456789",
        "2026-01-10T09:48:00Z",
        "0001-01-01T00:00:00Z",
        0,
    );
    let bad = r#"{"title":"Disk full","labels":{"host":"db1"},"startsAt":"soon"}"#;
    let input = format!("{good}\n{bad}\n");
    let out = w.run_stdin(&am, &["ingest", "--stdin", "--rules", r], &input);
    assert_ne!(out.code, 0, "something was refused: the exit status says so\n{out}");
    assert!(out.stdout.contains("abcdef0123456789 declared "), "{out}");
    assert!(out.stderr.contains("refused: document 2: startsAt"), "{out}");
    assert_eq!(incidents(&w, &am).len(), 1, "the good alert was recorded");
}
