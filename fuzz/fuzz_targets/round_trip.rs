//! encode -> decode -> encode is stable: any message a document accepts
//! (state or delta, loaded into an empty document) gives a state that loads
//! and re-encodes to the same bytes, holds the same entries, and whose
//! `encode_delta(empty version)` loads to the same state too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_fuzz::{load, options};

fuzz_target!(|data: &[u8]| {
    let Ok(mut d) = load(data, "rt") else { return };
    let s1 = d.encode_state();
    let v1 = d.version();
    let mut d2 = load(&s1, "rt2").unwrap_or_else(|e| panic!("a state we encoded does not decode: {e}"));
    let s2 = d2.encode_state();
    assert_eq!(s1, s2, "encode -> decode -> encode changed the bytes");
    assert_eq!(d2.version(), v1);
    assert_eq!(d.entries(), d2.entries(), "a decoded state holds other entries");

    // The delta for an empty replica is the state in effect.
    let empty = slotkv::Doc::new(options("empty")).expect("a new document");
    let delta = d.encode_delta(Some(&empty.version())).expect("our own version decodes");
    let mut d3 = load(&delta, "rt3").unwrap_or_else(|e| panic!("our delta does not decode: {e}"));
    assert_eq!(d3.entries(), d.entries(), "applying the delta for an empty replica differs from the state");
    assert_eq!(d3.encode_state(), s1);

    // Our version round-trips through encode_delta(since).
    d.encode_delta(Some(&v1)).expect("our own version decodes");
});
