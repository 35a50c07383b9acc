//! Client ids and dots: who wrote what.

use alloc::rc::Rc;
use core::cmp::Ordering;
use core::fmt;

use crate::error::Error;
use crate::prelude::*;
use crate::text::push_hex;

/// The longest client id an app may choose, in UTF-8 bytes.
pub const MAX_CLIENT_ID_BYTES: usize = 64;

/// Names one replica for its whole life.
///
/// Ordered byte-wise, which is how equal register timestamps are broken: the
/// larger client id wins on every replica. Cheap to clone (shared string), because
/// every slot, tag and register entry carries one.
#[derive(Clone)]
pub struct ClientId(Rc<str>);

// Byte-wise, as derived, but two copies of one shared id (every slot, tag
// and write of this replica holds a copy of its own) are equal without
// comparing their bytes: a local write finds its slot that way.
impl PartialEq for ClientId {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for ClientId {}

impl Ord for ClientId {
    fn cmp(&self, other: &Self) -> Ordering {
        if Rc::ptr_eq(&self.0, &other.0) {
            Ordering::Equal
        } else {
            self.0.cmp(&other.0)
        }
    }
}

impl PartialOrd for ClientId {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl ClientId {
    /// Checks an app-chosen id: 1 to 64 bytes of UTF-8.
    pub fn new(id: &str) -> Result<ClientId, Error> {
        if id.is_empty() || id.len() > MAX_CLIENT_ID_BYTES {
            return Err(Error::InvalidClientId { len: id.len() });
        }
        Ok(ClientId(Rc::from(id)))
    }

    /// A fresh id: 64 random bits as 16 lowercase hex characters.
    pub fn random() -> Result<ClientId, Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|_| Error::NoRandomness)?;
        let mut hex = String::with_capacity(16);
        for b in bytes {
            push_hex(&mut hex, u32::from(b), 2);
        }
        Ok(ClientId(Rc::from(hex.as_str())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the shared string lives: copies of one id have the same address
    /// (equal ids read from different updates do not), and no two live ids
    /// share one. Never 0.
    pub fn addr(&self) -> usize {
        Rc::as_ptr(&self.0) as *const u8 as usize
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", &*self.0)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_16_hex_chars_and_differ() {
        let a = ClientId::random().unwrap();
        let b = ClientId::random().unwrap();
        assert_eq!(a.as_str().len(), 16);
        assert!(a.as_str().chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn chosen_ids_are_1_to_64_bytes() {
        assert!(ClientId::new("").is_err());
        assert!(ClientId::new(&"x".repeat(65)).is_err());
        assert!(ClientId::new(&"x".repeat(64)).is_ok());
        assert!(ClientId::new("ü").is_ok());
    }

    #[test]
    fn order_is_bytewise() {
        assert!(ClientId::new("b").unwrap() > ClientId::new("a").unwrap());
        assert!(ClientId::new("ab").unwrap() > ClientId::new("a").unwrap());
        assert!(ClientId::new("é").unwrap() > ClientId::new("z").unwrap());
    }
}
