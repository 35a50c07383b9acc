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
    // The newest version read; a version message is written as version 1,
    // which has all it needs.
    assert_eq!(FORMAT_VERSION, 2);
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
fn a_delta_with_a_removal_marks_which_sets_it_lists_whole_in_format_version_2() {
    let mut a = doc("a");
    a.add("r", "y").unwrap();
    for i in 0..10 {
        a.add("s", &format!("x{i}")).unwrap();
    }
    let mut b = doc("b");
    b.apply_update(&a.encode_state()).unwrap();
    a.remove("r", "y").unwrap(); // seq 12, which b lacks: "r" goes whole
    a.add("s", "z").unwrap(); // seq 13: "s" goes in part, without x0..x9
    #[rustfmt::skip]
    let expected = [
        0xb7, 0x02, 0x02,       // magic, format version 2, type 2 (delta)
        0x01, 0x01, b'a',       // client table
        0x03, 0x08, b'r', 0x08, b's', 0x08, b'z', // strings: "r", "s", "z"
        0x02,                   // seen flag 2: seen follows, and each set has a whole mark
        0x01, 0x00, 0x01, 0x00, 0x0c, // seen: client 0 has seen 1..=13
        0x01, 0x00, 0x01, 0x0b, 0x01, // ctx: 12..=13 (gap 11, length 2)
        0x00, 0x00, 0x00,       // horizon, counters, registers: none
        0x02,                   // two sets
        0x00, 0x01,             // "r", whole (read against seen)
        0x00,                   //   no elements: "y" was removed
        0x01, 0x00, 0x0c, 0xe8, 0x07, //   one removal: client 0 seq 12; removed at 1000 ms
        0x01, 0x00,             // "s", in part (read against ctx)
        0x01, 0x02, 0x01, 0x00, 0x0d, //   one element: "z", one tag: client 0 seq 13
        0x00, 0x00,             //   no removals, removed-at 0
    ];
    let delta = a.encode_delta(Some(&b.version())).unwrap();
    assert_eq!(delta, expected);
    b.apply_update(&delta).unwrap();
    assert_eq!(b.members("r"), Vec::<String>::new());
    assert_eq!(b.members("s").len(), 11);
    assert_eq!(b.encode_state(), a.encode_state());

    // When every set it lists is listed whole, the delta keeps format 1's
    // layout and version, which older builds read.
    let mut c = doc("c");
    c.apply_update(&b.encode_state()).unwrap();
    a.remove("s", "z").unwrap();
    let delta = a.encode_delta(Some(&c.version())).unwrap();
    assert_eq!(delta[..3], [0xb7, 0x01, 0x02]);
    c.apply_update(&delta).unwrap();
    assert_eq!(c.members("s").len(), 10);
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
