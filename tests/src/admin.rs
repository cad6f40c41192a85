//! `ringmq admin --json` run as a child process, for the suites that check
//! what the admin tool prints against what the cluster holds.
//!
//! A failed run or output that is not JSON is a test failure: the panic
//! message carries the arguments and what the tool printed.

use std::process::Command;

use serde_json::Value;

use crate::binary::ringmq_bin;

/// How one `ringmq admin` run ended and what it printed.
#[derive(Debug)]
pub struct AdminRun {
    /// Exit status 0.
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `ringmq admin --namesrv <namesrv> --json <argv…>` to its end.
pub fn admin(namesrv: &str, argv: &[&str]) -> AdminRun {
    let bin = ringmq_bin().unwrap_or_else(|e| panic!("no ringmq binary: {e}"));
    let out = Command::new(bin)
        .arg("admin")
        .args(["--namesrv", namesrv, "--json"])
        .args(argv)
        .output()
        .unwrap_or_else(|e| panic!("ringmq admin {argv:?} did not start: {e}"));
    AdminRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`admin`], which must succeed, parsed as the one JSON document it prints.
pub fn admin_json(namesrv: &str, argv: &[&str]) -> Value {
    let run = admin(namesrv, argv);
    assert!(run.ok, "admin {argv:?} failed: {}", run.stderr);
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("admin {argv:?} printed no JSON ({e}): {}", run.stdout))
}
