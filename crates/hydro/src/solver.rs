//! The solver: state, static fields and the time-step pipeline.

use ndarray::{Array2, ArrayView2, s};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::boundary::{BoundarySegment, EdgeCell, critical_depth, ghost_state, inflow_ghost};
use crate::envelope::{
    EnvelopeRow, EnvelopeSpec, EnvelopeState, Envelopes, LANES, Spells, track_row,
};
use crate::kernel::{
    self, BlockScratch, BlockTotals, EdgeFlux, Fields, Out, Simd, StepCoeffs, Tile, Tracking,
};
use crate::muscl::{self, Base, Fv2Scratch, Fv2Sweep};
use crate::state::{BreachProgress, EnvelopeValues, SolverState};
use crate::structures::{Structure, StructureFlow, StructureSetting};
use crate::tiles::{Sweep, TILE_COLS, Tiles, rows_per_tile};
use crate::{
    Boundaries, Breach, BreachStatus, BreachTrigger, Edge, EdgeBoundary, Grid, Losses, PointSource,
    SolverError, TimeSeries,
};

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
    /// Which tiles a step sweeps: `active` (only where water is or can arrive) or
    /// `dense` (every tile, the reference); the results are the same bits.
    pub sweep: Sweep,
    /// The hydrostatic reconstruction's bed terms: `audusse` (Audusse et al. 2004, the
    /// default), `subcell` (Chen & Noelle 2017), which does not hold thin flows back on
    /// beds steeper per cell than their depth, or `energy` (`subcell`, and across a bed
    /// step covered by moving water the discharge and energy head are kept).
    pub reconstruction: Reconstruction,
    /// The order of the scheme: `fv1` (first order, the default) or `fv2` (MUSCL with a
    /// minmod limiter, MUSCL–Hancock or Heun in time; see `muscl`). fv2 takes half fv1's step for
    /// the same `cfl`, the bound that keeps its depths non-negative.
    pub scheme: Scheme,
    /// fv2's second-order time integration: `hancock` (MUSCL–Hancock's half-step
    /// predictor, one flux sweep per step; the default) or `heun` (two flux sweeps per
    /// step). fv1 ignores it.
    pub time_integration: TimeIntegration,
}

/// How fv2 reaches second order in time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeIntegration {
    /// The face states predicted half a step ahead from the cell's slopes (Toro 2001,
    /// §14.4), then one flux sweep.
    #[default]
    Hancock,
    /// Heun's method (Shu & Osher's two-stage SSP Runge–Kutta): two flux sweeps.
    Heun,
}

/// The order of the finite-volume scheme.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    /// First order in space and time (Godunov, forward Euler).
    #[default]
    Fv1,
    /// Second order: MUSCL reconstruction of h, h + z, u and v with the minmod limiter
    /// (and surface-gradient depth slopes), MUSCL–Hancock or Heun in time
    /// ([`TimeIntegration`]).
    Fv2,
}

/// How the bed enters the face fluxes (see `flux::face_flux`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconstruction {
    /// Face depths above the higher bed and bed terms g/2·(h² − h*²) (Audusse et al.
    /// 2004).
    #[default]
    Audusse,
    /// Audusse's face depths with the subcell bed terms (Chen & Noelle 2017): thin flows
    /// are not held back on beds steeper per cell than their depth.
    Subcell,
    /// `subcell`, and where moving water covers a bed step, a face state that keeps the
    /// discharge and the energy head across it instead of the surface (Noelle, Xing & Shu
    /// 2007): a steady flow over a step stays steady, and a flow over a step converges to
    /// the energy-conserving solution.
    Energy,
}

impl Reconstruction {
    /// The sweeps' compile-time code for this reconstruction (`flux::AUDUSSE`, …).
    pub(crate) const fn code(self) -> u8 {
        match self {
            Reconstruction::Audusse => crate::flux::AUDUSSE,
            Reconstruction::Subcell => crate::flux::SUBCELL,
            Reconstruction::Energy => crate::flux::ENERGY,
        }
    }
}

impl Default for SolverParams {
    fn default() -> Self {
        Self {
            cfl: 0.5,
            max_dt_s: 10.0,
            dry_depth_m: 1e-6,
            gravity_m_s2: 9.81,
            sweep: Sweep::Active,
            reconstruction: Reconstruction::Audusse,
            scheme: Scheme::Fv1,
            time_integration: TimeIntegration::Hancock,
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

/// The water balance since the state was set: every volume that entered or left, in f64.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WaterBalance {
    pub initial_storage_m3: f64,
    pub storage_m3: f64,
    pub rain_m3: f64,
    pub infiltration_m3: f64,
    pub boundary_inflow_m3: f64,
    pub boundary_outflow_m3: f64,
    pub point_inflow_m3: f64,
    pub point_outflow_m3: f64,
    /// Pumped out of the basin by structures.
    #[serde(default)]
    pub structure_outflow_m3: f64,
}

impl WaterBalance {
    pub fn total_in_m3(&self) -> f64 {
        self.rain_m3 + self.boundary_inflow_m3 + self.point_inflow_m3
    }

    pub fn total_out_m3(&self) -> f64 {
        self.infiltration_m3
            + self.boundary_outflow_m3
            + self.point_outflow_m3
            + self.structure_outflow_m3
    }

    /// Δstorage − (in − out): zero for a conservative run.
    pub fn residual_m3(&self) -> f64 {
        (self.storage_m3 - self.initial_storage_m3) - (self.total_in_m3() - self.total_out_m3())
    }

    /// |in − out − Δstorage| / max(initial storage, storage, total in): the relative
    /// volume error of the run.
    pub fn relative_error(&self) -> f64 {
        let scale = self
            .initial_storage_m3
            .max(self.storage_m3)
            .max(self.total_in_m3());
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
pub(crate) struct Conserved {
    pub(crate) h: Array2<f64>,
    pub(crate) qx: Array2<f64>,
    pub(crate) qy: Array2<f64>,
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

/// Loss parameters and state, padded like the other fields (m, m/s, m).
#[derive(Clone, Debug)]
struct LossState {
    initial_m: Array2<f32>,
    continuing_m_s: Array2<f32>,
    capacity_m: Array2<f32>,
    infiltrated_m: Array2<f64>,
    /// A curve-number or Green–Ampt model setting `continuing_m_s` before each step.
    soil: Option<crate::soil::SoilState>,
}

#[derive(Clone, Debug)]
struct BreachState {
    breach: Breach,
    /// Bed of each cell when the breach started.
    crest_m: Vec<f64>,
    started_s: Option<f64>,
    fraction: f64,
}

const MM_PER_H_TO_M_S: f64 = 1.0 / 3.6e6;

/// Which sweep of a step: the first-order step, or a stage of the second-order one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Only,
    First,
    Last,
    Hancock,
}

/// A 2D shallow-water model on a raster grid, ready to step.
///
/// Finite volumes, first order (or second order with [`Scheme::Fv2`]), HLLC fluxes on the
/// hydrostatically reconstructed states of Audusse et al. (2004): well balanced (a lake at
/// rest stays at rest over any bed), depth-positive under `cfl ≤ 0.5` (fv2 takes half that
/// step), wetting and drying without special cases. Manning
/// friction is semi-implicit. Forcing: uniform and gridded rain, initial + continuing
/// losses, point sources, boundary segments with hydrographs, breaches. State is stored
/// in f64 so that the volume balance closes to round-off.
#[derive(Debug)]
pub struct Solver {
    pub(crate) grid: Grid,
    pub(crate) params: SolverParams,
    boundaries: Boundaries,
    segments: Vec<BoundarySegment>,
    simd: Simd,
    pub(crate) cur: Conserved,
    next: Conserved,
    /// The first stage's state of the second-order scheme (made at its first step).
    mid: Option<Conserved>,
    pub(crate) bed_m: Array2<f64>,
    g_n2: Array2<f64>,
    active: Array2<u8>,
    /// Per padded row: 1 when every interior cell of the row (ghost rows included) is
    /// active, so the sweep can skip the wall handling there.
    row_all_active: Vec<u8>,
    active_cells: usize,
    /// Fluxes imposed on edge faces, in the order of `Edge::ALL`.
    edge_flux: [EdgeFlux; 4],
    /// Share of a segment's discharge per metre of face, for `Inflow` segments, in the
    /// order of `Edge::ALL` and indexed like `edge_flux`.
    inflow_share: [Vec<f64>; 4],
    rain_uniform: Option<TimeSeries>,
    /// Gridded rain (m/s), padded.
    rain_grid: Option<Array2<f64>>,
    losses: Option<LossState>,
    point_sources: Vec<PointSource>,
    /// Factor on every inflow hydrograph (boundary `Inflow` segments and positive point
    /// sources): a live "what if the flood were bigger" control. 1 by default.
    inflow_scale: f64,
    breaches: Vec<BreachState>,
    /// Padded cells holding a point source, each once.
    point_cells: Vec<(usize, usize)>,
    /// Weirs, gates, culverts, pumps and releases, their settings and last flows.
    pub(crate) structures: Vec<Structure>,
    pub(crate) structure_settings: Vec<StructureSetting>,
    pub(crate) structure_flows: Vec<StructureFlow>,
    pub(crate) tiles: Tiles,
    /// Tiles to copy into the next buffer this step (kept to spare an allocation).
    copy_tiles: Vec<usize>,
    /// Buffers per worker thread, as wide as a tile.
    scratch: Vec<std::sync::Mutex<BlockScratch>>,
    /// The same for the second-order sweep.
    scratch_fv2: Vec<std::sync::Mutex<Fv2Scratch>>,
    /// The first stage's tile totals, kept while the second runs.
    stage_totals: Vec<BlockTotals>,
    envelopes: Option<EnvelopeState>,
    /// Work space for folding the point-source cells into the envelopes, one at a time.
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

/// A lock that survives a panic in another holder (the buffers are rewritten before use).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
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

/// The first cell of `a` that fails `ok`, as an error naming the field.
fn check_cells(
    field: &'static str,
    a: &ArrayView2<'_, f64>,
    ok: impl Fn(f64) -> bool,
    expected: &'static str,
) -> Result<(), SolverError> {
    match a.indexed_iter().find(|(_, v)| !ok(**v)) {
        Some(((row, col), &value)) => Err(SolverError::InvalidCell {
            field,
            row,
            col,
            value,
            expected,
        }),
        None => Ok(()),
    }
}

/// A padded copy of `a` scaled by `factor`.
fn padded(a: &ArrayView2<'_, f64>, factor: f64) -> Array2<f64> {
    let (rows, cols) = a.dim();
    let mut out = Array2::zeros((rows + 2, cols + 2));
    inner_mut(&mut out).zip_mut_with(a, |o, &v| *o = v * factor);
    out
}

const CONTIGUOUS: &str = "solver arrays are created contiguous";

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
        let segments = boundaries.resolve(&grid)?;
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
        let mut active_cells = 0;
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
            active_cells += 1;
        }

        // Replaced by `set_tile_size` once the ghost ring is known.
        let tiles = Tiles::new(&act, rows, cols);
        let mut solver = Self {
            grid,
            params,
            boundaries,
            segments,
            simd: Simd::detect(),
            cur: Conserved::zeros(rows, cols),
            next: Conserved::zeros(rows, cols),
            mid: None,
            bed_m: bed,
            g_n2,
            active: act,
            row_all_active: Vec::new(),
            active_cells,
            edge_flux: [
                EdgeFlux::new(cols + 2),
                EdgeFlux::new(cols + 2),
                EdgeFlux::new(rows + 2),
                EdgeFlux::new(rows + 2),
            ],
            inflow_share: [
                vec![0.0; cols + 2],
                vec![0.0; cols + 2],
                vec![0.0; rows + 2],
                vec![0.0; rows + 2],
            ],
            rain_uniform: None,
            rain_grid: None,
            losses: None,
            point_sources: Vec::new(),
            inflow_scale: 1.0,
            breaches: Vec::new(),
            point_cells: Vec::new(),
            structures: Vec::new(),
            structure_settings: Vec::new(),
            structure_flows: Vec::new(),
            tiles,
            copy_tiles: Vec::new(),
            scratch: Vec::new(),
            scratch_fv2: Vec::new(),
            stage_totals: Vec::new(),
            envelopes: None,
            sim_time_s: 0.0,
            steps: 0,
            max_rate_per_s: 0.0,
            balance: WaterBalance::default(),
        };
        solver.init_ghost_ring();
        solver.set_tile_size(rows_per_tile(rows), TILE_COLS);
        solver.row_all_active = solver
            .active
            .rows()
            .into_iter()
            .map(|row| u8::from(row.iter().skip(1).take(cols).all(|&a| a != 0)))
            .collect();
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
        check_cells(
            "depth_m",
            &depth_m,
            |v| v.is_finite() && v >= 0.0,
            "a finite depth ≥ 0 m",
        )?;
        check_cells(
            "qx_m2_s",
            &qx_m2_s,
            f64::is_finite,
            "a finite unit discharge in m²/s",
        )?;
        check_cells(
            "qy_m2_s",
            &qy_m2_s,
            f64::is_finite,
            "a finite unit discharge in m²/s",
        )?;
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

    /// Rain over every active cell, as a hyetograph in mm/h (`None` stops it).
    pub fn set_uniform_rain(
        &mut self,
        rain_mm_per_h: Option<TimeSeries>,
    ) -> Result<(), SolverError> {
        if let Some(series) = &rain_mm_per_h {
            series.require_non_negative("rain_mm_per_h")?;
        }
        self.rain_uniform = rain_mm_per_h;
        Ok(())
    }

    /// Rain per cell in mm/h, e.g. a radar frame; replace it between steps as frames
    /// arrive (`None` stops it). Adds to any uniform rain.
    pub fn set_rain_grid(
        &mut self,
        rain_mm_per_h: Option<ArrayView2<'_, f64>>,
    ) -> Result<(), SolverError> {
        let Some(rain) = rain_mm_per_h else {
            self.rain_grid = None;
            self.tiles.set_rain(None);
            return Ok(());
        };
        check_shape("rain_mm_per_h", &self.grid, &rain)?;
        check_cells(
            "rain_mm_per_h",
            &rain,
            |v| v.is_finite() && v >= 0.0,
            "a rain intensity ≥ 0 mm/h",
        )?;
        match &mut self.rain_grid {
            Some(grid) => inner_mut(grid).zip_mut_with(&rain, |o, &v| *o = v * MM_PER_H_TO_M_S),
            None => self.rain_grid = Some(padded(&rain, MM_PER_H_TO_M_S)),
        }
        self.tiles
            .set_rain(self.rain_grid.as_ref().map(|r| r.view()));
        Ok(())
    }

    /// Initial + continuing infiltration losses (`None` removes them). The infiltrated
    /// depth starts from zero.
    pub fn set_losses(&mut self, losses: Option<Losses>) -> Result<(), SolverError> {
        let Some(l) = losses else {
            self.losses = None;
            return Ok(());
        };
        let (il, cl, cap) = (
            l.initial_mm.view(),
            l.continuing_mm_per_h.view(),
            l.capacity_mm.view(),
        );
        check_shape("initial_mm", &self.grid, &il)?;
        check_shape("continuing_mm_per_h", &self.grid, &cl)?;
        check_shape("capacity_mm", &self.grid, &cap)?;
        check_cells(
            "initial_mm",
            &il,
            |v| v.is_finite() && v >= 0.0,
            "an initial loss ≥ 0 mm",
        )?;
        check_cells(
            "continuing_mm_per_h",
            &cl,
            |v| v.is_finite() && v >= 0.0,
            "a continuing loss ≥ 0 mm/h",
        )?;
        check_cells(
            "capacity_mm",
            &cap,
            |v| v >= 0.0,
            "a soil capacity ≥ 0 mm (inf for no limit)",
        )?;
        self.losses = Some(LossState {
            initial_m: padded(&il, 1e-3).mapv(|v| v as f32),
            continuing_m_s: padded(&cl, MM_PER_H_TO_M_S).mapv(|v| v as f32),
            capacity_m: padded(&cap, 1e-3).mapv(|v| v as f32),
            infiltrated_m: Array2::zeros(self.bed_m.dim()),
            soil: None,
        });
        Ok(())
    }

    /// An infiltration model (curve number or Green–Ampt, [`crate::soil`]) that sets each
    /// cell's loss for every step; `None` goes back to the initial + continuing rates of
    /// [`Solver::set_losses`]. Needs losses on; with a model, give them as no initial loss,
    /// no continuing loss and no capacity limit (`Losses::uniform(r, c, 0, 0, inf)`).
    pub fn set_loss_model(&mut self, model: Option<crate::LossModel>) -> Result<(), SolverError> {
        use crate::soil::{SoilState, retention_m};
        let Some(losses) = self.losses.as_mut() else {
            return Err(SolverError::InvalidParameter {
                name: "loss_model",
                value: f64::NAN,
                expected: "losses set first (set_losses)",
            });
        };
        let soil = match model {
            None => None,
            Some(crate::LossModel::CurveNumber {
                curve_number,
                ia_ratio,
                impervious,
            }) => {
                check_shape("curve_number", &self.grid, &curve_number.view())?;
                check_cells(
                    "curve_number",
                    &curve_number.view(),
                    |v| v > 0.0 && v <= 100.0,
                    "a curve number in (0, 100]",
                )?;
                if !(ia_ratio.is_finite() && (0.0..=1.0).contains(&ia_ratio)) {
                    return Err(SolverError::InvalidParameter {
                        name: "ia_ratio",
                        value: ia_ratio,
                        expected: "an initial abstraction ratio in [0, 1] (0.2, or 0.05)",
                    });
                }
                let s_m = curve_number.mapv(retention_m);
                let pervious = match impervious {
                    Some(f) => {
                        check_shape("impervious", &self.grid, &f.view())?;
                        check_cells(
                            "impervious",
                            &f.view(),
                            |v| (0.0..=1.0).contains(&v),
                            "an impervious share in [0, 1]",
                        )?;
                        f.mapv(|v| 1.0 - v)
                    }
                    None => Array2::ones(curve_number.dim()),
                };
                Some(SoilState::CurveNumber {
                    retention_m: padded(&s_m.view(), 1.0),
                    ia_ratio,
                    pervious: padded(&pervious.view(), 1.0),
                    rain_m: Array2::zeros(self.bed_m.dim()),
                })
            }
            Some(crate::LossModel::GreenAmpt {
                conductivity_mm_per_h,
                suction_mm,
                moisture_deficit,
            }) => {
                for (name, a) in [
                    ("conductivity_mm_per_h", &conductivity_mm_per_h),
                    ("suction_mm", &suction_mm),
                    ("moisture_deficit", &moisture_deficit),
                ] {
                    check_shape(name, &self.grid, &a.view())?;
                    check_cells(
                        name,
                        &a.view(),
                        |v| v.is_finite() && v >= 0.0,
                        "a value ≥ 0",
                    )?;
                }
                check_cells(
                    "moisture_deficit",
                    &moisture_deficit.view(),
                    |v| v <= 1.0,
                    "a moisture deficit in [0, 1]",
                )?;
                let a_m = ndarray::Zip::from(&suction_mm)
                    .and(&moisture_deficit)
                    .map_collect(|&psi, &dt| psi * dt * 1e-3);
                Some(SoilState::GreenAmpt {
                    conductivity_m_s: padded(&conductivity_mm_per_h.view(), MM_PER_H_TO_M_S),
                    suction_deficit_m: padded(&a_m.view(), 1.0),
                })
            }
        };
        losses.soil = soil;
        Ok(())
    }

    /// Multiply every inflow hydrograph (boundary `Inflow` segments and point sources
    /// while they add water) by `factor` from now on. Sinks, stages and rain are unchanged.
    pub fn set_inflow_scale(&mut self, factor: f64) -> Result<(), SolverError> {
        if !(factor.is_finite() && factor >= 0.0) {
            return Err(SolverError::InvalidParameter {
                name: "inflow scale",
                value: factor,
                expected: "a finite factor ≥ 0 (1: the hydrographs as given)",
            });
        }
        self.inflow_scale = factor;
        Ok(())
    }

    pub fn inflow_scale(&self) -> f64 {
        self.inflow_scale
    }

    /// Replace Manning's n (s/m^⅓) of every active cell, e.g. to test the sensitivity of a
    /// run to roughness. The state is kept.
    pub fn set_manning_n(&mut self, manning_n: ArrayView2<'_, f64>) -> Result<(), SolverError> {
        check_shape("manning_n", &self.grid, &manning_n)?;
        let active = &self.active;
        // Inactive cells may hold anything (e.g. nodata).
        let bad = manning_n
            .indexed_iter()
            .find(|&((r, c), &n)| active[(r + 1, c + 1)] != 0 && !(n.is_finite() && n >= 0.0));
        if let Some(((row, col), &value)) = bad {
            return Err(SolverError::InvalidCell {
                field: "manning_n",
                row,
                col,
                value,
                expected: "Manning's n is finite and ≥ 0 s/m^(1/3), typically 0.01–0.2",
            });
        }
        let g = self.params.gravity_m_s2;
        for ((r, c), &n) in manning_n.indexed_iter() {
            if active[(r + 1, c + 1)] != 0 {
                self.g_n2[(r + 1, c + 1)] = g * n * n;
            }
        }
        Ok(())
    }

    /// Add a point source or sink; returns its index.
    pub fn add_point_source(&mut self, source: PointSource) -> Result<usize, SolverError> {
        self.check_cell("point source", source.row, source.col)?;
        let cell = (source.row + 1, source.col + 1);
        if !self.point_cells.contains(&cell) {
            self.point_cells.push(cell);
            // Its envelopes are folded in after the source acts, not in the sweep.
            self.active[cell] = 2;
            self.tiles.force(cell.0, cell.1);
        }
        self.point_sources.push(source);
        Ok(self.point_sources.len() - 1)
    }

    /// Add a breach; returns its index for `trigger_breach` and `breach_status`.
    pub fn add_breach(&mut self, breach: Breach) -> Result<usize, SolverError> {
        if breach.cells.is_empty() {
            return Err(SolverError::OutsideGrid {
                what: "breach".into(),
                rows: self.grid.rows,
                cols: self.grid.cols,
                reason: "it has no cells; give the cells along the dam or levee crest".into(),
            });
        }
        for &(r, c) in &breach.cells {
            self.check_cell("breach cell", r, c)?;
        }
        if !breach.final_bed_m.is_finite() {
            return Err(SolverError::InvalidParameter {
                name: "final_bed_m",
                value: breach.final_bed_m,
                expected: "a finite elevation in metres",
            });
        }
        if !(breach.formation_time_s.is_finite() && breach.formation_time_s >= 0.0) {
            return Err(SolverError::InvalidParameter {
                name: "formation_time_s",
                value: breach.formation_time_s,
                expected: "a duration ≥ 0 s (0: the breach opens at once)",
            });
        }
        match breach.trigger {
            BreachTrigger::WaterLevel { row, col, level_m } => {
                self.check_cell("breach trigger cell", row, col)?;
                if !level_m.is_finite() {
                    return Err(SolverError::InvalidParameter {
                        name: "level_m",
                        value: level_m,
                        expected: "a finite water level in metres",
                    });
                }
            }
            BreachTrigger::AtTime { time_s } if !time_s.is_finite() => {
                return Err(SolverError::InvalidParameter {
                    name: "time_s",
                    value: time_s,
                    expected: "a finite trigger time in seconds",
                });
            }
            _ => {}
        }
        let crest_m = breach
            .cells
            .iter()
            .map(|&(r, c)| self.bed_m[(r + 1, c + 1)])
            .collect();
        self.breaches.push(BreachState {
            breach,
            crest_m,
            started_s: None,
            fraction: 0.0,
        });
        Ok(self.breaches.len() - 1)
    }

    /// Start breach `index` now (if it has not started yet).
    pub fn trigger_breach(&mut self, index: usize) -> Result<(), SolverError> {
        let t = self.sim_time_s;
        let b = self
            .breaches
            .get_mut(index)
            .ok_or(SolverError::InvalidParameter {
                name: "breach index",
                value: index as f64,
                expected: "the index returned by add_breach",
            })?;
        if b.started_s.is_none() {
            b.started_s = Some(t);
            // The crest is the bed when the breach starts (another breach may have
            // lowered shared cells since it was added).
            for (crest, &(r, c)) in b.crest_m.iter_mut().zip(&b.breach.cells) {
                *crest = self.bed_m[(r + 1, c + 1)];
            }
        }
        Ok(())
    }

    pub fn breach_status(&self, index: usize) -> Option<BreachStatus> {
        self.breaches.get(index).map(|b| match b.started_s {
            None => BreachStatus::Waiting,
            Some(started_s) if b.fraction >= 1.0 => BreachStatus::Complete { started_s },
            Some(started_s) => BreachStatus::Forming {
                started_s,
                fraction: b.fraction,
            },
        })
    }

    pub(crate) fn check_cell(&self, what: &str, row: usize, col: usize) -> Result<(), SolverError> {
        let outside = |reason: String| SolverError::OutsideGrid {
            what: format!("{what} at row {row}, column {col}"),
            rows: self.grid.rows,
            cols: self.grid.cols,
            reason,
        };
        if row >= self.grid.rows || col >= self.grid.cols {
            return Err(outside("the cell is off the grid".into()));
        }
        if self.active[(row + 1, col + 1)] == 0 {
            return Err(outside("the cell is inactive (nodata)".into()));
        }
        Ok(())
    }

    /// Advance one step, as long as the CFL condition and `max_dt_s` allow but not past
    /// `end_at_s`, so that a caller can land exactly on its output times.
    ///
    /// The whole pipeline, in order:
    /// 1. dt from the CFL condition (wave speeds found by the previous sweep and ghosts);
    /// 2. inflow fluxes on the edges for this step (hydrograph means over the step);
    /// 3. one fused parallel sweep over the tiles where water is or can arrive (see
    ///    [`Sweep`]): face fluxes → conservative update → rain → infiltration → Manning
    ///    friction → wet/dry → envelopes → per-tile totals;
    /// 4. blow-up check (the state stays at the last good step on error);
    /// 5. point sources and sinks;
    /// 6. breaches: triggers and bed lowering (depths kept, so no water is made);
    /// 7. boundaries: ghost cells of the new state;
    /// 8. volume totals and the water balance.
    pub fn step(&mut self, end_at_s: f64) -> Result<StepReport, SolverError> {
        if self.next.h.dim() != self.cur.h.dim() {
            // Given back (`release_step_buffers`): every tile as it is now.
            self.next = self.cur.clone();
        }
        // 1. Time step.
        let t0 = self.sim_time_s;
        let remaining = end_at_s - t0;
        if remaining.is_nan() || remaining <= 0.0 {
            return Err(SolverError::InvalidParameter {
                name: "end_at_s",
                value: end_at_s,
                expected: "a time later than the current simulated time",
            });
        }
        let cfl_dt = if self.max_rate_per_s > 0.0 {
            let positivity = match self.params.scheme {
                Scheme::Fv1 => 1.0,
                Scheme::Fv2 => 0.5,
            };
            positivity * self.params.cfl / self.max_rate_per_s
        } else {
            f64::INFINITY
        };
        // A breach due to start at a clock time gets a step that ends on that time.
        let next_breach_s = self
            .breaches
            .iter()
            .filter(|b| b.started_s.is_none())
            .filter_map(|b| match b.breach.trigger {
                BreachTrigger::AtTime { time_s } if time_s > t0 => Some(time_s),
                _ => None,
            })
            .fold(f64::INFINITY, f64::min);
        let until_breach = next_breach_s - t0;
        let dt = cfl_dt
            .min(self.params.max_dt_s)
            .min(remaining)
            .min(until_breach);
        let t1 = if dt == remaining {
            end_at_s
        } else if dt == until_breach {
            next_breach_s
        } else {
            t0 + dt
        };

        // 2. Edge inflows.
        self.impose_inflows(t0, t1);

        // 3. Fused sweep.
        let rain_uniform_m = self
            .rain_uniform
            .as_ref()
            .map_or(0.0, |r| r.integral(t0, t1) * MM_PER_H_TO_M_S);
        match (self.params.scheme, self.params.time_integration) {
            (Scheme::Fv1, _) => self.sweep(Stage::Only, dt, t1, rain_uniform_m),
            (Scheme::Fv2, TimeIntegration::Hancock) => {
                self.sweep(Stage::Hancock, dt, t1, rain_uniform_m)
            }
            (Scheme::Fv2, TimeIntegration::Heun) => {
                self.sweep(Stage::First, dt, t1, rain_uniform_m);
                if self
                    .tiles
                    .totals
                    .iter()
                    .any(|b| b.max_rate_per_s.is_infinite())
                {
                    let mid = self.mid.as_ref().expect("made by the first stage");
                    return Err(self.blow_up(mid, dt));
                }
                // The second stage's fluxes see the first stage's ghosts.
                self.stage_totals.clone_from(&self.tiles.totals);
                let mid = self.mid.as_mut().expect("made by the first stage");
                std::mem::swap(&mut self.cur, mid);
                self.sim_time_s = t1;
                self.fill_ghosts();
                self.sim_time_s = t0;
                let mid = self.mid.as_mut().expect("made by the first stage");
                std::mem::swap(&mut self.cur, mid);
                self.sweep(Stage::Last, dt, t1, rain_uniform_m);
                // The water through the edges is the mean of the two stages'.
                for (b, a) in self.tiles.totals.iter_mut().zip(&self.stage_totals) {
                    b.x_in_m2_s = 0.5 * (a.x_in_m2_s + b.x_in_m2_s);
                    b.x_out_m2_s = 0.5 * (a.x_out_m2_s + b.x_out_m2_s);
                    b.y_in_m2_s = 0.5 * (a.y_in_m2_s + b.y_in_m2_s);
                    b.y_out_m2_s = 0.5 * (a.y_out_m2_s + b.y_out_m2_s);
                }
            }
        }

        // 4. Blow-up check.
        let mut t = BlockTotals::default();
        for b in &self.tiles.totals {
            t.depth_sum_m += b.depth_sum_m;
            t.max_rate_per_s = t.max_rate_per_s.max(b.max_rate_per_s);
            t.x_in_m2_s += b.x_in_m2_s;
            t.x_out_m2_s += b.x_out_m2_s;
            t.y_in_m2_s += b.y_in_m2_s;
            t.y_out_m2_s += b.y_out_m2_s;
            t.rain_m += b.rain_m;
            t.loss_m += b.loss_m;
        }
        if t.max_rate_per_s.is_infinite() {
            return Err(self.blow_up(&self.next, dt));
        }
        self.tiles.after_sweep();
        std::mem::swap(&mut self.cur, &mut self.next);
        self.sim_time_s = t1;
        self.steps += 1;

        // 5. Point sources.
        let area = self.grid.cell_area_m2();
        let (point_in, point_out, point_rate) = self.apply_point_sources(t0, t1);
        t.depth_sum_m += (point_in - point_out) / area;
        self.track_point_cells(t1, dt);

        // 5b. Structures.
        let (pumped_out, structure_rate) = self.apply_structures(dt);
        t.depth_sum_m -= pumped_out / area;

        // 6. Breaches.
        self.update_breaches();

        // 7. Boundaries.
        let ghost_rate = self.fill_ghosts();

        // 8. Totals.
        self.max_rate_per_s = t
            .max_rate_per_s
            .max(ghost_rate)
            .max(point_rate)
            .max(structure_rate);
        let volume = t.depth_sum_m * area;
        let inflow = dt * (t.x_in_m2_s * self.grid.dy_m + t.y_in_m2_s * self.grid.dx_m);
        let outflow = dt * (t.x_out_m2_s * self.grid.dy_m + t.y_out_m2_s * self.grid.dx_m);
        let b = &mut self.balance;
        b.storage_m3 = volume;
        b.boundary_inflow_m3 += inflow;
        b.boundary_outflow_m3 += outflow;
        b.rain_m3 += (rain_uniform_m * self.active_cells as f64 + t.rain_m) * area;
        b.infiltration_m3 += t.loss_m * area;
        b.point_inflow_m3 += point_in;
        b.point_outflow_m3 += point_out;
        b.structure_outflow_m3 += pumped_out;
        Ok(StepReport {
            step: self.steps,
            dt_s: dt,
            sim_time_s: t1,
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

    /// One sweep of the step: the whole first-order step, or one of the second-order
    /// scheme's two stages (the first plans the tiles for both).
    fn sweep(&mut self, stage: Stage, dt: f64, t_end_s: f64, rain_uniform_m: f64) {
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
            rain_uniform_m,
            t_end_s,
            reconstruction: self.params.reconstruction.code(),
        };
        let (rain_grid, losses) = (self.rain_grid.is_some(), self.losses.is_some());

        // Which tiles to sweep; tiles skipped for the first time keep their state (in
        // every buffer a step writes).
        if stage != Stage::Last {
            // Heun moves water two cells a step; MUSCL–Hancock, like fv1, one (a face
            // between two dry cells has zero depth on both sides whatever their
            // neighbours), and its tiles report their sides wet whenever they hold water.
            let two_cells = stage == Stage::First;
            if stage == Stage::First && self.mid.is_none() {
                self.mid = Some(self.cur.clone());
            }
            let mut copy = std::mem::take(&mut self.copy_tiles);
            self.tiles.plan(
                self.params.sweep,
                rain_uniform_m > 0.0,
                two_cells,
                &mut copy,
            );
            for &i in &copy {
                let tile = self.tiles.rects[i];
                let rows = tile.first_row..tile.first_row + tile.rows;
                let cols = tile.c0..tile.c1 + 1;
                for to in std::iter::once(&mut self.next).chain(self.mid.as_mut()) {
                    for (from, to) in [
                        (&self.cur.h, &mut to.h),
                        (&self.cur.qx, &mut to.qx),
                        (&self.cur.qy, &mut to.qy),
                    ] {
                        to.slice_mut(s![rows.clone(), cols.clone()])
                            .assign(&from.slice(s![rows.clone(), cols.clone()]));
                    }
                }
            }
            self.copy_tiles = copy;
            // The loss model's rates for this step, over the tiles it sweeps.
            if let Some(l) = &mut self.losses
                && let Some(soil) = &mut l.soil
            {
                soil.prepare_step(
                    dt,
                    rain_uniform_m,
                    self.rain_grid.as_ref().map(|g| g.view()),
                    self.active.view(),
                    l.infiltrated_m.view(),
                    &mut l.continuing_m_s,
                    &self.tiles.rects,
                    &self.tiles.list,
                );
            }
        }

        let threads = rayon::current_num_threads().max(1);
        let width = self.tiles.span_cols().min(self.grid.cols);
        if stage == Stage::Only {
            if self.scratch.len() < threads
                || self.scratch.first().is_some_and(|b| lock(b).width < width)
            {
                self.scratch = (0..threads)
                    .map(|_| std::sync::Mutex::new(BlockScratch::new(width)))
                    .collect();
            }
        } else if self.scratch_fv2.len() < threads
            || self
                .scratch_fv2
                .first()
                .is_some_and(|b| lock(b).width < width)
        {
            self.scratch_fv2 = (0..threads)
                .map(|_| std::sync::Mutex::new(Fv2Scratch::new(width)))
                .collect();
        }

        // Raw pointers first (they end their borrows at once), then the shared views.
        let null_f32 = std::ptr::null_mut::<f32>();
        let (max_depth_m, max_speed_m_s, max_depth_speed_m2_s, max_hazard, first, duration) =
            match self.envelopes.as_mut() {
                Some(e) => (
                    e.max_depth_m.as_mut_ptr(),
                    e.max_speed_m_s.as_mut_ptr(),
                    e.max_depth_speed_m2_s.as_mut_ptr(),
                    e.max_hazard.as_mut_ptr(),
                    e.first_inundation_s.as_mut_ptr(),
                    e.duration_inundated_s.as_mut_ptr(),
                ),
                None => (
                    null_f32,
                    null_f32,
                    null_f32,
                    null_f32,
                    null_f32,
                    std::ptr::null_mut(),
                ),
            };
        let (bounds, bound_cols, bounds_len) = match self.envelopes.as_mut() {
            Some(e) => (e.bounds.as_mut_ptr(), e.bounds.ncols(), e.bounds.len()),
            None => (std::ptr::null_mut(), 0, 0),
        };
        let target = match stage {
            Stage::First => self.mid.as_mut().expect("made when the step was planned"),
            Stage::Only | Stage::Last | Stage::Hancock => &mut self.next,
        };
        let out = Out {
            h: target.h.as_mut_ptr(),
            qx: target.qx.as_mut_ptr(),
            qy: target.qy.as_mut_ptr(),
            infiltrated_m: self
                .losses
                .as_mut()
                .map_or(std::ptr::null_mut(), |l| l.infiltrated_m.as_mut_ptr()),
            max_depth_m,
            max_speed_m_s,
            max_depth_speed_m2_s,
            max_hazard,
            first_inundation_s: first,
            duration_inundated_s: duration,
            bounds,
            bound_cols,
            bounds_len,
            len: self.next.h.len(),
            stride: self.next.h.ncols(),
        };
        let tracking = self.envelopes.as_ref().map(|e| Tracking {
            spec: &e.spec,
            table: e.table.as_ref(),
            simd: self.simd,
        });
        let (il, cl, cap): (&[f32], &[f32], &[f32]) = match &self.losses {
            Some(l) => (
                l.initial_m.as_slice().expect(CONTIGUOUS),
                l.continuing_m_s.as_slice().expect(CONTIGUOUS),
                l.capacity_m.as_slice().expect(CONTIGUOUS),
            ),
            None => (&[], &[], &[]),
        };
        let from = match stage {
            Stage::Last => self.mid.as_ref().expect("written by the first stage"),
            Stage::Only | Stage::First | Stage::Hancock => &self.cur,
        };
        let old = Fields {
            h: from.h.as_slice().expect(CONTIGUOUS),
            qx: from.qx.as_slice().expect(CONTIGUOUS),
            qy: from.qy.as_slice().expect(CONTIGUOUS),
            z: self.bed_m.as_slice().expect(CONTIGUOUS),
            g_n2: self.g_n2.as_slice().expect(CONTIGUOUS),
            active: self.active.as_slice().expect(CONTIGUOUS),
            edge_flux: &self.edge_flux,
            row_all_active: &self.row_all_active,
            rain_m_s: self
                .rain_grid
                .as_ref()
                .map_or(&[], |a| a.as_slice().expect(CONTIGUOUS)),
            initial_loss_m: il,
            continuing_loss_m_s: cl,
            loss_capacity_m: cap,
        };
        let start = Base {
            h: self.cur.h.as_slice().expect(CONTIGUOUS),
            qx: self.cur.qx.as_slice().expect(CONTIGUOUS),
            qy: self.cur.qy.as_slice().expect(CONTIGUOUS),
        };
        let simd = self.simd;
        let (scratch, scratch_fv2) = (&self.scratch, &self.scratch_fv2);
        let tiles = &mut self.tiles;
        let (rects, list, seg) = (&tiles.rects, &tiles.list, tiles.cols_per());
        // Each span's share of the totals, in order.
        let mut parts = Vec::with_capacity(tiles.spans.len());
        let mut rest = tiles.totals.as_mut_slice();
        for &(_, count) in &tiles.spans {
            let (part, tail) = std::mem::take(&mut rest).split_at_mut(count);
            parts.push(part);
            rest = tail;
        }
        tiles
            .spans
            .par_iter()
            .zip(parts)
            .for_each(|(&(first, count), totals)| {
                let (west, east) = (rects[list[first]], rects[list[first + count - 1]]);
                let span = Tile {
                    c1: east.c1,
                    ..west
                };
                let thread = rayon::current_thread_index().unwrap_or(0);
                if stage == Stage::Only {
                    let mut buffers = lock(&scratch[thread % scratch.len()]);
                    kernel::sweep_block(
                        simd,
                        rain_grid,
                        losses,
                        &old,
                        &k,
                        span,
                        seg,
                        &out,
                        tracking,
                        &mut buffers,
                        totals,
                    );
                } else {
                    let mut buffers = lock(&scratch_fv2[thread % scratch_fv2.len()]);
                    let which = match stage {
                        Stage::First => Fv2Sweep::HeunFirst,
                        Stage::Last => Fv2Sweep::HeunLast,
                        _ => Fv2Sweep::Hancock,
                    };
                    muscl::sweep_block(
                        simd,
                        which,
                        rain_grid,
                        losses,
                        &old,
                        &start,
                        &k,
                        span,
                        seg,
                        &out,
                        tracking,
                        &mut buffers,
                        totals,
                    );
                }
            });
    }

    /// The error for a failed sweep: the first bad cell in row-major order.
    fn blow_up(&self, state: &Conserved, dt: f64) -> SolverError {
        let h = inner(&state.h);
        let qx = inner(&state.qx);
        let qy = inner(&state.qy);
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

    /// Add each point source's volume over [t0, t1] to its cell; a sink takes at most what
    /// the cell holds. Returns (volume in, volume out, largest CFL rate of those cells).
    fn apply_point_sources(&mut self, t0: f64, t1: f64) -> (f64, f64, f64) {
        let area = self.grid.cell_area_m2();
        let (mut vin, mut vout, mut rate) = (0.0, 0.0, 0.0f64);
        for p in &self.point_sources {
            let cell = (p.row + 1, p.col + 1);
            let mut wanted = p.discharge_m3_s.integral(t0, t1);
            if wanted > 0.0 {
                wanted *= self.inflow_scale;
            }
            let h = self.cur.h[cell];
            let volume = wanted.max(-h * area);
            let new_h = if volume <= -h * area {
                0.0
            } else {
                h + volume / area
            };
            if volume >= 0.0 {
                vin += new_h * area - h * area;
            } else {
                vout += h * area - new_h * area;
            }
            self.cur.h[cell] = new_h;
            if new_h > 0.0 {
                self.tiles.mark_wet(cell.0, cell.1);
            }
            if new_h <= self.params.dry_depth_m {
                self.cur.qx[cell] = 0.0;
                self.cur.qy[cell] = 0.0;
            } else {
                // The cell may be the only wet one among dry neighbours (a spring on dry
                // ground): water leaves it through all four faces at the dry-front speed
                // 2c, which the usual |u| + c does not bound (with cfl = 0.5 an isolated
                // column would lose 4/3 of its depth in the next step). Its rate counts c
                // twice.
                let c = (self.params.gravity_m_s2 * new_h).sqrt();
                let dx = self.grid.dx_m.min(self.grid.dy_m);
                rate = rate.max(self.cell_rate(cell)).max(2.0 * c / dx);
            }
        }
        (vin, vout, rate)
    }

    /// max((|u|+c)/dx, (|v|+c)/dy) of one padded cell.
    fn cell_rate(&self, cell: (usize, usize)) -> f64 {
        let h = self.cur.h[cell];
        if h <= self.params.dry_depth_m {
            return 0.0;
        }
        let c = (self.params.gravity_m_s2 * h).sqrt();
        ((self.cur.qx[cell].abs() / h + c) / self.grid.dx_m)
            .max((self.cur.qy[cell].abs() / h + c) / self.grid.dy_m)
    }

    /// Trigger waiting breaches and lower the bed of forming ones to where they are at the
    /// current time. Depths are kept, so no water is made or lost.
    fn update_breaches(&mut self) {
        let t = self.sim_time_s;
        let mut bed_changed = false;
        for b in &mut self.breaches {
            if b.started_s.is_none() {
                let fire = match b.breach.trigger {
                    BreachTrigger::AtTime { time_s } => t >= time_s,
                    BreachTrigger::WaterLevel { row, col, level_m } => {
                        let cell = (row + 1, col + 1);
                        self.cur.h[cell] > self.params.dry_depth_m
                            && self.cur.h[cell] + self.bed_m[cell] >= level_m
                    }
                    BreachTrigger::Manual => false,
                };
                if fire {
                    // A clock trigger already due starts at its own time.
                    b.started_s = Some(match b.breach.trigger {
                        BreachTrigger::AtTime { time_s } => time_s.min(t),
                        _ => t,
                    });
                    // The crest is the bed when the breach starts.
                    for (crest, &(r, c)) in b.crest_m.iter_mut().zip(&b.breach.cells) {
                        *crest = self.bed_m[(r + 1, c + 1)];
                    }
                }
            }
            let Some(started) = b.started_s else { continue };
            if b.fraction >= 1.0 {
                continue;
            }
            b.fraction = if b.breach.formation_time_s > 0.0 {
                ((t - started) / b.breach.formation_time_s).clamp(0.0, 1.0)
            } else {
                1.0
            };
            for (&crest, &(r, c)) in b.crest_m.iter().zip(&b.breach.cells) {
                let target = b.breach.final_bed_m.min(crest);
                self.bed_m[(r + 1, c + 1)] = crest + (target - crest) * b.fraction;
            }
            bed_changed = true;
        }
        if bed_changed {
            self.refresh_ghost_bed();
        }
    }

    /// Ghost ring: walls are inactive ghosts; other segments get an active ghost with the
    /// bed of its edge cell.
    fn init_ghost_ring(&mut self) {
        for seg in self.segments.clone() {
            let open = !seg.condition.is_wall();
            let imposed = seg.condition.imposes_flux();
            let e = edge_index(seg.edge);
            for i in seg.first..=seg.last {
                let (inner, ghost) = self.edge_cells(seg.edge, i);
                let edge_active = self.active[inner] != 0;
                self.active[ghost] = u8::from(open && edge_active);
                self.edge_flux[e].imposed[i + 1] = u8::from(imposed && edge_active);
            }
        }
        self.refresh_ghost_bed();
    }

    fn refresh_ghost_bed(&mut self) {
        for edge in Edge::ALL {
            for i in 0..self.grid.edge_len(edge) {
                let (inner, ghost) = self.edge_cells(edge, i);
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

    /// The edge cell at position `i` of `edge`, in the edge's frame.
    fn edge_cell(&self, edge: Edge, i: usize) -> EdgeCell {
        let (inner, _) = self.edge_cells(edge, i);
        let (sign, normal_is_x) = edge_frame(edge);
        let h = self.cur.h[inner];
        let (qn, qt) = if normal_is_x {
            (self.cur.qx[inner], self.cur.qy[inner])
        } else {
            (self.cur.qy[inner], self.cur.qx[inner])
        };
        let (un, ut) = if h > self.params.dry_depth_m {
            (qn / h, qt / h)
        } else {
            (0.0, 0.0)
        };
        EdgeCell {
            h,
            un_inward: sign * un,
            ut,
            bed_m: self.bed_m[inner],
            manning_n: (self.g_n2[inner] / self.params.gravity_m_s2).sqrt(),
        }
    }

    /// Set the ghost cells of the current state from its edge cells at the current time,
    /// and the share of each inflow segment's discharge per cell; returns the largest CFL
    /// rate among the ghosts.
    fn fill_ghosts(&mut self) -> f64 {
        let g = self.params.gravity_m_s2;
        let t = self.sim_time_s;
        let mut max_rate: f64 = 0.0;
        // Borrow the segments out of `self` (no copy, no allocation) while the ghosts change.
        let segments = std::mem::take(&mut self.segments);
        for seg in &segments {
            if seg.condition.is_wall() {
                continue;
            }
            let (edge, first, last) = (seg.edge, seg.first, seg.last);
            let e = edge_index(edge);
            if let EdgeBoundary::Inflow { discharge_m3_s } = &seg.condition {
                let q_now = discharge_m3_s.value_at(t) * self.inflow_scale;
                self.share_inflow(edge, first, last);
                for i in first..=last {
                    let cell = self.edge_cell(edge, i);
                    let gs = inflow_ghost(q_now * self.inflow_share[e][i + 1], cell.h, g);
                    max_rate = max_rate.max(self.set_ghost(edge, i, gs.h, gs.un_inward, gs.ut));
                }
                continue;
            }
            for i in first..=last {
                let cell = self.edge_cell(edge, i);
                let gs = ghost_state(&seg.condition, cell, t, g);
                max_rate = max_rate.max(self.set_ghost(edge, i, gs.h, gs.un_inward, gs.ut));
            }
        }
        self.segments = segments;
        max_rate
    }

    /// Share of an inflow segment's discharge per metre of face for each of its cells, by
    /// Manning conveyance h^{5/3}/n of the edge cells; a dry stretch sends it all to its
    /// lowest cells (within 1 cm). Written in place into `inflow_share`.
    fn share_inflow(&mut self, edge: Edge, first: usize, last: usize) {
        let e = edge_index(edge);
        let face_m = self.grid.edge_face_m(edge);
        let dry = self.params.dry_depth_m;
        let mut total = 0.0;
        let mut lowest = f64::INFINITY;
        for i in first..=last {
            let c = self.edge_cell(edge, i);
            let active = self.active[self.edge_cells(edge, i).0] != 0;
            let w = if c.h > dry && active {
                c.h.powf(5.0 / 3.0) / c.manning_n.max(0.01)
            } else {
                0.0
            };
            self.inflow_share[e][i + 1] = w;
            total += w;
            if active {
                lowest = lowest.min(c.bed_m);
            }
        }
        if total == 0.0 {
            for i in first..=last {
                let active = self.active[self.edge_cells(edge, i).0] != 0;
                let low = active && self.edge_cell(edge, i).bed_m <= lowest + 0.01;
                self.inflow_share[e][i + 1] = if low { 1.0 } else { 0.0 };
                total += self.inflow_share[e][i + 1];
            }
        }
        for i in first..=last {
            let w = self.inflow_share[e][i + 1];
            self.inflow_share[e][i + 1] = if total > 0.0 { w / total / face_m } else { 0.0 };
        }
    }

    /// Write a ghost state; returns its CFL rate.
    fn set_ghost(&mut self, edge: Edge, i: usize, h: f64, un_inward: f64, ut: f64) -> f64 {
        let (_, ghost) = self.edge_cells(edge, i);
        if self.active[ghost] == 0 {
            return 0.0;
        }
        let (sign, normal_is_x) = edge_frame(edge);
        let (qn, qt) = (sign * un_inward * h, ut * h);
        self.cur.h[ghost] = h;
        if normal_is_x {
            self.cur.qx[ghost] = qn;
            self.cur.qy[ghost] = qt;
        } else {
            self.cur.qy[ghost] = qn;
            self.cur.qx[ghost] = qt;
        }
        self.cell_rate(ghost)
    }

    /// Face fluxes of discharge edges for the step [t0, t1]: the mean discharge of an
    /// inflow hydrograph over the step, so that the volume entering is its exact integral.
    fn impose_inflows(&mut self, t0: f64, t1: f64) {
        let g = self.params.gravity_m_s2;
        for s in 0..self.segments.len() {
            let seg = &self.segments[s];
            let (edge, first, last) = (seg.edge, seg.first, seg.last);
            let e = edge_index(edge);
            // (discharge, whether it is per metre already or for the whole segment, a
            // depth imposed with it)
            let (q, per_metre, imposed_depth) = match &seg.condition {
                EdgeBoundary::UnitDischarge { q_m2_s } => (*q_m2_s, true, None),
                EdgeBoundary::SupercriticalInflow { q_m2_s, depth_m } => {
                    (*q_m2_s, true, Some(*depth_m))
                }
                EdgeBoundary::Inflow { discharge_m3_s } => {
                    (discharge_m3_s.mean(t0, t1) * self.inflow_scale, false, None)
                }
                _ => continue,
            };
            for i in first..=last {
                let q_cell = if per_metre {
                    q
                } else {
                    q * self.inflow_share[e][i + 1]
                };
                let hb = imposed_depth
                    .unwrap_or_else(|| self.edge_cell(edge, i).h.max(critical_depth(q_cell, g)));
                let flux = &mut self.edge_flux[e];
                flux.inflow_m2_s[i + 1] = q_cell;
                flux.momentum_m3_s2[i + 1] = if hb > 0.0 {
                    q_cell * q_cell / hb + 0.5 * g * hb * hb
                } else {
                    0.0
                };
            }
        }
    }

    /// Recompute ghosts, the CFL rate and the stored volume from the current state.
    fn refresh(&mut self) {
        let ghost_rate = self.fill_ghosts();
        let g = self.params.gravity_m_s2;
        let dry = self.params.dry_depth_m;
        let (dx, dy) = (self.grid.dx_m, self.grid.dy_m);
        let mut rate: f64 = 0.0;
        let mut depth_sum = 0.0;
        let (cur, active) = (&self.cur, &self.active);
        for r in 1..=self.grid.rows {
            for c in 1..=self.grid.cols {
                let h = cur.h[(r, c)];
                depth_sum += h;
                if h <= dry {
                    continue;
                }
                // A wet cell beside dry ground (a puddle or a reservoir's edge set as the
                // state) loses water through those faces at the dry-front speed 2c, which
                // |u| + c does not bound: an isolated column would lose 4/3 of its depth in
                // the first step. Its rate counts c twice. Later steps see the front.
                let beside_dry = [(r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)]
                    .iter()
                    .any(|&n| active[n] != 0 && cur.h[n] <= dry);
                let wave = (g * h).sqrt() * if beside_dry { 2.0 } else { 1.0 };
                rate = rate
                    .max((cur.qx[(r, c)].abs() / h + wave) / dx)
                    .max((cur.qy[(r, c)].abs() / h + wave) / dy);
            }
        }
        self.max_rate_per_s = rate.max(ghost_rate);
        self.balance.storage_m3 = depth_sum * self.grid.cell_area_m2();
        self.reset_tiles_wet();
    }

    /// The tiles' wet flags from the state, and wet wherever a spell under water is
    /// going on (so that a fold sees it end, as in a run that never stopped).
    fn reset_tiles_wet(&mut self) {
        self.tiles
            .reset_wet(&self.cur.h, &self.cur.qx, &self.cur.qy);
        if let Some(e) = &self.envelopes {
            for (r, c) in e.chunks_in_spell() {
                self.tiles.mark_wet(r, c);
            }
        }
    }

    /// Fold the cells with a point source into the envelopes, after the sources acted.
    fn track_point_cells(&mut self, t_s: f64, dt_s: f64) {
        let Some(env) = &mut self.envelopes else {
            return;
        };
        for &cell in &self.point_cells {
            track_row(
                self.simd,
                &env.spec,
                self.params.dry_depth_m,
                t_s,
                dt_s,
                &[1],
                &[self.cur.h[cell]],
                &[self.cur.qx[cell]],
                &[self.cur.qy[cell]],
                EnvelopeRow {
                    max_depth_m: std::slice::from_mut(&mut env.max_depth_m[cell]),
                    max_speed_m_s: std::slice::from_mut(&mut env.max_speed_m_s[cell]),
                    max_depth_speed_m2_s: std::slice::from_mut(&mut env.max_depth_speed_m2_s[cell]),
                    max_hazard: std::slice::from_mut(&mut env.max_hazard[cell]),
                    first_inundation_s: std::slice::from_mut(&mut env.first_inundation_s[cell]),
                    duration_inundated_s: std::slice::from_mut(&mut env.duration_inundated_s[cell]),
                    // Point-source cells are left out of the bounds.
                    bounds: None,
                },
            );
        }
    }

    /// Track flood envelopes from now on (see [`Envelopes`]), starting from the current
    /// state as if it had lasted no time. Replaces any envelopes tracked so far.
    pub fn track_envelopes(&mut self, spec: EnvelopeSpec) -> Result<(), SolverError> {
        if !(spec.wet_depth_m.is_finite() && spec.wet_depth_m >= 0.0) {
            return Err(SolverError::InvalidParameter {
                name: "wet_depth_m",
                value: spec.wet_depth_m,
                expected: "a depth ≥ 0 m above which a cell counts as flooded",
            });
        }
        let mut env = EnvelopeState::new(spec, self.cur.h.dim());
        // Every active cell, point-source cells included, as they are now.
        let spec = env.spec.clone();
        for r in 0..self.cur.h.nrows() {
            let act: Vec<u8> = self
                .active
                .row(r)
                .iter()
                .map(|&a| u8::from(a != 0))
                .collect();
            let row = |a: &Array2<f64>| a.row(r).to_vec();
            let (h, qx, qy) = (row(&self.cur.h), row(&self.cur.qx), row(&self.cur.qy));
            track_row(
                self.simd,
                &spec,
                self.params.dry_depth_m,
                self.sim_time_s,
                0.0,
                &act,
                &h,
                &qx,
                &qy,
                EnvelopeRow {
                    max_depth_m: env.max_depth_m.row_mut(r).into_slice().expect(CONTIGUOUS),
                    max_speed_m_s: env.max_speed_m_s.row_mut(r).into_slice().expect(CONTIGUOUS),
                    max_depth_speed_m2_s: env
                        .max_depth_speed_m2_s
                        .row_mut(r)
                        .into_slice()
                        .expect(CONTIGUOUS),
                    max_hazard: env.max_hazard.row_mut(r).into_slice().expect(CONTIGUOUS),
                    first_inundation_s: env
                        .first_inundation_s
                        .row_mut(r)
                        .into_slice()
                        .expect(CONTIGUOUS),
                    duration_inundated_s: env
                        .duration_inundated_s
                        .row_mut(r)
                        .into_slice()
                        .expect(CONTIGUOUS),
                    bounds: None,
                },
            );
        }
        env.rebuild_bounds(
            &self.active,
            self.params.dry_depth_m,
            Spells::Now {
                h: &self.cur.h,
                t_s: self.sim_time_s,
            },
        );
        self.envelopes = Some(env);
        Ok(())
    }

    /// The run so far, to save for a hot start (see [`SolverState`]).
    pub fn state(&self) -> SolverState {
        let own = |a: &Array2<f64>| inner(a).to_owned();
        SolverState {
            sim_time_s: self.sim_time_s,
            steps: self.steps,
            max_rate_per_s: self.max_rate_per_s,
            inflow_scale: self.inflow_scale,
            balance: self.balance,
            depth_m: own(&self.cur.h),
            qx_m2_s: own(&self.cur.qx),
            qy_m2_s: own(&self.cur.qy),
            bed_m: own(&self.bed_m),
            infiltrated_m: self.losses.as_ref().map(|l| own(&l.infiltrated_m)),
            soil_rain_m: self
                .losses
                .as_ref()
                .and_then(|l| l.soil.as_ref())
                .and_then(|s| s.rain_m())
                .map(own),
            structures: self.structure_settings.clone(),
            breaches: self
                .breaches
                .iter()
                .map(|b| BreachProgress {
                    started_s: b.started_s,
                    fraction: b.fraction,
                    crest_m: b.crest_m.clone(),
                })
                .collect(),
            envelopes: self.envelopes.as_ref().map(|e| {
                let f32s = |a: &Array2<f32>| inner(a).to_owned();
                EnvelopeValues {
                    max_depth_m: f32s(&e.max_depth_m),
                    max_speed_m_s: f32s(&e.max_speed_m_s),
                    max_depth_speed_m2_s: f32s(&e.max_depth_speed_m2_s),
                    max_hazard: f32s(&e.max_hazard),
                    first_inundation_s: f32s(&e.first_inundation_s),
                    duration_inundated_s: own(&e.duration_inundated_s),
                    flooded_since_s: e.spells_since(),
                }
            }),
        }
    }

    /// Continue from a saved run: this solver must be built from the same inputs (grid,
    /// breaches, losses on or off, envelopes tracked or not) as the one that saved it.
    /// The steps that follow are the same bits as the saved run's would have been.
    pub fn restore(&mut self, state: &SolverState) -> Result<(), SolverError> {
        let mismatch = |what: &str, saved: String, here: String| SolverError::StateMismatch {
            what: what.to_string(),
            saved,
            here,
        };
        for (field, a) in [
            ("depth_m", &state.depth_m),
            ("qx_m2_s", &state.qx_m2_s),
            ("qy_m2_s", &state.qy_m2_s),
            ("bed_m", &state.bed_m),
        ] {
            check_shape(field, &self.grid, &a.view())?;
        }
        check_cells(
            "depth_m",
            &state.depth_m.view(),
            |v| v.is_finite() && v >= 0.0,
            "a finite depth ≥ 0 m",
        )?;
        if state.breaches.len() != self.breaches.len() {
            return Err(mismatch(
                "breaches",
                state.breaches.len().to_string(),
                self.breaches.len().to_string(),
            ));
        }
        for (i, (saved, here)) in state.breaches.iter().zip(&self.breaches).enumerate() {
            if saved.crest_m.len() != here.breach.cells.len() {
                return Err(mismatch(
                    &format!("cells of breach {i}"),
                    saved.crest_m.len().to_string(),
                    here.breach.cells.len().to_string(),
                ));
            }
        }
        if state.structures.len() != self.structures.len() {
            return Err(mismatch(
                "structures",
                state.structures.len().to_string(),
                self.structures.len().to_string(),
            ));
        }
        let on_off = |b: bool| if b { "on" } else { "off" }.to_string();
        if state.infiltrated_m.is_some() != self.losses.is_some() {
            return Err(mismatch(
                "losses",
                on_off(state.infiltrated_m.is_some()),
                on_off(self.losses.is_some()),
            ));
        }
        let curve_number = self
            .losses
            .as_ref()
            .and_then(|l| l.soil.as_ref())
            .is_some_and(|s| s.rain_m().is_some());
        if state.soil_rain_m.is_some() != curve_number {
            return Err(mismatch(
                "curve-number rain so far (soil_rain_m)",
                on_off(state.soil_rain_m.is_some()),
                on_off(curve_number),
            ));
        }
        if let Some(r) = &state.soil_rain_m {
            check_shape("soil_rain_m", &self.grid, &r.view())?;
        }
        if state.envelopes.is_some() != self.envelopes.is_some() {
            return Err(mismatch(
                "envelopes",
                on_off(state.envelopes.is_some()),
                on_off(self.envelopes.is_some()),
            ));
        }
        if let Some(i) = &state.infiltrated_m {
            check_shape("infiltrated_m", &self.grid, &i.view())?;
        }
        if let Some(e) = &state.envelopes {
            check_shape("max_depth_m", &self.grid, &e.max_depth_m.view())?;
            check_shape("max_speed_m_s", &self.grid, &e.max_speed_m_s.view())?;
            check_shape(
                "max_depth_speed_m2_s",
                &self.grid,
                &e.max_depth_speed_m2_s.view(),
            )?;
            check_shape("max_hazard", &self.grid, &e.max_hazard.view())?;
            check_shape(
                "first_inundation_s",
                &self.grid,
                &e.first_inundation_s.view(),
            )?;
            check_shape(
                "duration_inundated_s",
                &self.grid,
                &e.duration_inundated_s.view(),
            )?;
            check_shape("flooded_since_s", &self.grid, &e.flooded_since_s.view())?;
            // The chunk bounds take the least of the maxima, which a NaN would hide.
            for (name, a) in [
                ("max_depth_m", &e.max_depth_m),
                ("max_speed_m_s", &e.max_speed_m_s),
                ("max_depth_speed_m2_s", &e.max_depth_speed_m2_s),
                ("max_hazard", &e.max_hazard),
            ] {
                if let Some(&v) = a.iter().find(|v| v.is_nan() || **v < 0.0) {
                    return Err(SolverError::InvalidParameter {
                        name,
                        value: f64::from(v),
                        expected: "maxima ≥ 0, none NaN, from a saved state",
                    });
                }
            }
        }
        for (name, v, ok) in [
            ("sim_time_s", state.sim_time_s, state.sim_time_s.is_finite()),
            (
                "max_rate_per_s",
                state.max_rate_per_s,
                state.max_rate_per_s.is_finite() && state.max_rate_per_s >= 0.0,
            ),
            (
                "inflow_scale",
                state.inflow_scale,
                state.inflow_scale.is_finite() && state.inflow_scale >= 0.0,
            ),
        ] {
            if !ok {
                return Err(SolverError::InvalidParameter {
                    name,
                    value: v,
                    expected: "a finite value (≥ 0 for rates and factors) from a saved state",
                });
            }
        }

        inner_mut(&mut self.cur.h).assign(&state.depth_m);
        inner_mut(&mut self.cur.qx).assign(&state.qx_m2_s);
        inner_mut(&mut self.cur.qy).assign(&state.qy_m2_s);
        inner_mut(&mut self.bed_m).assign(&state.bed_m);
        self.refresh_ghost_bed();
        if let (Some(l), Some(i)) = (&mut self.losses, &state.infiltrated_m) {
            inner_mut(&mut l.infiltrated_m).assign(i);
        }
        if let (Some(rain), Some(saved)) = (
            self.losses
                .as_mut()
                .and_then(|l| l.soil.as_mut())
                .and_then(|s| s.rain_m_mut()),
            &state.soil_rain_m,
        ) {
            inner_mut(rain).assign(saved);
        }
        self.structure_settings.clone_from(&state.structures);
        for (b, saved) in self.breaches.iter_mut().zip(&state.breaches) {
            b.started_s = saved.started_s;
            b.fraction = saved.fraction;
            b.crest_m.clone_from(&saved.crest_m);
        }
        if let (Some(e), Some(saved)) = (&mut self.envelopes, &state.envelopes) {
            inner_mut(&mut e.max_depth_m).assign(&saved.max_depth_m);
            inner_mut(&mut e.max_speed_m_s).assign(&saved.max_speed_m_s);
            inner_mut(&mut e.max_depth_speed_m2_s).assign(&saved.max_depth_speed_m2_s);
            inner_mut(&mut e.max_hazard).assign(&saved.max_hazard);
            inner_mut(&mut e.first_inundation_s).assign(&saved.first_inundation_s);
            inner_mut(&mut e.duration_inundated_s).assign(&saved.duration_inundated_s);
            e.rebuild_bounds(
                &self.active,
                self.params.dry_depth_m,
                Spells::Saved {
                    since: saved.flooded_since_s.view(),
                    t_s: state.sim_time_s,
                },
            );
        }
        self.sim_time_s = state.sim_time_s;
        self.steps = state.steps;
        self.inflow_scale = state.inflow_scale;
        // Ghost cells of the state at its time, tiles' wet flags, both buffers re-synced.
        self.refresh();
        self.max_rate_per_s = state.max_rate_per_s;
        self.balance = state.balance;
        Ok(())
    }

    /// The envelopes tracked so far; `None` unless [`Solver::track_envelopes`] was called.
    pub fn envelopes(&self) -> Option<Envelopes<'_>> {
        self.envelopes.as_ref().map(|e| e.view(self.sim_time_s))
    }

    /// Choose which tiles a step sweeps (the results are the same bits either way).
    pub fn set_sweep(&mut self, sweep: Sweep) {
        self.params.sweep = sweep;
    }

    /// Give back the memory of the buffers the next step writes into (a third of the
    /// solver's state, two thirds with Heun's), e.g. while a finished run's results are
    /// written; the next step makes them again from the current state. Nothing else
    /// changes.
    pub fn release_step_buffers(&mut self) {
        let empty = || Array2::zeros((0, 0));
        self.next = Conserved {
            h: empty(),
            qx: empty(),
            qy: empty(),
        };
        self.mid = None;
    }

    /// Cut the grid into tiles of `rows × cols` cells instead of the default (for
    /// measuring; results do not depend on it). The state is kept.
    pub fn set_tile_size(&mut self, rows: usize, cols: usize) {
        // The second-order step reaches two cells, so its tiles are two cells or more
        // each way (see `Tiles::plan`).
        let least = match self.params.scheme {
            Scheme::Fv1 => 1,
            Scheme::Fv2 => 2,
        };
        // Tiles are a whole number of the envelopes' chunks wide, so that the chunks a
        // tile folds are its own (the last tile of a row may be narrower).
        let rows = rows.max(least).clamp(1, self.grid.rows);
        let cols = cols
            .max(least)
            .next_multiple_of(LANES)
            .clamp(1, self.grid.cols);
        let span = self.tiles.span_tiles();
        self.tiles = Tiles::new(&self.active, rows, cols);
        self.tiles.set_span_tiles(span);
        for &(r, c) in &self.point_cells {
            self.tiles.force(r, c);
        }
        // Edge segments that can bring water in feed their edge cells every step.
        for seg in self.segments.clone() {
            if seg.condition.can_bring_water() {
                for i in seg.first..=seg.last {
                    let (inner, _) = self.edge_cells(seg.edge, i);
                    self.tiles.force(inner.0, inner.1);
                }
            }
        }
        self.tiles
            .set_rain(self.rain_grid.as_ref().map(|r| r.view()));
        self.reset_tiles_wet();
    }

    /// Sweep at most `n` neighbouring tiles of a row of tiles as one rectangle instead of
    /// [`crate::SPAN_TILES`] (for measuring; results do not depend on it).
    pub fn set_span_tiles(&mut self, n: usize) {
        self.tiles.set_span_tiles(n);
    }

    /// Cells swept since the solver was made, summed over the steps (each step sweeps
    /// whole tiles); with [`Sweep::Dense`], every active tile's cells each step.
    pub fn swept_cells(&self) -> u64 {
        self.tiles.swept_cells
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

    /// Bed elevation (m), including breach changes; inactive cells read 0.
    pub fn bed_m(&self) -> ArrayView2<'_, f64> {
        inner(&self.bed_m)
    }

    /// Depth infiltrated so far per cell (m); `None` without losses.
    pub fn infiltrated_m(&self) -> Option<ArrayView2<'_, f64>> {
        self.losses.as_ref().map(|l| inner(&l.infiltrated_m))
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

fn edge_index(edge: Edge) -> usize {
    match edge {
        Edge::North => 0,
        Edge::South => 1,
        Edge::West => 2,
        Edge::East => 3,
    }
}

/// (sign of the inward normal along its axis, whether the normal is x) for an edge.
fn edge_frame(edge: Edge) -> (f64, bool) {
    match edge {
        Edge::West => (1.0, true),
        Edge::East => (-1.0, true),
        Edge::North => (1.0, false),
        Edge::South => (-1.0, false),
    }
}
