//! `rivertwin compare A B`: what one way of running a flood saves against another. Two
//! result folders of the same basin (e.g. a reservoir operated under its release rule and
//! the same flood with the gates held shut, or a detention area opened and kept closed)
//! are set side by side: each gauge's peak level and its time, the flooded area, and each
//! detention area's storage with the peak reduction at the gauge it protects.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::{BasinError, Result};

/// Depth above which a cell counts as flooded in the area figures (m). The usual
/// nuisance threshold of flood maps (e.g. 0.1 m in the UK Environment Agency's and
/// Australian Rainfall and Runoff's hazard mapping).
pub const FLOODED_DEPTH_M: f64 = 0.1;

/// One gauge in both runs.
#[derive(Clone, Debug, Serialize)]
pub struct GaugeDelta {
    pub name: String,
    pub peak_level_a_m: f64,
    pub peak_level_b_m: f64,
    /// A − B (m): negative where A's peak is lower.
    pub peak_level_change_m: f64,
    pub peak_time_a_s: f64,
    pub peak_time_b_s: f64,
}

/// A detention area of either run and the gauge it protects.
#[derive(Clone, Debug, Serialize)]
pub struct DetentionDelta {
    pub name: String,
    /// The run that has it opened ("A" or "B"), or both.
    pub in_run: String,
    pub opened_at_s: Option<f64>,
    pub peak_stored_m3: f64,
    pub downstream_gauge: Option<String>,
    /// How much lower the downstream gauge's peak is in the run where the area was opened
    /// than in the other (m); positive when the area lowered it. None for an area never
    /// opened.
    pub peak_reduction_m: Option<f64>,
}

/// The comparison of two runs.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub a: PathBuf,
    pub b: PathBuf,
    pub basin: String,
    pub scenario_a: String,
    pub scenario_b: String,
    pub gauges: Vec<GaugeDelta>,
    /// Cells whose maximum depth exceeds [`FLOODED_DEPTH_M`] (km²).
    pub flooded_area_a_km2: f64,
    pub flooded_area_b_km2: f64,
    /// Flooded in A but not in B, and in B but not in A (km²).
    pub flooded_only_a_km2: f64,
    pub flooded_only_b_km2: f64,
    pub detention_areas: Vec<DetentionDelta>,
}

fn summary(dir: &Path) -> Result<Value> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path).map_err(|cause| BasinError::Io {
        path: path.clone(),
        cause,
        fix: "give a results folder written by `rivertwin run` or `forecast`",
    })?;
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        BasinError::invalid(
            &path,
            "summary.json",
            format!("is not valid JSON ({e})"),
            "run the scenario again to rewrite its results",
        )
    })?;
    if value.get("gauges").and_then(Value::as_array).is_none() {
        return Err(BasinError::invalid(
            &path,
            "gauges",
            "is missing (results written by an older rivertwin)".to_string(),
            "run the scenario again to rewrite its results",
        ));
    }
    Ok(value)
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// Compare the results in folders `a` and `b` (same basin and grid).
pub fn compare(a: &Path, b: &Path) -> Result<Comparison> {
    let (sa, sb) = (summary(a)?, summary(b)?);
    let basin = text(&sa, "basin");
    if basin != text(&sb, "basin")
        || sa.get("rows") != sb.get("rows")
        || sa.get("cols") != sb.get("cols")
    {
        return Err(BasinError::invalid(
            b.join("summary.json"),
            "basin",
            format!(
                "is `{}` ({} × {} cells) but {} is of `{basin}` ({} × {} cells)",
                text(&sb, "basin"),
                sb["rows"],
                sb["cols"],
                a.display(),
                sa["rows"],
                sa["cols"],
            ),
            "compare two runs of the same basin",
        ));
    }
    let peaks = |s: &Value| -> Vec<(String, f64, f64)> {
        s["gauges"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                (
                    text(g, "name"),
                    number(g, "peak_level_m").unwrap_or(f64::NAN),
                    number(g, "peak_time_s").unwrap_or(f64::NAN),
                )
            })
            .collect()
    };
    let (pa, pb) = (peaks(&sa), peaks(&sb));
    let gauges: Vec<GaugeDelta> = pa
        .iter()
        .filter_map(|(name, la, ta)| {
            let (_, lb, tb) = pb.iter().find(|(n, _, _)| n == name)?;
            Some(GaugeDelta {
                name: name.clone(),
                peak_level_a_m: *la,
                peak_level_b_m: *lb,
                peak_level_change_m: la - lb,
                peak_time_a_s: *ta,
                peak_time_b_s: *tb,
            })
        })
        .collect();

    let depth_a = crate::raster::read_raster(&a.join("max_depth_m.tif"))?;
    let depth_b = crate::raster::read_raster(&b.join("max_depth_m.tif"))?;
    let cell_km2 = depth_a.grid.cell_size_x() * depth_a.grid.cell_size_y() / 1e6;
    let (mut area_a, mut area_b, mut only_a, mut only_b) = (0usize, 0usize, 0usize, 0usize);
    for (&da, &db) in depth_a.data.iter().zip(depth_b.data.iter()) {
        // NaN (nodata) compares false: such a cell is flooded in neither.
        let (fa, fb) = (da > FLOODED_DEPTH_M, db > FLOODED_DEPTH_M);
        area_a += usize::from(fa);
        area_b += usize::from(fb);
        only_a += usize::from(fa && !fb);
        only_b += usize::from(fb && !fa);
    }

    let mut detention_areas = Vec::new();
    for (label, this, own, other) in [("A", &sa, &pa, &pb), ("B", &sb, &pb, &pa)] {
        for d in this
            .get("detention_areas")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let name = text(d, "name");
            let opened_at_s = number(d, "opened_at_s");
            let downstream = d
                .get("downstream_gauge")
                .and_then(Value::as_str)
                .map(str::to_string);
            let level = |list: &[(String, f64, f64)], g: &str| {
                list.iter().find(|(n, _, _)| n == g).map(|(_, l, _)| *l)
            };
            // Only an area that was opened can have lowered anything.
            let peak_reduction_m = downstream
                .as_deref()
                .filter(|_| opened_at_s.is_some())
                .and_then(|g| {
                    let with = level(own, g)?;
                    let without = level(other, g)?;
                    Some(without - with)
                });
            detention_areas.push(DetentionDelta {
                name,
                in_run: label.to_string(),
                opened_at_s,
                peak_stored_m3: number(d, "peak_stored_m3").unwrap_or(0.0),
                downstream_gauge: downstream,
                peak_reduction_m,
            });
        }
    }
    Ok(Comparison {
        a: a.to_path_buf(),
        b: b.to_path_buf(),
        basin,
        scenario_a: text(&sa, "scenario"),
        scenario_b: text(&sb, "scenario"),
        gauges,
        flooded_area_a_km2: area_a as f64 * cell_km2,
        flooded_area_b_km2: area_b as f64 * cell_km2,
        flooded_only_a_km2: only_a as f64 * cell_km2,
        flooded_only_b_km2: only_b as f64 * cell_km2,
        detention_areas,
    })
}

impl Comparison {
    /// The comparison as a table for the terminal.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{}: A = {} ({}), B = {} ({})\n\n",
            self.basin,
            self.scenario_a,
            self.a.display(),
            self.scenario_b,
            self.b.display()
        );
        out += &format!(
            "{:<20} {:>12} {:>12} {:>9} {:>10} {:>10}\n",
            "gauge", "peak A (m)", "peak B (m)", "A−B (m)", "at A (h)", "at B (h)"
        );
        for g in &self.gauges {
            out += &format!(
                "{:<20} {:>12.3} {:>12.3} {:>+9.3} {:>10.2} {:>10.2}\n",
                g.name,
                g.peak_level_a_m,
                g.peak_level_b_m,
                g.peak_level_change_m,
                g.peak_time_a_s / 3600.0,
                g.peak_time_b_s / 3600.0
            );
        }
        out += &format!(
            "\nflooded (max depth > {FLOODED_DEPTH_M} m): A {:.3} km², B {:.3} km² \
             (only in A {:.3} km², only in B {:.3} km²)\n",
            self.flooded_area_a_km2,
            self.flooded_area_b_km2,
            self.flooded_only_a_km2,
            self.flooded_only_b_km2
        );
        for d in &self.detention_areas {
            out += &format!(
                "detention area {} (run {}): {}, held at most {:.0} m³",
                d.name,
                d.in_run,
                d.opened_at_s
                    .map_or("never opened".to_string(), |t| format!(
                        "opened at {:.2} h",
                        t / 3600.0
                    )),
                d.peak_stored_m3
            );
            if let (Some(g), Some(r)) = (&d.downstream_gauge, d.peak_reduction_m) {
                out += &format!("; peak at {g} lowered by {r:.3} m against the other run");
            }
            out += "\n";
        }
        out
    }
}
