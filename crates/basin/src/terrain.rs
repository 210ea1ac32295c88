//! Terrain hydrology on a DEM grid: depressions filled (priority flood with ε), D8 flow
//! directions, flow accumulation, the stream network with its Strahler order, and the
//! catchment draining to a cell. Pure array work (no GDAL); `hydrology` reads the basin
//! and writes the results.
//!
//! - Filling: Priority-Flood+ε (Barnes, Lehman & Mulla 2014, "Priority-Flood: An optimal
//!   depression-filling and watershed-labeling algorithm for digital elevation models",
//!   Computers & Geosciences 62, 117–127, algorithm 3). Seeds are the data cells on the
//!   grid's edge or beside nodata; every other cell is raised, where needed, to the next
//!   f64 above the cell it was reached from. No flat is left, so every cell but a seed
//!   has a lower neighbour and D8 needs no flat resolution.
//! - D8: the neighbour of steepest descent, (z − z_n) / distance with distance dy, dx or
//!   √(dx² + dy²), the first of equal slopes in the order N, NE, E, SE, S, SW, W, NW (the
//!   order and arithmetic of pysheds, which the tests compare against); a cell with no
//!   lower data neighbour drains out of the grid (an outlet).
//! - Accumulation: cells draining through each cell, itself included, in topological
//!   order (indegree counting), O(n).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use ndarray::Array2;

/// Neighbour offsets (row, column) in D8 order: N, NE, E, SE, S, SW, W, NW.
pub const D8_OFFSETS: [(isize, isize); 8] = [
    (-1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
    (1, 0),
    (1, -1),
    (0, -1),
    (-1, -1),
];

/// ESRI's D8 codes in the same order (64 = north … 32 = north-west), as ArcGIS, GRASS
/// r.terraflow's ESRI option and pysheds' default write them.
pub const ESRI_D8: [u8; 8] = [64, 128, 1, 2, 4, 8, 16, 32];

/// A D8 direction: the index into [`D8_OFFSETS`], or none (an outlet or nodata).
pub type Direction = Option<u8>;

/// f64 ordered as a heap key (total order; the DEM holds no NaN on data cells).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Key(f64);

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn neighbour(
    (r, c): (usize, usize),
    (dr, dc): (isize, isize),
    (rows, cols): (usize, usize),
) -> Option<(usize, usize)> {
    let (nr, nc) = (r.checked_add_signed(dr)?, c.checked_add_signed(dc)?);
    (nr < rows && nc < cols).then_some((nr, nc))
}

/// The DEM with every depression filled to a slope of one ulp towards its spill point
/// (Priority-Flood+ε). `data` marks the cells that hold elevations; others are left as
/// they are. Seeds (data cells on the grid's edge or with a nodata neighbour among the
/// 8) keep their elevation.
pub fn fill_depressions(dem: &Array2<f64>, data: &Array2<bool>) -> Array2<f64> {
    let dim = dem.dim();
    let mut filled = dem.clone();
    let mut closed = Array2::from_elem(dim, false);
    // Cells are pushed with (elevation, insertion number) so that equal elevations leave
    // in the order they came: the result does not depend on the heap's tie-breaking.
    let mut open: BinaryHeap<Reverse<(Key, u64, usize, usize)>> = BinaryHeap::new();
    let mut pit: VecDeque<(usize, usize)> = VecDeque::new();
    let mut order = 0u64;
    for ((r, c), &d) in data.indexed_iter() {
        if !d {
            continue;
        }
        let seed = D8_OFFSETS
            .iter()
            .any(|&o| neighbour((r, c), o, dim).is_none_or(|n| !data[n]));
        if seed {
            closed[(r, c)] = true;
            open.push(Reverse((Key(dem[(r, c)]), order, r, c)));
            order += 1;
        }
    }
    loop {
        let (cell, z) = if let Some(cell) = pit.pop_front() {
            (cell, filled[cell])
        } else if let Some(Reverse((Key(z), _, r, c))) = open.pop() {
            ((r, c), z)
        } else {
            break;
        };
        for o in D8_OFFSETS {
            let Some(n) = neighbour(cell, o, dim) else {
                continue;
            };
            if !data[n] || closed[n] {
                continue;
            }
            closed[n] = true;
            let up = z.next_up();
            if filled[n] <= up {
                // In a depression (or on a flat): raised just above the cell it drains to.
                filled[n] = up;
                pit.push_back(n);
            } else {
                open.push(Reverse((Key(filled[n]), order, n.0, n.1)));
                order += 1;
            }
        }
    }
    filled
}

/// D8 directions of `dem` (filled, so that only outlets lack a lower neighbour), with
/// cell sizes `dx_m`, `dy_m`. Nodata cells and outlets get `None`.
pub fn d8_directions(
    dem: &Array2<f64>,
    data: &Array2<bool>,
    dx_m: f64,
    dy_m: f64,
) -> Array2<Direction> {
    let dim = dem.dim();
    let dd = (dx_m * dx_m + dy_m * dy_m).sqrt();
    let distance = [dy_m, dd, dx_m, dd, dy_m, dd, dx_m, dd];
    Array2::from_shape_fn(dim, |cell| {
        if !data[cell] {
            return None;
        }
        let z = dem[cell];
        let mut best = f64::NEG_INFINITY;
        let mut dir = None;
        for (k, o) in D8_OFFSETS.into_iter().enumerate() {
            let Some(n) = neighbour(cell, o, dim).filter(|&n| data[n]) else {
                continue;
            };
            let slope = (z - dem[n]) / distance[k];
            if slope > best {
                best = slope;
                dir = Some(k as u8);
            }
        }
        // No lower neighbour: the water leaves the grid here.
        dir.filter(|_| best > 0.0)
    })
}

/// The cell a direction points to.
pub fn downstream(
    cell: (usize, usize),
    dir: Direction,
    dim: (usize, usize),
) -> Option<(usize, usize)> {
    neighbour(cell, D8_OFFSETS[usize::from(dir?)], dim)
}

/// Cells in an order where every cell comes after all the cells draining into it
/// (Kahn's algorithm on the D8 graph; sources in row-major order).
pub fn topological_order(dirs: &Array2<Direction>) -> Vec<(usize, usize)> {
    let dim = dirs.dim();
    let mut indegree = Array2::<u8>::zeros(dim);
    for (cell, &d) in dirs.indexed_iter() {
        if let Some(n) = downstream(cell, d, dim) {
            indegree[n] += 1;
        }
    }
    let mut order: Vec<(usize, usize)> = indegree
        .indexed_iter()
        .filter(|&(_, &k)| k == 0)
        .map(|(cell, _)| cell)
        .collect();
    let mut i = 0;
    while i < order.len() {
        if let Some(n) = downstream(order[i], dirs[order[i]], dim) {
            indegree[n] -= 1;
            if indegree[n] == 0 {
                order.push(n);
            }
        }
        i += 1;
    }
    order
}

/// Flow accumulation: the number of data cells draining through each cell, itself
/// included (0 on nodata).
pub fn accumulation(dirs: &Array2<Direction>, data: &Array2<bool>) -> Array2<u32> {
    let dim = dirs.dim();
    let mut acc = data.mapv(u32::from);
    for cell in topological_order(dirs) {
        if !data[cell] {
            continue;
        }
        if let Some(n) = downstream(cell, dirs[cell], dim) {
            acc[n] += acc[cell];
        }
    }
    acc
}

/// Strahler order of the stream cells (accumulation ≥ `threshold_cells`), 0 elsewhere.
/// A source is order 1; where two streams of the same order meet the order rises by one,
/// otherwise the highest order carries on.
pub fn strahler(dirs: &Array2<Direction>, acc: &Array2<u32>, threshold_cells: u32) -> Array2<u8> {
    let dim = dirs.dim();
    let stream = acc.mapv(|a| a >= threshold_cells.max(1));
    // Per cell: the highest order flowing in, and how many inflows have it.
    let mut top = Array2::<u8>::zeros(dim);
    let mut count = Array2::<u8>::zeros(dim);
    let mut order = Array2::<u8>::zeros(dim);
    for cell in topological_order(dirs) {
        if !stream[cell] {
            continue;
        }
        let o = match (top[cell], count[cell]) {
            (0, _) => 1,
            (t, k) if k >= 2 => t.saturating_add(1),
            (t, _) => t,
        };
        order[cell] = o;
        if let Some(n) = downstream(cell, dirs[cell], dim).filter(|&n| stream[n]) {
            if o > top[n] {
                top[n] = o;
                count[n] = 1;
            } else if o == top[n] {
                count[n] = count[n].saturating_add(1);
            }
        }
    }
    order
}

/// The cells draining to `outlet` (itself included).
pub fn catchment(dirs: &Array2<Direction>, outlet: (usize, usize)) -> Array2<bool> {
    let dim = dirs.dim();
    let mut inside = Array2::from_elem(dim, false);
    inside[outlet] = true;
    let mut stack = vec![outlet];
    while let Some(cell) = stack.pop() {
        for o in D8_OFFSETS {
            let Some(n) = neighbour(cell, o, dim) else {
                continue;
            };
            if !inside[n] && downstream(n, dirs[n], dim) == Some(cell) {
                inside[n] = true;
                stack.push(n);
            }
        }
    }
    inside
}

/// The cell of highest accumulation within `radius` cells (Chebyshev) of `cell`: a
/// gauge placed beside its channel moves onto it. Ties keep the nearest, then the first
/// in row order.
pub fn snap_to_stream(acc: &Array2<u32>, cell: (usize, usize), radius: usize) -> (usize, usize) {
    let (rows, cols) = acc.dim();
    let mut best = (acc[cell], 0usize, cell);
    for r in cell.0.saturating_sub(radius)..=(cell.0 + radius).min(rows - 1) {
        for c in cell.1.saturating_sub(radius)..=(cell.1 + radius).min(cols - 1) {
            let d = r.abs_diff(cell.0).max(c.abs_diff(cell.1));
            let a = acc[(r, c)];
            if a > best.0 || (a == best.0 && d < best.1) {
                best = (a, d, (r, c));
            }
        }
    }
    best.2
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5 × 5 bowl with a pit in the middle and its rim lowest at the east edge: the pit
    /// is filled to just above the rim cell it spills over, and every cell drains to that
    /// spill cell.
    #[test]
    fn a_pit_fills_to_its_spill_point_and_drains_out_there() {
        let dem = Array2::from_shape_fn((5, 5), |(r, c)| {
            if (r, c) == (2, 4) {
                5.0
            } else if r == 0 || c == 0 || r == 4 || c == 4 {
                10.0
            } else if (r, c) == (2, 2) {
                1.0
            } else {
                3.0
            }
        });
        let data = Array2::from_elem((5, 5), true);
        let filled = fill_depressions(&dem, &data);
        // Every interior cell now lies above the spill cell (5 m), by a few ulps.
        for r in 1..4 {
            for c in 1..4 {
                assert!(
                    filled[(r, c)] > 5.0 && filled[(r, c)] < 5.0 + 1e-12,
                    "{r},{c}"
                );
            }
        }
        assert_eq!(filled[(0, 0)], 10.0, "seeds keep their elevation");
        let dirs = d8_directions(&filled, &data, 1.0, 1.0);
        let acc = accumulation(&dirs, &data);
        // The rim (10 m) drains into the bowl too: everything leaves through the spill cell.
        assert_eq!(acc[(2, 4)], 25);
        assert_eq!(dirs[(2, 3)], Some(2), "the cell beside it points east");
        let inside = catchment(&dirs, (2, 4));
        assert_eq!(inside.iter().filter(|&&i| i).count(), 25);
        // Total: each cell counted once, at an outlet.
        let outlets: u32 = dirs
            .indexed_iter()
            .filter(|(_, d)| d.is_none())
            .map(|(c, _)| acc[c])
            .sum();
        assert_eq!(outlets, 25);
    }

    /// Two first-order streams meet into a second-order one; a first-order side stream
    /// joining it leaves it second order.
    #[test]
    fn strahler_orders_rise_only_where_equal_orders_meet() {
        // A V of two streams from the top corners meeting mid-grid, then flowing south.
        let dim = (6, 5);
        let mut dirs = Array2::<Direction>::from_elem(dim, None);
        // Streams: (0,0)→(1,1)→(2,2) and (0,4)→(1,3)→(2,2), then (2,2)→(3,2)→(4,2)→(5,2).
        dirs[(0, 0)] = Some(3);
        dirs[(1, 1)] = Some(3);
        dirs[(0, 4)] = Some(5);
        dirs[(1, 3)] = Some(5);
        for r in 2..5 {
            dirs[(r, 2)] = Some(4);
        }
        // A side stream into (4, 2) from the east.
        dirs[(4, 4)] = Some(6);
        dirs[(4, 3)] = Some(6);
        let data = Array2::from_elem(dim, true);
        let acc = accumulation(&dirs, &data);
        let order = strahler(&dirs, &acc, 1);
        assert_eq!(order[(1, 1)], 1);
        assert_eq!(order[(2, 2)], 2);
        assert_eq!(order[(4, 2)], 2);
        assert_eq!(order[(5, 2)], 2);
        assert_eq!(order[(4, 3)], 1);
    }

    #[test]
    fn a_gauge_beside_its_channel_snaps_onto_it() {
        let mut acc = Array2::<u32>::from_elem((5, 5), 1);
        acc[(2, 3)] = 50;
        acc[(4, 4)] = 80;
        assert_eq!(snap_to_stream(&acc, (2, 2), 1), (2, 3));
        assert_eq!(snap_to_stream(&acc, (2, 2), 2), (4, 4));
        assert_eq!(snap_to_stream(&acc, (2, 2), 0), (2, 2));
    }
}
