//! Upstream catchments feeding the grid: the discharge of a Xinanjiang or SCS unit-
//! hydrograph catchment enters as a point source whose volume is the model's runoff over
//! the catchment (less what a Muskingum reach still holds); the SCS catchment's runoff is Q(P) of its rain; bad catchments are
//! refused with the key and the fix.

mod common;

use basin::RunOptions;
use common::TestBasin;

const SCENARIO: &str = r#"name = "Catchment"
duration_s = 21600.0
output_interval_s = 3600.0

[[boundaries]]
kind = "free_outflow"
edge = "east"
"#;

const XAJ: &str = r#"
[[catchments]]
name = "Upper"
area_km2 = 12.0
x = 500055.0
y = 4000145.0
step_s = 1800.0
rain_mm_per_h = [[0, 0], [1800, 20], [5400, 20], [7200, 0]]
evaporation_mm_per_day = [[0, 3.0]]

[catchments.model]
kind = "xaj"
initial_wetness = 0.8

[catchments.model.params]
k = 0.9
b = 0.3
im = 0.02
um = 15.0
lm = 75.0
dm = 40.0
c = 0.15
sm = 30.0
ex = 1.2
ki = 0.35
kg = 0.3
ci = 0.8
cg = 0.97
cs = 0.5
lag_steps = 1
"#;

const SCS: &str = r#"
[[catchments]]
name = "Side"
area_km2 = 5.0
x = 500055.0
y = 4000145.0
step_s = 600.0
rain_mm_per_h = [[0, 40], [3600, 40], [3601, 0]]

[catchments.model]
kind = "scs_unit_hydrograph"
curve_number = 80
lag_h = 0.5
"#;

fn scenario(b: &TestBasin, name: &str, text: &str) -> std::path::PathBuf {
    b.write(&format!("scenarios/{name}.toml"), text);
    b.path().join(format!("scenarios/{name}.toml"))
}

#[test]
fn a_catchments_runoff_enters_as_a_point_source_with_its_volume() {
    let b = TestBasin::new();
    let reach = format!("{XAJ}\n[catchments.reach]\nk_h = 1.5\nx = 0.2\nsubreaches = 2\n");
    for (name, text) in [("xaj", XAJ), ("scs", SCS), ("reach", reach.as_str())] {
        let path = scenario(&b, name, &format!("{SCENARIO}{text}"));
        let out = b.path().join(format!("out_{name}"));
        let s = basin::run(&path, &out, &RunOptions::default(), |_| {}).expect("runs");
        let c = &s.catchments[0];
        // What reached the grid: all the runoff without a reach; with one, less what the
        // reach still holds at the end.
        if name == "reach" {
            assert!(c.delivered_mm < c.runoff_mm, "{c:?}");
        } else {
            assert!(
                (c.delivered_mm - c.runoff_mm).abs() < 1e-9 * c.runoff_mm,
                "{c:?}"
            );
        }
        let runoff_m3 = c.delivered_mm * 1e-3 * c.area_km2 * 1e6;
        let entered = s.water_balance.point_inflow_m3;
        assert!(
            (entered - runoff_m3).abs() < 1e-6 * runoff_m3,
            "{name}: {entered} m³ entered, {runoff_m3} m³ of runoff"
        );
        assert!(c.runoff_mm > 1.0 && c.runoff_mm < c.rain_mm, "{c:?}");
        assert!(c.peak_m3_s > 0.0 && c.peak_time_s > 1800.0, "{c:?}");
        assert!(s.water_balance.relative_error() < 1e-9);
        let json = std::fs::read_to_string(out.join("summary.json")).expect("summary");
        assert!(
            json.contains("\"catchments\""),
            "summary lists the catchment"
        );
        if name == "scs" {
            // All of the runoff leaves within the run (5 Tp ≈ 2.8 h after the rain):
            // Q(P) of 40 mm (plus half a second of the ramp), CN 80.
            let p = 0.04 + 0.5 * 40.0 / 3.6e6;
            let q = hydro::soil::scs_runoff_m(p, hydro::soil::retention_m(80.0), 0.2);
            assert!(
                (c.runoff_mm - q * 1e3).abs() < 1e-9,
                "{} vs {}",
                c.runoff_mm,
                q * 1e3
            );
        }
    }
}

#[test]
fn bad_catchments_are_refused() {
    let b = TestBasin::new();
    let basin = basin::Basin::load(b.path()).expect("basin");
    for (i, (from, to, wants)) in [
        (
            "area_km2 = 12.0",
            "area_km2 = 0.0",
            &["catchments[0].area_km2", "> 0"][..],
        ),
        (
            "kg = 0.3",
            "kg = 0.7",
            &["catchments[0].model.kg", "ki + kg < 1"][..],
        ),
        (
            "x = 500055.0",
            "x = 900055.0",
            &["catchments[0]", "no active DEM cell"][..],
        ),
        (
            "cs = 0.5",
            "cs = 0.5\nspeed = 3",
            &["unknown field `speed`"][..],
        ),
        (
            "kind = \"xaj\"",
            "kind = \"hbv\"",
            &["unknown variant `hbv`"][..],
        ),
        (
            "lag_steps = 1",
            "lag_steps = 1\n\n[catchments.reach]\nk_h = 1.0\nx = 0.7",
            &["catchments[0].reach.x", "between 0 and 0.45"][..],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let text = format!("{SCENARIO}{}", XAJ.replacen(from, to, 1));
        let path = scenario(&b, &format!("bad{i}"), &text);
        let err = basin::Scenario::load(&path, &basin)
            .expect_err("refused")
            .to_string();
        assert!(err.contains(&format!("bad{i}.toml")), "{err}");
        for w in wants {
            assert!(err.contains(w), "case {i}: `{w}` not in {err}");
        }
    }
    let text = format!(
        "{SCENARIO}{}",
        SCS.replacen("curve_number = 80", "curve_number = 20", 1)
    );
    let path = scenario(&b, "bad_cn", &text);
    let err = basin::Scenario::load(&path, &basin)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("catchments[0].model.curve_number") && err.contains("30 and 100"),
        "{err}"
    );
}

/// An integer setting varied over a range (the channel lag, in steps) takes the nearest
/// integer in each member, which loads, and the manifest records the integer.
#[test]
fn an_integer_setting_varied_by_range_stays_an_integer() {
    let b = TestBasin::new();
    let base = scenario(&b, "xaj", &format!("{SCENARIO}{XAJ}"));
    let file = b.path().join("ensemble.toml");
    std::fs::write(
        &file,
        format!(
            "base = \"{}\"\nsampling = \"latin_hypercube\"\nmembers = 4\n[parameters]\n\"catchments.0.model.params.lag_steps\" = {{ min = 0.6, max = 3.4 }}\n",
            base.display()
        ),
    )
    .expect("write");
    let e = basin::ensemble::Ensemble::load(&file).expect("ensemble");
    let plan = b.path().join("plan");
    let manifest = basin::ensemble::plan(&e, &plan).expect("planned");
    let basin = basin::Basin::load(b.path()).expect("basin");
    for m in &manifest.members {
        let lag = m.parameters["catchments.0.model.params.lag_steps"];
        assert_eq!(lag.fract(), 0.0, "{lag}");
        assert!((1.0..=3.0).contains(&lag), "{lag}");
        basin::Scenario::load(&plan.join(&m.scenario), &basin).expect("member loads");
    }
}
