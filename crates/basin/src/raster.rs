//! Rasters through GDAL: reading with georeferencing, resampling onto a DEM grid, and
//! writing compressed GeoTIFFs.

use std::path::{Path, PathBuf};

use gdal::raster::{Buffer, RasterCreationOptions};
use gdal::spatial_ref::SpatialRef;
use gdal::{Dataset, DriverManager};
use ndarray::Array2;

use crate::error::{BasinError, Result};

/// Position of a north-up raster: the geotransform without rotation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GeoGrid {
    pub rows: usize,
    pub cols: usize,
    /// Map coordinates of the top-left corner.
    pub origin_x: f64,
    pub origin_y: f64,
    /// Cell size along x (> 0) and y (< 0 for north-up).
    pub dx: f64,
    pub dy: f64,
}

impl GeoGrid {
    pub fn geo_transform(&self) -> [f64; 6] {
        [self.origin_x, self.dx, 0.0, self.origin_y, 0.0, self.dy]
    }

    pub fn cell_size_x(&self) -> f64 {
        self.dx.abs()
    }

    pub fn cell_size_y(&self) -> f64 {
        self.dy.abs()
    }

    /// Map coordinates of the centre of cell (row, col).
    pub fn centre(&self, row: usize, col: usize) -> (f64, f64) {
        (
            self.origin_x + (col as f64 + 0.5) * self.dx,
            self.origin_y + (row as f64 + 0.5) * self.dy,
        )
    }

    /// Fractional (row, col) of a map point, cell centres at integer + 0.5.
    pub fn fractional(&self, x: f64, y: f64) -> (f64, f64) {
        ((y - self.origin_y) / self.dy, (x - self.origin_x) / self.dx)
    }

    /// The cell containing a map point, if it is on the grid.
    pub fn cell_of(&self, x: f64, y: f64) -> Option<(usize, usize)> {
        let (r, c) = self.fractional(x, y);
        if r >= 0.0 && c >= 0.0 && (r as usize) < self.rows && (c as usize) < self.cols {
            Some((r as usize, c as usize))
        } else {
            None
        }
    }

    /// Map extent: (min x, min y, max x, max y).
    pub fn extent(&self) -> (f64, f64, f64, f64) {
        let x1 = self.origin_x + self.cols as f64 * self.dx;
        let y1 = self.origin_y + self.rows as f64 * self.dy;
        (
            self.origin_x.min(x1),
            self.origin_y.min(y1),
            self.origin_x.max(x1),
            self.origin_y.max(y1),
        )
    }
}

/// A single-band raster in memory, with where it sits and in which CRS.
#[derive(Clone, Debug)]
pub struct Raster {
    pub path: PathBuf,
    pub grid: GeoGrid,
    /// CRS as WKT; empty when the file has none.
    pub crs_wkt: String,
    pub nodata: Option<f64>,
    /// Values; nodata cells hold NaN.
    pub data: Array2<f64>,
    /// The file is stored south-up and was flipped on load (see [`read_raster`]).
    pub south_up_in_file: bool,
}

/// Bytes of memory available for new allocations, from /proc/meminfo where there is one.
pub fn available_memory_bytes() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(u64::MAX, |kb| kb * 1024)
}

/// Memory a run needs whatever its grid: the binary, GDAL and the libraries it loads,
/// the heap. Measured: 61–72 MiB on Jacksboro's 19 600 cells (max RSS of `rivertwin
/// run`, without the app and with it; see [`run_memory_bytes`]).
pub const RUN_FIXED_BYTES: u64 = 96 << 20;

/// Memory a run needs per cell beyond [`RUN_FIXED_BYTES`]: measured (above Jacksboro's
/// peak) 100–123 B on the radial dam breaks and the dry valley, one Manning n and no
/// losses, and about 220 B on Merewether's 133 536 cells, with a Manning n per cell and
/// watch areas (see [`run_memory_bytes`]).
pub const RUN_BYTES_PER_CELL: u64 = 200;

/// Memory a headless run (`rivertwin run`) over `cells` cells needs at its peak, in
/// bytes, on the safe side: [`RUN_FIXED_BYTES`] + [`RUN_BYTES_PER_CELL`] per cell. Peaks
/// measured with the app built in (2 threads, max RSS; `crates/hydro/README.md`):
/// Jacksboro's 19 600 cells 72 MiB, Merewether's 133 536 cells 97 MiB, the 490 000-cell
/// dry valley 127 MiB, the 1024² and 2048² radial dam breaks 191 and 468 MiB.
pub fn run_memory_bytes(cells: usize) -> u64 {
    (cells as u64)
        .saturating_mul(RUN_BYTES_PER_CELL)
        .saturating_add(RUN_FIXED_BYTES)
}

pub(crate) fn gdal_err(path: &Path, e: impl std::fmt::Display) -> BasinError {
    BasinError::UnreadableRaster {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Open a raster and read its georeferencing, without reading the cells.
pub fn read_header(path: &Path) -> Result<(Dataset, GeoGrid, String)> {
    if !path.exists() {
        return Err(BasinError::Io {
            path: path.to_path_buf(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            fix: "check the path (paths in basin and scenario files are relative to that file)",
        });
    }
    let ds = Dataset::open(path).map_err(|e| gdal_err(path, e))?;
    let (grid, crs_wkt) = header_of(&ds, path)?;
    Ok((ds, grid, crs_wkt))
}

/// The grid (north-up, no rotation) and CRS of an open raster; `path` names it in errors.
pub fn header_of(ds: &Dataset, path: &Path) -> Result<(GeoGrid, String)> {
    let (cols, rows) = ds.raster_size();
    if ds.raster_count() < 1 || rows == 0 || cols == 0 {
        return Err(gdal_err(path, "it has no raster band"));
    }
    let gt = ds
        .geo_transform()
        .map_err(|_| BasinError::UnreadableRaster {
            path: path.to_path_buf(),
            reason: "it has no geotransform (no position on the map)".into(),
        })?;
    if gt[2] != 0.0 || gt[4] != 0.0 {
        return Err(BasinError::invalid(
            path,
            "geotransform",
            format!(
                "is rotated (row/column rotation terms {} and {})",
                gt[2], gt[4]
            ),
            "only north-up grids are supported: warp it first, e.g. `gdalwarp in.tif out.tif`",
        ));
    }
    let finite = gt.iter().all(|v| v.is_finite());
    if !(finite && gt[1] > 0.0 && gt[5] != 0.0) {
        return Err(BasinError::invalid(
            path,
            "geotransform",
            format!("has an unusable cell size ({} × {})", gt[1], gt[5]),
            "the cell size must be finite and non-zero",
        ));
    }
    let crs_wkt = ds
        .spatial_ref()
        .ok()
        .and_then(|s| s.to_wkt().ok())
        .unwrap_or_default();
    let grid = GeoGrid {
        rows,
        cols,
        origin_x: gt[0],
        origin_y: gt[3],
        dx: gt[1],
        dy: gt[5],
    };
    Ok((grid, crs_wkt))
}

impl GeoGrid {
    /// Whether row 0 is the southern edge (positive y pixel size).
    pub fn is_south_up(&self) -> bool {
        self.dy > 0.0
    }

    /// The same cells described north-up: row 0 at the northern edge, `dy` < 0.
    pub fn north_up(&self) -> Self {
        if !self.is_south_up() {
            return *self;
        }
        Self {
            origin_y: self.origin_y + self.rows as f64 * self.dy,
            dy: -self.dy,
            ..*self
        }
    }
}

/// Read band 1 of a raster as f64, nodata as NaN. Refuses a grid too large for memory
/// before allocating it.
///
/// A south-up raster (positive y pixel size, row 0 in the south) is flipped on load, so
/// that every grid in memory is north-up: row 0 is the northern edge, and edge names,
/// gauges and results follow the map. Results are written north-up, on the same cells.
pub fn read_raster(path: &Path) -> Result<Raster> {
    let (ds, grid, crs_wkt) = read_header(path)?;
    let cells = grid.rows.saturating_mul(grid.cols);
    let needed = run_memory_bytes(cells);
    let available = available_memory_bytes();
    if cells > hydro::MAX_CELLS || needed > available {
        return Err(BasinError::TooLarge {
            path: path.to_path_buf(),
            rows: grid.rows,
            cols: grid.cols,
            needed_bytes: needed,
            available_bytes: available,
        });
    }
    let south_up_in_file = grid.is_south_up();
    let (data, grid, nodata) = read_band(&ds, path, grid, 1)?;
    Ok(Raster {
        path: path.to_path_buf(),
        grid,
        crs_wkt,
        nodata,
        data,
        south_up_in_file,
    })
}

/// Read band `band` (1-based) of an open raster on `grid` as f64, nodata as NaN, and
/// north-up (a south-up band is flipped; the north-up grid is returned with it).
pub fn read_band(
    ds: &Dataset,
    path: &Path,
    grid: GeoGrid,
    band: usize,
) -> Result<(Array2<f64>, GeoGrid, Option<f64>)> {
    let band = ds.rasterband(band).map_err(|e| gdal_err(path, e))?;
    let nodata = band.no_data_value();
    let buffer = band
        .read_as::<f64>((0, 0), (grid.cols, grid.rows), (grid.cols, grid.rows), None)
        .map_err(|e| gdal_err(path, e))?;
    let (_, values) = buffer.into_shape_and_vec();
    let mut data =
        Array2::from_shape_vec((grid.rows, grid.cols), values).map_err(|e| gdal_err(path, e))?;
    let grid = if grid.is_south_up() {
        data.invert_axis(ndarray::Axis(0));
        data = data.as_standard_layout().into_owned();
        grid.north_up()
    } else {
        grid
    };
    if let Some(nd) = nodata {
        data.mapv_inplace(|v| {
            if v == nd || (nd.is_nan() && v.is_nan()) {
                f64::NAN
            } else {
                v
            }
        });
    }
    Ok((data, grid, nodata))
}

/// A short name for a CRS: its EPSG code where it has one, else its name.
pub fn crs_label(wkt: &str) -> String {
    if wkt.is_empty() {
        return "no CRS".into();
    }
    match SpatialRef::from_wkt(wkt) {
        Ok(srs) => match (srs.auth_name(), srs.auth_code()) {
            (Some(name), Ok(code)) => format!("{name}:{code}"),
            _ => srs.name().unwrap_or_else(|| "unnamed CRS".into()),
        },
        Err(_) => "unparsable CRS".into(),
    }
}

/// Whether two CRS definitions are the same (GDAL's OSRIsSame). Two rasters without a
/// CRS count as the same.
pub fn same_crs(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return a.is_empty() && b.is_empty();
    }
    match (SpatialRef::from_wkt(a), SpatialRef::from_wkt(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// How to sample a raster at another grid's cell centres.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resample {
    /// Classes (land cover): the value of the containing cell.
    Nearest,
    /// Continuous values: bilinear between the four nearest cell centres (nodata where
    /// any of them is nodata).
    Bilinear,
}

impl Raster {
    /// This raster's values at the cell centres of `target` (NaN outside or at nodata).
    pub fn resample_onto(&self, target: &GeoGrid, how: Resample) -> Array2<f64> {
        if self.grid == *target {
            return self.data.clone();
        }
        let g = &self.grid;
        Array2::from_shape_fn((target.rows, target.cols), |(r, c)| {
            let (x, y) = target.centre(r, c);
            let (fr, fc) = g.fractional(x, y);
            match how {
                Resample::Nearest => match g.cell_of(x, y) {
                    Some(cell) => self.data[cell],
                    None => f64::NAN,
                },
                Resample::Bilinear => {
                    let (yr, xc) = (fr - 0.5, fc - 0.5);
                    let (r0, c0) = (yr.floor(), xc.floor());
                    let (wr, wc) = (yr - r0, xc - c0);
                    let at = |rr: f64, cc: f64| -> f64 {
                        // Clamp at the outer half cell so edge cells read their own value.
                        let rr = rr.clamp(0.0, (g.rows - 1) as f64) as usize;
                        let cc = cc.clamp(0.0, (g.cols - 1) as f64) as usize;
                        self.data[(rr, cc)]
                    };
                    if fr < 0.0 || fc < 0.0 || fr > g.rows as f64 || fc > g.cols as f64 {
                        return f64::NAN;
                    }
                    let top = at(r0, c0) * (1.0 - wc) + at(r0, c0 + 1.0) * wc;
                    let bottom = at(r0 + 1.0, c0) * (1.0 - wc) + at(r0 + 1.0, c0 + 1.0) * wc;
                    top * (1.0 - wr) + bottom * wr
                }
            }
        })
    }
}

/// Write `data` as a one-band Float32 GeoTIFF (DEFLATE, tiled) on `grid` with
/// `crs_wkt`; NaN becomes `nodata`. See [`write_geotiff_rows`].
pub fn write_geotiff(
    path: &Path,
    grid: &GeoGrid,
    crs_wkt: &str,
    nodata: f64,
    data: &Array2<f64>,
) -> Result<()> {
    if data.dim() != (grid.rows, grid.cols) {
        return Err(BasinError::Write {
            path: path.to_path_buf(),
            reason: format!(
                "{} × {} values for a {} × {} grid",
                data.nrows(),
                data.ncols(),
                grid.rows,
                grid.cols
            ),
        });
    }
    write_geotiff_rows(path, grid, crs_wkt, nodata, |r, out| {
        for (o, &v) in out.iter_mut().zip(data.row(r)) {
            *o = v as f32;
        }
    })
}

/// Rows written (and read back) at a time: one row of the file's 256 × 256 blocks, so
/// that a result needs a strip of memory, not a copy of the grid.
const STRIP_ROWS: usize = 256;

/// Write a one-band Float32 GeoTIFF (DEFLATE, tiled) whose row `r` is what `row(r, out)`
/// puts in `out` (`grid.cols` values; NaN and infinities become `nodata`), a strip of
/// rows at a time, so that a result never needs a second copy of the grid in memory.
///
/// The file is closed and then read back, strip by strip, and compared value by value
/// with what was meant to be written: GDAL 3.6 reports a failed write (a full disk, a
/// file-size limit) neither from the flush nor from the close, so a file that cannot be
/// read back identically is an error, never a "complete" result with a truncated
/// raster. `row` is called twice per row and must give the same values both times.
pub fn write_geotiff_rows(
    path: &Path,
    grid: &GeoGrid,
    crs_wkt: &str,
    nodata: f64,
    row: impl Fn(usize, &mut [f32]),
) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let strip = |r0: usize, buf: &mut Vec<f32>| {
        let rows = STRIP_ROWS.min(grid.rows - r0);
        buf.resize(rows * grid.cols, 0.0);
        for (i, out) in buf.chunks_exact_mut(grid.cols).enumerate() {
            row(r0 + i, out);
            for v in out.iter_mut().filter(|v| !v.is_finite()) {
                *v = nodata as f32;
            }
        }
        rows
    };
    let driver = DriverManager::get_driver_by_name("GTiff").map_err(|e| fail(&e))?;
    let options =
        RasterCreationOptions::from_iter(["COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES"]);
    let mut ds = driver
        .create_with_band_type_with_options::<f32, _>(path, grid.cols, grid.rows, 1, &options)
        .map_err(|e| fail(&e))?;
    ds.set_geo_transform(&grid.geo_transform())
        .map_err(|e| fail(&e))?;
    if !crs_wkt.is_empty() {
        let srs = SpatialRef::from_wkt(crs_wkt).map_err(|e| fail(&e))?;
        ds.set_spatial_ref(&srs).map_err(|e| fail(&e))?;
    }
    ds.rasterband(1)
        .and_then(|mut band| band.set_no_data_value(Some(nodata)))
        .map_err(|e| fail(&e))?;
    let mut values = Vec::new();
    for r0 in (0..grid.rows).step_by(STRIP_ROWS) {
        let rows = strip(r0, &mut values);
        let mut buffer = Buffer::new((grid.cols, rows), std::mem::take(&mut values));
        ds.rasterband(1)
            .and_then(|mut band| band.write((0, r0 as isize), (grid.cols, rows), &mut buffer))
            .map_err(|e| fail(&e))?;
        values = buffer.into_shape_and_vec().1;
        // The strip's blocks are written out and leave GDAL's block cache.
        ds.flush_cache().map_err(|e| fail(&e))?;
    }
    ds.close().map_err(|e| fail(&e))?;
    verify_geotiff(path, grid, |r0, buf| strip(r0, buf)).map_err(|reason| {
        fail(&format!(
            "the file written does not read back as written ({reason}); the disk may be full"
        ))
    })
}

/// Give band 1 of a written raster its description (what it holds) and unit, as GIS tools
/// read them (GDAL keeps both in the GeoTIFF's GDAL_METADATA tag; gdalinfo shows them).
pub fn label_band(path: &Path, description: &str, unit: &str) -> Result<()> {
    use gdal::Metadata;
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let ds = Dataset::open_ex(
        path,
        gdal::DatasetOptions {
            open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE | gdal::GdalOpenFlags::GDAL_OF_RASTER,
            ..gdal::DatasetOptions::default()
        },
    )
    .map_err(|e| fail(&e))?;
    let mut band = ds.rasterband(1).map_err(|e| fail(&e))?;
    band.set_description(description).map_err(|e| fail(&e))?;
    let unit = std::ffi::CString::new(unit).map_err(|e| fail(&e))?;
    // SAFETY: the band handle is valid while `ds` is open; GDAL copies the string.
    let err = unsafe { gdal_sys::GDALSetRasterUnitType(band.c_rasterband(), unit.as_ptr()) };
    if err != gdal_sys::CPLErr::CE_None {
        return Err(fail(&"GDALSetRasterUnitType failed"));
    }
    ds.close().map_err(|e| fail(&e))
}

/// Read a freshly written raster back, strip by strip, and compare it with the values
/// meant for it (`expected(r0, buf)` fills `buf` with the strip from row `r0` and returns
/// its row count).
fn verify_geotiff(
    path: &Path,
    grid: &GeoGrid,
    expected: impl Fn(usize, &mut Vec<f32>) -> usize,
) -> Result<(), String> {
    let mut ds = Dataset::open(path).map_err(|e| e.to_string())?;
    if ds.raster_size() != (grid.cols, grid.rows) {
        return Err(format!("its size is {:?}", ds.raster_size()));
    }
    let mut want = Vec::new();
    for r0 in (0..grid.rows).step_by(STRIP_ROWS) {
        let rows = expected(r0, &mut want);
        let buffer = ds
            .rasterband(1)
            .and_then(|band| {
                band.read_as::<f32>((0, r0 as isize), (grid.cols, rows), (grid.cols, rows), None)
            })
            .map_err(|e| e.to_string())?;
        let (_, got) = buffer.into_shape_and_vec();
        if got.len() != want.len()
            || got
                .iter()
                .zip(&want)
                .any(|(a, b)| a.to_bits() != b.to_bits())
        {
            return Err(format!("its values differ in rows {r0}–{}", r0 + rows - 1));
        }
        // Blocks read leave GDAL's block cache again.
        ds.flush_cache().map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Tile size of the Cloud-Optimized GeoTIFFs (the COG driver makes overviews, each half
/// the last, until one fits in a tile).
const COG_BLOCK: &str = "256";

/// Rewrite a GeoTIFF written by [`write_geotiff_rows`] (and labelled) as a Cloud-Optimized
/// GeoTIFF through GDAL's COG driver: 256 × 256 tiles, DEFLATE, overviews made with
/// `resampling` (e.g. `AVERAGE`), the band's description, unit and nodata kept. The
/// copy is read back at full resolution and compared bit for bit with the original before
/// it replaces it.
pub fn rewrite_as_cog(path: &Path, resampling: &str) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = partial_sibling(path);
    let src = Dataset::open(path).map_err(|e| fail(&e))?;
    let options = RasterCreationOptions::from_iter([
        "COMPRESS=DEFLATE".to_string(),
        "PREDICTOR=YES".to_string(),
        format!("BLOCKSIZE={COG_BLOCK}"),
        format!("OVERVIEW_RESAMPLING={resampling}"),
    ]);
    copy_as_cog(&src, &tmp, &options).map_err(|e| fail(&e))?;
    let same = same_values(&src, &tmp);
    drop(src);
    if let Err(reason) = same {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(&format!(
            "the Cloud-Optimized copy does not read back as written ({reason}); the disk may \
             be full"
        )));
    }
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))
}

/// A one-band raster in memory on `grid` and `crs_wkt` holding `values` (nodata set):
/// what the typed and class COG writers copy through the COG driver.
fn in_memory<T: gdal::raster::GdalType + Copy>(
    grid: &GeoGrid,
    crs_wkt: &str,
    nodata: f64,
    values: &Array2<T>,
) -> std::result::Result<Dataset, gdal::errors::GdalError> {
    let driver = DriverManager::get_driver_by_name("MEM")?;
    let mut mem = driver.create_with_band_type::<T, _>("", grid.cols, grid.rows, 1)?;
    mem.set_geo_transform(&grid.geo_transform())?;
    if !crs_wkt.is_empty() {
        mem.set_spatial_ref(&SpatialRef::from_wkt(crs_wkt)?)?;
    }
    {
        let mut band = mem.rasterband(1)?;
        let mut buffer = Buffer::new(
            (grid.cols, grid.rows),
            values.as_standard_layout().iter().copied().collect(),
        );
        band.write((0, 0), (grid.cols, grid.rows), &mut buffer)?;
        band.set_no_data_value(Some(nodata))?;
    }
    Ok(mem)
}

/// Copy `mem` to `path` as a Cloud-Optimized GeoTIFF with `options`: made beside it, read
/// back and compared bit for bit, then renamed into place with its `.aux.xml` if GDAL
/// wrote one.
fn commit_cog(mem: &Dataset, path: &Path, options: &RasterCreationOptions) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let tmp = partial_sibling(path);
    copy_as_cog(mem, &tmp, options).map_err(|e| fail(&e))?;
    if let Err(reason) = same_values(mem, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_file(aux_of(&tmp));
        return Err(fail(&format!(
            "the file written does not read back as written ({reason}); the disk may be full"
        )));
    }
    std::fs::rename(&tmp, path).map_err(|e| fail(&e))?;
    if aux_of(&tmp).exists() {
        std::fs::rename(aux_of(&tmp), aux_of(path)).map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// A class raster (Byte; `nodata` for no data) as a Cloud-Optimized GeoTIFF with a colour
/// table (`colours[k]` for value k) and category names (`names[k]`), for GIS tools to draw
/// and label the classes; overviews by the nearest class. Category names go into a
/// `<file>.aux.xml` beside it (GDAL's place for what TIFF has no tag for).
#[allow(clippy::too_many_arguments)]
pub fn write_class_cog(
    path: &Path,
    grid: &GeoGrid,
    crs_wkt: &str,
    nodata: u8,
    values: &Array2<u8>,
    colours: &[(u8, [u8; 4])],
    names: &[&str],
    description: &str,
    unit: &str,
) -> Result<()> {
    use gdal::Metadata;
    use gdal::raster::{ColorEntry, ColorTable, PaletteInterpretation};
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mem = in_memory(grid, crs_wkt, f64::from(nodata), values).map_err(|e| fail(&e))?;
    {
        let mut band = mem.rasterband(1).map_err(|e| fail(&e))?;
        let mut table = ColorTable::new(PaletteInterpretation::Rgba);
        for &(k, [r, g, b, a]) in colours {
            let c = |v: u8| i16::from(v);
            table.set_color_entry(u16::from(k), &ColorEntry::rgba(c(r), c(g), c(b), c(a)));
        }
        band.set_color_table(&table);
        band.set_description(description).map_err(|e| fail(&e))?;
        let c_strings: Vec<std::ffi::CString> = names
            .iter()
            .chain(std::iter::once(&unit))
            .map(|s| std::ffi::CString::new(*s))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| fail(&e))?;
        let (name_strings, unit_c) = c_strings.split_at(names.len());
        let mut list: Vec<*mut std::ffi::c_char> =
            name_strings.iter().map(|s| s.as_ptr().cast_mut()).collect();
        list.push(std::ptr::null_mut());
        // SAFETY: the band handle is valid while `mem` lives; GDAL copies the NULL-ended
        // list of strings and the unit, which outlive the calls.
        let errs = unsafe {
            [
                gdal_sys::GDALSetRasterCategoryNames(band.c_rasterband(), list.as_mut_ptr()),
                gdal_sys::GDALSetRasterUnitType(band.c_rasterband(), unit_c[0].as_ptr()),
            ]
        };
        if errs.iter().any(|&e| e != gdal_sys::CPLErr::CE_None) {
            return Err(fail(&"GDAL refused the category names or the unit"));
        }
    }
    let options = RasterCreationOptions::from_iter([
        "COMPRESS=DEFLATE".to_string(),
        format!("BLOCKSIZE={COG_BLOCK}"),
        "OVERVIEW_RESAMPLING=NEAREST".to_string(),
    ]);
    commit_cog(&mem, path, &options)
}

/// A one-band Cloud-Optimized GeoTIFF of any GDAL cell type (e.g. Float64 for a filled
/// DEM, UInt32 for cell counts, Byte for codes), labelled with its description and unit;
/// overviews by `resampling`. Made in memory, copied through the COG driver and read back
/// and compared before it takes its name.
#[allow(clippy::too_many_arguments)]
pub fn write_typed_cog<T: gdal::raster::GdalType + Copy>(
    path: &Path,
    grid: &GeoGrid,
    crs_wkt: &str,
    nodata: f64,
    values: &Array2<T>,
    description: &str,
    unit: &str,
    resampling: &str,
) -> Result<()> {
    use gdal::Metadata;
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let mem = in_memory(grid, crs_wkt, nodata, values).map_err(|e| fail(&e))?;
    {
        let mut band = mem.rasterband(1).map_err(|e| fail(&e))?;
        band.set_description(description).map_err(|e| fail(&e))?;
        let unit = std::ffi::CString::new(unit).map_err(|e| fail(&e))?;
        // SAFETY: the band handle is valid while `mem` lives; GDAL copies the string.
        let err = unsafe { gdal_sys::GDALSetRasterUnitType(band.c_rasterband(), unit.as_ptr()) };
        if err != gdal_sys::CPLErr::CE_None {
            return Err(fail(&"GDALSetRasterUnitType failed"));
        }
    }
    let options = RasterCreationOptions::from_iter([
        "COMPRESS=DEFLATE".to_string(),
        format!("BLOCKSIZE={COG_BLOCK}"),
        format!("OVERVIEW_RESAMPLING={resampling}"),
    ]);
    commit_cog(&mem, path, &options)
}

/// `<file>.aux.xml`, where GDAL keeps what a format has no place for.
pub fn aux_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".aux.xml");
    PathBuf::from(name)
}

/// `.<name>.partial.tif` beside `path`: where a file is made before it replaces `path`.
fn partial_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "result".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial.tif"))
}

fn copy_as_cog(
    src: &Dataset,
    dest: &Path,
    options: &RasterCreationOptions,
) -> std::result::Result<(), gdal::errors::GdalError> {
    let driver = DriverManager::get_driver_by_name("COG")?;
    let copy = src.create_copy(&driver, dest, options)?;
    copy.close()
}

/// Band 1 of `a` and of the file `b` hold the same values, bit for bit (read as f64,
/// which holds every Byte and Float32 value exactly), a strip at a time.
fn same_values(a: &Dataset, b: &Path) -> std::result::Result<(), String> {
    let b = Dataset::open(b).map_err(|e| e.to_string())?;
    let (cols, rows) = a.raster_size();
    if b.raster_size() != (cols, rows) {
        return Err(format!("its size is {:?}", b.raster_size()));
    }
    let (band_a, band_b) = (
        a.rasterband(1).map_err(|e| e.to_string())?,
        b.rasterband(1).map_err(|e| e.to_string())?,
    );
    if band_a.band_type() != band_b.band_type() {
        return Err("its data type differs".into());
    }
    for r0 in (0..rows).step_by(STRIP_ROWS) {
        let n = STRIP_ROWS.min(rows - r0);
        let read = |band: &gdal::raster::RasterBand<'_>| {
            band.read_as::<f64>((0, r0 as isize), (cols, n), (cols, n), None)
                .map(|buf| buf.into_shape_and_vec().1)
                .map_err(|e| e.to_string())
        };
        let (x, y) = (read(&band_a)?, read(&band_b)?);
        if x.iter().zip(&y).any(|(p, q)| p.to_bits() != q.to_bits()) {
            return Err(format!("its values differ in rows {r0}–{}", r0 + n - 1));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run_memory_bytes;

    /// The estimate covers every peak measured and is under twice each of them. The
    /// peaks: max RSS of `rivertwin run` with the app built in, 2 threads, on one machine
    /// (KiB as `/usr/bin/time` gives it; `crates/hydro/README.md`, "Peak memory").
    #[test]
    fn a_runs_memory_covers_the_measured_peaks() {
        for (what, cells, kib) in [
            ("Jacksboro dam_break", 19_600, 73_696),
            ("Merewether recorded_inflow", 133_536, 98_840),
            ("dry valley, dense", 490_000, 130_008),
            ("radial dam break 1024²", 1 << 20, 195_380),
            ("radial dam break 2048²", 1 << 22, 479_624),
        ] {
            let (estimate, peak) = (run_memory_bytes(cells), kib * 1024);
            assert!(
                estimate >= peak && estimate < 2 * peak,
                "{what}: {estimate} B for a peak of {peak} B"
            );
        }
        // An absurd grid gives the largest estimate, not an overflow.
        assert_eq!(run_memory_bytes(usize::MAX), u64::MAX);
    }
}
