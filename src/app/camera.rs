//! The orbit camera and the light. The camera frames the whole basin when one opens and
//! on "reset view"; it ignores the mouse while the pointer is over an egui panel.

use bevy::core_pipeline::tonemapping::Tonemapping;
use bevy::prelude::*;
use bevy_egui::EguiStartupSet;
use bevy_panorbit_camera::{PanOrbitCamera, PanOrbitCameraPlugin, PanOrbitCameraSystemSet};

use super::TwinSet;
use super::session::Session;

/// Set by the UI each frame: the pointer is over (or dragging in) an egui panel.
#[derive(Resource, Default, Debug)]
pub struct PointerOverUi(pub bool);

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
        .add_systems(Update, frame_basin.in_set(TwinSet::SyncMeshes))
        .add_systems(PostUpdate, block_over_ui.before(PanOrbitCameraSystemSet));
}

fn spawn_camera(mut commands: Commands) {
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

/// Where the camera looks from to see a basin of this size whole.
pub fn home_view(width_m: f32, height_m: f32, relief_m: f32) -> (Vec3, f32, f32, f32) {
    let size = width_m.max(height_m).max(1.0);
    (Vec3::new(0.0, relief_m * 0.3, 0.0), size * 1.15, 0.0, 0.8)
}

fn frame_basin(
    session: Res<Session>,
    mut reset: ResMut<ResetView>,
    mut seen: Local<u64>,
    view: Res<super::ViewSettings>,
    mut cameras: Query<&mut PanOrbitCamera>,
) {
    let Some(grid) = &session.grid else { return };
    if *seen == session.generation && !reset.0 {
        return;
    }
    *seen = session.generation;
    reset.0 = false;
    let relief = (grid.z_max_m - grid.z_min_m) as f32 * view.exaggeration;
    let (focus, radius, yaw, pitch) =
        home_view(grid.width_m() as f32, grid.height_m() as f32, relief);
    for mut cam in &mut cameras {
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
    mouse: Res<ButtonInput<MouseButton>>,
    mut latched: Local<bool>,
    mut cameras: Query<&mut PanOrbitCamera>,
) {
    if mouse.get_just_pressed().next().is_some() {
        *latched = over.0;
    }
    let block = if mouse.get_pressed().next().is_some() {
        *latched
    } else {
        over.0
    };
    for mut cam in &mut cameras {
        if cam.enabled == block {
            cam.enabled = !block;
        }
    }
}
