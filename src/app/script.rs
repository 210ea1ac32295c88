//! Scripted mode (`--exit-after`): run to a simulated time, let the view catch up, save
//! the screenshot and/or the export bundle, and exit — for unattended demos and tests.

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy_panorbit_camera::PanOrbitCamera;

use super::OpenOptions;
use super::input::{encode_png, view_description};
use super::session::{Action, Actions, Live, Session, ViewSettings};
use super::water::WaterShown;

#[derive(Debug, Default, PartialEq)]
enum Stage {
    #[default]
    Running,
    /// The time is reached: count frames so the meshes and pipelines catch up.
    Settling {
        frames: u32,
        since_s: f64,
    },
    Capturing,
    Exporting,
    Done,
}

#[derive(Resource, Default, Debug)]
struct Script {
    stage: Stage,
    /// Set by the capture observer: the PNG, and whether every pixel was the same (a
    /// frame captured before the window was drawn).
    captured: Option<Result<(Vec<u8>, bool), String>>,
    failed: Option<String>,
    /// Captures retried because they came back blank.
    blank_retries: u32,
}

/// How many blank captures are retried (a few frames later each) before one is kept.
const BLANK_RETRIES: u32 = 5;

/// Whether every pixel of a captured window is the same colour.
fn is_blank(image: &Image) -> bool {
    let Some(data) = image.data.as_ref() else {
        return true;
    };
    let px = image
        .texture_descriptor
        .format
        .block_copy_size(None)
        .unwrap_or(4) as usize;
    data.len() < px || data.chunks_exact(px).all(|p| p == &data[..px])
}

pub(super) fn plugin(app: &mut App) {
    app.init_resource::<Script>()
        .add_systems(Last, (drive_script, log_rates));
}

/// Every 10 s of wall time, the frame rate and the simulation's pace, in the log: what a
/// trainer checks before a demo, and how the README's figures were measured.
fn log_rates(time: Res<Time<Real>>, live: Res<Live>, mut last: Local<(f64, u64)>) {
    let now = time.elapsed_secs_f64();
    last.1 += 1;
    if now - last.0 < 10.0 {
        return;
    }
    let fps = last.1 as f64 / (now - last.0);
    *last = (now, 0);
    if let Some(s) = &live.a {
        info!(
            "{fps:.1} frames/s; sim time {:.1} s, real-time factor {:.1}, {:.1} M cell-updates/s{}",
            s.sim_time_s,
            s.real_time_factor,
            s.cell_updates_per_s / 1e6,
            if s.running { "" } else { " (paused)" }
        );
    }
}

/// Frames rendered after the target time before the screenshot: the water mesh of the
/// last snapshot is built in the first, software rendering needs a few more.
const SETTLE_FRAMES: u32 = 6;
const SETTLE_S: f64 = 2.0;

#[allow(clippy::too_many_arguments)]
fn drive_script(
    mut commands: Commands,
    options: Res<OpenOptions>,
    mut script: ResMut<Script>,
    session: Res<Session>,
    live: Res<Live>,
    view: Res<ViewSettings>,
    shown: Option<Res<WaterShown>>,
    time: Res<Time<Real>>,
    mut actions: ResMut<Actions>,
    camera: Query<(&Camera, &GlobalTransform, &PanOrbitCamera)>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(target) = options.exit_after_s else {
        return;
    };
    let now = time.elapsed_secs_f64();
    if script.stage != Stage::Done {
        if let Some(e) = &session.error {
            script.failed = Some(e.clone());
        } else if let Some(e) = live.a.as_ref().and_then(|s| s.error.clone()) {
            script.failed = Some(e);
        }
        if let Some(e) = script.failed.take() {
            error!("scripted run failed: {e}");
            script.stage = Stage::Done;
            exit.write(AppExit::error());
            return;
        }
    }
    match script.stage {
        Stage::Running => {
            if let Some(s) = &live.a
                && (s.sim_time_s >= target - 1e-9 || s.finished)
            {
                if s.running {
                    actions.push(Action::Pause);
                }
                info!(
                    "scripted run reached t = {:.1} s after {:.1} s of wall time",
                    s.sim_time_s, now
                );
                script.stage = Stage::Settling {
                    frames: 0,
                    since_s: now,
                };
            }
        }
        Stage::Settling { frames, since_s } => {
            let shown_now = shown.is_some_and(|w| {
                live.a
                    .as_ref()
                    .is_some_and(|s| w.sim_time_s == s.sim_time_s)
            });
            if frames >= SETTLE_FRAMES && now - since_s >= SETTLE_S && shown_now {
                if options.screenshot.is_some() || options.export.is_some() {
                    commands.spawn(Screenshot::primary_window()).observe(
                        |captured: On<ScreenshotCaptured>, mut script: ResMut<Script>| {
                            let blank = is_blank(&captured.image);
                            script.captured =
                                Some(encode_png(&captured.image).map(|png| (png, blank)));
                        },
                    );
                    script.stage = Stage::Capturing;
                } else {
                    script.stage = Stage::Done;
                    exit.write(AppExit::Success);
                }
            } else {
                script.stage = Stage::Settling {
                    frames: frames + 1,
                    since_s,
                };
            }
        }
        Stage::Capturing => {
            let Some(result) = script.captured.take() else {
                return;
            };
            let png = match result {
                Ok((_, true)) if script.blank_retries < BLANK_RETRIES => {
                    // Software rendering sometimes hands back a frame drawn before the
                    // window's first present: settle again and capture anew.
                    script.blank_retries += 1;
                    warn!(
                        "the captured window was blank; capturing again ({} of {BLANK_RETRIES})",
                        script.blank_retries
                    );
                    script.stage = Stage::Settling {
                        frames: 0,
                        since_s: now,
                    };
                    return;
                }
                Ok((png, blank)) => {
                    if blank {
                        warn!("the captured window is still blank after {BLANK_RETRIES} tries");
                    }
                    png
                }
                Err(e) => {
                    script.failed = Some(e);
                    return;
                }
            };
            if let Some(path) = &options.screenshot {
                if let Err(e) = write_file(path, &png) {
                    script.failed = Some(e);
                    return;
                }
                info!("screenshot written to {}", path.display());
            }
            match &options.export {
                Some(folder) => {
                    let cam = camera.iter().next();
                    let mut description = view_description(&view, cam.map(|c| c.2));
                    description["wet_cell_pixels"] = serde_json::json!(
                        cam.map(|(c, t, _)| wet_cell_pixels(&session, &live, &view, c, t))
                    );
                    actions.push(Action::Export {
                        folder: folder.clone(),
                        screenshot_png: Some(png),
                        view: description,
                    });
                    script.stage = Stage::Exporting;
                }
                None => {
                    script.stage = Stage::Done;
                    exit.write(AppExit::Success);
                }
            }
        }
        Stage::Exporting => {
            if session.export_pending() {
                return;
            }
            match &session.last_export {
                Some(Ok(_)) => {
                    script.stage = Stage::Done;
                    exit.write(AppExit::Success);
                }
                Some(Err(e)) => script.failed = Some(e.clone()),
                None => {}
            }
        }
        Stage::Done => {}
    }
}

fn write_file(path: &PathBuf, bytes: &[u8]) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Window pixels (physical) of up to 40 cells the solver has water in, with their depth:
/// a test can check that the water colour is really drawn there.
fn wet_cell_pixels(
    session: &Session,
    live: &Live,
    view: &ViewSettings,
    cam: &Camera,
    cam_tf: &GlobalTransform,
) -> Vec<[f64; 3]> {
    let (Some(grid), Some(s)) = (session.grid.as_ref(), live.a.as_ref()) else {
        return Vec::new();
    };
    let mut grid = grid.clone();
    grid.exaggeration = view.exaggeration;
    let scale = cam.target_scaling_factor().unwrap_or(1.0);
    let mut wet: Vec<((usize, usize), f32)> = Vec::new();
    for vr in 0..grid.vertex_rows {
        for vc in 0..grid.vertex_cols {
            let cell = grid.cell_of_vertex(vr, vc);
            let d = s.depth_m[cell];
            if d > 0.3 {
                wet.push((cell, d));
            }
        }
    }
    // Deepest first, spread over the list.
    wet.sort_by(|a, b| b.1.total_cmp(&a.1));
    let step = (wet.len() / 40).max(1);
    wet.iter()
        .step_by(step)
        .take(40)
        .filter_map(|&((r, c), d)| {
            let p = grid.world_from_cell(
                r as f64,
                c as f64,
                f64::from(s.bed_m[(r, c)]) + f64::from(d),
            );
            cam.world_to_viewport(cam_tf, Vec3::from(p))
                .ok()
                .map(|v| [f64::from(v.x * scale), f64::from(v.y * scale), f64::from(d)])
        })
        .collect()
}
