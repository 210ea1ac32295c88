//! Conditions on the four domain edges, imposed through one ring of ghost cells around the
//! grid. A wall is an inactive ghost (the face flux mirrors the edge cell); the others are
//! active ghosts whose state is set from the edge cell before every step.

use serde::{Deserialize, Serialize};

use crate::{Edge, SolverError};

/// What happens at one edge of the domain.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EdgeBoundary {
    /// Reflective, no flow through it.
    #[default]
    Wall,
    /// Transmissive: the outside copies the edge cell, so waves leave without reflection.
    FreeOutflow,
    /// Constant discharge per metre of edge flowing into the domain (m²/s), imposed as the
    /// mass flux of the edge faces. The edge depth is the edge cell's, at least critical
    /// (so a dry edge takes the flow at critical depth).
    UnitDischarge { q_m2_s: f64 },
    /// Fixed water depth just outside the edge (m); the velocity follows from the outgoing
    /// characteristic. Falls back to free outflow when the edge flow is supercritical.
    FixedDepth { depth_m: f64 },
}

impl EdgeBoundary {
    pub(crate) fn validate(&self) -> Result<(), SolverError> {
        match *self {
            EdgeBoundary::Wall | EdgeBoundary::FreeOutflow => Ok(()),
            EdgeBoundary::UnitDischarge { q_m2_s } if !(q_m2_s.is_finite() && q_m2_s >= 0.0) => {
                Err(SolverError::InvalidParameter {
                    name: "q_m2_s",
                    value: q_m2_s,
                    expected: "an inflow discharge per metre of edge is finite and ≥ 0 m²/s",
                })
            }
            EdgeBoundary::FixedDepth { depth_m } if !(depth_m.is_finite() && depth_m >= 0.0) => {
                Err(SolverError::InvalidParameter {
                    name: "depth_m",
                    value: depth_m,
                    expected: "a boundary depth is finite and ≥ 0 m",
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn is_wall(&self) -> bool {
        matches!(self, EdgeBoundary::Wall)
    }
}

/// One condition per edge; all walls by default (a closed box).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Boundaries {
    #[serde(default)]
    pub north: EdgeBoundary,
    #[serde(default)]
    pub south: EdgeBoundary,
    #[serde(default)]
    pub west: EdgeBoundary,
    #[serde(default)]
    pub east: EdgeBoundary,
}

impl Boundaries {
    /// The same condition on every edge.
    pub fn all(edge: EdgeBoundary) -> Self {
        Self {
            north: edge,
            south: edge,
            west: edge,
            east: edge,
        }
    }

    pub fn get(&self, edge: Edge) -> EdgeBoundary {
        match edge {
            Edge::North => self.north,
            Edge::South => self.south,
            Edge::West => self.west,
            Edge::East => self.east,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SolverError> {
        Edge::ALL.iter().try_for_each(|&e| self.get(e).validate())
    }
}

/// State of a ghost cell in the frame of its edge: `un` is the velocity *into* the domain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct GhostState {
    pub h: f64,
    pub un_inward: f64,
    pub ut: f64,
}

/// The ghost state for one edge cell with depth `h`, inward velocity `un` and tangential
/// velocity `ut`.
pub(crate) fn ghost_state(bc: EdgeBoundary, h: f64, un: f64, ut: f64, g: f64) -> GhostState {
    let copy = GhostState {
        h,
        un_inward: un,
        ut,
    };
    match bc {
        EdgeBoundary::Wall | EdgeBoundary::FreeOutflow => copy,
        EdgeBoundary::UnitDischarge { q_m2_s } => {
            if q_m2_s <= 0.0 {
                return GhostState {
                    h,
                    un_inward: 0.0,
                    ut: 0.0,
                };
            }
            // The edge depth is taken from the edge cell (zero gradient), never below the
            // critical depth: a supercritical inflow would need a second condition, and
            // critical depth is the most an edge can pass with only Q given. Deriving it
            // from the outgoing characteristic instead is ill-conditioned near critical
            // flow (the momentum flux q²/h + g h²/2 is flat there) and spoils the first
            // cells of a Froude ≈ 1 channel.
            let critical = (q_m2_s * q_m2_s / g).cbrt();
            let hb = h.max(critical);
            GhostState {
                h: hb,
                un_inward: q_m2_s / hb,
                ut: 0.0,
            }
        }
        EdgeBoundary::FixedDepth { depth_m } => {
            let c = (g * h).sqrt();
            let un_out = -un;
            if un_out >= c && h > 0.0 {
                return copy; // supercritical outflow: nothing propagates in from outside
            }
            let cb = (g * depth_m).sqrt();
            // Outgoing characteristic (moving outwards): un_out + 2c is kept.
            let un_out_b = un_out + 2.0 * (c - cb);
            GhostState {
                h: depth_m,
                un_inward: -un_out_b,
                ut,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const G: f64 = 9.81;

    #[test]
    fn discharge_ghost_takes_the_edge_depth_and_the_discharge() {
        let q = 2.0;
        let gs = ghost_state(EdgeBoundary::UnitDischarge { q_m2_s: q }, 1.0, 0.5, 0.3, G);
        assert_eq!(gs.h, 1.0);
        assert!((gs.h * gs.un_inward - q).abs() < 1e-12);
        assert_eq!(gs.ut, 0.0);
    }

    #[test]
    fn discharge_into_a_dry_edge_enters_at_critical_depth() {
        let q = 1.0;
        let gs = ghost_state(EdgeBoundary::UnitDischarge { q_m2_s: q }, 0.0, 0.0, 0.0, G);
        let critical = (q * q / G).cbrt();
        assert!((gs.h - critical).abs() < 1e-12);
        assert!((gs.h * gs.un_inward - q).abs() < 1e-12);
    }

    #[test]
    fn fixed_depth_ghost_keeps_the_outgoing_invariant() {
        let (h, un) = (1.0, -0.3); // flowing out
        let gs = ghost_state(EdgeBoundary::FixedDepth { depth_m: 0.8 }, h, un, 0.0, G);
        assert_eq!(gs.h, 0.8);
        let out = |h: f64, u_in: f64| -u_in + 2.0 * (G * h).sqrt();
        assert!((out(gs.h, gs.un_inward) - out(h, un)).abs() < 1e-12);
    }

    #[test]
    fn negative_inflow_is_rejected() {
        let err = EdgeBoundary::UnitDischarge { q_m2_s: -1.0 }.validate();
        assert!(matches!(
            err,
            Err(SolverError::InvalidParameter { name: "q_m2_s", .. })
        ));
    }
}
