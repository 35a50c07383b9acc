//! Shared by the integration tests that build updates byte by byte: a
//! small encoder, to write exactly what a hostile or corrupt peer sends.
#![allow(dead_code)]

use slotkv::MAGIC;

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
    /// Client and string tables.
    pub fn tables(&mut self, clients: &[&str], strings: &[&[u8]]) -> &mut Self {
        self.v(clients.len() as u64);
        for c in clients {
            self.bytes(c.as_bytes());
        }
        self.v(strings.len() as u64);
        for s in strings {
            self.bytes(s);
        }
        self
    }
    /// A version vector: per client index, ranges `lo..=hi` (ascending, disjoint, non-adjacent).
    pub fn vv(&mut self, clients: &[(u64, &[(u64, u64)])]) -> &mut Self {
        self.v(clients.len() as u64);
        for (idx, ranges) in clients {
            self.v(*idx).v(ranges.len() as u64);
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

