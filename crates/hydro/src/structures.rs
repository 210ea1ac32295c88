//! Hydraulic structures: weirs, gates (sluices), culverts, pumps and controlled releases.
//! Each moves water between cells by its own discharge formula instead of the
//! shallow-water flux: the cells a weir or a gate stands on are walls for the sweep (the
//! caller marks them inactive), and after each sweep the structure takes a volume from
//! the cells on one side and puts it on the other.
//!
//! A structure is *described once*: [`StructureKind`] holds its parameters, its
//! [`StructureKind::discharge`] gives the flow for the heads on its two sides, and the
//! transfer (volume limits, balance, state) is the same for every kind.
//!
//! Formulas (SI units; see `docs/structures.md` for their sources and defaults):
//! - weir: Q = C·L·H^1.5 with H the head over the crest, drowned by Villemonte's factor
//!   (1 − (H_d/H_u)^1.5)^0.385;
//! - gate: weir flow over the sill while the upstream head is at most the opening,
//!   orifice flow Q = C_d·W·a·√(2g·(H_u − max(H_d, C_c·a))) from 1.25 × the opening, and
//!   a linear blend between (continuous in the head);
//! - culvert: the smaller of the inlet-control flow (weir flow into the barrel, orifice
//!   flow once the inlet is submerged) and the outlet-control flow (full barrel:
//!   ΔH = (1 + k_e + k_x − 1 + 2g·n²·L/R^(4/3))·V²/2g, exit loss k_x counted in ΔH);
//! - pump: Q from its Q(head) table, on from a start level to a stop level at a control
//!   cell;
//! - release: a discharge set by the caller each step (a reservoir rule).

use serde::{Deserialize, Serialize};

use crate::SolverError;

/// Gravity used by the structure formulas (m/s²).
const G: f64 = 9.81;

/// How a structure's flow was governed in the last step, for its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// No flow (dry, closed, off or below the crest).
    None,
    FreeWeir,
    DrownedWeir,
    /// Between weir and orifice flow (a gate whose lip the water is reaching).
    Transition,
    FreeOrifice,
    SubmergedOrifice,
    InletControl,
    OutletControl,
    Pumping,
    Release,
    /// The donor cells held less than the formula asked for.
    LimitedByVolume,
}

impl Regime {
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::None => "none",
            Regime::FreeWeir => "free_weir",
            Regime::DrownedWeir => "drowned_weir",
            Regime::Transition => "transition",
            Regime::FreeOrifice => "free_orifice",
            Regime::SubmergedOrifice => "submerged_orifice",
            Regime::InletControl => "inlet_control",
            Regime::OutletControl => "outlet_control",
            Regime::Pumping => "pumping",
            Regime::Release => "release",
            Regime::LimitedByVolume => "limited_by_volume",
        }
    }
}

/// A culvert barrel's section.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum Barrel {
    Box { width_m: f64, height_m: f64 },
    Circular { diameter_m: f64 },
}

impl Barrel {
    /// Full-flow area (m²), rise (m), width at the inlet for weir flow (m) and hydraulic
    /// radius when full (m).
    fn geometry(self) -> (f64, f64, f64, f64) {
        match self {
            Barrel::Box { width_m, height_m } => {
                let a = width_m * height_m;
                (a, height_m, width_m, a / (2.0 * (width_m + height_m)))
            }
            Barrel::Circular { diameter_m } => {
                let a = std::f64::consts::PI * diameter_m * diameter_m / 4.0;
                (a, diameter_m, diameter_m, diameter_m / 4.0)
            }
        }
    }
}

/// What a structure is, with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StructureKind {
    /// A weir of total crest length `length_m` (spread over its links).
    Weir {
        crest_m: f64,
        length_m: f64,
        coefficient: f64,
        /// Flow only from side A to side B (a flap).
        one_way: bool,
    },
    /// A sluice gate of width `width_m` over a sill; `opening_m` is set by the caller
    /// (it moves at most `max_speed_m_s` towards the target).
    Gate {
        sill_m: f64,
        width_m: f64,
        /// The highest opening (m).
        max_opening_m: f64,
        weir_coefficient: f64,
        discharge_coefficient: f64,
        contraction_coefficient: f64,
        max_speed_m_s: f64,
    },
    /// A culvert from its inlet (side A) to its outlet (side B).
    Culvert {
        barrel: Barrel,
        length_m: f64,
        manning_n: f64,
        inlet_invert_m: f64,
        outlet_invert_m: f64,
        entrance_loss: f64,
        exit_loss: f64,
        /// A flap gate at the outlet: no flow from B to A.
        flap: bool,
    },
    /// A pump from side A to side B (or out of the basin when B has no cell): Q by the
    /// static lift (level at B, or at A's outlet level, minus level at A), linear between
    /// the table's points and held beyond them.
    Pump {
        /// (lift m, Q m³/s), lifts increasing.
        head_flow: Vec<(f64, f64)>,
        /// The level the lift is counted to when pumping out of the basin (m).
        outlet_level_m: Option<f64>,
        /// The cell whose water level starts and stops the pump.
        control: (usize, usize),
        /// On when the control level reaches this (m)…
        start_level_m: f64,
        /// …off when it falls to this (m), below the start level.
        stop_level_m: f64,
    },
    /// A discharge from A to B set by the caller each step (a reservoir's release rule).
    Release,
}

/// Where a structure takes water from and puts it: one link per pair of cells (padded
/// indices are the caller's (row, col) of the unpadded grid).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub a: (usize, usize),
    /// `None`: out of the basin (a pump only).
    pub b: Option<(usize, usize)>,
    /// Share of the structure's flow through this link (the shares sum to 1).
    pub share: f64,
}

/// A structure: its kind and its links.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Structure {
    pub name: String,
    pub kind: StructureKind,
    pub links: Vec<Link>,
}

/// What a structure is doing, set by the caller (rules, schedules, the app) and kept in
/// the solver's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StructureSetting {
    /// Gate opening now (m).
    pub opening_m: f64,
    /// Where the gate is going (m).
    pub target_opening_m: f64,
    /// Pump on.
    pub running: bool,
    /// Release asked for (m³/s).
    pub release_m3_s: f64,
    /// Operated by hand: a pump's start and stop levels (and the caller's rules) leave
    /// it alone.
    #[serde(default)]
    pub manual: bool,
}

/// One structure in the last step: its flow (m³/s, positive from A to B), the mean
/// levels on its two sides, its regime.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StructureFlow {
    pub flow_m3_s: f64,
    /// Volume moved since the start, A to B positive (m³).
    pub volume_m3: f64,
    pub level_a_m: f64,
    pub level_b_m: f64,
    pub regime: Regime,
}

impl Default for StructureFlow {
    fn default() -> Self {
        Self {
            flow_m3_s: 0.0,
            volume_m3: 0.0,
            level_a_m: 0.0,
            level_b_m: 0.0,
            regime: Regime::None,
        }
    }
}

/// Villemonte's (1947) submergence factor for a weir: (1 − (H_d/H_u)^1.5)^0.385.
pub fn villemonte(h_up: f64, h_down: f64) -> f64 {
    if h_down <= 0.0 {
        return 1.0;
    }
    let r = (h_down / h_up).min(1.0);
    (1.0 - r.powf(1.5)).max(0.0).powf(0.385)
}

/// Weir flow over a crest of length `length` for heads above the crest `h_up` > 0 and
/// `h_down`: (Q ≥ 0, regime).
pub fn weir_flow(coefficient: f64, length: f64, h_up: f64, h_down: f64) -> (f64, Regime) {
    if h_up <= 0.0 {
        return (0.0, Regime::None);
    }
    let free = coefficient * length * h_up.powf(1.5);
    if h_down > 0.0 {
        (free * villemonte(h_up, h_down), Regime::DrownedWeir)
    } else {
        (free, Regime::FreeWeir)
    }
}

impl StructureKind {
    /// Flow (m³/s, ≥ 0) from the higher side to the lower for upstream level `up` and
    /// downstream level `down` (m), with the setting in force; and its regime. `forward`
    /// is whether the flow goes from A to B.
    pub fn discharge(
        &self,
        up: f64,
        down: f64,
        forward: bool,
        s: &StructureSetting,
    ) -> (f64, Regime) {
        match self {
            StructureKind::Weir {
                crest_m,
                length_m,
                coefficient,
                one_way,
            } => {
                if *one_way && !forward {
                    return (0.0, Regime::None);
                }
                weir_flow(*coefficient, *length_m, up - crest_m, down - crest_m)
            }
            StructureKind::Gate {
                sill_m,
                width_m,
                weir_coefficient,
                discharge_coefficient,
                contraction_coefficient,
                ..
            } => gate_flow(
                *sill_m,
                *width_m,
                s.opening_m,
                *weir_coefficient,
                *discharge_coefficient,
                *contraction_coefficient,
                up,
                down,
            ),
            StructureKind::Culvert {
                barrel,
                length_m,
                manning_n,
                inlet_invert_m,
                outlet_invert_m,
                entrance_loss,
                exit_loss,
                flap,
            } => {
                if *flap && !forward {
                    return (0.0, Regime::None);
                }
                // Flowing backwards, the outlet is the inlet.
                let (z_in, z_out) = if forward {
                    (*inlet_invert_m, *outlet_invert_m)
                } else {
                    (*outlet_invert_m, *inlet_invert_m)
                };
                culvert_flow(
                    *barrel,
                    *length_m,
                    *manning_n,
                    z_in,
                    z_out,
                    *entrance_loss,
                    *exit_loss,
                    up,
                    down,
                )
            }
            StructureKind::Pump { head_flow, .. } => {
                if !s.running || !forward {
                    return (0.0, Regime::None);
                }
                // `up` is the level at A, `down` at B: the lift is down − up.
                (interpolate(head_flow, down - up).max(0.0), Regime::Pumping)
            }
            StructureKind::Release => {
                if !forward || s.release_m3_s <= 0.0 {
                    return (0.0, Regime::None);
                }
                (s.release_m3_s, Regime::Release)
            }
        }
    }

    /// Whether the structure moves water only from A to B whatever the levels (pumps and
    /// releases), rather than from the higher side to the lower.
    pub fn is_driven(&self) -> bool {
        matches!(self, StructureKind::Pump { .. } | StructureKind::Release)
    }

    /// A short label for the kind.
    pub fn label(&self) -> &'static str {
        match self {
            StructureKind::Weir { .. } => "weir",
            StructureKind::Gate { .. } => "gate",
            StructureKind::Culvert { .. } => "culvert",
            StructureKind::Pump { .. } => "pump",
            StructureKind::Release => "release",
        }
    }
}

/// Sluice gate flow; see the module documentation.
#[allow(clippy::too_many_arguments)]
pub fn gate_flow(
    sill: f64,
    width: f64,
    opening: f64,
    cw: f64,
    cd: f64,
    cc: f64,
    up: f64,
    down: f64,
) -> (f64, Regime) {
    let hu = up - sill;
    let hd = down - sill;
    if hu <= 0.0 || opening <= 0.0 {
        return (0.0, Regime::None);
    }
    let weir = || weir_flow(cw, width, hu, hd);
    let orifice = |hu: f64| {
        let drop = hu - hd.max(cc * opening);
        let q = cd * width * opening * (2.0 * G * drop.max(0.0)).sqrt();
        let regime = if hd > cc * opening {
            Regime::SubmergedOrifice
        } else {
            Regime::FreeOrifice
        };
        (q, regime)
    };
    if hu <= opening {
        weir()
    } else if hu >= 1.25 * opening {
        orifice(hu)
    } else {
        // Linear in the head between the weir flow at H = a and the orifice flow at
        // H = 1.25 a (HEC-RAS's transition band), so Q is continuous as the water rises.
        let q_weir = weir_flow(cw, width, opening, hd).0;
        let q_orifice = orifice(1.25 * opening).0;
        let f = (hu - opening) / (0.25 * opening);
        (q_weir + f * (q_orifice - q_weir), Regime::Transition)
    }
}

/// Culvert flow for upstream level `up` over the inlet invert `z_in` and downstream level
/// `down`; see the module documentation.
#[allow(clippy::too_many_arguments)]
pub fn culvert_flow(
    barrel: Barrel,
    length: f64,
    n: f64,
    z_in: f64,
    z_out: f64,
    ke: f64,
    kx: f64,
    up: f64,
    down: f64,
) -> (f64, Regime) {
    let hw = up - z_in;
    if hw <= 0.0 {
        return (0.0, Regime::None);
    }
    let (area, rise, width, radius) = barrel.geometry();
    // Inlet control: critical-depth weir flow into the barrel (C = √g·(2/3)^1.5 = 1.705)
    // until the inlet is submerged (HW = rise), orifice flow (C_d = 0.6) from 1.2 × rise,
    // linear between.
    let weir = |h: f64| 1.705 * width * h.powf(1.5);
    let orifice = |h: f64| 0.6 * area * (2.0 * G * (h - rise / 2.0)).max(0.0).sqrt();
    let inlet = if hw <= rise {
        weir(hw)
    } else if hw >= 1.2 * rise {
        orifice(hw)
    } else {
        let f = (hw - rise) / (0.2 * rise);
        weir(rise) + f * (orifice(1.2 * rise) - weir(rise))
    };
    // Outlet control: the barrel full, from the headwater to the tailwater or the outlet
    // crown, whichever is higher. It can govern only once the barrel runs full: the inlet
    // or the outlet submerged.
    let tail = down.max(z_out + rise);
    let drop = up - tail;
    if hw <= rise && down <= z_out + rise {
        return (inlet, Regime::InletControl);
    }
    let outlet = if drop <= 0.0 {
        0.0
    } else {
        let friction = 2.0 * G * n * n * length / radius.powf(4.0 / 3.0);
        area * (2.0 * G * drop / (ke + kx + friction)).sqrt()
    };
    if outlet < inlet {
        (outlet, Regime::OutletControl)
    } else {
        (inlet, Regime::InletControl)
    }
}

/// Linear interpolation in a (x, y) table with x increasing, held beyond its ends.
fn interpolate(table: &[(f64, f64)], x: f64) -> f64 {
    match table {
        [] => 0.0,
        [only] => only.1,
        _ => {
            if x <= table[0].0 {
                return table[0].1;
            }
            for w in table.windows(2) {
                if x <= w[1].0 {
                    let f = (x - w[0].0) / (w[1].0 - w[0].0);
                    return w[0].1 + f * (w[1].1 - w[0].1);
                }
            }
            table[table.len() - 1].1
        }
    }
}

/// Structures in the solver: adding, setting and the transfer after each sweep (the
/// solver's own fields, shared with this module).
impl crate::Solver {
    /// Add a structure (weir, gate, culvert, pump, release); returns its index. The
    /// cells a weir or gate stands on must be walls (inactive) for the sweep; its links
    /// join the active cells on either side. A gate starts closed, a pump off.
    pub fn add_structure(&mut self, structure: Structure) -> Result<usize, SolverError> {
        let bad =
            |what: String, value: f64, expected: &'static str| SolverError::InvalidStructure {
                name: structure.name.clone(),
                what,
                value,
                expected,
            };
        if structure.links.is_empty() {
            return Err(bad("links".into(), 0.0, "at least one pair of cells"));
        }
        let mut shares = 0.0;
        for l in &structure.links {
            self.check_cell("structure cell", l.a.0, l.a.1)?;
            match l.b {
                Some(b) => self.check_cell("structure cell", b.0, b.1)?,
                None if !matches!(structure.kind, StructureKind::Pump { .. }) => {
                    return Err(bad(
                        "outlet".into(),
                        f64::NAN,
                        "a cell (only a pump may send water out of the basin)",
                    ));
                }
                None => {}
            }
            if !(l.share.is_finite() && l.share > 0.0) {
                return Err(bad("share".into(), l.share, "a share of the flow > 0"));
            }
            shares += l.share;
        }
        if (shares - 1.0).abs() > 1e-9 {
            return Err(bad("shares".into(), shares, "shares that sum to 1"));
        }
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(name.into(), v, "a finite value > 0"))
            }
        };
        let finite = |name: &str, v: f64| {
            if v.is_finite() {
                Ok(())
            } else {
                Err(bad(name.into(), v, "a finite value"))
            }
        };
        match &structure.kind {
            StructureKind::Weir {
                crest_m,
                length_m,
                coefficient,
                ..
            } => {
                finite("crest_m", *crest_m)?;
                positive("length_m", *length_m)?;
                positive("coefficient", *coefficient)?;
            }
            StructureKind::Gate {
                sill_m,
                width_m,
                max_opening_m,
                weir_coefficient,
                discharge_coefficient,
                contraction_coefficient,
                max_speed_m_s,
            } => {
                finite("sill_m", *sill_m)?;
                positive("width_m", *width_m)?;
                positive("max_opening_m", *max_opening_m)?;
                positive("weir_coefficient", *weir_coefficient)?;
                positive("discharge_coefficient", *discharge_coefficient)?;
                positive("contraction_coefficient", *contraction_coefficient)?;
                positive("max_speed_m_s", *max_speed_m_s)?;
            }
            StructureKind::Culvert {
                barrel,
                length_m,
                manning_n,
                inlet_invert_m,
                outlet_invert_m,
                entrance_loss,
                exit_loss,
                ..
            } => {
                match barrel {
                    Barrel::Box { width_m, height_m } => {
                        positive("width_m", *width_m)?;
                        positive("height_m", *height_m)?;
                    }
                    Barrel::Circular { diameter_m } => positive("diameter_m", *diameter_m)?,
                }
                positive("length_m", *length_m)?;
                positive("manning_n", *manning_n)?;
                finite("inlet_invert_m", *inlet_invert_m)?;
                finite("outlet_invert_m", *outlet_invert_m)?;
                if !(entrance_loss.is_finite() && *entrance_loss >= 0.0) {
                    return Err(bad(
                        "entrance_loss".into(),
                        *entrance_loss,
                        "a loss coefficient ≥ 0",
                    ));
                }
                positive("exit_loss", *exit_loss)?;
            }
            StructureKind::Pump {
                head_flow,
                control,
                start_level_m,
                stop_level_m,
                ..
            } => {
                self.check_cell("pump control cell", control.0, control.1)?;
                if !(start_level_m.is_finite()
                    && stop_level_m.is_finite()
                    && stop_level_m < start_level_m)
                {
                    return Err(bad(
                        "stop_level_m".into(),
                        *stop_level_m,
                        "a stop level below the start level",
                    ));
                }
                if head_flow.is_empty()
                    || head_flow.windows(2).any(|w| w[1].0 <= w[0].0)
                    || head_flow
                        .iter()
                        .any(|p| !(p.0.is_finite() && p.1.is_finite() && p.1 >= 0.0))
                {
                    return Err(bad(
                        "head_flow".into(),
                        f64::NAN,
                        "(lift m, Q m³/s) points with lifts increasing and Q ≥ 0",
                    ));
                }
            }
            StructureKind::Release => {}
        }
        self.structures.push(structure);
        self.structure_settings.push(StructureSetting::default());
        self.structure_flows.push(StructureFlow::default());
        Ok(self.structures.len() - 1)
    }

    /// The structures, in the order they were added.
    pub fn structures(&self) -> &[Structure] {
        &self.structures
    }

    /// What structure `index` is set to (opening, pump on, release).
    pub fn structure_setting(&self, index: usize) -> Option<StructureSetting> {
        self.structure_settings.get(index).copied()
    }

    /// Its flow, side levels and regime in the last step.
    pub fn structure_flow(&self, index: usize) -> Option<StructureFlow> {
        self.structure_flows.get(index).copied()
    }

    /// Set a gate's target opening (reached at its maximum speed), a pump on or off, or
    /// a release. A target beyond the gate's range is clamped to it.
    pub fn set_structure(
        &mut self,
        index: usize,
        setting: StructureSetting,
    ) -> Result<(), SolverError> {
        let Some(s) = self.structures.get(index) else {
            return Err(SolverError::InvalidParameter {
                name: "structure index",
                value: index as f64,
                expected: "the index returned by add_structure",
            });
        };
        let mut setting = setting;
        if let StructureKind::Gate { max_opening_m, .. } = s.kind {
            setting.target_opening_m = setting.target_opening_m.clamp(0.0, max_opening_m);
            setting.opening_m = self.structure_settings[index].opening_m;
        }
        if !(setting.release_m3_s.is_finite() && setting.release_m3_s >= 0.0) {
            return Err(SolverError::InvalidParameter {
                name: "release_m3_s",
                value: setting.release_m3_s,
                expected: "a release ≥ 0 m³/s",
            });
        }
        self.structure_settings[index] = setting;
        Ok(())
    }

    /// The mean water levels on a structure's two sides now (by share; side B of a pump
    /// out of the basin: its outlet level).
    pub fn structure_levels(&self, index: usize) -> Option<(f64, f64)> {
        let st = self.structures.get(index)?;
        Some(self.side_levels(st))
    }

    fn side_levels(&self, st: &Structure) -> (f64, f64) {
        let level = |cell: (usize, usize)| {
            let c = (cell.0 + 1, cell.1 + 1);
            self.bed_m[c] + self.cur.h[c]
        };
        let a: f64 = st.links.iter().map(|l| l.share * level(l.a)).sum();
        let b: f64 = match &st.kind {
            StructureKind::Pump { outlet_level_m, .. }
                if st.links.iter().any(|l| l.b.is_none()) =>
            {
                outlet_level_m.unwrap_or(a)
            }
            _ => st
                .links
                .iter()
                .filter_map(|l| l.b.map(|b| l.share * level(b)))
                .sum(),
        };
        (a, b)
    }

    /// Set a structure's setting as given, a gate's opening included (no travel): for the
    /// state a scenario starts in.
    pub fn set_structure_at_once(
        &mut self,
        index: usize,
        setting: StructureSetting,
    ) -> Result<(), SolverError> {
        self.set_structure(index, setting)?;
        let s = &mut self.structure_settings[index];
        s.opening_m = s.target_opening_m;
        Ok(())
    }

    /// Move each structure's water for a step of `dt`: gates towards their targets, then
    /// each link's volume from the donor to the receiver, never more than the donor holds
    /// above what it can give (a weir's crest, a level the receiver would pass). Returns
    /// (volume pumped out of the basin, largest CFL rate of the cells touched).
    pub(crate) fn apply_structures(&mut self, dt: f64) -> (f64, f64) {
        let area = self.grid.cell_area_m2();
        let (mut out, mut rate) = (0.0, 0.0f64);
        for (i, st) in self.structures.iter().enumerate() {
            // Mean levels on the two sides, by share.
            let (level_a, level_b) = self.side_levels(st);
            let setting = &mut self.structure_settings[i];
            let level = |cell: (usize, usize)| {
                let c = (cell.0 + 1, cell.1 + 1);
                self.bed_m[c] + self.cur.h[c]
            };
            if let StructureKind::Pump {
                control,
                start_level_m,
                stop_level_m,
                ..
            } = st.kind
                && !setting.manual
            {
                let l = level(control);
                if l >= start_level_m {
                    setting.running = true;
                } else if l <= stop_level_m {
                    setting.running = false;
                }
            }
            if let StructureKind::Gate { max_speed_m_s, .. } = st.kind {
                let gap = setting.target_opening_m - setting.opening_m;
                let step = max_speed_m_s * dt;
                setting.opening_m = if gap.abs() <= step {
                    setting.target_opening_m
                } else {
                    setting.opening_m + step.copysign(gap)
                };
            }
            let forward = st.kind.is_driven() || level_a >= level_b;
            let (up, down) = if forward {
                (level_a, level_b)
            } else {
                (level_b, level_a)
            };
            let (q, mut regime) = st.kind.discharge(up, down, forward, setting);
            let wanted = q * dt;
            let mut moved = 0.0;
            for l in &st.links {
                let (from, to) = if forward {
                    (Some(l.a), l.b)
                } else {
                    (l.b, Some(l.a))
                };
                let from = from.expect("only a pump sends water out, forward");
                let fc = (from.0 + 1, from.1 + 1);
                let mut v = wanted * l.share;
                // Never below the donor's bed, nor (for flow driven by levels) below the
                // level both would share.
                let h = self.cur.h[fc];
                let mut limit = h * area;
                if !st.kind.is_driven()
                    && let Some(to) = to
                {
                    let tc = (to.0 + 1, to.1 + 1);
                    let eta_from = self.bed_m[fc] + h;
                    let eta_to = self.bed_m[tc] + self.cur.h[tc];
                    limit = limit.min(((eta_from - eta_to) * area / 2.0).max(0.0));
                }
                if v > limit {
                    v = limit;
                    regime = Regime::LimitedByVolume;
                }
                if v <= 0.0 {
                    continue;
                }
                let new_h = (h - v / area).max(0.0);
                // The donor keeps its velocity.
                if h > 0.0 {
                    let keep = new_h / h;
                    self.cur.qx[fc] *= keep;
                    self.cur.qy[fc] *= keep;
                }
                self.cur.h[fc] = new_h;
                if new_h <= self.params.dry_depth_m {
                    self.cur.qx[fc] = 0.0;
                    self.cur.qy[fc] = 0.0;
                }
                match to {
                    Some(to) => {
                        let tc = (to.0 + 1, to.1 + 1);
                        self.cur.h[tc] += v / area;
                        self.tiles.mark_wet(tc.0, tc.1);
                        let c = (self.params.gravity_m_s2 * self.cur.h[tc]).sqrt();
                        let dx = self.grid.dx_m.min(self.grid.dy_m);
                        rate = rate.max(2.0 * c / dx);
                    }
                    None => out += v,
                }
                moved += v;
            }
            let sign = if forward { 1.0 } else { -1.0 };
            let volume_m3 = self.structure_flows[i].volume_m3 + sign * moved;
            self.structure_flows[i] = StructureFlow {
                flow_m3_s: sign * moved / dt,
                volume_m3,
                level_a_m: level_a,
                level_b_m: level_b,
                regime: if moved > 0.0 { regime } else { Regime::None },
            };
        }
        (out, rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn villemonte_is_one_when_free_and_zero_when_level() {
        assert_eq!(villemonte(1.0, 0.0), 1.0);
        assert_eq!(villemonte(1.0, 1.0), 0.0);
        // (1 − 0.5^1.5)^0.385 = 0.64645^0.385 = 0.84539…
        assert!((villemonte(1.0, 0.5) - 0.845_39).abs() < 1e-4);
    }

    #[test]
    fn gate_flow_is_continuous_through_the_transition() {
        let q = |up: f64| gate_flow(0.0, 2.0, 0.5, 1.705, 0.61, 0.61, up, -1.0).0;
        let mut last = 0.0;
        for k in 1..=400 {
            let up = k as f64 * 0.005;
            let now = q(up);
            assert!(now >= last, "Q falls at {up} m: {last} → {now}");
            // No jump bigger than the weir's own rise over 5 mm.
            assert!(now - last < 0.05, "jump at {up} m: {last} → {now}");
            last = now;
        }
    }

    #[test]
    fn a_culvert_is_governed_by_the_smaller_flow() {
        let barrel = Barrel::Box {
            width_m: 1.0,
            height_m: 1.0,
        };
        // Free outfall, short barrel: inlet control.
        let (_, r) = culvert_flow(barrel, 10.0, 0.013, 0.0, -0.5, 0.5, 1.0, 2.0, -5.0);
        assert_eq!(r, Regime::InletControl);
        // High tailwater: outlet control.
        let (_, r) = culvert_flow(barrel, 10.0, 0.013, 0.0, -0.5, 0.5, 1.0, 2.0, 1.9);
        assert_eq!(r, Regime::OutletControl);
    }
}
