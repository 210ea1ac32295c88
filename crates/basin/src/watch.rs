//! `rivertwin watch`: a forecast cycle each time the observed inputs grow. Each cycle is
//! a [`crate::runner::forecast`] into a folder of its own (`cycle_0001`, …), hot-started
//! from the previous cycle's state at its last observation, so a cycle only follows the
//! observations that are new. `cycles.csv` lists the cycles done; a watch started again
//! on the same folder goes on from its last cycle.
//!
//! The inputs are polled (file sizes and modification times, and the listing of frame
//! folders). A cycle starts once they have been still for one poll, so that a row or a
//! frame being written is not read half-done. A feed that is wrong (a time going back, a
//! gap, a broken row) is reported and waited on: the cycles already done stay as they
//! are.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::runner::{RunOptions, RunSummary, STATE_AT_LAST_OBSERVATION, forecast};
use crate::scenario::Scenario;

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Each cycle's lead time beyond its last observation (s).
    pub lead_s: f64,
    /// How often the inputs are looked at.
    pub poll: Duration,
    /// Stop after this many cycles (in this call); `None`: until cancelled.
    pub max_cycles: Option<usize>,
    /// Threads, log, cancel and abort flags as for a run; `from_state` starts the first
    /// cycle (when the folder holds none yet). `cancel` also ends the watch.
    pub run: RunOptions,
}

/// One forecast cycle done.
#[derive(Clone, Debug)]
pub struct Cycle {
    pub number: usize,
    pub folder: PathBuf,
    pub last_observation_s: f64,
    pub summary: RunSummary,
}

/// The file listing the cycles, in the watch folder.
pub const CYCLES_CSV: &str = "cycles.csv";
const CYCLES_HEADER: &str = "cycle,folder,last_observation_s,forecast_until_s,status,warnings,first_crossing_s,first_crossing_lead_s,first_crossing,wall_time_s\n";

/// Watch `scenario_path`'s observed inputs and write a forecast cycle into `out` each
/// time they grow; `on_cycle` hears of each. Returns the cycles done by this call.
pub fn watch(
    scenario_path: &Path,
    out: &Path,
    options: &WatchOptions,
    mut on_cycle: impl FnMut(&Cycle),
) -> Result<Vec<Cycle>> {
    if !(options.lead_s.is_finite() && options.lead_s > 0.0) {
        return Err(BasinError::invalid(
            scenario_path,
            "--until",
            format!("is {} s", options.lead_s),
            "give each cycle's lead time in seconds after the last observation, > 0",
        ));
    }
    std::fs::create_dir_all(out).map_err(|e| BasinError::Write {
        path: out.to_path_buf(),
        reason: e.to_string(),
    })?;
    let log = &options.run.log;
    let (mut number, mut last_done_s, mut state) = resume_point(out)?;
    match (last_done_s, &state) {
        (Some(t), Some(s)) => log.note(&format!(
            "going on from cycle {number} in {} (last observation {t} s, state {})",
            out.display(),
            s.display()
        )),
        _ => state = options.run.from_state.clone(),
    }
    let basin = Basin::load(&Scenario::basin_dir(scenario_path)?)?;
    let mut done = Vec::new();
    let mut inputs = InputWatch::default();
    let mut last_error = String::new();
    loop {
        if options.run.cancel.load(Ordering::SeqCst) {
            break;
        }
        if inputs.changed_and_settled() {
            match look(&basin, scenario_path) {
                Err(e) => {
                    let message = e.to_string();
                    if message != last_error {
                        log.note(&format!("waiting for the inputs to be readable: {message}"));
                        last_error = message;
                    }
                }
                Ok((scenario, t_obs)) => {
                    last_error.clear();
                    inputs.loaded(&scenario);
                    if last_done_s.is_none_or(|t| t_obs > t) {
                        number += 1;
                        let name = format!("cycle_{number:04}");
                        let folder = out.join(&name);
                        let run = RunOptions {
                            from_state: state.clone(),
                            force: false,
                            save_state: None,
                            save_state_at: Vec::new(),
                            ..options.run.clone()
                        };
                        log.note(&format!(
                            "cycle {number}: observations to {t_obs} s, forecast to {} s",
                            t_obs + options.lead_s
                        ));
                        match forecast(scenario_path, &folder, &run, options.lead_s, |_| {}) {
                            Ok(summary) => {
                                let t = summary.forecast.as_ref().map_or(t_obs, |f| f.issued_at_s);
                                append_cycle(out, number, &name, t, &summary)?;
                                if summary.is_cancelled() {
                                    break;
                                }
                                state = Some(folder.join(STATE_AT_LAST_OBSERVATION));
                                last_done_s = Some(t);
                                let cycle = Cycle {
                                    number,
                                    folder,
                                    last_observation_s: t,
                                    summary,
                                };
                                on_cycle(&cycle);
                                done.push(cycle);
                            }
                            Err(e @ BasinError::Aborted { .. }) => return Err(e),
                            Err(e) => {
                                // The cycle wrote nothing (its folder is put in place
                                // only when complete); the next change retries.
                                number -= 1;
                                log.note(&format!(
                                    "cycle failed, waiting for the inputs to change: {e}"
                                ));
                            }
                        }
                        if options.max_cycles.is_some_and(|m| done.len() >= m) {
                            break;
                        }
                    }
                }
            }
        }
        sleep(options);
    }
    Ok(done)
}

/// Sleep one poll, waking early when cancelled.
fn sleep(options: &WatchOptions) {
    let until = std::time::Instant::now() + options.poll;
    while std::time::Instant::now() < until && !options.run.cancel.load(Ordering::SeqCst) {
        std::thread::sleep(options.poll.min(Duration::from_millis(100)));
    }
}

/// What a file or a folder's entry looked like at a poll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    path: PathBuf,
    len: u64,
    modified: Option<SystemTime>,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        path: path.to_path_buf(),
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// The stamps (size, modification time) of a scenario's inputs: the scenario file,
/// every file it read, and every file in its observed folders (where new frames appear).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inputs(Vec<Stamp>);

impl Inputs {
    pub fn of(scenario: &Scenario) -> Self {
        let mut paths: Vec<PathBuf> = vec![scenario.path.clone()];
        paths.extend(scenario.inputs.iter().cloned());
        for o in &scenario.observed {
            if let Ok(entries) = std::fs::read_dir(&o.file) {
                paths.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            } else {
                paths.push(o.file.clone());
            }
        }
        paths.sort();
        paths.dedup();
        Self(paths.iter().filter_map(|p| stamp(p)).collect())
    }
}

/// Notices when a scenario's inputs have changed since it was last loaded and then held
/// still for one poll (so a row or a frame being written is not read half-done).
#[derive(Debug, Default)]
pub struct InputWatch {
    /// The scenario last loaded (its inputs are the files stamped).
    scenario: Option<Scenario>,
    at_load: Option<Inputs>,
    previous: Option<Inputs>,
}

impl InputWatch {
    /// Whether to load the scenario again: its inputs changed since the last successful
    /// load and did not change since the previous poll. True while nothing has loaded
    /// yet. A failed load (a bad row, or a folder listed while files were moving into it)
    /// leaves the inputs "changed", so the next settled poll tries again; a feed that
    /// stays broken is re-read at every poll.
    pub fn changed_and_settled(&mut self) -> bool {
        let Some(scenario) = &self.scenario else {
            return true;
        };
        let now = Inputs::of(scenario);
        let settled = self.previous.as_ref() == Some(&now);
        let changed = self.at_load.as_ref() != Some(&now);
        self.previous = Some(now);
        settled && changed
    }

    /// The scenario was loaded: the inputs seen at the poll before loading are what it
    /// reflects (a change made while it loaded shows at the next poll; after the first
    /// load, the next settled poll loads once more to be sure).
    pub fn loaded(&mut self, scenario: &Scenario) {
        self.at_load = self.previous.clone();
        self.scenario = Some(scenario.clone());
    }
}

/// The scenario as it is now on `basin`, and the time of its last observation.
pub fn look(basin: &Basin, scenario_path: &Path) -> Result<(Scenario, f64)> {
    let scenario = Scenario::load(scenario_path, basin)?;
    let t_obs = scenario.last_observation_s().ok_or_else(|| {
        BasinError::invalid(
            scenario_path,
            "observed",
            "no series of this scenario is fed by observations",
            "give a hydrograph, stage or rain as { observed = \"obs.csv\", forecast = … } or rain frames as [rain.frames] observed = \"radar/\" (see docs/forecast.md)",
        )
    })?;
    Ok((scenario, t_obs))
}

/// Where a watch folder stands: the highest cycle number in `out/cycles.csv`, and the
/// last complete cycle's last observation and state file ((0, None, None) for a new
/// folder). A cancelled cycle is numbered but not gone on from.
fn resume_point(out: &Path) -> Result<(usize, Option<f64>, Option<PathBuf>)> {
    let path = out.join(CYCLES_CSV);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok((0, None, None));
    };
    let mut number = 0;
    let mut complete = None;
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        let parsed = (|| {
            let n: usize = fields.first()?.parse().ok()?;
            let folder = fields.get(1)?;
            let t: f64 = fields.get(2)?.parse().ok()?;
            Some((
                n,
                t,
                out.join(folder).join(STATE_AT_LAST_OBSERVATION),
                fields.get(4)?,
            ))
        })();
        let Some((n, t, state, status)) = parsed else {
            return Err(BasinError::invalid(
                &path,
                "line",
                format!("`{line}` does not name a cycle"),
                "remove the broken line (or the whole watch folder to start afresh)",
            ));
        };
        number = number.max(n);
        if *status == "complete" && state.exists() {
            complete = Some((t, state));
        }
    }
    Ok(match complete {
        Some((t, state)) => (number, Some(t), Some(state)),
        None => (number, None, None),
    })
}

/// Add a cycle's line to `cycles.csv` (written whole to a temporary file and renamed, so
/// the list is never half-written).
fn append_cycle(out: &Path, number: usize, name: &str, t: f64, s: &RunSummary) -> Result<()> {
    let path = out.join(CYCLES_CSV);
    let mut text = std::fs::read_to_string(&path).unwrap_or_else(|_| CYCLES_HEADER.to_string());
    // The first threshold or area crossed upwards after the issue time.
    let first = s
        .warnings
        .first_crossings
        .iter()
        .find(|c| c.lead_time_s > 0.0);
    text.push_str(&format!(
        "{number},{name},{t},{},{},{},{},{},{},{:.3}\n",
        s.sim_time_s,
        s.status,
        s.warnings.count,
        first.map_or(String::new(), |c| c.time_s.to_string()),
        first.map_or(String::new(), |c| c.lead_time_s.to_string()),
        first.map_or(String::new(), |c| format!(
            "{} {} ({})",
            c.place,
            c.threshold,
            c.severity.as_str()
        )
        .replace(',', ";")),
        s.wall_time_s
    ));
    let tmp = out.join(format!(".{CYCLES_CSV}.partial"));
    let write = |p: &Path| {
        std::fs::write(p, &text).map_err(|e| BasinError::Write {
            path: p.to_path_buf(),
            reason: e.to_string(),
        })
    };
    write(&tmp)?;
    std::fs::rename(&tmp, &path).map_err(|e| BasinError::Write {
        path: path.clone(),
        reason: e.to_string(),
    })
}
