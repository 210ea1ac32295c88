//! Scenario ensembles: an `ensemble.toml` names a base scenario and the parameters to vary;
//! `plan` writes one ordinary scenario file per member (it extends the base and sets its
//! own `[adjust]`) and a manifest; `run` runs the members on this machine, skipping those
//! already complete. Each member is an ordinary `rivertwin run`, the unit a scheduler runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{BasinError, Result};

/// The parameters an ensemble can vary: the scenario's `[adjust]` multipliers.
pub const PARAMETERS: [&str; 3] = ["rain_scale", "manning_scale", "inflow_scale"];

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
    },
}

/// The distribution over a range (uniform only, for now).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    #[default]
    Uniform,
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
                     \"uniform\")",
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
        if file.parameters.is_empty() {
            return Err(bad(
                "parameters",
                "is empty".into(),
                &format!("vary at least one of: {}", PARAMETERS.join(", ")),
            ));
        }
        for (name, spec) in &file.parameters {
            let key = format!("parameters.{name}");
            if !PARAMETERS.contains(&name.as_str()) {
                return Err(bad(
                    &key,
                    "is not a parameter an ensemble can vary".into(),
                    &format!("use one of: {}", PARAMETERS.join(", ")),
                ));
            }
            match spec {
                ParameterSpec::Values { values } => {
                    if values.is_empty() || values.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                        return Err(bad(
                            &key,
                            format!("has values {values:?}"),
                            "give at least one value, each finite and ≥ 0",
                        ));
                    }
                }
                ParameterSpec::Range { min, max, .. } => {
                    if !(min.is_finite() && max.is_finite() && *min >= 0.0 && min <= max) {
                        return Err(bad(
                            &key,
                            format!("has min {min} and max {max}"),
                            "give 0 ≤ min ≤ max",
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
                        let v = match &self.file.parameters[name] {
                            ParameterSpec::Range { min, max, .. } => {
                                let u = rng.unit();
                                min + (max - min) * (k as f64 + u) / n as f64
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
    for m in &members {
        let file = format!("{}.toml", m.name());
        let mut text = format!(
            "# Member {} of {}: the base scenario with the multipliers below.\n\
             extends = {}\nname = {}\n\n[adjust]\n",
            m.id,
            ensemble.path.display(),
            toml::Value::String(base.to_string_lossy().into_owned()),
            toml::Value::String(format!("{base_name} · {}", m.name())),
        );
        csv += &m.id.to_string();
        for (k, v) in &m.parameters {
            text += &format!("{k} = {v:?}\n");
            csv += &format!(",{v:?}");
        }
        csv += "\n";
        let path = members_dir.join(&file);
        std::fs::write(&path, text).map_err(|e| fail(&path, &e))?;
        planned.push(PlannedMember {
            id: m.id,
            scenario: PathBuf::from("members").join(file),
            parameters: m.parameters.clone(),
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

/// Run every member of the plan in `dir` that has no complete result yet (one after the
/// other, each on `options.threads`), into `runs/member_NNNN`. A member that fails is
/// listed with its message and the others go on; members already done are kept.
pub fn run(
    dir: &Path,
    options: &crate::runner::RunOptions,
    mut each: impl FnMut(usize, &Result<crate::runner::RunSummary>),
) -> Result<RunReport> {
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
    for id in ids {
        let out = member_results(dir, id);
        if is_complete(&out) {
            report.skipped.push(id);
            continue;
        }
        let scenario = members_dir.join(format!("member_{id:04}.toml"));
        let options = crate::runner::RunOptions {
            force: true,
            ..options.clone()
        };
        let result = crate::runner::run(&scenario, &out, &options, |_| {});
        each(id, &result);
        match result {
            Ok(_) => report.ran.push(id),
            Err(e) => report.failed.push((id, e.to_string())),
        }
    }
    Ok(report)
}
