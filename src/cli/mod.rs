//! The headless command line: every verb a script, a bot or a responder without the console needs.

/// `println!` for command output: a reader that went away (`show --json | head -c 10`) ends the
/// command quietly (exit 0) instead of a panic.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::cli::print_out(&format!("{}\n", format_args!($($arg)*))) };
}

/// Write command output to stdout; a closed pipe ends the process quietly with exit 0 (what was
/// to be done is done by then: output comes last).
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub mod bundle;
pub mod console;
pub mod context;
pub mod demo;
pub mod detached;
pub mod exec;
pub mod exercise;
pub mod import;
pub mod ingest;
pub mod read;
pub mod report;
pub mod sync;
pub mod write;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::event::{ActionState, ItemState};
use crate::domain::playbook::Audience;
use crate::store::StoreError;

/// A terminal war-room console for incident response. Teammates share one incident directory;
/// every copy of warroom watches it.
#[derive(Debug, Parser)]
#[command(name = "warroom", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// With no command, the console opens on the board of every incident.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The shared incident directory (else WARROOM_DIR, else the config file, else a per-user default)
    #[arg(long, global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Who you are (else WARROOM_USER, else $USER). A claim, not authentication
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub as_name: Option<String>,
    /// Extra playbook folder, searched before your library and the built-in set
    #[arg(long, global = true, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
    /// Time zone for HH:MM times and local display (IANA name, +02:00, UTC or local)
    #[arg(
        long,
        global = true,
        value_name = "ZONE",
        default_value = "local",
        allow_hyphen_values = true
    )]
    pub tz: String,
    /// Sign every record you write with this SSH key: `agent` (the agent's only key), a public key
    /// (`~/.ssh/id_ed25519.pub`, signed through ssh-agent) or an unencrypted private key file
    #[arg(long, global = true, value_name = "KEY", env = "WARROOM_SIGNING_KEY")]
    pub sign: Option<String>,
    /// Seconds between reconcile passes (default: 2 on network file systems, else instant via inotify)
    #[arg(long, global = true, value_name = "SECS")]
    pub poll_interval: Option<f64>,
    /// Open the console read-only (no identity needed)
    #[arg(long, global = true)]
    pub observer: bool,
    /// The console runs `warroom sync` every SECS on a thread of its own (as `sync_every:` in the config)
    #[arg(long, global = true, value_name = "SECS")]
    pub sync_every: Option<f64>,
    /// Let warroom run approved commands from your trusted playbooks (as `exec: true` in your config)
    #[arg(long, global = true)]
    pub allow_exec: bool,
}

/// When it really happened, for responders who backfill.
#[derive(Debug, Clone, Args)]
pub struct When {
    /// When it happened: RFC 3339, HH:MM[:SS] today (in --tz), or relative like -15m
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub occurred: Option<String>,
}

/// Time travel for read verbs.
#[derive(Debug, Clone, Args)]
pub struct AsOf {
    /// Show the incident as it stood at TIME: only records written by then (sort key `at`), clocks at TIME. Same forms as --occurred
    #[arg(long = "as-of", value_name = "TIME", allow_hyphen_values = true)]
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ItemStateArg {
    Open,
    Done,
    Skipped,
    Blocked,
}

impl From<ItemStateArg> for ItemState {
    fn from(a: ItemStateArg) -> ItemState {
        match a {
            ItemStateArg::Open => ItemState::Open,
            ItemStateArg::Done => ItemState::Done,
            ItemStateArg::Skipped => ItemState::Skipped,
            ItemStateArg::Blocked => ItemState::Blocked,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ActionStateArg {
    Proposed,
    Approved,
    Running,
    Done,
    Failed,
    RolledBack,
}

impl From<ActionStateArg> for ActionState {
    fn from(a: ActionStateArg) -> ActionState {
        match a {
            ActionStateArg::Proposed => ActionState::Proposed,
            ActionStateArg::Approved => ActionState::Approved,
            ActionStateArg::Running => ActionState::Running,
            ActionStateArg::Done => ActionState::Done,
            ActionStateArg::Failed => ActionState::Failed,
            ActionStateArg::RolledBack => ActionState::RolledBack,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    Md,
    Json,
}

/// What `import` reads on stdin.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ImportFormat {
    /// JSON lines: {"text": .., "occurred": .., "tags": [..]}
    Jsonl,
    /// A Slack channel export: a day's JSON array of messages (ts, user or user_name, text)
    Slack,
    /// CSV with a header row: time,text[,author,tags]
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AudienceArg {
    /// Responders and staff
    Internal,
    /// Anyone outside: a holding statement, the press
    External,
    /// The executive team and the board
    Executives,
    /// Customers and partners, or the people whose data is involved
    Customers,
    /// A regulator or supervisory authority
    Regulator,
}

impl From<AudienceArg> for Audience {
    fn from(a: AudienceArg) -> Audience {
        match a {
            AudienceArg::Internal => Audience::Internal,
            AudienceArg::External => Audience::External,
            AudienceArg::Executives => Audience::Executives,
            AudienceArg::Customers => Audience::Customers,
            AudienceArg::Regulator => Audience::Regulator,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the console on one incident
    Open {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
    },
    /// Hide a resolved incident from the default board (nothing is deleted)
    Archive {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        #[command(flatten)]
        when: When,
    },
    /// Mark an incident as a duplicate of another, link it and archive it
    Duplicate {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The incident it duplicates
        #[arg(long, value_name = "OTHER")]
        of: String,
        #[command(flatten)]
        when: When,
    },
    /// Declare a new incident; prints its id, alone, on stdout
    Declare {
        /// Playbook id (see `warroom playbook list`) or a path to a .ron file
        #[arg(long)]
        playbook: String,
        /// The incident's title, as responders will read it
        #[arg(long)]
        title: String,
        /// 1 (critical) to 4 (low)
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
        severity: u8,
        /// A tabletop exercise, not a real incident
        #[arg(long)]
        exercise: bool,
        /// Incident commander (default: you)
        #[arg(long, value_name = "WHO")]
        commander: Option<String>,
        /// Every record must carry a valid SSH signature (see --sign); unsigned ones are refused
        #[arg(long)]
        require_signatures: bool,
        #[command(flatten)]
        when: When,
    },
    /// Add a note to the timeline
    Note {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The note; `-` reads it from standard input (a long update pasted into a file)
        text: String,
        /// A tag for the note (repeat for more)
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        #[command(flatten)]
        when: When,
    },
    /// Set a checklist item's state
    Check {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The checklist item id (shown in the console and in `warroom show`)
        item: String,
        /// The item's new state
        #[arg(value_enum)]
        state: ItemStateArg,
        /// A note kept with the record (why, what was seen)
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Move a containment action along: proposed → approved → running → done / failed / rolled-back;
    /// or `action run INCIDENT ACTION` to run its approved command
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Action {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        #[arg(required = true)]
        incident: Option<String>,
        /// The action id from the playbook (shown in the console and in `warroom show`)
        #[arg(required = true)]
        action: Option<String>,
        /// The action's new state
        #[arg(value_enum, required = true)]
        state: Option<ActionStateArg>,
        /// A note kept with the record (why, what was seen)
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        when: When,
        #[command(subcommand)]
        run: Option<ActionCommand>,
    },
    /// Assign a checklist item or an action to someone
    Assign {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// Checklist item id or action id
        target: String,
        /// Who: a person's name as they write it (`--as` / WARROOM_USER)
        who: String,
        #[command(flatten)]
        when: When,
    },
    /// Enter a phase (preparation, identification, containment, eradication, recovery, lessons-learned)
    Phase {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The phase to enter
        phase: String,
        #[command(flatten)]
        when: When,
    },
    /// Change the severity
    Severity {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// 1 (critical) to 4 (low)
        #[arg(value_parser = clap::value_parser!(u8).range(1..=4))]
        severity: u8,
        /// Why the severity changed, for the record
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Give a role to someone (`commander` hands off command)
    Role {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The role id from the playbook, or `commander`
        role: String,
        /// Who: a person's name as they write it (`--as` / WARROOM_USER)
        who: String,
        #[command(flatten)]
        when: When,
    },
    /// Record that the incident was classified as reportable (starts classification deadlines)
    Classify {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// A note kept with the record (why, what was seen)
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Record that materiality was determined (starts e.g. the SEC 8-K clock)
    Materiality {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// A note kept with the record (why, what was seen)
        #[arg(long)]
        note: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Record a status update for an audience (recorded, not sent)
    Status {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// Who the update is for. Any of the five is recorded, whatever the playbook names; a
        /// deadline met by an update to that audience counts it
        #[arg(long, value_enum)]
        audience: AudienceArg,
        /// The update's text; `-` reads it from standard input
        text: String,
        #[command(flatten)]
        when: When,
    },
    /// Mark the incident resolved
    Resolve {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// What was resolved and how, for the record
        #[arg(long)]
        summary: Option<String>,
        /// Why you resolve it although you are not the commander (required then)
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        when: When,
    },
    /// Reopen a resolved or archived incident (with a reason)
    Reopen {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// Why it is reopened, for the record (required)
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        when: When,
    },
    /// Set when the organisation became aware (the commander only: it moves every deadline that starts at discovery)
    Discovery {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// When it was discovered: RFC 3339, HH:MM[:SS] today (in --tz), or relative like -2h
        #[arg(allow_hyphen_values = true, value_name = "TIME")]
        time: String,
        /// Why this is the discovery time (required: it moves the regulators' clocks)
        #[arg(long)]
        reason: String,
    },
    /// Follow-ups: add one, mark one done, cancelled or open again, or list them
    Followup {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        #[command(subcommand)]
        what: FollowUpCommand,
    },
    /// Amend or retract a note, status update or follow-up (its author or the commander; the original stays)
    Correct {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The record: its id or a unique prefix (see `warroom tail --json`)
        record: String,
        /// The corrected text; `-` reads it from standard input
        #[arg(long, conflicts_with = "retract", required_unless_present_any = ["retract", "occurred"])]
        text: Option<String>,
        /// Retract the record instead (it stays on the record, marked retracted)
        #[arg(long, conflicts_with = "occurred")]
        retract: bool,
        /// Why (required)
        #[arg(long)]
        reason: String,
        /// Correct when it happened (same forms as --occurred elsewhere); the original time stays on the record and is shown
        #[command(flatten)]
        when: When,
    },
    /// The post-incident review: with FIELD and TEXT, answer one field; alone, print them all
    Review {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// summary, impact, root_cause or the id of one of the playbook's questions
        field: Option<String>,
        /// The answer; `-` reads it from standard input
        #[arg(requires = "field")]
        text: Option<String>,
        /// JSON instead of text (when printing)
        #[arg(long)]
        json: bool,
    },
    /// List incidents in the shared directory
    List {
        /// JSON instead of text (one object a line where there are many)
        #[arg(long)]
        json: bool,
    },
    /// Show an incident's folded state
    Show {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// JSON instead of text (one object a line where there are many)
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        as_of: AsOf,
    },
    /// Print the merged timeline, one event a line
    Tail {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// Keep printing teammates' events as they land
        #[arg(long, short)]
        follow: bool,
        /// JSON instead of text (one object a line where there are many)
        #[arg(long)]
        json: bool,
    },
    /// Bulk-add timeline entries from stdin (JSON lines, a Slack export or CSV), keeping their times
    Import {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// jsonl ({"text":..,"occurred":..,"tags":[..]} a line), slack (a channel export) or csv
        #[arg(long, value_enum, default_value = "jsonl")]
        format: ImportFormat,
    },
    /// Alerts in: Alertmanager webhooks or generic JSON alerts, routed by rules into incidents
    Ingest {
        /// Read one payload (or several JSON documents) from standard input
        #[arg(long, conflicts_with = "listen")]
        stdin: bool,
        /// Listen for webhooks on ADDR (a port alone means 127.0.0.1:PORT; other addresses warn)
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Routing rules (default: rules.ron in your config folder; example: assets/rules.ron)
        #[arg(long, value_name = "FILE")]
        rules: Option<PathBuf>,
        /// Require this shared secret (Authorization: Bearer … or X-Warroom-Secret)
        #[arg(long, value_name = "FILE")]
        secret_file: Option<PathBuf>,
        /// Commander of the incidents it declares when their rule names none (default: no
        /// commander yet, so the first responder takes command)
        #[arg(long, value_name = "WHO")]
        commander: Option<String>,
        /// Largest request body accepted, in bytes
        #[arg(long, value_name = "BYTES", default_value_t = crate::ingest::server::DEFAULT_MAX_BODY)]
        max_body: usize,
    },
    /// Keep the shared directory in step with a git remote: commit your own logs, fetch, push
    Sync {
        /// The git remote to sync with
        #[arg(long, default_value = "origin", value_name = "NAME")]
        remote: String,
        /// Sync every SECONDS until interrupted (one line a round that did something)
        #[arg(long, value_name = "SECONDS")]
        every: Option<f64>,
        /// Make the shared directory a repository of URL first (cloned or fetched, never checked out)
        #[arg(long, value_name = "URL")]
        init: Option<String>,
        /// Stop any one git command after this many seconds
        #[arg(long, value_name = "SECS", default_value_t = 60.0)]
        timeout: f64,
        /// Settle an allowed_signers CONFLICT by sending this site's copy over the remote's (one
        /// round; the remote's own change is dropped, and other sites see the change)
        #[arg(long, conflicts_with = "every")]
        keep_trust: bool,
    },
    /// Replay the recording of a command warroom ran (escape sequences other than colours removed)
    Replay {
        /// A .cast file, or (with --incident) the hash or a unique prefix of one in its casts/ folder
        cast: String,
        /// The incident whose recording it is
        #[arg(long, value_name = "ID")]
        incident: Option<String>,
        /// Play at this speed (2 = twice as fast; pauses are capped at 2 s)
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Print the output at once, as plain text (no colours, no timing)
        #[arg(long)]
        raw: bool,
    },
    /// Fire the hooks for deadlines that crossed amber or overdue and that this install has not
    /// fired yet (the console and `ingest --listen` do it every 30 s; this is for cron)
    DeadlineHooks,
    /// Check every hash chain and the cross-log heads; exit 1 on signs of tampering
    Verify {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        #[arg(required_unless_present = "file", conflicts_with = "file")]
        incident: Option<String>,
        /// Check the detached SSH signature of an export or bundle instead (FILE.sig beside it)
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The signature file (default: FILE.sig)
        #[arg(long, value_name = "SIG", requires = "file")]
        sig: Option<PathBuf>,
    },
    /// Playbooks: list them or check files
    #[command(subcommand)]
    Playbook(PlaybookCommand),
    /// Export the record (Markdown or JSON); for an exercise, the after-action report
    Export {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// md (Markdown, for people) or json (for tools)
        #[arg(long, value_enum, default_value = "md")]
        format: ExportFormat,
        /// Write to FILE instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        as_of: AsOf,
    },
    /// Post-incident metrics over every incident: counts, median times, missed deadlines
    Report {
        /// Only incidents declared at or after TIME (RFC 3339, YYYY-MM-DD, HH:MM today, or relative like -30d)
        #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
        since: Option<String>,
        /// JSON instead of text (one object a line where there are many)
        #[arg(long)]
        json: bool,
    },
    /// Seal an incident into a tar with a manifest of BLAKE3 hashes, or check such a bundle
    Bundle {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        #[arg(required_unless_present = "check", conflicts_with = "check")]
        incident: Option<String>,
        /// The tar file to write
        #[arg(short, long, value_name = "FILE.tar", required_unless_present = "check")]
        output: Option<PathBuf>,
        /// Check a bundle: re-hash every member, fold its logs and verify them; exit 1 on any mismatch
        #[arg(long, value_name = "FILE.tar")]
        check: Option<PathBuf>,
    },
    /// Tabletop exercises: run a scenario, control its clock and injects
    #[command(subcommand)]
    Exercise(ExerciseCommand),
    /// A live incident with simulated teammates in a temporary directory (q ends it)
    Demo {
        /// Print the merged timeline instead of opening the console
        #[arg(long)]
        headless: bool,
        /// Stop after this many seconds (default: run until interrupted)
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// Make the simulated teammates work faster (2 = twice as fast)
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum ActionCommand {
    /// Run an approved action's command (or its rollback) in a pseudo-terminal, recorded: only
    /// with execution enabled, from your own trusted playbook, after you confirm the exact command
    Run {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// The action id from the playbook
        action: String,
        /// Run the action's rollback instead (after it failed or was done)
        #[arg(long)]
        rollback: bool,
        /// Do not ask: run the command as printed (for scripts; execution must still be enabled)
        #[arg(long)]
        yes: bool,
        /// Kill it after this many seconds (default: exec_timeout in your config, else 120)
        #[arg(long, value_name = "SECS")]
        timeout: Option<f64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExerciseCommand {
    /// Declare an exercise from a scenario and release its injects on schedule (first stdout line: the id)
    Run {
        /// Built-in scenario id (see `exercise list`) or a path to a .ron scenario
        #[arg(required_unless_present = "resume")]
        scenario: Option<String>,
        /// Pick up an exercise whose facilitator session dropped; nothing is released twice
        #[arg(long, value_name = "INCIDENT", conflicts_with = "scenario")]
        resume: Option<String>,
        /// Scenario minutes per real minute (2 = twice as fast)
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Run the scheduler without a console
        #[arg(long)]
        headless: bool,
        /// Stop after this many seconds (the exercise can be resumed)
        #[arg(long, value_name = "SECS")]
        duration: Option<f64>,
        /// The players' incident commander (default: the facilitator)
        #[arg(long, value_name = "WHO")]
        commander: Option<String>,
    },
    /// The shipped scenarios
    List,
    /// Check a scenario file against its playbook
    Check {
        /// Built-in scenario id (see `exercise list`) or a path to a .ron scenario
        scenario: String,
    },
    /// Facilitator controls: pause, resume, speed X, release INJECT, skip INJECT, note TEXT, end
    Control {
        /// The incident: its id or a unique prefix of it (see `warroom list`)
        incident: String,
        /// pause, resume, speed, release, skip, note or end
        what: String,
        /// The speed, the inject id or the note text, as WHAT needs
        #[arg(allow_hyphen_values = true)]
        arg: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FollowUpCommand {
    /// Record a follow-up
    Add {
        /// What is to be done
        text: String,
        /// corrective (fixes the cause), preventive (stops a recurrence) or detective (sees it sooner)
        #[arg(long = "type", value_enum)]
        kind: FollowUpKindArg,
        /// Who owns it (a responder name)
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
        /// When it is due: 2026-12-15, 2026-12-15 17:00 (in --tz), RFC 3339 or +14d
        #[arg(long, value_name = "TIME")]
        due: Option<String>,
        /// The timeline record it comes from: its id or a unique prefix (see `warroom tail --json`)
        #[arg(long, value_name = "RECORD")]
        from: Option<String>,
    },
    /// Mark a follow-up done
    Done {
        /// The follow-up: its id or a unique prefix (see `warroom followup INCIDENT list`)
        id: String,
        /// A note kept with the change
        #[arg(long)]
        note: Option<String>,
    },
    /// Cancel a follow-up
    Cancel {
        /// The follow-up: its id or a unique prefix (see `warroom followup INCIDENT list`)
        id: String,
        /// A note kept with the change (why)
        #[arg(long)]
        note: Option<String>,
    },
    /// Open a done or cancelled follow-up again
    Reopen {
        /// The follow-up: its id or a unique prefix (see `warroom followup INCIDENT list`)
        id: String,
        /// A note kept with the change
        #[arg(long)]
        note: Option<String>,
    },
    /// List the follow-ups
    List {
        /// JSON instead of text (one array)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FollowUpKindArg {
    Corrective,
    Preventive,
    Detective,
}

impl FollowUpKindArg {
    pub fn word(self) -> &'static str {
        match self {
            FollowUpKindArg::Corrective => "corrective",
            FollowUpKindArg::Preventive => "preventive",
            FollowUpKindArg::Detective => "detective",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum PlaybookCommand {
    /// One playbook a line: its id first, then version, title and where it came from
    List,
    /// Check a playbook file or folder: `file:line:col: what was expected` for each error
    Check {
        /// A playbook .ron file or a folder of them
        path: PathBuf,
        /// Also hold it to the content bar: three roled items a phase, required items, why, rollback, sources
        #[arg(long)]
        strict: bool,
    },
}

/// A failure to report: plain words on stderr and an exit code.
#[derive(Debug)]
pub struct Fail {
    pub message: String,
    pub code: u8,
}

impl Fail {
    pub fn new(message: impl Into<String>) -> Fail {
        Fail {
            message: message.into(),
            code: 1,
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Fail {
        Fail::new(e.to_string())
    }
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Fail {
        Fail::new(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Fail>;

/// Run the responder's hooks for events this command wrote (a failure is a warning: the record
/// is written either way).
pub fn run_hooks(ctx: &context::Ctx, id: &str, events: &[crate::domain::event::Event]) {
    if let Some(hooks) = crate::hooks::run::Runner::from_config(&ctx.store) {
        let written: Vec<_> = events.iter().map(|e| (id.to_string(), e.clone())).collect();
        for f in hooks.fire(&written) {
            eprintln!("warning: {f}");
        }
    }
}

/// The verbs that open the console (and so may run its sync rounds).
fn opens_console(command: &Command) -> bool {
    match command {
        Command::Open { .. } => true,
        Command::Exercise(ExerciseCommand::Run { headless, .. }) => !headless,
        _ => false,
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let g = &cli.global;
    let Some(command) = cli.command else {
        return console::console(g, None);
    };
    if g.sync_every.is_some() && !opens_console(&command) {
        return Err(Fail {
            message: "--sync-every is for the console (no command, `open`, `exercise run`); \
                      elsewhere run `warroom sync` (`--every SECS` for a loop)"
                .into(),
            code: 2,
        });
    }
    match command {
        Command::Open { incident } => console::console(g, Some(&incident)),
        Command::Declare {
            playbook,
            title,
            severity,
            exercise,
            commander,
            require_signatures,
            when,
        } => write::declare(
            g,
            &playbook,
            title,
            severity,
            exercise,
            commander,
            require_signatures,
            &when,
        ),
        Command::Playbook(PlaybookCommand::List) => read::playbook_list(g),
        Command::Playbook(PlaybookCommand::Check { path, strict }) => read::playbook_check(&path, strict),
        Command::List { json } => read::list(g, json),
        Command::Export {
            incident,
            format,
            output,
            as_of,
        } => read::export(g, &incident, format, output.as_deref(), &as_of),
        Command::Report { since, json } => report::report(g, since.as_deref(), json),
        Command::Bundle {
            incident,
            output,
            check,
        } => match (check, incident, output) {
            (Some(file), _, _) => bundle::check(g, &file),
            (None, Some(incident), Some(output)) => bundle::bundle(g, &incident, &output),
            _ => Err(Fail {
                message: "bundle needs <incident> and -o FILE.tar, or --check FILE.tar".into(),
                code: 2,
            }),
        },
        Command::Exercise(ExerciseCommand::List) => exercise::list(),
        Command::Exercise(ExerciseCommand::Check { scenario }) => exercise::check(g, &scenario),
        Command::Exercise(ExerciseCommand::Control { incident, what, arg }) => {
            exercise::control(g, &incident, &what, arg.as_deref())
        }
        Command::Exercise(ExerciseCommand::Run {
            scenario,
            resume,
            speed,
            headless,
            duration,
            commander,
        }) => exercise::run(
            g,
            exercise::RunArgs {
                scenario: scenario.as_deref(),
                resume: resume.as_deref(),
                speed,
                duration,
                headless,
                commander,
            },
        ),
        Command::Show { incident, json, as_of } => read::show(g, &incident, json, &as_of),
        Command::Review {
            incident,
            field: None,
            json,
            ..
        } => read::review(g, &incident, json),
        Command::Followup {
            incident,
            what: FollowUpCommand::List { json },
        } => read::follow_ups(g, &incident, json),
        Command::Tail { incident, follow, json } => read::tail(g, &incident, follow, json),
        Command::DeadlineHooks => {
            let ctx = context::Ctx::new(g)?;
            let Some(hooks) = crate::hooks::run::Runner::from_config(&ctx.store).filter(|h| h.wants_deadlines()) else {
                return Err(Fail::new(
                    "no hook in your config runs on DeadlineAmber or DeadlineOverdue: nothing to fire",
                ));
            };
            let (fired, failures) = hooks.fire_deadlines(context::now_ms());
            for f in &fired {
                println!("fired {f}");
            }
            println!("{} deadline crossing(s) fired", fired.len());
            for f in &failures {
                eprintln!("warning: {f}");
            }
            Ok(())
        }
        Command::Verify { incident, file, sig } => match (file, incident) {
            (Some(file), _) => read::verify_file(g, &file, sig.as_deref()),
            (None, Some(incident)) => read::verify(g, &incident),
            (None, None) => Err(Fail::new("name an incident, or --file FILE")),
        },
        Command::Action {
            run:
                Some(ActionCommand::Run {
                    incident,
                    action,
                    rollback,
                    yes,
                    timeout,
                }),
            ..
        } => exec::run(
            g,
            exec::RunArgs {
                incident,
                action,
                rollback,
                yes,
                timeout,
            },
        ),
        Command::Replay {
            cast,
            incident,
            speed,
            raw,
        } => exec::replay(g, &cast, incident.as_deref(), speed, raw),
        Command::Sync {
            remote,
            every,
            init,
            timeout,
            keep_trust,
        } => sync::sync(
            g,
            sync::SyncArgs {
                remote,
                every,
                init,
                timeout,
                keep_trust,
            },
        ),
        Command::Import { incident, format } => import::import(g, &incident, format),
        Command::Ingest {
            stdin,
            listen,
            rules,
            secret_file,
            commander,
            max_body,
        } => ingest::ingest(
            g,
            ingest::IngestArgs {
                stdin,
                listen,
                rules,
                secret_file,
                commander,
                max_body,
            },
        ),
        Command::Demo {
            headless,
            duration,
            speed,
        } if headless => demo::run(headless, duration, speed),
        Command::Demo { speed, .. } => console::demo(g, speed),
        other => write::run(g, other),
    }
}
