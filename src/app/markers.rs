//! Gauges as poles standing on the terrain (their labels, and the boundary segments and
//! breach lines, are drawn by the UI over the view).

use bevy::prelude::*;

use super::TwinSet;
use super::session::{Session, ViewSettings};

/// A gauge pole; the index is the gauge's place in the basin file.
#[derive(Component, Debug)]
pub struct GaugeMarker(pub usize);

pub(super) fn plugin(app: &mut App) {
    app.add_systems(Update, place_gauges.in_set(TwinSet::SyncMeshes));
}

/// Height of a gauge pole for a basin of this size (m, in the view).
pub fn pole_height_m(width_m: f64, height_m: f64) -> f32 {
    (0.04 * width_m.max(height_m)) as f32
}

#[allow(clippy::too_many_arguments)]
fn place_gauges(
    mut commands: Commands,
    session: Res<Session>,
    view: Res<ViewSettings>,
    mut built: Local<Option<(u64, f32)>>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    existing: Query<Entity, With<GaugeMarker>>,
) {
    let (Some(basin), Some(grid)) = (session.basin.as_ref(), session.grid.as_ref()) else {
        return;
    };
    let key = (session.generation, view.exaggeration);
    if *built == Some(key) {
        return;
    }
    *built = Some(key);
    for e in &existing {
        commands.entity(e).despawn();
    }
    let mut grid = grid.clone();
    grid.exaggeration = view.exaggeration;
    let h = pole_height_m(grid.width_m(), grid.height_m());
    let radius = (h * 0.04).max(0.05);
    let pole = meshes.add(Cylinder::new(radius, h));
    let head = meshes.add(Sphere::new(radius * 3.0));
    let material = materials.add(StandardMaterial {
        base_color: Color::srgb(0.95, 0.35, 0.1),
        emissive: LinearRgba::rgb(0.4, 0.1, 0.0),
        ..default()
    });
    for (i, g) in basin.gauges.iter().enumerate() {
        let [x, y, z] =
            grid.world_from_cell(g.row as f64, g.col as f64, basin.bed_m.at((g.row, g.col)));
        commands
            .spawn((
                GaugeMarker(i),
                Name::new(format!("gauge {}", g.name)),
                Transform::from_xyz(x, y + h / 2.0, z),
                Visibility::default(),
            ))
            .with_children(|p| {
                p.spawn((Mesh3d(pole.clone()), MeshMaterial3d(material.clone())));
                p.spawn((
                    Mesh3d(head.clone()),
                    MeshMaterial3d(material.clone()),
                    Transform::from_xyz(0.0, h / 2.0, 0.0),
                ));
            });
    }
}
