//! A process under test: started with its output in a log file, stopped by
//! SIGTERM (graceful for both systems), measured through /proc.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running child; killed on drop if still there.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    /// Starts `command` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> anyhow::Result<Proc> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = file.try_clone().context("duplicating the log handle")?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Proc { name: name.to_string(), child, log: log.to_path_buf() })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails with the log's tail when the process has exited.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait().context("polling a child process")? {
            bail!("{} exited early ({status}); last lines of {}:\n{}", self.name, self.log.display(), tail(&self.log));
        }
        Ok(())
    }

    /// SIGTERM, then waits up to `timeout` (SIGKILL after that).
    pub fn terminate(&mut self, timeout: Duration) -> anyhow::Result<()> {
        if self.child.try_wait().context("polling a child process")?.is_some() {
            return Ok(());
        }
        let status =
            Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status().context("running kill -TERM")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid());
        }
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.child.try_wait().context("waiting for a child process")?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("!! {} did not stop within {timeout:?} of SIGTERM: SIGKILL", self.name);
        self.child.kill().context("killing a child process")?;
        self.child.wait().context("reaping a child process")?;
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A `Vm*` field of /proc/<pid>/status, in MiB.
pub fn vm_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak resident set size (VmHWM), MiB.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    vm_mib(pid, "VmHWM:")
}

/// Current resident set size (VmRSS), MiB.
pub fn rss_mib(pid: u32) -> Option<f64> {
    vm_mib(pid, "VmRSS:")
}

/// The last 40 lines of a log.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}
