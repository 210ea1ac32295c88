// The water surface of rivertwin. Each vertex carries, in its first UV channel, the
// chosen layer's value already scaled to 0..1 (x) and the water depth in metres (y).
// The colour comes from the layer's 256 x 1 palette, the same table the legend shows.
// Water shallower than the display threshold is discarded; shallow water is more
// transparent than deep water.

#import bevy_pbr::forward_io::VertexOutput

struct WaterParams {
    // x: display threshold (m), y: opacity of deep water, z: depth (m) at which the
    // water reaches full opacity, w: unused
    settings: vec4<f32>,
    // Direction towards the sun (world space), for a soft diffuse shading.
    sun: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> params: WaterParams;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var palette: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var palette_sampler: sampler;

@fragment
fn fragment(in: VertexOutput) -> @location(0) vec4<f32> {
#ifdef VERTEX_UVS_A
    let value = in.uv.x;
    let depth = in.uv.y;
#else
    let value = 0.5;
    let depth = 1.0;
#endif
    if (depth < params.settings.x) {
        discard;
    }
    let colour = textureSample(palette, palette_sampler, vec2<f32>(clamp(value, 0.0, 1.0), 0.5)).rgb;
    let n = normalize(in.world_normal);
    let lit = max(dot(n, normalize(params.sun.xyz)), 0.0);
    let shade = 0.8 + 0.2 * lit;
    let fade = clamp(depth / max(params.settings.z, 1e-3), 0.45, 1.0);
    return vec4<f32>(colour * shade, params.settings.y * fade);
}
