//! Mass conservation, determinism across thread counts, and bad input.

mod common;

use common::Rng;
use hydro::{Boundaries, Edge, EdgeBoundary, Grid, Solver, SolverError, SolverParams};
use ndarray::Array2;

/// A rough random basin: random bed, depths with dry patches, random momenta, scattered
/// inactive cells and roughness. Seeded, so every run sees the same case.
fn random_case(rows: usize, cols: usize, seed: u64, boundaries: Boundaries) -> Solver {
    let mut rng = Rng::new(seed);
    let grid = Grid::new(rows, cols, 2.0, 3.0).expect("grid");
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        0.01 * (r as f64) + 0.5 * ((c as f64) * 0.3).sin() + rng.uniform(-0.2, 0.2)
    });
    let manning = Array2::from_shape_fn((rows, cols), |_| rng.uniform(0.0, 0.08));
    let active = Array2::from_shape_fn((rows, cols), |_| rng.uniform(0.0, 1.0) > 0.05);
    let mut solver = Solver::new(
        grid,
        bed.view(),
        manning.view(),
        Some(active.view()),
        boundaries,
        SolverParams::default(),
    )
    .expect("solver");
    let depth = Array2::from_shape_fn((rows, cols), |_| {
        let d = rng.uniform(-0.6, 1.5);
        if d > 0.0 { d } else { 0.0 }
    });
    let qx = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if depth[(r, c)] > 0.0 {
            rng.uniform(-1.0, 1.0) * depth[(r, c)]
        } else {
            0.0
        }
    });
    let qy = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if depth[(r, c)] > 0.0 {
            rng.uniform(-1.0, 1.0) * depth[(r, c)]
        } else {
            0.0
        }
    });
    solver
        .set_state(depth.view(), qx.view(), qy.view())
        .expect("state");
    solver
}

/// In a closed box the stored volume stays constant to round-off. The state is f64 and
/// every face flux leaves one cell and enters the next unchanged, so the only error is
/// the rounding of the sums: ~1e-16 per cell-step, far below the 1e-12 bar.
#[test]
fn closed_box_conserves_volume() {
    let mut solver = random_case(67, 53, 7, Boundaries::walls());
    let v0 = solver.balance().storage_m3;
    let mut worst: f64 = 0.0;
    for _ in 0..500 {
        let report = solver.step(f64::MAX).expect("stable");
        worst = worst.max(((report.volume_m3 - v0) / v0).abs());
    }
    assert!(worst < 1e-12, "relative volume drift {worst:e}");
    assert!(solver.balance().relative_error() < 1e-12);
    // The water really moved.
    assert!(solver.summary().max_speed_m_s > 0.1);
}

/// With open edges the balance closes through the boundary terms.
#[test]
fn open_box_balance_closes() {
    let boundaries = Boundaries::walls()
        .with_edge(Edge::West, EdgeBoundary::UnitDischarge { q_m2_s: 0.5 })
        .with_edge(Edge::East, EdgeBoundary::FreeOutflow)
        .with_edge(Edge::North, EdgeBoundary::FixedDepth { depth_m: 0.3 });
    let mut solver = random_case(40, 60, 11, boundaries);
    solver.advance_to(60.0).expect("stable");
    let b = solver.balance();
    assert!(
        b.boundary_inflow_m3 > 0.0 && b.boundary_outflow_m3 > 0.0,
        "{b:?}"
    );
    assert!(b.relative_error() < 1e-12, "{b:?}");
}

/// Results are bit-identical for 1, 2 and 4 threads: blocks are fixed by the grid and
/// every sum runs in a fixed order.
#[test]
fn bit_identical_across_thread_counts() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let boundaries = Boundaries::walls()
                .with_edge(Edge::West, EdgeBoundary::UnitDischarge { q_m2_s: 0.2 })
                .with_edge(Edge::East, EdgeBoundary::FreeOutflow);
            let mut solver = random_case(150, 70, 3, boundaries);
            let mut dts = Vec::new();
            for _ in 0..200 {
                dts.push(solver.step(f64::MAX).expect("stable").dt_s);
            }
            (
                solver.depth_m().to_owned(),
                solver.qx_m2_s().to_owned(),
                solver.qy_m2_s().to_owned(),
                dts,
                solver.balance(),
            )
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        let other = run(threads);
        assert!(one.0 == other.0, "depth differs with {threads} threads");
        assert!(one.1 == other.1, "qx differs with {threads} threads");
        assert!(one.2 == other.2, "qy differs with {threads} threads");
        assert!(one.3 == other.3, "time steps differ with {threads} threads");
        assert!(one.4 == other.4, "balance differs with {threads} threads");
    }
}

#[test]
fn steps_land_on_the_requested_time() {
    let mut solver = random_case(20, 20, 5, Boundaries::walls());
    let r = solver.step(1e-4).expect("stable");
    assert_eq!(r.sim_time_s, 1e-4);
    assert!(
        solver.step(1e-4).is_err(),
        "a step that ends in the past is refused"
    );
    solver.advance_to(3.7).expect("stable");
    assert_eq!(solver.sim_time_s(), 3.7);
}

#[test]
fn dry_domain_steps_at_the_cap() {
    let n = 10;
    let grid = Grid::new(n, n, 1.0, 1.0).expect("grid");
    let zeros = Array2::zeros((n, n));
    let params = SolverParams {
        max_dt_s: 2.5,
        ..SolverParams::default()
    };
    let mut solver = Solver::new(
        grid,
        zeros.view(),
        zeros.view(),
        None,
        Boundaries::walls(),
        params,
    )
    .expect("solver");
    assert_eq!(solver.step(100.0).expect("stable").dt_s, 2.5);
    assert_eq!(solver.summary().wet_cells, 0);
}

#[test]
fn summary_reports_state_figures() {
    let n = 8;
    let grid = Grid::new(n, n, 2.0, 2.0).expect("grid");
    let zeros = Array2::zeros((n, n));
    let mut solver = Solver::new(
        grid,
        zeros.view(),
        zeros.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    let depth = Array2::from_shape_fn((n, n), |(r, c)| if (r, c) == (2, 3) { 1.5 } else { 0.0 });
    let qx = Array2::from_shape_fn((n, n), |(r, c)| if (r, c) == (2, 3) { 0.9 } else { 0.0 });
    solver
        .set_state(depth.view(), qx.view(), Array2::zeros((n, n)).view())
        .expect("state");
    let s = solver.summary();
    assert_eq!(s.wet_cells, 1);
    assert_eq!(s.max_depth_m, 1.5);
    assert!((s.max_speed_m_s - 0.6).abs() < 1e-15);
    assert!((s.volume_m3 - 1.5 * 4.0).abs() < 1e-15);
}

// ---------------------------------------------------------------- bad input

fn flat(n: usize) -> (Grid, Array2<f64>, Array2<f64>) {
    (
        Grid::new(n, n, 1.0, 1.0).expect("grid"),
        Array2::zeros((n, n)),
        Array2::from_elem((n, n), 0.03),
    )
}

#[test]
fn negative_manning_names_the_cell() {
    let (grid, bed, mut n) = flat(5);
    n[(2, 4)] = -0.01;
    let err = Solver::new(
        grid,
        bed.view(),
        n.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect_err("negative n");
    assert!(
        matches!(
            err,
            SolverError::InvalidCell {
                field: "manning_n",
                row: 2,
                col: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("Manning"), "{err}");
}

#[test]
fn nan_bed_in_an_active_cell_is_refused_but_allowed_when_inactive() {
    let (grid, mut bed, n) = flat(5);
    bed[(1, 1)] = f64::NAN;
    let err = Solver::new(
        grid,
        bed.view(),
        n.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect_err("nan bed");
    assert!(matches!(
        err,
        SolverError::InvalidCell {
            field: "bed_m",
            row: 1,
            col: 1,
            ..
        }
    ));
    let active = Array2::from_shape_fn((5, 5), |rc| rc != (1, 1));
    Solver::new(
        grid,
        bed.view(),
        n.view(),
        Some(active.view()),
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("inactive nodata cell is fine");
}

#[test]
fn wrong_shape_negative_depth_and_bad_parameters_are_refused() {
    let (grid, bed, n) = flat(5);
    let wrong = Array2::zeros((5, 6));
    let err = Solver::new(
        grid,
        bed.view(),
        wrong.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect_err("shape");
    assert!(matches!(
        err,
        SolverError::ShapeMismatch {
            field: "manning_n",
            ..
        }
    ));

    let mut solver = Solver::new(
        grid,
        bed.view(),
        n.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    let mut depth = Array2::zeros((5, 5));
    depth[(0, 3)] = -1.0;
    let err = solver.set_depth(depth.view()).expect_err("negative depth");
    assert!(matches!(
        err,
        SolverError::InvalidCell {
            field: "depth_m",
            row: 0,
            col: 3,
            ..
        }
    ));

    for params in [
        SolverParams {
            cfl: 1.5,
            ..SolverParams::default()
        },
        SolverParams {
            max_dt_s: 0.0,
            ..SolverParams::default()
        },
        SolverParams {
            dry_depth_m: -1.0,
            ..SolverParams::default()
        },
    ] {
        assert!(matches!(
            Solver::new(
                grid,
                bed.view(),
                n.view(),
                None,
                Boundaries::walls(),
                params
            ),
            Err(SolverError::InvalidParameter { .. })
        ));
    }
    assert!(Grid::new(0, 5, 1.0, 1.0).is_err());
    assert!(Grid::new(5, 5, -1.0, 1.0).is_err());
    assert!(
        Grid::new(1 << 20, 1 << 20, 1.0, 1.0).is_err(),
        "absurd grid size"
    );
}

/// A blow-up stops the run with the step, time and cell, and keeps the last good state.
/// Provoked deterministically: a depth of 1e200 m is finite, but its hydrostatic
/// pressure g h²/2 overflows to infinity, and the update turns that into NaN.
#[test]
fn blow_up_reports_step_time_and_cell() {
    let n = 16;
    let grid = Grid::new(n, n, 1.0, 1.0).expect("grid");
    let zeros = Array2::zeros((n, n));
    let mut solver = Solver::new(
        grid,
        zeros.view(),
        zeros.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    let mut depth = Array2::from_elem((n, n), 1.0);
    depth[(8, 5)] = 1e200;
    solver
        .set_depth(depth.view())
        .expect("finite state is accepted");
    let before = solver.depth_m().to_owned();
    let err = solver.step(f64::MAX).expect_err("overflow must be caught");
    let SolverError::BlowUp {
        step,
        row,
        col,
        sim_time_s,
        ..
    } = err
    else {
        panic!("unexpected error {err}");
    };
    assert_eq!(step, 1);
    assert!(sim_time_s > 0.0);
    // The first bad cell in row-major order is the overflowing one or a neighbour.
    assert!(
        row.abs_diff(8) + col.abs_diff(5) <= 1,
        "row {row}, col {col}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("step 1") && msg.contains(&format!("row {row}, column {col}")),
        "{msg}"
    );
    assert_eq!(solver.depth_m(), before, "state kept at the last good step");
    assert_eq!(solver.steps(), 0);
}
