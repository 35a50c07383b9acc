//! Byte-level primitives of the binary format: LEB128 varints and
//! length-prefixed bytes. Readers return errors, never panic, and check a
//! length against the bytes that remain before allocating anything.
//! The message layout built on these is in `update.rs`; both are described
//! byte by byte in `docs/FORMAT.md`.

use crate::error::DecodeError;
use crate::prelude::*;
use crate::text::cat;

/// The first byte of every slotkv message.
pub const MAGIC: u8 = 0xb7;
/// The newest format version this build reads and writes. Version 2 adds
/// one thing to version 1, the per-set mark of a delta with removals
/// (`docs/FORMAT.md`); a message that does not use it is written as version
/// 1, so a replica of an older slotkv still reads it.
pub const FORMAT_VERSION: u64 = 2;

/// Maps signed to unsigned numbers (0, −1, 1, −2, … → 0, 1, 2, 3, …) so that
/// a small number of either sign makes a small varint.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
pub fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Appends encoded fields to a byte buffer.
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        // Most messages are a transaction's few dozen bytes: one allocation.
        Writer { buf: Vec::with_capacity(64) }
    }

    pub fn u8(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// Unsigned LEB128: 7 bits a byte, low bits first, high bit = "more".
    pub fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn usize(&mut self, v: usize) {
        self.varint(v as u64);
    }

    /// A signed number as the varint of its [`zigzag`] mapping.
    pub fn svarint(&mut self, v: i64) {
        self.varint(zigzag(v));
    }

    /// A varint length, then the bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.usize(b.len());
        self.raw(b);
    }

    /// Bytes as they are: their length is known from an earlier field (the
    /// twin of [`Reader::take`]).
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fields from a byte slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let b = *self.buf.get(self.pos).ok_or(DecodeError::Truncated { what })?;
        self.pos += 1;
        Ok(b)
    }

    pub fn varint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            let bits = (b & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Invalid { what: cat![what, " does not fit in 64 bits"] });
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DecodeError::Invalid { what: cat![what, " is an over-long varint"] })
    }

    /// A signed number written by `Writer::svarint`.
    pub fn svarint(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        Ok(unzigzag(self.varint(what)?))
    }

    /// A count of items that each take at least one byte: refused if more
    /// items are claimed than bytes remain, so no forged count can make a
    /// decoder allocate.
    pub fn count(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let n = self.varint(what)?;
        if n > self.remaining() as u64 {
            return Err(DecodeError::Truncated { what });
        }
        Ok(n as usize)
    }

    /// The next `len` bytes, if that many remain.
    pub fn take(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() as u64 {
            return Err(DecodeError::Truncated { what });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// A varint length, then that many bytes of UTF-8.
    pub fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let len = self.varint(what)?;
        self.take_str(len, what)
    }

    /// The next `len` bytes, which must be UTF-8.
    pub fn take_str(&mut self, len: u64, what: &'static str) -> Result<&'a str, DecodeError> {
        let b = self.take(len, what)?;
        core::str::from_utf8(b).map_err(|_| DecodeError::Invalid { what: cat![what, " is not valid UTF-8"] })
    }

    /// Fails unless every byte was read.
    pub fn end(&self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { count }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn varints_are_leb128() {
        let mut w = Writer::new();
        w.varint(0);
        w.varint(127);
        w.varint(128);
        w.varint(300);
        assert_eq!(w.buf, [0x00, 0x7f, 0x80, 0x01, 0xac, 0x02]);
    }

    #[test]
    fn signed_varints_are_zigzag() {
        let mut w = Writer::new();
        for v in [0, -1, 1, -2, 63, -64, 64] {
            w.svarint(v);
        }
        assert_eq!(w.buf, [0, 1, 2, 3, 126, 127, 0x80, 0x01]);
    }

    #[test]
    fn forged_lengths_fail_before_allocating() {
        let mut w = Writer::new();
        w.varint(u64::MAX);
        assert!(Reader::new(&w.buf).str("x").is_err());
        assert!(Reader::new(&w.buf).take(u64::MAX, "x").is_err());
        assert!(Reader::new(&w.buf).count("x").is_err());
        assert!(Reader::new(&[0xff; 11]).varint("x").is_err());
        assert!(Reader::new(&[0x80]).varint("x").is_err());
    }

    proptest! {
        #[test]
        fn varints_round_trip(v in any::<u64>()) {
            let mut w = Writer::new();
            w.varint(v);
            let mut r = Reader::new(&w.buf);
            prop_assert_eq!(r.varint("v").unwrap(), v);
            prop_assert!(r.end().is_ok());
        }

        #[test]
        fn signed_varints_round_trip(v in any::<i64>()) {
            let mut w = Writer::new();
            w.svarint(v);
            let mut r = Reader::new(&w.buf);
            prop_assert_eq!(r.svarint("v").unwrap(), v);
            prop_assert!(r.end().is_ok());
        }
    }
}
