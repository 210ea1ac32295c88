//! The subcell hydrostatic reconstruction's bed terms (`reconstruction = "subcell"`) and
//! the moving-water face states on top of them (`"energy"`): a lake at rest over a rough
//! bed with islands stays at rest to round-off; the water balance closes; a dam break
//! down a steep 2D slope gives the same bits on 1 and 2 threads, and its water runs
//! further down than with Audusse's terms.

mod common;

use hydro::{Boundaries, Edge, EdgeBoundary, Grid, Reconstruction, Solver, SolverParams};
use ndarray::Array2;

fn params(reconstruction: Reconstruction) -> SolverParams {
    SolverParams {
        reconstruction,
        ..SolverParams::default()
    }
}

#[test]
fn a_lake_over_rough_ground_and_islands_stays_at_rest() {
    for reconstruction in [Reconstruction::Subcell, Reconstruction::Energy] {
        lake_at_rest(reconstruction);
    }
}

fn lake_at_rest(reconstruction: Reconstruction) {
    let n = 40;
    let mut rng = common::Rng::new(7);
    let bed = Array2::from_shape_fn((n, n), |_| (rng.next_u64() % 1000) as f64 / 1000.0 * 2.0);
    let level = 1.2;
    let depth = bed.mapv(|z| (level - z).max(0.0));
    assert!(
        depth.iter().any(|&h| h == 0.0),
        "islands stand out of the lake"
    );
    let manning = Array2::from_elem((n, n), 0.03);
    let mut s = Solver::new(
        Grid::new(n, n, 5.0, 5.0).expect("grid"),
        bed.view(),
        manning.view(),
        None,
        Boundaries::walls(),
        params(reconstruction),
    )
    .expect("solver");
    s.set_depth(depth.view()).expect("depth");
    for _ in 0..500 {
        s.step(f64::MAX).expect("step");
    }
    let (h, qx, qy) = (s.depth_m(), s.qx_m2_s(), s.qy_m2_s());
    for ((cell, &d), &z) in h.indexed_iter().zip(bed.iter()) {
        assert!(qx[cell].abs() < 1e-12 && qy[cell].abs() < 1e-12, "{cell:?}");
        if d > 0.0 {
            assert!((d + z - level).abs() < 1e-12, "{cell:?}: level {}", d + z);
        }
    }
    assert!(s.balance().relative_error() < 1e-12);
}

#[test]
fn a_steep_dam_break_is_deterministic_and_runs_further() {
    let (rows, cols, dx) = (30, 120, 2.0);
    // 15 % down towards the east, a reservoir of 1 m in the west quarter.
    let bed = Array2::from_shape_fn((rows, cols), |(_, c)| -0.15 * dx * c as f64);
    let depth = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if c < 30 && (5..25).contains(&r) {
            1.0
        } else {
            0.0
        }
    });
    let manning = Array2::from_elem((rows, cols), 0.02);
    let run = |reconstruction: Reconstruction, threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut s = Solver::new(
                Grid::new(rows, cols, dx, dx).expect("grid"),
                bed.view(),
                manning.view(),
                None,
                Boundaries::walls().with_edge(Edge::East, EdgeBoundary::FreeOutflow),
                params(reconstruction),
            )
            .expect("solver");
            s.set_depth(depth.view()).expect("depth");
            s.advance_to(15.0).expect("stable");
            s
        })
    };
    let classic = run(Reconstruction::Audusse, 2);
    for reconstruction in [Reconstruction::Subcell, Reconstruction::Energy] {
        let (one, two) = (run(reconstruction, 1), run(reconstruction, 2));
        assert!(one.state().same_bits(&two.state()), "1 and 2 threads");
        assert!(one.balance().relative_error() < 1e-12);
        // The water's centre of mass lies further down the slope: the thin flow ahead of the
        // wave is not held back.
        let centre = |s: &Solver| {
            let (mut m, mut mx) = (0.0, 0.0);
            for ((_, c), &h) in s.depth_m().indexed_iter() {
                m += h;
                mx += h * c as f64;
            }
            mx / m
        };
        assert!(
            centre(&one) > centre(&classic) + 0.1,
            "{reconstruction:?}: centre at column {:.2}, Audusse at {:.2}",
            centre(&one),
            centre(&classic)
        );
    }
}
