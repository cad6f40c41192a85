//! The timer's on-disk formats (RocketMQ 5's TimerLog + TimerWheel, with
//! checksums): an append-only timer log of 32-byte entries, a wheel of
//! 32-byte slots each heading a chain of entries through `prev` pointers,
//! and a 40-byte checkpoint. All under `<shard dir>/timer/`:
//!
//! ```text
//! timerlog/<20-digit base position>   segments of TIMER_LOG_SEGMENT_BYTES, entries back to back
//! timerwheel                          WHEEL_SLOTS slots, a sparse file (untouched slots are zeros)
//! timercheck                          the checkpoint, replaced atomically
//!
//! log entry (32 bytes), at a log position (base + offset in its segment):
//!   0  prev      i64  position of the previous entry of the same slot; -1 = first
//!   8  phys      i64  commit-log physical offset of the held message
//!  16  due_ms    i64  when it is due (epoch ms)
//!  24  size      i32  size of the held record
//!  28  crc       u32  CRC32 of bytes 0..28
//!
//! wheel slot (32 bytes), slot i at byte 32*i, i = (time_ms / PRECISION_MS) % WHEEL_SLOTS:
//!   0  time_ms   i64  start of the tick this chain belongs to (0 = never used)
//!   8  first     i64  log position of the chain's first entry
//!  16  last      i64  log position of its last entry (walk back through prev)
//!  24  count     i32  entries in the chain
//!  28  crc       u32  CRC32 of bytes 0..28
//!
//! checkpoint (40 bytes):
//!   0  magic         u32  0x524D5443 "RMTC"
//!   4  version       u32  1
//!   8  queue_offset  i64  next timer-topic consume-queue offset to put in the wheel
//!  16  log_end       i64  timer-log position the wheel covers (all synced)
//!  24  delivered_ms  i64  every tick before this time was delivered
//!  32  reserved      u32  0
//!  36  crc           u32  CRC32 of bytes 0..36
//! ```
//!
//! Integers are big-endian through the shared codec (`ringmq_net::codec`).
//! A zeroed or torn entry or slot fails its CRC: recovery cuts the log at
//! the first bad entry and treats a bad slot as empty.

use ringmq_net::codec::{ByteReader, ByteWriter, Decode, Encode, encode_into};

/// Bytes of one timer-log entry.
pub const ENTRY_BYTES: usize = 32;
/// Bytes of one wheel slot.
pub const SLOT_BYTES: usize = 32;
/// Bytes of the checkpoint.
pub const CHECKPOINT_BYTES: usize = 40;
/// `timercheck` magic.
pub const CHECKPOINT_MAGIC: u32 = 0x524D_5443;
/// `timercheck` version.
pub const CHECKPOINT_VERSION: u32 = 1;
/// `prev` of a chain's first entry.
pub const NO_ENTRY: i64 = -1;

/// Why bytes are not a valid entry, slot or checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimerFileError {
    #[error("{got} bytes, expected {expected}")]
    Length { got: usize, expected: usize },
    #[error("checksum mismatch (torn or never written)")]
    Crc,
    #[error("not a timer checkpoint of version {CHECKPOINT_VERSION}")]
    Magic,
}

/// One timer-log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    pub prev: i64,
    pub phys: i64,
    pub due_ms: i64,
    pub size: i32,
}

/// One wheel slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Slot {
    pub time_ms: i64,
    pub first: i64,
    pub last: i64,
    pub count: i32,
}

/// The timer checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimerCheckpoint {
    pub queue_offset: i64,
    pub log_end: i64,
    pub delivered_ms: i64,
}

/// Writes `body` (the bytes before the CRC) and its CRC.
fn with_crc<const N: usize>(w: &mut ByteWriter<'_>, fill: impl FnOnce(&mut ByteWriter<'_>)) {
    let mut body = [0u8; N];
    fill(&mut ByteWriter::new(&mut body));
    w.bytes(&body).u32(crc32fast::hash(&body));
}

/// Checks length and CRC, returning a reader over the body.
fn checked(bytes: &[u8], expected: usize) -> Result<ByteReader<'_>, TimerFileError> {
    if bytes.len() != expected {
        return Err(TimerFileError::Length {
            got: bytes.len(),
            expected,
        });
    }
    let crc_at = expected - 4;
    let (body, crc) = (bytes.get(..crc_at), bytes.get(crc_at..));
    let crc = crc
        .and_then(|c| <[u8; 4]>::try_from(c).ok())
        .map(u32::from_be_bytes);
    match (body, crc) {
        (Some(body), Some(crc)) if crc32fast::hash(body) == crc => Ok(ByteReader::new(body)),
        _ => Err(TimerFileError::Crc),
    }
}

impl Encode for LogEntry {
    const ENCODED_BYTES: usize = ENTRY_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        with_crc::<28>(w, |b| {
            b.i64(self.prev)
                .i64(self.phys)
                .i64(self.due_ms)
                .i32(self.size);
        });
    }
}

impl Decode for LogEntry {
    type Error = TimerFileError;
    fn decode(bytes: &[u8]) -> Result<Self, TimerFileError> {
        let mut r = checked(bytes, ENTRY_BYTES)?;
        (|| {
            Some(LogEntry {
                prev: r.i64()?,
                phys: r.i64()?,
                due_ms: r.i64()?,
                size: r.i32()?,
            })
        })()
        .ok_or(TimerFileError::Crc)
    }
}

impl Encode for Slot {
    const ENCODED_BYTES: usize = SLOT_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        with_crc::<28>(w, |b| {
            b.i64(self.time_ms)
                .i64(self.first)
                .i64(self.last)
                .i32(self.count);
        });
    }
}

impl Decode for Slot {
    type Error = TimerFileError;
    fn decode(bytes: &[u8]) -> Result<Self, TimerFileError> {
        let mut r = checked(bytes, SLOT_BYTES)?;
        (|| {
            Some(Slot {
                time_ms: r.i64()?,
                first: r.i64()?,
                last: r.i64()?,
                count: r.i32()?,
            })
        })()
        .ok_or(TimerFileError::Crc)
    }
}

impl Encode for TimerCheckpoint {
    const ENCODED_BYTES: usize = CHECKPOINT_BYTES;
    fn write(&self, w: &mut ByteWriter<'_>) {
        with_crc::<36>(w, |b| {
            b.u32(CHECKPOINT_MAGIC)
                .u32(CHECKPOINT_VERSION)
                .i64(self.queue_offset)
                .i64(self.log_end)
                .i64(self.delivered_ms)
                .u32(0);
        });
    }
}

impl Decode for TimerCheckpoint {
    type Error = TimerFileError;
    fn decode(bytes: &[u8]) -> Result<Self, TimerFileError> {
        let mut r = checked(bytes, CHECKPOINT_BYTES)?;
        let fields = (|| Some((r.u32()?, r.u32()?, r.i64()?, r.i64()?, r.i64()?)))();
        match fields {
            Some((CHECKPOINT_MAGIC, CHECKPOINT_VERSION, queue_offset, log_end, delivered_ms)) => {
                Ok(TimerCheckpoint {
                    queue_offset,
                    log_end,
                    delivered_ms,
                })
            }
            _ => Err(TimerFileError::Magic),
        }
    }
}

/// The bytes of any of the three fixed layouts.
pub fn encode<T: Encode, const N: usize>(value: &T) -> [u8; N] {
    let mut out = [0u8; N];
    // Cannot fail: N is T::ENCODED_BYTES at every call (round-trip tests).
    let _ = encode_into(value, &mut out);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(prev in any::<i64>(), phys in any::<i64>(), due_ms in any::<i64>(), size in any::<i32>()) {
            let entry = LogEntry { prev, phys, due_ms, size };
            let bytes: [u8; ENTRY_BYTES] = encode(&entry);
            prop_assert_eq!(LogEntry::decode(&bytes), Ok(entry));
        }

        #[test]
        fn slots_round_trip(time_ms in any::<i64>(), first in any::<i64>(), last in any::<i64>(), count in any::<i32>()) {
            let slot = Slot { time_ms, first, last, count };
            let bytes: [u8; SLOT_BYTES] = encode(&slot);
            prop_assert_eq!(Slot::decode(&bytes), Ok(slot));
        }

        #[test]
        fn checkpoints_round_trip(queue_offset in any::<i64>(), log_end in any::<i64>(), delivered_ms in any::<i64>()) {
            let point = TimerCheckpoint { queue_offset, log_end, delivered_ms };
            let bytes: [u8; CHECKPOINT_BYTES] = encode(&point);
            prop_assert_eq!(TimerCheckpoint::decode(&bytes), Ok(point));
        }

        #[test]
        fn garbage_is_refused_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let entry = LogEntry::decode(&bytes);
            let slot = Slot::decode(&bytes);
            let point = TimerCheckpoint::decode(&bytes);
            if bytes.len() != ENTRY_BYTES {
                prop_assert!(entry.is_err() && slot.is_err());
            }
            if bytes.len() != CHECKPOINT_BYTES {
                prop_assert!(point.is_err());
            }
        }

        #[test]
        fn one_flipped_bit_is_detected(bit in 0usize..(ENTRY_BYTES * 8)) {
            let entry = LogEntry { prev: 7, phys: 1 << 40, due_ms: 1_700_000_000_000, size: 300 };
            let mut bytes: [u8; ENTRY_BYTES] = encode(&entry);
            if let Some(byte) = bytes.get_mut(bit / 8) {
                *byte ^= 1 << (bit % 8);
            }
            prop_assert_eq!(LogEntry::decode(&bytes), Err(TimerFileError::Crc));
        }
    }

    #[test]
    fn zeros_are_never_a_valid_entry_slot_or_checkpoint() {
        assert_eq!(
            LogEntry::decode(&[0; ENTRY_BYTES]),
            Err(TimerFileError::Crc)
        );
        assert_eq!(Slot::decode(&[0; SLOT_BYTES]), Err(TimerFileError::Crc));
        assert_eq!(
            TimerCheckpoint::decode(&[0; CHECKPOINT_BYTES]),
            Err(TimerFileError::Crc)
        );
    }

    #[test]
    fn layout_is_big_endian_with_the_crc_last() {
        let slot = Slot {
            time_ms: 1,
            first: 2,
            last: 3,
            count: 4,
        };
        let bytes: [u8; SLOT_BYTES] = encode(&slot);
        assert_eq!(bytes.get(7), Some(&1));
        assert_eq!(bytes.get(15), Some(&2));
        assert_eq!(bytes.get(23), Some(&3));
        assert_eq!(bytes.get(27), Some(&4));
        let crc = crc32fast::hash(bytes.get(..28).unwrap());
        assert_eq!(bytes.get(28..).unwrap(), crc.to_be_bytes());
    }
}
