//! Errors of the solver: bad input found before a run, and a blow-up found during one.

use thiserror::Error;

/// Everything that can go wrong in `hydro`. Each variant names the field or parameter and
/// says what a valid value looks like, so the caller can pass the message on as it is.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SolverError {
    /// A grid dimension or cell size that cannot describe a raster.
    #[error("invalid grid: {reason}")]
    InvalidGrid { reason: String },

    /// An input array whose shape differs from the grid.
    #[error(
        "`{field}` has shape {got_rows}×{got_cols} but the grid is {rows}×{cols} (rows×columns)"
    )]
    ShapeMismatch {
        field: &'static str,
        rows: usize,
        cols: usize,
        got_rows: usize,
        got_cols: usize,
    },

    /// A cell value outside its valid range (negative depth, negative Manning n, NaN bed).
    #[error("`{field}` at row {row}, column {col} is {value}: {expected}")]
    InvalidCell {
        field: &'static str,
        row: usize,
        col: usize,
        value: f64,
        expected: &'static str,
    },

    /// A time series that cannot be used (unsorted times, no points, NaN).
    #[error("invalid time series: {reason}")]
    InvalidSeries { reason: String },

    /// A boundary segment, point source or breach that does not fit the grid.
    #[error("{what} does not fit the {rows}×{cols} grid: {reason}")]
    OutsideGrid {
        what: String,
        rows: usize,
        cols: usize,
        reason: String,
    },

    /// A saved state does not fit the solver it is restored into.
    #[error(
        "the saved state has {what} = {saved} but this run has {here}; continue a state only with the basin and scenario set-up that saved it"
    )]
    StateMismatch {
        what: String,
        saved: String,
        here: String,
    },

    /// A structure's parameter outside its valid range.
    #[error("structure `{name}`: `{what}` = {value} is invalid: {expected}")]
    InvalidStructure {
        name: String,
        what: String,
        value: f64,
        expected: &'static str,
    },

    /// A solver or boundary parameter outside its valid range.
    #[error("parameter `{name}` = {value} is invalid: {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },

    /// The solution became non-finite or negative: the run stops here and the state stays
    /// at the last good step.
    #[error(
        "solver blow-up at step {step}, t = {sim_time_s:.6} s (dt = {dt_s:.3e} s): cell row {row}, \
         column {col} has depth {depth_m} m, qx {qx_m2_s} m²/s, qy {qy_m2_s} m²/s; \
         try a smaller `cfl` or `max_dt_s`, and check the bed and roughness near that cell"
    )]
    BlowUp {
        step: u64,
        sim_time_s: f64,
        dt_s: f64,
        row: usize,
        col: usize,
        depth_m: f64,
        qx_m2_s: f64,
        qy_m2_s: f64,
    },
}
