//! The run engine: one scenario of a basin stepped forward in time, with everything a
//! run records along the way (envelopes, gauge hydrographs, the output schedule). The
//! command line's `run`, the app's worker and the app's export all drive this one type;
//! they add only what is theirs (a progress bar; pacing, steering and publishing).

use std::path::Path;
use std::sync::Arc;

use hydro::{BreachStatus, Solver};
use ndarray::Array2;

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::hazard::HazardTables;
use crate::hotstart::{SavedRun, read_state, write_state};
use crate::results::{GaugeRecords, envelopes, write_masked};
use crate::runner::{RunSummary, build_solver, write_results};
use crate::scenario::Scenario;
use crate::structures::{Operations, StructureRecords};
use crate::warnings::Watch;

/// What a step did that its driver may act on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Output time `index` (1, 2, …; `index × output_interval_s`, the last one at the
    /// end of the scenario) was reached; the gauges were sampled.
    Output { index: u64, sim_time_s: f64 },
    /// The bed changed in this step (a breach started, is forming or just completed).
    BedChanged,
    /// A threshold or watch area was crossed: `Run::watch().events[index]`.
    Warning { index: usize },
    /// A structure's rule fired: `Run::operations().log[index]`.
    Operation { index: usize },
    /// The scenario's duration was reached.
    Finished,
}

/// How a run continues from a saved state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// As if it had never stopped: issue time, gauge records and warnings kept.
    Continue,
    /// A new run issued at the state's time (a forecast).
    IssueNow,
}

/// One scenario of a basin in progress.
#[derive(Debug)]
pub struct Run {
    basin: Arc<Basin>,
    scenario: Arc<Scenario>,
    solver: Solver,
    hazard: HazardTables,
    gauges: GaugeRecords,
    /// Thresholds and watch areas: their state and the warnings raised.
    watch: Watch,
    /// Index of the next output time.
    next_output: u64,
    active_cells: usize,
    /// When the run ends (s): the scenario's duration unless set otherwise.
    end_s: f64,
    /// When a forecast was issued, for a forecast run.
    issued_at_s: Option<f64>,
    /// The state file this run continued from, and its time.
    resumed_from: Option<(std::path::PathBuf, f64)>,
    /// Solver steps already taken when this run started (non-zero after a hot start).
    steps_at_start: u64,
    /// The breaches' statuses before the current step (kept to spare an allocation per
    /// step).
    breaches_before: Vec<BreachStatus>,
    /// The rain frame the solver holds (`Some(None)`: none; `None`: not yet set).
    rain_frame: Option<Option<usize>>,
    /// A rain frame resampled onto the DEM (mm/h), reused from frame to frame.
    rain_grid: Array2<f64>,
    /// Whether the scenario's rain frames fall (a live twin may replace them).
    rain_frames_on: bool,
    /// Structures' rules and the log of those that fired.
    operations: Operations,
    /// Structures' flows at the output times and their peaks.
    structure_records: StructureRecords,
}

impl Run {
    /// A ready run at t = 0: the solver built from the basin and scenario, the gauges
    /// and envelopes holding the initial state.
    pub fn new(basin: Arc<Basin>, scenario: Arc<Scenario>) -> Result<Self> {
        let hazard = HazardTables::bundled();
        let solver = Self::new_solver(&basin, &scenario, &hazard)?;
        let active_cells = basin.active_cells();
        let mut run = Self {
            active_cells,
            basin,
            scenario,
            solver,
            hazard,
            gauges: GaugeRecords::default(),
            watch: Watch::default(),
            next_output: 1,
            steps_at_start: 0,
            end_s: 0.0,
            issued_at_s: None,
            resumed_from: None,
            breaches_before: Vec::new(),
            rain_frame: None,
            rain_grid: Array2::zeros((0, 0)),
            rain_frames_on: true,
            operations: Operations::default(),
            structure_records: StructureRecords::default(),
        };
        run.end_s = run.scenario.file.duration_s;
        run.record_start();
        Ok(run)
    }

    /// Give back the basin's initial depth (4 or 8 B per cell) where this run is the
    /// basin's only holder: the solver holds the state from the start on, so a run that
    /// is not started again (`rivertwin run`, `forecast`) has no more use for it.
    /// [`Run::reset`] then fails, saying so. Returns whether it was given back.
    pub fn give_back_initial_depth(&mut self) -> bool {
        Arc::get_mut(&mut self.basin).is_some_and(|b| b.initial_depth_m.take().is_some())
    }

    /// Back to t = 0 with the scenario as loaded (a fresh solver; steering applied
    /// through [`Run::solver_mut`] must be applied again).
    pub fn reset(&mut self) -> Result<()> {
        self.solver = Self::new_solver(&self.basin, &self.scenario, &self.hazard)?;
        self.gauges = GaugeRecords::default();
        self.operations = Operations::default();
        self.next_output = 1;
        self.steps_at_start = 0;
        self.resumed_from = None;
        self.rain_frame = None;
        self.record_start();
        Ok(())
    }

    /// The scenario's solver at t = 0, tracking envelopes from its initial state.
    fn new_solver(basin: &Basin, scenario: &Scenario, hazard: &HazardTables) -> Result<Solver> {
        let mut solver = build_solver(basin, scenario)?;
        solver
            .track_envelopes(hazard.envelope_spec(scenario.file.hazard))
            .map_err(|cause| BasinError::Solver {
                path: scenario.path.clone(),
                cause,
            })?;
        Ok(solver)
    }

    /// Sample the gauges at the start and compare the start state with the thresholds
    /// (lead time 0: the issue time is the start).
    fn record_start(&mut self) {
        let t = self.solver.sim_time_s();
        self.gauges.sample(&self.solver, &self.basin, t);
        self.structure_records = StructureRecords::default();
        self.structure_records.sample_all(
            &self.solver,
            t,
            &self.scenario.detention_areas,
            self.basin.grid().cell_size_x() * self.basin.grid().cell_size_y(),
        );
        self.watch = Watch::new(&self.basin, t);
        self.check_watch(t, &mut Vec::new());
    }

    /// Compare the state now with the thresholds and watch areas; each crossing becomes
    /// an [`Event::Warning`].
    fn check_watch(&mut self, t: f64, events: &mut Vec<Event>) {
        let first = self.watch.events.len();
        let added = self.watch.check(
            &self.solver,
            &self.basin,
            &self.hazard,
            self.scenario.file.hazard,
            t,
        );
        events.extend((first..first + added).map(|index| Event::Warning { index }));
    }

    /// Operate structure `index` by hand from now on (a gate's target opening, a pump on
    /// or off, a release): its rules and a pump's levels leave it alone until
    /// [`Run::hand_back`]. Logged as an operation.
    pub fn operate_by_hand(
        &mut self,
        index: usize,
        setting: hydro::StructureSetting,
    ) -> Result<()> {
        let name = self
            .scenario
            .structures
            .get(index)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        let setting = hydro::StructureSetting {
            manual: true,
            ..setting
        };
        self.solver
            .set_structure(index, setting)
            .map_err(|cause| BasinError::Solver {
                path: self.scenario.path.clone(),
                cause,
            })?;
        let s = self.solver.structure_setting(index).unwrap_or_default();
        self.operations.log.push(crate::structures::Operation {
            time_s: self.sim_time_s(),
            structure: name,
            action: format!(
                "by hand: opening {:.2} m, pump {}, release {:.1} m³/s",
                s.target_opening_m,
                if s.running { "on" } else { "off" },
                s.release_m3_s
            ),
            reason: "operator".into(),
        });
        Ok(())
    }

    /// Give structure `index` back to its rules (and a pump to its levels).
    pub fn hand_back(&mut self, index: usize) -> Result<()> {
        let Some(mut s) = self.solver.structure_setting(index) else {
            return Ok(());
        };
        s.manual = false;
        self.solver
            .set_structure(index, s)
            .map_err(|cause| BasinError::Solver {
                path: self.scenario.path.clone(),
                cause,
            })?;
        self.operations.log.push(crate::structures::Operation {
            time_s: self.sim_time_s(),
            structure: self.scenario.structures[index].name().to_string(),
            action: "back to its rules".into(),
            reason: "operator".into(),
        });
        Ok(())
    }

    /// The structures' rules and every operation logged so far.
    pub fn operations(&self) -> &Operations {
        &self.operations
    }

    /// The structures' flows at the output times and their peaks.
    pub fn structure_records(&self) -> &StructureRecords {
        &self.structure_records
    }

    /// Thresholds' and watch areas' state, and every warning raised so far.
    pub fn watch(&self) -> &Watch {
        &self.watch
    }

    pub fn basin(&self) -> &Arc<Basin> {
        &self.basin
    }

    pub fn scenario(&self) -> &Arc<Scenario> {
        &self.scenario
    }

    pub fn solver(&self) -> &Solver {
        &self.solver
    }

    /// The solver, for steering a live run: rain, inflow factor, roughness, breaches.
    pub fn solver_mut(&mut self) -> &mut Solver {
        &mut self.solver
    }

    /// Maximum depth, speed, hazard, arrival and duration so far, tracked by the solver
    /// inside its sweep.
    pub fn envelopes(&self) -> hydro::Envelopes<'_> {
        envelopes(&self.solver)
    }

    pub fn gauges(&self) -> &GaugeRecords {
        &self.gauges
    }

    pub fn sim_time_s(&self) -> f64 {
        self.solver.sim_time_s()
    }

    /// When this run ends: the scenario's duration, or the time set by
    /// [`Run::set_end_s`] (a forecast's lead time).
    pub fn duration_s(&self) -> f64 {
        self.end_s
    }

    /// End the run at `t_s` instead of the scenario's duration (a forecast runs to its
    /// lead time). Output times past the scenario's interval grid end there too.
    pub fn set_end_s(&mut self, t_s: f64) {
        self.end_s = t_s;
    }

    /// Issue a forecast now: gauge records start afresh at the current time, thresholds
    /// are compared with the current state, and lead times count from now. Envelopes and
    /// the water balance go on from the start of the run.
    pub fn issue_now(&mut self) {
        self.gauges = GaugeRecords::default();
        self.record_start();
        self.issued_at_s = Some(self.sim_time_s());
    }

    /// Issue a forecast now but keep the gauge records so far (a live twin shows the
    /// observed past and the forecast on one hydrograph): thresholds are compared with
    /// the current state and lead times count from now.
    pub fn issue_now_keeping_records(&mut self) {
        let t = self.sim_time_s();
        self.watch = Watch::new(&self.basin, t);
        self.check_watch(t, &mut Vec::new());
        self.issued_at_s = Some(t);
    }

    /// When a forecast was issued ([`Run::issue_now`]), if this run is one.
    pub fn issued_at_s(&self) -> Option<f64> {
        self.issued_at_s
    }

    pub fn is_finished(&self) -> bool {
        self.solver.sim_time_s() >= self.duration_s()
    }

    /// Simulated time of output `index`: `index × output_interval_s`, at most the end.
    pub fn output_time_s(&self, index: u64) -> f64 {
        (index as f64 * self.scenario.file.output_interval_s).min(self.duration_s())
    }

    /// Solver steps taken by this run (after a hot start: since the saved state).
    pub fn steps_this_run(&self) -> u64 {
        self.solver.steps() - self.steps_at_start
    }

    /// The run's state in memory (solver, envelopes, gauge records, warnings, output
    /// schedule): what [`Run::save_state`] writes, for a live twin that goes back to its
    /// last observation when new ones arrive.
    pub fn saved(&self) -> SavedRun {
        SavedRun {
            solver: self.solver.state(),
            gauges: self.gauges.clone(),
            watch: self.watch.clone(),
            next_output: self.next_output,
            operations: self.operations.clone(),
            structures: self.structure_records.clone(),
        }
    }

    /// Save the run's state (solver, envelopes, gauge records, warnings, clock) to a CF
    /// NetCDF file for a hot start; see [`crate::hotstart`].
    pub fn save_state(&self, path: &Path) -> Result<()> {
        write_state(path, &self.basin, &self.scenario.file.name, &self.saved())
    }

    /// Continue from a state saved by [`Run::save_state`] on the same basin. With
    /// `Continue` the run goes on as if it had never stopped (same issue time, the gauge
    /// records and warnings so far kept): 0–T equals 0–T/2 saved and resumed, bit for
    /// bit. With `IssueNow` it is a new forecast issued at the state's time: gauge
    /// records start there and lead times count from there.
    pub fn restore_state(&mut self, path: &Path, how: Resume) -> Result<()> {
        let saved = read_state(path, &self.basin)?;
        self.restore(saved, path, how)?;
        self.resumed_from = Some((path.to_path_buf(), self.sim_time_s()));
        Ok(())
    }

    /// Continue from a state in memory ([`Run::saved`], or read from a file by
    /// [`crate::hotstart::read_state`]); `source` names it in errors.
    pub fn restore(&mut self, saved: SavedRun, source: &Path, how: Resume) -> Result<()> {
        let t = saved.solver.sim_time_s;
        if t >= self.duration_s() {
            return Err(BasinError::invalid(
                source,
                "sim_time_s",
                format!(
                    "is {t} s, not before the end of {} ({} s): there is nothing left to run",
                    self.scenario.path.display(),
                    self.duration_s()
                ),
                "give a scenario whose duration_s lies beyond the state's time",
            ));
        }
        self.solver
            .restore(&saved.solver)
            .map_err(|cause| BasinError::Solver {
                path: source.to_path_buf(),
                cause,
            })?;
        self.steps_at_start = saved.solver.steps;
        self.rain_frame = None;
        // The first output time after the state's time (the schedule may differ from the
        // saving run's).
        self.next_output = (t / self.scenario.file.output_interval_s).floor() as u64;
        while self.output_time_s(self.next_output) <= t {
            self.next_output += 1;
        }
        let fits = saved.watch.fits(&self.basin);
        match how {
            Resume::Continue if fits => {
                self.gauges = saved.gauges;
                self.watch = saved.watch;
                self.operations = saved.operations;
                self.structure_records = saved.structures;
            }
            _ => {
                self.gauges = GaugeRecords::default();
                self.record_start();
            }
        }
        Ok(())
    }

    /// Active (data) cells of the basin, for cell-updates/s.
    pub fn active_cells(&self) -> usize {
        self.active_cells
    }

    /// One solver step, landing exactly on the next output time, or on `stop_at_s` if
    /// that comes first. The solver updates the envelopes; at an output time the gauges
    /// are sampled.
    /// Nothing happens once the scenario is finished (no events).
    pub fn step(&mut self, stop_at_s: Option<f64>) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        if self.is_finished() {
            return Ok(events);
        }
        let output_end = self.output_time_s(self.next_output);
        let mut end = stop_at_s
            .filter(|&s| s > self.solver.sim_time_s())
            .map_or(output_end, |s| s.min(output_end));
        if let Some(next_frame_s) = self.apply_rain_frame()? {
            end = end.min(next_frame_s);
        }
        if !self.scenario.structures.is_empty() {
            let first = self.operations.log.len();
            let t = self.solver.sim_time_s();
            let fired = self
                .operations
                .apply(&self.scenario.structures, &mut self.solver, t);
            events.extend((first..first + fired).map(|index| Event::Operation { index }));
        }
        let mut before = std::mem::take(&mut self.breaches_before);
        before.clear();
        before.extend((0..).map_while(|i| self.solver.breach_status(i)));
        let report = self.solver.step(end).map_err(|cause| BasinError::Solver {
            path: self.scenario.path.clone(),
            cause,
        })?;
        // Also a breach that opens at once (Waiting → Complete in one step).
        let changed = before.iter().enumerate().any(|(i, was)| {
            let now = self.solver.breach_status(i);
            now != Some(*was) || matches!(now, Some(BreachStatus::Forming { .. }))
        });
        if changed {
            events.push(Event::BedChanged);
        }
        self.breaches_before = before;
        self.check_watch(report.sim_time_s, &mut events);
        self.gauges
            .follow_peaks(&self.solver, &self.basin, report.sim_time_s);
        if !self.scenario.structures.is_empty() {
            self.structure_records.after_step(&self.solver);
        }
        if report.sim_time_s >= output_end {
            self.gauges
                .sample(&self.solver, &self.basin, report.sim_time_s);
            self.structure_records.sample_all(
                &self.solver,
                report.sim_time_s,
                &self.scenario.detention_areas,
                self.basin.grid().cell_size_x() * self.basin.grid().cell_size_y(),
            );
            events.push(Event::Output {
                index: self.next_output,
                sim_time_s: report.sim_time_s,
            });
            self.next_output += 1;
        }
        if self.is_finished() {
            events.push(Event::Finished);
        }
        Ok(events)
    }

    /// Give the solver the rain frame that holds now (resampled onto the DEM when it
    /// changes); returns when the next frame starts, which a step must not pass.
    fn apply_rain_frame(&mut self) -> Result<Option<f64>> {
        let Some(frames) = &self.scenario.rain_frames else {
            return Ok(None);
        };
        let (k, next_s) = if self.rain_frames_on {
            frames.at(self.solver.sim_time_s())
        } else {
            (None, f64::INFINITY)
        };
        if self.rain_frame != Some(k) {
            let solver_err = |cause| BasinError::Solver {
                path: self.scenario.path.clone(),
                cause,
            };
            match k {
                Some(k) => {
                    if self.rain_grid.dim() != self.basin.active.dim() {
                        self.rain_grid = Array2::zeros(self.basin.active.dim());
                    }
                    frames.resample_into(k, &mut self.rain_grid);
                    let scale = self.scenario.file.adjust.rain_scale;
                    if scale != 1.0 {
                        self.rain_grid.mapv_inplace(|r| r * scale);
                    }
                    self.solver
                        .set_rain_grid(Some(self.rain_grid.view()))
                        .map_err(solver_err)?;
                }
                None => self.solver.set_rain_grid(None).map_err(solver_err)?,
            }
            self.rain_frame = Some(k);
        }
        Ok(next_s.is_finite().then_some(next_s))
    }

    /// Let the scenario's rain frames fall (the default) or stop them (a live twin's
    /// constant rain replaces them); the solver takes the change at once.
    pub fn set_rain_frames_on(&mut self, on: bool) -> Result<()> {
        if on != self.rain_frames_on {
            self.rain_frames_on = on;
            self.rain_frame = None;
            self.apply_rain_frame()?;
        }
        Ok(())
    }

    /// Write the depth now as `depth_<index>_<t>s.tif` into `dir` (numbered, so that
    /// sub-second intervals cannot overwrite each other); returns the file name.
    pub fn write_depth_snapshot(&self, dir: &Path, index: u64) -> Result<String> {
        let name = format!("depth_{index:05}_{}s.tif", self.solver.sim_time_s());
        write_masked(&dir.join(&name), &self.basin, self.solver.depth_m())?;
        crate::raster::label_band(
            &dir.join(&name),
            &format!("water depth at {} s", self.solver.sim_time_s()),
            "m",
        )?;
        crate::raster::rewrite_as_cog(&dir.join(&name), "AVERAGE")?;
        Ok(name)
    }

    /// Write the result GeoTIFFs, `gauges.csv`, `warnings.csv` and `summary.json` of the
    /// state reached into the existing folder `dir`; `status` goes into the summary.
    pub fn write_results(
        &self,
        dir: &Path,
        wall_s: f64,
        status: &str,
        threads: usize,
    ) -> Result<RunSummary> {
        write_results(self, dir, wall_s, status, threads)
    }

    /// The state file this run continued from and its time, after
    /// [`Run::restore_state`].
    pub fn resumed_from(&self) -> Option<(&Path, f64)> {
        self.resumed_from.as_ref().map(|(p, t)| (p.as_path(), *t))
    }
}
