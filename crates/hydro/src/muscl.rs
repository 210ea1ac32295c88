//! The second-order sweep (`scheme = "fv2"`): MUSCL reconstruction with the minmod limiter,
//! integrated in time by MUSCL–Hancock (the default: the face states predicted half a step
//! ahead, one flux sweep; Toro 2001, §14.4) or by Heun's method (the two-stage
//! strong-stability-preserving Runge–Kutta scheme of Shu & Osher 1988).
//!
//! A sweep is shaped like the first-order one (`kernel`), but the face fluxes take the
//! states at the faces, reconstructed per cell from limited slopes of the depth h, the
//! surface w = h + z and the velocities u, v (Audusse et al. 2004, SIAM J. Sci. Comput.
//! 25(6), §4 "second-order extension"):
//!
//! - the bed seen at a face from one side is w − h of that side's reconstruction, so a
//!   lake at rest (w uniform, every slope of w zero) keeps the same surface on both sides
//!   of every face;
//! - each cell takes the centred bed term −g/2·(h⁺ + h⁻)·(z⁺ − z⁻) between its own two
//!   faces in each direction (⁺ the face towards higher indices), which balances the face
//!   pressures of a lake at rest to round-off;
//! - the depth's slope is minmod-limited, so the face depths stay within [h/2, 3h/2]; a
//!   dry cell, or a wet one next to a dry one whose depth is an extremum, has a zero
//!   slope: at wet/dry fronts the reconstruction falls back to first order by itself;
//! - where a cell and its two neighbours along a direction are wet, the depth's slope is
//!   instead the surface's minus the bed's central slope (the surface-gradient method of
//!   Zhou et al. 2001, J. Comput. Phys. 168), wherever that keeps both face depths ≥ 0
//!   (they then lie in [0, 2h], their mean still h): the bed at the faces is the bed
//!   interpolated linearly. This is what brings moving shorelines on curved beds
//!   (Thacker) within the bars.
//!
//! Positivity: the first-order scheme keeps depths non-negative for
//! dt·(a_x/dx + a_y/dy) ≤ 1 (a = |u| + c); with face depths whose mean is the cell's depth,
//! an Euler update does so for dt·(a_x/dx + a_y/dy) ≤ 1/2 (Audusse et al. 2004, the 1D
//! bound 1/2 shared by two directions), and Heun's method, a convex combination of Euler
//! updates, keeps it. The solver meets this by taking half the first-order step for the
//! same `cfl`. MUSCL–Hancock's predicted face depths average h̄, not h, so the bound is
//! not proven for it (the predictor is skipped next to dry cells and wherever a face depth
//! would go negative, and no test or bundled preset has gone negative); a depth below
//! round-off stops the run with its step, time and cell, as in fv1. The wave speeds come
//! from the cells, while a face's depth can reach 2h (√2·c at the face): the halved step
//! leaves that margin.
//!
//! Heun: stage 1 writes U¹ = U + dt·L(U) into the solver's third buffer; stage 2 computes
//! U² = U¹ + dt·L(U¹) and writes (U + U²)/2. Either way the step's result then takes its
//! rain and losses (first order in time, as in fv1) and Manning friction, once,
//! semi-implicitly, and folds the envelopes. Heun's boundary fluxes in the balance are the
//! mean of the two stages', so the water balance stays exact.
//!
//! A sweep reads cells two away from the tile (the slopes of the cells beside it). A face
//! between two dry cells still has zero depth on both sides, so MUSCL–Hancock moves water
//! one cell a step, like fv1; Heun's two stages move it two, and the solver then wakes
//! every tile around one that holds water or is forced (see `Tiles::plan`).

use crate::flux::{AUDUSSE, ENERGY, SUBCELL, Side, face_flux_with, inverse_depth};
use crate::kernel::{
    Around, BlockTotals, FaceRow, Fields, Forcing, Grouping, Out, RowOut, Simd, StepCoeffs, Tile,
    Tracking, around, fold_row, forcing, friction, infiltration, reduce_row, select, split_in_out,
    sum_row,
};

/// The state a final stage averages with: U at the start of the step, padded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Base<'a> {
    pub h: &'a [f64],
    pub qx: &'a [f64],
    pub qy: &'a [f64],
}

/// The values of one padded row the reconstruction needs, for the cells
/// `base − 1 ..= base + n + 2` (index j is padded column base − 1 + j): the tile's cells,
/// two on each side.
#[derive(Debug)]
struct Prims {
    h: Vec<f64>,
    w: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    active: Vec<u8>,
    /// Half the limited slope along x (per cell, so the east face is value + slope).
    xh: Vec<f64>,
    xw: Vec<f64>,
    xu: Vec<f64>,
    xv: Vec<f64>,
    /// Half the limited slope along y (towards the next row).
    yh: Vec<f64>,
    yw: Vec<f64>,
    yu: Vec<f64>,
    yv: Vec<f64>,
    /// 1 where a cell takes a slope, else 0 (work space).
    ok: Vec<f64>,
    /// MUSCL–Hancock: h, w, u, v predicted to the half step (see `predict`).
    eh: Vec<f64>,
    ew: Vec<f64>,
    eu: Vec<f64>,
    ev: Vec<f64>,
}

impl Prims {
    fn new(len: usize) -> Self {
        let z = || vec![0.0; len];
        Self {
            h: z(),
            w: z(),
            u: z(),
            v: z(),
            active: vec![0; len],
            xh: z(),
            xw: z(),
            xu: z(),
            xv: z(),
            yh: z(),
            yw: z(),
            yu: z(),
            yv: z(),
            ok: z(),
            eh: z(),
            ew: z(),
            eu: z(),
            ev: z(),
        }
    }
}

/// Buffers of one worker thread for the second-order sweep.
#[derive(Debug)]
pub(crate) struct Fv2Scratch {
    rows: [Prims; 4],
    below: FaceRow,
    above: FaceRow,
    x: FaceRow,
    rate: Vec<f64>,
    rain: Vec<f64>,
    loss: Vec<f64>,
    pub width: usize,
}

impl Fv2Scratch {
    pub fn new(cols: usize) -> Self {
        let len = cols + 4;
        Self {
            rows: [
                Prims::new(len),
                Prims::new(len),
                Prims::new(len),
                Prims::new(len),
            ],
            below: FaceRow::new(cols + 2),
            above: FaceRow::new(cols + 2),
            x: FaceRow::new(cols + 2),
            rate: vec![0.0; cols],
            rain: vec![0.0; cols],
            loss: vec![0.0; cols],
            width: cols,
        }
    }
}

/// minmod(a, b)/2: half the smaller slope when both have the same sign, else 0.
#[inline(always)]
fn half_minmod(a: f64, b: f64) -> f64 {
    0.5 * select(a * b > 0.0, select(a.abs() < b.abs(), a, b), 0.0)
}

/// Heun's first stage: U¹ = U + dt·L(U), no rain, losses or envelopes.
const HEUN_FIRST: u8 = 0;
/// Heun's second stage: (U + U¹ + dt·L(U¹))/2, then rain, losses and envelopes.
const HEUN_LAST: u8 = 1;
/// The whole MUSCL–Hancock step: the face states predicted to the half step, then
/// U + dt·L, rain, losses and envelopes.
const HANCOCK: u8 = 2;

/// Which sweep of a second-order step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fv2Sweep {
    HeunFirst,
    HeunLast,
    Hancock,
}

/// Sweep one second-order sweep over `span` (see `kernel::sweep_block` for the spans,
/// tiles and totals).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_block(
    simd: Simd,
    which: Fv2Sweep,
    rain_grid: bool,
    losses: bool,
    old: &Fields<'_>,
    base: &Base<'_>,
    k: &StepCoeffs,
    span: Tile,
    seg: usize,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    totals: &mut [BlockTotals],
) {
    assert!(span.cols() <= scratch.width && span.c0 >= 1 && span.c1 <= k.cols);
    assert!(span.first_row >= 1 && span.first_row + span.rows <= k.rows + 1);
    assert!(seg > 0 && span.cols().div_ceil(seg) == totals.len());
    let g = Grouping { seg, totals };
    macro_rules! go {
        ($mode:expr) => {
            match (rain_grid, losses) {
                (false, false) => dispatch::<{ $mode }, false, false>(
                    simd, old, base, k, span, out, tracking, scratch, g,
                ),
                (true, false) => dispatch::<{ $mode }, true, false>(
                    simd, old, base, k, span, out, tracking, scratch, g,
                ),
                (false, true) => dispatch::<{ $mode }, false, true>(
                    simd, old, base, k, span, out, tracking, scratch, g,
                ),
                (true, true) => dispatch::<{ $mode }, true, true>(
                    simd, old, base, k, span, out, tracking, scratch, g,
                ),
            }
        };
    }
    match which {
        Fv2Sweep::HeunFirst => {
            dispatch::<HEUN_FIRST, false, false>(simd, old, base, k, span, out, None, scratch, g)
        }
        Fv2Sweep::HeunLast => go!(HEUN_LAST),
        Fv2Sweep::Hancock => go!(HANCOCK),
    }
}

#[allow(clippy::too_many_arguments)]
fn dispatch<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool>(
    simd: Simd,
    old: &Fields<'_>,
    base: &Base<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    g: Grouping<'_>,
) {
    match simd {
        Simd::Generic => {
            sweep_inline::<MODE, RAIN_GRID, LOSSES>(old, base, k, tile, out, tracking, scratch, g)
        }
        // SAFETY: `Simd::detect` chose these only where the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe {
            sweep_avx2::<MODE, RAIN_GRID, LOSSES>(old, base, k, tile, out, tracking, scratch, g)
        },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe {
            sweep_avx512::<MODE, RAIN_GRID, LOSSES>(old, base, k, tile, out, tracking, scratch, g)
        },
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn sweep_avx2<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    base: &Base<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    g: Grouping<'_>,
) {
    sweep_inline::<MODE, RAIN_GRID, LOSSES>(old, base, k, tile, out, tracking, scratch, g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn sweep_avx512<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    base: &Base<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    g: Grouping<'_>,
) {
    sweep_inline::<MODE, RAIN_GRID, LOSSES>(old, base, k, tile, out, tracking, scratch, g)
}

/// Read padded row `r` into `p` and take its slopes along x. Cells outside the padded
/// array read as inactive; ghost columns and rows (and cells beside an inactive one) get no
/// slope along x here. (Along y, `y_slopes` gives ghost rows none; a ghost column's
/// y-slope enters only MUSCL–Hancock's prediction of that ghost's state, the outer side of
/// the edge face, the same in every sweep.)
#[inline(always)]
fn prepare_row<const RECON: u8>(
    old: &Fields<'_>,
    k: &StepCoeffs,
    r: usize,
    base: usize,
    n: usize,
    p: &mut Prims,
) {
    let s = k.stride;
    let row = r * s;
    // j ↔ padded column base − 1 + j; columns base ..= base + n + 1 always exist.
    let fill = |p: &mut Prims, j: usize, c: Option<usize>| match c {
        Some(c) => {
            let i = row + c;
            let h = old.h[i];
            let inv = inverse_depth(h, k.dry_depth_m);
            p.h[j] = h;
            p.w[j] = h + old.z[i];
            p.u[j] = old.qx[i] * inv;
            p.v[j] = old.qy[i] * inv;
            p.active[j] = old.active[i];
        }
        None => {
            p.h[j] = 0.0;
            p.w[j] = 0.0;
            p.u[j] = 0.0;
            p.v[j] = 0.0;
            p.active[j] = 0;
        }
    };
    fill(p, 0, base.checked_sub(1));
    fill(p, n + 3, (base + n + 2 < s).then_some(base + n + 2));
    {
        let lo = row + base;
        let (h, z, qx, qy, act) = (
            &old.h[lo..lo + n + 2],
            &old.z[lo..lo + n + 2],
            &old.qx[lo..lo + n + 2],
            &old.qy[lo..lo + n + 2],
            &old.active[lo..lo + n + 2],
        );
        let (ph, pw, pu, pv, pa) = (
            &mut p.h[1..n + 3],
            &mut p.w[1..n + 3],
            &mut p.u[1..n + 3],
            &mut p.v[1..n + 3],
            &mut p.active[1..n + 3],
        );
        for i in 0..n + 2 {
            let inv = inverse_depth(h[i], k.dry_depth_m);
            ph[i] = h[i];
            pw[i] = h[i] + z[i];
            pu[i] = qx[i] * inv;
            pv[i] = qy[i] * inv;
            pa[i] = act[i];
        }
    }
    let interior_row = r >= 1 && r <= k.rows;
    let Prims {
        h,
        w,
        u,
        v,
        active,
        xh,
        xw,
        xu,
        xv,
        ok,
        ..
    } = p;
    let m = n + 2;
    // Cell 1 + i is padded column base + i; ghost columns and cells beside an inactive
    // one get no slope.
    let ok = &mut ok[..m];
    {
        let (ap, am, an) = (&active[..m], &active[1..m + 1], &active[2..m + 2]);
        for i in 0..m {
            let c = base + i;
            let limited =
                interior_row && c >= 1 && c <= k.cols && ap[i] != 0 && am[i] != 0 && an[i] != 0;
            ok[i] = select(limited, 1.0, 0.0);
        }
    }
    for (q, out) in [
        (&*h, &mut *xh),
        (&*w, &mut *xw),
        (&*u, &mut *xu),
        (&*v, &mut *xv),
    ] {
        slopes(&q[..m], &q[1..m + 1], &q[2..m + 2], ok, &mut out[1..m + 1]);
    }
    surface_slopes::<RECON>(
        k.dry_depth_m,
        (&h[..m], &h[1..m + 1], &h[2..m + 2]),
        (&w[..m], &w[1..m + 1], &w[2..m + 2]),
        ok,
        &xw[1..m + 1],
        &mut xh[1..m + 1],
    );
}

/// Half the minmod slope of each cell from its neighbours before and after, where `ok`
/// is 1 (else 0).
#[inline(always)]
fn slopes(before: &[f64], mid: &[f64], after: &[f64], ok: &[f64], out: &mut [f64]) {
    let m = out.len();
    let (before, mid, after, ok) = (&before[..m], &mid[..m], &after[..m], &ok[..m]);
    for i in 0..m {
        out[i] = ok[i] * half_minmod(mid[i] - before[i], after[i] - mid[i]);
    }
}

/// Where a cell and both neighbours are wet, the depth's slope follows the surface's
/// over the bed's own central slope (δh = δw − δz, the surface-gradient method of Zhou
/// et al. 2001), so that the bed each face sees is the bed interpolated linearly rather
/// than the difference of two limited slopes; where that would make a face depth
/// negative, the minmod slope of h stays.
///
/// With [`ENERGY`] (`reconstruction = "energy"`) the bed's slope is instead the minmod
/// of its two one-sided differences: the same on a smooth bed, but a bed step stays
/// whole at its face, where the moving-water face states carry the flow over it, rather
/// than half of it going into each cell beside it as a hydrostatic bed term.
#[inline(always)]
fn surface_slopes<const RECON: u8>(
    dry: f64,
    (hb, hm, ha): (&[f64], &[f64], &[f64]),
    (wb, wm, wa): (&[f64], &[f64], &[f64]),
    ok: &[f64],
    sw: &[f64],
    sh: &mut [f64],
) {
    let m = sh.len();
    let (hb, hm, ha, wb, wm, wa, ok, sw) = (
        &hb[..m],
        &hm[..m],
        &ha[..m],
        &wb[..m],
        &wm[..m],
        &wa[..m],
        &ok[..m],
        &sw[..m],
    );
    for i in 0..m {
        let wet = hb[i] > dry && hm[i] > dry && ha[i] > dry && ok[i] != 0.0;
        let (zb, zm, za) = (wb[i] - hb[i], wm[i] - hm[i], wa[i] - ha[i]);
        let dz = if RECON == ENERGY {
            half_minmod(zm - zb, za - zm)
        } else {
            0.25 * (za - zb)
        };
        let cand = sw[i] - dz;
        let fits = hm[i] - cand.abs() >= 0.0;
        sh[i] = select(wet && fits, cand, sh[i]);
    }
}

/// Slopes along y of the row `mid` from the rows before and after it (`None` for a ghost
/// row: no slope).
#[inline(always)]
fn y_slopes<const RECON: u8>(
    n: usize,
    dry: f64,
    mid: &mut Prims,
    around: Option<(&Prims, &Prims)>,
) {
    let m = n + 2;
    let Some((before, after)) = around else {
        for q in [&mut mid.yh, &mut mid.yw, &mut mid.yu, &mut mid.yv] {
            q[1..m + 1].fill(0.0);
        }
        return;
    };
    let ok = &mut mid.ok[..m];
    {
        let (ab, am, aa) = (
            &before.active[1..m + 1],
            &mid.active[1..m + 1],
            &after.active[1..m + 1],
        );
        for i in 0..m {
            ok[i] = select(ab[i] != 0 && am[i] != 0 && aa[i] != 0, 1.0, 0.0);
        }
    }
    let Prims {
        h,
        w,
        u,
        v,
        yh,
        yw,
        yu,
        yv,
        ok,
        ..
    } = mid;
    let ok = &ok[..m];
    for (b, q, a, out) in [
        (&before.h, &*h, &after.h, &mut *yh),
        (&before.w, &*w, &after.w, &mut *yw),
        (&before.u, &*u, &after.u, &mut *yu),
        (&before.v, &*v, &after.v, &mut *yv),
    ] {
        slopes(
            &b[1..m + 1],
            &q[1..m + 1],
            &a[1..m + 1],
            ok,
            &mut out[1..m + 1],
        );
    }
    surface_slopes::<RECON>(
        dry,
        (&before.h[1..m + 1], &h[1..m + 1], &after.h[1..m + 1]),
        (&before.w[1..m + 1], &w[1..m + 1], &after.w[1..m + 1]),
        ok,
        &yw[1..m + 1],
        &mut yh[1..m + 1],
    );
}

/// MUSCL–Hancock's predictor: h, u, v of each cell of `mid` advanced by half a step with
/// the primitive equations and the cell's limited slopes (Toro 2001, §14.4),
///   h̄ = h − dt/2·(u h_x + h u_x + v h_y + h v_y),
///   ū = u − dt/2·(u u_x + v u_y + g w_x),  v̄ = v − dt/2·(u v_x + v v_y + g w_y),
/// and w̄ = w + h̄ − h (the bed does not move). A lake at rest (w flat, u = v = 0) stays as
/// it is. A cell that is dry or has a dry neighbour (walls do not count), or whose predicted face
/// depths would go below zero, keeps its values: the predictor falls back to first order
/// in time at wet/dry fronts, where the limiter has already made the space first order.
#[inline(always)]
fn predict(k: &StepCoeffs, n: usize, mid: &mut Prims, around: Option<(&Prims, &Prims)>) {
    let m = n + 2;
    let Prims {
        h,
        w,
        u,
        v,
        active,
        xh,
        xw,
        xu,
        xv,
        yh,
        yw,
        yu,
        yv,
        eh,
        ew,
        eu,
        ev,
        ..
    } = mid;
    let Some((before, after)) = around else {
        eh[1..m + 1].copy_from_slice(&h[1..m + 1]);
        ew[1..m + 1].copy_from_slice(&w[1..m + 1]);
        eu[1..m + 1].copy_from_slice(&u[1..m + 1]);
        ev[1..m + 1].copy_from_slice(&v[1..m + 1]);
        return;
    };
    let r = 1..m + 1;
    let (hw, hc, he) = (&h[..m], &h[r.clone()], &h[2..m + 2]);
    let (aw, ac, ae) = (&active[..m], &active[r.clone()], &active[2..m + 2]);
    let (hs, hn) = (&before.h[r.clone()], &after.h[r.clone()]);
    let (as_, an) = (&before.active[r.clone()], &after.active[r.clone()]);
    let (wc, uc, vc) = (&w[r.clone()], &u[r.clone()], &v[r.clone()]);
    let (xh, xw, xu, xv) = (
        &xh[r.clone()],
        &xw[r.clone()],
        &xu[r.clone()],
        &xv[r.clone()],
    );
    let (yh, yw, yu, yv) = (
        &yh[r.clone()],
        &yw[r.clone()],
        &yu[r.clone()],
        &yv[r.clone()],
    );
    let (eh, ew, eu, ev) = (
        &mut eh[r.clone()],
        &mut ew[r.clone()],
        &mut eu[r.clone()],
        &mut ev[r],
    );
    let (rx, ry, g, dry) = (k.rx, k.ry, k.g, k.dry_depth_m);
    for i in 0..m {
        // The half slopes are per half cell: dt/2 · ∂/∂x = dt/dx · (half slope).
        let (h, u, v) = (hc[i], uc[i], vc[i]);
        let hb = h - rx * (u * xh[i] + h * xu[i]) - ry * (v * yh[i] + h * yv[i]);
        let ub = u - rx * (u * xu[i] + g * xw[i]) - ry * (v * yu[i]);
        let vb = v - rx * (u * xv[i]) - ry * (v * yv[i] + g * yw[i]);
        // Wet, among neighbours that are wet or walls (a wall's side has no slope).
        let wet = (hc[i] > dry && ac[i] != 0)
            && (hw[i] > dry || aw[i] == 0)
            && (he[i] > dry || ae[i] == 0)
            && (hs[i] > dry || as_[i] == 0)
            && (hn[i] > dry || an[i] == 0);
        let ok = wet && hb - xh[i].abs() >= 0.0 && hb - yh[i].abs() >= 0.0;
        eh[i] = select(ok, hb, h);
        ew[i] = wc[i] + (eh[i] - h);
        eu[i] = select(ok, ub, u);
        ev[i] = select(ok, vb, v);
    }
}

/// One side of a face from its reconstructed depth, surface and velocities. The face
/// flux reads velocities as `qn · inv_h`: the reconstruction has the velocities already,
/// so they go in as `qn`, `qt` with `inv_h` 1 (0 at or below the dry depth, where a film
/// has no velocity), and no division is needed.
#[inline(always)]
fn side(h: f64, w: f64, un: f64, ut: f64, active: bool, k: &StepCoeffs) -> Side {
    Side {
        h,
        inv_h: select(h > k.dry_depth_m, 1.0, 0.0),
        // Not read: the face flux takes the celerities from the face depths.
        c: 0.0,
        qn: un,
        qt: ut,
        z: w - h,
        active,
    }
}

/// The face-side states at `first .. first + m` of a row's reconstruction, moved by
/// `sign` times its slopes (`x` the slopes along x, else along y); `along_x` says which
/// velocity is normal to the faces.
struct Sides<'a> {
    h: &'a [f64],
    w: &'a [f64],
    un: &'a [f64],
    ut: &'a [f64],
    sh: &'a [f64],
    sw: &'a [f64],
    sun: &'a [f64],
    sut: &'a [f64],
    active: &'a [u8],
}

impl<'a> Sides<'a> {
    #[inline(always)]
    fn of(p: &'a Prims, first: usize, m: usize, along_x: bool, predicted: bool) -> Self {
        let r = first..first + m;
        let (h, w, u, v) = if predicted {
            (&p.eh, &p.ew, &p.eu, &p.ev)
        } else {
            (&p.h, &p.w, &p.u, &p.v)
        };
        let (un, ut, sh, sw, sun, sut) = if along_x {
            (u, v, &p.xh, &p.xw, &p.xu, &p.xv)
        } else {
            (v, u, &p.yh, &p.yw, &p.yv, &p.yu)
        };
        Self {
            h: &h[r.clone()],
            w: &w[r.clone()],
            un: &un[r.clone()],
            ut: &ut[r.clone()],
            sh: &sh[r.clone()],
            sw: &sw[r.clone()],
            sun: &sun[r.clone()],
            sut: &sut[r.clone()],
            active: &p.active[r],
        }
    }
}

/// Fluxes of `m` faces, face i between `left` cell i (moved to its high side) and `right`
/// cell i (moved to its low side), into `out` at `first + i`.
#[inline(always)]
fn faces<const RECON: u8>(
    k: &StepCoeffs,
    m: usize,
    left: Sides<'_>,
    right: Sides<'_>,
    out: &mut FaceRow,
    first: usize,
) {
    let (lh, lw, lun, lut, lsh, lsw, lsun, lsut, la) = (
        &left.h[..m],
        &left.w[..m],
        &left.un[..m],
        &left.ut[..m],
        &left.sh[..m],
        &left.sw[..m],
        &left.sun[..m],
        &left.sut[..m],
        &left.active[..m],
    );
    let (rh, rw, run, rut, rsh, rsw, rsun, rsut, ra) = (
        &right.h[..m],
        &right.w[..m],
        &right.un[..m],
        &right.ut[..m],
        &right.sh[..m],
        &right.sw[..m],
        &right.sun[..m],
        &right.sut[..m],
        &right.active[..m],
    );
    let mass = &mut out.mass[first..first + m];
    let nl = &mut out.normal_left[first..first + m];
    let nr = &mut out.normal_right[first..first + m];
    let t = &mut out.tangential[first..first + m];
    for i in 0..m {
        let l = side(
            lh[i] + lsh[i],
            lw[i] + lsw[i],
            lun[i] + lsun[i],
            lut[i] + lsut[i],
            la[i] != 0,
            k,
        );
        let r = side(
            rh[i] - rsh[i],
            rw[i] - rsw[i],
            run[i] - rsun[i],
            rut[i] - rsut[i],
            ra[i] != 0,
            k,
        );
        let f = face_flux_with::<RECON, true>(l, r, k.g);
        mass[i] = f.mass;
        nl[i] = f.normal_left;
        nr[i] = f.normal_right;
        t[i] = f.tangential;
    }
}

/// Faces between the rows of `lo` and `up` for the tile's columns; results at 1..=n.
#[inline(always)]
fn y_faces<const RECON: u8>(
    k: &StepCoeffs,
    predicted: bool,
    n: usize,
    lo: &Prims,
    up: &Prims,
    out: &mut FaceRow,
) {
    let (l, r) = (
        Sides::of(lo, 2, n, false, predicted),
        Sides::of(up, 2, n, false, predicted),
    );
    faces::<RECON>(k, n, l, r, out, 1);
}

/// Faces along the row `p` between padded columns base + i and base + i + 1, i = 0..=n.
#[inline(always)]
fn x_faces<const RECON: u8>(
    k: &StepCoeffs,
    predicted: bool,
    n: usize,
    p: &Prims,
    out: &mut FaceRow,
) {
    let (l, r) = (
        Sides::of(p, 1, n + 1, true, predicted),
        Sides::of(p, 2, n + 1, true, predicted),
    );
    faces::<RECON>(k, n + 1, l, r, out, 0);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep_inline<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    start_state: &Base<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    g: Grouping<'_>,
) {
    macro_rules! sweep_as {
        ($reconstruction:ident) => {
            sweep_with::<MODE, RAIN_GRID, LOSSES, $reconstruction>(
                old,
                start_state,
                k,
                tile,
                out,
                tracking,
                scratch,
                g,
            )
        };
    }
    match k.reconstruction {
        AUDUSSE => sweep_as!(AUDUSSE),
        SUBCELL => sweep_as!(SUBCELL),
        ENERGY => sweep_as!(ENERGY),
        _ => unreachable!("a reconstruction code from `Reconstruction::code`"),
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep_with<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool, const RECON: u8>(
    old: &Fields<'_>,
    start_state: &Base<'_>,
    k: &StepCoeffs,
    tile: Tile,
    out: &Out,
    tracking: Option<Tracking<'_>>,
    scratch: &mut Fv2Scratch,
    g: Grouping<'_>,
) {
    let s = k.stride;
    let n = tile.cols();
    let base = tile.c0 - 1;
    let (first_row, block_rows) = (tile.first_row, tile.rows);
    let (at_west, at_east) = (tile.c0 == 1, tile.c1 == k.cols);
    let ranges = g.ranges(n);
    let totals = g.totals;
    totals.fill(BlockTotals::default());
    let last = totals.len() - 1;
    let [north, south, west, east] = old.edge_flux;

    // The rolling rows: [r − 1, r, r + 1, r + 2] for the row r being updated.
    let Fv2Scratch {
        rows: prims,
        below,
        above,
        x,
        rate,
        rain,
        loss,
        ..
    } = scratch;
    let [p0, p1, p2, p3] = prims;
    let (mut p0, mut p1, mut p2, mut p3) = (p0, p1, p2, p3);
    // p3 holds row first_row − 2 for now.
    if first_row >= 2 {
        prepare_row::<RECON>(old, k, first_row - 2, base, n, p3);
    }
    prepare_row::<RECON>(old, k, first_row - 1, base, n, p0);
    prepare_row::<RECON>(old, k, first_row, base, n, p1);
    prepare_row::<RECON>(old, k, first_row + 1, base, n, p2);
    let hancock = MODE == HANCOCK;
    y_slopes::<RECON>(
        n,
        k.dry_depth_m,
        p0,
        (first_row >= 2).then_some((&*p3, &*p1)),
    );
    y_slopes::<RECON>(n, k.dry_depth_m, p1, Some((&*p0, &*p2)));
    if hancock {
        predict(k, n, p0, (first_row >= 2).then_some((&*p3, &*p1)));
        predict(k, n, p1, Some((&*p0, &*p2)));
    }
    y_faces::<RECON>(k, hancock, n, p0, p1, below);
    if first_row == 1 {
        for i in 1..=n {
            north.apply(base + i, below, i, true);
        }
        for (j, cols) in ranges.clone() {
            let (inflow, outflow) = split_in_out(&below.mass[1 + cols.start..=cols.end]);
            totals[j].y_in_m2_s += inflow;
            totals[j].y_out_m2_s += outflow;
        }
    }

    for local in 0..block_rows {
        let r = first_row + local;
        // p0..p2 are rows r − 1, r, r + 1 with y-slopes on p1; p2 needs row r + 2.
        if r < k.rows {
            prepare_row::<RECON>(old, k, r + 2, base, n, p3);
            y_slopes::<RECON>(n, k.dry_depth_m, p2, Some((&*p1, &*p3)));
            if hancock {
                predict(k, n, p2, Some((&*p1, &*p3)));
            }
        } else {
            y_slopes::<RECON>(n, k.dry_depth_m, p2, None);
            if hancock {
                predict(k, n, p2, None);
            }
        }
        y_faces::<RECON>(k, hancock, n, p1, p2, above);
        x_faces::<RECON>(k, hancock, n, p1, x);
        if at_west {
            west.apply(r, x, 0, true);
            totals[0].x_in_m2_s += x.mass[0].max(0.0);
            totals[0].x_out_m2_s += (-x.mass[0]).max(0.0);
        }
        if at_east {
            east.apply(r, x, n, false);
            totals[last].x_in_m2_s += (-x.mass[n]).max(0.0);
            totals[last].x_out_m2_s += x.mass[n].max(0.0);
        }
        if r == k.rows {
            for i in 1..=n {
                south.apply(base + i, above, i, false);
            }
            for (j, cols) in ranges.clone() {
                let (outflow, inflow) = split_in_out(&above.mass[1 + cols.start..=cols.end]);
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
        update_row::<MODE, RAIN_GRID, LOSSES>(
            old,
            start_state,
            k,
            start,
            p1,
            x,
            below,
            above,
            RowOut {
                h: &mut *h,
                qx: &mut *qx,
                qy: &mut *qy,
                infiltrated_m: infiltrated,
                rate: &mut *rate,
                rain_m: &mut *rain,
                loss_m: &mut *loss,
            },
        );
        for (j, cols) in ranges.clone() {
            let t = &mut totals[j];
            let (depth_sum, max_rate, max_depth) =
                reduce_row(&h[cols.clone()], &rate[cols.clone()]);
            t.depth_sum_m += depth_sum;
            t.max_rate_per_s = t.max_rate_per_s.max(max_rate);
            t.max_depth_m = t.max_depth_m.max(max_depth);
            if RAIN_GRID {
                t.rain_m += sum_row(&rain[cols.clone()]);
            }
            if LOSSES {
                t.loss_m += sum_row(&loss[cols]);
            }
        }
        if MODE != HEUN_FIRST
            && let Some(t) = tracking
        {
            // SAFETY: as above; the envelope arrays exist when tracking is on.
            unsafe { fold_row(t, k, out, old.active, start, h, qx, qy) };
        }

        std::mem::swap(below, above);
        // Roll: r − 1 ← r, r ← r + 1, r + 1 ← r + 2.
        let spare = p0;
        p0 = p1;
        p1 = p2;
        p2 = p3;
        p3 = spare;
    }
    // Which sides hold water: the tile's own wetness decides (see `Tiles::plan`).
    for t in totals.iter_mut() {
        t.wet_sides = [t.max_depth_m > 0.0; 4];
    }
}

/// Update the cells `lo ..` of one row (padded index; `out.h.len()` of them) from the
/// faces around them and the centred bed terms of `p` (the row's reconstruction).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update_row<const MODE: u8, const RAIN_GRID: bool, const LOSSES: bool>(
    old: &Fields<'_>,
    start_state: &Base<'_>,
    k: &StepCoeffs,
    lo: usize,
    p: &Prims,
    x: &FaceRow,
    below: &FaceRow,
    above: &FaceRow,
    out: RowOut<'_>,
) {
    let n = out.h.len();
    let (h1, qx1, qy1, g_n2, act) = (
        &old.h[lo..lo + n],
        &old.qx[lo..lo + n],
        &old.qy[lo..lo + n],
        &old.g_n2[lo..lo + n],
        &old.active[lo..lo + n],
    );
    let (h0, qx0, qy0) = (
        &start_state.h[lo..lo + n],
        &start_state.qx[lo..lo + n],
        &start_state.qy[lo..lo + n],
    );
    // Cell i of the row is index i + 2 of the reconstruction.
    let (ph, pw) = if MODE == HANCOCK {
        (&p.eh, &p.ew)
    } else {
        (&p.h, &p.w)
    };
    let (ph, pw, xh, xw, yh, yw) = (
        &ph[2..n + 2],
        &pw[2..n + 2],
        &p.xh[2..n + 2],
        &p.xw[2..n + 2],
        &p.yh[2..n + 2],
        &p.yw[2..n + 2],
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
    let half_g = 0.5 * g;

    for i in 0..n {
        // Centred bed terms: −g/2 (h⁺ + h⁻)(z⁺ − z⁻) with z = w − h of each face.
        let (he, hw) = (ph[i] + xh[i], ph[i] - xh[i]);
        let (ze, zw) = ((pw[i] + xw[i]) - he, (pw[i] - xw[i]) - hw);
        let (hn, hs) = (ph[i] + yh[i], ph[i] - yh[i]);
        let (zn, zs) = ((pw[i] + yw[i]) - hn, (pw[i] - yw[i]) - hs);
        let bed_x = -half_g * (he + hw) * (ze - zw);
        let bed_y = -half_g * (hn + hs) * (zn - zs);

        // One Euler stage from the flux state.
        let h = h1[i] - rx * (em[i] - wm[i]) - ry * (nm[i] - sm[i]);
        let qx = qx1[i] - rx * (enl[i] - wnr[i] - bed_x) - ry * (nt[i] - st[i]);
        let qy = qy1[i] - rx * (et[i] - wt[i]) - ry * (nnl[i] - snr[i] - bed_y);
        let active = act[i] != 0;
        // Round-off below zero is clamped; a NaN or a real negative is left for the check.
        let h = select(h >= -k.negative_tolerance_m, h.max(0.0), h);

        let (mut h, mut qx, mut qy) = (h, qx, qy);
        let mut inv_h = 0.0;
        if MODE != HEUN_FIRST {
            if MODE == HEUN_LAST {
                // Heun: the mean of the start of the step and the second stage.
                h = 0.5 * (h0[i] + h);
                qx = 0.5 * (qx0[i] + qx);
                qy = 0.5 * (qy0[i] + qy);
            }
            let mut rain = k.rain_uniform_m;
            if RAIN_GRID {
                // The gridded part only (see `kernel::update_row`).
                let grid = rain_grid[i] * dt;
                rain += grid;
                rain_out[i] = select(active, grid, 0.0);
            }
            h += rain;
            if LOSSES {
                let soaked = infiltrated[i];
                let take = infiltration(h, soaked, (il[i], cl[i], cap[i]), dt);
                let take = select(active, take, 0.0);
                h -= take;
                infiltrated[i] = soaked + take;
                loss_out[i] = take;
            }
            // Manning friction once per step, on its result, as fv1 does: Heun's stages
            // carry the fluxes only, so a stiff friction (a thin film) still stops the
            // flow within the step instead of keeping half of the start's momentum.
            (qx, qy, inv_h) = friction(h, qx, qy, g_n2[i], dt, dry);
        }

        // A cell at or below the dry depth has no velocity; momenta below 1e-20 m²/s are
        // zero (see `kernel::update_row`).
        let wet = h > dry;
        qx = select(wet && qx.abs() > 1e-20, qx, 0.0);
        qy = select(wet && qy.abs() > 1e-20, qy, 0.0);

        // The next step's CFL rate, from the step's result (the first stage only reports
        // whether its cells are sound).
        let rate = if MODE != HEUN_FIRST {
            let c = (g * h).sqrt();
            let rate_x = (qx.abs() * inv_h + c) * k.inv_dx;
            let rate_y = (qy.abs() * inv_h + c) * k.inv_dy;
            select(wet, rate_x.max(rate_y), 0.0)
        } else {
            0.0
        };
        let good = h >= 0.0 && (qx + qy).is_finite();
        let rate = select(good, rate, f64::INFINITY);

        let keep = |new: f64, a: f64, b: f64| select(active, new, select(MODE != HEUN_FIRST, a, b));
        h_out[i] = keep(h, h0[i], h1[i]);
        qx_out[i] = keep(qx, qx0[i], qx1[i]);
        qy_out[i] = keep(qy, qy0[i], qy1[i]);
        rate_out[i] = select(active, rate, 0.0);
    }
}
