//! The water: its own surface at bed + depth, coloured by the chosen layer through the
//! custom material in `assets/shaders/water.wgsl`, hidden below the display threshold.

use basin::hazard::HazardTables;
use bevy::asset::{RenderAssetUsages, uuid_handle};
use bevy::mesh::{Indices, PrimitiveTopology};
use bevy::prelude::*;
use bevy::render::render_resource::{AsBindGroup, Extent3d, TextureDimension, TextureFormat};
use bevy::shader::ShaderRef;
use ndarray::Array2;

use super::TwinSet;
use super::palette::{Layer, Range, nice_ceiling};
use super::session::{Live, Session, ViewSettings};
use super::twin::Snapshot;
use super::view_grid::ViewGrid;

const WATER_SHADER: Handle<Shader> = uuid_handle!("3f0b8f8e-6a3c-4d0e-9d55-2b7c1e9a4f21");

/// The water material: layer palette and display settings.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
pub struct WaterMaterial {
    /// x: threshold (m), y: opacity, z: depth of full opacity (m).
    #[uniform(0)]
    pub settings: Vec4,
    /// Direction towards the sun.
    #[uniform(0)]
    pub sun: Vec4,
    #[texture(1)]
    #[sampler(2)]
    pub palette: Handle<Image>,
}

impl Material for WaterMaterial {
    fn fragment_shader() -> ShaderRef {
        WATER_SHADER.into()
    }

    fn alpha_mode(&self) -> AlphaMode {
        AlphaMode::Blend
    }
}

/// The water entity.
#[derive(Component, Debug)]
pub struct Water;

/// What the water surface shows now, for the legend and tests.
#[derive(Resource, Debug, Clone, PartialEq)]
pub struct WaterShown {
    pub layer: Layer,
    pub range: Range,
    pub sim_time_s: f64,
    /// Vertices with water above the threshold.
    pub wet_vertices: usize,
    /// What was shown: "live", "max so far" or "stored frame at t".
    pub source: String,
}

#[derive(Resource, Default, Debug)]
struct Built {
    generation: u64,
    key: Option<(u64, Option<u64>, String)>,
    layer: Option<Layer>,
}

/// The renderer side: the material's pipeline and its shader.
pub(super) fn render_plugin(app: &mut App) {
    app.add_plugins(MaterialPlugin::<WaterMaterial>::default());
    let shader = Shader::from_wgsl(
        include_str!("../../assets/shaders/water.wgsl"),
        "rivertwin/shaders/water.wgsl",
    );
    let _ = app
        .world_mut()
        .resource_mut::<Assets<Shader>>()
        .insert(WATER_SHADER.id(), shader);
}

pub(super) fn plugin(app: &mut App) {
    if !app.world().contains_resource::<Assets<WaterMaterial>>() {
        app.init_asset::<WaterMaterial>();
    }
    app.init_resource::<Built>()
        .add_systems(Update, sync_water.in_set(TwinSet::SyncMeshes));
}

fn palette_image(layer: Layer) -> Image {
    Image::new(
        Extent3d {
            width: 256,
            height: 1,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        layer.texture_rgba(),
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::default(),
    )
}

/// Per-vertex water: surface elevation (m), depth shown (m) and layer value.
#[derive(Debug)]
pub struct WaterField {
    pub surface_m: Vec<f64>,
    pub depth_m: Vec<f32>,
    pub value: Vec<f32>,
    /// The vertex's cell was first flooded after t = 0: not sea, lake or reservoir
    /// water that was there from the start.
    pub flooded_later: Vec<bool>,
}

/// Maps that are not the run's own: a merged ensemble's and the soil losses.
#[derive(Clone, Copy, Debug)]
struct Maps<'a> {
    ensemble: Option<&'a super::ensemble::EnsembleMaps>,
    soil: Option<&'a super::drainage::SoilMap>,
}

/// Which depth, speed and hazard grids the view shows: live, maximum so far or a
/// stored frame.
fn sample_field(
    grid: &ViewGrid,
    a: &Snapshot,
    b: Option<&Snapshot>,
    maps: Maps<'_>,
    view: &ViewSettings,
    hazard: &HazardTables,
    method: basin::config::HazardMethod,
) -> (WaterField, String) {
    let Maps { ensemble, soil } = maps;
    let map = ensemble.and_then(|e| e.shown(view));
    let frame = view.scrub.and_then(|t| a.frame_at(t));
    let (depth, speed, source): (&Array2<f32>, &Array2<f32>, String) = if view.show_max {
        (&a.max_depth_m, &a.max_speed_m_s, "max so far".into())
    } else if let Some(f) = frame {
        (
            &f.depth_m,
            &f.speed_m_s,
            format!("stored frame at {:.0} s", f.sim_time_s),
        )
    } else {
        (&a.depth_m, &a.speed_m_s, "live".into())
    };
    let t = frame.map_or(a.sim_time_s, |f| f.sim_time_s);
    // B at the same time: its last stored frame not after t (its live state if it has
    // none yet), or B's maximum.
    let b_depth: Option<&Array2<f32>> = b.map(|b| {
        if view.show_max {
            &*b.max_depth_m
        } else {
            b.frame_at(t).map_or(&*b.depth_m, |f| &f.depth_m)
        }
    });
    let n = grid.vertex_rows * grid.vertex_cols;
    let mut field = WaterField {
        surface_m: Vec::with_capacity(n),
        depth_m: Vec::with_capacity(n),
        value: Vec::with_capacity(n),
        flooded_later: Vec::with_capacity(n),
    };
    for vr in 0..grid.vertex_rows {
        for vc in 0..grid.vertex_cols {
            let cell = grid.cell_of_vertex(vr, vc);
            let bed = f64::from(a.bed_m[cell]);
            let mut d = depth[cell];
            let value = match view.layer {
                Layer::Depth => d,
                Layer::Speed => speed[cell],
                Layer::Hazard => {
                    if view.show_max {
                        a.hazard_class[cell]
                    } else {
                        f32::from(hazard.classify(method, f64::from(d), f64::from(speed[cell])))
                    }
                }
                Layer::Arrival => {
                    // Where water has been, when it first came (minutes).
                    d = a.max_depth_m[cell];
                    a.first_inundation_s[cell] / 60.0
                }
                Layer::Difference => match &b_depth {
                    Some(bd) => {
                        let db = bd[cell];
                        let diff = d - db;
                        d = d.max(db);
                        diff
                    }
                    None => 0.0,
                },
                Layer::Soil => {
                    let (depth, value) = soil.map_or((0.0, 0.0), |m| m.cell_value(cell));
                    d = depth;
                    value
                }
                Layer::EnsembleProbability | Layer::EnsembleDepth | Layer::EnsembleArrival => {
                    let (depth, value) =
                        map.map_or((0.0, 0.0), |m| super::ensemble::cell_value(m, cell));
                    d = depth;
                    value
                }
            };
            field.surface_m.push(bed + f64::from(d));
            field.depth_m.push(d);
            field.value.push(value);
            field.flooded_later.push(a.first_inundation_s[cell] > 0.0);
        }
    }
    if let (Layer::Soil, Some(m)) = (view.layer, soil) {
        return (field, format!("{} ({})", m.title, m.unit));
    }
    if let (Some(e), Some(m)) = (ensemble, map) {
        let members = e
            .members
            .map_or(String::new(), |n| format!(" of {n} members"));
        return (field, format!("{}{members}", m.title));
    }
    (field, source)
}

/// The range a layer is shown over, from the values where there is water.
fn layer_range(layer: Layer, field: &WaterField, threshold_m: f32) -> Range {
    let wet = field
        .value
        .iter()
        .zip(&field.depth_m)
        .filter(|(v, d)| **d >= threshold_m && v.is_finite())
        .map(|(v, _)| *v);
    match layer {
        Layer::Hazard => Range { min: 0.5, max: 6.5 },
        Layer::EnsembleProbability => Range { min: 0.0, max: 1.0 },
        // Soil losses: the range of the map itself (curve numbers sit between 30 and 100).
        Layer::Soil => {
            let (lo, hi) = wet.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if lo.is_finite() && hi > lo {
                Range { min: lo, max: hi }
            } else if lo.is_finite() {
                Range {
                    min: lo - 1.0,
                    max: lo + 1.0,
                }
            } else {
                Range { min: 0.0, max: 1.0 }
            }
        }
        // Depth: the range of the flood, not of the water there from the start. Off a
        // coast the sea is tens of metres deep, and a surge of a metre or two on land
        // would all be drawn in the palest colour. So where cells that were dry at the
        // start are wet now, the range comes from them (deeper water from the start is
        // drawn in the deepest colour); where there are none yet, from every wet cell.
        Layer::Depth => {
            let later = field
                .value
                .iter()
                .zip(&field.depth_m)
                .zip(&field.flooded_later)
                .filter(|((v, d), later)| **later && **d >= threshold_m && v.is_finite())
                .fold(0.0f32, |m, ((v, _), _)| m.max(*v));
            let deepest = if later > 0.0 {
                later
            } else {
                wet.fold(0.0f32, f32::max)
            };
            Range {
                min: 0.0,
                max: nice_ceiling(deepest.max(0.01)),
            }
        }
        Layer::Difference => {
            let m = wet.fold(0.0f32, |m, v| m.max(v.abs()));
            let m = nice_ceiling(m.max(0.01));
            Range { min: -m, max: m }
        }
        _ => Range {
            min: 0.0,
            max: nice_ceiling(wet.fold(0.0f32, f32::max).max(0.01)),
        },
    }
}

/// The water mesh for a field: dry vertices sink just below the terrain so that the
/// shader's threshold cuts a clean shoreline.
pub fn water_mesh(grid: &ViewGrid, field: &WaterField, range: Range, indices: Vec<u32>) -> Mesh {
    let (positions, uvs) = water_vertices(grid, field, range);
    let normals = vec![[0.0f32, 1.0, 0.0]; positions.len()];
    Mesh::new(
        PrimitiveTopology::TriangleList,
        RenderAssetUsages::default(),
    )
    .with_inserted_indices(Indices::U32(indices))
    .with_inserted_attribute(Mesh::ATTRIBUTE_POSITION, positions)
    .with_inserted_attribute(Mesh::ATTRIBUTE_NORMAL, normals)
    .with_inserted_attribute(Mesh::ATTRIBUTE_UV_0, uvs)
}

/// What changes with each snapshot: positions and the (value, depth) channel.
fn water_vertices(
    grid: &ViewGrid,
    field: &WaterField,
    range: Range,
) -> (Vec<[f32; 3]>, Vec<[f32; 2]>) {
    let n = field.surface_m.len();
    let mut positions = Vec::with_capacity(n);
    let mut uvs = Vec::with_capacity(n);
    let lift = 0.02 * grid.dx_m.min(grid.dy_m) as f32;
    for i in 0..n {
        let (vr, vc) = (i / grid.vertex_cols, i % grid.vertex_cols);
        let (r, c) = grid.cell_of_vertex(vr, vc);
        let mut p = grid.world_from_cell(r as f64, c as f64, field.surface_m[i]);
        p[1] += if field.depth_m[i] > 0.0 { lift } else { -lift };
        positions.push(p);
        uvs.push([range.normalise(field.value[i]), field.depth_m[i].max(0.0)]);
    }
    (positions, uvs)
}

#[allow(clippy::too_many_arguments)]
fn sync_water(
    mut commands: Commands,
    session: Res<Session>,
    live: Res<Live>,
    view: Res<ViewSettings>,
    mut built: ResMut<Built>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<WaterMaterial>>,
    mut images: ResMut<Assets<Image>>,
    existing: Query<(Entity, &Mesh3d, &MeshMaterial3d<WaterMaterial>), With<Water>>,
    mut hazard: Local<Option<HazardTables>>,
) {
    let (Some(basin), Some(grid), Some(twin), Some(a)) = (
        session.basin.as_ref(),
        session.grid.as_ref(),
        session.twin.as_ref(),
        live.a.as_ref(),
    ) else {
        return;
    };
    let fresh = built.generation != session.generation;
    let settings_key = format!(
        "{:?} {} {} {:?} {:?} {} {} {:?}",
        view.layer,
        view.exaggeration,
        view.threshold_m,
        view.scrub.map(f64::to_bits),
        view.show_max,
        session.compare_label.is_some(),
        view.ensemble_map,
        session.ensemble.as_ref().map(std::sync::Arc::as_ptr),
    );
    let key = (a.seq, live.b.as_ref().map(|b| b.seq), settings_key);
    if !fresh && built.key.as_ref() == Some(&key) {
        return;
    }
    let tables = hazard.get_or_insert_with(HazardTables::bundled);
    let mut grid = grid.clone();
    grid.exaggeration = view.exaggeration;
    let b = live.b.as_deref();
    let (field, source) = sample_field(
        &grid,
        a,
        b,
        Maps {
            ensemble: session.ensemble.as_deref(),
            soil: session.drainage.as_ref().and_then(|d| d.soil.as_ref()),
        },
        &view,
        tables,
        twin.scenario.file.hazard,
    );
    let range = layer_range(view.layer, &field, view.threshold_m);
    let wet_vertices = field
        .depth_m
        .iter()
        .filter(|&&d| d >= view.threshold_m)
        .count();
    let settings = Vec4::new(view.threshold_m, 0.88, 0.3, 0.0);

    let existing_one = existing.iter().next();
    match existing_one {
        Some((_, mesh_handle, material_handle)) if !fresh => {
            // Same basin: only positions and values change; the triangles stay.
            let (positions, uvs) = water_vertices(&grid, &field, range);
            if let Some(mut m) = meshes.get_mut(mesh_handle) {
                m.insert_attribute(Mesh::ATTRIBUTE_POSITION, positions);
                m.insert_attribute(Mesh::ATTRIBUTE_UV_0, uvs);
            }
            if built.layer != Some(view.layer) {
                let palette = images.add(palette_image(view.layer));
                if let Some(mut mat) = materials.get_mut(material_handle) {
                    mat.palette = palette;
                }
            }
            let differs = materials
                .get(material_handle)
                .is_some_and(|m| m.settings != settings);
            if differs && let Some(mut mat) = materials.get_mut(material_handle) {
                mat.settings = settings;
            }
        }
        _ => {
            for (e, _, _) in &existing {
                commands.entity(e).despawn();
            }
            let mesh = water_mesh(&grid, &field, range, grid.indices(&basin.active));
            let material = materials.add(WaterMaterial {
                settings,
                sun: Vec4::new(-0.5, 0.7, -0.5, 0.0),
                palette: images.add(palette_image(view.layer)),
            });
            commands.spawn((
                Water,
                Name::new("water"),
                Mesh3d(meshes.add(mesh)),
                MeshMaterial3d(material),
                Transform::IDENTITY,
            ));
        }
    }
    commands.insert_resource(WaterShown {
        layer: view.layer,
        range,
        sim_time_s: a.sim_time_s,
        wet_vertices,
        source,
    });
    built.generation = session.generation;
    built.key = Some(key);
    built.layer = Some(view.layer);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(cells: &[(f32, bool)]) -> WaterField {
        WaterField {
            surface_m: cells.iter().map(|&(d, _)| f64::from(d)).collect(),
            depth_m: cells.iter().map(|&(d, _)| d).collect(),
            value: cells.iter().map(|&(d, _)| d).collect(),
            flooded_later: cells.iter().map(|&(_, later)| later).collect(),
        }
    }

    #[test]
    fn depth_range_is_the_flood_s_not_the_sea_s() {
        // Cairns: sea 60 m deep from the start, a surge of 1.3 m on land.
        let f = field(&[
            (60.0, false),
            (35.0, false),
            (1.3, true),
            (0.4, true),
            (0.0, true),
        ]);
        let r = layer_range(Layer::Depth, &f, 0.02);
        assert_eq!((r.min, r.max), (0.0, 2.0));
        // Before the land floods: the sea's range.
        let f = field(&[(60.0, false), (35.0, false), (0.0, true)]);
        assert_eq!(layer_range(Layer::Depth, &f, 0.02).max, 100.0);
        // Water under the display threshold does not count.
        let f = field(&[(60.0, false), (0.01, true)]);
        assert_eq!(layer_range(Layer::Depth, &f, 0.02).max, 100.0);
    }

    #[test]
    fn speed_range_takes_every_wet_cell() {
        let mut f = field(&[(10.0, false), (1.0, true)]);
        f.value = vec![3.0, 0.5];
        assert_eq!(layer_range(Layer::Speed, &f, 0.02).max, 5.0);
    }
}
