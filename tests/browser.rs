//! The wasm binding in headless Chromium (wasm-bindgen-test): the same core
//! scenarios as natively, through the exported `RawDoc`, with real
//! `crypto.getRandomValues` and `Date.now()`.
#![cfg(target_arch = "wasm32")]

use slotkv::wasm::RawDoc;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const COMMIT: u32 = 1;

fn doc(id: &str) -> RawDoc {
    RawDoc::new(Some(id.to_owned()), None, -1.0, None).unwrap()
}

fn exchange(a: &mut RawDoc, b: &mut RawDoc) {
    let to_b = a.encode_delta(Some(b.version())).unwrap();
    let to_a = b.encode_delta(Some(a.version())).unwrap();
    b.apply_update(&to_b).unwrap();
    a.apply_update(&to_a).unwrap();
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
    assert!(a.increment("clicks", 1.0, COMMIT).unwrap());
    assert!(b.increment("clicks", 1.0, COMMIT).unwrap());
    exchange(&mut a, &mut b);
    assert_eq!(a.counter("clicks"), 2.0);
    assert_eq!(b.counter("clicks"), 2.0);
    assert_eq!(a.counter_slots("clicks"), r#"{"a":1,"b":1}"#);
}

#[wasm_bindgen_test]
fn registers_and_sets_sync_through_deltas() {
    let (mut a, mut b) = (doc("a"), doc("b"));
    a.set_json("status", "\"busy\"".into(), COMMIT).unwrap();
    a.add("poll", "👍", COMMIT).unwrap();
    b.add("poll", "👍", COMMIT).unwrap();
    exchange(&mut a, &mut b);
    assert_eq!(b.members("poll"), r#"["👍"]"#);
    assert_eq!(b.keys(2).unwrap(), r#"["poll"]"#);
    a.remove("poll", "👍", COMMIT).unwrap();
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
    let err: JsValue = d.increment("x", 0.5, COMMIT).unwrap_err();
    assert!(err.is_instance_of::<js_sys::RangeError>());
    let err = d.increment("", 1.0, COMMIT).unwrap_err();
    assert!(err.is_instance_of::<js_sys::RangeError>());
    let err = d.set_json("r", "{oops".into(), COMMIT).unwrap_err();
    assert!(err.is_instance_of::<js_sys::TypeError>());
    let err = d.apply_update(&[0xb7, 9, 1]).unwrap_err();
    let msg = js_sys::Error::from(err).message().as_string().unwrap();
    assert!(msg.contains("format version 9"), "{msg}");
    d.increment("x", 2.0, COMMIT).unwrap();
    assert_eq!(d.counter("x"), 2.0);
}
