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
    /// Places watched for flooding (a village, a road, a hospital): polygons in a vector
    /// file with a rule; the run raises a warning when the rule starts or stops holding.
    #[serde(default)]
    pub watch_areas: Vec<WatchAreaSpec>,
}

/// Manning's n: one of three forms. Read through [`RoughnessKeys`], so a misspelt key
/// is named with the keys accepted, and a wrong mix says which forms exist.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged, try_from = "RoughnessKeys")]
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
        /// Manning's n where the land-cover raster has nodata but the DEM has data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        nodata_n: Option<f64>,
    },
}

/// Every key of every form of `[roughness]`, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoughnessKeys {
    constant: Option<f64>,
    raster: Option<PathBuf>,
    landcover: Option<PathBuf>,
    table: Option<BTreeMap<String, f64>>,
    nodata_n: Option<f64>,
}

const ROUGHNESS_FORMS: &str = "give one of: `constant = 0.035`; `raster = \"manning_n.tif\"`; or `landcover = \"classes.tif\"` with `table = { \"1\" = 0.03, … }` (and optionally `nodata_n`)";

impl TryFrom<RoughnessKeys> for Roughness {
    type Error = String;

    fn try_from(k: RoughnessKeys) -> Result<Self, String> {
        match k {
            RoughnessKeys {
                constant: Some(constant),
                raster: None,
                landcover: None,
                table: None,
                nodata_n: None,
            } => Ok(Self::Constant { constant }),
            RoughnessKeys {
                constant: None,
                raster: Some(raster),
                landcover: None,
                table: None,
                nodata_n: None,
            } => Ok(Self::Raster { raster }),
            RoughnessKeys {
                constant: None,
                raster: None,
                landcover: Some(landcover),
                table: Some(table),
                nodata_n,
            } => Ok(Self::LandCover {
                landcover,
                table,
                nodata_n,
            }),
            RoughnessKeys {
                landcover: Some(_),
                table: None,
                ..
            } => Err(format!(
                "roughness: `landcover` needs a `table` of Manning's n per class; {ROUGHNESS_FORMS}"
            )),
            _ => Err(format!(
                "roughness: these keys do not make one form; {ROUGHNESS_FORMS}"
            )),
        }
    }
}

/// The initial water: a level over the whole basin or a depth raster.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(untagged, try_from = "InitialWaterKeys")]
pub enum InitialWater {
    Level { level_m: f64 },
    Depth { depth_raster: PathBuf },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitialWaterKeys {
    level_m: Option<f64>,
    depth_raster: Option<PathBuf>,
}

impl TryFrom<InitialWaterKeys> for InitialWater {
    type Error = String;

    fn try_from(k: InitialWaterKeys) -> Result<Self, String> {
        match (k.level_m, k.depth_raster) {
            (Some(level_m), None) => Ok(Self::Level { level_m }),
            (None, Some(depth_raster)) => Ok(Self::Depth { depth_raster }),
            _ => Err("initial_water: give one of `level_m = <m>` (a water level over the basin) or `depth_raster = \"depth.tif\"`".into()),
        }
    }
}

/// `[losses]`: how the soil takes water (docs/basin-format.md). `model` picks the form;
/// each form's keys are its own (others are refused when checked, in `Basin::load`).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossParams {
    #[serde(default)]
    pub model: LossModelName,
    /// Initial + continuing loss (mm, mm/h) and the soil's capacity (mm).
    #[serde(default)]
    pub initial_mm: Option<f64>,
    #[serde(default)]
    pub continuing_mm_per_h: Option<f64>,
    #[serde(default)]
    pub capacity_mm: Option<f64>,
    /// The initial and continuing losses per cell (mm, mm/h), instead of one value each.
    #[serde(default)]
    pub initial_raster: Option<PathBuf>,
    #[serde(default)]
    pub continuing_raster: Option<PathBuf>,
    /// SCS curve number: one value, or a raster of them; Ia / S (0.2 by default).
    #[serde(default)]
    pub curve_number: Option<f64>,
    #[serde(default)]
    pub curve_number_raster: Option<PathBuf>,
    #[serde(default)]
    pub ia_ratio: Option<f64>,
    /// Curve numbers from a land-cover raster (integer classes) and the hydrologic soil
    /// group (one letter A–D for the basin, or a raster of 1–4 for A–D): `table` gives
    /// each class's CN per group, e.g. `"2" = { A = 39, B = 61, C = 74, D = 80 }`.
    #[serde(default)]
    pub landcover: Option<PathBuf>,
    #[serde(default)]
    pub soil_group: Option<String>,
    #[serde(default)]
    pub soil_group_raster: Option<PathBuf>,
    #[serde(default)]
    pub table: Option<std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>>,
    /// Green–Ampt: saturated conductivity (mm/h; one value or a raster), wetting-front
    /// suction (mm) and moisture deficit (−).
    #[serde(default)]
    pub conductivity_mm_per_h: Option<f64>,
    #[serde(default)]
    pub conductivity_raster: Option<PathBuf>,
    #[serde(default)]
    pub suction_mm: Option<f64>,
    #[serde(default)]
    pub moisture_deficit: Option<f64>,
    /// Green–Ampt suction (mm) and moisture deficit (−) per cell, instead of one value.
    #[serde(default)]
    pub suction_raster: Option<PathBuf>,
    #[serde(default)]
    pub moisture_deficit_raster: Option<PathBuf>,
    /// Share of each cell that is impervious (roofs, roads), 0–1: one value or a raster;
    /// any model. Only the rest of the cell takes water.
    #[serde(default)]
    pub impervious_fraction: Option<f64>,
    #[serde(default)]
    pub impervious_raster: Option<PathBuf>,
}

/// The infiltration model of `[losses]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossModelName {
    #[default]
    InitialContinuing,
    CurveNumber,
    GreenAmpt,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GaugeSpec {
    pub name: String,
    pub x: f64,
    pub y: f64,
    /// Named levels at this gauge (e.g. warning, danger); crossing one up or down is a
    /// warning event of the run.
    #[serde(default)]
    pub thresholds: Vec<ThresholdSpec>,
}

/// How serious a crossed threshold is; the app colours warnings by it.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth watching (e.g. a river over its banks in fields).
    Advisory,
    /// Act: a warning level (e.g. 警戒水位, a flood-warning level).
    #[default]
    Warning,
    /// Danger to people or works (e.g. 保证水位, a guaranteed or design level).
    Danger,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Advisory => "advisory",
            Severity::Warning => "warning",
            Severity::Danger => "danger",
        }
    }
}

/// One named threshold at a gauge: a water level (m, the DEM's datum) or a depth (m);
/// exactly one of the two.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level_m: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_m: Option<f64>,
    #[serde(default)]
    pub severity: Severity,
    /// The value must fall this far below the threshold before it counts as crossed
    /// downwards (m), so that a level hovering at the threshold raises one warning, not
    /// one per step. Default [`DEFAULT_HYSTERESIS_M`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hysteresis_m: Option<f64>,
}

/// Default fall below a threshold (m) before it counts as crossed downwards.
pub const DEFAULT_HYSTERESIS_M: f64 = 0.01;

/// A watched place: the polygons of a vector file (all its features, or those whose
/// `name` field is `feature`) and one rule.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WatchAreaSpec {
    pub name: String,
    /// Vector file GDAL/OGR reads (GeoJSON, GeoPackage, Shapefile, …), in the DEM's CRS,
    /// relative to the basin folder.
    pub file: PathBuf,
    /// Layer of the file (default: its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Only the features whose `name` field holds this (default: every feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    /// Rule: some cell inside is deeper than this (m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth_above_m: Option<f64>,
    /// Rule: some cell inside has at least this hazard class now (1–6 ARR, 1–4 UK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazard_at_least: Option<u8>,
    /// How many cells must meet the rule (default 1: any cell).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_cells: Option<usize>,
    #[serde(default)]
    pub severity: Severity,
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
    /// Also write `time_stack.nc`: depth and velocity at the start and every output time
    /// (CF NetCDF-4).
    #[serde(default)]
    pub time_stack: bool,
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
    /// Weirs, gates, culverts, pumps and reservoir releases, and how they are operated.
    #[serde(default)]
    pub structures: Vec<crate::structures::StructureSpec>,
    /// Flood detention areas: a levee along an outline, an inlet gate opened by a gauge.
    #[serde(default)]
    pub detention_areas: Vec<crate::structures::DetentionSpec>,
    /// Multipliers on the scenario's forcing and the basin's roughness (what-if runs and
    /// ensemble members).
    #[serde(default)]
    pub adjust: Adjust,
    /// Upstream catchments whose rainfall–runoff model feeds a point source.
    #[serde(default)]
    pub catchments: Vec<crate::catchments::CatchmentSpec>,
}

/// `[adjust]`: changes applied when the scenario is loaded. Rain (the series and the
/// rain frames) × `rain_scale`, Manning's n of every cell × `manning_scale`, every inflow
/// (boundary hydrographs and point sources) × `inflow_scale`; the rain series stretched in
/// time by `storm_duration_scale` at the same depth; the surface of the basin's initial
/// water moved by `initial_level_change_m` (see
/// [`crate::Basin::initial_depth_with_level_change`]).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Adjust {
    #[serde(default = "one")]
    pub rain_scale: f64,
    #[serde(default = "one")]
    pub manning_scale: f64,
    #[serde(default = "one")]
    pub inflow_scale: f64,
    #[serde(default)]
    pub initial_level_change_m: f64,
    /// The rain series (`rain_mm_per_h`) stretched in time by this factor with its
    /// intensities divided by it: the same depth of rain over a longer (> 1) or shorter
    /// (< 1) storm. Rain frames keep their times.
    #[serde(default = "one")]
    pub storm_duration_scale: f64,
}

fn one() -> f64 {
    1.0
}

impl Default for Adjust {
    fn default() -> Self {
        Self {
            rain_scale: 1.0,
            manning_scale: 1.0,
            inflow_scale: 1.0,
            initial_level_change_m: 0.0,
            storm_duration_scale: 1.0,
        }
    }
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

/// A time series given inline as `[[t, v], …]` or as `{ csv = "file.csv" }`. Read by
/// hand, so that a wrong form or a misspelt key is named with the forms accepted.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum SeriesSpec {
    Inline(Vec<(f64, f64)>),
    Csv {
        csv: PathBuf,
    },
    /// Observations that grow while the twin runs (a data feed appends to the CSV), and
    /// what follows the last one: a forecast CSV (its points after the last observation)
    /// or persistence (the last observed value held).
    Observed {
        observed: PathBuf,
        forecast: ForecastTail,
        /// The longest allowed step between two observations (s); a longer one is a gap
        /// in the feed and refused. Default: 5 × the median step.
        max_gap_s: Option<f64>,
    },
}

/// What a series does after its last observation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum ForecastTail {
    /// The last observed value, held.
    Persistence,
    /// The points of this CSV after the last observation (for rain frames: the frames
    /// of this folder or NetCDF file from then on).
    File(PathBuf),
    /// Nothing after the last observation (rain frames only: no rain).
    Dry,
}

impl ForecastTail {
    pub fn describe(&self) -> String {
        match self {
            ForecastTail::Persistence => "persistence (the last observed value held)".into(),
            ForecastTail::File(p) => format!("forecast file {}", p.display()),
            ForecastTail::Dry => "none (no rain after the last observed frame)".into(),
        }
    }
}

const SERIES_FORMS: &str = "a series is given inline as [[time_s, value], …], as { csv = \"file.csv\" }, or as observations with a forecast tail, { observed = \"obs.csv\", forecast = \"forecast.csv\" | \"persistence\" }";

impl<'de> Deserialize<'de> for SeriesSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SeriesSpec;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(SERIES_FORMS)
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<SeriesSpec, A::Error> {
                let mut points = Vec::new();
                while let Some(p) = seq.next_element::<[f64; 2]>()? {
                    points.push((p[0], p[1]));
                }
                Ok(SeriesSpec::Inline(points))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<SeriesSpec, A::Error> {
                let (mut csv, mut observed, mut forecast, mut max_gap_s) = (None, None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "csv" if csv.is_none() => csv = Some(map.next_value::<PathBuf>()?),
                        "observed" if observed.is_none() => {
                            observed = Some(map.next_value::<PathBuf>()?);
                        }
                        "forecast" if forecast.is_none() => {
                            let v = map.next_value::<String>()?;
                            forecast = Some(if v == "persistence" {
                                ForecastTail::Persistence
                            } else {
                                ForecastTail::File(PathBuf::from(v))
                            });
                        }
                        "max_gap_s" if max_gap_s.is_none() => {
                            max_gap_s = Some(map.next_value::<f64>()?);
                        }
                        _ => {
                            return Err(serde::de::Error::custom(format!(
                                "unknown or repeated key `{key}`: {SERIES_FORMS}"
                            )));
                        }
                    }
                }
                match (csv, observed) {
                    (Some(csv), None) if forecast.is_none() && max_gap_s.is_none() => {
                        Ok(SeriesSpec::Csv { csv })
                    }
                    (None, Some(observed)) => Ok(SeriesSpec::Observed {
                        observed,
                        forecast: forecast.unwrap_or(ForecastTail::Persistence),
                        max_gap_s,
                    }),
                    _ => Err(serde::de::Error::custom(format!(
                        "these keys do not make one form: {SERIES_FORMS}"
                    ))),
                }
            }
        }
        d.deserialize_any(Visitor)
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RainSpec {
    /// Rain over the whole basin, as a hyetograph (mm/h).
    pub rain_mm_per_h: Option<SeriesSpec>,
    /// Gridded rain: radar or forecast frames (see [`RainFramesSpec`]). Adds to
    /// `rain_mm_per_h` where both are given.
    pub frames: Option<RainFramesSpec>,
}

/// Gridded rain frames: a folder of GeoTIFFs named with their times
/// (`<name>_<time_s>s.tif`), or a NetCDF file with a time axis. Each frame holds from
/// its time for `interval_s` (the series' regular step).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RainFramesSpec {
    /// Frames known in advance (a design storm, a replayed event).
    pub files: Option<PathBuf>,
    /// Frames that arrive while the twin runs (a radar feed); they end at the last
    /// frame's interval, where `forecast` takes over.
    pub observed: Option<PathBuf>,
    /// After the last observed frame: forecast frames (a folder or NetCDF, their
    /// frames from that time on), `"persistence"` (the last frame held) or `"none"`
    /// (no rain; the default).
    pub forecast: Option<String>,
    /// How long each frame holds (s). Needed for a single frame; otherwise the frames'
    /// spacing, which must then be regular.
    pub interval_s: Option<f64>,
    /// The NetCDF variable holding the rain (default: the file's only 3D variable).
    pub variable: Option<String>,
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

impl BoundaryKind {
    /// Whether the boundary brings water in (and so needs active cells to do it).
    pub fn is_forcing(self) -> bool {
        matches!(self, Self::Inflow | Self::Stage)
    }
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
        self.load_observed(base, file, key).map(|(s, _)| s)
    }

    /// The series, and for observations where they end and what follows.
    pub fn load_observed(
        &self,
        base: &Path,
        file: &Path,
        key: &str,
    ) -> Result<(TimeSeries, Option<Observation>)> {
        let (points, observation) = match self {
            SeriesSpec::Inline(points) => (points.clone(), None),
            SeriesSpec::Csv { csv } => (read_series_csv(&base.join(csv))?, None),
            SeriesSpec::Observed {
                observed,
                forecast,
                max_gap_s,
            } => {
                let path = base.join(observed);
                let mut points = read_observations(&path, *max_gap_s)?;
                let last_s = points.last().map_or(0.0, |p| p.0);
                if let ForecastTail::File(f) = forecast {
                    let tail = read_series_csv(&base.join(f))?;
                    points.extend(tail.into_iter().filter(|p| p.0 > last_s));
                }
                let o = Observation {
                    key: key.to_string(),
                    file: path,
                    last_s,
                    tail: forecast.clone(),
                };
                (points, Some(o))
            }
        };
        let series = TimeSeries::new(points).map_err(|e| {
            BasinError::invalid(
                file,
                key,
                e.to_string(),
                "give [time_s, value] pairs with increasing times",
            )
        })?;
        Ok((series, observation))
    }
}

/// Where an observed series ends and what follows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// The scenario key it feeds, e.g. `boundaries[0].discharge_m3_s`.
    pub key: String,
    pub file: PathBuf,
    /// Time of its last observation (s).
    pub last_s: f64,
    pub tail: ForecastTail,
}

/// An observation CSV (time_s, value, as [`read_series_csv`]): at least one row, times
/// increasing, and no step longer than `max_gap_s` (default 5 × the median step), with
/// the line named where it fails.
pub fn read_observations(path: &Path, max_gap_s: Option<f64>) -> Result<Vec<(f64, f64)>> {
    let points = read_series_csv(path)?;
    let bad =
        |key: String, problem: String, fix: &str| BasinError::invalid(path, key, problem, fix);
    if points.is_empty() {
        return Err(bad(
            "observed".into(),
            "holds no observation yet".into(),
            "wait for the first row of the feed, or give its first time_s,value row",
        ));
    }
    // Rows are counted from the first data row; a header line shifts the line number by one.
    let header = usize::from(has_header(path));
    for (i, w) in points.windows(2).enumerate() {
        if w[1].0 <= w[0].0 {
            return Err(bad(
                format!("line {}", i + 2 + header),
                format!("goes back in time: {} s after {} s", w[1].0, w[0].0),
                "observations must be appended in time order; fix the feed or the row",
            ));
        }
    }
    if points.len() >= 3 {
        let mut steps: Vec<f64> = points.windows(2).map(|w| w[1].0 - w[0].0).collect();
        let limit = max_gap_s.unwrap_or_else(|| {
            steps.sort_by(f64::total_cmp);
            5.0 * steps[steps.len() / 2]
        });
        if let Some((i, w)) = points
            .windows(2)
            .enumerate()
            .find(|(_, w)| w[1].0 - w[0].0 > limit)
        {
            return Err(bad(
                format!("line {}", i + 2 + header),
                format!(
                    "leaves a gap: {} s to {} s without an observation (more than {limit} s)",
                    w[0].0, w[1].0
                ),
                "fill the gap in the feed, or allow it with max_gap_s in the series",
            ));
        }
    }
    Ok(points)
}

/// Whether the first line of a CSV that is not a comment is a header (not a number).
fn has_header(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| {
        t.lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .is_some_and(|l| {
                l.split([',', ';', '\t'])
                    .next()
                    .is_some_and(|f| f.trim().trim_matches('"').parse::<f64>().is_err())
            })
    })
}

/// The largest series CSV read (bytes): a forcing series of a million rows is far below
/// it; anything larger is refused before it is read into memory.
pub const MAX_CSV_BYTES: u64 = 64 << 20;

/// Two numeric columns (time_s, value), read with the `csv` crate: a UTF-8 byte-order
/// mark is skipped, the separator is `,`, `;` or a tab (the first line that is not a
/// comment decides),
/// fields may be quoted, a header line and `#` comments are skipped. A decimal comma
/// (`0,5`) is refused with its line, never split into two numbers. Only regular files of
/// at most [`MAX_CSV_BYTES`] are read.
pub fn read_series_csv(path: &Path) -> Result<Vec<(f64, f64)>> {
    let io = |cause: std::io::Error| BasinError::Io {
        path: path.to_path_buf(),
        cause,
        fix: "check the CSV path (relative to the scenario file)",
    };
    let bad =
        |key: String, problem: String, fix: &str| BasinError::invalid(path, key, problem, fix);
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(bad(
            "csv".into(),
            "is not a regular file (a device, a pipe or a folder)".into(),
            "name a CSV file of time_s,value lines",
        ));
    }
    if meta.len() > MAX_CSV_BYTES {
        return Err(bad(
            "csv".into(),
            format!(
                "is {} MiB, more than the {} MiB a series may have",
                meta.len() >> 20,
                MAX_CSV_BYTES >> 20
            ),
            "thin the series (a row per minute is plenty for a hydrograph) or split the run",
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_CSV_BYTES + 1),
        &mut bytes,
    )
    .map_err(io)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| {
        bad(
            "encoding".into(),
            format!("is not UTF-8 ({e})"),
            "save the CSV as UTF-8 (or plain ASCII)",
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let delimiter = detect_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut points = Vec::new();
    let mut first = true;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(
                format!("line {line}"),
                format!("cannot be read as CSV ({e})"),
                "each line holds time_s and a value, separated by a comma",
            )
        })?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let shown = record
            .iter()
            .collect::<Vec<_>>()
            .join(&(delimiter as char).to_string());
        if let Some(field) = record.iter().find(|f| is_decimal_comma(f)) {
            return Err(bad(
                format!("line {line}"),
                format!("`{shown}` has a decimal comma (`{field}`)"),
                "write decimals with a point (0.5), separated by `,` or `;`",
            ));
        }
        let parse = |i: usize| record.get(i).and_then(|f| f.parse::<f64>().ok());
        match (parse(0), parse(1)) {
            (Some(t), Some(v)) => points.push((t, v)),
            // A header: the first line, whose first field is not a number.
            _ if first && parse(0).is_none() => {}
            _ => {
                return Err(bad(
                    format!("line {line}"),
                    format!("is not two numbers: `{shown}`"),
                    "each line holds time_s and a value, separated by a comma",
                ));
            }
        }
        first = false;
    }
    Ok(points)
}

/// The separator of a series CSV: `;` or a tab where the first line that is not a comment
/// (a header or the first data row) has one, else `,`.
fn detect_delimiter(text: &str) -> u8 {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if line.contains(';') {
        b';'
    } else if line.contains('\t') {
        b'\t'
    } else {
        b','
    }
}

/// `0,5` or `-12,25`: a number written with a decimal comma.
fn is_decimal_comma(field: &str) -> bool {
    let digits = field.strip_prefix('-').unwrap_or(field);
    match digits.split_once(',') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_digit())
                && b.bytes().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}
