//! A minimal decoder of commit-log message records, the format of a pull
//! response body (spec section 4.1), written independently of `ringmq_net`.
//!
//! ```text
//! off  size  field
//!   0     4  TOTALSIZE (whole record)
//!   4     4  MAGICCODE  0xDAA320A7 (V1, 1-byte topic length) | 0xDAA320AB (V2, 2-byte)
//!   8     4  BODYCRC
//!  12     4  QUEUEID
//!  16     4  FLAG
//!  20     8  QUEUEOFFSET
//!  28     8  PHYSICALOFFSET
//!  36     4  SYSFLAG    (bit 4: born host IPv6, bit 5: store host IPv6)
//!  40     8  BORNTIMESTAMP
//!  48  8/20  BORNHOST
//!   …     8  STORETIMESTAMP
//!   …  8/20  STOREHOST
//!   …     4  RECONSUMETIMES
//!   …     8  PREPAREDTRANSACTIONOFFSET
//!   …     4  BODYLENGTH, then BODY
//!   …   1/2  TOPICLENGTH, then TOPIC
//!   …     2  PROPERTIESLENGTH, then PROPERTIES (0x01/0x02 string)
//! ```

use crate::{HarnessError, HarnessResult};
use std::collections::BTreeMap;

/// Magic of a V1 record (1-byte topic length).
pub const MAGIC_V1: u32 = 0xDAA3_20A7;
/// Magic of a V2 record (2-byte topic length).
pub const MAGIC_V2: u32 = 0xDAA3_20AB;
/// Sysflag bit: born host is IPv6.
const BORNHOST_V6: i32 = 0x10;
/// Sysflag bit: store host is IPv6.
const STOREHOST_V6: i32 = 0x20;
/// Most records decoded from one body.
pub const RECORDS_PER_BODY_MAX: usize = 100_000;

/// The fields of a stored message the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Topic.
    pub topic: String,
    /// Queue id.
    pub queue_id: i32,
    /// Logical offset in the queue.
    pub queue_offset: i64,
    /// Commit-log offset.
    pub physical_offset: i64,
    /// Sysflag.
    pub sys_flag: i32,
    /// When the broker stored it (epoch ms).
    pub store_timestamp: i64,
    /// Times it was consumed before (retries).
    pub reconsume_times: i32,
    /// Body as stored.
    pub body: Vec<u8>,
    /// Properties.
    pub properties: BTreeMap<String, String>,
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> HarnessResult<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or_else(|| HarnessError::BadFrame("record length overflow".into()))?;
        let out = self.bytes.get(self.pos..end).ok_or_else(|| {
            HarnessError::BadFrame(format!("record truncated at byte {}", self.pos))
        })?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> HarnessResult<[u8; N]> {
        self.take(N)?
            .try_into()
            .map_err(|_| HarnessError::BadFrame("short field".into()))
    }

    fn i32(&mut self) -> HarnessResult<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    fn i64(&mut self) -> HarnessResult<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    fn len_from(&mut self, value: i64) -> HarnessResult<usize> {
        usize::try_from(value)
            .map_err(|_| HarnessError::BadFrame(format!("negative length {value}")))
    }
}

/// Decodes back-to-back records (a pull body).
pub fn decode_records(body: &[u8]) -> HarnessResult<Vec<StoredMessage>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if out.len() >= RECORDS_PER_BODY_MAX {
            return Err(HarnessError::BadFrame(
                "too many records in one body".into(),
            ));
        }
        let size_bytes: [u8; 4] = rest
            .get(..4)
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| HarnessError::BadFrame("record size truncated".into()))?;
        let size = usize::try_from(i32::from_be_bytes(size_bytes))
            .map_err(|_| HarnessError::BadFrame("negative record size".into()))?;
        let record = rest
            .get(..size)
            .ok_or_else(|| HarnessError::BadFrame(format!("record of {size} bytes truncated")))?;
        out.push(decode_record(record)?);
        rest = rest.get(size.max(4)..).unwrap_or_default();
    }
    Ok(out)
}

/// Decodes one record.
pub fn decode_record(record: &[u8]) -> HarnessResult<StoredMessage> {
    let mut c = Cursor {
        bytes: record,
        pos: 0,
    };
    let _total = c.i32()?;
    let magic = u32::from_be_bytes(c.array()?);
    if magic != MAGIC_V1 && magic != MAGIC_V2 {
        return Err(HarnessError::BadFrame(format!("bad magic {magic:#x}")));
    }
    let _crc = c.i32()?;
    let queue_id = c.i32()?;
    let _flag = c.i32()?;
    let queue_offset = c.i64()?;
    let physical_offset = c.i64()?;
    let sys_flag = c.i32()?;
    let _born_ts = c.i64()?;
    c.take(if sys_flag & BORNHOST_V6 != 0 { 20 } else { 8 })?;
    let store_timestamp = c.i64()?;
    c.take(if sys_flag & STOREHOST_V6 != 0 { 20 } else { 8 })?;
    let reconsume_times = c.i32()?;
    let _prepared = c.i64()?;
    let body_len = c.i32()?;
    let body_len = c.len_from(i64::from(body_len))?;
    let body = c.take(body_len)?.to_vec();
    let topic_len = if magic == MAGIC_V1 {
        i64::from(i8::from_be_bytes(c.array()?))
    } else {
        i64::from(i16::from_be_bytes(c.array()?))
    };
    let topic_len = c.len_from(topic_len)?;
    let topic = String::from_utf8_lossy(c.take(topic_len)?).into_owned();
    let props_len = i64::from(i16::from_be_bytes(c.array()?));
    let props_len = c.len_from(props_len)?;
    let props = String::from_utf8_lossy(c.take(props_len)?).into_owned();
    Ok(StoredMessage {
        topic,
        queue_id,
        queue_offset,
        physical_offset,
        sys_flag,
        store_timestamp,
        reconsume_times,
        body,
        properties: crate::raw::decode_properties(&props),
    })
}
