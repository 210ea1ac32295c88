//! The headless runner: load a scenario and its basin, run it through the run engine
//! ([`crate::engine::Run`]), write the results.
//! Results go to a temporary folder next to the output and are renamed into place when
//! complete, so an output folder is never left half-written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use hydro::{Solver, WaterBalance};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::basin::Basin;
use crate::engine::{Event, Resume, Run};
use crate::error::{BasinError, Result};
use crate::results::{envelopes, write_layers};
use crate::scenario::Scenario;
use crate::warnings::WarningsSummary;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Worker threads; 0 uses every core, more than the machine has are capped to it.
    pub threads: usize,
    /// Replace an existing output folder.
    pub force: bool,
    /// Set from another thread (e.g. on Ctrl-C) to stop after the current step; the
    /// results so far are written and marked incomplete.
    pub cancel: Arc<AtomicBool>,
    /// Set from another thread (a second Ctrl-C) to abandon the run: it stops after the
    /// current step or file, removes its temporary folder and returns
    /// [`BasinError::Aborted`]; nothing is written or replaced.
    pub abort: Arc<AtomicBool>,
    /// Where the run's notes go (assumptions, capped settings, stale folders removed).
    pub log: Log,
    /// Continue from this saved state (`--from-state`) instead of the basin's initial
    /// state, as if the run had never stopped.
    pub from_state: Option<PathBuf>,
    /// Save the state reached here at the end (`--save-state`), also when cancelled.
    pub save_state: Option<PathBuf>,
    /// Also save the state at these simulated times, as `state_<t>s.nc` in the results
    /// folder (`--save-state-at`); the run lands on each, as on its output times.
    pub save_state_at: Vec<f64>,
}

/// A sink for the run's notes, e.g. the command line's stderr.
#[derive(Clone, Default)]
pub struct Log(Option<Arc<LogSink>>);

type LogSink = dyn Fn(&str) + Send + Sync;

impl Log {
    pub fn new(sink: impl Fn(&str) + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(sink)))
    }

    pub fn note(&self, message: &str) {
        if let Some(sink) = &self.0 {
            sink(message);
        }
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Log(sink)"
        } else {
            "Log(none)"
        })
    }
}

/// The status a cancelled run's `summary.json` carries.
pub const STATUS_CANCELLED: &str = "cancelled: partial result up to sim_time_s";

/// Progress of a run, passed to the caller after every output interval and every few
/// wall-clock seconds.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub sim_time_s: f64,
    pub duration_s: f64,
    pub wall_time_s: f64,
    pub steps: u64,
    pub cell_updates_per_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct InputFile {
    pub path: PathBuf,
    pub sha256: String,
}

/// A gauge's peak in `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct GaugePeakSummary {
    pub name: String,
    pub peak_level_m: f64,
    pub peak_depth_m: f64,
    pub peak_time_s: f64,
}

/// `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    pub status: String,
    pub basin: String,
    pub scenario: String,
    pub inputs: Vec<InputFile>,
    pub scheme: String,
    pub solver: hydro::SolverParams,
    pub hazard: crate::config::HazardMethod,
    pub rows: usize,
    pub cols: usize,
    pub cell_size_m: (f64, f64),
    pub crs: String,
    pub active_cells: usize,
    /// Solver steps taken by this run (after a hot start: since the state).
    pub steps: u64,
    /// The state this run continued from (`--from-state`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<ResumedFrom>,
    pub sim_time_s: f64,
    pub duration_s: f64,
    pub wall_time_s: f64,
    pub cell_updates_per_s: f64,
    pub threads: usize,
    pub water_balance: WaterBalance,
    pub relative_volume_error: f64,
    pub max_depth_m: f64,
    pub max_speed_m_s: f64,
    pub outputs: Vec<String>,
    /// Each gauge's peak level (followed at every step) and when it came.
    pub gauges: Vec<GaugePeakSummary>,
    /// Threshold and watch-area crossings, with lead times from the issue time.
    pub warnings: WarningsSummary,
    /// Each structure's volume moved and peak flow.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<crate::structures::StructureTotals>,
    /// Every structure rule that fired, with its time and reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<crate::structures::Operation>,
    /// Each flood detention area: when it was opened, what it holds, its peak (at the
    /// output times).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detention_areas: Vec<crate::structures::DetentionSummary>,
    /// For a forecast: when it was issued (the last observation), its lead time and what
    /// each observed series does after its last observation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast: Option<ForecastSummary>,
    /// Upstream catchments: rain, evaporation and runoff (mm), peak discharge and time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub catchments: Vec<crate::catchments::CatchmentFlow>,
    /// Assumptions made on the way (e.g. metres for a DEM without a CRS).
    pub notes: Vec<String>,
    pub versions: Versions,
}

impl RunSummary {
    pub fn is_cancelled(&self) -> bool {
        self.status == STATUS_CANCELLED
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct ForecastSummary {
    pub issued_at_s: f64,
    pub lead_s: f64,
    pub series: Vec<ObservedSeries>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ObservedSeries {
    pub key: String,
    pub observed: PathBuf,
    pub last_observation_s: f64,
    pub after_last_observation: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct ResumedFrom {
    pub state: PathBuf,
    pub sim_time_s: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Versions {
    pub rivertwin: &'static str,
    pub gdal: String,
}

pub(crate) fn sha256_of(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|cause| BasinError::Io {
        path: path.to_path_buf(),
        cause,
        fix: "check the file is readable",
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Build a ready solver for a basin and scenario.
pub fn build_solver(basin: &Basin, scenario: &Scenario) -> Result<Solver> {
    let at_scenario = |cause| BasinError::Solver {
        path: scenario.path.clone(),
        cause,
    };
    // Weirs and gates stand on walls: their cells are closed to the sweep.
    let mut active = std::borrow::Cow::Borrowed(&basin.active);
    for s in &scenario.structures {
        for &cell in &s.walls {
            active.to_mut()[cell] = false;
        }
    }
    let adjust = scenario.file.adjust;
    let mut manning = basin.manning_n.values();
    if adjust.manning_scale != 1.0 {
        manning = ndarray::CowArray::from(manning.mapv(|n| n * adjust.manning_scale));
    }
    let mut solver = Solver::new(
        basin.hydro_grid(),
        basin.bed_m.values().view(),
        manning.view(),
        Some(active.view()),
        scenario.boundaries.clone(),
        scenario.file.solver,
    )
    .map_err(at_scenario)?;
    if adjust.initial_level_change_m == 0.0 {
        solver.set_depth(basin.initial_depth()?.values().view())
    } else {
        let depth = basin.initial_depth_with_level_change(adjust.initial_level_change_m)?;
        solver.set_depth(depth.view())
    }
    .map_err(at_scenario)?;
    if let Some(losses) = crate::losses::solver_losses(basin) {
        solver.set_losses(Some(losses)).map_err(at_scenario)?;
        solver
            .set_loss_model(basin.loss_model.clone())
            .map_err(at_scenario)?;
    }
    solver
        .set_uniform_rain(scenario.rain_mm_per_h.clone())
        .map_err(at_scenario)?;
    solver
        .set_inflow_scale(adjust.inflow_scale)
        .map_err(at_scenario)?;
    for p in &scenario.point_sources {
        solver.add_point_source(p.clone()).map_err(at_scenario)?;
    }
    for b in &scenario.breaches {
        solver.add_breach(b.clone()).map_err(at_scenario)?;
    }
    for (i, s) in scenario.structures.iter().enumerate() {
        let index = solver
            .add_structure(s.structure.clone())
            .map_err(at_scenario)?;
        debug_assert_eq!(index, i);
        solver
            .set_structure_at_once(index, s.setting)
            .map_err(at_scenario)?;
    }
    Ok(solver)
}

/// What a run does: a plain run to the scenario's end, or a forecast.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Plain,
    /// Follow the observations to the last one, then run `lead_s` beyond it as a forecast
    /// issued there.
    Forecast {
        lead_s: f64,
    },
}

/// Run `scenario_path` and write its results to `out`.
pub fn run(
    scenario_path: &Path,
    out: &Path,
    options: &RunOptions,
    progress: impl FnMut(&Progress) + Send,
) -> Result<RunSummary> {
    run_mode(scenario_path, out, options, Mode::Plain, progress)
}

/// `rivertwin forecast`: from `options.from_state` (or the basin's initial state), follow
/// the scenario's observed series to their last observation, saving the state there as
/// `state_last_observation.nc` in the results; then run `lead_s` beyond it, the forecast
/// tails taking over, as a forecast issued at the last observation (lead times count from
/// it). Results as for [`run`], plus a `forecast` section in `summary.json`.
pub fn forecast(
    scenario_path: &Path,
    out: &Path,
    options: &RunOptions,
    lead_s: f64,
    progress: impl FnMut(&Progress) + Send,
) -> Result<RunSummary> {
    if !(lead_s.is_finite() && lead_s > 0.0) {
        return Err(BasinError::invalid(
            scenario_path,
            "--until",
            format!("is {lead_s} s"),
            "give the forecast's lead time in seconds after the last observation, > 0",
        ));
    }
    run_mode(
        scenario_path,
        out,
        options,
        Mode::Forecast { lead_s },
        progress,
    )
}

/// The state file a forecast leaves in its results: the state at the last observation,
/// where the next forecast cycle starts.
pub const STATE_AT_LAST_OBSERVATION: &str = "state_last_observation.nc";

fn run_mode(
    scenario_path: &Path,
    out: &Path,
    options: &RunOptions,
    mode: Mode,
    mut progress: impl FnMut(&Progress) + Send,
) -> Result<RunSummary> {
    if out.file_name().is_none() {
        return Err(BasinError::invalid(
            out,
            "--out",
            "is not a folder name of its own (e.g. `.` or `..`)",
            "name a new folder for the results, e.g. --out results/run1",
        ));
    }
    existing_output(out, options.force)?;
    let basin = Basin::load(&Scenario::basin_dir(scenario_path)?)?;
    let scenario = Scenario::load(scenario_path, &basin)?;
    for note in &basin.notes {
        options.log.note(note);
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let threads = match options.threads {
        0 => cores,
        n if n > cores => {
            options.log.note(&format!(
                "--threads {n} is more than this machine's {cores} cores; using {cores}"
            ));
            cores
        }
        n => n,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| {
            BasinError::invalid(
                scenario_path,
                "--threads",
                e.to_string(),
                "give a thread count ≥ 0",
            )
        })?;
    let threads = pool.current_num_threads();
    remove_stale_partials(out, &options.log);
    pool.install(|| run_in_pool(basin, scenario, out, options, mode, threads, &mut progress))
}

fn run_in_pool(
    basin: Basin,
    scenario: Scenario,
    out: &Path,
    options: &RunOptions,
    mode: Mode,
    threads: usize,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<RunSummary> {
    let last_observation_s = scenario.last_observation_s();
    let scenario_path = scenario.path.clone();
    let mut run = Run::new(Arc::new(basin), Arc::new(scenario))?;
    // This run is not started again: the basin's copy of the initial depth can go
    // (4 B per cell of the peak for a Float32 depth raster, or for none).
    run.give_back_initial_depth();
    let follow_until = match mode {
        Mode::Plain => None,
        Mode::Forecast { lead_s } => {
            let t_obs = last_observation_s.ok_or_else(|| {
                BasinError::invalid(
                    &scenario_path,
                    "observed",
                    "no series of this scenario is fed by observations",
                    "give a hydrograph, stage or rain as { observed = \"obs.csv\", forecast = \"forecast.csv\" } (see docs/forecast.md)",
                )
            })?;
            run.set_end_s(t_obs + lead_s);
            Some(t_obs)
        }
    };
    if let Some(state) = &options.from_state {
        run.restore_state(state, Resume::Continue)?;
        options.log.note(&format!(
            "continuing from {} at t = {} s",
            state.display(),
            run.sim_time_s()
        ));
    }
    if let Some(t_obs) = follow_until
        && run.sim_time_s() > t_obs
    {
        return Err(BasinError::invalid(
            options.from_state.clone().unwrap_or_default(),
            "sim_time_s",
            format!(
                "is {} s, after the last observation ({t_obs} s)",
                run.sim_time_s()
            ),
            "start a forecast from a state at or before the last observation",
        ));
    }
    let mut save_at = options.save_state_at.clone();
    save_at.sort_by(f64::total_cmp);
    save_at.dedup();
    if let Some(&t) = save_at
        .iter()
        .find(|&&t| !(t.is_finite() && t > run.sim_time_s() && t <= run.duration_s()))
    {
        return Err(BasinError::invalid(
            run.scenario().path.clone(),
            "--save-state-at",
            format!("has {t} s"),
            format!(
                "give times after the start ({} s) and at most the duration ({} s)",
                run.sim_time_s(),
                run.duration_s()
            ),
        ));
    }

    // Write into a temporary sibling folder; rename at the end.
    let tmp = partial_folder(out);
    std::fs::create_dir_all(&tmp).map_err(|e| BasinError::Write {
        path: tmp.clone(),
        reason: e.to_string(),
    })?;
    let aborted = || {
        if options.abort.load(Ordering::SeqCst) {
            Err(BasinError::Aborted {
                path: out.to_path_buf(),
            })
        } else {
            Ok(())
        }
    };
    // Wall time of the whole run, following included (its steps count in the speed).
    let begun = Instant::now();
    let followed = match follow_until {
        Some(t_obs) => follow(&mut run, t_obs, &tmp, options, progress),
        None => Ok(false),
    };
    let result = followed
        .and_then(|cancelled| {
            if cancelled {
                Ok((0.0, true))
            } else {
                run_steps(&mut run, &tmp, options, &save_at, progress)
            }
        })
        .and_then(|(wall, cancelled)| {
            let wall = begun.elapsed().as_secs_f64().max(wall);
            aborted()?;
            let status = if cancelled {
                STATUS_CANCELLED
            } else {
                "complete"
            };
            // The step buffers are not needed to write the results: their memory goes
            // back first, so that the writer's own does not add to the run's peak.
            run.solver_mut().release_step_buffers();
            let summary = run.write_results(&tmp, wall, status, threads)?;
            if let Some(path) = &options.save_state {
                run.save_state(path)?;
                options.log.note(&format!(
                    "state at t = {} s saved to {}",
                    run.sim_time_s(),
                    path.display()
                ));
            }
            Ok(summary)
        });
    let placed = result.and_then(|summary| {
        aborted()?;
        put_in_place(&tmp, out, options.force).map(|()| summary)
    });
    if placed.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    placed
}

/// The hidden sibling folder a run of this process writes `out` into before renaming it
/// into place.
pub fn partial_folder(out: &Path) -> PathBuf {
    sibling(out, "partial")
}

/// `.<name>.<what>-<pid>` beside `out`.
fn sibling(out: &Path, what: &str) -> PathBuf {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    parent.join(format!(".{name}.{what}-{}", std::process::id()))
}

/// The process id in a temporary folder name `.<name>.<what>-<pid>`.
fn temporary_folder_pid(name: &str, what: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(&format!(".{what}-"))?;
    tail.parse().ok()
}

/// Remove the temporary folders that runs killed before they could clean up (SIGKILL,
/// a power cut) left beside `out`: `.partial-<pid>` folders whose process no longer
/// exists. A `.replaced-<pid>` folder (an earlier result moved aside where the file
/// system cannot exchange folders atomically) may be the only copy of that result: it is
/// kept and reported. Only on systems with /proc, where a process's existence can be told.
pub fn remove_stale_partials(out: &Path, log: &Log) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let gone =
            |pid: u32| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
        if temporary_folder_pid(&name, "replaced").is_some_and(gone) {
            log.note(&format!(
                "{} holds a result moved aside by a run that was killed while replacing it; rename it back if it is the one you want",
                entry.path().display()
            ));
            continue;
        }
        let Some(pid) = temporary_folder_pid(&name, "partial").filter(|&p| gone(p)) else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir())
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            log.note(&format!(
                "removed {}, left by an earlier run (process {pid}) that was killed",
                entry.path().display()
            ));
        }
    }
}

/// Move the finished results from `tmp` to `out`. An existing `out` (which may have
/// appeared during the run) is replaced only with `force`, and atomically: the two
/// folders are exchanged in one step (Linux `renameat2(RENAME_EXCHANGE)`), so at every
/// moment `out` holds either the old complete result or the new one; the old one is
/// deleted afterwards. Without `force`, `out` is created only if nothing took its name
/// meanwhile (`RENAME_NOREPLACE`).
pub fn put_in_place(tmp: &Path, out: &Path, force: bool) -> Result<()> {
    let write_err = |path: &Path, reason: String| BasinError::Write {
        path: path.to_path_buf(),
        reason,
    };
    if existing_output(out, force)? {
        exchange(tmp, out)
            .map_err(|e| write_err(out, format!("cannot swap in the new results: {e}")))?;
        // `tmp` now holds the old results.
        std::fs::remove_dir_all(tmp).map_err(|e| {
            write_err(
                tmp,
                format!("the new results are in place but the old ones could not be deleted: {e}"),
            )
        })
    } else {
        rename_no_replace(tmp, out).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                BasinError::OutputExists {
                    path: out.to_path_buf(),
                }
            } else {
                write_err(out, e.to_string())
            }
        })
    }
}

/// Whether the output folder exists (and may be replaced): an error if it is a file or
/// link, or exists without `force`.
fn existing_output(out: &Path, force: bool) -> Result<bool> {
    let Ok(meta) = std::fs::symlink_metadata(out) else {
        return Ok(false);
    };
    if !meta.is_dir() {
        return Err(BasinError::invalid(
            out,
            "--out",
            "is an existing file (or link), not a results folder",
            "name a folder for the results; --force only replaces an earlier results folder",
        ));
    }
    if !force {
        return Err(BasinError::OutputExists {
            path: out.to_path_buf(),
        });
    }
    Ok(true)
}

#[cfg(target_os = "linux")]
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call;
    // renameat2 reads them and touches no other memory of this process.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether a renameat2 error means the file system (or kernel) lacks the flag.
#[cfg(target_os = "linux")]
fn unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::ENOTSUP)
    )
}

/// Exchange two existing folders atomically. Where the file system cannot (not Linux, or
/// no RENAME_EXCHANGE), fall back to moving `out` aside and `tmp` in, moving `out` back
/// if the second rename fails.
fn exchange(tmp: &Path, out: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    match renameat2(tmp, out, libc::RENAME_EXCHANGE) {
        Err(e) if unsupported(&e) => {}
        other => return other,
    }
    let aside = sibling(out, "replaced");
    std::fs::rename(out, &aside)?;
    if let Err(e) = std::fs::rename(tmp, out) {
        let _ = std::fs::rename(&aside, out);
        return Err(e);
    }
    std::fs::rename(&aside, tmp)
}

/// Rename `tmp` to `out`, failing with `AlreadyExists` if `out` exists (a plain rename
/// would silently replace an empty folder).
fn rename_no_replace(tmp: &Path, out: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    match renameat2(tmp, out, libc::RENAME_NOREPLACE) {
        Err(e) if unsupported(&e) => {}
        other => return other,
    }
    if out.exists() {
        return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(tmp, out)
}

/// A forecast's first part: step `run` to the last observation `t_obs` (on the observed
/// series), save the state there into `dir`, and issue the forecast from it. `true` when
/// cancelled on the way.
fn follow(
    run: &mut Run,
    t_obs: f64,
    dir: &Path,
    options: &RunOptions,
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<bool> {
    let started = Instant::now();
    while run.sim_time_s() < t_obs {
        if options.cancel.load(Ordering::SeqCst) || options.abort.load(Ordering::SeqCst) {
            return Ok(true);
        }
        for event in run.step(Some(t_obs))? {
            if let Event::Output { .. } = event {
                let wall = started.elapsed().as_secs_f64();
                progress(&Progress {
                    sim_time_s: run.sim_time_s(),
                    duration_s: run.duration_s(),
                    wall_time_s: wall,
                    steps: run.steps_this_run(),
                    cell_updates_per_s: 0.0,
                });
            }
        }
    }
    run.save_state(&dir.join(STATE_AT_LAST_OBSERVATION))?;
    options.log.note(&format!(
        "followed the observations to t = {t_obs} s; forecast issued there, {} s ahead",
        run.duration_s() - t_obs
    ));
    run.issue_now();
    Ok(false)
}

/// Step `run` to its end (or until cancelled or aborted: `true` in the result), writing depth
/// snapshots into `dir` at the output times and reporting progress.
fn run_steps(
    run: &mut Run,
    dir: &Path,
    options: &RunOptions,
    save_at: &[f64],
    progress: &mut (dyn FnMut(&Progress) + Send),
) -> Result<(f64, bool)> {
    let mut saves = save_at.iter().copied().peekable();
    let duration = run.duration_s();
    let cells = run.active_cells() as f64;
    let snapshots = run.scenario().file.depth_snapshots;
    let mut stack = if run.scenario().file.time_stack {
        let mut stack = crate::timestack::TimeStack::create(dir, run)?;
        stack.record(run)?;
        Some(stack)
    } else {
        None
    };
    let started = Instant::now();
    let mut last_report = 0.0;
    let report = |run: &Run, started: &Instant| {
        let wall = started.elapsed().as_secs_f64();
        let steps = run.steps_this_run();
        Progress {
            sim_time_s: run.sim_time_s(),
            duration_s: duration,
            wall_time_s: wall,
            steps,
            cell_updates_per_s: if wall > 0.0 {
                steps as f64 * cells / wall
            } else {
                0.0
            },
        }
    };
    while !run.is_finished() {
        // An abort stops here too; the caller sees its flag and writes nothing.
        if options.cancel.load(Ordering::SeqCst) || options.abort.load(Ordering::SeqCst) {
            return Ok((started.elapsed().as_secs_f64(), true));
        }
        for event in run.step(saves.peek().copied())? {
            match event {
                Event::Output { index, .. } => {
                    if snapshots {
                        run.write_depth_snapshot(dir, index)?;
                    }
                    if let Some(stack) = &mut stack {
                        stack.record(run)?;
                    }
                    progress(&report(run, &started));
                }
                Event::Warning { index } => {
                    options.log.note(&run.watch().events[index].describe());
                }
                Event::Operation { index } => {
                    let o = &run.operations().log[index];
                    options.log.note(&format!(
                        "t = {:.0} s: {} {} ({})",
                        o.time_s, o.structure, o.action, o.reason
                    ));
                }
                Event::BedChanged | Event::Finished => {}
            }
        }
        if saves.peek().is_some_and(|&t| run.sim_time_s() >= t) {
            let t = run.sim_time_s();
            run.save_state(&dir.join(format!("state_{t}s.nc")))?;
            saves.next();
        }
        let wall = started.elapsed().as_secs_f64();
        if wall - last_report > 1.0 {
            last_report = wall;
            progress(&report(run, &started));
        }
    }
    // (A cancelled run's stack is closed when dropped, with the times not reached left
    // at the fill value.)
    if let Some(stack) = stack {
        stack.finish()?;
    }
    Ok((started.elapsed().as_secs_f64(), false))
}

/// Write the result GeoTIFFs, `gauges.csv` and `summary.json` of the state `solver` has
/// reached into the existing folder `dir`. The headless runner calls it at the end of a
/// run; the app calls it for a snapshot of a live run. `status` goes into the summary.
pub fn write_results(
    run: &Run,
    dir: &Path,
    wall: f64,
    status: &str,
    threads: usize,
) -> Result<RunSummary> {
    let (basin, scenario, solver) = (&**run.basin(), &**run.scenario(), run.solver());
    let (gauges, watch) = (run.gauges(), run.watch());
    let steps = run.steps_this_run();
    let mut outputs = write_layers(dir, basin, solver, scenario.file.hazard)?;
    let env = envelopes(solver);
    gauges.write(&dir.join("gauges.csv"), basin)?;
    outputs.push("gauges.csv".into());
    watch.write_csv(&dir.join("warnings.csv"))?;
    outputs.push("warnings.csv".into());
    if !scenario.structures.is_empty() {
        run.structure_records().write(
            &dir.join("structures.csv"),
            &scenario.structures,
            &scenario.detention_areas,
        )?;
        outputs.push("structures.csv".into());
        crate::structures::write_operations(&dir.join("operations.csv"), &run.operations().log)?;
        outputs.push("operations.csv".into());
    }
    if dir.join(crate::timestack::TIME_STACK).is_file() {
        outputs.push(crate::timestack::TIME_STACK.into());
    }
    outputs.push("summary.json".into());
    let mut inputs = Vec::new();
    for path in basin
        .inputs
        .iter()
        .chain(std::iter::once(&scenario.path))
        .chain(&scenario.inputs)
    {
        inputs.push(InputFile {
            path: path.clone(),
            sha256: sha256_of(path)?,
        });
    }
    let active_cells = basin.active_cells();
    let summary_state = solver.summary();
    let balance = solver.balance();
    let summary = RunSummary {
        status: status.to_string(),
        basin: basin.file.name.clone(),
        scenario: scenario.file.name.clone(),
        inputs,
        scheme: scheme_description(solver.params()),
        solver: *solver.params(),
        hazard: scenario.file.hazard,
        rows: basin.grid().rows,
        cols: basin.grid().cols,
        cell_size_m: (basin.grid().cell_size_x(), basin.grid().cell_size_y()),
        crs: crate::raster::crs_label(&basin.dem.crs_wkt),
        active_cells,
        steps,
        resumed_from: run.resumed_from().map(|(path, t)| ResumedFrom {
            state: path.to_path_buf(),
            sim_time_s: t,
        }),
        sim_time_s: solver.sim_time_s(),
        duration_s: run.duration_s(),
        wall_time_s: wall,
        cell_updates_per_s: if wall > 0.0 {
            steps as f64 * active_cells as f64 / wall
        } else {
            0.0
        },
        threads,
        water_balance: balance,
        relative_volume_error: balance.relative_error(),
        max_depth_m: env
            .max_depth_m
            .iter()
            .map(|&v| f64::from(v))
            .fold(summary_state.max_depth_m, f64::max),
        max_speed_m_s: env
            .max_speed_m_s
            .iter()
            .map(|&v| f64::from(v))
            .fold(0.0, f64::max),
        outputs,
        gauges: basin
            .gauges
            .iter()
            .zip(&gauges.peaks)
            .map(|(g, p)| GaugePeakSummary {
                name: g.name.clone(),
                peak_level_m: p.level_m,
                peak_depth_m: p.depth_m,
                peak_time_s: p.time_s,
            })
            .collect(),
        warnings: watch.summary(),
        structures: crate::structures::totals(
            &scenario.structures,
            solver,
            run.structure_records(),
        ),
        operations: run.operations().log.clone(),
        detention_areas: crate::structures::detention_summaries(run),
        catchments: scenario.catchments.clone(),
        forecast: run.issued_at_s().map(|t| ForecastSummary {
            issued_at_s: t,
            lead_s: run.duration_s() - t,
            series: scenario
                .observed
                .iter()
                .map(|o| ObservedSeries {
                    key: o.key.clone(),
                    observed: o.file.clone(),
                    last_observation_s: o.last_s,
                    after_last_observation: o.tail.describe(),
                })
                .collect(),
        }),
        notes: basin.notes.clone(),
        versions: Versions {
            rivertwin: env!("CARGO_PKG_VERSION"),
            gdal: gdal::version::version_info("RELEASE_NAME"),
        },
    };
    let path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary).map_err(|e| BasinError::Write {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(|e| BasinError::Write {
        path,
        reason: e.to_string(),
    })?;
    Ok(summary)
}

/// The scheme a run used, in words, for its summary.
fn scheme_description(p: &hydro::SolverParams) -> String {
    use hydro::{Reconstruction::*, Scheme::*, TimeIntegration::*};
    let order = match (p.scheme, p.time_integration) {
        (Fv1, _) => "first order",
        (Fv2, Hancock) => "second order (MUSCL, minmod + surface gradient; MUSCL-Hancock)",
        (Fv2, Heun) => "second order (MUSCL, minmod + surface gradient; Heun)",
    };
    let reconstruction = match p.reconstruction {
        Audusse => "hydrostatic reconstruction (Audusse 2004)",
        Subcell => "subcell hydrostatic reconstruction (Chen & Noelle 2017)",
        Energy => {
            "subcell hydrostatic reconstruction (Chen & Noelle 2017) with moving-water face \
             states (Noelle, Xing & Shu 2007)"
        }
    };
    format!("finite volume, {order}, HLLC + {reconstruction}, semi-implicit Manning")
}
