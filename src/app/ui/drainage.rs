//! The basin's drainage in the view: the stream network (lines widening with their
//! Strahler order) and catchment outlines over the terrain, and the Drainage panel with
//! each gauge's catchment area and the catchment of the clicked point. Derived when a
//! basin opens ([`basin::hydrology::derive`], the same as `rivertwin hydrology`).

use std::sync::Arc;

use basin::hydrology::{Drainage, OutlineEdge, Reach, outline, stream_reaches};
use bevy::prelude::*;
use bevy_egui::egui;
use egui::{Color32, RichText};

use crate::app::palette::Layer;
use crate::app::session::{Session, ViewSettings};
use crate::app::view_grid::ViewGrid;

/// A basin's drainage with what the view draws of it.
#[derive(Debug)]
pub struct DrainageView {
    pub drainage: Drainage,
    pub reaches: Vec<Reach>,
    /// Per gauge (in the basin's order), its catchment's outline.
    pub outlines: Vec<Vec<OutlineEdge>>,
    /// The soil losses per cell, when the basin has `[losses]`.
    pub soil: Option<SoilMap>,
}

/// One soil-loss parameter per cell, for the Soil layer.
#[derive(Debug)]
pub struct SoilMap {
    /// What it is, e.g. "curve number".
    pub title: &'static str,
    pub unit: &'static str,
    /// NaN outside the basin.
    pub values: ndarray::Array2<f32>,
}

impl SoilMap {
    fn of(basin: &basin::Basin) -> Option<Self> {
        let losses = basin::losses::solver_losses(basin)?;
        // As the solver takes them: initial + continuing over the pervious share of each
        // cell; the curve number as given (its P − Q(P) is what the share scales);
        // Green–Ampt's K, which already carries the share.
        let shared = basin.loss_pervious.is_some();
        let (title, unit, values) = match &basin.loss_model {
            Some(hydro::LossModel::CurveNumber { curve_number, .. }) => {
                ("curve number", "CN", curve_number.mapv(|v| v as f32))
            }
            Some(hydro::LossModel::GreenAmpt {
                conductivity_mm_per_h,
                ..
            }) => (
                if shared {
                    "saturated conductivity × pervious share (Green–Ampt)"
                } else {
                    "saturated conductivity (Green–Ampt)"
                },
                "mm/h",
                conductivity_mm_per_h.mapv(|v| v as f32),
            ),
            None => (
                if shared {
                    "continuing loss × pervious share"
                } else {
                    "continuing loss"
                },
                "mm/h",
                losses.continuing_mm_per_h.mapv(|v| v as f32),
            ),
        };
        let values = ndarray::Zip::from(&values)
            .and(&basin.active)
            .map_collect(|&v, &a| if a { v } else { f32::NAN });
        Some(Self {
            title,
            unit,
            values,
        })
    }

    /// The sheet's depth and value at a cell (see `ensemble::cell_value`).
    pub fn cell_value(&self, cell: (usize, usize)) -> (f32, f32) {
        let v = self.values[cell];
        if v.is_finite() { (0.3, v) } else { (0.0, 0.0) }
    }
}

impl DrainageView {
    pub fn derive(basin: &basin::Basin) -> basin::Result<Self> {
        // The stream threshold by the basin's size, as `rivertwin hydrology` takes it.
        let options = basin::hydrology::HydrologyOptions::for_basin(basin);
        let drainage = basin::hydrology::derive(basin, &options)?;
        let reaches = stream_reaches(&drainage);
        let outlines = drainage.catchment_masks.iter().map(outline).collect();
        Ok(Self {
            drainage,
            reaches,
            outlines,
            soil: SoilMap::of(basin),
        })
    }
}

/// The catchment of the clicked cell.
#[derive(Debug, Clone)]
pub struct ClickedCatchment {
    /// The clicked cell and the cell it snapped to (highest accumulation within 1 cell).
    pub cell: (usize, usize),
    pub outlet: (usize, usize),
    pub cells: usize,
    pub area_km2: f64,
    pub outline: Arc<Vec<OutlineEdge>>,
}

pub(crate) fn plugin(app: &mut App) {
    app.init_resource::<CatchmentJob>().add_systems(
        Update,
        follow_the_probe.in_set(crate::app::TwinSet::SyncMeshes),
    );
}

/// The clicked point's catchment being worked out on a thread: a flood fill of every
/// cell upstream, O(cells) on a large basin, which the render thread must not wait for.
#[derive(Resource, Default)]
struct CatchmentJob {
    /// The cell and the drainage it was asked for.
    asked: Option<((usize, usize), Arc<DrainageView>)>,
    /// Where the thread leaves the catchment.
    result: Option<Arc<std::sync::Mutex<Option<ClickedCatchment>>>>,
}

/// The catchment draining to (the stream cell nearest) `cell`.
fn clicked_catchment(d: &DrainageView, cell: (usize, usize)) -> ClickedCatchment {
    let dr = &d.drainage;
    let outlet = basin::terrain::snap_to_stream(&dr.accumulation_cells, cell, 1);
    let mask = basin::terrain::catchment(&dr.directions, outlet);
    let cells = mask.iter().filter(|&&m| m).count();
    ClickedCatchment {
        cell,
        outlet,
        cells,
        area_km2: cells as f64 * dr.cell_area_km2,
        outline: Arc::new(outline(&mask)),
    }
}

/// When the probe moves, work out its catchment on a thread, and show it when it comes
/// (a result for a cell or basin no longer probed is dropped).
fn follow_the_probe(
    mut session: ResMut<Session>,
    view: Res<ViewSettings>,
    mut job: ResMut<CatchmentJob>,
) {
    let Some(cell) = view.probe else {
        *job = CatchmentJob::default();
        if session.clicked_catchment.is_some() {
            session.clicked_catchment = None;
        }
        return;
    };
    let Some(d) = session.drainage.clone() else {
        return;
    };
    let current =
        |asked: &((usize, usize), Arc<DrainageView>)| asked.0 == cell && Arc::ptr_eq(&asked.1, &d);
    let done = job
        .result
        .as_ref()
        .and_then(|slot| slot.lock().ok().and_then(|mut s| s.take()));
    if let Some(c) = done {
        if job.asked.as_ref().is_some_and(current) {
            session.clicked_catchment = Some(c);
        }
        job.result = None;
    }
    if job.asked.as_ref().is_some_and(current) {
        return;
    }
    let slot = Arc::new(std::sync::Mutex::new(None));
    job.asked = Some((cell, d.clone()));
    job.result = Some(slot.clone());
    std::thread::spawn(move || {
        let c = clicked_catchment(&d, cell);
        if let Ok(mut s) = slot.lock() {
            *s = Some(c);
        }
    });
}

/// Stream blue; catchment outlines white (gauges) and yellow (the clicked point).
const STREAM: Color32 = Color32::from_rgb(40, 120, 255);
const GAUGE_CATCHMENT: Color32 = Color32::from_rgb(245, 245, 245);
const CLICKED_CATCHMENT: Color32 = Color32::from_rgb(255, 220, 60);
/// Upstream catchments' inflows: the inflow-boundary cyan of the overlay.
pub const INFLOW: Color32 = Color32::from_rgb(80, 220, 255);

/// The panel: streams and catchments, and the scenario's upstream catchments with their
/// inflow hydrographs.
pub fn drainage_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&crate::app::twin::Snapshot>,
    view: &mut ViewSettings,
) {
    ui.heading("Drainage");
    inflows_ui(ui, session, snap);
    let Some(d) = &session.drainage else {
        ui.label("derived when a basin opens");
        return;
    };
    let dr = &d.drainage;
    ui.horizontal(|ui| {
        ui.checkbox(&mut view.show_streams, "streams");
        ui.checkbox(&mut view.show_catchments, "gauge catchments");
    });
    match &d.soil {
        Some(soil) => {
            let on = view.layer == Layer::Soil;
            if ui
                .selectable_label(on, format!("soil losses: {} ({})", soil.title, soil.unit))
                .on_hover_text(
                    "colour the basin by its loss parameter (the Depth button goes back)",
                )
                .clicked()
            {
                view.layer = if on { Layer::Depth } else { Layer::Soil };
            }
        }
        None => {
            ui.label("no [losses] in basin.toml: rain does not soak in");
        }
    }
    match dr.strahler.iter().max().copied().unwrap_or(0) {
        0 => ui.label(format!(
            "no cell drains {} ({} cells): no streams drawn",
            area_text(dr.threshold_km2),
            dr.threshold_cells
        )),
        top => ui.label(format!(
            "streams: cells draining ≥ {} ({} cells); Strahler order up to {top}",
            area_text(dr.threshold_km2),
            dr.threshold_cells
        )),
    };
    for c in &dr.catchments {
        ui.label(format!("{}: {} upstream", c.gauge, area_text(c.area_km2)));
    }
    match &session.clicked_catchment {
        Some(c) => {
            ui.label(
                RichText::new(format!(
                    "clicked point (row {}, column {}): {} upstream ({} cells)",
                    c.outlet.0,
                    c.outlet.1,
                    area_text(c.area_km2),
                    c.cells
                ))
                .color(CLICKED_CATCHMENT),
            );
        }
        None => {
            ui.label("click the terrain for the catchment draining to that point");
        }
    }
}

/// Each upstream catchment of the scenario: its model's totals and its discharge into
/// the grid over the run, with a line at the time shown.
fn inflows_ui(ui: &mut egui::Ui, session: &Session, snap: Option<&crate::app::twin::Snapshot>) {
    use egui_plot::{Line, Plot, VLine};
    let Some(twin) = &session.twin else { return };
    for (i, c) in twin.scenario.catchments.iter().enumerate() {
        let now = snap.map_or(0.0, |s| s.sim_time_s);
        ui.label(
            RichText::new(format!(
                "{} ({}): {:.0} m³/s now, peak {:.0} m³/s at {}",
                c.name,
                area_text(c.area_km2),
                c.discharge_m3_s.value_at(now),
                c.peak_m3_s,
                crate::app::ui::format_time(c.peak_time_s)
            ))
            .color(INFLOW),
        );
        ui.label(format!(
            "rain {:.1} mm, evaporation {:.1} mm, runoff {:.1} mm",
            c.rain_mm, c.evaporation_mm, c.runoff_mm
        ));
        let duration = twin.scenario.file.duration_s;
        let points: Vec<[f64; 2]> = c
            .discharge_m3_s
            .points()
            .filter(|(t, _)| *t <= duration)
            .map(|(t, q)| [t, q])
            .collect();
        Plot::new(format!("inflow_{i}"))
            .height(100.0)
            .include_x(duration)
            .include_y(0.0)
            .allow_scroll(false)
            .show(ui, |p| {
                p.line(Line::new("inflow (m³/s)", points).color(INFLOW));
                p.vline(VLine::new("now", now).color(Color32::WHITE));
            });
    }
}

/// An area in km² from 1 km² up, in hectares down to 1 ha, in m² below.
pub fn area_text(km2: f64) -> String {
    if km2 >= 1.0 {
        format!("{km2:.2} km²")
    } else if km2 >= 0.01 {
        format!("{:.2} ha", km2 * 100.0)
    } else {
        format!("{:.0} m²", km2 * 1e6)
    }
}

/// The runs of a reach's cells that are on land, in order.
fn land_runs<'a>(
    cells: &'a [(usize, usize)],
    on_land: impl Fn(&(usize, usize)) -> bool + Copy + 'a,
) -> impl Iterator<Item = &'a [(usize, usize)]> + 'a {
    cells
        .chunk_by(move |a, b| on_land(a) == on_land(b))
        .filter(move |run| on_land(&run[0]))
}

/// Draw the streams and catchment outlines over the view.
pub fn drainage_overlay(
    painter: &egui::Painter,
    session: &Session,
    view: &ViewSettings,
    grid: &ViewGrid,
    project: &dyn Fn([f32; 3]) -> Option<egui::Pos2>,
) {
    let (Some(d), Some(basin)) = (&session.drainage, &session.basin) else {
        return;
    };
    let lift = 0.02 * grid.dx_m.min(grid.dy_m) as f32 + 0.5;
    let at_cell = |r: usize, c: usize| {
        let [x, y, z] = grid.world_from_cell(r as f64, c as f64, basin.bed_m.at((r, c)));
        project([x, y + lift, z])
    };
    if view.show_streams {
        // Streams are drawn on land only: a reach stops where it enters water that was
        // there from the start (the sea off a coast, a lake or reservoir), where flow
        // directions on the bed under it mean nothing.
        // (The app's basin keeps its initial depth: it is reset.)
        let on_land = |&(r, c): &(usize, usize)| {
            basin
                .initial_depth_m
                .as_ref()
                .is_none_or(|d| d.at((r, c)) <= 0.0)
        };
        for reach in &d.reaches {
            let width = 0.8 + 0.7 * f32::from(reach.order);
            for run in land_runs(&reach.cells, on_land) {
                let points: Vec<egui::Pos2> =
                    run.iter().filter_map(|&(r, c)| at_cell(r, c)).collect();
                if points.len() >= 2 {
                    painter.add(egui::Shape::line(points, egui::Stroke::new(width, STREAM)));
                }
            }
        }
    }
    // An edge at the bed of the cell inside it.
    let corner = |(r, c): (usize, usize), inside: (usize, usize)| {
        let [x, y, z] =
            grid.world_from_cell(r as f64 - 0.5, c as f64 - 0.5, basin.bed_m.at(inside));
        project([x, y + lift, z])
    };
    let draw = |edges: &[OutlineEdge], colour: Color32| {
        for &([a, b], inside) in edges {
            if let (Some(p), Some(q)) = (corner(a, inside), corner(b, inside)) {
                painter.line_segment([p, q], egui::Stroke::new(2.0, colour));
            }
        }
    };
    if view.show_catchments {
        for edges in &d.outlines {
            draw(edges, GAUGE_CATCHMENT);
        }
    }
    if let Some(c) = &session.clicked_catchment {
        draw(&c.outline, CLICKED_CATCHMENT);
    }
    // Upstream catchments: a label where their water enters.
    if let Some(twin) = &session.twin {
        for c in &twin.scenario.catchments {
            let Some(&(r, col)) = c.cells.first() else {
                continue;
            };
            if let Some(p) = at_cell(r, col) {
                painter.circle_filled(p, 5.0, INFLOW);
                // On a dark plate, as the gauge labels, to read over any terrain.
                let text = format!("{} ({})", c.name, area_text(c.area_km2));
                let font = egui::FontId::proportional(14.0);
                let at = p + egui::vec2(8.0, -4.0);
                let rect = painter.text(at, egui::Align2::LEFT_BOTTOM, &text, font.clone(), INFLOW);
                painter.rect_filled(rect.expand(2.0), 3.0, Color32::from_black_alpha(150));
                painter.text(at, egui::Align2::LEFT_BOTTOM, text, font, INFLOW);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_stops_where_it_enters_water_there_from_the_start() {
        // A reach down a hillside (columns 0–3), across a lake (4–5), on to the coast
        // (6–7) and into the sea (8–9).
        let cells: Vec<(usize, usize)> = (0..10).map(|c| (0, c)).collect();
        let wet_at_start = |c: usize| matches!(c, 4 | 5 | 8 | 9);
        let runs: Vec<&[(usize, usize)]> = land_runs(&cells, |&(_, c)| !wet_at_start(c)).collect();
        assert_eq!(runs, [&cells[0..4], &cells[6..8]]);
        // All on land: the whole reach.
        assert_eq!(
            land_runs(&cells, |_| true).collect::<Vec<_>>(),
            [&cells[..]]
        );
        // All under water: nothing.
        assert_eq!(land_runs(&cells, |_| false).count(), 0);
    }
}
