//! The active-tile sweep against the dense reference: the same bits every step, tiles that
//! sleep while dry and wake when water, rain, an inflow or a breach reaches them.

mod common;

use common::{TILE, pair, step_both};
use hydro::{
    Boundaries, Breach, BreachTrigger, Edge, EdgeBoundary, Grid, Losses, PointSource, Solver,
    SolverParams, TimeSeries,
};
use ndarray::Array2;

fn series(points: &[(f64, f64)]) -> TimeSeries {
    TimeSeries::new(points.to_vec()).expect("series")
}

fn flat_solver(rows: usize, cols: usize, boundaries: Boundaries) -> Solver {
    flat_solver_with(rows, cols, boundaries, SolverParams::default())
}

fn flat_solver_with(
    rows: usize,
    cols: usize,
    boundaries: Boundaries,
    params: SolverParams,
) -> Solver {
    let grid = Grid::new(rows, cols, 2.0, 2.0).expect("grid");
    let bed = Array2::from_shape_fn((rows, cols), |(r, c)| {
        0.002 * c as f64 + 0.05 * ((r * 7 + c * 3) % 5) as f64
    });
    let n = Array2::from_elem((rows, cols), 0.03);
    Solver::new(grid, bed.view(), n.view(), None, boundaries, params).expect("solver")
}

/// A column of water in the middle of a walled box runs out in every direction, crosses
/// tile borders both ways, reflects off the walls and comes back; with an irregular
/// nodata outline. Tiled = dense, bit for bit, with 1, 2 and 4 threads.
#[test]
fn a_wave_crossing_tile_borders_both_ways_is_bit_identical_to_dense() {
    let (rows, cols) = (60, 90);
    let make = || {
        let grid = Grid::new(rows, cols, 1.0, 1.0).expect("grid");
        let bed = Array2::from_shape_fn((rows, cols), |(r, c)| 0.01 * ((r + 2 * c) % 7) as f64);
        let n = Array2::from_elem((rows, cols), 0.02);
        // A ragged outline: cells outside a wobbly ellipse are nodata.
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
            SolverParams::default(),
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
            let swept = step_both(&mut dense, &mut tiled, 40.0);
            // At first only the tiles around the column are swept.
            let all = (rows * cols) as u64;
            assert!(swept[0] < all / 4, "first step swept {} of {all}", swept[0]);
            tiled.depth_m().to_owned()
        })
    };
    let one = run(1);
    for threads in [2, 4] {
        assert!(run(threads) == one, "{threads} threads differ from 1");
    }
}

/// Water from a spring soaks into the ground once the spring stops: its tiles dry out
/// exactly (losses leave h = 0) and stop being swept; when the spring starts again they
/// wake. Tiled = dense throughout, with fv1 and with fv2.
#[test]
fn a_tile_that_dries_out_sleeps_and_wakes_when_water_returns() {
    for scheme in [hydro::Scheme::Fv1, hydro::Scheme::Fv2] {
        dries_out_and_wakes(SolverParams {
            scheme,
            ..SolverParams::default()
        });
    }
}

fn dries_out_and_wakes(params: SolverParams) {
    let (rows, cols) = (40, 96);
    let make = || {
        let mut s = flat_solver_with(rows, cols, Boundaries::walls(), params);
        s.set_losses(Some(Losses::uniform(
            rows,
            cols,
            0.0,
            20_000.0,
            f64::INFINITY,
        )))
        .expect("losses");
        s.add_point_source(PointSource {
            row: 20,
            col: 40,
            discharge_m3_s: series(&[
                (0.0, 1.0),
                (30.0, 1.0),
                (31.0, 0.0),
                (400.0, 0.0),
                (401.0, 1.0),
            ]),
        })
        .expect("source");
        s
    };
    let (mut dense, mut tiled) = pair(make);
    let wet = step_both(&mut dense, &mut tiled, 30.0);
    let dry = step_both(&mut dense, &mut tiled, 400.0);
    // Dried out: only the spring's own tile is still swept (it is forced).
    assert_eq!(
        tiled.depth_m().iter().filter(|&&h| h > 0.0).count(),
        0,
        "not dry at 400 s"
    );
    let again = step_both(&mut dense, &mut tiled, 430.0);
    let spread = *wet.iter().max().expect("steps");
    let asleep = *dry.last().expect("steps");
    assert_eq!(
        asleep,
        (TILE.0 * TILE.1) as u64,
        "swept {asleep} cells per step when dry"
    );
    assert!(
        spread > 4 * asleep,
        "the wet spring swept only {spread} cells per step"
    );
    assert!(
        *again.last().expect("steps") > asleep,
        "no tile woke when the spring restarted"
    );
}

/// Uniform rain wakes every tile with an active cell; gridded rain only the tiles it
/// falls on.
#[test]
fn rain_wakes_the_tiles_it_falls_on() {
    let (rows, cols) = (32, 64);
    let (mut dense, mut tiled) = pair(|| {
        let mut s = flat_solver(rows, cols, Boundaries::walls());
        s.set_uniform_rain(Some(series(&[(0.0, 50.0), (10.0, 50.0), (10.5, 0.0)])))
            .expect("rain");
        s
    });
    let swept = step_both(&mut dense, &mut tiled, 5.0);
    assert_eq!(
        swept[0],
        (rows * cols) as u64,
        "uniform rain must sweep every tile"
    );

    let (mut dense, mut tiled) = pair(|| {
        let mut s = flat_solver(rows, cols, Boundaries::walls());
        // Rain on the 8 × 16 tile at tile row 1, tile column 2 only.
        let rain = Array2::from_shape_fn((rows, cols), |(r, c)| {
            if (8..16).contains(&r) && (32..48).contains(&c) {
                30.0
            } else {
                0.0
            }
        });
        s.set_rain_grid(Some(rain.view())).expect("rain grid");
        s
    });
    let swept = step_both(&mut dense, &mut tiled, 20.0);
    assert_eq!(
        swept[0],
        (TILE.0 * TILE.1) as u64,
        "gridded rain swept {} cells",
        swept[0]
    );
    assert!(
        swept.last() > swept.first(),
        "the water did not wake the neighbours"
    );
}

/// A reservoir behind a dam: the dry valley below is not swept until the breach opens,
/// then wakes as the wave arrives. Tiled = dense throughout.
#[test]
fn a_breach_that_opens_mid_run_wakes_the_valley_below() {
    let (rows, cols) = (24, 96);
    let dam_col = 30;
    let (mut dense, mut tiled) = pair(|| {
        let grid = Grid::new(rows, cols, 2.0, 2.0).expect("grid");
        let bed = Array2::from_shape_fn((rows, cols), |(_, c)| {
            if c == dam_col {
                5.0
            } else {
                1.0 - 0.005 * c as f64
            }
        });
        let n = Array2::from_elem((rows, cols), 0.03);
        let mut s = Solver::new(
            grid,
            bed.view(),
            n.view(),
            None,
            Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow),
            SolverParams::default(),
        )
        .expect("solver");
        let depth =
            Array2::from_shape_fn((rows, cols), |(_, c)| if c < dam_col { 3.0 } else { 0.0 });
        s.set_depth(depth.view()).expect("depth");
        s.add_breach(Breach {
            cells: (0..rows).map(|r| (r, dam_col)).collect(),
            final_bed_m: 0.5,
            formation_time_s: 5.0,
            trigger: BreachTrigger::AtTime { time_s: 10.0 },
        })
        .expect("breach");
        s
    });
    let before = step_both(&mut dense, &mut tiled, 10.0);
    let below = tiled.depth_m().slice(ndarray::s![.., dam_col + 17..]).sum();
    assert_eq!(below, 0.0, "water below the dam before the breach");
    // Tile columns 0 and 1 hold the reservoir; column 2 (32..48) borders it (the dam is in
    // column 1); the rest sleep.
    let reservoir_side = (rows * 3 * TILE.1) as u64;
    assert!(
        before.iter().all(|&s| s <= reservoir_side),
        "swept {before:?}"
    );
    let after = step_both(&mut dense, &mut tiled, 60.0);
    assert!(
        *after.last().expect("steps") > reservoir_side,
        "the valley did not wake"
    );
    assert!(
        tiled.depth_m()[(rows / 2, cols - 5)] > 0.0,
        "the wave did not reach the outlet"
    );
}

/// An inflow hydrograph on a dry edge: its tiles are swept from the first step and the
/// water enters; tiled = dense.
#[test]
fn an_inflow_into_a_dry_edge_wakes_its_tiles() {
    let (rows, cols) = (32, 80);
    let (mut dense, mut tiled) = pair(|| {
        flat_solver(
            rows,
            cols,
            Boundaries::walls().with_segment(
                Edge::West,
                10,
                20,
                EdgeBoundary::Inflow {
                    discharge_m3_s: series(&[(0.0, 0.0), (20.0, 4.0)]),
                },
            ),
        )
    });
    let swept = step_both(&mut dense, &mut tiled, 40.0);
    // The segment's rows 10–20 lie in tile rows 1 and 2 of the west tile column.
    assert_eq!(swept[0], (2 * TILE.0 * TILE.1) as u64, "swept {}", swept[0]);
    assert!(tiled.depth_m()[(15, 0)] > 0.0, "no water entered");
    assert!(
        *swept.last().expect("steps") > swept[0],
        "the water woke no neighbour"
    );
}
