//! A full state from a peer, applied to a busy document. The input is the
//! state's body: the header (magic, format version 1, type 1) is prepended,
//! so no mutation is spent on it. See `check_apply` in src/lib.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slotkv_fuzz::{check_apply, HEADER_STATE};

fuzz_target!(|body: &[u8]| {
    let msg = [&HEADER_STATE[..], body].concat();
    check_apply(&msg);
});
