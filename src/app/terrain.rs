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
    let (positions, normals, colours) = terrain_vertices(grid, bed);
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_indices(Indices::U32(grid.indices(active)))
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
    .with_inserted_attribute(Mesh::ATTRIBUTE_COLOR, colours)
}

type Vertices = (Vec<[f32; 3]>, Vec<[f32; 3]>, Vec<[f32; 4]>);

/// Positions, normals and colours of the terrain over a bed (m); the triangles stay.
fn terrain_vertices(grid: &ViewGrid, bed: impl Fn(usize, usize) -> f64) -> Vertices {
    let positions = grid.positions(bed);
    let normals = grid.normals(&positions);
    let colours = grid.terrain_colours(&positions, &normals);
    (positions, normals, colours)
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
    // A new basin gets a new mesh over its bed; after that the bed comes from the
    // solver (a breach may have lowered it).
    match (existing.iter().next(), live.a.as_ref()) {
        // The same basin: the bed (a breach) or the exaggeration changed; the
        // triangles stay.
        (Some((_, handle)), Some(snapshot)) if !fresh => {
            let bed = snapshot.bed_m.clone();
            let (positions, normals, colours) =
                terrain_vertices(&grid, |r, c| f64::from(bed[(r, c)]));
            if let Some(mut m) = meshes.get_mut(handle) {
                m.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
                m.insert_attribute(Mesh::ATTRIBUTE_NORMAL, normals);
                m.insert_attribute(Mesh::ATTRIBUTE_COLOR, colours);
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
                Mesh3d(meshes.add(terrain_mesh(
                    &grid,
                    |r, c| basin.bed_m.at((r, c)),
                    &basin.active,
                ))),
                MeshMaterial3d(material),
                Transform::IDENTITY,
            ));
        }
    }
    built.generation = session.generation;
    built.bed_version = if fresh { 0 } else { bed_version };
    built.exaggeration = view.exaggeration;
}
