//! Benchmark: what `rivertwin run` delivers against the solver alone, on the same grid.
//!
//! A radial dam break on a flat N × N grid (5 m cells, n = 0.03, walls): 10 m of water
//! within N/4 cells of the centre, 1 m elsewhere, so every cell is wet. The whole run goes
//! through `basin::run` (the command line's path: the run engine with envelopes, gauges,
//! the output schedule and the GeoTIFF writer); the solver alone steps the same scenario's
//! solver without envelopes for the same simulated time. Both report cell-updates/s.
//!
//! `cargo run --release -p basin --example whole_run -- [N] [threads] [duration_s] [pairs]`
//! (defaults 1024, all cores, 60, 1). With several pairs the run and the solver alone
//! take turns (every other pair starts with the solver alone), and the median of the
//! pairs' ratios is printed too.

use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use basin::raster::{GeoGrid, write_geotiff};
use basin::{Basin, RunOptions, Scenario, build_solver};
use ndarray::Array2;

const WKT: &str = "PROJCS[\"WGS 84 / UTM zone 55S\",GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433]],PROJECTION[\"Transverse_Mercator\"],PARAMETER[\"latitude_of_origin\",0],PARAMETER[\"central_meridian\",147],PARAMETER[\"scale_factor\",0.9996],PARAMETER[\"false_easting\",500000],PARAMETER[\"false_northing\",10000000],UNIT[\"metre\",1],AUTHORITY[\"EPSG\",\"32755\"]]";

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(Ok(1024), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(0), |a| a.parse())?;
    let duration_s: f64 = args.next().map_or(Ok(60.0), |a| a.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join(format!("target/bench/radial_{n}"));
    build_basin(&dir, n, duration_s)?;
    let scenario_path = dir.join("scenarios/dam_break.toml");

    let pairs: usize = args.next().map_or(Ok(1), |a| a.parse())?;
    let options = RunOptions {
        threads,
        force: true,
        ..RunOptions::default()
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let basin = Arc::new(Basin::load(&dir)?);
    let scenario = Scenario::load(&scenario_path, &basin)?;
    // The run and the solver alone take turns, so that a machine whose speed drifts
    // (other work, clocks) weighs on both alike; each pair gives a ratio. Every other
    // pair starts with the solver alone, so that a drift within a pair, or the run's
    // result files still being written out by the system, does not favour one of them.
    let mut ratios = Vec::new();
    for pair in 0..pairs.max(1) {
        let run = || basin::run(&scenario_path, &dir.join("out"), &options, |_| {});
        let alone = || -> Result<_, Box<dyn Error>> {
            let mut solver = build_solver(&basin, &scenario)?;
            let started = Instant::now();
            pool.install(|| solver.advance_to(duration_s))?;
            Ok((solver, started.elapsed().as_secs_f64()))
        };
        let (summary, (solver, wall)) = if pair % 2 == 0 {
            let summary = run()?;
            (summary, alone()?)
        } else {
            let alone = alone()?;
            (run()?, alone)
        };
        let run_rate = summary.cell_updates_per_s;
        let solver_rate = solver.steps() as f64 * (n * n) as f64 / wall;
        let ratio = 100.0 * run_rate / solver_rate;
        ratios.push(ratio);
        println!(
            "{n}²  threads {}: run {:.1} M/s ({} steps, {:.1} s), solver alone {:.1} M/s ({} \
             steps, {:.1} s): run / solver = {ratio:.0} %",
            pool.current_num_threads(),
            run_rate / 1e6,
            summary.steps,
            summary.wall_time_s,
            solver_rate / 1e6,
            solver.steps(),
            wall,
        );
    }
    if ratios.len() > 1 {
        ratios.sort_by(f64::total_cmp);
        println!(
            "{n}²  threads {}: run / solver over {} pairs: median {:.0} %, from {:.0} to {:.0} %",
            pool.current_num_threads(),
            ratios.len(),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
    Ok(())
}

fn build_basin(dir: &Path, n: usize, duration_s: f64) -> Result<(), Box<dyn Error>> {
    let grid = GeoGrid {
        rows: n,
        cols: n,
        origin_x: 500_000.0,
        origin_y: 8_000_000.0,
        dx: 5.0,
        dy: -5.0,
    };
    std::fs::create_dir_all(dir.join("scenarios"))?;
    write_geotiff(
        &dir.join("dem.tif"),
        &grid,
        WKT,
        -9999.0,
        &Array2::zeros((n, n)),
    )?;
    let centre = n as f64 / 2.0;
    let depth = Array2::from_shape_fn((n, n), |(r, c)| {
        let d = ((r as f64 + 0.5 - centre).powi(2) + (c as f64 + 0.5 - centre).powi(2)).sqrt();
        if d < n as f64 / 4.0 { 10.0 } else { 1.0 }
    });
    write_geotiff(&dir.join("depth.tif"), &grid, WKT, -9999.0, &depth)?;
    std::fs::write(
        dir.join("basin.toml"),
        "name = \"Radial dam break (benchmark)\"\ndescription = \"Flat, walls\"\n\
         dem = \"dem.tif\"\n\n[roughness]\nconstant = 0.03\n\n\
         [initial_water]\ndepth_raster = \"depth.tif\"\n",
    )?;
    std::fs::write(
        dir.join("scenarios/dam_break.toml"),
        format!(
            "name = \"Radial dam break\"\ndescription = \"Released at t = 0\"\n\
             duration_s = {duration_s}\noutput_interval_s = {}\n",
            duration_s / 6.0
        ),
    )?;
    Ok(())
}
