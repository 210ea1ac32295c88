//! The on-disk formats: `basin.toml` and scenario files (see docs/basin-format.md).
//! Unknown keys are rejected; toml's errors carry the line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hydro::TimeSeries;
use serde::{Deserialize, Serialize};

use crate::error::{BasinError, Result};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasinFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub dem: PathBuf,
    #[serde(default)]
    pub default_scenario: Option<String>,
    pub roughness: Roughness,
    #[serde(default)]
    pub initial_water: Option<InitialWater>,
    #[serde(default)]
    pub losses: Option<LossParams>,
    #[serde(default)]
    pub gauges: Vec<GaugeSpec>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Roughness {
    Constant {
        constant: f64,
    },
    Raster {
        raster: PathBuf,
    },
    LandCover {
        landcover: PathBuf,
        table: BTreeMap<String, f64>,
    },
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum InitialWater {
    Level { level_m: f64 },
    Depth { depth_raster: PathBuf },
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossParams {
    pub initial_mm: f64,
    pub continuing_mm_per_h: f64,
    #[serde(default)]
    pub capacity_mm: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GaugeSpec {
    pub name: String,
    pub x: f64,
    pub y: f64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration_s: f64,
    pub output_interval_s: f64,
    #[serde(default)]
    pub depth_snapshots: bool,
    #[serde(default)]
    pub hazard: HazardMethod,
    #[serde(default)]
    pub solver: hydro::SolverParams,
    #[serde(default)]
    pub rain: Option<RainSpec>,
    #[serde(default)]
    pub boundaries: Vec<BoundarySpec>,
    #[serde(default)]
    pub point_sources: Vec<PointSourceSpec>,
    #[serde(default)]
    pub breaches: Vec<BreachSpec>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HazardMethod {
    /// Australian Rainfall & Runoff / NSW FB03 classes H1–H6.
    #[default]
    Arr,
    /// UK flood hazard rating HR = d (v + 0.5) + DF.
    Uk,
}

/// A time series given inline as `[[t, v], …]` or as `{ csv = "file.csv" }`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SeriesSpec {
    Inline(Vec<(f64, f64)>),
    Csv { csv: PathBuf },
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RainSpec {
    pub rain_mm_per_h: SeriesSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundaryKind {
    Inflow,
    Stage,
    FreeOutflow,
    NormalDepth,
    Wall,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BoundarySpec {
    pub kind: BoundaryKind,
    #[serde(default)]
    pub edge: Option<hydro::Edge>,
    #[serde(default)]
    pub from: Option<[f64; 2]>,
    #[serde(default)]
    pub to: Option<[f64; 2]>,
    #[serde(default)]
    pub discharge_m3_s: Option<SeriesSpec>,
    #[serde(default)]
    pub level_m: Option<SeriesSpec>,
    #[serde(default)]
    pub slope: Option<f64>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointSourceSpec {
    pub x: f64,
    pub y: f64,
    #[serde(default)]
    pub radius_m: Option<f64>,
    pub discharge_m3_s: SeriesSpec,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TriggerSpec {
    AtTime { time_s: f64 },
    WaterLevel { x: f64, y: f64, level_m: f64 },
    Manual,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BreachSpec {
    pub line: Vec<[f64; 2]>,
    pub final_bed_m: f64,
    pub formation_time_s: f64,
    pub trigger: TriggerSpec,
}

/// Read and parse a TOML file; errors name the file, the line and the offending key.
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|cause| BasinError::Io {
        path: path.to_path_buf(),
        cause,
        fix: "check the path and that the file is readable",
    })?;
    toml::from_str(&text).map_err(|e| BasinError::Toml {
        path: path.to_path_buf(),
        message: toml_message(&text, &e),
    })
}

/// toml's message with the line number spelt out.
fn toml_message(text: &str, e: &toml::de::Error) -> String {
    let line = e
        .span()
        .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
    let msg = e.message().trim().to_string();
    match line {
        Some(line) => format!("line {line}: {msg}"),
        None => msg,
    }
}

impl SeriesSpec {
    /// The series, reading a CSV relative to `base` (the folder of the file naming it).
    /// `file` and `key` go into error messages.
    pub fn load(&self, base: &Path, file: &Path, key: &str) -> Result<TimeSeries> {
        let points = match self {
            SeriesSpec::Inline(points) => points.clone(),
            SeriesSpec::Csv { csv } => read_series_csv(&base.join(csv))?,
        };
        TimeSeries::new(points).map_err(|e| {
            BasinError::invalid(
                file,
                key,
                e.to_string(),
                "give [time_s, value] pairs with increasing times",
            )
        })
    }
}

/// Two numeric columns (time_s, value); a header line and `#` comments are skipped.
fn read_series_csv(path: &Path) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|cause| BasinError::Io {
        path: path.to_path_buf(),
        cause,
        fix: "check the CSV path (relative to the scenario file)",
    })?;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split([',', ';', '\t']).map(str::trim).collect();
        let parsed = (
            fields.first().map(|f| f.parse::<f64>()),
            fields.get(1).map(|f| f.parse::<f64>()),
        );
        match parsed {
            (Some(Ok(t)), Some(Ok(v))) => points.push((t, v)),
            _ if i == 0 => continue, // header
            _ => {
                return Err(BasinError::invalid(
                    path,
                    format!("line {}", i + 1),
                    format!("is not two numbers: `{line}`"),
                    "each line holds time_s and a value, separated by a comma",
                ));
            }
        }
    }
    Ok(points)
}
