//! One `ringmq` server child process owned by a test.
//!
//! The process gets its own temporary directory; stdout and stderr go to
//! `stdout.log` / `stderr.log` in it (appended across restarts, each start
//! marked). Readiness is "the listen port accepts a TCP connection", polled
//! for at most [`READY_WAIT_MAX`]. Dropping the handle SIGKILLs the process,
//! and if the test is panicking prints the log tails so a failure shows what
//! the server said.

use crate::{HarnessError, HarnessResult};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Longest wait for a started server to accept connections.
pub const READY_WAIT_MAX: Duration = Duration::from_secs(30);
/// Longest wait for a process to exit after SIGTERM before it is SIGKILLed.
pub const TERMINATE_WAIT_MAX: Duration = Duration::from_secs(30);
/// Pause between readiness probes.
const PROBE_INTERVAL: Duration = Duration::from_millis(50);
/// Connect timeout of one readiness probe.
const PROBE_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Bytes of each log shown by [`ServerProcess::log_tail`].
pub const LOG_TAIL_BYTES: u64 = 6 * 1024;

/// A running (or stopped) server child process with its directory and logs.
pub struct ServerProcess {
    label: String,
    bin: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
    starts: u32,
}

impl ServerProcess {
    /// Starts `bin args` (with extra environment `envs`) in `dir` and waits
    /// until `127.0.0.1:port` accepts.
    pub fn start(
        label: &str,
        bin: PathBuf,
        args: Vec<String>,
        envs: Vec<(String, String)>,
        port: u16,
        dir: TempDir,
    ) -> HarnessResult<Self> {
        let mut process = Self {
            label: label.to_string(),
            bin,
            args,
            envs,
            port,
            dir,
            child: None,
            starts: 0,
        };
        process.launch()?;
        Ok(process)
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The listen port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process's own directory (logs; data lives below it).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The OS process id while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the child is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILLs the process (a crash: nothing is flushed) and reaps it.
    pub fn kill9(&mut self) -> HarnessResult<()> {
        if let Some(mut child) = self.child.take() {
            // `Child::kill` sends SIGKILL on Unix.
            let _ = child.kill();
            child
                .wait()
                .map_err(|e| HarnessError::io(format!("reaping {}", self.label), e))?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns its status.
    pub fn terminate(&mut self) -> HarnessResult<ExitStatus> {
        let Some(mut child) = self.child.take() else {
            return Err(HarnessError::Failed(format!(
                "{} is not running",
                self.label
            )));
        };
        let pid = libc::pid_t::try_from(child.id())
            .map_err(|_| HarnessError::Failed("pid does not fit pid_t".into()))?;
        // SAFETY: `kill` has no memory-safety preconditions; `pid` is our own
        // child, not yet reaped, so the id cannot have been reused.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + TERMINATE_WAIT_MAX;
        while Instant::now() < deadline {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => std::thread::sleep(PROBE_INTERVAL),
                Err(e) => return Err(HarnessError::io(format!("waiting for {}", self.label), e)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(HarnessError::Failed(format!(
            "{} did not exit within {:?} of SIGTERM; killed\n{}",
            self.label,
            TERMINATE_WAIT_MAX,
            self.log_tail()
        )))
    }

    /// Starts the process again with the same arguments, port and directory.
    /// A running process is SIGKILLed first.
    pub fn restart(&mut self) -> HarnessResult<()> {
        self.kill9()?;
        self.launch()
    }

    /// The last [`LOG_TAIL_BYTES`] of stdout and stderr, labelled.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for name in ["stdout.log", "stderr.log"] {
            let path = self.dir.path().join(name);
            out.push_str(&format!("----- {} {} (tail) -----\n", self.label, name));
            out.push_str(&read_tail(&path, LOG_TAIL_BYTES));
            out.push('\n');
        }
        out
    }

    fn launch(&mut self) -> HarnessResult<()> {
        self.starts = self.starts.saturating_add(1);
        let stdout = self.open_log("stdout.log")?;
        let stderr = self.open_log("stderr.log")?;
        let mut command = Command::new(&self.bin);
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let child = command.spawn().map_err(|e| {
            HarnessError::io(
                format!("spawning {} ({})", self.label, self.bin.display()),
                e,
            )
        })?;
        self.child = Some(child);
        self.wait_ready()
    }

    fn open_log(&self, name: &str) -> HarnessResult<File> {
        let path = self.dir.path().join(name);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| HarnessError::io(format!("opening {}", path.display()), e))?;
        let marker = format!(
            "===== start {} of {}: {} {} =====\n",
            self.starts,
            self.label,
            self.bin.display(),
            self.args.join(" ")
        );
        file.write_all(marker.as_bytes())
            .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        Ok(file)
    }

    fn wait_ready(&mut self) -> HarnessResult<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + READY_WAIT_MAX;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(HarnessError::Failed(format!(
                    "{} exited during start-up with {status}\n{}",
                    self.label,
                    self.log_tail()
                )));
            }
            if TcpStream::connect_timeout(&addr, PROBE_CONNECT_TIMEOUT).is_ok() {
                return Ok(());
            }
            std::thread::sleep(PROBE_INTERVAL);
        }
        Err(HarnessError::Failed(format!(
            "{} did not accept connections on {addr} within {READY_WAIT_MAX:?}\n{}",
            self.label,
            self.log_tail()
        )))
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
        }
        let _ = self.kill9();
    }
}

/// The last `max_bytes` of a file, lossily decoded; a note if unreadable.
fn read_tail(path: &Path, max_bytes: u64) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("({} unreadable)", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(max_bytes);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return String::new();
    }
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A loopback port that was free a moment ago (bind port 0, read, release).
pub fn free_port() -> HarnessResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| HarnessError::io("binding 127.0.0.1:0", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| HarnessError::io("reading the bound port", e))
}
