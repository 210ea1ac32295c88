//! The sloping dam break at every slope, along x and y, with each scheme and
//! reconstruction: `cargo run --release -p validate --example sloping`.
use hydro::{Reconstruction, Scheme};
use validate::cases::{Numerics, sloping_run};

fn main() -> anyhow::Result<()> {
    for scheme in [Scheme::Fv1, Scheme::Fv2] {
        for reconstruction in [
            Reconstruction::Audusse,
            Reconstruction::Subcell,
            Reconstruction::Energy,
        ] {
            let numerics = Numerics {
                scheme,
                reconstruction,
            };
            for slope in [0.0, 0.01, 0.05, 0.2] {
                for along_y in [false, true] {
                    let r = sloping_run(slope, along_y, 1.0, numerics)?;
                    println!(
                        "{scheme:?} {reconstruction:?} S = {:>4.1} % along {}: L1 {:.2} %, front {:+.1} %, {:.2} s",
                        slope * 100.0,
                        if along_y { "y" } else { "x" },
                        r.l1 * 100.0,
                        r.front * 100.0,
                        r.wall_s
                    );
                }
            }
        }
    }
    Ok(())
}
