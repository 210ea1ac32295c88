//! The real app in a real window: under Xvfb with Mesa's software Vulkan (lavapipe), open
//! the default basin, run two simulated minutes, save a screenshot through bevy's
//! screenshot API and the export bundle, and check the picture: not blank, and the water
//! layer's colours drawn where the solver has water.
//!
//! Needs `Xvfb` and Mesa's Vulkan drivers (Debian: xvfb xauth mesa-vulkan-drivers
//! libvulkan1; `scripts/deps.sh` installs them). The PNG is kept in
//! `target/tmp/app_window/` for a person to look at.
#![cfg(feature = "app")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb(Child);

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start Xvfb on a free display number.
fn start_xvfb() -> (Xvfb, String) {
    for n in 90..130 {
        if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let child = Command::new("Xvfb")
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb starts (install xvfb: scripts/deps.sh does)");
        let mut x = Xvfb(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if Path::new(&format!("/tmp/.X11-unix/X{n}")).exists() {
                return (x, display);
            }
            if let Ok(Some(status)) = x.0.try_wait() {
                panic!("Xvfb {display} exited at once: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Xvfb {display} did not come up");
    }
    panic!("no free X display number between :90 and :129");
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_window");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("output folder");
    dir
}

/// Colours the depth palette can produce after the shader's shading and blending over
/// terrain: clearly blue (terrain colours are green, tan or grey, never blue-dominant).
fn is_water_colour(p: &[u8]) -> bool {
    let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
    b > r + 25 && b + 10 >= g
}

#[test]
fn default_basin_renders_water_where_the_solver_has_it() {
    let (_xvfb, display) = start_xvfb();
    let out = out_dir();
    let shot = out.join("merewether_120s.png");
    let bundle = out.join("bundle");
    let lavapipe = "/usr/share/vulkan/icd.d/lvp_icd.x86_64.json";
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rivertwin"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "open",
            "basins/merewether",
            "--fast",
            "--exit-after",
            "120",
            "--window",
            "1280x800",
        ])
        .arg("--screenshot")
        .arg(&shot)
        .arg("--export")
        .arg(&bundle)
        .env("DISPLAY", &display)
        .env_remove("WAYLAND_DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if Path::new(lavapipe).exists() {
        cmd.env("VK_ICD_FILENAMES", lavapipe);
    }
    let started = Instant::now();
    let child = cmd.spawn().expect("the app starts");
    let output = wait_with_timeout(child, Duration::from_secs(900));
    let wall = started.elapsed().as_secs_f64();
    let log = format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::write(out.join("app.log"), &log).expect("log");
    assert!(
        output.status.success(),
        "the app failed ({}):\n{log}",
        output.status
    );
    eprintln!("scripted run of 120 simulated seconds took {wall:.1} s of wall time");

    let img = image::open(&shot)
        .expect("the screenshot is a PNG")
        .to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 800), "screenshot size");
    // Not blank: many distinct colours and no single colour over most of the picture.
    let mut counts = std::collections::HashMap::new();
    for p in img.pixels() {
        *counts
            .entry([p[0] >> 3, p[1] >> 3, p[2] >> 3])
            .or_insert(0usize) += 1;
    }
    let total = (img.width() * img.height()) as usize;
    let biggest = counts.values().copied().max().unwrap_or(0);
    assert!(
        counts.len() > 200,
        "only {} colours: a blank picture?",
        counts.len()
    );
    assert!(
        biggest < total * 6 / 10,
        "one colour covers {biggest} of {total} pixels"
    );

    // Water where the solver has it: the app reports the window pixels of wet cells.
    let view: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(bundle.join("snapshot.json")).expect("snapshot.json"),
    )
    .expect("json");
    let pixels = view["view"]["wet_cell_pixels"]
        .as_array()
        .expect("wet cell pixels")
        .clone();
    assert!(
        pixels.len() >= 10,
        "the solver has too few wet cells: {pixels:?}"
    );
    let mut inside = 0;
    let mut blue = 0;
    for p in &pixels {
        let (x, y) = (p[0].as_f64().expect("x"), p[1].as_f64().expect("y"));
        if x < 0.0 || y < 0.0 || x >= f64::from(img.width()) || y >= f64::from(img.height()) {
            continue;
        }
        inside += 1;
        // Any of the pixels around the cell centre (the cell is about a pixel wide).
        let (cx, cy) = (x as i64, y as i64);
        let near_blue = (-2..=2).any(|dy| {
            (-2..=2).any(|dx| {
                let (px, py) = (cx + dx, cy + dy);
                px >= 0
                    && py >= 0
                    && (px as u32) < img.width()
                    && (py as u32) < img.height()
                    && is_water_colour(&img.get_pixel(px as u32, py as u32).0)
            })
        });
        if near_blue {
            blue += 1;
        }
    }
    eprintln!("{blue} of {inside} wet cells on screen are drawn in the water colours");
    assert!(inside >= 10, "wet cells are off screen: {pixels:?}");
    assert!(
        blue * 10 >= inside * 8,
        "only {blue} of {inside} wet cells look like water"
    );
    // And the picture is not blue everywhere: the water colour is where the water is.
    let blue_total = img.pixels().filter(|p| is_water_colour(&p.0)).count();
    assert!(
        blue_total < total / 2,
        "{blue_total} of {total} pixels are water-coloured"
    );
    for f in [
        "view.png",
        "max_depth_m.tif",
        "gauges.csv",
        "summary.json",
        "snapshot.json",
    ] {
        assert!(bundle.join(f).is_file(), "{f} missing from the bundle");
    }
}

fn wait_with_timeout(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    // Drain the pipes on threads so a chatty app cannot block on a full pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stderr, &mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    std::process::Output {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}
