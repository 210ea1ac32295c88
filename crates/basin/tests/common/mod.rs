//! A small synthetic basin written to a temporary folder with real GDAL GeoTIFFs, so each
//! test can break one thing and check the error.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use basin::raster::{GeoGrid, write_geotiff};
use gdal::spatial_ref::SpatialRef;
use ndarray::Array2;

pub const ROWS: usize = 30;
pub const COLS: usize = 40;
pub const CELL: f64 = 10.0;
pub const X0: f64 = 500_000.0;
pub const Y0: f64 = 4_000_300.0;

pub fn grid() -> GeoGrid {
    GeoGrid {
        rows: ROWS,
        cols: COLS,
        origin_x: X0,
        origin_y: Y0,
        dx: CELL,
        dy: -CELL,
    }
}

pub fn wkt(epsg: u32) -> String {
    SpatialRef::from_epsg(epsg)
        .expect("epsg")
        .to_wkt()
        .expect("wkt")
}

/// A valley sloping east with a dam across column 20, as a basin folder.
pub struct TestBasin {
    pub dir: tempfile::TempDir,
}

pub const BASIN_TOML: &str = r#"name = "Test valley"
description = "synthetic"
dem = "dem.tif"

[roughness]
constant = 0.035

[initial_water]
depth_raster = "depth.tif"

[[gauges]]
name = "reservoir"
x = 500105.0
y = 4000145.0

[[gauges]]
name = "downstream"
x = 500305.0
y = 4000145.0
"#;

pub const SCENARIO_TOML: &str = r#"name = "Breach"
duration_s = 600.0
output_interval_s = 60.0

[[boundaries]]
kind = "inflow"
edge = "west"
discharge_m3_s = [[0, 5], [300, 50], [600, 5]]

[[boundaries]]
kind = "free_outflow"
edge = "east"

[[breaches]]
line = [[500205.0, 4000200.0], [500205.0, 4000100.0]]
final_bed_m = 100.5
formation_time_s = 60.0
trigger = { kind = "at_time", time_s = 60.0 }
"#;

pub fn bed() -> Array2<f64> {
    Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
        let valley = 100.0 + 0.01 * CELL * (COLS - c) as f64 + 0.05 * (r as f64 - 15.0).powi(2);
        if c == 20 { valley + 6.0 } else { valley }
    })
}

impl TestBasin {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = Self { dir };
        let bed = bed();
        b.write_raster("dem.tif", 32614, &bed);
        let crest = bed[(15, 20)];
        let depth = Array2::from_shape_fn((ROWS, COLS), |(r, c)| {
            if c < 20 {
                (crest - 1.0 - bed[(r, c)]).max(0.0)
            } else {
                0.0
            }
        });
        b.write_raster("depth.tif", 32614, &depth);
        b.write("basin.toml", BASIN_TOML);
        std::fs::create_dir_all(b.path().join("scenarios")).expect("mkdir");
        b.write("scenarios/breach.toml", SCENARIO_TOML);
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn scenario(&self) -> PathBuf {
        self.path().join("scenarios/breach.toml")
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path().join(rel), text).expect("write");
    }

    pub fn write_raster(&self, rel: &str, epsg: u32, data: &Array2<f64>) {
        write_geotiff(&self.path().join(rel), &grid(), &wkt(epsg), -9999.0, data).expect("geotiff");
    }

    /// Replace `from` by `to` in a file of the basin.
    pub fn edit(&self, rel: &str, from: &str, to: &str) {
        let p = self.path().join(rel);
        let text = std::fs::read_to_string(&p).expect("read");
        assert!(text.contains(from), "`{from}` not in {rel}");
        std::fs::write(p, text.replacen(from, to, 1)).expect("write");
    }
}
