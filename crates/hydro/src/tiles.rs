//! Active tiles: the grid is cut into rectangles, and a step sweeps only those where
//! something can happen.
//!
//! A cell changes in a step only if it or one of its four neighbours holds water (h > 0)
//! or it receives forcing. So a tile is swept when it holds water, when one of its four
//! neighbouring tiles holds water in the cells along their common side, or when it is
//! forced: it lies on an edge segment that can
//! bring water in (an inflow, a stage, a fixed depth; a free or normal-depth outflow only
//! copies its edge cells), holds a point source, or it rains on it. Elsewhere every flux is exactly zero (both sides dry:
//! zero depth, zero wave speeds) and the dense sweep would rewrite the same zeros, so
//! skipping gives the same bits. "Holds water" means any depth above zero, not above the
//! dry depth: a film below the dry depth has no velocity but still spreads by its
//! pressure, and skipping it would change the result. (fv2 with Heun's two stages moves
//! water two cells a step: see `Tiles::plan`.)
//!
//! A skipped tile keeps its state in both buffers of the solver: the first time it is
//! skipped after being swept, its cells are copied into the buffer the step writes.

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::kernel::{BlockTotals, Tile};

/// Which tiles a step sweeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sweep {
    /// Only tiles where something can happen (the default; same results as `Dense`).
    #[default]
    Active,
    /// Every tile with an active cell, every step: the reference the tiled sweep is
    /// tested against.
    Dense,
}

/// Columns per tile. Tiles of 32 × 128 cells were chosen by measurement (crate README):
/// smaller tiles skip more of a dry valley but recompute more faces on their sides and
/// cost more per task; wider ones (32 × 256) sweep a wet grid faster but a dry valley
/// 1.7× slower.
pub const TILE_COLS: usize = 128;

/// Rows per tile (fewer on a grid with fewer rows). Tiles depend on the grid alone, never
/// on the thread count, so that results are bit-identical for any number of threads.
pub const TILE_ROWS: usize = 32;

/// Tiles side by side in one row of tiles that a step sweeps as one rectangle when all of
/// them are swept (by measurement, crate README): on a wet grid the sweep then runs along
/// rows of 1024 cells, as fast as an untiled sweep, while each tile keeps its own totals and
/// activity, so the results are the same bits whatever the grouping.
pub const SPAN_TILES: usize = 8;

pub(crate) fn rows_per_tile(rows: usize) -> usize {
    TILE_ROWS.min(rows)
}

#[derive(Debug, Clone)]
pub(crate) struct Tiles {
    pub rects: Vec<Tile>,
    /// Tiles per row of tiles.
    across: usize,
    rows_per: usize,
    cols_per: usize,
    has_active: Vec<bool>,
    /// On an edge segment that can bring water in, or holding a point source.
    forced: Vec<bool>,
    /// Gridded rain falls somewhere in the tile.
    rain: Vec<bool>,
    /// Holds water (any h > 0) at the start of the next step.
    wet: Vec<bool>,
    /// Holds water on its north, south, west, east side (first/last row or column).
    wet_sides: Vec<[bool; 4]>,
    /// Both state buffers hold the same values in this tile.
    synced: Vec<bool>,
    /// Tiles swept in the current step, in increasing order.
    pub list: Vec<usize>,
    /// Runs of `list` swept as one rectangle: (first position in `list`, count), covering
    /// `list` in order. A run is at most `span_tiles` neighbouring tiles of one row of tiles.
    pub spans: Vec<(usize, usize)>,
    span_tiles: usize,
    /// Totals of the tiles in `list`, in the same order.
    pub totals: Vec<BlockTotals>,
    /// Tiles swept per step, summed over the steps (for the cell-update count).
    pub swept_cells: u64,
}

impl Tiles {
    /// Tiles of `rows_per × cols_per` over a padded `active` mask (`rows + 2 × cols + 2`).
    pub fn new(active: &Array2<u8>, rows_per: usize, cols_per: usize) -> Self {
        let (rows, cols) = (active.nrows() - 2, active.ncols() - 2);
        let down = rows.div_ceil(rows_per);
        let across = cols.div_ceil(cols_per);
        let mut rects = Vec::with_capacity(down * across);
        let mut has_active = Vec::with_capacity(down * across);
        for tr in 0..down {
            for tc in 0..across {
                let first_row = 1 + tr * rows_per;
                let last_row = (first_row + rows_per - 1).min(rows);
                let c0 = 1 + tc * cols_per;
                let c1 = (c0 + cols_per - 1).min(cols);
                let tile = Tile {
                    first_row,
                    rows: last_row + 1 - first_row,
                    c0,
                    c1,
                };
                has_active.push(cells(&tile).any(|(r, c)| active[(r, c)] != 0));
                rects.push(tile);
            }
        }
        let n = rects.len();
        Self {
            rects,
            across,
            rows_per,
            cols_per,
            has_active,
            forced: vec![false; n],
            rain: vec![false; n],
            wet: vec![false; n],
            wet_sides: vec![[false; 4]; n],
            synced: vec![false; n],
            list: Vec::with_capacity(n),
            spans: Vec::with_capacity(n),
            span_tiles: SPAN_TILES,
            totals: Vec::with_capacity(n),
            swept_cells: 0,
        }
    }

    pub fn cols_per(&self) -> usize {
        self.cols_per
    }

    /// The widest rectangle a step sweeps, in columns.
    pub fn span_cols(&self) -> usize {
        self.cols_per * self.span_tiles.min(self.across)
    }

    pub fn span_tiles(&self) -> usize {
        self.span_tiles
    }

    /// Sweep at most `n` (≥ 1) neighbouring tiles as one rectangle.
    pub fn set_span_tiles(&mut self, n: usize) {
        self.span_tiles = n.max(1);
    }

    /// The tile of padded cell (r, c).
    pub fn of(&self, r: usize, c: usize) -> usize {
        let (r, c) = (r.max(1) - 1, c.max(1) - 1);
        let down = self.rects.len() / self.across;
        (r / self.rows_per).min(down - 1) * self.across + (c / self.cols_per).min(self.across - 1)
    }

    /// Sweep the tile of padded cell (r, c) every step.
    pub fn force(&mut self, r: usize, c: usize) {
        let i = self.of(r, c);
        self.forced[i] = true;
    }

    /// The tile of padded cell (r, c) now holds water (on every side, to be safe).
    pub fn mark_wet(&mut self, r: usize, c: usize) {
        let i = self.of(r, c);
        self.wet[i] = true;
        self.wet_sides[i] = [true; 4];
    }

    /// Which tiles hold water in the state `h, qx, qy` (padded); after the state was set
    /// from outside, so that neither buffer is known to match the other.
    pub fn reset_wet(&mut self, h: &Array2<f64>, qx: &Array2<f64>, qy: &Array2<f64>) {
        for (i, tile) in self.rects.iter().enumerate() {
            self.wet[i] =
                cells(tile).any(|cell| h[cell] != 0.0 || qx[cell] != 0.0 || qy[cell] != 0.0);
            self.wet_sides[i] = [self.wet[i]; 4];
            self.synced[i] = false;
        }
    }

    /// Which tiles gridded rain falls on (rain in m/s, padded; `None`: no gridded rain).
    pub fn set_rain(&mut self, rain: Option<ArrayView2<'_, f64>>) {
        for (i, tile) in self.rects.iter().enumerate() {
            self.rain[i] = rain.is_some_and(|r| cells(tile).any(|cell| r[cell] > 0.0));
        }
    }

    /// Choose the tiles of this step into `list`; returns the tiles to copy from the
    /// current into the next buffer (skipped now, swept before).
    ///
    /// With `two_cells` (Heun's two stages, which move water up to two cells in a step), a
    /// tile is also swept when any of the eight tiles around it holds water or is forced
    /// (a forced tile's edge cells take water in the first stage and pass it on in the
    /// second). Tiles are at least two cells each way (`Solver::set_tile_size`) except the
    /// last of a row or column, which has none beyond it.
    pub fn plan(
        &mut self,
        sweep: Sweep,
        rain_everywhere: bool,
        two_cells: bool,
        copy: &mut Vec<usize>,
    ) {
        self.list.clear();
        copy.clear();
        let down = self.rects.len() / self.across;
        for i in 0..self.rects.len() {
            if !self.has_active[i] {
                continue;
            }
            let (tr, tc) = (i / self.across, i % self.across);
            // Water in this tile, or on the side of a neighbour that faces it.
            let near_water = self.wet[i]
                || (tr > 0 && self.wet_sides[i - self.across][1])
                || (tr + 1 < down && self.wet_sides[i + self.across][0])
                || (tc > 0 && self.wet_sides[i - 1][3])
                || (tc + 1 < self.across && self.wet_sides[i + 1][2]);
            let near_water = near_water
                || (two_cells && {
                    let (r0, r1) = (tr.saturating_sub(1), (tr + 1).min(down - 1));
                    let (c0, c1) = (tc.saturating_sub(1), (tc + 1).min(self.across - 1));
                    (r0..=r1).any(|r| {
                        (c0..=c1).any(|c| {
                            let j = r * self.across + c;
                            self.wet[j] || self.forced[j]
                        })
                    })
                });
            let swept = sweep == Sweep::Dense
                || rain_everywhere
                || self.rain[i]
                || self.forced[i]
                || near_water;
            if swept {
                self.list.push(i);
                self.synced[i] = false;
                self.swept_cells += (self.rects[i].rows * self.rects[i].cols()) as u64;
            } else if !self.synced[i] {
                copy.push(i);
                self.synced[i] = true;
            }
        }
        self.spans.clear();
        for (pos, &i) in self.list.iter().enumerate() {
            match self.spans.last_mut() {
                Some((first, count))
                    if *count < self.span_tiles
                        && self.list[*first] + *count == i
                        && i % self.across != 0 =>
                {
                    *count += 1;
                }
                _ => self.spans.push((pos, 1)),
            }
        }
        self.totals.clear();
        self.totals.resize(self.list.len(), BlockTotals::default());
    }

    /// Record which swept tiles hold water after the sweep.
    pub fn after_sweep(&mut self) {
        for (&i, t) in self.list.iter().zip(&self.totals) {
            self.wet[i] = t.max_depth_m > 0.0;
            self.wet_sides[i] = t.wet_sides;
        }
    }
}

/// The padded cells of a tile, row by row.
pub(crate) fn cells(tile: &Tile) -> impl Iterator<Item = (usize, usize)> + '_ {
    (tile.first_row..tile.first_row + tile.rows)
        .flat_map(move |r| (tile.c0..=tile.c1).map(move |c| (r, c)))
}
