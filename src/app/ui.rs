//! The controls: panels as plain functions over the session's state (`*_ui`); the bevy
//! system only fetches the egui context, lays the panels out and passes requests on.

// The panels with a file of their own.
pub mod drainage;
pub mod ensemble;
mod labels;
pub mod structures;
pub mod warnings;

use std::path::PathBuf;

use basin::warnings::{Direction, ThresholdOn};
use bevy::prelude::*;
use bevy::window::PrimaryWindow;
use bevy_egui::{EguiContexts, EguiPlugin, EguiPrimaryContextPass, egui};
use egui::{Align2, Color32, FontId, RichText, pos2, vec2};
use egui_plot::{HLine, Legend, Line, Plot, VLine};
use hydro::{BreachStatus, Edge, EdgeBoundary};

use super::RunState;
use super::camera::{PointerOverUi, ResetView, ViewRect};
use super::input::{ExportRequested, KeyboardOverUi, default_export_folder, default_export_name};
use super::palette::{Layer, Range};
use super::session::{Action, Actions, Live, Session, ViewSettings};
use super::twin::{Command, Snapshot, Speed};
use super::water::WaterShown;

pub(super) fn plugin(app: &mut App) {
    app.add_plugins(EguiPlugin::default())
        .add_systems(Startup, style_for_projectors)
        .add_systems(EguiPrimaryContextPass, (ui, window_title));
}

/// Large, high-contrast text that reads from the back of a room.
fn style_for_projectors(mut contexts: EguiContexts) -> Result {
    let ctx = contexts.ctx_mut()?;
    ctx.set_visuals(egui::Visuals::dark());
    ctx.all_styles_mut(|style| {
        for font in style.text_styles.values_mut() {
            font.size *= 1.2;
        }
        style.spacing.item_spacing = vec2(8.0, 6.0);
        style.spacing.slider_width = 150.0;
    });
    Ok(())
}

fn window_title(
    session: Res<Session>,
    mut window: Query<&mut Window, With<PrimaryWindow>>,
    mut seen: Local<u64>,
) {
    if *seen == session.generation {
        return;
    }
    *seen = session.generation;
    if let Ok(mut w) = window.single_mut() {
        w.title = format!(
            "rivertwin — {} · {}",
            session.basin_name(),
            session.scenario
        );
    }
}

const EXPORT_FOLDER_FIELD: &str = "export folder";
const COMPARE_FOLDER_FIELD: &str = "compare folder";

const SPEEDS: [(Speed, &str); 6] = [
    (Speed::RealTime(1.0), "1× real time"),
    (Speed::RealTime(10.0), "10×"),
    (Speed::RealTime(60.0), "60× (1 min/s)"),
    (Speed::RealTime(300.0), "300× (5 min/s)"),
    (Speed::RealTime(1800.0), "1800× (30 min/s)"),
    (Speed::AsFastAsPossible, "as fast as possible"),
];

/// Live mode's colour: its label, and the last observation on the time bar, the frame
/// slider and the hydrographs.
pub const LIVE_COLOUR: Color32 = Color32::from_rgb(80, 220, 230);

fn speed_label(s: Speed) -> String {
    SPEEDS
        .iter()
        .find(|(v, _)| *v == s)
        .map(|(_, l)| (*l).to_string())
        .unwrap_or_else(|| match s {
            Speed::RealTime(f) => format!("{f}×"),
            Speed::AsFastAsPossible => "as fast as possible".into(),
        })
}

pub fn format_time(t_s: f64) -> String {
    let t = t_s.max(0.0);
    let (h, m, s) = (
        (t / 3600.0).floor(),
        ((t % 3600.0) / 60.0).floor(),
        t % 60.0,
    );
    if h > 0.0 {
        format!("{h:.0} h {m:02.0} min {s:02.0} s")
    } else if m > 0.0 {
        format!("{m:.0} min {s:04.1} s")
    } else {
        format!("{s:.1} s")
    }
}

/// A simulated time as a clock, h:mm:ss (whole seconds, rounded down).
pub fn format_clock(t_s: f64) -> String {
    let t = t_s.max(0.0).floor() as u64;
    format!("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

#[allow(clippy::too_many_arguments)]
fn ui(
    mut contexts: EguiContexts,
    session: Res<Session>,
    live: Res<Live>,
    mut view: ResMut<ViewSettings>,
    mut actions: ResMut<Actions>,
    mut over_ui: ResMut<PointerOverUi>,
    mut keyboard_over_ui: ResMut<KeyboardOverUi>,
    mut reset_view: ResMut<ResetView>,
    mut view_rect: ResMut<ViewRect>,
    mut export: ResMut<ExportRequested>,
    shown: Option<Res<WaterShown>>,
    state: Res<State<RunState>>,
    camera: Query<(&Camera, &GlobalTransform), With<bevy_panorbit_camera::PanOrbitCamera>>,
    time: Res<Time<Real>>,
    mut fps: Local<(f64, f64, u32)>,
) -> Result {
    let ctx = contexts.ctx_mut()?;
    // Frames per second over the last second.
    let now = time.elapsed_secs_f64();
    fps.2 += 1;
    if now - fps.1 >= 1.0 {
        fps.0 = f64::from(fps.2) / (now - fps.1);
        fps.1 = now;
        fps.2 = 0;
    }
    let snap = live.a.as_deref();
    let mut root = egui::Ui::new(
        ctx.clone(),
        "viewport".into(),
        egui::UiBuilder::new()
            .layer_id(egui::LayerId::background())
            .max_rect(ctx.viewport_rect()),
    );
    let running = *state.get() == RunState::Running;
    // Panels take a share of the window, so a small window keeps room for the view.
    let window_w = ctx.viewport_rect().width();
    let mut pending = Vec::new();
    egui::Panel::top("top").show(&mut root, |ui| {
        top_bar_ui(
            ui,
            &session,
            snap,
            running,
            &mut view,
            &mut pending,
            &mut reset_view.0,
        );
    });
    egui::Panel::bottom("status").show(&mut root, |ui| {
        status_ui(ui, &session, snap, live.b.as_deref(), fps.0);
    });
    egui::Panel::left("what_if")
        .default_size((0.2 * window_w).clamp(220.0, 330.0))
        .resizable(true)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                what_if_ui(ui, &session, snap, &mut view, &mut pending);
                ui.separator();
                compare_ui(ui, &session, live.b.as_deref(), &mut view, &mut pending);
                ui.separator();
                super::ensemble::ensemble_ui(ui, &session, &mut view, &mut pending);
            });
        });
    egui::Panel::right("inspect")
        .default_size((0.25 * window_w).clamp(260.0, 420.0))
        .resizable(true)
        .show(&mut root, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                view_ui(ui, &session, snap, &mut view);
                legend_ui(ui, shown.as_deref());
                ui.separator();
                probe_ui(ui, &session, snap, &mut view, &mut pending);
                ui.separator();
                super::drainage::drainage_ui(ui, &session, snap, &mut view);
                ui.separator();
                gauges_ui(ui, &session, snap, &mut view);
                ui.separator();
                super::warnings::warnings_ui(
                    ui,
                    session.basin.as_deref(),
                    snap.map(|s| s.watch.as_ref()),
                );
                if snap.is_some_and(|s| !s.structures.is_empty()) {
                    ui.separator();
                    super::structures::structures_ui(ui, snap, &mut view, &mut pending);
                }
                ui.separator();
                if let Some(folder) = export_ui(ui, &session, &live, &mut view) {
                    export.0 = Some(folder);
                }
            });
        });
    let free = root.available_rect_before_wrap();
    let zoom = ctx.zoom_factor();
    view_rect.0 = Some(Rect::new(
        free.min.x * zoom,
        free.min.y * zoom,
        free.max.x * zoom,
        free.max.y * zoom,
    ));

    if let Ok((cam, cam_tf)) = camera.single() {
        overlay_ui(ctx, free, &session, snap, &view, cam, cam_tf);
    }
    if view.show_help {
        help_ui(ctx, &mut view.show_help);
    }
    if let Some(e) = &session.error {
        let mut open = true;
        egui::Window::new("Problem")
            .open(&mut open)
            .anchor(Align2::CENTER_TOP, [0.0, 80.0])
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                ui.label(RichText::new(e).color(Color32::from_rgb(255, 140, 120)));
                ui.label("Fix the file named above, then open the basin again from the top bar.");
            });
        if !open {
            pending.push(Action::DismissError);
        }
    }
    if session.is_loading() {
        egui::Window::new("Loading")
            .anchor(Align2::CENTER_CENTER, [0.0, 0.0])
            .collapsible(false)
            .title_bar(false)
            .show(ctx, |ui| {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Loading the basin …");
                });
            });
    }
    over_ui.window_or_widget = ctx.is_pointer_over_egui() || ctx.egui_is_using_pointer();
    over_ui.any =
        ctx.pointer_hover_pos().is_some_and(|p| !free.contains(p)) || over_ui.window_or_widget;
    // Keys go to the text fields while one is being typed in, else to the shortcuts. A
    // clicked button keeps no keyboard focus: Space must not press it again.
    let focused = ctx.memory(|m| m.focused());
    let typing = focused.is_some_and(|id| {
        id == egui::Id::new(EXPORT_FOLDER_FIELD) || id == egui::Id::new(COMPARE_FOLDER_FIELD)
    });
    if let Some(id) = focused
        && !typing
    {
        ctx.memory_mut(|m| m.surrender_focus(id));
    }
    keyboard_over_ui.0 = typing;
    for a in pending {
        actions.push(a);
    }
    Ok(())
}

fn top_bar_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&Snapshot>,
    running: bool,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
    reset_view: &mut bool,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("rivertwin").strong().size(20.0));
        let current = session.basin_dir.clone();
        egui::ComboBox::from_id_salt("basin")
            .selected_text(session.basin_name())
            .width(170.0)
            .show_ui(ui, |ui| {
                for dir in &session.basins {
                    let name = dir
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if ui.selectable_label(*dir == current, name).clicked() && *dir != current {
                        out.push(Action::Open {
                            basin: dir.clone(),
                            scenario: None,
                        });
                    }
                }
            });
        egui::ComboBox::from_id_salt("scenario")
            .selected_text(&session.scenario)
            .width(170.0)
            .show_ui(ui, |ui| {
                for name in &session.scenarios {
                    if ui
                        .selectable_label(*name == session.scenario, name)
                        .clicked()
                        && *name != session.scenario
                    {
                        out.push(Action::Open {
                            basin: current.clone(),
                            scenario: Some(name.clone()),
                        });
                    }
                }
            });
        ui.separator();
        let play = if running { "⏸ Pause" } else { "▶ Play" };
        if ui
            .add(egui::Button::new(RichText::new(play).size(18.0)))
            .on_hover_text("Space")
            .clicked()
        {
            out.push(if running { Action::Pause } else { Action::Play });
        }
        if ui
            .button("⏭ Step")
            .on_hover_text("Right arrow: one solver step")
            .clicked()
        {
            out.push(Action::Twin(Command::Step));
        }
        if ui
            .button("⟲ Reset")
            .on_hover_text("Ctrl+Backspace: back to t = 0")
            .clicked()
        {
            out.push(Action::Twin(Command::Reset));
        }
        let observed = session
            .twin
            .as_ref()
            .is_some_and(|t| !t.scenario.observed.is_empty());
        if observed {
            let on = snap.is_some_and(|s| s.live.is_some());
            if ui
                .add(egui::Button::new(RichText::new("📡 Live").size(16.0)).selected(on))
                .on_hover_text(
                    "Follow the observed series as they arrive, then run the forecast ahead of the last observation",
                )
                .clicked()
            {
                out.push(Action::Twin(Command::SetLive(!on)));
            }
        }
        egui::ComboBox::from_id_salt("speed")
            .selected_text(speed_label(view.speed))
            .width(150.0)
            .show_ui(ui, |ui| {
                for (s, label) in SPEEDS {
                    if ui.selectable_label(view.speed == s, label).clicked() {
                        view.speed = s;
                        out.push(Action::Twin(Command::SetSpeed(s)));
                    }
                }
            });
        if ui.button("⌖ Reset view").on_hover_text("R").clicked() {
            *reset_view = true;
        }
        if ui.button("? Help").on_hover_text("F1").clicked() {
            view.show_help = !view.show_help;
        }
        if let Some(s) = snap {
            ui.separator();
            // A clock (h:mm:ss), short enough for the bar of a 1280-pixel projector; the
            // status bar gives the time to a tenth of a second. Not broken across lines.
            ui.add(
                egui::Label::new(
                    RichText::new(format!(
                        "t = {} / {}",
                        format_clock(s.sim_time_s),
                        format_clock(s.duration_s)
                    ))
                    .strong()
                    .size(18.0),
                )
                .extend(),
            )
            .on_hover_text(format!(
                "simulated time {} of {}",
                format_time(s.sim_time_s),
                format_time(s.duration_s)
            ));
            let f = (s.sim_time_s / s.duration_s.max(1e-9)) as f32;
            let bar = ui.add(egui::ProgressBar::new(f).desired_width(120.0));
            if let Some(l) = &s.live {
                // The last observation as a mark on the bar, and what live mode does now.
                if let Some(t) = l.last_observation_s {
                    let k = (t / s.duration_s.max(1e-9)).clamp(0.0, 1.0) as f32;
                    let x = bar.rect.left() + k * bar.rect.width();
                    ui.painter().line_segment(
                        [pos2(x, bar.rect.top() - 3.0), pos2(x, bar.rect.bottom() + 3.0)],
                        egui::Stroke::new(3.0, LIVE_COLOUR),
                    );
                }
                let text = match (l.following_to_s, l.last_observation_s) {
                    (Some(t), _) => format!("LIVE · following observations to {}", format_time(t)),
                    (None, Some(t)) => format!(
                        "LIVE · observed to {} · forecast +{}",
                        format_time(t),
                        format_time((s.sim_time_s - t).max(0.0))
                    ),
                    (None, None) => "LIVE · waiting for observations".into(),
                };
                ui.label(RichText::new(text).strong().size(16.0).color(LIVE_COLOUR));
                if let Some(p) = &l.problem {
                    ui.label(RichText::new("⚠").color(Color32::from_rgb(255, 200, 120)))
                        .on_hover_text(p);
                }
            }
        }
    });
}

fn status_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&Snapshot>,
    b: Option<&Snapshot>,
    fps: f64,
) {
    ui.horizontal_wrapped(|ui| {
        let Some(s) = snap else {
            ui.label(if session.is_loading() {
                "loading …"
            } else {
                "no basin open"
            });
            return;
        };
        let state = if s.running {
            "running"
        } else if s.finished {
            "finished"
        } else {
            "paused"
        };
        ui.label(RichText::new(state).strong());
        ui.separator();
        ui.label(format!("sim time {}", format_time(s.sim_time_s)));
        ui.separator();
        // Nothing measured yet (never run, or run for less than the rate window): a dash,
        // not a speed of zero.
        if s.real_time_factor > 0.0 {
            ui.label(format!("real-time factor {:.1}×", s.real_time_factor));
            ui.separator();
            ui.label(format!(
                "{:.1} M cell-updates/s",
                s.cell_updates_per_s / 1e6
            ));
        } else {
            ui.label("real-time factor –")
                .on_hover_text("not measured yet: the run has not run long enough");
            ui.separator();
            ui.label("– cell-updates/s");
        }
        ui.separator();
        ui.label(format!("wet cells {}", s.wet_cells));
        ui.separator();
        ui.label(format!("volume {:.0} m³", s.balance.storage_m3));
        ui.separator();
        ui.label(format!("balance error {:.1e}", s.balance.relative_error()));
        ui.separator();
        ui.label(format!("{fps:.1} frames/s"));
        if let Some(b) = b {
            ui.separator();
            ui.label(format!("B at {}", format_time(b.sim_time_s)));
        }
        if let Some(e) = &s.error {
            ui.separator();
            ui.label(RichText::new(e).color(Color32::from_rgb(255, 120, 100)));
        } else if let Some(n) = &s.notice {
            ui.separator();
            ui.label(RichText::new(n).color(Color32::from_rgb(255, 200, 120)));
        }
    });
}

fn what_if_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&Snapshot>,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
) {
    ui.heading("What if");
    let scenario = session.twin.as_ref().map(|t| &t.scenario);
    let hyetograph = scenario.is_some_and(|s| s.rain_mm_per_h.is_some());
    let frames = scenario
        .and_then(|s| s.rain_frames.as_ref())
        .map_or(0, |f| f.len());
    ui.label(match (hyetograph, frames) {
        (_, n) if n > 0 => {
            format!("Rain: the scenario's {n} rain frames, or a constant intensity in their place:")
        }
        (true, _) => "Rain: the scenario's hyetograph, or a constant intensity:".to_string(),
        _ => "Rain (the scenario has none):".to_string(),
    });
    let mut changed = ui
        .checkbox(&mut view.rain_override, "constant rain")
        .changed();
    changed |= ui
        .add_enabled(
            view.rain_override,
            egui::Slider::new(&mut view.rain_mm_per_h, 0.0..=300.0).suffix(" mm/h"),
        )
        .changed();
    if changed {
        out.push(Action::Twin(Command::SetRain(
            view.rain_override.then_some(view.rain_mm_per_h),
        )));
    }
    if ui
        .add(
            egui::Slider::new(&mut view.inflow_scale, 0.0..=5.0)
                .text("inflow ×")
                .step_by(0.05),
        )
        .on_hover_text("Multiplies every inflow hydrograph and point source")
        .changed()
    {
        out.push(Action::Twin(Command::SetInflowScale(view.inflow_scale)));
    }
    if ui
        .add(
            egui::Slider::new(&mut view.manning_scale, 0.25..=4.0)
                .logarithmic(true)
                .text("Manning n ×"),
        )
        .on_hover_text("Multiplies the roughness of every cell")
        .changed()
    {
        out.push(Action::Twin(Command::SetManningScale(view.manning_scale)));
    }
    ui.add_space(6.0);
    ui.label(RichText::new("Breaches").strong());
    if let (Some(twin), Some(s)) = (&session.twin, snap) {
        let presets = twin.scenario.breaches.len();
        for (i, status) in s.breaches.iter().enumerate() {
            ui.horizontal(|ui| {
                let name = if i < presets {
                    format!("breach {} (scenario)", i + 1)
                } else {
                    format!("breach {} (drawn)", i + 1)
                };
                ui.label(name);
                match status {
                    BreachStatus::Waiting => {
                        if ui.button("Trigger now").clicked() {
                            out.push(Action::Twin(Command::TriggerBreach(i)));
                        }
                    }
                    BreachStatus::Forming { fraction, .. } => {
                        ui.label(format!("forming {:.0} %", fraction * 100.0));
                    }
                    BreachStatus::Complete { started_s } => {
                        ui.label(format!("open since {}", format_time(*started_s)));
                    }
                }
            });
        }
        if s.breaches.is_empty() {
            ui.label("The scenario has no breach; draw one:");
        }
    }
    ui.add(
        egui::Slider::new(&mut view.breach_depth_m, 0.5..=30.0)
            .text("cut depth")
            .suffix(" m"),
    );
    ui.add(
        egui::Slider::new(&mut view.breach_formation_s, 0.0..=3600.0)
            .text("forms in")
            .suffix(" s"),
    );
    let label = if view.draw_breach {
        match view.breach_points.len() {
            0 => "Click the first end on the terrain … (Esc cancels)",
            _ => "Click the second end … (Esc cancels)",
        }
    } else {
        "✏ Draw a breach (two clicks)"
    };
    if ui
        .add(egui::Button::new(label).selected(view.draw_breach))
        .clicked()
    {
        view.draw_breach = !view.draw_breach;
        view.breach_points.clear();
    }
    if let Some(s) = snap
        && !s.log.is_empty()
    {
        ui.collapsing(format!("Steering log ({})", s.log.len()), |ui| {
            for e in s.log.iter().rev().take(12) {
                ui.label(format!("{}: {}", format_time(e.sim_time_s), e.change));
            }
        });
    }
}

fn compare_ui(
    ui: &mut egui::Ui,
    session: &Session,
    b: Option<&Snapshot>,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
) {
    ui.heading("Compare A / B");
    ui.label(format!("A: {}", session.scenario));
    ui.horizontal(|ui| {
        ui.label("B:");
        egui::ComboBox::from_id_salt("compare")
            .selected_text(if view.compare_scenario.is_empty() {
                "choose …".to_string()
            } else {
                view.compare_scenario.clone()
            })
            .show_ui(ui, |ui| {
                for name in &session.scenarios {
                    ui.selectable_value(&mut view.compare_scenario, name.clone(), name);
                }
            });
    });
    ui.horizontal(|ui| {
        let can = !view.compare_scenario.is_empty() && session.twin.is_some();
        if ui
            .add_enabled(can, egui::Button::new("Run B"))
            .on_hover_text("Run B beside A, as fast as the machine allows")
            .clicked()
        {
            out.push(Action::Compare(view.compare_scenario.clone()));
            view.layer = Layer::Difference;
        }
        if session.compare_label.is_some() && ui.button("Close B").clicked() {
            out.push(Action::ClearCompare);
        }
    });
    ui.label("or load the results of a run (a `rivertwin run` or export folder):");
    ui.horizontal(|ui| {
        ui.add(
            egui::TextEdit::singleline(&mut view.compare_folder)
                .id(egui::Id::new(COMPARE_FOLDER_FIELD))
                .hint_text("out/run1")
                .desired_width(170.0),
        );
        let can = !view.compare_folder.trim().is_empty() && session.basin.is_some();
        if ui.add_enabled(can, egui::Button::new("Load B")).clicked() {
            out.push(Action::CompareResults(PathBuf::from(
                view.compare_folder.trim(),
            )));
        }
    });
    if session.comparing() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("setting up B …");
        });
    }
    let Some(label) = &session.compare_label else {
        return;
    };
    ui.label(RichText::new(format!("B: {label}")).strong());
    match (&session.compare, b) {
        (Some(_), Some(b)) => {
            ui.label(format!(
                "B runs as fast as it can: {} of {}",
                format_time(b.sim_time_s),
                format_time(b.duration_s)
            ));
            ui.label(
                "\"Difference A − B\" shows A's depth minus B's at the same time, or of their maxima.",
            );
        }
        (None, Some(b)) => {
            ui.label(format!(
                "B ended at {}; loaded results have no stored frames, so compare the maxima (M).",
                format_time(b.sim_time_s)
            ));
        }
        _ => {}
    }
}

fn view_ui(ui: &mut egui::Ui, session: &Session, snap: Option<&Snapshot>, view: &mut ViewSettings) {
    ui.heading("View");
    ui.horizontal_wrapped(|ui| {
        for (i, layer) in Layer::ALL.into_iter().enumerate() {
            let enabled = layer != Layer::Difference || session.compare_label.is_some();
            let r = ui.add_enabled(
                enabled,
                egui::Button::new(layer.label()).selected(view.layer == layer),
            );
            if r.on_hover_text(format!("key {}", i + 1)).clicked() {
                view.layer = layer;
            }
        }
    });
    ui.add(
        egui::Slider::new(&mut view.exaggeration, 1.0..=20.0)
            .text("vertical ×")
            .step_by(0.5),
    );
    ui.add(
        egui::Slider::new(&mut view.threshold_m, 0.001..=0.5)
            .logarithmic(true)
            .text("hide water below")
            .suffix(" m"),
    );
    ui.checkbox(&mut view.show_max, "maximum so far (M)");
    if let Some(s) = snap {
        let frames = s.history.len();
        if frames > 1 {
            let mut live = view.scrub.is_none();
            let mut index = view
                .scrub
                .and_then(|t| s.frame_index_at(t))
                .unwrap_or(frames - 1);
            ui.horizontal(|ui| {
                if ui.checkbox(&mut live, "live").changed() {
                    view.scrub = (!live).then(|| s.history[index].sim_time_s);
                }
                let t = s.history[index].sim_time_s;
                let r = ui.add_enabled(
                    !live,
                    egui::Slider::new(&mut index, 0..=frames - 1)
                        .show_value(false)
                        .text(format!("stored frame at {}", format_time(t))),
                );
                if r.changed() {
                    view.scrub = Some(s.history[index].sim_time_s);
                }
                // Each upward crossing as a tick under the slider, at its stored frame.
                let span = (frames - 1) as f32;
                if let Some(t) = s.live.as_ref().and_then(|l| l.last_observation_s) {
                    let k = s.frame_index_at(t).unwrap_or(0) as f32 / span;
                    let x = r.rect.left() + k * ui.spacing().slider_width;
                    ui.painter().line_segment(
                        [pos2(x, r.rect.top()), pos2(x, r.rect.bottom() + 2.0)],
                        egui::Stroke::new(2.0, LIVE_COLOUR),
                    );
                }
                for w in s
                    .watch
                    .events
                    .iter()
                    .filter(|w| w.direction == Direction::Up)
                {
                    let k = s.frame_index_at(w.time_s).unwrap_or(0) as f32 / span;
                    let x = r.rect.left() + k * ui.spacing().slider_width;
                    let y = r.rect.bottom();
                    ui.painter().line_segment(
                        [pos2(x, y - 4.0), pos2(x, y + 2.0)],
                        egui::Stroke::new(2.0, super::warnings::severity_colour(w.severity)),
                    );
                }
            });
        }
    }
}

fn legend_ui(ui: &mut egui::Ui, shown: Option<&WaterShown>) {
    let Some(shown) = shown else { return };
    // The soil layer's quantity and unit depend on the loss model: its source names both.
    let title = if shown.layer == Layer::Soil {
        format!("{} — {}", shown.layer.label(), shown.source)
    } else {
        format!(
            "{} ({}) — {}",
            shown.layer.label(),
            shown.layer.unit(),
            shown.source
        )
    };
    ui.label(RichText::new(title).strong());
    legend_bar_ui(ui, shown.layer, shown.range);
}

/// The colour scale with its values and unit, from the same table as the shader.
pub fn legend_bar_ui(ui: &mut egui::Ui, layer: Layer, range: Range) {
    let width = ui.available_width().min(340.0);
    let (rect, _) = ui.allocate_exact_size(vec2(width, 22.0), egui::Sense::hover());
    let painter = ui.painter();
    let n = 64;
    for i in 0..n {
        let t0 = i as f32 / n as f32;
        let [r, g, b] = layer.colour(t0 + 0.5 / n as f32);
        let x0 = rect.left() + t0 * rect.width();
        let x1 = rect.left() + (i + 1) as f32 / n as f32 * rect.width();
        painter.rect_filled(
            egui::Rect::from_min_max(pos2(x0, rect.top()), pos2(x1 + 0.5, rect.bottom())),
            0.0,
            Color32::from_rgb(r, g, b),
        );
    }
    if layer.is_classes() {
        let (rect, _) = ui.allocate_exact_size(vec2(width, 18.0), egui::Sense::hover());
        for k in 0..6 {
            let x = rect.left() + (k as f32 + 0.5) / 6.0 * rect.width();
            ui.painter().text(
                pos2(x, rect.center().y),
                Align2::CENTER_CENTER,
                format!("H{}", k + 1),
                FontId::proportional(15.0),
                Color32::WHITE,
            );
        }
    } else {
        let (rect, _) = ui.allocate_exact_size(vec2(width, 18.0), egui::Sense::hover());
        for k in 0..=4 {
            let f = k as f32 / 4.0;
            let v = range.min + f * (range.max - range.min);
            let align = match k {
                0 => Align2::LEFT_CENTER,
                4 => Align2::RIGHT_CENTER,
                _ => Align2::CENTER_CENTER,
            };
            ui.painter().text(
                pos2(rect.left() + f * rect.width(), rect.center().y),
                align,
                legend_number(v, range.max.abs().max(range.min.abs())),
                FontId::proportional(15.0),
                Color32::WHITE,
            );
        }
        if layer != Layer::Soil {
            ui.label(format!("unit: {}", layer.unit()));
        }
    }
}

/// A legend label with enough decimals to tell the quarter marks of `span` apart.
pub fn legend_number(v: f32, span: f32) -> String {
    let decimals = if span > 0.0 {
        (2.0 - span.log10().floor()).clamp(0.0, 4.0) as usize
    } else {
        2
    };
    format!("{v:.decimals$}")
}

fn probe_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&Snapshot>,
    view: &mut ViewSettings,
    out: &mut Vec<Action>,
) {
    ui.heading("Probe");
    let (Some(s), Some(basin)) = (snap, session.basin.as_ref()) else {
        return;
    };
    let Some(((r, c), series)) = &s.probe else {
        ui.label("Click the terrain to see depth, level and speed there over time.");
        return;
    };
    let (x, y) = basin.grid().centre(*r, *c);
    let d = s.depth_m[(*r, *c)];
    ui.label(format!("cell row {r}, column {c}  (x {x:.1}, y {y:.1})"));
    ui.label(
        RichText::new(format!(
            "depth {:.3} m   level {:.2} m   speed {:.2} m/s",
            d,
            f64::from(s.bed_m[(*r, *c)]) + f64::from(d),
            s.speed_m_s[(*r, *c)]
        ))
        .strong(),
    );
    let t_now = view
        .scrub
        .and_then(|t| s.frame_at(t))
        .map_or(s.sim_time_s, |f| f.sim_time_s);
    let depth: Vec<[f64; 2]> = series.iter().map(|p| [p[0], p[1]]).collect();
    let speed: Vec<[f64; 2]> = series.iter().map(|p| [p[0], p[3]]).collect();
    Plot::new("probe_plot")
        .height(150.0)
        .include_y(0.0)
        .include_y(0.1)
        .legend(Legend::default().text_style(egui::TextStyle::Small))
        .x_axis_label("time (s)")
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("depth (m)", depth).color(Color32::from_rgb(90, 170, 255)));
            p.line(Line::new("speed (m/s)", speed).color(Color32::from_rgb(250, 200, 60)));
            p.vline(VLine::new("now", t_now).color(Color32::WHITE));
            if let Some(t) = s.live.as_ref().and_then(|l| l.last_observation_s) {
                p.vline(
                    VLine::new("last observation", t)
                        .color(LIVE_COLOUR)
                        .width(2.0),
                );
            }
        });
    if ui.button("Clear probe").clicked() {
        view.probe = None;
        out.push(Action::Twin(Command::SetProbe(None)));
    }
}

fn gauges_ui(
    ui: &mut egui::Ui,
    session: &Session,
    snap: Option<&Snapshot>,
    view: &mut ViewSettings,
) {
    ui.heading("Gauges");
    let (Some(s), Some(basin)) = (snap, session.basin.as_ref()) else {
        return;
    };
    if basin.gauges.is_empty() {
        ui.label("This basin has no gauges.");
        return;
    }
    view.gauge = view.gauge.min(basin.gauges.len() - 1);
    egui::ComboBox::from_id_salt("gauge")
        .selected_text(&basin.gauges[view.gauge].name)
        .show_ui(ui, |ui| {
            for (i, g) in basin.gauges.iter().enumerate() {
                ui.selectable_value(&mut view.gauge, i, &g.name);
            }
        });
    let g = view.gauge;
    let depth: Vec<[f64; 2]> = s
        .gauges
        .rows
        .iter()
        .filter_map(|(t, v)| v.get(g).map(|x| [*t, x.depth_m]))
        .collect();
    let speed: Vec<[f64; 2]> = s
        .gauges
        .rows
        .iter()
        .filter_map(|(t, v)| v.get(g).map(|x| [*t, x.speed_m_s]))
        .collect();
    let t_now = view
        .scrub
        .and_then(|t| s.frame_at(t))
        .map_or(s.sim_time_s, |f| f.sim_time_s);
    Plot::new("gauge_plot")
        .height(180.0)
        // Small: at the default size the five entries covered most of the plot.
        .legend(Legend::default().text_style(egui::TextStyle::Small))
        .x_axis_label("time (s)")
        .include_x(s.duration_s)
        .include_y(0.0)
        .include_y(0.1)
        .allow_scroll(false)
        .show(ui, |p| {
            p.line(Line::new("depth (m)", depth).color(Color32::from_rgb(90, 170, 255)));
            p.line(Line::new("speed (m/s)", speed).color(Color32::from_rgb(250, 200, 60)));
            p.vline(VLine::new("now", t_now).color(Color32::WHITE));
            if let Some(t) = s.live.as_ref().and_then(|l| l.last_observation_s) {
                p.vline(
                    VLine::new("last observation", t)
                        .color(LIVE_COLOUR)
                        .width(2.0),
                );
            }
            // Thresholds as depths at this gauge, and each crossing where it happened.
            let gauge = &basin.gauges[g];
            let ground = basin.bed_m.at((gauge.row, gauge.col));
            for th in &gauge.thresholds {
                let depth = match th.on {
                    ThresholdOn::LevelM(level) => level - ground,
                    ThresholdOn::DepthM(d) => d,
                };
                let colour = super::warnings::severity_colour(th.severity);
                p.hline(HLine::new(th.name.as_str(), depth).color(colour.gamma_multiply(0.7)));
            }
            for w in super::warnings::gauge_crossings(&s.watch, &gauge.name) {
                let colour = super::warnings::severity_colour(w.severity);
                p.vline(
                    // Unnamed: the legend lists the thresholds, not every crossing.
                    VLine::new("", w.time_s)
                        .color(colour)
                        .style(egui_plot::LineStyle::dashed_dense()),
                );
            }
        });
}

fn export_ui(
    ui: &mut egui::Ui,
    session: &Session,
    live: &Live,
    view: &mut ViewSettings,
) -> Option<PathBuf> {
    ui.heading("Export snapshot");
    let hint = format!("exports/{}", default_export_name(session, live));
    ui.add(
        egui::TextEdit::singleline(&mut view.export_folder)
            .id(egui::Id::new(EXPORT_FOLDER_FIELD))
            .hint_text(hint)
            .desired_width(300.0),
    );
    let mut chosen = None;
    let enabled = session.twin.is_some() && !session.export_pending();
    if ui
        .add_enabled(enabled, egui::Button::new("💾 Export (Ctrl+S)"))
        .on_hover_text("view.png, the result GeoTIFFs, gauges.csv, summary.json and snapshot.json")
        .clicked()
    {
        chosen = Some(if view.export_folder.trim().is_empty() {
            default_export_folder(session, live)
        } else {
            PathBuf::from(view.export_folder.trim())
        });
    }
    match &session.last_export {
        Some(Ok(r)) => {
            ui.label(format!(
                "Written to {} ({} files)",
                r.folder.display(),
                r.files.len()
            ));
        }
        Some(Err(e)) => {
            ui.label(RichText::new(e).color(Color32::from_rgb(255, 120, 100)));
        }
        None => {}
    }
    chosen
}

fn help_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keys and mouse")
        .open(open)
        .anchor(Align2::CENTER_CENTER, [0.0, 0.0])
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            egui::Grid::new("keys").striped(true).show(ui, |ui| {
                for (k, what) in [
                    ("Space", "play / pause"),
                    ("Right arrow", "one solver step"),
                    ("Ctrl+Backspace", "reset to t = 0"),
                    ("R", "reset the view"),
                    ("1 … 5", "layer: depth, speed, hazard, arrival, difference"),
                    ("M", "maximum so far on / off"),
                    ("Ctrl+S", "export a snapshot bundle"),
                    ("Esc", "cancel drawing a breach, close this help"),
                    ("F1", "this help"),
                    ("left drag", "orbit"),
                    ("right drag", "pan"),
                    ("wheel", "zoom"),
                    ("left click", "probe the terrain (or place a breach end)"),
                ] {
                    ui.label(RichText::new(k).strong());
                    ui.label(what);
                    ui.end_row();
                }
            });
        });
}

/// A breach's label, beside its end, in the layout with the others.
fn breach_tag(
    painter: &egui::Painter,
    end: egui::Pos2,
    text: String,
    font: &FontId,
) -> labels::Tag {
    let (fill, colour) = (
        Color32::from_black_alpha(120),
        Color32::from_rgb(255, 90, 90),
    );
    labels::Tag::new(painter, end, text, font.clone(), fill, colour).aligned(Align2::LEFT_BOTTOM)
}

/// Labels and lines over the 3D view: gauges, boundary segments, breaches, the probe.
fn overlay_ui(
    ctx: &egui::Context,
    free: egui::Rect,
    session: &Session,
    snap: Option<&Snapshot>,
    view: &ViewSettings,
    cam: &Camera,
    cam_tf: &GlobalTransform,
) {
    let (Some(basin), Some(grid), Some(twin)) = (
        session.basin.as_ref(),
        session.grid.as_ref(),
        session.twin.as_ref(),
    ) else {
        return;
    };
    let mut grid = grid.clone();
    grid.exaggeration = view.exaggeration;
    let zoom = ctx.zoom_factor();
    let bed = |r: usize, c: usize| -> f64 {
        snap.map_or(basin.bed_m.at((r, c)), |s| f64::from(s.bed_m[(r, c)]))
    };
    let to_screen = |r: usize, c: usize, lift: f32| -> Option<egui::Pos2> {
        let [x, y, z] = grid.world_from_cell(r as f64, c as f64, bed(r, c));
        cam.world_to_viewport(cam_tf, Vec3::new(x, y + lift, z))
            .ok()
            .map(|p| pos2(p.x / zoom, p.y / zoom))
    };
    let painter = ctx
        .layer_painter(egui::LayerId::new(
            // Under the egui windows (help, problems), over the 3D view.
            egui::Order::Background,
            egui::Id::new("overlay"),
        ))
        .with_clip_rect(free);
    let font = FontId::proportional(15.0);
    let pole = super::markers::pole_height_m(grid.width_m(), grid.height_m());
    // Streams and catchments first: under every label.
    super::drainage::drainage_overlay(&painter, session, view, &grid, &|[x, y, z]| {
        cam.world_to_viewport(cam_tf, Vec3::new(x, y, z))
            .ok()
            .map(|p| pos2(p.x / zoom, p.y / zoom))
    });
    // Gauges, watched places, structures, boundary segments and breaches are labelled on
    // boxes laid out together (`labels::draw_tags`, below), so that a place watched beside
    // a gauge does not hide its reading: the gauges first (they keep their places), then
    // the others in that order.
    let mut tags: Vec<labels::Tag> = Vec::new();
    for (i, g) in basin.gauges.iter().enumerate() {
        if let Some(p) = to_screen(g.row, g.col, pole * 1.15) {
            let text = match snap {
                Some(s) => format!("{} {:.2} m", g.name, s.depth_m[(g.row, g.col)]),
                None => g.name.clone(),
            };
            // A gauge over one of its thresholds wears that severity's colour.
            let alarm = snap.and_then(|s| super::warnings::gauge_alarm(basin, &s.watch, i));
            let (fill, colour) = match alarm {
                Some(sev) => (super::warnings::severity_colour(sev), Color32::BLACK),
                None => (Color32::from_black_alpha(120), Color32::WHITE),
            };
            tags.push(labels::Tag::new(
                &painter,
                p,
                text,
                font.clone(),
                fill,
                colour,
            ));
        }
    }
    // Watch areas: a label at the middle cell, coloured while the rule holds.
    for (a, area) in basin.watch_areas.iter().enumerate() {
        let Some(&(r, c)) = area.cells.get(area.cells.len() / 2) else {
            continue;
        };
        if let Some(p) = to_screen(r, c, pole * 0.6) {
            let alarm = snap.and_then(|s| super::warnings::area_alarm(basin, &s.watch, a));
            let (fill, colour) = match alarm {
                Some(sev) => (super::warnings::severity_colour(sev), Color32::BLACK),
                None => (Color32::from_black_alpha(90), Color32::from_gray(220)),
            };
            let small = FontId::proportional(13.0);
            tags.push(labels::Tag::new(
                &painter,
                p,
                area.name.clone(),
                small,
                fill,
                colour,
            ));
        }
    }
    // Structures: a line along a weir's or gate's cells, a line between a culvert's,
    // pump's or release's ends, and a label with the flow now.
    for (i, st) in twin.scenario.structures.iter().enumerate() {
        let cells = st.cells();
        let points: Vec<egui::Pos2> = cells
            .iter()
            .filter_map(|&(r, c)| to_screen(r, c, pole * 0.15))
            .collect();
        let stroke = egui::Stroke::new(4.0, super::structures::STRUCTURE_COLOUR);
        if points.len() >= 2 {
            painter.add(egui::Shape::line(points.clone(), stroke));
        }
        let (r, c) = cells[cells.len() / 2];
        if let Some(p) = to_screen(r, c, 0.0) {
            let flow = snap
                .and_then(|s| s.structures.get(i))
                .map_or(String::new(), |s| format!(" {:.1} m³/s", s.flow.flow_m3_s));
            let text = format!("{}{flow}", st.name());
            let small = FontId::proportional(14.0);
            let fill = super::structures::STRUCTURE_COLOUR;
            tags.push(labels::Tag::new(
                &painter,
                p,
                text,
                small,
                fill,
                Color32::BLACK,
            ));
        }
    }
    let (rows, cols) = (grid.rows, grid.cols);
    for seg in twin.scenario.boundaries.segments() {
        let (colour, name) = match &seg.condition {
            EdgeBoundary::Wall => continue,
            EdgeBoundary::Inflow { .. }
            | EdgeBoundary::UnitDischarge { .. }
            | EdgeBoundary::SupercriticalInflow { .. } => {
                (Color32::from_rgb(80, 220, 255), "inflow")
            }
            EdgeBoundary::Stage { .. } | EdgeBoundary::FixedDepth { .. } => {
                (Color32::from_rgb(120, 160, 255), "stage")
            }
            EdgeBoundary::FreeOutflow => (Color32::from_rgb(255, 210, 80), "free outflow"),
            EdgeBoundary::NormalDepth { .. } => (Color32::from_rgb(255, 170, 60), "normal depth"),
        };
        let cell = |i: usize| match seg.edge {
            Edge::North => (0, i.min(cols - 1)),
            Edge::South => (rows - 1, i.min(cols - 1)),
            Edge::West => (i.min(rows - 1), 0),
            Edge::East => (i.min(rows - 1), cols - 1),
        };
        // `last` is usize::MAX for "to the end of the edge".
        let edge_len = match seg.edge {
            Edge::North | Edge::South => cols,
            Edge::West | Edge::East => rows,
        };
        let last = seg.last.min(edge_len - 1);
        let n = last.saturating_sub(seg.first).max(1);
        let steps = n.min(40);
        // Runs of active cells along the segment (nodata cells on the edge break it).
        let mut runs: Vec<Vec<egui::Pos2>> = vec![Vec::new()];
        for k in 0..=steps {
            let (r, c) = cell(seg.first + k * n / steps);
            match to_screen(r, c, 0.5).filter(|_| basin.active[(r, c)]) {
                Some(p) => runs.last_mut().expect("one run").push(p),
                None => runs.push(Vec::new()),
            }
        }
        let longest = runs
            .iter()
            .max_by_key(|r| r.len())
            .cloned()
            .unwrap_or_default();
        for run in runs.into_iter().filter(|r| r.len() >= 2) {
            painter.add(egui::Shape::line(run, egui::Stroke::new(4.0, colour)));
        }
        if longest.len() >= 2 {
            // Laid out with the other labels, last (a gauge at the outlet keeps its
            // place), on a dark box so that it reads over light terrain.
            let mid = longest[longest.len() / 2];
            let fill = Color32::from_black_alpha(120);
            tags.push(labels::Tag::new(
                &painter,
                mid,
                name.to_string(),
                font.clone(),
                fill,
                colour,
            ));
        }
    }
    let breach_lines = twin.scenario.breaches.iter().map(|b| b.cells.clone());
    for (i, cells) in breach_lines.enumerate() {
        let pts: Vec<egui::Pos2> = cells
            .iter()
            .filter_map(|&(r, c)| to_screen(r, c, 0.5))
            .collect();
        if let (Some(first), Some(last)) = (pts.first(), pts.last()) {
            painter.line_segment(
                [*first, *last],
                egui::Stroke::new(5.0, Color32::from_rgb(230, 40, 40)),
            );
            tags.push(breach_tag(
                &painter,
                *last,
                format!("breach {}", i + 1),
                &font,
            ));
        }
    }
    if let Some(s) = snap {
        for (k, b) in s.drawn_breaches.iter().enumerate() {
            let ends: Vec<egui::Pos2> = b
                .line
                .iter()
                .filter_map(|p| basin.grid().cell_of(p[0], p[1]))
                .filter_map(|(r, c)| to_screen(r, c, 0.5))
                .collect();
            if let [a, z] = ends[..] {
                painter.line_segment(
                    [a, z],
                    egui::Stroke::new(5.0, Color32::from_rgb(230, 40, 40)),
                );
                let n = twin.scenario.breaches.len() + k + 1;
                tags.push(breach_tag(
                    &painter,
                    z,
                    format!("breach {n} (drawn)"),
                    &font,
                ));
            }
        }
    }
    labels::draw_tags(&painter, &tags, free);
    for p in &view.breach_points {
        if let Some(cell) = basin.grid().cell_of(p[0], p[1])
            && let Some(s) = to_screen(cell.0, cell.1, 0.5)
        {
            painter.circle_filled(s, 7.0, Color32::from_rgb(230, 40, 40));
        }
    }
    if let Some((r, c)) = view.probe
        && let Some(s) = to_screen(r, c, 0.3)
    {
        painter.circle_stroke(
            s,
            9.0,
            egui::Stroke::new(3.0, Color32::from_rgb(255, 255, 255)),
        );
        painter.circle_filled(s, 3.0, Color32::from_rgb(255, 60, 200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legend_numbers_keep_the_quarter_marks_apart() {
        assert_eq!(legend_number(0.0025, 0.01), "0.0025");
        assert_eq!(legend_number(0.5, 2.0), "0.50");
        assert_eq!(legend_number(7.5, 10.0), "7.5");
        assert_eq!(legend_number(250.0, 1000.0), "250");
        assert_eq!(legend_number(-0.25, 1.0), "-0.25");
    }

    #[test]
    fn times_read_as_hours_minutes_seconds() {
        assert_eq!(format_time(42.25), "42.2 s");
        assert_eq!(format_time(125.0), "2 min 05.0 s");
        assert_eq!(format_time(3.0 * 3600.0 + 61.0), "3 h 01 min 01 s");
    }

    #[test]
    fn clock_times_read_as_hours_minutes_seconds() {
        assert_eq!(format_clock(0.0), "0:00:00");
        assert_eq!(format_clock(419.99), "0:06:59");
        assert_eq!(format_clock(1000.0), "0:16:40");
        assert_eq!(format_clock(4.0 * 3600.0), "4:00:00");
        assert_eq!(format_clock(30.0 * 3600.0 + 61.5), "30:01:01");
        assert_eq!(format_clock(-3.0), "0:00:00");
    }
}
