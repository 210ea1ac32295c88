//! End-to-end runs: a synthetic basin with a breach, the bundled presets, and Merewether
//! against its observed flood levels.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use basin::raster::{crs_label, read_raster};
use basin::{Basin, RunOptions, Scenario};
use common::TestBasin;

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn run_writes_gis_ready_results() {
    let b = TestBasin::new();
    let out = b.path().join("results");
    let mut reports = 0;
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {
        reports += 1
    })
    .expect("runs");
    assert!(
        reports >= 10,
        "one progress report per output interval at least"
    );
    assert_eq!(s.status, "complete");
    assert!(s.relative_volume_error < 1e-12, "{:?}", s.water_balance);

    let dem = read_raster(&b.path().join("dem.tif")).expect("dem");
    // Every layer of the one table is written, and the summary lists exactly those.
    let layers: Vec<String> = basin::results::RESULT_LAYERS
        .iter()
        .map(|l| l.file_name())
        .collect();
    // Each GeoTIFF with its QGIS style beside it.
    // The class raster's category names lie in its .aux.xml.
    let mut listed: Vec<String> = basin::results::RESULT_LAYERS
        .iter()
        .flat_map(|l| {
            let mut files = vec![l.file_name()];
            if l.legend.classes {
                files.push(format!("{}.aux.xml", l.file_name()));
            }
            files.push(format!("{}.qml", l.key));
            files
        })
        .collect();
    listed.extend(["gauges.csv", "warnings.csv", "summary.json"].map(String::from));
    assert_eq!(s.outputs, listed);
    // The styles carry the app's legend: one ramp item per colour stop, in order, and
    // for the hazard classes H1–H6 at 1–6.
    for layer in &basin::results::RESULT_LAYERS {
        let qml = std::fs::read_to_string(out.join(format!("{}.qml", layer.key))).expect("qml");
        assert!(qml.contains("type=\"singlebandpseudocolor\""), "{qml}");
        let colours: Vec<&str> = qml
            .split("color=\"")
            .skip(1)
            .map(|rest| &rest[..7])
            .collect();
        let expected: Vec<String> = layer
            .legend
            .stops
            .iter()
            .map(|c| format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2]))
            .collect();
        assert_eq!(colours, expected, "{}", layer.key);
        if layer.legend.classes {
            assert!(qml.contains("colorRampType=\"EXACT\""), "{qml}");
            for k in 1..=6 {
                assert!(qml.contains(&format!("value=\"{k}\" color=")), "{qml}");
                assert!(qml.contains(&format!("label=\"H{k}\"")), "{qml}");
            }
        }
    }
    for (name, layer) in layers.iter().zip(&basin::results::RESULT_LAYERS) {
        let r = read_raster(&out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.grid, dem.grid, "{name}: same grid as the DEM");
        assert_eq!(crs_label(&r.crs_wkt), "EPSG:32614", "{name}");
        let nodata = if layer.legend.classes { 255.0 } else { -9999.0 };
        assert_eq!(r.nodata, Some(nodata), "{name}");
        // A Cloud-Optimized GeoTIFF (GDAL reports the COG layout only for a file whose
        // header, tiles and overviews are laid out as the COG driver writes them),
        // tiled 256 × 256.
        let ds = gdal::Dataset::open(out.join(name)).expect("open");
        assert_eq!(
            gdal::Metadata::metadata_item(&ds, "LAYOUT", "IMAGE_STRUCTURE").as_deref(),
            Some("COG"),
            "{name}"
        );
        // The band says what it holds and in which unit (gdalinfo shows both).
        let band = ds.rasterband(1).expect("band");
        assert_eq!(band.block_size(), (256, 256), "{name}");
        if layer.legend.classes {
            // Byte classes with the legend's colours and names.
            assert_eq!(band.band_type(), gdal::raster::GdalDataType::UInt8);
            let table = band.color_table().expect("a colour table");
            for (k, c) in layer.legend.stops.iter().enumerate() {
                let e = table.entry_as_rgb(k + 1).expect("entry");
                assert_eq!([e.r, e.g, e.b], c.map(i16::from), "class {}", k + 1);
            }
            // SAFETY: the band is valid while `ds` is open; the list is GDAL's own.
            let names: Vec<String> = unsafe {
                let list = gdal_sys::GDALGetRasterCategoryNames(band.c_rasterband());
                (0..gdal_sys::CSLCount(list))
                    .map(|i| {
                        std::ffi::CStr::from_ptr(*list.add(i as usize))
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect()
            };
            assert_eq!(
                names,
                ["never flooded", "H1", "H2", "H3", "H4", "H5", "H6"],
                "{name}"
            );
        } else {
            assert_eq!(band.band_type(), gdal::raster::GdalDataType::Float32);
        }
        assert_eq!(
            gdal::Metadata::description(&band).expect("description"),
            layer.title,
            "{name}"
        );
        assert_eq!(band.unit(), layer.unit, "{name}");
    }
    // The breach at 60 s sent the reservoir downstream: the cell below the dam flooded
    // after the breach started, the reservoir cell was wet from the start.
    let first = read_raster(&out.join("first_inundation_s.tif")).expect("raster");
    assert!(
        first.data[(15, 25)] > 60.0,
        "below the dam: {}",
        first.data[(15, 25)]
    );
    assert_eq!(first.data[(15, 10)], 0.0);
    let hazard = read_raster(&out.join("hazard_class.tif")).expect("raster");
    assert!(
        hazard.data.iter().any(|&h| h >= 3.0),
        "a dam break gives high hazard somewhere"
    );

    let csv = std::fs::read_to_string(out.join("gauges.csv")).expect("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time_s,reservoir_depth_m,reservoir_level_m,reservoir_speed_m_s,downstream_depth_m,downstream_level_m,downstream_speed_m_s"
    );
    assert_eq!(lines.len(), 1 + 11, "t = 0, 60, …, 600");
    let last: Vec<f64> = lines[11]
        .split(',')
        .map(|v| v.parse().expect("number"))
        .collect();
    assert_eq!(last[0], 600.0);
    assert!(
        last[4] > 0.05,
        "downstream gauge wet at the end: {}",
        last[4]
    );

    let json = summary(&out);
    assert_eq!(json["status"], "complete");
    assert_eq!(json["crs"], "EPSG:32614");
    assert_eq!(
        json["inputs"].as_array().expect("inputs").len(),
        4,
        "basin.toml, dem, depth, scenario"
    );
    assert_eq!(
        json["inputs"][1]["sha256"].as_str().expect("hash").len(),
        64
    );
    assert!(
        json["water_balance"]["boundary_inflow_m3"]
            .as_f64()
            .expect("number")
            > 0.0
    );
}

#[test]
fn force_replaces_and_cancel_keeps_a_marked_partial_result() {
    let b = TestBasin::new();
    let out = b.path().join("results");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("old.txt"), "old").expect("write");
    let options = RunOptions {
        force: true,
        ..RunOptions::default()
    };
    let cancel = options.cancel.clone();
    // Cancel as soon as the first progress report arrives.
    let s = basin::run(&b.scenario(), &out, &options, |_| {
        cancel.store(true, Ordering::Relaxed)
    })
    .expect("runs");
    assert!(s.status.starts_with("cancelled"), "{}", s.status);
    assert!(s.sim_time_s < 600.0);
    assert!(
        !out.join("old.txt").exists(),
        "--force replaced the old folder"
    );
    assert!(out.join("max_depth_m.tif").exists());
    assert!(
        summary(&out)["status"]
            .as_str()
            .expect("status")
            .starts_with("cancelled")
    );
}

#[test]
fn depth_snapshots_at_the_output_interval() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 200.0\ndepth_snapshots = true",
    );
    let out = b.path().join("results");
    basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    for name in [
        "depth_00001_200s.tif",
        "depth_00002_400s.tif",
        "depth_00003_600s.tif",
    ] {
        assert!(out.join(name).exists(), "{name}");
    }
}

fn bundled_scenarios() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../basins");
    let mut out = Vec::new();
    for basin in std::fs::read_dir(&root).expect("basins/").flatten() {
        for s in std::fs::read_dir(basin.path().join("scenarios"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if s.path().extension().is_some_and(|e| e == "toml") {
                out.push(s.path());
            }
        }
    }
    out.sort();
    out
}

/// Every bundled preset loads, builds a solver and takes steps; the small ones run to the
/// end with a closed water balance.
#[test]
fn every_bundled_preset_runs() {
    let scenarios = bundled_scenarios();
    assert!(
        scenarios.len() >= 6,
        "three basins with two presets each: {scenarios:?}"
    );
    for path in scenarios {
        let basin =
            Basin::load(&Scenario::basin_dir(&path).expect("in a basin")).expect("basin loads");
        assert!(
            basin.dir.join("README.md").exists(),
            "{}: README with source and licence",
            basin.dir.display()
        );
        let scenario = Scenario::load(&path, &basin).expect("scenario loads");
        if basin.grid().rows * basin.grid().cols > 60_000 {
            let mut solver = basin::build_solver(&basin, &scenario).expect("solver");
            for _ in 0..20 {
                solver.step(scenario.file.duration_s).expect("stable");
            }
            continue;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let s = basin::run(
            &path,
            &dir.path().join("out"),
            &RunOptions::default(),
            |_| {},
        )
        .expect("runs");
        eprintln!(
            "{}: {} steps, {:.1} s wall, balance error {:.1e}",
            path.display(),
            s.steps,
            s.wall_time_s,
            s.relative_volume_error
        );
        assert_eq!(s.status, "complete");
        assert!(
            s.relative_volume_error < 1e-10,
            "{}: {:?}",
            path.display(),
            s.water_balance
        );
        assert!(s.max_depth_m > 0.1, "{}: something floods", path.display());
    }
}

/// Merewether (ARR Project 15): peak water levels at the five surveyed points against the
/// observed flood marks. TUFLOW is within 0.24 m of them in the ARR report, so ±0.3 m is
/// the bar for a 2D model on this 1 m grid (basins/merewether/README.md). P2's ground in
/// the DEM (23.58 m) is above its observed level (23.36 m), so it cannot come closer
/// than 0.22 m.
#[test]
fn merewether_peak_levels_match_the_observations() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../basins/merewether/scenarios/recorded_inflow.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    basin::run(&path, &out, &RunOptions::default(), |_| {}).expect("runs");
    // 321 × 416 cells: the Cloud-Optimized results carry one overview, 160 × 208 (GDAL
    // halves and rounds down).
    for name in ["max_depth_m.tif", "hazard_class.tif"] {
        let ds = gdal::Dataset::open(out.join(name)).expect("open");
        let band = ds.rasterband(1).expect("band");
        assert_eq!(band.overview_count().expect("overviews"), 1, "{name}");
        let o = band.overview(0).expect("overview");
        assert_eq!((o.x_size(), o.y_size()), (160, 208), "{name}");
    }
    let csv = std::fs::read_to_string(out.join("gauges.csv")).expect("csv");
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().expect("num")).collect())
        .collect();
    let header: Vec<&str> = csv.lines().next().expect("header").split(',').collect();
    // Observed peak stage (ARR final report) at P0–P4, from the basin README.
    let observed = [19.98, 18.38, 23.36, 23.14, 23.01];
    for (i, obs) in observed.iter().enumerate() {
        let col = header
            .iter()
            .position(|h| *h == format!("P{i}_level_m"))
            .expect("gauge column");
        let peak = rows.iter().map(|r| r[col]).fold(f64::MIN, f64::max);
        eprintln!(
            "Merewether P{i}: modelled peak {peak:.2} m, observed {obs:.2} m, difference {:+.2} m",
            peak - obs
        );
        assert!(
            (peak - obs).abs() <= 0.3,
            "P{i}: {peak:.2} m vs observed {obs} m"
        );
    }
}

/// `time_stack = true`: `time_stack.nc` holds depth, u and v at the start and at every
/// output time, in the DEM's grid and CRS with a CF time axis (as GDAL reads it); its
/// depths are the depth snapshots' values, and its speeds at the gauges are the speeds in
/// gauges.csv.
#[test]
fn a_time_stack_holds_depth_and_velocity_at_every_output_time() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 60.0\ntime_stack = true\ndepth_snapshots = true",
    );
    let out = b.path().join("results");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    assert!(
        s.outputs.iter().any(|o| o == "time_stack.nc"),
        "{:?}",
        s.outputs
    );
    let nc = out.join("time_stack.nc");
    let open = |var: &str| {
        gdal::Dataset::open(format!("NETCDF:\"{}\":{var}", nc.display())).expect("variable")
    };
    let dem = read_raster(&b.path().join("dem.tif")).expect("dem");
    let basin = basin::Basin::load(b.path()).expect("basin");
    let csv = std::fs::read_to_string(out.join("gauges.csv")).expect("csv");
    let rows: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(|v| v.parse().expect("number")).collect())
        .collect();
    let (depth, u, v) = (open("depth"), open("u"), open("v"));
    assert_eq!(depth.raster_count(), 11, "t = 0, 60, …, 600");
    assert_eq!(
        depth.geo_transform().expect("transform"),
        dem.grid.geo_transform()
    );
    assert_eq!(
        crs_label(&depth.spatial_ref().expect("crs").to_wkt().expect("wkt")),
        "EPSG:32614"
    );
    let mut snapshots: Vec<String> = std::fs::read_dir(&out)
        .expect("results")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("depth_") && n.ends_with(".tif"))
        .collect();
    snapshots.sort();
    assert_eq!(snapshots.len(), 10);
    let mut moved_east = false;
    for k in 0..11 {
        let band = |ds: &gdal::Dataset| {
            let band = ds.rasterband(k + 1).expect("band");
            let time = gdal::Metadata::metadata_item(&band, "NETCDF_DIM_time", "")
                .expect("time of the band");
            let (_, values) = band
                .read_as::<f32>(
                    (0, 0),
                    (dem.grid.cols, dem.grid.rows),
                    (dem.grid.cols, dem.grid.rows),
                    None,
                )
                .expect("read")
                .into_shape_and_vec();
            (time, values)
        };
        let ((time, d), (_, uu), (_, vv)) = (band(&depth), band(&u), band(&v));
        assert_eq!(time.parse::<f64>().expect("time"), 60.0 * k as f64);
        if k > 0 {
            let snap = read_raster(&out.join(&snapshots[k - 1])).expect("snapshot");
            for (i, &s) in snap.data.iter().enumerate() {
                let want = if s.is_nan() { -9999.0 } else { s as f32 };
                assert_eq!(d[i].to_bits(), want.to_bits(), "time {k}, cell {i}");
            }
        }
        for (g, gauge) in basin.gauges.iter().enumerate() {
            let i = gauge.row * dem.grid.cols + gauge.col;
            let (depth_csv, speed_csv) = (rows[k][1 + 3 * g], rows[k][3 + 3 * g]);
            // gauges.csv holds 4 decimals.
            assert!(
                (f64::from(d[i]) - depth_csv).abs() <= 5e-5 + 1e-6,
                "depth at {}",
                gauge.name
            );
            let speed = f64::from(uu[i]).hypot(f64::from(vv[i]));
            assert!(
                (speed - speed_csv).abs() <= 5e-5 + 1e-5,
                "speed at {}: {speed} vs {speed_csv}",
                gauge.name
            );
        }
        // The breach sends the reservoir east, down the valley.
        moved_east |= uu.iter().any(|&x| x > 0.5);
    }
    assert!(moved_east, "water flowing east somewhere");
}

/// `[adjust]`: rain × and inflow × scale the volumes that enter (to round-off: each step
/// adds the series' integral over the step), Manning × slows the flood, and bad
/// multipliers are refused with the key and the fix.
#[test]
fn adjust_scales_rain_inflow_and_roughness() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "output_interval_s = 60.0",
        "output_interval_s = 60.0\n\n[rain]\nrain_mm_per_h = [[0, 20], [300, 60], [600, 0]]",
    );
    let base = std::fs::read_to_string(b.scenario()).expect("scenario");
    let run = |name: &str, adjust: &str| {
        let path = b.path().join(format!("scenarios/{name}.toml"));
        std::fs::write(&path, format!("{base}\n[adjust]\n{adjust}\n")).expect("write");
        basin::run(&path, &b.path().join(name), &RunOptions::default(), |_| {})
    };
    let plain = run("plain", "").expect("runs");
    let scaled = run("scaled", "rain_scale = 0.5\ninflow_scale = 2.0").expect("runs");
    let rough = run("rough", "manning_scale = 3.0").expect("runs");
    let (p, s) = (plain.water_balance, scaled.water_balance);
    assert!(p.rain_m3 > 0.0 && p.boundary_inflow_m3 > 0.0);
    assert!(
        (s.rain_m3 - 0.5 * p.rain_m3).abs() < 1e-9 * p.rain_m3,
        "rain {} vs {}",
        s.rain_m3,
        p.rain_m3
    );
    assert!(
        (s.boundary_inflow_m3 - 2.0 * p.boundary_inflow_m3).abs() < 1e-9 * p.boundary_inflow_m3,
        "inflow {} vs {}",
        s.boundary_inflow_m3,
        p.boundary_inflow_m3
    );
    assert!(scaled.relative_volume_error < 1e-12);
    // Three times rougher: the flood runs slower.
    assert!(
        rough.max_speed_m_s < 0.8 * plain.max_speed_m_s,
        "{} vs {}",
        rough.max_speed_m_s,
        plain.max_speed_m_s
    );
    for (adjust, wants) in [
        ("manning_scale = 0.0", "adjust.manning_scale"),
        ("rain_scale = -1.0", "adjust.rain_scale"),
        ("roughness = 2.0", "unknown field `roughness`"),
    ] {
        let err = run("bad", adjust).expect_err("refused").to_string();
        assert!(err.contains(wants) && err.contains("bad.toml"), "{err}");
        assert!(!b.path().join("bad").exists(), "nothing written");
    }
}
