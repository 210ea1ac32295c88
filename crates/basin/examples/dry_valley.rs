//! Benchmark: a dam break down a dry valley, the dense sweep against the active-tile sweep.
//!
//! The basin is built from the bundled Jacksboro DEM (90 m, UTM 16N), resampled
//! bilinearly to a finer grid (90 m / `refine`; 5 gives 700 × 700 = 490 000 cells at
//! 18 m), clipped to the valley below the 480 m contour (an irregular nodata outline, as
//! a modeller clips a floodplain model), with the bundled basin's earth dam raised to
//! 370 m and its reservoir filled to 368 m. The dam breaches at t = 0 (down to 348 m over
//! 300 s) while a flood (50 → 400 → 200 m³/s) comes down the gorge into the reservoir, and
//! the water runs down the dry valley to a free outflow on the east edge.
//!
//! Both sweeps run the same scenario through the run engine; the example checks that
//! every result GeoTIFF and `gauges.csv` are the same bytes and reports wall times,
//! cell-updates and the share of active cells that were wet.
//!
//! `cargo run --release -p basin --example dry_valley -- [refine] [threads] [duration_s]`
//! (defaults 5, all cores, 3600). `TILE=RxC` measures another tile size.

use std::collections::VecDeque;
use std::error::Error;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use basin::raster::{GeoGrid, Resample, read_raster, write_geotiff};
use basin::{Basin, Event, Run, Scenario};
use hydro::Sweep;
use ndarray::Array2;

const RIM_M: f64 = 480.0;
const CREST_M: f64 = 370.0;
const LEVEL_M: f64 = 368.0;
/// The bundled basin's dam: cell centres of its crest (row 80, 90 m cells).
const DAM_WEST_X: f64 = 746_644.2;
const DAM_EAST_X: f64 = 746_914.2;
const DAM_Y: f64 = 4_054_781.2;
/// A point in the reservoir (the bundled basin's Reservoir gauge).
const POOL: (f64, f64) = (746_464.2, 4_055_051.2);

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let refine: usize = args.next().map_or(Ok(5), |a| a.parse())?;
    let threads: usize = args.next().map_or(Ok(0), |a| a.parse())?;
    let duration_s: f64 = args.next().map_or(Ok(3600.0), |a| a.parse())?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = root.join("target/bench/dry_valley");
    let cells = build_basin(
        &root.join("basins/jacksboro_valley/dem.tif"),
        &dir,
        refine,
        duration_s,
    )?;
    println!("basin: {} ({cells})", dir.display());

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let mut walls = Vec::new();
    for sweep in [Sweep::Dense, Sweep::Active] {
        let out = dir.join(format!("out_{sweep:?}").to_lowercase());
        let (wall, report) = pool
            .install(|| run(&dir, sweep, &out))
            .map_err(|e| e.to_string())?;
        println!("{sweep:?}: {wall:.1} s wall, {report}");
        walls.push((wall, out));
    }
    let (dense, active) = (&walls[0], &walls[1]);
    let mut same = true;
    for entry in std::fs::read_dir(&dense.1)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".tif") || name == "gauges.csv" {
            let a = std::fs::read(dense.1.join(&*name))?;
            let b = std::fs::read(active.1.join(&*name))?;
            if a != b {
                println!("DIFFERENT: {name}");
                same = false;
            }
        }
    }
    println!(
        "threads {}: dense {:.1} s, active tiles {:.1} s, {:.2}× faster; outputs {}",
        pool.current_num_threads(),
        dense.0,
        active.0,
        dense.0 / active.0,
        if same { "byte-identical" } else { "DIFFER" }
    );
    if !same {
        return Err("the tiled run differs from the dense run".into());
    }
    Ok(())
}

/// Run the benchmark scenario with `sweep`; returns the wall time of the stepping and a
/// line of figures. Results go to `out`.
fn run(
    dir: &Path,
    sweep: Sweep,
    out: &Path,
) -> Result<(f64, String), Box<dyn Error + Send + Sync>> {
    let basin = Arc::new(Basin::load(dir)?);
    let scenario = Arc::new(Scenario::load(
        &dir.join("scenarios/dam_break.toml"),
        &basin,
    )?);
    let mut run = Run::new(basin, scenario)?;
    run.solver_mut().set_sweep(sweep);
    if let Some((r, c)) = std::env::var("TILE").ok().and_then(|v| {
        let (r, c) = v.split_once('x')?;
        Some((r.parse().ok()?, c.parse().ok()?))
    }) {
        run.solver_mut().set_tile_size(r, c);
    }
    let active = run.active_cells() as f64;
    let (mut wet_share, mut samples) = (0.0, 0);
    let started = Instant::now();
    loop {
        let events = run.step(None)?;
        // The share of active cells that are wet, every 25th step (it is a pass over the
        // whole grid, which would weigh on the tiled run).
        if run.solver().steps() % 25 == 0 {
            wet_share += run.solver().summary().wet_cells as f64 / active;
            samples += 1;
        }
        if events.contains(&Event::Finished) {
            break;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    run.write_results(out, wall, "complete", rayon::current_num_threads())?;
    let steps = run.solver().steps() as f64;
    let swept = run.solver().swept_cells() as f64;
    Ok((
        wall,
        format!(
            "{} steps, wet {:.1} % of active cells on average (every 25th step), swept {:.1} % of active cells per \
             step, {:.1} M active-cell updates/s",
            steps,
            100.0 * wet_share / samples as f64,
            100.0 * swept / (steps * active),
            steps * active / wall / 1e6
        ),
    ))
}

/// Write the benchmark basin into `dir`; returns a description of its grid.
fn build_basin(
    source: &Path,
    dir: &Path,
    refine: usize,
    duration_s: f64,
) -> Result<String, Box<dyn Error>> {
    let src = read_raster(source)?;
    let g = src.grid;
    let grid = GeoGrid {
        rows: g.rows * refine,
        cols: g.cols * refine,
        origin_x: g.origin_x,
        origin_y: g.origin_y,
        dx: g.dx / refine as f64,
        dy: g.dy / refine as f64,
    };
    let mut bed = src.resample_onto(&grid, Resample::Bilinear);
    let half = g.dx / 2.0;
    let mut dam = Vec::new();
    for ((r, c), z) in bed.indexed_iter_mut() {
        let (x, y) = grid.centre(r, c);
        if *z > RIM_M {
            *z = f64::NAN;
        } else if (DAM_WEST_X - half..=DAM_EAST_X + half).contains(&x)
            && (DAM_Y - half..=DAM_Y + half).contains(&y)
        {
            *z = CREST_M;
            dam.push((r, c));
        }
    }
    let depth = reservoir(&bed, &grid)?;
    let active = bed.iter().filter(|z| z.is_finite()).count();
    let pool = depth.iter().filter(|&&d| d > 0.0).count();

    std::fs::create_dir_all(dir.join("scenarios"))?;
    write_geotiff(&dir.join("dem.tif"), &grid, &src.crs_wkt, -9999.0, &bed)?;
    write_geotiff(
        &dir.join("reservoir_depth.tif"),
        &grid,
        &src.crs_wkt,
        -9999.0,
        &depth,
    )?;
    std::fs::write(
        dir.join("basin.toml"),
        format!(
            "name = \"Jacksboro dry valley (benchmark)\"\n\
             description = \"The Jacksboro DEM at {:.0} m below the {RIM_M} m contour, with a dam \
             and full reservoir\"\n\
             dem = \"dem.tif\"\n\n[roughness]\nconstant = 0.035\n\n\
             [initial_water]\ndepth_raster = \"reservoir_depth.tif\"\n\n\
             [[gauges]]\nname = \"Reservoir\"\nx = {}\ny = {}\n\n\
             [[gauges]]\nname = \"Lower valley\"\nx = 749524.2\ny = 4053701.2\n",
            grid.dx, POOL.0, POOL.1
        ),
    )?;
    let (west, east) = (DAM_WEST_X - half / 2.0, DAM_EAST_X + half / 2.0);
    std::fs::write(
        dir.join("scenarios/dam_break.toml"),
        format!(
            "name = \"Instant dam break\"\n\
             description = \"The dam fails at t = 0 and the reservoir empties down the dry valley\"\n\
             duration_s = {duration_s}\noutput_interval_s = 600.0\n\n\
             [[point_sources]]\nx = 744484.2\ny = 4059101.2\n\
             discharge_m3_s = [[0, 50], [1800, 400], [3600, 200]]\n\n\
             [[boundaries]]\nkind = \"free_outflow\"\nedge = \"east\"\n\n\
             [[breaches]]\nline = [[{west}, {DAM_Y}], [{east}, {DAM_Y}]]\nfinal_bed_m = 348.0\n\
             formation_time_s = 300.0\ntrigger = {{ kind = \"at_time\", time_s = 0.0 }}\n"
        ),
    )?;
    Ok(format!(
        "{} × {} cells of {:.0} m, {active} active ({:.0} %), reservoir {pool} cells, dam {} cells",
        grid.cols,
        grid.rows,
        grid.dx,
        100.0 * active as f64 / (grid.rows * grid.cols) as f64,
        dam.len()
    ))
}

/// Depth of the reservoir: cells below the pool level connected to the pool point (4
/// neighbours), filled to the level. Refuses a pool that leaks past the dam.
fn reservoir(bed: &Array2<f64>, grid: &GeoGrid) -> Result<Array2<f64>, Box<dyn Error>> {
    let seed = grid
        .cell_of(POOL.0, POOL.1)
        .ok_or("the pool point is off the grid")?;
    let mut depth = Array2::<f64>::zeros(bed.dim());
    let mut queue = VecDeque::from([seed]);
    depth[seed] = LEVEL_M - bed[seed];
    while let Some((r, c)) = queue.pop_front() {
        let (_, y) = grid.centre(r, c);
        if y < DAM_Y - grid.dx.abs() * 5.0 {
            return Err(format!("the reservoir leaks past the dam at row {r}, column {c}").into());
        }
        let neighbours = [
            (r.wrapping_sub(1), c),
            (r + 1, c),
            (r, c.wrapping_sub(1)),
            (r, c + 1),
        ];
        for n in neighbours {
            if n.0 < bed.nrows() && n.1 < bed.ncols() && depth[n] == 0.0 && bed[n] < LEVEL_M {
                depth[n] = LEVEL_M - bed[n];
                queue.push_back(n);
            }
        }
    }
    Ok(depth)
}
