//! Bounds on what a document accepts, locally and from peers.
//!
//! Every length and count read from an update is checked against these before
//! anything is allocated or changed, so a hostile or corrupt update cannot
//! exhaust memory or nest deep enough to exhaust the stack.

use crate::error::{DecodeError, Error};
use crate::json;
use crate::text::cat;

/// The longest key, in UTF-8 bytes (fixed by the format, not configurable).
pub const MAX_KEY_BYTES: usize = 1024;

/// Configurable limits, with defaults that suit a web app's document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest update (or version) `apply_update` decodes, in bytes.
    pub max_update_bytes: u64,
    /// Longest set element (and any string in an update), in UTF-8 bytes.
    pub max_string_bytes: u64,
    /// Largest register value (JSON text or bytes), in bytes.
    pub max_value_bytes: u64,
    /// Deepest nesting of arrays and objects in a register's JSON.
    pub max_value_depth: usize,
    /// Most client ids one update may name.
    pub max_clients: u64,
    /// Most entries one update may hold: strings, version ranges, counters,
    /// slots, registers, sets, elements, tags and removal records together.
    /// Each costs up to a few hundred bytes once decoded, so this bounds the
    /// memory one update can claim, whatever its size on the wire.
    pub max_entries: u64,
    /// Most client ids a document holds (its own included); an update that
    /// would bring it past this is refused.
    pub max_doc_clients: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_update_bytes: 64 << 20,
            max_string_bytes: 64 << 10,
            max_value_bytes: 8 << 20,
            max_value_depth: 128,
            max_clients: 1 << 16,
            max_entries: 1 << 20,
            max_doc_clients: 1 << 20,
        }
    }
}

impl Limits {
    /// The limits for bytes a document's own storage holds ([`Doc::apply_stored`]):
    /// none on sizes and counts, which the bytes themselves bound (a count
    /// is never larger than the bytes left to read), and `max_value_depth`
    /// kept, which guards the stack.
    ///
    /// [`Doc::apply_stored`]: crate::Doc::apply_stored
    pub fn for_stored(&self) -> Limits {
        Limits {
            max_update_bytes: u64::MAX,
            max_string_bytes: u64::MAX,
            max_value_bytes: u64::MAX,
            max_value_depth: self.max_value_depth,
            max_clients: u64::MAX,
            max_entries: u64::MAX,
            max_doc_clients: u64::MAX,
        }
    }

    /// The longest key this document takes: 1024 bytes, or `max_string_bytes`
    /// if that is less (a key travels in an update's string table, which the
    /// decoder bounds by `max_string_bytes`: a longer key could be written
    /// but not read back under the same limits).
    pub fn max_key_bytes(&self) -> usize {
        usize::try_from(self.max_string_bytes).map_or(MAX_KEY_BYTES, |m| m.min(MAX_KEY_BYTES))
    }

    /// Keys are non-empty UTF-8 of at most [`Limits::max_key_bytes`] bytes.
    pub fn check_key(&self, key: &str) -> Result<(), Error> {
        if key.is_empty() {
            return Err(Error::EmptyKey);
        }
        let max = self.max_key_bytes();
        if key.len() > max {
            return Err(Error::KeyTooLong { len: key.len(), max });
        }
        Ok(())
    }

    pub fn check_element(&self, element: &str) -> Result<(), Error> {
        if element.len() as u64 > self.max_string_bytes {
            return Err(Error::ValueTooLarge {
                reason: cat!["a set element may be at most ", self.max_string_bytes, " bytes, this one is ", element.len()],
            });
        }
        Ok(())
    }

    pub fn check_value_len(&self, len: usize) -> Result<(), Error> {
        if len as u64 > self.max_value_bytes {
            return Err(Error::ValueTooLarge {
                reason: cat!["at most ", self.max_value_bytes, " bytes, this one is ", len],
            });
        }
        Ok(())
    }

    /// Size, nesting and syntax of a register's JSON text.
    pub fn check_json(&self, text: &str) -> Result<(), Error> {
        self.check_value_len(text.len())?;
        json::validate(text, self.max_value_depth).map_err(|e| match e {
            json::JsonError::TooDeep => Error::ValueTooLarge { reason: cat!["nested deeper than ", self.max_value_depth] },
            json::JsonError::Syntax { what, at } => Error::InvalidJson { reason: cat![what, " at byte ", at] },
        })
    }
}

/// Turns a rule broken inside an update into a decode error, so a bad update
/// always surfaces as "cannot apply update: …".
pub(crate) fn in_update(e: Error) -> Error {
    match e {
        Error::Decode(_) => e,
        other => {
            Error::Decode(DecodeError::Invalid { what: other.detail() })
        }
    }
}
