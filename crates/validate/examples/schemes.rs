//! One group of validation cases with every scheme and reconstruction, printed:
//! `cargo run --release -p validate --example schemes -- dam_breaks|steady|thacker|bump`.
use hydro::{Reconstruction, Scheme};
use validate::cases::{self, Mode, Numerics};

fn main() -> anyhow::Result<()> {
    let group = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "dam_breaks".into());
    for scheme in [Scheme::Fv1, Scheme::Fv2] {
        for reconstruction in [
            Reconstruction::Audusse,
            Reconstruction::Subcell,
            Reconstruction::Energy,
        ] {
            let mode = Mode {
                fast: false,
                plots: None,
                numerics: Numerics {
                    scheme,
                    reconstruction,
                },
            };
            let outcomes = match group.as_str() {
                "dam_breaks" => cases::dam_breaks(&mode)?,
                "steady" => cases::steady_channels(&mode)?,
                "bump" => vec![cases::bump_convergence(&mode)?],
                "thacker" => {
                    let mut v = vec![cases::thacker_1d(&mode)?, cases::thacker_2d_planar(&mode)?];
                    v.extend(cases::thacker_2d_radial(&mode)?);
                    v
                }
                other => anyhow::bail!("unknown group {other}"),
            };
            for o in outcomes {
                println!(
                    "{:55} {:>11.4e} {:5} {:7.2} s  {}",
                    o.case,
                    o.value,
                    if o.pass() { "pass" } else { "MISS" },
                    o.wall_s,
                    o.norm
                );
            }
        }
    }
    Ok(())
}
