//! Forcing: rain, infiltration losses, point sources and breaches. Data only; the solver
//! applies them inside its step.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::TimeSeries;

/// Initial + continuing infiltration loss per cell (the hydrologists' IL/CL model): the
/// first `initial_mm` of water reaching a cell soak in, then water soaks in at
/// `continuing_mm_per_h` while there is any, until `capacity_mm` have soaked in in total
/// (`f64::INFINITY` for no limit).
#[derive(Clone, Debug, PartialEq)]
pub struct Losses {
    pub initial_mm: Array2<f64>,
    pub continuing_mm_per_h: Array2<f64>,
    pub capacity_mm: Array2<f64>,
}

impl Losses {
    /// The same loss parameters in every cell of a `rows × cols` grid.
    pub fn uniform(
        rows: usize,
        cols: usize,
        initial_mm: f64,
        continuing_mm_per_h: f64,
        capacity_mm: f64,
    ) -> Self {
        Self {
            initial_mm: Array2::from_elem((rows, cols), initial_mm),
            continuing_mm_per_h: Array2::from_elem((rows, cols), continuing_mm_per_h),
            capacity_mm: Array2::from_elem((rows, cols), capacity_mm),
        }
    }
}

/// A discharge Q(t) in m³/s added to one cell: a spring or an outfall when positive, a
/// pump or a drain when negative (it never takes more water than the cell holds).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointSource {
    pub row: usize,
    pub col: usize,
    pub discharge_m3_s: TimeSeries,
}

/// When a breach starts forming.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BreachTrigger {
    /// At a simulated time.
    AtTime { time_s: f64 },
    /// When the water level (bed + depth) at a cell reaches `level_m`, e.g. a reservoir
    /// overtopping its dam.
    WaterLevel {
        row: usize,
        col: usize,
        level_m: f64,
    },
    /// Only when the caller triggers it (`Solver::trigger_breach`).
    Manual,
}

/// A dam or levee breach: the bed of `cells` (row, col) falls from its crest (the bed when
/// the breach starts) to `final_bed_m`, linearly over `formation_time_s` (0: at once).
/// Cells already below `final_bed_m` are left as they are. Water depths are kept, so the
/// change neither creates nor destroys water.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Breach {
    pub cells: Vec<(usize, usize)>,
    pub final_bed_m: f64,
    pub formation_time_s: f64,
    pub trigger: BreachTrigger,
}

/// Where a breach stands.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum BreachStatus {
    Waiting,
    /// Forming since `started_s`, `fraction` (0–1) of the drop done.
    Forming {
        started_s: f64,
        fraction: f64,
    },
    Complete {
        started_s: f64,
    },
}
