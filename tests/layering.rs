//! The dependency direction is checked, not only written down: the solver crate must not
//! pull in GDAL, bevy or egui, and the basin crate not bevy or egui.

use std::process::Command;

fn normal_dependencies(package: &str) -> Vec<String> {
    normal_dependencies_with(package, &[])
}

fn normal_dependencies_with(package: &str, extra: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .arg("tree")
        .args(extra)
        .args([
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "-p",
            package,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

fn forbidden(deps: &[String], prefixes: &[&str]) -> Vec<String> {
    deps.iter()
        .filter(|d| prefixes.iter().any(|p| d.starts_with(p)))
        .cloned()
        .collect()
}

#[test]
fn basin_depends_on_no_ui() {
    let deps = normal_dependencies("basin");
    assert!(
        deps.iter().any(|d| d == "gdal"),
        "cargo tree output looks wrong: {deps:?}"
    );
    let bad = forbidden(&deps, &["bevy", "egui", "wgpu", "winit"]);
    assert!(
        bad.is_empty(),
        "basin must stay free of UI crates, found {bad:?}"
    );
}

#[test]
fn hydro_depends_on_no_io_and_no_ui() {
    let deps = normal_dependencies("hydro");
    assert!(
        deps.iter().any(|d| d == "ndarray"),
        "cargo tree output looks wrong: {deps:?}"
    );
    let bad = forbidden(&deps, &["gdal", "bevy", "egui", "wgpu", "winit"]);
    assert!(
        bad.is_empty(),
        "hydro must stay free of I/O and UI crates, found {bad:?}"
    );
}

#[test]
fn headless_binary_has_no_graphics_stack() {
    // The app is the default `app` feature; without it the binary is the batch runner.
    let headless = normal_dependencies_with("rivertwin", &["--no-default-features"]);
    assert!(
        headless.iter().any(|d| d == "gdal"),
        "cargo tree output looks wrong: {headless:?}"
    );
    let bad = forbidden(&headless, &["bevy", "egui", "wgpu", "winit"]);
    assert!(bad.is_empty(), "the headless build pulls in {bad:?}");
    let full = normal_dependencies("rivertwin");
    assert!(
        full.iter().any(|d| d == "bevy") && full.iter().any(|d| d == "bevy_egui"),
        "the default build should carry the app"
    );
}
