//! Flood hazard classes from depth and speed. The thresholds are data
//! (`data/hazard.toml`), not code: ARR (Australian Rainfall & Runoff 2019, Book 6 ch. 7;
//! NSW FB03) class limits and the UK hazard rating (Defra/EA FD2320), applied by `hydro`.

use hydro::{ArrClass, EnvelopeSpec, HazardRule, UkRating};
use serde::Deserialize;

use crate::config::HazardMethod;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardTables {
    /// Depth below which a cell is not flooded for hazard purposes (m).
    pub wet_depth_m: f64,
    pub arr: Vec<ArrClass>,
    pub uk: UkRating,
}

impl HazardTables {
    /// The tables shipped with rivertwin.
    pub fn bundled() -> Self {
        toml::from_str(include_str!("../data/hazard.toml"))
            .expect("data/hazard.toml is valid (tested)")
    }

    /// Class of a cell (0: dry) under `method`.
    pub fn classify(&self, method: HazardMethod, depth_m: f64, speed_m_s: f64) -> u8 {
        if depth_m.is_nan() || depth_m <= self.wet_depth_m {
            return 0;
        }
        match method {
            HazardMethod::Arr => hydro::arr_class(&self.arr, depth_m, speed_m_s),
            HazardMethod::Uk => self.uk.class(depth_m, speed_m_s),
        }
    }

    /// What the solver needs to track envelopes under `method`.
    pub fn envelope_spec(&self, method: HazardMethod) -> EnvelopeSpec {
        EnvelopeSpec {
            wet_depth_m: self.wet_depth_m,
            hazard: match method {
                HazardMethod::Arr => HazardRule::Arr(self.arr.clone()),
                HazardMethod::Uk => HazardRule::Uk(self.uk.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arr_classes_follow_the_published_limits() {
        let t = HazardTables::bundled();
        let c = |d, v| t.classify(HazardMethod::Arr, d, v);
        assert_eq!(c(0.0, 0.0), 0);
        assert_eq!(c(0.2, 0.5), 1); // shallow and slow: H1
        assert_eq!(c(0.4, 0.5), 2); // D ≤ 0.5, DV ≤ 0.6: H2
        assert_eq!(c(1.0, 0.3), 3); // D ≤ 1.2: H3
        assert_eq!(c(1.8, 0.5), 4); // D ≤ 2.0, DV ≤ 1.0: H4
        assert_eq!(c(3.0, 1.0), 5); // D ≤ 4.0, DV ≤ 4.0: H5
        assert_eq!(c(5.0, 0.1), 6); // deeper than 4 m: H6
        assert_eq!(c(0.2, 2.5), 5); // shallow but faster than 2 m/s: H5
    }

    #[test]
    fn uk_rating_uses_depth_speed_and_debris() {
        let t = HazardTables::bundled();
        // d = 0.2, v = 0.5: HR = 0.2 (no debris below 0.25 m) → class 1 (low, < 0.75).
        assert_eq!(t.classify(HazardMethod::Uk, 0.2, 0.5), 1);
        // d = 1.0, v = 1.5: HR = 2.0 + 1.0 = 3.0 → class 4 (extreme, > 2.0).
        assert_eq!(t.classify(HazardMethod::Uk, 1.0, 1.5), 4);
    }
}
