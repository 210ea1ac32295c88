//! The Xinanjiang model (Zhao Renjun 1980, 1992 "The Xinanjiang model applied in China",
//! J. Hydrology 135, 371–381): a lumped rainfall–runoff model for humid catchments, the
//! standard of Chinese flood forecasting. Per time step, in mm over the catchment:
//!
//! 1. **Evaporation** from three soil layers (upper WU ≤ UM, lower WL ≤ LM, deep WD ≤ DM):
//!    the upper layer evaporates at the potential rate EP = K·E; once it is empty the
//!    lower layer at EP·WL/LM (or C·EP when WL < C·LM), then the deep layer.
//! 2. **Runoff generation** by saturation excess on the tension-water capacity curve
//!    (exponent B, mean capacity WM = UM + LM + DM): with A the curve ordinate of the
//!    storage W, R = PE − (WM − W) + WM·(1 − (PE + A)/WMM)^(1+B) while PE + A < WMM, else
//!    PE − (WM − W). The impervious share IM turns its PE straight into surface runoff.
//! 3. **Source separation** by the free-water capacity curve (SM, EX) over the runoff area
//!    FR = R/PE: surface runoff RS, interflow RI = KI·S·FR, groundwater RG = KG·S·FR
//!    (the formulas of Bao Weimin's *Hydrological Forecasting*, as hydromodel's "HF").
//!    Where the runoff area shrinks and concentrates free water above SM, the excess joins
//!    the surface runoff (so that no water is lost).
//! 4. **Routing**: interflow and groundwater through linear reservoirs (CI, CG); their sum
//!    with the surface runoff lagged by L steps through a linear reservoir CS. A linear
//!    reservoir Q_t = C·Q_{t−1} + (1 − C)·I_t holds Q_t·C/(1 − C), so its storage is
//!    known and the model's water balance closes to round-off:
//!    P − E − Q − Δ(storages) = 0.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Parameters (mm, dimensionless coefficients per time step).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct XajParams {
    /// Ratio of potential evaporation to the input evaporation series (0.6–1.5).
    pub k: f64,
    /// Exponent of the tension-water capacity curve (0.1–0.4).
    pub b: f64,
    /// Impervious share of the catchment (0–0.1).
    pub im: f64,
    /// Tension-water capacities of the upper, lower and deep layers (mm; 5–20, 60–90,
    /// 15–60).
    pub um: f64,
    pub lm: f64,
    pub dm: f64,
    /// Deep-layer evaporation coefficient (0.1–0.2).
    pub c: f64,
    /// Free-water capacity (mm, 10–50) and the exponent of its curve (1–1.5).
    pub sm: f64,
    pub ex: f64,
    /// Outflow coefficients of free water to interflow and groundwater per step
    /// (KI + KG < 1; daily 0.7 in sum).
    pub ki: f64,
    pub kg: f64,
    /// Recession constants of the interflow and groundwater reservoirs and of the
    /// channel (0–1, per step).
    pub ci: f64,
    pub cg: f64,
    pub cs: f64,
    /// Lag of the channel routing, in steps.
    #[serde(default)]
    pub lag_steps: usize,
}

impl XajParams {
    /// The first parameter outside its physical range, as (name, value, what it must be).
    pub fn check(&self) -> Option<(&'static str, f64, &'static str)> {
        let unit = |v: f64| (0.0..=1.0).contains(&v);
        let checks: [(&'static str, f64, bool, &'static str); 14] = [
            ("k", self.k, self.k > 0.0 && self.k.is_finite(), "> 0"),
            ("b", self.b, self.b >= 0.0 && self.b.is_finite(), "≥ 0"),
            ("im", self.im, unit(self.im), "between 0 and 1"),
            (
                "um",
                self.um,
                self.um > 0.0 && self.um.is_finite(),
                "> 0 mm",
            ),
            (
                "lm",
                self.lm,
                self.lm > 0.0 && self.lm.is_finite(),
                "> 0 mm",
            ),
            (
                "dm",
                self.dm,
                self.dm >= 0.0 && self.dm.is_finite(),
                "≥ 0 mm",
            ),
            ("c", self.c, unit(self.c), "between 0 and 1"),
            (
                "sm",
                self.sm,
                self.sm > 0.0 && self.sm.is_finite(),
                "> 0 mm",
            ),
            ("ex", self.ex, self.ex >= 0.0 && self.ex.is_finite(), "≥ 0"),
            ("ki", self.ki, unit(self.ki), "between 0 and 1"),
            (
                "kg",
                self.kg,
                unit(self.kg) && self.ki + self.kg < 1.0,
                "between 0 and 1, with ki + kg < 1",
            ),
            ("ci", self.ci, (0.0..1.0).contains(&self.ci), "in [0, 1)"),
            ("cg", self.cg, (0.0..1.0).contains(&self.cg), "in [0, 1)"),
            ("cs", self.cs, (0.0..1.0).contains(&self.cs), "in [0, 1)"),
        ];
        checks
            .into_iter()
            .find(|(_, _, ok, _)| !ok)
            .map(|(n, v, _, what)| (n, v, what))
    }

    pub fn wm(&self) -> f64 {
        self.um + self.lm + self.dm
    }
}

/// The model's state (mm).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct XajState {
    pub wu: f64,
    pub wl: f64,
    pub wd: f64,
    /// Free water per unit of runoff area, and that area's share.
    pub s: f64,
    pub fr: f64,
    /// Outflows of the interflow, groundwater and channel reservoirs (mm per step).
    pub qi: f64,
    pub qg: f64,
    pub qs: f64,
    /// Channel inflows waiting out the lag, oldest first.
    pub lagged: VecDeque<f64>,
}

impl XajState {
    /// A start with the soil `wetness` (0–1) of its capacity in every layer, free water
    /// at half its capacity over a tenth of the area, and empty reservoirs.
    pub fn initial(p: &XajParams, wetness: f64) -> Self {
        let w = wetness.clamp(0.0, 1.0);
        Self {
            wu: w * p.um,
            wl: w * p.lm,
            wd: w * p.dm,
            s: 0.5 * p.sm,
            fr: 0.1,
            qi: 0.0,
            qg: 0.0,
            qs: 0.0,
            lagged: std::iter::repeat_n(0.0, p.lag_steps).collect(),
        }
    }

    /// Water held (mm over the catchment): soil and free water on the pervious share,
    /// and what the routing holds.
    pub fn storage_mm(&self, p: &XajParams) -> f64 {
        let linear = |q: f64, c: f64| q * c / (1.0 - c);
        (1.0 - p.im) * (self.wu + self.wl + self.wd + self.s * self.fr)
            + linear(self.qi, p.ci)
            + linear(self.qg, p.cg)
            + linear(self.qs, p.cs)
            + self.lagged.iter().sum::<f64>()
    }
}

/// What one step did (mm over the catchment unless said).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct XajStep {
    /// Actual evaporation.
    pub e: f64,
    /// Net rain P − E on the pervious share (mm over it).
    pub pe: f64,
    /// Runoff generated on the pervious share (mm over it).
    pub r: f64,
    /// Surface, interflow and groundwater runoff over the catchment (impervious runoff in
    /// the surface share).
    pub rs: f64,
    pub ri: f64,
    pub rg: f64,
    /// Outflow of the catchment this step.
    pub q: f64,
}

/// The runoff R (mm) of net rain `pe` on soil holding `w` of capacity `wm` (curve `b`).
pub fn saturation_excess(pe: f64, w: f64, wm: f64, b: f64) -> f64 {
    if pe <= 0.0 {
        return 0.0;
    }
    let w = w.min(wm);
    let wmm = wm * (1.0 + b);
    let a = wmm * (1.0 - (1.0 - w / wm).powf(1.0 / (1.0 + b)));
    let r = if pe + a < wmm {
        pe - (wm - w) + wm * (1.0 - (pe + a) / wmm).powf(1.0 + b)
    } else {
        pe - (wm - w)
    };
    r.clamp(0.0, pe)
}

/// One step of `p` mm of rain and `e_input` mm of (pan or reference) evaporation.
pub fn step(par: &XajParams, st: &mut XajState, p: f64, e_input: f64) -> XajStep {
    let p = p.max(0.0);
    let ep = (par.k * e_input).max(0.0);
    // 1. Evaporation, three layers.
    let (eu, el, ed) = if st.wu + p >= ep {
        (ep, 0.0, 0.0)
    } else {
        let eu = st.wu + p;
        let rest = ep - eu;
        if st.wl >= par.c * par.lm {
            (eu, (rest * st.wl / par.lm).min(st.wl), 0.0)
        } else if st.wl >= par.c * rest {
            (eu, par.c * rest, 0.0)
        } else {
            (eu, st.wl, (par.c * rest - st.wl).clamp(0.0, st.wd))
        }
    };
    let e = eu + el + ed;
    let pe = p - e;
    // 2. Generation on the pervious share, and the soil layers after it.
    let wm = par.wm();
    let w0 = st.wu + st.wl + st.wd;
    let mut r = saturation_excess(pe, w0, wm, par.b);
    if pe > 0.0 {
        let mut add = pe - r;
        // Round-off must not overfill the soil: what does not fit runs off.
        let room = (wm - w0).max(0.0);
        if add > room {
            r += add - room;
            add = room;
        }
        let to_upper = add.min(par.um - st.wu).max(0.0);
        st.wu += to_upper;
        let to_lower = (add - to_upper).min(par.lm - st.wl).max(0.0);
        st.wl += to_lower;
        st.wd += add - to_upper - to_lower;
    } else {
        st.wu = (st.wu + p - eu).max(0.0);
        st.wl -= el;
        st.wd -= ed;
    }
    // 3. Sources, over the runoff area FR (HF formulas).
    let ms = par.sm * (1.0 + par.ex);
    let mut rs = 0.0;
    if r > 0.0 {
        let fr = (r / pe).min(1.0);
        let mut ss = st.fr * st.s / fr;
        if ss > par.sm {
            // The runoff area shrank: free water above capacity runs off at the surface.
            rs += (ss - par.sm) * fr;
            ss = par.sm;
        }
        let au = ms * (1.0 - (1.0 - ss / par.sm).powf(1.0 / (1.0 + par.ex)));
        let surface = if pe + au < ms {
            fr * (pe - par.sm + ss + par.sm * (1.0 - (pe + au) / ms).powf(1.0 + par.ex))
        } else {
            fr * (pe + ss - par.sm)
        };
        let surface = surface.clamp(0.0, r);
        rs += surface;
        st.s = ss + (r - surface) / fr;
        st.fr = fr;
    }
    let ri = par.ki * st.s * st.fr;
    let rg = par.kg * st.s * st.fr;
    st.s *= 1.0 - par.ki - par.kg;
    // Over the catchment: the pervious share's runoff, and the impervious share's net rain
    // (on it, evaporation takes only the rain there is).
    let perv = 1.0 - par.im;
    let rs = perv * rs + par.im * pe.max(0.0);
    let (ri, rg) = (perv * ri, perv * rg);
    let e_total = perv * e + par.im * e.min(p);
    // 4. Routing.
    st.qi = par.ci * st.qi + (1.0 - par.ci) * ri;
    st.qg = par.cg * st.qg + (1.0 - par.cg) * rg;
    let inflow = rs + st.qi + st.qg;
    let lagged = if par.lag_steps == 0 {
        inflow
    } else {
        st.lagged.push_back(inflow);
        st.lagged.pop_front().unwrap_or(0.0)
    };
    st.qs = par.cs * st.qs + (1.0 - par.cs) * lagged;
    XajStep {
        e: e_total,
        pe,
        r,
        rs,
        ri,
        rg,
        q: st.qs,
    }
}

/// Run a series: per step (rain mm, evaporation mm) → the steps.
pub fn run(par: &XajParams, st: &mut XajState, forcing: &[(f64, f64)]) -> Vec<XajStep> {
    forcing.iter().map(|&(p, e)| step(par, st, p, e)).collect()
}

/// A depth per step (mm) as a discharge (m³/s) from `area_km2` over steps of `step_s`.
pub fn discharge_m3_s(depth_mm: f64, area_km2: f64, step_s: f64) -> f64 {
    depth_mm * 1e-3 * area_km2 * 1e6 / step_s
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn params() -> XajParams {
        XajParams {
            k: 0.9,
            b: 0.3,
            im: 0.02,
            um: 15.0,
            lm: 75.0,
            dm: 40.0,
            c: 0.15,
            sm: 30.0,
            ex: 1.2,
            ki: 0.35,
            kg: 0.3,
            ci: 0.8,
            cg: 0.97,
            cs: 0.6,
            lag_steps: 2,
        }
    }

    /// Rain − evaporation − outflow − Δstorage = 0 to round-off over a long wet-and-dry
    /// series, whatever the state went through (dry spells empty the upper and lower
    /// layers; storms fill the soil and the free water).
    #[test]
    fn the_water_balance_closes() {
        let par = params();
        let mut st = XajState::initial(&par, 0.5);
        let before = st.storage_mm(&par);
        let (mut rain, mut evap, mut out) = (0.0, 0.0, 0.0);
        for day in 0..730 {
            let p = match day % 37 {
                0 => 120.0,
                1 => 60.0,
                2..=4 => 15.0,
                _ if day % 5 == 0 => 3.0,
                _ => 0.0,
            };
            let e = 2.0 + 3.0 * ((day as f64) * std::f64::consts::TAU / 365.0).sin().abs();
            let s = step(&par, &mut st, p, e);
            rain += p;
            evap += s.e;
            out += s.q;
            assert!(st.wu >= 0.0 && st.wu <= par.um + 1e-9, "{st:?}");
            assert!(st.wl >= -1e-12 && st.wl <= par.lm + 1e-9, "{st:?}");
            assert!(st.wd >= -1e-12 && st.wd <= par.dm + 1e-9, "{st:?}");
            assert!(st.s >= 0.0 && st.s <= par.sm + 1e-9, "{st:?}");
        }
        let residual = rain - evap - out - (st.storage_mm(&par) - before);
        assert!(
            residual.abs() < 1e-9 * rain,
            "residual {residual} mm of {rain} mm"
        );
        assert!(
            out > 0.2 * rain && evap > 0.2 * rain,
            "out {out}, evap {evap}"
        );
    }

    /// A saturated catchment passes all net rain as runoff; a dry one keeps a small rain.
    #[test]
    fn saturation_excess_limits() {
        assert_eq!(saturation_excess(10.0, 130.0, 130.0, 0.3), 10.0);
        // Dry soil: only the least retentive sliver of the curve runs off (0.07 %).
        assert!(saturation_excess(1.0, 0.0, 130.0, 0.3) < 1e-3);
        // Monotone in the rain.
        let mut last = 0.0;
        for pe in [1.0, 5.0, 20.0, 80.0, 200.0] {
            let r = saturation_excess(pe, 60.0, 130.0, 0.3);
            assert!(r >= last && r <= pe);
            last = r;
        }
    }
}
