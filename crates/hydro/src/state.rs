//! A solver's run so far, as plain arrays and numbers: what a hot start saves and
//! restores ([`crate::Solver::state`], [`crate::Solver::restore`]). The solver's inputs
//! (grid, roughness, boundaries, forcing series, loss parameters) are not in it: the
//! caller builds the solver from them again and then restores the state.

use ndarray::Array2;

use crate::solver::WaterBalance;

/// Everything that changes as a solver runs, on the `rows × cols` grid (no ghost ring).
/// Restored into a solver built from the same inputs, the run continues with exactly the
/// steps and bits it would have taken without stopping.
#[derive(Clone, Debug, PartialEq)]
pub struct SolverState {
    pub sim_time_s: f64,
    pub steps: u64,
    /// The wave-speed rate the next step's time step comes from (1/s): the previous
    /// step's, which a fresh look at the state would not give (a fresh look counts dry
    /// fronts at 2c).
    pub max_rate_per_s: f64,
    /// Factor on every inflow hydrograph.
    pub inflow_scale: f64,
    pub balance: WaterBalance,
    pub depth_m: Array2<f64>,
    pub qx_m2_s: Array2<f64>,
    pub qy_m2_s: Array2<f64>,
    /// The bed now, lowered where breaches have formed.
    pub bed_m: Array2<f64>,
    /// Water soaked in so far (m); `None` without losses.
    pub infiltrated_m: Option<Array2<f64>>,
    /// Rain fallen on each cell so far (m), which the curve-number model runs on; `None`
    /// without it.
    pub soil_rain_m: Option<Array2<f64>>,
    /// Each breach's progress, in the order they were added.
    pub breaches: Vec<BreachProgress>,
    /// Each structure's setting (gate opening and target, pump on, release).
    pub structures: Vec<crate::StructureSetting>,
    /// The envelopes so far; `None` when they are not tracked.
    pub envelopes: Option<EnvelopeValues>,
}

/// Where a breach has got to.
#[derive(Clone, Debug, PartialEq)]
pub struct BreachProgress {
    /// When it started; `None` while waiting for its trigger.
    pub started_s: Option<f64>,
    /// Share of the lowering done, 0–1.
    pub fraction: f64,
    /// The bed of each breach cell when it started.
    pub crest_m: Vec<f64>,
}

/// The envelopes' values, at the precision the solver keeps them.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvelopeValues {
    pub max_depth_m: Array2<f32>,
    pub max_speed_m_s: Array2<f32>,
    pub max_depth_speed_m2_s: Array2<f32>,
    pub max_hazard: Array2<f32>,
    /// NaN where a cell has not gone under yet.
    pub first_inundation_s: Array2<f32>,
    /// Time under water in spells that have ended (s).
    pub duration_inundated_s: Array2<f64>,
    /// When the spell under water still going on began (s); NaN where a cell is not in
    /// one, and for cells whose every step is in `duration_inundated_s`. The time under
    /// water so far is `duration_inundated_s + sim_time_s − flooded_since_s` where set.
    pub flooded_since_s: Array2<f64>,
}

impl SolverState {
    /// Whether two states hold the same bits everywhere (NaN equal to the same NaN), which
    /// `==` does not say for envelopes holding NaN.
    pub fn same_bits(&self, other: &SolverState) -> bool {
        fn f64s(a: &Array2<f64>, b: &Array2<f64>) -> bool {
            a.dim() == b.dim() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        fn f32s(a: &Array2<f32>, b: &Array2<f32>) -> bool {
            a.dim() == b.dim() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        }
        let envelopes = match (&self.envelopes, &other.envelopes) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                f32s(&a.max_depth_m, &b.max_depth_m)
                    && f32s(&a.max_speed_m_s, &b.max_speed_m_s)
                    && f32s(&a.max_depth_speed_m2_s, &b.max_depth_speed_m2_s)
                    && f32s(&a.max_hazard, &b.max_hazard)
                    && f32s(&a.first_inundation_s, &b.first_inundation_s)
                    && f64s(&a.duration_inundated_s, &b.duration_inundated_s)
                    && f64s(&a.flooded_since_s, &b.flooded_since_s)
            }
            _ => false,
        };
        let same = |a: &Option<Array2<f64>>, b: &Option<Array2<f64>>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => f64s(a, b),
            _ => false,
        };
        let infiltrated = same(&self.infiltrated_m, &other.infiltrated_m)
            && same(&self.soil_rain_m, &other.soil_rain_m);
        self.sim_time_s.to_bits() == other.sim_time_s.to_bits()
            && self.steps == other.steps
            && self.max_rate_per_s.to_bits() == other.max_rate_per_s.to_bits()
            && self.inflow_scale.to_bits() == other.inflow_scale.to_bits()
            && self.balance == other.balance
            && self.breaches == other.breaches
            && self.structures == other.structures
            && f64s(&self.depth_m, &other.depth_m)
            && f64s(&self.qx_m2_s, &other.qx_m2_s)
            && f64s(&self.qy_m2_s, &other.qy_m2_s)
            && f64s(&self.bed_m, &other.bed_m)
            && infiltrated
            && envelopes
    }
}
