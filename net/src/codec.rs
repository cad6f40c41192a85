//! The one big-endian codec discipline shared by every binary format of the
//! project: the commit-log record ([`crate::record`]), batch entries, and the
//! store's on-disk files (consume-queue units, key-index header / slots /
//! entries, checkpoint).
//!
//! - [`ByteReader`] walks a slice front to back; every read returns `None`
//!   when the bytes run out, never panics.
//! - [`ByteWriter`] fills a fixed-size slice front to back; a write that
//!   does not fit is dropped and remembered, and [`ByteWriter::finish`]
//!   reports it, so a layout that is too long for its buffer is an error,
//!   never a panic or a silent short record.
//! - [`Decode`] / [`Encode`] are implemented by fixed-layout structs: each
//!   draws its layout in its doc comment and uses the reader / writer for
//!   every field, so all formats read and write bytes the same way.
//!
//! ```text
//! integers: big-endian, two's complement (Java DataOutput order)
//! u8/i8 1 byte · u16/i16 2 · u32/i32 4 · u64/i64 8
//! ```

/// A bounds-checked big-endian reader over a byte slice; every read returns
/// `None` instead of panicking when the bytes run out.
#[derive(Debug, Clone)]
pub struct ByteReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes, consumed.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// The next `N` bytes as an array, consumed.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.array().map(u8::from_be_bytes)
    }

    /// Reads a signed byte.
    pub fn i8(&mut self) -> Option<i8> {
        self.array().map(i8::from_be_bytes)
    }

    /// Reads a big-endian i16.
    pub fn i16(&mut self) -> Option<i16> {
        self.array().map(i16::from_be_bytes)
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// Reads a big-endian i32.
    pub fn i32(&mut self) -> Option<i32> {
        self.array().map(i32::from_be_bytes)
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_be_bytes)
    }

    /// Reads a big-endian i64.
    pub fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_be_bytes)
    }

    /// Reads a big-endian u64.
    pub fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_be_bytes)
    }
}

/// A big-endian writer filling a fixed-size slice front to back. A write
/// that does not fit is dropped and remembered; [`ByteWriter::finish`]
/// reports it.
#[derive(Debug)]
pub struct ByteWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflowed: bool,
}

/// A [`ByteWriter`] ran out of room: the layout is longer than its buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("encoded layout does not fit its {capacity}-byte buffer")]
pub struct Overflow {
    /// Size of the buffer written into.
    pub capacity: usize,
}

impl<'a> ByteWriter<'a> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflowed: false,
        }
    }

    /// Writes raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let end = self.pos.saturating_add(bytes.len());
        match self.buf.get_mut(self.pos..end) {
            Some(slot) => {
                slot.copy_from_slice(bytes);
                self.pos = end;
            }
            None => self.overflowed = true,
        }
        self
    }

    /// Writes one byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes(&[v])
    }

    /// Writes a big-endian i16.
    pub fn i16(&mut self, v: i16) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian i32.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian i64.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Writes a big-endian u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// Bytes written so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The bytes written, or [`Overflow`] if any write did not fit.
    pub fn finish(&self) -> Result<usize, Overflow> {
        if self.overflowed {
            return Err(Overflow {
                capacity: self.buf.len(),
            });
        }
        Ok(self.pos)
    }
}

/// Appends a big-endian i16 to a growable buffer.
pub fn put_i16(out: &mut Vec<u8>, v: i16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian i32 to a growable buffer.
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian i64 to a growable buffer.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// A fixed-layout value that reads itself from the start of a slice.
pub trait Decode: Sized {
    /// Why bytes are not a valid value.
    type Error;
    /// Decodes the value at the start of `bytes`.
    fn decode(bytes: &[u8]) -> Result<Self, Self::Error>;
}

/// A fixed-layout value that writes itself into a slice of `ENCODED_BYTES`.
pub trait Encode {
    /// Length of the encoding.
    const ENCODED_BYTES: usize;
    /// Writes the value through `w`.
    fn write(&self, w: &mut ByteWriter<'_>);
}

/// Encodes `value` into the first `T::ENCODED_BYTES` bytes of `out`.
pub fn encode_into<T: Encode>(value: &T, out: &mut [u8]) -> Result<(), Overflow> {
    let capacity = out.len();
    let slot = out
        .get_mut(..T::ENCODED_BYTES)
        .ok_or(Overflow { capacity })?;
    let mut w = ByteWriter::new(slot);
    value.write(&mut w);
    match w.finish()? {
        n if n == T::ENCODED_BYTES => Ok(()),
        _ => Err(Overflow { capacity }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn integers_round_trip(a in any::<u8>(), b in any::<i16>(), c in any::<i32>(), d in any::<u32>(), e in any::<i64>(), f in any::<u64>()) {
            let mut buf = [0u8; 27];
            let mut w = ByteWriter::new(&mut buf);
            w.u8(a).i16(b).i32(c).u32(d).i64(e).u64(f);
            prop_assert_eq!(w.finish(), Ok(27));
            let mut r = ByteReader::new(&buf);
            prop_assert_eq!(r.u8(), Some(a));
            prop_assert_eq!(r.i16(), Some(b));
            prop_assert_eq!(r.i32(), Some(c));
            prop_assert_eq!(r.u32(), Some(d));
            prop_assert_eq!(r.i64(), Some(e));
            prop_assert_eq!(r.u64(), Some(f));
            prop_assert_eq!(r.remaining(), 0);
            prop_assert_eq!(r.u8(), None);
        }

        #[test]
        fn a_short_buffer_is_reported_not_panicked(len in 0usize..8, v in any::<u64>()) {
            let mut buf = vec![0u8; len];
            let mut w = ByteWriter::new(&mut buf);
            w.u64(v);
            prop_assert!(w.finish().is_err());
            prop_assert_eq!(ByteReader::new(&buf).u64(), None);
        }
    }

    #[test]
    fn writes_are_big_endian() {
        let mut buf = [0u8; 4];
        ByteWriter::new(&mut buf).u32(0x0102_0304);
        assert_eq!(buf, [1, 2, 3, 4]);
    }
}
