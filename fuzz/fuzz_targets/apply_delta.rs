//! A delta (or a transaction's update) from a peer, applied to a busy
//! document; the same bytes as the body of a version message, given to
//! `encode_delta(since)`. The header is prepended. See `check_apply`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_fuzz::{check_apply, fixture, load, snapshot, HEADER_DELTA, HEADER_VERSION};

fuzz_target!(|body: &[u8]| {
    let msg = [&HEADER_DELTA[..], body].concat();
    check_apply(&msg);

    // As a version: a refusal changes nothing, an answer is a valid update.
    let since = [&HEADER_VERSION[..], body].concat();
    let mut d = fixture();
    let before = snapshot(&mut d);
    match d.encode_delta(Some(&since)) {
        Err(e) => {
            assert_eq!(snapshot(&mut d), before, "a refused version changed the document: {e}");
            assert!(e.to_string().starts_with("slotkv: since is not a version from version(): "), "{e}");
        }
        Ok(delta) => {
            assert_eq!(snapshot(&mut d), before, "encode_delta changed a document that never purges");
            load(&delta, "receiver").unwrap_or_else(|e| panic!("our delta for a peer's version does not decode: {e}"));
        }
    }
});
