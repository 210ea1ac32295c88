//! Curve-number and Green–Ampt infiltration in the solver, against their formulas: the
//! soil of every cell takes P − Q(P) of the rain P it received (SCS), or follows the
//! implicit Green–Ampt equation under ponding; the balance closes; a hot start through the
//! saved state gives the same bits as one run, and a state without the curve number's
//! rain so far is refused.

use hydro::soil::{retention_m, scs_runoff_m};
use hydro::{Boundaries, Grid, LossModel, Losses, Solver, SolverParams, TimeSeries};
use ndarray::Array2;

fn flat_box(rows: usize, cols: usize, dx: f64) -> Solver {
    let bed = Array2::zeros((rows, cols));
    let n = Array2::from_elem((rows, cols), 0.03);
    let mut s = Solver::new(
        Grid {
            rows,
            cols,
            dx_m: dx,
            dy_m: dx,
        },
        bed.view(),
        n.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    s.set_losses(Some(Losses::uniform(rows, cols, 0.0, 0.0, f64::INFINITY)))
        .expect("losses");
    s
}

/// 40 mm/h for 1.5 h (60 mm) on a closed flat box whose curve number rises from 55 to 98
/// across it: water runs from the wetter cells to the drier ones, but each cell's soil
/// takes exactly P − Q(P) of its own 60 mm (to the f32 rounding of the per-step rate).
#[test]
fn each_cell_takes_what_the_curve_number_leaves_of_its_rain() {
    let (rows, cols) = (6, 8);
    let cn = Array2::from_shape_fn((rows, cols), |(_, c)| 55.0 + 43.0 * c as f64 / 7.0);
    let mut s = flat_box(rows, cols, 10.0);
    s.set_uniform_rain(Some(
        TimeSeries::new(vec![(0.0, 40.0), (5400.0, 40.0), (5401.0, 0.0)]).expect("rain"),
    ))
    .expect("rain");
    s.set_loss_model(Some(LossModel::CurveNumber {
        curve_number: cn.clone(),
        ia_ratio: 0.2,
        impervious: None,
    }))
    .expect("model");
    s.advance_to(7200.0).expect("stable");
    // The rain series ramps down over its last second: 60 mm + 0.5 × 40 mm/h × 1 s.
    let p = 0.06 + 0.5 * 40.0 / 3.6e6;
    let infiltrated = s.infiltrated_m().expect("losses on");
    for ((r, c), &f) in infiltrated.indexed_iter() {
        let expected = p - scs_runoff_m(p, retention_m(cn[(r, c)]), 0.2);
        assert!(
            (f - expected).abs() < 1e-8,
            "cell ({r}, {c}), CN {}: {f} m vs {expected} m",
            cn[(r, c)]
        );
    }
    // CN 55 keeps 58.5 mm of the 60 (S 208 mm, Ia 42 mm); CN 98 keeps 5.8 mm (S 5.2 mm).
    assert!(infiltrated[(0, 0)] > 0.058 && infiltrated[(0, 7)] < 0.006);
    let b = s.balance();
    assert!(b.relative_error() < 1e-12, "{b:?}");
    // λ = 0.05 abstracts less at first, so more runs off of 60 mm on CN 75.
    assert!(
        scs_runoff_m(0.06, retention_m(75.0), 0.05) > scs_runoff_m(0.06, retention_m(75.0), 0.2)
    );
}

/// Green–Ampt under ponding: 0.3 m of water on a closed flat box over a loam (K 10 mm/h,
/// ψ 110 mm, Δθ 0.3). After t, every cell's cumulative infiltration F solves
/// F − ψΔθ ln(1 + F/ψΔθ) = K t (solved here by bisection); a second box holding only 5 mm
/// soaks it all up and stands dry.
#[test]
fn ponded_green_ampt_infiltration_follows_the_implicit_equation() {
    let (rows, cols) = (5, 5);
    let (k_mm_h, psi_mm, dtheta) = (10.0, 110.0, 0.3);
    let model = || LossModel::GreenAmpt {
        conductivity_mm_per_h: Array2::from_elem((rows, cols), k_mm_h),
        suction_mm: Array2::from_elem((rows, cols), psi_mm),
        moisture_deficit: Array2::from_elem((rows, cols), dtheta),
    };
    let implicit = |t: f64| {
        let (k, a) = (k_mm_h / 3.6e6, psi_mm * dtheta * 1e-3);
        let g = |f: f64| f - a * (1.0 + f / a).ln() - k * t;
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if g(mid) > 0.0 {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        0.5 * (lo + hi)
    };
    let mut s = flat_box(rows, cols, 10.0);
    s.set_depth(Array2::from_elem((rows, cols), 0.3).view())
        .expect("ponded");
    s.set_loss_model(Some(model())).expect("model");
    for t in [600.0, 3600.0, 4.0 * 3600.0] {
        s.advance_to(t).expect("stable");
        let expected = implicit(t);
        for &f in s.infiltrated_m().expect("losses on") {
            // Within 1 % (the bound); in fact to the f32 rounding of the rate.
            assert!(
                (f - expected).abs() < 1e-6 * expected.max(1e-3),
                "t {t}: {f} vs {expected}"
            );
        }
    }
    assert!(s.balance().relative_error() < 1e-12);

    let mut thin = flat_box(rows, cols, 10.0);
    thin.set_depth(Array2::from_elem((rows, cols), 0.005).view())
        .expect("film");
    thin.set_loss_model(Some(model())).expect("model");
    thin.advance_to(3600.0).expect("stable");
    for &f in thin.infiltrated_m().expect("losses on") {
        assert!((f - 0.005).abs() < 1e-12, "{f}");
    }
    assert!(thin.depth_m().iter().all(|&h| h == 0.0));
}

/// Saved and restored half-way, a curve-number run ends on the same bits as one run.
#[test]
fn a_hot_start_keeps_the_curve_numbers_rain_so_far() {
    let (rows, cols) = (4, 6);
    let make = || {
        let mut s = flat_box(rows, cols, 10.0);
        s.set_uniform_rain(Some(
            TimeSeries::new(vec![(0.0, 0.0), (1800.0, 60.0), (3600.0, 0.0)]).expect("rain"),
        ))
        .expect("rain");
        s.set_loss_model(Some(LossModel::CurveNumber {
            curve_number: Array2::from_shape_fn((rows, cols), |(r, _)| 70.0 + 5.0 * r as f64),
            ia_ratio: 0.2,
            impervious: None,
        }))
        .expect("model");
        s
    };
    let mut whole = make();
    whole.advance_to(3600.0).expect("stable");
    let mut first = make();
    first.advance_to(1500.0).expect("stable");
    let saved = first.state();
    assert!(saved.soil_rain_m.is_some());
    let mut second = make();
    second.restore(&saved).expect("restored");
    second.advance_to(3600.0).expect("stable");
    assert!(second.state().same_bits(&whole.state()));
    // A state without the rain so far would start the curve over: refused, by name.
    let mut forgetful = make();
    let mut state = saved.clone();
    state.soil_rain_m = None;
    let e = forgetful.restore(&state).expect_err("refused").to_string();
    assert!(e.contains("soil_rain_m"), "{e}");
}

#[test]
fn bad_soil_parameters_are_refused() {
    let mut s = flat_box(3, 3, 10.0);
    let e = s
        .set_loss_model(Some(LossModel::CurveNumber {
            curve_number: Array2::from_elem((3, 3), 120.0),
            ia_ratio: 0.2,
            impervious: None,
        }))
        .expect_err("CN 120")
        .to_string();
    assert!(e.contains("curve_number"), "{e}");
    let e = s
        .set_loss_model(Some(LossModel::GreenAmpt {
            conductivity_mm_per_h: Array2::from_elem((3, 3), -1.0),
            suction_mm: Array2::from_elem((3, 3), 100.0),
            moisture_deficit: Array2::from_elem((3, 3), 0.3),
        }))
        .expect_err("negative K")
        .to_string();
    assert!(e.contains("conductivity_mm_per_h"), "{e}");
}
