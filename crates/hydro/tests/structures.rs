//! Structures in a channel, run to a steady state: the flow the solver settles at equals
//! the structure's formula for the heads it settles at (weir free and drowned, gate
//! orifice, culvert under inlet and outlet control, each against a hand calculation
//! written here); a flap stops reverse flow; a pump starts and stops at its levels and
//! what it pumps out of the basin closes the balance; the same bits on 1 and 2 threads.

use hydro::{
    Barrel, Boundaries, Edge, EdgeBoundary, Grid, Link, Regime, Solver, SolverParams, Structure,
    StructureKind, StructureSetting,
};
use ndarray::Array2;

const ROWS: usize = 4;
const COLS: usize = 60;
const DX: f64 = 2.0;
/// The wall column the weir or gate stands on.
const WALL: usize = 30;
const G: f64 = 9.81;

/// A channel 8 m wide and 120 m long: bed 10 m upstream of the wall column, `bed_down`
/// downstream; Q in from the west, `east` at the east edge.
fn channel(q_m3_s: f64, bed_down: f64, east: EdgeBoundary) -> Solver {
    let grid = Grid::new(ROWS, COLS, DX, DX).expect("grid");
    let bed = Array2::from_shape_fn(
        (ROWS, COLS),
        |(_, c)| if c < WALL { 10.0 } else { bed_down },
    );
    let n = Array2::from_elem((ROWS, COLS), 0.02);
    let active = Array2::from_shape_fn((ROWS, COLS), |(_, c)| c != WALL);
    let boundaries = Boundaries::walls()
        .with_edge(
            Edge::West,
            EdgeBoundary::UnitDischarge {
                q_m2_s: q_m3_s / (ROWS as f64 * DX),
            },
        )
        .with_edge(Edge::East, east);
    Solver::new(
        grid,
        bed.view(),
        n.view(),
        Some(active.view()),
        boundaries,
        SolverParams::default(),
    )
    .expect("solver")
}

/// One link per row across the wall column, each an equal share.
fn across() -> Vec<Link> {
    (0..ROWS)
        .map(|r| Link {
            a: (r, WALL - 1),
            b: Some((r, WALL + 1)),
            share: 1.0 / ROWS as f64,
        })
        .collect()
}

fn weir(crest: f64, one_way: bool) -> Structure {
    Structure {
        name: "weir".into(),
        kind: StructureKind::Weir {
            crest_m: crest,
            length_m: ROWS as f64 * DX,
            coefficient: 1.705,
            one_way,
        },
        links: across(),
    }
}

/// Run to `t` and return structure 0's flow and side levels averaged over the last 300 s
/// (the flow from the volume it moved; the levels weighted by step length: the cells next
/// to a structure dip by Q·dt/area after each transfer and refill in the next sweep),
/// checking the balance.
fn settle(s: &mut Solver, t: f64) -> hydro::StructureFlow {
    s.advance_to(t - 300.0).expect("stable");
    let start = s.structure_flow(0).expect("structure");
    let (mut a, mut b) = (0.0, 0.0);
    let mut last = s.sim_time_s();
    while s.sim_time_s() < t {
        s.step(t).expect("stable");
        let f = s.structure_flow(0).expect("structure");
        let dt = s.sim_time_s() - last;
        a += f.level_a_m * dt;
        b += f.level_b_m * dt;
        last = s.sim_time_s();
    }
    let err = s.balance().relative_error();
    assert!(err < 1e-10, "balance error {err:e}: {:?}", s.balance());
    let end = s.structure_flow(0).expect("structure");
    hydro::StructureFlow {
        flow_m3_s: (end.volume_m3 - start.volume_m3) / 300.0,
        volume_m3: end.volume_m3,
        level_a_m: a / 300.0,
        level_b_m: b / 300.0,
        regime: end.regime,
    }
}

#[test]
fn a_free_weir_passes_the_flow_at_its_formula_head() {
    let q = 4.0;
    let mut s = channel(q, 8.0, EdgeBoundary::FreeOutflow);
    s.add_structure(weir(10.5, false)).expect("weir");
    let f = settle(&mut s, 3000.0);
    assert_eq!(f.regime, Regime::FreeWeir);
    assert!((f.flow_m3_s - q).abs() < 0.01 * q, "not steady: {f:?}");
    // Hand calculation: H = (Q / (C·L))^(2/3) = (4 / (1.705 × 8))^(2/3) = 0.4412 m.
    let h_expected = (q / (1.705 * 8.0)).powf(2.0 / 3.0);
    let h = f.level_a_m - 10.5;
    let q_at_h = 1.705 * 8.0 * h.powf(1.5);
    eprintln!(
        "free weir: H {h:.4} m (hand {h_expected:.4}), C·L·H^1.5 {q_at_h:.4} vs Q {q}: {:.2} %",
        100.0 * (q_at_h - q) / q
    );
    assert!(
        (q_at_h - q).abs() < 0.02 * q,
        "C·L·H^1.5 at the settled head {h:.4} m is {q_at_h:.3} m³/s, inflow {q} (hand H {h_expected:.4} m)"
    );
}

#[test]
fn a_drowned_weir_follows_villemonte() {
    let q = 4.0;
    // Tailwater held 0.3 m over the crest: 10.8 m on a 10 m bed.
    let mut s = channel(q, 10.0, EdgeBoundary::FixedDepth { depth_m: 0.8 });
    s.add_structure(weir(10.5, false)).expect("weir");
    let f = settle(&mut s, 4000.0);
    assert_eq!(f.regime, Regime::DrownedWeir);
    assert!((f.flow_m3_s - q).abs() < 0.01 * q, "not steady: {f:?}");
    let (hu, hd) = (f.level_a_m - 10.5, f.level_b_m - 10.5);
    // Villemonte: Q = C·L·Hu^1.5 · (1 − (Hd/Hu)^1.5)^0.385.
    let law = 1.705 * 8.0 * hu.powf(1.5) * (1.0 - (hd / hu).powf(1.5)).powf(0.385);
    eprintln!(
        "drowned weir: Hu {hu:.4}, Hd {hd:.4}, law {law:.4} vs Q {q}: {:.2} %",
        100.0 * (law - q) / q
    );
    assert!(
        (law - q).abs() < 0.02 * q,
        "Villemonte gives {law:.3} m³/s at Hu {hu:.4}, Hd {hd:.4}; inflow {q}"
    );
}

#[test]
fn a_one_way_weir_stops_reverse_flow() {
    // Water only downstream of the wall: with a flap it stays there.
    let mut s = channel(0.0, 10.0, EdgeBoundary::Wall);
    s.add_structure(weir(10.2, true)).expect("weir");
    let depth = Array2::from_shape_fn((ROWS, COLS), |(_, c)| if c > WALL { 1.0 } else { 0.0 });
    s.set_depth(depth.view()).expect("depth");
    let f = settle(&mut s, 200.0);
    assert_eq!(f.flow_m3_s, 0.0);
    assert!(s.depth_m().column(WALL - 1).iter().all(|&h| h == 0.0));
}

fn gate() -> Structure {
    Structure {
        name: "gate".into(),
        kind: StructureKind::Gate {
            sill_m: 10.0,
            width_m: ROWS as f64 * DX,
            max_opening_m: 2.0,
            weir_coefficient: 1.705,
            discharge_coefficient: 0.61,
            contraction_coefficient: 0.61,
            max_speed_m_s: 0.5 / 60.0,
        },
        links: across(),
    }
}

#[test]
fn a_gate_passes_free_orifice_flow_and_opens_at_its_speed() {
    let q = 6.0;
    let mut s = channel(q, 8.0, EdgeBoundary::FreeOutflow);
    s.add_structure(gate()).expect("gate");
    let open = StructureSetting {
        target_opening_m: 0.3,
        ..StructureSetting::default()
    };
    s.set_structure(0, open).expect("set");
    // 0.5 m/min: 0.3 m takes 36 s.
    s.advance_to(18.0).expect("stable");
    let half = s.structure_setting(0).expect("gate").opening_m;
    assert!((half - 0.15).abs() < 0.01, "opening after 18 s: {half}");
    let f = settle(&mut s, 4000.0);
    assert_eq!(f.regime, Regime::FreeOrifice);
    assert!((f.flow_m3_s - q).abs() < 0.01 * q, "not steady: {f:?}");
    // Orifice: Q = Cd·W·a·√(2g(Hu − Cc·a)) = 0.61 × 8 × 0.3 × √(2g(Hu − 0.183)).
    let hu = f.level_a_m - 10.0;
    let formula = 0.61 * 8.0 * 0.3 * (2.0 * G * (hu - 0.61 * 0.3)).sqrt();
    eprintln!(
        "gate orifice: Hu {hu:.4}, formula {formula:.4} vs Q {q}: {:.2} %",
        100.0 * (formula - q) / q
    );
    assert!(
        (formula - q).abs() < 0.03 * q,
        "orifice formula {formula:.3} m³/s at Hu {hu:.4} m; inflow {q}"
    );
}

/// An embankment (the wall column) with a 1 m box culvert under it, 20 m long, from the
/// cell upstream of the wall to the one downstream.
fn culvert() -> Structure {
    Structure {
        name: "culvert".into(),
        kind: StructureKind::Culvert {
            barrel: Barrel::Box {
                width_m: 1.0,
                height_m: 1.0,
            },
            length_m: 20.0,
            manning_n: 0.013,
            inlet_invert_m: 10.0,
            outlet_invert_m: 9.9,
            entrance_loss: 0.5,
            exit_loss: 1.0,
            flap: false,
        },
        links: vec![Link {
            a: (1, WALL - 1),
            b: Some((1, WALL + 1)),
            share: 1.0,
        }],
    }
}

#[test]
fn a_culvert_under_inlet_control_matches_the_hand_calculation() {
    let q = 1.0;
    let mut s = channel(q, 8.0, EdgeBoundary::FreeOutflow);
    s.add_structure(culvert()).expect("culvert");
    let f = settle(&mut s, 4000.0);
    assert_eq!(f.regime, Regime::InletControl);
    assert!((f.flow_m3_s - q).abs() < 0.01 * q, "not steady: {f:?}");
    // Unsubmerged inlet: Q = 1.705·B·HW^1.5 → HW = (1 / 1.705)^(2/3) = 0.701 m.
    let hw = f.level_a_m - 10.0;
    assert!(
        (hw - (1.0f64 / 1.705).powf(2.0 / 3.0)).abs() < 0.05 * hw,
        "HW {hw:.4} m"
    );
    let hand = 1.705 * 1.0 * hw.powf(1.5);
    eprintln!(
        "culvert inlet control: HW {hw:.4}, hand {hand:.4} vs Q {q}: {:.2} %",
        100.0 * (hand - q) / q
    );
    assert!((hand - q).abs() < 0.05 * q, "hand {hand:.3} vs {q}");
}

#[test]
fn a_culvert_under_outlet_control_matches_the_hand_calculation() {
    let q = 1.0;
    // Tailwater 1.8 m on a 10 m bed: above the outlet crown (10.9 m).
    let mut s = channel(q, 10.0, EdgeBoundary::FixedDepth { depth_m: 1.8 });
    s.add_structure(culvert()).expect("culvert");
    let f = settle(&mut s, 6000.0);
    assert_eq!(f.regime, Regime::OutletControl);
    assert!((f.flow_m3_s - q).abs() < 0.01 * q, "not steady: {f:?}");
    // Full barrel: R = A/P = 1/4 m; friction 2g·n²·L/R^(4/3) = 2 × 9.81 × 0.013² × 20 /
    // 0.25^(4/3) = 0.4181; Q = A·√(2g·ΔH / (0.5 + 1.0 + 0.4181)).
    let friction = 2.0 * G * 0.013f64.powi(2) * 20.0 / 0.25f64.powf(4.0 / 3.0);
    let dh = f.level_a_m - f.level_b_m;
    let hand = (2.0 * G * dh / (1.5 + friction)).sqrt();
    eprintln!(
        "culvert outlet control: ΔH {dh:.4}, hand {hand:.4} vs Q {q}: {:.2} %",
        100.0 * (hand - q) / q
    );
    assert!(
        (hand - q).abs() < 0.05 * q,
        "hand {hand:.3} m³/s for ΔH {dh:.4} m; inflow {q}"
    );
}

#[test]
fn a_pump_starts_and_stops_at_its_levels_and_its_outflow_closes_the_balance() {
    // A closed pond (walls all round, no inflow) at 10.6 m; a pump out of the basin from
    // (1, 5), on at 10.5 m, off at 10.3 m.
    let mut s = channel(0.0, 10.0, EdgeBoundary::Wall);
    s.add_structure(Structure {
        name: "pump".into(),
        kind: StructureKind::Pump {
            head_flow: vec![(0.0, 2.0), (10.0, 1.0)],
            outlet_level_m: Some(12.0),
            control: (1, 5),
            start_level_m: 10.5,
            stop_level_m: 10.3,
        },
        links: vec![Link {
            a: (1, 5),
            b: None,
            share: 1.0,
        }],
    })
    .expect("pump");
    let depth = Array2::from_shape_fn((ROWS, COLS), |(_, c)| if c < WALL { 0.6 } else { 0.0 });
    s.set_depth(depth.view()).expect("depth");
    let mut stopped_at = None;
    while s.sim_time_s() < 2000.0 {
        s.step(2000.0).expect("stable");
        let on = s.structure_setting(0).expect("pump").running;
        if !on && stopped_at.is_none() {
            stopped_at = Some(s.sim_time_s());
        }
    }
    let stopped_at = stopped_at.expect("the pump stopped");
    // Lift 12 − 10.6 = 1.4 m: Q = 2 − 0.1 × 1.4 = 1.86 m³/s, falling to 1.83 at 10.3 m.
    // The pond (29 × 4 cells of 4 m²) holds 0.3 m × 464 m² = 139.2 m³ between the two
    // levels: it stops after about 139.2 / 1.845 = 75 s (the level near the pump dips
    // first, so a little sooner).
    assert!(
        (60.0..80.0).contains(&stopped_at),
        "stopped at {stopped_at} s"
    );
    let b = s.balance();
    assert!(b.structure_outflow_m3 > 100.0, "{b:?}");
    assert!(b.relative_error() < 1e-10, "{b:?}");
    // Off, the level stays (the pump does not restart below its start level).
    let level = 10.0 + s.depth_m()[(1, 5)];
    assert!(level < 10.5 && level > 10.2, "level {level}");
}

#[test]
fn structures_give_the_same_bits_on_one_and_two_threads() {
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            let mut s = channel(4.0, 8.0, EdgeBoundary::FreeOutflow);
            s.add_structure(weir(10.5, false)).expect("weir");
            s.add_structure(culvert()).expect("culvert");
            s.advance_to(600.0).expect("stable");
            s.depth_m().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        })
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn bad_structures_are_refused() {
    let mut s = channel(1.0, 8.0, EdgeBoundary::FreeOutflow);
    let mut w = weir(10.5, false);
    w.links[0].b = Some((1, WALL));
    assert!(s.add_structure(w).is_err(), "a link to a wall cell");
    let mut w = weir(10.5, false);
    if let StructureKind::Weir { length_m, .. } = &mut w.kind {
        *length_m = -1.0;
    }
    let e = s.add_structure(w).expect_err("negative length").to_string();
    assert!(e.contains("length_m"), "{e}");
    let mut w = weir(10.5, false);
    w.links[0].b = None;
    assert!(s.add_structure(w).is_err(), "a weir out of the basin");
}
