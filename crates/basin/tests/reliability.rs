//! Inputs that used to give a wrong result with exit 0, or fail in ways a scheduler or
//! a careful user hits: south-up rasters, CSV quirks, forcing on nodata, a DEM without a
//! CRS, breaches that lower nothing, stale temporary folders, replacing results, bounds
//! and messages. Each test failed before its fix.

mod common;

use std::path::Path;

use basin::config::{MAX_CSV_BYTES, read_series_csv};
use basin::raster::{GeoGrid, read_raster, write_geotiff};
use basin::{Basin, BasinError, RunOptions, Scenario};
use common::{CELL, COLS, ROWS, TestBasin, X0, Y0, bed, grid, wkt};
use ndarray::{Array2, Axis};

fn load_error(b: &TestBasin) -> BasinError {
    match Basin::load(b.path()) {
        Err(e) => e,
        Ok(basin) => Scenario::load(&b.scenario(), &basin).expect_err("bad input must fail"),
    }
}

fn assert_mentions(err: &BasinError, parts: &[&str]) {
    let msg = err.to_string();
    for p in parts {
        assert!(msg.contains(p), "message lacks `{p}`: {msg}");
    }
}

/// Read a result GeoTIFF as stored in the file: values and geotransform, no flipping.
fn raw(path: &Path) -> (Array2<f32>, [f64; 6]) {
    let ds = gdal::Dataset::open(path).expect("open result");
    let (cols, rows) = ds.raster_size();
    let band = ds.rasterband(1).expect("band");
    let buf = band
        .read_as::<f32>((0, 0), (cols, rows), (cols, rows), None)
        .expect("read");
    let (_, v) = buf.into_shape_and_vec();
    (
        Array2::from_shape_vec((rows, cols), v).expect("shape"),
        ds.geo_transform().expect("gt"),
    )
}

// 1. South-up rasters.

/// The same basin stored south-up (positive y pixel size, row 0 in the south) gives
/// the same map: `edge = "north"` is the geographic north in both.
#[test]
fn a_south_up_basin_gives_the_same_map_as_north_up() {
    let scenario_edit = ("edge = \"west\"", "edge = \"north\"");
    let north = TestBasin::new();
    north.edit("scenarios/breach.toml", scenario_edit.0, scenario_edit.1);

    let south = TestBasin::new();
    south.edit("scenarios/breach.toml", scenario_edit.0, scenario_edit.1);
    let south_grid = GeoGrid {
        origin_y: Y0 - ROWS as f64 * CELL,
        dy: CELL,
        ..grid()
    };
    for name in ["dem.tif", "depth.tif"] {
        let r = read_raster(&north.path().join(name)).expect("north-up raster");
        let mut flipped = r.data.clone();
        flipped.invert_axis(Axis(0));
        write_geotiff(
            &south.path().join(name),
            &south_grid,
            &wkt(32614),
            -9999.0,
            &flipped.as_standard_layout().to_owned(),
        )
        .expect("south-up raster");
    }
    let south_dem = read_raster(&south.path().join("dem.tif")).expect("read");
    assert!(south_dem.south_up_in_file);
    assert_eq!(south_dem.grid, grid(), "normalised to the north-up grid");

    let run = |b: &TestBasin| {
        let out = b.path().join("out");
        basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
        out
    };
    let (a, b) = (run(&north), run(&south));
    let (depth_a, gt_a) = raw(&a.join("max_depth_m.tif"));
    let (depth_b, gt_b) = raw(&b.join("max_depth_m.tif"));
    assert_eq!(
        gt_a, gt_b,
        "results are written north-up, on the same cells"
    );
    // The inflow enters along the northern edge: row 0 west of the dam gets wet.
    let edge_max = |r: usize| depth_a.row(r).iter().copied().fold(0.0f32, f32::max);
    assert!(
        edge_max(0) > 0.05 && edge_max(ROWS - 1) == 0.0,
        "water enters along the north edge (row 0), not the south: {} / {}",
        edge_max(0),
        edge_max(ROWS - 1)
    );
    let diff = depth_a
        .iter()
        .zip(depth_b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    // Identical inputs after the flip: the two runs are the same computation.
    assert_eq!(diff, 0.0, "max depth differs by up to {diff} m");
    assert_eq!(
        std::fs::read_to_string(a.join("gauges.csv")).expect("a"),
        std::fs::read_to_string(b.join("gauges.csv")).expect("b")
    );
    let summary = std::fs::read_to_string(b.join("summary.json")).expect("summary");
    assert!(summary.contains("south-up"), "{summary}");
}

// 3. The CSV reader.

fn csv_file(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write csv");
    p
}

#[test]
fn a_byte_order_mark_does_not_drop_the_first_row() {
    let dir = tempfile::tempdir().expect("tmp");
    let no_header = csv_file(dir.path(), "a.csv", "\u{feff}0,60\n3600,60\n7200,0\n");
    assert_eq!(
        read_series_csv(&no_header).expect("reads"),
        vec![(0.0, 60.0), (3600.0, 60.0), (7200.0, 0.0)]
    );
    let header = csv_file(dir.path(), "b.csv", "\u{feff}time_s,q\n0,60\n3600,60\n");
    assert_eq!(
        read_series_csv(&header).expect("reads"),
        vec![(0.0, 60.0), (3600.0, 60.0)]
    );
}

#[test]
fn semicolons_quotes_and_decimal_commas() {
    let dir = tempfile::tempdir().expect("tmp");
    let semi = csv_file(dir.path(), "semi.csv", "time_s;q\n0;0.5\n60;1.5\n");
    assert_eq!(
        read_series_csv(&semi).expect("reads"),
        vec![(0.0, 0.5), (60.0, 1.5)]
    );
    let quoted = csv_file(dir.path(), "q.csv", "\"time_s\",\"q\"\n\"0\",\"2.5\"\n");
    assert_eq!(read_series_csv(&quoted).expect("reads"), vec![(0.0, 2.5)]);
    let tabs = csv_file(dir.path(), "t.csv", "# comment\n0\t1\n10\t2\n");
    assert_eq!(
        read_series_csv(&tabs).expect("reads"),
        vec![(0.0, 1.0), (10.0, 2.0)]
    );
    let comma = csv_file(dir.path(), "comma.csv", "time_s;q\n0;1\n60;0,5\n");
    let e = read_series_csv(&comma).expect_err("a decimal comma is refused");
    assert_mentions(&e, &["comma.csv", "line 3", "decimal comma", "0,5"]);
}

#[test]
fn csv_devices_and_huge_files_are_refused_before_reading() {
    let dir = tempfile::tempdir().expect("tmp");
    #[cfg(unix)]
    {
        let e = read_series_csv(Path::new("/dev/zero")).expect_err("a device");
        assert_mentions(&e, &["/dev/zero", "not a regular file"]);
    }
    let big = dir.path().join("big.csv");
    let f = std::fs::File::create(&big).expect("create");
    f.set_len(MAX_CSV_BYTES + 1).expect("sparse file");
    let e = read_series_csv(&big).expect_err("too large");
    assert_mentions(&e, &["big.csv", "MiB"]);

    // The same through a scenario: the key and the scenario's CSV are named.
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[[0, 5], [300, 50], [600, 5]]",
        "{ csv = \"/dev/zero\" }",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["/dev/zero", "regular file"]);
}

#[test]
fn gauge_names_with_commas_are_quoted_in_gauges_csv() {
    let b = TestBasin::new();
    b.edit(
        "basin.toml",
        "name = \"downstream\"",
        "name = \"Bridge, \\\"upstream\\\"\"",
    );
    let out = b.path().join("out");
    basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    let mut reader = csv::Reader::from_path(out.join("gauges.csv")).expect("csv");
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(header.len(), 7, "{header:?}");
    assert_eq!(header[4], "Bridge, \"upstream\"_depth_m");
    for record in reader.records() {
        let record = record.expect("record");
        assert_eq!(record.len(), 7);
        for field in &record {
            field.parse::<f64>().expect("a number");
        }
    }
}

// 4. Forcing on a nodata edge.

/// The test basin with its first `n` columns made nodata.
fn with_nodata_west_columns(n: usize) -> TestBasin {
    let b = TestBasin::new();
    let mut dem = bed();
    for r in 0..ROWS {
        for c in 0..n {
            dem[(r, c)] = f64::NAN;
        }
    }
    b.write_raster("dem.tif", 32614, &dem);
    b
}

#[test]
fn an_inflow_on_an_all_nodata_edge_is_refused() {
    let b = with_nodata_west_columns(2);
    let e = load_error(&b);
    assert_mentions(&e, &["breach.toml", "boundaries[0]", "nodata", "West"]);

    // A stretch of the north edge whose cells are all nodata (columns 0–1).
    let b = with_nodata_west_columns(2);
    b.edit(
        "scenarios/breach.toml",
        "edge = \"west\"",
        &format!("from = [{}, {Y0}]\nto = [{}, {Y0}]", X0 + 1.0, X0 + 15.0),
    );
    let e = load_error(&b);
    assert_mentions(&e, &["boundaries[0]", "nodata", "North", "has data from"]);
}

#[test]
fn a_segment_end_given_as_nan_is_refused() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "edge = \"west\"",
        &format!("from = [nan, {Y0}]\nto = [{}, {Y0}]", X0 + 50.0),
    );
    let e = load_error(&b);
    assert_mentions(&e, &["boundaries[0].from", "NaN", "not a point"]);
}

// 5. A DEM without a CRS.

#[test]
fn a_dem_without_a_crs_in_degrees_is_refused() {
    let b = TestBasin::new();
    let degrees = GeoGrid {
        origin_x: 151.70,
        origin_y: -32.90,
        dx: 0.0001,
        dy: -0.0001,
        ..grid()
    };
    write_geotiff(&b.path().join("dem.tif"), &degrees, "", -9999.0, &bed()).expect("dem");
    let e = load_error(&b);
    assert_mentions(&e, &["dem.tif", "CRS", "degrees", "gdalwarp"]);
}

#[test]
fn a_dem_without_a_crs_in_metres_is_run_and_the_assumption_stated() {
    let b = TestBasin::new();
    for name in ["dem.tif", "depth.tif"] {
        let r = read_raster(&b.path().join(name)).expect("read");
        write_geotiff(&b.path().join(name), &grid(), "", -9999.0, &r.data).expect("write");
    }
    let basin = Basin::load(b.path()).expect("loads");
    assert_eq!(basin.notes.len(), 1, "{:?}", basin.notes);
    assert!(basin.notes[0].contains("taken to be metres"));
    let info = basin::info::describe(b.path()).expect("info");
    assert!(info.contains("taken to be metres"), "{info}");
    let out = b.path().join("out");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    assert!(
        s.notes.iter().any(|n| n.contains("no CRS")),
        "{:?}",
        s.notes
    );
}

// 6. A breach that lowers nothing.

#[test]
fn a_breach_whose_final_bed_is_above_the_crest_is_refused() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "final_bed_m = 100.5",
        "final_bed_m = 150.0",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["breaches[0].final_bed_m", "crest", "lower nothing"]);
}

// 10. Stale temporary folders.

#[test]
fn stale_partial_folders_of_dead_processes_are_removed() {
    let b = TestBasin::new();
    let out = b.path().join("out");
    // No process has this id (above Linux's pid_max limit of 2^22).
    let stale = b.path().join(".out.partial-4999999");
    let stale_other = b.path().join(".earlier.replaced-4999998");
    // Process 1 always exists: its folder is left alone.
    let alive = b.path().join(".out.partial-1");
    for d in [&stale, &stale_other, &alive] {
        std::fs::create_dir(d).expect("mkdir");
        std::fs::write(d.join("max_depth_m.tif"), "half").expect("write");
    }
    let notes = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let options = RunOptions {
        log: basin::runner::Log::new({
            let notes = notes.clone();
            move |n| notes.lock().expect("lock").push(n.to_string())
        }),
        ..RunOptions::default()
    };
    basin::run(&b.scenario(), &out, &options, |_| {}).expect("runs");
    if Path::new("/proc/self").exists() {
        assert!(!stale.exists(), "stale partial folder kept");
        // A result moved aside is kept: it may be the only copy.
        assert!(stale_other.exists(), "a moved-aside result was deleted");
        assert!(alive.exists(), "a live process's folder was removed");
        let notes = notes.lock().expect("lock");
        assert!(
            notes.iter().any(|n| n.contains(".out.partial-4999999")),
            "{notes:?}"
        );
    }
}

// 11. Replacing results.

/// With --force the old folder is exchanged for the new one in one step: a reader
/// polling the output never finds it missing, over many replacements.
#[test]
fn replacing_a_result_never_leaves_the_output_missing() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    let stop = Arc::new(AtomicBool::new(false));
    let missing = Arc::new(AtomicUsize::new(0));
    let watcher = {
        let (out, stop, missing) = (out.clone(), stop.clone(), missing.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if std::fs::symlink_metadata(&out).is_err() {
                    missing.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    for i in 0..2000 {
        let tmp = dir.path().join(format!(".out.partial-{i}"));
        std::fs::create_dir(&tmp).expect("mkdir");
        std::fs::write(tmp.join("n.txt"), i.to_string()).expect("write");
        basin::runner::put_in_place(&tmp, &out, true).expect("replaced");
        assert!(!tmp.exists(), "the old results were not deleted");
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");
    assert_eq!(
        std::fs::read_to_string(out.join("n.txt")).expect("latest"),
        "1999"
    );
    assert_eq!(
        missing.load(Ordering::Relaxed),
        0,
        "the output folder was missing while being replaced"
    );
}

#[test]
fn force_does_not_replace_a_file() {
    let b = TestBasin::new();
    let out = b.path().join("notes.txt");
    std::fs::write(&out, "not results").expect("write");
    let options = RunOptions {
        force: true,
        ..RunOptions::default()
    };
    let e = basin::run(&b.scenario(), &out, &options, |_| {}).expect_err("a file");
    assert_mentions(&e, &["notes.txt", "--out", "file"]);
    assert_eq!(std::fs::read_to_string(&out).expect("kept"), "not results");
}

// 13. Bounds.

#[test]
fn an_output_interval_that_would_write_too_many_outputs_is_refused() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 0.001",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["output_interval_s", "600000", "at least"]);
}

// 14. Messages that help.

#[test]
fn a_misspelt_roughness_key_names_the_accepted_forms() {
    let b = TestBasin::new();
    b.edit("basin.toml", "constant = 0.035", "constnat = 0.035");
    let e = load_error(&b);
    assert_mentions(
        &e,
        &["basin.toml", "line ", "constnat", "constant", "landcover"],
    );
    assert!(!e.to_string().contains("untagged"), "{e}");

    let b = TestBasin::new();
    b.edit(
        "basin.toml",
        "constant = 0.035",
        "constant = 0.035\nraster = \"n.tif\"",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["roughness", "one of", "landcover = "]);
}

#[test]
fn a_misspelt_series_key_names_the_accepted_forms() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[[0, 5], [300, 50], [600, 5]]",
        "{ cvs = \"q.csv\" }",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["breach.toml", "line 8", "cvs", "csv = "]);
    assert!(!e.to_string().contains("untagged"), "{e}");
}

#[test]
fn land_cover_nodata_names_the_key_that_sets_its_roughness() {
    let b = TestBasin::new();
    let classes = Array2::from_shape_fn((ROWS, COLS), |(r, _)| if r == 3 { f64::NAN } else { 1.0 });
    b.write_raster("classes.tif", 32614, &classes);
    b.edit(
        "basin.toml",
        "constant = 0.035",
        "landcover = \"classes.tif\"\ntable = { \"1\" = 0.04 }",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["roughness.nodata_n", "row 3", "nodata_n = "]);

    b.edit(
        "basin.toml",
        "{ \"1\" = 0.04 }",
        "{ \"1\" = 0.04, \"NaN\" = 0.05 }",
    );
    let e = load_error(&b);
    assert_mentions(&e, &["NaN", "nodata_n"]);

    b.edit("basin.toml", ", \"NaN\" = 0.05 }", " }\nnodata_n = 0.06");
    let basin = Basin::load(b.path()).expect("loads with nodata_n");
    assert_eq!(basin.manning_n.at((3, 7)), 0.06);
    assert_eq!(basin.manning_n.at((4, 7)), 0.04);
}

// Writing in strips.

/// A raster taller than one strip of the writer (256 rows), with a partial last strip,
/// reads back value for value: every strip lands where it belongs, NaN and infinities
/// become nodata.
#[test]
fn a_raster_written_in_strips_reads_back_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tall.tif");
    let g = GeoGrid {
        rows: 600,
        cols: 37,
        ..grid()
    };
    let data = Array2::from_shape_fn((g.rows, g.cols), |(r, c)| match (r * 37 + c) % 101 {
        0 => f64::NAN,
        1 => f64::INFINITY,
        k => r as f64 + 0.001 * c as f64 + 1e-7 * k as f64,
    });
    write_geotiff(&path, &g, &wkt(32755), -9999.0, &data).expect("write");
    let (got, gt) = raw(&path);
    assert_eq!(gt, g.geo_transform());
    assert_eq!(got.dim(), (600, 37));
    for ((r, c), &v) in data.indexed_iter() {
        let want = if v.is_finite() { v as f32 } else { -9999.0 };
        assert_eq!(got[(r, c)].to_bits(), want.to_bits(), "cell ({r}, {c})");
    }
}
