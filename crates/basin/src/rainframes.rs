//! Gridded rain: frames of rain intensity (a radar composite, a weather model's forecast)
//! read through GDAL, from a folder of GeoTIFFs named with their times or from a NetCDF
//! file with a time axis, and resampled onto the DEM so that the rain volume over the
//! basin is the frames' volume.
//!
//! A frame holds from its time for the series' step (`interval_s`). Frames are in the
//! DEM's CRS, north-up; only the window over the DEM is read. The resampling is
//! first-order conservative: a DEM cell takes the area-weighted mean of the frame cells it
//! overlaps, so Σ(rate × cell area) over the basin's cells equals Σ(rate × overlap area)
//! over the frame cells, for frames coarser or finer than the DEM and on any offset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gdal::Dataset;
use gdal::Metadata;
use ndarray::Array2;

use crate::basin::Basin;
use crate::config::{ForecastTail, Observation, RainFramesSpec};
use crate::error::{BasinError, Result};
use crate::raster::{GeoGrid, crs_label, gdal_err, read_header, same_crs};

/// The most frames a scenario may give (a day of 1-minute radar frames is 1440).
pub const MAX_FRAMES: usize = 20_000;

/// One frame: rain intensity (mm/h) on the window of its grid that covers the DEM.
#[derive(Clone, Debug)]
pub struct Frame {
    pub time_s: f64,
    /// Where it came from, for messages: the file, and for NetCDF the band and time.
    pub origin: String,
    /// Intensity in mm/h on `window`, nodata as NaN.
    data: Array2<f64>,
    /// Index into [`RainFrames::maps`].
    map: usize,
}

/// From a frame window to the DEM: for each DEM row (column), the window rows
/// (columns) it overlaps and the share of the DEM cell's height (width) each covers.
#[derive(Debug)]
struct ConservativeMap {
    window: GeoGrid,
    rows: Vec<Vec<(usize, f64)>>,
    cols: Vec<Vec<(usize, f64)>>,
}

/// When a frame holds.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start_s: f64,
    end_s: f64,
    frame: usize,
}

/// A scenario's rain frames on a basin's DEM, observed and forecast, ready to be
/// resampled at the time a run reaches them.
#[derive(Debug)]
pub struct RainFrames {
    frames: Vec<Frame>,
    maps: Vec<ConservativeMap>,
    /// In time order, not overlapping.
    spans: Vec<Span>,
    /// Which DEM cells take rain (the basin's active cells).
    active: Arc<Array2<bool>>,
    /// The end of the last observed frame, for observed frames.
    pub observation: Option<Observation>,
    /// The files read, for the run summary.
    pub inputs: Vec<PathBuf>,
}

impl RainFrames {
    /// Read and check the frames of `spec` (scenario file `file`, paths relative to
    /// `base`) against the basin: CRS, coverage of every active cell with data, units,
    /// times.
    pub fn load(spec: &RainFramesSpec, base: &Path, file: &Path, basin: &Basin) -> Result<Self> {
        let key = "rain.frames";
        let bad = |k: &str, problem: String, fix: &str| {
            BasinError::invalid(file, format!("{key}.{k}"), problem, fix)
        };
        let (source, observed) = match (&spec.files, &spec.observed) {
            (Some(f), None) => (f, false),
            (None, Some(o)) => (o, true),
            _ => {
                return Err(BasinError::invalid(
                    file,
                    key,
                    "needs exactly one of `files` (frames known in advance) and `observed` (frames arriving from a feed)",
                    "give rain.frames.files = \"storm/\" or rain.frames.observed = \"radar/\" (a folder of GeoTIFFs or a NetCDF file)",
                ));
            }
        };
        if spec.forecast.is_some() && !observed {
            return Err(bad(
                "forecast",
                "follows observed frames only".into(),
                "use `observed` for the frames a feed delivers, or drop `forecast`",
            ));
        }
        if let Some(i) = spec.interval_s
            && !(i.is_finite() && i > 0.0)
        {
            return Err(bad(
                "interval_s",
                format!("is {i}"),
                "give how long each frame holds in seconds, > 0",
            ));
        }
        let mut frames = RainFrames {
            frames: Vec::new(),
            maps: Vec::new(),
            spans: Vec::new(),
            active: Arc::new(basin.active.clone()),
            observation: None,
            inputs: Vec::new(),
        };
        let main_key = if observed { "observed" } else { "files" };
        let first = frames.read_source(
            &base.join(source),
            spec,
            file,
            &format!("{key}.{main_key}"),
            basin,
        )?;
        let interval = first.1;
        for (k, &(start, _)) in first.0.iter().enumerate() {
            frames.spans.push(Span {
                start_s: start,
                end_s: start + interval,
                frame: k,
            });
        }
        if observed {
            let last = *frames.spans.last().expect("a source has a frame");
            let tail = match spec.forecast.as_deref() {
                None | Some("none") => ForecastTail::Dry,
                Some("persistence") => ForecastTail::Persistence,
                Some(f) => ForecastTail::File(PathBuf::from(f)),
            };
            match &tail {
                ForecastTail::Persistence => {
                    frames.spans.push(Span {
                        start_s: last.end_s,
                        end_s: f64::INFINITY,
                        frame: last.frame,
                    });
                }
                ForecastTail::File(f) => {
                    let offset = frames.frames.len();
                    let (times, interval) = frames.read_source(
                        &base.join(f),
                        spec,
                        file,
                        &format!("{key}.forecast"),
                        basin,
                    )?;
                    for (k, &(start, _)) in times.iter().enumerate() {
                        let end = start + interval;
                        if end > last.end_s {
                            frames.spans.push(Span {
                                start_s: start.max(last.end_s),
                                end_s: end,
                                frame: offset + k,
                            });
                        }
                    }
                }
                ForecastTail::Dry => {}
            }
            frames.observation = Some(Observation {
                key: format!("{key}.observed"),
                file: base.join(source),
                last_s: last.end_s,
                tail,
            });
        }
        Ok(frames)
    }

    /// Read the frames of one source (folder or NetCDF); returns their times (with their
    /// indices in `self.frames`) and the interval they hold for.
    fn read_source(
        &mut self,
        path: &Path,
        spec: &RainFramesSpec,
        file: &Path,
        key: &str,
        basin: &Basin,
    ) -> Result<(Vec<(f64, usize)>, f64)> {
        if !path.exists() {
            return Err(BasinError::Io {
                path: path.to_path_buf(),
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
                fix: "give a folder of GeoTIFF frames named <name>_<time_s>s.tif, or a NetCDF file with a time axis (paths are relative to the scenario file)",
            });
        }
        let raw = if path.is_dir() {
            read_folder(path)?
        } else {
            read_netcdf(path, spec.variable.as_deref())?
        };
        if raw.is_empty() {
            return Err(BasinError::invalid(
                path,
                key,
                "holds no frame yet",
                "wait for the first frame of the feed, or put <name>_<time_s>s.tif files in the folder",
            ));
        }
        if raw.len() > MAX_FRAMES {
            return Err(BasinError::invalid(
                path,
                key,
                format!("holds {} frames, more than {MAX_FRAMES}", raw.len()),
                "give fewer, longer frames (aggregate them in time)",
            ));
        }
        // Times increasing and regular.
        for w in raw.windows(2) {
            if w[1].time_s <= w[0].time_s {
                return Err(BasinError::invalid(
                    path,
                    key,
                    format!(
                        "has {} at {} s after {} at {} s",
                        w[1].origin, w[1].time_s, w[0].origin, w[0].time_s
                    ),
                    "frame times must increase; remove or rename the duplicate",
                ));
            }
        }
        let interval = match (raw.len(), spec.interval_s) {
            (1, None) => {
                return Err(BasinError::invalid(
                    file,
                    "rain.frames.interval_s",
                    format!("is needed: {} holds a single frame", path.display()),
                    "give how long each frame holds, e.g. interval_s = 300",
                ));
            }
            (1, Some(i)) => i,
            _ => raw[1].time_s - raw[0].time_s,
        };
        if let Some(i) = spec.interval_s
            && (i - interval).abs() > 1e-6 * interval
        {
            return Err(BasinError::invalid(
                file,
                "rain.frames.interval_s",
                format!(
                    "is {i} s but the frames of {} are {interval} s apart",
                    path.display()
                ),
                "drop interval_s (it is taken from the frames' spacing) or give the spacing",
            ));
        }
        for w in raw.windows(2) {
            let step = w[1].time_s - w[0].time_s;
            if (step - interval).abs() > 1e-6 * interval {
                return Err(BasinError::invalid(
                    path,
                    key,
                    format!(
                        "has a gap: {} at {} s follows {} at {} s, but the frames are {interval} s apart",
                        w[1].origin, w[1].time_s, w[0].origin, w[0].time_s
                    ),
                    format!(
                        "supply the missing frame at {} s (a frame of zeros where it did not rain)",
                        w[0].time_s + interval
                    ),
                ));
            }
        }
        let mut times = Vec::with_capacity(raw.len());
        for r in raw {
            let scale = r.unit.to_mm_per_h(interval).ok_or_else(|| {
                BasinError::invalid(
                    &r.path,
                    "units",
                    format!("of {} are `{}`", r.origin, r.unit_text),
                    "give frames in mm/h (or mm per frame as `mm`, or CF `kg m-2 s-1`)",
                )
            })?;
            if !same_crs(&r.crs_wkt, &basin.dem.crs_wkt) {
                return Err(BasinError::CrsMismatch {
                    path_a: basin.dem.path.clone(),
                    path_b: r.path.clone(),
                    crs_a: crs_label(&basin.dem.crs_wkt),
                    crs_b: crs_label(&r.crs_wkt),
                });
            }
            let (window, data) = crop(&r.window, &r.data, basin.grid());
            let map = self.map_for(&window, &r.path, &r.origin, basin)?;
            let data = data.mapv(|v| v * scale);
            check_frame(&self.maps[map], &data, &self.active, &r, basin)?;
            if !self.inputs.contains(&r.path) {
                self.inputs.push(r.path.clone());
            }
            times.push((r.time_s, self.frames.len()));
            self.frames.push(Frame {
                time_s: r.time_s,
                origin: r.origin,
                data,
                map,
            });
        }
        Ok((times, interval))
    }

    /// The conservative map for frames on `window` (made once per distinct grid).
    fn map_for(
        &mut self,
        window: &GeoGrid,
        path: &Path,
        origin: &str,
        basin: &Basin,
    ) -> Result<usize> {
        if let Some(i) = self.maps.iter().position(|m| m.window == *window) {
            return Ok(i);
        }
        let map = ConservativeMap::new(window, basin.grid());
        // Every active cell must lie wholly inside the frame.
        for (r, row) in basin.active.outer_iter().enumerate() {
            let wy: f64 = map.rows[r].iter().map(|p| p.1).sum();
            for (c, &a) in row.iter().enumerate() {
                let wx: f64 = map.cols[c].iter().map(|p| p.1).sum();
                if a && (wy < 1.0 - 1e-9 || wx < 1.0 - 1e-9) {
                    let (x, y) = basin.grid().centre(r, c);
                    return Err(BasinError::invalid(
                        path,
                        "extent",
                        format!(
                            "of {origin} does not cover the basin: the active cell at row {r}, col {c} (x {x:.1}, y {y:.1}) lies (partly) outside it"
                        ),
                        "give frames that cover the whole DEM (a larger radar window)",
                    ));
                }
            }
        }
        self.maps.push(map);
        Ok(self.maps.len() - 1)
    }

    /// The frame (its index) holding at `t_s`, if any, and when that changes next.
    pub fn at(&self, t_s: f64) -> (Option<usize>, f64) {
        // Spans are few (one per frame): a binary search on the start times.
        let i = self.spans.partition_point(|s| s.start_s <= t_s);
        let next_start = self.spans.get(i).map_or(f64::INFINITY, |s| s.start_s);
        match i.checked_sub(1).map(|k| self.spans[k]) {
            Some(s) if t_s < s.end_s => (Some(s.frame), s.end_s.min(next_start)),
            _ => (None, next_start),
        }
    }

    /// Frame `k` on the DEM in mm/h (zero on inactive cells), into `out`.
    pub fn resample_into(&self, k: usize, out: &mut Array2<f64>) {
        let frame = &self.frames[k];
        let map = &self.maps[frame.map];
        let cols = out.ncols();
        for (r, mut row) in out.outer_iter_mut().enumerate() {
            let active = self.active.row(r);
            for c in 0..cols {
                row[c] = if active[c] {
                    map.rows[r]
                        .iter()
                        .map(|&(i, wy)| {
                            wy * map.cols[c]
                                .iter()
                                .map(|&(j, wx)| wx * frame.data[(i, j)])
                                .sum::<f64>()
                        })
                        .sum()
                } else {
                    0.0
                };
            }
        }
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

impl ConservativeMap {
    fn new(window: &GeoGrid, dem: &GeoGrid) -> Self {
        // Overlaps in the window's fractional coordinates; each DEM cell spans [a, b).
        let overlaps = |a: f64, b: f64, n: usize| -> Vec<(usize, f64)> {
            let (lo, hi) = (a.min(b), a.max(b));
            let first = lo.floor().max(0.0) as usize;
            let last = (hi.ceil().max(0.0) as usize).min(n);
            (first..last)
                .filter_map(|j| {
                    let o = (hi.min(j as f64 + 1.0) - lo.max(j as f64)).max(0.0) / (hi - lo);
                    (o > 0.0).then_some((j, o))
                })
                .collect()
        };
        let rows = (0..dem.rows)
            .map(|r| {
                let top = dem.origin_y + r as f64 * dem.dy;
                let bottom = top + dem.dy;
                overlaps(
                    (top - window.origin_y) / window.dy,
                    (bottom - window.origin_y) / window.dy,
                    window.rows,
                )
            })
            .collect();
        let cols = (0..dem.cols)
            .map(|c| {
                let left = dem.origin_x + c as f64 * dem.dx;
                overlaps(
                    (left - window.origin_x) / window.dx,
                    (left + dem.dx - window.origin_x) / window.dx,
                    window.cols,
                )
            })
            .collect();
        Self {
            window: *window,
            rows,
            cols,
        }
    }
}

/// The part of a north-up frame that lies over the DEM's extent (a cell more on each
/// side), and its grid.
fn crop(grid: &GeoGrid, data: &Array2<f64>, dem: &GeoGrid) -> (GeoGrid, Array2<f64>) {
    let (x0, y0, x1, y1) = dem.extent();
    let span = |a: f64, b: f64, n: usize| {
        let (lo, hi) = (a.min(b), a.max(b));
        let first = (lo.floor() - 1.0).clamp(0.0, n as f64) as usize;
        let last = (hi.ceil() + 1.0).clamp(0.0, n as f64) as usize;
        (first, last.max(first))
    };
    let (c0, c1) = span(
        (x0 - grid.origin_x) / grid.dx,
        (x1 - grid.origin_x) / grid.dx,
        grid.cols,
    );
    let (r0, r1) = span(
        (y1 - grid.origin_y) / grid.dy,
        (y0 - grid.origin_y) / grid.dy,
        grid.rows,
    );
    let window = GeoGrid {
        rows: r1 - r0,
        cols: c1 - c0,
        origin_x: grid.origin_x + c0 as f64 * grid.dx,
        origin_y: grid.origin_y + r0 as f64 * grid.dy,
        dx: grid.dx,
        dy: grid.dy,
    };
    let data = data.slice(ndarray::s![r0..r1, c0..c1]).to_owned();
    (window, data)
}

/// Every window cell an active cell draws on holds a rate ≥ 0.
fn check_frame(
    map: &ConservativeMap,
    data: &Array2<f64>,
    active: &Array2<bool>,
    raw: &RawFrame,
    basin: &Basin,
) -> Result<()> {
    for (r, row) in active.outer_iter().enumerate() {
        for (c, &a) in row.iter().enumerate() {
            if !a {
                continue;
            }
            for &(i, _) in &map.rows[r] {
                for &(j, _) in &map.cols[c] {
                    let v = data[(i, j)];
                    if !(v.is_finite() && v >= 0.0) {
                        let (x, y) = basin.grid().centre(r, c);
                        let what = if v.is_nan() {
                            "no data".to_string()
                        } else {
                            format!("{v} mm/h")
                        };
                        return Err(BasinError::invalid(
                            &raw.path,
                            "cells",
                            format!(
                                "{} has {what} over the basin's cell at row {r}, col {c} (x {x:.1}, y {y:.1})",
                                raw.origin
                            ),
                            "every frame needs a rate ≥ 0 over the whole basin: fill the gap (0 where it did not rain) or clip the radar's missing sectors outside the basin",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Units a frame's values may carry.
#[derive(Clone, Copy, Debug)]
enum Unit {
    MmPerH,
    MmPerFrame,
    MmPerS,
    MPerS,
    Unknown,
}

impl Unit {
    fn parse(text: &str) -> Self {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "mm/h" | "mm h-1" | "mm/hr" | "mm hr-1" | "mm h**-1" | "mm.h-1" => Self::MmPerH,
            "mm" => Self::MmPerFrame,
            "mm/s" | "mm s-1" | "kg m-2 s-1" | "kg/m2/s" | "kg m**-2 s**-1" => Self::MmPerS,
            "m/s" | "m s-1" => Self::MPerS,
            _ => Self::Unknown,
        }
    }

    fn to_mm_per_h(self, interval_s: f64) -> Option<f64> {
        match self {
            Self::MmPerH => Some(1.0),
            Self::MmPerFrame => Some(3600.0 / interval_s),
            Self::MmPerS => Some(3600.0),
            Self::MPerS => Some(3.6e6),
            Self::Unknown => None,
        }
    }
}

/// A frame as read, before its units are applied.
struct RawFrame {
    path: PathBuf,
    origin: String,
    time_s: f64,
    crs_wkt: String,
    unit: Unit,
    unit_text: String,
    /// The window of the frame's grid that is read.
    window: GeoGrid,
    data: Array2<f64>,
}

/// The frames of a folder: every `.tif`/`.tiff` in it, named `<name>_<time_s>s.tif`,
/// in time order.
fn read_folder(dir: &Path) -> Result<Vec<RawFrame>> {
    let entries = std::fs::read_dir(dir).map_err(|cause| BasinError::Io {
        path: dir.to_path_buf(),
        cause,
        fix: "check the folder exists and is readable",
    })?;
    let mut named = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|cause| BasinError::Io {
                path: dir.to_path_buf(),
                cause,
                fix: "check the folder is readable",
            })?
            .path();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("tif" | "tiff")) {
            continue;
        }
        let time_s = time_from_name(&path).ok_or_else(|| {
            BasinError::invalid(
                &path,
                "file name",
                "does not end in _<time_s>s",
                "name each frame with its time in seconds from the scenario's start, e.g. radar_000300s.tif",
            )
        })?;
        named.push((time_s, path));
    }
    named.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut frames = Vec::with_capacity(named.len());
    for (time_s, path) in named {
        let (ds, grid, crs_wkt) = read_header(&path)?;
        let band = ds.rasterband(1).map_err(|e| gdal_err(&path, e))?;
        let unit_text = band.unit();
        let origin = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let (data, window, _) = crate::raster::read_band(&ds, &path, grid, 1)?;
        frames.push(RawFrame {
            unit: Unit::parse(&unit_text),
            unit_text,
            crs_wkt,
            time_s,
            origin,
            window,
            data,
            path,
        });
    }
    Ok(frames)
}

/// `radar_000300s.tif` → 300.
fn time_from_name(path: &Path) -> Option<f64> {
    let stem = path.file_stem()?.to_str()?;
    let digits = stem.strip_suffix('s')?.rsplit('_').next()?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    digits.parse::<f64>().ok().filter(|t| t.is_finite())
}

/// The frames of a NetCDF variable with a time axis (through GDAL's netCDF driver: one
/// band per time).
fn read_netcdf(path: &Path, variable: Option<&str>) -> Result<Vec<RawFrame>> {
    crate::netcdf::quiet_hdf5();
    let name = match variable {
        Some(v) => format!("NETCDF:\"{}\":{v}", path.display()),
        None => {
            let ds = Dataset::open(path).map_err(|e| gdal_err(path, e))?;
            if ds.raster_count() > 0 {
                path.display().to_string()
            } else {
                let subs: Vec<String> = ds
                    .metadata_domain("SUBDATASETS")
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|l| l.contains("_NAME="))
                    .filter_map(|l| l.rsplit(':').next().map(str::to_string))
                    .collect();
                return Err(BasinError::invalid(
                    path,
                    "variable",
                    format!(
                        "is needed: the file holds several variables ({})",
                        subs.join(", ")
                    ),
                    "give rain.frames.variable = \"<name>\"",
                ));
            }
        }
    };
    let ds = Dataset::open(Path::new(&name)).map_err(|e| gdal_err(path, e))?;
    let (grid, crs_wkt) = crate::raster::header_of(&ds, path)?;
    let mut frames = Vec::with_capacity(ds.raster_count());
    for b in 1..=ds.raster_count() {
        let band = ds.rasterband(b).map_err(|e| gdal_err(path, e))?;
        let dim = band
            .metadata()
            .find(|e| e.key.starts_with("NETCDF_DIM_") && e.key != "NETCDF_DIM_EXTRA")
            .ok_or_else(|| {
                BasinError::invalid(
                    path,
                    "time",
                    format!("band {b} has no time coordinate"),
                    "give the variable a time dimension with a coordinate variable (CF)",
                )
            })?;
        let axis = dim.key.trim_start_matches("NETCDF_DIM_").to_string();
        let units = ds
            .metadata_item(&format!("{axis}#units"), "")
            .unwrap_or_default();
        let scale = time_scale(&units).ok_or_else(|| {
            BasinError::invalid(
                path,
                format!("{axis}.units"),
                format!("are `{units}`"),
                "give the time axis in seconds (or minutes, hours) from the scenario's start, e.g. units = \"seconds since 2026-01-01 00:00\" where that is the scenario's t = 0",
            )
        })?;
        let value: f64 = dim.value.trim().parse().map_err(|_| {
            BasinError::invalid(
                path,
                axis.clone(),
                format!("band {b} has time `{}`", dim.value),
                "give numeric times",
            )
        })?;
        let unit_text = band.unit();
        let time_s = value * scale;
        let (data, window, _) = crate::raster::read_band(&ds, path, grid, b)?;
        frames.push(RawFrame {
            path: path.to_path_buf(),
            origin: format!("the frame at {time_s} s (band {b})"),
            time_s,
            crs_wkt: crs_wkt.clone(),
            unit: Unit::parse(&unit_text),
            unit_text,
            window,
            data,
        });
    }
    frames.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    Ok(frames)
}

/// Seconds per unit of a CF time axis (`seconds since …`, `minutes`, `hours`).
fn time_scale(units: &str) -> Option<f64> {
    let first = units.split_whitespace().next()?.to_ascii_lowercase();
    match first.as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => Some(1.0),
        "min" | "mins" | "minute" | "minutes" => Some(60.0),
        "h" | "hr" | "hrs" | "hour" | "hours" => Some(3600.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_times_come_from_their_names() {
        assert_eq!(time_from_name(Path::new("radar_000300s.tif")), Some(300.0));
        assert_eq!(time_from_name(Path::new("a_b_12.5s.tiff")), Some(12.5));
        assert_eq!(time_from_name(Path::new("radar_0300.tif")), None);
        assert_eq!(time_from_name(Path::new("radar_s.tif")), None);
        assert_eq!(time_from_name(Path::new("radar_-5s.tif")), None);
    }

    #[test]
    fn a_dem_cell_takes_the_area_weighted_mean_of_the_frame_cells_it_overlaps() {
        // Window: 2 × 2 cells of 100 m; DEM: cells of 30 m starting 20 m in. The DEM cell
        // in column 2 spans x 80–110: 20 m over window column 0 and 10 m over column 1.
        let window = GeoGrid {
            rows: 2,
            cols: 2,
            origin_x: 0.0,
            origin_y: 200.0,
            dx: 100.0,
            dy: -100.0,
        };
        let dem = GeoGrid {
            rows: 5,
            cols: 5,
            origin_x: 20.0,
            origin_y: 180.0,
            dx: 30.0,
            dy: -30.0,
        };
        let map = ConservativeMap::new(&window, &dem);
        assert_eq!(map.cols[2].len(), 2);
        assert!((map.cols[2][0].1 - 20.0 / 30.0).abs() < 1e-12);
        assert!((map.cols[2][1].1 - 10.0 / 30.0).abs() < 1e-12);
        for w in map.rows.iter().chain(&map.cols) {
            assert!((w.iter().map(|p| p.1).sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn times_are_read_in_seconds_minutes_or_hours() {
        assert_eq!(time_scale("seconds since 2026-01-01"), Some(1.0));
        assert_eq!(time_scale("minutes"), Some(60.0));
        assert_eq!(time_scale("hours since 2026-01-01 00:00:00"), Some(3600.0));
        assert_eq!(time_scale("days since 2026-01-01"), None);
    }
}
