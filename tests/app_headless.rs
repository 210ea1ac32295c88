//! The app's plugins without a window or renderer (`MinimalPlugins`): loading a basin
//! builds the terrain, play / pause drive the solver worker, a breach changes the bed and
//! the terrain, an export writes the whole bundle, and a bad basin is reported, not a crash.
#![cfg(feature = "app")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::asset::AssetPlugin;
use bevy::prelude::*;
use bevy::state::app::StatesPlugin;
use rivertwin::app::session::{Action, Actions};
use rivertwin::app::twin::{Command, Speed};
use rivertwin::app::{Live, OpenOptions, Session, core_plugin};

fn basin(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("basins")
        .join(name)
}

fn app(basin: PathBuf, scenario: Option<&str>) -> App {
    let mut app = App::new();
    app.add_plugins((MinimalPlugins, AssetPlugin::default(), StatesPlugin));
    app.init_asset::<Mesh>()
        .init_asset::<StandardMaterial>()
        .init_asset::<Image>();
    app.insert_resource(OpenOptions {
        basin,
        scenario: scenario.map(str::to_owned),
        threads: 1,
        ..default()
    });
    app.add_plugins(core_plugin);
    app
}

/// Update until `done` holds, for at most `limit`.
fn update_until(app: &mut App, limit: Duration, what: &str, done: impl Fn(&mut World) -> bool) {
    let start = Instant::now();
    loop {
        app.update();
        if done(app.world_mut()) {
            return;
        }
        if start.elapsed() >= limit {
            let state = app.world().resource::<Live>().a.as_ref().map(|s| {
                format!(
                    "at {} s, running {}, finished {}, error {:?}, live {:?}, last log {:?}",
                    s.sim_time_s,
                    s.running,
                    s.finished,
                    s.error,
                    s.live,
                    s.log.iter().rev().take(6).collect::<Vec<_>>()
                )
            });
            panic!("timed out waiting for {what}; the worker's last snapshot: {state:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn sim_time(world: &World) -> Option<f64> {
    world.resource::<Live>().a.as_ref().map(|s| s.sim_time_s)
}

fn push(app: &mut App, a: Action) {
    app.world_mut().resource_mut::<Actions>().push(a);
}

/// Pause, and wait for the worker to say it is paused.
fn pause(app: &mut App) {
    push(app, Action::Pause);
    update_until(app, Duration::from_secs(60), "the worker to pause", |w| {
        w.resource::<Live>().a.as_ref().is_some_and(|s| !s.running)
    });
}

fn loaded(app: &mut App) {
    update_until(app, Duration::from_secs(60), "the basin to load", |w| {
        let s = w.resource::<Session>();
        assert!(s.error.is_none(), "loading failed: {:?}", s.error);
        sim_time(w).is_some()
    });
}

fn terrain_positions(world: &mut World) -> Vec<[f32; 3]> {
    let handle = world
        .query_filtered::<&Mesh3d, With<rivertwin::app::terrain::Terrain>>()
        .single(world)
        .expect("one terrain entity")
        .0
        .clone();
    let meshes = world.resource::<Assets<Mesh>>();
    let mesh = meshes.get(&handle).expect("terrain mesh");
    match mesh.attribute(Mesh::ATTRIBUTE_POSITION) {
        Some(bevy::mesh::VertexAttributeValues::Float32x3(p)) => p.clone(),
        other => panic!("terrain positions missing: {other:?}"),
    }
}

#[test]
fn loading_a_basin_creates_terrain_water_and_gauges() {
    let mut app = app(basin("jacksboro_valley"), None);
    loaded(&mut app);
    update_until(&mut app, Duration::from_secs(10), "the meshes", |w| {
        w.query_filtered::<(), With<rivertwin::app::water::Water>>()
            .iter(w)
            .count()
            == 1
    });
    let world = app.world_mut();
    let (vr, vc, rows, cols) = {
        let s = world.resource::<Session>();
        let g = s.grid.as_ref().expect("view grid");
        assert_eq!(s.scenario, "upstream_flood", "the basin's default scenario");
        (g.vertex_rows, g.vertex_cols, g.rows, g.cols)
    };
    // This basin is small: one vertex per cell.
    assert_eq!((vr, vc), (rows, cols));
    assert_eq!(terrain_positions(world).len(), rows * cols);
    let gauges = world
        .query::<&rivertwin::app::markers::GaugeMarker>()
        .iter(world)
        .count();
    let expected = world
        .resource::<Session>()
        .basin
        .as_ref()
        .expect("basin")
        .gauges
        .len();
    assert!(expected > 0);
    assert_eq!(gauges, expected);
}

#[test]
fn play_advances_the_simulation_and_pause_stops_it() {
    let mut app = app(basin("jacksboro_valley"), Some("upstream_flood"));
    loaded(&mut app);
    assert_eq!(sim_time(app.world()), Some(0.0));
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    update_until(
        &mut app,
        Duration::from_secs(60),
        "sim time to pass 600 s",
        |w| sim_time(w).is_some_and(|t| t > 600.0),
    );
    pause(&mut app);
    let paused_at = sim_time(app.world()).expect("snapshot");
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(20));
        app.update();
    }
    assert_eq!(
        sim_time(app.world()),
        Some(paused_at),
        "time moved while paused"
    );
    // One step moves it by one time step, no more.
    push(&mut app, Action::Twin(Command::Step));
    update_until(&mut app, Duration::from_secs(10), "one step", |w| {
        sim_time(w).is_some_and(|t| t > paused_at)
    });
    let stepped = sim_time(app.world()).expect("snapshot");
    assert!(
        stepped - paused_at < 30.0,
        "a single step jumped {} s",
        stepped - paused_at
    );
    let s = app.world().resource::<Live>().a.clone().expect("snapshot");
    assert!(!s.running);
    assert!(s.balance.relative_error() < 1e-10, "{:?}", s.balance);
}

#[test]
fn triggering_a_breach_lowers_the_bed_and_the_terrain() {
    let mut app = app(basin("jacksboro_valley"), Some("dam_break"));
    loaded(&mut app);
    let (cells, final_bed) = {
        let s = app.world().resource::<Session>();
        let b = &s.twin.as_ref().expect("twin").scenario.breaches[0];
        (b.cells.clone(), b.final_bed_m)
    };
    let crest_before: Vec<f32> = {
        let snap = app.world().resource::<Live>().a.clone().expect("snapshot");
        cells.iter().map(|&c| snap.bed_m[c]).collect()
    };
    let terrain_before = terrain_positions(app.world_mut());
    // The scenario would start it at 2700 s; trigger it now, at t = 0.
    push(&mut app, Action::Twin(Command::TriggerBreach(0)));
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    update_until(
        &mut app,
        Duration::from_secs(60),
        "the breach to complete",
        |w| {
            w.resource::<Live>().a.as_ref().is_some_and(|s| {
            matches!(s.breaches.first(), Some(hydro::BreachStatus::Complete { started_s }) if *started_s == 0.0)
        })
        },
    );
    push(&mut app, Action::Pause);
    // Let the terrain catch up with the last snapshot.
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(20));
        app.update();
    }
    let snap = app.world().resource::<Live>().a.clone().expect("snapshot");
    assert!(snap.bed_version > 0);
    for (&c, before) in cells.iter().zip(&crest_before) {
        assert!(
            f64::from(*before) > final_bed + 1.0,
            "crest {before} at {c:?}"
        );
        assert!(
            (f64::from(snap.bed_m[c]) - final_bed).abs() < 1e-3,
            "bed at {c:?} is {} after the breach, expected {final_bed}",
            snap.bed_m[c]
        );
    }
    let terrain_after = terrain_positions(app.world_mut());
    let cols = app
        .world()
        .resource::<Session>()
        .grid
        .as_ref()
        .expect("grid")
        .vertex_cols;
    let (r, c) = cells[0];
    let i = r * cols + c;
    assert!(
        terrain_after[i][1] < terrain_before[i][1] - 1.0,
        "terrain vertex at the breach did not drop: {} → {}",
        terrain_before[i][1],
        terrain_after[i][1]
    );
}

#[test]
fn export_writes_the_whole_bundle_and_refuses_an_existing_folder() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("snapshot");
    let mut app = app(basin("trinity_storm"), Some("design_storm"));
    loaded(&mut app);
    push(&mut app, Action::Twin(Command::SetRain(Some(240.0))));
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    // 240 mm/h for 600 s is 40 mm, more than the basin's 20 mm initial loss.
    update_until(&mut app, Duration::from_secs(60), "600 s", |w| {
        sim_time(w).is_some_and(|t| t > 600.0)
    });
    pause(&mut app);
    let t = sim_time(app.world()).expect("snapshot");
    push(
        &mut app,
        Action::Export {
            folder: folder.clone(),
            screenshot_png: None,
            view: serde_json::json!({ "layer": "Depth" }),
        },
    );
    update_until(&mut app, Duration::from_secs(60), "the export", |w| {
        w.resource::<Session>().last_export.is_some()
    });
    let report = app
        .world()
        .resource::<Session>()
        .last_export
        .clone()
        .expect("export")
        .expect("export succeeded");
    let mut expected: Vec<String> = basin::results::RESULT_LAYERS
        .iter()
        .map(|l| l.file_name())
        .collect();
    expected.extend(
        [
            "gauges.csv",
            "warnings.csv",
            "summary.json",
            "snapshot.json",
        ]
        .map(String::from),
    );
    assert_eq!(expected.len(), 11);
    for f in &expected {
        assert!(folder.join(f).is_file(), "{f} missing from the bundle");
        assert!(report.files.iter().any(|x| x == f), "{f} not reported");
    }
    // The rasters are real GeoTIFFs on the basin's grid.
    let raster =
        basin::raster::read_raster(&folder.join("max_depth_m.tif")).expect("GDAL reads it");
    let b = app
        .world()
        .resource::<Session>()
        .basin
        .clone()
        .expect("basin");
    assert_eq!(raster.data.dim(), b.bed_m.dim());
    assert!(
        raster.data.iter().any(|&d| d > 0.0),
        "no water in the max depth"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("snapshot.json")).expect("read"))
            .expect("json");
    assert_eq!(json["sim_time_s"].as_f64(), Some(t));
    assert_eq!(
        json["steering"]["rain_override_mm_per_h"].as_f64(),
        Some(240.0)
    );
    assert!(
        json["steering_log"].as_array().is_some_and(|l| l
            .iter()
            .any(|e| e["change"].as_str() == Some("rain set to 240.0 mm/h"))),
        "{json}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("summary.json")).expect("read"))
            .expect("json");
    assert_eq!(summary["sim_time_s"].as_f64(), Some(t));
    // A second export to the same folder is refused and leaves the first untouched.
    push(
        &mut app,
        Action::Export {
            folder: folder.clone(),
            screenshot_png: None,
            view: serde_json::Value::Null,
        },
    );
    update_until(&mut app, Duration::from_secs(30), "the refusal", |w| {
        matches!(w.resource::<Session>().last_export, Some(Err(_)))
    });
    let entries = std::fs::read_dir(dir.path()).expect("list").count();
    assert_eq!(entries, 1, "a temporary folder was left behind");
}

#[test]
fn a_bad_basin_is_reported_in_the_session_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("basin.toml"),
        "name = \"broken\"\ndem = \"missing.tif\"\nroughness = { constant = 0.035 }\n",
    )
    .expect("write");
    let mut app = app(dir.path().to_path_buf(), None);
    update_until(&mut app, Duration::from_secs(30), "the load error", |w| {
        w.resource::<Session>().error.is_some()
    });
    let s = app.world().resource::<Session>();
    let e = s.error.clone().expect("error");
    assert!(e.contains("missing.tif"), "{e}");
    assert!(s.twin.is_none());
}

#[test]
fn results_of_a_headless_run_load_as_comparison_b() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = dir.path().join("upstream");
    let scenario = basin("jacksboro_valley").join("scenarios/upstream_flood.toml");
    basin::run(&scenario, &results, &basin::RunOptions::default(), |_| {}).expect("headless run");
    let mut app = app(basin("jacksboro_valley"), Some("dam_break"));
    loaded(&mut app);
    push(&mut app, Action::CompareResults(results.clone()));
    update_until(&mut app, Duration::from_secs(30), "B to load", |w| {
        w.resource::<Live>().b.is_some()
    });
    let b = app.world().resource::<Live>().b.clone().expect("B");
    let raster = basin::raster::read_raster(&results.join("max_depth_m.tif")).expect("read");
    let peak = raster
        .data
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    assert!(peak > 1.0, "the upstream flood should leave water: {peak}");
    let b_peak = b.max_depth_m.iter().copied().fold(0.0f32, f32::max);
    assert!(
        (f64::from(b_peak) - peak).abs() < 1e-3 * peak,
        "{b_peak} vs {peak}"
    );
    assert_eq!(b.sim_time_s, 14400.0);
    let session = app.world().resource::<Session>();
    assert!(
        session
            .compare_label
            .as_deref()
            .is_some_and(|l| l.contains("upstream"))
    );
    // The view switches to the difference of the maxima.
    let view = app.world().resource::<rivertwin::app::ViewSettings>();
    assert_eq!(view.layer, rivertwin::app::palette::Layer::Difference);
    assert!(view.show_max);
    // A folder without results is refused with its name and the missing file.
    push(&mut app, Action::CompareResults(dir.path().join("nothing")));
    update_until(&mut app, Duration::from_secs(10), "the refusal", |w| {
        w.resource::<Session>().error.is_some()
    });
    let e = app
        .world()
        .resource::<Session>()
        .error
        .clone()
        .expect("error");
    assert!(
        e.contains("nothing") && e.contains("max_depth_m.tif"),
        "{e}"
    );
}

#[test]
fn a_second_scenario_runs_beside_the_first_for_the_difference_map() {
    let mut app = app(basin("jacksboro_valley"), Some("upstream_flood"));
    loaded(&mut app);
    push(&mut app, Action::Compare("dam_break".into()));
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    // B (the dam break) runs to its end by itself; A to past the breach.
    update_until(&mut app, Duration::from_secs(120), "both runs", |w| {
        let live = w.resource::<Live>();
        live.b.as_ref().is_some_and(|b| b.finished) && sim_time(w).is_some_and(|t| t > 5000.0)
    });
    push(&mut app, Action::Pause);
    {
        let mut view = app
            .world_mut()
            .resource_mut::<rivertwin::app::ViewSettings>();
        view.layer = rivertwin::app::palette::Layer::Difference;
        view.show_max = true;
    }
    update_until(
        &mut app,
        Duration::from_secs(10),
        "the difference map",
        |w| {
            w.get_resource::<rivertwin::app::water::WaterShown>()
                .is_some_and(|s| s.layer == rivertwin::app::palette::Layer::Difference)
        },
    );
    let shown = app
        .world()
        .resource::<rivertwin::app::water::WaterShown>()
        .clone();
    // The range is symmetric about zero and wide enough for the breach's extra water.
    assert_eq!(shown.range.min, -shown.range.max);
    assert!(shown.range.max >= 0.5, "{shown:?}");
    let (a, b) = {
        let live = app.world().resource::<Live>();
        (live.a.clone().expect("A"), live.b.clone().expect("B"))
    };
    // Below the dam, the dam break floods deeper than the upstream flood alone.
    let below = app
        .world()
        .resource::<Session>()
        .basin
        .as_ref()
        .expect("basin")
        .gauges
        .iter()
        .find(|g| g.name == "Below dam")
        .map(|g| (g.row, g.col))
        .expect("gauge below the dam");
    assert!(
        b.max_depth_m[below] > a.max_depth_m[below] + 0.5,
        "B {} vs A {}",
        b.max_depth_m[below],
        a.max_depth_m[below]
    );
    assert_eq!(
        app.world().resource::<Session>().compare_label.as_deref(),
        Some("scenario dam_break")
    );
}

#[test]
fn scrubbing_shows_a_stored_frame_and_max_shows_the_envelope() {
    use rivertwin::app::water::WaterShown;
    let mut app = app(basin("jacksboro_valley"), Some("upstream_flood"));
    loaded(&mut app);
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    update_until(
        &mut app,
        Duration::from_secs(60),
        "an hour and a half",
        |w| sim_time(w).is_some_and(|t| t > 5400.0),
    );
    pause(&mut app);
    let shown = |app: &mut App, what: &str, source: &'static str| -> WaterShown {
        update_until(app, Duration::from_secs(10), what, move |w| {
            w.get_resource::<WaterShown>()
                .is_some_and(|s| s.source.starts_with(source))
        });
        app.world().resource::<WaterShown>().clone()
    };
    let live = shown(&mut app, "the live view", "live");
    let frames = app
        .world()
        .resource::<Live>()
        .a
        .as_ref()
        .expect("snapshot")
        .history
        .len();
    // One frame per 300 s output interval, and the one at t = 0.
    assert!(frames >= 19, "{frames} stored frames");
    app.world_mut()
        .resource_mut::<rivertwin::app::ViewSettings>()
        .scrub = Some(0.0);
    let first = shown(&mut app, "the first frame", "stored frame at 0 s");
    // At t = 0 only the reservoir holds water; the flood has spread since.
    assert!(first.wet_vertices > 0);
    assert!(
        first.wet_vertices < live.wet_vertices,
        "{first:?} vs {live:?}"
    );
    {
        let mut view = app
            .world_mut()
            .resource_mut::<rivertwin::app::ViewSettings>();
        view.scrub = None;
        view.show_max = true;
    }
    let max = shown(&mut app, "the maxima", "max so far");
    assert!(max.wet_vertices >= live.wet_vertices, "{max:?} vs {live:?}");
}

/// A breach that opens at once (formation time 0) on its own clock trigger changes the
/// bed the view shows in the same step.
#[test]
fn an_instant_breach_shows_in_the_bed_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = basin("jacksboro_valley");
    let dst = dir.path().join("jacksboro_valley");
    std::fs::create_dir_all(dst.join("scenarios")).expect("folders");
    for f in ["basin.toml", "dem.tif", "reservoir_depth.tif"] {
        std::fs::copy(src.join(f), dst.join(f)).expect("copy");
    }
    for f in ["upstream_flood.toml", "dam_break.toml"] {
        std::fs::copy(src.join("scenarios").join(f), dst.join("scenarios").join(f)).expect("copy");
    }
    let scenario = dst.join("scenarios/dam_break.toml");
    let text = std::fs::read_to_string(&scenario).expect("read");
    let instant = text
        .replace("formation_time_s = 1200.0", "formation_time_s = 0.0")
        .replace("time_s = 2700.0", "time_s = 60.0");
    assert_ne!(instant, text, "the scenario file changed its wording");
    std::fs::write(&scenario, instant).expect("write");

    let mut app = app(dst, Some("dam_break"));
    loaded(&mut app);
    let (cells, final_bed) = {
        let s = app.world().resource::<Session>();
        let b = &s.twin.as_ref().expect("twin").scenario.breaches[0];
        (b.cells.clone(), b.final_bed_m)
    };
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Twin(Command::PauseAt(Some(120.0))));
    push(&mut app, Action::Play);
    update_until(&mut app, Duration::from_secs(60), "120 s", |w| {
        w.resource::<Live>()
            .a
            .as_ref()
            .is_some_and(|s| !s.running && s.sim_time_s >= 120.0)
    });
    let snap = app.world().resource::<Live>().a.clone().expect("snapshot");
    // The run stops exactly at the time asked for, not at the end of a compute slice.
    assert_eq!(snap.sim_time_s, 120.0);
    assert!(
        matches!(snap.breaches[0], hydro::BreachStatus::Complete { .. }),
        "{:?}",
        snap.breaches
    );
    assert!(snap.bed_version > 0, "the bed shown was never updated");
    for &c in &cells {
        assert!(
            (f64::from(snap.bed_m[c]) - final_bed).abs() < 1e-3,
            "bed {} at {c:?}",
            snap.bed_m[c]
        );
    }
}

/// The warnings panel lists the run engine's crossings, newest first, in their severity's
/// colour: Merewether's streets reach ARR H2 near the inlet within the first 12 s.
#[test]
fn the_warnings_panel_lists_a_crossing() {
    use rivertwin::app::warnings::{severity_colour, warning_rows};
    let mut app = app(basin("merewether"), Some("recorded_inflow"));
    loaded(&mut app);
    assert!(
        app.world()
            .resource::<Live>()
            .a
            .as_ref()
            .expect("snapshot")
            .watch
            .events
            .is_empty(),
        "nothing crossed at the start"
    );
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Play);
    update_until(&mut app, Duration::from_secs(120), "two warnings", |w| {
        w.resource::<Live>()
            .a
            .as_ref()
            .is_some_and(|s| s.watch.events.len() >= 2)
    });
    pause(&mut app);
    let s = app.world().resource::<Live>().a.clone().expect("snapshot");
    let rows = warning_rows(&s.watch);
    assert_eq!(rows.len(), s.watch.events.len());
    assert!(
        rows.windows(2).all(|w| w[0].time_s >= w[1].time_s),
        "newest first"
    );
    let first = rows.last().expect("a crossing");
    let event = &s.watch.events[0];
    assert!(
        first.text.contains("Streets unsafe for cars"),
        "{}",
        first.text
    );
    assert!(first.text.contains("reached hazard ≥ H2"), "{}", first.text);
    assert_eq!(first.colour, severity_colour(event.severity));
    assert!(event.time_s > 0.0 && event.time_s < 12.0, "{event:?}");
}

/// Live mode on Trinity's radar preset: with the first half hour of radar frames the run
/// follows them and issues a forecast at 1800 s; when the next half hour arrives, it goes
/// back to the state at 1800 s (the stored frames before it are kept) and follows on to
/// 3600 s.
#[test]
fn live_mode_advances_when_a_chunk_is_appended() {
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("trinity_storm");
    copy_dir(&basin("trinity_storm"), &copy);
    let radar = copy.join("scenarios/radar");
    let held = dir.path().join("held");
    std::fs::create_dir(&held).expect("mkdir");
    let mut frames: Vec<_> = std::fs::read_dir(&radar)
        .expect("radar")
        .map(|e| e.expect("entry").file_name())
        .collect();
    frames.sort();
    // Keep the frames of 0–1800 s; hold back the rest.
    for name in &frames[6..] {
        std::fs::rename(radar.join(name), held.join(name)).expect("hold back");
    }
    let mut app = app(copy.clone(), Some("radar_nowcast"));
    loaded(&mut app);
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Twin(Command::SetLive(true)));
    let live = |w: &mut World| w.resource::<Live>().a.as_ref().and_then(|s| s.live.clone());
    update_until(
        &mut app,
        Duration::from_secs(120),
        "the forecast at 1800 s",
        |w| live(w).is_some_and(|l| l.last_observation_s == Some(1800.0)),
    );
    let first = app.world().resource::<Live>().a.clone().expect("snapshot");
    assert!(first.sim_time_s >= 1800.0);
    assert_eq!(first.live.as_ref().expect("live").updates, 1);
    // The next half hour of radar frames arrives.
    for name in &frames[6..12] {
        std::fs::rename(held.join(name), radar.join(name)).expect("arrive");
    }
    update_until(
        &mut app,
        Duration::from_secs(120),
        "the forecast at 3600 s",
        |w| live(w).is_some_and(|l| l.last_observation_s == Some(3600.0)),
    );
    pause(&mut app);
    let s = app.world().resource::<Live>().a.clone().expect("snapshot");
    let l = s.live.clone().expect("live");
    // Two updates, or more if a poll caught the frames half-moved (each goes back to 1800 s).
    assert!(l.updates >= 2, "{l:?}");
    assert!(l.problem.is_none(), "{:?}", l.problem);
    assert!(s.sim_time_s >= 3600.0);
    // Frames stored before the first observation's end are kept, and the record goes
    // on without a gap: one frame per output (600 s) up to now.
    let times: Vec<f64> = s.history.iter().map(|f| f.sim_time_s).collect();
    assert!(
        times.contains(&1800.0) && times.contains(&3600.0),
        "{times:?}"
    );
    assert!(
        times.windows(2).all(|w| w[1] - w[0] <= 600.0 + 1e-9),
        "{times:?}"
    );
    // The forecast is issued at the last observation: the warnings' issue time.
    assert_eq!(s.watch.issue_time_s, 3600.0);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// The structures panel on Jacksboro's gated spillway: both structures listed, the gate
/// set by hand (logged, its rules left alone) and handed back.
#[test]
fn a_gate_can_be_operated_by_hand_and_handed_back() {
    use rivertwin::app::structures::structure_row;
    let mut app = app(basin("jacksboro_valley"), Some("gated_spillway"));
    loaded(&mut app);
    let snap = |app: &App| app.world().resource::<Live>().a.clone().expect("snapshot");
    let s = snap(&app);
    assert_eq!(s.structures.len(), 2);
    assert!(structure_row(&s.structures[0]).starts_with("Spillway gates (gate)"));
    assert!(structure_row(&s.structures[1]).starts_with("Bottom outlet (release)"));
    let setting = s.structures[0].setting;
    push(
        &mut app,
        Action::Twin(Command::OperateStructure {
            index: 0,
            setting: hydro::StructureSetting {
                target_opening_m: 4.0,
                ..setting
            },
        }),
    );
    push(&mut app, Action::Twin(Command::Step));
    update_until(&mut app, Duration::from_secs(30), "the gate by hand", |w| {
        w.resource::<Live>().a.as_ref().is_some_and(|s| {
            s.structures[0].setting.manual && s.structures[0].setting.target_opening_m == 4.0
        })
    });
    let s = snap(&app);
    let last = s.operations.last().expect("logged");
    assert!(
        last.action.starts_with("by hand: opening 4.00 m"),
        "{last:?}"
    );
    assert!(
        s.log
            .iter()
            .any(|e| e.change.contains("Spillway gates: by hand")),
        "{:?}",
        s.log
    );
    // At 368 m the rules would hold the gate at 2 m; by hand it keeps going to 4 m.
    push(
        &mut app,
        Action::Twin(Command::SetSpeed(Speed::AsFastAsPossible)),
    );
    push(&mut app, Action::Twin(Command::PauseAt(Some(600.0))));
    push(&mut app, Action::Play);
    update_until(&mut app, Duration::from_secs(60), "600 s", |w| {
        w.resource::<Live>()
            .a
            .as_ref()
            .is_some_and(|s| s.sim_time_s >= 600.0 && !s.running)
    });
    let s = snap(&app);
    assert_eq!(s.structures[0].setting.opening_m, 4.0);
    push(&mut app, Action::Twin(Command::HandBackStructure(0)));
    update_until(
        &mut app,
        Duration::from_secs(30),
        "the gate back to its rules",
        |w| {
            w.resource::<Live>()
                .a
                .as_ref()
                .is_some_and(|s| !s.structures[0].setting.manual)
        },
    );
}

/// A merged ensemble loads as layers: its first map (a probability) is shown with the
/// probability legend, water is drawn exactly where the probability is above 0, another
/// map can be picked; a folder without merged maps is refused with its name, and closing
/// the ensemble goes back to the depth layer.
#[test]
fn a_merged_ensemble_shows_as_layers() {
    use rivertwin::app::palette::Layer;
    use rivertwin::app::water::WaterShown;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("ensemble.toml");
    let scenario = basin("trinity_storm").join("scenarios/intense_burst.toml");
    std::fs::write(
        &file,
        format!(
            "base = \"{}\"\n[parameters]\nrain_scale = {{ values = [0.5, 1.0, 1.5] }}\n",
            scenario.display()
        ),
    )
    .expect("write");
    let plan = dir.path().join("plan");
    let e = basin::ensemble::Ensemble::load(&file).expect("ensemble");
    basin::ensemble::plan(&e, &plan).expect("plan");
    basin::ensemble::run(&plan, &basin::RunOptions::default(), 1, |_, _| {}).expect("run");
    basin::ensemble::merge(&plan, &[0.1, 0.5], &[0.5], false).expect("merge");

    let mut app = app(basin("trinity_storm"), Some("intense_burst"));
    loaded(&mut app);
    push(&mut app, Action::LoadEnsemble(plan.clone()));
    update_until(
        &mut app,
        Duration::from_secs(30),
        "the ensemble layer",
        |w| {
            w.get_resource::<WaterShown>()
                .is_some_and(|s| s.layer == Layer::EnsembleProbability)
        },
    );
    let session = app.world().resource::<Session>();
    let maps = session.ensemble.clone().expect("ensemble");
    assert_eq!(maps.members, Some(3));
    let titles: Vec<&str> = maps.maps.iter().map(|m| m.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "P(max depth > 0.1 m)",
            "P(max depth > 0.5 m)",
            "max depth, P50",
            "arrival time, P50"
        ]
    );
    let grid = session.grid.clone().expect("grid");
    let shown = app.world().resource::<WaterShown>().clone();
    assert_eq!((shown.range.min, shown.range.max), (0.0, 1.0));
    assert!(
        shown.source.contains("P(max depth > 0.1 m) of 3 members"),
        "{}",
        shown.source
    );
    // Water where the probability read from the GeoTIFF is above 0, and only there.
    let p = basin::raster::read_raster(&plan.join("merged/probability_depth_over_0.1m.tif"))
        .expect("map");
    let mut expected = 0;
    for vr in 0..grid.vertex_rows {
        for vc in 0..grid.vertex_cols {
            expected += usize::from(p.data[grid.cell_of_vertex(vr, vc)] > 0.0);
        }
    }
    assert!(expected > 0, "the storm floods somewhere");
    assert_eq!(shown.wet_vertices, expected);

    // Another map: the median of the maximum depth, in metres.
    {
        let mut view = app
            .world_mut()
            .resource_mut::<rivertwin::app::ViewSettings>();
        view.ensemble_map = 2;
        view.layer = Layer::EnsembleDepth;
    }
    update_until(
        &mut app,
        Duration::from_secs(30),
        "the depth quantile",
        |w| w.resource::<WaterShown>().layer == Layer::EnsembleDepth,
    );
    let shown = app.world().resource::<WaterShown>().clone();
    assert!(shown.source.contains("max depth, P50"), "{}", shown.source);
    let p50 = basin::raster::read_raster(&plan.join("merged/max_depth_m_p50.tif")).expect("map");
    let deepest = p50
        .data
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    assert!(
        shown.range.max as f64 >= deepest,
        "{:?} vs {deepest}",
        shown.range
    );

    // A folder without merged maps is refused by name; the ensemble stays.
    push(&mut app, Action::LoadEnsemble(dir.path().to_path_buf()));
    update_until(&mut app, Duration::from_secs(10), "the refusal", |w| {
        w.resource::<Session>().error.is_some()
    });
    let e = app
        .world()
        .resource::<Session>()
        .error
        .clone()
        .expect("error");
    assert!(
        e.contains("no merged maps") && e.contains("ensemble merge"),
        "{e}"
    );
    assert!(app.world().resource::<Session>().ensemble.is_some());

    push(&mut app, Action::CloseEnsemble);
    update_until(&mut app, Duration::from_secs(10), "the depth layer", |w| {
        w.resource::<Session>().ensemble.is_none()
            && w.resource::<WaterShown>().layer == Layer::Depth
    });
}

/// Opening a basin derives its drainage (the same as `rivertwin hydrology`); a click on
/// the terrain gives the catchment draining to that point (90 m cells: 0.0081 km² each).
#[test]
fn the_drainage_of_the_open_basin_and_a_clicked_catchment() {
    let mut app = app(basin("trinity_storm"), Some("design_storm"));
    loaded(&mut app);
    let b = app
        .world()
        .resource::<Session>()
        .basin
        .clone()
        .expect("basin");
    let reference = basin::hydrology::derive(&b, &basin::hydrology::HydrologyOptions::default())
        .expect("derived");
    let d = app
        .world()
        .resource::<Session>()
        .drainage
        .clone()
        .expect("drainage derived on opening");
    assert_eq!(d.drainage.accumulation_cells, reference.accumulation_cells);
    assert_eq!(d.outlines.len(), b.gauges.len());
    assert!(!d.reaches.is_empty());
    // A click on Middle's outlet cell: its catchment is Middle's.
    let middle = reference
        .catchments
        .iter()
        .find(|c| c.gauge == "Middle")
        .expect("Middle")
        .clone();
    app.world_mut()
        .resource_mut::<rivertwin::app::ViewSettings>()
        .probe = Some((middle.outlet_row, middle.outlet_col));
    update_until(
        &mut app,
        Duration::from_secs(10),
        "the clicked catchment",
        |w| w.resource::<Session>().clicked_catchment.is_some(),
    );
    let c = app
        .world()
        .resource::<Session>()
        .clicked_catchment
        .clone()
        .expect("catchment");
    // The click snaps to the highest accumulation within one cell (here the next cell
    // down the channel): its catchment is what drains through that cell, Middle's and a
    // little more.
    assert!(
        c.outlet.0.abs_diff(middle.outlet_row) <= 1 && c.outlet.1.abs_diff(middle.outlet_col) <= 1
    );
    assert_eq!(c.cells as u32, reference.accumulation_cells[c.outlet]);
    assert!(c.cells >= middle.cells);
    assert!((c.area_km2 - c.cells as f64 * 0.0081).abs() < 1e-9);
    // Its outline: one edge per side of a catchment cell facing a cell outside it.
    assert!(c.outline.len() >= 4 && c.outline.len() < 4 * c.cells);
    // The catchment is worked out off the render thread: probing two cells in quick
    // succession shows the last one's, never the first's after it.
    let upper = reference
        .catchments
        .iter()
        .find(|c| c.gauge != "Middle")
        .expect("another gauge")
        .clone();
    for cell in [
        (middle.outlet_row, middle.outlet_col + 1),
        (upper.outlet_row, upper.outlet_col),
    ] {
        app.world_mut()
            .resource_mut::<rivertwin::app::ViewSettings>()
            .probe = Some(cell);
        app.update();
    }
    let last = (upper.outlet_row, upper.outlet_col);
    update_until(
        &mut app,
        Duration::from_secs(10),
        "the last probed cell's catchment",
        |w| {
            w.resource::<Session>()
                .clicked_catchment
                .as_ref()
                .is_some_and(|c| c.cell == last)
        },
    );
    for _ in 0..5 {
        app.update();
    }
    let shown = app
        .world()
        .resource::<Session>()
        .clicked_catchment
        .clone()
        .expect("catchment");
    assert_eq!(shown.cell, last, "a stale catchment replaced the last one");
    assert_eq!(
        shown.cells as u32,
        reference.accumulation_cells[shown.outlet]
    );
}

/// The Soil layer colours the basin by its loss parameter: Trinity's uniform continuing
/// loss (3 mm/h) on every cell of the catchment, named in the legend's source.
#[test]
fn the_soil_layer_shows_the_basins_losses() {
    use rivertwin::app::palette::Layer;
    use rivertwin::app::water::WaterShown;
    let mut app = app(basin("trinity_storm"), Some("design_storm"));
    loaded(&mut app);
    let d = app
        .world()
        .resource::<Session>()
        .drainage
        .clone()
        .expect("drainage");
    let soil = d.soil.as_ref().expect("Trinity has [losses]");
    assert_eq!(soil.title, "continuing loss");
    let b = app
        .world()
        .resource::<Session>()
        .basin
        .clone()
        .expect("basin");
    for (cell, &a) in b.active.indexed_iter() {
        assert_eq!(soil.values[cell].is_finite(), a);
        if a {
            assert_eq!(soil.values[cell], 3.0);
        }
    }
    app.world_mut()
        .resource_mut::<rivertwin::app::ViewSettings>()
        .layer = Layer::Soil;
    update_until(&mut app, Duration::from_secs(10), "the soil layer", |w| {
        w.get_resource::<WaterShown>()
            .is_some_and(|s| s.layer == Layer::Soil)
    });
    let shown = app.world().resource::<WaterShown>().clone();
    assert_eq!(shown.source, "continuing loss (mm/h)");
    assert!(shown.wet_vertices > 0);
}
