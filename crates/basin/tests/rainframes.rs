//! Gridded rain frames: the volume a run receives is the frames' volume over the basin
//! (GeoTIFF frames aligned with the DEM, and NetCDF frames on a coarser, offset grid whose
//! volume was computed by `data/rain_frames/make_storm.py`); a moving storm wets cells in
//! the order it passes; observed frames end where a forecast takes over; bad frames are
//! refused with the file and the fix.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use basin::raster::{GeoGrid, write_geotiff};
use basin::{Basin, Run, Scenario};
use common::{COLS, ROWS, TestBasin};
use ndarray::Array2;

/// A flat, dry basin (every cell at 100 m), walls all round: rain stays where it falls.
fn flat_basin() -> TestBasin {
    let b = TestBasin::new();
    b.write_raster("dem.tif", 32614, &Array2::from_elem((ROWS, COLS), 100.0));
    b.write_raster("depth.tif", 32614, &Array2::zeros((ROWS, COLS)));
    b
}

/// Frames on a grid of `cell` m cells with upper-left corner (x0, y0).
fn frame_grid(x0: f64, y0: f64, cell: f64, rows: usize, cols: usize) -> GeoGrid {
    GeoGrid {
        rows,
        cols,
        origin_x: x0,
        origin_y: y0,
        dx: cell,
        dy: -cell,
    }
}

fn write_frame(b: &TestBasin, rel: &str, grid: &GeoGrid, data: &Array2<f64>) {
    let path = b.path().join(rel);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    write_geotiff(&path, grid, &common::wkt(32614), -9999.0, data).expect("frame");
}

fn scenario(b: &TestBasin, name: &str, duration_s: f64, rain: &str) -> PathBuf {
    b.write(
        &format!("scenarios/{name}.toml"),
        &format!(
            "name = \"{name}\"\nduration_s = {duration_s:.1}\noutput_interval_s = 60.0\n\n[rain.frames]\n{rain}\n"
        ),
    );
    b.path().join(format!("scenarios/{name}.toml"))
}

fn load(b: &TestBasin, scenario: &Path) -> Result<Run, basin::BasinError> {
    let basin = Basin::load(b.path())?;
    let s = Scenario::load(scenario, &basin)?;
    Run::new(Arc::new(basin), Arc::new(s))
}

fn run_to_end(run: &mut Run) {
    while !run.is_finished() {
        run.step(None).expect("step");
    }
}

#[test]
fn aligned_geotiff_frames_put_their_volume_on_the_basin() {
    let b = flat_basin();
    // 20 m frame cells over the 10 m DEM, one more ring of cells around it: each frame
    // cell covers exactly 2 × 2 DEM cells of 100 m².
    let g = frame_grid(
        common::X0 - 20.0,
        common::Y0 + 20.0,
        20.0,
        ROWS / 2 + 2,
        COLS / 2 + 2,
    );
    let rate = |k: usize, i: usize, j: usize| 10.0 * k as f64 + (i * 3 + j * 7) as f64 % 13.0;
    let mut expected_m3 = 0.0;
    for k in 0..3 {
        let data = Array2::from_shape_fn((g.rows, g.cols), |(i, j)| rate(k, i, j));
        write_frame(
            &b,
            &format!("scenarios/storm/rain_{:04}s.tif", 60 * k),
            &g,
            &data,
        );
        // Cells 1..=ROWS/2 (rows) and 1..=COLS/2 (cols) lie over the DEM.
        for i in 1..=ROWS / 2 {
            for j in 1..=COLS / 2 {
                expected_m3 += rate(k, i, j) / 3.6e6 * 60.0 * 400.0;
            }
        }
    }
    let path = scenario(&b, "storm", 300.0, "files = \"storm\"");
    let mut run = load(&b, &path).expect("run");
    run_to_end(&mut run);
    let got = run.solver().balance().rain_m3;
    // The rates sum in f64 over 1 200 cells and ~100 steps: 1e-9 relative.
    assert!(
        (got - expected_m3).abs() < 1e-9 * expected_m3,
        "rain {got} m³, frames {expected_m3} m³"
    );
    // After the last frame (180 s) no more rain.
    let storage = run.solver().balance().storage_m3;
    assert!((storage - expected_m3).abs() < 1e-6 * expected_m3);
}

#[test]
fn netcdf_frames_on_an_offset_coarse_grid_conserve_the_volume() {
    let b = flat_basin();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rain_frames");
    std::fs::copy(data.join("storm.nc"), b.path().join("scenarios/storm.nc")).expect("copy");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("storm_expected.json")).expect("json"),
    )
    .expect("json");
    // Computed by make_storm.py from the frame cells' overlaps with the DEM.
    let expected_m3 = expected["rain_volume_m3"].as_f64().expect("volume");
    let path = scenario(
        &b,
        "nc",
        600.0,
        "files = \"storm.nc\"\nvariable = \"rainfall_rate\"",
    );
    let mut run = load(&b, &path).expect("run");
    run_to_end(&mut run);
    let got = run.solver().balance().rain_m3;
    // f64 sums here and in numpy, in another order: 1e-9 relative.
    assert!(
        (got - expected_m3).abs() < 1e-9 * expected_m3,
        "rain {got} m³, make_storm.py {expected_m3} m³"
    );
    // Without `variable` the file's two variables are named in the error.
    let path = scenario(&b, "nc2", 600.0, "files = \"storm.nc\"");
    let err = load(&b, &path).expect_err("two variables").to_string();
    assert!(
        err.contains("rainfall_rate") && err.contains("quality"),
        "{err}"
    );
}

#[test]
fn a_storm_moving_east_wets_the_cells_in_the_order_it_passes() {
    let b = flat_basin();
    // Four frames of 120 s; frame k rains 600 mm/h on DEM columns 10k..10k+10 only
    // (20 mm per frame, above the 10 mm wet depth after 60 s).
    let g = frame_grid(common::X0, common::Y0, 100.0, 3, 4);
    for k in 0..4 {
        let data = Array2::from_shape_fn((3, 4), |(_, j)| if j == k { 600.0 } else { 0.0 });
        write_frame(
            &b,
            &format!("scenarios/moving/r_{}s.tif", 120 * k),
            &g,
            &data,
        );
    }
    let path = scenario(&b, "moving", 600.0, "files = \"moving\"");
    let mut run = load(&b, &path).expect("run");
    run_to_end(&mut run);
    let env = run.envelopes();
    let mut last_band_mean = -1.0;
    for k in 0..4 {
        let (start, end) = (120.0 * k as f64, 120.0 * (k + 1) as f64);
        let mut sum = 0.0;
        for r in 0..ROWS {
            for c in 10 * k..10 * k + 10 {
                let t = f64::from(env.first_inundation_s[(r, c)]);
                assert!(
                    t > start && t <= end,
                    "cell ({r}, {c}) wet at {t} s, outside frame {k} ({start}–{end} s)"
                );
                sum += t;
            }
        }
        let mean = sum / (ROWS * 10) as f64;
        assert!(mean > last_band_mean, "band {k} wet at {mean} s on average");
        last_band_mean = mean;
    }
}

#[test]
fn observed_frames_end_at_the_last_frame_and_a_forecast_takes_over() {
    let b = flat_basin();
    let g = frame_grid(common::X0, common::Y0, 100.0, 3, 4);
    let uniform = |v: f64| Array2::from_elem((3, 4), v);
    for k in 0..3 {
        write_frame(
            &b,
            &format!("scenarios/radar/radar_{}s.tif", 300 * k),
            &g,
            &uniform(12.0),
        );
    }
    // Forecast frames from 600 s: the one at 600 s overlaps the observation's end
    // (900 s) and is used from there.
    for k in 2..5 {
        write_frame(
            &b,
            &format!("scenarios/nwp/nwp_{}s.tif", 300 * k),
            &g,
            &uniform(36.0),
        );
    }
    let path = scenario(
        &b,
        "live",
        1800.0,
        "observed = \"radar\"\nforecast = \"nwp\"",
    );
    let basin = Basin::load(b.path()).expect("basin");
    let s = Scenario::load(&path, &basin).expect("scenario");
    assert_eq!(s.last_observation_s(), Some(900.0));
    let mut run = Run::new(Arc::new(basin), Arc::new(s)).expect("run");
    run_to_end(&mut run);
    // 12 mm/h for 900 s, 36 mm/h for 900–1500 s (the forecast frames at 900 and 1200 s),
    // none after: 3 + 6 = 9 mm over 400 m × 300 m.
    let area = (ROWS * COLS) as f64 * 100.0;
    let expected = (12.0 * 900.0 + 36.0 * 600.0) / 3.6e6 * area;
    let got = run.solver().balance().rain_m3;
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );

    // "persistence" holds the last observed frame to the end.
    let path = scenario(
        &b,
        "held",
        1800.0,
        "observed = \"radar\"\nforecast = \"persistence\"",
    );
    let mut run = load(&b, &path).expect("run");
    run_to_end(&mut run);
    let expected = 12.0 * 1800.0 / 3.6e6 * area;
    let got = run.solver().balance().rain_m3;
    assert!(
        (got - expected).abs() < 1e-9 * expected,
        "{got} vs {expected}"
    );
}

#[test]
fn bad_frames_are_refused_with_the_file_and_the_fix() {
    let b = flat_basin();
    let g = frame_grid(common::X0, common::Y0, 100.0, 3, 4);
    let ok = Array2::from_elem((3, 4), 5.0);
    let check = |name: &str, rain: &str, wants: &[&str]| {
        let path = scenario(&b, name, 600.0, rain);
        let err = load(&b, &path).expect_err(name).to_string();
        for w in wants {
            assert!(err.contains(w), "{name}: `{w}` not in: {err}");
        }
    };
    // A gap in the observed frames.
    write_frame(&b, "scenarios/gap/f_0s.tif", &g, &ok);
    write_frame(&b, "scenarios/gap/f_300s.tif", &g, &ok);
    write_frame(&b, "scenarios/gap/f_900s.tif", &g, &ok);
    check("gap", "observed = \"gap\"", &["f_900s.tif", "gap", "600 s"]);
    // A frame with missing cells over the basin.
    let mut holed = ok.clone();
    holed[(1, 2)] = f64::NAN;
    write_frame(&b, "scenarios/holed/f_0s.tif", &g, &ok);
    write_frame(&b, "scenarios/holed/f_300s.tif", &g, &holed);
    check(
        "holed",
        "files = \"holed\"",
        &["f_300s.tif", "no data", "row"],
    );
    // A frame in another CRS.
    let path = b.path().join("scenarios/crs/f_0s.tif");
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    write_geotiff(&path, &g, &common::wkt(32615), -9999.0, &ok).expect("frame");
    check(
        "crs",
        "files = \"crs\"\ninterval_s = 300",
        &["f_0s.tif", "EPSG:32615"],
    );
    // A frame that does not cover the basin.
    let small = frame_grid(common::X0, common::Y0, 100.0, 2, 4);
    write_frame(
        &b,
        "scenarios/small/f_0s.tif",
        &small,
        &Array2::from_elem((2, 4), 5.0),
    );
    check(
        "small",
        "files = \"small\"\ninterval_s = 300",
        &["f_0s.tif", "does not cover"],
    );
    // A name without its time.
    write_frame(&b, "scenarios/named/radar.tif", &g, &ok);
    check(
        "named",
        "files = \"named\"\ninterval_s = 300",
        &["radar.tif", "_<time_s>s"],
    );
    // One frame and no interval.
    check("single", "files = \"small\"", &["interval_s"]);
    // A missing folder.
    check("missing", "files = \"nowhere\"", &["nowhere"]);
    // Both forms at once.
    check(
        "both",
        "files = \"gap\"\nobserved = \"gap\"",
        &["exactly one"],
    );
}

#[test]
fn a_run_with_frames_saved_and_resumed_mid_frame_equals_one_run_bit_for_bit() {
    let b = flat_basin();
    let g = frame_grid(common::X0 - 7.0, common::Y0 + 3.0, 35.0, 10, 13);
    for k in 0..4 {
        let data = Array2::from_shape_fn((10, 13), |(i, j)| ((i + 2 * j + k) % 5) as f64 * 40.0);
        write_frame(
            &b,
            &format!("scenarios/storm/s_{}s.tif", 100 * k),
            &g,
            &data,
        );
    }
    let path = scenario(&b, "storm", 500.0, "files = \"storm\"");
    let mut whole = load(&b, &path).expect("run");
    run_to_end(&mut whole);

    let mut first = load(&b, &path).expect("run");
    while first.sim_time_s() < 250.0 {
        first.step(Some(250.0)).expect("step");
    }
    let state = b.path().join("state.nc");
    first.save_state(&state).expect("save");
    let mut second = load(&b, &path).expect("run");
    second
        .restore_state(&state, basin::Resume::Continue)
        .expect("restore");
    run_to_end(&mut second);
    let bits = |r: &Run| -> Vec<u64> { r.solver().depth_m().iter().map(|v| v.to_bits()).collect() };
    assert_eq!(bits(&whole), bits(&second));
    assert_eq!(
        whole.solver().balance().rain_m3.to_bits(),
        second.solver().balance().rain_m3.to_bits()
    );
}
