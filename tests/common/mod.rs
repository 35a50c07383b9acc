//! Shared by the integration tests that build updates byte by byte: a
//! small encoder, to write exactly what a hostile or corrupt peer sends.
#![allow(dead_code)]

use slotkv::MAGIC;

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub const MAX_SAFE: u64 = (1 << 53) - 1;
pub const TYPE_VERSION: u8 = 0;
pub const TYPE_STATE: u8 = 1;
pub const TYPE_DELTA: u8 = 2;

#[derive(Default, Clone)]
pub struct Enc(pub Vec<u8>);

impl Enc {
    pub fn header(kind: u8) -> Enc {
        Enc(vec![MAGIC, 1, kind])
    }
    pub fn u8(&mut self, b: u8) -> &mut Self {
        self.0.push(b);
        self
    }
    pub fn v(&mut self, mut x: u64) -> &mut Self {
        while x >= 0x80 {
            self.0.push((x as u8) | 0x80);
            x >>= 7;
        }
        self.0.push(x as u8);
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.v(b.len() as u64);
        self.0.extend_from_slice(b);
        self
    }
    /// A zigzag-mapped signed varint (register key, writer and seq differences).
    pub fn s(&mut self, x: i64) -> &mut Self {
        self.v(zigzag(x))
    }
    /// Client and string tables; each string written whole (front coding
    /// with no shared prefix: `length << 3`, then the bytes).
    pub fn tables(&mut self, clients: &[&str], strings: &[&[u8]]) -> &mut Self {
        self.v(clients.len() as u64);
        for c in clients {
            self.bytes(c.as_bytes());
        }
        self.v(strings.len() as u64);
        for s in strings {
            self.v((s.len() as u64) << 3);
            self.0.extend_from_slice(s);
        }
        self
    }
    /// One register row: key and writer indices and seq as differences from
    /// the previous row's (the first row's from 0), wall offset, logical.
    /// The row's head is `zigzag(dkey) << 1 | writer changed`.
    pub fn reg(&mut self, dkey: i64, dwriter: i64, dseq: i64, wall: u64, logical: u64) -> &mut Self {
        self.v(zigzag(dkey) << 1 | (dwriter != 0) as u64);
        if dwriter != 0 {
            self.s(dwriter);
        }
        self.s(dseq).v(wall).v(logical)
    }
    /// A register value: `length << 3 | type`, then the payload.
    pub fn value(&mut self, kind: u8, payload: &[u8]) -> &mut Self {
        self.v((payload.len() as u64) << 3 | kind as u64);
        self.0.extend_from_slice(payload);
        self
    }
    /// A register value of type 3 (integer): `zigzag(v) << 3 | 3`.
    pub fn int(&mut self, v: i64) -> &mut Self {
        self.v(zigzag(v) << 3 | 3) // high bits of a huge v fall off: still a forged value
    }
    /// A version vector: per client index, ranges `lo..=hi` (ascending,
    /// disjoint, non-adjacent). Indices are given whole and written as
    /// differences from the previous one.
    pub fn vv(&mut self, clients: &[(u64, &[(u64, u64)])]) -> &mut Self {
        self.v(clients.len() as u64);
        let mut prev = 0;
        for (idx, ranges) in clients {
            self.s(*idx as i64 - prev).v(ranges.len() as u64);
            prev = *idx as i64;
            let mut prev = 0;
            for &(lo, hi) in ranges.iter() {
                self.v(lo - prev - 1).v(hi - lo);
                prev = hi;
            }
        }
        self
    }
    pub fn done(&self) -> Vec<u8> {
        self.0.clone()
    }
}

