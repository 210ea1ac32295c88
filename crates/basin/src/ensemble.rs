//! Scenario ensembles: an `ensemble.toml` names a base scenario and the parameters to vary;
//! `plan` writes one ordinary scenario file per member (it extends the base and sets its
//! own `[adjust]`) and a manifest; `run` runs the members on this machine, skipping those
//! already complete. Each member is an ordinary `rivertwin run`, the unit a scheduler runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{BasinError, Result};

/// The parameters an ensemble can vary by name: the scenario's `[adjust]` keys (the
/// first four are multipliers, ≥ 0). Any number in the base scenario is a parameter
/// too, by its dotted path (see [`setting_path`]).
pub const PARAMETERS: [&str; 5] = [
    "rain_scale",
    "manning_scale",
    "inflow_scale",
    "storm_duration_scale",
    "initial_level_change_m",
];

/// The `[adjust]` keys that are multipliers (values ≥ 0).
const MULTIPLIERS: [&str; 4] = [
    "rain_scale",
    "manning_scale",
    "inflow_scale",
    "storm_duration_scale",
];

/// Where a parameter sits in a scenario file, as keys and array indices: `rain_scale` is
/// `adjust.rain_scale`; anything else with a dot is a path into the base scenario, e.g.
/// `breaches.0.trigger.time_s` or `structures.1.rules.0.above_m`.
pub fn setting_path(name: &str) -> Vec<String> {
    if PARAMETERS.contains(&name) {
        vec!["adjust".to_string(), name.to_string()]
    } else {
        name.split('.').map(str::to_string).collect()
    }
}

/// The value at `path` in a TOML table (a number, an index into an array), if any.
fn value_at<'a>(table: &'a toml::Table, path: &[String]) -> Option<&'a toml::Value> {
    let (first, rest) = path.split_first()?;
    let mut v = table.get(first)?;
    for key in rest {
        v = match v {
            toml::Value::Table(t) => t.get(key)?,
            toml::Value::Array(a) => a.get(key.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// Set the number at `path` (which [`value_at`] found, or a missing `[adjust]` key). With
/// `round_integers`, a setting written as an integer in the base takes the nearest integer
/// (for integer settings such as a lag in steps); otherwise the value is written as it is.
fn set_value(table: &mut toml::Table, path: &[String], value: f64, round_integers: bool) {
    fn walk(v: &mut toml::Value, path: &[String], value: f64, round: bool) {
        let Some((key, rest)) = path.split_first() else {
            *v = match v {
                toml::Value::Integer(_) if round && value.abs() < 9e15 => {
                    toml::Value::Integer(value.round() as i64)
                }
                _ => toml::Value::Float(value),
            };
            return;
        };
        let next = match v {
            toml::Value::Table(t) => t
                .entry(key.clone())
                .or_insert_with(|| toml::Value::Table(Default::default())),
            toml::Value::Array(a) => &mut a[key.parse::<usize>().expect("checked on loading")],
            _ => unreachable!("checked on loading"),
        };
        if rest.is_empty() && matches!(next, toml::Value::Table(t) if t.is_empty()) {
            *next = toml::Value::Float(value);
            return;
        }
        walk(next, rest, value, round);
    }
    let mut root = toml::Value::Table(std::mem::take(table));
    walk(&mut root, path, value, round_integers);
    let toml::Value::Table(t) = root else {
        unreachable!()
    };
    *table = t;
}

/// The most members a plan may have.
pub const MAX_MEMBERS: usize = 100_000;

/// `ensemble.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnsembleFile {
    /// The base scenario, relative to the ensemble file.
    pub base: PathBuf,
    #[serde(default)]
    pub sampling: Sampling,
    /// Members for Latin hypercube sampling (a factorial plan has one per combination).
    #[serde(default)]
    pub members: Option<usize>,
    /// Seed of the Latin hypercube.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Read as TOML values first, so that a malformed one is named with the forms
    /// accepted (see [`Ensemble::load`]).
    #[serde(rename = "parameters")]
    pub raw_parameters: BTreeMap<String, toml::Value>,
    #[serde(skip)]
    pub parameters: BTreeMap<String, ParameterSpec>,
}

fn default_seed() -> u64 {
    1
}

/// How members are drawn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sampling {
    /// Every combination of the parameters' `values`.
    #[default]
    Factorial,
    /// `members` members; each parameter's range (or list) cut into `members` equal
    /// strata, each stratum used once, in an order shuffled per parameter.
    LatinHypercube,
}

/// A parameter's values: a list, or a range with a distribution.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum ParameterSpec {
    Values {
        values: Vec<f64>,
    },
    Range {
        min: f64,
        max: f64,
        #[serde(default)]
        distribution: Distribution,
        /// Triangular: the most likely value.
        #[serde(default)]
        mode: Option<f64>,
        /// Normal (truncated to [min, max]): mean and standard deviation.
        #[serde(default)]
        mean: Option<f64>,
        #[serde(default)]
        sd: Option<f64>,
    },
}

/// The distribution over a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    #[default]
    Uniform,
    /// Triangular on [min, max] with its peak at `mode`.
    Triangular,
    /// Normal with `mean` and `sd`, truncated to [min, max].
    Normal,
}

/// Standard normal CDF Φ(z) = erfc(−z/√2)/2, with erfc from the Chebyshev-fitted
/// exponential form of Press et al., *Numerical Recipes* (2nd ed., §6.2, `erfcc`),
/// fractional error below 1.2e-7 everywhere.
fn normal_cdf(z: f64) -> f64 {
    let x = -z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let erfc = t
        * (-x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    0.5 * erfc
}

/// Φ⁻¹(p), by bisection on [`normal_cdf`] (60 halvings of [−40, 40]: far below the
/// CDF's own error), so that it is the exact inverse of the Φ used.
fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0, 40.0);
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if normal_cdf(mid) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl ParameterSpec {
    /// The value at cumulative probability `p` (0–1) of a range's distribution.
    pub fn quantile(&self, p: f64) -> f64 {
        match *self {
            ParameterSpec::Values { ref values } => {
                values[((p * values.len() as f64) as usize).min(values.len() - 1)]
            }
            ParameterSpec::Range {
                min,
                max,
                distribution,
                mode,
                mean,
                sd,
            } => match distribution {
                Distribution::Uniform => min + (max - min) * p,
                Distribution::Triangular => {
                    let c = mode.unwrap_or(0.5 * (min + max));
                    let (a, b) = (min, max);
                    if b <= a {
                        return a;
                    }
                    let fc = (c - a) / (b - a);
                    if p < fc {
                        a + (p * (b - a) * (c - a)).sqrt()
                    } else {
                        b - ((1.0 - p) * (b - a) * (b - c)).sqrt()
                    }
                }
                Distribution::Normal => {
                    let (mu, sigma) = (mean.unwrap_or(0.0), sd.unwrap_or(1.0));
                    let (za, zb) = ((min - mu) / sigma, (max - mu) / sigma);
                    // Far in the upper tail Φ rounds to 1 on both ends: work on the mirror
                    // image in the lower tail, where Φ keeps its digits.
                    let z = if za + zb > 0.0 {
                        let (fa, fb) = (normal_cdf(-zb), normal_cdf(-za));
                        -normal_quantile(fa + (1.0 - p) * (fb - fa))
                    } else {
                        let (fa, fb) = (normal_cdf(za), normal_cdf(zb));
                        normal_quantile(fa + p * (fb - fa))
                    };
                    (mu + sigma * z).clamp(min, max)
                }
            },
        }
    }

    /// The cumulative probability of `x` (0–1) under a range's distribution (the tests
    /// check the Latin hypercube's strata with it).
    #[cfg(test)]
    fn cdf(&self, x: f64) -> f64 {
        match *self {
            ParameterSpec::Values { .. } => f64::NAN,
            ParameterSpec::Range {
                min,
                max,
                distribution,
                mode,
                mean,
                sd,
            } => match distribution {
                Distribution::Uniform => (x - min) / (max - min),
                Distribution::Triangular => {
                    let c = mode.unwrap_or(0.5 * (min + max));
                    let (a, b) = (min, max);
                    if x <= c {
                        (x - a) * (x - a) / ((b - a) * (c - a))
                    } else {
                        1.0 - (b - x) * (b - x) / ((b - a) * (b - c))
                    }
                }
                Distribution::Normal => {
                    let (mu, sigma) = (mean.unwrap_or(0.0), sd.unwrap_or(1.0));
                    let (za, zb, zx) = ((min - mu) / sigma, (max - mu) / sigma, (x - mu) / sigma);
                    if za + zb > 0.0 {
                        let (fa, fb) = (normal_cdf(-zb), normal_cdf(-za));
                        1.0 - (normal_cdf(-zx) - fa) / (fb - fa)
                    } else {
                        let (fa, fb) = (normal_cdf(za), normal_cdf(zb));
                        (normal_cdf(zx) - fa) / (fb - fa)
                    }
                }
            },
        }
    }
}

/// One member: its id and its parameter values.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    pub id: usize,
    pub parameters: BTreeMap<String, f64>,
}

impl Member {
    /// `member_0007`.
    pub fn name(&self) -> String {
        format!("member_{:04}", self.id)
    }
}

/// A read and checked ensemble file.
#[derive(Clone, Debug)]
pub struct Ensemble {
    pub path: PathBuf,
    pub base: PathBuf,
    pub file: EnsembleFile,
}

impl Ensemble {
    pub fn load(path: &Path) -> Result<Self> {
        let mut file: EnsembleFile = crate::config::read_toml(path)?;
        let bad =
            |key: &str, problem: String, fix: &str| BasinError::invalid(path, key, problem, fix);
        for (name, value) in &file.raw_parameters {
            let spec = ParameterSpec::deserialize(value.clone()).map_err(|_| {
                bad(
                    &format!("parameters.{name}"),
                    format!("is {value}"),
                    "give { values = [a, b, …] } or { min = a, max = b } (distribution = \
                     \"uniform\", or \"triangular\" with mode, or \"normal\" with mean and sd)",
                )
            })?;
            file.parameters.insert(name.clone(), spec);
        }
        let base = path.parent().unwrap_or(Path::new(".")).join(&file.base);
        if !base.is_file() {
            return Err(bad(
                "base",
                format!("names {}, which does not exist", base.display()),
                "give the base scenario's path relative to the ensemble file",
            ));
        }
        let forms = format!(
            "vary one of {}, or a number of the base scenario by its dotted path, e.g. \
             \"breaches.0.trigger.time_s\" or \"structures.1.rules.0.above_m\"",
            PARAMETERS.join(", ")
        );
        if file.parameters.is_empty() {
            return Err(bad("parameters", "is empty".into(), &forms));
        }
        let base_table: toml::Table = crate::config::read_toml(&base)?;
        if base_table.contains_key("extends") {
            return Err(bad(
                "base",
                format!("names {}, which extends another scenario", base.display()),
                "give the scenario at the root of the chain as the base",
            ));
        }
        for (name, spec) in &file.parameters {
            let key = format!("parameters.{name}");
            if !PARAMETERS.contains(&name.as_str()) {
                let path = setting_path(name);
                let found = value_at(&base_table, &path);
                if path.len() < 2 || path.first().is_some_and(|k| k == "adjust") {
                    return Err(bad(
                        &key,
                        "is not a parameter an ensemble can vary".into(),
                        &forms,
                    ));
                }
                if !matches!(found, Some(toml::Value::Float(_) | toml::Value::Integer(_))) {
                    return Err(bad(
                        &key,
                        match found {
                            None => format!("names nothing in {}", base.display()),
                            Some(v) => format!("names {v} in {}, not a number", base.display()),
                        },
                        &forms,
                    ));
                }
            }
            // Roughness and storm duration cannot be scaled to nothing.
            let least = match name.as_str() {
                "manning_scale" | "storm_duration_scale" => f64::MIN_POSITIVE,
                n if MULTIPLIERS.contains(&n) => 0.0,
                _ => f64::NEG_INFINITY,
            };
            let kind = if least == f64::MIN_POSITIVE {
                "finite and > 0 (a multiplier)"
            } else if least == 0.0 {
                "finite and ≥ 0 (a multiplier)"
            } else {
                "finite"
            };
            match spec {
                ParameterSpec::Values { values } => {
                    if values.is_empty() || values.iter().any(|v| !(v.is_finite() && *v >= least)) {
                        return Err(bad(
                            &key,
                            format!("has values {values:?}"),
                            &format!("give at least one value, each {kind}"),
                        ));
                    }
                }
                ParameterSpec::Range {
                    min,
                    max,
                    distribution,
                    mode,
                    mean,
                    sd,
                } => {
                    if !(min.is_finite() && max.is_finite() && *min >= least && min <= max) {
                        return Err(bad(
                            &key,
                            format!("has min {min} and max {max}"),
                            &format!("give min ≤ max, both {kind}"),
                        ));
                    }
                    let shape_ok = match distribution {
                        Distribution::Uniform => mode.is_none() && mean.is_none() && sd.is_none(),
                        Distribution::Triangular => {
                            mean.is_none()
                                && sd.is_none()
                                && mode.is_some_and(|c| *min <= c && c <= *max)
                        }
                        Distribution::Normal => {
                            mode.is_none()
                                && mean.is_some_and(f64::is_finite)
                                && sd.is_some_and(|s| s.is_finite() && s > 0.0)
                        }
                    };
                    if !shape_ok {
                        return Err(bad(
                            &key,
                            format!(
                                "is a {distribution:?} range with mode {mode:?}, mean {mean:?}, sd {sd:?}"
                            ),
                            "uniform takes min and max only; triangular also a mode between \
                             them; normal a mean and an sd > 0 (truncated to [min, max])",
                        ));
                    }
                    if file.sampling == Sampling::Factorial {
                        return Err(bad(
                            &key,
                            "is a range, which a factorial plan cannot enumerate".into(),
                            "give `values = [...]`, or sampling = \"latin_hypercube\"",
                        ));
                    }
                }
            }
        }
        match (file.sampling, file.members) {
            (Sampling::LatinHypercube, None) | (Sampling::LatinHypercube, Some(0)) => {
                return Err(bad(
                    "members",
                    format!("is {:?}", file.members),
                    "give the number of members, ≥ 1, for a Latin hypercube",
                ));
            }
            (Sampling::Factorial, Some(_)) => {
                return Err(bad(
                    "members",
                    "is set, but a factorial plan has one member per combination".into(),
                    "leave `members` out, or use sampling = \"latin_hypercube\"",
                ));
            }
            _ => {}
        }
        let e = Self {
            path: path.to_path_buf(),
            base,
            file,
        };
        let n = e.member_count();
        if n > MAX_MEMBERS {
            return Err(bad(
                "parameters",
                format!("make {n} members, more than {MAX_MEMBERS}"),
                "vary fewer values",
            ));
        }
        Ok(e)
    }

    fn member_count(&self) -> usize {
        match self.file.sampling {
            Sampling::LatinHypercube => self.file.members.unwrap_or(0),
            Sampling::Factorial => self
                .file
                .parameters
                .values()
                .map(|p| match p {
                    ParameterSpec::Values { values } => values.len(),
                    ParameterSpec::Range { .. } => 1,
                })
                .fold(1usize, usize::saturating_mul),
        }
    }

    /// The members, in order (deterministic for a given file and seed).
    pub fn members(&self) -> Vec<Member> {
        let names: Vec<&String> = self.file.parameters.keys().collect();
        let n = self.member_count();
        let mut members: Vec<Member> = (0..n)
            .map(|id| Member {
                id,
                parameters: BTreeMap::new(),
            })
            .collect();
        match self.file.sampling {
            Sampling::Factorial => {
                // The last parameter (in name order) varies fastest.
                let mut stride = 1;
                for name in names.iter().rev() {
                    let ParameterSpec::Values { values } = &self.file.parameters[*name] else {
                        unreachable!("checked on loading");
                    };
                    for m in &mut members {
                        let v = values[(m.id / stride) % values.len()];
                        m.parameters.insert((*name).clone(), v);
                    }
                    stride *= values.len();
                }
            }
            Sampling::LatinHypercube => {
                let mut rng = SplitMix64(self.file.seed);
                for name in names {
                    let mut strata: Vec<usize> = (0..n).collect();
                    // Fisher–Yates.
                    for i in (1..n).rev() {
                        let j = (rng.next() % (i as u64 + 1)) as usize;
                        strata.swap(i, j);
                    }
                    for (m, &k) in members.iter_mut().zip(&strata) {
                        let spec = &self.file.parameters[name];
                        let v = match spec {
                            // A point drawn uniformly inside the stratum's share of the
                            // probability, through the distribution's inverse.
                            ParameterSpec::Range { .. } => {
                                let u = rng.unit();
                                spec.quantile((k as f64 + u) / n as f64)
                            }
                            ParameterSpec::Values { values } => values[k * values.len() / n],
                        };
                        m.parameters.insert(name.clone(), v);
                    }
                }
            }
        }
        members
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, well-mixed generator, so that a plan
/// is the same for a seed on every machine and version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The manifest of a plan (`manifest.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    pub ensemble: PathBuf,
    pub base: PathBuf,
    pub sampling: Sampling,
    pub seed: u64,
    /// SHA-256 of the ensemble file and the base scenario.
    pub inputs: Vec<crate::runner::InputFile>,
    pub members: Vec<PlannedMember>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedMember {
    pub id: usize,
    pub scenario: PathBuf,
    pub parameters: BTreeMap<String, f64>,
}

/// Write the plan into `out` (which must not exist): `members/member_NNNN.toml`, each a
/// scenario that extends the base with its own `[adjust]`, and `manifest.json` and
/// `manifest.csv` (member id → parameters).
pub fn plan(ensemble: &Ensemble, out: &Path) -> Result<Manifest> {
    if out.exists() {
        return Err(BasinError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    let fail = |p: &Path, e: &dyn std::fmt::Display| BasinError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    let base = std::path::absolute(&ensemble.base).map_err(|e| fail(&ensemble.base, &e))?;
    // Written beside `out` and renamed into place: a plan is whole or absent.
    let tmp = out.with_file_name(format!(
        ".{}.partial-{}",
        out.file_name()
            .map_or("plan".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let members_dir = tmp.join("members");
    std::fs::create_dir_all(&members_dir).map_err(|e| fail(&tmp, &e))?;
    let members = ensemble.members();
    let base_name = crate::config::read_toml::<toml::Table>(&ensemble.base)?
        .get("name")
        .and_then(|v| v.as_str())
        .unwrap_or("scenario")
        .to_string();
    let mut planned = Vec::new();
    let mut csv = String::from("member");
    for name in ensemble.file.parameters.keys() {
        csv += &format!(",{name}");
    }
    csv += "\n";
    let base_table: toml::Table = crate::config::read_toml(&ensemble.base)?;
    for m in &members {
        let file = format!("{}.toml", m.name());
        // The top-level keys a member changes, each whole (as `extends` replaces them)
        // with the member's values set in the base's.
        // Values as drawn; where the scenario's own types refuse a fraction (an integer
        // setting), the nearest integers, and those are what the manifest records.
        let build = |round: bool| {
            let mut changed = toml::Table::new();
            let mut written = BTreeMap::new();
            for (k, v) in &m.parameters {
                let path = setting_path(k);
                changed.entry(path[0].clone()).or_insert_with(|| {
                    base_table
                        .get(&path[0])
                        .cloned()
                        .unwrap_or_else(|| toml::Value::Table(Default::default()))
                });
                set_value(&mut changed, &path, *v, round);
                let w = match value_at(&changed, &path) {
                    Some(toml::Value::Integer(i)) => *i as f64,
                    _ => *v,
                };
                written.insert(k.clone(), w);
            }
            (changed, written)
        };
        let parses = |changed: &toml::Table| {
            let mut merged = base_table.clone();
            for (k, v) in changed {
                merged.insert(k.clone(), v.clone());
            }
            merged.remove("extends");
            crate::config::ScenarioFile::deserialize(toml::Value::Table(merged))
        };
        let (mut changed, mut written) = build(false);
        if parses(&changed).is_err() {
            (changed, written) = build(true);
            if let Err(e) = parses(&changed) {
                return Err(BasinError::invalid(
                    &ensemble.path,
                    "parameters",
                    format!(
                        "give member {} a scenario that does not read: {}",
                        m.id,
                        e.message()
                    ),
                    "vary settings within what the scenario takes",
                ));
            }
        }
        csv += &m.id.to_string();
        for v in written.values() {
            csv += &format!(",{v:?}");
        }
        csv += "\n";
        let mut text = format!(
            "# Member {} of {}: the base scenario with {}.\n\
             extends = {}\nname = {}\n\n",
            m.id,
            ensemble.path.display(),
            written
                .iter()
                .map(|(k, v)| format!("{k} = {v:?}"))
                .collect::<Vec<_>>()
                .join(", "),
            toml::Value::String(base.to_string_lossy().into_owned()),
            toml::Value::String(format!("{base_name} · {}", m.name())),
        );
        text += &toml::to_string(&changed).map_err(|e| fail(&members_dir, &e))?;
        let path = members_dir.join(&file);
        std::fs::write(&path, text).map_err(|e| fail(&path, &e))?;
        planned.push(PlannedMember {
            id: m.id,
            scenario: PathBuf::from("members").join(file),
            parameters: written,
        });
    }
    let manifest = Manifest {
        ensemble: ensemble.path.clone(),
        base: base.clone(),
        sampling: ensemble.file.sampling,
        seed: ensemble.file.seed,
        inputs: [&ensemble.path, &ensemble.base]
            .into_iter()
            .map(|p| {
                Ok(crate::runner::InputFile {
                    path: p.clone(),
                    sha256: crate::runner::sha256_of(p)?,
                })
            })
            .collect::<Result<_>>()?,
        members: planned,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| fail(&tmp, &e))?;
    std::fs::write(tmp.join("manifest.json"), json + "\n").map_err(|e| fail(&tmp, &e))?;
    std::fs::write(tmp.join("manifest.csv"), csv).map_err(|e| fail(&tmp, &e))?;
    std::fs::rename(&tmp, out).map_err(|e| fail(out, &e))?;
    Ok(manifest)
}

/// A member's result folder in a plan.
pub fn member_results(dir: &Path, member: usize) -> PathBuf {
    dir.join("runs").join(format!("member_{member:04}"))
}

/// Whether a member's results are complete (its `summary.json` says so).
pub fn is_complete(results: &Path) -> bool {
    std::fs::read_to_string(results.join("summary.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v["status"] == "complete")
}

/// What `run` did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    pub ran: Vec<usize>,
    pub skipped: Vec<usize>,
    /// Members that failed, with the message.
    pub failed: Vec<(usize, String)>,
}

/// Run every member of the plan in `dir` that has no complete result yet into
/// `runs/member_NNNN`: `jobs` members at once (each a run of its own on
/// `options.threads`, in id order as they finish; 1: one after the other). A member that
/// fails is listed with its message and the others go on; members already done are kept.
/// `each` is called as each member ends (from the thread that ran it, one at a time).
pub fn run(
    dir: &Path,
    options: &crate::runner::RunOptions,
    jobs: usize,
    each: impl FnMut(usize, &Result<crate::runner::RunSummary>) + Send,
) -> Result<RunReport> {
    if jobs == 0 {
        return Err(BasinError::invalid(
            dir,
            "--jobs",
            "is 0".to_string(),
            "give the number of members to run at once, ≥ 1",
        ));
    }
    let members_dir = dir.join("members");
    let mut ids: Vec<usize> = std::fs::read_dir(&members_dir)
        .map_err(|cause| BasinError::Io {
            path: members_dir.clone(),
            cause,
            fix: "give a folder written by `rivertwin ensemble plan`",
        })?
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("member_")?
                .strip_suffix(".toml")?
                .parse()
                .ok()
        })
        .collect();
    ids.sort_unstable();
    let mut report = RunReport::default();
    let (todo, done): (Vec<usize>, Vec<usize>) = ids
        .into_iter()
        .partition(|&id| !is_complete(&member_results(dir, id)));
    report.skipped = done;
    let options = crate::runner::RunOptions {
        force: true,
        ..options.clone()
    };
    let next = std::sync::atomic::AtomicUsize::new(0);
    let shared = std::sync::Mutex::new((each, Vec::new()));
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(todo.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&id) = todo.get(k) else { break };
                    let scenario = members_dir.join(format!("member_{id:04}.toml"));
                    let out = member_results(dir, id);
                    let result = crate::runner::run(&scenario, &out, &options, |_| {});
                    let mut guard = shared.lock().unwrap_or_else(|p| p.into_inner());
                    (guard.0)(id, &result);
                    guard
                        .1
                        .push((id, result.map(|_| ()).map_err(|e| e.to_string())));
                }
            });
        }
    });
    let (_, mut results) = shared.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|(id, _)| *id);
    for (id, r) in results {
        match r {
            Ok(()) => report.ran.push(id),
            Err(e) => report.failed.push((id, e)),
        }
    }
    Ok(report)
}

/// How many members `run` runs at once unless told: one per core (each on one thread,
/// measured faster than one member on all cores on every bundled basin: docs/ensembles.md),
/// fewer where the members' estimated memory ([`member_estimates`]) would take more than
/// half the memory available now.
pub fn default_jobs(dir: &Path) -> Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let base: PathBuf = read_manifest(dir)?["base"]
        .as_str()
        .map(PathBuf::from)
        .unwrap_or_default();
    let (memory_mb, _) = member_estimates(&base, 1)?;
    let available_mb = crate::raster::available_memory_bytes() / (1024 * 1024);
    let by_memory = usize::try_from(available_mb / 2 / memory_mb.max(1)).unwrap_or(usize::MAX);
    Ok(cores.min(by_memory).max(1))
}

/// Quantile `q` of sorted values by linear interpolation between order statistics: the
/// value at position (n − 1)·q (numpy's default, `method="linear"`; Hyndman & Fan type 7).
/// Infinite values sort last and give an infinite quantile where they are reached.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo], sorted[hi]);
    if a == b || h == lo as f64 {
        a
    } else if a.is_infinite() || b.is_infinite() {
        f64::INFINITY
    } else {
        a + (h - lo as f64) * (b - a)
    }
}

/// What a merged map shows (the app picks its legend and unit by it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergedKind {
    /// `probability_depth_over_<t>m.tif`: the share of members deeper than t (0–1).
    Probability,
    /// `max_depth_m_p<q>.tif` (m).
    Depth,
    /// `first_inundation_s_p<q>.tif` (s).
    Arrival,
}

impl MergedKind {
    /// The kind of a merged map by its file name, with the threshold (m) or the
    /// percentile it is for.
    pub fn of_file(name: &str) -> Option<(Self, f64)> {
        let stem = name.strip_suffix(".tif")?;
        let number = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
        if let Some(t) = stem
            .strip_prefix("probability_depth_over_")
            .and_then(|s| s.strip_suffix('m'))
        {
            return Some((Self::Probability, number(t)?));
        }
        if let Some(q) = stem.strip_prefix("max_depth_m_p") {
            return Some((Self::Depth, number(q)?));
        }
        if let Some(q) = stem.strip_prefix("first_inundation_s_p") {
            return Some((Self::Arrival, number(q)?));
        }
        None
    }

    pub fn legend(self) -> crate::results::Legend {
        match self {
            Self::Probability => crate::results::PROBABILITY_LEGEND,
            Self::Depth => crate::results::DEPTH_LEGEND,
            Self::Arrival => crate::results::ARRIVAL_LEGEND,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Self::Probability => "1",
            Self::Depth => "m",
            Self::Arrival => "s",
        }
    }
}

/// What `merge` wrote.
#[derive(Clone, Debug, Serialize)]
pub struct MergeReport {
    pub members: Vec<usize>,
    pub missing: Vec<usize>,
    pub outputs: Vec<String>,
}

/// Merge the members' results of the plan in `dir` into `dir/merged`: per cell the
/// probability that the maximum depth exceeds each of `thresholds_m`, and the maximum
/// depth's and the arrival time's `quantiles` (GeoTIFFs in the basin's CRS); per gauge
/// each member's peak and the peaks' quantiles (CSV). Refuses when members have no
/// complete result, naming them, unless `partial` (then the complete ones are merged).
pub fn merge(
    dir: &Path,
    thresholds_m: &[f64],
    quantiles: &[f64],
    partial: bool,
) -> Result<MergeReport> {
    let ids = planned_ids(dir)?;
    for (key, values, lo, hi) in [
        ("--thresholds", thresholds_m, 0.0, f64::INFINITY),
        ("--quantiles", quantiles, 0.0, 1.0),
    ] {
        if values.is_empty()
            || values
                .iter()
                .any(|v| !(v.is_finite() && *v >= lo && *v <= hi))
        {
            return Err(BasinError::invalid(
                dir,
                key,
                format!("is {values:?}"),
                format!("give one or more values in [{lo}, {hi}]"),
            ));
        }
    }
    let (done, missing): (Vec<usize>, Vec<usize>) = ids
        .iter()
        .partition(|&&id| is_complete(&member_results(dir, id)));
    if done.is_empty() || (!missing.is_empty() && !partial) {
        let names: Vec<String> = missing.iter().map(|id| format!("member_{id:04}")).collect();
        return Err(BasinError::invalid(
            dir,
            "runs",
            format!(
                "hold no complete result for {} of {} members: {}",
                missing.len(),
                ids.len(),
                names.join(", ")
            ),
            "run `rivertwin ensemble run` on the plan again, or merge what exists with \
             --partial",
        ));
    }
    let read =
        |id: usize, name: &str| crate::raster::read_raster(&member_results(dir, id).join(name));
    let first = read(done[0], "max_depth_m.tif")?;
    let (grid, crs) = (first.grid, first.crs_wkt.clone());
    let mut depths = vec![first.data];
    let mut arrivals = Vec::new();
    for &id in &done[1..] {
        let r = read(id, "max_depth_m.tif")?;
        if r.grid != grid {
            return Err(BasinError::invalid(
                &r.path,
                "grid",
                "differs from the first member's".to_string(),
                "merge members of one basin",
            ));
        }
        depths.push(r.data);
    }
    for &id in &done {
        arrivals.push(read(id, "first_inundation_s.tif")?.data);
    }
    let out = dir.join("merged");
    // Replaced whole: a merge is redone from the members.
    let tmp = dir.join(format!(".merged.partial-{}", std::process::id()));
    let fail = |p: &Path, e: &dyn std::fmt::Display| BasinError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(&tmp).map_err(|e| fail(&tmp, &e))?;
    let n = depths.len() as f64;
    let mut outputs = Vec::new();
    // Each map with a QGIS style beside it, in the app's legend for its kind (a
    // probability from 0 to 1, depths and times from 0 to the map's largest value).
    let write = |name: &str, title: &str, unit: &str, values: &ndarray::Array2<f64>| {
        let path = tmp.join(name);
        crate::raster::write_geotiff(&path, &grid, &crs, crate::results::NODATA, values)?;
        crate::raster::label_band(&path, title, unit)?;
        crate::raster::rewrite_as_cog(&path, "AVERAGE")?;
        let (kind, _) = MergedKind::of_file(name).expect("a merged map's name");
        let max = match kind {
            MergedKind::Probability => 1.0,
            _ => values
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max),
        };
        let qml = path.with_extension("qml");
        std::fs::write(&qml, crate::results::qgis_style(&kind.legend(), unit, max))
            .map_err(|e| fail(&qml, &e))
    };
    for &t in thresholds_m {
        let p = ndarray::Array2::from_shape_fn((grid.rows, grid.cols), |c| {
            if depths[0][c].is_nan() {
                f64::NAN
            } else {
                depths.iter().filter(|d| d[c] > t).count() as f64 / n
            }
        });
        let name = format!("probability_depth_over_{t}m.tif");
        write(
            &name,
            &format!("Probability that the maximum depth exceeds {t} m"),
            "1",
            &p,
        )?;
        outputs.push(name.clone());
        outputs.push(name.replace(".tif", ".qml"));
    }
    let mut column = Vec::with_capacity(depths.len());
    for &q in quantiles {
        let pct = (q * 100.0).round();
        for (stack, key, title, unit) in [
            (&depths, "max_depth_m", "maximum depth", "m"),
            (&arrivals, "first_inundation_s", "time of arrival", "s"),
        ] {
            let values = ndarray::Array2::from_shape_fn((grid.rows, grid.cols), |c| {
                if depths[0][c].is_nan() {
                    return f64::NAN;
                }
                column.clear();
                // Never reached (NaN arrival) counts as later than any time.
                column.extend(stack.iter().map(
                    |a| {
                        if a[c].is_nan() { f64::INFINITY } else { a[c] }
                    },
                ));
                column.sort_by(f64::total_cmp);
                let v = quantile_sorted(&column, q);
                if v.is_finite() { v } else { f64::NAN }
            });
            let name = format!("{key}_p{pct}.tif");
            write(
                &name,
                &format!("{title}, quantile {q} over the members"),
                unit,
                &values,
            )?;
            outputs.push(name.clone());
            outputs.push(name.replace(".tif", ".qml"));
        }
    }
    // Gauges: each member's peak level, then the peaks' quantiles.
    let mut gauges: Vec<String> = Vec::new();
    let mut peaks: Vec<Vec<f64>> = Vec::new();
    // Warnings: every threshold of the basin's gauges, and whatever else a member crossed
    // (watch areas), with each member's first upward crossing.
    let mut crossings = Crossings::of_basin(dir)?;
    for &id in &done {
        let s: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(member_results(dir, id).join("summary.json"))
                .map_err(|e| fail(&member_results(dir, id), &e))?,
        )
        .map_err(|e| fail(&member_results(dir, id), &e))?;
        crossings.add_member(id, &s["warnings"]["first_crossings"]);
        let list = s["gauges"].as_array().cloned().unwrap_or_default();
        if gauges.is_empty() {
            gauges = list
                .iter()
                .map(|g| g["name"].as_str().unwrap_or("").to_string())
                .collect();
        }
        peaks.push(
            list.iter()
                .map(|g| g["peak_level_m"].as_f64().unwrap_or(f64::NAN))
                .collect(),
        );
    }
    let mut csv = String::from("member");
    for g in &gauges {
        csv += &format!(",{g}_peak_level_m");
    }
    csv += "\n";
    for (id, p) in done.iter().zip(&peaks) {
        csv += &id.to_string();
        for v in p {
            csv += &format!(",{v:.4}");
        }
        csv += "\n";
    }
    std::fs::write(tmp.join("gauge_peaks.csv"), csv).map_err(|e| fail(&tmp, &e))?;
    outputs.push("gauge_peaks.csv".into());
    let mut csv = String::from("gauge,quantile,peak_level_m\n");
    for (k, g) in gauges.iter().enumerate() {
        let mut col: Vec<f64> = peaks.iter().filter_map(|p| p.get(k).copied()).collect();
        col.sort_by(f64::total_cmp);
        for &q in quantiles {
            csv += &format!("{g},{q},{:.4}\n", quantile_sorted(&col, q));
        }
    }
    std::fs::write(tmp.join("gauge_peak_quantiles.csv"), csv).map_err(|e| fail(&tmp, &e))?;
    outputs.push("gauge_peak_quantiles.csv".into());
    for (name, text) in [
        (
            "warning_crossings.csv",
            crossings.summary_csv(done.len(), quantiles),
        ),
        ("warning_first_crossings.csv", crossings.members_csv()),
    ] {
        std::fs::write(tmp.join(name), text).map_err(|e| fail(&tmp, &e))?;
        outputs.push(name.into());
    }
    if out.exists() {
        std::fs::remove_dir_all(&out).map_err(|e| fail(&out, &e))?;
    }
    std::fs::rename(&tmp, &out).map_err(|e| fail(&out, &e))?;
    Ok(MergeReport {
        members: done,
        missing,
        outputs,
    })
}

/// A threshold as the merge names it: kind, place, threshold, severity.
type ThresholdKey = [String; 4];

/// Per threshold (gauge thresholds and watch areas), each member's first upward
/// crossing, for the merge.
struct Crossings {
    /// Threshold → (member, time of the first crossing, s).
    by_threshold: Vec<(ThresholdKey, Vec<(usize, f64)>)>,
}

impl Crossings {
    /// Every threshold of the basin's gauges, none crossed yet (so that a threshold no
    /// member reached is listed with probability 0).
    fn of_basin(dir: &Path) -> Result<Self> {
        let base = read_manifest(dir)?["base"]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| {
                BasinError::invalid(
                    dir.join("manifest.json"),
                    "base",
                    "is missing".to_string(),
                    "plan the ensemble again with `rivertwin ensemble plan`",
                )
            })?;
        let basin_dir = crate::Scenario::basin_dir(&base)?;
        let file: crate::config::BasinFile =
            crate::config::read_toml(&basin_dir.join("basin.toml"))?;
        let by_threshold = file
            .gauges
            .iter()
            .flat_map(|g| {
                g.thresholds.iter().map(|t| {
                    let key = [
                        "gauge".to_string(),
                        g.name.clone(),
                        t.name.clone(),
                        t.severity.as_str().to_string(),
                    ];
                    (key, Vec::new())
                })
            })
            .collect();
        Ok(Self { by_threshold })
    }

    /// A member's `summary.json` `warnings.first_crossings`.
    fn add_member(&mut self, id: usize, first: &serde_json::Value) {
        for c in first.as_array().into_iter().flatten() {
            let text = |k: &str| c[k].as_str().unwrap_or("").to_string();
            let key = [
                text("kind"),
                text("place"),
                text("threshold"),
                text("severity"),
            ];
            let time = c["time_s"].as_f64().unwrap_or(f64::NAN);
            match self.by_threshold.iter_mut().find(|(k, _)| *k == key) {
                Some((_, members)) => members.push((id, time)),
                None => self.by_threshold.push((key, vec![(id, time)])),
            }
        }
    }

    /// One row per threshold: how many members crossed it, that share, and the quantiles
    /// of the time of the first crossing (a member that never crossed counts as later
    /// than any time, so a quantile that falls among those is empty).
    fn summary_csv(&self, members: usize, quantiles: &[f64]) -> String {
        let mut header: Vec<String> = [
            "kind",
            "place",
            "threshold",
            "severity",
            "members_crossing",
            "probability",
        ]
        .map(String::from)
        .to_vec();
        header.extend(
            quantiles
                .iter()
                .map(|q| format!("first_crossing_s_p{}", (q * 100.0).round())),
        );
        let mut rows = vec![header];
        for (key, crossed) in &self.by_threshold {
            let mut times: Vec<f64> = crossed.iter().map(|&(_, t)| t).collect();
            times.resize(members, f64::INFINITY);
            times.sort_by(f64::total_cmp);
            let mut row = key.to_vec();
            row.push(crossed.len().to_string());
            row.push((crossed.len() as f64 / members as f64).to_string());
            for &q in quantiles {
                let t = quantile_sorted(&times, q);
                row.push(if t.is_finite() {
                    format!("{t:.1}")
                } else {
                    String::new()
                });
            }
            rows.push(row);
        }
        csv_text(&rows)
    }

    /// Long form: one row per member and threshold it crossed.
    fn members_csv(&self) -> String {
        let mut rows: Vec<(usize, Vec<String>)> = Vec::new();
        for (key, crossed) in &self.by_threshold {
            for &(id, t) in crossed {
                let mut row = vec![id.to_string()];
                row.extend(key.iter().cloned());
                row.push(format!("{t:.1}"));
                rows.push((id, row));
            }
        }
        rows.sort_by_key(|(id, _)| *id);
        let header = ["member", "kind", "place", "threshold", "severity", "time_s"]
            .map(String::from)
            .to_vec();
        csv_text(
            &std::iter::once(header)
                .chain(rows.into_iter().map(|(_, r)| r))
                .collect::<Vec<_>>(),
        )
    }
}

/// Rows as CSV text, quoted where a field needs it (a name with a comma).
fn csv_text(rows: &[Vec<String>]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        // Writing to memory cannot fail.
        let _ = w.write_record(r);
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Φ at known points (tables: Φ(1.96) = 0.975002, Φ(−1) = 0.158655) and Φ⁻¹ its
    /// inverse.
    #[test]
    fn the_normal_distribution() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975_002).abs() < 1e-6);
        assert!((normal_cdf(-1.0) - 0.158_655).abs() < 1e-6);
        for p in [0.01, 0.3, 0.5, 0.9] {
            assert!((normal_cdf(normal_quantile(p)) - p).abs() < 1e-9);
        }
    }

    /// A Latin hypercube puts one member in each stratum of probability, whatever the
    /// distribution: F(x) of the members, sorted, fall one in each [k/n, (k+1)/n).
    #[test]
    fn every_distribution_fills_each_stratum_once() {
        let specs = [
            "{ min = 0.5, max = 1.5 }",
            "{ min = 0.5, max = 1.5, distribution = \"triangular\", mode = 0.8 }",
            "{ min = 0.5, max = 1.5, distribution = \"normal\", mean = 1.0, sd = 0.2 }",
            // Far in a tail, above and below the mean (z from 10 to 20).
            "{ min = 1.5, max = 2.0, distribution = \"normal\", mean = 1.0, sd = 0.05 }",
            "{ min = 0.0, max = 0.5, distribution = \"normal\", mean = 1.0, sd = 0.05 }",
        ];
        for spec in specs {
            let v: toml::Value = toml::from_str(&format!("x = {spec}")).expect("toml");
            let p = ParameterSpec::deserialize(v["x"].clone()).expect("spec");
            let n = 20;
            let mut rng = SplitMix64(3);
            let mut probs: Vec<f64> = (0..n)
                .map(|k| {
                    let x = p.quantile((k as f64 + rng.unit()) / n as f64);
                    assert!((0.0..=2.0).contains(&x), "{spec}: {x}");
                    p.cdf(x)
                })
                .collect();
            probs.sort_by(f64::total_cmp);
            for (k, f) in probs.iter().enumerate() {
                assert!(
                    *f >= k as f64 / n as f64 - 1e-6 && *f < (k + 1) as f64 / n as f64 + 1e-6,
                    "{spec}: stratum {k} holds F = {f}"
                );
            }
        }
        // The triangular's peak pulls the median towards the mode.
        let v: toml::Value = toml::from_str(
            "x = { min = 0.0, max = 1.0, distribution = \"triangular\", mode = 0.2 }",
        )
        .expect("toml");
        let p = ParameterSpec::deserialize(v["x"].clone()).expect("spec");
        assert!(p.quantile(0.5) < 0.5);
    }

    #[test]
    fn merged_maps_are_known_by_their_names() {
        assert_eq!(
            MergedKind::of_file("probability_depth_over_0.5m.tif"),
            Some((MergedKind::Probability, 0.5))
        );
        assert_eq!(
            MergedKind::of_file("max_depth_m_p90.tif"),
            Some((MergedKind::Depth, 90.0))
        );
        assert_eq!(
            MergedKind::of_file("first_inundation_s_p10.tif"),
            Some((MergedKind::Arrival, 10.0))
        );
        for other in [
            "max_depth_m.tif",
            "probability_depth_over_xm.tif",
            "gauge_peaks.csv",
        ] {
            assert_eq!(MergedKind::of_file(other), None, "{other}");
        }
    }

    /// numpy.quantile(x, q) (method "linear", numpy's default), worked by hand:
    /// [1, 2, 3, 4] at 0.1 → position 0.3 → 1.3; [1, 2, 3, 4, 10] at 0.9 → position 3.6
    /// → 4 + 0.6 × 6 = 7.6; at 0.5 → 3; a single value at any q is that value.
    #[test]
    fn quantiles_follow_numpys_linear_definition() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(quantile_sorted(&[1.0, 2.0, 3.0, 4.0], 0.1), 1.3));
        assert!(close(
            quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 10.0], 0.9),
            7.6
        ));
        assert!(close(
            quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 10.0], 0.5),
            3.0
        ));
        assert!(close(
            quantile_sorted(&[1.0, 2.0, 3.0, 4.0, 10.0], 1.0),
            10.0
        ));
        assert!(close(quantile_sorted(&[5.0], 0.37), 5.0));
        // Never reached (infinite) in the upper half: the upper quantiles are too.
        let arrivals = [10.0, 20.0, f64::INFINITY, f64::INFINITY];
        assert!(close(quantile_sorted(&arrivals, 0.1), 13.0));
        assert!(quantile_sorted(&arrivals, 0.9).is_infinite());
    }
}

/// The members of the plan in `dir` without a complete result, in order.
pub fn pending(dir: &Path) -> Result<Vec<usize>> {
    Ok(planned_ids(dir)?
        .into_iter()
        .filter(|&id| !is_complete(&member_results(dir, id)))
        .collect())
}

/// The plan's `manifest.json`.
fn read_manifest(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("manifest.json");
    std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .ok_or_else(|| {
            BasinError::invalid(
                &path,
                "manifest.json",
                "is missing or unreadable".to_string(),
                "give a folder written by `rivertwin ensemble plan`",
            )
        })
}

/// The member ids of the plan in `dir`, as its manifest lists them.
fn planned_ids(dir: &Path) -> Result<Vec<usize>> {
    Ok(read_manifest(dir)?["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["id"].as_u64().map(|i| i as usize))
        .collect())
}

fn slurm_unsafe(p: &Path) -> bool {
    p.to_string_lossy()
        .chars()
        .any(|c| c.is_whitespace() || c == '\'' || c == '"')
}

/// What the Slurm scripts ask for.
#[derive(Clone, Debug)]
pub struct SlurmOptions {
    /// Members running at once (`--array=…%K`).
    pub max_parallel: usize,
    /// Threads (CPUs) per member.
    pub threads: usize,
    /// A partition to submit to, if not the cluster's default.
    pub partition: Option<String>,
    /// The rivertwin binary the nodes run.
    pub executable: PathBuf,
}

/// Time and memory to ask for one member: memory from the grid (120 B per cell, the
/// measured peak of a run rounded up, × 1.5, + 256 MB), time from the number of steps the CFL
/// condition allows for the deepest initial water (at least 2 m) over the scenario's
/// duration, at 25 M cell-updates/s per thread (below what was measured, 35–45), × 3,
/// at least 10 min.
pub fn member_estimates(base_scenario: &Path, threads: usize) -> Result<(u64, u64)> {
    let basin = crate::basin::Basin::load(&crate::scenario::Scenario::basin_dir(base_scenario)?)?;
    let (file, _) = crate::scenario::read_scenario_file(base_scenario)?;
    let grid = basin.grid();
    let cells = (grid.rows * grid.cols) as f64;
    let active = basin.active_cells() as f64;
    let memory_mb = (cells * 120.0 * 1.5 / 1e6).ceil() as u64 + 256;
    let depth = basin
        .initial_depth()?
        .values()
        .iter()
        .copied()
        .fold(2.0, f64::max);
    let dx = grid.cell_size_x().min(grid.cell_size_y());
    let dt = 0.45 * dx / (9.81 * depth).sqrt();
    let steps = file.duration_s / dt;
    let seconds = active * steps / (25e6 * threads.max(1) as f64) * 3.0;
    Ok((memory_mb, (seconds.ceil() as u64).max(600)))
}

/// Write `dir/slurm/`: `array.sbatch` (one member per array task), `merge.sbatch` and
/// `submit.sh`, which submits the array for the members without a complete result
/// (`--array=<ids>%K`) and the merge as a job that waits for it (afterany: the merge then
/// names any member that failed). Re-running `submit.sh` submits only what is missing.
pub fn write_slurm(dir: &Path, options: &SlurmOptions) -> Result<Vec<PathBuf>> {
    let fail = |p: &Path, e: &dyn std::fmt::Display| BasinError::Write {
        path: p.to_path_buf(),
        reason: e.to_string(),
    };
    let dir = std::path::absolute(dir).map_err(|e| fail(dir, &e))?;
    let base: PathBuf = read_manifest(&dir)?["base"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| {
            BasinError::invalid(
                dir.join("manifest.json"),
                "base",
                "is missing".to_string(),
                "give a folder written by `rivertwin ensemble plan`",
            )
        })?;
    if options.max_parallel == 0 || options.threads == 0 {
        return Err(BasinError::invalid(
            &dir,
            "--max-parallel / --threads",
            "is 0".to_string(),
            "give at least 1",
        ));
    }
    if slurm_unsafe(&dir) {
        return Err(BasinError::invalid(
            &dir,
            "path",
            "holds a space or a quote, which #SBATCH lines cannot carry".to_string(),
            "plan the ensemble in a folder whose path has neither",
        ));
    }
    let (memory_mb, seconds) = member_estimates(&base, options.threads)?;
    let hms = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    let q = |p: &Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let exe = q(&options.executable);
    let partition = options
        .partition
        .as_ref()
        .map_or(String::new(), |p| format!("#SBATCH --partition={p}\n"));
    let slurm = dir.join("slurm");
    std::fs::create_dir_all(slurm.join("logs")).map_err(|e| fail(&slurm, &e))?;
    let array = format!(
        "#!/bin/bash\n\
         # One ensemble member per array task (written by rivertwin ensemble slurm).\n\
         #SBATCH --job-name=rivertwin-members\n\
         {partition}\
         #SBATCH --cpus-per-task={threads}\n\
         #SBATCH --mem={memory_mb}M\n\
         #SBATCH --time={hms}\n\
         #SBATCH --output={logs}/member_%a.out\n\
         set -euo pipefail\n\
         id=$(printf '%04d' \"$SLURM_ARRAY_TASK_ID\")\n\
         exec {exe} run {dir}/members/member_$id.toml --out {dir}/runs/member_$id --force \
         --threads \"${{SLURM_CPUS_PER_TASK:-{threads}}}\"\n",
        threads = options.threads,
        // #SBATCH lines are not read by a shell: no quoting there (a path with a space
        // is refused below).
        logs = slurm.join("logs").display(),
        dir = q(&dir),
    );
    let merge = format!(
        "#!/bin/bash\n\
         # Merge the members once the array is done (written by rivertwin ensemble slurm).\n\
         #SBATCH --job-name=rivertwin-merge\n\
         {partition}\
         #SBATCH --cpus-per-task=1\n\
         #SBATCH --mem={memory_mb}M\n\
         #SBATCH --time=01:00:00\n\
         #SBATCH --output={logs}/merge.out\n\
         set -euo pipefail\n\
         exec {exe} ensemble merge {dir}\n",
        logs = slurm.join("logs").display(),
        dir = q(&dir),
    );
    let submit = format!(
        "#!/bin/bash\n\
         # Submit the members without a complete result as a job array, then the merge.\n\
         set -euo pipefail\n\
         todo=$({exe} ensemble pending {dir})\n\
         if [ -z \"$todo\" ]; then\n  echo \"every member is complete\"\n  \
         merge=$(sbatch --parsable {merge})\nelse\n  \
         array=$(sbatch --parsable --array=\"$todo%{k}\" {array})\n  \
         merge=$(sbatch --parsable --dependency=afterany:\"$array\" {merge})\n  \
         echo \"array job $array ($todo), merge job $merge\"\nfi\n\
         echo \"$merge\" > {last}\n",
        dir = q(&dir),
        k = options.max_parallel,
        array = q(&slurm.join("array.sbatch")),
        merge = q(&slurm.join("merge.sbatch")),
        last = q(&slurm.join("last_merge_job")),
    );
    let mut written = Vec::new();
    for (name, text) in [
        ("array.sbatch", array),
        ("merge.sbatch", merge),
        ("submit.sh", submit),
    ] {
        let path = slurm.join(name);
        std::fs::write(&path, text).map_err(|e| fail(&path, &e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| fail(&path, &e))?;
        }
        written.push(path);
    }
    Ok(written)
}
