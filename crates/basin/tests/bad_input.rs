//! The bad-input catalogue: every case gives an error that names the file (and the key
//! where there is one) and says how to fix it; nothing panics and nothing is written.

mod common;

use basin::raster::write_geotiff;
use basin::{Basin, BasinError, RunOptions, Scenario};
use common::{COLS, ROWS, TestBasin, grid, wkt};
use ndarray::Array2;

/// Load the basin and the scenario, then run it into a fresh folder; return the error.
fn failure(b: &TestBasin) -> BasinError {
    let out = b.path().join("out");
    let err = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {})
        .expect_err("bad input must fail");
    assert!(
        !out.exists(),
        "nothing may be written on failure: {}",
        out.display()
    );
    let leftovers: Vec<_> = std::fs::read_dir(b.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "temporary output left behind");
    err
}

fn assert_mentions(err: &BasinError, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message lacks `{p}`: {msg}");
    }
}

#[test]
fn the_test_basin_itself_is_valid() {
    let b = TestBasin::new();
    let basin = Basin::load(b.path()).expect("valid basin");
    Scenario::load(&b.scenario(), &basin).expect("valid scenario");
}

#[test]
fn missing_dem() {
    let b = TestBasin::new();
    std::fs::remove_file(b.path().join("dem.tif")).expect("rm");
    let e = failure(&b);
    assert!(matches!(e, BasinError::Io { .. }), "{e}");
    assert_mentions(&e, &["dem.tif", "check the path"]);
}

#[test]
fn unreadable_raster() {
    let b = TestBasin::new();
    b.write("dem.tif", "this is not a GeoTIFF");
    let e = failure(&b);
    assert!(matches!(e, BasinError::UnreadableRaster { .. }), "{e}");
    assert_mentions(&e, &["dem.tif", "GDAL"]);
}

#[test]
fn rotated_grid() {
    let b = TestBasin::new();
    let path = b.path().join("dem.tif");
    {
        let mut ds = gdal::Dataset::open_ex(
            &path,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .expect("open for update");
        let mut gt = grid().geo_transform();
        gt[2] = 0.5;
        ds.set_geo_transform(&gt).expect("set");
    }
    let e = failure(&b);
    assert_mentions(&e, &["dem.tif", "geotransform", "rotated", "gdalwarp"]);
}

#[test]
fn crs_mismatch_names_both_files() {
    let b = TestBasin::new();
    let depth = Array2::zeros((ROWS, COLS));
    b.write_raster("depth.tif", 32615, &depth);
    let e = failure(&b);
    assert!(matches!(e, BasinError::CrsMismatch { .. }), "{e}");
    assert_mentions(
        &e,
        &[
            "dem.tif",
            "depth.tif",
            "EPSG:32614",
            "EPSG:32615",
            "gdalwarp",
        ],
    );
}

#[test]
fn nodata_only_dem() {
    let b = TestBasin::new();
    b.write_raster("dem.tif", 32614, &Array2::from_elem((ROWS, COLS), f64::NAN));
    let e = failure(&b);
    assert_mentions(&e, &["dem.tif", "nodata"]);
}

#[test]
fn negative_manning() {
    let b = TestBasin::new();
    b.edit("basin.toml", "constant = 0.035", "constant = -0.035");
    let e = failure(&b);
    assert_mentions(&e, &["basin.toml", "roughness", "-0.035", "Manning"]);
}

#[test]
fn unknown_scenario_key_is_named_with_its_line() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 60.0\nrainfall_mm = 3",
    );
    let e = failure(&b);
    assert!(matches!(e, BasinError::Toml { .. }), "{e}");
    assert_mentions(&e, &["breach.toml", "line 4", "rainfall_mm"]);
}

#[test]
fn misspelled_boundary_kind() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "kind = \"inflow\"",
        "kind = \"inflw\"",
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "line 6", "inflw", "inflow"]);
}

#[test]
fn unsorted_hydrograph() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[[0, 5], [300, 50], [600, 5]]",
        "[[0, 5], [600, 50], [300, 5]]",
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &[
            "breach.toml",
            "boundaries[0].discharge_m3_s",
            "increase strictly",
        ],
    );
}

#[test]
fn breach_outside_the_grid() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[500205.0, 4000100.0]",
        "[500205.0, 3000100.0]",
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &[
            "breach.toml",
            "breaches[0].line[1]",
            "outside the DEM",
            "covers x",
        ],
    );
}

#[test]
fn gauge_outside_the_grid() {
    let b = TestBasin::new();
    b.edit("basin.toml", "x = 500305.0", "x = 600305.0");
    let e = failure(&b);
    assert_mentions(&e, &["basin.toml", "gauges.downstream", "outside the DEM"]);
}

#[test]
fn output_folder_exists_and_is_left_alone() {
    let b = TestBasin::new();
    let out = b.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("keep.txt"), "earlier results").expect("write");
    let e = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect_err("exists");
    assert!(matches!(e, BasinError::OutputExists { .. }));
    assert_mentions(&e, &["out", "--force"]);
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).expect("kept"),
        "earlier results"
    );
}

#[test]
fn unwritable_output_location() {
    // The output's parent is a regular file, so no folder can be made there (this fails
    // for any user, root included, unlike a permission bit).
    let b = TestBasin::new();
    let blocker = b.path().join("not_a_folder");
    std::fs::write(&blocker, "").expect("write");
    let out = blocker.join("results");
    let e =
        basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect_err("unwritable");
    assert!(matches!(e, BasinError::Write { .. }), "{e}");
    assert_mentions(&e, &["not_a_folder", "writable"]);
}

#[test]
fn absurd_grid_size_is_refused_before_allocating() {
    let b = TestBasin::new();
    // A sparse 300 000 × 300 000 GeoTIFF: tiny on disk, 9e10 cells in memory.
    let path = b.path().join("dem.tif");
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").expect("driver");
    let options = gdal::raster::RasterCreationOptions::from_iter([
        "SPARSE_OK=TRUE",
        "TILED=YES",
        "BIGTIFF=YES",
    ]);
    let mut ds = driver
        .create_with_band_type_with_options::<f32, _>(&path, 300_000, 300_000, 1, &options)
        .expect("create");
    ds.set_geo_transform(&[X0, 1.0, 0.0, Y0, 0.0, -1.0])
        .expect("gt");
    drop(ds);
    let e = failure(&b);
    assert!(matches!(e, BasinError::TooLarge { .. }), "{e}");
    assert_mentions(&e, &["dem.tif", "MiB", "coarsen"]);
}

use common::{X0, Y0};

#[test]
fn broken_toml_syntax() {
    let b = TestBasin::new();
    b.edit(
        "basin.toml",
        "name = \"Test valley\"",
        "name = \"Test valley",
    );
    let e = failure(&b);
    assert_mentions(&e, &["basin.toml", "line 1"]);
}

#[test]
fn missing_required_key() {
    let b = TestBasin::new();
    b.edit("scenarios/breach.toml", "duration_s = 600.0\n", "");
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "duration_s"]);
}

#[test]
fn land_cover_class_without_roughness() {
    let b = TestBasin::new();
    let classes = Array2::from_shape_fn((ROWS, COLS), |(r, _)| if r < 10 { 1.0 } else { 3.0 });
    b.write_raster("landcover.tif", 32614, &classes);
    b.edit(
        "basin.toml",
        "constant = 0.035",
        "landcover = \"landcover.tif\"\ntable = { \"1\" = 0.03, \"2\" = 0.05 }",
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &["basin.toml", "roughness.table", "class 3", "add \"3\""],
    );
}

#[test]
fn point_source_off_the_grid() {
    let b = TestBasin::new();
    b.write(
        "scenarios/breach.toml",
        &format!(
            "{}\n[[point_sources]]\nx = 1.0\ny = 2.0\ndischarge_m3_s = [[0, 1]]\n",
            common::SCENARIO_TOML
        ),
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &[
            "breach.toml",
            "point_sources[0]",
            "no active DEM cell",
            "covers x",
        ],
    );
}

#[test]
fn boundary_stretch_across_two_edges() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "edge = \"west\"",
        "from = [500000.0, 4000250.0]\nto = [500300.0, 4000000.0]",
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "boundaries[0]", "West", "South"]);
}

#[test]
fn boundary_point_far_from_any_edge() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "edge = \"west\"",
        "from = [500150.0, 4000150.0]\nto = [500000.0, 4000250.0]",
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &[
            "breach.toml",
            "boundaries[0].from",
            "cells from the nearest",
        ],
    );
}

#[test]
fn negative_rain() {
    let b = TestBasin::new();
    b.write(
        "scenarios/breach.toml",
        &format!(
            "{}\n[rain]\nrain_mm_per_h = [[0, 10], [60, -5]]\n",
            common::SCENARIO_TOML
        ),
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "rain.rain_mm_per_h", "≥ 0"]);
}

#[test]
fn key_that_does_not_belong_to_the_boundary_kind() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "kind = \"free_outflow\"",
        "kind = \"free_outflow\"\nslope = 0.01",
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "boundaries[1].slope", "not used"]);
}

#[test]
fn hydrograph_csv_with_a_bad_line() {
    let b = TestBasin::new();
    b.write("scenarios/q.csv", "time_s,q\n0,5\n300,fifty\n");
    b.edit(
        "scenarios/breach.toml",
        "[[0, 5], [300, 50], [600, 5]]",
        "{ csv = \"q.csv\" }",
    );
    let e = failure(&b);
    assert_mentions(&e, &["q.csv", "line 3", "fifty"]);
}

#[test]
fn negative_duration() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "duration_s = 600.0",
        "duration_s = -600.0",
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "duration_s", "> 0"]);
}

#[test]
fn scenario_outside_a_basin() {
    let b = TestBasin::new();
    let stray = b.path().join("stray.toml");
    std::fs::write(&stray, common::SCENARIO_TOML).expect("write");
    let e = basin::run(
        &stray,
        &b.path().join("out"),
        &RunOptions::default(),
        |_| {},
    )
    .expect_err("no basin");
    assert_mentions(&e, &["stray.toml", "scenarios/"]);
}

#[test]
fn bad_solver_setting() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 60.0\n[solver]\ncfl = 2.0",
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "cfl", "(0, 1]"]);
}

#[test]
fn geographic_dem_is_refused() {
    let b = TestBasin::new();
    let dem = common::bed();
    b.write_raster("dem.tif", 4326, &dem);
    b.write_raster("depth.tif", 4326, &Array2::zeros((ROWS, COLS)));
    let e = failure(&b);
    assert_mentions(&e, &["dem.tif", "EPSG:4326", "metres", "gdalwarp"]);
}

#[test]
fn infinite_point_source_radius() {
    let b = TestBasin::new();
    b.write(
        "scenarios/breach.toml",
        &format!(
            "{}\n[[point_sources]]\nx = 500105.0\ny = 4000145.0\nradius_m = inf\ndischarge_m3_s = [[0, 1]]\n",
            common::SCENARIO_TOML
        ),
    );
    let e = failure(&b);
    assert_mentions(&e, &["breach.toml", "point_sources[0].radius_m", "inf"]);
}

#[test]
fn huge_point_source_radius_covers_the_grid_without_hanging() {
    let b = TestBasin::new();
    b.write(
        "scenarios/breach.toml",
        &format!(
            "{}\n[[point_sources]]\nx = 500105.0\ny = 4000145.0\nradius_m = 1e12\ndischarge_m3_s = [[0, 1]]\n",
            common::SCENARIO_TOML
        ),
    );
    let basin = Basin::load(b.path()).expect("basin");
    let s = Scenario::load(&b.scenario(), &basin).expect("scenario");
    assert_eq!(
        s.point_sources.len(),
        ROWS * COLS,
        "every cell shares the discharge"
    );
}

#[test]
fn output_that_is_not_a_folder_name() {
    let b = TestBasin::new();
    let options = RunOptions {
        force: true,
        ..RunOptions::default()
    };
    let e = basin::run(&b.scenario(), std::path::Path::new(".."), &options, |_| {})
        .expect_err("`..` is refused");
    assert_mentions(&e, &["--out", "folder"]);
}

#[test]
fn output_folder_created_during_the_run_is_not_replaced() {
    let b = TestBasin::new();
    let out = b.path().join("out");
    let e = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {
        if !out.exists() {
            std::fs::create_dir(&out).expect("mkdir");
            std::fs::write(out.join("other.txt"), "another run's results").expect("write");
        }
    })
    .expect_err("exists at the end");
    assert!(matches!(e, BasinError::OutputExists { .. }), "{e}");
    assert_eq!(
        std::fs::read_to_string(out.join("other.txt")).expect("kept"),
        "another run's results"
    );
    let leftovers = std::fs::read_dir(b.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".out"))
        .count();
    assert_eq!(leftovers, 0, "temporary folder removed");
}

#[test]
fn default_scenario_that_does_not_exist() {
    let b = TestBasin::new();
    b.edit(
        "basin.toml",
        "dem = \"dem.tif\"",
        "dem = \"dem.tif\"\ndefault_scenario = \"breech\"",
    );
    let e = failure(&b);
    assert_mentions(
        &e,
        &["basin.toml", "default_scenario", "scenarios/breech.toml"],
    );
}

#[test]
fn negative_depth_raster() {
    let b = TestBasin::new();
    let mut depth = Array2::zeros((ROWS, COLS));
    depth[(3, 4)] = -2.0;
    write_geotiff(
        &b.path().join("depth.tif"),
        &grid(),
        &wkt(32614),
        -9999.0,
        &depth,
    )
    .expect("write");
    let e = failure(&b);
    assert_mentions(&e, &["depth.tif", "negative", "row 3, column 4"]);
}
