//! The RocketMQ 4.x message record: one message as stored in the commit log,
//! byte for byte the same as a pull / QUERY_MESSAGE / VIEW_MESSAGE_BY_ID body.
//!
//! [`MessageRecord`] is the owned form (what the broker builds on send);
//! [`RecordView`] borrows a record in place (what the storage engine indexes
//! and recovery checks, without copying); [`patch_stored_fields`] rewrites
//! the three fields only known under the append position; [`scan_record`]
//! classifies the bytes at a commit-log position for recovery; [`records`]
//! splits a pull body. The body CRC is written on encode and verified on
//! decode and on scan.
//!
//! # Layout (spec §4.1), all integers big-endian
//!
//! ```text
//! offset  size  field
//!      0     4  TOTALSIZE            i32, whole record incl. this field
//!      4     4  MAGICCODE            0xDAA320A7 (V1); 0xCBD43194 = blank (end of file)
//!      8     4  BODYCRC              crc32(body) & 0x7FFF_FFFF
//!     12     4  QUEUEID              i32
//!     16     4  FLAG                 i32, producer's user flag
//!     20     8  QUEUEOFFSET          i64, logical offset in the consume queue
//!     28     8  PHYSICALOFFSET       i64, commit-log offset of byte 0 of this record
//!     36     4  SYSFLAG              i32, see the sysflag constants below
//!     40     8  BORNTIMESTAMP        i64 ms
//!     48   8|20 BORNHOST             ip (4|16) + port (i32); 16 if SYSFLAG & 0x10
//!      B     8  STORETIMESTAMP       i64 ms              B = 48 + born host len
//!    B+8  8|20  STOREHOST            ip (4|16) + port (i32); 16 if SYSFLAG & 0x20
//!      S     4  RECONSUMETIMES       i32                 S = B + 8 + store host len
//!    S+4     8  PREPAREDTRANSACTIONOFFSET  i64
//!   S+12     4  BODYLENGTH           i32 = N
//!   S+16     N  BODY                 possibly compressed (SYSFLAG bit 0)
//!      .     1  TOPICLENGTH          i8 = T (signed: topic <= 127 bytes)
//!      .     T  TOPIC                UTF-8
//!      .     2  PROPERTIESLENGTH     i16 = P (signed: <= 32767 bytes)
//!      .     P  PROPERTIES           0x01/0x02 string, see `properties`
//! ```
//!
//! TOTALSIZE = 91 + N + T + P with IPv4 hosts, +12 per IPv6 host.
//!
//! # End of a commit-log file
//!
//! ```text
//! [remaining bytes in the file: i32][0xCBD43194]     (8 bytes, `encode_blank`)
//! ```
//!
//! A record never spans two files: when it does not fit (record + 8 bytes of
//! blank marker), the writer puts the blank marker and moves to the next file.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use bytes::Bytes;

/// Magic code of a 4.x (V1) message record.
pub const MESSAGE_MAGIC_V1: i32 = 0xDAA3_20A7_u32 as i32;
/// Magic code of the 5.x/develop V2 record (2-byte topic length). Not supported.
pub const MESSAGE_MAGIC_V2: i32 = 0xDAA3_20AB_u32 as i32;
/// Magic code of the end-of-file filler marker.
pub const BLANK_MAGIC: i32 = 0xCBD4_3194_u32 as i32;
/// Length of the end-of-file marker: remaining (i32) + BLANK_MAGIC (i32).
pub const BLANK_MARKER_BYTES: usize = 8;

/// SYSFLAG bit 0: the body is compressed.
pub const COMPRESSED_FLAG: i32 = 0x1;
/// SYSFLAG bit 1: the topic's filter type is MULTI_TAG (set by the broker).
pub const MULTI_TAGS_FLAG: i32 = 0x2;
/// SYSFLAG bits 2-3: the transaction type.
pub const TRANSACTION_TYPE_MASK: i32 = 0xC;
/// Transaction type: an ordinary message.
pub const TRANSACTION_NOT_TYPE: i32 = 0x0;
/// Transaction type: a half (prepared) message.
pub const TRANSACTION_PREPARED_TYPE: i32 = 0x4;
/// Transaction type: a commit of a half message.
pub const TRANSACTION_COMMIT_TYPE: i32 = 0x8;
/// Transaction type: a rollback of a half message.
pub const TRANSACTION_ROLLBACK_TYPE: i32 = 0xC;
/// SYSFLAG bit 4: BORNHOST is IPv6 (16 + 4 bytes).
pub const BORNHOST_V6_FLAG: i32 = 0x10;
/// SYSFLAG bit 5: STOREHOST is IPv6 (16 + 4 bytes).
pub const STOREHOST_V6_FLAG: i32 = 0x20;
/// SYSFLAG bit 6: 5.x inner batch, needs unwrapping (unused in 4.x).
pub const NEED_UNWRAP_FLAG: i32 = 0x40;
/// SYSFLAG bit 7: 5.x inner batch (unused in 4.x).
pub const INNER_BATCH_FLAG: i32 = 0x80;
/// SYSFLAG bits 8-10: the compression type (see [`CompressionType`]).
pub const COMPRESSION_TYPE_MASK: i32 = 0x700;
/// Compression type bits for LZ4.
pub const COMPRESSION_LZ4: i32 = 0x100;
/// Compression type bits for ZSTD.
pub const COMPRESSION_ZSTD: i32 = 0x200;
/// Compression type bits for ZLIB (4.9.4+; 0 also means zlib).
pub const COMPRESSION_ZLIB: i32 = 0x300;

/// Largest body the broker accepts (RocketMQ `maxMessageSize`, 4 MiB).
pub const BODY_MAX_BYTES: usize = 4 * 1024 * 1024;
/// Largest topic in a 4.x record (signed byte length).
pub const TOPIC_MAX_BYTES: usize = i8::MAX as usize;
/// Largest property string in a record (signed short length).
pub const PROPERTIES_MAX_BYTES: usize = i16::MAX as usize;
/// Size of the fixed fields of a record with IPv4 born and store hosts.
pub const RECORD_FIXED_BYTES_V4: usize = 91;
/// Extra bytes an IPv6 host takes over an IPv4 host.
pub const IPV6_EXTRA_BYTES: usize = 12;
/// Smallest possible record: IPv4 hosts, empty body, topic and properties.
pub const RECORD_MIN_BYTES: usize = RECORD_FIXED_BYTES_V4;
/// Largest record this codec writes or reads: the largest body plus the
/// largest fixed part, topic and properties.
pub const RECORD_MAX_BYTES: usize = BODY_MAX_BYTES
    + RECORD_FIXED_BYTES_V4
    + 2 * IPV6_EXTRA_BYTES
    + TOPIC_MAX_BYTES
    + PROPERTIES_MAX_BYTES;

/// Byte position of TOTALSIZE.
pub const POS_TOTAL_SIZE: usize = 0;
/// Byte position of MAGICCODE.
pub const POS_MAGIC: usize = 4;
/// Byte position of BODYCRC.
pub const POS_BODY_CRC: usize = 8;
/// Byte position of QUEUEID.
pub const POS_QUEUE_ID: usize = 12;
/// Byte position of QUEUEOFFSET.
pub const POS_QUEUE_OFFSET: usize = 20;
/// Byte position of PHYSICALOFFSET.
pub const POS_PHYSICAL_OFFSET: usize = 28;
/// Byte position of SYSFLAG.
pub const POS_SYS_FLAG: usize = 36;
/// Byte position of BORNHOST.
pub const POS_BORN_HOST: usize = 48;

const _: () = assert!(RECORD_MAX_BYTES < i32::MAX as usize);
const _: () = assert!(POS_BORN_HOST + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2 == RECORD_FIXED_BYTES_V4);
const _: () = assert!(BLANK_MARKER_BYTES < RECORD_MIN_BYTES);

/// The transaction type carried in SYSFLAG bits 2-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionType {
    /// An ordinary message.
    NotType,
    /// A half message, not visible to consumers.
    Prepared,
    /// The commit of a half message.
    Commit,
    /// The rollback of a half message.
    Rollback,
}

impl TransactionType {
    /// Reads the transaction type out of a SYSFLAG.
    pub fn from_sys_flag(sys_flag: i32) -> Self {
        match sys_flag & TRANSACTION_TYPE_MASK {
            TRANSACTION_PREPARED_TYPE => Self::Prepared,
            TRANSACTION_COMMIT_TYPE => Self::Commit,
            TRANSACTION_ROLLBACK_TYPE => Self::Rollback,
            _ => Self::NotType,
        }
    }

    /// The SYSFLAG bits of this type.
    pub fn bits(self) -> i32 {
        match self {
            Self::NotType => TRANSACTION_NOT_TYPE,
            Self::Prepared => TRANSACTION_PREPARED_TYPE,
            Self::Commit => TRANSACTION_COMMIT_TYPE,
            Self::Rollback => TRANSACTION_ROLLBACK_TYPE,
        }
    }

    /// `sys_flag` with its transaction bits replaced by this type.
    pub fn apply(self, sys_flag: i32) -> i32 {
        (sys_flag & !TRANSACTION_TYPE_MASK) | self.bits()
    }

    /// Whether a record of this type advances the consume queue (NOT_TYPE
    /// and COMMIT do; half messages and rollbacks do not).
    pub fn is_consumable(self) -> bool {
        matches!(self, Self::NotType | Self::Commit)
    }
}

/// The body compression algorithm named by SYSFLAG bits 8-10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompressionType {
    /// zlib stream (type 0, the legacy value, or type 3).
    Zlib,
    /// LZ4 (type 1).
    Lz4,
    /// ZSTD (type 2).
    Zstd,
}

impl CompressionType {
    /// The compression of a record, or `None` when the body is not
    /// compressed (bit 0 clear). Unknown type values are `Err(value)`.
    pub fn from_sys_flag(sys_flag: i32) -> Result<Option<Self>, i32> {
        if sys_flag & COMPRESSED_FLAG == 0 {
            return Ok(None);
        }
        match sys_flag & COMPRESSION_TYPE_MASK {
            0 | COMPRESSION_ZLIB => Ok(Some(Self::Zlib)),
            COMPRESSION_LZ4 => Ok(Some(Self::Lz4)),
            COMPRESSION_ZSTD => Ok(Some(Self::Zstd)),
            other => Err(other >> 8),
        }
    }

    /// The SYSFLAG bits of this type (without the COMPRESSED bit).
    pub fn bits(self) -> i32 {
        match self {
            Self::Zlib => COMPRESSION_ZLIB,
            Self::Lz4 => COMPRESSION_LZ4,
            Self::Zstd => COMPRESSION_ZSTD,
        }
    }

    /// `sys_flag` marked as compressed with this type.
    pub fn apply(self, sys_flag: i32) -> i32 {
        (sys_flag & !COMPRESSION_TYPE_MASK) | COMPRESSED_FLAG | self.bits()
    }
}

/// Why a record could not be encoded, decoded or patched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end (or the record's TOTALSIZE ends) inside a field.
    #[error("record truncated inside {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// MAGICCODE is not a V1 record.
    #[error("bad magic code {found:#010x}")]
    BadMagic {
        /// The magic found.
        found: u32,
    },
    /// TOTALSIZE is outside `RECORD_MIN_BYTES..=RECORD_MAX_BYTES`.
    #[error("bad total size {total_size}")]
    BadTotalSize {
        /// The size found.
        total_size: i32,
    },
    /// The fields do not add up to TOTALSIZE.
    #[error("fields take {fields_len} bytes but TOTALSIZE says {total_size}")]
    LengthMismatch {
        /// TOTALSIZE.
        total_size: usize,
        /// What the fields took.
        fields_len: usize,
    },
    /// The stored body CRC does not match the body.
    #[error("body crc mismatch: stored {stored}, computed {computed}")]
    CrcMismatch {
        /// BODYCRC.
        stored: i32,
        /// The CRC of the body bytes.
        computed: i32,
    },
    /// BODYLENGTH is negative or larger than [`BODY_MAX_BYTES`].
    #[error("bad body length {len}")]
    BadBodyLength {
        /// BODYLENGTH.
        len: i64,
    },
    /// TOPICLENGTH is negative.
    #[error("bad topic length {len}")]
    BadTopicLength {
        /// TOPICLENGTH.
        len: i8,
    },
    /// PROPERTIESLENGTH is negative.
    #[error("bad properties length {len}")]
    BadPropertiesLength {
        /// PROPERTIESLENGTH.
        len: i16,
    },
    /// A host port outside 0..=65535.
    #[error("bad port {port} in {field}")]
    BadPort {
        /// BORNHOST or STOREHOST.
        field: &'static str,
        /// The port found.
        port: i32,
    },
    /// TOPIC or PROPERTIES is not UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// TOPIC or PROPERTIES.
        field: &'static str,
    },
    /// The topic is longer than [`TOPIC_MAX_BYTES`].
    #[error("topic of {len} bytes exceeds {TOPIC_MAX_BYTES}")]
    TopicTooLong {
        /// Topic length in bytes.
        len: usize,
    },
    /// The property string is longer than [`PROPERTIES_MAX_BYTES`].
    #[error("properties of {len} bytes exceed {PROPERTIES_MAX_BYTES}")]
    PropertiesTooLong {
        /// Property string length in bytes.
        len: usize,
    },
    /// The body is longer than [`BODY_MAX_BYTES`].
    #[error("body of {len} bytes exceeds {BODY_MAX_BYTES}")]
    BodyTooLong {
        /// Body length in bytes.
        len: usize,
    },
    /// The whole record is longer than [`RECORD_MAX_BYTES`].
    #[error("record of {len} bytes exceeds {RECORD_MAX_BYTES}")]
    RecordTooLong {
        /// Record length in bytes.
        len: usize,
    },
}

pub(crate) use crate::codec::ByteReader;
use crate::codec::{put_i32, put_i64};

/// The masked body CRC RocketMQ stores: `crc32(body) & 0x7FFF_FFFF`.
pub fn body_crc(body: &[u8]) -> i32 {
    // The mask makes the value fit a non-negative i32.
    (crc32fast::hash(body) & 0x7FFF_FFFF) as i32
}

/// Bytes a host takes in a record: 8 for IPv4, 20 for IPv6.
fn host_len(is_v6: bool) -> usize {
    if is_v6 { 20 } else { 8 }
}

/// Length of a record with these variable parts, before any limit check.
pub fn record_len(
    body_len: usize,
    topic_len: usize,
    properties_len: usize,
    born_v6: bool,
    store_v6: bool,
) -> usize {
    RECORD_FIXED_BYTES_V4
        + usize::from(born_v6) * IPV6_EXTRA_BYTES
        + usize::from(store_v6) * IPV6_EXTRA_BYTES
        + body_len
        + topic_len
        + properties_len
}

/// Byte position of STORETIMESTAMP in a record with this SYSFLAG.
pub fn store_timestamp_pos(sys_flag: i32) -> usize {
    POS_BORN_HOST + host_len(sys_flag & BORNHOST_V6_FLAG != 0)
}

/// SYSFLAG with the IPv6 host bits set from the two address families.
pub fn sys_flag_for_hosts(sys_flag: i32, born_host: SocketAddr, store_host: SocketAddr) -> i32 {
    let mut flag = sys_flag & !(BORNHOST_V6_FLAG | STOREHOST_V6_FLAG);
    if born_host.is_ipv6() {
        flag |= BORNHOST_V6_FLAG;
    }
    if store_host.is_ipv6() {
        flag |= STOREHOST_V6_FLAG;
    }
    flag
}

/// One message record, owned. See the module doc for the byte layout.
///
/// BODYCRC and TOTALSIZE are not fields: they are computed on encode and
/// checked on decode. The IPv6 bits of `sys_flag` are set on encode from the
/// host address families.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Queue id within the topic.
    pub queue_id: i32,
    /// Producer's user flag.
    pub flag: i32,
    /// Logical offset in the consume queue.
    pub queue_offset: i64,
    /// Commit-log offset of the record's first byte.
    pub physical_offset: i64,
    /// SYSFLAG bits.
    pub sys_flag: i32,
    /// Producer timestamp (ms).
    pub born_timestamp: i64,
    /// Producer address.
    pub born_host: SocketAddr,
    /// Broker store time (ms).
    pub store_timestamp: i64,
    /// Broker address (brokerIP1:listenPort).
    pub store_host: SocketAddr,
    /// Retry count.
    pub reconsume_times: i32,
    /// For committed transactional messages: offset of the half message.
    pub prepared_transaction_offset: i64,
    /// Stored body (compressed if `sys_flag & COMPRESSED_FLAG`).
    pub body: Bytes,
    /// Topic, at most [`TOPIC_MAX_BYTES`] bytes.
    pub topic: String,
    /// Raw property string (see `properties`), at most [`PROPERTIES_MAX_BYTES`].
    pub properties: String,
}

impl MessageRecord {
    /// Length of the encoded record (TOTALSIZE).
    pub fn encoded_len(&self) -> usize {
        record_len(
            self.body.len(),
            self.topic.len(),
            self.properties.len(),
            self.born_host.is_ipv6(),
            self.store_host.is_ipv6(),
        )
    }

    /// Checks the limits an encoded record must meet.
    pub fn check_limits(&self) -> Result<(), RecordError> {
        if self.topic.len() > TOPIC_MAX_BYTES {
            return Err(RecordError::TopicTooLong {
                len: self.topic.len(),
            });
        }
        if self.properties.len() > PROPERTIES_MAX_BYTES {
            return Err(RecordError::PropertiesTooLong {
                len: self.properties.len(),
            });
        }
        if self.body.len() > BODY_MAX_BYTES {
            return Err(RecordError::BodyTooLong {
                len: self.body.len(),
            });
        }
        let len = self.encoded_len();
        if len > RECORD_MAX_BYTES {
            return Err(RecordError::RecordTooLong { len });
        }
        Ok(())
    }

    /// Appends the encoded record to `out`, computing BODYCRC and TOTALSIZE
    /// and setting the IPv6 SYSFLAG bits. On error nothing is appended.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        self.check_limits()?;
        let len = self.encoded_len();
        let sys_flag = sys_flag_for_hosts(self.sys_flag, self.born_host, self.store_host);
        out.reserve(len);
        // The limits checked above bound every length below its field's type.
        put_i32(out, len as i32);
        put_i32(out, MESSAGE_MAGIC_V1);
        put_i32(out, body_crc(&self.body));
        put_i32(out, self.queue_id);
        put_i32(out, self.flag);
        put_i64(out, self.queue_offset);
        put_i64(out, self.physical_offset);
        put_i32(out, sys_flag);
        put_i64(out, self.born_timestamp);
        put_host(out, self.born_host);
        put_i64(out, self.store_timestamp);
        put_host(out, self.store_host);
        put_i32(out, self.reconsume_times);
        put_i64(out, self.prepared_transaction_offset);
        put_i32(out, self.body.len() as i32);
        out.extend_from_slice(&self.body);
        out.push(self.topic.len() as u8);
        out.extend_from_slice(self.topic.as_bytes());
        crate::codec::put_i16(out, self.properties.len() as i16);
        out.extend_from_slice(self.properties.as_bytes());
        Ok(())
    }

    /// The encoded record in a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>, RecordError> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode(&mut out)?;
        Ok(out)
    }

    /// Decodes the record at the start of `buf`, verifying its CRC. Returns
    /// the record and the bytes it took (TOTALSIZE).
    pub fn decode(buf: &[u8]) -> Result<(MessageRecord, usize), RecordError> {
        let view = RecordView::parse(buf)?;
        view.verify_crc()?;
        Ok((view.to_record(), view.total_size()))
    }
}

fn put_host(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr.ip() {
        IpAddr::V4(ip) => out.extend_from_slice(&ip.octets()),
        IpAddr::V6(ip) => out.extend_from_slice(&ip.octets()),
    }
    put_i32(out, i32::from(addr.port()));
}

/// A record borrowed in place from a buffer (a commit-log segment or a pull
/// body). Parsing checks the structure (size, magic, lengths, UTF-8) but not
/// the CRC: call [`RecordView::verify_crc`] for that.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    bytes: &'a [u8],
    body_crc: i32,
    queue_id: i32,
    flag: i32,
    queue_offset: i64,
    physical_offset: i64,
    sys_flag: i32,
    born_timestamp: i64,
    born_host: SocketAddr,
    store_timestamp: i64,
    store_host: SocketAddr,
    reconsume_times: i32,
    prepared_transaction_offset: i64,
    body: &'a [u8],
    topic: &'a str,
    properties: &'a str,
}

fn truncated(field: &'static str) -> RecordError {
    RecordError::Truncated { field }
}

/// Reads TOTALSIZE and MAGICCODE at the start of `buf`, checking both.
fn read_prefix(buf: &[u8]) -> Result<usize, RecordError> {
    let mut r = ByteReader::new(buf);
    let total_size = r.i32().ok_or(truncated("TOTALSIZE"))?;
    let magic = r.i32().ok_or(truncated("MAGICCODE"))?;
    if magic != MESSAGE_MAGIC_V1 {
        return Err(RecordError::BadMagic {
            found: magic as u32,
        });
    }
    let len = usize::try_from(total_size).map_err(|_| RecordError::BadTotalSize { total_size })?;
    if !(RECORD_MIN_BYTES..=RECORD_MAX_BYTES).contains(&len) {
        return Err(RecordError::BadTotalSize { total_size });
    }
    Ok(len)
}

fn read_host(
    r: &mut ByteReader<'_>,
    is_v6: bool,
    field: &'static str,
) -> Result<SocketAddr, RecordError> {
    let ip = if is_v6 {
        let octets: [u8; 16] = r.array().ok_or(truncated(field))?;
        IpAddr::V6(Ipv6Addr::from(octets))
    } else {
        let octets: [u8; 4] = r.array().ok_or(truncated(field))?;
        IpAddr::V4(Ipv4Addr::from(octets))
    };
    let port = r.i32().ok_or(truncated(field))?;
    let port16 = u16::try_from(port).map_err(|_| RecordError::BadPort { field, port })?;
    Ok(SocketAddr::new(ip, port16))
}

impl<'a> RecordView<'a> {
    /// Parses the record at the start of `buf`. Bytes after TOTALSIZE are
    /// ignored.
    pub fn parse(buf: &'a [u8]) -> Result<RecordView<'a>, RecordError> {
        let total_size = read_prefix(buf)?;
        let bytes = buf.get(..total_size).ok_or(truncated("record"))?;
        let mut r = ByteReader::new(bytes);
        r.take(POS_BODY_CRC).ok_or(truncated("TOTALSIZE"))?;
        let body_crc = r.i32().ok_or(truncated("BODYCRC"))?;
        let queue_id = r.i32().ok_or(truncated("QUEUEID"))?;
        let flag = r.i32().ok_or(truncated("FLAG"))?;
        let queue_offset = r.i64().ok_or(truncated("QUEUEOFFSET"))?;
        let physical_offset = r.i64().ok_or(truncated("PHYSICALOFFSET"))?;
        let sys_flag = r.i32().ok_or(truncated("SYSFLAG"))?;
        let born_timestamp = r.i64().ok_or(truncated("BORNTIMESTAMP"))?;
        let born_host = read_host(&mut r, sys_flag & BORNHOST_V6_FLAG != 0, "BORNHOST")?;
        let store_timestamp = r.i64().ok_or(truncated("STORETIMESTAMP"))?;
        let store_host = read_host(&mut r, sys_flag & STOREHOST_V6_FLAG != 0, "STOREHOST")?;
        let reconsume_times = r.i32().ok_or(truncated("RECONSUMETIMES"))?;
        let prepared_transaction_offset = r.i64().ok_or(truncated("PREPAREDTRANSACTIONOFFSET"))?;
        let (body, topic, properties) = parse_variable_part(&mut r)?;
        if r.position() != total_size {
            return Err(RecordError::LengthMismatch {
                total_size,
                fields_len: r.position(),
            });
        }
        Ok(RecordView {
            bytes,
            body_crc,
            queue_id,
            flag,
            queue_offset,
            physical_offset,
            sys_flag,
            born_timestamp,
            born_host,
            store_timestamp,
            store_host,
            reconsume_times,
            prepared_transaction_offset,
            body,
            topic,
            properties,
        })
    }

    /// The stored body CRC matches the body.
    pub fn verify_crc(&self) -> Result<(), RecordError> {
        let computed = body_crc(self.body);
        if computed != self.body_crc {
            return Err(RecordError::CrcMismatch {
                stored: self.body_crc,
                computed,
            });
        }
        Ok(())
    }

    /// A copy of this record as an owned [`MessageRecord`].
    pub fn to_record(&self) -> MessageRecord {
        MessageRecord {
            queue_id: self.queue_id,
            flag: self.flag,
            queue_offset: self.queue_offset,
            physical_offset: self.physical_offset,
            sys_flag: self.sys_flag,
            born_timestamp: self.born_timestamp,
            born_host: self.born_host,
            store_timestamp: self.store_timestamp,
            store_host: self.store_host,
            reconsume_times: self.reconsume_times,
            prepared_transaction_offset: self.prepared_transaction_offset,
            body: Bytes::copy_from_slice(self.body),
            topic: self.topic.to_owned(),
            properties: self.properties.to_owned(),
        }
    }

    /// The whole record's bytes (TOTALSIZE of them).
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// TOTALSIZE.
    pub fn total_size(&self) -> usize {
        self.bytes.len()
    }
    /// BODYCRC as stored.
    pub fn body_crc(&self) -> i32 {
        self.body_crc
    }
    /// QUEUEID.
    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }
    /// FLAG.
    pub fn flag(&self) -> i32 {
        self.flag
    }
    /// QUEUEOFFSET.
    pub fn queue_offset(&self) -> i64 {
        self.queue_offset
    }
    /// PHYSICALOFFSET.
    pub fn physical_offset(&self) -> i64 {
        self.physical_offset
    }
    /// SYSFLAG.
    pub fn sys_flag(&self) -> i32 {
        self.sys_flag
    }
    /// The transaction type from SYSFLAG.
    pub fn transaction_type(&self) -> TransactionType {
        TransactionType::from_sys_flag(self.sys_flag)
    }
    /// BORNTIMESTAMP.
    pub fn born_timestamp(&self) -> i64 {
        self.born_timestamp
    }
    /// BORNHOST.
    pub fn born_host(&self) -> SocketAddr {
        self.born_host
    }
    /// STORETIMESTAMP.
    pub fn store_timestamp(&self) -> i64 {
        self.store_timestamp
    }
    /// STOREHOST.
    pub fn store_host(&self) -> SocketAddr {
        self.store_host
    }
    /// RECONSUMETIMES.
    pub fn reconsume_times(&self) -> i32 {
        self.reconsume_times
    }
    /// PREPAREDTRANSACTIONOFFSET.
    pub fn prepared_transaction_offset(&self) -> i64 {
        self.prepared_transaction_offset
    }
    /// BODY as stored (compressed if SYSFLAG says so).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }
    /// TOPIC.
    pub fn topic(&self) -> &'a str {
        self.topic
    }
    /// PROPERTIES, unparsed (see `properties::parse`).
    pub fn properties_raw(&self) -> &'a str {
        self.properties
    }
}

/// Reads BODYLENGTH, BODY, TOPICLENGTH, TOPIC, PROPERTIESLENGTH, PROPERTIES.
fn parse_variable_part<'a>(
    r: &mut ByteReader<'a>,
) -> Result<(&'a [u8], &'a str, &'a str), RecordError> {
    let body_len = r.i32().ok_or(truncated("BODYLENGTH"))?;
    let body_len_usize = usize::try_from(body_len)
        .ok()
        .filter(|len| *len <= BODY_MAX_BYTES)
        .ok_or(RecordError::BadBodyLength {
            len: i64::from(body_len),
        })?;
    let body = r.take(body_len_usize).ok_or(truncated("BODY"))?;
    let topic_len = r.i8().ok_or(truncated("TOPICLENGTH"))?;
    let topic_len_usize =
        usize::try_from(topic_len).map_err(|_| RecordError::BadTopicLength { len: topic_len })?;
    let topic = r.take(topic_len_usize).ok_or(truncated("TOPIC"))?;
    let topic =
        std::str::from_utf8(topic).map_err(|_| RecordError::InvalidUtf8 { field: "TOPIC" })?;
    let props_len = r.i16().ok_or(truncated("PROPERTIESLENGTH"))?;
    let props_len_usize = usize::try_from(props_len)
        .map_err(|_| RecordError::BadPropertiesLength { len: props_len })?;
    let props = r.take(props_len_usize).ok_or(truncated("PROPERTIES"))?;
    let props = std::str::from_utf8(props).map_err(|_| RecordError::InvalidUtf8 {
        field: "PROPERTIES",
    })?;
    Ok((body, topic, props))
}

/// Rewrites QUEUEOFFSET, PHYSICALOFFSET and STORETIMESTAMP of the encoded
/// record at the start of `buf` (done by the writer once it knows the
/// append position). STORETIMESTAMP's position is derived from SYSFLAG.
/// The CRC covers only the body, so it stays valid.
pub fn patch_stored_fields(
    buf: &mut [u8],
    queue_offset: i64,
    physical_offset: i64,
    store_timestamp: i64,
) -> Result<(), RecordError> {
    let total_size = read_prefix(buf)?;
    let record = buf.get_mut(..total_size).ok_or(truncated("record"))?;
    let sys_flag = ByteReader::new(record.get(POS_SYS_FLAG..).ok_or(truncated("SYSFLAG"))?)
        .i32()
        .ok_or(truncated("SYSFLAG"))?;
    write_i64_at(record, POS_QUEUE_OFFSET, queue_offset, "QUEUEOFFSET")?;
    write_i64_at(
        record,
        POS_PHYSICAL_OFFSET,
        physical_offset,
        "PHYSICALOFFSET",
    )?;
    write_i64_at(
        record,
        store_timestamp_pos(sys_flag),
        store_timestamp,
        "STORETIMESTAMP",
    )
}

fn write_i64_at(
    buf: &mut [u8],
    pos: usize,
    v: i64,
    field: &'static str,
) -> Result<(), RecordError> {
    let end = pos.checked_add(8).ok_or(truncated(field))?;
    let slot = buf.get_mut(pos..end).ok_or(truncated(field))?;
    slot.copy_from_slice(&v.to_be_bytes());
    Ok(())
}

/// The 8-byte end-of-file marker: `[remaining: i32][BLANK_MAGIC]`, where
/// `remaining` is the number of bytes from the marker to the end of the file.
pub fn encode_blank(remaining: i32) -> [u8; BLANK_MARKER_BYTES] {
    let mut out = [0u8; BLANK_MARKER_BYTES];
    let (len, magic) = out.split_at_mut(4);
    len.copy_from_slice(&remaining.to_be_bytes());
    magic.copy_from_slice(&BLANK_MAGIC.to_be_bytes());
    out
}

/// What recovery finds at a commit-log position (see [`scan_record`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordScan {
    /// A whole record with a good CRC, `len` bytes long.
    Valid {
        /// TOTALSIZE.
        len: usize,
    },
    /// The end-of-file marker: skip `len` bytes (the rest of the file).
    EndOfFile {
        /// The marker's `remaining` value.
        len: usize,
    },
    /// Not a whole record: the buffer ends inside it (a torn tail), or the
    /// header is all zeros (never-written, preallocated space). The log ends
    /// here.
    Incomplete,
    /// The bytes are not a record: bad magic, bad size, bad lengths or a CRC
    /// mismatch. The log must be truncated here.
    Corrupt(RecordError),
}

/// Classifies the bytes at the start of `buf` (everything up to the end of
/// the segment file, or as much as has been read) for recovery, verifying
/// the body CRC. The same scanner as [`scan_view`], which the store's
/// recovery calls.
pub fn scan_record(buf: &[u8]) -> RecordScan {
    match scan_view(buf, true) {
        Ok(view) => RecordScan::Valid {
            len: view.total_size(),
        },
        Err(scan) => scan,
    }
}

/// The one commit-log scanner: a view of the whole valid record at the
/// start of `buf` (its CRC checked when `verify_crc`), or what is there
/// instead (never [`RecordScan::Valid`] in the error arm).
pub fn scan_view(buf: &[u8], verify_crc: bool) -> Result<RecordView<'_>, RecordScan> {
    let mut r = ByteReader::new(buf);
    let (Some(total_size), Some(magic)) = (r.i32(), r.i32()) else {
        return Err(RecordScan::Incomplete);
    };
    if magic == BLANK_MAGIC {
        return Err(match usize::try_from(total_size) {
            Ok(len) if len >= BLANK_MARKER_BYTES => RecordScan::EndOfFile { len },
            _ => RecordScan::Corrupt(RecordError::BadTotalSize { total_size }),
        });
    }
    if total_size == 0 && magic == 0 {
        return Err(RecordScan::Incomplete);
    }
    let len = read_prefix(buf).map_err(RecordScan::Corrupt)?;
    if len > buf.len() {
        return Err(RecordScan::Incomplete);
    }
    let view = RecordView::parse(buf).map_err(RecordScan::Corrupt)?;
    if verify_crc {
        view.verify_crc().map_err(RecordScan::Corrupt)?;
    }
    Ok(view)
}

/// Splits a pull body (records back to back) into views. Yields an error
/// once and then stops if a record does not parse. CRCs are not checked.
pub fn records(buf: &[u8]) -> Records<'_> {
    Records { rest: buf }
}

/// Iterator returned by [`records`].
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<RecordView<'a>, RecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match RecordView::parse(self.rest) {
            Ok(view) => {
                self.rest = self.rest.get(view.total_size()..).unwrap_or_default();
                Some(Ok(view))
            }
            Err(err) => {
                self.rest = &[];
                Some(Err(err))
            }
        }
    }
}

impl std::iter::FusedIterator for Records<'_> {}
