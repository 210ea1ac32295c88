//! The validation cases on small grids, as CI tests. Every case must pass its tolerance,
//! except the known misses that docs/validation/README.md reports: those must stay within
//! a regression guard (a bound on how much worse they may get, not a tolerance), so a
//! regression still fails CI while the miss stays visible in the report.

use validate::cases::{self, Mode, Numerics, Outcome};

/// The CI subset with fv1 and with fv2.
fn both() -> [Mode; 2] {
    [Mode::fast(Numerics::FV1), Mode::fast(Numerics::FV2)]
}

/// `both`, and both with the moving-water face states (`reconstruction = "energy"`).
fn four() -> [Mode; 4] {
    [
        Mode::fast(Numerics::FV1),
        Mode::fast(Numerics::FV2),
        Mode::fast(Numerics::FV1_ENERGY),
        Mode::fast(Numerics::FV2_ENERGY),
    ]
}

/// (case, regression guard) for the known misses; the guard is the value measured when
/// the miss was recorded, plus 20 %.
const KNOWN_MISSES: &[(&str, f64)] = &[
    // Observed order 0.34 (100/200/400 cells): convergence at the bed step is slow.
    ("Dam break over a step convergence", 0.34 / 1.2),
    // Observed order 0.38 (100/200/400 cells): rivertwin's Manning stands in for the
    // reference's Chézy law, so the error levels off at the difference of the two laws.
    ("Dressler dam break with friction convergence", 0.38 / 1.2),
    // 5.4 mm RMS at 100² against the 5 mm bar (5.5 mm with `reconstruction = "energy"`).
    ("Thacker 2D planar surface in a paraboloid", 5.44e-3 * 1.2),
    (
        "Thacker 2D planar surface in a paraboloid, energy",
        5.46e-3 * 1.2,
    ),
    // The sloping dam break with fv1 and the classic (Audusse) reconstruction, which holds
    // thin fronts back on steep beds: L1 3.08 % at 5 %, 35.1 % at 20 %; the front 9.4,
    // 10.0, 17.2 and 23.5 % behind at 0, 1, 5 and 20 % (the issue's own figures).
    ("Sloping dam break 5 %, along x", 0.0308 * 1.2),
    ("Sloping dam break 5 %, along y", 0.0308 * 1.2),
    ("Sloping dam break 20 %, along x", 0.3508 * 1.2),
    ("Sloping dam break 20 %, along y", 0.3508 * 1.2),
    ("Sloping dam break 0 %, along x, front", 0.094 * 1.2),
    ("Sloping dam break 0 %, along y, front", 0.094 * 1.2),
    ("Sloping dam break 1 %, along x, front", 0.100 * 1.2),
    ("Sloping dam break 1 %, along y, front", 0.100 * 1.2),
    ("Sloping dam break 5 %, along x, front", 0.172 * 1.2),
    ("Sloping dam break 5 %, along y, front", 0.172 * 1.2),
    ("Sloping dam break 20 %, along x, front", 0.235 * 1.2),
    ("Sloping dam break 20 %, along y, front", 0.235 * 1.2),
    // The subcell reconstruction's bed terms move the front (−14.2 % at 5 %, −17.3 % at
    // 20 %) and the 5 % L1 (2.78 %), but not the 20 % L1 (35.1 %): that error is the
    // first-order bed step at each face (g Δz²/2 of force missing per cell), which the
    // second-order scheme is to remove.
    ("Sloping dam break 0 %, subcell, front", 0.094 * 1.2),
    ("Sloping dam break 1 %, subcell, front", 0.100 * 1.2),
    ("Sloping dam break 5 %, subcell", 0.0278 * 1.2),
    ("Sloping dam break 5 %, subcell, front", 0.142 * 1.2),
    ("Sloping dam break 20 %, subcell", 0.3507 * 1.2),
    ("Sloping dam break 20 %, subcell, front", 0.173 * 1.2),
    // fv2 (MUSCL–Hancock, minmod). Over the step the error levels off at about 0.66 %
    // whatever the grid (6.6e-3 at 400 cells, 6.4e-3 at 800): the scheme converges to a
    // solution of its own at the bed step, so the observed order is 0.11 (100/200/400).
    ("Dam break over a step convergence, fv2", 0.11 / 1.2),
    // The Manning/Chézy difference, as for fv1: 0.21 (100/200/400 cells).
    (
        "Dressler dam break with friction convergence, fv2",
        0.21 / 1.2,
    ),
    // `reconstruction = "energy"`: the friction law's difference is the same (0.38 with
    // fv1, 100/200/400 cells).
    (
        "Dressler dam break with friction convergence, energy",
        0.38 / 1.2,
    ),
    (
        "Dressler dam break with friction convergence, fv2 energy",
        0.21 / 1.2,
    ),
    // fv1 with `reconstruction = "energy"`: the bulk of the sliding layer feels the
    // whole g·h·Δz per cell (moving-water face states), so the L1 falls from 3.08 to
    // 1.56 % at 5 % and from 35.1 to 8.5 % at 20 %, and the front is 8–10 % behind. What
    // is left: the film thinner than the bed's drop per cell, which still runs down a
    // staircase of steps, and first-order numerical diffusion in a layer moving at up to
    // 39 m/s: the same scheme on a flat bed with the slope's pull as an exact body force
    // leaves 1.67 % at 5 % and 4.35 % at 20 % (crates/validate/scripts/first_order_floor.py).
    ("Sloping dam break 0 %, energy, front", 0.094 * 1.2),
    ("Sloping dam break 1 %, energy, front", 0.084 * 1.2),
    ("Sloping dam break 5 %, energy", 0.0156 * 1.2),
    ("Sloping dam break 5 %, energy, front", 0.084 * 1.2),
    ("Sloping dam break 20 %, energy", 0.0854 * 1.2),
    ("Sloping dam break 20 %, energy, front", 0.095 * 1.2),
    // fv2 with the moving-water face states over the bump: errors 15× (50 cells) to 6×
    // (200 cells) below plain fv2's, but falling at order 1.54 over 50/100/200 cells
    // (1.79 over 50–400 in the report).
    ("Bump, subcritical, convergence, fv2 energy", 1.54 / 1.2),
];

fn check(outcomes: &[Outcome]) {
    for o in outcomes {
        eprintln!(
            "{}: {} = {:.4e} (tolerance {:.1e}) {}",
            o.case,
            o.norm,
            o.value,
            o.tolerance,
            if o.pass() { "pass" } else { "MISS" }
        );
        assert!(o.value.is_finite(), "{}: not finite", o.case);
        match KNOWN_MISSES.iter().find(|(name, _)| *name == o.case) {
            Some(&(_, guard)) if o.lower_is_better => assert!(
                o.value <= guard,
                "{}: {} got worse than {guard}",
                o.case,
                o.value
            ),
            Some(&(_, guard)) => assert!(
                o.value >= guard,
                "{}: {} got worse than {guard}",
                o.case,
                o.value
            ),
            None => assert!(
                o.pass(),
                "{}: {} = {} misses {}",
                o.case,
                o.norm,
                o.value,
                o.tolerance
            ),
        }
    }
}

#[test]
fn lake_at_rest() {
    for numerics in [
        Numerics::FV1,
        Numerics::FV2,
        Numerics::FV1_ENERGY,
        Numerics::FV2_ENERGY,
    ] {
        for (file, label) in [
            ("1d_bump_lake_at_rest_immersed.dat", "immersed"),
            ("1d_bump_lake_at_rest_emerged.dat", "emerged"),
        ] {
            check(&cases::lake_at_rest(file, label, numerics).expect("runs"));
        }
    }
}

#[test]
fn dam_breaks_and_convergence() {
    for mode in four() {
        check(&cases::dam_breaks(&mode).expect("runs"));
    }
}

#[test]
fn steady_channels() {
    for mode in both() {
        check(&cases::steady_channels(&mode).expect("runs"));
    }
}

/// Subcritical flow over a bump converges at first order with fv1 and second with fv2;
/// fv1 with the moving-water face states keeps it exactly.
#[test]
fn smooth_convergence() {
    for mode in four() {
        check(&[cases::bump_convergence(&mode).expect("runs")]);
    }
}

#[test]
fn thacker() {
    for mode in four() {
        check(&[
            cases::thacker_1d(&mode).expect("runs"),
            cases::thacker_2d_planar(&mode).expect("runs"),
        ]);
        check(&cases::thacker_2d_radial(&mode).expect("runs"));
    }
}

/// The dam break down a slope, at 0, 1, 5 and 20 %: along y it gives what it gives
/// along x (the scheme has no preferred direction).
#[test]
fn sloping_dam_breaks() {
    for mode in both() {
        check(&cases::sloping_dam_breaks(&mode).expect("runs"));
        for slope in [0.05, 0.2] {
            let x = cases::sloping_run(slope, false, 1.0, mode.numerics).expect("runs");
            let y = cases::sloping_run(slope, true, 1.0, mode.numerics).expect("runs");
            assert!(
                (x.l1 - y.l1).abs() < 1e-12 && (x.front - y.front).abs() < 1e-12,
                "{x:?} {y:?}"
            );
        }
    }
}

#[test]
fn report_lists_misses_and_uncovered_cases() {
    let mut outcomes = cases::not_covered();
    outcomes.push(Outcome {
        case: "made-up case".into(),
        reference: "r".into(),
        norm: "n".into(),
        value: 0.5,
        tolerance: 0.1,
        lower_is_better: true,
        tolerance_source: "s".into(),
        grid: "g".into(),
        wall_s: 1.0,
        note: String::new(),
    });
    let md = validate::report::markdown(&outcomes, &["a.png"], 3.0);
    assert!(
        md.contains("| made-up case |") && md.contains("**miss**"),
        "{md}"
    );
    // A `|` in a cell is escaped so the table keeps its columns.
    let escaped = validate::report::markdown(
        &[Outcome {
            norm: "max |u|".into(),
            ..outcomes[1].clone()
        }],
        &[],
        1.0,
    );
    assert!(escaped.contains("max \\|u\\|"), "{escaped}");
    assert!(md.contains("not covered"));
    assert!(md.contains("**0 of 1 checks pass.**"));
    assert!(md.contains("![a.png](a.png)"));
}
