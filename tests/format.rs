//! docs/FORMAT.md's examples, checked byte by byte against the encoder, and
//! the sizes the format gives (printed with `--nocapture`).

use slotkv::{Doc, Options, Value, FORMAT_VERSION, MAGIC};

fn doc(id: &str) -> Doc {
    Doc::with_clock(Options::with_client_id(id), Box::new(|| 1_000u64)).unwrap()
}

#[test]
fn a_version_message_is_header_tables_and_ranges() {
    let mut d = doc("a");
    for _ in 0..5 {
        d.increment("x", 1).unwrap();
    }
    assert_eq!(MAGIC, 0xb7);
    assert_eq!(FORMAT_VERSION, 1);
    #[rustfmt::skip]
    let expected = [
        0xb7, 0x01, 0x00,       // magic, format version 1, type 0 (version)
        0x01, 0x01, b'a',       // client table: one id, "a"
        0x00,                   // string table: empty
        0x01, 0x00, 0x01, 0x00, 0x04, // one client, index 0, one range, gap 0, length 5
    ];
    assert_eq!(d.version(), expected);
}

#[test]
fn a_full_state_with_one_counter_slot_is_laid_out_as_documented() {
    let mut d = doc("a");
    d.increment("x", 3).unwrap();
    d.increment("x", -1).unwrap();
    #[rustfmt::skip]
    let expected = [
        0xb7, 0x01, 0x01,       // magic, version 1, type 1 (full state)
        0x01, 0x01, b'a',       // client table
        0x01, 0x08, b'x',       // string table: "x" (length 1 << 3, nothing shared)
        0x01, 0x00, 0x01, 0x00, 0x01, // ctx: client 0 has seen 1..=2
        0x00,                   // horizon: empty
        0x01, 0x00, 0x01,       // one counter: key 0, one slot
        0x00, 0x02, 0x03, 0x01, // client 0, seq 2, p 3, n 1
        0x00,                   // no registers
        0x00,                   // no sets
    ];
    assert_eq!(d.encode_state(), expected);
}

#[test]
fn a_register_and_a_set_element_are_laid_out_as_documented() {
    let mut d = doc("a");
    d.set("r", Value::Json("1".into())).unwrap();
    d.add("s", "e").unwrap();
    #[rustfmt::skip]
    let expected = [
        0xb7, 0x01, 0x01,
        0x01, 0x01, b'a',
        0x03, 0x08, b'e', 0x08, b'r', 0x08, b's', // strings, sorted: "e", "r", "s"
        0x01, 0x00, 0x01, 0x00, 0x01,             // ctx 1..=2
        0x00,                                     // horizon
        0x00,                                     // no counters
        0x01, 0xe8, 0x07,                         // one register; wall times from 1000
        0x04, 0x02, 0x00, 0x00, 0x13, // head: key +1 (zigzag 2) << 1, same writer; seq +1 (zigzag); wall 1000 + 0; logical 0; integer 1: zigzag 2 << 3 | type 3
        0x01, 0x02, 0x01, 0x00, 0x01, 0x00, 0x02, // set key 2, one element: string 0, one tag: client 0 seq 2
        0x00, 0x00,                               // no removals, removed-at 0
    ];
    assert_eq!(d.encode_state(), expected);
}

#[test]
fn sizes_of_typical_updates() {
    let id = "0123456789abcdef"; // a default-length client id
    let one = |f: &dyn Fn(&mut Doc)| {
        let mut d = doc(id);
        f(&mut d);
        d.commit(true).unwrap().update.unwrap().len()
    };
    let slot = one(&|d| d.increment("clicks", 1).unwrap());
    let reg = one(&|d| d.set("status", Value::Json("\"ok\"".into())).unwrap());
    let elem = one(&|d| d.add("reactions", "alice:👍").unwrap());
    println!("one counter slot update: {slot} bytes; one register: {reg} bytes; one set element: {elem} bytes");
    // Header 3, client table 10 (the hex id once, as 8 bytes), string table 8 ("clicks" once),
    // seen flag 1, ctx 5, horizon 1, the counter 7 (key, count, client, seq, p, n), no registers 1,
    // no sets 1.
    assert_eq!(slot, 3 + 10 + 8 + 1 + 5 + 1 + 7 + 1 + 1);
    // The register: no counters 1; registers: count 1, base wall 2, the row 7 (head, seq, wall,
    // logical, value head, "ok" without its quotes); string table 8 ("status").
    assert_eq!(reg, 3 + 10 + 8 + 1 + 5 + 1 + 1 + (1 + 2 + 7) + 1);

    let mut big = doc(id);
    for i in 0..1000 {
        let k = format!("k{i}");
        big.increment(&k, 1).unwrap();
        big.set(&k, Value::Json(i.to_string())).unwrap();
        big.add(&k, "x").unwrap();
    }
    let state = big.encode_state().len();
    println!("1 000 keys of each kind: {state} bytes ({:.1} per entry)", state as f64 / 3000.0);
    assert!(state < 3000 * 10, "{state}");
}
