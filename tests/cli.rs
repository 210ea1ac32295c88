//! The `rivertwin` binary end to end: exit codes and messages a user sees.

use std::process::Command;

fn rivertwin(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rivertwin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn info_describes_a_bundled_basin() {
    let (code, stdout, _) = rivertwin(&["info", "basins/merewether"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("EPSG:32756"), "{stdout}");
    assert!(stdout.contains("321 columns × 416 rows"), "{stdout}");
    assert!(stdout.contains("recorded_inflow"), "{stdout}");
}

#[test]
fn bad_input_exits_non_zero_with_a_message_and_no_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let (code, _, stderr) = rivertwin(&[
        "run",
        "basins/merewether/scenarios/missing.toml",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(code, 1);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!out.exists());

    let (code, _, stderr) = rivertwin(&["info", "no/such/raster.tif"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("no/such/raster.tif") && stderr.contains("check the path"),
        "{stderr}"
    );
}

#[test]
fn run_writes_results_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("burst");
    let out_s = out.to_str().expect("utf8");
    let scenario = "basins/trinity_storm/scenarios/intense_burst.toml";
    let (code, stdout, stderr) = rivertwin(&["run", scenario, "--out", out_s, "--threads", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("complete"), "{stdout}");
    assert!(out.join("summary.json").exists() && out.join("hazard_class.tif").exists());
    let (code, _, stderr) = rivertwin(&["run", scenario, "--out", out_s]);
    assert_eq!(code, 1);
    assert!(stderr.contains("--force"), "{stderr}");
}

/// `open`'s arguments are checked before a window opens, so these need no display.
#[cfg(feature = "app")]
#[test]
fn open_refuses_bad_arguments_before_opening_a_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let existing = dir.path().to_str().expect("utf8");
    for (args, code, needle) in [
        (vec!["open", "--exit-after=-5"], 1, "--exit-after -5"),
        (vec!["open", "--speed", "0"], 1, "--speed 0"),
        (
            vec!["open", "--exit-after", "10", "--export", existing],
            1,
            "already exists",
        ),
        (vec!["open", "--window", "10x10"], 2, "outside 320x240"),
        (vec!["open", "--window", "big"], 2, "WIDTHxHEIGHT"),
        (vec!["open", "--screenshot", "x.png"], 2, "--exit-after"),
        (
            vec!["open", "--fast", "--speed", "5"],
            2,
            "cannot be used with",
        ),
        (
            vec!["open", "--layer", "difference"],
            2,
            "possible values: depth, speed, hazard, arrival",
        ),
    ] {
        let (got, _, stderr) = rivertwin(&args);
        assert_eq!(got, code, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// Without a display the app says so and exits 1 instead of crashing in the window system.
#[cfg(all(feature = "app", target_os = "linux"))]
#[test]
fn open_without_a_display_is_a_clear_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_rivertwin"))
        .args(["open", "basins/merewether"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no display") && stderr.contains("xvfb-run"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// A second Ctrl-C aborts at once and leaves neither results nor the temporary folder.
#[cfg(unix)]
#[test]
fn a_second_interrupt_aborts_and_leaves_nothing_behind() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_rivertwin"))
        .args([
            "run",
            "basins/merewether/scenarios/recorded_inflow.toml",
            "--threads",
            "1",
            "--out",
        ])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("runs");
    let partial = dir.path().join(format!(".out.partial-{}", child.id()));
    let start = Instant::now();
    while !partial.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the run never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    for _ in 0..2 {
        // SAFETY: kill(2) on our own child with a standard signal touches no memory of
        // this process.
        let sent = unsafe { libc::kill(pid, libc::SIGINT) };
        assert_eq!(sent, 0, "kill failed");
        // Two signals pending at once merge into one; a short gap keeps them two, and
        // is far shorter than writing the partial results takes.
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().expect("exits");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(!partial.exists(), "the temporary folder was left behind");
    assert!(!out.exists(), "an aborted run must not leave results");
}
