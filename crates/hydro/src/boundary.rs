//! Conditions on stretches of the domain edge, imposed through one ring of ghost cells
//! around the grid. A wall is an inactive ghost (the face flux mirrors the edge cell);
//! the others are active ghosts whose state is set from the edge cell before every step,
//! and inflows of known discharge are imposed as the face flux itself.

use serde::{Deserialize, Serialize};

use crate::{Edge, Grid, SolverError, TimeSeries};

/// What happens on a stretch of the domain edge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EdgeBoundary {
    /// Reflective, no flow through it.
    #[default]
    Wall,
    /// Transmissive: the outside copies the edge cell, so waves leave without reflection.
    FreeOutflow,
    /// Constant discharge per metre of edge flowing into the domain (m²/s), imposed as the
    /// mass flux of every face of the stretch.
    UnitDischarge { q_m2_s: f64 },
    /// Supercritical inflow: both the discharge per metre (m²/s) and the depth (m) at the
    /// edge are given, as a supercritical inflow needs (both characteristics enter).
    SupercriticalInflow { q_m2_s: f64, depth_m: f64 },
    /// Fixed water depth just outside the edge (m); the velocity follows from the outgoing
    /// characteristic. Behaves as free outflow where the edge flow is supercritical.
    FixedDepth { depth_m: f64 },
    /// Inflow hydrograph Q(t) (m³/s) for the whole stretch, shared among its cells in
    /// proportion to their Manning conveyance h^{5/3}/n; while the stretch is dry, the
    /// cells with the lowest bed (within 1 cm) share it equally.
    Inflow { discharge_m3_s: TimeSeries },
    /// Water level outside the edge over time (m, same datum as the bed), e.g. a tide or
    /// a river stage; below the bed the outside is dry.
    Stage { level_m: TimeSeries },
    /// Outflow at normal depth for the given bed slope (m/m): the outside leaves at the
    /// Manning velocity h^{2/3} √S / n of the edge cell.
    NormalDepth { slope: f64 },
}

impl EdgeBoundary {
    fn validate(&self) -> Result<(), SolverError> {
        let bad = |name, value, expected| {
            Err(SolverError::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        match self {
            EdgeBoundary::Wall | EdgeBoundary::FreeOutflow | EdgeBoundary::Stage { .. } => Ok(()),
            EdgeBoundary::UnitDischarge { q_m2_s } if !(q_m2_s.is_finite() && *q_m2_s >= 0.0) => {
                bad(
                    "q_m2_s",
                    *q_m2_s,
                    "an inflow discharge per metre of edge is finite and ≥ 0 m²/s",
                )
            }
            EdgeBoundary::SupercriticalInflow { q_m2_s, depth_m }
                if !(q_m2_s.is_finite()
                    && *q_m2_s >= 0.0
                    && depth_m.is_finite()
                    && *depth_m > 0.0) =>
            {
                bad(
                    "q_m2_s / depth_m",
                    q_m2_s.min(*depth_m),
                    "a supercritical inflow needs q ≥ 0 m²/s and a depth > 0 m",
                )
            }
            EdgeBoundary::FixedDepth { depth_m } if !(depth_m.is_finite() && *depth_m >= 0.0) => {
                bad("depth_m", *depth_m, "a boundary depth is finite and ≥ 0 m")
            }
            EdgeBoundary::Inflow { discharge_m3_s } => {
                discharge_m3_s.require_non_negative("discharge_m3_s")
            }
            EdgeBoundary::NormalDepth { slope } if !(slope.is_finite() && *slope > 0.0) => bad(
                "slope",
                *slope,
                "a bed slope for normal depth is a finite number > 0 (m/m)",
            ),
            _ => Ok(()),
        }
    }

    pub(crate) fn is_wall(&self) -> bool {
        matches!(self, EdgeBoundary::Wall)
    }

    /// Whether water can come in while the edge cells are dry: the outside of free and
    /// normal-depth outflow copies the edge cell's depth, so a dry edge stays dry.
    pub(crate) fn can_bring_water(&self) -> bool {
        !matches!(
            self,
            EdgeBoundary::Wall | EdgeBoundary::FreeOutflow | EdgeBoundary::NormalDepth { .. }
        )
    }

    /// Whether the face flux is imposed rather than solved.
    pub(crate) fn imposes_flux(&self) -> bool {
        matches!(
            self,
            EdgeBoundary::UnitDischarge { .. }
                | EdgeBoundary::Inflow { .. }
                | EdgeBoundary::SupercriticalInflow { .. }
        )
    }
}

/// A condition on cells `first..=last` (counted from the north or west end) of one edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoundarySegment {
    pub edge: Edge,
    pub first: usize,
    pub last: usize,
    pub condition: EdgeBoundary,
}

/// The conditions on the domain edge: any number of segments; cells not covered by one
/// are walls (a closed box by default).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Boundaries {
    segments: Vec<BoundarySegment>,
}

impl Boundaries {
    /// Walls all round.
    pub fn walls() -> Self {
        Self::default()
    }

    /// The same condition on every edge.
    pub fn all(condition: EdgeBoundary) -> Self {
        Edge::ALL
            .into_iter()
            .fold(Self::default(), |b, e| b.with_edge(e, condition.clone()))
    }

    /// Add a condition on the whole of `edge`.
    pub fn with_edge(mut self, edge: Edge, condition: EdgeBoundary) -> Self {
        self.segments.push(BoundarySegment {
            edge,
            first: 0,
            last: usize::MAX,
            condition,
        });
        self
    }

    /// Add a condition on cells `first..=last` of `edge`.
    pub fn with_segment(
        mut self,
        edge: Edge,
        first: usize,
        last: usize,
        condition: EdgeBoundary,
    ) -> Self {
        self.segments.push(BoundarySegment {
            edge,
            first,
            last,
            condition,
        });
        self
    }

    pub fn segments(&self) -> &[BoundarySegment] {
        &self.segments
    }

    /// Check every segment against the grid and resolve whole-edge segments; segments of
    /// one edge must not overlap.
    pub(crate) fn resolve(&self, grid: &Grid) -> Result<Vec<BoundarySegment>, SolverError> {
        let mut out: Vec<BoundarySegment> = Vec::with_capacity(self.segments.len());
        for (i, seg) in self.segments.iter().enumerate() {
            seg.condition.validate()?;
            let len = grid.edge_len(seg.edge);
            let last = if seg.last == usize::MAX {
                len - 1
            } else {
                seg.last
            };
            let what = format!(
                "boundary segment {i} ({:?} edge, cells {}..={last})",
                seg.edge, seg.first
            );
            let outside = |reason: String| SolverError::OutsideGrid {
                what: what.clone(),
                rows: grid.rows,
                cols: grid.cols,
                reason,
            };
            if seg.first > last {
                return Err(outside("its first cell comes after its last".into()));
            }
            if last >= len {
                return Err(outside(format!(
                    "the {:?} edge has cells 0..={}",
                    seg.edge,
                    len - 1
                )));
            }
            if let Some(other) = out
                .iter()
                .position(|o| o.edge == seg.edge && o.first <= last && seg.first <= o.last)
            {
                return Err(outside(format!(
                    "it overlaps segment {other}; give each edge cell one condition"
                )));
            }
            out.push(BoundarySegment {
                last,
                ..seg.clone()
            });
        }
        Ok(out)
    }
}

/// State of a ghost cell in the frame of its edge: `un_inward` is the velocity *into* the
/// domain, `ut` along the edge.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GhostState {
    pub h: f64,
    pub un_inward: f64,
    pub ut: f64,
}

/// The edge cell as the ghost condition sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EdgeCell {
    pub h: f64,
    pub un_inward: f64,
    pub ut: f64,
    pub bed_m: f64,
    pub manning_n: f64,
}

/// Critical depth for a unit discharge.
pub(crate) fn critical_depth(q_m2_s: f64, g: f64) -> f64 {
    (q_m2_s * q_m2_s / g).cbrt()
}

/// The ghost state for conditions that are not imposed fluxes, at time `t_s`.
pub(crate) fn ghost_state(bc: &EdgeBoundary, cell: EdgeCell, t_s: f64, g: f64) -> GhostState {
    let copy = GhostState {
        h: cell.h,
        un_inward: cell.un_inward,
        ut: cell.ut,
    };
    match bc {
        EdgeBoundary::Wall | EdgeBoundary::FreeOutflow => copy,
        EdgeBoundary::UnitDischarge { q_m2_s } => inflow_ghost(*q_m2_s, cell.h, g),
        EdgeBoundary::SupercriticalInflow { q_m2_s, depth_m } => GhostState {
            h: *depth_m,
            un_inward: q_m2_s / depth_m,
            ut: 0.0,
        },
        EdgeBoundary::Inflow { .. } => copy, // set per cell by the solver (needs the share)
        EdgeBoundary::FixedDepth { depth_m } => characteristic_ghost(*depth_m, cell, g),
        EdgeBoundary::Stage { level_m } => {
            characteristic_ghost((level_m.value_at(t_s) - cell.bed_m).max(0.0), cell, g)
        }
        EdgeBoundary::NormalDepth { slope } => {
            if cell.manning_n <= 0.0 {
                return copy;
            }
            let u_normal = cell.h.powf(2.0 / 3.0) * slope.sqrt() / cell.manning_n;
            GhostState {
                h: cell.h,
                un_inward: -u_normal,
                ut: cell.ut,
            }
        }
    }
}

/// Ghost for a known inflow per metre `q`: the edge cell's depth, at least critical (a
/// supercritical inflow would need a second condition; critical depth is the most an
/// edge passes with only Q given, and it lets a dry edge take the flow). Deriving the
/// depth from the outgoing characteristic instead is ill-conditioned near critical flow.
pub(crate) fn inflow_ghost(q_m2_s: f64, h: f64, g: f64) -> GhostState {
    if q_m2_s <= 0.0 {
        return GhostState {
            h,
            un_inward: 0.0,
            ut: 0.0,
        };
    }
    let hb = h.max(critical_depth(q_m2_s, g));
    GhostState {
        h: hb,
        un_inward: q_m2_s / hb,
        ut: 0.0,
    }
}

/// Ghost with a given outside depth; the velocity keeps the outgoing Riemann invariant
/// un_out + 2c of the edge cell. Supercritical outflow ignores the outside.
fn characteristic_ghost(depth_m: f64, cell: EdgeCell, g: f64) -> GhostState {
    let c = (g * cell.h).sqrt();
    let un_out = -cell.un_inward;
    if un_out >= c && cell.h > 0.0 {
        return GhostState {
            h: cell.h,
            un_inward: cell.un_inward,
            ut: cell.ut,
        };
    }
    let cb = (g * depth_m).sqrt();
    GhostState {
        h: depth_m,
        un_inward: -(un_out + 2.0 * (c - cb)),
        ut: cell.ut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f64 = 9.81;

    fn cell(h: f64, un_inward: f64) -> EdgeCell {
        EdgeCell {
            h,
            un_inward,
            ut: 0.3,
            bed_m: 1.0,
            manning_n: 0.03,
        }
    }

    #[test]
    fn discharge_ghost_takes_the_edge_depth_and_the_discharge() {
        let gs = inflow_ghost(2.0, 1.0, G);
        assert_eq!(gs.h, 1.0);
        assert!((gs.h * gs.un_inward - 2.0).abs() < 1e-12);
        assert_eq!(gs.ut, 0.0);
    }

    #[test]
    fn discharge_into_a_dry_edge_enters_at_critical_depth() {
        let gs = inflow_ghost(1.0, 0.0, G);
        assert!((gs.h - critical_depth(1.0, G)).abs() < 1e-12);
        assert!((gs.h * gs.un_inward - 1.0).abs() < 1e-12);
    }

    #[test]
    fn fixed_depth_and_stage_keep_the_outgoing_invariant() {
        let c = cell(1.0, -0.3); // flowing out
        let out = |h: f64, u_in: f64| -u_in + 2.0 * (G * h).sqrt();
        let gs = ghost_state(&EdgeBoundary::FixedDepth { depth_m: 0.8 }, c, 0.0, G);
        assert_eq!(gs.h, 0.8);
        assert!((out(gs.h, gs.un_inward) - out(c.h, c.un_inward)).abs() < 1e-12);
        // A stage of 1.8 m over a bed at 1.0 m is the same outside depth.
        let stage = TimeSeries::new(vec![(0.0, 1.0), (10.0, 2.6)]).expect("series");
        let gs2 = ghost_state(&EdgeBoundary::Stage { level_m: stage }, c, 5.0, G);
        assert!((gs2.h - 0.8).abs() < 1e-12);
    }

    #[test]
    fn supercritical_inflow_imposes_both_depth_and_discharge() {
        let bc = EdgeBoundary::SupercriticalInflow {
            q_m2_s: 2.5,
            depth_m: 0.74,
        };
        assert!(bc.validate().is_ok() && bc.imposes_flux());
        let gs = ghost_state(&bc, cell(0.0, 0.0), 0.0, G);
        assert_eq!(gs.h, 0.74);
        assert!((gs.h * gs.un_inward - 2.5).abs() < 1e-12);
        assert!(
            EdgeBoundary::SupercriticalInflow {
                q_m2_s: 1.0,
                depth_m: 0.0
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn normal_depth_leaves_at_the_manning_velocity() {
        let gs = ghost_state(
            &EdgeBoundary::NormalDepth { slope: 0.01 },
            cell(0.5, 0.0),
            0.0,
            G,
        );
        let expected = 0.5f64.powf(2.0 / 3.0) * 0.1 / 0.03;
        assert!((gs.un_inward + expected).abs() < 1e-12);
    }

    #[test]
    fn segments_are_checked_against_the_grid() {
        let grid = Grid::new(10, 20, 1.0, 1.0).expect("grid");
        let ok = Boundaries::walls()
            .with_segment(Edge::West, 0, 4, EdgeBoundary::FreeOutflow)
            .with_segment(
                Edge::West,
                5,
                9,
                EdgeBoundary::UnitDischarge { q_m2_s: 1.0 },
            )
            .with_edge(Edge::North, EdgeBoundary::FreeOutflow);
        let resolved = ok.resolve(&grid).expect("valid");
        assert_eq!(resolved[2].last, 19);

        let off = Boundaries::walls().with_segment(Edge::West, 5, 10, EdgeBoundary::FreeOutflow);
        let e = off.resolve(&grid).expect_err("off the edge");
        assert!(e.to_string().contains("cells 0..=9"), "{e}");
        let overlap = ok.with_segment(Edge::West, 9, 9, EdgeBoundary::FreeOutflow);
        assert!(
            overlap
                .resolve(&grid)
                .expect_err("overlap")
                .to_string()
                .contains("overlaps")
        );
        let reversed =
            Boundaries::walls().with_segment(Edge::South, 5, 2, EdgeBoundary::FreeOutflow);
        assert!(reversed.resolve(&grid).is_err());
        let negative =
            Boundaries::walls().with_edge(Edge::East, EdgeBoundary::UnitDischarge { q_m2_s: -1.0 });
        assert!(matches!(
            negative.resolve(&grid),
            Err(SolverError::InvalidParameter { name: "q_m2_s", .. })
        ));
    }
}
