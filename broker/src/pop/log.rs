//! The POP checkpoint log: one append-only file per shard,
//! `<shard dir>/pop/checkpoints.log`, holding the checkpoints of that
//! shard's pops, the acks against them and their retirements. Every record
//! is synced before the request it serves is answered; recovery replays the
//! file, cutting it at the first torn or corrupt record.
//!
//! ```text
//! record:
//!   0  len     u32  bytes from `kind` to the record's end (8 + len bytes in all)
//!   4  crc     u32  CRC32 of those len bytes
//!   8  kind    u8   1 checkpoint, 2 ack, 3 done
//!   9  id      u64  checkpoint id (per shard, increasing)
//! kind 1, checkpoint (a pop of one queue; count 0 = only the queue's pop frontier):
//!  17  pop_time        i64  ms since the epoch
//!  25  invisible_time  i64  ms; the deadline is pop_time + invisible_time
//!  33  queue_id        i32
//!  37  start_offset    i64  first queue offset covered
//!  45  count           u8   offsets covered, start..start+count (<= CHECKPOINT_SPAN_MAX)
//!  46  pending         u32  bit i set = offset start+i handed out and not yet acked
//!  50  flags           u8   bit 0 FIFO
//!  51  attempts        i32  deliveries of these offsets before this one (FIFO)
//!  55  group_len u16, group (UTF-8), topic_len u16, topic (UTF-8; the real topic, a POP retry topic too)
//! kind 2, ack:
//!  17  bit             u8   offset start+bit is acked (or revived)
//! kind 3, done: nothing more (the checkpoint is fully acked or revived)
//! ```
//!
//! Integers are big-endian through the shared codec (`ringmq_net::codec`).

use ringmq_net::codec::{ByteReader, ByteWriter};

/// Offsets one checkpoint covers at most (Java's maxMsgNums bound is 32).
pub const CHECKPOINT_SPAN_MAX: u8 = 32;
/// Longest group or topic name a record carries.
pub const NAME_MAX: usize = 255;
/// Bytes before `kind`.
const FRAME_BYTES: usize = 8;
/// Largest record body (`kind` to end).
pub const RECORD_MAX: usize = 55 + 2 * (2 + NAME_MAX);

const KIND_CHECKPOINT: u8 = 1;
const KIND_ACK: u8 = 2;
const KIND_DONE: u8 = 3;
const FLAG_FIFO: u8 = 1;

/// One pop of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: u64,
    pub pop_time: i64,
    pub invisible_time: i64,
    pub queue_id: i32,
    pub start_offset: i64,
    pub count: u8,
    pub pending: u32,
    pub fifo: bool,
    pub attempts: i32,
    pub group: String,
    pub topic: String,
}

impl Checkpoint {
    /// When unacked messages come back.
    pub fn deadline(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    Checkpoint(Checkpoint),
    Ack { id: u64, bit: u8 },
    Done { id: u64 },
}

/// Why a record cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("name of {0} bytes, at most {NAME_MAX}")]
    NameTooLong(usize),
    #[error("checkpoint covers {0} offsets, at most {CHECKPOINT_SPAN_MAX}")]
    Span(u8),
    #[error("record longer than {RECORD_MAX} bytes")]
    TooLong,
}

fn put_name(w: &mut ByteWriter<'_>, name: &str) -> Result<(), EncodeError> {
    let len = u16::try_from(name.len())
        .ok()
        .filter(|len| usize::from(*len) <= NAME_MAX)
        .ok_or(EncodeError::NameTooLong(name.len()))?;
    w.bytes(&len.to_be_bytes()).bytes(name.as_bytes());
    Ok(())
}

impl LogRecord {
    /// The framed bytes of this record.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut body = [0u8; RECORD_MAX];
        let mut w = ByteWriter::new(&mut body);
        match self {
            LogRecord::Checkpoint(ck) => {
                if ck.count > CHECKPOINT_SPAN_MAX {
                    return Err(EncodeError::Span(ck.count));
                }
                w.u8(KIND_CHECKPOINT)
                    .u64(ck.id)
                    .i64(ck.pop_time)
                    .i64(ck.invisible_time)
                    .i32(ck.queue_id)
                    .i64(ck.start_offset)
                    .u8(ck.count)
                    .u32(ck.pending)
                    .u8(if ck.fifo { FLAG_FIFO } else { 0 })
                    .i32(ck.attempts);
                put_name(&mut w, &ck.group)?;
                put_name(&mut w, &ck.topic)?;
            }
            LogRecord::Ack { id, bit } => {
                w.u8(KIND_ACK).u64(*id).u8(*bit);
            }
            LogRecord::Done { id } => {
                w.u8(KIND_DONE).u64(*id);
            }
        }
        // Names are bounded by NAME_MAX, so a record always fits RECORD_MAX.
        let len = w.finish().map_err(|_| EncodeError::TooLong)?;
        let body = body.get(..len).ok_or(EncodeError::TooLong)?;
        let mut out = vec![0u8; FRAME_BYTES + len];
        let mut frame = ByteWriter::new(&mut out);
        // len <= RECORD_MAX, far below u32::MAX.
        frame.u32(len as u32).u32(crc32fast::hash(body)).bytes(body);
        frame.finish().map_err(|_| EncodeError::TooLong)?;
        Ok(out)
    }

    /// Decodes the record at the start of `buf`: the record and its framed
    /// length, or `None` if the bytes are torn, corrupt or not a record.
    pub fn decode(buf: &[u8]) -> Option<(LogRecord, usize)> {
        let mut frame = ByteReader::new(buf);
        let len = usize::try_from(frame.u32()?).ok()?;
        let crc = frame.u32()?;
        if len == 0 || len > RECORD_MAX {
            return None;
        }
        let body = frame.take(len)?;
        if crc32fast::hash(body) != crc {
            return None;
        }
        let mut r = ByteReader::new(body);
        let kind = r.u8()?;
        let id = r.u64()?;
        let record = match kind {
            KIND_CHECKPOINT => LogRecord::Checkpoint(decode_checkpoint(id, &mut r)?),
            KIND_ACK => LogRecord::Ack { id, bit: r.u8()? },
            KIND_DONE => LogRecord::Done { id },
            _ => return None,
        };
        if r.remaining() != 0 {
            return None;
        }
        Some((record, FRAME_BYTES + len))
    }
}

fn take_name(r: &mut ByteReader<'_>) -> Option<String> {
    let len = usize::from(r.u16()?);
    if len > NAME_MAX {
        return None;
    }
    String::from_utf8(r.take(len)?.to_vec()).ok()
}

fn decode_checkpoint(id: u64, r: &mut ByteReader<'_>) -> Option<Checkpoint> {
    let pop_time = r.i64()?;
    let invisible_time = r.i64()?;
    let queue_id = r.i32()?;
    let start_offset = r.i64()?;
    let count = r.u8()?;
    let pending = r.u32()?;
    let flags = r.u8()?;
    let attempts = r.i32()?;
    if count > CHECKPOINT_SPAN_MAX {
        return None;
    }
    Some(Checkpoint {
        id,
        pop_time,
        invisible_time,
        queue_id,
        start_offset,
        count,
        pending,
        fifo: flags & FLAG_FIFO != 0,
        attempts,
        group: take_name(r)?,
        topic: take_name(r)?,
    })
}

/// Every whole record of `buf` in order, and the length of the valid prefix
/// (recovery truncates the file there).
pub fn replay(buf: &[u8]) -> (Vec<LogRecord>, usize) {
    let mut records = Vec::new();
    let mut at = 0usize;
    while let Some(rest) = buf.get(at..) {
        let Some((record, len)) = LogRecord::decode(rest) else {
            break;
        };
        records.push(record);
        at += len;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            id: 7,
            pop_time: 1_733_130_000_000,
            invisible_time: 30_000,
            queue_id: 3,
            start_offset: 120,
            count: 4,
            pending: 0b1011,
            fifo: true,
            attempts: 2,
            group: "g".to_owned(),
            topic: "%RETRY%g_t".to_owned(),
        }
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_record() {
        let mut buf = LogRecord::Checkpoint(checkpoint())
            .encode()
            .expect("encodes");
        let whole = buf.len();
        buf.extend(LogRecord::Ack { id: 7, bit: 1 }.encode().expect("encodes"));
        let two = buf.len();
        buf.extend(LogRecord::Done { id: 7 }.encode().expect("encodes"));
        buf.truncate(buf.len() - 1);
        let (records, valid) = replay(&buf);
        assert_eq!(records.len(), 2);
        assert_eq!(valid, two);
        assert!(valid > whole);
    }

    #[test]
    fn a_flipped_bit_fails_the_crc() {
        let mut buf = LogRecord::Ack { id: 1, bit: 0 }.encode().expect("encodes");
        if let Some(byte) = buf.last_mut() {
            *byte ^= 1;
        }
        assert_eq!(LogRecord::decode(&buf), None);
        assert_eq!(replay(&[0u8; 64]), (Vec::new(), 0));
    }

    #[test]
    fn oversized_names_and_spans_are_refused() {
        let mut ck = checkpoint();
        ck.group = "g".repeat(NAME_MAX + 1);
        assert!(LogRecord::Checkpoint(ck).encode().is_err());
        let mut ck = checkpoint();
        ck.count = CHECKPOINT_SPAN_MAX + 1;
        assert!(LogRecord::Checkpoint(ck).encode().is_err());
    }

    proptest! {
        #[test]
        fn records_round_trip(
            id in any::<u64>(), pop in any::<i64>(), inv in any::<i64>(), q in any::<i32>(),
            start in any::<i64>(), count in 0u8..=CHECKPOINT_SPAN_MAX, pending in any::<u32>(),
            fifo in any::<bool>(), attempts in any::<i32>(), group in "[a-zA-Z0-9_%-]{0,60}",
            topic in "[a-zA-Z0-9_%-]{0,60}", bit in any::<u8>(),
        ) {
            let ck = Checkpoint { id, pop_time: pop, invisible_time: inv, queue_id: q,
                start_offset: start, count, pending, fifo, attempts, group, topic };
            for record in [LogRecord::Checkpoint(ck), LogRecord::Ack { id, bit }, LogRecord::Done { id }] {
                let bytes = record.encode().expect("encodes");
                prop_assert_eq!(LogRecord::decode(&bytes), Some((record, bytes.len())));
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (_, valid) = replay(&bytes);
            prop_assert!(valid <= bytes.len());
        }
    }
}
