//! Ensembles: a factorial plan has one member per combination and each member's
//! multipliers reach its run (the inflow volume scales with its inflow_scale); running
//! again runs only the members without a complete result, and a failing member is listed
//! while the others complete; a Latin hypercube puts one member in each stratum of each
//! range and is the same for the same seed; bad ensemble files are refused with the key
//! and the fix, with nothing written.

mod common;

use std::path::Path;

use basin::RunOptions;
use basin::ensemble::{Ensemble, is_complete, member_results, merge, plan, run};
use basin::raster::read_raster;
use common::TestBasin;

fn ensemble_file(b: &TestBasin, name: &str, body: &str) -> std::path::PathBuf {
    let path = b.path().join(name);
    let base = b.scenario();
    std::fs::write(
        &path,
        format!(
            "base = {}\n{body}",
            toml::Value::String(base.to_string_lossy().into_owned())
        ),
    )
    .expect("write");
    path
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).expect("summary"))
        .expect("json")
}

#[test]
fn a_factorial_plan_runs_each_member_with_its_multipliers_and_resumes() {
    let b = TestBasin::new();
    let path = ensemble_file(
        &b,
        "ensemble.toml",
        "[parameters]\ninflow_scale = { values = [0.5, 1.0, 2.0] }\nmanning_scale = { values = [1.0, 1.5] }\n",
    );
    // Warning levels at the gauge below the dam (dry at the start): one every member
    // reaches, one that depends on the member, one none reaches.
    b.edit(
        "basin.toml",
        "name = \"downstream\"\nx = 500305.0\ny = 4000145.0\n",
        "name = \"downstream\"\nx = 500305.0\ny = 4000145.0\nthresholds = [\n\
         { name = \"wet\", depth_m = 0.01, severity = \"advisory\" },\n\
         { name = \"deep\", depth_m = 2.3, severity = \"warning\" },\n\
         { name = \"never\", depth_m = 100.0, severity = \"danger\" },\n]\n",
    );
    let e = Ensemble::load(&path).expect("loads");
    let dir = b.path().join("plan");
    let manifest = plan(&e, &dir).expect("planned");
    assert_eq!(manifest.members.len(), 6, "3 × 2 combinations");
    // The last parameter in name order varies fastest.
    let combos: Vec<(f64, f64)> = manifest
        .members
        .iter()
        .map(|m| (m.parameters["inflow_scale"], m.parameters["manning_scale"]))
        .collect();
    assert_eq!(
        combos,
        [
            (0.5, 1.0),
            (0.5, 1.5),
            (1.0, 1.0),
            (1.0, 1.5),
            (2.0, 1.0),
            (2.0, 1.5)
        ]
    );
    assert!(dir.join("manifest.csv").is_file());

    // Three members at once, each on one thread.
    let one_thread = RunOptions {
        threads: 1,
        ..RunOptions::default()
    };
    let report = run(&dir, &one_thread, 3, |_, _| {}).expect("runs");
    assert_eq!(report.ran, (0..6).collect::<Vec<_>>());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    // Each member's inflow volume is its multiple of the 1.0 member's (same roughness),
    // to round-off: the multiplier reached the run through the member file.
    let inflow = |id: usize| {
        summary(&member_results(&dir, id))["water_balance"]["boundary_inflow_m3"]
            .as_f64()
            .expect("number")
    };
    for (id, reference, factor) in [(0, 2, 0.5), (4, 2, 2.0), (1, 3, 0.5), (5, 3, 2.0)] {
        let (got, want) = (inflow(id), factor * inflow(reference));
        assert!(
            (got - want).abs() < 1e-9 * want,
            "member {id}: {got} vs {want}"
        );
    }

    // Again: nothing to do. Then one member's result lost and one member file broken:
    // only those two run, the broken one is listed, the rest are kept.
    let again = run(&dir, &RunOptions::default(), 1, |_, _| {}).expect("runs");
    assert!(again.ran.is_empty() && again.skipped.len() == 6);
    std::fs::remove_dir_all(member_results(&dir, 1)).expect("remove");
    std::fs::remove_dir_all(member_results(&dir, 3)).expect("remove");
    std::fs::write(dir.join("members/member_0003.toml"), "extends = 7\n").expect("break");
    let third = run(&dir, &RunOptions::default(), 1, |_, _| {}).expect("runs");
    assert_eq!(third.ran, [1]);
    assert_eq!(third.skipped, [0, 2, 4, 5]);
    assert_eq!(third.failed.len(), 1);
    assert_eq!(third.failed[0].0, 3);
    assert!(
        third.failed[0].1.contains("extends"),
        "{}",
        third.failed[0].1
    );
    assert!(is_complete(&member_results(&dir, 1)));
    assert!(
        !member_results(&dir, 3).exists(),
        "nothing written for the failed member"
    );

    // Merging refuses the incomplete ensemble and names the member; --partial merges the
    // five that are complete.
    let err = merge(&dir, &[0.1, 0.5], &[0.1, 0.5, 0.9], false)
        .expect_err("incomplete")
        .to_string();
    assert!(
        err.contains("member_0003") && err.contains("--partial"),
        "{err}"
    );
    let merged = merge(&dir, &[0.1, 0.5], &[0.1, 0.5, 0.9], true).expect("merged");
    assert_eq!(merged.members, [0, 1, 2, 4, 5]);
    // Per cell, the probability is the share of members whose maximum depth exceeds the
    // threshold, k / 5, counted here from the members' own rasters.
    let depths: Vec<ndarray::Array2<f64>> = merged
        .members
        .iter()
        .map(|&id| {
            read_raster(&member_results(&dir, id).join("max_depth_m.tif"))
                .expect("member")
                .data
        })
        .collect();
    let mut partly = 0;
    for t in [0.1, 0.5] {
        let p = read_raster(&dir.join(format!("merged/probability_depth_over_{t}m.tif")))
            .expect("probability");
        for (c, &v) in p.data.indexed_iter() {
            if depths[0][c].is_nan() {
                assert!(v.is_nan());
                continue;
            }
            let k = depths.iter().filter(|d| d[c] > t).count();
            assert_eq!(v, (k as f64 / 5.0) as f32 as f64, "cell {c:?}, {t} m");
            partly += usize::from(k > 0 && k < 5);
        }
    }
    assert!(partly > 10, "cells flooded in some members only: {partly}");
    // The median maximum depth is the middle member's, cell by cell.
    let p50 = read_raster(&dir.join("merged/max_depth_m_p50.tif")).expect("p50");
    for (c, &v) in p50.data.indexed_iter() {
        if depths[0][c].is_nan() {
            continue;
        }
        let mut col: Vec<f64> = depths.iter().map(|d| d[c]).collect();
        col.sort_by(f64::total_cmp);
        assert_eq!(v, col[2], "cell {c:?}");
    }
    // Each map opens styled in QGIS: the probability from 0 to 1 in the app's legend.
    let qml =
        std::fs::read_to_string(dir.join("merged/probability_depth_over_0.1m.qml")).expect("style");
    for &[r, g, b] in basin::results::PROBABILITY_LEGEND.stops {
        assert!(qml.contains(&format!("#{r:02x}{g:02x}{b:02x}")), "{qml}");
    }
    assert!(qml.contains("maximumValue=\"1\""), "{qml}");
    assert!(dir.join("merged/max_depth_m_p50.qml").is_file());
    let peaks = std::fs::read_to_string(dir.join("merged/gauge_peaks.csv")).expect("csv");
    assert_eq!(peaks.lines().count(), 1 + 5);

    // Warnings: per threshold, the members whose peak depth at the gauge (followed every
    // step, like the thresholds) reached it; the median time of the first crossing from
    // the members' own warnings.csv, "never" counting as later than any time.
    let crossings = std::fs::read_to_string(dir.join("merged/warning_crossings.csv")).expect("csv");
    let rows: Vec<Vec<&str>> = crossings.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        rows[0],
        [
            "kind",
            "place",
            "threshold",
            "severity",
            "members_crossing",
            "probability",
            "first_crossing_s_p10",
            "first_crossing_s_p50",
            "first_crossing_s_p90"
        ]
    );
    let mut counts = Vec::new();
    for (name, depth) in [("wet", 0.01), ("deep", 2.3), ("never", 100.0)] {
        let row = rows
            .iter()
            .find(|r| r[1] == "downstream" && r[2] == name)
            .unwrap_or_else(|| panic!("{name} listed"));
        let mut times = Vec::new();
        let mut k = 0;
        for &id in &merged.members {
            let s = summary(&member_results(&dir, id));
            let g = s["gauges"]
                .as_array()
                .expect("gauges")
                .iter()
                .find(|g| g["name"] == "downstream")
                .expect("gauge");
            k += usize::from(g["peak_depth_m"].as_f64().expect("peak") >= depth);
            let log = std::fs::read_to_string(member_results(&dir, id).join("warnings.csv"))
                .expect("warnings.csv");
            let first = log
                .lines()
                .map(|l| l.split(',').collect::<Vec<_>>())
                .find(|f| f.len() > 6 && f[4] == name && f[6] == "up")
                .map(|f| f[0].parse::<f64>().expect("time"));
            times.push(first.unwrap_or(f64::INFINITY));
        }
        assert_eq!(row[4], k.to_string(), "{name}");
        assert_eq!(row[5].parse::<f64>().expect("p"), k as f64 / 5.0, "{name}");
        times.sort_by(f64::total_cmp);
        // Written to 0.1 s.
        if times[2].is_finite() {
            let got: f64 = row[7].parse().expect("a time");
            assert!(
                (got - times[2]).abs() <= 0.05,
                "{name}: {got} vs {}",
                times[2]
            );
        } else {
            assert_eq!(row[7], "", "{name}: never reached by the median member");
        }
        counts.push(k);
    }
    assert_eq!(counts[0], 5, "every member wets the gauge");
    assert!(
        counts[1] > 0 && counts[1] < 5,
        "`deep` in some members: {counts:?}"
    );
    assert_eq!(counts[2], 0);
    let long =
        std::fs::read_to_string(dir.join("merged/warning_first_crossings.csv")).expect("csv");
    assert_eq!(long.lines().count(), 1 + counts.iter().sum::<usize>());
}

#[test]
fn a_latin_hypercube_fills_every_stratum_once_and_repeats_for_its_seed() {
    let b = TestBasin::new();
    let body = |seed: u64| {
        format!(
            "sampling = \"latin_hypercube\"\nmembers = 8\nseed = {seed}\n\n[parameters]\nrain_scale = {{ min = 0.5, max = 1.5 }}\ninflow_scale = {{ min = 0.0, max = 4.0 }}\n"
        )
    };
    let load =
        |name: &str, seed| Ensemble::load(&ensemble_file(&b, name, &body(seed))).expect("loads");
    let (a, again, other) = (load("a.toml", 3), load("b.toml", 3), load("c.toml", 4));
    let members = a.members();
    assert_eq!(members.len(), 8);
    assert_eq!(members, again.members(), "same seed, same plan");
    assert_ne!(members, other.members(), "another seed, another plan");
    for (name, min, max) in [("rain_scale", 0.5, 1.5), ("inflow_scale", 0.0, 4.0)] {
        let mut strata: Vec<usize> = members
            .iter()
            .map(|m| ((m.parameters[name] - min) / (max - min) * 8.0).floor() as usize)
            .collect();
        strata.sort_unstable();
        assert_eq!(strata, (0..8).collect::<Vec<_>>(), "{name}");
    }
}

#[test]
fn bad_ensembles_are_refused_with_the_key_and_the_fix() {
    let b = TestBasin::new();
    for (i, (body, wants)) in [
        (
            "[parameters]\nroughness = { values = [1.0] }\n",
            &["parameters.roughness", "rain_scale, manning_scale, inflow_scale"][..],
        ),
        (
            "sampling = \"latin_hypercube\"\nmembers = 4\n[parameters]\nrain_scale = { min = 2.0, max = 1.0 }\n",
            &["parameters.rain_scale", "min ≤ max"][..],
        ),
        (
            "sampling = \"latin_hypercube\"\nmembers = 0\n[parameters]\nrain_scale = { min = 0.5, max = 1.0 }\n",
            &["members", "≥ 1"][..],
        ),
        (
            "[parameters]\nrain_scale = { min = 0.5, max = 1.0 }\n",
            &["parameters.rain_scale", "latin_hypercube"][..],
        ),
        (
            "colour = 3\n[parameters]\nrain_scale = { values = [1.0] }\n",
            &["unknown field `colour`"][..],
        ),
        (
            "[parameters]\nrain_scale = 3\n",
            &["parameters.rain_scale", "values = [a, b, …]"][..],
        ),
        (
            "sampling = \"latin_hypercube\"\nmembers = 4\n[parameters]\nrain_scale = { min = 0.5, max = 1.0, distribution = \"triangular\", mode = 2.0 }\n",
            &["parameters.rain_scale", "triangular also a mode between"][..],
        ),
        (
            "sampling = \"latin_hypercube\"\nmembers = 4\n[parameters]\nrain_scale = { min = 0.5, max = 1.0, distribution = \"normal\", mean = 0.8 }\n",
            &["parameters.rain_scale", "an sd > 0"][..],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = ensemble_file(&b, &format!("bad{i}.toml"), body);
        let err = Ensemble::load(&path).expect_err("refused").to_string();
        assert!(err.contains(&format!("bad{i}.toml")), "{err}");
        for w in wants {
            assert!(err.contains(w), "case {i}: `{w}` not in {err}");
        }
    }
    // An existing plan folder is not overwritten.
    let ok = ensemble_file(
        &b,
        "ok.toml",
        "[parameters]\nrain_scale = { values = [1.0] }\n",
    );
    let e = Ensemble::load(&ok).expect("loads");
    std::fs::create_dir(b.path().join("taken")).expect("mkdir");
    assert!(plan(&e, &b.path().join("taken")).is_err());
    assert_eq!(
        std::fs::read_dir(b.path().join("taken"))
            .expect("dir")
            .count(),
        0
    );
}

/// Any number of the base scenario is a parameter by its dotted path: each member's
/// scenario has the member's value there and the base's everywhere else, and
/// `initial_level_change_m` reaches the member's `[adjust]` beside the base's own.
#[test]
fn breach_settings_and_the_initial_level_are_parameters_by_path() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[[boundaries]]",
        "[adjust]\ninflow_scale = 0.5\n\n[[boundaries]]",
    );
    // A decimal setting written as an integer in the base keeps the member's fraction.
    b.edit("scenarios/breach.toml", "time_s = 60.0", "time_s = 60");
    let path = ensemble_file(
        &b,
        "ensemble.toml",
        "[parameters]\n\"breaches.0.trigger.time_s\" = { values = [30.5, 120.25] }\n\
         \"breaches.0.final_bed_m\" = { values = [100.0, 101.0] }\n\
         initial_level_change_m = { values = [-0.5, 0.5] }\n",
    );
    let e = Ensemble::load(&path).expect("loads");
    let dir = b.path().join("plan");
    let manifest = plan(&e, &dir).expect("planned");
    assert_eq!(manifest.members.len(), 8);
    let basin = basin::Basin::load(b.path()).expect("basin");
    for m in &manifest.members {
        let s = basin::Scenario::load(&dir.join(&m.scenario), &basin).expect("member loads");
        let breach = &s.breaches[0];
        assert_eq!(breach.final_bed_m, m.parameters["breaches.0.final_bed_m"]);
        assert!(
            matches!(breach.trigger, hydro::BreachTrigger::AtTime { time_s }
                if time_s == m.parameters["breaches.0.trigger.time_s"]),
            "{:?}",
            breach.trigger
        );
        // Kept from the base: the breach's other keys, the boundaries, its own `[adjust]`.
        assert_eq!(breach.formation_time_s, 60.0);
        assert_eq!(s.breaches.len(), 1);
        assert_eq!(s.file.boundaries.len(), 2);
        assert_eq!(s.file.adjust.inflow_scale, 0.5);
        assert_eq!(
            s.file.adjust.initial_level_change_m,
            m.parameters["initial_level_change_m"]
        );
    }

    // A path to nothing, to something not a number, or a range check of a multiplier.
    for (i, (body, wants)) in [
        (
            "[parameters]\n\"breaches.1.final_bed_m\" = { values = [100.0] }\n",
            &["parameters.breaches.1.final_bed_m", "names nothing in"][..],
        ),
        (
            "[parameters]\n\"breaches.0.trigger.kind\" = { values = [1.0] }\n",
            &["parameters.breaches.0.trigger.kind", "not a number"][..],
        ),
        (
            "[parameters]\n\"adjust.rain_scale\" = { values = [1.0] }\n",
            &["parameters.adjust.rain_scale", "rain_scale, manning_scale"][..],
        ),
        (
            "[parameters]\nrain_scale = { values = [-1.0] }\n",
            &["parameters.rain_scale", "≥ 0 (a multiplier)"][..],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let path = ensemble_file(&b, &format!("path{i}.toml"), body);
        let err = Ensemble::load(&path).expect_err("refused").to_string();
        for w in wants {
            assert!(err.contains(w), "case {i}: `{w}` not in {err}");
        }
    }
    // A level may go down: −0.5 is accepted, unlike a negative multiplier.
    let ok = ensemble_file(
        &b,
        "down.toml",
        "[parameters]\ninitial_level_change_m = { values = [-0.5] }\n",
    );
    Ensemble::load(&ok).expect("a lower level is a parameter");
}

/// The test valley's reservoir stands 1 m under the dam's crest in a valley that rises
/// away from the dam and towards both sides, so every cell behind the dam below a level
/// is connected to the reservoir: the moved water is max(level − bed, 0) there, nothing
/// past the dam (0.9 m up stays under the crest).
#[test]
fn the_initial_level_change_moves_the_reservoir_surface() {
    let b = TestBasin::new();
    let basin = basin::Basin::load(b.path()).expect("basin");
    let bed = common::bed();
    let crest = bed[(15, 20)];
    let before = basin.initial_depth().expect("kept").values().to_owned();
    for change in [0.5, -0.5, 0.9] {
        let depth = basin.initial_depth_with_level_change(change).expect("kept");
        let level = crest - 1.0 + change;
        let mut wet = 0;
        for ((r, c), &h) in depth.indexed_iter() {
            let expect = if c < 20 {
                (level - bed[(r, c)]).max(0.0)
            } else {
                0.0
            };
            // The depth raster is Float32: its depths carry f32 rounding of ~1e-5 m.
            assert!(
                (h - expect).abs() < 1e-4,
                "change {change}: ({r}, {c}) has {h} m, expected {expect} m"
            );
            wet += usize::from(h > 0.0);
        }
        let wet_before = before.iter().filter(|&&d| d > 0.0).count();
        if change > 0.0 {
            assert!(wet > wet_before, "raising by {change} wets new cells");
        } else {
            assert!(wet < wet_before, "lowering by {change} dries some");
        }
    }
}

/// Members run at once give the same files as members run one after the other, each
/// member on its own threads: a member's run does not depend on what else runs.
#[test]
fn members_in_parallel_give_the_same_bytes_as_one_after_the_other() {
    let b = TestBasin::new();
    let path = ensemble_file(
        &b,
        "ensemble.toml",
        "[parameters]\ninflow_scale = { values = [0.5, 1.0, 1.5, 2.0] }\n",
    );
    let e = Ensemble::load(&path).expect("loads");
    let (serial, parallel) = (b.path().join("serial"), b.path().join("parallel"));
    plan(&e, &serial).expect("planned");
    plan(&e, &parallel).expect("planned");
    let two = RunOptions {
        threads: 2,
        ..RunOptions::default()
    };
    let one = RunOptions {
        threads: 1,
        ..RunOptions::default()
    };
    let a = run(&serial, &two, 1, |_, _| {}).expect("runs");
    let mut seen = Vec::new();
    let p = run(&parallel, &one, 4, |id, r| {
        assert!(r.is_ok());
        seen.push(id)
    })
    .expect("runs");
    assert_eq!(a.ran, [0, 1, 2, 3]);
    assert_eq!(p.ran, [0, 1, 2, 3]);
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2, 3], "each member reported once");
    for id in 0..4 {
        for name in ["max_depth_m.tif", "first_inundation_s.tif", "gauges.csv"] {
            let read = |dir: &Path| std::fs::read(member_results(dir, id).join(name)).expect(name);
            assert!(
                read(&serial) == read(&parallel),
                "member {id}: {name} differs"
            );
        }
    }
    let err = run(&parallel, &one, 0, |_, _| {})
        .expect_err("no jobs")
        .to_string();
    assert!(err.contains("--jobs"), "{err}");
}

/// `storm_duration_scale` stretches the rain series in time at the same depth (and
/// `rain_scale` multiplies on top); with rain frames it is refused, naming the key.
#[test]
fn storm_duration_stretches_the_rain_at_the_same_depth() {
    let b = TestBasin::new();
    b.edit(
        "scenarios/breach.toml",
        "[[boundaries]]",
        "[rain]\nrain_mm_per_h = [[0, 0], [600, 30], [1200, 0]]\n\n\
         [adjust]\nstorm_duration_scale = 2.0\nrain_scale = 1.5\n\n[[boundaries]]",
    );
    let basin = basin::Basin::load(b.path()).expect("basin");
    let s = basin::Scenario::load(&b.scenario(), &basin).expect("scenario");
    let points: Vec<(f64, f64)> = s.rain_mm_per_h.as_ref().expect("rain").points().collect();
    assert_eq!(points, [(0.0, 0.0), (1200.0, 22.5), (2400.0, 0.0)]);
    // The depth: ∫ = 30 mm/h × 600 s (triangle) × 1.5 both ways.
    let depth = |p: &[(f64, f64)]| {
        p.windows(2)
            .map(|w| 0.5 * (w[0].1 + w[1].1) * (w[1].0 - w[0].0))
            .sum::<f64>()
    };
    assert_eq!(
        depth(&points),
        1.5 * depth(&[(0.0, 0.0), (600.0, 30.0), (1200.0, 0.0)])
    );
    b.edit(
        "scenarios/breach.toml",
        "storm_duration_scale = 2.0",
        "storm_duration_scale = 0.0",
    );
    let err = basin::Scenario::load(&b.scenario(), &basin)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("adjust.storm_duration_scale") && err.contains("> 0"),
        "{err}"
    );
}
