//! slotkv: a replicated key-value document for web apps.
//!
//! Each replica (a browser tab, say) holds a full [`Doc`], writes locally and
//! exchanges small binary updates with the others. Replicas that have seen
//! the same updates hold the same state, whatever the order, duplication or
//! delay of delivery, and no write is ever lost. Values are per-client
//! [`Counter`]s, last-writer-wins [`Register`]s on a hybrid logical clock, and
//! add-wins observed-remove [`Set`]s.
//!
//! This crate is plain Rust; `wasm.rs` is the one module that speaks to
//! JavaScript, built only for `wasm32`.
//!
//! With the `bundle` feature (the shipped wasm build) the crate is `no_std`:
//! `alloc` and `core` are all it needs, and the module leaves out std's
//! runtime and panic reporting.

#![cfg_attr(feature = "bundle", no_std)]

extern crate alloc;

mod client;
mod clock;
mod counter;
mod doc;
mod encoding;
mod error;
mod json;
mod key_map;
mod limits;
mod moves;
mod prelude;
mod register;
mod set;
mod small_map;
mod sort;
mod text;
mod update;
mod version;

/// The JavaScript binding (only built for wasm32).
#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use client::{ClientId, MAX_CLIENT_ID_BYTES};
#[cfg(not(feature = "bundle"))]
pub use clock::SystemClock;
pub use clock::{Hlc, Timestamp, WallClock, MAX_WALL_MS};
pub use counter::{Counter, Slot, MAX_SAFE_INTEGER};
pub use doc::{Changes, Committed, Doc, Entries, Key, Kind, Options, DEFAULT_TOMBSTONE_RETENTION_MS};
pub use encoding::{FORMAT_VERSION, MAGIC};
pub use error::{DecodeError, Error, ErrorKind};
pub use key_map::KeyMap;
pub use limits::{Limits, MAX_KEY_BYTES};
pub use register::{Register, Value};
pub use set::{PeerSeen, Set, Tags};
pub use version::VersionVector;
