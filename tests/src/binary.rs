//! Locates the `ringmq` executable the tests start.
//!
//! Order: the `RINGMQ_BIN` environment variable, else `ringmq` in the cargo
//! profile directory that holds the running test executable
//! (`target/<profile>/deps/<test>-<hash>` → `target/<profile>/ringmq`).
//! The README's test command builds it first: `cargo build --bin ringmq`.

use crate::{HarnessError, HarnessResult};
use std::path::PathBuf;

/// Environment variable that overrides where the `ringmq` binary is.
pub const RINGMQ_BIN_ENV: &str = "RINGMQ_BIN";

/// How many parent directories of the test executable are searched.
const PARENT_SEARCH_DEPTH_MAX: usize = 3;

/// Returns the path of the `ringmq` binary, or an error telling how to build it.
pub fn ringmq_bin() -> HarnessResult<PathBuf> {
    if let Some(path) = std::env::var_os(RINGMQ_BIN_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(HarnessError::Failed(format!(
            "{RINGMQ_BIN_ENV}={} is not a file",
            path.display()
        )));
    }
    let exe =
        std::env::current_exe().map_err(|e| HarnessError::io("finding the test executable", e))?;
    let mut dir = exe.parent();
    for _ in 0..PARENT_SEARCH_DEPTH_MAX {
        let Some(current) = dir else { break };
        let candidate = current.join(format!("ringmq{}", std::env::consts::EXE_SUFFIX));
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = current.parent();
    }
    Err(HarnessError::Failed(format!(
        "the ringmq binary was not found near {}; run `cargo build --bin ringmq` first \
         (same CARGO_TARGET_DIR and profile as the tests) or set {RINGMQ_BIN_ENV}",
        exe.display()
    )))
}
