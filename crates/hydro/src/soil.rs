//! Infiltration models beyond initial + continuing loss: the SCS curve number and
//! Green–Ampt. Each works out, before a step, how much each cell's soil takes during it
//! and hands that to the sweep as the cell's continuing-loss rate for the step; the sweep
//! takes it (never more than the water there) and books it as infiltration, so the water
//! balance stays exact.
//!
//! - **Curve number** (USDA NRCS, National Engineering Handbook Part 630, ch. 10):
//!   S = 25 400 / CN − 254 mm, Ia = λ·S (λ = 0.2 by default; 0.05 is the revised ratio of
//!   Hawkins et al. 2002), runoff Q(P) = (P − Ia)² / (P − Ia + S) for P > Ia, else 0, of
//!   the rain P fallen on the cell since the start. A step with rain ΔP takes
//!   ΔP − (Q(P + ΔP) − Q(P)): the rain-excess form, applied to the rain (water running on
//!   from elsewhere is not taken).
//! - **Green–Ampt** (Green & Ampt 1911; Chow, Maidment & Mays 1988, §4.3): with ψΔθ the
//!   wetting-front suction × moisture deficit and K the saturated conductivity, cumulative
//!   infiltration under ponding obeys F − ψΔθ·ln(1 + F/ψΔθ) = K·t. A step of dt takes up
//!   to the F₁ that solves F₁ − F₀ − ψΔθ·ln((F₁ + ψΔθ)/(F₀ + ψΔθ)) = K·dt (Newton's
//!   method), so a ponded cell follows the equation exactly, whatever the step; a cell
//!   with less water takes what it has.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use crate::kernel::Tile;

/// A loss model's parameters per cell (unpadded, `rows × cols`).
#[derive(Clone, Debug, PartialEq)]
pub enum LossModel {
    CurveNumber {
        /// CN, 30–100.
        curve_number: Array2<f64>,
        /// Ia / S.
        ia_ratio: f64,
        /// Share of each cell that is impervious (0–1; `None`: none): only the rest
        /// soaks up its P − Q(P).
        impervious: Option<Array2<f64>>,
    },
    GreenAmpt {
        /// Saturated hydraulic conductivity K (mm/h).
        conductivity_mm_per_h: Array2<f64>,
        /// Wetting-front suction ψ (mm).
        suction_mm: Array2<f64>,
        /// Moisture deficit Δθ (−), between 0 and the porosity.
        moisture_deficit: Array2<f64>,
    },
}

/// Potential maximum retention S (m) of a curve number.
pub fn retention_m(curve_number: f64) -> f64 {
    (25_400.0 / curve_number - 254.0) * 1e-3
}

/// SCS runoff Q (m) of rain P (m) with retention S (m) and Ia = `ia_ratio`·S.
pub fn scs_runoff_m(p: f64, s: f64, ia_ratio: f64) -> f64 {
    let ia = ia_ratio * s;
    if p > ia {
        (p - ia) * (p - ia) / (p - ia + s)
    } else {
        0.0
    }
}

/// Green–Ampt: the cumulative infiltration F₁ (m) reached from F₀ after `k_dt` = K·dt (m)
/// of ponding, with `a` = ψΔθ (m). Newton's method from above on
/// g(F) = F − F₀ − a·ln((F + a)/(F₀ + a)) − K·dt, which is convex and increasing for
/// F > 0, so the iterates fall monotonically onto the root.
pub fn green_ampt_next_m(f0: f64, k_dt: f64, a: f64) -> f64 {
    if k_dt <= 0.0 {
        return f0;
    }
    if a <= 0.0 {
        return f0 + k_dt;
    }
    // Above the root: F₀ + K dt + √(2 a K dt) (the early-time solution bounds the step),
    // and, once some water has soaked in, F₀ + K dt (1 + a/F₀) (the rate K (1 + a/F) only
    // falls as F grows), which lies within O(dt²) of the root: Newton then needs a step or
    // two instead of five or six.
    let early = f0 + k_dt + (2.0 * a * k_dt).sqrt();
    let later = if f0 > 0.0 {
        f0 + k_dt * (1.0 + a / f0)
    } else {
        f64::INFINITY
    };
    let mut f = early.min(later);
    let ln0 = (f0 + a).ln();
    for _ in 0..30 {
        let g = f - f0 - a * ((f + a).ln() - ln0) - k_dt;
        let dg = f / (f + a);
        let next = f - g / dg;
        // Stop once Newton no longer moves down (converged, or a NaN).
        if next.is_nan() || next >= f || (f - next) <= 1e-15 * f.max(1e-12) {
            f = next.min(f);
            break;
        }
        f = next;
    }
    f.max(f0)
}

/// A model's parameters as the solver keeps them (padded, m and m/s) and its state.
#[derive(Clone, Debug)]
pub(crate) enum SoilState {
    CurveNumber {
        retention_m: Array2<f64>,
        ia_ratio: f64,
        /// Pervious share of each cell (1 − impervious).
        pervious: Array2<f64>,
        /// Rain fallen on each cell so far (m).
        rain_m: Array2<f64>,
    },
    GreenAmpt {
        conductivity_m_s: Array2<f64>,
        suction_deficit_m: Array2<f64>,
    },
}

impl SoilState {
    /// The model's per-cell state for a hot start (the curve number's rain so far).
    pub(crate) fn rain_m(&self) -> Option<&Array2<f64>> {
        match self {
            SoilState::CurveNumber { rain_m, .. } => Some(rain_m),
            SoilState::GreenAmpt { .. } => None,
        }
    }

    pub(crate) fn rain_m_mut(&mut self) -> Option<&mut Array2<f64>> {
        match self {
            SoilState::CurveNumber { rain_m, .. } => Some(rain_m),
            SoilState::GreenAmpt { .. } => None,
        }
    }

    /// Set each active cell's continuing-loss rate (m/s, in `rate`) to what its soil takes
    /// during a step of `dt` with `rain_uniform_m` of rain everywhere plus `rain_grid`
    /// (m/s) per cell; the curve number's rain so far moves on by that rain. Only the cells
    /// of the tiles `rects[i]` for `i` in `swept` (those the step sweeps, in parallel):
    /// elsewhere no water is and no rain falls, so nothing would change. Padded arrays;
    /// inactive cells are left alone.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prepare_step(
        &mut self,
        dt: f64,
        rain_uniform_m: f64,
        rain_grid: Option<ArrayView2<'_, f64>>,
        active: ArrayView2<'_, u8>,
        infiltrated_m: ArrayView2<'_, f64>,
        rate: &mut Array2<f32>,
        rects: &[Tile],
        swept: &[usize],
    ) {
        let stride = rate.ncols();
        let len = rate.len();
        let active = active.to_slice().expect(CONTIGUOUS);
        let infiltrated = infiltrated_m.to_slice().expect(CONTIGUOUS);
        let rain_grid = rain_grid.map(|g| g.to_slice().expect(CONTIGUOUS));
        let rate = Cells::new(rate.as_slice_mut().expect(CONTIGUOUS));
        match self {
            SoilState::CurveNumber {
                retention_m,
                ia_ratio,
                pervious,
                rain_m,
            } => {
                let (retention, pervious) = (
                    retention_m.as_slice().expect(CONTIGUOUS),
                    pervious.as_slice().expect(CONTIGUOUS),
                );
                let ia_ratio = *ia_ratio;
                let rain_so_far = Cells::new(rain_m.as_slice_mut().expect(CONTIGUOUS));
                swept.par_iter().for_each(|&t| {
                    for (r, c) in crate::tiles::cells(&rects[t]) {
                        let i = r * stride + c;
                        assert!(i < len);
                        if active[i] == 0 {
                            continue;
                        }
                        let dp = rain_uniform_m + rain_grid.map_or(0.0, |g| g[i] * dt);
                        // SAFETY: tiles are disjoint, so no other task touches cell i.
                        let p0 = unsafe { rain_so_far.get(i) };
                        let s = retention[i];
                        let p1 = p0 + dp;
                        let runoff = scs_runoff_m(p1, s, ia_ratio) - scs_runoff_m(p0, s, ia_ratio);
                        // SAFETY: as above.
                        unsafe {
                            rate.set(i, (pervious[i] * (dp - runoff).max(0.0) / dt) as f32);
                            rain_so_far.set(i, p1);
                        }
                    }
                });
            }
            SoilState::GreenAmpt {
                conductivity_m_s,
                suction_deficit_m,
            } => {
                let (k, a) = (
                    conductivity_m_s.as_slice().expect(CONTIGUOUS),
                    suction_deficit_m.as_slice().expect(CONTIGUOUS),
                );
                swept.par_iter().for_each(|&t| {
                    for (r, c) in crate::tiles::cells(&rects[t]) {
                        let i = r * stride + c;
                        assert!(i < len);
                        if active[i] == 0 {
                            continue;
                        }
                        let f0 = infiltrated[i];
                        let f1 = green_ampt_next_m(f0, k[i] * dt, a[i]);
                        // SAFETY: tiles are disjoint, so no other task touches cell i.
                        unsafe { rate.set(i, ((f1 - f0) / dt) as f32) };
                    }
                });
            }
        }
    }
}

const CONTIGUOUS: &str = "soil arrays are created contiguous";

/// A slice written cell by cell from parallel tasks that each own disjoint cells.
#[derive(Clone, Copy)]
struct Cells<T> {
    ptr: *mut T,
    len: usize,
}

// SAFETY: only used through `get`/`set`, on cells that one task owns (disjoint tiles).
unsafe impl<T: Send> Send for Cells<T> {}
unsafe impl<T: Send> Sync for Cells<T> {}

impl<T: Copy> Cells<T> {
    fn new(s: &mut [T]) -> Self {
        Self {
            ptr: s.as_mut_ptr(),
            len: s.len(),
        }
    }

    /// # Safety
    /// No other task reads or writes cell `i` meanwhile.
    unsafe fn get(&self, i: usize) -> T {
        assert!(i < self.len);
        // SAFETY: in bounds (asserted); not written elsewhere (the caller's promise).
        unsafe { *self.ptr.add(i) }
    }

    /// # Safety
    /// As for `get`.
    unsafe fn set(&self, i: usize, v: T) {
        assert!(i < self.len);
        // SAFETY: as for `get`.
        unsafe { *self.ptr.add(i) = v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NEH-630 table: CN 75 gives S = 84.7 mm; 100 mm of rain with λ = 0.2 give
    /// (100 − 16.93)² / (100 − 16.93 + 84.67) = 41.2 mm of runoff.
    #[test]
    fn the_curve_number_formula() {
        let s = retention_m(75.0);
        assert!((s - 0.084_667).abs() < 1e-6, "{s}");
        let q = scs_runoff_m(0.1, s, 0.2);
        assert!((q - 0.041_17).abs() < 5e-5, "{q}");
        assert_eq!(scs_runoff_m(0.01, s, 0.2), 0.0, "below Ia nothing runs off");
        assert_eq!(retention_m(100.0), 0.0, "CN 100 is impervious");
    }

    /// An impervious share f: K and ψΔθ both × (1 − f) give (1 − f) × the pervious
    /// part's infiltration at every time (the identity `losses::resolve` relies on).
    #[test]
    fn green_ampt_scaled_by_the_pervious_share() {
        let (k, a, f) = (10.0 / 3.6e6, 0.033, 0.4);
        let (mut whole, mut scaled) = (0.0, 0.0);
        for _ in 0..3600 {
            whole = green_ampt_next_m(whole, k, a);
            scaled = green_ampt_next_m(scaled, (1.0 - f) * k, (1.0 - f) * a);
            assert!(
                (scaled - (1.0 - f) * whole).abs() < 1e-12,
                "{scaled} vs {whole}"
            );
        }
    }

    /// One Newton solve per step lands on the implicit equation: summing steps of any
    /// size gives the same F(t) as one solve from 0.
    #[test]
    fn green_ampt_steps_follow_the_implicit_equation() {
        let (k, a) = (10.0 / 3.6e6, 0.11 * 0.3);
        let t = 3600.0;
        let once = green_ampt_next_m(0.0, k * t, a);
        let residual = once - a * (1.0 + once / a).ln() - k * t;
        assert!(residual.abs() < 1e-12, "{residual}");
        for dt in [1.0, 8.0, 60.0] {
            let mut f = 0.0;
            let mut time = 0.0;
            while time < t {
                f = green_ampt_next_m(f, k * dt, a);
                time += dt;
            }
            assert!(
                (f - once).abs() < 1e-9 * once.max(1e-3),
                "dt {dt}: {f} vs {once}"
            );
        }
    }
}
