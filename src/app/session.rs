//! The open basin and scenario, the solver worker behind them, the newest snapshot, and
//! the requests (from keys, clicks and the UI) that change them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::sync::{Arc, Mutex};

use basin::{Basin, Scenario};
use bevy::prelude::*;
use serde::Serialize;

use super::palette::Layer;
use super::twin::{Command, ExportReport, ExportRequest, Snapshot, Speed, Twin};
use super::view_grid::ViewGrid;
use super::{OpenOptions, RunState, TwinSet};

/// The open basin and scenario (A), and a second scenario (B) to compare with.
#[derive(Resource, Default)]
pub struct Session {
    pub basin: Option<Arc<Basin>>,
    pub twin: Option<Twin>,
    pub compare: Option<Twin>,
    /// What B is: a scenario run beside A, or results loaded from a folder.
    pub compare_label: Option<String>,
    pub scenarios: Vec<String>,
    pub scenario: String,
    /// The open basin's folder, canonical (as the picker lists folders).
    pub basin_dir: PathBuf,
    /// Basin folders beside the open one, for the picker.
    pub basins: Vec<PathBuf>,
    pub grid: Option<ViewGrid>,
    /// Loading or the worker failed: shown in the UI.
    pub error: Option<String>,
    /// Increases whenever another basin or scenario is opened.
    pub generation: u64,
    pub threads: usize,
    /// A merged ensemble shown as layers.
    pub ensemble: Option<Arc<super::ensemble::EnsembleMaps>>,
    /// The open basin's drainage (streams, gauge catchments).
    pub drainage: Option<Arc<super::drainage::DrainageView>>,
    /// The catchment draining to the probed cell.
    pub clicked_catchment: Option<super::drainage::ClickedCatchment>,
    loading: Option<Pending<Loaded>>,
    loading_since: Option<std::time::Instant>,
    export_reply: Option<Pending<ExportReport>>,
    comparing: Option<Pending<Comparison>>,
    /// A merged ensemble being read (off the frame, like B).
    ensemble_loading: Option<Pending<(super::ensemble::EnsembleMaps, PathBuf)>>,
    /// The basin the ensemble being read is for (canonical folder).
    ensemble_loading_for: PathBuf,
    pub last_export: Option<Result<ExportReport, String>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("scenario", &self.scenario)
            .field("generation", &self.generation)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// B is being set up (a scenario's solver built, or results read).
    pub fn comparing(&self) -> bool {
        self.comparing.is_some()
    }

    pub fn export_pending(&self) -> bool {
        self.export_reply.is_some()
    }

    pub fn basin_name(&self) -> &str {
        self.basin.as_ref().map_or("", |b| b.file.name.as_str())
    }

    fn send(&self, c: Command) {
        if let Some(t) = &self.twin {
            t.send(c);
        }
    }
}

/// A result another thread sends once: a loaded basin, a comparison run, an export.
/// The mutex only makes the receiver `Sync`, so that it can sit in a resource.
struct Pending<T>(Mutex<Receiver<Result<T, String>>>);

impl<T> Pending<T> {
    fn new(rx: Receiver<Result<T, String>>) -> Self {
        Self(Mutex::new(rx))
    }

    /// The result once it has come, emptying `slot`; `gone` if the sender died first.
    fn poll(slot: &mut Option<Self>, gone: &str) -> Option<Result<T, String>> {
        let received = slot
            .as_ref()?
            .0
            .lock()
            .map_or(Err(TryRecvError::Disconnected), |rx| rx.try_recv());
        let result = match received {
            Ok(r) => r,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => Err(gone.to_string()),
        };
        *slot = None;
        Some(result)
    }
}

struct Loaded {
    basin: Arc<Basin>,
    /// Derived for a basin newly read; `None` when the open basin was reused.
    drainage: Option<Arc<super::drainage::DrainageView>>,
    scenario: String,
    twin: Twin,
}

/// A comparison run B, ready: a twin running a scenario, or loaded results; for the
/// basin of `generation` only.
enum Comparison {
    Run {
        twin: Twin,
        name: String,
        generation: u64,
    },
    Results {
        snapshot: Box<Snapshot>,
        folder: PathBuf,
        generation: u64,
    },
}

fn start_comparing(
    session: &mut Session,
    job: impl FnOnce() -> Result<Comparison, String> + Send + 'static,
) {
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("compare-loader".into())
        .spawn(move || {
            let _ = tx.send(job());
        });
    match spawned {
        Ok(_) => session.comparing = Some(Pending::new(rx)),
        Err(e) => session.error = Some(format!("cannot start loading B: {e}")),
    }
}

fn finish_comparing(
    mut session: ResMut<Session>,
    mut live: ResMut<Live>,
    mut view: ResMut<ViewSettings>,
) {
    let Some(result) = Pending::poll(&mut session.comparing, "loading B stopped unexpectedly")
    else {
        return;
    };
    match result {
        Ok(Comparison::Run {
            twin,
            name,
            generation,
        }) if generation == session.generation => {
            session.compare = Some(twin);
            session.compare_label = Some(format!("scenario {name}"));
            session.error = None;
            live.b = None;
            view.compare_scenario = name;
        }
        Ok(Comparison::Results {
            snapshot,
            folder,
            generation,
        }) if generation == session.generation => {
            session.compare = None;
            session.compare_label = Some(format!("results in {}", folder.display()));
            session.error = None;
            live.b = Some(Arc::from(snapshot));
            view.layer = Layer::Difference;
            view.show_max = true;
        }
        // Another basin or scenario was opened meanwhile: B belongs to the old one.
        Ok(_) => {}
        Err(e) => session.error = Some(e),
    }
}

/// Take up a merged ensemble once it is read: show its first map.
fn finish_ensemble(mut session: ResMut<Session>, mut view: ResMut<ViewSettings>) {
    let Some(result) = Pending::poll(
        &mut session.ensemble_loading,
        "reading the ensemble stopped unexpectedly",
    ) else {
        return;
    };
    // For the basin open now only (another may have been opened meanwhile).
    if session.ensemble_loading_for != session.basin_dir {
        return;
    }
    match result {
        Ok((maps, folder)) if maps.basin_dir == session.basin_dir => {
            view.ensemble_map = 0;
            view.layer = super::ensemble::layer_of(maps.maps[0].kind);
            view.ensemble_folder = folder.display().to_string();
            session.ensemble = Some(Arc::new(maps));
            session.error = None;
        }
        Ok(_) => {}
        Err(e) => session.error = Some(e),
    }
}

impl Session {
    /// A merged ensemble is being read.
    pub fn ensemble_loading(&self) -> bool {
        self.ensemble_loading.is_some()
    }
}

/// The newest snapshots of A and B.
#[derive(Resource, Default, Debug)]
pub struct Live {
    pub a: Option<Arc<Snapshot>>,
    pub b: Option<Arc<Snapshot>>,
}

/// How the view is set up, and the steering values the UI edits.
#[derive(Resource, Debug, Clone, Serialize)]
pub struct ViewSettings {
    pub layer: Layer,
    pub exaggeration: f32,
    /// Water shallower than this is not drawn (m).
    pub threshold_m: f32,
    /// Show the maximum so far instead of the current state.
    pub show_max: bool,
    /// Show a stored frame instead of the live state: the last one at or before this
    /// simulated time (s). A time, not an index, since frames thin out as a run grows.
    pub scrub: Option<f64>,
    pub show_help: bool,
    pub draw_breach: bool,
    pub breach_points: Vec<[f64; 2]>,
    pub breach_depth_m: f64,
    pub breach_formation_s: f64,
    pub probe: Option<(usize, usize)>,
    pub rain_override: bool,
    pub rain_mm_per_h: f64,
    pub inflow_scale: f64,
    pub manning_scale: f64,
    pub speed: Speed,
    pub gauge: usize,
    /// The structure shown in the structures panel.
    pub structure: usize,
    pub export_folder: String,
    pub compare_scenario: String,
    pub compare_folder: String,
    pub ensemble_folder: String,
    /// The merged ensemble map shown (index into `Session::ensemble`'s maps).
    pub ensemble_map: usize,
    /// Draw the stream network and the gauges' catchment outlines.
    pub show_streams: bool,
    pub show_catchments: bool,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            layer: Layer::Depth,
            exaggeration: 2.0,
            threshold_m: 0.02,
            show_max: false,
            scrub: None,
            show_help: false,
            draw_breach: false,
            breach_points: Vec::new(),
            breach_depth_m: 2.0,
            breach_formation_s: 300.0,
            probe: None,
            rain_override: false,
            rain_mm_per_h: 50.0,
            inflow_scale: 1.0,
            manning_scale: 1.0,
            speed: Speed::RealTime(10.0),
            gauge: 0,
            structure: 0,
            export_folder: String::new(),
            compare_scenario: String::new(),
            compare_folder: String::new(),
            ensemble_folder: String::new(),
            ensemble_map: 0,
            show_streams: true,
            show_catchments: false,
        }
    }
}

/// A request to the session, from a key, a click or the UI; applied at the start of the
/// next frame.
#[derive(Debug)]
pub enum Action {
    Open {
        basin: PathBuf,
        scenario: Option<String>,
    },
    Play,
    Pause,
    TogglePlay,
    /// Anything the worker does itself (steps, steering, breaches, probes).
    Twin(Command),
    Compare(String),
    /// Results of an earlier run (an output or export folder) as B.
    CompareResults(PathBuf),
    ClearCompare,
    /// Show a merged ensemble's maps (a plan folder or its `merged/`).
    LoadEnsemble(PathBuf),
    CloseEnsemble,
    /// Close the problem window.
    DismissError,
    /// Write the snapshot bundle; `screenshot_png` is filled in by the view when it can.
    Export {
        folder: PathBuf,
        screenshot_png: Option<Vec<u8>>,
        view: serde_json::Value,
    },
}

#[derive(Resource, Default, Debug)]
pub struct Actions(pub Vec<Action>);

impl Actions {
    pub fn push(&mut self, a: Action) {
        self.0.push(a);
    }
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Session>()
        .init_resource::<Live>()
        .init_resource::<ViewSettings>()
        .init_resource::<Actions>()
        .init_state::<RunState>()
        .add_systems(Startup, open_requested_basin)
        .add_systems(Update, apply_actions.in_set(TwinSet::ApplyInputs))
        .add_systems(
            Update,
            (
                finish_loading,
                finish_comparing,
                finish_ensemble,
                receive_snapshots,
                finish_export,
            )
                .chain()
                .in_set(TwinSet::StepOrReceive),
        );
}

fn open_requested_basin(
    options: Option<Res<OpenOptions>>,
    mut actions: ResMut<Actions>,
    mut session: ResMut<Session>,
) {
    if let Some(o) = options {
        session.threads = o.threads;
        if !o.basin.as_os_str().is_empty() {
            actions.push(Action::Open {
                basin: o.basin.clone(),
                scenario: o.scenario.clone(),
            });
        }
    }
}

/// The basin folder of `path` (a folder or its basin.toml).
fn basin_folder(path: &Path) -> PathBuf {
    if path.is_file() {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        path.to_path_buf()
    }
}

/// Load a basin (unless it is the one already open) and a scenario, and start its
/// worker, on a thread of its own so that the window stays live.
fn start_loading(session: &mut Session, basin_path: PathBuf, scenario: Option<String>) {
    let dir = basin_folder(&basin_path);
    let reuse = session
        .basin
        .as_ref()
        .filter(|b| b.dir.canonicalize().ok() == dir.canonicalize().ok())
        .cloned();
    let threads = session.threads;
    let (tx, rx) = channel();
    let spawned = std::thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let result = (|| {
                let (basin, drainage) = match reuse {
                    Some(b) => (b, None),
                    None => {
                        let b = Arc::new(Basin::load(&dir).map_err(|e| e.to_string())?);
                        let d =
                            super::drainage::DrainageView::derive(&b).map_err(|e| e.to_string())?;
                        (b, Some(Arc::new(d)))
                    }
                };
                let name = match scenario {
                    Some(n) => n,
                    None => basin
                        .file
                        .default_scenario
                        .clone()
                        .or_else(|| basin.scenario_names().into_iter().next())
                        .ok_or_else(|| {
                            format!(
                                "{}: the basin has no scenarios; add one under scenarios/",
                                basin.dir.display()
                            )
                        })?,
                };
                let path = basin.dir.join("scenarios").join(format!("{name}.toml"));
                let scenario = Arc::new(Scenario::load(&path, &basin).map_err(|e| e.to_string())?);
                let twin =
                    Twin::start(basin.clone(), scenario, threads).map_err(|e| format!("{e:#}"))?;
                Ok(Loaded {
                    basin,
                    drainage,
                    scenario: name,
                    twin,
                })
            })();
            let _ = tx.send(result);
        });
    match spawned {
        Ok(_) => {
            session.loading = Some(Pending::new(rx));
            session.loading_since = Some(std::time::Instant::now());
        }
        Err(e) => session.error = Some(format!("cannot start loading: {e}")),
    }
}

fn finish_loading(
    mut session: ResMut<Session>,
    mut live: ResMut<Live>,
    mut view: ResMut<ViewSettings>,
    mut next: ResMut<NextState<RunState>>,
    mut actions: ResMut<Actions>,
    options: Option<Res<OpenOptions>>,
) {
    let Some(result) = Pending::poll(&mut session.loading, "loading stopped unexpectedly") else {
        return;
    };
    match result {
        Ok(loaded) => {
            let (rows, cols) = loaded.basin.bed_m.dim();
            info!(
                "opened {} · {} ({rows} × {cols} cells) in {:.2} s",
                loaded.basin.file.name,
                loaded.scenario,
                session
                    .loading_since
                    .map_or(0.0, |t| t.elapsed().as_secs_f64())
            );
            let grid = ViewGrid::new(
                loaded.basin.bed_m.values().view(),
                &loaded.basin.active,
                loaded.basin.grid().cell_size_x(),
                loaded.basin.grid().cell_size_y(),
            );
            // The same steering carries over to a new scenario.
            let t = &loaded.twin;
            t.send(Command::SetSpeed(view.speed));
            t.send(Command::SetInflowScale(view.inflow_scale));
            t.send(Command::SetManningScale(view.manning_scale));
            if view.rain_override {
                t.send(Command::SetRain(Some(view.rain_mm_per_h)));
            }
            let first = session.generation == 0;
            if first && let Some(o) = &options {
                if o.fast {
                    view.speed = Speed::AsFastAsPossible;
                } else if let Some(s) = o.speed {
                    view.speed = Speed::RealTime(s);
                }
                t.send(Command::SetSpeed(view.speed));
            }
            if first && let Some(o) = &options {
                if let Some(layer) = o.layer {
                    view.layer = layer;
                }
                view.show_max = o.show_max;
            }
            if first && let Some(at) = options.as_ref().and_then(|o| o.exit_after_s) {
                t.send(Command::PauseAt(Some(at)));
            }
            if first && let Some(folder) = options.as_ref().and_then(|o| o.ensemble.clone()) {
                actions.push(Action::LoadEnsemble(folder));
            }
            if first && options.as_ref().is_some_and(|o| o.live) {
                t.send(Command::SetLive(true));
            }
            let play = first && options.as_ref().is_some_and(|o| o.play);
            if play {
                t.send(Command::Play);
            }
            next.set(if play {
                RunState::Running
            } else {
                RunState::Paused
            });
            session.scenarios = loaded.basin.scenario_names();
            session.basins = sibling_basins(&loaded.basin.dir);
            session.basin_dir = loaded
                .basin
                .dir
                .canonicalize()
                .unwrap_or_else(|_| loaded.basin.dir.clone());
            // An ensemble's maps belong to its basin's grid: kept for another scenario of
            // the same basin, dropped for another basin.
            if session
                .ensemble
                .as_ref()
                .is_some_and(|e| e.basin_dir != session.basin_dir)
            {
                session.ensemble = None;
                if view.layer.is_ensemble() {
                    view.layer = Layer::Depth;
                }
            }
            if let Some(d) = loaded.drainage {
                session.drainage = Some(d);
            }
            session.clicked_catchment = None;
            session.scenario = loaded.scenario;
            view.exaggeration = super::terrain::suggested_exaggeration(&grid);
            session.grid = Some(grid);
            session.basin = Some(loaded.basin);
            session.twin = Some(loaded.twin);
            session.compare = None;
            session.compare_label = None;
            session.error = None;
            session.generation += 1;
            live.a = None;
            live.b = None;
            view.scrub = None;
            view.probe = None;
            view.breach_points.clear();
            view.gauge = 0;
            if view.layer == Layer::Difference {
                view.layer = Layer::Depth;
            }
        }
        Err(e) => {
            error!("{e}");
            session.error = Some(e);
            // Offer the basins beside the one that failed, to pick another.
            if session.basins.is_empty()
                && let Some(o) = &options
            {
                session.basins = sibling_basins(&basin_folder(&o.basin));
            }
        }
    }
}

fn sibling_basins(dir: &Path) -> Vec<PathBuf> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let Some(parent) = dir.parent() else {
        return vec![dir.to_path_buf()];
    };
    let mut out: Vec<PathBuf> = std::fs::read_dir(parent)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("basin.toml").is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn apply_actions(
    mut actions: ResMut<Actions>,
    mut session: ResMut<Session>,
    mut live: ResMut<Live>,
    mut view: ResMut<ViewSettings>,
    state: Res<State<RunState>>,
    mut next: ResMut<NextState<RunState>>,
) {
    for action in std::mem::take(&mut actions.0) {
        match action {
            Action::Open { basin, scenario } => start_loading(&mut session, basin, scenario),
            Action::Play => {
                session.send(Command::Play);
                next.set(RunState::Running);
            }
            Action::Pause => {
                session.send(Command::Pause);
                next.set(RunState::Paused);
            }
            Action::TogglePlay => {
                let running = *state.get() == RunState::Running;
                session.send(if running {
                    Command::Pause
                } else {
                    Command::Play
                });
                next.set(if running {
                    RunState::Paused
                } else {
                    RunState::Running
                });
            }
            Action::Twin(c) => {
                if matches!(c, Command::Step | Command::Reset) {
                    next.set(RunState::Paused);
                }
                if matches!(c, Command::Reset) {
                    view.scrub = None;
                    if let Some(b) = &session.compare {
                        b.send(Command::Reset);
                        b.send(Command::Play);
                    }
                }
                session.send(c);
            }
            Action::Compare(name) => {
                let Some(basin) = session.basin.clone().filter(|_| session.twin.is_some()) else {
                    continue;
                };
                // Building B's solver takes a moment on a big grid: not on the UI thread.
                let generation = session.generation;
                start_comparing(&mut session, move || {
                    let path = basin.dir.join("scenarios").join(format!("{name}.toml"));
                    let scenario = Scenario::load(&path, &basin).map_err(|e| e.to_string())?;
                    let b = Twin::start(basin.clone(), Arc::new(scenario), 1)
                        .map_err(|e| format!("{e:#}"))?;
                    b.send(Command::SetSpeed(Speed::AsFastAsPossible));
                    b.send(Command::Play);
                    Ok(Comparison::Run {
                        twin: b,
                        name,
                        generation,
                    })
                });
            }
            Action::CompareResults(folder) => {
                let Some(basin) = session.basin.clone() else {
                    continue;
                };
                let generation = session.generation;
                start_comparing(&mut session, move || {
                    let b = Snapshot::from_results(&basin, &folder)?;
                    Ok(Comparison::Results {
                        snapshot: Box::new(b),
                        folder,
                        generation,
                    })
                });
            }
            Action::LoadEnsemble(folder) => {
                let Some(basin) = session.basin.clone() else {
                    continue;
                };
                // Read on a thread of its own, so that a large ensemble never stalls the
                // window; `finish_ensemble` takes it up.
                let (tx, rx) = channel();
                let spawned = std::thread::Builder::new()
                    .name("ensemble-loader".into())
                    .spawn(move || {
                        let result = super::ensemble::EnsembleMaps::load(&basin, &folder)
                            .map(|maps| (maps, folder))
                            .map_err(|e| format!("{e:#}"));
                        let _ = tx.send(result);
                    });
                match spawned {
                    Ok(_) => {
                        session.ensemble_loading = Some(Pending::new(rx));
                        session.ensemble_loading_for = session.basin_dir.clone();
                    }
                    Err(e) => {
                        session.error = Some(format!("cannot start reading the ensemble: {e}"))
                    }
                }
            }
            Action::CloseEnsemble => {
                // A read still under way is dropped with it.
                session.ensemble_loading = None;
                session.ensemble = None;
                if view.layer.is_ensemble() {
                    view.layer = Layer::Depth;
                }
            }
            Action::DismissError => session.error = None,
            Action::ClearCompare => {
                session.compare = None;
                session.compare_label = None;
                live.b = None;
                if view.layer == Layer::Difference {
                    view.layer = Layer::Depth;
                }
            }
            Action::Export {
                folder,
                screenshot_png,
                view: description,
            } => {
                if session.twin.is_none() {
                    session.last_export = Some(Err("no basin is open to export".into()));
                    continue;
                }
                if session.export_reply.is_some() {
                    session.last_export = Some(Err(
                        "an export is still being written; try again when it is done".into(),
                    ));
                    continue;
                }
                let (tx, rx) = channel();
                session.send(Command::Export(ExportRequest {
                    folder,
                    screenshot_png,
                    view: description,
                    reply: tx,
                }));
                session.export_reply = Some(Pending::new(rx));
            }
        }
    }
}

fn receive_snapshots(
    session: Res<Session>,
    mut live: ResMut<Live>,
    state: Res<State<RunState>>,
    mut next: ResMut<NextState<RunState>>,
) {
    if let Some(s) = session.twin.as_ref().and_then(Twin::take_snapshot) {
        // Mirror the worker, which also pauses by itself (end of the scenario, a solver
        // error, a stop time); a snapshot from before a Play or Pause is corrected by the
        // next one.
        let want = if s.running {
            RunState::Running
        } else {
            RunState::Paused
        };
        if *state.get() != want {
            next.set(want);
        }
        live.a = Some(s);
    }
    if let Some(s) = session.compare.as_ref().and_then(Twin::take_snapshot) {
        live.b = Some(s);
    }
}

fn finish_export(mut session: ResMut<Session>) {
    let gone = "the simulation stopped before the export";
    let Some(r) = Pending::poll(&mut session.export_reply, gone) else {
        return;
    };
    match &r {
        Ok(report) => info!(
            "snapshot written to {}: {}",
            report.folder.display(),
            report.files.join(", ")
        ),
        Err(e) => error!("export failed: {e}"),
    }
    session.last_export = Some(r);
}
