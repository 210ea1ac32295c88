//! What a run records: envelopes (max depth, speed, depth × speed, hazard), inundation
//! timing, gauge hydrographs; and writing them out.

use std::path::Path;

use ndarray::{Array2, ArrayView2};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::raster::write_geotiff_rows;

/// Nodata value of every result raster.
pub const NODATA: f64 = -9999.0;

/// What a result layer holds, and so how it is accumulated over a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The largest depth each cell has seen (m).
    MaxDepth,
    /// The largest speed (m/s).
    MaxSpeed,
    /// The largest depth × speed (m²/s).
    MaxDepthSpeed,
    /// The highest hazard class.
    MaxHazard,
    /// The time a cell first went under (deeper than the wet depth); nodata if never.
    FirstInundation,
    /// Seconds spent deeper than the wet depth.
    Duration,
    /// The depth at the end of the run.
    FinalDepth,
}

/// How a layer is drawn: colour stops from the lowest value to the highest (sRGB), and
/// whether the values are classes (one band of colour per stop) or a continuous ramp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Legend {
    pub stops: &'static [[u8; 3]],
    pub classes: bool,
}

/// Light cyan (shallow) to deep navy.
pub const DEPTH_LEGEND: Legend = Legend {
    stops: &[
        [190, 235, 255],
        [110, 195, 250],
        [45, 140, 225],
        [20, 85, 180],
        [10, 40, 120],
    ],
    classes: false,
};

/// Viridis-like: dark violet (still) to yellow (fast).
pub const SPEED_LEGEND: Legend = Legend {
    stops: &[
        [68, 1, 84],
        [59, 82, 139],
        [33, 145, 140],
        [94, 201, 98],
        [253, 231, 37],
    ],
    classes: false,
};

/// ARR / NSW FB03 H1–H6, one band each (UK classes use the first four).
pub const HAZARD_LEGEND: Legend = Legend {
    stops: &[
        [26, 152, 80],
        [166, 217, 106],
        [254, 224, 139],
        [253, 174, 97],
        [244, 109, 67],
        [165, 0, 38],
    ],
    classes: true,
};

/// Early (yellow) to late (purple).
pub const ARRIVAL_LEGEND: Legend = Legend {
    stops: &[
        [252, 230, 60],
        [248, 150, 64],
        [220, 80, 110],
        [140, 40, 150],
        [50, 20, 120],
    ],
    classes: false,
};

/// Short (pale) to long (dark brown).
pub const DURATION_LEGEND: Legend = Legend {
    stops: &[
        [255, 245, 220],
        [250, 200, 130],
        [225, 130, 60],
        [170, 70, 20],
        [90, 35, 10],
    ],
    classes: false,
};

/// Probability, 0 (pale) to 1 (dark red): ColorBrewer's YlOrRd, the usual sequential
/// scheme of flood probability maps.
pub const PROBABILITY_LEGEND: Legend = Legend {
    stops: &[
        [255, 255, 204],
        [254, 217, 118],
        [253, 141, 60],
        [227, 26, 28],
        [128, 0, 38],
    ],
    classes: false,
};

/// Soil losses (curve number, conductivity, loss rate): pale (little) to dark green
/// (much); ColorBrewer's YlGn.
pub const SOIL_LEGEND: Legend = Legend {
    stops: &[
        [255, 255, 229],
        [217, 240, 163],
        [120, 198, 121],
        [35, 132, 67],
        [0, 69, 41],
    ],
    classes: false,
};

/// One result layer: its file, unit, meaning and legend. [`RESULT_LAYERS`] lists them
/// all; the envelopes, the writer, the app's layers and the tests take names, units and
/// colours from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultLayer {
    /// Short name, also the file name without `.tif`.
    pub key: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub source: Source,
    pub legend: Legend,
}

impl ResultLayer {
    pub fn file_name(&self) -> String {
        format!("{}.tif", self.key)
    }

    /// This layer's values now, `rows × cols` (NaN where a time is not reached yet), as
    /// the solver keeps them.
    pub fn view<'a>(&self, solver: &'a hydro::Solver) -> LayerView<'a> {
        let env = envelopes(solver);
        match self.source {
            Source::MaxDepth => LayerView::F32(env.max_depth_m),
            Source::MaxSpeed => LayerView::F32(env.max_speed_m_s),
            Source::MaxDepthSpeed => LayerView::F32(env.max_depth_speed_m2_s),
            Source::MaxHazard => LayerView::F32(env.max_hazard),
            Source::FirstInundation => LayerView::F32(env.first_inundation_s),
            Source::Duration => LayerView::Durations(env.duration_inundated_s),
            Source::FinalDepth => LayerView::F64(solver.depth_m()),
        }
    }

    /// This layer's values now as a new f64 array.
    pub fn values(&self, solver: &hydro::Solver) -> Array2<f64> {
        match self.view(solver) {
            LayerView::F32(v) => v.mapv(f64::from),
            LayerView::F64(v) => v.to_owned(),
            LayerView::Durations(d) => d.to_owned(),
        }
    }
}

/// A result layer's values where the solver keeps them, at the precision it keeps them.
#[derive(Clone, Debug)]
pub enum LayerView<'a> {
    F32(ArrayView2<'a, f32>),
    F64(ArrayView2<'a, f64>),
    /// Worked out a row at a time when read.
    Durations(hydro::Durations<'a>),
}

/// Every result layer a run writes, in the order they are written.
pub const RESULT_LAYERS: [ResultLayer; 7] = [
    ResultLayer {
        key: "max_depth_m",
        title: "Maximum depth",
        unit: "m",
        source: Source::MaxDepth,
        legend: DEPTH_LEGEND,
    },
    ResultLayer {
        key: "max_speed_m_s",
        title: "Maximum speed",
        unit: "m/s",
        source: Source::MaxSpeed,
        legend: SPEED_LEGEND,
    },
    ResultLayer {
        key: "max_depth_speed_m2_s",
        title: "Maximum depth × speed",
        unit: "m²/s",
        source: Source::MaxDepthSpeed,
        legend: SPEED_LEGEND,
    },
    ResultLayer {
        key: "hazard_class",
        title: "Highest hazard class",
        unit: "class",
        source: Source::MaxHazard,
        legend: HAZARD_LEGEND,
    },
    ResultLayer {
        key: "first_inundation_s",
        title: "Time of arrival (first inundation)",
        unit: "s",
        source: Source::FirstInundation,
        legend: ARRIVAL_LEGEND,
    },
    ResultLayer {
        key: "duration_inundated_s",
        title: "Duration of inundation",
        unit: "s",
        source: Source::Duration,
        legend: DURATION_LEGEND,
    },
    ResultLayer {
        key: "final_depth_m",
        title: "Depth at the end",
        unit: "m",
        source: Source::FinalDepth,
        legend: DEPTH_LEGEND,
    },
];

/// The layer whose file name (without `.tif`) is `key`.
pub fn result_layer(key: &str) -> Option<&'static ResultLayer> {
    RESULT_LAYERS.iter().find(|l| l.key == key)
}

/// The envelopes a run's solver tracks (the engine turns tracking on when it builds it).
pub fn envelopes(solver: &hydro::Solver) -> hydro::Envelopes<'_> {
    solver
        .envelopes()
        .expect("the run engine tracks envelopes from the start")
}

/// Write every result layer into `dir`, with the DEM's grid, CRS and nodata, straight
/// from where the solver keeps it (a strip of rows in memory at a time); returns the file
/// names.
pub fn write_layers(
    dir: &Path,
    basin: &Basin,
    solver: &hydro::Solver,
    hazard: crate::config::HazardMethod,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for layer in &RESULT_LAYERS {
        let name = layer.file_name();
        let path = dir.join(&name);
        if layer.legend.classes {
            write_classes(&path, basin, layer, solver, hazard)?;
            names.push(name);
            names.push(format!("{}.aux.xml", layer.file_name()));
        } else {
            match layer.view(solver) {
                LayerView::F32(v) => write_masked(&path, basin, v)?,
                LayerView::F64(v) => write_masked(&path, basin, v)?,
                LayerView::Durations(d) => write_masked_durations(&path, basin, d)?,
            }
            crate::raster::label_band(&path, layer.title, layer.unit)?;
            crate::raster::rewrite_as_cog(&path, "AVERAGE")?;
            names.push(name);
        }
        // A QGIS style beside it, so that the layer opens with the app's colours.
        let max = match layer.view(solver) {
            LayerView::F32(v) => active_max(basin, v),
            LayerView::F64(v) => active_max(basin, v),
            LayerView::Durations(d) => {
                let mut row = vec![0.0; d.dim().1];
                (0..d.dim().0)
                    .map(|r| {
                        d.row_into(r, &mut row);
                        active_max_of(row.iter().copied().zip(basin.active.row(r)))
                    })
                    .fold(0.0, f64::max)
            }
        };
        let qml = format!("{}.qml", layer.key);
        let style = qgis_style(&layer.legend, layer.unit, max);
        std::fs::write(dir.join(&qml), style).map_err(|e| BasinError::Write {
            path: dir.join(&qml),
            reason: e.to_string(),
        })?;
        names.push(qml);
    }
    Ok(names)
}

/// Nodata of the class rasters (Byte).
pub const CLASS_NODATA: u8 = 255;

/// The hazard classes as a Byte Cloud-Optimized GeoTIFF: 0 never flooded (transparent),
/// 1… the classes in the legend's colours, named H1–H6 (ARR) or low … extreme (UK),
/// [`CLASS_NODATA`] outside the basin.
fn write_classes(
    path: &Path,
    basin: &Basin,
    layer: &ResultLayer,
    solver: &hydro::Solver,
    hazard: crate::config::HazardMethod,
) -> Result<()> {
    let LayerView::F32(v) = layer.view(solver) else {
        unreachable!("hazard classes are kept in f32");
    };
    let values = ndarray::Zip::from(&v)
        .and(&basin.active)
        .map_collect(|&c, &active| if active { c as u8 } else { CLASS_NODATA });
    let mut colours = vec![(0u8, [0, 0, 0, 0])];
    colours.extend(
        layer
            .legend
            .stops
            .iter()
            .enumerate()
            .map(|(i, &[r, g, b])| ((i + 1) as u8, [r, g, b, 255])),
    );
    let names: &[&str] = match hazard {
        crate::config::HazardMethod::Arr => &["never flooded", "H1", "H2", "H3", "H4", "H5", "H6"],
        crate::config::HazardMethod::Uk => {
            &["never flooded", "low", "moderate", "significant", "extreme"]
        }
    };
    crate::raster::write_class_cog(
        path,
        basin.grid(),
        &basin.dem.crs_wkt,
        CLASS_NODATA,
        &values,
        &colours,
        names,
        layer.title,
        layer.unit,
    )
}

/// The largest finite value over the basin's active cells (0 when there is none).
/// (Read in place, without a copy of the layer: a copy of a large grid would set the
/// run's peak memory.)
fn active_max<T: Copy + Into<f64>>(basin: &Basin, values: ArrayView2<'_, T>) -> f64 {
    active_max_of(values.iter().map(|&v| v.into()).zip(basin.active.iter()))
}

/// [`active_max`] of (value, active) pairs.
fn active_max_of<'a>(values: impl Iterator<Item = (f64, &'a bool)>) -> f64 {
    values
        .filter(|(v, a)| **a && v.is_finite())
        .map(|(v, _)| v)
        .fold(0.0, f64::max)
}

/// A QGIS layer style (`.qml`) with a layer's legend: a colour ramp from 0 to `max`
/// (e.g. the layer's largest value in this run) spread evenly over the legend's stops, or
/// for the hazard classes one colour per class H1–H6 (0, never wet, left transparent).
pub fn qgis_style(legend: &Legend, unit: &str, max: f64) -> String {
    let hex = |c: [u8; 3]| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]);
    let stops = legend.stops;
    let (ramp, items): (&str, Vec<(f64, String, String)>) = if legend.classes {
        (
            "EXACT",
            stops
                .iter()
                .enumerate()
                .map(|(i, &c)| ((i + 1) as f64, hex(c), format!("H{}", i + 1)))
                .collect(),
        )
    } else {
        let top = if max > 0.0 { max } else { 1.0 };
        let n = stops.len().max(2) - 1;
        (
            "INTERPOLATED",
            stops
                .iter()
                .enumerate()
                .map(|(i, &c)| {
                    let v = top * i as f64 / n as f64;
                    (v, hex(c), format!("{} {}", legend_number(v), unit))
                })
                .collect(),
        )
    };
    let (lo, hi) = (items[0].0, items[items.len() - 1].0);
    let mut xml = String::new();
    xml += "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n";
    xml += "<qgis version=\"3.28.0\" styleCategories=\"Symbology\">\n  <pipe>\n";
    xml += &format!(
        "    <rasterrenderer type=\"singlebandpseudocolor\" band=\"1\" opacity=\"1\" alphaBand=\"-1\" classificationMin=\"{lo}\" classificationMax=\"{hi}\">\n"
    );
    xml += "      <rastershader>\n";
    xml += &format!(
        "        <colorrampshader colorRampType=\"{ramp}\" classificationMode=\"1\" clip=\"0\" minimumValue=\"{lo}\" maximumValue=\"{hi}\">\n"
    );
    for (v, colour, label) in &items {
        xml += &format!(
            "          <item value=\"{v}\" color=\"{colour}\" alpha=\"255\" label=\"{}\"/>\n",
            label
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;")
        );
    }
    xml += "        </colorrampshader>\n      </rastershader>\n    </rasterrenderer>\n  </pipe>\n</qgis>\n";
    xml
}

/// A legend number: no more digits than it needs.
fn legend_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Write a result raster (Float32) on the basin's grid and CRS, nodata outside its active
/// cells.
pub fn write_masked<T: Copy + Into<f64>>(
    path: &Path,
    basin: &Basin,
    data: ArrayView2<'_, T>,
) -> Result<()> {
    write_geotiff_rows(path, basin.grid(), &basin.dem.crs_wkt, NODATA, |r, out| {
        for ((o, &v), &active) in out.iter_mut().zip(data.row(r)).zip(basin.active.row(r)) {
            *o = if active { v.into() as f32 } else { f32::NAN };
        }
    })
}

/// [`write_masked`] for the durations, worked out a row at a time.
fn write_masked_durations(path: &Path, basin: &Basin, d: hydro::Durations<'_>) -> Result<()> {
    let row = std::cell::RefCell::new(vec![0.0; d.dim().1]);
    write_geotiff_rows(path, basin.grid(), &basin.dem.crs_wkt, NODATA, |r, out| {
        let mut row = row.borrow_mut();
        d.row_into(r, &mut row);
        for ((o, &v), &active) in out.iter_mut().zip(row.iter()).zip(basin.active.row(r)) {
            *o = if active { v as f32 } else { f32::NAN };
        }
    })
}

/// One gauge at one time: depth (m), level (m), speed (m/s).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaugeSample {
    pub depth_m: f64,
    pub level_m: f64,
    pub speed_m_s: f64,
}

impl GaugeSample {
    /// Depth, level and speed of one cell (row, col) now; speed 0 where the cell is dry.
    pub fn at(solver: &hydro::Solver, cell: (usize, usize)) -> Self {
        let d = solver.depth_m()[cell];
        let speed_m_s = if d > solver.params().dry_depth_m {
            solver.qx_m2_s()[cell].hypot(solver.qy_m2_s()[cell]) / d
        } else {
            0.0
        };
        Self {
            depth_m: d,
            level_m: solver.bed_m()[cell] + d,
            speed_m_s,
        }
    }
}

/// A gauge's highest level so far, looked at after every solver step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaugePeak {
    pub level_m: f64,
    pub depth_m: f64,
    /// When it was reached (s): the end of the step.
    pub time_s: f64,
}

/// Gauge samples over time: one row per output time; and each gauge's peak, followed at
/// every step (the rows alone would miss a peak between output times).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GaugeRecords {
    pub rows: Vec<(f64, Vec<GaugeSample>)>,
    /// One per gauge, in the basin's order (empty in states saved before peaks were kept:
    /// they start again from the next step).
    #[serde(default)]
    pub peaks: Vec<GaugePeak>,
}

impl GaugeRecords {
    pub fn sample(&mut self, solver: &hydro::Solver, basin: &Basin, t_s: f64) {
        let values = basin
            .gauges
            .iter()
            .map(|g| GaugeSample::at(solver, (g.row, g.col)))
            .collect();
        self.rows.push((t_s, values));
        self.follow_peaks(solver, basin, t_s);
    }

    /// Keep each gauge's highest level (called after every step).
    pub fn follow_peaks(&mut self, solver: &hydro::Solver, basin: &Basin, t_s: f64) {
        let (h, z) = (solver.depth_m(), solver.bed_m());
        if self.peaks.len() != basin.gauges.len() {
            let none = GaugePeak {
                level_m: f64::NEG_INFINITY,
                depth_m: 0.0,
                time_s: t_s,
            };
            self.peaks = vec![none; basin.gauges.len()];
        }
        for (p, g) in self.peaks.iter_mut().zip(&basin.gauges) {
            let d = h[(g.row, g.col)];
            let level = z[(g.row, g.col)] + d;
            if level > p.level_m {
                *p = GaugePeak {
                    level_m: level,
                    depth_m: d,
                    time_s: t_s,
                };
            }
        }
    }

    /// `gauges.csv`: time_s, then depth_m, level_m, speed_m_s for each gauge. Written
    /// by the `csv` crate, so a gauge name with a comma or a quote is quoted properly.
    pub fn write(&self, path: &Path, basin: &Basin) -> Result<()> {
        let fail = |e: &dyn std::fmt::Display| BasinError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let mut header = vec!["time_s".to_string()];
        for g in &basin.gauges {
            for quantity in ["depth_m", "level_m", "speed_m_s"] {
                header.push(format!("{}_{quantity}", g.name));
            }
        }
        out.write_record(&header).map_err(|e| fail(&e))?;
        for (t, values) in &self.rows {
            let mut record = vec![format!("{t}")];
            for g in values {
                for v in [g.depth_m, g.level_m, g.speed_m_s] {
                    record.push(format!("{v:.4}"));
                }
            }
            out.write_record(&record).map_err(|e| fail(&e))?;
        }
        let buffered = out.into_inner().map_err(|e| fail(&e.error()))?;
        let file = buffered.into_inner().map_err(|e| fail(e.error()))?;
        file.sync_all().map_err(|e| fail(&e))
    }
}
