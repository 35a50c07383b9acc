//! Writes seed corpora from real encodings: `cargo run --example seeds -- <corpus dir>`
//! creates `<dir>/<target>/seed-NN` for every fuzz target (fuzz/run.sh does it).

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "corpus".into()));
    let s = slotkv_fuzz::seeds();
    let converge: Vec<Vec<u8>> = (0u8..8).map(|k| (0..512u32).map(|i| (i as u8).wrapping_mul(31).wrapping_add(k * 17)).collect()).collect();
    let apply_delta: Vec<Vec<u8>> = s.delta_bodies.iter().chain(&s.version_bodies).cloned().collect();
    for (target, inputs) in [
        ("apply_state", &s.state_bodies),
        ("apply_delta", &apply_delta),
        ("round_trip", &s.messages),
        ("converge", &converge),
    ] {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).expect("create the corpus directory");
        for (i, input) in inputs.iter().enumerate() {
            std::fs::write(d.join(format!("seed-{i:02}")), input).expect("write a seed");
        }
        println!("{target}: {} seeds", inputs.len());
    }
}
