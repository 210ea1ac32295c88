//! Speed of the terrain hydrology on an N × N synthetic DEM (a valley sloping east, with
//! hills and many pits from a hashed noise), stage by stage:
//! `cargo run --release -p basin --example terrain_speed -- 2048`.

use std::time::Instant;

use basin::terrain::{accumulation, catchment, d8_directions, fill_depressions, strahler};
use ndarray::Array2;

fn noise(r: usize, c: usize) -> f64 {
    // SplitMix64 of the cell index: a deterministic noise in [0, 1).
    let mut z = (r as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (c as u64);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2048);
    let dem = Array2::from_shape_fn((n, n), |(r, c)| {
        let (x, y) = (c as f64 / n as f64, r as f64 / n as f64);
        100.0 * (1.0 - x)
            + 20.0 * (6.0 * y).sin() * (4.0 * x).cos()
            + 30.0 * (y - 0.5).abs()
            + 2.0 * noise(r, c)
    });
    let data = Array2::from_elem((n, n), true);
    let t = Instant::now();
    let filled = fill_depressions(&dem, &data);
    let fill = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let dirs = d8_directions(&filled, &data, 10.0, 10.0);
    let d8 = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let acc = accumulation(&dirs, &data);
    let accumulate = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let order = strahler(&dirs, &acc, 1000);
    let streams = t.elapsed().as_secs_f64();
    let outlet = acc
        .indexed_iter()
        .max_by_key(|(_, a)| **a)
        .map(|(c, _)| c)
        .expect("a grid of at least one cell");
    let t = Instant::now();
    let inside = catchment(&dirs, outlet);
    let catch = t.elapsed().as_secs_f64();
    let raised = filled.iter().zip(&dem).filter(|(f, z)| f > z).count();
    println!(
        "{n} × {n} = {:.1} M cells ({raised} raised by the fill): fill {fill:.2} s, D8 {d8:.2} s, \
         accumulation {accumulate:.2} s, Strahler {streams:.2} s (order up to {}), catchment of \
         the largest outlet {catch:.2} s ({} cells); total {:.2} s",
        (n * n) as f64 / 1e6,
        order.iter().max().copied().unwrap_or(0),
        inside.iter().filter(|&&i| i).count(),
        fill + d8 + accumulate + streams + catch
    );
}
