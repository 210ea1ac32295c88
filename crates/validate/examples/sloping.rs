//! The sloping dam break at every slope, along x and y:
//! `cargo run --release -p validate --example sloping`.
fn main() -> anyhow::Result<()> {
    for reconstruction in [
        hydro::Reconstruction::Audusse,
        hydro::Reconstruction::Subcell,
    ] {
        for slope in [0.0, 0.01, 0.05, 0.2] {
            for along_y in [false, true] {
                let r = validate::cases::sloping_run(slope, along_y, 1.0, reconstruction)?;
                println!(
                    "{reconstruction:?} S = {:>4.1} % along {}: L1 {:.2} %, front {:+.1} %, {:.2} s",
                    slope * 100.0,
                    if along_y { "y" } else { "x" },
                    r.l1 * 100.0,
                    r.front * 100.0,
                    r.wall_s
                );
            }
        }
    }
    Ok(())
}
