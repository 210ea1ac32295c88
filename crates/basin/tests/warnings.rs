//! Thresholds at gauges and watch areas: each crossing is a warning of the run engine at
//! the first step whose end state crosses, with its lead time from the issue time; the
//! runner writes them to `warnings.csv` and `summary.json`.

mod common;

use std::sync::Arc;

use basin::config::HazardMethod;
use basin::hazard::HazardTables;
use basin::warnings::{Direction, PlaceKind};
use basin::{Basin, BasinError, Event, Run, RunOptions, Scenario};
use common::{CELL, TestBasin, X0, Y0};

/// Two depth thresholds at the gauge below the dam (bed 101.0 m at row 15, column 30).
const THRESHOLDS: &str = r#"[[gauges]]
name = "downstream"
x = 500305.0
y = 4000145.0
thresholds = [
  { name = "wet road", depth_m = 0.05, severity = "advisory" },
  { name = "danger", level_m = 101.4, severity = "danger", hysteresis_m = 0.02 },
]
"#;

/// A GeoJSON feature: the rectangle over rows `r0..r1`, columns `c0..c1` of the test grid
/// (its edges half-way between cell centres), with `name`.
fn feature(name: &str, (r0, r1): (usize, usize), (c0, c1): (usize, usize)) -> String {
    let x = |c: usize| X0 + c as f64 * CELL;
    let y = |r: usize| Y0 - r as f64 * CELL;
    format!(
        r#"{{"type": "Feature", "properties": {{"name": "{name}"}},
   "geometry": {{"type": "Polygon", "coordinates": [[[{x0}, {y0}], [{x1}, {y0}], [{x1}, {y1}], [{x0}, {y1}], [{x0}, {y0}]]]}}}}"#,
        x0 = x(c0),
        x1 = x(c1),
        y0 = y(r0),
        y1 = y(r1),
    )
}

/// A GeoJSON file of `features` in EPSG `epsg`.
fn collection(epsg: u32, features: &[String]) -> String {
    format!(
        r#"{{"type": "FeatureCollection",
 "crs": {{"type": "name", "properties": {{"name": "urn:ogc:def:crs:EPSG::{epsg}"}}}},
 "features": [{}]}}"#,
        features.join(",\n")
    )
}

fn rectangle(name: &str, epsg: u32, rows: (usize, usize), cols: (usize, usize)) -> String {
    collection(epsg, &[feature(name, rows, cols)])
}

fn basin_with(extra_gauge: &str, areas: &str) -> TestBasin {
    let b = TestBasin::new();
    b.edit(
        "basin.toml",
        "[[gauges]]\nname = \"downstream\"\nx = 500305.0\ny = 4000145.0\n",
        extra_gauge,
    );
    let text = std::fs::read_to_string(b.path().join("basin.toml")).expect("read");
    b.write("basin.toml", &format!("{text}\n{areas}"));
    b
}

fn load(b: &TestBasin) -> Result<Run, BasinError> {
    let basin = Basin::load(b.path())?;
    let scenario = Scenario::load(&b.scenario(), &basin)?;
    Run::new(Arc::new(basin), Arc::new(scenario))
}

/// The state after every step (time, probe) and the warnings raised (index, step).
type Trace<T> = (Vec<(f64, T)>, Vec<(usize, usize)>);

/// Step a run to its end; returns the state after every step (time and `probe(run)`) and
/// the warning indices raised, with the step they came in.
fn run_through<T>(run: &mut Run, probe: impl Fn(&Run) -> T) -> Trace<T> {
    let mut states = vec![(run.sim_time_s(), probe(run))];
    let mut raised = Vec::new();
    while !run.is_finished() {
        let events = run.step(None).expect("step");
        states.push((run.sim_time_s(), probe(run)));
        for e in events {
            if let Event::Warning { index } = e {
                raised.push((index, states.len() - 1));
            }
        }
    }
    (states, raised)
}

#[test]
fn gauge_levels_are_crossed_when_the_gauge_crosses_them() {
    let b = basin_with(THRESHOLDS, "");
    let mut run = load(&b).expect("loads");
    let (row, col) = (15, 30);
    assert_eq!(
        (run.basin().gauges[1].row, run.basin().gauges[1].col),
        (row, col)
    );
    let bed = run.solver().bed_m()[(row, col)];
    assert!(
        (bed - 101.0).abs() < 1e-9,
        "the test valley's bed there: {bed}"
    );
    let (states, raised) = run_through(&mut run, |r| r.solver().depth_m()[(row, col)]);
    let events = &run.watch().events;
    assert_eq!(raised.len(), events.len(), "every warning came as an event");

    // Expected crossings, from the depth after every step with the documented rule:
    // up at the first step at or above the threshold, down at the first step below it by
    // the hysteresis (0.01 m by default, 0.02 m for "danger").
    let rules = [
        ("wet road", false, 0.05, 0.01),
        ("danger", true, 101.4, 0.02),
    ];
    let mut expected = Vec::new();
    for (name, on_level, limit, hysteresis) in rules {
        let mut on = false;
        for (i, (t, d)) in states.iter().enumerate() {
            let compared = if on_level { bed + d } else { *d };
            if !on && compared >= limit {
                on = true;
                expected.push((i, *t, name, Direction::Up));
            } else if on && compared < limit - hysteresis {
                on = false;
                expected.push((i, *t, name, Direction::Down));
            }
        }
    }
    expected.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(b.2)));
    let mut got: Vec<_> = raised
        .iter()
        .map(|&(index, step)| {
            let w = &events[index];
            (step, w.time_s, w.threshold.as_str(), w.direction)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(b.2)));
    assert_eq!(got, expected);

    // The flood below the dam rises through both levels, the lower one first.
    let up = |name: &str| {
        events
            .iter()
            .find(|w| w.threshold == name && w.direction == Direction::Up)
            .unwrap_or_else(|| panic!("{name} was never reached: {events:?}"))
    };
    let (wet, danger) = (up("wet road"), up("danger"));
    assert!(wet.time_s > 60.0, "dry until the breach at 60 s: {wet:?}");
    assert!(wet.time_s < danger.time_s);
    for w in events {
        assert_eq!(w.kind, PlaceKind::Gauge);
        assert_eq!(w.place, "downstream");
        assert_eq!(w.lead_time_s, w.time_s - run.watch().issue_time_s);
    }
    assert_eq!(danger.quantity, "level_m");
    assert!(danger.value >= 101.4 && danger.threshold_value == 101.4);
}

#[test]
fn a_watch_area_fires_when_its_rule_holds_and_not_before() {
    // Rows 10–19, columns 32–35 (40 cells) below the dam; a second area on the reservoir
    // is under water from the start: it fires at the issue time with a lead time of 0.
    let b = basin_with(
        "[[gauges]]\nname = \"downstream\"\nx = 500305.0\ny = 4000145.0\n",
        r#"[[watch_areas]]
name = "farm"
file = "places.geojson"
feature = "farm"
depth_above_m = 0.1
min_cells = 3
severity = "warning"

[[watch_areas]]
name = "yard"
file = "places.geojson"
feature = "yard"
hazard_at_least = 2
"#,
    );
    let both = collection(
        32614,
        &[
            feature("farm", (10, 20), (32, 36)),
            feature("yard", (12, 18), (5, 9)),
        ],
    );
    b.write("places.geojson", &both);

    let mut run = load(&b).expect("loads");
    let areas = &run.basin().watch_areas;
    assert_eq!(areas[0].cells.len(), 40);
    assert!(
        areas[0]
            .cells
            .iter()
            .all(|&(r, c)| (10..20).contains(&r) && (32..36).contains(&c))
    );
    assert_eq!(areas[1].cells.len(), 24);
    let farm_cells = areas[0].cells.clone();
    let yard_cells = areas[1].cells.clone();
    let tables = HazardTables::bundled();
    let (states, _) = run_through(&mut run, |r| {
        let depth = r.solver().depth_m();
        let deeper = farm_cells.iter().filter(|&&c| depth[c] > 0.1).count();
        let hazardous = yard_cells
            .iter()
            .filter(|&&c| {
                let d = depth[c];
                let v = if d > r.solver().params().dry_depth_m {
                    r.solver().qx_m2_s()[c].hypot(r.solver().qy_m2_s()[c]) / d
                } else {
                    0.0
                };
                tables.classify(HazardMethod::Arr, d, v) >= 2
            })
            .count();
        (deeper, hazardous)
    });
    let events = &run.watch().events;
    let first = |place: &str| {
        events
            .iter()
            .find(|w| w.place == place && w.direction == Direction::Up)
            .unwrap_or_else(|| panic!("{place} never fired: {events:?}"))
    };
    // The farm: at the first step with ≥ 3 cells deeper than 0.1 m, never before.
    let fired = states
        .iter()
        .find(|(_, (n, _))| *n >= 3)
        .expect("the flood reaches the farm");
    let w = first("farm");
    assert_eq!(w.time_s, fired.0);
    assert!(w.time_s > 60.0);
    assert_eq!(w.cells, Some(fired.1.0));
    assert_eq!(w.kind, PlaceKind::WatchArea);
    assert_eq!(w.threshold, "depth > 0.1 m");
    // The yard: hazard H2 or worse from the start (1.4 m or more of reservoir water).
    let y = first("yard");
    assert!(states[0].1.1 >= 1, "the yard is under the reservoir");
    assert_eq!((y.time_s, y.lead_time_s), (0.0, 0.0));
    assert_eq!(y.cells, Some(states[0].1.1));
}

#[test]
fn the_runner_writes_warnings_csv_and_a_summary_section() {
    let b = basin_with(THRESHOLDS, "");
    let out = b.path().join("results");
    let notes = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = notes.clone();
    let options = RunOptions {
        log: basin::runner::Log::new(move |m| sink.lock().expect("lock").push(m.to_string())),
        ..RunOptions::default()
    };
    let summary = basin::run(&b.scenario(), &out, &options, |_| {}).expect("runs");
    let section = &summary.warnings;
    assert!(section.count >= 2, "{section:?}");
    let csv = std::fs::read_to_string(out.join("warnings.csv")).expect("csv");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some(
            "time_s,lead_time_s,kind,place,threshold,severity,direction,quantity,value,threshold_value,cells"
        )
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    assert_eq!(rows.len(), section.count);
    for (row, w) in rows.iter().zip(&section.events) {
        assert_eq!(row[0].parse::<f64>().expect("time"), w.time_s);
        assert_eq!(row[3], w.place);
        assert_eq!(row[4], w.threshold);
        assert_eq!(
            row[6],
            if w.direction == Direction::Up {
                "up"
            } else {
                "down"
            }
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("json"))
            .expect("parses");
    let first = &json["warnings"]["first_crossings"];
    assert_eq!(first[0]["threshold"], "wet road");
    assert_eq!(first[1]["threshold"], "danger");
    assert_eq!(first[1]["severity"], "danger");
    // Each crossing was also a note in the run's log, as it happened.
    let notes = notes.lock().expect("lock");
    assert_eq!(
        notes.iter().filter(|n| n.contains("`downstream`")).count(),
        section.count,
        "{notes:?}"
    );
}

/// Each mistake is named with its file, key and fix, and nothing runs.
#[test]
fn bad_thresholds_and_watch_areas_are_refused_clearly() {
    let area = |body: &str| format!("[[watch_areas]]\nname = \"farm\"\n{body}\n");
    let cases: Vec<(String, String, Option<String>, Vec<&str>)> = vec![
        (
            THRESHOLDS.replace("depth_m = 0.05", "depth_m = 0.05, level_m = 101.0"),
            String::new(),
            None,
            vec![
                "gauges.downstream.thresholds[0]",
                "exactly one of `level_m` and `depth_m`",
            ],
        ),
        (
            THRESHOLDS.replace("depth_m = 0.05", "depth_m = -1.0"),
            String::new(),
            None,
            vec!["gauges.downstream.thresholds[0]", "depth > 0 m"],
        ),
        (
            THRESHOLDS.replace("\"danger\", level", "\"wet road\", level"),
            String::new(),
            None,
            vec!["repeats the name `wet road`"],
        ),
        (
            String::new(),
            area("file = \"missing.geojson\"\ndepth_above_m = 0.1"),
            None,
            vec!["missing.geojson", "no such file"],
        ),
        (
            String::new(),
            area("file = \"places.geojson\"\ndepth_above_m = 0.1"),
            Some(rectangle("farm", 32615, (10, 20), (32, 36))),
            vec![
                "different coordinate systems",
                "EPSG:32615",
                "places.geojson",
            ],
        ),
        (
            String::new(),
            area("file = \"places.geojson\"\nfeature = \"barn\"\ndepth_above_m = 0.1"),
            Some(rectangle("farm", 32614, (10, 20), (32, 36))),
            vec!["no feature has name = `barn`", "holds: farm"],
        ),
        (
            String::new(),
            area("file = \"places.geojson\"\ndepth_above_m = 0.1"),
            Some(rectangle("farm", 32614, (100, 120), (32, 36))),
            vec!["watch_areas.farm", "covers no data cell"],
        ),
        (
            String::new(),
            area("file = \"places.geojson\"\ndepth_above_m = 0.1\nhazard_at_least = 3"),
            Some(rectangle("farm", 32614, (10, 20), (32, 36))),
            vec!["watch_areas.farm", "exactly one rule"],
        ),
        (
            String::new(),
            area("file = \"places.geojson\"\nhazard_at_least = 7"),
            Some(rectangle("farm", 32614, (10, 20), (32, 36))),
            vec!["hazard_at_least = 7", "1 to 6"],
        ),
    ];
    for (gauge, areas, geojson, expect) in cases {
        let gauge = if gauge.is_empty() {
            "[[gauges]]\nname = \"downstream\"\nx = 500305.0\ny = 4000145.0\n".to_string()
        } else {
            gauge
        };
        let b = basin_with(&gauge, &areas);
        if let Some(g) = geojson {
            b.write("places.geojson", &g);
        }
        let err = Basin::load(b.path()).expect_err("refused").to_string();
        for part in expect {
            assert!(err.contains(part), "`{part}` not in: {err}");
        }
    }
}
