//! Java `String.hashCode`, as RocketMQ uses it for tag codes, and FNV-1a
//! 64, the one non-Java hash of the project (shard ownership, the store's
//! key index).
//!
//! The consume queue stores, for every message, the hash code of its tag
//! (`TAGS` property) so that a pull can filter by tag without reading the
//! commit log. The value must match Java bit for bit, because Java brokers,
//! clients and tools compute the same code:
//!
//! ```text
//! h = 0
//! for each UTF-16 code unit c of the string: h = 31 * h + c   (wrapping i32)
//! ```
//!
//! Characters outside the Basic Multilingual Plane count as two code units
//! (a surrogate pair), exactly as in Java.

/// Java `String.hashCode()` of `s`: `31 * h + c` over UTF-16 code units,
/// with 32-bit wrapping arithmetic.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(i32::from(unit))
    })
}

/// The consume-queue tag code of a tag: its Java hash code, sign-extended to
/// `i64`. An empty tag has code 0 (RocketMQ `MessageExtBrokerInner.tagsString2tagsCode`).
pub fn tag_code(tag: &str) -> i64 {
    if tag.is_empty() {
        return 0;
    }
    i64::from(java_string_hash(tag))
}

/// FNV-1a 64 offset basis.
pub const FNV1A64_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
pub const FNV1A64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a 64 of the concatenation of `parts` (hashing parts one after the
/// other equals hashing their concatenation; no allocation).
pub fn fnv1a64_parts(parts: &[&[u8]]) -> u64 {
    parts
        .iter()
        .flat_map(|part| part.iter())
        .fold(FNV1A64_OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(FNV1A64_PRIME)
        })
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_parts(&[bytes])
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hash_matches_java_for_known_strings() {
        // Values computed by java.lang.String#hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("TagA"), 2_598_919);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
        assert_eq!(java_string_hash("TBW102"), -1_826_525_782);
    }

    #[test]
    fn hash_counts_surrogate_pairs_as_two_units() {
        // U+1F600 is the pair D83D DE00: 31 * 0xD83D + 0xDE00.
        assert_eq!(java_string_hash("\u{1F600}"), 31 * 0xD83D + 0xDE00);
    }

    #[test]
    fn tag_code_is_sign_extended_and_empty_is_zero() {
        assert_eq!(tag_code(""), 0);
        assert_eq!(tag_code("polygenelubricants"), i64::from(i32::MIN));
        assert_eq!(tag_code("TagA"), 2_598_919);
    }

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    proptest! {
        #[test]
        fn fnv1a64_of_parts_is_fnv1a64_of_the_concatenation(a in proptest::collection::vec(any::<u8>(), 0..20), b in proptest::collection::vec(any::<u8>(), 0..20)) {
            let whole: Vec<u8> = a.iter().chain(b.iter()).copied().collect();
            prop_assert_eq!(fnv1a64_parts(&[&a, &b]), fnv1a64(&whole));
        }

        #[test]
        fn hash_follows_the_recurrence(prefix in ".{0,20}", c in any::<char>()) {
            let mut whole = prefix.clone();
            whole.push(c);
            let mut h = java_string_hash(&prefix);
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units).iter() {
                h = h.wrapping_mul(31).wrapping_add(i32::from(*unit));
            }
            prop_assert_eq!(java_string_hash(&whole), h);
        }
    }
}
