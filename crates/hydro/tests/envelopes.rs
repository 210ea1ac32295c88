//! The envelopes tracked inside the sweep against a plain reference computed here after
//! every step from the solver's state: maximum depth, speed and depth × speed, the highest
//! hazard class, the first time under and the time under, on a dam break spreading over
//! dry, uneven ground (cells going under for the first time, drying, and crossing class
//! limits), under nested ARR classes and under the UK rating. Grid widths that are not a
//! multiple of the sweep's lanes exercise the end of each row.

mod common;

use hydro::{Boundaries, EnvelopeSpec, Grid, HazardRule, Solver, SolverParams, UkRating};
use ndarray::Array2;

fn arr() -> HazardRule {
    common::arr_classes()
}

fn uk() -> HazardRule {
    HazardRule::Uk(UkRating {
        debris_factor: vec![(0.25, 0.0), (0.75, 0.5), (f64::INFINITY, 1.0)],
        class_limits: vec![0.75, 1.25, 2.0],
    })
}

/// A 3 m column of water in one corner of a bumpy, tilted floor, released at t = 0.
fn dam_break(rows: usize, cols: usize) -> Solver {
    let grid = Grid::new(rows, cols, 2.0, 2.0).expect("grid");
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        0.02 * c as f64 + 0.3 * ((r as f64 * 0.7).sin() * (c as f64 * 0.45).cos())
    });
    let n = Array2::from_elem((rows, cols), 0.03);
    let mut s = Solver::new(
        grid,
        bed.view(),
        n.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    let depth = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if r < rows / 3 && c < cols / 3 {
            3.0
        } else {
            0.0
        }
    });
    s.set_depth(depth.view()).expect("depth");
    s
}

#[test]
fn envelopes_equal_a_reference_computed_after_every_step() {
    for (rows, cols) in [(37, 45), (24, 64)] {
        for rule in [arr(), uk()] {
            let spec = EnvelopeSpec {
                wet_depth_m: 0.01,
                hazard: rule.clone(),
            };
            let mut s = dam_break(rows, cols);
            s.track_envelopes(spec.clone()).expect("envelopes");
            let dry = s.params().dry_depth_m;
            let mut md = Array2::<f32>::zeros((rows, cols));
            let mut ms = Array2::<f32>::zeros((rows, cols));
            let mut mdv = Array2::<f32>::zeros((rows, cols));
            let mut mh = Array2::<f32>::zeros((rows, cols));
            let mut first = Array2::from_elem((rows, cols), f32::NAN);
            let mut duration = Array2::<f64>::zeros((rows, cols));
            let (mut went_under, mut dried, mut classes) = (0, 0, [0usize; 8]);
            // The reference folds the state as it is when tracking starts (t = 0, a step
            // of no length), then after every step.
            for step in 0..=400 {
                let was_under = s.depth_m().mapv(|d| d > spec.wet_depth_m);
                let (t, dt) = if step == 0 {
                    (s.sim_time_s(), 0.0)
                } else {
                    let report = s.step(f64::MAX).expect("stable");
                    (report.sim_time_s, report.dt_s)
                };
                let (h, qx, qy) = (s.depth_m(), s.qx_m2_s(), s.qy_m2_s());
                for ((r, c), &d) in h.indexed_iter() {
                    let q = (qx[(r, c)] * qx[(r, c)] + qy[(r, c)] * qy[(r, c)]).sqrt();
                    md[(r, c)] = md[(r, c)].max(d as f32);
                    if d > dry {
                        let v = q / d;
                        ms[(r, c)] = ms[(r, c)].max(v as f32);
                        mdv[(r, c)] = mdv[(r, c)].max(q as f32);
                        if d > spec.wet_depth_m {
                            if first[(r, c)].is_nan() {
                                first[(r, c)] = t as f32;
                                went_under += 1;
                            }
                            duration[(r, c)] += dt;
                            let k = rule.class(d, v);
                            classes[usize::from(k)] += 1;
                            mh[(r, c)] = mh[(r, c)].max(f32::from(k));
                        }
                    }
                    dried += usize::from(was_under[(r, c)] && d <= spec.wet_depth_m);
                }
            }
            let e = s.envelopes().expect("tracked");
            let what = format!("{rows} × {cols}, {rule:?}");
            assert_eq!(e.max_depth_m, md.view(), "max depth, {what}");
            assert_eq!(e.max_speed_m_s, ms.view(), "max speed, {what}");
            assert_eq!(e.max_depth_speed_m2_s, mdv.view(), "max d·v, {what}");
            assert_eq!(e.max_hazard, mh.view(), "hazard, {what}");
            let bits = |a: ndarray::ArrayView2<'_, f32>| a.mapv(f32::to_bits);
            assert_eq!(
                bits(e.first_inundation_s),
                bits(first.view()),
                "first, {what}"
            );
            // The solver adds a spell's length (a difference of two step times) when it
            // ends, the reference every step's dt: each time is itself a sum of the steps
            // before, so the two differ by at most a rounding per step of the run's time.
            let whole = e.duration_inundated_s.to_owned();
            assert!(
                whole
                    .indexed_iter()
                    .all(|(rc, &d)| e.duration_inundated_s.get(rc).to_bits() == d.to_bits()),
                "a cell read alone equals its row's, {what}"
            );
            let t_end = s.sim_time_s();
            let tol = 4.0 * 400.0 * f64::EPSILON * t_end;
            let worst = e
                .duration_inundated_s
                .to_owned()
                .iter()
                .zip(&duration)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= tol,
                "duration off by {worst:e} s (allowed {tol:e}), {what}"
            );
            // and the time under that cells have spent is no rounding away from zero.
            assert!(
                duration.iter().filter(|&&d| d > 0.0).count() > 200,
                "{what}"
            );
            // The case does what it is for: cells go under over time, some dry again, and
            // several classes are reached.
            assert!(went_under > 200, "{went_under} cells went under, {what}");
            assert!(dried > 0, "no cell dried, {what}");
            assert!(
                classes.iter().filter(|&&n| n > 0).count() >= 3,
                "classes reached {classes:?}, {what}"
            );
        }
    }
}
