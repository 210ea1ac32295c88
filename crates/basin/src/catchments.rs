//! Upstream catchments in a scenario (`[[catchments]]`): a rainfall–runoff model turns a
//! catchment's rain into a discharge that enters the grid as a point source. Models: the
//! Xinanjiang model ([`crate::xaj`]) and the SCS curve number with the SCS dimensionless
//! unit hydrograph. Each runs at its own step from t = 0 to the end of the scenario when
//! the scenario is loaded; the discharge is held constant over each model step.

use hydro::TimeSeries;
use serde::{Deserialize, Serialize};

use crate::config::SeriesSpec;
use crate::xaj::{XajParams, XajState, discharge_m3_s};

/// `[[catchments]]` of a scenario.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CatchmentSpec {
    pub name: String,
    /// Its area (km²), outside the grid (or a part of it modelled lumped).
    pub area_km2: f64,
    /// Where its outflow enters the grid (the DEM's CRS), spread over the active cells
    /// within `radius_m` (the nearest cell when 0).
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub radius_m: Option<f64>,
    /// The model's time step (s).
    #[serde(default = "hour")]
    pub step_s: f64,
    /// Catchment-average rain (mm/h).
    pub rain_mm_per_h: SeriesSpec,
    /// Potential (or pan) evaporation (mm/day); none when absent.
    #[serde(default)]
    pub evaporation_mm_per_day: Option<SeriesSpec>,
    pub model: CatchmentModel,
    /// A river reach between the catchment's outlet and the grid, routed by Muskingum.
    #[serde(default)]
    pub reach: Option<MuskingumReach>,
}

/// Muskingum routing (McCarthy 1938; Chow, Maidment & Mays 1988 §8.4): storage
/// S = K·(x·I + (1 − x)·O) over `subreaches` equal pieces of the reach, each with K/n.
#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MuskingumReach {
    /// Travel time through the whole reach (h).
    pub k_h: f64,
    /// Weighting factor, 0–0.45 (0.2 typical for natural channels).
    pub x: f64,
    #[serde(default = "one_piece")]
    pub subreaches: usize,
}

fn one_piece() -> usize {
    1
}

impl MuskingumReach {
    /// The most sub-reaches × sub-steps a reach may take per model step.
    pub const MAX_WORK: usize = 100_000;

    /// How the reach is cut for steps of `dt` s: (pieces, sub-steps per step), the fewest
    /// with no negative coefficient, 2K'x ≤ Δt' ≤ 2K'(1 − x) (K' = K / pieces,
    /// Δt' = dt / sub-steps), starting from `subreaches` pieces; `None` past
    /// [`Self::MAX_WORK`].
    pub fn plan(&self, dt: f64) -> Option<(usize, usize)> {
        let k = self.k_h * 3600.0;
        let x = self.x;
        for pieces in self.subreaches.max(1)..=Self::MAX_WORK {
            let kp = k / pieces as f64;
            let sub = ((dt / (2.0 * kp * (1.0 - x))).ceil() as usize).max(1);
            if pieces * sub > Self::MAX_WORK {
                return None;
            }
            if dt / sub as f64 >= 2.0 * kp * x * (1.0 - 1e-12) {
                return Some((pieces, sub));
            }
        }
        None
    }

    /// Route `inflow` (one value per step of `dt` s, from 0) through the pieces of
    /// [`Self::plan`], each with C0 = (Δt − 2Kx)/D, C1 = (Δt + 2Kx)/D,
    /// C2 = (2K(1 − x) − Δt)/D, D = 2K(1 − x) + Δt, all ≥ 0 (so the outflow never goes
    /// negative), O starting at I(0), the inflow linear between step values.
    pub fn route(&self, inflow: &[f64], dt: f64) -> Vec<f64> {
        let Some((n, sub)) = self.plan(dt) else {
            // Refused when the scenario is checked; pass the inflow through unrouted.
            return inflow.to_vec();
        };
        let k = self.k_h * 3600.0 / n as f64;
        let x = self.x;
        let h = dt / sub as f64;
        let d = 2.0 * k * (1.0 - x) + h;
        let (c0, c1, c2) = (
            ((h - 2.0 * k * x) / d).max(0.0),
            (h + 2.0 * k * x) / d,
            (2.0 * k * (1.0 - x) - h) / d,
        );
        let mut series = inflow.to_vec();
        for _ in 0..n {
            let mut out = Vec::with_capacity(series.len());
            let mut o = series.first().copied().unwrap_or(0.0);
            let mut i_prev = o;
            for (j, &i_next_step) in series.iter().enumerate() {
                let i_start = if j == 0 { i_next_step } else { series[j - 1] };
                for s in 1..=sub {
                    let i = i_start + (i_next_step - i_start) * s as f64 / sub as f64;
                    o = c0 * i + c1 * i_prev + c2 * o;
                    i_prev = i;
                }
                out.push(o);
            }
            series = out;
        }
        series
    }
}

fn hour() -> f64 {
    3600.0
}

/// A catchment's rainfall–runoff model and its parameters.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CatchmentModel {
    /// Xinanjiang (parameters in `[catchments.model.params]`); `initial_wetness` is the
    /// soil's share of its capacity at t = 0.
    Xaj {
        params: XajParams,
        #[serde(default = "wetness")]
        initial_wetness: f64,
    },
    /// SCS curve number (on the catchment's rain so far) and the SCS dimensionless unit
    /// hydrograph with this lag (h).
    ScsUnitHydrograph {
        curve_number: f64,
        #[serde(default = "ia_ratio")]
        ia_ratio: f64,
        lag_h: f64,
    },
}

fn wetness() -> f64 {
    0.6
}

fn ia_ratio() -> f64 {
    0.2
}

/// What a catchment gave.
#[derive(Clone, Debug, Serialize)]
pub struct CatchmentFlow {
    pub name: String,
    pub area_km2: f64,
    /// Totals over the run (mm over the catchment).
    pub rain_mm: f64,
    pub evaporation_mm: f64,
    pub runoff_mm: f64,
    /// What reached the grid during the run (the runoff less what the reach still holds).
    pub delivered_mm: f64,
    /// How the reach was cut: pieces and sub-steps per model step (more pieces than
    /// `subreaches` when the step is shorter than 2Kx, which attenuates the peak less).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reach_pieces_substeps: Option<(usize, usize)>,
    pub peak_m3_s: f64,
    pub peak_time_s: f64,
    #[serde(skip)]
    pub discharge_m3_s: TimeSeries,
    /// The grid cells it enters.
    #[serde(skip)]
    pub cells: Vec<(usize, usize)>,
}

/// The problem with a spec, as (key under the catchment, problem, fix).
pub type SpecProblem = (String, String, String);

impl CatchmentSpec {
    /// Check the numbers that do not need the basin.
    pub fn check(&self, duration_s: f64) -> Result<(), SpecProblem> {
        let problem = |k: &str, p: String, f: &str| Err((k.to_string(), p, f.to_string()));
        if !(self.area_km2.is_finite() && self.area_km2 > 0.0) {
            return problem(
                "area_km2",
                format!("is {}", self.area_km2),
                "give the catchment's area in km², > 0",
            );
        }
        if !(self.step_s.is_finite() && self.step_s > 0.0 && self.step_s <= duration_s) {
            return problem(
                "step_s",
                format!("is {}", self.step_s),
                "give the model's time step in s, > 0 and not longer than the scenario",
            );
        }
        if let Some(r) = &self.reach {
            if !(r.k_h.is_finite() && r.k_h > 0.0) {
                return problem(
                    "reach.k_h",
                    format!("is {}", r.k_h),
                    "give the reach's travel time in hours, > 0",
                );
            }
            if !(0.0..=0.45).contains(&r.x) {
                return problem(
                    "reach.x",
                    format!("is {}", r.x),
                    "give Muskingum's weighting factor between 0 and 0.45 (0.2 is typical; \
                     towards 0.5 the positive-coefficient steps shrink to a point)",
                );
            }
            if r.subreaches == 0 || r.subreaches > 1000 {
                return problem(
                    "reach.subreaches",
                    format!("is {}", r.subreaches),
                    "give 1 to 1000 pieces",
                );
            }
            if r.plan(self.step_s).is_none() {
                return problem(
                    "reach.k_h",
                    format!(
                        "is {} h, which a {} s step would cut into more than {} pieces × sub-steps",
                        r.k_h,
                        self.step_s,
                        MuskingumReach::MAX_WORK
                    ),
                    "give a longer travel time, fewer sub-reaches or a shorter step_s",
                );
            }
        }
        match &self.model {
            CatchmentModel::Xaj {
                params,
                initial_wetness,
            } => {
                if let Some((name, v, what)) = params.check() {
                    return problem(
                        &format!("model.{name}"),
                        format!("is {v}"),
                        &format!("give a value {what}"),
                    );
                }
                if !(0.0..=1.0).contains(initial_wetness) {
                    return problem(
                        "model.initial_wetness",
                        format!("is {initial_wetness}"),
                        "give the soil's share of its capacity at the start, 0–1",
                    );
                }
            }
            CatchmentModel::ScsUnitHydrograph {
                curve_number,
                ia_ratio,
                lag_h,
            } => {
                if !(30.0..=100.0).contains(curve_number) {
                    return problem(
                        "model.curve_number",
                        format!("is {curve_number}"),
                        "curve numbers lie between 30 and 100",
                    );
                }
                if !(0.0..=1.0).contains(ia_ratio) {
                    return problem(
                        "model.ia_ratio",
                        format!("is {ia_ratio}"),
                        "give Ia/S between 0 and 1 (0.2 or 0.05)",
                    );
                }
                if !(lag_h.is_finite() && *lag_h > 0.0) {
                    return problem(
                        "model.lag_h",
                        format!("is {lag_h}"),
                        "give the catchment lag in hours, > 0 (about 0.6 × the time of concentration)",
                    );
                }
            }
        }
        Ok(())
    }
}

/// The SCS dimensionless unit hydrograph, (t/Tp, q/qp) (USDA NRCS NEH-630 ch. 16,
/// table 16-1).
const SCS_UH: [(f64, f64); 33] = [
    (0.0, 0.0),
    (0.1, 0.03),
    (0.2, 0.1),
    (0.3, 0.19),
    (0.4, 0.31),
    (0.5, 0.47),
    (0.6, 0.66),
    (0.7, 0.82),
    (0.8, 0.93),
    (0.9, 0.99),
    (1.0, 1.0),
    (1.1, 0.99),
    (1.2, 0.93),
    (1.3, 0.86),
    (1.4, 0.78),
    (1.5, 0.68),
    (1.6, 0.56),
    (1.7, 0.46),
    (1.8, 0.39),
    (1.9, 0.33),
    (2.0, 0.28),
    (2.2, 0.207),
    (2.4, 0.147),
    (2.6, 0.107),
    (2.8, 0.077),
    (3.0, 0.055),
    (3.2, 0.04),
    (3.4, 0.029),
    (3.6, 0.021),
    (3.8, 0.015),
    (4.0, 0.011),
    (4.5, 0.005),
    (5.0, 0.0),
];

/// The share of a step's runoff leaving in each following step: the SCS unit hydrograph
/// with peak time Tp = step/2 + lag, sampled at step ends and scaled to sum to 1 (so that
/// the volume is kept exactly).
pub fn scs_unit_hydrograph(step_s: f64, lag_h: f64) -> Vec<f64> {
    let tp = step_s / 2.0 + lag_h * 3600.0;
    let at = |x: f64| {
        let k = SCS_UH
            .iter()
            .position(|&(t, _)| t >= x)
            .unwrap_or(SCS_UH.len() - 1);
        if k == 0 {
            return SCS_UH[0].1;
        }
        let ((t0, q0), (t1, q1)) = (SCS_UH[k - 1], SCS_UH[k]);
        if x >= t1 {
            return q1;
        }
        q0 + (q1 - q0) * (x - t0) / (t1 - t0)
    };
    let n = ((5.0 * tp) / step_s).ceil().max(1.0) as usize;
    let raw: Vec<f64> = (1..=n).map(|k| at(k as f64 * step_s / tp)).collect();
    let sum: f64 = raw.iter().sum();
    if sum > 0.0 {
        raw.iter().map(|v| v / sum).collect()
    } else {
        vec![1.0]
    }
}

/// Run a catchment's model from 0 to `duration_s` on its rain (mm/h) and evaporation
/// (mm/day) series.
pub fn simulate(
    spec: &CatchmentSpec,
    duration_s: f64,
    rain: &TimeSeries,
    evaporation: Option<&TimeSeries>,
) -> CatchmentFlow {
    let steps = (duration_s / spec.step_s).ceil().max(1.0) as usize;
    let dt = spec.step_s;
    let forcing: Vec<(f64, f64)> = (0..steps)
        .map(|k| {
            let (t0, t1) = (k as f64 * dt, (k + 1) as f64 * dt);
            let p = rain.integral(t0, t1) / 3600.0;
            let e = evaporation.map_or(0.0, |e| e.integral(t0, t1) / 86_400.0);
            (p.max(0.0), e.max(0.0))
        })
        .collect();
    let rain_mm: f64 = forcing.iter().map(|f| f.0).sum();
    let (depths, evaporation_mm): (Vec<f64>, f64) = match &spec.model {
        CatchmentModel::Xaj {
            params,
            initial_wetness,
        } => {
            let mut st = XajState::initial(params, *initial_wetness);
            let out = crate::xaj::run(params, &mut st, &forcing);
            (
                out.iter().map(|s| s.q).collect(),
                out.iter().map(|s| s.e).sum(),
            )
        }
        CatchmentModel::ScsUnitHydrograph {
            curve_number,
            ia_ratio,
            lag_h,
        } => {
            let s_m = hydro::soil::retention_m(*curve_number);
            let uh = scs_unit_hydrograph(dt, *lag_h);
            let mut out = vec![0.0; steps];
            let mut p_m = 0.0;
            for (k, &(p, _)) in forcing.iter().enumerate() {
                let q0 = hydro::soil::scs_runoff_m(p_m, s_m, *ia_ratio);
                p_m += p * 1e-3;
                let excess_mm = (hydro::soil::scs_runoff_m(p_m, s_m, *ia_ratio) - q0) * 1e3;
                for (j, share) in uh.iter().enumerate() {
                    if let Some(o) = out.get_mut(k + j) {
                        *o += excess_mm * share;
                    }
                }
            }
            (out, 0.0)
        }
    };
    // Depths per step as discharges, routed down the reach when there is one.
    let flows: Vec<f64> = depths
        .iter()
        .map(|&d| discharge_m3_s(d, spec.area_km2, dt))
        .collect();
    let flows = match &spec.reach {
        Some(r) => r.route(&flows, dt),
        None => flows,
    };
    // Held over each step: a point at its start and one just before its end.
    let mut points = Vec::with_capacity(2 * steps + 1);
    let (mut peak, mut peak_t) = (0.0f64, 0.0);
    for (k, &q) in flows.iter().enumerate() {
        let t0 = k as f64 * dt;
        points.push((t0, q));
        // Held to just before the next step (where that instant still exists in f64).
        let t1 = t0 + dt * (1.0 - 1e-9);
        if t1 > t0 && t1 < (k + 1) as f64 * dt {
            points.push((t1, q));
        }
        if q > peak {
            peak = q;
            peak_t = t0 + dt / 2.0;
        }
    }
    CatchmentFlow {
        name: spec.name.clone(),
        area_km2: spec.area_km2,
        rain_mm,
        evaporation_mm,
        runoff_mm: depths.iter().sum(),
        delivered_mm: flows.iter().sum::<f64>() * dt / (spec.area_km2 * 1e3),
        reach_pieces_substeps: spec.reach.and_then(|r| r.plan(dt)),
        peak_m3_s: peak,
        peak_time_s: peak_t,
        discharge_m3_s: TimeSeries::new(points).expect("increasing step times"),
        cells: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unit hydrograph keeps the volume and peaks near Tp.
    /// A triangular flood down a Muskingum reach: the volume out plus what the reach holds
    /// at the end (S = K(xI + (1 − x)O)) equals the volume in; the peak is lower and later.
    #[test]
    fn muskingum_keeps_the_volume_and_attenuates_the_peak() {
        let dt = 1800.0;
        let inflow: Vec<f64> = (0..60)
            .map(|k| {
                let t = k as f64 * 0.5;
                if t < 5.0 {
                    10.0 + 40.0 * t
                } else if t < 15.0 {
                    210.0 - 20.0 * (t - 5.0)
                } else {
                    10.0
                }
            })
            .collect();
        for (reach, sub) in [
            (
                MuskingumReach {
                    k_h: 3.0,
                    x: 0.2,
                    subreaches: 1,
                },
                "one piece",
            ),
            (
                MuskingumReach {
                    k_h: 3.0,
                    x: 0.2,
                    subreaches: 4,
                },
                "four pieces",
            ),
            // K short against the step: steps split so that no coefficient is negative.
            (
                MuskingumReach {
                    k_h: 0.2,
                    x: 0.1,
                    subreaches: 1,
                },
                "short",
            ),
        ] {
            let out = reach.route(&inflow, dt);
            let peak_in = inflow.iter().copied().fold(0.0, f64::max);
            let peak_out = out.iter().copied().fold(0.0, f64::max);
            let t_in = inflow.iter().position(|&q| q == peak_in).expect("peak");
            let t_out = out.iter().position(|&q| q == peak_out).expect("peak");
            assert!(
                peak_out < peak_in && t_out >= t_in,
                "{sub}: {peak_out} at {t_out}"
            );
            // Back at the base flow long after the flood: everything has passed.
            assert!((out[59] - 10.0).abs() < 0.5, "{sub}: {}", out[59]);
        }
        // One piece (2Kx = 1080 s ≤ Δt = 1800 s ≤ 2K(1 − x)): the trapezoidal volume
        // balance of the Muskingum recursion, Σ(I − O)Δt = ΔS with S = K(xI + (1 − x)O).
        let reach = MuskingumReach {
            k_h: 3.0,
            x: 0.05,
            subreaches: 1,
        };
        assert_eq!(reach.plan(dt), Some((1, 1)));
        let out = reach.route(&inflow, dt);
        let k = 3.0 * 3600.0;
        let storage = |i: f64, o: f64| k * (0.05 * i + 0.95 * o);
        let mut balance = 0.0;
        for j in 1..inflow.len() {
            balance += 0.5 * (inflow[j] + inflow[j - 1] - out[j] - out[j - 1]) * dt;
        }
        let ds = storage(inflow[59], out[59]) - storage(inflow[0], out[0]);
        let volume: f64 = inflow.iter().sum::<f64>() * dt;
        assert!((balance - ds).abs() < 1e-9 * volume, "{balance} vs {ds}");
    }

    /// A step shorter than 2Kx would make C0 negative and the outflow dip below zero
    /// (then a sink in the grid): the reach is cut into more pieces instead.
    #[test]
    fn a_long_reach_never_gives_a_negative_outflow() {
        let reach = MuskingumReach {
            k_h: 3.0,
            x: 0.2,
            subreaches: 1,
        };
        assert_eq!(reach.plan(3600.0), Some((2, 1)));
        let inflow: Vec<f64> = (0..40).map(|k| if k == 3 { 100.0 } else { 0.0 }).collect();
        let out = reach.route(&inflow, 3600.0);
        assert!(out.iter().all(|&q| q >= 0.0), "{out:?}");
        assert!(out.iter().copied().fold(0.0, f64::max) < 100.0);
        // Too fine a cut for the step is refused (None), not left to hang.
        let tiny = MuskingumReach {
            k_h: 1e-4,
            x: 0.2,
            subreaches: 1000,
        };
        assert_eq!(tiny.plan(3600.0), None);
    }

    #[test]
    fn the_scs_unit_hydrograph_keeps_the_volume_and_peaks_at_tp() {
        let uh = scs_unit_hydrograph(600.0, 1.0);
        assert!((uh.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let peak = uh
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, _)| k)
            .expect("ordinates");
        // Tp = 300 s + 3600 s = 3900 s: the step ending at 3600 s or 4200 s.
        assert!((5..=6).contains(&peak), "{peak}");
        assert_eq!(uh.len(), 33, "5 Tp / 600 s, rounded up");
    }
}
