//! From the basin's raster grid to the 3D view and back. The view samples the grid every
//! `stride` cells so that a basin of any size is shown with at most about
//! `MAX_VERTICES_PER_SIDE`² vertices (level of detail, never a refusal).
//!
//! Frames: map (easting, northing in the basin's CRS), grid (row down = south, column
//! right = east), world (bevy: x east, y up, z south, in metres, centred on the grid,
//! elevations above the lowest cell times the vertical exaggeration).

use ndarray::{Array2, ArrayView2};

/// Vertices along the longer side of the view meshes.
pub const MAX_VERTICES_PER_SIDE: usize = 512;

#[derive(Clone, Debug, PartialEq)]
pub struct ViewGrid {
    pub rows: usize,
    pub cols: usize,
    pub dx_m: f64,
    pub dy_m: f64,
    /// Cells between two vertices.
    pub stride: usize,
    pub vertex_rows: usize,
    pub vertex_cols: usize,
    /// Lowest and highest active bed (m).
    pub z_min_m: f64,
    pub z_max_m: f64,
    pub exaggeration: f32,
}

impl ViewGrid {
    pub fn new(bed_m: ArrayView2<'_, f64>, active: &Array2<bool>, dx_m: f64, dy_m: f64) -> Self {
        Self::with_max_side(bed_m, active, dx_m, dy_m, MAX_VERTICES_PER_SIDE)
    }

    pub fn with_max_side(
        bed_m: ArrayView2<'_, f64>,
        active: &Array2<bool>,
        dx_m: f64,
        dy_m: f64,
        max_side: usize,
    ) -> Self {
        let (rows, cols) = bed_m.dim();
        let longest = rows.max(cols).max(2);
        let stride = longest.div_ceil(max_side.max(2)).max(1);
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for (z, &a) in bed_m.iter().zip(active) {
            if a && z.is_finite() {
                lo = lo.min(*z);
                hi = hi.max(*z);
            }
        }
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        Self {
            rows,
            cols,
            dx_m,
            dy_m,
            stride,
            vertex_rows: (rows - 1) / stride + 1,
            vertex_cols: (cols - 1) / stride + 1,
            z_min_m: lo,
            z_max_m: hi.max(lo + 1e-3),
            exaggeration: 1.0,
        }
    }

    /// The cell a vertex samples.
    pub fn cell_of_vertex(&self, vr: usize, vc: usize) -> (usize, usize) {
        (
            (vr * self.stride).min(self.rows - 1),
            (vc * self.stride).min(self.cols - 1),
        )
    }

    pub fn width_m(&self) -> f64 {
        self.cols as f64 * self.dx_m
    }

    pub fn height_m(&self) -> f64 {
        self.rows as f64 * self.dy_m
    }

    /// World height of an elevation.
    pub fn world_y(&self, elevation_m: f64) -> f32 {
        ((elevation_m - self.z_min_m) as f32) * self.exaggeration
    }

    /// World position of a cell centre at an elevation.
    pub fn world_from_cell(&self, row: f64, col: f64, elevation_m: f64) -> [f32; 3] {
        [
            ((col + 0.5) * self.dx_m - self.width_m() / 2.0) as f32,
            self.world_y(elevation_m),
            ((row + 0.5) * self.dy_m - self.height_m() / 2.0) as f32,
        ]
    }

    /// The cell under a world position (x, z), if on the grid.
    pub fn cell_from_world(&self, x: f32, z: f32) -> Option<(usize, usize)> {
        let col = ((f64::from(x) + self.width_m() / 2.0) / self.dx_m).floor();
        let row = ((f64::from(z) + self.height_m() / 2.0) / self.dy_m).floor();
        (row >= 0.0 && col >= 0.0 && (row as usize) < self.rows && (col as usize) < self.cols)
            .then_some((row as usize, col as usize))
    }

    /// Triangle indices over the vertex lattice, leaving out quads with an inactive corner.
    pub fn indices(&self, active: &Array2<bool>) -> Vec<u32> {
        let (vr, vc) = (self.vertex_rows, self.vertex_cols);
        let mut out = Vec::with_capacity((vr - 1) * (vc - 1) * 6);
        let ok = |r: usize, c: usize| active[self.cell_of_vertex(r, c)];
        for r in 0..vr.saturating_sub(1) {
            for c in 0..vc.saturating_sub(1) {
                if !(ok(r, c) && ok(r + 1, c) && ok(r, c + 1) && ok(r + 1, c + 1)) {
                    continue;
                }
                let i = (r * vc + c) as u32;
                let (right, down) = (i + 1, i + vc as u32);
                // Counter-clockwise seen from above (+y) in a frame with z to the south.
                out.extend_from_slice(&[i, down, right, right, down, down + 1]);
            }
        }
        out
    }

    /// Vertex positions of a surface at `elevation(row, col)` (m).
    pub fn positions(&self, elevation: impl Fn(usize, usize) -> f64) -> Vec<[f32; 3]> {
        let mut out = Vec::with_capacity(self.vertex_rows * self.vertex_cols);
        for vr in 0..self.vertex_rows {
            for vc in 0..self.vertex_cols {
                let (r, c) = self.cell_of_vertex(vr, vc);
                let z = elevation(r, c);
                out.push(self.world_from_cell(
                    r as f64,
                    c as f64,
                    if z.is_finite() { z } else { self.z_min_m },
                ));
            }
        }
        out
    }

    /// Per-vertex normals from central differences over the positions.
    pub fn normals(&self, positions: &[[f32; 3]]) -> Vec<[f32; 3]> {
        let (vr, vc) = (self.vertex_rows, self.vertex_cols);
        let at = |r: usize, c: usize| positions[r * vc + c];
        let mut out = Vec::with_capacity(positions.len());
        for r in 0..vr {
            for c in 0..vc {
                let (c0, c1) = (c.saturating_sub(1), (c + 1).min(vc - 1));
                let (r0, r1) = (r.saturating_sub(1), (r + 1).min(vr - 1));
                let (a, b) = (at(r, c0), at(r, c1));
                let (n, s) = (at(r0, c), at(r1, c));
                let sx = if c1 > c0 {
                    (b[1] - a[1]) / (b[0] - a[0])
                } else {
                    0.0
                };
                let sz = if r1 > r0 {
                    (s[1] - n[1]) / (s[2] - n[2])
                } else {
                    0.0
                };
                let len = (sx * sx + sz * sz + 1.0).sqrt();
                out.push([-sx / len, 1.0 / len, -sz / len]);
            }
        }
        out
    }

    /// Terrain colours: elevation ramp times a hillshade (sun from the north-west, 45°
    /// up), so that relief reads even where the 3D lighting is flat.
    pub fn terrain_colours(&self, positions: &[[f32; 3]], normals: &[[f32; 3]]) -> Vec<[f32; 4]> {
        let span = (self.z_max_m - self.z_min_m) as f32 * self.exaggeration.max(1e-6);
        // Towards the sun: north-west (−x, −z) and 45° up.
        let sun = {
            let (h, v) = (
                std::f32::consts::FRAC_1_SQRT_2,
                std::f32::consts::FRAC_1_SQRT_2,
            );
            [
                -h * std::f32::consts::FRAC_1_SQRT_2,
                v,
                -h * std::f32::consts::FRAC_1_SQRT_2,
            ]
        };
        positions
            .iter()
            .zip(normals)
            .map(|(p, n)| {
                let base = super::palette::terrain_colour(p[1] / span);
                let lit = (n[0] * sun[0] + n[1] * sun[1] + n[2] * sun[2]).max(0.0);
                let shade = 0.45 + 0.75 * lit;
                [base[0] * shade, base[1] * shade, base[2] * shade, 1.0]
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_grids_are_thinned_to_the_vertex_budget_and_cells_round_trip() {
        let bed = Array2::from_shape_fn((3000, 1200), |(r, c)| (r + c) as f64);
        let active = Array2::from_elem(bed.dim(), true);
        let v = ViewGrid::new(bed.view(), &active, 2.0, 2.0);
        assert_eq!(v.stride, 6);
        assert!(v.vertex_rows <= MAX_VERTICES_PER_SIDE && v.vertex_cols <= MAX_VERTICES_PER_SIDE);
        assert_eq!(v.cell_of_vertex(v.vertex_rows - 1, 0).0, 2994);
        for (r, c) in [(0, 0), (17, 912), (2999, 1199)] {
            let p = v.world_from_cell(r as f64, c as f64, 5.0);
            assert_eq!(v.cell_from_world(p[0], p[2]), Some((r, c)));
        }
        assert_eq!(v.cell_from_world(-1e6, 0.0), None);
        assert_eq!(v.z_min_m, 0.0);
        assert_eq!(v.z_max_m, 4198.0);
    }

    #[test]
    fn inactive_corners_drop_their_quads_and_normals_face_up() {
        let bed = Array2::from_shape_fn((4, 4), |(_, c)| c as f64);
        let mut active = Array2::from_elem((4, 4), true);
        active[(0, 0)] = false;
        let v = ViewGrid::new(bed.view(), &active, 1.0, 1.0);
        assert_eq!(v.indices(&active).len(), (9 - 1) * 6);
        let p = v.positions(|r, c| bed[(r, c)]);
        let n = v.normals(&p);
        // The bed rises 1 m per metre to the east: the normal leans west, 45°.
        let m = n[5];
        assert!(
            (m[0] + std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6,
            "{m:?}"
        );
        assert!((m[1] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-6);
        assert!(m[2].abs() < 1e-6);
    }
}
