//! The warnings panel: every crossing of a gauge threshold or a watch area's rule the run
//! engine raised, newest first, coloured by severity; and the colours the gauge labels
//! and hydrographs use for the same states.

use basin::Basin;
use basin::config::Severity;
use basin::warnings::{Direction, PlaceKind, Warning, Watch};
use bevy_egui::egui;
use egui::{Color32, RichText};

use crate::app::ui::format_time;

/// Colour of a severity (readable on the dark theme and on a projector).
pub fn severity_colour(s: Severity) -> Color32 {
    match s {
        Severity::Advisory => Color32::from_rgb(250, 220, 80),
        Severity::Warning => Color32::from_rgb(255, 150, 40),
        Severity::Danger => Color32::from_rgb(255, 70, 70),
    }
}

/// One line of the panel.
#[derive(Clone, Debug, PartialEq)]
pub struct WarningRow {
    pub time_s: f64,
    pub text: String,
    pub colour: Color32,
    /// A crossing downwards (the danger is over): shown dimmed.
    pub lifted: bool,
}

/// The panel's lines, newest first.
pub fn warning_rows(watch: &Watch) -> Vec<WarningRow> {
    watch
        .events
        .iter()
        .rev()
        .map(|w| WarningRow {
            time_s: w.time_s,
            text: describe(w),
            colour: severity_colour(w.severity),
            lifted: w.direction == Direction::Down,
        })
        .collect()
}

/// E.g. `4 min 00.0 s (lead 4 min 00.0 s): P0 reached 2007 flood mark, level 19.98 m`.
fn describe(w: &Warning) -> String {
    let verb = match w.direction {
        Direction::Up => "reached",
        Direction::Down => "fell below",
    };
    let value = match w.quantity.as_str() {
        "level_m" => format!("level {:.2} m", w.value),
        "depth_m" => format!("depth {:.2} m", w.value),
        "max_depth_m" => format!("{} cells, deepest {:.2} m", w.cells.unwrap_or(0), w.value),
        "max_hazard" => format!("{} cells, up to H{:.0}", w.cells.unwrap_or(0), w.value),
        other => format!("{other} {:.2}", w.value),
    };
    format!(
        "{} (lead {}): {} {verb} {}, {value}",
        format_time(w.time_s),
        format_time(w.lead_time_s),
        w.place,
        w.threshold
    )
}

/// Highest severity in force now at gauge `g` (a threshold crossed upwards and not yet
/// released), if any.
pub fn gauge_alarm(basin: &Basin, watch: &Watch, g: usize) -> Option<Severity> {
    watch.gauge_severity(basin, g)
}

/// Severity in force now at watch area `a`, if its rule holds.
pub fn area_alarm(basin: &Basin, watch: &Watch, a: usize) -> Option<Severity> {
    watch
        .area_state(a)
        .then(|| basin.watch_areas.get(a).map(|w| w.severity))
        .flatten()
}

/// The panel: what is in force now, then every crossing, newest first.
pub fn warnings_ui(ui: &mut egui::Ui, basin: Option<&Basin>, watch: Option<&Watch>) {
    ui.heading("Warnings");
    let (Some(basin), Some(watch)) = (basin, watch) else {
        return;
    };
    let places = basin
        .gauges
        .iter()
        .filter(|g| !g.thresholds.is_empty())
        .count()
        + basin.watch_areas.len();
    if places == 0 {
        ui.label("This basin has no thresholds or watch areas (see docs/warnings.md).");
        return;
    }
    let mut now: Vec<(Severity, String)> = Vec::new();
    for (g, gauge) in basin.gauges.iter().enumerate() {
        if let Some(s) = gauge_alarm(basin, watch, g) {
            now.push((s, format!("gauge {}", gauge.name)));
        }
    }
    for (a, area) in basin.watch_areas.iter().enumerate() {
        if let Some(s) = area_alarm(basin, watch, a) {
            now.push((s, area.name.clone()));
        }
    }
    now.sort_by_key(|n| std::cmp::Reverse(n.0));
    if now.is_empty() {
        ui.label(format!("Nothing in force ({places} places watched)."));
    } else {
        for (s, place) in &now {
            ui.label(
                RichText::new(format!("{} in force: {place}", s.as_str().to_uppercase()))
                    .color(severity_colour(*s))
                    .strong(),
            );
        }
    }
    let rows = warning_rows(watch);
    if rows.is_empty() {
        return;
    }
    ui.label(format!("{} crossings, newest first:", rows.len()));
    egui::ScrollArea::vertical()
        .id_salt("warnings_list")
        .max_height(180.0)
        .show(ui, |ui| {
            for row in &rows {
                let colour = if row.lifted {
                    row.colour.gamma_multiply(0.55)
                } else {
                    row.colour
                };
                ui.label(RichText::new(&row.text).color(colour).small());
            }
        });
}

/// The crossings at gauge `name` (for marks on its hydrograph).
pub fn gauge_crossings<'a>(watch: &'a Watch, name: &'a str) -> impl Iterator<Item = &'a Warning> {
    watch
        .events
        .iter()
        .filter(move |w| w.kind == PlaceKind::Gauge && w.place == name)
}
