//! The terrain: one mesh over the basin's bed, coloured by elevation with a hillshade,
//! raised by the vertical exaggeration, and rebuilt when a breach lowers the bed.

use bevy::asset::RenderAssetUsages;
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;

use super::TwinSet;
use super::session::{Live, Session, ViewSettings};
use super::view_grid::ViewGrid;

/// The terrain entity.
#[derive(Component, Debug)]
pub struct Terrain;

/// What the terrain mesh was last built from.
#[derive(Resource, Default, Debug)]
struct Built {
    generation: u64,
    bed_version: u64,
    exaggeration: f32,
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Built>()
        .add_systems(Update, sync_terrain.in_set(TwinSet::SyncMeshes));
}

/// A default exaggeration that makes the relief readable: about 15 % of the basin's width.
pub fn suggested_exaggeration(grid: &ViewGrid) -> f32 {
    let relief = (grid.z_max_m - grid.z_min_m).max(0.1);
    let size = grid.width_m().max(grid.height_m());
    ((0.15 * size / relief) as f32).clamp(1.0, 10.0).round()
}

/// A terrain mesh from a bed (m) seen through `grid`.
pub fn terrain_mesh(
    grid: &ViewGrid,
    bed: impl Fn(usize, usize) -> f64,
    active: &ndarray::Array2<bool>,
) -> Mesh {
    let positions = grid.positions(bed);
    let normals = grid.normals(&positions);
    let colours = grid.terrain_colours(&positions, &normals);
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_indices(Indices::U32(grid.indices(active)))
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colours)
}

#[allow(clippy::too_many_arguments)]
fn sync_terrain(
    mut commands: Commands,
    mut session: ResMut<Session>,
    live: Res<Live>,
    view: Res<ViewSettings>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<StandardMaterial>>,
    existing: Query<(Entity, &Mesh3d), With<Terrain>>,
) {
    let Some(basin) = session.basin.clone() else {
        return;
    };
    let bed_version = live.a.as_ref().map_or(0, |s| s.bed_version);
    let fresh = built.generation != session.generation;
    if !fresh && built.bed_version == bed_version && built.exaggeration == view.exaggeration {
        return;
    }
    let Some(grid) = session.grid.as_mut() else {
        return;
    };
    grid.exaggeration = view.exaggeration;
    let grid = grid.clone();
    // The bed the solver has now (a breach may have lowered it), else the basin's.
    let mesh = match live.a.as_ref() {
        Some(s) if !fresh => {
            let bed = s.bed_m.clone();
            terrain_mesh(&grid, |r, c| f64::from(bed[(r, c)]), &basin.active)
        }
        _ => terrain_mesh(&grid, |r, c| basin.bed_m[(r, c)], &basin.active),
    };
    match existing.iter().next() {
        Some((_, handle)) if !fresh => {
            if let Some(mut m) = meshes.get_mut(handle) {
                *m = mesh;
            }
        }
        _ => {
            for (e, _) in &existing {
                commands.entity(e).despawn();
            }
            // The hillshade is baked into the vertex colours: unlit, the colours are
            // exactly those of the elevation ramp, as a map reader expects.
            let material = materials.add(StandardMaterial {
                base_color: Color::WHITE,
                unlit: true,
                double_sided: true,
                cull_mode: None,
                ..default()
            });
            commands.spawn((
                Terrain,
                Name::new("terrain"),
                Mesh3d(meshes.add(mesh)),
                MeshMaterial3d(material),
                Transform::IDENTITY,
            ));
        }
    }
    built.generation = session.generation;
    built.bed_version = if fresh { 0 } else { bed_version };
    built.exaggeration = view.exaggeration;
}
