//! `rivertwin hydrology <basin> --out <dir>`: the basin's drainage from its DEM
//! ([`crate::terrain`]) written for GIS and for the app: the filled DEM, D8 directions,
//! flow accumulation (cells and km²), the stream network with Strahler orders, the
//! catchment of every gauge, as Cloud-Optimized GeoTIFFs in the DEM's CRS, a GeoPackage
//! (streams as lines, catchments as polygons), `catchments.csv` and `hydrology.json`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gdal::vector::{Feature, FieldValue, Geometry, LayerAccess, LayerOptions, OGRFieldType};
use gdal::{DriverManager, spatial_ref::SpatialRef};
use ndarray::Array2;
use serde::Serialize;

use crate::Basin;
use crate::error::{BasinError, Result};
use crate::terrain::{
    Direction, ESRI_D8, accumulation, catchment, d8_directions, downstream, fill_depressions,
    snap_to_stream, strahler,
};

/// Choices of a hydrology run.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct HydrologyOptions {
    /// Cells draining at least this area (km²) are streams.
    pub stream_threshold_km2: f64,
    /// A gauge moves onto the cell of highest accumulation within this many cells.
    pub snap_cells: usize,
}

impl Default for HydrologyOptions {
    fn default() -> Self {
        Self {
            stream_threshold_km2: 1.0,
            snap_cells: 2,
        }
    }
}

impl HydrologyOptions {
    /// The default options with a stream threshold that suits the basin's size (its
    /// active cells' area), as the app draws its streams and `rivertwin hydrology` takes
    /// without `--stream-km2`: 1 km², or 1 % of the basin's area where that is less,
    /// rounded down to 1, 2 or 5 × 10ᵏ m². A small catchment then shows where its water
    /// runs too: Merewether's 13 ha give 1 000 m², the paths of its overland flow between
    /// the houses, where 1 km² gives no stream at all.
    pub fn for_basin(basin: &Basin) -> Self {
        let grid = basin.grid();
        let cell_m2 = grid.cell_size_x() * grid.cell_size_y();
        Self::for_area_km2(basin.active_cells() as f64 * cell_m2 / 1e6)
    }

    /// [`HydrologyOptions::for_basin`] for a basin of `active_km2`.
    pub fn for_area_km2(active_km2: f64) -> Self {
        let default = Self::default();
        let share_m2 = 0.01 * active_km2 * 1e6;
        if !(share_m2.is_finite() && share_m2 > 0.0) {
            return default;
        }
        // The power of ten at or below the share, set right where log10 rounds across a
        // whole number.
        let mut power = 10f64.powi(share_m2.log10().floor() as i32);
        if power > share_m2 {
            power /= 10.0;
        } else if power * 10.0 <= share_m2 {
            power *= 10.0;
        }
        let leading = [5.0, 2.0, 1.0]
            .into_iter()
            .find(|&m| m * power <= share_m2)
            .unwrap_or(1.0);
        Self {
            stream_threshold_km2: (leading * power / 1e6).min(default.stream_threshold_km2),
            ..default
        }
    }
}

/// The drainage of a basin, in memory.
#[derive(Debug)]
pub struct Drainage {
    pub filled_m: Array2<f64>,
    pub directions: Array2<Direction>,
    pub accumulation_cells: Array2<u32>,
    pub strahler: Array2<u8>,
    pub cell_area_km2: f64,
    /// The least area a stream drains (km²), as asked for.
    pub threshold_km2: f64,
    pub threshold_cells: u32,
    pub catchments: Vec<CatchmentSummary>,
    /// Per gauge, its catchment's cells (in `catchments` order).
    pub catchment_masks: Vec<Array2<bool>>,
    pub seconds: Timings,
}

/// Wall time of each stage (s).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Timings {
    pub fill_s: f64,
    pub directions_s: f64,
    pub accumulation_s: f64,
    pub streams_s: f64,
    pub catchments_s: f64,
}

/// One gauge's catchment.
#[derive(Clone, Debug, Serialize)]
pub struct CatchmentSummary {
    pub gauge: String,
    pub x: f64,
    pub y: f64,
    /// The gauge's own cell, and the outlet cell it snapped to.
    pub row: usize,
    pub col: usize,
    pub outlet_row: usize,
    pub outlet_col: usize,
    pub cells: usize,
    pub area_km2: f64,
}

/// Derive the drainage of `basin` (its active cells; nodata and the grid's edge are where
/// water leaves).
pub fn derive(basin: &Basin, options: &HydrologyOptions) -> Result<Drainage> {
    let grid = basin.grid();
    let (dx, dy) = (grid.cell_size_x(), grid.cell_size_y());
    let cell_area_km2 = dx * dy / 1e6;
    if !(options.stream_threshold_km2.is_finite() && options.stream_threshold_km2 > 0.0) {
        return Err(BasinError::invalid(
            &basin.dir,
            "--stream-km2",
            format!("is {}", options.stream_threshold_km2),
            "give the smallest area a stream drains, in km², > 0",
        ));
    }
    let threshold_cells = (options.stream_threshold_km2 / cell_area_km2)
        .ceil()
        .clamp(1.0, f64::from(u32::MAX)) as u32;
    let mut seconds = Timings::default();
    let clock = Instant::now();
    let dem = basin.bed_m.values().to_owned();
    let filled_m = fill_depressions(&dem, &basin.active);
    seconds.fill_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let directions = d8_directions(&filled_m, &basin.active, dx, dy);
    seconds.directions_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let accumulation_cells = accumulation(&directions, &basin.active);
    seconds.accumulation_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let strahler = strahler(&directions, &accumulation_cells, threshold_cells);
    seconds.streams_s = clock.elapsed().as_secs_f64();
    let clock = Instant::now();
    let mut catchments = Vec::new();
    let mut catchment_masks = Vec::new();
    for g in &basin.gauges {
        let outlet = snap_to_stream(&accumulation_cells, (g.row, g.col), options.snap_cells);
        let mask = catchment(&directions, outlet);
        let cells = mask.iter().filter(|&&m| m).count();
        catchments.push(CatchmentSummary {
            gauge: g.name.clone(),
            x: g.x,
            y: g.y,
            row: g.row,
            col: g.col,
            outlet_row: outlet.0,
            outlet_col: outlet.1,
            cells,
            area_km2: cells as f64 * cell_area_km2,
        });
        catchment_masks.push(mask);
    }
    seconds.catchments_s = clock.elapsed().as_secs_f64();
    Ok(Drainage {
        filled_m,
        directions,
        accumulation_cells,
        strahler,
        cell_area_km2,
        threshold_km2: options.stream_threshold_km2,
        threshold_cells,
        catchments,
        catchment_masks,
        seconds,
    })
}

/// What `write` wrote, for `hydrology.json` and the command line.
#[derive(Clone, Debug, Serialize)]
pub struct HydrologyReport {
    pub basin: PathBuf,
    pub options: HydrologyOptions,
    pub cells: usize,
    pub cell_area_km2: f64,
    pub stream_threshold_cells: u32,
    pub stream_cells: usize,
    pub stream_reaches: usize,
    pub max_strahler_order: u8,
    /// Cells whose depressions were raised by the fill.
    pub filled_cells: usize,
    pub catchments: Vec<CatchmentSummary>,
    pub seconds: Timings,
    pub write_s: f64,
    pub outputs: Vec<String>,
}

/// Derive the drainage of `basin` and write it into `out` (a new folder, written whole
/// or not at all).
pub fn run(basin: &Basin, out: &Path, options: &HydrologyOptions) -> Result<HydrologyReport> {
    if out.exists() {
        return Err(BasinError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let drainage = derive(basin, options)?;
    let clock = Instant::now();
    let tmp = out.with_file_name(format!(
        ".{}.partial-{}",
        out.file_name()
            .map_or("hydrology".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let reaches = stream_reaches(&drainage);
    let result = write(basin, &drainage, &reaches, &tmp);
    let outputs = match result {
        Ok(o) => o,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let dem = basin.bed_m.values();
    let report = HydrologyReport {
        basin: basin.dir.clone(),
        options: *options,
        cells: basin.active_cells(),
        cell_area_km2: drainage.cell_area_km2,
        stream_threshold_cells: drainage.threshold_cells,
        stream_cells: drainage.strahler.iter().filter(|&&o| o > 0).count(),
        stream_reaches: reaches.len(),
        max_strahler_order: drainage.strahler.iter().copied().max().unwrap_or(0),
        filled_cells: ndarray::Zip::from(&drainage.filled_m)
            .and(&dem)
            .and(&basin.active)
            .fold(0, |n, &f, &z, &a| n + usize::from(a && f > z)),
        catchments: drainage.catchments.clone(),
        seconds: drainage.seconds,
        write_s: clock.elapsed().as_secs_f64(),
        outputs,
    };
    let fail = |p: &Path, e: &dyn std::fmt::Display| BasinError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| fail(&tmp, &e))?;
    std::fs::write(tmp.join("hydrology.json"), json + "\n").map_err(|e| fail(&tmp, &e))?;
    std::fs::rename(&tmp, out).map_err(|e| fail(out, &e))?;
    Ok(report)
}

/// Nodata of the Byte rasters.
const BYTE_NODATA: u8 = 255;

fn write(basin: &Basin, d: &Drainage, reaches: &[Reach], dir: &Path) -> Result<Vec<String>> {
    let fail = |p: &Path, e: &dyn std::fmt::Display| BasinError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, &e))?;
    let grid = basin.grid();
    let crs = &basin.dem.crs_wkt;
    let active = &basin.active;
    let mut outputs = Vec::new();
    let nodata = crate::results::NODATA;
    let filled = ndarray::Zip::from(&d.filled_m)
        .and(active)
        .map_collect(|&z, &a| if a { z } else { nodata });
    crate::raster::write_typed_cog(
        &dir.join("filled_dem_m.tif"),
        grid,
        crs,
        nodata,
        &filled,
        "DEM with depressions filled (priority flood + epsilon)",
        "m",
        "AVERAGE",
    )?;
    outputs.push("filled_dem_m.tif".into());
    let codes = ndarray::Zip::from(&d.directions)
        .and(active)
        .map_collect(|&dir, &a| match (a, dir) {
            (false, _) => BYTE_NODATA,
            (true, None) => 0,
            (true, Some(k)) => ESRI_D8[usize::from(k)],
        });
    crate::raster::write_typed_cog(
        &dir.join("flow_direction_d8.tif"),
        grid,
        crs,
        f64::from(BYTE_NODATA),
        &codes,
        "D8 flow direction (ESRI codes: 1 E, 2 SE, 4 S, 8 SW, 16 W, 32 NW, 64 N, 128 NE; \
         0 drains out of the grid)",
        "code",
        "NEAREST",
    )?;
    outputs.push("flow_direction_d8.tif".into());
    crate::raster::write_typed_cog(
        &dir.join("flow_accumulation_cells.tif"),
        grid,
        crs,
        0.0,
        &d.accumulation_cells,
        "Flow accumulation: cells draining through each cell, itself included",
        "cells",
        "NEAREST",
    )?;
    outputs.push("flow_accumulation_cells.tif".into());
    let km2 = ndarray::Zip::from(&d.accumulation_cells)
        .and(active)
        .map_collect(|&n, &a| {
            if a {
                f64::from(n) * d.cell_area_km2
            } else {
                f64::NAN
            }
        });
    let path = dir.join("flow_accumulation_km2.tif");
    crate::raster::write_geotiff(&path, grid, crs, nodata, &km2)?;
    crate::raster::label_band(&path, "Area draining through each cell", "km2")?;
    crate::raster::rewrite_as_cog(&path, "AVERAGE")?;
    outputs.push("flow_accumulation_km2.tif".into());
    let order = ndarray::Zip::from(&d.strahler)
        .and(active)
        .map_collect(|&o, &a| if a { o } else { BYTE_NODATA });
    crate::raster::write_typed_cog(
        &dir.join("streams_strahler.tif"),
        grid,
        crs,
        f64::from(BYTE_NODATA),
        &order,
        "Stream network: Strahler order (0 not a stream)",
        "order",
        "NEAREST",
    )?;
    outputs.push("streams_strahler.tif".into());
    write_geopackage(basin, d, reaches, &dir.join("hydrology.gpkg"))?;
    outputs.push("hydrology.gpkg".into());
    let mut csv =
        String::from("gauge,x,y,row,col,outlet_row,outlet_col,outlet_x,outlet_y,cells,area_km2\n");
    for c in &d.catchments {
        let (ox, oy) = grid.centre(c.outlet_row, c.outlet_col);
        csv += &format!(
            "{},{},{},{},{},{},{},{ox},{oy},{},{:.6}\n",
            c.gauge, c.x, c.y, c.row, c.col, c.outlet_row, c.outlet_col, c.cells, c.area_km2
        );
    }
    std::fs::write(dir.join("catchments.csv"), csv).map_err(|e| fail(dir, &e))?;
    outputs.push("catchments.csv".into());
    outputs.push("hydrology.json".into());
    Ok(outputs)
}

/// A reach: stream cells from a source or a confluence down to the next confluence or
/// the network's end, as cell centres, with its Strahler order.
#[derive(Clone, Debug)]
pub struct Reach {
    pub cells: Vec<(usize, usize)>,
    pub order: u8,
    /// The reach's own last cell (the line's last point belongs to the reach below when
    /// it ends at a confluence).
    pub last_own: (usize, usize),
}

/// The stream network cut into reaches (each ends on the first cell of the reach below,
/// so that the lines join).
pub fn stream_reaches(d: &Drainage) -> Vec<Reach> {
    let dim = d.directions.dim();
    let stream = |c: (usize, usize)| d.strahler[c] > 0;
    let down = |c: (usize, usize)| downstream(c, d.directions[c], dim).filter(|&n| stream(n));
    let mut inflows = Array2::<u8>::zeros(dim);
    for (c, &o) in d.strahler.indexed_iter() {
        if o > 0
            && let Some(n) = down(c)
        {
            inflows[n] = inflows[n].saturating_add(1);
        }
    }
    let mut reaches = Vec::new();
    for (start, &o) in d.strahler.indexed_iter() {
        // A reach starts at a source (no inflow) or just below a confluence.
        if o == 0 {
            continue;
        }
        let is_start = inflows[start] == 0 || inflows[start] >= 2;
        if !is_start {
            continue;
        }
        let mut cells = vec![start];
        let mut at = start;
        while let Some(n) = down(at) {
            cells.push(n);
            if inflows[n] >= 2 {
                break;
            }
            at = n;
        }
        reaches.push(Reach {
            cells,
            order: o,
            last_own: at,
        });
    }
    reaches
}

/// One edge of a mask's outline: its two corners in cell-corner coordinates (corner
/// (r, c) is the top-left corner of cell (r, c)) and the cell inside it.
pub type OutlineEdge = ([(usize, usize); 2], (usize, usize));

/// The outline of a mask: every edge between a cell inside and one outside (or the grid's
/// edge).
pub fn outline(mask: &Array2<bool>) -> Vec<OutlineEdge> {
    let (rows, cols) = mask.dim();
    let inside = |r: usize, c: usize, dr: isize, dc: isize| {
        r.checked_add_signed(dr)
            .zip(c.checked_add_signed(dc))
            .is_some_and(|(r, c)| r < rows && c < cols && mask[(r, c)])
    };
    let mut edges = Vec::new();
    for ((r, c), &m) in mask.indexed_iter() {
        if !m {
            continue;
        }
        if !inside(r, c, -1, 0) {
            edges.push(([(r, c), (r, c + 1)], (r, c)));
        }
        if !inside(r, c, 1, 0) {
            edges.push(([(r + 1, c), (r + 1, c + 1)], (r, c)));
        }
        if !inside(r, c, 0, -1) {
            edges.push(([(r, c), (r + 1, c)], (r, c)));
        }
        if !inside(r, c, 0, 1) {
            edges.push(([(r, c + 1), (r + 1, c + 1)], (r, c)));
        }
    }
    edges
}

/// `hydrology.gpkg`: layer `streams` (lines with Strahler order and upstream area) and
/// layer `catchments` (one polygon feature per gauge with its area), in the DEM's CRS.
fn write_geopackage(basin: &Basin, d: &Drainage, reaches: &[Reach], path: &Path) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let grid = basin.grid();
    let driver = DriverManager::get_driver_by_name("GPKG").map_err(|e| fail(&e))?;
    let mut ds = driver.create_vector_only(path).map_err(|e| fail(&e))?;
    let srs = if basin.dem.crs_wkt.is_empty() {
        None
    } else {
        Some(SpatialRef::from_wkt(&basin.dem.crs_wkt).map_err(|e| fail(&e))?)
    };
    {
        let layer = ds
            .create_layer(LayerOptions {
                name: "streams",
                srs: srs.as_ref(),
                ty: gdal::vector::OGRwkbGeometryType::wkbLineString,
                options: None,
            })
            .map_err(|e| fail(&e))?;
        layer
            .create_defn_fields(&[
                ("strahler", OGRFieldType::OFTInteger),
                ("upstream_km2", OGRFieldType::OFTReal),
            ])
            .map_err(|e| fail(&e))?;
        for reach in reaches {
            let mut line = Geometry::empty(gdal::vector::OGRwkbGeometryType::wkbLineString)
                .map_err(|e| fail(&e))?;
            for &(r, c) in &reach.cells {
                line.add_point_2d(grid.centre(r, c));
            }
            let mut f = Feature::new(layer.defn()).map_err(|e| fail(&e))?;
            f.set_geometry(line).map_err(|e| fail(&e))?;
            f.set_field(0, &FieldValue::IntegerValue(i32::from(reach.order)))
                .map_err(|e| fail(&e))?;
            f.set_field(
                1,
                &FieldValue::RealValue(
                    f64::from(d.accumulation_cells[reach.last_own]) * d.cell_area_km2,
                ),
            )
            .map_err(|e| fail(&e))?;
            f.create(&layer).map_err(|e| fail(&e))?;
        }
    }
    {
        let layer = ds
            .create_layer(LayerOptions {
                name: "catchments",
                srs: srs.as_ref(),
                ty: gdal::vector::OGRwkbGeometryType::wkbPolygon,
                options: None,
            })
            .map_err(|e| fail(&e))?;
        layer
            .create_defn_fields(&[
                ("inside", OGRFieldType::OFTInteger),
                ("gauge", OGRFieldType::OFTString),
                ("area_km2", OGRFieldType::OFTReal),
            ])
            .map_err(|e| fail(&e))?;
        for (summary, mask) in d.catchments.iter().zip(&d.catchment_masks) {
            let before = layer.feature_count();
            polygonize(basin, mask, &layer).map_err(|e| fail(&e))?;
            // GDAL writes one feature per connected region of the mask (value 1); name
            // them after the gauge.
            let after = layer.feature_count();
            for fid in before..after {
                // Feature ids in a GeoPackage start at 1.
                if let Some(mut f) = layer.feature(fid + 1) {
                    f.set_field(1, &FieldValue::StringValue(summary.gauge.clone()))
                        .map_err(|e| fail(&e))?;
                    f.set_field(2, &FieldValue::RealValue(summary.area_km2))
                        .map_err(|e| fail(&e))?;
                    layer.set_feature(f).map_err(|e| fail(&e))?;
                }
            }
        }
    }
    ds.close().map_err(|e| fail(&e))
}

/// Add the outline of `mask` (its true cells) to `layer` as polygons, through GDAL's
/// polygonize on a Byte raster in memory (field 0 gets the cell value, 1).
fn polygonize(
    basin: &Basin,
    mask: &Array2<bool>,
    layer: &gdal::vector::Layer<'_>,
) -> std::result::Result<(), String> {
    let grid = basin.grid();
    let driver = DriverManager::get_driver_by_name("MEM").map_err(|e| e.to_string())?;
    let mut mem = driver
        .create_with_band_type::<u8, _>("", grid.cols, grid.rows, 1)
        .map_err(|e| e.to_string())?;
    mem.set_geo_transform(&grid.geo_transform())
        .map_err(|e| e.to_string())?;
    let band = {
        let mut band = mem.rasterband(1).map_err(|e| e.to_string())?;
        let mut buffer = gdal::raster::Buffer::new(
            (grid.cols, grid.rows),
            mask.iter().map(|&m| u8::from(m)).collect(),
        );
        band.write((0, 0), (grid.cols, grid.rows), &mut buffer)
            .map_err(|e| e.to_string())?;
        band
    };
    // The band is its own mask: cells of value 0 make no polygon.
    // SAFETY: the band and layer handles are valid for the call; GDAL reads the band and
    // appends features to the layer.
    let err = unsafe {
        gdal_sys::GDALPolygonize(
            band.c_rasterband(),
            band.c_rasterband(),
            layer.c_layer(),
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        )
    };
    if err != gdal_sys::CPLErr::CE_None {
        return Err("GDALPolygonize failed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::HydrologyOptions;

    /// 1 km² for a basin of 100 km² or more; 1 % of a smaller one's area, rounded down
    /// to 1, 2 or 5 × 10ᵏ m².
    #[test]
    fn a_small_basin_gets_a_stream_threshold_of_its_size() {
        let km2 = |area: f64| HydrologyOptions::for_area_km2(area).stream_threshold_km2;
        assert_eq!(km2(168.0), 1.0); // Trinity
        assert_eq!(km2(100.0), 1.0);
        assert_eq!(km2(60.0), 0.5);
        assert_eq!(km2(30.0), 0.2);
        assert_eq!(km2(0.133_463), 0.001); // Merewether: 1 334.63 m² → 1 000 m²
        // Shares of exactly 1, 2 or 5 × 10ᵏ m² are kept.
        assert_eq!(km2(0.1), 0.001);
        assert_eq!(km2(0.5), 0.005);
        assert_eq!(km2(2.0), 0.02);
        assert_eq!(km2(0.0), HydrologyOptions::default().stream_threshold_km2);
        assert_eq!(
            km2(f64::NAN),
            HydrologyOptions::default().stream_threshold_km2
        );
    }
}
