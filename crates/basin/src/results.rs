//! What a run records: envelopes (max depth, speed, depth × speed, hazard), inundation
//! timing, gauge hydrographs; and writing them out.

use std::path::Path;

use ndarray::{Array2, Axis, Zip};
use rayon::prelude::*;

use crate::basin::Basin;
use crate::config::HazardMethod;
use crate::error::{BasinError, Result};
use crate::hazard::HazardTables;
use crate::raster::write_geotiff;

/// Nodata value of every result raster.
pub const NODATA: f64 = -9999.0;

/// Per-cell results accumulated over a run.
///
/// The maxima and the first inundation time are kept in f32, the precision their
/// GeoTIFFs are written in: rounding is monotonic, so the maximum of the rounded values
/// is the rounded maximum and the files are the same bytes as with f64 envelopes, at 20
/// bytes a cell less. The duration is a sum of time steps and stays f64 until written.
#[derive(Clone, Debug)]
pub struct Envelopes {
    pub max_depth_m: Array2<f32>,
    pub max_speed_m_s: Array2<f32>,
    pub max_depth_speed_m2_s: Array2<f32>,
    pub max_hazard: Array2<f32>,
    /// Time the depth first exceeded the wet depth (s); NaN if never.
    pub first_inundation_s: Array2<f32>,
    pub duration_inundated_s: Array2<f64>,
    wet_depth_m: f64,
}

impl Envelopes {
    pub fn new(dim: (usize, usize), wet_depth_m: f64) -> Self {
        Self {
            max_depth_m: Array2::zeros(dim),
            max_speed_m_s: Array2::zeros(dim),
            max_depth_speed_m2_s: Array2::zeros(dim),
            max_hazard: Array2::zeros(dim),
            first_inundation_s: Array2::from_elem(dim, f32::NAN),
            duration_inundated_s: Array2::zeros(dim),
            wet_depth_m,
        }
    }

    /// Fold in the state at the end of a step that lasted `dt_s` and ended at `t_s`.
    pub fn update(
        &mut self,
        solver: &hydro::Solver,
        t_s: f64,
        dt_s: f64,
        hazard: &HazardTables,
        method: HazardMethod,
    ) {
        let wet = self.wet_depth_m;
        let dry = solver.params().dry_depth_m;
        let (depth, qx, qy) = (solver.depth_m(), solver.qx_m2_s(), solver.qy_m2_s());
        // One parallel pass over the rows of all six envelopes.
        (
            self.max_depth_m.axis_iter_mut(Axis(0)),
            self.max_speed_m_s.axis_iter_mut(Axis(0)),
            self.max_depth_speed_m2_s.axis_iter_mut(Axis(0)),
            self.max_hazard.axis_iter_mut(Axis(0)),
            self.first_inundation_s.axis_iter_mut(Axis(0)),
            self.duration_inundated_s.axis_iter_mut(Axis(0)),
        )
            .into_par_iter()
            .enumerate()
            .for_each(
                |(r, (mut md, mut ms, mut mdv, mut mh, mut first, mut dur))| {
                    let (h_row, qx_row, qy_row) = (depth.row(r), qx.row(r), qy.row(r));
                    for c in 0..h_row.len() {
                        let h = h_row[c];
                        md[c] = md[c].max(h as f32);
                        if h <= dry {
                            continue;
                        }
                        let q = (qx_row[c] * qx_row[c] + qy_row[c] * qy_row[c]).sqrt();
                        let v = q / h;
                        ms[c] = ms[c].max(v as f32);
                        mdv[c] = mdv[c].max(q as f32);
                        if h > wet {
                            mh[c] = mh[c].max(f32::from(hazard.classify(method, h, v)));
                            if first[c].is_nan() {
                                first[c] = t_s as f32;
                            }
                            dur[c] += dt_s;
                        }
                    }
                },
            );
    }

    /// Write the result GeoTIFFs into `dir`, with the DEM's grid, CRS and nodata.
    pub fn write(
        &self,
        dir: &Path,
        basin: &Basin,
        final_depth: &Array2<f64>,
    ) -> Result<Vec<String>> {
        // f32 values widen to f64 exactly and are written back as the same f32; one
        // layer is in memory at a time.
        let wide = |a: &Array2<f32>| a.mapv(f64::from);
        let mut names = Vec::new();
        let mut write = |name: &str, data: Array2<f64>| -> Result<()> {
            write_masked(&dir.join(name), basin, data)?;
            names.push(name.to_string());
            Ok(())
        };
        write("max_depth_m.tif", wide(&self.max_depth_m))?;
        write("max_speed_m_s.tif", wide(&self.max_speed_m_s))?;
        write("max_depth_speed_m2_s.tif", wide(&self.max_depth_speed_m2_s))?;
        write("hazard_class.tif", wide(&self.max_hazard))?;
        write("first_inundation_s.tif", wide(&self.first_inundation_s))?;
        write(
            "duration_inundated_s.tif",
            self.duration_inundated_s.clone(),
        )?;
        write("final_depth_m.tif", final_depth.clone())?;
        Ok(names)
    }
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
