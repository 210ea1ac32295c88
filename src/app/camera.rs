//! The orbit camera and the light. The camera frames the whole basin when one opens and
//! on "reset view"; it ignores the mouse while the pointer is over an egui panel.

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_egui::{EguiGlobalSettings, EguiStartupSet, PrimaryEguiContext};
use bevy_panorbit_camera::{PanOrbitCamera, PanOrbitCameraPlugin, PanOrbitCameraSystemSet};

use super::TwinSet;
use super::session::Session;

/// Set by the UI each frame: the pointer is over (or dragging in) an egui panel.
#[derive(Resource, Default, Debug)]
pub struct PointerOverUi {
    /// Over a panel, a window or a widget in use, as egui saw it in its last pass.
    pub any: bool,
    /// Over an egui window or popup, or dragging a widget (not the panels).
    pub window_or_widget: bool,
}

impl PointerOverUi {
    /// Whether the pointer at `cursor` (logical pixels) is on the UI rather than the 3D
    /// view. The view's rectangle is checked against the cursor now, so a click right
    /// after the mouse left a panel counts for the view even if egui (at a low frame
    /// rate) last saw the pointer over the panel.
    pub fn blocks(&self, cursor: Option<Vec2>, view: &ViewRect) -> bool {
        match (cursor, view.0) {
            (Some(c), Some(rect)) => !rect.contains(c) || self.window_or_widget,
            _ => self.any,
        }
    }
}

/// The part of the window the panels leave free (logical pixels), where the 3D view is
/// drawn. Set by the UI each frame.
#[derive(Resource, Default, Debug)]
pub struct ViewRect(pub Option<Rect>);

/// Ask for the camera to frame the basin again.
#[derive(Resource, Default, Debug)]
pub struct ResetView(pub bool);

/// The window can be captured (there is a renderer); headless apps have no such resource.
#[derive(Resource, Debug)]
pub struct CanScreenshot;

pub(super) fn plugin(app: &mut App) {
    app.add_plugins(PanOrbitCameraPlugin)
        .init_resource::<PointerOverUi>()
        .init_resource::<ResetView>()
        .init_resource::<ViewRect>()
        .insert_resource(CanScreenshot)
        .insert_resource(ClearColor(Color::srgb(0.10, 0.11, 0.13)))
        .insert_resource(GlobalAmbientLight {
            color: Color::WHITE,
            brightness: 600.0,
            ..default()
        })
        // The camera exists before egui looks for one, so egui can be styled at startup.
        .add_systems(
            PreStartup,
            spawn_camera.before(EguiStartupSet::InitContexts),
        )
        .add_systems(
            Update,
            (fit_viewport, frame_basin)
                .chain()
                .in_set(TwinSet::SyncMeshes),
        )
        .add_systems(PostUpdate, block_over_ui.before(PanOrbitCameraSystemSet));
}

fn spawn_camera(mut commands: Commands, mut egui: ResMut<EguiGlobalSettings>) {
    // The panels are drawn by a camera of their own over the whole window; the 3D camera
    // draws only into the part they leave free.
    egui.auto_create_primary_context = false;
    commands.spawn((
        Name::new("ui camera"),
        Camera2d,
        Camera {
            order: 1,
            clear_color: ClearColorConfig::None,
            ..default()
        },
        PrimaryEguiContext,
    ));
    commands.spawn((
        Name::new("camera"),
        Transform::from_xyz(0.0, 300.0, 500.0).looking_at(Vec3::ZERO, Vec3::Y),
        PanOrbitCamera {
            focus: Vec3::ZERO,
            radius: Some(600.0),
            yaw: Some(0.0),
            pitch: Some(0.75),
            zoom_lower_limit: 1.0,
            ..default()
        },
        Projection::from(PerspectiveProjection {
            fov: 45f32.to_radians(),
            near: 0.5,
            far: 200_000.0,
            ..default()
        }),
        // Software rendering is slow with multisampling; the data needs no tone mapping.
        Msaa::Off,
        Tonemapping::None,
    ));
    commands.spawn((
        Name::new("sun"),
        DirectionalLight {
            illuminance: 9_000.0,
            shadow_maps_enabled: false,
            ..default()
        },
        Transform::from_xyz(-1.0, 1.4, -1.0).looking_at(Vec3::ZERO, Vec3::Y),
    ));
}

/// Draw the 3D view only where the panels leave room, so that it frames the basin there.
fn fit_viewport(
    rect: Res<ViewRect>,
    window: Query<&Window, With<bevy::window::PrimaryWindow>>,
    mut cameras: Query<&mut Camera, With<PanOrbitCamera>>,
) {
    let (Some(rect), Ok(window)) = (rect.0, window.single()) else {
        return;
    };
    let scale = window.scale_factor();
    let size = UVec2::new(window.physical_width(), window.physical_height());
    let min = (rect.min * scale)
        .round()
        .max(Vec2::ZERO)
        .as_uvec2()
        .min(size);
    let max = (rect.max * scale)
        .round()
        .max(Vec2::ZERO)
        .as_uvec2()
        .min(size);
    if max.x <= min.x + 16 || max.y <= min.y + 16 {
        return;
    }
    for mut cam in &mut cameras {
        let same = cam
            .viewport
            .as_ref()
            .is_some_and(|v| v.physical_position == min && v.physical_size == max - min);
        if !same {
            cam.viewport = Some(bevy::camera::Viewport {
                physical_position: min,
                physical_size: max - min,
                depth: 0.0..1.0,
            });
        }
    }
}

/// Where the camera looks from (focus, radius, yaw, pitch) to see a basin of this size
/// whole in a view of this aspect ratio (width / height) and vertical field of view.
pub fn home_view(
    width_m: f32,
    height_m: f32,
    relief_m: f32,
    aspect: f32,
    fov: f32,
) -> (Vec3, f32, f32, f32) {
    let pitch = 0.85_f32;
    // Seen from the south at `pitch`, the north–south extent is foreshortened.
    let across = width_m.max(1.0);
    let along = height_m.max(1.0) * pitch.sin() + relief_m * pitch.cos();
    let half_v = (fov / 2.0).tan();
    let half_h = half_v * aspect.max(0.1);
    let radius = 1.25 * (0.5 * along / half_v).max(0.5 * across / half_h);
    (Vec3::new(0.0, relief_m * 0.3, 0.0), radius, 0.0, pitch)
}

fn frame_basin(
    session: Res<Session>,
    mut reset: ResMut<ResetView>,
    rect: Res<ViewRect>,
    mut seen: Local<(u64, bool)>,
    view: Res<super::ViewSettings>,
    mut cameras: Query<(&mut PanOrbitCamera, &Projection)>,
) {
    let Some(grid) = &session.grid else { return };
    // Frame a new basin, on request, and once more when the panels first leave a
    // known viewport.
    let viewport_known = rect.0.is_some();
    if seen.0 == session.generation && !reset.0 && (seen.1 || !viewport_known) {
        return;
    }
    *seen = (session.generation, viewport_known);
    reset.0 = false;
    let aspect = rect
        .0
        .map_or(16.0 / 9.0, |r| r.width() / r.height().max(1.0));
    let relief = (grid.z_max_m - grid.z_min_m) as f32 * view.exaggeration;
    for (mut cam, projection) in &mut cameras {
        let fov = match projection {
            Projection::Perspective(p) => p.fov,
            _ => 45f32.to_radians(),
        };
        let (focus, radius, yaw, pitch) = home_view(
            grid.width_m() as f32,
            grid.height_m() as f32,
            relief,
            aspect,
            fov,
        );
        cam.target_focus = focus;
        cam.target_radius = radius;
        cam.target_yaw = yaw;
        cam.target_pitch = pitch;
        cam.focus = focus;
        cam.radius = Some(radius);
        cam.yaw = Some(yaw);
        cam.pitch = Some(pitch);
        cam.zoom_upper_limit = Some(radius * 4.0);
        cam.force_update = true;
    }
}

/// A drag that starts on a panel never orbits; one that starts in the view is not cut off
/// when it crosses a panel. With no button held, hovering a panel blocks wheel zoom.
fn block_over_ui(
    over: Res<PointerOverUi>,
    view: Res<ViewRect>,
    window: Query<&Window, With<bevy::window::PrimaryWindow>>,
    mouse: Res<ButtonInput<MouseButton>>,
    mut latched: Local<bool>,
    mut cameras: Query<&mut PanOrbitCamera>,
) {
    let cursor = window.single().ok().and_then(Window::cursor_position);
    let over_now = over.blocks(cursor, &view);
    if mouse.get_just_pressed().next().is_some() {
        *latched = over_now;
    }
    let block = if mouse.get_pressed().next().is_some() {
        *latched
    } else {
        over_now
    };
    for mut cam in &mut cameras {
        if cam.enabled == block {
            cam.enabled = !block;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_rectangle_decides_over_a_stale_panel_flag() {
        let view = ViewRect(Some(Rect::new(300.0, 40.0, 1200.0, 860.0)));
        let stale = PointerOverUi {
            any: true,
            window_or_widget: false,
        };
        // In the view now, although egui last saw the pointer over a panel.
        assert!(!stale.blocks(Some(Vec2::new(700.0, 400.0)), &view));
        // On a panel.
        assert!(stale.blocks(Some(Vec2::new(100.0, 400.0)), &view));
        // Over a window floating in the view.
        let window = PointerOverUi {
            any: true,
            window_or_widget: true,
        };
        assert!(window.blocks(Some(Vec2::new(700.0, 400.0)), &view));
        // Before the first UI pass, egui's flag decides.
        assert!(stale.blocks(Some(Vec2::new(700.0, 400.0)), &ViewRect(None)));
    }

    #[test]
    fn home_view_fits_wide_and_tall_views() {
        let fov = 45f32.to_radians();
        let (_, wide, _, _) = home_view(1000.0, 500.0, 50.0, 2.0, fov);
        let (_, tall, _, _) = home_view(1000.0, 500.0, 50.0, 0.5, fov);
        // A narrow view must step back further to fit the basin's width.
        assert!(tall > 1.5 * wide, "{tall} vs {wide}");
        // Seen from `radius`, the half-width fits in the horizontal half-angle.
        let half_h = (fov / 2.0).tan() * 0.5;
        assert!(500.0 / tall <= half_h * 1.001);
    }
}
