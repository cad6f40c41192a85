// The oracle of the `consume_queue_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/consume_queue_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/consume_queue_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use std::path::{Path, PathBuf};

use ringmq_net::codec::Decode;
use ringmq_storage::consume_queue::{
    CQ_UNIT_BYTES, ConsumeQueues, CqUnit, RecoverBounds, file_path, recover,
};
use ringmq_storage::fileio::Io;

const TOPIC: &str = "T";
const QUEUE_ID: i32 = 0;
/// Mapped files the recovered queues may keep at once (small, so eviction runs).
const MAPPED_FILES_MAX: usize = 2;
const UNITS_PER_FILE_MAX: u64 = 8;
const FILES_MAX: u8 = 8;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    units(data);
    if let Some(input) = Input::parse(data) {
        files(&input);
    }
}

/// Every 20-byte window decodes or is refused; a unit re-encodes exactly.
fn units(data: &[u8]) {
    for window in data.windows(CQ_UNIT_BYTES) {
        if let Ok(unit) = CqUnit::decode(window) {
            assert_eq!(&unit.encode()[..], window);
        }
    }
    let _ = CqUnit::decode(data);
}

struct Input<'a> {
    units_per_file: u64,
    bounds: RecoverBounds,
    retention_log_min: u64,
    files: Vec<(i64, &'a [u8])>,
}

impl<'a> Input<'a> {
    fn parse(data: &'a [u8]) -> Option<Input<'a>> {
        let (&per, rest) = data.split_first()?;
        let (&flags, rest) = rest.split_first()?;
        let (trusted_end, rest) = take_u64(rest)?;
        let (log_min, rest) = take_u64(rest)?;
        let (retention_log_min, mut rest) = take_u64(rest)?;
        let units_per_file = u64::from(per) % UNITS_PER_FILE_MAX + 1;
        let full = units_per_file as usize * CQ_UNIT_BYTES;
        let mut files = Vec::new();
        let mut next = 0i64;
        for _ in 0..=(flags >> 1) % FILES_MAX {
            let [name, len, tail @ ..] = rest else { break };
            let number = match name {
                0 => next,
                n => i64::from(*n - 1),
            };
            let len = usize::from(*len).min(full + CQ_UNIT_BYTES).min(tail.len());
            let (content, tail) = tail.split_at(len);
            files.push((number * units_per_file as i64, content));
            next = number + 1;
            rest = tail;
        }
        Some(Input {
            units_per_file,
            bounds: RecoverBounds {
                trusted_end,
                log_min,
                crashed: flags & 1 != 0,
            },
            retention_log_min,
            files,
        })
    }
}

fn take_u64(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = bytes.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*head), rest))
}

fn scratch_root() -> PathBuf {
    // Per process and thread: the workspace test may replay on several threads.
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!("ringmq-fuzz-cq-{}-{thread}", std::process::id()))
}

fn files(input: &Input<'_>) {
    let root = scratch_root();
    let _ = std::fs::remove_dir_all(&root);
    for (first, content) in &input.files {
        let path = file_path(&root, TOPIC, QUEUE_ID, *first);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("scratch directory");
        }
        std::fs::write(&path, content).expect("scratch file");
    }
    let io = Io::default();
    let Ok(mut queues) = recover(
        &io,
        &root,
        input.units_per_file,
        MAPPED_FILES_MAX,
        input.bounds,
    ) else {
        return;
    };
    let found = check_queue(&mut queues);
    // A second recovery over what the first left finds the same queue.
    if let Ok(mut again) = recover(
        &io,
        &root,
        input.units_per_file,
        MAPPED_FILES_MAX,
        RecoverBounds {
            crashed: false,
            ..input.bounds
        },
    ) {
        assert_eq!(check_queue(&mut again), found, "recovery is not idempotent");
    }
    let _ = queues.drop_below_log(input.retention_log_min);
    check_queue(&mut queues);
    let _ = std::fs::remove_dir_all(Path::new(&root));
}

/// The queue's (min, max) after checking it is sane and reading its units.
fn check_queue(queues: &mut ConsumeQueues) -> Option<(i64, i64)> {
    let queue = queues.get(TOPIC, QUEUE_ID)?;
    let (min, max) = (queue.min_offset(), queue.max_offset());
    assert!(min <= max, "min offset {min} above max offset {max}");
    let span = UNITS_PER_FILE_MAX * u64::from(FILES_MAX) + 1;
    for logical in min..max.min(min.saturating_add(span as i64)) {
        let _ = queues.unit(TOPIC, QUEUE_ID, logical);
    }
    Some((min, max))
}
