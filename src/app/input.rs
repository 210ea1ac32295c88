//! Keys, clicks on the terrain (probe, drawing a breach) and the export action with its
//! screenshot.

use std::io::Cursor;
use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;
use bevy_panorbit_camera::PanOrbitCamera;

use super::TwinSet;
use super::camera::{CanScreenshot, PointerOverUi, ResetView, ViewRect};
use super::session::{Action, Actions, Live, Session, ViewSettings};
use super::twin::{Command, DrawnBreach};
use super::view_grid::ViewGrid;

/// An export asked for; the view captures the window first when it can.
#[derive(Resource, Default, Debug)]
pub struct ExportRequested(pub Option<PathBuf>);

/// Set by the UI when egui has the keyboard (typing in a field).
#[derive(Resource, Default, Debug)]
pub struct KeyboardOverUi(pub bool);

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<ExportRequested>()
        .init_resource::<KeyboardOverUi>()
        .add_systems(
            Update,
            (shortcuts, click_terrain, request_export)
                .chain()
                .before(TwinSet::ApplyInputs),
        );
}

/// Where a snapshot goes when no folder was typed: `exports/<basin>_<scenario>_<t>s`.
pub fn default_export_folder(session: &Session, live: &Live) -> PathBuf {
    let base = default_export_name(session, live);
    let mut folder = PathBuf::from("exports").join(&base);
    let mut k = 2;
    while folder.exists() {
        folder = PathBuf::from("exports").join(format!("{base}_{k}"));
        k += 1;
    }
    folder
}

/// `<basin>_<scenario>_<t>s`, without looking at the disk (the UI shows it every frame).
pub fn default_export_name(session: &Session, live: &Live) -> String {
    let t = live.a.as_ref().map_or(0.0, |s| s.sim_time_s);
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!(
        "{}_{}_{:.0}s",
        clean(session.basin_name()),
        clean(&session.scenario),
        t
    )
}

#[allow(clippy::too_many_arguments)]
fn shortcuts(
    keys: Res<ButtonInput<KeyCode>>,
    keyboard_over_ui: Res<KeyboardOverUi>,
    mut actions: ResMut<Actions>,
    mut view: ResMut<ViewSettings>,
    mut reset: ResMut<ResetView>,
    mut export: ResMut<ExportRequested>,
    session: Res<Session>,
    live: Res<Live>,
) {
    if keyboard_over_ui.0 {
        return;
    }
    // At a low frame rate (software rendering) Ctrl may go down and up within one frame.
    let ctrl_keys = [KeyCode::ControlLeft, KeyCode::ControlRight];
    let ctrl = keys.any_pressed(ctrl_keys)
        || keys.any_just_pressed(ctrl_keys)
        || keys.any_just_released(ctrl_keys);
    if keys.just_pressed(KeyCode::Space) {
        actions.push(Action::TogglePlay);
    }
    if keys.just_pressed(KeyCode::KeyR) && !ctrl {
        reset.0 = true;
    }
    if keys.just_pressed(KeyCode::F1) {
        view.show_help = !view.show_help;
    }
    if keys.just_pressed(KeyCode::KeyS) && ctrl {
        let folder = if view.export_folder.trim().is_empty() {
            default_export_folder(&session, &live)
        } else {
            PathBuf::from(view.export_folder.trim())
        };
        export.0 = Some(folder);
    }
    if keys.just_pressed(KeyCode::ArrowRight) {
        actions.push(Action::Twin(Command::Step));
    }
    if keys.just_pressed(KeyCode::Backspace) && ctrl {
        actions.push(Action::Twin(Command::Reset));
    }
    if keys.just_pressed(KeyCode::KeyM) {
        view.show_max = !view.show_max;
    }
    if keys.just_pressed(KeyCode::Escape) {
        view.draw_breach = false;
        view.breach_points.clear();
        view.show_help = false;
    }
    for (i, key) in [
        KeyCode::Digit1,
        KeyCode::Digit2,
        KeyCode::Digit3,
        KeyCode::Digit4,
        KeyCode::Digit5,
    ]
    .into_iter()
    .enumerate()
    {
        if keys.just_pressed(key) {
            view.layer = super::palette::Layer::ALL[i];
        }
    }
}

/// The point of the terrain under a window position: march along the camera ray over
/// the height field, then refine by bisection.
pub fn pick_terrain(
    grid: &ViewGrid,
    bed: &ndarray::Array2<f32>,
    camera: &Camera,
    camera_transform: &GlobalTransform,
    cursor: Vec2,
) -> Option<(usize, usize)> {
    let ray = camera.viewport_to_world(camera_transform, cursor).ok()?;
    let height = |p: Vec3| -> Option<f32> {
        grid.cell_from_world(p.x, p.z)
            .map(|c| grid.world_y(f64::from(bed[c])))
    };
    let step = (grid.dx_m.min(grid.dy_m) as f32 * grid.stride as f32 * 0.5).max(0.05);
    let max_distance = (grid.width_m().hypot(grid.height_m()) as f32) * 6.0;
    let mut t = 0.0;
    let mut prev = 0.0;
    while t < max_distance {
        let p = ray.get_point(t);
        if let Some(h) = height(p)
            && p.y <= h
        {
            let (mut lo, mut hi) = (prev, t);
            for _ in 0..24 {
                let mid = 0.5 * (lo + hi);
                let q = ray.get_point(mid);
                match height(q) {
                    Some(h) if q.y <= h => hi = mid,
                    _ => lo = mid,
                }
            }
            let hit = ray.get_point(hi);
            return grid.cell_from_world(hit.x, hit.z);
        }
        prev = t;
        t += step;
    }
    None
}

/// A click (press and release without dragging) on the terrain sets the probe, or a
/// breach end while drawing a breach.
#[allow(clippy::too_many_arguments)]
fn click_terrain(
    mouse: Res<ButtonInput<MouseButton>>,
    over_ui: Res<PointerOverUi>,
    view_rect: Res<ViewRect>,
    window: Query<&Window, With<PrimaryWindow>>,
    camera: Query<(&Camera, &GlobalTransform), With<PanOrbitCamera>>,
    session: Res<Session>,
    live: Res<Live>,
    mut view: ResMut<ViewSettings>,
    mut actions: ResMut<Actions>,
    mut pressed_at: Local<Option<Vec2>>,
) {
    let Ok(window) = window.single() else { return };
    let cursor = window.cursor_position();
    if mouse.just_pressed(MouseButton::Left) {
        *pressed_at = if over_ui.blocks(cursor, &view_rect) {
            None
        } else {
            cursor
        };
    }
    if !mouse.just_released(MouseButton::Left) {
        return;
    }
    let (Some(start), Some(end)) = (pressed_at.take(), cursor) else {
        return;
    };
    if start.distance(end) > 4.0 {
        return; // a drag: the camera orbited
    }
    let (Some(grid), Some(basin), Some(snapshot), Ok((cam, cam_tf))) = (
        session.grid.as_ref(),
        session.basin.as_ref(),
        live.a.as_ref(),
        camera.single(),
    ) else {
        return;
    };
    let mut grid = grid.clone();
    grid.exaggeration = view.exaggeration;
    let Some(cell) = pick_terrain(&grid, &snapshot.bed_m, cam, cam_tf, end) else {
        return;
    };
    if !basin.active[cell] {
        return;
    }
    if view.draw_breach {
        let (x, y) = basin.grid().centre(cell.0, cell.1);
        view.breach_points.push([x, y]);
        if view.breach_points.len() == 2 {
            let line = std::mem::take(&mut view.breach_points);
            actions.push(Action::Twin(Command::DrawnBreach(DrawnBreach {
                line,
                depth_m: view.breach_depth_m,
                formation_time_s: view.breach_formation_s,
            })));
            view.draw_breach = false;
        }
    } else {
        view.probe = Some(cell);
        actions.push(Action::Twin(Command::SetProbe(Some(cell))));
        // A click on (or next to) a structure chooses it in the structures panel.
        if let Some(twin) = &session.twin
            && let Some(i) = structure_near(&twin.scenario.structures, cell)
        {
            view.structure = i;
        }
    }
}

/// The structure standing on, or beside, `cell`: the first whose wall or link cells lie
/// within one cell of it.
pub fn structure_near(
    structures: &[basin::structures::PlacedStructure],
    cell: (usize, usize),
) -> Option<usize> {
    let near = |c: (usize, usize)| c.0.abs_diff(cell.0) <= 1 && c.1.abs_diff(cell.1) <= 1;
    structures.iter().position(|s| {
        s.walls.iter().any(|&c| near(c))
            || s.structure
                .links
                .iter()
                .any(|l| near(l.a) || l.b.is_some_and(near))
    })
}

/// What the bundle records of the view.
pub fn view_description(view: &ViewSettings, camera: Option<&PanOrbitCamera>) -> serde_json::Value {
    serde_json::json!({
        "layer": view.layer,
        "show_max": view.show_max,
        "stored_frame": view.scrub,
        "vertical_exaggeration": view.exaggeration,
        "display_threshold_m": view.threshold_m,
        "camera": camera.map(|c| serde_json::json!({
            "focus": [c.focus.x, c.focus.y, c.focus.z],
            "radius": c.radius,
            "yaw": c.yaw,
            "pitch": c.pitch,
        })),
    })
}

/// PNG bytes of a captured window.
pub fn encode_png(image: &Image) -> Result<Vec<u8>, String> {
    let rgb = image
        .clone()
        .try_into_dynamic()
        .map_err(|e| format!("cannot read the captured window: {e:?}"))?
        .to_rgb8();
    let mut bytes = Vec::new();
    rgb.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
        .map_err(|e| format!("cannot encode the screenshot: {e}"))?;
    Ok(bytes)
}

/// Start an export: capture the window (when there is one), then hand everything to the
/// worker, which writes the bundle.
#[allow(clippy::too_many_arguments)]
fn request_export(
    mut commands: Commands,
    mut export: ResMut<ExportRequested>,
    can_screenshot: Option<Res<CanScreenshot>>,
    view: Res<ViewSettings>,
    camera: Query<&PanOrbitCamera>,
    live: Res<Live>,
    session: Res<Session>,
    shown: Option<Res<super::water::WaterShown>>,
    mut actions: ResMut<Actions>,
    mut pause_sent: Local<bool>,
) {
    if export.0.is_none() {
        return;
    }
    // The picture and the data must be of one moment: pause first, and capture once
    // the view shows the paused state.
    if let Some(s) = &live.a {
        if s.running {
            if !*pause_sent {
                actions.push(Action::Pause);
                *pause_sent = true;
            }
            return;
        }
        if can_screenshot.is_some() && !shown.is_some_and(|w| w.sim_time_s == s.sim_time_s) {
            return;
        }
    }
    *pause_sent = false;
    let Some(mut folder) = export.0.take() else {
        return;
    };
    // The default name carries the time: take it now that the run is paused.
    if view.export_folder.trim().is_empty() {
        folder = default_export_folder(&session, &live);
    }
    let description = view_description(&view, camera.iter().next());
    if can_screenshot.is_none() {
        actions.push(Action::Export {
            folder,
            screenshot_png: None,
            view: description,
        });
        return;
    }
    commands.spawn(Screenshot::primary_window()).observe(
        move |captured: On<ScreenshotCaptured>, mut actions: ResMut<Actions>| {
            let png = match encode_png(&captured.image) {
                Ok(b) => Some(b),
                Err(e) => {
                    error!("{e}; exporting without the view");
                    None
                }
            };
            actions.push(Action::Export {
                folder: folder.clone(),
                screenshot_png: png,
                view: description.clone(),
            });
        },
    );
}
