//! Errors of the basin crate. Each names the file (and the key, where there is one) and
//! says how to fix it, so the command line can print it as it is.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum BasinError {
    #[error("{}: {cause}; {fix}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
        fix: &'static str,
    },

    #[error("{}: cannot read it as a raster ({reason}); check that the file exists and is a format GDAL reads (GeoTIFF, ESRI ASCII grid, …)", path.display())]
    UnreadableRaster { path: PathBuf, reason: String },

    #[error("{}: {message}", path.display())]
    Toml { path: PathBuf, message: String },

    #[error("{}: `{key}` {problem}; {fix}", path.display())]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
        fix: String,
    },

    #[error(
        "{} and {} are in different coordinate systems ({crs_a} vs {crs_b}); reproject {} onto the DEM's CRS, e.g. `gdalwarp -t_srs <DEM CRS> in.tif out.tif`",
        path_a.display(), path_b.display(), path_b.display()
    )]
    CrsMismatch {
        path_a: PathBuf,
        path_b: PathBuf,
        crs_a: String,
        crs_b: String,
    },

    #[error(
        "{}: {cols}×{rows} cells would need about {} MiB but this machine has {} MiB available; coarsen the raster (`gdalwarp -tr <cell size>`) or clip it (`gdal_translate -projwin`)",
        path.display(), needed_bytes >> 20, available_bytes >> 20
    )]
    TooLarge {
        path: PathBuf,
        rows: usize,
        cols: usize,
        needed_bytes: u64,
        available_bytes: u64,
    },

    #[error("{}: {cause}", path.display())]
    Solver {
        path: PathBuf,
        cause: hydro::SolverError,
    },

    #[error("output folder {} already exists; choose another --out or pass --force to replace it", path.display())]
    OutputExists { path: PathBuf },

    #[error("{}: the run was aborted (a second interrupt); no result was written and nothing was replaced", path.display())]
    Aborted { path: PathBuf },

    #[error("{}: cannot write the result ({reason}); check the folder is writable and the disk has space", path.display())]
    Write { path: PathBuf, reason: String },
}

pub type Result<T, E = BasinError> = std::result::Result<T, E>;

impl BasinError {
    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        key: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            path: path.into(),
            key: key.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}
