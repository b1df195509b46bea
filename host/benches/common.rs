//! What the benchmarks share: criterion's estimates, printed as ratios.

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Criterion's mean estimate for `group/id`, in nanoseconds.
pub fn mean_ns(group: &str, id: &str) -> Option<f64> {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from);
    let path = target
        .join("criterion")
        .join(group)
        .join(id)
        .join("new/estimates.json");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    json["mean"]["point_estimate"].as_f64()
}

/// Print each `group/id` mean as a ratio of its baseline `group/id`.
pub fn print_ratios(rows: &[(&str, &str, &str, &str)]) {
    println!("\nratios (mean time, lower is faster):");
    for (g, id, bg, bid) in rows {
        match (mean_ns(g, id), mean_ns(bg, bid)) {
            (Some(t), Some(base)) => println!(
                "  {g}/{id:<24} {:>9.2} µs = {:>6.2} × {bg}/{bid} ({:.2} µs)",
                t / 1000.0,
                t / base,
                base / 1000.0
            ),
            _ => println!("  {g}/{id}: no estimate (filtered out?)"),
        }
    }
}
