//! Message ids (spec §4.4): the broker's offset message id, the client's
//! unique id (`UNIQ_KEY`), and how ringmq puts the shard into the physical
//! offset.
//!
//! # Offset message id
//!
//! ```text
//! store host ip (4 | 16) | store port (i32) | physical offset (i64)
//! ```
//!
//! upper-case hex: 32 characters for IPv4, 56 for IPv6. Brokers return it as
//! `msgId` in send responses; clients build it from a pulled record's
//! STOREHOST and PHYSICALOFFSET; VIEW_MESSAGE_BY_ID and END_TRANSACTION bring
//! it (or its offset) back.
//!
//! # Unique client id (`UNIQ_KEY`, Java `MessageClientIDSetter`)
//!
//! ```text
//! client ip (4 | 16) | pid low 16 bits (u16) | class-loader hash (i32)
//!   | ms since the start of the current month (i32) | counter (u16, wrapping)
//! ```
//!
//! upper-case hex: 32 characters for IPv4, 56 for IPv6. The first three parts
//! are fixed per process and encoded once. Only uniqueness matters; Java uses
//! the local time zone for the month start, [`UniqIdGenerator`] uses UTC.
//!
//! # Shard in the physical offset
//!
//! A ringmq broker has one commit log per shard (core), each starting at
//! offset 0. The 63 usable bits of the i64 physical offset are split so that
//! an offset is unique across the broker and names its shard:
//!
//! ```text
//!  bit 63   | bits 62..55        | bits 54..0
//!  0 (sign) | shard id (8 bits)  | offset in that shard's commit log (55 bits)
//! ```
//!
//! Shard 0's offsets are the plain local offsets, so a one-shard broker's
//! offsets are exactly RocketMQ's. Each shard can address 2^55 bytes (32 PiB)
//! and the value stays positive, as Java clients expect. The composed value
//! ([`ShardOffset::compose`]) is what the broker writes into a record's
//! PHYSICALOFFSET, the consume queue and the key index, and so what clients
//! see in offset message ids; segment file names and file positions use the
//! local part. On VIEW_MESSAGE_BY_ID or END_TRANSACTION the broker splits the
//! offset ([`ShardOffset::split`]) to find the shard whose log holds it.

use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

/// Length of an IPv4 offset or unique id in hex characters.
pub const MSG_ID_V4_HEX_LEN: usize = 32;
/// Length of an IPv6 offset or unique id in hex characters.
pub const MSG_ID_V6_HEX_LEN: usize = 56;

/// Why a message id could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageIdError {
    /// Not 32 (IPv4) or 56 (IPv6) characters.
    #[error("message id has {len} characters, expected 32 or 56")]
    BadLength {
        /// Characters found.
        len: usize,
    },
    /// A character that is not a hex digit.
    #[error("message id is not hex")]
    NotHex,
    /// The port is outside 0..=65535.
    #[error("message id port {port} out of range")]
    BadPort {
        /// The port found.
        port: i32,
    },
}

/// Upper-case hex digits by nibble value.
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `bytes` as upper-case hex: a table lookup per nibble, not a
/// formatter call per byte (a send makes two ids: `UNIQ_KEY` on the
/// client, the offset message id on the broker).
fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    let digit =
        |nibble: u8| char::from(HEX_UPPER.get(usize::from(nibble)).copied().unwrap_or(b'0'));
    for &b in bytes {
        out.push(digit(b >> 4));
        out.push(digit(b & 0x0f));
    }
}

fn ip_octets(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// Hex digits to bytes; `None` on an odd length or a non-hex character.
fn hex_to_bytes(s: &str) -> Option<Vec<u8>> {
    // `from_str_radix` would accept a leading '+', so check the digits first.
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    s.as_bytes()
        .chunks_exact(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

/// Hex-decodes a 32- or 56-character id into its bytes and whether it is IPv6.
fn id_bytes(id: &str) -> Result<(Vec<u8>, bool), MessageIdError> {
    let is_v6 = match id.len() {
        MSG_ID_V4_HEX_LEN => false,
        MSG_ID_V6_HEX_LEN => true,
        len => return Err(MessageIdError::BadLength { len }),
    };
    let bytes = hex_to_bytes(id).ok_or(MessageIdError::NotHex)?;
    Ok((bytes, is_v6))
}

/// Splits an ip off the front of `bytes`.
fn split_ip(bytes: &[u8], is_v6: bool) -> Option<(IpAddr, &[u8])> {
    if is_v6 {
        let (ip, rest) = bytes.split_first_chunk::<16>()?;
        Some((IpAddr::V6(Ipv6Addr::from(*ip)), rest))
    } else {
        let (ip, rest) = bytes.split_first_chunk::<4>()?;
        Some((IpAddr::V4(Ipv4Addr::from(*ip)), rest))
    }
}

/// The offset message id of a record stored at `physical_offset` by the
/// broker at `store_host`.
pub fn offset_msg_id(store_host: SocketAddr, physical_offset: i64) -> String {
    let mut out = String::with_capacity(MSG_ID_V6_HEX_LEN);
    match store_host.ip() {
        IpAddr::V4(v4) => push_hex(&mut out, &v4.octets()),
        IpAddr::V6(v6) => push_hex(&mut out, &v6.octets()),
    }
    push_hex(&mut out, &i32::from(store_host.port()).to_be_bytes());
    push_hex(&mut out, &physical_offset.to_be_bytes());
    out
}

/// Decodes an offset message id into the store host and physical offset.
/// Upper- and lower-case hex are both accepted.
pub fn decode_offset_msg_id(id: &str) -> Result<(SocketAddr, i64), MessageIdError> {
    let (bytes, is_v6) = id_bytes(id)?;
    let (ip, rest) = split_ip(&bytes, is_v6).ok_or(MessageIdError::BadLength { len: id.len() })?;
    let (port, rest) = rest
        .split_first_chunk::<4>()
        .ok_or(MessageIdError::BadLength { len: id.len() })?;
    let (offset, _) = rest
        .split_first_chunk::<8>()
        .ok_or(MessageIdError::BadLength { len: id.len() })?;
    let port = i32::from_be_bytes(*port);
    let port16 = u16::try_from(port).map_err(|_| MessageIdError::BadPort { port })?;
    Ok((SocketAddr::new(ip, port16), i64::from_be_bytes(*offset)))
}

/// The parts of a unique client id (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UniqIdParts {
    /// Client IP.
    pub ip: IpAddr,
    /// Low 16 bits of the client's process id.
    pub pid: u16,
    /// Hash of the Java class loader (a random per-process value here).
    pub class_loader_hash: i32,
    /// Milliseconds since the start of the month the id was made in.
    pub ms_since_month_start: i32,
    /// Per-process counter.
    pub counter: u16,
}

/// Decodes a unique client id into its parts.
pub fn decode_uniq_id(id: &str) -> Result<UniqIdParts, MessageIdError> {
    let (bytes, is_v6) = id_bytes(id)?;
    let bad = || MessageIdError::BadLength { len: id.len() };
    let (ip, rest) = split_ip(&bytes, is_v6).ok_or_else(bad)?;
    let (pid, rest) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    let (hash, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
    let (time, rest) = rest.split_first_chunk::<4>().ok_or_else(bad)?;
    let (counter, _) = rest.split_first_chunk::<2>().ok_or_else(bad)?;
    Ok(UniqIdParts {
        ip,
        pid: u16::from_be_bytes(*pid),
        class_loader_hash: i32::from_be_bytes(*hash),
        ms_since_month_start: i32::from_be_bytes(*time),
        counter: u16::from_be_bytes(*counter),
    })
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

const MS_PER_DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of the first day of (year, month), proleptic
/// Gregorian (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1..=12) of a day count since 1970-01-01 (`civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

/// Start (ms since epoch, UTC) of the month containing `ms`, and of the next.
pub fn month_bounds_utc_ms(ms: i64) -> (i64, i64) {
    let (year, month) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let start = days_from_civil(year, month) * MS_PER_DAY;
    let (next_year, next_month) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    (start, days_from_civil(next_year, next_month) * MS_PER_DAY)
}

/// Makes unique client ids (`UNIQ_KEY`) for one process. Not shared between
/// threads: wrap it in a mutex or keep one per producer.
#[derive(Debug, Clone)]
pub struct UniqIdGenerator {
    fixed_hex: String,
    month_start_ms: i64,
    next_month_start_ms: i64,
    counter: u16,
}

impl UniqIdGenerator {
    /// A generator for a client at `ip` with process id `pid` and the given
    /// stand-in for Java's class-loader hash.
    pub fn new(ip: IpAddr, pid: u32, class_loader_hash: i32) -> Self {
        let mut fixed_hex = String::with_capacity(MSG_ID_V6_HEX_LEN);
        push_hex(&mut fixed_hex, &ip_octets(ip));
        // Java keeps the low 16 bits of the pid.
        push_hex(&mut fixed_hex, &(pid as u16).to_be_bytes());
        push_hex(&mut fixed_hex, &class_loader_hash.to_be_bytes());
        Self {
            fixed_hex,
            month_start_ms: 0,
            next_month_start_ms: 0,
            counter: 0,
        }
    }

    /// A generator for this process: its pid and a random per-process hash.
    pub fn for_this_process(ip: IpAddr) -> Self {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // Any 32 bits of the random value will do.
        Self::new(ip, std::process::id(), random as i32)
    }

    /// The next id, for an id made at `now_ms` (ms since the epoch).
    pub fn next_at(&mut self, now_ms: i64) -> String {
        if now_ms >= self.next_month_start_ms || now_ms < self.month_start_ms {
            (self.month_start_ms, self.next_month_start_ms) = month_bounds_utc_ms(now_ms);
        }
        // A month has fewer than 2^31 ms, so the difference fits.
        let elapsed = (now_ms - self.month_start_ms) as i32;
        let counter = self.counter;
        self.counter = self.counter.wrapping_add(1);
        let mut out = String::with_capacity(self.fixed_hex.len() + 12);
        out.push_str(&self.fixed_hex);
        push_hex(&mut out, &elapsed.to_be_bytes());
        push_hex(&mut out, &counter.to_be_bytes());
        out
    }

    /// The next id, made now.
    pub fn next_id(&mut self) -> String {
        self.next_at(now_ms())
    }
}

/// Why a shard offset could not be composed or split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardOffsetError {
    /// The shard id does not fit [`ShardOffset::SHARD_BITS`].
    #[error(
        "shard {shard} exceeds the {} shards an offset can name",
        ShardOffset::MAX_SHARDS
    )]
    ShardOutOfRange {
        /// The shard id.
        shard: u16,
    },
    /// The local offset is negative or does not fit the local bits.
    #[error("local offset {local} outside 0..={}", ShardOffset::LOCAL_MAX)]
    LocalOutOfRange {
        /// The local offset.
        local: i64,
    },
    /// A physical offset with the sign bit set.
    #[error("negative physical offset {0}")]
    Negative(i64),
}

/// A physical offset split into the shard and the offset in that shard's
/// commit log (see the module doc for the bit layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShardOffset {
    /// The shard (core) whose commit log holds the record.
    pub shard: u16,
    /// The offset in that shard's commit log.
    pub local: i64,
}

impl ShardOffset {
    /// Bits of the physical offset that carry the shard id.
    pub const SHARD_BITS: u32 = 8;
    /// Bits of the physical offset that carry the local offset.
    pub const LOCAL_BITS: u32 = 63 - Self::SHARD_BITS;
    /// How many shards an offset can name.
    pub const MAX_SHARDS: u16 = 1 << Self::SHARD_BITS;
    /// Largest local offset (2^55 - 1: 32 PiB per shard).
    pub const LOCAL_MAX: i64 = (1 << Self::LOCAL_BITS) - 1;

    /// The physical offset of `local` in `shard`'s commit log. The caller
    /// guarantees `shard < MAX_SHARDS` and `0 <= local <= LOCAL_MAX` (both come
    /// from the broker's own configuration and logs); out-of-range inputs are
    /// masked into range. Use [`ShardOffset::try_compose`] to check.
    pub fn compose(shard: u16, local: i64) -> i64 {
        debug_assert!(shard < Self::MAX_SHARDS && (0..=Self::LOCAL_MAX).contains(&local));
        let shard_bits = i64::from(shard) & i64::from(Self::MAX_SHARDS - 1);
        (shard_bits << Self::LOCAL_BITS) | (local & Self::LOCAL_MAX)
    }

    /// [`ShardOffset::compose`] with range checks.
    pub fn try_compose(shard: u16, local: i64) -> Result<i64, ShardOffsetError> {
        if shard >= Self::MAX_SHARDS {
            return Err(ShardOffsetError::ShardOutOfRange { shard });
        }
        if !(0..=Self::LOCAL_MAX).contains(&local) {
            return Err(ShardOffsetError::LocalOutOfRange { local });
        }
        Ok(Self::compose(shard, local))
    }

    /// (shard, local offset) of a physical offset. The sign bit is ignored;
    /// use [`ShardOffset::from_physical`] to reject negative offsets (which
    /// may arrive from a client).
    pub fn split(physical: i64) -> (u16, i64) {
        let shard = (physical >> Self::LOCAL_BITS) & i64::from(Self::MAX_SHARDS - 1);
        // Masked to SHARD_BITS, so it fits u16.
        (shard as u16, physical & Self::LOCAL_MAX)
    }

    /// The shard offset of a physical offset; negative offsets are rejected.
    pub fn from_physical(physical: i64) -> Result<Self, ShardOffsetError> {
        if physical < 0 {
            return Err(ShardOffsetError::Negative(physical));
        }
        let (shard, local) = Self::split(physical);
        Ok(Self { shard, local })
    }

    /// The physical offset of this shard offset.
    pub fn to_physical(self) -> i64 {
        Self::compose(self.shard, self.local)
    }
}

const _: () = assert!(ShardOffset::SHARD_BITS + ShardOffset::LOCAL_BITS == 63);
const _: () = assert!(ShardOffset::LOCAL_MAX > 1 << 54);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_id_matches_the_captured_broker_id() {
        // From fixtures/wire/retry-01: originMsgId=7F00000100002A9F000000000EF7E66D.
        let host: SocketAddr = "127.0.0.1:10911".parse().unwrap();
        assert_eq!(
            offset_msg_id(host, 251_127_405),
            "7F00000100002A9F000000000EF7E66D"
        );
        assert_eq!(
            decode_offset_msg_id("7F00000100002A9F000000000EF7E66D").unwrap(),
            (host, 251_127_405)
        );
    }

    #[test]
    fn ipv6_offset_id_is_56_chars() {
        let host: SocketAddr = "[2001:db8::1]:10911".parse().unwrap();
        let id = offset_msg_id(host, 42);
        assert_eq!(id.len(), MSG_ID_V6_HEX_LEN);
        assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, 42));
    }

    #[test]
    fn malformed_ids_are_typed_errors() {
        assert_eq!(
            decode_offset_msg_id("ABC"),
            Err(MessageIdError::BadLength { len: 3 })
        );
        assert_eq!(
            decode_offset_msg_id(&"G".repeat(32)),
            Err(MessageIdError::NotHex)
        );
        assert_eq!(
            decode_offset_msg_id(&"+F".repeat(16)),
            Err(MessageIdError::NotHex)
        );
        assert_eq!(
            decode_offset_msg_id(&"é".repeat(16)),
            Err(MessageIdError::NotHex)
        );
        assert_eq!(
            decode_offset_msg_id("7F000001FFFFFFFF000000000EF7E66D"),
            Err(MessageIdError::BadPort { port: -1 })
        );
    }

    #[test]
    fn captured_uniq_id_decodes_into_parts() {
        // transactionId (= UNIQ_KEY) from fixtures/wire/produce-08.
        let parts = decode_uniq_id("C000020224ABAC4C820C764EF7AE0000").unwrap();
        assert_eq!(parts.ip, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
        assert_eq!(parts.pid, 0x24AB);
        assert_eq!(parts.class_loader_hash, 0xAC4C_820C_u32 as i32);
        assert_eq!(parts.ms_since_month_start, 0x764E_F7AE);
        assert_eq!(parts.counter, 0);
    }

    #[test]
    fn uniq_ids_count_up_within_a_month_and_restart_time_at_month_start() {
        let mut ids = UniqIdGenerator::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 0x1_2345, 7);
        // 2026-11-24T00:00:00Z; the month started 2026-11-01T00:00:00Z.
        let now = 1_795_478_400_000;
        let first = decode_uniq_id(&ids.next_at(now)).unwrap();
        let second = decode_uniq_id(&ids.next_at(now)).unwrap();
        assert_eq!(first.pid, 0x2345);
        assert_eq!(first.class_loader_hash, 7);
        assert_eq!(first.ms_since_month_start, 23 * 86_400_000);
        assert_eq!((first.counter, second.counter), (0, 1));
        // 2026-12-01T00:00:01Z: a new month.
        let december = decode_uniq_id(&ids.next_at(1_796_083_201_000)).unwrap();
        assert_eq!(december.ms_since_month_start, 1000);
    }

    #[test]
    fn month_bounds_handle_year_end_and_leap_february() {
        // 2024-02-15 -> [2024-02-01, 2024-03-01)
        assert_eq!(
            month_bounds_utc_ms(1_707_955_200_000),
            (1_706_745_600_000, 1_709_251_200_000)
        );
        // 2025-12-31T23:59:59.999Z -> [2025-12-01, 2026-01-01)
        assert_eq!(
            month_bounds_utc_ms(1_767_225_599_999),
            (1_764_547_200_000, 1_767_225_600_000)
        );
        assert_eq!(month_bounds_utc_ms(0), (0, 31 * 86_400_000));
    }

    #[test]
    fn shard_zero_offsets_are_plain_offsets() {
        assert_eq!(ShardOffset::compose(0, 12_345), 12_345);
        assert_eq!(ShardOffset::compose(1, 0), 1 << 55);
        assert_eq!(ShardOffset::compose(255, ShardOffset::LOCAL_MAX), i64::MAX);
        assert_eq!(ShardOffset::split(i64::MAX), (255, ShardOffset::LOCAL_MAX));
    }

    #[test]
    fn out_of_range_shard_offsets_are_rejected() {
        assert_eq!(
            ShardOffset::try_compose(256, 0),
            Err(ShardOffsetError::ShardOutOfRange { shard: 256 })
        );
        assert_eq!(
            ShardOffset::try_compose(0, -1),
            Err(ShardOffsetError::LocalOutOfRange { local: -1 })
        );
        assert_eq!(
            ShardOffset::from_physical(-5),
            Err(ShardOffsetError::Negative(-5))
        );
    }

    fn arb_host() -> impl Strategy<Value = SocketAddr> {
        prop_oneof![
            (any::<[u8; 4]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(Ipv4Addr::from(ip).into(), p)),
            (any::<[u8; 16]>(), any::<u16>())
                .prop_map(|(ip, p)| SocketAddr::new(Ipv6Addr::from(ip).into(), p)),
        ]
    }

    proptest! {
        #[test]
        fn offset_ids_round_trip(host in arb_host(), offset in any::<i64>()) {
            let id = offset_msg_id(host, offset);
            prop_assert_eq!(id.len(), if host.is_ipv4() { 32 } else { 56 });
            prop_assert!(id.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
            prop_assert_eq!(decode_offset_msg_id(&id).unwrap(), (host, offset));
        }

        #[test]
        fn uniq_ids_round_trip(host in arb_host(), pid in any::<u32>(), hash in any::<i32>(), now in 0i64..4_102_444_800_000) {
            let mut ids = UniqIdGenerator::new(host.ip(), pid, hash);
            let id = ids.next_at(now);
            prop_assert_eq!(id.len(), if host.is_ipv4() { 32 } else { 56 });
            let parts = decode_uniq_id(&id).unwrap();
            let (start, next) = month_bounds_utc_ms(now);
            prop_assert!(start <= now && now < next);
            prop_assert_eq!(parts, UniqIdParts {
                ip: host.ip(), pid: pid as u16, class_loader_hash: hash,
                ms_since_month_start: (now - start) as i32, counter: 0,
            });
        }

        #[test]
        fn shard_offsets_round_trip_and_stay_positive(shard in 0u16..256, local in 0..=ShardOffset::LOCAL_MAX) {
            let physical = ShardOffset::try_compose(shard, local).unwrap();
            prop_assert!(physical >= 0);
            prop_assert_eq!(ShardOffset::split(physical), (shard, local));
            prop_assert_eq!(ShardOffset::from_physical(physical).unwrap(), ShardOffset { shard, local });
        }

        #[test]
        fn shard_offsets_order_by_local_within_a_shard(shard in 0u16..256, a in 0..=ShardOffset::LOCAL_MAX, b in 0..=ShardOffset::LOCAL_MAX) {
            prop_assert_eq!(a.cmp(&b), ShardOffset::compose(shard, a).cmp(&ShardOffset::compose(shard, b)));
        }

        #[test]
        fn arbitrary_strings_never_panic_id_decoders(s in ".{0,64}") {
            let _ = decode_offset_msg_id(&s);
            let _ = decode_uniq_id(&s);
        }
    }
}
