//! Thresholds at gauges, watch areas, and the warnings a run raises when they are crossed
//! (see docs/warnings.md).
//!
//! A threshold is crossed upwards in the first step whose end state reaches it and
//! downwards in the first step whose end state is below it by its hysteresis; each
//! crossing is a [`Warning`] with its time and its lead time from the run's issue time.
//! The state at the issue time counts too: a gauge already above a level when the run
//! starts raises its warning at once, with a lead time of 0.

use std::path::{Path, PathBuf};

use gdal::Dataset;
use gdal::DriverManager;
use gdal::vector::{Geometry, LayerAccess};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::config::{DEFAULT_HYSTERESIS_M, HazardMethod, Severity, ThresholdSpec, WatchAreaSpec};
use crate::error::{BasinError, Result};
use crate::hazard::HazardTables;
use crate::raster::{GeoGrid, Raster, crs_label, same_crs};

/// What a gauge threshold is set on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThresholdOn {
    /// Water level (m, the DEM's datum).
    LevelM(f64),
    /// Depth of water (m).
    DepthM(f64),
}

/// A named threshold at a gauge.
#[derive(Clone, Debug, PartialEq)]
pub struct Threshold {
    pub name: String,
    pub on: ThresholdOn,
    pub severity: Severity,
    /// Fall below the threshold (m) needed to count as crossed downwards.
    pub hysteresis_m: f64,
}

impl Threshold {
    /// Checked form of a `[[gauges]]` entry's `thresholds`; `key` names it in errors.
    pub fn from_spec(spec: &ThresholdSpec, file: &Path, key: &str) -> Result<Self> {
        let bad = |problem: String, fix: &str| BasinError::invalid(file, key, problem, fix);
        let on = match (spec.level_m, spec.depth_m) {
            (Some(v), None) if v.is_finite() => ThresholdOn::LevelM(v),
            (None, Some(v)) if v.is_finite() && v > 0.0 => ThresholdOn::DepthM(v),
            (Some(v), None) => {
                return Err(bad(
                    format!("has level_m = {v}"),
                    "give a finite water level in metres",
                ));
            }
            (None, Some(v)) => {
                return Err(bad(format!("has depth_m = {v}"), "give a depth > 0 m"));
            }
            _ => {
                return Err(bad(
                    "needs exactly one of `level_m` and `depth_m`".into(),
                    "e.g. { name = \"warning\", level_m = 262.0 } or { name = \"road closed\", depth_m = 0.3 }",
                ));
            }
        };
        let hysteresis_m = spec.hysteresis_m.unwrap_or(DEFAULT_HYSTERESIS_M);
        if !(hysteresis_m.is_finite() && hysteresis_m >= 0.0) {
            return Err(bad(
                format!("has hysteresis_m = {hysteresis_m}"),
                "give a fall in metres ≥ 0 (default 0.01)",
            ));
        }
        if spec.name.trim().is_empty() {
            return Err(bad("has an empty name".into(), "name it, e.g. \"warning\""));
        }
        Ok(Self {
            name: spec.name.clone(),
            on,
            severity: spec.severity,
            hysteresis_m,
        })
    }

    /// The threshold value and what it is compared with.
    pub fn value(&self) -> f64 {
        match self.on {
            ThresholdOn::LevelM(v) | ThresholdOn::DepthM(v) => v,
        }
    }

    pub fn quantity(&self) -> &'static str {
        match self.on {
            ThresholdOn::LevelM(_) => "level_m",
            ThresholdOn::DepthM(_) => "depth_m",
        }
    }
}

/// The rule of a watch area.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WatchRule {
    /// A cell inside is deeper than this (m).
    DepthAboveM(f64),
    /// A cell inside has at least this hazard class now.
    HazardAtLeast(u8),
}

impl WatchRule {
    /// A short label, e.g. `depth > 0.15 m` or `hazard ≥ H3`.
    pub fn label(&self) -> String {
        match self {
            WatchRule::DepthAboveM(d) => format!("depth > {d} m"),
            WatchRule::HazardAtLeast(k) => format!("hazard ≥ H{k}"),
        }
    }
}

/// A watched place on the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchArea {
    pub name: String,
    /// The vector file it came from.
    pub file: PathBuf,
    pub rule: WatchRule,
    /// Cells that must meet the rule (1: any cell).
    pub min_cells: usize,
    pub severity: Severity,
    /// Data cells whose centre lies inside the polygons, row-major.
    pub cells: Vec<(usize, usize)>,
}

/// The highest hazard class of any method (ARR H6; the UK rating has 4).
const MAX_HAZARD_CLASS: u8 = 6;

/// Read the watch areas of `basin.toml` (`toml_path`), each rasterised onto the DEM grid.
pub fn load_watch_areas(
    dir: &Path,
    toml_path: &Path,
    specs: &[WatchAreaSpec],
    dem: &Raster,
    active: &Array2<bool>,
) -> Result<Vec<WatchArea>> {
    let mut areas: Vec<WatchArea> = Vec::new();
    for spec in specs {
        let key = format!("watch_areas.{}", spec.name);
        let bad = |problem: String, fix: &str| BasinError::invalid(toml_path, &key, problem, fix);
        if areas.iter().any(|a| a.name == spec.name) {
            return Err(bad(
                "is named twice".into(),
                "give each watch area a name of its own",
            ));
        }
        let rule = match (spec.depth_above_m, spec.hazard_at_least) {
            (Some(d), None) if d.is_finite() && d >= 0.0 => WatchRule::DepthAboveM(d),
            (None, Some(k)) if (1..=MAX_HAZARD_CLASS).contains(&k) => WatchRule::HazardAtLeast(k),
            (Some(d), None) => {
                return Err(bad(
                    format!("has depth_above_m = {d}"),
                    "give a depth ≥ 0 m",
                ));
            }
            (None, Some(k)) => {
                return Err(bad(
                    format!("has hazard_at_least = {k}"),
                    "give a hazard class from 1 to 6 (ARR H1–H6; the UK rating has 1–4)",
                ));
            }
            _ => {
                return Err(bad(
                    "needs exactly one rule: `depth_above_m` or `hazard_at_least`".into(),
                    "e.g. depth_above_m = 0.15 (any cell wetter than 0.15 m) or hazard_at_least = 3",
                ));
            }
        };
        let min_cells = spec.min_cells.unwrap_or(1);
        if min_cells == 0 {
            return Err(bad(
                "has min_cells = 0".into(),
                "give the number of cells that must meet the rule, ≥ 1",
            ));
        }
        let path = dir.join(&spec.file);
        let mask = rasterise(
            &path,
            spec.layer.as_deref(),
            spec.feature.as_deref(),
            &dem.grid,
            &dem.path,
            &dem.crs_wkt,
        )?;
        let cells: Vec<(usize, usize)> = mask
            .indexed_iter()
            .filter(|&(cell, &inside)| inside && active[cell])
            .map(|(cell, _)| cell)
            .collect();
        if cells.is_empty() {
            let (x0, y0, x1, y1) = dem.grid.extent();
            return Err(bad(
                format!(
                    "covers no data cell of the DEM (its polygons in {} hold no cell centre)",
                    path.display()
                ),
                &format!(
                    "check the file's coordinates: the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1}"
                ),
            ));
        }
        if cells.len() < min_cells {
            return Err(bad(
                format!(
                    "has min_cells = {min_cells} but covers only {} cells",
                    cells.len()
                ),
                "lower min_cells or enlarge the polygon",
            ));
        }
        areas.push(WatchArea {
            name: spec.name.clone(),
            file: path,
            rule,
            min_cells,
            severity: spec.severity,
            cells,
        });
    }
    Ok(areas)
}

/// Cells of `grid` whose centre lies inside the polygons of a vector file (GDAL's
/// rasterisation, without "all touched").
fn rasterise(
    path: &Path,
    layer: Option<&str>,
    feature: Option<&str>,
    grid: &GeoGrid,
    dem_path: &Path,
    dem_crs_wkt: &str,
) -> Result<Array2<bool>> {
    let unreadable = |reason: String| {
        BasinError::invalid(
            path,
            "file",
            format!("cannot be read as a vector file ({reason})"),
            "give a polygon file GDAL/OGR reads (GeoJSON, GeoPackage, Shapefile), relative to the basin folder",
        )
    };
    if !path.is_file() {
        return Err(BasinError::Io {
            path: path.to_path_buf(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            fix: "check the path (relative to the basin folder)",
        });
    }
    let ds = Dataset::open(path).map_err(|e| unreadable(e.to_string()))?;
    let mut layer = match layer {
        Some(name) => ds.layer_by_name(name).map_err(|_| {
            let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
            BasinError::invalid(
                path,
                "layer",
                format!("`{name}` is not a layer of the file"),
                format!("its layers are: {}", names.join(", ")),
            )
        })?,
        None => ds
            .layer(0)
            .map_err(|_| unreadable("it has no vector layer".into()))?,
    };
    let layer_crs = layer
        .spatial_ref()
        .and_then(|s| s.to_wkt().ok())
        .unwrap_or_default();
    if !layer_crs.is_empty() && !dem_crs_wkt.is_empty() && !same_crs(dem_crs_wkt, &layer_crs) {
        return Err(BasinError::CrsMismatch {
            path_a: dem_path.to_path_buf(),
            path_b: path.to_path_buf(),
            crs_a: crs_label(dem_crs_wkt),
            crs_b: crs_label(&layer_crs),
        });
    }
    let mut geometries: Vec<Geometry> = Vec::new();
    let mut names_seen = Vec::new();
    for f in layer.features() {
        if let Some(want) = feature {
            let name = f
                .field_index("name")
                .ok()
                .and_then(|i| f.field_as_string(i).ok().flatten());
            match name {
                Some(n) if n == want => {}
                Some(n) => {
                    names_seen.push(n);
                    continue;
                }
                None => continue,
            }
        }
        let Some(g) = f.geometry() else { continue };
        // wkbPolygon (3), wkbMultiPolygon (6), with or without Z/M.
        let flat = flat_geometry_type(g.geometry_type());
        if flat != 3 && flat != 6 {
            return Err(BasinError::invalid(
                path,
                "geometry",
                format!(
                    "holds a {} where a watch area needs polygons",
                    g.geometry_name()
                ),
                "give the place's outline as a polygon",
            ));
        }
        geometries.push(g.clone());
    }
    if geometries.is_empty() {
        return Err(match feature {
            Some(want) => {
                names_seen.sort();
                names_seen.dedup();
                BasinError::invalid(
                    path,
                    "feature",
                    format!("no feature has name = `{want}`"),
                    format!(
                        "the `name` field holds: {}",
                        if names_seen.is_empty() {
                            "nothing (the layer has no `name` field)".to_string()
                        } else {
                            names_seen.join(", ")
                        }
                    ),
                )
            }
            None => unreadable("it holds no polygon".into()),
        });
    }
    let fail = |e: gdal::errors::GdalError| unreadable(e.to_string());
    let driver = DriverManager::get_driver_by_name("MEM").map_err(fail)?;
    let mut mem = driver
        .create_with_band_type::<u8, _>("", grid.cols, grid.rows, 1)
        .map_err(fail)?;
    mem.set_geo_transform(&grid.geo_transform()).map_err(fail)?;
    let burn = vec![1.0; geometries.len()];
    gdal::raster::rasterize(&mut mem, &[1], &geometries, &burn, None).map_err(fail)?;
    let buffer = mem
        .rasterband(1)
        .and_then(|b| b.read_as::<u8>((0, 0), (grid.cols, grid.rows), (grid.cols, grid.rows), None))
        .map_err(fail)?;
    let (_, values) = buffer.into_shape_and_vec();
    let mask = Array2::from_shape_vec((grid.rows, grid.cols), values)
        .map_err(|e| unreadable(e.to_string()))?;
    Ok(mask.mapv(|v| v != 0))
}

/// OGR's geometry type without its Z, M and 25D flags (OGR_GT_Flatten, in plain Rust).
fn flat_geometry_type(t: u32) -> u32 {
    const WKB_25D_BIT: u32 = 0x8000_0000;
    let t = t & !WKB_25D_BIT;
    // ISO codes: 1000s add Z, 2000s add M, 3000s add ZM.
    t % 1000
}

/// Up: the value reached the threshold (or the rule began to hold); down: it fell below
/// (or stopped holding).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// Where a warning was raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlaceKind {
    Gauge,
    WatchArea,
}

impl PlaceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PlaceKind::Gauge => "gauge",
            PlaceKind::WatchArea => "watch_area",
        }
    }
}

/// One crossing of a threshold or a watch area's rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Simulated time of the end of the step in which it was crossed (s).
    pub time_s: f64,
    /// `time_s` − the run's issue time (s).
    pub lead_time_s: f64,
    pub kind: PlaceKind,
    /// Gauge or watch-area name.
    pub place: String,
    /// Threshold name, or the watch area's rule (e.g. `depth > 0.15 m`).
    pub threshold: String,
    pub severity: Severity,
    pub direction: Direction,
    /// What was compared: `level_m`, `depth_m` (gauges), `max_depth_m` or `max_hazard`
    /// over the area (watch areas).
    pub quantity: String,
    /// Its value at `time_s`.
    pub value: f64,
    /// The threshold's value.
    pub threshold_value: f64,
    /// Watch areas: cells meeting the rule at `time_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<usize>,
}

impl Warning {
    /// One line for a log, e.g. `danger at t = 8173 s (lead time 8173 s): gauge `Below
    /// dam` reached `danger` (level_m 345.012 ≥ 345)`.
    pub fn describe(&self) -> String {
        let (verb, cmp) = match self.direction {
            Direction::Up => ("reached", "≥"),
            Direction::Down => ("fell below", "<"),
        };
        let cells = self
            .cells
            .map(|c| format!(", {c} cells"))
            .unwrap_or_default();
        format!(
            "{} at t = {:.0} s (lead time {:.0} s): {} `{}` {verb} `{}` ({} {:.3} {cmp} {}{cells})",
            self.severity.as_str(),
            self.time_s,
            self.lead_time_s,
            self.kind.as_str().replace('_', " "),
            self.place,
            self.threshold,
            self.quantity,
            self.value,
            self.threshold_value,
        )
    }
}

/// The warnings of a run so far, and the state of every threshold and watch area.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Watch {
    /// Simulated time the run's forecast is issued at; lead times count from it.
    pub issue_time_s: f64,
    /// Every crossing so far, in time order.
    pub events: Vec<Warning>,
    /// Per gauge, per threshold: at or above it now.
    pub(crate) gauge_on: Vec<Vec<bool>>,
    /// Per watch area: the rule holds now.
    pub(crate) area_on: Vec<bool>,
}

/// A gauge's value for a threshold now.
fn gauge_value(solver: &hydro::Solver, cell: (usize, usize), on: ThresholdOn) -> f64 {
    let d = solver.depth_m()[cell];
    match on {
        ThresholdOn::LevelM(_) => solver.bed_m()[cell] + d,
        ThresholdOn::DepthM(_) => d,
    }
}

impl Watch {
    pub fn new(basin: &crate::Basin, issue_time_s: f64) -> Self {
        Self {
            issue_time_s,
            events: Vec::new(),
            gauge_on: basin
                .gauges
                .iter()
                .map(|g| vec![false; g.thresholds.len()])
                .collect(),
            area_on: vec![false; basin.watch_areas.len()],
        }
    }

    /// Whether this state has one flag per threshold and watch area of `basin` (false
    /// when they were edited since it was saved).
    pub fn fits(&self, basin: &crate::Basin) -> bool {
        self.gauge_on.len() == basin.gauges.len()
            && self
                .gauge_on
                .iter()
                .zip(&basin.gauges)
                .all(|(on, g)| on.len() == g.thresholds.len())
            && self.area_on.len() == basin.watch_areas.len()
    }

    /// Whether threshold `t` of gauge `g` is crossed (at or above) now.
    pub fn gauge_state(&self, g: usize, t: usize) -> bool {
        self.gauge_on
            .get(g)
            .and_then(|v| v.get(t))
            .copied()
            .unwrap_or(false)
    }

    /// Whether watch area `a`'s rule holds now.
    pub fn area_state(&self, a: usize) -> bool {
        self.area_on.get(a).copied().unwrap_or(false)
    }

    /// The highest severity now at or above a threshold at gauge `g`.
    pub fn gauge_severity(&self, basin: &crate::Basin, g: usize) -> Option<Severity> {
        basin.gauges.get(g).and_then(|gauge| {
            gauge
                .thresholds
                .iter()
                .enumerate()
                .filter(|&(t, _)| self.gauge_state(g, t))
                .map(|(_, th)| th.severity)
                .max()
        })
    }

    /// Compare the state the solver holds now (at `time_s`) with every threshold and
    /// watch area; crossings are appended to `events`. Returns how many were added.
    pub fn check(
        &mut self,
        solver: &hydro::Solver,
        basin: &crate::Basin,
        hazard: &HazardTables,
        method: HazardMethod,
        time_s: f64,
    ) -> usize {
        let before = self.events.len();
        let lead_time_s = time_s - self.issue_time_s;
        for (g, gauge) in basin.gauges.iter().enumerate() {
            let cell = (gauge.row, gauge.col);
            for (t, th) in gauge.thresholds.iter().enumerate() {
                let value = gauge_value(solver, cell, th.on);
                let on = &mut self.gauge_on[g][t];
                let direction = if !*on && value >= th.value() {
                    Direction::Up
                } else if *on && value < th.value() - th.hysteresis_m {
                    Direction::Down
                } else {
                    continue;
                };
                *on = direction == Direction::Up;
                self.events.push(Warning {
                    time_s,
                    lead_time_s,
                    kind: PlaceKind::Gauge,
                    place: gauge.name.clone(),
                    threshold: th.name.clone(),
                    severity: th.severity,
                    direction,
                    quantity: th.quantity().to_string(),
                    value,
                    threshold_value: th.value(),
                    cells: None,
                });
            }
        }
        for (a, area) in basin.watch_areas.iter().enumerate() {
            let was_on = self.area_on[a];
            let (count, value, threshold_value, quantity) = match area.rule {
                WatchRule::DepthAboveM(limit) => {
                    // While the rule holds, it is released only below the limit by the
                    // default hysteresis.
                    let limit_now = if was_on {
                        limit - DEFAULT_HYSTERESIS_M
                    } else {
                        limit
                    };
                    let depth = solver.depth_m();
                    let mut count = 0;
                    let mut deepest = 0.0f64;
                    for &cell in &area.cells {
                        let d = depth[cell];
                        deepest = deepest.max(d);
                        count += usize::from(d > limit_now);
                    }
                    (count, deepest, limit, "max_depth_m")
                }
                WatchRule::HazardAtLeast(k) => {
                    // The views once per area, not per cell: each is a slice of the
                    // solver's padded arrays, which cost more than the cell's class.
                    let state = CellState::of(solver);
                    let mut count = 0;
                    let mut highest = 0u8;
                    for &cell in &area.cells {
                        let class = state.hazard(hazard, method, cell);
                        highest = highest.max(class);
                        count += usize::from(class >= k);
                    }
                    (count, f64::from(highest), f64::from(k), "max_hazard")
                }
            };
            let on = count >= area.min_cells;
            if on == was_on {
                continue;
            }
            self.area_on[a] = on;
            self.events.push(Warning {
                time_s,
                lead_time_s,
                kind: PlaceKind::WatchArea,
                place: area.name.clone(),
                threshold: area.rule.label(),
                severity: area.severity,
                direction: if on { Direction::Up } else { Direction::Down },
                quantity: quantity.to_string(),
                value,
                threshold_value,
                cells: Some(count),
            });
        }
        self.events.len() - before
    }

    /// `warnings.csv`: one row per crossing, in time order.
    pub fn write_csv(&self, path: &Path) -> Result<()> {
        let fail = |e: &dyn std::fmt::Display| BasinError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
        out.write_record([
            "time_s",
            "lead_time_s",
            "kind",
            "place",
            "threshold",
            "severity",
            "direction",
            "quantity",
            "value",
            "threshold_value",
            "cells",
        ])
        .map_err(|e| fail(&e))?;
        for w in &self.events {
            out.write_record([
                format!("{}", w.time_s),
                format!("{}", w.lead_time_s),
                w.kind.as_str().to_string(),
                w.place.clone(),
                w.threshold.clone(),
                w.severity.as_str().to_string(),
                w.direction.as_str().to_string(),
                w.quantity.clone(),
                format!("{:.4}", w.value),
                format!("{}", w.threshold_value),
                w.cells.map(|c| c.to_string()).unwrap_or_default(),
            ])
            .map_err(|e| fail(&e))?;
        }
        let buffered = out.into_inner().map_err(|e| fail(&e.error()))?;
        let file = buffered.into_inner().map_err(|e| fail(e.error()))?;
        file.sync_all().map_err(|e| fail(&e))
    }

    /// The warnings section of `summary.json`.
    pub fn summary(&self) -> WarningsSummary {
        let mut first = Vec::<FirstCrossing>::new();
        for w in self.events.iter().filter(|w| w.direction == Direction::Up) {
            if !first
                .iter()
                .any(|f| f.kind == w.kind && f.place == w.place && f.threshold == w.threshold)
            {
                first.push(FirstCrossing {
                    kind: w.kind,
                    place: w.place.clone(),
                    threshold: w.threshold.clone(),
                    severity: w.severity,
                    time_s: w.time_s,
                    lead_time_s: w.lead_time_s,
                });
            }
        }
        WarningsSummary {
            issue_time_s: self.issue_time_s,
            count: self.events.len(),
            first_crossings: first,
            events: self.events.clone(),
        }
    }
}

/// The solver's state now, as the hazard of a cell is read from it.
struct CellState<'a> {
    h: ndarray::ArrayView2<'a, f64>,
    qx: ndarray::ArrayView2<'a, f64>,
    qy: ndarray::ArrayView2<'a, f64>,
    dry_depth_m: f64,
}

impl<'a> CellState<'a> {
    fn of(solver: &'a hydro::Solver) -> Self {
        Self {
            h: solver.depth_m(),
            qx: solver.qx_m2_s(),
            qy: solver.qy_m2_s(),
            dry_depth_m: solver.params().dry_depth_m,
        }
    }

    /// The cell's hazard class now (0 where it is dry).
    fn hazard(&self, hazard: &HazardTables, method: HazardMethod, cell: (usize, usize)) -> u8 {
        let d = self.h[cell];
        if d <= self.dry_depth_m {
            return 0;
        }
        let speed = self.qx[cell].hypot(self.qy[cell]) / d;
        hazard.classify(method, d, speed)
    }
}

/// The warnings section of `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct WarningsSummary {
    pub issue_time_s: f64,
    pub count: usize,
    /// The first upward crossing of each threshold and watch area, in time order: what a
    /// warning bulletin leads with.
    pub first_crossings: Vec<FirstCrossing>,
    pub events: Vec<Warning>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FirstCrossing {
    pub kind: PlaceKind,
    pub place: String,
    pub threshold: String,
    pub severity: Severity,
    pub time_s: f64,
    pub lead_time_s: f64,
}
