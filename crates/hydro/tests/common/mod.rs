//! Helpers shared by the solver's integration tests: reading SWASHES reference files and
//! laying a 1D case along x or along y; running a case dense and tiled side by side.
#![allow(dead_code)]

use std::path::PathBuf;

use hydro::{
    ArrClass, Boundaries, Edge, EdgeBoundary, EnvelopeSpec, Grid, HazardRule, Solver, SolverParams,
    Sweep, UkRating,
};
use ndarray::Array2;

/// A SWASHES output file: its `#` header and its numeric columns.
pub struct Swashes {
    pub header: String,
    pub columns: Vec<Vec<f64>>,
}

impl Swashes {
    /// `tests/data/swashes/<name>` at the workspace root (see its README).
    pub fn load(name: &str) -> Self {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/data/swashes")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut header = String::new();
        let mut columns: Vec<Vec<f64>> = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                header.push_str(line);
                header.push('\n');
                continue;
            }
            let values: Vec<f64> = line
                .split_whitespace()
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect();
            if values.is_empty() {
                continue;
            }
            if columns.is_empty() {
                columns = vec![Vec::new(); values.len()];
            }
            for (col, v) in columns.iter_mut().zip(values) {
                col.push(v);
            }
        }
        Self { header, columns }
    }

    /// The number after `key` in the header, e.g. `param("Time value:")`.
    pub fn param(&self, key: &str) -> f64 {
        let line = self
            .header
            .lines()
            .find(|l| l.contains(key))
            .unwrap_or_else(|| panic!("no `{key}` in header"));
        let rest = &line[line.find(key).expect("found above") + key.len()..];
        rest.split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number after `{key}` in `{line}`"))
    }
}

/// Linear interpolation of (xs, ys) at x; xs increasing; clamped at the ends.
pub fn interp(xs: &[f64], ys: &[f64], x: f64) -> f64 {
    if x <= xs[0] {
        return ys[0];
    }
    if x >= xs[xs.len() - 1] {
        return ys[ys.len() - 1];
    }
    let i = xs.partition_point(|&v| v <= x) - 1;
    let t = (x - xs[i]) / (xs[i + 1] - xs[i]);
    ys[i] + t * (ys[i + 1] - ys[i])
}

/// Σ|a − b| / Σ|b|.
pub fn relative_l1(model: &[f64], reference: &[f64]) -> f64 {
    let num: f64 = model
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .sum();
    let den: f64 = reference.iter().map(|b| b.abs()).sum();
    num / den
}

/// Which grid axis a 1D case is laid along.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Axis {
    X,
    Y,
}

pub const AXES: [Axis; 2] = [Axis::X, Axis::Y];

/// A 1D channel of `n` cells of `dx` along `axis`, one cell wide, with the given
/// conditions at the start (x = 0) and end of the channel; the sides are walls.
pub struct Channel {
    pub axis: Axis,
    pub solver: Solver,
}

impl Channel {
    pub fn new(
        axis: Axis,
        dx: f64,
        bed: &[f64],
        manning_n: f64,
        start: EdgeBoundary,
        end: EdgeBoundary,
        params: SolverParams,
    ) -> Self {
        let n = bed.len();
        let (shape, grid, boundaries) = match axis {
            Axis::X => (
                (1, n),
                Grid::new(1, n, dx, dx),
                Boundaries::walls()
                    .with_edge(Edge::West, start)
                    .with_edge(Edge::East, end),
            ),
            Axis::Y => (
                (n, 1),
                Grid::new(n, 1, dx, dx),
                Boundaries::walls()
                    .with_edge(Edge::North, start)
                    .with_edge(Edge::South, end),
            ),
        };
        let bed = Array2::from_shape_vec(shape, bed.to_vec()).expect("shape");
        let manning = Array2::from_elem(shape, manning_n);
        let solver = Solver::new(
            grid.expect("valid grid"),
            bed.view(),
            manning.view(),
            None,
            boundaries,
            params,
        )
        .expect("valid solver");
        Self { axis, solver }
    }

    fn shape(&self, n: usize) -> (usize, usize) {
        match self.axis {
            Axis::X => (1, n),
            Axis::Y => (n, 1),
        }
    }

    /// Set depth and discharge along the channel (discharge along the channel axis).
    pub fn set(&mut self, depth: &[f64], q: &[f64]) {
        let shape = self.shape(depth.len());
        let h = Array2::from_shape_vec(shape, depth.to_vec()).expect("shape");
        let q = Array2::from_shape_vec(shape, q.to_vec()).expect("shape");
        let zero = Array2::zeros(shape);
        let (qx, qy) = match self.axis {
            Axis::X => (q.view(), zero.view()),
            Axis::Y => (zero.view(), q.view()),
        };
        self.solver
            .set_state(h.view(), qx, qy)
            .expect("valid state");
    }

    pub fn depth(&self) -> Vec<f64> {
        self.solver.depth_m().iter().copied().collect()
    }

    /// Discharge along the channel axis (m²/s).
    pub fn discharge(&self) -> Vec<f64> {
        match self.axis {
            Axis::X => self.solver.qx_m2_s().iter().copied().collect(),
            Axis::Y => self.solver.qy_m2_s().iter().copied().collect(),
        }
    }

    /// Discharge across the channel: must stay zero in a 1D case.
    pub fn cross_discharge(&self) -> Vec<f64> {
        match self.axis {
            Axis::X => self.solver.qy_m2_s().iter().copied().collect(),
            Axis::Y => self.solver.qx_m2_s().iter().copied().collect(),
        }
    }
}

/// Cell centres of `n` cells over `length`.
pub fn centres(n: usize, length: f64) -> Vec<f64> {
    let dx = length / n as f64;
    (0..n).map(|i| (i as f64 + 0.5) * dx).collect()
}

/// A seeded SplitMix64 generator, so random tests are reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Tiles of 8 × 16 cells, so that a small grid has many of them.
pub const TILE: (usize, usize) = (8, 16);

/// Two solvers of the same case, tracking envelopes: one dense that sweeps each tile on its
/// own, and one tiled that sweeps neighbouring tiles as one rectangle (the default).
pub fn pair(make: impl Fn() -> Solver) -> (Solver, Solver) {
    let spec = EnvelopeSpec {
        wet_depth_m: 0.01,
        hazard: HazardRule::Uk(UkRating {
            debris_factor: vec![(0.25, 0.0), (0.75, 0.5), (f64::INFINITY, 1.0)],
            class_limits: vec![0.75, 1.25, 2.0],
        }),
    };
    let mut solvers = [Sweep::Dense, Sweep::Active].map(|sweep| {
        let mut s = make();
        s.set_sweep(sweep);
        s.set_tile_size(TILE.0, TILE.1);
        if sweep == Sweep::Dense {
            s.set_span_tiles(1);
        }
        s.track_envelopes(spec.clone()).expect("envelopes");
        s
    });
    let [dense, tiled] = std::mem::replace(&mut solvers, [make(), make()]);
    (dense, tiled)
}

/// Everything a run writes or carries on with, bit for bit.
pub fn assert_same(dense: &Solver, tiled: &Solver, when: &str) {
    assert!(dense.depth_m() == tiled.depth_m(), "depth differs {when}");
    assert!(dense.qx_m2_s() == tiled.qx_m2_s(), "qx differs {when}");
    assert!(dense.qy_m2_s() == tiled.qy_m2_s(), "qy differs {when}");
    assert_eq!(
        dense.sim_time_s(),
        tiled.sim_time_s(),
        "time differs {when}"
    );
    assert_eq!(dense.balance(), tiled.balance(), "balance differs {when}");
    let (a, b) = (
        dense.envelopes().expect("tracked"),
        tiled.envelopes().expect("tracked"),
    );
    let bits = |v: ndarray::ArrayView2<'_, f32>| v.mapv(f32::to_bits);
    assert!(
        bits(a.max_depth_m) == bits(b.max_depth_m),
        "max depth differs {when}"
    );
    assert!(
        bits(a.max_speed_m_s) == bits(b.max_speed_m_s),
        "max speed differs {when}"
    );
    assert!(
        bits(a.max_hazard) == bits(b.max_hazard),
        "hazard differs {when}"
    );
    assert!(
        bits(a.first_inundation_s) == bits(b.first_inundation_s),
        "arrival differs {when}"
    );
    assert!(
        a.duration_inundated_s.to_owned() == b.duration_inundated_s.to_owned(),
        "duration differs {when}"
    );
}

/// Step both to `t_s`, comparing after every step; returns the tiled solver's swept cells
/// per step over the stretch.
pub fn step_both(dense: &mut Solver, tiled: &mut Solver, t_s: f64) -> Vec<u64> {
    let mut swept = Vec::new();
    while tiled.sim_time_s() < t_s {
        let before = tiled.swept_cells();
        dense.step(t_s).expect("dense step");
        tiled.step(t_s).expect("tiled step");
        swept.push(tiled.swept_cells() - before);
        assert_same(dense, tiled, &format!("at t = {} s", tiled.sim_time_s()));
    }
    swept
}

/// The ARR 2019 hazard classes H1–H5 limits (Book 6 ch. 7; the table rivertwin ships in
/// crates/basin/data/hazard.toml), nested.
pub fn arr_classes() -> HazardRule {
    let c = |class, d, v, dv| ArrClass {
        class,
        max_depth_m: d,
        max_speed_m_s: v,
        max_depth_speed_m2_s: dv,
    };
    HazardRule::Arr(vec![
        c(1, 0.3, 2.0, 0.3),
        c(2, 0.5, 2.0, 0.6),
        c(3, 1.2, 2.0, 0.6),
        c(4, 2.0, 2.0, 1.0),
        c(5, 4.0, 4.0, 4.0),
    ])
}

/// Every cell's time under water so far, as bits.
pub fn duration_bits(s: &Solver) -> Array2<u64> {
    s.envelopes()
        .expect("tracked")
        .duration_inundated_s
        .to_owned()
        .mapv(f64::to_bits)
}
