//! Regenerate `docs/validation/README.md` and its plots:
//! `cargo run --release -p validate [-- --out <dir>]`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use validate::cases::{self, Mode};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/validation");
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--out", Some(dir)) => out = PathBuf::from(dir),
            _ => {
                eprintln!("usage: validate [--out <dir>]  (default: docs/validation)");
                return ExitCode::FAILURE;
            }
        }
    }
    match run(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out)?;
    let started = Instant::now();
    let mode = Mode {
        fast: false,
        plots: Some(out.to_path_buf()),
        numerics: cases::Numerics::FV1,
    };
    let outcomes = cases::all(&mode)?;
    for o in &outcomes {
        println!(
            "{:45} {:>12.4e}  {}",
            o.case,
            o.value,
            if o.value.is_nan() {
                "not covered"
            } else if o.pass() {
                "pass"
            } else {
                "MISS"
            }
        );
    }
    let mut plots: Vec<String> = std::fs::read_dir(out)?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".png"))
        .collect();
    plots.sort();
    let plot_refs: Vec<&str> = plots.iter().map(String::as_str).collect();
    let md = validate::report::markdown(&outcomes, &plot_refs, started.elapsed().as_secs_f64());
    std::fs::write(out.join("README.md"), md)?;
    println!("report: {}", out.join("README.md").display());
    Ok(())
}
