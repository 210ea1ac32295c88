//! The raster grid the solver works on, and its edges.

use serde::{Deserialize, Serialize};

use crate::SolverError;

/// A uniform, cell-centred raster grid of `rows × cols` cells of `dx_m × dy_m`.
///
/// Frame: arrays are indexed `[row, col]`. `x` runs along columns (increasing column,
/// east on a north-up raster), `y` along rows (increasing row, which is *south* on a
/// north-up raster, where row 0 is the northern edge). The momentum `qy` follows the row
/// axis: positive `qy` flows towards higher row numbers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub dx_m: f64,
    pub dy_m: f64,
}

/// Largest grid the solver accepts (cells). Well above any basin a workstation can hold;
/// it exists so that a corrupt header is refused instead of overflowing an index.
pub const MAX_CELLS: usize = 1 << 31;

impl Grid {
    pub fn new(rows: usize, cols: usize, dx_m: f64, dy_m: f64) -> Result<Self, SolverError> {
        let grid = Self {
            rows,
            cols,
            dx_m,
            dy_m,
        };
        grid.validate()?;
        Ok(grid)
    }

    pub fn validate(&self) -> Result<(), SolverError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(SolverError::InvalidGrid {
                reason: format!(
                    "{}×{} cells: a grid needs at least one row and one column",
                    self.rows, self.cols
                ),
            });
        }
        let cells = self.rows.saturating_mul(self.cols);
        if cells > MAX_CELLS {
            return Err(SolverError::InvalidGrid {
                reason: format!(
                    "{}×{} cells is more than the {MAX_CELLS} the solver accepts; coarsen the DEM",
                    self.rows, self.cols
                ),
            });
        }
        for (name, value) in [("dx_m", self.dx_m), ("dy_m", self.dy_m)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(SolverError::InvalidParameter {
                    name,
                    value,
                    expected: "a cell size must be a finite length > 0 in metres",
                });
            }
        }
        Ok(())
    }

    pub fn cells(&self) -> usize {
        self.rows * self.cols
    }

    pub fn cell_area_m2(&self) -> f64 {
        self.dx_m * self.dy_m
    }

    /// Number of cells along an edge.
    pub fn edge_len(&self, edge: Edge) -> usize {
        match edge {
            Edge::North | Edge::South => self.cols,
            Edge::West | Edge::East => self.rows,
        }
    }

    /// Length of the face of one edge cell on that edge (m).
    pub fn edge_face_m(&self, edge: Edge) -> f64 {
        match edge {
            Edge::North | Edge::South => self.dx_m,
            Edge::West | Edge::East => self.dy_m,
        }
    }
}

/// A side of the domain. North is row 0, south the last row, west column 0, east the last
/// column (the layout of a north-up raster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Edge {
    North,
    South,
    West,
    East,
}

impl Edge {
    pub const ALL: [Edge; 4] = [Edge::North, Edge::South, Edge::West, Edge::East];
}
