//! The solver against analytic solutions from SWASHES (Delestre et al. 2013), read from
//! `tests/data/swashes` (see its README for how each file was generated). Every 1D case
//! runs along x and along y; the two must agree.

mod common;

use common::{AXES, Axis, Channel, Swashes, centres, interp, relative_l1};
use hydro::{Boundaries, EdgeBoundary, Grid, Solver, SolverParams};
use ndarray::Array2;

// ---------------------------------------------------------------- lake at rest

/// Round-off bounds for a lake at rest after 1000 steps in f64: velocities and surface
/// errors grow from ~1e-17 per step; 1e-10 m/s and 1e-12 m leave margin and still fail
/// for any scheme that is not well balanced (those give errors of 1e-4 and more here).
const REST_SPEED_TOL_M_S: f64 = 1e-10;
const REST_SURFACE_TOL_M: f64 = 1e-12;

fn lake_at_rest(file: &str) {
    let reference = Swashes::load(file);
    let (x, h_ref, z) = (
        &reference.columns[0],
        &reference.columns[1],
        &reference.columns[3],
    );
    let surface = reference.param("h+z =");
    let dx = reference.param("Space step:");
    let mut results = Vec::new();
    for axis in AXES {
        let mut ch = Channel::new(
            axis,
            dx,
            z,
            0.0,
            EdgeBoundary::Wall,
            EdgeBoundary::Wall,
            SolverParams::default(),
        );
        let depth: Vec<f64> = z.iter().map(|&b| (surface - b).max(0.0)).collect();
        ch.set(&depth, &vec![0.0; depth.len()]);
        for _ in 0..1000 {
            ch.solver.step(f64::MAX).expect("stable");
        }
        let h = ch.depth();
        let q = ch.discharge();
        let max_speed = h
            .iter()
            .zip(&q)
            .filter(|(h, _)| **h > 0.0)
            .map(|(h, q)| (q / h).abs())
            .fold(0.0, f64::max);
        let max_surface_error = h
            .iter()
            .zip(z)
            .filter(|(h, _)| **h > 0.0)
            .map(|(h, z)| (h + z - surface).abs())
            .fold(0.0, f64::max);
        assert!(
            max_speed < REST_SPEED_TOL_M_S,
            "{file} {axis:?}: |u| = {max_speed:e}"
        );
        assert!(
            max_surface_error < REST_SURFACE_TOL_M,
            "{file} {axis:?}: |η − η₀| = {max_surface_error:e}"
        );
        // Cells above the surface (emerged bump) stay exactly dry; wet cells match SWASHES.
        for (i, (&h, &href)) in h.iter().zip(h_ref).enumerate() {
            // SWASHES prints 7 significant digits.
            assert!(
                (h - href).abs() < 1e-6,
                "{file} {axis:?} x = {}: h = {h}, SWASHES {href}",
                x[i]
            );
        }
        results.push(h);
    }
    assert_eq!(results[0], results[1], "{file}: x and y runs differ");
}

#[test]
fn lake_at_rest_immersed_bump() {
    lake_at_rest("1d_bump_lake_at_rest_immersed.dat");
}

#[test]
fn lake_at_rest_emerged_bump() {
    lake_at_rest("1d_bump_lake_at_rest_emerged.dat");
}

// ---------------------------------------------------------------- dam breaks

/// Run a flat frictionless dam break (dam at the middle of `length`) with `cells` cells
/// and return the relative L1 error of depth against the SWASHES reference at its time.
fn dam_break_error(file: &str, cells: usize, axis: Axis) -> (f64, Vec<f64>) {
    let reference = Swashes::load(file);
    let (xr, hr) = (&reference.columns[0], &reference.columns[1]);
    let length = reference.param("Length of the domain:");
    let dam = reference.param("Position of the dam: x=");
    let t_end = reference.param("Time value:");
    // Undisturbed depths at t_end: the far left and far right of the reference.
    let (h_left, h_right) = (hr[0], hr[hr.len() - 1]);

    let dx = length / cells as f64;
    let x = centres(cells, length);
    let mut ch = Channel::new(
        axis,
        dx,
        &vec![0.0; cells],
        0.0,
        EdgeBoundary::Wall,
        EdgeBoundary::Wall,
        SolverParams::default(),
    );
    let depth: Vec<f64> = x
        .iter()
        .map(|&x| if x < dam { h_left } else { h_right })
        .collect();
    ch.set(&depth, &vec![0.0; cells]);
    ch.solver.advance_to(t_end).expect("stable");
    assert_eq!(ch.solver.sim_time_s(), t_end);
    assert!(ch.cross_discharge().iter().all(|&q| q == 0.0));

    let h = ch.depth();
    let h_exact: Vec<f64> = x.iter().map(|&x| interp(xr, hr, x)).collect();
    (relative_l1(&h, &h_exact), h)
}

/// The bar for first-order schemes at 400 cells (2 %), and convergence: each
/// doubling of the cells must cut the error (first order → about ×0.5–0.7 near fronts).
fn dam_break_case(file: &str) {
    for_both_axes(|axis| {
        let (e200, _) = dam_break_error(file, 200, axis);
        let (e400, _) = dam_break_error(file, 400, axis);
        let (e800, _) = dam_break_error(file, 800, axis);
        eprintln!("{file} {axis:?}: L1 rel 200 {e200:.4e}, 400 {e400:.4e}, 800 {e800:.4e}");
        assert!(
            e400 <= 0.02,
            "{file} {axis:?}: L1 error {e400:.4} at 400 cells"
        );
        assert!(
            e400 < 0.8 * e200 && e800 < 0.8 * e400,
            "{file}: no convergence"
        );
    });
    let (_, hx) = dam_break_error(file, 400, Axis::X);
    let (_, hy) = dam_break_error(file, 400, Axis::Y);
    assert_eq!(hx, hy, "{file}: x and y runs differ");
}

fn for_both_axes(f: impl Fn(Axis)) {
    AXES.into_iter().for_each(f);
}

#[test]
fn ritter_dry_dam_break() {
    dam_break_case("1d_dambreak_dry_ritter.dat");
}

#[test]
fn stoker_wet_dam_break() {
    dam_break_case("1d_dambreak_wet_stoker.dat");
}

// ---------------------------------------------------------------- MacDonald

/// MacDonald's long subcritical channel with Manning friction (SWASHES 1 2 1 2): inflow
/// q = 2 m²/s upstream, fixed depth downstream, run from dry to steady state (reached by
/// t ≈ 2000 s; 4000 s is run). The 2 % bar on the depth profile is the issue's; the
/// cell discharges must be uniform to 1 %.
///
/// The inflow end is nearly critical (Fr = 0.986). There the first-order scheme forms a
/// numerical boundary layer of about four cells: the first cell sits 7–8 % above the
/// reference, the fifth 0.4 %. The test states it instead of hiding it: the profile as a
/// whole (relative L1) and every cell past the first five must be within 2 %, and the
/// boundary cell within 10 %.
#[test]
fn macdonald_subcritical_manning_steady_state() {
    let reference = Swashes::load("1d_macdonald_long_sub_manning.dat");
    let (h_ref, z) = (&reference.columns[1], &reference.columns[3]);
    let dx = reference.param("Space step:");
    let q_in = reference.param("Imposed discharge on the left boundary:");
    let h_out = reference.param("Imposed water height on the right boundary:");
    let n = reference.param("Manning's friction coefficient:");
    let mut profiles = Vec::new();
    for axis in AXES {
        let mut ch = Channel::new(
            axis,
            dx,
            z,
            n,
            EdgeBoundary::UnitDischarge { q_m2_s: q_in },
            EdgeBoundary::FixedDepth { depth_m: h_out },
            SolverParams::default(),
        );
        ch.solver.advance_to(4000.0).expect("stable");
        let h = ch.depth();
        let q = ch.discharge();
        let dev: Vec<f64> = h
            .iter()
            .zip(h_ref)
            .map(|(h, r)| ((h - r) / r).abs())
            .collect();
        let l1 = relative_l1(&h, h_ref);
        let max_past_layer = dev[5..].iter().copied().fold(0.0, f64::max);
        let q_dev = q
            .iter()
            .map(|q| ((q - q_in) / q_in).abs())
            .fold(0.0, f64::max);
        eprintln!(
            "MacDonald {axis:?}: L1 rel {l1:.3e}, boundary cell {:.3e}, max past 5 cells \
             {max_past_layer:.3e}, max |Δq|/q {q_dev:.3e}",
            dev[0]
        );
        assert!(q_dev < 0.01, "not steady: discharge off by {q_dev:.4}");
        assert!(
            l1 < 0.02,
            "depth profile off by {l1:.4} (L1) of the reference"
        );
        assert!(
            max_past_layer < 0.02,
            "depth off by {max_past_layer:.4} past the inflow"
        );
        assert!(dev[0] < 0.10, "inflow cell off by {:.4}", dev[0]);
        let balance = ch.solver.balance();
        assert!(balance.relative_error() < 1e-12, "{balance:?}");
        profiles.push(h);
    }
    assert_eq!(profiles[0], profiles[1], "x and y runs differ");
}

// ---------------------------------------------------------------- Thacker 2D

/// Thacker's radially symmetric oscillation in a paraboloid (SWASHES 2 1 1 1): exact
/// depth at time t on cell centres of an `n × n` grid over 4 m × 4 m.
struct Thacker {
    h0: f64,
    a: f64,
    r0: f64,
    g: f64,
    length: f64,
}

impl Thacker {
    fn omega(&self) -> f64 {
        (8.0 * self.g * self.h0).sqrt() / self.a
    }

    fn bed(&self, x: f64, y: f64) -> f64 {
        let r2 = (x - self.length / 2.0).powi(2) + (y - self.length / 2.0).powi(2);
        self.h0 * (r2 / (self.a * self.a) - 1.0)
    }

    fn depth(&self, x: f64, y: f64, t: f64) -> f64 {
        let (a2, r02) = (self.a * self.a, self.r0 * self.r0);
        let big_a = (a2 - r02) / (a2 + r02);
        let cos = (self.omega() * t).cos();
        let r2 = (x - self.length / 2.0).powi(2) + (y - self.length / 2.0).powi(2);
        let surface = self.h0
            * ((1.0 - big_a * big_a).sqrt() / (1.0 - big_a * cos)
                - 1.0
                - r2 / a2 * ((1.0 - big_a * big_a) / (1.0 - big_a * cos).powi(2) - 1.0));
        (surface - self.bed(x, y)).max(0.0)
    }

    /// Run one period on an n × n grid; return the RMS depth error (m) and the model depth.
    fn run_one_period(&self, n: usize) -> (f64, Array2<f64>) {
        let dx = self.length / n as f64;
        let xc = centres(n, self.length);
        let grid = Grid::new(n, n, dx, dx).expect("grid");
        // Row r is y, column c is x.
        let bed = Array2::from_shape_fn((n, n), |(r, c)| self.bed(xc[c], xc[r]));
        let manning = Array2::zeros((n, n));
        let mut solver = Solver::new(
            grid,
            bed.view(),
            manning.view(),
            None,
            Boundaries::walls(),
            SolverParams::default(),
        )
        .expect("solver");
        let h0 = Array2::from_shape_fn((n, n), |(r, c)| self.depth(xc[c], xc[r], 0.0));
        solver.set_depth(h0.view()).expect("state");
        let period = 2.0 * std::f64::consts::PI / self.omega();
        solver.advance_to(period).expect("stable");
        assert!(solver.balance().relative_error() < 1e-12);
        let h = solver.depth_m().to_owned();
        let exact = Array2::from_shape_fn((n, n), |(r, c)| self.depth(xc[c], xc[r], period));
        let rms = ((&h - &exact).mapv(|d| d * d).sum() / (n * n) as f64).sqrt();
        (rms, h)
    }
}

const THACKER: Thacker = Thacker {
    h0: 0.1,
    a: 1.0,
    r0: 0.8,
    g: 9.81,
    length: 4.0,
};

#[test]
fn thacker_formula_matches_swashes() {
    // Guards the exact solution used below: SWASHES prints it at t = 3 periods.
    let reference = Swashes::load("2d_thacker_radial_paraboloid.dat");
    let t = reference.param("Time value:");
    let (x, y, h) = (
        &reference.columns[0],
        &reference.columns[1],
        &reference.columns[2],
    );
    for i in 0..x.len() {
        let exact = THACKER.depth(x[i], y[i], t);
        // SWASHES prints 5 significant digits.
        assert!(
            (exact - h[i]).abs() < 1e-5,
            "({}, {}): {exact} vs {}",
            x[i],
            y[i],
            h[i]
        );
    }
}

/// First order smears the moving shoreline, so the error is set by the cells next to it
/// and falls about linearly with the cell size. Bars: RMS < 5 mm at 100² (5 % of h0) and a
/// drop by ≥ 25 % for each halving of the cell.
#[test]
fn thacker_radial_paraboloid_one_period() {
    let (e50, _) = THACKER.run_one_period(50);
    let (e100, h100) = THACKER.run_one_period(100);
    let (e200, _) = THACKER.run_one_period(200);
    eprintln!(
        "Thacker 2D RMS depth error after one period: 50² {e50:.3e} m, 100² {e100:.3e} m, 200² {e200:.3e} m"
    );
    assert!(e100 < 5e-3, "RMS error {e100:.3e} m at 100²");
    assert!(e100 < 0.75 * e50 && e200 < 0.75 * e100, "no convergence");
    // Radial symmetry survives the whole period (x ↔ y transpose).
    let asym = (&h100 - &h100.t())
        .mapv(f64::abs)
        .fold(0.0, |a: f64, &b| a.max(b));
    assert!(asym < 1e-12, "asymmetry {asym:e} m");
}

// ---------------------------------------------------------------- radial dam break

/// A cylinder of water collapsing on a dry, flat floor in a closed box stays 4-fold
/// symmetric: mirror in x, mirror in y, transpose. Round-off only (the update adds x
/// and y terms in a fixed order, so a transpose may differ in the last bits).
#[test]
fn radial_dam_break_stays_symmetric() {
    let n = 81;
    let grid = Grid::new(n, n, 1.0, 1.0).expect("grid");
    let bed = Array2::zeros((n, n));
    let manning = Array2::from_elem((n, n), 0.02);
    let mut solver = Solver::new(
        grid,
        bed.view(),
        manning.view(),
        None,
        Boundaries::walls(),
        SolverParams::default(),
    )
    .expect("solver");
    let mid = (n / 2) as f64;
    let h0 = Array2::from_shape_fn((n, n), |(r, c)| {
        let d2 = (r as f64 - mid).powi(2) + (c as f64 - mid).powi(2);
        if d2 < 15.0f64.powi(2) { 2.0 } else { 0.0 }
    });
    solver.set_depth(h0.view()).expect("state");
    solver.advance_to(8.0).expect("stable");
    let h = solver.depth_m();
    let max_h = h.fold(0.0, |a: f64, &b| a.max(b));
    let mut worst: f64 = 0.0;
    for r in 0..n {
        for c in 0..n {
            let v = h[(r, c)];
            for w in [h[(r, n - 1 - c)], h[(n - 1 - r, c)], h[(c, r)]] {
                worst = worst.max((v - w).abs());
            }
        }
    }
    assert!(
        worst < 1e-12 * max_h,
        "asymmetry {worst:e} m (max depth {max_h} m)"
    );
    // The front has spread beyond the initial cylinder.
    assert!(h[(n / 2, n / 2 + 25)] > 0.01);
}
