//! Flood envelopes tracked inside the sweep: the maximum depth, speed, depth × speed and
//! hazard class each cell has seen, when it first went under and for how long. Each row is
//! folded in right after the sweep wrote it, while it is still in cache.
//!
//! Hazard classes are data: the caller passes the class limits (e.g. from a TOML table);
//! this crate only applies them.

use ndarray::{Array2, ArrayView2, s};
use serde::Deserialize;

use crate::kernel::Simd;

/// One class of the Australian hazard curves (ARR 2019, Book 6 ch. 7): a cell is in the
/// first class whose depth, speed and depth × speed limits it meets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrClass {
    pub class: u8,
    pub max_depth_m: f64,
    pub max_speed_m_s: f64,
    pub max_depth_speed_m2_s: f64,
}

/// UK hazard rating (Defra/EA FD2320): HR = d (v + 0.5) + DF with a debris factor DF by
/// depth band; classes by HR.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UkRating {
    /// (depth up to, debris factor) bands in increasing depth.
    pub debris_factor: Vec<(f64, f64)>,
    /// Upper HR limit of classes 1, 2, 3; above the last, the next class.
    pub class_limits: Vec<f64>,
}

impl UkRating {
    /// Class of a flooded cell (1 …).
    pub fn class(&self, depth_m: f64, speed_m_s: f64) -> u8 {
        let df = self
            .debris_factor
            .iter()
            .find(|(d, _)| depth_m <= *d)
            .map_or(self.debris_factor.last().map_or(0.0, |b| b.1), |b| b.1);
        let hr = depth_m * (speed_m_s + 0.5) + df;
        self.class_limits
            .iter()
            .position(|&l| hr < l)
            .map_or(self.class_limits.len() + 1, |i| i + 1) as u8
    }
}

/// Class of a flooded cell (1 …) under the ARR limits; beyond the last class, one more.
pub fn arr_class(classes: &[ArrClass], depth_m: f64, speed_m_s: f64) -> u8 {
    let dv = depth_m * speed_m_s;
    classes
        .iter()
        .find(|c| {
            depth_m <= c.max_depth_m && speed_m_s <= c.max_speed_m_s && dv <= c.max_depth_speed_m2_s
        })
        .map_or(classes.len() as u8 + 1, |c| c.class)
}

/// How a flooded cell gets its hazard class.
#[derive(Clone, Debug, PartialEq)]
pub enum HazardRule {
    Arr(Vec<ArrClass>),
    Uk(UkRating),
}

impl HazardRule {
    /// Class of a cell known to be flooded (deeper than the wet depth).
    #[inline]
    pub fn class(&self, depth_m: f64, speed_m_s: f64) -> u8 {
        match self {
            HazardRule::Arr(classes) => arr_class(classes, depth_m, speed_m_s),
            HazardRule::Uk(rating) => rating.class(depth_m, speed_m_s),
        }
    }
}

/// What envelopes to track: the depth above which a cell counts as flooded (for the
/// hazard, the first inundation and the duration) and the hazard rule.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopeSpec {
    pub wet_depth_m: f64,
    pub hazard: HazardRule,
}

/// The envelopes, padded like the solver's arrays.
///
/// The maxima and the first inundation time are kept in f32, the precision result
/// rasters are written in: rounding is monotonic, so the maximum of the rounded values is
/// the rounded maximum. The duration is a sum of time steps and stays f64.
#[derive(Clone, Debug)]
pub(crate) struct EnvelopeState {
    pub spec: EnvelopeSpec,
    pub max_depth_m: Array2<f32>,
    pub max_speed_m_s: Array2<f32>,
    pub max_depth_speed_m2_s: Array2<f32>,
    pub max_hazard: Array2<f32>,
    /// NaN until the cell first exceeds the wet depth.
    pub first_inundation_s: Array2<f32>,
    pub duration_inundated_s: Array2<f64>,
}

impl EnvelopeState {
    pub fn new(spec: EnvelopeSpec, padded_dim: (usize, usize)) -> Self {
        Self {
            spec,
            max_depth_m: Array2::zeros(padded_dim),
            max_speed_m_s: Array2::zeros(padded_dim),
            max_depth_speed_m2_s: Array2::zeros(padded_dim),
            max_hazard: Array2::zeros(padded_dim),
            first_inundation_s: Array2::from_elem(padded_dim, f32::NAN),
            duration_inundated_s: Array2::zeros(padded_dim),
        }
    }

    pub fn view(&self) -> Envelopes<'_> {
        Envelopes {
            max_depth_m: inner(&self.max_depth_m),
            max_speed_m_s: inner(&self.max_speed_m_s),
            max_depth_speed_m2_s: inner(&self.max_depth_speed_m2_s),
            max_hazard: inner(&self.max_hazard),
            first_inundation_s: inner(&self.first_inundation_s),
            duration_inundated_s: inner(&self.duration_inundated_s),
        }
    }
}

/// The cells of a padded array without its ghost ring.
fn inner<T>(a: &Array2<T>) -> ArrayView2<'_, T> {
    let (r, c) = a.dim();
    a.slice(s![1..r - 1, 1..c - 1])
}

/// The envelopes of a run so far, `rows × cols`.
#[derive(Clone, Copy, Debug)]
pub struct Envelopes<'a> {
    pub max_depth_m: ArrayView2<'a, f32>,
    pub max_speed_m_s: ArrayView2<'a, f32>,
    pub max_depth_speed_m2_s: ArrayView2<'a, f32>,
    /// Highest hazard class (0: never flooded).
    pub max_hazard: ArrayView2<'a, f32>,
    /// Time the depth first exceeded the wet depth (s); NaN if never.
    pub first_inundation_s: ArrayView2<'a, f32>,
    pub duration_inundated_s: ArrayView2<'a, f64>,
}

/// The envelope rows of one row segment, and the numbers of the step that ended.
pub(crate) struct EnvelopeRow<'a> {
    pub max_depth_m: &'a mut [f32],
    pub max_speed_m_s: &'a mut [f32],
    pub max_depth_speed_m2_s: &'a mut [f32],
    pub max_hazard: &'a mut [f32],
    pub first_inundation_s: &'a mut [f32],
    pub duration_inundated_s: &'a mut [f64],
}

/// Per-row work space of [`track_row`], at least as long as the row.
#[derive(Debug, Default)]
pub(crate) struct TrackScratch {
    speed: Vec<f64>,
}

impl TrackScratch {
    pub fn new(len: usize) -> Self {
        Self {
            speed: vec![0.0; len],
        }
    }
}

#[inline(always)]
fn pick<T>(cond: bool, a: T, b: T) -> T {
    if cond { a } else { b }
}

impl HazardRule {
    /// Classes of [`LANES`] cells, held in registers while every limit is applied in a
    /// branch-free pass over the lanes; the last pass is for the first class.
    #[inline(always)]
    fn class_lanes(&self, d: &[f64; LANES], v: &[f64; LANES]) -> [f32; LANES] {
        match self {
            HazardRule::Arr(classes) => {
                let mut out = [f32::from(classes.len() as u8 + 1); LANES];
                for c in classes.iter().rev() {
                    let k = f32::from(c.class);
                    for l in 0..LANES {
                        // `&`, not `&&`: no branches.
                        let ok = (d[l] <= c.max_depth_m)
                            & (v[l] <= c.max_speed_m_s)
                            & (d[l] * v[l] <= c.max_depth_speed_m2_s);
                        out[l] = pick(ok, k, out[l]);
                    }
                }
                out
            }
            HazardRule::Uk(rating) => {
                let mut df = [rating.debris_factor.last().map_or(0.0, |b| b.1); LANES];
                for &(up_to, f) in rating.debris_factor.iter().rev() {
                    for l in 0..LANES {
                        df[l] = pick(d[l] <= up_to, f, df[l]);
                    }
                }
                let mut out = [f32::from(rating.class_limits.len() as u8 + 1); LANES];
                for (k, &limit) in rating.class_limits.iter().enumerate().rev() {
                    let k = f32::from(k as u8 + 1);
                    for l in 0..LANES {
                        let hr = d[l] * (v[l] + 0.5) + df[l];
                        out[l] = pick(hr < limit, k, out[l]);
                    }
                }
                out
            }
        }
    }
}

/// Fold the state of some cells at the end of a step (ending at `t_s`, lasting `dt_s`)
/// into their envelopes. Only cells whose `active` flag is 1 are folded: inactive cells
/// never change, and cells with a point source (flag 2) are folded after the sources.
#[allow(clippy::too_many_arguments)]
pub(crate) fn track_row(
    simd: Simd,
    spec: &EnvelopeSpec,
    dry_depth_m: f64,
    t_s: f64,
    dt_s: f64,
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    env: EnvelopeRow<'_>,
    scratch: &mut TrackScratch,
) {
    let n = h.len();
    // Every row a separate slice argument of a function that is not inlined: the
    // compiler then knows that none of them overlap, and vectorises the passes.
    let a = (
        spec,
        [dry_depth_m, t_s, dt_s],
        &active[..n],
        h,
        &qx[..n],
        &qy[..n],
    );
    let (md, ms, mdv, mh, first, duration) = (
        &mut env.max_depth_m[..n],
        &mut env.max_speed_m_s[..n],
        &mut env.max_depth_speed_m2_s[..n],
        &mut env.max_hazard[..n],
        &mut env.first_inundation_s[..n],
        &mut env.duration_inundated_s[..n],
    );
    let speed = &mut scratch.speed[..n];
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 | Simd::Avx512 => {
            // SAFETY: `Simd::detect` chose these only where the CPU has AVX2 and FMA.
            unsafe {
                track_row_avx2(
                    a.0, a.1, a.2, a.3, a.4, a.5, md, ms, mdv, mh, first, duration, speed,
                )
            }
        }
        _ => track_row_generic(
            a.0, a.1, a.2, a.3, a.4, a.5, md, ms, mdv, mh, first, duration, speed,
        ),
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
#[inline(never)]
unsafe fn track_row_avx2(
    spec: &EnvelopeSpec,
    numbers: [f64; 3],
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    md: &mut [f32],
    ms: &mut [f32],
    mdv: &mut [f32],
    mh: &mut [f32],
    first: &mut [f32],
    duration: &mut [f64],
    speed: &mut [f64],
) {
    track_row_body(
        spec, numbers, active, h, qx, qy, md, ms, mdv, mh, first, duration, speed,
    );
}

#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn track_row_generic(
    spec: &EnvelopeSpec,
    numbers: [f64; 3],
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    md: &mut [f32],
    ms: &mut [f32],
    mdv: &mut [f32],
    mh: &mut [f32],
    first: &mut [f32],
    duration: &mut [f64],
    speed: &mut [f64],
) {
    track_row_body(
        spec, numbers, active, h, qx, qy, md, ms, mdv, mh, first, duration, speed,
    );
}

/// Cells classified together in [`HazardRule::class_lanes`].
const LANES: usize = 8;

/// Branch-free passes over the row, so that they vectorise: every lane of the maxima and
/// the duration is stored (a lane that must not change takes the max with 0 or adds 0).
/// The first time under is looked at only in a row where a cell went under for the first
/// time (its duration was still 0: every step under adds dt > 0), and the hazard class
/// only in a row where a cell is under.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn track_row_body(
    spec: &EnvelopeSpec,
    [dry_depth_m, t_s, dt_s]: [f64; 3],
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    md: &mut [f32],
    ms: &mut [f32],
    mdv: &mut [f32],
    mh: &mut [f32],
    first: &mut [f32],
    duration: &mut [f64],
    speed: &mut [f64],
) {
    let n = h.len();
    let (active, qx, qy) = (&active[..n], &qx[..n], &qy[..n]);
    let (md, ms, mdv, mh, first, duration, speed) = (
        &mut md[..n],
        &mut ms[..n],
        &mut mdv[..n],
        &mut mh[..n],
        &mut first[..n],
        &mut duration[..n],
        &mut speed[..n],
    );
    let wet = spec.wet_depth_m;
    // "Any cell under" and "any cell under for the first time", as lane-wise ORs.
    let (mut any_flooded, mut any_new) = (0u32, 0u32);
    for i in 0..n {
        let tracked = active[i] == 1;
        let d = h[i];
        let q = (qx[i] * qx[i] + qy[i] * qy[i]).sqrt();
        let moving = tracked & (d > dry_depth_m);
        // Dry lanes divide by a zero depth; their result is never used.
        let v = q / d;
        speed[i] = v;
        md[i] = md[i].max(pick(tracked, d as f32, 0.0));
        ms[i] = ms[i].max(pick(moving, v as f32, 0.0));
        mdv[i] = mdv[i].max(pick(moving, q as f32, 0.0));
        let flooded = moving & (d > wet);
        any_flooded |= u32::from(flooded);
        any_new |= u32::from(flooded & (duration[i] == 0.0));
        duration[i] += pick(flooded, dt_s, 0.0);
    }
    if any_flooded == 0 {
        return;
    }
    let is_flooded = |i: usize| (active[i] == 1) & (h[i] > dry_depth_m) & (h[i] > wet);
    if any_new != 0 {
        let t = t_s as f32;
        for (i, f) in first.iter_mut().enumerate() {
            *f = pick(is_flooded(i) & f.is_nan(), t, *f);
        }
    }
    // The hazard class, a chunk of lanes at a time, straight into its maximum.
    let (h_lanes, _) = h.as_chunks::<LANES>();
    let (v_lanes, _) = speed[..n].as_chunks::<LANES>();
    let (a_lanes, _) = active.as_chunks::<LANES>();
    let (mh_lanes, mh_tail) = mh.as_chunks_mut::<LANES>();
    for (((d, v), a), m) in h_lanes.iter().zip(v_lanes).zip(a_lanes).zip(mh_lanes) {
        let class = spec.hazard.class_lanes(d, v);
        for l in 0..LANES {
            let flooded = (a[l] == 1) & (d[l] > dry_depth_m) & (d[l] > wet);
            m[l] = m[l].max(pick(flooded, class[l], 0.0));
        }
    }
    let body = n - mh_tail.len();
    for (k, m) in mh_tail.iter_mut().enumerate() {
        let i = body + k;
        let class = f32::from(spec.hazard.class(h[i], speed[i]));
        *m = m.max(pick(is_flooded(i), class, 0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane classifier agrees with the one-cell classifier on a grid of depths and
    /// speeds around every limit.
    #[test]
    fn row_classes_match_cell_classes() {
        let arr = HazardRule::Arr(vec![
            ArrClass {
                class: 1,
                max_depth_m: 0.3,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.3,
            },
            ArrClass {
                class: 2,
                max_depth_m: 0.5,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.6,
            },
            ArrClass {
                class: 3,
                max_depth_m: 1.2,
                max_speed_m_s: 2.0,
                max_depth_speed_m2_s: 0.6,
            },
        ]);
        let uk = HazardRule::Uk(UkRating {
            debris_factor: vec![(0.25, 0.0), (0.75, 0.5), (f64::INFINITY, 1.0)],
            class_limits: vec![0.75, 1.25, 2.0],
        });
        let mut d = Vec::new();
        let mut v = Vec::new();
        for i in 0..60 {
            for j in 0..40 {
                d.push(0.02 + 0.025 * f64::from(i));
                v.push(0.1 * f64::from(j));
            }
        }
        let (d_lanes, _) = d.as_chunks::<LANES>();
        let (v_lanes, _) = v.as_chunks::<LANES>();
        for rule in [arr, uk] {
            let class: Vec<f32> = d_lanes
                .iter()
                .zip(v_lanes)
                .flat_map(|(d, v)| rule.class_lanes(d, v))
                .collect();
            assert_eq!(class.len(), d.len());
            for i in 0..d.len() {
                assert_eq!(
                    class[i],
                    f32::from(rule.class(d[i], v[i])),
                    "d {} v {}",
                    d[i],
                    v[i]
                );
            }
        }
    }
}
