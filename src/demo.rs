//! A self-contained demonstration of the solver: a 20 m dam across a sloping valley
//! fails instantly and the flood runs down the valley onto a dry floodplain.

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, bail};
use hydro::{Boundaries, Edge, EdgeBoundary, Grid, Solver, SolverParams};
use ndarray::Array2;

/// Demo settings.
#[derive(Debug, Clone, Copy)]
pub struct DemoArgs {
    pub cells: usize,
    pub minutes: f64,
    pub threads: usize,
}

/// The valley: 8 km long, 4 km wide, falling 2 m/km, with a parabolic cross-section and
/// a dam across it 2 km from the top. Returns (bed, initial depth).
fn valley(n: usize, cell_m: f64) -> (Array2<f64>, Array2<f64>) {
    let rows = 2 * n;
    let width = n as f64 * cell_m;
    let bed = Array2::from_shape_fn((rows, n), |(r, c)| {
        let along = r as f64 * cell_m;
        let across = (c as f64 + 0.5) * cell_m - width / 2.0;
        let floor = 100.0 - 0.002 * along;
        floor + 40.0 * (across / (width / 2.0)).powi(2)
    });
    let dam_row = rows / 4;
    let lake_level = bed[(dam_row, n / 2)] + 20.0;
    let depth = Array2::from_shape_fn((rows, n), |(r, c)| {
        if r < dam_row {
            (lake_level - bed[(r, c)]).max(0.0)
        } else {
            0.0
        }
    });
    (bed, depth)
}

pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if !(16..=8192).contains(&args.cells) {
        bail!(
            "--cells {} is out of range: use 16 to 8192 cells per side",
            args.cells
        );
    }
    if !(args.minutes > 0.0 && args.minutes.is_finite()) {
        bail!("--minutes must be a positive number of simulated minutes");
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build()
        .context("starting the thread pool")?;
    let n = args.cells;
    let cell_m = 4000.0 / n as f64;
    let (bed, depth) = valley(n, cell_m);
    let grid = Grid::new(2 * n, n, cell_m, cell_m)?;
    let manning = Array2::from_elem(grid_shape(&grid), 0.035);
    let boundaries = Boundaries::walls().with_edge(Edge::South, EdgeBoundary::FreeOutflow);
    let mut solver = Solver::new(
        grid,
        bed.view(),
        manning.view(),
        None,
        boundaries,
        SolverParams::default(),
    )?;
    solver.set_depth(depth.view())?;
    println!(
        "rivertwin demo: dam break, {}×{} cells of {:.1} m, {} threads, {} simulated minutes",
        grid.rows,
        grid.cols,
        cell_m,
        pool.current_num_threads(),
        args.minutes
    );
    println!("reservoir: {:.3e} m³", solver.balance().storage_m3);

    let end_s = args.minutes * 60.0;
    let started = Instant::now();
    pool.install(|| -> anyhow::Result<()> {
        let mut next_report: f64 = 60.0;
        while solver.sim_time_s() < end_s {
            let target = next_report.min(end_s);
            solver.advance_to(target)?;
            let s = solver.summary();
            print!(
                "\r  t = {:6.0} s  steps {:6}  wet cells {:7}  max depth {:5.2} m  max speed {:5.2} m/s ",
                solver.sim_time_s(),
                solver.steps(),
                s.wet_cells,
                s.max_depth_m,
                s.max_speed_m_s
            );
            std::io::stdout().flush().ok();
            next_report += 60.0;
        }
        Ok(())
    })?;
    let wall = started.elapsed().as_secs_f64();
    let b = solver.balance();
    println!();
    println!(
        "done: {} steps in {wall:.1} s wall ({:.1} M cell-updates/s, {:.0}× real time)",
        solver.steps(),
        (grid.cells() as f64 * solver.steps() as f64) / wall / 1e6,
        end_s / wall
    );
    println!(
        "water balance: stored {:.4e} m³, left through the valley outlet {:.4e} m³, relative error {:.1e}",
        b.storage_m3,
        b.boundary_outflow_m3,
        b.relative_error()
    );
    Ok(())
}

fn grid_shape(grid: &Grid) -> (usize, usize) {
    (grid.rows, grid.cols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_absurd_settings() {
        let e = run(DemoArgs {
            cells: 100_000_000,
            minutes: 1.0,
            threads: 1,
        })
        .expect_err("absurd grid");
        assert!(e.to_string().contains("16 to 8192"), "{e}");
        assert!(
            run(DemoArgs {
                cells: 64,
                minutes: -3.0,
                threads: 1
            })
            .is_err(),
            "negative duration"
        );
    }

    #[test]
    fn valley_holds_a_reservoir_behind_the_dam_only() {
        let (bed, depth) = valley(32, 125.0);
        assert_eq!(bed.dim(), (64, 32));
        assert!(depth.row(5).iter().any(|&d| d > 10.0));
        assert!(depth.row(40).iter().all(|&d| d == 0.0));
        assert!(bed.iter().all(|z| z.is_finite()));
    }
}
