//! A scenario resolved against its basin: map coordinates snapped to cells and edges,
//! series loaded, everything checked before a run starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hydro::{Boundaries, Breach, BreachTrigger, Edge, EdgeBoundary, PointSource, TimeSeries};

use crate::basin::Basin;
use crate::config::Observation;
use crate::config::{BoundaryKind, BoundarySpec, ScenarioFile, TriggerSpec, read_toml};
use crate::error::{BasinError, Result};
use crate::rainframes::RainFrames;
use crate::raster::GeoGrid;

#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub file: ScenarioFile,
    pub boundaries: Boundaries,
    pub rain_mm_per_h: Option<TimeSeries>,
    /// Gridded rain (radar or forecast frames), resampled onto the DEM as a run reaches
    /// each frame.
    pub rain_frames: Option<Arc<RainFrames>>,
    pub point_sources: Vec<PointSource>,
    /// The upstream catchments' runs (their discharge is among `point_sources`).
    pub catchments: Vec<crate::catchments::CatchmentFlow>,
    pub breaches: Vec<Breach>,
    /// Weirs, gates, culverts, pumps and releases placed on the DEM, with their operation.
    pub structures: Vec<crate::structures::PlacedStructure>,
    /// Flood detention areas (their inlets are among `structures`).
    pub detention_areas: Vec<crate::structures::DetentionArea>,
    /// CSV files read, for the run summary.
    pub inputs: Vec<PathBuf>,
    /// Series fed by observations: where each ends and what follows it.
    pub observed: Vec<Observation>,
}

/// How far (in cells) a `from`/`to` point may lie from the edge it is snapped to.
const EDGE_SNAP_CELLS: f64 = 3.0;

/// The most output times (gauge rows, snapshots) a scenario may ask for: a 30-day run
/// at one output a minute is 43 200.
pub const MAX_OUTPUTS: u64 = 100_000;

impl Scenario {
    pub fn load(path: &Path, basin: &Basin) -> Result<Self> {
        let (file, origin) = read_scenario_file(path)?;
        // Relative paths in a scenario are relative to the file that gives them: the
        // base scenario's, for a file that extends one.
        let base = origin.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut inputs = Vec::new();
        if origin != path {
            inputs.push(origin.clone());
        }
        let bad =
            |key: &str, problem: String, fix: &str| BasinError::invalid(path, key, problem, fix);

        if !(file.duration_s.is_finite() && file.duration_s > 0.0) {
            return Err(bad(
                "duration_s",
                format!("is {}", file.duration_s),
                "give the simulated duration in seconds, > 0",
            ));
        }
        if !(file.output_interval_s.is_finite() && file.output_interval_s > 0.0) {
            return Err(bad(
                "output_interval_s",
                format!("is {}", file.output_interval_s),
                "give an interval in seconds, > 0",
            ));
        }
        let outputs = (file.duration_s / file.output_interval_s).ceil();
        if outputs > MAX_OUTPUTS as f64 {
            return Err(bad(
                "output_interval_s",
                format!(
                    "of {} s over duration_s = {} s would write {outputs} outputs, more than {MAX_OUTPUTS}",
                    file.output_interval_s, file.duration_s
                ),
                &format!(
                    "give an interval of at least {} s",
                    file.duration_s / MAX_OUTPUTS as f64
                ),
            ));
        }
        let a = file.adjust;
        for (key, v, least) in [
            ("adjust.rain_scale", a.rain_scale, 0.0),
            ("adjust.manning_scale", a.manning_scale, f64::MIN_POSITIVE),
            ("adjust.inflow_scale", a.inflow_scale, 0.0),
            (
                "adjust.storm_duration_scale",
                a.storm_duration_scale,
                f64::MIN_POSITIVE,
            ),
        ] {
            if !(v.is_finite() && v >= least) {
                return Err(bad(
                    key,
                    format!("is {v}"),
                    if least > 0.0 {
                        "give a multiplier > 0 (1 leaves the value as it is)"
                    } else {
                        "give a multiplier ≥ 0 (1 leaves the value as it is)"
                    },
                ));
            }
        }
        if !a.initial_level_change_m.is_finite() {
            return Err(bad(
                "adjust.initial_level_change_m",
                format!("is {}", a.initial_level_change_m),
                "give a change of the initial water level in metres (0 leaves it as it is)",
            ));
        }
        let grid = basin.grid();
        let observed = std::cell::RefCell::new(Vec::new());
        let series = |spec: &crate::config::SeriesSpec,
                      key: &str,
                      inputs: &mut Vec<PathBuf>|
         -> Result<TimeSeries> {
            match spec {
                crate::config::SeriesSpec::Csv { csv } => inputs.push(base.join(csv)),
                crate::config::SeriesSpec::Observed {
                    observed, forecast, ..
                } => {
                    inputs.push(base.join(observed));
                    if let crate::config::ForecastTail::File(f) = forecast {
                        inputs.push(base.join(f));
                    }
                }
                crate::config::SeriesSpec::Inline(_) => {}
            }
            let (s, o) = spec.load_observed(&base, path, key)?;
            observed.borrow_mut().extend(o);
            Ok(s)
        };

        let rain_mm_per_h = match file.rain.as_ref().and_then(|r| r.rain_mm_per_h.as_ref()) {
            Some(r) => {
                let s = series(r, "rain.rain_mm_per_h", &mut inputs)?;
                s.require_non_negative("rain_mm_per_h").map_err(|e| {
                    bad(
                        "rain.rain_mm_per_h",
                        e.to_string(),
                        "rain intensities are ≥ 0 mm/h",
                    )
                })?;
                Some(adjusted_rain(s, &a).map_err(|e| {
                    bad(
                        "adjust.rain_scale",
                        e.to_string(),
                        "give a finite multiplier",
                    )
                })?)
            }
            None => None,
        };

        let rain_frames = match file.rain.as_ref().and_then(|r| r.frames.as_ref()) {
            Some(spec) => {
                if a.storm_duration_scale != 1.0 {
                    return Err(bad(
                        "adjust.storm_duration_scale",
                        format!("is {}, but the rain is frames", a.storm_duration_scale),
                        "stretch a rain_mm_per_h series only; frames keep their times",
                    ));
                }
                let frames = RainFrames::load(spec, &base, path, basin)?;
                inputs.extend(frames.inputs.iter().cloned());
                observed.borrow_mut().extend(frames.observation.clone());
                Some(Arc::new(frames))
            }
            None => None,
        };
        if let Some(r) = &file.rain
            && r.rain_mm_per_h.is_none()
            && r.frames.is_none()
        {
            return Err(bad(
                "rain",
                "gives neither rain_mm_per_h nor frames".into(),
                "give rain_mm_per_h = [[time_s, mm/h], …] or a [rain.frames] table, or drop [rain]",
            ));
        }

        let mut boundaries = Boundaries::walls();
        for (i, spec) in file.boundaries.iter().enumerate() {
            let key = format!("boundaries[{i}]");
            let condition = boundary_condition(spec, &key, path, |s, k| series(s, k, &mut inputs))?;
            boundaries = match (spec.edge, spec.from, spec.to) {
                (Some(edge), None, None) => {
                    if spec.kind.is_forcing() {
                        let len = edge_len(grid, edge);
                        check_active_along(basin, edge, 0, len - 1)
                            .map_err(|m| bad(&key, m.0, &m.1))?;
                    }
                    boundaries.with_edge(edge, condition)
                }
                (edge, Some(from), Some(to)) => {
                    let fix = "put the point on (or within 3 cells of) the DEM's edge";
                    let (e1, p1) = snap_to_edge(grid, from)
                        .map_err(|m| bad(&format!("{key}.from"), m, fix))?;
                    let (e2, p2) =
                        snap_to_edge(grid, to).map_err(|m| bad(&format!("{key}.to"), m, fix))?;
                    if e1 != e2 {
                        return Err(bad(
                            &key,
                            format!("`from` is on the {e1:?} edge but `to` on the {e2:?} edge"),
                            "a stretch lies along one edge; split it into one boundary per edge",
                        ));
                    }
                    if let Some(named) = edge
                        && named != e1
                    {
                        return Err(bad(
                            &format!("{key}.edge"),
                            format!("is {named:?} but `from` and `to` lie on the {e1:?} edge"),
                            "fix the edge name or the points",
                        ));
                    }
                    let (first, last) = (p1.min(p2), p1.max(p2));
                    if spec.kind.is_forcing() {
                        check_active_along(basin, e1, first, last)
                            .map_err(|m| bad(&key, m.0, &m.1))?;
                    }
                    boundaries.with_segment(e1, first, last, condition)
                }
                _ => {
                    return Err(bad(
                        &key,
                        "needs either `edge` or both `from` and `to`".into(),
                        "e.g. edge = \"north\", or from = [x, y] and to = [x, y] on one edge",
                    ));
                }
            };
        }
        let mut point_sources = Vec::new();
        for (i, p) in file.point_sources.iter().enumerate() {
            let key = format!("point_sources[{i}]");
            if let Some(r) = p.radius_m
                && !(r.is_finite() && r >= 0.0)
            {
                return Err(bad(
                    &format!("{key}.radius_m"),
                    format!("is {r}"),
                    "give a radius in metres ≥ 0",
                ));
            }
            let q = series(
                &p.discharge_m3_s,
                &format!("{key}.discharge_m3_s"),
                &mut inputs,
            )?;
            let cells = cells_near(basin, p.x, p.y, p.radius_m.unwrap_or(0.0));
            if cells.is_empty() {
                let (x0, y0, x1, y1) = grid.extent();
                return Err(bad(
                    &key,
                    format!("at ({}, {}) has no active DEM cell", p.x, p.y),
                    &format!("the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1}"),
                ));
            }
            let share = 1.0 / cells.len() as f64;
            let scaled = TimeSeries::new(q.points().map(|(t, v)| (t, v * share)).collect())
                .map_err(|e| bad(&key, e.to_string(), ""))?;
            for (row, col) in cells {
                point_sources.push(PointSource {
                    row,
                    col,
                    discharge_m3_s: scaled.clone(),
                });
            }
        }

        let mut catchments = Vec::new();
        for (i, c) in file.catchments.iter().enumerate() {
            let key = format!("catchments[{i}]");
            c.check(file.duration_s)
                .map_err(|(k, problem, fix)| bad(&format!("{key}.{k}"), problem, &fix))?;
            let rain = series(
                &c.rain_mm_per_h,
                &format!("{key}.rain_mm_per_h"),
                &mut inputs,
            )?;
            // The scenario's rain multiplier and storm stretch apply to the catchment's
            // rain as to the grid's.
            let rain = adjusted_rain(rain, &a)
                .map_err(|e| bad(&format!("{key}.rain_mm_per_h"), e.to_string(), ""))?;
            let evaporation = match &c.evaporation_mm_per_day {
                Some(e) => Some(series(
                    e,
                    &format!("{key}.evaporation_mm_per_day"),
                    &mut inputs,
                )?),
                None => None,
            };
            let cells = cells_near(basin, c.x, c.y, c.radius_m.unwrap_or(0.0));
            if cells.is_empty() {
                let (x0, y0, x1, y1) = grid.extent();
                return Err(bad(
                    &key,
                    format!(
                        "enters at ({}, {}), where there is no active DEM cell",
                        c.x, c.y
                    ),
                    &format!("the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1}"),
                ));
            }
            let mut flow =
                crate::catchments::simulate(c, file.duration_s, &rain, evaporation.as_ref());
            let share = 1.0 / cells.len() as f64;
            let q = TimeSeries::new(
                flow.discharge_m3_s
                    .points()
                    .map(|(t, v)| (t, v * share))
                    .collect(),
            )
            .map_err(|e| bad(&key, e.to_string(), ""))?;
            for &(row, col) in &cells {
                point_sources.push(PointSource {
                    row,
                    col,
                    discharge_m3_s: q.clone(),
                });
            }
            flow.cells = cells;
            catchments.push(flow);
        }

        let mut breaches = Vec::new();
        for (i, b) in file.breaches.iter().enumerate() {
            let key = format!("breaches[{i}]");
            if b.line.is_empty() {
                return Err(bad(
                    &format!("{key}.line"),
                    "is empty".into(),
                    "give the crest as [[x, y], [x, y], …]",
                ));
            }
            for (j, p) in b.line.iter().enumerate() {
                if grid.cell_of(p[0], p[1]).is_none() {
                    let (x0, y0, x1, y1) = grid.extent();
                    return Err(bad(
                        &format!("{key}.line[{j}]"),
                        format!("({}, {}) is outside the DEM", p[0], p[1]),
                        &format!("the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1}"),
                    ));
                }
            }
            let cells: Vec<(usize, usize)> = line_cells(grid, &b.line)
                .into_iter()
                .filter(|&(r, c)| basin.active[(r, c)])
                .collect();
            let trigger = match &b.trigger {
                TriggerSpec::AtTime { time_s } => BreachTrigger::AtTime { time_s: *time_s },
                TriggerSpec::Manual => BreachTrigger::Manual,
                TriggerSpec::WaterLevel { x, y, level_m } => {
                    let (row, col) = grid.cell_of(*x, *y).ok_or_else(|| {
                        bad(
                            &format!("{key}.trigger"),
                            format!("point ({x}, {y}) is outside the DEM"),
                            "put the trigger point in the reservoir",
                        )
                    })?;
                    BreachTrigger::WaterLevel {
                        row,
                        col,
                        level_m: *level_m,
                    }
                }
            };
            let Some(crest_m) = cells
                .iter()
                .map(|&cell| basin.bed_m.at(cell))
                .max_by(f64::total_cmp)
            else {
                return Err(bad(
                    &format!("{key}.line"),
                    "crosses no active DEM cell (only nodata)".into(),
                    "draw the line along the dam or levee crest, on the DEM's data",
                ));
            };
            // NaN too: it lowers nothing.
            if b.final_bed_m.is_nan() || b.final_bed_m >= crest_m {
                return Err(bad(
                    &format!("{key}.final_bed_m"),
                    format!(
                        "is {} m, not below the crest along the line (highest bed {crest_m:.2} m), so the breach would lower nothing",
                        b.final_bed_m
                    ),
                    "give the elevation the breach erodes down to, below the crest",
                ));
            }
            breaches.push(Breach {
                cells,
                final_bed_m: b.final_bed_m,
                formation_time_s: b.formation_time_s,
                trigger,
            });
        }

        let mut structures = crate::structures::place(&file.structures, basin, path)?;
        let detention_areas = crate::structures::place_detention(
            &file.detention_areas,
            basin,
            path,
            &mut structures,
        )?;

        Ok(Self {
            path: path.to_path_buf(),
            structures,
            detention_areas,
            file,
            boundaries,
            rain_mm_per_h,
            rain_frames,
            point_sources,
            catchments,
            breaches,
            inputs,
            observed: observed.into_inner(),
        })
    }

    /// The time up to which every observed series is known: the earliest of their last
    /// observations. `None` without observed series.
    pub fn last_observation_s(&self) -> Option<f64> {
        self.observed.iter().map(|o| o.last_s).reduce(f64::min)
    }

    /// The basin folder of a scenario file: `<basin>/scenarios/<name>.toml`.
    pub fn basin_dir(path: &Path) -> Result<PathBuf> {
        // A scenario that extends another belongs to that one's basin.
        if let Some(base) = extends_of(path)? {
            return Self::basin_dir(&base);
        }
        // Relative to the working directory: `scenarios/x.toml` run from inside the
        // basin folder has the basin at `.`, and `x.toml` from inside scenarios/ at `..`.
        let absolute = std::path::absolute(path).map_err(|cause| BasinError::Io {
            path: path.to_path_buf(),
            cause,
            fix: "check the working directory still exists",
        })?;
        let dir = absolute
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_default();
        // Shown relative to the working directory where the path given was relative.
        let dir = match std::env::current_dir() {
            Ok(cwd) if path.is_relative() => match dir.strip_prefix(&cwd) {
                Ok(p) if p.as_os_str().is_empty() => PathBuf::from("."),
                Ok(p) => p.to_path_buf(),
                Err(_) => dir,
            },
            _ => dir,
        };
        if dir.join("basin.toml").is_file() {
            Ok(dir)
        } else {
            Err(BasinError::invalid(
                path,
                "location",
                format!(
                    "is not in a basin's scenarios/ folder (no {})",
                    dir.join("basin.toml").display()
                ),
                "scenario files live in <basin>/scenarios/",
            ))
        }
    }
}

fn boundary_condition(
    spec: &BoundarySpec,
    key: &str,
    path: &Path,
    mut series: impl FnMut(&crate::config::SeriesSpec, &str) -> Result<TimeSeries>,
) -> Result<EdgeBoundary> {
    let bad = |k: &str, problem: &str, fix: &str| {
        BasinError::invalid(path, format!("{key}.{k}"), problem, fix)
    };
    let unused = |present: bool, k: &str| -> Result<()> {
        if present {
            Err(bad(
                k,
                &format!("is not used by kind = \"{:?}\"", spec.kind).to_lowercase(),
                "remove it, or change the kind",
            ))
        } else {
            Ok(())
        }
    };
    match spec.kind {
        BoundaryKind::Inflow => {
            unused(spec.level_m.is_some(), "level_m")?;
            unused(spec.slope.is_some(), "slope")?;
            let q = spec.discharge_m3_s.as_ref().ok_or_else(|| {
                bad(
                    "discharge_m3_s",
                    "is missing",
                    "an inflow needs discharge_m3_s = [[t, Q], …]",
                )
            })?;
            let q = series(q, &format!("{key}.discharge_m3_s"))?;
            q.require_non_negative("discharge_m3_s")
                .map_err(|e| bad("discharge_m3_s", &e.to_string(), "inflows are ≥ 0 m³/s"))?;
            Ok(EdgeBoundary::Inflow { discharge_m3_s: q })
        }
        BoundaryKind::Stage => {
            unused(spec.discharge_m3_s.is_some(), "discharge_m3_s")?;
            unused(spec.slope.is_some(), "slope")?;
            let l = spec.level_m.as_ref().ok_or_else(|| {
                bad(
                    "level_m",
                    "is missing",
                    "a stage boundary needs level_m = [[t, level], …]",
                )
            })?;
            Ok(EdgeBoundary::Stage {
                level_m: series(l, &format!("{key}.level_m"))?,
            })
        }
        BoundaryKind::NormalDepth => {
            unused(spec.discharge_m3_s.is_some(), "discharge_m3_s")?;
            unused(spec.level_m.is_some(), "level_m")?;
            let slope = spec.slope.ok_or_else(|| {
                bad(
                    "slope",
                    "is missing",
                    "normal depth needs the bed slope, e.g. slope = 0.001",
                )
            })?;
            if !(slope.is_finite() && slope > 0.0) {
                return Err(bad(
                    "slope",
                    &format!("is {slope}"),
                    "the slope must be > 0 (m/m)",
                ));
            }
            Ok(EdgeBoundary::NormalDepth { slope })
        }
        BoundaryKind::FreeOutflow | BoundaryKind::Wall => {
            unused(spec.discharge_m3_s.is_some(), "discharge_m3_s")?;
            unused(spec.level_m.is_some(), "level_m")?;
            unused(spec.slope.is_some(), "slope")?;
            Ok(if spec.kind == BoundaryKind::Wall {
                EdgeBoundary::Wall
            } else {
                EdgeBoundary::FreeOutflow
            })
        }
    }
}

fn edge_len(grid: &GeoGrid, edge: Edge) -> usize {
    match edge {
        Edge::North | Edge::South => grid.cols,
        Edge::West | Edge::East => grid.rows,
    }
}

/// The cell (row, col) at position `i` along `edge`.
fn edge_cell(grid: &GeoGrid, edge: Edge, i: usize) -> (usize, usize) {
    match edge {
        Edge::North => (0, i),
        Edge::South => (grid.rows - 1, i),
        Edge::West => (i, 0),
        Edge::East => (i, grid.cols - 1),
    }
}

/// An inflow or stage on cells `first..=last` of `edge` needs at least one active
/// (data) cell there, or nothing would enter. The error says where the edge's active
/// cells are.
fn check_active_along(
    basin: &Basin,
    edge: Edge,
    first: usize,
    last: usize,
) -> Result<(), (String, String)> {
    let grid = basin.grid();
    if (first..=last).any(|i| basin.active[edge_cell(grid, edge, i)]) {
        return Ok(());
    }
    let point = |i: usize| {
        let (row, col) = edge_cell(grid, edge, i);
        let (x, y) = grid.centre(row, col);
        format!("({x:.1}, {y:.1})")
    };
    let active: Vec<usize> = (0..edge_len(grid, edge))
        .filter(|&i| basin.active[edge_cell(grid, edge, i)])
        .collect();
    let fix = match (active.first(), active.last()) {
        (Some(&a), Some(&b)) => format!(
            "the {edge:?} edge has data from {} to {}: move the segment onto it, or use another edge",
            point(a),
            point(b)
        ),
        _ => format!(
            "the whole {edge:?} edge is nodata: put the inflow on an edge the DEM's data reaches, or use a point source inside the basin"
        ),
    };
    Err((
        format!(
            "lies on {} to {} of the {edge:?} edge, where every cell is nodata (inactive), so no water would enter",
            point(first),
            point(last)
        ),
        fix,
    ))
}

/// The edge nearest to a map point and the cell position along it.
fn snap_to_edge(grid: &GeoGrid, p: [f64; 2]) -> Result<(Edge, usize), String> {
    if !(p[0].is_finite() && p[1].is_finite()) {
        return Err(format!("({}, {}) is not a point on the map", p[0], p[1]));
    }
    let (fr, fc) = grid.fractional(p[0], p[1]);
    let (rows, cols) = (grid.rows as f64, grid.cols as f64);
    let candidates = [
        (Edge::North, fr.abs(), fc),
        (Edge::South, (fr - rows).abs(), fc),
        (Edge::West, fc.abs(), fr),
        (Edge::East, (fc - cols).abs(), fr),
    ];
    let (edge, distance, along) = candidates
        .into_iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("four candidates");
    let len = edge_len(grid, edge);
    if distance > EDGE_SNAP_CELLS
        || along < -EDGE_SNAP_CELLS
        || along > len as f64 + EDGE_SNAP_CELLS
    {
        return Err(format!(
            "({}, {}) is {:.1} cells from the nearest ({edge:?}) edge",
            p[0], p[1], distance
        ));
    }
    Ok((edge, (along.max(0.0) as usize).min(len - 1)))
}

/// Active cells whose centre lies within `radius` of (x, y); at least the containing cell.
fn cells_near(basin: &Basin, x: f64, y: f64, radius: f64) -> Vec<(usize, usize)> {
    let grid = basin.grid();
    let mut cells: Vec<(usize, usize)> = Vec::new();
    if radius > 0.0 {
        let (fr, fc) = grid.fractional(x, y);
        // Only the cells of the grid within reach are visited, however large the radius.
        let reach_r = (radius / grid.cell_size_y()).ceil().min(grid.rows as f64) as isize + 1;
        let reach_c = (radius / grid.cell_size_x()).ceil().min(grid.cols as f64) as isize + 1;
        let fr = fr.clamp(-1.0, grid.rows as f64) as isize;
        let fc = fc.clamp(-1.0, grid.cols as f64) as isize;
        for r in (fr - reach_r).max(0)..=(fr + reach_r).min(grid.rows as isize - 1) {
            for c in (fc - reach_c).max(0)..=(fc + reach_c).min(grid.cols as isize - 1) {
                let (cx, cy) = grid.centre(r as usize, c as usize);
                if (cx - x).hypot(cy - y) <= radius && basin.active[(r as usize, c as usize)] {
                    cells.push((r as usize, c as usize));
                }
            }
        }
    }
    if cells.is_empty()
        && let Some(cell) = grid.cell_of(x, y)
        && basin.active[cell]
    {
        cells.push(cell);
    }
    cells
}

/// Cells crossed by a polyline, in order, each once (sampled at a quarter cell).
pub fn line_cells(grid: &GeoGrid, line: &[[f64; 2]]) -> Vec<(usize, usize)> {
    let step = grid.cell_size_x().min(grid.cell_size_y()) / 4.0;
    let mut cells: Vec<(usize, usize)> = Vec::new();
    let mut push = |x: f64, y: f64| {
        if let Some(cell) = grid.cell_of(x, y)
            && !cells.contains(&cell)
        {
            cells.push(cell);
        }
    };
    push(line[0][0], line[0][1]);
    for pair in line.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        let n = (len / step).ceil().max(1.0) as usize;
        for k in 1..=n {
            let t = k as f64 / n as f64;
            push(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]));
        }
    }
    cells
}

/// A rain series (mm/h) with `[adjust]` applied: × `rain_scale`, and stretched in time by
/// `storm_duration_scale` with its intensities divided by it (the same depth).
fn adjusted_rain(
    s: TimeSeries,
    a: &crate::config::Adjust,
) -> std::result::Result<TimeSeries, hydro::SolverError> {
    let f = a.storm_duration_scale;
    if a.rain_scale == 1.0 && f == 1.0 {
        return Ok(s);
    }
    TimeSeries::new(
        s.points()
            .map(|(t, v)| (t * f, v * a.rain_scale / f))
            .collect(),
    )
}

/// The scenario file a file extends (`extends = "…"`, relative to the file), if it does.
fn extends_of(path: &Path) -> Result<Option<PathBuf>> {
    let table: toml::Table = read_toml(path)?;
    match table.get("extends") {
        None => Ok(None),
        Some(toml::Value::String(base)) => {
            Ok(Some(path.parent().unwrap_or(Path::new(".")).join(base)))
        }
        Some(other) => Err(BasinError::invalid(
            path,
            "extends",
            format!("is {other}, not a file name"),
            "give the scenario this one starts from, e.g. extends = \"design_storm.toml\"",
        )),
    }
}

/// A scenario file, and the file its relative paths are relative to. A file with
/// `extends = "other.toml"` is that scenario with the keys it gives replaced (each
/// top-level key or table whole): a variant, such as an ensemble member with its own
/// `[adjust]`, that lives anywhere and still finds the base's basin and inputs. One level
/// only: the base may not extend another.
pub fn read_scenario_file(path: &Path) -> Result<(ScenarioFile, PathBuf)> {
    use serde::Deserialize;
    let Some(base) = extends_of(path)? else {
        return Ok((read_toml(path)?, path.to_path_buf()));
    };
    if extends_of(&base)
        .map_err(|e| match e {
            BasinError::Io { cause, .. } => BasinError::invalid(
                path,
                "extends",
                format!("names {}, which cannot be read ({cause})", base.display()),
                "give the path of an existing scenario, relative to this file",
            ),
            other => other,
        })?
        .is_some()
    {
        return Err(BasinError::invalid(
            path,
            "extends",
            format!(
                "names {}, which extends another scenario itself",
                base.display()
            ),
            "extend the scenario at the root of the chain",
        ));
    }
    let mut merged: toml::Table = read_toml(&base)?;
    for (k, v) in read_toml::<toml::Table>(path)? {
        if k != "extends" {
            merged.insert(k, v);
        }
    }
    let file =
        ScenarioFile::deserialize(toml::Value::Table(merged)).map_err(|e| BasinError::Toml {
            path: path.to_path_buf(),
            message: format!(
                "{} (with the keys of {})",
                e.message().trim(),
                base.display()
            ),
        })?;
    Ok((file, base))
}
