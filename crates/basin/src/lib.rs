//! # basin — rivertwin's basins and scenarios on disk
//!
//! Rasters through GDAL (any format it reads; CRS, geotransform and nodata kept),
//! `basin.toml` and scenario files (serde, unknown keys rejected with their line), the
//! headless runner and its GIS-ready results (compressed GeoTIFFs in the DEM's CRS,
//! gauge CSV, `summary.json`). No bevy, no egui: the layering test keeps it so.

pub mod basin;
pub mod catchments;
pub mod compare;
pub mod config;
pub mod engine;
pub mod ensemble;
pub mod error;
pub mod hazard;
pub mod hotstart;
pub mod hydrology;
pub mod info;
pub mod losses;
pub mod netcdf;
pub mod rainframes;
pub mod raster;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod structures;
pub mod terrain;
pub mod timestack;
pub mod warnings;
pub mod watch;
pub mod xaj;

pub use basin::{Basin, CellValues, Gauge, ManningN};
pub use engine::{Event, Resume, Run};
pub use error::{BasinError, Result};
pub use runner::{Progress, RunOptions, RunSummary, build_solver, run, write_results};
pub use scenario::Scenario;
pub use warnings::{Warning, Watch};
