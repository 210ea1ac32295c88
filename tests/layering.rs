//! The dependency direction is checked, not only written down: the solver crate must not
//! pull in GDAL, bevy or egui, and the basin crate not bevy or egui.

use std::process::Command;

fn normal_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
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
