//! The wasm binding in headless Chromium (wasm-bindgen-test): the same core
//! scenarios as natively, through the exported `RawDoc`, with real
//! `crypto.getRandomValues` and `Date.now()`.
#![cfg(target_arch = "wasm32")]

use slotkv::wasm::RawDoc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const COMMIT: u32 = 1;
/// What writes and `apply_update` return (src/wasm.rs).
const CHANGED: u32 = 1;
const FAILED: u32 = 2;

fn doc(id: &str) -> RawDoc {
    RawDoc::new(Some(id.to_owned()), None, -1.0, None).unwrap()
}

fn exchange(a: &mut RawDoc, b: &mut RawDoc) {
    let newest = slotkv::FORMAT_VERSION as f64;
    let to_b = a.encode_delta(Some(b.version()), newest).unwrap();
    let to_a = b.encode_delta(Some(a.version()), newest).unwrap();
    assert_ne!(b.apply_update(&to_b), FAILED);
    assert_ne!(a.apply_update(&to_a), FAILED);
}

#[wasm_bindgen_test]
fn random_client_ids_come_from_the_browser() {
    let a = RawDoc::new(None, None, -1.0, None).unwrap();
    let b = RawDoc::new(None, None, -1.0, None).unwrap();
    assert_eq!(a.client_id().len(), 16);
    assert_ne!(a.client_id(), b.client_id());
}

#[wasm_bindgen_test]
fn concurrent_clicks_in_two_tabs_count_two() {
    let (mut a, mut b) = (doc("a"), doc("b"));
    assert_eq!(a.increment("clicks", 1.0, COMMIT), CHANGED);
    assert_eq!(b.increment("clicks", 1.0, COMMIT), CHANGED);
    exchange(&mut a, &mut b);
    assert_eq!(a.counter("clicks"), 2.0);
    assert_eq!(b.counter("clicks"), 2.0);
    assert_eq!(a.counter_slots("clicks"), r#"{"a":1,"b":1}"#);
}

#[wasm_bindgen_test]
fn registers_and_sets_sync_through_deltas() {
    let (mut a, mut b) = (doc("a"), doc("b"));
    assert_eq!(a.set_json("status", "\"busy\"".into(), COMMIT), CHANGED);
    assert_eq!(a.add("poll", "👍", COMMIT), CHANGED);
    assert_eq!(b.add("poll", "👍", COMMIT), CHANGED);
    exchange(&mut a, &mut b);
    assert_eq!(b.members("poll"), r#"["👍"]"#);
    assert_eq!(b.keys(2).unwrap(), r#"["poll"]"#);
    assert_eq!(a.remove("poll", "👍", COMMIT), CHANGED);
    // Nothing left to remove: no change, no error.
    assert_eq!(a.remove("poll", "👍", COMMIT), 0);
    exchange(&mut a, &mut b);
    assert_eq!(b.get("status").as_string().as_deref(), Some("\"busy\""));
    assert_eq!(b.members("poll"), "[]");
    assert_eq!(b.keys(2).unwrap(), "[]");
    assert_eq!(a.entries_json(), b.entries_json());
    assert_eq!(b.entries_json(), r#"{"counters":{},"registers":{"status":"busy"},"sets":{},"bytes":[]}"#);
}

#[wasm_bindgen_test]
fn bad_input_throws_the_right_error_class_and_the_doc_still_works() {
    let mut d = doc("d");
    assert_eq!(d.increment("x", 0.5, COMMIT), FAILED);
    let err: JsValue = d.take_error();
    assert!(err.is_instance_of::<js_sys::RangeError>());
    // The error is taken once.
    assert!(d.take_error().is_undefined());
    assert_eq!(d.increment("", 1.0, COMMIT), FAILED);
    assert!(d.take_error().is_instance_of::<js_sys::RangeError>());
    assert_eq!(d.set_json("r", "{oops".into(), COMMIT), FAILED);
    assert!(d.take_error().is_instance_of::<js_sys::TypeError>());
    assert_eq!(d.apply_update(&[0xb7, 9, 1]), FAILED);
    let msg = js_sys::Error::from(d.take_error()).message().as_string().unwrap();
    assert!(msg.contains("format version 9"), "{msg}");
    assert_eq!(d.entries_json(), r#"{"counters":{},"registers":{},"sets":{},"bytes":[]}"#);
    assert_eq!(d.increment("x", 2.0, COMMIT), CHANGED);
    assert_eq!(d.counter("x"), 2.0);
}
