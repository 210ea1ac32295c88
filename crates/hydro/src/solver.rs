//! The solver: state, static fields and the time-step pipeline.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boundary::{Boundaries, EdgeBoundary, ghost_state};
use crate::kernel::{self, BlockScratch, BlockTotals, EdgeFlux, Fields, Simd, StepCoeffs};
use crate::{Edge, Grid, SolverError};

/// Numerical settings. The defaults suit flood modelling on DEM grids.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SolverParams {
    /// Courant number. 0.5 keeps depths non-negative in the 2D unsplit scheme.
    pub cfl: f64,
    /// Upper cap on the time step (s), also used while the domain is dry.
    pub max_dt_s: f64,
    /// Below this depth (m) a cell is dry: its velocity is zero.
    pub dry_depth_m: f64,
    /// Gravitational acceleration (m/s²).
    pub gravity_m_s2: f64,
}

impl Default for SolverParams {
    fn default() -> Self {
        Self {
            cfl: 0.5,
            max_dt_s: 10.0,
            dry_depth_m: 1e-6,
            gravity_m_s2: 9.81,
        }
    }
}

impl SolverParams {
    fn validate(&self) -> Result<(), SolverError> {
        let checks: [(&'static str, f64, bool, &'static str); 4] = [
            (
                "cfl",
                self.cfl,
                self.cfl > 0.0 && self.cfl <= 1.0,
                "a Courant number in (0, 1]; 0.5 is safe",
            ),
            (
                "max_dt_s",
                self.max_dt_s,
                self.max_dt_s > 0.0 && self.max_dt_s.is_finite(),
                "a finite time in seconds > 0",
            ),
            (
                "dry_depth_m",
                self.dry_depth_m,
                self.dry_depth_m > 0.0 && self.dry_depth_m < 1.0,
                "a small depth in metres, typically 1e-6 to 1e-3",
            ),
            (
                "gravity_m_s2",
                self.gravity_m_s2,
                self.gravity_m_s2 > 0.0 && self.gravity_m_s2.is_finite(),
                "a positive acceleration, 9.81 m/s² on Earth",
            ),
        ];
        for (name, value, ok, expected) in checks {
            if !ok {
                return Err(SolverError::InvalidParameter {
                    name,
                    value,
                    expected,
                });
            }
        }
        Ok(())
    }
}

/// What one step did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct StepReport {
    pub step: u64,
    pub dt_s: f64,
    /// Simulated time at the end of the step.
    pub sim_time_s: f64,
    /// Water stored on the grid at the end of the step.
    pub volume_m3: f64,
    /// Volume that entered / left through the domain edges during the step.
    pub boundary_inflow_m3: f64,
    pub boundary_outflow_m3: f64,
}

/// The water balance since the state was set. All terms in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct WaterBalance {
    pub initial_storage_m3: f64,
    pub storage_m3: f64,
    pub boundary_inflow_m3: f64,
    pub boundary_outflow_m3: f64,
}

impl WaterBalance {
    /// storage − initial − (in − out): zero for a conservative run.
    pub fn residual_m3(&self) -> f64 {
        (self.storage_m3 - self.initial_storage_m3)
            - (self.boundary_inflow_m3 - self.boundary_outflow_m3)
    }

    /// |residual| / max(initial storage, storage, inflow): the relative volume error.
    pub fn relative_error(&self) -> f64 {
        let scale = self
            .initial_storage_m3
            .max(self.storage_m3)
            .max(self.boundary_inflow_m3);
        if scale > 0.0 {
            self.residual_m3().abs() / scale
        } else {
            0.0
        }
    }
}

/// Figures describing the current state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct StateSummary {
    pub volume_m3: f64,
    pub max_depth_m: f64,
    pub max_speed_m_s: f64,
    /// Cells deeper than the dry depth.
    pub wet_cells: usize,
}

#[derive(Clone, Debug)]
struct Conserved {
    h: Array2<f64>,
    qx: Array2<f64>,
    qy: Array2<f64>,
}

impl Conserved {
    fn zeros(rows: usize, cols: usize) -> Self {
        let shape = (rows + 2, cols + 2);
        Self {
            h: Array2::zeros(shape),
            qx: Array2::zeros(shape),
            qy: Array2::zeros(shape),
        }
    }
}

/// Rows per parallel block: fixed by the grid alone, never by the thread count, so that
/// results are bit-identical for any number of threads.
fn rows_per_block(rows: usize) -> usize {
    (rows / 64).clamp(8, 32).min(rows)
}

/// A 2D shallow-water model on a raster grid, ready to step.
///
/// Finite volumes, first order, HLLC fluxes on the hydrostatically reconstructed states of
/// Audusse et al. (2004): well balanced (a lake at rest stays at rest over any bed),
/// depth-positive under `cfl ≤ 0.5`, wetting and drying without special cases. Manning
/// friction is semi-implicit. State is stored in f64 so that the volume balance closes
/// to round-off.
#[derive(Debug)]
pub struct Solver {
    grid: Grid,
    params: SolverParams,
    boundaries: Boundaries,
    simd: Simd,
    cur: Conserved,
    next: Conserved,
    bed_m: Array2<f64>,
    g_n2: Array2<f64>,
    active: Array2<u8>,
    /// Fluxes imposed on edge faces, in the order of `Edge::ALL`.
    edge_flux: [EdgeFlux; 4],
    blocks: Vec<BlockScratch>,
    block_totals: Vec<BlockTotals>,
    rows_per_block: usize,
    sim_time_s: f64,
    steps: u64,
    /// max((|u|+c)/dx, (|v|+c)/dy) over the current state (1/s).
    max_rate_per_s: f64,
    balance: WaterBalance,
}

/// The cells of a padded array without its ghost ring.
fn inner<T>(a: &Array2<T>) -> ArrayView2<'_, T> {
    let (r, c) = a.dim();
    a.slice(s![1..r - 1, 1..c - 1])
}

fn inner_mut<T>(a: &mut Array2<T>) -> ndarray::ArrayViewMut2<'_, T> {
    let (r, c) = a.dim();
    a.slice_mut(s![1..r - 1, 1..c - 1])
}

fn check_shape<T>(
    field: &'static str,
    grid: &Grid,
    a: &ArrayView2<'_, T>,
) -> Result<(), SolverError> {
    let (got_rows, got_cols) = a.dim();
    if (got_rows, got_cols) != (grid.rows, grid.cols) {
        return Err(SolverError::ShapeMismatch {
            field,
            rows: grid.rows,
            cols: grid.cols,
            got_rows,
            got_cols,
        });
    }
    Ok(())
}

impl Solver {
    /// A solver over `bed_m` (m) with Manning `manning_n` (s/m^⅓) per cell. Cells where
    /// `active` is false (e.g. DEM nodata) are walls; their bed and roughness are ignored.
    /// The domain starts dry at t = 0.
    pub fn new(
        grid: Grid,
        bed_m: ArrayView2<'_, f64>,
        manning_n: ArrayView2<'_, f64>,
        active: Option<ArrayView2<'_, bool>>,
        boundaries: Boundaries,
        params: SolverParams,
    ) -> Result<Self, SolverError> {
        grid.validate()?;
        params.validate()?;
        boundaries.validate()?;
        check_shape("bed_m", &grid, &bed_m)?;
        check_shape("manning_n", &grid, &manning_n)?;
        if let Some(a) = &active {
            check_shape("active", &grid, a)?;
        }
        let is_active = |r: usize, c: usize| active.as_ref().is_none_or(|a| a[(r, c)]);

        let (rows, cols) = (grid.rows, grid.cols);
        let mut bed = Array2::zeros((rows + 2, cols + 2));
        let mut g_n2 = Array2::zeros((rows + 2, cols + 2));
        let mut act = Array2::<u8>::zeros((rows + 2, cols + 2));
        for ((r, c), &z) in bed_m.indexed_iter() {
            if !is_active(r, c) {
                continue;
            }
            if !z.is_finite() {
                return Err(SolverError::InvalidCell {
                    field: "bed_m",
                    row: r,
                    col: c,
                    value: z,
                    expected: "a finite elevation in metres; mark missing cells inactive",
                });
            }
            let n = manning_n[(r, c)];
            if !(n.is_finite() && n >= 0.0) {
                return Err(SolverError::InvalidCell {
                    field: "manning_n",
                    row: r,
                    col: c,
                    value: n,
                    expected: "Manning's n is finite and ≥ 0 s/m^(1/3), typically 0.01–0.2",
                });
            }
            bed[(r + 1, c + 1)] = z;
            g_n2[(r + 1, c + 1)] = params.gravity_m_s2 * n * n;
            act[(r + 1, c + 1)] = 1;
        }

        let block = rows_per_block(rows);
        let n_blocks = rows.div_ceil(block);
        let mut solver = Self {
            grid,
            params,
            boundaries,
            simd: Simd::detect(),
            cur: Conserved::zeros(rows, cols),
            next: Conserved::zeros(rows, cols),
            bed_m: bed,
            g_n2,
            active: act,
            edge_flux: [
                EdgeFlux::new(cols + 2),
                EdgeFlux::new(cols + 2),
                EdgeFlux::new(rows + 2),
                EdgeFlux::new(rows + 2),
            ],
            blocks: (0..n_blocks).map(|_| BlockScratch::new(cols)).collect(),
            block_totals: vec![BlockTotals::default(); n_blocks],
            rows_per_block: block,
            sim_time_s: 0.0,
            steps: 0,
            max_rate_per_s: 0.0,
            balance: WaterBalance::default(),
        };
        solver.init_ghost_ring();
        solver.refresh();
        Ok(solver)
    }

    /// Set depth (m) and unit discharges (m²/s) and restart the water balance from here.
    /// Inactive cells are kept dry.
    pub fn set_state(
        &mut self,
        depth_m: ArrayView2<'_, f64>,
        qx_m2_s: ArrayView2<'_, f64>,
        qy_m2_s: ArrayView2<'_, f64>,
    ) -> Result<(), SolverError> {
        check_shape("depth_m", &self.grid, &depth_m)?;
        check_shape("qx_m2_s", &self.grid, &qx_m2_s)?;
        check_shape("qy_m2_s", &self.grid, &qy_m2_s)?;
        for (field, a, non_negative) in [
            ("depth_m", &depth_m, true),
            ("qx_m2_s", &qx_m2_s, false),
            ("qy_m2_s", &qy_m2_s, false),
        ] {
            if let Some(((row, col), &value)) = a
                .indexed_iter()
                .find(|(_, v)| !v.is_finite() || (non_negative && **v < 0.0))
            {
                return Err(SolverError::InvalidCell {
                    field,
                    row,
                    col,
                    value,
                    expected: if non_negative {
                        "a finite depth ≥ 0 m"
                    } else {
                        "a finite unit discharge in m²/s"
                    },
                });
            }
        }
        let act = inner(&self.active);
        for (dst, src) in [
            (&mut self.cur.h, &depth_m),
            (&mut self.cur.qx, &qx_m2_s),
            (&mut self.cur.qy, &qy_m2_s),
        ] {
            ndarray::Zip::from(inner_mut(dst))
                .and(src)
                .and(&act)
                .for_each(|d, &v, &a| *d = if a != 0 { v } else { 0.0 });
        }
        self.refresh();
        self.balance = WaterBalance {
            initial_storage_m3: self.balance.storage_m3,
            storage_m3: self.balance.storage_m3,
            ..WaterBalance::default()
        };
        Ok(())
    }

    /// Set the depth (m) with the water at rest.
    pub fn set_depth(&mut self, depth_m: ArrayView2<'_, f64>) -> Result<(), SolverError> {
        let zeros = Array2::zeros(depth_m.dim());
        self.set_state(depth_m, zeros.view(), zeros.view())
    }

    /// Advance one step, as long as the CFL condition and `max_dt_s` allow but not past
    /// `end_at_s`, so that a caller can land exactly on its output times.
    ///
    /// The whole pipeline, in order:
    /// 1. dt from the CFL condition (wave speeds found by the previous sweep);
    /// 2. one fused parallel sweep over row blocks: face fluxes → conservative update →
    ///    sources → Manning friction → wet/dry → per-block totals;
    /// 3. blow-up check (the state stays at the last good step on error);
    /// 4. boundaries: ghost cells of the new state;
    /// 5. volume totals and the water balance.
    pub fn step(&mut self, end_at_s: f64) -> Result<StepReport, SolverError> {
        // 1. Time step.
        let remaining = end_at_s - self.sim_time_s;
        if remaining.is_nan() || remaining <= 0.0 {
            return Err(SolverError::InvalidParameter {
                name: "end_at_s",
                value: end_at_s,
                expected: "a time later than the current simulated time",
            });
        }
        let cfl_dt = if self.max_rate_per_s > 0.0 {
            self.params.cfl / self.max_rate_per_s
        } else {
            f64::INFINITY
        };
        let dt = cfl_dt.min(self.params.max_dt_s).min(remaining);

        // 2. Fused sweep.
        self.sweep(dt);

        // 3. Blow-up check.
        let mut t = BlockTotals::default();
        for b in &self.block_totals {
            t.depth_sum_m += b.depth_sum_m;
            t.max_rate_per_s = t.max_rate_per_s.max(b.max_rate_per_s);
            t.x_in_m2_s += b.x_in_m2_s;
            t.x_out_m2_s += b.x_out_m2_s;
            t.y_in_m2_s += b.y_in_m2_s;
            t.y_out_m2_s += b.y_out_m2_s;
        }
        if t.max_rate_per_s.is_infinite() {
            return Err(self.blow_up(dt));
        }

        // 4. Boundaries.
        std::mem::swap(&mut self.cur, &mut self.next);
        let ghost_rate = self.fill_ghosts();

        // 5. Totals.
        let end = if dt == remaining {
            end_at_s
        } else {
            self.sim_time_s + dt
        };
        self.sim_time_s = end;
        self.steps += 1;
        self.max_rate_per_s = t.max_rate_per_s.max(ghost_rate);
        let volume = t.depth_sum_m * self.grid.cell_area_m2();
        let inflow = dt * (t.x_in_m2_s * self.grid.dy_m + t.y_in_m2_s * self.grid.dx_m);
        let outflow = dt * (t.x_out_m2_s * self.grid.dy_m + t.y_out_m2_s * self.grid.dx_m);
        self.balance.storage_m3 = volume;
        self.balance.boundary_inflow_m3 += inflow;
        self.balance.boundary_outflow_m3 += outflow;
        Ok(StepReport {
            step: self.steps,
            dt_s: dt,
            sim_time_s: end,
            volume_m3: volume,
            boundary_inflow_m3: inflow,
            boundary_outflow_m3: outflow,
        })
    }

    /// Step until `t_s`, landing on it exactly. Returns the number of steps taken.
    pub fn advance_to(&mut self, t_s: f64) -> Result<u64, SolverError> {
        let start = self.steps;
        while self.sim_time_s < t_s {
            self.step(t_s)?;
        }
        Ok(self.steps - start)
    }

    fn sweep(&mut self, dt: f64) {
        let g = &self.grid;
        let k = StepCoeffs {
            rows: g.rows,
            cols: g.cols,
            stride: g.cols + 2,
            dt_s: dt,
            rx: dt / g.dx_m,
            ry: dt / g.dy_m,
            inv_dx: 1.0 / g.dx_m,
            inv_dy: 1.0 / g.dy_m,
            g: self.params.gravity_m_s2,
            dry_depth_m: self.params.dry_depth_m,
            negative_tolerance_m: 1e-12,
        };
        const CONTIGUOUS: &str = "solver arrays are created contiguous";
        let old = Fields {
            h: self.cur.h.as_slice().expect(CONTIGUOUS),
            qx: self.cur.qx.as_slice().expect(CONTIGUOUS),
            qy: self.cur.qy.as_slice().expect(CONTIGUOUS),
            z: self.bed_m.as_slice().expect(CONTIGUOUS),
            g_n2: self.g_n2.as_slice().expect(CONTIGUOUS),
            active: self.active.as_slice().expect(CONTIGUOUS),
            edge_flux: &self.edge_flux,
        };
        let interior = k.stride..(k.rows + 1) * k.stride;
        let block_len = self.rows_per_block * k.stride;
        let h = &mut self.next.h.as_slice_mut().expect(CONTIGUOUS)[interior.clone()];
        let qx = &mut self.next.qx.as_slice_mut().expect(CONTIGUOUS)[interior.clone()];
        let qy = &mut self.next.qy.as_slice_mut().expect(CONTIGUOUS)[interior];
        let (simd, rows_per_block) = (self.simd, self.rows_per_block);
        (
            h.par_chunks_mut(block_len),
            qx.par_chunks_mut(block_len),
            qy.par_chunks_mut(block_len),
            self.blocks.par_iter_mut(),
            self.block_totals.par_iter_mut(),
        )
            .into_par_iter()
            .enumerate()
            .for_each(|(i, (h, qx, qy, scratch, totals))| {
                let first_row = 1 + i * rows_per_block;
                *totals = kernel::sweep_block(simd, &old, &k, first_row, h, qx, qy, scratch);
            });
    }

    /// The error for a failed sweep: the first bad cell in row-major order.
    fn blow_up(&self, dt: f64) -> SolverError {
        let h = inner(&self.next.h);
        let qx = inner(&self.next.qx);
        let qy = inner(&self.next.qy);
        let ((row, col), depth) = h
            .indexed_iter()
            .find(|&((r, c), &d)| !(d >= 0.0 && qx[(r, c)].is_finite() && qy[(r, c)].is_finite()))
            .map(|(i, &d)| (i, d))
            .unwrap_or(((0, 0), f64::NAN));
        SolverError::BlowUp {
            step: self.steps + 1,
            sim_time_s: self.sim_time_s + dt,
            dt_s: dt,
            row,
            col,
            depth_m: depth,
            qx_m2_s: qx[(row, col)],
            qy_m2_s: qy[(row, col)],
        }
    }

    /// Ghost ring: walls are inactive ghosts; other edges get an active ghost with the bed
    /// of its edge cell.
    fn init_ghost_ring(&mut self) {
        for edge in Edge::ALL {
            let open = !self.boundaries.get(edge).is_wall();
            for i in 0..self.grid.edge_len(edge) {
                let (inner, ghost) = self.edge_cells(edge, i);
                let edge_active = self.active[inner] != 0;
                self.active[ghost] = u8::from(open && edge_active);
                self.bed_m[ghost] = self.bed_m[inner];
            }
        }
    }

    /// (edge cell, ghost cell) as padded indices for position `i` along `edge`.
    fn edge_cells(&self, edge: Edge, i: usize) -> ((usize, usize), (usize, usize)) {
        let (rows, cols) = (self.grid.rows, self.grid.cols);
        match edge {
            Edge::North => ((1, i + 1), (0, i + 1)),
            Edge::South => ((rows, i + 1), (rows + 1, i + 1)),
            Edge::West => ((i + 1, 1), (i + 1, 0)),
            Edge::East => ((i + 1, cols), (i + 1, cols + 1)),
        }
    }

    /// Set the ghost cells of the current state from its edge cells; returns the largest
    /// CFL rate among them.
    fn fill_ghosts(&mut self) -> f64 {
        let g = self.params.gravity_m_s2;
        let dry = self.params.dry_depth_m;
        let mut max_rate: f64 = 0.0;
        for (e, edge) in Edge::ALL.into_iter().enumerate() {
            let bc = self.boundaries.get(edge);
            if bc.is_wall() {
                continue;
            }
            // +1 when the inward normal points along +x / +row.
            let (inward_sign, normal_is_x) = match edge {
                Edge::West => (1.0, true),
                Edge::East => (-1.0, true),
                Edge::North => (1.0, false),
                Edge::South => (-1.0, false),
            };
            for i in 0..self.grid.edge_len(edge) {
                let (inner, ghost) = self.edge_cells(edge, i);
                if self.active[ghost] == 0 {
                    continue;
                }
                let h = self.cur.h[inner];
                let (qn, qt) = if normal_is_x {
                    (self.cur.qx[inner], self.cur.qy[inner])
                } else {
                    (self.cur.qy[inner], self.cur.qx[inner])
                };
                let (un, ut) = if h > dry {
                    (qn / h, qt / h)
                } else {
                    (0.0, 0.0)
                };
                let gs = ghost_state(bc, h, inward_sign * un, ut, g);
                // A known inflow is imposed as the face flux itself, so that exactly that
                // discharge enters; the edge depth sets the momentum flux.
                if let EdgeBoundary::UnitDischarge { q_m2_s } = bc {
                    let pos = if normal_is_x { inner.0 } else { inner.1 };
                    let flux = &mut self.edge_flux[e];
                    flux.imposed[pos] = 1;
                    flux.inflow_m2_s[pos] = q_m2_s;
                    flux.momentum_m3_s2[pos] = if gs.h > 0.0 {
                        q_m2_s * q_m2_s / gs.h + 0.5 * g * gs.h * gs.h
                    } else {
                        0.0
                    };
                }
                let qn_ghost = inward_sign * gs.un_inward * gs.h;
                let qt_ghost = gs.ut * gs.h;
                self.cur.h[ghost] = gs.h;
                if normal_is_x {
                    self.cur.qx[ghost] = qn_ghost;
                    self.cur.qy[ghost] = qt_ghost;
                } else {
                    self.cur.qy[ghost] = qn_ghost;
                    self.cur.qx[ghost] = qt_ghost;
                }
                if gs.h > dry {
                    let c = (g * gs.h).sqrt();
                    let (dn, dt) = if normal_is_x {
                        (self.grid.dx_m, self.grid.dy_m)
                    } else {
                        (self.grid.dy_m, self.grid.dx_m)
                    };
                    max_rate = max_rate
                        .max((gs.un_inward.abs() + c) / dn)
                        .max((gs.ut.abs() + c) / dt);
                }
            }
        }
        max_rate
    }

    /// Recompute ghosts, the CFL rate and the stored volume from the current state.
    fn refresh(&mut self) {
        let ghost_rate = self.fill_ghosts();
        let g = self.params.gravity_m_s2;
        let dry = self.params.dry_depth_m;
        let (dx, dy) = (self.grid.dx_m, self.grid.dy_m);
        let mut rate: f64 = 0.0;
        let mut depth_sum = 0.0;
        ndarray::Zip::from(inner(&self.cur.h))
            .and(inner(&self.cur.qx))
            .and(inner(&self.cur.qy))
            .for_each(|&h, &qx, &qy| {
                depth_sum += h;
                if h > dry {
                    let c = (g * h).sqrt();
                    rate = rate
                        .max((qx.abs() / h + c) / dx)
                        .max((qy.abs() / h + c) / dy);
                }
            });
        self.max_rate_per_s = rate.max(ghost_rate);
        self.balance.storage_m3 = depth_sum * self.grid.cell_area_m2();
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn params(&self) -> &SolverParams {
        &self.params
    }

    pub fn boundaries(&self) -> &Boundaries {
        &self.boundaries
    }

    pub fn sim_time_s(&self) -> f64 {
        self.sim_time_s
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Depth (m) of every cell, `rows × cols`.
    pub fn depth_m(&self) -> ArrayView2<'_, f64> {
        inner(&self.cur.h)
    }

    /// Unit discharge along +column (m²/s).
    pub fn qx_m2_s(&self) -> ArrayView2<'_, f64> {
        inner(&self.cur.qx)
    }

    /// Unit discharge along +row (m²/s).
    pub fn qy_m2_s(&self) -> ArrayView2<'_, f64> {
        inner(&self.cur.qy)
    }

    /// Bed elevation (m); inactive cells read 0.
    pub fn bed_m(&self) -> ArrayView2<'_, f64> {
        inner(&self.bed_m)
    }

    pub fn balance(&self) -> WaterBalance {
        self.balance
    }

    pub fn summary(&self) -> StateSummary {
        let dry = self.params.dry_depth_m;
        let mut out = StateSummary {
            volume_m3: self.balance.storage_m3,
            ..StateSummary::default()
        };
        ndarray::Zip::from(self.depth_m())
            .and(self.qx_m2_s())
            .and(self.qy_m2_s())
            .for_each(|&h, &qx, &qy| {
                out.max_depth_m = out.max_depth_m.max(h);
                if h > dry {
                    out.wet_cells += 1;
                    out.max_speed_m_s = out.max_speed_m_s.max(qx.hypot(qy) / h);
                }
            });
        out
    }
}
