// How the workspace tests replay `fuzz/regressions/<target>/`: every file
// there goes through the target's oracle, on stable and without libFuzzer.
// Included (`include!`) by `net/tests/fuzz_regressions.rs`,
// `storage/tests/fuzz_regressions.rs` and `broker/tests/fuzz_regressions.rs`.

/// Runs `check` on every input of `fuzz/regressions/<target>/`, in name
/// order, naming each one first so that a failure says which input it was.
/// A target without inputs fails: its directory must exist and hold some.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions")
        .join(target);
    let mut inputs: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no input", dir.display());
    for path in inputs {
        let data = std::fs::read(&path).expect("a regression input");
        eprintln!("replaying {} ({} bytes)", path.display(), data.len());
        check(&data);
    }
}
