//! Saved states for a hot start: a run's state written to a CF NetCDF file through GDAL
//! and read back into a run of the same basin (see docs/hot-start.md).
//!
//! The grids (depth, discharges, bed, infiltration, envelopes) are NetCDF variables on
//! the DEM's grid and CRS, Float64 (the f32 envelopes are exact in f64), so `ncdump`,
//! QGIS, xarray or `gdalinfo` read them. The scalar and tabular state (clock, steps,
//! water balance, breaches, gauge records, warnings) is one JSON text attribute,
//! `rivertwin_state`, whose numbers round-trip exactly; identity and version are
//! attributes of their own.

use std::path::{Path, PathBuf};

use hydro::{BreachProgress, EnvelopeValues, SolverState, WaterBalance};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::netcdf::{NcReader, NcWriter};
use crate::raster::{crs_label, same_crs};
use crate::results::GaugeRecords;
use crate::warnings::Watch;

/// Value of the `rivertwin_format` attribute.
pub const STATE_FORMAT: &str = "rivertwin hot-start state";
/// Version of the layout written; a file of a newer version is refused.
///
/// Version 2 keeps the time under water of a spell still going on as its start
/// (`flooded_since_s`) beside the spells that have ended (`duration_inundated_s`); a
/// version 1 file has every spell in `duration_inundated_s` and reads as one whose spells
/// all ended at its time (the cells still under start a new one there).
pub const STATE_VERSION: u32 = 2;

/// A run engine's state: the solver's and what the engine records around it.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedRun {
    pub solver: SolverState,
    pub gauges: GaugeRecords,
    pub watch: Watch,
    /// Index of the next output time.
    pub next_output: u64,
    /// Structures' rule state and operation log.
    pub operations: crate::structures::Operations,
    /// Structures' flows at the output times so far and their peaks.
    pub structures: crate::structures::StructureRecords,
}

/// Who the state belongs to: refused unless it matches the basin it is loaded into.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Identity {
    basin: String,
    rows: usize,
    cols: usize,
    geo_transform: [f64; 6],
    dem_sha256: String,
}

/// The JSON attribute.
#[derive(Serialize, Deserialize)]
struct Scalars {
    identity: Identity,
    scenario: String,
    sim_time_s: f64,
    steps: u64,
    max_rate_per_s: f64,
    inflow_scale: f64,
    balance: WaterBalance,
    breaches: Vec<Breach>,
    /// Each structure's setting (gate openings, pumps on, releases).
    #[serde(default)]
    structures: Vec<hydro::StructureSetting>,
    next_output: u64,
    gauges: GaugeRecords,
    watch: Watch,
    #[serde(default)]
    operations: crate::structures::Operations,
    #[serde(default)]
    structure_records: crate::structures::StructureRecords,
}

#[derive(Serialize, Deserialize)]
struct Breach {
    started_s: Option<f64>,
    fraction: f64,
    crest_m: Vec<f64>,
}

/// Variable names of the grids, in the order they are written.
const DEPTH: &str = "depth_m";
const QX: &str = "qx_m2_s";
const QY: &str = "qy_m2_s";
const BED: &str = "bed_m";
const INFILTRATED: &str = "infiltrated_m";
const SOIL_RAIN: &str = "soil_rain_m";
const ENVELOPES: [&str; 7] = [
    "max_depth_m",
    "max_speed_m_s",
    "max_depth_speed_m2_s",
    "max_hazard",
    "first_inundation_s",
    "duration_inundated_s",
    "flooded_since_s",
];

fn identity(basin: &Basin) -> Result<Identity> {
    Ok(Identity {
        basin: basin.file.name.clone(),
        rows: basin.grid().rows,
        cols: basin.grid().cols,
        geo_transform: basin.grid().geo_transform(),
        dem_sha256: crate::runner::sha256_of(&basin.dem.path)?,
    })
}

/// Write `saved` for `basin` to `path`: into a hidden file beside it first, renamed into
/// place when complete, so that a state file is never half-written.
pub fn write_state(
    path: &Path,
    basin: &Basin,
    scenario_name: &str,
    saved: &SavedRun,
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let s = &saved.solver;
    // The grids are written and checked one at a time, from the saved run's own arrays
    // (a copy of every grid at once would double the memory a save takes).
    let mut grids: Vec<(&str, Grid<'_>)> = vec![
        (DEPTH, Grid::F64(&s.depth_m)),
        (QX, Grid::F64(&s.qx_m2_s)),
        (QY, Grid::F64(&s.qy_m2_s)),
        (BED, Grid::F64(&s.bed_m)),
    ];
    if let Some(i) = &s.infiltrated_m {
        grids.push((INFILTRATED, Grid::F64(i)));
    }
    if let Some(r) = &s.soil_rain_m {
        grids.push((SOIL_RAIN, Grid::F64(r)));
    }
    if let Some(e) = &s.envelopes {
        grids.extend([
            (ENVELOPES[0], Grid::F32(&e.max_depth_m)),
            (ENVELOPES[1], Grid::F32(&e.max_speed_m_s)),
            (ENVELOPES[2], Grid::F32(&e.max_depth_speed_m2_s)),
            (ENVELOPES[3], Grid::F32(&e.max_hazard)),
            (ENVELOPES[4], Grid::F32(&e.first_inundation_s)),
            (ENVELOPES[5], Grid::F64(&e.duration_inundated_s)),
            (ENVELOPES[6], Grid::F64(&e.flooded_since_s)),
        ]);
    }
    let scalars = Scalars {
        identity: identity(basin)?,
        scenario: scenario_name.to_string(),
        sim_time_s: s.sim_time_s,
        steps: s.steps,
        max_rate_per_s: s.max_rate_per_s,
        inflow_scale: s.inflow_scale,
        balance: s.balance,
        breaches: s
            .breaches
            .iter()
            .map(|b| Breach {
                started_s: b.started_s,
                fraction: b.fraction,
                crest_m: b.crest_m.clone(),
            })
            .collect(),
        structures: s.structures.clone(),
        next_output: saved.next_output,
        gauges: saved.gauges.clone(),
        watch: saved.watch.clone(),
        operations: saved.operations.clone(),
        structure_records: saved.structures.clone(),
    };
    let json = serde_json::to_string(&scalars).map_err(|e| fail(&e))?;

    let attrs = [
        ("Conventions", "CF-1.8".to_string()),
        ("source", format!("rivertwin {}", env!("CARGO_PKG_VERSION"))),
        (
            "title",
            format!(
                "rivertwin state of {} at t = {} s",
                basin.file.name, s.sim_time_s
            ),
        ),
        ("rivertwin_format", STATE_FORMAT.to_string()),
        ("rivertwin_format_version", STATE_VERSION.to_string()),
        ("rivertwin_version", env!("CARGO_PKG_VERSION").to_string()),
        ("rivertwin_basin", basin.file.name.clone()),
        ("rivertwin_scenario", scenario_name.to_string()),
        ("rivertwin_sim_time_s", format!("{}", s.sim_time_s)),
        ("rivertwin_state", json.clone()),
    ];
    let tmp = hidden_sibling(path);
    let written = write_variables(&tmp, basin, &grids, &attrs)
        .map_err(|e| fail(&e))
        .and_then(|()| {
            // Read back what a restore would read, a grid at a time: a file that does not
            // give the same state (a full disk) is an error, never a state file.
            let nc = NcReader::open(&tmp).map_err(|e| unreadable(&tmp, e))?;
            read_scalars(&tmp, &nc)?;
            let mut same = nc.attribute("rivertwin_state").as_deref() == Some(json.as_str());
            for (name, grid) in &grids {
                let Some((rows, cols, values)) =
                    nc.variable(name).map_err(|e| unreadable(&tmp, e))?
                else {
                    same = false;
                    break;
                };
                same &= (rows, cols) == grid.dim() && grid.same_bits(&values);
            }
            if !same {
                return Err(fail(
                    &"the file written does not read back as written; the disk may be full",
                ));
            }
            std::fs::rename(&tmp, path).map_err(|e| fail(&e))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// A grid of a saved run, in the precision the solver keeps it (written as f64).
enum Grid<'a> {
    F64(&'a Array2<f64>),
    F32(&'a Array2<f32>),
}

impl Grid<'_> {
    fn dim(&self) -> (usize, usize) {
        match self {
            Grid::F64(a) => a.dim(),
            Grid::F32(a) => a.dim(),
        }
    }

    /// The values row by row as f64: borrowed where they are kept so, else a copy.
    fn values(&self) -> std::borrow::Cow<'_, [f64]> {
        match self {
            Grid::F64(a) => match a.as_slice() {
                Some(v) => std::borrow::Cow::Borrowed(v),
                None => std::borrow::Cow::Owned(a.iter().copied().collect()),
            },
            Grid::F32(a) => std::borrow::Cow::Owned(a.iter().map(|&v| f64::from(v)).collect()),
        }
    }

    /// Whether `values` (row by row, as read back) are these values, bit for bit (NaN
    /// equal to the same NaN).
    fn same_bits(&self, values: &[f64]) -> bool {
        let bits = |a: f64, b: f64| a.to_bits() == b.to_bits();
        match self {
            Grid::F64(a) => {
                a.len() == values.len() && a.iter().zip(values).all(|(&x, &y)| bits(x, y))
            }
            Grid::F32(a) => {
                a.len() == values.len()
                    && a.iter().zip(values).all(|(&x, &y)| bits(f64::from(x), y))
            }
        }
    }
}

/// The grids as NetCDF variables, with the global attributes.
fn write_variables(
    path: &Path,
    basin: &Basin,
    grids: &[(&str, Grid<'_>)],
    attrs: &[(&str, String)],
) -> std::result::Result<(), String> {
    let mut nc = NcWriter::create(path, basin.grid(), &basin.dem.crs_wkt)?;
    for (key, value) in attrs {
        nc.attribute(key, value)?;
    }
    for (name, grid) in grids {
        let (unit, long_name) = describe(name);
        nc.variable(name, &grid.values(), unit, long_name)?;
    }
    nc.close()
}

/// Unit and long name of each variable.
fn describe(name: &str) -> (&'static str, &'static str) {
    match name {
        DEPTH => ("m", "water depth"),
        QX => ("m2 s-1", "unit discharge along x (columns)"),
        QY => ("m2 s-1", "unit discharge along y (rows)"),
        BED => ("m", "bed elevation, lowered where breaches formed"),
        INFILTRATED => ("m", "water infiltrated so far"),
        "max_depth_m" => ("m", "maximum depth so far"),
        "max_speed_m_s" => ("m s-1", "maximum speed so far"),
        "max_depth_speed_m2_s" => ("m2 s-1", "maximum depth times speed so far"),
        "max_hazard" => ("1", "highest hazard class so far"),
        "first_inundation_s" => ("s", "time a cell first went under (NaN: not yet)"),
        "duration_inundated_s" => (
            "s",
            "time spent under water in spells that have ended (add sim_time_s - \
             flooded_since_s where that is set)",
        ),
        "flooded_since_s" => (
            "s",
            "start of the spell under water still going on (NaN: none)",
        ),
        _ => ("1", ""),
    }
}

/// `.<stem>.partial-<pid>.nc` beside `path`.
fn hidden_sibling(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    path.with_file_name(format!(".{stem}.partial-{}.nc", std::process::id()))
}

/// Read a state file for `basin`: refused (with what differs and what to do) when it is
/// not a rivertwin state, is of a newer format, or belongs to another basin or grid.
pub fn read_state(path: &Path, basin: &Basin) -> Result<SavedRun> {
    if !path.is_file() {
        return Err(BasinError::Io {
            path: path.to_path_buf(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            fix: "give a state file written by `rivertwin run … --save-state`",
        });
    }
    // One opening of the file: header, identity, then the grids.
    let nc = NcReader::open(path).map_err(|e| unreadable(path, e))?;
    check_header(&nc, path, basin)?;
    let scalars = read_scalars(path, &nc)?;
    check_identity(&nc, &scalars, path, basin)?;
    let saved = read_saved(&nc, scalars, path)?;
    Ok(saved)
}

fn unreadable(path: &Path, reason: impl std::fmt::Display) -> BasinError {
    BasinError::invalid(
        path,
        "state",
        format!("cannot be read as a saved state ({reason})"),
        "the file may be truncated or not a rivertwin state; save it again with --save-state",
    )
}

fn check_header(nc: &NcReader, path: &Path, basin: &Basin) -> Result<()> {
    let bad =
        |key: &str, problem: String, fix: String| BasinError::invalid(path, key, problem, fix);
    if nc.attribute("rivertwin_format").as_deref() != Some(STATE_FORMAT) {
        return Err(bad(
            "rivertwin_format",
            "is missing: this NetCDF file is not a rivertwin state".into(),
            "give a state file written by `rivertwin run … --save-state`".into(),
        ));
    }
    let version = nc.attribute("rivertwin_format_version").unwrap_or_default();
    match version.trim().parse::<u32>() {
        Ok(v) if v <= STATE_VERSION => {}
        Ok(v) => {
            return Err(bad(
                "rivertwin_format_version",
                format!(
                    "is {v}, newer than the {STATE_VERSION} this rivertwin ({}) reads",
                    env!("CARGO_PKG_VERSION")
                ),
                "continue it with the rivertwin that wrote it, or update rivertwin".into(),
            ));
        }
        Err(_) => {
            return Err(bad(
                "rivertwin_format_version",
                format!("is `{version}`, not a version number"),
                "save the state again with --save-state".into(),
            ));
        }
    }
    let saved_basin = nc.attribute("rivertwin_basin").unwrap_or_default();
    if saved_basin != basin.file.name {
        return Err(bad(
            "rivertwin_basin",
            format!(
                "is `{saved_basin}`, but this scenario's basin is `{}`",
                basin.file.name
            ),
            "continue a state only in the basin that saved it".into(),
        ));
    }
    Ok(())
}

fn read_scalars(path: &Path, nc: &NcReader) -> Result<Scalars> {
    let json = nc
        .attribute("rivertwin_state")
        .ok_or_else(|| unreadable(path, "the attribute `rivertwin_state` is missing"))?;
    serde_json::from_str(&json)
        .map_err(|e| unreadable(path, format!("attribute `rivertwin_state`: {e}")))
}

/// The run's state from an opened state file (no identity check against a basin: see
/// [`read_state`]). The grids are checked against the identity inside.
fn read_saved(nc: &NcReader, scalars: Scalars, path: &Path) -> Result<SavedRun> {
    let id = &scalars.identity;
    // Checked by `read_state` (a file being written is the current version).
    let version: u32 = nc
        .attribute("rivertwin_format_version")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(STATE_VERSION);
    let read = |name: &str| -> Result<Option<Array2<f64>>> {
        let Some((rows, cols, values)) = nc.variable(name).map_err(|e| unreadable(path, e))? else {
            return Ok(None);
        };
        if (rows, cols) != (id.rows, id.cols) {
            return Err(unreadable(
                path,
                format!(
                    "variable {name} is {cols} × {rows} cells, the state says {} × {}",
                    id.cols, id.rows
                ),
            ));
        }
        Array2::from_shape_vec((rows, cols), values)
            .map(Some)
            .map_err(|e| unreadable(path, e))
    };
    let need = |name: &str| -> Result<Array2<f64>> {
        read(name)?.ok_or_else(|| unreadable(path, format!("variable {name} is missing")))
    };
    let f32s = |a: Array2<f64>| a.mapv(|v| v as f32);
    let envelopes = match read(ENVELOPES[0])? {
        Some(max_depth) => Some(EnvelopeValues {
            max_depth_m: f32s(max_depth),
            max_speed_m_s: f32s(need(ENVELOPES[1])?),
            max_depth_speed_m2_s: f32s(need(ENVELOPES[2])?),
            max_hazard: f32s(need(ENVELOPES[3])?),
            first_inundation_s: f32s(need(ENVELOPES[4])?),
            duration_inundated_s: need(ENVELOPES[5])?,
            // Version 1 had no spells going on (see `STATE_VERSION`); from version 2 on
            // they must be there.
            flooded_since_s: if version < 2 {
                Array2::from_elem((id.rows, id.cols), f64::NAN)
            } else {
                need(ENVELOPES[6])?
            },
        }),
        None => None,
    };
    let solver = SolverState {
        sim_time_s: scalars.sim_time_s,
        steps: scalars.steps,
        max_rate_per_s: scalars.max_rate_per_s,
        inflow_scale: scalars.inflow_scale,
        balance: scalars.balance,
        depth_m: need(DEPTH)?,
        qx_m2_s: need(QX)?,
        qy_m2_s: need(QY)?,
        bed_m: need(BED)?,
        infiltrated_m: read(INFILTRATED)?,
        soil_rain_m: read(SOIL_RAIN)?,
        structures: scalars.structures,
        breaches: scalars
            .breaches
            .into_iter()
            .map(|b| BreachProgress {
                started_s: b.started_s,
                fraction: b.fraction,
                crest_m: b.crest_m,
            })
            .collect(),
        envelopes,
    };
    Ok(SavedRun {
        solver,
        gauges: scalars.gauges,
        watch: scalars.watch,
        next_output: scalars.next_output,
        operations: scalars.operations,
        structures: scalars.structure_records,
    })
}

/// Check a state's identity against `basin` (grid, position, CRS, DEM file contents).
fn check_identity(nc: &NcReader, scalars: &Scalars, path: &Path, basin: &Basin) -> Result<()> {
    let here = identity(basin)?;
    let id = &scalars.identity;
    let bad = |key: &str, problem: String| {
        BasinError::invalid(
            path,
            key,
            problem,
            "a state continues only on the basin and DEM that saved it; run from the start instead",
        )
    };
    if (id.rows, id.cols) != (here.rows, here.cols) {
        return Err(bad(
            "grid",
            format!(
                "is {} × {} cells but {}'s DEM is {} × {}",
                id.cols, id.rows, basin.file.name, here.cols, here.rows
            ),
        ));
    }
    if id.geo_transform != here.geo_transform {
        return Err(bad(
            "geotransform",
            format!(
                "is {:?} but the DEM's is {:?}",
                id.geo_transform, here.geo_transform
            ),
        ));
    }
    let srs = nc.crs_wkt(DEPTH).unwrap_or_default();
    if !srs.is_empty() && !basin.dem.crs_wkt.is_empty() && !same_crs(&srs, &basin.dem.crs_wkt) {
        return Err(BasinError::CrsMismatch {
            path_a: basin.dem.path.clone(),
            path_b: path.to_path_buf(),
            crs_a: crs_label(&basin.dem.crs_wkt),
            crs_b: crs_label(&srs),
        });
    }
    if id.dem_sha256 != here.dem_sha256 {
        return Err(bad(
            "dem_sha256",
            format!(
                "says the DEM was {}…, but {} is now {}… (the DEM changed since the state was saved)",
                &id.dem_sha256[..12.min(id.dem_sha256.len())],
                basin.dem.path.display(),
                &here.dem_sha256[..12]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The read-back check of a written grid: the same bits pass (NaN included, f32
    /// widened to f64), one changed bit or a missing value fails.
    #[test]
    fn a_grid_read_back_is_checked_bit_for_bit() {
        let f32s =
            Array2::from_shape_vec((2, 2), vec![1.5f32, f32::NAN, 0.1, -0.0]).expect("2 × 2");
        let f64s = f32s.mapv(f64::from);
        for grid in [Grid::F32(&f32s), Grid::F64(&f64s)] {
            let read: Vec<f64> = grid.values().into_owned();
            assert_eq!(read.len(), 4);
            assert!(grid.same_bits(&read));
            let mut changed = read.clone();
            changed[2] = f64::from_bits(changed[2].to_bits() ^ 1);
            assert!(!grid.same_bits(&changed));
            let mut signed = read.clone();
            signed[3] = 0.0;
            assert!(!grid.same_bits(&signed), "−0 and +0 differ in bits");
            assert!(!grid.same_bits(&read[..3]));
        }
    }
}
