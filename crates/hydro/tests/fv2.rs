//! The second-order scheme (`scheme = "fv2"`, with either time integration): a lake at
//! rest over rough ground and islands stays at rest; the tiled sweep gives the dense
//! sweep's bits, on 1, 2 and 4 threads (a tile that dries out and wakes again: in
//! tests/tiles.rs, with both schemes); the water balance closes with every kind of forcing; a thin dam break down a steep, rough valley
//! keeps its depths non-negative; second order beats first order on a smooth wave.

mod common;

use common::{pair, step_both};
use hydro::{
    Boundaries, Edge, EdgeBoundary, Grid, Losses, PointSource, Reconstruction, Scheme, Solver,
    SolverParams, TimeIntegration, TimeSeries,
};
use ndarray::Array2;

fn series(points: &[(f64, f64)]) -> TimeSeries {
    TimeSeries::new(points.to_vec()).expect("series")
}

fn fv2(time_integration: TimeIntegration, reconstruction: Reconstruction) -> SolverParams {
    SolverParams {
        scheme: Scheme::Fv2,
        time_integration,
        reconstruction,
        ..SolverParams::default()
    }
}

/// Every fv2 variant.
fn variants() -> Vec<SolverParams> {
    let mut v = Vec::new();
    for t in [TimeIntegration::Hancock, TimeIntegration::Heun] {
        for r in [
            Reconstruction::Audusse,
            Reconstruction::Subcell,
            Reconstruction::Energy,
        ] {
            v.push(fv2(t, r));
        }
    }
    v
}

#[test]
fn a_lake_over_rough_ground_and_islands_stays_at_rest() {
    let n = 40;
    let mut rng = common::Rng::new(11);
    let bed = Array2::from_shape_fn((n, n), |_| (rng.next_u64() % 1000) as f64 / 1000.0 * 2.0);
    let level = 1.2;
    let depth = bed.mapv(|z| (level - z).max(0.0));
    assert!(depth.iter().any(|&h| h == 0.0), "islands stand out");
    let manning = Array2::from_elem((n, n), 0.05);
    for params in variants() {
        let mut s = Solver::new(
            Grid::new(n, n, 5.0, 5.0).expect("grid"),
            bed.view(),
            manning.view(),
            None,
            Boundaries::walls(),
            params,
        )
        .expect("solver");
        s.set_depth(depth.view()).expect("depth");
        for _ in 0..500 {
            s.step(f64::MAX).expect("step");
        }
        let (h, qx, qy) = (s.depth_m(), s.qx_m2_s(), s.qy_m2_s());
        for ((cell, &d), &z) in h.indexed_iter().zip(bed.iter()) {
            // Round-off of f64 over 500 steps (the reconstruction's faces are w − h).
            assert!(
                qx[cell].abs() < 1e-12 && qy[cell].abs() < 1e-12,
                "{params:?} {cell:?}: q = ({}, {})",
                qx[cell],
                qy[cell]
            );
            if d > 0.0 {
                assert!(
                    (d + z - level).abs() < 1e-12,
                    "{params:?} {cell:?}: level {}",
                    d + z
                );
            } else {
                assert_eq!(d, 0.0, "{params:?} {cell:?}: an island got wet");
            }
        }
        assert!(s.balance().relative_error() < 1e-12);
    }
}

/// A column of water in a walled box with a ragged nodata outline runs out, crosses tile
/// borders both ways and comes back: tiled = dense, bit for bit, every step, on 1, 2 and 4
/// threads (the second-order step reads and moves water two cells).
#[test]
fn a_wave_crossing_tile_borders_is_bit_identical_to_dense() {
    let (rows, cols) = (60, 90);
    for params in [
        fv2(TimeIntegration::Hancock, Reconstruction::Audusse),
        fv2(TimeIntegration::Heun, Reconstruction::Subcell),
    ] {
        let make = || {
            let grid = Grid::new(rows, cols, 1.0, 1.0).expect("grid");
            let bed = Array2::from_shape_fn((rows, cols), |(r, c)| 0.01 * ((r + 2 * c) % 7) as f64);
            let n = Array2::from_elem((rows, cols), 0.02);
            let active = Array2::from_shape_fn((rows, cols), |(r, c)| {
                let (y, x) = (r as f64 / rows as f64 - 0.5, c as f64 / cols as f64 - 0.5);
                x * x + y * y < 0.22 + 0.03 * (c as f64 * 0.7).sin()
            });
            let mut s = Solver::new(
                grid,
                bed.view(),
                n.view(),
                Some(active.view()),
                Boundaries::walls(),
                params,
            )
            .expect("solver");
            let depth = Array2::from_shape_fn((rows, cols), |(r, c)| {
                let d2 = (r as f64 - 30.0).powi(2) + (c as f64 - 40.0).powi(2);
                if d2 < 36.0 && active[(r, c)] {
                    2.0
                } else {
                    0.0
                }
            });
            s.set_depth(depth.view()).expect("depth");
            s
        };
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool");
            pool.install(|| {
                let (mut dense, mut tiled) = pair(make);
                let swept = step_both(&mut dense, &mut tiled, 30.0);
                let all = (rows * cols) as u64;
                assert!(swept[0] < all / 2, "first step swept {} of {all}", swept[0]);
                assert!(tiled.balance().relative_error() < 1e-12);
                tiled.state()
            })
        };
        let one = run(1);
        for threads in [2, 4] {
            assert!(
                run(threads).same_bits(&one),
                "{params:?}: {threads} threads differ from 1"
            );
        }
    }
}

/// Rain, gridded rain, losses, an inflow hydrograph, a stage boundary, free outflow and a
/// point sink together: the balance closes to round-off with each time integration.
#[test]
fn the_water_balance_closes_with_every_forcing() {
    let (rows, cols) = (30, 50);
    for params in std::iter::once(SolverParams::default()).chain(variants()) {
        let grid = Grid::new(rows, cols, 3.0, 3.0).expect("grid");
        let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
            0.01 * c as f64 + 0.1 * ((r * 5 + c * 11) % 7) as f64
        });
        let n = Array2::from_elem((rows, cols), 0.04);
        let boundaries = Boundaries::walls()
            .with_segment(
                Edge::West,
                5,
                15,
                EdgeBoundary::Inflow {
                    discharge_m3_s: series(&[(0.0, 0.0), (60.0, 20.0), (200.0, 5.0)]),
                },
            )
            .with_edge(Edge::East, EdgeBoundary::FreeOutflow)
            .with_segment(
                Edge::South,
                10,
                20,
                EdgeBoundary::Stage {
                    level_m: series(&[(0.0, 0.6), (200.0, 0.9)]),
                },
            );
        let mut s =
            Solver::new(grid, bed.view(), n.view(), None, boundaries, params).expect("solver");
        s.set_uniform_rain(Some(series(&[(0.0, 200.0), (100.0, 300.0), (101.0, 0.0)])))
            .expect("rain");
        let rain = Array2::from_shape_fn((rows, cols), |(r, _)| if r < 10 { 40.0 } else { 0.0 });
        s.set_rain_grid(Some(rain.view())).expect("grid rain");
        s.set_losses(Some(Losses::uniform(rows, cols, 2.0, 5.0, 20.0)))
            .expect("losses");
        s.add_point_source(PointSource {
            row: 10,
            col: 4,
            discharge_m3_s: series(&[(0.0, -0.5)]),
        })
        .expect("sink");
        s.advance_to(200.0).expect("runs");
        let b = s.balance();
        assert!(b.boundary_inflow_m3 > 0.0 && b.boundary_outflow_m3 > 0.0 && b.rain_m3 > 0.0);
        assert!(b.infiltration_m3 > 0.0 && b.point_outflow_m3 > 0.0);
        assert!(
            b.relative_error() < 1e-12,
            "{params:?}: residual {} m³ of {b:?}",
            b.residual_m3()
        );
    }
}

/// 5 cm released down a 25 % rough slope with bumps onto dry ground: thin, fast flow over
/// beds that step more per cell than the depth. Depths stay ≥ 0 (the solver stops with a
/// blow-up error otherwise), and the flow runs down the slope.
#[test]
fn a_thin_dam_break_down_a_steep_rough_valley_stays_positive() {
    let (rows, cols, dx) = (20, 150, 2.0);
    let mut rng = common::Rng::new(3);
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        -0.25 * dx * c as f64
            + 0.3 * (rng.next_u64() % 100) as f64 / 100.0
            + 0.02 * (r as f64 - 10.0).powi(2)
    });
    let depth = Array2::from_shape_fn((rows, cols), |(_, c)| if c < 20 { 0.05 } else { 0.0 });
    let manning = Array2::from_elem((rows, cols), 0.05);
    for params in variants() {
        let mut s = Solver::new(
            Grid::new(rows, cols, dx, dx).expect("grid"),
            bed.view(),
            manning.view(),
            None,
            Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow),
            params,
        )
        .expect("solver");
        s.set_depth(depth.view()).expect("depth");
        s.advance_to(60.0)
            .unwrap_or_else(|e| panic!("{params:?}: {e}"));
        assert!(s.depth_m().iter().all(|&h| h >= 0.0));
        let reached = s
            .depth_m()
            .indexed_iter()
            .filter(|(_, h)| **h > 1e-4)
            .map(|((_, c), _)| c)
            .max()
            .unwrap_or(0);
        // Released over columns 0–19; 5 cm on n = 0.05 runs at about a metre a second.
        assert!(
            reached > 40,
            "{params:?}: the flow reached column {reached} only"
        );
        assert!(s.balance().relative_error() < 1e-12);
    }
}

/// A smooth, small wave in a closed channel (no fronts, no shocks): against a run on a
/// grid 8 times finer, fv2's error is well below fv1's, and falls faster with refinement.
#[test]
fn second_order_beats_first_order_on_a_smooth_wave() {
    let length = 100.0;
    let run = |params: SolverParams, n: usize| -> Vec<f64> {
        let dx = length / n as f64;
        let bed = Array2::zeros((1, n));
        let depth = Array2::from_shape_fn((1, n), |(_, c)| {
            let x = (c as f64 + 0.5) * dx;
            1.0 + 0.05 * (-((x - 50.0) / 8.0).powi(2)).exp()
        });
        let mut s = Solver::new(
            Grid::new(1, n, dx, dx).expect("grid"),
            bed.view(),
            Array2::zeros((1, n)).view(),
            None,
            Boundaries::walls(),
            params,
        )
        .expect("solver");
        s.set_depth(depth.view()).expect("depth");
        s.advance_to(6.0).expect("runs");
        s.depth_m().iter().copied().collect()
    };
    let fine = run(fv2(TimeIntegration::Heun, Reconstruction::Audusse), 1600);
    let error = |h: &[f64]| -> f64 {
        let k = fine.len() / h.len();
        h.iter()
            .enumerate()
            .map(|(i, &v)| (v - fine[i * k..(i + 1) * k].iter().sum::<f64>() / k as f64).abs())
            .sum::<f64>()
            / h.len() as f64
    };
    for params in [
        fv2(TimeIntegration::Hancock, Reconstruction::Audusse),
        fv2(TimeIntegration::Heun, Reconstruction::Audusse),
    ] {
        let (e100, e200) = (error(&run(params, 100)), error(&run(params, 200)));
        let first = error(&run(SolverParams::default(), 200));
        let order = (e100 / e200).log2();
        assert!(
            order > 1.5,
            "{params:?}: order {order:.2} ({e100:.2e}, {e200:.2e})"
        );
        assert!(
            e200 < first / 4.0,
            "{params:?}: {e200:.2e} against fv1's {first:.2e}"
        );
    }
}

/// The settings read by name, as a scenario's `[solver]` table gives them.
#[test]
fn the_scheme_reads_by_name() {
    let p: SolverParams =
        serde_json::from_str(r#"{"scheme": "fv2", "time_integration": "heun"}"#).expect("parses");
    assert_eq!(p.scheme, Scheme::Fv2);
    assert_eq!(p.time_integration, TimeIntegration::Heun);
    assert!(serde_json::from_str::<SolverParams>(r#"{"scheme": "fv3"}"#).is_err());
    let d = SolverParams::default();
    assert_eq!(
        (d.scheme, d.time_integration),
        (Scheme::Fv1, TimeIntegration::Hancock)
    );
}

/// An inflow into a dry domain along a segment that ends on a tile border, the last tile
/// column one cell wide: with Heun the first stage wets the edge cells and the second
/// passes water on, so the tiles around the forced ones must be swept too. Tiled = dense
/// and the balance closes, with each time integration.
#[test]
fn an_inflow_into_a_dry_domain_wakes_the_tiles_around_it() {
    // 33 rows of 8-row tiles (the last row of tiles is 1 row tall... 4 + 1), 49 columns
    // of 16-column tiles (the last column one cell wide).
    let (rows, cols) = (33, 49);
    for time_integration in [TimeIntegration::Heun, TimeIntegration::Hancock] {
        let make = || {
            let grid = Grid::new(rows, cols, 2.0, 2.0).expect("grid");
            let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
                0.01 * (cols - c) as f64 + 0.02 * ((r * 3 + c) % 4) as f64
            });
            let n = Array2::from_elem((rows, cols), 0.03);
            let boundaries = Boundaries::walls()
                .with_segment(
                    Edge::East,
                    8,
                    15,
                    EdgeBoundary::Inflow {
                        discharge_m3_s: series(&[(0.0, 5.0), (100.0, 5.0)]),
                    },
                )
                .with_segment(
                    Edge::South,
                    32,
                    48,
                    EdgeBoundary::Inflow {
                        discharge_m3_s: series(&[(0.0, 3.0), (100.0, 3.0)]),
                    },
                );
            Solver::new(
                grid,
                bed.view(),
                n.view(),
                None,
                boundaries,
                fv2(time_integration, Reconstruction::Audusse),
            )
            .expect("solver")
        };
        let (mut dense, mut tiled) = pair(make);
        step_both(&mut dense, &mut tiled, 60.0);
        let b = tiled.balance();
        assert!(b.boundary_inflow_m3 > 0.0);
        assert!(
            b.relative_error() < 1e-12,
            "{time_integration:?}: residual {} m³",
            b.residual_m3()
        );
    }
}
