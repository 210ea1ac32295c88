//! A basin loaded from its folder: DEM, roughness, initial water, losses and gauges, all
//! on the DEM grid.

use std::path::{Path, PathBuf};

use ndarray::{Array2, CowArray, Ix2, Zip};

use crate::config::{BasinFile, InitialWater, Roughness, read_toml};
use crate::error::{BasinError, Result};
use crate::raster::{GeoGrid, Raster, Resample, crs_label, read_raster, same_crs};
use crate::warnings::{Threshold, WatchArea, load_watch_areas};

/// A named point where hydrographs are recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct Gauge {
    pub name: String,
    pub x: f64,
    pub y: f64,
    pub row: usize,
    pub col: usize,
    /// Named levels or depths whose crossing is a warning.
    pub thresholds: Vec<Threshold>,
}

#[derive(Clone, Debug)]
pub struct Basin {
    /// The folder holding `basin.toml`.
    pub dir: PathBuf,
    pub file: BasinFile,
    /// The DEM's file, grid, CRS and nodata. Its values live on in `bed_m` and `active`
    /// (`dem.data` is left empty, to hold the grid once).
    pub dem: Raster,
    /// Cells with a DEM value (the others are walls).
    pub active: Array2<bool>,
    /// Bed elevation (m); 0 where inactive.
    pub bed_m: CellValues,
    pub manning_n: ManningN,
    /// Depth of water at the start (m), 0 outside the active cells; `None` once a run
    /// that is never reset has given it back ([`crate::Run::give_back_initial_depth`]):
    /// the solver holds the state from the start on, and this copy is 4 or 8 B per cell.
    pub initial_depth_m: Option<CellValues>,
    /// A curve-number or Green–Ampt model from `[losses]`, per cell; `None` for initial +
    /// continuing losses (or none).
    pub loss_model: Option<hydro::LossModel>,
    /// 1 − the impervious share of each cell (`[losses]`), `None` when none is given.
    pub loss_pervious: Option<Array2<f64>>,
    /// Initial (mm) and continuing (mm/h) loss per cell, for initial + continuing loss.
    pub loss_rates: Option<(Array2<f64>, Array2<f64>)>,
    pub gauges: Vec<Gauge>,
    /// Places watched for flooding, each with its rule and its cells.
    pub watch_areas: Vec<WatchArea>,
    /// Every input file read, for the run summary.
    pub inputs: Vec<PathBuf>,
    /// Assumptions made while loading that a user should see (in `info`, the run log
    /// and `summary.json`), e.g. metres assumed for a DEM without a CRS.
    pub notes: Vec<String>,
}

/// Manning's n over the grid: one number (not stored per cell), or one per cell.
#[derive(Clone, Debug, PartialEq)]
pub enum ManningN {
    Uniform { n: f64, dim: (usize, usize) },
    Cells(Array2<f64>),
}

impl ManningN {
    /// n of every cell (a new array for a uniform n, a view otherwise).
    pub fn values(&self) -> CowArray<'_, f64, Ix2> {
        match self {
            ManningN::Uniform { n, dim } => CowArray::from(Array2::from_elem(*dim, *n)),
            ManningN::Cells(a) => CowArray::from(a.view()),
        }
    }

    /// n of one cell (row, column).
    pub fn at(&self, cell: (usize, usize)) -> f64 {
        match self {
            ManningN::Uniform { n, .. } => *n,
            ManningN::Cells(a) => a[cell],
        }
    }
}

/// Values of a grid kept at the precision they have: as f32 where every value is
/// exactly an f32 (a Float32 raster, zeros), which halves the memory, else as f64. The
/// values read back are the same f64s either way.
#[derive(Clone, Debug, PartialEq)]
pub enum CellValues {
    F32(Array2<f32>),
    F64(Array2<f64>),
}

impl CellValues {
    pub fn new(values: Array2<f64>) -> Self {
        if values.iter().all(|&v| f64::from(v as f32) == v) {
            CellValues::F32(values.mapv(|v| v as f32))
        } else {
            CellValues::F64(values)
        }
    }

    /// Every value as f64 (a new array where they are kept as f32, a view otherwise).
    pub fn values(&self) -> CowArray<'_, f64, Ix2> {
        match self {
            CellValues::F32(a) => CowArray::from(a.mapv(f64::from)),
            CellValues::F64(a) => CowArray::from(a.view()),
        }
    }

    /// (rows, columns).
    pub fn dim(&self) -> (usize, usize) {
        match self {
            CellValues::F32(a) => a.dim(),
            CellValues::F64(a) => a.dim(),
        }
    }

    /// The value of one cell (row, column).
    pub fn at(&self, cell: (usize, usize)) -> f64 {
        match self {
            CellValues::F32(a) => f64::from(a[cell]),
            CellValues::F64(a) => a[cell],
        }
    }
}

/// Cell sizes below this cannot be a flood grid in metres (1 mm).
const MIN_CELL_M: f64 = 0.001;
/// Without a CRS, cells below this on coordinates within ±180 × ±90 are taken to be
/// degrees (0.01° is about 1 km; 1 cm cells are a laboratory flume, not a basin).
const MIN_CELL_WHEN_DEGREE_LIKE: f64 = 0.01;

impl Basin {
    /// Load `dir/basin.toml` (or a path to the toml itself) and everything it names.
    pub fn load(path: &Path) -> Result<Self> {
        let toml_path = if path.is_dir() {
            path.join("basin.toml")
        } else {
            path.to_path_buf()
        };
        let dir = toml_path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let file: BasinFile = read_toml(&toml_path)?;
        let mut inputs = vec![toml_path.clone()];

        let dem_path = dir.join(&file.dem);
        let mut dem = read_raster(&dem_path)?;
        inputs.push(dem_path.clone());
        if let Ok(srs) = gdal::spatial_ref::SpatialRef::from_wkt(&dem.crs_wkt)
            && (srs.is_geographic()
                || (srs.is_projected() && (srs.linear_units() - 1.0).abs() > 1e-9))
        {
            return Err(BasinError::invalid(
                &dem_path,
                "CRS",
                format!(
                    "is {} with cells in degrees or non-metre units",
                    crate::raster::crs_label(&dem.crs_wkt)
                ),
                "the solver needs metres: reproject the DEM to a projected CRS in metres (e.g. UTM), `gdalwarp -t_srs EPSG:<utm zone> in.tif out.tif`",
            ));
        }
        let mut notes = Vec::new();
        if dem.crs_wkt.is_empty() {
            let (x0, y0, x1, y1) = dem.grid.extent();
            let cell = dem.grid.cell_size_x().min(dem.grid.cell_size_y());
            let degree_like = x0 >= -180.0 && x1 <= 180.0 && y0 >= -90.0 && y1 <= 90.0;
            if cell < MIN_CELL_M || (degree_like && cell < MIN_CELL_WHEN_DEGREE_LIKE) {
                return Err(BasinError::invalid(
                    &dem_path,
                    "CRS",
                    format!(
                        "is missing, and cells of {cell} on coordinates x {x0}–{x1}, y {y0}–{y1} look like degrees, not metres"
                    ),
                    "the solver needs metres: give the DEM its CRS and reproject it to a projected CRS in metres, e.g. `gdalwarp -s_srs EPSG:4326 -t_srs EPSG:<utm zone> in.tif out.tif`",
                ));
            }
            notes.push(format!(
                "{} has no CRS: its coordinates and cell size ({} × {}) are taken to be metres; results are written without a CRS (assign one with `gdal_edit.py -a_srs EPSG:<code>`)",
                dem_path.display(),
                dem.grid.cell_size_x(),
                dem.grid.cell_size_y()
            ));
        }
        if dem.south_up_in_file {
            notes.push(format!(
                "{} is stored south-up (row 0 in the south); it was flipped on load, so edge names follow the map, and results are written north-up",
                dem_path.display()
            ));
        }
        let active = dem.data.mapv(f64::is_finite);
        if !active.iter().any(|&a| a) {
            return Err(BasinError::invalid(
                &dem_path,
                "nodata",
                "every cell of the DEM is nodata",
                "check the nodata value in the file (gdalinfo) or use another DEM",
            ));
        }
        // The values move into `bed_m`: one copy of the grid, not two (in f32 where the
        // DEM is Float32).
        let bed_m = CellValues::new(
            std::mem::take(&mut dem.data).mapv_into(|z| if z.is_finite() { z } else { 0.0 }),
        );

        let secondary = |rel: &Path,
                         key: &str,
                         how: Resample,
                         inputs: &mut Vec<PathBuf>|
         -> Result<Array2<f64>> {
            let path = dir.join(rel);
            let r = read_raster(&path).map_err(|e| match e {
                BasinError::Io { cause, fix, .. } => BasinError::Io {
                    path: path.clone(),
                    cause,
                    fix: if key.is_empty() {
                        fix
                    } else {
                        "check the path given in basin.toml (relative to it)"
                    },
                },
                other => other,
            })?;
            if !same_crs(&dem.crs_wkt, &r.crs_wkt) {
                return Err(BasinError::CrsMismatch {
                    path_a: dem_path.clone(),
                    path_b: path,
                    crs_a: crs_label(&dem.crs_wkt),
                    crs_b: crs_label(&r.crs_wkt),
                });
            }
            inputs.push(path);
            Ok(r.resample_onto(&dem.grid, how))
        };

        let manning_n = match &file.roughness {
            Roughness::Constant { constant } => ManningN::Uniform {
                n: *constant,
                dim: bed_m.dim(),
            },
            Roughness::Raster { raster } => ManningN::Cells(secondary(
                raster,
                "roughness.raster",
                Resample::Bilinear,
                &mut inputs,
            )?),
            Roughness::LandCover {
                landcover,
                table,
                nodata_n,
            } => {
                let classes = secondary(
                    landcover,
                    "roughness.landcover",
                    Resample::Nearest,
                    &mut inputs,
                )?;
                let mut lookup = Vec::new();
                for (k, &n) in table {
                    let class: f64 = k.trim().parse().map_err(|_| {
                        BasinError::invalid(&toml_path, format!("roughness.table.\"{k}\""), "is not a class number", "keys are the integer classes of the land-cover raster, e.g. \"1\" = 0.03")
                    })?;
                    if !class.is_finite() {
                        return Err(BasinError::invalid(
                            &toml_path,
                            format!("roughness.table.\"{k}\""),
                            "is not a class: the land-cover raster's nodata cells have no class",
                            "remove it and give `nodata_n = <Manning n>` under [roughness] for the cells where the land cover is nodata",
                        ));
                    }
                    lookup.push((class, n));
                }
                let mut out = Array2::zeros(classes.dim());
                for ((r, c), &class) in classes.indexed_iter() {
                    if !active[(r, c)] {
                        continue;
                    }
                    if class.is_nan() {
                        out[(r, c)] = nodata_n.ok_or_else(|| {
                            BasinError::invalid(
                                &toml_path,
                                "roughness.nodata_n",
                                format!(
                                    "is not given, and {} has nodata at row {r}, column {c} where the DEM has data",
                                    landcover.display()
                                ),
                                "give `nodata_n = <Manning n>` under [roughness] for such cells, or fill the land-cover raster (`gdal_fillnodata.py`)",
                            )
                        })?;
                        continue;
                    }
                    out[(r, c)] = match lookup.iter().find(|(k, _)| *k == class) {
                        Some(&(_, n)) => n,
                        None => {
                            return Err(BasinError::invalid(
                                &toml_path,
                                "roughness.table",
                                format!(
                                    "has no Manning n for land-cover class {class} (found at row {r}, column {c} of {})",
                                    landcover.display()
                                ),
                                format!("add \"{class}\" = <n> to the table"),
                            ));
                        }
                    };
                }
                ManningN::Cells(out)
            }
        };
        // Roughness must be a valid Manning n on every active cell.
        if let Some(((r, c), &n)) = manning_n
            .values()
            .indexed_iter()
            .find(|&((r, c), &n)| active[(r, c)] && !(n.is_finite() && n >= 0.0))
        {
            return Err(BasinError::invalid(
                &toml_path,
                "roughness",
                format!("gives Manning n = {n} at row {r}, column {c}"),
                "Manning's n must be ≥ 0 (typically 0.01–0.2) and cover the whole DEM",
            ));
        }

        let initial_depth_m = match &file.initial_water {
            None => Array2::zeros(bed_m.dim()),
            Some(InitialWater::Level { level_m }) => {
                if !level_m.is_finite() {
                    return Err(BasinError::invalid(
                        &toml_path,
                        "initial_water.level_m",
                        "is not a number",
                        "give a water level in metres",
                    ));
                }
                bed_m.values().mapv(|z| (level_m - z).max(0.0))
            }
            Some(InitialWater::Depth { depth_raster }) => {
                let d = secondary(
                    depth_raster,
                    "initial_water.depth_raster",
                    Resample::Bilinear,
                    &mut inputs,
                )?;
                if let Some(((r, c), &v)) = d.indexed_iter().find(|(_, v)| **v < 0.0) {
                    return Err(BasinError::invalid(
                        dir.join(depth_raster),
                        "depth",
                        format!("is negative ({v} m) at row {r}, column {c}"),
                        "depths are ≥ 0 m",
                    ));
                }
                d.mapv(|v| if v.is_finite() { v } else { 0.0 })
            }
        };
        let mut initial_depth_m = initial_depth_m;
        Zip::from(&mut initial_depth_m)
            .and(&active)
            .for_each(|d, &a| {
                if !a {
                    *d = 0.0;
                }
            });
        let initial_depth_m = CellValues::new(initial_depth_m);

        let losses = match &file.losses {
            Some(l) => crate::losses::resolve(
                l,
                &toml_path,
                |rel, key, inputs| secondary(rel, key, Resample::Nearest, inputs),
                &active,
                &mut inputs,
            )?,
            None => crate::losses::LossSetup::default(),
        };
        let (loss_model, loss_pervious, loss_rates) =
            (losses.model, losses.pervious, losses.initial_continuing);

        if let Some(name) = &file.default_scenario
            && !dir.join("scenarios").join(format!("{name}.toml")).is_file()
        {
            return Err(BasinError::invalid(
                &toml_path,
                "default_scenario",
                format!("names `{name}`, but there is no scenarios/{name}.toml"),
                "give the file name of a scenario in scenarios/, without .toml",
            ));
        }

        let mut gauges = Vec::new();
        for g in &file.gauges {
            let Some((row, col)) = dem.grid.cell_of(g.x, g.y) else {
                let (x0, y0, x1, y1) = dem.grid.extent();
                return Err(BasinError::invalid(
                    &toml_path,
                    format!("gauges.{}", g.name),
                    format!("at ({}, {}) is outside the DEM", g.x, g.y),
                    format!("the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1} in its CRS"),
                ));
            };
            if !active[(row, col)] {
                return Err(BasinError::invalid(
                    &toml_path,
                    format!("gauges.{}", g.name),
                    "lies on a nodata cell",
                    "move it onto the DEM's data",
                ));
            }
            let mut thresholds: Vec<Threshold> = Vec::new();
            for (i, spec) in g.thresholds.iter().enumerate() {
                let key = format!("gauges.{}.thresholds[{i}]", g.name);
                let t = Threshold::from_spec(spec, &toml_path, &key)?;
                if thresholds.iter().any(|o| o.name == t.name) {
                    return Err(BasinError::invalid(
                        &toml_path,
                        key,
                        format!("repeats the name `{}`", t.name),
                        "give each threshold of a gauge a name of its own",
                    ));
                }
                thresholds.push(t);
            }
            gauges.push(Gauge {
                name: g.name.clone(),
                x: g.x,
                y: g.y,
                row,
                col,
                thresholds,
            });
        }
        let watch_areas = load_watch_areas(&dir, &toml_path, &file.watch_areas, &dem, &active)?;
        for area in &watch_areas {
            if !inputs.contains(&area.file) {
                inputs.push(area.file.clone());
            }
        }

        Ok(Self {
            dir,
            file,
            dem,
            active,
            bed_m,
            manning_n,
            initial_depth_m: Some(initial_depth_m),
            loss_model,
            loss_pervious,
            loss_rates,
            gauges,
            watch_areas,
            inputs,
            notes,
        })
    }

    pub fn grid(&self) -> &GeoGrid {
        &self.dem.grid
    }

    /// How many cells have a DEM value (the cells a run steps).
    pub fn active_cells(&self) -> usize {
        self.active.iter().filter(|&&a| a).count()
    }

    /// The solver grid: the DEM's rows and columns with its cell size.
    pub fn hydro_grid(&self) -> hydro::Grid {
        hydro::Grid {
            rows: self.dem.grid.rows,
            cols: self.dem.grid.cols,
            dx_m: self.dem.grid.cell_size_x(),
            dy_m: self.dem.grid.cell_size_y(),
        }
    }

    /// The initial water with its surface moved by `change_m` (`[adjust]
    /// initial_level_change_m`; e.g. a reservoir starting fuller or emptier). Lowering:
    /// every wet cell loses `change_m` of depth, down to dry. Raising: every wet cell's
    /// surface rises by `change_m`, and the water spreads from there over the dry active
    /// cells it reaches through 4-neighbours whose bed is below the surface it brings
    /// (a flood fill, lowest surface first, so a cell takes the lowest surface that
    /// reaches it). Water that was not there at all stays absent: the change moves
    /// existing water bodies, it does not create new ones.
    pub fn initial_depth_with_level_change(&self, change_m: f64) -> Result<Array2<f64>> {
        let depth = self.initial_depth()?.values();
        let bed = self.bed_m.values();
        if change_m <= 0.0 {
            return Ok(depth.mapv(|h| {
                if h > 0.0 {
                    (h + change_m).max(0.0)
                } else {
                    0.0
                }
            }));
        }
        // Surfaces as ordered integers (f64 bits of a positive or negative finite value
        // do not sort as the value does), for a min-heap.
        let key = |level: f64| {
            let b = level.to_bits() as i64;
            std::cmp::Reverse(if b < 0 { b ^ i64::MAX } else { b })
        };
        let (rows, cols) = depth.dim();
        let mut level = Array2::from_elem((rows, cols), f64::NAN);
        let mut heap = std::collections::BinaryHeap::new();
        for ((r, c), &h) in depth.indexed_iter() {
            if h > 0.0 && self.active[(r, c)] {
                let z = bed[(r, c)] + h + change_m;
                level[(r, c)] = z;
                heap.push((key(z), r, c));
            }
        }
        while let Some((_, r, c)) = heap.pop() {
            let z = level[(r, c)];
            for (dr, dc) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nr, nc) = (r as i64 + dr, c as i64 + dc);
                if nr < 0 || nc < 0 || nr >= rows as i64 || nc >= cols as i64 {
                    continue;
                }
                let (nr, nc) = (nr as usize, nc as usize);
                if self.active[(nr, nc)] && level[(nr, nc)].is_nan() && bed[(nr, nc)] < z {
                    level[(nr, nc)] = z;
                    heap.push((key(z), nr, nc));
                }
            }
        }
        Ok(Zip::from(&level)
            .and(&bed)
            .map_collect(|&l, &z| if l.is_nan() { 0.0 } else { (l - z).max(0.0) }))
    }

    /// The depth of water at the start, or an error where a run has given it back
    /// ([`crate::Run::give_back_initial_depth`]).
    pub fn initial_depth(&self) -> Result<&CellValues> {
        self.initial_depth_m.as_ref().ok_or_else(|| {
            BasinError::invalid(
                self.dir.join("basin.toml"),
                "initial_water",
                "was given back by a run that is not to be started again",
                "load the basin again to start a new run from its initial state",
            )
        })
    }

    /// Names of the scenario files in `scenarios/`, sorted.
    pub fn scenario_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.join("scenarios"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                (p.extension().is_some_and(|x| x == "toml"))
                    .then(|| p.file_stem().map(|s| s.to_string_lossy().into_owned()))?
            })
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 storage only where it loses nothing: the values read back are the same bits.
    #[test]
    fn cell_values_keep_every_bit() {
        let exact = Array2::from_shape_fn((3, 4), |(r, c)| r as f64 * 0.5 + c as f64 * 0.25);
        let kept = CellValues::new(exact.clone());
        assert!(matches!(kept, CellValues::F32(_)));
        assert_eq!(kept.values(), exact.view());
        let mut fine = exact.clone();
        fine[(2, 3)] = 0.1; // not an f32
        let kept = CellValues::new(fine.clone());
        assert!(matches!(kept, CellValues::F64(_)));
        assert_eq!(kept.values(), fine.view());
        assert_eq!(kept.at((2, 3)), 0.1);
    }
}
