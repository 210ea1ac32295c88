//! The 3D desktop twin (`rivertwin open`): bevy for the view, egui for the controls, the
//! solver on its own thread ([`twin`]). One plugin function per feature; the frame runs
//! in one ordered chain, [`TwinSet`].

pub mod palette;
pub mod session;
pub mod twin;
pub mod view_grid;

mod camera;
mod input;
pub mod markers;
mod script;
pub mod terrain;
mod ui;
pub use ui::{drainage, ensemble, structures, warnings};
pub mod water;

use std::path::PathBuf;

use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};

pub use session::{Live, Session, ViewSettings};

/// How `rivertwin open` was asked to start.
#[derive(Clone, Debug, Default, Resource)]
pub struct OpenOptions {
    /// A basin folder (or its basin.toml).
    pub basin: PathBuf,
    /// A scenario of that basin by name; its default scenario when None.
    pub scenario: Option<String>,
    /// Start playing at once.
    pub play: bool,
    /// Simulated seconds per wall second; None for the default (10×).
    pub speed: Option<f64>,
    /// Run as fast as the machine allows.
    pub fast: bool,
    /// Scripted mode: stop at this simulated time, write the screenshot / export, exit.
    pub exit_after_s: Option<f64>,
    pub screenshot: Option<PathBuf>,
    pub export: Option<PathBuf>,
    /// Window size in logical pixels.
    pub window_size: (u32, u32),
    /// The layer the water shows first, and whether as the maximum so far.
    pub layer: Option<palette::Layer>,
    pub show_max: bool,
    /// Solver threads (0: all cores).
    pub threads: usize,
    /// Start in live mode: follow the scenario's observations as they arrive and run
    /// the forecast ahead.
    pub live: bool,
    /// Load this merged ensemble (a plan folder) once the basin is open, and show its
    /// first map.
    pub ensemble: Option<PathBuf>,
}

/// The order of the frame: inputs (keys, clicks, UI requests) → take the newest solver
/// snapshot → bring meshes up to date. The egui UI runs after these, in bevy_egui's
/// pass, and its requests are applied at the start of the next frame.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TwinSet {
    ApplyInputs,
    StepOrReceive,
    SyncMeshes,
}

/// Whether the simulation is running, as the app last asked the worker.
#[derive(States, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RunState {
    #[default]
    Paused,
    Running,
}

/// Everything but the window, rendering and UI: sessions, the solver worker and the
/// meshes. Headless tests add this to `MinimalPlugins` (with the asset plugins).
pub fn core_plugin(app: &mut App) {
    app.configure_sets(
        Update,
        (
            TwinSet::ApplyInputs,
            TwinSet::StepOrReceive,
            TwinSet::SyncMeshes,
        )
            .chain(),
    );
    app.add_plugins((
        session::plugin,
        terrain::plugin,
        drainage::plugin,
        water::plugin,
        markers::plugin,
    ));
}

/// The whole app: window, renderer, egui, camera and the core.
pub fn plugin(app: &mut App) {
    app.add_plugins((
        core_plugin,
        water::render_plugin,
        camera::plugin,
        input::plugin,
        ui::plugin,
        script::plugin,
    ));
}

/// Open the window and run until it is closed (or the script ends). Errors in the basin
/// are shown in the window, not returned; the error here is for the window itself.
pub fn run(options: OpenOptions) -> anyhow::Result<()> {
    let (w, h) = options.window_size;
    let scripted = options.exit_after_s.is_some();
    let mut app = App::new();
    app.add_plugins(
        DefaultPlugins
            .set(WindowPlugin {
                primary_window: Some(Window {
                    title: "rivertwin".into(),
                    resolution: WindowResolution::new(w.max(320), h.max(240)),
                    // Scripted runs must not wait on the display's refresh.
                    present_mode: if scripted {
                        PresentMode::AutoNoVsync
                    } else {
                        PresentMode::AutoVsync
                    },
                    ..default()
                }),
                ..default()
            })
            .set(bevy::log::LogPlugin {
                filter: "wgpu=error,naga=warn,bevy_render=warn,bevy_egui=warn,rivertwin=info"
                    .into(),
                ..default()
            }),
    );
    app.insert_resource(options);
    app.add_plugins(plugin);
    // The window and renderer start inside `run`; if they cannot (no usable graphics
    // driver), report it as an error instead of a crash.
    let exit = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app.run())).map_err(|_| {
        anyhow::anyhow!(
            "the window or the renderer failed to start (see the message above); the app needs a \
             display and a Vulkan or OpenGL driver — without a GPU, Mesa's software Vulkan \
             (Debian: mesa-vulkan-drivers) works"
        )
    })?;
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => Err(anyhow::anyhow!(
            "the scripted run did not finish (exit code {code}); see the messages above"
        )),
    }
}
