//! The run engine: one scenario of a basin stepped forward in time, with everything a
//! run records along the way (envelopes, gauge hydrographs, the output schedule). The
//! command line's `run`, the app's worker and the app's export all drive this one type;
//! they add only what is theirs (a progress bar; pacing, steering and publishing).

use std::path::Path;
use std::sync::Arc;

use hydro::{BreachStatus, Solver};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::hazard::HazardTables;
use crate::results::{GaugeRecords, envelopes, write_masked};
use crate::runner::{RunSummary, build_solver, write_results};
use crate::scenario::Scenario;

/// What a step did that its driver may act on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event {
    /// Output time `index` (1, 2, …; `index × output_interval_s`, the last one at the
    /// end of the scenario) was reached; the gauges were sampled.
    Output { index: u64, sim_time_s: f64 },
    /// The bed changed in this step (a breach started, is forming or just completed).
    BedChanged,
    /// The scenario's duration was reached.
    Finished,
}

/// One scenario of a basin in progress.
#[derive(Debug)]
pub struct Run {
    basin: Arc<Basin>,
    scenario: Arc<Scenario>,
    solver: Solver,
    hazard: HazardTables,
    gauges: GaugeRecords,
    /// Index of the next output time.
    next_output: u64,
    active_cells: usize,
    /// The breaches' statuses before the current step (kept to spare an allocation per
    /// step).
    breaches_before: Vec<BreachStatus>,
}

impl Run {
    /// A ready run at t = 0: the solver built from the basin and scenario, the gauges
    /// and envelopes holding the initial state.
    pub fn new(basin: Arc<Basin>, scenario: Arc<Scenario>) -> Result<Self> {
        let hazard = HazardTables::bundled();
        let solver = Self::new_solver(&basin, &scenario, &hazard)?;
        let active_cells = basin.active.iter().filter(|&&a| a).count();
        let mut run = Self {
            active_cells,
            basin,
            scenario,
            solver,
            hazard,
            gauges: GaugeRecords::default(),
            next_output: 1,
            breaches_before: Vec::new(),
        };
        run.record_start();
        Ok(run)
    }

    /// Back to t = 0 with the scenario as loaded (a fresh solver; steering applied
    /// through [`Run::solver_mut`] must be applied again).
    pub fn reset(&mut self) -> Result<()> {
        self.solver = Self::new_solver(&self.basin, &self.scenario, &self.hazard)?;
        self.gauges = GaugeRecords::default();
        self.next_output = 1;
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

    fn record_start(&mut self) {
        let t = self.solver.sim_time_s();
        self.gauges.sample(&self.solver, &self.basin, t);
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

    pub fn duration_s(&self) -> f64 {
        self.scenario.file.duration_s
    }

    pub fn is_finished(&self) -> bool {
        self.solver.sim_time_s() >= self.duration_s()
    }

    /// Simulated time of output `index`: `index × output_interval_s`, at most the end.
    pub fn output_time_s(&self, index: u64) -> f64 {
        (index as f64 * self.scenario.file.output_interval_s).min(self.duration_s())
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
        let end = stop_at_s
            .filter(|&s| s > self.solver.sim_time_s())
            .map_or(output_end, |s| s.min(output_end));
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
        if report.sim_time_s >= output_end {
            self.gauges
                .sample(&self.solver, &self.basin, report.sim_time_s);
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

    /// Write the depth now as `depth_<index>_<t>s.tif` into `dir` (numbered, so that
    /// sub-second intervals cannot overwrite each other); returns the file name.
    pub fn write_depth_snapshot(&self, dir: &Path, index: u64) -> Result<String> {
        let name = format!("depth_{index:05}_{}s.tif", self.solver.sim_time_s());
        write_masked(&dir.join(&name), &self.basin, self.solver.depth_m())?;
        Ok(name)
    }

    /// Write the result GeoTIFFs, `gauges.csv` and `summary.json` of the state reached
    /// into the existing folder `dir`; `status` goes into the summary.
    pub fn write_results(
        &self,
        dir: &Path,
        wall_s: f64,
        status: &str,
        threads: usize,
    ) -> Result<RunSummary> {
        write_results(
            &self.basin,
            &self.scenario,
            &self.solver,
            &self.gauges,
            dir,
            wall_s,
            status,
            threads,
        )
    }
}
