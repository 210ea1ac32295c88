//! Flood envelopes tracked inside the sweep: the maximum depth, speed, depth × speed and
//! hazard class each cell has seen, when it first went under and for how long. Each row is
//! folded in right after the sweep wrote it, while it is still in cache.
//!
//! Hazard classes are data: the caller passes the class limits (e.g. from a TOML table);
//! this crate only applies them.

use ndarray::{Array2, ArrayView2, s};
use serde::Deserialize;

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

/// Fold the state of some cells at the end of a step (ending at `t_s`, lasting `dt_s`)
/// into their envelopes. Only cells whose `active` flag is 1 are folded: inactive cells
/// never change, and cells with a point source (flag 2) are folded after the sources.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn track_row(
    spec: &EnvelopeSpec,
    dry_depth_m: f64,
    t_s: f64,
    dt_s: f64,
    active: &[u8],
    h: &[f64],
    qx: &[f64],
    qy: &[f64],
    env: EnvelopeRow<'_>,
) {
    let wet = spec.wet_depth_m;
    for i in 0..h.len() {
        if active[i] != 1 {
            continue;
        }
        let d = h[i];
        env.max_depth_m[i] = env.max_depth_m[i].max(d as f32);
        if d <= dry_depth_m {
            continue;
        }
        let q = (qx[i] * qx[i] + qy[i] * qy[i]).sqrt();
        let v = q / d;
        env.max_speed_m_s[i] = env.max_speed_m_s[i].max(v as f32);
        env.max_depth_speed_m2_s[i] = env.max_depth_speed_m2_s[i].max(q as f32);
        if d > wet {
            env.max_hazard[i] = env.max_hazard[i].max(f32::from(spec.hazard.class(d, v)));
            if env.first_inundation_s[i].is_nan() {
                env.first_inundation_s[i] = t_s as f32;
            }
            env.duration_inundated_s[i] += dt_s;
        }
    }
}
