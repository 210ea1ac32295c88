//! The forecast loop: a scenario fed by observations that arrive in chunks, each chunk a
//! forecast from the state at the previous chunk's last observation. Three chunks reach
//! the same state at the last observation as one run over the whole observed series, and
//! the forecast from there equals a plain run with the same forecast tail.

mod common;

use std::io::Write;
use std::path::Path;

use basin::runner::STATE_AT_LAST_OBSERVATION;
use basin::{Basin, RunOptions};
use common::TestBasin;

/// The inflow observed every 30 s: 5 m³/s rising to 50 at 300 s and back to 5 at 600 s.
fn observed(t: f64) -> f64 {
    if t <= 300.0 {
        5.0 + 45.0 * t / 300.0
    } else {
        50.0 - 45.0 * (t - 300.0) / 300.0
    }
}

const FORECAST: &str = "time_s,q\n600,5\n660,2\n900,2\n";

fn forecast_scenario(series: &str) -> String {
    common::SCENARIO_TOML
        .replace(
            "discharge_m3_s = [[0, 5], [300, 50], [600, 5]]",
            &format!("discharge_m3_s = {series}"),
        )
        .replace("duration_s = 600.0", "duration_s = 660.0")
}

fn append_observations(b: &TestBasin, from: usize, to: usize) {
    let path = b.path().join("scenarios/obs.csv");
    let new = !path.exists();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .expect("obs.csv");
    if new {
        writeln!(f, "time_s,discharge_m3_s").expect("write");
    }
    for k in from..=to {
        let t = k as f64 * 30.0;
        writeln!(f, "{t},{}", observed(t)).expect("write");
    }
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn chunks_of_observations_reach_the_state_of_one_run_and_forecast_like_a_plain_run() {
    let b = TestBasin::new();
    b.write(
        "scenarios/live.toml",
        &forecast_scenario(r#"{ observed = "obs.csv", forecast = "forecast.csv" }"#),
    );
    b.write("scenarios/forecast.csv", FORECAST);
    let live = b.path().join("scenarios/live.toml");
    let results = b.path().join("results");
    std::fs::create_dir(&results).expect("mkdir");

    // Three chunks, each ending on an output time (0–180 s, 210–360 s, 390–600 s).
    let mut state = None;
    for (i, (from, to, lead)) in [(0, 6, 120.0), (7, 12, 120.0), (13, 20, 60.0)]
        .into_iter()
        .enumerate()
    {
        append_observations(&b, from, to);
        let out = results.join(format!("cycle{i}"));
        let options = RunOptions {
            from_state: state.clone(),
            ..RunOptions::default()
        };
        let s = basin::runner::forecast(&live, &out, &options, lead, |_| {}).expect("forecast");
        let t_obs = to as f64 * 30.0;
        let f = summary(&out);
        assert_eq!(f["forecast"]["issued_at_s"], t_obs);
        assert_eq!(f["forecast"]["lead_s"], lead);
        assert_eq!(s.sim_time_s, t_obs + lead);
        assert_eq!(f["warnings"]["issue_time_s"], t_obs);
        state = Some(out.join(STATE_AT_LAST_OBSERVATION));
    }

    // One plain run over the whole series with the same tail, saving its state at 600 s.
    let mut full = String::from("time_s,q\n");
    for k in 0..=20 {
        let t = k as f64 * 30.0;
        full += &format!("{t},{}\n", observed(t));
    }
    full += "660,2\n900,2\n";
    b.write("scenarios/full.csv", &full);
    b.write(
        "scenarios/plain.toml",
        &forecast_scenario(r#"{ csv = "full.csv" }"#),
    );
    let plain = results.join("plain");
    let options = RunOptions {
        save_state_at: vec![600.0],
        ..RunOptions::default()
    };
    basin::run(
        &b.path().join("scenarios/plain.toml"),
        &plain,
        &options,
        |_| {},
    )
    .expect("plain");

    let basin = Basin::load(b.path()).expect("basin");
    let chunked =
        basin::hotstart::read_state(&state.expect("three cycles"), &basin).expect("state");
    let one = basin::hotstart::read_state(&plain.join("state_600s.nc"), &basin).expect("state");
    assert!(
        chunked.solver.same_bits(&one.solver),
        "the state at the last observation differs"
    );
    // The forecast from there: the same water and envelopes as the plain run.
    for name in [
        "final_depth_m.tif",
        "max_depth_m.tif",
        "first_inundation_s.tif",
    ] {
        let a = std::fs::read(results.join("cycle2").join(name)).expect("read");
        let p = std::fs::read(plain.join(name)).expect("read");
        assert!(
            a == p,
            "{name} differs between the forecast and the plain run"
        );
    }
}

#[test]
fn bad_observations_are_named_with_their_line() {
    let b = TestBasin::new();
    b.write(
        "scenarios/live.toml",
        &forecast_scenario(r#"{ observed = "obs.csv" }"#),
    );
    let live = b.path().join("scenarios/live.toml");
    let cases = [
        (
            "time_s,q\n0,5\n30,6\n20,7\n",
            vec!["line 4", "goes back in time"],
        ),
        (
            "time_s,q\n0,5\n30,6\n60,7\n90,7\n600,7\n",
            vec!["line 6", "gap", "90 s to 600 s"],
        ),
        ("time_s,q\n0,5\n30,six\n", vec!["line 3", "not two numbers"]),
        ("time_s,q\n", vec!["holds no observation"]),
    ];
    for (i, (csv, expect)) in cases.into_iter().enumerate() {
        b.write("scenarios/obs.csv", csv);
        let err = basin::runner::forecast(
            &live,
            &b.path().join(format!("out{i}")),
            &RunOptions::default(),
            60.0,
            |_| {},
        )
        .expect_err("refused")
        .to_string();
        for part in expect {
            assert!(err.contains(part), "`{part}` not in: {err}");
        }
        assert!(
            !b.path().join(format!("out{i}")).exists(),
            "nothing written"
        );
    }
    // A forecast of a scenario without observed series is refused too.
    let err = basin::runner::forecast(
        &b.scenario(),
        &b.path().join("out9"),
        &RunOptions::default(),
        60.0,
        |_| {},
    )
    .expect_err("refused")
    .to_string();
    assert!(err.contains("observations"), "{err}");
}

/// `watch`: a cycle for each chunk appended, each hot-started from the previous cycle's
/// state; a bad row is reported and waited on without losing the cycles done; the last
/// cycle's state equals a forecast over the whole feed at once; a watch started again
/// on the folder goes on from its last cycle.
#[test]
fn watch_runs_a_cycle_per_chunk_and_survives_a_bad_row() {
    use basin::watch::{CYCLES_CSV, Cycle, WatchOptions, watch};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    let b = TestBasin::new();
    b.write(
        "scenarios/live.toml",
        &forecast_scenario(r#"{ observed = "obs.csv", forecast = "forecast.csv" }"#),
    );
    b.write("scenarios/forecast.csv", FORECAST);
    let live = b.path().join("scenarios/live.toml");
    let folder = b.path().join("watch");
    let notes = Arc::new(Mutex::new(Vec::<String>::new()));
    let options = |cancel: Arc<AtomicBool>, max: Option<usize>| WatchOptions {
        lead_s: 60.0,
        poll: Duration::from_millis(20),
        max_cycles: max,
        run: RunOptions {
            cancel,
            log: basin::runner::Log::new({
                let notes = notes.clone();
                move |n| notes.lock().expect("lock").push(n.to_string())
            }),
            ..RunOptions::default()
        },
    };
    append_observations(&b, 0, 6);
    let (tx, rx) = mpsc::channel::<Cycle>();
    let watcher = {
        let (live, folder, options) = (
            live.clone(),
            folder.clone(),
            options(Arc::default(), Some(3)),
        );
        std::thread::spawn(move || {
            watch(&live, &folder, &options, |c| {
                tx.send(c.clone()).expect("send")
            })
        })
    };
    let wait = || rx.recv_timeout(Duration::from_secs(300)).expect("a cycle");
    let first = wait();
    assert_eq!(first.last_observation_s, 180.0);

    // A row going back in time: reported, no cycle.
    let obs = b.path().join("scenarios/obs.csv");
    let good = std::fs::read_to_string(&obs).expect("obs");
    std::fs::write(&obs, format!("{good}150,7\n")).expect("write");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !notes
        .lock()
        .expect("lock")
        .iter()
        .any(|n| n.contains("goes back in time"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the bad row was not reported"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(rx.try_recv().is_err(), "no cycle on a bad feed");
    // The feed mended and the next chunk: cycle 2, from cycle 1's state.
    std::fs::write(&obs, good).expect("write");
    append_observations(&b, 7, 12);
    let second = wait();
    assert_eq!(second.last_observation_s, 360.0);
    let resumed = second.summary.resumed_from.as_ref().expect("hot start");
    assert_eq!(resumed.state, first.folder.join(STATE_AT_LAST_OBSERVATION));
    assert_eq!(resumed.sim_time_s, 180.0);
    append_observations(&b, 13, 20);
    let third = wait();
    assert_eq!(third.last_observation_s, 600.0);
    let done = watcher.join().expect("thread").expect("watch");
    assert_eq!(done.len(), 3);
    let list = std::fs::read_to_string(folder.join(CYCLES_CSV)).expect("cycles.csv");
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.lines()
            .nth(3)
            .expect("line")
            .starts_with("3,cycle_0003,600,660,complete"),
        "{list}"
    );

    // A forecast over the whole feed at once reaches the same state at 600 s.
    let direct = b.path().join("direct");
    basin::runner::forecast(&live, &direct, &RunOptions::default(), 60.0, |_| {})
        .expect("forecast");
    let basin = Basin::load(b.path()).expect("basin");
    let watched =
        basin::hotstart::read_state(&third.folder.join(STATE_AT_LAST_OBSERVATION), &basin)
            .expect("state");
    let once = basin::hotstart::read_state(&direct.join(STATE_AT_LAST_OBSERVATION), &basin)
        .expect("state");
    assert!(
        watched.solver.same_bits(&once.solver),
        "watched state differs"
    );

    // Started again on the folder: it goes on from cycle 3 and runs nothing new.
    let cancel = Arc::new(AtomicBool::new(false));
    let stopper = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            cancel.store(true, Ordering::SeqCst);
        })
    };
    let again = watch(&live, &folder, &options(cancel, None), |_| {}).expect("watch");
    stopper.join().expect("thread");
    assert!(again.is_empty());
    assert!(
        notes
            .lock()
            .expect("lock")
            .iter()
            .any(|n| n.contains("going on from cycle 3")),
        "{:?}",
        notes.lock().expect("lock")
    );
}
