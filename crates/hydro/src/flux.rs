//! The numerical flux across one cell face: hydrostatic reconstruction (Audusse et al.
//! 2004) feeding an HLLC approximate Riemann solver (Toro 2001, ch. 10).
//!
//! Written in the face-normal frame so the same function serves x- and y-faces: `qn` is
//! the momentum across the face (positive from left to right), `qt` the momentum along it.
//! Every branch is a select, so the loops that call it vectorise.

/// One cell as seen from a face.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Side {
    pub h: f64,
    /// 1/h where the cell is wet, 0 where it is dry (see `inverse_depth`).
    pub inv_h: f64,
    /// √(g h), computed once per cell.
    pub c: f64,
    pub qn: f64,
    pub qt: f64,
    pub z: f64,
    pub active: bool,
}

/// Flux through a face, per metre of face. `normal_left` / `normal_right` are the normal
/// momentum fluxes seen by the left and right cell: they differ by the hydrostatic
/// correction `g/2 (h² − h*²)` that makes the scheme well balanced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct FaceFlux {
    pub mass: f64,
    pub normal_left: f64,
    pub normal_right: f64,
    pub tangential: f64,
}

#[inline(always)]
fn select(cond: bool, a: f64, b: f64) -> f64 {
    if cond { a } else { b }
}

/// 1/h for a wet cell, 0 for a dry one: velocities q/h become zero below the dry depth,
/// so that a film of water has no speed.
#[inline(always)]
pub(crate) fn inverse_depth(h: f64, dry_depth_m: f64) -> f64 {
    select(h > dry_depth_m, 1.0 / h, 0.0)
}

/// The hydrostatic reconstruction of Audusse et al. (2004): face depths above the higher
/// bed, bed terms g/2·(h² − h*²).
pub(crate) const AUDUSSE: u8 = 0;
/// The subcell bed terms of Chen & Noelle (2017), see [`face_flux`].
pub(crate) const SUBCELL: u8 = 1;
/// [`SUBCELL`], and where the water surface stands above the face's bed on the lowered
/// side and the water moves, a face state that keeps the cell's discharge and energy
/// head (see [`moving_water_depth`]).
pub(crate) const ENERGY: u8 = 2;

/// Halley steps for the moving-water depth from the start of `moving_water_depth`
/// (itself within 0.3 % of the root): one leaves 1.2e-7, two reach the root as closely
/// as it is defined near critical flow (6e-9 relative, where the two roots merge and a
/// rounding of K moves them by its square root), over every K up to choking.
const HALLEY_STEPS: usize = 2;

/// The depth h* of a cell's state (depth `h`, normal velocity `u`) moved up onto a face
/// whose bed is higher than the cell's, keeping its discharge q = h·u and its energy head
/// u²/2g + h + z (a steady flow over a step; the moving-water equilibria of Noelle, Xing &
/// Shu 2007, J. Comput. Phys. 226, 29–58): the root of h*³ − B·h*² + q²/2g = 0 with
/// B = `hs` + u²/2g, where `hs` is the hydrostatic face depth h − Δz. The root on the
/// cell's side of critical flow is taken (subcritical: the larger one). Returns
/// (h*, true) where that root exists (B ≥ 3/2 of the critical depth: the flow is not
/// choked), the surface stands above the face's bed (`hs` > 0) and the water moves;
/// otherwise (`hs`, false), the hydrostatic state. Water at rest gives `hs` exactly, so
/// a lake at rest is kept to round-off.
///
/// With x = B·t and r = 27K/4B³ (r = 1 at choking) the subcritical root t runs from 1
/// (r = 0) to 2/3 (r = 1), near which it goes as 2/3 + (2/√27)·√(1 − r) (the roots
/// merge); Halley's method on f(x) = x²(x − B) + K starts from
/// t₀ = 2/3 + c·√(1 − r) − (c − 1/3)·(1 − r), c = 2/√27, which has both ends right, and
/// never goes below the critical depth 2B/3. The supercritical root then follows from
/// the other two roots' sum and product.
#[inline(always)]
fn moving_water_depth(h: f64, u: f64, hs: f64, g: f64) -> (f64, bool) {
    let inv_2g = 0.5 / g;
    let q = h * u;
    let k = q * q * inv_2g;
    let b = hs + u * u * inv_2g;
    // r ≤ 1: a root exists (the flow is not choked).
    let r = select(b > 0.0, 27.0 * k / (4.0 * b * b * b), 2.0);
    let moving = (hs > 0.0) & (k > 0.0) & (r <= 1.0);
    let subcritical = u * u < g * h;
    let critical = b * (2.0 / 3.0);
    const C: f64 = 0.384_900_179_459_750_5; // 2/√27
    let s = (1.0 - r).max(0.0);
    let mut x = b * (2.0 / 3.0 + C * s.sqrt() - (C - 1.0 / 3.0) * s);
    for _ in 0..HALLEY_STEPS {
        let f = x * x * (x - b) + k;
        let slope = x * (3.0 * x - 2.0 * b);
        let den = 2.0 * slope * slope - f * (6.0 * x - 2.0 * b);
        let step = select(
            den != 0.0,
            2.0 * f * slope / select(den != 0.0, den, 1.0),
            0.0,
        );
        x = (x - step).max(critical);
    }
    let rest = b - x;
    let supercritical = 0.5
        * (rest
            + (rest * rest + 4.0 * k / select(x > 0.0, x, 1.0))
                .max(0.0)
                .sqrt());
    let root = select(subcritical, x, supercritical);
    (select(moving, root, hs), moving)
}

/// With [`SUBCELL`] (and [`ENERGY`] where its moving-water state does not apply), the
/// bed-slope terms of the subcell hydrostatic reconstruction (Chen & Noelle 2017, "A new
/// hydrostatic reconstruction scheme based on subcell reconstructions", SIAM J. Numer.
/// Anal. 55(2), 758–784): the face bed is
/// z* = min(max(z_L, z_R), min(w_L, w_R)) (w = z + h), the face depths
/// h* = min(w − z*, h) (the same as Audusse's), and each side's bed-slope force over its
/// half cell is the trapezoid g·(h* + h)/2·(z* − z) instead of g/2·(h² − h*²). The two
/// agree wherever the water surfaces stand above both beds (so a lake stays at rest), but
/// where a thin flow runs down a step higher than its depth, the upper cell now feels the
/// whole fall g·h·(z − w_R) that Audusse's form cuts to nothing: thin fronts are not held
/// back on steep beds.
#[inline(always)]
pub(crate) fn face_flux<const RECON: u8>(left: Side, right: Side, g: f64) -> FaceFlux {
    face_flux_with::<RECON, false>(left, right, g)
}

/// `face_flux`, with `STAR_C` taking both wave celerities from the face depths (two
/// square roots per face) instead of the sides' `c` (unused then): for face states that
/// are not cell values, whose `c` would cost a root of its own.
#[inline(always)]
pub(crate) fn face_flux_with<const RECON: u8, const STAR_C: bool>(
    left: Side,
    right: Side,
    g: f64,
) -> FaceFlux {
    let ul = left.qn * left.inv_h;
    let vl = left.qt * left.inv_h;
    let ur = right.qn * right.inv_h;
    let vr = right.qt * right.inv_h;

    // An inactive neighbour is a wall: it mirrors the active cell with the normal velocity
    // reversed. (When both are inactive the flux is unused.)
    let (hl, zl, cl_cell) = (left.h, left.z, left.c);
    let hr = select(right.active, right.h, hl);
    let zr = select(right.active, right.z, zl);
    let cr_cell = select(right.active, right.c, cl_cell);
    let ur = select(right.active, ur, -ul);
    let vr = select(right.active, vr, vl);
    let hl = select(left.active, hl, hr);
    let zl = select(left.active, zl, zr);
    let cl_cell = select(left.active, cl_cell, cr_cell);
    let ul = select(left.active, ul, -ur);
    let vl = select(left.active, vl, vr);
    let (ul_cell, ur_cell) = (ul, ur);

    // Hydrostatic reconstruction: depths at the face above the higher of the two beds.
    // Written as h − (rise of the face bed) so that the side that owns the higher bed keeps
    // its depth exactly.
    let hls = (hl - (zr - zl).max(0.0)).max(0.0);
    let hrs = (hr - (zl - zr).max(0.0)).max(0.0);

    // Moving water: the lowered side's face state keeps its discharge and energy head
    // instead of its velocity and surface (see `moving_water_depth`). Only the side with
    // the lower bed is lowered, so only its state is worked out.
    let left_lowered = zl < zr;
    let (hls, hrs, ul, ur, energy_l, energy_r) = if RECON == ENERGY {
        let step = left.active & right.active & (zl != zr);
        let (h, u, hs) = (
            select(left_lowered, hl, hr),
            select(left_lowered, ul, ur),
            select(left_lowered, hls, hrs),
        );
        let (h_face, moving) = moving_water_depth(h, u, hs, g);
        let moving = moving & step;
        let u_face = select(moving, h * u / h_face, u);
        let h_face = select(moving, h_face, hs);
        (
            select(left_lowered, h_face, hls),
            select(left_lowered, hrs, h_face),
            select(left_lowered, u_face, ul),
            select(left_lowered, ur, u_face),
            moving & left_lowered,
            moving & !left_lowered,
        )
    } else {
        (hls, hrs, ul, ur, false, false)
    };

    // Wave speed estimates (two-rarefaction star state; Toro's dry-bed speeds). The side
    // with the higher bed keeps its depth, so only the other side needs a square root.
    // (With `ENERGY` too: only the lowered side's state is replaced, and the side with
    // the higher bed keeps its cell's depth, so its cell `c` is the same bits.)
    let (cl, cr) = if STAR_C {
        ((g * hls).sqrt(), (g * hrs).sqrt())
    } else {
        let c_lowered = (g * select(left_lowered, hls, hrs)).sqrt();
        (
            select(left_lowered, c_lowered, cl_cell),
            select(left_lowered, cr_cell, c_lowered),
        )
    };
    let u_star = 0.5 * (ul + ur) + cl - cr;
    let c_star = 0.5 * (cl + cr) + 0.25 * (ul - ur);
    let left_dry = hls <= 0.0;
    let right_dry = hrs <= 0.0;
    let sl = select(
        left_dry,
        ur - 2.0 * cr,
        select(right_dry, ul - cl, (ul - cl).min(u_star - c_star)),
    );
    let sr = select(
        left_dry,
        ur + cr,
        select(right_dry, ul + 2.0 * cl, (ur + cr).max(u_star + c_star)),
    );

    // HLL flux for mass and normal momentum. Clamping the speeds to 0 folds the
    // supersonic cases (S_L ≥ 0 → F_L, S_R ≤ 0 → F_R) into the same formula.
    let s_minus = sl.min(0.0);
    let s_plus = sr.max(0.0);
    // A span below 1e-20 m/s is no wave at all (both sides dry, or a film with a
    // subnormal velocity); dividing by it would overflow to infinity and give NaN.
    let span = s_plus - s_minus;
    let inv_span = select(span > 1e-20, 1.0 / span, 0.0);
    let qls = hls * ul;
    let qrs = hrs * ur;
    let half_g = 0.5 * g;
    let fnl = qls * ul + half_g * hls * hls;
    let fnr = qrs * ur + half_g * hrs * hrs;
    let mass = (s_plus * qls - s_minus * qrs + s_minus * s_plus * (hrs - hls)) * inv_span;
    let normal = (s_plus * fnl - s_minus * fnr + s_minus * s_plus * (qrs - qls)) * inv_span;

    // HLLC: the tangential momentum is carried across the contact wave S*.
    // Only the sign of S* = num/den matters; den = 0 (both sides dry) counts as S* = 0.
    let num = sl * hrs * (ur - sr) - sr * hls * (ul - sl);
    let den = hrs * (ur - sr) - hls * (ul - sl);
    let tangential = mass * select(num * den >= 0.0, vl, vr);

    let open = left.active & right.active;
    let (correction_left, correction_right) = if RECON == AUDUSSE {
        (
            half_g * (hl * hl - hls * hls),
            half_g * (hr * hr - hrs * hrs),
        )
    } else {
        let zs = zl.max(zr).min((zl + hl).min(zr + hr));
        let (sub_l, sub_r) = (
            half_g * (hls + hl) * (zs - zl),
            half_g * (hrs + hr) * (zs - zr),
        );
        if RECON == ENERGY {
            // Where the face state is the moving-water one, the bed term is the
            // difference of the cell's and the face state's physical momentum fluxes, so
            // that a steady flow of the same discharge and energy head on both sides
            // feels no net force.
            let (ql, qr) = (hl * ul_cell, hr * ur_cell);
            (
                select(energy_l, ql * ul_cell + half_g * hl * hl - fnl, sub_l),
                select(energy_r, qr * ur_cell + half_g * hr * hr - fnr, sub_r),
            )
        } else {
            (sub_l, sub_r)
        }
    };
    FaceFlux {
        mass: select(open, mass, 0.0),
        normal_left: normal + correction_left,
        normal_right: normal + correction_right,
        tangential: select(open, tangential, 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f64 = 9.81;
    const DRY: f64 = 1e-6;

    fn side(h: f64, qn: f64, z: f64) -> Side {
        Side {
            h,
            inv_h: inverse_depth(h, DRY),
            c: (G * h).sqrt(),
            qn,
            qt: 0.0,
            z,
            active: true,
        }
    }

    #[test]
    fn still_water_over_a_step_gives_balanced_pressure() {
        // Surface at 1.0 m: left bed 0.0, right bed 0.4. Each side's momentum flux must
        // equal its own cell pressure g/2 h², which cancels the pressure from its other face.
        let f = face_flux::<AUDUSSE>(side(1.0, 0.0, 0.0), side(0.6, 0.0, 0.4), G);
        assert_eq!(f.mass, 0.0);
        assert!((f.normal_left - 0.5 * G * 1.0).abs() < 1e-14);
        assert!((f.normal_right - 0.5 * G * 0.36).abs() < 1e-14);
    }

    #[test]
    fn uniform_flow_gives_the_physical_flux() {
        let (h, u) = (2.0, 0.7);
        let f = face_flux::<AUDUSSE>(side(h, h * u, 0.0), side(h, h * u, 0.0), G);
        assert!((f.mass - h * u).abs() < 1e-14);
        assert!((f.normal_left - (h * u * u + 0.5 * G * h * h)).abs() < 1e-12);
    }

    #[test]
    fn wall_blocks_mass_and_reflects() {
        let wall = Side {
            active: false,
            ..side(0.0, 0.0, 0.0)
        };
        let f = face_flux::<AUDUSSE>(side(1.0, 0.5, 0.0), wall, G);
        assert_eq!(f.mass, 0.0);
        assert_eq!(f.tangential, 0.0);
        // Flow into the wall raises the pressure above the still-water value.
        assert!(f.normal_left > 0.5 * G);
    }

    #[test]
    fn dry_on_both_sides_gives_no_flux() {
        let f = face_flux::<AUDUSSE>(side(0.0, 0.0, 0.0), side(0.0, 0.0, 1.0), G);
        assert_eq!(f.mass, 0.0);
        assert_eq!(f.normal_left, 0.0);
        assert_eq!(f.normal_right, 0.0);
    }

    #[test]
    fn a_film_with_a_subnormal_velocity_gives_a_finite_flux() {
        // A dry cell above a 2 µm film whose momentum has decayed to 1e-314 (subnormal):
        // the wave speeds are ~1e-309 and must not turn into 1/0.
        let f = face_flux::<AUDUSSE>(
            side(0.0, 0.0, 25.2489),
            side(2.03e-6, 1.08e-314, 25.2031),
            G,
        );
        assert!(f.mass.is_finite() && f.normal_left.is_finite() && f.normal_right.is_finite());
        assert!(f.tangential.is_finite());
    }

    /// The subcell form agrees with Audusse's wherever both surfaces stand above both
    /// beds (here a lake at rest over a step, and a flow over a low step), and gives the
    /// upper cell of a thin flow down a high step the whole fall g·h·(z_L − w_R).
    #[test]
    fn the_subcell_bed_terms() {
        for (l, r) in [
            (side(1.0, 0.0, 0.0), side(0.6, 0.0, 0.4)),
            (side(1.0, 0.3, 0.0), side(0.9, 0.3, 0.05)),
        ] {
            let (a, b) = (face_flux::<AUDUSSE>(l, r, G), face_flux::<SUBCELL>(l, r, G));
            assert_eq!(a.mass, b.mass);
            assert!((a.normal_left - b.normal_left).abs() < 1e-12, "{a:?} {b:?}");
            assert!(
                (a.normal_right - b.normal_right).abs() < 1e-12,
                "{a:?} {b:?}"
            );
        }
        // 5 cm running down a 0.2 m step onto 3 cm: w_R = 0.03 below z_L = 0.2.
        let (l, r) = (side(0.05, 0.02, 0.2), side(0.03, 0.01, 0.0));
        let (a, b) = (face_flux::<AUDUSSE>(l, r, G), face_flux::<SUBCELL>(l, r, G));
        assert_eq!(a.mass, b.mass, "the same face depths");
        // Audusse: no bed force on the upper cell; subcell: g h (z_L − w_R) downhill.
        assert!((b.normal_left - (a.normal_left - G * 0.05 * (0.2 - 0.03))).abs() < 1e-12);
        assert!(
            (b.normal_right - a.normal_right).abs() < 1e-12,
            "the lower cell: g h²/2 both"
        );
    }

    /// The moving-water depth keeps the discharge and the energy head on the cell's side
    /// of critical flow, gives the hydrostatic depth for water at rest (exactly) and for a
    /// choked flow, and is the hydrostatic one where the surface is below the face bed.
    #[test]
    fn the_moving_water_depth() {
        let head = |h: f64, q: f64| q * q / (2.0 * G * h * h) + h;
        // (cell depth, velocity, face bed rise): subcritical and supercritical.
        // Near critical flow (Froude 0.9, 0.99, 1.01, 1.1) the two roots almost merge.
        let near = |fr: f64, dz: f64| (1.0, fr * G.sqrt(), dz);
        for (h, u, dz) in [
            (3.0923, 1.51284, 1.0),
            (2.0, 0.5, 0.3),
            (0.5, 4.0, 0.1),
            near(0.9, 1e-3),
            near(0.99, 1e-5),
            near(1.01, 1e-5),
            near(1.1, 1e-3),
            near(0.99, 1e-14),
        ] {
            let (q, hs) = (h * u, h - dz);
            let (hf, moving) = moving_water_depth(h, u, hs, G);
            assert!(moving);
            // Energy head above the face bed: the cell's, less the rise (Bernoulli).
            let b = head(h, q) - dz;
            assert!((head(hf, q) - b).abs() < 1e-12 * b, "{h} {u}: {hf}");
            let critical = (q * q / G).cbrt();
            assert_eq!(
                u * u < G * h,
                hf > critical,
                "the cell's side of critical flow"
            );
            // Against the closed form of the roots (trigonometric), to the 1e-8 to which
            // a root is defined where the two nearly merge.
            let k = q * q / (2.0 * G);
            let phi = (1.0 - 27.0 * k / (2.0 * b * b * b)).clamp(-1.0, 1.0).acos();
            let sub = b / 3.0 * (1.0 + 2.0 * (phi / 3.0).cos());
            let exact = if u * u < G * h {
                sub
            } else {
                0.5 * ((b - sub) + ((b - sub).powi(2) + 4.0 * k / sub).sqrt())
            };
            assert!(
                (hf - exact).abs() < 1e-8 * exact,
                "{h} {u}: {hf} against {exact}"
            );
        }
        // The dam break over a step (SWASHES): the face depth is the depth beyond it.
        let (hf, _) = moving_water_depth(3.0923, 1.51284, 2.0923, G);
        assert!((hf - 1.8999).abs() < 2e-4, "{hf}");
        // At rest: exactly the hydrostatic depth.
        assert_eq!(moving_water_depth(1.0, 0.0, 0.6, G), (0.6, false));
        // Too little energy to climb (choked): hydrostatic.
        assert_eq!(moving_water_depth(0.3, 1.7, 0.05, G), (0.05, false));
        // Surface below the face bed: hydrostatic (dry face).
        assert_eq!(moving_water_depth(0.2, 1.0, 0.0, G), (0.0, false));
    }

    /// A steady flow over a step (the same discharge, and depths of the same energy head
    /// on both sides) feels no net force with the energy reconstruction: each side's
    /// momentum flux is its own cell's physical flux. Audusse's does not keep it.
    #[test]
    fn a_steady_flow_over_a_step_stays_steady() {
        let (h1, u1, dz) = (3.0923, 1.51284, 1.0);
        let q = h1 * u1;
        let (h2, _) = moving_water_depth(h1, u1, h1 - dz, G);
        let (l, r) = (side(h1, q, 0.0), side(h2, q, dz));
        let flux = |h: f64| q * q / h + 0.5 * G * h * h;
        let f = face_flux::<ENERGY>(l, r, G);
        assert!((f.mass - q).abs() < 1e-12 * q, "{f:?}");
        assert!((f.normal_left - flux(h1)).abs() < 1e-11 * flux(h1), "{f:?}");
        assert!(
            (f.normal_right - flux(h2)).abs() < 1e-11 * flux(h2),
            "{f:?}"
        );
        let a = face_flux::<AUDUSSE>(l, r, G);
        assert!((a.mass - q).abs() > 1e-3 * q, "{a:?}");
        // Mirrored (the step down to the left), the same.
        let f = face_flux::<ENERGY>(side(h2, -q, dz), side(h1, -q, 0.0), G);
        assert!((f.mass + q).abs() < 1e-12 * q, "{f:?}");
        assert!((f.normal_left - flux(h2)).abs() < 1e-11 * flux(h2), "{f:?}");
        assert!(
            (f.normal_right - flux(h1)).abs() < 1e-11 * flux(h1),
            "{f:?}"
        );
    }

    #[test]
    fn water_flows_onto_a_dry_bed_downhill_only() {
        let wet = side(1.0, 0.0, 0.0);
        let dry_low = side(0.0, 0.0, -1.0);
        let dry_high = side(0.0, 0.0, 2.0);
        assert!(face_flux::<AUDUSSE>(wet, dry_low, G).mass > 0.0);
        assert_eq!(face_flux::<AUDUSSE>(wet, dry_high, G).mass, 0.0);
    }
}
