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

/// Start `rivertwin run` on Merewether (about half a minute on one thread), wait until
/// it is stepping, send `signals` spaced by `gap`, and return its exit code and the
/// temporary folder it wrote into.
#[cfg(unix)]
fn interrupted_run(
    out: &std::path::Path,
    signals: &[libc::c_int],
    gap: std::time::Duration,
) -> (Option<i32>, Option<i32>, std::path::PathBuf) {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_rivertwin"))
        .args([
            "run",
            "basins/merewether/scenarios/recorded_inflow.toml",
            "--threads",
            "1",
            "--out",
        ])
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("runs");
    let name = out.file_name().expect("name").to_string_lossy();
    let partial = out.with_file_name(format!(".{name}.partial-{}", child.id()));
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
    for &signal in signals {
        // SAFETY: kill(2) on our own child with a standard signal touches no memory of
        // this process.
        let sent = unsafe { libc::kill(pid, signal) };
        assert_eq!(sent, 0, "kill failed");
        // Two signals pending at once merge into one; a gap keeps them two.
        std::thread::sleep(gap);
    }
    let status = child.wait().expect("exits");
    (status.code(), status.signal(), partial)
}

/// SIGTERM (what Slurm and systemd send) and a single Ctrl-C stop the run after the
/// current step: the partial result is written, marked `cancelled`, and the exit code is
/// 3, not 0.
#[cfg(unix)]
#[test]
fn sigterm_and_one_interrupt_write_a_cancelled_result_and_exit_3() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let (code, killed_by, partial) =
            interrupted_run(&out, &[signal], std::time::Duration::from_millis(10));
        assert_eq!(
            code,
            Some(3),
            "signal {signal}: exit {code:?}, killed by {killed_by:?}"
        );
        assert!(!partial.exists(), "signal {signal}: temporary folder left");
        let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary");
        assert!(summary.contains("\"status\": \"cancelled"), "{summary}");
        assert!(out.join("max_depth_m.tif").exists());
    }
}

/// A second interrupt aborts: exit 130, neither results nor the temporary folder left.
/// Sent at several moments, while stepping and while the partial result is written: the
/// process always exits by its own code (the handler only sets flags, and the main thread
/// exits once every writer has stopped), never killed by a signal such as SIGSEGV.
#[cfg(unix)]
#[test]
fn a_second_interrupt_aborts_and_leaves_nothing_behind() {
    for gap_ms in [1, 10, 40, 150, 400] {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let (code, killed_by, partial) = interrupted_run(
            &out,
            &[libc::SIGINT, libc::SIGINT],
            std::time::Duration::from_millis(gap_ms),
        );
        assert_eq!(
            killed_by, None,
            "gap {gap_ms} ms: killed by signal {killed_by:?}"
        );
        assert!(
            !partial.exists(),
            "gap {gap_ms} ms: the temporary folder was left"
        );
        match code {
            // Aborted before the partial result was in place.
            Some(130) => assert!(!out.exists(), "an aborted run must not leave results"),
            // The second interrupt came after the partial result was in place.
            Some(3) => assert!(out.join("summary.json").exists()),
            other => panic!("gap {gap_ms} ms: exit {other:?}"),
        }
    }
}

/// A GeoTIFF write that fails (here a file-size limit, as a full disk does) fails the
/// run with exit 1 and a message naming the file, and the earlier result survives.
#[cfg(target_os = "linux")]
#[test]
fn a_failed_raster_write_fails_the_run_and_keeps_the_earlier_result() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("summary.json"), "earlier complete result").expect("write");
    let mut command = Command::new(env!("CARGO_BIN_EXE_rivertwin"));
    command
        .args([
            "run",
            "basins/trinity_storm/scenarios/intense_burst.toml",
            "--force",
            "--out",
        ])
        .arg(&out)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    // SAFETY: between fork and exec only async-signal-safe calls: setrlimit and signal.
    // Writes past 16 KiB then fail with EFBIG (SIGXFSZ ignored), as on a full disk.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 16 << 10,
                rlim_max: 16 << 10,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let output = command.output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(".tif") && stderr.contains("disk"),
        "the message names the file and the likely cause: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(out.join("summary.json")).expect("kept"),
        "earlier complete result"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary folder left behind");
}

/// Run from inside the basin folder with a relative scenario path, and with more threads
/// than the machine has: both work, the second with a note.
#[test]
fn run_from_inside_the_basin_folder_with_too_many_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("burst");
    let output = Command::new(env!("CARGO_BIN_EXE_rivertwin"))
        .args([
            "run",
            "scenarios/intense_burst.toml",
            "--threads",
            "4096",
            "--out",
        ])
        .arg(&out)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/basins/trinity_storm"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        stderr.contains(&format!(
            "--threads 4096 is more than this machine's {cores} cores"
        )),
        "{stderr}"
    );
    let summary = std::fs::read_to_string(out.join("summary.json")).expect("summary");
    assert!(
        summary.contains(&format!("\"threads\": {cores},")),
        "{summary}"
    );
}
