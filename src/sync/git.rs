//! Running the `git` binary: explicit arguments (never a shell), no prompts, a timeout that kills
//! git and anything it started (ssh), and its own process group so a Ctrl-C meant for warroom
//! never interrupts git half-way through writing its index.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What git said.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Out {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).trim_end().to_string()
    }
    /// stdout and stderr together, for messages and for recognising a push race.
    pub fn all(&self) -> String {
        format!("{}\n{}", String::from_utf8_lossy(&self.stdout), self.stderr)
    }
}

/// git run in one work tree.
#[derive(Debug, Clone)]
pub struct Git {
    pub dir: PathBuf,
    pub timeout: Duration,
    /// Extra environment (a temporary index, a commit identity).
    pub env: Vec<(String, String)>,
}

impl Git {
    pub fn new(dir: &Path, timeout: Duration) -> Git {
        Git {
            dir: dir.to_path_buf(),
            timeout,
            env: Vec::new(),
        }
    }

    pub fn with_env(&self, key: &str, value: &str) -> Git {
        let mut g = self.clone();
        g.env.push((key.to_string(), value.to_string()));
        g
    }

    /// Run git; Err only when it could not run at all or timed out.
    pub fn run(&self, args: &[&str], input: Option<&[u8]>) -> Result<Out, String> {
        let mut cmd = Command::new("git");
        cmd.arg("-C")
            .arg(&self.dir)
            .args(args)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env("LC_ALL", "C")
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let what = format!("git {}", args.first().copied().unwrap_or(""));
        let mut child = cmd.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "git is not installed (warroom sync runs the git binary)".to_string(),
            _ => format!("cannot run {what}: {e}"),
        })?;
        let feeder = match (child.stdin.take(), input) {
            (Some(mut stdin), Some(bytes)) => {
                let bytes = bytes.to_vec();
                Some(std::thread::spawn(move || {
                    let _ = stdin.write_all(&bytes);
                }))
            }
            _ => None,
        };
        let mut out_pipe = child.stdout.take();
        let mut err_pipe = child.stderr.take();
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = out_pipe.as_mut() {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = err_pipe.as_mut() {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() >= self.timeout => {
                    let _ = rustix::process::Pid::from_raw(child.id() as i32)
                        .map(|pid| rustix::process::kill_process_group(pid, rustix::process::Signal::KILL));
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "{what} did not finish within {} s and was stopped",
                        self.timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => return Err(format!("waiting for {what}: {e}")),
            }
        };
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let stdout = out_reader.join().unwrap_or_default();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default())
            .trim_end()
            .to_string();
        Ok(Out {
            ok: status.success(),
            stdout,
            stderr,
        })
    }

    /// Run git and require success: the error names the command and quotes git.
    pub fn ok(&self, args: &[&str], input: Option<&[u8]>) -> Result<Out, String> {
        let out = self.run(args, input)?;
        if out.ok {
            Ok(out)
        } else {
            Err(format!("git {} failed: {}", args.join(" "), first_lines(&out.all(), 8)))
        }
    }
}

/// The first `n` non-empty lines of git's message, joined, for a one-line report; sanitised
/// (whole escape sequences removed: git relays what a remote's hook prints).
pub fn first_lines(text: &str, n: usize) -> String {
    crate::domain::termtext::plain_text(text)
        .lines()
        .map(|l| crate::domain::sanitize::sanitize(l).trim().to_string())
        .filter(|l| !l.is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hanging_git_is_stopped_at_its_timeout() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = Git::new(dir.path(), Duration::from_millis(500));
        let start = Instant::now();
        // An alias that runs `sleep`: git and its child are stopped together.
        let out = git.run(&["-c", "alias.hang=!sleep 30", "hang"], None);
        let Err(e) = out else {
            panic!("expected a timeout, got {out:?}");
        };
        assert!(e.contains("did not finish"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn output_and_failure_are_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        let git = Git::new(dir.path(), Duration::from_secs(30));
        let out = git.run(&["--version"], None).expect("git runs");
        assert!(out.ok && out.text().starts_with("git version"), "{out:?}");
        let err = git
            .ok(&["rev-parse", "--show-toplevel"], None)
            .expect_err("not a repository");
        assert!(err.contains("git rev-parse --show-toplevel failed"), "{err}");
    }
}
