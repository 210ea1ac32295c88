//! Structures in scenarios: the bundled gated spillway lowers the reservoir's peak
//! against the gates held shut, its rules fire a handful of times (no chattering), its
//! results carry structures.csv and operations.csv with a closed balance, a run saved and
//! resumed with its gates half-way equals one run bit for bit, and bad structure input is
//! refused with the file, the key and the fix.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use basin::{Basin, Resume, Run, RunOptions, Scenario};
use common::TestBasin;

fn preset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../basins/jacksboro_valley/scenarios")
        .join(format!("{name}.toml"))
}

fn new_run(path: &Path) -> Run {
    let basin = Basin::load(&Scenario::basin_dir(path).expect("in a basin")).expect("basin");
    let scenario = Scenario::load(path, &basin).expect("scenario");
    Run::new(Arc::new(basin), Arc::new(scenario)).expect("run")
}

fn run_until(run: &mut Run, t: f64) {
    while run.sim_time_s() < t {
        run.step(Some(t)).expect("step");
    }
}

/// The highest level of a gauge in a run's gauge records.
fn peak_level(run: &Run, gauge: usize) -> f64 {
    run.gauges()
        .rows
        .iter()
        .map(|(_, v)| v[gauge].level_m)
        .fold(f64::NEG_INFINITY, f64::max)
}

#[test]
fn the_gated_spillway_lowers_the_reservoir_peak_without_chattering() {
    let mut gated = new_run(&preset("gated_spillway"));
    let mut shut = new_run(&preset("gates_shut"));
    let end = gated.duration_s();
    run_until(&mut gated, end);
    run_until(&mut shut, end);
    // Gauge 1 is the reservoir; its crest is 370 m.
    let (g, s) = (peak_level(&gated, 1), peak_level(&shut, 1));
    assert!(
        g < 370.0,
        "gated: the reservoir peaks at {g:.2} m, over the crest"
    );
    assert!(
        s > 370.0,
        "shut: the reservoir peaks at {s:.2} m, under the crest"
    );
    // Four gate rules and a release cap on one flood: each fires a few times at most.
    let log = &gated.operations().log;
    assert!(
        (3..=10).contains(&log.len()),
        "{} operations: {log:#?}",
        log.len()
    );
    for b in [gated.solver().balance(), shut.solver().balance()] {
        assert!(b.relative_error() < 1e-10, "{b:?}");
    }
    // The gates moved water, and the bottom outlet released some.
    let volumes: Vec<f64> = (0..2)
        .map(|i| {
            gated
                .solver()
                .structure_flow(i)
                .expect("structure")
                .volume_m3
        })
        .collect();
    assert!(volumes.iter().all(|&v| v > 1e4), "{volumes:?}");
}

#[test]
fn results_carry_the_structures_and_their_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let s = basin::run(
        &preset("gated_spillway"),
        &out,
        &RunOptions::default(),
        |_| {},
    )
    .expect("run");
    assert_eq!(s.structures.len(), 2);
    assert!(
        s.structures[0].peak_flow_m3_s > 100.0,
        "{:?}",
        s.structures[0]
    );
    let csv = std::fs::read_to_string(out.join("structures.csv")).expect("structures.csv");
    let header = csv.lines().next().expect("header");
    assert!(
        header.contains("Spillway gates_flow_m3_s") && header.contains("Bottom outlet_regime"),
        "{header}"
    );
    // One row per output time and the start.
    assert_eq!(csv.lines().count(), 2 + (14400 / 300), "{csv}");
    let ops = std::fs::read_to_string(out.join("operations.csv")).expect("operations.csv");
    assert!(ops.contains("Spillway gates,open to 2 m"), "{ops}");
    assert!(
        ops.contains("Bottom outlet,\"release cut to the minimum"),
        "{ops}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("json"))
            .expect("json");
    assert_eq!(
        summary["operations"].as_array().map(Vec::len),
        Some(ops.lines().count() - 1)
    );
}

#[test]
fn a_run_with_structures_saved_and_resumed_equals_one_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = preset("gated_spillway");
    let mut whole = new_run(&path);
    let end = whole.duration_s();
    run_until(&mut whole, end);
    let mut first = new_run(&path);
    // 7800 s: the gates are on their way to 2 m (ordered at 7689 s, 0.5 m/min).
    run_until(&mut first, 7800.0);
    let opening = first.solver().structure_setting(0).expect("gate");
    assert!(opening.opening_m < opening.target_opening_m, "{opening:?}");
    let state = dir.path().join("state.nc");
    first.save_state(&state).expect("save");
    let mut second = new_run(&path);
    second
        .restore_state(&state, Resume::Continue)
        .expect("restore");
    run_until(&mut second, end);
    assert!(whole.solver().state().same_bits(&second.solver().state()));
    assert_eq!(whole.operations(), second.operations());
    assert_eq!(whole.structure_records(), second.structure_records());
}

#[test]
fn bad_structures_are_refused_with_the_file_and_the_fix() {
    let b = TestBasin::new();
    let cases: [(&str, &[&str]); 7] = [
        (
            // A culvert end off the grid.
            r#"kind = "culvert"
name = "c"
inlet = [500105.0, 4000145.0]
outlet = [600000.0, 4000145.0]
shape = "box"
width_m = 1.0
height_m = 1.0"#,
            &["structures[0].outlet", "outside the DEM"],
        ),
        (
            r#"kind = "culvert"
name = "c"
inlet = [500105.0, 4000145.0]
outlet = [500305.0, 4000145.0]
shape = "circular"
diameter_m = -1.0"#,
            &["structures[0].diameter_m", "> 0"],
        ),
        (
            r#"kind = "gate"
name = "g"
line = [[500205.0, 4000200.0], [500205.0, 4000100.0]]
upstream = [500105.0, 4000145.0]
sill_m = 101.0
width_m = 20.0
max_opening_m = 3.0
operation = { rules = [{ gauge = "nowhere", above_m = 104.0, open_to_m = 1.0 }] }"#,
            &[
                "structures[0].operation.rules[0].gauge",
                "nowhere",
                "reservoir, downstream",
            ],
        ),
        (
            r#"kind = "weir"
name = "w"
line = [[500205.0, 4000200.0], [500205.0, 4000100.0]]
upstream = [500105.0, 4000145.0]
crest_m = 5000.0"#,
            &["structures[0].crest_m", "far from the ground"],
        ),
        (
            r#"kind = "pump"
name = "p"
from = [500105.0, 4000145.0]
head_flow = [[0.0, 1.0]]
outlet_level_m = 110.0
start_level_m = 104.0
stop_level_m = 105.0"#,
            &["structures[0].stop_level_m", "not below start_level_m"],
        ),
        (
            r#"kind = "weir"
name = "w"
line = [[500205.0, 4000200.0], [500205.0, 4000100.0]]
upstream = [500105.0, 4000145.0]
crest_m = 104.0
colour = "red""#,
            &["unknown field `colour`"],
        ),
        (
            r#"kind = "sluice"
name = "s""#,
            &["unknown variant `sluice`"],
        ),
    ];
    for (i, (toml, wants)) in cases.iter().enumerate() {
        let text = format!(
            "name = \"s\"\nduration_s = 60.0\noutput_interval_s = 30.0\n\n[[structures]]\n{toml}\n"
        );
        b.write(&format!("scenarios/bad{i}.toml"), &text);
        let path = b.path().join(format!("scenarios/bad{i}.toml"));
        let err = basin::run(
            &path,
            &b.path().join(format!("out{i}")),
            &RunOptions::default(),
            |_| {},
        )
        .expect_err("refused")
        .to_string();
        assert!(err.contains(&format!("bad{i}.toml")), "{err}");
        for w in *wants {
            assert!(err.contains(w), "case {i}: `{w}` not in: {err}");
        }
        assert!(
            !b.path().join(format!("out{i}")).exists(),
            "nothing written"
        );
    }
}

/// A detention area on a flat floodplain (bed 100 m): its levee keeps it dry until the
/// gauge upstream reaches the trigger level, then the inlet fills it; what it holds is
/// what its inlet moved, and the levee lets nothing else in.
#[test]
fn a_detention_area_fills_only_through_its_inlet_once_triggered() {
    let b = TestBasin::new();
    let flat = ndarray::Array2::from_elem((common::ROWS, common::COLS), 100.0);
    b.write_raster("dem.tif", 32614, &flat);
    b.write_raster(
        "depth.tif",
        32614,
        &ndarray::Array2::zeros((common::ROWS, common::COLS)),
    );
    // Rows 20–28, cols 10–30 (cell centres): x 500105–500305, y 4000015–4000095.
    b.write(
        "scenarios/detain.toml",
        r#"name = "detain"
duration_s = 900.0
output_interval_s = 60.0

[[boundaries]]
kind = "inflow"
edge = "west"
discharge_m3_s = [[0, 30], [900, 30]]

[[detention_areas]]
name = "Polder"
polygon = [[500100.0, 4000100.0], [500310.0, 4000100.0], [500310.0, 4000010.0], [500100.0, 4000010.0]]
inlet_from = [500205.0, 4000115.0]
inlet_to = [500205.0, 4000075.0]
sill_m = 100.0
width_m = 10.0
open_to_m = 1.0
gauge = "reservoir"
trigger_level_m = 100.1
"#,
    );
    let mut run = new_run(&b.path().join("scenarios/detain.toml"));
    let area = run.scenario().detention_areas[0].clone();
    assert!(area.cells.len() > 100, "{} cells inside", area.cells.len());
    let cell_area = 100.0;
    let mut opened_at = None;
    while !run.is_finished() {
        let events = run.step(None).expect("step");
        for e in events {
            if let basin::Event::Operation { index } = e {
                opened_at.get_or_insert(run.operations().log[index].time_s);
            }
        }
        let stored = area.stored_m3(run.solver(), cell_area);
        if opened_at.is_none() {
            assert_eq!(
                stored,
                0.0,
                "water inside before the trigger, at {} s",
                run.sim_time_s()
            );
        }
    }
    let opened = opened_at.expect("the trigger level was reached");
    // The gauge at 30 m³/s over the flat floor reaches 100.1 m after a while, not at once.
    assert!(opened > 30.0, "opened at {opened} s");
    let stored = area.stored_m3(run.solver(), cell_area);
    let moved = run
        .solver()
        .structure_flow(area.inlet)
        .expect("inlet")
        .volume_m3;
    assert!(stored > 100.0, "stored {stored} m³");
    // Everything inside came through the inlet: f64 sums, 1e-9 relative.
    assert!(
        (stored - moved).abs() < 1e-9 * moved,
        "stored {stored} m³, inlet moved {moved} m³"
    );
    assert!(run.solver().balance().relative_error() < 1e-10);
}

/// A long valley (41 × 200 cells of 10 m): a dam across column 60 (crest 108.0 m), its
/// reservoir nearly full (107.8 m), a gauge 900 m below the dam. The flood arrives after
/// 3000 s.
fn long_valley(release: Option<f64>) -> (tempfile::TempDir, PathBuf) {
    use basin::raster::{GeoGrid, write_geotiff};
    let dir = tempfile::tempdir().expect("tempdir");
    let (rows, cols) = (41, 200);
    let grid = GeoGrid {
        rows,
        cols,
        origin_x: 500_000.0,
        origin_y: 4_000_410.0,
        dx: 10.0,
        dy: -10.0,
    };
    let valley =
        |r: usize, c: usize| 100.0 - 0.002 * 10.0 * c as f64 + 0.004 * (r as f64 - 20.0).powi(2);
    let bed = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| {
        if c == 60 {
            valley(r, c).max(108.0)
        } else {
            valley(r, c)
        }
    });
    let depth = ndarray::Array2::from_shape_fn((rows, cols), |(r, c)| {
        if c < 60 {
            (107.8 - bed[(r, c)]).max(0.0)
        } else {
            0.0
        }
    });
    let wkt = common::wkt(32614);
    write_geotiff(&dir.path().join("dem.tif"), &grid, &wkt, -9999.0, &bed).expect("dem");
    write_geotiff(&dir.path().join("depth.tif"), &grid, &wkt, -9999.0, &depth).expect("depth");
    std::fs::write(
        dir.path().join("basin.toml"),
        r#"name = "Long valley"
dem = "dem.tif"
[roughness]
constant = 0.035
[initial_water]
depth_raster = "depth.tif"
[[gauges]]
name = "pool"
x = 500555.0
y = 4000205.0
[[gauges]]
name = "town"
x = 501505.0
y = 4000205.0
"#,
    )
    .expect("basin.toml");
    std::fs::create_dir(dir.path().join("scenarios")).expect("mkdir");
    let mut text = String::from(
        r#"name = "flood"
duration_s = 9000.0
output_interval_s = 60.0

[[boundaries]]
kind = "inflow"
edge = "west"
discharge_m3_s = [[0, 1], [3000, 1], [4800, 80], [6600, 1], [9000, 1]]

[[boundaries]]
kind = "free_outflow"
edge = "east"
"#,
    );
    if let Some(safe) = release {
        text += &format!(
            r#"
[[structures]]
kind = "release"
name = "Outlet"
from = [500585.0, 4000205.0]
to = [500625.0, 4000205.0]
rule = {{ pool_gauge = "pool", table = [[107.0, 0.0], [107.5, 20.0], [108.0, 20.0]], max_m3_s = 20.0, ramp_m3_s_per_min = 6.0, downstream_gauge = "town", safe_level_m = {safe}, margin_m = 0.02 }}
"#
        );
    }
    let path = dir.path().join("scenarios/flood.toml");
    std::fs::write(&path, text).expect("scenario");
    (dir, path)
}

/// The town's safe level in the long valley (m): between the two runs' peaks, measured
/// at 97.412 m with the outlet closed (the dam overtops) and 97.315 m with the rule.
const TOWN_SAFE_M: f64 = 97.36;

#[test]
fn a_release_rule_keeps_the_town_below_its_safe_level_where_the_closed_dam_overtops() {
    let mut peaks = Vec::new();
    for release in [None, Some(TOWN_SAFE_M)] {
        let (_dir, path) = long_valley(release);
        let mut run = new_run(&path);
        let end = run.duration_s();
        run_until(&mut run, end);
        assert!(run.solver().balance().relative_error() < 1e-10);
        peaks.push((peak_level(&run, 0), peak_level(&run, 1)));
    }
    let ((pool_closed, town_closed), (pool_rule, town_rule)) = (peaks[0], peaks[1]);
    assert!(
        pool_closed > 108.0,
        "closed: the pool peaks at {pool_closed:.3} m, under the crest"
    );
    assert!(
        town_closed > TOWN_SAFE_M,
        "closed: the town peaks at {town_closed:.3} m"
    );
    assert!(
        pool_rule < 108.0,
        "rule: the pool overtops ({pool_rule:.3} m)"
    );
    assert!(
        town_rule < TOWN_SAFE_M,
        "rule: the town peaks at {town_rule:.3} m"
    );
}

/// The bundled Trinity pair: the design storm with the east-bank detention area opened
/// when Middle reaches 188.7 m, and the same storm with its inlet kept closed. The area
/// takes in far more than the rain falling on it, lowers the peak at Lower (the gauge
/// it protects) and `compare` reports it; every gauge's peak, followed at every step, is
/// at least the highest level in its output rows.
#[test]
fn the_trinity_detention_area_lowers_the_peak_downstream() {
    let scenarios =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../basins/trinity_storm/scenarios");
    let out = tempfile::tempdir().expect("tempdir");
    let mut summaries = Vec::new();
    for name in ["detention_area", "detention_closed"] {
        let dir = out.path().join(name);
        let summary = basin::run(
            &scenarios.join(format!("{name}.toml")),
            &dir,
            &RunOptions::default(),
            |_| {},
        )
        .expect("run");
        assert!(summary.relative_volume_error < 1e-10, "{name}");
        summaries.push(summary);
    }
    let (open, closed) = (&summaries[0], &summaries[1]);
    let (a, b) = (&open.detention_areas[0], &closed.detention_areas[0]);
    let opened_at = a.opened_at_s.expect("opened by its rule");
    assert!(b.opened_at_s.is_none());
    let firing = &open.operations[0];
    assert!(
        firing.reason.contains("Middle") && firing.time_s == opened_at,
        "{firing:?}"
    );
    // Closed, the polder holds only the rain on its 36 cells (135 mm less losses on
    // 0.29 km², < 40 000 m³); opened, it takes in river water many times that.
    assert!(
        b.peak_stored_m3 < 40_000.0,
        "closed: {} m³",
        b.peak_stored_m3
    );
    assert!(
        a.peak_stored_m3 > 5.0 * b.peak_stored_m3,
        "opened: {} m³",
        a.peak_stored_m3
    );

    let comparison = basin::compare::compare(
        &out.path().join("detention_area"),
        &out.path().join("detention_closed"),
    )
    .expect("compare");
    let lower = comparison
        .gauges
        .iter()
        .find(|g| g.name == "Lower")
        .expect("Lower");
    // Measured when the preset was made: 0.075 m lower. Upstream gauges see the same
    // flood, up to the time steps (the CFL step is global, so the two runs step
    // differently): measured 5e-7 m at Middle.
    assert!(lower.peak_level_change_m < -0.03, "{lower:?}");
    for g in comparison.gauges.iter().filter(|g| g.name != "Lower") {
        assert!(g.peak_level_change_m.abs() < 1e-3, "{g:?}");
    }
    let reduction = comparison.detention_areas[0]
        .peak_reduction_m
        .expect("reported");
    assert!((reduction + lower.peak_level_change_m).abs() < 1e-12);
    assert!(comparison.detention_areas[1].peak_reduction_m.is_none());
    assert!(comparison.table().contains("lowered by"));

    // Peaks followed at every step: at least every output sample, at a time in the run.
    let csv = std::fs::read_to_string(out.path().join("detention_area/gauges.csv")).expect("csv");
    for (k, g) in open.gauges.iter().enumerate() {
        let highest = csv
            .lines()
            .skip(1)
            .map(|l| {
                l.split(',')
                    .nth(2 + 3 * k)
                    .and_then(|v| v.parse::<f64>().ok())
                    .expect("a level")
            })
            .fold(f64::NEG_INFINITY, f64::max);
        // The CSV holds 4 decimals.
        assert!(
            g.peak_level_m >= highest - 5e-5,
            "{}: {g:?} < {highest}",
            g.name
        );
        assert!(g.peak_time_s > 0.0 && g.peak_time_s <= open.duration_s);
    }
    assert_eq!(
        a.downstream_peak_level_m,
        Some(open.gauges[0].peak_level_m),
        "the area reports the peak at Lower"
    );
}

/// A detention area's trigger needs both its gauge and its level; gauges must exist.
#[test]
fn bad_detention_areas_are_refused_with_the_key_and_the_fix() {
    let b = TestBasin::new();
    let area = r#"name = "Polder"
polygon = [[500100.0, 4000100.0], [500310.0, 4000100.0], [500310.0, 4000010.0], [500100.0, 4000010.0]]
inlet_from = [500205.0, 4000115.0]
inlet_to = [500205.0, 4000075.0]
sill_m = 100.0
width_m = 10.0
open_to_m = 1.0"#;
    let cases: [(&str, &[&str]); 3] = [
        (
            "gauge = \"reservoir\"",
            &["detention_areas[0].trigger_level_m", "both"],
        ),
        (
            "trigger_level_m = 101.0",
            &["detention_areas[0].gauge", "opens only by hand"],
        ),
        (
            "downstream_gauge = \"town\"",
            &["detention_areas[0].downstream_gauge", "`town`", "reservoir"],
        ),
    ];
    for (i, (extra, wants)) in cases.iter().enumerate() {
        let text = format!(
            "name = \"s\"\nduration_s = 60.0\noutput_interval_s = 30.0\n\n[[detention_areas]]\n{area}\n{extra}\n"
        );
        b.write(&format!("scenarios/bad{i}.toml"), &text);
        let out = b.path().join(format!("out{i}"));
        let err = basin::run(
            &b.path().join(format!("scenarios/bad{i}.toml")),
            &out,
            &RunOptions::default(),
            |_| {},
        )
        .expect_err("refused")
        .to_string();
        for w in *wants {
            assert!(err.contains(w), "case {i}: `{w}` not in: {err}");
        }
        assert!(!out.exists(), "nothing written");
    }
    // `compare` on a folder that holds no results names the file it needs.
    let err = basin::compare::compare(b.path(), b.path())
        .expect_err("no results")
        .to_string();
    assert!(
        err.contains("summary.json") && err.contains("rivertwin run"),
        "{err}"
    );
}
