//! Everything that can go wrong, as one typed enum.
//!
//! The wasm binding maps each variant to the JavaScript error class a web
//! developer expects (see [`Error::kind`]); the messages are written for them.

use core::fmt;

use crate::prelude::*;
use crate::text::{cat, push_hex};

/// Which JavaScript error class an [`Error`] becomes at the boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A wrong type of argument: `TypeError`.
    Type,
    /// A number or length outside what is allowed: `RangeError`.
    Range,
    /// Bad bytes or a misuse of the document: plain `Error`.
    Other,
}

/// An error from the slotkv core. Nothing is changed when one is returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// A key was empty.
    EmptyKey,
    /// A key was longer than `max` bytes of UTF-8 (1024, or the document's
    /// `max_string_bytes` if less).
    KeyTooLong { len: usize, max: usize },
    /// A client id was not 1 to 64 bytes of UTF-8.
    InvalidClientId { len: usize },
    /// The platform gave no random bytes for a client id.
    NoRandomness,
    /// A counter delta or the counter it would produce is not a safe integer.
    UnsafeInteger { what: &'static str },
    /// This replica cannot write again: its change numbers or its register
    /// clock reached 2^53 − 1 (only a forged update or clock gets there).
    Exhausted { what: &'static str },
    /// A register value was not valid JSON text.
    InvalidJson { reason: String },
    /// Text that must be UTF-8 was not (only a caller that bypasses the
    /// JavaScript wrapper can pass such bytes).
    NotUtf8 { what: &'static str },
    /// A register value is larger or deeper than allowed.
    ValueTooLarge { reason: String },
    /// An update could not be decoded; says where and why.
    Decode(DecodeError),
    /// The `since` of `encode_delta` is not a version from `version()`.
    BadVersion(DecodeError),
    /// The `since` of `encode_delta` is a version, but larger than this
    /// document's limits take (a peer's with more client ids than
    /// `max_clients`, say): the whole state (`encode_delta(None)`) is what
    /// such a peer can be sent.
    VersionPastLimits { what: &'static str, limit: u64 },
}

/// Why bytes given to `apply_update` (or as a version) were refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended in the middle of a field.
    Truncated { what: &'static str },
    /// The first byte is not slotkv's magic byte.
    BadMagic { found: u8 },
    /// Written by a newer slotkv than this one.
    UnsupportedVersion { found: u64 },
    /// A field holds a value that no encoder writes.
    Invalid { what: String },
    /// The input is bigger than the configured limit.
    TooLarge { what: &'static str, limit: u64 },
    /// Bytes were left over after a complete message.
    TrailingBytes { count: usize },
}

impl Error {
    /// The JavaScript error class this error becomes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::EmptyKey | Error::KeyTooLong { .. } | Error::InvalidClientId { .. } => ErrorKind::Range,
            Error::UnsafeInteger { .. } | Error::ValueTooLarge { .. } | Error::Exhausted { .. } => ErrorKind::Range,
            Error::VersionPastLimits { .. } => ErrorKind::Range,
            Error::InvalidJson { .. } | Error::NotUtf8 { .. } => ErrorKind::Type,
            Error::NoRandomness | Error::Decode(_) | Error::BadVersion(_) => ErrorKind::Other,
        }
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Error {
        Error::Decode(DecodeError::Invalid { what: what.into() })
    }
}

impl Error {
    /// The message without the "slotkv: " prefix.
    pub fn detail(&self) -> String {
        match self {
            Error::EmptyKey => "a key must not be empty".into(),
            Error::KeyTooLong { len, max } => cat!["a key may be at most ", max, " bytes of UTF-8, this one is ", len],
            Error::InvalidClientId { len } => cat!["clientId must be 1 to 64 bytes of UTF-8, got ", len],
            Error::NoRandomness => "no random source for a client id (crypto.getRandomValues)".into(),
            Error::UnsafeInteger { what } => cat![what, " must be a safe integer (|x| <= 2^53 - 1)"],
            Error::Exhausted { what } => cat![what, " reached 2^53 - 1; this replica cannot write any more (create a new Doc with a new clientId)"],
            Error::InvalidJson { reason } => cat!["register value is not valid JSON: ", reason],
            Error::NotUtf8 { what } => cat![what, " is not valid UTF-8"],
            Error::ValueTooLarge { reason } => cat!["register value or set element is too large: ", reason],
            Error::Decode(e) => cat!["cannot apply update: ", e.message()],
            Error::BadVersion(e) => cat!["since is not a version from version(): ", e.message()],
            Error::VersionPastLimits { what, limit } => {
                cat!["since is a version past this document's limits (", what, " exceeds the limit of ", limit, "); encodeDelta() without since gives the whole state"]
            }
        }
    }

    /// The whole message, as JavaScript's `Error` gets it.
    pub fn message(&self) -> String {
        cat!["slotkv: ", self.detail()]
    }
}

impl DecodeError {
    /// What is wrong with the input, as `Display` writes it.
    pub fn message(&self) -> String {
        match self {
            DecodeError::Truncated { what } => cat!["input is truncated (it ends inside ", what, ")"],
            DecodeError::BadMagic { found } => {
                let mut out = String::from("not a slotkv update (first byte is 0x");
                push_hex(&mut out, u32::from(*found), 2);
                out.push_str(", expected 0x");
                push_hex(&mut out, u32::from(crate::encoding::MAGIC), 2);
                out.push(')');
                out
            }
            DecodeError::UnsupportedVersion { found } => cat![
                "format version ",
                found,
                " is newer than this slotkv understands (version ",
                crate::encoding::FORMAT_VERSION,
                "); upgrade slotkv"
            ],
            DecodeError::Invalid { what } => cat!["malformed input: ", what],
            DecodeError::TooLarge { what, limit } => cat![what, " exceeds the limit of ", limit],
            DecodeError::TrailingBytes { count } => cat![count, " unexpected bytes after the end of the update"],
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for Error {}
impl core::error::Error for DecodeError {}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Error {
        Error::Decode(e)
    }
}
