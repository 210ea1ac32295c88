//! Quick throughput check, less sensitive to a busy machine than the criterion means:
//! best of several timed batches of steps. `cargo run --release -p hydro --example
//! throughput -- [cells_per_side] [threads] [forced]`. `STRUCTURES=k` adds k culverts
//! (one link each) and k/10 weirs of 50 links each, to measure what structures cost.
//! `LOSSES=cn|ga` (with `forced`) uses a curve-number or Green–Ampt loss model.
//! `SCHEME=fv2` measures the second-order scheme (MUSCL–Hancock; `TIME=heun` for Heun's
//! two stages). `RECONSTRUCTION=subcell|energy` measures another face reconstruction.

use std::time::Instant;

use hydro::{
    ArrClass, Barrel, Boundaries, Edge, EdgeBoundary, EnvelopeSpec, Grid, HazardRule, Link, Losses,
    Solver, SolverParams, Structure, StructureKind, TimeSeries,
};
use ndarray::Array2;

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1024);
    let threads: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(0);
    let forced = args.next().is_some_and(|a| a == "forced");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool");
    let grid = Grid::new(n, n, 5.0, 5.0).expect("grid");
    let bed = Array2::from_shape_fn((n, n), |(r, c)| {
        -5e-3 * r as f64 + 0.1 * (c as f64 * 0.05).sin()
    });
    let manning = Array2::from_elem((n, n), 0.035);
    let boundaries = if forced {
        let q = TimeSeries::new(vec![(0.0, 50.0), (3600.0, 200.0)]).expect("series");
        Boundaries::walls()
            .with_segment(
                Edge::North,
                n / 4,
                n / 2,
                EdgeBoundary::Inflow { discharge_m3_s: q },
            )
            .with_edge(Edge::South, EdgeBoundary::NormalDepth { slope: 1e-3 })
    } else {
        Boundaries::walls().with_edge(Edge::South, EdgeBoundary::FreeOutflow)
    };
    let mut solver = Solver::new(
        grid,
        bed.view(),
        manning.view(),
        None,
        boundaries,
        SolverParams {
            scheme: match std::env::var("SCHEME").as_deref() {
                Ok("fv2") => hydro::Scheme::Fv2,
                _ => hydro::Scheme::Fv1,
            },
            time_integration: match std::env::var("TIME").as_deref() {
                Ok("heun") => hydro::TimeIntegration::Heun,
                _ => hydro::TimeIntegration::Hancock,
            },
            reconstruction: match std::env::var("RECONSTRUCTION").as_deref() {
                Ok("subcell") => hydro::Reconstruction::Subcell,
                Ok("energy") => hydro::Reconstruction::Energy,
                _ => hydro::Reconstruction::Audusse,
            },
            ..SolverParams::default()
        },
    )
    .expect("solver");
    // A tile size to measure, `TILE=rowsxcols` (results do not depend on it).
    if let Some((rows, cols)) = std::env::var("TILE").ok().and_then(|v| {
        let (r, c) = v.split_once('x')?;
        Some((r.parse().ok()?, c.parse().ok()?))
    }) {
        solver.set_tile_size(rows, cols);
    }
    // `ENVELOPES=1`: also track the flood envelopes, as a run does (ARR classes H1–H6).
    if std::env::var("ENVELOPES").is_ok_and(|v| v == "1") {
        let class = |class, d, v, dv| ArrClass {
            class,
            max_depth_m: d,
            max_speed_m_s: v,
            max_depth_speed_m2_s: dv,
        };
        let spec = EnvelopeSpec {
            wet_depth_m: 0.01,
            hazard: HazardRule::Arr(vec![
                class(1, 0.3, 2.0, 0.3),
                class(2, 0.5, 2.0, 0.6),
                class(3, 1.2, 2.0, 0.6),
                class(4, 2.0, 2.0, 1.0),
                class(5, 4.0, 4.0, 4.0),
            ]),
        };
        solver.track_envelopes(spec).expect("envelopes");
    }
    // Tiles swept as one rectangle at most, `SPAN=n` (results do not depend on it).
    if let Some(n) = std::env::var("SPAN").ok().and_then(|v| v.parse().ok()) {
        solver.set_span_tiles(n);
    }
    let depth = Array2::from_shape_fn((n, n), |(r, c)| {
        let d2 = (r as f64 - n as f64 / 3.0).powi(2) + (c as f64 - n as f64 / 2.0).powi(2);
        1.0 + 0.5 * (-d2 / (n as f64 * 2.0)).exp()
    });
    solver.set_depth(depth.view()).expect("state");
    if forced {
        let rain = TimeSeries::new(vec![(0.0, 10.0), (3600.0, 80.0)]).expect("series");
        solver.set_uniform_rain(Some(rain)).expect("rain");
        solver
            .set_losses(Some(Losses::uniform(n, n, 10.0, 2.0, f64::INFINITY)))
            .expect("losses");
        // `LOSSES=cn` or `LOSSES=ga`: a curve number or Green–Ampt loss model instead of
        // initial + continuing, to measure what its per-step soil pass costs.
        let model = match std::env::var("LOSSES").as_deref() {
            Ok("cn") => Some(hydro::LossModel::CurveNumber {
                curve_number: Array2::from_elem((n, n), 75.0),
                ia_ratio: 0.2,
                impervious: None,
            }),
            Ok("ga") => Some(hydro::LossModel::GreenAmpt {
                conductivity_mm_per_h: Array2::from_elem((n, n), 10.0),
                suction_mm: Array2::from_elem((n, n), 110.0),
                moisture_deficit: Array2::from_elem((n, n), 0.3),
            }),
            _ => None,
        };
        if model.is_some() {
            solver.set_loss_model(model).expect("loss model");
        }
    }
    // `STRUCTURES=k`: k culverts between cells 5 rows apart, and k/10 weirs 50 cells
    // long, spread over the grid (their flows are real; the cost is what is measured).
    let k: usize = std::env::var("STRUCTURES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    for i in 0..k {
        let (r, c) = (10 + (i * 37) % (n - 20), 10 + (i * 91) % (n - 20));
        let culvert = Structure {
            name: format!("culvert {i}"),
            kind: StructureKind::Culvert {
                barrel: Barrel::Box {
                    width_m: 2.0,
                    height_m: 1.5,
                },
                length_m: 25.0,
                manning_n: 0.013,
                inlet_invert_m: bed[(r, c)],
                outlet_invert_m: bed[(r + 5, c)],
                entrance_loss: 0.5,
                exit_loss: 1.0,
                flap: false,
            },
            links: vec![Link {
                a: (r, c),
                b: Some((r + 5, c)),
                share: 1.0,
            }],
        };
        solver.add_structure(culvert).expect("culvert");
    }
    for i in 0..k / 10 {
        let r = 20 + (i * 53) % (n - 40);
        let c0 = (i * 29) % (n - 60);
        let weir = Structure {
            name: format!("weir {i}"),
            kind: StructureKind::Weir {
                crest_m: bed[(r, c0)] + 0.8,
                length_m: 50.0 * 5.0,
                coefficient: 1.705,
                one_way: false,
            },
            links: (0..50)
                .map(|j| Link {
                    a: (r, c0 + j),
                    b: Some((r + 2, c0 + j)),
                    share: 1.0 / 50.0,
                })
                .collect(),
        };
        solver.add_structure(weir).expect("weir");
    }
    let steps = (200_000_000 / (n * n)).max(3);
    let best = pool.install(|| {
        (0..7)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..steps {
                    solver.step(f64::MAX).expect("stable");
                }
                t.elapsed().as_secs_f64() / steps as f64
            })
            .fold(f64::INFINITY, f64::min)
    });
    println!(
        "{n}x{n} wet{}{}, {} threads: {:.3} ms/step, {:.1} M cell-updates/s",
        if forced {
            " + rain, losses, hydrographs"
        } else {
            ""
        },
        if k > 0 {
            format!(" + {k} culverts, {} weirs of 50 links", k / 10)
        } else {
            String::new()
        },
        pool.current_num_threads(),
        best * 1e3,
        (n * n) as f64 / best / 1e6
    );
}
