//! The wasm binding in headless Chromium (wasm-bindgen-test): the same core
//! scenarios as natively, through the exported `RawDoc` and the hot calls
//! pkg/doc.js makes (`hot_*`, with the document's `Core` address), with
//! real `crypto.getRandomValues` and `Date.now()`.
#![cfg(target_arch = "wasm32")]

use slotkv::wasm::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const COMMIT: u32 = 1;
/// What writes and `slotkv_apply_update` return (src/wasm.rs).
const CHANGED: u32 = 1;
const FAILED: u32 = 2;

fn doc(id: &str) -> RawDoc {
    RawDoc::new(Some(id.to_owned()), None, -1.0, None).unwrap()
}

// RawDoc's calls take their strings' and bytes' lengths, the strings and
// bytes themselves written to its input buffer first, as pkg/doc.js does;
// these do both.
fn put(d: &mut RawDoc, bytes: &[u8]) -> usize {
    let [n] = d.with(|c| c.put(&[bytes]))[..] else { unreachable!() };
    n
}

fn key(d: &mut RawDoc, key: &[u8]) -> usize {
    put(d, key)
}

fn key_element(d: &mut RawDoc, key: &[u8], element: &[u8]) -> (usize, usize) {
    let [k, e] = d.with(|c| c.put(&[key, element]))[..] else { unreachable!() };
    (k, e)
}

// The output of a hot call that returned `n` bytes of it.
fn output(d: &RawDoc, n: usize) -> Vec<u8> {
    // SAFETY: `d` is live and no call on it is running; the output is `n`
    // bytes long until the next call.
    unsafe { core::slice::from_raw_parts(slotkv_out(d.core()), n) }.to_vec()
}

fn text(d: &RawDoc, n: usize) -> String {
    String::from_utf8(output(d, n)).unwrap()
}

/// The error JavaScript would throw (once): its class and its message.
fn take_error(d: &mut RawDoc) -> Option<(&'static str, String)> {
    let n = unsafe { slotkv_take_error(d.core()) } as u64;
    let class = match n % 4 {
        0 => return None,
        1 => "TypeError",
        2 => "RangeError",
        _ => "Error",
    };
    Some((class, text(d, (n / 4) as usize)))
}

// (The hot calls' safety: each is made on a live document, with no other call running.)

fn increment(d: &mut RawDoc, k: &str, delta: f64) -> u32 {
    let k = key(d, k.as_bytes());
    unsafe { slotkv_increment(d.core(), k, delta, COMMIT) }
}

fn counter(d: &mut RawDoc, k: &str) -> f64 {
    let k = key(d, k.as_bytes());
    unsafe { slotkv_counter(d.core(), k) }
}

fn counter_slots(d: &mut RawDoc, k: &str) -> String {
    let k = key(d, k.as_bytes());
    let n = unsafe { slotkv_counter_slots(d.core(), k) };
    text(d, n)
}

fn set_json(d: &mut RawDoc, k: &str, json: &str) -> u32 {
    let (k, j) = key_element(d, k.as_bytes(), json.as_bytes());
    unsafe { slotkv_set_json(d.core(), k, j, COMMIT) }
}

/// A register's JSON text, or `None`.
fn get(d: &mut RawDoc, k: &str) -> Option<String> {
    let k = key(d, k.as_bytes());
    let n = unsafe { slotkv_get(d.core(), k) } as usize;
    assert!(n == 0 || n % 2 == 1, "JSON text, not bytes: {n}");
    (n > 0).then(|| text(d, n / 2))
}

fn add(d: &mut RawDoc, k: &str, element: &str) -> u32 {
    let (k, e) = key_element(d, k.as_bytes(), element.as_bytes());
    unsafe { slotkv_add(d.core(), k, e, COMMIT) }
}

fn remove(d: &mut RawDoc, k: &str, element: &str) -> u32 {
    let (k, e) = key_element(d, k.as_bytes(), element.as_bytes());
    unsafe { slotkv_remove(d.core(), k, e, COMMIT) }
}

fn members(d: &mut RawDoc, k: &str) -> String {
    let k = key(d, k.as_bytes());
    let n = unsafe { slotkv_members(d.core(), k) };
    text(d, n)
}

fn keys(d: &RawDoc, kind: u32) -> String {
    let n = unsafe { slotkv_keys(d.core(), kind) };
    text(d, n)
}

fn client_id(d: &RawDoc) -> String {
    let n = unsafe { slotkv_client_id(d.core()) };
    text(d, n)
}

fn entries_json(d: &RawDoc) -> String {
    let n = unsafe { slotkv_entries_json(d.core()) };
    text(d, n)
}

fn version(d: &RawDoc) -> Vec<u8> {
    let n = unsafe { slotkv_version(d.core()) };
    output(d, n)
}

// What `d` has that a peer at version `since` lacks.
fn encode_delta(d: &mut RawDoc, since: &[u8]) -> Vec<u8> {
    let n = put(d, since);
    let n = unsafe { slotkv_encode_delta(d.core(), n, slotkv::FORMAT_VERSION as f64) };
    assert_ne!(n, usize::MAX, "encodeDelta failed");
    output(d, n)
}

fn apply_update(d: &mut RawDoc, update: &[u8]) -> u32 {
    let n = put(d, update);
    unsafe { slotkv_apply_update(d.core(), n) }
}

fn exchange(a: &mut RawDoc, b: &mut RawDoc) {
    let to_b = encode_delta(a, &version(b));
    let to_a = encode_delta(b, &version(a));
    assert_ne!(apply_update(b, &to_b), FAILED);
    assert_ne!(apply_update(a, &to_a), FAILED);
}

#[wasm_bindgen_test]
fn random_client_ids_come_from_the_browser() {
    let a = RawDoc::new(None, None, -1.0, None).unwrap();
    let b = RawDoc::new(None, None, -1.0, None).unwrap();
    assert_eq!(client_id(&a).len(), 16);
    assert_ne!(client_id(&a), client_id(&b));
}

#[wasm_bindgen_test]
fn concurrent_clicks_in_two_tabs_count_two() {
    let (mut a, mut b) = (doc("a"), doc("b"));
    assert_eq!(increment(&mut a, "clicks", 1.0), CHANGED);
    assert_eq!(increment(&mut b, "clicks", 1.0), CHANGED);
    exchange(&mut a, &mut b);
    assert_eq!(counter(&mut a, "clicks"), 2.0);
    assert_eq!(counter(&mut b, "clicks"), 2.0);
    assert_eq!(counter_slots(&mut a, "clicks"), r#"{"a":1,"b":1}"#);
}

#[wasm_bindgen_test]
fn registers_and_sets_sync_through_deltas() {
    let (mut a, mut b) = (doc("a"), doc("b"));
    assert_eq!(set_json(&mut a, "status", "\"busy\""), CHANGED);
    assert_eq!(add(&mut a, "poll", "👍"), CHANGED);
    assert_eq!(add(&mut b, "poll", "👍"), CHANGED);
    exchange(&mut a, &mut b);
    assert_eq!(members(&mut b, "poll"), r#"["👍"]"#);
    assert_eq!(keys(&b, 2), r#"["poll"]"#);
    assert_eq!(keys(&b, 7), "[]");
    assert_eq!(remove(&mut a, "poll", "👍"), CHANGED);
    // Nothing left to remove: no change, no error.
    assert_eq!(remove(&mut a, "poll", "👍"), 0);
    exchange(&mut a, &mut b);
    assert_eq!(get(&mut b, "status").as_deref(), Some("\"busy\""));
    assert_eq!(get(&mut b, "nothing"), None);
    assert_eq!(members(&mut b, "poll"), "[]");
    assert_eq!(keys(&b, 2), "[]");
    assert_eq!(entries_json(&a), entries_json(&b));
    assert_eq!(entries_json(&b), r#"{"counters":{},"registers":{"status":"busy"},"sets":{},"bytes":[]}"#);
}

#[wasm_bindgen_test]
fn bad_input_throws_the_right_error_class_and_the_doc_still_works() {
    let mut d = doc("d");
    assert_eq!(increment(&mut d, "x", 0.5), FAILED);
    let (class, msg) = take_error(&mut d).unwrap();
    assert_eq!(class, "RangeError");
    assert!(msg.starts_with("slotkv: ") && msg.contains("safe integer"), "{msg}");
    // The error is taken once.
    assert_eq!(take_error(&mut d), None);
    assert_eq!(increment(&mut d, "", 1.0), FAILED);
    assert_eq!(take_error(&mut d).unwrap().0, "RangeError");
    assert_eq!(set_json(&mut d, "r", "{oops"), FAILED);
    assert_eq!(take_error(&mut d).unwrap().0, "TypeError");
    // A key that is not UTF-8, or longer than what the input buffer holds,
    // which only a caller bypassing pkg/doc.js can pass.
    let k = key(&mut d, b"\xff");
    assert_eq!(d.with(|c| c.increment(k, 1.0, COMMIT)), FAILED);
    assert_eq!(take_error(&mut d), Some(("TypeError", "slotkv: a key is not valid UTF-8".into())));
    assert_eq!(take_error(&mut d), None);
    let (k, e) = key_element(&mut d, b"s", b"\xc3");
    assert_eq!(d.with(|c| c.add(k, e, COMMIT)), FAILED);
    assert_eq!(take_error(&mut d).unwrap().0, "TypeError");
    assert_eq!(d.with(|c| c.add(k, e + 1, COMMIT)), FAILED);
    assert_eq!(take_error(&mut d).unwrap().0, "TypeError");
    assert_eq!(d.with(|c| c.increment(1 << 20, 1.0, COMMIT)), FAILED);
    assert_eq!(take_error(&mut d).unwrap().0, "TypeError");
    // A buffer larger than memory can hold is refused, not a trap.
    assert!(d.with(|c| c.input_buffer(usize::MAX)).is_null());
    assert!(!d.with(|c| c.input_buffer(16)).is_null());
    assert_eq!(apply_update(&mut d, &[0xb7, 9, 1]), FAILED);
    let (class, msg) = take_error(&mut d).unwrap();
    assert_eq!(class, "Error");
    assert!(msg.contains("format version 9"), "{msg}");
    assert_eq!(entries_json(&d), r#"{"counters":{},"registers":{},"sets":{},"bytes":[]}"#);
    assert_eq!(increment(&mut d, "x", 2.0), CHANGED);
    assert_eq!(counter(&mut d, "x"), 2.0);
}
