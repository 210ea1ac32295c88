//! Hot start through the run engine and the state file: a bundled preset with rain, an
//! inflow and a breach that starts in the second half, run 0–T in one go and as 0–T/2
//! saved to NetCDF and continued to T, gives the same bytes in every result file, with
//! fv1 and with fv2.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use basin::{Basin, Resume, Run, Scenario};

fn preset() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../basins/jacksboro_valley/scenarios/storm_overtopping.toml")
}

fn new_run() -> Run {
    new_run_with(hydro::Scheme::Fv1)
}

fn new_run_with(scheme: hydro::Scheme) -> Run {
    let path = preset();
    let basin = Basin::load(&Scenario::basin_dir(&path).expect("in a basin")).expect("basin");
    let mut scenario = Scenario::load(&path, &basin).expect("scenario");
    scenario.file.solver.scheme = scheme;
    Run::new(Arc::new(basin), Arc::new(scenario)).expect("run")
}

fn run_until(run: &mut Run, t: f64) {
    while run.sim_time_s() < t {
        run.step(Some(t)).expect("step");
    }
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("read"),
            )
        })
        .filter(|(name, _)| name != "summary.json")
        .collect();
    out.sort();
    out
}

#[test]
fn two_halves_through_a_state_file_equal_one_run() {
    two_halves_equal_one_run(hydro::Scheme::Fv1);
}

#[test]
fn two_halves_equal_one_run_with_fv2() {
    two_halves_equal_one_run(hydro::Scheme::Fv2);
}

fn two_halves_equal_one_run(scheme: hydro::Scheme) {
    let new_run = || new_run_with(scheme);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut whole = new_run();
    let end = whole.duration_s();
    run_until(&mut whole, end);
    // Restart halfway, or halfway to the breach where it starts earlier (fv2's front
    // arrives sooner), so that the breach starts after the restart.
    let started = match whole.solver().breach_status(0) {
        Some(
            hydro::BreachStatus::Forming { started_s, .. }
            | hydro::BreachStatus::Complete { started_s },
        ) => started_s,
        other => panic!("the breach never started: {other:?}"),
    };
    // On an output time, where the whole run ended a step too.
    let every = whole.scenario().file.output_interval_s;
    let half = ((end / 2.0).min(started / 2.0) / every).floor() * every;
    assert!(half > 0.0);

    let mut first = new_run();
    run_until(&mut first, half);
    assert!(
        matches!(
            first.solver().breach_status(0),
            Some(hydro::BreachStatus::Waiting)
        ),
        "the breach starts after the restart"
    );
    let state = dir.path().join("half.nc");
    first.save_state(&state).expect("saved");
    let mut second = new_run();
    second
        .restore_state(&state, Resume::Continue)
        .expect("restored");
    assert_eq!(second.sim_time_s(), half);
    run_until(&mut second, end);
    assert!(
        !matches!(
            second.solver().breach_status(0),
            Some(hydro::BreachStatus::Waiting)
        ),
        "the breach started after the restart"
    );

    assert!(whole.solver().state().same_bits(&second.solver().state()));
    assert_eq!(whole.gauges(), second.gauges());
    assert_eq!(whole.watch(), second.watch());
    assert!(
        whole.watch().events.len() >= 4,
        "the thresholds of both gauges were crossed: {:?}",
        whole.watch().events
    );
    let (a, b) = (dir.path().join("whole"), dir.path().join("halves"));
    for (run, out) in [(&whole, &a), (&second, &b)] {
        std::fs::create_dir(out).expect("mkdir");
        run.write_results(out, 1.0, "complete", 1).expect("written");
    }
    let (fa, fb) = (files(&a), files(&b));
    assert_eq!(
        fa.len(),
        17,
        "7 layers, their 7 styles, the classes' .aux.xml, gauges.csv, warnings.csv"
    );
    for ((name_a, bytes_a), (name_b, bytes_b)) in fa.iter().zip(&fb) {
        assert_eq!(name_a, name_b);
        assert!(bytes_a == bytes_b, "{name_a} differs");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b.join("summary.json")).expect("summary"))
            .expect("json");
    assert_eq!(summary["resumed_from"]["sim_time_s"], half);
}

#[test]
fn a_state_from_elsewhere_is_refused_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut run = new_run();
    run_until(&mut run, 600.0);
    let state = dir.path().join("s.nc");
    run.save_state(&state).expect("saved");

    // Another basin.
    let merewether = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../basins/merewether/scenarios/recorded_inflow.toml");
    let basin = Basin::load(&Scenario::basin_dir(&merewether).expect("dir")).expect("basin");
    let scenario = Scenario::load(&merewether, &basin).expect("scenario");
    let mut other = Run::new(Arc::new(basin), Arc::new(scenario)).expect("run");
    let err = other
        .restore_state(&state, Resume::Continue)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("rivertwin_basin") && err.contains("Jacksboro valley"),
        "{err}"
    );

    // A truncated file.
    let bytes = std::fs::read(&state).expect("read");
    let cut = dir.path().join("cut.nc");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let err = new_run()
        .restore_state(&cut, Resume::Continue)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("cut.nc") && err.contains("save it again"),
        "{err}"
    );

    // Not a state at all (a GeoTIFF).
    let dem =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../basins/jacksboro_valley/dem.tif");
    let err = new_run()
        .restore_state(&dem, Resume::Continue)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("not a rivertwin state"), "{err}");

    // A missing file, and one past the scenario's end.
    let err = new_run()
        .restore_state(&dir.path().join("none.nc"), Resume::Continue)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("none.nc") && err.contains("no such file"),
        "{err}"
    );
}

/// A state file of format version 1 (every spell under water in `duration_inundated_s`, no
/// `flooded_since_s`) still continues: its spells read as ended at its time, and the cells
/// still under start a new one there. Made here from a version 2 file by rewriting it
/// the way version 1 wrote it.
#[test]
fn a_version_1_state_continues() {
    use basin::netcdf::{NcReader, NcWriter};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut whole = new_run();
    let end = whole.duration_s();
    run_until(&mut whole, end);

    let half = 1800.0;
    let mut first = new_run();
    run_until(&mut first, half);
    let v2 = dir.path().join("v2.nc");
    first.save_state(&v2).expect("saved");
    let under_at_half = first
        .solver()
        .state()
        .envelopes
        .expect("tracked")
        .flooded_since_s
        .iter()
        .filter(|t| !t.is_nan())
        .count();
    assert!(under_at_half > 0, "cells are under water at the split");

    let v1 = dir.path().join("v1.nc");
    let nc = NcReader::open(&v2).expect("open");
    let basin = first.basin();
    let mut out = NcWriter::create(&v1, basin.grid(), &basin.dem.crs_wkt).expect("create");
    for key in [
        "Conventions",
        "source",
        "title",
        "rivertwin_format",
        "rivertwin_version",
        "rivertwin_basin",
        "rivertwin_scenario",
        "rivertwin_sim_time_s",
        "rivertwin_state",
    ] {
        out.attribute(key, &nc.attribute(key).expect("attribute"))
            .expect("attribute");
    }
    out.attribute("rivertwin_format_version", "1")
        .expect("version");
    let durations = first.envelopes().duration_inundated_s.to_owned();
    for name in [
        "depth_m",
        "qx_m2_s",
        "qy_m2_s",
        "bed_m",
        "infiltrated_m",
        "max_depth_m",
        "max_speed_m_s",
        "max_depth_speed_m2_s",
        "max_hazard",
        "first_inundation_s",
    ] {
        if let Some((_, _, values)) = nc.variable(name).expect("variable") {
            out.variable(name, &values, "", "").expect("variable");
        }
    }
    let durations = durations.as_standard_layout();
    out.variable(
        "duration_inundated_s",
        durations.as_slice().expect("contiguous"),
        "s",
        "",
    )
    .expect("variable");
    out.close().expect("closed");
    drop(nc);

    let mut second = new_run();
    second
        .restore_state(&v1, Resume::Continue)
        .expect("a version 1 file is read");
    run_until(&mut second, end);
    // The water and the maxima are the same bits; the durations differ by rounding only
    // (a spell's length is a difference of two times, each a sum of the steps before).
    let (a, b) = (whole.solver().state(), second.solver().state());
    assert_eq!(a.depth_m, b.depth_m);
    let (ea, eb) = (whole.envelopes(), second.envelopes());
    assert_eq!(ea.max_depth_m, eb.max_depth_m);
    assert_eq!(ea.max_hazard, eb.max_hazard);
    let (da, db) = (
        ea.duration_inundated_s.to_owned(),
        eb.duration_inundated_s.to_owned(),
    );
    let worst = da
        .iter()
        .zip(&db)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    // At most a rounding of the run's time per step.
    let tol = 4.0 * whole.solver().steps() as f64 * f64::EPSILON * end;
    assert!(
        worst <= tol,
        "durations differ by {worst:e} s (allowed {tol:e})"
    );
    assert!(
        da.iter().any(|&d| d > half),
        "some cells were under for more than half"
    );
}

/// A run that is its basin's only holder gives back the basin's initial depth, and runs
/// on to the same state as one that keeps it; starting it again is then refused with an
/// error naming the basin's file. A run whose basin is shared keeps it.
#[test]
fn a_run_gives_back_the_initial_depth_only_where_no_one_else_holds_the_basin() {
    let mut kept = new_run();
    let mut given = new_run();
    assert!(given.give_back_initial_depth());
    assert!(given.basin().initial_depth_m.is_none());
    assert!(kept.basin().initial_depth_m.is_some());
    run_until(&mut kept, 120.0);
    run_until(&mut given, 120.0);
    let bits = |r: &Run| r.solver().depth_m().mapv(f64::to_bits);
    assert!(bits(&kept).iter().any(|&b| f64::from_bits(b) > 0.0));
    assert_eq!(bits(&kept), bits(&given));
    let err = given.reset().expect_err("refused").to_string();
    assert!(
        err.contains("basin.toml") && err.contains("initial_water"),
        "{err}"
    );

    let path = preset();
    let basin =
        Arc::new(Basin::load(&Scenario::basin_dir(&path).expect("in a basin")).expect("basin"));
    let scenario = Arc::new(Scenario::load(&path, &basin).expect("scenario"));
    let mut shared = Run::new(Arc::clone(&basin), scenario).expect("run");
    assert!(!shared.give_back_initial_depth());
    assert!(shared.basin().initial_depth_m.is_some());
    shared.reset().expect("starts again");
}
