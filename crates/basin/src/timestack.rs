//! The optional time stack of a run (`time_stack = true` in a scenario): `time_stack.nc`,
//! a CF-1.8 NetCDF-4 file with the water depth and the two velocity components at the
//! start and at every output time, on the DEM's grid and CRS, for xarray, QGIS (mesh or
//! raster with a time axis) and other CF readers.

use std::path::{Path, PathBuf};

use crate::engine::Run;
use crate::error::{BasinError, Result};
use crate::netcdf::{NcStack, STACK_FILL};

/// The file's name in the results folder.
pub const TIME_STACK: &str = "time_stack.nc";

/// CF units of the time axis. A scenario has no calendar date, so its start stands as
/// the epoch: times read as seconds (or, decoded, as dates from 1970-01-01) since the
/// start. The file's `comment` says so.
pub const TIME_UNITS: &str = "seconds since 1970-01-01 00:00:00";

/// A time stack being written alongside a run.
#[derive(Debug)]
pub struct TimeStack {
    nc: NcStack,
    path: PathBuf,
    times_s: Vec<f64>,
    next: usize,
}

impl TimeStack {
    /// A stack in `dir` for the run's time now and each output time after it.
    pub fn create(dir: &Path, run: &Run) -> Result<Self> {
        let path = dir.join(TIME_STACK);
        let t0 = run.sim_time_s();
        let mut times_s = vec![t0];
        for i in 1.. {
            let t = run.output_time_s(i);
            if t > t0 {
                times_s.push(t);
            }
            if t >= run.duration_s() {
                break;
            }
        }
        let basin = run.basin();
        let fail = |e: String| BasinError::Write {
            path: path.clone(),
            reason: e,
        };
        let mut nc = NcStack::create(
            &path,
            basin.grid(),
            &basin.dem.crs_wkt,
            &times_s,
            TIME_UNITS,
            &[
                ("depth", "m", "water depth"),
                (
                    "u",
                    "m s-1",
                    "depth-averaged water velocity towards east (x)",
                ),
                (
                    "v",
                    "m s-1",
                    "depth-averaged water velocity towards north (y)",
                ),
            ],
        )
        .map_err(fail)?;
        for (k, v) in [
            ("Conventions", "CF-1.8".to_string()),
            (
                "title",
                format!("{}: {}", basin.file.name, run.scenario().file.name),
            ),
            ("source", format!("rivertwin {}", env!("CARGO_PKG_VERSION"))),
            (
                "comment",
                "time counts seconds from the scenario's start (shown as 1970-01-01, the \
                 scenario having no calendar date); velocities are 0 where the depth is \
                 below the solver's dry depth; -9999 outside the basin"
                    .to_string(),
            ),
        ] {
            nc.attribute(k, &v).map_err(fail)?;
        }
        Ok(Self {
            nc,
            path,
            times_s,
            next: 0,
        })
    }

    /// Record the run's state now, if it is the stack's next time (later calls for the
    /// same time do nothing).
    pub fn record(&mut self, run: &Run) -> Result<()> {
        let Some(&t) = self.times_s.get(self.next) else {
            return Ok(());
        };
        if run.sim_time_s() < t {
            return Ok(());
        }
        let solver = run.solver();
        let (h, qx, qy) = (solver.depth_m(), solver.qx_m2_s(), solver.qy_m2_s());
        let dry = solver.params().dry_depth_m;
        let active = &run.basin().active;
        let n = h.len();
        let (mut depth, mut u, mut v) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for (((&d, &x), &y), &a) in h.iter().zip(qx.iter()).zip(qy.iter()).zip(active.iter()) {
            if !a {
                depth.push(STACK_FILL);
                u.push(STACK_FILL);
                v.push(STACK_FILL);
            } else if d > dry {
                depth.push(d as f32);
                u.push((x / d) as f32);
                // The solver's qy points along increasing rows, i.e. south.
                v.push((-y / d) as f32);
            } else {
                depth.push(d as f32);
                u.push(0.0);
                v.push(0.0);
            }
        }
        self.nc
            .write_time(self.next, &[&depth, &u, &v])
            .map_err(|e| BasinError::Write {
                path: self.path.clone(),
                reason: e,
            })?;
        self.next += 1;
        Ok(())
    }

    /// Close the file; returns its name.
    pub fn finish(self) -> Result<String> {
        let path = self.path.clone();
        self.nc
            .close()
            .map_err(|e| BasinError::Write { path, reason: e })?;
        Ok(TIME_STACK.to_string())
    }
}
