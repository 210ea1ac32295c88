//! What a run records: envelopes (max depth, speed, depth × speed, hazard), inundation
//! timing, gauge hydrographs; and writing them out.

use std::path::Path;

use ndarray::{Array2, Zip};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::raster::write_geotiff;

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

/// One result layer: its file, unit and meaning. [`RESULT_LAYERS`] lists them all; the
/// writer, the app's layers and the tests take names and units from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResultLayer {
    /// Short name, also the file name without `.tif`.
    pub key: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub source: Source,
}

impl ResultLayer {
    pub fn file_name(&self) -> String {
        format!("{}.tif", self.key)
    }

    /// This layer's values now, `rows × cols` (NaN where a time is not reached yet).
    pub fn values(&self, solver: &hydro::Solver) -> Array2<f64> {
        let wide = |a: ndarray::ArrayView2<'_, f32>| a.mapv(f64::from);
        let env = envelopes(solver);
        match self.source {
            Source::MaxDepth => wide(env.max_depth_m),
            Source::MaxSpeed => wide(env.max_speed_m_s),
            Source::MaxDepthSpeed => wide(env.max_depth_speed_m2_s),
            Source::MaxHazard => wide(env.max_hazard),
            Source::FirstInundation => wide(env.first_inundation_s),
            Source::Duration => env.duration_inundated_s.to_owned(),
            Source::FinalDepth => solver.depth_m().to_owned(),
        }
    }
}

/// Every result layer a run writes, in the order they are written.
pub const RESULT_LAYERS: [ResultLayer; 7] = [
    ResultLayer {
        key: "max_depth_m",
        title: "Maximum depth",
        unit: "m",
        source: Source::MaxDepth,
    },
    ResultLayer {
        key: "max_speed_m_s",
        title: "Maximum speed",
        unit: "m/s",
        source: Source::MaxSpeed,
    },
    ResultLayer {
        key: "max_depth_speed_m2_s",
        title: "Maximum depth × speed",
        unit: "m²/s",
        source: Source::MaxDepthSpeed,
    },
    ResultLayer {
        key: "hazard_class",
        title: "Highest hazard class",
        unit: "class",
        source: Source::MaxHazard,
    },
    ResultLayer {
        key: "first_inundation_s",
        title: "Time of arrival (first inundation)",
        unit: "s",
        source: Source::FirstInundation,
    },
    ResultLayer {
        key: "duration_inundated_s",
        title: "Duration of inundation",
        unit: "s",
        source: Source::Duration,
    },
    ResultLayer {
        key: "final_depth_m",
        title: "Depth at the end",
        unit: "m",
        source: Source::FinalDepth,
    },
];

/// The envelopes a run's solver tracks (the engine turns tracking on when it builds it).
pub fn envelopes(solver: &hydro::Solver) -> hydro::Envelopes<'_> {
    solver
        .envelopes()
        .expect("the run engine tracks envelopes from the start")
}

/// Write every result layer into `dir`, with the DEM's grid, CRS and nodata, one layer in
/// memory at a time; returns the file names.
pub fn write_layers(dir: &Path, basin: &Basin, solver: &hydro::Solver) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for layer in &RESULT_LAYERS {
        let name = layer.file_name();
        write_masked(&dir.join(&name), basin, layer.values(solver))?;
        names.push(name);
    }
    Ok(names)
}

/// Write a result raster on the basin's grid and CRS, nodata outside its active cells.
pub fn write_masked(path: &Path, basin: &Basin, mut data: Array2<f64>) -> Result<()> {
    Zip::from(&mut data).and(&basin.active).for_each(|v, &act| {
        if !act {
            *v = f64::NAN;
        }
    });
    write_geotiff(path, basin.grid(), &basin.dem.crs_wkt, NODATA, &data)
}

/// One gauge at one time: depth (m), level (m), speed (m/s).
#[derive(Clone, Copy, Debug, PartialEq)]
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

/// Gauge samples over time: one row per output time.
#[derive(Clone, Debug, Default)]
pub struct GaugeRecords {
    pub rows: Vec<(f64, Vec<GaugeSample>)>,
}

impl GaugeRecords {
    pub fn sample(&mut self, solver: &hydro::Solver, basin: &Basin, t_s: f64) {
        let values = basin
            .gauges
            .iter()
            .map(|g| GaugeSample::at(solver, (g.row, g.col)))
            .collect();
        self.rows.push((t_s, values));
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
