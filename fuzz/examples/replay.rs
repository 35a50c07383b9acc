//! Replays one input against the fixture document and prints what changes:
//! `cargo run --example replay -- <file> [state|delta]`.
use slotkv::Kind;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a file");
    let kind = args.next().unwrap_or_else(|| "state".into());
    let body = std::fs::read(&path).expect("read the input");
    let header = if kind == "delta" { slotkv_fuzz::HEADER_DELTA } else { slotkv_fuzz::HEADER_STATE };
    let msg = [&header[..], &body].concat();
    let mut d = slotkv_fuzz::fixture();
    let show = |d: &slotkv::Doc| {
        let (_, regs, sets) = d.entries();
        for (k, r) in regs {
            println!("  register {k:?}: {:?} ts {:?} by {} seq {}", r.value(), r.ts, r.writer, r.seq);
        }
        for (k, s) in sets {
            println!("  set {k:?}: {:?} removal {:?}", s.elements().collect::<Vec<_>>(), s.removal_record());
        }
        println!("  counters {:?}", d.keys(Kind::Counter).iter().map(|k| (k.to_string(), d.counter(k))).collect::<Vec<_>>());
        println!("  seen {:?}", d.version_vector());
    };
    println!("fixture:");
    show(&d);
    for i in 1..=3 {
        let r = d.apply_update(&msg);
        println!("apply #{i}: {:?}", r);
        show(&d);
    }
}
