//! The fused sweep: for a tile (a block of rows, a span of columns), face fluxes → cell
//! update → sources → friction → wet/dry → envelopes → tile totals, in one pass over
//! memory. Face fluxes live in row buffers that roll down the tile (the face below a row is
//! the face above the previous one), so each face is computed once, except the face row
//! above each tile and the two x-faces on its sides, which the neighbouring tiles compute
//! too (with the same inputs, so to the same bits).
//!
//! Arrays are padded with one ring of ghost cells; `stride = cols + 2`. A tile writes only
//! its own cells of the output arrays and reads only the input arrays, so tiles run in
//! parallel and give the same bits whatever the thread count.

use crate::envelope::{
    ChunkBound, EnvelopeRow, EnvelopeSpec, LANES as CHUNK, LimitTable, RowBounds, track_row,
};
use crate::flux::{AUDUSSE, ENERGY, SUBCELL, Side, face_flux, inverse_depth};

/// Input state and static fields, padded and row-major.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields<'a> {
    pub h: &'a [f64],
    pub qx: &'a [f64],
    pub qy: &'a [f64],
    pub z: &'a [f64],
    /// g·n² per cell (Manning), so friction needs no lookup.
    pub g_n2: &'a [f64],
    pub active: &'a [u8],
    /// Fluxes imposed on edge faces, in the order of `Edge::ALL` (north, south, west, east).
    pub edge_flux: &'a [EdgeFlux; 4],
    /// Gridded rain rate (m/s); empty without gridded rain.
    pub rain_m_s: &'a [f64],
    /// Per padded row: 1 when every interior cell of the row is active.
    pub row_all_active: &'a [u8],
    /// Loss parameters (m, m/s, m), stored in f32 to spare memory bandwidth (they are
    /// soil estimates; the infiltrated volume itself is kept in f64); empty without losses.
    pub initial_loss_m: &'a [f32],
    pub continuing_loss_m_s: &'a [f32],
    pub loss_capacity_m: &'a [f32],
}

/// A rectangle of cells swept as one task: padded rows `first_row ..first_row + rows`,
/// padded columns `c0 ..= c1` (interior cells only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tile {
    pub first_row: usize,
    pub rows: usize,
    pub c0: usize,
    pub c1: usize,
}

impl Tile {
    pub fn cols(&self) -> usize {
        self.c1 + 1 - self.c0
    }
}

/// Where the sweep writes: the new state and, in place, the infiltration and the
/// envelopes, as pointers to the first element of padded arrays (null for what the run
/// does not have). Tiles are disjoint rectangles and each writes only its own cells, so
/// the tasks of one sweep never write the same element.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Out {
    pub h: *mut f64,
    pub qx: *mut f64,
    pub qy: *mut f64,
    pub infiltrated_m: *mut f64,
    pub max_depth_m: *mut f32,
    pub max_speed_m_s: *mut f32,
    pub max_depth_speed_m2_s: *mut f32,
    pub max_hazard: *mut f32,
    pub first_inundation_s: *mut f32,
    pub duration_inundated_s: *mut f64,
    /// The envelopes' chunk bounds (`bound_cols` per padded row), null without envelopes.
    pub bounds: *mut ChunkBound,
    pub bound_cols: usize,
    pub bounds_len: usize,
    /// Elements in each padded array, for the bounds checks.
    pub len: usize,
    /// Elements in a padded row.
    pub stride: usize,
}

// SAFETY: the pointers are only dereferenced through `Out::row`, on the cells of the tile
// a task owns; tiles are disjoint (see `Out`).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// Cells `start .. start + n` of the padded array at `base`.
    ///
    /// # Safety
    /// `base` is one of this `Out`'s non-null pointers, and no other live slice covers
    /// these cells (they belong to the caller's tile).
    #[inline(always)]
    pub(crate) unsafe fn row<'a, T>(&self, base: *mut T, start: usize, n: usize) -> &'a mut [T] {
        assert!(!base.is_null() && start + n <= self.len);
        // SAFETY: in bounds (asserted) and not aliased (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(base.add(start), n) }
    }

    /// The chunk bounds of cells `start .. start + n` of a padded row, which start at a
    /// chunk's first cell (tiles are a whole number of chunks wide) and end at a chunk's
    /// last cell or the row's last inner cell.
    ///
    /// # Safety
    /// As for [`Out::row`]: the cells belong to the caller's tile, and so do their chunks.
    #[inline(always)]
    pub(crate) unsafe fn bound_row<'a>(&self, start: usize, n: usize) -> &'a mut [ChunkBound] {
        let (r, c) = (start / self.stride, start % self.stride - 1);
        let inner = self.stride - 2;
        assert!(
            c.is_multiple_of(CHUNK) && ((c + n).is_multiple_of(CHUNK) || c + n == inner),
            "a swept row covers whole chunks of the envelope bounds"
        );
        let first = r * self.bound_cols + c / CHUNK;
        let count = n.div_ceil(CHUNK);
        assert!(!self.bounds.is_null() && first + count <= self.bounds_len);
        // SAFETY: in bounds (asserted) and not aliased (the caller's promise).
        unsafe { std::slice::from_raw_parts_mut(self.bounds.add(first), count) }
    }
}

/// Fluxes imposed on the faces of one domain edge (an inflow of known discharge), indexed
/// by padded position along the edge. Where `imposed` is 0 the face flux comes from the
/// Riemann solver with the ghost cell.
#[derive(Clone, Debug)]
pub(crate) struct EdgeFlux {
    pub imposed: Vec<u8>,
    /// Discharge into the domain per metre of face (m²/s).
    pub inflow_m2_s: Vec<f64>,
    /// Normal momentum flux q²/h + g h²/2 at the face (m³/s²).
    pub momentum_m3_s2: Vec<f64>,
}

impl EdgeFlux {
    pub fn new(padded_len: usize) -> Self {
        Self {
            imposed: vec![0; padded_len],
            inflow_m2_s: vec![0.0; padded_len],
            momentum_m3_s2: vec![0.0; padded_len],
        }
    }

    /// Overwrite face `face` of `row` where an edge flux is imposed at padded position
    /// `pos`. `domain_after` says whether the domain lies on the high-index side.
    #[inline(always)]
    pub(crate) fn apply(&self, pos: usize, row: &mut FaceRow, face: usize, domain_after: bool) {
        if self.imposed[pos] == 0 {
            return;
        }
        let q = self.inflow_m2_s[pos];
        let m = self.momentum_m3_s2[pos];
        row.tangential[face] = 0.0;
        if domain_after {
            row.mass[face] = q;
            row.normal_right[face] = m;
        } else {
            row.mass[face] = -q;
            row.normal_left[face] = m;
        }
    }
}

/// Numbers that are constant during one step.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepCoeffs {
    pub rows: usize,
    pub cols: usize,
    pub stride: usize,
    pub dt_s: f64,
    /// dt/dx and dt/dy.
    pub rx: f64,
    pub ry: f64,
    pub inv_dx: f64,
    pub inv_dy: f64,
    pub g: f64,
    pub dry_depth_m: f64,
    /// Negative depths down to this are round-off and set to zero; below it is a blow-up.
    pub negative_tolerance_m: f64,
    /// Uniform rain depth added to every active cell during this step (m).
    pub rain_uniform_m: f64,
    /// Simulated time at the end of the step (s), for the envelopes.
    pub t_end_s: f64,
    /// The face reconstruction: `flux::AUDUSSE`, `flux::SUBCELL` or `flux::ENERGY`.
    pub reconstruction: u8,
}

/// Fluxes through one row of faces, per metre of face.
#[derive(Debug, Default)]
pub(crate) struct FaceRow {
    pub(crate) mass: Vec<f64>,
    pub(crate) normal_left: Vec<f64>,
    pub(crate) normal_right: Vec<f64>,
    pub(crate) tangential: Vec<f64>,
}

impl FaceRow {
    pub(crate) fn new(len: usize) -> Self {
        Self {
            mass: vec![0.0; len],
            normal_left: vec![0.0; len],
            normal_right: vec![0.0; len],
            tangential: vec![0.0; len],
        }
    }
}

/// Per-cell quantities of one padded row that several faces need.
#[derive(Debug)]
struct CellRow {
    inv_h: Vec<f64>,
    c: Vec<f64>,
}

impl CellRow {
    fn new(len: usize) -> Self {
        Self {
            inv_h: vec![0.0; len],
            c: vec![0.0; len],
        }
    }
}

/// Buffers of one worker thread, as wide as a tile; indexed like padded columns shifted
/// by `c0 - 1` (index 0 is the cell or face left of the tile).
#[derive(Debug)]
pub(crate) struct BlockScratch {
    /// 1/h (0 where dry) and √(g h) of the row being updated and of the row after it.
    row: CellRow,
    next: CellRow,
    below: FaceRow,
    above: FaceRow,
    x: FaceRow,
    rate: Vec<f64>,
    rain: Vec<f64>,
    loss: Vec<f64>,
    /// The widest tile these buffers fit.
    pub width: usize,
}

impl BlockScratch {
    pub fn new(cols: usize) -> Self {
        let stride = cols + 2;
        Self {
            width: cols,
            row: CellRow::new(stride),
            next: CellRow::new(stride),
            below: FaceRow::new(stride),
            above: FaceRow::new(stride),
            x: FaceRow::new(stride),
            rate: vec![0.0; cols],
            rain: vec![0.0; cols],
            loss: vec![0.0; cols],
        }
    }
}

/// What a block reports after the sweep. Sums are in row order, so they do not depend on
/// how blocks are spread over threads.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct BlockTotals {
    /// Σ depth over the block's cells (m); times the cell area gives the volume.
    pub depth_sum_m: f64,
    /// max over wet cells of max((|u|+c)/dx, (|v|+c)/dy) in 1/s: the next step's CFL limit.
    /// Infinite when a cell went bad (NaN, or a negative depth beyond round-off).
    pub max_rate_per_s: f64,
    /// Σ mass flux into / out of the domain through x-edge faces (m²/s, per metre of face).
    pub x_in_m2_s: f64,
    pub x_out_m2_s: f64,
    /// The same for y-edge faces.
    pub y_in_m2_s: f64,
    pub y_out_m2_s: f64,
    /// Σ gridded rain depth added (m) and Σ depth infiltrated (m) over the block's cells.
    pub rain_m: f64,
    pub loss_m: f64,
    /// Largest depth in the tile after the step: 0 when it holds no water at all.
    pub max_depth_m: f64,
    /// Whether any cell of the tile's first row, last row, first column and last column
    /// holds water after the step (north, south, west, east): only then can water reach
    /// the neighbouring tile on that side in the next step.
    pub wet_sides: [bool; 4],
}

/// Which instruction set the sweep was compiled for; chosen once per solver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Simd {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vl")
            {
                return Simd::Avx512;
            }
            if is_x86_feature_detected!("avx2") {
                return Simd::Avx2;
            }
        }
        Simd::Generic
    }
}

/// The envelopes to fold each swept row into, with the numbers that take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tracking<'a> {
    pub spec: &'a EnvelopeSpec,
    /// The chunk bounds' limits; `None`: no bounds, every chunk folded in full.
    pub table: Option<&'a LimitTable>,
    pub simd: Simd,
}

/// Fold the new state of cells `start .. start + h.len()` of a swept row (padded
/// indices) into the envelopes, with their chunk bounds. The one place both sweeps (fv1's
/// and fv2's) call the fold.
///
/// # Safety
/// As for [`Out::row`]: the cells are the caller's tile's, and `out` has envelopes.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn fold_row(
    t: Tracking<'_>,
    k: &StepCoeffs,
    out: &Out,
    active: &[u8],
    start: usize,
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
) {
    let n = h.len();
    // SAFETY: the caller's promise.
    let env = unsafe {
        EnvelopeRow {
            max_depth_m: out.row(out.max_depth_m, start, n),
            max_speed_m_s: out.row(out.max_speed_m_s, start, n),
            max_depth_speed_m2_s: out.row(out.max_depth_speed_m2_s, start, n),
            max_hazard: out.row(out.max_hazard, start, n),
            first_inundation_s: out.row(out.first_inundation_s, start, n),
            duration_inundated_s: out.row(out.duration_inundated_s, start, n),
            bounds: t.table.map(|table| RowBounds {
                table,
                chunks: out.bound_row(start, n),
            }),
        }
    };
    track_row(
        t.simd,
        t.spec,
        k.dry_depth_m,
        k.t_end_s,
        k.dt_s,
        &active[start..start + n],
        h,
        qx,
        qy,
        env,
    );
}

/// Sweep `span` from `old` into `out`: one tile, or several side by side in one row of
/// tiles, each `seg` columns wide (the last one may be narrower), swept as one rectangle so
/// that a wet grid runs along whole rows. The totals of each tile go to its own entry of
/// `totals` (one per tile, west to east), summed in the same order as if the tile were
/// swept alone, so they do not depend on how tiles are grouped. `RAIN_GRID` and `LOSSES`
/// select compiled variants, so a run without gridded rain or losses does not pay for them.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_block(
    simd: Simd,
    rain_grid: bool,
    losses: bool,
    old: &Fields<'_>,
    k: &StepCoeffs,
    span: Tile,
    seg: usize,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut BlockScratch,
    totals: &mut [BlockTotals],
) {
    assert!(span.cols() <= scratch.width && span.c0 >= 1 && span.c1 <= k.cols);
    assert!(span.first_row >= 1 && span.first_row + span.rows <= k.rows + 1);
    assert!(seg > 0 && span.cols().div_ceil(seg) == totals.len());
    let g = Grouping { seg, totals };
    match (rain_grid, losses) {
        (false, false) => {
            sweep_block_simd::<false, false>(simd, old, k, span, out, tracking, scratch, g)
        }
        (true, false) => {
            sweep_block_simd::<true, false>(simd, old, k, span, out, tracking, scratch, g)
        }
        (false, true) => {
            sweep_block_simd::<false, true>(simd, old, k, span, out, tracking, scratch, g)
        }
        (true, true) => {
            sweep_block_simd::<true, true>(simd, old, k, span, out, tracking, scratch, g)
        }
    }
}

/// The tiles a swept rectangle is made of: `totals.len()` tiles of `seg` columns.
#[derive(Debug)]
pub(crate) struct Grouping<'a> {
    pub(crate) seg: usize,
    pub(crate) totals: &'a mut [BlockTotals],
}

impl Grouping<'_> {
    /// Local column ranges of the tiles, west to east, for a rectangle `n` columns wide.
    #[inline(always)]
    pub(crate) fn ranges(
        &self,
        n: usize,
    ) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + Clone + use<> {
        let seg = self.seg;
        (0..self.totals.len()).map(move |j| (j, j * seg..((j + 1) * seg).min(n)))
    }
}

// The arguments stay separate references (not a tuple or struct): a reference argument
// tells the compiler that the fields behind it do not change during the call, which lets
// it hoist their loads out of the loops and vectorise them.
#[allow(clippy::too_many_arguments)]
fn sweep_block_simd<const RAIN_GRID: bool, const LOSSES: bool>(
    simd: Simd,
    old: &Fields<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut BlockScratch,
    g: Grouping<'_>,
) {
    match simd {
        Simd::Generic => {
            sweep_block_inline::<RAIN_GRID, LOSSES>(old, k, tile, out, tracking, scratch, g)
        }
        // SAFETY: `Simd::detect` chose these only where the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe {
            sweep_block_avx2::<RAIN_GRID, LOSSES>(old, k, tile, out, tracking, scratch, g)
        },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe {
            sweep_block_avx512::<RAIN_GRID, LOSSES>(old, k, tile, out, tracking, scratch, g)
        },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn sweep_block_avx2<const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut BlockScratch,
    g: Grouping<'_>,
) {
    sweep_block_inline::<RAIN_GRID, LOSSES>(old, k, tile, out, tracking, scratch, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn sweep_block_avx512<const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut BlockScratch,
    g: Grouping<'_>,
) {
    sweep_block_inline::<RAIN_GRID, LOSSES>(old, k, tile, out, tracking, scratch, g)
}

#[inline(always)]
fn sweep_block_inline<const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut BlockScratch,
    g: Grouping<'_>,
) {
    let s = k.stride;
    let n = tile.cols();
    // Buffer index i is padded column base + i.
    let base = tile.c0 - 1;
    let (first_row, block_rows) = (tile.first_row, tile.rows);
    let (at_west, at_east) = (tile.c0 == 1, tile.c1 == k.cols);
    let ranges = g.ranges(n);
    let totals = g.totals;
    totals.fill(BlockTotals::default());
    let last = totals.len() - 1;

    let [north, south, west, east] = old.edge_flux;
    cell_row(old, k, first_row - 1, base, n, &mut scratch.row);
    cell_row(old, k, first_row, base, n, &mut scratch.next);
    y_faces(
        old,
        k,
        first_row - 1,
        base,
        n,
        &scratch.row,
        &scratch.next,
        &mut scratch.below,
    );
    std::mem::swap(&mut scratch.row, &mut scratch.next);
    if first_row == 1 {
        for i in 1..=n {
            north.apply(base + i, &mut scratch.below, i, true);
        }
        // The face row below the first row is the domain edge (positive = into the domain).
        for (j, cols) in ranges.clone() {
            let (inflow, outflow) = split_in_out(&scratch.below.mass[1 + cols.start..=cols.end]);
            totals[j].y_in_m2_s += inflow;
            totals[j].y_out_m2_s += outflow;
        }
    }

    for local in 0..block_rows {
        let r = first_row + local;
        cell_row(old, k, r + 1, base, n, &mut scratch.next);
        y_faces(
            old,
            k,
            r,
            base,
            n,
            &scratch.row,
            &scratch.next,
            &mut scratch.above,
        );
        x_faces(old, k, r, base, n, &scratch.row, &mut scratch.x);
        if at_west {
            west.apply(r, &mut scratch.x, 0, true);
            totals[0].x_in_m2_s += scratch.x.mass[0].max(0.0);
            totals[0].x_out_m2_s += (-scratch.x.mass[0]).max(0.0);
        }
        if at_east {
            east.apply(r, &mut scratch.x, n, false);
            totals[last].x_in_m2_s += (-scratch.x.mass[n]).max(0.0);
            totals[last].x_out_m2_s += scratch.x.mass[n].max(0.0);
        }
        if r == k.rows {
            for i in 1..=n {
                south.apply(base + i, &mut scratch.above, i, false);
            }
            for (j, cols) in ranges.clone() {
                let (outflow, inflow) =
                    split_in_out(&scratch.above.mass[1 + cols.start..=cols.end]);
                totals[j].y_in_m2_s += inflow;
                totals[j].y_out_m2_s += outflow;
            }
        }

        let start = r * s + tile.c0;
        // SAFETY: these cells belong to this tile alone (see `Out`).
        let (h, qx, qy) = unsafe {
            (
                out.row(out.h, start, n),
                out.row(out.qx, start, n),
                out.row(out.qy, start, n),
            )
        };
        let infiltrated: &mut [f64] = if LOSSES {
            // SAFETY: as above.
            unsafe { out.row(out.infiltrated_m, start, n) }
        } else {
            &mut []
        };
        update_row::<RAIN_GRID, LOSSES>(
            old,
            k,
            start,
            &scratch.x,
            &scratch.below,
            &scratch.above,
            RowOut {
                h: &mut *h,
                qx: &mut *qx,
                qy: &mut *qy,
                infiltrated_m: infiltrated,
                rate: &mut scratch.rate,
                rain_m: &mut scratch.rain,
                loss_m: &mut scratch.loss,
            },
        );
        for (j, cols) in ranges.clone() {
            let t = &mut totals[j];
            let (depth_sum, max_rate, max_depth) =
                reduce_row(&h[cols.clone()], &scratch.rate[cols.clone()]);
            t.depth_sum_m += depth_sum;
            t.max_rate_per_s = t.max_rate_per_s.max(max_rate);
            t.max_depth_m = t.max_depth_m.max(max_depth);
            if local == 0 {
                t.wet_sides[0] = max_depth > 0.0;
            }
            if local + 1 == block_rows {
                t.wet_sides[1] = max_depth > 0.0;
            }
            t.wet_sides[2] |= h[cols.start] > 0.0;
            t.wet_sides[3] |= h[cols.end - 1] > 0.0;
            if RAIN_GRID {
                t.rain_m += sum_row(&scratch.rain[cols.clone()]);
            }
            if LOSSES {
                t.loss_m += sum_row(&scratch.loss[cols]);
            }
        }
        if let Some(t) = tracking {
            // SAFETY: as above; the envelope arrays exist when tracking is on.
            unsafe { fold_row(t, k, out, old.active, start, h, qx, qy) };
        }

        std::mem::swap(&mut scratch.below, &mut scratch.above);
        std::mem::swap(&mut scratch.row, &mut scratch.next);
    }
}

/// (Σ positive, Σ −negative) of a row of fluxes, in order.
#[inline(always)]
pub(crate) fn split_in_out(flux: &[f64]) -> (f64, f64) {
    flux.iter()
        .fold((0.0, 0.0), |(p, m), &f| (p + f.max(0.0), m + (-f).max(0.0)))
}

/// 1/h (0 where dry) and √(g h) of the cells `base ..= base + n + 1` of padded row `r`
/// (a tile's cells and one on each side): one division and one root per cell instead of
/// one per face side.
#[inline(always)]
fn cell_row(old: &Fields<'_>, k: &StepCoeffs, r: usize, base: usize, n: usize, out: &mut CellRow) {
    let lo = r * k.stride + base;
    let h = &old.h[lo..lo + n + 2];
    let (inv_h, c) = (&mut out.inv_h[..n + 2], &mut out.c[..n + 2]);
    for i in 0..n + 2 {
        inv_h[i] = inverse_depth(h[i], k.dry_depth_m);
        c[i] = (k.g * h[i]).sqrt();
    }
}

/// Fluxes of `n` consecutive faces: face `j` lies between padded cells `lo + j` (left) and
/// `hi + j` (right), its results go to index `first + j` of `out`. `x_normal` says whether
/// the faces are normal to x (momentum `qx` across them) or to y. `left`/`right` are the
/// 1/h and √(g h) of the cells, indexed like `out`. With `ALL_ACTIVE` the caller promises
/// that every cell is active: the wall handling then folds away at compile time.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn faces<const ALL_ACTIVE: bool, const RECON: u8>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    lo: usize,
    hi: usize,
    n: usize,
    x_normal: bool,
    left: &CellRow,
    right: &CellRow,
    left_first: usize,
    right_first: usize,
    out: &mut FaceRow,
    first: usize,
) {
    let (qn, qt) = if x_normal {
        (old.qx, old.qy)
    } else {
        (old.qy, old.qx)
    };
    let (hl, qnl, qtl, zl, al) = (
        &old.h[lo..lo + n],
        &qn[lo..lo + n],
        &qt[lo..lo + n],
        &old.z[lo..lo + n],
        &old.active[lo..lo + n],
    );
    let (hr, qnr, qtr, zr, ar) = (
        &old.h[hi..hi + n],
        &qn[hi..hi + n],
        &qt[hi..hi + n],
        &old.z[hi..hi + n],
        &old.active[hi..hi + n],
    );
    let (inv_l, cl) = (
        &left.inv_h[left_first..left_first + n],
        &left.c[left_first..left_first + n],
    );
    let (inv_r, cr) = (
        &right.inv_h[right_first..right_first + n],
        &right.c[right_first..right_first + n],
    );
    let mass = &mut out.mass[first..first + n];
    let nl = &mut out.normal_left[first..first + n];
    let nr = &mut out.normal_right[first..first + n];
    let t = &mut out.tangential[first..first + n];
    for i in 0..n {
        let f = face_flux::<RECON>(
            Side {
                h: hl[i],
                inv_h: inv_l[i],
                c: cl[i],
                qn: qnl[i],
                qt: qtl[i],
                z: zl[i],
                active: ALL_ACTIVE || al[i] != 0,
            },
            Side {
                h: hr[i],
                inv_h: inv_r[i],
                c: cr[i],
                qn: qnr[i],
                qt: qtr[i],
                z: zr[i],
                active: ALL_ACTIVE || ar[i] != 0,
            },
            k.g,
        );
        mass[i] = f.mass;
        nl[i] = f.normal_left;
        nr[i] = f.normal_right;
        t[i] = f.tangential;
    }
}

/// Faces between padded rows `r` and `r + 1` (see `y_faces_as`), with the step's bed terms.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn y_faces(
    old: &Fields<'_>,
    k: &StepCoeffs,
    r: usize,
    base: usize,
    n: usize,
    lower: &CellRow,
    upper: &CellRow,
    out: &mut FaceRow,
) {
    match k.reconstruction {
        AUDUSSE => y_faces_as::<AUDUSSE>(old, k, r, base, n, lower, upper, out),
        SUBCELL => y_faces_as::<SUBCELL>(old, k, r, base, n, lower, upper, out),
        ENERGY => y_faces_as::<ENERGY>(old, k, r, base, n, lower, upper, out),
        _ => unreachable!("a reconstruction code from `Reconstruction::code`"),
    }
}

/// Faces along row `r` (see `x_faces_as`), with the step's bed terms.
#[inline(always)]
fn x_faces(
    old: &Fields<'_>,
    k: &StepCoeffs,
    r: usize,
    base: usize,
    n: usize,
    cells: &CellRow,
    out: &mut FaceRow,
) {
    match k.reconstruction {
        AUDUSSE => x_faces_as::<AUDUSSE>(old, k, r, base, n, cells, out),
        SUBCELL => x_faces_as::<SUBCELL>(old, k, r, base, n, cells, out),
        ENERGY => x_faces_as::<ENERGY>(old, k, r, base, n, cells, out),
        _ => unreachable!("a reconstruction code from `Reconstruction::code`"),
    }
}

/// Faces between padded rows `r` and `r + 1`, for the padded columns `base + 1 ..=
/// base + n`; results at indices `1..=n`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn y_faces_as<const RECON: u8>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    r: usize,
    base: usize,
    n: usize,
    lower: &CellRow,
    upper: &CellRow,
    out: &mut FaceRow,
) {
    let lo = r * k.stride + base + 1;
    let hi = lo + k.stride;
    if old.row_all_active[r] != 0 && old.row_all_active[r + 1] != 0 {
        faces::<true, RECON>(old, k, lo, hi, n, false, lower, upper, 1, 1, out, 1);
    } else {
        faces::<false, RECON>(old, k, lo, hi, n, false, lower, upper, 1, 1, out, 1);
    }
}

/// Faces between padded columns `base + i` and `base + i + 1` of row `r`, for
/// `i = 0..=n`; results at index `i`. The two outer faces may touch ghost cells (walls on
/// closed edges) or cells of the next tile.
#[inline(always)]
fn x_faces_as<const RECON: u8>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    r: usize,
    base: usize,
    n: usize,
    cells: &CellRow,
    out: &mut FaceRow,
) {
    let lo = r * k.stride + base;
    if old.row_all_active[r] != 0 {
        faces::<false, RECON>(old, k, lo, lo + 1, 1, true, cells, cells, 0, 1, out, 0);
        faces::<true, RECON>(
            old,
            k,
            lo + 1,
            lo + 2,
            n - 1,
            true,
            cells,
            cells,
            1,
            2,
            out,
            1,
        );
        faces::<false, RECON>(
            old,
            k,
            lo + n,
            lo + n + 1,
            1,
            true,
            cells,
            cells,
            n,
            n + 1,
            out,
            n,
        );
    } else {
        faces::<false, RECON>(old, k, lo, lo + 1, n + 1, true, cells, cells, 0, 1, out, 0);
    }
}

#[inline(always)]
pub(crate) fn select(cond: bool, a: f64, b: f64) -> f64 {
    if cond { a } else { b }
}

/// Where `update_row` writes: the new state of one row, the cumulative infiltration, and
/// per-cell figures for the block totals.
pub(crate) struct RowOut<'a> {
    pub h: &'a mut [f64],
    pub qx: &'a mut [f64],
    pub qy: &'a mut [f64],
    pub infiltrated_m: &'a mut [f64],
    pub rate: &'a mut [f64],
    pub rain_m: &'a mut [f64],
    pub loss_m: &'a mut [f64],
}

/// The faces around one row's `n` cells, each sliced to `n`: west and east (mass, the
/// normal momentum flux the cell sees, tangential) from the row's x-faces, south and north
/// from the y-face rows below and above it.
pub(crate) struct Around<'a> {
    pub west: [&'a [f64]; 3],
    pub east: [&'a [f64]; 3],
    pub south: [&'a [f64]; 3],
    pub north: [&'a [f64]; 3],
}

#[inline(always)]
pub(crate) fn around<'a>(
    x: &'a FaceRow,
    below: &'a FaceRow,
    above: &'a FaceRow,
    n: usize,
) -> Around<'a> {
    Around {
        west: [&x.mass[..n], &x.normal_right[..n], &x.tangential[..n]],
        east: [&x.mass[1..=n], &x.normal_left[1..=n], &x.tangential[1..=n]],
        south: [
            &below.mass[1..=n],
            &below.normal_right[1..=n],
            &below.tangential[1..=n],
        ],
        north: [
            &above.mass[1..=n],
            &above.normal_left[1..=n],
            &above.tangential[1..=n],
        ],
    }
}

/// One row's forcing, sliced to its `n` cells from padded index `lo` (empty where the
/// compiled variant has none): gridded rain in and the rain added out, the loss
/// parameters, the cumulative infiltration and the loss taken.
/// A row's loss parameters: initial (m), continuing (m/s), capacity (m).
pub(crate) type LossRows<'a> = (&'a [f32], &'a [f32], &'a [f32]);

pub(crate) struct Forcing<'a> {
    pub rain_grid: &'a [f64],
    pub rain_out: &'a mut [f64],
    pub losses: LossRows<'a>,
    pub infiltrated: &'a mut [f64],
    pub loss_out: &'a mut [f64],
}

#[inline(always)]
pub(crate) fn forcing<'a, const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'a>,
    lo: usize,
    n: usize,
    rain_m: &'a mut [f64],
    infiltrated_m: &'a mut [f64],
    loss_m: &'a mut [f64],
) -> Forcing<'a> {
    let (rain_grid, rain_out): (&[f64], &mut [f64]) = if RAIN_GRID {
        (&old.rain_m_s[lo..lo + n], &mut rain_m[..n])
    } else {
        (&[], &mut [])
    };
    let (losses, infiltrated, loss_out): (LossRows<'a>, &mut [f64], &mut [f64]) = if LOSSES {
        (
            (
                &old.initial_loss_m[lo..lo + n],
                &old.continuing_loss_m_s[lo..lo + n],
                &old.loss_capacity_m[lo..lo + n],
            ),
            &mut infiltrated_m[..n],
            &mut loss_m[..n],
        )
    } else {
        ((&[], &[], &[]), &mut [], &mut [])
    };
    Forcing {
        rain_grid,
        rain_out,
        losses,
        infiltrated,
        loss_out,
    }
}

/// What a cell infiltrates this step from the depth `h` it holds, having soaked up
/// `soaked` so far: the initial loss first, then the continuing rate over `dt`, both
/// capped by what the soil can still take (`capacity`) and by the water there is.
#[inline(always)]
pub(crate) fn infiltration(
    h: f64,
    soaked: f64,
    (initial_m, continuing_m_s, capacity_m): (f32, f32, f32),
    dt: f64,
) -> f64 {
    let available = h.max(0.0);
    let (il, cl, cap) = (
        f64::from(initial_m),
        f64::from(continuing_m_s),
        f64::from(capacity_m),
    );
    let initial = (il - soaked).max(0.0).min(available);
    let continuing = (cl * dt).min(available - initial);
    // `initial + (available - initial)` can round one ulp above `available`: never take
    // more than the cell holds, so the depth stays ≥ 0 exactly.
    (initial + continuing)
        .min((cap - soaked).max(0.0))
        .min(available)
}

/// Manning friction, semi-implicit: q ← q / (1 + dt g n² |q| / h^{7/3}), for a cell of
/// depth `h` (`g_n2` = g n²); zero momentum where the cell is at or below the dry depth.
/// Returns (qx, qy, 1/h or 0 where dry).
///
/// (A dry cell takes the root of 1 instead of 0: its friction is unused, and the root of 0
/// would run through subnormal numbers, which are very slow. 1/h = (h^(−1/3))³ saves a
/// division; it is within a few ulp of 1/h and only used for friction and the wave speed.)
#[inline(always)]
pub(crate) fn friction(h: f64, qx: f64, qy: f64, g_n2: f64, dt: f64, dry: f64) -> (f64, f64, f64) {
    let wet = h > dry;
    let inv_cbrt_h = inverse_cbrt_positive(select(wet, h, 1.0));
    let inv_h = select(wet, inv_cbrt_h * inv_cbrt_h * inv_cbrt_h, 0.0);
    let q_abs = (qx * qx + qy * qy).sqrt();
    let factor = 1.0 + dt * g_n2 * q_abs * inv_h * inv_h * inv_cbrt_h;
    let inv_factor = select(wet, 1.0 / factor, 0.0);
    (qx * inv_factor, qy * inv_factor, inv_h)
}

/// Update the cells `lo ..` (padded index; as many as `out.h` holds) from the fluxes
/// around them.
#[inline(always)]
fn update_row<const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    lo: usize,
    x: &FaceRow,
    below: &FaceRow,
    above: &FaceRow,
    out: RowOut<'_>,
) {
    let n = out.h.len();
    let (h0, qx0, qy0, g_n2, act) = (
        &old.h[lo..lo + n],
        &old.qx[lo..lo + n],
        &old.qy[lo..lo + n],
        &old.g_n2[lo..lo + n],
        &old.active[lo..lo + n],
    );
    let Around {
        west: [wm, wnr, wt],
        east: [em, enl, et],
        south: [sm, snr, st],
        north: [nm, nnl, nt],
    } = around(x, below, above, n);
    let (h_out, qx_out, qy_out, rate_out) = (
        &mut out.h[..n],
        &mut out.qx[..n],
        &mut out.qy[..n],
        &mut out.rate[..n],
    );
    let Forcing {
        rain_grid,
        rain_out,
        losses: (il, cl, cap),
        infiltrated,
        loss_out,
    } = forcing::<RAIN_GRID, LOSSES>(old, lo, n, out.rain_m, out.infiltrated_m, out.loss_m);
    let (rx, ry, dt, g, dry) = (k.rx, k.ry, k.dt_s, k.g, k.dry_depth_m);

    for i in 0..n {
        // Conservative update from the four faces.
        let h = h0[i] - rx * (em[i] - wm[i]) - ry * (nm[i] - sm[i]);
        let qx = qx0[i] - rx * (enl[i] - wnr[i]) - ry * (nt[i] - st[i]);
        let qy = qy0[i] - rx * (et[i] - wt[i]) - ry * (nnl[i] - snr[i]);

        let active = act[i] != 0;

        // Sources: rain, then infiltration (point sources follow the sweep).
        let mut rain = k.rain_uniform_m;
        if RAIN_GRID {
            // Only the gridded part goes to the totals: the solver counts the uniform
            // part over the active cells itself.
            let grid = rain_grid[i] * dt;
            rain += grid;
            rain_out[i] = select(active, grid, 0.0);
        }
        let h = h + rain;

        // Round-off below zero is clamped; a NaN or a real negative is left for the check.
        let mut h = select(h >= -k.negative_tolerance_m, h.max(0.0), h);

        if LOSSES {
            let soaked = infiltrated[i];
            let take = infiltration(h, soaked, (il[i], cl[i], cap[i]), dt);
            let take = select(active, take, 0.0);
            h -= take;
            infiltrated[i] = soaked + take;
            loss_out[i] = take;
        }

        let wet = h > dry;
        let (qx, qy, inv_h) = friction(h, qx, qy, g_n2[i], dt, dry);
        // Momenta below 1e-20 m²/s are zero: friction would otherwise decay them into
        // subnormal numbers, which are slow and overflow when divided by.
        let qx = select(qx.abs() > 1e-20, qx, 0.0);
        let qy = select(qy.abs() > 1e-20, qy, 0.0);

        // Wave speed for the next step's CFL limit.
        let c = (g * h).sqrt();
        let rate_x = (qx.abs() * inv_h + c) * k.inv_dx;
        let rate_y = (qy.abs() * inv_h + c) * k.inv_dy;
        let rate = select(wet, rate_x.max(rate_y), 0.0);
        // A NaN or a negative depth beyond round-off marks the cell with an infinite
        // rate; the caller finds it and stops the run.
        let good = h >= 0.0 && (qx + qy).is_finite();
        let rate = select(good, rate, f64::INFINITY);

        h_out[i] = select(active, h, h0[i]);
        qx_out[i] = select(active, qx, qx0[i]);
        qy_out[i] = select(active, qy, qy0[i]);
        rate_out[i] = select(active, rate, 0.0);
    }
}

const LANES: usize = 8;

/// Σ of a row in a fixed lane order (reproducible, vectorises).
#[inline(always)]
pub(crate) fn sum_row(values: &[f64]) -> f64 {
    let mut sum = [0.0f64; LANES];
    let (body, tail) = values.split_at(values.len() - values.len() % LANES);
    for chunk in body.chunks_exact(LANES) {
        for l in 0..LANES {
            sum[l] += chunk[l];
        }
    }
    for (l, &v) in tail.iter().enumerate() {
        sum[l] += v;
    }
    sum.iter().fold(0.0, |a, &b| a + b)
}

/// Σ h, max rate and max h of one row, with a fixed lane order so that the result is
/// reproducible and the loop vectorises.
#[inline(always)]
pub(crate) fn reduce_row(h: &[f64], rate: &[f64]) -> (f64, f64, f64) {
    let mut sum = [0.0f64; LANES];
    let mut max = [0.0f64; LANES];
    let mut deepest = [0.0f64; LANES];
    let (h_body, h_tail) = h.split_at(h.len() - h.len() % LANES);
    let (r_body, r_tail) = rate[..h.len()].split_at(h_body.len());
    for (hc, rc) in h_body.chunks_exact(LANES).zip(r_body.chunks_exact(LANES)) {
        for l in 0..LANES {
            sum[l] += hc[l];
            max[l] = max[l].max(rc[l]);
            deepest[l] = deepest[l].max(hc[l]);
        }
    }
    for (l, (&h, &r)) in h_tail.iter().zip(r_tail).enumerate() {
        sum[l] += h;
        max[l] = max[l].max(r);
        deepest[l] = deepest[l].max(h);
    }
    let total = sum.iter().fold(0.0, |a, &b| a + b);
    let fold_max = |v: &[f64; LANES]| v.iter().fold(0.0f64, |a, &b| a.max(b));
    (total, fold_max(&max), fold_max(&deepest))
}

/// x^(−1/3) of a positive, normal number, to a few ulp: a bit-pattern first guess
/// (within ~10 %) refined by division-free Newton steps y ← y (4 − x y³) / 3, each of
/// which squares the relative error. Unlike `powf` it inlines and vectorises.
#[inline(always)]
pub(crate) fn inverse_cbrt_positive(x: f64) -> f64 {
    // Subtracting a third of the bit pattern from a constant gives x^(−1/3) to within a
    // few per cent (the idea of the fast inverse square root, for the cube root). The
    // integer is divided as a float: exact enough for a first guess, and it vectorises.
    const MAGIC: f64 = 6_142_611_920_468_694_934.0; // ≈ 0x553E_F0FF_289D_D796
    let guess_bits = (MAGIC - x.to_bits() as f64 * (1.0 / 3.0)) as u64;
    let mut y = f64::from_bits(guess_bits);
    for _ in 0..4 {
        y *= (4.0 - x * y * y * y) * (1.0 / 3.0);
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_inverse_cube_root_matches_the_library() {
        let mut x: f64 = 1e-9;
        while x < 1e6 {
            let exact = 1.0 / x.cbrt();
            let fast = inverse_cbrt_positive(x);
            assert!(
                ((fast - exact) / exact).abs() < 8.0 * f64::EPSILON,
                "x^(-1/3) at {x} = {fast}, expected {exact}"
            );
            x *= 1.0137;
        }
    }

    #[test]
    fn row_reduction_sums_and_takes_the_max_over_body_and_tail() {
        let h: Vec<f64> = (0..11).map(f64::from).collect();
        let mut rate = vec![0.1; 11];
        rate[10] = 0.9;
        let (sum, max, deepest) = reduce_row(&h, &rate);
        assert_eq!(sum, 55.0);
        assert_eq!(max, 0.9);
        assert_eq!(deepest, 10.0);
        rate[3] = f64::INFINITY;
        assert_eq!(reduce_row(&h, &rate).1, f64::INFINITY);
    }
}
