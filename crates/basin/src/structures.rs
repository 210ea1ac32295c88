//! The basin's works in a scenario: `[[structures]]` entries (weir, gate, culvert, pump,
//! release) parsed straight into one tagged enum, placed on the DEM (lines snapped to a
//! water-tight line of wall cells with links across it, points to cells), and their
//! operation: gate schedules and level rules with hysteresis, reservoir release rules
//! capped by a downstream gauge. The hydraulics are `hydro`'s; this module decides
//! settings between steps and logs every rule that fires.

use std::path::Path;

use hydro::{Barrel, Link, Solver, Structure, StructureKind, StructureSetting, TimeSeries};
use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::basin::Basin;
use crate::error::{BasinError, Result};
use crate::scenario::line_cells;

/// Default broad-crested weir coefficient, C = √g·(2/3)^1.5 = 1.705 m^½/s (critical flow
/// over a broad crest; Henderson 1966, Chow 1959).
pub const WEIR_C: f64 = 1.705;
/// Default sluice-gate discharge and contraction coefficients (Henderson 1966, free
/// flow under a vertical gate: C_c ≈ 0.61).
pub const GATE_CD: f64 = 0.61;
pub const GATE_CC: f64 = 0.61;

/// A `[[structures]]` entry of a scenario.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum StructureSpec {
    Weir {
        name: String,
        /// The crest line, [[x, y], …] in the DEM's CRS.
        line: Vec<[f64; 2]>,
        /// Any point on the upstream side (side A).
        upstream: [f64; 2],
        crest_m: f64,
        #[serde(default)]
        coefficient: Option<f64>,
        /// Flow only from upstream to downstream (a flap).
        #[serde(default)]
        one_way: bool,
    },
    Gate {
        name: String,
        line: Vec<[f64; 2]>,
        upstream: [f64; 2],
        sill_m: f64,
        width_m: f64,
        max_opening_m: f64,
        /// Opening at the start (m).
        #[serde(default)]
        opening_m: f64,
        /// How fast the gate moves (m/min).
        #[serde(default = "default_gate_speed")]
        speed_m_per_min: f64,
        #[serde(default)]
        discharge_coefficient: Option<f64>,
        #[serde(default)]
        operation: Option<GateOperation>,
    },
    Culvert {
        name: String,
        inlet: [f64; 2],
        outlet: [f64; 2],
        /// `box` (with width_m and height_m) or `circular` (with diameter_m).
        shape: BarrelShape,
        #[serde(default)]
        width_m: Option<f64>,
        #[serde(default)]
        height_m: Option<f64>,
        #[serde(default)]
        diameter_m: Option<f64>,
        /// Barrel length (m); default the distance between inlet and outlet.
        #[serde(default)]
        length_m: Option<f64>,
        #[serde(default = "default_culvert_n")]
        manning_n: f64,
        /// Inverts (m); default the bed at the inlet and outlet cells.
        #[serde(default)]
        inlet_invert_m: Option<f64>,
        #[serde(default)]
        outlet_invert_m: Option<f64>,
        #[serde(default = "default_entrance_loss")]
        entrance_loss: f64,
        #[serde(default = "default_exit_loss")]
        exit_loss: f64,
        #[serde(default)]
        flap: bool,
    },
    Pump {
        name: String,
        from: [f64; 2],
        /// Where it delivers; absent: out of the basin (then `outlet_level_m`).
        #[serde(default)]
        to: Option<[f64; 2]>,
        #[serde(default)]
        outlet_level_m: Option<f64>,
        /// [[lift m, Q m³/s], …], lifts increasing.
        head_flow: Vec<[f64; 2]>,
        /// The gauge whose level starts and stops it (default: the `from` cell).
        #[serde(default)]
        control_gauge: Option<String>,
        start_level_m: f64,
        stop_level_m: f64,
    },
    /// A reservoir outlet whose release follows a rule on the pool level.
    Release {
        name: String,
        from: [f64; 2],
        to: [f64; 2],
        rule: ReleaseRule,
    },
}

fn default_gate_speed() -> f64 {
    0.5
}
fn default_culvert_n() -> f64 {
    0.013
}
fn default_entrance_loss() -> f64 {
    0.5
}
fn default_exit_loss() -> f64 {
    1.0
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BarrelShape {
    Box,
    Circular,
}

/// How a gate is operated: a schedule of openings, or rules on a gauge's level.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateOperation {
    /// [[time_s, opening_m], …]: the opening asked for, stepwise (each holds until the
    /// next).
    #[serde(default)]
    pub schedule: Option<Vec<[f64; 2]>>,
    /// Rules, in order; the first that fires sets the target. An `above_m` rule fires
    /// when the level is at or above it and it would open the gate further; a `below_m`
    /// rule when the level is at or below it and it would close it further. Between them
    /// the gate holds: that is the hysteresis.
    #[serde(default)]
    pub rules: Vec<GateRule>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GateRule {
    pub gauge: String,
    #[serde(default)]
    pub above_m: Option<f64>,
    #[serde(default)]
    pub below_m: Option<f64>,
    pub open_to_m: f64,
}

/// A reservoir's release rule: release Q(pool level) from a table, within a minimum and
/// maximum, changing at most `ramp_m3_s_per_min`; when the downstream gauge comes within
/// `margin_m` of its safe level the release falls to the minimum at once, until the level
/// is `margin_m` further below.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRule {
    pub pool_gauge: String,
    /// [[pool level m, release m³/s], …], levels increasing.
    pub table: Vec<[f64; 2]>,
    #[serde(default)]
    pub min_m3_s: f64,
    pub max_m3_s: f64,
    pub ramp_m3_s_per_min: f64,
    #[serde(default)]
    pub downstream_gauge: Option<String>,
    #[serde(default)]
    pub safe_level_m: Option<f64>,
    /// The release is cut when the downstream level comes within this of its safe level,
    /// and goes back to the rule once the level is as far again below that (m).
    #[serde(default = "default_margin")]
    pub margin_m: f64,
}

fn default_margin() -> f64 {
    0.1
}

/// One operation: a rule that fired, with its time and reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    pub time_s: f64,
    pub structure: String,
    pub action: String,
    pub reason: String,
}

/// How a placed structure is controlled between steps.
#[derive(Clone, Debug)]
enum Control {
    None,
    Schedule(Vec<[f64; 2]>),
    Rules(Vec<PlacedRule>),
    Release(PlacedRelease),
}

#[derive(Clone, Debug)]
struct PlacedRule {
    cell: (usize, usize),
    gauge: String,
    above_m: Option<f64>,
    below_m: Option<f64>,
    open_to_m: f64,
}

#[derive(Clone, Debug)]
struct PlacedRelease {
    pool: (usize, usize),
    table: TimeSeries,
    min_m3_s: f64,
    max_m3_s: f64,
    ramp_m3_s_per_s: f64,
    downstream: Option<((usize, usize), String, f64)>,
    margin_m: f64,
}

/// A structure placed on the basin: what the solver gets, the wall cells it stands on
/// and how it is operated.
#[derive(Clone, Debug)]
pub struct PlacedStructure {
    pub structure: Structure,
    /// Cells the structure stands on (walls for the sweep).
    pub walls: Vec<(usize, usize)>,
    /// Its initial setting.
    pub setting: StructureSetting,
    control: Control,
}

impl PlacedStructure {
    pub fn name(&self) -> &str {
        &self.structure.name
    }

    /// Whether it is operated by rules (a schedule, level rules or a release rule).
    pub fn has_rules(&self) -> bool {
        !matches!(self.control, Control::None)
    }

    /// The cells to draw it by: the line a weir or gate stands on, or a culvert's,
    /// pump's or release's two ends.
    pub fn cells(&self) -> Vec<(usize, usize)> {
        if self.walls.is_empty() {
            let l = &self.structure.links[0];
            std::iter::once(l.a).chain(l.b).collect()
        } else {
            self.walls.clone()
        }
    }
}

/// Place a scenario's structures on the basin, refusing what cannot be built with the
/// file, key and fix.
pub fn place(specs: &[StructureSpec], basin: &Basin, file: &Path) -> Result<Vec<PlacedStructure>> {
    let grid = basin.grid();
    let mut placed: Vec<PlacedStructure> = Vec::new();
    let mut walls_taken = Array2::<bool>::from_elem(basin.active.dim(), false);
    for (i, spec) in specs.iter().enumerate() {
        let key = format!("structures[{i}]");
        let bad = |k: &str, problem: String, fix: &str| {
            BasinError::invalid(file, format!("{key}.{k}"), problem, fix)
        };
        let cell = |k: &str, p: [f64; 2]| -> Result<(usize, usize)> {
            let c = grid.cell_of(p[0], p[1]).ok_or_else(|| {
                let (x0, y0, x1, y1) = grid.extent();
                bad(
                    k,
                    format!("({}, {}) is outside the DEM", p[0], p[1]),
                    &format!("the DEM covers x {x0:.1}–{x1:.1}, y {y0:.1}–{y1:.1}"),
                )
            })?;
            if !basin.active[c] {
                return Err(bad(
                    k,
                    format!("({}, {}) is on a nodata cell", p[0], p[1]),
                    "put the structure's end on the DEM's data",
                ));
            }
            if walls_taken[c] {
                return Err(bad(
                    k,
                    format!("({}, {}) is on another structure's line", p[0], p[1]),
                    "move the point off the weir or gate line",
                ));
            }
            Ok(c)
        };
        let gauge = |k: &str, name: &str| -> Result<(usize, usize)> {
            basin
                .gauges
                .iter()
                .find(|g| g.name == name)
                .map(|g| (g.row, g.col))
                .ok_or_else(|| {
                    let names: Vec<&str> = basin.gauges.iter().map(|g| g.name.as_str()).collect();
                    bad(
                        k,
                        format!("names gauge `{name}`, which the basin does not have"),
                        &format!("use one of the gauges in basin.toml: {}", names.join(", ")),
                    )
                })
        };
        let positive = |k: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(k, format!("is {v}"), "give a value > 0"))
            }
        };
        let name = match spec {
            StructureSpec::Weir { name, .. }
            | StructureSpec::Gate { name, .. }
            | StructureSpec::Culvert { name, .. }
            | StructureSpec::Pump { name, .. }
            | StructureSpec::Release { name, .. } => name.clone(),
        };
        if placed.iter().any(|p| p.name() == name) {
            return Err(bad(
                "name",
                format!("`{name}` is used twice"),
                "give each structure its own name",
            ));
        }
        let p = match spec {
            StructureSpec::Weir {
                line,
                upstream,
                crest_m,
                coefficient,
                one_way,
                ..
            } => {
                let c = coefficient.unwrap_or(WEIR_C);
                positive("coefficient", c)?;
                let (walls, links) = across_line(basin, line, *upstream, &walls_taken)
                    .map_err(|(k, m, f)| bad(k, m, f))?;
                check_crest(basin, &links, *crest_m, "crest_m")
                    .map_err(|(k, m, f)| bad(k, m, f))?;
                let length_m = walls.len() as f64 * grid.cell_size_x().min(grid.cell_size_y());
                PlacedStructure {
                    structure: Structure {
                        name,
                        kind: StructureKind::Weir {
                            crest_m: *crest_m,
                            length_m,
                            coefficient: c,
                            one_way: *one_way,
                        },
                        links,
                    },
                    walls,
                    setting: StructureSetting::default(),
                    control: Control::None,
                }
            }
            StructureSpec::Gate {
                line,
                upstream,
                sill_m,
                width_m,
                max_opening_m,
                opening_m,
                speed_m_per_min,
                discharge_coefficient,
                operation,
                ..
            } => {
                positive("width_m", *width_m)?;
                positive("max_opening_m", *max_opening_m)?;
                positive("speed_m_per_min", *speed_m_per_min)?;
                if !(0.0..=*max_opening_m).contains(opening_m) {
                    return Err(bad(
                        "opening_m",
                        format!("is {opening_m} m"),
                        &format!("give an opening from 0 to max_opening_m ({max_opening_m} m)"),
                    ));
                }
                let (walls, links) = across_line(basin, line, *upstream, &walls_taken)
                    .map_err(|(k, m, f)| bad(k, m, f))?;
                check_crest(basin, &links, *sill_m, "sill_m").map_err(|(k, m, f)| bad(k, m, f))?;
                let control = match operation {
                    None => Control::None,
                    Some(op) => match (&op.schedule, op.rules.is_empty()) {
                        (Some(s), true) => {
                            if s.is_empty() || s.windows(2).any(|w| w[1][0] <= w[0][0]) {
                                return Err(bad(
                                    "operation.schedule",
                                    "is empty or its times do not increase".into(),
                                    "give [[time_s, opening_m], …] with increasing times",
                                ));
                            }
                            Control::Schedule(s.clone())
                        }
                        (None, false) => {
                            let mut rules = Vec::new();
                            for (j, r) in op.rules.iter().enumerate() {
                                let k = format!("operation.rules[{j}]");
                                let c = gauge(&format!("{k}.gauge"), &r.gauge)?;
                                if r.above_m.is_some() == r.below_m.is_some() {
                                    return Err(bad(
                                        &k,
                                        "needs exactly one of above_m and below_m".into(),
                                        "e.g. { gauge = \"Reservoir\", above_m = 369.5, open_to_m = 2.0 }",
                                    ));
                                }
                                if !(0.0..=*max_opening_m).contains(&r.open_to_m) {
                                    return Err(bad(
                                        &format!("{k}.open_to_m"),
                                        format!("is {} m", r.open_to_m),
                                        &format!("give an opening from 0 to {max_opening_m} m"),
                                    ));
                                }
                                rules.push(PlacedRule {
                                    cell: c,
                                    gauge: r.gauge.clone(),
                                    above_m: r.above_m,
                                    below_m: r.below_m,
                                    open_to_m: r.open_to_m,
                                });
                            }
                            Control::Rules(rules)
                        }
                        _ => {
                            return Err(bad(
                                "operation",
                                "needs either a schedule or rules".into(),
                                "give operation = { schedule = [[0, 0.5], …] } or operation = { rules = [ … ] }",
                            ));
                        }
                    },
                };
                PlacedStructure {
                    structure: Structure {
                        name,
                        kind: StructureKind::Gate {
                            sill_m: *sill_m,
                            width_m: *width_m,
                            max_opening_m: *max_opening_m,
                            weir_coefficient: WEIR_C,
                            discharge_coefficient: discharge_coefficient.unwrap_or(GATE_CD),
                            contraction_coefficient: GATE_CC,
                            max_speed_m_s: speed_m_per_min / 60.0,
                        },
                        links,
                    },
                    walls,
                    setting: StructureSetting {
                        opening_m: *opening_m,
                        target_opening_m: *opening_m,
                        ..StructureSetting::default()
                    },
                    control,
                }
            }
            StructureSpec::Culvert {
                inlet,
                outlet,
                shape,
                width_m,
                height_m,
                diameter_m,
                length_m,
                manning_n,
                inlet_invert_m,
                outlet_invert_m,
                entrance_loss,
                exit_loss,
                flap,
                ..
            } => {
                let a = cell("inlet", *inlet)?;
                let b = cell("outlet", *outlet)?;
                if a == b {
                    return Err(bad(
                        "outlet",
                        "is in the inlet's cell".into(),
                        "put the outlet on the other side of the embankment",
                    ));
                }
                let need = |k: &str, v: Option<f64>| -> Result<f64> {
                    let v = v.ok_or_else(|| {
                        bad(
                            k,
                            format!("is needed for a {shape:?} barrel").to_lowercase(),
                            "give the barrel's size in metres",
                        )
                    })?;
                    positive(k, v)?;
                    Ok(v)
                };
                let barrel = match shape {
                    BarrelShape::Box => Barrel::Box {
                        width_m: need("width_m", *width_m)?,
                        height_m: need("height_m", *height_m)?,
                    },
                    BarrelShape::Circular => Barrel::Circular {
                        diameter_m: need("diameter_m", *diameter_m)?,
                    },
                };
                let length =
                    length_m.unwrap_or_else(|| (outlet[0] - inlet[0]).hypot(outlet[1] - inlet[1]));
                positive("length_m", length)?;
                positive("manning_n", *manning_n)?;
                let zi = inlet_invert_m.unwrap_or_else(|| basin.bed_m.at(a));
                let zo = outlet_invert_m.unwrap_or_else(|| basin.bed_m.at(b));
                for (k, z, c) in [("inlet_invert_m", zi, a), ("outlet_invert_m", zo, b)] {
                    if z < basin.bed_m.at(c) - 1e-9 {
                        return Err(bad(
                            k,
                            format!("is {z} m, below the bed there ({:.2} m)", basin.bed_m.at(c)),
                            "an invert at or above the bed of its cell (the DEM's ground)",
                        ));
                    }
                }
                PlacedStructure {
                    structure: Structure {
                        name,
                        kind: StructureKind::Culvert {
                            barrel,
                            length_m: length,
                            manning_n: *manning_n,
                            inlet_invert_m: zi,
                            outlet_invert_m: zo,
                            entrance_loss: *entrance_loss,
                            exit_loss: *exit_loss,
                            flap: *flap,
                        },
                        links: vec![Link {
                            a,
                            b: Some(b),
                            share: 1.0,
                        }],
                    },
                    walls: Vec::new(),
                    setting: StructureSetting::default(),
                    control: Control::None,
                }
            }
            StructureSpec::Pump {
                from,
                to,
                outlet_level_m,
                head_flow,
                control_gauge,
                start_level_m,
                stop_level_m,
                ..
            } => {
                let a = cell("from", *from)?;
                let b = match to {
                    Some(t) => Some(cell("to", *t)?),
                    None => {
                        if outlet_level_m.is_none() {
                            return Err(bad(
                                "outlet_level_m",
                                "is needed for a pump out of the basin (no `to`)".into(),
                                "give the level it lifts to outside the basin, e.g. outlet_level_m = 12.0",
                            ));
                        }
                        None
                    }
                };
                let control = match control_gauge {
                    Some(g) => gauge("control_gauge", g)?,
                    None => a,
                };
                if stop_level_m.partial_cmp(start_level_m) != Some(std::cmp::Ordering::Less) {
                    return Err(bad(
                        "stop_level_m",
                        format!("is {stop_level_m} m, not below start_level_m ({start_level_m} m)"),
                        "stop below the start level (the gap is the pump's hysteresis)",
                    ));
                }
                PlacedStructure {
                    structure: Structure {
                        name,
                        kind: StructureKind::Pump {
                            head_flow: head_flow.iter().map(|p| (p[0], p[1])).collect(),
                            outlet_level_m: *outlet_level_m,
                            control,
                            start_level_m: *start_level_m,
                            stop_level_m: *stop_level_m,
                        },
                        links: vec![Link { a, b, share: 1.0 }],
                    },
                    walls: Vec::new(),
                    setting: StructureSetting::default(),
                    control: Control::None,
                }
            }
            StructureSpec::Release { from, to, rule, .. } => {
                let a = cell("from", *from)?;
                let b = cell("to", *to)?;
                let pool = gauge("rule.pool_gauge", &rule.pool_gauge)?;
                let table = TimeSeries::new(rule.table.iter().map(|p| (p[0], p[1])).collect())
                    .map_err(|e| {
                        bad(
                            "rule.table",
                            e.to_string(),
                            "give [[pool level m, release m³/s], …] with levels increasing",
                        )
                    })?;
                if !(rule.min_m3_s >= 0.0 && rule.max_m3_s >= rule.min_m3_s) {
                    return Err(bad(
                        "rule.max_m3_s",
                        format!("is {} m³/s with min_m3_s {}", rule.max_m3_s, rule.min_m3_s),
                        "give 0 ≤ min_m3_s ≤ max_m3_s",
                    ));
                }
                positive("rule.ramp_m3_s_per_min", rule.ramp_m3_s_per_min)?;
                if !(rule.margin_m.is_finite() && rule.margin_m >= 0.0) {
                    return Err(bad(
                        "rule.margin_m",
                        format!("is {}", rule.margin_m),
                        "give a margin ≥ 0 m",
                    ));
                }
                let downstream = match (&rule.downstream_gauge, rule.safe_level_m) {
                    (Some(g), Some(level)) => {
                        Some((gauge("rule.downstream_gauge", g)?, g.clone(), level))
                    }
                    (None, None) => None,
                    _ => {
                        return Err(bad(
                            "rule",
                            "gives only one of downstream_gauge and safe_level_m".into(),
                            "give both (the gauge whose safe level caps the release) or neither",
                        ));
                    }
                };
                PlacedStructure {
                    structure: Structure {
                        name,
                        kind: StructureKind::Release,
                        links: vec![Link {
                            a,
                            b: Some(b),
                            share: 1.0,
                        }],
                    },
                    walls: Vec::new(),
                    setting: StructureSetting::default(),
                    control: Control::Release(PlacedRelease {
                        pool,
                        table,
                        min_m3_s: rule.min_m3_s,
                        max_m3_s: rule.max_m3_s,
                        ramp_m3_s_per_s: rule.ramp_m3_s_per_min / 60.0,
                        downstream,
                        margin_m: rule.margin_m,
                    }),
                }
            }
        };
        for &w in &p.walls {
            walls_taken[w] = true;
        }
        placed.push(p);
    }
    Ok(placed)
}

type Problem = (&'static str, String, &'static str);
/// Wall cells and the links across them.
type LineLinks = (Vec<(usize, usize)>, Vec<Link>);

/// The wall cells of a line (4-connected, so no water passes between them) and one link
/// per wall cell joining its neighbours on the two sides (A on the `upstream` side).
fn across_line(
    basin: &Basin,
    line: &[[f64; 2]],
    upstream: [f64; 2],
    taken: &Array2<bool>,
) -> std::result::Result<LineLinks, Problem> {
    let grid = basin.grid();
    if line.len() < 2 {
        return Err((
            "line",
            "needs at least two points".into(),
            "give the line as [[x, y], [x, y], …]",
        ));
    }
    for p in line {
        if grid.cell_of(p[0], p[1]).is_none() {
            return Err((
                "line",
                format!("has ({}, {}) outside the DEM", p[0], p[1]),
                "keep the line on the DEM",
            ));
        }
    }
    // 4-connected: where the line steps diagonally, the corner cell joins the wall.
    let mut walls: Vec<(usize, usize)> = Vec::new();
    for c in line_cells(grid, line) {
        if let Some(&last) = walls.last() {
            let (lr, lc): (usize, usize) = last;
            if lr != c.0 && lc != c.1 {
                let corner = (lr, c.1);
                if !walls.contains(&corner) {
                    walls.push(corner);
                }
            }
        }
        if !walls.contains(&c) {
            walls.push(c);
        }
    }
    walls.retain(|&c| basin.active[c]);
    if walls.iter().any(|&c| taken[c]) {
        return Err((
            "line",
            "crosses another structure's line".into(),
            "keep structure lines apart",
        ));
    }
    // The side of the line `upstream` is on: the sign of the cross product with the
    // first segment.
    let (d0, d1) = (line[0], line[line.len() - 1]);
    let (dx, dy) = (d1[0] - d0[0], d1[1] - d0[1]);
    let side = dx * (upstream[1] - d0[1]) - dy * (upstream[0] - d0[0]);
    if side == 0.0 {
        return Err((
            "upstream",
            "lies on the line".into(),
            "give a point on the upstream side, off the line",
        ));
    }
    // Normal towards upstream, in map coordinates, then as a step in (row, col).
    let (nx, ny) = if side > 0.0 { (-dy, dx) } else { (dy, -dx) };
    let step: (isize, isize) = if nx.abs() >= ny.abs() {
        (0, if nx > 0.0 { 1 } else { -1 })
    } else {
        (if ny > 0.0 { -1 } else { 1 }, 0)
    };
    let at = |c: (usize, usize), k: isize| -> Option<(usize, usize)> {
        let r = c.0 as isize + k * step.0;
        let col = c.1 as isize + k * step.1;
        (r >= 0 && col >= 0 && (r as usize) < grid.rows && (col as usize) < grid.cols)
            .then_some((r as usize, col as usize))
    };
    let is_water = |c: (usize, usize)| basin.active[c] && !walls.contains(&c) && !taken[c];
    let pairs: Vec<((usize, usize), (usize, usize))> = walls
        .iter()
        .filter_map(|&w| match (at(w, 1), at(w, -1)) {
            (Some(a), Some(b)) if is_water(a) && is_water(b) => Some((a, b)),
            _ => None,
        })
        .collect();
    if pairs.is_empty() {
        return Err((
            "line",
            "has no active cell on both sides".into(),
            "draw the line across the channel, with data cells on both sides",
        ));
    }
    let share = 1.0 / pairs.len() as f64;
    let links = pairs
        .into_iter()
        .map(|(a, b)| Link {
            a,
            b: Some(b),
            share,
        })
        .collect();
    Ok((walls, links))
}

/// A crest or sill must not stand below the ground on both sides (water would pour over
/// an edge that is not there) nor above every bank (the structure would be a wall):
/// refuse a crest above the highest bed of its line's neighbours + 50 m, or NaN.
fn check_crest(
    basin: &Basin,
    links: &[Link],
    crest: f64,
    key: &'static str,
) -> std::result::Result<(), Problem> {
    if !crest.is_finite() {
        return Err((
            key,
            format!("is {crest}"),
            "give the crest or sill level in metres",
        ));
    }
    let lowest_side = links
        .iter()
        .flat_map(|l| [Some(l.a), l.b])
        .flatten()
        .map(|c| basin.bed_m.at(c))
        .fold(f64::INFINITY, f64::min);
    if crest < lowest_side - 50.0 || crest > lowest_side + 200.0 {
        return Err((
            key,
            format!(
                "is {crest} m, far from the ground beside the line (lowest {lowest_side:.2} m)"
            ),
            "give the level in the DEM's vertical datum (metres)",
        ));
    }
    Ok(())
}

/// The structures' operation during a run: rules evaluated before each step, and the log
/// of every rule that fired.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Operations {
    pub log: Vec<Operation>,
    /// Per structure: whether its release is capped by the downstream gauge now.
    #[serde(default)]
    capped: Vec<bool>,
    /// When the rules were last applied (the release ramps over the time since).
    #[serde(default)]
    last_s: Option<f64>,
}

impl Operations {
    /// Before a step from `t`: set each controlled structure. Returns the number of
    /// operations logged.
    pub fn apply(&mut self, structures: &[PlacedStructure], solver: &mut Solver, t: f64) -> usize {
        let before = self.log.len();
        let dt_s = self.last_s.map_or(0.0, |l| (t - l).max(0.0));
        self.last_s = Some(t);
        self.capped.resize(structures.len(), false);
        let level = |s: &Solver, c: (usize, usize)| solver_level(s, c);
        for (i, p) in structures.iter().enumerate() {
            let Some(mut setting) = solver.structure_setting(i) else {
                continue;
            };
            if setting.manual {
                continue;
            }
            match &p.control {
                Control::None => continue,
                Control::Schedule(s) => {
                    let k = s.partition_point(|e| e[0] <= t);
                    let target = if k == 0 {
                        setting.target_opening_m
                    } else {
                        s[k - 1][1]
                    };
                    if target != setting.target_opening_m {
                        self.log.push(Operation {
                            time_s: t,
                            structure: p.name().into(),
                            action: format!("set to open to {target} m"),
                            reason: format!("schedule at {} s", s[k - 1][0]),
                        });
                        setting.target_opening_m = target;
                    }
                }
                Control::Rules(rules) => {
                    // An `above_m` rule only opens further, a `below_m` rule only closes
                    // further: between the two levels the gate holds (the hysteresis).
                    for r in rules {
                        let l = level(solver, r.cell);
                        let (fires, cond) = match (r.above_m, r.below_m) {
                            (Some(a), _) => (
                                l >= a && r.open_to_m > setting.target_opening_m,
                                format!("≥ {a} m"),
                            ),
                            (_, Some(b)) => (
                                l <= b && r.open_to_m < setting.target_opening_m,
                                format!("≤ {b} m"),
                            ),
                            _ => (false, String::new()),
                        };
                        if fires {
                            self.log.push(Operation {
                                time_s: t,
                                structure: p.name().into(),
                                action: format!("open to {} m", r.open_to_m),
                                reason: format!("level at {} {l:.3} m {cond}", r.gauge),
                            });
                            setting.target_opening_m = r.open_to_m;
                            break;
                        }
                    }
                }
                Control::Release(r) => {
                    let pool = level(solver, r.pool);
                    let mut wanted = r.table.value_at(pool).clamp(r.min_m3_s, r.max_m3_s);
                    let mut cut_now = false;
                    if let Some((cell, name, safe)) = &r.downstream {
                        let l = level(solver, *cell);
                        // Cut within the margin of the safe level; back to the rule once
                        // the level is a margin further down (hysteresis).
                        let capped = if self.capped[i] {
                            l > safe - 2.0 * r.margin_m
                        } else {
                            l >= safe - r.margin_m
                        };
                        if capped != self.capped[i] {
                            self.log.push(Operation {
                                time_s: t,
                                structure: p.name().into(),
                                action: if capped {
                                    format!("release cut to the minimum, {} m³/s", r.min_m3_s)
                                } else {
                                    "release back to the rule".into()
                                },
                                reason: if capped {
                                    format!("level at {name} {l:.3} m, within {} m of its safe level {safe} m", r.margin_m)
                                } else {
                                    format!("level at {name} {l:.3} m, {} m below its safe level {safe} m", 2.0 * r.margin_m)
                                },
                            });
                            self.capped[i] = capped;
                            cut_now = capped;
                        }
                        if capped {
                            wanted = r.min_m3_s;
                        }
                    }
                    let now = setting.release_m3_s;
                    let step = r.ramp_m3_s_per_s * dt_s;
                    // A cut to protect the downstream is made at once; the rule's own
                    // changes follow the ramp.
                    setting.release_m3_s = if cut_now || self.capped[i] && wanted < now {
                        wanted
                    } else {
                        now + (wanted - now).clamp(-step, step)
                    };
                }
            }
            // A setting in range cannot be refused.
            let _ = solver.set_structure(i, setting);
        }
        self.log.len() - before
    }
}

fn solver_level(s: &Solver, c: (usize, usize)) -> f64 {
    s.bed_m()[c] + s.depth_m()[c]
}

/// One structure at an output time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StructureSample {
    pub flow_m3_s: f64,
    pub opening_m: f64,
    pub level_a_m: f64,
    pub level_b_m: f64,
    pub regime: hydro::Regime,
}

/// Structure samples over time (one row per output time) and running totals.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StructureRecords {
    pub rows: Vec<(f64, Vec<StructureSample>)>,
    /// Per structure: the largest |flow| of any step and when.
    #[serde(default)]
    pub peaks: Vec<(f64, f64)>,
    /// Water stored in each detention area at each output time (m³), as `rows`.
    #[serde(default)]
    pub stored: Vec<Vec<f64>>,
}

impl StructureRecords {
    /// Note each structure's flow after a step (for the peaks).
    pub fn after_step(&mut self, solver: &Solver) {
        let n = solver.structures().len();
        self.peaks.resize(n, (0.0, 0.0));
        for (i, peak) in self.peaks.iter_mut().enumerate() {
            if let Some(f) = solver.structure_flow(i)
                && f.flow_m3_s.abs() > peak.0.abs()
            {
                *peak = (f.flow_m3_s, solver.sim_time_s());
            }
        }
    }

    /// Sample the structures, and the water stored in the detention areas.
    pub fn sample_all(
        &mut self,
        solver: &Solver,
        t_s: f64,
        areas: &[DetentionArea],
        cell_area_m2: f64,
    ) {
        self.sample(solver, t_s);
        self.stored.push(
            areas
                .iter()
                .map(|a| a.stored_m3(solver, cell_area_m2))
                .collect(),
        );
    }

    pub fn sample(&mut self, solver: &Solver, t_s: f64) {
        let values = (0..solver.structures().len())
            .map(|i| {
                let f = solver.structure_flow(i).unwrap_or_default();
                let s = solver.structure_setting(i).unwrap_or_default();
                let (level_a_m, level_b_m) = solver.structure_levels(i).unwrap_or((0.0, 0.0));
                StructureSample {
                    flow_m3_s: f.flow_m3_s,
                    opening_m: s.opening_m,
                    level_a_m,
                    level_b_m,
                    regime: f.regime,
                }
            })
            .collect();
        self.rows.push((t_s, values));
    }

    /// `structures.csv`: time_s, then flow, opening, upstream and downstream level and
    /// regime for each structure.
    pub fn write(
        &self,
        path: &Path,
        structures: &[PlacedStructure],
        areas: &[DetentionArea],
    ) -> Result<()> {
        let fail = |e: &dyn std::fmt::Display| BasinError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
        let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
        let mut header = vec!["time_s".to_string()];
        for s in structures {
            for q in [
                "flow_m3_s",
                "opening_m",
                "level_up_m",
                "level_down_m",
                "regime",
            ] {
                header.push(format!("{}_{q}", s.name()));
            }
        }
        for a in areas {
            header.push(format!("{}_stored_m3", a.name));
        }
        out.write_record(&header).map_err(|e| fail(&e))?;
        for (k, (t, values)) in self.rows.iter().enumerate() {
            let mut record = vec![format!("{t}")];
            for v in values {
                record.push(format!("{:.4}", v.flow_m3_s));
                record.push(format!("{:.3}", v.opening_m));
                record.push(format!("{:.4}", v.level_a_m));
                record.push(format!("{:.4}", v.level_b_m));
                record.push(v.regime.as_str().to_string());
            }
            for a in 0..areas.len() {
                let v = self
                    .stored
                    .get(k)
                    .and_then(|s| s.get(a))
                    .copied()
                    .unwrap_or(0.0);
                record.push(format!("{v:.1}"));
            }
            out.write_record(&record).map_err(|e| fail(&e))?;
        }
        out.flush().map_err(|e| fail(&e))
    }
}

/// A structure's totals for `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct StructureTotals {
    pub name: String,
    pub kind: &'static str,
    /// Volume moved from side A (upstream, `from`, the inlet) to B (m³).
    pub volume_m3: f64,
    pub peak_flow_m3_s: f64,
    pub peak_time_s: f64,
}

/// Totals of each structure of a run.
pub fn totals(
    structures: &[PlacedStructure],
    solver: &Solver,
    records: &StructureRecords,
) -> Vec<StructureTotals> {
    structures
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let (peak, when) = records.peaks.get(i).copied().unwrap_or((0.0, 0.0));
            StructureTotals {
                name: p.name().to_string(),
                kind: p.structure.kind.label(),
                volume_m3: solver.structure_flow(i).map_or(0.0, |f| f.volume_m3),
                peak_flow_m3_s: peak,
                peak_time_s: when,
            }
        })
        .collect()
}

/// What each detention area did in a run.
pub fn detention_summaries(run: &crate::engine::Run) -> Vec<DetentionSummary> {
    let (basin, scenario, solver) = (&**run.basin(), &**run.scenario(), run.solver());
    let (structures, records) = (&scenario.structures, run.structure_records());
    let (log, gauges) = (&run.operations().log, run.gauges());
    let cell_area_m2 = basin.grid().cell_size_x() * basin.grid().cell_size_y();
    scenario
        .detention_areas
        .iter()
        .enumerate()
        .map(|(k, a)| {
            let inlet = structures[a.inlet].name();
            let now = a.stored_m3(solver, cell_area_m2);
            DetentionSummary {
                name: a.name.clone(),
                opened_at_s: log
                    .iter()
                    .find(|o| o.structure == inlet && o.action.starts_with("open to"))
                    .map(|o| o.time_s),
                stored_m3: now,
                peak_stored_m3: records
                    .stored
                    .iter()
                    .filter_map(|s| s.get(k).copied())
                    .fold(now, f64::max),
                downstream_gauge: a.downstream_gauge.map(|g| basin.gauges[g].name.clone()),
                downstream_peak_level_m: a
                    .downstream_gauge
                    .and_then(|g| gauges.peaks.get(g))
                    .map(|p| p.level_m),
                downstream_peak_time_s: a
                    .downstream_gauge
                    .and_then(|g| gauges.peaks.get(g))
                    .map(|p| p.time_s),
            }
        })
        .collect()
}

/// `operations.csv`: every rule that fired.
pub fn write_operations(path: &Path, log: &[Operation]) -> Result<()> {
    let fail = |e: &dyn std::fmt::Display| BasinError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(|e| fail(&e))?;
    let mut out = csv::Writer::from_writer(std::io::BufWriter::new(file));
    out.write_record(["time_s", "structure", "action", "reason"])
        .map_err(|e| fail(&e))?;
    for o in log {
        out.write_record([
            format!("{}", o.time_s),
            o.structure.clone(),
            o.action.clone(),
            o.reason.clone(),
        ])
        .map_err(|e| fail(&e))?;
    }
    out.flush().map_err(|e| fail(&e))
}

/// A `[[detention_areas]]` entry: a flood detention area enclosed by a levee along its
/// outline, filled through an inlet gate from a cell outside (the river) to one inside,
/// opened when a control gauge reaches its trigger level.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DetentionSpec {
    pub name: String,
    /// The outline, [[x, y], …] in the DEM's CRS (closed by joining the last point to the
    /// first). Its cells become the levee (walls).
    pub polygon: Vec<[f64; 2]>,
    /// The inlet gate: from a cell outside the area to one inside.
    pub inlet_from: [f64; 2],
    pub inlet_to: [f64; 2],
    pub sill_m: f64,
    pub width_m: f64,
    /// How far the inlet opens when triggered (m).
    pub open_to_m: f64,
    #[serde(default = "default_gate_speed")]
    pub speed_m_per_min: f64,
    /// The gauge and level that open the inlet; without them the inlet opens only by
    /// hand.
    #[serde(default)]
    pub gauge: Option<String>,
    #[serde(default)]
    pub trigger_level_m: Option<f64>,
    /// A gauge downstream whose peak the area is meant to lower: its peak is reported
    /// with the area's use (and `rivertwin compare` gives the reduction against a run
    /// without the area).
    #[serde(default)]
    pub downstream_gauge: Option<String>,
}

/// A detention area placed on the DEM: its levee, its interior and its inlet (a gate
/// among the scenario's structures).
#[derive(Clone, Debug)]
pub struct DetentionArea {
    pub name: String,
    /// Cells inside the levee.
    pub cells: Vec<(usize, usize)>,
    /// The inlet's index among the scenario's structures.
    pub inlet: usize,
    /// The downstream gauge's index among the basin's gauges.
    pub downstream_gauge: Option<usize>,
}

impl DetentionArea {
    /// Water stored inside now (m³).
    pub fn stored_m3(&self, solver: &Solver, cell_area_m2: f64) -> f64 {
        let h = solver.depth_m();
        self.cells.iter().map(|&c| h[c]).sum::<f64>() * cell_area_m2
    }
}

/// Place the detention areas: each adds its levee cells to the walls and its inlet gate to
/// `structures`.
pub fn place_detention(
    specs: &[DetentionSpec],
    basin: &Basin,
    file: &Path,
    structures: &mut Vec<PlacedStructure>,
) -> Result<Vec<DetentionArea>> {
    let grid = basin.grid();
    let mut areas = Vec::new();
    for (i, d) in specs.iter().enumerate() {
        let key = format!("detention_areas[{i}]");
        let bad = |k: &str, problem: String, fix: &str| {
            BasinError::invalid(file, format!("{key}.{k}"), problem, fix)
        };
        if d.polygon.len() < 3 {
            return Err(bad(
                "polygon",
                "needs at least three points".into(),
                "give the outline as [[x, y], …]",
            ));
        }
        for p in &d.polygon {
            if grid.cell_of(p[0], p[1]).is_none() {
                return Err(bad(
                    "polygon",
                    format!("has ({}, {}) outside the DEM", p[0], p[1]),
                    "keep the area on the DEM",
                ));
            }
        }
        let mut ring = d.polygon.clone();
        ring.push(d.polygon[0]);
        // The levee: the outline's cells, 4-connected.
        let mut levee: Vec<(usize, usize)> = Vec::new();
        for c in line_cells(grid, &ring) {
            if let Some(&(lr, lc)) = levee.last()
                && lr != c.0
                && lc != c.1
                && !levee.contains(&(lr, c.1))
            {
                levee.push((lr, c.1));
            }
            if !levee.contains(&c) {
                levee.push(c);
            }
        }
        levee.retain(|&c| basin.active[c]);
        let cells: Vec<(usize, usize)> = (0..grid.rows)
            .flat_map(|r| (0..grid.cols).map(move |c| (r, c)))
            .filter(|&(r, c)| {
                basin.active[(r, c)] && !levee.contains(&(r, c)) && {
                    let (x, y) = grid.centre(r, c);
                    inside(&d.polygon, x, y)
                }
            })
            .collect();
        if cells.is_empty() {
            return Err(bad(
                "polygon",
                "holds no data cell inside its levee".into(),
                "draw a larger area (at least 3 × 3 cells)",
            ));
        }
        let at = |k: &str, p: [f64; 2]| -> Result<(usize, usize)> {
            grid.cell_of(p[0], p[1])
                .filter(|&c| basin.active[c] && !levee.contains(&c))
                .ok_or_else(|| {
                    bad(
                        k,
                        format!(
                            "({}, {}) is off the DEM, on nodata or on the levee",
                            p[0], p[1]
                        ),
                        "put the inlet's ends one on each side of the levee",
                    )
                })
        };
        let a = at("inlet_from", d.inlet_from)?;
        let b = at("inlet_to", d.inlet_to)?;
        if cells.contains(&a) || !cells.contains(&b) {
            return Err(bad(
                "inlet_to",
                "must be inside the area, and inlet_from outside it".into(),
                "put inlet_from in the river, inlet_to just inside the levee",
            ));
        }
        let gauge_index = |k: &str, name: &str| {
            basin
                .gauges
                .iter()
                .position(|g| g.name == name)
                .ok_or_else(|| {
                    let names: Vec<&str> = basin.gauges.iter().map(|g| g.name.as_str()).collect();
                    bad(
                        k,
                        format!("names gauge `{name}`, which the basin does not have"),
                        &format!("use one of the gauges in basin.toml: {}", names.join(", ")),
                    )
                })
        };
        let trigger = match (&d.gauge, d.trigger_level_m) {
            (Some(name), Some(level)) => {
                let g = &basin.gauges[gauge_index("gauge", name)?];
                if !level.is_finite() {
                    return Err(bad(
                        "trigger_level_m",
                        "is not a number".into(),
                        "give a level in metres",
                    ));
                }
                Some(PlacedRule {
                    cell: (g.row, g.col),
                    gauge: name.clone(),
                    above_m: Some(level),
                    below_m: None,
                    open_to_m: d.open_to_m,
                })
            }
            (None, None) => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(bad(
                    if d.gauge.is_some() {
                        "trigger_level_m"
                    } else {
                        "gauge"
                    },
                    "is missing: a trigger needs both a gauge and a level".into(),
                    "give both `gauge` and `trigger_level_m`, or neither (the inlet then opens \
                     only by hand)",
                ));
            }
        };
        let downstream_gauge = d
            .downstream_gauge
            .as_deref()
            .map(|name| gauge_index("downstream_gauge", name))
            .transpose()?;
        for (k, v) in [
            ("width_m", d.width_m),
            ("open_to_m", d.open_to_m),
            ("speed_m_per_min", d.speed_m_per_min),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(k, format!("is {v}"), "give a value > 0"));
            }
        }
        if !d.sill_m.is_finite() {
            return Err(bad(
                "sill_m",
                "is not a number".into(),
                "give a level in metres",
            ));
        }
        structures.push(PlacedStructure {
            structure: Structure {
                name: format!("{} inlet", d.name),
                kind: StructureKind::Gate {
                    sill_m: d.sill_m,
                    width_m: d.width_m,
                    max_opening_m: d.open_to_m,
                    weir_coefficient: WEIR_C,
                    discharge_coefficient: GATE_CD,
                    contraction_coefficient: GATE_CC,
                    max_speed_m_s: d.speed_m_per_min / 60.0,
                },
                links: vec![Link {
                    a,
                    b: Some(b),
                    share: 1.0,
                }],
            },
            walls: levee,
            setting: StructureSetting::default(),
            control: trigger.map_or(Control::None, |r| Control::Rules(vec![r])),
        });
        areas.push(DetentionArea {
            name: d.name.clone(),
            cells,
            inlet: structures.len() - 1,
            downstream_gauge,
        });
    }
    Ok(areas)
}

/// Whether (x, y) lies inside a polygon (even-odd rule).
fn inside(polygon: &[[f64; 2]], x: f64, y: f64) -> bool {
    let mut inside = false;
    let n = polygon.len();
    for i in 0..n {
        let (a, b) = (polygon[i], polygon[(i + n - 1) % n]);
        if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
    }
    inside
}

/// A detention area's use in a run, for `summary.json`.
#[derive(Clone, Debug, Serialize)]
pub struct DetentionSummary {
    pub name: String,
    /// When its inlet was ordered open (s), if it was.
    pub opened_at_s: Option<f64>,
    pub stored_m3: f64,
    pub peak_stored_m3: f64,
    /// The downstream gauge the area protects, its peak level in this run and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downstream_gauge: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downstream_peak_level_m: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downstream_peak_time_s: Option<f64>,
}
