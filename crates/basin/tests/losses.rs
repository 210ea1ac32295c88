//! `[losses]` models in basin.toml: a curve-number raster reaches the solver cell for cell
//! and a run's infiltration is Σ (P − Q(P)) over the cells; Green–Ampt from one set of
//! values; bad values and keys of the wrong model are refused with the file, the key and
//! the fix, a raster's bad cell by its row and column.

mod common;

use basin::RunOptions;
use common::{BASIN_TOML, COLS, ROWS, TestBasin};
use hydro::soil::{retention_m, scs_runoff_m};
use ndarray::Array2;

fn with_losses(b: &TestBasin, losses: &str) {
    b.write(
        "basin.toml",
        &BASIN_TOML.replace("[initial_water]", &format!("{losses}\n[initial_water]")),
    );
}

#[test]
fn a_curve_number_raster_takes_p_minus_q_of_every_cells_rain() {
    let b = TestBasin::new();
    let cn = Array2::from_shape_fn((ROWS, COLS), |(r, c)| 60.0 + 0.5 * (r + c) as f64);
    b.write_raster("cn.tif", 32614, &cn);
    with_losses(
        &b,
        "[losses]\nmodel = \"curve_number\"\ncurve_number_raster = \"cn.tif\"\nia_ratio = 0.2\n",
    );
    // 30 mm/h for the 600 s of the scenario: P = 5 mm per cell.
    b.edit(
        "scenarios/breach.toml",
        "[[boundaries]]",
        "[rain]\nrain_mm_per_h = [[0, 30], [600, 30]]\n\n[[boundaries]]",
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    match &basin.loss_model {
        Some(hydro::LossModel::CurveNumber {
            curve_number,
            ia_ratio,
            ..
        }) => {
            assert_eq!(*ia_ratio, 0.2);
            for (cell, &a) in basin.active.indexed_iter() {
                if a {
                    assert_eq!(curve_number[cell], cn[cell], "{cell:?}");
                }
            }
        }
        other => panic!("{other:?}"),
    }
    let out = b.path().join("out");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    let p = 0.005;
    let expected: f64 = cn
        .iter()
        .map(|&n| (p - scs_runoff_m(p, retention_m(n), 0.2)) * common::CELL * common::CELL)
        .sum();
    let got = s.water_balance.infiltration_m3;
    assert!(
        (got - expected).abs() < 1e-6 * expected,
        "{got} vs {expected}"
    );
    assert!(s.water_balance.relative_error() < 1e-9);

    // A quarter of every cell impervious: the soil takes three quarters of that.
    with_losses(
        &b,
        "[losses]\nmodel = \"curve_number\"\ncurve_number_raster = \"cn.tif\"\nimpervious_fraction = 0.25\n",
    );
    let out = b.path().join("out_impervious");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    let got = s.water_balance.infiltration_m3;
    assert!(
        (got - 0.75 * expected).abs() < 1e-6 * expected,
        "{got} vs {}",
        0.75 * expected
    );
    // An impervious share outside 0–1 is refused.
    with_losses(
        &b,
        "[losses]\nmodel = \"curve_number\"\ncurve_number = 70.0\nimpervious_fraction = 1.5\n",
    );
    let err = basin::Basin::load(b.path())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("losses.impervious_fraction") && err.contains("between 0 and 1"),
        "{err}"
    );
}

#[test]
fn green_ampt_from_values_and_bad_losses_refused() {
    let b = TestBasin::new();
    with_losses(
        &b,
        "[losses]\nmodel = \"green_ampt\"\nconductivity_mm_per_h = 10.0\nsuction_mm = 110.0\nmoisture_deficit = 0.3\n",
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    assert!(matches!(
        basin.loss_model,
        Some(hydro::LossModel::GreenAmpt { .. })
    ));
    let out = b.path().join("out");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    assert!(s.water_balance.infiltration_m3 > 0.0);
    assert!(s.water_balance.relative_error() < 1e-9);

    let mut bad_cn = Array2::from_elem((ROWS, COLS), 70.0);
    bad_cn[(3, 4)] = 120.0;
    b.write_raster("bad_cn.tif", 32614, &bad_cn);
    for (losses, wants) in [
        (
            "[losses]\nmodel = \"curve_number\"\ncurve_number = 20.0\n",
            &["losses.curve_number", "between 30 and 100"][..],
        ),
        (
            "[losses]\nmodel = \"curve_number\"\ncurve_number_raster = \"bad_cn.tif\"\n",
            &["bad_cn.tif", "row 3, column 4", "120"][..],
        ),
        (
            "[losses]\nmodel = \"green_ampt\"\nconductivity_mm_per_h = -1.0\nsuction_mm = 110.0\nmoisture_deficit = 0.3\n",
            &["losses.conductivity_mm_per_h", "≥ 0"][..],
        ),
        (
            "[losses]\nmodel = \"green_ampt\"\nconductivity_mm_per_h = 5.0\nmoisture_deficit = 0.3\n",
            &["losses.suction_mm", "is missing"][..],
        ),
        (
            "[losses]\nmodel = \"curve_number\"\ncurve_number = 70.0\ninitial_mm = 5.0\n",
            &["losses.initial_mm", "initial_continuing"][..],
        ),
        (
            "[losses]\ncontinuing_mm_per_h = 2.0\n",
            &["losses.initial_mm", "is missing"][..],
        ),
        (
            "[losses]\nmodel = \"horton\"\n",
            &["basin.toml", "unknown variant"][..],
        ),
    ] {
        with_losses(&b, losses);
        let err = basin::Basin::load(b.path())
            .expect_err("refused")
            .to_string();
        for w in wants {
            assert!(err.contains(w), "`{w}` not in: {err}");
        }
    }
}

/// Curve numbers from land cover × hydrologic soil group: each cell takes its class's CN
/// for its group; a class or a group missing from the table is refused by name and place.
#[test]
fn curve_numbers_from_land_cover_and_soil_groups() {
    let b = TestBasin::new();
    let classes = Array2::from_shape_fn((ROWS, COLS), |(_, c)| if c < 20 { 1.0 } else { 2.0 });
    let groups = Array2::from_shape_fn((ROWS, COLS), |(r, _)| if r < 15 { 2.0 } else { 4.0 });
    b.write_raster("lc.tif", 32614, &classes);
    b.write_raster("hsg.tif", 32614, &groups);
    let table = "table = { \"1\" = { A = 39, B = 61, C = 74, D = 80 }, \"2\" = { A = 77, B = 85, C = 90, D = 92 } }";
    with_losses(
        &b,
        &format!(
            "[losses]\nmodel = \"curve_number\"\nlandcover = \"lc.tif\"\nsoil_group_raster = \"hsg.tif\"\n{table}\n"
        ),
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    let Some(hydro::LossModel::CurveNumber { curve_number, .. }) = &basin.loss_model else {
        panic!("{:?}", basin.loss_model);
    };
    assert_eq!(curve_number[(0, 0)], 61.0, "class 1, group B");
    assert_eq!(curve_number[(20, 0)], 80.0, "class 1, group D");
    assert_eq!(curve_number[(0, 30)], 85.0, "class 2, group B");
    assert_eq!(curve_number[(29, 39)], 92.0, "class 2, group D");
    // One group for the whole basin.
    with_losses(
        &b,
        &format!(
            "[losses]\nmodel = \"curve_number\"\nlandcover = \"lc.tif\"\nsoil_group = \"A\"\n{table}\n"
        ),
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    let Some(hydro::LossModel::CurveNumber { curve_number, .. }) = &basin.loss_model else {
        panic!();
    };
    assert_eq!((curve_number[(5, 5)], curve_number[(5, 25)]), (39.0, 77.0));
    for (losses, wants) in [
        (
            "landcover = \"lc.tif\"\nsoil_group = \"C\"\ntable = { \"1\" = { C = 74 } }",
            &[
                "losses.table",
                "no land-cover class 2",
                "row 0, column 20",
                "lc.tif",
            ][..],
        ),
        (
            "landcover = \"lc.tif\"\nsoil_group = \"D\"\ntable = { \"1\" = { C = 74 }, \"2\" = { D = 90 } }",
            &[
                "losses.table",
                "no CN for soil group D of land-cover class 1",
            ][..],
        ),
        (
            "landcover = \"lc.tif\"\nsoil_group = \"E\"\ntable = { \"1\" = { C = 74 } }",
            &["losses.soil_group", "\"A\", \"B\""][..],
        ),
        (
            "landcover = \"lc.tif\"\nsoil_group = \"C\"\ntable = { \"1\" = { C = 140 }, \"2\" = { C = 80 } }",
            &["losses.table.\"1\".C", "between 30 and 100"][..],
        ),
    ] {
        with_losses(
            &b,
            &format!("[losses]\nmodel = \"curve_number\"\n{losses}\n"),
        );
        let err = basin::Basin::load(b.path())
            .expect_err("refused")
            .to_string();
        for w in wants {
            assert!(err.contains(w), "`{w}` not in: {err}");
        }
    }
}

/// The bundled curve-number basin: every active cell takes its terrain class's CN for
/// soil group C (TR-55 table 2-2c, as its basin.toml gives them).
#[test]
fn the_bundled_curve_number_basin_maps_each_class() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../basins/trinity_storm_cn");
    let basin = basin::Basin::load(&dir).expect("loads");
    let classes = basin::raster::read_raster(&dir.join("landcover_terrain.tif")).expect("classes");
    let Some(hydro::LossModel::CurveNumber { curve_number, .. }) = &basin.loss_model else {
        panic!("{:?}", basin.loss_model);
    };
    let cn_of = |class: f64| match class as u8 {
        1 => 98.0,
        2 => 79.0,
        3 => 70.0,
        4 => 73.0,
        other => panic!("class {other}"),
    };
    let mut seen = [0usize; 5];
    for (cell, &a) in basin.active.indexed_iter() {
        if a {
            assert_eq!(curve_number[cell], cn_of(classes.data[cell]), "{cell:?}");
            seen[classes.data[cell] as usize] += 1;
        }
    }
    assert_eq!(
        seen[1..],
        [1141, 14028, 5462, 84],
        "cells per class (README)"
    );
}

/// Initial and continuing losses, and Green–Ampt's suction and deficit, per cell from
/// rasters; a raster value out of range is refused with its place.
#[test]
fn loss_parameters_per_cell_from_rasters() {
    let b = TestBasin::new();
    let il = Array2::from_shape_fn((ROWS, COLS), |(r, _)| r as f64);
    let cl = Array2::from_shape_fn((ROWS, COLS), |(_, c)| 0.1 * c as f64);
    b.write_raster("il.tif", 32614, &il);
    b.write_raster("cl.tif", 32614, &cl);
    with_losses(
        &b,
        "[losses]\ninitial_raster = \"il.tif\"\ncontinuing_raster = \"cl.tif\"\ncapacity_mm = 50.0\n",
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    let (got_il, got_cl) = basin.loss_rates.as_ref().expect("per-cell rates");
    for (cell, &a) in basin.active.indexed_iter() {
        if a {
            assert_eq!(got_il[cell], il[cell]);
            assert!((got_cl[cell] - cl[cell]).abs() < 1e-6, "Float32 raster");
        }
    }
    let out = b.path().join("out");
    let s = basin::run(&b.scenario(), &out, &RunOptions::default(), |_| {}).expect("runs");
    assert!(s.water_balance.relative_error() < 1e-9);

    let psi = Array2::from_elem((ROWS, COLS), 110.0);
    let mut deficit = Array2::from_elem((ROWS, COLS), 0.3);
    b.write_raster("psi.tif", 32614, &psi);
    b.write_raster("dtheta.tif", 32614, &deficit);
    with_losses(
        &b,
        "[losses]\nmodel = \"green_ampt\"\nconductivity_mm_per_h = 10.0\nsuction_raster = \"psi.tif\"\nmoisture_deficit_raster = \"dtheta.tif\"\n",
    );
    let basin = basin::Basin::load(b.path()).expect("loads");
    assert!(matches!(
        basin.loss_model,
        Some(hydro::LossModel::GreenAmpt { .. })
    ));
    deficit[(7, 8)] = 1.4;
    b.write_raster("dtheta.tif", 32614, &deficit);
    let err = basin::Basin::load(b.path())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("dtheta.tif")
            && err.contains("row 7, column 8")
            && err.contains("between 0 and 1"),
        "{err}"
    );
}
