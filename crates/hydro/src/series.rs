//! Piecewise-linear time series: hyetographs, hydrographs, stage records.

use serde::{Deserialize, Serialize};

use crate::SolverError;

/// Values at strictly increasing times, linear in between and held constant before the
/// first and after the last point (end a hydrograph with a zero to stop it).
///
/// In TOML or JSON it is a list of `[time_s, value]` pairs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(f64, f64)>", into = "Vec<(f64, f64)>")]
pub struct TimeSeries {
    times_s: Vec<f64>,
    values: Vec<f64>,
}

impl TimeSeries {
    /// A series from `(time_s, value)` points: at least one, finite, times strictly
    /// increasing.
    pub fn new(points: Vec<(f64, f64)>) -> Result<Self, SolverError> {
        if points.is_empty() {
            return Err(SolverError::InvalidSeries {
                reason: "a time series needs at least one [time_s, value] point".into(),
            });
        }
        for (i, &(t, v)) in points.iter().enumerate() {
            if !t.is_finite() || !v.is_finite() {
                return Err(SolverError::InvalidSeries {
                    reason: format!("point {i} ([{t}, {v}]) is not finite"),
                });
            }
            if i > 0 && t <= points[i - 1].0 {
                return Err(SolverError::InvalidSeries {
                    reason: format!(
                        "times must increase strictly: point {i} at {t} s comes after {} s; \
                         sort the points by time and remove duplicates",
                        points[i - 1].0
                    ),
                });
            }
        }
        let (times_s, values) = points.into_iter().unzip();
        Ok(Self { times_s, values })
    }

    /// The same value at all times.
    pub fn constant(value: f64) -> Result<Self, SolverError> {
        Self::new(vec![(0.0, value)])
    }

    /// Refuse negative values (rain, discharge that must flow in): `name` and `unit`
    /// go into the message.
    pub fn require_non_negative(&self, name: &'static str) -> Result<(), SolverError> {
        match self.values.iter().position(|&v| v < 0.0) {
            Some(i) => Err(SolverError::InvalidParameter {
                name,
                value: self.values[i],
                expected: "values ≥ 0 at every time of the series",
            }),
            None => Ok(()),
        }
    }

    pub fn points(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.times_s
            .iter()
            .copied()
            .zip(self.values.iter().copied())
    }

    pub fn max_value(&self) -> f64 {
        self.values
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// Value at time `t_s`.
    pub fn value_at(&self, t_s: f64) -> f64 {
        let (ts, vs) = (&self.times_s, &self.values);
        if t_s <= ts[0] {
            return vs[0];
        }
        let last = ts.len() - 1;
        if t_s >= ts[last] {
            return vs[last];
        }
        let i = ts.partition_point(|&t| t <= t_s) - 1;
        let w = (t_s - ts[i]) / (ts[i + 1] - ts[i]);
        vs[i] + w * (vs[i + 1] - vs[i])
    }

    /// Exact integral of the series from `t0_s` to `t1_s` (value × s).
    pub fn integral(&self, t0_s: f64, t1_s: f64) -> f64 {
        if t1_s <= t0_s {
            return 0.0;
        }
        // Breakpoints inside (t0, t1) split the interval into linear pieces; the
        // trapezoid rule is exact on each.
        let mut total = 0.0;
        let mut a = t0_s;
        let mut va = self.value_at(t0_s);
        let start = self.times_s.partition_point(|&t| t <= t0_s);
        for &t in self.times_s[start..].iter().take_while(|&&t| t < t1_s) {
            let vt = self.value_at(t);
            total += 0.5 * (va + vt) * (t - a);
            a = t;
            va = vt;
        }
        total + 0.5 * (va + self.value_at(t1_s)) * (t1_s - a)
    }

    /// Mean value over `[t0_s, t1_s]`.
    pub fn mean(&self, t0_s: f64, t1_s: f64) -> f64 {
        if t1_s > t0_s {
            self.integral(t0_s, t1_s) / (t1_s - t0_s)
        } else {
            self.value_at(t0_s)
        }
    }
}

impl TryFrom<Vec<(f64, f64)>> for TimeSeries {
    type Error = SolverError;

    fn try_from(points: Vec<(f64, f64)>) -> Result<Self, Self::Error> {
        Self::new(points)
    }
}

impl From<TimeSeries> for Vec<(f64, f64)> {
    fn from(series: TimeSeries) -> Self {
        series.points().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triangle() -> TimeSeries {
        TimeSeries::new(vec![(0.0, 0.0), (10.0, 4.0), (30.0, 0.0)]).expect("valid")
    }

    #[test]
    fn interpolates_and_holds_the_ends() {
        let s = triangle();
        assert_eq!(s.value_at(-5.0), 0.0);
        assert_eq!(s.value_at(5.0), 2.0);
        assert_eq!(s.value_at(20.0), 2.0);
        assert_eq!(s.value_at(99.0), 0.0);
    }

    #[test]
    fn integral_is_exact_across_breakpoints() {
        let s = triangle();
        assert!((s.integral(0.0, 30.0) - 60.0).abs() < 1e-12);
        assert!((s.integral(5.0, 20.0) - (15.0 + 30.0)).abs() < 1e-12);
        // Summing many short pieces gives the same total.
        let pieces: f64 = (0..300)
            .map(|i| s.integral(i as f64 * 0.1, (i + 1) as f64 * 0.1))
            .sum();
        assert!((pieces - 60.0).abs() < 1e-10);
        let held = TimeSeries::constant(2.5).expect("valid");
        assert_eq!(held.integral(100.0, 104.0), 10.0);
    }

    #[test]
    fn refuses_unsorted_duplicate_and_non_finite_points() {
        let e = TimeSeries::new(vec![(0.0, 1.0), (10.0, 2.0), (5.0, 3.0)]).expect_err("unsorted");
        assert!(e.to_string().contains("increase strictly"), "{e}");
        assert!(TimeSeries::new(vec![(0.0, 1.0), (0.0, 2.0)]).is_err());
        assert!(TimeSeries::new(vec![(0.0, f64::NAN)]).is_err());
        assert!(TimeSeries::new(vec![]).is_err());
        let negative = TimeSeries::new(vec![(0.0, 1.0), (5.0, -2.0)]).expect("valid series");
        assert!(negative.require_non_negative("rain_mm_per_h").is_err());
    }

    #[test]
    fn reads_pairs_from_toml_style_data() {
        #[derive(Deserialize)]
        struct Wrapper {
            q: TimeSeries,
        }
        let w: Wrapper = serde_json::from_str(r#"{"q": [[0, 0], [60, 5.5]]}"#).expect("parses");
        assert_eq!(w.q.value_at(30.0), 2.75);
        let bad = serde_json::from_str::<Wrapper>(r#"{"q": [[60, 0], [0, 5.5]]}"#);
        assert!(bad.is_err());
    }
}
