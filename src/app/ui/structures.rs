//! The structures panel: each of the scenario's weirs, gates, culverts, pumps and
//! releases with its flow and regime; the chosen one's flow and levels over time; a
//! gate's opening, a pump's on/off and a release set by hand or handed back to the rules;
//! and the log of every operation, newest first.

use bevy_egui::egui;
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, VLine};

use crate::app::session::{Action, ViewSettings};
use crate::app::twin::{Command, Snapshot, StructureState};
use crate::app::ui::format_time;

/// Colour of structures on the terrain and in the panel.
pub const STRUCTURE_COLOUR: Color32 = Color32::from_rgb(235, 150, 255);

/// One line of the list: name, kind, flow and regime (and "by hand").
pub fn structure_row(s: &StructureState) -> String {
    let mut text = format!(
        "{} ({}): {:.2} m³/s, {}",
        s.name,
        s.kind,
        s.flow.flow_m3_s,
        s.flow.regime.as_str().replace('_', " ")
    );
    if s.kind == "gate" {
        text += &format!(", open {:.2} m", s.setting.opening_m);
    }
    if s.kind == "pump" {
        text += if s.setting.running { ", on" } else { ", off" };
    }
    if s.setting.manual {
        text += " · by hand";
    }
    text
}

pub fn structures_ui(
    ui: &mut egui::Ui,
    snap: Option<&Snapshot>,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
) {
    ui.heading("Structures");
    let Some(s) = snap else { return };
    if s.structures.is_empty() {
        ui.label("This scenario operates no structures (see docs/structures.md).");
        return;
    }
    view.structure = view.structure.min(s.structures.len() - 1);
    for (i, st) in s.structures.iter().enumerate() {
        let text = RichText::new(structure_row(st));
        let text = if i == view.structure {
            text.color(STRUCTURE_COLOUR).strong()
        } else {
            text
        };
        if ui.selectable_label(i == view.structure, text).clicked() {
            view.structure = i;
        }
    }
    let i = view.structure;
    let st = &s.structures[i];
    // Hand controls.
    ui.horizontal_wrapped(|ui| match st.kind {
        "gate" => {
            let max = st.max_opening_m.unwrap_or(1.0);
            let mut target = st.setting.target_opening_m;
            let r = ui.add(
                egui::Slider::new(&mut target, 0.0..=max)
                    .text("opening")
                    .suffix(" m"),
            );
            if r.drag_stopped() || (r.changed() && !r.dragged()) {
                out.push(Action::Twin(Command::OperateStructure {
                    index: i,
                    setting: hydro::StructureSetting {
                        target_opening_m: target,
                        ..st.setting
                    },
                }));
            }
        }
        "pump" => {
            let mut on = st.setting.running;
            if ui.checkbox(&mut on, "pump on").changed() {
                out.push(Action::Twin(Command::OperateStructure {
                    index: i,
                    setting: hydro::StructureSetting {
                        running: on,
                        ..st.setting
                    },
                }));
            }
        }
        "release" => {
            let mut q = st.setting.release_m3_s;
            let r = ui.add(
                egui::Slider::new(&mut q, 0.0..=500.0)
                    .logarithmic(true)
                    .text("release")
                    .suffix(" m³/s"),
            );
            if r.drag_stopped() || (r.changed() && !r.dragged()) {
                out.push(Action::Twin(Command::OperateStructure {
                    index: i,
                    setting: hydro::StructureSetting {
                        release_m3_s: q,
                        ..st.setting
                    },
                }));
            }
        }
        _ => {
            ui.label("(no setting: it follows the water levels)");
        }
    });
    if st.setting.manual
        && ui
            .button(if st.has_rules {
                "↺ Back to its rules"
            } else {
                "↺ Back to automatic"
            })
            .clicked()
    {
        out.push(Action::Twin(Command::HandBackStructure(i)));
    }
    // Flow and levels over time.
    let rows = &s.structure_records.rows;
    let series = |f: &dyn Fn(&basin::structures::StructureSample) -> f64| -> Vec<[f64; 2]> {
        rows.iter()
            .filter_map(|(t, v)| v.get(i).map(|x| [*t, f(x)]))
            .collect()
    };
    let flow = series(&|x| x.flow_m3_s);
    let up = series(&|x| x.level_a_m);
    let down = series(&|x| x.level_b_m);
    ui.label(format!("{} — flow (m³/s)", st.name));
    Plot::new("structure_flow")
        .height(110.0)
        .legend(Legend::default())
        .include_x(s.duration_s)
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("flow (m³/s)", flow).color(STRUCTURE_COLOUR));
            p.vline(VLine::new("now", s.sim_time_s).color(Color32::WHITE));
        });
    ui.label("levels (m)");
    Plot::new("structure_levels")
        .height(110.0)
        .legend(Legend::default())
        .include_x(s.duration_s)
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("upstream", up).color(Color32::from_rgb(90, 170, 255)));
            p.line(Line::new("downstream", down).color(Color32::from_rgb(250, 200, 60)));
            p.vline(VLine::new("now", s.sim_time_s).color(Color32::WHITE));
        });
    // The operation log.
    ui.label(RichText::new("Operations (newest first)").strong());
    if s.operations.is_empty() {
        ui.label("No rule has fired yet.");
    }
    egui::ScrollArea::vertical()
        .id_salt("operations")
        .max_height(140.0)
        .show(ui, |ui| {
            for o in s.operations.iter().rev() {
                ui.label(format!(
                    "{}  {}: {} ({})",
                    format_time(o.time_s),
                    o.structure,
                    o.action,
                    o.reason
                ));
            }
        });
}
