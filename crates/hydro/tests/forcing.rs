//! Forcing: rain, losses, inflow and stage hydrographs, breaches, point sources, and the
//! water balance that must close over all of them.

mod common;

use common::{Swashes, relative_l1};
use hydro::{
    Boundaries, Breach, BreachStatus, BreachTrigger, Edge, EdgeBoundary, Grid, Losses, PointSource,
    Solver, SolverError, SolverParams, TimeSeries,
};
use ndarray::Array2;

fn series(points: &[(f64, f64)]) -> TimeSeries {
    TimeSeries::new(points.to_vec()).expect("valid series")
}

fn solver(bed: &Array2<f64>, dx: f64, n: f64, boundaries: Boundaries) -> Solver {
    let (rows, cols) = bed.dim();
    let grid = Grid::new(rows, cols, dx, dx).expect("grid");
    let manning = Array2::from_elem((rows, cols), n);
    Solver::new(
        grid,
        bed.view(),
        manning.view(),
        None,
        boundaries,
        SolverParams::default(),
    )
    .expect("solver")
}

// ---------------------------------------------------------------- rain

/// A plane tilted 1 % towards a free east edge under 50 mm/h: the outflow settles at
/// rain × area. The kinematic time of concentration for 500 m at n = 0.035 is about
/// 30 min; after 2 h the outflow must be within 1 % of steady. The balance error must
/// stay below 1e-6 at every step.
#[test]
fn tilted_plane_under_rain_drains_rain_times_area() {
    let (rows, cols, dx) = (20, 50, 10.0);
    let bed = Array2::from_shape_fn((rows, cols), |(_, c)| 0.01 * dx * (cols - c) as f64);
    let mut s = solver(
        &bed,
        dx,
        0.035,
        Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow),
    );
    let rain_mm_h = 50.0;
    s.set_uniform_rain(Some(series(&[(0.0, rain_mm_h)])))
        .expect("rain");
    let mut worst_balance: f64 = 0.0;
    while s.sim_time_s() < 6900.0 {
        s.step(6900.0).expect("stable");
        worst_balance = worst_balance.max(s.balance().relative_error());
    }
    let out_before = s.balance().boundary_outflow_m3;
    while s.sim_time_s() < 7200.0 {
        s.step(7200.0).expect("stable");
        worst_balance = worst_balance.max(s.balance().relative_error());
    }
    let outflow_m3_s = (s.balance().boundary_outflow_m3 - out_before) / 300.0;
    let expected = rain_mm_h / 3.6e6 * (rows * cols) as f64 * dx * dx;
    let rel = (outflow_m3_s - expected).abs() / expected;
    eprintln!(
        "tilted plane: outflow {outflow_m3_s:.5} m³/s, rain × area {expected:.5} m³/s, off by {rel:.2e}; worst balance error {worst_balance:.2e}"
    );
    assert!(rel < 0.01, "outflow off by {rel:.4}");
    assert!(worst_balance < 1e-6, "balance error {worst_balance:e}");
    let b = s.balance();
    assert!(
        (b.rain_m3 - expected * 7200.0).abs() < 1e-9 * b.rain_m3,
        "rain volume {b:?}"
    );
}

/// 1 mm/h on a 10 m deep lake for 1 h adds 1 mm. The 72 000 steps each add ~1.4e-8 m to
/// 10 m: stored in f32 these increments would be lost to rounding (f32 resolves 1e-6 m
/// at 10 m). In f64 the accumulated rounding is below 1e-11 m.
#[test]
fn light_rain_on_a_deep_lake_adds_exactly_its_depth() {
    let n = 6;
    let bed = Array2::zeros((n, n));
    let mut s = solver(&bed, 1.0, 0.0, Boundaries::walls());
    s.set_depth(Array2::from_elem((n, n), 10.0).view())
        .expect("state");
    s.set_uniform_rain(Some(series(&[(0.0, 1.0)])))
        .expect("rain");
    let steps = s.advance_to(3600.0).expect("stable");
    assert!(
        steps > 50_000,
        "the test needs many small steps, took {steps}"
    );
    for &h in s.depth_m() {
        assert!((h - 10.001).abs() < 1e-10, "depth {h:.15} m");
    }
    assert!(s.balance().relative_error() < 1e-13);
}

/// Gridded rain (a radar frame) on half of a lake, replaced half-way by a stronger frame:
/// exactly the volume of both frames arrives, only where it rains.
#[test]
fn gridded_rain_adds_its_volume_where_it_falls() {
    let (rows, cols) = (8, 10);
    let bed = Array2::zeros((rows, cols));
    let mut s = solver(&bed, 2.0, 0.03, Boundaries::walls());
    s.set_depth(Array2::from_elem((rows, cols), 1.0).view())
        .expect("state");
    let frame = |mm_h: f64| {
        Array2::from_shape_fn((rows, cols), |(_, c)| if c < cols / 2 { mm_h } else { 0.0 })
    };
    s.set_rain_grid(Some(frame(36.0).view())).expect("frame 1");
    s.advance_to(600.0).expect("stable");
    s.set_rain_grid(Some(frame(72.0).view())).expect("frame 2");
    s.advance_to(1200.0).expect("stable");
    let raining_area = (rows * cols / 2) as f64 * 4.0;
    let expected = raining_area * (36.0 + 72.0) / 3.6e6 * 600.0;
    let b = s.balance();
    assert!(
        (b.rain_m3 - expected).abs() < 1e-12 * expected,
        "{} vs {expected}",
        b.rain_m3
    );
    assert!(b.relative_error() < 1e-12);
    let bad = Array2::from_elem((rows, cols), -1.0);
    assert!(matches!(
        s.set_rain_grid(Some(bad.view())),
        Err(SolverError::InvalidCell {
            field: "rain_mm_per_h",
            ..
        })
    ));
}

// ---------------------------------------------------------------- losses

/// 20 mm/h for 1 h on a closed flat box with IL 5 mm, CL 3 mm/h: the initial loss is met
/// after 15 min, then 3 mm/h soak in while water stands (it always does here), so by
/// t = 2 h the soil holds 5 + 3 × 1.75 = 10.25 mm. The scheme starts the continuing loss
/// at the start of the step in which the initial loss fills, so it may run ahead by one
/// step of continuing loss (3 mm/h × 10 s max step).
#[test]
fn initial_and_continuing_loss_match_the_analytic_volume() {
    let (rows, cols, dx) = (4, 5, 10.0);
    let area = (rows * cols) as f64 * dx * dx;
    let run = |capacity_mm: f64| {
        let bed = Array2::zeros((rows, cols));
        let mut s = solver(&bed, dx, 0.03, Boundaries::walls());
        s.set_uniform_rain(Some(series(&[(0.0, 20.0), (3600.0, 20.0), (3601.0, 0.0)])))
            .expect("rain");
        s.set_losses(Some(Losses::uniform(rows, cols, 5.0, 3.0, capacity_mm)))
            .expect("losses");
        s.advance_to(7200.0).expect("stable");
        s
    };
    let s = run(f64::INFINITY);
    let b = s.balance();
    let expected_m = 0.01025;
    let one_step_m = 3.0 / 3.6e6 * 10.0;
    let infiltrated_m = b.infiltration_m3 / area;
    eprintln!(
        "IL/CL: infiltrated {:.6} mm, analytic {:.6} mm",
        infiltrated_m * 1e3,
        expected_m * 1e3
    );
    assert!(
        (infiltrated_m - expected_m).abs() <= one_step_m,
        "{infiltrated_m} m"
    );
    // Never behind the analytic value (up to the f32 rounding of the stored parameters).
    assert!(infiltrated_m >= expected_m - 1e-9);
    for &v in s.infiltrated_m().expect("losses on") {
        assert!(
            (v - infiltrated_m).abs() < 1e-12,
            "uniform case, every cell the same"
        );
    }
    assert!(b.relative_error() < 1e-12, "{b:?}");

    // With a soil capacity of 8 mm the soil takes 8 mm (to the f32 rounding of the stored
    // capacity: 8 mm × 6e-8 ≈ 5e-10 m).
    let capped = run(8.0).balance();
    assert!(
        (capped.infiltration_m3 / area - 0.008).abs() < 1e-9,
        "{capped:?}"
    );
    assert!(capped.relative_error() < 1e-12);
}

/// Thin films that the initial and continuing loss empty in one step: the loss must never
/// take more than the cell holds (`initial + (h − initial)` can round one ulp above h),
/// or the depth would go negative and the run stop with a false blow-up. A first film
/// fills part of each cell's initial loss, so that what is left of it has all its bits;
/// then a second film is emptied by the rest of the initial loss plus the continuing
/// loss. Random cases, seeded: some of them hit the rounding.
#[test]
fn losses_that_empty_a_thin_film_leave_it_exactly_dry() {
    let n = 100;
    let mut rng = common::Rng::new(42);
    let bed = Array2::zeros((n, n));
    let params = SolverParams {
        max_dt_s: 2.0,
        ..SolverParams::default()
    };
    let grid = Grid::new(n, n, 50.0, 50.0).expect("grid");
    let mut s = Solver::new(
        grid,
        bed.view(),
        Array2::zeros((n, n)).view(),
        None,
        Boundaries::walls(),
        params,
    )
    .expect("solver");
    let mut losses = Losses::uniform(n, n, 0.0, 40.0, f64::INFINITY);
    for v in losses.initial_mm.iter_mut() {
        *v = rng.uniform(0.01, 0.02);
    }
    s.set_losses(Some(losses)).expect("losses");
    let first = Array2::from_shape_fn((n, n), |_| rng.uniform(1.1e-6, 9e-6));
    s.set_depth(first.view()).expect("state");
    s.step(f64::MAX).expect("first film soaks in");
    let second = Array2::from_shape_fn((n, n), |_| rng.uniform(1.5e-5, 3e-5));
    s.set_depth(second.view()).expect("state");
    for _ in 0..5 {
        s.step(f64::MAX).expect("no false blow-up");
    }
    assert!(
        s.depth_m().iter().all(|&h| h == 0.0),
        "every film soaked away"
    );
    assert!(s.balance().relative_error() < 1e-12, "{:?}", s.balance());
}

#[test]
fn negative_losses_are_refused() {
    let bed = Array2::zeros((3, 3));
    let mut s = solver(&bed, 1.0, 0.03, Boundaries::walls());
    let mut l = Losses::uniform(3, 3, 5.0, 3.0, f64::INFINITY);
    l.continuing_mm_per_h[(1, 2)] = -1.0;
    let e = s.set_losses(Some(l)).expect_err("negative loss");
    assert!(
        matches!(
            e,
            SolverError::InvalidCell {
                field: "continuing_mm_per_h",
                row: 1,
                col: 2,
                ..
            }
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------- inflow hydrographs

/// A constant inflow into a dry, flat, frictionless channel enters at critical depth
/// h_c = (q²/g)^⅓ and spreads as a rarefaction against the dry bed whose contour of depth
/// d moves at 3√(g h_c) − 3√(g d) (Riemann problem against a dry bed). The flood-relevant
/// contours are checked: 5 cm within 3 % and 1 cm within 5 %. (The film ahead of them
/// lags more: at 1 mm about 9 % after 40 s at 1 m cells, a known trait of first-order
/// wet/dry fronts.)
#[test]
fn inflow_front_into_a_dry_channel_moves_at_the_expected_speed() {
    let (cells, dx, q) = (600, 1.0, 1.0);
    let bed = Array2::zeros((1, cells));
    let inflow = EdgeBoundary::Inflow {
        discharge_m3_s: series(&[(0.0, q * dx)]),
    };
    let mut s = solver(
        &bed,
        dx,
        0.0,
        Boundaries::walls().with_edge(Edge::West, inflow),
    );
    let t = 40.0;
    s.advance_to(t).expect("stable");
    let g = 9.81;
    let c_c = (g * (q * q / g).cbrt()).sqrt();
    for (contour_m, tolerance) in [(0.05, 0.03), (0.01, 0.05)] {
        let exact = (3.0 * c_c - 3.0 * (g * contour_m).sqrt()) * t;
        let front = s
            .depth_m()
            .row(0)
            .iter()
            .rposition(|&h| h > contour_m)
            .expect("wet") as f64
            * dx
            + 0.5 * dx;
        let rel = (front - exact).abs() / exact;
        eprintln!(
            "inflow front: {contour_m} m contour at {front:.1} m after {t} s, exact {exact:.1} m ({rel:.2e})"
        );
        assert!(
            rel < tolerance,
            "{contour_m} m contour at {front} m, expected {exact} m"
        );
    }
    let b = s.balance();
    assert!((b.boundary_inflow_m3 - q * dx * t).abs() < 1e-9, "{b:?}");
    assert!(b.relative_error() < 1e-12);
}

/// A triangular flood hydrograph (peak 5 m³/s at 10 min, over at 30 min, 4500 m³) down a
/// 1 km channel with Manning friction and a normal-depth outlet: exactly its volume
/// enters, the balance closes, and after 6 h (the recession of a thin film on a 0.1 %
/// slope is slow) nearly all of it has left at the outlet.
#[test]
fn flood_hydrograph_volume_passes_through_a_channel() {
    let (cells, dx) = (200, 5.0);
    let bed = Array2::from_shape_fn((1, cells), |(_, c)| 0.001 * dx * (cells - c) as f64);
    let hydrograph = series(&[(0.0, 0.0), (600.0, 5.0), (1800.0, 0.0)]);
    let volume_in = hydrograph.integral(0.0, 1800.0);
    let boundaries = Boundaries::walls()
        .with_edge(
            Edge::West,
            EdgeBoundary::Inflow {
                discharge_m3_s: hydrograph,
            },
        )
        .with_edge(Edge::East, EdgeBoundary::NormalDepth { slope: 0.001 });
    let mut s = solver(&bed, dx, 0.03, boundaries);
    s.advance_to(6.0 * 3600.0).expect("stable");
    let b = s.balance();
    eprintln!(
        "hydrograph: in {:.3} m³ (exact {volume_in}), out {:.3} m³, left on the grid {:.3} m³",
        b.boundary_inflow_m3, b.boundary_outflow_m3, b.storage_m3
    );
    assert!((b.boundary_inflow_m3 - volume_in).abs() < 1e-9 * volume_in);
    assert!(b.relative_error() < 1e-12, "{b:?}");
    assert!(b.boundary_outflow_m3 > 0.95 * volume_in, "{b:?}");
}

/// An inflow segment on part of a wide edge puts its water only there, shared by
/// conveyance, and reaches a dry edge through its lowest cells.
#[test]
fn inflow_segment_enters_through_its_own_cells_only() {
    let (rows, cols) = (30, 10);
    // A channel along the west edge rows 10..=14, 1 m lower than the banks.
    let bed = Array2::from_shape_fn(
        (rows, cols),
        |(r, _)| if (10..=14).contains(&r) { 0.0 } else { 1.0 },
    );
    let inflow = EdgeBoundary::Inflow {
        discharge_m3_s: series(&[(0.0, 2.0)]),
    };
    let mut s = solver(
        &bed,
        2.0,
        0.03,
        Boundaries::walls().with_segment(Edge::West, 5, 19, inflow),
    );
    s.advance_to(30.0).expect("stable");
    let h = s.depth_m();
    for r in 0..rows {
        if !(10..=14).contains(&r) {
            assert_eq!(h[(r, 0)], 0.0, "bank row {r} took water at the edge");
        }
    }
    assert!((10..=14).all(|r| h[(r, 0)] > 0.01));
    assert!((s.balance().boundary_inflow_m3 - 60.0).abs() < 1e-9);
}

/// A dry basin behind a stage boundary fills until it is level with the stage.
#[test]
fn stage_boundary_fills_a_basin_to_its_level() {
    let (rows, cols, dx) = (12, 12, 5.0);
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        0.3 * ((r as f64 * 0.7).sin() + (c as f64 * 0.4).cos()).abs()
    });
    let stage = EdgeBoundary::Stage {
        level_m: series(&[(0.0, 0.0), (300.0, 1.0)]),
    };
    let mut s = solver(
        &bed,
        dx,
        0.03,
        Boundaries::walls().with_segment(Edge::West, 3, 8, stage),
    );
    s.advance_to(3600.0).expect("stable");
    let mut worst: f64 = 0.0;
    for ((r, c), &h) in s.depth_m().indexed_iter() {
        worst = worst.max((h + bed[(r, c)] - 1.0).abs());
    }
    eprintln!("stage fill: worst |level − stage| = {worst:.2e} m");
    assert!(worst < 2e-3, "level off by {worst} m");
    assert!(s.balance().relative_error() < 1e-12);
}

/// MacDonald's long channel with rain (SWASHES 1 2 4 2): q = 1 m²/s upstream, 0.001 m²/s
/// of rain per metre (3600 mm/h) making q = 2 m²/s at the outlet, fixed depth
/// downstream; steady state within 2 % (relative L1 of depth, as for the channel without
/// rain). Near the outlet the flow is nearly critical (Fr = 0.986), where first order
/// forms a few-cell boundary layer (see the MacDonald test without rain).
#[test]
fn macdonald_long_channel_with_rain_steady_state() {
    let reference = Swashes::load("1d_macdonald_long_rain_sub_manning.dat");
    let (h_ref, z, q_ref) = (
        &reference.columns[1],
        &reference.columns[3],
        &reference.columns[4],
    );
    let dx = reference.param("Space step:");
    let h_out = reference.param("Imposed water height on the right boundary:");
    let n = reference.param("Manning's friction coefficient:");
    let q_in = 1.0;
    let rain_m_s = (q_ref[q_ref.len() - 1] - q_ref[0]) / ((q_ref.len() - 1) as f64 * dx);
    let bed = Array2::from_shape_vec((1, z.len()), z.clone()).expect("shape");
    let boundaries = Boundaries::walls()
        .with_edge(Edge::West, EdgeBoundary::UnitDischarge { q_m2_s: q_in })
        .with_edge(Edge::East, EdgeBoundary::FixedDepth { depth_m: h_out });
    let mut s = solver(&bed, dx, n, boundaries);
    s.set_uniform_rain(Some(series(&[(0.0, rain_m_s * 3.6e6)])))
        .expect("rain");
    s.advance_to(4000.0).expect("stable");
    let h: Vec<f64> = s.depth_m().iter().copied().collect();
    let l1 = relative_l1(&h, h_ref);
    let dev: Vec<f64> = h
        .iter()
        .zip(h_ref)
        .map(|(a, b)| ((a - b) / b).abs())
        .collect();
    let max_inside = dev[..dev.len() - 5].iter().copied().fold(0.0, f64::max);
    eprintln!(
        "MacDonald with rain: L1 rel {l1:.3e}, max before the last 5 cells {max_inside:.3e}, outlet cell {:.3e}",
        dev[dev.len() - 1]
    );
    assert!(l1 < 0.02, "depth off by {l1:.4} (L1)");
    assert!(max_inside < 0.02, "depth off by {max_inside:.4} inside");
    assert!(s.balance().relative_error() < 1e-12);
}

// ---------------------------------------------------------------- point sources

#[test]
fn point_source_and_sink_move_exactly_their_volume() {
    let n = 9;
    let bed = Array2::zeros((n, n));
    let mut s = solver(&bed, 2.0, 0.03, Boundaries::walls());
    s.set_depth(Array2::from_elem((n, n), 0.2).view())
        .expect("state");
    let spring = s
        .add_point_source(PointSource {
            row: 2,
            col: 2,
            discharge_m3_s: series(&[(0.0, 0.0), (100.0, 0.5)]),
        })
        .expect("inside");
    assert_eq!(spring, 0);
    // A pump far bigger than the water it can reach: it takes what is there, no more.
    s.add_point_source(PointSource {
        row: 6,
        col: 6,
        discharge_m3_s: series(&[(0.0, -50.0)]),
    })
    .expect("inside");
    s.advance_to(200.0).expect("stable");
    let b = s.balance();
    assert!((b.point_inflow_m3 - (25.0 + 50.0)).abs() < 1e-9, "{b:?}");
    assert!(b.point_outflow_m3 > 0.0 && b.point_outflow_m3 < 0.2 * 81.0 * 4.0 + 75.0);
    assert!(b.relative_error() < 1e-12, "{b:?}");
    assert!(s.depth_m().iter().all(|&h| h >= 0.0));
    let off = s.add_point_source(PointSource {
        row: 9,
        col: 0,
        discharge_m3_s: series(&[(0.0, 1.0)]),
    });
    assert!(matches!(off, Err(SolverError::OutsideGrid { .. })));
}

/// The live inflow factor scales boundary hydrographs and springs, not sinks: after
/// doubling half-way through, the inflow is exactly 1 × the first half + 2 × the second.
#[test]
fn inflow_scale_multiplies_hydrographs_and_springs_only() {
    let (cells, dx) = (100, 5.0);
    let bed = Array2::from_shape_fn((1, cells), |(_, c)| 0.001 * dx * (cells - c) as f64);
    let hydrograph = series(&[(0.0, 1.0), (600.0, 3.0)]);
    let boundaries = Boundaries::walls()
        .with_edge(
            Edge::West,
            EdgeBoundary::Inflow {
                discharge_m3_s: hydrograph.clone(),
            },
        )
        .with_edge(Edge::East, EdgeBoundary::NormalDepth { slope: 0.001 });
    let mut s = solver(&bed, dx, 0.03, boundaries);
    s.add_point_source(PointSource {
        row: 0,
        col: 50,
        discharge_m3_s: series(&[(0.0, 0.25)]),
    })
    .expect("inside");
    s.add_point_source(PointSource {
        row: 0,
        col: 80,
        discharge_m3_s: series(&[(0.0, -0.01)]),
    })
    .expect("inside");
    s.advance_to(300.0).expect("stable");
    let before = s.balance();
    s.set_inflow_scale(2.0).expect("valid factor");
    assert_eq!(s.inflow_scale(), 2.0);
    s.advance_to(600.0).expect("stable");
    let b = s.balance();
    let expected_boundary =
        hydrograph.integral(0.0, 300.0) + 2.0 * hydrograph.integral(300.0, 600.0);
    assert!(
        (b.boundary_inflow_m3 - expected_boundary).abs() < 1e-9 * expected_boundary,
        "{b:?}"
    );
    let expected_spring = 0.25 * 300.0 + 2.0 * 0.25 * 300.0;
    assert!((b.point_inflow_m3 - expected_spring).abs() < 1e-9, "{b:?}");
    // The sink is not scaled: it keeps taking 0.01 m³/s once water reaches it.
    assert!(b.point_outflow_m3 - before.point_outflow_m3 <= 0.01 * 300.0 + 1e-9);
    assert!(b.relative_error() < 1e-12, "{b:?}");
    for bad in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            s.set_inflow_scale(bad),
            Err(SolverError::InvalidParameter { .. })
        ));
    }
}

/// Rougher ground holds more water on a plane under rain (slower runoff), and a
/// negative n on an active cell is refused, naming the cell.
#[test]
fn manning_can_be_changed_during_a_run() {
    let (rows, cols, dx) = (10, 40, 10.0);
    let bed = Array2::from_shape_fn((rows, cols), |(_, c)| 0.01 * dx * (cols - c) as f64);
    let boundaries = Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow);
    let run = |n_after: f64| {
        let mut s = solver(&bed, dx, 0.03, boundaries.clone());
        s.set_uniform_rain(Some(series(&[(0.0, 50.0)])))
            .expect("rain");
        s.advance_to(600.0).expect("stable");
        s.set_manning_n(Array2::from_elem((rows, cols), n_after).view())
            .expect("valid n");
        s.advance_to(1800.0).expect("stable");
        assert!(s.balance().relative_error() < 1e-12);
        s.balance().storage_m3
    };
    let (smooth, rough) = (run(0.03), run(0.12));
    assert!(rough > 1.2 * smooth, "storage {rough} vs {smooth}");
    let mut s = solver(&bed, dx, 0.03, boundaries.clone());
    let mut n = Array2::from_elem((rows, cols), 0.03);
    n[(3, 7)] = -0.1;
    match s.set_manning_n(n.view()) {
        Err(SolverError::InvalidCell {
            field, row, col, ..
        }) => assert_eq!((field, row, col), ("manning_n", 3, 7)),
        other => panic!("expected InvalidCell, got {other:?}"),
    }
}

// ---------------------------------------------------------------- breaches

/// A valley falling 0.5 % to the east, closed by a 15 m dam across column 20 with a full
/// reservoir behind it (level 1 m below the crest), a free outlet at the east edge.
fn dam_and_reservoir(trigger: BreachTrigger) -> (Solver, Array2<f64>) {
    let (rows, cols, dx) = (30, 60, 10.0);
    let valley =
        |r: usize, c: usize| 0.005 * dx * (cols - c) as f64 + 0.02 * (r as f64 - 15.0).powi(2);
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if c == 20 {
            valley(r, c) + 15.0
        } else {
            valley(r, c)
        }
    });
    let crest = valley(15, 20) + 15.0;
    let mut s = solver(
        &bed,
        dx,
        0.035,
        Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow),
    );
    let depth = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if c < 20 {
            (crest - 1.0 - bed[(r, c)]).max(0.0)
        } else {
            0.0
        }
    });
    s.set_depth(depth.view()).expect("state");
    let breach = Breach {
        cells: (12..=18).map(|r| (r, 20)).collect(),
        final_bed_m: valley(15, 20),
        formation_time_s: 120.0,
        trigger,
    };
    assert_eq!(s.add_breach(breach).expect("inside"), 0);
    (s, bed)
}

#[test]
fn untriggered_breach_keeps_the_reservoir_at_rest() {
    let (mut s, _) = dam_and_reservoir(BreachTrigger::Manual);
    s.advance_to(600.0).expect("stable");
    assert_eq!(s.breach_status(0), Some(BreachStatus::Waiting));
    let downstream_dry = s
        .depth_m()
        .indexed_iter()
        .all(|((_, c), &h)| c <= 20 || h == 0.0);
    assert!(downstream_dry, "water crossed the dam");
    assert!(
        s.summary().max_speed_m_s < 1e-8,
        "reservoir moved: {}",
        s.summary().max_speed_m_s
    );
}

#[test]
fn breach_drains_the_reservoir_and_the_balance_closes() {
    let (mut s, bed) = dam_and_reservoir(BreachTrigger::AtTime { time_s: 60.0 });
    let stored = s.balance().storage_m3;
    s.advance_to(120.0).expect("stable");
    match s.breach_status(0) {
        Some(BreachStatus::Forming {
            started_s,
            fraction,
        }) => {
            assert_eq!(started_s, 60.0);
            assert!((fraction - 0.5).abs() < 0.05, "fraction {fraction}");
        }
        other => panic!("breach should be forming: {other:?}"),
    }
    s.advance_to(1800.0).expect("stable");
    assert!(matches!(
        s.breach_status(0),
        Some(BreachStatus::Complete { started_s: 60.0 })
    ));
    let final_bed = s.bed_m()[(15, 20)];
    assert!(
        (final_bed - (bed[(15, 20)] - 15.0)).abs() < 1e-9,
        "breach bed {final_bed}"
    );
    assert_eq!(
        s.bed_m()[(5, 20)],
        bed[(5, 20)],
        "dam outside the breach untouched"
    );
    let b = s.balance();
    eprintln!(
        "breach: reservoir {stored:.0} m³, left through the outlet {:.0} m³, on the grid {:.0} m³, error {:.1e}",
        b.boundary_outflow_m3,
        b.storage_m3,
        b.relative_error()
    );
    assert!(b.relative_error() < 1e-12, "{b:?}");
    assert!(
        b.boundary_outflow_m3 > 0.1 * stored,
        "the flood reached the outlet"
    );
    assert!(s.depth_m()[(15, 40)] > 0.0);
}

#[test]
fn breach_triggered_by_water_level() {
    // The level at a reservoir cell is already above the trigger level: it fires on the
    // first step; one above the reservoir level never fires.
    let (mut s, _) = dam_and_reservoir(BreachTrigger::WaterLevel {
        row: 15,
        col: 10,
        level_m: 0.0,
    });
    s.step(f64::MAX).expect("stable");
    assert!(matches!(
        s.breach_status(0),
        Some(BreachStatus::Forming { .. } | BreachStatus::Complete { .. })
    ));
    let (mut never, _) = dam_and_reservoir(BreachTrigger::WaterLevel {
        row: 15,
        col: 10,
        level_m: 1e4,
    });
    never.advance_to(100.0).expect("stable");
    assert_eq!(never.breach_status(0), Some(BreachStatus::Waiting));
}

#[test]
fn breaches_outside_the_grid_and_bad_forcing_are_refused() {
    let (mut s, _) = dam_and_reservoir(BreachTrigger::Manual);
    let outside = Breach {
        cells: vec![(3, 3), (30, 3)],
        final_bed_m: 0.0,
        formation_time_s: 10.0,
        trigger: BreachTrigger::Manual,
    };
    let e = s.add_breach(outside).expect_err("outside");
    assert!(e.to_string().contains("row 30, column 3"), "{e}");
    let negative_time = Breach {
        cells: vec![(3, 3)],
        final_bed_m: 0.0,
        formation_time_s: -1.0,
        trigger: BreachTrigger::Manual,
    };
    assert!(matches!(
        s.add_breach(negative_time),
        Err(SolverError::InvalidParameter {
            name: "formation_time_s",
            ..
        })
    ));
    let e = s
        .set_uniform_rain(Some(series(&[(0.0, 5.0), (60.0, -1.0)])))
        .expect_err("negative rain");
    assert!(e.to_string().contains("rain_mm_per_h"), "{e}");
    assert!(s.trigger_breach(7).is_err());

    let bed = Array2::zeros((5, 5));
    let grid = Grid::new(5, 5, 1.0, 1.0).expect("grid");
    let off_edge = Boundaries::walls().with_segment(Edge::North, 3, 7, EdgeBoundary::FreeOutflow);
    let e = Solver::new(
        grid,
        bed.view(),
        bed.view(),
        None,
        off_edge,
        SolverParams::default(),
    )
    .expect_err("segment");
    assert!(matches!(e, SolverError::OutsideGrid { .. }), "{e}");
    let negative_q = EdgeBoundary::Inflow {
        discharge_m3_s: series(&[(0.0, 1.0), (10.0, -3.0)]),
    };
    let e = Solver::new(
        grid,
        bed.view(),
        bed.view(),
        None,
        Boundaries::walls().with_edge(Edge::West, negative_q),
        SolverParams::default(),
    )
    .expect_err("negative inflow");
    assert!(e.to_string().contains("discharge_m3_s"), "{e}");
}

/// A spring that starts on flat dry ground: the first step (dt at the cap, the domain
/// dry) leaves a single wet column among dry cells, which drains through four faces at
/// the dry-front speed 2√(gh). The step after must account for that, or the column goes
/// negative (it did: a blow-up at step 2).
#[test]
fn a_spring_on_flat_dry_ground_does_not_blow_up() {
    let bed = Array2::zeros((21, 21));
    let mut s = solver(&bed, 2.0, 0.03, Boundaries::walls());
    s.add_point_source(PointSource {
        row: 10,
        col: 10,
        discharge_m3_s: series(&[(0.0, 5.0)]),
    })
    .expect("source");
    s.advance_to(30.0).expect("no blow-up");
    let b = s.balance();
    assert!(
        (b.point_inflow_m3 - 150.0).abs() < 1e-9,
        "inflow {}",
        b.point_inflow_m3
    );
    assert!(
        b.relative_error() < 1e-12,
        "balance error {}",
        b.relative_error()
    );
    assert!(s.depth_m().iter().all(|&h| h >= 0.0));
}

/// A column of water standing alone on flat dry ground as the initial state (a single-cell
/// puddle in an initial-depth raster) spreads through four faces at the dry-front speed 2c
/// in the first step, which the usual |u| + c rate does not bound.
#[test]
fn an_isolated_initial_column_does_not_blow_up() {
    let bed = Array2::zeros((21, 21));
    let mut s = solver(&bed, 2.0, 0.03, Boundaries::walls());
    let mut depth = Array2::zeros((21, 21));
    depth[(10, 10)] = 3.0;
    s.set_depth(depth.view()).expect("state");
    s.advance_to(20.0).expect("no blow-up");
    let b = s.balance();
    assert!(
        (b.storage_m3 - 3.0 * 4.0).abs() < 1e-9,
        "volume {}",
        b.storage_m3
    );
    assert!(s.depth_m().iter().all(|&h| h >= 0.0));
}
