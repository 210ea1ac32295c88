//! # hydro — rivertwin's 2D shallow-water flood solver
//!
//! Finite volumes on a uniform raster grid: first-order Godunov (or, with
//! `scheme = "fv2"`, MUSCL–Hancock or Heun with minmod slopes) with the HLLC Riemann
//! solver and the hydrostatic reconstruction of Audusse et al. (2004), semi-implicit
//! Manning friction, adaptive time step from a CFL number, edge conditions through a
//! ring of ghost cells, and forcing (rain, losses, point sources, hydrographs, breaches). The step is one fused, rayon-parallel sweep over row blocks whose
//! results do not depend on the number of threads.
//!
//! The crate takes arrays and numbers and returns reports; it never reads files and knows
//! nothing of output schedules (the caller passes the time a step must end at).
//!
//! ```
//! use hydro::{Boundaries, Grid, Solver, SolverParams};
//! use ndarray::Array2;
//!
//! let grid = Grid::new(50, 100, 1.0, 1.0)?;
//! let bed = Array2::zeros((50, 100));
//! let n = Array2::from_elem((50, 100), 0.03);
//! let mut solver = Solver::new(grid, bed.view(), n.view(), None,
//!                              Boundaries::walls(), SolverParams::default())?;
//! let depth = Array2::from_shape_fn((50, 100), |(_, c)| if c < 50 { 2.0 } else { 0.5 });
//! solver.set_depth(depth.view())?;
//! solver.advance_to(5.0)?;
//! assert!(solver.balance().relative_error() < 1e-12);
//! # Ok::<(), hydro::SolverError>(())
//! ```

mod boundary;
mod envelope;
mod error;
mod flux;
mod forcing;
mod grid;
mod kernel;
mod muscl;
mod series;
pub mod soil;
mod solver;
mod state;
mod structures;
mod tiles;

pub use boundary::{Boundaries, BoundarySegment, EdgeBoundary};
pub use envelope::{ArrClass, Durations, EnvelopeSpec, Envelopes, HazardRule, UkRating, arr_class};
pub use error::SolverError;
pub use forcing::{Breach, BreachStatus, BreachTrigger, Losses, PointSource};
pub use grid::{Edge, Grid, MAX_CELLS};
pub use series::TimeSeries;
pub use soil::LossModel;
pub use solver::{
    Reconstruction, Scheme, Solver, SolverParams, StateSummary, StepReport, TimeIntegration,
    WaterBalance,
};
pub use state::{BreachProgress, EnvelopeValues, SolverState};
pub use structures::{
    Barrel, Link, Regime, Structure, StructureFlow, StructureKind, StructureSetting, culvert_flow,
    gate_flow, villemonte, weir_flow,
};
pub use tiles::{SPAN_TILES, Sweep, TILE_COLS, TILE_ROWS};
