//! Hot start: a run saved halfway and restored into a solver built from the same inputs
//! continues with exactly the bits of the run that never stopped.

mod common;

use hydro::{
    Boundaries, Breach, BreachTrigger, Edge, EdgeBoundary, EnvelopeSpec, Grid, HazardRule, Losses,
    PointSource, Solver, SolverError, SolverParams, TimeSeries, UkRating,
};
use ndarray::Array2;

const ROWS: usize = 40;
const COLS: usize = 90;

fn series(points: &[(f64, f64)]) -> TimeSeries {
    TimeSeries::new(points.to_vec()).expect("series")
}

/// A valley with a dam across column 45: rain, losses, an inflow hydrograph at the west
/// edge, a point source, a stage boundary at the east edge, a breach triggered by the
/// reservoir level (3.08 m, reached at about 250 s: in the second half), envelopes
/// tracked under the UK rating.
fn solver() -> Solver {
    solver_with(
        HazardRule::Uk(UkRating {
            debris_factor: vec![(0.25, 0.0), (0.75, 0.5), (f64::INFINITY, 1.0)],
            class_limits: vec![0.75, 1.25, 2.0],
        }),
        hydro::Scheme::Fv1,
    )
}

/// The same under nested ARR classes, whose envelopes keep spells under water per chunk
/// of cells (saved as `flooded_since_s`).
fn solver_arr() -> Solver {
    solver_with(arr(), hydro::Scheme::Fv1)
}

fn arr() -> HazardRule {
    common::arr_classes()
}

fn solver_with(hazard: HazardRule, scheme: hydro::Scheme) -> Solver {
    let grid = Grid::new(ROWS, COLS, 5.0, 5.0).expect("grid");
    let bed = Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
        let valley = 0.02 * (COLS - c) as f64 + 0.01 * (r as f64 - 20.0).powi(2);
        if c == 45 { valley + 3.0 } else { valley }
    });
    let n = Array2::from_elem((ROWS, COLS), 0.035);
    let boundaries = Boundaries::walls()
        .with_edge(
            Edge::West,
            EdgeBoundary::Inflow {
                discharge_m3_s: series(&[(0.0, 2.0), (100.0, 30.0), (400.0, 5.0)]),
            },
        )
        .with_edge(
            Edge::East,
            EdgeBoundary::Stage {
                level_m: series(&[(0.0, 0.2), (400.0, 0.6)]),
            },
        );
    let mut s = Solver::new(
        grid,
        bed.view(),
        n.view(),
        None,
        boundaries,
        SolverParams {
            scheme,
            ..SolverParams::default()
        },
    )
    .expect("solver");
    let crest = bed[(20, 45)];
    let depth = Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
        if c < 45 {
            (crest - 1.0 - bed[(r, c)]).max(0.0)
        } else {
            0.0
        }
    });
    s.set_depth(depth.view()).expect("depth");
    s.set_losses(Some(Losses::uniform(ROWS, COLS, 2.0, 10.0, 30.0)))
        .expect("losses");
    s.set_uniform_rain(Some(series(&[(0.0, 40.0), (200.0, 80.0), (400.0, 0.0)])))
        .expect("rain");
    s.add_point_source(PointSource {
        row: 10,
        col: 60,
        discharge_m3_s: series(&[(0.0, 0.5), (400.0, 1.5)]),
    })
    .expect("point source");
    s.add_breach(Breach {
        cells: (15..26).map(|r| (r, 45)).collect(),
        final_bed_m: bed[(20, 44)],
        formation_time_s: 60.0,
        trigger: BreachTrigger::WaterLevel {
            row: 20,
            col: 44,
            level_m: crest - 0.82,
        },
    })
    .expect("breach");
    s.track_envelopes(EnvelopeSpec {
        wet_depth_m: 0.01,
        hazard,
    })
    .expect("envelopes");
    s
}

/// Step to `t`, landing on every multiple of 20 s on the way (an output schedule).
fn run_to(s: &mut Solver, t: f64) {
    while s.sim_time_s() < t {
        let next = ((s.sim_time_s() / 20.0).floor() + 1.0) * 20.0;
        s.step(next.min(t)).expect("step");
    }
}

#[test]
fn two_halves_equal_one_run_bit_for_bit() {
    for (make, spells_expected) in [(solver as fn() -> Solver, false), (solver_arr, true)] {
        two_halves(make, spells_expected);
    }
}

fn two_halves(solver: fn() -> Solver, spells_expected: bool) {
    let (half, end) = (200.0, 400.0);
    let mut whole = solver();
    run_to(&mut whole, end);

    let mut first = solver();
    run_to(&mut first, half);
    let saved = first.state();
    assert!(
        matches!(first.breach_status(0), Some(hydro::BreachStatus::Waiting)),
        "the breach must start in the second half for this test to mean something"
    );
    let spells = saved
        .envelopes
        .as_ref()
        .expect("tracked")
        .flooded_since_s
        .iter()
        .filter(|t| !t.is_nan())
        .count();
    assert_eq!(
        spells > 0,
        spells_expected,
        "cells under water at the split are in spells that go on (ARR), or have every \
         step in their duration (UK): {spells} in spells"
    );
    let mut second = solver();
    second.restore(&saved).expect("restores");
    assert!(
        second.state().same_bits(&saved),
        "restoring keeps every bit"
    );
    run_to(&mut second, end);

    assert!(
        !matches!(whole.breach_status(0), Some(hydro::BreachStatus::Waiting)),
        "the breach started"
    );
    assert_eq!(whole.steps(), second.steps());
    assert_eq!(whole.balance(), second.balance());
    // Bit for bit, NaN included (first inundation of cells never flooded).
    let (a, b) = (whole.state(), second.state());
    let f64_bits = |x: &Array2<f64>| x.mapv(f64::to_bits);
    let f32_bits = |x: &Array2<f32>| x.mapv(f32::to_bits);
    assert_eq!(f64_bits(&a.depth_m), f64_bits(&b.depth_m));
    assert_eq!(f64_bits(&a.qx_m2_s), f64_bits(&b.qx_m2_s));
    assert_eq!(f64_bits(&a.qy_m2_s), f64_bits(&b.qy_m2_s));
    assert_eq!(f64_bits(&a.bed_m), f64_bits(&b.bed_m));
    let inf = |s: &hydro::SolverState| f64_bits(s.infiltrated_m.as_ref().expect("losses"));
    assert_eq!(inf(&a), inf(&b));
    let (ea, eb) = (
        a.envelopes.as_ref().expect("tracked"),
        b.envelopes.as_ref().expect("tracked"),
    );
    assert_eq!(f32_bits(&ea.max_depth_m), f32_bits(&eb.max_depth_m));
    assert_eq!(f32_bits(&ea.max_speed_m_s), f32_bits(&eb.max_speed_m_s));
    assert_eq!(
        f32_bits(&ea.max_depth_speed_m2_s),
        f32_bits(&eb.max_depth_speed_m2_s)
    );
    assert_eq!(f32_bits(&ea.max_hazard), f32_bits(&eb.max_hazard));
    assert_eq!(
        f32_bits(&ea.first_inundation_s),
        f32_bits(&eb.first_inundation_s)
    );
    assert_eq!(
        f64_bits(&ea.duration_inundated_s),
        f64_bits(&eb.duration_inundated_s)
    );
    assert_eq!(f64_bits(&ea.flooded_since_s), f64_bits(&eb.flooded_since_s));
    assert_eq!(
        common::duration_bits(&whole),
        common::duration_bits(&second)
    );
    assert!(a.same_bits(&b));
}

#[test]
fn a_state_that_does_not_fit_is_refused() {
    let mut s = solver();
    run_to(&mut s, 40.0);
    let saved = s.state();

    let mut wrong_grid = saved.clone();
    wrong_grid.depth_m = Array2::zeros((ROWS, COLS + 1));
    assert!(matches!(
        solver().restore(&wrong_grid),
        Err(SolverError::ShapeMismatch { .. })
    ));

    let mut no_breach = saved.clone();
    no_breach.breaches.clear();
    let err = solver().restore(&no_breach).expect_err("refused");
    assert!(
        err.to_string().contains("breaches = 0 but this run has 1"),
        "{err}"
    );

    let mut negative = saved.clone();
    negative.depth_m[(3, 3)] = -1.0;
    assert!(matches!(
        solver().restore(&negative),
        Err(SolverError::InvalidCell { .. })
    ));

    let mut nan_maximum = saved.clone();
    nan_maximum
        .envelopes
        .as_mut()
        .expect("tracked")
        .max_speed_m_s[(2, 5)] = f32::NAN;
    let err = solver().restore(&nan_maximum).expect_err("refused");
    assert!(err.to_string().contains("max_speed_m_s"), "{err}");

    let mut no_losses = saved;
    no_losses.infiltrated_m = None;
    let err = solver().restore(&no_losses).expect_err("refused");
    assert!(
        err.to_string().contains("losses = off but this run has on"),
        "{err}"
    );
}

/// Giving back the step buffers between steps (as a finished run does while its
/// results are written) changes nothing that follows.
#[test]
fn giving_back_the_step_buffers_changes_no_bit() {
    for scheme in [hydro::Scheme::Fv1, hydro::Scheme::Fv2] {
        let make = || solver_with(arr(), scheme);
        let (mut a, mut b) = (make(), make());
        run_to(&mut a, 300.0);
        run_to(&mut b, 100.0);
        b.release_step_buffers();
        run_to(&mut b, 200.0);
        b.release_step_buffers();
        b.release_step_buffers();
        run_to(&mut b, 300.0);
        assert_eq!(a.steps(), b.steps(), "{scheme:?}");
        assert!(a.state().same_bits(&b.state()), "{scheme:?}");
    }
}

/// A state saved with spells under water going on (nested ARR classes) and restored
/// into a solver whose rule keeps none (the UK rating) gives the same durations at the
/// state's time: the spells end there, in the durations.
#[test]
fn spells_a_restore_cannot_keep_end_in_the_durations() {
    let mut arr_run = solver_arr();
    run_to(&mut arr_run, 200.0);
    let saved = arr_run.state();
    let mut uk_run = solver();
    uk_run.restore(&saved).expect("restores");
    assert!(
        arr_run
            .envelopes()
            .expect("tracked")
            .duration_inundated_s
            .to_owned()
            .iter()
            .any(|&d| d > 100.0),
        "cells have been under for a while"
    );
    assert_eq!(
        common::duration_bits(&arr_run),
        common::duration_bits(&uk_run)
    );
}

/// Where water is taken away between steps (here: all of it), the spells going on end
/// at the next step: the time under water stops growing, though no tile holds water.
#[test]
fn a_spell_ends_when_the_water_is_taken_away() {
    let (rows, cols) = (30, 50);
    let grid = Grid::new(rows, cols, 5.0, 5.0).expect("grid");
    let bed = Array2::from_shape_fn((rows, cols), |(_, c)| 0.01 * c as f64);
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
        if (10..20).contains(&r) && c < 20 {
            1.0
        } else {
            0.0
        }
    });
    s.set_depth(depth.view()).expect("depth");
    s.track_envelopes(EnvelopeSpec {
        wet_depth_m: 0.01,
        hazard: arr(),
    })
    .expect("envelopes");
    run_to(&mut s, 60.0);
    let t = s.sim_time_s();
    let before = s
        .envelopes()
        .expect("tracked")
        .duration_inundated_s
        .to_owned();
    assert!(
        before.iter().any(|&d| d > 50.0),
        "cells have been under a while"
    );
    s.set_depth(Array2::zeros((rows, cols)).view())
        .expect("depth");
    run_to(&mut s, 120.0);
    let after = s
        .envelopes()
        .expect("tracked")
        .duration_inundated_s
        .to_owned();
    // Ended at the next step's start, a rounding of the clock away from `t`.
    let worst = before
        .iter()
        .zip(&after)
        .map(|(b, a)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 4.0 * f64::EPSILON * t,
        "durations grew by {worst} s with no water"
    );
}
