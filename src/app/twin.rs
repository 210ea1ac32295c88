//! The live twin: one scenario of a basin run by the solver on its own thread. The app
//! sends [`Command`]s and picks up the latest [`Snapshot`]; neither side ever waits for
//! the other (the snapshot slot is a mutex held only to swap an `Arc`). Nothing here knows
//! about bevy, so the worker can be driven and tested on its own.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use basin::results::GaugeRecords;
use basin::warnings::Watch;
use basin::{Basin, Event, Run, Scenario};
use hydro::{Breach, BreachStatus, BreachTrigger, Solver, TimeSeries, WaterBalance};
use ndarray::{Array2, Zip};
use serde::Serialize;

/// How fast the simulation runs against the wall clock.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Speed {
    /// Simulated seconds per wall-clock second.
    RealTime(f64),
    /// As many steps as the machine allows.
    AsFastAsPossible,
}

/// What the app asks of the worker.
#[derive(Debug)]
pub enum Command {
    Play,
    Pause,
    /// One solver step (when paused).
    Step,
    SetSpeed(Speed),
    /// Stop exactly at this simulated time (a step lands on it), or never (None).
    PauseAt(Option<f64>),
    /// Back to t = 0 with the scenario as loaded (steering kept).
    Reset,
    /// Replace the scenario's rain by a constant intensity (mm/h), or give it back (None).
    SetRain(Option<f64>),
    /// Factor on every inflow hydrograph.
    SetInflowScale(f64),
    /// Factor on Manning's n of every cell.
    SetManningScale(f64),
    /// Start one of the scenario's breaches now.
    TriggerBreach(usize),
    /// A new breach along a line (map coordinates), starting now.
    DrawnBreach(DrawnBreach),
    /// Record depth, level and speed at this cell over time.
    SetProbe(Option<(usize, usize)>),
    /// Write the result bundle of the current state into a new folder.
    Export(ExportRequest),
    /// Live mode on or off: follow the scenario's observed series as they grow and run
    /// the forecast ahead of the last observation (see [`LiveStatus`]).
    SetLive(bool),
    /// Operate a structure by hand: a gate's opening, a pump on or off, a release.
    OperateStructure {
        index: usize,
        setting: hydro::StructureSetting,
    },
    /// Give a structure back to its rules.
    HandBackStructure(usize),
}

/// A structure as the app shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct StructureState {
    pub name: String,
    pub kind: &'static str,
    pub setting: hydro::StructureSetting,
    pub flow: hydro::StructureFlow,
    /// A gate's largest opening (m).
    pub max_opening_m: Option<f64>,
    /// Whether it has rules (a schedule, level rules, a release rule).
    pub has_rules: bool,
}

/// Live mode: the run follows the observations to the last one ("now") as fast as it
/// can, issues a forecast there and plays it ahead; when the observed files grow, it goes
/// back to the state at the previous last observation and follows the new ones.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveStatus {
    /// The last observation followed to (s), once reached.
    pub last_observation_s: Option<f64>,
    /// Following the observations to this time now (before the forecast is issued).
    pub following_to_s: Option<f64>,
    /// How many times new observations were taken in.
    pub updates: u32,
    /// Why the newest observations could not be taken in (a bad row …); the run goes on
    /// with the ones before.
    pub problem: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DrawnBreach {
    /// Map coordinates (the basin's CRS) of the two ends.
    pub line: Vec<[f64; 2]>,
    /// Depth below the lowest crest cell the breach cuts to (m).
    pub depth_m: f64,
    pub formation_time_s: f64,
}

#[derive(Debug)]
pub struct ExportRequest {
    pub folder: PathBuf,
    /// The view as a PNG file's bytes, when there is a window to capture.
    pub screenshot_png: Option<Vec<u8>>,
    /// Anything the view adds to the bundle's description (layer, camera …).
    pub view: serde_json::Value,
    pub reply: Sender<Result<ExportReport, String>>,
}

#[derive(Clone, Debug)]
pub struct ExportReport {
    pub folder: PathBuf,
    pub files: Vec<String>,
}

/// One steering change, with the simulated time it was made at.
#[derive(Clone, Debug, Serialize)]
pub struct SteeringEvent {
    pub sim_time_s: f64,
    pub change: String,
}

/// The steering now in force.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Steering {
    pub speed: Speed,
    pub rain_override_mm_per_h: Option<f64>,
    pub inflow_scale: f64,
    pub manning_scale: f64,
}

impl Default for Steering {
    fn default() -> Self {
        Self {
            speed: Speed::RealTime(10.0),
            rain_override_mm_per_h: None,
            inflow_scale: 1.0,
            manning_scale: 1.0,
        }
    }
}

/// Depth and speed of the whole grid at one stored time, for scrubbing back.
#[derive(Debug)]
pub struct Frame {
    pub sim_time_s: f64,
    pub depth_m: Array2<f32>,
    pub speed_m_s: Array2<f32>,
}

/// A probe's record: (time s, depth m, level m, speed m/s).
pub type ProbeSeries = Vec<[f64; 4]>;

/// A raster of results for `basin` (a run's, or a merged ensemble's), NaN at nodata;
/// refused when its grid is not the basin's.
pub fn read_on_basin_grid(basin: &Basin, path: &Path) -> anyhow::Result<Array2<f64>> {
    let r = basin::raster::read_raster(path)?;
    if r.data.dim() != basin.bed_m.dim() || r.grid.geo_transform() != basin.grid().geo_transform() {
        anyhow::bail!(
            "{}: its grid ({} × {}) is not the basin's ({} × {}); load results of this basin only",
            path.display(),
            r.data.dim().0,
            r.data.dim().1,
            basin.bed_m.dim().0,
            basin.bed_m.dim().1
        );
    }
    Ok(r.data)
}

/// What the worker publishes. Grids are shared (`Arc`) and only rebuilt when they change.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Increases with every published snapshot.
    pub seq: u64,
    pub sim_time_s: f64,
    pub duration_s: f64,
    pub steps: u64,
    pub running: bool,
    /// The scenario's duration is reached.
    pub finished: bool,
    /// Simulated seconds per wall second over the last second of running.
    pub real_time_factor: f64,
    pub cell_updates_per_s: f64,
    pub wet_cells: usize,
    pub balance: WaterBalance,
    pub depth_m: Arc<Array2<f32>>,
    pub speed_m_s: Arc<Array2<f32>>,
    pub bed_m: Arc<Array2<f32>>,
    /// Increases whenever the bed changed (a breach).
    pub bed_version: u64,
    pub max_depth_m: Arc<Array2<f32>>,
    pub max_speed_m_s: Arc<Array2<f32>>,
    pub hazard_class: Arc<Array2<f32>>,
    /// First time the depth exceeded the wet depth (s); NaN where never.
    pub first_inundation_s: Arc<Array2<f32>>,
    pub gauges: Arc<GaugeRecords>,
    /// Thresholds' and watch areas' state and the warnings raised so far.
    pub watch: Arc<Watch>,
    pub probe: Option<((usize, usize), Arc<ProbeSeries>)>,
    pub history: Arc<Vec<Arc<Frame>>>,
    pub breaches: Vec<BreachStatus>,
    pub steering: Steering,
    pub log: Arc<Vec<SteeringEvent>>,
    /// Breaches drawn in the app, after the scenario's in `breaches`.
    pub drawn_breaches: Arc<Vec<DrawnBreach>>,
    /// A solver failure (blow-up): the run cannot go on until Reset.
    pub error: Option<String>,
    /// The last command the worker refused (the run goes on).
    pub notice: Option<String>,
    /// Live mode's state, when it is on.
    pub live: Option<LiveStatus>,
    /// The scenario's structures now, their flows at the output times, and every
    /// operation (rules that fired, changes by hand).
    pub structures: Arc<Vec<StructureState>>,
    pub structure_records: Arc<basin::structures::StructureRecords>,
    pub operations: Arc<Vec<basin::structures::Operation>>,
}

impl Snapshot {
    /// Index of the stored frame shown for a scrub time: the last one not after it.
    pub fn frame_index_at(&self, t_s: f64) -> Option<usize> {
        let n = self.history.partition_point(|f| f.sim_time_s <= t_s + 1e-9);
        (!self.history.is_empty()).then(|| n.saturating_sub(1))
    }

    /// The stored frame shown for a scrub time.
    pub fn frame_at(&self, t_s: f64) -> Option<&Arc<Frame>> {
        self.frame_index_at(t_s).map(|i| &self.history[i])
    }

    /// The results of a finished run (a `rivertwin run` output folder, or an exported
    /// bundle) as a comparison run B: its maxima and final depth, no history.
    pub fn from_results(basin: &Basin, folder: &Path) -> Result<Self, String> {
        let read = |name: &str| -> Result<Array2<f32>, String> {
            let values =
                read_on_basin_grid(basin, &folder.join(name)).map_err(|e| format!("{e:#}"))?;
            // Nodata (outside the basin) reads as NaN: no water there.
            Ok(values.mapv(|v| if v.is_finite() { v as f32 } else { 0.0 }))
        };
        let max_depth = read("max_depth_m.tif")?;
        let final_depth = read("final_depth_m.tif")?;
        let max_speed = read("max_speed_m_s.tif")?;
        let summary_path = folder.join("summary.json");
        let summary: serde_json::Value = std::fs::read_to_string(&summary_path)
            .map_err(|e| format!("{}: {e}", summary_path.display()))
            .and_then(|t| {
                serde_json::from_str(&t).map_err(|e| format!("{}: {e}", summary_path.display()))
            })?;
        let t = summary["sim_time_s"].as_f64().unwrap_or(0.0);
        let zeros = Arc::new(Array2::<f32>::zeros(max_depth.dim()));
        Ok(Self {
            seq: 0,
            sim_time_s: t,
            duration_s: summary["duration_s"].as_f64().unwrap_or(t),
            steps: summary["steps"].as_u64().unwrap_or(0),
            running: false,
            finished: true,
            real_time_factor: 0.0,
            cell_updates_per_s: 0.0,
            wet_cells: final_depth.iter().filter(|&&d| d > 0.0).count(),
            balance: WaterBalance::default(),
            depth_m: Arc::new(final_depth),
            speed_m_s: zeros.clone(),
            bed_m: Arc::new(to_f32(basin.bed_m.values().view())),
            bed_version: 0,
            max_depth_m: Arc::new(max_depth),
            max_speed_m_s: Arc::new(max_speed),
            hazard_class: zeros.clone(),
            first_inundation_s: zeros,
            gauges: Arc::new(GaugeRecords::default()),
            watch: Arc::new(Watch::default()),
            probe: None,
            history: Arc::new(Vec::new()),
            breaches: Vec::new(),
            steering: Steering::default(),
            log: Arc::new(Vec::new()),
            drawn_breaches: Arc::new(Vec::new()),
            error: None,
            notice: None,
            live: None,
            structures: Arc::new(Vec::new()),
            structure_records: Arc::default(),
            operations: Arc::new(Vec::new()),
        })
    }
}

/// The handle the app holds. Dropping it stops the worker.
#[derive(Debug)]
pub struct Twin {
    pub basin: Arc<Basin>,
    pub scenario: Arc<Scenario>,
    commands: Sender<Command>,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    /// Why the worker thread stopped, where it panicked; told once, in a last snapshot.
    failure: Arc<Mutex<Option<String>>>,
    /// The last snapshot handed to the app (what that last one is made from).
    shown: Mutex<Option<Arc<Snapshot>>>,
    worker: Option<JoinHandle<()>>,
}

impl Twin {
    /// Build the solver (errors are returned here, before any thread starts) and start
    /// the worker, paused at t = 0, with `threads` solver threads (0: all cores).
    pub fn start(
        basin: Arc<Basin>,
        scenario: Arc<Scenario>,
        threads: usize,
    ) -> anyhow::Result<Self> {
        let run = basin::Run::new(basin.clone(), scenario.clone())?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("solver-{i}"))
            .build()
            .context("cannot start the solver threads")?;
        let (commands, inbox) = channel();
        let latest = Arc::new(Mutex::new(None));
        let mut worker = Worker::new(run, latest.clone());
        worker.publish();
        let failure = Arc::new(Mutex::new(None));
        let failed = failure.clone();
        let handle = std::thread::Builder::new()
            .name("twin".into())
            .spawn(move || {
                // A panic would otherwise leave the app showing the last snapshot as if
                // the run were going on.
                let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    pool.install(move || worker.run(&inbox))
                }));
                if let Err(payload) = ran {
                    let why = payload
                        .downcast_ref::<&str>()
                        .map(|s| (*s).to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "a panic without a message".into());
                    *failed.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                }
            })
            .context("cannot start the simulation thread")?;
        Ok(Self {
            basin,
            scenario,
            commands,
            latest,
            failure,
            shown: Mutex::new(None),
            worker: Some(handle),
        })
    }

    pub fn send(&self, command: Command) {
        // The worker only ends when the handle is dropped.
        let _ = self.commands.send(command);
    }

    /// The newest snapshot, if one arrived since the last call. Never blocks on the solver.
    /// Once the worker has died of a panic, one last snapshot: the one shown before,
    /// paused, with the panic as its error.
    pub fn take_snapshot(&self) -> Option<Arc<Snapshot>> {
        let fresh = self.latest.try_lock().ok().and_then(|mut slot| slot.take());
        let mut shown = self.shown.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = &fresh {
            *shown = Some(s.clone());
        }
        let Some(last) = shown.as_ref() else {
            return fresh;
        };
        let Some(why) = self
            .failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return fresh;
        };
        let mut s = (**last).clone();
        s.seq += 1;
        s.running = false;
        s.error = Some(format!(
            "the simulation thread stopped ({why}): a fault in rivertwin, not in the scenario; open the scenario again to go on"
        ));
        let s = Arc::new(s);
        *shown = Some(s.clone());
        Some(s)
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        let (dead, _) = channel();
        // Closing the channel ends the worker's loop.
        self.commands = dead;
        // The worker notices at the end of its current slice; wait for it elsewhere, so
        // that replacing a twin never stalls the window.
        if let Some(h) = self.worker.take() {
            let _ = std::thread::Builder::new()
                .name("twin-join".into())
                .spawn(move || {
                    let _ = h.join();
                });
        }
    }
}

/// The longest the worker computes before it looks at its inbox and publishes.
const SLICE: Duration = Duration::from_millis(40);
/// Most stored frames kept for scrubbing; older ones are thinned to every other.
const MAX_FRAMES: usize = 240;

struct Worker {
    /// The run engine: basin, scenario, solver, envelopes, gauges and the output
    /// schedule.
    run: Run,
    history: Vec<Arc<Frame>>,
    running: bool,
    steering: Steering,
    log: Vec<SteeringEvent>,
    drawn_breaches: Vec<DrawnBreach>,
    probe: Option<((usize, usize), ProbeSeries)>,
    pause_at_s: Option<f64>,
    /// The last refused command, for the status bar.
    notice: Option<String>,
    /// The last real-time factor and cell-updates/s measured while running.
    last_rates: (f64, f64),
    error: Option<String>,
    seq: u64,
    last_publish: Instant,
    /// 40 ms per 250 000 cells, at least 40 ms.
    publish_interval: Duration,
    /// A step ran since the last snapshot.
    unpublished: bool,
    bed_version: u64,
    /// Pace keeping: the sim and wall time when the current speed took effect.
    pace_origin: Option<(f64, Instant)>,
    /// Recent (wall, sim time, steps) for the real-time factor and throughput.
    recent: std::collections::VecDeque<(Instant, f64, u64)>,
    wall_running_s: f64,
    latest: Arc<Mutex<Option<Arc<Snapshot>>>>,
    cached_bed: Arc<Array2<f32>>,
    live: Option<Live>,
}

/// How often live mode looks at the observed files.
const LIVE_POLL: Duration = Duration::from_millis(500);

/// Live mode's working state.
struct Live {
    inputs: basin::watch::InputWatch,
    last_poll: Option<Instant>,
    /// The last observation reached, the run's state there and how many drawn breaches
    /// it holds.
    observed: Option<(f64, basin::hotstart::SavedRun, usize)>,
    status: LiveStatus,
}

fn to_f32(a: ndarray::ArrayView2<'_, f64>) -> Array2<f32> {
    a.mapv(|v| v as f32)
}

impl Worker {
    fn new(run: Run, latest: Arc<Mutex<Option<Arc<Snapshot>>>>) -> Self {
        let active_cells = run.active_cells();
        let cached_bed = Arc::new(to_f32(run.solver().bed_m()));
        let mut w = Self {
            run,
            history: Vec::new(),
            running: false,
            steering: Steering::default(),
            log: Vec::new(),
            drawn_breaches: Vec::new(),
            probe: None,
            pause_at_s: None,
            notice: None,
            last_rates: (0.0, 0.0),
            error: None,
            seq: 0,
            last_publish: Instant::now(),
            publish_interval: SLICE * (active_cells as u32 / 250_000).max(1),
            unpublished: false,
            bed_version: 0,
            pace_origin: None,
            recent: Default::default(),
            wall_running_s: 0.0,
            latest,
            cached_bed,
            live: None,
        };
        w.record_frame();
        w
    }

    fn duration_s(&self) -> f64 {
        self.run.duration_s()
    }

    fn run(&mut self, inbox: &Receiver<Command>) {
        loop {
            // Commands first; while paused, wait for one (with a timeout to stay responsive).
            let first = if self.running {
                inbox.try_recv().map_err(|e| match e {
                    std::sync::mpsc::TryRecvError::Empty => RecvTimeoutError::Timeout,
                    std::sync::mpsc::TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
                })
            } else {
                inbox.recv_timeout(Duration::from_millis(100))
            };
            let mut changed = false;
            match first {
                Ok(c) => {
                    self.apply(c);
                    changed = true;
                    while let Ok(c) = inbox.try_recv() {
                        self.apply(c);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {}
            }
            if self.poll_live() {
                changed = true;
            }
            let mut ran = false;
            if self.running {
                self.advance_slice();
                ran = true;
            }
            // While running, big grids publish less often: a snapshot copies every grid.
            let due = self.last_publish.elapsed() >= self.publish_interval;
            if changed || (ran && due) || (!self.running && self.unpublished) {
                self.publish();
                self.unpublished = false;
            } else if ran {
                self.unpublished = true;
            }
        }
    }

    fn note(&mut self, change: String) {
        self.log.push(SteeringEvent {
            sim_time_s: self.run.sim_time_s(),
            change,
        });
    }

    fn apply(&mut self, command: Command) {
        let result = match command {
            Command::Play => {
                if self.run.sim_time_s() < self.duration_s() && self.error.is_none() {
                    self.running = true;
                    self.pace_origin = None;
                }
                Ok(())
            }
            Command::Pause => {
                self.running = false;
                Ok(())
            }
            Command::Step => {
                self.running = false;
                self.one_step();
                Ok(())
            }
            Command::PauseAt(t) => {
                self.pause_at_s = t.filter(|&t| t > self.run.sim_time_s());
                Ok(())
            }
            Command::SetSpeed(speed) => {
                self.steering.speed = speed;
                self.pace_origin = None;
                Ok(())
            }
            Command::Reset => self.reset(),
            Command::SetRain(rain) => self.steer(
                Steering {
                    rain_override_mm_per_h: rain,
                    ..self.steering.clone()
                },
                match rain {
                    Some(r) => format!("rain set to {r:.1} mm/h"),
                    None => "rain back to the scenario's".into(),
                },
            ),
            Command::SetInflowScale(f) => self.steer(
                Steering {
                    inflow_scale: f,
                    ..self.steering.clone()
                },
                format!("inflow × {f:.2}"),
            ),
            Command::SetManningScale(f) => self.steer(
                Steering {
                    manning_scale: f,
                    ..self.steering.clone()
                },
                format!("Manning's n × {f:.2}"),
            ),
            Command::TriggerBreach(i) => {
                let r = self
                    .run
                    .solver_mut()
                    .trigger_breach(i)
                    .map_err(|e| e.to_string());
                if r.is_ok() {
                    self.note(format!("breach {} triggered", i + 1));
                }
                r
            }
            Command::DrawnBreach(b) => self.add_drawn_breach(b),
            Command::SetProbe(cell) => {
                self.probe = cell.map(|c| (c, self.probe_past(c)));
                Ok(())
            }
            Command::Export(request) => {
                let reply = request.reply.clone();
                let r = self.export(request);
                let _ = reply.send(r);
                Ok(())
            }
            Command::SetLive(on) => self.set_live(on),
            Command::OperateStructure { index, setting } => {
                let r = self
                    .run
                    .operate_by_hand(index, setting)
                    .map_err(|e| e.to_string());
                if r.is_ok()
                    && let Some(o) = self.run.operations().log.last()
                {
                    self.note(format!("{}: {}", o.structure, o.action));
                }
                r
            }
            Command::HandBackStructure(index) => {
                let r = self.run.hand_back(index).map_err(|e| e.to_string());
                if r.is_ok()
                    && let Some(o) = self.run.operations().log.last()
                {
                    self.note(format!("{}: {}", o.structure, o.action));
                }
                r
            }
        };
        // A refused command is reported but does not stop the run (solver errors do).
        if let Err(e) = result {
            self.notice = Some(e);
        }
    }

    /// Put `steering` in force and log `change` when it differs from what was.
    fn steer(&mut self, steering: Steering, change: String) -> Result<(), String> {
        self.apply_steering(&steering)?;
        if steering != self.steering {
            self.steering = steering;
            self.note(change);
        }
        Ok(())
    }

    /// Rain, inflow factor and roughness of the solver as `steering` says (the speed is
    /// the worker's own). Also re-applies the steering to a fresh solver after a reset.
    fn apply_steering(&mut self, steering: &Steering) -> Result<(), String> {
        let f = steering.manning_scale;
        if !(f.is_finite() && f > 0.0) {
            return Err(format!("Manning multiplier {f} must be > 0"));
        }
        let rain = match steering.rain_override_mm_per_h {
            Some(mm_per_h) => Some(TimeSeries::constant(mm_per_h).map_err(|e| e.to_string())?),
            None => self.run.scenario().rain_mm_per_h.clone(),
        };
        // On top of the scenario's own `[adjust]` multipliers.
        let adjust = self.run.scenario().file.adjust;
        let n = self
            .run
            .basin()
            .manning_n
            .values()
            .mapv(|n| n * adjust.manning_scale * f);
        let s = self.run.solver_mut();
        s.set_inflow_scale(adjust.inflow_scale * steering.inflow_scale)
            .map_err(|e| e.to_string())?;
        s.set_uniform_rain(rain).map_err(|e| e.to_string())?;
        s.set_manning_n(n.view()).map_err(|e| e.to_string())?;
        // A constant intensity replaces the rain frames too.
        self.run
            .set_rain_frames_on(steering.rain_override_mm_per_h.is_none())
            .map_err(|e| e.to_string())
    }

    fn add_drawn_breach(&mut self, b: DrawnBreach) -> Result<(), String> {
        let basin = self.run.basin().clone();
        add_breach_to(self.run.solver_mut(), &basin, &b)?;
        self.note(format!(
            "breach drawn from ({:.1}, {:.1}) to ({:.1}, {:.1}), {:.1} m deep",
            b.line[0][0], b.line[0][1], b.line[1][0], b.line[1][1], b.depth_m
        ));
        self.drawn_breaches.push(b);
        Ok(())
    }

    /// Back to t = 0: a fresh solver from the scenario, with the steering re-applied.
    fn reset(&mut self) -> Result<(), String> {
        if self.live.take().is_some() {
            self.note("live mode off".into());
        }
        self.run.reset().map_err(|e| e.to_string())?;
        self.history.clear();
        self.running = false;
        self.error = None;
        self.recent.clear();
        self.wall_running_s = 0.0;
        self.drawn_breaches.clear();
        let steering = self.steering.clone();
        self.apply_steering(&steering)?;
        self.note("reset to t = 0".into());
        self.bed_version += 1;
        self.cached_bed = Arc::new(to_f32(self.run.solver().bed_m()));
        if let Some((cell, _)) = &self.probe {
            let cell = *cell;
            self.probe = Some((cell, Vec::new()));
        }
        self.record_frame();
        Ok(())
    }

    /// One step of the run engine, landing on the next output time or the pause time;
    /// false when nothing can run.
    fn one_step(&mut self) -> bool {
        if self.run.is_finished() || self.error.is_some() {
            self.running = false;
            return false;
        }
        let follow_to = self.live.as_ref().and_then(|l| l.status.following_to_s);
        let stop = match (self.pause_at_s, follow_to) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match self.run.step(stop) {
            Ok(events) => {
                for event in events {
                    match event {
                        Event::BedChanged => {
                            self.bed_version += 1;
                            self.cached_bed = Arc::new(to_f32(self.run.solver().bed_m()));
                        }
                        Event::Output { .. } => self.record_frame(),
                        Event::Finished => self.running = false,
                        Event::Warning { .. } | Event::Operation { .. } => {}
                    }
                }
                if self.pause_at_s.is_some_and(|p| self.run.sim_time_s() >= p) {
                    self.pause_at_s = None;
                    self.running = false;
                }
                if follow_to.is_some_and(|t| self.run.sim_time_s() >= t) {
                    self.reached_observation();
                }
                true
            }
            Err(e) => {
                let cause = match e {
                    basin::BasinError::Solver { cause, .. } => cause.to_string(),
                    other => other.to_string(),
                };
                self.error = Some(format!("the solver stopped: {cause}"));
                self.running = false;
                false
            }
        }
    }

    /// Run for one time slice, keeping pace with the wall clock at real-time speeds.
    fn advance_slice(&mut self) {
        let started = Instant::now();
        let (sim0, wall0) = *self
            .pace_origin
            .get_or_insert((self.run.sim_time_s(), started));
        let steps0 = self.run.solver().steps();
        loop {
            let following = self
                .live
                .as_ref()
                .is_some_and(|l| l.status.following_to_s.is_some());
            if let Speed::RealTime(factor) = self.steering.speed
                && !following
            {
                let target = sim0 + factor * wall0.elapsed().as_secs_f64();
                if self.run.sim_time_s() >= target {
                    // Ahead of the clock: rest until the slice ends.
                    let rest = SLICE.saturating_sub(started.elapsed());
                    std::thread::sleep(rest.min(Duration::from_millis(20)));
                    break;
                }
            }
            if !self.one_step() || !self.running || started.elapsed() >= SLICE {
                break;
            }
        }
        if self.run.solver().steps() > steps0 {
            self.wall_running_s += started.elapsed().as_secs_f64();
        }
        // The probe keeps at most about 2000 samples over the scenario.
        let spacing = self.duration_s() / 2000.0;
        if let Some((cell, series)) = &mut self.probe {
            let t = self.run.sim_time_s();
            if series.last().is_none_or(|last| t >= last[0] + spacing) {
                series.push(probe_sample(self.run.solver(), *cell));
            }
        }
        let now = Instant::now();
        self.recent
            .push_back((now, self.run.sim_time_s(), self.run.solver().steps()));
        while self
            .recent
            .front()
            .is_some_and(|(w, _, _)| now.duration_since(*w) > Duration::from_secs(2))
        {
            self.recent.pop_front();
        }
    }

    /// At an output time (the engine has sampled the gauges): a stored frame.
    fn record_frame(&mut self) {
        let t = self.run.sim_time_s();
        let (depth, speed) = depth_and_speed(self.run.solver());
        self.history.push(Arc::new(Frame {
            sim_time_s: t,
            depth_m: depth,
            speed_m_s: speed,
        }));
        if self.history.len() > MAX_FRAMES {
            // Keep the first and every other one after it.
            let kept = self
                .history
                .iter()
                .enumerate()
                .filter(|(i, _)| i % 2 == 0 || *i == self.history.len() - 1)
                .map(|(_, f)| f.clone())
                .collect();
            self.history = kept;
        }
    }

    /// A new probe's past, read from the stored frames.
    fn probe_past(&self, cell: (usize, usize)) -> ProbeSeries {
        let bed = self.run.solver().bed_m()[cell];
        let mut series: ProbeSeries = self
            .history
            .iter()
            .map(|f| {
                let d = f64::from(f.depth_m[cell]);
                [f.sim_time_s, d, bed + d, f64::from(f.speed_m_s[cell])]
            })
            .collect();
        let now = probe_sample(self.run.solver(), cell);
        if series.last().is_none_or(|last| now[0] > last[0]) {
            series.push(now);
        }
        series
    }

    /// Real-time factor and cell-updates/s over the last two seconds of running; while
    /// paused, the last values measured.
    fn rates(&mut self) -> (f64, f64) {
        if let (Some(a), Some(b)) = (self.recent.front(), self.recent.back())
            && b.0.duration_since(a.0) > Duration::from_millis(200)
            && self.running
            && let Some(steps) = b.2.checked_sub(a.2)
        {
            let wall = b.0.duration_since(a.0).as_secs_f64();
            let sim = b.1 - a.1;
            self.last_rates = (
                sim / wall,
                steps as f64 * self.run.active_cells() as f64 / wall,
            );
        }
        self.last_rates
    }

    fn publish(&mut self) {
        self.seq += 1;
        self.last_publish = Instant::now();
        let (depth, speed) = depth_and_speed(self.run.solver());
        let (real_time_factor, cell_updates_per_s) = self.rates();
        let summary = self.run.solver().summary();
        let env = self.run.envelopes();
        let snapshot = Snapshot {
            seq: self.seq,
            sim_time_s: self.run.sim_time_s(),
            duration_s: self.duration_s(),
            steps: self.run.solver().steps(),
            running: self.running,
            finished: self.run.is_finished(),
            real_time_factor,
            cell_updates_per_s,
            wet_cells: summary.wet_cells,
            balance: self.run.solver().balance(),
            depth_m: Arc::new(depth),
            speed_m_s: Arc::new(speed),
            bed_m: self.cached_bed.clone(),
            bed_version: self.bed_version,
            max_depth_m: Arc::new(env.max_depth_m.to_owned()),
            max_speed_m_s: Arc::new(env.max_speed_m_s.to_owned()),
            hazard_class: Arc::new(env.max_hazard.to_owned()),
            first_inundation_s: Arc::new(env.first_inundation_s.to_owned()),
            gauges: Arc::new(self.run.gauges().clone()),
            watch: Arc::new(self.run.watch().clone()),
            probe: self.probe.as_ref().map(|(c, s)| (*c, Arc::new(s.clone()))),
            history: Arc::new(self.history.clone()),
            breaches: (0..)
                .map_while(|i| self.run.solver().breach_status(i))
                .collect(),
            steering: self.steering.clone(),
            log: Arc::new(self.log.clone()),
            drawn_breaches: Arc::new(self.drawn_breaches.clone()),
            error: self.error.clone(),
            notice: self.notice.clone(),
            live: self.live.as_ref().map(|l| l.status.clone()),
            structures: Arc::new(self.structure_states()),
            structure_records: Arc::new(self.run.structure_records().clone()),
            operations: Arc::new(self.run.operations().log.clone()),
        };
        if let Ok(mut slot) = self.latest.lock() {
            *slot = Some(Arc::new(snapshot));
        }
    }

    fn structure_states(&self) -> Vec<StructureState> {
        let solver = self.run.solver();
        self.run
            .scenario()
            .structures
            .iter()
            .enumerate()
            .map(|(i, p)| StructureState {
                name: p.name().to_string(),
                kind: p.structure.kind.label(),
                setting: solver.structure_setting(i).unwrap_or_default(),
                flow: solver.structure_flow(i).unwrap_or_default(),
                max_opening_m: match p.structure.kind {
                    hydro::StructureKind::Gate { max_opening_m, .. } => Some(max_opening_m),
                    _ => None,
                },
                has_rules: p.has_rules(),
            })
            .collect()
    }

    fn set_live(&mut self, on: bool) -> Result<(), String> {
        if !on {
            if let Some(live) = self.live.take() {
                if live.status.following_to_s.is_some() {
                    // Stopped short of the last observation: no forecast was issued.
                    self.running = false;
                }
                self.note("live mode off".into());
            }
            return Ok(());
        }
        if self.live.is_some() {
            return Ok(());
        }
        if self.run.scenario().observed.is_empty() {
            return Err(
                "this scenario has no observed series: live mode follows series given as { observed = \"obs.csv\", … } or observed rain frames (docs/forecast.md)"
                    .into(),
            );
        }
        self.live = Some(Live {
            inputs: basin::watch::InputWatch::default(),
            last_poll: None,
            observed: None,
            status: LiveStatus {
                last_observation_s: None,
                following_to_s: None,
                updates: 0,
                problem: None,
            },
        });
        self.note("live mode on: following the observations".into());
        self.poll_live();
        Ok(())
    }

    /// In live mode, look at the observed files (every [`LIVE_POLL`]); when they grew,
    /// go back to the state at the last observation and follow the new ones. True when
    /// something changed.
    fn poll_live(&mut self) -> bool {
        let Some(live) = &mut self.live else {
            return false;
        };
        if live.last_poll.is_some_and(|t| t.elapsed() < LIVE_POLL) {
            return false;
        }
        live.last_poll = Some(Instant::now());
        if !live.inputs.changed_and_settled() {
            return false;
        }
        let basin = self.run.basin().clone();
        let path = self.run.scenario().path.clone();
        let (scenario, t_obs) = match basin::watch::look(&basin, &path) {
            Ok(found) => found,
            Err(e) => {
                let problem = Some(format!("new observations not taken in: {e}"));
                let changed = live.status.problem != problem;
                live.status.problem = problem;
                return changed;
            }
        };
        live.inputs.loaded(&scenario);
        live.status.problem = None;
        // Nothing new: the observations end where the run follows to, or has followed to.
        let known = live
            .status
            .following_to_s
            .or(live.observed.as_ref().map(|o| o.0));
        if known.is_some_and(|p| t_obs <= p) {
            return true;
        }
        match self.follow_new_observations(Arc::new(scenario), t_obs) {
            Ok(()) => true,
            Err(e) => {
                if let Some(live) = &mut self.live {
                    live.status.problem = Some(format!("new observations not taken in: {e}"));
                }
                true
            }
        }
    }

    /// A run on the newly loaded scenario, from the state at the previous last
    /// observation (or from the start), following the observations to `t_obs`.
    fn follow_new_observations(
        &mut self,
        scenario: Arc<Scenario>,
        t_obs: f64,
    ) -> Result<(), String> {
        let live = self.live.as_ref().expect("live mode");
        let basin = self.run.basin().clone();
        let path = scenario.path.clone();
        let mut run = Run::new(basin.clone(), scenario).map_err(|e| e.to_string())?;
        let drawn = match &live.observed {
            Some((t, saved, drawn)) => {
                // The breaches drawn before that observation are part of its state.
                for b in &self.drawn_breaches[..*drawn] {
                    add_breach_to(run.solver_mut(), &basin, b)?;
                }
                run.restore(saved.clone(), &path, basin::Resume::Continue)
                    .map_err(|e| e.to_string())?;
                let t = *t;
                self.history.retain(|f| f.sim_time_s <= t + 1e-9);
                if let Some((_, series)) = &mut self.probe {
                    series.retain(|p| p[0] <= t + 1e-9);
                }
                *drawn
            }
            None => {
                self.history.clear();
                if let Some((_, series)) = &mut self.probe {
                    series.clear();
                }
                0
            }
        };
        if drawn < self.drawn_breaches.len() {
            self.note(format!(
                "{} breach(es) drawn in the forecast dropped: new observations replace it",
                self.drawn_breaches.len() - drawn
            ));
            self.drawn_breaches.truncate(drawn);
        }
        self.run = run;
        self.error = None;
        // The rates are measured over the run going forward; this one went back.
        self.recent.clear();
        let steering = self.steering.clone();
        self.apply_steering(&steering)?;
        self.bed_version += 1;
        self.cached_bed = Arc::new(to_f32(self.run.solver().bed_m()));
        if self.history.is_empty() {
            self.record_frame();
        }
        let live = self.live.as_mut().expect("live mode");
        live.status.following_to_s = Some(t_obs);
        live.status.updates += 1;
        self.running = true;
        self.pace_origin = None;
        let from = self.run.sim_time_s();
        self.note(format!(
            "following the observations from {} to {}",
            format_s(from),
            format_s(t_obs)
        ));
        if from >= t_obs {
            self.reached_observation();
        }
        Ok(())
    }

    /// At the last observation: keep the state there and issue the forecast.
    fn reached_observation(&mut self) {
        let Some(live) = &mut self.live else { return };
        let Some(t) = live.status.following_to_s.take() else {
            return;
        };
        live.observed = Some((t, self.run.saved(), self.drawn_breaches.len()));
        live.status.last_observation_s = Some(t);
        self.run.issue_now_keeping_records();
        self.pace_origin = None;
        self.note(format!(
            "forecast issued at the last observation, {}",
            format_s(t)
        ));
    }

    /// The bundle: result GeoTIFFs, gauges.csv and summary.json (the headless runner's
    /// writers), the screenshot and snapshot.json (scenario, steering, time). Written into
    /// a hidden folder beside the target and renamed into place, so a failure leaves
    /// nothing half-written.
    fn export(&mut self, request: ExportRequest) -> Result<ExportReport, String> {
        let folder = request.folder;
        if folder.exists() {
            return Err(format!(
                "{} already exists: choose a new folder for the snapshot",
                folder.display()
            ));
        }
        let name = folder
            .file_name()
            .ok_or_else(|| format!("{} is not a folder name", folder.display()))?
            .to_string_lossy()
            .into_owned();
        let parent = folder
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
        let result = self.write_bundle(&tmp, request.screenshot_png.as_deref(), request.view);
        let placed = result.and_then(|files| {
            // Never over a folder that appeared meanwhile (RENAME_NOREPLACE).
            basin::runner::put_in_place(&tmp, &folder, false)
                .map_err(|e| format!("cannot move the snapshot to {}: {e}", folder.display()))
                .map(|()| files)
        });
        if placed.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        let files = placed?;
        self.note(format!("snapshot exported to {}", folder.display()));
        Ok(ExportReport { folder, files })
    }

    fn write_bundle(
        &self,
        dir: &Path,
        png: Option<&[u8]>,
        view: serde_json::Value,
    ) -> Result<Vec<String>, String> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let t = self.run.sim_time_s();
        let summary = self
            .run
            .write_results(
                dir,
                self.wall_running_s,
                &format!("snapshot of a live run at sim_time_s = {t}"),
                rayon::current_num_threads(),
            )
            .map_err(|e| e.to_string())?;
        let mut files = summary.outputs.clone();
        if let Some(png) = png {
            std::fs::write(dir.join("view.png"), png)
                .map_err(|e| format!("cannot write view.png: {e}"))?;
            files.push("view.png".into());
        }
        let description = serde_json::json!({
            "basin": self.run.basin().file.name,
            "basin_dir": self.run.basin().dir,
            "scenario": self.run.scenario().file.name,
            "scenario_file": self.run.scenario().path,
            "sim_time_s": t,
            "duration_s": self.duration_s(),
            "steps": self.run.solver().steps(),
            "exported_at_unix_s": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            "steering": self.steering,
            "steering_log": self.log,
            "drawn_breaches": self.drawn_breaches,
            "breaches": (0..)
                .map_while(|i| self.run.solver().breach_status(i))
                .collect::<Vec<_>>(),
            "water_balance": self.run.solver().balance(),
            "view": view,
        });
        let json = serde_json::to_string_pretty(&description).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("snapshot.json"), json)
            .map_err(|e| format!("cannot write snapshot.json: {e}"))?;
        files.push("snapshot.json".into());
        Ok(files)
    }
}

fn format_s(t: f64) -> String {
    format!("t = {t:.0} s")
}

/// Add a drawn breach to a solver, started now; its index.
fn add_breach_to(solver: &mut Solver, basin: &Basin, b: &DrawnBreach) -> Result<usize, String> {
    let cells = basin::scenario::line_cells(basin.grid(), &b.line);
    let cells: Vec<_> = cells.into_iter().filter(|&c| basin.active[c]).collect();
    if cells.is_empty() {
        return Err("the breach line does not cross any active cell".into());
    }
    let bed = solver.bed_m();
    let lowest = cells.iter().map(|&c| bed[c]).fold(f64::INFINITY, f64::min);
    let index = solver
        .add_breach(Breach {
            cells,
            final_bed_m: lowest - b.depth_m,
            formation_time_s: b.formation_time_s,
            trigger: BreachTrigger::Manual,
        })
        .map_err(|e| e.to_string())?;
    solver.trigger_breach(index).map_err(|e| e.to_string())?;
    Ok(index)
}

fn probe_sample(solver: &Solver, cell: (usize, usize)) -> [f64; 4] {
    let g = basin::results::GaugeSample::at(solver, cell);
    [solver.sim_time_s(), g.depth_m, g.level_m, g.speed_m_s]
}

fn depth_and_speed(solver: &Solver) -> (Array2<f32>, Array2<f32>) {
    let dry = solver.params().dry_depth_m;
    let depth = to_f32(solver.depth_m());
    let mut speed = Array2::<f32>::zeros(depth.dim());
    Zip::from(&mut speed)
        .and(solver.depth_m())
        .and(solver.qx_m2_s())
        .and(solver.qy_m2_s())
        .for_each(|s, &h, &qx, &qy| {
            if h > dry {
                *s = (qx.hypot(qy) / h) as f32;
            }
        });
    (depth, speed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.file_type().expect("type").is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), target).expect("copy");
            }
        }
    }

    fn trinity(dir: &Path) -> (Arc<Basin>, Arc<Scenario>) {
        let basin = Path::new(env!("CARGO_MANIFEST_DIR")).join("basins/trinity_storm");
        copy_dir(&basin, dir);
        let basin = Arc::new(Basin::load(dir).expect("basin"));
        let path = dir.join("scenarios/radar_nowcast.toml");
        let scenario = Arc::new(Scenario::load(&path, &basin).expect("scenario"));
        (basin, scenario)
    }

    /// Live mode goes back to the state at the last observation when new frames come.
    /// The rates the app shows are then measured from there on, not across the jump
    /// back (whose step count went down: an underflow that killed the worker thread,
    /// or in a release build a nonsense figure).
    #[test]
    fn rates_are_measured_from_where_new_observations_took_the_run_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (basin, scenario) = trinity(dir.path());
        let radar = dir.path().join("scenarios/radar");
        let held = dir.path().join("held");
        std::fs::create_dir(&held).expect("mkdir");
        let mut frames: Vec<_> = std::fs::read_dir(&radar)
            .expect("radar")
            .map(|e| e.expect("entry").file_name())
            .collect();
        frames.sort();
        // Radar to 1800 s; the rest comes later.
        for name in &frames[6..] {
            std::fs::rename(radar.join(name), held.join(name)).expect("hold back");
        }
        let run = Run::new(basin, scenario).expect("run");
        let mut w = Worker::new(run, Arc::new(Mutex::new(None)));
        w.apply(Command::SetSpeed(Speed::AsFastAsPossible));
        w.apply(Command::SetLive(true));
        let observed = |w: &Worker| w.live.as_ref().and_then(|l| l.status.last_observation_s);
        while observed(&w) != Some(1800.0) {
            assert!(w.running, "stopped before 1800 s: {:?}", w.error);
            w.advance_slice();
        }
        // The forecast runs on for a while (rates measured over it) …
        let forecast = Instant::now();
        while w.running && forecast.elapsed() < Duration::from_millis(300) {
            w.advance_slice();
        }
        let ahead = w.run.solver().steps();
        assert!(w.run.sim_time_s() > 1800.0);
        // … then the next half hour of radar arrives and is taken in.
        for name in &frames[6..12] {
            std::fs::rename(held.join(name), radar.join(name)).expect("arrive");
        }
        let following = |w: &Worker| w.live.as_ref().and_then(|l| l.status.following_to_s);
        for _ in 0..10 {
            if following(&w) == Some(3600.0) {
                break;
            }
            w.live.as_mut().expect("live").last_poll = None;
            w.poll_live();
        }
        assert_eq!(following(&w), Some(3600.0));
        assert!(
            w.run.solver().steps() < ahead,
            "the run went back to 1800 s"
        );
        w.advance_slice();
        let now = w.run.solver().steps();
        assert!(
            w.recent.iter().all(|r| r.2 <= now && r.1 >= 1800.0),
            "{:?}",
            w.recent
        );
        let (factor, updates) = w.rates();
        assert!(factor.is_finite() && factor >= 0.0, "{factor}");
        assert!(updates.is_finite() && updates >= 0.0, "{updates}");
    }

    /// A worker that dies of a panic says so in a last snapshot (paused, with the
    /// panic as its error) instead of leaving its last one looking like a live run.
    #[test]
    fn a_dead_worker_is_reported_in_a_last_snapshot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (basin, scenario) = trinity(dir.path());
        let twin = Twin::start(basin, scenario, 1).expect("twin");
        let first = twin.take_snapshot().expect("the first snapshot");
        assert!(first.error.is_none());
        assert!(twin.take_snapshot().is_none(), "nothing new while paused");
        *twin.failure.lock().expect("lock") = Some("attempt to subtract with overflow".into());
        let last = twin.take_snapshot().expect("a last snapshot");
        assert!(!last.running);
        assert!(last.seq > first.seq);
        let error = last.error.as_deref().expect("error");
        assert!(
            error.contains("attempt to subtract with overflow")
                && error.contains("open the scenario again"),
            "{error}"
        );
        assert_eq!(last.sim_time_s, first.sim_time_s);
        assert!(twin.take_snapshot().is_none(), "said once");
    }
}
