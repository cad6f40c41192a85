// The oracle of the `key_index_decode` fuzz target: what it feeds and checks is
// documented in `fuzz/fuzz_targets/key_index_decode.rs`. Shared by that target
// (`#[path]`) and by the workspace test that replays
// `fuzz/regressions/key_index_decode/` (`include!`, hence no inner attributes or
// inner doc comments here).

use std::path::PathBuf;

use ringmq_net::codec::{Decode, encode_into};
use ringmq_storage::fileio::Io;
use ringmq_storage::key_index::{
    ENTRY_BYTES, Entry, HEADER_BYTES, Header, KeyIndex, KeyQuery, file_path,
};

const TOPIC: &str = "T";
const GEOMETRY_MAX: u32 = 8;
const FILES_MAX: u8 = 8;
/// Longest file made from one input (a full file of the largest
/// configured geometry is 64 + 4 * 8 + 28 * 8 = 320 bytes).
const FILE_BYTES_MAX: usize = 1024;
/// Candidates a query returns at most.
const QUERY_MAX: usize = 64;
/// Where the header CRC sits, and what it covers.
const HEADER_CRC_AT: usize = 52;

/// Runs the target's decoders and oracles on one input; panics on a
/// finding.
pub fn check(data: &[u8]) {
    records(data);
    if let Some(input) = Input::parse(data) {
        files(&input);
    }
}

/// Headers and entries decode or are refused; whatever decodes re-encodes
/// to the same bytes (a header's padding is zeros).
fn records(data: &[u8]) {
    if let Ok(header) = Header::decode(data) {
        let mut bytes = [0u8; HEADER_BYTES];
        encode_into(&header, &mut bytes).expect("a header fits its bytes");
        assert_eq!(Header::decode(&bytes), Ok(header));
        assert_eq!(bytes[..HEADER_CRC_AT + 4], data[..HEADER_CRC_AT + 4]);
    }
    for window in data.windows(ENTRY_BYTES).take(FILE_BYTES_MAX) {
        if let Ok(entry) = Entry::decode(window) {
            let mut bytes = [0u8; ENTRY_BYTES];
            encode_into(&entry, &mut bytes).expect("an entry fits its bytes");
            assert_eq!(&bytes[..], window);
        }
    }
}

struct Input {
    slots: u32,
    capacity: u32,
    trusted_end: u64,
    key: String,
    files: Vec<(u64, Vec<u8>)>,
}

impl Input {
    fn parse(data: &[u8]) -> Option<Input> {
        let [slots, capacity, flags, rest @ ..] = data else {
            return None;
        };
        let (trusted_end, rest) = rest.split_first_chunk::<8>()?;
        let (&key_len, rest) = rest.split_first()?;
        let key_len = usize::from(key_len).min(rest.len());
        let (key, mut rest) = rest.split_at(key_len);
        let mut files = Vec::new();
        for _ in 0..=(flags >> 1) % FILES_MAX {
            let [name, hi, lo, tail @ ..] = rest else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([*hi, *lo]))
                .min(FILE_BYTES_MAX)
                .min(tail.len());
            let (content, tail) = tail.split_at(len);
            let mut content = content.to_vec();
            if flags & 1 != 0 && content.len() >= HEADER_CRC_AT + 4 {
                let crc = crc32fast::hash(&content[..HEADER_CRC_AT]);
                content[HEADER_CRC_AT..HEADER_CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
            }
            files.push((u64::from(*name) * 64, content));
            rest = tail;
        }
        Some(Input {
            slots: u32::from(*slots) % GEOMETRY_MAX + 1,
            capacity: u32::from(*capacity) % GEOMETRY_MAX + 1,
            trusted_end: u64::from_be_bytes(*trusted_end),
            key: String::from_utf8_lossy(key).into_owned(),
            files,
        })
    }
}

fn scratch_root() -> PathBuf {
    // Per process and thread: the workspace test may replay on several threads.
    let thread = format!("{:?}", std::thread::current().id());
    let thread: String = thread.chars().filter(char::is_ascii_digit).collect();
    std::env::temp_dir().join(format!(
        "ringmq-fuzz-keyindex-{}-{thread}",
        std::process::id()
    ))
}

fn files(input: &Input) {
    let root = scratch_root();
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch directory");
    for (name, content) in &input.files {
        std::fs::write(file_path(&root, *name), content).expect("scratch file");
    }
    let io = Io::default();
    if let Ok(mut index) =
        KeyIndex::recover(&io, &root, input.slots, input.capacity, input.trusted_end)
    {
        let query = KeyQuery {
            topic: TOPIC,
            key: &input.key,
            begin_ts: 0,
            end_ts: i64::MAX,
            log_min: 0,
            max: QUERY_MAX,
        };
        let before = index.query(&query);
        assert!(before.len() <= QUERY_MAX);
        let offset = input.trusted_end;
        if !input.key.is_empty() && index.add(TOPIC, &input.key, offset, 1).is_ok() {
            let after = index.query(&query);
            assert_eq!(
                after.first(),
                Some(&offset),
                "an appended key is found first"
            );
        }
        let _ = index.take_dirty();
        let _ = index.drop_below_log(input.trusted_end);
        drop(index);
        assert_no_file_grew(input, &root);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// Recovery extends a short file to the configured geometry, or keeps a
/// file whose header describes its length; it never grows a file to a
/// geometry only its (possibly damaged) header claims.
fn assert_no_file_grew(input: &Input, root: &std::path::Path) {
    let configured = Header::file_bytes(input.slots, input.capacity) as u64;
    for entry in std::fs::read_dir(root)
        .expect("scratch directory")
        .flatten()
    {
        let len = entry.metadata().map_or(0, |m| m.len());
        let before = input
            .files
            .iter()
            .filter(|(name, _)| file_path(root, *name) == entry.path())
            .map(|(_, content)| content.len() as u64)
            .max()
            .unwrap_or(0);
        assert!(
            len <= configured.max(before),
            "{} grew to {len} bytes (configured files are {configured}, it was {before})",
            entry.path().display()
        );
    }
}
