//! Solver throughput in cell-updates per second (criterion's "elements/s"): one step of a
//! fully wet domain (plain, and with rain, losses and boundary hydrographs) and a half-dry domain at 256², 1024² and 2048² cells, on 1 thread and on
//! all threads. Run with `cargo bench -p hydro`.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hydro::{Boundaries, Edge, EdgeBoundary, Grid, Losses, Solver, SolverParams, TimeSeries};
use ndarray::Array2;

#[derive(Clone, Copy, Debug)]
enum Case {
    /// Every cell wet: a gently sloping plain under 1 m of water with a travelling bump.
    Wet,
    /// A dam break: the upper half under 2 m of water, the lower half dry.
    HalfDry,
    /// `Wet` with forcing: uniform rain, initial + continuing losses on every cell, an
    /// inflow hydrograph on part of the north edge, normal-depth outflow on the south.
    Forced,
}

fn solver(n: usize, case: Case) -> Solver {
    let grid = Grid::new(n, n, 5.0, 5.0).expect("grid");
    let bed = Array2::from_shape_fn((n, n), |(r, c)| {
        -1e-3 * 5.0 * r as f64 + 0.1 * ((c as f64) * 0.05).sin()
    });
    let manning = Array2::from_elem((n, n), 0.035);
    let boundaries = match case {
        Case::Forced => Boundaries::walls()
            .with_segment(
                Edge::North,
                n / 4,
                n / 2,
                EdgeBoundary::Inflow {
                    discharge_m3_s: TimeSeries::new(vec![(0.0, 50.0), (3600.0, 200.0)])
                        .expect("series"),
                },
            )
            .with_edge(Edge::South, EdgeBoundary::NormalDepth { slope: 1e-3 }),
        _ => Boundaries::walls().with_edge(Edge::South, EdgeBoundary::FreeOutflow),
    };
    let mut solver = Solver::new(
        grid,
        bed.view(),
        manning.view(),
        None,
        boundaries,
        SolverParams::default(),
    )
    .expect("solver");
    let depth = Array2::from_shape_fn((n, n), |(r, c)| match case {
        Case::Wet | Case::Forced => {
            let d2 = (r as f64 - n as f64 / 3.0).powi(2) + (c as f64 - n as f64 / 2.0).powi(2);
            1.0 + 0.5 * (-d2 / (n as f64 * 2.0)).exp()
        }
        Case::HalfDry => {
            if r < n / 2 {
                2.0
            } else {
                0.0
            }
        }
    });
    solver.set_depth(depth.view()).expect("state");
    if let Case::Forced = case {
        let rain = TimeSeries::new(vec![(0.0, 10.0), (3600.0, 80.0)]).expect("series");
        solver.set_uniform_rain(Some(rain)).expect("rain");
        solver
            .set_losses(Some(Losses::uniform(n, n, 10.0, 2.0, f64::INFINITY)))
            .expect("losses");
    }
    // Let the flow develop so that the benchmark measures a moving state.
    for _ in 0..5 {
        solver.step(f64::MAX).expect("stable");
    }
    solver
}

fn bench_step(c: &mut Criterion) {
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut threads = vec![1];
    if all > 1 {
        threads.push(all);
    }
    for n in [256usize, 1024, 2048] {
        let mut group = c.benchmark_group(format!("step_{n}x{n}"));
        group.throughput(Throughput::Elements((n * n) as u64));
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(if n >= 2048 { 6 } else { 3 }));
        for case in [Case::Wet, Case::HalfDry, Case::Forced] {
            for &t in &threads {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .expect("pool");
                let mut s = solver(n, case);
                group.bench_function(
                    BenchmarkId::new(format!("{case:?}"), format!("{t}thr")),
                    |b| pool.install(|| b.iter(|| s.step(f64::MAX).expect("stable"))),
                );
            }
        }
        group.finish();
    }
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
